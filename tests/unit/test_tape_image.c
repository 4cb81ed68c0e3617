/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_tape_image.c - the image backend held to the tape.h contract.
 *
 * Every test makes its own image in a private temporary directory, which
 * is removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_tape_util.h"

static struct tape *create_and_open(uint64_t size, const char **pathp)
{
	return make_image(&(struct tape_image_params){ .size = size }, pathp);
}

static ssize_t write_seed(struct tape *t, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len);
	ssize_t n;

	fill(buf, len, seed);
	n = tape_write(t, buf, len);
	free(buf);
	return n;
}

static uint32_t position_partition(struct tape *t)
{
	struct tape_position pos;

	if (tape_read_position(t, &pos) < 0)
		return UINT32_MAX;
	return pos.partition;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_parse_size(void)
{
	uint64_t v;

	CHECK(tape_parse_size("2G", &v) == 0 && v == 2ull << 30, "parse 2G");
	CHECK(tape_parse_size("512M", &v) == 0 && v == 512ull << 20, "parse 512M");
	CHECK(tape_parse_size("100k", &v) == 0 && v == 100ull << 10, "parse 100k");
	CHECK(tape_parse_size("4KiB", &v) == 0 && v == 4096, "parse 4KiB");
	CHECK(tape_parse_size("1T", &v) == 0 && v == 1ull << 40, "parse 1T");
	CHECK(tape_parse_size("12345", &v) == 0 && v == 12345, "parse plain bytes");
	CHECK_EQ(tape_parse_size("", &v), -EINVAL, "parse empty");
	CHECK_EQ(tape_parse_size("-1", &v), -EINVAL, "parse negative");
	CHECK_EQ(tape_parse_size("12X", &v), -EINVAL, "parse bad suffix");
	CHECK_EQ(tape_parse_size("1Gx", &v), -EINVAL, "parse junk after suffix");
	CHECK_EQ(tape_parse_size("99999999999P", &v), -ERANGE, "parse overflow");
	CHECK_EQ(tape_parse_size("99999999999999999999999", &v), -ERANGE, "parse huge");
}

static void test_crc32c(void)
{
	static const char check[] = "123456789";
	uint8_t big[1000];

	CHECK_EQ(tape_crc32c(0, check, 9), 0xE3069283u, "crc32c check value");
	fill(big, sizeof(big), 7);
	CHECK_EQ(tape_crc32c(tape_crc32c(0, big, 333), big + 333, 667),
		 tape_crc32c(0, big, 1000), "crc32c continues across calls");
	/* big buffers run in three lanes: they must agree with the plain
	 * computation, done here in pieces too small for lanes, at several
	 * lengths and misalignments */
	{
		size_t lens[] = { 12287, 12288, 12289, 65536, 524288, 524288 + 4095, 1048579 };
		unsigned char *buf = malloc((1 << 20) + 64);
		int bad = 0;

		for (size_t i = 0; i < (1 << 20) + 64; i++)
			buf[i] = (unsigned char)(i * 2654435761u >> 13);
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			for (size_t mis = 0; mis < 3; mis++) {
				const unsigned char *p = buf + mis * 5;
				uint32_t whole = tape_crc32c(0x1234567u, p, lens[li]);
				uint32_t step = 0x1234567u;

				for (size_t o = 0; o < lens[li]; o += 4000)
					step = tape_crc32c(step, p + o,
							   lens[li] - o < 4000 ? lens[li] - o : 4000);
				if (whole != step) {
					printf("# len %zu misalign %zu: %08x vs %08x\n", lens[li],
					       mis * 5, whole, step);
					bad++;
				}
			}
		}
		CHECK_EQ(bad, 0, "crc32c of big buffers (three lanes) == in small pieces");
		free(buf);
	}
}

static void test_create_and_identity(void)
{
	struct tape_image_params p = { .size = 16 * MiB, .barcode = "FT0001L9" };
	const char *path = create_image(&p);
	struct tape *t;
	struct tape_medium m;
	struct tape_attr a;
	const struct tape_caps *c;

	CHECK(path != NULL, "create a 16 MiB image");
	if (!path)
		return;
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), -EEXIST,
		 "create refuses to replace an existing file");
	CHECK(strstr(errbuf, "exists") != NULL, "... and says so: %s", errbuf);
	p.force = true;
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), 0, "create with force replaces it");

	t = open_image(path, 0);
	CHECK(t != NULL, "open it");
	if (!t)
		return;
	CHECK(!strcmp(tape_backend_name(t), "image"), "backend is image");
	CHECK(!strcmp(tape_identity(t)->vendor, "FUSETAPE"), "vendor FUSETAPE");
	CHECK(!strcmp(tape_identity(t)->product, "VIRTUAL-LTO"), "product VIRTUAL-LTO");
	CHECK_EQ(strlen(tape_identity(t)->serial), 32, "serial is the uuid in hex");
	c = tape_caps(t);
	CHECK(c->max_record == TAPE_IMAGE_DEFAULT_MAX_RECORD && c->min_record == 1 &&
	      c->max_partitions == 4 && c->can_locate && c->can_read_position &&
	      c->has_mam && c->can_format && c->can_set_early_warning, "caps");
	CHECK_EQ(tape_medium_info(t, &m), 0, "medium info");
	CHECK_EQ(m.partitions, 1, "one partition");
	CHECK_EQ(m.capacity[0], 16 * MiB, "capacity is the size");
	CHECK_EQ(m.remaining[0], 16 * MiB, "all of it remaining");
	CHECK(!m.write_protected, "not write protected");
	CHECK_EQ(m.early_warning, (16 * MiB / 100 + 4095) / 4096 * 4096, "default early warning 1%% rounded up to 4 KiB");
	CHECK_EQ(tape_get_attr(t, 0, TAPE_ATTR_BARCODE, &a), 0, "barcode attribute present");
	CHECK(a.length == 32 && !memcmp(a.value, "FT0001L9                        ", 32) &&
	      a.format == TAPE_ATTR_ASCII, "barcode attribute is blank-padded ASCII");
	uint64_t two[2] = { 1 * MiB, 0 };
	CHECK_EQ(tape_format(t, 2, two), 0, "format into two partitions");
	memset(&a, 0, sizeof(a));
	CHECK_EQ(tape_get_attr(t, 1, TAPE_ATTR_BARCODE, &a), 0, "barcode attribute on the new partition 1");
	CHECK(a.length == 32 && !memcmp(a.value, "FT0001L9", 8), "... the same barcode");
	CHECK_EQ(position(t), 0, "at BOT");
	CHECK_EQ(tape_read(t, a.value, 10), -ENODATA, "empty tape reads EOD");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOD, "... sense EOD");
	tape_close(t);
}

static void test_bad_create_params(void)
{
	struct tape_image_params p = { .size = 16 * MiB, .partitions = 2,
				       .partition_size = { 20 * MiB } };
	const char *path = new_path();

	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), -EINVAL,
		 "partition bigger than the size is refused");
	CHECK(errbuf[0] != '\0', "... with a message: %s", errbuf);
	CHECK(access(path, F_OK) != 0, "... and no file left behind");
	p = (struct tape_image_params){ .size = 16 * MiB, .force = true };
	CHECK_EQ(tape_image_create(dir, &p, errbuf, sizeof(errbuf)), -EISDIR, "create over a directory refused");
	CHECK_EQ(tape_image_create("/dev/null", &p, errbuf, sizeof(errbuf)), -EINVAL,
		 "create over a device refused, even with force");
	p = (struct tape_image_params){ .size = 16 * MiB, .partitions = 5 };
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), -EINVAL, "5 partitions refused");
	p = (struct tape_image_params){ .size = 16 * MiB, .max_record = 32 * MiB };
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), -EINVAL, "32 MiB records refused");
	p = (struct tape_image_params){ .size = 16 * KiB };
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), -EINVAL, "16 KiB tape refused");
	p = (struct tape_image_params){ .size = 16 * MiB, .barcode = "0123456789012345678901234567890123" };
	CHECK_EQ(tape_image_create(path, &p, errbuf, sizeof(errbuf)), -EINVAL, "34-char barcode refused");
}

