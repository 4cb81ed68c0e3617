/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rig-blank.c - every guest test starts on a blank tape: reading at BOT
 * finds end of data.  Then it writes a record and a filemark, which the
 * next test must not see (st-basic checks the same at its start).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tape/tape.h"
#include "tap.h"

int main(void)
{
	const char *dev = getenv("FUSETAPE_TAPE");
	static char buf[1 << 20];
	char err[256];
	struct tape *t = NULL;
	ssize_t n;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = tape_open(dev ? dev : "/dev/nst0", 0, &t, err, sizeof(err));
	CHECK(rc == 0, "open (%s)", rc ? err : "ok");
	if (rc)
		return tap_done();
	n = tape_read(t, buf, sizeof(buf));
	CHECK(n == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD,
	      "the tape is blank: end of data at BOT (got %zd)", n);
	CHECK(tape_write(t, "left by rig-blank", 17) == 17, "write a record");
	CHECK_EQ(tape_write_filemarks(t, 1), 0, "and a filemark");
	CHECK_EQ(tape_close(t), 0, "close");
	return tap_done();
}
