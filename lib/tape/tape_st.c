/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape_st.c - the tape.h contract for a drive behind the Linux st driver
 * (/dev/nstN), with read(2)/write(2) for records and the mtio ioctls for
 * everything else.
 *
 * Two modes, chosen at open by a probe (probe_native()):
 *  - Native, for drives whose position reporting is proven honest (real
 *    LTO drives should be): at BOT MTIOCPOS says 0, after one SPACE over a
 *    block it says 1, and MTSEEK lands where asked.  The drive keeps the
 *    position: locate is MTSEEK (after MTSETPART for another partition),
 *    read_position is MTIOCPOS plus st's partition (MTIOCGET mt_resid),
 *    space is MTFSR/MTBSR/MTFSF/MTBSF/MTEOM with the position read back
 *    afterwards; residues st does not pass on are found from positions or,
 *    for filemarks, by spacing one at a time in the rare failing case.
 *    Locating never reads the tape.  Partitions (up to 4 read, 2 made by
 *    MTMKPART) need st's can-partitions option, which the backend sets
 *    (root only) and st then keeps for the drive; st's scsi2logical option
 *    (logical, not device-specific, block addresses) is set the same way,
 *    and a drive on which it is neither settable nor already on stays
 *    tracked.  A blank medium has nothing to move over: it is native only
 *    if the drive's READ POSITION (SG_IO, root only) shows BOP at BOT;
 *    otherwise it is tracked, which costs nothing there because all of
 *    the session's tape is what it writes.  No programmable early warning
 *    through st.  Native mode has been run only against the simulated
 *    drive of tests/unit/test_tape_st.c, never against a real drive.
 *  - Tracked, for everything else (tgt, which the VM tests use, answers
 *    READ POSITION with zeros and has no LOCATE), described below.  The
 *    protections against st's and tgt's quirks below (phantom zeros at
 *    EOD, short buffers, early-warning refusals) apply in both modes.
 *
 * The st path promises little, so tracked mode trusts little:
 *  - Position.  Drives (tgt's emulation among them) may answer READ
 *    POSITION with zeros and refuse LOCATE, and their SPACE commands may
 *    count filemarks as blocks or land one object off when spacing back
 *    over filemarks.  So the backend never asks the drive where it is.  It
 *    rewinds at open and keeps the position itself, together with a map of
 *    the objects it has seen: the prefix [0, known) of the tape whose
 *    filemark positions are all known (and EOD, once reached).  Inside
 *    that prefix, space and locate are arithmetic; the drive is moved only
 *    when data has to flow, and then only with commands whose result does
 *    not depend on those quirks: SPACE forward over records between two
 *    known filemarks, SPACE forward over exactly one filemark, SPACE back
 *    over records with no filemark in between, and REWIND.  Beyond the
 *    prefix the backend learns the tape by reading it, which is exact on
 *    every drive (and slow on a long real tape: hence native mode).
 *  - End of data.  st may turn a BLANK CHECK into a "record" of zeros the
 *    size of the read buffer (6.1 with tgt) and leaves its own state at
 *    end of medium; such a read is recognised by st's EOD/EOT status bits
 *    and never reaches a caller.
 *  - Short buffers.  tgt returns wrong data for a variable-block read whose
 *    buffer is more than the record but less than twice it; a read that
 *    comes back in that window is repeated with a buffer of exactly the
 *    record's length.  A record longer than the buffer (st: ENOMEM, the
 *    record passed) is read again into an internal buffer of the drive's
 *    largest record, so callers get the contract of tape_read() whatever
 *    the record sizes, and a caller whose buffer fits the records (LTFS
 *    reading blocks) gets them without a copy.
 *  - Filemarks st writes by itself.  st appends a filemark when a handle
 *    that last wrote is closed, rewound or spaced back.  Before any of
 *    those the backend flushes with WRITE FILEMARKS 0, after which st
 *    writes nothing of its own.  (If the process dies right after a write,
 *    the kernel's close still appends one.)
 *  - End of medium.  A write that enters the early-warning zone succeeds
 *    with st's EOT status bit (sense EARLY_WARNING here); st then refuses
 *    the next write with ENOSPC without sending it and lets the one after
 *    through, so that refusal is simply retried.  Any other ENOSPC may or
 *    may not have stored the record (tgt at its capacity): the backend
 *    reads the tape back to see, so the caller learns the truth, written
 *    (EARLY_WARNING) or not (ENOSPC, EOM), and a write that did not land is
 *    tried once more before the backend says end of medium.  In native
 *    mode the drive's position after a flush tells whether it landed.
 * There are no MAM attributes through st, and in tracked mode no
 * partitions or formatting.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <scsi/sg.h>

#include "tape/tape_backend.h"

#define SCSI_TAPE_MAJOR_NUMBER 9
#define ST_MINOR_NOREWIND 0x80
#define SPACE_MAX 0x7FFFFF		/* SPACE(6) count field */
#define WEOF_MAX 0xFFFF			/* filemarks per WRITE FILEMARKS we issue */
#define FALLBACK_MAX_BLOCK (512u << 10)	/* when READ BLOCK LIMITS is refused */

enum object { OBJ_RECORD, OBJ_FILEMARK, OBJ_EOD, OBJ_TOO_LONG };

struct st_tape {
	struct tape t;			/* first: tape.c hands us &t */
	int fd;
	bool loaded;
	dev_t rdev;			/* the st device node's number */
	uint32_t max_block, min_block;	/* the drive's READ BLOCK LIMITS */
	uint8_t *buf;			/* caps.max_record bytes, for short caller buffers */

	uint64_t pos;			/* logical position: what the caller sees */
	uint64_t phys;			/* where the drive is, if phys_known */
	bool phys_known;
	bool writing;			/* st's last operation was a write */
	bool warned;			/* ... and it ended past early warning */

	/* The map: objects [0, known) are known; so is EOD if eod_known (== known). */
	uint64_t known;
	bool eod_known;
	uint64_t *fm;			/* sorted positions of the filemarks below known */
	size_t nfm, fmcap;

	/*
	 * Native mode (the probe at open found MTIOCPOS and MTSEEK honest):
	 * the drive keeps the position, the map above is unused.  pos and
	 * part mirror the drive while pos_valid.
	 */
	bool native;
	bool pos_valid;
	uint32_t part;			/* partition the drive is in */
	unsigned nparts;		/* partitions on the loaded medium */
};

#define ST(t) ((struct st_tape *)(t))

/* ---- the map ------------------------------------------------------------ */

/* Index of the first known filemark at or after n. */
static size_t fm_lower_bound(const struct st_tape *s, uint64_t n)
{
	size_t lo = 0, hi = s->nfm;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->fm[mid] < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool is_filemark(const struct st_tape *s, uint64_t n)
{
	size_t i = fm_lower_bound(s, n);

	return i < s->nfm && s->fm[i] == n;
}

static int fm_push(struct st_tape *s, uint64_t n)
{
	if (s->nfm == s->fmcap) {
		size_t cap = s->fmcap ? s->fmcap * 2 : 64;
		uint64_t *p = realloc(s->fm, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->fm = p;
		s->fmcap = cap;
	}
	s->fm[s->nfm++] = n;
	return 0;
}

/* Forget everything from object n on: the tape there is unknown again. */
static void forget_from(struct st_tape *s, uint64_t n)
{
	if (n > s->known)
		return;
	s->nfm = fm_lower_bound(s, n);
	s->known = n;
	s->eod_known = false;
}

/* Something was written at n: the tape ends after what was written. */
static void cut_at(struct st_tape *s, uint64_t n)
{
	s->nfm = fm_lower_bound(s, n);
	s->known = n;
	s->eod_known = true;
}

static void forget_all(struct st_tape *s)
{
	s->nfm = 0;
	s->known = 0;
	s->eod_known = false;
	s->pos = 0;
	s->phys_known = false;
}

/* ---- the drive ------------------------------------------------------------ */

/*
 * Every call that reaches the tape device goes through this table, so that
 * a unit test can put a simulated drive behind the backend (native mode
 * cannot be exercised on tgt).  Only a build with TAPE_ST_TEST_HOOKS can
 * replace it; the calls have the syscalls' contract (-1 and errno).
 */
struct st_transport {
	int (*open)(const char *path, int flags);
	int (*fstat)(int fd, struct stat *sb);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*close)(int fd);
};

static int sys_open(const char *path, int flags)
{
	return open(path, flags);
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

#ifdef TAPE_ST_TEST_HOOKS
static struct st_transport st_xport = {
#else
static const struct st_transport st_xport = {
#endif
	.open = sys_open,
	.fstat = fstat,
	.ioctl = sys_ioctl,
	.read = read,
	.write = write,
	.close = close,
};

/*
 * st takes its lock interruptibly before it touches the drive, so a call
 * that fails with EINTR did nothing and is simply repeated.
 */
static int st_ioctl(int fd, unsigned long req, void *arg)
{
	int rc;

	do
		rc = st_xport.ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR);
	return rc;
}

static ssize_t st_read_raw(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = st_xport.read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t st_write_raw(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = st_xport.write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * One mtio operation.  If st's last operation was a write, flush first with
 * WRITE FILEMARKS 0: otherwise st itself writes a filemark before REWIND
 * and backward spaces.
 */
static int mt(struct st_tape *s, short op, int count)
{
	struct mtop m = { .mt_op = op, .mt_count = count };

	if (s->writing && op != MTWEOF && op != MTNOP) {
		struct mtop flush = { .mt_op = MTWEOF, .mt_count = 0 };

		if (st_ioctl(s->fd, MTIOCTOP, &flush) < 0)
			return -errno;
		s->writing = false;
	}
	if (op != MTNOP && op != MTSETBLK && op != MTWEOF)
		s->warned = false;	/* st leaves its end-of-medium state */
	if (st_ioctl(s->fd, MTIOCTOP, &m) < 0)
		return -errno;
	if (op != MTNOP && op != MTSETBLK)
		s->writing = false;
	return 0;
}

static int mt_status(struct st_tape *s, struct mtget *g)
{
	memset(g, 0, sizeof(*g));
	return st_ioctl(s->fd, MTIOCGET, g) < 0 ? -errno : 0;
}

/* SPACE in chunks the command can carry. */
static int mt_space(struct st_tape *s, short op, uint64_t count)
{
	while (count > 0) {
		int n = count > SPACE_MAX ? SPACE_MAX : (int)count;
		int err = mt(s, op, n);

		if (err)
			return err;
		count -= (uint64_t)n;
	}
	return 0;
}

static void clear_eom_state(struct st_tape *s);

static int lost(struct st_tape *s, int err)
{
	s->phys_known = false;
	return tape_fail(&s->t, err < 0 ? err : -EIO, TAPE_SENSE_HARDWARE, 0);
}

/*
 * SPACE forward over count records (no filemark among them).  tgt answers
 * a SPACE that ends exactly at end of data with BLANK CHECK although it got
 * there.  So when the records end at the frontier of the map, a failed
 * SPACE is checked by reading: end of data there means the drive arrived
 * (and the map learns where EOD is); anything else means it is lost.
 */
static int read_object(struct st_tape *s, void *dst, size_t dstlen,
		       enum object *kind, size_t *reclen);

static int space_forward(struct st_tape *s, uint64_t count, bool at_frontier)
{
	enum object kind;
	size_t reclen;
	int err;

	err = mt_space(s, MTFSR, count);
	if (!err || !at_frontier)
		return err;
	s->phys += count;
	if (read_object(s, NULL, 0, &kind, &reclen) < 0 || kind != OBJ_EOD) {
		s->phys_known = false;
		return err;
	}
	s->phys -= count;	/* the caller moves it */
	s->eod_known = true;
	return 0;
}

/*
 * Bring the drive to object target (<= known), using only moves whose
 * outcome every drive agrees on (see the top of the file).
 */
static int move_drive(struct st_tape *s, uint64_t target)
{
	int err;

	if (!s->phys_known || target < s->phys) {
		size_t i = fm_lower_bound(s, target);
		bool fm_between = s->phys_known && i < s->nfm && s->fm[i] < s->phys;

		if (s->phys_known && !fm_between) {
			err = mt_space(s, MTBSR, s->phys - target);
			if (err)
				return lost(s, err);
			s->phys = target;
			return 0;
		}
		err = mt(s, MTREW, 0);
		if (err)
			return lost(s, err);
		s->phys = 0;
		s->phys_known = true;
	}
	while (s->phys < target) {
		size_t i = fm_lower_bound(s, s->phys);
		uint64_t stop = i < s->nfm && s->fm[i] < target ? s->fm[i] : target;

		if (stop > s->phys) {
			err = space_forward(s, stop - s->phys, stop == s->known);
			if (err)
				return lost(s, err);
			s->phys = stop;
		}
		if (s->phys < target) {	/* at a filemark: over exactly that one */
			err = mt(s, MTFSF, 1);
			if (err)
				return lost(s, err);
			s->phys++;
		}
	}
	return 0;
}

/*
 * After st has seen end of data it holds an end-of-medium state that makes
 * it refuse the next write.  SPACE 0 clears it without moving; a drive that
 * refuses even that (tgt's read-only LUs) gets a rewind before the next
 * command instead.
 */
static void clear_eom_state(struct st_tape *s)
{
	if (mt(s, MTFSR, 0) < 0)
		s->phys_known = false;
}

/*
 * Read the object the drive is at (phys_known, phys == the object).  A
 * record's first min(length, dstlen) bytes land in dst; with dstlen == 0
 * the whole record is left in s->buf.  *reclen gets its real length.
 * Moves phys past a record or filemark; leaves it at EOD.
 */
static int read_object(struct st_tape *s, void *dst, size_t dstlen,
		       enum object *kind, size_t *reclen)
{
	size_t len = s->t.caps.max_record;	/* our buffer: no record is longer */
	bool exact = false, grown = false, direct;
	struct mtget g;
	ssize_t n;
	int err;

	/*
	 * Straight into the caller's buffer when it can hold a record: the
	 * checks below make any length safe (a longer record is read again
	 * into our buffer, one in the data-loss window again exactly).
	 */
	if (dst && dstlen >= s->t.caps.min_record)
		len = dstlen < s->t.caps.max_record ? dstlen : s->t.caps.max_record;
	for (;;) {
		direct = dst && dstlen >= len;
		uint8_t *b = direct ? dst : s->buf;

		n = st_read_raw(s->fd, b, len);
		if (n < 0) {
			err = -errno;
			if (err == -ENOMEM) {
				/* The record is longer than len; st has moved past it. */
				s->phys++;
				if (grown || len >= s->t.caps.max_record) {
					*kind = OBJ_TOO_LONG;
					*reclen = 0;
					return 0;
				}
				err = mt(s, MTBSR, 1);
				if (err)
					return lost(s, err);
				s->phys--;
				len = s->t.caps.max_record;
				grown = true;
				continue;
			}
			if (mt_status(s, &g) == 0 && (g.mt_gstat & (GMT_EOD(~0) | GMT_EOT(~0)))) {
				/* st's answer at or after end of data (after MTEOM, say) */
				clear_eom_state(s);
				*kind = OBJ_EOD;
				return 0;
			}
			s->phys_known = false;
			if (err == -EIO)
				return tape_fail(&s->t, -EIO, TAPE_SENSE_MEDIUM_ERROR, 0);
			return tape_fail(&s->t, err, TAPE_SENSE_HARDWARE, 0);
		}
		err = mt_status(s, &g);
		if (err)
			return lost(s, err);
		if ((g.mt_gstat & (GMT_EOD(~0) | GMT_EOT(~0))) &&
		    (n == 0 || (size_t)n == len)) {
			/*
			 * BLANK CHECK: end of data.  What st returned, if anything,
			 * is not a record.
			 */
			clear_eom_state(s);
			*kind = OBJ_EOD;
			return 0;
		}
		if (n == 0) {
			s->phys++;
			*kind = OBJ_FILEMARK;
			return 0;
		}
		if (!exact && (size_t)n > len / 2 && (size_t)n < len) {
			/* Inside the window where tgt loses data: read it again, exactly. */
			err = mt(s, MTBSR, 1);
			if (err)
				return lost(s, err);
			len = (size_t)n;
			exact = true;
			continue;
		}
		break;
	}
	s->phys++;
	if (dst && !direct)
		memcpy(dst, s->buf, (size_t)n < dstlen ? (size_t)n : dstlen);
	*kind = OBJ_RECORD;
	*reclen = (size_t)n;
	return 0;
}

/*
 * Read the object at position p (<= known) and bring the map in line
 * with it; on success the drive is past it (or at EOD).
 */
static int read_at(struct st_tape *s, uint64_t p, void *dst, size_t dstlen,
		   enum object *kind, size_t *reclen)
{
	int err;

	err = move_drive(s, p);
	if (err)
		return err;
	err = read_object(s, dst, dstlen, kind, reclen);
	if (err)
		return err;
	if (p < s->known) {
		/* Seen before: if the tape disagrees, it changed behind our back. */
		bool was_fm = is_filemark(s, p);

		if ((*kind == OBJ_FILEMARK) != was_fm || *kind == OBJ_EOD)
			forget_from(s, p);
	}
	if (p == s->known) {
		if (*kind == OBJ_EOD) {
			s->eod_known = true;
		} else {
			if (*kind == OBJ_FILEMARK) {
				err = fm_push(s, p);
				if (err)
					return tape_fail(&s->t, err, TAPE_SENSE_HARDWARE, 0);
			}
			s->known = p + 1;
		}
	}
	return 0;
}

/* Extend the map by one object. */
static int learn_one(struct st_tape *s)
{
	enum object kind;
	size_t reclen;
	int err;

	err = read_at(s, s->known, NULL, 0, &kind, &reclen);
	if (err)
		return err;
	return 0;
}

static int not_ready(struct tape *t)
{
	return tape_fail(t, -ENOMEDIUM, TAPE_SENSE_NOT_READY, 0);
}

static bool past_early_warning(struct st_tape *s);

/* ---- native mode ---------------------------------------------------------- */

/*
 * Where the drive says it is.  MTIOCPOS is READ POSITION (logical object
 * number within the partition once st's scsi2logical option is set, see
 * probe_native()); the partition is st's own idea of it, which st reports
 * in MTIOCGET's mt_resid and keeps in step with MTSETPART/MTSEEK.
 */
static int drive_position(struct st_tape *s)
{
	struct mtpos mp = { 0 };
	struct mtget g;

	s->pos_valid = false;
	if (st_ioctl(s->fd, MTIOCPOS, &mp) < 0)
		return -errno;
	if (mp.mt_blkno < 0)
		return -EPROTO;
	s->pos = (uint64_t)mp.mt_blkno;
	s->part = 0;
	if (s->nparts > 1) {
		if (mt_status(s, &g) < 0)
			return -EIO;
		if (g.mt_resid < 0 || (unsigned long)g.mt_resid >= s->nparts)
			return -EPROTO;
		s->part = (uint32_t)g.mt_resid;
	}
	s->pos_valid = true;
	return 0;
}

/* The drive no longer says where it is: nothing can be trusted. */
static int native_lost(struct st_tape *s, int err)
{
	s->pos_valid = false;
	return tape_fail(&s->t, err < 0 ? err : -EIO, TAPE_SENSE_HARDWARE, 0);
}

static int native_known_position(struct st_tape *s)
{
	int err;

	if (s->pos_valid)
		return 0;
	err = drive_position(s);
	return err ? native_lost(s, err) : 0;
}

/* MTSEEK to block of the current partition, checked by reading it back. */
static int seek_back(struct st_tape *s, uint64_t block)
{
	int err;

	if (block > INT_MAX)
		return native_lost(s, -EOVERFLOW);
	err = mt(s, MTSEEK, (int)block);
	if (!err)
		err = drive_position(s);
	if (!err && s->pos != block)
		err = -EIO;
	return err ? native_lost(s, err) : 0;
}

/* True if st holds end-of-data state: the last command met BLANK CHECK. */
static bool at_eod_state(struct st_tape *s)
{
	struct mtget g;

	return mt_status(s, &g) == 0 && (g.mt_gstat & GMT_EOD(~0));
}

/*
 * What tape_read() answers for the object just read, in both modes: the
 * position moves past everything but end of data.
 */
static ssize_t read_result(struct st_tape *s, enum object kind, size_t reclen,
			   size_t len)
{
	struct tape *t = &s->t;

	switch (kind) {
	case OBJ_EOD:
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	case OBJ_FILEMARK:
		s->pos++;
		t->last.sense = TAPE_SENSE_FILEMARK;
		return 0;
	case OBJ_TOO_LONG:
		/* Longer than the drive's own limit: nothing of it can be read. */
		s->pos++;
		return tape_fail(t, -EOVERFLOW, TAPE_SENSE_RECORD_LENGTH, 0);
	case OBJ_RECORD:
		break;
	}
	s->pos++;
	if (reclen > len)
		return tape_fail(t, -EOVERFLOW, TAPE_SENSE_RECORD_LENGTH, reclen);
	return (ssize_t)reclen;
}

static ssize_t native_read(struct st_tape *s, void *buf, size_t len)
{
	enum object kind;
	size_t reclen;
	int err;

	err = native_known_position(s);
	if (err)
		return err;
	err = read_object(s, buf, len, &kind, &reclen);
	if (err) {
		s->pos_valid = false;
		return err;
	}
	return read_result(s, kind, reclen, len);
}

static ssize_t native_written(struct st_tape *s, size_t len, bool early_warning)
{
	s->pos++;
	s->warned = early_warning || past_early_warning(s);
	if (s->warned)
		s->t.last.sense = TAPE_SENSE_EARLY_WARNING;
	return (ssize_t)len;
}

static ssize_t native_write(struct st_tape *s, const void *buf, size_t len)
{
	struct tape *t = &s->t;
	uint64_t before;
	int err;

	err = native_known_position(s);
	if (err)
		return err;
	before = s->pos;
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;

		s->writing = true;
		n = st_write_raw(s->fd, buf, len);
		if (n >= 0 && (size_t)n == len)
			return native_written(s, len, attempt > 0);
		err = n < 0 ? -errno : -EIO;
		switch (err) {
		case -EINVAL:
			return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
		case -EACCES:
		case -EROFS:
			t->readonly = true;
			return tape_fail(t, -EROFS, TAPE_SENSE_WRITE_PROTECT, 0);
		case -ENOSPC:
			if (attempt == 0 && s->warned) {
				/* st's own refusal after early warning (see the top) */
				s->warned = false;
				continue;
			}
			/* Did the record land?  The drive's position tells. */
			err = mt(s, MTWEOF, 0);
			if (err && err != -ENOSPC)
				return native_lost(s, err);
			err = drive_position(s);
			if (err)
				return native_lost(s, err);
			if (s->pos == before + 1) {
				s->pos = before;
				return native_written(s, len, true);
			}
			if (s->pos != before)
				return native_lost(s, -EIO);
			continue;
		default:
			s->pos_valid = false;
			return tape_fail(t, err, err == -EIO ? TAPE_SENSE_MEDIUM_ERROR : TAPE_SENSE_HARDWARE, 0);
		}
	}
	return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
}

static int native_write_filemarks(struct st_tape *s, unsigned count)
{
	struct tape *t = &s->t;
	int err;

	err = native_known_position(s);
	if (err)
		return err;
	for (unsigned done = 0; done < count;) {
		unsigned k = count - done > WEOF_MAX ? WEOF_MAX : count - done;

		err = mt(s, MTWEOF, (int)k);
		if (err) {
			s->pos_valid = false;
			return tape_fail(t, err, err == -ENOSPC ? TAPE_SENSE_EOM : TAPE_SENSE_MEDIUM_ERROR,
					 count - done);
		}
		s->pos += k;
		done += k;
	}
	if (past_early_warning(s))
		t->last.sense = TAPE_SENSE_EARLY_WARNING;
	return 0;
}

static int native_locate(struct st_tape *s, uint32_t partition, uint64_t block)
{
	struct tape *t = &s->t;
	enum object kind;
	size_t reclen;
	int err, seek_err;

	if (partition >= s->nparts || block > INT_MAX)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	if (s->nparts > 1) {
		/* st moves to the new partition with the MTSEEK that follows */
		err = mt(s, MTSETPART, (int)partition);
		if (err)
			return native_lost(s, err);
	}
	seek_err = mt(s, MTSEEK, (int)block);
	err = drive_position(s);
	if (err)
		return native_lost(s, err);
	if (!seek_err) {
		if (s->pos != block || s->part != partition)
			return native_lost(s, -EIO);
		return 0;
	}
	/* A LOCATE past end of data fails and leaves the drive at EOD. */
	if (s->part != partition || s->pos >= block)
		return native_lost(s, seek_err);
	err = read_object(s, NULL, 0, &kind, &reclen);
	if (err)
		return native_lost(s, err);
	if (kind == OBJ_EOD)
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	/* Not end of data: the seek failed for another reason. */
	err = seek_back(s, s->pos);
	return err ? err : native_lost(s, seek_err);
}

/*
 * Is the object just ahead of (forward) or just behind the drive a
 * filemark?  SPACE one block over it says so: it fails after crossing a
 * filemark, succeeds over a record, and either way moves by one.  Then
 * back to where the drive was.
 */
static int filemark_next(struct st_tape *s, bool forward, bool *yes)
{
	uint64_t here = s->pos;
	int err = mt(s, forward ? MTFSR : MTBSR, 1);
	bool eod = err && at_eod_state(s);

	if (eod)
		clear_eom_state(s);
	*yes = err && !eod && drive_position(s) == 0 &&
	       s->pos == (forward ? here + 1 : here - 1);
	return seek_back(s, here);
}

/* Filemarks between the drive and the end of the partition in direction op. */
static int count_filemarks(struct st_tape *s, short op, uint64_t max, uint64_t *found)
{
	int err;

	*found = 0;
	while (*found < max) {
		err = mt(s, op, 1);
		if (err)
			break;
		(*found)++;
	}
	if (at_eod_state(s))
		clear_eom_state(s);
	err = drive_position(s);
	return err ? native_lost(s, err) : 0;
}

static int native_space(struct st_tape *s, enum tape_space_kind kind, uint64_t n, bool forward)
{
	struct tape *t = &s->t;
	uint64_t p0, moved, found;
	bool eod, fm;
	int err, space_err;

	err = drive_position(s);
	if (err)
		return native_lost(s, err);
	p0 = s->pos;
	if (kind == TAPE_SPACE_EOD) {
		space_err = mt(s, MTEOM, 0);
		clear_eom_state(s);
		err = drive_position(s);
		if (space_err || err)
			return native_lost(s, space_err ? space_err : err);
		return 0;
	}
	if (kind == TAPE_SPACE_RECORDS)
		space_err = mt_space(s, forward ? MTFSR : MTBSR, n);
	else
		space_err = mt_space(s, forward ? MTFSF : MTBSF, n);
	eod = space_err && at_eod_state(s);
	if (eod)
		clear_eom_state(s);
	err = drive_position(s);
	if (err)
		return native_lost(s, err);
	if (forward ? s->pos < p0 : s->pos > p0)
		return native_lost(s, -EIO);
	moved = forward ? s->pos - p0 : p0 - s->pos;
	if (!space_err)
		return kind == TAPE_SPACE_RECORDS && moved != n ? native_lost(s, -EIO) : 0;

	if (forward && eod) {
		if (kind == TAPE_SPACE_RECORDS)
			return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, n - moved);
		/* how many filemarks there were: count them one by one */
		uint64_t end = s->pos;

		err = seek_back(s, p0);
		if (!err)
			err = count_filemarks(s, MTFSF, n, &found);
		if (!err && s->pos != end)
			err = seek_back(s, end);
		if (err)
			return err;
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, n - found);
	}
	if (kind == TAPE_SPACE_FILEMARKS) {
		if (forward || s->pos != 0)
			return tape_fail(t, -EIO, TAPE_SENSE_MEDIUM_ERROR, 0);
		/* back at the beginning: count the filemarks passed */
		err = seek_back(s, p0);
		if (!err)
			err = count_filemarks(s, MTBSF, n, &found);
		if (!err && s->pos != 0)
			err = seek_back(s, 0);
		if (err)
			return err;
		return tape_fail(t, -EIO, TAPE_SENSE_BOT, n - found);
	}
	/* Records, stopped early: by a filemark, or backward by the beginning. */
	if (!forward && s->pos == 0 && moved == 0)
		return tape_fail(t, -EIO, TAPE_SENSE_BOT, n);
	if (moved == 0 || moved > n)
		return tape_fail(t, -EIO, TAPE_SENSE_MEDIUM_ERROR, 0);
	if (forward) {
		/* the filemark crossed is just behind the drive */
		err = filemark_next(s, false, &fm);
		if (err)
			return err;
		if (!fm)
			return tape_fail(t, -EIO, TAPE_SENSE_MEDIUM_ERROR, 0);
		return tape_fail(t, -EIO, TAPE_SENSE_FILEMARK, n - (moved - 1));
	}
	err = filemark_next(s, true, &fm);
	if (err)
		return err;
	if (fm)
		return tape_fail(t, -EIO, TAPE_SENSE_FILEMARK, n - (moved - 1));
	if (s->pos == 0)
		return tape_fail(t, -EIO, TAPE_SENSE_BOT, n - moved);
	return tape_fail(t, -EIO, TAPE_SENSE_MEDIUM_ERROR, 0);
}

static int native_rewind(struct st_tape *s)
{
	int err;

	if (s->nparts > 1)
		return native_locate(s, 0, 0);
	err = mt(s, MTREW, 0);
	if (err)
		return native_lost(s, err);
	s->pos = 0;
	s->part = 0;
	s->pos_valid = true;
	return 0;
}

/* One command with data from the drive through SG_IO (needs CAP_SYS_RAWIO). */
static int sg_read(int fd, const uint8_t *cdb, size_t cdblen, uint8_t *data, size_t len)
{
	uint8_t sense[32];
	struct sg_io_hdr h = {
		.interface_id = 'S',
		.dxfer_direction = SG_DXFER_FROM_DEV,
		.cmd_len = (unsigned char)cdblen,
		.mx_sb_len = sizeof(sense),
		.dxfer_len = (unsigned)len,
		.dxferp = data,
		.cmdp = (unsigned char *)cdb,
		.sbp = sense,
		.timeout = 60000,
	};

	memset(data, 0, len);
	if (st_ioctl(fd, SG_IO, &h) < 0)
		return -errno;
	if (h.status || h.host_status || h.driver_status)
		return -EIO;
	return 0;
}

/*
 * READ POSITION at BOT, sent by us: a drive that sets BOP there keeps a
 * real position (tgt answers zeros without BOP).  MTIOCPOS hides the flag.
 */
static bool reports_bop(struct st_tape *s)
{
	uint8_t cdb[10] = { 0x34 }, d[20];

	return sg_read(s->fd, cdb, sizeof(cdb), d, sizeof(d)) == 0 &&
	       (d[0] & 0x80) && !(d[0] & 0x04) &&
	       (d[4] | d[5] | d[6] | d[7]) == 0;
}

/*
 * Is one of st's boolean options on for this drive?  st shows them in its
 * class device's "options" attribute, as the MT_ST_* bits in hex.
 */
static bool st_option_on(dev_t dev, unsigned long bit)
{
	char path[96], val[32];
	unsigned long opts;
	ssize_t n;
	char *end;
	int fd;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/options", major(dev), minor(dev));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	if (n <= 0)
		return false;
	val[n] = '\0';
	errno = 0;
	opts = strtoul(val, &end, 0);
	return errno == 0 && end != val && (opts & bit);
}

/*
 * Decide at BOT (after the rewind of open) whether the drive can be
 * positioned natively: MTIOCPOS must say 0 here, and after one SPACE over
 * a block (moves over a record or a filemark, reads nothing, writes
 * nothing) it must say 1; MTSEEK back to 0 and forward to 1 must land
 * where asked.  A blank medium gives nothing to move over: then the
 * drive's own READ POSITION must show BOP (SG_IO, root only) and MTSEEK 0
 * must work, else the drive stays tracked (cheap on a blank tape: all of
 * its contents will be what this session writes).  Leaves the drive at BOT
 * (or returns the rewind's error).
 */
static int probe_native(struct st_tape *s, bool *native)
{
	struct mtop logical = { .mt_op = MTSETDRVBUFFER,
				.mt_count = MT_ST_SETBOOLEANS | MT_ST_SCSI2LOGICAL };
	bool ok = false, blank;
	int err;

	/*
	 * Without scsi2logical st asks for device-specific block addresses
	 * (READ POSITION and LOCATE with BT=1); logical ones are what tape.h
	 * means.  Setting the option needs CAP_SYS_ADMIN; without it the
	 * option must already be on (mt-st: stsetoptions scsi2logical).
	 */
	s->nparts = 1;
	if (st_ioctl(s->fd, MTIOCTOP, &logical) < 0 && !st_option_on(s->rdev, MT_ST_SCSI2LOGICAL))
		goto out;
	if (drive_position(s) < 0 || s->pos != 0)
		goto out;
	err = mt(s, MTFSR, 1);
	blank = err && at_eod_state(s);
	if (drive_position(s) < 0)
		goto out;
	if (s->pos == 1) {
		ok = seek_back(s, 0) == 0 && seek_back(s, 1) == 0;
	} else if (s->pos == 0 && blank) {
		clear_eom_state(s);
		ok = reports_bop(s) && seek_back(s, 0) == 0;
	}
out:
	/* whatever the probe did, tracked mode starts from BOT */
	s->pos = 0;
	s->pos_valid = false;
	*native = ok;
	return mt(s, MTREW, 0);
}

/*
 * Partitions, native mode only (positions in tracked mode are of one
 * partition).  st switches partitions only with its can-partitions
 * option, which it then keeps for the drive; MTSETPART n succeeds for the
 * partitions the medium has.  Formatting (MTMKPART: one partition, or two
 * with partition 0 sized) is offered when the drive's medium partition
 * mode page (MODE SENSE through SG_IO) allows an additional partition.
 */
static void probe_partitions(struct st_tape *s)
{
	struct mtop opt = { .mt_op = MTSETDRVBUFFER,
			    .mt_count = MT_ST_SETBOOLEANS | MT_ST_CAN_PARTITIONS };
	uint8_t cdb[6] = { 0x1A, 0x08, 0x11, 0, 255, 0 }, d[255];
	unsigned max_add = 0;
	bool page = false, switchable;

	s->nparts = 1;
	s->t.caps.max_partitions = 1;
	s->t.caps.can_format = false;
	if (sg_read(s->fd, cdb, sizeof(cdb), d, sizeof(d)) == 0) {
		size_t off = 4u + d[3];

		if (off + 4 <= sizeof(d) && (d[off] & 0x3F) == 0x11) {
			page = true;
			max_add = d[off + 2];
		}
	}
	if (page && max_add == 0)
		return;
	/*
	 * Turn the option on only for a drive whose mode page shows it can
	 * partition (st then asks the drive at every open); without the page
	 * (not root) it works only if already on.
	 */
	if (page)
		(void)st_ioctl(s->fd, MTIOCTOP, &opt);
	switchable = mt(s, MTSETPART, 0) == 0;
	if (!switchable)
		return;
	while (s->nparts < TAPE_MAX_PARTITIONS && mt(s, MTSETPART, (int)s->nparts) == 0)
		s->nparts++;
	if (mt(s, MTSETPART, 0) < 0)
		s->nparts = 1;
	s->t.caps.can_format = page && max_add >= 1;
	s->t.caps.max_partitions = s->t.caps.can_format && s->nparts < 2 ? 2 : s->nparts;
}

static int native_format(struct st_tape *s, unsigned nparts, const uint64_t *sizes)
{
	struct tape *t = &s->t;
	int count = 0, err;

	if (nparts > 2 || (nparts == 2 && (sizes[0] == 0 || sizes[1] != 0)))
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	if (nparts == 2) {
		/* MTMKPART -n: partition 0 of n MB (10^6 bytes), partition 1 the rest */
		uint64_t mb = (sizes[0] + 999999) / 1000000;

		if (mb > INT_MAX)
			return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
		count = -(int)mb;
	}
	err = mt(s, MTMKPART, count);
	s->pos_valid = false;
	if (err)
		return tape_fail(t, err, err == -EIO ? TAPE_SENSE_MEDIUM_ERROR : TAPE_SENSE_HARDWARE, 0);
	probe_partitions(s);
	if (s->nparts != nparts)
		return tape_fail(t, -EIO, TAPE_SENSE_HARDWARE, 0);
	return native_rewind(s);
}

/* ---- records and filemarks --------------------------------------------- */

static ssize_t st_read(struct tape *t, void *buf, size_t len)
{
	struct st_tape *s = ST(t);
	enum object kind;
	size_t reclen;
	int err;

	if (!s->loaded)
		return not_ready(t);
	if (s->native)
		return native_read(s, buf, len);
	if (s->eod_known && s->pos == s->known)
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	err = read_at(s, s->pos, buf, len, &kind, &reclen);
	if (err)
		return err;
	return read_result(s, kind, reclen, len);
}

static bool past_early_warning(struct st_tape *s)
{
	struct mtget g;

	return mt_status(s, &g) == 0 && (g.mt_gstat & GMT_EOT(~0));
}

/* A record of len bytes now sits at pos. */
static ssize_t written(struct st_tape *s, size_t len, bool early_warning)
{
	cut_at(s, s->pos);
	s->known = s->pos + 1;
	s->pos++;
	s->phys = s->pos;
	s->warned = early_warning || past_early_warning(s);
	if (s->warned)
		s->t.last.sense = TAPE_SENSE_EARLY_WARNING;
	return (ssize_t)len;
}

/*
 * After an ENOSPC: is the record at pos on the tape after all?  Read it
 * back from a position reached from BOT, so st's idea of the position
 * does not matter.
 */
static int landed(struct st_tape *s, const void *buf, size_t len, bool *yes)
{
	enum object kind;
	size_t reclen;
	int err;

	*yes = false;
	err = mt(s, MTWEOF, 0);
	if (err && err != -ENOSPC)
		return lost(s, err);
	forget_from(s, s->pos);
	s->phys_known = false;
	err = read_at(s, s->pos, NULL, 0, &kind, &reclen);
	if (err)
		return err;
	*yes = kind == OBJ_RECORD && reclen == len && memcmp(s->buf, buf, len) == 0;
	return 0;
}

static ssize_t st_write(struct tape *t, const void *buf, size_t len)
{
	struct st_tape *s = ST(t);
	bool yes;
	int err;

	if (!s->loaded)
		return not_ready(t);
	if (len < t->caps.min_record)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	if (s->native)
		return native_write(s, buf, len);
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;

		err = move_drive(s, s->pos);
		if (err)
			return err;
		s->writing = true;
		n = st_write_raw(s->fd, buf, len);
		if (n >= 0 && (size_t)n == len)
			return written(s, len, attempt > 0);
		err = n < 0 ? -errno : -EIO;
		switch (err) {
		case -EINVAL:
			return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
		case -EACCES:
		case -EROFS:
			t->readonly = true;
			return tape_fail(t, -EROFS, TAPE_SENSE_WRITE_PROTECT, 0);
		case -ENOSPC:
			if (attempt == 0 && s->warned) {
				/*
				 * st's own refusal of the write after the one that
				 * entered early warning: nothing went to the drive,
				 * and st lets the next attempt through.
				 */
				s->warned = false;
				continue;
			}
			err = landed(s, buf, len, &yes);
			if (err)
				return err;
			if (yes)
				return written(s, len, true);
			/* Not on tape.  st lets the write after an ENOSPC through: once more. */
			continue;
		default:
			/* The tape after pos is uncertain now: learn it again. */
			forget_from(s, s->pos);
			s->phys_known = false;
			return tape_fail(t, err, err == -EIO ? TAPE_SENSE_MEDIUM_ERROR : TAPE_SENSE_HARDWARE, 0);
		}
	}
	/* Nothing was written: the tape at pos is as it was read in landed(). */
	return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
}

static int st_write_filemarks(struct tape *t, unsigned count)
{
	struct st_tape *s = ST(t);
	int err;

	if (!s->loaded)
		return not_ready(t);
	if (count == 0) {
		/* A flush does not move the drive or cut the tape. */
		err = mt(s, MTWEOF, 0);
		if (err)
			return tape_fail(t, err, TAPE_SENSE_MEDIUM_ERROR, 0);
		return 0;
	}
	if (s->native)
		return native_write_filemarks(s, count);
	err = move_drive(s, s->pos);
	if (err)
		return err;
	cut_at(s, s->pos);
	for (unsigned done = 0; done < count;) {
		unsigned k = count - done > WEOF_MAX ? WEOF_MAX : count - done;

		err = mt(s, MTWEOF, (int)k);
		if (err) {
			forget_from(s, s->pos);
			s->phys_known = false;
			if (err == -ENOSPC)
				return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, count - done);
			return tape_fail(t, err, TAPE_SENSE_MEDIUM_ERROR, count - done);
		}
		for (unsigned i = 0; i < k; i++) {
			err = fm_push(s, s->pos);
			if (err) {
				forget_from(s, 0);
				return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
			}
			s->pos++;
		}
		s->known = s->pos;
		s->phys = s->pos;
		done += k;
	}
	if (past_early_warning(s))
		t->last.sense = TAPE_SENSE_EARLY_WARNING;
	return 0;
}

