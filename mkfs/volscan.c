/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * volscan.c - read LTFS labels and index constructs from a tape for the
 * checker.  See volscan.h.
 */
#include "volscan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlreader.h>

#define LABEL_BUF (64u * 1024)
/* An index larger than this is not an index we can hold; also stops a
 * mis-detected data region from eating all memory. */
#define INDEX_MAX_BYTES (1024ull << 20)

static void seterr(char err[VS_ERRLEN], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void seterr(char err[VS_ERRLEN], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, VS_ERRLEN, fmt, ap);
	va_end(ap);
}

static const char *sense_of(struct tape *t)
{
	return tape_sense_name(tape_last(t)->sense);
}

xmlNodePtr vs_child(xmlNodePtr n, const char *name)
{
	if (!n)
		return NULL;
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

bool vs_child_text(xmlNodePtr n, const char *name, char *buf, size_t len)
{
	xmlNodePtr c = vs_child(n, name);
	xmlChar *s;

	if (len)
		buf[0] = '\0';
	if (!c)
		return false;
	s = xmlNodeGetContent(c);
	if (s && len)
		snprintf(buf, len, "%s", (const char *)s);
	xmlFree(s);
	return true;
}

bool vs_child_u64(xmlNodePtr n, const char *name, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (!vs_child_text(n, name, buf, sizeof(buf)))
		return false;
	if (buf[0] < '0' || buf[0] > '9')
		return false;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_letter(xmlNodePtr n, const char *name, char *out)
{
	char buf[8];

	if (!vs_child_text(n, name, buf, sizeof(buf)))
		return false;
	if (buf[0] < 'a' || buf[0] > 'z' || buf[1])
		return false;
	*out = buf[0];
	return true;
}

/* Read one object; 1 = filemark, 0 = record of *len bytes, <0 error. */
static int read_object(struct tape *t, void *buf, size_t cap, size_t *len,
		       char err[VS_ERRLEN], const char *what)
{
	ssize_t n = tape_read(t, buf, cap);

	if (n > 0) {
		*len = (size_t)n;
		return 0;
	}
	if (n == 0)
		return 1;
	if (n == -EOVERFLOW)
		seterr(err, "%s: record of %" PRIu64 " bytes is longer than %zu",
		       what, tape_last(t)->residual, cap);
	else if (n == -ENODATA)
		seterr(err, "%s: end of data", what);
	else
		seterr(err, "%s: read failed: %s (%s)", what, strerror((int)-n),
		       sense_of(t));
	return (int)n;
}

static xmlDocPtr parse_xml(const char *buf, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	return xmlReadMemory(buf, (int)len, NULL, "UTF-8",
			     XML_PARSE_NONET | XML_PARSE_HUGE | XML_PARSE_NOERROR |
			     XML_PARSE_NOWARNING);
}

int vs_read_label(struct tape *t, uint32_t part, struct vs_label *lab,
		  char err[VS_ERRLEN])
{
	char *buf = malloc(LABEL_BUF);
	char what[64];
	size_t len = 0;
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	xmlChar *ver;
	uint64_t bs;
	char comp[16];
	int rc;

	if (!buf) {
		seterr(err, "out of memory");
		return -ENOMEM;
	}
	memset(lab, 0, sizeof(*lab));
	snprintf(what, sizeof(what), "partition %u label", part);
	rc = tape_locate(t, part, 0);
	if (rc) {
		seterr(err, "%s: cannot locate block 0: %s (%s)", what,
		       strerror(-rc), sense_of(t));
		goto out;
	}
	rc = read_object(t, buf, LABEL_BUF, &len, err, what);
	if (rc == -ENODATA || rc == 1) {
		seterr(err, "%s: partition is blank (no VOL1 label)", what);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	if (rc == -EOVERFLOW) {
		seterr(err, "%s: first record is not a VOL1 label (too long)", what);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	if (rc)
		goto out;
	if (len != VS_VOL1_LEN || memcmp(buf, "VOL1", 4) != 0) {
		seterr(err, "%s: first record is not a VOL1 label (%zu bytes)",
		       what, len);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	memcpy(lab->vol1, buf, VS_VOL1_LEN);
	if (memcmp(buf + 24, "LTFS", 4) != 0) {
		seterr(err, "%s: VOL1 implementation identifier is \"%.13s\", not LTFS",
		       what, buf + 24);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	rc = read_object(t, buf, LABEL_BUF, &len, err, what);
	if (rc != 1) {
		if (rc >= 0)
			seterr(err, "%s: no filemark after VOL1", what);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	rc = read_object(t, buf, LABEL_BUF, &len, err, what);
	if (rc) {
		if (rc == 1 || rc == -ENODATA)
			seterr(err, "%s: no XML label after VOL1", what);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	doc = parse_xml(buf, len);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root || strcmp((const char *)root->name, "ltfslabel") != 0) {
		seterr(err, "%s: the record after VOL1 is not an <ltfslabel> document",
		       what);
		rc = -EMEDIUMTYPE;
		goto out;
	}
	ver = xmlGetProp(root, (const xmlChar *)"version");
	snprintf(lab->version, sizeof(lab->version), "%s",
		 ver ? (const char *)ver : "");
	xmlFree(ver);
	vs_child_text(root, "creator", lab->creator, sizeof(lab->creator));
	if (!vs_child_text(root, "formattime", lab->formattime,
			   sizeof(lab->formattime)) ||
	    !vs_child_text(root, "volumeuuid", lab->uuid, sizeof(lab->uuid)) ||
	    !parse_letter(vs_child(root, "location"), "partition", &lab->location) ||
	    !parse_letter(vs_child(root, "partitions"), "index", &lab->index_part) ||
	    !parse_letter(vs_child(root, "partitions"), "data", &lab->data_part) ||
	    !vs_child_u64(root, "blocksize", &bs) ||
	    !vs_child_text(root, "compression", comp, sizeof(comp))) {
		seterr(err, "%s: a required element (formattime, volumeuuid, location, "
		       "partitions, blocksize, compression) is missing or malformed",
		       what);
		rc = -EBADMSG;
		goto out;
	}
	if (bs == 0 || bs > UINT32_MAX) {
		seterr(err, "%s: block size %" PRIu64 " is out of range", what, bs);
		rc = -EBADMSG;
		goto out;
	}
	lab->blocksize = (uint32_t)bs;
	lab->compression = strcmp(comp, "true") == 0 || strcmp(comp, "1") == 0;
	rc = read_object(t, buf, LABEL_BUF, &len, err, what);
	if (rc != 1) {
		seterr(err, "%s: no filemark after the XML label", what);
		rc = -EBADMSG;
		goto out;
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	free(buf);
	return rc;
}

void vs_index_free(struct vs_index *ix)
{
	free(ix->xml);
	ix->xml = NULL;
	ix->xml_len = 0;
}

static bool parse_ptr(xmlNodePtr n, struct vs_ptr *p)
{
	if (!n)
		return false;
	return parse_letter(n, "partition", &p->part) &&
	       vs_child_u64(n, "startblock", &p->block);
}

static bool str_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

xmlTextReaderPtr vs_index_reader(const struct vs_index *ix)
{
	if (ix->xml_len > INT32_MAX)
		return NULL;
	return xmlReaderForMemory(ix->xml, (int)ix->xml_len, NULL, "UTF-8",
				  XML_PARSE_NONET | XML_PARSE_HUGE | XML_PARSE_NOERROR |
				  XML_PARSE_NOWARNING);
}

/* The last parse error, as one line. */
static void xml_error(char err[VS_ERRLEN], const char *what)
{
	const xmlError *e = xmlGetLastError();

	seterr(err, "%s: XML does not parse%s%s", what, e && e->message ? ": " : "",
	       e && e->message ? e->message : "");
	err[strcspn(err, "\n")] = '\0';	/* libxml2 messages end in a newline */
}

/*
 * Fill ix's header fields from the XML and make sure the whole document is
 * well-formed, streaming: an index of a million files is half a gigabyte of
 * XML, and a tree of it many times that.  false with err set if it is no
 * LTFS index.
 */
static bool parse_index(const char *buf, size_t len, struct vs_index *ix,
			const char *where, char err[VS_ERRLEN])
{
	struct vs_index tmp = { .xml = (char *)buf, .xml_len = len };
	xmlTextReaderPtr r = vs_index_reader(&tmp);
	bool have_uuid = false, have_gen = false, have_time = false, have_loc = false;
	bool have_dir = false, bad_prev = false, in_root_dir = false;
	char what[80];
	int ret;

	snprintf(what, sizeof(what), "index at %s", where);
	if (!r) {
		seterr(err, "%s: cannot start the XML reader", what);
		return false;
	}
	while ((ret = xmlTextReaderRead(r)) == 1 &&
	       xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT)
		;
	if (ret != 1) {
		xml_error(err, what);
		goto bad;
	}
	if (strcmp((const char *)xmlTextReaderConstName(r), "ltfsindex") != 0) {
		seterr(err, "%s: root element is <%s>, not <ltfsindex>", what,
		       (const char *)xmlTextReaderConstName(r));
		goto bad;
	}
	{
		xmlChar *ver = xmlTextReaderGetAttribute(r, (const xmlChar *)"version");

		snprintf(ix->version, sizeof(ix->version), "%s", ver ? (const char *)ver : "");
		xmlFree(ver);
	}
	ret = xmlTextReaderRead(r);
	while (ret == 1) {
		int depth = xmlTextReaderDepth(r);
		const char *name = (const char *)xmlTextReaderConstName(r);

		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT) {
			ret = xmlTextReaderRead(r);
			continue;
		}
		if (depth == 1) {
			in_root_dir = false;
			if (strcmp(name, "directory") == 0) {
				if (have_dir) {
					seterr(err, "%s: more than one root <directory>", what);
					goto bad;
				}
				have_dir = in_root_dir = true;
				ret = xmlTextReaderRead(r);
				continue;
			}
			if (!strcmp(name, "location") || !strcmp(name, "previousgenerationlocation")) {
				xmlNodePtr n = xmlTextReaderExpand(r);
				bool self = name[0] == 'l';

				if (self)
					have_loc = parse_ptr(n, &ix->self);
				else
					bad_prev = !parse_ptr(n, &ix->prev);
			} else {
				xmlChar *v = xmlTextReaderReadString(r);
				const char *sv = v ? (const char *)v : "";

				if (!strcmp(name, "creator"))
					snprintf(ix->creator, sizeof(ix->creator), "%s", sv);
				else if (!strcmp(name, "volumeuuid"))
					have_uuid = snprintf(ix->uuid, sizeof(ix->uuid), "%s", sv) > 0;
				else if (!strcmp(name, "generationnumber"))
					have_gen = str_u64(sv, &ix->generation);
				else if (!strcmp(name, "updatetime"))
					have_time = snprintf(ix->updatetime, sizeof(ix->updatetime),
							     "%s", sv) > 0;
				else if (!strcmp(name, "highestfileuid"))
					ix->has_highest_uid = str_u64(sv, &ix->highest_uid);
				xmlFree(v);
			}
			ret = xmlTextReaderNext(r);
			continue;
		}
		if (depth == 2 && in_root_dir && strcmp(name, "name") == 0) {
			xmlChar *v = xmlTextReaderReadString(r);

			snprintf(ix->volume_name, sizeof(ix->volume_name), "%s",
				 v ? (const char *)v : "");
			xmlFree(v);
		}
		ret = xmlTextReaderRead(r);
	}
	if (ret < 0) {
		xml_error(err, what);
		goto bad;
	}
	if (!have_uuid || !have_gen || !have_time || !have_loc || !have_dir) {
		seterr(err, "%s: a required element (volumeuuid, generationnumber, updatetime, "
		       "location, directory) is missing or malformed", what);
		goto bad;
	}
	if (bad_prev) {
		seterr(err, "%s: malformed <previousgenerationlocation>", what);
		goto bad;
	}
	xmlFreeTextReader(r);
	return true;
bad:
	xmlFreeTextReader(r);
	return false;
}

int vs_read_index_at(struct tape *t, uint32_t part, uint64_t block,
		     uint32_t blocksize, struct vs_index *ix,
		     char err[VS_ERRLEN])
{
	char where[48], what[80];
	char *xml = NULL, *rec = NULL;
	size_t used = 0, cap = 0, len;
	int rc;

	memset(ix, 0, sizeof(*ix));
	snprintf(where, sizeof(where), "partition %u block %" PRIu64, part, block);
	snprintf(what, sizeof(what), "index at %s", where);
	if (block == 0) {
		seterr(err, "%s: an index cannot start at block 0", what);
		return -EBADMSG;
	}
	rec = malloc(blocksize);
	if (!rec) {
		seterr(err, "out of memory");
		return -ENOMEM;
	}
	rc = tape_locate(t, part, block - 1);
	if (rc) {
		seterr(err, "%s: cannot locate: %s (%s)", what, strerror(-rc),
		       sense_of(t));
		rc = rc == -ENODATA ? -EBADMSG : rc;
		goto out;
	}
	rc = read_object(t, rec, blocksize, &len, err, what);
	if (rc != 1) {
		if (rc >= 0 || rc == -EOVERFLOW || rc == -ENODATA) {
			seterr(err, "%s: the object before it is not a filemark", what);
			rc = -EBADMSG;
		}
		goto out;
	}
	for (;;) {
		rc = read_object(t, rec, blocksize, &len, err, what);
		if (rc == 1)
			break;
		if (rc == -ENODATA) {
			seterr(err, "%s: end of data before the filemark that ends an index "
			       "(the index write was interrupted)", what);
			rc = -EBADMSG;
			goto out;
		}
		if (rc == -EOVERFLOW) {
			rc = -EBADMSG;
			goto out;
		}
		if (rc)
			goto out;
		if (used == 0 && (len < 5 || (memcmp(rec, "<?xml", 5) != 0 &&
					      memcmp(rec, "\xef\xbb\xbf<?xml", len < 8 ? len : 8) != 0))) {
			seterr(err, "%s: the record does not start an XML document", what);
			rc = -EBADMSG;
			goto out;
		}
		if (used + len > INDEX_MAX_BYTES) {
			seterr(err, "%s: larger than %llu MiB; not an index this tool reads",
			       what, INDEX_MAX_BYTES >> 20);
			rc = -EBADMSG;
			goto out;
		}
		if (used + len > cap) {
			size_t ncap = cap ? cap * 2 : (size_t)blocksize * 2;
			char *n;

			while (ncap < used + len)
				ncap *= 2;
			n = realloc(xml, ncap);
			if (!n) {
				seterr(err, "out of memory");
				rc = -ENOMEM;
				goto out;
			}
			xml = n;
			cap = ncap;
		}
		memcpy(xml + used, rec, len);
		used += len;
	}
	if (used == 0) {
		seterr(err, "%s: two filemarks with nothing between them", what);
		rc = -EBADMSG;
		goto out;
	}
	{
		struct tape_position pos;

		rc = tape_read_position(t, &pos);
		if (rc) {
			seterr(err, "%s: read position failed: %s", what, strerror(-rc));
			goto out;
		}
		ix->end_block = pos.block - 1;
	}
	if (!parse_index(xml, used, ix, where, err)) {
		rc = -EBADMSG;
		goto out;
	}
	ix->scsi_part = part;
	ix->first_block = block;
	ix->bytes = used;
	ix->xml = xml;
	ix->xml_len = used;
	xml = NULL;
	rc = 0;
out:
	free(xml);
	free(rec);
	return rc;
}

/* The block the tape is at, in partition part (for the message). */
static int block_now(struct tape *t, uint32_t part, uint64_t *block, char err[VS_ERRLEN])
{
	struct tape_position pos;
	int rc = tape_read_position(t, &pos);

	if (rc) {
		seterr(err, "partition %u: read position failed: %s", part,
		       strerror(-rc));
		return rc;
	}
	*block = pos.block;
	return 0;
}

int vs_eod(struct tape *t, uint32_t part, uint64_t *eod, char err[VS_ERRLEN])
{
	int rc = tape_locate(t, part, 0);

	if (rc == 0 || rc == -ENODATA)
		rc = tape_space(t, TAPE_SPACE_EOD, 0);
	if (rc && rc != -ENODATA) {
		seterr(err, "partition %u: cannot space to end of data: %s (%s)", part,
		       strerror(-rc), sense_of(t));
		return rc;
	}
	return block_now(t, part, eod, err);
}

/* Position of the last filemark before object `before`; -ENOENT if none. */
static int filemark_before(struct tape *t, uint32_t part, uint64_t before,
			   uint64_t *fm, char err[VS_ERRLEN])
{
	int rc = tape_locate(t, part, before);

	if (rc && rc != -ENODATA) {
		seterr(err, "partition %u: cannot locate block %" PRIu64 ": %s (%s)",
		       part, before, strerror(-rc), sense_of(t));
		return rc;
	}
	rc = tape_space(t, TAPE_SPACE_FILEMARKS, -1);
	if (rc) {
		if (tape_last(t)->sense == TAPE_SENSE_BOT)
			return -ENOENT;
		seterr(err, "partition %u: spacing back over a filemark from block %"
		       PRIu64 " failed: %s (%s)", part, before, strerror(-rc),
		       sense_of(t));
		return rc;
	}
	return block_now(t, part, fm, err);
}

/* Does the record at (part, block) start like an XML document? */
static bool looks_like_xml(struct tape *t, uint32_t part, uint64_t block,
			   char *rec, uint32_t blocksize)
{
	ssize_t n;

	if (tape_locate(t, part, block))
		return false;
	n = tape_read(t, rec, blocksize);
	if (n == -EOVERFLOW)
		n = blocksize;
	return n >= 5 && (memcmp(rec, "<?xml", 5) == 0 ||
			  (n >= 8 && memcmp(rec, "\xef\xbb\xbf<?xml", 8) == 0));
}

int vs_find_last_index(struct tape *t, uint32_t part, uint64_t limit,
		       uint32_t blocksize, struct vs_index *ix,
		       unsigned *skipped_candidates, char err[VS_ERRLEN])
{
	/* Blocks 0-3 are VOL1, FM, label, FM; an index construct starts at 4. */
	const uint64_t first_possible_fm = 4;
	char *rec;
	uint64_t trailing, leading;
	char why[VS_ERRLEN];
	int rc;

	memset(ix, 0, sizeof(*ix));
	if (limit == UINT64_MAX) {
		rc = vs_eod(t, part, &limit, err);
		if (rc)
			return rc;
	}
	rec = malloc(blocksize);
	if (!rec) {
		seterr(err, "out of memory");
		return -ENOMEM;
	}
	rc = filemark_before(t, part, limit, &trailing, err);
	/* Records after the last filemark that start like XML: an index
	 * whose write was cut off before its trailing filemark. */
	if (rc == 0 && trailing + 1 < limit && skipped_candidates &&
	    looks_like_xml(t, part, trailing + 1, rec, blocksize))
		(*skipped_candidates)++;
	while (rc == 0) {
		if (trailing < first_possible_fm + 1) {
			rc = -ENOENT;
			break;
		}
		rc = filemark_before(t, part, trailing, &leading, err);
		if (rc)
			break;
		if (leading + 1 < trailing &&
		    looks_like_xml(t, part, leading + 1, rec, blocksize)) {
			rc = vs_read_index_at(t, part, leading + 1, blocksize, ix, why);
			if (rc == 0 && ix->end_block == trailing)
				break;
			if (rc == 0)
				vs_index_free(ix);
			else if (rc != -EBADMSG)
				break;
			if (skipped_candidates)
				(*skipped_candidates)++;
		}
		trailing = leading;
	}
	if (rc == -ENOENT)
		seterr(err, "partition %u: no complete index found", part);
	free(rec);
	return rc;
}
