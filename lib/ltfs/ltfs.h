/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ltfs.h - an LTFS volume (ISO/IEC 20919, format 2.4) on a struct tape:
 * format it, mount it, and work with its namespace and file data.  This is
 * the filesystem core; it knows nothing of FUSE (fusetape/ is the glue) and
 * is what mkfs.fusetape and the checker use too.
 *
 * Promises
 *  - Nodes are named by their LTFS file UID, which is also the inode number
 *    the daemon shows: it never changes (rename keeps it) and is never
 *    reused.  The root directory is UID 1.
 *  - Lookup counting follows FUSE: every call that returns a node's stat
 *    through a `struct ltfs_stat *out` of lookup/create/mkdir/symlink adds
 *    one reference; ltfs_forget() drops them.  An unlinked node stays
 *    readable and writable until its references are gone.
 *  - File data is appended to the data partition in records of the
 *    volume's block size; data of several small files shares a record
 *    (extents with a byte offset).  Data not yet on tape is served from
 *    memory.  ltfs_sync() puts everything on tape, ends the data partition
 *    with an index, and makes it durable; ltfs_unmount() also writes the
 *    index to the index partition.  Generation numbers, back pointers and
 *    the MAM volume coherency attributes follow the format.
 *  - Errors are negative errno values.  Calls that can fail for reasons a
 *    user must read (mount, format, unmount) also fill err[] with one line.
 *  - A volume is not thread-safe: the caller serialises calls.
 */
#ifndef FUSETAPE_LTFS_H
#define FUSETAPE_LTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "tape/tape.h"

#define LTFS_ROOT_UID 1
#define LTFS_DEFAULT_BLOCKSIZE (512u * 1024)
#define LTFS_MIN_BLOCKSIZE 4096u
#define LTFS_NAME_MAX 255
#define LTFS_XATTR_VALUE_MAX 4096
#define LTFS_ERRLEN 256

struct ltfs_volume;

enum ltfs_type { LTFS_TYPE_FILE, LTFS_TYPE_DIR, LTFS_TYPE_SYMLINK };

struct ltfs_stat {
	uint64_t uid;		/* LTFS fileuid == inode number */
	enum ltfs_type type;
	uint64_t length;	/* file length; symlink: target length; dir: 0 */
	uint64_t nlink;		/* 1 for files, 2 + subdirectories for directories */
	uint64_t blocks_512;	/* bytes stored on tape / 512, rounded up */
	bool readonly;
	struct timespec creation, change, modify, access, backup;
};

/* ---- format ------------------------------------------------------------ */

struct ltfs_format_opts {
	const char *volume_name;	/* root directory name; NULL: "" */
	const char *barcode;		/* up to 6 characters for VOL1, 32 for MAM; NULL: none */
	uint32_t block_size;		/* 0: LTFS_DEFAULT_BLOCKSIZE */
	uint64_t index_partition_size;	/* bytes; 0: 5% of the medium, at least 16 blocks */
	bool force;			/* overwrite an existing LTFS volume */
	bool single_partition;		/* fusetape extension for unpartitionable drives */
};

/* What ltfs_probe() found on a medium. */
struct ltfs_label_info {
	char uuid[37];
	char barcode[7];
	char volume_name[LTFS_NAME_MAX + 1];
	char creator[128];
	char version[16];
	uint32_t block_size;
	struct timespec format_time;
};

/*
 * Is there an LTFS volume on this tape?  0 and *info filled if partition 0
 * (or 1) starts with a valid VOL1 + LTFS label, -ENOENT if not (a blank or
 * foreign medium), other negative errno on a read error.
 */
int ltfs_probe(struct tape *t, struct ltfs_label_info *info);

/*
 * Partition the medium (index partition a = SCSI partition 0, data
 * partition b = 1), write VOL1 and XML labels to both, an initial index
 * (generation 1) to both, and the MAM attributes.  Refuses with -EEXIST an
 * existing LTFS volume unless opts->force.  Medium with one partition only
 * and !single_partition: -EOPNOTSUPP.
 */
