/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsck.fusetape - check an LTFS volume and, with -r, repair what a crashed
 * writer leaves behind.
 *
 * The check reads the volume itself (volscan.c) rather than trusting the
 * core's mount: labels on both partitions, the last index of each
 * partition, the chain of back pointers through the data partition, the
 * extents of every generation, and the MAM volume coherency information.
 * The repair is the core's: a read-write ltfs_mount() writes a recovery
 * index when a partition does not end in one, and the unmount writes the
 * current index to both partitions and the MAM.  The volume is then
 * checked again from scratch, so "corrected" is only ever reported for a
 * volume that has passed the check.
 *
 * Exit status follows fsck(8): 0 no errors, 1 errors corrected, 4 errors
 * left uncorrected, 8 operational error, 16 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlreader.h>

#include "ltfs/ltfs.h"
#include "tape/tape.h"
#include "tool.h"
#include "volscan.h"

#define PROG "fsck.fusetape"

enum {
	FSCK_OK = 0,
	FSCK_CORRECTED = 1,
	FSCK_UNCORRECTED = 4,
	FSCK_OPERATIONAL = 8,
	FSCK_USAGE = 16,
};

/* Beyond this many, problems of one index are counted but not printed. */
#define MAX_PRINTED_PER_INDEX 20

struct options {
	const char *device;
	bool repair, no_action, list, verbose, quiet, check_data;
};

struct check {
	const struct options *o;
	struct tape *t;
	const struct tape_caps *caps;
	unsigned nparts;		/* partitions the volume uses: 1 or 2 */
	struct vs_label label[2];	/* by SCSI partition */
	uint32_t bs;
	char letter[2];			/* LTFS letter of SCSI partition 0, 1 */
	int ip, dp;			/* SCSI partition of the index / data partition */
	uint64_t eod[2];
	struct vs_index last[2];	/* newest complete index of each partition */
	bool have_last[2];
	unsigned problems;		/* everything found */
	unsigned repairable;		/* of those, what a recovery mount fixes */
	bool fatal;			/* could not check at all (operational) */
	bool silent;			/* count problems, print none */
	unsigned index_problems;	/* in the index being checked */
	/* Objects of each partition that index constructs occupy (leading
	 * filemark to trailing filemark), sorted: no extent may point there. */
	struct range { uint64_t from, to; } *ranges[2];
	size_t nranges[2];
	uint64_t files, dirs, extents;
};

