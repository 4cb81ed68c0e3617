/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * index_xml.c - the XML documents of LTFS: the partition label
 * (<ltfslabel>) and the index (<ltfsindex>), written element by element
 * in the order the reference implementation writes them, and parsed with
 * a streaming reader so that an index of millions of files never exists
 * as a DOM.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>

#include "ltfs/ltfs_internal.h"

static void set_err(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || err[0])	/* keep the first (most specific) message */
		return;
	va_start(ap, fmt);
	vsnprintf(err, LTFS_ERRLEN, fmt, ap);
	va_end(ap);
}

/* ---- writing -------------------------------------------------------------- */

#define W(call) do { if ((call) < 0) goto fail; } while (0)
#define X(s) BAD_CAST(s)

static xmlTextWriterPtr writer_new(xmlBufferPtr *buf, const char *indent)
{
	xmlTextWriterPtr w;

	*buf = xmlBufferCreate();
	if (!*buf)
		return NULL;
	w = xmlNewTextWriterMemory(*buf, 0);
	if (!w) {
		xmlBufferFree(*buf);
		return NULL;
	}
	if (xmlTextWriterSetIndent(w, 1) < 0 ||
	    xmlTextWriterSetIndentString(w, X(indent)) < 0 ||
	    xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0) {
		xmlFreeTextWriter(w);
		xmlBufferFree(*buf);
		return NULL;
	}
	return w;
}

/* End the document and hand the text out as a malloc'd string. */
static int writer_finish(xmlTextWriterPtr w, xmlBufferPtr buf, char **out,
			 size_t *outlen)
{
	int rc = xmlTextWriterEndDocument(w);
	size_t len;

	xmlFreeTextWriter(w);	/* flushes into buf */
	if (rc < 0) {
		xmlBufferFree(buf);
		return -ENOMEM;
	}
	len = (size_t)xmlBufferLength(buf);
	*out = malloc(len + 1);
	if (!*out) {
		xmlBufferFree(buf);
		return -ENOMEM;
	}
	memcpy(*out, xmlBufferContent(buf), len);
	(*out)[len] = 0;
	*outlen = len;
	xmlBufferFree(buf);
	return 0;
}

static int write_time(xmlTextWriterPtr w, const char *el, const struct timespec *ts)
{
	char buf[LTFS_TIME_LEN];

	ltfs_time_format(ts, buf);
	return xmlTextWriterWriteElement(w, X(el), X(buf));
}

static int write_u64(xmlTextWriterPtr w, const char *el, uint64_t v)
{
	return xmlTextWriterWriteFormatElement(w, X(el), "%" PRIu64, v);
}

static int write_bool(xmlTextWriterPtr w, const char *el, bool v)
{
	return xmlTextWriterWriteElement(w, X(el), X(v ? "true" : "false"));
}

int ltfs_label_xml(const struct ltfs_label *l, char **out, size_t *outlen)
{
	xmlBufferPtr buf;
	xmlTextWriterPtr w = writer_new(&buf, "    ");
	char part[2] = { 0 };

	if (!w)
		return -ENOMEM;
	W(xmlTextWriterStartElement(w, X("ltfslabel")));
	W(xmlTextWriterWriteAttribute(w, X("version"), X(l->version)));
	W(xmlTextWriterWriteElement(w, X("creator"), X(l->creator)));
	W(write_time(w, "formattime", &l->formattime));
	W(xmlTextWriterWriteElement(w, X("volumeuuid"), X(l->uuid)));
	W(xmlTextWriterStartElement(w, X("location")));
	part[0] = l->this_part;
	W(xmlTextWriterWriteElement(w, X("partition"), X(part)));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterStartElement(w, X("partitions")));
	part[0] = l->index_part;
	W(xmlTextWriterWriteElement(w, X("index"), X(part)));
	part[0] = l->data_part;
	W(xmlTextWriterWriteElement(w, X("data"), X(part)));
	W(xmlTextWriterEndElement(w));
	W(write_u64(w, "blocksize", l->blocksize));
	W(write_bool(w, "compression", l->compression));
	W(xmlTextWriterEndElement(w));
	return writer_finish(w, buf, out, outlen);
fail:
	xmlFreeTextWriter(w);
	xmlBufferFree(buf);
	return -ENOMEM;
}

/* A "nametype" element (name, xattr key, symlink target), percent-encoded
 * where it holds ':', '%' or control characters, as the reference does. */
static int write_nametype(xmlTextWriterPtr w, const char *tag, const char *name)
{
	char *enc;
	int rc;

	if (!ltfs_name_needs_encoding(name))
		return xmlTextWriterWriteElement(w, X(tag), X(name));
	enc = ltfs_name_encode(name);
	if (!enc)
		return -1;
	rc = xmlTextWriterStartElement(w, X(tag));
	if (rc >= 0)
		rc = xmlTextWriterWriteAttribute(w, X("percentencoded"), X("true"));
	if (rc >= 0)
		rc = xmlTextWriterWriteString(w, X(enc));
	if (rc >= 0)
		rc = xmlTextWriterEndElement(w);
	free(enc);
	return rc;
}

