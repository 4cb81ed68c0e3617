/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.c - FUSE low-level requests mapped onto the LTFS core.
 *
 * Inode numbers are LTFS file UIDs (the root is UID 1 == FUSE_ROOT_ID) and
 * the core counts lookups the way FUSE does, so the daemon keeps no inode
 * table of its own and no per-open state: every request names the node by
 * its UID and goes straight to the core under fs->lock.
 *
 * What POSIX has and LTFS has not is shown, not stored: owner and group
 * are the mount's uid=/gid=, modes are 0666/0777 minus umask= with the
 * write bits cleared for LTFS read-only nodes, and chmod only moves the
 * read-only flag (see man/fusetape.1).
 */
#include "fusetape.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define USER_PREFIX "user."
#define USER_PREFIX_LEN (sizeof(USER_PREFIX) - 1)

static struct ft_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void lock(struct ft_fs *fs)
{
	pthread_mutex_lock(&fs->lock);
}

static void unlock(struct ft_fs *fs)
{
	pthread_mutex_unlock(&fs->lock);
}

/*
 * The volume is only freed after the session loop ended, so requests
 * never see it gone; the check keeps a late request from crashing anyway.
 */
#define VOL_OR_FAIL(fs, req) do { \
	if (!(fs)->vol) { \
		unlock(fs); \
		fuse_reply_err((req), EIO); \
		return; \
	} \
} while (0)

static void to_stat(const struct ft_fs *fs, const struct ltfs_stat *ls,
		    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ls->uid;
	switch (ls->type) {
	case LTFS_TYPE_DIR:
		st->st_mode = S_IFDIR | (0777 & ~fs->umask);
		break;
	case LTFS_TYPE_SYMLINK:
		st->st_mode = S_IFLNK | 0777;
		break;
	case LTFS_TYPE_FILE:
	default:
		st->st_mode = S_IFREG | (0666 & ~fs->umask);
		break;
	}
	if (ls->readonly && ls->type != LTFS_TYPE_SYMLINK)
		st->st_mode &= ~(mode_t)0222;
	st->st_nlink = ls->nlink;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)ls->length;
	st->st_blocks = (blkcnt_t)ls->blocks_512;
	st->st_blksize = fs->block_size;
	st->st_atim = ls->access;
	st->st_mtim = ls->modify;
	st->st_ctim = ls->change;
}

static void to_entry(const struct ft_fs *fs, const struct ltfs_stat *ls,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ls->uid;
	e->generation = 1;	/* UIDs are never reused */
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	to_stat(fs, ls, &e->attr);
}

static bool name_ok(const char *name, int *err)
{
	if (strlen(name) > LTFS_NAME_MAX) {
		*err = ENAMETOOLONG;
		return false;
	}
	return true;
}

/*
 * Reply with a new entry.  If the kernel never gets the reply (the
 * request was interrupted), it never counts the reference either, so
 * give back the one the core added.
 */
static void reply_entry_or_forget(fuse_req_t req, struct ft_fs *fs,
				  const struct ltfs_stat *ls)
{
	struct fuse_entry_param e;

	to_entry(fs, ls, &e);
	if (fuse_reply_entry(req, &e) != 0) {
		lock(fs);
		if (fs->vol)
			ltfs_forget(fs->vol, ls->uid, 1);
		unlock(fs);
	}
}

/* ---- which opens bypass the page cache ---- */

/* fi->fh: how an open is cached; FT_FH_UNCOUNTED: not in open_files (no memory) */
enum { FT_FH_CACHED = 0, FT_FH_DIRECT_WRITER = 1, FT_FH_UNCACHED = 2, FT_FH_UNCOUNTED = 3,
       FT_FH_DIRECT_READER = 4 };

static struct ft_open_file *open_file(struct ft_fs *fs, fuse_ino_t ino, bool add)
{
	struct ft_open_file *f;
	size_t i;

	for (i = 0; i < fs->n_open_files; i++)
		if (fs->open_files[i].ino == ino)
			return &fs->open_files[i];
	if (!add)
		return NULL;
	if (fs->n_open_files == fs->cap_open_files) {
		size_t cap = fs->cap_open_files ? 2 * fs->cap_open_files : 16;

		f = realloc(fs->open_files, cap * sizeof(*f));
		if (!f)
			return NULL;
		fs->open_files = f;
		fs->cap_open_files = cap;
	}
	f = &fs->open_files[fs->n_open_files++];
	*f = (struct ft_open_file){ .ino = ino };
	return f;
}

