// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ssc.c - SCSI Stream Commands: CDB builders, data parsers, sense decoding.
 * See ssc.h; everything here is pure and transport-independent.
 */
#include "tape/ssc.h"

#include <errno.h>
#include <string.h>

/* ---- byte helpers ------------------------------------------------------- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be24(uint8_t *p, uint32_t v)
{
	p[0] = v >> 16;
	p[1] = v >> 8;
	p[2] = v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static struct ssc_cdb cdb_new(uint8_t op, uint8_t len)
{
	struct ssc_cdb c;

	memset(&c, 0, sizeof(c));
	c.b[0] = op;
	c.len = len;
	return c;
}

/* ---- CDB builders ------------------------------------------------------- */

struct ssc_cdb ssc_cdb_test_unit_ready(void)
{
	return cdb_new(SSC_OP_TEST_UNIT_READY, 6);
}

struct ssc_cdb ssc_cdb_request_sense(uint8_t alloc)
{
	struct ssc_cdb c = cdb_new(SSC_OP_REQUEST_SENSE, 6);

	c.b[4] = alloc;
	return c;
}

struct ssc_cdb ssc_cdb_inquiry(bool evpd, uint8_t page, uint16_t alloc)
{
	struct ssc_cdb c = cdb_new(SSC_OP_INQUIRY, 6);

	c.b[1] = evpd ? 0x01 : 0;
	c.b[2] = evpd ? page : 0;
	put_be16(c.b + 3, alloc);
	return c;
}

struct ssc_cdb ssc_cdb_read_block_limits(void)
{
	return cdb_new(SSC_OP_READ_BLOCK_LIMITS, 6);
}

struct ssc_cdb ssc_cdb_read6(uint32_t len, bool sili)
{
	struct ssc_cdb c = cdb_new(SSC_OP_READ6, 6);

	c.b[1] = sili ? 0x02 : 0;	/* FIXED (bit 0) stays 0: variable */
	put_be24(c.b + 2, len);
	return c;
}

struct ssc_cdb ssc_cdb_write6(uint32_t len)
{
	struct ssc_cdb c = cdb_new(SSC_OP_WRITE6, 6);

	put_be24(c.b + 2, len);
	return c;
}

struct ssc_cdb ssc_cdb_write_filemarks6(uint32_t count, bool immed)
{
	struct ssc_cdb c = cdb_new(SSC_OP_WRITE_FILEMARKS6, 6);

	c.b[1] = immed ? 0x01 : 0;
	put_be24(c.b + 2, count);
	return c;
}

struct ssc_cdb ssc_cdb_space6(enum ssc_space_code code, int32_t count)
{
	struct ssc_cdb c = cdb_new(SSC_OP_SPACE6, 6);

	c.b[1] = code & 0x0F;
	put_be24(c.b + 2, (uint32_t)count & 0xFFFFFF);	/* two's complement, 24 bits */
	return c;
}

struct ssc_cdb ssc_cdb_space16(enum ssc_space_code code, int64_t count)
{
	struct ssc_cdb c = cdb_new(SSC_OP_SPACE16, 16);

	c.b[1] = code & 0x0F;
	put_be64(c.b + 4, (uint64_t)count);
	/* bytes 12-13 PARAMETER LENGTH stay 0: no parameter data */
	return c;
}

struct ssc_cdb ssc_cdb_locate10(uint32_t block, bool change_part,
				uint8_t partition, bool immed)
{
	struct ssc_cdb c = cdb_new(SSC_OP_LOCATE10, 10);

	c.b[1] = (change_part ? 0x02 : 0) | (immed ? 0x01 : 0);	/* BT (bit 2) = 0: logical */
	put_be32(c.b + 3, block);
	c.b[8] = change_part ? partition : 0;
	return c;
}

struct ssc_cdb ssc_cdb_locate16(uint64_t block, bool change_part,
				uint8_t partition, bool immed)
{
	struct ssc_cdb c = cdb_new(SSC_OP_LOCATE16, 16);

	/* DEST_TYPE (bits 5-3) 0: logical object identifier */
	c.b[1] = (change_part ? 0x02 : 0) | (immed ? 0x01 : 0);
	c.b[3] = change_part ? partition : 0;
	put_be64(c.b + 4, block);
	return c;
}

