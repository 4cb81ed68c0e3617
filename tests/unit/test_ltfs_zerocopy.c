/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ltfs_zerocopy.c - the zero-copy data path below the daemon:
 * tape_image_verify_record() and record extents on an image; write
 * requests landed in the write stream (ltfs_landing_get/ltfs_write_landed/
 * ltfs_landing_put: files packed mid-record, requests crossing records,
 * odd sizes, a request that is not a write, the ring's wrap, a sync while
 * a landing is out), plain writes, a deferred write error, and
 * ltfs_read_direct() (verified image ranges); compared byte for byte after
 * remounts, with the counters of ltfs_io_stats(), and against a record
 * damaged in the image file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_ltfs_util.h"
#include "tape/tape_backend.h"
#include "ltfs/ltfs_internal.h"	/* LTFS_ARENA_BYTES: the ring's length */

#define BS 65536u

static void test_tape_level(void)
{
	const char *path = image_new("tape.img", 64ull << 20);
	unsigned char *data = malloc(3 * BS), *back = malloc(3 * BS);
	struct tape *t = tape_at(path, 0);
	uint64_t off;
	uint32_t len, crc;
	int fd;
	ssize_t n;

	CHECK(t && data && back, "image");
	if (!t || !data || !back)
		exit(2);
	fill_random(data, 3 * BS);
	CHECK_EQ(tape_write(t, data, BS), BS, "a whole record");
	CHECK_EQ(tape_write(t, data + BS, 1000), 1000, "a short record");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "a filemark after them");

	/* read back through tape_read, which checks the stored crc */
	tape_rewind(t);
	n = tape_read(t, back, 3 * BS);
	CHECK(n == BS && memcmp(back, data, BS) == 0, "record 0 reads back identical");
	n = tape_read(t, back, 3 * BS);
	CHECK(n == 1000 && memcmp(back, data + BS, 1000) == 0, "record 1 reads back identical");

	CHECK_EQ(tape_image_verify_record(t, 0, 0), 0, "verify_record: record 0 good");
	CHECK_EQ(tape_image_verify_record(t, 0, 1), 0, "verify_record: record 1 good");
	CHECK_EQ(tape_image_verify_record(t, 0, 2), -ENOMSG, "verify_record: a filemark");
	CHECK_EQ(tape_image_verify_record(t, 0, 3), -ENODATA, "verify_record: EOD");
	CHECK_EQ(tape_image_verify_record(t, 7, 0), -EINVAL, "verify_record: no such partition");

	/* damage one byte of record 1 in the file */
	if (tape_image_record_extent(t, 0, 1, &fd, &off, &len, &crc) == 0) {
		unsigned char b;

		CHECK(pread(fd, &b, 1, (off_t)off + 500) == 1, "read a byte of record 1");
		b ^= 0x5a;
		CHECK(pwrite(fd, &b, 1, (off_t)off + 500) == 1, "damage it");
		CHECK_EQ(tape_image_verify_record(t, 0, 1), -EIO, "verify_record: damaged record -EIO");
		tape_locate(t, 0, 1);
		CHECK_EQ(tape_read(t, back, BS), -EIO, "tape_read agrees: -EIO");
	} else {
		CHECK(0, "record_extent of record 1");
	}
	tape_close(t);
	free(data);
	free(back);
}

/* What the daemon's loop asks for: a FUSE write header, the largest request. */
#define HDR 80
#define ROOM ((1u << 20) + 4096)

/*
 * One write request the way the daemon and the kernel do it: a landing,
 * the request header written over the bytes before it, the payload at
 * data, then ltfs_write_landed() and ltfs_landing_put().  -1000 - errno
 * if no landing could be had.
 */
static ssize_t land(struct ltfs_volume *v, uint64_t uid, const unsigned char *buf,
		    size_t len, uint64_t off)
{
	struct ltfs_landing l;
	ssize_t n;
	int rc = ltfs_landing_get(v, HDR, ROOM, &l);

	if (rc)
		return -1000 + rc;
	if ((uintptr_t)(l.data - HDR) % 8)
		return -2000;	/* the FUSE header would be misaligned */
	memset(l.data - HDR, 0xA5, HDR);
	memcpy(l.data, buf, len);
	n = ltfs_write_landed(v, uid, l.data, len, off);
	ltfs_landing_put(v, &l);
	return n;
}

/* Write data[0, len) to a new file in requests of req bytes, all landed. */
static uint64_t land_file(struct ltfs_volume *v, const char *name,
			  const unsigned char *data, size_t len, size_t req)
{
	struct ltfs_stat st;
	size_t off;

	if (ltfs_create(v, LTFS_ROOT_UID, name, &st))
		return 0;
	for (off = 0; off < len; off += req) {
		size_t k = len - off < req ? len - off : req;

		if (land(v, st.uid, data + off, k, off) != (ssize_t)k)
			return 0;
	}
	return st.uid;
}

