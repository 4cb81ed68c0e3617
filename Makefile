# fusetape - one entry point for building, testing and installing.
#
#   make            build everything that can be built here (user space + module)
#   make check      install missing Debian packages, build, run every test
#   make install    install binaries, man pages and the module source (DKMS)
#
# Each directory describes its own targets in a module.mk fragment that
# appends to the variables below; this file holds the rules.  Two build
# trees: build/rel (optimised, what gets installed and what the VM runs)
# and build/san (AddressSanitizer + UBSan, what the host tests run).

VARIANT ?= rel
B ?= build/$(VARIANT)

CC ?= gcc
PKG_CONFIG ?= pkg-config
WARN := -Wall -Wextra -Werror -Wformat=2 -Wno-unused-parameter
# The one place the version is set; every program and the index creator use it.
VERSION := 0.1
BASE_CFLAGS := -std=gnu11 -g -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DFUSETAPE_VERSION='"$(VERSION)"' \
	-Ilib -Ikmod/uapi $(WARN) -MMD -MP
ifeq ($(VARIANT),san)
OPT_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
OPT_LDFLAGS := -fsanitize=address,undefined
else
OPT_CFLAGS := -O2
OPT_LDFLAGS :=
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT_CFLAGS) $(EXTRA_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(OPT_LDFLAGS) $(LDFLAGS)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man

# Filled in by the module.mk fragments.
LIB_SRCS :=		# sources of build/*/libfusetape.a (lib/)
LIB_LIBS :=		# libraries everything linking libfusetape.a needs
EXTRA_CFLAGS :=		# compiler flags modules need (e.g. pkg-config --cflags)
PROGS :=		# programs: NAME_SRCS, NAME_LIBS, NAME_DIR (install dir) each
TESTS :=		# test programs (same NAME_SRCS/NAME_LIBS), run by make check
MANPAGES :=

-include lib/tape/module.mk
-include lib/ltfs/module.mk
-include fusetape/module.mk
-include mkfs/module.mk
-include tests/unit/module.mk
-include tests/host/module.mk
-include tests/vm/module.mk
-include bench/module.mk
-include kmod/module.mk

LIB := $(B)/libfusetape.a
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)

.PHONY: all user check check-deps install clean
.DEFAULT_GOAL := all

all: user $(KMOD_TARGETS)
user: $(addprefix $(B)/bin/,$(PROGS))
tests: $(addprefix $(B)/tests/,$(TESTS))

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# $(call link_rule,NAME,OUTDIR)
define link_rule
$(B)/$(2)/$(1): $$($(1)_SRCS:%.c=$(B)/%.o) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$($(1)_SRCS:%.c=$(B)/%.o) $(LIB) $$($(1)_LIBS) $(LIB_LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call link_rule,$(p),bin)))
$(foreach t,$(TESTS),$(eval $(call link_rule,$(t),tests)))

-include $(shell find build -name '*.d' 2>/dev/null)

# make check: everything, as CI runs it.  The runner prints the last line
# "N passed, N failed".
check: check-deps
	$(MAKE) VARIANT=rel all
	$(MAKE) VARIANT=san user tests
	tests/run-all

check-deps:
	tests/install-deps

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	$(foreach p,$(PROGS),install -m 755 $(B)/bin/$(p) $(DESTDIR)$(if $(filter sbin,$($(p)_DIR)),$(SBINDIR),$(BINDIR))/$(p);)
	$(foreach m,$(MANPAGES),install -D -m 644 $(m) $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m));)
	install -D -m 644 kmod/uapi/tapedma.h $(DESTDIR)$(PREFIX)/include/linux/tapedma.h
	$(KMOD_INSTALL)

clean:
	rm -rf build
	$(KMOD_CLEAN)