static int write_xattrs(xmlTextWriterPtr w, const struct ltfs_node *n)
{
	size_t i;

	if (!n->nxattr)
		return 0;
	W(xmlTextWriterStartElement(w, X("extendedattributes")));
	for (i = 0; i < n->nxattr; i++) {
		const struct ltfs_xattr *a = &n->xattr[i];

		W(xmlTextWriterStartElement(w, X("xattr")));
		W(write_nametype(w, "key", a->key));
		if (ltfs_xml_text_ok(a->value, a->size)) {
			char *text = malloc(a->size + 1);
			int rc;

			if (!text)
				goto fail;
			memcpy(text, a->value, a->size);
			text[a->size] = 0;
			rc = xmlTextWriterWriteElement(w, X("value"), X(text));
			free(text);
			W(rc);
		} else {
			char *b = ltfs_base64_encode(a->value, a->size);
			int rc;

			if (!b)
				goto fail;
			rc = xmlTextWriterStartElement(w, X("value"));
			if (rc >= 0)
				rc = xmlTextWriterWriteAttribute(w, X("type"), X("base64"));
			if (rc >= 0)
				rc = xmlTextWriterWriteString(w, X(b));
			if (rc >= 0)
				rc = xmlTextWriterEndElement(w);
			free(b);
			W(rc);
		}
		W(xmlTextWriterEndElement(w));
	}
	W(xmlTextWriterEndElement(w));
	return 0;
fail:
	return -1;
}

static int write_file(xmlTextWriterPtr w, const struct ltfs_node *n)
{
	size_t i;
	bool link = n->type == LTFS_TYPE_SYMLINK;

	W(xmlTextWriterStartElement(w, X("file")));
	W(write_nametype(w, "name", n->name));
	W(write_u64(w, "length", link ? 0 : n->length));
	W(write_bool(w, "readonly", link ? true : n->readonly));
	W(write_time(w, "creationtime", &n->creation));
	W(write_time(w, "changetime", &n->change));
	W(write_time(w, "modifytime", &n->modify));
	W(write_time(w, "accesstime", &n->access));
	W(write_time(w, "backuptime", &n->backup));
	W(write_u64(w, "fileuid", n->uid));
	if (n->openforwrite)
		W(write_bool(w, "openforwrite", true));
	W(write_xattrs(w, n));
	if (link) {
		W(write_nametype(w, "symlink", n->symlink));
	} else if (n->next) {
		W(xmlTextWriterStartElement(w, X("extentinfo")));
		for (i = 0; i < n->next; i++) {
			const struct ltfs_extent *e = &n->ext[i];
			char part[2] = { e->part, 0 };

			W(xmlTextWriterStartElement(w, X("extent")));
			W(write_u64(w, "fileoffset", e->fileoffset));
			W(xmlTextWriterWriteElement(w, X("partition"), X(part)));
			W(write_u64(w, "startblock", e->startblock));
			W(write_u64(w, "byteoffset", e->byteoffset));
			W(write_u64(w, "bytecount", e->bytecount));
			W(xmlTextWriterEndElement(w));
		}
		W(xmlTextWriterEndElement(w));
	}
	if (n->preserved)
		W(xmlTextWriterWriteRaw(w, X(n->preserved)));
	W(xmlTextWriterEndElement(w));
	return 0;
fail:
	return -1;
}

static int write_dir(xmlTextWriterPtr w, const struct ltfs_node *d, int depth)
{
	size_t i;

	if (depth > LTFS_MAX_DEPTH)
		return -1;
	W(xmlTextWriterStartElement(w, X("directory")));
	W(write_nametype(w, "name", d->name ? d->name : ""));
	W(write_bool(w, "readonly", d->readonly));
	W(write_time(w, "creationtime", &d->creation));
	W(write_time(w, "changetime", &d->change));
	W(write_time(w, "modifytime", &d->modify));
	W(write_time(w, "accesstime", &d->access));
	W(write_time(w, "backuptime", &d->backup));
	W(write_u64(w, "fileuid", d->uid));
	W(write_xattrs(w, d));
	W(xmlTextWriterStartElement(w, X("contents")));
	for (i = 0; i < d->nslot; i++) {
		const struct ltfs_node *c = d->child[i];

		if (!c)
			continue;
		if (c->type == LTFS_TYPE_DIR)
			W(write_dir(w, c, depth + 1));
		else
			W(write_file(w, c));
	}
	W(xmlTextWriterFullEndElement(w));
	if (d->preserved)
		W(xmlTextWriterWriteRaw(w, X(d->preserved)));
	W(xmlTextWriterEndElement(w));
	return 0;
fail:
	return -1;
}

static int write_loc(xmlTextWriterPtr w, const char *el, const struct ltfs_loc *l)
{
	char part[2] = { l->part, 0 };

	W(xmlTextWriterStartElement(w, X(el)));
	W(xmlTextWriterWriteElement(w, X("partition"), X(part)));
	W(write_u64(w, "startblock", l->block));
	W(xmlTextWriterEndElement(w));
	return 0;
fail:
	return -1;
}

int ltfs_index_xml(const struct ltfs_index *ix, char **out, size_t *outlen)
{
	xmlBufferPtr buf;
	xmlTextWriterPtr w = writer_new(&buf, "");

	if (!w)
		return -ENOMEM;
	if (!ix->tree.root)
		goto fail;
	W(xmlTextWriterStartElement(w, X("ltfsindex")));
	W(xmlTextWriterWriteAttribute(w, X("version"), X(ix->version)));
	W(xmlTextWriterWriteElement(w, X("creator"), X(ix->creator)));
	if (ix->comment)
		W(xmlTextWriterWriteElement(w, X("comment"), X(ix->comment)));
	W(xmlTextWriterWriteElement(w, X("volumeuuid"), X(ix->uuid)));
	W(write_u64(w, "generationnumber", ix->generation));
	W(write_time(w, "updatetime", &ix->updatetime));
	W(write_loc(w, "location", &ix->self));
	if (ix->back.part)
		W(write_loc(w, "previousgenerationlocation", &ix->back));
	W(write_bool(w, "allowpolicyupdate", ix->allowpolicyupdate));
	if (ix->policy_xml)
		W(xmlTextWriterWriteRaw(w, X(ix->policy_xml)));
	W(write_u64(w, "highestfileuid", ix->tree.highest_uid));
	W(xmlTextWriterWriteElement(w, X("volumelockstate"),
				    X(ix->lockstate[0] ? ix->lockstate : "unlocked")));
	W(write_dir(w, ix->tree.root, 0));
	if (ix->preserved)
		W(xmlTextWriterWriteRaw(w, X(ix->preserved)));
	W(xmlTextWriterEndElement(w));
	return writer_finish(w, buf, out, outlen);
fail:
	xmlFreeTextWriter(w);
	xmlBufferFree(buf);
	return -ENOMEM;
}