/* Read [off, off+len) of uid with ltfs_read_direct + pread, or ltfs_read where it says 0. */
static int read_mixed(struct ltfs_volume *v, uint64_t uid, unsigned char *out,
		      size_t len, uint64_t off, size_t *direct)
{
	size_t got = 0;

	while (got < len) {
		uint64_t pos;
		int fd;
		ssize_t n = ltfs_read_direct(v, uid, len - got, off + got, &fd, &pos);

		if (n < 0)
			return (int)n;
		if (n > 0) {
			if (pread(fd, out + got, (size_t)n, (off_t)pos) != n)
				return -999;
			*direct += (size_t)n;
		} else {
			n = ltfs_read(v, uid, out + got, len - got, off + got);
			if (n <= 0)
				return n < 0 ? (int)n : -998;
		}
		got += (size_t)n;
	}
	return 0;
}

struct named {
	const char *name;
	const unsigned char *data;
	size_t len;
};

/* Every file of the list reads identical (ltfs_read). */
static int all_equal(struct ltfs_volume *v, const struct named *f, size_t nf)
{
	size_t i;

	for (i = 0; i < nf; i++) {
		uint64_t uid = lookup_uid(v, LTFS_ROOT_UID, f[i].name);

		if (!uid || !file_equals(v, uid, f[i].data, f[i].len)) {
			printf("# %s differs\n", f[i].name);
			return 0;
		}
	}
	return 1;
}

