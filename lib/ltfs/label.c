/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * label.c - the fixed-layout structures of an LTFS volume: the 80-byte
 * ANSI VOL1 label at block 0 of each partition and the 70-byte Volume
 * Coherency Information that LTFS keeps in MAM attribute 0x080C.
 */
#include <errno.h>
#include <string.h>

#include "ltfs/ltfs_internal.h"

void ltfs_vol1_make(char out[LTFS_VOL1_LEN], const char *barcode)
{
	size_t n = barcode ? strlen(barcode) : 0;

	memset(out, ' ', LTFS_VOL1_LEN);
	memcpy(out, "VOL1", 4);
	memcpy(out + 4, barcode ? barcode : "", n > 6 ? 6 : n);
	out[10] = 'L';			/* accessibility: LTFS volume */
	memcpy(out + 24, "LTFS", 4);	/* implementation identifier */
	out[79] = '4';			/* label standard version */
}

int ltfs_vol1_parse(const void *buf, size_t len, char barcode[7])
{
	const char *p = buf;
	int i;

	if (len != LTFS_VOL1_LEN || memcmp(p, "VOL1", 4) || memcmp(p + 24, "LTFS", 4))
		return -EMEDIUMTYPE;
	memcpy(barcode, p + 4, 6);
	barcode[6] = 0;
	for (i = 5; i >= 0 && barcode[i] == ' '; i--)
		barcode[i] = 0;
	return 0;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Layout (value offsets): 0 VCR length (8), 1-8 VCR, 9-16 coherency
 * count (index generation), 17-24 coherency set id (index block), 25-26
 * length of the rest (43), 27-31 "LTFS\0", 32-68 volume UUID + NUL, 69
 * version 1.
 */
void ltfs_vci_make(uint8_t out[LTFS_VCI_LEN], uint64_t vcr, uint64_t gen,
		   uint64_t block, const char *uuid)
{
	memset(out, 0, LTFS_VCI_LEN);
	out[0] = 8;
	put_be(out + 1, vcr, 8);
	put_be(out + 9, gen, 8);
	put_be(out + 17, block, 8);
	put_be(out + 25, 43, 2);
	memcpy(out + 27, "LTFS", 5);
	memcpy(out + 32, uuid, strnlen(uuid, 36));
	out[69] = 1;
}

int ltfs_vci_parse(const uint8_t *buf, size_t len, uint64_t *vcr,
		   uint64_t *gen, uint64_t *block, char uuid[37])
{
	size_t vl, o;
	uint64_t applen;

	if (len < 1)
		return -EINVAL;
	vl = buf[0];
	if (vl < 1 || vl > 8 || len < 1 + vl + 16 + 2)
		return -EINVAL;
	*vcr = get_be(buf + 1, (int)vl);
	o = 1 + vl;
	*gen = get_be(buf + o, 8);
	*block = get_be(buf + o + 8, 8);
	o += 16;
	applen = get_be(buf + o, 2);
	o += 2;
	if ((applen != 43 && applen != 42) || len < o + applen ||
	    memcmp(buf + o, "LTFS", 5))
		return -EINVAL;
	memcpy(uuid, buf + o + 5, 36);
	uuid[36] = 0;
	if (applen == 43 && buf[o + 42] == 0)
		return -EINVAL;		/* version 0: not trustworthy */
	return 0;
}
