/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ltfs_data.c - file data and namespace of a mounted volume: files
 * of awkward sizes, packing of small files into shared records, in-place
 * overwrite, append, truncate, sparse files, all compared byte for byte
 * before and after a remount; rename, readdir cookies, xattrs, odd names.
 */
#include <stdio.h>
#include <sys/xattr.h>

#include "test_ltfs_util.h"

#define BS 65536u

struct model {
	const char *name;
	uint64_t uid;
	unsigned char *data;
	size_t len;
};

static struct model files[80];
static int nfiles;

static struct model *model_add(const char *name, uint64_t uid, const void *data, size_t len)
{
	struct model *m = &files[nfiles++];

	m->name = name;
	m->uid = uid;
	m->len = len;
	m->data = malloc(len + 1);
	memcpy(m->data, data, len);
	return m;
}

/* Apply a write to the model. */
static void model_write(struct model *m, const void *buf, size_t len, size_t off)
{
	if (off + len > m->len) {
		m->data = realloc(m->data, off + len);
		if (off > m->len)
			memset(m->data + m->len, 0, off - m->len);
		m->len = off + len;
	}
	memcpy(m->data + off, buf, len);
}

static void model_truncate(struct model *m, size_t len)
{
	if (len > m->len) {
		m->data = realloc(m->data, len);
		memset(m->data + m->len, 0, len - m->len);
	}
	m->len = len;
}

static void check_all(struct ltfs_volume *v, const char *when)
{
	int i, bad = 0;

	for (i = 0; i < nfiles; i++) {
		if (!file_equals(v, files[i].uid, files[i].data, files[i].len)) {
			printf("# %s: %s (uid %llu, %zu bytes) differs\n", when, files[i].name,
			       (unsigned long long)files[i].uid, files[i].len);
			bad++;
		}
	}
	CHECK_EQ(bad, 0, "%s: all %d files read back identical", when, nfiles);
}

/* Unaligned reads across records and extents match too. */
static void check_pieces(struct ltfs_volume *v, struct model *m)
{
	unsigned char buf[7000];
	size_t off;
	int bad = 0;

	for (off = 0; off < m->len; off += 6007) {
		size_t want = m->len - off < sizeof(buf) ? m->len - off : sizeof(buf);
		ssize_t n = ltfs_read(v, m->uid, buf, sizeof(buf), off);

		if (n != (ssize_t)want || memcmp(buf, m->data + off, want))
			bad++;
	}
	CHECK_EQ(bad, 0, "piecewise reads of %s", m->name);
}

static struct ltfs_node *node(struct ltfs_volume *v, uint64_t uid)
{
	return ltfs_tree_get(&v->ix.tree, uid);
}

struct rd {
	uint64_t seen[64];
	int n, stop_after;
	uint64_t last_cookie;
};

static int rd_fill(void *ctx, const char *name, const struct ltfs_stat *st, uint64_t next)
{
	struct rd *r = ctx;

	if (r->stop_after && r->n >= r->stop_after)
		return 1;
	r->seen[r->n++] = st->uid;
	r->last_cookie = next;
	return 0;
}

