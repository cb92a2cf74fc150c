/*
 * sql_bulk.c: many rows into one PostgreSQL table by COPY ... FROM STDIN.
 * To PostgreSQL every statement is a round trip and a plan of its own,
 * even pipelined (sql_batch_begin): 20,000 rows of a commit took 570 ms
 * so, and 10,000 sent as one array a column and unnested 76-131 ms. Here
 * they go SQL_BULK_ROWS rows of COPY's text form at a time: 48-62 ms
 * (bench/README). SQLite, in the server's own process, takes its rows
 * by INSERT ... SELECT from the memory they are in (txn_items_lite.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soc.h"
#include "sql.h"

#define SQL_BULK_ROWS 5000	/* rows one COPY takes */

struct sql_bulk {
	struct sql *db;
	const char *copy;		/* COPY ... FROM STDIN */
	int ncols;
	size_t rows;			/* in copied, not yet sent */
	struct buf col[SQL_PARAMS_MAX];	/* each field of this row, in COPY's form */
	struct buf copied;		/* the rows so far */
};

struct sql_bulk *sql_bulk_open(struct sql *db, const char *copy, int ncols)
{
	struct sql_bulk *b;

	if (sql_kind(db) != SQL_PG || strncmp(copy, "COPY ", 5) || ncols < 1 || ncols > SQL_PARAMS_MAX)
		return NULL;
	b = xcalloc(1, sizeof(*b));
	b->db = db;
	b->copy = copy;
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
	copy_field(&b->col[col - 1], s);
}

void sql_bulk_int64(struct sql_bulk *b, int col, long long v)
{
	buf_reset(&b->col[col - 1]);
	buf_addf(&b->col[col - 1], "%lld", v);
}

/* The rows so far sent by one COPY: 0, or -1 after a message. */
static int flush(struct sql_bulk *b)
{
	int rc;

	if (!b->rows)
		return 0;
	rc = sql_copy(b->db, b->copy, b->copied.p, b->copied.len);
	buf_reset(&b->copied);
	b->rows = 0;
	return rc;
}

int sql_bulk_row(struct sql_bulk *b)
{
	for (int i = 0; i < b->ncols; i++) {
		if (b->col[i].len)
			buf_add(&b->copied, b->col[i].p, b->col[i].len);
		buf_addch(&b->copied, i + 1 < b->ncols ? '\t' : '\n');
	}
	return ++b->rows < SQL_BULK_ROWS ? 0 : flush(b);
}

int sql_bulk_close(struct sql_bulk *b)
{
	int rc;

	if (!b)
		return -1;
	rc = flush(b);
	for (int i = 0; i < b->ncols; i++)
		buf_free(&b->col[i]);
	buf_free(&b->copied);
	free(b);
	return rc;
}
