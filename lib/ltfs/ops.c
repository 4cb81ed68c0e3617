/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.c - the namespace operations of ltfs.h: lookup, create, unlink,
 * rename, readdir, attributes and extended attributes (stored ones and the
 * virtual read-only "ltfs.*" ones).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/xattr.h>

#include "ltfs/ltfs_internal.h"

void ltfs_stat_fill(const struct ltfs_node *n, struct ltfs_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->uid = n->uid;
	st->type = n->type;
	switch (n->type) {
	case LTFS_TYPE_DIR:
		st->nlink = 2 + n->nsubdirs;
		break;
	case LTFS_TYPE_SYMLINK:
		st->length = n->symlink ? strlen(n->symlink) : 0;
		st->nlink = n->unlinked ? 0 : 1;
		break;
	default:
		st->length = n->length;
		st->nlink = n->unlinked ? 0 : 1;
		st->blocks_512 = (ltfs_extent_bytes(n) + 511) / 512;
		break;
	}
	if (n->type == LTFS_TYPE_DIR && n->unlinked)
		st->nlink = 0;
	st->readonly = n->readonly;
	st->creation = n->creation;
	st->change = n->change;
	st->modify = n->modify;
	st->access = n->access;
	st->backup = n->backup;
}

static struct ltfs_node *get_dir(struct ltfs_volume *v, uint64_t uid, int *err)
{
	struct ltfs_node *d = ltfs_tree_get(&v->ix.tree, uid);

	*err = 0;
	if (!d)
		*err = -ENOENT;
	else if (d->type != LTFS_TYPE_DIR)
		*err = -ENOTDIR;
	else if (d->unlinked)
		*err = -ENOENT;
	return *err ? NULL : d;
}

int ltfs_getattr(struct ltfs_volume *v, uint64_t uid, struct ltfs_stat *out)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);

	if (!n)
		return -ENOENT;
	ltfs_stat_fill(n, out);
	return 0;
}

int ltfs_lookup(struct ltfs_volume *v, uint64_t dir, const char *name,
		struct ltfs_stat *out)
{
	struct ltfs_node *d, *n;
	int rc;

	d = get_dir(v, dir, &rc);
	if (!d)
		return rc;
	if (strlen(name) > LTFS_NAME_MAX)
		return -ENAMETOOLONG;
	n = ltfs_tree_lookup(&v->ix.tree, d, name);
	if (!n)
		return -ENOENT;
	n->nlookup++;
	ltfs_stat_fill(n, out);
	return 0;
}

/* Free an unlinked node once nothing refers to it any more. */
static void maybe_free(struct ltfs_volume *v, struct ltfs_node *n)
{
	if (n->unlinked && n->nlookup == 0) {
		struct ltfs_tree *tr = &v->ix.tree;

		ltfs_tree_del_uid(tr, n);
		tr->extents -= n->next;
		ltfs_node_free(n);
	}
}

void ltfs_forget(struct ltfs_volume *v, uint64_t uid, uint64_t nlookup)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);

	if (!n || n == v->ix.tree.root)
		return;
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	maybe_free(v, n);
}

static void touch_dir(struct ltfs_node *d, struct timespec now)
{
	d->modify = d->change = now;
}

static int new_node(struct ltfs_volume *v, uint64_t dir, const char *name,
		    enum ltfs_type type, const char *target, struct ltfs_stat *out)
{
	struct ltfs_tree *tr = &v->ix.tree;
	struct ltfs_node *d, *n;
	struct timespec now;
	int rc;

	d = get_dir(v, dir, &rc);
	if (!d)
		return rc;
	if (v->readonly)
		return -EROFS;
	rc = ltfs_name_check(name);
	if (rc)
		return rc;
	if (ltfs_tree_lookup(tr, d, name))
		return -EEXIST;
	rc = ltfs_meta_room(v, 1024 + 2 * (strlen(name) + (target ? strlen(target) : 0)));
	if (rc)
		return rc;
	n = ltfs_node_new(type, tr->highest_uid + 1);
	if (!n || !(n->name = strdup(name)) || (target && !(n->symlink = strdup(target)))) {
		ltfs_node_free(n);
		return -ENOMEM;
	}
	now = ltfs_now();
	n->creation = n->change = n->modify = n->access = n->backup = now;
	rc = ltfs_tree_add_uid(tr, n);
	if (rc) {
		ltfs_node_free(n);
		return rc;
	}
	rc = ltfs_tree_link(tr, d, n);
	if (rc) {
		ltfs_tree_del_uid(tr, n);
		ltfs_node_free(n);
		return rc;
	}
	tr->meta_bytes += strlen(name) + (target ? strlen(target) : 0);
	touch_dir(d, now);
	n->nlookup = 1;
	ltfs_mark_dirty(v);
	ltfs_stat_fill(n, out);
	return 0;
}

