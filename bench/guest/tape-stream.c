/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape-stream - guest benchmark (issue 4): how fast do 1 MiB records stream
 * to and from the emulated drive through tapedma.ko compared with st?
 *
 * Each mode writes N records of 1 MiB and a filemark from BOT, rewinds,
 * reads the N records back and then the filemark.  Modes:
 *   nst            /dev/nst0, write(2)/read(2), st in variable-block mode,
 *                  page-aligned buffers: 256 pages, which st maps directly
 *                  (its direct I/O, zero-copy as well)
 *   nst-malloc     the same with buffers 16 bytes into a page, where
 *                  malloc(3) puts a 1 MiB block: 257 pages, more than st's
 *                  256 scatter-gather segments, so st copies every record
 *                  through its own driver buffer
 *   tapedma-rw     /dev/tapedma0, write(2)/read(2) (one record per call)
 *   tapedma-uring  /dev/tapedma0, IORING_OP_URING_CMD WRITE(6)/READ(6) on
 *                  registered buffers (IORING_URING_CMD_FIXED), one command
 *                  in flight
 *   tapedma-link4  the same, four commands in flight as one IOSQE_IO_LINK
 *                  chain (a tape takes records in the order commands
 *                  arrive, and only a link chain keeps that order; the next
 *                  chain is submitted when the previous one has completed)
 * Every run of every mode uses the same tape, rewound and overwritten; the
 * runs are interleaved (run 1 of every mode, then run 2, ...) so that load
 * from other users of the host spreads over all modes alike.
 *
 * The data is generated once: every record is the same pseudo-random MiB
 * with its number stamped into the first and last bytes, so the CPU goes to
 * the I/O path and not to making data.  Every record read back is checked:
 * its length, both stamps (the right record in the right place) and 64
 * sampled words; the first and the last record of a run are compared whole.
 *
 * Five runs per mode.  Prints, per run and mode, MB/s (10^6 bytes/s) and
 * the process's CPU seconds for each direction; then the medians, the
 * ratio of each tapedma mode to nst and to nst-malloc, the counters
 * (bytes_zero_copy, bytes_copied, from /sys/class/tapedma/tapedma0/stats/)
 * over each mode's runs.  TAP points: each run's data verified, no byte
 * copied by the module, no page left pinned.
 *
 * Size: 256 records, or FUSETAPE_TAPE_MB / 2 when the tape is smaller than
 * 300 MiB (a quick trial on the rig's default tape).  Run by
 * bench/vm-tape.sh through tests/vm/run (VM_GUEST_DIR=bench/guest), never
 * by make check.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/mtio.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <liburing.h>

#include "tap.h"
#include "tapedma.h"

#define ST_DEV "/dev/nst0"
#define DMA_DEV "/dev/tapedma0"
#define DMA_STATS "/sys/class/tapedma/tapedma0/stats/"
#define REC (1u << 20)
#define CHAIN_MAX 4
#define RUNS 5
#define SAMPLES 64

enum mode { M_NST, M_NST_MALLOC, M_DMA_RW, M_DMA_URING, M_DMA_LINK, M_COUNT };
static const char *const mode_name[M_COUNT] = {
	"nst", "nst-malloc", "tapedma-rw", "tapedma-uring", "tapedma-link4",
};
static const unsigned mode_depth[M_COUNT] = { 1, 1, 1, 1, CHAIN_MAX };
#define IS_ST(m) ((m) == M_NST || (m) == M_NST_MALLOC)
#define MALLOC_OFFSET 16	/* glibc's chunk header before an mmap()ed block */

static const char *const stat_name[] = {
	"commands", "bytes_moved", "bytes_zero_copy", "bytes_copied", "errors",
	"pages_pinned_now",
};
enum { S_CMDS, S_MOVED, S_ZC, S_COPIED, S_ERRORS, S_PINNED, S_COUNT };

/* Buffers for all modes, allocated and touched once: CHAIN_MAX write slots
 * (the pattern, stamped per record) and CHAIN_MAX read slots, page-aligned;
 * one of each MALLOC_OFFSET bytes into a page for nst-malloc. */
static unsigned char *pattern, *wslot[CHAIN_MAX], *rslot[CHAIN_MAX], *wmalloc, *rmalloc;
static unsigned nrec;

/* One open device, for one run of one mode. */
struct dev {
	enum mode mode;
	int fd;
	unsigned char *wbuf, *rbuf;	/* for write(2)/read(2) */
	struct io_uring ring;
	bool ring_ready;
	struct tapedma_result res[CHAIN_MAX];
	char err[256];	/* why the run failed */
};

struct phase {
	double secs, cpu;
};

struct run_result {
	bool ok;
	struct phase wr, rd;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* user + system seconds of the whole process (io_uring workers included:
 * they are threads of it) */
static double cpu_secs(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double mbps(double bytes, double secs)
{
	return secs > 0 ? bytes / secs / 1e6 : 0;
}

/* ---- data ---- */

static void make_pattern(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < REC; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(pattern + i, &x, 8);
	}
}

/* The record's identity: its number and the run's tag in the first 16
 * bytes, the complement of the number in the last 8. */
static void stamp(unsigned char *buf, uint64_t rec, uint64_t tag)
{
	uint64_t inv = ~rec;

	memcpy(buf, &rec, 8);
	memcpy(buf + 8, &tag, 8);
	memcpy(buf + REC - 8, &inv, 8);
}

static bool verify(const unsigned char *buf, uint64_t rec, uint64_t tag, bool whole,
		   char *why, size_t whylen)
{
	unsigned char want[16];
	uint64_t inv = ~rec;

	memcpy(want, &rec, 8);
	memcpy(want + 8, &tag, 8);
	if (memcmp(buf, want, 16) || memcmp(buf + REC - 8, &inv, 8)) {
		uint64_t got_rec, got_tag;

		memcpy(&got_rec, buf, 8);
		memcpy(&got_tag, buf + 8, 8);
		snprintf(why, whylen, "record %llu: stamp says record %llu of run tag %#llx, want tag %#llx",
			 (unsigned long long)rec, (unsigned long long)got_rec,
			 (unsigned long long)got_tag, (unsigned long long)tag);
		return false;
	}
	if (whole) {
		if (memcmp(buf + 16, pattern + 16, REC - 24)) {
			snprintf(why, whylen, "record %llu differs from what was written",
				 (unsigned long long)rec);
			return false;
		}
		return true;
	}
	for (unsigned k = 0; k < SAMPLES; k++) {
		/* spread over the record, 8-byte aligned, clear of the stamps */
		size_t off = 16 + ((size_t)k * (REC - 32) / SAMPLES + rec * 8) % (REC - 32);

		off &= ~(size_t)7;
		if (off < 16)
			off = 16;
		if (memcmp(buf + off, pattern + off, 8)) {
			snprintf(why, whylen, "record %llu differs at byte %zu",
				 (unsigned long long)rec, off);
			return false;
		}
	}
	return true;
}

/* ---- tapedma counters ---- */

static bool read_stats(long long v[S_COUNT])
{
	for (int i = 0; i < S_COUNT; i++) {
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), DMA_STATS "%s", stat_name[i]);
		f = fopen(path, "r");
		if (!f)
			return false;
		if (fscanf(f, "%lld", &v[i]) != 1) {
			fclose(f);
			return false;
		}
		fclose(f);
	}
	return true;
}

