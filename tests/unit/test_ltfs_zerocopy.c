/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ltfs_zerocopy.c - the zero-copy data path below the daemon:
 * tape_write_splice() and tape_image_verify_record() on an image, then
 * ltfs_write_pipe() (whole records spliced, the rest buffered) and
 * ltfs_read_direct() (verified image ranges), compared byte for byte with
 * what was written, with the counters of ltfs_io_stats(), and against a
 * record damaged in the image file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "test_ltfs_util.h"

#define BS 65536u
#define PIPE_BYTES (1u << 20)

static int pipe_new(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	/* 1 MiB is what an unprivileged process may ask for by default */
	if (fcntl(p[0], F_SETPIPE_SZ, PIPE_BYTES) < (int)PIPE_BYTES) {
		printf("# F_SETPIPE_SZ 1 MiB failed\n");
		return -1;
	}
	return 0;
}

static int pipe_fill(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pipe_ready(int fd)
{
	int n = -1;

	ioctl(fd, FIONREAD, &n);
	return n;
}

static void test_tape_level(void)
{
	const char *path = image_new("tape.img", 64ull << 20);
	unsigned char *data = malloc(3 * BS), *back = malloc(3 * BS);
	struct tape_position pos;
	struct tape *t = tape_at(path, 0);
	uint64_t off;
	uint32_t len, crc;
	int p[2], fd;
	ssize_t n;

	CHECK(t && data && back && pipe_new(p) == 0, "image and pipe");
	if (!t || !data || !back)
		exit(2);
	CHECK(tape_splice_native(t), "the image backend splices natively");
	fill_random(data, 3 * BS);

	/* two records from the pipe, one filled in the middle with 1000 bytes */
	pipe_fill(p[1], data, BS + 1000);
	n = tape_write_splice(t, p[0], BS);
	CHECK_EQ(n, BS, "tape_write_splice of a whole record");
	CHECK_EQ(pipe_ready(p[0]), 1000, "exactly the record was taken from the pipe");
	n = tape_write_splice(t, p[0], 1000);
	CHECK_EQ(n, 1000, "tape_write_splice of a short record");
	CHECK_EQ(pipe_ready(p[0]), 0, "the pipe is empty");

	/* the pipe runs dry: an error, nothing written, no hang */
	pipe_fill(p[1], data, 100);
	n = tape_write_splice(t, p[0], 4096);
	CHECK_EQ(n, -EIO, "a pipe holding less than the record: -EIO");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_ILLEGAL_REQUEST, "... sense ILLEGAL REQUEST");
	CHECK(tape_read_position(t, &pos) == 0 && pos.block == 2,
	      "... and no record written (position %llu)", (unsigned long long)pos.block);
	CHECK_EQ(tape_write_splice(t, -1, 10), -EINVAL, "a bad descriptor: -EINVAL");
	CHECK_EQ(tape_write_splice(t, p[0], 0), -EINVAL, "length 0: -EINVAL");
	while (pipe_ready(p[0]) > 0 && read(p[0], back, BS) > 0)
		;
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
	close(p[0]);
	close(p[1]);
	tape_close(t);
	free(data);
	free(back);
}