int ltfs_create(struct ltfs_volume *v, uint64_t dir, const char *name,
		struct ltfs_stat *out)
{
	return new_node(v, dir, name, LTFS_TYPE_FILE, NULL, out);
}

int ltfs_mkdir(struct ltfs_volume *v, uint64_t dir, const char *name,
	       struct ltfs_stat *out)
{
	return new_node(v, dir, name, LTFS_TYPE_DIR, NULL, out);
}

int ltfs_symlink(struct ltfs_volume *v, uint64_t dir, const char *name,
		 const char *target, struct ltfs_stat *out)
{
	size_t len = strlen(target);

	if (!len)
		return -ENOENT;
	if (len >= 4096)
		return -ENAMETOOLONG;
	if (ltfs_utf8_check(target, len))
		return -EILSEQ;
	if (!ltfs_xml_text_ok(target, len))
		return -EINVAL;
	return new_node(v, dir, name, LTFS_TYPE_SYMLINK, target, out);
}

ssize_t ltfs_readlink(struct ltfs_volume *v, uint64_t uid, char *buf, size_t len)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);
	size_t tl;

	if (!n)
		return -ENOENT;
	if (n->type != LTFS_TYPE_SYMLINK)
		return -EINVAL;
	tl = strlen(n->symlink);
	memcpy(buf, n->symlink, tl < len ? tl : len);
	return (ssize_t)tl;
}

/* Take n out of the namespace; it lives on while looked up. */
static void remove_node(struct ltfs_volume *v, struct ltfs_node *n)
{
	struct ltfs_node *d = n->parent;
	struct timespec now = ltfs_now();

	ltfs_tree_unlink(&v->ix.tree, n);
	touch_dir(d, now);
	n->change = now;
	n->unlinked = true;
	ltfs_mark_dirty(v);
	maybe_free(v, n);
}

static int remove_entry(struct ltfs_volume *v, uint64_t dir, const char *name,
			bool want_dir)
{
	struct ltfs_node *d, *n;
	int rc;

	d = get_dir(v, dir, &rc);
	if (!d)
		return rc;
	n = ltfs_tree_lookup(&v->ix.tree, d, name);
	if (!n)
		return strlen(name) > LTFS_NAME_MAX ? -ENAMETOOLONG : -ENOENT;
	if (v->readonly)
		return -EROFS;
	if (want_dir && n->type != LTFS_TYPE_DIR)
		return -ENOTDIR;
	if (!want_dir && n->type == LTFS_TYPE_DIR)
		return -EISDIR;
	if (want_dir && n->nchild)
		return -ENOTEMPTY;
	remove_node(v, n);
	return 0;
}

int ltfs_unlink(struct ltfs_volume *v, uint64_t dir, const char *name)
{
	return remove_entry(v, dir, name, false);
}

int ltfs_rmdir(struct ltfs_volume *v, uint64_t dir, const char *name)
{
	return remove_entry(v, dir, name, true);
}

/* Is a an ancestor of (or equal to) b? */
static bool is_ancestor(const struct ltfs_node *a, const struct ltfs_node *b)
{
	for (; b; b = b->parent)
		if (a == b)
			return true;
	return false;
}

/* Give n the name newname in directory d (n is out of every directory). */
static int relink(struct ltfs_volume *v, struct ltfs_node *n, struct ltfs_node *d,
		  const char *newname)
{
	char *nm = strdup(newname);

	if (!nm)
		return -ENOMEM;
	free(n->name);
	n->name = nm;
	return ltfs_tree_link(&v->ix.tree, d, n);
}

