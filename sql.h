/*
 * sql.h: the server's database, SQLite (sql.c) or PostgreSQL (sql_pg.c),
 * behind one set of calls shaped like SQLite's own: prepare, bind, step,
 * column. A rule about the rows is written once, in the file that owns
 * it; only a statement's text may differ between the two, and then both
 * texts sit side by side there.
 *
 * Statements are written with SQLite's parameters, ? and ?N; the
 * PostgreSQL driver numbers them $N. Values go to PostgreSQL as text,
 * and come back as text the column calls convert.
 */
#ifndef SQL_H
#define SQL_H

#include <stddef.h>

enum sql_kind { SQL_SQLITE, SQL_PG };
/* What sql_step gives. */
enum { SQL_ERROR = -1, SQL_DONE = 0, SQL_ROW = 1 };

#define SQL_PARAMS_MAX 16		/* parameters one statement may have */
#define SQL_ERRMSG_MAX 512		/* bytes of a PostgreSQL message kept for sql_errmsg */

struct sql;
struct sql_stmt;
struct sqlite3;

/* A connection around an open SQLite handle, which it then owns. */
struct sql *sql_wrap_sqlite(struct sqlite3 *lite);
/* A connection to PostgreSQL by a libpq conninfo; NULL after a message. */
struct sql *sql_open_pg(const char *conninfo);
/* Closes it and what it owns; NULL is nothing. */
void sql_close(struct sql *db);
enum sql_kind sql_kind(const struct sql *db);
/* The SQLite handle under db, for what only SQLite has (backup, pragmas); NULL on PostgreSQL. */
struct sqlite3 *sql_sqlite(struct sql *db);

/*
 * A statement of text; NULL when it cannot be made (sql_errmsg says
 * why). persistent: it is kept for the connection's life (SQLite plans
 * it for reuse).
 */
struct sql_stmt *sql_prepare(struct sql *db, const char *text, int persistent);
/*
 * Parameters count from 1. SQLite reads a bound string at the step
 * (it must live until then); PostgreSQL copies it. len -1: up to its NUL.
 */
void sql_bind_text(struct sql_stmt *st, int i, const char *s, int len);
void sql_bind_int64(struct sql_stmt *st, int i, long long v);
void sql_bind_null(struct sql_stmt *st, int i);
/* SQLite only: p, of the type name type, for a table-valued function (sqlite3_bind_pointer). */
void sql_bind_pointer(struct sql_stmt *st, int i, void *p, const char *type);
/* SQL_ROW (the columns are readable until the next step), SQL_DONE, or SQL_ERROR. */
int sql_step(struct sql_stmt *st);
/* Ready to step again from the first row, with the same parameters. */
void sql_reset(struct sql_stmt *st);
void sql_clear_bindings(struct sql_stmt *st);
void sql_finalize(struct sql_stmt *st);
/* A column of the current row, counted from 0; NULL (text) or 0 for SQL NULL. */
const char *sql_column_text(struct sql_stmt *st, int i);
long long sql_column_int64(struct sql_stmt *st, int i);
int sql_column_int(struct sql_stmt *st, int i);
int sql_column_null(struct sql_stmt *st, int i);

/* A statement whose text differs between the two: SQLite's, else PostgreSQL's. */
#define SQL_TEXT(db, lite, pg) (sql_kind(db) == SQL_PG ? (pg) : (lite))

/*
 * Between sql_batch_begin and sql_batch_end, steps of statements that
 * return no rows (INSERT, UPDATE, DELETE) are sent without waiting for
 * each answer (PostgreSQL's pipeline; SQLite runs them as ever): such a
 * step gives SQL_DONE, or SQL_ERROR once an earlier one is known to
 * have failed, and sql_batch_end says whether all went in (0, or -1
 * after a message). In between: no statement that returns rows, no
 * sql_exec, no sql_changes.
 */
int sql_batch_begin(struct sql *db);
int sql_batch_end(struct sql *db);

/* PostgreSQL's COPY ... FROM STDIN (text), given data: rows in COPY's text form. 0, or -1 after a message. */
int sql_copy(struct sql *db, const char *text, const char *data, size_t len);

/*
 * ---- sql_bulk.c: many rows into a PostgreSQL table ----
 * copy is COPY table (columns) FROM STDIN, the ncols columns in their
 * order, run every so many rows; NULL on SQLite. Set each column of a
 * row, then end it with sql_bulk_row; sql_bulk_close sends the rest.
 * Each gives 0, or -1 after a message; open gives NULL then.
 */
struct sql_bulk;
struct sql_bulk *sql_bulk_open(struct sql *db, const char *copy, int ncols);
void sql_bulk_text(struct sql_bulk *b, int col, const char *s);	/* NULL: SQL NULL */
void sql_bulk_int64(struct sql_bulk *b, int col, long long v);
int sql_bulk_row(struct sql_bulk *b);
/* Also frees b; -1 for a NULL b (its open failed). */
int sql_bulk_close(struct sql_bulk *b);
/*
 * s (len bytes, no control characters: a path) as the next element of
 * the PostgreSQL array literal in b, "{" before the first and "," before
 * the others, with " and \ escaped. The caller adds the "}".
 */
struct buf;
void sql_array_add(struct buf *b, const char *s, size_t len);

/* Runs text, one or more statements with no parameters and no rows; 0, or -1 after a message naming it. */
int sql_exec(struct sql *db, const char *text);
/* Rows the last INSERT, UPDATE or DELETE stepped on db changed. */
long long sql_changes(struct sql *db);
/* 1 inside a transaction BEGIN opened, else 0. */
int sql_in_txn(struct sql *db);
/* Why the last call on db failed. */
const char *sql_errmsg(struct sql *db);
/* 1 when the last failure on db was a UNIQUE or PRIMARY KEY conflict. */
int sql_conflict(struct sql *db);
/*
 * 1 when db's server is gone (restarted, failed over), asked between
 * requests; sql_reconnect then makes the connection again in place, its
 * statements kept: 0, or -1 after a message.
 */
int sql_broken(struct sql *db);
int sql_reconnect(struct sql *db);

#endif
