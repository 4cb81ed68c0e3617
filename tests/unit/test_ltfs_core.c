/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ltfs_core.c - the LTFS on-tape structures: names, timestamps,
 * index XML (element order, round trip), format layout block by block,
 * labels, MAM coherency attributes, generations and back pointers, and
 * mount's refusals.
 */
#include "test_ltfs_util.h"

/* Read the records from (part, block) to the next filemark into a buffer. */
static char *read_segment(struct tape *t, unsigned part, uint64_t block, size_t *len,
			  unsigned *nrec)
{
	size_t cap = 16 << 20;
	char *buf = malloc(cap + 1);
	ssize_t n;

	*len = 0;
	*nrec = 0;
	if (!buf || tape_locate(t, part, block))
		return buf;
	while ((n = tape_read(t, buf + *len, cap - *len)) > 0) {
		*len += (size_t)n;
		(*nrec)++;
	}
	buf[*len] = 0;
	return buf;
}

static int parse_at(struct tape *t, unsigned part, uint64_t block, struct ltfs_index *ix,
		    char **xml_out)
{
	size_t len;
	unsigned nrec;
	char err[LTFS_ERRLEN] = "";
	char *xml = read_segment(t, part, block, &len, &nrec);
	int rc = ltfs_index_parse(xml, len, false, ix, err);

	if (rc)
		printf("# parse at %u:%llu: %s\n", part, (unsigned long long)block, err);
	if (xml_out)
		*xml_out = xml;
	else
		free(xml);
	return rc;
}

/* Positions of the strings in order; 1 if each comes after the previous. */
static int in_order(const char *doc, const char *const *tags, int n)
{
	const char *p = doc;
	int i;

	for (i = 0; i < n; i++) {
		const char *q = strstr(p, tags[i]);

		if (!q) {
			printf("# %s missing or out of order\n", tags[i]);
			return 0;
		}
		p = q + strlen(tags[i]);
	}
	return 1;
}

static void test_names(void)
{
	char *e, *d;
	unsigned char *bin;
	ssize_t bl;
	static const unsigned char raw[] = { 0, 1, 2, 0xff, 0xfe, 'a', 0x80 };
	char *b64;

	CHECK_EQ(ltfs_name_check("plain.txt"), 0, "plain name accepted");
	CHECK_EQ(ltfs_name_check("caf\xc3\xa9"), 0, "UTF-8 name accepted");
	CHECK_EQ(ltfs_name_check("bad\xc3"), -EILSEQ, "truncated UTF-8 rejected");
	CHECK_EQ(ltfs_name_check("\xed\xa0\x80x"), -EILSEQ, "surrogate rejected");
	CHECK_EQ(ltfs_name_check("\xc0\xaf"), -EILSEQ, "overlong rejected");
	CHECK_EQ(ltfs_name_check("a/b"), -EINVAL, "slash rejected");
	CHECK_EQ(ltfs_name_check("a\x1f" "b"), -EINVAL, "0x1F rejected");
	CHECK_EQ(ltfs_name_check("a\xef\xbf\xbe"), -EINVAL, "U+FFFE rejected (not XML)");
	CHECK_EQ(ltfs_name_check("a\xef\xbf\xbf"), -EINVAL, "U+FFFF rejected (not XML)");
	CHECK_EQ(ltfs_name_check("\xf0\x9f\x98\x80\xc2\x85"), 0, "emoji and C1 accepted");
	CHECK_EQ(ltfs_name_check(""), -EINVAL, "empty rejected");
	CHECK_EQ(ltfs_name_check(".."), -EINVAL, "dot-dot rejected");
	{
		char longname[300];

		memset(longname, 'x', 256);
		longname[256] = 0;
		CHECK_EQ(ltfs_name_check(longname), -ENAMETOOLONG, "256 bytes too long");
		longname[255] = 0;
		CHECK_EQ(ltfs_name_check(longname), 0, "255 bytes fine");
	}
	e = ltfs_name_encode("name:with%odd*chars\x01");
	CHECK(e && !strcmp(e, "name%3Awith%25odd*chars%01"), "percent-encoding as the reference: %s", e);
	d = e ? ltfs_name_decode(e) : NULL;
	CHECK(d && !strcmp(d, "name:with%odd*chars\x01"), "percent-decoding round trip");
	free(e);
	free(d);
	CHECK(ltfs_name_decode("bad%2") == NULL, "malformed %%-sequence refused");
	b64 = ltfs_base64_encode(raw, sizeof(raw));
	bl = b64 ? ltfs_base64_decode(b64, &bin) : -1;
	CHECK(bl == (ssize_t)sizeof(raw) && !memcmp(bin, raw, sizeof(raw)), "base64 round trip");
	if (bl >= 0)
		free(bin);
	free(b64);
	CHECK(!ltfs_xml_text_ok("a\rb", 3), "CR is not XML-safe text");
	CHECK(ltfs_xml_text_ok("blue\tgreen\n", 11), "tab and newline are");
}

static void test_times(void)
{
	struct timespec ts = { 1795826950, 516579379 }, back;
	char buf[LTFS_TIME_LEN];

	ltfs_time_format(&ts, buf);
	CHECK(!strcmp(buf, "2026-11-28T00:49:10.516579379Z"), "time format: %s", buf);
	CHECK(ltfs_time_parse(buf, &back) == 0 && back.tv_sec == ts.tv_sec &&
	      back.tv_nsec == ts.tv_nsec, "time round trip");
	CHECK(ltfs_time_parse("2026-11-24T00:49:10.5Z", &back) == 0 && back.tv_nsec == 500000000,
	      "short fraction parsed");
	CHECK(ltfs_time_parse("2026-11-24 00:49:10Z", &back) != 0, "junk time refused");
	ts.tv_sec = 300000000000LL;
	ltfs_time_format(&ts, buf);
	CHECK(!strncmp(buf, "9999-12-31T23:59:59", 19), "clamped to 9999: %s", buf);
}

