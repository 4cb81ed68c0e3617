// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_tape_st.c - the st backend (lib/tape/tape_st.c, compiled in here
 * with its transport replaced) against a simulated st device.
 *
 * The simulation models what the Linux st driver shows user space of a
 * drive: read(2)/write(2) of variable-length records, the mtio ioctls
 * (MTIOCTOP, MTIOCGET, MTIOCPOS) and the few SG_IO commands the backend
 * sends (READ BLOCK LIMITS, READ POSITION, MODE SENSE of the medium
 * partition page).  Two kinds of drive:
 *  - "lto": MTIOCPOS reports the logical position, MTSEEK works, SG_IO
 *    READ POSITION sets BOP at the beginning, optionally 2 partitions
 *    (st's can-partitions option, MTSETPART, MTMKPART).  The backend must
 *    pick native mode and position with MTSEEK, without reading.
 *  - "tgt": MTIOCPOS always 0, MTSEEK refused (no LOCATE), no BOP, no
 *    partition page, like tgt behind st in the VM tests.  The backend must
 *    stay in tracked mode.
 * What st itself does is reduced to what the backend depends on: read at
 * end of data fails with EIO (or returns 0 right after a filemark) and
 * sets GMT_EOD until the next command; a record longer than the buffer
 * fails with ENOMEM and is passed; SPACE stops at filemarks and at end of
 * data with EIO; the partition is reported in mt_resid.  Native mode is
 * tested only here: no drive in the VM rig can run it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../tap.h"

#define TAPE_ST_TEST_HOOKS 1
#include "../../lib/tape/tape_st.c"

#define SIM_FD 77
#define SIM_MAX_OBJ 20000
#define SIM_MAX_BLOCK (1u << 20)

struct sim_obj {
	bool fm;
	uint32_t len;
	uint32_t seed;		/* data byte i is (seed + i * 7) & 0xff */
};

struct sim_part {
	struct sim_obj *o;
	uint64_t n;		/* EOD */
};

static struct sim {
	bool lto;		/* real positions; else tgt-like */
	bool can_part_hw;	/* the drive supports 2 partitions */
	bool can_partitions;	/* st's option */
	bool logical;		/* st's scsi2logical option */
	bool rawio;		/* SG_IO allowed (CAP_SYS_RAWIO) */
	bool admin;		/* MTSETDRVBUFFER allowed (CAP_SYS_ADMIN) */
	unsigned nparts;
	struct sim_part p[2];
	unsigned part, new_part;
	uint64_t pos;
	bool eod_state;		/* st's ST_EOD: GMT_EOD in MTIOCGET */
	bool after_fm;		/* last read returned a filemark */
	uint64_t cap;		/* objects a partition holds (0: SIM_MAX_OBJ) */
	bool store_then_enospc;	/* at cap: the record lands, the write says ENOSPC */
	uint64_t bad_seek_from;	/* MTSEEK to this block or beyond fails (0: never) */
	uint64_t bad_record;	/* 1 + object MTFSR fails on after passing it (0: none) */
	/* counters */
	unsigned reads, writes, seeks, spaces, rewinds, mkparts;
} sim;

static void sim_reset(bool lto, bool partitions)
{
	for (int i = 0; i < 2; i++)
		free(sim.p[i].o);
	memset(&sim, 0, sizeof(sim));
	sim.lto = lto;
	sim.can_part_hw = partitions;
	sim.rawio = true;
	sim.admin = true;
	sim.nparts = 1;
	for (int i = 0; i < 2; i++)
		sim.p[i].o = calloc(SIM_MAX_OBJ, sizeof(struct sim_obj));
}

static void sim_counts_zero(void)
{
	sim.reads = sim.writes = sim.seeks = sim.spaces = sim.rewinds = 0;
}

static struct sim_part *cur(void)
{
	return &sim.p[sim.part];
}

/* Pre-load the tape: n records of len bytes, a filemark after every fm_every. */
static void sim_fill(unsigned part, uint64_t nrec, uint32_t len, uint64_t fm_every)
{
	struct sim_part *sp = &sim.p[part];

	for (uint64_t i = 0; i < nrec; i++) {
		sp->o[sp->n++] = (struct sim_obj){ .len = len, .seed = (uint32_t)(sp->n * 13 + part) };
		if (fm_every && (i + 1) % fm_every == 0)
			sp->o[sp->n++] = (struct sim_obj){ .fm = true };
	}
}

static uint8_t pat(uint32_t seed, size_t i)
{
	return (uint8_t)(seed + i * 7);
}

static int fail(int e)
{
	errno = e;
	return -1;
}

/* st applies a pending MTSETPART before other commands. */
static void sim_switch(void)
{
	if (sim.new_part != sim.part) {
		sim.part = sim.new_part;
		sim.pos = 0;
	}
}

static int sim_open(const char *path, int flags)
{
	(void)path;
	(void)flags;
	return SIM_FD;
}

static int sim_fstat(int fd, struct stat *sb)
{
	memset(sb, 0, sizeof(*sb));
	if (fd != SIM_FD)
		return fail(EBADF);
	sb->st_mode = S_IFCHR | 0660;
	sb->st_rdev = makedev(9, 128);
	return 0;
}

static int sim_close(int fd)
{
	return fd == SIM_FD ? 0 : fail(EBADF);
}

static ssize_t sim_read(int fd, void *buf, size_t len)
{
	struct sim_part *sp;
	struct sim_obj *o;
	bool after_fm = sim.after_fm;

	if (fd != SIM_FD)
		return fail(EBADF);
	sim.reads++;
	sim_switch();
	sim.after_fm = false;
	sim.eod_state = false;
	sp = cur();
	if (sim.pos >= sp->n) {
		sim.eod_state = true;
		if (after_fm)
			return 0;	/* st: "zero returned for first BLANK CHECK after EOF" */
		return fail(EIO);
	}
	o = &sp->o[sim.pos++];
	if (o->fm) {
		sim.after_fm = true;
		return 0;
	}
	if (o->len > len)
		return fail(ENOMEM);
	for (size_t i = 0; i < o->len; i++)
		((uint8_t *)buf)[i] = pat(o->seed, i);
	return o->len;
}

static uint32_t sim_seed_of(const uint8_t *b)
{
	return b[0];	/* pat(seed, 0) == seed & 0xff: enough to tell records apart */
}

static ssize_t sim_write(int fd, const void *buf, size_t len)
{
	struct sim_part *sp;
	const uint8_t *b = buf;

	if (fd != SIM_FD)
		return fail(EBADF);
	sim.writes++;
	sim_switch();
	sim.eod_state = sim.after_fm = false;
	sp = cur();
	if (len == 0 || len > SIM_MAX_BLOCK)
		return fail(EINVAL);
	if (sim.pos >= (sim.cap ? sim.cap : SIM_MAX_OBJ) &&
	    !(sim.store_then_enospc && sim.pos < SIM_MAX_OBJ))
		return fail(ENOSPC);
	/* store the data as a seed when it follows the pattern, else refuse */
	for (size_t i = 0; i < len; i++)
		if (b[i] != pat(sim_seed_of(b), i))
			return fail(EIO);
	sp->o[sim.pos++] = (struct sim_obj){ .len = (uint32_t)len, .seed = sim_seed_of(b) };
	sp->n = sim.pos;
	if (sim.cap && sim.pos > sim.cap)
		return fail(ENOSPC);
	return (ssize_t)len;
}

static int sim_space(short op, int count)
{
	struct sim_part *sp = cur();

	sim.spaces++;
	for (int k = 0; k < count; k++) {
		switch (op) {
		case MTFSR:
			if (sim.pos >= sp->n) {
				sim.eod_state = true;
				return fail(EIO);
			}
			if (sp->o[sim.pos++].fm)
				return fail(EIO);
			if (sim.bad_record && sim.pos == sim.bad_record)
				return fail(EIO);	/* medium error on that record */
			break;
		case MTBSR:
			if (sim.pos == 0)
				return fail(EIO);
			if (sp->o[--sim.pos].fm)
				return fail(EIO);
			break;
		case MTFSF:
			for (;;) {
				if (sim.pos >= sp->n) {
					sim.eod_state = true;
					return fail(EIO);
				}
				if (sp->o[sim.pos++].fm)
					break;
			}
			break;
		case MTBSF:
			for (;;) {
				if (sim.pos == 0)
					return fail(EIO);
				if (sp->o[--sim.pos].fm)
					break;
			}
			break;
		}
	}
	return 0;
}

static int sim_mtop(struct mtop *m)
{
	struct sim_part *sp;

	if (m->mt_op == MTSETDRVBUFFER) {
		if (!sim.admin)
			return fail(EPERM);
		if ((m->mt_count & 0xF0000000) == MT_ST_SETBOOLEANS) {
			if (m->mt_count & MT_ST_CAN_PARTITIONS)
				sim.can_partitions = true;
			if (m->mt_count & MT_ST_SCSI2LOGICAL)
				sim.logical = true;
		}
		return 0;
	}
	if (m->mt_op == MTSETPART) {
		if (!sim.can_partitions || m->mt_count < 0 || (unsigned)m->mt_count >= sim.nparts)
			return fail(EINVAL);
		sim.new_part = (unsigned)m->mt_count;
		return 0;
	}
	if (m->mt_op == MTSEEK) {
		if (!sim.lto)
			return fail(EIO);	/* LOCATE: invalid opcode */
		sim.seeks++;
		sim.part = sim.new_part;
		sim.eod_state = sim.after_fm = false;
		if (sim.bad_seek_from && (uint64_t)m->mt_count >= sim.bad_seek_from)
			return fail(EIO);	/* medium error: the drive stays put */
		if ((uint64_t)m->mt_count > sim.p[sim.part].n) {
			sim.pos = sim.p[sim.part].n;
			sim.eod_state = true;
			return fail(EIO);
		}
		sim.pos = (uint64_t)m->mt_count;
		return 0;
	}
	if (m->mt_op == MTMKPART) {
		if (!sim.can_partitions || !sim.can_part_hw)
			return fail(EINVAL);
		sim.mkparts++;
		sim.nparts = m->mt_count ? 2 : 1;
		sim.p[0].n = sim.p[1].n = 0;
		sim.part = sim.new_part = 0;
		sim.pos = 0;
		return 0;
	}
	if (m->mt_op == MTNOP || m->mt_op == MTSETBLK)
		return 0;
	sim_switch();
	sim.eod_state = sim.after_fm = false;
	sp = cur();
	switch (m->mt_op) {
	case MTREW:
		sim.rewinds++;
		sim.part = sim.new_part = 0;
		sim.pos = 0;
		return 0;
	case MTLOAD:
	case MTUNLOAD:
		sim.part = sim.new_part = 0;
		sim.pos = 0;
		return 0;
	case MTWEOF:
		if (m->mt_count == 0)
			return 0;
		for (int k = 0; k < m->mt_count; k++)
			sp->o[sim.pos++] = (struct sim_obj){ .fm = true };
		sp->n = sim.pos;
		return 0;
	case MTEOM:
		sim.spaces++;
		sim.pos = sp->n;
		sim.eod_state = true;
		return 0;
	case MTFSR:
	case MTBSR:
	case MTFSF:
	case MTBSF:
		return sim_space(m->mt_op, m->mt_count);
	}
	return fail(EINVAL);
}

static int sim_sg(struct sg_io_hdr *h)
{
	const uint8_t *c = h->cmdp;
	uint8_t *d = h->dxferp;

	if (!sim.rawio)
		return fail(EPERM);
	memset(d, 0, h->dxfer_len);
	h->status = 0;
	switch (c[0]) {
	case 0x05:	/* READ BLOCK LIMITS */
		d[1] = (uint8_t)(SIM_MAX_BLOCK >> 16);
		d[2] = (uint8_t)(SIM_MAX_BLOCK >> 8);
		d[3] = (uint8_t)SIM_MAX_BLOCK;
		d[5] = 1;
		return 0;
	case 0x34:	/* READ POSITION, short form */
		if (sim.lto) {
			d[0] = sim.pos == 0 ? 0x80 : 0;
			d[1] = (uint8_t)sim.part;
			d[4] = (uint8_t)(sim.pos >> 24);
			d[5] = (uint8_t)(sim.pos >> 16);
			d[6] = (uint8_t)(sim.pos >> 8);
			d[7] = (uint8_t)sim.pos;
		}
		return 0;
	case 0x1A:	/* MODE SENSE(6) */
		if (!sim.lto || c[2] != 0x11) {
			h->status = 2;	/* CHECK CONDITION */
			return 0;
		}
		d[0] = 11;
		d[3] = 0;	/* DBD: no block descriptor */
		d[4] = 0x11;
		d[5] = 8;
		d[6] = sim.can_part_hw ? 1 : 0;
		d[7] = (uint8_t)(sim.nparts - 1);
		return 0;
	}
	h->status = 2;
	return 0;
}

static int sim_ioctl(int fd, unsigned long req, void *arg)
{
	if (fd != SIM_FD)
		return fail(EBADF);
	if (req == MTIOCTOP)
		return sim_mtop(arg);
	if (req == MTIOCGET) {
		struct mtget *g = arg;

		memset(g, 0, sizeof(*g));
		g->mt_type = MT_ISSCSI2;
		if (sim.eod_state)
			g->mt_gstat |= GMT_EOD(~0);
		if (sim.pos == 0)
			g->mt_gstat |= GMT_BOT(~0);
		g->mt_resid = sim.part;
		return 0;
	}
	if (req == MTIOCPOS) {
		struct mtpos *p = arg;

		p->mt_blkno = sim.lto && sim.logical ? (long)sim.pos : 0;
		return 0;
	}
	if (req == SG_IO)
		return sim_sg(arg);
	return fail(ENOTTY);
}

static const struct st_transport sim_transport = {
	.open = sim_open,
	.fstat = sim_fstat,
	.ioctl = sim_ioctl,
	.read = sim_read,
	.write = sim_write,
	.close = sim_close,
};

/* ---- helpers ------------------------------------------------------------- */

static uint8_t buf[SIM_MAX_BLOCK];

static struct tape *open_sim(void)
{
	struct tape *t = NULL;
	char err[256] = "";
	int rc = tape_st_open("/dev/nst0", 0, &t, err, sizeof(err));

	if (rc)
		printf("# open: %s (%d)\n", err, rc);
	return t;
}

static bool record_is(const uint8_t *b, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] != pat(seed, i))
			return false;
	return true;
}