int ltfs_rename(struct ltfs_volume *v, uint64_t dir, const char *name,
		uint64_t newdir, const char *newname, unsigned flags)
{
	struct ltfs_tree *tr = &v->ix.tree;
	struct ltfs_node *d, *nd, *src, *dst;
	struct timespec now;
	char *oldname;
	int rc;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	d = get_dir(v, dir, &rc);
	if (!d)
		return rc;
	nd = get_dir(v, newdir, &rc);
	if (!nd)
		return rc;
	src = ltfs_tree_lookup(tr, d, name);
	if (!src)
		return -ENOENT;
	rc = ltfs_name_check(newname);
	if (rc)
		return rc;
	if (v->readonly)
		return -EROFS;
	dst = ltfs_tree_lookup(tr, nd, newname);
	if (dst == src)
		return 0;
	if (flags & RENAME_EXCHANGE) {
		if (!dst)
			return -ENOENT;
		if ((src->type == LTFS_TYPE_DIR && is_ancestor(src, nd)) ||
		    (dst->type == LTFS_TYPE_DIR && is_ancestor(dst, d)))
			return -EINVAL;
		oldname = strdup(src->name);
		if (!oldname)
			return -ENOMEM;
		ltfs_tree_unlink(tr, src);
		ltfs_tree_unlink(tr, dst);
		rc = relink(v, src, nd, newname);
		if (!rc)
			rc = relink(v, dst, d, oldname);
		free(oldname);
		if (rc)
			return rc;	/* only ENOMEM gets here */
		now = ltfs_now();
		src->change = dst->change = now;
		touch_dir(d, now);
		touch_dir(nd, now);
		ltfs_mark_dirty(v);
		return 0;
	}
	if (src->type == LTFS_TYPE_DIR && is_ancestor(src, nd))
		return -EINVAL;
	if (dst) {
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (src->type == LTFS_TYPE_DIR && dst->type != LTFS_TYPE_DIR)
			return -ENOTDIR;
		if (src->type != LTFS_TYPE_DIR && dst->type == LTFS_TYPE_DIR)
			return -EISDIR;
		if (dst->type == LTFS_TYPE_DIR && dst->nchild)
			return -ENOTEMPTY;
		remove_node(v, dst);
	}
	if (d == nd) {
		/* same directory: the uid order is unchanged, only the name */
		char *nm = strdup(newname);

		if (!nm)
			return -ENOMEM;
		rc = ltfs_tree_rename(tr, src, nm);
		if (rc) {
			free(nm);
			return rc;
		}
	} else {
		ltfs_tree_unlink(tr, src);
		rc = relink(v, src, nd, newname);
		if (rc)
			return rc;
	}
	now = ltfs_now();
	src->change = now;
	touch_dir(d, now);
	touch_dir(nd, now);
	ltfs_mark_dirty(v);
	return 0;
}

int ltfs_readdir(struct ltfs_volume *v, uint64_t dir, uint64_t cookie,
		 ltfs_fill_fn fill, void *ctx)
{
	struct ltfs_node *d;
	size_t i;
	int rc;

	d = get_dir(v, dir, &rc);
	if (!d)
		return rc;
	for (i = ltfs_dir_seek(d, cookie); i < d->nslot; i++) {
		struct ltfs_node *c = d->child[i];
		struct ltfs_stat st;

		if (!c)
			continue;	/* a removed entry's slot */
		ltfs_stat_fill(c, &st);
		if (fill(ctx, c->name, &st, c->uid))
			break;
	}
	return 0;
}

