/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_tape_queue - write-behind (tape_write_queued) on the image backend:
 * the asynchronous path (io_uring, O_DIRECT, registered arena) held to the
 * tape_write() contract, its crash safety (kill -9 with records in
 * flight), deferred errors, a full host filesystem, and the synchronous
 * fallback every backend has when no arena is registered.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_tape_util.h"

#define PAGE 4096u

static size_t round_page(size_t len)
{
	return (len + PAGE - 1) / PAGE * PAGE;
}

static struct tape *reopen(const char *path)
{
	struct tape *t = NULL;
	int rc;

	/* after a kill -9 the kernel may hold the dead process's file (and
	 * its lock) for a moment while it tears the io_uring down */
	for (int i = 0; i < 200; i++) {
		rc = tape_open(path, 0, &t, errbuf, sizeof(errbuf));
		if (rc != -EBUSY)
			break;
		usleep(10000);
	}
	if (!t)
		printf("# reopen %s: %s\n", path, errbuf);
	return t;
}

/*
 * The caller's side of the arena: records are placed one after another,
 * block-aligned, wrapping around; a region is reused only once every
 * record that lay there is retired (the rule tape.h gives the caller).
 */
struct arena {
	uint8_t *base;
	size_t len, cur;
	uint64_t *page_seq;	/* per page: the last record that used it */
};

static bool arena_init(struct arena *a, size_t len)
{
	a->base = aligned_alloc(PAGE, len);
	a->page_seq = calloc(len / PAGE, sizeof(*a->page_seq));
	a->len = len;
	a->cur = 0;
	return a->base && a->page_seq;
}

static void arena_free(struct arena *a)
{
	free(a->base);
	free(a->page_seq);
}

static uint8_t *arena_take(struct arena *a, struct tape *t, size_t len)
{
	size_t alen = round_page(len);
	uint64_t need = 0;

	if (a->cur + alen > a->len)
		a->cur = 0;
	for (size_t p = a->cur / PAGE; p < (a->cur + alen) / PAGE; p++)
		if (a->page_seq[p] > need)
			need = a->page_seq[p];
	if (need)
		tape_queue_reap(t, need, NULL);
	return a->base + a->cur;
}

/* Queue record `seed` of len bytes from the arena; garbage in its padding. */
static ssize_t queue_seed(struct tape *t, struct arena *a, size_t len, uint32_t seed,
			  uint64_t *seq)
{
	uint8_t *b = arena_take(a, t, len);
	size_t alen = round_page(len);
	uint64_t s = 0;
	ssize_t r;

	fill(b, len, seed);
	memset(b + len, 0xEE, alen - len);
	r = tape_write_queued(t, b, len, &s);
	if (r == (ssize_t)len) {
		for (size_t p = (size_t)(b - a->base) / PAGE; p < (size_t)(b - a->base + alen) / PAGE; p++)
			a->page_seq[p] = s;
		a->cur = (size_t)(b - a->base) + alen;
	}
	if (seq)
		*seq = s;
	return r;
}

static uint32_t max_rec;

/* Does the test directory's filesystem take O_DIRECT?  (tmpfs before
 * Linux 6.6 does not: the backend then writes through the page cache.) */
