/*
 * sql_bulk.c: many rows into one table, the way each database takes
 * them fastest. SQLite, in the server's own process, steps one INSERT a
 * row. To PostgreSQL every statement is a round trip and a plan of its
 * own, even pipelined (sql_batch_begin): 20,000 rows of a commit took
 * 570 ms so. A plain INSERT goes as COPY ... FROM STDIN, SQL_BULK_ROWS
 * rows of COPY's text form at a time: 10,000 rows of a commit's changes
 * took 48-62 ms so, against 76-131 ms unnested (bench/README). Any
 * other statement (an upsert) takes each column's values as one array
 * and unnests them; an array is text in PostgreSQL's literal form,
 * {"a","b",NULL}: paths hold no control characters, and " and \ are
 * escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soc.h"
#include "sql.h"

#define SQL_BULK_ROWS 5000	/* rows one PostgreSQL statement takes */

struct sql_bulk {
	struct sql *db;
	struct sql_stmt *st;		/* NULL for a COPY */
	const char *copy;		/* PostgreSQL's COPY ... FROM STDIN, or NULL */
	int ncols;
	size_t rows;			/* in the arrays or in copied, not yet sent */
	struct buf col[SQL_PARAMS_MAX];	/* PostgreSQL: each column's array so far, or a COPY's field of this row */
	struct buf copied;		/* a COPY's rows so far */
};

struct sql_bulk *sql_bulk_open(struct sql *db, const char *lite, const char *pg, int ncols)
{
	struct sql_bulk *b;
	int copy = sql_kind(db) == SQL_PG && !strncmp(pg, "COPY ", 5);
	struct sql_stmt *st = copy ? NULL : sql_prepare(db, sql_kind(db) == SQL_PG ? pg : lite, 0);

	if ((!copy && !st) || ncols < 1 || ncols > SQL_PARAMS_MAX) {
		sql_finalize(st);
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	b->db = db;
	b->st = st;
	b->copy = copy ? pg : NULL;
	b->ncols = ncols;
	return b;
}

/* s as a field of COPY's text form: \ escaped, and any control character as \ and three octal digits. */
static void copy_field(struct buf *c, const char *s)
{
	buf_reset(c);
	if (!s) {
		buf_addstr(c, "\\N");
		return;
	}
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\')
			buf_addstr(c, "\\\\");
		else if (ch < 0x20 || ch == 0x7f)
			buf_addf(c, "\\%03o", ch);
		else
			buf_addch(c, (char)ch);
	}
}

/* The next element of column col's array: its separator, "{" first. */
static struct buf *elem(struct sql_bulk *b, int col)
{
	struct buf *c = &b->col[col - 1];

	buf_addch(c, c->len ? ',' : '{');
	return c;
}

void sql_array_add(struct buf *b, const char *s, size_t len)
{
	buf_addch(b, b->len ? ',' : '{');
	buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addch(b, '\\');
		buf_addch(b, s[i]);
	}
	buf_addch(b, '"');
}

void sql_bulk_text(struct sql_bulk *b, int col, const char *s)
{
	if (b->copy) {
		copy_field(&b->col[col - 1], s);
	} else if (sql_kind(b->db) != SQL_PG) {
		if (s)
			sql_bind_text(b->st, col, s, -1);
		else
			sql_bind_null(b->st, col);
	} else if (s) {
		sql_array_add(&b->col[col - 1], s, strlen(s));
	} else {
		buf_addstr(elem(b, col), "NULL");
	}
}

void sql_bulk_int64(struct sql_bulk *b, int col, long long v)
{
	if (b->copy) {
		buf_reset(&b->col[col - 1]);
		buf_addf(&b->col[col - 1], "%lld", v);
	} else if (sql_kind(b->db) != SQL_PG) {
		sql_bind_int64(b->st, col, v);
	} else {
		buf_addf(elem(b, col), "%lld", v);
	}
}

/* The arrays sent as one statement: 0, or -1 after a message. */
static int flush(struct sql_bulk *b)
{
	int rc;

	if (!b->rows)
		return 0;
	if (b->copy) {
		rc = sql_copy(b->db, b->copy, b->copied.p, b->copied.len);
		buf_reset(&b->copied);
		b->rows = 0;
		return rc;
	}
	for (int i = 0; i < b->ncols; i++) {
		buf_addch(&b->col[i], '}');
		sql_bind_text(b->st, i + 1, b->col[i].p, (int)b->col[i].len);
	}
	rc = sql_step(b->st);
	sql_reset(b->st);
	for (int i = 0; i < b->ncols; i++)
		buf_reset(&b->col[i]);
	b->rows = 0;
	return rc == SQL_DONE ? 0 : error("database: %s", sql_errmsg(b->db));
}

int sql_bulk_row(struct sql_bulk *b)
{
	int rc;

	if (b->copy) {
		for (int i = 0; i < b->ncols; i++) {
			if (b->col[i].len)
				buf_add(&b->copied, b->col[i].p, b->col[i].len);
			buf_addch(&b->copied, i + 1 < b->ncols ? '\t' : '\n');
		}
	}
	if (sql_kind(b->db) == SQL_PG)
		return ++b->rows < SQL_BULK_ROWS ? 0 : flush(b);
	rc = sql_step(b->st);
	sql_reset(b->st);
	return rc == SQL_DONE ? 0 : error("database: %s", sql_errmsg(b->db));
}

int sql_bulk_close(struct sql_bulk *b)
{
	int rc;

	if (!b)
		return -1;
	rc = flush(b);
	sql_finalize(b->st);
	for (int i = 0; i < b->ncols; i++)
		buf_free(&b->col[i]);
	buf_free(&b->copied);
	free(b);
	return rc;
}
