// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tapedma-queue - write-behind through the tapedma backend: records queued
 * with tape_write_queued() from a registered arena go to the drive as
 * uring_cmd WRITE(6)s with fixed buffers, several outstanding, and
 *  1. 48 MiB of records of mixed sizes and alignments read back byte for
 *     byte and in order, with end of data after them, and the module's
 *     bytes_copied did not move (bytes_zero_copy grew by all of it);
 *  2. the early warning of a full tape (tgt: NO SENSE + EOM, data written)
 *     is reported by the queue on the record the synchronous path reports
 *     it on (the same records written again with tape_write());
 *  3. a record the drive refuses (the host makes the LU read-only while
 *     records are queued: DATA PROTECT) becomes the deferred error EROFS
 *     on that very record; nothing after it is written, the position is
 *     right after the last record written, and later writes are refused
 *     with the same error;
 *  4. a record the drive fails (the host puts the tape on a full disk:
 *     MEDIUM ERROR) becomes the deferred EIO of that record, nothing after
 *     it is retired, the position is unknown until a rewind, and the
 *     records before it are intact.
 *
 * Talks to the host for parts 3 and 4: "@@TAPE-READONLY 1|0" and
 * "@@TAPE-SMALLDISK MB" on stdout (ttyS1), the answer "ok" on ttyS2
 * (tests/vm/run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "tap.h"
#include "tape/tape.h"
#include "tapedma.h"

#define MiB (1u << 20)
#define ARENA (16u * MiB)
#define HALF (ARENA / 2)
#define STATS "/sys/class/tapedma/tapedma0/stats/"

static uint8_t *arena, *rbuf;
static long tape_mb;

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(seed + i);
}

static int same(const uint8_t *p, size_t len, uint32_t seed)
{
	static uint8_t *want;

	if (!want && !(want = malloc(2 * MiB)))
		return 0;
	fill(want, len, seed);
	return memcmp(p, want, len) == 0;
}

static unsigned long long stat_of(const char *name)
{
	char path[128];
	unsigned long long v = ~0ull;
	FILE *f;

	snprintf(path, sizeof(path), STATS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return ~0ull;
	if (fscanf(f, "%llu", &v) != 1)
		v = ~0ull;
	fclose(f);
	return v;
}

/*
 * Send "@@WHAT ARG" to the host (tests/vm/run) and wait up to a minute for
 * its "ok" on ttyS2.  The port is opened first: a serial port nobody has
 * open drops what arrives, and the answer may come quickly.
 */
static int host_request(const char *what, int arg)
{
	char ans[64];
	size_t got = 0;
	int fd = open("/dev/ttyS2", O_RDONLY | O_NOCTTY);

	if (fd < 0)
		return -1;
	tcflush(fd, TCIFLUSH);	/* nothing stale */
	printf("@@%s %d\n", what, arg);
	fflush(stdout);
	while (got + 1 < sizeof(ans)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 60000) <= 0)
			break;
		n = read(fd, ans + got, 1);
		if (n <= 0)
			break;
		if (ans[got] == '\n')
			break;
		if (ans[got] != '\r')
			got++;
	}
	ans[got] = 0;
	close(fd);
	if (strcmp(ans, "ok") != 0) {
		printf("# host answered '%s' to %s %d\n", ans, what, arg);
		return -1;
	}
	return 0;
}

/* Ask the host to make the LU read-only (1) or writable (0). */
static int host_readonly(int on)
{
	return host_request("TAPE-READONLY", on);
}

static struct tape *open_tape(void)
{
	char err[256] = "";
	struct tape *t = NULL;
	int rc = tape_open("/dev/tapedma0", 0, &t, err, sizeof(err));

	if (rc < 0)
		printf("# open /dev/tapedma0: %d %s\n", rc, err);
	return t;
}

/*
 * Where record i goes: the arena is two halves used in turn; a record
 * must not start in a half whose earlier records are still in flight.
 */
struct placer {
	size_t off;
	int half;
	uint64_t last_seq[2];	/* last record placed in each half */
};