static void test_index_roundtrip(void)
{
	struct ltfs_index ix, back;
	struct ltfs_node *root, *f, *d, *l;
	struct ltfs_extent e = { 0, 7, 2000000, 0, 'b' };
	static const unsigned char bin[] = { 0, 1, 2, 3, 0xff };
	char *xml = NULL, err[LTFS_ERRLEN] = "";
	size_t len;
	int rc;
	static const char *const order[] = {
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<ltfsindex version=\"2.4.0\">",
		"<creator>", "<volumeuuid>", "<generationnumber>", "<updatetime>",
		"<location>", "<partition>", "<startblock>", "<previousgenerationlocation>",
		"<allowpolicyupdate>", "<highestfileuid>", "<volumelockstate>", "<directory>",
		"<name>vol</name>", "<readonly>", "<creationtime>", "<changetime>",
		"<modifytime>", "<accesstime>", "<backuptime>", "<fileuid>1</fileuid>",
		"<contents>", "<file>", "<name percentencoded=\"true\">a%3Ab%25c</name>",
		"<length>2000000</length>", "<readonly>", "<creationtime>", "<changetime>",
		"<modifytime>", "<accesstime>", "<backuptime>", "<fileuid>2</fileuid>",
		"<extendedattributes>", "<key>color</key>", "<value>blue</value>",
		"<key>bin</key>", "<value type=\"base64\">AAECA/8=</value>",
		"<extentinfo>", "<extent>", "<fileoffset>0</fileoffset>",
		"<partition>b</partition>", "<startblock>7</startblock>",
		"<byteoffset>0</byteoffset>", "<bytecount>2000000</bytecount>",
		"</file>", "<directory>", "<name>sub</name>", "<fileuid>3</fileuid>",
		"<file>", "<name>link</name>", "<length>0</length>",
		"<readonly>true</readonly>", "<fileuid>4</fileuid>",
		"<symlink percentencoded=\"true\">../a%3Ab%25c</symlink>",
		"</contents>", "</directory>", "</contents>", "</directory>", "</ltfsindex>",
	};

	memset(&ix, 0, sizeof(ix));
	ltfs_tree_init(&ix.tree);
	strcpy(ix.version, "2.4.0");
	strcpy(ix.creator, "test - Unit");
	strcpy(ix.uuid, "a7532fa8-3e79-438e-8379-3a7f3699c0f2");
	ix.generation = 7;
	ix.updatetime.tv_sec = 1000;
	ix.self = (struct ltfs_loc){ 'a', 5 };
	ix.back = (struct ltfs_loc){ 'b', 26 };
	ix.allowpolicyupdate = true;
	strcpy(ix.lockstate, "unlocked");
	root = ltfs_node_new(LTFS_TYPE_DIR, 1);
	root->name = strdup("vol");
	ix.tree.root = root;
	ltfs_tree_add_uid(&ix.tree, root);
	f = ltfs_node_new(LTFS_TYPE_FILE, 2);
	f->name = strdup("a:b%c");
	f->length = 2000000;
	ltfs_tree_add_uid(&ix.tree, f);
	ltfs_tree_link(&ix.tree, root, f);
	ltfs_extent_put(&ix.tree, f, &e, 524288);
	f->xattr = calloc(2, sizeof(*f->xattr));
	f->xattr[0].key = strdup("color");
	f->xattr[0].value = (unsigned char *)strdup("blue");
	f->xattr[0].size = 4;
	f->xattr[1].key = strdup("bin");
	f->xattr[1].value = malloc(sizeof(bin));
	memcpy(f->xattr[1].value, bin, sizeof(bin));
	f->xattr[1].size = sizeof(bin);
	f->nxattr = 2;
	d = ltfs_node_new(LTFS_TYPE_DIR, 3);
	d->name = strdup("sub");
	ltfs_tree_add_uid(&ix.tree, d);
	ltfs_tree_link(&ix.tree, root, d);
	l = ltfs_node_new(LTFS_TYPE_SYMLINK, 4);
	l->name = strdup("link");
	l->symlink = strdup("../a:b%c");
	ltfs_tree_add_uid(&ix.tree, l);
	ltfs_tree_link(&ix.tree, d, l);

	rc = ltfs_index_xml(&ix, &xml, &len);
	CHECK_EQ(rc, 0, "index serialised");
	CHECK(xml && in_order(xml, order, (int)(sizeof(order) / sizeof(order[0]))),
	      "every element present, in the reference's order");
	CHECK(xml && strstr(xml, "<updatetime>1970-01-01T00:16:40.000000000Z</updatetime>\n"),
	      "9-digit UTC timestamp, newline after element");
	CHECK(xml && strstr(xml, "<highestfileuid>4</highestfileuid>"), "highestfileuid");
	rc = xml ? ltfs_index_parse(xml, len, false, &back, err) : -1;
	CHECK_EQ(rc, 0, "index parses back (%s)", err);
	if (!rc) {
		struct ltfs_node *bf = ltfs_tree_get(&back.tree, 2), *bl = ltfs_tree_get(&back.tree, 4);

		CHECK(back.generation == 7 && back.self.part == 'a' && back.self.block == 5 &&
		      back.back.part == 'b' && back.back.block == 26, "header fields round trip");
		CHECK(bf && !strcmp(bf->name, "a:b%c") && bf->length == 2000000 && bf->next == 1 &&
		      bf->ext[0].startblock == 7 && bf->ext[0].bytecount == 2000000,
		      "file, percent-decoded name and extent round trip");
		CHECK(bf && bf->nxattr == 2 && bf->xattr[1].size == sizeof(bin) &&
		      !memcmp(bf->xattr[1].value, bin, sizeof(bin)), "binary xattr round trip");
		CHECK(bl && bl->type == LTFS_TYPE_SYMLINK && !strcmp(bl->symlink, "../a:b%c") &&
		      bl->parent && bl->parent->uid == 3, "symlink round trip");
		CHECK_EQ(back.tree.highest_uid, 4, "highest uid");
		ltfs_index_free(&back);
	}
	/* damaged documents are refused with a message, never a crash */
	if (xml) {
		size_t cut;
		int refused = 0, tries = 0;

		for (cut = 10; cut < len; cut += len / 37 + 1, tries++) {
			err[0] = 0;
			if (ltfs_index_parse(xml, cut, false, &back, err) != 0 && err[0])
				refused++;
			else
				ltfs_index_free(&back);
		}
		CHECK_EQ(refused, tries, "every truncated index refused with a message");
		err[0] = 0;
		{
			char *bad = strdup(xml), *p = strstr(bad, "<fileuid>2</fileuid>");

			memcpy(p, "<fileuid>3</fileuid>", 20);
			CHECK(ltfs_index_parse(bad, len, false, &back, err) == -EUCLEAN &&
			      strstr(err, "twice"), "duplicate fileuid refused: %s", err);
			free(bad);
		}
	}
	free(xml);
	ltfs_index_free(&ix);
}

