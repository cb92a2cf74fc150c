/*
 * The NDJSON change line both ends parse: every field rule, accepted and
 * refused, one case a line, read as soc reads it and by jansson alone with
 * the same answer; and the bytes both ends write, exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "soc.h"
#include "tap.h"
#include "wire.h"

#define M5 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H32 "0123456789abcdef0123456789abcdef"
#define LH "f8e50317bd2a5dfc206eb2c7a28176f23b5903688ae9d1836de240e27c198856"	/* sha256 of "target/x" */
#define LINK "{\"path\":\"l\",\"sha256\":\"" LH "\",\"size\":8,\"mode\":40960"

struct wcase {
	const char *line;
	int want;	/* 1 change, 0 head, -1 refused */
	const char *what;
};

/* The bytes change_format() writes for c are want, and they parse back to c. */
static void format_case(const struct change_line *c, const char *want, const char *what)
{
	struct buf b = BUF_INIT;
	struct change_line back;
	long long head = -1;
	const char *why;
	int rc = change_format(c, &b), kind = -1;

	ok(!rc && b.len == strlen(want) && !memcmp(b.p, want, b.len), "written: %s (%.*s)", what,
	   b.len ? (int)b.len - 1 : 0, b.p ? b.p : "");
	if (!rc)
		kind = change_parse(b.p, b.len - 1, &back, &head, &why);
	ok(kind == 1 && !strcmp(back.path, c->path) && back.deleted == c->deleted &&
	   !strcmp(back.hash, c->hash) && back.rev == c->rev &&
	   (c->deleted || (back.size == c->size && back.mtime == c->mtime && back.mode == c->mode)) &&
	   !strcmp(back.base, c->rev < 0 ? c->base : "") &&
	   back.base_mode == (c->rev < 0 && !c->deleted ? c->base_mode : 0u) &&
	   (c->target ? back.target && !strcmp(back.target, c->target) : !back.target), "read back: %s", what);
	if (!rc)
		change_free(&back);
	buf_free(&b);
}

/* A sha256 left to the commit: written null, read only by a push's body (CHANGE_LATER_OK). */
static void later_case(const struct change_line *m)
{
	static const char want[] = "{\"path\":\"big\",\"sha256\":null,\"size\":9,\"mtime\":77,\"mode\":420,"
				   "\"base\":\"" M5 "\",\"base_mode\":420}\n";
	static const char fresh[] = "{\"path\":\"big\",\"sha256\":null,\"size\":9,\"mode\":420,\"base\":null}";
	struct buf b = BUF_INIT;
	struct change_line back;
	long long head = -1;
	const char *why;
	int rc = change_format(m, &b);

	ok(!rc && !strcmp(b.p, want), "written: a sha256 left to the commit (%s)", b.p ? b.p : "");
	ok(change_parse(b.p, b.len - 1, &back, &head, &why) == -1 && !strcmp(why, "no valid sha256"),
	   "a sha256 left to the commit: refused by every reader but a push's");
	change_free(&back);
	rc = change_parse_flags(b.p, b.len - 1, &back, &head, &why, CHANGE_LATER_OK);
	ok(rc == 1 && back.later && !back.hash[0] && !strcmp(back.base, M5) && back.size == 9,
	   "a sha256 left to the commit: read by a push's body");
	change_free(&back);
	ok(change_parse_flags(fresh, strlen(fresh), &back, &head, &why, CHANGE_LATER_OK) == -1 &&
	   strstr(why, "new file"), "a sha256 left to the commit for a new file: refused");
	change_free(&back);
	buf_free(&b);
}