static void fill_pattern(uint8_t *b, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pat(seed, i);
}

static uint64_t where(struct tape *t, uint32_t *part)
{
	struct tape_position p = { 99, 99 };

	if (tape_read_position(t, &p) < 0)
		return UINT64_MAX;
	if (part)
		*part = p.partition;
	return p.block;
}

/* ---- tests --------------------------------------------------------------- */

static void test_probe(void)
{
	struct tape *t;

	sim_reset(true, false);
	sim_fill(0, 10, 1000, 0);
	t = open_sim();
	CHECK(t != NULL, "lto with data: opens");
	if (!t)
		return;
	CHECK(ST(t)->native, "lto with data: native mode");
	CHECK(tape_caps(t)->can_locate && tape_caps(t)->can_read_position,
	      "lto: caps say locate and read position");
	CHECK(sim.logical, "st's scsi2logical option was set (logical block addresses)");
	CHECK_EQ(sim.pos, 0, "probe leaves the drive at BOT");
	CHECK_EQ(tape_caps(t)->max_partitions, 1, "drive without partitions: 1");
	tape_close(t);

	sim_reset(true, false);	/* blank: nothing to move over, BOP decides */
	t = open_sim();
	CHECK(t && ST(t)->native, "blank lto: native (READ POSITION reports BOP)");
	tape_close(t);

	sim_reset(true, false);
	sim.rawio = false;	/* blank, and no SG_IO: position unproven */
	t = open_sim();
	CHECK(t && !ST(t)->native, "blank lto without SG_IO: tracked (conservative)");
	tape_close(t);

	sim_reset(true, false);
	sim.rawio = false;
	sim_fill(0, 3, 100, 0);
	t = open_sim();
	CHECK(t && ST(t)->native, "lto with data without SG_IO: native (MTIOCPOS moved)");
	tape_close(t);

	sim_reset(true, false);
	sim.admin = false;	/* cannot set scsi2logical: addresses would be the drive's own */
	sim_fill(0, 3, 100, 0);
	t = open_sim();
	CHECK(t && !ST(t)->native, "st's scsi2logical option not settable (not root): tracked");
	tape_close(t);

	sim_reset(true, false);
	sim.p[0].o[sim.p[0].n++] = (struct sim_obj){ .fm = true };
	sim_fill(0, 3, 100, 0);
	t = open_sim();
	CHECK(t && ST(t)->native, "lto with a filemark first: native");
	tape_close(t);

	sim_reset(false, false);
	sim_fill(0, 10, 1000, 0);
	t = open_sim();
	CHECK(t && !ST(t)->native, "tgt-like (MTIOCPOS always 0): tracked");
	CHECK(t && !tape_caps(t)->can_locate && !tape_caps(t)->can_read_position,
	      "tgt-like: caps say no locate, no read position");
	CHECK_EQ(sim.pos, 0, "tgt-like: left at BOT");
	tape_close(t);

	sim_reset(false, false);
	t = open_sim();
	CHECK(t && !ST(t)->native, "blank tgt-like: tracked");
	tape_close(t);
}

