/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape.h - the model of a tape drive that everything in fusetape stands on.
 *
 * A "tape" here is an SSC (SCSI Stream Commands) drive with a loaded medium,
 * reduced to what a filesystem needs: variable-length records, filemarks,
 * end of data, partitions, positioning, early warning / end of medium, write
 * protection and medium auxiliary memory (MAM) attributes.
 *
 * Backends: a virtual tape image in a regular file (tape_image.c), a drive
 * through the Linux st driver (tape_st.c) and a drive through tapedma.ko
 * (tape_tapedma.c).  All of them honour the same contract, written down
 * below function by function; the unit tests hold the image backend to it.
 *
 * Conventions
 *  - Every call returns 0 (or a byte count) on success and a negative errno
 *    on failure.  After every call tape_last(t) describes what the drive
 *    reported, the way sense data would: TAPE_SENSE_NONE on a clean success,
 *    otherwise the condition (filemark crossed, end of data, early warning,
 *    illegal request, ...) and, where it applies, a residual.
 *  - Positions are logical object numbers within a partition: records and
 *    filemarks each occupy one number, counting from 0 at the beginning of
 *    the partition.  End of data (EOD) is the first unused number.
 *  - Writing (a record or filemarks) at position N makes N+1 the new EOD of
 *    that partition: everything that was at N and beyond is gone, as on a
 *    real drive.
 *  - A tape handle is not thread-safe; callers serialise access.
 */
#ifndef FUSETAPE_TAPE_H
#define FUSETAPE_TAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TAPE_MAX_PARTITIONS 4
/* The largest record any backend is asked to support (image: TAPE_IMAGE_MAX_RECORD). */
#define TAPE_RECORD_MAX_SUPPORTED (16u << 20)
/* Largest MAM attribute value we handle (SSC allows more; LTFS needs < 200). */
#define TAPE_ATTR_MAX_VALUE 1024

struct tape;

/* What the drive said about the last operation, like SCSI sense data. */
enum tape_sense {
	TAPE_SENSE_NONE = 0,
	TAPE_SENSE_FILEMARK,		/* a read or space crossed a filemark */
	TAPE_SENSE_EOD,			/* end of data reached (BLANK CHECK) */
	TAPE_SENSE_BOT,			/* beginning of partition reached while spacing back */
	TAPE_SENSE_EARLY_WARNING,	/* write succeeded, but past the early-warning point */
	TAPE_SENSE_EOM,			/* end of medium: nothing was written */
	TAPE_SENSE_RECORD_LENGTH,	/* record longer than the buffer (ILI) */
	TAPE_SENSE_WRITE_PROTECT,	/* medium or handle is read-only */
	TAPE_SENSE_ILLEGAL_REQUEST,	/* bad argument or unsupported command */
	TAPE_SENSE_MEDIUM_ERROR,	/* unreadable/corrupt data on the medium */
	TAPE_SENSE_NOT_READY,		/* no medium / not loaded */
	TAPE_SENSE_UNIT_ATTENTION,	/* medium changed or drive reset */
	TAPE_SENSE_HARDWARE,		/* transport or drive failure */
};

struct tape_status {
	enum tape_sense sense;
	/*
	 * Meaning depends on the call: for a record-length condition the
	 * length of the record on tape; for an incomplete space the number of
	 * objects not spaced over.  0 otherwise.
	 */
	uint64_t residual;
	/* Raw SCSI sense key / ASC / ASCQ where the backend has them, else 0. */
	uint8_t sense_key, asc, ascq;
};

struct tape_position {
	uint32_t partition;
	uint64_t block;		/* logical object number */
};

struct tape_identity {
	char vendor[9];		/* NUL-terminated, trailing blanks removed */
	char product[17];
	char revision[5];
	char serial[33];
};

