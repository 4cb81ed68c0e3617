/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ltfs_recovery.c - the volume survives what goes wrong: a full data
 * partition, a writer killed with SIGKILL, damaged or missing indexes,
 * foreign media, write-protected media.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "test_ltfs_util.h"

#define BS 65536u

static unsigned char *pool;	/* random data all files are cut from */
#define POOL (8u << 20)

static void tape_eod(struct tape *t, unsigned part, uint64_t *eod)
{
	struct tape_position pos;

	tape_locate(t, part, 0);
	tape_space(t, TAPE_SPACE_EOD, 0);
	tape_read_position(t, &pos);
	*eod = pos.block;
}

static void test_full(void)
{
	const char *path = image_new("full.img", 12u << 20);
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct ltfs_stat st;
	struct ltfs_space sp;
	uint64_t uids[200];
	size_t lens[200];
	int n = 0, i, bad = 0;
	ssize_t w = 0;
	size_t chunk = 100000;

	CHECK_EQ(format_default(t, BS, "full"), 0, "format small volume");
	v = mount_rw(t);
	if (!v)
		return;
	CHECK_EQ(ltfs_statfs(v, &sp), 0, "statfs");
	CHECK(sp.total_bytes > 8u << 20 && sp.free_bytes > 0 && sp.free_bytes < sp.total_bytes,
	      "statfs: %llu of %llu free", (unsigned long long)sp.free_bytes,
	      (unsigned long long)sp.total_bytes);
	/* fill with 300 kB files, written in 100 kB calls, until ENOSPC */
	for (n = 0; n < 200; n++) {
		char name[32];
		size_t off;

		snprintf(name, sizeof(name), "f%03d", n);
		if (ltfs_create(v, 1, name, &st))
			break;
		uids[n] = st.uid;
		lens[n] = 0;
		for (off = 0; off < 300000; off += chunk) {
			w = ltfs_write(v, st.uid, pool + (size_t)n * 1000 + off, chunk, off);
			if (w < 0)
				break;
			lens[n] += chunk;
		}
		if (w < 0)
			break;
		if (n % 7 == 0)
			ltfs_sync(v, "Periodic Sync");
	}
	CHECK_EQ(w, -ENOSPC, "writing stopped with ENOSPC after %d files", n);
	CHECK(n > 10 && n < 200, "a plausible number of files fit (%d)", n);
	CHECK_EQ(ltfs_getattr(v, uids[n], &st), 0, "getattr of the file that hit ENOSPC");
	CHECK_EQ(st.length, lens[n], "it holds exactly what the successful calls wrote");
	CHECK_EQ(ltfs_write(v, uids[0], pool, chunk, 300000), -ENOSPC, "further appends: ENOSPC");
	CHECK_EQ(ltfs_statfs(v, &sp), 0, "statfs when full");
	CHECK(sp.free_bytes < chunk, "free space reported below the failed write (%llu)",
	      (unsigned long long)sp.free_bytes);
	CHECK_EQ(ltfs_mkdir(v, 1, "still-ok", &st), 0, "metadata changes still work");
	CHECK_EQ(unmount_ok(v), 0, "unmount of a full volume writes its indexes");
	v = mount_rw(t);
	CHECK(v != NULL, "full volume mounts again");
	if (!v)
		return;
	for (i = 0; i <= n; i++)
		if (!file_equals(v, uids[i], pool + (size_t)i * 1000, lens[i]))
			bad++;
	CHECK_EQ(bad, 0, "every file intact after remount (%d files)", n + 1);
	CHECK(lookup_uid(v, 1, "still-ok") != 0, "last metadata change is there");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	tape_close(t);
}

/*
 * The tape itself says EOM (the space estimate defeated): the file being
 * written gets nothing of the failed call, and when not even the index
 * fits the data partition it goes to the index partition alone.
 */
