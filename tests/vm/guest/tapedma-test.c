/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tapedma-test - every entry point of tapedma.ko against the emulated drive
 * (tgt over iSCSI, rewound, variable-block mode): records written through
 * TAPEDMA_IOC_CMD, uring_cmd (plain and registered buffers), write(2),
 * writev(2) and splice(2) come back byte for byte through the same paths;
 * filemarks, end of data and over-long records give st's answers; bad
 * pointers, misaligned and oversized buffers are refused; the counters say
 * no byte was copied and no page stays pinned (/proc/vmstat balances).
 * Finally the SCSI device is deleted under an open file and rescanned.
 *
 * Needs /dev/tapedma0 (tapedma.ko loaded after st/sg and the HBA), root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <liburing.h>

#include "tap.h"
#include "tapedma.h"

#define DEV "/dev/tapedma0"
#define SYS "/sys/class/tapedma/tapedma0"
#define PAGE 4096u
#define FIXED_SIZE (16u << 20)	/* > max_segments pages: nr_segs must be trimmed */

static int fd;
static struct tapedma_info info;

/* ---- helpers ---- */

static void fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static bool same(const void *buf, size_t len, uint32_t seed)
{
	unsigned char *want = malloc(len);
	bool ok;

	if (!want)
		return false;
	fill(want, len, seed);
	ok = memcmp(buf, want, len) == 0;
	free(want);
	return ok;
}

static void *page_buf(size_t len)
{
	void *p = mmap(NULL, len ? len : PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void rw6(uint8_t *cdb, bool write, uint32_t len)
{
	memset(cdb, 0, 6);
	cdb[0] = write ? 0x0a : 0x08;
	cdb[2] = len >> 16;
	cdb[3] = len >> 8;
	cdb[4] = len;
}

static void prep_cmd(struct tapedma_cmd *c, const uint8_t *cdb, int cdb_len,
		     int dir, void *buf, uint32_t len,
		     struct tapedma_result *res)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->cdb, cdb, cdb_len);
	c->cdb_len = cdb_len;
	c->dir = dir;
	c->buf = (uintptr_t)buf;
	c->len = len;
	c->result = (uintptr_t)res;
}

/* TAPEDMA_IOC_CMD; returns the ioctl's value or -errno. */
static long tcmd(const uint8_t *cdb, int cdb_len, int dir, void *buf,
		 uint32_t len, struct tapedma_result *res)
{
	struct tapedma_cmd c;
	long r;

	prep_cmd(&c, cdb, cdb_len, dir, buf, len, res);
	r = ioctl(fd, TAPEDMA_IOC_CMD, &c);
	return r < 0 ? -errno : r;
}

static long simple(uint8_t op, uint8_t b1, uint32_t count)
{
	uint8_t cdb[6] = { op, b1, count >> 16, count >> 8, count, 0 };
	struct tapedma_result res;

	return tcmd(cdb, 6, TAPEDMA_DIR_NONE, NULL, 0, &res);
}

static long rewind_tape(void) { return simple(0x01, 0, 0); }
static long write_fm(uint32_t n) { return simple(0x10, 0, n); }

static int sense_key(const struct tapedma_result *r)
{
	if (r->sense_len < 3)
		return -1;
	if ((r->sense[0] & 0x7f) >= 0x72)
		return r->sense[1] & 0x0f;
	return r->sense[2] & 0x0f;
}

static struct tapedma_stats stats(void)
{
	struct tapedma_stats s;

	memset(&s, 0xff, sizeof(s));
	if (ioctl(fd, TAPEDMA_IOC_STATS, &s) < 0)
		perror("TAPEDMA_IOC_STATS");
	return s;
}