static void test_files(const char *path)
{
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	static const size_t sizes[] = { 0, 1, 4095, 4096, BS - 1, BS, BS + 1, 3u << 20 };
	static const char *names[] = { "s0", "s1", "s4095", "s4096", "sbs-1", "sbs", "sbs+1",
				       "s3M" };
	unsigned char *big = malloc(8u << 20);
	struct ltfs_stat st;
	uint64_t small_uids[40];
	struct tape_image_info ii;
	size_t i;
	uint64_t recs_before, recs_after;
	struct model *over, *app, *sparse;

	CHECK_EQ(format_default(t, BS, "datavol"), 0, "format");
	v = mount_rw(t);
	if (!v)
		return;
	fill_random(big, 8u << 20);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t uid = put_file(v, 1, names[i], big + i * 1000, sizes[i],
					i % 2 ? 131072 : 1000);

		CHECK(uid != 0, "wrote %s (%zu bytes)", names[i], sizes[i]);
		model_add(names[i], uid, big + i * 1000, sizes[i]);
	}
	check_all(v, "before sync");
	check_pieces(v, &files[7]);

	/* packing: 40 files of 100 bytes share records */
	CHECK_EQ(ltfs_sync(v, "Sync"), 0, "sync");
	tape_image_get_info(t, &ii);
	recs_before = ii.part[1].records;
	for (i = 0; i < 40; i++) {
		char *nm = malloc(16);

		snprintf(nm, 16, "small%02zu", i);
		small_uids[i] = put_file(v, 1, nm, big + 5000000 + i * 100, 100, 100);
		model_add(nm, small_uids[i], big + 5000000 + i * 100, 100);
	}
	CHECK_EQ(ltfs_sync(v, "Sync"), 0, "sync after small files");
	tape_image_get_info(t, &ii);
	recs_after = ii.part[1].records;
	{
		struct ltfs_node *a = node(v, small_uids[0]), *b = node(v, small_uids[39]);
		uint64_t idx_recs = (uint64_t)((v->dp_next - 1) - v->ix.self.block);

		CHECK(a && b && a->next == 1 && b->next == 1 &&
		      a->ext[0].startblock == b->ext[0].startblock &&
		      b->ext[0].byteoffset == 3900, "40 small files in one record (byte offsets)");
		CHECK_EQ(recs_after - recs_before, 1 + idx_recs,
			 "4000 bytes of small files took one data record on tape");
	}
	check_all(v, "after packing");

	/* overwrite in the middle: three extents as the reference records it */
	{
		unsigned char patch[5000];
		uint64_t uid = put_file(v, 1, "over", big + 100, 200000, 65536);
		struct ltfs_node *n;

		over = model_add("over", uid, big + 100, 200000);
		/* another file in between, so the patch is not adjacent on tape */
		model_add("spacer", put_file(v, 1, "spacer", big + 7, 3000, 3000), big + 7, 3000);
		fill_random(patch, sizeof(patch));
		CHECK_EQ(ltfs_write(v, uid, patch, sizeof(patch), 100000), 5000, "overwrite 5000 at 100000");
		model_write(over, patch, sizeof(patch), 100000);
		n = node(v, uid);
		CHECK(n && n->next == 3 && n->ext[0].fileoffset == 0 && n->ext[0].bytecount == 100000 &&
		      n->ext[1].fileoffset == 100000 && n->ext[1].bytecount == 5000 &&
		      n->ext[2].fileoffset == 105000 && n->ext[2].bytecount == 95000,
		      "split into (0,100000) (100000,5000) (105000,95000)");
		if (n && n->next == 3) {
			uint64_t abs0 = n->ext[0].byteoffset + 105000ull;

			CHECK(n->ext[2].startblock == n->ext[0].startblock + abs0 / BS &&
			      n->ext[2].byteoffset == abs0 % BS, "tail extent points into the old data");
		}
		check_pieces(v, over);
	}
	/* append: adjacent on tape merges, otherwise a new extent */
	{
		uint64_t uid = put_file(v, 1, "app", big + 300, 3000, 3000);
		struct ltfs_node *n;

		app = model_add("app", uid, big + 300, 3000);
		CHECK_EQ(ltfs_write(v, uid, big + 9000, 8, 3000), 8, "append 8 bytes");
		model_write(app, big + 9000, 8, 3000);
		n = node(v, uid);
		CHECK(n && n->next == 1 && n->ext[0].bytecount == 3008, "adjacent append extends the extent");
		model_add("other", put_file(v, 1, "other", big, 10, 10), big, 10);
		CHECK_EQ(ltfs_write(v, uid, big + 9100, 8, 3008), 8, "append after another file");
		model_write(app, big + 9100, 8, 3008);
		CHECK(n->next == 2 && n->ext[1].fileoffset == 3008, "non-adjacent append adds an extent");
	}
	/* truncate and sparse */
	{
		struct ltfs_setattr sa = { .mask = LTFS_SET_LENGTH };
		uint64_t uid = put_file(v, 1, "sparse", "", 0, 1);
		struct ltfs_node *n;

		sa.length = 1000;
		CHECK_EQ(ltfs_setattr(v, files[7].uid, &sa, &st), 0, "truncate 3M file to 1000");
		CHECK_EQ(st.length, 1000, "length 1000");
		model_truncate(&files[7], 1000);
		CHECK(node(v, files[7].uid)->next == 1 &&
		      node(v, files[7].uid)->ext[0].bytecount == 1000, "extent trimmed");
		sa.length = 5000;
		CHECK_EQ(ltfs_setattr(v, files[7].uid, &sa, &st), 0, "extend to 5000 (hole)");
		model_truncate(&files[7], 5000);
		sparse = model_add("sparse", uid, "", 0);
		sa.length = 10000000;
		CHECK_EQ(ltfs_setattr(v, uid, &sa, &st), 0, "sparse: truncate to 10 MB");
		CHECK_EQ(ltfs_write(v, uid, "zz", 2, 10000000), 2, "append 2 bytes");
		model_truncate(sparse, 10000000);
		model_write(sparse, "zz", 2, 10000000);
		n = node(v, uid);
		CHECK(n && n->next == 1 && n->ext[0].fileoffset == 10000000 && n->length == 10000002,
		      "one extent at 10000000, holes not stored");
		CHECK_EQ(ltfs_getattr(v, uid, &st), 0, "getattr");
		CHECK_EQ(st.blocks_512, 1, "sparse file occupies 1 block of 512");
		CHECK_EQ(ltfs_write(v, uid, "mid", 3, 4000000), 3, "write into the hole");
		model_write(sparse, "mid", 3, 4000000);
	}
	check_all(v, "after edits");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	CHECK(v != NULL, "remount");
	if (!v)
		return;
	check_all(v, "after remount");
	check_pieces(v, over);
	check_pieces(v, sparse);
	check_pieces(v, app);
	CHECK_EQ(unmount_ok(v), 0, "unmount 2");
	tape_close(t);
	free(big);
}

