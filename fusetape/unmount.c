/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unmount.c - "fusetape -u MOUNTPOINT", the unmount that waits for the tape.
 *
 * umount(8) on a FUSE mount returns as soon as the kernel lets go; the
 * daemon writes the index afterwards, and nobody hears whether that
 * worked (the reference LTFS's most-asked question).  Here the client
 *  1. asks the daemon (by reading a control attribute of the mount root) to
 *     put everything on tape now and to report its final status into a
 *     FIFO the client holds open;
 *  2. unmounts (umount2 as root, fusermount3 -u otherwise);
 *  3. reads the FIFO until EOF, which comes when the daemon has exited:
 *     "ok" means the index is on both partitions and the device closed.
 * If the daemon dies without a word, EOF comes all the same.
 */
#include "fusetape.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int run_fusermount(const char *mnt)
{
	const char *progs[] = { "fusermount3", "fusermount" };

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			return -errno;
		if (pid == 0) {
			execlp(progs[i], progs[i], "-u", "--", mnt, (char *)NULL);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return -errno;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			continue;	/* not installed: try the next name */
		return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBUSY;
	}
	return -ENOENT;
}

/* Everything the daemon wrote, until it exits (EOF). */
static ssize_t read_until_eof(int fd, char *buf, size_t len)
{
	size_t used = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (used < len - 1)
			n = read(fd, buf + used, len - 1 - used);
		else {
			char junk[256];

			n = read(fd, junk, sizeof(junk));
		}
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (used < len - 1)
			used += (size_t)n;
	}
	buf[used] = '\0';
	return (ssize_t)used;
}

int ft_unmount_client(const char *mountpoint)
{
	char mnt[PATH_MAX], dir[] = "/tmp/fusetape-unmount.XXXXXX";
	char fifo[sizeof(dir) + 16], pid[32], status[LTFS_ERRLEN + PATH_MAX + 64];
	char control[sizeof(FT_XATTR_UNMOUNT) + sizeof(fifo)], reply[16];
	ssize_t n;
	int fd, r;

	if (!realpath(mountpoint, mnt)) {
		fprintf(stderr, "fusetape: %s: %s\n", mountpoint, strerror(errno));
		return FT_EXIT_MOUNT;
	}
	n = getxattr(mnt, FT_XATTR_PID, pid, sizeof(pid) - 1);
	if (n < 0 && errno == EACCES) {
		/* FUSE keeps everyone but the mounting user out without allow_other. */
		fprintf(stderr, "fusetape: %s: cannot reach its daemon (%s): unmount it "
			"as the user who mounted it\n", mnt, strerror(errno));
		return FT_EXIT_MOUNT;
	}
	if (n < 0) {
		fprintf(stderr, "fusetape: %s is not a mounted fusetape filesystem\n",
			mnt);
		return FT_EXIT_MOUNT;
	}
	pid[n] = '\0';

	if (!mkdtemp(dir)) {
		fprintf(stderr, "fusetape: cannot create %s: %s\n", dir, strerror(errno));
		return FT_EXIT_MOUNT;
	}
	snprintf(fifo, sizeof(fifo), "%s/status", dir);
	if (mkfifo(fifo, 0600) != 0) {
		fprintf(stderr, "fusetape: cannot create %s: %s\n", fifo, strerror(errno));
		rmdir(dir);
		return FT_EXIT_MOUNT;
	}
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fusetape: cannot open %s: %s\n", fifo, strerror(errno));
		unlink(fifo);
		rmdir(dir);
		return FT_EXIT_MOUNT;
	}
	snprintf(control, sizeof(control), "%s%s", FT_XATTR_UNMOUNT, fifo);
	r = getxattr(mnt, control, reply, sizeof(reply)) < 0 ? -errno : 0;
	/* The daemon holds the FIFO open now (or never will): names not needed. */
	unlink(fifo);
	rmdir(dir);
	if (r == -EIO || r == -ENOSPC) {
		fprintf(stderr, "fusetape: %s: the index could not be written (%s); "
			"still mounted, see the system log\n", mnt, strerror(-r));
		close(fd);
		return FT_EXIT_DATA;
	}
	if (r < 0) {
		fprintf(stderr, "fusetape: %s: the daemon refused to unmount: %s\n",
			mnt, strerror(-r));
		close(fd);
		return FT_EXIT_MOUNT;
	}

	if (geteuid() == 0)
		r = umount2(mnt, 0) == 0 ? 0 : -errno;
	else
		r = run_fusermount(mnt);
	if (r < 0) {
		fprintf(stderr, "fusetape: cannot unmount %s: %s (everything up to now "
			"is on tape)\n", mnt, strerror(-r));
		close(fd);
		return FT_EXIT_MOUNT;
	}

	n = read_until_eof(fd, status, sizeof(status));
	close(fd);
	if (n < 0) {
		fprintf(stderr, "fusetape: %s: lost contact with the daemon: %s\n",
			mnt, strerror((int)-n));
		return FT_EXIT_DATA;
	}
	status[strcspn(status, "\n")] = '\0';
	if (strcmp(status, "ok") == 0)
		return FT_EXIT_OK;
	if (status[0])
		fprintf(stderr, "fusetape: %s\n", status);
	else
		fprintf(stderr, "fusetape: %s: the daemon (pid %s) exited without "
			"reporting that the index was written\n", mnt, pid);
	return FT_EXIT_DATA;
}