static long long sysfs_stat(const char *name)
{
	char path[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYS "/stats/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * The pin counters are per-CPU deltas folded into /proc/vmstat lazily:
 * writing stat_refresh folds them, or a pin taken on one CPU and released on
 * the other looks like a leak for up to a second.
 */
static long long vmstat(const char *name)
{
	char key[64];
	long long v, found = -1;
	int refresh = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	FILE *f;

	if (refresh >= 0) {
		if (write(refresh, "1", 1) != 1)
			perror("stat_refresh");
		close(refresh);
	}
	f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

/* One uring_cmd on an SQE128 ring; returns cqe->res. */
static int ucmd(struct io_uring *ring, const struct tapedma_cmd *c,
		bool fixed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	unsigned char *payload;
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = TAPEDMA_URING_CMD;
	sqe->uring_cmd_flags = fixed ? IORING_URING_CMD_FIXED : 0;
	sqe->buf_index = 0;
	/* the payload runs into the second half of the 128-byte SQE */
	payload = (unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd);
	memcpy(payload, c, sizeof(*c));
	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* ---- the records on tape ---- */

enum {
	R_IOCTL = 65536,	/* page-aligned buffer */
	R_IOCTL_UNALIGNED = 100000,	/* buffer at page offset 4 */
	R_URING = 32768,
	R_FIXED = 65536,
	R_WRITE = 12345,	/* odd length */
	R_VEC1 = 8192,
	R_VEC2 = 5000,
	R_SPLICE = 65536,
	R_SPLICE_SHORT = 5000,	/* spliced out with room for 16 KiB */
	R_SMALL = 5,
	R_LONG = 8192,		/* read with a 4096 buffer: too long */
};

/* the R_LONG record is only written, never read whole */
#define RECORD_BYTES (R_IOCTL + R_IOCTL_UNALIGNED + R_URING + R_FIXED + R_WRITE + \
		      R_VEC1 + R_VEC2 + R_SPLICE + R_SPLICE_SHORT + R_SMALL + R_LONG / 2)

static void write_side(struct io_uring *ring, unsigned char *fixed)
{
	struct tapedma_result res;
	struct tapedma_cmd c;
	uint8_t cdb[6];
	unsigned char *a = page_buf(R_IOCTL), *b = page_buf(R_IOCTL_UNALIGNED + PAGE);
	unsigned char *u = page_buf(R_URING), *w = page_buf(R_WRITE);
	unsigned char *v = page_buf(R_VEC1 + R_VEC2 + PAGE);
	struct iovec iov[2];
	int pfd[2];
	long r;

	fill(a, R_IOCTL, 1);
	rw6(cdb, true, R_IOCTL);
	memset(&res, 0xaa, sizeof(res));
	r = tcmd(cdb, 6, TAPEDMA_DIR_TO_DEVICE, a, R_IOCTL, &res);
	CHECK_EQ(r, R_IOCTL, "ioctl WRITE(6) of 64 KiB returns the byte count");
	CHECK(res.status == 0 && res.host_status == 0 && res.transferred == R_IOCTL &&
	      res.resid == 0 && res.sense_len == 0,
	      "ioctl result: GOOD, transferred %u, resid %u", res.transferred, res.resid);

	fill(b + 4, R_IOCTL_UNALIGNED, 2);
	rw6(cdb, true, R_IOCTL_UNALIGNED);
	r = tcmd(cdb, 6, TAPEDMA_DIR_TO_DEVICE, b + 4, R_IOCTL_UNALIGNED, &res);
	CHECK_EQ(r, R_IOCTL_UNALIGNED, "ioctl WRITE(6) from a buffer at page offset 4");

	fill(u, R_URING, 3);
	rw6(cdb, true, R_URING);
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_TO_DEVICE, u, R_URING, &res);
	memset(&res, 0xaa, sizeof(res));
	r = ucmd(ring, &c, false);
	CHECK_EQ(r, R_URING, "uring_cmd WRITE(6), plain buffer");
	CHECK(res.status == 0 && res.transferred == R_URING,
	      "uring_cmd result written: status %u transferred %u", res.status, res.transferred);

	/* at the start of a 16 MiB registered buffer: io_import_fixed
	 * leaves 4096 bvecs in nr_segs, more than the host's segments
	 */
	fill(fixed, R_FIXED, 4);
	rw6(cdb, true, R_FIXED);
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_TO_DEVICE, fixed, R_FIXED, &res);
	r = ucmd(ring, &c, true);
	CHECK_EQ(r, R_FIXED, "uring_cmd WRITE(6), registered buffer (start of 16 MiB)");

	fill(w, R_WRITE, 5);
	r = write(fd, w, R_WRITE);
	CHECK_EQ(r, R_WRITE, "write(2) of an odd-length record");

	fill(v, R_VEC1 + R_VEC2, 6);
	iov[0].iov_base = v;
	iov[0].iov_len = R_VEC1;
	iov[1].iov_base = v + R_VEC1;
	iov[1].iov_len = R_VEC2;
	r = writev(fd, iov, 2);
	CHECK_EQ(r, R_VEC1 + R_VEC2, "writev(2) of two segments joined at a page boundary");

	if (pipe(pfd)) {
		perror("pipe");
		exit(1);
	}
	fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
	fill(a, R_SPLICE, 7);
	r = write(pfd[1], a, R_SPLICE);
	CHECK_EQ(r, R_SPLICE, "64 KiB into a pipe");
	r = splice(pfd[0], NULL, fd, NULL, R_SPLICE, 0);
	CHECK_EQ(r, R_SPLICE, "splice(pipe -> tapedma) writes one record");
	close(pfd[0]);
	close(pfd[1]);
	fill(w, R_SPLICE_SHORT, 10);
	CHECK_EQ(write(fd, w, R_SPLICE_SHORT), R_SPLICE_SHORT, "write(2) of a 5000-byte record");

	CHECK_EQ(write_fm(1), 0, "WRITE FILEMARKS(6) through the ioctl");

	fill(w, R_SMALL, 8);
	CHECK_EQ(write(fd, w, R_SMALL), R_SMALL, "write(2) of a 5-byte record");
	fill(a, R_LONG, 9);
	CHECK_EQ(write(fd, a, R_LONG), R_LONG, "write(2) of an 8 KiB record");
	CHECK_EQ(write_fm(1), 0, "second filemark");

	munmap(a, R_IOCTL);
	munmap(b, R_IOCTL_UNALIGNED + PAGE);
	munmap(u, R_URING);
	munmap(w, R_WRITE);
	munmap(v, R_VEC1 + R_VEC2 + PAGE);
}

static void read_side(struct io_uring *ring, unsigned char *fixed)
{
	struct tapedma_result res, last;
	struct tapedma_cmd c;
	uint8_t cdb[6];
	unsigned char *a = page_buf(R_IOCTL), *b = page_buf(R_IOCTL_UNALIGNED + PAGE);
	unsigned char *u = page_buf(R_URING), *w = page_buf(R_WRITE);
	unsigned char *v = page_buf(R_VEC1 + R_VEC2 + PAGE);
	unsigned char *fixed_end = fixed + FIXED_SIZE - R_FIXED;
	struct iovec iov[2];
	int pfd[2];
	long r;

	CHECK_EQ(rewind_tape(), 0, "REWIND through the ioctl");

	rw6(cdb, false, R_IOCTL);
	r = tcmd(cdb, 6, TAPEDMA_DIR_FROM_DEVICE, a, R_IOCTL, &res);
	CHECK(r == R_IOCTL && same(a, R_IOCTL, 1), "ioctl READ(6) 64 KiB: data identical (%ld)", r);

	rw6(cdb, false, R_IOCTL_UNALIGNED);
	r = tcmd(cdb, 6, TAPEDMA_DIR_FROM_DEVICE, b + 4, R_IOCTL_UNALIGNED, &res);
	CHECK(r == R_IOCTL_UNALIGNED && same(b + 4, R_IOCTL_UNALIGNED, 2),
	      "ioctl READ(6) into a buffer at page offset 4: data identical (%ld)", r);

	rw6(cdb, false, R_URING);
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_FROM_DEVICE, u, R_URING, &res);
	r = ucmd(ring, &c, false);
	CHECK(r == R_URING && same(u, R_URING, 3), "uring_cmd READ(6), plain buffer: data identical (%ld)", r);

	memset(fixed_end, 0, R_FIXED);
	rw6(cdb, false, R_FIXED);
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_FROM_DEVICE, fixed_end, R_FIXED, &res);
	r = ucmd(ring, &c, true);
	CHECK(r == R_FIXED && same(fixed_end, R_FIXED, 4),
	      "uring_cmd READ(6), end of the registered buffer: data identical (%ld)", r);

	r = read(fd, w, R_WRITE);
	CHECK(r == R_WRITE && same(w, R_WRITE, 5), "read(2) of the odd-length record: identical (%ld)", r);

	iov[0].iov_base = v;
	iov[0].iov_len = R_VEC1;
	iov[1].iov_base = v + R_VEC1;
	iov[1].iov_len = R_VEC2;
	r = readv(fd, iov, 2);
	CHECK(r == R_VEC1 + R_VEC2 && same(v, R_VEC1 + R_VEC2, 6),
	      "readv(2) into two segments: identical (%ld)", r);

	if (pipe(pfd)) {
		perror("pipe");
		exit(1);
	}
	fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
	r = splice(fd, NULL, pfd[1], NULL, R_SPLICE, 0);
	CHECK_EQ(r, R_SPLICE, "splice(tapedma -> pipe) reads one record");
	memset(a, 0, R_SPLICE);
	for (long got = 0, n; got < r; got += n) {
		n = read(pfd[0], a + got, r - got);
		if (n <= 0)
			break;
	}
	CHECK(same(a, R_SPLICE, 7), "the spliced record is identical");
	/* a shorter record than asked: the unfilled pipe pages go back */
	r = splice(fd, NULL, pfd[1], NULL, 16384, 0);
	CHECK_EQ(r, R_SPLICE_SHORT, "splice(tapedma -> pipe) of a short record returns its length");
	{
		int queued = -1;

		ioctl(pfd[0], FIONREAD, &queued);
		CHECK_EQ(queued, R_SPLICE_SHORT, "the pipe holds exactly the record");
	}
	memset(a, 0, R_SPLICE_SHORT);
	r = read(pfd[0], a, R_SPLICE);
	CHECK(r == R_SPLICE_SHORT && same(a, R_SPLICE_SHORT, 10), "the short spliced record is identical");
	close(pfd[0]);
	close(pfd[1]);

	r = read(fd, a, R_IOCTL);
	CHECK_EQ(r, 0, "read(2) at the filemark returns 0");
	memset(&last, 0, sizeof(last));
	CHECK(ioctl(fd, TAPEDMA_IOC_LAST_SENSE, &last) == 0 && sense_key(&last) == 0 &&
	      (last.sense[2] & 0x80), "TAPEDMA_IOC_LAST_SENSE shows NO SENSE + FILEMARK");

	r = read(fd, a, PAGE);
	CHECK(r == R_SMALL && same(a, R_SMALL, 8),
	      "read(2) with a 4 KiB buffer of the 5-byte record after the filemark (%ld)", r);
	r = read(fd, a, PAGE);
	CHECK(r == -1 && errno == ENOMEM, "record longer than the buffer: ENOMEM like st (%ld, %s)",
	      r, strerror(errno));
	r = read(fd, a, R_IOCTL);
	CHECK_EQ(r, 0, "the second filemark reads as 0");
	r = read(fd, a, R_IOCTL);
	CHECK_EQ(r, 0, "end of data (BLANK CHECK) reads as 0");
	CHECK(ioctl(fd, TAPEDMA_IOC_LAST_SENSE, &last) == 0 && sense_key(&last) == 8,
	      "TAPEDMA_IOC_LAST_SENSE shows BLANK CHECK at end of data (key %d)", sense_key(&last));

	munmap(a, R_IOCTL);
	munmap(b, R_IOCTL_UNALIGNED + PAGE);
	munmap(u, R_URING);
	munmap(w, R_WRITE);
	munmap(v, R_VEC1 + R_VEC2 + PAGE);
}

