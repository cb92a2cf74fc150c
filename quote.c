/*
 * quote.c: paths as people and scripts see them. status --porcelain quotes
 * a path as git's status does (quote_c_style with spaces quoted): inside
 * double quotes, with \t \n \" \\ and friends, and every other control or
 * non-ASCII byte as three octal digits. Messages show a path with its
 * control bytes escaped, so a hostile name cannot break a line.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

#define SHOW_RING 4
#define SHOW_MAX (4 * PATH_BYTES_MAX + 1)	/* every byte may become \ooo */

static int needs_quote(unsigned char c)
{
	return c <= ' ' || c == '"' || c == '\\' || c >= 0x7f;
}

static void escape_byte(struct buf *out, unsigned char c)
{
	static const char named[] = "\a\b\t\n\v\f\r";
	static const char letter[] = "abtnvfr";
	const char *k = c ? memchr(named, c, sizeof(named) - 1) : NULL;

	buf_addch(out, '\\');
	if (c == '"' || c == '\\')
		buf_addch(out, (char)c);
	else if (k)
		buf_addch(out, letter[k - named]);
	else
		buf_addf(out, "%03o", c);
}

void quote_path(struct buf *out, const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i;

	for (i = 0; i < len && !needs_quote(s[i]); i++)
		;
	if (i == len) {
		buf_add(out, p, len);
		return;
	}
	buf_addch(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == ' ' || !needs_quote(s[i]))
			buf_addch(out, (char)s[i]);
		else
			escape_byte(out, s[i]);
	}
	buf_addch(out, '"');
}

const char *show_path(const char *p)
{
	static _Thread_local char ring[SHOW_RING][SHOW_MAX];
	static _Thread_local unsigned next;
	char *out = ring[next++ % SHOW_RING];
	const unsigned char *s = (const unsigned char *)p;
	size_t o = 0;

	for (; *s && o + 5 < SHOW_MAX; s++) {
		if (*s < 0x20 || *s == 0x7f)
			o += (size_t)snprintf(out + o, SHOW_MAX - o, "\\%03o", *s);
		else
			out[o++] = (char)*s;
	}
	out[o] = '\0';
	return out;
}
