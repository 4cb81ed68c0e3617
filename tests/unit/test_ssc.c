// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ssc.c - the transport-independent SSC layer (lib/tape/ssc.c): CDB
 * bytes of every builder, sense decoding of sense data as real drives and
 * tgt send it, and the parsers of returned data (INQUIRY, READ BLOCK
 * LIMITS, READ POSITION, mode pages, MAM).
 *
 * Second half: the tapedma backend (lib/tape/tape_tapedma.c, compiled in
 * here with its transport replaced) against a simulated SSC-conformant
 * drive, with and without LOCATE / READ POSITION.  tgt, which the VM test
 * uses, behaves differently enough (no residues, no LOCATE) that these
 * paths are only tested here: SSC residues on SPACE, native positioning,
 * UNIT ATTENTION after a reset, VOLUME OVERFLOW, records longer than the
 * drive's advertised limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "tape/ssc.h"
#include "tape/tape_image.h"

#define TAPEDMA_TEST_XPORT sim_xport
#define TAPEDMA_READY_POLL_MS 1
#include "../../lib/tape/tape_tapedma.c"

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 7;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static int same_pattern(const uint8_t *p, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len);
	int ok = want != NULL;

	if (ok) {
		fill_pattern(want, len, seed);
		ok = memcmp(p, want, len) == 0;
	}
	free(want);
	return ok;
}

static int cdb_is(const struct ssc_cdb *c, const uint8_t *want, size_t len)
{
	size_t i;

	if (c->len != len)
		return 0;
	for (i = 0; i < len; i++)
		if (c->b[i] != want[i])
			return 0;
	for (; i < SSC_CDB_MAX; i++)
		if (c->b[i])
			return 0;
	return 1;
}

#define CDB(cdb, ...) do { \
	static const uint8_t want_[] = { __VA_ARGS__ }; \
	struct ssc_cdb c_ = (cdb); \
	CHECK(cdb_is(&c_, want_, sizeof(want_)), "%s", #cdb); \
} while (0)