struct ssc_cdb ssc_cdb_read_position(enum ssc_read_position_form form)
{
	struct ssc_cdb c = cdb_new(SSC_OP_READ_POSITION, 10);

	/* ALLOCATION LENGTH must be 0 for the short and long forms */
	c.b[1] = form & 0x1F;
	return c;
}

struct ssc_cdb ssc_cdb_rewind(bool immed)
{
	struct ssc_cdb c = cdb_new(SSC_OP_REWIND, 6);

	c.b[1] = immed ? 0x01 : 0;
	return c;
}

struct ssc_cdb ssc_cdb_load_unload(bool load, bool immed)
{
	struct ssc_cdb c = cdb_new(SSC_OP_LOAD_UNLOAD, 6);

	c.b[1] = immed ? 0x01 : 0;
	c.b[4] = load ? 0x01 : 0;
	return c;
}

struct ssc_cdb ssc_cdb_mode_sense6(uint8_t pc, uint8_t page, uint8_t subpage,
				   bool dbd, uint8_t alloc)
{
	struct ssc_cdb c = cdb_new(SSC_OP_MODE_SENSE6, 6);

	c.b[1] = dbd ? 0x08 : 0;
	c.b[2] = (uint8_t)((pc & 0x3) << 6 | (page & 0x3F));
	c.b[3] = subpage;
	c.b[4] = alloc;
	return c;
}

struct ssc_cdb ssc_cdb_mode_sense10(uint8_t pc, uint8_t page, uint8_t subpage,
				    bool dbd, uint16_t alloc)
{
	struct ssc_cdb c = cdb_new(SSC_OP_MODE_SENSE10, 10);

	c.b[1] = dbd ? 0x08 : 0;
	c.b[2] = (uint8_t)((pc & 0x3) << 6 | (page & 0x3F));
	c.b[3] = subpage;
	put_be16(c.b + 7, alloc);
	return c;
}

struct ssc_cdb ssc_cdb_mode_select6(uint8_t len, bool pf)
{
	struct ssc_cdb c = cdb_new(SSC_OP_MODE_SELECT6, 6);

	c.b[1] = pf ? 0x10 : 0;	/* SP (bit 0) = 0: do not save */
	c.b[4] = len;
	return c;
}

struct ssc_cdb ssc_cdb_mode_select10(uint16_t len, bool pf)
{
	struct ssc_cdb c = cdb_new(SSC_OP_MODE_SELECT10, 10);

	c.b[1] = pf ? 0x10 : 0;
	put_be16(c.b + 7, len);
	return c;
}

struct ssc_cdb ssc_cdb_format_medium(uint8_t format, bool immed)
{
	struct ssc_cdb c = cdb_new(SSC_OP_FORMAT_MEDIUM, 6);

	c.b[1] = immed ? 0x01 : 0;	/* VERIFY (bit 1) = 0 */
	c.b[2] = format & 0x0F;
	/* bytes 3-4 TRANSFER LENGTH 0: no parameter data */
	return c;
}

struct ssc_cdb ssc_cdb_read_attribute(uint8_t service_action, uint8_t partition,
				      uint16_t first_id, uint32_t alloc)
{
	struct ssc_cdb c = cdb_new(SSC_OP_READ_ATTRIBUTE, 16);

	c.b[1] = service_action & 0x1F;
	c.b[5] = 0;		/* LOGICAL VOLUME NUMBER */
	c.b[7] = partition;	/* PARTITION NUMBER */
	put_be16(c.b + 8, first_id);
	put_be32(c.b + 10, alloc);
	return c;
}

struct ssc_cdb ssc_cdb_write_attribute(uint8_t partition, uint32_t len,
				       bool write_through)
{
	struct ssc_cdb c = cdb_new(SSC_OP_WRITE_ATTRIBUTE, 16);

	c.b[1] = write_through ? 0x01 : 0;	/* WTC */
	c.b[7] = partition;
	put_be32(c.b + 10, len);
	return c;
}

struct ssc_cdb ssc_cdb_report_density_support(bool media, uint16_t alloc)
{
	struct ssc_cdb c = cdb_new(SSC_OP_REPORT_DENSITY, 10);