static void test_landing(void)
{
	const char *path = image_new("land.img", 512ull << 20);
	size_t big = 40 * BS + 12345, odd = 3 << 20, wrap = 40u << 20, direct = 0;
	unsigned char *data = malloc(big), *odd_data = malloc(odd), *small = malloc(5000);
	unsigned char *wrap_data = malloc(wrap), *back = malloc(wrap), *race = malloc(300000);
	struct ltfs_io_stats io, io2;
	struct ltfs_landing l;
	struct ltfs_volume *v;
	struct ltfs_stat st;
	struct tape *t = tape_at(path, 0);
	uint64_t uid, suid, tuid;
	ssize_t n;
	int rc;

	CHECK(t && data && odd_data && small && wrap_data && back && race, "volume and buffers");
	if (!t || !data || !odd_data || !small || !wrap_data || !back || !race)
		exit(2);
	CHECK_EQ(format_default(t, BS, "land"), 0, "format");
	v = mount_rw(t);
	if (!v)
		exit(2);
	CHECK(ltfs_landing_possible(v), "a read-write image volume offers landings");
	fill_random(data, big);
	fill_random(odd_data, odd);
	fill_random(small, 5000);
	fill_random(wrap_data, wrap);
	fill_random(race, 300000);

	/* a small file first, so the big one starts in the middle of a record */
	suid = land_file(v, "small", small, 5000, 5000);
	CHECK(suid != 0, "small file landed");
	ltfs_io_stats(v, &io);
	CHECK_EQ(io.write_landed, 5000, "its bytes count as landed");
	CHECK_EQ(io.write_copied, 0, "... and nothing was copied");

	/* 1 MiB requests: each fills the shared record, then runs on across
	 * 15 more records contiguously in the stream */
	uid = land_file(v, "big", data, big, 1u << 20);
	CHECK(uid != 0, "big file landed in 1 MiB requests crossing records");
	ltfs_io_stats(v, &io);
	CHECK_EQ(io.write_landed, big + 5000, "everything written counts as landed");
	CHECK_EQ(io.write_copied, 0, "nothing copied");
	CHECK_EQ(io.write_direct, 0, "nothing written around the stream");
	CHECK(io.records_queued == (big + 5000) / BS,
	      "every full record was queued from the stream (%llu)",
	      (unsigned long long)io.records_queued);

	/* odd request sizes: records end in the middle of requests, and the
	 * stream's end is unaligned after every one.  The file's requests
	 * follow each other, so they are moved down onto the stream's end
	 * (one extent, no padding) rather than padded apart. */
	{
		uint64_t copied0 = io.write_copied, pad0 = io.write_padding, ouid;
		struct ltfs_node *on;

		ouid = land_file(v, "odd", odd_data, odd, 777777);
		CHECK(ouid != 0, "odd-sized requests landed");
		ltfs_io_stats(v, &io);
		on = ouid ? ltfs_tree_get(&v->ix.tree, ouid) : NULL;
		CHECK(on && on->next == 1, "... the file is one extent (%zu)", on ? on->next : 0);
		CHECK_EQ(io.write_padding, pad0 + (8 - (5000 + big) % 8) % 8,
			 "... padded only where the file starts");
		/* every request after the first was moved down; a record shorter
		 * than a header right after one in flight may move too */
		CHECK(io.write_copied - copied0 >= odd - 777777 &&
		      io.write_copied - copied0 < odd - 777777 + HDR * (odd / 777777 + 1),
		      "... requests after the first were moved, not padded (%llu)",
		      (unsigned long long)(io.write_copied - copied0));
	}
	/* files of odd sizes one after another: each starts a new extent, so
	 * aligning the next one's header costs padding, not a copy */
	{
		static unsigned char few[3][1001];
		uint64_t copied0 = io.write_copied, pad0 = io.write_padding;
		int i;

		for (i = 0; i < 3; i++) {
			char name[16];

			fill_random(few[i], sizeof(few[i]));
			snprintf(name, sizeof(name), "few%d", i);
			CHECK(land_file(v, name, few[i], sizeof(few[i]), sizeof(few[i])) != 0,
			      "odd-sized file %d landed", i);
		}
		ltfs_io_stats(v, &io);
		CHECK_EQ(io.write_copied, copied0, "... nothing copied for them");
		CHECK(io.write_padding > pad0, "... padding between them (%llu)",
		      (unsigned long long)(io.write_padding - pad0));
		for (i = 0; i < 3; i++) {
			char name[16];

			snprintf(name, sizeof(name), "few%d", i);
			memset(back, 0, sizeof(few[i]));
			n = ltfs_read(v, lookup_uid(v, LTFS_ROOT_UID, name), back, sizeof(few[i]), 0);
			CHECK(n == (ssize_t)sizeof(few[i]) && memcmp(back, few[i], sizeof(few[i])) == 0,
			      "... file %d reads back identical", i);
		}
	}

	/* a request that is not a write lands and leaves the stream alone */
	rc = ltfs_landing_get(v, HDR, ROOM, &l);
	CHECK_EQ(rc, 0, "a landing for a request that is not a write");
	if (!rc) {
		struct ltfs_landing l2;

		CHECK_EQ(ltfs_landing_get(v, HDR, ROOM, &l2), -EBUSY, "... one landing at a time");
		memset(l.data - HDR, 0x5A, HDR + 300);
		/* read the record being filled while the header lies over its end */
		memset(back, 0, odd);
		n = ltfs_read(v, lookup_uid(v, LTFS_ROOT_UID, "odd"), back, odd, 0);
		CHECK(n == (ssize_t)odd && memcmp(back, odd_data, odd) == 0,
		      "reading the record being filled during a landing: identical");
		ltfs_landing_put(v, &l);
	}
	{
		const struct named f[] = { { "small", small, 5000 }, { "big", data, big },
					   { "odd", odd_data, odd } };

		CHECK(all_equal(v, f, 3), "after a request that was not a write: all identical");
	}

	/* a short file, still in the record being filled: served from memory */
	tuid = land_file(v, "tail", small, 1000, 1000);
	CHECK(tuid != 0, "tail file landed");
	{
		uint64_t pos;
		int fd;

		n = ltfs_read_direct(v, tuid, 1000, 0, &fd, &pos);
		CHECK_EQ(n, 0, "data in the record being filled is not served directly");
		CHECK(file_equals(v, tuid, small, 1000), "... ltfs_read has it");
	}

	/*
	 * The sync thread's race, in one thread: a landing is out, the kernel
	 * writes the header over the end of the record being filled (and the
	 * payload), and a periodic sync flushes that record meanwhile.  The
	 * record must reach the tape with its real bytes, and the landed
	 * payload, no longer at the end of the stream, is copied.
	 */
	CHECK_EQ(ltfs_create(v, LTFS_ROOT_UID, "race", &st), 0, "create race");
	CHECK_EQ(land(v, st.uid, race, 100000, 0), 100000, "race: a first part landed");
	ltfs_io_stats(v, &io);
	rc = ltfs_landing_get(v, HDR, ROOM, &l);
	CHECK_EQ(rc, 0, "race: a landing for the second part");
	if (!rc) {
		memset(l.data - HDR, 0xEE, HDR);
		memcpy(l.data, race + 100000, 200000);
		CHECK_EQ(ltfs_sync(v, "Periodic Sync"), 0, "race: a sync while the landing is out");
		n = ltfs_write_landed(v, st.uid, l.data, 200000, 100000);
		CHECK_EQ(n, 200000, "race: the landed write after the sync");
		ltfs_landing_put(v, &l);
		ltfs_io_stats(v, &io2);
		CHECK_EQ(io2.write_landed, io.write_landed, "race: ... was not taken as landed");
		CHECK(io2.write_copied >= io.write_copied + 200000,
		      "race: ... it and the flushed record were copied (%llu more)",
		      (unsigned long long)(io2.write_copied - io.write_copied));
	}
	{
		const struct named f[] = { { "small", small, 5000 }, { "big", data, big },
					   { "odd", odd_data, odd }, { "race", race, 300000 },
					   { "tail", small, 1000 } };

		CHECK(all_equal(v, f, 5), "after the race: all identical");
	}

	/* more than the ring holds: the stream goes round, moving only the
	 * bytes of the record being filled */
	ltfs_io_stats(v, &io);
	CHECK(land_file(v, "wrap", wrap_data, wrap, 1u << 20) != 0,
	      "40 MiB landed through a 32 MiB ring");
	ltfs_io_stats(v, &io2);
	CHECK_EQ(io2.write_landed - io.write_landed, wrap, "... all of it landed");
	CHECK(io2.write_copied - io.write_copied <= 2 * BS,
	      "... at most the record being filled was moved at the wrap (%llu bytes)",
	      (unsigned long long)(io2.write_copied - io.write_copied));
	CHECK(io2.records_retired <= io2.records_queued, "retired <= queued (%llu, %llu)",
	      (unsigned long long)io2.records_retired, (unsigned long long)io2.records_queued);
	CHECK_EQ(unmount_ok(v), 0, "unmount");

	v = mount_rw(t);
	if (!v)
		exit(2);
	{
		const struct named f[] = { { "small", small, 5000 }, { "big", data, big },
					   { "odd", odd_data, odd }, { "race", race, 300000 },
					   { "tail", small, 1000 }, { "wrap", wrap_data, wrap } };

		CHECK(all_equal(v, f, 6), "after remount: every file identical");
	}
	uid = lookup_uid(v, LTFS_ROOT_UID, "big");
	memset(back, 0, big);
	rc = read_mixed(v, uid, back, big, 0, &direct);
	CHECK(rc == 0 && memcmp(back, data, big) == 0,
	      "after remount the big file reads identical through direct ranges (rc %d)", rc);
	CHECK(direct >= big - 4 * BS, "almost all of it direct (%zu of %zu)", direct, big);
	ltfs_io_stats(v, &io);
	CHECK(io.records_verified >= 40 && io.records_verified <= 44,
	      "each record verified once (%llu)", (unsigned long long)io.records_verified);
	uid = lookup_uid(v, LTFS_ROOT_UID, "wrap");
	direct = 0;
	rc = read_mixed(v, uid, back, wrap, 0, &direct);
	CHECK(rc == 0 && memcmp(back, wrap_data, wrap) == 0,
	      "the file written across the wrap reads identical through direct ranges");

	/* a hole is left to ltfs_read, which makes the zeros */
	{
		struct ltfs_setattr sa = { .mask = LTFS_SET_LENGTH, .length = big + 3 * BS };
		uint64_t pos;
		int fd;

		uid = lookup_uid(v, LTFS_ROOT_UID, "big");
		CHECK_EQ(ltfs_setattr(v, uid, &sa, &st), 0, "extend the file with a hole");
		n = ltfs_read_direct(v, uid, BS, big + BS, &fd, &pos);
		CHECK_EQ(n, 0, "a hole is not served directly");
		n = ltfs_read_direct(v, uid, BS, big - 10, &fd, &pos);
		CHECK_EQ(n, 10, "a range ending in a hole: only the data part");
	}

	/* damage record 20 of the big file's run: direct read fails with EIO */
	{
		struct ltfs_node *nd = ltfs_tree_get(&v->ix.tree, uid);
		uint64_t block = nd->ext[0].startblock + 20, pos, off;
		uint32_t len, crc;
		unsigned char b;
		int fd, dp = ltfs_part_scsi(v, nd->ext[0].part);

		rc = tape_image_record_extent(t, (uint32_t)dp, block, &fd, &off, &len, &crc);
		CHECK_EQ(rc, 0, "find record %llu in the image", (unsigned long long)block);
		if (rc == 0 && pread(fd, &b, 1, (off_t)off + 77) == 1) {
			b ^= 1;
			CHECK(pwrite(fd, &b, 1, (off_t)off + 77) == 1, "flip a bit of it");
		}
		CHECK_EQ(unmount_ok(v), 0, "unmount");
		v = mount_rw(t);
		if (!v)
			exit(2);
		uid = lookup_uid(v, LTFS_ROOT_UID, "big");
		/* the file began 5000 bytes into the run's first record, so
		 * record 20 holds file bytes [20 BS - 5000, 21 BS - 5000) */
		n = ltfs_read_direct(v, uid, BS, 20 * BS, &fd, &pos);
		CHECK_EQ(n, -EIO, "a damaged record is not handed out: -EIO");
		n = ltfs_read_direct(v, uid, 2 * BS, 12 * BS, &fd, &pos);
		CHECK_EQ(n, 2 * BS, "records before it still are");
		n = ltfs_read_direct(v, uid, 3 * BS, 18 * BS, &fd, &pos);
		CHECK(n > 0 && n < 3 * BS, "a range running into it stops before it (%zd)", n);
	}
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	tape_close(t);
	free(data);
	free(odd_data);
	free(small);
	free(wrap_data);
	free(back);
	free(race);
}

