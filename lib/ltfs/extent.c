/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * extent.c - a file's extent list: which bytes of the file live where on
 * tape.  Extents are sorted by file offset and never overlap; newer data
 * replaces older data by trimming or splitting the old extents, the way
 * the reference implementation records an in-place overwrite.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ltfs/ltfs_internal.h"

uint64_t ltfs_extent_bytes(const struct ltfs_node *n)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n->next; i++)
		sum += n->ext[i].bytecount;
	return sum;
}

/* Move the start of x forward by delta bytes (file and tape). */
static void advance(struct ltfs_extent *x, uint64_t delta, uint32_t bs)
{
	uint64_t abs = (uint64_t)x->byteoffset + delta;

	x->fileoffset += delta;
	x->bytecount -= delta;
	x->startblock += abs / bs;
	x->byteoffset = (uint32_t)(abs % bs);
}

/* Does e start on tape exactly where p ends? */
static bool tape_adjacent(const struct ltfs_extent *p,
			  const struct ltfs_extent *e, uint32_t bs)
{
	uint64_t end = (uint64_t)p->byteoffset + p->bytecount;

	return p->part == e->part && p->fileoffset + p->bytecount == e->fileoffset &&
	       p->startblock + end / bs == e->startblock &&
	       end % bs == e->byteoffset;
}

static int reserve(struct ltfs_node *n, size_t want)
{
	struct ltfs_extent *x;
	size_t cap;

	if (want <= n->ext_cap)
		return 0;
	cap = n->ext_cap ? n->ext_cap : 2;
	while (cap < want)
		cap *= 2;
	x = realloc(n->ext, cap * sizeof(*x));
	if (!x)
		return -ENOMEM;
	n->ext = x;
	n->ext_cap = cap;
	return 0;
}

size_t ltfs_extent_find(const struct ltfs_node *n, uint64_t off)
{
	size_t lo = 0, hi = n->next;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->ext[mid].fileoffset + n->ext[mid].bytecount <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int ltfs_extent_put(struct ltfs_tree *tr, struct ltfs_node *n,
		    const struct ltfs_extent *e, uint32_t bs)
{
	uint64_t s = e->fileoffset, end = e->fileoffset + e->bytecount;
	struct ltfs_extent *out;
	size_t i, k = 0, before = n->next;

	if (!e->bytecount)
		return 0;
	/* The common case: appending after the last extent. */
	if (!n->next || n->ext[n->next - 1].fileoffset + n->ext[n->next - 1].bytecount <= s) {
		if (n->next && tape_adjacent(&n->ext[n->next - 1], e, bs)) {
			n->ext[n->next - 1].bytecount += e->bytecount;
			return 0;
		}
		if (reserve(n, n->next + 1))
			return -ENOMEM;
		n->ext[n->next++] = *e;
		tr->extents++;
		return 0;
	}
	out = malloc((n->next + 2) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	/* the old extents with [s, end) cut out; still sorted */
	for (i = 0; i < n->next; i++) {
		struct ltfs_extent x = n->ext[i];
		uint64_t xend = x.fileoffset + x.bytecount;

		if (xend <= s || x.fileoffset >= end) {
			out[k++] = x;
			continue;
		}
		if (x.fileoffset < s) {
			struct ltfs_extent left = x;

			left.bytecount = s - x.fileoffset;
			out[k++] = left;
		}
		if (xend > end) {
			advance(&x, end - x.fileoffset, bs);
			out[k++] = x;
		}
	}
	/* e goes before the first piece that starts after it */
	for (i = 0; i < k && out[i].fileoffset < s; i++)
		;
	memmove(out + i + 1, out + i, (k - i) * sizeof(*out));
	out[i] = *e;
	k++;
	/* and merges into its predecessor when it continues it on tape */
	if (i > 0 && tape_adjacent(&out[i - 1], &out[i], bs)) {
		out[i - 1].bytecount += out[i].bytecount;
		memmove(out + i, out + i + 1, (k - i - 1) * sizeof(*out));
		k--;
	}
	free(n->ext);
	n->ext = out;
	n->ext_cap = n->next + 2;
	n->next = k;
	tr->extents += k;
	tr->extents -= before;
	return 0;
}

int ltfs_extent_truncate(struct ltfs_tree *tr, struct ltfs_node *n,
			 uint64_t len, uint32_t bs)
{
	size_t before = n->next;

	while (n->next && n->ext[n->next - 1].fileoffset >= len)
		n->next--;
	if (n->next) {
		struct ltfs_extent *x = &n->ext[n->next - 1];

		if (x->fileoffset + x->bytecount > len)
			x->bytecount = len - x->fileoffset;
	}
	tr->extents -= before - n->next;
	return 0;
}
