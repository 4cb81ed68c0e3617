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
	size_t lo = 0, hi = dir->nchild;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dir->child[mid]->uid <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int ltfs_tree_link(struct ltfs_tree *tr, struct ltfs_node *dir,
		   struct ltfs_node *n)
{
	size_t pos, h;

	if (ltfs_tree_lookup(tr, dir, n->name))
		return -EEXIST;
	if (dir->nchild == dir->child_cap) {
		size_t cap = dir->child_cap ? dir->child_cap * 2 : 4;
		struct ltfs_node **c = realloc(dir->child, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		dir->child = c;
		dir->child_cap = cap;
	}
	if (tr->named + 1 > tr->name_cap && grow_name(tr))
		return -ENOMEM;
	pos = ltfs_dir_seek(dir, n->uid);
	memmove(dir->child + pos + 1, dir->child + pos,
		(dir->nchild - pos) * sizeof(*dir->child));
	dir->child[pos] = n;
	dir->nchild++;
	n->parent = dir;
	if (n->type == LTFS_TYPE_DIR)
		dir->nsubdirs++;
	h = hash_name(dir->uid, n->name) & (tr->name_cap - 1);
	n->name_next = tr->name_tab[h];
	tr->name_tab[h] = n;
	tr->named++;
	return 0;
}

void ltfs_tree_unlink(struct ltfs_tree *tr, struct ltfs_node *n)
{
	struct ltfs_node *dir = n->parent, **pp;
	size_t pos;

	if (!dir)
		return;
	pp = &tr->name_tab[hash_name(dir->uid, n->name) & (tr->name_cap - 1)];
	for (; *pp; pp = &(*pp)->name_next) {
		if (*pp == n) {
			*pp = n->name_next;
			tr->named--;
			break;
		}
	}
	n->name_next = NULL;
	pos = ltfs_dir_seek(dir, n->uid - 1);
	if (pos < dir->nchild && dir->child[pos] == n) {
		memmove(dir->child + pos, dir->child + pos + 1,
			(dir->nchild - pos - 1) * sizeof(*dir->child));
		dir->nchild--;
	}
	if (n->type == LTFS_TYPE_DIR)
		dir->nsubdirs--;
	n->parent = NULL;
}