	c.b[1] = media ? 0x01 : 0;
	put_be16(c.b + 7, alloc);
	return c;
}

struct ssc_cdb ssc_cdb_prevent_allow(bool prevent)
{
	struct ssc_cdb c = cdb_new(SSC_OP_PREVENT_ALLOW, 6);

	c.b[4] = prevent ? 0x01 : 0;
	return c;
}

unsigned ssc_timeout_ms(const struct ssc_cdb *cdb)
{
	switch (cdb->b[0]) {
	case SSC_OP_REWIND:
	case SSC_OP_FORMAT_MEDIUM:
	case SSC_OP_SPACE6:
	case SSC_OP_SPACE16:
	case SSC_OP_LOCATE10:
	case SSC_OP_LOCATE16:
	case SSC_OP_LOAD_UNLOAD:
		return SSC_TIMEOUT_LONG_MS;
	case SSC_OP_READ6:
	case SSC_OP_WRITE6:
	case SSC_OP_WRITE_FILEMARKS6:
	/* a MODE SELECT of the partition page may reformat on some drives */
	case SSC_OP_MODE_SELECT6:
	case SSC_OP_MODE_SELECT10:
		return SSC_TIMEOUT_IO_MS;
	default:
		return SSC_TIMEOUT_SHORT_MS;
	}
}

/* ---- returned data ------------------------------------------------------ */

/* Copy a blank-padded ASCII field, dropping trailing blanks and NULs. */
static void copy_trimmed(char *dst, size_t dstsize, const uint8_t *src, size_t n)
{
	size_t i;

	if (n > dstsize - 1)
		n = dstsize - 1;
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == 0))
		n--;
	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7F) ? (char)src[i] : '?';
	dst[n] = 0;
}

int ssc_parse_inquiry(const uint8_t *buf, size_t len, uint8_t *peripheral_type,
		      struct tape_identity *id)
{
	if (len < 36)
		return -EPROTO;
	if (peripheral_type)
		*peripheral_type = buf[0] & 0x1F;
	copy_trimmed(id->vendor, sizeof(id->vendor), buf + 8, 8);
	copy_trimmed(id->product, sizeof(id->product), buf + 16, 16);
	copy_trimmed(id->revision, sizeof(id->revision), buf + 32, 4);
	return 0;
}

int ssc_parse_serial_vpd(const uint8_t *buf, size_t len, struct tape_identity *id)
{
	size_t n;
	size_t start = 4;

	if (len < 4 || buf[1] != 0x80)
		return -EPROTO;
	n = get_be16(buf + 2);
	if (n > len - 4)
		n = len - 4;
	/* serial numbers are right-aligned in some drives: skip leading blanks */
	while (n > 0 && buf[start] == ' ') {
		start++;
		n--;
	}
	copy_trimmed(id->serial, sizeof(id->serial), buf + start, n);
	return 0;
}

int ssc_parse_block_limits(const uint8_t *buf, size_t len,
			   struct ssc_block_limits *out)
{
	if (len < 6)
		return -EPROTO;
	out->granularity = buf[0] & 0x1F;
	out->max = get_be24(buf + 1);
	out->min = get_be16(buf + 4);
	if (out->max && out->min > out->max)
		return -EPROTO;
	return 0;
}

int ssc_parse_read_position(const uint8_t *buf, size_t len,
			    enum ssc_read_position_form form,
			    struct ssc_position *out)
{
	memset(out, 0, sizeof(*out));
	switch (form) {
	case SSC_RP_SHORT:
		if (len < 20)
			return -EPROTO;
		out->bop = buf[0] & 0x80;
		out->eop = buf[0] & 0x40;
		/* BPU: block position unknown; PERR: a field overflowed */
		out->unknown = (buf[0] & 0x04) || (buf[0] & 0x02);
		out->bpew = buf[0] & 0x01;
		out->partition = buf[1];
		out->block = get_be32(buf + 4);	/* FIRST LOGICAL OBJECT LOCATION */
		return 0;
	case SSC_RP_LONG:
		if (len < 32)
			return -EPROTO;
		out->bop = buf[0] & 0x80;
		out->eop = buf[0] & 0x40;
		/* MPU: partition unknown; LONU: object number unknown */
		out->unknown = (buf[0] & 0x08) || (buf[0] & 0x04);
		out->bpew = buf[0] & 0x01;
		out->partition = get_be32(buf + 4);
		out->block = get_be64(buf + 8);
		out->file = get_be64(buf + 16);
		return 0;
	}
	return -EINVAL;
}