/* ltfs_write() (the daemon's plain buffer, -o nolanding) copies or writes around. */
/*
 * A drive with a deep, slow queue, put over an image handle: a queued
 * record is only remembered (where it lies in the arena) and written when
 * more than LAZY_DEPTH records are queued after it, or when waited for.
 * Its bytes are read from the arena only then, so a stream that reuses
 * memory still in flight puts wrong bytes on tape.  LAZY_DEPTH records of
 * 64 KiB are more than the ring holds: the ring fills up completely.
 */
#define LAZY_DEPTH 600u
#define LAZY_MAX 1024u
static const struct tape_ops *lazy_inner;
static struct tape_ops lazy_ops;
static struct lazy_record {
	const void *buf;
	size_t len;
} lazy_q[LAZY_MAX];
static size_t lazy_head, lazy_count;

static int lazy_register(struct tape *t, void *base, size_t len)
{
	return 0;
}

static void lazy_retire_one(struct tape *t)
{
	const struct lazy_record *r = &lazy_q[lazy_head];
	ssize_t w = lazy_inner->write(t, r->buf, r->len);

	lazy_head = (lazy_head + 1) % LAZY_MAX;
	lazy_count--;
	if (w != (ssize_t)r->len && !t->q.error) {
		t->q.error = w < 0 ? (int)w : -EIO;
		t->q.error_seq = t->q.retired + 1;
		t->q.error_sense = TAPE_SENSE_HARDWARE;
	}
	if (!t->q.error)
		t->q.retired++;
}