/* Write len bytes at off to uid through a pipe, the way the daemon does. */
static ssize_t write_via_pipe(struct ltfs_volume *v, int p[2], uint64_t uid,
			      const unsigned char *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (pipe_fill(p[1], buf, len))
		return -999;
	n = ltfs_write_pipe(v, uid, p[0], len, off);
	/* like libfuse: whatever was not taken is thrown away */
	while (pipe_ready(p[0]) > 0) {
		char junk[4096];

		if (read(p[0], junk, sizeof(junk)) <= 0)
			break;
	}
	return n;
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

static void test_core(void)
{
	const char *path = image_new("core.img", 256ull << 20);
	size_t big = 40 * BS + 12345, direct = 0;
	unsigned char *data = malloc(big), *back = malloc(big), *small = malloc(5000);
	struct ltfs_io_stats io;
	struct ltfs_volume *v;
	struct ltfs_stat st;
	struct tape *t = tape_at(path, 0);
	uint64_t uid, suid, off;
	uint32_t len, crc;
	int p[2], fd, rc;
	ssize_t n;

	CHECK(t && data && back && small && pipe_new(p) == 0, "volume and pipe");
	if (!t || !data || !back || !small)
		exit(2);
	CHECK_EQ(format_default(t, BS, "zc"), 0, "format");
	v = mount_rw(t);
	if (!v)
		exit(2);
	CHECK(ltfs_splice_native(v) && ltfs_read_direct_possible(v), "an image volume splices");
	fill_random(data, big);
	fill_random(small, 5000);

	/* a small file first, so the big one starts in the middle of a record */
	CHECK_EQ(ltfs_create(v, LTFS_ROOT_UID, "small", &st), 0, "create small");
	suid = st.uid;
	CHECK_EQ(write_via_pipe(v, p, suid, small, 5000, 0), 5000, "small file through a pipe");
	ltfs_io_stats(v, &io);
	CHECK_EQ(io.write_spliced, 0, "a small file is not spliced");
	CHECK_EQ(io.write_pipe_copied, 5000, "... it is gathered in the write buffer");

	CHECK_EQ(ltfs_create(v, LTFS_ROOT_UID, "big", &st), 0, "create big");
	uid = st.uid;
	/* pieces of 15 records: the first fills the shared record, the rest align */
	for (off = 0; off < big; off += 15 * BS) {
		size_t k = big - off < 15 * BS ? big - off : 15 * BS;

		n = write_via_pipe(v, p, uid, data + off, k, off);
		if (n != (ssize_t)k)
			break;
	}
	CHECK(off >= big, "big file through a pipe in 15-record pieces");
	ltfs_io_stats(v, &io);
	CHECK(io.write_spliced >= 36 * BS, "most of it spliced (%llu of %zu)",
	      (unsigned long long)io.write_spliced, big);
	CHECK_EQ(io.write_spliced % BS, 0, "only whole records are spliced");
	CHECK_EQ(io.write_spliced + io.write_pipe_copied, big + 5000,
		 "spliced + gathered == everything written");

	/* an unaligned overwrite in the middle goes through the buffer */
	fill_random(back, 3 * BS);
	CHECK_EQ(write_via_pipe(v, p, uid, back, 3 * BS, 7 * BS + 999), 3 * BS,
		 "overwrite 3 records' worth at an unaligned offset");
	memcpy(data + 7 * BS + 999, back, 3 * BS);

	/* a pipe holding less than announced: refused, file unchanged */
	pipe_fill(p[1], data, 100);
	n = ltfs_write_pipe(v, uid, p[0], 200, 0);
	CHECK_EQ(n, -EIO, "a short pipe: -EIO");
	while (pipe_ready(p[0]) > 0 && read(p[0], back, 4096) > 0)
		;
	CHECK(file_equals(v, uid, data, big), "big file identical before sync (ltfs_read)");
	CHECK(file_equals(v, suid, small, 5000), "small file identical before sync");

	/* the last small file is in the write buffer: left to ltfs_read */
	{
		uint64_t pos, tuid;

		CHECK_EQ(ltfs_create(v, LTFS_ROOT_UID, "tail", &st), 0, "create tail");
		tuid = st.uid;
		CHECK_EQ(write_via_pipe(v, p, tuid, small, 1000, 0), 1000, "tail file");
		n = ltfs_read_direct(v, tuid, 1000, 0, &fd, &pos);
		CHECK_EQ(n, 0, "data in the write buffer is not served directly");
		CHECK(file_equals(v, tuid, small, 1000), "... ltfs_read has it");
	}
	CHECK_EQ(unmount_ok(v), 0, "unmount");

	v = mount_rw(t);
	if (!v)
		exit(2);
	uid = lookup_uid(v, LTFS_ROOT_UID, "big");
	suid = lookup_uid(v, LTFS_ROOT_UID, "small");
	memset(back, 0, big);
	rc = read_mixed(v, uid, back, big, 0, &direct);
	CHECK(rc == 0 && memcmp(back, data, big) == 0,
	      "after remount the big file reads identical through direct ranges (rc %d)", rc);
	CHECK(direct >= big - 4 * BS, "almost all of it direct (%zu of %zu)", direct, big);
	ltfs_io_stats(v, &io);
	CHECK(io.records_verified >= 40 && io.records_verified <= 44,
	      "each record verified once (%llu)", (unsigned long long)io.records_verified);
	direct = 0;
	rc = read_mixed(v, uid, back, big, 0, &direct);
	ltfs_io_stats(v, &io);
	CHECK(rc == 0 && io.records_verified <= 44, "a second pass does not verify again (%llu)",
	      (unsigned long long)io.records_verified);
	direct = 0;
	rc = read_mixed(v, suid, back, 5000, 0, &direct);
	CHECK(rc == 0 && memcmp(back, small, 5000) == 0 && direct == 5000,
	      "the small file (shares a record) reads identical and direct");

	/* a hole is left to ltfs_read, which makes the zeros */
	{
		struct ltfs_setattr sa = { .mask = LTFS_SET_LENGTH, .length = big + 3 * BS };
		uint64_t pos;

		CHECK_EQ(ltfs_setattr(v, uid, &sa, &st), 0, "extend the file with a hole");
		n = ltfs_read_direct(v, uid, BS, big + BS, &fd, &pos);
		CHECK_EQ(n, 0, "a hole is not served directly");
		n = ltfs_read_direct(v, uid, BS, big - 10, &fd, &pos);
		CHECK_EQ(n, 10, "a range ending in a hole: only the data part");
	}

	/* damage record 20 of the big file's run: direct read fails with EIO */
	{
		struct ltfs_node *nd = ltfs_tree_get(&v->ix.tree, uid);
		uint64_t block = nd->ext[0].startblock + 20, pos;
		unsigned char b;
		int dp = ltfs_part_scsi(v, nd->ext[0].part);

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
	close(p[0]);
	close(p[1]);
	tape_close(t);
	free(data);
	free(back);
	free(small);
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
	int p[2], fd, other, status;
	pid_t child;

	CHECK(t && data && back && pipe_new(p) == 0, "truncate: image and pipe");
	if (!t || !data || !back)
		exit(2);
	fill_random(data, 2 * BS);
	pipe_fill(p[1], data, 2 * BS);
	CHECK_EQ(tape_write_splice(t, p[0], BS), BS, "truncate: record 0 spliced");
	CHECK_EQ(tape_write_splice(t, p[0], BS), BS, "truncate: record 1 spliced");
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
	close(p[0]);
	close(p[1]);
	tape_close(t);
	free(data);
	free(back);
}

int main(void)
{
	tdir_make();
	test_tape_level();
	test_core();
	test_truncated_image();
	tdir_clean();
	return tap_done();
}