int ssc_parse_mode(const uint8_t *buf, size_t len, bool ten, uint8_t page,
		   uint8_t subpage, struct ssc_mode *out)
{
	size_t hdr = ten ? 8 : 4;
	size_t data_len, bd_len, off, end;

	memset(out, 0, sizeof(*out));
	if (len < hdr)
		return -EPROTO;
	if (ten) {
		data_len = (size_t)get_be16(buf) + 2;
		out->medium_type = buf[2];
		out->device_specific = buf[3];
		bd_len = get_be16(buf + 6);
	} else {
		data_len = (size_t)buf[0] + 1;
		out->medium_type = buf[1];
		out->device_specific = buf[2];
		bd_len = buf[3];
	}
	out->write_protected = out->device_specific & 0x80;
	/* the drive may have had more to say than we asked for */
	end = data_len < len ? data_len : len;
	if (end < hdr)
		return -EPROTO;
	if (bd_len >= 8 && hdr + 8 <= end) {
		const uint8_t *bd = buf + hdr;

		out->have_block_descriptor = true;
		out->density = bd[0];
		out->block_length = get_be24(bd + 5);
	}
	off = hdr + bd_len;
	while (off + 2 <= end) {
		const uint8_t *p = buf + off;
		bool spf = p[0] & 0x40;
		size_t plen = spf ? (off + 4 <= end ? (size_t)get_be16(p + 2) + 4 : 0)
				  : (size_t)p[1] + 2;
		uint8_t psub = spf ? p[1] : 0;

		if (plen == 0)
			break;
		if ((p[0] & 0x3F) == page && psub == subpage) {
			out->page = p;
			out->page_len = off + plen <= end ? plen : end - off;
			return 0;
		}
		off += plen;
	}
	return -ENOENT;
}

int ssc_build_mode_select(uint8_t *out, size_t cap, bool ten,
			  uint8_t device_specific, const uint8_t *page,
			  size_t page_len)
{
	size_t hdr = ten ? 8 : 4;
	size_t total = hdr + page_len;

	if (total > cap || (!ten && total > 0xFF) || total > 0xFFFF)
		return -ENOSPC;
	memset(out, 0, hdr);
	/* MODE DATA LENGTH is reserved (0) in MODE SELECT */
	if (ten)
		out[3] = device_specific & 0x7F;
	else
		out[2] = device_specific & 0x7F;
	memcpy(out + hdr, page, page_len);
	out[hdr] &= 0x7F;	/* PS is reserved in MODE SELECT */
	return (int)total;
}

int ssc_parse_partition_page(const uint8_t *page, size_t len,
			     struct ssc_partition_page *out)
{
	size_t plen, i;

	memset(out, 0, sizeof(*out));
	if (len < 8 || (page[0] & 0x3F) != SSC_PAGE_MEDIUM_PARTITION)
		return -EPROTO;
	plen = (size_t)page[1] + 2;
	if (plen < 8)
		return -EPROTO;
	if (plen > len)
		plen = len;
	out->max_additional = page[2];
	out->additional = page[3];
	out->fdp = page[4] & 0x80;
	out->sdp = page[4] & 0x40;
	out->idp = page[4] & 0x20;
	out->psum = (page[4] >> 3) & 0x3;
	out->pofm = page[4] & 0x04;
	out->clear = page[4] & 0x02;
	out->addp = page[4] & 0x01;
	out->medium_format_recognition = page[5];
	out->part_units = page[6] & 0x0F;
	for (i = 8; i + 2 <= plen && out->nsizes < SSC_MAX_PARTITION_SIZES; i += 2)
		out->sizes[out->nsizes++] = get_be16(page + i);
	return 0;
}

