/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_fsck_crafted.c - fsck.fusetape against volumes written record by
 * record through tape.h, so that each kind of damage the checker must
 * name can be made exactly, independent of the filesystem core.
 *
 * Runs $FUSETAPE_BIN/fsck.fusetape (default build/san/bin) on each image
 * and checks its exit status and the problem it prints.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tests/tap.h"
#include "tape/tape.h"
#include "tape/tape_image.h"

#define BS 65536u
#define UUID_A "5a2f7c0e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
#define UUID_B "6b3f7c0e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"

static char dir[] = "/tmp/fsck-crafted.XXXXXX";
static const char *fsck_bin;

/* What to get wrong. */
struct craft {
	const char *label_uuid_b;	/* UUID in partition b's label */
	bool data_after_index;		/* records after the last DP index */
	bool torn_index;		/* a half index after the last DP index */
	bool extent_past_index;		/* gen 2 names blocks after itself */
	bool extent_into_index;		/* gen 2 names gen 1's index as data */
	bool bad_back_pointer;		/* gen 2 points at a data record */
	bool duplicate_uid;
	bool ip_stale;			/* IP holds gen 1, DP gen 2 */
	bool vci_stale;			/* MAM says gen 1 for the DP */
	bool no_vci;
	bool subdir;			/* two.bin in /sub (uid 4) */
	bool subdir_no_uid;		/* ... and /sub without a fileuid */
	bool sub_extent_bad;		/* /sub/two.bin's extent past the index */
};

static void label_xml(char *buf, size_t len, const char *uuid, char part)
{
	snprintf(buf, len,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<ltfslabel version=\"2.4.0\">\n"
		 "    <creator>crafted</creator>\n"
		 "    <formattime>2026-12-01T00:00:00.000000000Z</formattime>\n"
		 "    <volumeuuid>%s</volumeuuid>\n"
		 "    <location>\n        <partition>%c</partition>\n    </location>\n"
		 "    <partitions>\n        <index>a</index>\n        <data>b</data>\n"
		 "    </partitions>\n"
		 "    <blocksize>%u</blocksize>\n"
		 "    <compression>false</compression>\n"
		 "</ltfslabel>\n", uuid, part, BS);
}

/* An index; files: "" or <file> elements. */
static void index_xml(char *buf, size_t len, unsigned gen, char part,
		      uint64_t block, char prev_part, uint64_t prev_block,
		      const char *files, unsigned highest)
{
	char prev[160] = "";

	if (prev_part)
		snprintf(prev, sizeof(prev),
			 "<previousgenerationlocation>\n<partition>%c</partition>\n"
			 "<startblock>%" PRIu64 "</startblock>\n"
			 "</previousgenerationlocation>\n", prev_part, prev_block);
	snprintf(buf, len,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<ltfsindex version=\"2.4.0\">\n"
		 "<creator>crafted - gen %u</creator>\n"
		 "<volumeuuid>" UUID_A "</volumeuuid>\n"
		 "<generationnumber>%u</generationnumber>\n"
		 "<updatetime>2026-12-01T00:00:0%u.000000000Z</updatetime>\n"
		 "<location>\n<partition>%c</partition>\n<startblock>%" PRIu64
		 "</startblock>\n</location>\n%s"
		 "<allowpolicyupdate>true</allowpolicyupdate>\n"
		 "<highestfileuid>%u</highestfileuid>\n"
		 "<volumelockstate>unlocked</volumelockstate>\n"
		 "<directory>\n<name>crafted</name>\n<readonly>false</readonly>\n"
		 "<creationtime>2026-12-01T00:00:00.000000000Z</creationtime>\n"
		 "<changetime>2026-12-01T00:00:00.000000000Z</changetime>\n"
		 "<modifytime>2026-12-01T00:00:00.000000000Z</modifytime>\n"
		 "<accesstime>2026-12-01T00:00:00.000000000Z</accesstime>\n"
		 "<backuptime>2026-12-01T00:00:00.000000000Z</backuptime>\n"
		 "<fileuid>1</fileuid>\n<contents>\n%s</contents>\n</directory>\n"
		 "</ltfsindex>\n", gen, gen, gen, part, block, prev, highest, files);
}

