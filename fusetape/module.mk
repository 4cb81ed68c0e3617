# fusetape/ - the FUSE daemon (libfuse3 low-level API) over lib/ltfs.
EXTRA_CFLAGS += $(shell $(PKG_CONFIG) --cflags fuse3)
fusetape_SRCS := fusetape/main.c fusetape/ops.c fusetape/unmount.c
fusetape_LIBS := $(shell $(PKG_CONFIG) --libs fuse3) -lpthread
fusetape_DIR := bin
# The daemon links only once the LTFS core is in the library.
ifneq ($(filter lib/ltfs/%,$(LIB_SRCS)),)
PROGS += fusetape
endif