int ltfs_format(struct tape *t, const struct ltfs_format_opts *opts,
		char err[LTFS_ERRLEN]);

/* ---- mount ------------------------------------------------------------- */

struct ltfs_mount_opts {
	bool readonly;		/* never write to the tape */
	const char *creator;	/* "<creator>" in the index; NULL: "fusetape <version>" */
	/*
	 * Addition (LTFS core): when the data partition holds records after
	 * its last index (the writer died), the recovery mount makes each run
	 * of them a file /_ltfs_lostandfound/partitionb_block<N>_<bytes>bytes
	 * (what "ltfsck -f" does), so unindexed bytes can be salvaged.  Set
	 * this to leave them unreachable instead, as plain ltfsck does.
	 */
	bool no_lostfound;
	/*
	 * Addition (LTFS core): non-zero mounts that generation read-only
	 * instead of the newest (a rollback view, like the reference's
	 * rollback_mount); it is looked up through the back pointers.  A
	 * generation not on the volume: -ENOENT.
	 */
	uint64_t generation;
	/*
	 * The write stream's ring is normally mapped twice, back to back, so
	 * that a record or request crossing its end stays contiguous and
	 * nothing is moved there.  Set this for one plain mapping, where the
	 * record being filled is copied to the ring's start at its end (what
	 * happens anyway where shared memory cannot be mapped twice): for
	 * tests and A/B measurements.
	 */
	bool plain_ring;
};

/*
 * Read the labels, find the newest index (fast path through the MAM
 * coherency attributes, else from the end of each partition), and build
 * the namespace.  If a partition does not end in an index (the writer
 * died), the tree of the newest complete index is used and, unless
 * readonly, a recovery index is written so the volume is consistent again.
 * Not LTFS: -EMEDIUMTYPE.  Damaged beyond use: -EIO or -EUCLEAN.  err says
 * what was found.  A write-protected medium mounts with ltfs_readonly()
 * true.
 */
int ltfs_mount(struct tape *t, const struct ltfs_mount_opts *opts,
	       struct ltfs_volume **out, char err[LTFS_ERRLEN]);

/*
 * Addition (LTFS core): what the last ltfs_mount() of v repaired, as one
 * line for the log ("recovered: ..."), or NULL if the volume was
 * consistent.  Valid until the volume is unmounted.
 */
const char *ltfs_mount_notice(const struct ltfs_volume *v);

/*
 * Write remaining data, then (if anything changed since the index on
 * tape) the index to the data partition and then to the index partition,
 * update MAM, flush, and free the volume.  The tape itself stays open (the
 * caller closes it).  On error the volume is freed all the same and err
 * says what did not reach the tape.
 */
int ltfs_unmount(struct ltfs_volume *v, char err[LTFS_ERRLEN]);

/*
 * Write buffered data and, if dirty, an index to the data partition;
 * flush the drive.  reason goes into the index creator ("Sync", "Periodic
 * Sync", ...).  Afterwards every change so far survives a crash.
 */
int ltfs_sync(struct ltfs_volume *v, const char *reason);
bool ltfs_dirty(const struct ltfs_volume *v);
bool ltfs_readonly(const struct ltfs_volume *v);
struct tape *ltfs_tape(const struct ltfs_volume *v);

struct ltfs_space {
	uint32_t block_size;
	uint64_t total_bytes;	/* data partition capacity */
	uint64_t free_bytes;	/* what can still be written there */
	uint64_t files;		/* nodes in the namespace */
	/*
	 * The drive does not report its capacity: total is what is on tape
	 * plus LTFS_UNKNOWN_CAPACITY_FREE, free is that nominal amount.
	 */
	bool capacity_unknown;
};
/* Free space shown when the drive cannot tell (one LTO-9 cartridge, 18 TB). */
#define LTFS_UNKNOWN_CAPACITY_FREE 18000000000000ull
int ltfs_statfs(struct ltfs_volume *v, struct ltfs_space *s);

/* ---- namespace (all names are single components, UTF-8) ---------------- */

int ltfs_getattr(struct ltfs_volume *v, uint64_t uid, struct ltfs_stat *out);
int ltfs_lookup(struct ltfs_volume *v, uint64_t dir, const char *name,
		struct ltfs_stat *out);
