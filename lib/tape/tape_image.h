/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape_image.h - a whole virtual tape cartridge in one regular file.
 *
 * The image backend is the default "drive" of fusetape and the one the
 * unit tests hold to the tape.h contract.  Opened through tape_open() on a
 * regular file; this header adds what only images have: creating them,
 * flipping their write-protect tab, and the details the fusetape-image
 * tool prints.  The on-disk format is described in fusetape-image(5).
 *
 * Promises beyond tape.h
 *  - Capacity accounting is in 4 KiB units: a record of L bytes uses
 *    L rounded up to 4 KiB of its partition (records start 4 KiB-aligned
 *    in the file, so they can be read with O_DIRECT); a filemark uses none.
 *    The early-warning and end-of-partition tests use that rounded end.
 *  - Each partition has one table slot per 4 KiB of its data plus
 *    TAPE_IMAGE_EXTRA_ENTRIES; when they are used up (many filemarks),
 *    writes fail with -ENOSPC / EOM like a full partition.
 *  - A record acknowledged by tape_write() survives a kill -9 of the
 *    process; after tape_flush()/tape_write_filemarks() it also survives a
 *    power loss.  Records written after the last flush may be missing after
 *    a power loss, or (if the host reordered the writes) read as
 *    MEDIUM_ERROR; nothing before that flush is affected.
 *  - A record whose checksum does not match reads as -EIO / MEDIUM_ERROR
 *    and the position moves past it, so the rest can still be read.
 *  - A read-write handle holds an exclusive flock() on the file and a
 *    read-only handle a shared one: a second writer gets -EBUSY.
 *  - tape_set_early_warning() lasts for the handle; the default stored in
 *    the image is set at creation (see tape_image_params.early_warning).
 *  - tape_unload() rewinds; afterwards everything but tape_load() and
 *    tape_close() fails with -ENOMEDIUM / NOT_READY.
 */
#ifndef FUSETAPE_TAPE_IMAGE_H
#define FUSETAPE_TAPE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tape.h"

#define TAPE_IMAGE_BLOCK 4096u			/* alignment and capacity unit */
#define TAPE_IMAGE_MAX_RECORD (16u << 20)	/* == TAPE_RECORD_MAX_SUPPORTED */
#define TAPE_IMAGE_DEFAULT_MAX_RECORD (8u << 20)
#define TAPE_IMAGE_MIN_PARTITION (64u << 10)	/* smallest partition, bytes */
#define TAPE_IMAGE_EXTRA_ENTRIES 1024u		/* table slots beyond one per block */
#define TAPE_IMAGE_DEFAULT_SIZE (2ull << 30)
/* Automatic early warning: 1% of the cartridge, at least this, 4 KiB-rounded
 * (and at most a quarter of the smallest partition). */
#define TAPE_IMAGE_MIN_DEFAULT_EW (64u << 10)

/* tape_open() flag only the image backend knows: take no lock (for tools
 * that only look, like "fusetape-image info" on a mounted image). */
#define TAPE_IMAGE_OPEN_NOLOCK (1u << 16)

struct tape_image_params {
	uint64_t size;		/* cartridge capacity in bytes (sum of all partitions); 0 = 2 GiB */
	unsigned partitions;	/* 1..4; 0 = 1 */
	/* Capacity of each partition; 0 for the last one means "the rest". */
	uint64_t partition_size[TAPE_MAX_PARTITIONS];
	/* Distance before a partition's end at which writes warn.  0 = automatic:
	 * 1% of size, at least 64 KiB, at most a quarter of the smallest
	 * partition, recomputed when the tape is re-partitioned.  (For no
	 * warning at all use tape_set_early_warning(t, 0).) */
	uint64_t early_warning;
	uint32_t max_record;	/* 0 = 8 MiB; at most 16 MiB */
	bool readonly;		/* set the write-protect flag in the image */
	bool force;		/* overwrite an existing file */
	const char *barcode;	/* optional, <= 32 chars; also the BARCODE attribute */
	const char *vendor;	/* optional identity, <= 8 chars, default "FUSETAPE" */
	const char *product;	/* <= 16 chars, default "VIRTUAL-LTO" */
	const char *serial;	/* <= 32 chars, default the image UUID in hex */
};

/*
 * Create a new, empty, sparse image file at path.  Refuses to replace an
 * existing file (-EEXIST) unless p->force.  Bad parameters give -EINVAL.
 * errbuf (may be NULL) receives a one-line explanation on failure.
 */
int tape_image_create(const char *path, const struct tape_image_params *p,
		      char *errbuf, size_t errlen);

/* Set or clear the write-protect flag stored in the image. */
int tape_image_set_readonly(const char *path, bool ro, char *errbuf,
			    size_t errlen);

/*
 * Parse a size: plain bytes or a number with a K, M, G, T or P suffix
 * (powers of 1024; "KiB"/"KB"/"k" all accepted, case-insensitive).
 * Returns 0, or -EINVAL for junk, -ERANGE for overflow.
 */
int tape_parse_size(const char *s, uint64_t *out);

/* What "fusetape-image info" prints. */
struct tape_image_info {
	uint32_t version;
	char uuid[37];
	uint64_t capacity;
	uint64_t early_warning;	/* stored default, in bytes */
	bool early_warning_auto;	/* ... computed from the layout (none given at creation) */
	uint32_t max_record;
	bool write_protected;	/* flag in the image */
	char barcode[33];
	uint64_t file_size;	/* apparent size of the image file */
	uint64_t format_generation;
	unsigned partitions;
	struct {
		uint64_t capacity;
		uint64_t used;		/* bytes of data area used (4 KiB units) */
		uint64_t eod;		/* logical object number of EOD */
		uint64_t records;
		uint64_t filemarks;
		uint64_t table_entries;
	} part[TAPE_MAX_PARTITIONS];
};

