/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ltfs_internal.h - what the files of lib/ltfs/ share: the in-memory
 * namespace (nodes, extents, xattrs), the parsed forms of labels and
 * indexes, and the volume.  Not part of the library's interface; the unit
 * tests include it to look inside.
 */
#ifndef FUSETAPE_LTFS_INTERNAL_H
#define FUSETAPE_LTFS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ltfs/ltfs.h"

#define LTFS_IMPL_NAME "fusetape"
#define LTFS_IMPL_VERSION FUSETAPE_VERSION	/* from the Makefile */
#define LTFS_FORMAT_VERSION "2.4.0"
/* Label/index versions we read: 1.0.0 up to 2.99.99, as the reference. */
#define LTFS_VERSION_MIN 10000
#define LTFS_VERSION_MAX 29999

/* Blocks of the fixed part of every partition: VOL1, FM, label, FM. */
#define LTFS_FIRST_INDEX_FM 4

/* Where mount puts data found after the last index (as ltfsck -f does). */
#define LTFS_LOSTFOUND "_ltfs_lostandfound"

/* Deepest directory nesting we parse or write (guards the recursion). */
#define LTFS_MAX_DEPTH 1500

/* ---- names, times, encodings (names.c, time.c) ------------------------- */

/* 0 if s[0..len) is well-formed UTF-8 without surrogates/overlongs. */
int ltfs_utf8_check(const char *s, size_t len);
/*
 * Check one file name component: UTF-8 (-EILSEQ), 1..255 bytes
 * (-ENAMETOOLONG / -EINVAL for empty), no '/', NUL or 0x1F, not "." or
 * ".." (-EINVAL).
 */
int ltfs_name_check(const char *name);
/* Does this name need percentencoded="true" in the index? */
bool ltfs_name_needs_encoding(const char *name);
/* Percent-encode ':', '%' and control characters; malloc'd, NULL on ENOMEM. */
char *ltfs_name_encode(const char *name);
/* Decode %XX sequences; malloc'd; NULL on a malformed sequence or ENOMEM. */
char *ltfs_name_decode(const char *enc);
/* Can these bytes be stored as XML text verbatim (and read back the same)? */
bool ltfs_xml_text_ok(const void *buf, size_t len);
char *ltfs_base64_encode(const void *buf, size_t len);
/* Returns decoded length or -1; *out malloc'd. Whitespace is skipped. */
ssize_t ltfs_base64_decode(const char *s, unsigned char **out);

/* "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" (31 bytes with NUL), clamped to the
 * range the format allows. */
#define LTFS_TIME_LEN 32
void ltfs_time_format(const struct timespec *ts, char out[LTFS_TIME_LEN]);
int ltfs_time_parse(const char *s, struct timespec *ts);
struct timespec ltfs_now(void);
/* A monotonic clock in nanoseconds, for durations. */
uint64_t ltfs_clock_ns(void);

/* Version "X.Y.Z" as X*10000+Y*100+Z, -1 if malformed. */
int ltfs_version_parse(const char *s);

/* ---- namespace (tree.c, extent.c) -------------------------------------- */

struct ltfs_extent {
	uint64_t fileoffset;
	uint64_t startblock;
	uint64_t bytecount;
	uint32_t byteoffset;	/* < block size after normalisation */
	char part;		/* LTFS partition letter */
};

struct ltfs_xattr {
	char *key;
	unsigned char *value;
	size_t size;
};

struct ltfs_node {
	uint64_t uid;
	enum ltfs_type type;
	char *name;		/* NULL once unlinked */
	struct ltfs_node *parent;	/* NULL for root and unlinked nodes */
	struct ltfs_node *uid_next, *name_next;	/* hash chains */
	uint64_t length;	/* file length (symlinks: 0 on tape) */
	bool readonly;
	bool unlinked;
	bool openforwrite;
	uint64_t nlookup;
	struct timespec creation, change, modify, access, backup;
	/*
	 * directories: children sorted by uid in child[0..nslot); a removed
	 * child leaves a NULL slot (its uid stays in child_uid for the binary
	 * search) until compaction, so emptying a big directory is linear.
	 */
	struct ltfs_node **child;
	uint64_t *child_uid;
	size_t nslot, nchild, child_cap;	/* nchild: live children */
	uint64_t nsubdirs;
	/* files: extents sorted by fileoffset, not overlapping */
	struct ltfs_extent *ext;
	size_t next, ext_cap;
	char *symlink;		/* symlinks: the target */
	struct ltfs_xattr *xattr;
	size_t nxattr;
	char *preserved;	/* unknown child elements, verbatim, or NULL */
};

