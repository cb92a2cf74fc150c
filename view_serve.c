/*
 * view_serve.c: POST /api/v1/view, what a pull's rsync reads (PROTOCOL.md
 * section 6c). A server with files/ answers with its module pull. A
 * cluster node keeps no such tree, so it makes views/<id>/ in the blob
 * directory: a hard link to versions/ for each path of the body that is
 * a file of the head, and answers with module views and that id; rsync
 * then reads views/<id>/ as it would read files/. The links are made in
 * one read transaction, so a view is one revision. A push landing
 * meanwhile changes nothing in it; a path it changed shows up as a
 * sha256 the client was not told, which the client checks and pulls
 * again, as with files/. The housekeeping removes views after
 * VIEW_EXPIRE_SECONDS, a view's links holding their blobs until then.
 *
 * A blob's inode is shared by every path and revision holding its
 * content, so its mtime is none of theirs: the client sets each file's
 * mtime from its change line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sql.h"
#include "versions.h"

#define VIEW_PATHS_MAX PUSH_LINES_MAX	/* paths one view may hold */

/* The body's lines, each a valid path: NULL, or why not (*n: how many). */
static const char *check_body(const char *body, size_t len, size_t *n)
{
	const char *p = body, *end = body + len;

	*n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			return "each path ends with a newline";
		if (path_check(p, (size_t)(nl - p)))
			return "a line is not a valid path";
		if (++*n > VIEW_PATHS_MAX)
			return "more paths than one view may hold (" STR(PUSH_LINES_MAX) ")";
		p = nl + 1;
	}
	return *n ? NULL : "a view names at least one path";
}

/* Links each path of the body that is a file of the head into dir: 0, or -1 after a message. */
static int fill(struct server *s, struct sql *db, int dir, const char *body, size_t len)
{
	struct sql_stmt *st = NULL;
	struct dir_cursor to;
	const char *p = body, *end = body + len;
	int rc = -1;

	/* rsync -rt gives a directory it makes the mode of ours (umask aside): a workspace's usual one. */
	dir_cursor_init(&to, dir, 0755, 0);
	if (store_read_begin(db))
		goto out;
	st = sql_prepare(db, "SELECT sha256 FROM files WHERE path = ? AND sha256 IS NOT NULL AND target IS NULL", 0);
	if (!st)
		goto out;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char path[PATH_BYTES_MAX + 1], blob[3 + HASH_HEX_LEN + 1];
		const char *name, *hash;
		int step, parent, linked;

		snprintf(path, sizeof(path), "%.*s", (int)(nl - p), p);
		p = nl + 1;
		sql_bind_text(st, 1, path, -1);
		step = sql_step(st);
		if (step == SQL_ERROR) {
			error("cannot read the head: %s", sql_errmsg(db));
			goto out;
		}
		hash = step == SQL_ROW ? sql_column_text(st, 0) : NULL;
		if (hash && strlen(hash) == HASH_HEX_LEN) {
			snprintf(blob, sizeof(blob), "%.2s/%s", hash, hash);
			parent = dir_cursor_parent(&to, path, &name);
			linked = parent < 0 ? -1 : linkat(s->versions_fd, blob, parent, name, 0);
			if (parent < 0 || (linked && errno != EEXIST && errno != ENOENT)) {
				error_errno("cannot link '%s' into a view", path);
				goto out;
			}
			/* Left out: the client fails to find it and says so; the owner learns why here. */
			if (linked && errno == ENOENT)
				warning("the head names '%s', but '%s/" VERSIONS_DIR "/%s' is missing; run 'soc serve check'",
					path, s->data, blob);
		}
		sql_reset(st);
	}
	rc = 0;
out:
	sql_finalize(st);
	if (sql_in_txn(db))
		store_read_end(db);
	dir_cursor_close(&to);
	return rc;
}

void api_view(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	size_t len, n;
	const char *body = http_body(ex, &len), *why = check_body(body, len, &n);
	struct sql *db = store_db(s);
	char id[VIEW_ID_LEN + 1];
	int dir = -1;

	(void)who;
	if (why)
		return api_error(ex, 400, "bad_request", why);
	if (!s->cluster)
		return api_json(ex, 200, json_pack("{s:s, s:s}", "module", "pull", "dir", ""));
	if (!db || random_hex(id, VIEW_ID_BYTES) || mkdirat(s->views_fd, id, 0700) ||
	    (dir = openat(s->views_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fill(s, db, dir, body, len)) {
		if (dir >= 0) {
			close(dir);
			if (remove_tree(s->views_fd, id))
				warning_errno("cannot remove 'views/%s'", id);
		}
		return api_error(ex, 500, "internal", "the server could not do this; its log says why");
	}
	close(dir);
	api_json(ex, 201, json_pack("{s:s, s:s}", "module", VIEWS_DIR, "dir", id));
}

void view_expire(struct server *s)
{
	/* A listing of a shared mount's directory each second would cost every node a round trip or more. */
	static time_t last;
	DIR *d;
	struct dirent *de;
	time_t now = time(NULL);
	int fd;

	if (s->views_fd < 0 || (last && now - last < VIEW_EXPIRE_EVERY))
		return;
	last = now;
	if ((fd = dup(s->views_fd)) < 0 || !(d = fdopendir(fd)))
		return;
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || now - st.st_mtime < VIEW_EXPIRE_SECONDS)
			continue;
		if (remove_tree(dirfd(d), de->d_name))
			warning_errno("cannot remove 'views/%s'", de->d_name);
	}
	closedir(d);
}