/* ---- positioning ------------------------------------------------------- */

static int st_locate(struct tape *t, uint32_t partition, uint64_t block)
{
	struct st_tape *s = ST(t);
	int err;

	if (!s->loaded)
		return not_ready(t);
	if (s->native)
		return native_locate(s, partition, block);
	if (partition != 0)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	while (s->known < block && !s->eod_known) {
		err = learn_one(s);
		if (err)
			return err;
	}
	if (block > s->known) {
		s->pos = s->known;
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	}
	s->pos = block;
	return 0;
}

static int st_read_position(struct tape *t, struct tape_position *pos)
{
	struct st_tape *s = ST(t);

	int err;

	if (!s->loaded)
		return not_ready(t);
	if (s->native) {
		err = drive_position(s);
		if (err)
			return native_lost(s, err);
		pos->partition = s->part;
		pos->block = s->pos;
		return 0;
	}
	pos->partition = 0;
	pos->block = s->pos;
	return 0;
}

/* The first known filemark at or after p, learning the tape as needed. */
static int next_stop(struct st_tape *s, uint64_t p, uint64_t count, size_t *i)
{
	int err;

	for (;;) {
		*i = fm_lower_bound(s, p);
		if (*i < s->nfm || s->eod_known || s->known >= p + count)
			return 0;
		err = learn_one(s);
		if (err)
			return err;
	}
}