static void format_cases(void)
{
	struct change_line f = { "d/f", M5, "", 9, 77, -1, 0644, 0, 0, "", NULL, 0 };
	struct change_line g = { "a \"q\"\xc3\xa9", M5, M5, 9, 77, -1, 0755, 0644, 0, "", NULL, 0 };
	struct change_line d = { "gone", "", M5, 0, 0, -1, 0644, 0, 1, "", NULL, 0 };
	struct change_line l = { "l", LH, M5, 8, 77, -1, MODE_LINK, 0644, 0, "", NULL, 0 };
	struct change_line m = { "big", "", M5, 9, 77, -1, 0644, 0644, 0, "", NULL, 1 };
	struct buf b = BUF_INIT;

	format_case(&f, "{\"path\":\"d/f\",\"sha256\":\"" M5 "\",\"size\":9,\"mtime\":77,\"mode\":420,"
		    "\"base\":null}\n", "a new file in a push");
	format_case(&g, "{\"path\":\"a \\\"q\\\"\xc3\xa9\",\"sha256\":\"" M5 "\",\"size\":9,\"mtime\":77,"
		    "\"mode\":493,\"base\":\"" M5 "\",\"base_mode\":420}\n", "a chmod in a push, quotes escaped");
	format_case(&d, "{\"path\":\"gone\",\"deleted\":true,\"base\":\"" M5 "\"}\n", "a delete in a push");
	f.rev = 3;
	format_case(&f, "{\"path\":\"d/f\",\"sha256\":\"" M5 "\",\"size\":9,\"mtime\":77,\"mode\":420,"
		    "\"rev\":3}\n", "a listed file");
	g.rev = 4;
	format_case(&g, "{\"path\":\"a \\\"q\\\"\xc3\xa9\",\"sha256\":\"" M5 "\",\"size\":9,\"mtime\":77,"
		    "\"mode\":493,\"rev\":4}\n", "a listed file: no base");
	d.rev = 5;
	format_case(&d, "{\"path\":\"gone\",\"deleted\":true,\"rev\":5}\n", "a listed delete");
	l.target = "target/x";
	format_case(&l, "{\"path\":\"l\",\"sha256\":\"" LH "\",\"size\":8,\"mtime\":77,\"mode\":40960,"
		    "\"base\":\"" M5 "\",\"target\":\"target/x\",\"base_mode\":420}\n", "a link in a push");
	l.rev = 6;
	format_case(&l, "{\"path\":\"l\",\"sha256\":\"" LH "\",\"size\":8,\"mtime\":77,\"mode\":40960,"
		    "\"rev\":6,\"target\":\"target/x\"}\n", "a listed link");
	l.target = NULL;
	ok(change_format(&l, &b) == -1 && !b.len, "a link without its target is not written");
	later_case(&m);
	buf_free(&b);
	change_format_head(42, NULL, &b);
	ok(b.len == 12 && !memcmp(b.p, "{\"head\":42}\n", 12), "the head line, no history");
	buf_free(&b);
	change_format_head(42, H32, &b);
	ok(!strcmp(b.p, "{\"head\":42,\"history\":\"" H32 "\"}\n"), "the head line with its history");
	buf_free(&b);
	change_format_head(42, "x\"}", &b);
	ok(!strcmp(b.p, "{\"head\":42}\n"), "a history that is no id is not written");
	buf_free(&b);
	f.path = "\xff";
	ok(change_format(&f, &b) == -1 && !b.len, "a path that is not UTF-8 is not written");
	buf_free(&b);
}