/* ---- reading -------------------------------------------------------------- */

struct xr {
	xmlTextReaderPtr r;
	bool advanced;		/* the reader already sits on the next node */
	char *err;
};

static void xr_error(void *arg, const char *msg, xmlParserSeverities sev,
		     xmlTextReaderLocatorPtr loc)
{
	struct xr *x = arg;
	char clean[160];
	size_t i;

	if (sev != XML_PARSER_SEVERITY_ERROR && sev != XML_PARSER_SEVERITY_VALIDITY_ERROR)
		return;
	snprintf(clean, sizeof(clean), "%s", msg);
	for (i = 0; clean[i]; i++)
		if (clean[i] == '\n')
			clean[i] = ' ';
	set_err(x->err, "XML error at line %d: %s", xmlTextReaderLocatorLineNumber(loc),
		clean);
}

static int xr_open(struct xr *x, const void *buf, size_t len, char *err)
{
	memset(x, 0, sizeof(*x));
	x->err = err;
	if (len > INT32_MAX) {
		set_err(err, "XML document too large (%zu bytes)", len);
		return -EFBIG;
	}
	x->r = xmlReaderForMemory(buf, (int)len, NULL, NULL,
				  XML_PARSE_HUGE | XML_PARSE_NONET | XML_PARSE_NOENT);
	if (!x->r)
		return -ENOMEM;
	xmlTextReaderSetErrorHandler(x->r, xr_error, x);
	return 0;
}

static void xr_close(struct xr *x)
{
	if (x->r)
		xmlFreeTextReader(x->r);
	x->r = NULL;
}

static const char *xr_name(struct xr *x)
{
	const xmlChar *n = xmlTextReaderConstLocalName(x->r);

	return n ? (const char *)n : "";
}

/*
 * Move to the next child element of the element at depth pdepth:
 * 1 = on a child, 0 = at the parent's end tag, -EUCLEAN on bad XML.
 */
static int xr_next_child(struct xr *x, int pdepth)
{
	for (;;) {
		int type, depth;

		if (!x->advanced) {
			if (xmlTextReaderRead(x->r) != 1) {
				set_err(x->err, "XML document ends early or is malformed");
				return -EUCLEAN;
			}
		}
		x->advanced = false;
		type = xmlTextReaderNodeType(x->r);
		depth = xmlTextReaderDepth(x->r);
		if (type == XML_READER_TYPE_END_ELEMENT && depth == pdepth)
			return 0;
		if (type == XML_READER_TYPE_ELEMENT && depth == pdepth + 1)
			return 1;
		if (depth <= pdepth) {
			set_err(x->err, "XML structure broken near <%s>", xr_name(x));
			return -EUCLEAN;
		}
	}
}

/* Skip the element the reader is on, with everything inside. */
static int xr_skip(struct xr *x)
{
	if (xmlTextReaderIsEmptyElement(x->r))
		return 0;
	if (xmlTextReaderNext(x->r) < 0) {
		set_err(x->err, "XML malformed inside <%s>", xr_name(x));
		return -EUCLEAN;
	}
	x->advanced = true;
	return 0;
}

/* Keep an element we do not know verbatim (appended to *keep), skip it. */
static int xr_keep(struct xr *x, char **keep, uint64_t *meta)
{
	xmlChar *outer = xmlTextReaderReadOuterXml(x->r);

	if (outer) {
		size_t have = *keep ? strlen(*keep) : 0, add = strlen((const char *)outer);
		char *n = realloc(*keep, have + add + 2);

		if (!n) {
			xmlFree(outer);
			return -ENOMEM;
		}
		memcpy(n + have, outer, add);
		n[have + add] = '\n';
		n[have + add + 1] = 0;
		*keep = n;
		*meta += add;
		xmlFree(outer);
	}
	return xr_skip(x);
}

/* The text content of the current (text-only) element, malloc'd. */
static int xr_text(struct xr *x, char **out)
{
	int depth = xmlTextReaderDepth(x->r);
	char *acc = NULL;
	size_t len = 0;
	char el[64];

	snprintf(el, sizeof(el), "%s", xr_name(x));
	*out = NULL;
	if (xmlTextReaderIsEmptyElement(x->r)) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	for (;;) {
		int type;

		if (xmlTextReaderRead(x->r) != 1) {
			set_err(x->err, "XML ends inside <%s>", el);
			free(acc);
			return -EUCLEAN;
		}
		type = xmlTextReaderNodeType(x->r);
		if (type == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(x->r) == depth)
			break;
		if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
		    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
		    type == XML_READER_TYPE_WHITESPACE) {
			const char *v = (const char *)xmlTextReaderConstValue(x->r);
			size_t vl = v ? strlen(v) : 0;
			char *n = realloc(acc, len + vl + 1);

			if (!n) {
				free(acc);
				return -ENOMEM;
			}
			acc = n;
			memcpy(acc + len, v, vl);
			len += vl;
			acc[len] = 0;
		} else if (type == XML_READER_TYPE_ELEMENT) {
			set_err(x->err, "unexpected <%s> inside <%s>", xr_name(x), el);
			free(acc);
			return -EUCLEAN;
		}
	}
	*out = acc ? acc : strdup("");
	return *out ? 0 : -ENOMEM;
}

