# tapedma.ko: built out of tree with Kbuild against Debian 12's 6.1 headers
# (never `uname -r`: the build host may run another kernel).  KDIR overrides.
TAPEDMA_VERSION := 0.1
KDIR ?= $(lastword $(shell ls -d /usr/src/linux-headers-6.1.0-*-amd64 2>/dev/null | sort -V))
TAPEDMA_SRCS := kmod/tapedma.c kmod/uapi/tapedma.h kmod/Kbuild

KMOD_TARGETS := kmod/tapedma.ko

kmod/tapedma.ko: $(TAPEDMA_SRCS)
	@if [ -z "$(KDIR)" ] || [ ! -f "$(KDIR)/Makefile" ]; then \
		echo "kmod: no Linux 6.1 headers found (install linux-headers-amd64 on Debian 12, or set KDIR=/path/to/linux-headers-6.1.0-NN-amd64)" >&2; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

KMOD_CLEAN := if [ -n "$(KDIR)" ] && [ -f "$(KDIR)/Makefile" ]; then \
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean; fi

# DKMS source tree: dkms add/build/install tapedma/$(TAPEDMA_VERSION)
KMOD_INSTALL := install -d $(DESTDIR)/usr/src/tapedma-$(TAPEDMA_VERSION)/uapi && \
	install -m 644 kmod/tapedma.c kmod/Kbuild kmod/Makefile kmod/dkms.conf \
		$(DESTDIR)/usr/src/tapedma-$(TAPEDMA_VERSION)/ && \
	install -m 644 kmod/uapi/tapedma.h $(DESTDIR)/usr/src/tapedma-$(TAPEDMA_VERSION)/uapi/

MANPAGES += man/tapedma.4
