/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape-queue - one timed run for bench/tape-queue.sh: write `bytes` of
 * 512 KiB records to a fresh image, either with tape_write() (each record
 * through the page cache before the next) or with tape_write_queued()
 * from a registered arena (records in flight, O_DIRECT), then flush.
 * Prints one line: "<seconds> <cpu seconds> <direct> <fixed> <depth>".
 * The CPU time is the whole process's (all threads, io_uring workers
 * included), from start to after the flush.  Only the backend is
 * measured: the records' data is put in memory once, before the clock.
 *
 *   tape-queue IMAGE sync|queued BYTES [DEPTH [buffered|unregistered]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tape/tape.h"
#include "tape/tape_image.h"

#define RECORD (512u << 10)
#define ARENA (64u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int fail(const char *what, long err)
{
	fprintf(stderr, "tape-queue: %s: %s\n", what, strerror((int)-err));
	return 1;
}

int main(int argc, char **argv)
{
	struct tape_image_queue_config cfg = { 0 };
	struct tape_image_queue_info qi = { 0 };
	struct tape_image_params p = { .force = true, .max_record = RECORD };
	char errbuf[256];
	struct tape *t = NULL;
	unsigned long long bytes;
	uint8_t *arena;
	bool queued;
	uint64_t records, seq, slots = ARENA / RECORD;
	double t0, c0, t1, c1;
	long r;

	if (argc < 4 || (strcmp(argv[2], "sync") && strcmp(argv[2], "queued"))) {
		fprintf(stderr, "usage: tape-queue IMAGE sync|queued BYTES [DEPTH [buffered|unregistered]]\n");
		return 2;
	}
	queued = !strcmp(argv[2], "queued");
	bytes = strtoull(argv[3], NULL, 0);
	records = bytes / RECORD;
	if (argc > 4)
		cfg.depth = (unsigned)strtoul(argv[4], NULL, 0);
	if (argc > 5) {
		cfg.buffered = !strcmp(argv[5], "buffered");
		cfg.unregistered = !strcmp(argv[5], "unregistered");
	}
	p.size = bytes + (64u << 20);
	if (tape_image_create(argv[1], &p, errbuf, sizeof(errbuf)) < 0 ||
	    tape_open(argv[1], 0, &t, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "tape-queue: %s\n", errbuf);
		return 1;
	}
	arena = aligned_alloc(4096, ARENA);
	if (!arena)
		return fail("arena", -ENOMEM);
	for (size_t i = 0; i < ARENA; i++)
		arena[i] = (uint8_t)(i * 131 + (i >> 12));
	if (queued) {
		if ((r = tape_image_set_queue_config(t, &cfg)) < 0)
			return fail("queue config", r);
		if ((r = tape_register_arena(t, arena, ARENA)) < 0)
			return fail("register arena", r);
		tape_image_get_queue_info(t, &qi);
	}
	t0 = now();
	c0 = cpu();
	for (uint64_t i = 0; i < records; i++) {
		uint8_t *rec = arena + (i % slots) * RECORD;

		if (queued) {
			/* the slot is free again once the record that used it retired */
			if (i >= slots && (r = tape_queue_reap(t, i + 1 - slots, NULL)) < 0)
				return fail("reap", r);
			r = tape_write_queued(t, rec, RECORD, &seq);
		} else {
			r = tape_write(t, rec, RECORD);
		}
		if (r != RECORD)
			return fail("write", r < 0 ? r : -EIO);
	}
	if ((r = tape_flush(t)) < 0)
		return fail("flush", r);
	t1 = now();
	c1 = cpu();
	if ((r = tape_close(t)) < 0)
		return fail("close", r);
	printf("%.3f %.3f %d %d %u\n", t1 - t0, c1 - c0, qi.direct, qi.fixed, qi.depth);
	free(arena);
	return 0;
}