struct ltfs_tree {
	struct ltfs_node *root;
	struct ltfs_node **uid_tab;
	size_t uid_cap, count;	/* count: nodes reachable or still referenced */
	struct ltfs_node **name_tab;
	size_t name_cap, named;
	uint64_t highest_uid;
	uint64_t extents;	/* total extents, for index size estimates */
	uint64_t meta_bytes;	/* names, targets, xattrs: same purpose */
};

int ltfs_tree_init(struct ltfs_tree *tr);
void ltfs_tree_free(struct ltfs_tree *tr);
struct ltfs_node *ltfs_node_new(enum ltfs_type type, uint64_t uid);
/* Free a node and its data (not its children); it must be out of the maps. */
void ltfs_node_free(struct ltfs_node *n);
/* Register in the uid map (-EEXIST on a duplicate uid). */
int ltfs_tree_add_uid(struct ltfs_tree *tr, struct ltfs_node *n);
void ltfs_tree_del_uid(struct ltfs_tree *tr, struct ltfs_node *n);
struct ltfs_node *ltfs_tree_get(const struct ltfs_tree *tr, uint64_t uid);
struct ltfs_node *ltfs_tree_lookup(const struct ltfs_tree *tr,
				   const struct ltfs_node *dir, const char *name);
/* Link n (which has its name set) into dir: -EEXIST if the name is taken. */
int ltfs_tree_link(struct ltfs_tree *tr, struct ltfs_node *dir,
		   struct ltfs_node *n);
/* Take n out of its parent (name and child array); keeps n->name. */
void ltfs_tree_unlink(struct ltfs_tree *tr, struct ltfs_node *n);
/* Give linked n a new name (malloc'd, taken over) in the same directory:
 * -EEXIST if taken. */
int ltfs_tree_rename(struct ltfs_tree *tr, struct ltfs_node *n, char *newname);
/* Slot of the first child with uid > after (slots may be NULL: skip them). */
size_t ltfs_dir_seek(const struct ltfs_node *dir, uint64_t after);

/* Extents.  bs: block size for normalising (startblock, byteoffset). */
uint64_t ltfs_extent_bytes(const struct ltfs_node *n);
/*
 * Make e the data of [e.fileoffset, e.fileoffset + e.bytecount): older
 * extents there are trimmed or split; e is merged into the extent that
 * ends exactly where it starts, on tape and in the file, if there is one.
 */
int ltfs_extent_put(struct ltfs_tree *tr, struct ltfs_node *n,
		    const struct ltfs_extent *e, uint32_t bs);
/* Index of the first extent of n that ends after off (n->next if none). */
size_t ltfs_extent_find(const struct ltfs_node *n, uint64_t off);
/* Drop everything at and beyond len. */
int ltfs_extent_truncate(struct ltfs_tree *tr, struct ltfs_node *n,
			 uint64_t len, uint32_t bs);

/* ---- labels and indexes (label.c, index_xml.c) -------------------------- */

struct ltfs_label {
	char version[16];
	char creator[128];
	char uuid[37];
	char barcode[7];
	struct timespec formattime;
	char this_part;		/* location/partition */
	char index_part, data_part;
	uint32_t blocksize;
	bool compression;
};

#define LTFS_VOL1_LEN 80
void ltfs_vol1_make(char out[LTFS_VOL1_LEN], const char *barcode);
/* 0 if buf is an LTFS VOL1 label; its volser (trailing blanks cut) in barcode. */
int ltfs_vol1_parse(const void *buf, size_t len, char barcode[7]);

/* XML label to/from memory (malloc'd text). */
int ltfs_label_xml(const struct ltfs_label *l, char **out, size_t *outlen);
int ltfs_label_parse(const void *buf, size_t len, struct ltfs_label *l,
		     char err[LTFS_ERRLEN]);

struct ltfs_loc {
	char part;		/* 0: none */
	uint64_t block;
};

struct ltfs_index {
	char version[16];
	char creator[256];
	char uuid[37];
	uint64_t generation;
	struct timespec updatetime;
	struct ltfs_loc self, back;	/* back.part == 0: no back pointer */
	bool allowpolicyupdate;
	char lockstate[16];	/* unlocked, locked, permlocked */
	char *comment;		/* optional */
	char *policy_xml;	/* dataplacementpolicy kept verbatim, or NULL */
	char *preserved;	/* unknown elements of <ltfsindex>, verbatim */
	struct ltfs_tree tree;
};

void ltfs_index_free(struct ltfs_index *ix);
/* The index as XML text (malloc'd). */
int ltfs_index_xml(const struct ltfs_index *ix, char **out, size_t *outlen);
/*
 * Parse an index.  header_only: stop before the root directory (the tree
 * stays empty; for quick comparisons).  err says what is wrong.
 */
