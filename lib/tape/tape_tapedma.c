// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tape_tapedma.c - tape.h over SSC commands sent through tapedma.ko.
 *
 * Every operation is one or more SSC commands (built and decoded by ssc.c)
 * run with TAPEDMA_IOC_CMD, which maps the data buffer zero-copy.  The same
 * code also runs over the SCSI generic driver (SG_IO on /dev/sgN) when
 * tape_tapedma_open() is given an sg device: that is how the backend is
 * tested where the module is not loaded, and a fallback nobody has to use.
 *
 * What the drive can do is probed at open, and what it cannot do is
 * emulated:
 *  - LOCATE and READ POSITION: a drive that lacks either (tgt has neither:
 *    LOCATE is an invalid opcode and READ POSITION always says block 0 and
 *    never sets BOP) is run in "tracked" mode: the backend knows the
 *    position itself (the tape is rewound at open), counts every object a
 *    command moves over, and positions by SPACE over blocks.
 *  - The filemark map: in tracked mode, SPACE over filemarks or records
 *    must know where the filemarks are (tgt's SPACE by blocks does not stop
 *    at filemarks, and backward SPACE over filemarks lands one object too
 *    far).  The backend keeps, per session, the exact layout of a prefix
 *    [0, map_end) of the partition: which objects in it are filemarks.  It
 *    learns from writes (which also truncate it), reads, and scans.  When
 *    an operation needs to know objects beyond map_end, the tape is moved
 *    to map_end and scanned forward with READs of a few bytes (the record
 *    data is not transferred, a filemark or end of data is reported), which
 *    extends the map; positions are then reached with SPACE by the exact
 *    number of objects.
 *  - End of data: known after a write, a read or a scan that met it.
 *    Otherwise it is found by probing: "does SPACE n objects from BOT hit
 *    end of data" is monotonic in n, so an exponential then binary search
 *    finds it in O(log n) rewinds.  Drives that report the residue of an
 *    interrupted SPACE (SSC does, tgt does not) give it in one command.
 *  - SPACE refused (tgt refuses it on a read-only LU): tracked positions
 *    are then reached by reading forward (after a rewind to go back).
 *  - Partitions: a drive without the medium partition mode page has one.
 *  - MAM: READ ATTRIBUTE answered with "invalid opcode" means no MAM.
 *
 * Read strategy (tgt's variable-block READ returns only L-B bytes of a
 * B-byte record when the allocation L is between B and 2B): a READ goes
 * straight into the caller's buffer when tapedma.ko can map it, with
 * L = the buffer's length, but never more than read_len = min(2 *
 * max_record, max transfer).  The first short record that falls into the
 * danger zone is read again, twice, into buffers filled with different
 * bytes, and compared with a safe read (L >= 2B): a drive that passes
 * keeps reading zero-copy into any buffer; a drive that fails (tgt) reads
 * into the caller's buffer only if it holds read_len bytes, and otherwise
 * into an internal buffer of read_len bytes that is copied out.  A record
 * that still falls into the zone (only records beyond max_record, which
 * tgt accepts but does not advertise), or one longer than the allocation
 * (tgt transfers nothing then), is read again after spacing back one
 * block, with room for twice its now known length.
 *
 * Write-behind (tape_register_arena / tape_write_queued): records from the
 * registered arena go out as uring_cmd WRITEs with fixed buffers, sent as
 * IOSQE_IO_LINK chains so that they reach the drive in order; see the
 * section "write-behind" below.  Over SG_IO, the simulated test drive, or
 * a kernel without tapedma uring_cmd, the arena is refused (EOPNOTSUPP)
 * and queued writes are synchronous.
 *
 * Deviations from tape.h, forced by drives:
 *  - A write past the end of the medium on tgt succeeds with sense
 *    EARLY_WARNING (tgt reports EOM with NO SENSE after the data is on the
 *    medium and never refuses a write), so ENOSPC "nothing written" is
 *    only reported by drives that report VOLUME OVERFLOW.
 *  - tapedma.ko maps only buffers whose address suits the path's DMA
 *    alignment and whose pages fit the host's segments.  A write from a
 *    buffer that does not is first copied to an internal aligned buffer
 *    (the one copy on the write side; callers that care use aligned
 *    buffers); reads go to the internal buffer and are copied out.
 *  - Open rewinds the tape (tracked positions need a known start).
 *  - After a drive reset, a medium change or a not-ready spell, a command
 *    that depends on the cartridge is never repeated silently: it fails
 *    (-EIO, UNIT_ATTENTION / NOT_READY), and if the condition was met by a
 *    question to the drive instead (MODE SENSE, REWIND, ...), the next
 *    call that depends on the cartridge fails once with UNIT_ATTENTION.
 *    In tracked mode the position is then unknown until a rewind or
 *    locate: reads, writes and spaces fail with -EIO meanwhile.
 *  - tape_set_early_warning() sets the drive's PROGRAMMABLE EARLY WARNING
 *    SIZE (device configuration extension page, MB rounded up), which SSC
 *    counts from the drive's own early-warning point, not from the end of
 *    the partition: warnings come somewhat earlier than asked, never later.
 *  - Capacity and remaining space are reported as 0 (unknown) by drives
 *    without MAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <scsi/sg.h>
#include <sys/uio.h>

#include <liburing.h>

#include "tape/ssc.h"
#include "tape/tape_backend.h"
#include "tapedma.h"

#define SMALL_BUF 8192		/* INQUIRY, mode pages, MAM: internal, aligned */
#define SCAN_LEN 512		/* allocation of a scanning READ */
#define UA_RETRIES 8
#define BUSY_RETRIES 50
#define READY_WAIT_S 120
#ifndef TAPEDMA_READY_POLL_MS
#define TAPEDMA_READY_POLL_MS 500	/* unit tests poll faster */
#endif

struct tdma {
	struct tape t;		/* first: tape_backend.h */
	int fd;
	bool use_sg;		/* SG_IO transport instead of TAPEDMA_IOC_CMD */
	char path[128];

	uint32_t align;		/* DMA alignment of address and length */
	uint32_t max_xfer;	/* bytes in one command */
	uint32_t read_len;	/* allocation of a READ into the internal buffer */
	uint8_t *iobuf;		/* read_len bytes, for reads and unaligned writes */
	uint8_t *small;		/* SMALL_BUF bytes */

	/* probe results */
	bool tracked;		/* position kept by us (no LOCATE / READ POSITION) */
	bool rp_long;		/* READ POSITION long form works */
	bool locate16, space16;
	bool space_refused;	/* SPACE gets DATA PROTECT (read-only tgt LU): move by reading */
	/*
	 * Short records read with alloc < 2 * length: 0 not known yet, 1 they
	 * arrive whole (SSC), -1 only alloc - length bytes arrive (tgt).
	 */
	int8_t short_read;
	/* a reset, medium change or not-ready spell was absorbed: report it once */
	bool attention;
	unsigned partitions;	/* partitions on the loaded medium */

	/* tracked position and what we know of the partition's layout */
	bool pos_known;
	uint64_t pos;
	bool eod_known;
	uint64_t eod;
	uint64_t map_end;	/* objects [0, map_end) are known */
	uint64_t *fm;		/* sorted filemark positions below map_end */
	size_t nfm, capfm;

	/* last command */
	struct ssc_sense sense;
	bool have_sense;

	struct tdma_wq *wq;	/* write-behind, while an arena is registered */
};

#define D(t) ((struct tdma *)(t))

#ifdef TAPEDMA_TEST_XPORT
/*
 * Unit tests compile this file with a simulated drive in place of the
 * kernel: same contract as xport() below, nothing is opened.
 */
int TAPEDMA_TEST_XPORT(const struct ssc_cdb *cdb, int dir, void *buf, size_t len,
		       uint8_t *status, uint8_t *sense, size_t *sense_len);
#endif

/* ---- the transports ------------------------------------------------------ */