/*
 * Decide how the kernel caches this open and count it.  Called under the
 * lock.  Returns false if the open cannot be counted (no memory): the
 * caller fails it.
 *
 * Writers: a write-only open of a file nobody else has open is uncached
 * (FOPEN_DIRECT_IO); its open drops what the page cache holds of the file
 * (no keep_cache), and while it lasts every other open of the file is
 * uncached as well, so no page of the file is cached that its writes
 * would make stale.
 *
 * Readers: with fs->direct_reads (-o directreads), a read-only open is
 * uncached too (FOPEN_DIRECT_IO), and it may meet cached opens of the
 * same file in either order.  That is safe because such an open never changes the
 * file: the page cache can only go stale through writes that bypass it,
 * and those are the uncached writers' alone, whose rules above are
 * unchanged (a reader counts as an open like any other).  What an
 * uncached reader reads comes from the daemon, which has every write
 * before write(2) returns (no writeback cache), so it sees what cached
 * writers wrote.  Its mmap() uses the page cache like a cached open's
 * would, so it keeps the cache (keep_cache): the pages are as valid as
 * for the cached opens.  direct_reads is only on where the kernel granted
 * FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+), whose direct reads also first
 * write back dirty pages of a shared writable mapping in their range, and
 * whose direct writes drop the cached pages of theirs.  That flag also
 * lets the uncached opens beside an uncached writer be mapped; the
 * kernel drops a write's pages before it sends the write, so a page
 * fault that slips in between could cache the old bytes: which is why
 * the flag is only asked for with -o directreads.
 */
static bool open_begin(struct ft_fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ft_open_file *f = open_file(fs, ino, true);
	int mode = fi->flags & O_ACCMODE;

	if (!f)
		return false;
	fi->fh = FT_FH_CACHED;
	fi->keep_cache = 1;
	if (fs->direct_writes && mode == O_WRONLY && f->opens == 0) {
		fi->fh = FT_FH_DIRECT_WRITER;
		f->direct_writers++;
		fs->direct_write_opens++;
	} else if (f->direct_writers) {
		fi->fh = FT_FH_UNCACHED;
	} else if (fs->direct_reads && mode == O_RDONLY) {
		fi->fh = FT_FH_DIRECT_READER;
		fs->direct_read_opens++;
	}
	if (fi->fh != FT_FH_CACHED) {
		fi->direct_io = 1;
		fi->keep_cache = fi->fh == FT_FH_DIRECT_READER;
	}
	f->opens++;
	return true;
}

/* The kernel dropped an open (release), or never got it. */
static void open_end(struct ft_fs *fs, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	struct ft_open_file *f;

	if (fi->fh == FT_FH_UNCOUNTED || !(f = open_file(fs, ino, false)))
		return;
	if (fi->fh == FT_FH_DIRECT_WRITER && f->direct_writers)
		f->direct_writers--;
	if (f->opens && --f->opens == 0)
		*f = fs->open_files[--fs->n_open_files];
}

static void ft_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ft_fs *fs = userdata;

	/* Large requests: the tape wants whole records. */
	conn->max_write = FT_MAX_WRITE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/*
	 * No writeback cache: every write reaches the daemon before write(2)
	 * returns, so fsync and unmount see all data.
	 */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->time_gran = 1;
	/* uncached reads only where they can still be mmap()ed (loop.c) */
	fs->direct_reads = false;
	if (!fs->want_direct_reads)
		snprintf(fs->read_opens, sizeof(fs->read_opens), "cached");
	else if (!(fs->init_offered & FT_INIT_DIRECT_IO_ALLOW_MMAP))
		snprintf(fs->read_opens, sizeof(fs->read_opens),
			 "cached: the kernel cannot mmap uncached files");
	else {
		fs->direct_reads = true;
		snprintf(fs->read_opens, sizeof(fs->read_opens),
			 "uncached (FUSE_DIRECT_IO_ALLOW_MMAP)");
	}
	/*
	 * Requests are read into memory by our own loop (loop.c), never
	 * spliced into pipes: a write's payload must land in the write stream.
	 */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (fs->splice) {
		unsigned want = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;

		if ((conn->capable & want) == want) {
			conn->want |= want;
		} else {
			fs->splice = false;
			snprintf(fs->read_path, sizeof(fs->read_path),
				 "copy: the kernel offers no splice for FUSE");
		}
	}
}

