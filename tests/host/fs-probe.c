/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fs-probe - one system call, and the errno it gave, for the fs-*.sh tests.
 *
 * The shell tools print translated messages and sometimes retry or fall
 * back; the tests want the exact errno of one call.  Prints "OK" (and a
 * result where there is one) or the errno name (EPERM, EROFS, ...), and
 * exits 0 either way; 2 on bad usage.
 *
 *   fs-probe link OLD NEW
 *   fs-probe rename OLD NEW [noreplace|exchange]
 *   fs-probe creat PATH            open(O_CREAT|O_WRONLY|O_TRUNC)
 *   fs-probe mkdir PATH
 *   fs-probe mkfifo PATH
 *   fs-probe chown PATH UID GID
 *   fs-probe setxattr PATH NAME VALUE
 *   fs-probe getxattr PATH NAME    prints the value
 *   fs-probe fsync PATH
 *   fs-probe syncfs PATH
 *   fs-probe write PATH OFFSET LEN write LEN bytes of 0x5a at OFFSET
 *   fs-probe fill PATH BLOCK       write BLOCK-byte blocks until an error;
 *                                  prints the errno and the bytes written
 *   fs-probe pattern LEN BLOCK     the first LEN bytes "fill" writes, to stdout
 *   fs-probe readdir-grow DIR N M  list DIR with readdir(3), creating files
 *                                  new1..newM in it after the Nth entry;
 *                                  prints every name read, one a line
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int result(int r)
{
	if (r < 0)
		printf("%s\n", strerrorname_np(errno));
	else
		printf("OK\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: fs-probe CALL ARGS... (see the source)\n");
	return 2;
}

static int do_write(const char *path, long long off, long long len)
{
	char buf[65536];
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		return result(-1);
	memset(buf, 0x5a, sizeof(buf));
	while (len > 0) {
		size_t chunk = len < (long long)sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pwrite(fd, buf, chunk, off);

		if (n < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return result(-1);
		}
		off += n;
		len -= n;
	}
	return result(close(fd));
}

static void make_pattern(char *buf, size_t block)
{
	for (size_t i = 0; i < block; i++)
		buf[i] = (char)(i * 7 + 3);
}

static int do_pattern(long long len, size_t block)
{
	char *buf = malloc(block);

	if (!buf)
		return 1;
	make_pattern(buf, block);
	while (len > 0) {
		size_t chunk = len < (long long)block ? (size_t)len : block;

		if (fwrite(buf, 1, chunk, stdout) != chunk)
			return 1;
		len -= (long long)chunk;
	}
	free(buf);
	return fflush(stdout) ? 1 : 0;
}

static int do_fill(const char *path, size_t block)
{
	long long total = 0;
	char *buf = malloc(block);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int e = 0;

	if (!buf || fd < 0)
		return result(-1);
	make_pattern(buf, block);
	for (;;) {
		ssize_t n = write(fd, buf, block);

		if (n < 0) {
			e = errno;
			break;
		}
		total += n;
	}
	if (close(fd) < 0 && !e)
		e = errno;
	free(buf);
	printf("%s %lld\n", e ? strerrorname_np(e) : "OK", total);
	return 0;
}

static int do_readdir_grow(const char *dir, long after, long count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long seen = 0;

	if (!d)
		return result(-1);
	while ((errno = 0, e = readdir(d))) {
		printf("%s\n", e->d_name);
		if (++seen == after) {
			for (long i = 1; i <= count; i++) {
				char path[4096];
				int fd;

				snprintf(path, sizeof(path), "%s/new%ld", dir, i);
				fd = open(path, O_CREAT | O_WRONLY, 0644);
				if (fd < 0 || close(fd) < 0) {
					printf("create %s: %s\n", path, strerrorname_np(errno));
					closedir(d);
					return 0;
				}
			}
		}
	}
	if (errno)
		printf("readdir: %s\n", strerrorname_np(errno));
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	const char *call;

	if (argc < 3)
		return usage();
	call = argv[1];
	if (!strcmp(call, "link") && argc == 4)
		return result(link(argv[2], argv[3]));
	if (!strcmp(call, "rename") && (argc == 4 || argc == 5)) {
		unsigned flags = 0;

		if (argc == 5 && !strcmp(argv[4], "noreplace"))
			flags = RENAME_NOREPLACE;
		else if (argc == 5 && !strcmp(argv[4], "exchange"))
			flags = RENAME_EXCHANGE;
		else if (argc == 5)
			return usage();
		return result(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], flags));
	}
	if (!strcmp(call, "creat") && argc == 3) {
		int fd = open(argv[2], O_CREAT | O_WRONLY | O_TRUNC, 0644);

		return result(fd < 0 ? -1 : close(fd));
	}
	if (!strcmp(call, "mkdir") && argc == 3)
		return result(mkdir(argv[2], 0755));
	if (!strcmp(call, "mkfifo") && argc == 3)
		return result(mkfifo(argv[2], 0644));
	if (!strcmp(call, "chown") && argc == 5)
		return result(lchown(argv[2], (uid_t)atol(argv[3]), (gid_t)atol(argv[4])));
	if (!strcmp(call, "setxattr") && argc == 5)
		return result(lsetxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0));
	if (!strcmp(call, "getxattr") && argc == 4) {
		char buf[8192];
		ssize_t n = lgetxattr(argv[2], argv[3], buf, sizeof(buf) - 1);

		if (n < 0)
			return result(-1);
		buf[n] = '\0';
		printf("OK %s\n", buf);
		return 0;
	}
	if ((!strcmp(call, "fsync") || !strcmp(call, "syncfs")) && argc == 3) {
		int fd = open(argv[2], O_RDONLY);
		int r;

		if (fd < 0)
			return result(-1);
		r = !strcmp(call, "fsync") ? fsync(fd) : syncfs(fd);
		if (r < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return result(-1);
		}
		return result(close(fd));
	}
	if (!strcmp(call, "write") && argc == 5)
		return do_write(argv[2], atoll(argv[3]), atoll(argv[4]));
	if (!strcmp(call, "pattern") && argc == 4 && atol(argv[3]) > 0)
		return do_pattern(atoll(argv[2]), (size_t)atol(argv[3]));
	if (!strcmp(call, "readdir-grow") && argc == 5)
		return do_readdir_grow(argv[2], atol(argv[3]), atol(argv[4]));
	if (!strcmp(call, "fill") && argc == 4 && atol(argv[3]) > 0)
		return do_fill(argv[2], (size_t)atol(argv[3]));
	return usage();
}