struct outcome {
	int err;		/* 0 GOOD; < 0 transport error or sense verdict */
	bool check;		/* CHECK CONDITION with decoded sense in d->sense */
	struct ssc_verdict v;	/* valid if check */
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Run one command once.  Returns 0 when the drive answered (status in
 * *status, sense in sense/sense_len), negative errno when the command did
 * not complete; *issued tells whether it may have reached the drive.
 */
static int xport(struct tdma *d, const struct ssc_cdb *cdb, int dir, void *buf,
		 size_t len, uint8_t *status, uint8_t *sense, size_t *sense_len,
		 bool *issued)
{
	*issued = true;
#ifdef TAPEDMA_TEST_XPORT
	return TAPEDMA_TEST_XPORT(cdb, dir, buf, len, status, sense, sense_len);
#endif
	if (d->use_sg) {
		struct sg_io_hdr h;

		memset(&h, 0, sizeof(h));
		h.interface_id = 'S';
		h.dxfer_direction = dir == TAPEDMA_DIR_TO_DEVICE ? SG_DXFER_TO_DEV :
				    dir == TAPEDMA_DIR_FROM_DEVICE ? SG_DXFER_FROM_DEV :
				    SG_DXFER_NONE;
		h.cmd_len = cdb->len;
		h.cmdp = (unsigned char *)cdb->b;
		h.dxferp = len ? buf : NULL;
		h.dxfer_len = (unsigned)len;
		h.mx_sb_len = TAPEDMA_SENSE_MAX;
		h.sbp = sense;
		h.timeout = ssc_timeout_ms(cdb);
		if (ioctl(d->fd, SG_IO, &h) < 0) {
			int e = errno;

			*issued = e != EINVAL && e != EFAULT && e != ENOMEM;
			return -e;
		}
		if (h.host_status || (h.driver_status & 0x0F && !h.sb_len_wr))
			return -EIO;
		*status = h.status;
		*sense_len = h.sb_len_wr;
		return 0;
	} else {
		struct tapedma_result res;
		struct tapedma_cmd c;
		int rc;

		memset(&c, 0, sizeof(c));
		memset(&res, 0, sizeof(res));
		memcpy(c.cdb, cdb->b, sizeof(c.cdb));
		c.cdb_len = cdb->len;
		c.dir = (uint8_t)dir;
		c.timeout_ms = ssc_timeout_ms(cdb);
		c.buf = (uintptr_t)buf;
		c.len = (uint32_t)len;
		c.result = (uintptr_t)&res;
		rc = ioctl(d->fd, TAPEDMA_IOC_CMD, &c);
		if (rc < 0 && res.status == 0 && res.sense_len == 0) {
			int e = errno;

			/* refused before it was sent: buffer or argument problems */
			*issued = e != EINVAL && e != EFAULT && e != ENOMEM &&
				  e != EOVERFLOW && e != E2BIG;
			return -e;
		}
		if (res.host_status)
			return -EIO;
		*status = res.status;
		*sense_len = res.sense_len < TAPEDMA_SENSE_MAX ? res.sense_len
							       : TAPEDMA_SENSE_MAX;
		memcpy(sense, res.sense, *sense_len);
		return 0;
	}
}

/*
 * What a command that met a UNIT ATTENTION or NOT READY (and so was not
 * executed) may do about it.  After a reset, a medium change or a
 * not-ready spell, only commands whose meaning does not depend on the
 * cartridge or the position are repeated: questions to the drive, and
 * REWIND / LOAD, which start from scratch anyway.  The condition is then
 * remembered (d->attention) and reported by the next call that does
 * depend on the medium.
 */
enum repeat { REPEAT_NEVER, REPEAT_FRESH_START, REPEAT_ALWAYS };

static enum repeat repeat_class(uint8_t op)
{
	switch (op) {
	case SSC_OP_TEST_UNIT_READY:
	case SSC_OP_INQUIRY:
	case SSC_OP_READ_BLOCK_LIMITS:
	case SSC_OP_MODE_SENSE6:
	case SSC_OP_MODE_SENSE10:
	case SSC_OP_PREVENT_ALLOW:
	case SSC_OP_REPORT_DENSITY:
	case SSC_OP_READ_POSITION:	/* tells the new position, which is the truth */
		return REPEAT_ALWAYS;
	case SSC_OP_REWIND:
	case SSC_OP_LOAD_UNLOAD:
		return REPEAT_FRESH_START;
	default:
		return REPEAT_NEVER;
	}
}

static void forget_medium(struct tdma *d)
{
	d->pos_known = false;
	d->eod_known = false;
	d->map_end = 0;
	d->nfm = 0;
}

/*
 * Run a command: retries BUSY, "becoming ready" and (for repeatable
 * commands) UNIT ATTENTION; records the raw sense in t->last and the
 * verdict in *o.  Returns o->err, which is 0 both for GOOD and for a
 * CHECK CONDITION that is only information (filemark, short record, early
 * warning): callers that care look at o->check.
 */
static int run(struct tdma *d, const struct ssc_cdb *cdb, int dir, void *buf,
	       size_t len, enum ssc_cmd_class cls, struct outcome *o)
{
	uint8_t sense[TAPEDMA_SENSE_MAX];
	unsigned ua = 0, busy = 0, wait_ms = 0;

	for (;;) {
		uint8_t status = 0;
		size_t sense_len = 0;
		bool issued;
		int rc;

		memset(o, 0, sizeof(*o));
		d->have_sense = false;
		rc = xport(d, cdb, dir, buf, len, &status, sense, &sense_len, &issued);
		if (rc < 0) {
			if (issued)
				d->pos_known = false;	/* it may have moved */
			o->err = rc;
			d->t.last.sense = TAPE_SENSE_HARDWARE;
			return rc;
		}
		if (status == SSC_STATUS_GOOD)
			return 0;
		if (status == SSC_STATUS_BUSY || status == SSC_STATUS_TASK_SET_FULL) {
			if (++busy > BUSY_RETRIES) {
				o->err = -EBUSY;
				d->t.last.sense = TAPE_SENSE_NOT_READY;
				return o->err;
			}
			sleep_ms(100);
			continue;
		}
		if (status == SSC_STATUS_RESERVATION_CONFLICT) {
			o->err = -EBUSY;
			d->t.last.sense = TAPE_SENSE_NOT_READY;
			return o->err;
		}
		if (status != SSC_STATUS_CHECK_CONDITION) {
			o->err = -EIO;
			d->t.last.sense = TAPE_SENSE_HARDWARE;
			d->pos_known = false;
			return o->err;
		}
		ssc_parse_sense(sense, sense_len, &d->sense);
		d->have_sense = d->sense.valid;
		d->t.last.sense_key = d->sense.key;
		d->t.last.asc = d->sense.asc;
		d->t.last.ascq = d->sense.ascq;
		o->check = true;
		o->v = ssc_sense_verdict(&d->sense, cls);
		o->err = o->v.err;
		if (o->v.position_lost) {
			d->pos_known = false;
			if ((d->sense.key == SSC_KEY_UNIT_ATTENTION && d->sense.asc == 0x28) ||
			    d->sense.key == SSC_KEY_NOT_READY)
				forget_medium(d);	/* maybe another cartridge */
		}
		/*
		 * A command that met a UNIT ATTENTION or "becoming ready" was
		 * not executed.  Attentions that lose nothing (mode parameters
		 * changed, ...) are repeated for everyone; see repeat_class()
		 * for the others.
		 */
		if (o->v.retry && (!o->v.position_lost || repeat_class(cdb->b[0]) != REPEAT_NEVER)) {
			bool ua_retry = d->sense.key == SSC_KEY_UNIT_ATTENTION && ++ua <= UA_RETRIES;
			bool nr_retry = d->sense.key == SSC_KEY_NOT_READY &&
					wait_ms < READY_WAIT_S * 1000;

			if (ua_retry || nr_retry) {
				if (o->v.position_lost)
					d->attention = true;
				if (nr_retry) {
					sleep_ms(TAPEDMA_READY_POLL_MS);
					wait_ms += TAPEDMA_READY_POLL_MS;
				}
				continue;
			}
		}
		d->t.last.sense = o->v.sense;
		return o->err;
	}
}

/* A command whose only interesting outcomes are "worked" and an errno. */
static int simple(struct tdma *d, const struct ssc_cdb cdb, int dir, void *buf,
		  size_t len)
{
	struct outcome o;

	return run(d, &cdb, dir, buf, len, SSC_CLASS_OTHER, &o);
}

static bool invalid_opcode(const struct tdma *d, int err)
{
	return err == -EOPNOTSUPP && d->have_sense &&
	       d->sense.key == SSC_KEY_ILLEGAL_REQUEST && d->sense.asc == 0x20;
}

/* Can tapedma.ko map len bytes at p as they are (address, pages)? */
static bool fits_dma(const struct tdma *d, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	return a % d->align == 0 && (a % 4096) + len <= d->max_xfer;
}

static uint64_t abs_info(const struct tdma *d)
{
	int64_t i = d->sense.info_valid ? d->sense.info : 0;

	return i < 0 ? (uint64_t)-i : (uint64_t)i;
}

/* ---- the filemark map (tracked mode) ------------------------------------- */

/* Number of filemarks below p (index of the first one >= p). */
static size_t fm_lower(const struct tdma *d, uint64_t p)
{
	size_t lo = 0, hi = d->nfm;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->fm[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Forget everything from object p on (a write there, or a contradiction). */
static void map_truncate(struct tdma *d, uint64_t p)
{
	if (d->map_end > p)
		d->map_end = p;
	d->nfm = fm_lower(d, p);
}

static int map_append_fm(struct tdma *d, uint64_t p)
{
	if (d->nfm == d->capfm) {
		size_t cap = d->capfm ? d->capfm * 2 : 64;
		uint64_t *n = realloc(d->fm, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->fm = n;
		d->capfm = cap;
	}
	d->fm[d->nfm++] = p;
	return 0;
}

/* The drive showed object p: a filemark or a record. */
static void map_learn(struct tdma *d, uint64_t p, bool is_fm)
{
	if (p < d->map_end) {
		size_t i = fm_lower(d, p);
		bool known_fm = i < d->nfm && d->fm[i] == p;

		if (known_fm == is_fm)
			return;
		map_truncate(d, p);	/* the map was wrong: trust the drive */
	}
	if (p != d->map_end)
		return;		/* not contiguous with what we know */
	if (is_fm && map_append_fm(d, p) < 0)
		return;		/* out of memory: simply know less */
	d->map_end = p + 1;
	if (d->eod_known && d->eod < d->map_end)
		d->eod_known = false;
}

static void map_learn_eod(struct tdma *d, uint64_t p)
{
	if (p < d->map_end)
		map_truncate(d, p);
	d->eod_known = true;
	d->eod = p;
}

/* n objects were written at p (filemarks if is_fm): they end the partition. */
static void map_learn_write(struct tdma *d, uint64_t p, uint64_t n, bool is_fm)
{
	uint64_t i;

	map_truncate(d, p);
	for (i = 0; i < n && d->map_end == p + i; i++)
		map_learn(d, p + i, is_fm);
	d->eod_known = true;
	d->eod = p + n;
}

/* ---- movement primitives -------------------------------------------------- */

static int do_rewind(struct tdma *d)
{
	struct ssc_cdb c = ssc_cdb_rewind(false);
	struct outcome o;
	int rc = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o);

	if (rc == 0) {
		d->pos_known = true;
		d->pos = 0;
	}
	return rc;
}

/* SPACE(6) count (in range) of the given code; residue from sense. */
static int space_cmd(struct tdma *d, enum ssc_space_code code, int32_t count,
		     struct outcome *o)
{
	struct ssc_cdb c = ssc_cdb_space6(code, count);

	return run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, o);
}

static int scan_one(struct tdma *d, int *kind);

/* Tracked mode without SPACE: read over objects (rewinding to go back). */
static int move_by_reading(struct tdma *d, int64_t delta)
{
	uint64_t target;
	int kind, rc;

	if (delta < 0) {
		target = d->pos - (uint64_t)-delta;
		rc = do_rewind(d);
		if (rc < 0)
			return rc;
	} else {
		target = d->pos + (uint64_t)delta;
	}
	while (d->pos < target) {
		rc = scan_one(d, &kind);
		if (rc < 0)
			return rc;
		if (kind == 2)
			return -ENODATA;	/* at EOD, which is now known */
	}
	return 0;
}

/*
 * Tracked mode: move delta objects (records and filemarks alike) from the
 * known position.  tgt counts filemarks as blocks when spacing; an SSC
 * drive stops after a filemark with the residue, and we go on.  Returns 0,
 * -ENODATA if end of data came first (d->pos is then the EOD if the drive
 * told how far it got, else unknown), or another error.
 */
static int move_objects(struct tdma *d, int64_t delta)
{
	if (d->space_refused)
		return move_by_reading(d, delta);
	while (delta != 0) {
		int32_t chunk = delta > SSC_SPACE6_MAX ? SSC_SPACE6_MAX :
				delta < -SSC_SPACE6_MAX ? -SSC_SPACE6_MAX : (int32_t)delta;
		struct outcome o;
		int rc = space_cmd(d, SSC_SPACE_BLOCKS, chunk, &o);

		if (rc == 0) {
			d->pos += chunk;
			delta -= chunk;
			continue;
		}
		if (o.check && d->sense.key == SSC_KEY_DATA_PROTECT) {
			d->space_refused = true;	/* it did not move */
			return move_by_reading(d, delta);
		}
		if (o.check && o.v.sense == TAPE_SENSE_FILEMARK && d->sense.info_valid) {
			int64_t r = d->sense.info;	/* signed like chunk */
			int64_t moved;

			if ((chunk > 0 && (r < 1 || r > chunk)) ||
			    (chunk < 0 && (r > -1 || r < chunk))) {
				d->pos_known = false;
				return -EIO;
			}
			/* the records before the filemark, and the filemark */
			moved = chunk - r + (chunk > 0 ? 1 : -1);
			map_learn(d, chunk > 0 ? d->pos + (uint64_t)moved - 1
					       : d->pos - (uint64_t)-moved, true);
			d->pos += moved;
			delta -= moved;
			continue;
		}
		if (o.check && o.v.sense == TAPE_SENSE_EOD && chunk > 0) {
			if (d->sense.info_valid && d->sense.info >= 0 &&
			    d->sense.info <= chunk) {
				d->pos += (uint64_t)(chunk - d->sense.info);
				map_learn_eod(d, d->pos);
			} else if (d->eod_known) {
				d->pos = d->eod;
			} else {
				d->pos_known = false;
			}
			return -ENODATA;
		}
		d->pos_known = false;
		return rc ? rc : -EIO;
	}
	return 0;
}

static int check_attention(struct tdma *d);

/* Tracked mode: go to object target of the partition. */
static int goto_pos(struct tdma *d, uint64_t target)
{
	int rc;

	if (!d->pos_known || target == 0 || (target < d->pos && target < d->pos - target)) {
		/* rewinding is cheaper than spacing back most of the way */
		rc = do_rewind(d);
		if (rc == 0)
			rc = check_attention(d);	/* the rewind may have waited out a swap */
		if (rc < 0)
			return rc;
	}
	if (target == d->pos)
		return 0;
	rc = move_objects(d, target > d->pos ? (int64_t)(target - d->pos)
					     : -(int64_t)(d->pos - target));
	if (rc == -ENODATA && d->pos_known && d->pos == target)
		rc = 0;	/* tgt reports EOD when a space ends exactly at it */
	return rc;
}

/*
 * Scanning READ: tells what object is at the (known) position and moves
 * past it, transferring at most SCAN_LEN bytes.  *kind: 0 record,
 * 1 filemark, 2 end of data.
 */
static int scan_one(struct tdma *d, int *kind)
{
	struct ssc_cdb c = ssc_cdb_read6(SCAN_LEN, false);
	struct outcome o;
	int rc = run(d, &c, TAPEDMA_DIR_FROM_DEVICE, d->small, SCAN_LEN,
		     SSC_CLASS_READ, &o);

	if ((rc == 0 && !o.check) || (o.check && o.v.sense == TAPE_SENSE_RECORD_LENGTH)) {
		map_learn(d, d->pos, false);
		d->pos++;
		*kind = 0;
		return 0;
	}
	if (o.check && o.v.sense == TAPE_SENSE_FILEMARK) {
		map_learn(d, d->pos, true);
		d->pos++;
		*kind = 1;
		return 0;
	}
	if (o.check && o.v.sense == TAPE_SENSE_EOD) {
		map_learn_eod(d, d->pos);
		*kind = 2;
		return 0;
	}
	d->pos_known = false;
	return rc ? rc : -EIO;
}

/*
 * Know the layout up to object upto (exclusive), or to end of data if that
 * comes first.  Moves the tape; want_fms > 0 stops early once that many
 * filemarks at or after `from` are known.
 */
static int extend_map(struct tdma *d, uint64_t upto, uint64_t from, uint64_t want_fms)
{
	uint64_t before;
	int rc, kind;

	while (d->map_end < upto && !(d->eod_known && d->eod <= d->map_end)) {
		if (want_fms && d->nfm - fm_lower(d, from) >= want_fms)
			return 0;
		if (!d->pos_known || d->pos != d->map_end) {
			rc = goto_pos(d, d->map_end);
			if (rc == -ENODATA && d->pos_known) {
				map_learn_eod(d, d->pos);
				return 0;
			}
			if (rc < 0)
				return rc;
		}
		before = d->map_end;
		rc = scan_one(d, &kind);
		if (rc < 0)
			return rc;
		if (kind == 2)
			return 0;
		if (d->map_end == before)
			return -ENOMEM;	/* the map could not grow: do not loop */
	}
	return 0;
}

/* Does SPACE n objects from BOT end at end of data?  (tgt semantics: n >= EOD) */
static int probe_eod(struct tdma *d, uint64_t n, bool *hit)
{
	int rc = goto_pos(d, n);

	*hit = false;
	if (rc == 0 && !(d->eod_known && d->eod == n))
		return 0;
	if (rc == 0 || rc == -ENODATA) {
		*hit = true;
		return 0;
	}
	return rc;
}

/* Tracked mode: make d->eod known. */
static int find_eod(struct tdma *d)
{
	uint64_t lo, hi, step;
	bool hit = false;
	int rc;

	if (d->eod_known)
		return 0;
	/*
	 * Look at the first object past what we know: that settles an empty
	 * remainder (a SPACE of 0 objects could not) and proves lo >= 1 below.
	 */
	rc = goto_pos(d, d->map_end);
	if (rc == -ENODATA && d->pos_known) {
		map_learn_eod(d, d->pos);
		return 0;
	}
	if (rc == -ENODATA) {
		/* the map reaches past EOD, so it is wrong: start from BOT */
		map_truncate(d, 0);
		rc = do_rewind(d);
	}
	if (rc == 0) {
		int kind;

		rc = scan_one(d, &kind);
	}
	if (rc < 0 || d->eod_known)
		return rc;
	/* objects below map_end exist, so EOD >= map_end */
	lo = d->map_end;	/* invariant: lo <= EOD */
	step = 1;
	for (;;) {
		hi = lo + step;
		rc = probe_eod(d, hi, &hit);
		if (rc < 0)
			return rc;
		if (d->eod_known)	/* the drive told the residue */
			return 0;
		if (hit)
			break;
		lo = hi + 1;	/* hi < EOD */
		if (step < (UINT64_C(1) << 40))
			step *= 2;
	}
	/* lo <= EOD <= hi: find the smallest n that hits */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		rc = probe_eod(d, mid, &hit);
		if (rc < 0)
			return rc;
		if (d->eod_known)
			return 0;
		if (hit)
			hi = mid;
		else
			lo = mid + 1;
	}
	d->eod_known = true;
	d->eod = lo;
	if (hit) {
		/* the last probe ran into end of data and stopped there */
		d->pos_known = true;
		d->pos = lo;
	}
	return 0;
}

/*
 * A positioning call that worked: what its internal commands reported
 * (the EOD that a SPACE to end of data runs into on tgt, say) is not news.
 */
static int clean_success(struct tape *t)
{
	memset(&t->last, 0, sizeof(t->last));
	return 0;
}

/*
 * A call that failed with err after a command: it reports the sense that
 * command left in t->last, or a hardware error if it left none (the
 * transport failed, or the drive said nothing we could decode).
 */
static int fail_as_last(struct tape *t, int err)
{
	return tape_fail(t, err, t->last.sense ? t->last.sense : TAPE_SENSE_HARDWARE, 0);
}

/*
 * Calls that depend on the cartridge start here: if the drive was reset,
 * not ready or told of a medium change while we answered something else,
 * this call fails once with UNIT_ATTENTION, so the caller can check what
 * is loaded before writing to it.
 */
static int check_attention(struct tdma *d)
{
	bool pos_known = d->pos_known;	/* run() dropped it if it was lost */

	if (!d->attention)
		return 0;
	d->attention = false;
	forget_medium(d);	/* maybe another cartridge: its layout is unknown */
	d->pos_known = pos_known;
	memset(&d->t.last, 0, sizeof(d->t.last));
	return tape_fail(&d->t, -EIO, TAPE_SENSE_UNIT_ATTENTION, 0);
}

static int need_position(struct tdma *d)
{
	if (d->pos_known)
		return 0;
	return fail_as_last(&d->t, -EIO);
}

/* ---- reading and writing ------------------------------------------------- */

enum rec_kind { REC_DATA, REC_FILEMARK, REC_EOD };

/*
 * One READ(6) of alloc bytes into dst.  On REC_DATA *reclen is the length
 * of the record on tape and *valid how many of its bytes are in dst.
 */
static int read_cmd(struct tdma *d, void *dst, uint32_t alloc, enum rec_kind *kind,
		    uint64_t *reclen, uint64_t *valid)
{
	struct ssc_cdb c = ssc_cdb_read6(alloc, false);
	struct outcome o;
	int rc = run(d, &c, TAPEDMA_DIR_FROM_DEVICE, dst, alloc, SSC_CLASS_READ, &o);

	*kind = REC_DATA;
	if (rc == 0 && !o.check) {
		*reclen = *valid = alloc;
		return 0;
	}
	if (!o.check)
		return rc;
	switch (o.v.sense) {
	case TAPE_SENSE_FILEMARK:
		*kind = REC_FILEMARK;
		return 0;
	case TAPE_SENSE_EOD:
		*kind = REC_EOD;
		return 0;
	case TAPE_SENSE_RECORD_LENGTH:
		if (!d->sense.info_valid)
			return -EIO;
		if (d->sense.info > (int64_t)alloc)
			return -EIO;
		if (d->sense.info > 0) {
			*reclen = alloc - (uint64_t)d->sense.info;
			/*
			 * tgt: only alloc - reclen bytes arrive when reclen <
			 * alloc < 2 * reclen.  Trust the data only outside that zone.
			 */
			*valid = 2 * *reclen <= alloc || d->short_read > 0 ? *reclen : 0;
		} else {
			*reclen = alloc + (uint64_t)-d->sense.info;
			*valid = 0;	/* an SSC drive sends alloc bytes, tgt none */
		}
		return 0;
	case TAPE_SENSE_NONE:
		/* CHECK CONDITION without a condition we know: data is suspect */
		d->pos_known = false;
		return -EIO;
	default:
		if (d->sense.key == SSC_KEY_MEDIUM_ERROR)
			d->pos_known = false;	/* before or after the bad record? */
		return rc ? rc : -EIO;
	}
}

static uint32_t round_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/*
 * Read the record just passed once more: SPACE back one block, READ with
 * alloc bytes into dst.  The record must be the same length again.
 */
static int reread(struct tdma *d, void *dst, uint32_t alloc, uint64_t reclen)
{
	struct ssc_cdb back = ssc_cdb_space6(SSC_SPACE_BLOCKS, -1);
	uint64_t reclen2 = 0, valid;
	enum rec_kind kind;
	struct outcome o;
	int rc = run(d, &back, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o);

	if (rc == 0) {
		if (d->tracked)
			d->pos--;
		rc = read_cmd(d, dst, alloc, &kind, &reclen2, &valid);
		if (rc == 0 && (kind != REC_DATA || reclen2 != reclen))
			rc = -EIO;
	}
	if (rc < 0) {
		d->pos_known = false;
		return rc;
	}
	if (d->tracked)
		d->pos++;
	return 0;
}

/*
 * A short record of reclen bytes came back from a READ of alloc bytes with
 * reclen < alloc < 2 * reclen, where tgt delivers only alloc - reclen
 * bytes.  Find out once per handle whether this drive does that: read the
 * record safely into ref (ref_alloc >= 2 * reclen or == reclen), then twice
 * more with the same alloc into buffers pre-filled with two different
 * bytes.  A drive that delivers the whole record leaves no trace of either.
 */
static int calibrate_short_reads(struct tdma *d, uint8_t *ref, uint32_t ref_alloc,
				 uint32_t alloc, uint64_t reclen)
{
	uint8_t *probe = NULL;
	int pass, rc;

	if (posix_memalign((void **)&probe, 4096, alloc))
		return -ENOMEM;
	rc = reread(d, ref, ref_alloc, reclen);
	for (pass = 0; rc == 0 && pass < 2; pass++) {
		memset(probe, pass ? 0xFF : 0x00, alloc);
		rc = reread(d, probe, alloc, reclen);
		if (rc == 0 && memcmp(probe, ref, reclen) != 0) {
			d->short_read = -1;
			break;
		}
	}
	if (rc == 0 && d->short_read == 0)
		d->short_read = 1;
	free(probe);
	return rc;
}

static ssize_t tdma_read(struct tape *t, void *buf, size_t len)
{
	struct tdma *d = D(t);
	uint8_t *dst = d->iobuf, *big = NULL;
	uint32_t alloc = d->read_len;
	uint64_t reclen = 0, valid = 0, n;
	enum rec_kind kind;
	int rc;

	if (check_attention(d) < 0 || (d->tracked && need_position(d) < 0))
		return -EIO;
	if (len >= d->read_len && fits_dma(d, buf, d->read_len)) {
		/*
		 * Never more than read_len, even into a bigger buffer: tgt
		 * sends alloc - B bytes for a B-byte record, so a bigger
		 * allocation only moves garbage.
		 */
		dst = buf;
	} else if (d->short_read >= 0 && len && len <= SSC_XFER6_MAX && fits_dma(d, buf, len)) {
		/* the caller's buffer as it is, unless the drive has tgt's bug */
		dst = buf;
		alloc = (uint32_t)len;
	}
	rc = read_cmd(d, dst, alloc, &kind, &reclen, &valid);
	if (rc < 0)
		return fail_as_last(t, rc);
	if (kind == REC_EOD) {
		if (d->tracked)
			map_learn_eod(d, d->pos);
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	}
	if (kind == REC_FILEMARK) {
		if (d->tracked) {
			map_learn(d, d->pos, true);
			d->pos++;
		}
		return tape_fail(t, 0, TAPE_SENSE_FILEMARK, 0);
	}
	if (d->tracked) {
		map_learn(d, d->pos, false);
		d->pos++;
	}
	if (valid < reclen && valid < len) {
		/*
		 * The record was longer than the allocation, or fell where tgt
		 * loses data: read it again with room for twice its length
		 * (or exactly its length, which is safe on tgt too).
		 */
		uint64_t want = 2 * reclen <= d->max_xfer ? 2 * reclen : reclen;
		uint32_t alloc2;

		if (want > d->max_xfer || want > SSC_XFER6_MAX) {
			t->last.sense = TAPE_SENSE_RECORD_LENGTH;
			t->last.residual = reclen;
			return -EIO;	/* a record this path cannot carry */
		}
		alloc2 = want == reclen ? (uint32_t)want : round_up((uint32_t)want, d->align);
		if (posix_memalign((void **)&big, 4096, alloc2))
			return tape_fail(t, -ENOMEM, TAPE_SENSE_NONE, 0);
		if (d->short_read == 0 && reclen < alloc)
			rc = calibrate_short_reads(d, big, alloc2, alloc, reclen);
		else
			rc = reread(d, big, alloc2, reclen);
		if (rc < 0) {
			free(big);
			return tape_fail(t, rc, t->last.sense ? t->last.sense
							      : TAPE_SENSE_MEDIUM_ERROR, 0);
		}
		dst = big;
	}
	n = reclen < len ? reclen : len;
	if (dst != buf && n)
		/*
		 * The only copy of record data in this backend: the caller's
		 * buffer could not be mapped for DMA or is too small for a
		 * safe READ on a drive with tgt's bug, or the record needed a
		 * second READ.
		 */
		memcpy(buf, dst, n);
	free(big);
	t->last.sense = TAPE_SENSE_NONE;
	if (reclen > len)
		return tape_fail(t, -EOVERFLOW, TAPE_SENSE_RECORD_LENGTH, reclen);
	return (ssize_t)reclen;
}

static ssize_t tdma_write(struct tape *t, const void *buf, size_t len)
{
	struct tdma *d = D(t);
	struct ssc_cdb c = ssc_cdb_write6((uint32_t)len);
	const void *src = buf;
	struct outcome o;
	int rc;

	if (check_attention(d) < 0 || (d->tracked && need_position(d) < 0))
		return -EIO;
	if (!fits_dma(d, buf, len)) {
		/* DMA needs an aligned address; caller memory rarely is not */
		memcpy(d->iobuf, buf, len);
		src = d->iobuf;
	}
	rc = run(d, &c, TAPEDMA_DIR_TO_DEVICE, (void *)src, len, SSC_CLASS_WRITE, &o);
	if (rc == 0 || (o.check && o.v.err == 0)) {
		if (d->tracked) {
			map_learn_write(d, d->pos, 1, false);
			d->pos++;
		}
		t->last.sense = o.check ? o.v.sense : TAPE_SENSE_NONE;
		if (t->last.sense == TAPE_SENSE_RECORD_LENGTH)
			t->last.sense = TAPE_SENSE_NONE;
		return (ssize_t)len;
	}
	if (o.check && o.v.sense == TAPE_SENSE_EOM) {
		/* VOLUME OVERFLOW: the residue says whether the record went out */
		if (d->sense.info_valid && d->sense.info == 0) {
			if (d->tracked) {
				map_learn_write(d, d->pos, 1, false);
				d->pos++;
			}
			return tape_fail(t, (int)len, TAPE_SENSE_EARLY_WARNING, 0);
		}
		return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
	}
	if (o.check && !o.v.position_lost && d->sense.key != SSC_KEY_MEDIUM_ERROR &&
	    d->sense.key != SSC_KEY_HARDWARE_ERROR) {
		/* refused (protect, illegal): nothing happened */
		return tape_fail(t, rc, o.v.sense, 0);
	}
	if (rc == -EINVAL && !o.check)
		return tape_fail(t, rc, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	d->pos_known = false;
	return tape_fail(t, rc, t->last.sense ? t->last.sense : TAPE_SENSE_MEDIUM_ERROR, 0);
}

static int tdma_write_filemarks(struct tape *t, unsigned count)
{
	struct tdma *d = D(t);
	unsigned done = 0;
	bool ew = false;

	if (check_attention(d) < 0 || (d->tracked && count && need_position(d) < 0))
		return -EIO;
	do {
		unsigned n = count - done > SSC_XFER6_MAX ? SSC_XFER6_MAX : count - done;
		struct ssc_cdb c = ssc_cdb_write_filemarks6(n, false);
		struct outcome o;
		int rc = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_WRITE, &o);

		if (rc < 0 && o.check && o.v.sense == TAPE_SENSE_EOM)
			return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
		if (rc < 0) {
			if (!o.check || o.v.position_lost || d->sense.key == SSC_KEY_MEDIUM_ERROR)
				d->pos_known = false;
			return fail_as_last(t, rc);
		}
		if (o.check && o.v.sense == TAPE_SENSE_EARLY_WARNING)
			ew = true;
		if (d->tracked && n) {
			map_learn_write(d, d->pos, n, true);
			d->pos += n;
		}
		done += n;
	} while (done < count);
	t->last.sense = ew ? TAPE_SENSE_EARLY_WARNING : TAPE_SENSE_NONE;
	return 0;
}

/* ---- write-behind: records in flight through uring_cmd -------------------- */

/*
 * Queued records go to the drive as IORING_OP_URING_CMD WRITE(6)s with
 * IORING_URING_CMD_FIXED from the registered arena: the module maps the
 * arena's pages and copies nothing.
 *
 * Order: a tape writes records in the order the commands reach it, and
 * independent commands in flight at once can be overtaken on the way (a
 * punt to io-wq, another virtqueue, a requeue, a target that runs SIMPLE
 * tasks in any order).  So records are sent as IOSQE_IO_LINK chains: the
 * kernel issues each command when the one before it has completed, and a
 * command that fails cancels the rest of its chain before they are sent,
 * which is exactly "nothing after a failed record is written".  Records
 * queued while a chain runs wait here, and go out as the next chain when
 * it has finished; the caller never waits for the drive unless depth
 * records are outstanding.
 *
 * A chain also breaks at a record that is written but reports early
 * warning (the module completes every CHECK CONDITION with -EIO): the
 * records behind it were cancelled unsent and go out again as a new chain.
 */

#define WQ_DEPTH_DEFAULT 8
#define WQ_DEPTH_MAX 64

struct wq_slot {
	struct tapedma_result res;	/* the module writes it at completion */
	const uint8_t *buf;
	uint32_t len;
	uint64_t pos;		/* tracked mode: the object number it is written to */
	int cqe;		/* completion result, valid once done */
	bool done;
};

struct tdma_wq {
	struct io_uring ring;
	const uint8_t *base;
	size_t len;
	unsigned depth;
	struct wq_slot *slots;	/* record s lives in slots[(s - 1) % depth] */
	uint64_t queued;	/* records handed to us (t->q.queued once counted) */
	uint64_t sent;		/* records 1 .. sent have been given to io_uring */
	uint64_t chain_end;	/* last record of the chain in flight */
	bool chain_busy;
	bool fixed;		/* the arena is registered: IORING_URING_CMD_FIXED */
	bool sync_only;		/* the module refused a queued command unsent */
};

static struct wq_slot *wq_slot(struct tdma_wq *q, uint64_t seq)
{
	return &q->slots[(seq - 1) % q->depth];
}

/*
 * Records outstanding at most: FUSETAPE_TAPEDMA_QDEPTH (1 .. 64) if set, for
 * measurements; 0 there turns write-behind off (tape_register_arena() says
 * EOPNOTSUPP, every write is synchronous).
 */
static unsigned wq_depth(void)
{
	const char *s = getenv("FUSETAPE_TAPEDMA_QDEPTH");
	char *end;
	long v;

	if (!s || !*s)
		return WQ_DEPTH_DEFAULT;
	v = strtol(s, &end, 10);
	if (*end || v < 0)
		return WQ_DEPTH_DEFAULT;
	return v > WQ_DEPTH_MAX ? WQ_DEPTH_MAX : (unsigned)v;
}

/* Fill one SQE128 with a uring_cmd; liburing 2.3 has no helper for it. */
static void wq_prep(struct tdma *d, struct io_uring_sqe *sqe, const struct ssc_cdb *cdb,
		    int dir, const void *buf, uint32_t len, bool fixed,
		    struct tapedma_result *res, uint64_t user_data)
{
	struct tapedma_cmd c;

