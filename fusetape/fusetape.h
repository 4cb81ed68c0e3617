/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fusetape.h - what the parts of the FUSE daemon share.
 *
 * The daemon is thin glue: ops.c turns FUSE low-level requests into calls
 * of the LTFS core (lib/ltfs/ltfs.h), main.c mounts and unmounts, and
 * unmount.c is the client side of "fusetape -u", the unmount that returns
 * only when the index is on tape.
 *
 * Locking: the core is not thread-safe, so every core call happens with
 * fs->lock held.  The FUSE session loop is single-threaded; the only other
 * thread is the periodic sync timer, which takes the same lock.
 */
#ifndef FUSETAPE_FUSETAPE_H
#define FUSETAPE_FUSETAPE_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ltfs/ltfs.h"
#include "tape/tape.h"

#ifndef FUSETAPE_VERSION
#error "FUSETAPE_VERSION comes from the Makefile (VERSION)"
#endif

/* Exit codes of fusetape (documented in man/fusetape.1). */
enum {
	FT_EXIT_OK = 0,
	FT_EXIT_DATA = 1,	/* the index could not be written: changes may be lost */
	FT_EXIT_USAGE = 2,	/* bad command line */
	FT_EXIT_DEVICE = 3,	/* the device cannot be opened */
	FT_EXIT_MEDIUM = 4,	/* not an LTFS volume, or damaged */
	FT_EXIT_MOUNT = 5,	/* the FUSE mount (or unmount) could not be done */
};

/*
 * Control attributes on the mount root.  They are not stored on tape and
 * not listed.  "getfattr -n user.fusetape.pid MNT" gives the daemon's pid.
 * Reading "user.fusetape.unmount:FIFO" (FIFO an absolute path) makes the
 * daemon write every change to tape now and remember to write one status
 * line into that FIFO ("ok" or "error: ...") when it exits after the
 * unmount; the value read is "ok".  It is a read, not a setxattr, so that
 * it works on read-only mounts too.  user.ltfs.sync (any node, as in the
 * reference LTFS) writes an index.
 */
#define FT_XATTR_PID "user.fusetape.pid"
#define FT_XATTR_UNMOUNT "user.fusetape.unmount:"
#define FT_XATTR_SYNC "user.ltfs.sync"
/*
 * Read-only text on the mount root: the write and read paths in use, how
 * many bytes went to tape from where the kernel received them (landed) and
 * how many the daemon copied, the records in flight, how many bytes were
 * read by splice, the tape position and the average throughput since
 * mount (see man/fusetape.1).
 */
#define FT_XATTR_STATS "user.fusetape.stats"

/* Largest FUSE write request we accept (the kernel's maximum, 256 pages). */
#define FT_MAX_WRITE (1u << 20)

/* Opens of one file (the daemon's FOPEN_DIRECT_IO bookkeeping). */
struct ft_open_file {
	uint64_t ino;
	unsigned opens;			/* all opens the kernel holds */
	unsigned direct_writers;	/* of which write-only, uncached */
};

/*
 * FUSE_DIRECT_IO_ALLOW_MMAP (protocol 7.39, Linux 6.6; flags2 bit 4 of
 * the INIT exchange, which libfuse 3.14 does not know): the kernel lets
 * FOPEN_DIRECT_IO files be mmap()ed MAP_SHARED (without it, ENODEV).
 */
#define FT_INIT_DIRECT_IO_ALLOW_MMAP (1ULL << 36)

struct ft_fs {
	pthread_mutex_t lock;		/* serialises every core call */
	struct ltfs_volume *vol;	/* NULL once unmounted */
	struct tape *tape;
	const char *device;
	bool readonly;
	uint32_t block_size;

	/* What the namespace shows in place of the POSIX metadata LTFS lacks. */
	uid_t uid;
	gid_t gid;
	mode_t umask;
	double timeout;			/* attribute and entry cache, seconds */

	/* Periodic sync: every sync_interval seconds if dirty; 0 = never. */
	unsigned sync_interval;
	pthread_t sync_thread;
	bool sync_thread_running;
	bool stopping;
	pthread_cond_t wake;

