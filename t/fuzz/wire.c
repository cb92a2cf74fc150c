/*
 * t/fuzz/wire.c: libFuzzer driver for change_parse, the NDJSON change line
 * both ends of the API parse. Beyond "does not crash", every line it
 * accepts must carry a path the path rules accept and well-formed sha256s
 * (a link, its target as they name it), and change_format() must write it
 * so that it parses back the same. Read by wire_scan.c or by jansson, a
 * line gives the same answer, field for field, and a string line (a
 * push answer's path) the same bytes.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "soc.h"
#include "wire.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* format(parse(x)) parses to what parse(x) gave, in every field the line's kind carries. */
static void round_trip(const struct change_line *c)
{
	struct buf b = BUF_INIT;
	struct change_line back;
	long long head = -1;
	const char *why = NULL;

	check(!change_format(c, &b) && b.len && b.p[b.len - 1] == '\n');
	check(change_parse(b.p, b.len - 1, &back, &head, &why) == 1);
	check(!strcmp(back.path, c->path) && back.deleted == c->deleted && !strcmp(back.hash, c->hash));
	check(back.rev == c->rev);
	check(c->deleted || (back.size == c->size && back.mtime == c->mtime && back.mode == c->mode));
	/* A listed line (rev >= 0) carries no base; a push line its base, and a file's base_mode. */
	check(!strcmp(back.base, c->rev < 0 ? c->base : ""));
	check(back.base_mode == (c->rev < 0 && !c->deleted ? c->base_mode : 0u));
	check(c->target ? back.target && !strcmp(back.target, c->target) : !back.target);
	change_free(&back);
	buf_free(&b);
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The line read as it is read, and by jansson alone: the same answer. */
static void same_reading(const char *line, size_t size, unsigned flags)
{
	struct change_line a, b;
	long long ha = -1, hb = -1;
	const char *wa = NULL, *wb = NULL;
	int ra = change_parse_flags(line, size, &a, &ha, &wa, flags);
	int rb = change_parse_flags(line, size, &b, &hb, &wb, flags | CHANGE_JANSSON);

	check(ra == rb && same_str(wa, wb) && ha == hb);
	check(same_str(a.path, b.path) && same_str(a.target, b.target));
	check(!strcmp(a.hash, b.hash) && !strcmp(a.base, b.base) && !strcmp(a.history, b.history));
	check(a.size == b.size && a.mtime == b.mtime && a.rev == b.rev && a.mode == b.mode);
	check(a.base_mode == b.base_mode && a.deleted == b.deleted && a.later == b.later);
	change_free(&a);
	change_free(&b);
}

/* A line wire_scan_string reads is one JSON string, the same bytes to jansson. */
static void same_string(const char *line, size_t size)
{
	const char *s;
	size_t n;
	json_t *j;

	if (!wire_scan_string(line, size, &s, &n))
		return;
	j = json_loadb(line, size, JSON_DECODE_ANY, NULL);
	check(json_is_string(j) && json_string_length(j) == n && !memcmp(json_string_value(j), s, n));
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct change_line c;
	long long head = -1;
	const char *why = NULL;
	int r = change_parse((const char *)data, size, &c, &head, &why);

	same_string((const char *)data, size);
	same_reading((const char *)data, size, 0);
	same_reading((const char *)data, size, CHANGE_LATER_OK);
	check(r >= -1 && r <= 1);
	if (r < 0)
		check(why != NULL);
	if (r == 0) {
		struct buf b = BUF_INIT;
		struct change_line back;
		long long h2 = -1;

		check(head >= 0 && (!c.history[0] || history_id_valid(c.history)));
		/* A head line goes round as well. */
		change_format_head(head, c.history[0] ? c.history : NULL, &b);
		check(change_parse(b.p, b.len - 1, &back, &h2, &why) == 0 && h2 == head &&
		      !strcmp(back.history, c.history));
		change_free(&back);
		buf_free(&b);
	}
	if (r == 1) {
		check(c.path && !path_check(c.path, strlen(c.path)));
		check(c.deleted ? !c.hash[0] : hash_hex_valid(c.hash) && c.size >= 0);
		check(!c.base[0] || hash_hex_valid(c.base));
		check(c.deleted || mode_valid(c.mode));
		/* A link, and only a link, carries its target, and it is what its sha256 and size name. */
		check(!c.target == (c.deleted || c.mode != MODE_LINK));
		if (c.target) {
			char hex[HASH_HEX_LEN + 1];

			sha256_hex(c.target, strlen(c.target), hex);
			check(!strcmp(hex, c.hash) && (long long)strlen(c.target) == c.size && c.size > 0);
		}
		round_trip(&c);
	}
	change_free(&c);
	return 0;
}
