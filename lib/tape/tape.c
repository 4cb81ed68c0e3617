/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tape.c - the public entry points of tape.h.
 *
 * Everything a backend would check the same way is checked here once, so
 * that all backends fail bad calls identically: the status is cleared, the
 * arguments are validated, writes to a read-only handle are refused, and
 * only then is the backend called.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tape/tape_backend.h"

void tape_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Drive backends live in tape_st.c and tape_tapedma.c.  Until they are part
 * of the library these stand-ins keep tape_open() linkable.  A weak symbol
 * alone is not enough: the linker does not pull an archive member to
 * replace a weak definition it already has, so lib/tape/module.mk defines
 * TAPE_HAVE_ST / TAPE_HAVE_TAPEDMA as soon as the real files are listed.
 */
#ifndef TAPE_HAVE_ST
__attribute__((weak)) int tape_st_open(const char *path, unsigned flags,
				       struct tape **out, char *errbuf,
				       size_t errlen)
{
	*out = NULL;
	tape_set_err(errbuf, errlen, "%s: st backend not built", path);
	return -ENOTSUP;
}
#endif

#ifndef TAPE_HAVE_TAPEDMA
__attribute__((weak)) int tape_tapedma_open(const char *path, unsigned flags,
					    struct tape **out, char *errbuf,
					    size_t errlen)
{
	*out = NULL;
	tape_set_err(errbuf, errlen, "%s: tapedma backend not built", path);
	return -ENOTSUP;
}
#endif

/* A tapedma device is named tapedmaN or registered in its sysfs class. */
static bool is_tapedma_device(const char *path)
{
	const char *base = strrchr(path, '/');
	char sys[PATH_MAX];
	struct stat st;

	base = base ? base + 1 : path;
	if (strncmp(base, "tapedma", 7) == 0)
		return true;
	if ((size_t)snprintf(sys, sizeof(sys), "/sys/class/tapedma/%s", base) >= sizeof(sys))
		return false;
	return stat(sys, &st) == 0;
}

int tape_open(const char *path, unsigned flags, struct tape **out,
	      char *errbuf, size_t errlen)
{
	struct stat st;
	int err;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path || !*path) {
		tape_set_err(errbuf, errlen, "no tape device or image given");
		return -EINVAL;
	}
	if (stat(path, &st) < 0) {
		err = -errno;
		tape_set_err(errbuf, errlen, "%s: %s", path, strerror(errno));
		return err;
	}
	if (S_ISREG(st.st_mode))
		err = tape_image_open(path, flags, out, errbuf, errlen);
	else if (S_ISCHR(st.st_mode))
		err = is_tapedma_device(path)
			? tape_tapedma_open(path, flags, out, errbuf, errlen)
			: tape_st_open(path, flags, out, errbuf, errlen);
	else {
		tape_set_err(errbuf, errlen,
			"%s: neither a tape image (regular file) nor a tape device (character device)",
			path);
		return -EINVAL;
	}
	if (err < 0) {
		*out = NULL;
		if (errbuf && errlen && !errbuf[0])
			tape_set_err(errbuf, errlen, "%s: %s", path, strerror(-err));
	}
	return err;
}

int tape_close(struct tape *t)
{
	if (!t)
		return 0;
	tape_drain(t);
	return t->ops->close(t);
}

static const struct tape_status no_status;
static const struct tape_identity no_identity;
static const struct tape_caps no_caps;

const char *tape_backend_name(const struct tape *t)
{
	return t ? t->ops->name : "none";
}

const struct tape_identity *tape_identity(const struct tape *t)
{
	return t ? &t->identity : &no_identity;
}

const struct tape_caps *tape_caps(const struct tape *t)
{
	return t ? &t->caps : &no_caps;
}

const struct tape_status *tape_last(const struct tape *t)
{
	return t ? &t->last : &no_status;
}

