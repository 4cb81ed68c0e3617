/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape_image.c - the virtual tape image backend.
 *
 * File layout (all integers little-endian; fusetape-image(5) has every
 * field):
 *
 *   0        header slot 0 (4 KiB)    two identical copies, so a torn
 *   4096     header slot 1 (4 KiB)    header update leaves one intact
 *   8192     MAM slot 0 (128 KiB)     attributes; updates alternate slots,
 *   139264   MAM slot 1 (128 KiB)     the higher valid generation wins
 *   270336   per partition: object table, then data area
 *
 * The object table of a partition has one 32-byte entry per logical object
 * number: {seq, data offset, length, type, data crc32c, entry crc32c}.
 * Entry N is valid when its checksum matches, its seq is greater than the
 * seq of entry N-1 (entry 0: greater than the header's base_seq) and its
 * data offset is where entry N-1's data ended.  The first invalid entry is
 * end of data.  Every entry written gets a seq greater than any on disk,
 * so whatever follows a rewritten entry is stale by construction: writing
 * in the middle truncates without touching the rest of the table.
 *
 * Write ordering (what makes a kill -9 harmless):
 *   append at EOD:   data, then entry N.
 *   overwrite N<EOD: tombstone entry N (EOD is now N), data, entry N.
 * The tombstone also carries the highest seq, so after a crash the next
 * seq computed at open (max over each partition's valid entries and the
 * entry at EOD) is still greater than every entry on disk.
 * Queued records (write-behind, below) keep the same order with several
 * records' data in flight: entries are written in record order, each once
 * its data write has completed.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <liburing.h>
#include <uuid/uuid.h>

#include "tape/tape_backend.h"
#include "tape/tape_image.h"

/* ---- format constants --------------------------------------------------- */

#define IMG_MAGIC "FTAPEIMG"
#define IMG_VERSION 1u
#define HDR_SLOT_SIZE 4096u
#define HDR_SLOT_OFF(i) ((uint64_t)(i) * HDR_SLOT_SIZE)
#define HDR_CRC_OFF (HDR_SLOT_SIZE - 4)
#define HDR_PART_OFF 256u
#define HDR_PART_SIZE 64u

#define MAM_MAGIC "FTAPEMAM"
#define MAM_SLOT_SIZE (128u << 10)
#define MAM_SLOT_OFF(i) (2ull * HDR_SLOT_SIZE + (uint64_t)(i) * MAM_SLOT_SIZE)
#define MAM_HDR_SIZE 32u
#define MAM_ENTRY_HDR 6u

#define LAYOUT_START (2ull * HDR_SLOT_SIZE + 2ull * MAM_SLOT_SIZE)

#define ENTRY_SIZE 32u
#define ENTRY_RECORD 1u
#define ENTRY_FILEMARK 2u
#define ENTRY_TOMBSTONE 3u

#define FLAG_WRITE_PROTECTED 0x1u
#define KNOWN_FLAGS FLAG_WRITE_PROTECTED

/* How many table entries open() reads per pread. */
#define SCAN_CHUNK 4096u
/* Buffer for checking the crc of the part of a record that did not fit. */
#define SCRATCH_SIZE (256u << 10)
/* Default size of the verification window (struct verify_window). */
#define VERIFY_WINDOW (64u << 20)

/* Biggest image we agree to describe: keeps all offset arithmetic far
 * from overflow (2^60 bytes = 1 EiB). */
#define MAX_IMAGE_BYTES (1ull << 60)

struct hdr_part {
	uint64_t table_off, table_entries, data_off, data_size;
};

struct hdr {
	uint32_t version;
	uint64_t generation;
	uint8_t uuid[16];
	uint64_t capacity;
	uint64_t early_warning;
	uint32_t max_record;
	uint32_t flags;
	uint32_t partitions;
	uint32_t salt;
	uint64_t base_seq;
	uint64_t created;
	char barcode[33], vendor[9], product[17], revision[5], serial[33];
	struct hdr_part p[TAPE_MAX_PARTITIONS];
};

struct entry {
	uint64_t seq;
	uint64_t data_off;
	uint32_t length;
	uint16_t type;
	uint32_t data_crc;
};

struct mam_attr {
	uint8_t partition;
	struct tape_attr a;
};

struct part_state {
	uint64_t eod;		/* first unused logical object number */
	uint64_t data_end;	/* data-area offset where the record at eod would go */
	uint64_t *fm;		/* sorted object numbers of filemarks before eod */
	size_t nfm, fm_cap;
};

/*
 * Write-behind (tape_write_queued): one record whose data writes are in
 * flight.  Its table entry is written only once all of them completed,
 * and only after the entries of every record queued before it.
 */
struct wb_slot {
	uint64_t qseq;		/* queue number (struct tape_queue_state) */
	uint32_t part;
	uint64_t n;		/* object number */
	uint64_t off;		/* data-area offset */
	uint32_t len;
	uint32_t crc;
	unsigned pending;	/* data writes not yet completed */
	int err;		/* first failure among them */
	bool past_ew;		/* ends past early warning */
};

struct writebehind {
	struct io_uring ring;
	bool ring_ready;
	int dfd;		/* O_DIRECT descriptor of the image, or -1 */
	bool fixed;		/* arena (buffer 0) and bounce pages (1) registered */
	const uint8_t *arena;
	size_t arena_len;
	uint8_t *bounce;	/* one zero-padded page per slot: record tails */
	uint8_t *entries;	/* encoded entries of one retirement batch */
	struct wb_slot *slot;
	unsigned depth;		/* slots in the ring of records in flight */
	unsigned head, count;	/* oldest slot, slots in use */
	/* File ranges known to be allocated ahead of the writes, per
	 * partition: its data area and its table. */
	uint64_t alloc_lo[TAPE_MAX_PARTITIONS], alloc_hi[TAPE_MAX_PARTITIONS];
	uint64_t talloc_lo[TAPE_MAX_PARTITIONS], talloc_hi[TAPE_MAX_PARTITIONS];
	bool no_fallocate;	/* the host filesystem cannot preallocate */
	struct tape_image_queue_config cfg;
};

/*
 * The read-only mapping of the image through which crc_in_place() reads
 * records (tape_image_verify_record()): one window, kept across records,
 * so a sequential read maps once per window instead of once per record.
 */
struct verify_window {
	const uint8_t *base;	/* NULL: nothing mapped */
	uint64_t start;		/* file offset of base, page-aligned */
	size_t len;		/* bytes mapped */
	size_t size;		/* window size to map; 0 = VERIFY_WINDOW */
	uint64_t maps;		/* windows mapped so far */
};

struct image {
	struct tape t;		/* first: tape_backend.h */
	int fd;
	bool loaded;
	bool medium_protected;	/* flag in the image */
	uint64_t file_size;
	struct hdr h;
	struct part_state ps[TAPE_MAX_PARTITIONS];
	uint32_t cur_part;
	uint64_t cur_block;
	uint64_t next_seq;
	uint64_t early_warning;	/* in effect for this handle */
	bool early_warning_set;	/* by tape_set_early_warning(): survives format */
	unsigned mam_slot;	/* slot holding the current attributes */
	uint64_t mam_gen;
	struct mam_attr *attrs;
	size_t nattrs;
	uint8_t *scratch;
	struct writebehind wb;
	struct verify_window vw;
};

static const struct tape_ops image_ops;

/* ---- small helpers ------------------------------------------------------ */

static uint64_t align_up(uint64_t v)
{
	return (v + TAPE_IMAGE_BLOCK - 1) & ~(uint64_t)(TAPE_IMAGE_BLOCK - 1);
}

static uint64_t align_down(uint64_t v)
{
	return v & ~(uint64_t)(TAPE_IMAGE_BLOCK - 1);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v; p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Fixed-size text field: copy at most n bytes, NUL-terminate, drop trailing blanks. */
static void get_text(char *dst, const uint8_t *src, size_t n)
{
	size_t l;

	memcpy(dst, src, n);
	dst[n] = '\0';
	l = strlen(dst);
	while (l && dst[l - 1] == ' ')
		dst[--l] = '\0';
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;	/* past end of file */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int sync_fd(int fd)
{
	while (fdatasync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc32c_table[8][256];

static void crc32c_init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
				crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w = le64toh(w) ^ c;
		c = crc32c_table[7][w & 0xff] ^ crc32c_table[6][(w >> 8) & 0xff] ^
		    crc32c_table[5][(w >> 16) & 0xff] ^ crc32c_table[4][(w >> 24) & 0xff] ^
		    crc32c_table[3][(w >> 32) & 0xff] ^ crc32c_table[2][(w >> 40) & 0xff] ^
		    crc32c_table[1][(w >> 48) & 0xff] ^ crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t len)
{
	uint64_t c64;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi(c, *p++);
		len--;
	}
	c64 = c;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}

/*
 * (a * b) mod P in the bit-reflected representation CRC-32C registers
 * use (bit 31 is the coefficient of x^0).
 */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, prod = 0;

	for (; m; m >>= 1) {
		if (a & m)
			prod ^= b;
		b = b & 1 ? (b >> 1) ^ 0x82F63B78u : b >> 1;
	}
	return prod;
}

/* x^(8 * n) mod P: what a register is multiplied by over n zero bytes. */
static uint32_t gf2_shift_bytes(uint64_t n)
{
	uint32_t result = 1u << 31;	/* x^0 */
	uint32_t sq = 1u << 23;		/* x^8 */

	for (; n; n >>= 1) {
		if (n & 1)
			result = gf2_mulmod(result, sq);
		sq = gf2_mulmod(sq, sq);
	}
	return result;
}

/*
 * The crc32 instruction has a latency of three cycles but takes a new
 * one every cycle, so one dependency chain runs at a third of its speed.
 * Big buffers are cut into three lanes run side by side; the lanes'
 * registers are joined with the linearity of CRCs: running register r
 * over n more bytes B gives r * x^(8n) xor crc(0, B) (mod P).
 */
#define CRC_LANE_MIN 4096u

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw3(uint32_t c, const uint8_t *p, size_t len)
{
	/* lane length << 32 | its shift, one word so threads never see halves */
	static _Atomic uint64_t cached;
	uint64_t a, b, d, cache;
	size_t lane, i;
	uint32_t k;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi(c, *p++);
		len--;
	}
	if (len < 3 * CRC_LANE_MIN)
		return crc32c_hw(c, p, len);
	lane = len / 3 / 8 * 8;
	a = c;
	b = 0;
	d = 0;
	for (i = 0; i < lane; i += 8) {
		uint64_t wa, wb, wd;

		memcpy(&wa, p + i, 8);
		memcpy(&wb, p + lane + i, 8);
		memcpy(&wd, p + 2 * lane + i, 8);
		a = __builtin_ia32_crc32di(a, wa);
		b = __builtin_ia32_crc32di(b, wb);
		d = __builtin_ia32_crc32di(d, wd);
	}
	/* the same lane length comes back for every record of a volume */
	cache = atomic_load_explicit(&cached, memory_order_relaxed);
	if (lane <= UINT32_MAX && cache >> 32 == lane) {
		k = (uint32_t)cache;
	} else {
		k = gf2_shift_bytes(lane);
		if (lane <= UINT32_MAX)
			atomic_store_explicit(&cached, (uint64_t)lane << 32 | k,
					      memory_order_relaxed);
	}
	c = gf2_mulmod((uint32_t)a, k) ^ (uint32_t)b;
	c = gf2_mulmod(c, k) ^ (uint32_t)d;
	return crc32c_hw(c, p + 3 * lane, len - 3 * lane);
}
#endif

static uint32_t (*crc32c_impl)(uint32_t, const uint8_t *, size_t);

__attribute__((constructor))
static void crc32c_select(void)
{
	crc32c_init_table();
	crc32c_impl = crc32c_sw;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		crc32c_impl = crc32c_hw3;
#endif
}

uint32_t tape_crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (!crc32c_impl)
		crc32c_select();
	return ~crc32c_impl(~crc, buf, len);
}

