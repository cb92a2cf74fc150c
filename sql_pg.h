/*
 * sql_pg.h: what sql.c calls of the PostgreSQL driver, sql_pg.c. Only
 * sql.c includes it; everything else goes through sql.h.
 */
#ifndef SQL_PG_H
#define SQL_PG_H

#include "sql.h"

struct pg;
struct pg_stmt;

struct pg *pg_open(const char *conninfo);
void pg_close(struct pg *c);
struct pg_stmt *pg_prepare(struct pg *c, const char *text);
void pg_bind(struct pg_stmt *st, int i, const char *s, int len);
int pg_step(struct pg_stmt *st);
void pg_reset(struct pg_stmt *st);
void pg_clear_bindings(struct pg_stmt *st);
void pg_finalize(struct pg_stmt *st);
/* NULL for SQL NULL. */
const char *pg_column(struct pg_stmt *st, int i);
int pg_exec(struct pg *c, const char *text);
/* text, a COPY ... FROM STDIN, given data: rows in COPY's text form. 0, or -1 after a message. */
int pg_copy(struct pg *c, const char *text, const char *data, size_t len);
long long pg_changes(struct pg *c);
int pg_in_txn(struct pg *c);
const char *pg_errmsg(struct pg *c);
int pg_conflict(struct pg *c);
int pg_broken(struct pg *c);
int pg_reconnect(struct pg *c);
int pg_batch_begin(struct pg *c);
int pg_batch_end(struct pg *c);

#endif