static bool dir_takes_direct(void)
{
	char path[300];
	void *page = aligned_alloc(PAGE, PAGE);
	bool ok = false;
	int fd;

	snprintf(path, sizeof(path), "%s/direct-probe", dir);
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (fd >= 0 && page) {
		memset(page, 0, PAGE);
		ok = pwrite(fd, page, PAGE, 0) == PAGE;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(page);
	return ok;
}

/* Mixed record sizes: full 512 KiB, short tails, 1 byte, max_record. */
static size_t mixed_size(unsigned i)
{
	switch (i % 8) {
	case 0: case 1: case 2: return 512 * KiB;
	case 3: return 1 + (i * 2654435761u) % (512 * KiB);
	case 4: return 1;
	case 5: return 4096;
	case 6: return 12345;
	default: return i % 40 == 7 ? max_rec : 65537;
	}
}

/* ---- tests -------------------------------------------------------------- */

static void test_sync_fallback(void)
{
	static unsigned char rec[8192], back[8192];
	struct tape_image_params p = { .size = 64u << 20 };
	struct tape_queue_state st;
	struct tape *t = make_image(&p, NULL);
	uint64_t seq = 0;

	CHECK(t != NULL, "open image");
	if (!t)
		return;
	CHECK(!tape_queue_async(t), "no arena: queued writes are synchronous");
	memset(rec, 0xa5, sizeof(rec));
	CHECK_EQ(tape_write_queued(t, rec, sizeof(rec), &seq), sizeof(rec),
		 "queued write without an arena succeeds");
	CHECK_EQ(seq, 1, "first record is number 1");
	CHECK_EQ(tape_queue_reap(t, 0, &st), 0, "reap reports no error");
	CHECK(st.queued == 1 && st.retired == 1, "the record is retired at once");
	CHECK_EQ(tape_write_queued(t, rec, 0, &seq), -EINVAL, "length 0 refused");
	CHECK_EQ(tape_write_queued(t, rec, 1, NULL), -EINVAL, "no seq pointer refused");
	CHECK_EQ(tape_locate(t, 0, 0), 0, "locate to block 0");
	CHECK_EQ(tape_read(t, back, sizeof(back)), sizeof(rec), "record length");
	CHECK(memcmp(rec, back, sizeof(rec)) == 0, "record reads back identical");
	tape_close(t);
}

/*
 * Hundreds of records of mixed sizes in flight; everything reads back,
 * positions, EOD and capacity are right, the padding is zero, and every
 * record passes the fsck-like check.
 */
static void stream_round(const char *what, const struct tape_image_queue_config *cfg,
			 bool want_direct, bool want_fixed, unsigned nrec)
{
	struct tape_image_params p = { .size = 1ull << 30 };
	struct tape_image_queue_info qi;
	struct tape_queue_state st;
	struct tape_medium m;
	struct arena a;
	const char *path;
	struct tape *t = make_image(&p, &path);
	uint64_t seq = 0, used = 0, last = 0;
	unsigned max_inflight = 0, bad = 0, i;
	bool padding_zero = true;

	CHECK(t != NULL, "%s: open 1 GiB image", what);
	if (!t || !arena_init(&a, 32 * MiB))
		return;
	max_rec = tape_caps(t)->max_record;
	CHECK_EQ(tape_image_set_queue_config(t, cfg), 0, "%s: configure", what);
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "%s: register a 32 MiB arena", what);
	CHECK(tape_queue_async(t), "%s: queued writes are asynchronous", what);
	tape_image_get_queue_info(t, &qi);
	CHECK(qi.active && qi.direct == (want_direct && dir_takes_direct()) && qi.fixed == want_fixed,
	      "%s: direct %d fixed %d depth %u", what, qi.direct, qi.fixed, qi.depth);
	for (i = 0; i < nrec; i++) {
		size_t len = mixed_size(i);
		ssize_t r = queue_seed(t, &a, len, 1000 + i, &seq);

		if (r != (ssize_t)len || seq != last + 1 ||
		    tape_last(t)->sense != TAPE_SENSE_NONE) {
			printf("#   record %u: %zd, seq %llu, sense %s\n", i, r,
			       (unsigned long long)seq, tape_sense_name(tape_last(t)->sense));
			break;
		}
		last = seq;
		used += round_page(len);
		tape_image_get_queue_info(t, &qi);
		if (qi.in_flight > max_inflight)
			max_inflight = qi.in_flight;
	}
	CHECK_EQ(i, nrec, "%s: %u records queued, numbered 1..%u", what, nrec, nrec);
	CHECK(max_inflight > 1 && max_inflight <= qi.depth,
	      "%s: several records were in flight (at most %u of %u)", what, max_inflight, qi.depth);
	CHECK_EQ(tape_queue_reap(t, last, &st), 0, "%s: reap all", what);
	CHECK(st.queued == nrec && st.retired == nrec && !st.error && !st.early_warning,
	      "%s: all %u retired, no error", what, nrec);
	CHECK_EQ(position(t), nrec, "%s: position after the last record", what);
	tape_medium_info(t, &m);
	CHECK_EQ(m.remaining[0], m.capacity[0] - used, "%s: capacity used in 4 KiB units", what);
	/* the padding of short records in the image file */
	for (i = 0; i < nrec && padding_zero; i++) {
		uint64_t off;
		uint32_t len, crc;
		int fd;
		uint8_t pad[PAGE];

		if (mixed_size(i) % PAGE == 0)
			continue;
		if (tape_image_record_extent(t, 0, i, &fd, &off, &len, &crc) != 0 ||
		    pread(fd, pad, PAGE - len % PAGE, (off_t)(off + len)) != (ssize_t)(PAGE - len % PAGE)) {
			padding_zero = false;
			break;
		}
		for (size_t k = 0; k < PAGE - len % PAGE; k++)
			padding_zero &= pad[k] == 0;
	}
	CHECK(padding_zero, "%s: the bytes after a short record are zero, not the arena's", what);
	CHECK_EQ(tape_close(t), 0, "%s: close", what);
	arena_free(&a);

	t = reopen(path);
	CHECK(t != NULL, "%s: reopen", what);
	if (!t)
		return;
	for (i = 0; i < nrec; i++)
		if (!read_seed(t, mixed_size(i), 1000 + i))
			bad++;
	CHECK_EQ(bad, 0, "%s: all %u records read back byte-identical", what, nrec);
	CHECK_EQ(tape_read(t, (uint8_t[16]){ 0 }, 16), -ENODATA, "%s: EOD after them", what);
	bad = 0;
	for (i = 0; i < nrec; i++)
		if (tape_image_verify_record(t, 0, i) != 0)
			bad++;
	CHECK_EQ(bad, 0, "%s: every record passes its CRC check in place", what);
	tape_close(t);
}

static void test_streaming(void)
{
	struct tape_image_queue_config direct = { 0 }, buffered = { .buffered = true },
		plain = { .unregistered = true, .depth = 4 };

	stream_round("O_DIRECT, fixed buffers", &direct, true, true, 400);
	stream_round("buffered ring", &buffered, false, true, 120);
	stream_round("O_DIRECT, unregistered, depth 4", &plain, true, false, 120);
}

