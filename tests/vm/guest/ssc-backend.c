// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ssc-backend.c - the tapedma backend (lib/tape/tape_tapedma.c) through the
 * tape.h API against the emulated drive (tgt): records and filemarks come
 * back byte for byte, filemark / end-of-data / record-length conditions
 * are reported as tape.h says, and the positioning that tgt cannot do
 * (LOCATE, READ POSITION) is emulated exactly, also by a fresh handle that
 * knows nothing of the tape yet.
 *
 * Runs on /dev/tapedma0 ($FUSETAPE_TAPEDMA) when the module is loaded,
 * otherwise on the drive's SCSI generic node through SG_IO (same SSC code,
 * other pass-through), so it is useful before the module exists.
 *
 * Needs from the library: tape.c, tape_image.c (linked by tape_open),
 * ssc.c, tape_tapedma.c -- all in libfusetape.a, which the rig links.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "tape/tape.h"
#include "tape/tape_backend.h"
#include "tapedma.h"

#define MiB (1u << 20)

static const char *dev;
static int using_tapedma;

/* Record i of the test layout: deterministic content from a seed. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static int same(const uint8_t *p, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len ? len : 1);
	int ok;

	if (!want)
		return 0;
	fill(want, len, seed);
	ok = memcmp(p, want, len) == 0;
	free(want);
	return ok;
}

/* The layout written first: sizes, 0 = filemark. */
static const uint32_t layout[] = {
	100000, 4096, 4, 262144, 0, MiB, 524292, 0, 0, 8,
};
#define NOBJ (sizeof(layout) / sizeof(layout[0]))
#define EOD_POS NOBJ

static struct tape *open_tape(void)
{
	char err[256] = "";
	struct tape *t = NULL;
	int rc;

	if (using_tapedma)
		rc = tape_open(dev, 0, &t, err, sizeof(err));
	else
		rc = tape_tapedma_open(dev, 0, &t, err, sizeof(err));
	if (rc < 0)
		printf("# open %s: %d %s\n", dev, rc, err);
	return t;
}

static uint64_t where(struct tape *t)
{
	struct tape_position p = { 99, 999999 };

	if (tape_read_position(t, &p) < 0)
		return UINT64_MAX;
	return p.partition == 0 ? p.block : UINT64_MAX - 1;
}

/* Read the object at the position and check it is layout[i]. */
static void expect_object(struct tape *t, uint8_t *buf, size_t len, unsigned i,
			  const char *what)
{
	ssize_t n = tape_read(t, buf, len);

	if (i >= NOBJ) {
		CHECK(n == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD,
		      "%s: end of data (got %zd, sense %s)", what, n,
		      tape_sense_name(tape_last(t)->sense));
	} else if (layout[i] == 0) {
		CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK,
		      "%s: filemark %u (got %zd, sense %s)", what, i, n,
		      tape_sense_name(tape_last(t)->sense));
	} else {
		CHECK(n == (ssize_t)layout[i] && same(buf, layout[i], i),
		      "%s: record %u, %u bytes, content (got %zd, sense %s)", what, i,
		      layout[i], n, tape_sense_name(tape_last(t)->sense));
	}
}

static void space_case(struct tape *t, uint64_t from, enum tape_space_kind kind,
		       int64_t count, int want_rc, enum tape_sense want_sense,
		       uint64_t want_residual, uint64_t want_pos, const char *what)
{
	int rc = tape_locate(t, 0, from);
	struct tape_status st;
	uint64_t pos;

	if (rc < 0) {
		CHECK(0, "%s: locate %llu failed: %d", what, (unsigned long long)from, rc);
		return;
	}
	rc = tape_space(t, kind, count);
	st = *tape_last(t);	/* before where(), which starts a new call */
	pos = where(t);
	CHECK(rc == want_rc && st.sense == want_sense && st.residual == want_residual &&
	      pos == want_pos, "%s: rc %d sense %s residual %llu pos %llu", what, rc,
	      tape_sense_name(st.sense), (unsigned long long)st.residual,
	      (unsigned long long)pos);
	if (rc == 0)
		CHECK(st.sense_key == 0 && st.asc == 0 && st.ascq == 0,
		      "%s: a clean success reports no sense", what);
}