int ssc_build_partition_page(uint8_t *out, size_t cap,
			     const struct ssc_partition_page *p)
{
	size_t total = 8 + 2 * (size_t)p->nsizes;
	unsigned i;

	if (p->nsizes > SSC_MAX_PARTITION_SIZES || total > cap || total - 2 > 0xFF)
		return -ENOSPC;
	memset(out, 0, total);
	out[0] = SSC_PAGE_MEDIUM_PARTITION;
	out[1] = (uint8_t)(total - 2);
	out[2] = p->max_additional;
	out[3] = p->additional;
	out[4] = (uint8_t)((p->fdp ? 0x80 : 0) | (p->sdp ? 0x40 : 0) |
			   (p->idp ? 0x20 : 0) | (p->psum & 0x3) << 3 |
			   (p->pofm ? 0x04 : 0) | (p->clear ? 0x02 : 0) |
			   (p->addp ? 0x01 : 0));
	out[5] = p->medium_format_recognition;
	out[6] = p->part_units & 0x0F;
	for (i = 0; i < p->nsizes; i++)
		put_be16(out + 8 + 2 * i, p->sizes[i]);
	return (int)total;
}

uint64_t ssc_partition_unit_bytes(const struct ssc_partition_page *p)
{
	uint64_t v = 1;
	unsigned i;

	switch (p->psum) {
	case 0:
		return 1;
	case 1:
		return 1000;
	case 2:
		return 1000000;
	default:
		if (p->part_units > 15)
			return 0;
		for (i = 0; i < p->part_units; i++)
			v *= 10;
		return v;
	}
}

int ssc_parse_device_config_page(const uint8_t *page, size_t len,
				 struct ssc_device_config *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 16 || (page[0] & 0x3F) != SSC_PAGE_DEVICE_CONFIGURATION ||
	    (page[0] & 0x40) || page[1] < 0x0E)
		return -EPROTO;
	out->active_partition = page[3];
	out->block_identifiers_supported = page[8] & 0x40;	/* LOIS, formerly BIS */
	out->eeg = page[10] & 0x10;
	out->sew = page[10] & 0x08;
	out->select_compression = page[14];
	return 0;
}

/* ---- MAM ----------------------------------------------------------------- */

/* Bounds of the attribute list in a READ ATTRIBUTE (00h) answer. */
static int mam_bounds(const uint8_t *buf, size_t len, size_t *end)
{
	size_t avail;

	if (len < 4)
		return -EPROTO;
	avail = (size_t)get_be32(buf) + 4;	/* AVAILABLE DATA excludes itself */
	*end = avail < len ? avail : len;	/* a short allocation truncates */
	return 0;
}

int ssc_mam_foreach(const uint8_t *buf, size_t len,
		    int (*fn)(const struct tape_attr *attr, bool read_only, void *arg),
		    void *arg)
{
	struct tape_attr a;
	size_t end, off;
	int rc = mam_bounds(buf, len, &end);

	if (rc)
		return rc;
	for (off = 4; off + 5 <= end;) {
		const uint8_t *p = buf + off;
		size_t vlen = get_be16(p + 3);

		if (off + 5 + vlen > end)
			/* a truncated last attribute: the caller asked for too little */
			return end < len ? -EPROTO : 0;
		if (vlen > TAPE_ATTR_MAX_VALUE) {
			off += 5 + vlen;
			continue;
		}
		memset(&a, 0, sizeof(a));
		a.id = get_be16(p);
		a.format = p[2] & 0x03;
		a.length = (uint16_t)vlen;
		memcpy(a.value, p + 5, vlen);
		rc = fn(&a, p[2] & 0x80, arg);
		if (rc)
			return rc;
		off += 5 + vlen;
	}
	return 0;
}

int ssc_mam_find(const uint8_t *buf, size_t len, uint16_t id,
		 struct tape_attr *out)
{
	size_t end, off;
	int rc = mam_bounds(buf, len, &end);

	if (rc)
		return rc;
	for (off = 4; off + 5 <= end;) {
		const uint8_t *p = buf + off;
		size_t vlen = get_be16(p + 3);

		if (get_be16(p) == id) {
			if (vlen > TAPE_ATTR_MAX_VALUE)
				return -EOVERFLOW;
			if (off + 5 + vlen > end)
				return -EPROTO;
			memset(out, 0, sizeof(*out));
			out->id = id;
			out->format = p[2] & 0x03;
			out->length = (uint16_t)vlen;
			memcpy(out->value, p + 5, vlen);
			return 0;
		}
		off += 5 + vlen;
	}
	return -ENOENT;
}

