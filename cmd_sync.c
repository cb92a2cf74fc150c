/*
 * cmd_sync.c: soc sync, a pull and then a push, for a person who wants
 * to be up to date and a script that wants one exit code. The two are
 * the very commands, on one connection; when another machine's push
 * lands between them (push exits 3), sync pulls and pushes again, as a
 * person would.
 */
#include <stdio.h>

#include "sync.h"

#define SYNC_RETRIES 3		/* pulls and pushes again after a push refused for another's */
#define SYNC_ARGS_MAX 4		/* "pull", --allow-delete, -q, NULL */

const char sync_usage[] =
	"usage: soc sync [--allow-delete] [-q]\n"
	"\n"
	"Pull the server's changes, then push yours: 'soc pull' then 'soc push'.\n"
	"A push refused because another landed meanwhile pulls and pushes again.\n"
	"Nothing is pushed after a pull that failed or left a conflict; the exit\n"
	"code is then the pull's, else the push's (the codes of soc(1)).\n"
	"\n"
	"  --allow-delete    go ahead with deletes of more than half the files, as\n"
	"                    pull --allow-delete and push --allow-delete\n"
	"  -q, --quiet       say nothing unless something fails\n";

/* Runs cmd as if given "name [--allow-delete] [-q]": each command parses (and moves) its own argv. */
static int run_one(int (*cmd)(int, char **, struct workspace *), char *name, int allow_delete,
		   struct workspace *ws)
{
	char *argv[SYNC_ARGS_MAX];
	char flag_allow[] = "--allow-delete", flag_quiet[] = "-q";
	int argc = 0;

	argv[argc++] = name;
	if (allow_delete)
		argv[argc++] = flag_allow;
	if (soc_quiet)
		argv[argc++] = flag_quiet;
	argv[argc] = NULL;
	return cmd(argc, argv, ws);
}

int cmd_sync(int argc, char **argv, struct workspace *ws)
{
	char pull[] = "pull", push[] = "push";
	int allow_delete = 0, n, rc;
	const struct opt opts[] = {
		{ 0, "allow-delete", OPT_BOOL, &allow_delete, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 0)
		return usage_error("'sync' takes no paths; it pulls and pushes every change");
	for (int tries = 0;; tries++) {
		rc = run_one(cmd_pull, pull, allow_delete, ws);
		if (rc != EXIT_OK)
			return rc;	/* a conflict (push would refuse) or a failure (push should not run) */
		rc = run_one(cmd_push, push, allow_delete, ws);
		if (rc != EXIT_REJECTED || tries == SYNC_RETRIES)
			return rc;
		say("another push landed meanwhile; pulling again\n");
	}
}