	memset(&c, 0, sizeof(c));
	memcpy(c.cdb, cdb->b, sizeof(c.cdb));
	c.cdb_len = cdb->len;
	c.dir = (uint8_t)dir;
	c.timeout_ms = ssc_timeout_ms(cdb);
	c.buf = (uintptr_t)buf;
	c.len = len;
	c.result = (uintptr_t)res;
	memset(res, 0, sizeof(*res));
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, d->fd, NULL, 0, 0);
	sqe->cmd_op = TAPEDMA_URING_CMD;
	sqe->uring_cmd_flags = fixed ? IORING_URING_CMD_FIXED : 0;
	sqe->buf_index = 0;
	sqe->user_data = user_data;
	/* the payload runs on into the second half of the 128-byte entry */
	memcpy((uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd), &c, sizeof(c));
}

/* io_uring_wait_cqe, but a signal does not end the wait. */
static int wq_wait_cqe(struct tdma_wq *q, struct io_uring_cqe **cqe)
{
	int rc;

	do
		rc = io_uring_wait_cqe(&q->ring, cqe);
	while (rc == -EINTR);
	return rc;
}

static int wq_collect(struct tdma_wq *q, bool wait);

static void wq_teardown(struct tdma *d)
{
	struct tdma_wq *q = d->wq;

	if (!q)
		return;
	/*
	 * Closing the ring returns before the kernel has finished with what
	 * is in flight: wait for it here, or the caller could reuse memory
	 * the drive is still reading.
	 */
	while (q->chain_busy && wq_collect(q, true) == 0)
		;
	io_uring_queue_exit(&q->ring);
	free(q->slots);
	free(q);
	d->wq = NULL;
}

