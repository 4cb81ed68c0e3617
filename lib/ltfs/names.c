/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * names.c - file names and text as LTFS stores them: UTF-8 checks, the
 * percent-encoding of characters XML cannot hold or LTFS reserves, and
 * base64 for extended attribute values that are not text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ltfs/ltfs_internal.h"

/* Length of the UTF-8 sequence at s (max avail bytes), 0 if malformed. */
static size_t utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
	uint32_t c;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		c = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond Unicode */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return 0;
	*cp = c;
	return n;
}

int ltfs_utf8_check(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(p + i, len - i, &cp);
		if (!n)
			return -EILSEQ;
		i += n;
	}
	return 0;
}

int ltfs_name_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -EINVAL;
	if (len > LTFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (ltfs_utf8_check(name, len))
		return -EILSEQ;
	if (strchr(name, '/') || strchr(name, 0x1F))
		return -EINVAL;
	/* U+FFFE and U+FFFF cannot appear in XML at all (percent-encoding is
	 * for ASCII): an index holding them would not parse again */
	if (strstr(name, "\xef\xbf\xbe") || strstr(name, "\xef\xbf\xbf"))
		return -EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

static bool must_encode(unsigned char c)
{
	return c == ':' || c == '%' || c < 0x20 || c == 0x7F;
}

bool ltfs_name_needs_encoding(const char *name)
{
	for (; *name; name++)
		if (must_encode((unsigned char)*name))
			return true;
	return false;
}

char *ltfs_name_encode(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(name);
	char *out = malloc(3 * len + 1), *o = out;

	if (!out)
		return NULL;
	for (; *name; name++) {
		unsigned char c = (unsigned char)*name;

		if (must_encode(c)) {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	*o = 0;
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *ltfs_name_decode(const char *enc)
{
	char *out = malloc(strlen(enc) + 1), *o = out;

	if (!out)
		return NULL;
	while (*enc) {
		if (*enc == '%') {
			int hi = hexval(enc[1]), lo = hi < 0 ? -1 : hexval(enc[2]);

			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			enc += 3;
		} else {
			*o++ = *enc++;
		}
	}
	*o = 0;
	return out;
}

/*
 * XML 1.0 text allows tab, newline and characters from 0x20 up (minus
 * U+FFFE/U+FFFF); carriage returns would be turned into newlines by any
 * reader, so they do not round-trip either.
 */
bool ltfs_xml_text_ok(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(p + i, len - i, &cp);
		if (!n)
			return false;
		if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0xFFFE ||
		    cp == 0xFFFF)
			return false;
		i += n;
	}
	return true;
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ltfs_base64_encode(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = 0;
	return out;
}

ssize_t ltfs_base64_decode(const char *s, unsigned char **out)
{
	unsigned char *buf = malloc(strlen(s) / 4 * 3 + 3);
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	if (!buf)
		return -1;
	for (; *s; s++) {
		const char *pos;

		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		if (*s == '=') {
			pad++;
			continue;
		}
		pos = strchr(b64, *s);
		if (!pos || pad)
			goto bad;
		acc = acc << 6 | (uint32_t)(pos - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	*out = buf;
	return (ssize_t)n;
bad:
	free(buf);
	return -1;
}

int ltfs_version_parse(const char *s)
{
	unsigned a, b, c;
	char extra;

	if (sscanf(s, "%u.%u.%u%c", &a, &b, &c, &extra) != 3 || b > 99 || c > 99 ||
	    a > 99)
		return -1;
	return (int)(a * 10000 + b * 100 + c);
}