static void test_records_and_filemarks(void)
{
	struct tape *t = create_and_open(64 * MiB, NULL);
	uint8_t buf[8192];
	ssize_t n;

	CHECK(t != NULL, "open for records");
	if (!t)
		return;
	CHECK_EQ(write_seed(t, 1, 1), 1, "write a 1-byte record");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NONE, "... sense none");
	CHECK_EQ(write_seed(t, 5000, 2), 5000, "write a 5000-byte record");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "write a filemark");
	CHECK_EQ(write_seed(t, 4096, 3), 4096, "write a 4096-byte record");
	CHECK_EQ(tape_write_filemarks(t, 2), 0, "write two filemarks");
	CHECK_EQ(position(t), 6, "position counts records and filemarks");
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	CHECK_EQ(position(t), 0, "rewound to 0");
	CHECK(read_seed(t, 1, 1), "read back the 1-byte record");
	CHECK(read_seed(t, 5000, 2), "read back the 5000-byte record");
	n = tape_read(t, buf, sizeof(buf));
	CHECK_EQ(n, 0, "read at a filemark returns 0");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_FILEMARK, "... sense FILEMARK");
	CHECK_EQ(position(t), 3, "... and moves past it");
	CHECK(read_seed(t, 4096, 3), "read the record after the filemark");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "first of two filemarks");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "second of two filemarks");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "then EOD");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOD, "... sense EOD");
	CHECK_EQ(position(t), 6, "EOD read does not move");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "EOD again");

	/* record longer than the buffer */
	CHECK_EQ(tape_locate(t, 0, 1), 0, "locate to the 5000-byte record");
	n = tape_read(t, buf, 100);
	CHECK_EQ(n, -EOVERFLOW, "short buffer gives -EOVERFLOW");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_RECORD_LENGTH, "... sense RECORD_LENGTH");
	CHECK_EQ(tape_last(t)->residual, 5000, "... residual is the real length");
	CHECK(same(buf, 100, 2), "... the first 100 bytes are stored");
	CHECK_EQ(position(t), 2, "... and the tape moved past the record");
	CHECK_EQ(tape_locate(t, 0, 0), 0, "locate to the 1-byte record");
	CHECK_EQ(tape_read(t, NULL, 0), -EOVERFLOW, "zero-length read of a record overflows");
	CHECK_EQ(tape_last(t)->residual, 1, "... residual 1");

	/* bad arguments */
	CHECK_EQ(tape_write(t, buf, 0), -EINVAL, "0-byte write refused");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_ILLEGAL_REQUEST, "... ILLEGAL_REQUEST");
	CHECK_EQ(tape_write(t, NULL, 10), -EINVAL, "NULL buffer refused");
	CHECK_EQ(tape_write(t, buf, TAPE_IMAGE_DEFAULT_MAX_RECORD + 1), -EINVAL,
		 "record above max_record refused");
	CHECK_EQ(tape_read(t, NULL, 10), -EINVAL, "read into NULL refused");
	CHECK_EQ(tape_read_position(t, NULL), -EINVAL, "read_position(NULL) refused");
	CHECK_EQ(tape_space(t, (enum tape_space_kind)42, 1), -EINVAL, "unknown space kind refused");
	CHECK_EQ(tape_medium_info(t, NULL), -EINVAL, "medium_info(NULL) refused");
	CHECK_EQ(position(t), 1, "bad calls did not move the tape");
	tape_close(t);
}

static void test_big_records(void)
{
	struct tape_image_params p = { .size = 96 * MiB, .max_record = TAPE_IMAGE_MAX_RECORD };
	const char *path = create_image(&p);
	struct tape *t = path ? open_image(path, 0) : NULL;
	size_t max = TAPE_IMAGE_MAX_RECORD;

	CHECK(t != NULL, "open image with 16 MiB records");
	if (!t)
		return;
	CHECK_EQ(tape_caps(t)->max_record, max, "caps say 16 MiB");
	CHECK_EQ(write_seed(t, 8 * MiB, 80), (ssize_t)(8 * MiB), "write an 8 MiB record");
	CHECK_EQ(write_seed(t, max, 160), (ssize_t)max, "write a 16 MiB record");
	CHECK_EQ(write_seed(t, max + 1, 161), -EINVAL, "16 MiB + 1 refused");
	CHECK_EQ(write_seed(t, 8 * MiB - 1, 79), (ssize_t)(8 * MiB - 1), "write 8 MiB - 1");
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen");
	if (!t)
		return;
	CHECK(read_seed(t, 8 * MiB, 80), "8 MiB record intact after reopen");
	CHECK(read_seed(t, max, 160), "16 MiB record intact");
	CHECK(read_seed(t, 8 * MiB - 1, 79), "8 MiB - 1 record intact");
	tape_close(t);
}

static void test_overwrite_truncates(void)
{
	const char *path;
	struct tape *t = create_and_open(32 * MiB, &path);
	struct tape_medium m;
	uint8_t buf[100];

	CHECK(t != NULL, "open for overwrite");
	if (!t)
		return;
	for (uint32_t i = 0; i < 10; i++)
		write_seed(t, 10000, 100 + i);
	tape_write_filemarks(t, 1);
	for (uint32_t i = 10; i < 15; i++)
		write_seed(t, 10000, 100 + i);
	CHECK_EQ(position(t), 16, "16 objects written");
	CHECK_EQ(tape_locate(t, 0, 4), 0, "locate to 4");
	CHECK_EQ(write_seed(t, 3000, 999), 3000, "overwrite object 4");
	CHECK_EQ(position(t), 5, "position after overwrite");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "old object 5 is gone: EOD");
	CHECK_EQ(tape_space(t, TAPE_SPACE_EOD, 0), 0, "space to EOD");
	CHECK_EQ(position(t), 5, "EOD is 5");
	CHECK_EQ(tape_locate(t, 0, 12), -ENODATA, "locate past the new EOD");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOD, "... sense EOD");
	CHECK_EQ(position(t), 5, "... leaves the tape at EOD");
	CHECK_EQ(tape_space(t, TAPE_SPACE_FILEMARKS, -1), -EIO, "old filemark is gone too");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_BOT, "... spacing back hits BOT");
	tape_medium_info(t, &m);
	CHECK_EQ(m.remaining[0], 32 * MiB - 4 * 12288 - 4096, "remaining counts 4 KiB units");
	tape_close(t);

	t = open_image(path, 0);
	CHECK(t != NULL, "reopen after overwrite");
	if (!t)
		return;
	for (uint32_t i = 0; i < 4; i++)
		CHECK(read_seed(t, 10000, 100 + i), "record %u kept", i);
	CHECK(read_seed(t, 3000, 999), "new record 4 there");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "EOD after it, also after reopen");
	/* write on at EOD, then overwrite with filemarks in the middle */
	CHECK_EQ(write_seed(t, 5000, 5), 5000, "append after reopen");
	CHECK_EQ(tape_locate(t, 0, 2), 0, "locate 2");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "filemark over record 2");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "EOD right after it");
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen after filemark overwrite");
	if (!t)
		return;
	CHECK(read_seed(t, 10000, 100), "record 0");
	CHECK(read_seed(t, 10000, 101), "record 1");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "filemark at 2");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "EOD at 3");
	tape_close(t);
}

