# fusetape/ - the FUSE daemon (libfuse3 low-level API) over lib/ltfs.
EXTRA_CFLAGS += $(shell $(PKG_CONFIG) --cflags fuse3)
fusetape_SRCS := fusetape/main.c fusetape/loop.c fusetape/ops.c fusetape/unmount.c
fusetape_LIBS := $(shell $(PKG_CONFIG) --libs fuse3) -lpthread
fusetape_DIR := bin
PROGS += fusetape
MANPAGES += man/fusetape.1

# tests/host/fs-probe: the errno of one system call, for tests/host/fs-*.sh.
# Built with "make tests", outside $(B)/tests so the runner does not take
# it for a unit test.
FS_PROBE := $(B)/testbin/fs-probe
tests: $(FS_PROBE)
$(FS_PROBE): tests/host/fs-probe.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<
