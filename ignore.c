/*
 * ignore.c: .socignore, read as git reads .gitignore, as pure functions
 * over bytes (no I/O), so that they can be tested by table and fuzzed.
 *
 * One pattern a line; blank lines and lines starting with '#' say nothing
 * ("\#" starts a pattern with '#'); trailing spaces are dropped unless
 * escaped with '\'. A leading '!' re-includes what an earlier line
 * ignored ("\!" for a literal '!'); the last line that matches decides. A
 * trailing '/' matches directories only. A pattern with a '/' at its start
 * or in its middle is anchored: it is matched against the whole path from
 * the root, else against the last component at any depth. '*' matches
 * within one component, '?' one byte, "[a-z]" and "[!a-z]" a set, '\'
 * quotes the next byte; "**" as a whole component matches any number of
 * directories ("**" at the end: at least one). As in git, nothing below an
 * ignored directory can be re-included: ignore_path() checks every
 * directory above a path, and a walk prunes what ignore_match() ignores.
 *
 * Every match is O(pattern x path): '*' and "**" each keep one restart
 * point, the classic greedy glob, which is exact because everything else
 * in a component pattern matches one byte and everything else in a path
 * pattern one component.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define NONE ((size_t)-1)

struct seg {
	const char *p;
	size_t n;
	int starstar;		/* the whole component is "**" */
};

struct ignore_rule {
	char *text;		/* the pattern, '!' and the leading and trailing '/' taken off */
	size_t len;
	int negate, dir_only, anchored;
	struct seg *segs;	/* anchored: the pattern split at '/' */
	size_t nsegs;
};

/* One byte against a bracket expression at p (p[0] == '['): 1, 0, or -1 when it never closes. */
static int class_match(const char *p, size_t n, unsigned char c, size_t *used)
{
	size_t i = 1;
	int negate = 0, hit = 0;

	if (i < n && (p[i] == '!' || p[i] == '^')) {
		negate = 1;
		i++;
	}
	for (int first = 1; i < n; first = 0) {
		unsigned char lo, hi;

		if (p[i] == ']' && !first) {
			*used = i + 1;
			return hit != negate;
		}
		if (p[i] == '\\' && i + 1 < n)
			i++;
		lo = hi = (unsigned char)p[i++];
		if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
			i++;
			if (p[i] == '\\' && i + 1 < n)
				i++;
			hi = (unsigned char)p[i++];
		}
		if (c >= lo && c <= hi)
			hit = 1;
	}
	return -1;
}

