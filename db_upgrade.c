/*
 * db_upgrade.c: an index written by an older soc, brought to this one's
 * version in place, whole or not at all (one transaction each step).
 *
 * Version 2 named content by md5; version 3 by sha256. The sha256 of what
 * a row last saw, and of its base, is known only where the file here still
 * holds that content: each tracked file is read once, md5 and sha256 in
 * the same pass. A base the file no longer holds (an edit or a delete not
 * pushed yet) cannot be named by sha256 from here; it becomes "never
 * synced", and the next pull lists the whole head and compares the file
 * with the server's: the same content is recorded, different content is
 * a conflict with a copy. Nothing is lost; a delete not pushed before the
 * upgrade is undone by that pull.
 *
 * Version 4 records the server's history id beside the last revision
 * pulled, in a table of its own (state's values are integers). An index
 * from before has none: the first id the next push or pull sees is taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

static int fail(struct workspace *ws, const char *what)
{
	error("index '%s/" INDEX_FILE "': cannot upgrade it from version %s: %s", ws->root, what,
	      sqlite3_errmsg(ws->db));
	sqlite3_exec(ws->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Version 1 kept no synced mode, so a chmod alone was never pushed. What
 * its rows say of the mode is what the old soc last saw, and that is the
 * best guess of what the server holds until it can be asked: taken as
 * synced, an upgrade shows nothing modified, and a chmod from now on is
 * a change. The guess is marked (modes_guessed), and the next push or
 * pull replaces it with the server's modes (pending.c) before it sends a
 * base_mode: a chmod the old soc saw and could not send then shows as a
 * change, and a wrong guess never makes the server refuse a push.
 */
static int upgrade_1(struct workspace *ws)
{
	static const char q[] =
		"BEGIN IMMEDIATE;"
		"ALTER TABLE files ADD COLUMN base_mode INTEGER NOT NULL DEFAULT 0;"
		"UPDATE files SET base_mode = mode WHERE base <> '';"
		"INSERT OR REPLACE INTO state (key, value) VALUES ('modes_guessed', 1);"
		"PRAGMA user_version = 2;"
		"COMMIT;";

	return sqlite3_exec(ws->db, q, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(ws, "1");
}

/* md5 and sha256 of the tracked file path here, in one read; -1 when it is not a readable file. */
static int read_both(struct workspace *ws, const char *path, char md5[MD5_HEX_LEN + 1],
		     char sha[HASH_HEX_LEN + 1])
{
	struct stat st;
	int fd = workspace_openat(ws, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY), rc;

	if (fd < 0)
		return -1;
	rc = fstat(fd, &st) || !S_ISREG(st.st_mode) || md5_fd(fd, md5, sha) ? -1 : 0;
	close(fd);
	return rc;
}

struct old_row {
	char *path;
	char seen[MD5_HEX_LEN + 1], base[MD5_HEX_LEN + 1];
};

static void rows_free(struct old_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* Every row first: an UPDATE under a running SELECT of the same table may meet its rows again. */
static int read_rows(struct workspace *ws, struct old_row **out, size_t *n)
{
	sqlite3_stmt *rows = NULL;
	size_t alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(ws->db, "SELECT path, sha256, base FROM files", -1, &rows, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(rows, 0);
		const char *seen = (const char *)sqlite3_column_text(rows, 1);
		const char *base = (const char *)sqlite3_column_text(rows, 2);

		if (!path)
			continue;
		if (*n == alloc) {
			alloc = alloc ? 2 * alloc : 1024;
			*out = xrealloc(*out, alloc * sizeof(**out));
		}
		(*out)[*n].path = xstrdup(path);
		snprintf((*out)[*n].seen, sizeof((*out)[*n].seen), "%s", seen ? seen : "");
		snprintf((*out)[*n].base, sizeof((*out)[*n].base), "%s", base ? base : "");
		(*n)++;
	}
	sqlite3_finalize(rows);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int upgrade_2(struct workspace *ws)
{
	sqlite3_stmt *set = NULL;
	struct old_row *v = NULL;
	size_t n = 0;
	int forgot = 0;

	if (sqlite3_exec(ws->db, "BEGIN IMMEDIATE; ALTER TABLE files RENAME COLUMN md5 TO sha256;", NULL, NULL,
			 NULL) != SQLITE_OK)
		return fail(ws, "2");
	if (read_rows(ws, &v, &n) ||
	    sqlite3_prepare_v2(ws->db,
			       "UPDATE files SET sha256 = ?2, base = ?3,"
			       " size = CASE WHEN ?2 = '' THEN -1 ELSE size END,"
			       " base_mode = CASE WHEN ?3 = '' THEN 0 ELSE base_mode END WHERE path = ?1",
			       -1, &set, NULL) != SQLITE_OK)
		goto bad;
	say("upgrading the index to name content by sha256: reading every tracked file once\n");
	for (size_t i = 0; i < n; i++) {
		char md5[MD5_HEX_LEN + 1], sha[HASH_HEX_LEN + 1];
		int here = !read_both(ws, v[i].path, md5, sha);

		forgot |= v[i].base[0] && !(here && !strcmp(v[i].base, md5));
		sqlite3_reset(set);
		sqlite3_bind_text(set, 1, v[i].path, -1, SQLITE_STATIC);
		/* "" makes the next scan hash it: its size, -1, matches no file. */
		index_bind_hash(set, 2, here && !strcmp(v[i].seen, md5) ? sha : "");
		index_bind_hash(set, 3, here && !strcmp(v[i].base, md5) ? sha : "");
		if (sqlite3_step(set) != SQLITE_DONE)
			goto bad;
	}
	sqlite3_finalize(set);
	rows_free(v, n);
	/*
	 * With a base forgotten, the next pull lists the whole head, so those
	 * paths are compared with the server's (a push before it is told to
	 * pull, as for any path the server has and this side calls new).
	 */
	if (forgot && sqlite3_exec(ws->db, "UPDATE state SET value = 0 WHERE key = 'pulled_rev'", NULL, NULL,
				   NULL) != SQLITE_OK)
		return fail(ws, "2");
	if (sqlite3_exec(ws->db, "PRAGMA user_version = 3; COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
		return fail(ws, "2");
	return 0;
bad:
	sqlite3_finalize(set);
	rows_free(v, n);
	return fail(ws, "2");
}

static int upgrade_3(struct workspace *ws)
{
	static const char q[] =
		"BEGIN IMMEDIATE;"
		"CREATE TABLE IF NOT EXISTS state_text (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
		"PRAGMA user_version = 4;"
		"COMMIT;";

	return sqlite3_exec(ws->db, q, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(ws, "3");
}

int index_upgrade(struct workspace *ws, int version)
{
	if (version == 1 && upgrade_1(ws))
		return -1;
	if (version <= 2 && upgrade_2(ws))
		return -1;
	if (version <= 3 && upgrade_3(ws))
		return -1;
	return 0;
}