int ssc_mam_parse_id_list(const uint8_t *buf, size_t len, uint16_t *ids,
			  size_t max_ids)
{
	size_t end, off, n = 0;
	int rc = mam_bounds(buf, len, &end);

	if (rc)
		return rc;
	for (off = 4; off + 2 <= end && n < max_ids; off += 2)
		ids[n++] = get_be16(buf + off);
	return (int)n;
}

int ssc_mam_build(uint8_t *out, size_t cap, const struct tape_attr *attr)
{
	size_t total = 4 + 5 + (size_t)attr->length;

	if (attr->length > TAPE_ATTR_MAX_VALUE || total > cap)
		return -ENOSPC;
	put_be32(out, (uint32_t)(total - 4));	/* PARAMETER DATA LENGTH */
	put_be16(out + 4, attr->id);
	out[6] = attr->format & 0x03;	/* READ ONLY is ignored by the drive */
	put_be16(out + 7, attr->length);
	memcpy(out + 9, attr->value, attr->length);
	return (int)total;
}

/* ---- sense --------------------------------------------------------------- */

int ssc_parse_sense(const uint8_t *buf, size_t len, struct ssc_sense *s)
{
	uint8_t code;

	memset(s, 0, sizeof(*s));
	if (len < 1)
		return -EPROTO;
	code = buf[0] & 0x7F;
	if (code == 0x70 || code == 0x71) {
		size_t end;

		if (len < 3)
			return -EPROTO;
		s->deferred = code == 0x71;
		s->key = buf[2] & 0x0F;
		s->filemark = buf[2] & 0x80;
		s->eom = buf[2] & 0x40;
		s->ili = buf[2] & 0x20;
		if ((buf[0] & 0x80) && len >= 7) {
			s->info_valid = true;
			/* a tape residue is a signed 32-bit count */
			s->info = (int32_t)get_be32(buf + 3);
		}
		end = len >= 8 ? 8 + (size_t)buf[7] : len;
		if (end > len)
			end = len;
		if (end >= 13)
			s->asc = buf[12];
		if (end >= 14)
			s->ascq = buf[13];
		s->valid = true;
		return 0;
	}
	if (code == 0x72 || code == 0x73) {
		size_t end, off;

		if (len < 4)
			return -EPROTO;
		s->descriptor = true;
		s->deferred = code == 0x73;
		s->key = buf[1] & 0x0F;
		s->asc = buf[2];
		s->ascq = buf[3];
		end = len >= 8 ? 8 + (size_t)buf[7] : len;
		if (end > len)
			end = len;
		for (off = 8; off + 2 <= end;) {
			const uint8_t *d = buf + off;
			size_t dlen = (size_t)d[1] + 2;

			if (off + dlen > end)
				break;
			if (d[0] == 0x00 && dlen >= 12) {	/* information */
				s->info_valid = d[2] & 0x80;
				s->info = (int64_t)get_be64(d + 4);
			} else if (d[0] == 0x04 && dlen >= 4) {	/* stream commands */
				s->filemark = d[3] & 0x80;
				s->eom = d[3] & 0x40;
				s->ili = d[3] & 0x20;
			}
			off += dlen;
		}
		s->valid = true;
		return 0;
	}
	return -EPROTO;
}

static struct ssc_verdict verdict(enum tape_sense sense, int err)
{
	struct ssc_verdict v = { .sense = sense, .err = err };

	return v;
}

/* Sense key NO SENSE or RECOVERED ERROR: the command did (most of) its job. */
static struct ssc_verdict verdict_informational(const struct ssc_sense *s,
						enum ssc_cmd_class cls)
{
	uint16_t asc = (uint16_t)(s->asc << 8 | s->ascq);