/* Fill *info; t must be an image handle (else -EINVAL). */
int tape_image_get_info(struct tape *t, struct tape_image_info *info);

/*
 * Copy up to max attributes of a partition (in the order stored) to out;
 * returns how many the partition has (may be > max), or negative errno.
 */
int tape_image_list_attrs(struct tape *t, uint32_t partition,
			  struct tape_attr *out, unsigned max);

/*
 * Where the record at (partition, block) lives in the image file, for
 * zero-copy readers (O_DIRECT, io_uring with registered buffers): *fd is
 * the backend's descriptor (owned by the handle), *offset is 4 KiB-aligned.
 * -ENODATA at or past EOD; a filemark gives -ENOMSG.
 * The caller must check the data against *crc32c itself.
 */
int tape_image_record_extent(struct tape *t, uint32_t partition,
			     uint64_t block, int *fd, uint64_t *offset,
			     uint32_t *length, uint32_t *crc32c);

/*
 * Check the record at (partition, block) against its stored CRC32C,
 * reading the image's page cache in place (a read-only mapping, nothing
 * copied): 0 if it matches, -EIO if it does not or cannot be read,
 * -ENODATA at or past EOD, -ENOMSG for a filemark.  For zero-copy readers
 * that hand out the record's file range (tape_image_record_extent())
 * instead of reading it through tape_read().
 */
int tape_image_verify_record(struct tape *t, uint32_t partition,
			     uint64_t block);

/*
 * tape_image_verify_record() reads records through one read-only mapping
 * of the image file, the verification window (64 MiB by default), kept
 * from record to record and mapped anew when a record lies outside it; a
 * record larger than the window gets a window of its own size.  Pages are
 * mapped in for the check and unmapped after it (they stay in the page
 * cache).  A fault reads no more than the page it needs (no read-around),
 * so callers checking records in bulk ask for read-ahead first.  An image
 * shrunk under the window makes the check -EIO (never a SIGBUS) and drops
 * the window.
 * tape_image_set_verify_window() sets the window size for the handle (a
 * multiple of 4 KiB; 0 = the default) and drops the current window; for
 * tests and benchmarks.
 */
struct tape_image_window_info {
	bool mapped;		/* a window is mapped now */
	uint64_t start;		/* ... from this file offset */
	uint64_t len;		/* ... over this many bytes */
	uint64_t maps;		/* windows mapped since the handle was opened */
};
int tape_image_set_verify_window(struct tape *t, size_t bytes);
int tape_image_get_verify_window(struct tape *t, struct tape_image_window_info *wi);

/*
 * Write-behind on images (tape_register_arena(), tape_write_queued()).
 * Records go to the image through an io_uring: their data with O_DIRECT
 * from the registered arena (fixed buffers), their table entries, in
 * record order, once the data is written.
 *  - buf given to tape_write_queued() must be 4 KiB-aligned and lie (with
 *    its len bytes) inside the arena; any other buffer is written
 *    synchronously (correct, but nothing is then in flight).  The bytes
 *    after buf + len are never read: a record's last partial block is
 *    written from a zero-padded copy, so the padding in the image is zero.
 *  - At most depth records (default 16) are in flight; tape_write_queued()
 *    blocks until the oldest is retired when all are.
 *  - The data area is preallocated 64 MiB ahead of the writes (and the
 *    object table 1 MiB ahead): a host filesystem without room fails
 *    tape_write_queued() at once with -ENOSPC (or -EDQUOT), sense
 *    HARDWARE (not EOM: the cartridge is not full), and nothing is
 *    queued.
 *  - A data write that fails or comes back short is the deferred error:
 *    -EIO with MEDIUM_ERROR, or the host's errno with HARDWARE (e.g.
 *    -EFBIG); the tape then ends before that record (position and EOD
 *    are put there).
 *  - Without O_DIRECT (refused by the host filesystem) the writes go
 *    through the page cache, still asynchronously; without fixed buffers
 *    (RLIMIT_MEMLOCK, ENOMEM) they are plain writes from the same memory.
 *  - A retired record survives a kill -9 like one written by tape_write().
 */
struct tape_image_queue_config {
	unsigned depth;		/* records in flight, 1 .. 256; 0 = default */
	bool buffered;		/* do not use O_DIRECT */
	bool unregistered;	/* do not register the arena as fixed buffers */
};
/* Takes effect at the next tape_register_arena() (for tests and benchmarks). */
int tape_image_set_queue_config(struct tape *t, const struct tape_image_queue_config *cfg);

struct tape_image_queue_info {
	bool active;		/* an arena is registered: writes can be in flight */
	bool direct;		/* ... with O_DIRECT */
	bool fixed;		/* ... from registered (fixed) buffers */
	unsigned depth;		/* the bound on records in flight */
	unsigned in_flight;	/* records queued and not yet retired */
};
int tape_image_get_queue_info(struct tape *t, struct tape_image_queue_info *qi);

/* True if t is an image handle. */
bool tape_is_image(const struct tape *t);

/* CRC-32C (Castagnoli) as the image format uses it: crc32c(0, buf, len)
 * is the standard value ("123456789" -> 0xE3069283); pass a previous
 * result as crc to continue. */
uint32_t tape_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* FUSETAPE_TAPE_IMAGE_H */
