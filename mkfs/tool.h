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

/* "2026-12-01 06:10:00.123456789 UTC" */
void tool_format_time(const struct timespec *ts, char *buf, size_t len);

#endif