static void test_real_eom(void)
{
	const char *path = image_new("eom.img", 8u << 20);
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct ltfs_stat st;
	char err[LTFS_ERRLEN];
	uint64_t uids[200];
	int n, i, bad = 0, rc;
	ssize_t w = 0;

	CHECK_EQ(format_default(t, BS, "eom"), 0, "format");
	v = mount_rw(t);
	if (!v)
		return;
	v->dp_left = UINT64_MAX / 4;	/* pretend there is room: the tape decides */
	tape_set_early_warning(t, 0);
	for (n = 0; n < 200; n++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", n);
		if (ltfs_create(v, 1, name, &st))
			break;
		uids[n] = st.uid;
		w = ltfs_write(v, st.uid, pool + n, BS, 0);
		if (w < 0)
			break;
	}
	CHECK_EQ(w, -ENOSPC, "the tape's EOM ends the writing after %d files", n);
	CHECK_EQ(ltfs_getattr(v, uids[n], &st), 0, "getattr");
	CHECK_EQ(st.length, 0, "the failed write left its file empty");
	rc = ltfs_unmount(v, err);
	CHECK(rc == 0 && strstr(err, "index partition only"),
	      "unmount puts the index on the index partition alone (%s)", err);
	rc = ltfs_mount(t, NULL, &v, err);
	CHECK(rc == 0, "mounts again (%s)", err);
	if (rc)
		return;
	CHECK(ltfs_readonly(v) && ltfs_mount_notice(v), "read-only: %s",
	      ltfs_mount_notice(v) ? ltfs_mount_notice(v) : "(no notice)");
	for (i = 0; i < n; i++)
		if (!file_equals(v, uids[i], pool + i, BS))
			bad++;
	CHECK_EQ(bad, 0, "all %d complete files intact", n);
	ltfs_unmount(v, err);
	tape_close(t);
}

/* The unsynced files' bytes; the first is XML, like a torn index looks. */
static void lost_data(int i, unsigned char *buf)
{
	static const char xml[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>";

	memcpy(buf, pool + i * 999, 200000);
	if (i == 0)
		memcpy(buf, xml, sizeof(xml) - 1);
}

/* Child: write and sync some files, then more without sync, then die. */
static void killed_writer(const char *path)
{
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v = t ? mount_rw(t) : NULL;
	int i;

	if (!v)
		_exit(3);
	for (i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "synced%d", i);
		if (!put_file(v, 1, name, pool + i * 777, 50000 + i * 30000, 65536))
			_exit(4);
	}
	if (ltfs_sync(v, "Sync"))
		_exit(5);
	for (i = 0; i < 5; i++) {
		char name[32];

		unsigned char *buf = malloc(200000);

		lost_data(i, buf);
		snprintf(name, sizeof(name), "lost%d", i);
		if (!put_file(v, 1, name, buf, 200000, 65536))
			_exit(6);
		free(buf);
	}
	/*
	 * Some of that reached the tape as records, none has an index.  With
	 * write-behind, records still in flight die with the process (as in
	 * a drive's buffer at a power loss): wait until the queued ones are
	 * on the medium, which is what this test is about.
	 */
	tape_queue_reap(ltfs_tape(v), UINT64_MAX, NULL);
	kill(getpid(), SIGKILL);
	_exit(7);
}

