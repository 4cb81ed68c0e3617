/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_tape_queue - write-behind (tape_write_queued): the synchronous
 * fallback every backend has when no arena is registered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tape/tape.h"
#include "tape/tape_image.h"
#include "../tap.h"

static void test_sync_fallback(const char *path)
{
	static unsigned char rec[8192], back[8192];
	struct tape_image_params p = { .size = 64u << 20, .force = true };
	struct tape_queue_state st;
	struct tape *t = NULL;
	uint64_t seq = 0;

	CHECK_EQ(tape_image_create(path, &p, NULL, 0), 0, "create 64 MiB image");
	CHECK_EQ(tape_open(path, 0, &t, NULL, 0), 0, "open image");
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

int main(void)
{
	char path[] = "/tmp/test_tape_queue.XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0, "temporary image file");
	if (fd >= 0)
		close(fd);
	test_sync_fallback(path);
	unlink(path);
	return tap_done();
}
