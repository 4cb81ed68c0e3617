# lib/tape: the tape model (tape.h) and its backends.
LIB_SRCS += lib/tape/tape.c
LIB_SRCS += lib/tape/tape_image.c
LIB_LIBS += -luuid -luring

# tape.c carries stand-ins for the drive backends until their files are
# listed above; it must know when they are, because a weak definition in an
# archive member is never replaced by a strong one from another member.
$(B)/lib/tape/tape.o: CFLAGS += $(if $(filter lib/tape/tape_st.c,$(LIB_SRCS)),-DTAPE_HAVE_ST) \
	$(if $(filter lib/tape/tape_tapedma.c,$(LIB_SRCS)),-DTAPE_HAVE_TAPEDMA)
$(B)/lib/tape/tape.o: lib/tape/module.mk

# fusetape-image lives in mkfs/ but is listed here (mkfs/module.mk belongs
# to mkfs.fusetape); it shares the volume tools' mkfs/tool.c.
PROGS += fusetape-image
fusetape-image_SRCS := mkfs/fusetape-image.c mkfs/tool.c
fusetape-image_DIR := bin

MANPAGES += man/fusetape-image.1 man/fusetape-image.5
LIB_SRCS += lib/tape/tape_st.c
# SSC over tapedma.ko (and SG_IO): see lib/tape/tape_tapedma.c
LIB_SRCS += lib/tape/ssc.c
LIB_SRCS += lib/tape/tape_tapedma.c
