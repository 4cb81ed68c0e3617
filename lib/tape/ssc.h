/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ssc.h - SCSI Stream Commands (SSC-3/SSC-4, SPC-4) without a transport.
 *
 * Three things, all pure functions over byte buffers so they can be unit
 * tested on any host:
 *  - CDB builders: each returns the command block, ready for any pass-through
 *    (tapedma.ko, SG_IO).  Counts that do not fit the command's field are the
 *    caller's bug; builders clamp nothing and the callers check ranges with
 *    the SSC_*_MAX constants below.
 *  - Parsers for the data the drive returns (INQUIRY, READ BLOCK LIMITS,
 *    READ POSITION, mode pages, MAM attributes) and builders for the data
 *    we send (MODE SELECT parameter lists, WRITE ATTRIBUTE lists).
 *    Parsers never read past the length they are given and return
 *    -EPROTO (or -ENOENT where said) on malformed input.
 *  - Sense data: decoding of fixed (70h/71h) and descriptor (72h/73h)
 *    format, and the mapping of a decoded sense to what tape.h calls it
 *    (enum tape_sense + errno), which depends on the kind of command.
 *
 * Byte layouts follow SSC-4 and SPC-4; field names in comments are the
 * standard's, so they can be looked up.
 */
#ifndef FUSETAPE_SSC_H
#define FUSETAPE_SSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tape/tape.h"

#define SSC_CDB_MAX 16

/* Field limits of the 6-byte commands. */
#define SSC_XFER6_MAX 0xFFFFFFu			/* READ(6)/WRITE(6) transfer length, WRITE FILEMARKS count */
#define SSC_SPACE6_MAX 0x7FFFFF			/* SPACE(6) count is signed 24-bit */
#define SSC_SPACE6_MIN (-0x800000)

/* Operation codes used by fusetape. */
enum {
	SSC_OP_TEST_UNIT_READY = 0x00,
	SSC_OP_REWIND = 0x01,
	SSC_OP_REQUEST_SENSE = 0x03,
	SSC_OP_FORMAT_MEDIUM = 0x04,
	SSC_OP_READ_BLOCK_LIMITS = 0x05,
	SSC_OP_READ6 = 0x08,
	SSC_OP_WRITE6 = 0x0A,
	SSC_OP_WRITE_FILEMARKS6 = 0x10,
	SSC_OP_SPACE6 = 0x11,
	SSC_OP_INQUIRY = 0x12,
	SSC_OP_MODE_SELECT6 = 0x15,
	SSC_OP_MODE_SENSE6 = 0x1A,
	SSC_OP_LOAD_UNLOAD = 0x1B,
	SSC_OP_PREVENT_ALLOW = 0x1E,
	SSC_OP_LOCATE10 = 0x2B,
	SSC_OP_READ_POSITION = 0x34,
	SSC_OP_REPORT_DENSITY = 0x44,
	SSC_OP_MODE_SELECT10 = 0x55,
	SSC_OP_MODE_SENSE10 = 0x5A,
	SSC_OP_READ_ATTRIBUTE = 0x8C,
	SSC_OP_WRITE_ATTRIBUTE = 0x8D,
	SSC_OP_SPACE16 = 0x91,
	SSC_OP_LOCATE16 = 0x92,
};

/* Sense keys (SPC-4 table 28). */
enum {
	SSC_KEY_NO_SENSE = 0x0,
	SSC_KEY_RECOVERED_ERROR = 0x1,
	SSC_KEY_NOT_READY = 0x2,
	SSC_KEY_MEDIUM_ERROR = 0x3,
	SSC_KEY_HARDWARE_ERROR = 0x4,
	SSC_KEY_ILLEGAL_REQUEST = 0x5,
	SSC_KEY_UNIT_ATTENTION = 0x6,
	SSC_KEY_DATA_PROTECT = 0x7,
	SSC_KEY_BLANK_CHECK = 0x8,
	SSC_KEY_VENDOR_SPECIFIC = 0x9,
	SSC_KEY_COPY_ABORTED = 0xA,
	SSC_KEY_ABORTED_COMMAND = 0xB,
	SSC_KEY_VOLUME_OVERFLOW = 0xD,
	SSC_KEY_MISCOMPARE = 0xE,
};

/* SCSI status bytes (SAM-5). */
enum {
	SSC_STATUS_GOOD = 0x00,
	SSC_STATUS_CHECK_CONDITION = 0x02,
	SSC_STATUS_BUSY = 0x08,
	SSC_STATUS_RESERVATION_CONFLICT = 0x18,
	SSC_STATUS_TASK_SET_FULL = 0x28,
};