/* The early-warning and EOM cases of test_tape_image, through the queue. */
static void test_early_warning_and_eom(void)
{
	struct tape_image_params p = { .size = 1 * MiB, .early_warning = 256 * KiB };
	struct tape_queue_state st;
	struct tape_medium m;
	struct arena a;
	const char *path;
	struct tape *t = make_image(&p, &path);
	uint64_t seq;
	ssize_t n;
	int i;

	CHECK(t != NULL, "EW: open 1 MiB image");
	if (!t || !arena_init(&a, 4 * MiB))
		return;
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "EW: register arena");
	for (i = 0; i < 12; i++) {
		n = queue_seed(t, &a, 64 * KiB, i, &seq);
		if (n != 64 * KiB || tape_last(t)->sense != TAPE_SENSE_NONE)
			break;
	}
	CHECK_EQ(i, 12, "EW: 12 records of 64 KiB queued without warning");
	n = queue_seed(t, &a, 1, 12, &seq);
	CHECK_EQ(n, 1, "EW: record past the warning point is queued");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "EW: ... with EARLY_WARNING at queue time");
	n = queue_seed(t, &a, 252 * KiB + 1, 13, &seq);
	CHECK_EQ(n, -ENOSPC, "EW: record that does not fit: -ENOSPC at queue time");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOM, "EW: ... sense EOM");
	CHECK_EQ(tape_queue_reap(t, 0, &st), 0, "EW: no deferred error");
	CHECK_EQ(st.queued, 13, "EW: nothing was queued for the refused record");
	CHECK_EQ(position(t), 13, "EW: position unchanged");
	tape_medium_info(t, &m);
	CHECK_EQ(m.remaining[0], 252 * KiB, "EW: nothing written");
	CHECK_EQ(tape_queue_reap(t, 0, &st), 0, "EW: reap");
	CHECK(st.early_warning, "EW: the queue state reports the retired warning record");
	n = queue_seed(t, &a, 252 * KiB, 14, &seq);
	CHECK_EQ(n, 252 * KiB, "EW: record that exactly fills the partition");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "EW: ... still warns");
	n = queue_seed(t, &a, 1, 15, &seq);
	CHECK_EQ(n, -ENOSPC, "EW: full partition: -ENOSPC");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOM, "EW: ... sense EOM");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "EW: a filemark still fits");
	CHECK_EQ(tape_close(t), 0, "EW: close");
	arena_free(&a);
	t = reopen(path);
	CHECK(t != NULL, "EW: reopen");
	if (!t)
		return;
	CHECK_EQ(tape_space(t, TAPE_SPACE_EOD, 0), 0, "EW: space EOD");
	CHECK_EQ(position(t), 15, "EW: EOD = 13 records + 1 + filemark");
	CHECK_EQ(tape_locate(t, 0, 13), 0, "EW: locate 13");
	CHECK(read_seed(t, 252 * KiB, 14), "EW: the filling record reads back");
	tape_close(t);
}

/*
 * Overwriting in the middle while records are in flight, reading and
 * locating with records queued, tape_image_record_extent() right after
 * queueing: all see the tape as if each record had gone through
 * tape_write().
 */
static void test_overwrite_and_reads(void)
{
	struct tape_image_params p = { .size = 256 * MiB };
	struct tape_queue_state st;
	struct arena a;
	const char *path;
	struct tape *t = make_image(&p, &path);
	uint8_t *buf;
	uint64_t seq = 0, off;
	uint32_t len, crc;
	int fd, i, bad = 0;

	CHECK(t != NULL, "overwrite: open image");
	if (!t || !arena_init(&a, 8 * MiB))
		return;
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "overwrite: register arena");
	for (i = 0; i < 20; i++)
		queue_seed(t, &a, 100000, 100 + i, &seq);
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "overwrite: filemark after 20 queued records");
	for (i = 20; i < 30; i++)
		queue_seed(t, &a, 200000, 100 + i, &seq);
	/* reading with records in flight drains first */
	CHECK_EQ(tape_locate(t, 0, 3), 0, "overwrite: locate with records queued");
	CHECK_EQ(tape_queue_reap(t, 0, &st), 0, "overwrite: reap");
	CHECK_EQ(st.retired, st.queued, "overwrite: locate retired everything");
	CHECK(read_seed(t, 100000, 103), "overwrite: record 3 reads back");
	CHECK_EQ(tape_locate(t, 0, 25), 0, "overwrite: locate 25");
	CHECK(read_seed(t, 200000, 124), "overwrite: record 25 (after the filemark) reads back");
	/* overwrite at 7: truncates the rest, filemark included */
	CHECK_EQ(tape_locate(t, 0, 7), 0, "overwrite: locate 7");
	for (i = 0; i < 40; i++)
		queue_seed(t, &a, 30000 + (size_t)i * 1000, 500 + i, &seq);
	/* the extent of a record just queued: drains, then describes it */
	buf = malloc(200000);
	CHECK_EQ(tape_image_record_extent(t, 0, 46, &fd, &off, &len, &crc), 0,
		 "overwrite: extent of the last queued record");
	CHECK_EQ(len, 30000 + 39 * 1000, "overwrite: ... its length");
	CHECK(buf && pread(fd, buf, len, (off_t)off) == (ssize_t)len && same(buf, len, 539) &&
	      tape_crc32c(0, buf, len) == crc, "overwrite: ... its bytes and CRC in the image file");
	free(buf);
	CHECK_EQ(tape_image_record_extent(t, 0, 47, &fd, &off, &len, &crc), -ENODATA,
		 "overwrite: the old records behind are gone");
	CHECK_EQ(position(t), 47, "overwrite: position 7 + 40");
	CHECK_EQ(tape_space(t, TAPE_SPACE_FILEMARKS, -1), -EIO, "overwrite: the old filemark is gone");
	CHECK_EQ(tape_close(t), 0, "overwrite: close");
	arena_free(&a);
	t = reopen(path);
	CHECK(t != NULL, "overwrite: reopen");
	if (!t)
		return;
	for (i = 0; i < 7; i++)
		bad += !read_seed(t, 100000, 100 + i);
	for (i = 0; i < 40; i++)
		bad += !read_seed(t, 30000 + (size_t)i * 1000, 500 + i);
	CHECK_EQ(bad, 0, "overwrite: 7 old and 40 new records after reopen");
	CHECK_EQ(tape_read(t, (uint8_t[16]){ 0 }, 16), -ENODATA, "overwrite: EOD at 47");
	tape_close(t);
}

