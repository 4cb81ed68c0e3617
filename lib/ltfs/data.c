/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * data.c - file data: writes are packed into one record-sized buffer that
 * becomes the next data partition record when full (so small files share
 * records), reads find the extents and fetch records from tape, from a
 * one-record cache, or from that buffer.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ltfs/ltfs_internal.h"

static uint64_t round_up(uint64_t n, uint64_t to)
{
	return (n + to - 1) / to * to;
}

/* The record (part, block): *data, *len; buffered or cached or from tape. */
static int get_record(struct ltfs_volume *v, unsigned part, uint64_t block,
		      const unsigned char **data, size_t *len)
{
	ssize_t n;
	int rc;

	if (part == v->dp && block == v->dp_next && v->wlen) {
		*data = v->wbuf;
		*len = v->wlen;
		return 0;
	}
	if (v->rvalid && v->rpart == part && v->rblock == block) {
		*data = v->rbuf;
		*len = v->rlen;
		return 0;
	}
	v->rvalid = false;
	rc = ltfs_locate(v, part, block);
	if (rc)
		return rc == -ENODATA ? -EIO : rc;
	n = tape_read(v->t, v->rbuf, v->bs);
	if (n > 0) {
		v->pos_block++;
	} else {
		/* a filemark, EOD or an oversized record where data should be */
		v->pos_known = false;
		return n == -ENOMEM ? -ENOMEM : -EIO;
	}
	v->rvalid = true;
	v->rpart = part;
	v->rblock = block;
	v->rlen = (size_t)n;
	*data = v->rbuf;
	*len = v->rlen;
	return 0;
}

/* Copy count bytes of extent e, starting delta bytes into it. */
static int copy_extent(struct ltfs_volume *v, const struct ltfs_extent *e,
		       uint64_t delta, unsigned char *dst, size_t count)
{
	int part = ltfs_part_scsi(v, e->part);
	uint64_t abs = e->byteoffset + delta;
	uint64_t block = e->startblock + abs / v->bs;
	size_t inner = (size_t)(abs % v->bs);

	if (part < 0)
		return -EIO;
	while (count) {
		const unsigned char *data;
		size_t len, take;
		int rc = get_record(v, (unsigned)part, block, &data, &len);

		if (rc)
			return rc;
		if (len <= inner)
			return -EIO;	/* record shorter than the extent says */
		take = len - inner < count ? len - inner : count;
		memcpy(dst, data + inner, take);
		dst += take;
		count -= take;
		block++;
		inner = 0;
	}
	return 0;
}

static struct ltfs_node *file_node(struct ltfs_volume *v, uint64_t uid, int *err)
{
	struct ltfs_node *n = ltfs_tree_get(&v->ix.tree, uid);

	*err = 0;
	if (!n)
		*err = -ENOENT;
	else if (n->type == LTFS_TYPE_DIR)
		*err = -EISDIR;
	else if (n->type != LTFS_TYPE_FILE)
		*err = -EINVAL;
	return *err ? NULL : n;
}

