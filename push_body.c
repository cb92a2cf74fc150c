/*
 * push_body.c: the body of POST /api/v1/push, NDJSON with one change a
 * line, judged whole before anything is written: every line parses
 * (wire.c, the path rules included), no path comes twice, and no path is
 * a file while another path of the same push needs it as a directory. No
 * I/O and no database, so it can be fuzzed alone (t/fuzz/push.c); the
 * head is txn.c's to check.
 */
#include <stdlib.h>
#include <string.h>

#include "serve.h"

void push_item_free(struct push_item *it)
{
	free(it->path);
	free(it->target);
	if (it->base && it->base[0])
		free(it->base);
}

void push_list_free(struct push_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		push_item_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void push_item_base(struct push_item *it, const char *hex)
{
	it->base = hex && *hex ? xstrdup(hex) : (char *)"";
}

void push_refusal_free(struct push_refusal *r)
{
	free(r->path);
	free(r->other);
	memset(r, 0, sizeof(*r));
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct push_item *)a)->path, ((const struct push_item *)b)->path);
}

struct push_item *push_find(const struct push_list *l, const char *path, size_t len)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *p = l->v[mid].path;
		int c = strncmp(p, path, len);

		if (!c)
			c = p[len] ? 1 : 0;
		if (!c)
			return &l->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int refuse_line(struct push_refusal *r, size_t line, const char *why)
{
	r->line = line;
	r->why = why;
	return -1;
}

static int refuse_path(struct push_refusal *r, const char *path, const char *other, const char *why)
{
	r->path = xstrdup(path);
	r->other = other ? xstrdup(other) : NULL;
	r->why = why;
	return -1;
}

/*
 * Every directory a file of the push lives in must not be a file of the
 * push. The files of one directory come one after another in path
 * order, so its directories are looked for once, not once a file.
 */
static int check_dirs(const struct push_list *l, struct push_refusal *r)
{
	const char *done = NULL;	/* a path whose directories were all looked for */
	size_t done_len = 0, i;

	for (i = 0; i < l->n; i++) {
		const char *p = l->v[i].path, *slash, *last = strrchr(p, '/');
		size_t len = last ? (size_t)(last - p) : 0;

		if (l->v[i].deleted || (done && len == done_len && !memcmp(p, done, len)))
			continue;
		done = p;
		done_len = len;
		for (slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
			const struct push_item *d = push_find(l, p, (size_t)(slash - p));

			if (d && !d->deleted)
				return refuse_path(r, d->path, p, "a file of this push is the directory of another");
		}
	}
	return 0;
}

/* Lines in body, counted before any is parsed: a body too long is refused at once. */
static size_t count_lines(const char *p, size_t len)
{
	const char *end = p + len, *nl;
	size_t n = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p = nl + 1;
	}
	return n + (p < end);
}

int push_parse(const char *body, size_t len, struct push_list *out, struct push_refusal *r)
{
	return push_parse_reading(body, len, out, r, NULL, NULL);
}

int push_parse_reading(const char *body, size_t len, struct push_list *out, struct push_refusal *r,
		       void (*read)(size_t upto, void *arg), void *arg)
{
	const char *p = body, *end = body + len;
	size_t cap = 0, line = 0, told = 0, i;

	memset(out, 0, sizeof(*out));
	memset(r, 0, sizeof(*r));
	if (!len)
		return refuse_line(r, 0, "an empty push: no change lines");
	if (count_lines(body, len) > PUSH_LINES_MAX)
		return refuse_line(r, PUSH_LINES_MAX + 1, "more than 1000000 changes in one push");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct change_line c;
		struct push_item *it;
		long long head = -1;
		const char *why;
		int kind;

		line++;
		if (n > CHANGE_LINE_MAX)
			return push_list_free(out), refuse_line(r, line, "line longer than 64 KiB");
		if (!n)
			return push_list_free(out), refuse_line(r, line, "an empty line");
		kind = change_parse_flags(p, n, &c, &head, &why, CHANGE_LATER_OK);
		if (kind == 1 && c.rev != -1)
			kind = -1, why = "a push line carries no rev: the server gives revisions";
		if (kind != 1) {
			if (kind == 0)
				why = "not a change";
			if (c.path)
				refuse_path(r, c.path, NULL, why);
			else
				refuse_line(r, line, why);
			change_free(&c);
			push_list_free(out);
			return -1;
		}
		if (out->n == cap) {
			cap = cap ? 2 * cap : 64;
			out->v = xrealloc(out->v, cap * sizeof(*out->v));
		}
		it = &out->v[out->n++];
		it->path = c.path;	/* taken */
		atomic_init(&it->stored, 0);
		memcpy(it->hash, c.hash, sizeof(it->hash));
		push_item_base(it, c.base);
		it->size = c.deleted ? 0 : c.size;
		it->mtime = c.deleted ? 0 : c.mtime;
		it->mode = c.deleted ? 0 : c.mode;
		it->base_mode = c.base_mode;
		it->deleted = c.deleted;
		it->later = c.later;
		it->target = c.target;	/* taken */
		p = nl ? nl + 1 : end;
		if (read && (size_t)(p - body) - told >= PUSH_READ_STEP) {
			told = (size_t)(p - body);
			read(told, arg);
		}
	}
	/* A client sends its changes in path order: then one pass, and no sort, finds no path twice. */
	for (i = 1; i < out->n && strcmp(out->v[i - 1].path, out->v[i].path) < 0; i++)
		;
	if (i < out->n) {
		qsort(out->v, out->n, sizeof(*out->v), cmp_item);
		for (i = 1; i < out->n; i++)
			if (!strcmp(out->v[i - 1].path, out->v[i].path)) {
				refuse_path(r, out->v[i].path, NULL, "named twice in one push");
				push_list_free(out);
				return -1;
			}
	}
	if (check_dirs(out, r)) {
		push_list_free(out);
		return -1;
	}
	return 0;
}