static void test_cdbs(void)
{
	CDB(ssc_cdb_test_unit_ready(), 0x00, 0, 0, 0, 0, 0);
	CDB(ssc_cdb_request_sense(96), 0x03, 0, 0, 0, 96, 0);
	CDB(ssc_cdb_inquiry(false, 0x80, 96), 0x12, 0, 0, 0, 96, 0);
	CDB(ssc_cdb_inquiry(true, 0x80, 0x1234), 0x12, 1, 0x80, 0x12, 0x34, 0);
	CDB(ssc_cdb_read_block_limits(), 0x05, 0, 0, 0, 0, 0);
	CDB(ssc_cdb_read6(0x123456, false), 0x08, 0, 0x12, 0x34, 0x56, 0);
	CDB(ssc_cdb_read6(2 << 20, true), 0x08, 0x02, 0x20, 0x00, 0x00, 0);
	CDB(ssc_cdb_write6(524288), 0x0A, 0, 0x08, 0x00, 0x00, 0);
	CDB(ssc_cdb_write_filemarks6(0, false), 0x10, 0, 0, 0, 0, 0);
	CDB(ssc_cdb_write_filemarks6(3, true), 0x10, 1, 0, 0, 3, 0);
	CDB(ssc_cdb_space6(SSC_SPACE_BLOCKS, 5), 0x11, 0, 0, 0, 5, 0);
	CDB(ssc_cdb_space6(SSC_SPACE_BLOCKS, -1), 0x11, 0, 0xFF, 0xFF, 0xFF, 0);
	CDB(ssc_cdb_space6(SSC_SPACE_FILEMARKS, -2), 0x11, 1, 0xFF, 0xFF, 0xFE, 0);
	CDB(ssc_cdb_space6(SSC_SPACE_FILEMARKS, SSC_SPACE6_MAX), 0x11, 1, 0x7F, 0xFF, 0xFF, 0);
	CDB(ssc_cdb_space6(SSC_SPACE_BLOCKS, SSC_SPACE6_MIN), 0x11, 0, 0x80, 0x00, 0x00, 0);
	CDB(ssc_cdb_space6(SSC_SPACE_EOD, 0), 0x11, 3, 0, 0, 0, 0);
	CDB(ssc_cdb_space16(SSC_SPACE_BLOCKS, -3), 0x91, 0, 0, 0,
	    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFD, 0, 0, 0, 0);
	CDB(ssc_cdb_space16(SSC_SPACE_FILEMARKS, 0x0102030405LL), 0x91, 1, 0, 0,
	    0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0, 0, 0, 0);
	CDB(ssc_cdb_locate10(0x01020304, false, 7, false), 0x2B, 0, 0, 1, 2, 3, 4, 0, 0, 0);
	CDB(ssc_cdb_locate10(9, true, 1, true), 0x2B, 0x03, 0, 0, 0, 0, 9, 0, 1, 0);
	CDB(ssc_cdb_locate16(0x1122334455667788ULL, true, 2, false), 0x92, 0x02, 0, 2,
	    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0);
	CDB(ssc_cdb_locate16(5, false, 3, true), 0x92, 0x01, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0);
	CDB(ssc_cdb_read_position(SSC_RP_SHORT), 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	CDB(ssc_cdb_read_position(SSC_RP_LONG), 0x34, 6, 0, 0, 0, 0, 0, 0, 0, 0);
	CDB(ssc_cdb_rewind(false), 0x01, 0, 0, 0, 0, 0);
	CDB(ssc_cdb_rewind(true), 0x01, 1, 0, 0, 0, 0);
	CDB(ssc_cdb_load_unload(true, false), 0x1B, 0, 0, 0, 1, 0);
	CDB(ssc_cdb_load_unload(false, true), 0x1B, 1, 0, 0, 0, 0);
	CDB(ssc_cdb_mode_sense6(SSC_PC_CURRENT, 0x11, 0, false, 252), 0x1A, 0, 0x11, 0, 252, 0);
	CDB(ssc_cdb_mode_sense6(SSC_PC_CHANGEABLE, 0x10, 1, true, 64), 0x1A, 0x08, 0x50, 1, 64, 0);
	CDB(ssc_cdb_mode_sense10(SSC_PC_DEFAULT, 0x3F, 0xFF, false, 0x1000),
	    0x5A, 0, 0xBF, 0xFF, 0, 0, 0, 0x10, 0x00, 0);
	CDB(ssc_cdb_mode_select6(28, true), 0x15, 0x10, 0, 0, 28, 0);
	CDB(ssc_cdb_mode_select10(0x0123, true), 0x55, 0x10, 0, 0, 0, 0, 0, 0x01, 0x23, 0);
	CDB(ssc_cdb_format_medium(SSC_FORMAT_PARTITION, false), 0x04, 0, 1, 0, 0, 0);
	CDB(ssc_cdb_format_medium(SSC_FORMAT_DEFAULT, true), 0x04, 1, 0, 0, 0, 0);
	CDB(ssc_cdb_read_attribute(SSC_RA_VALUES, 1, 0x0800, 0x10000), 0x8C, 0, 0, 0, 0, 0, 0, 1,
	    0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0, 0);
	CDB(ssc_cdb_read_attribute(SSC_RA_LIST, 0, 0, 512), 0x8C, 1, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0x02, 0x00, 0, 0);
	CDB(ssc_cdb_write_attribute(1, 37, true), 0x8D, 1, 0, 0, 0, 0, 0, 1,
	    0, 0, 0, 0, 0, 37, 0, 0);
	CDB(ssc_cdb_report_density_support(true, 0x400), 0x44, 1, 0, 0, 0, 0, 0, 0x04, 0x00, 0);
	CDB(ssc_cdb_prevent_allow(true), 0x1E, 0, 0, 0, 1, 0);
	CDB(ssc_cdb_prevent_allow(false), 0x1E, 0, 0, 0, 0, 0);
}

static void test_timeouts(void)
{
	struct ssc_cdb c;

	c = ssc_cdb_rewind(false);
	CHECK_EQ(ssc_timeout_ms(&c), SSC_TIMEOUT_LONG_MS, "REWIND has the long timeout");
	c = ssc_cdb_space6(SSC_SPACE_EOD, 0);
	CHECK_EQ(ssc_timeout_ms(&c), SSC_TIMEOUT_LONG_MS, "SPACE has the long timeout");
	c = ssc_cdb_locate16(1, false, 0, false);
	CHECK_EQ(ssc_timeout_ms(&c), SSC_TIMEOUT_LONG_MS, "LOCATE has the long timeout");
	c = ssc_cdb_format_medium(0, false);
	CHECK_EQ(ssc_timeout_ms(&c), SSC_TIMEOUT_LONG_MS, "FORMAT MEDIUM has the long timeout");
	c = ssc_cdb_write6(1);
	CHECK_EQ(ssc_timeout_ms(&c), SSC_TIMEOUT_IO_MS, "WRITE has the I/O timeout");
	c = ssc_cdb_inquiry(false, 0, 36);
	CHECK_EQ(ssc_timeout_ms(&c), SSC_TIMEOUT_SHORT_MS, "INQUIRY has the short timeout");
	CHECK(SSC_TIMEOUT_SHORT_MS < SSC_TIMEOUT_IO_MS && SSC_TIMEOUT_IO_MS < SSC_TIMEOUT_LONG_MS,
	      "timeout classes are ordered");
}

/* Fixed-format sense: 18 bytes, byte 2 flags|key, INFORMATION, ASC/ASCQ. */
static size_t fixed_sense(uint8_t *s, bool valid, uint8_t flags_key, int32_t info,
			  uint8_t asc, uint8_t ascq)
{
	memset(s, 0, 18);
	s[0] = (uint8_t)(0x70 | (valid ? 0x80 : 0));
	s[2] = flags_key;
	s[3] = (uint8_t)((uint32_t)info >> 24);
	s[4] = (uint8_t)((uint32_t)info >> 16);
	s[5] = (uint8_t)((uint32_t)info >> 8);
	s[6] = (uint8_t)info;
	s[7] = 10;
	s[12] = asc;
	s[13] = ascq;
	return 18;
}

static struct ssc_verdict decode(const uint8_t *s, size_t len, enum ssc_cmd_class cls,
				 struct ssc_sense *out)
{
	CHECK_EQ(ssc_parse_sense(s, len, out), 0, "sense parses");
	return ssc_sense_verdict(out, cls);
}

static void test_sense_tgt(void)
{
	struct ssc_sense s;
	struct ssc_verdict v;
	uint8_t b[96];
	size_t n;

	/* tgt's end of data: BLANK CHECK with EOM, no INFORMATION */
	n = fixed_sense(b, false, 0x40 | SSC_KEY_BLANK_CHECK, 0, 0, 0);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(s.valid && !s.descriptor && s.key == SSC_KEY_BLANK_CHECK && s.eom &&
	      !s.info_valid && !s.filemark && !s.ili, "tgt BLANK CHECK: key 8, EOM, no info");
	CHECK_EQ(v.sense, TAPE_SENSE_EOD, "tgt BLANK CHECK is end of data");
	CHECK_EQ(v.err, -ENODATA, "tgt BLANK CHECK gives ENODATA");
	CHECK(!v.retry && !v.position_lost, "end of data: position kept, no retry");

	/* tgt reading a filemark with a 1 MiB allocation: residue = 1 MiB */
	n = fixed_sense(b, true, 0x80 | SSC_KEY_NO_SENSE, 1 << 20, 0x00, 0x01);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(s.filemark && s.info_valid && s.info == (1 << 20) && s.asc == 0 && s.ascq == 1,
	      "filemark sense: FM bit, residue 1 MiB, 00/01");
	CHECK_EQ(v.sense, TAPE_SENSE_FILEMARK, "read at a filemark: FILEMARK");
	CHECK_EQ(v.err, 0, "read at a filemark is not an error");
	v = ssc_sense_verdict(&s, SSC_CLASS_SPACE);
	CHECK_EQ(v.err, -EIO, "space by records stopped by a filemark: EIO");

	/* ILI: a 3000-byte record read with 1000 bytes: residue -2000 */
	n = fixed_sense(b, true, 0x20 | SSC_KEY_NO_SENSE, -2000, 0, 0);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(s.ili && s.info_valid, "ILI with information");
	CHECK_EQ(s.info, -2000, "negative residue is sign-extended");
	CHECK_EQ(v.sense, TAPE_SENSE_RECORD_LENGTH, "ILI is a record-length condition");
	CHECK_EQ(v.err, 0, "ILI is information for the caller, not an error");

	/* ILI: short record, residue positive */
	n = fixed_sense(b, true, 0x20, 1048576 - 4096, 0, 0);
	decode(b, n, SSC_CLASS_READ, &s);
	CHECK_EQ(s.info, 1048576 - 4096, "positive residue of a short record");

	/* tgt SPACE into end of data: NO SENSE, 00/05, no information */
	n = fixed_sense(b, false, SSC_KEY_NO_SENSE, 0, 0x00, 0x05);
	v = decode(b, n, SSC_CLASS_SPACE, &s);
	CHECK_EQ(v.sense, TAPE_SENSE_EOD, "00/05 end-of-data detected is EOD");
	CHECK_EQ(v.err, -ENODATA, "space into EOD: ENODATA");

	/* tgt SPACE back at BOM: NO SENSE 00/04 */
	n = fixed_sense(b, false, SSC_KEY_NO_SENSE, 0, 0x00, 0x04);
	v = decode(b, n, SSC_CLASS_SPACE, &s);
	CHECK_EQ(v.sense, TAPE_SENSE_BOT, "00/04 is beginning of partition");
	CHECK_EQ(v.err, -EIO, "space back into BOT: EIO");

	/* tgt past capacity: NO SENSE + EOM after the data is written */
	n = fixed_sense(b, false, 0x40 | SSC_KEY_NO_SENSE, 0, 0, 0);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK_EQ(v.sense, TAPE_SENSE_EARLY_WARNING, "write with NO SENSE + EOM: early warning");
	CHECK_EQ(v.err, 0, "... and the record is written");
	v = ssc_sense_verdict(&s, SSC_CLASS_READ);
	CHECK_EQ(v.err, 0, "EOM with NO SENSE on a read is not an error");

	/* tgt's invalid opcode (LOCATE, READ ATTRIBUTE, ...) */
	n = fixed_sense(b, false, SSC_KEY_ILLEGAL_REQUEST, 0, 0x20, 0x00);
	v = decode(b, n, SSC_CLASS_SPACE, &s);
	CHECK_EQ(v.sense, TAPE_SENSE_ILLEGAL_REQUEST, "invalid opcode: ILLEGAL REQUEST");
	CHECK_EQ(v.err, -EOPNOTSUPP, "invalid opcode: EOPNOTSUPP");
	n = fixed_sense(b, false, SSC_KEY_ILLEGAL_REQUEST, 0, 0x24, 0x00);
	v = decode(b, n, SSC_CLASS_OTHER, &s);
	CHECK_EQ(v.err, -EINVAL, "invalid field in CDB: EINVAL");
}

static void test_sense_keys(void)
{
	struct ssc_sense s;
	struct ssc_verdict v;
	uint8_t b[96];
	size_t n;

	n = fixed_sense(b, true, SSC_KEY_VOLUME_OVERFLOW | 0x40, 4096, 0x00, 0x02);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(v.sense == TAPE_SENSE_EOM && v.err == -ENOSPC, "VOLUME OVERFLOW: EOM, ENOSPC");
	n = fixed_sense(b, false, SSC_KEY_NO_SENSE, 0, 0x00, 0x02);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(v.sense == TAPE_SENSE_EARLY_WARNING && v.err == 0,
	      "00/02 on a write without EOM bit: early warning");
	n = fixed_sense(b, false, SSC_KEY_NO_SENSE, 0, 0x00, 0x07);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(v.sense == TAPE_SENSE_EARLY_WARNING, "00/07 programmable early warning");
	n = fixed_sense(b, false, SSC_KEY_MEDIUM_ERROR | 0x40, 0, 0x00, 0x02);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(v.sense == TAPE_SENSE_EOM && v.err == -ENOSPC, "MEDIUM ERROR + EOM on write: ENOSPC");
	v = ssc_sense_verdict(&s, SSC_CLASS_READ);
	CHECK(v.sense == TAPE_SENSE_EOD && v.err == -ENODATA, "... on read: no more data");
	n = fixed_sense(b, false, SSC_KEY_MEDIUM_ERROR, 0, 0x11, 0x00);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(v.sense == TAPE_SENSE_MEDIUM_ERROR && v.err == -EIO, "11/00 unrecovered read error");
	n = fixed_sense(b, false, SSC_KEY_MEDIUM_ERROR, 0, 0x3B, 0x00);
	v = decode(b, n, SSC_CLASS_SPACE, &s);
	CHECK(v.position_lost, "3B/00 sequential positioning error loses the position");
	n = fixed_sense(b, false, SSC_KEY_DATA_PROTECT, 0, 0x27, 0x00);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(v.sense == TAPE_SENSE_WRITE_PROTECT && v.err == -EROFS, "27/00 write protected: EROFS");
	n = fixed_sense(b, false, SSC_KEY_NOT_READY, 0, 0x3A, 0x00);
	v = decode(b, n, SSC_CLASS_OTHER, &s);
	CHECK(v.sense == TAPE_SENSE_NOT_READY && v.err == -ENOMEDIUM && !v.retry,
	      "3A/00 medium not present: ENOMEDIUM");
	n = fixed_sense(b, false, SSC_KEY_NOT_READY, 0, 0x04, 0x01);
	v = decode(b, n, SSC_CLASS_OTHER, &s);
	CHECK(v.sense == TAPE_SENSE_NOT_READY && v.retry && v.position_lost,
	      "04/01 becoming ready: retry, but the position is gone");
	n = fixed_sense(b, false, SSC_KEY_UNIT_ATTENTION, 0, 0x29, 0x00);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(v.sense == TAPE_SENSE_UNIT_ATTENTION && v.retry && v.position_lost && v.err == -EIO,
	      "29/00 reset: unit attention, retry, position lost");
	n = fixed_sense(b, false, SSC_KEY_UNIT_ATTENTION, 0, 0x2A, 0x01);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(v.retry && !v.position_lost, "2A/01 mode parameters changed: position kept");
	n = fixed_sense(b, false, SSC_KEY_HARDWARE_ERROR, 0, 0x44, 0x00);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(v.sense == TAPE_SENSE_HARDWARE && v.err == -EIO && v.position_lost,
	      "hardware error: EIO, position lost");
	n = fixed_sense(b, false, SSC_KEY_ABORTED_COMMAND, 0, 0x47, 0x00);
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(v.sense == TAPE_SENSE_HARDWARE && !v.retry, "aborted command is not retried");
	n = fixed_sense(b, false, SSC_KEY_RECOVERED_ERROR, 0, 0x17, 0x01);
	v = decode(b, n, SSC_CLASS_READ, &s);
	CHECK(v.sense == TAPE_SENSE_NONE && v.err == 0, "recovered error: success");
	n = fixed_sense(b, false, SSC_KEY_MISCOMPARE, 0, 0x1D, 0x00);
	v = decode(b, n, SSC_CLASS_OTHER, &s);
	CHECK(v.sense == TAPE_SENSE_MEDIUM_ERROR && v.err == -EIO, "miscompare: medium error");

	/* a deferred error is never information */
	n = fixed_sense(b, false, SSC_KEY_NO_SENSE, 0, 0, 0);
	b[0] = 0x71;
	v = decode(b, n, SSC_CLASS_WRITE, &s);
	CHECK(s.deferred && v.err == -EIO && v.position_lost, "deferred error: EIO");
}

static void test_sense_formats(void)
{
	/* descriptor format: key 0, 00/01, information 5, stream FM bit */
	static const uint8_t desc[] = {
		0x72, 0x00, 0x00, 0x01, 0, 0, 0, 16,
		0x00, 0x0A, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 5,
		0x04, 0x02, 0x00, 0x80,
	};
	/* descriptor: ILI with a negative 64-bit residue, then a vendor descriptor */
	static const uint8_t desc_ili[] = {
		0x72, 0x00, 0x00, 0x00, 0, 0, 0, 20,
		0x80, 0x02, 0xAA, 0xBB,
		0x04, 0x02, 0x00, 0x20,
		0x00, 0x0A, 0x80, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
	};
	struct ssc_sense s;
	uint8_t b[96];
	size_t n;

	CHECK_EQ(ssc_parse_sense(desc, sizeof(desc), &s), 0, "descriptor sense parses");
	CHECK(s.descriptor && s.key == 0 && s.asc == 0 && s.ascq == 1, "descriptor: key/ASC/ASCQ");
	CHECK(s.info_valid && s.info == 5, "descriptor: information descriptor");
	CHECK(s.filemark && !s.eom && !s.ili, "descriptor: stream commands descriptor");
	CHECK_EQ(ssc_sense_verdict(&s, SSC_CLASS_READ).sense, TAPE_SENSE_FILEMARK,
		 "descriptor filemark maps like fixed");
	CHECK_EQ(ssc_parse_sense(desc_ili, sizeof(desc_ili), &s), 0, "descriptor ILI parses");
	CHECK(s.ili && s.info_valid && s.info == -256, "descriptor ILI: residue -256 after a vendor descriptor");
	/* a descriptor running past the buffer is ignored, not read */
	CHECK_EQ(ssc_parse_sense(desc_ili, 14, &s), 0, "truncated descriptor sense parses");
	CHECK(!s.ili && !s.info_valid, "truncated descriptor: the cut descriptor is not used");

	CHECK_EQ(ssc_parse_sense(b, 0, &s), -EPROTO, "empty sense is not sense");
	memset(b, 0, sizeof(b));
	CHECK_EQ(ssc_parse_sense(b, 18, &s), -EPROTO, "response code 00h is not sense");
	CHECK(!s.valid, "invalid sense is marked so");
	CHECK_EQ(ssc_sense_verdict(&s, SSC_CLASS_READ).err, -EIO, "no usable sense: EIO");
	n = fixed_sense(b, true, SSC_KEY_MEDIUM_ERROR, 7, 0x11, 0x00);
	CHECK_EQ(ssc_parse_sense(b, 8, &s), 0, "fixed sense cut after byte 7 parses");
	CHECK(s.key == SSC_KEY_MEDIUM_ERROR && s.info == 7 && s.asc == 0,
	      "cut fixed sense: key and info, no ASC beyond the data");
	b[7] = 2;	/* additional length says ASC is not there */
	CHECK_EQ(ssc_parse_sense(b, n, &s), 0, "short additional length parses");
	CHECK_EQ(s.asc, 0, "ASC beyond the additional length is not read");
	CHECK(strcmp(ssc_sense_key_name(SSC_KEY_BLANK_CHECK), "blank check") == 0,
	      "sense key names");
}

static void test_inquiry_limits_position(void)
{
	uint8_t inq[96], vpd[32], bl[6] = { 0x09, 0x10, 0x00, 0x00, 0x00, 0x04 };
	struct tape_identity id;
	struct ssc_block_limits lim;
	struct ssc_position p;
	uint8_t rp[32], type = 0xFF;

	memset(inq, 0, sizeof(inq));
	inq[0] = 0x01;
	memcpy(inq + 8, "IET     VIRTUAL-TAPE    0001", 28);
	memset(&id, 0, sizeof(id));
	CHECK_EQ(ssc_parse_inquiry(inq, sizeof(inq), &type, &id), 0, "INQUIRY parses");
	CHECK_EQ(type, SSC_PERIPHERAL_TAPE, "peripheral type tape");
	CHECK(strcmp(id.vendor, "IET") == 0, "vendor trimmed: '%s'", id.vendor);
	CHECK(strcmp(id.product, "VIRTUAL-TAPE") == 0, "product trimmed: '%s'", id.product);
	CHECK(strcmp(id.revision, "0001") == 0, "revision: '%s'", id.revision);
	CHECK_EQ(ssc_parse_inquiry(inq, 35, &type, &id), -EPROTO, "short INQUIRY refused");

	memset(vpd, 0, sizeof(vpd));
	vpd[1] = 0x80;
	vpd[3] = 10;
	memcpy(vpd + 4, "  A0001   ", 10);
	CHECK_EQ(ssc_parse_serial_vpd(vpd, sizeof(vpd), &id), 0, "serial VPD parses");
	CHECK(strcmp(id.serial, "A0001") == 0, "serial trimmed both sides: '%s'", id.serial);
	vpd[3] = 200;	/* longer than the buffer */
	CHECK_EQ(ssc_parse_serial_vpd(vpd, 8, &id), 0, "over-long serial page is cut");
	CHECK(strcmp(id.serial, "A0") == 0, "cut serial: '%s'", id.serial);

	CHECK_EQ(ssc_parse_block_limits(bl, sizeof(bl), &lim), 0, "READ BLOCK LIMITS parses");
	CHECK(lim.granularity == 9 && lim.max == 1048576 && lim.min == 4,
	      "tgt limits: 4 B .. 1 MiB, granularity 9");
	CHECK_EQ(ssc_parse_block_limits(bl, 5, &lim), -EPROTO, "short block limits refused");
	bl[1] = 0; bl[2] = 0; bl[3] = 2;
	CHECK_EQ(ssc_parse_block_limits(bl, 6, &lim), -EPROTO, "min > max refused");

	memset(rp, 0, sizeof(rp));
	rp[0] = 0x80;
	rp[1] = 1;
	rp[4] = 0x00; rp[5] = 0x01; rp[6] = 0x02; rp[7] = 0x03;
	CHECK_EQ(ssc_parse_read_position(rp, 20, SSC_RP_SHORT, &p), 0, "short READ POSITION parses");
	CHECK(p.bop && !p.eop && !p.unknown && p.partition == 1 && p.block == 0x010203,
	      "short form: BOP, partition 1, block 0x10203");
	rp[0] = 0x04;
	ssc_parse_read_position(rp, 20, SSC_RP_SHORT, &p);
	CHECK(p.unknown, "short form: BPU means unknown");
	memset(rp, 0, sizeof(rp));
	rp[0] = 0x41;
	rp[7] = 2;
	rp[8] = 0x01; rp[15] = 0x05;
	rp[23] = 9;
	CHECK_EQ(ssc_parse_read_position(rp, 32, SSC_RP_LONG, &p), 0, "long READ POSITION parses");
	CHECK(!p.bop && p.eop && p.bpew && p.partition == 2 &&
	      p.block == 0x0100000000000005ULL && p.file == 9, "long form fields");
	CHECK_EQ(ssc_parse_read_position(rp, 31, SSC_RP_LONG, &p), -EPROTO, "short long form refused");
	/* what tgt answers: 32 zero bytes but the first */
	memset(rp, 0, sizeof(rp));
	rp[0] = 32;
	ssc_parse_read_position(rp, 32, SSC_RP_LONG, &p);
	CHECK(!p.bop && p.block == 0, "tgt's READ POSITION: block 0 without BOP");
}

static void test_mode(void)
{
	/* MODE SENSE(6): header, block descriptor, page 0x10, page 0x11 */
	uint8_t b[64], out[64], page[32];
	struct ssc_mode m;
	struct ssc_device_config dc;
	struct ssc_partition_page pp, pp2;
	size_t n = 0;
	int len;

	memset(b, 0, sizeof(b));
	b[1] = 0;		/* medium type */
	b[2] = 0x90;		/* WP, buffered mode 1 */
	b[3] = 8;		/* block descriptor length */
	n = 4;
	b[n + 0] = 0x58;	/* density */
	b[n + 7] = 0x00;	/* block length 0: variable */
	n += 8;
	b[n] = 0x10; b[n + 1] = 0x0E; b[n + 3] = 1; b[n + 8] = 0x40; b[n + 10] = 0x18;
	n += 16;
	b[n] = 0x91;		/* PS set, page 0x11 */
	b[n + 1] = 10;
	b[n + 2] = 3; b[n + 3] = 1; b[n + 4] = 0x34; b[n + 6] = 9;
	b[n + 8] = 0x00; b[n + 9] = 0x25; b[n + 10] = 0xFF; b[n + 11] = 0xFF;
	n += 12;
	b[0] = (uint8_t)(n - 1);

	CHECK_EQ(ssc_parse_mode(b, n, false, 0x10, 0, &m), 0, "page 10h found");
	CHECK(m.write_protected && m.device_specific == 0x90, "WP from the header");
	CHECK(m.have_block_descriptor && m.density == 0x58 && m.block_length == 0,
	      "block descriptor: density 58h, variable");
	CHECK(m.page == b + 12 && m.page_len == 16, "page 10h located");
	CHECK_EQ(ssc_parse_device_config_page(m.page, m.page_len, &dc), 0, "page 10h parses");
	CHECK(dc.active_partition == 1 && dc.block_identifiers_supported && dc.eeg && dc.sew,
	      "device configuration fields");
	CHECK_EQ(ssc_parse_mode(b, n, false, 0x11, 0, &m), 0, "page 11h found");
	CHECK_EQ(ssc_parse_partition_page(m.page, m.page_len, &pp), 0, "page 11h parses");
	CHECK(pp.max_additional == 3 && pp.additional == 1 && !pp.fdp && !pp.sdp && pp.idp &&
	      pp.psum == 2 && pp.pofm && pp.part_units == 9 && pp.nsizes == 2 &&
	      pp.sizes[0] == 0x25 && pp.sizes[1] == 0xFFFF, "partition page fields");
	CHECK_EQ(ssc_partition_unit_bytes(&pp), 1000000, "PSUM 2: megabytes");
	pp2 = pp;
	pp2.psum = 3;
	CHECK_EQ(ssc_partition_unit_bytes(&pp2), 1000000000ULL, "PSUM 3: 10^part_units");
	CHECK_EQ(ssc_parse_mode(b, n, false, 0x0F, 0, &m), -ENOENT, "absent page: ENOENT");
	CHECK(m.write_protected, "absent page: header still parsed");
	CHECK_EQ(ssc_parse_mode(b, 20, false, 0x11, 0, &m), -ENOENT,
		 "page beyond the buffer is not found");
	CHECK_EQ(ssc_parse_mode(b, 3, false, 0x10, 0, &m), -EPROTO, "truncated header refused");

	len = ssc_build_partition_page(page, sizeof(page), &pp);
	CHECK_EQ(len, 12, "partition page built: 8 + 2 sizes");
	CHECK(len == 12 && page[0] == 0x11 && page[1] == 10 && page[3] == 1 &&
	      page[4] == 0x34 && page[6] == 9 && page[9] == 0x25 && page[10] == 0xFF,
	      "partition page bytes");
	CHECK_EQ(ssc_parse_partition_page(page, (size_t)len, &pp2), 0, "built page parses back");
	CHECK(pp2.nsizes == 2 && pp2.sizes[1] == 0xFFFF && pp2.additional == 1, "round trip");
	CHECK_EQ(ssc_build_partition_page(page, 11, &pp), -ENOSPC, "too small buffer refused");

	b[n - 12] |= 0x80;
	len = ssc_build_mode_select(out, sizeof(out), false, 0x90, b + n - 12, 12);
	CHECK_EQ(len, 16, "MODE SELECT(6) list: 4 + page");
	CHECK(out[0] == 0 && out[2] == 0x10 && out[3] == 0 && out[4] == 0x11,
	      "MODE SELECT(6): length reserved, WP masked, buffered kept, PS cleared");
	len = ssc_build_mode_select(out, sizeof(out), true, 0x10, page, 12);
	CHECK(len == 20 && out[3] == 0x10 && out[7] == 0 && out[8] == 0x11, "MODE SELECT(10) list");
	CHECK_EQ(ssc_build_mode_select(out, 10, true, 0, page, 12), -ENOSPC,
		 "MODE SELECT list too big refused");

	/* MODE SENSE(10) with a subpage (SPF) */
	memset(b, 0, sizeof(b));
	b[3] = 0x80;
	b[8] = 0x50; b[9] = 0x01; b[10] = 0; b[11] = 0x1C;
	b[1] = 8 + 32 - 2;
	CHECK_EQ(ssc_parse_mode(b, 40, true, 0x10, 1, &m), 0, "MODE SENSE(10): subpage 10h/01h found");
	CHECK(m.page == b + 8 && m.page_len == 32 && m.write_protected && !m.have_block_descriptor,
	      "subpage located, WP from 10-byte header");
}

static int count_attr(const struct tape_attr *a, bool ro, void *arg)
{
	int *n = arg;

	(*n)++;
	if (a->id == 0x0000 && !ro)
		return -100;	/* remaining capacity must be read-only */
	return 0;
}

static void test_mam(void)
{
	uint8_t b[64], big[1100];
	uint16_t ids[8];
	struct tape_attr a;
	size_t n = 4;
	int count = 0, len;

	memset(b, 0, sizeof(b));
	/* 0000h remaining capacity, binary 8 bytes, read only */
	b[n + 0] = 0x00; b[n + 1] = 0x00; b[n + 2] = 0x80; b[n + 4] = 8;
	b[n + 5 + 6] = 0x12; b[n + 5 + 7] = 0x34;
	n += 13;
	/* 0800h application vendor, ASCII "FUSETAPE" */
	b[n + 0] = 0x08; b[n + 1] = 0x00; b[n + 2] = 0x01; b[n + 4] = 8;
	memcpy(b + n + 5, "FUSETAPE", 8);
	n += 13;
	b[3] = (uint8_t)(n - 4);

	CHECK_EQ(ssc_mam_find(b, n, 0x0800, &a), 0, "attribute 0800h found");
	CHECK(a.id == 0x0800 && a.format == TAPE_ATTR_ASCII && a.length == 8 &&
	      memcmp(a.value, "FUSETAPE", 8) == 0, "0800h: ASCII FUSETAPE");
	CHECK_EQ(ssc_mam_find(b, n, 0x0000, &a), 0, "attribute 0000h found");
	CHECK(a.length == 8 && a.value[6] == 0x12 && a.value[7] == 0x34, "0000h value");
	CHECK_EQ(ssc_mam_find(b, n, 0x0801, &a), -ENOENT, "absent attribute: ENOENT");
	CHECK_EQ(ssc_mam_find(b, n - 3, 0x0800, &a), -EPROTO, "cut value: EPROTO");
	CHECK_EQ(ssc_mam_find(b, 3, 0x0800, &a), -EPROTO, "no header: EPROTO");
	CHECK_EQ(ssc_mam_foreach(b, n, count_attr, &count), 0, "foreach walks the list");
	CHECK_EQ(count, 2, "two attributes, 0000h read-only");
	/* AVAILABLE DATA larger than what was fetched: the tail is cut */
	b[3] = 200;
	count = 0;
	CHECK_EQ(ssc_mam_foreach(b, n, count_attr, &count), 0, "truncated list: no error");
	CHECK_EQ(count, 2, "truncated list: complete attributes seen");
	b[3] = (uint8_t)(n - 4);

	memset(big, 0, sizeof(big));
	big[2] = (5 + 1050) >> 8;
	big[3] = (5 + 1050) & 0xFF;
	big[4] = 0x08; big[5] = 0x05; big[7] = 0x04; big[8] = 0x1A;	/* length 1050 */
	CHECK_EQ(ssc_mam_find(big, 4 + 5 + 1050, 0x0805, &a), -EOVERFLOW,
		 "value longer than TAPE_ATTR_MAX_VALUE: EOVERFLOW");

	memset(b, 0, sizeof(b));
	b[3] = 6;
	b[4] = 0x00; b[5] = 0x01; b[6] = 0x08; b[7] = 0x00; b[8] = 0x08; b[9] = 0x0C;
	CHECK_EQ(ssc_mam_parse_id_list(b, 10, ids, 8), 3, "attribute list: 3 ids");
	CHECK(ids[0] == 0x0001 && ids[1] == 0x0800 && ids[2] == 0x080C, "attribute list ids");
	CHECK_EQ(ssc_mam_parse_id_list(b, 10, ids, 2), 2, "attribute list bounded by max_ids");

	memset(&a, 0, sizeof(a));
	a.id = 0x0806;
	a.format = TAPE_ATTR_ASCII;
	a.length = 6;
	memcpy(a.value, "A0001 ", 6);
	len = ssc_mam_build(b, sizeof(b), &a);
	CHECK_EQ(len, 15, "WRITE ATTRIBUTE list: 4 + 5 + 6");
	CHECK(b[3] == 11 && b[4] == 0x08 && b[5] == 0x06 && b[6] == 0x01 && b[8] == 6 &&
	      memcmp(b + 9, "A0001 ", 6) == 0, "WRITE ATTRIBUTE list bytes");
	CHECK_EQ(ssc_mam_find(b, (size_t)len, 0x0806, &a), 0, "built list parses back");
	CHECK_EQ(ssc_mam_build(b, 14, &a), -ENOSPC, "list too big refused");
}


/* A queued WRITE's completion, as the write-behind queue must read it. */
static void test_write_outcome(void)
{
	struct ssc_write_outcome o;
	struct ssc_sense s;
	uint8_t b[32];
	size_t n;

	o = ssc_write_outcome(0, SSC_STATUS_GOOD, NULL, 0, &s);
	CHECK(o.written && o.err == 0 && o.sense == TAPE_SENSE_NONE && !o.position_lost,
	      "GOOD: written");
	/* tgt past its capacity: NO SENSE + EOM, the data is on the tape */
	n = fixed_sense(b, false, 0x40 | SSC_KEY_NO_SENSE, 0, 0, 0);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, &s);
	CHECK(o.written && o.err == 0 && o.sense == TAPE_SENSE_EARLY_WARNING && s.eom,
	      "NO SENSE + EOM: written, early warning");
	n = fixed_sense(b, false, SSC_KEY_NO_SENSE, 0, 0x00, 0x07);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(o.written && o.sense == TAPE_SENSE_EARLY_WARNING,
	      "00/07 programmable early warning: written, early warning");
	n = fixed_sense(b, true, 0x40 | SSC_KEY_VOLUME_OVERFLOW, 0, 0x00, 0x02);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(o.written && o.sense == TAPE_SENSE_EARLY_WARNING,
	      "VOLUME OVERFLOW with residue 0: the record went out (early warning)");
	n = fixed_sense(b, true, 0x40 | SSC_KEY_VOLUME_OVERFLOW, 524288, 0x00, 0x02);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -ENOSPC && o.sense == TAPE_SENSE_EOM && !o.position_lost,
	      "VOLUME OVERFLOW with the whole record as residue: ENOSPC, not written, "
	      "drive still where it was");
	n = fixed_sense(b, false, 0x40 | SSC_KEY_VOLUME_OVERFLOW, 0, 0x00, 0x02);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -ENOSPC && o.sense == TAPE_SENSE_EOM,
	      "VOLUME OVERFLOW without a residue: ENOSPC (nothing counts as written)");
	n = fixed_sense(b, false, 0x40 | SSC_KEY_MEDIUM_ERROR, 0, 0x00, 0x02);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -ENOSPC && o.sense == TAPE_SENSE_EOM,
	      "MEDIUM ERROR at end of partition: ENOSPC");
	n = fixed_sense(b, false, SSC_KEY_MEDIUM_ERROR, 0, 0x0C, 0x00);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -EIO && o.sense == TAPE_SENSE_MEDIUM_ERROR && o.position_lost,
	      "MEDIUM ERROR 0C/00 write error: EIO, position to be asked");
	n = fixed_sense(b, false, SSC_KEY_HARDWARE_ERROR, 0, 0x44, 0x00);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -EIO && o.sense == TAPE_SENSE_HARDWARE && o.position_lost,
	      "HARDWARE ERROR: EIO, position lost");
	n = fixed_sense(b, false, SSC_KEY_UNIT_ATTENTION, 0, 0x29, 0x00);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -EIO && o.sense == TAPE_SENSE_UNIT_ATTENTION &&
	      o.position_lost, "UNIT ATTENTION (reset): not retried, not written, position lost");
	n = fixed_sense(b, false, SSC_KEY_UNIT_ATTENTION, 0, 0x2A, 0x01);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.position_lost,
	      "UNIT ATTENTION (mode parameters changed): not written, and the records behind "
	      "it may have been, so the position is lost too");
	n = fixed_sense(b, false, SSC_KEY_DATA_PROTECT, 0, 0x27, 0x00);
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, NULL);
	CHECK(!o.written && o.err == -EROFS && o.sense == TAPE_SENSE_WRITE_PROTECT &&
	      !o.position_lost, "DATA PROTECT: EROFS, not written, not moved");
	n = fixed_sense(b, false, 0x40 | SSC_KEY_VOLUME_OVERFLOW, 0, 0x00, 0x02);
	b[0] = 0x71;	/* deferred: an earlier record is not on the medium */
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, b, n, &s);
	CHECK(s.deferred && !o.written && o.err == -EIO && o.sense == TAPE_SENSE_EOM &&
	      o.position_lost, "deferred VOLUME OVERFLOW: EIO, not written, position lost");
	o = ssc_write_outcome(0, SSC_STATUS_BUSY, NULL, 0, NULL);
	CHECK(!o.written && o.err == -EBUSY && !o.position_lost, "BUSY: not executed, EBUSY");
	o = ssc_write_outcome(0, SSC_STATUS_CHECK_CONDITION, NULL, 0, NULL);
	CHECK(!o.written && o.err == -EIO && o.sense == TAPE_SENSE_HARDWARE && o.position_lost,
	      "CHECK CONDITION without sense: EIO, hardware, position lost");
	o = ssc_write_outcome(-EIO, SSC_STATUS_GOOD, NULL, 0, NULL);
	CHECK(!o.written && o.err == -EIO && o.sense == TAPE_SENSE_HARDWARE && o.position_lost,
	      "transport error: nothing counts, whatever the status says");
	o = ssc_write_outcome(0, 0x40, NULL, 0, NULL);
	CHECK(!o.written && o.err == -EIO && o.position_lost, "unknown status (TASK ABORTED): EIO");
}

