/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * volume.c - an LTFS volume as a whole: format, probe, mount (finding the
 * newest index, recovering a volume whose writer died), index writes with
 * their generation and pointer rules, the MAM attributes, sync, unmount.
 *
 * Tape positions are tracked exactly: dp_next is always the block the next
 * data record or index construct goes to on the data partition, and
 * ip_fm where the next index construct of the index partition begins (the
 * leading filemark of the index it replaces).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "ltfs/ltfs_internal.h"

static void errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errf(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, LTFS_ERRLEN, fmt, ap);
	va_end(ap);
}

int ltfs_part_scsi(const struct ltfs_volume *v, char letter)
{
	if (letter == v->ip_letter)
		return (int)v->ip;
	if (letter == v->dp_letter)
		return (int)v->dp;
	return -1;
}

static char part_letter(const struct ltfs_volume *v, unsigned part)
{
	return part == v->ip ? v->ip_letter : v->dp_letter;
}

int ltfs_locate(struct ltfs_volume *v, unsigned part, uint64_t block)
{
	int rc;

	if (v->pos_known && v->pos_part == part && v->pos_block == block)
		return 0;
	rc = tape_locate(v->t, part, block);
	if (rc) {
		v->pos_known = false;
		return rc;
	}
	v->pos_known = true;
	v->pos_part = part;
	v->pos_block = block;
	return 0;
}

void ltfs_mark_dirty(struct ltfs_volume *v)
{
	v->dirty = true;
}

uint64_t ltfs_index_estimate(const struct ltfs_volume *v)
{
	const struct ltfs_tree *tr = &v->ix.tree;

	/* measured: ~580 bytes per file with one extent, ~170 per extent */
	return 4096 + tr->count * 640 + tr->extents * 200 + tr->meta_bytes * 2;
}

uint64_t ltfs_index_reserve(const struct ltfs_volume *v)
{
	/* room for the next index construct twice over, plus rounding */
	return 2 * ltfs_index_estimate(v) + 4ull * v->bs + (1u << 20);
}

int ltfs_meta_room(const struct ltfs_volume *v, uint64_t more)
{
	uint64_t est = ltfs_index_estimate(v) + more;

	/* the index must still fit the index partition (it replaces the old
	 * one there, after VOL1 and label) and the data partition's
	 * remaining space */
	if (!v->single && v->ip_capacity && est + 3ull * v->bs > v->ip_capacity)
		return -ENOSPC;
	if (est + 2ull * v->bs > v->dp_left)
		return -ENOSPC;
	return 0;
}

/* ---- reading structures from tape --------------------------------------- */

/* Read one record at the current position; 0 = filemark, -ENODATA = EOD. */
static ssize_t read_rec(struct ltfs_volume *v, void *buf, size_t cap)
{
	ssize_t n = tape_read(v->t, buf, cap);

	if (n >= 0 || n == -EOVERFLOW || n == -EIO)
		v->pos_block++;
	else
		v->pos_known = false;
	return n;
}

/*
 * Read VOL1 and the XML label of SCSI partition part.  -EMEDIUMTYPE when
 * there is no LTFS VOL1 (blank or foreign), other errors from the tape.
 */
