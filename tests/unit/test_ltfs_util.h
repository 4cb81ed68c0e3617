/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ltfs_util.h - shared by the test_ltfs_* programs: temporary image
 * files, random data, and a few shortcuts around the LTFS core.
 */
#ifndef TEST_LTFS_UTIL_H
#define TEST_LTFS_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "ltfs/ltfs.h"
#include "ltfs/ltfs_internal.h"
#include "tape/tape.h"
#include "tape/tape_image.h"

static char tdir[] = "/tmp/test_ltfs.XXXXXX";

static __attribute__((unused)) void tdir_make(void)
{
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		exit(2);
	}
}

static __attribute__((unused)) void tdir_clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (system(cmd))
		fprintf(stderr, "# cleanup of %s failed\n", tdir);
}

/* Create an image file tdir/name of size bytes; returns the path (static). */
static __attribute__((unused)) const char *image_new(const char *name, uint64_t size)
{
	static char path[256];
	struct tape_image_params p;
	char err[256];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	memset(&p, 0, sizeof(p));
	p.size = size;
	p.partitions = 1;
	p.force = true;
	rc = tape_image_create(path, &p, err, sizeof(err));
	if (rc) {
		printf("# tape_image_create %s: %s\n", path, err);
		exit(2);
	}
	return path;
}

static __attribute__((unused)) struct tape *tape_at(const char *path, unsigned flags)
{
	struct tape *t = NULL;
	char err[256];
	int rc = tape_open(path, flags, &t, err, sizeof(err));

	if (rc) {
		printf("# tape_open %s: %s\n", path, err);
		return NULL;
	}
	return t;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static __attribute__((unused)) void fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		p[i] = (unsigned char)rng_state;
	}
}

static __attribute__((unused)) int format_default(struct tape *t, uint32_t bs, const char *name)
{
	struct ltfs_format_opts fo;
	char err[LTFS_ERRLEN];
	int rc;

	memset(&fo, 0, sizeof(fo));
	fo.volume_name = name;
	fo.barcode = "TST001";
	fo.block_size = bs;
	fo.force = true;
	rc = ltfs_format(t, &fo, err);
	if (rc)
		printf("# ltfs_format: %s (%d)\n", err, rc);
	return rc;
}

static __attribute__((unused)) struct ltfs_volume *mount_rw(struct tape *t)
{
	struct ltfs_volume *v = NULL;
	char err[LTFS_ERRLEN];
	int rc = ltfs_mount(t, NULL, &v, err);

	if (rc)
		printf("# ltfs_mount: %s (%d)\n", err, rc);
	return v;
}

static __attribute__((unused)) int unmount_ok(struct ltfs_volume *v)
{
	char err[LTFS_ERRLEN];
	int rc = ltfs_unmount(v, err);

	if (rc)
		printf("# ltfs_unmount: %s (%d)\n", err, rc);
	return rc;
}

/* Create a file with the given contents; returns its uid or 0. */
static __attribute__((unused)) uint64_t put_file(struct ltfs_volume *v, uint64_t dir, const char *name,
			 const void *data, size_t len, size_t chunk)
{
	struct ltfs_stat st;
	size_t off;

	if (ltfs_create(v, dir, name, &st))
		return 0;
	for (off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (ltfs_write(v, st.uid, (const char *)data + off, n, off) != (ssize_t)n)
			return 0;
	}
	return st.uid;
}

/* Does file uid hold exactly data[0..len)? */
static __attribute__((unused)) int file_equals(struct ltfs_volume *v, uint64_t uid, const void *data,
		       size_t len)
{
	unsigned char *buf = malloc(len + 100);
	struct ltfs_stat st;
	ssize_t n;
	int ok;

	if (!buf || ltfs_getattr(v, uid, &st) || st.length != len) {
		free(buf);
		return 0;
	}
	n = ltfs_read(v, uid, buf, len + 100, 0);
	ok = n == (ssize_t)len && memcmp(buf, data, len) == 0;
	free(buf);
	return ok;
}

static __attribute__((unused)) uint64_t lookup_uid(struct ltfs_volume *v, uint64_t dir, const char *name)
{
	struct ltfs_stat st;

	if (ltfs_lookup(v, dir, name, &st))
		return 0;
	ltfs_forget(v, st.uid, 1);
	return st.uid;
}

#endif