static uint8_t *place(struct tape *t, struct placer *pl, size_t len, size_t align)
{
	size_t off = (pl->off + align - 1) & ~(align - 1);

	if (off + len > (size_t)(pl->half + 1) * HALF) {
		pl->half ^= 1;
		off = (size_t)pl->half * HALF;
		if (pl->last_seq[pl->half])
			tape_queue_reap(t, pl->last_seq[pl->half], NULL);
	}
	pl->off = off + len;
	return arena + off;
}

/* 1: mixed records, read back, nothing copied. */
static const uint32_t mix[] = {
	524288, 100000, MiB, 4096, 262156, 65536, 524288, 8, 777777, 1048572, 4,
	524288, 524288, 300000,
};
#define NMIX (sizeof(mix) / sizeof(mix[0]))

static void part_mixed(struct tape *t)
{
	unsigned long long copied0 = stat_of("bytes_copied"), zc0 = stat_of("bytes_zero_copy");
	unsigned long long total = 0, copied1, zc1;
	struct placer pl = { 0 };
	struct tape_queue_state st;
	unsigned n = 0, i, bad = ~0u, nrec;
	uint64_t seq = 0, want_seq;
	int rc;

	tape_queue_reap(t, 0, &st);
	want_seq = st.queued + 1;
	for (i = 0; total < 48ull * MiB; i++) {
		uint32_t len = mix[i % NMIX];
		/* every third record starts mid-page (4-byte aligned) */
		uint8_t *p = place(t, &pl, len, i % 3 == 2 ? 4 : 4096);
		ssize_t r;

		fill(p, len, i);
		r = tape_write_queued(t, p, len, &seq);
		if (r != (ssize_t)len || seq != want_seq) {
			printf("# queued write %u: %zd (%s), seq %llu\n", i, r,
			       tape_sense_name(tape_last(t)->sense), (unsigned long long)seq);
			i++;
			break;
		}
		pl.last_seq[pl.half] = seq;
		want_seq++;
		total += len;
		n++;
	}
	nrec = i;
	CHECK_EQ(n, nrec, "%u records (%llu MiB) of %u sizes queued", nrec, total >> 20,
		 (unsigned)NMIX);
	rc = tape_queue_reap(t, 0, &st);
	CHECK(rc == 0 && st.queued == n && !st.error,
	      "non-blocking reap: %llu of %llu retired so far, no error",
	      (unsigned long long)st.retired, (unsigned long long)st.queued);
	rc = tape_queue_reap(t, st.queued, &st);
	CHECK(rc == 0 && st.retired == n && !st.error && !st.early_warning,
	      "blocking reap: all %u retired, no error, no early warning", n);
	CHECK(tape_write_filemarks(t, 1) == 0, "a filemark after them");
	copied1 = stat_of("bytes_copied");
	zc1 = stat_of("bytes_zero_copy");
	CHECK(copied1 == copied0 && copied0 != ~0ull,
	      "the module copied nothing (bytes_copied %llu -> %llu)", copied0, copied1);
	CHECK(zc1 != ~0ull && zc1 - zc0 >= total,
	      "bytes_zero_copy grew by all the data (%llu, wrote %llu)", zc1 - zc0, total);

	CHECK(tape_rewind(t) == 0, "rewind");
	for (i = 0; i < n; i++) {
		ssize_t r = tape_read(t, rbuf, 2 * MiB);

		if (r != (ssize_t)mix[i % NMIX] || !same(rbuf, (size_t)r, i)) {
			bad = i;
			printf("# record %u: read %zd (want %u), sense %s\n", i, r, mix[i % NMIX],
			       tape_sense_name(tape_last(t)->sense));
			break;
		}
	}
	CHECK(bad == ~0u, "all %u records read back intact, in order", n);
	CHECK(tape_read(t, rbuf, 2 * MiB) == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK,
	      "then the filemark");
	CHECK(tape_read(t, rbuf, 2 * MiB) == -ENODATA, "then end of data");
}

/* 2: early warning at the end of a small tape, queued and synchronous. */
#define EW_REC (256u << 10)