const char *tape_sense_name(enum tape_sense sense)
{
	switch (sense) {
	case TAPE_SENSE_NONE: return "no sense";
	case TAPE_SENSE_FILEMARK: return "filemark";
	case TAPE_SENSE_EOD: return "end of data";
	case TAPE_SENSE_BOT: return "beginning of partition";
	case TAPE_SENSE_EARLY_WARNING: return "early warning";
	case TAPE_SENSE_EOM: return "end of medium";
	case TAPE_SENSE_RECORD_LENGTH: return "record longer than buffer";
	case TAPE_SENSE_WRITE_PROTECT: return "write protected";
	case TAPE_SENSE_ILLEGAL_REQUEST: return "illegal request";
	case TAPE_SENSE_MEDIUM_ERROR: return "medium error";
	case TAPE_SENSE_NOT_READY: return "not ready";
	case TAPE_SENSE_UNIT_ATTENTION: return "unit attention";
	case TAPE_SENSE_HARDWARE: return "hardware error";
	}
	return "unknown sense";
}

/* Start of every call: forget what the previous one reported. */
static void begin(struct tape *t)
{
	memset(&t->last, 0, sizeof(t->last));
}

static int illegal(struct tape *t)
{
	return tape_fail(t, -EINVAL, TAPE_SENSE_ILLEGAL_REQUEST, 0);
}

static int unsupported(struct tape *t)
{
	return tape_fail(t, -EOPNOTSUPP, TAPE_SENSE_ILLEGAL_REQUEST, 0);
}

static int protected(struct tape *t)
{
	return tape_fail(t, -EROFS, TAPE_SENSE_WRITE_PROTECT, 0);
}

/* ---- write-behind ---- */

int tape_drain(struct tape *t)
{
	int err;

	if (t->q.retired >= t->q.queued || t->q.error)
		return t->q.error;
	err = t->ops->reap(t, t->q.queued);
	if (!t->q.error && t->q.retired < t->q.queued) {
		/* the backend could not wait: treat what is left as lost */
		t->q.error = err ? err : -EIO;
		t->q.error_seq = t->q.retired + 1;
		t->q.error_sense = TAPE_SENSE_HARDWARE;
	}
	return t->q.error;
}

/*
 * Start of a call that reads or positions: queued records first go to the
 * medium.  A deferred error stays recorded for writers; reading and
 * positioning go on, so that what is on the medium can still be read.
 */
static void settle(struct tape *t)
{
	begin(t);
	if (t->q.retired < t->q.queued)
		tape_drain(t);
}

/*
 * Start of a call that writes: as settle(), but a deferred error refuses
 * the write with the sense of the failure.
 */
static int settle_for_write(struct tape *t)
{
	settle(t);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	return 0;
}

int tape_register_arena(struct tape *t, void *base, size_t len)
{
	int err;

	if (!t)
		return -EINVAL;
	settle(t);
	if ((base == NULL) != (len == 0) || ((uintptr_t)base | len) % 4096)
		return illegal(t);
	t->q_async = false;
	if (!t->ops->register_arena || !t->ops->write_queued || !t->ops->reap)
		return base ? -EOPNOTSUPP : 0;
	err = t->ops->register_arena(t, base, len);
	t->q_async = base && err == 0;
	return err;
}

bool tape_queue_async(const struct tape *t)
{
	return t && t->q_async;
}

ssize_t tape_write_queued(struct tape *t, const void *buf, size_t len,
			  uint64_t *seq)
{
	ssize_t r;
	int err;

	if (!t)
		return -EINVAL;
	begin(t);
	if (!buf || len == 0 || len > t->caps.max_record || !seq)
		return illegal(t);
	if (t->readonly)
		return protected(t);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	if (t->q_async) {
		r = t->ops->write_queued(t, buf, len);
		if (r < 0)
			return r;
		*seq = ++t->q.queued;
		return r;
	}
	err = settle_for_write(t);
	if (err)
		return err;
	r = t->ops->write(t, buf, len);
	if (r < 0)
		return r;
	*seq = ++t->q.queued;
	t->q.retired = t->q.queued;
	if (t->last.sense == TAPE_SENSE_EARLY_WARNING)
		t->q.early_warning = true;
	return r;
}

int tape_queue_reap(struct tape *t, uint64_t wait_for,
		    struct tape_queue_state *st)
{
	int err = 0;

