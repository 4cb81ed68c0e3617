# lib/ltfs: the LTFS filesystem core (format, mount, index, data path).
LTFS_SRCS := lib/ltfs/names.c lib/ltfs/time.c lib/ltfs/tree.c \
	lib/ltfs/extent.c lib/ltfs/index_xml.c lib/ltfs/label.c \
	lib/ltfs/volume.c lib/ltfs/data.c lib/ltfs/stream.c lib/ltfs/ops.c
LIB_SRCS += $(LTFS_SRCS)
EXTRA_CFLAGS += $(shell $(PKG_CONFIG) --cflags libxml-2.0 uuid)
LIB_LIBS += $(shell $(PKG_CONFIG) --libs libxml-2.0 uuid)
MANPAGES += man/fusetape-ltfs.5
