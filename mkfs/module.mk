# mkfs/: the volume tools mkfs.fusetape and fsck.fusetape, their man pages,
# and "make demo".  (mkfs/fusetape-image.c is listed in lib/tape/module.mk.)

XML2_CFLAGS := $(shell $(PKG_CONFIG) --cflags libxml-2.0 2>/dev/null)
XML2_LIBS := $(shell $(PKG_CONFIG) --libs libxml-2.0 2>/dev/null || echo -lxml2)
EXTRA_CFLAGS += $(XML2_CFLAGS)

# Both link the LTFS core (format; the repair mounts), so only once it is in
# the library.
ifneq ($(filter lib/ltfs/%,$(LIB_SRCS)),)
PROGS += mkfs.fusetape fsck.fusetape
endif
mkfs.fusetape_SRCS := mkfs/mkfs.c mkfs/tool.c
mkfs.fusetape_LIBS := $(XML2_LIBS)
mkfs.fusetape_DIR := sbin
fsck.fusetape_SRCS := mkfs/fsck.c mkfs/volscan.c mkfs/tool.c
fsck.fusetape_LIBS := $(XML2_LIBS)
fsck.fusetape_DIR := sbin

# fsck.fusetape against volumes written record by record (runs the binary
# from $FUSETAPE_BIN; skips while it is not built).
TESTS += test_fsck_crafted
test_fsck_crafted_SRCS := mkfs/test_fsck_crafted.c

MANPAGES += man/mkfs.fusetape.8 man/fsck.fusetape.8

# make demo: a virtual tape mounted on /mnt/tape, to try fusetape out.
DEMO_IMAGE ?= /var/tmp/fusetape/demo.img
DEMO_MOUNT ?= /mnt/tape
DEMO_SIZE ?= 2G
DEMO_B ?= build/rel
.PHONY: demo
demo:
	tests/install-deps
	$(MAKE) VARIANT=rel B=$(DEMO_B) user
	DEMO_IMAGE='$(DEMO_IMAGE)' DEMO_MOUNT='$(DEMO_MOUNT)' DEMO_SIZE='$(DEMO_SIZE)' \
		BIN='$(DEMO_B)/bin' mkfs/demo.sh