static void ft_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_stat ls;
	int err, r;

	ft_raise_read_ahead(fs);
	if (!name_ok(name, &err)) {
		fuse_reply_err(req, err);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_lookup(fs->vol, parent, name, &ls);
	unlock(fs);
	if (r == -ENOENT) {
		/* A negative entry: all changes go through this mount. */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_entry_or_forget(req, fs, &ls);
}

static void ft_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ft_fs *fs = fs_of(req);

	lock(fs);
	if (fs->vol)
		ltfs_forget(fs->vol, ino, nlookup);
	unlock(fs);
	fuse_reply_none(req);
}

static void ft_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct ft_fs *fs = fs_of(req);

	lock(fs);
	if (fs->vol) {
		for (size_t i = 0; i < count; i++)
			ltfs_forget(fs->vol, forgets[i].ino, forgets[i].nlookup);
	}
	unlock(fs);
	fuse_reply_none(req);
}

static void ft_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_stat ls;
	struct stat st;
	int r;

	ft_raise_read_ahead(fs);
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_getattr(fs->vol, ino, &ls);
	unlock(fs);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	to_stat(fs, &ls, &st);
	fuse_reply_attr(req, &st, fs->timeout);
}

static struct timespec now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/*
 * Only what the mask names changes; times come from the request unless
 * the _NOW flag is set (utimensat with UTIME_OMIT leaves its field out of
 * the mask).  Ownership cannot be stored: a chown to the shown owner is
 * accepted, any other is EPERM.  Modes cannot be stored either: chmod to a
 * mode without any write bit sets the LTFS read-only flag, a mode with a
 * write bit clears it, and the other bits are ignored.
 */
static void ft_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_setattr sa;
	struct ltfs_stat ls;
	struct stat st;
	int r;

	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid) {
		fuse_reply_err(req, EPERM);
		return;
	}

	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		sa.mask |= LTFS_SET_LENGTH;
		sa.length = (uint64_t)attr->st_size;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		sa.mask |= LTFS_SET_MODIFY;
		sa.modify = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now_realtime()
							       : attr->st_mtim;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		sa.mask |= LTFS_SET_ACCESS;
		sa.access = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now_realtime()
							       : attr->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		sa.mask |= LTFS_SET_CHANGE;
		sa.change = attr->st_ctim;
	}

	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_getattr(fs->vol, ino, &ls);
	if (r == 0 && (to_set & FUSE_SET_ATTR_MODE) &&
	    ls.type != LTFS_TYPE_SYMLINK) {
		bool want_readonly = (attr->st_mode & 0222) == 0;

		if (want_readonly != ls.readonly) {
			sa.mask |= LTFS_SET_READONLY;
			sa.readonly = want_readonly;
		}
	}
	if (r == 0 && sa.mask)
		r = ltfs_setattr(fs->vol, ino, &sa, &ls);
	unlock(fs);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	to_stat(fs, &ls, &st);
	fuse_reply_attr(req, &st, fs->timeout);
}

static void ft_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ft_fs *fs = fs_of(req);
	char buf[PATH_MAX + 1];
	ssize_t n;

	lock(fs);
	VOL_OR_FAIL(fs, req);
	n = ltfs_readlink(fs->vol, ino, buf, sizeof(buf) - 1);
	unlock(fs);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	if ((size_t)n > sizeof(buf) - 1) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Both create paths; modes are not stored (see ft_setattr). */
static int do_create(struct ft_fs *fs, fuse_ino_t parent, const char *name,
		     struct ltfs_stat *ls)
{
	int r;

	lock(fs);
	if (!fs->vol)
		r = -EIO;
	else
		r = ltfs_create(fs->vol, parent, name, ls);
	unlock(fs);
	return r;
}

static void ft_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_stat ls;
	int err, r;

	/* LTFS stores regular files, directories and symlinks only. */
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!name_ok(name, &err)) {
		fuse_reply_err(req, err);
		return;
	}
	r = do_create(fs, parent, name, &ls);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_entry_or_forget(req, fs, &ls);
}

static void ft_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_stat ls;
	int err, r;

	if (!name_ok(name, &err)) {
		fuse_reply_err(req, err);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_mkdir(fs->vol, parent, name, &ls);
	unlock(fs);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_entry_or_forget(req, fs, &ls);
}

