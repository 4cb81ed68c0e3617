/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape_backend.h - what a tape backend implements (private to lib/tape/).
 *
 * tape.c holds the public entry points: it clears the status, checks the
 * arguments every backend would check the same way, and forwards to the
 * backend's ops.  A backend embeds struct tape as its first member.
 */
#ifndef FUSETAPE_TAPE_BACKEND_H
#define FUSETAPE_TAPE_BACKEND_H

#include "tape.h"

struct tape_ops {
	const char *name;
	int (*close)(struct tape *t);
	ssize_t (*read)(struct tape *t, void *buf, size_t len);
	ssize_t (*write)(struct tape *t, const void *buf, size_t len);
	/*
	 * Optional write-behind (tape.h).  Without write_queued, tape.c writes
	 * queued records synchronously with ->write.  register_arena may be
	 * called with NULL, 0 to drop the registration (nothing is queued
	 * then).  write_queued is called only while the queue has not failed;
	 * it queues the record numbered t->q.queued + 1 (tape.c counts it on
	 * success).  A backend that cannot send a particular record
	 * asynchronously (e.g. its buffer is outside the arena) may write it
	 * synchronously after everything in flight has retired, and then
	 * set t->q.retired = t->q.queued + 1 itself.  reap advances
	 * t->q.retired in order and records a deferred error in t->q
	 * (error, error_seq, error_sense), and t->q.early_warning for a
	 * retired record that ended past early warning; with
	 * wait_for > t->q.retired it blocks until that record is retired or
	 * the queue failed.  It returns 0 or a negative errno of its own
	 * (the deferred error itself lives in t->q).
	 */
	int (*register_arena)(struct tape *t, void *base, size_t len);
	ssize_t (*write_queued)(struct tape *t, const void *buf, size_t len);
	int (*reap)(struct tape *t, uint64_t wait_for);
	int (*write_filemarks)(struct tape *t, unsigned count);
	int (*locate)(struct tape *t, uint32_t partition, uint64_t block);
	int (*read_position)(struct tape *t, struct tape_position *pos);
	int (*space)(struct tape *t, enum tape_space_kind kind, int64_t count);
	int (*rewind)(struct tape *t);
	int (*load)(struct tape *t);
	int (*unload)(struct tape *t);
	int (*medium_info)(struct tape *t, struct tape_medium *m);
	int (*format)(struct tape *t, unsigned nparts, const uint64_t *sizes);
	int (*set_early_warning)(struct tape *t, uint64_t bytes);
	int (*get_attr)(struct tape *t, uint32_t partition, uint16_t id,
			struct tape_attr *attr);
	int (*set_attr)(struct tape *t, uint32_t partition,
			const struct tape_attr *attr);
};

struct tape {
	const struct tape_ops *ops;
	struct tape_status last;
	struct tape_identity identity;
	struct tape_caps caps;
	bool readonly;		/* handle opened read-only or medium protected */
	struct tape_queue_state q;	/* write-behind bookkeeping (tape.c) */
	bool q_async;		/* backend accepted the arena: writes in flight */
};

/*
 * Wait until every queued record is retired.  tape.c calls this before
 * every other operation; backends call it in their own entry points
 * outside the ops table (e.g. tape_image_record_extent()).  Returns 0 or
 * the deferred error.
 */
int tape_drain(struct tape *t);

/* Record a condition in t->last and return err (for "return tape_fail(...)"). */
static inline int tape_fail(struct tape *t, int err, enum tape_sense sense,
			    uint64_t residual)
{
	t->last.sense = sense;
	t->last.residual = residual;
	return err;
}

/* Write a one-line explanation into errbuf (if given), for the *_open() calls. */
void tape_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Backend constructors, called by tape_open(). */
int tape_image_open(const char *path, unsigned flags, struct tape **out,
		    char *errbuf, size_t errlen);
int tape_st_open(const char *path, unsigned flags, struct tape **out,
		 char *errbuf, size_t errlen);
int tape_tapedma_open(const char *path, unsigned flags, struct tape **out,
		      char *errbuf, size_t errlen);

#endif /* FUSETAPE_TAPE_BACKEND_H */
