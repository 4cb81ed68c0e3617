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

/*
 * Zero-copy write: one record of len bytes (same rules and results as
 * tape_write()) whose data is the next len bytes of the pipe pipe_fd.
 *  - On success exactly len bytes have been taken from the pipe.
 *  - On failure an unknown part of them may have been taken: the caller
 *    must throw the rest of the pipe away (nothing of it is on tape).
 *  - A pipe that runs dry before len bytes: -EIO, sense ILLEGAL_REQUEST,
 *    nothing written.
 * Backends that can move pipe pages to the medium without copying them
 * through user memory (tape_splice_native() true: the image backend
 * splices into the image file) do so; the others read the pipe into a
 * buffer and write that, which works the same but copies.
 */
ssize_t tape_write_splice(struct tape *t, int pipe_fd, size_t len);
/* True if tape_write_splice() moves the data without a copy in user space. */
bool tape_splice_native(const struct tape *t);

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