static void test_early_warning_and_eom(void)
{
	struct tape_image_params p = { .size = 1 * MiB, .early_warning = 256 * KiB };
	const char *path = create_image(&p);
	struct tape *t = path ? open_image(path, 0) : NULL;
	struct tape_medium m;
	struct tape_position pos;
	ssize_t n;
	int i;

	CHECK(t != NULL, "open 1 MiB image");
	if (!t)
		return;
	tape_medium_info(t, &m);
	CHECK_EQ(m.early_warning, 256 * KiB, "early warning as created");
	/* 768 KiB before the warning point: 12 records of 64 KiB */
	for (i = 0; i < 12; i++) {
		n = write_seed(t, 64 * KiB, i);
		if (n != 64 * KiB || tape_last(t)->sense != TAPE_SENSE_NONE)
			break;
	}
	CHECK_EQ(i, 12, "12 records of 64 KiB without warning");
	n = write_seed(t, 1, 12);
	CHECK_EQ(n, 1, "record past the warning point is written");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "... with EARLY_WARNING");
	/* 252 KiB left */
	n = write_seed(t, 252 * KiB + 1, 13);
	CHECK_EQ(n, -ENOSPC, "record that does not fit: -ENOSPC");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOM, "... sense EOM");
	CHECK_EQ(tape_read_position(t, &pos), 0, "read position");
	CHECK_EQ(pos.block, 13, "... position unchanged");
	tape_medium_info(t, &m);
	CHECK_EQ(m.remaining[0], 252 * KiB, "... nothing written");
	n = write_seed(t, 252 * KiB, 14);
	CHECK_EQ(n, 252 * KiB, "record that exactly fills the partition");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "... still warns");
	n = write_seed(t, 1, 15);
	CHECK_EQ(n, -ENOSPC, "full partition: -ENOSPC");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "a filemark still fits (no data)");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "... with EARLY_WARNING");
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen");
	if (!t)
		return;
	CHECK_EQ(tape_space(t, TAPE_SPACE_EOD, 0), 0, "space EOD");
	CHECK_EQ(position(t), 15, "EOD = 13 records + 1 + filemark");
	CHECK_EQ(tape_locate(t, 0, 13), 0, "locate 13");
	CHECK(read_seed(t, 252 * KiB, 14), "the filling record reads back");
	/* programmable */
	CHECK_EQ(tape_set_early_warning(t, 0), 0, "set early warning 0");
	tape_medium_info(t, &m);
	CHECK_EQ(m.early_warning, 0, "medium info reports it");
	CHECK_EQ(tape_locate(t, 0, 0), 0, "back to BOT");
	CHECK_EQ(write_seed(t, 1020 * KiB, 20), 1020 * KiB, "1020 KiB with warning 0");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NONE, "... no warning");
	CHECK_EQ(write_seed(t, 4 * KiB, 21), 4 * KiB, "the last 4 KiB");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NONE, "... ends exactly at the end: still no warning");
	CHECK_EQ(tape_set_early_warning(t, 600 * KiB), 0, "set early warning 600 KiB");
	CHECK_EQ(tape_locate(t, 0, 0), 0, "back to BOT");
	CHECK_EQ(write_seed(t, 400 * KiB, 22), 400 * KiB, "400 KiB: below 1024-600");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NONE, "... no warning");
	CHECK_EQ(write_seed(t, 100 * KiB, 23), 100 * KiB, "100 KiB more: past it");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "... warning");
	tape_close(t);
}

static void test_auto_early_warning(void)
{
	struct tape *t = create_and_open(256 * MiB, NULL);
	struct tape_medium m;
	uint64_t sizes[2] = { 1 * MiB, 0 };

	CHECK(t != NULL, "256 MiB image");
	if (!t)
		return;
	tape_medium_info(t, &m);
	CHECK_EQ(m.early_warning, (256 * MiB / 100 + 4095) / 4096 * 4096, "automatic: 1%% of the capacity");
	CHECK_EQ(tape_format(t, 2, sizes), 0, "format with a 1 MiB partition 0");
	tape_medium_info(t, &m);
	CHECK_EQ(m.early_warning, 256 * KiB, "automatic: a quarter of the smallest partition");
	tape_locate(t, 0, 0);
	CHECK_EQ(write_seed(t, 700 * KiB, 1), 700 * KiB, "700 KiB in the 1 MiB partition");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NONE, "... no warning yet");
	CHECK_EQ(write_seed(t, 100 * KiB, 2), 100 * KiB, "100 KiB more");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EARLY_WARNING, "... warns");
	CHECK_EQ(tape_set_early_warning(t, 12345), 0, "set early warning by hand");
	sizes[0] = 2 * MiB;
	CHECK_EQ(tape_format(t, 2, sizes), 0, "format again");
	tape_medium_info(t, &m);
	CHECK_EQ(m.early_warning, 12345, "a value set by hand survives format");
	tape_close(t);
}

static void test_write_protect(void)
{
	struct tape_image_params p = { .size = 4 * MiB };
	const char *path = create_image(&p);
	struct tape *t;
	struct tape_medium m;
	struct tape_attr a = { .id = 0x0803, .format = TAPE_ATTR_TEXT, .length = 3, .value = "abc" };
	uint64_t sizes[1] = { 0 };

	CHECK(path != NULL, "create for write protect");
	if (!path)
		return;
	t = open_image(path, 0);
	write_seed(t, 100, 1);
	tape_close(t);

	/* handle opened read-only */
	t = open_image(path, TAPE_OPEN_READONLY);
	CHECK(t != NULL, "open read-only");
	if (!t)
		return;
	tape_medium_info(t, &m);
	CHECK(m.write_protected, "read-only handle reports write_protected");
	CHECK_EQ(write_seed(t, 10, 2), -EROFS, "write on read-only handle: -EROFS");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_WRITE_PROTECT, "... WRITE_PROTECT");
	CHECK_EQ(tape_write_filemarks(t, 1), -EROFS, "filemark: -EROFS");
	CHECK_EQ(tape_flush(t), 0, "flush on read-only handle is fine");
	CHECK_EQ(tape_set_attr(t, 0, &a), -EROFS, "set_attr: -EROFS");
	CHECK_EQ(tape_format(t, 1, sizes), -EROFS, "format: -EROFS");
	CHECK(read_seed(t, 100, 1), "reading works");
	tape_close(t);

	/* the flag in the image */
	CHECK_EQ(tape_image_set_readonly(path, true, errbuf, sizeof(errbuf)), 0, "set the write-protect flag");
	t = open_image(path, 0);
	CHECK(t != NULL, "open protected image read-write");
	if (!t)
		return;
	tape_medium_info(t, &m);
	CHECK(m.write_protected, "protected image reports write_protected");
	CHECK_EQ(write_seed(t, 10, 2), -EROFS, "write on protected image: -EROFS");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_WRITE_PROTECT, "... WRITE_PROTECT");
	CHECK(read_seed(t, 100, 1), "data still readable");
	tape_close(t);
	CHECK_EQ(tape_image_set_readonly(path, false, errbuf, sizeof(errbuf)), 0, "clear the flag");
	t = open_image(path, 0);
	CHECK(t != NULL && write_seed(t, 10, 3) == 10, "writable again");
	tape_close(t);

	/* created protected */
	p.readonly = true;
	path = create_image(&p);
	t = path ? open_image(path, 0) : NULL;
	CHECK(t != NULL && write_seed(t, 10, 2) == -EROFS, "image created read-only refuses writes");
	tape_close(t);

	/* a file we may not write (only meaningful when not root) */
	path = create_image(&(struct tape_image_params){ .size = 4 * MiB });
	chmod(path, 0444);
	if (access(path, W_OK) == 0 && geteuid() == 0) {
		/* root may write anything: look as nobody instead */
		pid_t pid;
		int status = -1;

		chmod(dir, 0755);
		pid = fork();
		if (pid == 0) {
			struct tape *c = NULL;
			struct tape_medium cm;
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(10);
			int orc = tape_open(path, 0, &c, NULL, 0);
			if (orc == -EACCES)
				_exit(77);	/* a parent directory is closed to nobody */
			if (orc < 0)
				_exit(11);
			if (tape_medium_info(c, &cm) < 0 || !cm.write_protected)
				_exit(12);
			if (write_seed(c, 10, 2) != -EROFS || tape_last(c)->sense != TAPE_SENSE_WRITE_PROTECT)
				_exit(13);
			tape_close(c);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		chmod(dir, 0700);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
			SKIP("nobody cannot reach the test directory",
			     "file without write permission is write protected");
		} else {
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "file without write permission is write protected (checked as nobody: exit %d)",
			      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
	} else if (access(path, W_OK) == 0) {
		SKIP("file stays writable", "file without write permission is write protected");
	} else {
		t = open_image(path, 0);
		CHECK(t != NULL && write_seed(t, 10, 2) == -EROFS,
		      "file without write permission is write protected");
		tape_close(t);
	}
}