static void ft_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_stat ls;
	int err, r;

	if (!name_ok(name, &err)) {
		fuse_reply_err(req, err);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_symlink(fs->vol, parent, name, target, &ls);
	unlock(fs);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	reply_entry_or_forget(req, fs, &ls);
}

static void ft_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ft_fs *fs = fs_of(req);
	int r;

	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_unlink(fs->vol, parent, name);
	unlock(fs);
	fuse_reply_err(req, -r);
}

static void ft_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ft_fs *fs = fs_of(req);
	int r;

	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_rmdir(fs->vol, parent, name);
	unlock(fs);
	fuse_reply_err(req, -r);
}

static void ft_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct ft_fs *fs = fs_of(req);
	int err, r;

	/* RENAME_WHITEOUT and anything newer: not for a tape. */
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!name_ok(newname, &err)) {
		fuse_reply_err(req, err);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_rename(fs->vol, parent, name, newparent, newname, flags);
	unlock(fs);
	fuse_reply_err(req, -r);
}

/* LTFS has no hard links: a node has exactly one name. */
static void ft_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	fuse_reply_err(req, EPERM);
}

static void ft_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct ltfs_stat ls;
	int r;

	ft_raise_read_ahead(fs);
	if (writing && fs->readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_getattr(fs->vol, ino, &ls);
	if (r == 0 && ls.type == LTFS_TYPE_DIR)
		r = -EISDIR;
	/* With atomic_o_trunc the kernel leaves O_TRUNC to us. */
	if (r == 0 && writing && (fi->flags & O_TRUNC) && ls.length > 0) {
		struct ltfs_setattr sa = { .mask = LTFS_SET_LENGTH, .length = 0 };

		r = ltfs_setattr(fs->vol, ino, &sa, &ls);
	}
	/*
	 * Every change of a file's data goes through this mount, so the
	 * kernel's page cache stays valid from one open to the next (except
	 * where uncached writers are about: open_begin()).
	 */
	if (r == 0 && !open_begin(fs, ino, fi))
		r = -ENOMEM;
	unlock(fs);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (fuse_reply_open(req, fi) != 0) {
		lock(fs);
		open_end(fs, ino, fi);
		unlock(fs);
	}
}

static void ft_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct ltfs_stat ls;
	int err, r;

	if (!name_ok(name, &err)) {
		fuse_reply_err(req, err);
		return;
	}
	r = do_create(fs, parent, name, &ls);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	to_entry(fs, &ls, &e);
	lock(fs);
	if (!open_begin(fs, ls.uid, fi)) {
		/* a new file nobody else has open: cached and uncounted */
		fi->fh = FT_FH_UNCOUNTED;
		fi->keep_cache = 1;
		fi->direct_io = 0;
	}
	unlock(fs);
	if (fuse_reply_create(req, &e, fi) != 0) {
		lock(fs);
		open_end(fs, ls.uid, fi);
		if (fs->vol)
			ltfs_forget(fs->vol, ls.uid, 1);
		unlock(fs);
	}
}

/* Image ranges in one reply, at most; then the rest is copied. */
#define FT_READ_SEGS 8

/*
 * With splice on, the parts of the request that lie in records of the
 * tape image are answered as ranges of the image file (the kernel splices
 * them into /dev/fuse; the core checked their CRCs first); a part it
 * cannot serve that way (a hole, data still in the write buffer) and
 * everything after it is read into memory by the core.  The reply goes
 * out under the lock so that no write or sync can move the tape's data
 * in between.
 */
static void ft_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	struct fuse_bufvec *bv;
	size_t got = 0, direct = 0;
	ssize_t n = 0;
	char *buf = NULL;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	bv = calloc(1, sizeof(*bv) + FT_READ_SEGS * sizeof(bv->buf[0]));
	if (!bv) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lock(fs);
	if (!fs->vol)
		n = -EIO;
	while (fs->splice && n >= 0 && got < size && bv->count < FT_READ_SEGS) {
		uint64_t pos;
		int fd;

		n = ltfs_read_direct(fs->vol, ino, size - got, (uint64_t)off + got,
				     &fd, &pos);
		if (n <= 0)
			break;
		bv->buf[bv->count++] = (struct fuse_buf){
			.size = (size_t)n,
			.flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK,
			.fd = fd,
			.pos = (off_t)pos,
		};
		got += (size_t)n;
		direct += (size_t)n;
	}
	if (n >= 0 && got < size) {
		buf = malloc(size - got);
		n = buf ? ltfs_read(fs->vol, ino, buf, size - got, (uint64_t)off + got)
			: -ENOMEM;
		if (n > 0) {
			bv->buf[bv->count++] = (struct fuse_buf){ .size = (size_t)n, .mem = buf };
			got += (size_t)n;
		}
	}
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
	} else {
		fs->read_bytes += got;
		/* libfuse copies replies under two pages instead of splicing */
		if (direct && got >= 2 * 4096)
			fs->read_spliced += direct;
		fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE);
	}
	unlock(fs);
	free(buf);
	free(bv);
}