static ssize_t lazy_write_queued(struct tape *t, const void *buf, size_t len)
{
	if (lazy_count == LAZY_MAX)
		lazy_retire_one(t);
	lazy_q[(lazy_head + lazy_count++) % LAZY_MAX] = (struct lazy_record){ buf, len };
	return (ssize_t)len;
}

static int lazy_reap(struct tape *t, uint64_t wait_for)
{
	while (lazy_count && !t->q.error &&
	       (lazy_count > LAZY_DEPTH || wait_for > t->q.retired))
		lazy_retire_one(t);
	return 0;
}

static void make_lazy(struct tape *t)
{
	lazy_inner = t->ops;
	lazy_ops = *t->ops;
	lazy_ops.register_arena = lazy_register;
	lazy_ops.write_queued = lazy_write_queued;
	lazy_ops.reap = lazy_reap;
	lazy_head = lazy_count = 0;
	t->ops = &lazy_ops;
}

/*
 * Three times round the ring in 1 MiB requests, files of odd sizes one
 * after another (each starts a new extent, so landings pad instead of
 * moving).  The mirrored ring crosses its end in place: nothing copied.
 * A plain ring moves the record being filled at each wrap.  Both read
 * back identical after a remount.  On the lazy drive (make_lazy()) the
 * ring is full of records in flight, so new requests land right behind
 * them, across the ring's end: where a wrong overlap test would
 * overwrite them.
 */
