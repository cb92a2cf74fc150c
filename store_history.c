/*
 * store_history.c: the reads of soc.db the version store needs: a path's
 * history, the tree at a revision, and the set of content gc and check
 * must keep. The changes table holds every revision's state of every
 * path it touched; with revs (time, token) it is the history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "versions.h"

/* Paths at or under p: p itself, or p/ followed by anything ('/' + 1 is '0'). */
#define UNDER "(?2 = '' OR c.path = ?2 OR (c.path >= ?2 || '/' AND c.path < ?2 || '0'))"

static int prepare(struct sql *db, const char *sql, struct sql_stmt **st)
{
	if ((*st = sql_prepare(db, sql, 0)))
		return 0;
	return error("database: %s", sql_errmsg(db));
}

static int rows(struct sql *db, struct sql_stmt *st, int (*row)(const struct history_row *h, void *arg), void *arg)
{
	int rc;

	while ((rc = sql_step(st)) == SQL_ROW) {
		struct history_row h = {
			.rev = sql_column_int64(st, 0),
			.path = sql_column_text(st, 1),
			.hash = sql_column_text(st, 2),
			.size = sql_column_int64(st, 3),
			.mtime = sql_column_int64(st, 4),
			.mode = sql_column_int(st, 5),
			.time = sql_column_int64(st, 6),
			.token = sql_column_text(st, 7),
			.target = sql_column_text(st, 8),
		};

		if (row(&h, arg)) {
			sql_finalize(st);
			return 1;
		}
	}
	if (rc != SQL_DONE)
		error("database: %s", sql_errmsg(db));
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : -1;
}

int store_history_each(struct sql *db, const char *path, long long limit,
		       int (*row)(const struct history_row *h, void *arg), void *arg)
{
	struct sql_stmt *st = NULL;

	if (prepare(db, "SELECT c.rev, c.path, c.sha256, c.size, c.mtime, c.mode, r.time, r.token, c.target "
		    "FROM changes c JOIN revs r ON r.rev = c.rev "
		    "WHERE c.rev <= (SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'head') AND " UNDER
		    " ORDER BY c.rev DESC, c.path LIMIT ?1", &st))
		return -1;
	sql_bind_int64(st, 1, limit);
	sql_bind_text(st, 2, path, -1);
	return rows(db, st, row, arg);
}

int store_tree_each(struct sql *db, long long rev, const char *path,
		    int (*row)(const struct history_row *h, void *arg), void *arg)
{
	struct sql_stmt *st = NULL;

	/*
	 * Each path's newest state: SQLite takes a bare column's value from
	 * the row max() picked; PostgreSQL says so with DISTINCT ON.
	 */
	if (prepare(db, SQL_TEXT(db, "SELECT rev, path, sha256, size, mtime, mode, 0, NULL, target FROM ("
				 "SELECT max(c.rev) AS rev, c.path AS path, c.sha256 AS sha256, c.size AS size,"
				 " c.mtime AS mtime, c.mode AS mode, c.target AS target FROM changes c"
				 " WHERE c.rev <= ?1 AND " UNDER " GROUP BY c.path) WHERE sha256 IS NOT NULL ORDER BY path",
				 "SELECT rev, path, sha256, size, mtime, mode, 0, NULL, target FROM ("
				 "SELECT DISTINCT ON (c.path) c.rev, c.path, c.sha256, c.size, c.mtime, c.mode, c.target"
				 " FROM changes c WHERE c.rev <= ?1 AND " UNDER " ORDER BY c.path, c.rev DESC) AS t"
				 " WHERE sha256 IS NOT NULL ORDER BY path"), &st))
		return -1;
	sql_bind_int64(st, 1, rev);
	sql_bind_text(st, 2, path, -1);
	return rows(db, st, row, arg);
}

static long long one_int(struct sql *db, const char *sql, long long arg, long long none)
{
	struct sql_stmt *st = NULL;
	long long v = none;
	int rc;

	if (prepare(db, sql, &st))
		return -2;
	sql_bind_int64(st, 1, arg);
	rc = sql_step(st);
	if (rc == SQL_ROW && !sql_column_null(st, 0))
		v = sql_column_int64(st, 0);
	else if (rc != SQL_ROW && rc != SQL_DONE)
		v = error("database: %s", sql_errmsg(db)) - 1;
	sql_finalize(st);
	return v;
}

long long store_rev_before(struct sql *db, long long t)
{
	long long r = one_int(db, "SELECT max(rev) FROM revs WHERE time < ?1 AND "
			      "rev <= (SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'head')", t, 0);

	return r < 0 ? -1 : r;
}

static int hex_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

