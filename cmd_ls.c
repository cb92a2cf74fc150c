/* cmd_ls.c: the files the server held at a revision (the head by default): mode, size, path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "sync.h"

const char ls_usage[] =
	"usage: soc ls [--rev N] [PATH]\n"
	"\n"
	"The files the server held at revision N (default: its head) at or under\n"
	"PATH (default: everything), one a line: mode, size in bytes, path, quoted\n"
	"as 'soc status' quotes it. 'soc log PATH' shows the revisions.\n"
	"\n"
	"  --rev N    the revision to list\n";

struct ls_out {
	struct buf shown;
	size_t n;
};

static int print_file(struct version_line *v, void *arg)
{
	struct ls_out *o = arg;

	buf_reset(&o->shown);
	quote_path(&o->shown, v->c.path, strlen(v->c.path));
	/* A link as ls -l shows one: its target after the name, quoted as names are. */
	if (v->c.target) {
		buf_addstr(&o->shown, " -> ");
		quote_path(&o->shown, v->c.target, strlen(v->c.target));
	}
	printf("%o %10lld %s\n", v->c.mode, v->c.size, o->shown.p);
	o->n++;
	return 0;
}

int cmd_ls(int argc, char **argv, struct workspace *ws)
{
	int rev = -1, n, rc = EXIT_ERROR;
	const struct opt opts[] = {
		{ 0, "rev", OPT_INT, &rev, 0 },
		OPT_END,
	};
	struct ls_out out = { BUF_INIT, 0 };
	long long head, at;
	struct session *se;
	const char *why;
	char *rel;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 1)
		return usage_error("'ls' takes one path at most");
	rel = workspace_path(ws, n ? argv[0] : ".");
	if (!rel)
		return EXIT_ERROR;
	if (*rel && (why = path_check(rel, strlen(rel)))) {
		error("cannot list '%s': %s", show_path(argv[0]), why);
		goto out;
	}
	if ((rc = session_open(ws, &se)))
		goto out;
	rc = tree_get(se->net, rev, -1, rel, &head, &at, print_file, &out);
	if (!rc && !out.n && *rel)
		say("nothing at '%s' in revision %lld\n", show_path(rel), at);
out:
	buf_free(&out.shown);
	free(rel);
	return rc;
}