static void test_namespace(const char *path)
{
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct ltfs_stat st, st2;
	uint64_t d1, d2, fa, fb, link;
	char buf[256];
	ssize_t n;
	int i;
	static const unsigned char binval[] = { 0, 0xff, '\r', 1, 2, '<', '&' };
	const char *odd[] = { "name:with%odd*chars", "caf\xc3\xa9 \xe2\x82\xac", "tab\there",
			      "<xml>&amp;\"'", " lead and trail " };
	uint64_t odd_uid[5];

	CHECK_EQ(format_default(t, BS, "nsvol"), 0, "format");
	v = mount_rw(t);
	if (!v)
		return;
	CHECK_EQ(ltfs_mkdir(v, 1, "d1", &st), 0, "mkdir d1");
	d1 = st.uid;
	CHECK_EQ(ltfs_mkdir(v, d1, "d2", &st), 0, "mkdir d1/d2");
	d2 = st.uid;
	CHECK_EQ(ltfs_getattr(v, d1, &st), 0, "getattr d1");
	CHECK_EQ(st.nlink, 3, "d1 has nlink 3");
	fa = put_file(v, d1, "a", "AAAA", 4, 4);
	fb = put_file(v, d2, "b", "BBBBBB", 6, 6);
	CHECK_EQ(ltfs_create(v, d1, "a", &st), -EEXIST, "create existing: EEXIST");
	CHECK_EQ(ltfs_create(v, fa, "x", &st), -ENOTDIR, "create in a file: ENOTDIR");
	CHECK_EQ(ltfs_create(v, 1, "bad\xff", &st), -EILSEQ, "invalid UTF-8: EILSEQ");
	CHECK_EQ(ltfs_create(v, 1, "a/b", &st), -EINVAL, "slash: EINVAL");
	CHECK_EQ(ltfs_mkdir(v, 1, "..", &st), -EINVAL, "dot-dot: EINVAL");
	for (i = 0; i < 5; i++) {
		CHECK_EQ(ltfs_create(v, 1, odd[i], &st), 0, "odd name %d created", i);
		odd_uid[i] = st.uid;
	}

	/* rename keeps the uid */
	CHECK_EQ(ltfs_rename(v, d1, "a", d2, "a-renamed", 0), 0, "rename across dirs");
	CHECK_EQ(lookup_uid(v, d2, "a-renamed"), fa, "renamed file keeps uid");
	CHECK_EQ(lookup_uid(v, d1, "a"), 0, "old name gone");
	CHECK_EQ(ltfs_rename(v, d2, "a-renamed", d2, "b", RENAME_NOREPLACE), -EEXIST, "NOREPLACE");
	CHECK_EQ(ltfs_rename(v, d2, "a-renamed", d2, "b", RENAME_EXCHANGE), 0, "EXCHANGE");
	CHECK(lookup_uid(v, d2, "b") == fa && lookup_uid(v, d2, "a-renamed") == fb, "exchanged");
	CHECK_EQ(ltfs_rename(v, 1, "d1", d2, "loop", 0), -EINVAL, "dir into its own subdir: EINVAL");
	CHECK_EQ(ltfs_rename(v, d2, "b", 1, "d1", 0), -EISDIR, "file over dir: EISDIR");
	CHECK_EQ(ltfs_rename(v, d2, "a-renamed", d2, "b", 0), 0, "rename over a file");
	CHECK_EQ(lookup_uid(v, d2, "b"), fb, "target replaced");
	CHECK_EQ(ltfs_getattr(v, fa, &st), 0, "replaced file still known while looked up");
	CHECK_EQ(st.nlink, 0, "replaced file has nlink 0");
	CHECK_EQ(ltfs_rmdir(v, 1, "d1"), -ENOTEMPTY, "rmdir non-empty");

	/* symlink */
	CHECK_EQ(ltfs_symlink(v, 1, "lnk", "d1/d2/b", &st), 0, "symlink");
	link = st.uid;
	CHECK_EQ(st.length, 7, "symlink length = target length");
	n = ltfs_readlink(v, link, buf, sizeof(buf));
	CHECK(n == 7 && !memcmp(buf, "d1/d2/b", 7), "readlink");

	/* xattrs */
	CHECK_EQ(ltfs_setxattr(v, fb, "color", "blue", 4, 0), 0, "setxattr");
	CHECK_EQ(ltfs_setxattr(v, fb, "bin", binval, sizeof(binval), 0), 0, "binary xattr");
	CHECK_EQ(ltfs_setxattr(v, fb, "empty", "", 0, 0), 0, "empty xattr");
	CHECK_EQ(ltfs_setxattr(v, fb, "color", "red", 3, XATTR_CREATE), -EEXIST, "XATTR_CREATE");
	CHECK_EQ(ltfs_setxattr(v, fb, "nope", "x", 1, XATTR_REPLACE), -ENODATA, "XATTR_REPLACE");
	CHECK_EQ(ltfs_setxattr(v, fb, "ltfs.fileUID", "9", 1, 0), -EPERM, "virtual is read-only");
	{
		char bigval[LTFS_XATTR_VALUE_MAX + 1];

		memset(bigval, 'v', sizeof(bigval));
		CHECK_EQ(ltfs_setxattr(v, fb, "big", bigval, sizeof(bigval), 0), -E2BIG, "too big value");
	}
	memset(buf, 0, sizeof(buf));
	n = ltfs_getxattr(v, fb, "ltfs.fileUID", buf, sizeof(buf));
	CHECK(n > 0 && (uint64_t)strtoull(buf, NULL, 10) == fb, "ltfs.fileUID");
	n = ltfs_getxattr(v, fb, "ltfs.partition", buf, sizeof(buf));
	CHECK(n == 1 && buf[0] == 'b', "ltfs.partition = b");
	n = ltfs_getxattr(v, 1, "ltfs.volumeBlocksize", buf, sizeof(buf));
	CHECK(n == 5 && !memcmp(buf, "65536", 5), "ltfs.volumeBlocksize");
	n = ltfs_getxattr(v, 1, "ltfs.volumeUUID", buf, sizeof(buf));
	CHECK(n == 36 && !memcmp(buf, v->ix.uuid, 36), "ltfs.volumeUUID");
	CHECK_EQ(ltfs_getxattr(v, 1, "ltfs.nonsense", buf, sizeof(buf)), -ENODATA, "unknown virtual");

	/* readdir: cookies stay valid across changes */
	{
		struct rd r1 = { .stop_after = 3 }, r2 = { 0 };
		uint64_t dir = d1;
		char nm[16];
		int dup = 0, j, k;
		uint64_t removed;

		for (i = 0; i < 10; i++) {
			snprintf(nm, sizeof(nm), "e%d", i);
			ltfs_create(v, dir, nm, &st);
		}
		ltfs_readdir(v, dir, 0, rd_fill, &r1);
		CHECK_EQ(r1.n, 3, "first batch of 3");
		/* d2 is first (lowest uid); remove an entry not yet seen, add one */
		removed = lookup_uid(v, dir, "e5");
		ltfs_unlink(v, dir, "e5");
		ltfs_create(v, dir, "late", &st);
		ltfs_readdir(v, dir, r1.last_cookie, rd_fill, &r2);
		for (j = 0; j < r1.n; j++)
			for (k = 0; k < r2.n; k++)
				if (r1.seen[j] == r2.seen[k])
					dup++;
		CHECK_EQ(dup, 0, "no entry repeated after resuming");
		CHECK_EQ(r1.n + r2.n, 11 + 1 - 1, "every remaining entry seen once (d2, 9 e*, late)");
		for (k = 0; k < r2.n; k++)
			CHECK(r2.seen[k] != removed, "removed entry not returned");
	}
	ltfs_forget(v, fa, 1);
	CHECK_EQ(ltfs_getattr(v, fa, &st), -ENOENT, "forgotten unlinked file is gone");

	/* times and readonly */
	{
		struct ltfs_setattr sa = { .mask = LTFS_SET_MODIFY | LTFS_SET_READONLY };

		sa.modify.tv_sec = 1000000000;
		sa.modify.tv_nsec = 123456789;
		sa.readonly = true;
		CHECK_EQ(ltfs_setattr(v, fb, &sa, &st), 0, "setattr mtime+readonly");
		CHECK(st.modify.tv_sec == 1000000000 && st.readonly, "applied");
	}
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	CHECK(v != NULL, "remount");
	if (!v)
		return;
	CHECK_EQ(lookup_uid(v, d2, "b"), fb, "rename survived");
	CHECK_EQ(lookup_uid(v, 1, "lnk"), link, "symlink survived");
	n = ltfs_readlink(v, link, buf, sizeof(buf));
	CHECK(n == 7 && !memcmp(buf, "d1/d2/b", 7), "symlink target survived");
	CHECK(file_equals(v, fb, "BBBBBB", 6), "file data survived");
	for (i = 0; i < 5; i++)
		CHECK_EQ(lookup_uid(v, 1, odd[i]), odd_uid[i], "odd name %d survived", i);
	n = ltfs_getxattr(v, fb, "bin", buf, sizeof(buf));
	CHECK(n == sizeof(binval) && !memcmp(buf, binval, sizeof(binval)), "binary xattr survived");
	n = ltfs_getxattr(v, fb, "color", buf, sizeof(buf));
	CHECK(n == 4 && !memcmp(buf, "blue", 4), "text xattr survived");
	CHECK_EQ(ltfs_getxattr(v, fb, "empty", buf, sizeof(buf)), 0, "empty xattr survived");
	n = ltfs_listxattr(v, fb, buf, sizeof(buf));
	CHECK(n == 16 && !memcmp(buf, "color\0bin\0empty\0", 16), "listxattr");
	CHECK_EQ(ltfs_removexattr(v, fb, "bin"), 0, "removexattr");
	CHECK_EQ(ltfs_getxattr(v, fb, "bin", buf, sizeof(buf)), -ENODATA, "removed");
	CHECK_EQ(ltfs_getattr(v, fb, &st), 0, "getattr");
	CHECK(st.modify.tv_sec == 1000000000 && st.modify.tv_nsec == 123456789 && st.readonly,
	      "times and readonly survived to the nanosecond");
	CHECK_EQ(ltfs_getattr(v, d1, &st2), 0, "getattr d1");
	CHECK_EQ(v->ix.tree.highest_uid, 22, "highestfileuid counts every uid issued");
	CHECK_EQ(lookup_uid(v, 1, "nonexistent"), 0, "lookup of a missing name");
	CHECK_EQ(unmount_ok(v), 0, "unmount 2");
	tape_close(t);
}

