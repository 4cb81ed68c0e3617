/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_image_window - the verification window of the image backend:
 * tape_image_verify_record() reads records through one mapping kept from
 * record to record.  Checked here: records across window boundaries and
 * records larger than the window verify; the window is reused (fewer maps
 * than records); a live window sees the file as it is now (damage written
 * through another descriptor is found, and a repair is seen); an image
 * shrunk under a live window gives -EIO, not a SIGBUS, and once the bytes
 * are back the same handle verifies them again.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* not every helper of the shared header is needed here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_tape_util.h"

#define RECORDS 40

/* Record lengths: whole and odd numbers of pages, so records end anywhere. */
static size_t rec_len(unsigned i)
{
	static const size_t lens[] = { 65536, 65536 - 7, 100000, 4096, 1, 131072 + 513 };

	return lens[i % (sizeof(lens) / sizeof(lens[0]))];
}

/* An image holding RECORDS records of rec_len(i) bytes with seed 100 + i. */
static struct tape *records_image(const char **pathp)
{
	struct tape_image_params p = { .size = 32 * MiB };
	struct tape *t = make_image(&p, pathp);
	uint8_t *buf = malloc(256 * KiB);
	bool ok = t && buf;

	for (unsigned i = 0; ok && i < RECORDS; i++) {
		fill(buf, rec_len(i), 100 + i);
		ok = tape_write(t, buf, rec_len(i)) == (ssize_t)rec_len(i);
	}
	ok = ok && tape_flush(t) == 0;
	free(buf);
	if (!ok) {
		printf("# could not write the test records\n");
		if (t)
			tape_close(t);
		return NULL;
	}
	return t;
}

/* Every record 0 .. RECORDS-1 verifies; else say which did not. */
static bool all_verify(struct tape *t)
{
	for (unsigned i = 0; i < RECORDS; i++) {
		int rc = tape_image_verify_record(t, 0, i);

		if (rc) {
			printf("#   record %u: %d\n", i, rc);
			return false;
		}
	}
	return true;
}

static uint64_t maps(struct tape *t)
{
	struct tape_image_window_info wi;

	return tape_image_get_verify_window(t, &wi) == 0 ? wi.maps : UINT64_MAX;
}

static void test_across_windows(void)
{
	struct tape *t = records_image(NULL);
	struct tape_image_window_info wi;
	uint64_t before;

	CHECK(t != NULL, "window: image with %d records", RECORDS);
	if (!t)
		return;
	CHECK_EQ(tape_image_set_verify_window(t, 1000), -EINVAL,
		 "a window size that is not a multiple of 4 KiB: -EINVAL");
	CHECK(all_verify(t), "default window: every record verifies");
	CHECK_EQ(maps(t), 1, "default window: one mapping for all of them");

	CHECK_EQ(tape_image_set_verify_window(t, 256 * KiB), 0, "window of 256 KiB");
	CHECK(tape_image_get_verify_window(t, &wi) == 0 && !wi.mapped,
	      "setting the size drops the window");
	before = maps(t);
	CHECK(all_verify(t), "256 KiB window: every record verifies, across window ends");
	CHECK(maps(t) - before >= 5 && maps(t) - before <= RECORDS / 2,
	      "... the window moved on (maps %llu) but was reused (records %d)",
	      (unsigned long long)(maps(t) - before), RECORDS);

	/* records 2 and 5 (100000 and 131585 bytes) are larger than 64 KiB */
	CHECK_EQ(tape_image_set_verify_window(t, 64 * KiB), 0, "window of 64 KiB");
	CHECK_EQ(tape_image_verify_record(t, 0, 5), 0, "a record larger than the window verifies");
	CHECK(tape_image_get_verify_window(t, &wi) == 0 && wi.mapped && wi.len >= rec_len(5),
	      "... through a window as large as the record (%llu bytes)",
	      (unsigned long long)wi.len);
	CHECK(all_verify(t), "64 KiB window: every record verifies");
	CHECK_EQ(tape_image_verify_record(t, 0, RECORDS), -ENODATA, "EOD: -ENODATA");
	tape_close(t);
}