static void test_partitions(void)
{
	struct tape_image_params p = { .size = 8 * MiB, .partitions = 4,
				       .partition_size = { 1 * MiB, 2 * MiB, 1 * MiB, 0 } };
	const char *path = create_image(&p);
	struct tape *t = path ? open_image(path, 0) : NULL;
	struct tape_medium m;
	struct tape_position pos;
	uint8_t buf[64];

	CHECK(t != NULL, "open 4-partition image");
	if (!t)
		return;
	tape_medium_info(t, &m);
	CHECK_EQ(m.partitions, 4, "4 partitions");
	CHECK(m.capacity[0] == 1 * MiB && m.capacity[1] == 2 * MiB && m.capacity[2] == 1 * MiB &&
	      m.capacity[3] == 4 * MiB, "partition sizes, the last is the rest");
	for (uint32_t part = 0; part < 4; part++) {
		CHECK_EQ(tape_locate(t, part, 0), 0, "locate partition %u", part);
		for (uint32_t i = 0; i <= part; i++)
			write_seed(t, 50, part * 10 + i);
		tape_write_filemarks(t, 1);
	}
	CHECK_EQ(tape_locate(t, 4, 0), -EINVAL, "partition 4 does not exist");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_ILLEGAL_REQUEST, "... ILLEGAL_REQUEST");
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen");
	if (!t)
		return;
	for (uint32_t part = 0; part < 4; part++) {
		CHECK_EQ(tape_locate(t, part, 0), 0, "locate partition %u", part);
		for (uint32_t i = 0; i <= part; i++)
			CHECK(read_seed(t, 50, part * 10 + i), "partition %u record %u", part, i);
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "partition %u filemark", part);
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "partition %u EOD at %u", part, part + 2);
		CHECK_EQ(tape_read_position(t, &pos), 0, "read position");
		CHECK(pos.partition == part && pos.block == part + 2, "position in partition %u", part);
	}
	/* overwrite in partition 1 leaves the others alone */
	tape_locate(t, 1, 0);
	write_seed(t, 60, 77);
	tape_locate(t, 2, 3);
	CHECK_EQ(position_partition(t), 2, "in partition 2");
	CHECK_EQ(position(t), 3, "partition 2 EOD unchanged");
	tape_locate(t, 1, 5);
	CHECK_EQ(position(t), 1, "partition 1 EOD is 1 now");
	tape_medium_info(t, &m);
	CHECK_EQ(m.remaining[1], 2 * MiB - 4096, "partition 1 remaining");
	CHECK_EQ(m.remaining[3], 4 * MiB - 4 * 4096, "partition 3 remaining");
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	CHECK(position_partition(t) == 0 && position(t) == 0, "rewind goes to partition 0");

	/* re-partition */
	uint64_t sizes2[2] = { 512 * KiB, 0 };
	struct tape_attr a = { .id = TAPE_ATTR_USER_MEDIUM_TEXT_LABEL, .format = TAPE_ATTR_TEXT,
			       .length = 5, .value = "hello" };
	CHECK_EQ(tape_set_attr(t, 1, &a), 0, "set an attribute on partition 1");
	CHECK_EQ(tape_format(t, 2, sizes2), 0, "format into 2 partitions");
	tape_medium_info(t, &m);
	CHECK(m.partitions == 2 && m.capacity[0] == 512 * KiB && m.capacity[1] == 8 * MiB - 512 * KiB,
	      "new layout");
	CHECK(m.remaining[0] == m.capacity[0] && m.remaining[1] == m.capacity[1], "empty after format");
	CHECK_EQ(tape_locate(t, 1, 0), 0, "locate partition 1");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "data erased");
	CHECK_EQ(tape_locate(t, 2, 0), -EINVAL, "partition 2 is gone");
	memset(&a, 0, sizeof(a));
	CHECK_EQ(tape_get_attr(t, 1, TAPE_ATTR_USER_MEDIUM_TEXT_LABEL, &a), 0, "attribute kept across format");
	CHECK(a.length == 5 && !memcmp(a.value, "hello", 5), "... with its value");
	CHECK_EQ(tape_locate(t, 1, 0), 0, "locate partition 1");
	CHECK_EQ(write_seed(t, 1000, 5), 1000, "write after format");
	uint64_t bad[2] = { 9 * MiB, 0 };
	CHECK_EQ(tape_format(t, 2, bad), -EINVAL, "format bigger than the tape refused");
	CHECK_EQ(tape_format(t, 0, bad), -EINVAL, "format into 0 partitions refused");
	CHECK_EQ(tape_format(t, 5, bad), -EINVAL, "format into 5 partitions refused");
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen after format");
	if (!t)
		return;
	tape_medium_info(t, &m);
	CHECK_EQ(m.partitions, 2, "still 2 partitions");
	tape_locate(t, 1, 0);
	CHECK(read_seed(t, 1000, 5), "record written after format survives reopen");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "and nothing of the old data");
	tape_locate(t, 0, 0);
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "partition 0 empty");
	uint64_t one[1] = { 0 };
	CHECK_EQ(tape_format(t, 1, one), 0, "format back into one partition");
	tape_medium_info(t, &m);
	CHECK(m.partitions == 1 && m.capacity[0] == 8 * MiB, "one partition of everything");
	tape_close(t);
}

/* Layout: R0 R1 F2 R3 R4 R5 F6 F7 R8 EOD=9 */
static struct tape *space_tape(void)
{
	struct tape *t = create_and_open(4 * MiB, NULL);

	if (!t)
		return NULL;
	write_seed(t, 10, 0);
	write_seed(t, 10, 1);
	tape_write_filemarks(t, 1);
	write_seed(t, 10, 3);
	write_seed(t, 10, 4);
	write_seed(t, 10, 5);
	tape_write_filemarks(t, 2);
	write_seed(t, 10, 8);
	return t;
}

/* Note: tape_read_position() clears tape_last(), so take the status first. */
#define SPACE(t, from, kind, count, want_rc, want_pos, want_sense, want_resid, what) do { \
	tape_locate(t, 0, from); \
	int rc_ = tape_space(t, kind, count); \
	struct tape_status st_ = *tape_last(t); \
	uint64_t pos_ = position(t); \
	CHECK(rc_ == (want_rc) && pos_ == (want_pos) && st_.sense == (want_sense) && \
	      st_.residual == (want_resid), "space %s", what); \
	if (rc_ != (want_rc) || pos_ != (want_pos) || st_.sense != (want_sense) || \
	    st_.residual != (want_resid)) \
		printf("#   rc %d pos %llu sense %s residual %llu\n", rc_, \
		       (unsigned long long)pos_, tape_sense_name(st_.sense), \
		       (unsigned long long)st_.residual); \
} while (0)