/*
 * Send records sent + 1 .. queued as one chain (nothing may be in flight).
 * Once prepared, a chain must go whole: what the kernel did not take stays
 * in the submission ring and would go with the next submission.  If it
 * cannot, the part taken is in flight (sent says how far) and the error
 * is returned; nothing is submitted on this ring after that.
 */
static int wq_send(struct tdma *d)
{
	struct tdma_wq *q = d->wq;
	uint64_t s, first = q->sent + 1;
	unsigned n, taken = 0;
	int rc = 0;

	if (q->chain_busy || q->sent >= q->queued)
		return 0;
	n = (unsigned)(q->queued - q->sent);
	if (io_uring_sq_space_left(&q->ring) < n)
		return -EBUSY;	/* 2 * depth entries, one chain at a time: cannot happen */
	for (s = first; s <= q->queued; s++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
		struct wq_slot *w = wq_slot(q, s);
		struct ssc_cdb c = ssc_cdb_write6(w->len);

		wq_prep(d, sqe, &c, TAPEDMA_DIR_TO_DEVICE, w->buf, w->len, q->fixed, &w->res, s);
		if (s < q->queued)
			sqe->flags |= IOSQE_IO_LINK;
		w->done = false;
	}
	while (taken < n) {
		rc = io_uring_submit(&q->ring);
		if (rc <= 0)
			break;
		taken += (unsigned)rc;
	}
	if (taken) {
		q->chain_busy = true;
		q->chain_end = first + taken - 1;
		q->sent = q->chain_end;
	}
	if (taken < n)
		return rc < 0 ? rc : -EIO;
	return 0;
}

