/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stream.c - the write stream: a ring of memory (the arena) in which file
 * data becomes data partition records, queued to the tape from where it
 * lies, and the landing windows through which a daemon receives write
 * requests straight into it (ltfs.h, "landing").
 *
 * Layout rules, checked where memory is about to be used rather than kept
 * as invariants: records lie inside the arena, a queued record's bytes
 * are not touched until the tape retired it, a record that does not
 * continue the previous one starts on a fresh page with a free page in
 * front (room for a request header landing before it), and nothing is
 * put where the kernel may be writing an outstanding landing.
 *
 * The ring is mirrored where the system allows it: its memory is mapped
 * twice, back to back, so a record or a request crossing the ring's end
 * is contiguous and the stream goes round without moving a byte.  Offsets
 * then run up to twice the ring's length, and two ranges meet if they do
 * so modulo that length (ring_overlaps()).  The record being filled
 * always starts in the first copy's span (plus one page), so every range
 * the stream uses ends inside the second.  Without the mirror the record
 * being filled is moved to the ring's start at its end (relocate()).
 */
#include <errno.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ltfs/ltfs_internal.h"

static size_t page_up(size_t n)
{
	return (n + LTFS_PAGE - 1) / LTFS_PAGE * LTFS_PAGE;
}

static bool overlaps(size_t a0, size_t a1, size_t b0, size_t b1)
{
	return a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1;
}

/*
 * Do [a0, a1) and [b0, b1) share memory?  In a mirrored arena offset x and
 * x + arena_len are the same byte; every range there is shorter than the
 * ring and ends before 2 * arena_len, so a shift by one length each way
 * covers every alias.
 */
static bool ring_overlaps(const struct ltfs_volume *v, size_t a0, size_t a1,
			  size_t b0, size_t b1)
{
	size_t l = v->arena_len;

	if (overlaps(a0, a1, b0, b1))
		return true;
	return v->arena_mirrored &&
	       (overlaps(a0, a1, b0 + l, b1 + l) || overlaps(a0 + l, a1 + l, b0, b1));
}

static size_t cursor(const struct ltfs_volume *v)
{
	return v->rec_start + v->wlen;
}

static void set_rec_start(struct ltfs_volume *v, size_t off)
{
	/* past the first copy's span: the same bytes, one ring earlier */
	if (v->arena_mirrored && off >= v->arena_len + LTFS_PAGE)
		off -= v->arena_len;
	v->rec_start = off;
	v->wbuf = v->arena + off;
}

/*
 * The kernel copies every request into the arena page by page, pinning
 * each: on 2 MiB pages (transparent huge pages, where the system allows
 * them) that costs less, and the tape's fixed-buffer registration
 * coalesces them.  So the arena is 2 MiB-aligned and asks for them.
 */
#define ARENA_ALIGN (2u << 20)