int ltfs_setattr(struct ltfs_volume *v, uint64_t uid,
		 const struct ltfs_setattr *sa, struct ltfs_stat *out)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);
	struct timespec now = ltfs_now();
	int rc;

	if (!n)
		return -ENOENT;
	if (v->readonly && sa->mask)
		return -EROFS;
	if (sa->mask & LTFS_SET_LENGTH) {
		if (n->type == LTFS_TYPE_DIR)
			return -EISDIR;
		if (n->type != LTFS_TYPE_FILE)
			return -EINVAL;
		if ((int64_t)sa->length < 0)
			return -EFBIG;
		if (sa->length != n->length) {
			rc = ltfs_file_set_length(v, n, sa->length);
			if (rc)
				return rc;
			if (!(sa->mask & LTFS_SET_MODIFY))
				n->modify = now;
		}
	}
	if (sa->mask & LTFS_SET_MODIFY)
		n->modify = sa->modify;
	if (sa->mask & LTFS_SET_ACCESS)
		n->access = sa->access;
	if (sa->mask & LTFS_SET_CREATION)
		n->creation = sa->creation;
	if (sa->mask & LTFS_SET_READONLY)
		n->readonly = sa->readonly;
	if (sa->mask & LTFS_SET_CHANGE)
		n->change = sa->change;
	else if (sa->mask)
		n->change = now;
	if (sa->mask)
		ltfs_mark_dirty(v);
	if (out)
		ltfs_stat_fill(n, out);
	return 0;
}

/* ---- extended attributes -------------------------------------------------- */

static struct ltfs_xattr *find_xattr(struct ltfs_node *n, const char *key)
{
	size_t i;

	for (i = 0; i < n->nxattr; i++)
		if (!strcmp(n->xattr[i].key, key))
			return &n->xattr[i];
	return NULL;
}

/* Value of a virtual "ltfs.*" attribute into buf; -ENODATA if none. */
static int virtual_xattr(struct ltfs_volume *v, struct ltfs_node *n,
			 const char *key, char *buf, size_t size)
{
	const struct ltfs_index *ix = &v->ix;
	const char *k = key + 5;
	char t[LTFS_TIME_LEN];

	if (!strcmp(k, "volumeUUID"))
		snprintf(buf, size, "%s", ix->uuid);
	else if (!strcmp(k, "volumeName"))
		snprintf(buf, size, "%s", ix->tree.root->name ? ix->tree.root->name : "");
	else if (!strcmp(k, "volumeSerial"))
		snprintf(buf, size, "%s", v->label.barcode);
	else if (!strcmp(k, "volumeBlocksize"))
		snprintf(buf, size, "%u", v->bs);
	else if (!strcmp(k, "volumeFormatTime"))
		ltfs_time_format(&v->label.formattime, t), snprintf(buf, size, "%s", t);
	else if (!strcmp(k, "indexGeneration"))
		snprintf(buf, size, "%" PRIu64, ix->generation);
	else if (!strcmp(k, "indexLocation"))
		snprintf(buf, size, "%c:%" PRIu64, ix->self.part ? ix->self.part : '-',
			 ix->self.block);
	else if (!strcmp(k, "indexPrevious") && ix->back.part)
		snprintf(buf, size, "%c:%" PRIu64, ix->back.part, ix->back.block);
	else if (!strcmp(k, "indexTime"))
		ltfs_time_format(&ix->updatetime, t), snprintf(buf, size, "%s", t);
	else if (!strcmp(k, "indexCreator"))
		snprintf(buf, size, "%s", ix->creator);
	else if (!strcmp(k, "indexVersion"))
		snprintf(buf, size, "%s", ix->version);
	else if (!strcmp(k, "mediaDataPartitionAvailableSpace")) {
		struct ltfs_space s;

		ltfs_statfs(v, &s);
		snprintf(buf, size, "%" PRIu64, s.free_bytes >> 20);
	} else if (!strcmp(k, "mediaDataPartitionTotalCapacity"))
		snprintf(buf, size, "%" PRIu64, v->dp_capacity >> 20);
	else if (!strcmp(k, "fileUID"))
		snprintf(buf, size, "%" PRIu64, n->uid);
	else if (!strcmp(k, "createTime"))
		ltfs_time_format(&n->creation, t), snprintf(buf, size, "%s", t);
	else if (!strcmp(k, "backupTime"))
		ltfs_time_format(&n->backup, t), snprintf(buf, size, "%s", t);
	else if (!strcmp(k, "startblock") && n->type == LTFS_TYPE_FILE && n->next)
		snprintf(buf, size, "%" PRIu64, n->ext[0].startblock);
	else if (!strcmp(k, "partition") && n->type == LTFS_TYPE_FILE && n->next)
		snprintf(buf, size, "%c", n->ext[0].part);
	else
		return -ENODATA;
	return 0;
}