struct rdall {
	uint64_t *uids;
	int n;
};

static int rdall_fill(void *ctx, const char *name, const struct ltfs_stat *st, uint64_t next)
{
	struct rdall *r = ctx;

	r->uids[r->n++] = st->uid;
	return r->n % 100 == 0;	/* stop often: resume by cookie */
}

/* Every entry exactly once, in uid order, resuming by cookie. */
static int list_dir(struct ltfs_volume *v, uint64_t dir, uint64_t *uids)
{
	struct rdall r = { uids, 0 };
	int before;

	do {
		before = r.n;
		ltfs_readdir(v, dir, r.n ? uids[r.n - 1] : 0, rdall_fill, &r);
	} while (r.n != before && r.n % 100 == 0);
	return r.n;
}

/* A big directory emptied from the front and refilled stays consistent. */
static void test_big_dir(const char *path)
{
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct ltfs_stat st;
	static uint64_t made[3000], seen[4000];
	static bool live[3000];
	char name[32];
	int i, n, want, bad = 0;
	uint64_t dir;

	CHECK_EQ(format_default(t, 65536, "bigdir"), 0, "format");
	v = mount_rw(t);
	if (!v)
		return;
	ltfs_mkdir(v, 1, "d", &st);
	dir = st.uid;
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ltfs_create(v, dir, name, &st);
		made[i] = st.uid;
		live[i] = true;
	}
	/* remove from the front, every third kept; rename some in place */
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		if (i % 3 == 0) {
			char nn[32];

			snprintf(nn, sizeof(nn), "m%d", i);
			if (ltfs_rename(v, dir, name, dir, nn, 0))
				bad++;
			continue;
		}
		if (ltfs_unlink(v, dir, name))
			bad++;
		live[i] = false;
	}
	CHECK_EQ(bad, 0, "2000 unlinks and 1000 same-directory renames");
	n = list_dir(v, dir, seen);
	for (i = 0, want = 0; i < 3000; i++)
		if (live[i] && (want >= n || seen[want++] != made[i]))
			bad++;
	CHECK(bad == 0 && n == 1000, "readdir lists the 1000 left, in uid order (%d)", n);
	/* moves out and back in reuse the slots */
	for (i = 0; i < 3000; i += 3) {
		snprintf(name, sizeof(name), "m%d", i);
		ltfs_rename(v, dir, name, 1, name, 0);
		ltfs_rename(v, 1, name, dir, name, 0);
	}
	n = list_dir(v, dir, seen);
	for (i = 0, want = 0; i < 3000; i++)
		if (live[i] && (want >= n || seen[want++] != made[i]))
			bad++;
	CHECK(bad == 0 && n == 1000, "still exactly those after moving out and back");
	CHECK_EQ(ltfs_getattr(v, dir, &st), 0, "getattr");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	n = v ? list_dir(v, dir, seen) : -1;
	CHECK_EQ(n, 1000, "1000 entries after remount");
	CHECK(v && lookup_uid(v, dir, "m2997") == made[2997] && !lookup_uid(v, dir, "n1"),
	      "names after remount");
	if (v)
		unmount_ok(v);
	tape_close(t);
}