/* What this drive (and its backend) can do. */
struct tape_caps {
	uint32_t max_record;	/* largest record it reads and writes, bytes */
	uint32_t min_record;	/* smallest, bytes (1 for variable-block drives) */
	unsigned max_partitions;	/* 1 if the medium cannot be partitioned */
	bool can_locate;	/* LOCATE works; otherwise positioning is emulated by SPACE */
	bool can_read_position;	/* READ POSITION reports real positions */
	bool has_mam;		/* READ/WRITE ATTRIBUTE work */
	bool can_format;	/* FORMAT MEDIUM / partitioning works */
	bool can_set_early_warning;	/* programmable early warning */
};

/* Partition layout and space of the loaded medium. */
struct tape_medium {
	unsigned partitions;
	bool write_protected;
	uint64_t capacity[TAPE_MAX_PARTITIONS];	/* bytes of record data a partition holds */
	uint64_t remaining[TAPE_MAX_PARTITIONS];	/* bytes still writable after its EOD */
	uint64_t early_warning;	/* bytes before the end of a partition at which writes warn */
};

enum tape_space_kind {
	TAPE_SPACE_RECORDS,	/* count records; stops after crossing a filemark */
	TAPE_SPACE_FILEMARKS,	/* count filemarks */
	TAPE_SPACE_EOD,		/* to end of data of the current partition; count ignored */
};

/* MAM attribute formats (SSC READ ATTRIBUTE). */
enum tape_attr_format {
	TAPE_ATTR_BINARY = 0,
	TAPE_ATTR_ASCII = 1,
	TAPE_ATTR_TEXT = 2,
};

/* MAM attribute ids LTFS uses. */
enum {
	TAPE_ATTR_VOLUME_CHANGE_REFERENCE = 0x0009,
	TAPE_ATTR_APPLICATION_VENDOR = 0x0800,
	TAPE_ATTR_APPLICATION_NAME = 0x0801,
	TAPE_ATTR_APPLICATION_VERSION = 0x0802,
	TAPE_ATTR_USER_MEDIUM_TEXT_LABEL = 0x0803,
	TAPE_ATTR_TEXT_LOCALIZATION_ID = 0x0805,
	TAPE_ATTR_BARCODE = 0x0806,
	TAPE_ATTR_MEDIA_POOL = 0x0808,
	TAPE_ATTR_APPLICATION_FORMAT_VERSION = 0x080B,
	TAPE_ATTR_VOLUME_COHERENCY_INFO = 0x080C,
};

struct tape_attr {
	uint16_t id;
	uint8_t format;		/* enum tape_attr_format */
	uint16_t length;	/* bytes used in value[] */
	uint8_t value[TAPE_ATTR_MAX_VALUE];
};

/* ---- opening ---------------------------------------------------------- */

enum {
	TAPE_OPEN_READONLY = 1 << 0,	/* never write, even if the medium allows it */
};

/*
 * Open the tape device at path.  The backend is chosen from what path is:
 * a regular file is a virtual tape image, a character device is either a
 * tapedma device (/dev/tapedmaN) or an st device (use the non-rewinding
 * /dev/nstN).  On failure *out is NULL and the error is negative errno;
 * if errbuf is not NULL a one-line human explanation is written there
 * (e.g. "not a fusetape image: bad magic").
 */
int tape_open(const char *path, unsigned flags, struct tape **out,
	      char *errbuf, size_t errlen);
/* Close and free; flushes anything the backend buffered.  NULL is a no-op. */
int tape_close(struct tape *t);

/* Name of the backend ("image", "st", "tapedma"), for messages. */
const char *tape_backend_name(const struct tape *t);
const struct tape_identity *tape_identity(const struct tape *t);
const struct tape_caps *tape_caps(const struct tape *t);
/* Detail of the last call (see enum tape_sense). */
const struct tape_status *tape_last(const struct tape *t);
/* Human text for a sense value, for messages. */
const char *tape_sense_name(enum tape_sense sense);

/* ---- records and filemarks --------------------------------------------- */