static void test_locate_cost(void)
{
	struct tape *t;
	ssize_t n;

	for (int native = 1; native >= 0; native--) {
		const char *m = native ? "native" : "tracked";

		sim_reset(native, false);
		sim_fill(0, 3000, 512, 500);	/* 3000 records, a filemark every 500 */
		t = open_sim();
		if (!t) {
			CHECK(0, "%s: open", m);
			continue;
		}
		sim_counts_zero();
		/* object 2705: record 2701 counting filemarks 0-based: 5 fms before */
		CHECK_EQ(tape_locate(t, 0, 2705), 0, "%s: locate to block 2705", m);
		if (native) {
			CHECK_EQ(sim.reads, 0, "native: locate reads nothing");
			CHECK_EQ(sim.seeks, 1, "native: locate is one MTSEEK");
		} else {
			CHECK(sim.reads >= 2705, "tracked: locate learns the tape by reading (%u reads)",
			      sim.reads);
		}
		n = tape_read(t, buf, sizeof(buf));
		CHECK_EQ(n, 512, "%s: record read after locate", m);
		CHECK(record_is(buf, 512, sim.p[0].o[2705].seed), "%s: it is object 2705's data", m);
		CHECK_EQ(where(t, NULL), 2706, "%s: position 2706 after reading", m);
		tape_close(t);
	}
}