/* span bytes of address space, ARENA_ALIGN-aligned, mapped as prot asks */
static unsigned char *map_aligned(size_t span, int prot)
{
	unsigned char *p, *q;
	size_t head;

	p = mmap(NULL, span + ARENA_ALIGN, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	q = (unsigned char *)(((uintptr_t)p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
	head = (size_t)(q - p);
	if (head)
		munmap(p, head);
	munmap(q + span, ARENA_ALIGN - head);
	return q;
}

/*
 * The ring as one memfd mapped twice over a reserved span of 2 * len, or
 * NULL where that cannot be done (no memfd, no shared memory): the caller
 * then maps a plain ring.  Its pages are shared memory, which gets huge
 * pages only where the system enables them for shmem; measured on the
 * image bench, moving nothing at the wrap matters more.
 */
static unsigned char *map_mirrored(size_t len)
{
	unsigned char *q = NULL;
	int fd;

	fd = memfd_create("fusetape-ring", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)len) == 0)
		q = map_aligned(2 * len, PROT_NONE);
	if (q && (mmap(q, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
		  mmap(q + len, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
			  MAP_FAILED)) {
		munmap(q, 2 * len);
		q = NULL;
	}
	close(fd);	/* the mappings keep the memory */
	if (q)
		madvise(q, 2 * len, MADV_HUGEPAGE);
	return q;
}

static unsigned char *map_plain(size_t len)
{
	unsigned char *q = map_aligned(len, PROT_READ | PROT_WRITE);

	/* a hint: without huge pages everything works the same */
	if (q)
		madvise(q, len, MADV_HUGEPAGE);
	return q;
}

int ltfs_stream_init(struct ltfs_volume *v)
{
	size_t len = LTFS_ARENA_BYTES;
	unsigned char *p = NULL;
	bool mirrored = false;

	if ((size_t)v->bs * LTFS_ARENA_MIN_RECORDS > len)
		len = page_up((size_t)v->bs * LTFS_ARENA_MIN_RECORDS);
	if (!v->plain_ring) {
		p = map_mirrored(len);
		mirrored = p != NULL;
	}
	if (!p)
		p = map_plain(len);
	if (!p)
		return -ENOMEM;
	v->inflight = calloc(LTFS_INFLIGHT_MAX, sizeof(*v->inflight));
	if (!v->inflight) {
		munmap(p, mirrored ? 2 * len : len);
		return -ENOMEM;
	}
	v->arena = p;
	v->arena_len = len;
	v->arena_mirrored = mirrored;
	/* the first page stays free: a landing's header may need it */
	set_rec_start(v, LTFS_PAGE);
	v->wlen = 0;
	return 0;
}

void ltfs_stream_attach(struct ltfs_volume *v)
{
	int rc;

	if (!v->arena || v->arena_registered)
		return;
	/* records must start page-aligned for the backends' direct I/O */
	if (v->bs % LTFS_PAGE)
		return;
	rc = tape_register_arena(v->t, v->arena, ltfs_arena_end(v));
	v->arena_registered = rc == 0;
	v->arena_async = rc == 0 && tape_queue_async(v->t);
}

int ltfs_write_behind_reattach(struct ltfs_volume *v)
{
	int rc = 0;

	if (!v->arena || v->readonly)
		return 0;
	rc = ltfs_stream_drain(v);
	if (v->arena_registered)
		tape_register_arena(v->t, NULL, 0);
	v->arena_registered = v->arena_async = false;
	ltfs_stream_attach(v);
	return rc;
}

void ltfs_stream_free(struct ltfs_volume *v)
{
	if (!v->arena)
		return;
	ltfs_stream_drain(v);
	if (v->arena_registered)
		tape_register_arena(v->t, NULL, 0);
	munmap(v->arena, ltfs_arena_end(v));
	free(v->inflight);
	v->arena = v->wbuf = NULL;
	v->inflight = NULL;
	v->arena_registered = v->arena_async = false;
}

int ltfs_drain(struct ltfs_volume *v)
{
	return v->arena ? ltfs_stream_drain(v) : 0;
}

bool ltfs_write_behind(const struct ltfs_volume *v)
{
	return v->arena_async;
}

bool ltfs_landing_possible(const struct ltfs_volume *v)
{
	return v->arena && !v->readonly && v->bs % LTFS_PAGE == 0;
}

int ltfs_write_failure(const struct ltfs_volume *v, char msg[LTFS_ERRLEN])
{
	if (msg && v->qerr)
		snprintf(msg, LTFS_ERRLEN, "a queued write failed (%s): the data from "
			 "partition %c block %" PRIu64 " on is not on tape although it was "
			 "acknowledged; writes are refused and no index naming it is written "
			 "(the last index on tape stays valid)", strerror(-v->qerr),
			 v->dp_letter, v->qerr_block);
	else if (msg)
		msg[0] = '\0';
	return v->qerr;
}

/* The newest record in flight that overlaps [lo, hi), or 0. */
static uint64_t inflight_in(const struct ltfs_volume *v, size_t lo, size_t hi)
{
	uint64_t seq = 0;
	size_t i;

	for (i = 0; i < v->if_count; i++) {
		const struct ltfs_inflight *f =
			&v->inflight[(v->if_head + i) % LTFS_INFLIGHT_MAX];

		if (ring_overlaps(v, lo, hi, f->off, f->off + f->len))
			seq = f->seq;
	}
	return seq;
}

static void note_failure(struct ltfs_volume *v, const struct tape_queue_state *st)
{
	size_t i;

	if (v->qerr || !st->error)
		return;
	v->qerr = st->error;
	v->qerr_seq = st->error_seq;
	v->qerr_block = v->dp_next;
	for (i = 0; i < v->if_count; i++) {
		const struct ltfs_inflight *f =
			&v->inflight[(v->if_head + i) % LTFS_INFLIGHT_MAX];

		if (f->seq == st->error_seq) {
			v->qerr_block = f->block;
			break;
		}
	}
	/* nothing will retire any more; the volume takes no more writes */
	v->if_count = 0;
	v->pos_known = false;
	v->dirty = true;
}

int ltfs_stream_collect(struct ltfs_volume *v, uint64_t wait_for)
{
	struct tape_queue_state st;

	if (v->qerr)
		return v->qerr;
	if (!v->if_count)
		return 0;
	if (wait_for) {
		uint64_t t0 = ltfs_clock_ns();

		tape_queue_reap(v->t, wait_for, &st);
		v->io.tape_wait_ns += ltfs_clock_ns() - t0;
	} else {
		tape_queue_reap(v->t, 0, &st);
	}
	while (v->if_count && v->inflight[v->if_head].seq <= st.retired) {
		v->if_head = (v->if_head + 1) % LTFS_INFLIGHT_MAX;
		v->if_count--;
		v->io.records_retired++;
	}
	if (st.early_warning)
		v->dp_full = true;
	note_failure(v, &st);
	if (!v->qerr && wait_for && v->if_count && v->inflight[v->if_head].seq <= wait_for) {
		/* the tape says done but not retired: do not wait for ever */
		struct tape_queue_state lost = st;

		lost.error = -EIO;
		lost.error_seq = v->inflight[v->if_head].seq;
		note_failure(v, &lost);
	}
	return v->qerr;
}

int ltfs_stream_drain(struct ltfs_volume *v)
{
	if (!v->if_count)
		return v->qerr;
	return ltfs_stream_collect(v, v->inflight[(v->if_head + v->if_count - 1) %
						  LTFS_INFLIGHT_MAX].seq);
}

/* Wait until nothing in flight overlaps [lo, hi). */
static int wait_clear(struct ltfs_volume *v, size_t lo, size_t hi)
{
	uint64_t seq;

	while ((seq = inflight_in(v, lo, hi)) != 0) {
		int rc = ltfs_stream_collect(v, seq);

		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Move the record being filled to a fresh start near `want` so that
 * [start - page, start + wlen + need) is free; its bytes are copied.
 */
static int relocate(struct ltfs_volume *v, size_t want, size_t need)
{
	size_t span = v->wlen + need, to = want, end = ltfs_arena_end(v);
	int rc;

	if (v->arena_mirrored && to >= v->arena_len + LTFS_PAGE)
		to -= v->arena_len;
	if (to < LTFS_PAGE || to + span > end)
		to = LTFS_PAGE;
	if (v->land_pending &&
	    ring_overlaps(v, to - LTFS_PAGE, to + span, v->land_lo, v->land_hi)) {
		to = page_up(v->land_hi) + LTFS_PAGE;
		if (v->arena_mirrored && to >= v->arena_len + LTFS_PAGE)
			to -= v->arena_len;
		if (to + span > end)
			return -ENOBUFS;
	}
	if (to + span > end)
		return -ENOBUFS;
	rc = wait_clear(v, to - LTFS_PAGE, to + span);
	if (rc)
		return rc;
	if (to != v->rec_start && v->wlen) {
		memmove(v->arena + to, v->wbuf, v->wlen);
		v->io.write_copied += v->wlen;
	}
	set_rec_start(v, to);
	return 0;
}

int ltfs_stream_room(struct ltfs_volume *v, size_t hdr, size_t need)
{
	int tries, rc;

	if (!v->arena)
		return -EROFS;
	if (hdr + need + 2 * LTFS_PAGE > v->arena_len / 2)
		return -EINVAL;
	for (tries = 0; tries < 8; tries++) {
		size_t cur = cursor(v), lo = cur >= hdr ? cur - hdr : 0, hi = cur + need;

		if (cur < hdr || hi > ltfs_arena_end(v)) {
			/* the (plain) ring's end: go round to its start */
			rc = relocate(v, LTFS_PAGE, need);
		} else if (v->land_pending && ring_overlaps(v, lo, hi, v->land_lo, v->land_hi)) {
			rc = relocate(v, page_up(v->land_hi) + LTFS_PAGE, need);
		} else if (lo < v->rec_start && inflight_in(v, lo, v->rec_start)) {
			/*
			 * The record being filled is shorter than the header and
			 * continues one in flight: the header would land on that
			 * one.  Moving these few bytes is cheaper than waiting.
			 */
			rc = relocate(v, page_up(cur) + LTFS_PAGE, need);
		} else {
			uint64_t seq = inflight_in(v, cur, hi);

			if (!seq)
				return 0;
			/* the ring is full: the oldest records must retire first */
			rc = ltfs_stream_collect(v, seq);
		}
		if (rc)
			return rc;
	}
	return -ENOBUFS;
}

int ltfs_stream_queue(struct ltfs_volume *v, size_t len, bool contiguous)
{
	struct ltfs_inflight *f;
	uint64_t seq = 0, t0;
	ssize_t w;
	int rc;

	if (v->qerr)
		return v->qerr;
	if (v->if_count == LTFS_INFLIGHT_MAX) {
		rc = ltfs_stream_collect(v, v->inflight[v->if_head].seq);
		if (rc)
			return rc;
	}
	rc = ltfs_locate(v, v->dp, v->dp_next);
	if (rc)
		return rc;
	t0 = ltfs_clock_ns();
	w = tape_write_queued(v->t, v->wbuf, len, &seq);
	/* the whole write on a synchronous backend, a full queue on others */
	v->io.tape_wait_ns += ltfs_clock_ns() - t0;
	if (w < 0) {
		struct tape_queue_state st;

		v->pos_known = false;
		if (w == -ENOSPC && tape_last(v->t)->sense == TAPE_SENSE_EOM)
			v->dp_full = true;
		/* a write refused because of an earlier deferred failure */
		tape_queue_reap(v->t, 0, &st);
		note_failure(v, &st);
		return (int)w;
	}
	v->pos_block++;
	if (tape_last(v->t)->sense == TAPE_SENSE_EARLY_WARNING)
		v->dp_full = true;
	f = &v->inflight[(v->if_head + v->if_count) % LTFS_INFLIGHT_MAX];
	f->seq = seq;
	f->off = v->rec_start;
	f->len = len;
	f->block = v->dp_next;
	v->if_count++;
	v->io.records_queued++;
	v->dp_next++;
	v->dp_left -= v->dp_left < page_up(len) ? v->dp_left : page_up(len);
	set_rec_start(v, contiguous ? v->rec_start + len
				    : page_up(v->rec_start + len) + LTFS_PAGE);
	v->wlen = 0;
	rc = ltfs_stream_collect(v, 0);
	if (v->if_count > v->io.max_in_flight)
		v->io.max_in_flight = v->if_count;
	/* this record is queued; a failure of an earlier one shows up here */
	return rc;
}

void ltfs_stream_restore(struct ltfs_volume *v)
{
	if (v->land_saved_len) {
		memcpy(v->arena + v->land_saved_at, v->land_saved, v->land_saved_len);
		v->land_saved_len = 0;
	}
	v->land_pending = false;
}

const unsigned char *ltfs_stream_view(struct ltfs_volume *v, unsigned char *scratch)
{
	size_t at;

	if (!v->land_saved_len)
		return v->wbuf;
	/*
	 * The request header lies over the record's end (the kernel may be
	 * writing it right now): the bytes before it, then the saved ones.
	 */
	at = v->land_saved_at - v->rec_start;
	memcpy(scratch, v->wbuf, at);
	memcpy(scratch + at, v->land_saved, v->land_saved_len);
	return scratch;
}

int ltfs_flush_wbuf(struct ltfs_volume *v)
{
	size_t len = v->wlen;
	int rc;

	if (v->qerr)
		return v->qerr;
	if (!len)
		return 0;
	if (v->land_pending) {
		/*
		 * A landing is outstanding: the kernel may be writing its
		 * header over the end of this record right now.  Write a copy
		 * (with the saved bytes) and start the stream past the window;
		 * the landed request, if it is a write, is then copied.
		 */
		unsigned char *copy = malloc(len);

		if (!copy)
			return -ENOMEM;
		memcpy(copy, ltfs_stream_view(v, v->rbuf), len);
		v->rvalid = false;	/* rbuf was scratch */
		rc = ltfs_locate(v, v->dp, v->dp_next);
		if (!rc) {
			uint64_t t0 = ltfs_clock_ns();
			ssize_t w = tape_write(v->t, copy, len);

			v->io.tape_wait_ns += ltfs_clock_ns() - t0;

			rc = w < 0 ? (int)w : 0;
			if (w < 0) {
				v->pos_known = false;
				if (w == -ENOSPC && tape_last(v->t)->sense == TAPE_SENSE_EOM)
					v->dp_full = true;
			} else {
				v->pos_block++;
				if (tape_last(v->t)->sense == TAPE_SENSE_EARLY_WARNING)
					v->dp_full = true;
			}
		}
		free(copy);
		if (rc)
			return rc;
		v->io.write_copied += len;
		v->land_saved_len = 0;
		v->dp_next++;
		v->dp_left -= v->dp_left < page_up(len) ? v->dp_left : page_up(len);
		set_rec_start(v, page_up(v->land_hi) + LTFS_PAGE);
		v->wlen = 0;
		return 0;
	}
	return ltfs_stream_queue(v, len, false);
}

int ltfs_landing_get(struct ltfs_volume *v, size_t hdr, size_t room,
		     struct ltfs_landing *l)
{
	size_t cur, lo, pad;
	int rc;

	l->data = NULL;
	l->hdr = hdr;
	l->room = room;
	if (v->readonly || !v->arena)
		return -EROFS;
	if (v->qerr)
		return -EIO;
	if (v->bs % LTFS_PAGE)
		return -EOPNOTSUPP;
	if (v->land_active)
		return -EBUSY;
	if (hdr > LTFS_LANDING_HDR_MAX || hdr >= LTFS_PAGE || room == 0)
		return -EINVAL;
	/*
	 * The request header before data must be aligned for the FUSE
	 * structures in it, so data goes up to LTFS_LANDING_ALIGN - 1 bytes
	 * past an unaligned stream end.  Whether those bytes become padding
	 * is decided when the request turns out to be a write
	 * (ltfs_write_landed()): padding only where a new extent starts anyway.
	 */
	rc = ltfs_stream_room(v, hdr, room + LTFS_LANDING_ALIGN - 1);
	if (rc)
		return rc == -EINVAL || rc == -ENOBUFS ? -EINVAL : -EIO;
	cur = cursor(v);
	pad = (LTFS_LANDING_ALIGN - cur % LTFS_LANDING_ALIGN) % LTFS_LANDING_ALIGN;
	lo = cur + pad - hdr;
	v->land_saved_at = lo > v->rec_start ? lo : v->rec_start;
	v->land_saved_len = cur > v->land_saved_at ? cur - v->land_saved_at : 0;
	memcpy(v->land_saved, v->arena + v->land_saved_at, v->land_saved_len);
	v->land_active = v->land_pending = true;
	v->land_lo = lo;
	v->land_hi = cur + pad + room;
	v->land_data = cur + pad;
	v->land_pad = pad;
	l->data = v->arena + v->land_data;
	return 0;
}

void ltfs_landing_put(struct ltfs_volume *v, struct ltfs_landing *l)
{
	if (!v->land_active)
		return;
	ltfs_stream_restore(v);
	v->land_active = false;
	l->data = NULL;
}