void ft_note_failure(struct ft_fs *fs)
{
	char msg[LTFS_ERRLEN];

	if (!fs->failure_logged && fs->vol && ltfs_write_failure(fs->vol, msg)) {
		fs->failure_logged = true;
		ft_log(fs, LOG_ERR, "%s: %s", fs->device, msg);
	}
}

/*
 * Writes arrive as a fuse_bufvec whose memory is where the request was
 * read to: usually a landing in the write stream (loop.c), where the core
 * finds the payload in place and copies nothing; else the daemon's plain
 * buffer, from which the core copies.  Anything other than one memory
 * buffer (libfuse never makes one here) is gathered first.
 */
static void ft_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *bufv, off_t off,
			 struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	size_t len = fuse_buf_size(bufv);
	const struct fuse_buf *b = &bufv->buf[bufv->idx];
	const char *data;
	char *copy = NULL;
	ssize_t n;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (fs->readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (bufv->count - bufv->idx == 1 && !(b->flags & FUSE_BUF_IS_FD)) {
		data = (const char *)b->mem + bufv->off;
		len = b->size - bufv->off;
	} else {
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(len);
		ssize_t got;

		copy = malloc(len ? len : 1);
		if (!copy) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		dst.buf[0].mem = copy;
		got = fuse_buf_copy(&dst, bufv, 0);
		if (got < 0) {
			free(copy);
			fuse_reply_err(req, (int)-got);
			return;
		}
		data = copy;
		len = (size_t)got;
	}

	lock(fs);
	if (!fs->vol)
		n = -EIO;
	else
		n = ltfs_write_landed(fs->vol, ino, data, len, (uint64_t)off);
	if (n > 0)
		fs->write_bytes += (uint64_t)n;
	else if (n < 0)
		ft_note_failure(fs);
	unlock(fs);
	free(copy);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void ft_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Writes are complete when they return; nothing is deferred to close. */
	fuse_reply_err(req, 0);
}

static void ft_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);

	lock(fs);
	open_end(fs, ino, fi);
	unlock(fs);
	fuse_reply_err(req, 0);
}

static void ft_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	int r = 0;

	if (fs->readonly) {
		fuse_reply_err(req, 0);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_fsync(fs->vol, ino);
	if (r < 0)
		ft_note_failure(fs);
	unlock(fs);
	if (r < 0)
		ft_log(fs, LOG_ERR, "fsync of file %llu: index not written: %s",
		       (unsigned long long)ino, strerror(-r));
	fuse_reply_err(req, -r);
}

static void ft_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_stat ls;
	int r;

	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_getattr(fs->vol, ino, &ls);
	unlock(fs);
	if (r == 0 && ls.type != LTFS_TYPE_DIR)
		r = -ENOTDIR;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

/*
 * Directory offsets: 0 is the start, 1 is after ".", 2 after "..", and a
 * core cookie c is offset c + 2 (the core's cookies are file UIDs, far
 * below 2^63).  ".." shows the root's inode for the root and otherwise the
 * "unknown" inode number libfuse's high-level API uses: the core does not
 * name parents, and nothing looks a node up through readdir's inode.
 */
#define DIROFF_DOT 1
#define DIROFF_DOTDOT 2
#define DIROFF_UNKNOWN_INO 0xffffffffu