/*
 * The calls that end or restart a tape (format, unload/load, filemarks,
 * close) with records in flight: each waits for them, and queueing goes
 * on correctly afterwards (format punched the preallocated range).
 */
static void test_format_and_unload(void)
{
	struct tape_image_params p = { .size = 256 * MiB };
	uint64_t sizes[2] = { 16 * MiB, 0 };
	struct tape_queue_state st;
	struct tape_image_info info;
	struct arena a;
	const char *path;
	struct tape *t = make_image(&p, &path);
	uint64_t seq = 0;
	int i, bad = 0;

	CHECK(t != NULL, "format: open image");
	if (!t || !arena_init(&a, 8 * MiB))
		return;
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "format: register arena");
	for (i = 0; i < 30; i++)
		queue_seed(t, &a, 300000, 700 + i, &seq);
	CHECK_EQ(tape_image_get_info(t, &info), 0, "format: image info with records queued");
	CHECK(info.part[0].records == 30 && info.part[0].used == 30 * round_page(300000),
	      "format: ... counts all 30 (%llu)", (unsigned long long)info.part[0].records);
	CHECK_EQ(tape_format(t, 2, sizes), 0, "format: two partitions, with records in flight");
	CHECK_EQ(tape_queue_reap(t, 0, &st), 0, "format: no error");
	CHECK_EQ(st.retired, 30, "format: the 30 retired before the format");
	CHECK_EQ(tape_locate(t, 1, 0), 0, "format: to partition 1");
	for (i = 0; i < 30; i++)
		queue_seed(t, &a, 250000, 800 + i, &seq);
	CHECK_EQ(tape_unload(t), 0, "format: unload with records in flight");
	CHECK_EQ(tape_load(t), 0, "format: load");
	CHECK_EQ(tape_locate(t, 0, 0), 0, "format: to partition 0");
	for (i = 0; i < 10; i++)
		queue_seed(t, &a, 5000, 900 + i, &seq);
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "format: filemark after queued records");
	for (i = 10; i < 20; i++)
		queue_seed(t, &a, 5000, 900 + i, &seq);
	CHECK_EQ(tape_close(t), 0, "format: close with records in flight");
	arena_free(&a);
	t = reopen(path);
	CHECK(t != NULL, "format: reopen");
	if (!t)
		return;
	for (i = 0; i < 10; i++)
		bad += !read_seed(t, 5000, 900 + i);
	bad += tape_read(t, (uint8_t[16]){ 0 }, 16) != 0;
	for (i = 10; i < 20; i++)
		bad += !read_seed(t, 5000, 900 + i);
	bad += tape_read(t, (uint8_t[16]){ 0 }, 16) != -ENODATA;
	CHECK_EQ(bad, 0, "format: partition 0: 10 records, filemark, 10 records, EOD");
	bad = 0;
	tape_locate(t, 1, 0);
	for (i = 0; i < 30; i++)
		bad += !read_seed(t, 250000, 800 + i);
	bad += tape_read(t, (uint8_t[16]){ 0 }, 16) != -ENODATA;
	CHECK_EQ(bad, 0, "format: partition 1: 30 records, EOD");
	tape_close(t);
}

/* A buffer outside the arena is written synchronously, and retired at once. */
static void test_outside_arena(void)
{
	struct tape_image_params p = { .size = 64 * MiB };
	struct tape_queue_state st;
	struct arena a;
	struct tape *t = make_image(&p, NULL);
	uint8_t *heap = malloc(10000);
	uint64_t seq = 0;

	CHECK(t != NULL, "outside: open image");
	if (!t || !heap || !arena_init(&a, 1 * MiB))
		return;
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "outside: register arena");
	CHECK_EQ(tape_register_arena(t, a.base + 1, a.len), -EINVAL, "outside: unaligned arena refused");
	CHECK(tape_queue_async(t), "outside: ... and the arena stays registered");
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "outside: register again (replaces it)");
	queue_seed(t, &a, 50000, 1, &seq);
	fill(heap, 10000, 2);
	CHECK_EQ(tape_write_queued(t, heap, 10000, &seq), 10000, "outside: heap buffer queued");
	CHECK_EQ(seq, 2, "outside: ... numbered 2");
	CHECK_EQ(tape_queue_reap(t, 0, &st), 0, "outside: reap");
	CHECK(st.retired == 2 && st.queued == 2, "outside: retired at once, after record 1");
	memset(heap, 0, 10000);	/* the caller may reuse it now */
	queue_seed(t, &a, 3000, 3, &seq);
	CHECK_EQ(tape_register_arena(t, NULL, 0), 0, "outside: drop the arena");
	CHECK(!tape_queue_async(t), "outside: synchronous again");
	CHECK_EQ(tape_rewind(t), 0, "outside: rewind");
	CHECK(read_seed(t, 50000, 1) && read_seed(t, 10000, 2) && read_seed(t, 3000, 3),
	      "outside: the three records in order");
	free(heap);
	tape_close(t);
	arena_free(&a);
}