struct ssc_cdb {
	uint8_t b[SSC_CDB_MAX];
	uint8_t len;		/* 6, 10, 12 or 16 */
};

/* ---- CDB builders ------------------------------------------------------ */

struct ssc_cdb ssc_cdb_test_unit_ready(void);
struct ssc_cdb ssc_cdb_request_sense(uint8_t alloc);
/* Standard INQUIRY (evpd false, page 0) or a vital product data page. */
struct ssc_cdb ssc_cdb_inquiry(bool evpd, uint8_t page, uint16_t alloc);
struct ssc_cdb ssc_cdb_read_block_limits(void);
/* Variable-length READ(6) (FIXED=0); sili suppresses ILI for short records. */
struct ssc_cdb ssc_cdb_read6(uint32_t len, bool sili);
/* Variable-length WRITE(6) (FIXED=0) of one record of len bytes. */
struct ssc_cdb ssc_cdb_write6(uint32_t len);
struct ssc_cdb ssc_cdb_write_filemarks6(uint32_t count, bool immed);

enum ssc_space_code {
	SSC_SPACE_BLOCKS = 0,
	SSC_SPACE_FILEMARKS = 1,
	SSC_SPACE_SEQ_FILEMARKS = 2,
	SSC_SPACE_EOD = 3,
};
/* count: SSC_SPACE6_MIN .. SSC_SPACE6_MAX; negative moves towards BOP. */
struct ssc_cdb ssc_cdb_space6(enum ssc_space_code code, int32_t count);
struct ssc_cdb ssc_cdb_space16(enum ssc_space_code code, int64_t count);
/* LOCATE to logical object `block`; change_part selects `partition` too. */
struct ssc_cdb ssc_cdb_locate10(uint32_t block, bool change_part,
				uint8_t partition, bool immed);
struct ssc_cdb ssc_cdb_locate16(uint64_t block, bool change_part,
				uint8_t partition, bool immed);

enum ssc_read_position_form {
	SSC_RP_SHORT = 0x00,	/* 20 bytes, 32-bit block numbers */
	SSC_RP_LONG = 0x06,	/* 32 bytes, 64-bit object and file numbers */
};
struct ssc_cdb ssc_cdb_read_position(enum ssc_read_position_form form);
struct ssc_cdb ssc_cdb_rewind(bool immed);
struct ssc_cdb ssc_cdb_load_unload(bool load, bool immed);

/* Page control values for MODE SENSE. */
enum {
	SSC_PC_CURRENT = 0,
	SSC_PC_CHANGEABLE = 1,
	SSC_PC_DEFAULT = 2,
	SSC_PC_SAVED = 3,
};
/* Mode pages fusetape uses. */
enum {
	SSC_PAGE_DEVICE_CONFIGURATION = 0x10,	/* subpage 0x01: ...extension (PEWS) */
	SSC_PAGE_MEDIUM_PARTITION = 0x11,
	SSC_PAGE_ALL = 0x3F,
};
struct ssc_cdb ssc_cdb_mode_sense6(uint8_t pc, uint8_t page, uint8_t subpage,
				   bool dbd, uint8_t alloc);
struct ssc_cdb ssc_cdb_mode_sense10(uint8_t pc, uint8_t page, uint8_t subpage,
				    bool dbd, uint16_t alloc);
/* pf: the page format is SPC's (always true for us). */
struct ssc_cdb ssc_cdb_mode_select6(uint8_t len, bool pf);
struct ssc_cdb ssc_cdb_mode_select10(uint16_t len, bool pf);

/* FORMAT MEDIUM format field. */
enum {
	SSC_FORMAT_DEFAULT = 0,
	SSC_FORMAT_PARTITION = 1,		/* partition per the medium partition page */
	SSC_FORMAT_DEFAULT_THEN_PARTITION = 2,
};
struct ssc_cdb ssc_cdb_format_medium(uint8_t format, bool immed);

/* READ ATTRIBUTE service actions. */
enum {
	SSC_RA_VALUES = 0x00,
	SSC_RA_LIST = 0x01,
};
struct ssc_cdb ssc_cdb_read_attribute(uint8_t service_action, uint8_t partition,
				      uint16_t first_id, uint32_t alloc);
struct ssc_cdb ssc_cdb_write_attribute(uint8_t partition, uint32_t len,
				       bool write_through);
struct ssc_cdb ssc_cdb_report_density_support(bool media, uint16_t alloc);
struct ssc_cdb ssc_cdb_prevent_allow(bool prevent);

