/*
 * cmd_status.c: `soc status`, what push would send and what is in
 * conflict, from one scan; and, with one cheap request unless --offline,
 * whether the server has revisions we have not pulled. It is a local
 * command first: a server that cannot be reached, or does not answer
 * within NET_QUICK_MS, costs one line on stderr, never the exit code.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "sync.h"

const char status_usage[] =
	"usage: soc status [--porcelain [-z]] [--offline] [-q]\n"
	"\n"
	"Show what push would send (new, modified and deleted files), what is in\n"
	"conflict, and whether the server has revisions not pulled yet (one\n"
	"request, only when a remote is configured).\n"
	"\n"
	"  --porcelain    for scripts: one line per path, 'X path', sorted by path,\n"
	"                 X one of A (new), M (modified), D (deleted), C (conflict);\n"
	"                 paths quoted as git quotes them; nothing else on stdout\n"
	"  -z             with --porcelain: each line ends in NUL, paths unquoted\n"
	"  --offline      do not ask the server\n"
	"  -q, --quiet    only the list of paths\n";

static const char letter[] = { ' ', 'A', 'M', 'D', 'C' };
static const char *const word[] = { "", "new:", "modified:", "deleted:", "conflict:" };

/* path as seen from the current directory, prefix "a/b/": "../c" for "a/c". */
static void relative(struct buf *out, const char *prefix, const char *path)
{
	size_t common = 0, i;

	for (i = 0; prefix[i] && prefix[i] == path[i]; i++)
		if (prefix[i] == '/')
			common = i + 1;
	for (i = common; prefix[i]; i++)
		if (prefix[i] == '/')
			buf_addstr(out, "../");
	buf_addstr(out, path + common);
}

/* The server's revisions newer than our last pull; -1 when it cannot say (said on stderr). */
static long long server_ahead(struct workspace *ws)
{
	struct session *se;
	long long head;

	if (session_open(ws, &se))
		return -1;
	net_quick(se->net);
	head = remote_head(se->net);
	if (head < 0 || history_check(ws, se->remote.url, net_history(se->net), head, 1))
		return -1;
	head -= index_pulled_rev(ws);
	return head > 0 ? head : 0;
}

static void print_porcelain(const struct scan_result *s, int nul)
{
	struct buf line = BUF_INIT;

	for (size_t i = 0; i < s->n; i++) {
		const struct scan_item *it = &s->items[i];

		if (it->change == CH_NONE)
			continue;
		buf_reset(&line);
		buf_addch(&line, letter[it->change]);
		buf_addch(&line, ' ');
		if (nul)
			buf_add(&line, it->e.path, strlen(it->e.path) + 1);
		else {
			quote_path(&line, it->e.path, strlen(it->e.path));
			buf_addch(&line, '\n');
		}
		fwrite(line.p, 1, line.len, stdout);
	}
	buf_free(&line);
}

static void print_human(const struct workspace *ws, const struct scan_result *s)
{
	struct buf rel = BUF_INIT, shown = BUF_INIT;
	size_t changed = 0, conflicts = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct scan_item *it = &s->items[i];

		if (it->change == CH_NONE)
			continue;
		changed++;
		conflicts += it->change == CH_CONFLICT;
		buf_reset(&rel);
		buf_reset(&shown);
		relative(&rel, ws->prefix, it->e.path);
		quote_path(&shown, rel.p, rel.len);
		printf("  %-10s %s\n", word[it->change], shown.p);
	}
	if (!changed && !soc_quiet)
		printf("nothing to push\n");
	if (conflicts && !soc_quiet)
		printf("resolve each conflict, then 'soc add' the path\n");
	buf_free(&rel);
	buf_free(&shown);
}

int cmd_status(int argc, char **argv, struct workspace *ws)
{
	int porcelain = 0, nul = 0, offline = 0, n;
	const struct opt opts[] = {
		{ 0, "porcelain", OPT_BOOL, &porcelain, 0 },
		{ 'z', NULL, OPT_BOOL, &nul, 0 },
		{ 0, "offline", OPT_BOOL, &offline, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct scan_result scan = { 0 };
	long long ahead = -1;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 0)
		return usage_error("'status' takes no paths");
	if (nul)
		porcelain = 1;	/* as git: -z implies --porcelain */
	if (scan_workspace(ws, &scan))
		return EXIT_ERROR;
	if (!offline && ws->remote && ws->remote[0])
		ahead = server_ahead(ws);
	if (porcelain) {
		print_porcelain(&scan, nul);
		if (ahead > 0 && !soc_quiet)
			fprintf(stderr, "%s: the server has %lld revision%s not pulled yet; run 'soc pull'\n",
				soc_prog, ahead, ahead == 1 ? "" : "s");
	} else {
		print_human(ws, &scan);
		if (ahead > 0)
			printf("the server has %lld new revision%s; run 'soc pull'\n", ahead, ahead == 1 ? "" : "s");
	}
	scan_result_free(&scan);
	return EXIT_OK;
}