/* Damage and repair through a second descriptor while the window is live. */
static void test_live_window_sees_writes(void)
{
	const char *path;
	struct tape *t = records_image(&path);
	uint64_t off;
	uint32_t len, crc;
	uint8_t byte, flipped;
	int fd, other;

	CHECK(t != NULL, "damage: image");
	if (!t)
		return;
	CHECK_EQ(tape_image_verify_record(t, 0, 6), 0, "record 6 verifies (window mapped)");
	CHECK_EQ(tape_image_record_extent(t, 0, 7, &fd, &off, &len, &crc), 0, "extent of record 7");
	other = open(path, O_RDWR | O_CLOEXEC);
	CHECK(other >= 0 && pread(other, &byte, 1, (off_t)(off + len / 2)) == 1,
	      "a byte in the middle of record 7 read through a second descriptor");
	flipped = byte ^ 0x40;
	CHECK(pwrite(other, &flipped, 1, (off_t)(off + len / 2)) == 1, "... and flipped");
	CHECK_EQ(maps(t), 1, "the window is still the one mapped before the damage");
	CHECK_EQ(tape_image_verify_record(t, 0, 7), -EIO, "the damaged record 7: -EIO");
	CHECK_EQ(tape_image_verify_record(t, 0, 8), 0, "record 8 after it verifies");
	CHECK(pwrite(other, &byte, 1, (off_t)(off + len / 2)) == 1, "the byte put back");
	CHECK_EQ(tape_image_verify_record(t, 0, 7), 0, "record 7 verifies again (not a stale view)");
	CHECK_EQ(maps(t), 1, "... all through one window");
	close(other);
	tape_close(t);
}

/*
 * The image cut in the middle of record 20 while a window covers it:
 * -EIO for records 20 and 21, no SIGBUS, the window dropped; records
 * before the cut still verify; with the bytes written back, 20 and 21
 * verify again on the same handle.
 */
static void test_shrunk_under_window(void)
{
	const char *path;
	struct tape *t = records_image(&path);
	struct tape_image_window_info wi;
	uint64_t off20, off22, size;
	uint32_t len, crc;
	uint8_t *saved = NULL;
	struct stat st;
	int fd, other = -1;

	CHECK(t != NULL, "shrink: image");
	if (!t)
		return;
	if (tape_image_record_extent(t, 0, 20, &fd, &off20, &len, &crc) != 0 ||
	    tape_image_record_extent(t, 0, 22, &fd, &off22, &len, &crc) != 0 ||
	    fstat(fd, &st) != 0) {
		CHECK(0, "shrink: extents of records 20 and 22");
		tape_close(t);
		return;
	}
	size = (uint64_t)st.st_size;
	CHECK_EQ(tape_image_verify_record(t, 0, 19), 0, "record 19 verifies (window mapped)");
	CHECK(tape_image_get_verify_window(t, &wi) == 0 && wi.mapped &&
	      wi.start <= off22 && wi.start + wi.len >= off22,
	      "... and the window covers records 20 and 21");
	saved = malloc(off22 - off20);
	other = open(path, O_RDWR | O_CLOEXEC);
	CHECK(saved && other >= 0 &&
	      pread(other, saved, off22 - off20, (off_t)off20) == (ssize_t)(off22 - off20),
	      "records 20 and 21 saved");
	CHECK(other >= 0 && ftruncate(other, (off_t)(off20 + 8192 + 17)) == 0,
	      "the image cut 8209 bytes into record 20");
	CHECK_EQ(tape_image_verify_record(t, 0, 20), -EIO, "record 20, cut: -EIO, no SIGBUS");
	CHECK(tape_image_get_verify_window(t, &wi) == 0 && !wi.mapped, "... the window dropped");
	CHECK_EQ(tape_image_verify_record(t, 0, 21), -EIO, "record 21, past the end: -EIO");
	CHECK_EQ(tape_image_verify_record(t, 0, 19), 0, "record 19 before the cut still verifies");

	CHECK(other >= 0 && saved && ftruncate(other, (off_t)size) == 0 &&
	      pwrite(other, saved, off22 - off20, (off_t)off20) == (ssize_t)(off22 - off20),
	      "the image grown back and records 20 and 21 rewritten");
	CHECK_EQ(tape_image_verify_record(t, 0, 20), 0, "record 20 verifies again");
	CHECK_EQ(tape_image_verify_record(t, 0, 21), 0, "record 21 verifies again");
	if (other >= 0)
		close(other);
	free(saved);
	tape_close(t);
}

int main(void)
{
	test_dir_make("test_image_window");
	test_across_windows();
	test_live_window_sees_writes();
	test_shrunk_under_window();
	test_dir_remove();
	return tap_done();
}