/* ---- header ------------------------------------------------------------- */

static void put_text(uint8_t *dst, const char *src, size_t n)
{
	size_t l = strnlen(src, n);

	memcpy(dst, src, l);
	memset(dst + l, 0, n - l);
}

static void encode_header(const struct hdr *h, uint8_t *b)
{
	memset(b, 0, HDR_SLOT_SIZE);
	memcpy(b, IMG_MAGIC, 8);
	put32(b + 8, h->version);
	put32(b + 12, HDR_SLOT_SIZE);
	put64(b + 16, h->generation);
	memcpy(b + 24, h->uuid, 16);
	put64(b + 40, h->capacity);
	put64(b + 48, h->early_warning);
	put32(b + 56, h->max_record);
	put32(b + 60, h->flags);
	put32(b + 64, h->partitions);
	put32(b + 68, h->salt);
	put64(b + 72, h->base_seq);
	put64(b + 80, h->created);
	put_text(b + 88, h->barcode, 32);
	put_text(b + 120, h->vendor, 8);
	put_text(b + 128, h->product, 16);
	put_text(b + 144, h->revision, 4);
	put_text(b + 148, h->serial, 32);
	for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++) {
		uint8_t *q = b + HDR_PART_OFF + i * HDR_PART_SIZE;
		if (i >= h->partitions)
			continue;
		put64(q, h->p[i].table_off);
		put64(q + 8, h->p[i].table_entries);
		put64(q + 16, h->p[i].data_off);
		put64(q + 24, h->p[i].data_size);
	}
	put32(b + HDR_CRC_OFF, tape_crc32c(0, b, HDR_CRC_OFF));
}

enum hdr_verdict { HDR_OK, HDR_NOT_OURS, HDR_BAD_VERSION, HDR_BAD_CRC };

static enum hdr_verdict decode_header(const uint8_t *b, struct hdr *h)
{
	if (memcmp(b, IMG_MAGIC, 8) != 0)
		return HDR_NOT_OURS;
	if (get32(b + HDR_CRC_OFF) != tape_crc32c(0, b, HDR_CRC_OFF))
		return HDR_BAD_CRC;
	memset(h, 0, sizeof(*h));
	h->version = get32(b + 8);
	if (h->version != IMG_VERSION || get32(b + 12) != HDR_SLOT_SIZE)
		return HDR_BAD_VERSION;
	h->generation = get64(b + 16);
	memcpy(h->uuid, b + 24, 16);
	h->capacity = get64(b + 40);
	h->early_warning = get64(b + 48);
	h->max_record = get32(b + 56);
	h->flags = get32(b + 60);
	h->partitions = get32(b + 64);
	h->salt = get32(b + 68);
	h->base_seq = get64(b + 72);
	h->created = get64(b + 80);
	get_text(h->barcode, b + 88, 32);
	get_text(h->vendor, b + 120, 8);
	get_text(h->product, b + 128, 16);
	get_text(h->revision, b + 144, 4);
	get_text(h->serial, b + 148, 32);
	for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++) {
		const uint8_t *q = b + HDR_PART_OFF + i * HDR_PART_SIZE;
		h->p[i].table_off = get64(q);
		h->p[i].table_entries = get64(q + 8);
		h->p[i].data_off = get64(q + 16);
		h->p[i].data_size = get64(q + 24);
	}
	return HDR_OK;
}

static uint64_t table_bytes(uint64_t entries)
{
	return align_up(entries * ENTRY_SIZE);
}

/* End of the layout the header describes (the file must be at least this long). */
static uint64_t layout_end(const struct hdr *h)
{
	uint64_t end = LAYOUT_START;

	for (unsigned i = 0; i < h->partitions; i++) {
		uint64_t e = h->p[i].data_off + h->p[i].data_size;
		if (e > end)
			end = e;
	}
	return end;
}

/*
 * The early warning of an image created without one: 1% of the cartridge
 * (at least 64 KiB), but no more than a quarter of the smallest partition,
 * so that a small LTFS index partition next to a big data partition does
 * not warn from its first record on.
 */
static uint64_t auto_early_warning(const struct hdr *h)
{
	uint64_t ew = align_up(h->capacity / 100), smallest = UINT64_MAX;

	if (ew < TAPE_IMAGE_MIN_DEFAULT_EW)
		ew = TAPE_IMAGE_MIN_DEFAULT_EW;
	for (unsigned i = 0; i < h->partitions; i++)
		if (h->p[i].data_size < smallest)
			smallest = h->p[i].data_size;
	if (ew > align_down(smallest / 4))
		ew = align_down(smallest / 4);
	return ew;
}

static uint64_t effective_early_warning(const struct hdr *h)
{
	return h->early_warning ? h->early_warning : auto_early_warning(h);
}

/* Check that a decoded header describes a possible image; explain if not. */
static int check_header(const struct hdr *h, char *errbuf, size_t errlen)
{
	uint64_t sum = 0;

	if (h->partitions < 1 || h->partitions > TAPE_MAX_PARTITIONS) {
		tape_set_err(errbuf, errlen, "corrupt image: %" PRIu32 " partitions (must be 1 to %d)",
			h->partitions, TAPE_MAX_PARTITIONS);
		return -EUCLEAN;
	}
	if (h->max_record < 1 || h->max_record > TAPE_IMAGE_MAX_RECORD) {
		tape_set_err(errbuf, errlen, "corrupt image: maximum record size %" PRIu32 " out of range",
			h->max_record);
		return -EUCLEAN;
	}
	if (h->flags & ~KNOWN_FLAGS) {
		tape_set_err(errbuf, errlen, "image uses unknown flags 0x%" PRIx32 " (newer fusetape?)",
			h->flags & ~KNOWN_FLAGS);
		return -EMEDIUMTYPE;
	}
	if (h->capacity > MAX_IMAGE_BYTES || h->base_seq > (1ull << 62)) {
		tape_set_err(errbuf, errlen, "corrupt image: impossible capacity or sequence number");
		return -EUCLEAN;
	}
	for (unsigned i = 0; i < h->partitions; i++) {
		const struct hdr_part *p = &h->p[i];
		uint64_t prev_end = i ? h->p[i - 1].data_off + h->p[i - 1].data_size : LAYOUT_START;

		if (p->data_size > MAX_IMAGE_BYTES || p->table_entries > MAX_IMAGE_BYTES / ENTRY_SIZE ||
		    p->table_off > MAX_IMAGE_BYTES || p->data_off > MAX_IMAGE_BYTES ||
		    p->table_entries < 1 || p->data_size < TAPE_IMAGE_BLOCK ||
		    p->table_off % TAPE_IMAGE_BLOCK || p->data_off % TAPE_IMAGE_BLOCK ||
		    p->data_size % TAPE_IMAGE_BLOCK || p->table_off < prev_end ||
		    p->data_off < p->table_off + table_bytes(p->table_entries)) {
			tape_set_err(errbuf, errlen,
				"corrupt image: impossible layout of partition %u (table at %" PRIu64
				", %" PRIu64 " entries, data at %" PRIu64 ", %" PRIu64 " bytes)",
				i, p->table_off, p->table_entries, p->data_off, p->data_size);
			return -EUCLEAN;
		}
		sum += p->data_size;
	}
	if (sum > h->capacity) {
		tape_set_err(errbuf, errlen,
			"corrupt image: partitions hold %" PRIu64 " bytes, more than the capacity %" PRIu64,
			sum, h->capacity);
		return -EUCLEAN;
	}
	return 0;
}

/* Write the header to both slots, the second only once the first is durable. */
static int write_header(int fd, const struct hdr *h)
{
	uint8_t *b = malloc(HDR_SLOT_SIZE);
	int err;

	if (!b)
		return -ENOMEM;
	encode_header(h, b);
	for (unsigned i = 0; i < 2; i++) {
		err = pwrite_full(fd, b, HDR_SLOT_SIZE, HDR_SLOT_OFF(i));
		if (!err)
			err = sync_fd(fd);
		if (err)
			break;
	}
	free(b);
	return err;
}

/*
 * Read both header slots and pick the valid one with the highest
 * generation.  Errors say what is wrong with the file.
 */
static int read_header(int fd, uint64_t file_size, struct hdr *h,
		       char *errbuf, size_t errlen)
{
	uint8_t *b;
	struct hdr cand[2];
	enum hdr_verdict v[2];
	int err, best = -1;

	if (file_size < 8) {
		tape_set_err(errbuf, errlen, "not a fusetape image: file is %" PRIu64 " bytes long", file_size);
		return -EMEDIUMTYPE;
	}
	b = calloc(2, HDR_SLOT_SIZE);
	if (!b)
		return -ENOMEM;
	err = pread_full(fd, b, file_size < 2 * HDR_SLOT_SIZE ? file_size : 2 * HDR_SLOT_SIZE, 0);
	if (err) {
		tape_set_err(errbuf, errlen, "cannot read image header: %s", strerror(-err));
		free(b);
		return err;
	}
	if (memcmp(b, IMG_MAGIC, 8) != 0) {
		free(b);
		tape_set_err(errbuf, errlen, "not a fusetape image: bad magic");
		return -EMEDIUMTYPE;
	}
	if (file_size < LAYOUT_START) {
		free(b);
		tape_set_err(errbuf, errlen,
			"truncated image: file is %" PRIu64 " bytes, the metadata alone needs %llu",
			file_size, (unsigned long long)LAYOUT_START);
		return -EUCLEAN;
	}
	for (int i = 0; i < 2; i++) {
		v[i] = decode_header(b + i * HDR_SLOT_SIZE, &cand[i]);
		if (v[i] == HDR_OK && (best < 0 || cand[i].generation > cand[best].generation))
			best = i;
	}
	free(b);
	if (best < 0) {
		if (v[0] == HDR_BAD_VERSION || v[1] == HDR_BAD_VERSION) {
			tape_set_err(errbuf, errlen, "unsupported fusetape image version (this is version %u)",
				IMG_VERSION);
			return -EMEDIUMTYPE;
		}
		tape_set_err(errbuf, errlen, "corrupt image: both header copies fail their checksum");
		return -EUCLEAN;
	}
	*h = cand[best];
	err = check_header(h, errbuf, errlen);
	if (err)
		return err;
	if (layout_end(h) > file_size) {
		tape_set_err(errbuf, errlen,
			"truncated image: file is %" PRIu64 " bytes, its layout needs %" PRIu64,
			file_size, layout_end(h));
		return -EUCLEAN;
	}
	return 0;
}

/*
 * Lay out nparts partitions of the given capacities (0 for the last = rest
 * of h->capacity) after the fixed areas.
 */