static int read_label(struct ltfs_volume *v, unsigned part, struct ltfs_label *l,
		      char barcode[7], char *err)
{
	size_t cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	ssize_t n;
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = ltfs_locate(v, part, 0);
	if (rc) {
		errf(err, "cannot locate to partition %u: %s", part, strerror(-rc));
		goto out;
	}
	n = read_rec(v, buf, cap);
	if (n == -ENODATA) {
		errf(err, "partition %u is blank", part);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	if (n < 0 && n != -EOVERFLOW) {
		errf(err, "cannot read block 0 of partition %u: %s", part, strerror((int)-n));
		rc = (int)n;
		goto out;
	}
	if (n <= 0 || ltfs_vol1_parse(buf, (size_t)n, barcode)) {
		errf(err, "partition %u does not start with an LTFS VOL1 label", part);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	n = read_rec(v, buf, cap);
	if (n != 0) {
		errf(err, "no filemark after VOL1 on partition %u", part);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	n = read_rec(v, buf, cap - 1);
	if (n <= 0) {
		errf(err, "cannot read the LTFS label of partition %u: %s", part,
		     n == 0 ? "filemark" : strerror((int)-n));
		rc = n == 0 || n == -ENODATA || n == -EOVERFLOW ? -EMEDIUMTYPE : (int)n;
		goto out;
	}
	err[0] = 0;
	rc = ltfs_label_parse(buf, (size_t)n, l, err);
	if (rc) {
		char why[LTFS_ERRLEN];

		snprintf(why, sizeof(why), "%s", err);
		errf(err, "bad LTFS label on partition %u: %s", part, why);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	n = read_rec(v, buf, cap);
	if (n != 0) {
		errf(err, "no filemark after the LTFS label on partition %u", part);
		rc = -EUCLEAN;
	}
out:
	free(buf);
	return rc;
}

struct found_index {
	bool found;
	uint64_t block;		/* self pointer (first record) */
	uint64_t gen;
	bool ends_volume;	/* FM idx FM EOD: the partition ends in this index */
	bool missing_fm;	/* FM idx EOD: only the trailing filemark is missing */
	uint64_t tail;		/* first block after the index construct */
	uint64_t eod;
	struct ltfs_index ix;	/* parsed (header only for the IP scan) */
};

/*
 * Can the record at (part, block) be the first of an index there?  It must
 * be XML with an <ltfsindex> root, and if its header is complete in this
 * record, that header must name this very position.
 */
static bool index_start(struct ltfs_volume *v, unsigned part, uint64_t block,
			const void *rec, size_t len)
{
	struct ltfs_index ix;
	char why[LTFS_ERRLEN] = "";
	bool ok;

	if (len < 6 || (memcmp(rec, "<?xml", 5) && memcmp(rec, "<ltfs", 5)) ||
	    !memmem(rec, len, "<ltfsindex", 10))
		return false;
	if (!memmem(rec, len, "<directory>", 11))
		return true;	/* header continues in the next record */
	if (ltfs_index_parse(rec, len, true, &ix, why))
		return false;
	ok = ix.self.part == part_letter(v, part) && ix.self.block == block;
	ltfs_index_free(&ix);
	return ok;
}

/*
 * Read the records from block start up to the next filemark or EOD and
 * parse them as an index whose self pointer must be (part, start).
 * *end_fm tells whether a filemark ended it, *then_eod whether EOD follows
 * that filemark.
 */
static int read_index_at(struct ltfs_volume *v, unsigned part, uint64_t start,
			 bool header_only, struct ltfs_index *ix, bool *end_fm,
			 bool *then_eod, uint64_t *tail, char *err)
{
	size_t cap = 0, len = 0;
	unsigned char *doc = NULL;
	int rc;

	*end_fm = *then_eod = false;
	rc = ltfs_locate(v, part, start);
	if (rc)
		return rc;
	for (;;) {
		ssize_t n;

		if (cap - len < v->bs) {
			size_t ncap = cap ? cap * 2 : 2 * (size_t)v->bs;
			unsigned char *nd;

			if (ncap > (1ull << 31)) {
				rc = -EFBIG;
				goto out;
			}
			nd = realloc(doc, ncap);
			if (!nd) {
				rc = -ENOMEM;
				goto out;
			}
			doc = nd;
			cap = ncap;
		}
		n = read_rec(v, doc + len, v->bs);
		if (n == 0) {
			*end_fm = true;
			break;
		}
		if (n == -ENODATA)
			break;
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		/* a data segment is rejected by its first record, even one of
		 * XML files, without reading all of it */
		if (len == 0 && !index_start(v, part, start, doc, (size_t)n)) {
			rc = -EMEDIUMTYPE;
			goto out;
		}
		len += (size_t)n;
	}
	if (!len) {
		rc = -EMEDIUMTYPE;
		goto out;
	}
	if (tail)
		*tail = v->pos_known ? v->pos_block : start;
	if (*end_fm) {
		unsigned char probe[16];
		ssize_t n = read_rec(v, probe, sizeof(probe));

		*then_eod = n == -ENODATA;
	}
	err[0] = 0;
	rc = ltfs_index_parse(doc, len, header_only, ix, err);
	if (rc)
		goto out;
	if (ix->self.part != part_letter(v, part) || ix->self.block != start) {
		errf(err, "index at %c:%" PRIu64 " claims to be at %c:%" PRIu64,
		     part_letter(v, part), start, ix->self.part ? ix->self.part : '?',
		     ix->self.block);
		ltfs_index_free(ix);
		rc = -EUCLEAN;
		goto out;
	}
	if (strcmp(ix->uuid, v->label.uuid)) {
		errf(err, "index at %c:%" PRIu64 " belongs to volume %s, not %s",
		     part_letter(v, part), start, ix->uuid, v->label.uuid);
		ltfs_index_free(ix);
		rc = -EUCLEAN;
	}
out:
	free(doc);
	return rc;
}

static int eod_of(struct ltfs_volume *v, unsigned part, uint64_t *eod)
{
	struct tape_position pos;
	int rc = ltfs_locate(v, part, 0);

	if (!rc)
		rc = tape_space(v->t, TAPE_SPACE_EOD, 0);
	if (!rc)
		rc = tape_read_position(v->t, &pos);
	v->pos_known = false;
	if (rc)
		return rc;
	*eod = pos.block;
	return 0;
}

/* The VCI of a partition, if it is trustworthy: 0 and *block, *gen. */
static int vci_hint(struct ltfs_volume *v, unsigned part, uint64_t *gen,
		    uint64_t *block)
{
	struct tape_attr a;
	uint64_t vcr, cur = 0, i;
	char uuid[37];

	if (!tape_caps(v->t)->has_mam)
		return -EOPNOTSUPP;
	if (tape_get_attr(v->t, 0, TAPE_ATTR_VOLUME_CHANGE_REFERENCE, &a) || !a.length ||
	    a.length > 8)
		return -ENOENT;
	for (i = 0; i < a.length; i++)
		cur = cur << 8 | a.value[i];
	if (cur == 0 || (a.length == 4 && cur == 0xFFFFFFFFu))
		return -ENOENT;
	if (tape_get_attr(v->t, part, TAPE_ATTR_VOLUME_COHERENCY_INFO, &a))
		return -ENOENT;
	if (ltfs_vci_parse(a.value, a.length, &vcr, gen, block, uuid) || vcr != cur ||
	    strcmp(uuid, v->label.uuid))
		return -ESTALE;
	return 0;
}

/*
 * Find the newest complete index of a partition: first where its VCI
 * says, if the partition really ends there; else walking back from EOD
 * over the filemarks, trying each segment between two of them.
 */
static int find_index(struct ltfs_volume *v, unsigned part, bool header_only,
		      struct found_index *f, char *err)
{
	uint64_t end, gen, block;
	char why[LTFS_ERRLEN] = "";
	int rc;

	memset(f, 0, sizeof(*f));
	rc = eod_of(v, part, &f->eod);
	if (rc) {
		errf(err, "cannot find end of data of partition %u: %s", part, strerror(-rc));
		return rc;
	}
	if (vci_hint(v, part, &gen, &block) == 0 && block < f->eod) {
		bool fm, eod;

		rc = read_index_at(v, part, block, header_only, &f->ix, &fm, &eod, &f->tail,
				   why);
		if (rc == 0 && f->ix.generation == gen && fm && eod) {
			f->found = f->ends_volume = true;
			f->block = block;
			f->gen = gen;
			return 0;
		}
		if (rc == 0)
			ltfs_index_free(&f->ix);
	}
	end = f->eod;
	while (end > LTFS_FIRST_INDEX_FM) {
		struct tape_position pos;
		uint64_t fmpos;
		bool fm, eod;

		rc = ltfs_locate(v, part, end);
		if (!rc)
			rc = tape_space(v->t, TAPE_SPACE_FILEMARKS, -1);
		v->pos_known = false;
		if (rc)
			break;	/* no filemark before: nothing more to try */
		rc = tape_read_position(v->t, &pos);
		if (rc)
			return rc;
		fmpos = pos.block;
		if (fmpos < LTFS_FIRST_INDEX_FM || fmpos >= end)
			break;
		if (fmpos + 1 < end) {
			rc = read_index_at(v, part, fmpos + 1, header_only, &f->ix, &fm, &eod,
					   &f->tail, why);
			if (rc == 0) {
				f->found = true;
				f->block = fmpos + 1;
				f->gen = f->ix.generation;
				f->ends_volume = fm && eod;
				f->missing_fm = !fm;
				return 0;
			}
			if (rc == -ENOMEM)
				return rc;
		}
		end = fmpos;
	}
	if (why[0])
		errf(err, "partition %u: no complete index found (last problem: %s)", part,
		     why);
	else
		errf(err, "partition %u: no index found", part);
	return 0;
}

/* ---- writing structures -------------------------------------------------- */

static int write_rec(struct ltfs_volume *v, const void *buf, size_t len)
{
	ssize_t n = tape_write(v->t, buf, len);

	if (n < 0) {
		struct tape_position pos;

		v->pos_known = false;
		if (tape_read_position(v->t, &pos) == 0) {
			v->pos_known = true;
			v->pos_part = pos.partition;
			v->pos_block = pos.block;
		}
		return (int)n;
	}
	v->pos_block++;
	if (tape_last(v->t)->sense == TAPE_SENSE_EARLY_WARNING && v->pos_part == v->dp)
		v->dp_full = true;
	return 0;
}

static int write_fm(struct ltfs_volume *v, unsigned count)
{
	int rc = tape_write_filemarks(v->t, count);

	if (rc) {
		v->pos_known = false;
		return rc;
	}
	v->pos_block += count;
	return 0;
}

static uint64_t round4k(uint64_t n)
{
	return (n + 4095) & ~4095ull;
}

static void set_attr_bytes(struct ltfs_volume *v, unsigned part, uint16_t id,
			   uint8_t fmt, const void *val, size_t len)
{
	struct tape_attr a;

	memset(&a, 0, sizeof(a));
	a.id = id;
	a.format = fmt;
	a.length = (uint16_t)len;
	memcpy(a.value, val, len);
	tape_set_attr(v->t, part, &a);
}

/* ASCII attributes are blank-padded to their fixed size. */
static void set_attr_ascii(struct ltfs_volume *v, unsigned part, uint16_t id,
			   const char *s, size_t size)
{
	char buf[64];
	size_t n = strlen(s);

	memset(buf, ' ', size);
	memcpy(buf, s, n > size ? size : n);
	set_attr_bytes(v, part, id, TAPE_ATTR_ASCII, buf, size);
}

static void update_vci(struct ltfs_volume *v, unsigned part)
{
	struct tape_attr a;
	uint64_t vcr = 0;
	uint8_t vci[LTFS_VCI_LEN];
	unsigned i;

	if (!tape_caps(v->t)->has_mam)
		return;
	if (tape_get_attr(v->t, 0, TAPE_ATTR_VOLUME_CHANGE_REFERENCE, &a) == -ENOENT) {
		/* a medium whose MAM has no VCR (a virtual tape): start one,
		 * so that the coherency information can refer to it */
		static const uint8_t one[4] = { 0, 0, 0, 1 };

		set_attr_bytes(v, 0, TAPE_ATTR_VOLUME_CHANGE_REFERENCE, TAPE_ATTR_BINARY,
			       one, sizeof(one));
		if (tape_get_attr(v->t, 0, TAPE_ATTR_VOLUME_CHANGE_REFERENCE, &a))
			return;
	}
	if (!a.length || a.length > 8)
		return;
	for (i = 0; i < a.length; i++)
		vcr = vcr << 8 | a.value[i];
	ltfs_vci_make(vci, vcr, v->ix.generation, v->ix.self.block, v->ix.uuid);
	set_attr_bytes(v, part, TAPE_ATTR_VOLUME_COHERENCY_INFO, TAPE_ATTR_BINARY, vci,
		       sizeof(vci));
}

static void refresh_space(struct ltfs_volume *v);

int ltfs_write_index(struct ltfs_volume *v, unsigned part, const char *reason)
{
	struct ltfs_index *ix = &v->ix;
	struct ltfs_loc old_self = ix->self, old_back = ix->back;
	uint64_t old_gen = ix->generation, fm, nrec = 0;
	struct timespec old_time = ix->updatetime;
	char old_creator[sizeof(ix->creator)];
	char *xml = NULL;
	size_t len, off;
	int rc;

	/*
	 * The index names every block written so far: all of them must be on
	 * tape first.  After a deferred failure some are not, and the last
	 * index on tape must stay the valid state.
	 */
	rc = ltfs_stream_drain(v);
	if (rc)
		return rc;
	memcpy(old_creator, ix->creator, sizeof(old_creator));
	if (v->dirty || ix->generation == 0) {
		/* a new generation: the namespace changed since the last index */
		if (!v->gen_pending) {
			ix->generation++;
			v->gen_pending = true;
		}
		ix->updatetime = ltfs_now();
	}
	snprintf(ix->creator, sizeof(ix->creator), "%.120s - %.120s", v->creator, reason);
	fm = part == v->dp ? v->dp_next : v->ip_fm;
	/* the back pointer follows the chain of data partition indexes */
	if (ix->self.part && ix->self.part == v->dp_letter)
		ix->back = ix->self;
	ix->self.part = part_letter(v, part);
	ix->self.block = fm + 1;
	rc = ltfs_index_xml(ix, &xml, &len);
	if (rc)
		goto fail;
	rc = ltfs_locate(v, part, fm);
	if (!rc)
		rc = write_fm(v, 1);
	for (off = 0; !rc && off < len; off += v->bs, nrec++)
		rc = write_rec(v, xml + off, len - off < v->bs ? len - off : v->bs);
	if (!rc)
		rc = write_fm(v, 1);
	if (rc)
		goto fail;
	free(xml);
	if (part == v->dp) {
		v->dp_next = fm + 2 + nrec;
		v->dp_gen = ix->generation;
		v->dp_left -= v->dp_left < round4k(len) + 4096 ? v->dp_left : round4k(len) + 4096;
		/* the drive knows better than the running estimate */
		refresh_space(v);
	} else {
		v->ip_gen = ix->generation;
		v->rvalid = false;	/* IP blocks were overwritten */
	}
	v->dirty = false;
	v->gen_pending = false;
	update_vci(v, part);
	return 0;
fail:
	free(xml);
	ix->self = old_self;
	ix->back = old_back;
	ix->updatetime = old_time;
	if (!v->gen_pending)
		ix->generation = old_gen;
	memcpy(ix->creator, old_creator, sizeof(old_creator));
	/* what is on tape now: a partition that does not end in an index */
	if (part == v->dp) {
		struct tape_position pos;

		v->dp_gen = 0;
		if (tape_read_position(v->t, &pos) == 0 && pos.partition == v->dp &&
		    pos.block > v->dp_next)
			v->dp_next = pos.block;
		v->dirty = true;
	} else {
		v->ip_gen = 0;
	}
	v->pos_known = false;
	return rc;
}

/* ---- volume object ------------------------------------------------------- */

void ltfs_volume_free(struct ltfs_volume *v)
{
	if (!v)
		return;
	ltfs_stream_free(v);
	ltfs_index_free(&v->ix);
	free(v->rbuf);
	free(v);
}

static struct ltfs_volume *volume_new(struct tape *t, const char *creator)
{
	struct ltfs_volume *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->t = t;
	v->ra_fd = -1;
	/* the creator goes into every index as XML text */
	if (creator && !ltfs_xml_text_ok(creator, strlen(creator)))
		creator = NULL;
	snprintf(v->creator, sizeof(v->creator), "%s - Linux",
		 creator ? creator : LTFS_IMPL_NAME " " LTFS_IMPL_VERSION);
	return v;
}

static int volume_buffers(struct ltfs_volume *v)
{
	v->rbuf = malloc(v->bs);
	if (!v->rbuf)
		return -ENOMEM;
	return v->readonly ? 0 : ltfs_stream_init(v);
}

static void refresh_space(struct ltfs_volume *v)
{
	struct tape_medium m;

	if (tape_medium_info(v->t, &m) == 0 && m.partitions > v->dp) {
		v->dp_capacity = m.capacity[v->dp];
		v->dp_left = m.remaining[v->dp];
		v->ip_capacity = m.capacity[v->ip];
		/* a drive that cannot tell: early warning and EOM decide */
		if (!m.capacity[v->dp])
			v->dp_left = UINT64_MAX / 4;
	} else if (!v->dp_capacity) {
		v->dp_left = UINT64_MAX / 4;
	}
}

const char *ltfs_mount_notice(const struct ltfs_volume *v)
{
	return v->notice[0] ? v->notice : NULL;
}

bool ltfs_dirty(const struct ltfs_volume *v)
{
	return v->dirty || v->wlen;
}

bool ltfs_readonly(const struct ltfs_volume *v)
{
	return v->readonly;
}

struct tape *ltfs_tape(const struct ltfs_volume *v)
{
	return v->t;
}

int ltfs_statfs(struct ltfs_volume *v, struct ltfs_space *s)
{
	uint64_t reserve = ltfs_index_reserve(v), used = round4k(v->wlen);

	memset(s, 0, sizeof(*s));
	s->block_size = v->bs;
	s->files = v->ix.tree.count;
	if (!v->dp_capacity) {
		/*
		 * The drive does not say how big the medium is (st, or a
		 * drive without MAM): statfs has no way to say "unknown", and
		 * the internal "unlimited" estimate would show exabytes.
		 * Show what is on tape as used and a nominal cartridge's
		 * worth as free; the real end is the drive's early warning.
		 */
		uint64_t on_tape = v->dp_next * (uint64_t)v->bs + used;

		s->free_bytes = v->readonly || v->dp_full ? 0 : LTFS_UNKNOWN_CAPACITY_FREE;
		s->total_bytes = on_tape + s->free_bytes;
		s->capacity_unknown = true;
		return 0;
	}
	s->total_bytes = v->dp_capacity;
	s->free_bytes = v->readonly || v->dp_full || v->dp_left < reserve + used
				? 0 : v->dp_left - reserve - used;
	return 0;
}

/* ---- probe and format ---------------------------------------------------- */

static void fill_info(struct ltfs_volume *v, const struct ltfs_label *l,
		      const char *barcode, struct ltfs_label_info *info)
{
	struct tape_attr a;

	memset(info, 0, sizeof(*info));
	snprintf(info->uuid, sizeof(info->uuid), "%s", l->uuid);
	snprintf(info->barcode, sizeof(info->barcode), "%s", barcode);
	snprintf(info->creator, sizeof(info->creator), "%s", l->creator);
	snprintf(info->version, sizeof(info->version), "%s", l->version);
	info->block_size = l->blocksize;
	info->format_time = l->formattime;
	if (tape_caps(v->t)->has_mam &&
	    tape_get_attr(v->t, 0, TAPE_ATTR_USER_MEDIUM_TEXT_LABEL, &a) == 0) {
		size_t n = a.length < LTFS_NAME_MAX ? a.length : LTFS_NAME_MAX;

		memcpy(info->volume_name, a.value, n);
		info->volume_name[n] = 0;
		while (n && (info->volume_name[n - 1] == ' ' || info->volume_name[n - 1] == 0))
			info->volume_name[--n] = 0;
	}
}

int ltfs_probe(struct tape *t, struct ltfs_label_info *info)
{
	struct ltfs_volume v;
	struct ltfs_label l;
	char barcode[7], err[LTFS_ERRLEN];
	struct tape_medium m;
	unsigned part;
	int rc = -ENOENT;

	memset(&v, 0, sizeof(v));
	v.t = t;
	if (tape_medium_info(t, &m))
		m.partitions = 1;
	for (part = 0; part < 2 && part < m.partitions; part++) {
		rc = read_label(&v, part, &l, barcode, err);
		if (rc == 0) {
			fill_info(&v, &l, barcode, info);
			return 0;
		}
		if (rc != -EMEDIUMTYPE && rc != -EUCLEAN)
			return rc;
		rc = -ENOENT;
	}
	return rc;
}

int ltfs_format(struct tape *t, const struct ltfs_format_opts *opts,
		char err[LTFS_ERRLEN])
{
	const struct tape_caps *caps = tape_caps(t);
	struct ltfs_label_info old;
	struct tape_medium m;
	struct ltfs_volume *v;
	uint64_t sizes[2], total = 0;
	uint32_t bs = opts->block_size ? opts->block_size : LTFS_DEFAULT_BLOCKSIZE;
	const char *name = opts->volume_name ? opts->volume_name : "";
	struct ltfs_node *root;
	uuid_t u;
	unsigned i, parts[2];
	char *xml = NULL;
	size_t xlen;
	int rc;

	errf(err, "%s", "");
	rc = tape_medium_info(t, &m);
	if (rc) {
		errf(err, "cannot read the medium's layout: %s", strerror(-rc));
		return rc;
	}
	if (m.write_protected) {
		errf(err, "the medium is write-protected");
		return -EROFS;
	}
	if (name[0] && (rc = ltfs_name_check(name))) {
		errf(err, "volume name \"%s\" is not a valid LTFS name", name);
		return rc;
	}
	if (opts->barcode) {
		const char *c;

		for (c = opts->barcode; *c && *c >= 0x20 && *c < 0x7F; c++)
			;
		if (*c || c - opts->barcode > 32) {
			errf(err, "barcode \"%s\" is not up to 32 printable ASCII characters",
			     opts->barcode);
			return -EINVAL;
		}
	}
	if (bs < LTFS_MIN_BLOCKSIZE || bs > caps->max_record ||
	    bs > TAPE_RECORD_MAX_SUPPORTED) {
		errf(err, "block size %u not possible (%u .. %u)", bs, LTFS_MIN_BLOCKSIZE,
		     caps->max_record);
		return -EINVAL;
	}
	if (!opts->force) {
		rc = ltfs_probe(t, &old);
		if (rc == 0) {
			errf(err, "the medium holds LTFS volume %s%s%s%s; use force to overwrite it",
			     old.uuid, old.volume_name[0] ? " (\"" : "", old.volume_name,
			     old.volume_name[0] ? "\")" : "");
			return -EEXIST;
		}
		if (rc != -ENOENT) {
			errf(err, "cannot tell what the medium holds (%s); use force to overwrite it",
			     strerror(-rc));
			return rc;
		}
	}
	if (!opts->single_partition && (caps->max_partitions < 2 || !caps->can_format)) {
		errf(err, "the medium cannot be partitioned into index and data partition");
		return -EOPNOTSUPP;
	}
	for (i = 0; i < m.partitions && i < TAPE_MAX_PARTITIONS; i++)
		total += m.capacity[i];
	if (opts->single_partition) {
		/* fusetape extension: everything on partition 0 */
		sizes[0] = 0;
		/* capacity 0: unknown, early warning and EOM decide */
		if (m.capacity[0] && m.capacity[0] < 32ull * bs) {
			errf(err, "medium too small: %" PRIu64 " bytes in partition 0",
			     m.capacity[0]);
			return -ENOSPC;
		}
		rc = caps->can_format && m.partitions != 1 ? tape_format(t, 1, sizes) : 0;
	} else {
		sizes[0] = opts->index_partition_size ? opts->index_partition_size : total / 20;
		if (sizes[0] < 16ull * bs)
			sizes[0] = 16ull * bs;
		sizes[0] = round4k(sizes[0]);
		sizes[1] = 0;
		if (sizes[0] + 32ull * bs > total) {
			errf(err, "medium too small: %" PRIu64 " bytes for an index partition of %"
			     PRIu64 " and data", total, sizes[0]);
			return -ENOSPC;
		}
		rc = tape_format(t, 2, sizes);
	}
	if (rc) {
		errf(err, "partitioning the medium failed: %s", strerror(-rc));
		return rc;
	}

	v = volume_new(t, NULL);
	if (!v)
		return -ENOMEM;
	v->bs = bs;
	v->single = opts->single_partition;
	v->ip = 0;
	v->dp = v->single ? 0 : 1;
	v->ip_letter = 'a';
	v->dp_letter = v->single ? 'a' : 'b';
	snprintf(v->label.version, sizeof(v->label.version), "%s", LTFS_FORMAT_VERSION);
	snprintf(v->label.creator, sizeof(v->label.creator), "%.100s - format", v->creator);
	uuid_generate(u);
	uuid_unparse_lower(u, v->label.uuid);
	snprintf(v->label.barcode, sizeof(v->label.barcode), "%.6s",
		 opts->barcode ? opts->barcode : "");
	v->label.formattime = ltfs_now();
	v->label.index_part = v->ip_letter;
	v->label.data_part = v->dp_letter;
	v->label.blocksize = bs;
	v->label.compression = false;	/* fusetape writes what it is given */

	rc = ltfs_tree_init(&v->ix.tree);
	if (rc)
		goto out;
	snprintf(v->ix.version, sizeof(v->ix.version), "%s", LTFS_FORMAT_VERSION);
	snprintf(v->ix.uuid, sizeof(v->ix.uuid), "%s", v->label.uuid);
	v->ix.allowpolicyupdate = true;
	snprintf(v->ix.lockstate, sizeof(v->ix.lockstate), "unlocked");
	root = ltfs_node_new(LTFS_TYPE_DIR, LTFS_ROOT_UID);
	if (!root || !(root->name = strdup(name))) {
		ltfs_node_free(root);
		rc = -ENOMEM;
		goto out;
	}
	root->creation = root->change = root->modify = root->access = root->backup =
		v->label.formattime;
	v->ix.tree.root = root;
	rc = ltfs_tree_add_uid(&v->ix.tree, root);
	if (rc) {
		ltfs_node_free(root);
		v->ix.tree.root = NULL;
		goto out;
	}

	/* labels: data partition first, as the reference does */
	parts[0] = v->dp;
	parts[1] = v->ip;
	for (i = 0; i < (v->single ? 1u : 2u); i++) {
		char vol1[LTFS_VOL1_LEN];

		v->label.this_part = part_letter(v, parts[i]);
		rc = ltfs_label_xml(&v->label, &xml, &xlen);
		if (rc)
			goto out;
		ltfs_vol1_make(vol1, opts->barcode);
		rc = ltfs_locate(v, parts[i], 0);
		if (!rc)
			rc = write_rec(v, vol1, sizeof(vol1));
		if (!rc)
			rc = write_fm(v, 1);
		if (!rc)
			rc = xlen > bs ? -EINVAL : write_rec(v, xml, xlen);
		if (!rc)
			rc = write_fm(v, 1);
		free(xml);
		xml = NULL;
		if (rc) {
			errf(err, "writing the labels to partition %u failed: %s", parts[i],
			     strerror(-rc));
			goto out;
		}
	}
	v->dp_next = LTFS_FIRST_INDEX_FM;
	v->ip_fm = LTFS_FIRST_INDEX_FM;
	v->dirty = true;
	refresh_space(v);
	rc = ltfs_write_index(v, v->dp, "Format");
	if (!rc && !v->single)
		rc = ltfs_write_index(v, v->ip, "Format");
	if (rc) {
		errf(err, "writing the first index failed: %s", strerror(-rc));
		goto out;
	}
	if (caps->has_mam) {
		uint8_t loc = 0x81;	/* text localisation: UTF-8 */
		char text[160];

		for (i = 0; i < (v->single ? 1u : 2u); i++) {
			set_attr_ascii(v, i, TAPE_ATTR_APPLICATION_VENDOR, "FUSETAPE", 8);
			set_attr_ascii(v, i, TAPE_ATTR_APPLICATION_NAME, LTFS_IMPL_NAME, 32);
			set_attr_ascii(v, i, TAPE_ATTR_APPLICATION_VERSION, LTFS_IMPL_VERSION, 8);
			set_attr_ascii(v, i, TAPE_ATTR_APPLICATION_FORMAT_VERSION,
				       LTFS_FORMAT_VERSION, 16);
			memset(text, 0, sizeof(text));
			memcpy(text, name, strlen(name) < sizeof(text) ? strlen(name) : sizeof(text));
			set_attr_bytes(v, i, TAPE_ATTR_USER_MEDIUM_TEXT_LABEL, TAPE_ATTR_TEXT,
				       text, sizeof(text));
			set_attr_bytes(v, i, TAPE_ATTR_TEXT_LOCALIZATION_ID, TAPE_ATTR_BINARY,
				       &loc, 1);
			if (opts->barcode)
				set_attr_ascii(v, i, TAPE_ATTR_BARCODE, opts->barcode, 32);
		}
	}
	rc = tape_flush(t);
	if (rc)
		errf(err, "flushing the new volume failed: %s", strerror(-rc));
out:
	ltfs_volume_free(v);
	return rc;
}

/* ---- mount --------------------------------------------------------------- */

static int labels_match(const struct ltfs_label *a, const char *ba,
			const struct ltfs_label *b, const char *bb, char *err)
{
	const char *what = NULL;

	if (strcmp(a->uuid, b->uuid))
		what = "volume UUID";
	else if (strcmp(ba, bb))
		what = "barcode";
	else if (a->formattime.tv_sec != b->formattime.tv_sec ||
		 a->formattime.tv_nsec != b->formattime.tv_nsec)
		what = "format time";
	else if (a->blocksize != b->blocksize)
		what = "block size";
	else if (a->compression != b->compression)
		what = "compression";
	else if (a->index_part != b->index_part || a->data_part != b->data_part)
		what = "partition map";
	else if (strcmp(a->version, b->version))
		what = "version";
	else if (a->this_part == b->this_part)
		what = "partition (both labels name the same one)";
	if (!what)
		return 0;
	errf(err, "the labels of the two partitions differ in %s", what);
	return -EUCLEAN;
}

/* Every extent must lie within the data its partition holds. */
static int check_extents(struct ltfs_volume *v, const uint64_t eod[2], char *err)
{
	struct ltfs_tree *tr = &v->ix.tree;
	size_t i, j;

	for (i = 0; i < tr->uid_cap; i++) {
		struct ltfs_node *n;

		for (n = tr->uid_tab[i]; n; n = n->uid_next) {
			for (j = 0; j < n->next; j++) {
				const struct ltfs_extent *e = &n->ext[j];
				int p = ltfs_part_scsi(v, e->part);
				uint64_t last;

				if (p < 0) {
					errf(err, "fileuid %" PRIu64 " has an extent on unknown partition %c",
					     n->uid, e->part);
					return -EUCLEAN;
				}
				last = e->startblock + (e->byteoffset + e->bytecount - 1) / v->bs;
				/* (block 4 holds data in an IP with placed files) */
				if (e->startblock < LTFS_FIRST_INDEX_FM || last >= eod[p]) {
					errf(err, "fileuid %" PRIu64 " (\"%s\") has data at %c:%" PRIu64
					     "-%" PRIu64 ", outside the partition's data (EOD %" PRIu64 ")",
					     n->uid, n->name ? n->name : "", e->part, e->startblock,
					     last, eod[p]);
					return -EUCLEAN;
				}
			}
		}
	}
	return 0;
}

/* The highest data partition block any extent of the tree uses, or 0. */
static uint64_t last_dp_block(const struct ltfs_volume *v)
{
	const struct ltfs_tree *tr = &v->ix.tree;
	uint64_t last = 0;
	size_t i, j;

	for (i = 0; i < tr->uid_cap; i++) {
		const struct ltfs_node *n;

		for (n = tr->uid_tab[i]; n; n = n->uid_next) {
			for (j = 0; j < n->next; j++) {
				const struct ltfs_extent *e = &n->ext[j];
				uint64_t b = e->startblock + (e->byteoffset + e->bytecount - 1) / v->bs;

				if (e->part == v->dp_letter && b > last)
					last = b;
			}
		}
	}
	return last;
}

/* A node named name in dir with all times now; NULL on ENOMEM. */
static struct ltfs_node *add_node(struct ltfs_volume *v, struct ltfs_node *dir,
				  const char *name, enum ltfs_type type)
{
	struct ltfs_tree *tr = &v->ix.tree;
	struct ltfs_node *n = ltfs_node_new(type, tr->highest_uid + 1);
	struct timespec now = ltfs_now();

	if (!n || !(n->name = strdup(name)) || ltfs_tree_add_uid(tr, n)) {
		ltfs_node_free(n);
		return NULL;
	}
	if (ltfs_tree_link(tr, dir, n)) {
		ltfs_tree_del_uid(tr, n);
		ltfs_node_free(n);
		return NULL;
	}
	n->creation = n->change = n->modify = n->access = n->backup = now;
	dir->modify = dir->change = now;
	tr->meta_bytes += strlen(name);
	return n;
}

/* Finish one lost+found file: it gets its name when its size is known. */
static int orphan_done(struct ltfs_volume *v, struct ltfs_node **dirp,
		       struct ltfs_node *f, uint64_t first, uint64_t bytes)
{
	struct ltfs_tree *tr = &v->ix.tree;
	struct ltfs_node *n;
	char name[96];
	size_t i;

	if (!f->next) {
		ltfs_node_free(f);
		return 0;
	}
	if (!*dirp) {
		*dirp = ltfs_tree_lookup(tr, tr->root, LTFS_LOSTFOUND);
		if (*dirp && (*dirp)->type != LTFS_TYPE_DIR) {
			ltfs_node_free(f);
			return -EEXIST;
		}
		if (!*dirp)
			*dirp = add_node(v, tr->root, LTFS_LOSTFOUND, LTFS_TYPE_DIR);
		if (!*dirp) {
			ltfs_node_free(f);
			return -ENOMEM;
		}
	}
	snprintf(name, sizeof(name), "partition%c_block%" PRIu64 "_%" PRIu64 "bytes",
		 v->dp_letter, first, bytes);
	n = add_node(v, *dirp, name, LTFS_TYPE_FILE);
	if (!n) {
		ltfs_node_free(f);
		return -ENOMEM;
	}
	/* hand the extents over */
	n->ext = f->ext;
	n->next = f->next;
	n->ext_cap = f->ext_cap;
	n->length = bytes;
	f->ext = NULL;
	for (i = 0; i < n->next; i++)
		tr->extents++;
	ltfs_node_free(f);
	return 0;
}

/*
 * Is this record (at DP block b) the start of an index write that did not
 * finish?  Its header names this very block and volume; a user's XML file
 * does not.
 */
static bool torn_index(struct ltfs_volume *v, uint64_t b, const void *rec, size_t len)
{
	struct ltfs_index ix;
	char why[LTFS_ERRLEN] = "";
	bool torn;

	if (len < 5 || memcmp(rec, "<?xml", 5))
		return false;
	if (ltfs_index_parse(rec, len, true, &ix, why))
		return false;
	torn = ix.self.part == v->dp_letter && ix.self.block == b &&
	       !strcmp(ix.uuid, v->label.uuid);
	ltfs_index_free(&ix);
	return torn;
}

/*
 * Data records between the last index and EOD belong to files whose
 * metadata never reached tape.  Rather than leave them unreachable, make
 * each run of records between filemarks a file in /_ltfs_lostandfound
 * (named as ltfsck -f names them), so the bytes can still be salvaged.
 * Runs that are a torn index write are skipped.
 */
static int recover_orphans(struct ltfs_volume *v, uint64_t start, uint64_t eod,
			   unsigned *files)
{
	struct ltfs_tree scratch;
	struct ltfs_node *dir = NULL, *f = NULL;
	uint64_t b, first = 0, bytes = 0;
	bool skip = false;
	int rc;

	*files = 0;
	if (start >= eod)
		return 0;
	memset(&scratch, 0, sizeof(scratch));
	rc = ltfs_locate(v, v->dp, start);
	if (rc)
		return rc;
	for (b = start; b < eod; b++) {
		ssize_t n = read_rec(v, v->rbuf, v->bs);
		struct ltfs_extent e;

		if (n <= 0) {
			/* filemark, EOD, or a record we cannot use: the run ends */
			if (f) {
				rc = orphan_done(v, &dir, f, first, bytes);
				f = NULL;
				if (rc)
					break;
				++*files;
			}
			skip = false;
			if (n == -ENODATA)
				break;
			if (n < 0 && !v->pos_known && (rc = ltfs_locate(v, v->dp, b + 1)))
				break;
			if (n < 0)
				skip = true;	/* the rest of this run is not contiguous */
			continue;
		}
		if (skip)
			continue;
		if (!f) {
			if (torn_index(v, b, v->rbuf, (size_t)n)) {
				skip = true;
				continue;
			}
			f = ltfs_node_new(LTFS_TYPE_FILE, 0);
			if (!f) {
				rc = -ENOMEM;
				break;
			}
			first = b;
			bytes = 0;
		}
		e.fileoffset = bytes;
		e.part = v->dp_letter;
		e.startblock = b;
		e.byteoffset = 0;
		e.bytecount = (uint64_t)n;
		rc = ltfs_extent_put(&scratch, f, &e, v->bs);
		if (rc)
			break;
		bytes += (uint64_t)n;
	}
	if (f && !rc) {
		rc = orphan_done(v, &dir, f, first, bytes);
		if (!rc)
			++*files;
	} else if (f) {
		ltfs_node_free(f);
	}
	v->rvalid = false;
	v->pos_known = false;
	return rc;
}

/* The index before ix (header only): 0, -ENOENT at the end of the chain. */
static int chain_step(struct ltfs_volume *v, const struct ltfs_index *ix,
		      struct ltfs_index *prev, char *err)
{
	char why[LTFS_ERRLEN] = "";
	int part;
	bool fm, eod;
	int rc;

	if (!ix->back.part)
		return -ENOENT;
	part = ltfs_part_scsi(v, ix->back.part);
	if (part < 0) {
		errf(err, "generation %" PRIu64 " points back to unknown partition %c",
		     ix->generation, ix->back.part);
		return -EUCLEAN;
	}
	rc = read_index_at(v, (unsigned)part, ix->back.block, true, prev, &fm, &eod, NULL, why);
	if (rc) {
		errf(err, "generation %" PRIu64 " points back to %c:%" PRIu64 ", where no index "
		     "can be read%s%s", ix->generation, ix->back.part, ix->back.block,
		     why[0] ? ": " : "", why);
		return rc == -ENOENT ? -EIO : rc;
	}
	if (prev->generation >= ix->generation) {
		errf(err, "generation %" PRIu64 " points back to generation %" PRIu64,
		     ix->generation, prev->generation);
		ltfs_index_free(prev);
		return -EUCLEAN;
	}
	return 0;
}

/* Replace v's index by generation gen, found along the back pointers. */
static int rollback_to(struct ltfs_volume *v, uint64_t gen, char *err)
{
	struct ltfs_index cur, prev;
	char why[LTFS_ERRLEN] = "";
	bool fm, eod;
	int rc, part;

	if (gen > v->ix.generation) {
		errf(err, "generation %" PRIu64 " is newer than the volume's newest (%" PRIu64 ")",
		     gen, v->ix.generation);
		return -ENOENT;
	}
	/* walk with headers only; the tree is read at the target */
	memset(&cur, 0, sizeof(cur));
	cur.generation = v->ix.generation;
	cur.back = v->ix.back;
	for (;;) {
		rc = chain_step(v, &cur, &prev, err);
		ltfs_index_free(&cur);
		if (rc == -ENOENT) {
			errf(err, "generation %" PRIu64 " is not on this volume", gen);
			return -ENOENT;
		}
		if (rc)
			return rc;
		cur = prev;
		if (cur.generation <= gen)
			break;
	}
	if (cur.generation != gen) {
		errf(err, "generation %" PRIu64 " is not on this volume (the chain goes from %"
		     PRIu64 " to %" PRIu64 ")", gen, cur.generation, gen);
		ltfs_index_free(&cur);
		return -ENOENT;
	}
	part = ltfs_part_scsi(v, cur.self.part);
	rc = read_index_at(v, (unsigned)part, cur.self.block, false, &prev, &fm, &eod, NULL,
			   why);
	ltfs_index_free(&cur);
	if (rc) {
		errf(err, "generation %" PRIu64 " cannot be read: %s", gen, why);
		return rc;
	}
	ltfs_index_free(&v->ix);
	v->ix = prev;
	return 0;
}

/*
 * A volume object for the medium in t with its labels read and checked,
 * partitions mapped and buffers allocated; no index read yet.
 */
static int open_volume(struct tape *t, const char *creator, bool readonly,
		       bool plain_ring, struct ltfs_volume **out, char *err)
{
	struct ltfs_volume *v;
	struct ltfs_label l[2];
	char bc[2][7], why[LTFS_ERRLEN] = "";
	struct tape_medium m;
	unsigned p;
	int rc;

	*out = NULL;
	rc = tape_medium_info(t, &m);
	if (rc) {
		errf(err, "cannot read the medium's layout: %s", strerror(-rc));
		return rc;
	}
	v = volume_new(t, creator);
	if (!v)
		return -ENOMEM;
	v->readonly = readonly || m.write_protected;
	v->plain_ring = plain_ring;
	for (p = 0; p < 2; p++) {
		rc = p < m.partitions ? read_label(v, p, &l[p], bc[p], why) : -EMEDIUMTYPE;
		if (p == 1 && m.partitions < 2)
			snprintf(why, sizeof(why), "the medium has one partition and its label "
				 "names separate index and data partitions");
		if (rc) {
			errf(err, "%s%s", rc == -EMEDIUMTYPE ? "not an LTFS volume: " : "", why);
			goto fail;
		}
		if (p == 0 && l[0].index_part == l[0].data_part) {
			if (l[0].this_part != l[0].index_part) {
				errf(err, "the label of partition 0 names partition %c for "
				     "everything but is on %c", l[0].index_part, l[0].this_part);
				rc = -EUCLEAN;
				goto fail;
			}
			v->single = true;
			break;
		}
	}
	if (v->single) {
		/* fusetape's single-partition volume: partition 0 is both */
		v->label = l[0];
		snprintf(v->label.barcode, sizeof(v->label.barcode), "%s", bc[0]);
		v->ip = v->dp = 0;
		v->ip_letter = v->dp_letter = l[0].index_part;
		v->bs = l[0].blocksize;
		rc = volume_buffers(v);
		if (rc)
			goto fail;
		goto done;
	}
	rc = labels_match(&l[0], bc[0], &l[1], bc[1], err);
	if (rc)
		goto fail;
	if ((l[0].this_part != l[0].index_part && l[0].this_part != l[0].data_part) ||
	    (l[1].this_part != l[1].index_part && l[1].this_part != l[1].data_part)) {
		errf(err, "the labels name partitions %c and %c, not the index and data partitions",
		     l[0].this_part, l[1].this_part);
		rc = -EUCLEAN;
		goto fail;
	}
	v->label = l[0];
	snprintf(v->label.barcode, sizeof(v->label.barcode), "%s", bc[0]);
	v->ip = l[0].this_part == l[0].index_part ? 0 : 1;
	v->dp = 1 - v->ip;
	v->ip_letter = l[0].index_part;
	v->dp_letter = l[0].data_part;
	v->bs = l[0].blocksize;
	if (l[0].index_part == l[0].data_part) {
		errf(err, "the labels name partition %c as both index and data partition",
		     l[0].index_part);
		rc = -EUCLEAN;
		goto fail;
	}
	rc = volume_buffers(v);
	if (rc)
		goto fail;

done:
	*out = v;
	return 0;
fail:
	ltfs_volume_free(v);
	return rc;
}

int ltfs_mount(struct tape *t, const struct ltfs_mount_opts *opts,
	       struct ltfs_volume **out, char err[LTFS_ERRLEN])
{
	static const struct ltfs_mount_opts defaults;
	struct ltfs_volume *v;
	char why[LTFS_ERRLEN] = "", why2[LTFS_ERRLEN] = "";
	struct found_index dpi, ipi;
	uint64_t eod[2];
	int rc;

	*out = NULL;
	errf(err, "%s", "");
	if (!opts)
		opts = &defaults;
	memset(&dpi, 0, sizeof(dpi));
	memset(&ipi, 0, sizeof(ipi));
	rc = open_volume(t, opts->creator, opts->readonly, opts->plain_ring, &v, err);
	if (rc)
		return rc;
	rc = find_index(v, v->dp, false, &dpi, why);
	if (rc) {
		errf(err, "%s", why);
		goto fail;
	}
	if (!v->single) {
		rc = find_index(v, v->ip, true, &ipi, why2);
		if (rc) {
			errf(err, "%s", why2);
			goto fail;
		}
		eod[v->ip] = ipi.eod;
	} else {
		snprintf(why2, sizeof(why2), "single-partition volume");
	}
	eod[v->dp] = dpi.eod;
	if (!dpi.found && !ipi.found) {
		errf(err, "no readable index on the volume: %s; %s", why, why2);
		rc = -EUCLEAN;
		goto fail;
	}
	if (ipi.found && (!dpi.found || ipi.gen > dpi.gen)) {
		/* the index partition is newer: read its tree */
		bool fm, e;

		ltfs_index_free(&ipi.ix);
		rc = read_index_at(v, v->ip, ipi.block, false, &ipi.ix, &fm, &e, NULL, why2);
		if (rc) {
			errf(err, "the index at %c:%" PRIu64 " went bad on second reading: %s",
			     v->ip_letter, ipi.block, why2);
			goto fail;
		}
		v->ix = ipi.ix;
		memset(&ipi.ix, 0, sizeof(ipi.ix));
	} else {
		v->ix = dpi.ix;
		memset(&dpi.ix, 0, sizeof(dpi.ix));
	}
	ltfs_index_free(&dpi.ix);
	ltfs_index_free(&ipi.ix);
	if (opts->generation && opts->generation != v->ix.generation) {
		rc = rollback_to(v, opts->generation, err);
		if (rc)
			goto fail;
	}
	rc = check_extents(v, eod, err);
	if (rc)
		goto fail;

	if (opts->generation) {
		/* a view of the past: never written to */
		v->readonly = true;
		snprintf(v->notice, sizeof(v->notice), "generation %" PRIu64 " of the index "
			 "at %c:%" PRIu64 ", read-only", v->ix.generation, v->ix.self.part,
			 v->ix.self.block);
	}
	v->dp_next = dpi.eod;
	v->dp_gen = dpi.found && dpi.ends_volume ? dpi.gen : 0;
	v->ip_gen = ipi.found && ipi.ends_volume ? ipi.gen : 0;
	if (v->single)
		v->ip_gen = v->dp_gen;
	v->ip_fm = ipi.found ? ipi.block - 1
			     : (ipi.eod > LTFS_FIRST_INDEX_FM ? ipi.eod : LTFS_FIRST_INDEX_FM);
	refresh_space(v);
	if (!v->readonly && dpi.found && dpi.missing_fm && dpi.gen == v->ix.generation) {
		/* only the filemark after the last index is missing: add it */
		rc = ltfs_locate(v, v->dp, v->dp_next);
		if (!rc)
			rc = write_fm(v, 1);
		if (rc == -EROFS) {
			v->readonly = true;
		} else if (rc) {
			errf(err, "cannot add the missing filemark after the last index: %s",
			     strerror(-rc));
			goto fail;
		} else {
			v->dp_next++;
			v->dp_gen = dpi.gen;
		}
	}
	if (!v->readonly && v->dp_gen == 0) {
		/* the writer died after the last index: write one at the end */
		uint64_t from = dpi.found ? dpi.tail : v->dp_next, ref = last_dp_block(v);
		unsigned found = 0;

		if (ref >= from)
			from = ref + 1;
		if (dpi.found && !opts->no_lostfound) {
			rc = recover_orphans(v, from, v->dp_next, &found);
			if (rc)
				errf(err, "data after the last index could not be salvaged: %s",
				     strerror(-rc));
			rc = 0;
		}
		v->dirty = true;
		rc = ltfs_write_index(v, v->dp, "Recovery");
		if (rc == -EROFS || rc == -ENOSPC) {
			/* still readable: serve it read-only */
			if (rc == -ENOSPC)
				snprintf(v->notice, sizeof(v->notice),
					 "the data partition is full and does not end in an index: "
					 "mounted read-only");
			v->readonly = true;
			v->dirty = false;
			rc = 0;
		} else if (rc) {
			errf(err, "cannot write the recovery index to the data partition: %s",
			     strerror(-rc));
			goto fail;
		} else {
			int len = snprintf(v->notice, sizeof(v->notice),
					   "recovered: the data partition did not end in an index; "
					   "wrote generation %" PRIu64 " at %c:%" PRIu64,
					   v->ix.generation, v->dp_letter, v->ix.self.block);

			if (found && len > 0 && (size_t)len < sizeof(v->notice))
				snprintf(v->notice + len, sizeof(v->notice) - (size_t)len,
					 "; unindexed data of %u write run(s) is in /%s", found,
					 LTFS_LOSTFOUND);
		}
	}
	v->pos_known = false;
	if (!v->readonly)
		ltfs_stream_attach(v);
	*out = v;
	return 0;
fail:
	ltfs_index_free(&dpi.ix);
	ltfs_index_free(&ipi.ix);
	ltfs_volume_free(v);
	return rc;
}

int ltfs_list_generations(struct tape *t, ltfs_generation_fn fn, void *ctx,
			  char err[LTFS_ERRLEN])
{
	struct ltfs_volume *v;
	struct found_index dpi, ipi;
	struct ltfs_index cur, prev;
	char why[LTFS_ERRLEN] = "";
	uint64_t last = 0;
	int rc, count = 0;

	errf(err, "%s", "");
	memset(&ipi, 0, sizeof(ipi));
	rc = open_volume(t, NULL, true, false, &v, err);
	if (rc)
		return rc;
	rc = find_index(v, v->dp, true, &dpi, why);
	if (!rc && !v->single)
		rc = find_index(v, v->ip, true, &ipi, why);
	if (rc || (!dpi.found && !ipi.found)) {
		errf(err, "no readable index on the volume: %s", why);
		ltfs_index_free(&dpi.ix);
		ltfs_index_free(&ipi.ix);
		ltfs_volume_free(v);
		return rc ? rc : -EUCLEAN;
	}
	if (ipi.found && (!dpi.found || ipi.gen > dpi.gen)) {
		cur = ipi.ix;
		ltfs_index_free(&dpi.ix);
	} else {
		cur = dpi.ix;
		ltfs_index_free(&ipi.ix);
	}
	for (;;) {
		if (!count || cur.generation != last) {
			struct ltfs_generation g;

			memset(&g, 0, sizeof(g));
			g.generation = cur.generation;
			g.partition = cur.self.part;
			g.block = cur.self.block;
			g.update_time = cur.updatetime;
			snprintf(g.creator, sizeof(g.creator), "%s", cur.creator);
			count++;
			last = cur.generation;
			if (fn(ctx, &g))
				break;
		}
		rc = chain_step(v, &cur, &prev, err);
		if (rc)
			break;
		ltfs_index_free(&cur);
		cur = prev;
	}
	ltfs_index_free(&cur);
	ltfs_volume_free(v);
	return count;
}

int ltfs_sync(struct ltfs_volume *v, const char *reason)
{
	int rc;

	if (v->readonly)
		return 0;
	rc = ltfs_flush_wbuf(v);
	if (rc)
		return rc;
	/* an index is due if something changed or the DP does not end in one
	 * (a DP ending in an older index than an IP-only generation is fine) */
	if (v->dirty || v->dp_gen == 0)
		return ltfs_write_index(v, v->dp, reason ? reason : "Sync");
	return tape_flush(v->t);
}

/* The unmount's index writes; err says what did not reach the tape. */
static int unmount_indexes(struct ltfs_volume *v, char *err)
{
	int rc = 0, dprc = 0;

	if (v->dirty || v->dp_gen == 0)
		dprc = ltfs_write_index(v, v->dp, "Unmount");
	if (v->single) {
		if (dprc)
			errf(err, "writing the index failed: %s; changes since the last sync "
			     "are lost", strerror(-dprc));
		return dprc;
	}
	/* the index partition gets the index in any case: if the data
	 * partition could not take it, the IP copy is the newest generation
	 * (as LTFS allows) */
	if (dprc || v->ip_gen != v->ix.generation)
		rc = ltfs_write_index(v, v->ip, "Unmount");
	if (dprc && rc) {
		errf(err, "writing the index failed on both partitions (%s, %s); changes "
		     "since the last sync are lost", strerror(-dprc), strerror(-rc));
		return rc;
	}
	if (dprc) {
		errf(err, "the data partition could not take the index (%s); it is on the "
		     "index partition only", strerror(-dprc));
		return dprc == -ENOSPC ? 0 : dprc;
	}
	if (rc)
		errf(err, "writing the index to the index partition failed: %s (the data "
		     "partition holds the complete index)", strerror(-rc));
	return rc;
}

int ltfs_unmount(struct ltfs_volume *v, char err[LTFS_ERRLEN])
{
	int rc = 0, frc;

	errf(err, "%s", "");
	if (!v)
		return 0;
	if (!v->readonly) {
		rc = ltfs_flush_wbuf(v);
		if (!rc)
			rc = ltfs_stream_drain(v);
		if (rc && v->qerr)
			/* an index now would name data that is not on tape */
			ltfs_write_failure(v, err);
		else if (rc)
			errf(err, "writing the last data record failed: %s; changes since the "
			     "last sync are lost", strerror(-rc));
		else
			rc = unmount_indexes(v, err);
		frc = tape_flush(v->t);
		if (frc && !rc) {
			rc = frc;
			errf(err, "flushing the tape failed: %s", strerror(-rc));
		}
	}
	ltfs_volume_free(v);
	return rc;
}