/*
 * Timeout class of a command, in milliseconds: long for commands that may
 * wind the whole tape (REWIND, SPACE, LOCATE, LOAD, FORMAT), medium for
 * data transfer, short for everything that only talks to the drive.
 */
#define SSC_TIMEOUT_SHORT_MS (60u * 1000)
#define SSC_TIMEOUT_IO_MS (15u * 60 * 1000)
#define SSC_TIMEOUT_LONG_MS (4u * 3600 * 1000)
unsigned ssc_timeout_ms(const struct ssc_cdb *cdb);

/* ---- returned data ------------------------------------------------------- */

/* Standard INQUIRY data: peripheral device type and identity strings. */
#define SSC_PERIPHERAL_TAPE 0x01
int ssc_parse_inquiry(const uint8_t *buf, size_t len, uint8_t *peripheral_type,
		      struct tape_identity *id);
/* Unit serial number VPD page (80h) into id->serial. */
int ssc_parse_serial_vpd(const uint8_t *buf, size_t len, struct tape_identity *id);

struct ssc_block_limits {
	uint8_t granularity;	/* record lengths should be multiples of 2^granularity */
	uint32_t max;		/* 0: no limit given */
	uint16_t min;
};
int ssc_parse_block_limits(const uint8_t *buf, size_t len,
			   struct ssc_block_limits *out);

struct ssc_position {
	bool bop, eop;		/* at beginning / end of partition */
	bool bpew;		/* beyond programmable early warning */
	bool unknown;		/* drive says the position is not known */
	uint32_t partition;
	uint64_t block;		/* logical object number */
	uint64_t file;		/* long form only: logical file identifier */
};
/* READ POSITION data, short form (20 bytes) or long form (32 bytes). */
int ssc_parse_read_position(const uint8_t *buf, size_t len,
			    enum ssc_read_position_form form,
			    struct ssc_position *out);

/* What a MODE SENSE(6)/(10) answer holds, and where the asked page is. */
struct ssc_mode {
	uint8_t medium_type;
	uint8_t device_specific;	/* bit 7 WP, bits 6-4 buffered mode, 3-0 speed */
	bool write_protected;
	bool have_block_descriptor;
	uint8_t density;
	uint32_t block_length;		/* 0: variable */
	const uint8_t *page;		/* start of the page (page code byte), NULL if absent */
	size_t page_len;		/* bytes of it inside the buffer, header included */
};
/*
 * Parse the mode parameter header and block descriptor of a MODE SENSE
 * answer (ten: the 10-byte command's header) and find page/subpage in it.
 * -ENOENT if the page is not there (header fields are still filled).
 */
int ssc_parse_mode(const uint8_t *buf, size_t len, bool ten, uint8_t page,
		   uint8_t subpage, struct ssc_mode *out);

/*
 * Build a MODE SELECT parameter list: header (no block descriptor) with the
 * device-specific byte the drive reported (WP masked: it is reserved in
 * MODE SELECT; buffered mode must be kept) and one page, whose PS bit is
 * cleared.  Returns the list length or -ENOSPC if cap is too small.
 */
int ssc_build_mode_select(uint8_t *out, size_t cap, bool ten,
			  uint8_t device_specific, const uint8_t *page,
			  size_t page_len);

#define SSC_MAX_PARTITION_SIZES 64
/* Medium partition mode page (11h). */
struct ssc_partition_page {
	uint8_t max_additional;		/* MAXIMUM ADDITIONAL PARTITIONS */
	uint8_t additional;		/* ADDITIONAL PARTITIONS DEFINED */
	bool fdp, sdp, idp;		/* fixed / select / initiator defined partitions */
	uint8_t psum;			/* 0 bytes, 1 KB, 2 MB, 3 10^part_units bytes */
	bool pofm, clear, addp;
	uint8_t medium_format_recognition;
	uint8_t part_units;
	unsigned nsizes;		/* partition size descriptors present */
	uint16_t sizes[SSC_MAX_PARTITION_SIZES];
};
int ssc_parse_partition_page(const uint8_t *page, size_t len,
			     struct ssc_partition_page *out);
/* Page bytes (for ssc_build_mode_select) from *p; returns length or -ENOSPC. */
int ssc_build_partition_page(uint8_t *out, size_t cap,
			     const struct ssc_partition_page *p);
/* Bytes per size unit of a partition page (0 if psum/part_units are invalid). */
uint64_t ssc_partition_unit_bytes(const struct ssc_partition_page *p);