static int compute_layout(struct hdr *h, unsigned nparts, const uint64_t *sizes,
			  char *errbuf, size_t errlen)
{
	uint64_t cap = align_down(h->capacity), sum = 0, off = LAYOUT_START;
	uint64_t sz[TAPE_MAX_PARTITIONS];

	if (nparts < 1 || nparts > TAPE_MAX_PARTITIONS) {
		tape_set_err(errbuf, errlen, "partition count %u out of range 1..%d", nparts, TAPE_MAX_PARTITIONS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < nparts; i++) {
		sz[i] = align_down(sizes ? sizes[i] : 0);
		if (sizes && sizes[i] > MAX_IMAGE_BYTES) {
			tape_set_err(errbuf, errlen, "partition %u: size too large", i);
			return -EINVAL;
		}
		if (sz[i] == 0 && i + 1 < nparts) {
			tape_set_err(errbuf, errlen, "partition %u: size missing (only the last may be \"the rest\")", i);
			return -EINVAL;
		}
		sum += sz[i];
	}
	if (sum > cap) {
		tape_set_err(errbuf, errlen,
			"partitions add up to %" PRIu64 " bytes, more than the capacity %" PRIu64,
			sum, cap);
		return -EINVAL;
	}
	if (sz[nparts - 1] == 0)
		sz[nparts - 1] = cap - sum;
	for (unsigned i = 0; i < nparts; i++) {
		if (sz[i] < TAPE_IMAGE_MIN_PARTITION) {
			tape_set_err(errbuf, errlen,
				"partition %u would hold %" PRIu64 " bytes, less than the minimum %u",
				i, sz[i], TAPE_IMAGE_MIN_PARTITION);
			return -EINVAL;
		}
	}
	memset(h->p, 0, sizeof(h->p));
	h->partitions = nparts;
	for (unsigned i = 0; i < nparts; i++) {
		h->p[i].table_entries = sz[i] / TAPE_IMAGE_BLOCK + TAPE_IMAGE_EXTRA_ENTRIES;
		h->p[i].table_off = off;
		h->p[i].data_off = off + table_bytes(h->p[i].table_entries);
		h->p[i].data_size = sz[i];
		off = h->p[i].data_off + sz[i];
	}
	return 0;
}

/* ---- object table -------------------------------------------------------- */

/* An entry's checksum covers the image's salt and its partition, so entries
 * of an earlier format (other salt) or another partition never validate. */
static uint32_t entry_crc(const struct hdr *h, uint32_t part, const uint8_t *e)
{
	uint8_t pre[8];
	uint32_t c;

	put32(pre, h->salt);
	put32(pre + 4, part);
	c = tape_crc32c(0, pre, sizeof(pre));
	return tape_crc32c(c, e, ENTRY_SIZE - 4);
}

static void encode_entry(const struct hdr *h, uint32_t part, const struct entry *e, uint8_t *b)
{
	put64(b, e->seq);
	put64(b + 8, e->data_off);
	put32(b + 16, e->length);
	put16(b + 20, e->type);
	put16(b + 22, 0);
	put32(b + 24, e->data_crc);
	put32(b + 28, entry_crc(h, part, b));
}

/* Returns true if the checksum matches (the entry was written by us for this format). */
static bool decode_entry(const struct hdr *h, uint32_t part, const uint8_t *b, struct entry *e)
{
	e->seq = get64(b);
	e->data_off = get64(b + 8);
	e->length = get32(b + 16);
	e->type = get16(b + 20);
	e->data_crc = get32(b + 24);
	return get32(b + 28) == entry_crc(h, part, b) && e->seq != 0 &&
	       e->seq <= (1ull << 62);
}

/* Is e a valid object following an object with prev_seq that ended at data_end? */
static bool entry_follows(const struct hdr *h, uint32_t part, const struct entry *e,
			  uint64_t prev_seq, uint64_t data_end)
{
	if (e->seq <= prev_seq || e->data_off != data_end)
		return false;
	if (e->type == ENTRY_FILEMARK)
		return e->length == 0 && e->data_crc == 0;
	if (e->type != ENTRY_RECORD || e->length < 1 || e->length > h->max_record)
		return false;
	return e->data_off + align_up(e->length) <= h->p[part].data_size;
}

static uint64_t entry_pos(const struct image *im, uint32_t part, uint64_t n)
{
	return im->h.p[part].table_off + n * ENTRY_SIZE;
}

static int write_entry(struct image *im, uint32_t part, uint64_t n, const struct entry *e)
{
	uint8_t b[ENTRY_SIZE];

	encode_entry(&im->h, part, e, b);
	return pwrite_full(im->fd, b, ENTRY_SIZE, entry_pos(im, part, n));
}

/* Read entry n (< eod) of a partition; it was valid at open, check it still is. */
static int read_entry(struct image *im, uint32_t part, uint64_t n, struct entry *e)
{
	uint8_t b[ENTRY_SIZE];
	int err = pread_full(im->fd, b, ENTRY_SIZE, entry_pos(im, part, n));

	if (err)
		return err == -ENODATA ? -EIO : err;
	if (!decode_entry(&im->h, part, b, e) ||
	    (e->type != ENTRY_RECORD && e->type != ENTRY_FILEMARK))
		return -EIO;
	/* Re-checked because the file may have changed since open (an unlocked
	 * reader, or damage): never trust a length or offset unchecked. */
	if (e->length > im->h.max_record ||
	    e->data_off + align_up(e->length) > im->h.p[part].data_size)
		return -EIO;
	return 0;
}

static int fm_push(struct part_state *ps, uint64_t n)
{
	if (ps->nfm == ps->fm_cap) {
		size_t cap = ps->fm_cap ? ps->fm_cap * 2 : 64;
		uint64_t *fm = realloc(ps->fm, cap * sizeof(*fm));
		if (!fm)
			return -ENOMEM;
		ps->fm = fm;
		ps->fm_cap = cap;
	}
	ps->fm[ps->nfm++] = n;
	return 0;
}

/* Index of the first filemark at or after object n. */
static size_t fm_lower_bound(const struct part_state *ps, uint64_t n)
{
	size_t lo = 0, hi = ps->nfm;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ps->fm[mid] < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Read a partition's table up to its first invalid entry: EOD, data end,
 * filemarks, and the highest seq on disk (including the entry at EOD,
 * which may be a tombstone carrying the highest seq of all).
 */
static int scan_partition(struct image *im, uint32_t part, uint64_t *max_seq,
			  char *errbuf, size_t errlen)
{
	const struct hdr_part *hp = &im->h.p[part];
	struct part_state *ps = &im->ps[part];
	uint8_t *buf = malloc((size_t)SCAN_CHUNK * ENTRY_SIZE);
	uint64_t prev_seq = im->h.base_seq, n = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	ps->eod = 0;
	ps->data_end = 0;
	ps->nfm = 0;
	while (n < hp->table_entries) {
		uint64_t cnt = hp->table_entries - n;
		if (cnt > SCAN_CHUNK)
			cnt = SCAN_CHUNK;
		err = pread_full(im->fd, buf, cnt * ENTRY_SIZE, entry_pos(im, part, n));
		if (err) {
			tape_set_err(errbuf, errlen, "cannot read object table of partition %u: %s",
				part, strerror(-err));
			goto out;
		}
		for (uint64_t i = 0; i < cnt; i++, n++) {
			struct entry e;
			bool ok = decode_entry(&im->h, part, buf + i * ENTRY_SIZE, &e);

			if (ok && e.seq > *max_seq)
				*max_seq = e.seq;
			if (!ok || !entry_follows(&im->h, part, &e, prev_seq, ps->data_end)) {
				/* The protocol keeps the highest seq at or before EOD;
				 * the stale entries already in the buffer are a free
				 * second line of defence should that entry be damaged. */
				for (i++; i < cnt; i++)
					if (decode_entry(&im->h, part, buf + i * ENTRY_SIZE, &e) &&
					    e.seq > *max_seq)
						*max_seq = e.seq;
				goto done;
			}
			prev_seq = e.seq;
			if (e.type == ENTRY_FILEMARK) {
				err = fm_push(ps, n);
				if (err)
					goto out;
			} else {
				ps->data_end += align_up(e.length);
			}
			ps->eod = n + 1;
		}
	}
done:
	err = 0;
out:
	free(buf);
	return err;
}

/* ---- MAM ---------------------------------------------------------------- */

static uint32_t mam_crc(uint8_t *slot, uint32_t used)
{
	uint8_t saved[4];
	uint32_t c;

	memcpy(saved, slot + 24, 4);
	memset(slot + 24, 0, 4);
	c = tape_crc32c(0, slot, MAM_HDR_SIZE + used);
	memcpy(slot + 24, saved, 4);
	return c;
}

/* Decode one MAM slot; false if it is not a valid slot. */
static bool mam_decode(uint8_t *slot, uint64_t *gen, struct mam_attr **out, size_t *count)
{
	uint32_t used = get32(slot + 16), n = get32(slot + 20), off = MAM_HDR_SIZE;
	struct mam_attr *a;

	if (memcmp(slot, MAM_MAGIC, 8) != 0 || used > MAM_SLOT_SIZE - MAM_HDR_SIZE ||
	    n > used / MAM_ENTRY_HDR + 1 || get32(slot + 24) != mam_crc(slot, used))
		return false;
	a = calloc(n ? n : 1, sizeof(*a));
	if (!a)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *e = slot + off;
		if (off + MAM_ENTRY_HDR > MAM_HDR_SIZE + used)
			goto bad;
		a[i].partition = e[0];
		a[i].a.format = e[1];
		a[i].a.id = get16(e + 2);
		a[i].a.length = get16(e + 4);
		if (a[i].partition >= TAPE_MAX_PARTITIONS || a[i].a.length > TAPE_ATTR_MAX_VALUE ||
		    off + MAM_ENTRY_HDR + a[i].a.length > MAM_HDR_SIZE + used)
			goto bad;
		memcpy(a[i].a.value, e + MAM_ENTRY_HDR, a[i].a.length);
		off += MAM_ENTRY_HDR + a[i].a.length;
	}
	if (off != MAM_HDR_SIZE + used)
		goto bad;
	*gen = get64(slot + 8);
	*out = a;
	*count = n;
	return true;
bad:
	free(a);
	return false;
}

/* Encode attrs into slot (MAM_SLOT_SIZE bytes); -ENOSPC if they do not fit. */
static int mam_encode(uint8_t *slot, uint64_t gen, const struct mam_attr *a, size_t n)
{
	uint32_t off = MAM_HDR_SIZE;

	memset(slot, 0, MAM_HDR_SIZE);
	for (size_t i = 0; i < n; i++) {
		if (off + MAM_ENTRY_HDR + a[i].a.length > MAM_SLOT_SIZE)
			return -ENOSPC;
		slot[off] = a[i].partition;
		slot[off + 1] = a[i].a.format;
		put16(slot + off + 2, a[i].a.id);
		put16(slot + off + 4, a[i].a.length);
		memcpy(slot + off + MAM_ENTRY_HDR, a[i].a.value, a[i].a.length);
		off += MAM_ENTRY_HDR + a[i].a.length;
	}
	memcpy(slot, MAM_MAGIC, 8);
	put64(slot + 8, gen);
	put32(slot + 16, off - MAM_HDR_SIZE);
	put32(slot + 20, (uint32_t)n);
	put32(slot + 24, mam_crc(slot, off - MAM_HDR_SIZE));
	return 0;
}

static int mam_load(struct image *im, char *errbuf, size_t errlen)
{
	uint8_t *slot = malloc(MAM_SLOT_SIZE);
	struct mam_attr *a[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 };
	uint64_t gen[2] = { 0, 0 };
	bool ok[2];
	int err, best;

	if (!slot)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		err = pread_full(im->fd, slot, MAM_SLOT_SIZE, MAM_SLOT_OFF(i));
		if (err) {
			free(a[0]);
			free(slot);
			tape_set_err(errbuf, errlen, "cannot read attribute area: %s", strerror(-err));
			return err == -ENODATA ? -EUCLEAN : err;
		}
		ok[i] = mam_decode(slot, &gen[i], &a[i], &n[i]);
	}
	free(slot);
	if (!ok[0] && !ok[1]) {
		tape_set_err(errbuf, errlen, "corrupt image: both copies of the attribute area are damaged");
		return -EUCLEAN;
	}
	best = ok[0] && (!ok[1] || gen[0] >= gen[1]) ? 0 : 1;
	im->mam_slot = (unsigned)best;
	im->mam_gen = gen[best];
	im->attrs = a[best];
	im->nattrs = n[best];
	free(a[1 - best]);
	return 0;
}

