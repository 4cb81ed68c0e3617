/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_tape_util.h - shared by the tape backend tests (test_tape_image,
 * test_tape_queue): a private temporary directory for their image files,
 * records of deterministic content that identify themselves by a seed, and
 * shortcuts around the image backend that report what went wrong.
 *
 * The including program calls test_dir_make("name") before its tests and
 * test_dir_remove() after them.
 */
#ifndef TEST_TAPE_UTIL_H
#define TEST_TAPE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "tape/tape.h"
#include "tape/tape_image.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)

static char dir[256];		/* the test directory */
static char errbuf[256];	/* error text of the last backend call */
static int image_no;

/* The test directory, $TMPDIR/NAME.XXXXXX (or /tmp); exits on failure. */
static void test_dir_make(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

/* The test directory and everything left in it. */
static void test_dir_remove(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* A fresh path in the test directory (static buffer). */
static const char *new_path(void)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s/t%d.img", dir, ++image_no);
	return path;
}

/* Deterministic content: record `seed` of length len. */
static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
	}
}

/* Is buf exactly what fill(len, seed) makes? */
static bool same(const uint8_t *buf, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len ? len : 1);
	bool ok;

	fill(want, len, seed);
	ok = memcmp(buf, want, len) == 0;
	free(want);
	return ok;
}

/* A new image with parameters p; its path (static), or NULL (said why). */
static const char *create_image(const struct tape_image_params *p)
{
	const char *path = new_path();
	int rc = tape_image_create(path, p, errbuf, sizeof(errbuf));

	if (rc < 0) {
		printf("# create %s: %s\n", path, errbuf);
		return NULL;
	}
	return path;
}

static struct tape *open_image(const char *path, unsigned flags)
{
	struct tape *t = NULL;
	int rc = tape_open(path, flags, &t, errbuf, sizeof(errbuf));

	if (rc < 0)
		printf("# open %s: %s (%d)\n", path, errbuf, rc);
	return t;
}

/* create_image() and open it read-write; *pathp (if given): its path or NULL. */
static struct tape *make_image(const struct tape_image_params *p, const char **pathp)
{
	const char *path = create_image(p);

	if (pathp)
		*pathp = path;
	return path ? open_image(path, 0) : NULL;
}

/* Read one record and check length and content. */
static bool read_seed(struct tape *t, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len + 16);
	ssize_t n = tape_read(t, buf, len + 16);
	bool ok = n == (ssize_t)len && same(buf, len, seed);

	if (!ok)
		printf("#   read got %zd (sense %s), want %zu bytes of seed %u\n",
		       n, tape_sense_name(tape_last(t)->sense), len, seed);
	free(buf);
	return ok;
}

/* The block number, UINT64_MAX when the position is unknown. */
static uint64_t position(struct tape *t)
{
	struct tape_position pos;

	if (tape_read_position(t, &pos) < 0)
		return UINT64_MAX;
	return pos.block;
}

#endif