/* ---- a simulated SSC drive ------------------------------------------------ */

#define SIM_MAX_OBJ 64

#define SIM_MAX_ATTR 8

struct sim_part {
	unsigned nobj;
	struct { bool fm; uint32_t len; uint8_t *data; } obj[SIM_MAX_OBJ];
	unsigned nattr;
	struct tape_attr attr[SIM_MAX_ATTR];	/* sorted by id */
};

static struct sim {
	bool locate, read_position;	/* features the drive has */
	bool partitions, mam;
	unsigned pos, part, nparts;
	struct sim_part p[TAPE_MAX_PARTITIONS];
	uint8_t pending_additional;	/* from MODE SELECT, used by FORMAT MEDIUM */
	uint16_t pending_sizes[TAPE_MAX_PARTITIONS];
	uint8_t pending_psum;
	bool pending_idp;
	unsigned early_warning_at;	/* writes ending at or past this object warn */
	unsigned overflow_at;		/* writes at or past this object: VOLUME OVERFLOW */
	uint8_t ua_asc;			/* next command gets this UNIT ATTENTION (and a reset) */
	unsigned not_ready;		/* that many commands get NOT READY 04/01, then BOT */
	bool tgt_read_bug;		/* READ moves alloc - B bytes when alloc > B, none when < B */
	bool space_refused;		/* SPACE: DATA PROTECT, as tgt on a read-only LU */
	bool tgt;			/* tgt 1.0.85's SPACE, READ and BLANK CHECK (see test-hardware.md) */
	uint32_t block_length;		/* of the mode block descriptor: 0 variable */
	bool pew;			/* device configuration extension page (PEWS) */
	uint16_t pews;
	unsigned mode_selects;
	unsigned commands, spaces, reads;
	uint32_t last_alloc;		/* of the last READ */
	bool no_medium, fixed_only;
	uint8_t peripheral_type;
} sim;

