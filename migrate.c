/*
 * migrate.c: soc serve migrate --db CONNINFO, a root's history moved from
 * its soc.db into an empty PostgreSQL database, with the server stopped.
 * Every row goes, in one PostgreSQL transaction, and is counted again
 * before it commits: the head, every revision and change, the tokens
 * (their hashes), pushes in progress, and the history id, so workspaces
 * see the same server. Then the root is bound to the database
 * (db.conninfo) and soc.db is moved aside as soc.db.migrated, never
 * removed. A failure before the commit changes nothing; one after it
 * leaves a root whose next start says what to do (store_bind).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"
#include "sql.h"

#define MIGRATED_NAME DB_NAME ".migrated"	/* soc.db, once its rows are in PostgreSQL */

/* Every table, its columns named, so the order of an upgraded soc.db's columns does not matter. */
static const struct table {
	const char *name, *cols;
	int ncols;
	const char *conflict;	/* appended to the insert: meta's rows exist in a new database */
} tables[] = {
	{ "tokens", "name, sha256, read_only, created", 4, "" },
	{ "revs", "rev, time, token, client, adds, mods, dels", 7, "" },
	{ "changes", "rev, path, sha256, size, mtime, mode, target", 7, "" },
	{ "files", "path, sha256, size, mtime, mode, rev, target", 7, "" },
	{ "txns", "id, token, created, state, rev, token_sha256", 6, "" },
	{ "txn_items", "txn, path, sha256, size, mtime, mode, base, base_mode, target", 9, "" },
	{ "meta", "key, value", 2, " ON CONFLICT (key) DO UPDATE SET value = excluded.value" },
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static long long count_rows(struct sql *db, const char *table)
{
	char q[64];
	struct sql_stmt *st;
	long long n = -1;

	snprintf(q, sizeof(q), "SELECT count(*) FROM %s", table);
	if (!(st = sql_prepare(db, q, 0)))
		return error("database: %s", sql_errmsg(db));
	if (sql_step(st) == SQL_ROW)
		n = sql_column_int64(st, 0);
	else
		error("database: %s", sql_errmsg(db));
	sql_finalize(st);
	return n;
}

/* The rows of t from lite into pg, each value as text (PostgreSQL casts it to the column's type). */
static int copy_table(struct sql *lite, struct sql *pg, const struct table *t, long long *rows)
{
	char sel[256], ins[384];
	struct sql_stmt *from, *to;
	int rc, i, n = 0, batch, pg_failed = 0;

	snprintf(sel, sizeof(sel), "SELECT %s FROM %s", t->cols, t->name);
	n = snprintf(ins, sizeof(ins), "INSERT INTO %s (%s) VALUES(?", t->name, t->cols);
	for (i = 1; i < t->ncols; i++)
		n += snprintf(ins + n, sizeof(ins) - (size_t)n, ", ?");
	snprintf(ins + n, sizeof(ins) - (size_t)n, ")%s", t->conflict);
	if (!(from = sql_prepare(lite, sel, 0)))
		return error("database: %s", sql_errmsg(lite));
	if (!(to = sql_prepare(pg, ins, 0))) {
		sql_finalize(from);
		return error("PostgreSQL: %s", sql_errmsg(pg));
	}
	*rows = 0;
	/* The inserts go without waiting for each answer: the commit counts them all. */
	rc = sql_batch_begin(pg) ? SQL_ERROR : SQL_ROW;
	batch = rc == SQL_ROW;
	while (rc == SQL_ROW && (rc = sql_step(from)) == SQL_ROW) {
		for (i = 0; i < t->ncols; i++) {
			const char *v = sql_column_text(from, i);

			if (v)
				sql_bind_text(to, i + 1, v, -1);
			else
				sql_bind_null(to, i + 1);
		}
		if (sql_step(to) != SQL_DONE) {
			error("PostgreSQL: %s (a row of %s)", sql_errmsg(pg), t->name);
			rc = SQL_ERROR;
			pg_failed = 1;
			break;
		}
		sql_reset(to);
		(*rows)++;
	}
	if (rc == SQL_ERROR && batch && !pg_failed)
		error("database: %s", sql_errmsg(lite));
	if (batch && sql_batch_end(pg))
		rc = SQL_ERROR;
	sql_finalize(from);
	sql_finalize(to);
	return rc == SQL_DONE ? 0 : -1;
}

/* 1 when pg holds no soc history (no revision, token or push), 0 when it does, -1 after a message. */
static int pg_empty(struct sql *pg)
{
	long long revs = count_rows(pg, "revs"), tokens = count_rows(pg, "tokens"), txns = count_rows(pg, "txns");

	if (revs < 0 || tokens < 0 || txns < 0)
		return -1;
	return !revs && !tokens && !txns;
}

/* Everything into pg in one transaction, counted again before the commit. */
static int copy_all(struct sql *lite, struct sql *pg, long long counts[NTABLES])
{
	size_t i;

	if (sql_exec(pg, "BEGIN"))
		return -1;
	for (i = 0; i < NTABLES; i++) {
		long long want = count_rows(lite, tables[i].name), got;

		if (want < 0 || copy_table(lite, pg, &tables[i], &counts[i]))
			goto fail;
		got = count_rows(pg, tables[i].name);
		/* meta's own rows were there before: they were replaced, not added. */
		if (got < 0 || counts[i] != want || (strcmp(tables[i].name, "meta") && got != want)) {
			error("PostgreSQL holds %lld rows of %s after the copy, soc.db %lld: nothing was moved",
			      got, tables[i].name, want);
			goto fail;
		}
	}
	if (!sql_exec(pg, "COMMIT"))
		return 0;
fail:
	if (sql_in_txn(pg))
		sql_exec(pg, "ROLLBACK");
	return -1;
}

/* soc.db (and a -wal or -shm SQLite left) renamed aside, so the root has one history. */
static int move_aside(int root_fd, const char *root)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char from[64], to[64];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(from, sizeof(from), DB_NAME "%s", suffix[i]);
		snprintf(to, sizeof(to), MIGRATED_NAME "%s", suffix[i]);
		if (renameat(root_fd, from, root_fd, to) && (errno != ENOENT || !i))
			return error_errno("cannot move '%s/%s' to '%s'", root, from, to);
	}
	if (fsync(root_fd))
		return error_errno("cannot sync '%s'", root);
	return 0;
}