static void test_native_semantics(void)
{
	struct tape *t;
	const struct tape_status *st;
	uint8_t w[4096];
	ssize_t n;

	sim_reset(true, false);
	t = open_sim();
	CHECK(t && ST(t)->native, "semantics: native");
	if (!t)
		return;
	st = tape_last(t);
	/* A B FM C */
	fill_pattern(w, 3000, 'A');
	CHECK_EQ(tape_write(t, w, 3000), 3000, "write A");
	fill_pattern(w, 100, 'B');
	CHECK_EQ(tape_write(t, w, 100), 100, "write B");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "filemark");
	fill_pattern(w, 4096, 'C');
	CHECK_EQ(tape_write(t, w, 4096), 4096, "write C");
	CHECK_EQ(where(t, NULL), 4, "position 4 after 4 objects");
	CHECK_EQ(sim.p[0].n, 4, "drive holds 4 objects");

	CHECK_EQ(tape_rewind(t), 0, "rewind");
	CHECK_EQ(where(t, NULL), 0, "at 0");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == 3000 && record_is(buf, 3000, 'A'), "read A");
	n = tape_read(t, buf, 50);
	CHECK(n == -EOVERFLOW && st->sense == TAPE_SENSE_RECORD_LENGTH && st->residual == 100,
	      "B into 50 bytes: EOVERFLOW, real length 100 (%zd)", n);
	CHECK(record_is(buf, 50, 'B'), "first 50 bytes of B stored");
	CHECK_EQ(where(t, NULL), 2, "moved past B");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == 0 && st->sense == TAPE_SENSE_FILEMARK, "filemark reads as 0, sense FILEMARK");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == 4096 && record_is(buf, 4096, 'C'), "read C");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == -ENODATA && st->sense == TAPE_SENSE_EOD, "end of data: ENODATA, EOD");
	CHECK_EQ(where(t, NULL), 4, "EOD: position unchanged");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == -ENODATA, "EOD again");

	/* after a filemark, st returns 0 once at EOD: that is not a filemark */
	CHECK_EQ(tape_locate(t, 0, 3), 0, "locate 3");
	fill_pattern(w, 10, 'D');
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "filemark at 3 (cuts C)");
	CHECK_EQ(tape_locate(t, 0, 3), 0, "locate 3 again");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == 0 && st->sense == TAPE_SENSE_FILEMARK, "read the filemark");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == -ENODATA && st->sense == TAPE_SENSE_EOD,
	      "EOD right after a filemark (st's zero read) is EOD, not a filemark (%zd)", n);

	/* write in the middle truncates */
	CHECK_EQ(tape_locate(t, 0, 1), 0, "locate 1");
	CHECK_EQ(tape_write(t, w, 10), 10, "write D at 1");
	CHECK_EQ(sim.p[0].n, 2, "tape ends after D");
	CHECK_EQ(where(t, NULL), 2, "position 2");
	CHECK(tape_locate(t, 0, 3) == -ENODATA && st->sense == TAPE_SENSE_EOD,
	      "locate past EOD: ENODATA, EOD");
	CHECK_EQ(where(t, NULL), 2, "left at EOD");
	CHECK(tape_locate(t, 1, 0) == -EINVAL && st->sense == TAPE_SENSE_ILLEGAL_REQUEST,
	      "no partition 1: EINVAL");
	tape_close(t);
}