int ltfs_index_parse(const void *buf, size_t len, bool header_only,
		     struct ltfs_index *ix, char err[LTFS_ERRLEN]);

/* VCI (MAM 0x080C) value: 70 bytes. */
#define LTFS_VCI_LEN 70
void ltfs_vci_make(uint8_t out[LTFS_VCI_LEN], uint64_t vcr, uint64_t gen,
		   uint64_t block, const char *uuid);
int ltfs_vci_parse(const uint8_t *buf, size_t len, uint64_t *vcr,
		   uint64_t *gen, uint64_t *block, char uuid[37]);

/* ---- the volume (volume.c, data.c, ops.c) -------------------------------- */

/* Records the direct read path has checked against their CRC (data.c). */
#define LTFS_VCACHE 1024
struct ltfs_verified {
	uint64_t block;
	uint64_t pos;		/* image file offset; 0: empty slot */
	uint32_t len, crc;
	unsigned part;
};

/*
 * The write stream (stream.c).  File data is gathered in a ring of memory,
 * the arena, where every record is a contiguous slice: the record being
 * filled (wbuf, wlen bytes), then, when it is full, the next one right
 * after it, so that one FUSE request received into the arena may fill
 * several records in place.  Full records are queued to the tape from
 * there (tape_write_queued) and their memory is reused only after the
 * tape retired them.  The arena is registered with the tape once, so that
 * a backend can do fixed-buffer I/O from it.
 *
 * LTFS_ARENA_BYTES: 64 records of the default 512 KiB block size, enough
 * to keep a drive (or an O_DIRECT image) busy with many records in
 * flight while the next FUSE requests arrive, and many times the largest
 * landing window (a 1 MiB request plus its header), so that wrapping
 * around the ring is rare.  It grows for larger block sizes (8 records).
 */
#define LTFS_ARENA_BYTES (32u << 20)
#define LTFS_ARENA_MIN_RECORDS 8
#define LTFS_PAGE 4096u
/* Records queued and not yet known to be retired, at most. */
#define LTFS_INFLIGHT_MAX 1024

struct ltfs_inflight {
	uint64_t seq;		/* tape_write_queued()'s number */
	size_t off, len;	/* the record's bytes in the arena */
	uint64_t block;		/* its data partition block */
};

struct ltfs_volume {
	struct tape *t;
	struct ltfs_label label;
	struct ltfs_index ix;	/* header of the current index + the tree */
	uint32_t bs;
	unsigned ip, dp;	/* SCSI partitions */
	char ip_letter, dp_letter;
	bool readonly;
	bool single;		/* fusetape extension: one partition is IP and DP */
	bool dirty;		/* namespace differs from the last index written */
	bool gen_pending;	/* generation raised for an index not yet written */
	char creator[128];

	uint64_t dp_next;	/* next DP block to write */
	uint64_t ip_fm;		/* where the next IP index construct begins */
	uint64_t ip_gen;	/* generation at the end of the IP, 0: none */
	uint64_t dp_gen;	/* generation at the end of the DP, 0: none */

	unsigned char *wbuf;	/* the DP record being filled (block dp_next): arena + rec_start */
	size_t wlen;

	/* the write stream (stream.c); arena is NULL on read-only volumes */
	unsigned char *arena;
	size_t arena_len;		/* the ring's length */
	/*
	 * Mirrored: the ring's memory is mapped a second time right after it
	 * (arena[arena_len + i] is arena[i]), so offsets run up to
	 * 2 * arena_len and a record may cross the ring's end in place.
	 */
	bool arena_mirrored;
	bool plain_ring;		/* ltfs_mount_opts.plain_ring */
	size_t rec_start;		/* offset of wbuf in the arena */
	bool arena_registered;		/* tape_register_arena() was called with it */
	bool arena_async;		/* ... and the tape writes from it asynchronously */
	struct ltfs_inflight *inflight;	/* FIFO of queued, unretired records */
	size_t if_head, if_count;
	int qerr;			/* deferred write error (negative errno), sticky */
	uint64_t qerr_seq;		/* the first record of the stream lost */
	uint64_t qerr_block;		/* its data partition block */
	/* the outstanding landing (ltfs_landing_get .. ltfs_landing_put) */
	bool land_active;
	bool land_pending;		/* the request may still be arriving */
	size_t land_lo, land_hi;	/* its window in the arena */
	size_t land_data;		/* where its payload lands */
	size_t land_pad;		/* bytes between the stream's end and land_data */
	/* the file data that ends the stream: which file, up to which offset */
	uint64_t tail_uid, tail_end;
	size_t land_saved_at, land_saved_len;	/* bytes of wbuf under the header */
	unsigned char land_saved[LTFS_LANDING_HDR_MAX];
	unsigned char *rbuf;	/* one record read cache */
	size_t rlen;
	unsigned rpart;
	uint64_t rblock;
	bool rvalid;

