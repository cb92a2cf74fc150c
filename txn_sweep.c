/*
 * txn_sweep.c: the directories of pushes that outlived their rows:
 * strays in staging/ and commit/ (a crash, an expired push), and what
 * commits left in trash/. Run at start and by the housekeeping tick.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "txn.h"

static int txn_id_valid(const char *name)
{
	return strlen(name) == TXN_ID_LEN && strspn(name, "0123456789abcdef") == TXN_ID_LEN;
}

/* A listing of dir from its start, on an fd of its own; NULL after a warning naming what. */
static DIR *list_dir(int dir, const char *what)
{
	int fd = dup(dir);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		warning_errno("cannot read '%s'", what);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

void txn_sweep(struct sql *db, int dir, const char *what, const char *keep)
{
	DIR *d = list_dir(dir, what);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct txn_row t;
		int rc = 0;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (txn_id_valid(de->d_name))
			rc = txn_get(db, de->d_name, &t);
		/* No answer (-1): leave it for the next sweep. */
		if (rc < 0 || (rc && strstr(keep, t.state)))
			continue;
		if (remove_tree(dirfd(d), de->d_name))
			warning_errno("cannot remove the stray '%s/%s'", what, de->d_name);
		else
			fprintf(stderr, "%s: removed the stray '%s/%s'\n", soc_prog, what, de->d_name);
	}
	closedir(d);
}

void txn_empty_trash(struct server *s, time_t age)
{
	DIR *d = list_dir(s->trash_fd, "trash");
	struct dirent *de;
	time_t now = time(NULL);

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* A rename sets ctime: the time the commit put it here. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || now - st.st_ctime < age)
			continue;
		if (remove_tree(dirfd(d), de->d_name))
			warning_errno("cannot remove 'trash/%s'", de->d_name);
	}
	closedir(d);
}