static void file_xml(char *buf, size_t len, const char *name, unsigned uid,
		     uint64_t start, uint64_t bytes)
{
	snprintf(buf, len,
		 "<file>\n<name>%s</name>\n<length>%" PRIu64 "</length>\n"
		 "<readonly>false</readonly>\n"
		 "<creationtime>2026-12-01T00:00:00.000000000Z</creationtime>\n"
		 "<changetime>2026-12-01T00:00:00.000000000Z</changetime>\n"
		 "<modifytime>2026-12-01T00:00:00.000000000Z</modifytime>\n"
		 "<accesstime>2026-12-01T00:00:00.000000000Z</accesstime>\n"
		 "<backuptime>2026-12-01T00:00:00.000000000Z</backuptime>\n"
		 "<fileuid>%u</fileuid>\n<extentinfo>\n<extent>\n"
		 "<fileoffset>0</fileoffset>\n<partition>b</partition>\n"
		 "<startblock>%" PRIu64 "</startblock>\n<byteoffset>0</byteoffset>\n"
		 "<bytecount>%" PRIu64 "</bytecount>\n</extent>\n</extentinfo>\n</file>\n",
		 name, bytes, uid, start, bytes);
}

static int wr(struct tape *t, const void *buf, size_t len)
{
	ssize_t n = tape_write(t, buf, len);

	return n == (ssize_t)len ? 0 : -1;
}

static int pos(struct tape *t, uint64_t *block)
{
	struct tape_position p;

	if (tape_read_position(t, &p))
		return -1;
	*block = p.block;
	return 0;
}

static int set_vci(struct tape *t, uint32_t part, uint64_t gen, uint64_t block)
{
	struct tape_attr a = { .id = TAPE_ATTR_VOLUME_COHERENCY_INFO,
			       .format = TAPE_ATTR_BINARY, .length = 70 };
	uint8_t *v = a.value;

	v[0] = 8;
	v[8] = 1;	/* VCR 1 */
	for (int i = 0; i < 8; i++) {
		v[9 + i] = (uint8_t)(gen >> (56 - 8 * i));
		v[17 + i] = (uint8_t)(block >> (56 - 8 * i));
	}
	v[25] = 0;
	v[26] = 43;
	memcpy(v + 27, "LTFS", 5);
	memcpy(v + 32, UUID_A, 37);
	v[69] = 1;
	return tape_set_attr(t, part, &a);
}

