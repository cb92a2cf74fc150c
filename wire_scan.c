/*
 * wire_scan.c: the change lines soc writes, read without jansson (wire.h
 * says which). Anything it is not sure of it leaves to jansson, so it
 * never accepts a line jansson refuses nor reads one otherwise; t/fuzz
 * checks the two against each other.
 */
#include <string.h>

#include "wire.h"

const char *const wire_key_names[WIRE_KEYS] = {
	[WIRE_PATH] = "path", [WIRE_SHA256] = "sha256", [WIRE_SIZE] = "size", [WIRE_MTIME] = "mtime",
	[WIRE_MODE] = "mode", [WIRE_BASE] = "base", [WIRE_BASE_MODE] = "base_mode", [WIRE_REV] = "rev",
	[WIRE_DELETED] = "deleted", [WIRE_TARGET] = "target", [WIRE_MD5] = "md5", [WIRE_HEAD] = "head",
	[WIRE_HISTORY] = "history",
};

/* A string at *p (its opening quote) of bytes 0x20-0x7e but '"' and '\\': its end, or NULL. */
static const char *plain_string(const char *p, const char *end, const char **s, size_t *len)
{
	const char *q = ++p;

	while (q < end && *q != '"') {
		unsigned char ch = (unsigned char)*q;

		if (ch < 0x20 || ch > 0x7e || ch == '\\')
			return NULL;
		q++;
	}
	if (q == end)
		return NULL;
	*s = p;
	*len = (size_t)(q - p);
	return q + 1;
}

static const char *literal(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) >= n && !memcmp(p, word, n) ? p + n : NULL;
}

/* -?(0|[1-9][0-9]*), at most WIRE_SCAN_DIGITS digits, so it fits a long long: its end, or NULL. */
static const char *integer(const char *p, const char *end, long long *out)
{
	int neg = p < end && *p == '-';
	const char *d = p + neg, *q = d;
	long long v = 0;

	while (q < end && *q >= '0' && *q <= '9' && q - d < WIRE_SCAN_DIGITS)
		v = v * 10 + (*q++ - '0');
	if (q == d || (*d == '0' && (q - d > 1 || neg)))
		return NULL;
	/* A digit more, 1.5, 1e3: a number too long, or a JSON number that is not an integer. */
	if (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E'))
		return NULL;
	*out = neg ? -v : v;
	return q;
}

static const char *value(const char *p, const char *end, struct wire_field *f)
{
	const char *q;

	if (p == end)
		return NULL;
	if (*p == '"') {
		f->type = WIRE_STR;
		return plain_string(p, end, &f->s, &f->len);
	}
	if ((q = literal(p, end, "null")))
		f->type = WIRE_NULL;
	else if ((q = literal(p, end, "true")))
		f->type = WIRE_TRUE;
	else if ((q = literal(p, end, "false")))
		f->type = WIRE_FALSE;
	else if ((q = integer(p, end, &f->i)))
		f->type = WIRE_INT;
	return q;
}

int wire_scan_string(const char *line, size_t len, const char **s, size_t *n)
{
	const char *end = line + len;

	return len && *line == '"' && plain_string(line, end, s, n) == end;
}

int wire_scan(const char *line, size_t len, struct wire_fields *fs)
{
	const char *p = line, *end = line + len;

	memset(fs, 0, sizeof(*fs));
	if (len < 2 || *p++ != '{')
		return 0;
	if (*p == '}')
		return p + 1 == end;
	for (;;) {
		const char *key;
		size_t klen;
		int k;

		if (p == end || *p != '"' || !(p = plain_string(p, end, &key, &klen)))
			return 0;
		for (k = 0; k < WIRE_KEYS; k++)
			if (!strncmp(wire_key_names[k], key, klen) && !wire_key_names[k][klen])
				break;
		/* Another key, or one twice: jansson's to judge. */
		if (k == WIRE_KEYS || fs->f[k].type != WIRE_ABSENT)
			return 0;
		if (p == end || *p++ != ':' || !(p = value(p, end, &fs->f[k])))
			return 0;
		fs->keys++;
		if (p == end)
			return 0;
		if (*p == '}')
			return p + 1 == end;
		if (*p++ != ',')
			return 0;
	}
}