/* ---- sense ---- */

static unsigned sense_key(const struct tapedma_result *r)
{
	if (r->sense_len < 3)
		return 0xff;
	if ((r->sense[0] & 0x7f) >= 0x72)
		return r->sense[1] & 0x0f;
	return r->sense[2] & 0x0f;
}

/* A filemark: NO SENSE with the FILEMARK bit (fixed format byte 2, or the
 * stream commands descriptor, type 4, of descriptor format). */
static bool is_filemark(const struct tapedma_result *r)
{
	if (r->sense_len < 3 || sense_key(r) != 0)
		return false;
	if ((r->sense[0] & 0x7f) < 0x72)
		return r->sense[2] & 0x80;
	for (unsigned i = 8; i + 3 < r->sense_len && i + 3 < TAPEDMA_SENSE_MAX;
	     i += 2 + r->sense[i + 1])
		if (r->sense[i] == 4)
			return r->sense[i + 3] & 0x80;
	return false;
}

static void describe(char *out, size_t len, const char *what, const struct tapedma_result *r)
{
	snprintf(out, len, "%s: status %#x host %#x sense key %#x asc/ascq %02x/%02x resid %u",
		 what, r->status, r->host_status, sense_key(r),
		 r->sense_len > 13 ? r->sense[12] : 0, r->sense_len > 13 ? r->sense[13] : 0,
		 r->resid);
}