	if (!t)
		return -EINVAL;
	if (t->q_async && t->q.retired < t->q.queued && !t->q.error) {
		if (wait_for > t->q.queued)
			wait_for = t->q.queued;
		err = t->ops->reap(t, wait_for > t->q.retired ? wait_for : 0);
		if (err && !t->q.error && wait_for > t->q.retired) {
			t->q.error = err;
			t->q.error_seq = t->q.retired + 1;
			t->q.error_sense = TAPE_SENSE_HARDWARE;
		}
	}
	if (st)
		*st = t->q;
	return t->q.error;
}

ssize_t tape_read(struct tape *t, void *buf, size_t len)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!buf && len)
		return illegal(t);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	return t->ops->read(t, buf, len);
}

ssize_t tape_write(struct tape *t, const void *buf, size_t len)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!buf || len == 0 || len > t->caps.max_record)
		return illegal(t);
	if (t->readonly)
		return protected(t);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	return t->ops->write(t, buf, len);
}

int tape_write_filemarks(struct tape *t, unsigned count)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (t->readonly)
		return count ? protected(t) : 0;
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	return t->ops->write_filemarks(t, count);
}

int tape_flush(struct tape *t)
{
	return tape_write_filemarks(t, 0);
}

int tape_locate(struct tape *t, uint32_t partition, uint64_t block)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (partition >= t->caps.max_partitions)
		return illegal(t);
	return t->ops->locate(t, partition, block);
}

int tape_read_position(struct tape *t, struct tape_position *pos)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!pos)
		return illegal(t);
	return t->ops->read_position(t, pos);
}

int tape_space(struct tape *t, enum tape_space_kind kind, int64_t count)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (kind != TAPE_SPACE_RECORDS && kind != TAPE_SPACE_FILEMARKS &&
	    kind != TAPE_SPACE_EOD)
		return illegal(t);
	return t->ops->space(t, kind, count);
}

int tape_rewind(struct tape *t)
{
	if (!t)
		return -EINVAL;
	settle(t);
	return t->ops->rewind(t);
}

int tape_load(struct tape *t)
{
	if (!t)
		return -EINVAL;
	settle(t);
	return t->ops->load(t);
}

int tape_unload(struct tape *t)
{
	if (!t)
		return -EINVAL;
	settle(t);
	return t->ops->unload(t);
}

int tape_medium_info(struct tape *t, struct tape_medium *m)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!m)
		return illegal(t);
	memset(m, 0, sizeof(*m));
	return t->ops->medium_info(t, m);
}

int tape_format(struct tape *t, unsigned nparts, const uint64_t *sizes)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!t->caps.can_format || !t->ops->format)
		return unsupported(t);
	if (nparts < 1 || nparts > t->caps.max_partitions || !sizes)
		return illegal(t);
	if (t->readonly)
		return protected(t);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	return t->ops->format(t, nparts, sizes);
}

int tape_set_early_warning(struct tape *t, uint64_t bytes)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!t->caps.can_set_early_warning || !t->ops->set_early_warning)
		return unsupported(t);
	return t->ops->set_early_warning(t, bytes);
}

int tape_get_attr(struct tape *t, uint32_t partition, uint16_t id,
		  struct tape_attr *attr)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!t->caps.has_mam || !t->ops->get_attr)
		return unsupported(t);
	if (!attr || partition >= t->caps.max_partitions)
		return illegal(t);
	return t->ops->get_attr(t, partition, id, attr);
}

int tape_set_attr(struct tape *t, uint32_t partition,
		  const struct tape_attr *attr)
{
	if (!t)
		return -EINVAL;
	settle(t);
	if (!t->caps.has_mam || !t->ops->set_attr)
		return unsupported(t);
	if (!attr || attr->length > TAPE_ATTR_MAX_VALUE ||
	    partition >= t->caps.max_partitions)
		return illegal(t);
	if (t->readonly)
		return protected(t);
	if (t->q.error)
		return tape_fail(t, t->q.error, t->q.error_sense, 0);
	return t->ops->set_attr(t, partition, attr);
}
