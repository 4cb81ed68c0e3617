/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * time.c - LTFS timestamps: UTC, "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ", always
 * nine fraction digits, clamped to years 0000..9999 as the format demands.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ltfs/ltfs_internal.h"

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix time. */
#define LTFS_TIME_MIN (-62167219200LL)
#define LTFS_TIME_MAX 253402300799LL

void ltfs_time_format(const struct timespec *ts, char out[LTFS_TIME_LEN])
{
	long long sec = ts->tv_sec;
	long nsec = ts->tv_nsec;
	struct tm tm;
	time_t t;
	char wide[96];

	if (nsec < 0 || nsec > 999999999)
		nsec = 0;
	if (sec < LTFS_TIME_MIN) {
		sec = LTFS_TIME_MIN;
		nsec = 0;
	} else if (sec > LTFS_TIME_MAX) {
		sec = LTFS_TIME_MAX;
		nsec = 999999999;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	/* the compiler cannot see that the fields are in range: format wide */
	snprintf(wide, sizeof(wide), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, nsec);
	snprintf(out, LTFS_TIME_LEN, "%.31s", wide);
}

int ltfs_time_parse(const char *s, struct timespec *ts)
{
	int y, mo, d, h, mi, se, n = 0;
	struct tm tm;
	long nsec = 0;
	const char *p;
	int digits = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 ||
	    y < 0 || h < 0 || mi < 0 || se < 0)
		return -EINVAL;
	p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (digits < 9) {
				nsec = nsec * 10 + (*p - '0');
				digits++;
			}
		}
		if (!digits)
			return -EINVAL;
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	if (*p != 'Z' || p[1])
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	ts->tv_sec = timegm(&tm);
	ts->tv_nsec = nsec;
	return 0;
}

struct timespec ltfs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

uint64_t ltfs_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