static void test_killed(void)
{
	const char *path = image_new("kill.img", 64u << 20);
	char saved[256];
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	pid_t pid;
	int status, i, bad = 0;
	uint64_t eod_before, eod_after;

	snprintf(saved, sizeof(saved), "%s", path);
	CHECK_EQ(format_default(t, BS, "killvol"), 0, "format");
	tape_close(t);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		killed_writer(saved);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer died of SIGKILL (status %d)",
	      status);
	t = tape_at(saved, 0);
	tape_eod(t, 1, &eod_before);
	v = mount_rw(t);
	CHECK(v != NULL, "volume mounts after the writer was killed");
	if (!v)
		return;
	for (i = 0; i < 5; i++) {
		char name[32];
		uint64_t uid;

		snprintf(name, sizeof(name), "synced%d", i);
		uid = lookup_uid(v, 1, name);
		if (!uid || !file_equals(v, uid, pool + i * 777, 50000 + i * 30000))
			bad++;
	}
	CHECK_EQ(bad, 0, "all synced files intact");
	CHECK_EQ(lookup_uid(v, 1, "lost0"), 0, "unsynced files are not in the namespace");
	{
		/* but their bytes that reached tape are in lost+found */
		uint64_t lf = lookup_uid(v, 1, "_ltfs_lostandfound"), uid;
		unsigned char *want = malloc(1000000);
		char name[96];
		const char *notice = ltfs_mount_notice(v);

		for (i = 0; i < 5; i++)
			lost_data(i, want + i * 200000);
		snprintf(name, sizeof(name), "partitionb_block%llu_%ubytes",
			 (unsigned long long)eod_before - 15, 15 * BS);
		uid = lf ? lookup_uid(v, lf, name) : 0;
		CHECK(uid != 0, "lost+found holds %s", name);
		CHECK(uid && file_equals(v, uid, want, 15 * BS),
		      "it holds the unsynced bytes that reached tape, in order (XML data "
		      "is not mistaken for a torn index)");
		CHECK(notice && strstr(notice, "recovered") && strstr(notice, "_ltfs_lostandfound"),
		      "mount notice: %s", notice ? notice : "(none)");
		free(want);
	}
	tape_eod(t, 1, &eod_after);
	CHECK(eod_after > eod_before && v->dp_gen == v->ix.generation,
	      "a recovery index was appended (EOD %llu -> %llu)", (unsigned long long)eod_before,
	      (unsigned long long)eod_after);
	CHECK(!ltfs_dirty(v), "clean after recovery");
	CHECK(put_file(v, 1, "after", pool, 1000, 1000) != 0, "writable after recovery");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	CHECK(v && lookup_uid(v, 1, "after") && lookup_uid(v, 1, "synced4"),
	      "consistent on the next mount");
	if (v)
		unmount_ok(v);
	tape_close(t);
}

/* Overwrite the bytes of record (part, block) inside the image file. */
static int smash_record(struct tape *t, const char *path, unsigned part, uint64_t block)
{
	int fd, ifd;
	uint64_t off;
	uint32_t len, crc;
	char junk[64];
	int rc = tape_image_record_extent(t, part, block, &fd, &off, &len, &crc);

	if (rc)
		return rc;
	ifd = open(path, O_WRONLY);
	if (ifd < 0)
		return -errno;
	memset(junk, '#', sizeof(junk));
	rc = pwrite(ifd, junk, sizeof(junk), (off_t)off + 40) == sizeof(junk) ? 0 : -EIO;
	close(ifd);
	return rc;
}