static void out(const struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out(const struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->o->quiet || c->silent)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void verbose(const struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void verbose(const struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->o->verbose || c->o->quiet || c->silent)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* A problem with the volume; `repairable`: a recovery mount fixes it. */
static void problem(struct check *c, bool repairable, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct check *c, bool repairable, const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	if (repairable)
		c->repairable++;
	if (c->silent)
		return;
	va_start(ap, fmt);
	printf("PROBLEM: ");
	vprintf(fmt, ap);
	printf("%s\n", repairable ? " [repairable with -r]" : "");
	va_end(ap);
}

/* A problem inside an index's tree: printed up to a limit. */
static void index_problem(struct check *c, const struct vs_index *ix,
			  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void index_problem(struct check *c, const struct vs_index *ix,
			  const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	if (++c->index_problems > MAX_PRINTED_PER_INDEX || c->silent)
		return;
	va_start(ap, fmt);
	printf("PROBLEM: generation %" PRIu64 " (%c:%" PRIu64 "): ", ix->generation,
	       ix->self.part, ix->self.block);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static void operational(struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void operational(struct check *c, const char *fmt, ...)
{
	va_list ap;

	c->fatal = true;
	va_start(ap, fmt);
	tool_verror(PROG, fmt, ap);
	va_end(ap);
}

/* ---- labels ------------------------------------------------------------ */

static int scsi_of(const struct check *c, char letter)
{
	for (unsigned p = 0; p < c->nparts; p++)
		if (c->letter[p] == letter)
			return (int)p;
	return -1;
}

static void check_vol1(struct check *c, unsigned p)
{
	const char *v = c->label[p].vol1;

	if (v[10] != 'L')
		problem(c, false, "partition %u: VOL1 accessibility is '%c', LTFS writes 'L'",
			p, v[10]);
	if (v[79] != '4')
		problem(c, false, "partition %u: VOL1 label standard version is '%c', not '4'",
			p, v[79]);
	for (unsigned i = 4; i < 10; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
		      v[i] == ' ')) {
			problem(c, false, "partition %u: VOL1 volume serial \"%.6s\" has a "
				"character outside A-Z, 0-9", p, v + 4);
			break;
		}
}

/* Read and cross-check the labels; false if the volume cannot be checked. */
static bool check_labels(struct check *c)
{
	char err[VS_ERRLEN];
	struct vs_label *a = &c->label[0], *b = &c->label[1];
	int rc;

	rc = vs_read_label(c->t, 0, a, err);
	if (rc) {
		operational(c, "%s is not an LTFS volume: %s", c->o->device, err);
		return false;
	}
	c->bs = a->blocksize;
	c->letter[0] = a->location;
	check_vol1(c, 0);
	if (a->index_part == a->data_part) {
		c->nparts = 1;
		out(c, "Single-partition volume (fusetape extension)\n");
	}
	if (c->nparts == 2) {
		rc = vs_read_label(c->t, 1, b, err);
		if (rc) {
			problem(c, false, "%s", err);
			return false;
		}
		c->letter[1] = b->location;
		check_vol1(c, 1);
		if (strcmp(a->uuid, b->uuid))
			problem(c, false, "the labels name different volumes: UUID %s on "
				"partition 0, %s on partition 1", a->uuid, b->uuid);
		if (strcmp(a->formattime, b->formattime))
			problem(c, false, "the labels differ in format time (%s, %s)",
				a->formattime, b->formattime);
		if (a->blocksize != b->blocksize)
			problem(c, false, "the labels differ in block size (%" PRIu32 ", %"
				PRIu32 ")", a->blocksize, b->blocksize);
		if (a->compression != b->compression)
			problem(c, false, "the labels differ in compression");
		if (strcmp(a->version, b->version))
			problem(c, false, "the labels differ in version (%s, %s)",
				a->version, b->version);
		if (a->index_part != b->index_part || a->data_part != b->data_part)
			problem(c, false, "the labels differ in the partition map");
		if (memcmp(a->vol1 + 4, b->vol1 + 4, 6))
			problem(c, false, "the VOL1 labels differ in volume serial "
				"(\"%.6s\", \"%.6s\")", a->vol1 + 4, b->vol1 + 4);
		if (a->location == b->location)
			problem(c, false, "both labels claim to be partition '%c'",
				a->location);
	}
	if (strncmp(a->version, "2.", 2) != 0)
		problem(c, false, "label version %s is not 2.x", a->version);
	if (c->bs < LTFS_MIN_BLOCKSIZE || c->bs > c->caps->max_record) {
		problem(c, false, "block size %" PRIu32 " is outside 4096..%" PRIu32
			" (this drive)", c->bs, c->caps->max_record);
		return false;
	}
	c->ip = scsi_of(c, a->index_part);
	c->dp = scsi_of(c, a->data_part);
	if (c->ip < 0 || c->dp < 0) {
		problem(c, false, "the partition map (index %c, data %c) names a partition "
			"that no label claims", a->index_part, a->data_part);
		return false;
	}
	verbose(c, "Labels: UUID %s, block size %" PRIu32 ", index partition %c = SCSI %d, "
		"data partition %c = SCSI %d, formatted %s by %s\n", a->uuid, c->bs,
		a->index_part, c->ip, a->data_part, c->dp, a->formattime, a->creator);
	return true;
}

static const struct vs_index *newest(const struct check *c);

/* Is ix (wherever it was read into) the volume's current index? */
static bool is_newest(const struct check *c, const struct vs_index *ix)
{
	const struct vs_index *now = newest(c);

	return ix->scsi_part == now->scsi_part && ix->first_block == now->first_block;
}

/* ---- index trees ------------------------------------------------------- */

struct uid_set {
	uint64_t *v;
	size_t n, cap;
};

static bool uid_add(struct uid_set *s, uint64_t uid)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *n = realloc(s->v, ncap * sizeof(*n));

		if (!n)
			return false;
		s->v = n;
		s->cap = ncap;
	}
	s->v[s->n++] = uid;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* An extent whose records -c reads: SCSI partition, blocks, bytes needed in the last. */
struct data_extent {
	uint32_t part;
	uint64_t start, last, last_need;
	char *path;
};

struct tree_walk {
	struct check *c;
	const struct vs_index *ix;
	struct uid_set uids;
	uint64_t files, dirs, extents;
	bool oom;
	bool collect;			/* gather extents for the data check */
	struct data_extent *data;
	size_t ndata, capdata;
};

static void collect_extent(struct tree_walk *w, uint32_t part, uint64_t start,
			   uint64_t last, uint64_t last_need, const char *path)
{
	if (w->ndata == w->capdata) {
		size_t ncap = w->capdata ? w->capdata * 2 : 256;
		struct data_extent *n = realloc(w->data, ncap * sizeof(*n));

		if (!n) {
			w->oom = true;
			return;
		}
		w->data = n;
		w->capdata = ncap;
	}
	w->data[w->ndata].path = strdup(path);
	if (!w->data[w->ndata].path) {
		w->oom = true;
		return;
	}
	w->data[w->ndata].part = part;
	w->data[w->ndata].start = start;
	w->data[w->ndata].last = last;
	w->data[w->ndata].last_need = last_need;
	w->ndata++;
}

static bool add_range(struct check *c, unsigned p, uint64_t from, uint64_t to)
{
	struct range *n = realloc(c->ranges[p], (c->nranges[p] + 1) * sizeof(*n));

	if (!n)
		return false;
	n[c->nranges[p]++] = (struct range){ from, to };
	c->ranges[p] = n;
	return true;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

/* The index construct an extent [start, last] of SCSI partition p runs into, if any. */
static const struct range *range_hit(const struct check *c, unsigned p,
				     uint64_t start, uint64_t last)
{
	size_t lo = 0, hi = c->nranges[p];

	/* first range whose end is at or after start (ranges do not overlap) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->ranges[p][mid].to < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->nranges[p] && c->ranges[p][lo].from <= last)
		return &c->ranges[p][lo];
	return NULL;
}

/* Last block an extent may use in partition letter p for this index. */
static bool extent_limit(const struct tree_walk *w, char p, uint64_t *limit)
{
	const struct check *c = w->c;
	int scsi = scsi_of(c, p);

	if (scsi < 0)
		return false;
	if (p == w->ix->self.part)
		/* before the leading filemark of the index itself */
		*limit = w->ix->first_block >= 2 ? w->ix->first_block - 2 : 0;
	else
		*limit = c->eod[scsi] ? c->eod[scsi] - 1 : 0;
	return true;
}

static void check_extents(struct tree_walk *w, xmlNodePtr file, const char *path,
			  uint64_t length)
{
	struct check *c = w->c;
	xmlNodePtr info = vs_child(file, "extentinfo");
	uint64_t covered_to = 0;
	bool first = true;

	if (!info)
		return;
	for (xmlNodePtr e = info->children; e; e = e->next) {
		uint64_t foff, start, boff, count, nrec, last, limit;
		char part[8];

		if (e->type != XML_ELEMENT_NODE || strcmp((const char *)e->name, "extent"))
			continue;
		w->extents++;
		if (!vs_child_u64(e, "fileoffset", &foff) ||
		    !vs_child_text(e, "partition", part, sizeof(part)) ||
		    !vs_child_u64(e, "startblock", &start) ||
		    !vs_child_u64(e, "byteoffset", &boff) ||
		    !vs_child_u64(e, "bytecount", &count)) {
			index_problem(c, w->ix, "%s: an extent lacks one of fileoffset, partition, "
				      "startblock, byteoffset, bytecount", path);
			continue;
		}
		if (part[1] || !extent_limit(w, part[0], &limit)) {
			index_problem(c, w->ix, "%s: extent at file offset %" PRIu64 " names "
				      "partition '%s', which this volume does not have", path,
				      foff, part);
			continue;
		}
		if (boff >= c->bs)
			index_problem(c, w->ix, "%s: extent byte offset %" PRIu64 " is not inside "
				      "a %" PRIu32 "-byte block", path, boff, c->bs);
		if (count == 0)
			index_problem(c, w->ix, "%s: extent at file offset %" PRIu64
				      " has no bytes", path, foff);
		nrec = (boff + count + c->bs - 1) / c->bs;
		last = start + (nrec ? nrec - 1 : 0);
		if (start < 4 || last > limit || last < start) {
			index_problem(c, w->ix, "%s: extent %c:%" PRIu64 "-%" PRIu64 " (file offset %"
				      PRIu64 ", %" PRIu64 " bytes) lies outside the data written "
				      "before this index (blocks 4-%" PRIu64 ")", path, part[0],
				      start, last, foff, count, limit);
		} else {
			const struct range *r = range_hit(c, (unsigned)scsi_of(c, part[0]),
							  start, last);

			if (r)
				index_problem(c, w->ix, "%s: extent %c:%" PRIu64 "-%" PRIu64 " (file "
					      "offset %" PRIu64 ") runs into the index construct at "
					      "blocks %" PRIu64 "-%" PRIu64 ", not data", path, part[0],
					      start, last, foff, r->from, r->to);
			else if (w->collect && count)
				collect_extent(w, (uint32_t)scsi_of(c, part[0]), start, last,
					       boff + count - (nrec - 1) * c->bs, path);
		}
		if (!first && foff < covered_to)
			index_problem(c, w->ix, "%s: extents overlap or are out of order at file "
				      "offset %" PRIu64, path, foff);
		if (foff + count > length || foff + count < foff)
			index_problem(c, w->ix, "%s: extent at file offset %" PRIu64 " (%" PRIu64
				      " bytes) reaches past the file length %" PRIu64, path,
				      foff, count, length);
		covered_to = foff + count;
		first = false;
	}
}

/* One <file>, expanded from the stream (a small tree of its own). */
static void walk_file(struct tree_walk *w, xmlNodePtr n, const char *dir)
{
	struct check *c = w->c;
	char name[LTFS_NAME_MAX * 3 + 1], *path;
	uint64_t uid, length;

	w->files++;
	if (!n) {
		w->oom = true;
		return;
	}
	if (!vs_child_text(n, "name", name, sizeof(name)) || !name[0]) {
		index_problem(c, w->ix, "%s: an entry without a name", dir);
		snprintf(name, sizeof(name), "(unnamed)");
	}
	if (asprintf(&path, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name) < 0) {
		w->oom = true;
		return;
	}
	if (!vs_child_u64(n, "fileuid", &uid))
		index_problem(c, w->ix, "%s: file without a fileuid", path);
	else if (!uid_add(&w->uids, uid))
		w->oom = true;
	if (!vs_child_u64(n, "length", &length))
		index_problem(c, w->ix, "%s: file without a valid length", path);
	else if (vs_child(n, "symlink") && vs_child(n, "extentinfo"))
		index_problem(c, w->ix, "%s: a symlink with extents", path);
	else
		check_extents(w, n, path, length);
	free(path);
}

/* Text of the element the reader is on; "" if empty.  Caller frees. */
static char *reader_text(xmlTextReaderPtr r)
{
	xmlChar *v = xmlTextReaderReadString(r);
	char *s = strdup(v ? (const char *)v : "");

	xmlFree(v);
	return s;
}

/*
 * The reader is on the start of a <directory> (parent: the path of the
 * directory holding it, NULL for the root).  Walk it, streaming: each file
 * is expanded on its own, subdirectories recurse.  Returns the reader's
 * state after the directory: 1 more to read, 0 end, -1 XML error.
 */
static int walk_dir(struct tree_walk *w, xmlTextReaderPtr r, const char *parent,
		    unsigned depth)
{
	struct check *c = w->c;
	int d = xmlTextReaderDepth(r), ret;
	char *path = NULL, *name = NULL;
	bool have_uid = false, have_contents = false, empty;
	uint64_t uid = 0;

	w->dirs++;
	if (depth > 4096) {
		index_problem(c, w->ix, "%s: directories nested deeper than 4096", parent);
		return xmlTextReaderNext(r);
	}
	empty = xmlTextReaderIsEmptyElement(r) == 1;
	ret = xmlTextReaderRead(r);
	while (!empty && ret == 1 && !w->oom) {
		int type = xmlTextReaderNodeType(r), nd = xmlTextReaderDepth(r);
		const char *el = (const char *)xmlTextReaderConstName(r);

		if (type == XML_READER_TYPE_END_ELEMENT && nd == d) {
			ret = xmlTextReaderRead(r);
			break;
		}
		if (type != XML_READER_TYPE_ELEMENT || nd != d + 1) {
			ret = xmlTextReaderRead(r);
			continue;
		}
		if (strcmp(el, "name") == 0 && !name) {
			name = reader_text(r);
			if (!name)
				w->oom = true;
			ret = xmlTextReaderNext(r);
		} else if (strcmp(el, "fileuid") == 0) {
			char *v = reader_text(r);
			char *end;

			errno = 0;
			have_uid = v && v[0] >= '0' && v[0] <= '9' &&
				   (uid = strtoull(v, &end, 10), errno == 0 && *end == '\0');
			free(v);
			ret = xmlTextReaderNext(r);
		} else if (strcmp(el, "contents") == 0) {
			bool none = xmlTextReaderIsEmptyElement(r) == 1;

			have_contents = true;
			if (!path && asprintf(&path, "%s%s%s", parent ? parent : "/",
					      parent && strcmp(parent, "/") ? "/" : "",
					      parent ? (name && name[0] ? name : "(unnamed)") : "") < 0) {
				path = NULL;
				w->oom = true;
				break;
			}
			ret = xmlTextReaderRead(r);
			while (!none && ret == 1 && !w->oom) {
				int t2 = xmlTextReaderNodeType(r), n2 = xmlTextReaderDepth(r);
				const char *e2 = (const char *)xmlTextReaderConstName(r);

				if (t2 == XML_READER_TYPE_END_ELEMENT && n2 == d + 1) {
					ret = xmlTextReaderRead(r);
					break;
				}
				if (t2 != XML_READER_TYPE_ELEMENT || n2 != d + 2) {
					ret = xmlTextReaderRead(r);
				} else if (strcmp(e2, "directory") == 0) {
					ret = walk_dir(w, r, path, depth + 1);
				} else if (strcmp(e2, "file") == 0) {
					walk_file(w, xmlTextReaderExpand(r), path);
					ret = xmlTextReaderNext(r);
				} else {
					ret = xmlTextReaderNext(r);	/* preserved unknown tags */
				}
			}
		} else {
			ret = xmlTextReaderNext(r);
		}
	}
	if (!path && !w->oom &&
	    asprintf(&path, "%s%s%s", parent ? parent : "/",
		     parent && strcmp(parent, "/") ? "/" : "",
		     parent ? (name && name[0] ? name : "(unnamed)") : "") < 0) {
		path = NULL;
		w->oom = true;
	}
	if (path) {
		if (parent && (!name || !name[0]))
			index_problem(c, w->ix, "%s: an entry without a name", parent);
		if (!have_uid)
			index_problem(c, w->ix, "%s: directory without a fileuid", path);
		else if (!uid_add(&w->uids, uid))
			w->oom = true;
		if (depth == 0 && have_uid && uid != LTFS_ROOT_UID)
			index_problem(c, w->ix, "the root directory has fileuid %" PRIu64 ", not 1",
				      uid);
		if (!have_contents)
			index_problem(c, w->ix, "%s: directory without <contents>", path);
	}
	free(path);
	free(name);
	return ret;
}

static int cmp_data_extent(const void *a, const void *b)
{
	const struct data_extent *x = a, *y = b;

	if (x->part != y->part)
		return x->part < y->part ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * -c: read every record the newest tree's extents use, in tape order, each
 * once.  Every record of an extent but the last must be a full block (the
 * extent arithmetic assumes it), the last must hold the bytes the extent
 * needs, and all of them must read without a medium error.
 */
static void verify_data(struct check *c, const struct vs_index *ix,
			struct data_extent *d, size_t n)
{
	char *buf = malloc(c->bs);
	uint32_t cached_part = UINT32_MAX;
	uint64_t cached_block = 0, records = 0, bytes = 0, next = UINT64_MAX;
	ssize_t cached_len = 0;
	unsigned bad = 0;
	/* a whole tape takes hours: show progress on a terminal */
	bool progress = !c->o->quiet && !c->silent && isatty(STDERR_FILENO);
	uint64_t total = 0, shown = 0;

	if (!buf) {
		operational(c, "out of memory");
		return;
	}
	if (n)
		qsort(d, n, sizeof(*d), cmp_data_extent);
	for (size_t i = 0; progress && i < n; i++)
		total += (d[i].last - d[i].start + 1) * c->bs;
	for (size_t i = 0; i < n && !c->fatal; i++) {
		for (uint64_t b = d[i].start; b <= d[i].last; b++) {
			ssize_t len;

			if (cached_part == d[i].part && cached_block == b) {
				len = cached_len;
			} else {
				if (cached_part != d[i].part || next != b) {
					int rc = tape_locate(c->t, d[i].part, b);

					if (rc && rc != -ENODATA) {
						operational(c, "locating %c:%" PRIu64 " failed: %s",
							    c->letter[d[i].part], b, strerror(-rc));
						break;
					}
				}
				len = tape_read(c->t, buf, c->bs);
				next = len == -ENODATA ? UINT64_MAX : b + 1;
				cached_part = d[i].part;
				cached_block = b;
				cached_len = len;
				if (len > 0) {
					records++;
					bytes += (uint64_t)len;
				}
				if (progress && bytes - shown >= (256u << 20)) {
					shown = bytes;
					fprintf(stderr, "\rReading file data: %" PRIu64 " of at most %"
						PRIu64 " MiB", bytes >> 20, total >> 20);
				}
			}
			if (len == -EIO)
				index_problem(c, ix, "%s: record %c:%" PRIu64 " does not read (%s)",
					      d[i].path, c->letter[d[i].part], b,
					      tape_sense_name(TAPE_SENSE_MEDIUM_ERROR));
			else if (len == 0)
				index_problem(c, ix, "%s: block %c:%" PRIu64 " is a filemark, not data",
					      d[i].path, c->letter[d[i].part], b);
			else if (len == -ENODATA)
				index_problem(c, ix, "%s: block %c:%" PRIu64 " is past the end of data",
					      d[i].path, c->letter[d[i].part], b);
			else if (len == -EOVERFLOW)
				index_problem(c, ix, "%s: record %c:%" PRIu64 " is longer than the "
					      "block size", d[i].path, c->letter[d[i].part], b);
			else if (len < 0)
				index_problem(c, ix, "%s: reading %c:%" PRIu64 " failed: %s", d[i].path,
					      c->letter[d[i].part], b, strerror((int)-len));
			else if (b < d[i].last && (uint64_t)len != c->bs)
				index_problem(c, ix, "%s: record %c:%" PRIu64 " inside an extent has %zd "
					      "bytes, not a full block", d[i].path,
					      c->letter[d[i].part], b, len);
			else if (b == d[i].last && (uint64_t)len < d[i].last_need)
				index_problem(c, ix, "%s: record %c:%" PRIu64 " has %zd bytes, the "
					      "extent needs %" PRIu64, d[i].path, c->letter[d[i].part],
					      b, len, d[i].last_need);
			else
				continue;
			bad++;
		}
	}
	if (shown)
		fprintf(stderr, "\r%60s\r", "");
	verbose(c, "Read %" PRIu64 " records (%" PRIu64 " bytes) of file data, %u bad\n",
		records, bytes, bad);
	free(buf);
}

/* Check one index's tree; prints what it finds. */
static void check_tree(struct check *c, const struct vs_index *ix)
{
	struct tree_walk w = { .c = c, .ix = ix };

	c->index_problems = 0;
	w.collect = c->o->check_data && is_newest(c, ix);
	if (strcmp(ix->uuid, c->label[0].uuid))
		index_problem(c, ix, "volume UUID %s is not the labels' %s", ix->uuid,
			      c->label[0].uuid);
	if (strncmp(ix->version, "2.", 2) != 0 && strncmp(ix->version, "1.", 2) != 0)
		index_problem(c, ix, "index version \"%s\" is not 1.x or 2.x", ix->version);
	{
		xmlTextReaderPtr r = vs_index_reader(ix);
		int ret = r ? xmlTextReaderRead(r) : -1;

		/* to the root <directory> */
		while (ret == 1 && !(xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT &&
				     xmlTextReaderDepth(r) == 1 &&
				     strcmp((const char *)xmlTextReaderConstName(r), "directory") == 0))
			ret = xmlTextReaderDepth(r) == 1 ? xmlTextReaderNext(r) : xmlTextReaderRead(r);
		if (!r)
			w.oom = true;
		else if (ret == 1)
			ret = walk_dir(&w, r, NULL, 0);
		if (r && ret < 0)
			index_problem(c, ix, "the index XML stopped parsing while its tree was read");
		xmlFreeTextReader(r);
	}
	if (!w.oom && w.collect)
		verify_data(c, ix, w.data, w.ndata);
	for (size_t i = 0; i < w.ndata; i++)
		free(w.data[i].path);
	free(w.data);
	if (w.oom) {
		operational(c, "out of memory while checking generation %" PRIu64,
			    ix->generation);
		free(w.uids.v);
		return;
	}
	if (w.uids.n)
		qsort(w.uids.v, w.uids.n, sizeof(*w.uids.v), cmp_u64);
	for (size_t i = 1; i < w.uids.n; i++)
		if (w.uids.v[i] == w.uids.v[i - 1])
			index_problem(c, ix, "fileuid %" PRIu64 " is used more than once",
				      w.uids.v[i]);
	if (!ix->has_highest_uid)
		index_problem(c, ix, "no <highestfileuid>");
	else if (w.uids.n && w.uids.v[w.uids.n - 1] > ix->highest_uid)
		index_problem(c, ix, "fileuid %" PRIu64 " is above highestfileuid %" PRIu64,
			      w.uids.v[w.uids.n - 1], ix->highest_uid);
	if (c->index_problems > MAX_PRINTED_PER_INDEX && !c->silent)
		printf("PROBLEM: generation %" PRIu64 ": %u more problems not shown\n",
		       ix->generation, c->index_problems - MAX_PRINTED_PER_INDEX);
	if (is_newest(c, ix)) {
		c->files = w.files;
		c->dirs = w.dirs;
		c->extents = w.extents;
	}
	free(w.uids.v);
}

/* Does the index sit where its self pointer says? */
static void check_self(struct check *c, const struct vs_index *ix)
{
	if (ix->self.part != c->letter[ix->scsi_part] || ix->self.block != ix->first_block)
		problem(c, false, "the index at SCSI partition %u block %" PRIu64 " says it is "
			"at %c:%" PRIu64, ix->scsi_part, ix->first_block, ix->self.part,
			ix->self.block);
}

static void list_index(const struct check *c, const struct vs_index *ix)
{
	if (!c->o->list || c->o->quiet)
		return;
	printf("  generation %-6" PRIu64 " %c:%-8" PRIu64 " %s  %7zu bytes  %s\n",
	       ix->generation, ix->self.part, ix->self.block, ix->updatetime, ix->bytes,
	       ix->creator);
}

/* ---- partitions and the generation chain ------------------------------- */

static void check_partition_end(struct check *c, unsigned p)
{
	char err[VS_ERRLEN];
	unsigned torn = 0;
	int rc;

	rc = vs_eod(c->t, p, &c->eod[p], err);
	if (rc) {
		operational(c, "%s", err);
		return;
	}
	rc = vs_find_last_index(c->t, p, UINT64_MAX, c->bs, &c->last[p], &torn, err);
	if (rc == -ENOENT) {
		problem(c, false, "partition %c (SCSI %u) holds no complete index", c->letter[p], p);
		return;
	}
	if (rc) {
		operational(c, "%s", err);
		return;
	}
	c->have_last[p] = true;
	/* keep the scalars; the tree is read again when it is checked */
	vs_index_free(&c->last[p]);
	if (!add_range(c, p, c->last[p].first_block - 1, c->last[p].end_block)) {
		operational(c, "out of memory");
		return;
	}
	verbose(c, "Partition %c: end of data at block %" PRIu64 ", last index generation %"
		PRIu64 " at block %" PRIu64 " (%zu bytes, filemark at %" PRIu64 ")\n",
		c->letter[p], c->eod[p], c->last[p].generation, c->last[p].first_block,
		c->last[p].bytes, c->last[p].end_block);
	check_self(c, &c->last[p]);
	if (torn)
		problem(c, true, "partition %c: %u incomplete index write(s) after generation %"
			PRIu64 " (the writer died while writing an index)", c->letter[p], torn,
			c->last[p].generation);
	if (c->last[p].end_block + 1 != c->eod[p]) {
		problem(c, true, "partition %c does not end in an index: %" PRIu64 " objects "
			"follow generation %" PRIu64 " (data written after the last sync; the "
			"writer died or was not unmounted)", c->letter[p],
			c->eod[p] - c->last[p].end_block - 1, c->last[p].generation);
	}
}

/*
 * Walk the back pointers from the newest data partition index.  Two passes:
 * the first follows and checks the pointers and notes where every index
 * construct lies, the second checks each generation's tree, whose extents
 * must not run into any of those.
 */
static void check_chain(struct check *c)
{
	struct vs_index cur = c->last[c->dp], prev;
	uint64_t *blocks = NULL;
	char err[VS_ERRLEN];
	size_t n = 0;

	for (;;) {
		uint64_t *nb = realloc(blocks, (n + 1) * sizeof(*nb));
		int scsi;

		if (!nb) {
			operational(c, "out of memory");
			break;
		}
		blocks = nb;
		blocks[n++] = cur.first_block;
		if (!cur.prev.part)
			break;
		scsi = scsi_of(c, cur.prev.part);
		if (scsi != c->dp) {
			problem(c, false, "generation %" PRIu64 " points back to %c:%" PRIu64
				", outside the data partition", cur.generation, cur.prev.part,
				cur.prev.block);
			break;
		}
		if (cur.prev.block >= cur.first_block) {
			problem(c, false, "generation %" PRIu64 " at %c:%" PRIu64 " points forward "
				"to %c:%" PRIu64, cur.generation, cur.self.part, cur.self.block,
				cur.prev.part, cur.prev.block);
			break;
		}
		if (vs_read_index_at(c->t, (uint32_t)scsi, cur.prev.block, c->bs, &prev, err)) {
			problem(c, false, "generation %" PRIu64 " points back to %c:%" PRIu64
				", where no index reads: %s", cur.generation, cur.prev.part,
				cur.prev.block, err);
			break;
		}
		check_self(c, &prev);
		if (prev.generation >= cur.generation)
			problem(c, false, "generation %" PRIu64 " points back to generation %" PRIu64
				" (generations must decrease)", cur.generation, prev.generation);
		vs_index_free(&prev);	/* pass 1 needs only its position and pointers */
		if (!add_range(c, (unsigned)c->dp, prev.first_block - 1, prev.end_block)) {
			operational(c, "out of memory");
			break;
		}
		cur = prev;
	}
	if (c->fatal) {
		free(blocks);
		return;
	}
	for (unsigned p = 0; p < c->nparts; p++)
		if (c->nranges[p])
			qsort(c->ranges[p], c->nranges[p], sizeof(*c->ranges[p]), cmp_range);

	if (c->o->list && !c->o->quiet)
		printf("Generations in the data partition %c, newest first:\n",
		       c->letter[c->dp]);
	for (size_t i = 0; i < n && !c->fatal; i++) {
		if (vs_read_index_at(c->t, (uint32_t)c->dp, blocks[i], c->bs, &prev, err)) {
			operational(c, "re-reading the index at block %" PRIu64 ": %s", blocks[i], err);
			break;
		}
		list_index(c, &prev);
		check_tree(c, &prev);
		vs_index_free(&prev);
	}
	verbose(c, "Walked %zu generation(s) of the data partition\n", n);
	free(blocks);
}

/* ---- MAM --------------------------------------------------------------- */

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void check_mam(struct check *c)
{
	struct tape_attr vcr, vci;
	bool have_vcr;

	if (!c->caps->has_mam) {
		verbose(c, "The drive has no MAM; volume coherency not checked\n");
		return;
	}
	have_vcr = tape_get_attr(c->t, 0, TAPE_ATTR_VOLUME_CHANGE_REFERENCE, &vcr) == 0;
	for (unsigned p = 0; p < c->nparts; p++) {
		const struct vs_index *ix = &c->last[p];
		const uint8_t *v = vci.value;
		unsigned l;
		uint64_t count, set;
		int rc;

		if (!c->have_last[p])
			continue;
		rc = tape_get_attr(c->t, p, TAPE_ATTR_VOLUME_COHERENCY_INFO, &vci);
		if (rc == -ENOENT) {
			problem(c, true, "partition %c: no volume coherency information in the MAM",
				c->letter[p]);
			continue;
		}
		if (rc) {
			problem(c, false, "partition %c: reading the volume coherency information "
				"failed: %s", c->letter[p], strerror(-rc));
			continue;
		}
		l = v[0];
		if (vci.length < 1 + l + 16 + 2 || l > 8) {
			problem(c, false, "partition %c: volume coherency information is malformed "
				"(%u bytes)", c->letter[p], vci.length);
			continue;
		}
		count = be(v + 1 + l, 8);
		set = be(v + 1 + l + 8, 8);
		if (count != ix->generation || set != ix->first_block)
			problem(c, true, "partition %c: the MAM says generation %" PRIu64 " at block %"
				PRIu64 ", the partition ends in generation %" PRIu64 " at block %"
				PRIu64, c->letter[p], count, set, ix->generation, ix->first_block);
		{
			unsigned off = 1 + l + 16;
			unsigned alen = (unsigned)be(v + off, 2);
			const char *app = (const char *)v + off + 2;

			if (off + 2 + alen > vci.length || alen < 5 + 37 ||
			    memcmp(app, "LTFS", 5) != 0)
				problem(c, true, "partition %c: the volume coherency information is not "
					"LTFS's", c->letter[p]);
			else if (strncmp(app + 5, c->label[0].uuid, 36) != 0)
				problem(c, false, "partition %c: the MAM names volume %.36s, the labels %s",
					c->letter[p], app + 5, c->label[0].uuid);
		}
		if (have_vcr && vcr.length >= 1 && vcr.length <= 8 &&
		    be(v + 1, l) != be(vcr.value, vcr.length))
			verbose(c, "Partition %c: volume change reference %" PRIu64 " in the MAM, %"
				PRIu64 " now (the medium was written since; a full check was needed)\n",
				c->letter[p], be(v + 1, l), be(vcr.value, vcr.length));
	}
}

/* ---- the whole check --------------------------------------------------- */

static void free_check(struct check *c)
{
	for (unsigned p = 0; p < 2; p++) {
		if (c->have_last[p])
			vs_index_free(&c->last[p]);
		free(c->ranges[p]);
		c->ranges[p] = NULL;
		c->nranges[p] = 0;
	}
}

/* Check the volume on c->t; fills counters.  c must be zeroed but for o, t, caps. */
static void check_volume(struct check *c)
{
	struct tape_medium med;
	int rc;

	rc = tape_medium_info(c->t, &med);
	if (rc) {
		operational(c, "%s: cannot read the medium's state: %s", c->o->device,
			    strerror(-rc));
		return;
	}
	c->nparts = med.partitions >= 2 ? 2 : 1;
	if (!check_labels(c) || c->fatal)
		return;
	for (unsigned p = 0; p < c->nparts && !c->fatal; p++)
		check_partition_end(c, p);
	if (c->fatal || !c->have_last[c->dp])
		return;
	check_chain(c);
	if (c->fatal)
		return;
	if (c->nparts == 2 && c->have_last[c->ip]) {
		const struct vs_index *ip = &c->last[c->ip], *dp = &c->last[c->dp];

		if (c->o->list && !c->o->quiet) {
			printf("Index partition %c:\n", c->letter[c->ip]);
			list_index(c, ip);
		}
		{
			struct vs_index tree;
			char err[VS_ERRLEN];

			if (vs_read_index_at(c->t, (uint32_t)c->ip, ip->first_block, c->bs,
					     &tree, err)) {
				operational(c, "re-reading the index partition's index: %s", err);
				return;
			}
			check_tree(c, &tree);
			vs_index_free(&tree);
		}
		if (ip->generation < dp->generation)
			problem(c, true, "the index partition holds generation %" PRIu64 ", the data "
				"partition the newer %" PRIu64 " (the volume was not unmounted "
				"cleanly)", ip->generation, dp->generation);
		else if (ip->generation == dp->generation &&
			 (ip->prev.part != dp->self.part || ip->prev.block != dp->self.block))
			problem(c, false, "generation %" PRIu64 " in the index partition does not "
				"point back to its copy at %c:%" PRIu64, ip->generation,
				dp->self.part, dp->self.block);
	}
	check_mam(c);
}

static const struct vs_index *newest(const struct check *c)
{
	const struct vs_index *now = &c->last[c->dp];

	if (c->nparts == 2 && c->have_last[c->ip] &&
	    c->last[c->ip].generation > now->generation)
		now = &c->last[c->ip];
	return now;
}

/* ---- repair ------------------------------------------------------------ */

/*
 * The core's read-write mount writes a recovery index where a partition
 * does not end in one; the unmount then brings the index partition and the
 * MAM up to date.  If that leaves something stale (the mount found nothing
 * to recover, so the volume was clean and the unmount wrote nothing), the
 * second pass, new_generation, sets the root's change time to the value it
 * has, which makes the unmount write a new generation everywhere.
 */
static int repair(const struct options *o, struct tape *t, bool new_generation)
{
	struct ltfs_mount_opts mo = { .readonly = false, .creator = NULL };
	struct ltfs_volume *v = NULL;
	char err[LTFS_ERRLEN] = "";
	int rc;

	rc = ltfs_mount(t, &mo, &v, err);
	if (rc) {
		fprintf(stderr, PROG ": repair: mounting the volume failed: %s\n",
			err[0] ? err : strerror(-rc));
		return rc;
	}
	if (ltfs_readonly(v)) {
		fprintf(stderr, PROG ": repair: the medium is write-protected\n");
		ltfs_unmount(v, err);
		return -EROFS;
	}
	if (ltfs_mount_notice(v) && !o->quiet)
		printf("Repair: %s\n", ltfs_mount_notice(v));
	if (new_generation && !ltfs_dirty(v)) {
		struct ltfs_stat st;
		struct ltfs_setattr sa = { .mask = LTFS_SET_CHANGE };

		rc = ltfs_getattr(v, LTFS_ROOT_UID, &st);
		if (rc == 0) {
			sa.change = st.change;
			rc = ltfs_setattr(v, LTFS_ROOT_UID, &sa, NULL);
		}
		if (rc)
			fprintf(stderr, PROG ": repair: cannot mark the index for rewriting: %s\n",
				strerror(-rc));
	}
	err[0] = '\0';
	rc = ltfs_unmount(v, err);
	if (rc) {
		fprintf(stderr, PROG ": repair: writing the index failed: %s\n",
			err[0] ? err : strerror(-rc));
		return rc;
	}
	if (!o->quiet)
		printf("Repair: %s\n", new_generation ?
		       "wrote a new generation of the index to both partitions" :
		       "mounted and unmounted the volume read-write (recovery index)");
	return 0;
}

/* ---- main -------------------------------------------------------------- */

static void help(void)
{
	printf("Usage: " PROG " [options] DEVICE\n"
	       "Check an LTFS volume on a tape drive or a virtual tape image.\n"
	       "\n"
	       "  -n, --no-action   check only, open the device read-only (the default)\n"
	       "  -r, --repair      repair what a crashed writer leaves behind: write a\n"
	       "                    recovery index (data written after the last index goes\n"
	       "                    to /_ltfs_lostandfound), bring the index partition and\n"
	       "                    the MAM up to date (-a, -p, -y: the same, for fsck(8))\n"
	       "  -l, --list        list the index generations (rollback points)\n"
	       "  -c, --check-data  read all file data of the current generation and check\n"
	       "                    that every record reads and is as long as its extents say\n"
	       "  -v, --verbose     say what is being checked\n"
	       "  -q, --quiet       print problems only\n"
	       "  -h, --help        show this help and exit\n"
	       "  -V, --version     show the version and exit\n"
	       "\n"
	       "Exit status (fsck(8)): 0 no errors, 1 errors corrected, 4 errors left\n"
	       "uncorrected, 8 operational error, 16 usage error.\n");
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "no-action", no_argument, NULL, 'n' },
		{ "repair", no_argument, NULL, 'r' },
		{ "list", no_argument, NULL, 'l' },
		{ "check-data", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":nrapylcvqhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o->no_action = true;
			break;
		case 'r':
		case 'a':
		case 'p':
		case 'y':
			o->repair = true;
			break;
		case 'l':
			o->list = true;
			break;
		case 'c':
			o->check_data = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			help();
			exit(FSCK_OK);
		case 'V':
			tool_print_version(PROG);
			exit(FSCK_OK);
		default:
			tool_option_error(PROG, FSCK_USAGE, ch, argv);
		}
	}
	if (o->repair && o->no_action)
		tool_usage_error(PROG, FSCK_USAGE, "--repair and --no-action exclude each other");
	o->device = tool_device_arg(PROG, FSCK_USAGE, argc, argv);
}

static void summary(const struct check *c)
{
	if (c->o->quiet || c->fatal)
		return;
	if (c->problems == 0) {
		const struct vs_index *now = newest(c);

		printf("%s: volume %s is consistent: generation %" PRIu64 ", %" PRIu64
		       " files, %" PRIu64 " directories, %" PRIu64 " extents\n", c->o->device,
		       c->label[0].uuid, now->generation, c->files, c->dirs, c->extents);
	} else {
		printf("%s: %u problem(s) found, %u of them repairable with -r\n",
		       c->o->device, c->problems, c->repairable);
	}
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct check c = { 0 };
	struct tape *t = NULL;
	int result;

	parse_args(argc, argv, &o);
	xmlInitParser();
	if (tool_open_tape(PROG, o.device, o.repair ? 0 : TAPE_OPEN_READONLY, &t))
		return FSCK_OPERATIONAL;
	c.o = &o;
	c.t = t;
	c.caps = tape_caps(t);
	if (!o.quiet)
		printf("Checking %s (%s backend)\n", o.device, tape_backend_name(t));
	check_volume(&c);
	summary(&c);
	if (c.fatal) {
		result = FSCK_OPERATIONAL;
	} else if (c.problems == 0) {
		result = FSCK_OK;
	} else if (!o.repair || c.repairable == 0) {
		if (!o.repair && c.repairable && !o.quiet)
			printf("Run " PROG " -r %s to repair.\n", o.device);
		result = FSCK_UNCORRECTED;
	} else {
		struct options o2 = o;
		struct check again = { .o = &o2, .t = t, .caps = c.caps };

		o2.list = false;
		free_check(&c);
		if (repair(&o, t, false)) {
			result = FSCK_UNCORRECTED;
			goto done;
		}
		again.silent = true;
		check_volume(&again);
		free_check(&again);
		if (!again.fatal && again.problems && again.repairable == again.problems) {
			memset(&again, 0, sizeof(again));
			again = (struct check){ .o = &o2, .t = t, .caps = c.caps };
			if (repair(&o, t, true)) {
				result = FSCK_UNCORRECTED;
				goto done;
			}
		}
		if (!o.quiet)
			printf("Checking %s again after the repair\n", o.device);
		again = (struct check){ .o = &o2, .t = t, .caps = c.caps };
		check_volume(&again);
		summary(&again);
		free_check(&again);
		if (again.fatal)
			result = FSCK_OPERATIONAL;
		else
			result = again.problems ? FSCK_UNCORRECTED : FSCK_CORRECTED;
		goto done;
	}
	free_check(&c);
done:
	if (tape_close(t) && result < FSCK_OPERATIONAL) {
		fprintf(stderr, PROG ": closing %s failed\n", o.device);
		result = FSCK_OPERATIONAL;
	}
	xmlCleanupParser();
	return result;
}