static void test_native_space(void)
{
	struct tape *t;
	const struct tape_status *st;
	struct sim_part *sp;
	int rc;

	/* R R R FM R R FM R  (objects 0..7), EOD 8 */
	sim_reset(true, false);
	sim_fill(0, 3, 200, 0);
	sp = &sim.p[0];
	sp->o[sp->n++] = (struct sim_obj){ .fm = true };
	sim_fill(0, 2, 200, 0);
	sp->o[sp->n++] = (struct sim_obj){ .fm = true };
	sim_fill(0, 1, 200, 0);
	t = open_sim();
	CHECK(t && ST(t)->native, "space: native");
	if (!t)
		return;
	st = tape_last(t);

	CHECK_EQ(tape_space(t, TAPE_SPACE_RECORDS, 2), 0, "space 2 records");
	CHECK_EQ(where(t, NULL), 2, "at 2");
	rc = tape_space(t, TAPE_SPACE_RECORDS, 5);
	CHECK(rc == -EIO && st->sense == TAPE_SENSE_FILEMARK && st->residual == 4,
	      "5 records from 2 stop past the filemark: residual 4 (rc %d sense %d res %" PRIu64 ")",
	      rc, st->sense, st->residual);
	CHECK_EQ(where(t, NULL), 4, "just past the filemark");
	rc = tape_space(t, TAPE_SPACE_RECORDS, -3);
	CHECK(rc == -EIO && st->sense == TAPE_SENSE_FILEMARK && st->residual == 3,
	      "3 records back from 4 stop before the filemark: residual 3 (rc %d res %" PRIu64 ")",
	      rc, st->residual);
	CHECK_EQ(where(t, NULL), 3, "on the filemark's BOT side");
	rc = tape_space(t, TAPE_SPACE_RECORDS, -5);
	CHECK(rc == -EIO && st->sense == TAPE_SENSE_BOT && st->residual == 2,
	      "5 records back from 3: BOT, residual 2 (rc %d sense %d res %" PRIu64 ")",
	      rc, st->sense, st->residual);
	CHECK_EQ(where(t, NULL), 0, "at 0");
	rc = tape_space(t, TAPE_SPACE_RECORDS, -1);
	CHECK(rc == -EIO && st->sense == TAPE_SENSE_BOT && st->residual == 1, "back from 0: BOT");

	CHECK_EQ(tape_space(t, TAPE_SPACE_FILEMARKS, 2), 0, "space 2 filemarks");
	CHECK_EQ(where(t, NULL), 7, "past the second filemark");
	rc = tape_space(t, TAPE_SPACE_FILEMARKS, -2);
	CHECK_EQ(rc, 0, "2 filemarks back");
	CHECK_EQ(where(t, NULL), 3, "before the first filemark");
	rc = tape_space(t, TAPE_SPACE_FILEMARKS, 3);
	CHECK(rc == -ENODATA && st->sense == TAPE_SENSE_EOD && st->residual == 1,
	      "3 filemarks from 3: EOD after 2, residual 1 (rc %d res %" PRIu64 ")", rc, st->residual);
	CHECK_EQ(where(t, NULL), 8, "at EOD");
	rc = tape_space(t, TAPE_SPACE_FILEMARKS, -5);
	CHECK(rc == -EIO && st->sense == TAPE_SENSE_BOT && st->residual == 3,
	      "5 filemarks back from EOD: BOT after 2, residual 3 (rc %d res %" PRIu64 ")",
	      rc, st->residual);
	CHECK_EQ(where(t, NULL), 0, "at 0");
	rc = tape_space(t, TAPE_SPACE_RECORDS, 20);
	CHECK(rc == -EIO && st->sense == TAPE_SENSE_FILEMARK, "records forward stop at the first filemark");
	CHECK_EQ(tape_locate(t, 0, 7), 0, "locate 7");
	rc = tape_space(t, TAPE_SPACE_RECORDS, 3);
	CHECK(rc == -ENODATA && st->sense == TAPE_SENSE_EOD && st->residual == 2,
	      "3 records from 7: EOD after 1, residual 2 (rc %d res %" PRIu64 ")", rc, st->residual);
	CHECK_EQ(where(t, NULL), 8, "at EOD");
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	sim_counts_zero();
	CHECK_EQ(tape_space(t, TAPE_SPACE_EOD, 0), 0, "space to EOD");
	CHECK_EQ(where(t, NULL), 8, "at 8");
	CHECK_EQ(sim.reads, 0, "EOD found without reading");
	/* a write at EOD after MTEOM works (st's end state cleared) */
	fill_pattern(buf, 64, 'Z');
	CHECK_EQ(tape_write(t, buf, 64), 64, "append at EOD");
	CHECK_EQ(sim.p[0].n, 9, "9 objects");
	tape_close(t);
}