#define SIMP (sim.p[sim.part])

static void sim_add_attr(struct sim_part *sp, const struct tape_attr *a)
{
	unsigned i;

	for (i = 0; i < sp->nattr && sp->attr[i].id < a->id; i++)
		;
	if (i < sp->nattr && sp->attr[i].id == a->id) {
		sp->attr[i] = *a;
		return;
	}
	if (sp->nattr == SIM_MAX_ATTR)
		return;
	memmove(&sp->attr[i + 1], &sp->attr[i], (sp->nattr - i) * sizeof(sp->attr[0]));
	sp->attr[i] = *a;
	sp->nattr++;
}

/* MAM of a fresh partition: 0000h remaining and 0001h maximum capacity, MiB. */
static void sim_fresh_mam(struct sim_part *sp, uint64_t mib)
{
	struct tape_attr a;
	int i;

	memset(&a, 0, sizeof(a));
	a.length = 8;
	for (i = 0; i < 8; i++)
		a.value[i] = (uint8_t)(mib >> (56 - 8 * i));
	a.id = 0x0000;
	sim_add_attr(sp, &a);
	a.id = 0x0001;
	sim_add_attr(sp, &a);
}

static void sim_reset_ex(bool locate, bool read_position, bool partitions, bool mam)
{
	unsigned i, j;

	for (j = 0; j < TAPE_MAX_PARTITIONS; j++)
		for (i = 0; i < sim.p[j].nobj; i++)
			free(sim.p[j].obj[i].data);
	memset(&sim, 0, sizeof(sim));
	sim.locate = locate;
	sim.read_position = read_position;
	sim.partitions = partitions;
	sim.mam = mam;
	sim.nparts = 1;
	sim.peripheral_type = SSC_PERIPHERAL_TAPE;
	sim.early_warning_at = sim.overflow_at = SIM_MAX_OBJ;
	if (mam)
		sim_fresh_mam(&sim.p[0], 1000);
}

static void sim_reset(bool locate, bool read_position)
{
	sim_reset_ex(locate, read_position, false, false);
}

static int sim_sense(uint8_t *sense, size_t *sense_len, uint8_t *status, uint8_t flags_key,
		     bool info_valid, int32_t info, uint8_t asc, uint8_t ascq)
{
	*sense_len = fixed_sense(sense, info_valid, flags_key, info, asc, ascq);
	*status = SSC_STATUS_CHECK_CONDITION;
	return 0;
}

static void sim_truncate(unsigned at)
{
	while (SIMP.nobj > at)
		free(SIMP.obj[--SIMP.nobj].data);
}

static uint32_t be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static int32_t sbe24(const uint8_t *p)
{
	uint32_t v = be24(p);

	return (v & 0x800000) ? (int32_t)(v | 0xFF000000u) : (int32_t)v;
}

/* SPACE as tgt does it (usr/bs_ssc.c of tgt 1.0.85, as documented). */
static int sim_space_tgt(int code, int32_t count, uint8_t *status, uint8_t *sense, size_t *sl)
{
	if (code == 0) {	/* blocks: every object counts, no stop at filemarks */
		for (; count > 0; count--) {
			if (sim.pos < SIMP.nobj)
				sim.pos++;
			if (sim.pos == SIMP.nobj)
				return sim_sense(sense, sl, status, 0, false, 0, 0x00, 0x05);
		}
		for (; count < 0; count++)
			if (sim.pos > 0)
				sim.pos--;	/* and past BOT: GOOD */
		return 0;
	}
	if (count > 0) {	/* filemarks forward: right, EOD without residue */
		while (count > 0) {
			if (sim.pos == SIMP.nobj)
				return sim_sense(sense, sl, status, 0, false, 0, 0x00, 0x05);
			if (SIMP.obj[sim.pos].fm)
				count--;
			sim.pos++;
		}
		return 0;
	}
	for (count = -count; count > 0;) {	/* backward: one object too far */
		if (sim.pos == 0)
			return sim_sense(sense, sl, status, 0, false, 0, 0x00, 0x04);
		if (sim.pos < SIMP.nobj && SIMP.obj[sim.pos].fm)
			count--;
		sim.pos--;
	}
	return 0;
}

