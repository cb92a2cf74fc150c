/*
 * soc.c: one binary, many names. Finds the command from the basename of
 * argv[0] ("soc_push" runs push) or from argv[1], does the shared set-up
 * its flags ask for, runs it, and checks that stdout reached its reader.
 *
 * Adding a command:
 *  1. Write cmd_NAME.c with int cmd_NAME(int argc, char **argv,
 *     struct workspace *ws): usage string first, option table, static
 *     helpers, cmd_NAME() last (git's builtin/add.c order).
 *  2. Declare it below and add a row to `commands`, with NEED_WORKSPACE if
 *     it works inside a workspace (soc.c then finds .soc/, takes the lock
 *     and opens the index, and closes them after) and LINKED if `make
 *     install` gives it a soc_NAME symlink. With NEED_REMOTE as well, it
 *     talks to the workspace's server: after its usage checks it calls
 *     session_open() for the remote and one connection, closed here after.
 *  3. Parse flags with opt_parse(); refuse bad combinations first, with
 *     usage_error() (exit 2). --help is handled here for every command.
 *  4. Document it in README and test it in t/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soc.h"
#include "client.h"
#include "sync.h"

enum { LINKED = 1 << 8 };

static int cmd_version(int argc, char **argv, struct workspace *ws)
{
	(void)argv;
	(void)ws;
	if (argc > 1)
		return usage_error("'version' takes no arguments");
	printf("soc %s\n", SOC_VERSION);
	return EXIT_OK;
}

int cmd_serve(int argc, char **argv, struct workspace *ws);
int cmd_tunnel(int argc, char **argv, struct workspace *ws);
int cmd_init(int argc, char **argv, struct workspace *ws);
int cmd_clone(int argc, char **argv, struct workspace *ws);
int cmd_add(int argc, char **argv, struct workspace *ws);
int cmd_rm(int argc, char **argv, struct workspace *ws);
int cmd_status(int argc, char **argv, struct workspace *ws);
int cmd_push(int argc, char **argv, struct workspace *ws);
int cmd_pull(int argc, char **argv, struct workspace *ws);
int cmd_log(int argc, char **argv, struct workspace *ws);
int cmd_ls(int argc, char **argv, struct workspace *ws);
int cmd_restore(int argc, char **argv, struct workspace *ws);
int cmd_sync(int argc, char **argv, struct workspace *ws);
int cmd_watch(int argc, char **argv, struct workspace *ws);
extern const char serve_usage[], tunnel_usage[];
extern const char init_usage[], clone_usage[], add_usage[], rm_usage[], status_usage[];
extern const char push_usage[], pull_usage[], log_usage[];
extern const char ls_usage[], restore_usage[], sync_usage[], watch_usage[];

static const struct cmd commands[] = {
	{ "init", cmd_init, 0, init_usage },
	{ "clone", cmd_clone, 0, clone_usage },
	{ "add", cmd_add, NEED_WORKSPACE | LINKED, add_usage },
	{ "rm", cmd_rm, NEED_WORKSPACE, rm_usage },
	{ "status", cmd_status, NEED_WORKSPACE | NEED_REMOTE | LINKED, status_usage },
	{ "push", cmd_push, NEED_WORKSPACE | NEED_REMOTE | LINKED, push_usage },
	{ "pull", cmd_pull, NEED_WORKSPACE | NEED_REMOTE | LINKED, pull_usage },
	{ "sync", cmd_sync, NEED_WORKSPACE | NEED_REMOTE | LINKED, sync_usage },
	/* Not NEED_WORKSPACE: it takes the workspace's lock for each sync only. */
	{ "watch", cmd_watch, LINKED, watch_usage },
	{ "log", cmd_log, NEED_WORKSPACE | NEED_REMOTE, log_usage },
	{ "ls", cmd_ls, NEED_WORKSPACE | NEED_REMOTE, ls_usage },
	{ "restore", cmd_restore, NEED_WORKSPACE | NEED_REMOTE, restore_usage },
	{ "serve", cmd_serve, LINKED, serve_usage },
	{ "tunnel", cmd_tunnel, 0, tunnel_usage },
	{ "version", cmd_version, 0,
	  "usage: soc version\n"
	  "\n"
	  "Print the version of soc.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char main_usage[] =
	"usage: soc COMMAND [ARGS]\n"
	"\n"
	"Keep a directory of files in sync between machines through one server.\n"
	"\n"
	"commands:\n";

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_main_usage(FILE *f)
{
	size_t i;

	fputs(main_usage, f);
	for (i = 0; i < NCOMMANDS; i++) {
		const char *u = commands[i].usage + strlen("usage: ");
		const char *nl = strchr(u, '\n');

		fprintf(f, "  %.*s\n", (int)(nl ? nl - u : (long)strlen(u)), u);
	}
	fputs("\nRun 'soc help COMMAND' or 'soc COMMAND --help' for more.\n", f);
}

static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

/* git's run_builtin(): shared set-up, the command, then a checked stdout. */
static int run_cmd(const struct cmd *c, int argc, char **argv)
{
	struct workspace *ws = NULL;
	struct session session = { 0 };
	int rc;

	soc_cmd_usage = c->usage;
	if (wants_help(argc, argv)) {
		fputs(c->usage, stdout);
		rc = EXIT_OK;
	} else {
		if (c->flags & NEED_WORKSPACE) {
			rc = workspace_open(&ws);
			if (rc)
				return rc;
			if (c->flags & NEED_REMOTE)
				ws->session = &session;
		}
		rc = c->fn(argc, argv, ws);
		session_close(&session);
		if (ws)
			workspace_close(ws);
	}
	if (fflush(stdout) || ferror(stdout)) {
		error_errno("cannot write to standard output");
		return EXIT_ERROR;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static char prog[64];
	const char *base = strrchr(argv[0], '/');
	const struct cmd *c;

	base = base ? base + 1 : argv[0];
	if (!strncmp(base, "soc_", 4)) {
		c = find_cmd(base + 4);
		if (!c) {
			fprintf(stderr, "soc: '%s' is not a soc command\n", base);
			return EXIT_USAGE;
		}
		soc_prog = base;
		return run_cmd(c, argc, argv);
	}

	if (argc < 2) {
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_main_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(1, argv, NULL);
	if (!strcmp(argv[1], "--list")) {
		/* The names `make install` links as soc_NAME. */
		for (size_t i = 0; i < NCOMMANDS; i++)
			if (commands[i].flags & LINKED)
				printf("%s\n", commands[i].name);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			print_main_usage(stdout);
			return EXIT_OK;
		}
		c = find_cmd(argv[2]);
		if (!c) {
			fprintf(stderr, "soc: '%s' is not a soc command\n", argv[2]);
			return EXIT_USAGE;
		}
		fputs(c->usage, stdout);
		return EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		fprintf(stderr, "soc: '%s' is not a soc command\n", argv[1]);
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	snprintf(prog, sizeof(prog), "soc %s", c->name);
	soc_prog = prog;
	return run_cmd(c, argc - 1, argv + 1);
}