/*
 * A data write that fails in flight.  RLIMIT_FSIZE makes it happen for
 * real and deterministically, without root: the kernel cuts a write that
 * crosses the limit short and refuses those beyond it (EFBIG).  The
 * table, before the data area, stays writable.
 */
static void test_deferred_error(void)
{
	struct tape_image_params p = { .size = 64 * MiB };
	struct tape_queue_state st;
	struct rlimit old, lim;
	struct arena a;
	const char *path;
	struct tape *t = make_image(&p, &path);
	uint64_t seq = 0, off0, last = 0;
	uint32_t len, crc;
	int fd, i, queued = 0, bad = 0;
	ssize_t refused = 0;

	CHECK(t != NULL, "deferred: open image");
	if (!t || !arena_init(&a, 4 * MiB))
		return;
	CHECK_EQ(tape_register_arena(t, a.base, a.len), 0, "deferred: register arena");
	queue_seed(t, &a, 64 * KiB, 0, &seq);
	CHECK_EQ(tape_queue_reap(t, seq, NULL), 0, "deferred: first record retired");
	CHECK_EQ(tape_image_record_extent(t, 0, 0, &fd, &off0, &len, &crc), 0, "deferred: where it is");
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = off0 + 10 * 64 * KiB + 8 * KiB;	/* record 10 crosses it */
	signal(SIGXFSZ, SIG_IGN);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0, "deferred: limit the file size");
	/* once the failure is known, queueing stops with it */
	for (i = 1; i < 20; i++) {
		ssize_t r = queue_seed(t, &a, 64 * KiB, (uint32_t)i, &seq);

		if (r != 64 * KiB) {
			refused = r;
			break;
		}
		last = seq;
		queued++;
	}
	CHECK(refused == 0 || refused == -EIO,
	      "deferred: queueing after the failure was seen fails with it (%zd)", refused);
	CHECK(queued >= 10, "deferred: %d more records queued (at least the ten that fit)", queued);
	CHECK_EQ(tape_queue_reap(t, last, &st), -EIO, "deferred: reap reports the error");
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(st.error == -EIO && st.error_seq == 11 && st.error_sense == TAPE_SENSE_MEDIUM_ERROR,
	      "deferred: record 11 (block 10) failed short: -EIO, MEDIUM ERROR (got %d seq %llu %s)",
	      st.error, (unsigned long long)st.error_seq, tape_sense_name(st.error_sense));
	CHECK_EQ(st.retired, 10, "deferred: the ten before it are retired");
	CHECK_EQ(tape_queue_reap(t, 0, &st), -EIO, "deferred: sticky");
	CHECK_EQ(queue_seed(t, &a, 100, 99, &seq), -EIO, "deferred: a later queued write fails with it");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_MEDIUM_ERROR, "deferred: ... with its sense");
	CHECK_EQ(tape_write(t, a.base, 100), -EIO, "deferred: tape_write fails with it");
	CHECK_EQ(tape_write_filemarks(t, 1), -EIO, "deferred: so do filemarks");
	CHECK_EQ(position(t), 10, "deferred: the tape ends before the failed record");
	CHECK_EQ(tape_rewind(t), 0, "deferred: rewind still works");
	for (i = 0; i < 10; i++)
		bad += !read_seed(t, 64 * KiB, (uint32_t)i);
	CHECK_EQ(bad, 0, "deferred: the ten records before it read back");
	CHECK_EQ(tape_read(t, (uint8_t[16]){ 0 }, 16), -ENODATA, "deferred: EOD at 10");
	CHECK_EQ(tape_close(t), 0, "deferred: a failed queue still closes cleanly");
	arena_free(&a);
	t = reopen(path);
	CHECK(t != NULL, "deferred: reopen");
	if (!t)
		return;
	bad = 0;
	for (i = 0; i < 10; i++)
		bad += !read_seed(t, 64 * KiB, (uint32_t)i) || tape_image_verify_record(t, 0, (uint64_t)i);
	CHECK_EQ(bad, 0, "deferred: consistent after reopen: ten good records");
	CHECK_EQ(tape_read(t, (uint8_t[16]){ 0 }, 16), -ENODATA, "deferred: ... then EOD");
	tape_close(t);
}

/* ---- kill -9 with records in flight -------------------------------------- */

#define K_MAX 20000

static uint32_t k_len[K_MAX], k_seed[K_MAX];
static uint64_t k_eod;

static size_t kill_len(unsigned round, unsigned i)
{
	uint32_t x = (round * 7919u + i) * 2654435761u;

	switch (x >> 29) {
	case 0: return 1 + (x >> 8) % 100;
	case 1: return 128 * KiB;
	case 2: return 4096 * (1 + (x >> 8) % 8);
	default: return 1 + (x >> 8) % (96 * KiB);
	}
}

static uint32_t kill_seed(unsigned round, unsigned i)
{
	return round * 100000u + i + 1;
}

/* The child: queue records from start on forever, telling the parent how
 * many are retired. */