/* SPACE over blocks or filemarks the SSC way: stop at filemarks / BOT / EOD with a residue. */
static int sim_space(int code, int32_t count, uint8_t *status, uint8_t *sense, size_t *sl)
{
	int32_t done = 0;

	sim.spaces++;
	if (sim.space_refused)
		return sim_sense(sense, sl, status, SSC_KEY_DATA_PROTECT, false, 0, 0x27, 0);
	if (code == 3) {
		sim.pos = SIMP.nobj;
		return 0;
	}
	if (sim.tgt)
		return sim_space_tgt(code, count, status, sense, sl);
	while (done != count) {
		if (count > 0) {
			if (sim.pos >= SIMP.nobj)
				return sim_sense(sense, sl, status, SSC_KEY_BLANK_CHECK, true,
						 count - done, 0x00, 0x05);
			if (code == 0 && SIMP.obj[sim.pos].fm) {
				sim.pos++;	/* EOP side of the filemark */
				return sim_sense(sense, sl, status, 0x80, true, count - done, 0, 1);
			}
			if (code == 1 && !SIMP.obj[sim.pos].fm) {
				sim.pos++;
				continue;
			}
			sim.pos++;
			done++;
		} else {
			if (sim.pos == 0)
				return sim_sense(sense, sl, status, 0x40, true, count - done, 0x00, 0x04);
			if (code == 0 && SIMP.obj[sim.pos - 1].fm) {
				sim.pos--;	/* BOP side of the filemark */
				return sim_sense(sense, sl, status, 0x80, true, count - done, 0, 1);
			}
			sim.pos--;
			if (code == 1 && !SIMP.obj[sim.pos].fm)
				continue;
			done--;
		}
	}
	return 0;
}

int sim_xport(const struct ssc_cdb *cdb, int dir, void *buf, size_t len,
	      uint8_t *status, uint8_t *sense, size_t *sl)
{
	const uint8_t *c = cdb->b;
	uint8_t *out = buf;
	uint64_t target;

	sim.commands++;
	*status = SSC_STATUS_GOOD;
	*sl = 0;
	if (sim.not_ready) {
		sim.not_ready--;
		sim.pos = 0;
		sim.part = 0;
		return sim_sense(sense, sl, status, SSC_KEY_NOT_READY, false, 0, 0x04, 0x01);
	}
	if (sim.ua_asc) {
		uint8_t asc = sim.ua_asc;

		sim.ua_asc = 0;
		sim.pos = 0;	/* a reset rewinds */
		return sim_sense(sense, sl, status, SSC_KEY_UNIT_ATTENTION, false, 0, asc, 0);
	}
	if (dir == TAPEDMA_DIR_FROM_DEVICE && len)
		memset(buf, 0xEE, len);	/* what was not transferred is visible */
	switch (c[0]) {
	case SSC_OP_TEST_UNIT_READY:
		if (sim.no_medium)
			return sim_sense(sense, sl, status, SSC_KEY_NOT_READY, false, 0, 0x3A, 0);
		return 0;
	case SSC_OP_PREVENT_ALLOW:
		return 0;
	case SSC_OP_INQUIRY:
		if (c[1] & 1) {
			static const uint8_t vpd80[] = { 1, 0x80, 0, 4, 'S', 'N', '4', '2' };

			memcpy(out, vpd80, len < sizeof(vpd80) ? len : sizeof(vpd80));
			return 0;
		}
		memset(out, ' ', 36);
		out[0] = sim.peripheral_type;
		out[1] = 0x80;
		memcpy(out + 8, "SIM", 3);
		memcpy(out + 16, "SSC-DRIVE", 9);
		memcpy(out + 32, "1.0", 3);
		return 0;
	case SSC_OP_READ_BLOCK_LIMITS:
		out[0] = 0; out[1] = 0x10; out[2] = 0; out[3] = 0; out[4] = 0; out[5] = 1;
		if (sim.fixed_only) {
			out[1] = 0; out[2] = 2; out[4] = 2; out[5] = 0;	/* 512 .. 512 */
		}
		return 0;
	case SSC_OP_MODE_SENSE6:
		if ((c[2] & 0x3F) == SSC_PAGE_MEDIUM_PARTITION && !c[3] && sim.partitions) {
			unsigned k;

			memset(out, 0, 4 + 8 + 2 * TAPE_MAX_PARTITIONS);
			out[0] = 3 + 8 + 2 * TAPE_MAX_PARTITIONS;
			out[4] = 0x91;
			out[5] = 6 + 2 * TAPE_MAX_PARTITIONS;
			out[6] = TAPE_MAX_PARTITIONS - 1;
			out[7] = (uint8_t)(sim.nparts - 1);
			out[8] = 0x20 | 2 << 3;	/* IDP, MB */
			for (k = 0; k < sim.nparts; k++)
				out[12 + 2 * k + 1] = 100;
			return 0;
		}
		if ((c[2] & 0x3F) == SSC_PAGE_DEVICE_CONFIGURATION && c[3] == 1 && sim.pew) {
			memset(out, 0, 4 + 32);
			out[0] = 3 + 32;
			out[4] = 0x50; out[5] = 0x01; out[7] = 0x1C;
			out[4 + 6] = (uint8_t)(sim.pews >> 8);
			out[4 + 7] = (uint8_t)sim.pews;
			return 0;
		}
		if ((c[2] & 0x3F) != SSC_PAGE_DEVICE_CONFIGURATION || c[3])
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x24, 0);
		memset(out, 0, 28);
		out[0] = 27; out[2] = 0x10; out[3] = 8;
		out[4] = 0x5A;	/* density */
		out[9] = (uint8_t)(sim.block_length >> 16);
		out[10] = (uint8_t)(sim.block_length >> 8);
		out[11] = (uint8_t)sim.block_length;
		out[12] = 0x10; out[13] = 0x0E;
		return 0;
	case SSC_OP_REWIND:
	case SSC_OP_LOAD_UNLOAD:
		sim.pos = 0;
		sim.part = 0;
		return 0;
	case SSC_OP_READ6: {
		uint32_t alloc = be24(c + 2), rl;

		sim.reads++;
		sim.last_alloc = alloc;
		if (sim.pos >= SIMP.nobj && sim.tgt)	/* phantom EOD: EOM, no information */
			return sim_sense(sense, sl, status, 0x40 | SSC_KEY_BLANK_CHECK, false, 0, 0, 0);
		if (sim.pos >= SIMP.nobj)
			return sim_sense(sense, sl, status, SSC_KEY_BLANK_CHECK, true, (int32_t)alloc, 0, 5);
		if (SIMP.obj[sim.pos].fm) {
			sim.pos++;
			return sim_sense(sense, sl, status, 0x80, true, (int32_t)alloc, 0, 1);
		}
		rl = SIMP.obj[sim.pos].len;
		if (!(sim.tgt_read_bug || sim.tgt) || alloc == rl)
			memcpy(out, SIMP.obj[sim.pos].data, rl < alloc ? rl : alloc);
		else if (alloc > rl)
			memcpy(out, SIMP.obj[sim.pos].data, alloc - rl < rl ? alloc - rl : rl);
		sim.pos++;
		if (rl != alloc)
			return sim_sense(sense, sl, status, 0x20, true, (int32_t)alloc - (int32_t)rl, 0, 0);
		return 0;
	}
	case SSC_OP_WRITE6:
	case SSC_OP_WRITE_FILEMARKS6: {
		uint32_t n = c[0] == SSC_OP_WRITE6 ? 1 : be24(c + 2), i;

		if (n == 0)
			return 0;
		if (sim.pos + n > sim.overflow_at || sim.pos + n > SIM_MAX_OBJ)
			return sim_sense(sense, sl, status, 0x40 | SSC_KEY_VOLUME_OVERFLOW, true,
					 (int32_t)(c[0] == SSC_OP_WRITE6 ? len : n), 0, 2);
		sim_truncate(sim.pos);
		for (i = 0; i < n; i++) {
			SIMP.obj[SIMP.nobj].fm = c[0] == SSC_OP_WRITE_FILEMARKS6;
			SIMP.obj[SIMP.nobj].len = SIMP.obj[SIMP.nobj].fm ? 0 : (uint32_t)len;
			SIMP.obj[SIMP.nobj].data = NULL;
			if (!SIMP.obj[SIMP.nobj].fm) {
				SIMP.obj[SIMP.nobj].data = malloc(len);
				memcpy(SIMP.obj[SIMP.nobj].data, buf, len);
			}
			SIMP.nobj++;
		}
		sim.pos = SIMP.nobj;
		if (sim.pos >= sim.early_warning_at)
			return sim_sense(sense, sl, status, 0x40, false, 0, 0, 2);
		return 0;
	}
	case SSC_OP_MODE_SELECT6: {
		const uint8_t *pg = out + 4 + out[3];

		sim.mode_selects++;
		if (sim.pew && len == 36 && out[3] == 0 && pg[0] == 0x50 && pg[1] == 0x01 &&
		    pg[3] == 0x1C && (c[1] & 0x10)) {
			sim.pews = (uint16_t)(pg[6] << 8 | pg[7]);
			return 0;
		}
		if (len == 12 && out[3] == 8 && (c[1] & 0x10) && out[0] == 0) {
			/* header + block descriptor only, as tgt takes it */
			if (out[4] != 0x5A || out[2] != 0x10)
				return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x26, 0);
			sim.block_length = (uint32_t)out[9] << 16 | (uint32_t)out[10] << 8 | out[11];
			return 0;
		}
		if (!sim.partitions || len < 12 || !(c[1] & 0x10) || out[0] != 0 ||
		    (pg[0] & 0xBF) != SSC_PAGE_MEDIUM_PARTITION || (pg[0] & 0x80) ||
		    (size_t)pg[1] + 2 + 4 + out[3] != len || pg[3] >= TAPE_MAX_PARTITIONS)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x26, 0);
		sim.pending_additional = pg[3];
		for (unsigned k = 0; k < TAPE_MAX_PARTITIONS && 8 + 2 * k + 1 < (size_t)pg[1] + 2; k++)
			sim.pending_sizes[k] = (uint16_t)(pg[8 + 2 * k] << 8 | pg[9 + 2 * k]);
		sim.pending_psum = (pg[4] >> 3) & 3;
		sim.pending_idp = pg[4] & 0x20;
		return 0;
	}
	case SSC_OP_FORMAT_MEDIUM: {
		unsigned k, i;

		if (!sim.partitions)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x20, 0);
		if (sim.pos != 0 || sim.part != 0)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x3B, 0);
		for (k = 0; k < TAPE_MAX_PARTITIONS; k++) {
			for (i = 0; i < sim.p[k].nobj; i++)
				free(sim.p[k].obj[i].data);
			sim.p[k].nobj = 0;
		}
		sim.nparts = (c[2] & 0x0F) == SSC_FORMAT_PARTITION ? sim.pending_additional + 1u : 1;
		for (k = 0; k < sim.nparts && sim.mam; k++)
			sim_fresh_mam(&sim.p[k], 500);
		return 0;
	}
	case SSC_OP_READ_ATTRIBUTE: {
		struct sim_part *sp;
		unsigned first = (unsigned)c[8] << 8 | c[9], k;
		size_t o = 4;

		if (!sim.mam)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x20, 0);
		if (c[7] >= sim.nparts || (c[1] & 0x1F) != SSC_RA_VALUES)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x24, 0);
		sp = &sim.p[c[7]];
		for (k = 0; k < sp->nattr && sp->attr[k].id < first; k++)
			;
		if (k == sp->nattr)	/* nothing at or after the first id */
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x24, 0);
		memset(out, 0, len);
		for (; k < sp->nattr; k++) {
			const struct tape_attr *a = &sp->attr[k];

			if (o + 5 + a->length <= len) {
				out[o] = (uint8_t)(a->id >> 8);
				out[o + 1] = (uint8_t)a->id;
				out[o + 2] = (uint8_t)(a->format | (a->id < 0x0400 ? 0x80 : 0));
				out[o + 4] = (uint8_t)a->length;
				out[o + 3] = (uint8_t)(a->length >> 8);
				memcpy(out + o + 5, a->value, a->length);
			}
			o += 5 + a->length;	/* AVAILABLE DATA counts what did not fit */
		}
		out[0] = (uint8_t)((o - 4) >> 24);
		out[1] = (uint8_t)((o - 4) >> 16);
		out[2] = (uint8_t)((o - 4) >> 8);
		out[3] = (uint8_t)(o - 4);
		return 0;
	}
	case SSC_OP_WRITE_ATTRIBUTE: {
		struct tape_attr a;
		const uint8_t *in = buf;

		if (!sim.mam)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x20, 0);
		if (c[7] >= sim.nparts || len < 9 ||
		    ((size_t)in[0] << 24 | (size_t)in[1] << 16 | (size_t)in[2] << 8 | in[3]) + 4 != len)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x26, 0);
		memset(&a, 0, sizeof(a));
		a.id = (uint16_t)(in[4] << 8 | in[5]);
		a.format = in[6] & 3;
		a.length = (uint16_t)(in[7] << 8 | in[8]);
		if (a.id < 0x0800 || 9u + a.length != len)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x26, 0);
		memcpy(a.value, in + 9, a.length);
		sim_add_attr(&sim.p[c[7]], &a);
		return 0;
	}
	case SSC_OP_SPACE6:
		return sim_space(c[1] & 0x0F, sbe24(c + 2), status, sense, sl);
	case SSC_OP_SPACE16:
		if (c[11] == 0 && c[10] == 0)
			return 0;	/* only the probe (count 0) is used */
		return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x24, 0);
	case SSC_OP_LOCATE10:
	case SSC_OP_LOCATE16:
		if (!sim.locate)
			return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x20, 0);
		target = c[0] == SSC_OP_LOCATE10 ? (uint64_t)c[3] << 24 | (uint64_t)c[4] << 16 |
						   (uint64_t)c[5] << 8 | c[6]
						 : (uint64_t)c[10] << 8 | c[11];
		if (c[1] & 0x02) {	/* CP: change partition */
			unsigned np = c[0] == SSC_OP_LOCATE10 ? c[8] : c[3];

			if (np >= sim.nparts)
				return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x24, 0);
			sim.part = np;
		}
		if (target > SIMP.nobj) {
			sim.pos = SIMP.nobj;
			return sim_sense(sense, sl, status, SSC_KEY_BLANK_CHECK, false, 0, 0, 5);
		}
		sim.pos = (unsigned)target;
		return 0;
	case SSC_OP_READ_POSITION:
		memset(out, 0, len);
		if (!sim.read_position) {
			out[0] = (uint8_t)len;	/* tgt's zeros */
			return 0;
		}
		if ((c[1] & 0x1F) == SSC_RP_LONG) {
			out[0] = sim.pos == 0 ? 0x80 : 0;
			out[7] = (uint8_t)sim.part;
			out[15] = (uint8_t)sim.pos;
		} else {
			out[0] = sim.pos == 0 ? 0x80 : 0;
			out[1] = (uint8_t)sim.part;
			out[7] = (uint8_t)sim.pos;
		}
		return 0;
	default:
		return sim_sense(sense, sl, status, SSC_KEY_ILLEGAL_REQUEST, false, 0, 0x20, 0);
	}
}