/* Store a new attribute list in the slot not holding the current one. */
static int mam_store(struct image *im, struct mam_attr *a, size_t n)
{
	uint8_t *slot = malloc(MAM_SLOT_SIZE);
	unsigned target = 1 - im->mam_slot;
	int err;

	if (!slot)
		return -ENOMEM;
	err = mam_encode(slot, im->mam_gen + 1, a, n);
	if (!err)
		err = pwrite_full(im->fd, slot, MAM_SLOT_SIZE, MAM_SLOT_OFF(target));
	if (!err)
		err = sync_fd(im->fd);
	free(slot);
	if (err)
		return err;
	im->mam_slot = target;
	im->mam_gen++;
	return 0;
}

/* ---- creating and flagging images --------------------------------------- */

/* Make a new file's name durable too (best effort: the image itself is). */
static void sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

static bool fits_text(const char *s, size_t n)
{
	return !s || strlen(s) <= n;
}

int tape_image_create(const char *path, const struct tape_image_params *p,
		      char *errbuf, size_t errlen)
{
	struct tape_image_params def = { 0 };
	struct stat st;
	struct hdr h = { 0 };
	uint8_t *mam = NULL;
	uint64_t end;
	uuid_t uu;
	int fd, err, oflags;
	bool made = false;	/* the file's old content is gone: remove it on failure */

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!path || !*path) {
		tape_set_err(errbuf, errlen, "no image file name given");
		return -EINVAL;
	}
	if (!p)
		p = &def;
	h.version = IMG_VERSION;
	h.generation = 1;
	h.capacity = align_down(p->size ? p->size : TAPE_IMAGE_DEFAULT_SIZE);
	if (p->size > MAX_IMAGE_BYTES) {
		tape_set_err(errbuf, errlen, "size %" PRIu64 " is too large", p->size);
		return -EINVAL;
	}
	h.max_record = p->max_record ? p->max_record : TAPE_IMAGE_DEFAULT_MAX_RECORD;
	if (h.max_record > TAPE_IMAGE_MAX_RECORD) {
		tape_set_err(errbuf, errlen, "maximum record size %" PRIu32 " is above the limit %u",
			h.max_record, TAPE_IMAGE_MAX_RECORD);
		return -EINVAL;
	}
	h.early_warning = p->early_warning;	/* 0: automatic, see auto_early_warning() */
	if (h.early_warning >= h.capacity) {
		tape_set_err(errbuf, errlen, "early warning %" PRIu64 " must be smaller than the capacity %" PRIu64,
			h.early_warning, h.capacity);
		return -EINVAL;
	}
	if (!fits_text(p->barcode, 32) || !fits_text(p->vendor, 8) ||
	    !fits_text(p->product, 16) || !fits_text(p->serial, 32)) {
		tape_set_err(errbuf, errlen, "barcode or serial longer than 32, vendor than 8 or product than 16 characters");
		return -EINVAL;
	}
	h.flags = p->readonly ? FLAG_WRITE_PROTECTED : 0;
	err = compute_layout(&h, p->partitions ? p->partitions : 1, p->partition_size, errbuf, errlen);
	if (err)
		return err;
	uuid_generate(uu);
	memcpy(h.uuid, uu, 16);
	if (getrandom(&h.salt, sizeof(h.salt), 0) != sizeof(h.salt))
		h.salt = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	h.base_seq = 0;
	h.created = (uint64_t)time(NULL);
	snprintf(h.barcode, sizeof(h.barcode), "%s", p->barcode ? p->barcode : "");
	snprintf(h.vendor, sizeof(h.vendor), "%s", p->vendor ? p->vendor : "");
	snprintf(h.product, sizeof(h.product), "%s", p->product ? p->product : "");
	snprintf(h.serial, sizeof(h.serial), "%s", p->serial ? p->serial : "");
	snprintf(h.revision, sizeof(h.revision), "%u", IMG_VERSION);

	oflags = O_RDWR | O_CREAT | O_CLOEXEC | (p->force ? 0 : O_EXCL);
	fd = open(path, oflags, 0666);
	if (fd < 0) {
		err = -errno;
		if (err == -EEXIST)
			tape_set_err(errbuf, errlen, "%s: file exists (use force to overwrite)", path);
		else
			tape_set_err(errbuf, errlen, "%s: %s", path, strerror(errno));
		return err;
	}
	made = !p->force;	/* O_EXCL: the file is ours */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		tape_set_err(errbuf, errlen, "%s: exists and is not a regular file", path);
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		tape_set_err(errbuf, errlen, "%s: image is in use", path);
		goto fail;
	}
	end = layout_end(&h);
	made = true;
	/* Start from an empty file so no old content can look like ours. */
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)end) < 0) {
		err = -errno;
		tape_set_err(errbuf, errlen, "%s: cannot make a %" PRIu64 "-byte file: %s",
			path, end, strerror(errno));
		goto fail;
	}
	mam = malloc(MAM_SLOT_SIZE);
	if (!mam) {
		err = -ENOMEM;
		goto fail;
	}
	{
		struct mam_attr bc[TAPE_MAX_PARTITIONS];
		size_t nbc = 0;

		if (p->barcode && *p->barcode) {
			/* SSC: BARCODE is 32 ASCII bytes, left-aligned, blank-padded.
			 * It belongs to the cartridge: stored for every partition
			 * number, so that it is there whatever tape_format() makes. */
			for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++) {
				memset(&bc[i], 0, sizeof(bc[i]));
				bc[i].partition = (uint8_t)i;
				bc[i].a.id = TAPE_ATTR_BARCODE;
				bc[i].a.format = TAPE_ATTR_ASCII;
				bc[i].a.length = 32;
				memset(bc[i].a.value, ' ', 32);
				memcpy(bc[i].a.value, p->barcode, strlen(p->barcode));
			}
			nbc = TAPE_MAX_PARTITIONS;
		}
		for (unsigned i = 0; i < 2; i++) {
			err = mam_encode(mam, i == 0 ? 1 : 0, bc, nbc);
			if (!err)
				err = pwrite_full(fd, mam, MAM_SLOT_SIZE, MAM_SLOT_OFF(i));
			if (err) {
				tape_set_err(errbuf, errlen, "%s: cannot write attribute area: %s",
					path, strerror(-err));
				goto fail;
			}
		}
	}
	err = sync_fd(fd);
	if (!err)
		err = write_header(fd, &h);
	if (err) {
		tape_set_err(errbuf, errlen, "%s: cannot write header: %s", path, strerror(-err));
		goto fail;
	}
	free(mam);
	if (close(fd) < 0) {
		err = -errno;
		tape_set_err(errbuf, errlen, "%s: %s", path, strerror(errno));
		return err;
	}
	sync_parent_dir(path);
	return 0;
fail:
	free(mam);
	close(fd);
	if (made)
		unlink(path);
	return err;
}

int tape_image_set_readonly(const char *path, bool ro, char *errbuf, size_t errlen)
{
	struct stat st;
	struct hdr h;
	int fd, err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		tape_set_err(errbuf, errlen, "%s: %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tape_set_err(errbuf, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		tape_set_err(errbuf, errlen, "%s: image is in use", path);
		close(fd);
		return -EBUSY;
	}
	err = read_header(fd, (uint64_t)st.st_size, &h, errbuf, errlen);
	if (!err) {
		h.flags = ro ? h.flags | FLAG_WRITE_PROTECTED : h.flags & ~FLAG_WRITE_PROTECTED;
		h.generation++;
		err = write_header(fd, &h);
		if (err)
			tape_set_err(errbuf, errlen, "%s: cannot write header: %s", path, strerror(-err));
	}
	close(fd);
	return err;
}

int tape_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	if (!s || !out)
		return -EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case 'p': case 'P': shift = 50; break;
	case 'b': case 'B': case '\0': break;
	default: return -EINVAL;
	}
	if (shift) {
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	} else if (*end) {
		end++;	/* plain "B" */
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

/* ---- opening ------------------------------------------------------------ */

static void fill_identity(struct image *im)
{
	struct tape_identity *id = &im->t.identity;
	char hex[33];

	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02X", im->h.uuid[i]);
	snprintf(id->vendor, sizeof(id->vendor), "%s", im->h.vendor[0] ? im->h.vendor : "FUSETAPE");
	snprintf(id->product, sizeof(id->product), "%s", im->h.product[0] ? im->h.product : "VIRTUAL-LTO");
	snprintf(id->revision, sizeof(id->revision), "%s", im->h.revision[0] ? im->h.revision : "1");
	snprintf(id->serial, sizeof(id->serial), "%s", im->h.serial[0] ? im->h.serial : hex);
}

static void wb_teardown(struct image *im);
static void window_drop(struct image *im);

static void free_image(struct image *im)
{
	wb_teardown(im);
	window_drop(im);
	for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++)
		free(im->ps[i].fm);
	free(im->attrs);
	free(im->scratch);
	if (im->fd >= 0)
		close(im->fd);
	free(im);
}

