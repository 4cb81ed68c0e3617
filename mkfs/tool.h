/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tool.h - small helpers mkfs.fusetape and fsck.fusetape share.
 */
#ifndef FUSETAPE_MKFS_TOOL_H
#define FUSETAPE_MKFS_TOOL_H

#include <stddef.h>
#include <time.h>

#ifndef FUSETAPE_VERSION
#error "FUSETAPE_VERSION comes from the Makefile (VERSION)"
#endif

/*
 * Is s usable as an LTFS volume (root directory) name?  NULL if so, else a
 * sentence saying why not: it must be valid UTF-8, at most 255 bytes, and
 * free of '/' and control characters.
 */
const char *tool_check_name(const char *s);

/*
 * Print "PROG: <message>" and the pointer to --help on stderr, then exit
 * with status (16, the usage error of mkfs(8) and fsck(8)).
 */
void tool_usage_error(const char *prog, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* "2026-12-01 06:10:00.123456789 UTC" */
void tool_format_time(const struct timespec *ts, char *buf, size_t len);

#endif