struct gens {
	int n;
	uint64_t gen[16], block[16];
	char part[16];
};

static int gen_fill(void *ctx, const struct ltfs_generation *g)
{
	struct gens *s = ctx;

	if (s->n < 16) {
		s->gen[s->n] = g->generation;
		s->block[s->n] = g->block;
		s->part[s->n] = g->partition;
		s->n++;
	}
	return 0;
}

static void test_format_layout(void)
{
	const char *path = image_new("fmt.img", 64 << 20);
	struct tape *t = tape_at(path, 0);
	unsigned char buf[1 << 16];
	struct ltfs_label_info li;
	struct ltfs_format_opts fo;
	struct ltfs_index ix;
	struct tape_attr a;
	struct tape_medium m;
	char err[LTFS_ERRLEN], *xml = NULL;
	unsigned p;
	int rc;

	CHECK_EQ(ltfs_probe(t, &li), -ENOENT, "blank medium: no LTFS");
	{
		struct ltfs_volume *v = NULL;

		rc = ltfs_mount(t, NULL, &v, err);
		CHECK(rc == -EMEDIUMTYPE && strstr(err, "not an LTFS volume"),
		      "mount of a blank medium: -EMEDIUMTYPE (%s)", err);
	}
	CHECK_EQ(format_default(t, 65536, "fusetape-test"), 0, "format");
	CHECK_EQ(tape_medium_info(t, &m), 0, "medium info");
	CHECK_EQ(m.partitions, 2, "two partitions");
	CHECK(m.capacity[0] >= 16 * 65536 && m.capacity[0] < m.capacity[1],
	      "index partition small (%llu)", (unsigned long long)m.capacity[0]);
	for (p = 0; p < 2; p++) {
		ssize_t n;
		char label[2048];

		tape_locate(t, p, 0);
		n = tape_read(t, buf, sizeof(buf));
		CHECK(n == 80 && !memcmp(buf, "VOL1TST001L", 11) && !memcmp(buf + 24, "LTFS", 4) &&
		      buf[79] == '4' && buf[11] == ' ' && buf[78] == ' ', "VOL1 on partition %u", p);
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "FM after VOL1");
		n = tape_read(t, label, sizeof(label) - 1);
		CHECK(n > 0, "label record");
		label[n > 0 ? n : 0] = 0;
		CHECK(strstr(label, "<ltfslabel version=\"2.4.0\">") &&
		      strstr(label, p ? "<partition>b</partition>" : "<partition>a</partition>") &&
		      strstr(label, "    <partitions>\n        <index>a</index>\n        <data>b</data>") &&
		      strstr(label, "<blocksize>65536</blocksize>"), "XML label of partition %u", p);
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "FM after label");
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "leading FM of the index");
		n = tape_read(t, buf, sizeof(buf));
		CHECK(n > 0 && !memcmp(buf, "<?xml", 5), "index record at block 5");
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "trailing FM");
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "EOD at block 7");
	}
	CHECK_EQ(parse_at(t, 1, 5, &ix, NULL), 0, "DP index parses");
	CHECK(ix.generation == 1 && ix.self.part == 'b' && ix.self.block == 5 && !ix.back.part,
	      "DP gen 1 at b:5, no back pointer");
	CHECK(ix.tree.root && !strcmp(ix.tree.root->name, "fusetape-test") &&
	      ix.tree.root->uid == 1 && ix.tree.highest_uid == 1, "root = volume name, uid 1");
	ltfs_index_free(&ix);
	CHECK_EQ(parse_at(t, 0, 5, &ix, NULL), 0, "IP index parses");
	CHECK(ix.generation == 1 && ix.self.part == 'a' && ix.self.block == 5 &&
	      ix.back.part == 'b' && ix.back.block == 5, "IP gen 1 at a:5, back pointer b:5");
	ltfs_index_free(&ix);

	rc = tape_get_attr(t, 1, TAPE_ATTR_VOLUME_COHERENCY_INFO, &a);
	CHECK(rc == 0 && a.length == 70, "VCI of the DP present, 70 bytes");
	if (!rc) {
		uint64_t vcr, gen, blk;
		char uuid[37];

		CHECK(a.value[0] == 8 && a.value[26] == 43 && !memcmp(a.value + 27, "LTFS", 5) &&
		      a.value[69] == 1, "VCI fixed bytes");
		CHECK(ltfs_vci_parse(a.value, a.length, &vcr, &gen, &blk, uuid) == 0 && gen == 1 &&
		      blk == 5, "VCI: generation 1 at block 5");
	}
	CHECK_EQ(tape_get_attr(t, 0, TAPE_ATTR_APPLICATION_FORMAT_VERSION, &a), 0, "format version attr");
	CHECK(!memcmp(a.value, "2.4.0", 5), "format version 2.4.0");
	CHECK_EQ(tape_get_attr(t, 0, TAPE_ATTR_USER_MEDIUM_TEXT_LABEL, &a), 0, "volume name attr");
	CHECK(!strcmp((char *)a.value, "fusetape-test"), "volume name in MAM");

	CHECK_EQ(ltfs_probe(t, &li), 0, "probe finds the volume");
	CHECK(!strcmp(li.barcode, "TST001") && li.block_size == 65536 &&
	      !strcmp(li.volume_name, "fusetape-test") && strlen(li.uuid) == 36, "probe info");
	memset(&fo, 0, sizeof(fo));
	fo.volume_name = "again";
	rc = ltfs_format(t, &fo, err);
	CHECK(rc == -EEXIST && strstr(err, li.uuid) && strstr(err, "fusetape-test"),
	      "format without force refuses, naming what it found: %s", err);

	/* generations: mount, change, unmount */
	{
		struct ltfs_volume *v = mount_rw(t);
		struct ltfs_stat st;
		char val[64];
		ssize_t n;
		uint64_t dp_block;

		CHECK(v != NULL, "fresh volume mounts");
		if (!v)
			goto out;
		n = ltfs_getxattr(v, 1, "ltfs.indexGeneration", val, sizeof(val));
		CHECK(n == 1 && val[0] == '1', "virtual xattr indexGeneration = 1");
		CHECK(!ltfs_dirty(v), "fresh mount is clean");
		CHECK_EQ(ltfs_create(v, 1, "f", &st), 0, "create");
		CHECK_EQ(st.uid, 2, "first file uid 2");
		CHECK_EQ(ltfs_write(v, st.uid, "hello", 5, 0), 5, "write");
		CHECK_EQ(unmount_ok(v), 0, "unmount");
		/* DP: b:7 holds the 5 data bytes, b:8 the leading FM, gen 2 at b:9 */
		dp_block = 9;
		CHECK_EQ(parse_at(t, 1, dp_block, &ix, &xml), 0, "DP gen 2 index");
		CHECK(ix.generation == 2 && ix.self.block == dp_block && ix.back.part == 'b' &&
		      ix.back.block == 5, "DP gen 2 points back to DP gen 1 (b:5)");
		CHECK(xml && strstr(xml, " - Unmount</creator>"), "creator names the reason");
		free(xml);
		ltfs_index_free(&ix);
		CHECK_EQ(parse_at(t, 0, 5, &ix, NULL), 0, "IP index rewritten at a:5");
		CHECK(ix.generation == 2 && ix.back.part == 'b' && ix.back.block == dp_block,
		      "IP gen 2 points at the DP copy of gen 2");
		ltfs_index_free(&ix);
		tape_locate(t, 0, 6);
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), 0, "IP: FM after the index");
		CHECK_EQ(tape_read(t, buf, sizeof(buf)), -ENODATA, "IP: EOD right after (old index overwritten)");
		rc = tape_get_attr(t, 0, TAPE_ATTR_VOLUME_COHERENCY_INFO, &a);
		{
			uint64_t vcr, gen, blk;
			char uuid[37];

			CHECK(rc == 0 && ltfs_vci_parse(a.value, a.length, &vcr, &gen, &blk, uuid) == 0 &&
			      gen == 2 && blk == 5, "IP VCI: gen 2 at 5");
			rc = tape_get_attr(t, 1, TAPE_ATTR_VOLUME_COHERENCY_INFO, &a);
			CHECK(rc == 0 && ltfs_vci_parse(a.value, a.length, &vcr, &gen, &blk, uuid) == 0 &&
			      gen == 2 && blk == dp_block, "DP VCI: gen 2 at %llu", (unsigned long long)blk);
		}
		/* a clean mount and unmount writes nothing */
		{
			struct tape_position pos;

			v = mount_rw(t);
			CHECK(v && ltfs_getxattr(v, 1, "ltfs.indexLocation", val, sizeof(val)) > 0,
			      "remount");
			CHECK_EQ(unmount_ok(v), 0, "clean unmount");
			tape_locate(t, 1, 0);
			tape_space(t, TAPE_SPACE_EOD, 0);
			tape_read_position(t, &pos);
			CHECK_EQ(pos.block, dp_block + 2, "clean unmount added nothing to the DP");
		}
		/* read-only mount refuses changes */
		{
			struct ltfs_mount_opts mo = { .readonly = true };

			rc = ltfs_mount(t, &mo, &v, err);
			CHECK(rc == 0 && ltfs_readonly(v), "read-only mount");
			if (!rc) {
				CHECK_EQ(ltfs_create(v, 1, "g", &st), -EROFS, "create on read-only: EROFS");
				CHECK_EQ(ltfs_write(v, 2, "x", 1, 0), -EROFS, "write on read-only: EROFS");
				CHECK(file_equals(v, 2, "hello", 5), "data readable read-only");
				ltfs_unmount(v, err);
			}
		}
		/* generations: list them, mount an old one */
		{
			struct gens g = { 0 };
			struct ltfs_mount_opts mo = { .generation = 1 };

			v = mount_rw(t);
			CHECK(v && ltfs_write(v, 2, "HELLO", 5, 0) == 5 && ltfs_sync(v, "Sync") == 0,
			      "gen 3 changes the file");
			CHECK(v && unmount_ok(v) == 0, "unmount (gen 3 on both)");
			rc = ltfs_list_generations(t, gen_fill, &g, err);
			CHECK(rc == 3 && g.n == 3 && g.gen[0] == 3 && g.gen[1] == 2 && g.gen[2] == 1,
			      "three generations listed newest first (rc %d: %s)", rc, err);
			CHECK(g.part[1] == 'b' && g.block[1] == 9 && g.part[2] == 'b' && g.block[2] == 5,
			      "each at its data partition location");
			rc = ltfs_mount(t, &mo, &v, err);
			CHECK(rc == 0 && ltfs_readonly(v) && v->ix.generation == 1,
			      "rollback mount of generation 1, read-only (%s)", err);
			if (!rc) {
				CHECK_EQ(ltfs_getattr(v, 2, &st), -ENOENT, "the file did not exist then");
				ltfs_unmount(v, err);
			}
			mo.generation = 2;
			rc = ltfs_mount(t, &mo, &v, err);
			CHECK(rc == 0 && file_equals(v, 2, "hello", 5), "generation 2 has the old bytes");
			if (!rc)
				ltfs_unmount(v, err);
			mo.generation = 7;
			rc = ltfs_mount(t, &mo, &v, err);
			CHECK(rc == -ENOENT && strstr(err, "newer"), "generation 7: ENOENT (%s)", err);
			v = mount_rw(t);
			CHECK(v && file_equals(v, 2, "HELLO", 5), "the newest is untouched");
			if (v)
				unmount_ok(v);
		}
	}