static void kill_child(const char *path, unsigned round, uint64_t start, int wfd)
{
	struct tape *t = NULL;
	struct tape_queue_state st;
	struct arena a;
	uint64_t seq, told = 0;

	if (tape_open(path, 0, &t, NULL, 0) < 0 || !arena_init(&a, 4 * MiB) ||
	    tape_register_arena(t, a.base, a.len) < 0 || tape_locate(t, 0, start) < 0)
		_exit(2);
	for (unsigned i = 0; start + i < K_MAX; i++) {
		if (queue_seed(t, &a, kill_len(round, i), kill_seed(round, i), &seq) < 0)
			break;
		tape_queue_reap(t, 0, &st);
		if (st.retired != told) {
			told = st.retired;
			if (write(wfd, &told, sizeof(told)) != sizeof(told))
				_exit(3);
		}
	}
	tape_queue_reap(t, UINT64_MAX, &st);
	told = st.retired;
	if (write(wfd, &told, sizeof(told)) != sizeof(told))
		_exit(3);
	for (;;)
		pause();
}

static void kill_round(const char *path, unsigned round, unsigned target, unsigned delay_us)
{
	uint64_t start = round % 2 ? k_eod / 2 : k_eod, reported = 0, v, eod;
	int pfd[2], status;
	unsigned bad = 0;
	struct tape *t;
	pid_t pid;
	bool new_first;

	if (pipe(pfd) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		kill_child(path, round, start, pfd[1]);
	}
	close(pfd[1]);
	/* a child that stops making progress is a failure, not a hang */
	while (reported < target) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };

		if (poll(&pf, 1, 20000) != 1 || read(pfd[0], &v, sizeof(v)) != sizeof(v))
			break;
		reported = v;
	}
	usleep(delay_us);
	kill(pid, SIGKILL);
	while (read(pfd[0], &v, sizeof(v)) == sizeof(v))
		reported = v;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "kill %u: child killed at %llu retired records (start %llu)", round,
	      (unsigned long long)reported, (unsigned long long)start);

	t = reopen(path);
	CHECK(t != NULL, "kill %u: image opens after the kill", round);
	if (!t)
		return;
	tape_space(t, TAPE_SPACE_EOD, 0);
	eod = position(t);
	/* Did the child's first record make it?  (If not, the tape ends at
	 * start (tombstone written) or is as before (not even that).) */
	new_first = false;
	if (eod > start) {
		uint8_t *buf = malloc(TAPE_IMAGE_DEFAULT_MAX_RECORD);
		ssize_t n;

		tape_locate(t, 0, start);
		n = tape_read(t, buf, TAPE_IMAGE_DEFAULT_MAX_RECORD);
		new_first = n == (ssize_t)kill_len(round, 0) && same(buf, (size_t)n, kill_seed(round, 0));
		free(buf);
	}
	if (new_first) {
		CHECK(eod - start >= reported, "kill %u: all %llu reported records are there (EOD %llu)",
		      round, (unsigned long long)reported, (unsigned long long)eod);
		for (uint64_t b = start; b < eod; b++) {
			k_len[b] = (uint32_t)kill_len(round, (unsigned)(b - start));
			k_seed[b] = kill_seed(round, (unsigned)(b - start));
		}
	} else {
		CHECK(reported == 0 && (eod == start || eod == k_eod),
		      "kill %u: none of the new records is there, and none was reported (EOD %llu)",
		      round, (unsigned long long)eod);
	}
	k_eod = eod;
	tape_rewind(t);
	for (uint64_t b = 0; b < eod; b++)
		bad += !read_seed(t, k_len[b], k_seed[b]);
	CHECK_EQ(bad, 0, "kill %u: all %llu records byte-identical", round, (unsigned long long)eod);
	CHECK_EQ(tape_read(t, (uint8_t[16]){ 0 }, 16), -ENODATA, "kill %u: nothing half-there after EOD", round);
	bad = 0;
	for (uint64_t b = 0; b < eod; b++)
		bad += tape_image_verify_record(t, 0, b) != 0;
	CHECK_EQ(bad, 0, "kill %u: every record passes its CRC check", round);
	tape_close(t);
}

static void test_kill9(void)
{
	struct tape_image_params p = { .size = 1ull << 30 };
	const char *path = new_path();
	unsigned seed = (unsigned)time(NULL);

	printf("# kill -9 rounds, seed %u\n", seed);
	srand(seed);
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), 0, "kill: create image");
	for (unsigned round = 0; round < 8; round++)
		kill_round(path, round, (unsigned)(rand() % 400), (unsigned)(rand() % 3000));
}

/*
 * A host filesystem without room: tape_write_queued() says so at once
 * (-ENOSPC, sense HARDWARE, not EOM), queues nothing, and what was
 * queued before is intact.  The small filesystem is a 4 MiB tmpfs in a
 * private mount namespace of a child process (a user namespace if we
 * are not root), so nothing is left mounted.
 */
struct full_result {
	int setup, rc, sense, queue_error, before, readback;
};

/*
 * Make this (child) process root of a new user namespace (and of the
 * namespaces in `more`), mapped to the real uid and gid: it may then
 * mount a tmpfs, and holds no capability in the initial namespace.
 * Returns 0 or a negative step number.
 */
