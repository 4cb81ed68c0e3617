/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c - fusetape DEVICE MOUNTPOINT [-o options]: mount an LTFS tape.
 *
 * Order matters for the user: everything that can fail for a reason they
 * must read (bad options, a device that will not open, a medium that is
 * not LTFS or is damaged, a mount point that cannot be mounted on) fails
 * on stderr with a nonzero exit before the daemon goes to the background.
 * At the end, however the session ends (fusetape -u, umount, a signal),
 * the index is written to both partitions and the exit code says whether
 * that worked.
 */
#include "fusetape.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SYNC_INTERVAL 300

void ft_log(const struct ft_fs *fs, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (fs->foreground) {
		fputs("fusetape: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(priority, fmt, ap);
	}
	va_end(ap);
}

struct ft_conf {
	char *device;
	char *mountpoint;
	bool ro;
	unsigned sync_interval;
	long uid, gid;		/* -1: the mounting user's */
	long umask;		/* -1: 022 */
	bool nosplice;
	bool nolanding;
	bool cachedwrites;
	bool directreads;
	bool plainring;
	bool help, version;
};

enum { KEY_RO, KEY_SYNC, KEY_UID, KEY_GID, KEY_UMASK, KEY_NOSPLICE, KEY_NOLANDING,
       KEY_CACHEDWRITES, KEY_DIRECTREADS, KEY_PLAINRING, KEY_HELP, KEY_VERSION };

static const struct fuse_opt ft_opt_spec[] = {
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("sync_interval=", KEY_SYNC),
	FUSE_OPT_KEY("uid=", KEY_UID),
	FUSE_OPT_KEY("gid=", KEY_GID),
	FUSE_OPT_KEY("umask=", KEY_UMASK),
	FUSE_OPT_KEY("nosplice", KEY_NOSPLICE),
	FUSE_OPT_KEY("nolanding", KEY_NOLANDING),
	FUSE_OPT_KEY("cachedwrites", KEY_CACHEDWRITES),
	FUSE_OPT_KEY("directreads", KEY_DIRECTREADS),
	FUSE_OPT_KEY("plainring", KEY_PLAINRING),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

/* A whole-string unsigned number in base, at most max; -1 if not. */
static long parse_number(const char *s, int base, unsigned long max)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return -1;
	return (long)v;
}

static int bad_value(const char *arg)
{
	fprintf(stderr, "fusetape: bad option value: -o %s\n", arg);
	return -1;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct ft_conf *c = data;
	const char *val = strchr(arg, '=');
	long v;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!c->device) {
			c->device = strdup(arg);
			return c->device ? 0 : -1;
		}
		if (!c->mountpoint) {
			c->mountpoint = strdup(arg);
			/* kept: fuse_parse_cmdline resolves the mount point */
			return c->mountpoint ? 1 : -1;
		}
		fprintf(stderr, "fusetape: unexpected argument '%s'\n", arg);
		return -1;
	case KEY_RO:
		c->ro = true;
		return 1;	/* also for the kernel: a read-only mount */
	case KEY_SYNC:
		v = parse_number(val + 1, 10, 365L * 24 * 3600);
		if (v < 0)
			return bad_value(arg);
		c->sync_interval = (unsigned)v;
		return 0;
	case KEY_UID:
	case KEY_GID:
		v = parse_number(val + 1, 10, 0xfffffffeUL);
		if (v < 0)
			return bad_value(arg);
		if (key == KEY_UID)
			c->uid = v;
		else
			c->gid = v;
		return 0;
	case KEY_UMASK:
		v = parse_number(val + 1, 8, 0777);
		if (v < 0)
			return bad_value(arg);
		c->umask = v;
		return 0;
	case KEY_NOSPLICE:
		c->nosplice = true;
		return 0;
	case KEY_NOLANDING:
		c->nolanding = true;
		return 0;
	case KEY_CACHEDWRITES:
		c->cachedwrites = true;
		return 0;
	case KEY_DIRECTREADS:
		c->directreads = true;
		return 0;
	case KEY_PLAINRING:
		c->plainring = true;
		return 0;
	case KEY_HELP:
		c->help = true;
		return 0;
	case KEY_VERSION:
		c->version = true;
		return 0;
	default:
		return 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fusetape DEVICE MOUNTPOINT [-f] [-d] [-o OPTION[,OPTION...]]\n"
"       fusetape -u MOUNTPOINT     unmount; returns when the index is on tape\n"
"\n"
"DEVICE is a tape image file, /dev/nstN or /dev/tapedmaN.\n"
"\n"
"fusetape options:\n"
"    -o ro                  mount read-only (never write to the tape)\n"
"    -o sync_interval=SECS  write the index every SECS seconds when changed\n"
"                           (default %d, 0 = only on fsync and unmount)\n"
"    -o uid=N, -o gid=N     owner shown for every file (default: you)\n"
"    -o umask=OCTAL         mode bits to clear from 0666/0777 (default 022)\n"
"    -o nolanding           receive write requests into a buffer of the daemon's\n"
"                           and copy them, instead of straight into the\n"
"                           memory records go to tape from\n"
"    -o nosplice            answer reads from memory, not by splicing\n"
"                           ranges of the tape image\n"
"    -o cachedwrites        write-only opens go through the page cache too\n"
"                           (by default they bypass it: one copy less)\n"
"    -o directreads         read-only opens bypass the page cache where the\n"
"                           kernel can still mmap such files (Linux 6.6+):\n"
"                           faster for large reads, much slower for small ones\n"
"    -o plainring           map the write ring once, not twice back to back\n"
"                           (its end then moves the record being filled)\n"
"    -o allow_other         let other users in (see /etc/fuse.conf)\n"
"    -f                     stay in the foreground\n"
"    -d                     debug: print every FUSE request (implies -f)\n"
"    -h, --help             this help\n"
"    -V, --version          print the version\n"
"\n"
"Unmount with \"fusetape -u MOUNTPOINT\" (or umount/fusermount3 -u, which\n"
"return before the index is written).  See fusetape(1).\n",
		DEFAULT_SYNC_INTERVAL);
}