/* Text into a fixed buffer; too long is an error. */
static int xr_text_buf(struct xr *x, char *buf, size_t size)
{
	char *t;
	int rc = xr_text(x, &t);

	if (rc)
		return rc;
	if (strlen(t) >= size) {
		set_err(x->err, "<%s> too long", xr_name(x));
		free(t);
		return -EUCLEAN;
	}
	strcpy(buf, t);
	free(t);
	return 0;
}

static int xr_u64(struct xr *x, uint64_t *v)
{
	char buf[32], *end;
	char el[64];
	int rc;

	snprintf(el, sizeof(el), "%s", xr_name(x));
	rc = xr_text_buf(x, buf, sizeof(buf));
	if (rc)
		return rc;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (!buf[0] || *end || errno || buf[0] == '-') {
		set_err(x->err, "<%s> is not a number: \"%s\"", el, buf);
		return -EUCLEAN;
	}
	return 0;
}

static int xr_bool(struct xr *x, bool *v)
{
	char buf[16];
	int rc = xr_text_buf(x, buf, sizeof(buf));

	if (rc)
		return rc;
	if (!strcmp(buf, "true") || !strcmp(buf, "1"))
		*v = true;
	else if (!strcmp(buf, "false") || !strcmp(buf, "0"))
		*v = false;
	else {
		set_err(x->err, "bad boolean \"%s\"", buf);
		return -EUCLEAN;
	}
	return 0;
}

static int xr_time(struct xr *x, struct timespec *ts)
{
	char buf[64];
	int rc = xr_text_buf(x, buf, sizeof(buf));

	if (rc)
		return rc;
	if (ltfs_time_parse(buf, ts)) {
		set_err(x->err, "bad timestamp \"%s\"", buf);
		return -EUCLEAN;
	}
	return 0;
}

static int xr_part(struct xr *x, char *part)
{
	char buf[8];
	int rc = xr_text_buf(x, buf, sizeof(buf));

	if (rc)
		return rc;
	if (strlen(buf) != 1 || buf[0] < 'a' || buf[0] > 'z') {
		set_err(x->err, "bad partition \"%s\"", buf);
		return -EUCLEAN;
	}
	*part = buf[0];
	return 0;
}

/* The text of a nametype element, percent-decoded if it says so. */
static int xr_nametype(struct xr *x, char **out)
{
	xmlChar *pe = xmlTextReaderGetAttribute(x->r, X("percentencoded"));
	bool enc = pe && !strcmp((const char *)pe, "true");
	char *t, *d;
	int rc;

	xmlFree(pe);
	rc = xr_text(x, &t);
	if (rc || !enc) {
		*out = t;
		return rc;
	}
	d = ltfs_name_decode(t);
	if (!d) {
		set_err(x->err, "bad percent-encoding in \"%s\"", t);
		free(t);
		return -EUCLEAN;
	}
	free(t);
	*out = d;
	return 0;
}

/* <name [percentencoded="true"]>: checked for the rules of ltfs_name_check. */
static int xr_name_el(struct xr *x, char **out, bool root)
{
	xmlChar *pe = xmlTextReaderGetAttribute(x->r, X("percentencoded"));
	bool enc = pe && !strcmp((const char *)pe, "true");
	char *t;
	int rc;

	xmlFree(pe);
	rc = xr_text(x, &t);
	if (rc)
		return rc;
	if (enc) {
		char *d = ltfs_name_decode(t);

		if (!d) {
			set_err(x->err, "bad percent-encoding in name \"%s\"", t);
			free(t);
			return rc ? rc : -EUCLEAN;
		}
		free(t);
		t = d;
	}
	if (!(root && !t[0]) && strlen(t) > 0 && ltfs_name_check(t)) {
		/* names of other implementations may break our rules; keep
		 * only what would break the namespace */
		if (strchr(t, '/') || ltfs_utf8_check(t, strlen(t)) ||
		    !strcmp(t, ".") || !strcmp(t, "..")) {
			set_err(x->err, "invalid file name \"%s\"", t);
			free(t);
			return -EUCLEAN;
		}
	}
	if (!root && !t[0]) {
		set_err(x->err, "empty file name");
		free(t);
		return -EUCLEAN;
	}
	*out = t;
	return 0;
}