/* Write a volume: gen 1 on both partitions, then a file and gen 2. */
static int craft(const char *path, const struct craft *c)
{
	struct tape_image_params p = { .size = 32u << 20, .partitions = 1, .force = true };
	uint64_t sizes[2] = { 4u << 20, 0 };
	static char xml[65536], files[8192], f1[2048], f2[2048];
	char vol1[81], err[256];
	struct tape *t;
	uint64_t dp_gen1, data, dp_gen2, ip_idx;
	unsigned highest;
	char *rec;
	int rc = -1;

	if (tape_image_create(path, &p, err, sizeof(err)) ||
	    tape_open(path, 0, &t, err, sizeof(err))) {
		printf("# craft %s: %s\n", path, err);
		return -1;
	}
	rec = calloc(1, BS);
	if (!rec || tape_format(t, 2, sizes))
		goto out;
	snprintf(vol1, sizeof(vol1), "VOL1CRAFT1L%13sLTFS%51s4", "", "");
	for (uint32_t part = 0; part < 2; part++) {
		label_xml(xml, sizeof(xml),
			  part == 1 && c->label_uuid_b ? c->label_uuid_b : UUID_A,
			  part ? 'b' : 'a');
		if (tape_locate(t, part, 0) || wr(t, vol1, 80) || tape_write_filemarks(t, 1) ||
		    wr(t, xml, strlen(xml)) || tape_write_filemarks(t, 1))
			goto out;
	}
	/* DP: gen 1 at b:5, a file at b:7-8, gen 2 */
	if (tape_locate(t, 1, 4) || tape_write_filemarks(t, 1) || pos(t, &dp_gen1))
		goto out;
	index_xml(xml, sizeof(xml), 1, 'b', dp_gen1, 0, 0, "", 1);
	if (wr(t, xml, strlen(xml)) || tape_write_filemarks(t, 1) || pos(t, &data))
		goto out;
	memset(rec, 'x', BS);
	if (wr(t, rec, BS) || wr(t, rec, BS) || tape_write_filemarks(t, 1) ||
	    pos(t, &dp_gen2))
		goto out;
	file_xml(f1, sizeof(f1), "one.bin", 2,
		 c->extent_past_index ? dp_gen2 + 3 : c->extent_into_index ? dp_gen1 : data,
		 BS + 100);
	file_xml(f2, sizeof(f2), "two.bin", c->duplicate_uid ? 2 : 3,
		 c->sub_extent_bad ? dp_gen2 + 9 : data, 10);
	highest = c->subdir || c->subdir_no_uid || c->sub_extent_bad ? 4 : 3;
	if (highest == 4)
		snprintf(files, sizeof(files),
			 "%s<directory>\n<name>sub</name>\n<readonly>false</readonly>\n"
			 "<creationtime>2026-12-01T00:00:00.000000000Z</creationtime>\n"
			 "<changetime>2026-12-01T00:00:00.000000000Z</changetime>\n"
			 "<modifytime>2026-12-01T00:00:00.000000000Z</modifytime>\n"
			 "<accesstime>2026-12-01T00:00:00.000000000Z</accesstime>\n"
			 "<backuptime>2026-12-01T00:00:00.000000000Z</backuptime>\n"
			 "%s<contents>\n%s</contents>\n</directory>\n", f1,
			 c->subdir_no_uid ? "" : "<fileuid>4</fileuid>\n", f2);
	else
		snprintf(files, sizeof(files), "%s%s", f1, f2);
	index_xml(xml, sizeof(xml), 2, 'b', dp_gen2, 'b',
		  c->bad_back_pointer ? data : dp_gen1, files,
		  highest);
	if (wr(t, xml, strlen(xml)) || tape_write_filemarks(t, 1))
		goto out;
	if (c->data_after_index && (wr(t, rec, BS) || wr(t, rec, BS)))
		goto out;
	if (c->torn_index) {
		if (wr(t, rec, BS) || tape_write_filemarks(t, 1))
			goto out;
		index_xml(xml, sizeof(xml), 3, 'b', dp_gen2 + 4, 'b', dp_gen2, files, 3);
		if (wr(t, xml, strlen(xml) / 2))
			goto out;
	}
	/* IP: one index, gen 2 pointing at its DP copy (or a stale gen 1) */
	if (tape_locate(t, 0, 4) || tape_write_filemarks(t, 1) || pos(t, &ip_idx))
		goto out;
	if (c->ip_stale)
		index_xml(xml, sizeof(xml), 1, 'a', ip_idx, 0, 0, "", 1);
	else
		index_xml(xml, sizeof(xml), 2, 'a', ip_idx, 'b', dp_gen2, files, highest);
	if (wr(t, xml, strlen(xml)) || tape_write_filemarks(t, 1))
		goto out;
	if (!c->no_vci &&
	    (set_vci(t, 0, c->ip_stale ? 1 : 2, ip_idx) ||
	     set_vci(t, 1, c->vci_stale ? 1 : 2, c->vci_stale ? dp_gen1 : dp_gen2)))
		goto out;
	rc = 0;
out:
	if (rc)
		printf("# craft %s: tape call failed: %s\n", path,
		       tape_sense_name(tape_last(t)->sense));
	free(rec);
	if (tape_close(t))
		rc = -1;
	return rc;
}