void ltfs_forget(struct ltfs_volume *v, uint64_t uid, uint64_t nlookup);

int ltfs_create(struct ltfs_volume *v, uint64_t dir, const char *name,
		struct ltfs_stat *out);
int ltfs_mkdir(struct ltfs_volume *v, uint64_t dir, const char *name,
	       struct ltfs_stat *out);
int ltfs_symlink(struct ltfs_volume *v, uint64_t dir, const char *name,
		 const char *target, struct ltfs_stat *out);
/* Returns the target length; copies at most len bytes, no NUL added. */
ssize_t ltfs_readlink(struct ltfs_volume *v, uint64_t uid, char *buf,
		      size_t len);
int ltfs_unlink(struct ltfs_volume *v, uint64_t dir, const char *name);
int ltfs_rmdir(struct ltfs_volume *v, uint64_t dir, const char *name);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (linux/fs.h values). */
int ltfs_rename(struct ltfs_volume *v, uint64_t dir, const char *name,
		uint64_t newdir, const char *newname, unsigned flags);

/*
 * Iterate over a directory's entries (not "." and "..") in a stable order,
 * starting after `cookie` (0 = from the start).  fill returns non-zero to
 * stop (e.g. the reply buffer is full); `next` is the cookie to resume
 * after that entry.  Entries added or removed meanwhile never make the
 * iteration repeat or skip an entry that stayed.
 */
typedef int (*ltfs_fill_fn)(void *ctx, const char *name,
			    const struct ltfs_stat *st, uint64_t next);
int ltfs_readdir(struct ltfs_volume *v, uint64_t dir, uint64_t cookie,
		 ltfs_fill_fn fill, void *ctx);

/* ---- attributes --------------------------------------------------------- */

enum {
	LTFS_SET_LENGTH = 1 << 0,	/* truncate or extend (sparse) */
	LTFS_SET_MODIFY = 1 << 1,
	LTFS_SET_ACCESS = 1 << 2,
	LTFS_SET_CHANGE = 1 << 3,
	LTFS_SET_CREATION = 1 << 4,
	LTFS_SET_READONLY = 1 << 5,
};
struct ltfs_setattr {
	unsigned mask;		/* LTFS_SET_* */
	uint64_t length;
	struct timespec modify, access, change, creation;
	bool readonly;
};
/* Changing anything but change time also sets change time to now. */
int ltfs_setattr(struct ltfs_volume *v, uint64_t uid,
		 const struct ltfs_setattr *sa, struct ltfs_stat *out);

/*
 * Extended attributes, by LTFS key (the daemon maps "user.K" to key K).
 * Keys "ltfs.*" are virtual and read-only (ltfs.volumeUUID,
 * ltfs.indexGeneration, ltfs.indexLocation, ltfs.volumeBlocksize,
 * ltfs.fileUID, ltfs.startblock, ltfs.partition, ...).  get returns the value
 * size (copying at most len bytes; len 0 asks the size); list returns the
 * total size of NUL-separated stored keys.  flags: XATTR_CREATE /
 * XATTR_REPLACE.  Values up to LTFS_XATTR_VALUE_MAX bytes.
 */
ssize_t ltfs_getxattr(struct ltfs_volume *v, uint64_t uid, const char *key,
		      void *buf, size_t len);
int ltfs_setxattr(struct ltfs_volume *v, uint64_t uid, const char *key,
		  const void *value, size_t size, int flags);
ssize_t ltfs_listxattr(struct ltfs_volume *v, uint64_t uid, char *buf,
		       size_t len);
int ltfs_removexattr(struct ltfs_volume *v, uint64_t uid, const char *key);

/* ---- file data ---------------------------------------------------------- */

/* Read up to len bytes at off; holes read as zeros; returns bytes read (0 at EOF). */
ssize_t ltfs_read(struct ltfs_volume *v, uint64_t uid, void *buf, size_t len,
		  uint64_t off);