static void test_space(void)
{
	struct tape *t = space_tape();
	const enum tape_space_kind R = TAPE_SPACE_RECORDS, F = TAPE_SPACE_FILEMARKS;
	const int N = TAPE_SENSE_NONE, FM = TAPE_SENSE_FILEMARK, E = TAPE_SENSE_EOD,
		  B = TAPE_SENSE_BOT;

	CHECK(t != NULL, "space tape");
	if (!t)
		return;
	SPACE(t, 0, R, 1, 0, 1, N, 0, "1 record");
	SPACE(t, 0, R, 2, 0, 2, N, 0, "2 records up to the filemark");
	SPACE(t, 0, R, 3, -EIO, 3, FM, 1, "3 records crosses the filemark");
	SPACE(t, 2, R, 1, -EIO, 3, FM, 1, "1 record at a filemark");
	SPACE(t, 3, R, 2, 0, 5, N, 0, "2 records in the middle file");
	SPACE(t, 8, R, 1, 0, 9, N, 0, "last record to EOD");
	SPACE(t, 8, R, 5, -ENODATA, 9, E, 4, "over EOD");
	SPACE(t, 9, R, 1, -ENODATA, 9, E, 1, "at EOD");
	SPACE(t, 5, R, -2, 0, 3, N, 0, "back 2 records");
	SPACE(t, 5, R, -3, -EIO, 2, FM, 1, "back 3 records stops before the filemark");
	SPACE(t, 3, R, -1, -EIO, 2, FM, 1, "back 1 right after a filemark");
	SPACE(t, 2, R, -2, 0, 0, N, 0, "back 2 to BOT");
	SPACE(t, 2, R, -5, -EIO, 0, B, 3, "back 5 hits BOT");
	SPACE(t, 0, R, -1, -EIO, 0, B, 1, "back 1 at BOT");
	SPACE(t, 4, R, 0, 0, 4, N, 0, "0 records");
	SPACE(t, 0, F, 1, 0, 3, N, 0, "1 filemark");
	SPACE(t, 0, F, 2, 0, 7, N, 0, "2 filemarks");
	SPACE(t, 0, F, 3, 0, 8, N, 0, "3 filemarks");
	SPACE(t, 0, F, 4, -ENODATA, 9, E, 1, "4 filemarks: EOD");
	SPACE(t, 2, F, 1, 0, 3, N, 0, "1 filemark from on a filemark");
	SPACE(t, 8, F, 2, -ENODATA, 9, E, 2, "2 filemarks after the last");
	SPACE(t, 9, F, -1, 0, 7, N, 0, "back 1 filemark from EOD");
	SPACE(t, 9, F, -2, 0, 6, N, 0, "back 2 filemarks");
	SPACE(t, 9, F, -3, 0, 2, N, 0, "back 3 filemarks");
	SPACE(t, 9, F, -4, -EIO, 0, B, 1, "back 4 filemarks: BOT");
	SPACE(t, 3, F, -1, 0, 2, N, 0, "back 1 just after a filemark");
	SPACE(t, 2, F, -1, -EIO, 0, B, 1, "back 1 on a filemark (none before it)");
	SPACE(t, 0, TAPE_SPACE_EOD, 0, 0, 9, N, 0, "to EOD");
	SPACE(t, 4, TAPE_SPACE_EOD, -5, 0, 9, N, 0, "to EOD ignores count");
	tape_close(t);
}

static void test_locate_and_load(void)
{
	struct tape *t = space_tape();
	uint8_t buf[64];
	struct tape_medium m;

	CHECK(t != NULL, "locate tape");
	if (!t)
		return;
	CHECK_EQ(tape_locate(t, 0, 4), 0, "locate 4");
	CHECK(read_seed(t, 10, 4), "reads record 4");
	CHECK_EQ(tape_locate(t, 0, 9), 0, "locate EOD exactly is fine");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NONE, "... no sense");
	CHECK_EQ(tape_locate(t, 0, 100), -ENODATA, "locate past EOD");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_EOD, "... sense EOD");
	CHECK_EQ(position(t), 9, "... at EOD");
	CHECK_EQ(tape_locate(t, 0, UINT64_MAX), -ENODATA, "locate UINT64_MAX");
	CHECK_EQ(tape_locate(t, 1, 0), -EINVAL, "locate partition 1 of a 1-partition tape");
	CHECK_EQ(tape_locate(t, 7, 0), -EINVAL, "locate partition 7");
	CHECK_EQ(tape_unload(t), 0, "unload");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENOMEDIUM, "read after unload");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_NOT_READY, "... NOT_READY");
	CHECK_EQ(write_seed(t, 10, 1), -ENOMEDIUM, "write after unload");
	CHECK_EQ(tape_medium_info(t, &m), -ENOMEDIUM, "medium info after unload");
	CHECK_EQ(tape_load(t), 0, "load");
	CHECK_EQ(position(t), 0, "load puts the tape at BOT");
	CHECK(read_seed(t, 10, 0), "data still there after unload/load");
	tape_close(t);
}

static void test_attributes(void)
{
	const char *path;
	struct tape *t = create_and_open(4 * MiB, &path);
	struct tape_attr a, b;

	CHECK(t != NULL, "attribute tape");
	if (!t)
		return;
	CHECK_EQ(tape_get_attr(t, 0, TAPE_ATTR_APPLICATION_NAME, &a), -ENOENT, "missing attribute: -ENOENT");
	CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_ILLEGAL_REQUEST, "... ILLEGAL_REQUEST");
	memset(&a, 0, sizeof(a));
	a.id = TAPE_ATTR_APPLICATION_NAME;
	a.format = TAPE_ATTR_ASCII;
	a.length = 32;
	memcpy(a.value, "fusetape                        ", 32);
	CHECK_EQ(tape_set_attr(t, 0, &a), 0, "set APPLICATION_NAME");
	memset(&b, 0, sizeof(b));
	b.id = TAPE_ATTR_VOLUME_COHERENCY_INFO;
	b.format = TAPE_ATTR_BINARY;
	b.length = TAPE_ATTR_MAX_VALUE;
	fill(b.value, b.length, 42);
	CHECK_EQ(tape_set_attr(t, 0, &b), 0, "set a 1024-byte binary attribute");
	CHECK_EQ(tape_get_attr(t, 1, TAPE_ATTR_APPLICATION_NAME, &a), -EINVAL, "partition 1 does not exist");
	b.length = TAPE_ATTR_MAX_VALUE + 1;
	CHECK_EQ(tape_set_attr(t, 0, &b), -EINVAL, "1025-byte attribute refused");
	b.length = 3;
	b.value[0] = 1;
	b.id = 0x1234;
	CHECK_EQ(tape_set_attr(t, 0, &b), 0, "set another");
	b.value[0] = 2;
	CHECK_EQ(tape_set_attr(t, 0, &b), 0, "replace it");
	CHECK_EQ(tape_get_attr(t, 0, 0x1234, &b), 0, "get it");
	CHECK(b.length == 3 && b.value[0] == 2, "replaced value");
	b.length = 0;
	CHECK_EQ(tape_set_attr(t, 0, &b), 0, "length 0 deletes");
	CHECK_EQ(tape_get_attr(t, 0, 0x1234, &b), -ENOENT, "deleted");
	for (int i = 0; i < 50; i++) {
		/* many updates alternate the two slots */
		a.value[0] = (uint8_t)('A' + i % 26);
		tape_set_attr(t, 0, &a);
	}
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen");
	if (!t)
		return;
	memset(&a, 0, sizeof(a));
	CHECK_EQ(tape_get_attr(t, 0, TAPE_ATTR_APPLICATION_NAME, &a), 0, "APPLICATION_NAME after reopen");
	CHECK(a.format == TAPE_ATTR_ASCII && a.length == 32 && a.value[0] == 'A' + 49 % 26 &&
	      !memcmp(a.value + 1, "usetape", 7), "... its last value");
	CHECK_EQ(tape_get_attr(t, 0, TAPE_ATTR_VOLUME_COHERENCY_INFO, &b), 0, "binary attribute after reopen");
	CHECK(b.length == TAPE_ATTR_MAX_VALUE && same(b.value, b.length, 42), "... byte-identical");
	CHECK_EQ(tape_get_attr(t, 0, 0x1234, &b), -ENOENT, "deleted stays deleted");
	CHECK_EQ(tape_image_list_attrs(t, 0, NULL, 0), 2, "two attributes listed");
	tape_close(t);
}

