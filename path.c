/*
 * path.c: the one definition of a valid path (DESIGN.md section 10), used
 * by the client before it tracks a name and by the server before it writes
 * anything. Reject, never repair. And whether two paths share a
 * directory, which the upload's streams and the server's apply both ask.
 */
#include <string.h>

#include "soc.h"

/* Length of the UTF-8 sequence starting at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static int is_dot_soc(const char *c, size_t n)
{
	return n == 4 && c[0] == '.' &&
	       (c[1] | 0x20) == 's' && (c[2] | 0x20) == 'o' && (c[3] | 0x20) == 'c';
}

static const char *component_check(const char *c, size_t n)
{
	if (n == 0)
		return "empty path component";
	if (n > PATH_COMPONENT_MAX)
		return "path component longer than 255 bytes";
	if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
		return "'.' or '..' in path";
	if (is_dot_soc(c, n))
		return "'.soc' in path";
	return NULL;
}

const char *path_check(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, start = 0;
	const char *why;

	if (len == 0)
		return "empty path";
	if (len > PATH_BYTES_MAX)
		return "path longer than 4096 bytes";
	if (s[0] == '/')
		return "absolute path";
	while (i < len) {
		size_t n;

		if (s[i] < 0x20 || s[i] == 0x7f)
			return "control character in path";
		if (s[i] == '\\')
			return "backslash in path";
		if (s[i] == '/') {
			why = component_check(p + start, i - start);
			if (why)
				return why;
			start = ++i;
			continue;
		}
		n = utf8_len(s + i, len - i);
		if (!n)
			return "path is not valid UTF-8";
		i += n;
	}
	return component_check(p + start, len - start);
}

int utf8_valid(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, n;

	while (i < len) {
		if (!(n = utf8_len(s + i, len - i)))
			return 0;
		i += n;
	}
	return 1;
}

int path_same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && !memcmp(a, b, la);
}