	/*
	 * Data path.  With landing on, every request is read from /dev/fuse
	 * into the core's write stream so that a write's payload lands where
	 * its records are queued to tape from (ltfs_landing_get()): nothing is
	 * copied by the daemon.  With splice on, reads are answered with
	 * ranges of the image file that the kernel splices into /dev/fuse.
	 */
	bool landing;
	bool splice;
	/*
	 * Write-only opens bypass the page cache (FOPEN_DIRECT_IO): the
	 * kernel then copies a writer's data once, from the writer straight
	 * into the write stream, instead of first into page-cache pages that
	 * nobody reads (cp, tar -x).  open_files keeps what coherence needs:
	 * such an open is given only to a file nobody else has open, and
	 * while it lasts the file's other opens are uncached too.
	 */
	bool direct_writes;
	struct ft_open_file *open_files;
	size_t n_open_files, cap_open_files;
	uint64_t direct_write_opens;	/* opens given FOPEN_DIRECT_IO for writing */
	/*
	 * With -o directreads, read-only opens bypass the page cache too
	 * (FOPEN_DIRECT_IO), but only where the kernel still lets such files
	 * be mmap()ed (FT_INIT_DIRECT_IO_ALLOW_MMAP granted at INIT): the
	 * reply is then copied once, from the image straight into the
	 * reader's buffer, and every read() is one request, with no
	 * read-ahead.  Not the default: large reads gain, small ones (tar's
	 * 10 KiB) lose several times over.  want_direct_reads is the user's
	 * wish, direct_reads what FUSE_INIT made of it (ft_init(), loop.c).
	 */
	bool want_direct_reads;
	bool direct_reads;
	uint64_t direct_read_opens;	/* opens given FOPEN_DIRECT_IO for reading */
	char read_opens[96];		/* "uncached: ..." or "cached: why" */
	char write_path[160];		/* "landing: ..." or "copy: why" */
	char read_path[160];		/* "splice (image)" or "copy: why" */
	uint64_t requests;		/* FUSE requests received */
	uint64_t landing_refused;	/* requests received into the plain buffer instead */
	bool failure_logged;		/* a deferred write error was logged */
	uint64_t init_unique;		/* INIT request whose reply loop.c extends */
	uint64_t init_offered;		/* its flags (flags2 << 32 | flags) */
	bool killpriv_v2;		/* ... and it got KILLPRIV_V2 (loop.c) */
	struct timespec mounted_at;	/* CLOCK_MONOTONIC */
	const char *mountpoint;
	bool read_ahead_pending;	/* raise the mount's read-ahead at the next request */
	uint64_t write_bytes;		/* accepted by write requests */
	uint64_t read_bytes;		/* returned by read requests */
	uint64_t read_spliced;		/* of which handed to the kernel as image ranges */

	int status_fd;			/* FIFO of "fusetape -u", -1 if none */
	bool foreground;		/* stderr still reaches the user */
};

extern const struct fuse_lowlevel_ops ft_ops;

/* Message to the user: stderr in the foreground, else syslog. */
void ft_log(const struct ft_fs *fs, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Raise the mount's read-ahead, once, after FUSE_INIT (whose reply would
 * set it back): called by the first requests that can precede a read.
 */
void ft_raise_read_ahead(struct ft_fs *fs);

/* Log the data path in use, once FUSE_INIT has settled it (loop.c). */
void ft_log_data_path(struct ft_fs *fs);

/* The user.fusetape.stats text into buf (NUL-terminated); its length. */
size_t ft_stats_text(struct ft_fs *fs, char *buf, size_t size);

/*
 * Log a deferred write error of the volume once (fs->lock held): the
 * moment the daemon learns that acknowledged data did not reach the tape.
 */
void ft_note_failure(struct ft_fs *fs);

/*
 * The FUSE session loop: like fuse_session_loop(), but each request is
 * read into a landing of the write stream when one can be had.  Returns
 * 0 when the file system was unmounted or the session exited, else a
 * negative errno.
 */
int ft_session_loop(struct ft_fs *fs, struct fuse_session *se);

/*
 * Route the session's replies through loop.c (after fuse_session_mount()),
 * which adds what libfuse 3.14 cannot negotiate.  0 or negative errno.
 */
int ft_session_io(struct ft_fs *fs, struct fuse_session *se);

/* "fusetape -u MOUNTPOINT": returns an exit code. */
int ft_unmount_client(const char *mountpoint);

#endif /* FUSETAPE_FUSETAPE_H */