/* ---- periodic sync ----------------------------------------------------- */

static void *sync_thread_main(void *arg)
{
	struct ft_fs *fs = arg;
	struct timespec deadline;

	pthread_mutex_lock(&fs->lock);
	while (!fs->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += fs->sync_interval;
		while (!fs->stopping &&
		       pthread_cond_timedwait(&fs->wake, &fs->lock, &deadline) != ETIMEDOUT)
			;
		if (fs->stopping || !fs->vol || !ltfs_dirty(fs->vol))
			continue;
		int r = ltfs_sync(fs->vol, "Periodic Sync");

		if (r < 0) {
			ft_log(fs, LOG_ERR, "periodic sync: index not written: %s",
			       strerror(-r));
			ft_note_failure(fs);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

static int start_sync_thread(struct ft_fs *fs)
{
	int r;

	if (fs->sync_interval == 0 || fs->readonly)
		return 0;
	r = pthread_create(&fs->sync_thread, NULL, sync_thread_main, fs);
	if (r)
		return -r;
	fs->sync_thread_running = true;
	return 0;
}

static void stop_sync_thread(struct ft_fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->wake);
	pthread_mutex_unlock(&fs->lock);
	if (fs->sync_thread_running)
		pthread_join(fs->sync_thread, NULL);
	fs->sync_thread_running = false;
}

/* ---- mount and unmount -------------------------------------------------- */

/*
 * libfuse splices a read reply (image ranges) into /dev/fuse through a
 * pipe that must hold the whole reply (up to FT_MAX_WRITE plus a page of
 * headers): more than /proc/sys/fs/pipe-max-size (1 MiB by default)
 * allows unless we may exceed it (CAP_SYS_RESOURCE, e.g. root).  Without
 * such pipes libfuse quietly copies, so find out first and say so.
 */
#define PIPE_MAX_PATH "/proc/sys/fs/pipe-max-size"
#define PIPE_WANTED (2 * FT_MAX_WRITE)

static long read_pipe_max(void)
{
	long max = 0;
	FILE *f = fopen(PIPE_MAX_PATH, "r");

	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 0;
		fclose(f);
	}
	return max;
}

/* Root without CAP_SYS_RESOURCE (containers) may still raise the limit. */
static int raise_pipe_max(struct ft_fs *fs)
{
	long old = read_pipe_max();
	int fd;

	if (geteuid() != 0 || old <= 0 || old >= PIPE_WANTED)
		return -1;
	fd = open(PIPE_MAX_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (dprintf(fd, "%u\n", PIPE_WANTED) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	fprintf(stderr, "fusetape: raised %s from %ld to %u for the splice data path\n",
		PIPE_MAX_PATH, old, PIPE_WANTED);
	return 0;
}

/*
 * Writes: land in the core's write stream unless told not to or the
 * volume cannot take them; the words say what the tape does with the
 * queued records (several in flight from registered memory, or one at a
 * time where the backend has no asynchronous path).
 */
static void choose_write_path(struct ft_fs *fs, bool nolanding)
{
	const char *backend = tape_backend_name(fs->tape);

	fs->landing = false;
	if (fs->readonly) {
		snprintf(fs->write_path, sizeof(fs->write_path), "none: read-only");
		return;
	}
	if (nolanding) {
		snprintf(fs->write_path, sizeof(fs->write_path), "copy: -o nolanding");
		return;
	}
	if (!ltfs_landing_possible(fs->vol)) {
		snprintf(fs->write_path, sizeof(fs->write_path),
			 "copy: the block size is not a multiple of 4 KiB");
		return;
	}
	fs->landing = true;
	if (!ltfs_write_behind(fs->vol))
		snprintf(fs->write_path, sizeof(fs->write_path),
			 "landing: synchronous writes (%s)", backend);
	else if (!strcmp(backend, "image"))
		snprintf(fs->write_path, sizeof(fs->write_path),
			 "landing: io_uring O_DIRECT registered buffers (image)");
	else if (!strcmp(backend, "tapedma"))
		snprintf(fs->write_path, sizeof(fs->write_path),
			 "landing: uring_cmd fixed buffers (tapedma)");
	else
		snprintf(fs->write_path, sizeof(fs->write_path),
			 "landing: write-behind (%s)", backend);
}

static void choose_read_path(struct ft_fs *fs, bool nosplice)
{
	int p[2];

	fs->splice = false;
	if (nosplice) {
		snprintf(fs->read_path, sizeof(fs->read_path), "copy: -o nosplice");
		return;
	}
	if (!ltfs_read_direct_possible(fs->vol)) {
		snprintf(fs->read_path, sizeof(fs->read_path),
			 "copy: the %s backend has no splice path",
			 tape_backend_name(fs->tape));
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(fs->read_path, sizeof(fs->read_path), "copy: pipe: %s",
			 strerror(errno));
		return;
	}
	if (fcntl(p[0], F_SETPIPE_SZ, (int)(FT_MAX_WRITE + 4096)) < 0 &&
	    raise_pipe_max(fs) == 0)
		(void)fcntl(p[0], F_SETPIPE_SZ, (int)(FT_MAX_WRITE + 4096));
	if (fcntl(p[0], F_GETPIPE_SZ) < (int)(FT_MAX_WRITE + 4096)) {
		long max = read_pipe_max();

		snprintf(fs->read_path, sizeof(fs->read_path),
			 "copy: pipes cannot grow to 2 MiB (pipe-max-size %ld; "
			 "raise /proc/sys/fs/pipe-max-size to 2097152 or mount as root)",
			 max);
	} else {
		fs->splice = true;
		snprintf(fs->read_path, sizeof(fs->read_path), "splice (%s)",
			 tape_backend_name(fs->tape));
	}
	close(p[0]);
	close(p[1]);
}

/*
 * Page-cache reads reach us in requests of the mount's read-ahead size,
 * 128 KiB by default: raise it to a few records so that reads come in
 * max_write-sized requests and the tape streams.  The mount's bdi is
 * named after its device number, taken from mountinfo (a stat of the
 * mount point would ask this very daemon).  Not before FUSE_INIT is
 * answered: the kernel then caps read-ahead at what it offered in it.
 * The kernel sets up a file's read-ahead after our open reply, so doing
 * it at the first lookup/getattr/open covers every file.  Only root
 * may; a failure costs speed only.
 */
#define FT_READ_AHEAD_KB 4096

void ft_raise_read_ahead(struct ft_fs *fs)
{
	const char *mountpoint = fs->mountpoint;
	char line[PATH_MAX * 2 + 256], path[128];
	unsigned maj = 0, min = 0;
	bool found = false;
	FILE *f;
	int fd;

	if (!fs->read_ahead_pending || !mountpoint)
		return;
	fs->read_ahead_pending = false;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX + 1];
		unsigned a, b;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; octal escapes in paths */
		if (sscanf(line, "%*u %*u %u:%u %*s %4096s", &a, &b, mnt) != 3)
			continue;
		if (strcmp(mnt, mountpoint) == 0 && strstr(line, " fuse.fusetape ")) {
			maj = a;
			min = b;
			found = true;	/* the last one is ours: mounted on top */
		}
	}
	fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (dprintf(fd, "%d\n", FT_READ_AHEAD_KB) < 0)
		ft_log(fs, LOG_INFO, "read-ahead left at the default: %s", strerror(errno));
	close(fd);
}

void ft_log_data_path(struct ft_fs *fs)
{
	ft_log(fs, LOG_INFO, "data path: writes: %s; reads: %s; read opens: %s",
	       fs->write_path, fs->read_path, fs->read_opens);
}

static void log_stats(struct ft_fs *fs, const char *when)
{
	char text[2048], *p;

	ft_stats_text(fs, text, sizeof(text));
	for (p = text; (p = strchr(p, '\n')) != NULL;)
		*p = p[1] ? ';' : '\0';
	ft_log(fs, LOG_INFO, "%s: %s", when, text);
}


static int copy_args(const struct fuse_args *from, struct fuse_args *to)
{
	*to = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	for (int i = 0; i < from->argc; i++)
		if (fuse_opt_add_arg(to, from->argv[i]) != 0)
			return -1;
	return 0;
}

/* The device path as mount(8) shows it, with commas escaped for -o. */
static int add_fsname(struct fuse_args *args, const char *device)
{
	char real[PATH_MAX], *opt = NULL, *fsname = NULL;
	int r = -1;

	if (!realpath(device, real))
		snprintf(real, sizeof(real), "%s", device);
	if (asprintf(&fsname, "fsname=%s", real) < 0)
		return -1;
	if (fuse_opt_add_opt_escaped(&opt, fsname) == 0 &&
	    fuse_opt_add_arg(args, "-o") == 0 && fuse_opt_add_arg(args, opt) == 0)
		r = 0;
	free(fsname);
	free(opt);
	return r;
}

static int open_volume(struct ft_fs *fs, const struct ft_conf *c)
{
	struct ltfs_mount_opts mo = { .readonly = c->ro, .plain_ring = c->plainring };
	char err[LTFS_ERRLEN] = "";
	struct ltfs_space sp;
	int r;

	r = tape_open(c->device, c->ro ? TAPE_OPEN_READONLY : 0, &fs->tape,
		      err, sizeof(err));
	if ((r == -EROFS || r == -EACCES || r == -EPERM) && !c->ro) {
		/* A device we may only read still mounts, read-only. */
		char err2[LTFS_ERRLEN] = "";

		if (tape_open(c->device, TAPE_OPEN_READONLY, &fs->tape, err2,
			      sizeof(err2)) == 0) {
			fprintf(stderr, "fusetape: %s: %s; mounting read-only\n",
				c->device, err[0] ? err : strerror(-r));
			mo.readonly = true;
			r = 0;
		}
	}
	if (r < 0) {
		/* The backend's message may already name the device. */
		const char *why = err[0] ? err : strerror(-r);
		size_t dl = strlen(c->device);

		if (!strncmp(why, c->device, dl) && why[dl] == ':')
			fprintf(stderr, "fusetape: cannot open %s\n", why);
		else
			fprintf(stderr, "fusetape: cannot open %s: %s\n", c->device, why);
		return FT_EXIT_DEVICE;
	}

	err[0] = '\0';
	r = ltfs_mount(fs->tape, &mo, &fs->vol, err);
	if (r < 0) {
		const char *what = r == -EMEDIUMTYPE ? "not an LTFS volume" :
				   r == -EIO || r == -EUCLEAN ?
				   "damaged LTFS volume, not mounted" :
				   "cannot mount the LTFS volume";

		const char *why = err[0] ? err : strerror(-r);

		if (!strncmp(why, what, strlen(what)))
			fprintf(stderr, "fusetape: %s: %s\n", c->device, why);
		else
			fprintf(stderr, "fusetape: %s: %s: %s\n", c->device, what, why);
		tape_close(fs->tape);
		fs->tape = NULL;
		fs->vol = NULL;
		return FT_EXIT_MEDIUM;
	}
	fs->readonly = mo.readonly || ltfs_readonly(fs->vol);
	if (fs->readonly && !mo.readonly)
		fprintf(stderr, "fusetape: %s is write-protected; mounting read-only\n",
			c->device);
	fs->block_size = LTFS_DEFAULT_BLOCKSIZE;
	if (ltfs_statfs(fs->vol, &sp) == 0 && sp.block_size)
		fs->block_size = sp.block_size;
	return FT_EXIT_OK;
}

/* Index to both partitions, close the tape; exit code and status line. */
static int close_volume(struct ft_fs *fs, char *msg, size_t msglen)
{
	char err[LTFS_ERRLEN] = "";
	int code = FT_EXIT_OK;
	int r;

	pthread_mutex_lock(&fs->lock);
	r = ltfs_unmount(fs->vol, err);
	fs->vol = NULL;
	pthread_mutex_unlock(&fs->lock);
	if (r < 0) {
		snprintf(msg, msglen, "%s: the index was NOT written at unmount: %s",
			 fs->device, err[0] ? err : strerror(-r));
		code = FT_EXIT_DATA;
	}
	r = tape_close(fs->tape);
	fs->tape = NULL;
	if (r < 0 && code == FT_EXIT_OK) {
		snprintf(msg, msglen, "%s: closing the device failed: %s",
			 fs->device, strerror(-r));
		code = FT_EXIT_DATA;
	}
	if (code == FT_EXIT_OK)
		snprintf(msg, msglen, "ok");
	return code;
}

static void report_status(struct ft_fs *fs, int code, const char *msg)
{
	if (code != FT_EXIT_OK)
		ft_log(fs, LOG_ERR, "%s", msg);
	if (fs->status_fd >= 0) {
		char line[LTFS_ERRLEN + PATH_MAX + 64];
		int n = snprintf(line, sizeof(line), "%s%s\n",
				 code == FT_EXIT_OK ? "" : "error: ", msg);

		if (n > 0 && write(fs->status_fd, line, strlen(line)) < 0)
			ft_log(fs, LOG_WARNING, "cannot report to fusetape -u: %s",
			       strerror(errno));
		/* stays open until exit: EOF tells fusetape -u we are gone */
	}
}

int main(int argc, char *argv[])
{
	struct ft_conf conf = {
		.sync_interval = DEFAULT_SYNC_INTERVAL,
		.uid = -1, .gid = -1, .umask = -1,
	};
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts = { 0 };
	struct fuse_session *se;
	struct ft_fs fs;
	char msg[LTFS_ERRLEN + PATH_MAX + 64];
	struct stat st;
	int code, r;

	if (argc >= 2 && (!strcmp(argv[1], "-u") || !strcmp(argv[1], "--unmount"))) {
		if (argc != 3) {
			fprintf(stderr, "usage: fusetape -u MOUNTPOINT\n");
			return FT_EXIT_USAGE;
		}
		return ft_unmount_client(argv[2]);
	}

	memset(&fs, 0, sizeof(fs));
	pthread_mutex_init(&fs.lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&fs.wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	fs.status_fd = -1;
	fs.foreground = true;
	fs.timeout = 1.0;

	if (fuse_opt_parse(&args, &conf, ft_opt_spec, opt_proc) != 0) {
		fprintf(stderr, "Try 'fusetape --help'.\n");
		code = FT_EXIT_USAGE;
		goto out_args;
	}
	if (conf.help) {
		usage(stdout);
		printf("\nFUSE options:\n");
		fflush(stdout);
		fuse_lowlevel_help();
		code = FT_EXIT_OK;
		goto out_args;
	}
	if (conf.version) {
		printf("fusetape %s\n", FUSETAPE_VERSION);
		fflush(stdout);
		fuse_lowlevel_version();
		code = FT_EXIT_OK;
		goto out_args;
	}
	if (!conf.device || !conf.mountpoint) {
		fprintf(stderr, "fusetape: %s\n", !conf.device ? "no DEVICE given" :
			"no MOUNTPOINT given");
		usage(stderr);
		code = FT_EXIT_USAGE;
		goto out_args;
	}
	if (stat(conf.mountpoint, &st) != 0 || !S_ISDIR(st.st_mode)) {
		int e = stat(conf.mountpoint, &st) != 0 ? errno : ENOTDIR;

		fprintf(stderr, "fusetape: cannot mount on %s: %s%s\n", conf.mountpoint,
			strerror(e), e == ENOTCONN ?
			" (the daemon of an earlier mount there died; umount it first)" : "");
		code = FT_EXIT_MOUNT;
		goto out_args;
	}
	if (fuse_opt_add_arg(&args, "-odefault_permissions") != 0 ||
	    fuse_opt_add_arg(&args, "-osubtype=fusetape") != 0 ||
	    add_fsname(&args, conf.device) != 0) {
		fprintf(stderr, "fusetape: out of memory\n");
		code = FT_EXIT_USAGE;
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &copts) != 0) {
		code = FT_EXIT_USAGE;
		goto out_args;
	}

	/* Reject unknown FUSE options now, before the tape is touched. */
	{
		struct fuse_args check;

		if (copy_args(&args, &check) != 0) {
			fprintf(stderr, "fusetape: out of memory\n");
			code = FT_EXIT_USAGE;
			goto out_args;
		}
		se = fuse_session_new(&check, &ft_ops, sizeof(ft_ops), NULL);
		fuse_opt_free_args(&check);
		if (!se) {
			fprintf(stderr, "Try 'fusetape --help'.\n");
			code = FT_EXIT_USAGE;
			goto out_args;
		}
		fuse_session_destroy(se);
	}

	fs.device = conf.device;
	fs.uid = conf.uid >= 0 ? (uid_t)conf.uid : getuid();
	fs.gid = conf.gid >= 0 ? (gid_t)conf.gid : getgid();
	fs.umask = conf.umask >= 0 ? (mode_t)conf.umask : 022;
	fs.sync_interval = conf.sync_interval;

	code = open_volume(&fs, &conf);
	if (code != FT_EXIT_OK)
		goto out_args;
	if (fs.readonly && !conf.ro)
		fuse_opt_add_arg(&args, "-oro");

	choose_read_path(&fs, conf.nosplice);
	se = fuse_session_new(&args, &ft_ops, sizeof(ft_ops), &fs);
	if (!se) {
		code = FT_EXIT_USAGE;
		close_volume(&fs, msg, sizeof(msg));
		goto out_args;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		code = FT_EXIT_MOUNT;
		close_volume(&fs, msg, sizeof(msg));
		goto out_session;
	}
	if (fuse_session_mount(se, copts.mountpoint) != 0) {
		fprintf(stderr, "fusetape: cannot mount %s on %s\n", conf.device,
			copts.mountpoint);
		code = FT_EXIT_MOUNT;
		close_volume(&fs, msg, sizeof(msg));
		goto out_signals;
	}
	r = ft_session_io(&fs, se);
	if (r < 0)
		fprintf(stderr, "fusetape: replies go the plain way (%s): every write costs "
			"a second request\n", strerror(-r));
	if (!copts.foreground)
		openlog("fusetape", LOG_PID, LOG_DAEMON);
	if (fuse_daemonize(copts.foreground) != 0) {
		code = FT_EXIT_MOUNT;
		fuse_session_unmount(se);
		close_volume(&fs, msg, sizeof(msg));
		goto out_signals;
	}
	fs.foreground = copts.foreground;
	/* the pages registered at mount were the parent's, before the fork */
	if (!fs.readonly)
		ltfs_write_behind_reattach(fs.vol);
	choose_write_path(&fs, conf.nolanding);
	fs.direct_writes = !conf.cachedwrites;
	fs.want_direct_reads = conf.directreads;
	clock_gettime(CLOCK_MONOTONIC, &fs.mounted_at);
	fs.mountpoint = copts.mountpoint;
	fs.read_ahead_pending = true;

	r = start_sync_thread(&fs);
	if (r < 0)
		ft_log(&fs, LOG_WARNING, "no periodic sync: %s", strerror(-r));

	r = ft_session_loop(&fs, se);
	if (r < 0)
		ft_log(&fs, LOG_ERR, "FUSE session ended with an error: %s",
		       strerror(-r));

	stop_sync_thread(&fs);
	/* Detach first (after a signal the kernel mount is still there). */
	fuse_session_unmount(se);
	/* the counters at unmount say what reached the tape, not what was queued */
	pthread_mutex_lock(&fs.lock);
	if (fs.vol)
		ltfs_drain(fs.vol);
	pthread_mutex_unlock(&fs.lock);
	log_stats(&fs, "unmount");
	code = close_volume(&fs, msg, sizeof(msg));
	report_status(&fs, code, msg);

out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(fs.open_files);
	free(copts.mountpoint);
	fuse_opt_free_args(&args);
	free(conf.device);
	free(conf.mountpoint);
	return code;
}