/* Put records on the simulated tape as another program would have. */
static void sim_preload(const uint32_t *lens, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		SIMP.obj[i].fm = lens[i] == 0;
		SIMP.obj[i].len = lens[i];
		SIMP.obj[i].data = NULL;
		if (lens[i]) {
			SIMP.obj[i].data = malloc(lens[i]);
			fill_pattern(SIMP.obj[i].data, lens[i], i);
		}
	}
	SIMP.nobj = n;
}

static const uint32_t sim_layout[] = { 1000, 2000, 3000, 0, 4000, 5000, 0, 0, 6000 };
#define SIM_N (sizeof(sim_layout) / sizeof(sim_layout[0]))

static struct tape *sim_open(bool locate, bool read_position)
{
	char err[200] = "";
	struct tape *t = NULL;
	int rc;

	sim_reset(locate, read_position);
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == 0 && t, "open the simulated drive (%d %s)", rc, err);
	return t;
}

static uint64_t sim_where(struct tape *t)
{
	struct tape_position p;

	return tape_read_position(t, &p) < 0 ? UINT64_MAX : p.block;
}

static void sim_space_case(struct tape *t, const char *mode, uint64_t from,
			   enum tape_space_kind kind, int64_t count, int want_rc,
			   enum tape_sense want_sense, uint64_t want_res, uint64_t want_pos)
{
	struct tape_status st;
	int rc = tape_locate(t, 0, from);
	uint64_t pos;

	rc = rc < 0 ? rc - 1000 : tape_space(t, kind, count);
	st = *tape_last(t);
	pos = sim_where(t);
	CHECK(rc == want_rc && st.sense == want_sense && st.residual == want_res &&
	      pos == want_pos && sim.pos == want_pos,
	      "%s: space %s %lld from %llu: rc %d %s residual %llu pos %llu (drive %u)", mode,
	      kind == TAPE_SPACE_RECORDS ? "records" : kind == TAPE_SPACE_FILEMARKS ?
	      "filemarks" : "eod", (long long)count, (unsigned long long)from, rc,
	      tape_sense_name(st.sense), (unsigned long long)st.residual,
	      (unsigned long long)pos, sim.pos);
}

static void sim_scenario(bool locate, bool read_position, const char *mode)
{
	uint8_t *buf = malloc(1 << 20);
	struct tape *t = sim_open(locate, read_position);
	unsigned i;
	ssize_t n;
	int rc;

	if (!t || !buf) {
		free(buf);
		return;
	}
	CHECK(tape_caps(t)->can_locate == locate && tape_caps(t)->can_read_position == read_position,
	      "%s: probe finds locate %d, read position %d", mode, locate, read_position);
	CHECK(strcmp(tape_identity(t)->vendor, "SIM") == 0 &&
	      strcmp(tape_identity(t)->serial, "SN42") == 0, "%s: identity", mode);
	CHECK(tape_caps(t)->max_record == (1u << 20) && tape_caps(t)->min_record == 1,
	      "%s: block limits", mode);
	for (i = 0, rc = 0; i < SIM_N && rc >= 0; i++) {
		if (sim_layout[i] == 0) {
			rc = tape_write_filemarks(t, 1);
		} else {
			fill_pattern(buf, sim_layout[i], i);
			rc = (int)tape_write(t, buf, sim_layout[i]);
		}
	}
	CHECK(rc >= 0 && SIMP.nobj == SIM_N && sim_where(t) == SIM_N, "%s: layout written", mode);
	CHECK_EQ(tape_rewind(t), 0, "rewind");
	for (i = 0; i <= SIM_N; i++) {
		n = tape_read(t, buf, 1 << 20);
		if (i == SIM_N)
			CHECK(n == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD, "%s: EOD", mode);
		else if (sim_layout[i] == 0)
			CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK, "%s: filemark %u", mode, i);
		else
			CHECK(n == (ssize_t)sim_layout[i] && same_pattern(buf, sim_layout[i], i),
			      "%s: record %u reads back (%zd)", mode, i, n);
	}
	for (i = SIM_N + 1; i-- > 0;) {
		rc = tape_locate(t, 0, i);
		CHECK(rc == 0 && sim.pos == i && sim_where(t) == i, "%s: locate %u", mode, i);
	}
	rc = tape_locate(t, 0, SIM_N + 3);
	CHECK(rc == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD && sim.pos == SIM_N,
	      "%s: locate past EOD", mode);

	sim_space_case(t, mode, 0, TAPE_SPACE_RECORDS, 2, 0, TAPE_SENSE_NONE, 0, 2);
	sim_space_case(t, mode, 0, TAPE_SPACE_RECORDS, 5, -EIO, TAPE_SENSE_FILEMARK, 2, 4);
	sim_space_case(t, mode, 8, TAPE_SPACE_RECORDS, 4, -ENODATA, TAPE_SENSE_EOD, 3, SIM_N);
	sim_space_case(t, mode, 6, TAPE_SPACE_RECORDS, -3, -EIO, TAPE_SENSE_FILEMARK, 1, 3);
	sim_space_case(t, mode, 2, TAPE_SPACE_RECORDS, -4, -EIO, TAPE_SENSE_BOT, 2, 0);
	sim_space_case(t, mode, 0, TAPE_SPACE_FILEMARKS, 2, 0, TAPE_SENSE_NONE, 0, 7);
	sim_space_case(t, mode, 8, TAPE_SPACE_FILEMARKS, -2, 0, TAPE_SENSE_NONE, 0, 6);
	sim_space_case(t, mode, 5, TAPE_SPACE_FILEMARKS, -2, -EIO, TAPE_SENSE_BOT, 1, 0);
	sim_space_case(t, mode, 1, TAPE_SPACE_FILEMARKS, 4, -ENODATA, TAPE_SENSE_EOD, 1, SIM_N);
	sim_space_case(t, mode, 1, TAPE_SPACE_EOD, 0, 0, TAPE_SENSE_NONE, 0, SIM_N);
	tape_close(t);

	/* a fresh handle on a tape written by someone else */
	t = sim_open(locate, read_position);
	if (!t) {
		free(buf);
		return;
	}
	sim_preload(sim_layout, SIM_N);
	rc = tape_space(t, TAPE_SPACE_EOD, 0);
	CHECK(rc == 0 && sim_where(t) == SIM_N && sim.pos == SIM_N,
	      "%s: fresh handle finds EOD (%d, %llu)", mode, rc, (unsigned long long)sim_where(t));
	sim_space_case(t, mode, SIM_N, TAPE_SPACE_FILEMARKS, -1, 0, TAPE_SENSE_NONE, 0, 7);
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK, "%s: ... at the last filemark", mode);
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == 6000 && same_pattern(buf, 6000, 8), "%s: ... then the last record", mode);

	/* a drive reset: the position is gone, and nobody may pretend otherwise */
	rc = tape_locate(t, 0, 4);
	sim.ua_asc = 0x29;
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == -EIO && tape_last(t)->sense == TAPE_SENSE_UNIT_ATTENTION &&
	      tape_last(t)->asc == 0x29, "%s: read after a reset: EIO, unit attention (%zd)", mode, n);
	if (!read_position)
		CHECK(sim_where(t) == UINT64_MAX, "%s: tracked position is unknown after a reset", mode);
	rc = tape_locate(t, 0, 4);
	n = tape_read(t, buf, 1 << 20);
	CHECK(rc == 0 && n == 4000 && same_pattern(buf, 4000, 4), "%s: locate recovers", mode);
	/* not ready for a while (a cartridge swap on tgt): no silent retry at BOT */
	rc = tape_locate(t, 0, 5);
	sim.not_ready = 3;
	n = tape_read(t, buf, 1 << 20);
	CHECK(n < 0 && tape_last(t)->sense == TAPE_SENSE_NOT_READY,
	      "%s: read while not ready fails (%zd)", mode, n);
	if (!read_position)
		CHECK(sim_where(t) == UINT64_MAX, "%s: ... and the tracked position is gone", mode);
	rc = tape_rewind(t);
	CHECK(rc == 0 && sim.not_ready == 0, "%s: rewind waits until the drive is ready", mode);
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == -EIO && tape_last(t)->sense == TAPE_SENSE_UNIT_ATTENTION,
	      "%s: the next read reports that the cartridge may have changed (%zd)", mode, n);
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == 1000 && same_pattern(buf, 1000, 0), "%s: ... once; then it reads from BOT", mode);
	rc = tape_locate(t, 0, 5);
	n = tape_read(t, buf, 1 << 20);
	CHECK(rc == 0 && n == 5000 && same_pattern(buf, 5000, 5), "%s: locate works again", mode);

	/* a medium change reported to a question is not lost */
	sim.ua_asc = 0x28;
	{
		struct tape_medium med;

		rc = tape_medium_info(t, &med);
		CHECK(rc == 0, "%s: medium info absorbs the attention (%d)", mode, rc);
	}
	rc = tape_locate(t, 0, 2);
	CHECK(rc == -EIO && tape_last(t)->sense == TAPE_SENSE_UNIT_ATTENTION,
	      "%s: ... and the next locate reports it (%d)", mode, rc);
	rc = tape_locate(t, 0, 2);
	n = tape_read(t, buf, 1 << 20);
	CHECK(rc == 0 && n == 3000 && same_pattern(buf, 3000, 2), "%s: then locate works", mode);
	/* a medium change met by a write: reported by the write, nothing written */
	{
		unsigned before = SIMP.nobj;

		rc = tape_locate(t, 0, SIM_N);
		sim.ua_asc = 0x28;
		n = tape_write(t, buf, 100);
		CHECK(rc == 0 && n == -EIO && tape_last(t)->sense == TAPE_SENSE_UNIT_ATTENTION &&
		      SIMP.nobj == before, "%s: write after a medium change: EIO, not written (%zd)",
		      mode, n);
	}
	/* a unit attention on a command that can be repeated is absorbed */
	sim.ua_asc = 0x2A;
	rc = tape_rewind(t);
	CHECK(rc == 0 && sim.pos == 0, "%s: rewind repeats after a unit attention", mode);
	tape_close(t);
	free(buf);
}