static int read_stats(struct tapedma_stats *s)
{
	int fd, rc;

	if (!using_tapedma)
		return -1;
	fd = open(dev, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	rc = ioctl(fd, TAPEDMA_IOC_STATS, s);
	close(fd);
	return rc;
}

/* Block size the drive reports to st (0: variable), or -1. */
static long st_block_size(long set)
{
	struct mtop op = { MTSETBLK, (int)set };
	struct mtget g;
	int fd = open("/dev/nst0", O_RDONLY | O_NONBLOCK);
	long bs = -1;

	if (fd < 0)
		return -1;
	if (set >= 0 && ioctl(fd, MTIOCTOP, &op) < 0)
		set = -2;
	if (ioctl(fd, MTIOCGET, &g) == 0)
		bs = (long)((g.mt_dsreg & MT_ST_BLKSIZE_MASK) >> MT_ST_BLKSIZE_SHIFT);
	close(fd);
	return set == -2 ? -1 : bs;
}

/* The SCSI generic node of the first tape drive. */
static const char *find_sg(void)
{
	static char path[300];
	DIR *dir = opendir("/sys/class/scsi_tape");
	struct dirent *e;

	/* /sys/class/scsi_tape/nst0/device/scsi_generic/sgN */
	if (dir) {
		while ((e = readdir(dir))) {
			char p[300];
			DIR *g;
			struct dirent *ge;

			if (strncmp(e->d_name, "st", 2) != 0)
				continue;
			snprintf(p, sizeof(p), "/sys/class/scsi_tape/%s/device/scsi_generic",
				 e->d_name);
			g = opendir(p);
			if (!g)
				continue;
			while ((ge = readdir(g))) {
				if (strncmp(ge->d_name, "sg", 2) == 0) {
					snprintf(path, sizeof(path), "/dev/%s", ge->d_name);
					closedir(g);
					closedir(dir);
					return path;
				}
			}
			closedir(g);
		}
		closedir(dir);
	}
	return "/dev/sg0";
}

/* The whole test on one device; returns early only when it cannot go on. */
static void run_on(void)
{
	const size_t big = 4 * MiB;
	const struct tape_caps *caps;
	const struct tape_identity *id;
	struct tape_medium med;
	struct tape_attr attr;
	struct tapedma_stats s0, s1;
	struct timespec t0, t1;
	uint64_t sizes[1] = { 0 };
	uint8_t *buf, *small, *unal_mem;
	struct tape *t;
	unsigned i;
	ssize_t n;
	int rc, is_tgt;

	printf("# device %s (%s)\n", dev, using_tapedma ? "tapedma.ko" : "SG_IO fallback");
	if (posix_memalign((void **)&buf, 4096, big) || !(small = malloc(8192)) ||
	    !(unal_mem = malloc(MiB + 16))) {
		CHECK(0, "memory");
		return;
	}

	/* leave the drive in fixed-block mode, as "mt setblk 512" would */
	CHECK_EQ(st_block_size(512), 512, "st sets 512-byte fixed blocks");
	t = open_tape();
	CHECK(t != NULL, "open %s", dev);
	if (!t)
		goto out;
	CHECK(strcmp(tape_backend_name(t), "tapedma") == 0, "backend is tapedma");
	tape_close(t);
	CHECK_EQ(st_block_size(-1), 0, "open switched the drive to variable blocks");
	t = open_tape();
	CHECK(t != NULL, "reopen");
	if (!t)
		goto out;
	id = tape_identity(t);
	caps = tape_caps(t);
	printf("# drive '%s' '%s' '%s' serial '%s'\n", id->vendor, id->product,
	       id->revision, id->serial);
	printf("# caps: record %u..%u, partitions %u, locate %d, read_position %d, mam %d, "
	       "format %d, early warning %d\n", caps->min_record, caps->max_record,
	       caps->max_partitions, caps->can_locate, caps->can_read_position,
	       caps->has_mam, caps->can_format, caps->can_set_early_warning);
	is_tgt = strcmp(id->vendor, "IET") == 0;
	if (is_tgt) {
		CHECK(caps->max_record == MiB && caps->min_record == 4,
		      "tgt: records 4 B .. 1 MiB as READ BLOCK LIMITS says");
		CHECK(!caps->can_locate && !caps->can_read_position,
		      "tgt: no LOCATE, no usable READ POSITION: positions are tracked");
		CHECK(caps->max_partitions == 1 && !caps->has_mam && !caps->can_format,
		      "tgt: one partition, no MAM, no FORMAT");
	}
	CHECK_EQ(where(t), 0, "open leaves the tape at block 0");

	/* ---- write the layout and read it back ---- */
	for (i = 0; i < NOBJ; i++) {
		if (layout[i] == 0) {
			rc = tape_write_filemarks(t, 1);
			if (rc < 0)
				break;
			continue;
		}
		fill(buf, layout[i], i);
		n = tape_write(t, buf, layout[i]);
		if (n != (ssize_t)layout[i]) {
			rc = (int)n;
			break;
		}
	}
	CHECK(i == NOBJ, "wrote %u records and filemarks (stopped at %u: %d %s)",
	      (unsigned)NOBJ, i, i == NOBJ ? 0 : rc, tape_sense_name(tape_last(t)->sense));
	CHECK_EQ(where(t), EOD_POS, "position after writing is the object count");
	CHECK_EQ(tape_flush(t), 0, "flush");

	CHECK_EQ(tape_rewind(t), 0, "rewind");
	CHECK_EQ(where(t), 0, "rewind: block 0");
	for (i = 0; i <= NOBJ; i++)
		expect_object(t, buf, big, i, "sequential read, aligned 4 MiB buffer");
	CHECK_EQ(where(t), EOD_POS, "read at end of data keeps the position");
	n = tape_read(t, buf, big);
	CHECK(n == -ENODATA, "second read at end of data still ENODATA (no phantom record): %zd", n);

	/* buffers that must not go to the drive as they are */
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	n = tape_read(t, small + 1, 4096);
	CHECK(n == -EOVERFLOW && tape_last(t)->sense == TAPE_SENSE_RECORD_LENGTH &&
	      tape_last(t)->residual == 100000,
	      "4 KiB unaligned buffer, 100000-byte record: EOVERFLOW, residual %llu",
	      (unsigned long long)tape_last(t)->residual);
	fill(buf, 100000, 0);
	CHECK(memcmp(small + 1, buf, 4096) == 0, "... and the first 4096 bytes are the record's");
	CHECK_EQ(where(t), 1, "... and the record was passed");
	n = tape_read(t, unal_mem + 3, 4096);
	CHECK(n == 4096 && same(unal_mem + 3, 4096, 1), "exact-size unaligned buffer: record 1");
	n = tape_read(t, small, 3);
	CHECK(n == -EOVERFLOW && tape_last(t)->residual == 4 && same(small, 3, 2),
	      "3-byte buffer, 4-byte record: EOVERFLOW, 3 bytes");
	n = tape_read(t, unal_mem + 1, 262144 + 100000);
	CHECK(n == 262144 && same(unal_mem + 1, 262144, 3),
	      "buffer between B and 2B (tgt's data-loss zone): whole record");
	n = tape_read(t, NULL, 0);
	CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK, "read into nothing at a filemark");
	n = tape_read(t, buf, MiB);
	CHECK(n == MiB && same(buf, MiB, 5), "1 MiB record into exactly 1 MiB");
	/*
	 * The data-loss zone again, with a buffer tapedma.ko can map: the
	 * backend must find out that this drive has the bug (the first read
	 * calibrates; the second one trusts the verdict).
	 */
	for (i = 0; i < 2; i++) {
		rc = tape_locate(t, 0, 3);
		memset(buf, 0, 262144 + 100000);
		n = tape_read(t, buf, 262144 + 100000);
		CHECK(rc == 0 && n == 262144 && same(buf, 262144, 3),
		      "aligned buffer between B and 2B, read %u: whole record (%zd)", i + 1, n);
	}

	/* ---- emulated locate ---- */
	{
		static const unsigned order[] = { 9, 0, 6, 5, 3, 8, 4, 1, 7, 2, 10 };

		for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			rc = tape_locate(t, 0, order[i]);
			CHECK(rc == 0 && where(t) == order[i], "locate %u (rc %d, pos %llu)",
			      order[i], rc, (unsigned long long)where(t));
			expect_object(t, buf, big, order[i], "read after locate");
		}
	}
	rc = tape_locate(t, 0, EOD_POS + 5);
	CHECK(rc == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD && where(t) == EOD_POS,
	      "locate past EOD: ENODATA, at EOD (rc %d, pos %llu)", rc,
	      (unsigned long long)where(t));
	rc = tape_locate(t, 1, 0);
	CHECK(rc == -EINVAL && tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST,
	      "locate in partition 1 of a 1-partition tape: EINVAL");

	/* ---- space, as tape.h defines it ---- */
	space_case(t, 0, TAPE_SPACE_RECORDS, 2, 0, TAPE_SENSE_NONE, 0, 2, "space 2 records");
	space_case(t, 0, TAPE_SPACE_RECORDS, 6, -EIO, TAPE_SENSE_FILEMARK, 2, 5,
		   "space 6 records from 0 stops past the filemark at 4");
	space_case(t, 9, TAPE_SPACE_RECORDS, 3, -ENODATA, TAPE_SENSE_EOD, 2, EOD_POS,
		   "space 3 records from 9 ends at EOD");
	space_case(t, 6, TAPE_SPACE_RECORDS, -3, -EIO, TAPE_SENSE_FILEMARK, 2, 4,
		   "space -3 records from 6 stops before the filemark at 4");
	space_case(t, 3, TAPE_SPACE_RECORDS, -5, -EIO, TAPE_SENSE_BOT, 2, 0,
		   "space -5 records from 3 stops at BOT");
	space_case(t, 3, TAPE_SPACE_RECORDS, -3, 0, TAPE_SENSE_NONE, 0, 0,
		   "space -3 records from 3 reaches 0 exactly");
	space_case(t, 0, TAPE_SPACE_FILEMARKS, 2, 0, TAPE_SENSE_NONE, 0, 8,
		   "space 2 filemarks from 0: past the filemark at 7");
	space_case(t, 9, TAPE_SPACE_FILEMARKS, -2, 0, TAPE_SENSE_NONE, 0, 7,
		   "space -2 filemarks from 9: before the filemark at 7");
	space_case(t, 6, TAPE_SPACE_FILEMARKS, -2, -EIO, TAPE_SENSE_BOT, 1, 0,
		   "space -2 filemarks from 6: one there, then BOT");
	space_case(t, 0, TAPE_SPACE_FILEMARKS, 5, -ENODATA, TAPE_SENSE_EOD, 2, EOD_POS,
		   "space 5 filemarks from 0: 3 there, then EOD");
	space_case(t, 2, TAPE_SPACE_EOD, 0, 0, TAPE_SENSE_NONE, 0, EOD_POS, "space to EOD");
	tape_close(t);

	/* ---- a fresh handle knows nothing: EOD search, map by scanning ---- */
	t = open_tape();
	CHECK(t != NULL, "reopen");
	if (!t)
		goto out;
	rc = tape_space(t, TAPE_SPACE_EOD, 0);
	CHECK(rc == 0 && where(t) == EOD_POS, "fresh handle: space to EOD finds block %u (rc %d, pos %llu)",
	      (unsigned)EOD_POS, rc, (unsigned long long)where(t));
	rc = tape_space(t, TAPE_SPACE_FILEMARKS, -1);
	CHECK(rc == 0 && where(t) == 8, "fresh handle: space -1 filemark from EOD: 8 (rc %d, pos %llu)",
	      rc, (unsigned long long)where(t));
	expect_object(t, buf, big, 8, "read the last filemark");
	expect_object(t, buf, big, 9, "read the last record");
	tape_close(t);
	t = open_tape();
	CHECK(t != NULL, "reopen");
	if (!t)
		goto out;
	rc = tape_locate(t, 0, 7);
	CHECK(rc == 0 && where(t) == 7, "fresh handle: locate 7");
	expect_object(t, buf, big, 7, "fresh handle: read at 7");
	rc = tape_locate(t, 0, 100);
	CHECK(rc == -ENODATA && where(t) == EOD_POS,
	      "fresh handle: locate 100: ENODATA at EOD (rc %d, pos %llu)", rc,
	      (unsigned long long)where(t));
	rc = tape_locate(t, 0, EOD_POS);
	CHECK(rc == 0 && where(t) == EOD_POS, "locate exactly EOD: success");

	/* ---- overwriting truncates ---- */
	rc = tape_locate(t, 0, 5);
	fill(buf, 2000, 77);
	n = tape_write(t, buf, 2000);
	CHECK(rc == 0 && n == 2000 && where(t) == 6, "overwrite at 5 with a 2000-byte record");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "filemark after it");
	CHECK_EQ(tape_space(t, TAPE_SPACE_EOD, 0), 0, "space to EOD");
	CHECK_EQ(where(t), 7, "EOD is now 7");
	rc = tape_locate(t, 0, 5);
	n = tape_read(t, buf, big);
	CHECK(rc == 0 && n == 2000 && same(buf, 2000, 77), "the new record reads back");
	n = tape_read(t, buf, big);
	CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK, "then the new filemark");
	n = tape_read(t, buf, big);
	CHECK(n == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD,
	      "then end of data, not the old records (%zd)", n);
	rc = tape_locate(t, 0, 8);
	CHECK(rc == -ENODATA && where(t) == 7, "locate to a truncated block: ENODATA");
	tape_close(t);
	t = open_tape();
	CHECK(t != NULL, "reopen");
	if (!t)
		goto out;
	CHECK(tape_space(t, TAPE_SPACE_EOD, 0) == 0 && where(t) == 7,
	      "fresh handle sees EOD 7 (pos %llu)", (unsigned long long)where(t));
	space_case(t, 7, TAPE_SPACE_RECORDS, -2, -EIO, TAPE_SENSE_FILEMARK, 2, 6,
		   "fresh map: space -2 records from EOD meets the new filemark at 6");
	space_case(t, 0, TAPE_SPACE_FILEMARKS, 1, 0, TAPE_SENSE_NONE, 0, 5,
		   "space 1 filemark from 0");

	/* ---- odd buffers and lengths for writes ---- */
	CHECK_EQ(tape_locate(t, 0, 7), 0, "locate EOD");
	fill(unal_mem + 1, 8192, 88);
	n = tape_write(t, unal_mem + 1, 8192);
	CHECK(n == 8192, "write from an unaligned address (%zd)", n);
	fill(small, 5, 89);
	n = tape_write(t, small, 5);
	if (using_tapedma && n == -EINVAL) {
		CHECK(tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST && where(t) == 8,
		      "5-byte record refused by the DMA path, position kept");
		printf("# tapedma refuses record lengths that are not DMA-aligned\n");
	} else {
		CHECK(n == 5 && where(t) == 9, "write a 5-byte record (%zd)", n);
		rc = tape_locate(t, 0, 8);
		n = tape_read(t, buf, big);
		CHECK(rc == 0 && n == 5 && same(buf, 5, 89), "5-byte record reads back");
	}
	rc = tape_locate(t, 0, 7);
	n = tape_read(t, buf, big);
	CHECK(rc == 0 && n == 8192 && same(buf, 8192, 88), "unaligned-written record reads back");

	/* ---- medium, MAM, format ---- */
	memset(&med, 0xFF, sizeof(med));
	rc = tape_medium_info(t, &med);
	CHECK(rc == 0 && med.partitions == 1 && !med.write_protected,
	      "medium info: 1 partition, writable (rc %d, %u)", rc, med.partitions);
	printf("# capacity %llu remaining %llu\n", (unsigned long long)med.capacity[0],
	       (unsigned long long)med.remaining[0]);
	if (!caps->has_mam) {
		rc = tape_get_attr(t, 0, TAPE_ATTR_BARCODE, &attr);
		CHECK_EQ(rc, -EOPNOTSUPP, "no MAM: get_attr EOPNOTSUPP");
	} else {
		rc = tape_get_attr(t, 0, TAPE_ATTR_BARCODE, &attr);
		printf("# barcode attribute: rc %d\n", rc);
	}
	if (!caps->can_format)
		CHECK_EQ(tape_format(t, 1, sizes), -EOPNOTSUPP, "no FORMAT: EOPNOTSUPP");

	/* ---- a stream of 1 MiB records, zero-copy when on tapedma ---- */
	{
		const unsigned nrec = 48;
		int have_stats = read_stats(&s0) == 0;
		double secs;

		rc = tape_rewind(t);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < nrec && rc == 0; i++) {
			buf[0] = (uint8_t)i;
			buf[MiB - 1] = (uint8_t)~i;
			if (tape_write(t, buf, MiB) != MiB)
				rc = -1;
		}
		if (rc == 0)
			rc = tape_write_filemarks(t, 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		CHECK(rc == 0, "stream: %u x 1 MiB written (%.0f MB/s)", nrec, nrec * 1.048576 / secs);
		rc = tape_rewind(t);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < nrec && rc == 0; i++) {
			n = tape_read(t, buf, big);
			if (n != MiB || buf[0] != (uint8_t)i || buf[MiB - 1] != (uint8_t)~i)
				rc = -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		CHECK(rc == 0, "stream: %u x 1 MiB read back, 4 MiB buffer (%.0f MB/s)", nrec,
		      nrec * 1.048576 / secs);
		expect_object(t, buf, big, 4, "stream ends with its filemark");
		rc = tape_rewind(t);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < nrec && rc == 0; i++) {
			n = tape_read(t, buf, MiB);
			if (n != MiB || buf[0] != (uint8_t)i || buf[MiB - 1] != (uint8_t)~i)
				rc = -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		CHECK(rc == 0, "stream: %u x 1 MiB read back, 1 MiB buffer (%.0f MB/s)", nrec,
		      nrec * 1.048576 / secs);
		if (have_stats && read_stats(&s1) == 0) {
			printf("# tapedma stats: %llu commands, %llu zero-copy bytes, %llu copied\n",
			       (unsigned long long)(s1.commands - s0.commands),
			       (unsigned long long)(s1.bytes_zero_copy - s0.bytes_zero_copy),
			       (unsigned long long)(s1.bytes_copied - s0.bytes_copied));
			CHECK(s1.bytes_zero_copy - s0.bytes_zero_copy >= 3ull * nrec * MiB,
			      "stream moved zero-copy");
			CHECK_EQ(s1.bytes_copied - s0.bytes_copied, 0, "nothing bounced in the kernel");
		}
	}
	/*
	 * End of medium, once: tgt has no early warning; past its capacity a
	 * write still succeeds and reports EOM with NO SENSE, which the backend
	 * passes on as EARLY_WARNING (the record is on the medium).
	 */
	if (using_tapedma) {
		unsigned limit = 4096, written = 0, warned = 0;

		rc = tape_rewind(t);
		for (i = 0; i < limit && rc == 0; i++) {
			buf[0] = (uint8_t)i;
			n = tape_write(t, buf, MiB);
			if (n != MiB) {
				rc = (int)n;
				break;
			}
			written++;
			if (tape_last(t)->sense == TAPE_SENSE_EARLY_WARNING && ++warned == 3)
				break;
		}
		printf("# %u MiB written, early warning after %u MiB\n", written,
		       warned ? written - warned + 1 : 0);
		if (rc == 0 && !warned)
			SKIP("tape bigger than 4 GiB", "writing to the end of the medium warns");
		else
			CHECK(rc == 0 && warned == 3, "writing to the end of the medium warns (rc %d)", rc);
		if (warned) {
			rc = tape_locate(t, 0, written - 1);
			n = tape_read(t, buf, big);
			CHECK(rc == 0 && n == MiB && buf[0] == (uint8_t)(written - 1),
			      "the record written past the warning is on the medium");
		}
		/* leave a short tape behind */
		rc = tape_rewind(t);
		fill(buf, 4096, 1);
		CHECK(rc == 0 && tape_write(t, buf, 4096) == 4096 && tape_flush(t) == 0,
		      "truncate the full tape at BOT");
	}
	CHECK_EQ(tape_rewind(t), 0, "rewind at the end");
	CHECK_EQ(tape_close(t), 0, "close");
out:
	free(buf);
	free(small);
	free(unal_mem);
}

int main(void)
{
	const char *dma = getenv("FUSETAPE_TAPEDMA");

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the module's device, then the same SSC code over SG_IO */
	if (dma && *dma) {
		dev = dma;
		using_tapedma = 1;
		run_on();
	} else {
		printf("# no tapedma.ko loaded: only the SG_IO transport is tested\n");
	}
	dev = find_sg();
	using_tapedma = 0;
	run_on();
	return tap_done();
}