static void test_two_writers(void)
{
	const char *path;
	struct tape *t = create_and_open(4 * MiB, &path), *u = NULL;

	CHECK(t != NULL, "first writer");
	if (!t)
		return;
	CHECK_EQ(tape_open(path, 0, &u, errbuf, sizeof(errbuf)), -EBUSY, "second writer: -EBUSY");
	CHECK(u == NULL, "... no handle");
	CHECK_EQ(tape_open(path, TAPE_IMAGE_OPEN_NOLOCK | TAPE_OPEN_READONLY, &u, errbuf, sizeof(errbuf)), 0,
		 "an unlocked read-only look is allowed");
	tape_close(u);
	tape_close(t);
}

/*
 * A writer killed with SIGKILL: every record it was told was written must
 * be there, byte-identical; after them only EOD (or, at most, the one
 * record in flight).  The child starts over at block 0 every `restart`
 * records, so later kills land in the middle of overwrites too.
 */
struct kill_plan {
	const char *what;
	uint32_t kill_after;	/* acknowledged records before the kill */
	uint32_t restart;	/* records per pass */
	uint32_t fm_every;	/* a filemark after every fm_every-th record */
	uint32_t min_len, len_range;
};

static size_t kill_len(const struct kill_plan *k, uint32_t i)
{
	return k->min_len + (size_t)(i * 7919u) % k->len_range;
}

static void kill9_round(const struct kill_plan *k)
{
	struct tape_image_params p = { .size = 256 * MiB };
	const char *path = create_image(&p);
	size_t bufsize = k->min_len + k->len_range;
	int pipefd[2];
	pid_t pid;
	uint32_t acked = 0, v, first, bad = 0;
	struct tape *t;
	uint8_t *buf;
	ssize_t n;

	if (!path || pipe(pipefd) < 0) {
		CHECK(0, "%s: set up", k->what);
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct tape *c = NULL;
		close(pipefd[0]);
		if (tape_open(path, 0, &c, NULL, 0) < 0)
			_exit(1);
		for (uint32_t i = 0;; i++) {
			if (i % k->restart == 0 && i)
				tape_locate(c, 0, 0);
			if (write_seed(c, kill_len(k, i), i) < 0)
				_exit(2);
			if (i % k->fm_every == k->fm_every - 1)
				tape_write_filemarks(c, 1);
			if (write(pipefd[1], &i, sizeof(i)) != sizeof(i))
				_exit(3);
		}
	}
	close(pipefd[1]);
	while (read(pipefd[0], &v, sizeof(v)) == sizeof(v)) {
		acked = v + 1;
		if (acked >= k->kill_after)
			break;
	}
	kill(pid, SIGKILL);
	while (read(pipefd[0], &v, sizeof(v)) == sizeof(v))	/* acknowledged meanwhile */
		acked = v + 1;
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	CHECK(acked >= k->kill_after, "%s: child acknowledged %u records", k->what, acked);

	t = open_image(path, 0);
	CHECK(t != NULL, "%s: image opens after kill -9", k->what);
	if (!t)
		return;
	buf = malloc(bufsize);
	/*
	 * The record in flight when the child died may have been the first
	 * of a new pass (acked a multiple of restart): it was being written
	 * at block 0, and writing there cuts the tape at 0 before any data
	 * goes out.  Then an empty tape, or that record alone, is right too;
	 * only if neither is found must the previous pass be intact.
	 */
	if (acked % k->restart == 0) {
		n = tape_read(t, buf, bufsize);
		if (n == -ENODATA ||
		    (n == (ssize_t)kill_len(k, acked) && same(buf, (size_t)n, acked))) {
			CHECK(1, "%s: killed while starting a new pass: tape cut at 0 (%zd)",
			      k->what, n);
			free(buf);
			tape_close(t);
			return;
		}
		tape_rewind(t);
	}
	/* The tape holds the records of the current pass. */
	first = (acked - 1) / k->restart * k->restart;
	for (uint32_t i = first; i < acked; i++) {
		size_t len = kill_len(k, i);
		n = tape_read(t, buf, bufsize);
		if (n != (ssize_t)len || !same(buf, len, i)) {
			bad++;
			printf("#   record %u: read %zd want %zu\n", i, n, len);
			break;
		}
		if (i % k->fm_every == k->fm_every - 1 && tape_read(t, buf, bufsize) != 0) {
			bad++;
			printf("#   filemark after record %u missing\n", i);
			break;
		}
	}
	CHECK_EQ(bad, 0, "%s: all %u acknowledged records of the last pass intact", k->what,
		 acked - first);
	n = tape_read(t, buf, bufsize);
	if (n > 0) {
		CHECK((size_t)n == kill_len(k, acked) && same(buf, (size_t)n, acked),
		      "%s: the record in flight is complete", k->what);
		n = tape_read(t, buf, bufsize);
		if (n == 0)
			n = tape_read(t, buf, bufsize);
	}
	CHECK_EQ(n, -ENODATA, "%s: then end of data, no stale records", k->what);
	/* and the tape goes on from there */
	CHECK(write_seed(t, 1000, 5) == 1000 && tape_close(t) == 0, "%s: writing on works", k->what);
	free(buf);
}

static void test_kill9(void)
{
	static const struct kill_plan plans[] = {
		{ "kill while appending", 150, 300, 50, 1000, 60000 },
		{ "kill while overwriting", 450, 300, 50, 1000, 60000 },
		{ "kill during big overwrites", 40, 16, 4, 1 << 20, 3 << 20 },
		{ "kill with tiny records", 3000, 1000, 7, 1, 100 },
	};

	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++)
		kill9_round(&plans[i]);
}

/* Little-endian helpers for tests that write the on-disk format themselves,
 * following fusetape-image(5) rather than the backend's code. */
static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/*
 * The state a kill -9 leaves between the two steps of an overwrite: the
 * tombstone at N is on disk, the new data and entry are not.  The tape must
 * end at N, and a record written there afterwards must not bring back the
 * stale entries behind it, even when they line up exactly.
 */
