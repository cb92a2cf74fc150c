/*
 * store_upgrade.c: a soc.db written by an older soc, brought to this
 * one's schema in place before the schema is applied, whole or not at
 * all (one transaction for every step).
 *
 * Columns that came later (txn_items.base_mode, txns.token_sha256) are
 * added. An older soc named content by md5: every file of the head is
 * read once from files/ (md5 and sha256 in one pass) and must be what
 * soc.db says; a head that does not match its files/ is refused, never
 * renamed into trust. A past revision's content was never kept, so its
 * changes rows get "" (unknown), except the row that made each head
 * file. Open pushes are dropped (their clients push again); a push an
 * older soc left half-applied is refused: that soc must finish it first.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "serve.h"

/* Asked of the schema: a quoted name that is no column would read as a string. */
static int has_column(sqlite3 *db, const char *table, const char *col)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

/* As sql_exec, with the upgrade named in its message. */
static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	error("database: cannot upgrade it: %s", msg ? msg : "out of memory");
	sqlite3_free(msg);
	return -1;
}

/*
 * txn_items.base_mode came after the first roots were made: a root from
 * then gets the column (0: its open pushes check no mode, as their
 * clients asked).
 */
static int add_base_mode(sqlite3 *db)
{
	if (!has_column(db, "txn_items", "txn") || has_column(db, "txn_items", "base_mode"))
		return 0;
	return exec(db, "ALTER TABLE txn_items ADD COLUMN base_mode INTEGER NOT NULL DEFAULT 0");
}

/*
 * txns.token_sha256 came later still: a txn was its token's by name only,
 * so a push of a revoked token went on under a new token of that name.
 * An open txn of a root from then is given the identity of the token of
 * its name now; one whose token is gone keeps NULL, which no token is.
 */
static int add_token_identity(sqlite3 *db)
{
	if (!has_column(db, "txns", "id") || has_column(db, "txns", "token_sha256"))
		return 0;
	return exec(db, "ALTER TABLE txns ADD COLUMN token_sha256 TEXT;"
			"UPDATE txns SET token_sha256 = (SELECT sha256 FROM tokens WHERE tokens.name = txns.token);");
}

/*
 * Symlinks came later again: a link is a row whose target is its content.
 * A root from before gets the column, NULL (a regular file) in every row.
 */
static int add_link_targets(sqlite3 *db)
{
	if (!has_column(db, "files", "path") || has_column(db, "files", "target"))
		return 0;
	return exec(db, "ALTER TABLE files ADD COLUMN target TEXT;"
			"ALTER TABLE changes ADD COLUMN target TEXT;"
			"ALTER TABLE txn_items ADD COLUMN target TEXT;");
}

/* The sha256 of files/path if its md5 is md5, else -1 after a message. */
static int head_sha(int files_fd, const char *path, const char *md5, char sha[HASH_HEX_LEN + 1])
{
	char got[MD5_HEX_LEN + 1];
	struct stat st;
	int fd = beneath_open(files_fd, path, O_RDONLY | O_NONBLOCK), bad;

	if (fd < 0)
		return error_errno("database: cannot upgrade it to sha256: cannot read 'files/%s'", path);
	bad = fstat(fd, &st) || !S_ISREG(st.st_mode) || md5_fd(fd, got, sha) || strcmp(got, md5);
	close(fd);
	if (bad)
		return error("database: cannot upgrade it to sha256: 'files/%s' is not the content soc.db "
			     "names (md5 %s); run the older soc's 'soc serve check'", path, md5);
	return 0;
}

struct old_row {
	char *path;
	char md5[MD5_HEX_LEN + 1];
};

/* The head's paths and md5s, read whole: an UPDATE under a running SELECT may meet its rows again. */
static int read_head(sqlite3 *db, struct old_row **out, size_t *n)
{
	sqlite3_stmt *rows = NULL;
	size_t alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT path, sha256 FROM files WHERE sha256 IS NOT NULL", -1, &rows, NULL) !=
	    SQLITE_OK)
		return error("database: cannot upgrade it: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(rows, 0);
		const char *md5 = (const char *)sqlite3_column_text(rows, 1);

		if (!path || !md5)
			continue;
		if (*n == alloc) {
			alloc = alloc ? 2 * alloc : 1024;
			*out = xrealloc(*out, alloc * sizeof(**out));
		}
		(*out)[*n].path = xstrdup(path);
		snprintf((*out)[*n].md5, sizeof((*out)[*n].md5), "%s", md5);
		(*n)++;
	}
	sqlite3_finalize(rows);
	return rc == SQLITE_DONE ? 0 : error("database: cannot upgrade it: %s", sqlite3_errmsg(db));
}

static int name_by_sha256(sqlite3 *db, int files_fd)
{
	sqlite3_stmt *set = NULL, *half = NULL;
	struct old_row *v = NULL;
	size_t n = 0;
	int rc = -1;

	if (!has_column(db, "files", "md5"))
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM txns WHERE state = 'applying'", -1, &half, NULL) != SQLITE_OK)
		return error("database: cannot upgrade it: %s", sqlite3_errmsg(db));
	rc = sqlite3_step(half);
	sqlite3_finalize(half);
	if (rc == SQLITE_ROW)
		return error("database: a push the older soc began to apply is not finished; "
			     "start that soc once to finish it, then this one");
	rc = -1;
	if (exec(db, "DELETE FROM txn_items; DELETE FROM txns;"
		     "DROP INDEX IF EXISTS files_md5;"
		     "ALTER TABLE files RENAME COLUMN md5 TO sha256;"
		     "ALTER TABLE changes RENAME COLUMN md5 TO sha256;"
		     "ALTER TABLE txn_items RENAME COLUMN md5 TO sha256;") ||
	    read_head(db, &v, &n))
		goto out;
	if (sqlite3_prepare_v2(db, "UPDATE files SET sha256 = ?2 WHERE path = ?1", -1, &set, NULL) != SQLITE_OK) {
		error("database: cannot upgrade it: %s", sqlite3_errmsg(db));
		goto out;
	}
	say("upgrading soc.db to name content by sha256: reading every file of the head once\n");
	for (size_t i = 0; i < n; i++) {
		char sha[HASH_HEX_LEN + 1];

		if (head_sha(files_fd, v[i].path, v[i].md5, sha))
			goto out;
		sqlite3_reset(set);
		sqlite3_bind_text(set, 1, v[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_text(set, 2, sha, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(set) != SQLITE_DONE) {
			error("database: cannot upgrade it: %s", sqlite3_errmsg(db));
			goto out;
		}
	}
	rc = exec(db, "UPDATE changes SET sha256 = coalesce((SELECT f.sha256 FROM files f"
		      " WHERE f.path = changes.path AND f.rev = changes.rev), '') WHERE sha256 IS NOT NULL");
out:
	sqlite3_finalize(set);
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
	return rc;
}

int store_upgrade(sqlite3 *db, int files_fd)
{
	if (!(has_column(db, "txn_items", "txn") && !has_column(db, "txn_items", "base_mode")) &&
	    !(has_column(db, "txns", "id") && !has_column(db, "txns", "token_sha256")) &&
	    !has_column(db, "files", "md5") && !(has_column(db, "files", "path") && !has_column(db, "files", "target")))
		return 0;
	/* Every step in one transaction; another soc serve, check or token waits, then finds it done. */
	if (exec(db, "BEGIN IMMEDIATE"))
		return -1;
	if (add_base_mode(db) || add_token_identity(db) || name_by_sha256(db, files_fd) || add_link_targets(db) ||
	    exec(db, "COMMIT")) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}
