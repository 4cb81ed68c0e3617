/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * st-eom.c - the st backend at the end of the medium.  tgt has no early
 * warning: past its capacity st reports ENOSPC whether or not the drive
 * stored the record.  Whatever tape_write() answers must be the truth:
 * every record it reported written is on the tape, in order and intact,
 * and no record it refused is.  The rig says how big its tape is in
 * FUSETAPE_TAPE_MB.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tape/tape.h"
#include "tap.h"

#define REC (512u << 10)

static void pattern(uint8_t *b, size_t len, uint32_t seed)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct tape *open_tape(const char *dev)
{
	char err[256];
	struct tape *t = NULL;
	int rc = tape_open(dev, 0, &t, err, sizeof(err));

	CHECK(rc == 0, "open %s (%s)", dev, rc ? err : "ok");
	if (!t) {
		tap_done();
		exit(1);
	}
	return t;
}

int main(void)
{
	const char *dev = getenv("FUSETAPE_TAPE");
	const char *mb = getenv("FUSETAPE_TAPE_MB");
	uint32_t capacity = (mb ? (uint32_t)atoi(mb) : 512) * 2;	/* in records */
	uint32_t MAX_RECORDS = capacity * 2 + 16;
	uint8_t *buf = malloc(REC), *got = malloc(REC);
	/* seeds[i]: the pattern of the i-th record on tape, as tape_write said */
	uint32_t *seeds = calloc(MAX_RECORDS + 16, sizeof(*seeds));
	uint32_t n = 0, tries = 0, after = 0, refused = 0, bad_sense = 0;
	struct tape_position pos;
	struct tape *t;
	bool warned = false;
	double t0, t1;
	ssize_t w;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!dev)
		dev = "/dev/nst0";
	if (!buf || !got || !seeds)
		return 1;
	t = open_tape(dev);

	/* Fill until the drive says it is full, then ask for four more. */
	t0 = now();
	while (tries < MAX_RECORDS && after < 4) {
		pattern(buf, REC, tries);
		w = tape_write(t, buf, REC);
		if (w == REC) {
			if (tape_last(t)->sense == TAPE_SENSE_EARLY_WARNING)
				warned = true;
			else if (tape_last(t)->sense != TAPE_SENSE_NONE)
				bad_sense++;
			seeds[n++] = tries;
		} else if (w == -ENOSPC && tape_last(t)->sense == TAPE_SENSE_EOM) {
			refused++;
			warned = true;
		} else {
			CHECK(0, "write %u: unexpected %zd (%s)", tries, w, tape_sense_name(tape_last(t)->sense));
			break;
		}
		if (warned)
			after++;
		tries++;
	}
	t1 = now();
	printf("# %u records written, %u refused, in %u writes (%.0f MB/s)\n", n, refused, tries,
	       (double)n * REC / 1e6 / (t1 - t0));
	CHECK(warned, "the drive reported early warning or end of medium after %u records", n);
	CHECK(n >= capacity && n <= capacity + 8, "the tape took its capacity of %u records (%u)", capacity, n);
	CHECK_EQ(bad_sense, 0, "successful writes report no sense or EARLY_WARNING only");
	tape_read_position(t, &pos);
	CHECK_EQ(pos.block, n, "position counts exactly the records reported written");
	CHECK_EQ(tape_write_filemarks(t, 1) == 0 ? 1 : tape_last(t)->sense == TAPE_SENSE_EOM ? 2 : 0,
		 1, "a filemark after early warning is still written");
	CHECK_EQ(tape_close(t), 0, "close");

	/* The drive's own account, from a handle that has seen nothing. */
	t = open_tape(dev);
	t0 = now();
	for (uint32_t k = 0; k < n; k++) {
		ssize_t r = tape_read(t, got, REC);

		if (r != REC) {
			CHECK(0, "read record %u back: got %zd (%s)", k, r, tape_sense_name(tape_last(t)->sense));
			break;
		}
	}
	t1 = now();
	printf("# read %u records back (%.0f MB/s)\n", n, (double)n * REC / 1e6 / (t1 - t0));
	tape_rewind(t);
	CHECK(tape_space(t, TAPE_SPACE_FILEMARKS, 1) == 0, "space to the filemark");
	tape_read_position(t, &pos);
	CHECK_EQ(pos.block, (uint64_t)n + 1, "the filemark follows exactly the records reported written");
	CHECK(tape_space(t, TAPE_SPACE_EOD, 0) == 0 && tape_read_position(t, &pos) == 0 &&
	      pos.block == (uint64_t)n + 1, "EOD right after it (at %" PRIu64 ")", pos.block);
	for (uint32_t k = n > 6 ? n - 6 : 0; k < n; k++) {
		ssize_t r;

		tape_locate(t, 0, k);
		r = tape_read(t, got, REC);
		pattern(buf, REC, seeds[k]);
		CHECK(r == REC && memcmp(got, buf, REC) == 0,
		      "record %u is write number %u, intact (got %zd)", k, seeds[k], r);
	}
	CHECK_EQ(tape_close(t), 0, "close");
	free(buf);
	free(got);
	free(seeds);
	return tap_done();
}