static void error_paths(struct io_uring *ring)
{
	size_t big_len = (size_t)info.max_transfer + PAGE;
	unsigned char *big = mmap(NULL, big_len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned char *a = page_buf(2 * PAGE);
	struct tapedma_result res;
	struct tapedma_cmd c;
	struct iovec iov[2];
	uint8_t cdb[6];
	long r;

	rw6(cdb, false, PAGE);
	r = tcmd(cdb, 6, TAPEDMA_DIR_FROM_DEVICE, (void *)8, PAGE, &res);
	CHECK_EQ(r, -EFAULT, "ioctl READ into a bad pointer: EFAULT");
	rw6(cdb, true, PAGE);
	r = tcmd(cdb, 6, TAPEDMA_DIR_TO_DEVICE, (void *)8, PAGE, &res);
	CHECK_EQ(r, -EFAULT, "ioctl WRITE from a bad pointer: EFAULT");
	r = ioctl(fd, TAPEDMA_IOC_CMD, (void *)8);
	CHECK(r == -1 && errno == EFAULT, "ioctl with a bad struct pointer: EFAULT");

	/* second page unmapped: the first is pinned, then must be let go */
	munmap(a + PAGE, PAGE);
	rw6(cdb, false, 2 * PAGE);
	r = tcmd(cdb, 6, TAPEDMA_DIR_FROM_DEVICE, a, 2 * PAGE, &res);
	CHECK_EQ(r, -EFAULT, "ioctl READ into a half-mapped buffer: EFAULT");
	CHECK_EQ(stats().pages_pinned_now, 0, "partial pin undone: pages_pinned_now 0");

	rw6(cdb, true, PAGE);
	r = tcmd(cdb, 6, TAPEDMA_DIR_TO_DEVICE, a + 1, PAGE, &res);
	CHECK_EQ(r, -EINVAL, "ioctl WRITE from a misaligned buffer: EINVAL");
	r = write(fd, a + 2, 100);
	CHECK(r == -1 && errno == EINVAL, "write(2) from a misaligned buffer: EINVAL");
	if (big != MAP_FAILED) {
		rw6(cdb, true, big_len > 0xffffff ? 0xffffff : big_len);
		r = tcmd(cdb, 6, TAPEDMA_DIR_TO_DEVICE, big, big_len, &res);
		CHECK_EQ(r, -EINVAL, "ioctl WRITE of max_transfer + 4 KiB (%zu): EINVAL", big_len);
		prep_cmd(&c, cdb, 6, TAPEDMA_DIR_TO_DEVICE, big, big_len, &res);
		r = ucmd(ring, &c, false);
		CHECK_EQ(r, -EINVAL, "uring_cmd WRITE of max_transfer + 4 KiB: EINVAL");
		r = write(fd, big, 0x1000000);
		CHECK(r == -1 && errno == EINVAL, "write(2) of 16 MiB (over READ(6)'s 24 bits): EINVAL");
		munmap(big, big_len);
	} else {
		SKIP("mmap failed", "oversized buffers");
	}
	iov[0].iov_base = a;
	iov[0].iov_len = 100;
	iov[1].iov_base = a + 2048;
	iov[1].iov_len = 100;
	r = writev(fd, iov, 2);
	CHECK(r == -1 && errno == EINVAL, "writev(2) of pieces not joined at a page: EINVAL");

	rw6(cdb, true, PAGE);
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_TO_DEVICE, (void *)8, PAGE, &res);
	r = ucmd(ring, &c, false);
	CHECK_EQ(r, -EFAULT, "uring_cmd from a bad pointer: EFAULT");

	prep_cmd(&c, cdb, 7, TAPEDMA_DIR_NONE, NULL, 0, &res);
	r = ioctl(fd, TAPEDMA_IOC_CMD, &c);
	CHECK(r == -1 && errno == EINVAL, "cdb_len 7: EINVAL");
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_NONE, a, PAGE, &res);
	r = ioctl(fd, TAPEDMA_IOC_CMD, &c);
	CHECK(r == -1 && errno == EINVAL, "data length with TAPEDMA_DIR_NONE: EINVAL");
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_NONE, NULL, 0, &res);
	c.flags = 0x8000;
	r = ioctl(fd, TAPEDMA_IOC_CMD, &c);
	CHECK(r == -1 && errno == EINVAL, "unknown flags: EINVAL");

	/* TEST UNIT READY runs, but its result cannot be delivered */
	memset(cdb, 0, sizeof(cdb));
	prep_cmd(&c, cdb, 6, TAPEDMA_DIR_NONE, NULL, 0, NULL);
	c.result = 8;
	r = ioctl(fd, TAPEDMA_IOC_CMD, &c);
	CHECK(r == -1 && errno == EFAULT, "bad result pointer: EFAULT");
	/* an unsupported opcode: CHECK CONDITION, ILLEGAL REQUEST in the sense */
	cdb[0] = 0xff;
	r = tcmd(cdb, 6, TAPEDMA_DIR_NONE, NULL, 0, &res);
	CHECK(r == -EIO && res.status == 2 && sense_key(&res) == 5,
	      "unsupported opcode: EIO, CHECK CONDITION, ILLEGAL REQUEST (%ld, %u, %d)",
	      r, res.status, sense_key(&res));
	munmap(a, PAGE);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Large records: 1 MiB ones (tgt's READ BLOCK LIMITS maximum) and one of
 * max_transfer bytes, the most one command can carry, written and read
 * with write(2)/read(2); throughput printed as a diagnostic.
 */
static void big_records(void)
{
	const unsigned int n = 24, mib = 1u << 20;
	size_t max = info.max_transfer;
	unsigned char *buf = page_buf(max);
	unsigned int i, good_w = 0, good_r = 0;
	double t0, tw, tr;
	long r;

	CHECK_EQ(rewind_tape(), 0, "rewind for the large records");
	t0 = now();
	for (i = 0; i < n; i++) {
		fill(buf, mib, 100 + i);
		good_w += write(fd, buf, mib) == (ssize_t)mib;
	}
	tw = now() - t0;
	CHECK_EQ(good_w, n, "write(2) of %u records of 1 MiB", n);
	fill(buf, max, 99);
	r = write(fd, buf, max);
	CHECK_EQ(r, (long)max, "write(2) of one max_transfer record (%zu bytes)", max);
	CHECK_EQ(write_fm(1), 0, "filemark after them");

	CHECK_EQ(rewind_tape(), 0, "rewind");
	t0 = now();
	for (i = 0; i < n; i++) {
		r = read(fd, buf, mib);
		good_r += r == (long)mib && same(buf, mib, 100 + i);
	}
	tr = now() - t0;
	CHECK_EQ(good_r, n, "read(2) of the 1 MiB records, each identical");
	memset(buf, 0, max);
	r = read(fd, buf, max);
	CHECK(r == (long)max && same(buf, max, 99), "read(2) of the max_transfer record: identical (%ld)", r);
	printf("# 1 MiB records: write %.0f MB/s, read %.0f MB/s (TCG; including generating and verifying the data)\n",
	       n * mib / tw / 1e6, n * mib / tr / 1e6);
	munmap(buf, max);
}

/* Several uring_cmds in flight: a linked chain of writes, then of reads. */
static void uring_batch(struct io_uring *ring, unsigned char *fixed)
{
	enum { N = 4, LEN = 65536 };
	struct tapedma_result res[N];
	unsigned char *back = page_buf(N * LEN);
	struct io_uring_cqe *cqe;
	struct tapedma_cmd c;
	uint8_t cdb[6];
	int i, pass, good;

	CHECK_EQ(rewind_tape(), 0, "rewind for the linked uring_cmds");
	for (pass = 0; pass < 2; pass++) {
		bool write = pass == 0;

		for (i = 0; i < N; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			unsigned char *payload;

			if (!sqe)
				break;
			if (write)
				fill(fixed + (size_t)i * LEN, LEN, 200 + i);
			rw6(cdb, write, LEN);
			prep_cmd(&c, cdb, 6, write ? TAPEDMA_DIR_TO_DEVICE : TAPEDMA_DIR_FROM_DEVICE,
				 write ? fixed + (size_t)i * LEN : back + (size_t)i * LEN, LEN, &res[i]);
			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
			sqe->cmd_op = TAPEDMA_URING_CMD;
			sqe->uring_cmd_flags = write ? IORING_URING_CMD_FIXED : 0;
			sqe->buf_index = 0;
			sqe->user_data = i;
			if (i < N - 1)
				sqe->flags |= IOSQE_IO_LINK;
			payload = (unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd);
			memcpy(payload, &c, sizeof(c));
		}
		CHECK_EQ(io_uring_submit(ring), N, "submit %d linked uring_cmd %s", N,
			 write ? "writes (registered buffer)" : "reads (plain buffers)");
		for (i = 0, good = 0; i < N; i++) {
			if (io_uring_wait_cqe(ring, &cqe))
				break;
			good += cqe->res == LEN;
			io_uring_cqe_seen(ring, cqe);
		}
		CHECK_EQ(good, N, "all %d completed with %d bytes", N, LEN);
		if (write) {
			CHECK_EQ(write_fm(1), 0, "filemark");
			CHECK_EQ(rewind_tape(), 0, "rewind");
		}
	}
	for (i = 0, good = 0; i < N; i++)
		good += same(back + (size_t)i * LEN, LEN, 200 + i);
	CHECK_EQ(good, N, "the records came back in order, identical");
	munmap(back, N * LEN);
}

/* Delete the SCSI device under an open file, then bring it back. */
static void detach(void)
{
	char path[PATH_MAX], host[64];
	struct tapedma_stats st;
	char buf[16];
	ssize_t n;
	int del, scan, i;
	long r;

	n = readlink(SYS "/device", path, sizeof(path) - 1);
	if (n < 0) {
		SKIP("no " SYS "/device", "device removal while open");
		return;
	}
	path[n] = 0;
	/* .../hostH/targetH:C:T/H:C:T:L */
	if (sscanf(strrchr(path, '/') + 1, "%63[0-9]", host) != 1) {
		SKIP("cannot parse the SCSI address", "device removal while open");
		return;
	}
	del = open(SYS "/device/delete", O_WRONLY);
	if (del < 0) {
		SKIP("no delete attribute", "device removal while open");
		return;
	}
	CHECK(write(del, "1", 1) == 1, "delete the SCSI device while tapedma0 is open");
	close(del);
	r = simple(0x00, 0, 0);
	CHECK_EQ(r, -ENODEV, "TEST UNIT READY after removal: ENODEV");
	r = read(fd, buf, sizeof(buf));
	CHECK(r == -1 && errno == ENODEV, "read(2) after removal: ENODEV");
	memset(&st, 0, sizeof(st));
	CHECK(ioctl(fd, TAPEDMA_IOC_STATS, &st) == 0 && st.commands > 0,
	      "TAPEDMA_IOC_STATS still answers after removal (%llu commands)",
	      (unsigned long long)st.commands);
	CHECK(access(DEV, F_OK) != 0, DEV " is gone");
	close(fd);
	fd = -1;

	snprintf(path, sizeof(path), "/sys/class/scsi_host/host%s/scan", host);
	scan = open(path, O_WRONLY);
	CHECK(scan >= 0 && write(scan, "- - -", 5) == 5, "rescan host%s", host);
	if (scan >= 0)
		close(scan);
	for (i = 0; i < 100 && (access(DEV, F_OK) || access("/dev/nst0", F_OK)); i++)
		usleep(100000);
	CHECK(access(DEV, F_OK) == 0 && access("/dev/nst0", F_OK) == 0,
	      DEV " and /dev/nst0 are back after the rescan");
	fd = open(DEV, O_RDWR);
	CHECK(fd >= 0, "the new tapedma0 opens");
	for (i = 0; i < 5 && simple(0x00, 0, 0) != 0; i++)
		;	/* the re-added LU reports a UNIT ATTENTION first */
	CHECK_EQ(simple(0x00, 0, 0), 0, "TEST UNIT READY on the new device");
}

int main(void)
{
	long long acq0 = vmstat("nr_foll_pin_acquired");
	struct io_uring ring;
	struct iovec fiov;
	struct tapedma_stats s0, s;
	unsigned long long big;
	unsigned char *fixed;
	int i, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(DEV, O_RDWR);
	if (fd < 0) {
		printf("not ok 1 - open " DEV ": %s\n1..1\n", strerror(errno));
		return 1;
	}
	CHECK(ioctl(fd, TAPEDMA_IOC_INFO, &info) == 0, "TAPEDMA_IOC_INFO");
	printf("# max_transfer %u max_segments %u max_segment_size %u dma_alignment %u"
	       " %u:%u:%u:%u '%s' '%s' '%s'\n", info.max_transfer, info.max_segments,
	       info.max_segment_size, info.dma_alignment, info.host_no, info.channel,
	       info.id, info.lun, info.vendor, info.model, info.rev);
	CHECK(info.max_transfer >= (1u << 20) && info.max_segments >= 256 &&
	      !strcmp(info.vendor, "IET") && !strcmp(info.model, "VIRTUAL-TAPE"),
	      "INFO: limits and the drive's identity");
	s0 = stats();

	for (i = 0; i < 5 && simple(0x00, 0, 0) != 0; i++)
		;	/* UNIT ATTENTIONs are the caller's business with the ioctl */
	CHECK_EQ(simple(0x00, 0, 0), 0, "TEST UNIT READY");
	CHECK_EQ(rewind_tape(), 0, "REWIND");

	r = io_uring_queue_init(8, &ring, IORING_SETUP_SQE128);
	if (r) {
		printf("not ok - io_uring_queue_init: %s\n", strerror(-r));
		return 1;
	}
	fixed = page_buf(FIXED_SIZE);
	memset(fixed, 0, FIXED_SIZE);
	fiov.iov_base = fixed;
	fiov.iov_len = FIXED_SIZE;
	r = io_uring_register_buffers(&ring, &fiov, 1);
	CHECK_EQ(r, 0, "register a 16 MiB buffer");

	write_side(&ring, fixed);
	read_side(&ring, fixed);
	error_paths(&ring);
	big_records();
	uring_batch(&ring, fixed);

	big = 2ull * (24 * (1u << 20) + info.max_transfer + 4 * 65536);
	s = stats();
	CHECK(s.commands - s0.commands >= 20, "commands counted (%llu)",
	      (unsigned long long)(s.commands - s0.commands));
	/* every record once out and once back, and at most the 4 KiB the
	 * over-long read reports as its (undefined) buffer contents
	 */
	CHECK(s.bytes_moved - s0.bytes_moved >= 2 * (unsigned long long)RECORD_BYTES + big &&
	      s.bytes_moved - s0.bytes_moved <= 2 * (unsigned long long)RECORD_BYTES + big + PAGE,
	      "bytes_moved counts every record written and read (%llu)",
	      (unsigned long long)(s.bytes_moved - s0.bytes_moved));
	CHECK(s.bytes_zero_copy == s.bytes_moved, "bytes_zero_copy == bytes_moved (%llu)",
	      (unsigned long long)s.bytes_zero_copy);
	CHECK_EQ(s.bytes_copied, 0, "bytes_copied is 0: nothing was bounced");
	CHECK(s.errors > s0.errors, "errors counted (%llu)", (unsigned long long)s.errors);
	CHECK_EQ(s.pages_pinned_now, 0, "pages_pinned_now is 0");
	CHECK(sysfs_stat("commands") == (long long)s.commands &&
	      sysfs_stat("bytes_moved") == (long long)s.bytes_moved &&
	      sysfs_stat("bytes_zero_copy") == (long long)s.bytes_zero_copy &&
	      sysfs_stat("bytes_copied") == 0 && sysfs_stat("pages_pinned_now") == 0 &&
	      sysfs_stat("errors") == (long long)s.errors,
	      "sysfs stats/ agree with TAPEDMA_IOC_STATS");

	io_uring_unregister_buffers(&ring);
	io_uring_queue_exit(&ring);
	munmap(fixed, FIXED_SIZE);
	for (i = 0; i < 50; i++) {
		if (vmstat("nr_foll_pin_acquired") == vmstat("nr_foll_pin_released"))
			break;
		usleep(100000);	/* io_uring may release its pins from a worker */
	}
	{
		long long acq = vmstat("nr_foll_pin_acquired");
		long long rel = vmstat("nr_foll_pin_released");

		CHECK(acq > acq0, "pages were pinned (nr_foll_pin_acquired +%lld)", acq - acq0);
		CHECK(acq == rel, "pins balance in /proc/vmstat (acquired %lld, released %lld)",
		      acq, rel);
	}

	detach();
	if (fd >= 0)
		close(fd);
	return tap_done();
}
