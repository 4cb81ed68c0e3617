/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tool.h - small helpers the volume tools (mkfs.fusetape, fsck.fusetape,
 * fusetape-image) share: command-line errors, the DEVICE operand, opening
 * the device with a message that says why it failed, names and times.
 */
#ifndef FUSETAPE_MKFS_TOOL_H
#define FUSETAPE_MKFS_TOOL_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "tape/tape.h"

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
 * "PROG: <message>" on stderr, after what is pending on stdout (so that
 * both stay in order on one terminal or file).
 */
void tool_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tool_verror(const char *prog, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Print "PROG: <message>" and the pointer to --help on stderr, then exit
 * with status (16, the usage error of mkfs(8) and fsck(8)).
 */
void tool_usage_error(const char *prog, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/*
 * The usage error getopt_long() found (it returned ch, with an optstring
 * that starts with ':' and opterr 0): an option without its argument, or an
 * unknown one, named as the user wrote it.  Ends as tool_usage_error().
 */
void tool_option_error(const char *prog, int status, int ch, char **argv)
	__attribute__((noreturn));

/*
 * The one DEVICE operand left after the options (argv[optind]); none, or
 * more than one, is a usage error (tool_usage_error() with status).
 */
const char *tool_device_arg(const char *prog, int status, int argc, char **argv);

/* "PROG (fusetape) VERSION" on stdout, for --version. */
void tool_print_version(const char *prog);

/*
 * tape_open(device, flags, t); when it fails, a message on stderr that
 * says why, in the terms a user acts on ("PROG: DEVICE does not exist",
 * "... is write-protected or not writable", "... is in use (mounted or
 * opened by another program)", else the backend's own message), and its
 * negative errno.
 */
int tool_open_tape(const char *prog, const char *device, unsigned flags, struct tape **t);

/* "2026-12-01 06:10:00.123456789 UTC" */
void tool_format_time(const struct timespec *ts, char *buf, size_t len);

#endif
