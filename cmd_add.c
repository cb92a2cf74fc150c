/*
 * cmd_add.c: `soc add PATH... [-r]`, tracking files and directories.
 * Every path is checked before anything is written, so bad input leaves
 * the index as it was; then the paths are recorded and one scan, in the
 * same transaction, hashes what is new.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

const char add_usage[] =
	"usage: soc add PATH... [-r | -id | --recursive] [-q]\n"
	"\n"
	"Track files. A file is tracked from now on. A directory tracks the files\n"
	"directly in it, with -r (or -id, the historic spelling) every file below\n"
	"it, and stays tracked: files created in it later show up in status and\n"
	"are sent by push. Inside directories .socignore decides; a file named\n"
	"here is tracked whatever it says. Adding a path in conflict marks the\n"
	"conflict resolved. Paths are relative to the current directory.\n"
	"\n"
	"  -r, -id, --recursive   directories with everything below them\n"
	"  -q, --quiet            say nothing when it worked\n";

struct target {
	char *rel;	/* relative to the root, "" for the root */
	int is_dir;
};

static const char *kind_of(mode_t m)
{
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISFIFO(m))
		return "a fifo";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* The one line a bad path gets, or 0 and what it is. */
static int check_target(struct workspace *ws, const char *arg, struct target *t)
{
	const char *why;
	struct stat st;
	int fd;

	t->rel = workspace_path(ws, arg);
	if (!t->rel)
		return -1;
	if (*t->rel && (why = path_check(t->rel, strlen(t->rel))))
		return error("cannot add '%s': %s", show_path(arg), why);
	fd = workspace_openat(ws, t->rel, O_PATH | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return error("cannot add '%s': no such file or directory", show_path(arg));
		if (errno == ELOOP)
			return error("cannot add '%s': a directory on its way is a symbolic link", show_path(arg));
		if (errno == ENOTDIR)
			return error("cannot add '%s': a file on its way is not a directory", show_path(arg));
		return error_errno("cannot add '%s'", show_path(arg));
	}
	if (fstat(fd, &st)) {
		close(fd);
		return error_errno("cannot add '%s'", show_path(arg));
	}
	close(fd);
	if (S_ISDIR(st.st_mode)) {
		t->is_dir = 1;
		return 0;
	}
	/* A link is added as itself, never as what it points at (as git adds one). */
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		return error("cannot add '%s': it is %s; soc tracks regular files and symlinks only",
			     show_path(arg), kind_of(st.st_mode));
	return 0;
}

/* How many directories are directly in the workspace's directory rel (.soc/ aside). */
static size_t subdirs(struct workspace *ws, const char *rel)
{
	int fd = workspace_openat(ws, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	size_t n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!*rel && !strcmp(de->d_name, WORKSPACE_DIR)))
			continue;
		if (de->d_type == DT_DIR ||
		    (de->d_type == DT_UNKNOWN && !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		     S_ISDIR(st.st_mode)))
			n++;
	}
	closedir(d);
	return n;
}

/* Is some tracked file deeper than directly in rel? */
static int tracks_below(const struct scan_result *scan, const char *rel)
{
	size_t len = strlen(rel);

	for (size_t k = 0; k < scan->n; k++) {
		const char *p = scan->items[k].e.path;

		if (!scan->items[k].present)
			continue;
		if (len && (strncmp(p, rel, len) || p[len] != '/'))
			continue;
		if (strchr(p + len + !!len, '/'))
			return 1;
	}
	return 0;
}

/*
 * git adds a directory with everything below it; soc without -r only
 * what is directly in it (DESIGN.md section 2), so a directory whose
 * subdirectories nothing tracks gets a line saying how to take them.
 */
static void hint_recursive(struct workspace *ws, const struct scan_result *scan, const char *arg,
			   const char *rel)
{
	size_t n = subdirs(ws, rel);

	if (n && !tracks_below(scan, rel))
		say("'%s' is tracked without the %zu director%s in it; 'soc add -r %s' takes everything below it\n",
		    show_path(arg), n, n == 1 ? "y" : "ies", show_path(arg));
}

int cmd_add(int argc, char **argv, struct workspace *ws)
{
	int recursive = 0, n, i, bad = 0, rc = EXIT_ERROR;
	const struct opt opts[] = {
		{ 'r', "recursive", OPT_BOOL, &recursive, 0 },
		{ 0, "id", OPT_BOOL, &recursive, 1 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct scan_result scan = { 0 };
	struct target *t;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (!n)
		return usage_error("nothing to add; name files or directories");
	t = xcalloc((size_t)n, sizeof(*t));
	for (i = 0; i < n; i++)
		bad |= check_target(ws, argv[i], &t[i]) != 0;
	if (bad)
		goto out;

	if (index_begin(ws))
		goto out;
	for (i = 0; i < n; i++)
		if (t[i].is_dir ? index_add_root(ws, t[i].rel, recursive) : index_add_file(ws, t[i].rel))
			break;
	if (i < n || scan_workspace(ws, &scan)) {
		index_rollback(ws);
		goto out;
	}
	if (index_commit(ws))
		goto out;
	for (size_t k = 0, files = 0;; k++) {
		if (k == scan.n) {
			say("%zu file%s tracked in '%s'\n", files, files == 1 ? "" : "s", ws->root);
			break;
		}
		files += scan.items[k].present;
	}
	for (i = 0; !recursive && i < n; i++)
		if (t[i].is_dir)
			hint_recursive(ws, &scan, argv[i], t[i].rel);
	rc = EXIT_OK;
out:
	scan_result_free(&scan);
	for (i = 0; i < n; i++)
		free(t[i].rel);
	free(t);
	return rc;
}