/* Random writes, overwrites, truncations and syncs on a few files, checked
 * against a model after every step and across remounts. */
static void test_random_ops(const char *path)
{
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct model *m[4];
	unsigned char *buf = malloc(300000);
	int step, bad = 0, badtape = 0, k;
	uint64_t r;

	CHECK_EQ(format_default(t, 16384, "rnd"), 0, "format with 16 KiB blocks");
	v = mount_rw(t);
	if (!v)
		return;
	while (nfiles > 0)
		free(files[--nfiles].data);
	for (k = 0; k < 4; k++) {
		char *nm = malloc(16);

		snprintf(nm, 16, "r%d", k);
		m[k] = model_add(nm, put_file(v, 1, nm, "", 0, 1), "", 0);
	}
	for (step = 0; step < 600; step++) {
		struct model *f;
		size_t off, len;

		fill_random(&r, sizeof(r));
		f = m[r % 4];
		r >>= 2;
		off = (size_t)(r % (f->len + 40000));
		r >>= 20;
		len = 1 + (size_t)(r % (step % 10 == 0 ? 300000 : 20000));
		r >>= 20;
		switch (r % 10) {
		case 0: {	/* truncate or extend */
			struct ltfs_setattr sa = { .mask = LTFS_SET_LENGTH, .length = off };
			struct ltfs_stat st;

			if (ltfs_setattr(v, f->uid, &sa, &st))
				bad++;
			model_truncate(f, off);
			break;
		}
		case 1:
			ltfs_sync(v, "Sync");
			break;
		case 2:
			if (step % 7 == 0) {
				if (unmount_ok(v))
					bad++;
				v = mount_rw(t);
				if (!v)
					return;
			}
			break;
		default:
			fill_random(buf, len);
			if (ltfs_write(v, f->uid, buf, len, off) != (ssize_t)len)
				bad++;
			model_write(f, buf, len, off);
		}
		for (k = 0; k < 4; k++)
			if (!file_equals(v, m[k]->uid, m[k]->data, m[k]->len))
				badtape++;
		if (badtape) {
			printf("# mismatch after step %d\n", step);
			break;
		}
	}
	CHECK_EQ(bad, 0, "600 random operations succeeded");
	CHECK_EQ(badtape, 0, "every file matched its model after every operation");
	for (k = 0; k < 4; k++) {
		struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, m[k]->uid);
		size_t i;
		int ok = 1;

		for (i = 0; n && i < n->next; i++) {
			if (n->ext[i].byteoffset >= 16384 || !n->ext[i].bytecount ||
			    (i && n->ext[i - 1].fileoffset + n->ext[i - 1].bytecount > n->ext[i].fileoffset) ||
			    n->ext[i].fileoffset + n->ext[i].bytecount > n->length)
				ok = 0;
		}
		CHECK(n && ok, "extents of %s sorted, disjoint, normalised, within the length (%zu)",
		      m[k]->name, n ? n->next : 0);
	}
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	if (v) {
		check_all(v, "random ops after remount");
		unmount_ok(v);
	}
	tape_close(t);
	free(buf);
}

int main(void)
{
	tdir_make();
	test_files(image_new("data.img", 256ull << 20));
	test_namespace(image_new("ns.img", 64ull << 20));
	test_random_ops(image_new("rnd.img", 512ull << 20));
	test_big_dir(image_new("bigdir.img", 64ull << 20));
	tdir_clean();
	return tap_done();
}
