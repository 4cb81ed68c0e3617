/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tree.c - the in-memory namespace: nodes found by uid and by (directory,
 * name) through two hash maps, and each directory's children kept sorted
 * by uid, the order the index is written in and readdir's cookies follow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ltfs/ltfs_internal.h"

static size_t hash_uid(uint64_t uid)
{
	uid ^= uid >> 33;
	uid *= 0xff51afd7ed558ccdULL;
	uid ^= uid >> 33;
	return (size_t)uid;
}

static size_t hash_name(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ hash_uid(parent);

	for (; *name; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

int ltfs_tree_init(struct ltfs_tree *tr)
{
	memset(tr, 0, sizeof(*tr));
	tr->uid_cap = 256;
	tr->name_cap = 256;
	tr->uid_tab = calloc(tr->uid_cap, sizeof(*tr->uid_tab));
	tr->name_tab = calloc(tr->name_cap, sizeof(*tr->name_tab));
	if (!tr->uid_tab || !tr->name_tab) {
		free(tr->uid_tab);
		free(tr->name_tab);
		memset(tr, 0, sizeof(*tr));
		return -ENOMEM;
	}
	return 0;
}

void ltfs_tree_free(struct ltfs_tree *tr)
{
	size_t i;

	if (!tr->uid_tab)
		return;
	for (i = 0; i < tr->uid_cap; i++) {
		struct ltfs_node *n = tr->uid_tab[i], *next;

		for (; n; n = next) {
			next = n->uid_next;
			ltfs_node_free(n);
		}
	}
	free(tr->uid_tab);
	free(tr->name_tab);
	memset(tr, 0, sizeof(*tr));
}

struct ltfs_node *ltfs_node_new(enum ltfs_type type, uint64_t uid)
{
	struct ltfs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = type;
	n->uid = uid;
	return n;
}

void ltfs_node_free(struct ltfs_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->nxattr; i++) {
		free(n->xattr[i].key);
		free(n->xattr[i].value);
	}
	free(n->xattr);
	free(n->name);
	free(n->child);
	free(n->child_uid);
	free(n->ext);
	free(n->symlink);
	free(n->preserved);
	free(n);
}

static int grow_uid(struct ltfs_tree *tr)
{
	size_t cap = tr->uid_cap * 2, i;
	struct ltfs_node **tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < tr->uid_cap; i++) {
		struct ltfs_node *n = tr->uid_tab[i], *next;

		for (; n; n = next) {
			size_t h = hash_uid(n->uid) & (cap - 1);

			next = n->uid_next;
			n->uid_next = tab[h];
			tab[h] = n;
		}
	}
	free(tr->uid_tab);
	tr->uid_tab = tab;
	tr->uid_cap = cap;
	return 0;
}

static int grow_name(struct ltfs_tree *tr)
{
	size_t cap = tr->name_cap * 2, i;
	struct ltfs_node **tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < tr->name_cap; i++) {
		struct ltfs_node *n = tr->name_tab[i], *next;

		for (; n; n = next) {
			size_t h = hash_name(n->parent->uid, n->name) & (cap - 1);

			next = n->name_next;
			n->name_next = tab[h];
			tab[h] = n;
		}
	}
	free(tr->name_tab);
	tr->name_tab = tab;
	tr->name_cap = cap;
	return 0;
}

struct ltfs_node *ltfs_tree_get(const struct ltfs_tree *tr, uint64_t uid)
{
	struct ltfs_node *n;

	if (!tr->uid_tab)
		return NULL;
	for (n = tr->uid_tab[hash_uid(uid) & (tr->uid_cap - 1)]; n; n = n->uid_next)
		if (n->uid == uid)
			return n;
	return NULL;
}

int ltfs_tree_add_uid(struct ltfs_tree *tr, struct ltfs_node *n)
{
	size_t h;

	if (ltfs_tree_get(tr, n->uid))
		return -EEXIST;
	if (tr->count + 1 > tr->uid_cap && grow_uid(tr))
		return -ENOMEM;
	h = hash_uid(n->uid) & (tr->uid_cap - 1);
	n->uid_next = tr->uid_tab[h];
	tr->uid_tab[h] = n;
	tr->count++;
	if (n->uid > tr->highest_uid)
		tr->highest_uid = n->uid;
	return 0;
}

void ltfs_tree_del_uid(struct ltfs_tree *tr, struct ltfs_node *n)
{
	struct ltfs_node **pp = &tr->uid_tab[hash_uid(n->uid) & (tr->uid_cap - 1)];

	for (; *pp; pp = &(*pp)->uid_next) {
		if (*pp == n) {
			*pp = n->uid_next;
			n->uid_next = NULL;
			tr->count--;
			return;
		}
	}
}

