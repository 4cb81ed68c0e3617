/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tapedma-eom - write(2) on /dev/tapedma0 at the end of the medium gives
 * st's answers, and they tell the truth: the record that meets the early
 * warning (tgt: NO SENSE + EOM, data written) is reported written, the next
 * write is refused once with ENOSPC without being sent, the one after is
 * attempted again, and so on.  Every record reported written reads back
 * intact and in order; no refused record is on the tape.
 *
 * Fills the whole tape, so it runs only when the rig's tape is small
 * (FUSETAPE_TAPE_MB <= 64, e.g. VM_TAPE_MB=16 tests/vm/run --only
 * tapedma-eom); it skips otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "tap.h"
#include "tapedma.h"

#define REC (256u << 10)
#define MAX_TAPE_MB 64

static void fill(uint8_t *b, size_t len, uint32_t seed)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
}

int main(void)
{
	const char *mb_env = getenv("FUSETAPE_TAPE_MB");
	long tape_mb = mb_env ? atol(mb_env) : 0;
	uint8_t *buf, *want;
	struct tapedma_result last;
	struct tapedma_cmd rew;
	long written = 0, refused = 0, first_refusal = -1, i, max_writes;
	bool alternates = true, truthful = true;
	int prev = 0, fd;	/* 1 written, -1 refused */
	long r, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (tape_mb <= 0 || tape_mb > MAX_TAPE_MB) {
		printf("1..0 # SKIP fills the tape: needs FUSETAPE_TAPE_MB <= %d (it is %s)\n",
		       MAX_TAPE_MB, mb_env ? mb_env : "unset");
		return 0;
	}
	fd = open("/dev/tapedma0", O_RDWR);
	if (fd < 0) {
		printf("not ok 1 - open /dev/tapedma0: %s\n1..1\n", strerror(errno));
		return 1;
	}
	buf = mmap(NULL, REC, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	want = malloc(REC);
	if (buf == MAP_FAILED || !want)
		return 1;

	max_writes = tape_mb * (1 << 20) / REC * 2 + 16;
	for (i = 0; i < max_writes && refused < 4; i++) {
		fill(buf, REC, (uint32_t)written);
		r = write(fd, buf, REC);
		if (r == (long)REC) {
			if (prev == 1 && refused)
				alternates = false;
			written++;
			prev = 1;
		} else if (r == -1 && errno == ENOSPC) {
			if (prev == -1)
				alternates = false;
			if (first_refusal < 0)
				first_refusal = written;
			refused++;
			prev = -1;
		} else {
			printf("# write %ld: %ld (%s)\n", i, r, r < 0 ? strerror(errno) : "short");
			truthful = false;
			break;
		}
	}
	CHECK(truthful, "every write returned the record length or ENOSPC");
	CHECK(first_refusal >= tape_mb * (1 << 20) / REC * 8 / 10,
	      "the first ENOSPC comes near the capacity (%ld of %ld MiB written)",
	      first_refusal * (long)(REC >> 10) / 1024, tape_mb);
	memset(&last, 0, sizeof(last));
	CHECK(ioctl(fd, TAPEDMA_IOC_LAST_SENSE, &last) == 0 && (last.sense[2] & 0x0f) == 0 &&
	      (last.sense[2] & 0x40),
	      "the record before it met the early warning: NO SENSE + EOM in LAST_SENSE");
	CHECK(refused == 4 && alternates,
	      "past the warning, writes alternate: written, ENOSPC, written, ... (%ld refused)",
	      refused);

	memset(&rew, 0, sizeof(rew));
	rew.cdb[0] = 0x01;
	rew.cdb_len = 6;
	CHECK(ioctl(fd, TAPEDMA_IOC_CMD, &rew) == 0, "rewind");
	for (n = 0; n < written; n++) {
		r = read(fd, buf, REC);
		if (r != (long)REC)
			break;
		fill(want, REC, (uint32_t)n);
		if (memcmp(buf, want, REC))
			break;
	}
	CHECK(n == written, "all %ld records reported written read back intact, in order (%ld)",
	      written, n);
	r = read(fd, buf, REC);
	CHECK_EQ(r, 0, "and nothing else is on the tape: end of data follows");
	CHECK(ioctl(fd, TAPEDMA_IOC_CMD, &rew) == 0, "rewind");
	close(fd);
	return tap_done();
}