int tape_image_open(const char *path, unsigned flags, struct tape **out,
		    char *errbuf, size_t errlen)
{
	struct image *im;
	struct stat st;
	uint64_t max_seq = 0;
	bool want_rw = !(flags & TAPE_OPEN_READONLY);
	int err;

	*out = NULL;
	im = calloc(1, sizeof(*im));
	if (!im)
		return -ENOMEM;
	im->fd = -1;
	im->wb.dfd = -1;
	im->t.ops = &image_ops;
	if (want_rw) {
		im->fd = open(path, O_RDWR | O_CLOEXEC);
		/* A file we may not write is a write-protected cartridge. */
		if (im->fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
			want_rw = false;
	}
	if (im->fd < 0)
		im->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im->fd < 0) {
		err = -errno;
		tape_set_err(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(im->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		tape_set_err(errbuf, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (!(flags & TAPE_IMAGE_OPEN_NOLOCK) &&
	    flock(im->fd, (want_rw ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		tape_set_err(errbuf, errlen, "%s: image is in use by another handle", path);
		goto fail;
	}
	im->file_size = (uint64_t)st.st_size;
	err = read_header(im->fd, im->file_size, &im->h, errbuf, errlen);
	if (err)
		goto fail;
	err = mam_load(im, errbuf, errlen);
	if (err)
		goto fail;
	max_seq = im->h.base_seq;
	for (uint32_t i = 0; i < im->h.partitions; i++) {
		err = scan_partition(im, i, &max_seq, errbuf, errlen);
		if (err)
			goto fail;
	}
	im->next_seq = max_seq + 1;
	im->scratch = malloc(SCRATCH_SIZE);
	if (!im->scratch) {
		err = -ENOMEM;
		goto fail;
	}
	im->medium_protected = im->h.flags & FLAG_WRITE_PROTECTED;
	im->t.readonly = !want_rw || im->medium_protected;
	im->early_warning = effective_early_warning(&im->h);
	im->loaded = true;
	fill_identity(im);
	im->t.caps = (struct tape_caps){
		.max_record = im->h.max_record,
		.min_record = 1,
		.max_partitions = TAPE_MAX_PARTITIONS,
		.can_locate = true,
		.can_read_position = true,
		.has_mam = true,
		.can_format = true,
		.can_set_early_warning = true,
	};
	*out = &im->t;
	return 0;
fail:
	free_image(im);
	return err;
}

/* ---- operations --------------------------------------------------------- */

static struct image *IM(struct tape *t)
{
	return (struct image *)t;
}

bool tape_is_image(const struct tape *t)
{
	return t && t->ops == &image_ops;
}

static int not_ready(struct tape *t)
{
	return tape_fail(t, -ENOMEDIUM, TAPE_SENSE_NOT_READY, 0);
}

static int medium_error(struct tape *t, int err)
{
	(void)err;
	return tape_fail(t, -EIO, TAPE_SENSE_MEDIUM_ERROR, 0);
}

static int image_close(struct tape *t)
{
	struct image *im = IM(t);
	int err = t->readonly ? 0 : sync_fd(im->fd);

	if (close(im->fd) < 0 && !err)
		err = -errno;
	im->fd = -1;
	free_image(im);
	return err;
}

/* Check the crc of the part of a record beyond the caller's buffer. */
static int crc_rest(struct image *im, uint64_t off, uint64_t len, uint32_t *crc)
{
	while (len) {
		size_t n = len > SCRATCH_SIZE ? SCRATCH_SIZE : (size_t)len;
		int err = pread_full(im->fd, im->scratch, n, off);
		if (err)
			return err;
		*crc = tape_crc32c(*crc, im->scratch, n);
		off += n;
		len -= n;
	}
	return 0;
}

static ssize_t image_read(struct tape *t, void *buf, size_t len)
{
	struct image *im = IM(t);
	struct part_state *ps;
	struct entry e;
	uint64_t data;
	uint32_t crc;
	size_t n;
	int err;

	if (!im->loaded)
		return not_ready(t);
	ps = &im->ps[im->cur_part];
	if (im->cur_block >= ps->eod)
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	err = read_entry(im, im->cur_part, im->cur_block, &e);
	if (err) {
		im->cur_block++;	/* like a bad record: skip the object */
		return medium_error(t, err);
	}
	if (e.type == ENTRY_FILEMARK) {
		im->cur_block++;
		t->last.sense = TAPE_SENSE_FILEMARK;
		return 0;
	}
	data = im->h.p[im->cur_part].data_off + e.data_off;
	n = len < e.length ? len : e.length;
	im->cur_block++;	/* past the record whatever happens now */
	err = n ? pread_full(im->fd, buf, n, data) : 0;
	if (err)
		return medium_error(t, err);
	crc = tape_crc32c(0, buf, n);
	if (n < e.length && (err = crc_rest(im, data + n, e.length - n, &crc)) != 0)
		return medium_error(t, err);
	if (crc != e.data_crc)
		return medium_error(t, -EIO);
	if (n < e.length)
		return tape_fail(t, -EOVERFLOW, TAPE_SENSE_RECORD_LENGTH, e.length);
	return (ssize_t)e.length;
}

/* Forget objects at and after n (in memory) before overwriting at n. */
static void truncate_at(struct part_state *ps, uint64_t n, uint64_t data_end)
{
	ps->nfm = fm_lower_bound(ps, n);
	ps->eod = n;
	ps->data_end = data_end;
}

/* Data-area offset where object n (<= eod) starts. */
static int object_data_off(struct image *im, uint32_t part, uint64_t n, uint64_t *off)
{
	struct entry e;
	int err;

	if (n == im->ps[part].eod) {
		*off = im->ps[part].data_end;
		return 0;
	}
	err = read_entry(im, part, n, &e);
	if (err)
		return err;
	*off = e.data_off;
	return 0;
}

static bool past_early_warning(const struct image *im, uint32_t part, uint64_t end)
{
	uint64_t size = im->h.p[part].data_size;

	return im->early_warning >= size || end > size - im->early_warning;
}

/*
 * Reading a mapping of the image is only as safe as the file is long: if
 * someone truncates the image while it is mounted, touching a page past
 * the new end raises SIGBUS, which would kill the daemon over what is
 * just a damaged medium.  So the in-place crc pass runs under a guard: a
 * SIGBUS handler (installed once, process-wide) jumps back to the thread
 * that was reading when the fault address lies inside that thread's
 * active mapping, and the read becomes -EIO.  Every other SIGBUS goes to
 * whatever handler was there before us (or the default action), so
 * unrelated faults behave as they did.  The guard is thread-local, and
 * the handler only reads it and calls siglongjmp/sigaction/raise, all
 * async-signal-safe.
 */
struct map_guard {
	sigjmp_buf env;
	const char *lo;
	size_t len;
};

static _Thread_local struct map_guard *volatile active_guard;
static struct sigaction sigbus_previous;
static pthread_once_t sigbus_once = PTHREAD_ONCE_INIT;
static bool sigbus_guarded;	/* set once, by sigbus_once */

static void sigbus_handler(int sig, siginfo_t *info, void *uctx)
{
	struct map_guard *g = active_guard;
	const char *addr = info ? (const char *)info->si_addr : NULL;

	if (g && addr >= g->lo && addr < g->lo + g->len)
		siglongjmp(g->env, 1);
	if (sigbus_previous.sa_flags & SA_SIGINFO) {
		sigbus_previous.sa_sigaction(sig, info, uctx);
	} else if (sigbus_previous.sa_handler == SIG_DFL) {
		/* the default action: pending, it ends the process once we return */
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		sigemptyset(&dfl.sa_mask);
		sigaction(SIGBUS, &dfl, NULL);
		raise(sig);
	} else if (sigbus_previous.sa_handler != SIG_IGN) {
		sigbus_previous.sa_handler(sig);
	}
}

static void sigbus_install(void)
{
	struct sigaction sa = { .sa_sigaction = sigbus_handler, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigbus_guarded = sigaction(SIGBUS, &sa, &sigbus_previous) == 0;
}

static void window_drop(struct image *im)
{
	struct verify_window *w = &im->vw;

	if (w->base)
		munmap((void *)w->base, w->len);
	w->base = NULL;
	w->len = 0;
}

/*
 * Make the verification window cover the file range [start, end) (start
 * page-aligned, end within the file as this handle knows it): the current
 * window if it does, else a new one from start, of the window size (or
 * longer, for a record larger than that) but not past the page holding
 * the file's end.  The mapping only reserves addresses; no page is mapped
 * in yet.  A file that grew since (a format) is covered by mapping anew
 * once a record lies past the window.  0, or -errno from mmap.
 */
static int window_cover(struct image *im, uint64_t start, uint64_t end, long page)
{
	struct verify_window *w = &im->vw;
	uint64_t size = w->size ? w->size : VERIFY_WINDOW;
	uint64_t file_end = (im->file_size + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
	uint64_t wend = start + size < file_end ? start + size : file_end;
	void *p;

	if (w->base && start >= w->start && end <= w->start + w->len)
		return 0;
	window_drop(im);
	if (wend < end)
		wend = end;
	if (wend - start > SIZE_MAX)
		return -ENOMEM;
	p = mmap(NULL, (size_t)(wend - start), PROT_READ, MAP_SHARED, im->fd, (off_t)start);
	if (p == MAP_FAILED)
		return -errno;
	/*
	 * No access recency from this mapping: otherwise unmapping a record's
	 * pages after the check marks each one accessed a second time, which
	 * moves it to the active LRU list, taking the LRU lock page by page,
	 * for pages the read path hands on at once.  (Also no read-around on
	 * a fault; the read path asks for read-ahead itself.)
	 */
	madvise(p, (size_t)(wend - start), MADV_RANDOM);
	w->base = p;
	w->start = start;
	w->len = (size_t)(wend - start);
	w->maps++;
	return 0;
}

/*
 * The checksum of len bytes at file offset pos, read in place from the
 * page cache through the verification window: a read pass, no copy (this
 * is how the zero-copy read path checks a record before handing it out).
 * A range the file no longer holds (an image truncated behind our back)
 * is -EIO, not a crash: the whole window is under the map_guard, and a
 * fault drops the window, so the next record maps afresh.
 */
static int crc_in_place(struct image *im, uint64_t pos, size_t len, uint32_t *crc)
{
	static long page;
	struct map_guard guard;
	uint64_t start;
	const uint8_t *p;
	size_t maplen;

	if (!page)
		page = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
	if (pos + len > im->file_size)
		return -EIO;
	pthread_once(&sigbus_once, sigbus_install);
	start = pos - pos % (uint64_t)page;
	maplen = len + (size_t)(pos - start);
	if (!sigbus_guarded || window_cover(im, start, pos + len, page) != 0) {
		/*
		 * A filesystem that cannot map files, or no SIGBUS guard:
		 * read it through the scratch buffer (a short file is an
		 * error there, never a fault).
		 */
		*crc = 0;
		return crc_rest(im, pos, len, crc);
	}
	p = im->vw.base + (start - im->vw.start);
	guard.lo = (const char *)im->vw.base;
	guard.len = im->vw.len;
	/* savemask 1: the handler runs with SIGBUS blocked, the jump unblocks it */
	if (sigsetjmp(guard.env, 1)) {
		active_guard = NULL;
		window_drop(im);
		return -EIO;	/* the image file shrank under us */
	}
	active_guard = &guard;
	*crc = tape_crc32c(0, p + (pos - start), len);
	active_guard = NULL;
	/*
	 * Unmap the record's pages again (they stay in the page cache): the
	 * read path splices them to /dev/fuse right after this, and a page
	 * still mapped here could not be moved into the reader's file but
	 * would be copied; nor can the kernel reclaim the image's pages
	 * without first unmapping them from the daemon.
	 */
	madvise((void *)p, maplen, MADV_DONTNEED);
	return 0;
}

/*
 * One record at the current position.  Ordering as described at the top:
 * tombstone if overwriting, data, then the entry that makes it part of
 * the tape.
 */
static ssize_t image_write(struct tape *t, const void *buf, size_t len)
{
	struct image *im = IM(t);
	uint32_t part = im->cur_part;
	struct part_state *ps = &im->ps[part];
	const struct hdr_part *hp = &im->h.p[part];
	uint64_t n = im->cur_block, off, end;
	struct entry e;
	uint32_t crc;
	int err;

	if (!im->loaded)
		return not_ready(t);
	err = object_data_off(im, part, n, &off);
	if (err)
		return medium_error(t, err);
	end = off + align_up(len);
	if (n >= hp->table_entries || end > hp->data_size)
		return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
	if (n < ps->eod) {
		/* Cut the tape at n first: if we die writing the data, n is EOD. */
		e = (struct entry){ .seq = im->next_seq++, .data_off = off, .type = ENTRY_TOMBSTONE };
		err = write_entry(im, part, n, &e);
		if (err)
			return medium_error(t, err);
		truncate_at(ps, n, off);
	}
	err = pwrite_full(im->fd, buf, len, hp->data_off + off);
	crc = tape_crc32c(0, buf, len);
	if (err)
		return medium_error(t, err);
	/*
	 * Start writing the record out now rather than when the page cache
	 * decides to: a streaming writer then keeps the disk busy while it
	 * produces the next records, and the flush at the end has little
	 * left to wait for.  Only a hint; durability still comes from
	 * tape_flush().
	 */
	(void)sync_file_range(im->fd, (off64_t)(hp->data_off + off), (off64_t)len,
			      SYNC_FILE_RANGE_WRITE);
	e = (struct entry){
		.seq = im->next_seq++,
		.data_off = off,
		.length = (uint32_t)len,
		.type = ENTRY_RECORD,
		.data_crc = crc,
	};
	err = write_entry(im, part, n, &e);
	if (err)
		return medium_error(t, err);
	truncate_at(ps, n, off);
	ps->eod = n + 1;
	ps->data_end = end;
	im->cur_block = n + 1;
	if (past_early_warning(im, part, end))
		t->last.sense = TAPE_SENSE_EARLY_WARNING;
	return (ssize_t)len;
}

/* ---- write-behind ------------------------------------------------------- */

/*
 * Queued records (tape.h "write-behind") go to the image through an
 * io_uring: the data with O_DIRECT from the caller's registered arena
 * (fixed buffers), so that neither a copy nor the page cache stands
 * between the writer and the disk.  Everything a synchronous write
 * decides is decided at queue time: checks, end of medium, early
 * warning, the tombstone of an overwrite, the record's CRC (from the
 * arena), the new position and EOD.  Only the table entry waits: it is
 * written when the record's data writes have completed, and entries
 * strictly in record order, so a process killed at any moment leaves the
 * image ending at its last record whose data and entry are both there
 * (the validity rule of fusetape-image(5) does the rest).
 *
 * A record's last partial block is written from a zeroed bounce page, so
 * the bytes between a record's end and the next block are zero on this
 * path and nothing of the arena beyond the record reaches the image.
 */

#define WB_DEFAULT_DEPTH 16u
#define WB_MAX_DEPTH 256u
/* Preallocation step ahead of the writes: a full host filesystem shows up
 * at queue time, as a synchronous error, instead of as a deferred one. */
#define WB_ALLOC_STEP (64ull << 20)
#define WB_TABLE_ALLOC_STEP (1ull << 20)	/* 32768 entries */

static void wb_teardown(struct image *im)
{
	struct writebehind *wb = &im->wb;

	if (wb->ring_ready)
		io_uring_queue_exit(&wb->ring);
	wb->ring_ready = false;
	if (wb->dfd >= 0)
		close(wb->dfd);
	wb->dfd = -1;
	free(wb->bounce);
	free(wb->entries);
	free(wb->slot);
	wb->bounce = wb->entries = NULL;
	wb->slot = NULL;
	wb->fixed = false;
	wb->arena = NULL;
	wb->arena_len = 0;
	wb->head = wb->count = 0;
}

/* A descriptor of the same file with O_DIRECT, proven to work by a read. */
static int open_direct(struct image *im, uint8_t *probe)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "/proc/self/fd/%d", im->fd);
	fd = open(name, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Some filesystems accept O_DIRECT at open and refuse it per I/O. */
	if (pread(fd, probe, TAPE_IMAGE_BLOCK, 0) != TAPE_IMAGE_BLOCK) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int image_register_arena(struct tape *t, void *base, size_t len)
{
	struct image *im = IM(t);
	struct writebehind *wb = &im->wb;
	unsigned depth = wb->cfg.depth ? wb->cfg.depth : WB_DEFAULT_DEPTH;
	struct iovec iov[2];
	int err;

	wb_teardown(im);
	if (!base)
		return 0;
	if (t->readonly)
		return tape_fail(t, -EROFS, TAPE_SENSE_WRITE_PROTECT, 0);
	if (depth > WB_MAX_DEPTH)
		depth = WB_MAX_DEPTH;
	wb->slot = calloc(depth, sizeof(*wb->slot));
	wb->entries = malloc((size_t)depth * ENTRY_SIZE);
	wb->bounce = aligned_alloc(TAPE_IMAGE_BLOCK, (size_t)depth * TAPE_IMAGE_BLOCK);
	if (!wb->slot || !wb->entries || !wb->bounce) {
		wb_teardown(im);
		return tape_fail(t, -ENOMEM, TAPE_SENSE_HARDWARE, 0);
	}
	/* Two writes per record at most (body, tail): the ring never fills. */
	err = io_uring_queue_init(2 * depth, &wb->ring, 0);
	if (err < 0) {
		wb_teardown(im);
		return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
	}
	wb->ring_ready = true;
	wb->depth = depth;
	wb->arena = base;
	wb->arena_len = len;
	/* O_DIRECT refused (EINVAL: e.g. tmpfs before 6.6): buffered writes,
	 * still asynchronous through the ring. */
	if (!wb->cfg.buffered) {
		int fd = open_direct(im, wb->bounce);

		wb->dfd = fd >= 0 ? fd : -1;
	}
	memset(wb->bounce, 0, (size_t)depth * TAPE_IMAGE_BLOCK);
	/* Fixed buffers save pinning the pages at every write.  Refused
	 * (RLIMIT_MEMLOCK of an unprivileged user, ENOMEM): plain writes from
	 * the same memory, still asynchronous. */
	if (!wb->cfg.unregistered) {
		iov[0] = (struct iovec){ .iov_base = base, .iov_len = len };
		iov[1] = (struct iovec){ .iov_base = wb->bounce,
					 .iov_len = (size_t)depth * TAPE_IMAGE_BLOCK };
		wb->fixed = io_uring_register_buffers(&wb->ring, iov, 2) == 0;
	}
	for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++)
		wb->alloc_lo[i] = wb->alloc_hi[i] = wb->talloc_lo[i] = wb->talloc_hi[i] = 0;
	wb->no_fallocate = false;
	return 0;
}

static struct wb_slot *wb_at(struct writebehind *wb, unsigned i)
{
	return &wb->slot[(wb->head + i) % wb->depth];
}

/* Account one completed data write (user_data: slot index << 1 | tail). */
static void wb_complete(struct writebehind *wb, uint64_t ud, int res)
{
	struct wb_slot *s = &wb->slot[ud >> 1];
	int want = (ud & 1) ? (int)TAPE_IMAGE_BLOCK : (int)align_down(s->len);

	if (!s->err && res < 0)
		s->err = res;
	else if (!s->err && res != want)
		s->err = -EIO;	/* short write */
	if (s->pending)
		s->pending--;
}

static unsigned wb_harvest(struct writebehind *wb)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&wb->ring, head, cqe) {
		wb_complete(wb, cqe->user_data, cqe->res);
		seen++;
	}
	io_uring_cq_advance(&wb->ring, seen);
	return seen;
}

/* Block for at least one completion; -errno if the ring cannot wait. */
static int wb_wait_one(struct writebehind *wb)
{
	struct io_uring_cqe *cqe;
	int err;

	do
		err = io_uring_wait_cqe(&wb->ring, &cqe);
	while (err == -EINTR);
	if (err < 0)
		return err;
	wb_harvest(wb);
	return 0;
}

static unsigned wb_pending(struct writebehind *wb)
{
	unsigned p = 0;

	for (unsigned i = 0; i < wb->count; i++)
		p += wb_at(wb, i)->pending;
	return p;
}

/*
 * Record the deferred error of the oldest slot: nothing from it on is on
 * the medium.  Wait for the writes still in flight (their memory is the
 * caller's again once we return), then put position and EOD back where
 * the failed record was to go.
 */
static void wb_fail(struct image *im, struct wb_slot *s, int err)
{
	struct writebehind *wb = &im->wb;
	struct tape *t = &im->t;

	t->q.error = err;
	t->q.error_seq = s->qseq;
	t->q.error_sense = err == -EIO ? TAPE_SENSE_MEDIUM_ERROR : TAPE_SENSE_HARDWARE;
	while (wb_pending(wb) && wb_wait_one(wb) == 0)
		;
	truncate_at(&im->ps[s->part], s->n, s->off);
	im->cur_part = s->part;
	im->cur_block = s->n;
	wb->head = wb->count = 0;
}

/* Write the entries of the completed records at the head, in order. */
static void wb_retire(struct image *im)
{
	struct writebehind *wb = &im->wb;
	struct tape *t = &im->t;
	unsigned k = 0;

	while (wb->count && !t->q.error) {
		struct wb_slot *first = wb_at(wb, 0);
		int err = 0;

		/* a batch: consecutive completed records, consecutive entries */
		for (k = 0; k < wb->count; k++) {
			struct wb_slot *s = wb_at(wb, k);

			if (s->pending || s->err || s->part != first->part ||
			    s->n != first->n + k)
				break;
			struct entry e = {
				.seq = im->next_seq++,
				.data_off = s->off,
				.length = s->len,
				.type = ENTRY_RECORD,
				.data_crc = s->crc,
			};
			encode_entry(&im->h, s->part, &e, wb->entries + (size_t)k * ENTRY_SIZE);
		}
		if (k == 0) {
			if (!first->pending && first->err)
				wb_fail(im, first, first->err);
			return;
		}
		if (wb->dfd < 0)	/* buffered: start writeback as image_write() does */
			(void)sync_file_range(im->fd,
				(off64_t)(im->h.p[first->part].data_off + first->off),
				(off64_t)(wb_at(wb, k - 1)->off + wb_at(wb, k - 1)->len - first->off),
				SYNC_FILE_RANGE_WRITE);
		if (pwrite_full(im->fd, wb->entries, (size_t)k * ENTRY_SIZE,
				entry_pos(im, first->part, first->n)) != 0) {
			/* find the first entry that cannot be written */
			for (unsigned i = 0; i < k; i++) {
				err = pwrite_full(im->fd, wb->entries + (size_t)i * ENTRY_SIZE,
						  ENTRY_SIZE, entry_pos(im, first->part, first->n + i));
				if (err) {
					k = i;
					break;
				}
			}
		}
		for (unsigned i = 0; i < k; i++) {
			struct wb_slot *s = wb_at(wb, 0);

			t->q.retired = s->qseq;
			if (s->past_ew)
				t->q.early_warning = true;
			wb->head = (wb->head + 1) % wb->depth;
			wb->count--;
		}
		if (err) {
			wb_fail(im, wb_at(wb, 0), err);
			return;
		}
	}
}

static int image_reap(struct tape *t, uint64_t wait_for)
{
	struct image *im = IM(t);
	struct writebehind *wb = &im->wb;
	int err;

	if (!wb->ring_ready)
		return 0;
	for (;;) {
		wb_harvest(wb);
		wb_retire(im);
		if (t->q.error || !wb->count || t->q.retired >= wait_for)
			return 0;
		err = wb_wait_one(wb);
		if (err)
			return err;
	}
}

/*
 * Make sure [pos, pos + len) of the file is allocated, allocating up to
 * `step` bytes (at most to `end`) at a time; *lo, *hi is the window known
 * to be allocated.
 */
static int wb_alloc(struct writebehind *wb, int fd, uint64_t pos, uint64_t len,
		    uint64_t step, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	uint64_t stop = pos + (len > step ? len : step);

	if (wb->no_fallocate || (pos >= *lo && pos + len <= *hi))
		return 0;
	if (stop > end)
		stop = end;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)pos, (off_t)(stop - pos)) < 0) {
		int err = -errno;

		if (err == -EOPNOTSUPP || err == -ENOSYS) {
			wb->no_fallocate = true;
			return 0;
		}
		/* Maybe the host has room for this write but not the step. */
		stop = pos + len;
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)pos, (off_t)len) < 0)
			return -errno;
	}
	*lo = pos;
	*hi = stop;
	return 0;
}

