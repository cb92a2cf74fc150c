/*
 * quote.c: paths as people and scripts see them. status --porcelain quotes
 * a path as git's status does (quote_c_style with spaces quoted): inside
 * double quotes, with \t \n \" \\ and friends, and every other control or
 * non-ASCII byte as three octal digits. Messages show a path with the
 * same escapes, without the double quotes (they put it in '...'): one
 * rule for every path a person sees, so a hostile name can neither break
 * a line nor reach the terminal as a control sequence, C1's (a UTF-8
 * U+009B is CSI to many terminals) included.
 */
#include <errno.h>
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

/* Every byte of p that needs it escaped; spaces stay, and so does '"' where no double quotes surround it. */
static void add_escaped(struct buf *out, const unsigned char *s, size_t len, int quoted)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ' || (s[i] == '"' && !quoted) || !needs_quote(s[i]))
			buf_addch(out, (char)s[i]);
		else
			escape_byte(out, s[i]);
	}
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
	add_escaped(out, s, len, 1);
	buf_addch(out, '"');
}

const char *show_path(const char *p)
{
	static _Thread_local char ring[SHOW_RING][SHOW_MAX];
	static _Thread_local unsigned next;
	char *out = ring[next++ % SHOW_RING];
	struct buf b = BUF_INIT;
	size_t n;
	int saved = errno;	/* called in error_errno()'s arguments */

	add_escaped(&b, (const unsigned char *)p, strlen(p), 0);
	n = b.len < SHOW_MAX - 1 ? b.len : SHOW_MAX - 1;
	if (n)
		memcpy(out, b.p, n);
	out[n] = '\0';
	buf_free(&b);
	errno = saved;
	return out;
}