/*
 * Write len bytes at off (extending the file; a gap becomes a hole).
 * Returns len, or -ENOSPC when the data partition is full (nothing of this
 * call is then part of the file), -EROFS on a read-only volume.
 */
ssize_t ltfs_write(struct ltfs_volume *v, uint64_t uid, const void *buf,
		   size_t len, uint64_t off);
/*
 * Zero-copy read: the longest prefix of the file bytes [off, off + len)
 * that can be taken straight from the backing file of a virtual tape
 * image: *fd (owned by the tape, valid while mounted) and *pos (its file
 * offset).  Returns that prefix's length, or 0 when the first byte cannot
 * be served this way (a hole, data still in the write buffer, not an
 * image, end of file, a damaged extent): ltfs_read() serves and reports
 * those.  Each record is checked against its CRC32C before it is first
 * handed out (tape_image_verify_record(); a bounded cache remembers the
 * records checked); a record that fails gives -EIO as ltfs_read() would.
 * The image range ahead of the read is asked to be read in the background.
 */
ssize_t ltfs_read_direct(struct ltfs_volume *v, uint64_t uid, size_t len,
			 uint64_t off, int *fd, uint64_t *pos);
/* Can ltfs_read_direct() ever return ranges on this volume's tape? */
bool ltfs_read_direct_possible(const struct ltfs_volume *v);

/*
 * ---- landing: write requests received straight into the write stream ----
 *
 * File data goes to tape from a ring of memory registered with the tape
 * (tape_register_arena()), as records queued with tape_write_queued(), so
 * that several can be in flight.  A daemon that receives a write request
 * (header, then payload) with one read() can have the payload land where
 * the next bytes of the stream belong, and nothing is copied:
 *
 *	ltfs_landing_get(v, hdr, room, &l);     read(fd, l.data - hdr, hdr + room);
 *	ltfs_write_landed(v, uid, l.data, len, off);   (for a write request)
 *	ltfs_landing_put(v, &l);                (after every request)
 *
 * One landing at a time.  Calls are serialised like every other call, but
 * the memory of an outstanding landing may be written by the kernel while
 * another thread calls ltfs_sync(): the core then copies the record being
 * filled out of the way rather than queueing it from under the kernel.
 */
#define LTFS_LANDING_HDR_MAX 256
/* Alignment of a landing's data (and of data - hdr when hdr is a multiple). */
#define LTFS_LANDING_ALIGN 8u

struct ltfs_landing {
	unsigned char *data;	/* where the payload should land */
	size_t hdr, room;	/* as asked */
};

/*
 * Where the next write request's payload should land.  Promise until
 * ltfs_landing_put(): [data - hdr, data + room) may be overwritten by the
 * caller (and the kernel).  [data, data + room) is free memory of the
 * stream: not in flight, not part of a record.  [data - hdr, data) is
 * either free too or the end of the record being filled, whose bytes the
 * core saved now and puts back when the request turns out not to be a
 * write at data, or at ltfs_landing_put().  data is the end of the record
 * being filled (rounded up to LTFS_LANDING_ALIGN), or the page-aligned
 * start of a fresh one.  When the stream ends unaligned, a write that
 * starts a new extent keeps those few bytes as zero padding no extent
 * names (write_padding); one that continues the file's last extent is
 * moved down onto the stream's end (write_copied), so that the file stays
 * one extent.  May wait for
 * records in flight to retire.  Fails (the caller then receives into
 * memory of its own and calls ltfs_write()) with -EROFS on a read-only
 * volume, -EIO after a deferred write error, -EBUSY if a landing is
 * outstanding, -EINVAL for hdr > LTFS_LANDING_HDR_MAX or a room the
 * stream cannot offer, -EOPNOTSUPP when the block size is not a multiple
 * of 4 KiB.
 */
int ltfs_landing_get(struct ltfs_volume *v, size_t hdr, size_t room,
		     struct ltfs_landing *l);
/*
 * ltfs_write() for a request received into a landing.  If data is the
 * outstanding landing's data and still the end of the stream, the bytes
 * are in place: full records are queued from there and nothing is copied
 * (counted as write_landed).  Otherwise (the stream moved on because a
 * sync flushed the record being filled meanwhile, or data is elsewhere)
 * it copies like ltfs_write().  Results as ltfs_write().
 */