struct ltfs_node *ltfs_tree_lookup(const struct ltfs_tree *tr,
				   const struct ltfs_node *dir, const char *name)
{
	struct ltfs_node *n;

	for (n = tr->name_tab[hash_name(dir->uid, name) & (tr->name_cap - 1)]; n;
	     n = n->name_next)
		if (n->parent == dir && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

size_t ltfs_dir_seek(const struct ltfs_node *dir, uint64_t after)
{
	size_t lo = 0, hi = dir->nslot;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dir->child_uid[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Squeeze out the NULL slots. */
static void dir_compact(struct ltfs_node *dir)
{
	size_t i, k = 0;

	for (i = 0; i < dir->nslot; i++) {
		if (dir->child[i]) {
			dir->child[k] = dir->child[i];
			dir->child_uid[k] = dir->child_uid[i];
			k++;
		}
	}
	dir->nslot = k;
}

static size_t name_slot(const struct ltfs_tree *tr, const struct ltfs_node *dir,
			const char *name)
{
	return hash_name(dir->uid, name) & (tr->name_cap - 1);
}

static void name_del(struct ltfs_tree *tr, struct ltfs_node *n)
{
	struct ltfs_node **pp = &tr->name_tab[name_slot(tr, n->parent, n->name)];

	for (; *pp; pp = &(*pp)->name_next) {
		if (*pp == n) {
			*pp = n->name_next;
			tr->named--;
			break;
		}
	}
	n->name_next = NULL;
}

static void name_add(struct ltfs_tree *tr, struct ltfs_node *n)
{
	size_t h = name_slot(tr, n->parent, n->name);

	n->name_next = tr->name_tab[h];
	tr->name_tab[h] = n;
	tr->named++;
}

int ltfs_tree_link(struct ltfs_tree *tr, struct ltfs_node *dir,
		   struct ltfs_node *n)
{
	size_t pos;

	if (ltfs_tree_lookup(tr, dir, n->name))
		return -EEXIST;
	if (dir->nslot == dir->child_cap && dir->nslot > 2 * dir->nchild)
		dir_compact(dir);
	if (dir->nslot == dir->child_cap) {
		size_t cap = dir->child_cap ? dir->child_cap * 2 : 4;
		struct ltfs_node **c = realloc(dir->child, cap * sizeof(*c));
		uint64_t *u;

		if (!c)
			return -ENOMEM;
		dir->child = c;
		u = realloc(dir->child_uid, cap * sizeof(*u));
		if (!u)
			return -ENOMEM;
		dir->child_uid = u;
		dir->child_cap = cap;
	}
	if (tr->named + 1 > tr->name_cap && grow_name(tr))
		return -ENOMEM;
	pos = ltfs_dir_seek(dir, n->uid);
	if (pos > 0 && !dir->child[pos - 1]) {
		/* reuse the hole just before: order stays sorted */
		pos--;
	} else {
		memmove(dir->child + pos + 1, dir->child + pos,
			(dir->nslot - pos) * sizeof(*dir->child));
		memmove(dir->child_uid + pos + 1, dir->child_uid + pos,
			(dir->nslot - pos) * sizeof(*dir->child_uid));
		dir->nslot++;
	}
	dir->child[pos] = n;
	dir->child_uid[pos] = n->uid;
	dir->nchild++;
	n->parent = dir;
	if (n->type == LTFS_TYPE_DIR)
		dir->nsubdirs++;
	name_add(tr, n);
	return 0;
}

void ltfs_tree_unlink(struct ltfs_tree *tr, struct ltfs_node *n)
{
	struct ltfs_node *dir = n->parent;
	size_t pos;

	if (!dir)
		return;
	name_del(tr, n);
	pos = ltfs_dir_seek(dir, n->uid - 1);
	if (pos < dir->nslot && dir->child[pos] == n) {
		dir->child[pos] = NULL;
		dir->nchild--;
		if (pos == dir->nslot - 1)
			dir->nslot--;
		else if (dir->nslot > 64 && dir->nslot > 2 * dir->nchild)
			dir_compact(dir);
	}
	if (n->type == LTFS_TYPE_DIR)
		dir->nsubdirs--;
	n->parent = NULL;
}

int ltfs_tree_rename(struct ltfs_tree *tr, struct ltfs_node *n, char *newname)
{
	struct ltfs_node *dir = n->parent;

	if (ltfs_tree_lookup(tr, dir, newname))
		return -EEXIST;
	name_del(tr, n);
	free(n->name);
	n->name = newname;
	name_add(tr, n);
	return 0;
}