/*
 * Read the record at the current position into buf (capacity len).
 *  - Returns the record length (>= 1) and moves past the record.
 *  - At a filemark: returns 0, sense FILEMARK, moves past the filemark.
 *  - At end of data: returns -ENODATA, sense EOD, position unchanged.
 *  - Record longer than len: the first len bytes are stored, the position
 *    moves past the record, returns -EOVERFLOW with sense RECORD_LENGTH and
 *    residual = the record's real length.
 *  - Damaged record data: -EIO, sense MEDIUM_ERROR.
 */
ssize_t tape_read(struct tape *t, void *buf, size_t len);

/*
 * Write one record of len bytes (1 .. caps.max_record) at the current
 * position; that position + 1 becomes the partition's EOD.
 *  - Returns len.  If the record ends past the early-warning point the
 *    record is still written and sense is EARLY_WARNING.
 *  - If it does not fit before the end of the partition: -ENOSPC, sense
 *    EOM, nothing written, position and EOD unchanged.
 *  - Read-only medium or handle: -EROFS, sense WRITE_PROTECT.
 *  - len 0 or > max_record: -EINVAL, sense ILLEGAL_REQUEST.
 * Once this returns, the record survives the death of the calling process.
 * It is on stable storage after the next tape_flush()/tape_write_filemarks().
 */
ssize_t tape_write(struct tape *t, const void *buf, size_t len);

/* ---- write-behind: several records in flight ---------------------------
 *
 * A drive streams only while records keep arriving.  A writer that waits
 * for every record to reach the medium before it produces the next one
 * makes the drive (or the disk under an image) idle half of the time.
 * Queued writes let records be in flight the way a drive's buffer holds
 * them, from memory registered once so that the backend can use
 * fixed-buffer I/O (io_uring registered buffers on an O_DIRECT image,
 * uring_cmd with fixed buffers on tapedma) without copying.
 *
 * Queued records are numbered 1, 2, 3, ... in the order they are queued,
 * for the life of the handle.  A record is "retired" when the backend is
 * done with its memory and the record is written (as tape_write() would
 * have left it); records retire in order.
 *
 * Every other call on the handle (tape_write, tape_read, locate, position,
 * space, filemarks/flush, format, MAM, close) first waits until all queued
 * records are retired, so the rest of the API sees a tape exactly as if
 * each record had been written by tape_write().
 */

/*
 * The memory [base, base + len) (base and len multiples of 4096) will hold
 * the records given to tape_write_queued(); the backend may register it
 * for fixed-buffer I/O.  It must stay mapped until tape_close() or
 * tape_register_arena(t, NULL, 0).  Returns 0 when the backend will write
 * from it asynchronously, -EOPNOTSUPP when the backend has no asynchronous
 * path (queued writes then are synchronous, and still correct), or another
 * negative errno if the backend could not set up its asynchronous path at
 * all (e.g. io_uring disabled, a read-only handle: -EROFS); queued writes
 * are then synchronous too.  A backend that cannot register the memory
 * for fixed-buffer I/O (RLIMIT_MEMLOCK, ENOMEM) but can still write from
 * it asynchronously returns 0: registration is an optimisation, not a
 * condition.  Registering again replaces the arena (after draining).
 * Registered pages belong to the process that registered them: after a
 * fork() (daemonizing), the writing process registers the arena again
 * (tape_register_arena(t, NULL, 0), then the arena) before queueing.
 */
int tape_register_arena(struct tape *t, void *base, size_t len);
/* True if queued writes can be in flight (tape_register_arena() returned 0). */
bool tape_queue_async(const struct tape *t);

/*
 * Queue one record: the same rules as tape_write() (1 .. max_record bytes
 * at the current position, which moves past it at once; what followed is
 * truncated), but the backend may still be reading buf when this returns.
 * buf must lie in the registered arena (when one is registered) and must
 * not change until the record is retired.
 *  - Returns len and, in *seq, the record's number.
 *  - What the backend can tell now it reports now, exactly as tape_write():
 *    -ENOSPC/EOM, -EROFS, -EINVAL leave nothing queued; EARLY_WARNING in
 *    tape_last() if known now.  A backend that learns of early warning
 *    only when the record completes reports it in tape_queue_state.
 *  - After a deferred error (below) every write on the handle fails with
 *    that error and sense, and nothing is queued.
 */