static int xr_xattrs(struct xr *x, struct ltfs_node *n, struct ltfs_tree *tr)
{
	int d = xmlTextReaderDepth(x->r), rc;

	if (xmlTextReaderIsEmptyElement(x->r))
		return 0;
	while ((rc = xr_next_child(x, d)) == 1) {
		char *key = NULL, *val = NULL;
		bool b64 = false;
		int d2 = xmlTextReaderDepth(x->r);
		struct ltfs_xattr *a;

		if (strcmp(xr_name(x), "xattr")) {
			if ((rc = xr_skip(x)))
				return rc;
			continue;
		}
		if (!xmlTextReaderIsEmptyElement(x->r)) {
			while ((rc = xr_next_child(x, d2)) == 1) {
				if (!strcmp(xr_name(x), "key")) {
					free(key);
					rc = xr_nametype(x, &key);
				} else if (!strcmp(xr_name(x), "value")) {
					xmlChar *type = xmlTextReaderGetAttribute(x->r, X("type"));

					b64 = type && !strcmp((const char *)type, "base64");
					xmlFree(type);
					free(val);
					rc = xr_text(x, &val);
				} else {
					rc = xr_skip(x);
				}
				if (rc)
					break;
			}
		}
		if (rc < 0 || !key) {
			if (!key && rc >= 0) {
				set_err(x->err, "xattr without key in fileuid %" PRIu64, n->uid);
				rc = -EUCLEAN;
			}
			free(key);
			free(val);
			return rc;
		}
		a = realloc(n->xattr, (n->nxattr + 1) * sizeof(*a));
		if (!a) {
			free(key);
			free(val);
			return -ENOMEM;
		}
		n->xattr = a;
		a = &n->xattr[n->nxattr];
		a->key = key;
		if (!val) {
			a->value = NULL;
			a->size = 0;
		} else if (b64) {
			ssize_t l = ltfs_base64_decode(val, &a->value);

			free(val);
			if (l < 0) {
				set_err(x->err, "bad base64 in xattr %s", key);
				free(key);
				return -EUCLEAN;
			}
			a->size = (size_t)l;
		} else {
			a->value = (unsigned char *)val;
			a->size = strlen(val);
		}
		n->nxattr++;
		tr->meta_bytes += strlen(key) + a->size;
	}
	return rc;
}