static void part_early_warning(struct tape *t)
{
	uint64_t below = 0, above = UINT64_MAX, seq = 0, i, limit, e = 0, written = 0, base;
	struct tape_queue_state st;
	struct placer pl = { 0 };
	bool ew = false;
	int rc;

	limit = (uint64_t)tape_mb * MiB / EW_REC * 2 + 64;
	tape_queue_reap(t, 0, &st);
	base = st.queued;	/* records are numbered for the life of the handle */
	CHECK(tape_rewind(t) == 0, "rewind for the full-tape part");
	for (i = 0; i < limit; i++) {
		uint8_t *p = place(t, &pl, EW_REC, 4096);
		ssize_t r;

		fill(p, 64, (uint32_t)i);	/* only the head is checked later */
		r = tape_write_queued(t, p, EW_REC, &seq);
		if (r != (ssize_t)EW_REC) {
			printf("# queued write %llu: %zd (%s)\n", (unsigned long long)i, r,
			       tape_sense_name(tape_last(t)->sense));
			break;
		}
		pl.last_seq[pl.half] = seq;
		tape_queue_reap(t, 0, &st);
		if (!st.early_warning && st.retired - base > below)
			below = st.retired - base;
		if (st.early_warning && st.retired - base < above)
			above = st.retired - base;
		if (st.early_warning && !ew) {
			ew = true;
			limit = i + 9;	/* a few more past the warning */
		}
	}
	rc = tape_queue_reap(t, seq, &st);
	if (st.early_warning && st.retired - base < above)
		above = st.retired - base;
	written = st.retired - base;
	CHECK(rc == 0 && ew && st.early_warning && st.retired == seq && !st.error,
	      "queued writes ran into early warning; all %llu retired, no error",
	      (unsigned long long)written);

	/*
	 * Past the warning every record breaks its chain (CHECK CONDITION),
	 * and the records behind it are sent again: all in order?
	 */
	CHECK(tape_rewind(t) == 0, "rewind");
	for (i = 0; i < written; i++) {
		ssize_t r = tape_read(t, rbuf, 2 * MiB);

		if (r != (ssize_t)EW_REC || !same(rbuf, 64, (uint32_t)i))
			break;
	}
	CHECK(i == written && tape_read(t, rbuf, 2 * MiB) == -ENODATA,
	      "all %llu records, also those past the warning, read back in order, then "
	      "end of data (%llu)", (unsigned long long)written, (unsigned long long)i);

	/* the same records again, synchronously: which one meets the warning? */
	CHECK(tape_rewind(t) == 0, "rewind");
	for (i = 0; i < written; i++) {
		ssize_t r;

		fill(rbuf, 64, (uint32_t)i);
		r = tape_write(t, rbuf, EW_REC);
		if (r != (ssize_t)EW_REC)
			break;
		if (tape_last(t)->sense == TAPE_SENSE_EARLY_WARNING) {
			e = i + 1;
			break;
		}
	}
	CHECK(e > 0 && e * EW_REC >= (uint64_t)tape_mb * MiB * 8 / 10,
	      "synchronously, record %llu meets the warning (%llu MiB of %ld)",
	      (unsigned long long)e, (unsigned long long)(e * EW_REC >> 20), tape_mb);
	CHECK(below < e && e <= above,
	      "the queue said no warning with %llu retired and warning with %llu: "
	      "consistent with record %llu", (unsigned long long)below,
	      (unsigned long long)above, (unsigned long long)e);
}

/* 3: a record refused by the drive while others are queued. */
#define RO_BEFORE 8
#define RO_AFTER 8