/* A pattern without '/' against one path component. */
static int glob_seg(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = NONE, star_s = 0, used;
	int r;

	while (si < sn) {
		if (pi < pn) {
			switch (p[pi]) {
			case '*':
				while (pi < pn && p[pi] == '*')
					pi++;
				star_p = pi;
				star_s = si;
				continue;
			case '?':
				pi++;
				si++;
				continue;
			case '[':
				r = class_match(p + pi, pn - pi, (unsigned char)s[si], &used);
				if (r < 0)
					return 0;
				if (r) {
					pi += used;
					si++;
					continue;
				}
				break;
			case '\\':
				if (pi + 1 < pn) {
					if (p[pi + 1] == s[si]) {
						pi += 2;
						si++;
						continue;
					}
					break;
				}
				/* a lone trailing '\' is itself */
				/* fall through */
			default:
				if (p[pi] == s[si]) {
					pi++;
					si++;
					continue;
				}
			}
		}
		if (star_p == NONE)
			return 0;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static size_t comp_end(const char *path, size_t len, size_t at)
{
	while (at < len && path[at] != '/')
		at++;
	return at;
}

/* An anchored pattern against the whole path, a component at a time. */
static int match_anchored(const struct ignore_rule *r, const char *path, size_t len)
{
	size_t pi = 0, ci = 0, star_pi = NONE, star_ci = 0;

	while (ci <= len) {
		size_t ce = comp_end(path, len, ci);

		if (pi < r->nsegs && r->segs[pi].starstar) {
			star_pi = pi++;
			star_ci = ci;
			continue;
		}
		if (pi < r->nsegs && glob_seg(r->segs[pi].p, r->segs[pi].n, path + ci, ce - ci)) {
			pi++;
			ci = ce + 1;
			continue;
		}
		if (star_pi == NONE)
			return 0;
		pi = star_pi + 1;
		star_ci = comp_end(path, len, star_ci) + 1;
		ci = star_ci;
	}
	while (pi < r->nsegs && r->segs[pi].starstar)
		pi++;
	return pi == r->nsegs;
}

static int rule_matches(const struct ignore_rule *r, const char *path, size_t len, int is_dir)
{
	const char *base;

	if (r->dir_only && !is_dir)
		return 0;
	if (r->anchored)
		return match_anchored(r, path, len);
	base = memrchr(path, '/', len);
	base = base ? base + 1 : path;
	return glob_seg(r->text, r->len, base, len - (size_t)(base - path));
}

int ignore_match(const struct ignore *ig, const char *path, size_t len, int is_dir)
{
	size_t i = ig->n;

	if (!len)
		return 0;
	while (i--)
		if (rule_matches(&ig->v[i], path, len, is_dir))
			return !ig->v[i].negate;
	return 0;
}

/* always: names soc never tracks count too (ignore_always). */
static int path_ignored(const struct ignore *ig, const char *path, size_t len, int is_dir, int always)
{
	size_t at = 0, end;

	for (;;) {
		end = comp_end(path, len, at);
		if (always && ignore_always(path + at, end - at))
			return 1;
		if (end >= len)
			break;
		if (ignore_match(ig, path, end, 1))
			return 1;
		at = end + 1;
	}
	return ignore_match(ig, path, len, is_dir);
}

int ignore_path(const struct ignore *ig, const char *path, size_t len, int is_dir)
{
	return path_ignored(ig, path, len, is_dir, 1);
}

int ignore_path_rules(const struct ignore *ig, const char *path, size_t len, int is_dir)
{
	return path_ignored(ig, path, len, is_dir, 0);
}

int ignore_always(const char *name, size_t len)
{
	static const char mark[] = ".conflict-r";
	const size_t mlen = sizeof(mark) - 1;
	size_t i;

	if (len == 4 && name[0] == '.' && (name[1] | 0x20) == 's' &&
	    (name[2] | 0x20) == 'o' && (name[3] | 0x20) == 'c')
		return 1;
	/* name.conflict-rN.ext, name.conflict-rN: what pull writes beside a conflict. */
	for (i = 0; i + mlen < len; i++)
		if (name[i] == '.' && !memcmp(name + i, mark, mlen) &&
		    name[i + mlen] >= '0' && name[i + mlen] <= '9')
			return 1;
	return 0;
}

static void split_segs(struct ignore_rule *r)
{
	size_t i, start = 0, n = 1;

	for (i = 0; i < r->len; i++)
		n += r->text[i] == '/';
	/* One more for the component a trailing "**" needs at least. */
	r->segs = xcalloc(n + 1, sizeof(*r->segs));
	for (i = 0; i <= r->len; i++) {
		struct seg *s;

		if (i < r->len && r->text[i] != '/')
			continue;
		s = &r->segs[r->nsegs++];
		s->p = r->text + start;
		s->n = i - start;
		s->starstar = s->n == 2 && s->p[0] == '*' && s->p[1] == '*';
		start = i + 1;
	}
	if (r->nsegs > 1 && r->segs[r->nsegs - 1].starstar) {
		r->segs[r->nsegs - 1] = (struct seg){ "*", 1, 0 };
		r->segs[r->nsegs++] = (struct seg){ "**", 2, 1 };
	}
}

static void add_rule(struct ignore *ig, const char *line, size_t len)
{
	struct ignore_rule r = { 0 };

	if (!len || line[0] == '#')
		return;
	/* Trailing spaces go, unless the last one is quoted by an odd run of '\'. */
	while (len && line[len - 1] == ' ') {
		size_t bs = 0;

		while (bs + 1 < len && line[len - 2 - bs] == '\\')
			bs++;
		if (bs % 2)
			break;
		len--;
	}
	if (len && line[0] == '!') {
		r.negate = 1;
		line++;
		len--;
	}
	if (len && line[len - 1] == '/') {
		r.dir_only = 1;
		len--;
	}
	if (len && line[0] == '/') {
		r.anchored = 1;
		line++;
		len--;
	}
	if (!len)
		return;
	if (memchr(line, '/', len))
		r.anchored = 1;
	r.text = xstrndup(line, len);
	r.len = len;
	if (r.anchored)
		split_segs(&r);
	if (ig->n == ig->cap) {
		ig->cap = ig->cap ? 2 * ig->cap : 16;
		ig->v = xrealloc(ig->v, ig->cap * sizeof(*ig->v));
	}
	ig->v[ig->n++] = r;
}

void ignore_parse(struct ignore *ig, const char *text, size_t len)
{
	size_t at = 0;

	ig->v = NULL;
	ig->n = ig->cap = 0;
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len, n = end - at;

		if (n && text[at + n - 1] == '\r')
			n--;
		add_rule(ig, text + at, n);
		at = end + 1;
	}
}

void ignore_free(struct ignore *ig)
{
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->v[i].text);
		free(ig->v[i].segs);
	}
	free(ig->v);
	ig->v = NULL;
	ig->n = ig->cap = 0;
}
