/*
 * store_lost.c: a root whose soc.db was lost. files/ or versions/ still
 * hold data, or admin.token still names a token, but soc.db is missing,
 * empty or new: starting would begin a new history over them, so soc
 * serve, token and check refuse.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"
#include "sql.h"

/*
 * 1 when the directory name beneath dirfd holds anything but directories,
 * at any depth; 0 when it does not or is missing; -1 after a message.
 * Past STORE_DATA_DEPTH_MAX levels it counts as data: a refusal is safe.
 */
#define STORE_DATA_DEPTH_MAX 256
static int holds_data(int dirfd, const char *name, const char *shown, int depth)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), found = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ENOTDIR)
		return 1;
	if (fd < 0 || !(d = fdopendir(fd))) {
		error_errno("cannot read '%s'", shown);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (depth >= STORE_DATA_DEPTH_MAX)
		found = 1;
	while (!found && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			found = 1;
		else
			found = holds_data(fd, de->d_name, shown, depth + 1);
	}
	closedir(d);
	return found;
}

/* PATH as an SQLite URI that reads the file as it is: '%', '?' and '#' would end or bend the path. */
static char *sqlite_uri_immutable(const char *path)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "file:");
	for (; *path; path++) {
		if (*path == '%' || *path == '?' || *path == '#')
			buf_addf(&b, "%%%02X", (unsigned char)*path);
		else
			buf_addch(&b, *path);
	}
	buf_addstr(&b, "?immutable=1");
	return buf_detach(&b);
}

/* Revisions and head (0 for a new database), and tokens. */
#define LOST_QUERY "SELECT (SELECT count(*) FROM revs) + (SELECT CAST(value AS BIGINT) FROM meta WHERE" \
	" key='head'), (SELECT count(*) FROM tokens)"

/* What soc.db is: missing, empty (0 bytes), new (no revision), or holding a history. */
enum db_state { DB_MISSING, DB_EMPTY, DB_NEW, DB_KEPT };

static enum db_state db_state(int root_fd, const char *path, int ask, int *tokens)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	enum db_state state = DB_NEW;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW;
	char *uri = NULL;
	struct stat sb;

	*tokens = 0;
	if (fstatat(root_fd, DB_NAME, &sb, AT_SYMLINK_NOFOLLOW))
		return DB_MISSING;
	if (S_ISREG(sb.st_mode) && !sb.st_size)
		return DB_EMPTY;
	if (!ask)
		return DB_KEPT;
	/*
	 * Opened for writing, a WAL database makes its -wal and -shm and removes them on
	 * close, and a refusal would have changed the root. With no WAL to read, the file
	 * alone holds the database: read it as immutable, which creates nothing.
	 */
	if (fstatat(root_fd, DB_NAME "-wal", &sb, AT_SYMLINK_NOFOLLOW) || !sb.st_size) {
		uri = sqlite_uri_immutable(path);
		flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOFOLLOW;
	}
	/* Never created here: only asked. A database that cannot answer counts as new. */
	if (sqlite3_open_v2(uri ? uri : path, &db, flags, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, LOST_QUERY, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) > 0)
			state = DB_KEPT;
		*tokens = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(uri);
	return state;
}

/*
 * The same asked of the PostgreSQL database a root is bound to: one with
 * no tables counts as new; one that cannot be reached gives -1 (after a
 * message), for nothing can start on it.
 */
static int pg_state(const char *conninfo, int *tokens)
{
	struct sql *db = sql_open_pg(conninfo);
	struct sql_stmt *st = NULL;
	int state = DB_NEW;

	*tokens = 0;
	if (!db)
		return -1;	/* after a message: nothing can start without it */
	if ((st = sql_prepare(db, LOST_QUERY, 0)) && sql_step(st) == SQL_ROW) {
		if (sql_column_int64(st, 0) > 0)
			state = DB_KEPT;
		*tokens = sql_column_int(st, 1);
	}
	sql_finalize(st);
	sql_close(db);
	return state;
}

int store_refuse_lost(const char *root, int starting)
{
	static const char *const what[] = { "is missing", "is empty", "holds no revision" };
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), files, versions, tokens, rc = 0;
	char *path, *shown_files, *shown_versions, *conninfo;
	const char *name = DB_NAME;
	enum db_state state;
	struct stat sb;

	if (fd < 0)
		return 0;	/* a new root: store_open makes it, or says why not */
	if (store_conninfo_read(fd, root, &conninfo)) {
		close(fd);
		return -1;
	}
	path = xasprintf("%s/" DB_NAME, root);
	shown_files = xasprintf("%s/files", root);
	shown_versions = xasprintf("%s/versions", root);
	/* Only a start asks soc.db: the token and check commands may not have become its owner yet. */
	if (conninfo) {
		name = "PostgreSQL database";
		int st = pg_state(conninfo, &tokens);

		free(conninfo);
		if (st < 0) {
			free(path);
			free(shown_files);
			free(shown_versions);
			close(fd);
			return -1;
		}
		state = (enum db_state)st;
	} else {
		state = db_state(fd, path, starting, &tokens);
	}
	files = state == DB_KEPT ? 0 : holds_data(fd, "files", shown_files, 0);
	versions = state == DB_KEPT || files ? 0 : holds_data(fd, "versions", shown_versions, 0);
	if (files < 0 || versions < 0) {
		rc = -1;
	} else if (files || versions) {
		rc = error("'%s' holds files (%s/) but its %s %s: refusing to start a new history over "
			   "them; put back the %s that goes with them (or a backup made by 'soc serve backup')",
			   root, files ? "files" : "versions", name, what[state], name);
	} else if ((state == DB_MISSING || state == DB_EMPTY || (starting && !tokens)) &&
		   !fstatat(fd, ADMIN_TOKEN_FILE, &sb, AT_SYMLINK_NOFOLLOW)) {
		/* A new admin token would be written over the one people hold. */
		rc = error("'%s/" ADMIN_TOKEN_FILE "' exists but %s %s: refusing to start a new database "
			   "over it; put back the %s that goes with it, or move " ADMIN_TOKEN_FILE " away",
			   root, name, state == DB_MISSING || state == DB_EMPTY ? what[state] : "holds no token", name);
	}
	free(path);
	free(shown_files);
	free(shown_versions);
	close(fd);
	return rc;
}