long store_hashes_named(struct sql *db, const char *const *hashes, size_t n, char (**named)[HASH_HEX_LEN + 1])
{
	struct buf arr = BUF_INIT;
	struct sql_stmt *st;
	size_t got = 0, cap = 0;
	int rc;

	*named = NULL;
	if (sql_kind(db) != SQL_PG)
		return -2;
	for (size_t i = 0; i < n; i++) {
		buf_addch(&arr, i ? ',' : '{');
		buf_addstr(&arr, hashes[i]);
	}
	buf_addch(&arr, '}');
	st = sql_prepare(db, "SELECT DISTINCT sha256 FROM changes WHERE sha256 = ANY(CAST(?1 AS TEXT[]))"
			 " AND target IS NULL", 0);
	if (!st) {
		buf_free(&arr);
		return error("database: %s", sql_errmsg(db));
	}
	sql_bind_text(st, 1, arr.p, (int)arr.len);
	while ((rc = sql_step(st)) == SQL_ROW) {
		if (got == cap) {
			cap = cap ? 2 * cap : 64;
			*named = xrealloc(*named, cap * sizeof(**named));
		}
		snprintf((*named)[got++], HASH_HEX_LEN + 1, "%s", sql_column_text(st, 0));
	}
	sql_finalize(st);
	buf_free(&arr);
	if (rc != SQL_DONE) {
		free(*named);
		*named = NULL;
		return error("database: %s", sql_errmsg(db));
	}
	if (got)
		qsort(*named, got, sizeof(**named), hex_cmp);
	return (long)got;
}

int store_hash_named(struct sql *db, const char *hash)
{
	/* Cached: a fetch asks it once a file. */
	struct sql_stmt *st = store_stmt_get(db, STORE_STMT_NAMED,
					  "SELECT 1 FROM changes WHERE sha256 = ?1 AND target IS NULL LIMIT 1");
	int rc;

	if (!st) {
		error("database: %s", sql_errmsg(db));
		return -1;
	}
	sql_bind_text(st, 1, hash, -1);
	rc = sql_step(st);
	if (rc != SQL_ROW && rc != SQL_DONE)
		error("database: %s", sql_errmsg(db));
	store_stmt_put(db, st);
	return rc == SQL_ROW ? 1 : rc == SQL_DONE ? 0 : -1;
}

/*
 * A version (a row with content) is kept while no later row of its path
 * replaced it (the head, or an applying revision's), while the revision
 * that replaced or deleted it is younger than the days, or while it is
 * among the newest of its path. Every recorded revision counts, not only
 * those up to the head: one being applied names what it needs too.
 */
long store_kept_hashes(struct sql *db, const struct keep_policy *keep, long long now, long long since,
		       char ***out)
{
	struct sql_stmt *st = NULL;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	/* A link's target is in its row: no blob to keep. */
	if (prepare(db, "WITH v AS (SELECT path, rev, sha256, target,"
		    " lead(rev) OVER (PARTITION BY path ORDER BY rev) AS next FROM changes),"
		    " w AS (SELECT *, row_number() OVER (PARTITION BY path ORDER BY rev DESC) AS n"
		    " FROM v WHERE sha256 IS NOT NULL AND sha256 != '' AND target IS NULL)"
		    " SELECT DISTINCT w.sha256 FROM w LEFT JOIN revs r ON r.rev = w.next"
		    " WHERE w.next IS NULL OR ((r.time IS NULL OR r.time >= ?1 OR w.n <= ?2) AND w.rev > ?3)"
		    " ORDER BY w.sha256", &st))
		return -1;
	sql_bind_int64(st, 1, now - (long long)keep->days * DAY_SECONDS);
	sql_bind_int64(st, 2, keep->versions);
	sql_bind_int64(st, 3, since);
	while ((rc = sql_step(st)) == SQL_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrdup(sql_column_text(st, 0));
	}
	sql_finalize(st);
	if (rc != SQL_DONE) {
		error("database: %s", sql_errmsg(db));
		while (n)
			free(v[--n]);
		free(v);
		return -1;
	}
	*out = v;
	return (long)n;
}

long long store_versions_since(struct sql *db)
{
	return one_int(db, "SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'versions_since' AND ?1 = 0", 0, -1);
}

int store_set_versions_since(struct sql *db, long long rev)
{
	struct sql_stmt *st = NULL;
	int rc;

	if (prepare(db, "INSERT INTO meta VALUES('versions_since', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		    &st))
		return -1;
	sql_bind_int64(st, 1, rev);
	rc = sql_step(st);
	sql_finalize(st);
	if (rc != SQL_DONE)
		return error("database: %s", sql_errmsg(db));
	return 0;
}