out:
	tape_close(t);
}

/* Documents exactly as the reference implementation (LTFS 2.4.8.4) wrote them. */
static const char ref_label[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ltfslabel version=\"2.4.0\">\n"
	"    <creator>IBM LTFS 2.4.8.4 (Prelim) - Linux - mkltfs</creator>\n"
	"    <formattime>2026-11-24T00:49:10.516579379Z</formattime>\n"
	"    <volumeuuid>a7532fa8-3e79-438e-8379-3a7f3699c0f2</volumeuuid>\n"
	"    <location>\n        <partition>a</partition>\n    </location>\n"
	"    <partitions>\n        <index>a</index>\n        <data>b</data>\n    </partitions>\n"
	"    <blocksize>524288</blocksize>\n"
	"    <compression>true</compression>\n"
	"</ltfslabel>\n";

#define T5(a, b, c, d, e) "<creationtime>" a "</creationtime>\n<changetime>" b \
	"</changetime>\n<modifytime>" c "</modifytime>\n<accesstime>" d \
	"</accesstime>\n<backuptime>" e "</backuptime>\n"
#define TS "2026-11-24T00:49:10.601967481Z"
static const char ref_index[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ltfsindex version=\"2.4.0\">\n"
	"<creator>IBM LTFS 2.4.8.4 (Prelim) - Linux - ltfs - Unmount</creator>\n"
	"<volumeuuid>a7532fa8-3e79-438e-8379-3a7f3699c0f2</volumeuuid>\n"
	"<generationnumber>2</generationnumber>\n"
	"<updatetime>2026-11-24T00:49:10.748988463Z</updatetime>\n"
	"<location>\n<partition>a</partition>\n<startblock>5</startblock>\n</location>\n"
	"<previousgenerationlocation>\n<partition>b</partition>\n<startblock>26</startblock>\n"
	"</previousgenerationlocation>\n"
	"<allowpolicyupdate>true</allowpolicyupdate>\n"
	"<highestfileuid>12</highestfileuid>\n"
	"<volumelockstate>unlocked</volumelockstate>\n"
	"<directory>\n<name>fusetape-test</name>\n<readonly>false</readonly>\n"
	T5(TS, TS, TS, TS, TS)
	"<fileuid>1</fileuid>\n<contents>\n"
	"<file>\n<name>plain1.bin</name>\n<length>2000000</length>\n<readonly>false</readonly>\n"
	T5(TS, TS, TS, TS, TS)
	"<fileuid>2</fileuid>\n<extentinfo>\n<extent>\n<fileoffset>0</fileoffset>\n"
	"<partition>b</partition>\n<startblock>7</startblock>\n<byteoffset>0</byteoffset>\n"
	"<bytecount>2000000</bytecount>\n</extent>\n</extentinfo>\n</file>\n"
	"<file>\n<name>plain2.txt</name>\n<length>16</length>\n<readonly>false</readonly>\n"
	T5(TS, TS, TS, TS, TS)
	"<fileuid>3</fileuid>\n<extendedattributes>\n<xattr>\n<key>color</key>\n"
	"<value>blue</value>\n</xattr>\n</extendedattributes>\n<extentinfo>\n<extent>\n"
	"<fileoffset>0</fileoffset>\n<partition>b</partition>\n<startblock>11</startblock>\n"
	"<byteoffset>0</byteoffset>\n<bytecount>16</bytecount>\n</extent>\n</extentinfo>\n"
	"</file>\n"
	"<directory>\n<name>untarred</name>\n<readonly>false</readonly>\n"
	T5(TS, TS, TS, TS, TS)
	"<fileuid>4</fileuid>\n<contents>\n"
	"<file>\n<name percentencoded=\"true\">name%3Awith%25odd*chars</name>\n"
	"<length>0</length>\n<readonly>false</readonly>\n"
	T5(TS, TS, TS, TS, TS)
	"<fileuid>5</fileuid>\n</file>\n"
	"<file>\n<name>link-to-hello</name>\n<length>0</length>\n<readonly>true</readonly>\n"
	T5(TS, TS, TS, TS, TS)
	"<fileuid>12</fileuid>\n<extendedattributes>\n<xattr>\n"
	"<key>ltfs.vendor.IBM.prefixLength</key>\n<value>0</value>\n</xattr>\n"
	"</extendedattributes>\n<symlink>sub/hello.txt</symlink>\n</file>\n"
	"</contents>\n</directory>\n</contents>\n</directory>\n</ltfsindex>\n";

/* Replace the first `from` in buf (which has room) by `to`. */
static void replace(char *buf, const char *from, const char *to)
{
	char *p = strstr(buf, from);

	if (!p)
		return;
	memmove(p + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	memcpy(p, to, strlen(to));
}

static void test_reference_documents(void)
{
	struct ltfs_label l;
	struct ltfs_index ix;
	char err[LTFS_ERRLEN] = "";
	struct ltfs_node *n;
	int rc;

	rc = ltfs_label_parse(ref_label, sizeof(ref_label) - 1, &l, err);
	CHECK_EQ(rc, 0, "the reference's label parses (%s)", err);
	CHECK(!rc && l.blocksize == 524288 && l.compression && l.this_part == 'a' &&
	      l.index_part == 'a' && l.data_part == 'b' &&
	      !strcmp(l.uuid, "a7532fa8-3e79-438e-8379-3a7f3699c0f2") &&
	      l.formattime.tv_nsec == 516579379, "label fields");
	rc = ltfs_index_parse(ref_index, sizeof(ref_index) - 1, false, &ix, err);
	CHECK_EQ(rc, 0, "the reference's index parses (%s)", err);
	if (rc)
		return;
	CHECK(ix.generation == 2 && ix.self.part == 'a' && ix.self.block == 5 &&
	      ix.back.part == 'b' && ix.back.block == 26 && ix.tree.highest_uid == 12,
	      "reference index header");
	n = ltfs_tree_get(&ix.tree, 2);
	CHECK(n && !strcmp(n->name, "plain1.bin") && n->next == 1 && n->ext[0].startblock == 7 &&
	      n->length == 2000000, "plain1.bin");
	n = ltfs_tree_get(&ix.tree, 3);
	CHECK(n && n->nxattr == 1 && !strcmp(n->xattr[0].key, "color") && n->xattr[0].size == 4,
	      "plain2.txt and its xattr");
	n = ltfs_tree_get(&ix.tree, 5);
	CHECK(n && !strcmp(n->name, "name:with%odd*chars") && n->parent && n->parent->uid == 4,
	      "percent-encoded name decoded");
	n = ltfs_tree_get(&ix.tree, 12);
	CHECK(n && n->type == LTFS_TYPE_SYMLINK && !strcmp(n->symlink, "sub/hello.txt"),
	      "symlink");
	ltfs_index_free(&ix);
	{
		/* the reference percent-encodes keys and targets as names */
		char *doc = malloc(sizeof(ref_index) + 200);

		strcpy(doc, ref_index);
		replace(doc, "<key>color</key>", "<key percentencoded=\"true\">co%3Alor</key>");
		replace(doc, "<symlink>sub/hello.txt</symlink>",
			"<symlink percentencoded=\"true\">sub/a%3Ab.txt</symlink>");
		rc = ltfs_index_parse(doc, strlen(doc), false, &ix, err);
		CHECK_EQ(rc, 0, "encoded key and target parse (%s)", err);
		if (!rc) {
			n = ltfs_tree_get(&ix.tree, 3);
			CHECK(n && n->nxattr == 1 && !strcmp(n->xattr[0].key, "co:lor"),
			      "percent-encoded xattr key decoded");
			n = ltfs_tree_get(&ix.tree, 12);
			CHECK(n && !strcmp(n->symlink, "sub/a:b.txt"), "percent-encoded target decoded");
			ltfs_index_free(&ix);
		}
		free(doc);
	}

	/* elements of a newer format are kept and written back */
	{
		char *doc = malloc(sizeof(ref_index) + 200), *p, *xml = NULL;
		size_t len;

		strcpy(doc, ref_index);
		static const char fut[] = "<future a=\"1\"><x>y</x></future>\n";

		p = strstr(doc, "<fileuid>3</fileuid>\n");
		memmove(p + strlen(fut), p, strlen(p) + 1);
		memcpy(p, fut, strlen(fut));
		rc = ltfs_index_parse(doc, strlen(doc), false, &ix, err);
		CHECK_EQ(rc, 0, "index with an unknown element parses (%s)", err);
		if (!rc) {
			rc = ltfs_index_xml(&ix, &xml, &len);
			CHECK(rc == 0 && strstr(xml, "<future a=\"1\"><x>y</x></future>") &&
			      strstr(xml, "</extentinfo>\n<future") , "unknown element written back");
			free(xml);
			ltfs_index_free(&ix);
		}
		free(doc);
	}
}

/* Random damage to a real index: refused or parsed, never a crash or leak. */
static void test_index_fuzz(void)
{
	size_t len = sizeof(ref_index) - 1;
	char *doc = malloc(len + 1);
	int i, refused = 0, parsed = 0, nomsg = 0;
	static const char junk[] = "<>/&;%\"=x0 \n\xff\xc3";

	for (i = 0; i < 3000; i++) {
		struct ltfs_index ix;
		char err[LTFS_ERRLEN] = "";
		int k, edits = 1 + i % 4;

		memcpy(doc, ref_index, len + 1);
		for (k = 0; k < edits; k++) {
			size_t at;

			fill_random(&at, sizeof(at));
			at %= len;
			fill_random(doc + at, 0);
			doc[at] = junk[(i + k) % (sizeof(junk) - 1)];
		}
		if (ltfs_index_parse(doc, len, false, &ix, err) == 0) {
			parsed++;
			ltfs_index_free(&ix);
		} else {
			refused++;
			if (!err[0])
				nomsg++;
		}
	}
	CHECK(refused > 1000 && parsed + refused == 3000, "3000 damaged indexes: %d refused, "
	      "%d still parse, none crashed", refused, parsed);
	CHECK_EQ(nomsg, 0, "every refusal explained");
	free(doc);
}

/*
 * A volume laid out record by record as the reference implementation
 * writes one (its label and index text, each file starting a new record,
 * the IP index of the same generation pointing at the DP copy): fusetape
 * mounts it, reads it, and adds to it.
 */
static void test_reference_volume(void)
{
	const char *path = image_new("ref.img", 64u << 20);
	struct tape *t = tape_at(path, 0);
	uint64_t sizes[2] = { 4u << 20, 0 };
	unsigned char *plain1 = malloc(2000000);
	const char *plain2 = "sixteen bytes!!\n";
	char *idx = malloc(sizeof(ref_index) + 64), err[LTFS_ERRLEN];
	struct ltfs_volume *v;
	unsigned part;
	size_t off;
	int rc;

	fill_random(plain1, 2000000);
	tape_format(t, 2, sizes);
	for (part = 0; part < 2; part++) {
		char vol1[80], *lab = strdup(ref_label);

		if (part == 1)
			memcpy(strstr(lab, "<partition>a") + 11, "b", 1);
		ltfs_vol1_make(vol1, "TAPE01");
		tape_locate(t, part, 0);
		tape_write(t, vol1, 80);
		tape_write_filemarks(t, 1);
		tape_write(t, lab, strlen(lab));
		tape_write_filemarks(t, 1);
		free(lab);
	}
	/* DP: FM gen1-index FM (skipped: not needed), data at b:7.. as the
	 * reference places it: plain1 in 4 records, plain2 in 1 */
	tape_locate(t, 1, 4);
	tape_write_filemarks(t, 1);
	tape_write(t, "<?xml version=\"1.0\"?><not-an-index/>", 36);
	tape_write_filemarks(t, 1);
	for (off = 0; off < 2000000; off += 524288)
		tape_write(t, plain1 + off, 2000000 - off < 524288 ? 2000000 - off : 524288);
	tape_write(t, plain2, 16);	/* b:11 */
	/* the DP copy of gen 2 at b:13 (FM at 12), back pointer b:5 */
	strcpy(idx, ref_index);
	replace(idx, "<location>\n<partition>a</partition>\n<startblock>5<",
		"<location>\n<partition>b</partition>\n<startblock>13<");
	replace(idx, "<startblock>26<", "<startblock>5<");
	tape_write_filemarks(t, 1);
	tape_write(t, idx, strlen(idx));
	tape_write_filemarks(t, 1);
	/* the IP copy at a:5 points at it */
	strcpy(idx, ref_index);
	replace(idx, "<startblock>26<", "<startblock>13<");
	tape_locate(t, 0, 4);
	tape_write_filemarks(t, 1);
	tape_write(t, idx, strlen(idx));
	tape_write_filemarks(t, 1);
	tape_flush(t);

	rc = ltfs_mount(t, NULL, &v, err);
	CHECK_EQ(rc, 0, "a volume in the reference's layout mounts (%s)", err);
	if (rc)
		goto out;
	CHECK(v->ix.generation == 2 && v->bs == 524288 && v->ix.self.part == 'b',
	      "generation 2 (DP copy), 512 KiB blocks");
	CHECK(file_equals(v, 2, plain1, 2000000), "plain1.bin (4 records) reads back");
	CHECK(file_equals(v, 3, plain2, 16), "plain2.txt reads back");
	CHECK(lookup_uid(v, 4, "name:with%odd*chars") == 5, "percent-encoded name found");
	{
		char buf[64];
		ssize_t n = ltfs_readlink(v, 12, buf, sizeof(buf));

		CHECK(n == 13 && !memcmp(buf, "sub/hello.txt", 13), "symlink target");
		n = ltfs_getxattr(v, 12, "ltfs.vendor.IBM.prefixLength", buf, sizeof(buf));
		CHECK(n == 1 && buf[0] == '0', "vendor xattr readable");
	}
	CHECK(put_file(v, 1, "added", "by fusetape", 11, 11) != 0, "add a file");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	CHECK(v && v->ix.generation == 3 && file_equals(v, 2, plain1, 2000000) &&
	      lookup_uid(v, 1, "added"), "generation 3 keeps the old files and the new one");
	CHECK(v && v->ix.back.part == 'b' && v->ix.back.block == 13,
	      "it points back to the reference's DP index");
	if (v)
		unmount_ok(v);
out:
	free(idx);
	free(plain1);
	tape_close(t);
}

/* An index bigger than a record is split into full records and a short one;
 * when the index would outgrow the index partition, creating files stops. */
static void test_big_index(void)
{
	const char *path = image_new("bigidx.img", 12u << 20);
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct ltfs_stat st;
	struct ltfs_index ix;
	char name[64];
	int i, rc = 0, missing = 0;
	unsigned char *rec = malloc(1 << 16);

	CHECK_EQ(format_default(t, 4096, "big"), 0, "format with 4 KiB blocks");
	v = mount_rw(t);
	if (!v)
		return;
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "a-rather-long-file-name-number-%06d", i);
		rc = ltfs_create(v, 1, name, &st);
		if (rc)
			break;
		ltfs_forget(v, st.uid, 1);
	}
	CHECK(rc == -ENOSPC && i > 300, "create stops with ENOSPC when the index would not fit "
	      "the index partition (%d files, rc %d)", i, rc);
	CHECK_EQ(unmount_ok(v), 0, "unmount writes the big index to both partitions");
	CHECK_EQ(parse_at(t, 0, 5, &ix, NULL), 0, "IP index parses");
	ltfs_index_free(&ix);
	{
		/* every record of the IP index but the last is a full block */
		ssize_t n;
		int full = 0, shortrec = 0, other = 0;

		tape_locate(t, 0, 5);
		while ((n = tape_read(t, rec, 1 << 16)) > 0) {
			if (shortrec)
				other++;
			if (n == 4096)
				full++;
			else
				shortrec++;
		}
		CHECK(full > 10 && shortrec == 1 && other == 0,
		      "index in %d full records and one short one", full);
	}
	v = mount_rw(t);
	CHECK(v != NULL, "remount with the big index");
	if (!v)
		return;
	for (int j = 0; j < i; j += 97) {
		snprintf(name, sizeof(name), "a-rather-long-file-name-number-%06d", j);
		if (!lookup_uid(v, 1, name))
			missing++;
	}
	CHECK_EQ(missing, 0, "files found after remount");
	CHECK_EQ(v->ix.tree.count, (size_t)i + 1, "all %d files in the tree", i);
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	free(rec);
	tape_close(t);
}

/* Names made of every kind of character survive an index round trip. */
static void test_name_roundtrip(void)
{
	static const char *const parts[] = {
		"a", "Z", "0", " ", ":", "%", "%25", "*", "?", "\"", "'", "<", ">", "&", "&amp;",
		"]]>", "\x01", "\x09", "\x0a", "\x0d", "\x1e", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\xc2\x85", "\xef\xbb\xbf", ".", "..", "-", "\\",
	};
	const char *path = image_new("names.img", 32u << 20);
	struct tape *t = tape_at(path, 0);
	struct ltfs_volume *v;
	struct ltfs_stat st;
	static char names[300][128];
	int i, made = 0, found = 0;

	CHECK_EQ(format_default(t, 65536, "names"), 0, "format");
	v = mount_rw(t);
	if (!v)
		return;
	for (i = 0; i < 300; i++) {
		int k, n = 1 + i % 12;

		names[i][0] = 0;
		for (k = 0; k < n; k++) {
			uint32_t r;

			fill_random(&r, sizeof(r));
			strcat(names[i], parts[r % (sizeof(parts) / sizeof(parts[0]))]);
		}
		{
			char suffix[16];

			snprintf(suffix, sizeof(suffix), "#%d", i);	/* unique */
			strcat(names[i], suffix);
		}
		if (ltfs_create(v, 1, names[i], &st) == 0) {
			made++;
			ltfs_forget(v, st.uid, 1);
		} else {
			names[i][0] = 0;
		}
	}
	CHECK_EQ(made, 300, "300 names of mixed characters created");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	if (!v)
		return;
	for (i = 0; i < 300; i++)
		if (names[i][0] && lookup_uid(v, 1, names[i]))
			found++;
	CHECK_EQ(found, made, "every one found by its exact bytes after remount");
	CHECK_EQ(v->ix.tree.root->nchild, (size_t)made, "and nothing else");
	unmount_ok(v);
	tape_close(t);
}

/* fusetape's extension for drives that cannot partition: one partition
 * holds labels, data and indexes. */
static void test_single_partition(void)
{
	const char *path = image_new("single.img", 32u << 20);
	struct tape *t = tape_at(path, 0);
	struct ltfs_format_opts fo = { .volume_name = "one", .block_size = 65536,
				       .single_partition = true, .force = true };
	struct ltfs_label_info li;
	struct ltfs_volume *v;
	struct tape_medium m;
	struct ltfs_index ix;
	char err[LTFS_ERRLEN], label[2048];
	unsigned char *data = malloc(300000);
	uint64_t uid;
	ssize_t n;
	int rc;

	rc = ltfs_format(t, &fo, err);
	CHECK_EQ(rc, 0, "single-partition format (%s)", err);
	tape_medium_info(t, &m);
	CHECK_EQ(m.partitions, 1, "one partition");
	tape_locate(t, 0, 2);
	n = tape_read(t, label, sizeof(label) - 1);
	label[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && strstr(label, "<index>a</index>") && strstr(label, "<data>a</data>"),
	      "label names partition a for index and data");
	CHECK_EQ(ltfs_probe(t, &li), 0, "probe");
	fill_random(data, 300000);
	v = mount_rw(t);
	CHECK(v != NULL, "mount");
	if (!v)
		return;
	uid = put_file(v, 1, "f", data, 300000, 65536);
	CHECK(uid != 0, "write a file");
	CHECK_EQ(ltfs_sync(v, "Sync"), 0, "sync");
	CHECK(put_file(v, 1, "g", data, 1000, 1000) != 0, "another");
	CHECK_EQ(unmount_ok(v), 0, "unmount");
	v = mount_rw(t);
	CHECK(v && file_equals(v, uid, data, 300000) && lookup_uid(v, 1, "g"),
	      "data back after remount");
	if (v) {
		uint64_t self = v->ix.self.block;

		CHECK(v->ix.self.part == 'a' && v->ix.generation == 3, "gen 3 at a:%llu",
		      (unsigned long long)self);
		unmount_ok(v);
		CHECK_EQ(parse_at(t, 0, self, &ix, NULL), 0, "last index parses");
		CHECK(ix.back.part == 'a' && ix.back.block < self, "it points back at gen 2");
		ltfs_index_free(&ix);
	}
	tape_close(t);
	free(data);
}

int main(void)
{
	tdir_make();
	test_names();
	test_times();
	test_index_roundtrip();
	test_reference_documents();
	test_index_fuzz();
	test_reference_volume();
	test_format_layout();
	test_big_index();
	test_single_partition();
	test_name_roundtrip();
	tdir_clean();
	return tap_done();
}