static void test_ring_wrap(bool plain, bool lazy)
{
	const uint32_t bs = BS;
	enum { FILES = 24 };
	const size_t file_len = (4u << 20) - 4096 + 100, total = FILES * file_len;
	const char *path = image_new("wrap.img", 512ull << 20);
	struct ltfs_mount_opts mo = { .plain_ring = plain };
	char kind[48];
	unsigned char *data = malloc(total);
	struct ltfs_io_stats io, io2;
	struct ltfs_volume *v = NULL;
	struct tape *t = tape_at(path, 0);
	char err[LTFS_ERRLEN], name[16];
	bool all_landed = true, same = true;
	unsigned i;

	snprintf(kind, sizeof(kind), "%s ring%s", plain ? "plain" : "mirrored",
		 lazy ? ", slow deep queue" : "");
	CHECK(t && data, "%s: volume and buffers", kind);
	if (!t || !data)
		exit(2);
	fill_random(data, total);
	CHECK_EQ(format_default(t, bs, "wrap"), 0, "%s: format", kind);
	if (t && lazy)
		make_lazy(t);
	CHECK_EQ(ltfs_mount(t, &mo, &v, err), 0, "%s: mount", kind);
	if (!v)
		exit(2);
	CHECK(total > 2 * (size_t)LTFS_ARENA_BYTES, "%s: %zu MiB is more than twice the ring",
	      kind, total >> 20);
	ltfs_io_stats(v, &io);
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "w%02u", i);
		all_landed &= land_file(v, name, data + i * file_len, file_len, 1u << 20) != 0;
	}
	ltfs_io_stats(v, &io2);
	CHECK(all_landed, "%s: %u files of %zu bytes landed in 1 MiB requests", kind, FILES,
	      file_len);
	CHECK_EQ(io2.write_landed - io.write_landed, total, "%s: every byte landed", kind);
	if (plain)
		CHECK(io2.write_copied > io.write_copied &&
		      io2.write_copied - io.write_copied <= 3 * (bs + (1u << 20)),
		      "%s: each wrap moved at most the record being filled and a request "
		      "(%llu bytes)", kind, (unsigned long long)(io2.write_copied - io.write_copied));
	else
		CHECK_EQ(io2.write_copied - io.write_copied, 0,
			 "%s: nothing copied going round three times", kind);
	CHECK(io2.records_queued - io.records_queued >= total / bs,
	      "%s: the records were queued from the ring (%llu, at most %llu in flight)", kind,
	      (unsigned long long)(io2.records_queued - io.records_queued),
	      (unsigned long long)io2.max_in_flight);
	if (lazy)
		/* the lazy drive writes while the core waits for a full ring */
		CHECK(io2.tape_wait_ns > io.tape_wait_ns,
		      "%s: the time blocked on the drive is counted (%.3f s)", kind,
		      (double)(io2.tape_wait_ns - io.tape_wait_ns) / 1e9);
	CHECK_EQ(unmount_ok(v), 0, "%s: unmount", kind);
	v = mount_rw(t);
	if (!v)
		exit(2);
	for (i = 0; i < FILES; i++) {
		uint64_t uid;

		snprintf(name, sizeof(name), "w%02u", i);
		uid = lookup_uid(v, LTFS_ROOT_UID, name);
		if (!uid || !file_equals(v, uid, data + i * file_len, file_len)) {
			printf("# %s differs\n", name);
			same = false;
		}
	}
	CHECK(same, "%s: after remount every file reads back identical", kind);
	CHECK_EQ(unmount_ok(v), 0, "%s: unmount after reading", kind);
	tape_close(t);
	free(data);
}

static void test_plain_writes(void)
{
	const char *path = image_new("plain.img", 128ull << 20);
	size_t big = 20 * BS;
	unsigned char *data = malloc(big);
	struct ltfs_io_stats io;
	struct ltfs_volume *v;
	struct tape *t = tape_at(path, 0);
	uint64_t uid;

	CHECK(t && data, "plain: volume");
	if (!t || !data)
		exit(2);
	CHECK_EQ(format_default(t, BS, "plain"), 0, "plain: format");
	v = mount_rw(t);
	if (!v)
		exit(2);
	fill_random(data, big);
	uid = put_file(v, LTFS_ROOT_UID, "aligned", data, big, 4 * BS);
	ltfs_io_stats(v, &io);
	CHECK(uid != 0 && io.write_direct == big && io.write_copied == 0 && io.write_landed == 0,
	      "plain aligned records go to tape from the caller's buffer (direct %llu)",
	      (unsigned long long)io.write_direct);
	uid = put_file(v, LTFS_ROOT_UID, "unaligned", data, 1000, 1000);
	ltfs_io_stats(v, &io);
	CHECK(uid != 0 && io.write_copied == 1000, "a short plain write is copied");
	CHECK_EQ(unmount_ok(v), 0, "plain: unmount");
	v = mount_rw(t);
	if (!v)
		exit(2);
	{
		const struct named f[] = { { "aligned", data, big }, { "unaligned", data, 1000 } };

		CHECK(all_equal(v, f, 2), "plain: identical after remount");
	}
	CHECK_EQ(unmount_ok(v), 0, "plain: unmount");
	tape_close(t);
	free(data);
}

static int first_generation(void *ctx, const struct ltfs_generation *g)
{
	*(uint64_t *)ctx = g->generation;
	return 1;
}

/*
 * A queued record fails after the write that filled it was acknowledged
 * (the tape says so later, in tape_queue_state): the volume must refuse
 * writes, fail sync, fsync and unmount, and write no index naming the
 * lost blocks.  The failure is injected into the handle's queue state the
 * way a backend records one.
 */