ssize_t ltfs_write_landed(struct ltfs_volume *v, uint64_t uid, const void *data,
			  size_t len, uint64_t off);
/* End the landing: puts back the saved bytes.  After every landed request. */
void ltfs_landing_put(struct ltfs_volume *v, struct ltfs_landing *l);
/* Can ltfs_landing_get() ever succeed on this volume? */
bool ltfs_landing_possible(const struct ltfs_volume *v);
/* Are queued records written asynchronously (several in flight)? */
bool ltfs_write_behind(const struct ltfs_volume *v);
/*
 * Register the write stream's memory with the tape again, from this
 * process.  A process that fork()s after ltfs_mount() (a daemon going to
 * the background) calls it in the child before writing: memory pinned for
 * fixed-buffer I/O stays the parent's pages, and the child's writes to its
 * copy would never reach the tape.  Returns 0 or a deferred write error.
 */
int ltfs_write_behind_reattach(struct ltfs_volume *v);
/*
 * Wait until every record queued so far is on tape or has failed; writes
 * no index.  Returns the deferred write error (as ltfs_write_failure()) or
 * 0.  For a daemon that reports its counters at unmount, so that they show
 * what reached the tape.
 */
int ltfs_drain(struct ltfs_volume *v);

/*
 * After a deferred write error (a queued record failed after the write
 * that filled it was acknowledged), the volume refuses writes with -EIO,
 * sync, fsync and unmount fail, and no index is written that would name
 * the lost blocks: the last index on tape stays the valid state.  Returns
 * the error (0 if none) and a line for the log in msg.
 */
int ltfs_write_failure(const struct ltfs_volume *v, char msg[LTFS_ERRLEN]);

/* How file data moved since mount (bytes). */
struct ltfs_io_stats {
	uint64_t write_landed;		/* went to tape from where the kernel put it */
	uint64_t write_direct;		/* whole records written from the caller's buffer */
	uint64_t write_copied;		/* copied by the core (incl. records moved in the ring) */
	uint64_t write_padding;		/* zero bytes that aligned landings in records */
	uint64_t records_queued;	/* data records given to tape_write_queued() */
	uint64_t records_retired;	/* ... and known to be done */
	uint64_t max_in_flight;		/* most records queued and not retired at once */
	uint64_t read_direct;		/* handed out by ltfs_read_direct() */
	uint64_t read_copied;		/* copied out by ltfs_read() */
	uint64_t records_verified;	/* CRC checks made by ltfs_read_direct() */
	/*
	 * Time the core spent blocked on file data going to tape: in
	 * synchronous record writes, and waiting for queued records to retire
	 * (a full queue, a sync).  Next to the time mounted it says whether
	 * the drive or everything else is the bottleneck.
	 */
	uint64_t tape_wait_ns;
};
void ltfs_io_stats(const struct ltfs_volume *v, struct ltfs_io_stats *st);

/* Data of this file on tape, then an index to the data partition (as ltfs_sync). */
int ltfs_fsync(struct ltfs_volume *v, uint64_t uid);

/* ---- additions by the LTFS core: index generations ---------------------- */

struct ltfs_generation {
	uint64_t generation;
	char partition;		/* LTFS partition letter of this copy */
	uint64_t block;		/* its first record */
	struct timespec update_time;
	char creator[256];
};
typedef int (*ltfs_generation_fn)(void *ctx, const struct ltfs_generation *g);

/*
 * The index generations on the medium, newest first: the newest index of
 * either partition, then back along the previousgenerationlocation chain
 * (each generation reported once).  fn returns non-zero to stop.  Returns
 * how many were reported, or negative errno if the volume cannot be read
 * at all; a broken link ends the walk early with err saying where.
 * Writes nothing.
 */
int ltfs_list_generations(struct tape *t, ltfs_generation_fn fn, void *ctx,
			  char err[LTFS_ERRLEN]);

#endif /* FUSETAPE_LTFS_H */