ssize_t ltfs_getxattr(struct ltfs_volume *v, uint64_t uid, const char *key,
		      void *buf, size_t len)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);
	struct ltfs_xattr *a;

	if (!n)
		return -ENOENT;
	if (!strncmp(key, "ltfs.", 5)) {
		char val[512];
		size_t vl;
		int rc = virtual_xattr(v, n, key, val, sizeof(val));

		if (rc == 0) {
			vl = strlen(val);
			if (len)
				memcpy(buf, val, vl < len ? vl : len);
			return (ssize_t)vl;
		}
		/* else maybe stored, e.g. ltfs.vendor.IBM.prefixLength */
	}
	a = find_xattr(n, key);
	if (!a)
		return -ENODATA;
	if (len)
		memcpy(buf, a->value, a->size < len ? a->size : len);
	return (ssize_t)a->size;
}

static int key_check(const char *key)
{
	size_t len = strlen(key);

	if (!len)
		return -EINVAL;
	if (len > LTFS_NAME_MAX)
		return -ERANGE;
	if (!ltfs_xml_text_ok(key, len))
		return -EINVAL;
	return 0;
}

int ltfs_setxattr(struct ltfs_volume *v, uint64_t uid, const char *key,
		  const void *value, size_t size, int flags)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);
	struct ltfs_xattr *a;
	unsigned char *copy;
	int rc;

	if (!n)
		return -ENOENT;
	rc = key_check(key);
	if (rc)
		return rc;
	if (!strcmp(key, "ltfs.sync"))
		return v->readonly ? -EROFS : ltfs_sync(v, "Sync by EA");
	if (!strncmp(key, "ltfs.", 5))
		return -EPERM;
	if (v->readonly)
		return -EROFS;
	if (size > LTFS_XATTR_VALUE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	a = find_xattr(n, key);
	if (a && (flags & XATTR_CREATE))
		return -EEXIST;
	if (!a && (flags & XATTR_REPLACE))
		return -ENODATA;
	if (size > (a ? a->size : 0) &&
	    (rc = ltfs_meta_room(v, 2 * (size + strlen(key)) + 64)))
		return rc;
	copy = malloc(size ? size : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, size);
	if (!a) {
		struct ltfs_xattr *arr = realloc(n->xattr, (n->nxattr + 1) * sizeof(*arr));
		char *k = strdup(key);

		if (arr)
			n->xattr = arr;
		if (!arr || !k) {
			free(k);
			free(copy);
			return -ENOMEM;
		}
		a = &n->xattr[n->nxattr++];
		a->key = k;
		a->value = NULL;
		a->size = 0;
		v->ix.tree.meta_bytes += strlen(key);
	}
	v->ix.tree.meta_bytes += size;
	v->ix.tree.meta_bytes -= a->size < v->ix.tree.meta_bytes ? a->size : 0;
	free(a->value);
	a->value = copy;
	a->size = size;
	n->change = ltfs_now();
	ltfs_mark_dirty(v);
	return 0;
}

ssize_t ltfs_listxattr(struct ltfs_volume *v, uint64_t uid, char *buf, size_t len)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);
	size_t total = 0, i;

	if (!n)
		return -ENOENT;
	for (i = 0; i < n->nxattr; i++) {
		size_t kl = strlen(n->xattr[i].key) + 1;

		if (len && total + kl <= len)
			memcpy(buf + total, n->xattr[i].key, kl);
		total += kl;
	}
	return (ssize_t)total;
}

int ltfs_removexattr(struct ltfs_volume *v, uint64_t uid, const char *key)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);
	struct ltfs_xattr *a;
	size_t i;

	if (!n)
		return -ENOENT;
	if (!strncmp(key, "ltfs.", 5))
		return -EPERM;
	a = find_xattr(n, key);
	if (!a)
		return -ENODATA;
	if (v->readonly)
		return -EROFS;
	i = (size_t)(a - n->xattr);
	free(a->key);
	free(a->value);
	memmove(n->xattr + i, n->xattr + i + 1, (n->nxattr - i - 1) * sizeof(*a));
	n->nxattr--;
	n->change = ltfs_now();
	ltfs_mark_dirty(v);
	return 0;
}