static int enter_user_ns(int more)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	int fd, err = 0;

	if (unshare(CLONE_NEWUSER | more) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if ((fd = open("/proc/self/uid_map", O_WRONLY)) < 0)
		return -2;
	if (write(fd, map, strlen(map)) < 0)
		err = -2;
	close(fd);
	if ((fd = open("/proc/self/setgroups", O_WRONLY)) >= 0) {
		if (write(fd, "deny", 4) < 0)
			err = -3;
		close(fd);
	}
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if ((fd = open("/proc/self/gid_map", O_WRONLY)) < 0)
		return -4;
	if (write(fd, map, strlen(map)) < 0)
		err = -4;
	close(fd);
	return err;
}

/*
 * filled_late: the host fills up only after the first record, so the
 * preallocated ranges (data and table) must carry every later record
 * within them, entries included, without a deferred error.
 */
/*
 * Fork: the child runs child(path, flag, fd), writes len bytes of result to
 * fd and exits.  Returns 0 once those bytes came back, -101 if not.
 */
static int from_child(void (*child)(const char *path, bool flag, int wfd),
		      const char *path, bool flag, void *res, size_t len)
{
	int pfd[2], status, rc = 0;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -101;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child(path, flag, pfd[1]);
		_exit(1);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], res, len) != (ssize_t)len)
		rc = -101;
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return rc;
}