/* ---- commands ---- */

static void cdb6(struct tapedma_cmd *c, uint8_t op, uint32_t count)
{
	memset(c, 0, sizeof(*c));
	c->cdb[0] = op;
	c->cdb[1] = 0;	/* variable block, no SILI, no IMMED */
	c->cdb[2] = count >> 16;
	c->cdb[3] = count >> 8;
	c->cdb[4] = count;
	c->cdb_len = 6;
}

/* REWIND or WRITE FILEMARKS(6) 1 on the open device of any mode. */
static int position(struct dev *d, bool filemark)
{
	if (IS_ST(d->mode)) {
		struct mtop op = { .mt_op = filemark ? MTWEOF : MTREW, .mt_count = 1 };

		if (ioctl(d->fd, MTIOCTOP, &op)) {
			snprintf(d->err, sizeof(d->err), "%s: %s: %s", ST_DEV,
				 filemark ? "MTWEOF" : "MTREW", strerror(errno));
			return -1;
		}
		return 0;
	}
	struct tapedma_cmd c;
	struct tapedma_result r = { 0 };

	cdb6(&c, filemark ? 0x10 : 0x01, filemark ? 1 : 0);
	c.dir = TAPEDMA_DIR_NONE;
	c.result = (uintptr_t)&r;
	if (ioctl(d->fd, TAPEDMA_IOC_CMD, &c) < 0) {
		if (errno == EIO)
			describe(d->err, sizeof(d->err), filemark ? "WRITE FILEMARKS" : "REWIND", &r);
		else
			snprintf(d->err, sizeof(d->err), "%s: %s", filemark ? "WRITE FILEMARKS" : "REWIND",
				 strerror(errno));
		return -1;
	}
	return 0;
}