static void wq_complete(struct tdma_wq *q, struct io_uring_cqe *cqe)
{
	uint64_t seq = cqe->user_data;

	if (seq > q->sent || seq == 0)
		return;		/* not ours (cannot happen): ignore */
	wq_slot(q, seq)->cqe = cqe->res;
	wq_slot(q, seq)->done = true;
	if (seq == q->chain_end)
		q->chain_busy = false;	/* every member completes, cancelled ones too */
}

/* Take every completion there is; block for one first if wait. */
static int wq_collect(struct tdma_wq *q, bool wait)
{
	struct io_uring_cqe *cqe;
	int rc;

	if (wait) {
		rc = wq_wait_cqe(q, &cqe);
		if (rc < 0)
			return rc;
		wq_complete(q, cqe);
		io_uring_cqe_seen(&q->ring, cqe);
	}
	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		wq_complete(q, cqe);
		io_uring_cqe_seen(&q->ring, cqe);
	}
	return 0;
}

/* The queue failed at record seq: record it and set the position right. */
static void wq_fail(struct tdma *d, uint64_t seq, const struct ssc_write_outcome *o)
{
	struct tape *t = &d->t;
	struct tdma_wq *q = d->wq;

	t->q.error = o->err < 0 ? o->err : -EIO;
	t->q.error_seq = seq;
	t->q.error_sense = o->sense != TAPE_SENSE_NONE ? o->sense : TAPE_SENSE_MEDIUM_ERROR;
	if (d->tracked) {
		uint64_t at = wq_slot(q, seq)->pos;

		/*
		 * Nothing from record seq on is ours.  A refused record (end of
		 * medium, busy) left the drive where it was before; after a
		 * medium or transport error the drive may have written part of
		 * it, and only a rewind or locate tells the position again.
		 */
		map_truncate(d, at);
		if (o->position_lost) {
			d->pos_known = false;
			d->eod_known = false;
		} else {
			d->pos = at;
			d->pos_known = true;
			d->eod_known = true;
			d->eod = at;
		}
	}
	if (o->position_lost && d->sense.valid && d->sense.key == SSC_KEY_UNIT_ATTENTION &&
	    d->sense.asc == 0x28)
		forget_medium(d);
	/* nothing after seq will be sent */
	q->queued = q->sent;
}

/*
 * Record seq was refused by the module before it reached the drive (no
 * SCSI status: fixed buffers not supported, mapping limits): write it the
 * synchronous way, and every record after it too.
 */
static int wq_write_sync(struct tdma *d, uint64_t seq)
{
	struct wq_slot *w = wq_slot(d->wq, seq);
	ssize_t r = tdma_write(&d->t, w->buf, w->len);

	if (r < 0) {
		struct ssc_write_outcome o = {
			.err = (int)r, .sense = d->t.last.sense,
			.position_lost = !d->pos_known,
		};

		if (d->tracked && d->pos_known)
			d->pos = w->pos;	/* tdma_write did not move it */
		wq_fail(d, seq, &o);
		return -1;
	}
	if (d->t.last.sense == TAPE_SENSE_EARLY_WARNING)
		d->t.q.early_warning = true;
	return 0;
}

/* Retire finished records in order; resend what a broken chain cancelled. */
static void wq_retire(struct tdma *d)
{
	struct tape *t = &d->t;
	struct tdma_wq *q = d->wq;

	while (!t->q.error && t->q.retired < q->sent) {
		uint64_t seq = t->q.retired + 1;
		struct wq_slot *w = wq_slot(q, seq);
		struct ssc_write_outcome o;
		int xerr = 0;

		if (!w->done)
			return;
		if (w->cqe == -ECANCELED) {
			/* an earlier link broke (early warning): never sent */
			if (q->chain_busy)
				return;		/* the rest of that chain is still to come */
			q->sent = seq - 1;
			return;
		}
		if (w->cqe < 0 && w->res.status == 0 && w->res.sense_len == 0 &&
		    w->cqe != -EIO) {
			/* refused before it was sent */
			if (q->chain_busy)
				return;
			q->sync_only = true;
			if (d->tracked)
				d->pos = w->pos;
			if (wq_write_sync(d, seq) < 0)
				return;
			t->q.retired = seq;
			q->sent = seq;	/* the rest of the chain was cancelled: resend */
			continue;
		}
		if (w->res.host_status)
			xerr = -EIO;
		o = ssc_write_outcome(xerr, w->res.status, w->res.sense,
				      w->res.sense_len < TAPEDMA_SENSE_MAX ? w->res.sense_len
									   : TAPEDMA_SENSE_MAX,
				      &d->sense);
		d->have_sense = d->sense.valid;
		if (o.written && w->res.status == SSC_STATUS_GOOD && w->cqe != (int)w->len) {
			/* GOOD, yet not all of it went: the drive is not to be believed */
			o.written = false;
			o.err = -EIO;
			o.sense = TAPE_SENSE_HARDWARE;
			o.position_lost = true;
		}
		if (!o.written) {
			if (d->have_sense) {
				t->last.sense_key = d->sense.key;
				t->last.asc = d->sense.asc;
				t->last.ascq = d->sense.ascq;
			}
			wq_fail(d, seq, &o);
			return;
		}
		if (o.sense == TAPE_SENSE_EARLY_WARNING)
			t->q.early_warning = true;
		t->q.retired = seq;
	}
}

/*
 * One step of the queue: take completions (blocking for one if wait),
 * retire, and send what waits once the chain in flight is done.  After a
 * failure, waits until nothing is in the kernel any more, so that the
 * caller may reuse all of the arena.
 */
