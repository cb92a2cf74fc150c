/*
 * txn_head.c: the head's rows a push's checks need, read in a few
 * statements on PostgreSQL. There each statement is a round trip to
 * another process, and a begin asked three a file (is the path in the
 * head, is a directory on its way a file there, is it a directory there):
 * 30,000 for a first push of 10,000 files, 3.4 s of its begin. Here the
 * paths and their directories go as arrays, HEAD_CHUNK at a time: one
 * statement gives the rows of those the head has, another the paths the
 * head holds files under. The checks themselves stay in txn_db.c, which
 * asks these rows instead of the database. SQLite, in the server's own
 * process, answers each row faster than an array is built: it has none,
 * unless the head is empty (a first push), when every answer is "not
 * there" and asking a million paths one by one took 1.1-1.3 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "txn.h"

#define HEAD_CHUNK 5000		/* paths in one statement's array */

struct head_row {
	char *path;
	char hash[HASH_HEX_LEN + 1];
	unsigned mode;
};

struct head_rows {
	int empty;		/* the head holds no file: v and dirs are too */
	struct head_row *v;	/* rows of the head with content, by path (byte order, as COLLATE "C") */
	size_t n, cap;
	char **dirs;		/* paths the head holds files under, sorted */
	size_t ndirs, dcap;
};

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct head_row *)a)->path, ((const struct head_row *)b)->path);
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The statement st run over the array literal arr; each row to h. 0, or -1 after a message. */
static int run(struct sql *db, struct sql_stmt *st, struct buf *arr, struct head_rows *h, int dirs)
{
	int rc;

	if (arr->len <= 1)
		return 0;
	buf_addch(arr, '}');
	sql_bind_text(st, 1, arr->p, (int)arr->len);
	while ((rc = sql_step(st)) == SQL_ROW) {
		if (dirs) {
			if (h->ndirs == h->dcap) {
				h->dcap = h->dcap ? 2 * h->dcap : 16;
				h->dirs = xrealloc(h->dirs, h->dcap * sizeof(*h->dirs));
			}
			h->dirs[h->ndirs++] = xstrdup(sql_column_text(st, 0));
			continue;
		}
		if (h->n == h->cap) {
			h->cap = h->cap ? 2 * h->cap : 16;
			h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
		}
		h->v[h->n].path = xstrdup(sql_column_text(st, 0));
		snprintf(h->v[h->n].hash, sizeof(h->v[h->n].hash), "%s", sql_column_text(st, 1));
		h->v[h->n].mode = (unsigned)sql_column_int(st, 2);
		h->n++;
	}
	sql_reset(st);
	buf_reset(arr);
	return rc == SQL_DONE ? 0 : error("database: %s", sql_errmsg(db));
}

/* 1 when the head holds no file, 0 when it does, -1 after a message. */
static int head_empty(struct sql *db)
{
	struct sql_stmt *st = sql_prepare(db, "SELECT 1 FROM files WHERE sha256 IS NOT NULL LIMIT 1", 0);
	int rc;

	if (!st)
		return error("database: %s", sql_errmsg(db));
	rc = sql_step(st);
	sql_finalize(st);
	if (rc == SQL_ERROR)
		return error("database: %s", sql_errmsg(db));
	return rc == SQL_DONE;
}

struct head_rows *head_rows_read(struct sql *db, const struct push_list *l, int *failed)
{
	struct sql_stmt *rows = NULL, *under = NULL;
	struct buf names = BUF_INIT, files = BUF_INIT;
	struct head_rows *h;
	size_t k = 0, kf = 0;
	const char *prev = "";
	int rc = 0;

	*failed = 0;
	h = xcalloc(1, sizeof(*h));
	h->empty = head_empty(db);
	if (h->empty < 0) {
		free(h);
		*failed = 1;
		return NULL;
	}
	if (h->empty)
		return h;
	if (sql_kind(db) != SQL_PG) {
		free(h);
		return NULL;
	}
	rows = sql_prepare(db, "SELECT path, sha256, mode FROM files WHERE path = ANY(CAST(? AS TEXT[]))"
			   " AND sha256 IS NOT NULL", 0);
	under = sql_prepare(db, "SELECT p FROM unnest(CAST(? AS TEXT[])) AS p WHERE EXISTS (SELECT 1 FROM files"
			    " WHERE path > (p || '/') COLLATE \"C\" AND path < (p || '0') COLLATE \"C\""
			    " AND sha256 IS NOT NULL)", 0);
	if (!rows || !under)
		rc = -1;
	for (size_t i = 0; i < l->n && !rc; i++) {
		const char *p = l->v[i].path, *slash;
		size_t plen = strlen(p), from = 0;

		/* Each directory once: the items come by path, so a run shares its directories. */
		while (from < plen && from < strlen(prev) && p[from] == prev[from])
			from++;
		while (from && p[from - 1] != '/')
			from--;
		for (slash = strchr(p + from, '/'); slash; slash = strchr(slash + 1, '/')) {
			sql_array_add(&names, p, (size_t)(slash - p));
			if (++k % HEAD_CHUNK == 0)
				rc = rc || run(db, rows, &names, h, 0);
		}
		sql_array_add(&names, p, plen);
		if (++k % HEAD_CHUNK == 0)
			rc = rc || run(db, rows, &names, h, 0);
		if (!l->v[i].deleted) {
			sql_array_add(&files, p, plen);
			if (++kf % HEAD_CHUNK == 0)
				rc = rc || run(db, under, &files, h, 1);
		}
		prev = p;
	}
	if (!rc)
		rc = run(db, rows, &names, h, 0) || run(db, under, &files, h, 1);
	sql_finalize(rows);
	sql_finalize(under);
	buf_free(&names);
	buf_free(&files);
	if (rc) {
		head_rows_free(h);
		*failed = 1;
		return NULL;
	}
	if (h->n)
		qsort(h->v, h->n, sizeof(*h->v), by_path);
	if (h->ndirs)
		qsort(h->dirs, h->ndirs, sizeof(*h->dirs), by_str);
	return h;
}

int head_rows_get(const struct head_rows *h, const char *path, size_t len, char hash[HASH_HEX_LEN + 1],
		  unsigned *mode)
{
	size_t lo = 0, hi = h->n;

	hash[0] = '\0';
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *q = h->v[mid].path;
		int c = strncmp(q, path, len);

		if (!c && q[len])
			c = 1;
		if (!c) {
			memcpy(hash, h->v[mid].hash, HASH_HEX_LEN + 1);
			if (mode)
				*mode = h->v[mid].mode;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int head_rows_empty(const struct head_rows *h)
{
	return h && h->empty;
}

int head_rows_dir(const struct head_rows *h, const char *path)
{
	return h->ndirs && bsearch(&path, h->dirs, h->ndirs, sizeof(*h->dirs), by_str);
}

void head_rows_free(struct head_rows *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].path);
	for (size_t i = 0; i < h->ndirs; i++)
		free(h->dirs[i]);
	free(h->v);
	free(h->dirs);
	free(h);
}