static void test_tombstone_crash(void)
{
	const char *path;
	struct tape *t = create_and_open(4 * MiB, &path);
	uint8_t hdr[4096], ent[32], pre[8], buf[200];
	uint64_t table, seq_max = 0;
	uint32_t salt, c;
	int fd;

	CHECK(t != NULL, "tombstone image");
	if (!t)
		return;
	for (uint32_t i = 0; i < 10; i++)
		write_seed(t, 100, i);
	tape_close(t);

	fd = open(path, O_RDWR);
	CHECK(pread(fd, hdr, sizeof(hdr), 0) == 4096, "read header slot 0");
	salt = rd32(hdr + 68);
	table = rd64(hdr + 256);
	CHECK_EQ(table, 270336, "partition 0 table where the format says");
	for (int i = 0; i < 10; i++) {
		uint8_t e[32];
		if (pread(fd, e, 32, (off_t)(table + 32 * i)) == 32 && rd64(e) > seq_max)
			seq_max = rd64(e);
	}
	CHECK(seq_max >= 10, "highest seq on disk %llu", (unsigned long long)seq_max);
	/* tombstone at 4: seq above all, data offset of record 4 (4 * 4096) */
	memset(ent, 0, sizeof(ent));
	le64(ent, seq_max + 1);
	le64(ent + 8, 4 * 4096);
	ent[20] = 3;
	le32(pre, salt);
	le32(pre + 4, 0);
	c = tape_crc32c(tape_crc32c(0, pre, 8), ent, 28);
	le32(ent + 28, c);
	CHECK(pwrite(fd, ent, 32, (off_t)(table + 4 * 32)) == 32, "write the tombstone");
	close(fd);

	t = open_image(path, 0);
	CHECK(t != NULL, "open after the simulated crash");
	if (!t)
		return;
	tape_space(t, TAPE_SPACE_EOD, 0);
	CHECK_EQ(position(t), 4, "the tape ends at the tombstone");
	CHECK_EQ(write_seed(t, 100, 44), 100, "write a record of the same size there");
	tape_close(t);
	t = open_image(path, 0);
	CHECK(t != NULL, "reopen");
	if (!t)
		return;
	tape_locate(t, 0, 4);
	CHECK(read_seed(t, 100, 44), "the new record 4");
	CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "and no stale record 5 behind it");
	tape_close(t);
}

/* Corrupt images: clean errors, no crash. */
static void corrupt_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	if (pread(fd, &c, 1, off) == 1) {
		c ^= 0x55;
		if (pwrite(fd, &c, 1, off) != 1)
			perror("pwrite");
	}
	close(fd);
}

static int try_open(const char *path)
{
	struct tape *t = NULL;
	int rc = tape_open(path, 0, &t, errbuf, sizeof(errbuf));

	tape_close(t);
	return rc;
}

static void test_corrupt(void)
{
	struct tape_image_params p = { .size = 4 * MiB };
	const char *path;
	struct tape *t;
	uint64_t off;
	uint32_t len, crc;
	int fd, rc;

	/* not an image */
	path = new_path();
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (write(fd, "hello world, this is not a tape image", 37) != 37)
		perror("write");
	close(fd);
	CHECK_EQ(try_open(path), -EMEDIUMTYPE, "text file: -EMEDIUMTYPE");
	CHECK(strstr(errbuf, "magic") != NULL, "... message says bad magic: %s", errbuf);
	path = new_path();
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK_EQ(try_open(path), -EMEDIUMTYPE, "empty file: -EMEDIUMTYPE");

	/* truncated */
	path = create_image(&p);
	CHECK_EQ(truncate(path, 100000), 0, "truncate an image inside the metadata");
	rc = try_open(path);
	CHECK_EQ(rc, -EUCLEAN, "truncated image: -EUCLEAN");
	CHECK(strstr(errbuf, "truncated") != NULL, "... says truncated: %s", errbuf);
	path = create_image(&p);
	CHECK_EQ(truncate(path, 3 * MiB), 0, "truncate an image inside the data");
	CHECK_EQ(try_open(path), -EUCLEAN, "truncated data: -EUCLEAN");

	/* header bytes */
	path = create_image(&p);
	corrupt_byte(path, 60);
	CHECK_EQ(try_open(path), 0, "one header copy damaged: the other is used");
	corrupt_byte(path, 4096 + 60);
	CHECK_EQ(try_open(path), -EUCLEAN, "both header copies damaged: -EUCLEAN");
	CHECK(strstr(errbuf, "checksum") != NULL, "... says checksum: %s", errbuf);
	path = create_image(&p);
	corrupt_byte(path, 1);
	corrupt_byte(path, 4097);
	CHECK_EQ(try_open(path), -EMEDIUMTYPE, "magic damaged in both: -EMEDIUMTYPE");

	/* MAM damaged */
	path = create_image(&p);
	corrupt_byte(path, 8192 + 3);
	CHECK_EQ(try_open(path), 0, "one attribute slot damaged: the other is used");
	corrupt_byte(path, 8192 + 128 * 1024 + 3);
	CHECK_EQ(try_open(path), -EUCLEAN, "both attribute slots damaged: -EUCLEAN");

	/* record data */
	path = create_image(&p);
	t = open_image(path, 0);
	write_seed(t, 5000, 1);
	write_seed(t, 5000, 2);
	write_seed(t, 5000, 3);
	int dfd;
	CHECK_EQ(tape_image_record_extent(t, 0, 1, &dfd, &off, &len, &crc), 0, "record extent");
	CHECK(off % 4096 == 0 && len == 5000, "record is 4 KiB aligned in the file");
	uint64_t off2;
	tape_image_record_extent(t, 0, 2, &dfd, &off2, &len, &crc);
	CHECK_EQ(off2 - off, 8192, "records are contiguous in 4 KiB units");
	tape_close(t);
	corrupt_byte(path, (off_t)off + 4999);
	t = open_image(path, 0);
	CHECK(t != NULL, "open image with a damaged record");
	if (t) {
		uint8_t buf[6000];
		CHECK(read_seed(t, 5000, 1), "record 0 fine");
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), -EIO, "damaged record: -EIO");
		CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_MEDIUM_ERROR, "... MEDIUM_ERROR");
		CHECK(read_seed(t, 5000, 3), "the record after it is readable");
		tape_locate(t, 0, 1);
		CHECK_EQ(tape_read(t, buf, 100), -EIO, "damage beyond a short buffer is found too");
		tape_close(t);
	}

	/* damaged table entry = end of data there */
	path = create_image(&p);
	t = open_image(path, 0);
	for (uint32_t i = 0; i < 5; i++)
		write_seed(t, 100, i);
	tape_close(t);
	/* partition 0 table starts at 270336; entry 2 */
	corrupt_byte(path, 270336 + 2 * 32 + 8);
	t = open_image(path, 0);
	CHECK(t != NULL, "open image with a damaged table entry");
	if (t) {
		tape_space(t, TAPE_SPACE_EOD, 0);
		CHECK_EQ(position(t), 2, "EOD at the damaged entry");
		/* damage after open: entry 0 goes bad under an open handle */
		corrupt_byte(path, 270336 + 0 * 32 + 16);
		tape_rewind(t);
		uint8_t b2[200];
		CHECK_EQ(tape_read(t, b2, sizeof(b2)), -EIO, "entry damaged after open: -EIO");
		CHECK_EQ(tape_last(t)->sense, TAPE_SENSE_MEDIUM_ERROR, "... MEDIUM_ERROR");
		CHECK_EQ(position(t), 1, "... and the tape moved past it");
		CHECK(read_seed(t, 100, 1), "the next record reads");
		tape_close(t);
	}

	/* impossible layout in a header with a valid checksum is tested by the
	 * format reader: craft partitions = 9 */
	path = create_image(&p);
	fd = open(path, O_RDWR);
	for (int slot = 0; slot < 2; slot++) {
		uint8_t h[4096];
		if (pread(fd, h, 4096, slot * 4096) != 4096)
			break;
		h[64] = 9;
		uint32_t c = tape_crc32c(0, h, 4092);
		memcpy(h + 4092, &c, 4);	/* host is little-endian here */
		if (pwrite(fd, h, 4096, slot * 4096) != 4096)
			break;
	}
	close(fd);
	CHECK_EQ(try_open(path), -EUCLEAN, "9 partitions: -EUCLEAN");
	CHECK(strstr(errbuf, "partitions") != NULL, "... says so: %s", errbuf);

	path = create_image(&p);
	fd = open(path, O_RDWR);
	for (int slot = 0; slot < 2; slot++) {
		uint8_t h[4096];
		if (pread(fd, h, 4096, slot * 4096) != 4096)
			break;
		h[8] = 99;	/* version */
		uint32_t c = tape_crc32c(0, h, 4092);
		memcpy(h + 4092, &c, 4);
		if (pwrite(fd, h, 4096, slot * 4096) != 4096)
			break;
	}
	close(fd);
	CHECK_EQ(try_open(path), -EMEDIUMTYPE, "unknown version: -EMEDIUMTYPE");
	CHECK(strstr(errbuf, "version") != NULL, "... says version: %s", errbuf);
}