static void test_deferred_error(void)
{
	const char *path = image_new("deferred.img", 128ull << 20);
	size_t len = 3 * BS + 777;
	unsigned char *kept = malloc(len), *lost = malloc(len);
	char err[LTFS_ERRLEN], msg[LTFS_ERRLEN];
	struct ltfs_landing l;
	struct ltfs_volume *v;
	struct ltfs_stat st;
	struct tape *t = tape_at(path, 0);
	uint64_t gen = 0, newest = 0, luid;

	CHECK(t && kept && lost, "deferred: volume");
	if (!t || !kept || !lost)
		exit(2);
	CHECK_EQ(format_default(t, BS, "deferred"), 0, "deferred: format");
	v = mount_rw(t);
	if (!v)
		exit(2);
	fill_random(kept, len);
	fill_random(lost, len);
	CHECK(land_file(v, "kept", kept, len, 1u << 20) != 0, "deferred: a file landed");
	CHECK_EQ(ltfs_sync(v, "Sync"), 0, "deferred: synced");
	gen = v->ix.generation;
	luid = land_file(v, "lost", lost, BS + 5, 1u << 20);
	CHECK(luid != 0, "deferred: a second file landed, acknowledged");
	tape_queue_reap(t, UINT64_MAX, NULL);
	/* what a backend records when record N failed */
	t->q.error = -EIO;
	t->q.error_seq = t->q.queued;
	t->q.error_sense = TAPE_SENSE_HARDWARE;

	CHECK_EQ(ltfs_create(v, LTFS_ROOT_UID, "after", &st), 0, "deferred: create after");
	CHECK_EQ(land(v, st.uid, lost, 2 * BS, 0), -EIO,
		 "deferred: the next write that queues a record learns of it: -EIO");
	CHECK_EQ(ltfs_write_failure(v, msg), -EIO, "deferred: the volume knows");
	printf("# %s\n", msg);
	CHECK(strstr(msg, "not on tape") != NULL, "deferred: ... and says what it means");
	CHECK_EQ(ltfs_landing_get(v, HDR, ROOM, &l), -EIO, "deferred: no more landings");
	CHECK_EQ(ltfs_write(v, st.uid, lost, 100, 0), -EIO, "deferred: plain writes refused");
	CHECK(ltfs_sync(v, "Sync") < 0, "deferred: sync fails");
	CHECK(ltfs_fsync(v, luid) < 0, "deferred: fsync fails");
	CHECK(ltfs_unmount(v, err) < 0, "deferred: unmount fails: %s", err);
	CHECK(strstr(err, "not on tape") != NULL, "deferred: unmount says why");
	tape_close(t);

	t = tape_at(path, 0);
	if (!t)
		exit(2);
	ltfs_list_generations(t, first_generation, &newest, err);
	CHECK_EQ(newest, gen, "deferred: no index was written after the failure");
	v = mount_rw(t);
	CHECK(v != NULL, "deferred: the volume mounts again");
	if (v) {
		const struct named f[] = { { "kept", kept, len } };

		CHECK(all_equal(v, f, 1), "deferred: the file synced before is intact");
		CHECK_EQ(lookup_uid(v, LTFS_ROOT_UID, "after"), 0,
			 "deferred: files of the lost writes are not in the namespace");
		unmount_ok(v);
	}
	tape_close(t);
	free(kept);
	free(lost);
}

/*
 * The image file truncated behind the open tape's back, cutting record 1:
 * the in-place crc pass over its mapping must fail with -EIO rather than
 * die of SIGBUS, the tape keep working on what is left, and a SIGBUS that
 * is none of ours still take its usual course.
 */
static void test_truncated_image(void)
{
	const char *path = image_new("shrunk.img", 64ull << 20);
	unsigned char *data = malloc(2 * BS), *back = malloc(BS);
	struct tape *t = tape_at(path, 0);
	uint64_t off;
	uint32_t len, crc;
	int fd, other, status;
	pid_t child;

	CHECK(t && data && back, "truncate: image");
	if (!t || !data || !back)
		exit(2);
	fill_random(data, 2 * BS);
	CHECK_EQ(tape_write(t, data, BS), BS, "truncate: record 0 written");
	CHECK_EQ(tape_write(t, data + BS, BS), BS, "truncate: record 1 written");
	CHECK_EQ(tape_flush(t), 0, "truncate: flushed");
	if (tape_image_record_extent(t, 0, 1, &fd, &off, &len, &crc) != 0) {
		CHECK(0, "truncate: record_extent of record 1");
		exit(2);
	}
	other = open(path, O_RDWR | O_CLOEXEC);
	CHECK(other >= 0 && ftruncate(other, (off_t)off + 4096 + 100) == 0,
	      "truncate: the image cut 4196 bytes into record 1 through a second descriptor");
	CHECK_EQ(tape_image_verify_record(t, 0, 1), -EIO,
		 "verify_record of the cut record: -EIO, no SIGBUS");
	CHECK_EQ(tape_image_verify_record(t, 0, 1), -EIO, "... and again");
	CHECK_EQ(tape_image_verify_record(t, 0, 0), 0, "verify_record of intact record 0 still succeeds");
	tape_locate(t, 0, 0);
	CHECK(tape_read(t, back, BS) == BS && memcmp(back, data, BS) == 0,
	      "record 0 still reads back identical");
	CHECK_EQ(tape_read(t, back, BS), -EIO, "tape_read of the cut record: -EIO");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_MEDIUM_ERROR, "... sense MEDIUM ERROR");

	/* a fault outside our mappings is not swallowed by the guard */
	child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_WRONLY);
		volatile const char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, other,
					      (off_t)off + 8192);

		if (null >= 0)
			dup2(null, 2);	/* a sanitizer's report of the fault is expected */
		if (m != MAP_FAILED)
			(void)m[100];	/* past EOF: SIGBUS */
		_exit(0);
	}
	CHECK(child > 0 && waitpid(child, &status, 0) == child &&
	      !(WIFEXITED(status) && WEXITSTATUS(status) == 0),
	      "an unrelated SIGBUS still ends the process (status 0x%x)", status);
	close(other);
	tape_close(t);
	free(data);
	free(back);
}

