/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * data.c - file data: writes are packed into the record being filled in
 * the write stream (stream.c), which becomes the next data partition
 * record when full (so small files share records); reads find the extents
 * and fetch records from tape, from a one-record cache, or from the record
 * being filled.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "ltfs/ltfs_internal.h"
#include "tape/tape_image.h"

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
		/* the record being filled, as it is without a request header on it */
		*data = ltfs_stream_view(v, v->rbuf);
		if (*data == v->rbuf)
			v->rvalid = false;
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
	size_t lo;
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
	lo = ltfs_extent_find(n, off);
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
	v->io.read_copied += len;
	return (ssize_t)len;
}

/*
 * Write len bytes at off.  landed: they are in the arena already, at the
 * end of the record being filled (a landing); otherwise they are copied
 * from buf into the stream, except whole records at a record boundary,
 * which go to tape from buf directly.
 */
static ssize_t write_from(struct ltfs_volume *v, uint64_t uid,
			  const unsigned char *buf, size_t len, uint64_t off,
			  bool landed)
{
	struct ltfs_extent e;
	struct ltfs_node *n;
	size_t saved_wlen = v->wlen, saved_start = v->rec_start, done = 0;
	uint64_t saved_next = v->dp_next, need, copied = 0, direct = 0;
	bool wrote_record = false;
	int rc;

	n = file_node(v, uid, &rc);
	if (!n)
		return rc;
	if (v->readonly || !v->arena)
		return -EROFS;
	if (v->qerr)
		return -EIO;
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

		if (chunk > len - done)
			chunk = len - done;
		if (landed) {
			v->wlen += chunk;
		} else if (v->wlen == 0 && chunk == v->bs) {
			/* a whole record of the caller's: write it from there */
			rc = ltfs_locate(v, v->dp, v->dp_next);
			if (!rc) {
				uint64_t t0 = ltfs_clock_ns();
				ssize_t w = tape_write(v->t, buf + done, v->bs);

				v->io.tape_wait_ns += ltfs_clock_ns() - t0;

				rc = w < 0 ? (int)w : 0;
				if (w < 0) {
					v->pos_known = false;
				} else {
					v->pos_block++;
					if (tape_last(v->t)->sense == TAPE_SENSE_EARLY_WARNING)
						v->dp_full = true;
					v->dp_next++;
					v->dp_left -= v->dp_left < v->bs ? v->dp_left : v->bs;
					direct += v->bs;
				}
			}
			if (rc)
				goto fail;
			done += chunk;
			wrote_record = true;
			continue;
		} else {
			rc = ltfs_stream_room(v, 0, chunk);
			if (rc)
				goto fail;
			memcpy(v->wbuf + v->wlen, buf + done, chunk);
			v->wlen += chunk;
			copied += chunk;
		}
		done += chunk;
		if (v->wlen == v->bs) {
			rc = ltfs_stream_queue(v, v->bs, true);
			/* queued even if an earlier record's failure shows up now */
			if (rc && v->wlen)
				goto fail;
			wrote_record = true;
			if (rc)
				goto fail;
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
	v->io.write_copied += copied;
	v->io.write_direct += direct;
	if (landed)
		v->io.write_landed += len;
	v->tail_uid = uid;
	v->tail_end = off + len;
	return (ssize_t)len;

fail:
	/*
	 * Nothing of this call becomes part of the file.  If no record was
	 * written, the record being filled keeps what other files put there
	 * before; otherwise that went to tape with the first record.
	 */
	if (!wrote_record) {
		v->wlen = saved_wlen;
		if (v->rec_start != saved_start && !landed)
			saved_start = v->rec_start;	/* moved in the ring, bytes kept */
		v->rec_start = saved_start;
		v->wbuf = v->arena + saved_start;
	} else {
		v->wlen = 0;
	}
	if (rc == -ENOSPC && tape_last(v->t)->sense == TAPE_SENSE_EOM)
		v->dp_full = true;	/* the cartridge, not the host, is full */
	/* a synchronous write refused for an earlier queued record's failure */
	ltfs_stream_collect(v, 0);
	if (v->qerr)
		return -EIO;
	return rc == -ENOSPC || rc == -EROFS || rc == -ENOMEM ? rc : -EIO;
}

ssize_t ltfs_write(struct ltfs_volume *v, uint64_t uid, const void *buf,
		   size_t len, uint64_t off)
{
	return ltfs_write_landed(v, uid, buf, len, off);
}

ssize_t ltfs_write_landed(struct ltfs_volume *v, uint64_t uid, const void *data,
			  size_t len, uint64_t off)
{
	const unsigned char *p = data;
	unsigned char *bounce = NULL;
	bool landed = false, moved = false;
	ssize_t r;

	if (v->land_active && v->arena) {
		landed = p == v->arena + v->land_data &&
			 v->land_data == v->rec_start + v->wlen + v->land_pad &&
			 len <= v->land_hi - v->land_data;
		/* the request is in: the bytes under its header go back */
		ltfs_stream_restore(v);
	}
	if (landed && v->land_pad) {
		if (uid == v->tail_uid && off == v->tail_end) {
			/*
			 * It continues the file's last extent: padding would
			 * split the extent (one per write of an odd size), so
			 * the payload moves down onto the stream's end.
			 */
			memmove(v->wbuf + v->wlen, p, len);
			moved = true;
		} else {
			/* a new extent starts here anyway: pad up to it */
			int rc = 0;

			memset(v->wbuf + v->wlen, 0, v->land_pad);
			v->wlen += v->land_pad;
			v->io.write_padding += v->land_pad;
			if (v->wlen == v->bs)
				rc = ltfs_stream_queue(v, v->bs, true);
			if (rc)
				return v->qerr ? -EIO : rc;
		}
	}
	if (!landed && v->arena && len && p >= v->arena && p < v->arena + ltfs_arena_end(v)) {
		/* a request left behind by the stream (a sync moved on meanwhile):
		 * copy it out first, the ring may reuse its memory */
		bounce = malloc(len);
		if (!bounce)
			return -ENOMEM;
		memcpy(bounce, p, len);
		v->io.write_copied += len;
		p = bounce;
	}
	r = write_from(v, uid, p, len, off, landed);
	free(bounce);
	if (moved && r > 0) {
		v->io.write_landed -= (uint64_t)r;
		v->io.write_copied += (uint64_t)r;
	}
	return r;
}

bool ltfs_read_direct_possible(const struct ltfs_volume *v)
{
	return tape_is_image(v->t);
}

void ltfs_io_stats(const struct ltfs_volume *v, struct ltfs_io_stats *st)
{
	*st = v->io;
}

/* Has (part, block) at image offset pos with this crc been checked? */
static bool verified(struct ltfs_volume *v, unsigned part, uint64_t block,
		     uint64_t pos, uint32_t len, uint32_t crc)
{
	const struct ltfs_verified *c = &v->vcache[block % LTFS_VCACHE];

	return c->pos == pos && c->block == block && c->part == part &&
	       c->len == len && c->crc == crc;
}

static void remember_verified(struct ltfs_volume *v, unsigned part, uint64_t block,
			      uint64_t pos, uint32_t len, uint32_t crc)
{
	struct ltfs_verified *c = &v->vcache[block % LTFS_VCACHE];

	c->part = part;
	c->block = block;
	c->pos = pos;
	c->len = len;
	c->crc = crc;
}

/* How far ahead of a direct read the image file is asked to be read. */
#define READ_AHEAD_BYTES (8u << 20)

/* Ask the kernel to read the image range [pos, pos + len) in the background. */
static void prefetch(struct ltfs_volume *v, int fd, uint64_t pos, uint64_t len)
{
	uint64_t end = pos + len;

	if (v->ra_fd == fd && pos < v->ra_end && end <= v->ra_end && pos >= v->ra_start)
		return;		/* asked already */
	if (v->ra_fd == fd && pos >= v->ra_start && pos < v->ra_end)
		pos = v->ra_end;	/* only the part not asked for yet */
	if (end > pos)
		posix_fadvise(fd, (off_t)pos, (off_t)(end - pos), POSIX_FADV_WILLNEED);
	if (v->ra_fd != fd || pos > v->ra_end || pos < v->ra_start)
		v->ra_start = pos;
	v->ra_fd = fd;
	v->ra_end = end;
}

ssize_t ltfs_read_direct(struct ltfs_volume *v, uint64_t uid, size_t len,
			 uint64_t off, int *fd, uint64_t *pos)
{
	const struct ltfs_extent *e;
	struct ltfs_node *n;
	uint64_t abs, block, next_pos = 0, ext_left;
	size_t lo, inner, total = 0;
	int part, rc;

	*fd = -1;
	*pos = 0;
	if (!tape_is_image(v->t))
		return 0;
	/* the image ranges of queued records are final once they retired */
	ltfs_stream_drain(v);
	n = file_node(v, uid, &rc);
	if (!n)
		return rc;
	if (off >= n->length || !len)
		return 0;
	if (len > n->length - off)
		len = (size_t)(n->length - off);
	lo = ltfs_extent_find(n, off);
	if (lo == n->next || n->ext[lo].fileoffset > off)
		return 0;	/* a hole: the copy path makes the zeros */
	e = &n->ext[lo];
	part = ltfs_part_scsi(v, e->part);
	if (part < 0)
		return 0;
	ext_left = e->fileoffset + e->bytecount - off;
	if (len > ext_left)
		len = (size_t)ext_left;
	abs = e->byteoffset + (off - e->fileoffset);
	block = e->startblock + abs / v->bs;
	inner = (size_t)(abs % v->bs);
	while (total < len) {
		uint64_t rpos;
		uint32_t rlen, crc;
		int rfd;
		size_t take;

		if ((unsigned)part == v->dp && block == v->dp_next && v->wlen)
			break;	/* still in the write buffer */
		if (tape_image_record_extent(v->t, (uint32_t)part, block, &rfd, &rpos,
					     &rlen, &crc) != 0 || rlen <= inner)
			break;	/* the copy path reports what is wrong */
		if (total && rpos != next_pos)
			break;	/* not contiguous in the image file */
		if (!verified(v, (unsigned)part, block, rpos, rlen, crc)) {
			if (!total)
				prefetch(v, rfd, rpos, ext_left + inner < READ_AHEAD_BYTES ?
					 ext_left + inner : READ_AHEAD_BYTES);
			rc = tape_image_verify_record(v->t, (uint32_t)part, block);
			if (rc) {
				if (total)
					break;	/* serve what is good, fail on the next call */
				return -EIO;
			}
			remember_verified(v, (unsigned)part, block, rpos, rlen, crc);
			v->io.records_verified++;
		}
		take = rlen - inner < len - total ? rlen - inner : len - total;
		if (!total) {
			*fd = rfd;
			*pos = rpos + inner;
		}
		total += take;
		next_pos = rpos + rlen;
		block++;
		inner = 0;
	}
	v->io.read_direct += total;
	return (ssize_t)total;
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
