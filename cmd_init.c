/* cmd_init.c: `soc init [DIR] [--remote URL]`, making a directory a workspace. */
#include <stdlib.h>

#include "client.h"

const char init_usage[] =
	"usage: soc init [DIR] [--remote URL] [-q]\n"
	"\n"
	"Make DIR (default: the current directory, created if missing) a soc\n"
	"workspace: DIR/.soc/ with its settings (.soc/config, mode 0600) and an\n"
	"empty index. The remote can be set later with a 'remote = URL' line in\n"
	"DIR/.soc/config; the token with 'token = ...' there or SOC_TOKEN.\n"
	"\n"
	"  --remote URL   the server to push to and pull from (http:// or https://)\n"
	"  -q, --quiet    say nothing when it worked\n";

int cmd_init(int argc, char **argv, struct workspace *ws)
{
	const char *remote = NULL, *dir;
	const struct opt opts[] = {
		{ 0, "remote", OPT_STRING, &remote, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	char *abs;
	int n, rc;

	(void)ws;
	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 1)
		return usage_error("'init' takes one directory at most");
	if (remote && !remote_url_valid(remote))
		return usage_error("remote '%s' is not an http:// or https:// URL", show_path(remote));
	dir = n ? argv[0] : ".";
	rc = workspace_create(dir, remote);
	if (rc)
		return rc;
	abs = realpath(dir, NULL);
	say("initialised an empty soc workspace in '%s'\n", abs ? abs : dir);
	if (!remote)
		say("no remote yet: push and pull need a 'remote = URL' line in '%s/" CONFIG_FILE "'\n",
		    abs ? abs : dir);
	free(abs);
	return EXIT_OK;
}
