/*
 * pull_select.c: which of the server's paths a pull takes. One rule, the
 * push's: a tracked path is always synced, whatever .socignore says now;
 * a path the index does not track is taken unless .socignore ignores it.
 * `soc pull PATH...` takes besides only the paths at or under those named.
 *
 * Only the rules: a name soc never tracks of itself (a conflict copy) that
 * another machine chose to track and pushed is taken like any file.
 *
 * A path left out is never downloaded nor tracked, yet the pull still
 * moves its revision past it, so a pull after .socignore stopped ignoring
 * it must look for it in the whole head: the .socignore a whole pull went
 * by is kept in the index (PULL_IGNORE_KEY), and a pull that finds another
 * one adds the head's paths the old rules ignored and the new ones do not
 * (cmd_pull.c). A pull of some paths leaves its revision where it was, so
 * the next whole pull lists those changes again and finds them done.
 */
#include <stdlib.h>
#include <string.h>

#include "pull.h"

#define PULL_IGNORE_KEY "pull_ignore"	/* in the index: the .socignore the last whole pull went by */

int pull_select_open(struct workspace *ws, struct pull_select *sel, char **argv, int n)
{
	struct buf old = BUF_INIT;
	int rc;

	memset(sel, 0, sizeof(*sel));
	for (int i = 0; i < n; i++) {
		char *rel = workspace_path(ws, argv[i]);
		const char *why;

		if (!rel) {
			pull_select_free(sel);
			return EXIT_USAGE;
		}
		if (*rel && (why = path_check(rel, strlen(rel)))) {
			error("cannot pull '%s': %s", show_path(argv[i]), why);
			free(rel);
			pull_select_free(sel);
			return EXIT_USAGE;
		}
		if (!*rel)
			sel->whole = 1;	/* the root named: every path */
		sel->paths = xrealloc(sel->paths, (sel->npaths + 1) * sizeof(*sel->paths));
		sel->paths[sel->npaths++] = rel;
	}
	if (!n)
		sel->whole = 1;
	if (ignore_load(ws, &sel->ig, &sel->text)) {
		pull_select_free(sel);
		return EXIT_ERROR;
	}
	rc = index_text(ws, PULL_IGNORE_KEY, &old);
	if (rc < 0) {
		buf_free(&old);
		pull_select_free(sel);
		return EXIT_ERROR;
	}
	/* None kept: every pull before this one took every path, as if nothing was ignored. */
	if (old.len != sel->text.len || (old.len && memcmp(old.p, sel->text.p, old.len))) {
		sel->changed = 1;
		ignore_parse(&sel->old, old.p ? old.p : "", old.len);
	}
	buf_free(&old);
	return 0;
}

void pull_select_free(struct pull_select *sel)
{
	for (size_t i = 0; i < sel->npaths; i++)
		free(sel->paths[i]);
	free(sel->paths);
	ignore_free(&sel->ig);
	ignore_free(&sel->old);
	buf_free(&sel->text);
	memset(sel, 0, sizeof(*sel));
}

/* At or under one of the paths named (every path when none, or the root, was). */
static int named(const struct pull_select *sel, const char *path)
{
	if (sel->whole)
		return 1;
	for (size_t i = 0; i < sel->npaths; i++) {
		size_t n = strlen(sel->paths[i]);

		if (!strncmp(path, sel->paths[i], n) && (!path[n] || path[n] == '/'))
			return 1;
	}
	return 0;
}

int pull_select_takes(const struct pull_select *sel, const char *path, int tracked)
{
	return named(sel, path) && (tracked || !ignore_path_rules(&sel->ig, path, strlen(path), 0));
}

int pull_select_unignored(const struct pull_select *sel, const char *path)
{
	size_t n = strlen(path);

	return sel->changed && named(sel, path) && ignore_path_rules(&sel->old, path, n, 0) &&
	       !ignore_path_rules(&sel->ig, path, n, 0);
}

int pull_select_record(struct workspace *ws, const struct pull_select *sel)
{
	if (!sel->whole || !sel->changed)
		return 0;
	return index_set_text(ws, PULL_IGNORE_KEY, sel->text.p, sel->text.len);
}