static void full_child(const char *unused, bool filled_late, int wfd)
{
	struct full_result r = { 0 };
	struct tape_image_params p = { .size = filled_late ? 16 * MiB : 64 * MiB };
	struct tape_queue_state st;
	char mdir[300], path[320], filler[320];
	struct arena a;
	struct tape *t = NULL;
	uint64_t seq;

	snprintf(mdir, sizeof(mdir), "%s/full", dir);
	snprintf(path, sizeof(path), "%s/img", mdir);
	snprintf(filler, sizeof(filler), "%s/filler", mdir);
	r.setup = unshare(CLONE_NEWNS) < 0 ? enter_user_ns(CLONE_NEWNS) : 0;
	if (!r.setup && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		r.setup = -5;
	if (!r.setup && mount("fusetape-test", mdir, "tmpfs", 0,
			      filled_late ? "size=24m" : "size=4m") < 0)
		r.setup = -6;
	if (!r.setup && (tape_image_create(path, &p, NULL, 0) < 0 ||
			 tape_open(path, 0, &t, NULL, 0) < 0 || !arena_init(&a, 2 * MiB) ||
			 tape_register_arena(t, a.base, a.len) < 0))
		r.setup = -7;
	if (!r.setup && filled_late) {
		static uint8_t chunk[64 * KiB];
		ssize_t w = -1;
		int fd;

		if (queue_seed(t, &a, 16 * KiB, 0, &seq) != 16 * KiB ||
		    tape_queue_reap(t, seq, NULL) != 0)
			r.setup = -8;
		r.before = 1;
		fd = open(filler, O_WRONLY | O_CREAT, 0600);
		while (fd >= 0 && (w = write(fd, chunk, sizeof(chunk))) > 0)
			;
		if (fd < 0 || w == 0 || errno != ENOSPC)
			r.setup = -9;
		if (fd >= 0)
			close(fd);
	}
	if (!r.setup) {
		for (;;) {
			ssize_t n = queue_seed(t, &a, 16 * KiB, (uint32_t)r.before, &seq);

			if (n < 0) {
				r.rc = (int)n;
				r.sense = tape_last(t)->sense;
				break;
			}
			if (++r.before >= (filled_late ? 300 : 1000))
				break;
		}
		tape_queue_reap(t, UINT64_MAX, &st);
		r.queue_error = st.error;
		tape_rewind(t);
		for (int i = 0; i < r.before; i++)
			r.readback += read_seed(t, 16 * KiB, (uint32_t)i);
		tape_close(t);
	}
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

static int run_full_child(bool filled_late, struct full_result *r)
{
	char mdir[300];

	r->setup = -100;
	snprintf(mdir, sizeof(mdir), "%s/full", dir);
	if (mkdir(mdir, 0700) < 0)
		return r->setup;
	if (from_child(full_child, NULL, filled_late, r, sizeof(*r)))
		r->setup = -101;
	rmdir(mdir);
	return r->setup;
}

static void test_host_full(void)
{
	struct full_result r;

	if (run_full_child(false, &r)) {
		SKIP("cannot mount a small tmpfs here", "host full: (setup step %d)", r.setup);
	} else {
		/* more than 128 records: their entries need a second table block */
		CHECK(r.before > 128 && r.before < 256,
		      "host full: %d records of 16 KiB fit on a 4 MiB host", r.before);
		CHECK_EQ(r.rc, -ENOSPC, "host full: then -ENOSPC at queue time");
		CHECK_EQ(r.sense, TAPE_SENSE_HARDWARE, "host full: ... sense HARDWARE (the cartridge is not full)");
		CHECK_EQ(r.queue_error, 0, "host full: no deferred error");
		CHECK_EQ(r.readback, r.before, "host full: every record queued before reads back");
	}
	if (run_full_child(true, &r)) {
		SKIP("cannot mount a small tmpfs here", "host filled late: (setup step %d)", r.setup);
		return;
	}
	CHECK(r.before == 300 && r.rc == 0,
	      "host filled late: 300 records queued into the preallocated range (%d, %d)", r.before, r.rc);
	CHECK_EQ(r.queue_error, 0, "host filled late: no deferred error (the table was preallocated too)");
	CHECK_EQ(r.readback, 300, "host filled late: all read back");
}

/*
 * Registering the arena refused for real: without CAP_IPC_LOCK (a user
 * namespace takes it away even from root) and with RLIMIT_MEMLOCK below
 * the arena's size, io_uring cannot pin it.  The queue must still be
 * asynchronous, with plain writes, and correct.
 */
struct memlock_result {
	int setup, reg, async, fixed, direct, written, readback;
};

static void memlock_child(const char *path, bool unused, int wfd)
{
	struct memlock_result r = { 0 };
	struct rlimit lim = { 64 * KiB, 64 * KiB };
	struct tape_image_queue_info qi;
	struct tape *t = NULL;
	struct arena a;
	uint64_t seq;

	r.setup = enter_user_ns(0);
	if (!r.setup && setrlimit(RLIMIT_MEMLOCK, &lim) < 0)
		r.setup = -10;
	if (!r.setup && (tape_open(path, 0, &t, NULL, 0) < 0 || !arena_init(&a, 8 * MiB)))
		r.setup = -11;
	if (!r.setup) {
		r.reg = tape_register_arena(t, a.base, a.len);
		r.async = tape_queue_async(t);
		tape_image_get_queue_info(t, &qi);
		r.fixed = qi.fixed;
		r.direct = qi.direct;
		for (int i = 0; i < 100; i++)
			r.written += queue_seed(t, &a, 200000, 3000 + (uint32_t)i, &seq) == 200000;
		tape_rewind(t);
		for (int i = 0; i < 100; i++)
			r.readback += read_seed(t, 200000, 3000 + (uint32_t)i);
		tape_close(t);
	}
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

static void test_memlock_refused(void)
{
	struct tape_image_params p = { .size = 64 * MiB };
	struct memlock_result r = { .setup = -100 };
	const char *path = new_path();

	if (tape_image_create(path, &p, errbuf, sizeof(errbuf)) < 0)
		return;
	chmod(path, 0666);
	if (from_child(memlock_child, path, false, &r, sizeof(r)))
		r.setup = -101;
	if (r.setup) {
		SKIP("no user namespace here", "memlock: (setup step %d)", r.setup);
		return;
	}
	CHECK_EQ(r.reg, 0, "memlock: registering an 8 MiB arena over RLIMIT_MEMLOCK still returns 0");
	CHECK(r.async && !r.fixed && r.direct == dir_takes_direct(),
	      "memlock: asynchronous, O_DIRECT, without fixed buffers (async %d fixed %d direct %d)",
	      r.async, r.fixed, r.direct);
	CHECK_EQ(r.written, 100, "memlock: 100 records queued");
	CHECK_EQ(r.readback, 100, "memlock: ... and read back byte-identical");
}

/*
 * io_uring refused altogether (container runtimes' seccomp profiles block
 * io_uring_setup, and kernel.io_uring_disabled does the same): a seccomp
 * filter in a child makes io_uring_setup fail with EPERM.  Registering
 * then fails, queued writes are synchronous and correct.
 */
struct nouring_result {
	int setup, reg, async, written, retired, readback;
};

static void nouring_child(const char *path, bool unused, int wfd)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
	struct nouring_result r = { 0 };
	struct tape_queue_state st;
	struct tape *t = NULL;
	struct arena a;
	uint64_t seq;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		r.setup = -1;
	if (!r.setup && (tape_open(path, 0, &t, NULL, 0) < 0 || !arena_init(&a, 4 * MiB)))
		r.setup = -2;
	if (!r.setup) {
		r.reg = tape_register_arena(t, a.base, a.len);
		r.async = tape_queue_async(t);
		for (int i = 0; i < 50; i++) {
			r.written += queue_seed(t, &a, 70000, 4000 + (uint32_t)i, &seq) == 70000;
			tape_queue_reap(t, 0, &st);
			r.retired += st.retired == seq;	/* each retired at once */
		}
		tape_rewind(t);
		for (int i = 0; i < 50; i++)
			r.readback += read_seed(t, 70000, 4000 + (uint32_t)i);
		tape_close(t);
	}
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

static void test_no_io_uring(void)
{
	struct tape_image_params p = { .size = 64 * MiB };
	struct nouring_result r = { .setup = -100 };
	const char *path = new_path();

	if (tape_image_create(path, &p, errbuf, sizeof(errbuf)) < 0)
		return;
	if (from_child(nouring_child, path, false, &r, sizeof(r)))
		r.setup = -101;
	if (r.setup) {
		SKIP("no seccomp filter here", "no io_uring: (setup step %d)", r.setup);
		return;
	}
	CHECK_EQ(r.reg, -EPERM, "no io_uring: registering fails with io_uring_setup's error");
	CHECK(!r.async, "no io_uring: queued writes are synchronous");
	CHECK(r.written == 50 && r.retired == 50, "no io_uring: 50 records queued, each retired at once");
	CHECK_EQ(r.readback, 50, "no io_uring: ... and read back byte-identical");
}

int main(void)
{
	test_dir_make("test_tape_queue");
	alarm(600);	/* a queue that never completes ends the test, not the run */
	test_sync_fallback();
	test_streaming();
	test_early_warning_and_eom();
	test_overwrite_and_reads();
	test_format_and_unload();
	test_outside_arena();
	test_deferred_error();
	test_kill9();
	test_host_full();
	test_memlock_refused();
	test_no_io_uring();
	test_dir_remove();
	return tap_done();
}
