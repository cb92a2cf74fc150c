/*
 * wire.h: a change line's fields as read, between wire.c, which judges
 * them by one set of rules, and its two readers: jansson, for any JSON,
 * and wire_scan.c, for the plain shape change_format() writes, without a
 * jansson object a line (a push of a million files parsed its body for
 * 4 s in json_loadb; bench/README).
 */
#ifndef SOC_WIRE_H
#define SOC_WIRE_H

#include <stddef.h>

enum wire_type { WIRE_ABSENT, WIRE_NULL, WIRE_TRUE, WIRE_FALSE, WIRE_INT, WIRE_STR, WIRE_OTHER };

/* The keys a line's rules read; wire_key_names[] spells them. */
enum wire_key {
	WIRE_PATH, WIRE_SHA256, WIRE_SIZE, WIRE_MTIME, WIRE_MODE, WIRE_BASE, WIRE_BASE_MODE,
	WIRE_REV, WIRE_DELETED, WIRE_TARGET, WIRE_MD5, WIRE_HEAD, WIRE_HISTORY, WIRE_KEYS
};

/* A string's bytes may hold a NUL and need not end in one: s and len. */
struct wire_field {
	enum wire_type type;
	const char *s;
	size_t len;
	long long i;
};

struct wire_fields {
	struct wire_field f[WIRE_KEYS];
	size_t keys;		/* the object's keys, these and any other */
};

extern const char *const wire_key_names[WIRE_KEYS];

/*
 * 1 with *fs filled when line is one JSON object of keys from
 * wire_key_names, each once, with values null, true, false, an integer
 * of at most WIRE_SCAN_DIGITS digits or a string of printable ASCII
 * without escapes, and no space anywhere: what jansson would read from it
 * exactly. 0 for any other line, valid or not: jansson reads it then.
 */
#define WIRE_SCAN_DIGITS 18
int wire_scan(const char *line, size_t len, struct wire_fields *fs);
/* 1 with *s, *n its bytes when line is one such string and nothing else, else 0 (jansson's then). */
int wire_scan_string(const char *line, size_t len, const char **s, size_t *n);

#endif