/* Read everything a damaged image offers: must end cleanly, never crash. */
static int exercise(const char *path, bool do_write)
{
	struct tape *t = NULL;
	struct tape_medium m;
	struct tape_attr a;
	uint8_t *buf;
	int rc = tape_open(path, do_write ? 0 : TAPE_OPEN_READONLY, &t, errbuf, sizeof(errbuf));

	if (rc < 0)
		return rc;
	buf = malloc(70000);
	tape_medium_info(t, &m);
	for (uint32_t part = 0; part < m.partitions; part++) {
		tape_locate(t, part, 0);
		for (int i = 0; i < 100000 && tape_read(t, buf, 70000) != -ENODATA; i++)
			;
		tape_space(t, TAPE_SPACE_FILEMARKS, -2);
		tape_space(t, TAPE_SPACE_RECORDS, 3);
		tape_get_attr(t, part, TAPE_ATTR_APPLICATION_NAME, &a);
	}
	if (do_write) {
		tape_locate(t, 0, 0);
		write_seed(t, 1000, 1);
	}
	free(buf);
	tape_close(t);
	return 0;
}

static void put_crc_le(uint8_t *p, uint32_t c)
{
	le32(p, c);
}

static void test_fuzz(void)
{
	struct tape_image_params p = { .size = 2 * MiB, .partitions = 2, .partition_size = { 512 * KiB } };
	const char *path = create_image(&p);
	struct tape *t = path ? open_image(path, 0) : NULL;
	struct tape_attr a = { .id = TAPE_ATTR_APPLICATION_NAME, .format = TAPE_ATTR_ASCII, .length = 8,
			       .value = "fusetape" };
	uint32_t rng = 12345, opened = 0;
	int fd;
	const int rounds = 300;

	CHECK(t != NULL, "fuzz image");
	if (!t)
		return;
	for (uint32_t part = 0; part < 2; part++) {
		tape_locate(t, part, 0);
		for (uint32_t i = 0; i < 20; i++) {
			write_seed(t, 100 + i * 300, i);
			if (i % 6 == 5)
				tape_write_filemarks(t, 1);
		}
		tape_set_attr(t, part, &a);
	}
	tape_close(t);
	fd = open(path, O_RDWR);
	for (int r = 0; r < rounds; r++) {
		/* a few random bytes in the metadata and the first table entries */
		off_t where[4];
		uint8_t old[4], hdr[4096];
		bool rewrite_crc = r % 3 == 0;

		if (rewrite_crc && pread(fd, hdr, 4096, 0) != 4096)
			break;
		for (int k = 0; k < 4; k++) {
			rng = rng * 1103515245u + 12345;
			if (rewrite_crc)
				where[k] = (off_t)(rng >> 8) % 512;	/* header fields, valid crc */
			else if (k % 2)
				where[k] = 270336 + (off_t)(rng >> 8) % (32 * 40);	/* table */
			else
				where[k] = (off_t)(rng >> 8) % 270336;	/* header and MAM */
			if (pread(fd, &old[k], 1, where[k]) != 1)
				break;
			uint8_t v = (uint8_t)(old[k] ^ (1u << ((rng >> 4) & 7)));
			if (pwrite(fd, &v, 1, where[k]) != 1)
				break;
		}
		if (rewrite_crc) {
			uint8_t h2[4096];
			if (pread(fd, h2, 4096, 0) == 4096) {
				put_crc_le(h2 + 4092, tape_crc32c(0, h2, 4092));
				if (pwrite(fd, h2, 4096, 0) != 4096 || pwrite(fd, h2, 4096, 4096) != 4096)
					break;
			}
		}
		/* in-process: a crash or sanitizer report ends the whole test, loudly */
		if (exercise(path, r % 20 == 0) == 0)
			opened++;
		/* undo (the exercise may have written a record: that is fine) */
		for (int k = 3; k >= 0; k--)
			if (pwrite(fd, &old[k], 1, where[k]) != 1)
				break;
		if (rewrite_crc && (pwrite(fd, hdr, 4096, 0) != 4096 || pwrite(fd, hdr, 4096, 4096) != 4096))
			break;
	}
	close(fd);
	CHECK(opened > 0 && opened < (uint32_t)rounds,
	      "%d damaged images read without a crash (%u opened, the rest refused)", rounds, opened);
}

static void test_open_errors(void)
{
	struct tape *t = (struct tape *)1;

	CHECK_EQ(tape_open("/nonexistent/x.img", 0, &t, errbuf, sizeof(errbuf)), -ENOENT, "missing file: -ENOENT");
	CHECK(t == NULL, "... *out is NULL");
	CHECK(strstr(errbuf, "/nonexistent/x.img") != NULL, "... message names the path");
	CHECK_EQ(tape_open(dir, 0, &t, errbuf, sizeof(errbuf)), -EINVAL, "a directory: -EINVAL");
	t = (struct tape *)1;
	errbuf[0] = '\0';
	CHECK(tape_open("/dev/null", 0, &t, errbuf, sizeof(errbuf)) < 0 && t == NULL && errbuf[0],
	      "a character device that is no tape is refused: %s", errbuf);
	CHECK_EQ(tape_close(NULL), 0, "tape_close(NULL)");
	CHECK(tape_read(NULL, errbuf, 1) == -EINVAL && tape_write(NULL, errbuf, 1) == -EINVAL &&
	      tape_locate(NULL, 0, 0) == -EINVAL && tape_space(NULL, TAPE_SPACE_EOD, 0) == -EINVAL &&
	      tape_write_filemarks(NULL, 1) == -EINVAL && tape_format(NULL, 1, NULL) == -EINVAL,
	      "calls on a NULL handle give -EINVAL");
	CHECK(tape_last(NULL)->sense == TAPE_SENSE_NONE && tape_caps(NULL)->max_record == 0,
	      "accessors on a NULL handle do not crash");
	CHECK(strcmp(tape_sense_name(TAPE_SENSE_EOD), "end of data") == 0, "sense names");
}

int main(void)
{
	test_dir_make("test_tape_image");
	test_parse_size();
	test_crc32c();
	test_create_and_identity();
	test_bad_create_params();
	test_records_and_filemarks();
	test_big_records();
	test_overwrite_truncates();
	test_early_warning_and_eom();
	test_auto_early_warning();
	test_write_protect();
	test_partitions();
	test_space();
	test_locate_and_load();
	test_attributes();
	test_two_writers();
	test_kill9();
	test_tombstone_crash();
	test_corrupt();
	test_fuzz();
	test_open_errors();
	test_dir_remove();
	return tap_done();
}