struct readdir_ctx {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

static bool add_entry(struct readdir_ctx *c, const char *name, uint64_t ino,
		      mode_t type, uint64_t next)
{
	struct stat st;
	size_t need;

	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = type;
	need = fuse_add_direntry(c->req, c->buf + c->used, c->size - c->used,
				 name, &st, (off_t)next);
	if (need > c->size - c->used)
		return false;	/* full: the kernel asks again from the last offset */
	c->used += need;
	return true;
}

static int readdir_fill(void *opaque, const char *name,
			const struct ltfs_stat *ls, uint64_t next)
{
	mode_t type = ls->type == LTFS_TYPE_DIR ? S_IFDIR :
		      ls->type == LTFS_TYPE_SYMLINK ? S_IFLNK : S_IFREG;

	if (next > (uint64_t)INT64_MAX - DIROFF_DOTDOT)
		return 1;	/* not representable; never happens with UIDs */
	return add_entry(opaque, name, ls->uid, type, next + DIROFF_DOTDOT) ? 0 : 1;
}

static void ft_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct ft_fs *fs = fs_of(req);
	struct readdir_ctx c = { .req = req, .size = size };
	uint64_t cookie;
	int r = 0;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	c.buf = malloc(size ? size : 1);
	if (!c.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off < DIROFF_DOT && !add_entry(&c, ".", ino, S_IFDIR, DIROFF_DOT))
		goto reply;
	if (off < DIROFF_DOTDOT &&
	    !add_entry(&c, "..", ino == FUSE_ROOT_ID ? FUSE_ROOT_ID : DIROFF_UNKNOWN_INO,
		       S_IFDIR, DIROFF_DOTDOT))
		goto reply;
	cookie = off > DIROFF_DOTDOT ? (uint64_t)off - DIROFF_DOTDOT : 0;
	lock(fs);
	if (!fs->vol)
		r = -EIO;
	else
		r = ltfs_readdir(fs->vol, ino, cookie, readdir_fill, &c);
	unlock(fs);
reply:
	/* Entries already filled are worth more than the error. */
	if (r < 0 && c.used == 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, c.buf, c.used);
	free(c.buf);
}

static void ft_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static int sync_volume(struct ft_fs *fs, const char *reason)
{
	int r;

	if (fs->readonly)
		return 0;
	lock(fs);
	r = fs->vol ? ltfs_sync(fs->vol, reason) : -EIO;
	if (r < 0)
		ft_note_failure(fs);
	unlock(fs);
	if (r < 0)
		ft_log(fs, LOG_ERR, "%s: index not written: %s", reason, strerror(-r));
	return r;
}

static void ft_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, -sync_volume(fs_of(req), "Sync"));
}

static void ft_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ft_fs *fs = fs_of(req);
	struct ltfs_space sp;
	struct statvfs sv;
	int r;

	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_statfs(fs->vol, &sp);
	unlock(fs);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/*
	 * f_bsize is the tape block size, the preferred I/O size; space is
	 * counted in 4 KiB fragments so df stays exact on small volumes.
	 * LTFS has no inode table: free "inodes" are shown as free fragments.
	 */
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sp.block_size ? sp.block_size : fs->block_size;
	sv.f_frsize = 4096;
	sv.f_blocks = sp.total_bytes / sv.f_frsize;
	sv.f_bfree = sp.free_bytes / sv.f_frsize;
	sv.f_bavail = fs->readonly ? 0 : sv.f_bfree;
	sv.f_ffree = sv.f_bfree;
	sv.f_favail = sv.f_bavail;
	sv.f_files = sp.files + sv.f_ffree;
	sv.f_namemax = LTFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/* "user.K" <-> LTFS key K; other namespaces cannot be stored. */
static const char *ltfs_key(const char *name, int *err)
{
	if (strncmp(name, USER_PREFIX, USER_PREFIX_LEN) != 0) {
		*err = ENOTSUP;
		return NULL;
	}
	if (name[USER_PREFIX_LEN] == '\0') {
		*err = EINVAL;
		return NULL;
	}
	return name + USER_PREFIX_LEN;
}

/* The mounting user and root may drive the daemon through the root node. */
static bool may_control(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return ctx->uid == 0 || ctx->uid == getuid();
}