static int space_records(struct st_tape *s, uint64_t count, bool forward)
{
	struct tape *t = &s->t;
	uint64_t p = s->pos;
	size_t i;
	int err;

	if (forward) {
		uint64_t stop;

		err = next_stop(s, p, count, &i);
		if (err)
			return err;
		stop = i < s->nfm ? s->fm[i] : s->known;
		if (count <= stop - p) {
			s->pos = p + count;
			return 0;
		}
		if (i < s->nfm) {
			s->pos = stop + 1;
			return tape_fail(t, -EIO, TAPE_SENSE_FILEMARK, count - (stop - p));
		}
		s->pos = s->known;	/* EOD */
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, count - (stop - p));
	}
	/* Backward: everything behind pos is known. */
	i = fm_lower_bound(s, p);
	uint64_t first = i > 0 ? s->fm[i - 1] + 1 : 0;

	if (count <= p - first) {
		s->pos = p - count;
		return 0;
	}
	if (i > 0) {
		s->pos = s->fm[i - 1];	/* on the BOT side of the filemark */
		return tape_fail(t, -EIO, TAPE_SENSE_FILEMARK, count - (p - first));
	}
	s->pos = 0;
	return tape_fail(t, -EIO, TAPE_SENSE_BOT, count - p);
}

static int space_filemarks(struct st_tape *s, uint64_t count, bool forward)
{
	struct tape *t = &s->t;
	size_t i = fm_lower_bound(s, s->pos);
	int err;

	if (forward) {
		while (s->nfm - i < count && !s->eod_known) {
			err = learn_one(s);
			if (err)
				return err;
		}
		uint64_t avail = s->nfm - i;

		if (count <= avail) {
			s->pos = s->fm[i + count - 1] + 1;
			return 0;
		}
		s->pos = s->known;
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, count - avail);
	}
	if (count <= i) {
		s->pos = s->fm[i - count];
		return 0;
	}
	s->pos = 0;
	return tape_fail(t, -EIO, TAPE_SENSE_BOT, count - i);
}