/*
 * Allocate what record n at data-area offset off (len bytes in blocks)
 * will need: its data and the table block of its entry.  The table is
 * sparse like the data (a 32-byte entry written into a hole needs a
 * block of the host too), so it is preallocated the same way.
 */
static int wb_prealloc(struct image *im, uint32_t part, uint64_t n, uint64_t off,
		       uint64_t len)
{
	struct writebehind *wb = &im->wb;
	const struct hdr_part *hp = &im->h.p[part];
	uint64_t epos = align_down(entry_pos(im, part, n));
	int err;

	err = wb_alloc(wb, im->fd, hp->data_off + off, len, WB_ALLOC_STEP,
		       hp->data_off + hp->data_size, &wb->alloc_lo[part], &wb->alloc_hi[part]);
	if (!err)
		err = wb_alloc(wb, im->fd, epos, TAPE_IMAGE_BLOCK, WB_TABLE_ALLOC_STEP,
			       hp->table_off + table_bytes(hp->table_entries),
			       &wb->talloc_lo[part], &wb->talloc_hi[part]);
	return err;
}

/*
 * Hand the prepared writes of slot s to the kernel.  Transient refusals
 * (EAGAIN, EBUSY: the kernel is short of resources) are retried once an
 * earlier write has completed.  Returns 0 or the errno that stopped it.
 */