/* A path line of a push's answer: read as plain ASCII between quotes, or left to jansson. */
static void string_cases(void)
{
	static const struct {
		const char *line, *want;	/* want NULL: left to jansson */
	} cases[] = {
		{ "\"d/f 1.txt\"", "d/f 1.txt" },
		{ "\"\"", "" },
		{ "\"~!#$%&()*+,-./:;<=>?@[]^_`{|}\"", "~!#$%&()*+,-./:;<=>?@[]^_`{|}" },
		{ "\"a\\\"b\"", NULL },
		{ "\"a\\u0041\"", NULL },
		{ "\"caf\xc3\xa9\"", NULL },
		{ "\"a\tb\"", NULL },
		{ "\"a\x7f\"", NULL },
		{ "\"a\" ", NULL },
		{ " \"a\"", NULL },
		{ "\"a\"\"", NULL },
		{ "\"a", NULL },
		{ "\"", NULL },
		{ "", NULL },
		{ "{\"txn\":\"ab\"}", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *s = NULL;
		size_t n = 0;
		int got = wire_scan_string(cases[i].line, strlen(cases[i].line), &s, &n);

		ok(cases[i].want ? got && n == strlen(cases[i].want) && !memcmp(s, cases[i].want, n) : !got,
		   "a string line: %s %s", cases[i].line, cases[i].want ? "read" : "left to jansson");
	}
}

int main(void)
{
	static const struct wcase cases[] = {
		{ "{\"head\":7}", 0, "a head line" },
		{ "{\"head\":-1}", -1, "a negative head" },
		{ "{\"head\":\"7\"}", -1, "a head that is a string" },
		{ "{\"head\":7,\"x\":1}", -1, "a head with company" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"mtime\":5,\"mode\":420}", 1, "a file" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"mode\":493,\"base\":\"" M5 "\"}", 1, "an executable with a base" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"base\":null}", 1, "a null base" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"base\":\"" M5 "\",\"base_mode\":420}", 1, "a base with its mode" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"base\":\"" M5 "\",\"base_mode\":511}", -1, "base_mode 0777" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"base\":\"" M5 "\",\"base_mode\":\"420\"}", -1, "a base_mode that is a string" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":3,\"base_mode\":420}", -1, "a base_mode with no base" },
		{ "{\"path\":\"a\",\"deleted\":true,\"base\":\"" M5 "\",\"base_mode\":420}", -1, "a delete with a base_mode" },
		{ "{\"path\":\"a\",\"deleted\":true,\"base\":\"" M5 "\"}", 1, "a delete" },
		{ "{\"path\":\"a\",\"deleted\":true,\"rev\":4}", 1, "a listed delete" },
		{ "{\"path\":\"a\",\"deleted\":true,\"sha256\":\"" M5 "\"}", -1, "a delete with a sha256" },
		{ "{\"path\":\"a\",\"deleted\":1}", -1, "deleted not a boolean" },
		{ LINK ",\"target\":\"target/x\"}", 1, "a link" },
		{ LINK ",\"target\":\"target/y\"}", -1, "a link whose target is not its sha256" },
		{ "{\"path\":\"l\",\"sha256\":\"" LH "\",\"size\":9,\"mode\":40960,\"target\":\"target/x\"}", -1, "a link whose size is not its target's" },
		{ LINK "}", -1, "a link without a target" },
		{ LINK ",\"target\":5}", -1, "a target that is a number" },
		{ LINK ",\"target\":\"target\\u0000x\"}", -1, "a NUL inside a target" },
		{ "{\"path\":\"l\",\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0,\"mode\":40960,\"target\":\"\"}", -1, "an empty target" },
		{ "{\"path\":\"a\",\"sha256\":\"" LH "\",\"size\":8,\"target\":\"target/x\"}", -1, "a target on a file" },
		{ "{\"path\":\"a\",\"deleted\":true,\"target\":\"target/x\"}", -1, "a delete with a target" },
		{ LINK ",\"target\":\"target/x\",\"base\":\"" M5 "\",\"base_mode\":40960}", 1, "a link replacing a link" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\"}", -1, "no size" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":-1}", -1, "a negative size" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1.5}", -1, "a fractional size" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"mode\":511}", -1, "mode 0777" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"mtime\":9223372035}", 1, "the last mtime kept (2262)" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"mtime\":-9223372035}", 1, "the first mtime kept (1677)" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"mtime\":9223372036}", -1, "an mtime past 2262" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"mtime\":-9223372036}", -1, "an mtime before 1677" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"mtime\":9223372036854775807}", -1, "the largest mtime" },
		{ "{\"path\":\"a\",\"sha256\":\"0123\",\"size\":1}", -1, "a short sha256" },
		{ "{\"path\":\"a\",\"md5\":\"0123456789abcdef0123456789abcdef\",\"size\":1}", -1, "an md5 line, as an older soc sends" },
		{ "{\"path\":\"a\",\"sha256\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\",\"size\":1}", -1, "an upper-case sha256" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"base\":\"x\"}", -1, "a bad base" },
		{ "{\"path\":\"../etc/passwd\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "a path with .." },
		{ "{\"path\":\"/abs\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "an absolute path" },
		{ "{\"path\":\".soc/x\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "a path into .soc" },
		{ "{\"path\":\"a\\u0000b\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "a NUL inside the path" },
		{ "{\"path\":\"a\\nb\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "a newline in the path" },
		{ "{\"path\":\"\xff\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "invalid UTF-8" },
		{ "{\"path\":\"a\",\"path\":\"b\",\"sha256\":\"" M5 "\",\"size\":1}", -1, "a duplicate key" },
		{ "{\"path\":5}", -1, "a path that is a number" },
		{ "[1,2]", -1, "an array" },
		{ "{\"head\":3,\"history\":\"" H32 "\"}", 0, "a head with its history" },
		{ "{\"head\":3,\"history\":\"0123\"}", -1, "a short history" },
		{ "{\"head\":3,\"history\":\"" H32 "0\"}", -1, "a long history" },
		{ "{\"head\":3,\"history\":\"0123456789ABCDEF0123456789abcdef\"}", -1, "an upper-case history" },
		{ "{\"head\":3,\"history\":5}", -1, "a history that is a number" },
		{ "{\"head\":3,\"history\":null}", -1, "a null history" },
		{ "{\"head\":3,\"history\":\"" H32 "\",\"x\":1}", -1, "a head line with more" },
		{ "{\"path\":\"a\"", -1, "cut short" },
		{ "", -1, "empty" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1} x", -1, "garbage after" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", -1, "deep nesting" },
		/* At the edge of what wire_scan.c reads, and past it (jansson reads those): the same rules. */
		{ "{ \"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1}", 1, "a space in the object" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"x\":[1]}", 1, "a key soc does not know" },
		{ "{\"path\":\"\xc3\xa9\",\"sha256\":\"" M5 "\",\"size\":1}", 1, "a path in UTF-8" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":123456789012345678}", 1, "a size of 18 digits" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1234567890123456789}", 1, "a size of 19 digits" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":12345678901234567890}", -1, "a size past 64 bits" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1E3}", -1, "a size with an exponent" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":01}", -1, "a size with a leading zero" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"size\":2}", -1, "a known key twice" },
		{ "{}", -1, "an empty object" },
	};
	size_t i;
	char *big;
	struct change_line c;
	long long head = -1;
	const char *why;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct change_line j;
		long long jhead = -1;
		const char *jwhy;
		int got, jgot;

		head = -1;
		got = change_parse(cases[i].line, strlen(cases[i].line), &c, &head, &why);
		ok(got == cases[i].want && (got >= 0 || why), "%s (%d, %s)", cases[i].what, got, why ? why : "-");
		jgot = change_parse_flags(cases[i].line, strlen(cases[i].line), &j, &jhead, &jwhy, CHANGE_JANSSON);
		ok(jgot == got && (why == jwhy || (why && jwhy && !strcmp(why, jwhy))) && jhead == head,
		   "%s: jansson reads it the same", cases[i].what);
		change_free(&j);
		change_free(&c);
	}
	change_parse("{\"head\":42}", 11, &c, &head, &why);
	ok(head == 42 && !c.history[0], "an older server's head line, without history, is read");
	change_free(&c);
	change_parse("{\"head\":43,\"history\":\"" H32 "\"}", strlen("{\"head\":43,\"history\":\"" H32 "\"}"),
		     &c, &head, &why);
	ok(head == 43 && !strcmp(c.history, H32), "the head and its history are read");
	change_free(&c);
	change_parse("{\"path\":\"d/f\",\"sha256\":\"" M5 "\",\"size\":9,\"mtime\":77,\"mode\":493,\"base\":\"" M5 "\"}",
		     strlen("{\"path\":\"d/f\",\"sha256\":\"" M5 "\",\"size\":9,\"mtime\":77,\"mode\":493,\"base\":\"" M5 "\"}"),
		     &c, &head, &why);
	ok(c.path && !strcmp(c.path, "d/f") && !strcmp(c.hash, M5) && !strcmp(c.base, M5) && c.size == 9 &&
	   c.mtime == 77 && c.mode == 0755 && !c.base_mode && !c.deleted, "every field is read");
	change_free(&c);
	change_parse("{\"path\":\"f\",\"sha256\":\"" M5 "\",\"size\":9,\"mode\":420,\"base\":\"" M5 "\",\"base_mode\":493}",
		     strlen("{\"path\":\"f\",\"sha256\":\"" M5 "\",\"size\":9,\"mode\":420,\"base\":\"" M5 "\",\"base_mode\":493}"),
		     &c, &head, &why);
	ok(c.mode == 0644 && c.base_mode == 0755, "the base's mode is read beside the mode");
	change_free(&c);
	change_parse("{\"path\":\"a/../b\",\"sha256\":\"" M5 "\",\"size\":1}",
		     strlen("{\"path\":\"a/../b\",\"sha256\":\"" M5 "\",\"size\":1}"), &c, &head, &why);
	ok(c.path && !strcmp(c.path, "a/../b"), "a refused path is kept for the message");
	change_free(&c);
	big = malloc(CHANGE_LINE_MAX + 2);
	if (!big)
		return 1;
	memset(big, ' ', CHANGE_LINE_MAX + 1);
	memcpy(big, "{\"head\":1}", 10);
	ok(change_parse(big, CHANGE_LINE_MAX + 1, &c, &head, &why) == -1, "a line over 64 KiB");
	change_free(&c);
	ok(change_parse(big, CHANGE_LINE_MAX, &c, &head, &why) == 0, "64 KiB exactly, padded: fine");
	change_free(&c);
	free(big);
	format_cases();
	string_cases();
	return tap_done();
}