static int st_space(struct tape *t, enum tape_space_kind kind, int64_t count)
{
	struct st_tape *s = ST(t);
	bool forward = count > 0;
	uint64_t n = forward ? (uint64_t)count : -(uint64_t)count;
	int err;

	if (!s->loaded)
		return not_ready(t);
	if (s->native && (kind == TAPE_SPACE_EOD || count != 0))
		return native_space(s, kind, n, forward);
	if (kind == TAPE_SPACE_EOD) {
		while (!s->eod_known) {
			err = learn_one(s);
			if (err)
				return err;
		}
		s->pos = s->known;
		return 0;
	}
	if (count == 0)
		return 0;
	if (kind == TAPE_SPACE_RECORDS)
		return space_records(s, n, forward);
	return space_filemarks(s, n, forward);
}

static int st_rewind(struct tape *t)
{
	struct st_tape *s = ST(t);

	if (!s->loaded)
		return not_ready(t);
	if (s->native)
		return native_rewind(s);
	s->pos = 0;		/* the drive follows when data next flows */
	return 0;
}

static int st_load(struct tape *t)
{
	struct st_tape *s = ST(t);
	int err;

	err = mt(s, MTLOAD, 1);
	if (err)
		return tape_fail(t, err, err == -ENOMEDIUM ? TAPE_SENSE_NOT_READY : TAPE_SENSE_HARDWARE, 0);
	forget_all(s);		/* maybe another medium */
	s->loaded = true;
	if (s->native) {
		s->pos_valid = false;
		probe_partitions(s);	/* the drive stays native; the medium may differ */
	}
	return 0;
}

