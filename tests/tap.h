/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tap.h - the few macros fusetape's C tests use to report results as TAP,
 * which tests/run-all counts.  Each CHECK is one test point: it prints
 * "ok N - what" or "not ok N - what" with the file, line and the values
 * that differed.  A test program ends with "return tap_done();", which
 * exits non-zero if any point failed.
 */
#ifndef FUSETAPE_TAP_H
#define FUSETAPE_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

#define CHECK(cond, ...) do { \
	int tap_ok_ = !!(cond); \
	printf("%s %d - ", tap_ok_ ? "ok" : "not ok", ++tap_count); \
	printf(__VA_ARGS__); \
	printf("\n"); \
	if (!tap_ok_) { \
		tap_failed++; \
		printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} \
	fflush(stdout); \
} while (0)

/* Compare two integers; on failure both values are printed. */
#define CHECK_EQ(got, want, ...) do { \
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want); \
	CHECK(tap_g_ == tap_w_, __VA_ARGS__); \
	if (tap_g_ != tap_w_) \
		printf("#   got %lld, want %lld (%s vs %s)\n", tap_g_, tap_w_, #got, #want); \
} while (0)

#define SKIP(why, ...) do { \
	printf("ok %d - ", ++tap_count); \
	printf(__VA_ARGS__); \
	printf(" # SKIP %s\n", why); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
