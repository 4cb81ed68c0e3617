/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * st-basic.c - the st backend (tape_st.c) against a real st device: the
 * tgt-emulated drive of the VM rig, whose quirks (READ POSITION always 0,
 * no LOCATE, phantom zero buffer at end of data, data loss for buffers
 * between one and two records long, filemarks st writes on its own) the
 * backend must hide.  Every record is compared byte for byte.
 *
 * Runs in the guest (tests/vm/run); FUSETAPE_TAPE names the device.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape/tape.h"
#include "tap.h"

static const char *dev;
static uint8_t *want, *got;

/* Record i's content: a pseudo-random pattern of its own. */
static void pattern(uint8_t *b, size_t len, uint32_t seed)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 32);
	}
}

static struct tape *open_tape(unsigned flags)
{
	char err[256];
	struct tape *t = NULL;
	int rc = tape_open(dev, flags, &t, err, sizeof(err));

	CHECK(rc == 0 && t, "open %s (%s)", dev, rc ? err : "ok");
	if (!t) {
		tap_done();
		exit(1);
	}
	return t;
}

static uint64_t position(struct tape *t)
{
	struct tape_position p = { 99, 99 };

	if (tape_read_position(t, &p) < 0 || p.partition != 0)
		return UINT64_MAX;
	return p.block;
}

/* Read the record at the current position and compare it with record seed. */
static void expect_record(struct tape *t, size_t len, uint32_t seed, const char *what)
{
	ssize_t n = tape_read(t, got, TAPE_RECORD_MAX_SUPPORTED);

	pattern(want, len, seed);
	CHECK(n == (ssize_t)len && memcmp(got, want, len) == 0,
	      "%s: %zu-byte record reads back identical (got %zd, %s)", what, len, n,
	      n < 0 ? tape_sense_name(tape_last(t)->sense) : "data");
}

static void expect_filemark(struct tape *t, const char *what)
{
	ssize_t n = tape_read(t, got, TAPE_RECORD_MAX_SUPPORTED);

	CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK,
	      "%s: filemark (got %zd, %s)", what, n, tape_sense_name(tape_last(t)->sense));
}

static void expect_eod(struct tape *t, const char *what)
{
	ssize_t n = tape_read(t, got, TAPE_RECORD_MAX_SUPPORTED);

	CHECK(n == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD,
	      "%s: end of data (got %zd, %s)", what, n, tape_sense_name(tape_last(t)->sense));
}

static void write_record(struct tape *t, size_t len, uint32_t seed)
{
	ssize_t n;

	pattern(want, len, seed);
	n = tape_write(t, want, len);
	CHECK(n == (ssize_t)len, "write a %zu-byte record (got %zd, %s)", len, n,
	      tape_sense_name(tape_last(t)->sense));
}

/*
 * The layout written first:
 *   0 R0 100000   1 R1 4096   2 R2 600000   3 FM   4 R4 max_record
 *   5 R5 10       6 FM        7 FM          8 R8 5000          9 EOD
 * R2 is above half of tgt's 1 MiB limit (its data-loss window) and above
 * the backend's first read size; R4 is the largest record the drive takes.
 */
static size_t len_of[9];