static void dev_close(struct dev *d)
{
	if (d->ring_ready) {
		io_uring_queue_exit(&d->ring);	/* also unregisters the buffers */
		d->ring_ready = false;
	}
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static int dev_open(struct dev *d, enum mode m)
{
	const char *path = IS_ST(m) ? ST_DEV : DMA_DEV;
	int ret;

	memset(d, 0, sizeof(*d));
	d->mode = m;
	d->wbuf = m == M_NST_MALLOC ? wmalloc : wslot[0];
	d->rbuf = m == M_NST_MALLOC ? rmalloc : rslot[0];
	d->fd = open(path, O_RDWR);
	if (d->fd < 0) {
		snprintf(d->err, sizeof(d->err), "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (IS_ST(m)) {
		/* the rig sets variable-block mode; a benchmark run by hand may not */
		struct mtop op = { .mt_op = MTSETBLK, .mt_count = 0 };

		if (ioctl(d->fd, MTIOCTOP, &op)) {
			snprintf(d->err, sizeof(d->err), "%s: MTSETBLK 0: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (m == M_DMA_URING || m == M_DMA_LINK) {
		struct iovec iov[2 * CHAIN_MAX];

		ret = io_uring_queue_init(4 * CHAIN_MAX, &d->ring, IORING_SETUP_SQE128);
		if (ret < 0) {
			snprintf(d->err, sizeof(d->err), "io_uring_queue_init(SQE128): %s", strerror(-ret));
			goto fail;
		}
		d->ring_ready = true;
		for (unsigned i = 0; i < CHAIN_MAX; i++) {
			iov[i] = (struct iovec){ wslot[i], REC };
			iov[CHAIN_MAX + i] = (struct iovec){ rslot[i], REC };
		}
		ret = io_uring_register_buffers(&d->ring, iov, 2 * CHAIN_MAX);
		if (ret < 0) {
			snprintf(d->err, sizeof(d->err), "io_uring_register_buffers: %s", strerror(-ret));
			goto fail;
		}
	}
	if (position(d, false))
		goto fail;
	return 0;
fail:
	dev_close(d);
	return -1;
}

/* Queue one fixed-buffer READ(6)/WRITE(6) of a whole slot; liburing 2.3
 * has no helper for uring_cmd, so the SQE is filled by hand. */
static int queue_rw(struct dev *d, bool write, unsigned slot, bool link, uint64_t user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
	struct tapedma_cmd c;

	if (!sqe) {
		snprintf(d->err, sizeof(d->err), "io_uring_get_sqe: submission queue full");
		return -1;
	}
	cdb6(&c, write ? 0x0a : 0x08, REC);
	c.dir = write ? TAPEDMA_DIR_TO_DEVICE : TAPEDMA_DIR_FROM_DEVICE;
	c.buf = (uintptr_t)(write ? wslot[slot] : rslot[slot]);
	c.len = REC;
	c.result = (uintptr_t)&d->res[slot];
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, d->fd, NULL, 0, 0);
	sqe->cmd_op = TAPEDMA_URING_CMD;
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->buf_index = write ? slot : CHAIN_MAX + slot;
	if (link)
		sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = user_data;
	/* the payload runs on into the second 64 bytes of the SQE128 entry */
	memcpy((unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd), &c, sizeof(c));
	return 0;
}

/*
 * Submit what is queued (n commands, user_data first .. first + n - 1 in
 * chain order) and reap their completions; each must have moved a whole
 * record, except that the last may be expected to meet a filemark.
 * Returns 0, or -1 with d->err set.
 */
static int reap(struct dev *d, unsigned n, uint64_t first, bool last_is_filemark)
{
	int ret = io_uring_submit_and_wait(&d->ring, n);
	int failed = 0;

	if (ret < 0) {
		snprintf(d->err, sizeof(d->err), "io_uring_submit_and_wait: %s", strerror(-ret));
		return -1;
	}
	if ((unsigned)ret != n) {
		snprintf(d->err, sizeof(d->err), "io_uring_submit: %d of %u submitted", ret, n);
		return -1;	/* the ring is torn down by dev_close, which waits */
	}
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;
		uint64_t rec;
		unsigned slot;
		int res;

		ret = io_uring_wait_cqe(&d->ring, &cqe);
		if (ret < 0) {
			snprintf(d->err, sizeof(d->err), "io_uring_wait_cqe: %s", strerror(-ret));
			return -1;
		}
		rec = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&d->ring, cqe);
		if (rec < first || rec >= first + n) {
			snprintf(d->err, sizeof(d->err), "completion for record %llu, expected %llu..%llu",
				 (unsigned long long)rec, (unsigned long long)first,
				 (unsigned long long)(first + n - 1));
			return -1;
		}
		slot = rec - first;
		if (last_is_filemark && slot == n - 1) {
			if (!failed && (res != -EIO || !is_filemark(&d->res[slot]))) {
				char what[64];

				snprintf(what, sizeof(what), "READ after the last record: res %d", res);
				describe(d->err, sizeof(d->err), what, &d->res[slot]);
				failed = 1;
			}
			continue;
		}
		if (res != (int)REC && !failed) {
			char what[96];

			snprintf(what, sizeof(what), "uring_cmd record %llu: res %d (%s)",
				 (unsigned long long)rec, res, res < 0 ? strerror(-res) : "short");
			if (res == -EIO)
				describe(d->err, sizeof(d->err), what, &d->res[slot]);
			else
				snprintf(d->err, sizeof(d->err), "%s", what);
			failed = 1;	/* keep reaping: the rest of the chain completes too */
		}
	}
	return failed ? -1 : 0;
}

static int write_records(struct dev *d, uint64_t tag)
{
	unsigned depth = mode_depth[d->mode];

	if (!d->ring_ready) {
		for (unsigned i = 0; i < nrec; i++) {
			ssize_t r;

			stamp(d->wbuf, i, tag);
			r = write(d->fd, d->wbuf, REC);
			if (r != (ssize_t)REC) {
				snprintf(d->err, sizeof(d->err), "write of record %u: %s", i,
					 r < 0 ? strerror(errno) : "short");
				return -1;
			}
		}
		return position(d, true);
	}
	for (unsigned i = 0; i < nrec; i += depth) {
		unsigned n = nrec - i < depth ? nrec - i : depth;

		for (unsigned j = 0; j < n; j++) {
			stamp(wslot[j], i + j, tag);
			if (queue_rw(d, true, j, j + 1 < n, i + j))
				return -1;
		}
		if (reap(d, n, i, false))
			return -1;
	}
	return position(d, true);
}

static int check_record(struct dev *d, const unsigned char *buf, unsigned i, uint64_t tag)
{
	return verify(buf, i, tag, i == 0 || i == nrec - 1, d->err, sizeof(d->err)) ? 0 : -1;
}

static int read_records(struct dev *d, uint64_t tag)
{
	unsigned depth = mode_depth[d->mode];

	if (!d->ring_ready) {
		ssize_t r;

		for (unsigned i = 0; i < nrec; i++) {
			r = read(d->fd, d->rbuf, REC);
			if (r != (ssize_t)REC) {
				snprintf(d->err, sizeof(d->err), "read of record %u: %s", i,
					 r < 0 ? strerror(errno) : r == 0 ? "filemark or end of data" : "short");
				return -1;
			}
			if (check_record(d, d->rbuf, i, tag))
				return -1;
		}
		r = read(d->fd, d->rbuf, REC);
		if (r != 0) {
			snprintf(d->err, sizeof(d->err), "read after the last record: %zd (%s), want 0 (filemark)",
				 r, r < 0 ? strerror(errno) : "a record");
			return -1;
		}
		if (d->mode == M_DMA_RW) {
			struct tapedma_result last;

			if (ioctl(d->fd, TAPEDMA_IOC_LAST_SENSE, &last)) {
				snprintf(d->err, sizeof(d->err), "TAPEDMA_IOC_LAST_SENSE: %s", strerror(errno));
				return -1;
			}
			if (!is_filemark(&last)) {
				describe(d->err, sizeof(d->err), "0 after the last record is no filemark", &last);
				return -1;
			}
		}
		return 0;
	}
	/* the filemark is read by one more READ, chained after the last records */
	for (unsigned i = 0; i <= nrec; i += depth) {
		unsigned n = nrec + 1 - i < depth ? nrec + 1 - i : depth;
		bool fm = i + n == nrec + 1;

		for (unsigned j = 0; j < n; j++)
			if (queue_rw(d, false, j, j + 1 < n, i + j))
				return -1;
		if (reap(d, n, i, fm))
			return -1;
		for (unsigned j = 0; j < n && i + j < nrec; j++)
			if (check_record(d, rslot[j], i + j, tag))
				return -1;
	}
	return 0;
}

/* Write, rewind, read back: one run of one mode. */
static struct run_result run_mode(enum mode m, unsigned run)
{
	struct run_result rr = { 0 };
	uint64_t tag = (uint64_t)(m + 1) << 32 | run;
	struct dev d;
	double t, c;

	if (dev_open(&d, m)) {
		printf("run %u %s: %s\n", run, mode_name[m], d.err);
		return rr;
	}
	t = now();
	c = cpu_secs();
	if (write_records(&d, tag))
		goto out;
	rr.wr = (struct phase){ now() - t, cpu_secs() - c };
	if (position(&d, false))
		goto out;
	t = now();
	c = cpu_secs();
	if (read_records(&d, tag))
		goto out;
	rr.rd = (struct phase){ now() - t, cpu_secs() - c };
	rr.ok = true;
out:
	if (!rr.ok)
		printf("run %u %s: %s\n", run, mode_name[m], d.err);
	dev_close(&d);
	return rr;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned records_wanted(void)
{
	const char *mb = getenv("FUSETAPE_TAPE_MB");
	long tape = mb ? strtol(mb, NULL, 10) : 0;

	if (tape > 0 && tape < 300)
		return tape / 2 > 0 ? tape / 2 : 1;
	return 256;
}

int main(void)
{
	bool have_dma = access(DMA_DEV, F_OK) == 0;
	double wr[M_COUNT][RUNS], rd[M_COUNT][RUNS], wcpu[M_COUNT][RUNS], rcpu[M_COUNT][RUNS];
	double med_w[M_COUNT] = { 0 }, med_r[M_COUNT] = { 0 }, med_wc[M_COUNT], med_rc[M_COUNT];
	long long stat_delta[M_COUNT][S_COUNT] = { { 0 } };
	unsigned good[M_COUNT] = { 0 };
	size_t slots_len = (size_t)(2 * CHAIN_MAX + 1) * REC;
	size_t mem_len = slots_len + 2 * ((size_t)REC + 4096);
	unsigned char *mem;

	setvbuf(stdout, NULL, _IOLBF, 0);
	nrec = records_wanted();
	mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		printf("Bail out! mmap of %zu bytes: %s\n", mem_len, strerror(errno));
		return 1;
	}
	pattern = mem;
	make_pattern();
	for (unsigned i = 0; i < CHAIN_MAX; i++) {
		wslot[i] = mem + (size_t)(1 + i) * REC;
		rslot[i] = mem + (size_t)(1 + CHAIN_MAX + i) * REC;
		memcpy(wslot[i], pattern, REC);
		memset(rslot[i], 0, REC);
	}
	wmalloc = mem + slots_len + MALLOC_OFFSET;
	rmalloc = mem + slots_len + REC + 4096 + MALLOC_OFFSET;
	memcpy(wmalloc, pattern, REC);
	memset(rmalloc, 0, REC);
	printf("%u records of 1 MiB (%u MiB) per direction, %d runs per mode, tape %s MiB\n",
	       nrec, nrec, RUNS, getenv("FUSETAPE_TAPE_MB") ? getenv("FUSETAPE_TAPE_MB") : "?");
	if (have_dma) {
		int fd = open(DMA_DEV, O_RDWR);
		struct tapedma_info info;

		if (fd >= 0 && ioctl(fd, TAPEDMA_IOC_INFO, &info) == 0) {
			printf("tapedma0: %s %s %s, max_transfer %u, max_segments %u, dma_alignment %#x\n",
			       info.vendor, info.model, info.rev, info.max_transfer, info.max_segments,
			       info.dma_alignment);
			if (info.max_transfer < REC) {
				printf("tapedma0 cannot take 1 MiB in one command: tapedma modes left out\n");
				have_dma = false;
			}
		} else {
			printf("tapedma0: open/TAPEDMA_IOC_INFO: %s: tapedma modes left out\n", strerror(errno));
			have_dma = false;
		}
		if (fd >= 0)
			close(fd);
	} else {
		printf("no %s (tapedma.ko not loaded): only nst runs\n", DMA_DEV);
	}

	for (unsigned run = 1; run <= RUNS; run++) {
		for (enum mode m = 0; m < M_COUNT; m++) {
			long long before[S_COUNT], after[S_COUNT];
			bool counted;
			struct run_result rr;

			if (!IS_ST(m) && !have_dma)
				continue;
			counted = have_dma && read_stats(before);
			rr = run_mode(m, run);
			if (counted && read_stats(after))
				for (int s = 0; s < S_COUNT; s++)
					stat_delta[m][s] += s == S_PINNED ? after[s] : after[s] - before[s];
			CHECK(rr.ok, "run %u %s: %u MiB written and read back, records verified",
			      run, mode_name[m], nrec);
			if (!rr.ok)
				continue;
			wr[m][good[m]] = mbps((double)nrec * REC, rr.wr.secs);
			rd[m][good[m]] = mbps((double)nrec * REC, rr.rd.secs);
			wcpu[m][good[m]] = rr.wr.cpu;
			rcpu[m][good[m]] = rr.rd.cpu;
			printf("run %u %-14s write %7.1f MB/s (%.2f s, cpu %.2f s)  read %7.1f MB/s (%.2f s, cpu %.2f s)\n",
			       run, mode_name[m], wr[m][good[m]], rr.wr.secs, rr.wr.cpu,
			       rd[m][good[m]], rr.rd.secs, rr.rd.cpu);
			good[m]++;
		}
	}

	printf("median of %d runs, %u x 1 MiB records (MB/s = 10^6 bytes/s; cpu = process user+sys s):\n",
	       RUNS, nrec);
	for (enum mode m = 0; m < M_COUNT; m++) {
		if (!good[m])
			continue;
		med_w[m] = median(wr[m], good[m]);
		med_r[m] = median(rd[m], good[m]);
		med_wc[m] = median(wcpu[m], good[m]);
		med_rc[m] = median(rcpu[m], good[m]);
		printf("RESULT %-14s write %7.1f MB/s  read %7.1f MB/s  cpu write %.2f s read %.2f s  (%u runs)\n",
		       mode_name[m], med_w[m], med_r[m], med_wc[m], med_rc[m], good[m]);
	}
	for (enum mode base = M_NST; base <= M_NST_MALLOC; base++)
		for (enum mode m = M_DMA_RW; m < M_COUNT; m++)
			if (good[m] && good[base] && med_w[base] > 0 && med_r[base] > 0)
				printf("RESULT ratio %s/%s: write %.2f read %.2f\n", mode_name[m],
				       mode_name[base], med_w[m] / med_w[base], med_r[m] / med_r[base]);
	if (!have_dma)
		return tap_done();
	for (enum mode m = 0; m < M_COUNT; m++) {
		long long want = (long long)good[m] * 2 * nrec * REC;

		printf("RESULT counters %s (%u runs): commands +%lld bytes_moved +%lld bytes_zero_copy +%lld bytes_copied +%lld errors +%lld\n",
		       mode_name[m], RUNS, stat_delta[m][S_CMDS], stat_delta[m][S_MOVED],
		       stat_delta[m][S_ZC], stat_delta[m][S_COPIED], stat_delta[m][S_ERRORS]);
		if (IS_ST(m)) {
			CHECK_EQ(stat_delta[m][S_MOVED], 0, "%s runs moved nothing through tapedma",
				 mode_name[m]);
			continue;
		}
		CHECK_EQ(stat_delta[m][S_COPIED], 0, "%s: bytes_copied stayed 0", mode_name[m]);
		CHECK(stat_delta[m][S_ZC] >= want,
		      "%s: bytes_zero_copy grew by the records moved (%lld >= %lld)",
		      mode_name[m], stat_delta[m][S_ZC], want);
		CHECK_EQ(stat_delta[m][S_PINNED], 0, "%s: no page left pinned after the runs",
			 mode_name[m]);
	}
	return tap_done();
}