static void test_native_errors(void)
{
	struct tape *t;
	const struct tape_status *st;
	ssize_t n;

	sim_reset(true, false);
	sim_fill(0, 100, 300, 0);
	sim.bad_seek_from = 50;
	t = open_sim();
	CHECK(t && ST(t)->native, "errors: native");
	if (!t)
		return;
	st = tape_last(t);
	CHECK_EQ(tape_locate(t, 0, 20), 0, "locate 20");
	n = tape_locate(t, 0, 60);
	CHECK(n == -EIO && st->sense != TAPE_SENSE_EOD,
	      "a failed MTSEEK inside the data is an error, not EOD (%zd, sense %d)", n, st->sense);
	CHECK_EQ(where(t, NULL), 20, "the drive is where it stayed");
	sim.bad_seek_from = 0;
	sim.bad_record = 1 + 25;
	n = tape_space(t, TAPE_SPACE_RECORDS, 10);
	CHECK(n == -EIO && st->sense == TAPE_SENSE_MEDIUM_ERROR,
	      "SPACE stopped by a bad record (not a filemark): medium error (%zd, sense %d)", n, st->sense);
	sim.bad_record = 0;

	/* a full tape: the write is refused and nothing lands */
	CHECK_EQ(tape_locate(t, 0, 100), 0, "locate EOD");
	sim.cap = 101;
	fill_pattern(buf, 300, 'x');
	CHECK_EQ(tape_write(t, buf, 300), 300, "write up to capacity");
	n = tape_write(t, buf, 300);
	CHECK(n == -ENOSPC && st->sense == TAPE_SENSE_EOM, "full: ENOSPC, EOM (%zd)", n);
	CHECK_EQ(sim.p[0].n, 101, "nothing more written");
	CHECK_EQ(where(t, NULL), 101, "position unchanged");
	/* a drive that stores the record and still says ENOSPC (tgt past capacity) */
	sim.store_then_enospc = true;
	n = tape_write(t, buf, 300);
	CHECK(n == 300 && st->sense == TAPE_SENSE_EARLY_WARNING,
	      "ENOSPC but the record landed: written, EARLY_WARNING (%zd, sense %d)", n, st->sense);
	CHECK_EQ(sim.p[0].n, 102, "the record is on tape once");
	CHECK_EQ(where(t, NULL), 102, "position past it");
	tape_close(t);
}

