/*
 * store_bind.c: which database holds a root's history. A root started
 * with `soc serve --db CONNINFO` keeps that conninfo in ROOT/db.conninfo
 * (0600, as admin.token is): every later command on the root, a start
 * without --db, the token and check commands, finds the same database,
 * and a root is never started on another one by mistake, where a new,
 * empty history would be begun beside its files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

static const char *wanted;	/* --db, or NULL */

void store_want_db(const char *conninfo)
{
	wanted = conninfo;
}

int store_conninfo_read(int root_fd, const char *root, char **out)
{
	char buf[DB_CONNINFO_MAX + 2];
	ssize_t n;
	size_t len = 0;
	int fd = openat(root_fd, DB_CONNINFO_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*out = NULL;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return error_errno("cannot read '%s/" DB_CONNINFO_FILE "'", root);
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno("cannot read '%s/" DB_CONNINFO_FILE "'", root);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (!len || len > DB_CONNINFO_MAX || strlen(buf) != len || strchr(buf, '\n'))
		return error("'%s/" DB_CONNINFO_FILE "' is not one line of a PostgreSQL conninfo", root);
	*out = xstrdup(buf);
	return 0;
}

int store_bind_write(struct server *s, const char *conninfo)
{
	char *line = xasprintf("%s\n", conninfo);
	int fd = openat(s->root_fd, DB_CONNINFO_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -1 : write_full(fd, line, strlen(line)) || fsync(fd) ? -1 : 0;

	free(line);
	if (fd >= 0 && close(fd))
		rc = -1;
	if (!rc && fsync(s->root_fd))
		rc = -1;
	if (rc) {
		int e = errno;

		if (fd >= 0)
			unlinkat(s->root_fd, DB_CONNINFO_FILE, 0);
		errno = e;
		return error_errno("cannot write '%s/" DB_CONNINFO_FILE "'", s->root);
	}
	return 0;
}

int store_bind(struct server *s, int create, char **conninfo)
{
	struct stat st;
	int lite;

	if (store_conninfo_read(s->root_fd, s->root, conninfo))
		return -1;
	lite = !fstatat(s->root_fd, DB_NAME, &st, AT_SYMLINK_NOFOLLOW) && (st.st_size || !*conninfo);
	if (*conninfo && lite) {
		free(*conninfo);
		*conninfo = NULL;
		return error("'%s' holds both " DB_NAME " and " DB_CONNINFO_FILE ": which history is the root's "
			     "is not clear; move the one that is not away", s->root);
	}
	if (!wanted)
		return 0;
	if (strlen(wanted) > DB_CONNINFO_MAX || strchr(wanted, '\n'))
		return error("--db wants one line of a PostgreSQL conninfo of at most %d bytes", DB_CONNINFO_MAX);
	if (*conninfo) {
		if (!strcmp(*conninfo, wanted))
			return 0;
		free(*conninfo);
		*conninfo = NULL;
		return error("'%s' keeps its history in the database of '%s/" DB_CONNINFO_FILE "', not in the "
			     "one --db names; give that one, or no --db", s->root, s->root);
	}
	if (lite || !create)
		return error("'%s' keeps its history in " DB_NAME ", not in PostgreSQL; --db starts a new root",
			     s->root);
	if (store_bind_write(s, wanted))
		return -1;
	*conninfo = xstrdup(wanted);
	return 0;
}