	if (s->filemark)
		/* SPACE by records that met a filemark did not finish */
		return verdict(TAPE_SENSE_FILEMARK, cls == SSC_CLASS_SPACE ? -EIO : 0);
	if (asc == 0x0005)	/* END-OF-DATA DETECTED */
		return verdict(TAPE_SENSE_EOD, -ENODATA);
	if (asc == 0x0004)	/* BEGINNING-OF-PARTITION/MEDIUM DETECTED */
		return verdict(TAPE_SENSE_BOT, cls == SSC_CLASS_SPACE ? -EIO : 0);
	if (s->ili)
		return verdict(TAPE_SENSE_RECORD_LENGTH, 0);
	if (cls == SSC_CLASS_WRITE &&
	    (s->eom || asc == 0x0002 || asc == 0x0007))
		/* early warning (or programmable early warning): data written */
		return verdict(TAPE_SENSE_EARLY_WARNING, 0);
	if (cls == SSC_CLASS_SPACE && s->eom)
		/* spacing ran into the end of the partition */
		return verdict(TAPE_SENSE_EOM, -ENOSPC);
	return verdict(TAPE_SENSE_NONE, 0);
}

struct ssc_verdict ssc_sense_verdict(const struct ssc_sense *s,
				     enum ssc_cmd_class cls)
{
	struct ssc_verdict v;

	if (!s->valid) {
		v = verdict(TAPE_SENSE_HARDWARE, -EIO);
		v.position_lost = true;
		return v;
	}
	if (s->deferred) {
		/*
		 * An earlier buffered write failed: whatever the key, data that
		 * was reported written is not on the medium.
		 */
		v = verdict(s->key == SSC_KEY_VOLUME_OVERFLOW ? TAPE_SENSE_EOM :
			    s->key == SSC_KEY_DATA_PROTECT ? TAPE_SENSE_WRITE_PROTECT :
			    TAPE_SENSE_MEDIUM_ERROR, -EIO);
		v.position_lost = true;
		return v;
	}
	switch (s->key) {
	case SSC_KEY_NO_SENSE:
	case SSC_KEY_RECOVERED_ERROR:
		return verdict_informational(s, cls);
	case SSC_KEY_NOT_READY:
		/*
		 * Whatever the reason, the cartridge may be another one when
		 * the drive is ready again (tgt swaps media without a UNIT
		 * ATTENTION, going not ready in between).
		 */
		if (s->asc == 0x3A) {	/* MEDIUM NOT PRESENT */
			v = verdict(TAPE_SENSE_NOT_READY, -ENOMEDIUM);
			v.position_lost = true;
			return v;
		}
		v = verdict(TAPE_SENSE_NOT_READY, -EBUSY);
		v.position_lost = true;
		/* 04/01 becoming ready, 04/07 operation in progress */
		v.retry = s->asc == 0x04 && (s->ascq == 0x01 || s->ascq == 0x07);
		if (!v.retry)
			v.err = -EIO;
		return v;
	case SSC_KEY_MEDIUM_ERROR:
		if (s->eom || (s->asc == 0x00 && s->ascq == 0x02)) {
			/* physical end of partition */
			if (cls == SSC_CLASS_WRITE)
				return verdict(TAPE_SENSE_EOM, -ENOSPC);
			if (cls == SSC_CLASS_READ)
				return verdict(TAPE_SENSE_EOD, -ENODATA);
			return verdict(TAPE_SENSE_EOM, -ENOSPC);
		}
		v = verdict(TAPE_SENSE_MEDIUM_ERROR, -EIO);
		/* 3B/xx sequential positioning error: the drive is lost */
		v.position_lost = s->asc == 0x3B;
		return v;
	case SSC_KEY_ILLEGAL_REQUEST:
		switch (s->asc) {
		case 0x20:	/* INVALID COMMAND OPERATION CODE */
			return verdict(TAPE_SENSE_ILLEGAL_REQUEST, -EOPNOTSUPP);
		case 0x53:	/* MEDIUM REMOVAL PREVENTED et al. */
			return verdict(TAPE_SENSE_ILLEGAL_REQUEST, -EBUSY);
		default:	/* 24 field in CDB, 26 field in list, 21 out of range, ... */
			return verdict(TAPE_SENSE_ILLEGAL_REQUEST, -EINVAL);
		}
	case SSC_KEY_UNIT_ATTENTION:
		v = verdict(TAPE_SENSE_UNIT_ATTENTION, -EIO);
		v.retry = true;
		/* 28 medium may have changed, 29 reset: where the tape is is unknown */
		v.position_lost = s->asc == 0x28 || s->asc == 0x29;
		return v;
	case SSC_KEY_DATA_PROTECT:
		if (s->asc == 0x74)	/* security (encryption) errors */
			return verdict(TAPE_SENSE_WRITE_PROTECT, -EACCES);
		return verdict(TAPE_SENSE_WRITE_PROTECT, -EROFS);
	case SSC_KEY_BLANK_CHECK:
		return verdict(TAPE_SENSE_EOD, -ENODATA);
	case SSC_KEY_VOLUME_OVERFLOW:
		return verdict(TAPE_SENSE_EOM, -ENOSPC);
	case SSC_KEY_MISCOMPARE:
		return verdict(TAPE_SENSE_MEDIUM_ERROR, -EIO);
	case SSC_KEY_ABORTED_COMMAND:
	case SSC_KEY_HARDWARE_ERROR:
	case SSC_KEY_VENDOR_SPECIFIC:
	case SSC_KEY_COPY_ABORTED:
	default:
		v = verdict(TAPE_SENSE_HARDWARE, -EIO);
		v.position_lost = true;
		return v;
	}
}