static void test_native_partitions(void)
{
	struct tape *t;
	struct tape_medium m;
	uint64_t sizes[2] = { 20000000, 0 };
	uint32_t part = 9;
	ssize_t n;

	sim_reset(true, true);
	t = open_sim();
	CHECK(t && ST(t)->native, "partitions: native");
	if (!t)
		return;
	CHECK(sim.can_partitions, "st's can-partitions option set");
	CHECK_EQ(tape_caps(t)->max_partitions, 2, "drive that can partition: max 2");
	CHECK(tape_caps(t)->can_format, "can format");
	CHECK(tape_medium_info(t, &m) == 0 && m.partitions == 1, "medium has 1 partition");
	CHECK_EQ(tape_locate(t, 1, 0), -EINVAL, "partition 1 does not exist yet");

	CHECK_EQ(tape_format(t, 2, sizes), 0, "format into 2 partitions");
	CHECK_EQ(sim.mkparts, 1, "one MTMKPART");
	CHECK_EQ(sim.nparts, 2, "drive has 2 partitions");
	CHECK(tape_medium_info(t, &m) == 0 && m.partitions == 2, "medium_info: 2 partitions");

	fill_pattern(buf, 500, 'i');
	CHECK_EQ(tape_write(t, buf, 500), 500, "write to partition 0");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "filemark in partition 0");
	CHECK_EQ(tape_locate(t, 1, 0), 0, "locate partition 1");
	CHECK_EQ(sim.part, 1, "drive in partition 1");
	fill_pattern(buf, 700, 'd');
	CHECK_EQ(tape_write(t, buf, 700), 700, "write d0");
	fill_pattern(buf, 800, 'e');
	CHECK_EQ(tape_write(t, buf, 800), 800, "write d1");
	CHECK_EQ(where(t, &part), 2, "partition 1 block 2");
	CHECK_EQ(part, 1, "read_position says partition 1");
	CHECK_EQ(sim.p[1].n, 2, "partition 1 holds 2 records");
	CHECK_EQ(sim.p[0].n, 2, "partition 0 untouched");

	CHECK_EQ(tape_locate(t, 0, 0), 0, "back to partition 0");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == 500 && record_is(buf, 500, 'i'), "partition 0 record");
	CHECK_EQ(where(t, &part), 1, "p0 block 1");
	CHECK_EQ(part, 0, "partition 0");
	CHECK_EQ(tape_locate(t, 1, 1), 0, "locate p1 b1");
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == 800 && record_is(buf, 800, 'e'), "partition 1 second record");
	CHECK_EQ(tape_space(t, TAPE_SPACE_EOD, 0), 0, "EOD of partition 1");
	CHECK_EQ(where(t, &part), 2, "EOD of p1 is 2");
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	CHECK_EQ(where(t, &part), 0, "rewind: block 0");
	CHECK_EQ(part, 0, "rewind: partition 0");
	CHECK_EQ(tape_format(t, 1, sizes), 0, "back to 1 partition");
	CHECK(tape_medium_info(t, &m) == 0 && m.partitions == 1, "1 partition again");
	tape_close(t);

	sim_reset(false, true);
	t = open_sim();
	CHECK(t && tape_caps(t)->max_partitions == 1 && !tape_caps(t)->can_format,
	      "tracked mode: no partitions, no format");
	CHECK(!sim.can_partitions, "tracked mode leaves st's can-partitions option alone");
	tape_close(t);

	sim_reset(true, false);
	sim_fill(0, 5, 100, 0);
	t = open_sim();
	CHECK(t && ST(t)->native && !sim.can_partitions,
	      "native drive without partition support: can-partitions left off");
	tape_close(t);

	/* not root: no mode page, the option was set by the administrator */
	sim_reset(true, true);
	sim.nparts = 2;
	sim_fill(0, 5, 100, 0);
	sim.rawio = false;
	sim.can_partitions = true;
	t = open_sim();
	CHECK(t && ST(t)->native, "2-partition tape without SG_IO: native");
	CHECK(t && tape_medium_info(t, &m) == 0 && m.partitions == 2,
	      "2 partitions found by MTSETPART");
	CHECK(t && tape_caps(t)->max_partitions == 2 && !tape_caps(t)->can_format,
	      "without the mode page: partitions usable, formatting not offered");
	tape_close(t);
}

int main(void)
{
	st_xport = sim_transport;
	test_probe();
	test_locate_cost();
	test_native_semantics();
	test_native_space();
	test_native_errors();
	test_native_partitions();
	for (int i = 0; i < 2; i++)
		free(sim.p[i].o);
	return tap_done();
}