static int wq_step(struct tdma *d, bool wait)
{
	struct tdma_wq *q = d->wq;
	int rc;

	/* waiting with nothing in the kernel would be for ever */
	if (wait && !q->chain_busy && q->sent >= q->queued && d->t.q.retired < q->queued)
		return -EIO;
	rc = wq_collect(q, wait && q->chain_busy);

	if (rc < 0)
		return rc;
	wq_retire(d);
	if (d->t.q.error) {
		while (q->chain_busy) {
			rc = wq_collect(q, true);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!q->chain_busy && q->sent < q->queued) {
		if (q->sync_only) {
			while (!d->t.q.error && q->sent < q->queued) {
				uint64_t seq = q->sent + 1;

				if (d->tracked)
					d->pos = wq_slot(q, seq)->pos;
				if (wq_write_sync(d, seq) < 0)
					break;
				q->sent = seq;
				d->t.q.retired = seq;
			}
			return 0;
		}
		rc = wq_send(d);
		if (rc < 0) {
			/* the ring failed: what it did not take is lost to us */
			struct ssc_write_outcome o = {
				.err = rc, .sense = TAPE_SENSE_HARDWARE, .position_lost = true,
			};

			wq_fail(d, q->sent + 1, &o);
			while (q->chain_busy && wq_collect(q, true) == 0)
				;
			rc = 0;
		}
	}
	return rc;
}

static int tdma_reap(struct tape *t, uint64_t wait_for)
{
	struct tdma *d = D(t);
	int rc;

	if (!d->wq)
		return t->q.retired >= t->q.queued ? 0 : -EIO;
	rc = wq_step(d, false);
	while (rc == 0 && !t->q.error && wait_for > t->q.retired)
		rc = wq_step(d, true);
	if (rc < 0 && !t->q.error && t->q.retired < d->wq->sent) {
		/* the ring itself failed: what is in flight is lost to us */
		struct ssc_write_outcome o = {
			.err = rc, .sense = TAPE_SENSE_HARDWARE, .position_lost = true,
		};

		wq_fail(d, t->q.retired + 1, &o);
	}
	return rc;
}

/* A record the arena path cannot take: written now, after the queue. */
static ssize_t write_now(struct tdma *d, const void *buf, size_t len)
{
	struct tape *t = &d->t;
	ssize_t r;

	if (tdma_reap(t, d->wq->queued) < 0 && !t->q.error)
		return tape_fail(t, -EIO, TAPE_SENSE_HARDWARE, 0);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	r = tdma_write(t, buf, len);
	if (r < 0)
		return r;
	/* tape.c counts it; it is retired as soon as it is numbered */
	d->wq->queued++;
	d->wq->sent++;
	t->q.retired = d->wq->queued;
	if (t->last.sense == TAPE_SENSE_EARLY_WARNING)
		t->q.early_warning = true;
	return r;
}

static ssize_t tdma_write_queued(struct tape *t, const void *buf, size_t len)
{
	struct tdma *d = D(t);
	struct tdma_wq *q = d->wq;
	const uint8_t *p = buf;
	struct wq_slot *w;
	int rc;

	if (!q)
		return tape_fail(t, -EIO, TAPE_SENSE_HARDWARE, 0);
	if (check_attention(d) < 0 || (d->tracked && need_position(d) < 0))
		return -EIO;
	if (q->sync_only || p < q->base || len > q->len || (size_t)(p - q->base) > q->len - len ||
	    !fits_dma(d, buf, len))
		return write_now(d, buf, len);
	rc = wq_step(d, false);
	while (rc == 0 && !t->q.error && q->queued - t->q.retired >= q->depth)
		rc = wq_step(d, true);
	if (rc < 0 && !t->q.error)
		return tape_fail(t, rc, TAPE_SENSE_HARDWARE, 0);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	if (q->sync_only)
		return write_now(d, buf, len);

	w = wq_slot(q, q->queued + 1);
	w->buf = p;
	w->len = (uint32_t)len;
	w->done = false;
	w->cqe = 0;
	if (d->tracked) {
		w->pos = d->pos;
		map_learn_write(d, d->pos, 1, false);
		d->pos++;
	}
	q->queued++;
	rc = wq_send(d);
	if (rc < 0) {
		struct ssc_write_outcome o = {
			.err = rc, .sense = TAPE_SENSE_HARDWARE, .position_lost = true,
		};

		/* this one is not queued after all (tape.c does not count it) */
		q->queued--;
		wq_fail(d, q->sent + 1, &o);
		return tape_fail(t, rc, TAPE_SENSE_HARDWARE, 0);
	}
	t->last.sense = TAPE_SENSE_NONE;
	return (ssize_t)len;
}

/*
 * Does this kernel run tapedma uring_cmds?  An INQUIRY (which reports no
 * UNIT ATTENTION, so it consumes none) on the new ring tells.
 */
static int wq_probe(struct tdma *d)
{
	struct tdma_wq *q = d->wq;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	struct ssc_cdb c = ssc_cdb_inquiry(false, 0, 36);
	struct io_uring_cqe *cqe;
	struct tapedma_result res;
	int rc;

	if (!sqe)
		return -EBUSY;
	wq_prep(d, sqe, &c, TAPEDMA_DIR_FROM_DEVICE, d->small, 36, false, &res, 0);
	rc = io_uring_submit(&q->ring);
	if (rc != 1)
		return rc < 0 ? rc : -EIO;
	rc = wq_wait_cqe(q, &cqe);
	if (rc < 0)
		return rc;
	rc = cqe->res;
	io_uring_cqe_seen(&q->ring, cqe);
	if (rc < 0 && res.status == 0 && res.sense_len == 0)
		return rc;	/* never reached the drive */
	return 0;		/* the drive answered, whatever it said */
}

static int tdma_register_arena(struct tape *t, void *base, size_t len)
{
	struct tdma *d = D(t);
	struct tdma_wq *q;
	struct iovec iov = { base, len };
	int rc;

	wq_teardown(d);
	if (!base)
		return 0;
#ifdef TAPEDMA_TEST_XPORT
	return -EOPNOTSUPP;	/* a simulated drive has no io_uring */
#endif
	if (d->use_sg)
		return -EOPNOTSUPP;	/* SG_IO has no uring_cmd: synchronous */
	if (t->readonly)
		return -EROFS;
	if (wq_depth() == 0)
		return -EOPNOTSUPP;	/* turned off by FUSETAPE_TAPEDMA_QDEPTH=0 */
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->depth = wq_depth();
	q->slots = calloc(q->depth, sizeof(*q->slots));
	if (!q->slots) {
		free(q);
		return -ENOMEM;
	}
	q->base = base;
	q->len = len;
	q->queued = q->sent = t->q.queued;
	rc = io_uring_queue_init(2 * q->depth, &q->ring, IORING_SETUP_SQE128);
	if (rc < 0) {
		free(q->slots);
		free(q);
		/* no io_uring, or none with 128-byte entries */
		return rc == -ENOSYS || rc == -EINVAL || rc == -EPERM ? -EOPNOTSUPP : rc;
	}
	d->wq = q;
	rc = wq_probe(d);
	if (rc < 0) {
		wq_teardown(d);
		return rc == -ENOSYS || rc == -EOPNOTSUPP || rc == -EINVAL || rc == -ENOTTY
		       ? -EOPNOTSUPP : rc;
	}
	/*
	 * Without registered buffers (RLIMIT_MEMLOCK, say) the module pins
	 * each record's pages per command instead: still no copy, and still
	 * several records in flight.
	 */
	q->fixed = io_uring_register_buffers(&q->ring, &iov, 1) == 0;
	return 0;
}

/* ---- positioning ------------------------------------------------------------ */

static int tracked_locate(struct tdma *d, uint64_t block)
{
	struct tape *t = &d->t;
	int rc;

	if (d->eod_known && block > d->eod) {
		rc = goto_pos(d, d->eod);
		return rc < 0 ? tape_fail(t, rc, t->last.sense, 0)
			      : tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	}
	rc = goto_pos(d, block);
	if (rc == -ENODATA) {
		/* end of data came first: where is it? */
		rc = find_eod(d);
		if (rc == 0)
			rc = goto_pos(d, d->eod);
		if (rc < 0)
			return fail_as_last(t, rc);
		if (block == d->eod)
			return clean_success(t);
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	}
	if (rc < 0)
		return fail_as_last(t, rc);
	return clean_success(t);
}

static int native_read_position(struct tdma *d, struct ssc_position *p)
{
	enum ssc_read_position_form form = d->rp_long ? SSC_RP_LONG : SSC_RP_SHORT;
	int rc;

	memset(d->small, 0, 32);
	rc = simple(d, ssc_cdb_read_position(form), TAPEDMA_DIR_FROM_DEVICE, d->small,
		    form == SSC_RP_LONG ? 32 : 20);
	if (rc < 0)
		return rc;
	rc = ssc_parse_read_position(d->small, form == SSC_RP_LONG ? 32 : 20, form, p);
	if (rc == 0 && p->unknown)
		rc = -EIO;
	return rc;
}

static int tdma_locate(struct tape *t, uint32_t partition, uint64_t block)
{
	struct tdma *d = D(t);
	struct outcome o;
	struct ssc_cdb c;
	int rc;

	if (check_attention(d) < 0)
		return -EIO;
	if (d->tracked)
		return tracked_locate(d, block);
	if (d->locate16)
		c = ssc_cdb_locate16(block, true, (uint8_t)partition, false);
	else if (block <= UINT32_MAX)
		c = ssc_cdb_locate10((uint32_t)block, true, (uint8_t)partition, false);
	else
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	rc = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o);
	if (rc == 0) {
		t->last.sense = TAPE_SENSE_NONE;
		return 0;
	}
	if (o.check && o.v.sense == TAPE_SENSE_EOD)
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);	/* SSC: left at EOD */
	return fail_as_last(t, rc);
}

static int tdma_read_position(struct tape *t, struct tape_position *pos)
{
	struct tdma *d = D(t);
	struct ssc_position p;
	int rc;

	if (check_attention(d) < 0)
		return -EIO;
	if (d->tracked) {
		if (!d->pos_known)
			return need_position(d);
		pos->partition = 0;
		pos->block = d->pos;
		return 0;
	}
	rc = native_read_position(d, &p);
	if (rc < 0)
		return fail_as_last(t, rc);
	pos->partition = p.partition;
	pos->block = p.block;
	return 0;
}

static int tracked_space(struct tdma *d, enum tape_space_kind kind, int64_t count)
{
	struct tape *t = &d->t;
	uint64_t p = d->pos, n = count < 0 ? -(uint64_t)count : (uint64_t)count;
	uint64_t target, residual = 0;
	enum tape_sense sense = TAPE_SENSE_NONE;
	int err = 0, rc;
	size_t i;

	if (need_position(d) < 0)
		return -EIO;
	if (kind == TAPE_SPACE_EOD) {
		rc = find_eod(d);
		if (rc == 0)
			rc = goto_pos(d, d->eod);
		return rc < 0 ? fail_as_last(t, rc) : clean_success(t);
	}
	if (count == 0)
		return 0;
	if (count > 0 && kind == TAPE_SPACE_RECORDS) {
		uint64_t limit = p + n < p ? UINT64_MAX : p + n;

		rc = extend_map(d, limit, p, 1);	/* stop at the first filemark */
		if (rc < 0)
			goto fail;
		i = fm_lower(d, p);
		if (i < d->nfm && d->fm[i] < limit) {
			target = d->fm[i] + 1;
			residual = n - (d->fm[i] - p);
			sense = TAPE_SENSE_FILEMARK;
			err = -EIO;
		} else if (d->eod_known && d->eod < limit) {
			target = d->eod;
			residual = n - (d->eod - p);
			sense = TAPE_SENSE_EOD;
			err = -ENODATA;
		} else {
			target = limit;
		}
	} else if (count > 0) {
		rc = extend_map(d, UINT64_MAX, p, n);
		if (rc < 0)
			goto fail;
		i = fm_lower(d, p);
		if (d->nfm - i >= n) {
			target = d->fm[i + n - 1] + 1;
		} else {
			rc = find_eod(d);
			if (rc < 0)
				goto fail;
			target = d->eod;
			residual = n - (d->nfm - i);
			sense = TAPE_SENSE_EOD;
			err = -ENODATA;
		}
	} else {
		/* backward: everything below p must be known */
		rc = extend_map(d, p, 0, 0);
		if (rc < 0)
			goto fail;
		if (d->map_end < p) {
			rc = -EIO;	/* EOD below our position: the map is wrong */
			goto fail;
		}
		i = fm_lower(d, p);	/* filemarks below p */
		if (kind == TAPE_SPACE_RECORDS) {
			uint64_t first = i > 0 ? d->fm[i - 1] + 1 : 0;

			if (n <= p - first) {
				target = p - n;
			} else if (i > 0) {
				target = d->fm[i - 1];
				residual = n - (p - first);
				sense = TAPE_SENSE_FILEMARK;
				err = -EIO;
			} else {
				target = 0;
				residual = n - p;
				sense = TAPE_SENSE_BOT;
				err = -EIO;
			}
		} else if (n <= i) {
			target = d->fm[i - n];
		} else {
			target = 0;
			residual = n - i;
			sense = TAPE_SENSE_BOT;
			err = -EIO;
		}
	}
	rc = goto_pos(d, target);
	if (rc < 0)
		goto fail;
	if (err == 0)
		return clean_success(t);
	memset(&t->last, 0, sizeof(t->last));	/* the condition is ours, not a command's */
	return tape_fail(t, err, sense, residual);
fail:
	return fail_as_last(t, rc);
}

static int tdma_space(struct tape *t, enum tape_space_kind kind, int64_t count)
{
	struct tdma *d = D(t);
	enum ssc_space_code code = kind == TAPE_SPACE_RECORDS ? SSC_SPACE_BLOCKS :
				   kind == TAPE_SPACE_FILEMARKS ? SSC_SPACE_FILEMARKS :
				   SSC_SPACE_EOD;
	struct outcome o;
	struct ssc_cdb c;
	int rc;

	if (check_attention(d) < 0)
		return -EIO;
	if (d->tracked)
		return tracked_space(d, kind, count);
	if (kind != TAPE_SPACE_EOD && count == 0)
		return 0;
	if (kind == TAPE_SPACE_EOD)
		c = ssc_cdb_space6(code, 0);
	else if (count >= SSC_SPACE6_MIN && count <= SSC_SPACE6_MAX)
		c = ssc_cdb_space6(code, (int32_t)count);
	else if (d->space16)
		c = ssc_cdb_space16(code, count);
	else
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	rc = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o);
	if (rc == 0 && !o.check)
		return 0;
	if (o.check && (o.v.sense == TAPE_SENSE_FILEMARK || o.v.sense == TAPE_SENSE_EOD ||
			o.v.sense == TAPE_SENSE_BOT)) {
		int err = o.v.sense == TAPE_SENSE_EOD ? -ENODATA : -EIO;

		return tape_fail(t, err, o.v.sense, abs_info(d));
	}
	return fail_as_last(t, rc ? rc : -EIO);
}

static int tdma_rewind(struct tape *t)
{
	struct tdma *d = D(t);
	int rc = do_rewind(d);

	return rc < 0 ? fail_as_last(t, rc) : clean_success(t);
}

static int tdma_load(struct tape *t)
{
	struct tdma *d = D(t);
	int rc = simple(d, ssc_cdb_load_unload(true, false), TAPEDMA_DIR_NONE, NULL, 0);

	/* maybe another cartridge: what we knew of the old one is void */
	forget_medium(d);
	if (rc < 0)
		return fail_as_last(t, rc);
	return tdma_rewind(t);
}

static int tdma_unload(struct tape *t)
{
	struct tdma *d = D(t);
	int rc = simple(d, ssc_cdb_load_unload(false, false), TAPEDMA_DIR_NONE, NULL, 0);

	forget_medium(d);
	return rc < 0 ? fail_as_last(t, rc) : 0;
}