static int st_unload(struct tape *t)
{
	struct st_tape *s = ST(t);
	int err;

	err = mt(s, MTUNLOAD, 0);
	if (err)
		return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
	forget_all(s);
	s->loaded = false;
	return 0;
}

static int st_medium_info(struct tape *t, struct tape_medium *m)
{
	struct st_tape *s = ST(t);
	struct mtget g;
	int err;

	if (!s->loaded)
		return not_ready(t);
	err = mt_status(s, &g);
	if (err)
		return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
	m->partitions = s->native ? s->nparts : 1;
	m->write_protected = t->readonly || (g.mt_gstat & GMT_WR_PROT(~0));
	/* st does not tell capacity: 0 means unknown. */
	return 0;
}

static int st_close(struct tape *t)
{
	struct st_tape *s = ST(t);
	int err = 0;

	if (s->writing)
		err = mt(s, MTWEOF, 0);
	if (st_xport.close(s->fd) < 0 && !err)
		err = -errno;
	free(s->fm);
	free(s->buf);
	free(s);
	return err;
}

static int st_format(struct tape *t, unsigned nparts, const uint64_t *sizes)
{
	struct st_tape *s = ST(t);

	if (!s->loaded)
		return not_ready(t);
	if (!s->native)		/* tape.c only calls with caps.can_format */
		return tape_fail(t, -EOPNOTSUPP, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	return native_format(s, nparts, sizes);
}

static const struct tape_ops st_ops = {
	.name = "st",
	.close = st_close,
	.read = st_read,
	.write = st_write,
	.write_filemarks = st_write_filemarks,
	.locate = st_locate,
	.read_position = st_read_position,
	.space = st_space,
	.rewind = st_rewind,
	.load = st_load,
	.unload = st_unload,
	.medium_info = st_medium_info,
	.format = st_format,
};

/* ---- opening ------------------------------------------------------------ */

/* One sysfs attribute of the SCSI device behind the tape, trimmed. */
static void sysfs_attr(dev_t dev, const char *name, char *out, size_t outlen)
{
	char path[128], val[128];
	ssize_t n;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/%s",
		 major(dev), minor(dev), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	if (n <= 0)
		return;
	val[n] = '\0';
	while (n > 0 && (val[n - 1] == '\n' || val[n - 1] == ' ' || val[n - 1] == '\0'))
		val[--n] = '\0';
	if ((size_t)n >= outlen)
		n = (ssize_t)outlen - 1;
	memcpy(out, val, (size_t)n);
	out[n] = '\0';
}

/* The unit serial number page (VPD 80h) as the kernel cached it. */
static void sysfs_serial(dev_t dev, char *out, size_t outlen)
{
	char path[128];
	uint8_t page[64];
	ssize_t n;
	size_t len, start = 4;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/vpd_pg80",
		 major(dev), minor(dev));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, page, sizeof(page));
	close(fd);
	if (n < 4 || page[1] != 0x80)
		return;
	len = (size_t)page[2] << 8 | page[3];
	if (len > (size_t)n - 4)
		len = (size_t)n - 4;
	while (len > 0 && page[start] == ' ') {
		start++;
		len--;
	}
	while (len > 0 && (page[start + len - 1] == ' ' || page[start + len - 1] == '\0'))
		len--;
	if (len >= outlen)
		len = outlen - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = page[start + i] >= 0x20 && page[start + i] < 0x7f ? (char)page[start + i] : '?';
	out[len] = '\0';
}

