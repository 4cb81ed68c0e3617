/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop.c - the FUSE session loop.  libfuse's own loop reads every request
 * into a buffer of its own (or a pipe), from which a write's payload would
 * have to be copied into the core's write stream.  Here each request is
 * read straight into a landing of the stream (ltfs_landing_get()): the
 * header goes just before the point where the next stream bytes belong,
 * the payload exactly there, and the core queues the records from where
 * the kernel put them.  Requests that are not writes land the same way
 * and leave the stream as it was (ltfs_landing_put()).
 *
 * What is not ours is libfuse's: fuse_session_process_buf() decodes and
 * dispatches the request as fuse_session_loop() would, and the receive
 * side keeps libfuse's rules (ENOENT: the request was interrupted, read
 * again; ENODEV: unmounted; EINTR/EAGAIN: again; stop once the session
 * exited, e.g. after a signal).
 */
#include "fusetape.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/uio.h>
#include <unistd.h>

/* A write request's header: the payload follows it in the same read. */
#define FT_REQUEST_HEADER (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
/*
 * Payload room of every read: the largest write plus a page, as libfuse
 * reads (the kernel refuses reads shorter than header + max_write, and a
 * request other than a write, e.g. a setxattr, may be a little larger).
 */
#define FT_REQUEST_ROOM (FT_MAX_WRITE + 4096)
#define FT_READ_SIZE (FT_REQUEST_HEADER + FT_REQUEST_ROOM)

/*
 * FUSE_HANDLE_KILLPRIV_V2 (protocol 7.33; libfuse 3.14 cannot ask for it):
 * "the file system clears suid, sgid and capabilities on write, chown and
 * truncate".  Without it the kernel, which cannot remember that our files
 * carry no security.capability, asks for that attribute before every
 * write: a second round trip per write request.  fusetape has no suid or
 * sgid bits (modes are shown, not stored) and no security.* attributes,
 * so the promise holds trivially, and the kernel then marks the mount
 * SB_NOSEC.  The flag is added to libfuse's INIT reply on its way out,
 * and only when the kernel offered it.
 */
static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ft_fs *fs = userdata;

	if (fs->init_unique && count >= 2 &&
	    iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    ((struct fuse_out_header *)iov[0].iov_base)->unique == fs->init_unique) {
		const struct fuse_out_header *oh = iov[0].iov_base;

		fs->init_unique = 0;
		if (oh->error == 0 &&
		    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
			((struct fuse_init_out *)iov[1].iov_base)->flags |= FUSE_HANDLE_KILLPRIV_V2;
			fs->killpriv_v2 = true;
		}
	}
	return writev(fd, iov, count);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	return read(fd, buf, len);
}

/* Read replies keep going by splice (libfuse would copy without this). */
static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io ft_io = {
	.writev = io_writev,
	.read = io_read,
	.splice_send = io_splice_send,
};

int ft_session_io(struct ft_fs *fs, struct fuse_session *se)
{
	return fuse_session_custom_io(se, &ft_io, fuse_session_fd(se));
}

/* Note an INIT request whose reply io_writev() may extend. */
static void note_init(struct ft_fs *fs, const unsigned char *req, size_t len)
{
	const struct fuse_in_header *in = (const void *)req;
	const struct fuse_init_in *init = (const void *)(req + sizeof(*in));

	if (in->opcode == FUSE_INIT &&
	    len >= sizeof(*in) + offsetof(struct fuse_init_in, flags) + sizeof(uint32_t) &&
	    (init->flags & FUSE_HANDLE_KILLPRIV_V2))
		fs->init_unique = in->unique;
}

/* A landing for the next request, or NULL: then the plain buffer. */
static unsigned char *get_landing(struct ft_fs *fs, struct ltfs_landing *l)
{
	int r;

	if (!fs->landing)
		return NULL;
	pthread_mutex_lock(&fs->lock);
	r = fs->vol ? ltfs_landing_get(fs->vol, FT_REQUEST_HEADER, FT_REQUEST_ROOM, l)
		    : -EIO;
	if (r < 0)
		fs->landing_refused++;
	pthread_mutex_unlock(&fs->lock);
	return r < 0 ? NULL : l->data;
}

static void put_landing(struct ft_fs *fs, struct ltfs_landing *l)
{
	pthread_mutex_lock(&fs->lock);
	if (fs->vol)
		ltfs_landing_put(fs->vol, l);
	pthread_mutex_unlock(&fs->lock);
}

int ft_session_loop(struct ft_fs *fs, struct fuse_session *se)
{
	int fd = fuse_session_fd(se), res = 0;
	size_t plain_size = (FT_READ_SIZE + 4095) & ~(size_t)4095;
	unsigned char *plain = aligned_alloc(4096, plain_size);

	if (!plain)
		return -ENOMEM;
	while (!fuse_session_exited(se)) {
		struct ltfs_landing l;
		unsigned char *payload = get_landing(fs, &l);
		unsigned char *dst = payload ? payload - FT_REQUEST_HEADER : plain;
		struct fuse_buf buf;
		ssize_t n;
		int err;

		n = read(fd, dst, FT_READ_SIZE);
		err = errno;
		if (fuse_session_exited(se) || n < 0) {
			if (payload)
				put_landing(fs, &l);
			if (fuse_session_exited(se))
				break;
			if (err == ENOENT || err == EINTR || err == EAGAIN)
				continue;
			if (err == ENODEV) {
				/* unmounted, or the connection was aborted */
				fuse_session_exit(se);
				break;
			}
			ft_log(fs, LOG_ERR, "reading /dev/fuse: %s", strerror(err));
			res = -err;
			break;
		}
		if ((size_t)n < sizeof(struct fuse_in_header)) {
			if (payload)
				put_landing(fs, &l);
			ft_log(fs, LOG_ERR, "short read on /dev/fuse (%zd bytes)", n);
			res = -EIO;
			break;
		}
		note_init(fs, dst, (size_t)n);
		fs->requests++;
		memset(&buf, 0, sizeof(buf));
		buf.mem = dst;
		buf.size = (size_t)n;
		/* a write's payload is now at `payload`: ft_write_buf() hands that
		 * address to ltfs_write_landed(), which finds it in place */
		fuse_session_process_buf(se, &buf);
		if (payload)
			put_landing(fs, &l);
	}
	free(plain);
	fuse_session_reset(se);
	return res;
}