/* ---- medium, partitions, MAM -------------------------------------------- */

/* MODE SENSE(6) of one page into d->small; *m describes it. */
static int mode_sense(struct tdma *d, uint8_t page, uint8_t subpage, struct ssc_mode *m)
{
	int rc;

	memset(d->small, 0, 256);
	rc = simple(d, ssc_cdb_mode_sense6(SSC_PC_CURRENT, page, subpage, false, 252),
		    TAPEDMA_DIR_FROM_DEVICE, d->small, 252);
	if (rc < 0)
		return rc;
	return ssc_parse_mode(d->small, 252, false, page, subpage, m);
}

static int read_attr(struct tdma *d, uint32_t partition, uint16_t id,
		     struct tape_attr *attr)
{
	const uint32_t alloc = 4 + 5 + TAPE_ATTR_MAX_VALUE + 4;
	int rc;

	memset(d->small, 0, alloc);
	rc = simple(d, ssc_cdb_read_attribute(SSC_RA_VALUES, (uint8_t)partition, id, alloc),
		    TAPEDMA_DIR_FROM_DEVICE, d->small, alloc);
	if (rc == -EINVAL && d->have_sense && d->sense.asc == 0x24)
		return -ENOENT;	/* no attribute with that id (or beyond it) */
	if (rc < 0)
		return rc;
	return ssc_mam_find(d->small, alloc, id, attr);
}

static uint64_t attr_u64(const struct tape_attr *a)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < a->length && i < 8; i++)
		v = v << 8 | a->value[i];
	return v;
}

static int tdma_medium_info(struct tape *t, struct tape_medium *m)
{
	struct tdma *d = D(t);
	struct ssc_mode mode;
	struct tape_attr a;
	unsigned i;
	int rc;

	rc = mode_sense(d, SSC_PAGE_DEVICE_CONFIGURATION, 0, &mode);
	if (rc < 0 && rc != -ENOENT)
		return fail_as_last(t, rc);
	m->write_protected = mode.write_protected || t->readonly;
	m->partitions = d->partitions;
	if (t->caps.max_partitions > 1 &&
	    mode_sense(d, SSC_PAGE_MEDIUM_PARTITION, 0, &mode) == 0) {
		struct ssc_partition_page pp;

		if (ssc_parse_partition_page(mode.page, mode.page_len, &pp) == 0)
			d->partitions = m->partitions =
				pp.additional + 1u > TAPE_MAX_PARTITIONS ? TAPE_MAX_PARTITIONS
									 : pp.additional + 1u;
	}
	if (t->caps.has_mam) {
		for (i = 0; i < m->partitions; i++) {
			/* 0000h REMAINING / 0001h MAXIMUM CAPACITY IN PARTITION, MiB */
			if (read_attr(d, i, 0x0001, &a) == 0)
				m->capacity[i] = attr_u64(&a) << 20;
			if (read_attr(d, i, 0x0000, &a) == 0)
				m->remaining[i] = attr_u64(&a) << 20;
		}
	}
	t->last.sense = TAPE_SENSE_NONE;
	t->last.sense_key = t->last.asc = t->last.ascq = 0;
	return 0;
}

static int tdma_format(struct tape *t, unsigned nparts, const uint64_t *sizes)
{
	struct tdma *d = D(t);
	struct ssc_partition_page pp;
	struct ssc_mode mode;
	uint8_t page[8 + 2 * TAPE_MAX_PARTITIONS];
	uint8_t dev_specific;
	unsigned i;
	int len, rc;

	if (check_attention(d) < 0)
		return -EIO;
	rc = mode_sense(d, SSC_PAGE_MEDIUM_PARTITION, 0, &mode);
	if (rc == 0)
		rc = ssc_parse_partition_page(mode.page, mode.page_len, &pp);
	if (rc < 0)
		return tape_fail(t, rc == -ENOENT ? -EOPNOTSUPP : rc,
				 TAPE_SENSE_ILLEGAL_REQUEST, 0);
	dev_specific = mode.device_specific;
	pp.additional = (uint8_t)(nparts - 1);
	pp.fdp = pp.sdp = false;
	pp.idp = nparts > 1;
	pp.psum = 2;		/* sizes in megabytes (10^6) */
	pp.pofm = false;
	pp.nsizes = nparts > 1 ? nparts : 0;
	for (i = 0; i < pp.nsizes; i++) {
		uint64_t mb = (sizes[i] + 999999) / 1000000;

		if (i == nparts - 1 && sizes[i] == 0)
			pp.sizes[i] = 0xFFFF;	/* the rest of the medium */
		else if (mb == 0 || mb >= 0xFFFF)
			return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
		else
			pp.sizes[i] = (uint16_t)mb;
	}
	len = ssc_build_partition_page(page, sizeof(page), &pp);
	if (len < 0)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	len = ssc_build_mode_select(d->small, SMALL_BUF, false, dev_specific, page, (size_t)len);
	if (len < 0)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	rc = do_rewind(d);
	if (rc == 0)
		rc = simple(d, ssc_cdb_mode_select6((uint8_t)len, true), TAPEDMA_DIR_TO_DEVICE,
			    d->small, (size_t)len);
	if (rc == 0)
		rc = simple(d, ssc_cdb_format_medium(SSC_FORMAT_PARTITION, false),
			    TAPEDMA_DIR_NONE, NULL, 0);
	forget_medium(d);
	if (rc == 0)
		rc = do_rewind(d);
	if (rc < 0)
		return fail_as_last(t, rc);
	d->partitions = nparts;
	d->eod_known = true;
	d->eod = 0;
	t->last.sense = TAPE_SENSE_NONE;
	return 0;
}

#define PAGE_DEVCONF_EXT_SUB 0x01	/* device configuration extension subpage */

static int tdma_set_early_warning(struct tape *t, uint64_t bytes)
{
	struct tdma *d = D(t);
	uint8_t page[64];
	struct ssc_mode m;
	uint64_t mb = bytes / 1000000 + (bytes % 1000000 != 0);
	int len, rc;

	rc = mode_sense(d, SSC_PAGE_DEVICE_CONFIGURATION, PAGE_DEVCONF_EXT_SUB, &m);
	if (rc == 0 && (m.page_len < 8 || m.page_len > sizeof(page)))
		rc = -EPROTO;
	if (rc < 0)
		return fail_as_last(t, rc);
	memcpy(page, m.page, m.page_len);
	if (mb > 0xFFFF)
		mb = 0xFFFF;
	page[6] = (uint8_t)(mb >> 8);	/* PROGRAMMABLE EARLY WARNING SIZE */
	page[7] = (uint8_t)mb;
	len = ssc_build_mode_select(d->small, SMALL_BUF, false, m.device_specific, page,
				    m.page_len);
	if (len < 0)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	rc = simple(d, ssc_cdb_mode_select6((uint8_t)len, true), TAPEDMA_DIR_TO_DEVICE,
		    d->small, (size_t)len);
	if (rc < 0)
		return fail_as_last(t, rc);
	return clean_success(t);
}

static int tdma_get_attr(struct tape *t, uint32_t partition, uint16_t id,
			 struct tape_attr *attr)
{
	struct tdma *d = D(t);
	int rc = check_attention(d);

	if (rc < 0)
		return rc;
	rc = read_attr(d, partition, id, attr);