/* A drive with LOCATE, partitions and MAM: what LTFS needs from an LTO drive. */
static void test_backend_partitions(void)
{
	char err[200] = "";
	uint8_t buf[4096];
	uint64_t sizes[2] = { 50 * 1000 * 1000, 0 };
	struct tape_medium m;
	struct tape_position pos;
	struct tape_attr a, b;
	struct tape *t = NULL;
	ssize_t n;
	int rc;

	sim_reset_ex(true, true, true, true);
	sim.pew = true;
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == 0 && t, "partitioned drive opens (%d %s)", rc, err);
	if (!t)
		return;
	CHECK(tape_caps(t)->can_set_early_warning, "probe: programmable early warning");
	rc = tape_set_early_warning(t, 5 * 1000 * 1000 + 1);
	CHECK(rc == 0 && sim.pews == 6, "early warning 5 MB + 1 byte: PEWS 6 MB (rc %d, %u)",
	      rc, sim.pews);
	rc = tape_set_early_warning(t, 0);
	CHECK(rc == 0 && sim.pews == 0, "early warning 0: PEWS 0");
	CHECK(tape_caps(t)->max_partitions == TAPE_MAX_PARTITIONS && tape_caps(t)->can_format &&
	      tape_caps(t)->has_mam, "probe: %u partitions, format, MAM",
	      tape_caps(t)->max_partitions);
	rc = tape_medium_info(t, &m);
	CHECK(rc == 0 && m.partitions == 1 && m.capacity[0] == 1000ull << 20 &&
	      m.remaining[0] == 1000ull << 20, "medium info: 1 partition, capacity from MAM");
	rc = tape_format(t, 2, sizes);
	CHECK(rc == 0 && sim.nparts == 2 && sim.pos == 0 && sim.part == 0,
	      "format into 2 partitions (rc %d, drive has %u)", rc, sim.nparts);
	CHECK(sim.pending_idp && sim.pending_psum == 2 && sim.pending_sizes[0] == 50 &&
	      sim.pending_sizes[1] == 0xFFFF, "partition page: initiator defined, 50 MB + the rest");
	rc = tape_medium_info(t, &m);
	CHECK(rc == 0 && m.partitions == 2 && m.capacity[1] == 500ull << 20,
	      "medium info after format: 2 partitions");

	rc = tape_locate(t, 1, 0);
	fill_pattern(buf, sizeof(buf), 101);
	n = tape_write(t, buf, sizeof(buf));
	CHECK(rc == 0 && n == (ssize_t)sizeof(buf) && sim.p[1].nobj == 1 && sim.p[0].nobj == 0,
	      "locate to partition 1 and write there");
	rc = tape_read_position(t, &pos);
	CHECK(rc == 0 && pos.partition == 1 && pos.block == 1, "read position: partition 1, block 1");
	rc = tape_locate(t, 0, 0);
	fill_pattern(buf, 100, 100);
	n = tape_write(t, buf, 100);
	CHECK(rc == 0 && n == 100 && sim.p[0].nobj == 1 && sim.p[1].nobj == 1,
	      "write in partition 0 leaves partition 1 alone");
	rc = tape_locate(t, 1, 0);
	n = tape_read(t, buf, sizeof(buf));
	CHECK(rc == 0 && n == (ssize_t)sizeof(buf) && same_pattern(buf, sizeof(buf), 101),
	      "partition 1 reads back");
	rc = tape_locate(t, 1, 5);
	CHECK(rc == -ENODATA && tape_last(t)->sense == TAPE_SENSE_EOD &&
	      tape_read_position(t, &pos) == 0 && pos.partition == 1 && pos.block == 1,
	      "locate past EOD of partition 1: ENODATA, at its EOD");
	rc = tape_locate(t, 3, 0);
	CHECK(rc == -EINVAL && tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST,
	      "locate to a partition the medium lacks: EINVAL (%d)", rc);

	memset(&a, 0, sizeof(a));
	a.id = TAPE_ATTR_BARCODE;
	a.format = TAPE_ATTR_ASCII;
	a.length = 8;
	memcpy(a.value, "FT0001L6", 8);
	rc = tape_set_attr(t, 1, &a);
	CHECK_EQ(rc, 0, "set barcode attribute on partition 1");
	memset(&b, 0, sizeof(b));
	rc = tape_get_attr(t, 1, TAPE_ATTR_BARCODE, &b);
	CHECK(rc == 0 && b.id == a.id && b.format == a.format && b.length == 8 &&
	      memcmp(b.value, "FT0001L6", 8) == 0, "read it back");
	rc = tape_get_attr(t, 0, TAPE_ATTR_BARCODE, &b);
	CHECK(rc == -ENOENT && tape_last(t)->sense == TAPE_SENSE_ILLEGAL_REQUEST,
	      "absent attribute (beyond the last id): ENOENT (%d)", rc);
	rc = tape_get_attr(t, 1, TAPE_ATTR_APPLICATION_VENDOR, &b);
	CHECK_EQ(rc, -ENOENT, "absent attribute (a later id exists): ENOENT");
	a.id = 0x0001;
	CHECK(tape_set_attr(t, 0, &a) < 0, "the drive's own attributes cannot be written");
	tape_close(t);

	/* the same drive without LOCATE: positions are tracked in one partition */
	sim_reset_ex(false, false, true, false);
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == 0 && t && tape_caps(t)->max_partitions == 1 && !tape_caps(t)->can_format &&
	      !tape_caps(t)->has_mam, "no LOCATE: one partition, no format, no MAM");
	CHECK(t && !tape_caps(t)->can_set_early_warning &&
	      tape_set_early_warning(t, 1000) == -EOPNOTSUPP,
	      "no device configuration extension page: early warning EOPNOTSUPP");
	tape_close(t);
}

/* ---- differential: the backend on the simulated drive vs the image backend ---- */

static uint32_t rnd_state;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return n ? rnd_state % n : 0;
}

static struct tape *open_sim_keep(void)
{
	char err[200];
	struct tape *t = NULL;

	if (tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err)) < 0)
		return NULL;
	return t;
}

/* Both handles answered the same way, down to the position. */
static int agree(struct tape *ref, struct tape *sut, long long r1, long long r2,
		 const char *op, unsigned step)
{
	const struct tape_status *a = tape_last(ref), *b = tape_last(sut);
	struct tape_status sa = *a, sb = *b;
	struct tape_position p1 = { 7, 7 }, p2 = { 8, 8 };
	int q1 = tape_read_position(ref, &p1), q2 = tape_read_position(sut, &p2);

	if (r1 == r2 && sa.sense == sb.sense && sa.residual == sb.residual && q1 == q2 &&
	    p1.block == p2.block && p1.partition == p2.partition)
		return 1;
	printf("# step %u %s: image rc %lld %s res %llu pos %llu/%d | tapedma rc %lld %s res %llu pos %llu/%d (drive %u)\n",
	       step, op, r1, tape_sense_name(sa.sense), (unsigned long long)sa.residual,
	       (unsigned long long)p1.block, q1, r2, tape_sense_name(sb.sense),
	       (unsigned long long)sb.residual, (unsigned long long)p2.block, q2, sim.pos);
	return 0;
}

static void differential(const char *mode, bool locate, bool rp, bool tgt, unsigned parts,
			 uint32_t seed, unsigned steps)
{
	static uint8_t b1[1 << 20], b2[1 << 20];
	char dir[] = "/tmp/test_ssc.XXXXXX", path[64], err[200];
	struct tape_image_params ip;
	struct tape *ref = NULL, *sut;
	unsigned step, ok = 1;

	if (!mkdtemp(dir)) {
		CHECK(0, "%s: temporary directory", mode);
		return;
	}
	snprintf(path, sizeof(path), "%s/ref.img", dir);
	memset(&ip, 0, sizeof(ip));
	ip.size = 64u << 20;
	ip.max_record = 1u << 20;
	ip.partitions = parts;
	ip.partition_size[0] = parts > 1 ? 16u << 20 : 0;
	if (tape_image_create(path, &ip, err, sizeof(err)) < 0 ||
	    tape_open(path, 0, &ref, err, sizeof(err)) < 0) {
		CHECK(0, "%s: reference image: %s", mode, err);
		rmdir(dir);
		return;
	}
	sim_reset_ex(locate, rp, parts > 1, false);
	sim.nparts = parts;
	sim.tgt = tgt;
	sut = open_sim_keep();
	rnd_state = seed;
	for (step = 0; step < steps && sut && ok; step++) {
		long long r1, r2;
		int64_t cnt;
		uint64_t blk;
		size_t len;
		char op[64];

		switch (rnd(12)) {
		case 0: case 1: case 2:
			len = 1 + rnd(rnd(4) ? 3000 : 70000);
			if (sim.pos + 1 >= SIM_MAX_OBJ)
				len = 0;
			snprintf(op, sizeof(op), "write %zu", len);
			if (!len)
				continue;
			fill_pattern(b1, len, step);
			r1 = tape_write(ref, b1, len);
			r2 = tape_write(sut, b1, len);
			break;
		case 3:
			cnt = rnd(3);
			if (sim.pos + (unsigned)cnt >= SIM_MAX_OBJ)
				continue;
			snprintf(op, sizeof(op), "filemarks %lld", (long long)cnt);
			r1 = tape_write_filemarks(ref, (unsigned)cnt);
			r2 = tape_write_filemarks(sut, (unsigned)cnt);
			break;
		case 4: case 5: case 6:
			len = rnd(3) == 0 ? 1 + rnd(5000) : sizeof(b1);
			snprintf(op, sizeof(op), "read %zu", len);
			memset(b1, 1, len);
			memset(b2, 2, len);
			r1 = tape_read(ref, b1, len);
			r2 = tape_read(sut, b2, len);
			if (r1 == r2 && (r1 > 0 || r1 == -EOVERFLOW) &&
			    memcmp(b1, b2, r1 > 0 && (size_t)r1 < len ? (size_t)r1 : len) != 0) {
				printf("# step %u %s: data differs\n", step, op);
				ok = 0;
			}
			break;
		case 7: {
			uint32_t part = rnd(parts);

			blk = rnd(sim.p[part].nobj + 4);
			snprintf(op, sizeof(op), "locate %u:%llu", part, (unsigned long long)blk);
			r1 = tape_locate(ref, part, blk);
			r2 = tape_locate(sut, part, blk);
			break;
		}
		case 8:
			cnt = (int64_t)rnd(11) - 5;
			snprintf(op, sizeof(op), "space records %lld", (long long)cnt);
			r1 = tape_space(ref, TAPE_SPACE_RECORDS, cnt);
			r2 = tape_space(sut, TAPE_SPACE_RECORDS, cnt);
			break;
		case 9:
			cnt = (int64_t)rnd(7) - 3;
			snprintf(op, sizeof(op), "space filemarks %lld", (long long)cnt);
			r1 = tape_space(ref, TAPE_SPACE_FILEMARKS, cnt);
			r2 = tape_space(sut, TAPE_SPACE_FILEMARKS, cnt);
			break;
		case 10:
			snprintf(op, sizeof(op), "space eod");
			r1 = tape_space(ref, TAPE_SPACE_EOD, 0);
			r2 = tape_space(sut, TAPE_SPACE_EOD, 0);
			break;
		default:
			/* a fresh handle knows nothing of the tape (and starts at BOT) */
			snprintf(op, sizeof(op), "reopen");
			tape_close(sut);
			sut = open_sim_keep();
			if (!sut) {
				printf("# step %u: reopen failed\n", step);
				ok = 0;
				continue;
			}
			r1 = tape_rewind(ref);
			r2 = 0;
			break;
		}
		if (!agree(ref, sut, r1, r2, op, step))
			ok = 0;
	}
	CHECK(ok && sut, "%s: %u random operations (seed %u) agree with the image backend",
	      mode, step, seed);
	if (parts > 1)
		CHECK(sim.p[0].nobj > 0 && sim.p[1].nobj > 0,
		      "%s: both partitions hold data (%u, %u objects)", mode, sim.p[0].nobj,
		      sim.p[1].nobj);
	tape_close(sut);
	tape_close(ref);
	unlink(path);
	rmdir(dir);
}