/* READ BLOCK LIMITS through SG_IO (needs CAP_SYS_RAWIO). */
static int read_block_limits(int fd, uint32_t *max, uint32_t *min)
{
	uint8_t cdb[6] = { 0x05 }, data[6] = { 0 }, sense[32];
	struct sg_io_hdr h = {
		.interface_id = 'S',
		.dxfer_direction = SG_DXFER_FROM_DEV,
		.cmd_len = sizeof(cdb),
		.mx_sb_len = sizeof(sense),
		.dxfer_len = sizeof(data),
		.dxferp = data,
		.cmdp = cdb,
		.sbp = sense,
		.timeout = 30000,
	};

	if (st_ioctl(fd, SG_IO, &h) < 0)
		return -errno;
	if (h.status || h.host_status || h.driver_status)
		return -EIO;
	*max = (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
	*min = (uint32_t)data[4] << 8 | data[5];
	return 0;
}

int tape_st_open(const char *path, unsigned flags, struct tape **out,
		 char *errbuf, size_t errlen)
{
	bool readonly = flags & TAPE_OPEN_READONLY;
	struct st_tape *s;
	struct stat sb;
	struct mtget g;
	uint32_t max_record;
	int fd, err;

	*out = NULL;
	fd = st_xport.open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 && !readonly && (errno == EROFS || errno == EACCES)) {
		/* write-protected medium (or a read-only device node) */
		fd = st_xport.open(path, O_RDONLY | O_CLOEXEC);
		readonly = true;
	}
	if (fd < 0) {
		err = -errno;
		if (err == -ENOMEDIUM || err == -EIO)
			tape_set_err(errbuf, errlen, "%s: %s (is a tape loaded?)", path, strerror(-err));
		else if (err == -EBUSY)
			tape_set_err(errbuf, errlen, "%s: in use by another program", path);
		else
			tape_set_err(errbuf, errlen, "%s: %s", path, strerror(-err));
		return err;
	}
	if (st_xport.fstat(fd, &sb) < 0 || !S_ISCHR(sb.st_mode) ||
	    major(sb.st_rdev) != SCSI_TAPE_MAJOR_NUMBER || st_ioctl(fd, MTIOCGET, &g) < 0) {
		tape_set_err(errbuf, errlen, "%s: not a SCSI tape device of the st driver", path);
		st_xport.close(fd);
		return -ENOTTY;
	}
	if (!(minor(sb.st_rdev) & ST_MINOR_NOREWIND)) {
		tape_set_err(errbuf, errlen,
			"%s: rewinding device; use the non-rewinding one (/dev/nstN), which keeps its position when closed",
			path);
		st_xport.close(fd);
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		st_xport.close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->rdev = sb.st_rdev;
	s->t.ops = &st_ops;
	s->t.readonly = readonly || (g.mt_gstat & GMT_WR_PROT(~0));

	err = mt(s, MTSETBLK, 0);
	if (err) {
		tape_set_err(errbuf, errlen, "%s: cannot switch the drive to variable-block mode: %s",
			path, strerror(-err));
		goto fail;
	}
	if (read_block_limits(fd, &s->max_block, &s->min_block) < 0 || s->max_block == 0) {
		/* Not root: st allows SG_IO only with CAP_SYS_RAWIO.  Stay modest. */
		s->max_block = FALLBACK_MAX_BLOCK;
		s->min_block = 1;
	}
	if (s->min_block == 0)
		s->min_block = 1;
	max_record = s->max_block < TAPE_RECORD_MAX_SUPPORTED ? s->max_block : TAPE_RECORD_MAX_SUPPORTED;
	if (max_record < s->min_block) {
		tape_set_err(errbuf, errlen, "%s: drive reports block limits %u..%u", path,
			s->min_block, s->max_block);
		err = -EPROTO;
		goto fail;
	}
	if (posix_memalign((void **)&s->buf, 4096, max_record)) {
		err = -ENOMEM;
		goto fail;
	}
	s->t.caps = (struct tape_caps){
		.max_record = max_record,
		.min_record = s->min_block,
		.max_partitions = 1,
	};
	sysfs_attr(sb.st_rdev, "vendor", s->t.identity.vendor, sizeof(s->t.identity.vendor));
	sysfs_attr(sb.st_rdev, "model", s->t.identity.product, sizeof(s->t.identity.product));
	sysfs_attr(sb.st_rdev, "rev", s->t.identity.revision, sizeof(s->t.identity.revision));
	sysfs_serial(sb.st_rdev, s->t.identity.serial, sizeof(s->t.identity.serial));

	/* Where the drive is nobody can tell us: start from BOT. */
	err = mt(s, MTREW, 0);
	if (err) {
		tape_set_err(errbuf, errlen, "%s: rewind failed: %s", path, strerror(-err));
		goto fail;
	}
	err = probe_native(s, &s->native);
	if (err) {
		tape_set_err(errbuf, errlen, "%s: rewind failed: %s", path, strerror(-err));
		goto fail;
	}
	if (s->native) {
		s->t.caps.can_locate = true;
		s->t.caps.can_read_position = true;
		probe_partitions(s);
	}
	s->nparts = s->native ? s->nparts : 1;
	s->phys = 0;
	s->phys_known = true;
	s->loaded = true;
	memset(&s->t.last, 0, sizeof(s->t.last));
	*out = &s->t;
	return 0;

fail:
	st_xport.close(fd);
	free(s->buf);
	free(s);
	return err;
}