int main(void)
{
	struct tape *t;
	const struct tape_caps *c;
	struct tape_medium m;
	struct tape_attr attr;
	size_t max;
	ssize_t n;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	dev = getenv("FUSETAPE_TAPE");
	if (!dev)
		dev = "/dev/nst0";
	want = malloc(TAPE_RECORD_MAX_SUPPORTED);
	got = malloc(TAPE_RECORD_MAX_SUPPORTED);
	if (!want || !got)
		return 1;

	t = open_tape(0);
	c = tape_caps(t);
	CHECK(strcmp(tape_backend_name(t), "st") == 0, "backend is st (%s)", tape_backend_name(t));
	CHECK(strcmp(tape_identity(t)->vendor, "IET") == 0 &&
	      strcmp(tape_identity(t)->product, "VIRTUAL-TAPE") == 0,
	      "identity from sysfs: '%s' '%s' rev '%s' serial '%s'", tape_identity(t)->vendor,
	      tape_identity(t)->product, tape_identity(t)->revision, tape_identity(t)->serial);
	CHECK(c->max_record == 1u << 20 && c->min_record == 4,
	      "block limits from READ BLOCK LIMITS: %u..%u", c->min_record, c->max_record);
	CHECK(c->max_partitions == 1 && !c->has_mam && !c->can_locate && !c->can_format,
	      "caps: one partition, no MAM, no LOCATE, no FORMAT");
	max = c->max_record;
	CHECK_EQ(position(t), 0, "open leaves the tape at BOT");
	n = tape_read(t, got, max);
	CHECK(n == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD,
	      "the rig gave a blank tape: end of data at BOT (got %zd)", n);

	len_of[0] = 100000;
	len_of[1] = 4096;
	len_of[2] = 600000;
	len_of[4] = max;
	len_of[5] = 10;
	len_of[8] = 5000;
	write_record(t, len_of[0], 0);
	write_record(t, len_of[1], 1);
	write_record(t, len_of[2], 2);
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "write a filemark");
	write_record(t, len_of[4], 4);
	write_record(t, len_of[5], 5);
	CHECK_EQ(tape_write_filemarks(t, 2), 0, "write two filemarks");
	write_record(t, len_of[8], 8);
	CHECK_EQ(position(t), 9, "position after writing 9 objects");
	CHECK_EQ(tape_flush(t), 0, "flush");
	CHECK_EQ(position(t), 9, "flush does not move");

	/* Read it all back. */
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	expect_record(t, len_of[0], 0, "object 0");
	expect_record(t, len_of[1], 1, "object 1");
	expect_record(t, len_of[2], 2, "object 2");
	expect_filemark(t, "object 3");
	expect_record(t, len_of[4], 4, "object 4");
	expect_record(t, len_of[5], 5, "object 5");
	expect_filemark(t, "object 6");
	expect_filemark(t, "object 7");
	expect_record(t, len_of[8], 8, "object 8");
	expect_eod(t, "object 9");
	expect_eod(t, "object 9 again");
	CHECK_EQ(position(t), 9, "a read at EOD does not move");

	/* A buffer shorter than the record: first bytes, the real length. */
	CHECK_EQ(tape_locate(t, 0, 0), 0, "locate back to 0");
	memset(got, 0, 1000);
	n = tape_read(t, got, 1000);
	pattern(want, len_of[0], 0);
	CHECK(n == -EOVERFLOW && tape_last(t)->sense == TAPE_SENSE_RECORD_LENGTH &&
	      tape_last(t)->residual == len_of[0] && memcmp(got, want, 1000) == 0,
	      "short buffer: -EOVERFLOW, residual %" PRIu64 ", first 1000 bytes right (got %zd)",
	      tape_last(t)->residual, n);
	CHECK_EQ(position(t), 1, "short read moves past the record");
	/* A buffer between one and two records long: tgt's data-loss window. */
	CHECK_EQ(tape_locate(t, 0, 2), 0, "locate to 2");
	n = tape_read(t, got, 900000);
	pattern(want, len_of[2], 2);
	CHECK(n == (ssize_t)len_of[2] && memcmp(got, want, len_of[2]) == 0,
	      "600000-byte record through a 900000-byte buffer is intact (got %zd)", n);
	CHECK_EQ(tape_locate(t, 0, 1), 0, "locate to 1");
	n = tape_read(t, got, 4096);
	pattern(want, 4096, 1);
	CHECK(n == 4096 && memcmp(got, want, 4096) == 0,
	      "4096-byte record through a buffer of exactly 4096 bytes (got %zd)", n);
	CHECK_EQ(tape_locate(t, 0, 1), 0, "locate to 1");
	n = tape_read(t, got, 5000);
	CHECK(n == 4096 && memcmp(got, want, 4096) == 0,
	      "4096-byte record through a 5000-byte buffer (got %zd)", n);
	n = tape_read(t, got, 2 * 600000 - 1);
	pattern(want, len_of[2], 2);
	CHECK(n == (ssize_t)len_of[2] && memcmp(got, want, len_of[2]) == 0,
	      "600000-byte record through a buffer one byte short of twice it (got %zd)", n);
	CHECK_EQ(tape_locate(t, 0, 2), 0, "locate to 2");
	n = tape_read(t, got, 600000 - 1);
	CHECK(n == -EOVERFLOW && tape_last(t)->residual == 600000 && memcmp(got, want, 600000 - 1) == 0,
	      "600000-byte record through a buffer one byte short: -EOVERFLOW, residual %" PRIu64 ", data right",
	      tape_last(t)->residual);
	expect_filemark(t, "then the filemark at 3");

	/* Space. */
	tape_rewind(t);
	rc = tape_space(t, TAPE_SPACE_RECORDS, 5);
	CHECK(rc == -EIO && tape_last(t)->sense == TAPE_SENSE_FILEMARK && tape_last(t)->residual == 2 &&
	      position(t) == 4, "space 5 records from 0 stops past the filemark at 3, residual 2 (rc %d, pos %" PRIu64 ")",
	      rc, position(t));
	rc = tape_space(t, TAPE_SPACE_RECORDS, -1);
	CHECK(rc == -EIO && tape_last(t)->sense == TAPE_SENSE_FILEMARK && position(t) == 3,
	      "space back 1 record from 4 stops before the filemark at 3 (rc %d, pos %" PRIu64 ")", rc, position(t));
	tape_rewind(t);
	CHECK(tape_space(t, TAPE_SPACE_FILEMARKS, 2) == 0 && position(t) == 7,
	      "space 2 filemarks from 0 lands at 7 (pos %" PRIu64 ")", position(t));
	expect_filemark(t, "after spacing 2 filemarks");
	CHECK(tape_space(t, TAPE_SPACE_FILEMARKS, -1) == 0 && position(t) == 7,
	      "space back 1 filemark from 8 lands on the filemark at 7 (pos %" PRIu64 ")", position(t));
	rc = tape_space(t, TAPE_SPACE_FILEMARKS, -3);
	CHECK(rc == -EIO && tape_last(t)->sense == TAPE_SENSE_BOT && tape_last(t)->residual == 1 &&
	      position(t) == 0, "space back 3 filemarks from 7 hits BOT, residual 1 (rc %d, pos %" PRIu64 ")",
	      rc, position(t));
	CHECK(tape_space(t, TAPE_SPACE_EOD, 0) == 0 && position(t) == 9,
	      "space to EOD lands at 9 (pos %" PRIu64 ")", position(t));
	rc = tape_space(t, TAPE_SPACE_RECORDS, 1);
	CHECK(rc == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD && tape_last(t)->residual == 1,
	      "space a record at EOD: -ENODATA, residual 1 (rc %d)", rc);
	CHECK(tape_space(t, TAPE_SPACE_RECORDS, -1) == 0 && position(t) == 8,
	      "space back 1 record from EOD (pos %" PRIu64 ")", position(t));
	expect_record(t, len_of[8], 8, "after spacing back from EOD");
	rc = tape_space(t, TAPE_SPACE_RECORDS, -2);
	CHECK(rc == -EIO && tape_last(t)->sense == TAPE_SENSE_FILEMARK && tape_last(t)->residual == 1 &&
	      position(t) == 7, "space back 2 records from 9 stops before the filemark at 7, residual 1 (rc %d, pos %" PRIu64 ")",
	      rc, position(t));

	/* Locate (emulated): backward over filemarks, forward over filemarks, past EOD. */
	CHECK_EQ(tape_locate(t, 0, 2), 0, "locate 2 from 9");
	expect_record(t, len_of[2], 2, "after locate 2");
	CHECK_EQ(tape_locate(t, 0, 8), 0, "locate 8 from 3");
	expect_record(t, len_of[8], 8, "after locate 8");
	CHECK_EQ(tape_locate(t, 0, 5), 0, "locate 5 from 9");
	expect_record(t, len_of[5], 5, "after locate 5");
	rc = tape_locate(t, 0, 100);
	CHECK(rc == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD && position(t) == 9,
	      "locate past EOD: -ENODATA at EOD (rc %d, pos %" PRIu64 ")", rc, position(t));
	rc = tape_locate(t, 1, 0);
	CHECK(rc == -EINVAL && tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST,
	      "locate to partition 1: -EINVAL (rc %d)", rc);
	CHECK_EQ(tape_close(t), 0, "close");

	/* A new handle knows nothing of the tape: it learns it from the drive. */
	t = open_tape(0);
	CHECK(tape_space(t, TAPE_SPACE_FILEMARKS, 1) == 0 && position(t) == 4,
	      "fresh handle: space 1 filemark lands at 4 (pos %" PRIu64 ")", position(t));
	expect_record(t, len_of[4], 4, "fresh handle, after spacing");
	CHECK(tape_locate(t, 0, 8) == 0, "fresh handle: locate 8 ahead of what it has seen");
	expect_record(t, len_of[8], 8, "fresh handle, after locate");
	expect_eod(t, "fresh handle at 9");
	CHECK_EQ(tape_close(t), 0, "close");
	t = open_tape(0);
	CHECK(tape_space(t, TAPE_SPACE_EOD, 0) == 0 && position(t) == 9,
	      "fresh handle: space to EOD finds 9 (pos %" PRIu64 ")", position(t));

	/* Writing in the middle cuts the tape there; writing at EOD after a read of EOD works. */
	CHECK_EQ(tape_locate(t, 0, 4), 0, "locate 4");
	write_record(t, 2000, 40);
	expect_eod(t, "right after overwriting 4");
	tape_rewind(t);
	CHECK(tape_space(t, TAPE_SPACE_EOD, 0) == 0 && position(t) == 5,
	      "EOD is now 5 (pos %" PRIu64 ")", position(t));
	CHECK_EQ(tape_close(t), 0, "close");
	t = open_tape(0);
	CHECK(tape_space(t, TAPE_SPACE_EOD, 0) == 0 && position(t) == 5,
	      "the drive agrees: EOD 5 (pos %" PRIu64 ")", position(t));
	expect_eod(t, "read at the new EOD");
	write_record(t, 777, 50);	/* right after st saw end of data */
	CHECK_EQ(tape_close(t), 0, "close right after a write, without a flush");
	t = open_tape(0);
	CHECK(tape_locate(t, 0, 4) == 0, "locate 4");
	expect_record(t, 2000, 40, "object 4 after the overwrite");
	expect_record(t, 777, 50, "object 5 written after EOD was read");
	expect_eod(t, "no filemark appended by st on close: EOD at 6");
	CHECK(tape_space(t, TAPE_SPACE_FILEMARKS, -1) == 0 && position(t) == 3,
	      "the only filemark left is at 3 (pos %" PRIu64 ")", position(t));
	tape_rewind(t);
	expect_record(t, len_of[0], 0, "object 0 untouched");

	/* Back over records, then forward to EOD and write there. */
	CHECK_EQ(tape_locate(t, 0, 5), 0, "locate 5");
	expect_record(t, 777, 50, "object 5 again");
	CHECK_EQ(tape_locate(t, 0, 4), 0, "locate 4 (back over two records)");
	expect_record(t, 2000, 40, "object 4 again");
	CHECK_EQ(tape_locate(t, 0, 6), 0, "locate EOD (6)");
	write_record(t, 3000, 60);
	CHECK_EQ(tape_close(t), 0, "close");
	t = open_tape(0);
	CHECK(tape_locate(t, 0, 5) == 0, "locate 5");
	expect_record(t, 777, 50, "object 5 still there");
	expect_record(t, 3000, 60, "object 6 written at EOD after spacing back and forth");
	expect_eod(t, "EOD at 7");
	tape_rewind(t);
	expect_record(t, len_of[0], 0, "object 0 untouched");

	/* What the contract refuses. */
	rc = (int)tape_write(t, want, 0);
	CHECK(rc == -EINVAL && tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST, "write 0 bytes: -EINVAL");
	rc = (int)tape_write(t, want, max + 1);
	CHECK(rc == -EINVAL, "write above max_record: -EINVAL (%d)", rc);
	rc = (int)tape_write(t, want, 1);
	CHECK(rc == -EINVAL && tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST,
	      "write below the drive's minimum (4 bytes): -EINVAL (%d)", rc);
	CHECK_EQ(position(t), 1, "refused writes do not move");
	rc = tape_get_attr(t, 0, TAPE_ATTR_BARCODE, &attr);
	CHECK(rc == -EOPNOTSUPP, "MAM attributes: -EOPNOTSUPP (%d)", rc);
	rc = tape_format(t, 1, (uint64_t[]){ 0 });
	CHECK(rc == -EOPNOTSUPP, "format: -EOPNOTSUPP (%d)", rc);
	rc = tape_medium_info(t, &m);
	CHECK(rc == 0 && m.partitions == 1 && !m.write_protected, "medium info: 1 partition, writable");
	CHECK_EQ(tape_close(t), 0, "close");

	/* Unload and load (no-ops on tgt): the handle forgets and starts at BOT. */
	t = open_tape(0);
	tape_locate(t, 0, 2);
	CHECK_EQ(tape_unload(t), 0, "unload");
	n = tape_read(t, got, max);
	CHECK(n == -ENOMEDIUM && tape_last(t)->sense == TAPE_SENSE_NOT_READY,
	      "read after unload: -ENOMEDIUM, not ready (got %zd)", n);
	CHECK_EQ(tape_load(t), 0, "load");
	CHECK_EQ(position(t), 0, "load leaves the tape at BOT");
	expect_record(t, len_of[0], 0, "object 0 after load");
	CHECK_EQ(tape_close(t), 0, "close");

	/* Read-only handle. */
	t = open_tape(TAPE_OPEN_READONLY);
	rc = (int)tape_write(t, want, 100);
	CHECK(rc == -EROFS && tape_last(t)->sense == TAPE_SENSE_WRITE_PROTECT, "read-only handle refuses writes");
	expect_record(t, len_of[0], 0, "read-only handle reads");
	CHECK_EQ(tape_close(t), 0, "close");

	free(want);
	free(got);
	return tap_done();
}
