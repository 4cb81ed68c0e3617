/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltfs/ltfs.h"

/* Length of the UTF-8 sequence starting at s, 0 if it is not well-formed
 * (overlong forms, surrogates and code points past U+10FFFF rejected). */
static size_t utf8_seq(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

const char *tool_check_name(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (strlen(s) > LTFS_NAME_MAX)
		return "longer than 255 bytes";
	while (*p) {
		size_t n = utf8_seq(p);

		if (n == 0)
			return "not valid UTF-8";
		if (n == 1 && (*p < 0x20 || *p == 0x7f))
			return "contains a control character";
		if (*p == '/')
			return "contains '/'";
		p += n;
	}
	return NULL;
}

void tool_format_time(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	time_t sec = ts->tv_sec;

	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, len, "(invalid time)");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%09ld UTC", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)ts->tv_nsec);
}

void tool_verror(const char *prog, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tool_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_verror(prog, fmt, ap);
	va_end(ap);
}

void tool_usage_error(const char *prog, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_verror(prog, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(status);
}

void tool_option_error(const char *prog, int status, int ch, char **argv)
{
	if (ch == ':')
		tool_usage_error(prog, status, "option '%s' needs an argument", argv[optind - 1]);
	if (optopt)
		tool_usage_error(prog, status, "unknown option '-%c'", optopt);
	tool_usage_error(prog, status, "unknown option '%s'", argv[optind - 1]);
}

const char *tool_device_arg(const char *prog, int status, int argc, char **argv)
{
	if (optind >= argc)
		tool_usage_error(prog, status, "no DEVICE given");
	if (optind + 1 < argc)
		tool_usage_error(prog, status, "one DEVICE only (extra argument '%s')",
				 argv[optind + 1]);
	return argv[optind];
}

void tool_print_version(const char *prog)
{
	printf("%s (fusetape) %s\n", prog, FUSETAPE_VERSION);
}

int tool_open_tape(const char *prog, const char *device, unsigned flags, struct tape **t)
{
	char err[256] = "";
	int rc = tape_open(device, flags, t, err, sizeof(err));
	const char *why = err[0] ? err : strerror(-rc);

	if (rc == 0)
		return 0;
	if (rc == -ENOENT)
		tool_error(prog, "%s does not exist", device);
	else if (!(flags & TAPE_OPEN_READONLY) && (rc == -EROFS || rc == -EACCES || rc == -EPERM))
		tool_error(prog, "%s is write-protected or not writable: %s", device, why);
	else if (rc == -EBUSY)
		tool_error(prog, "%s is in use (mounted or opened by another program): %s",
			   device, why);
	else
		tool_error(prog, "cannot open %s: %s", device, why);
	return rc;
}