static void test_damage(void)
{
	const char *p = image_new("dmg.img", 64u << 20);
	char path[256], err[LTFS_ERRLEN];
	struct tape *t;
	struct ltfs_volume *v;
	uint64_t ip_block, dp_block, gen;
	int rc;

	snprintf(path, sizeof(path), "%s", p);
	t = tape_at(path, 0);
	CHECK_EQ(format_default(t, BS, "dmg"), 0, "format");
	v = mount_rw(t);
	put_file(v, 1, "one", pool, 70000, 70000);
	ltfs_sync(v, "Sync");
	put_file(v, 1, "two", pool + 1, 170000, 70000);
	unmount_ok(v);
	/* gen 2 on DP (sync), gen 3 on DP and IP (unmount) */
	v = mount_rw(t);
	if (!v)
		return;
	ip_block = 5;
	dp_block = v->ix.self.block;
	gen = v->ix.generation;
	CHECK_EQ(gen, 3, "generation 3 after sync + unmount");
	unmount_ok(v);
	tape_close(t);

	/* 1: the IP index is damaged: the DP copy is used, IP repaired at unmount */
	t = tape_at(path, 0);
	CHECK_EQ(smash_record(t, path, 0, ip_block), 0, "damage the IP index record");
	tape_close(t);
	t = tape_at(path, 0);
	v = mount_rw(t);
	CHECK(v && v->ix.generation == gen && lookup_uid(v, 1, "two"),
	      "mounts from the DP copy of the same generation");
	if (v) {
		CHECK_EQ(v->ip_gen, 0, "knows the IP lacks a good index");
		unmount_ok(v);
	}
	{
		struct tape_medium m;

		(void)m;
		v = mount_rw(t);
		CHECK(v && v->ip_gen == gen, "IP index rewritten at unmount");
		if (v)
			unmount_ok(v);
	}
	tape_close(t);

	/* 2: the DP's last index is damaged: IP copy (same gen) used, DP repaired */
	t = tape_at(path, 0);
	CHECK_EQ(smash_record(t, path, 1, dp_block), 0, "damage the last DP index record");
	tape_close(t);
	t = tape_at(path, 0);
	v = mount_rw(t);
	CHECK(v && v->ix.generation >= gen && lookup_uid(v, 1, "two"),
	      "mounts from the IP copy; nothing lost");
	CHECK(v && v->dp_gen == v->ix.generation, "DP ends in a (recovery) index again");
	if (v)
		unmount_ok(v);
	tape_close(t);

	/* 3: both newest copies damaged: an older DP generation is found */
	t = tape_at(path, 0);
	v = mount_rw(t);
	dp_block = v->ix.self.block;
	gen = v->ix.generation;
	unmount_ok(v);
	{
		/* the IP index moved: case 1 rewrote it after the damaged one */
		struct tape_attr a;
		uint64_t vcr, g;
		char uuid[37];

		CHECK(tape_get_attr(t, 0, TAPE_ATTR_VOLUME_COHERENCY_INFO, &a) == 0 &&
		      ltfs_vci_parse(a.value, a.length, &vcr, &g, &ip_block, uuid) == 0 && g == gen,
		      "IP VCI names the IP index of gen %llu (a:%llu)", (unsigned long long)gen,
		      (unsigned long long)ip_block);
	}
	CHECK_EQ(smash_record(t, path, 1, dp_block), 0, "damage DP index");
	CHECK_EQ(smash_record(t, path, 0, ip_block), 0, "damage IP index");
	tape_close(t);
	t = tape_at(path, 0);
	v = mount_rw(t);
	CHECK(v && v->ix.generation < gen && lookup_uid(v, 1, "one"),
	      "falls back to an older generation (%llu < %llu)",
	      v ? (unsigned long long)v->ix.generation : 0ull, (unsigned long long)gen);
	if (v)
		unmount_ok(v);
	tape_close(t);

	/* 4: a partial index at the end of the DP (crash during the index write) */
	t = tape_at(path, 0);
	{
		uint64_t eod;
		static const char partial[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
					      "<ltfsindex version=\"2.4.0\">\n<creator>x";

		tape_eod(t, 1, &eod);
		tape_locate(t, 1, eod);
		tape_write_filemarks(t, 1);
		tape_write(t, partial, sizeof(partial) - 1);
		tape_flush(t);
	}
	v = mount_rw(t);
	CHECK(v && lookup_uid(v, 1, "one") && v->dp_gen == v->ix.generation,
	      "partial trailing index skipped, recovery index written");
	if (v)
		unmount_ok(v);
	tape_close(t);

	/* 5: a read-only mount of a volume that needs recovery writes nothing */
	t = tape_at(path, 0);
	{
		uint64_t eod, eod2;
		struct ltfs_mount_opts mo = { .readonly = true };

		tape_eod(t, 1, &eod);
		tape_locate(t, 1, eod);
		tape_write(t, pool, 1000);	/* data after the last index */
		tape_flush(t);
		rc = ltfs_mount(t, &mo, &v, err);
		CHECK(rc == 0 && ltfs_readonly(v) && lookup_uid(v, 1, "one"),
		      "read-only mount of an unrecovered volume (%s)", err);
		if (!rc)
			ltfs_unmount(v, err);
		tape_eod(t, 1, &eod2);
		CHECK_EQ(eod2, eod + 1, "nothing written by the read-only mount");
	}
	tape_close(t);

	/* 6: a write-protected medium mounts read-only */
	CHECK_EQ(tape_image_set_readonly(path, true, err, sizeof(err)), 0, "write-protect the image");
	t = tape_at(path, 0);
	if (t) {
		rc = ltfs_mount(t, NULL, &v, err);
		CHECK(rc == 0 && ltfs_readonly(v), "write-protected medium: read-only mount (%s)", err);
		if (!rc) {
			struct ltfs_stat st;

			CHECK_EQ(ltfs_create(v, 1, "x", &st), -EROFS, "EROFS");
			ltfs_unmount(v, err);
		}
		tape_close(t);
	}
	tape_image_set_readonly(path, false, err, sizeof(err));

	/* 7: every index destroyed: a clear error, no crash */
	t = tape_at(path, 0);
	{
		int k;

		tape_locate(t, 1, 4);
		tape_write(t, "junk", 4);
		tape_locate(t, 0, 4);
		tape_write(t, "junk", 4);
		tape_flush(t);
		(void)k;
	}
	rc = ltfs_mount(t, NULL, &v, err);
	CHECK(rc == -EUCLEAN && strstr(err, "no readable index"), "no index at all: -EUCLEAN (%s)",
	      err);
	tape_close(t);
}

static void test_foreign(void)
{
	const char *p = image_new("foreign.img", 16u << 20);
	char path[256], err[LTFS_ERRLEN];
	struct tape *t;
	struct ltfs_volume *v;
	uint64_t sizes[2] = { 1 << 20, 0 };
	int rc;

	snprintf(path, sizeof(path), "%s", p);
	t = tape_at(path, 0);
	tape_format(t, 2, sizes);
	tape_locate(t, 0, 0);
	tape_write(t, "HDR1 some other format", 22);
	tape_locate(t, 1, 0);
	tape_write(t, "HDR1 some other format", 22);
	rc = ltfs_mount(t, NULL, &v, err);
	CHECK(rc == -EMEDIUMTYPE && strstr(err, "not an LTFS volume"),
	      "foreign medium: -EMEDIUMTYPE (%s)", err);
	tape_close(t);

	/* labels that disagree */
	t = tape_at(path, 0);
	CHECK_EQ(format_default(t, BS, "a"), 0, "format");
	{
		struct ltfs_label l;
		char *xml, vol1[80];
		size_t len;

		memset(&l, 0, sizeof(l));
		strcpy(l.version, "2.4.0");
		strcpy(l.creator, "other");
		strcpy(l.uuid, "00000000-0000-0000-0000-000000000000");
		l.this_part = 'a';
		l.index_part = 'a';
		l.data_part = 'b';
		l.blocksize = BS;
		ltfs_label_xml(&l, &xml, &len);
		ltfs_vol1_make(vol1, "TST001");
		tape_locate(t, 0, 0);
		tape_write(t, vol1, 80);
		tape_write_filemarks(t, 1);
		tape_write(t, xml, len);
		tape_write_filemarks(t, 1);
		free(xml);
	}
	rc = ltfs_mount(t, NULL, &v, err);
	CHECK(rc == -EUCLEAN && strstr(err, "differ"), "mismatched labels: -EUCLEAN (%s)", err);
	tape_close(t);
}

int main(void)
{
	pool = malloc(POOL);
	fill_random(pool, POOL);
	tdir_make();
	test_full();
	test_real_eom();
	test_killed();
	test_damage();
	test_foreign();
	tdir_clean();
	free(pool);
	return tap_done();
}