/* Device configuration mode page (10h), the fields we look at. */
struct ssc_device_config {
	uint8_t active_partition;
	bool block_identifiers_supported;	/* BIS */
	bool eeg, sew;				/* enable EOD generation, sync at early warning */
	uint8_t select_compression;		/* SELECT DATA COMPRESSION ALGORITHM */
};
int ssc_parse_device_config_page(const uint8_t *page, size_t len,
				 struct ssc_device_config *out);

/*
 * MAM (READ ATTRIBUTE service action 00h): find attribute id in the
 * returned list.  -ENOENT if it is not in the list, -EPROTO if malformed,
 * -EOVERFLOW if the value is longer than TAPE_ATTR_MAX_VALUE.
 */
int ssc_mam_find(const uint8_t *buf, size_t len, uint16_t id,
		 struct tape_attr *out);
/*
 * Walk all attributes of a READ ATTRIBUTE (00h) answer; fn returns non-zero
 * to stop (that value is returned).  Returns 0 after the last attribute.
 */
int ssc_mam_foreach(const uint8_t *buf, size_t len,
		    int (*fn)(const struct tape_attr *attr, bool read_only, void *arg),
		    void *arg);
/* ATTRIBUTE LIST (service action 01h): ids into ids[], count returned. */
int ssc_mam_parse_id_list(const uint8_t *buf, size_t len, uint16_t *ids,
			  size_t max_ids);
/* WRITE ATTRIBUTE parameter list holding one attribute; length or -ENOSPC. */
int ssc_mam_build(uint8_t *out, size_t cap, const struct tape_attr *attr);

/* ---- sense data --------------------------------------------------------- */

struct ssc_sense {
	bool valid;		/* a fixed or descriptor sense was recognised */
	bool descriptor;	/* descriptor format (72h/73h) */
	bool deferred;		/* about an earlier command (71h/73h) */
	uint8_t key, asc, ascq;
	bool filemark, eom, ili;
	bool info_valid;
	/*
	 * INFORMATION field, sign-extended.  For READ/SPACE on a tape this is
	 * the residue: requested minus actual (negative: record longer than
	 * the request; negative counts for backward spacing).
	 */
	int64_t info;
};
/* Decode sense bytes; returns 0, or -EPROTO if not recognisable. */
int ssc_parse_sense(const uint8_t *buf, size_t len, struct ssc_sense *out);

/* What kind of command a sense belongs to (its meaning depends on it). */
enum ssc_cmd_class {
	SSC_CLASS_READ,		/* READ */
	SSC_CLASS_WRITE,	/* WRITE, WRITE FILEMARKS */
	SSC_CLASS_SPACE,	/* SPACE, LOCATE */
	SSC_CLASS_OTHER,
};

struct ssc_verdict {
	enum tape_sense sense;
	/*
	 * 0: the command did its job and the sense is information (a read
	 * that met a filemark or a short record, a write past early warning).
	 * Negative errno otherwise.
	 */
	int err;
	/* The command was not executed and may be repeated (UNIT ATTENTION, becoming ready). */
	bool retry;
	/* The drive may have lost or changed its position (reset, medium change, not ready). */
	bool position_lost;
};
struct ssc_verdict ssc_sense_verdict(const struct ssc_sense *s,
				     enum ssc_cmd_class cls);

/*
 * What the completion of one variable-length WRITE means, when the answer
 * comes back after later records were already sent (write-behind): a
 * failed record cannot be repeated, because the records behind it may be
 * on the medium by now, so nothing is retried here (UNIT ATTENTION, BUSY
 * included).  Over the same sense the verdicts agree with a synchronous
 * WRITE: early warning and a VOLUME OVERFLOW whose residue is 0 mean
 * written; VOLUME OVERFLOW otherwise means not written, ENOSPC.
 */
struct ssc_write_outcome {
	bool written;		/* the record is the drive's (buffer or medium) */
	int err;		/* 0 if written, else negative errno */
	/* EARLY_WARNING or NONE if written; the failure's sense otherwise */
	enum tape_sense sense;
	/* the drive may not be where the records sent say: ask it (or rewind) */
	bool position_lost;
};
/*
 * xport_err: 0 if the command completed with a SCSI status, negative errno
 * if the transport lost it (status and sense are then ignored).  sense:
 * the sense bytes returned with a CHECK CONDITION (may be NULL, 0).
 * *parsed (if not NULL) receives the decoded sense.
 */
struct ssc_write_outcome ssc_write_outcome(int xport_err, uint8_t status,
					   const uint8_t *sense, size_t sense_len,
					   struct ssc_sense *parsed);

/* Short English text for a sense key, for messages. */
const char *ssc_sense_key_name(uint8_t key);

#endif /* FUSETAPE_SSC_H */