static void reply_xattr_value(fuse_req_t req, const void *value, size_t len,
			      size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

/*
 * user.fusetape.unmount:FIFO: remember where to report the final status,
 * and put everything on tape now, so that the umount that follows has
 * little left to do and a failure shows while the volume is still mounted.
 */
static void control_unmount(fuse_req_t req, struct ft_fs *fs,
			    const char *path, size_t size)
{
	static const char ok[] = "ok";
	struct stat st;
	int fd, r;

	if (!may_control(req)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (path[0] != '/') {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (size != 0 && size < sizeof(ok) - 1) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	/* Open nothing but a FIFO: opening a device can have side effects. */
	if (lstat(path, &st) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (!S_ISFIFO(st.st_mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = sync_volume(fs, "Sync before unmount");
	if (r < 0) {
		close(fd);
		fuse_reply_err(req, -r);
		return;
	}
	lock(fs);
	if (fs->status_fd >= 0)
		close(fs->status_fd);
	fs->status_fd = fd;
	unlock(fs);
	reply_xattr_value(req, ok, sizeof(ok) - 1, size);
}

static void ft_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct ft_fs *fs = fs_of(req);
	const char *key;
	int err, r;

	if (ino == FUSE_ROOT_ID && (strcmp(name, FT_XATTR_PID) == 0 ||
	    strcmp(name, FT_XATTR_STATS) == 0 ||
	    strncmp(name, FT_XATTR_UNMOUNT, strlen(FT_XATTR_UNMOUNT)) == 0)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (strcmp(name, FT_XATTR_SYNC) == 0) {
		fuse_reply_err(req, -sync_volume(fs, "Sync by EA"));
		return;
	}
	key = ltfs_key(name, &err);
	if (!key) {
		fuse_reply_err(req, err);
		return;
	}
	if (fs->readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_setxattr(fs->vol, ino, key, value, size, flags);
	unlock(fs);
	fuse_reply_err(req, -r);
}

static void ft_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct ft_fs *fs = fs_of(req);
	const char *key;
	ssize_t n;
	char *buf;
	int err;

	if (ino == FUSE_ROOT_ID && strcmp(name, FT_XATTR_PID) == 0) {
		char pid[32];
		int len = snprintf(pid, sizeof(pid), "%ld", (long)getpid());

		reply_xattr_value(req, pid, (size_t)len, size);
		return;
	}
	if (ino == FUSE_ROOT_ID && strcmp(name, FT_XATTR_STATS) == 0) {
		char text[2048];
		size_t len = ft_stats_text(fs, text, sizeof(text));

		reply_xattr_value(req, text, len, size);
		return;
	}
	if (ino == FUSE_ROOT_ID &&
	    strncmp(name, FT_XATTR_UNMOUNT, strlen(FT_XATTR_UNMOUNT)) == 0) {
		control_unmount(req, fs, name + strlen(FT_XATTR_UNMOUNT), size);
		return;
	}
	key = ltfs_key(name, &err);
	if (!key) {
		fuse_reply_err(req, err);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lock(fs);
	if (!fs->vol)
		n = -EIO;
	else
		n = ltfs_getxattr(fs->vol, ino, key, buf, size);
	unlock(fs);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		reply_xattr_value(req, buf, (size_t)n, size);
	free(buf);
}

/* The core lists bare keys; the kernel wants "user." in front of each. */
static void ft_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct ft_fs *fs = fs_of(req);
	char *keys = NULL, *out = NULL;
	size_t keys_len = 0, out_len = 0;
	ssize_t n;

	lock(fs);
	VOL_OR_FAIL(fs, req);
	/* The list may change only under the lock, so size and fetch together. */
	n = ltfs_listxattr(fs->vol, ino, NULL, 0);
	if (n > 0) {
		keys_len = (size_t)n;
		keys = malloc(keys_len);
		if (!keys)
			n = -ENOMEM;
		else
			n = ltfs_listxattr(fs->vol, ino, keys, keys_len);
		if (n >= 0 && (size_t)n != keys_len)
			n = -EIO;
	}
	unlock(fs);
	if (n < 0) {
		free(keys);
		fuse_reply_err(req, (int)-n);
		return;
	}

	out = malloc(keys_len * (USER_PREFIX_LEN + 1) + 1);
	if (!out) {
		free(keys);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = 0; i < keys_len;) {
		size_t klen = strnlen(keys + i, keys_len - i);

		if (klen > 0) {
			memcpy(out + out_len, USER_PREFIX, USER_PREFIX_LEN);
			memcpy(out + out_len + USER_PREFIX_LEN, keys + i, klen);
			out_len += USER_PREFIX_LEN + klen;
			out[out_len++] = '\0';
		}
		i += klen + 1;
	}
	reply_xattr_value(req, out, out_len, size);
	free(keys);
	free(out);
}

static void ft_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct ft_fs *fs = fs_of(req);
	const char *key;
	int err, r;

	key = ltfs_key(name, &err);
	if (!key) {
		fuse_reply_err(req, err);
		return;
	}
	if (fs->readonly) {
		fuse_reply_err(req, EROFS);
		return;
	}
	lock(fs);
	VOL_OR_FAIL(fs, req);
	r = ltfs_removexattr(fs->vol, ino, key);
	unlock(fs);
	fuse_reply_err(req, -r);
}

static double mb_per_s(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e6 : 0;
}

size_t ft_stats_text(struct ft_fs *fs, char *buf, size_t size)
{
	struct ltfs_io_stats io = { 0 };
	struct tape_position pos = { 0 };
	struct timespec now;
	bool have_pos = false;
	double secs;
	int len;

	lock(fs);
	if (fs->vol) {
		ltfs_io_stats(fs->vol, &io);
		have_pos = tape_read_position(fs->tape, &pos) == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - fs->mounted_at.tv_sec) +
	       (double)(now.tv_nsec - fs->mounted_at.tv_nsec) / 1e9;
	len = snprintf(buf, size,
		"write path: %s\n"
		"read path: %s\n"
		"read opens: %s\n"
		"write bytes: %llu\n"
		"write landed: %llu\n"
		"write direct: %llu\n"
		"write copied: %llu\n"
		"write padding: %llu\n"
		"records queued: %llu\n"
		"records retired: %llu\n"
		"max in flight: %llu\n"
		"requests: %llu\n"
		"landing refused: %llu\n"
		"uncached write opens: %llu\n"
		"uncached read opens: %llu\n"
		"read bytes: %llu\n"
		"read spliced: %llu\n"
		"read copied: %llu\n"
		"records verified: %llu\n"
		"tape position: %s%u:%llu\n"
		"tape wait seconds: %.2f\n"
		"mounted seconds: %.1f\n"
		"write MB/s: %.1f\n"
		"read MB/s: %.1f\n",
		fs->write_path, fs->read_path, fs->read_opens,
		(unsigned long long)fs->write_bytes,
		(unsigned long long)io.write_landed,
		(unsigned long long)io.write_direct,
		(unsigned long long)io.write_copied,
		(unsigned long long)io.write_padding,
		(unsigned long long)io.records_queued,
		(unsigned long long)io.records_retired,
		(unsigned long long)io.max_in_flight,
		(unsigned long long)fs->requests,
		(unsigned long long)fs->landing_refused,
		(unsigned long long)fs->direct_write_opens,
		(unsigned long long)fs->direct_read_opens,
		(unsigned long long)fs->read_bytes,
		(unsigned long long)fs->read_spliced,
		(unsigned long long)(fs->read_bytes - fs->read_spliced),
		(unsigned long long)io.records_verified,
		have_pos ? "" : "unknown ", pos.partition,
		(unsigned long long)pos.block, (double)io.tape_wait_ns / 1e9, secs,
		mb_per_s(fs->write_bytes, secs), mb_per_s(fs->read_bytes, secs));
	unlock(fs);
	if (len < 0)
		len = 0;
	if ((size_t)len >= size)
		len = (int)size - 1;
	return (size_t)len;
}

const struct fuse_lowlevel_ops ft_ops = {
	.init = ft_init,
	.lookup = ft_lookup,
	.forget = ft_forget,
	.forget_multi = ft_forget_multi,
	.getattr = ft_getattr,
	.setattr = ft_setattr,
	.readlink = ft_readlink,
	.mknod = ft_mknod,
	.mkdir = ft_mkdir,
	.symlink = ft_symlink,
	.unlink = ft_unlink,
	.rmdir = ft_rmdir,
	.rename = ft_rename,
	.link = ft_link,
	.open = ft_open,
	.create = ft_create,
	.read = ft_read,
	.write_buf = ft_write_buf,
	.flush = ft_flush,
	.release = ft_release,
	.fsync = ft_fsync,
	.opendir = ft_opendir,
	.readdir = ft_readdir,
	.releasedir = ft_releasedir,
	.fsyncdir = ft_fsyncdir,
	.statfs = ft_statfs,
	.setxattr = ft_setxattr,
	.getxattr = ft_getxattr,
	.listxattr = ft_listxattr,
	.removexattr = ft_removexattr,
};