static int wb_submit(struct writebehind *wb, struct wb_slot *s)
{
	while (io_uring_sq_ready(&wb->ring)) {
		int rc = io_uring_submit(&wb->ring);

		if (rc == -EINTR || rc > 0)
			continue;
		if ((rc == 0 || rc == -EAGAIN || rc == -EBUSY) &&
		    wb_pending(wb) > s->pending && wb_wait_one(wb) == 0)
			continue;
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* Everything queued so far is retired (or the queue failed). */
static int wb_drain(struct image *im)
{
	struct tape *t = &im->t;
	int err = im->wb.count ? image_reap(t, t->q.queued) : 0;

	if (!err && !t->q.error && im->wb.count)
		err = -EIO;
	return t->q.error ? t->q.error : err;
}

static ssize_t image_write_queued(struct tape *t, const void *buf, size_t len)
{
	struct image *im = IM(t);
	struct writebehind *wb = &im->wb;
	uint32_t part = im->cur_part;
	struct part_state *ps = &im->ps[part];
	const struct hdr_part *hp = &im->h.p[part];
	const uint8_t *p = buf;
	uint64_t n = im->cur_block, off, end, pos;
	size_t body = align_down(len), tail = len - body;
	unsigned idx;
	struct wb_slot *s;
	struct io_uring_sqe *sqe;
	int fd, err;
	ssize_t r;

	if (!im->loaded)
		return not_ready(t);
	if (!wb->ring_ready || (uintptr_t)p % TAPE_IMAGE_BLOCK ||
	    p < wb->arena || len > wb->arena_len ||
	    (size_t)(p - wb->arena) > wb->arena_len - len) {
		/*
		 * Not from the arena (or not block-aligned): the data cannot
		 * go out O_DIRECT from where it is.  Written synchronously,
		 * after what is in flight; retired at once.
		 */
		err = wb_drain(im);
		if (err)
			return tape_fail(t, err, t->q.error ? t->q.error_sense : TAPE_SENSE_HARDWARE, 0);
		r = image_write(t, buf, len);
		if (r >= 0) {
			t->q.retired = t->q.queued + 1;	/* tape.c counts it next */
			if (t->last.sense == TAPE_SENSE_EARLY_WARNING)
				t->q.early_warning = true;
		}
		return r;
	}
	/* What completed meanwhile: a failure found now refuses this record. */
	wb_harvest(wb);
	wb_retire(im);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	/* A free slot: wait for the oldest record if all are in flight. */
	if (wb->count == wb->depth) {
		err = image_reap(t, t->q.retired + 1);
		if (t->q.error)
			return tape_fail(t, t->q.error, t->q.error_sense, 0);
		if (err)
			return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
	}
	if (n < ps->eod && wb->count) {
		/* cannot happen (every call but this one drains), but entries must
		 * stay in order: the tombstone below goes after what is in flight */
		err = wb_drain(im);
		if (err)
			return tape_fail(t, err, t->q.error ? t->q.error_sense : TAPE_SENSE_HARDWARE, 0);
	}
	err = object_data_off(im, part, n, &off);
	if (err)
		return medium_error(t, err);
	end = off + align_up(len);
	if (n >= hp->table_entries || end > hp->data_size)
		return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
	pos = hp->data_off + off;
	err = wb_prealloc(im, part, n, off, align_up(len));
	if (err)	/* the host filesystem is full: the cartridge is not, so no EOM */
		return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
	if (n < ps->eod) {
		struct entry e = { .seq = im->next_seq++, .data_off = off, .type = ENTRY_TOMBSTONE };

		err = write_entry(im, part, n, &e);
		if (err)
			return medium_error(t, err);
	}
	truncate_at(ps, n, off);

	idx = (wb->head + wb->count) % wb->depth;
	s = &wb->slot[idx];
	*s = (struct wb_slot){
		.qseq = t->q.queued + 1,
		.part = part,
		.n = n,
		.off = off,
		.len = (uint32_t)len,
		.crc = tape_crc32c(0, buf, len),
		.past_ew = past_early_warning(im, part, end),
	};
	fd = wb->dfd >= 0 ? wb->dfd : im->fd;
	/* (the ring has two entries per slot and is empty between records,
	 * so io_uring_get_sqe() cannot fail here) */
	if (body) {
		sqe = io_uring_get_sqe(&wb->ring);
		if (wb->fixed)
			io_uring_prep_write_fixed(sqe, fd, p, (unsigned)body, pos, 0);
		else
			io_uring_prep_write(sqe, fd, p, (unsigned)body, pos);
		io_uring_sqe_set_data64(sqe, (uint64_t)idx << 1);
		s->pending++;
	}
	if (tail) {
		uint8_t *page = wb->bounce + (size_t)idx * TAPE_IMAGE_BLOCK;

		memcpy(page, p + body, tail);
		memset(page + tail, 0, TAPE_IMAGE_BLOCK - tail);
		sqe = io_uring_get_sqe(&wb->ring);
		if (wb->fixed)
			io_uring_prep_write_fixed(sqe, fd, page, TAPE_IMAGE_BLOCK, pos + body, 1);
		else
			io_uring_prep_write(sqe, fd, page, TAPE_IMAGE_BLOCK, pos + body);
		io_uring_sqe_set_data64(sqe, (uint64_t)idx << 1 | 1);
		s->pending++;
	}
	wb->count++;
	ps->eod = n + 1;
	ps->data_end = end;
	im->cur_block = n + 1;
	if (s->past_ew)
		t->last.sense = TAPE_SENSE_EARLY_WARNING;
	err = wb_submit(wb, s);
	if (err) {
		/*
		 * The kernel did not take this record's writes: it becomes
		 * the deferred error, as if it had failed in flight (so it
		 * is counted as queued and the error has its number).  The
		 * queue stops there; nothing submits the leftovers.
		 */
		s->pending = 0;
		s->err = err;
	}
	wb_harvest(wb);
	wb_retire(im);
	return (ssize_t)len;
}

#define FM_BATCH 256u

static int image_write_filemarks(struct tape *t, unsigned count)
{
	struct image *im = IM(t);
	uint32_t part = im->cur_part;
	struct part_state *ps = &im->ps[part];
	uint64_t n = im->cur_block, off;
	uint8_t b[FM_BATCH * ENTRY_SIZE];
	int err;

	if (!im->loaded)
		return not_ready(t);
	if (count == 0)
		goto sync;
	if (n + count > im->h.p[part].table_entries)
		return tape_fail(t, -ENOSPC, TAPE_SENSE_EOM, 0);
	err = object_data_off(im, part, n, &off);
	if (err)
		return medium_error(t, err);
	truncate_at(ps, n, off);
	/* Each entry is written whole and in order, so any prefix of them that
	 * reaches the disk is a consistent tape. */
	for (unsigned done = 0; done < count;) {
		unsigned k = count - done > FM_BATCH ? FM_BATCH : count - done;
		for (unsigned i = 0; i < k; i++) {
			struct entry e = { .seq = im->next_seq++, .data_off = off, .type = ENTRY_FILEMARK };
			encode_entry(&im->h, part, &e, b + i * ENTRY_SIZE);
		}
		err = pwrite_full(im->fd, b, (size_t)k * ENTRY_SIZE, entry_pos(im, part, n + done));
		if (err)
			return medium_error(t, err);
		for (unsigned i = 0; i < k; i++) {
			err = fm_push(ps, n + done + i);
			if (err)
				return tape_fail(t, err, TAPE_SENSE_HARDWARE, 0);
			ps->eod = n + done + i + 1;
		}
		done += k;
		im->cur_block = n + done;
	}
sync:
	err = sync_fd(im->fd);
	if (err)
		return medium_error(t, err);
	if (count && past_early_warning(im, part, ps->data_end))
		t->last.sense = TAPE_SENSE_EARLY_WARNING;
	return 0;
}

static int image_locate(struct tape *t, uint32_t partition, uint64_t block)
{
	struct image *im = IM(t);

	if (!im->loaded)
		return not_ready(t);
	if (partition >= im->h.partitions)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	im->cur_part = partition;
	if (block > im->ps[partition].eod) {
		im->cur_block = im->ps[partition].eod;
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, 0);
	}
	im->cur_block = block;
	return 0;
}

static int image_read_position(struct tape *t, struct tape_position *pos)
{
	struct image *im = IM(t);

	if (!im->loaded)
		return not_ready(t);
	pos->partition = im->cur_part;
	pos->block = im->cur_block;
	return 0;
}

static int space_records(struct tape *t, struct image *im, uint64_t count, bool forward)
{
	struct part_state *ps = &im->ps[im->cur_part];
	uint64_t p = im->cur_block;
	size_t i = fm_lower_bound(ps, p);

	if (forward) {
		/* Next stop: the first filemark at or after p, or EOD. */
		uint64_t stop = i < ps->nfm ? ps->fm[i] : ps->eod;
		if (count <= stop - p) {
			im->cur_block = p + count;
			return 0;
		}
		if (i < ps->nfm) {
			im->cur_block = stop + 1;
			return tape_fail(t, -EIO, TAPE_SENSE_FILEMARK, count - (stop - p));
		}
		im->cur_block = ps->eod;
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, count - (stop - p));
	}
	/* Backward: records between the previous filemark (or BOT) and p. */
	uint64_t first = i > 0 ? ps->fm[i - 1] + 1 : 0;
	if (count <= p - first) {
		im->cur_block = p - count;
		return 0;
	}
	if (i > 0) {
		im->cur_block = ps->fm[i - 1];	/* on the BOT side of the filemark */
		return tape_fail(t, -EIO, TAPE_SENSE_FILEMARK, count - (p - first));
	}
	im->cur_block = 0;
	return tape_fail(t, -EIO, TAPE_SENSE_BOT, count - p);
}

static int space_filemarks(struct tape *t, struct image *im, uint64_t count, bool forward)
{
	struct part_state *ps = &im->ps[im->cur_part];
	size_t i = fm_lower_bound(ps, im->cur_block);

	if (forward) {
		uint64_t avail = ps->nfm - i;
		if (count <= avail) {
			im->cur_block = ps->fm[i + count - 1] + 1;
			return 0;
		}
		im->cur_block = ps->eod;
		return tape_fail(t, -ENODATA, TAPE_SENSE_EOD, count - avail);
	}
	if (count <= i) {
		im->cur_block = ps->fm[i - count];
		return 0;
	}
	im->cur_block = 0;
	return tape_fail(t, -EIO, TAPE_SENSE_BOT, count - i);
}

