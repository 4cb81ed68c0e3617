/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tapedma-sdebug - what tgt cannot provoke, on a scsi_debug tape-type LUN
 * (ptype=1) whose command delay can be raised at will:
 *  - a UNIT ATTENTION reaches ioctl callers in the sense, and read/write
 *    retry it transparently;
 *  - SIGKILL ends a task blocked in a slow command at once, while the pages
 *    stay held until the command completes and are then released
 *    (pages_pinned_now, /proc/vmstat), for pinned user memory and for pipe
 *    pages of splice;
 *  - rmmod of the HBA driver removes /dev/tapedmaN cleanly.
 * scsi_debug's READ(6)/WRITE(6) are the disk commands; a 128 KiB record
 * happens to be a valid disk READ(6) (LBA 512, 256 blocks), so the same CDB
 * moves the same bytes on both.
 *
 * Needs /lib/modules/scsi_debug.ko and its dependencies in the guest
 * (crct10dif_common, crct10dif_generic, crc-t10dif); skips without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"
#include "tapedma.h"

#define SDEBUG "/sys/bus/pseudo/drivers/scsi_debug"
#define REC (128u << 10)
#define DELAY_JIFFIES "1000"	/* 4 s at Debian's HZ=250 */

static char dev[64];
static int fd = -1;

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool put(const char *path, const char *val)
{
	int f = open(path, O_WRONLY);
	bool ok;

	if (f < 0)
		return false;
	ok = write(f, val, strlen(val)) == (ssize_t)strlen(val);
	close(f);
	return ok;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long stat_of(const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/tapedma/%s/stats/%s", dev + 5, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * The pin counters are per-CPU deltas folded into /proc/vmstat lazily:
 * writing stat_refresh folds them, or a pin taken on one CPU and released on
 * the other looks like a leak for up to a second.
 */
static long long vmstat(const char *name)
{
	char key[64];
	long long v, found = -1;
	int refresh = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	FILE *f;

	if (refresh >= 0) {
		if (write(refresh, "1", 1) != 1)
			perror("stat_refresh");
		close(refresh);
	}
	f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

static long tcmd(int dir, uint8_t op, void *buf, uint32_t len,
		 struct tapedma_result *res)
{
	struct tapedma_cmd c;
	long r;

	memset(&c, 0, sizeof(c));
	c.cdb[0] = op;
	c.cdb[2] = len >> 16;
	c.cdb[3] = len >> 8;
	c.cdb[4] = len;
	c.cdb_len = 6;
	c.dir = dir;
	c.buf = (uintptr_t)buf;
	c.len = len;
	c.result = (uintptr_t)res;
	r = ioctl(fd, TAPEDMA_IOC_CMD, &c);
	return r < 0 ? -errno : r;
}

static int sense_key(const struct tapedma_result *r)
{
	if (r->sense_len < 3)
		return -1;
	if ((r->sense[0] & 0x7f) >= 0x72)
		return r->sense[1] & 0x0f;
	return r->sense[2] & 0x0f;
}

/* Load scsi_debug with one tape-type LUN and find its /dev/tapedmaN. */
static bool setup(void)
{
	struct tapedma_info info;
	int i, j;

	if (access("/lib/modules/scsi_debug.ko", R_OK))
		return false;
	if (!access("/sys/module/scsi_debug", F_OK))
		run("rmmod scsi_debug");
	run("for m in crct10dif_common crct10dif_generic crc-t10dif; do "
	    "[ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null; done; true");
	if (run("insmod /lib/modules/scsi_debug.ko ptype=1 dev_size_mb=4 max_luns=1"))
		return false;
	for (j = 0; j < 100; j++) {
		for (i = 0; i < 8; i++) {
			snprintf(dev, sizeof(dev), "/dev/tapedma%d", i);
			fd = open(dev, O_RDWR);
			if (fd < 0)
				continue;
			if (!ioctl(fd, TAPEDMA_IOC_INFO, &info) &&
			    !strcmp(info.model, "scsi_debug"))
				return true;
			close(fd);
			fd = -1;
		}
		usleep(100000);
	}
	return false;
}

/* Child blocks in one slow command; SIGKILL it and watch the pages. */
static void kill_test(const char *what, bool splice_read)
{
	long long pinned_before = stat_of("pages_pinned_now");
	long long held = -1, after_kill, pinned;
	double t0, t_reaped;
	int status, i;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		unsigned char *buf = mmap(NULL, REC, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct tapedma_result res;
		int p[2];

		if (splice_read) {
			if (pipe(p))
				_exit(2);
			fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
			splice(fd, NULL, p[1], NULL, REC, 0);
		} else {
			tcmd(TAPEDMA_DIR_FROM_DEVICE, 0x08, buf, REC, &res);
		}
		_exit(3);	/* only reached if the command was not slow */
	}
	for (i = 0; i < 40 && held <= pinned_before; i++) {
		usleep(50000);
		held = stat_of("pages_pinned_now");
	}
	CHECK(held >= pinned_before + (long long)(REC / 4096),
	      "%s: %lld pages held while the command is in flight", what, held - pinned_before);
	t0 = now();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	t_reaped = now() - t0;
	after_kill = stat_of("pages_pinned_now");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && t_reaped < 2.0,
	      "%s: SIGKILL ends the task at once (%.2f s, command takes 4 s)", what, t_reaped);
	CHECK(after_kill == held,
	      "%s: the killed task's pages stay held while the HBA may use them (%lld)",
	      what, after_kill);
	for (i = 0; i < 100; i++) {
		pinned = stat_of("pages_pinned_now");
		if (pinned == pinned_before)
			break;
		usleep(100000);
	}
	CHECK_EQ(pinned, pinned_before, "%s: released when the command completes", what);
}

int main(void)
{
	unsigned char *buf = mmap(NULL, REC, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *back = mmap(NULL, REC, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct tapedma_result res;
	long long errors;
	long r;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!setup()) {
		printf("1..0 # SKIP no scsi_debug.ko with a tape-type LUN in this guest\n");
		return 0;
	}
	printf("# scsi_debug tape is %s\n", dev);

	memset(&res, 0, sizeof(res));
	r = tcmd(TAPEDMA_DIR_NONE, 0x00, NULL, 0, &res);
	CHECK(r == -EIO && res.status == 2 && sense_key(&res) == 6,
	      "first command: the ioctl reports the power-on UNIT ATTENTION (%ld, key %d)",
	      r, sense_key(&res));
	for (i = 0; i < 5 && tcmd(TAPEDMA_DIR_NONE, 0x00, NULL, 0, &res); i++)
		;
	CHECK_EQ(tcmd(TAPEDMA_DIR_NONE, 0x00, NULL, 0, &res), 0, "TEST UNIT READY then succeeds");

	for (i = 0; i < (int)REC; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	/* a capacity change raises a UNIT ATTENTION on every LUN */
	CHECK(put(SDEBUG "/virtual_gb", "1"), "raise a UNIT ATTENTION (virtual_gb=1)");
	errors = stat_of("errors");
	r = write(fd, buf, REC);
	CHECK_EQ(r, REC, "write(2) succeeds through the UNIT ATTENTION");
	CHECK_EQ(stat_of("errors"), errors + 1, "the UNIT ATTENTION was there: one failed attempt");
	memset(&res, 0, sizeof(res));
	CHECK(ioctl(fd, TAPEDMA_IOC_LAST_SENSE, &res) == 0 && sense_key(&res) == 6,
	      "TAPEDMA_IOC_LAST_SENSE keeps the UNIT ATTENTION (key %d)", sense_key(&res));
	put(SDEBUG "/virtual_gb", "0");
	r = read(fd, back, REC);
	CHECK(r == REC && !memcmp(buf, back, REC),
	      "read(2) succeeds through the next UNIT ATTENTION, data identical (%ld)", r);
	CHECK_EQ(stat_of("errors"), errors + 2, "again one failed attempt, retried");

	CHECK(put(SDEBUG "/delay", DELAY_JIFFIES), "slow the LUN down to 4 s per command");
	kill_test("ioctl READ", false);
	kill_test("splice read", true);
	put(SDEBUG "/delay", "1");
	CHECK_EQ(stat_of("bytes_copied"), 0, "bytes_copied is 0");
	for (i = 0; i < 50 && vmstat("nr_foll_pin_acquired") != vmstat("nr_foll_pin_released"); i++)
		usleep(100000);
	CHECK(vmstat("nr_foll_pin_acquired") == vmstat("nr_foll_pin_released"),
	      "pins balance in /proc/vmstat (%lld acquired, %lld released)",
	      vmstat("nr_foll_pin_acquired"), vmstat("nr_foll_pin_released"));

	close(fd);
	CHECK_EQ(run("rmmod scsi_debug"), 0, "rmmod scsi_debug");
	CHECK(access(dev, F_OK) != 0, "%s is gone with its LUN", dev);
	return tap_done();
}