ssize_t tape_write_queued(struct tape *t, const void *buf, size_t len,
			  uint64_t *seq);

struct tape_queue_state {
	uint64_t queued;	/* numbers handed out so far */
	uint64_t retired;	/* records 1 .. retired are retired */
	bool early_warning;	/* a retired record ended past early warning */
	/*
	 * The first deferred error (negative errno, 0 if none): record
	 * error_seq failed, and neither it nor any later queued record is on
	 * the medium.  The position after it is what the backend says (read
	 * it with tape_read_position()).  Sticky for the life of the handle.
	 */
	int error;
	uint64_t error_seq;
	enum tape_sense error_sense;
};

/*
 * Collect finished records without blocking (wait_for 0), or block until
 * record wait_for is retired or a deferred error stops the queue.  Fills
 * *st (if not NULL).  Returns 0, or the deferred error.
 */
int tape_queue_reap(struct tape *t, uint64_t wait_for,
		    struct tape_queue_state *st);

/*
 * Write count filemarks at the current position (same truncation rule as
 * tape_write).  Afterwards everything written so far is on stable storage
 * (count 0 only flushes, like WRITE FILEMARKS with count 0).
 */
int tape_write_filemarks(struct tape *t, unsigned count);
/* Make everything written so far durable (== tape_write_filemarks(t, 0)). */
int tape_flush(struct tape *t);

/* ---- positioning ------------------------------------------------------- */

/*
 * Move to logical object `block` of `partition`.  A block past EOD leaves
 * the tape at EOD and returns -ENODATA with sense EOD.  A partition that
 * does not exist gives -EINVAL, sense ILLEGAL_REQUEST.
 */
int tape_locate(struct tape *t, uint32_t partition, uint64_t block);
int tape_read_position(struct tape *t, struct tape_position *pos);

/*
 * Space count objects (negative: backwards) in the current partition.
 *  - RECORDS forward stops just past a filemark, backward just before one:
 *    -EIO, sense FILEMARK, residual = records not spaced.
 *  - FILEMARKS stops past (forward) or before (backward) the count-th
 *    filemark.
 *  - Forward over end of data: position EOD, -ENODATA, sense EOD, residual.
 *  - Backward over the beginning: position 0, -EIO, sense BOT, residual.
 *  - EOD: moves to end of data; count ignored.
 */
int tape_space(struct tape *t, enum tape_space_kind kind, int64_t count);
int tape_rewind(struct tape *t);	/* to block 0 of partition 0 */
int tape_load(struct tape *t);
int tape_unload(struct tape *t);

/* ---- medium ------------------------------------------------------------ */

int tape_medium_info(struct tape *t, struct tape_medium *m);

/*
 * Re-partition the medium into nparts partitions (1 .. caps.max_partitions).
 * sizes[i] is the capacity of partition i in bytes; sizes[nparts-1] == 0
 * means "the rest".  All data on the medium is erased; MAM attributes are
 * kept.  The tape is left at block 0 of partition 0.
 */
int tape_format(struct tape *t, unsigned nparts, const uint64_t *sizes);

/*
 * Set the early-warning distance: writes whose record ends within `bytes`
 * of a partition's end succeed with sense EARLY_WARNING.
 */
int tape_set_early_warning(struct tape *t, uint64_t bytes);

/*
 * Read/write one MAM attribute of a partition.  A missing attribute gives
 * -ENOENT (sense ILLEGAL_REQUEST); a medium without MAM gives -EOPNOTSUPP.
 * Writing needs a writable medium.
 */
int tape_get_attr(struct tape *t, uint32_t partition, uint16_t id,
		  struct tape_attr *attr);
int tape_set_attr(struct tape *t, uint32_t partition,
		  const struct tape_attr *attr);

#endif /* FUSETAPE_TAPE_H */