ssize_t ltfs_read(struct ltfs_volume *v, uint64_t uid, void *buf, size_t len,
		  uint64_t off)
{
	unsigned char *out = buf;
	struct ltfs_node *n;
	uint64_t pos, end;
	size_t lo, hi;
	int rc;

	n = file_node(v, uid, &rc);
	if (!n)
		return rc;
	if (off >= n->length || !len)
		return 0;
	if (len > n->length - off)
		len = (size_t)(n->length - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	end = off + len;
	/* first extent that ends after off */
	lo = 0;
	hi = n->next;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->ext[mid].fileoffset + n->ext[mid].bytecount <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	pos = off;
	for (; lo < n->next && n->ext[lo].fileoffset < end; lo++) {
		const struct ltfs_extent *e = &n->ext[lo];
		uint64_t from, to;

		if (e->fileoffset > pos) {
			memset(out + (pos - off), 0, (size_t)(e->fileoffset - pos));
			pos = e->fileoffset;
		}
		from = pos;
		to = e->fileoffset + e->bytecount < end ? e->fileoffset + e->bytecount : end;
		rc = copy_extent(v, e, from - e->fileoffset, out + (from - off),
				 (size_t)(to - from));
		if (rc)
			return rc;
		pos = to;
	}
	if (pos < end)
		memset(out + (pos - off), 0, (size_t)(end - pos));
	return (ssize_t)len;
}

ssize_t ltfs_write(struct ltfs_volume *v, uint64_t uid, const void *buf,
		   size_t len, uint64_t off)
{
	const unsigned char *in = buf;
	struct ltfs_extent e;
	struct ltfs_node *n;
	size_t saved_wlen = v->wlen, done = 0;
	uint64_t saved_next = v->dp_next, need;
	bool wrote_record = false;
	int rc;

	n = file_node(v, uid, &rc);
	if (!n)
		return rc;
	if (v->readonly)
		return -EROFS;
	if (!len)
		return 0;
	if (len > SSIZE_MAX || off + len < off)
		return -EFBIG;
	/* refuse up front what would eat into the room the index needs */
	need = round_up(v->wlen + len, v->bs);
	if (v->dp_full || need + ltfs_index_reserve(v) > v->dp_left)
		return -ENOSPC;
	while (done < len) {
		size_t chunk = v->bs - v->wlen;
		const unsigned char *rec = v->wbuf;

		if (chunk > len - done)
			chunk = len - done;
		if (v->wlen == 0 && chunk == v->bs) {
			/* a whole record of the caller's: write it from there */
			rec = in + done;
			v->wlen = v->bs;
		} else {
			memcpy(v->wbuf + v->wlen, in + done, chunk);
			v->wlen += chunk;
		}
		done += chunk;
		if (v->wlen == v->bs) {
			rc = ltfs_locate(v, v->dp, v->dp_next);
			if (!rc) {
				ssize_t w = tape_write(v->t, rec, v->bs);

				rc = w < 0 ? (int)w : 0;
				if (w < 0)
					v->pos_known = false;
				else
					v->pos_block++;
			}
			if (rc) {
				/* nothing of this call becomes part of the file; the
				 * buffer keeps what other files put there before */
				v->wlen = wrote_record ? 0 : saved_wlen;
				if (rc == -ENOSPC)
					v->dp_full = true;
				return rc == -ENOSPC || rc == -EROFS || rc == -ENOMEM ? rc : -EIO;
			}
			if (tape_last(v->t)->sense == TAPE_SENSE_EARLY_WARNING)
				v->dp_full = true;
			v->dp_next++;
			v->dp_left -= v->dp_left < v->bs ? v->dp_left : v->bs;
			v->wlen = 0;
			wrote_record = true;
		}
	}
	e.fileoffset = off;
	e.part = v->dp_letter;
	e.startblock = saved_next;
	e.byteoffset = (uint32_t)saved_wlen;
	e.bytecount = len;
	rc = ltfs_extent_put(&v->ix.tree, n, &e, v->bs);
	if (rc)
		return rc;
	if (off + len > n->length)
		n->length = off + len;
	n->modify = n->change = ltfs_now();
	ltfs_mark_dirty(v);
	return (ssize_t)len;
}

int ltfs_file_set_length(struct ltfs_volume *v, struct ltfs_node *n,
			 uint64_t len)
{
	if (len < n->length)
		ltfs_extent_truncate(&v->ix.tree, n, len, v->bs);
	n->length = len;
	ltfs_mark_dirty(v);
	return 0;
}

int ltfs_fsync(struct ltfs_volume *v, uint64_t uid)
{
	if (!ltfs_tree_get(&v->ix.tree, uid))
		return -ENOENT;
	return ltfs_sync(v, "Sync on fsync");
}