static void part_deferred_error(struct tape *t)
{
	struct tape_queue_state st;
	struct tape_position pos = { 0, 0 };
	struct placer pl = { 0 };
	uint64_t seq = 0, first_bad;
	ssize_t r;
	int i, rc, got;

	CHECK(tape_rewind(t) == 0, "rewind for the refused-record part");
	for (i = 0; i < RO_BEFORE; i++) {
		uint8_t *p = place(t, &pl, 512000, 4096);

		fill(p, 512000, 1000u + (unsigned)i);
		if (tape_write_queued(t, p, 512000, &seq) != 512000)
			break;
	}
	rc = tape_queue_reap(t, seq, &st);
	CHECK(i == RO_BEFORE && rc == 0 && st.retired == seq,
	      "%d records queued and retired (numbers %llu..%llu)", RO_BEFORE,
	      (unsigned long long)seq - RO_BEFORE + 1, (unsigned long long)seq);
	first_bad = seq + 1;
	if (host_readonly(1) < 0) {
		CHECK(0, "the host made the LU read-only");
		host_readonly(0);	/* in case it did */
		return;
	}
	for (i = 0; i < RO_AFTER; i++) {
		uint8_t *p = place(t, &pl, 512000, 4096);

		fill(p, 512000, 2000u + (unsigned)i);
		r = tape_write_queued(t, p, 512000, &seq);
		if (r != 512000)
			break;	/* the error may show up already */
	}
	rc = tape_queue_reap(t, UINT64_MAX, &st);
	CHECK(rc == -EROFS && st.error == -EROFS && st.error_seq == first_bad &&
	      st.error_sense == TAPE_SENSE_WRITE_PROTECT && st.retired == first_bad - 1,
	      "read-only LU: deferred EROFS / WRITE_PROTECT on record %llu, %llu retired "
	      "(rc %d, error %d on %llu, sense %s, retired %llu)",
	      (unsigned long long)first_bad, (unsigned long long)first_bad - 1, rc, st.error,
	      (unsigned long long)st.error_seq, tape_sense_name(st.error_sense),
	      (unsigned long long)st.retired);
	r = tape_write_queued(t, arena, 4096, &seq);
	CHECK(r == -EROFS && tape_last(t)->sense == TAPE_SENSE_WRITE_PROTECT,
	      "a queued write after it is refused with the same error (%zd)", r);
	r = tape_write(t, arena, 4096);
	CHECK(r == -EROFS, "so is a synchronous write (%zd)", r);
	CHECK(host_readonly(0) == 0, "the host made the LU writable again");
	r = tape_write_queued(t, arena, 4096, &seq);
	CHECK(r == -EROFS, "the error is sticky for the handle (%zd)", r);
	rc = tape_read_position(t, &pos);
	CHECK(rc == 0 && pos.block == RO_BEFORE,
	      "position: right after the last record written (%d, block %llu)", rc,
	      (unsigned long long)pos.block);
	CHECK(tape_rewind(t) == 0, "rewind");
	for (got = 0; got < RO_BEFORE + RO_AFTER; got++) {
		r = tape_read(t, rbuf, 2 * MiB);
		if (r != 512000 || !same(rbuf, 512000, 1000u + (unsigned)got))
			break;
	}
	r = tape_read(t, rbuf, 2 * MiB);
	CHECK(got == RO_BEFORE && r == -ENODATA,
	      "the tape holds the %d records before it and then end of data (%d, then %zd)",
	      RO_BEFORE, got, r);
}

/*
 * 4: a medium error: the host puts a blank tape on a filesystem of
 * SMALLDISK_MB MiB, and tgt's write that finds it full fails with MEDIUM
 * ERROR (write error).  Deferred EIO on that record, nothing retired after
 * it, the position unknown (the drive may have written part of it: tgt
 * has, and cannot tell where it is), the records before it intact.
 */
#define SMALLDISK_MB 8
#define MED_REC 512000

static struct tape *part_medium_error(struct tape *t)
{
	struct tape_position pos;
	struct tape_queue_state st;
	struct placer pl = { 0 };
	uint64_t seq = 0, base, bad;
	ssize_t r;
	int i, rc;