/* Run fsck on path with one option; exit status, output in out[]. */
static int run_fsck(const char *path, const char *opt, char *out, size_t len)
{
	char cmd[1024];
	FILE *f;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s '%s' 2>&1", fsck_bin, opt, path);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Craft, check (want_rc, want_text), then -r: repair_rc 1 means the
 * repair must succeed and a plain check pass afterwards; 4: it must not
 * claim success; 0: skip the repair.
 */
static void expect(const char *name, const struct craft *c, int want_rc,
		   const char *want_text, int repair_rc)
{
	char path[256], out[16384];
	int rc;

	snprintf(path, sizeof(path), "%s/%s.img", dir, name);
	if (craft(path, c)) {
		CHECK(0, "%s: crafting the volume", name);
		return;
	}
	rc = run_fsck(path, "-l", out, sizeof(out));
	CHECK_EQ(rc, want_rc, "%s: fsck exit status", name);
	CHECK(strstr(out, want_text) != NULL, "%s: fsck says \"%s\"", name, want_text);
	if (rc != want_rc || !strstr(out, want_text))
		for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
			printf("#   | %s\n", l);
	if (!repair_rc)
		return;
	rc = run_fsck(path, "-r", out, sizeof(out));
	CHECK_EQ(rc, repair_rc, "%s: fsck -r exit status", name);
	if (rc != repair_rc)
		for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
			printf("#   | %s\n", l);
	if (repair_rc == 1) {
		rc = run_fsck(path, "", out, sizeof(out));
		CHECK_EQ(rc, 0, "%s: fsck after the repair", name);
		if (rc)
			for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
				printf("#   | %s\n", l);
	}
}

/* Flip one byte of the first 4 KiB-aligned run of 'x' (a data record). */
static int corrupt_data(const char *path)
{
	FILE *f = fopen(path, "r+b");
	char blk[4096];
	long off = 0;
	int rc = -1;

	if (!f)
		return -1;
	while (fread(blk, 1, sizeof(blk), f) == sizeof(blk)) {
		if (blk[0] == 'x' && blk[4095] == 'x' && memchr(blk, 0, sizeof(blk)) == NULL) {
			if (fseek(f, off + 100, SEEK_SET) == 0 && fputc('y', f) != EOF)
				rc = 0;
			break;
		}
		off += sizeof(blk);
	}
	if (fclose(f))
		rc = -1;
	return rc;
}

static void expect_data_check(void)
{
	char path[256], out[16384];
	int rc;

	snprintf(path, sizeof(path), "%s/bad-data.img", dir);
	if (craft(path, &(struct craft){ 0 })) {
		CHECK(0, "bad-data: crafting the volume");
		return;
	}
	rc = run_fsck(path, "-c", out, sizeof(out));
	CHECK_EQ(rc, 0, "bad-data: fsck -c of the intact volume");
	CHECK(corrupt_data(path) == 0, "bad-data: flipped a byte of a data record");
	rc = run_fsck(path, "", out, sizeof(out));
	CHECK_EQ(rc, 0, "bad-data: fsck without -c does not read file data");
	rc = run_fsck(path, "-c", out, sizeof(out));
	CHECK_EQ(rc, 4, "bad-data: fsck -c finds the damaged record");
	CHECK(strstr(out, "one.bin: record b:7 does not read") != NULL &&
	      strstr(out, "two.bin: record b:7 does not read") != NULL,
	      "bad-data: both files using the record are named");
	if (rc != 4 || !strstr(out, "two.bin: record b:7"))
		for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
			printf("#   | %s\n", l);
	rc = run_fsck(path, "-r -c", out, sizeof(out));
	CHECK_EQ(rc, 4, "bad-data: -r does not claim to fix it");
}

int main(void)
{
	char cmd[300];

	fsck_bin = getenv("FUSETAPE_BIN") ? NULL : "build/san/bin/fsck.fusetape";
	if (!fsck_bin) {
		static char buf[512];

		snprintf(buf, sizeof(buf), "%s/fsck.fusetape", getenv("FUSETAPE_BIN"));
		fsck_bin = buf;
	}
	if (access(fsck_bin, X_OK) != 0) {
		printf("1..0 # SKIP %s not built\n", fsck_bin);
		return 77;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	expect("good", &(struct craft){ 0 }, 0, "is consistent: generation 2, 2 files", 0);
	expect("good-list", &(struct craft){ 0 }, 0, "  generation 1      b:5", 0);
	expect("data-after-index", &(struct craft){ .data_after_index = true }, 4,
	       "partition b does not end in an index: 2 objects follow generation 2", 1);
	expect("torn-index", &(struct craft){ .torn_index = true }, 4,
	       "incomplete index write(s) after generation 2", 1);
	expect("extent-past-index", &(struct craft){ .extent_past_index = true }, 4,
	       "one.bin: extent b:13-14", 4);
	expect("extent-into-index", &(struct craft){ .extent_into_index = true }, 4,
	       "one.bin: extent b:5-6 (file offset 0) runs into the index construct at "
	       "blocks 4-6, not data", 4);
	expect("subdir", &(struct craft){ .subdir = true }, 0,
	       "is consistent: generation 2, 2 files, 2 directories", 0);
	expect("subdir-no-uid", &(struct craft){ .subdir_no_uid = true }, 4,
	       "/sub: directory without a fileuid", 4);
	expect("sub-extent-bad", &(struct craft){ .sub_extent_bad = true }, 4,
	       "/sub/two.bin: extent b:19-19", 4);
	expect("bad-back-pointer", &(struct craft){ .bad_back_pointer = true }, 4,
	       "generation 2 points back to b:7, where no index reads", 4);
	expect("duplicate-uid", &(struct craft){ .duplicate_uid = true }, 4,
	       "fileuid 2 is used more than once", 4);
	expect("labels-disagree", &(struct craft){ .label_uuid_b = UUID_B }, 4,
	       "the labels name different volumes", 4);
	expect("ip-stale", &(struct craft){ .ip_stale = true }, 4,
	       "the index partition holds generation 1, the data partition the newer 2", 1);
	expect("vci-stale", &(struct craft){ .vci_stale = true }, 4,
	       "partition b: the MAM says generation 1 at block 5", 1);
	expect("no-vci", &(struct craft){ .no_vci = true }, 4,
	       "no volume coherency information", 1);
	expect_data_check();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