int serve_migrate(const char *root, const char *conninfo)
{
	struct server s, lock = { .root = (char *)root, .lock_fd = -1 };
	struct sql *lite, *pg = NULL;
	long long counts[NTABLES] = { 0 };
	struct stat st;
	int rc = EXIT_ERROR, empty;

	if (store_refuse_lost(root, 0) || store_enter(root))
		return EXIT_ERROR;
	lock.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock.root_fd < 0)
		return error_errno("cannot open the root '%s'", root), EXIT_ERROR;
	if (!fstatat(lock.root_fd, DB_CONNINFO_FILE, &st, AT_SYMLINK_NOFOLLOW)) {
		error("'%s' keeps its history in PostgreSQL already (" DB_CONNINFO_FILE ")", root);
		close(lock.root_fd);
		return EXIT_ERROR;
	}
	/* Not under a running server: its next commit would go to soc.db after the copy. */
	if (store_lock(&lock)) {
		close(lock.root_fd);
		return EXIT_ERROR;
	}
	store_want_db(NULL);
	if (store_open(&s, root, 0) || !(lite = store_db(&s)) || !(pg = sql_open_pg(conninfo)) || store_schema(pg))
		goto out;
	if ((empty = pg_empty(pg)) <= 0) {
		if (!empty)
			error("the PostgreSQL database holds a soc history already: migrate wants an empty one");
		goto out;
	}
	if (copy_all(lite, pg, counts) || store_bind_write(&s, conninfo))
		goto out;
	store_close(&s);	/* soc.db closed before it moves: SQLite folds its WAL in */
	if (move_aside(lock.root_fd, root))
		goto out;
	say("moved the history of '%s' to PostgreSQL: %lld revisions, %lld changes, %lld paths, %lld tokens, "
	    "%lld pushes in progress; " DB_NAME " is now " MIGRATED_NAME "\n", root, counts[1], counts[2], counts[3],
	    counts[0], counts[4]);
	rc = EXIT_OK;
out:
	sql_close(pg);
	if (s.root)
		store_close(&s);
	close(lock.lock_fd);
	close(lock.root_fd);
	return rc;
}