	tape_close(t);
	if (host_request("TAPE-SMALLDISK", SMALLDISK_MB) < 0) {
		CHECK(0, "the host loaded a tape on a %d MiB filesystem", SMALLDISK_MB);
		return NULL;
	}
	t = open_tape();
	if (!t || tape_register_arena(t, arena, ARENA) < 0) {
		CHECK(0, "reopen with an arena on the small-disk tape");
		return t;
	}
	tape_queue_reap(t, 0, &st);
	base = st.queued;
	for (i = 0; i < 4 * SMALLDISK_MB * (int)MiB / MED_REC; i++) {
		uint8_t *p = place(t, &pl, MED_REC, 4096);

		fill(p, MED_REC, 3000u + (unsigned)i);
		r = tape_write_queued(t, p, MED_REC, &seq);
		if (r != MED_REC)
			break;	/* the failure already showed up */
		pl.last_seq[pl.half] = seq;
	}
	rc = tape_queue_reap(t, UINT64_MAX, &st);
	bad = st.error_seq - base;
	CHECK(rc == -EIO && st.error == -EIO && st.error_sense == TAPE_SENSE_MEDIUM_ERROR &&
	      st.retired == st.error_seq - 1 && bad >= SMALLDISK_MB * MiB / MED_REC / 2 &&
	      bad <= SMALLDISK_MB * MiB / MED_REC + 2,
	      "full host disk: deferred EIO / MEDIUM_ERROR on record %llu of this tape, "
	      "the ones before retired (rc %d, sense %s, retired %llu)",
	      (unsigned long long)bad, rc, tape_sense_name(st.error_sense),
	      (unsigned long long)(st.retired - base));
	r = tape_write_queued(t, arena, 4096, &seq);
	CHECK(r == -EIO && tape_last(t)->sense == TAPE_SENSE_MEDIUM_ERROR,
	      "a queued write after it is refused with the same error (%zd)", r);
	rc = tape_read_position(t, &pos);
	CHECK(rc < 0, "the position is unknown after a medium error (%d)", rc);
	CHECK(tape_rewind(t) == 0, "rewind (the position is known again)");
	for (i = 0; i + 1 < (int)bad; i++) {
		r = tape_read(t, rbuf, 2 * MiB);
		if (r != MED_REC || !same(rbuf, MED_REC, 3000u + (unsigned)i))
			break;
	}
	CHECK(i + 1 == (int)bad, "the %llu records before it read back intact (%d)",
	      (unsigned long long)bad - 1, i);
	/*
	 * tgt keeps a record whose write failed (its header goes to the disk
	 * before the data), so the failed one may be there; what must not be
	 * is anything queued after it.
	 */
	r = tape_read(t, rbuf, 2 * MiB);
	printf("# where the failed record was, tgt gives: %zd (%s)\n", r,
	       tape_sense_name(tape_last(t)->sense));
	if (r > 0)
		r = tape_read(t, rbuf, 2 * MiB);
	CHECK(!(r == MED_REC && same(rbuf, MED_REC, 3000u + (unsigned)bad)),
	      "no record queued after the failed one is on the tape (next read: %zd, %s)", r,
	      tape_sense_name(tape_last(t)->sense));
	return t;
}

int main(void)
{
	const char *mb = getenv("FUSETAPE_TAPE_MB");
	struct tape *t;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tape_mb = mb ? atol(mb) : 0;
	if (!getenv("FUSETAPE_TAPEDMA")) {
		printf("ok 1 - write-behind # SKIP no /dev/tapedma0\n");
		return 0;
	}
	arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED || posix_memalign((void **)&rbuf, 4096, 2 * MiB)) {
		printf("not ok 1 - memory\n");
		return 1;
	}
	t = open_tape();
	if (!t) {
		CHECK(0, "open /dev/tapedma0");
		return tap_done();
	}
	rc = tape_register_arena(t, arena, ARENA);
	CHECK(rc == 0 && tape_queue_async(t), "a %u MiB arena registered: writes in flight (%d)",
	      ARENA >> 20, rc);
	if (rc == 0) {
		part_mixed(t);
		if (tape_mb > 0 && tape_mb <= 128)
			part_early_warning(t);
		else
			SKIP("the tape is too big to fill", "early warning (%ld MiB tape)", tape_mb);
		part_deferred_error(t);
		t = part_medium_error(t);
	}
	if (!t)
		return tap_done();
	CHECK(tape_close(t) == 0, "close");
	CHECK(stat_of("pages_pinned_now") == 0, "no page left pinned");
	return tap_done();
}