static int xr_extent(struct xr *x, struct ltfs_extent *e)
{
	int d = xmlTextReaderDepth(x->r), rc;
	unsigned have = 0;
	uint64_t bo = 0;

	memset(e, 0, sizeof(*e));
	if (xmlTextReaderIsEmptyElement(x->r))
		goto check;
	while ((rc = xr_next_child(x, d)) == 1) {
		const char *nm = xr_name(x);

		if (!strcmp(nm, "fileoffset"))
			rc = xr_u64(x, &e->fileoffset), have |= 1;
		else if (!strcmp(nm, "partition"))
			rc = xr_part(x, &e->part), have |= 2;
		else if (!strcmp(nm, "startblock"))
			rc = xr_u64(x, &e->startblock), have |= 4;
		else if (!strcmp(nm, "byteoffset"))
			rc = xr_u64(x, &bo), have |= 8;
		else if (!strcmp(nm, "bytecount"))
			rc = xr_u64(x, &e->bytecount), have |= 16;
		else
			rc = xr_skip(x);
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
check:
	if (have != 31) {
		set_err(x->err, "extent lacks one of fileoffset, partition, startblock, "
			"byteoffset, bytecount");
		return -EUCLEAN;
	}
	if (bo > UINT32_MAX || e->fileoffset + e->bytecount < e->fileoffset) {
		set_err(x->err, "extent values out of range");
		return -EUCLEAN;
	}
	e->byteoffset = (uint32_t)bo;
	return 0;
}

static int cmp_extent(const void *a, const void *b)
{
	const struct ltfs_extent *x = a, *y = b;

	return x->fileoffset < y->fileoffset ? -1 : x->fileoffset > y->fileoffset;
}

static int xr_extents(struct xr *x, struct ltfs_node *n, struct ltfs_tree *tr)
{
	int d = xmlTextReaderDepth(x->r), rc;
	size_t i;

	if (xmlTextReaderIsEmptyElement(x->r))
		return 0;
	while ((rc = xr_next_child(x, d)) == 1) {
		struct ltfs_extent e;

		if (strcmp(xr_name(x), "extent")) {
			if ((rc = xr_skip(x)))
				return rc;
			continue;
		}
		if ((rc = xr_extent(x, &e)))
			return rc;
		if (!e.bytecount)
			continue;
		if (n->next == n->ext_cap) {
			size_t cap = n->ext_cap ? n->ext_cap * 2 : 2;
			struct ltfs_extent *ne = realloc(n->ext, cap * sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			n->ext = ne;
			n->ext_cap = cap;
		}
		n->ext[n->next++] = e;
		tr->extents++;
	}
	if (rc < 0)
		return rc;
	qsort(n->ext, n->next, sizeof(*n->ext), cmp_extent);
	for (i = 1; i < n->next; i++) {
		if (n->ext[i - 1].fileoffset + n->ext[i - 1].bytecount > n->ext[i].fileoffset) {
			set_err(x->err, "overlapping extents in fileuid %" PRIu64, n->uid);
			return -EUCLEAN;
		}
	}
	return 0;
}

enum {
	F_NAME = 1 << 0, F_LENGTH = 1 << 1, F_RO = 1 << 2, F_CTIME = 1 << 3,
	F_CHTIME = 1 << 4, F_MTIME = 1 << 5, F_ATIME = 1 << 6, F_BTIME = 1 << 7,
	F_UID = 1 << 8, F_CONTENTS = 1 << 9,
};

/* Fields shared by <file> and <directory>; 1 if handled, 0 if not ours. */
static int xr_common(struct xr *x, struct ltfs_node *n, struct ltfs_tree *tr,
		     unsigned *have, bool root, int *rc)
{
	const char *nm = xr_name(x);

	if (!strcmp(nm, "name")) {
		free(n->name);
		n->name = NULL;
		*rc = xr_name_el(x, &n->name, root);
		if (!*rc)
			tr->meta_bytes += strlen(n->name);
		*have |= F_NAME;
	} else if (!strcmp(nm, "readonly")) {
		*rc = xr_bool(x, &n->readonly), *have |= F_RO;
	} else if (!strcmp(nm, "creationtime")) {
		*rc = xr_time(x, &n->creation), *have |= F_CTIME;
	} else if (!strcmp(nm, "changetime")) {
		*rc = xr_time(x, &n->change), *have |= F_CHTIME;
	} else if (!strcmp(nm, "modifytime")) {
		*rc = xr_time(x, &n->modify), *have |= F_MTIME;
	} else if (!strcmp(nm, "accesstime")) {
		*rc = xr_time(x, &n->access), *have |= F_ATIME;
	} else if (!strcmp(nm, "backuptime")) {
		*rc = xr_time(x, &n->backup), *have |= F_BTIME;
	} else if (!strcmp(nm, "fileuid")) {
		*rc = xr_u64(x, &n->uid), *have |= F_UID;
	} else if (!strcmp(nm, "extendedattributes")) {
		*rc = xr_xattrs(x, n, tr);
	} else {
		return 0;
	}
	return 1;
}

static const char *missing_field(unsigned have, unsigned need)
{
	static const char *names[] = { "name", "length", "readonly", "creationtime",
				       "changetime", "modifytime", "accesstime",
				       "backuptime", "fileuid", "contents" };
	unsigned i;

	for (i = 0; i < 10; i++)
		if ((need & (1u << i)) && !(have & (1u << i)))
			return names[i];
	return NULL;
}

/* Register a parsed node: uid map, then its parent directory. */
static int adopt(struct xr *x, struct ltfs_tree *tr, struct ltfs_node *dir,
		 struct ltfs_node *n)
{
	int rc;

	if (n->uid == 0) {
		set_err(x->err, "fileuid 0 for \"%s\"", n->name);
		return -EUCLEAN;
	}
	rc = ltfs_tree_add_uid(tr, n);
	if (rc == -EEXIST) {
		set_err(x->err, "fileuid %" PRIu64 " used twice (\"%s\")", n->uid, n->name);
		return -EUCLEAN;
	}
	if (rc)
		return rc;
	if (!dir)
		return 0;
	rc = ltfs_tree_link(tr, dir, n);
	if (rc == -EEXIST) {
		set_err(x->err, "name \"%s\" twice in directory fileuid %" PRIu64, n->name,
			dir->uid);
		ltfs_tree_del_uid(tr, n);
		return -EUCLEAN;
	}
	if (rc)
		ltfs_tree_del_uid(tr, n);
	return rc;
}

static int xr_file(struct xr *x, struct ltfs_tree *tr, struct ltfs_node *dir)
{
	struct ltfs_node *n = ltfs_node_new(LTFS_TYPE_FILE, 0);
	int d = xmlTextReaderDepth(x->r), rc = 0;
	unsigned have = 0;
	const char *miss;

	if (!n)
		return -ENOMEM;
	if (xmlTextReaderIsEmptyElement(x->r))
		goto check;
	while ((rc = xr_next_child(x, d)) == 1) {
		const char *nm = xr_name(x);

		if (xr_common(x, n, tr, &have, false, &rc)) {
		} else if (!strcmp(nm, "length")) {
			rc = xr_u64(x, &n->length), have |= F_LENGTH;
		} else if (!strcmp(nm, "openforwrite")) {
			rc = xr_bool(x, &n->openforwrite);
		} else if (!strcmp(nm, "extentinfo")) {
			rc = xr_extents(x, n, tr);
		} else if (!strcmp(nm, "symlink")) {
			free(n->symlink);
			n->symlink = NULL;
			rc = xr_nametype(x, &n->symlink);
			if (!rc) {
				n->type = LTFS_TYPE_SYMLINK;
				tr->meta_bytes += strlen(n->symlink);
			}
		} else {
			rc = xr_keep(x, &n->preserved, &tr->meta_bytes);
		}
		if (rc)
			break;
	}
	if (rc < 0)
		goto fail;
check:
	miss = missing_field(have, F_NAME | F_LENGTH | F_RO | F_CTIME | F_CHTIME |
			     F_MTIME | F_ATIME | F_UID);
	if (miss) {
		set_err(x->err, "<file> \"%s\" lacks <%s>", n->name ? n->name : "?", miss);
		rc = -EUCLEAN;
		goto fail;
	}
	if (!(have & F_BTIME))
		n->backup = n->creation;
	if (n->type == LTFS_TYPE_SYMLINK) {
		n->length = 0;
		tr->extents -= n->next;
		n->next = 0;
	}
	rc = adopt(x, tr, dir, n);
	if (rc)
		goto fail;
	return 0;
fail:
	tr->extents -= n->next;
	ltfs_node_free(n);
	return rc;
}

static int xr_dir(struct xr *x, struct ltfs_tree *tr, struct ltfs_node *dir,
		  int depth)
{
	struct ltfs_node *n;
	int d = xmlTextReaderDepth(x->r), rc = 0;
	unsigned have = 0;
	const char *miss;
	bool linked = false;

	if (depth > LTFS_MAX_DEPTH) {
		set_err(x->err, "directories nested deeper than %d", LTFS_MAX_DEPTH);
		return -EUCLEAN;
	}
	n = ltfs_node_new(LTFS_TYPE_DIR, 0);
	if (!n)
		return -ENOMEM;
	if (!dir)
		tr->root = n;
	if (xmlTextReaderIsEmptyElement(x->r))
		goto check;
	while ((rc = xr_next_child(x, d)) == 1) {
		if (linked && (!strcmp(xr_name(x), "name") || !strcmp(xr_name(x), "fileuid"))) {
			set_err(x->err, "<directory> has <%s> after <contents>", xr_name(x));
			rc = -EUCLEAN;
			break;
		}
		if (xr_common(x, n, tr, &have, !dir, &rc)) {
		} else if (!strcmp(xr_name(x), "contents")) {
			int d2 = xmlTextReaderDepth(x->r);

			have |= F_CONTENTS;
			/* the node must be in the maps before its children */
			miss = missing_field(have, F_NAME | F_UID);
			if (miss) {
				set_err(x->err, "<directory> lacks <%s> before <contents>", miss);
				rc = -EUCLEAN;
				break;
			}
			if (!linked) {
				rc = adopt(x, tr, dir, n);
				if (rc)
					break;
				linked = true;
			}
			if (xmlTextReaderIsEmptyElement(x->r))
				continue;
			while ((rc = xr_next_child(x, d2)) == 1) {
				if (!strcmp(xr_name(x), "file"))
					rc = xr_file(x, tr, n);
				else if (!strcmp(xr_name(x), "directory"))
					rc = xr_dir(x, tr, n, depth + 1);
				else
					rc = xr_skip(x);
				if (rc)
					break;
			}
		} else {
			rc = xr_keep(x, &n->preserved, &tr->meta_bytes);
		}
		if (rc)
			break;
	}
	if (rc < 0)
		goto fail;
check:
	miss = missing_field(have, F_NAME | F_RO | F_CTIME | F_CHTIME | F_MTIME |
			     F_ATIME | F_UID | F_CONTENTS);
	if (miss) {
		set_err(x->err, "<directory> \"%s\" lacks <%s>", n->name ? n->name : "?",
			miss);
		rc = -EUCLEAN;
		goto fail;
	}
	if (!(have & F_BTIME))
		n->backup = n->creation;
	return 0;
fail:
	if (!linked) {
		if (!dir)
			tr->root = NULL;
		ltfs_node_free(n);
	}
	/* a linked node is freed with the tree */
	return rc;
}

static int xr_loc(struct xr *x, struct ltfs_loc *l)
{
	int d = xmlTextReaderDepth(x->r), rc;
	unsigned have = 0;

	memset(l, 0, sizeof(*l));
	if (xmlTextReaderIsEmptyElement(x->r))
		goto check;
	while ((rc = xr_next_child(x, d)) == 1) {
		if (!strcmp(xr_name(x), "partition"))
			rc = xr_part(x, &l->part), have |= 1;
		else if (!strcmp(xr_name(x), "startblock"))
			rc = xr_u64(x, &l->block), have |= 2;
		else
			rc = xr_skip(x);
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
check:
	if (have != 3) {
		set_err(x->err, "location lacks partition or startblock");
		return -EUCLEAN;
	}
	return 0;
}

/* Expect the root element `name` with a version attribute we can read. */
static int xr_root(struct xr *x, const char *name, char version[16])
{
	xmlChar *ver;
	int v;

	for (;;) {
		if (xmlTextReaderRead(x->r) != 1) {
			set_err(x->err, "no <%s> element (not XML or empty)", name);
			return -EUCLEAN;
		}
		if (xmlTextReaderNodeType(x->r) == XML_READER_TYPE_ELEMENT)
			break;
	}
	if (strcmp(xr_name(x), name)) {
		set_err(x->err, "root element is <%s>, not <%s>", xr_name(x), name);
		return -EUCLEAN;
	}
	ver = xmlTextReaderGetAttribute(x->r, X("version"));
	if (!ver) {
		set_err(x->err, "<%s> has no version", name);
		return -EUCLEAN;
	}
	snprintf(version, 16, "%s", (const char *)ver);
	xmlFree(ver);
	v = ltfs_version_parse(version);
	if (v < LTFS_VERSION_MIN || v > LTFS_VERSION_MAX) {
		set_err(x->err, "<%s> version \"%s\" is not one we read (1.0.0 - 2.99.99)",
			name, version);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

int ltfs_label_parse(const void *buf, size_t len, struct ltfs_label *l,
		     char err[LTFS_ERRLEN])
{
	struct xr x;
	int rc;
	unsigned have = 0;
	uint64_t bs = 0;

	memset(l, 0, sizeof(*l));
	rc = xr_open(&x, buf, len, err);
	if (rc)
		return rc;
	rc = xr_root(&x, "ltfslabel", l->version);
	if (rc)
		goto out;
	if (xmlTextReaderIsEmptyElement(x.r)) {
		rc = 0;
		goto check;
	}
	while ((rc = xr_next_child(&x, 0)) == 1) {
		const char *nm = xr_name(&x);

		if (!strcmp(nm, "creator")) {
			rc = xr_text_buf(&x, l->creator, sizeof(l->creator)), have |= 1;
		} else if (!strcmp(nm, "formattime")) {
			rc = xr_time(&x, &l->formattime), have |= 2;
		} else if (!strcmp(nm, "volumeuuid")) {
			rc = xr_text_buf(&x, l->uuid, sizeof(l->uuid)), have |= 4;
		} else if (!strcmp(nm, "location") || !strcmp(nm, "partitions")) {
			bool loc = !strcmp(nm, "location");

			if (xmlTextReaderIsEmptyElement(x.r))
				continue;
			while ((rc = xr_next_child(&x, 1)) == 1) {
				nm = xr_name(&x);
				if (loc && !strcmp(nm, "partition"))
					rc = xr_part(&x, &l->this_part), have |= 8;
				else if (!loc && !strcmp(nm, "index"))
					rc = xr_part(&x, &l->index_part), have |= 16;
				else if (!loc && !strcmp(nm, "data"))
					rc = xr_part(&x, &l->data_part), have |= 32;
				else
					rc = xr_skip(&x);
				if (rc)
					break;
			}
		} else if (!strcmp(nm, "blocksize")) {
			rc = xr_u64(&x, &bs), have |= 64;
		} else if (!strcmp(nm, "compression")) {
			rc = xr_bool(&x, &l->compression), have |= 128;
		} else {
			rc = xr_skip(&x);
		}
		if (rc)
			break;
	}
	if (rc < 0)
		goto out;
check:
	rc = 0;
	if (have != 255) {
		static const char *f[] = { "creator", "formattime", "volumeuuid",
					   "location/partition", "partitions/index",
					   "partitions/data", "blocksize", "compression" };
		unsigned i;

		for (i = 0; i < 8 && (have & (1u << i)); i++)
			;
		set_err(err, "LTFS label lacks <%s>", f[i]);
		rc = -EUCLEAN;
	} else if (bs < LTFS_MIN_BLOCKSIZE || bs > TAPE_RECORD_MAX_SUPPORTED) {
		set_err(err, "LTFS label block size %" PRIu64 " out of range", bs);
		rc = -EUCLEAN;
	}
	/* index == data partition is fusetape's single-partition extension;
	 * the mount decides whether that fits the medium */
	l->blocksize = (uint32_t)bs;
out:
	xr_close(&x);
	return rc;
}

void ltfs_index_free(struct ltfs_index *ix)
{
	ltfs_tree_free(&ix->tree);
	free(ix->comment);
	free(ix->policy_xml);
	free(ix->preserved);
	ix->comment = NULL;
	ix->policy_xml = NULL;
	ix->preserved = NULL;
}

int ltfs_index_parse(const void *buf, size_t len, bool header_only,
		     struct ltfs_index *ix, char err[LTFS_ERRLEN])
{
	struct xr x;
	int rc;
	unsigned have = 0;
	uint64_t highest = 0;
	int ver;

	memset(ix, 0, sizeof(*ix));
	rc = ltfs_tree_init(&ix->tree);
	if (rc)
		return rc;
	rc = xr_open(&x, buf, len, err);
	if (rc)
		goto out;
	rc = xr_root(&x, "ltfsindex", ix->version);
	if (rc)
		goto out;
	ver = ltfs_version_parse(ix->version);
	if (xmlTextReaderIsEmptyElement(x.r)) {
		rc = 0;
		goto check;
	}
	while ((rc = xr_next_child(&x, 0)) == 1) {
		const char *nm = xr_name(&x);

		if (!strcmp(nm, "creator")) {
			char *t;

			rc = xr_text(&x, &t), have |= 1;
			if (!rc) {
				snprintf(ix->creator, sizeof(ix->creator), "%s", t);
				free(t);
			}
		} else if (!strcmp(nm, "comment")) {
			free(ix->comment);
			ix->comment = NULL;
			rc = xr_text(&x, &ix->comment);
		} else if (!strcmp(nm, "volumeuuid")) {
			rc = xr_text_buf(&x, ix->uuid, sizeof(ix->uuid)), have |= 2;
		} else if (!strcmp(nm, "generationnumber")) {
			rc = xr_u64(&x, &ix->generation), have |= 4;
		} else if (!strcmp(nm, "updatetime")) {
			rc = xr_time(&x, &ix->updatetime), have |= 8;
		} else if (!strcmp(nm, "location")) {
			rc = xr_loc(&x, &ix->self), have |= 16;
		} else if (!strcmp(nm, "previousgenerationlocation")) {
			rc = xr_loc(&x, &ix->back);
		} else if (!strcmp(nm, "allowpolicyupdate")) {
			rc = xr_bool(&x, &ix->allowpolicyupdate), have |= 32;
		} else if (!strcmp(nm, "highestfileuid")) {
			rc = xr_u64(&x, &highest), have |= 64;
		} else if (!strcmp(nm, "volumelockstate")) {
			rc = xr_text_buf(&x, ix->lockstate, sizeof(ix->lockstate));
		} else if (!strcmp(nm, "dataplacementpolicy")) {
			xmlChar *outer = xmlTextReaderReadOuterXml(x.r);

			free(ix->policy_xml);
			ix->policy_xml = outer ? strdup((const char *)outer) : NULL;
			xmlFree(outer);
			rc = xr_skip(&x);
		} else if (!strcmp(nm, "directory")) {
			if (header_only) {
				have |= 128;
				rc = 0;
				goto check;
			}
			if (ix->tree.root) {
				set_err(err, "index has two root directories");
				rc = -EUCLEAN;
			} else {
				rc = xr_dir(&x, &ix->tree, NULL, 0), have |= 128;
			}
		} else {
			rc = xr_keep(&x, &ix->preserved, &ix->tree.meta_bytes);
		}
		if (rc)
			break;
	}
	if (rc < 0)
		goto out;
	/* the rest of the document must be well-formed too */
	while ((rc = xmlTextReaderRead(x.r)) == 1)
		;
	if (rc < 0) {
		set_err(err, "XML malformed after </ltfsindex>");
		rc = -EUCLEAN;
		goto out;
	}
check:
	rc = 0;
	{
		static const char *f[] = { "creator", "volumeuuid", "generationnumber",
					   "updatetime", "location", "allowpolicyupdate",
					   "highestfileuid", "directory" };
		unsigned need = ver >= 20000 ? 255 : 255 & ~64u, i;

		for (i = 0; i < 8; i++) {
			if ((need & (1u << i)) && !(have & (1u << i))) {
				set_err(err, "index lacks <%s>", f[i]);
				rc = -EUCLEAN;
				goto out;
			}
		}
	}
	if (!header_only && ix->tree.root->uid != LTFS_ROOT_UID) {
		set_err(err, "root directory has fileuid %" PRIu64 ", not 1",
			ix->tree.root->uid);
		rc = -EUCLEAN;
		goto out;
	}
	if (highest > ix->tree.highest_uid)
		ix->tree.highest_uid = highest;
out:
	xr_close(&x);
	if (rc)
		ltfs_index_free(ix);
	return rc;
}