/*
 * The host filesystem under an image fills up (ENOSPC with sense
 * HARDWARE, not end of medium): the write fails, but the cartridge is not
 * full, and once the host has room again writes go on.  In a child with
 * its own mount namespace, on a small tmpfs that is then grown.
 */
struct host_full_result {
	int setup;		/* 0, or the step that could not be set up */
	int first_rc;		/* ltfs error when the host filled */
	bool dp_full;		/* the core took the cartridge for full */
	bool wrote_after;	/* a write after the host grew succeeded */
	bool same;		/* ... and both files read back */
	int unmount_rc;
};

static void host_full_child(const char *mdir, int wfd)
{
	struct host_full_result r = { .first_rc = 1 };
	static unsigned char data[1u << 20], back[1u << 20], more[300000];
	char path[320];
	struct ltfs_volume *v = NULL;
	struct tape *t = NULL;
	uint64_t uid = 0, muid = 0;
	size_t written = 0;

	snprintf(path, sizeof(path), "%s/img", mdir);
	if (unshare(CLONE_NEWNS) < 0)
		r.setup = -1;
	else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		r.setup = -2;
	else if (mount("fusetape-test", mdir, "tmpfs", 0, "size=6m") < 0)
		r.setup = -3;
	else if (tape_image_create(path, &(struct tape_image_params){ .size = 256ull << 20 },
				   NULL, 0) < 0 || !(t = tape_at(path, 0)) ||
		 format_default(t, BS, "hostfull") != 0 || !(v = mount_rw(t)))
		r.setup = -4;
	if (!r.setup) {
		struct ltfs_stat st;

		fill_random(data, sizeof(data));
		fill_random(more, sizeof(more));
		if (ltfs_create(v, LTFS_ROOT_UID, "big", &st) == 0)
			uid = st.uid;
		/* 1 MiB at a time until the 6 MiB host says no */
		for (int i = 0; uid && i < 32 && r.first_rc > 0; i++) {
			ssize_t n = land(v, uid, data, sizeof(data), written);

			if (n < 0)
				r.first_rc = (int)n;
			else
				written += (size_t)n;
		}
		r.dp_full = v->dp_full;
		if (mount(NULL, mdir, NULL, MS_REMOUNT, "size=512m") < 0) {
			r.setup = -5;
		} else {
			muid = land_file(v, "more", more, sizeof(more), sizeof(more));
			r.wrote_after = muid != 0;
			r.same = r.wrote_after && file_equals(v, muid, more, sizeof(more)) &&
				 written >= sizeof(data) &&
				 ltfs_read(v, uid, back, sizeof(back), written - sizeof(data)) ==
					 (ssize_t)sizeof(back) &&
				 memcmp(back, data, sizeof(data)) == 0;
			r.unmount_rc = ltfs_unmount(v, NULL);
			v = NULL;
		}
	}
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

static void test_host_full(void)
{
	struct host_full_result r = { .setup = -100 };
	char mdir[300];
	int pfd[2], status;
	pid_t pid;

	snprintf(mdir, sizeof(mdir), "%s/hostfull", tdir);
	if (mkdir(mdir, 0700) < 0 || pipe(pfd) < 0) {
		CHECK(0, "host full: setup");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		host_full_child(mdir, pfd[1]);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &r, sizeof(r)) != sizeof(r))
		r.setup = -101;
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	rmdir(mdir);
	if (r.setup) {
		SKIP("needs root for a mount namespace and tmpfs", "host full (setup step %d)", r.setup);
		return;
	}
	CHECK_EQ(r.first_rc, -ENOSPC, "host full: the write that found it full fails with ENOSPC");
	CHECK(!r.dp_full, "host full: ... and the cartridge is not taken for full");
	CHECK(r.wrote_after, "host full: with room on the host again, a new file is written");
	CHECK(r.same, "host full: ... and it and what went before read back identical");
	CHECK_EQ(r.unmount_rc, 0, "host full: the unmount writes its index");
}

int main(void)
{
	tdir_make();
	test_tape_level();
	test_landing();
	test_ring_wrap(false, false);
	test_ring_wrap(false, true);
	test_ring_wrap(true, false);
	test_ring_wrap(true, true);
	test_plain_writes();
	test_deferred_error();
	test_truncated_image();
	test_host_full();
	tdir_clean();
	return tap_done();
}
