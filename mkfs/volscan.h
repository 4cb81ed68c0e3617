/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * volscan.h - read an LTFS volume's labels and index constructs straight
 * from a struct tape, for fsck.fusetape.
 *
 * The checker deliberately does not use the filesystem core's mount path to
 * look at a volume: it must be able to describe a volume the core refuses,
 * and a second, independent reading of the format catches bugs in the
 * writer.  Nothing here writes to the tape.
 *
 * Promises
 *  - Every function returns 0 or a negative errno and, on failure, leaves a
 *    one-line explanation in err[] (VS_ERRLEN bytes).
 *  - Positions are SCSI partition numbers and logical object numbers as in
 *    tape.h; LTFS partition letters appear only in what was parsed.
 *  - An index read belongs to the caller (vs_index_free()).  Its XML is
 *    parsed streaming, never as a whole tree: an index of a million files
 *    is half a gigabyte of text and many gigabytes as a DOM.
 */
#ifndef FUSETAPE_VOLSCAN_H
#define FUSETAPE_VOLSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <libxml/xmlreader.h>

#include "tape/tape.h"

#define VS_ERRLEN 256
#define VS_VOL1_LEN 80

/* One partition's VOL1 and XML label. */
struct vs_label {
	char vol1[VS_VOL1_LEN];	/* raw bytes */
	char version[16];
	char creator[256];
	char formattime[48];
	char uuid[40];
	char location;		/* this partition's letter */
	char index_part;	/* letter of the index partition */
	char data_part;		/* letter of the data partition */
	uint32_t blocksize;
	bool compression;
};

/*
 * Read and parse the label of SCSI partition part.  -EMEDIUMTYPE if the
 * partition does not start with VOL1 + filemark + LTFS label + filemark.
 */
int vs_read_label(struct tape *t, uint32_t part, struct vs_label *lab,
		  char err[VS_ERRLEN]);

/* A location in LTFS terms: partition letter (0 = none) and block. */
struct vs_ptr {
	char part;
	uint64_t block;
};

/* The fields of an index the checker reasons about, plus the tree. */
struct vs_index {
	uint32_t scsi_part;	/* where it was read */
	uint64_t first_block;	/* first record of the index */
	uint64_t end_block;	/* position of its trailing filemark */
	size_t bytes;		/* size of the XML */
	char version[16];
	char creator[256];
	char uuid[40];
	char updatetime[48];
	char volume_name[256];
	uint64_t generation;
	struct vs_ptr self;
	struct vs_ptr prev;	/* part 0: no previous generation */
	uint64_t highest_uid;
	bool has_highest_uid;
	char *xml;		/* the document, for vs_index_reader() */
	size_t xml_len;
};

void vs_index_free(struct vs_index *ix);

/*
 * A streaming reader over the index's XML (already known to be well-formed),
 * for walking the tree without building it; NULL if out of memory.  Free
 * with xmlFreeTextReader() before vs_index_free(ix).
 */
xmlTextReaderPtr vs_index_reader(const struct vs_index *ix);

/*
 * Read the index construct whose first record is at (part, block): the
 * object before it must be a filemark, the records up to the next
 * filemark are the XML.  blocksize bounds each record.  -EBADMSG if it is
 * not a parseable LTFS index (err says why).
 */
int vs_read_index_at(struct tape *t, uint32_t part, uint64_t block,
		     uint32_t blocksize, struct vs_index *ix,
		     char err[VS_ERRLEN]);

/*
 * Find the last complete index construct of SCSI partition part that ends
 * before object `limit` (UINT64_MAX: before end of data), walking back
 * over filemarks.  0 and *ix filled; -ENOENT if there is none.
 * *skipped_candidates counts filemark-delimited regions that looked like
 * an index (start with "<?xml") but did not parse: a torn index write.
 */
int vs_find_last_index(struct tape *t, uint32_t part, uint64_t limit,
		       uint32_t blocksize, struct vs_index *ix,
		       unsigned *skipped_candidates, char err[VS_ERRLEN]);

/* End of data of SCSI partition part (first unused object number). */
int vs_eod(struct tape *t, uint32_t part, uint64_t *eod, char err[VS_ERRLEN]);

/* Child element of n named name (NULL if absent) and its text ("" if empty). */
xmlNodePtr vs_child(xmlNodePtr n, const char *name);
/* Copy the text of child `name` of n into buf; false if the child is absent. */
bool vs_child_text(xmlNodePtr n, const char *name, char *buf, size_t len);
/* Parse the text of child `name` as an unsigned decimal; false if absent or malformed. */
bool vs_child_u64(xmlNodePtr n, const char *name, uint64_t *out);

#endif /* FUSETAPE_VOLSCAN_H */
