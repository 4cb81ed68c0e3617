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
#include <stdio.h>
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
 * libfuse 3.14 cannot ask for two flags of the INIT exchange that the
 * daemon wants; they are added to libfuse's INIT reply on its way out,
 * each only when the kernel offered it:
 *
 * FUSE_HANDLE_KILLPRIV_V2 (protocol 7.33): "the file system clears suid,
 * sgid and capabilities on write, chown and truncate".  Without it the
 * kernel, which cannot remember that our files carry no
 * security.capability, asks for that attribute before every write: a
 * second round trip per write request.  fusetape has no suid or sgid bits
 * (modes are shown, not stored) and no security.* attributes, so the
 * promise holds trivially, and the kernel then marks the mount SB_NOSEC.
 *
 * FUSE_DIRECT_IO_ALLOW_MMAP (flags2, so FUSE_INIT_EXT too): files opened
 * with FOPEN_DIRECT_IO may be mmap()ed MAP_SHARED.  Asked for only when
 * ft_init() chose uncached reads (fs->direct_reads, -o directreads; see
 * open_begin() in ops.c for why not always); a reply too short to carry
 * flags2 turns them off again, before any open can come.
 */
static void extend_init_reply(struct ft_fs *fs, struct fuse_init_out *out, size_t len)
{
	if (len < offsetof(struct fuse_init_out, flags) + sizeof(out->flags)) {
		fs->direct_reads = false;
		snprintf(fs->read_opens, sizeof(fs->read_opens),
			 "cached: libfuse's INIT reply has no flags");
		return;
	}
	if (fs->init_offered & FUSE_HANDLE_KILLPRIV_V2) {
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
		fs->killpriv_v2 = true;
	}
	if (!fs->direct_reads)
		return;
	if (len < offsetof(struct fuse_init_out, flags2) + sizeof(out->flags2)) {
		fs->direct_reads = false;
		snprintf(fs->read_opens, sizeof(fs->read_opens),
			 "cached: libfuse's INIT reply has no flags2");
		return;
	}
	out->flags |= FUSE_INIT_EXT;
	out->flags2 |= (uint32_t)(FT_INIT_DIRECT_IO_ALLOW_MMAP >> 32);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ft_fs *fs = userdata;

	if (fs->init_unique && count >= 2 &&
	    iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    ((struct fuse_out_header *)iov[0].iov_base)->unique == fs->init_unique) {
		const struct fuse_out_header *oh = iov[0].iov_base;

		fs->init_unique = 0;
		if (oh->error == 0)
			extend_init_reply(fs, iov[1].iov_base, iov[1].iov_len);
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

/*
 * Note an INIT request whose reply io_writev() may extend, and what the
 * kernel offered in it (ft_init() decides from that).  Whether it is one:
 * the return value.
 */
static bool note_init(struct ft_fs *fs, const unsigned char *req, size_t len)
{
	const struct fuse_in_header *in = (const void *)req;
	const struct fuse_init_in *init = (const void *)(req + sizeof(*in));
	uint64_t offered;

	if (in->opcode != FUSE_INIT ||
	    len < sizeof(*in) + offsetof(struct fuse_init_in, flags) + sizeof(uint32_t))
		return false;
	offered = init->flags;
	if ((init->flags & FUSE_INIT_EXT) &&
	    len >= sizeof(*in) + offsetof(struct fuse_init_in, flags2) + sizeof(uint32_t))
		offered |= (uint64_t)init->flags2 << 32;
	fs->init_offered = offered;
	fs->init_unique = in->unique;
	return true;
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
		bool is_init;
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
		is_init = note_init(fs, dst, (size_t)n);
		fs->requests++;
		memset(&buf, 0, sizeof(buf));
		buf.mem = dst;
		buf.size = (size_t)n;
		/* a write's payload is now at `payload`: ft_write_buf() hands that
		 * address to ltfs_write_landed(), which finds it in place */
		fuse_session_process_buf(se, &buf);
		if (payload)
			put_landing(fs, &l);
		/*
		 * Now the INIT reply has settled what the kernel does for us.
		 * A reply that did not pass io_writev() (libfuse refused our
		 * io, or INIT failed) asked for nothing: reads stay cached.
		 */
		if (is_init) {
			if (fs->init_unique) {
				fs->init_unique = 0;
				if (fs->direct_reads) {
					fs->direct_reads = false;
					snprintf(fs->read_opens, sizeof(fs->read_opens),
						 "cached: the INIT reply could not be extended");
				}
			}
			ft_log_data_path(fs);
		}
	}
	free(plain);
	fuse_session_reset(se);
	return res;
}
