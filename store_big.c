/*
 * store_big.c: how a push of BIG_PUSH_ITEMS changes or more writes
 * soc.db differently (SQLite; PostgreSQL sizes its own buffers): a
 * bigger page cache while it writes, its sha256 indexes made again by
 * one sort rather than a row at a time, and the work that can wait
 * until its commit has answered, done by store_settle.
 */
#include <malloc.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>

#include "serve.h"
#include "sql.h"

/* What is owed to store_settle: 1 << enum store_owed, from every thread. */
static atomic_uint owed;

static const char *const index_sql[][2] = {
	[STORE_FILES_SHA256] = { "DROP INDEX files_sha256", FILES_SHA256_INDEX },
	[STORE_CHANGES_SHA256] = { "DROP INDEX changes_sha256", CHANGES_SHA256_INDEX },
};

/* One statement for every push finished, as at start when a crash left some. */
#define DONE_ITEMS_DELETE "DELETE FROM txn_items WHERE txn IN (SELECT id FROM txns WHERE state = 'done')"

static int big(struct sql *db, size_t n)
{
	return n >= BIG_PUSH_ITEMS && sql_kind(db) == SQL_SQLITE;
}

void store_big_write(struct sql *db, size_t n)
{
	if (big(db, n))
		(void)sql_exec(db, "PRAGMA cache_size=" STORE_BIG_CACHE);
}

void store_big_write_end(struct sql *db, size_t n)
{
	if (!big(db, n))
		return;
	/* The pages it held go at once. */
	(void)sql_exec(db, "PRAGMA cache_size=" STORE_CACHE);
	sqlite3_db_release_memory(sql_sqlite(db));
}

int store_bulk_begin(struct sql *db, enum store_owed which, size_t n)
{
	struct sql_stmt *st;
	long long rows = -1;

	if (!big(db, n))
		return 0;
	/* Every files row came in by a changes row: the largest rowid bounds both tables. */
	if (!(st = sql_prepare(db, "SELECT ifnull(max(rowid), 0) FROM changes", 0)))
		return error("cannot count the changes: %s", sql_errmsg(db));
	if (sql_step(st) == SQL_ROW)
		rows = sql_column_int64(st, 0);
	sql_finalize(st);
	if (rows < 0)
		return error("cannot count the changes: %s", sql_errmsg(db));
	/* A sort of up to 3n entries still costs less than n inserts at random pages. */
	if (rows > 2 * (long long)n)
		return 0;
	if (sql_exec(db, index_sql[which][0]))
		return -1;
	/* Owed even if the write rolls back: the index is back then, and making it is a no-op. */
	atomic_fetch_or(&owed, 1u << which);
	return 1;
}

int store_items_later(struct sql *db, size_t n)
{
	if (!big(db, n))
		return 0;
	atomic_fetch_or(&owed, 1u << STORE_DONE_ITEMS);
	return 1;
}

static int settle(struct sql *db, unsigned what)
{
	int rc = 0;

	if (store_write_begin(db))
		return -1;
	/*
	 * The sort takes as much memory as the page cache may: one ordered
	 * pass needs no more than the default's. A second thread sorts half
	 * the runs: a quarter off the sort of a million rows (bench/README).
	 */
	(void)sql_exec(db, "PRAGMA threads=" STORE_SORT_THREADS);
	for (unsigned i = 0; i < STORE_DONE_ITEMS && !rc; i++)
		if (what & 1u << i)
			rc = sql_exec(db, index_sql[i][1]);
	if (!rc && what & 1u << STORE_DONE_ITEMS)
		rc = sql_exec(db, DONE_ITEMS_DELETE);
	(void)sql_exec(db, "PRAGMA threads=0");
	if (rc) {
		store_write_abort(db);
		return -1;
	}
	return store_write_commit(db);
}

void store_settle(struct server *s, struct sql *db, int all)
{
	unsigned what = atomic_exchange(&owed, 0);

	if (all)
		what = (1u << STORE_OWED_KINDS) - 1;
	if (!what || sql_kind(db) != SQL_SQLITE)
		return;
	if (settle(db, what)) {
		/* Until then a lookup by sha256 reads the whole table: slower, never wrong. */
		atomic_fetch_or(&owed, what);
		/* sql_exec said why, or store_write_begin. */
		warning("cannot make a big push's sha256 indexes or remove its items; the next push tries again");
		return;
	}
	if (!all) {
		unsigned indexes = what & ((1u << STORE_DONE_ITEMS) - 1), items = what & 1u << STORE_DONE_ITEMS;

		fprintf(stderr, "%s: after a big push: %s%s%s\n", soc_prog, indexes ? "made its sha256 indexes again" : "",
			indexes && items ? ", " : "", items ? "removed its items" : "");
	}
	store_checkpoint(s, db);
}

void store_trim(struct sql *db, size_t n)
{
	if (n < BIG_PUSH_ITEMS)
		return;
	if (db && sql_sqlite(db))
		sqlite3_db_release_memory(sql_sqlite(db));
	/* glibc keeps a worker's freed arena pages otherwise: 200 MB after a million-file push. */
	malloc_trim(0);
}