static struct ssc_write_outcome write_outcome(bool written, int err,
					      enum tape_sense sense, bool lost)
{
	struct ssc_write_outcome w = {
		.written = written, .err = err, .sense = sense, .position_lost = lost,
	};

	return w;
}

struct ssc_write_outcome ssc_write_outcome(int xport_err, uint8_t status,
					   const uint8_t *sense, size_t sense_len,
					   struct ssc_sense *parsed)
{
	struct ssc_sense s;
	struct ssc_verdict v;

	memset(&s, 0, sizeof(s));
	if (parsed)
		*parsed = s;
	if (xport_err < 0)
		return write_outcome(false, xport_err, TAPE_SENSE_HARDWARE, true);
	switch (status) {
	case SSC_STATUS_GOOD:
		return write_outcome(true, 0, TAPE_SENSE_NONE, false);
	case SSC_STATUS_BUSY:
	case SSC_STATUS_TASK_SET_FULL:
	case SSC_STATUS_RESERVATION_CONFLICT:
		/* not executed; the drive stays where the records before left it */
		return write_outcome(false, -EBUSY, TAPE_SENSE_NOT_READY, false);
	case SSC_STATUS_CHECK_CONDITION:
		break;
	default:
		return write_outcome(false, -EIO, TAPE_SENSE_HARDWARE, true);
	}
	if (!sense || ssc_parse_sense(sense, sense_len, &s) < 0)
		memset(&s, 0, sizeof(s));	/* s.valid false: hardware, lost */
	if (parsed)
		*parsed = s;
	v = ssc_sense_verdict(&s, SSC_CLASS_WRITE);
	if (v.err == 0)
		return write_outcome(true, 0, v.sense == TAPE_SENSE_EARLY_WARNING ?
				     TAPE_SENSE_EARLY_WARNING : TAPE_SENSE_NONE, false);
	if (v.sense == TAPE_SENSE_EOM && !s.deferred) {
		/* VOLUME OVERFLOW: a residue of 0 says the record went out */
		if (s.info_valid && s.info == 0)
			return write_outcome(true, 0, TAPE_SENSE_EARLY_WARNING, false);
		return write_outcome(false, -ENOSPC, TAPE_SENSE_EOM, false);
	}
	return write_outcome(false, v.err, v.sense != TAPE_SENSE_NONE ? v.sense
			     : TAPE_SENSE_MEDIUM_ERROR,
			     v.position_lost || s.key == SSC_KEY_MEDIUM_ERROR ||
			     s.key == SSC_KEY_HARDWARE_ERROR || v.retry);
}

const char *ssc_sense_key_name(uint8_t key)
{
	static const char *const names[16] = {
		"no sense", "recovered error", "not ready", "medium error",
		"hardware error", "illegal request", "unit attention",
		"data protect", "blank check", "vendor specific",
		"copy aborted", "aborted command", "reserved (0Ch)",
		"volume overflow", "miscompare", "completed",
	};

	return names[key & 0x0F];
}
