/*
 * cmd_rm.c: `soc rm PATH...`, to stop tracking. The local file is never
 * touched. A path never pushed is forgotten at once; one the server holds
 * stays in the index, marked removed, so status shows D and the next push
 * deletes it there. Under a tracked directory the path is also remembered
 * as excluded, or the next scan would pick it up again as new.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

const char rm_usage[] =
	"usage: soc rm PATH... [-q]\n"
	"\n"
	"Stop tracking files; the files here are kept. A file never pushed is\n"
	"simply forgotten; one the server has shows as D in status and is deleted\n"
	"on the server by the next push. A directory stops tracking everything\n"
	"below it. A path under a tracked directory is not picked up again until\n"
	"'soc add' names it. Paths are relative to the current directory.\n"
	"\n"
	"  -q, --quiet    say nothing when it worked\n";

struct target {
	char *rel;
	int exclude;	/* a root that stays covers it */
};

static int cmp_row(const void *key, const void *row)
{
	return strcmp(key, ((const struct scan_item *)row)->e.path);
}

/* The first row at or after key, by binary search. */
static size_t lower_bound(const struct index_snapshot *s, const char *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_row(key, &s->rows[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !n || !strcmp(path, dir) || (!strncmp(path, dir, n) && path[n] == '/');
}

/* Something at or under rel is tracked: a row, a root, or a file a root's walk would find. */
static int tracked(struct workspace *ws, const struct index_snapshot *s, const char *rel)
{
	char *slash = xasprintf("%s/", rel);
	size_t at = lower_bound(s, rel), sub = lower_bound(s, slash);
	struct stat st;
	int known = 0, fd;

	known = !*rel ? s->n > 0 :
		(at < s->n && !strcmp(s->rows[at].e.path, rel)) ||
		(sub < s->n && !strncmp(s->rows[sub].e.path, slash, strlen(slash)));
	free(slash);
	for (size_t r = 0; r < s->nroots && !known; r++)
		known = under(s->roots[r].path, rel);
	if (known || !*rel)
		return known;
	fd = workspace_openat(ws, rel, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (!fstat(fd, &st)) {
		if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
			known = root_covers(s->roots, s->nroots, rel);
		else if (S_ISDIR(st.st_mode))
			for (size_t r = 0; r < s->nroots && !known; r++)
				known = s->roots[r].recursive && under(rel, s->roots[r].path);
	}
	close(fd);
	return known;
}

/* A root that rm leaves in place still covers rel: remember rel as excluded. */
static int still_covered(const struct index_snapshot *s, const char *rel)
{
	for (size_t r = 0; r < s->nroots; r++) {
		const struct root *root = &s->roots[r];

		if (*rel && !under(root->path, rel) && root_covers(root, 1, rel))
			return 1;
	}
	return 0;
}

int cmd_rm(int argc, char **argv, struct workspace *ws)
{
	const struct opt opts[] = {
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct index_snapshot snap = { 0 };
	struct target *t;
	int n, i, bad = 0, rc = EXIT_ERROR;
	const char *why;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (!n)
		return usage_error("nothing to remove; name files or directories");
	t = xcalloc((size_t)n, sizeof(*t));
	if (index_load(ws, &snap))
		goto out;
	for (i = 0; i < n; i++) {
		t[i].rel = workspace_path(ws, argv[i]);
		if (!t[i].rel)
			bad = 1;
		else if (*t[i].rel && (why = path_check(t[i].rel, strlen(t[i].rel))))
			bad = error("cannot remove '%s': %s", show_path(argv[i]), why);
		else if (!tracked(ws, &snap, t[i].rel))
			bad = error("cannot remove '%s': it is not tracked", show_path(argv[i]));
		else
			t[i].exclude = still_covered(&snap, t[i].rel);
	}
	if (bad)
		goto out;

	if (index_begin(ws))
		goto out;
	for (i = 0; i < n; i++) {
		size_t dropped = 0, removed = 0;

		if (index_remove(ws, t[i].rel, t[i].exclude, &dropped, &removed)) {
			index_rollback(ws);
			goto out;
		}
		if (removed)
			say("stopped tracking '%s'; the next push deletes %zu file%s on the server\n",
			    show_path(argv[i]), removed, removed == 1 ? "" : "s");
		else
			say("stopped tracking '%s'\n", show_path(argv[i]));
	}
	if (index_commit(ws))
		goto out;
	rc = EXIT_OK;
out:
	index_snapshot_free(&snap);
	for (i = 0; i < n; i++)
		free(t[i].rel);
	free(t);
	return rc;
}
