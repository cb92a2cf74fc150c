/* A push body judged whole: what it accepts, and for each refusal the line or the paths it names. */
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "tap.h"

#define M5 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define F(p) "{\"path\":\"" p "\",\"sha256\":\"" M5 "\",\"size\":1}\n"
#define D(p) "{\"path\":\"" p "\",\"deleted\":true,\"base\":\"" M5 "\"}\n"

struct pcase {
	const char *body;
	size_t n;		/* changes accepted; 0 for a refusal */
	size_t line;		/* the line a refusal names, 0 for none */
	const char *path;	/* the path a refusal names, or NULL */
	const char *other;
	const char *what;
};

/* push_parse_reading's callback: each upto a line's end past the last; the bytes before it wiped. */
struct reading {
	char *body;
	size_t last, calls, bad;
};

static void wipe(size_t upto, void *arg)
{
	struct reading *rd = arg;

	if (upto <= rd->last || upto - rd->last < PUSH_READ_STEP || rd->body[upto - 1] != '\n')
		rd->bad++;
	rd->calls++;
	rd->last = upto;
	memset(rd->body, 'X', upto);
}

int main(void)
{
	static const struct pcase cases[] = {
		{ F("a"), 1, 0, NULL, NULL, "one file" },
		{ F("b") F("a") D("c"), 3, 0, NULL, NULL, "files and a delete" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1}", 1, 0, NULL, NULL, "no newline at the end" },
		{ "", 0, 0, NULL, NULL, "an empty body" },
		{ "\n", 0, 1, NULL, NULL, "one empty line" },
		{ F("a") "\n" F("b"), 0, 2, NULL, NULL, "an empty line between" },
		{ F("a") "\n", 0, 2, NULL, NULL, "two newlines at the end" },
		{ F("a") "{\"path\":", 0, 2, NULL, NULL, "cut short on line 2" },
		{ F("a") "{\"head\":3}\n", 0, 2, NULL, NULL, "a head line" },
		{ F("a") F("../x"), 0, 0, "../x", NULL, "a path the rules refuse" },
		{ "{\"path\":\"a\",\"sha256\":\"" M5 "\",\"size\":1,\"rev\":3}\n", 0, 0, "a", NULL, "a rev" },
		{ F("a") F("b") F("a"), 0, 0, "a", NULL, "a path twice" },
		{ F("a") D("a"), 0, 0, "a", NULL, "a path written and deleted" },
		{ F("a") F("a/b"), 0, 0, "a", "a/b", "a file that is a directory of another" },
		{ F("x/y") F("x/y/z/w"), 0, 0, "x/y", "x/y/z/w", "deeper" },
		{ D("a") F("a/b"), 2, 0, NULL, NULL, "a deleted file becomes a directory" },
		{ F("a") D("a/b"), 2, 0, NULL, NULL, "a deleted file's directory becomes a file" },
		{ F("a b") F("a/b") F("a.b"), 3, 0, NULL, NULL, "names that sort around '/'" },
		{ F("a") F("a"), 0, 0, "a", NULL, "a path twice, one line after the other" },
		{ F("a") F("b") F("c/d") F("c/e"), 4, 0, NULL, NULL, "in path order already" },
		{ F("c/d") F("c/e") F("c"), 0, 0, "c", "c/d", "the directory's file after its files" },
		{ F("d") D("d/a") F("d/b"), 0, 0, "d", "d/b", "a file of a directory after a delete in it" },
		{ F("e/f/a") F("e/f/b") F("e/g/a") F("e/g"), 0, 0, "e/g", "e/g/a", "the second directory a file" },
	};
	struct push_list l;
	struct push_refusal r;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		int rc = push_parse(c->body, strlen(c->body), &l, &r);
		int good = c->n ? !rc && l.n == c->n
				: rc == -1 && r.why && r.line == c->line &&
				  (c->path ? r.path && !strcmp(r.path, c->path) : !r.path) &&
				  (c->other ? r.other && !strcmp(r.other, c->other) : !r.other);

		ok(good, "%s (%s)", c->what, rc ? r.why : "accepted");
		push_list_free(&l);
		push_refusal_free(&r);
	}

	push_parse(F("c") F("a") D("b/x"), strlen(F("c") F("a") D("b/x")), &l, &r);
	ok(l.n == 3 && !strcmp(l.v[0].path, "a") && !strcmp(l.v[1].path, "b/x") && !strcmp(l.v[2].path, "c"),
	   "sorted by path");
	ok(l.n == 3 && l.v[1].deleted && !l.v[1].hash[0] && !strcmp(l.v[1].base, M5) && !l.v[0].base[0] &&
	   l.v[0].mode == 0644 && l.v[0].size == 1, "every field kept");
	ok(push_find(&l, "b/x", 3) == &l.v[1] && push_find(&l, "b/xy", 3) == &l.v[1] &&
	   !push_find(&l, "b", 1) && !push_find(&l, "d", 1), "push_find takes a length");
	push_list_free(&l);
	push_refusal_free(&r);

	/* The line limit, counted before any line is parsed (so these need not be changes). */
	for (i = 0; i < PUSH_LINES_MAX; i++)
		buf_addstr(&b, "{}\n");
	ok(push_parse(b.p, b.len, &l, &r) == -1 && r.line == 1, "%d lines are counted, then parsed",
	   PUSH_LINES_MAX);
	push_list_free(&l);
	push_refusal_free(&r);
	buf_addstr(&b, "{}");
	ok(push_parse(b.p, b.len, &l, &r) == -1 && r.line == PUSH_LINES_MAX + 1 && strstr(r.why, "more than"),
	   "one more is refused before any is parsed (%s)", r.why ? r.why : "-");
	push_list_free(&l);
	push_refusal_free(&r);
	buf_free(&b);

	/* The body read so far is never read again: a server gives its pages back as it goes. */
	for (i = 0; i < 40000; i++)
		buf_addf(&b, "{\"path\":\"d%zu/f%zu\",\"sha256\":\"" M5 "\",\"size\":%zu}\n", i % 97, i, i);
	{
		struct reading rd = { b.p, 0, 0, 0 };
		struct push_list whole;
		int same = 1;

		ok(!push_parse(b.p, b.len, &whole, &r), "%zu bytes of lines parse", b.len);
		push_refusal_free(&r);
		ok(!push_parse_reading(b.p, b.len, &l, &r, wipe, &rd) && l.n == whole.n,
		   "and parse the same with what was read wiped as it goes");
		for (i = 0; i < l.n && i < whole.n; i++)
			same &= !strcmp(l.v[i].path, whole.v[i].path) && l.v[i].size == whole.v[i].size;
		ok(same, "every item the same");
		ok(rd.calls >= 2 && rd.calls <= b.len / PUSH_READ_STEP && !rd.bad,
		   "told %zu times, each at a line's end a step or more on (%zu bad)", rd.calls, rd.bad);
		push_list_free(&whole);
		push_list_free(&l);
		push_refusal_free(&r);
	}
	buf_free(&b);
	return tap_done();
}