	bool pos_known;		/* tape position is (pos_part, pos_block) */
	unsigned pos_part;
	uint64_t pos_block;

	uint64_t dp_capacity;
	uint64_t dp_left;	/* bytes writable after dp_next (estimate) */
	bool dp_full;		/* early warning seen or a write hit EOM */
	uint64_t ip_capacity;
	char notice[LTFS_ERRLEN];	/* what mount repaired, "" if nothing */

	struct ltfs_io_stats io;	/* how file data moved (ltfs_io_stats()) */
	struct ltfs_verified vcache[LTFS_VCACHE];
	int ra_fd;			/* image range already asked to be read ahead */
	uint64_t ra_start, ra_end;
};

/* Map an LTFS partition letter of this volume to the SCSI partition. */
int ltfs_part_scsi(const struct ltfs_volume *v, char letter);
/* Bytes the index would take now (a generous estimate). */
uint64_t ltfs_index_estimate(const struct ltfs_volume *v);
/* Bytes to keep free on the DP for the indexes still to be written. */
uint64_t ltfs_index_reserve(const struct ltfs_volume *v);
/* 0 if the index can grow by about `more` bytes and still be written to
 * both partitions, else -ENOSPC. */
int ltfs_meta_room(const struct ltfs_volume *v, uint64_t more);
/* Write the buffered record (short if need be) to the DP. */
int ltfs_flush_wbuf(struct ltfs_volume *v);

/* ---- the write stream (stream.c) ---------------------------------------- */

/* Allocate the arena (read-write volumes); wbuf points into it. */
int ltfs_stream_init(struct ltfs_volume *v);
/* How far offsets into the arena run: the end of its mapping. */
static inline size_t ltfs_arena_end(const struct ltfs_volume *v)
{
	return v->arena_mirrored ? 2 * v->arena_len : v->arena_len;
}
/* Register the arena with the tape (at the end of a read-write mount). */
void ltfs_stream_attach(struct ltfs_volume *v);
/* Wait for everything in flight, unregister, free. */
void ltfs_stream_free(struct ltfs_volume *v);
/*
 * Collect retired records (wait_for 0: without blocking; else block until
 * record wait_for retired).  Notes early warning and a deferred error;
 * returns v->qerr or 0.
 */
int ltfs_stream_collect(struct ltfs_volume *v, uint64_t wait_for);
/* Block until nothing is in flight; v->qerr or 0. */
int ltfs_stream_drain(struct ltfs_volume *v);
/*
 * Make [cursor - hdr, cursor + need) of the arena usable for the record
 * being filled (cursor = its end): inside the arena, not in flight, not
 * in a landing window the kernel may be writing.  The hdr bytes before the
 * cursor may be the record's own.  May move the record being filled
 * (its bytes are copied, counted) or wait for records to retire.
 */
int ltfs_stream_room(struct ltfs_volume *v, size_t hdr, size_t need);
/*
 * Queue wbuf[0, len) (len == bs, or a short last record) as block
 * dp_next; the next record starts right after it (full records) or on a
 * fresh page.  Errors as tape_write (negative errno).
 */
int ltfs_stream_queue(struct ltfs_volume *v, size_t len, bool contiguous);
/* The saved header bytes back into wbuf if a landing left them out. */
void ltfs_stream_restore(struct ltfs_volume *v);
/* wbuf[0, wlen) with the bytes under an outstanding landing's header
 * restored: wbuf itself, or a copy in scratch (bs bytes). */
const unsigned char *ltfs_stream_view(struct ltfs_volume *v, unsigned char *scratch);
/* Write an index construct to SCSI partition part. */
int ltfs_write_index(struct ltfs_volume *v, unsigned part, const char *reason);
int ltfs_locate(struct ltfs_volume *v, unsigned part, uint64_t block);
void ltfs_mark_dirty(struct ltfs_volume *v);
void ltfs_stat_fill(const struct ltfs_node *n, struct ltfs_stat *st);
/* Free everything the volume owns (not the tape). */
void ltfs_volume_free(struct ltfs_volume *v);
/* Truncate or extend file n to len (data.c). */
int ltfs_file_set_length(struct ltfs_volume *v, struct ltfs_node *n,
			 uint64_t len);

#endif /* FUSETAPE_LTFS_INTERNAL_H */