static void test_backend_differential(void)
{
	static const uint32_t seeds[] = { 1, 2, 3, 2026, 77777 };
	unsigned i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		differential("native", true, true, false, 1, seeds[i], 400);
		differential("native, 2 partitions", true, true, false, 2, seeds[i], 400);
		differential("SSC, tracked", false, false, false, 1, seeds[i], 400);
		differential("tgt quirks", false, false, true, 1, seeds[i], 400);
	}
	sim_reset(false, false);
}

static void test_backend_open_failures(void)
{
	char err[200];
	struct tape *t = (struct tape *)&err;	/* must be reset to NULL */
	int rc;

	sim_reset(false, false);
	sim.no_medium = true;
	err[0] = 0;
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == -ENOMEDIUM && !t && strstr(err, "no tape loaded"),
	      "no cartridge: ENOMEDIUM, '%s'", err);
	sim_reset(false, false);
	sim.peripheral_type = 0x00;
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == -ENODEV && !t && strstr(err, "not a tape drive"),
	      "a disk: ENODEV, '%s'", err);
	sim_reset(false, false);
	sim.fixed_only = true;
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == -EOPNOTSUPP && !t && strstr(err, "fixed"),
	      "fixed-block-only drive: EOPNOTSUPP, '%s'", err);
	sim_reset(false, false);
	sim.ua_asc = 0x29;	/* power on: the first command meets a unit attention */
	rc = tape_tapedma_open("/dev/sim", 0, &t, err, sizeof(err));
	CHECK(rc == 0 && t, "unit attention at open is absorbed (%d)", rc);
	tape_close(t);
	sim_reset(false, false);
}

static void test_backend_sim(void)
{
	static const uint32_t odd[] = { 3u << 20, (3u << 20) / 2, 100 };
	uint8_t *buf = malloc(1 << 20);
	struct tape *t;
	ssize_t n;
	int rc;

	sim_scenario(true, true, "native");
	sim_scenario(false, false, "tracked");
	sim_scenario(true, false, "locate only");

	/* records bigger than READ BLOCK LIMITS says, written elsewhere */
	t = sim_open(false, false);
	if (!t || !buf) {
		free(buf);
		return;
	}
	sim_preload(odd, 3);
	sim.tgt_read_bug = true;
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == -EOVERFLOW && tape_last(t)->sense == TAPE_SENSE_RECORD_LENGTH &&
	      tape_last(t)->residual == (3u << 20) && same_pattern(buf, 1 << 20, 0) &&
	      sim_where(t) == 1, "3 MiB record into 1 MiB: EOVERFLOW, first MiB, passed");
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == -EOVERFLOW && tape_last(t)->residual == (3u << 20) / 2 &&
	      same_pattern(buf, 1 << 20, 1) && sim_where(t) == 2,
	      "1.5 MiB record (B < L < 2B for L = 2 MiB): read again, first MiB");
	n = tape_read(t, buf, 1 << 20);
	CHECK(n == 100 && same_pattern(buf, 100, 2) && sim_where(t) == 3, "then a small record");
	tape_close(t);

	/* a drive left in fixed-block mode is switched to variable blocks */
	sim_reset(false, false);
	sim.block_length = 512;
	{
		char err[200];
		struct tape *t2 = NULL;

		rc = tape_tapedma_open("/dev/sim", 0, &t2, err, sizeof(err));
		CHECK(rc == 0 && sim.block_length == 0 && sim.mode_selects == 1,
		      "fixed 512-byte mode at open: MODE SELECT to variable, density kept");
		tape_close(t2);
		sim_reset(false, false);
		rc = tape_tapedma_open("/dev/sim", 0, &t2, err, sizeof(err));
		CHECK(rc == 0 && sim.mode_selects == 0, "variable mode already: no MODE SELECT");
		tape_close(t2);
	}

	/* a drive that refuses SPACE: positions are reached by reading */
	t = sim_open(false, false);
	if (!t) {
		free(buf);
		return;
	}
	sim_preload(sim_layout, SIM_N);
	sim.space_refused = true;
	sim_space_case(t, "no SPACE", 0, TAPE_SPACE_EOD, 0, 0, TAPE_SENSE_NONE, 0, SIM_N);
	rc = tape_locate(t, 0, 5);
	n = tape_read(t, buf, 1 << 20);
	CHECK(rc == 0 && n == 5000 && same_pattern(buf, 5000, 5), "no SPACE: locate 5 (backward)");
	sim_space_case(t, "no SPACE", 0, TAPE_SPACE_FILEMARKS, 2, 0, TAPE_SENSE_NONE, 0, 7);
	sim_space_case(t, "no SPACE", 8, TAPE_SPACE_RECORDS, -3, -EIO, TAPE_SENSE_FILEMARK, 3, 7);
	sim_space_case(t, "no SPACE", 2, TAPE_SPACE_RECORDS, 3, -EIO, TAPE_SENSE_FILEMARK, 2, 4);
	rc = tape_locate(t, 0, 20);
	CHECK(rc == -ENODATA && sim_where(t) == SIM_N, "no SPACE: locate past EOD");
	CHECK_EQ(sim.spaces, 1, "SPACE was tried once, then not again");
	tape_close(t);

	/* short records in the danger zone: calibrated once, then zero-copy or safe */
	{
		static const uint32_t zone[] = { 300000, 300000, 300000, 0 };
		uint8_t *abuf = NULL;
		int bug;

		if (posix_memalign((void **)&abuf, 4096, 524288)) {
			free(buf);
			return;
		}
		for (bug = 0; bug < 2; bug++) {
			const char *what = bug ? "tgt's read bug" : "SSC drive";
			unsigned r0;

			t = sim_open(false, false);
			if (!t)
				break;
			sim_preload(zone, 4);
			sim.tgt_read_bug = bug;
			r0 = sim.reads;
			n = tape_read(t, abuf, 524288);
			CHECK(n == 300000 && same_pattern(abuf, 300000, 0) && sim.reads - r0 == (bug ? 3u : 4u) &&
			      sim_where(t) == 1, "%s: first 300000-byte record into 512 KiB: whole, "
			      "after calibrating (%zd, %u READs)", what, n, sim.reads - r0);
			r0 = sim.reads;
			n = tape_read(t, abuf, 524288);
			CHECK(n == 300000 && same_pattern(abuf, 300000, 1) && sim.reads - r0 == 1 &&
			      sim.last_alloc == (bug ? 2u << 20 : 524288u),
			      "%s: next one in one READ of %u bytes (%s)", what, sim.last_alloc,
			      bug ? "internal buffer, copied" : "into the caller's buffer");
			n = tape_read(t, abuf + 4, 400000);
			CHECK(n == 300000 && same_pattern(abuf + 4, 300000, 2),
			      "%s: into a 400000-byte buffer at an offset", what);
			n = tape_read(t, abuf, 524288);
			CHECK(n == 0 && tape_last(t)->sense == TAPE_SENSE_FILEMARK, "%s: then the filemark", what);
			tape_close(t);
		}
		free(abuf);
	}

	/* early warning and end of medium */
	t = sim_open(false, false);
	if (!t) {
		free(buf);
		return;
	}
	sim.early_warning_at = 2;
	sim.overflow_at = 3;
	fill_pattern(buf, 512, 9);
	n = tape_write(t, buf, 512);
	CHECK(n == 512 && tape_last(t)->sense == TAPE_SENSE_NONE, "write before early warning");
	n = tape_write(t, buf, 512);
	CHECK(n == 512 && tape_last(t)->sense == TAPE_SENSE_EARLY_WARNING && SIMP.nobj == 2,
	      "write past early warning: written, EARLY_WARNING");
	n = tape_write(t, buf, 512);
	CHECK(n == 512 && tape_last(t)->sense == TAPE_SENSE_EARLY_WARNING && SIMP.nobj == 3,
	      "the last record that fits");
	n = tape_write(t, buf, 512);
	CHECK(n == -ENOSPC && tape_last(t)->sense == TAPE_SENSE_EOM && SIMP.nobj == 3 &&
	      sim_where(t) == 3, "VOLUME OVERFLOW: ENOSPC, nothing written, position kept");
	rc = tape_write_filemarks(t, 1);
	CHECK(rc == -ENOSPC && tape_last(t)->sense == TAPE_SENSE_EOM, "no room for a filemark either");
	tape_close(t);

	test_backend_partitions();
	sim_reset(false, false);
	free(buf);
}

/*
 * The simulated drive has no io_uring: the arena is refused with
 * EOPNOTSUPP and queued writes go synchronously, each retired at once,
 * with the positions and early warning the synchronous path gives.
 */
static void test_backend_queue_fallback(void)
{
	struct tape_queue_state st;
	struct tape_position p;
	uint8_t *arena = NULL;
	struct tape *t;
	uint64_t seq = 0;
	ssize_t n;
	int rc, i;

	if (posix_memalign((void **)&arena, 4096, 1 << 20))
		return;
	t = sim_open(false, false);
	if (!t) {
		free(arena);
		return;
	}
	rc = tape_register_arena(t, arena, 1 << 20);
	CHECK(rc == -EOPNOTSUPP && !tape_queue_async(t),
	      "simulated transport: register_arena says EOPNOTSUPP, queue synchronous (%d)", rc);
	for (i = 0; i < 3; i++) {
		fill_pattern(arena + i * 65536, 65536, (uint32_t)i);
		n = tape_write_queued(t, arena + i * 65536, 65536, &seq);
		if (n != 65536 || seq != (uint64_t)i + 1)
			break;
	}
	CHECK(i == 3, "three queued writes, numbered 1..3 (%d)", i);
	rc = tape_queue_reap(t, 0, &st);
	CHECK(rc == 0 && st.queued == 3 && st.retired == 3 && !st.early_warning && !st.error,
	      "all retired at once, no error");
	CHECK(tape_read_position(t, &p) == 0 && p.block == 3, "position after them: 3");
	CHECK(tape_rewind(t) == 0, "rewind");
	for (i = 0; i < 3; i++) {
		uint8_t *back = arena + (1 << 19);

		n = tape_read(t, back, 65536);
		fill_pattern(arena, 65536, (uint32_t)i);
		if (n != 65536 || memcmp(back, arena, 65536))
			break;
	}
	CHECK(i == 3, "and they read back in order");
	CHECK(tape_register_arena(t, NULL, 0) == 0, "dropping the arena works");
	tape_close(t);
	free(arena);
}

int main(void)
{
	test_cdbs();
	test_timeouts();
	test_sense_tgt();
	test_sense_keys();
	test_sense_formats();
	test_write_outcome();
	test_inquiry_limits_position();
	test_mode();
	test_mam();
	test_backend_open_failures();
	test_backend_sim();
	test_backend_queue_fallback();
	test_backend_differential();
	return tap_done();
}