	if (rc == -ENOENT)
		return tape_fail(t, rc, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	if (rc == -EPROTO || rc == -EOVERFLOW)
		return tape_fail(t, -EIO, TAPE_SENSE_HARDWARE, 0);
	if (rc < 0)
		return fail_as_last(t, rc);
	t->last.sense = TAPE_SENSE_NONE;
	return 0;
}

static int tdma_set_attr(struct tape *t, uint32_t partition, const struct tape_attr *attr)
{
	struct tdma *d = D(t);
	int len = ssc_mam_build(d->small, SMALL_BUF, attr);
	int rc = check_attention(d);

	if (rc < 0)
		return rc;
	if (len < 0)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	rc = simple(d, ssc_cdb_write_attribute((uint8_t)partition, (uint32_t)len, true),
		    TAPEDMA_DIR_TO_DEVICE, d->small, (size_t)len);
	if (rc < 0)
		return fail_as_last(t, rc);
	t->last.sense = TAPE_SENSE_NONE;
	return 0;
}

static int tdma_close(struct tape *t)
{
	struct tdma *d = D(t);
	int rc = 0;

	wq_teardown(d);
	if (d->fd >= 0 && close(d->fd) < 0)
		rc = -errno;
	free(d->fm);
	free(d->iobuf);
	free(d->small);
	free(d);
	return rc;
}

static const struct tape_ops tdma_ops = {
	.name = "tapedma",
	.close = tdma_close,
	.read = tdma_read,
	.write = tdma_write,
	.register_arena = tdma_register_arena,
	.write_queued = tdma_write_queued,
	.reap = tdma_reap,
	.write_filemarks = tdma_write_filemarks,
	.locate = tdma_locate,
	.read_position = tdma_read_position,
	.space = tdma_space,
	.rewind = tdma_rewind,
	.load = tdma_load,
	.unload = tdma_unload,
	.medium_info = tdma_medium_info,
	.format = tdma_format,
	.set_early_warning = tdma_set_early_warning,
	.get_attr = tdma_get_attr,
	.set_attr = tdma_set_attr,
};

/* ---- open and probe ---------------------------------------------------------- */

static int open_transport(struct tdma *d, const char *path, unsigned flags,
			  char *errbuf, size_t errlen)
{
	struct tapedma_info info;
	int version;

#ifdef TAPEDMA_TEST_XPORT
	d->align = 4;
	d->max_xfer = 4u << 20;
	return 0;
#endif
	d->fd = open(path, ((flags & TAPE_OPEN_READONLY) ? O_RDONLY : O_RDWR) |
			   O_CLOEXEC | O_NONBLOCK);
	if (d->fd < 0 && !(flags & TAPE_OPEN_READONLY) && (errno == EACCES || errno == EROFS)) {
		d->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		d->t.readonly = true;
	}
	if (d->fd < 0) {
		int e = errno;

		tape_set_err(errbuf, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	/* blocking from here on: commands wait for the drive */
	fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) & ~O_NONBLOCK);
	memset(&info, 0, sizeof(info));
	if (ioctl(d->fd, TAPEDMA_IOC_INFO, &info) == 0) {
		d->align = info.dma_alignment + 1;
		d->max_xfer = info.max_transfer;
		if (d->align == 0 || (d->align & (d->align - 1)) || d->align > 4096 ||
		    d->max_xfer < 4096) {
			tape_set_err(errbuf, errlen,
				"%s: tapedma reports unusable limits (alignment %u, max transfer %u)",
				path, info.dma_alignment, info.max_transfer);
			return -EPROTO;
		}
		return 0;
	}
	if (ioctl(d->fd, SG_GET_VERSION_NUM, &version) == 0 && version >= 30000) {
		int sectors = 0;

		d->use_sg = true;
		d->align = 4;
		d->max_xfer = 1u << 20;
		/*
		 * sg answers BLKSECTGET in bytes (6.1), newer kernels in sectors
		 * capped at 65535: a value that small must be sectors.
		 */
		if (ioctl(d->fd, BLKSECTGET, &sectors) == 0 && sectors > 0) {
			uint64_t b = sectors <= 0xFFFF ? (uint64_t)sectors * 512 : (uint64_t)sectors;

			if (b >= 65536)
				d->max_xfer = b > (16u << 20) ? (16u << 20) : (uint32_t)(b & ~4095ull);
		}
		return 0;
	}
	tape_set_err(errbuf, errlen, "%s: neither a tapedma device nor a SCSI generic device", path);
	return -ENOTTY;
}

/*
 * All I/O here is variable-length (FIXED=0), which some drives refuse while
 * a fixed block length is set (st's "mt setblk", tgt's 512-byte default):
 * set block length 0, keeping the density.  Failure is not fatal: drives
 * that refuse this accept FIXED=0 anyway, and if not, I/O will say so.
 */
static void set_variable_mode(struct tdma *d, const struct ssc_mode *m)
{
	uint8_t *p = d->small;

	memset(p, 0, 12);
	p[2] = m->device_specific & 0x7F;	/* keep buffered mode and speed */
	p[3] = 8;				/* one block descriptor */
	p[4] = m->density;			/* bytes 5-11: 0 blocks, length 0 */
	simple(d, ssc_cdb_mode_select6(12, true), TAPEDMA_DIR_TO_DEVICE, p, 12);
}

static int wait_ready(struct tdma *d, char *errbuf, size_t errlen)
{
	int rc = simple(d, ssc_cdb_test_unit_ready(), TAPEDMA_DIR_NONE, NULL, 0);

	/* run() has retried unit attentions and waited while becoming ready */
	if (rc == -ENOMEDIUM)
		tape_set_err(errbuf, errlen, "%s: no tape loaded", d->path);
	else if (rc < 0)
		tape_set_err(errbuf, errlen, "%s: drive not ready: %s%s%s", d->path,
			d->have_sense ? ssc_sense_key_name(d->sense.key) : strerror(-rc),
			d->have_sense ? ", " : "", d->have_sense ? strerror(-rc) : "");
	return rc;
}

static int probe_identity(struct tdma *d, char *errbuf, size_t errlen)
{
	uint8_t type = 0;
	int rc;

	memset(d->small, 0, 96);
	rc = simple(d, ssc_cdb_inquiry(false, 0, 96), TAPEDMA_DIR_FROM_DEVICE, d->small, 96);
	if (rc == 0)
		rc = ssc_parse_inquiry(d->small, 96, &type, &d->t.identity);
	if (rc < 0) {
		tape_set_err(errbuf, errlen, "%s: INQUIRY failed: %s", d->path, strerror(-rc));
		return rc;
	}
	if (type != SSC_PERIPHERAL_TAPE) {
		tape_set_err(errbuf, errlen, "%s: %s %s is not a tape drive (device type %u)",
			d->path, d->t.identity.vendor, d->t.identity.product, type);
		return -ENODEV;
	}
	memset(d->small, 0, 256);
	if (simple(d, ssc_cdb_inquiry(true, 0x80, 252), TAPEDMA_DIR_FROM_DEVICE,
		   d->small, 252) == 0)
		ssc_parse_serial_vpd(d->small, 252, &d->t.identity);
	return 0;
}

static int probe_limits(struct tdma *d, char *errbuf, size_t errlen)
{
	struct ssc_block_limits bl;
	uint32_t max;
	int rc;

	memset(d->small, 0, 8);
	rc = simple(d, ssc_cdb_read_block_limits(), TAPEDMA_DIR_FROM_DEVICE, d->small, 8);
	if (rc == 0)
		rc = ssc_parse_block_limits(d->small, 6, &bl);
	if (rc < 0) {
		tape_set_err(errbuf, errlen, "%s: READ BLOCK LIMITS failed: %s", d->path, strerror(-rc));
		return rc;
	}
	/* the drive's advertised limit is binding even where bigger writes work (tgt) */
	max = bl.max ? bl.max : TAPE_RECORD_MAX_SUPPORTED;
	if (max > TAPE_RECORD_MAX_SUPPORTED)
		max = TAPE_RECORD_MAX_SUPPORTED;
	if (max > d->max_xfer)
		max = d->max_xfer - d->max_xfer % d->align;
	if (max > SSC_XFER6_MAX)
		max = SSC_XFER6_MAX - SSC_XFER6_MAX % d->align;
	if (bl.min && bl.min == bl.max) {
		tape_set_err(errbuf, errlen, "%s: drive supports only fixed %u-byte blocks",
			d->path, bl.max);
		return -EOPNOTSUPP;
	}
	d->t.caps.max_record = max;
	d->t.caps.min_record = bl.min ? bl.min : 1;
	/* twice the largest record, if one command can carry it */
	d->read_len = (uint64_t)2 * max > d->max_xfer ? d->max_xfer : 2 * max;
	if (d->read_len > SSC_XFER6_MAX)
		d->read_len = SSC_XFER6_MAX;
	d->read_len -= d->read_len % d->align;
	return 0;
}

/* Does READ POSITION tell the truth?  Called at BOT, after a rewind. */
static void probe_read_position(struct tdma *d)
{
	struct ssc_position p0, p1;
	struct outcome o;
	int rc;

	d->rp_long = true;
	if (native_read_position(d, &p0) < 0) {
		d->rp_long = false;
		if (native_read_position(d, &p0) < 0)
			return;
	}
	/* tgt answers zeros: block 0, but no BOP flag at the beginning */
	if (!p0.bop || p0.block != 0)
		return;
	rc = space_cmd(d, SSC_SPACE_BLOCKS, 1, &o);
	if (rc == 0) {
		/* a record or filemark was there: the position must have moved */
		rc = native_read_position(d, &p1);
		do_rewind(d);
		if (rc < 0 || p1.block != 1 || p1.bop)
			return;
	} else {
		/* empty medium (or a filemark first): BOP at BOT is all we can check */
		do_rewind(d);
	}
	d->t.caps.can_read_position = true;
}

static void probe_locate(struct tdma *d)
{
	struct outcome o;
	struct ssc_cdb c = ssc_cdb_locate16(0, false, 0, false);
	int rc = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o);

	if (rc == 0) {
		d->locate16 = true;
		d->t.caps.can_locate = true;
		return;
	}
	c = ssc_cdb_locate10(0, false, 0, false);
	rc = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o);
	d->t.caps.can_locate = rc == 0;
}

static void probe_space16(struct tdma *d)
{
	struct outcome o;
	struct ssc_cdb c = ssc_cdb_space16(SSC_SPACE_BLOCKS, 0);

	d->space16 = run(d, &c, TAPEDMA_DIR_NONE, NULL, 0, SSC_CLASS_SPACE, &o) == 0;
}

static void probe_partitions(struct tdma *d)
{
	struct ssc_partition_page pp;
	struct ssc_mode m;

	d->t.caps.max_partitions = 1;
	d->partitions = 1;
	if (mode_sense(d, SSC_PAGE_MEDIUM_PARTITION, 0, &m) < 0 ||
	    ssc_parse_partition_page(m.page, m.page_len, &pp) < 0)
		return;
	d->t.caps.max_partitions = pp.max_additional + 1u > TAPE_MAX_PARTITIONS
					   ? TAPE_MAX_PARTITIONS : pp.max_additional + 1u;
	d->partitions = pp.additional + 1u > d->t.caps.max_partitions
				? d->t.caps.max_partitions : pp.additional + 1u;
	/* partitioning is done by FORMAT MEDIUM, which only such drives have */
	d->t.caps.can_format = d->t.caps.max_partitions > 1 && !pp.fdp;
}

static void probe_early_warning(struct tdma *d)
{
	struct ssc_mode m;

	d->t.caps.can_set_early_warning =
		mode_sense(d, SSC_PAGE_DEVICE_CONFIGURATION, PAGE_DEVCONF_EXT_SUB, &m) == 0 &&
		m.page_len >= 8 && (m.page[0] & 0x40);
}

static void probe_mam(struct tdma *d)
{
	struct tape_attr a;
	int rc = read_attr(d, 0, 0x0000, &a);

	/* any answer but "invalid opcode" means the command (and MAM) exists */
	d->t.caps.has_mam = !(invalid_opcode(d, rc) || (rc < 0 && !d->have_sense));
	if (rc == -ENOMEDIUM || (d->have_sense && d->sense.asc == 0x3A))
		d->t.caps.has_mam = false;
}

int tape_tapedma_open(const char *path, unsigned flags, struct tape **out,
		      char *errbuf, size_t errlen)
{
	struct tdma *d;
	struct ssc_mode m;
	int rc;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d) {
		tape_set_err(errbuf, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	d->t.ops = &tdma_ops;
	d->fd = -1;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->t.readonly = flags & TAPE_OPEN_READONLY;
	rc = open_transport(d, path, flags, errbuf, errlen);
	if (rc < 0)
		goto fail;
	if (posix_memalign((void **)&d->small, 4096, SMALL_BUF)) {
		rc = -ENOMEM;
		tape_set_err(errbuf, errlen, "%s: out of memory", path);
		goto fail;
	}
	rc = wait_ready(d, errbuf, errlen);
	if (rc == 0)
		rc = probe_identity(d, errbuf, errlen);
	if (rc == 0)
		rc = probe_limits(d, errbuf, errlen);
	if (rc < 0)
		goto fail;
	if (posix_memalign((void **)&d->iobuf, 4096, d->read_len > d->t.caps.max_record
			   ? d->read_len : d->t.caps.max_record)) {
		rc = -ENOMEM;
		tape_set_err(errbuf, errlen, "%s: out of memory for a %u-byte buffer", path, d->read_len);
		goto fail;
	}
	/*
	 * No PREVENT MEDIUM REMOVAL: it outlives a crashed process (nothing
	 * in the kernel sends ALLOW for us, unlike st), and a locked drive
	 * with no owner is worse than an operator ejecting a busy one.
	 */
	rc = mode_sense(d, SSC_PAGE_DEVICE_CONFIGURATION, 0, &m);
	if ((rc == 0 || rc == -ENOENT) && m.write_protected)
		d->t.readonly = true;
	if ((rc == 0 || rc == -ENOENT) && m.have_block_descriptor && m.block_length)
		set_variable_mode(d, &m);
	/* the probes below need a known place to start from */
	rc = do_rewind(d);
	if (rc < 0) {
		tape_set_err(errbuf, errlen, "%s: REWIND failed: %s", path, strerror(-rc));
		goto fail;
	}
	probe_read_position(d);
	probe_locate(d);
	probe_space16(d);
	probe_partitions(d);
	probe_mam(d);
	probe_early_warning(d);
	d->tracked = !(d->t.caps.can_locate && d->t.caps.can_read_position);
	if (d->tracked && d->t.caps.max_partitions > 1) {
		/* positions are tracked in one partition only */
		d->t.caps.max_partitions = 1;
		d->t.caps.can_format = false;
	}
	rc = do_rewind(d);
	if (rc < 0) {
		tape_set_err(errbuf, errlen, "%s: REWIND failed: %s", path, strerror(-rc));
		goto fail;
	}
	forget_medium(d);
	d->pos_known = true;
	d->pos = 0;
	d->attention = false;	/* whatever happened before open is not news */
	memset(&d->t.last, 0, sizeof(d->t.last));
	*out = &d->t;
	return 0;
fail:
	if (d->fd >= 0)
		close(d->fd);
	free(d->iobuf);
	free(d->small);
	free(d);
	return rc;
}
