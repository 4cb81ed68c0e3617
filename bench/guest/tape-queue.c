// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tape-queue - guest benchmark (issue 5): the library's tapedma backend
 * writing 512 KiB records (the filesystem's record size) synchronously
 * with tape_write() versus queued with tape_write_queued() from a
 * registered arena (uring_cmd, fixed buffers, IOSQE_IO_LINK chains), at
 * several queue depths (FUSETAPE_TAPEDMA_QDEPTH).
 *
 * Two workloads:
 *   bare    records back to back: what the queue gains on the drive path
 *           alone (the next command is already in the kernel when one
 *           completes)
 *   work    before each record the writer spins WORK_MS of CPU, as the
 *           daemon spends per FUSE request under TCG: synchronously that
 *           time adds to the drive's, queued it overlaps with it
 * Each run writes the records and a filemark from BOT (timed until WRITE
 * FILEMARKS returned: everything is on the drive), then reads the records
 * back and checks each one's stamp and samples.  Runs interleave the
 * modes, three of each; prints per run and the medians, the ratio of each
 * mode to sync, and tapedma.ko's counters.  TAP points: data verified,
 * nothing copied by the module.
 *
 * Size: 256 MiB, or FUSETAPE_TAPE_MB / 3 on a smaller tape.  Run by
 * bench/vm-tape.sh (VM_GUEST_DIR=bench/guest), never by make check.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tap.h"
#include "tape/tape.h"

#define REC (512u << 10)
#define ARENA (32u << 20)
#define RUNS 3
#define WORK_MS 3
#define STATS "/sys/class/tapedma/tapedma0/stats/"

struct mode {
	const char *name;
	int depth;		/* 0: synchronous tape_write() */
	bool work;
};
static const struct mode modes[] = {
	{ "sync", 0, false }, { "queued-d1", 1, false }, { "queued-d2", 2, false },
	{ "queued-d4", 4, false }, { "queued-d8", 8, false }, { "queued-d16", 16, false },
	{ "sync+work", 0, true }, { "queued-d8+work", 8, true },
};
#define SYNC_WORK 6	/* index of sync+work, the base of the +work modes */
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static uint8_t *arena, *rbuf, *pattern;
static unsigned nrec;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin_ms(unsigned ms)
{
	double end = now() + ms / 1e3;

	while (now() < end)
		;
}

static unsigned long long stat_of(const char *name)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), STATS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/*
 * Record i: the pattern (put in every slot of the arena once, so that
 * making a record costs no copy of its own) with i and the run's tag in
 * the first 16 bytes.
 */
static void stamp(uint8_t *p, uint64_t i, uint64_t tag)
{
	memcpy(p, &i, 8);
	memcpy(p + 8, &tag, 8);
}