static int image_space(struct tape *t, enum tape_space_kind kind, int64_t count)
{
	struct image *im = IM(t);
	bool forward = count > 0;
	uint64_t n = forward ? (uint64_t)count : -(uint64_t)count;

	if (!im->loaded)
		return not_ready(t);
	if (kind == TAPE_SPACE_EOD) {
		im->cur_block = im->ps[im->cur_part].eod;
		return 0;
	}
	if (count == 0)
		return 0;
	if (kind == TAPE_SPACE_RECORDS)
		return space_records(t, im, n, forward);
	return space_filemarks(t, im, n, forward);
}

static int image_rewind(struct tape *t)
{
	struct image *im = IM(t);

	if (!im->loaded)
		return not_ready(t);
	im->cur_part = 0;
	im->cur_block = 0;
	return 0;
}

static int image_load(struct tape *t)
{
	struct image *im = IM(t);

	im->loaded = true;
	im->cur_part = 0;
	im->cur_block = 0;
	return 0;
}

static int image_unload(struct tape *t)
{
	struct image *im = IM(t);
	int err = 0;

	if (!im->loaded)
		return not_ready(t);
	if (!t->readonly)
		err = sync_fd(im->fd);
	im->loaded = false;
	im->cur_part = 0;
	im->cur_block = 0;
	return err ? medium_error(t, err) : 0;
}

static int image_medium_info(struct tape *t, struct tape_medium *m)
{
	struct image *im = IM(t);

	if (!im->loaded)
		return not_ready(t);
	m->partitions = im->h.partitions;
	m->write_protected = t->readonly;
	m->early_warning = im->early_warning;
	for (unsigned i = 0; i < im->h.partitions; i++) {
		m->capacity[i] = im->h.p[i].data_size;
		m->remaining[i] = im->h.p[i].data_size - im->ps[i].data_end;
	}
	return 0;
}

static int image_format(struct tape *t, unsigned nparts, const uint64_t *sizes)
{
	struct image *im = IM(t);
	struct hdr h = im->h;
	uint64_t end;
	int err;

	if (!im->loaded)
		return not_ready(t);
	err = compute_layout(&h, nparts, sizes, NULL, 0);
	if (err)
		return tape_fail(t, err, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	end = layout_end(&h);
	if (end > im->file_size) {
		if (ftruncate(im->fd, (off_t)end) < 0)
			return medium_error(t, -errno);
		im->file_size = end;
	}
	h.generation++;
	/* A new salt makes every entry of the old layout invalid at once;
	 * base_seq does the same for the rare entry that would match anyway. */
	if (getrandom(&h.salt, sizeof(h.salt), 0) != sizeof(h.salt))
		h.salt = im->h.salt * 2654435761u + 1;
	h.base_seq = im->next_seq++;
	err = write_header(im->fd, &h);
	if (err)
		return medium_error(t, err);
	im->h = h;
	if (!im->early_warning_set)
		im->early_warning = effective_early_warning(&h);
	/* Erase: give the old data back to the host filesystem (best effort). */
	(void)fallocate(im->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)LAYOUT_START, (off_t)(im->file_size - LAYOUT_START));
	for (unsigned i = 0; i < TAPE_MAX_PARTITIONS; i++) {
		truncate_at(&im->ps[i], 0, 0);
		/* punched */
		im->wb.alloc_lo[i] = im->wb.alloc_hi[i] = 0;
		im->wb.talloc_lo[i] = im->wb.talloc_hi[i] = 0;
	}
	im->cur_part = 0;
	im->cur_block = 0;
	return 0;
}

static int image_set_early_warning(struct tape *t, uint64_t bytes)
{
	IM(t)->early_warning = bytes;
	IM(t)->early_warning_set = true;
	return 0;
}

static struct mam_attr *find_attr(struct image *im, uint32_t part, uint16_t id)
{
	for (size_t i = 0; i < im->nattrs; i++)
		if (im->attrs[i].partition == part && im->attrs[i].a.id == id)
			return &im->attrs[i];
	return NULL;
}

static int image_get_attr(struct tape *t, uint32_t partition, uint16_t id,
			  struct tape_attr *attr)
{
	struct image *im = IM(t);
	struct mam_attr *a;

	if (!im->loaded)
		return not_ready(t);
	if (partition >= im->h.partitions)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	a = find_attr(im, partition, id);
	if (!a)
		return tape_fail(t, -ENOENT, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	*attr = a->a;
	return 0;
}

/* Writing an attribute with length 0 deletes it (as in SSC WRITE ATTRIBUTE). */
static int image_set_attr(struct tape *t, uint32_t partition, const struct tape_attr *attr)
{
	struct image *im = IM(t);
	struct mam_attr *list, *a;
	size_t n = im->nattrs;
	int err;

	if (!im->loaded)
		return not_ready(t);
	if (partition >= im->h.partitions || attr->format > TAPE_ATTR_TEXT)
		return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
	list = malloc((n + 1) * sizeof(*list));
	if (!list)
		return tape_fail(t, -ENOMEM, TAPE_SENSE_HARDWARE, 0);
	memcpy(list, im->attrs, n * sizeof(*list));
	a = NULL;
	for (size_t i = 0; i < n; i++)
		if (list[i].partition == partition && list[i].a.id == attr->id)
			a = &list[i];
	if (attr->length == 0) {
		if (a) {
			*a = list[n - 1];
			n--;
		}
	} else {
		if (!a) {
			a = &list[n++];
			memset(a, 0, sizeof(*a));
		}
		a->partition = (uint8_t)partition;
		a->a.id = attr->id;
		a->a.format = attr->format;
		a->a.length = attr->length;
		memset(a->a.value, 0, sizeof(a->a.value));
		memcpy(a->a.value, attr->value, attr->length);
	}
	err = mam_store(im, list, n);
	if (err) {
		free(list);
		if (err == -ENOSPC)
			return tape_fail(t, -ENOSPC, TAPE_SENSE_ILLEGAL_REQUEST, 0);
		return medium_error(t, err);
	}
	free(im->attrs);
	im->attrs = list;
	im->nattrs = n;
	return 0;
}

static const struct tape_ops image_ops = {
	.name = "image",
	.close = image_close,
	.read = image_read,
	.write = image_write,
	.register_arena = image_register_arena,
	.write_queued = image_write_queued,
	.reap = image_reap,
	.write_filemarks = image_write_filemarks,
	.locate = image_locate,
	.read_position = image_read_position,
	.space = image_space,
	.rewind = image_rewind,
	.load = image_load,
	.unload = image_unload,
	.medium_info = image_medium_info,
	.format = image_format,
	.set_early_warning = image_set_early_warning,
	.get_attr = image_get_attr,
	.set_attr = image_set_attr,
};

/* ---- image-only extras --------------------------------------------------- */

int tape_image_set_queue_config(struct tape *t, const struct tape_image_queue_config *cfg)
{
	if (!tape_is_image(t) || !cfg || cfg->depth > WB_MAX_DEPTH)
		return -EINVAL;
	IM(t)->wb.cfg = *cfg;
	return 0;
}

int tape_image_set_verify_window(struct tape *t, size_t bytes)
{
	if (!tape_is_image(t) || bytes % TAPE_IMAGE_BLOCK)
		return -EINVAL;
	window_drop(IM(t));
	IM(t)->vw.size = bytes;
	return 0;
}

int tape_image_get_verify_window(struct tape *t, struct tape_image_window_info *wi)
{
	const struct verify_window *w;

	if (!tape_is_image(t) || !wi)
		return -EINVAL;
	w = &IM(t)->vw;
	*wi = (struct tape_image_window_info){
		.mapped = w->base != NULL,
		.start = w->start,
		.len = w->len,
		.maps = w->maps,
	};
	return 0;
}

int tape_image_get_queue_info(struct tape *t, struct tape_image_queue_info *qi)
{
	struct writebehind *wb;

	if (!tape_is_image(t) || !qi)
		return -EINVAL;
	wb = &IM(t)->wb;
	*qi = (struct tape_image_queue_info){
		.active = wb->ring_ready,
		.direct = wb->ring_ready && wb->dfd >= 0,
		.fixed = wb->fixed,
		.depth = wb->ring_ready ? wb->depth : 0,
		.in_flight = wb->count,
	};
	return 0;
}

int tape_image_get_info(struct tape *t, struct tape_image_info *info)
{
	struct image *im;

	if (!tape_is_image(t) || !info)
		return -EINVAL;
	tape_drain(t);	/* describe the tape as the rest of the API sees it */
	im = IM(t);
	memset(info, 0, sizeof(*info));
	info->version = im->h.version;
	uuid_unparse_lower(im->h.uuid, info->uuid);
	info->capacity = im->h.capacity;
	info->early_warning = effective_early_warning(&im->h);
	info->early_warning_auto = im->h.early_warning == 0;
	info->max_record = im->h.max_record;
	info->write_protected = im->medium_protected;
	snprintf(info->barcode, sizeof(info->barcode), "%s", im->h.barcode);
	info->file_size = im->file_size;
	info->format_generation = im->h.generation;
	info->partitions = im->h.partitions;
	for (unsigned i = 0; i < im->h.partitions; i++) {
		info->part[i].capacity = im->h.p[i].data_size;
		info->part[i].used = im->ps[i].data_end;
		info->part[i].eod = im->ps[i].eod;
		info->part[i].filemarks = im->ps[i].nfm;
		info->part[i].records = im->ps[i].eod - im->ps[i].nfm;
		info->part[i].table_entries = im->h.p[i].table_entries;
	}
	return 0;
}

int tape_image_list_attrs(struct tape *t, uint32_t partition,
			  struct tape_attr *out, unsigned max)
{
	struct image *im;
	unsigned n = 0;

	if (!tape_is_image(t) || (!out && max))
		return -EINVAL;
	im = IM(t);
	if (partition >= im->h.partitions)
		return -EINVAL;
	for (size_t i = 0; i < im->nattrs; i++) {
		if (im->attrs[i].partition != partition)
			continue;
		if (n < max)
			out[n] = im->attrs[i].a;
		n++;
	}
	return (int)n;
}

int tape_image_record_extent(struct tape *t, uint32_t partition,
			     uint64_t block, int *fd, uint64_t *offset,
			     uint32_t *length, uint32_t *crc32c)
{
	struct image *im;
	struct entry e;
	int err;

	if (!tape_is_image(t) || !fd || !offset || !length || !crc32c)
		return -EINVAL;
	im = IM(t);
	/* a queued record has no entry yet: never hand out its range early */
	tape_drain(t);
	if (partition >= im->h.partitions)
		return -EINVAL;
	if (block >= im->ps[partition].eod)
		return -ENODATA;
	err = read_entry(im, partition, block, &e);
	if (err)
		return -EIO;
	if (e.type == ENTRY_FILEMARK)
		return -ENOMSG;
	*fd = im->fd;
	*offset = im->h.p[partition].data_off + e.data_off;
	*length = e.length;
	*crc32c = e.data_crc;
	return 0;
}

int tape_image_verify_record(struct tape *t, uint32_t partition, uint64_t block)
{
	uint64_t pos;
	uint32_t len, want, crc;
	int fd, err;

	err = tape_image_record_extent(t, partition, block, &fd, &pos, &len, &want);
	if (err)
		return err;
	err = crc_in_place(IM(t), pos, len, &crc);
	if (err)
		return -EIO;
	return crc == want ? 0 : -EIO;
}
