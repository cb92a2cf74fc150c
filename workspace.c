/* workspace.c: finding the workspace root from any subdirectory, as git finds .git. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

int workspace_open(struct workspace **out)
{
	struct workspace *ws;
	struct buf dir = BUF_INIT;
	char *cwd = getcwd(NULL, 0);
	size_t cut;

	if (!cwd)
		return error_errno("cannot get the current directory"), EXIT_ERROR;
	buf_addstr(&dir, cwd);
	for (;;) {
		struct stat st;
		size_t len = dir.len;

		buf_addstr(&dir, "/" WORKSPACE_DIR);
		if (!stat(dir.p, &st) && S_ISDIR(st.st_mode)) {
			dir.len = len;
			dir.p[len] = '\0';
			break;
		}
		dir.len = len;
		dir.p[len] = '\0';
		if (len <= 1 || !strrchr(dir.p, '/')) {
			error("not in a soc workspace (no .soc/ here or in any parent; run 'soc init')");
			free(cwd);
			buf_free(&dir);
			return EXIT_ERROR;
		}
		cut = (size_t)(strrchr(dir.p, '/') - dir.p);
		dir.len = cut ? cut : 1;
		dir.p[dir.len] = '\0';
	}
	ws = xcalloc(1, sizeof(*ws));
	ws->root = buf_detach(&dir);
	if (!strcmp(ws->root, cwd))
		ws->prefix = xstrdup("");
	else
		ws->prefix = xasprintf("%s/", cwd + strlen(ws->root) + (strcmp(ws->root, "/") ? 1 : 0));
	free(cwd);
	*out = ws;
	return 0;
}

void workspace_close(struct workspace *ws)
{
	free(ws->root);
	free(ws->prefix);
	free(ws);
}