static bool check_rec(const uint8_t *p, uint64_t i, uint64_t tag)
{
	uint64_t a, b;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	if (a != i || b != tag)
		return false;
	for (size_t off = 4096 + (i % 64) * 8; off < REC; off += 65536)
		if (memcmp(p + off, pattern + off, 8))
			return false;
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run of one mode: MB/s of the writes, or -1 (reason printed). */
static double run(const struct mode *m, uint64_t tag)
{
	char err[256] = "", depth[16];
	struct tape_queue_state st;
	struct tape *t = NULL;
	double t0, secs, c0, in_call = 0;
	uint64_t seq;
	unsigned i;
	int rc;

	snprintf(depth, sizeof(depth), "%d", m->depth ? m->depth : 1);
	setenv("FUSETAPE_TAPEDMA_QDEPTH", depth, 1);
	rc = tape_open("/dev/tapedma0", 0, &t, err, sizeof(err));
	if (rc < 0) {
		printf("# %s: open: %s\n", m->name, err);
		return -1;
	}
	if (m->depth) {
		rc = tape_register_arena(t, arena, ARENA);
		if (rc < 0 || !tape_queue_async(t)) {
			printf("# %s: register_arena: %d\n", m->name, rc);
			tape_close(t);
			return -1;
		}
	}
	t0 = now();
	for (i = 0; i < nrec; i++) {
		/* the arena as a ring of records; a slot is reused only when retired */
		unsigned slots = ARENA / REC;
		uint8_t *p = arena + (size_t)(i % slots) * REC;
		ssize_t r;

		if (m->depth && i >= slots)
			tape_queue_reap(t, (uint64_t)(i - slots + 1), NULL);
		if (m->work)
			spin_ms(WORK_MS);
		stamp(p, i, tag);
		c0 = now();
		r = m->depth ? tape_write_queued(t, p, REC, &seq) : tape_write(t, p, REC);
		in_call += now() - c0;
		if (r != (ssize_t)REC) {
			printf("# %s: record %u: %zd (%s)\n", m->name, i, r,
			       tape_sense_name(tape_last(t)->sense));
			tape_close(t);
			return -1;
		}
	}
	rc = tape_write_filemarks(t, 1);
	secs = now() - t0;
	/* time the writer spent inside the write calls: what it cannot overlap */
	printf("# %s: %.2f ms per record in the write call, %.2f ms per record in all\n",
	       m->name, in_call * 1e3 / nrec, secs * 1e3 / nrec);
	tape_queue_reap(t, 0, &st);
	if (rc < 0 || st.error) {
		printf("# %s: filemark %d, queue error %d\n", m->name, rc, st.error);
		tape_close(t);
		return -1;
	}
	rc = tape_rewind(t);
	for (i = 0; rc == 0 && i < nrec; i++) {
		ssize_t r = tape_read(t, rbuf, 2 * REC);

		if (r != (ssize_t)REC || !check_rec(rbuf, i, tag)) {
			printf("# %s: read back record %u: %zd\n", m->name, i, r);
			rc = -1;
		}
	}
	if (rc == 0 && tape_read(t, rbuf, 2 * REC) != 0)
		rc = -1;
	tape_rewind(t);
	tape_close(t);
	if (rc)
		return -1;
	return (double)nrec * REC / secs / 1e6;
}

int main(void)
{
	const char *mb_env = getenv("FUSETAPE_TAPE_MB");
	long tape_mb = mb_env ? atol(mb_env) : 0;
	double res[NMODES][RUNS], med[NMODES];
	unsigned long long cp0, zc0, cp1, zc1;
	bool all_ok = true;
	unsigned r, k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("FUSETAPE_TAPEDMA")) {
		printf("ok 1 - tape-queue # SKIP no /dev/tapedma0\n");
		return 0;
	}
	nrec = (256u << 20) / REC;
	if (tape_mb > 0 && tape_mb < 800)
		nrec = (unsigned)(tape_mb * (1 << 20) / 3 / REC);
	arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pattern = malloc(REC);
	if (arena == MAP_FAILED || !pattern || posix_memalign((void **)&rbuf, 4096, 2 * REC))
		return 1;
	for (size_t i = 0; i < REC; i++)
		pattern[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t off = 0; off < ARENA; off += REC)
		memcpy(arena + off, pattern, REC);
	printf("# %u records of %u KiB (%u MiB) per run, %d runs per mode, work %d ms/record\n",
	       nrec, REC >> 10, nrec * (REC >> 10) >> 10, RUNS, WORK_MS);
	cp0 = stat_of("bytes_copied");
	zc0 = stat_of("bytes_zero_copy");
	for (r = 0; r < RUNS; r++) {
		for (k = 0; k < NMODES; k++) {
			res[k][r] = run(&modes[k], (uint64_t)r << 8 | k);
			if (res[k][r] < 0)
				all_ok = false;
			printf("# run %u %s: write %.1f MB/s\n", r + 1, modes[k].name, res[k][r]);
		}
	}
	cp1 = stat_of("bytes_copied");
	zc1 = stat_of("bytes_zero_copy");
	for (k = 0; k < NMODES; k++) {
		qsort(res[k], RUNS, sizeof(double), cmp_double);
		med[k] = res[k][RUNS / 2];
	}
	for (k = 0; k < NMODES; k++) {
		const double base = modes[k].work ? med[SYNC_WORK] : med[0];

		printf("RESULT tape-queue %s: write %.1f MB/s (median of %d), %.2fx %s\n",
		       modes[k].name, med[k], RUNS, base > 0 ? med[k] / base : 0,
		       modes[k].work ? "sync+work" : "sync");
	}
	printf("RESULT tape-queue counters: bytes_zero_copy +%llu bytes_copied +%llu\n",
	       zc1 - zc0, cp1 - cp0);
	CHECK(all_ok, "every run's records read back in order with their stamps and samples");
	CHECK(cp1 == cp0, "tapedma.ko copied no byte (%llu)", cp1 - cp0);
	return tap_done();
}
