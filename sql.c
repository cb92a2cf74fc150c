/*
 * sql.c: one connection to the server's database, SQLite or PostgreSQL
 * (sql.h): the SQLite calls themselves, and the handing on to sql_pg.c.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "soc.h"
#include "sql.h"
#include "sql_pg.h"

struct sql {
	enum sql_kind kind;
	sqlite3 *lite;
	struct pg *pg;
};

struct sql_stmt {
	struct sql *db;
	sqlite3_stmt *lite;
	struct pg_stmt *pg;
};

struct sql *sql_wrap_sqlite(sqlite3 *lite)
{
	struct sql *db = xcalloc(1, sizeof(*db));

	db->kind = SQL_SQLITE;
	db->lite = lite;
	return db;
}

struct sql *sql_open_pg(const char *conninfo)
{
	struct pg *c = pg_open(conninfo);
	struct sql *db;

	if (!c)
		return NULL;
	db = xcalloc(1, sizeof(*db));
	db->kind = SQL_PG;
	db->pg = c;
	return db;
}

void sql_close(struct sql *db)
{
	if (!db)
		return;
	if (db->lite)
		sqlite3_close(db->lite);
	if (db->pg)
		pg_close(db->pg);
	free(db);
}

enum sql_kind sql_kind(const struct sql *db)
{
	return db->kind;
}

sqlite3 *sql_sqlite(struct sql *db)
{
	return db->lite;
}

struct sql_stmt *sql_prepare(struct sql *db, const char *text, int persistent)
{
	struct sql_stmt *st = xcalloc(1, sizeof(*st));

	st->db = db;
	if (db->pg) {
		st->pg = pg_prepare(db->pg, text);
		if (st->pg)
			return st;
	} else if (sqlite3_prepare_v3(db->lite, text, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st->lite,
				      NULL) == SQLITE_OK) {
		return st;
	} else {
		sqlite3_finalize(st->lite);
	}
	free(st);
	return NULL;
}

void sql_bind_text(struct sql_stmt *st, int i, const char *s, int len)
{
	if (st->pg)
		pg_bind(st->pg, i, s, len);
	else
		sqlite3_bind_text(st->lite, i, s, len, SQLITE_STATIC);
}

void sql_bind_int64(struct sql_stmt *st, int i, long long v)
{
	char num[24];

	if (!st->pg) {
		sqlite3_bind_int64(st->lite, i, (sqlite3_int64)v);
		return;
	}
	snprintf(num, sizeof(num), "%lld", v);
	pg_bind(st->pg, i, num, -1);
}

void sql_bind_pointer(struct sql_stmt *st, int i, void *p, const char *type)
{
	if (!st->pg)
		sqlite3_bind_pointer(st->lite, i, p, type, NULL);
}

void sql_bind_null(struct sql_stmt *st, int i)
{
	if (st->pg)
		pg_bind(st->pg, i, NULL, 0);
	else
		sqlite3_bind_null(st->lite, i);
}

int sql_step(struct sql_stmt *st)
{
	int rc;

	if (st->pg)
		return pg_step(st->pg);
	rc = sqlite3_step(st->lite);
	return rc == SQLITE_ROW ? SQL_ROW : rc == SQLITE_DONE ? SQL_DONE : SQL_ERROR;
}

void sql_reset(struct sql_stmt *st)
{
	if (st->pg)
		pg_reset(st->pg);
	else
		sqlite3_reset(st->lite);
}

void sql_clear_bindings(struct sql_stmt *st)
{
	if (st->pg)
		pg_clear_bindings(st->pg);
	else
		sqlite3_clear_bindings(st->lite);
}

void sql_finalize(struct sql_stmt *st)
{
	if (!st)
		return;
	if (st->pg)
		pg_finalize(st->pg);
	else
		sqlite3_finalize(st->lite);
	free(st);
}

const char *sql_column_text(struct sql_stmt *st, int i)
{
	if (st->pg)
		return pg_column(st->pg, i);
	return (const char *)sqlite3_column_text(st->lite, i);
}

long long sql_column_int64(struct sql_stmt *st, int i)
{
	const char *v;

	if (!st->pg)
		return sqlite3_column_int64(st->lite, i);
	v = pg_column(st->pg, i);
	return v ? strtoll(v, NULL, 10) : 0;
}

int sql_column_int(struct sql_stmt *st, int i)
{
	return (int)sql_column_int64(st, i);
}

int sql_column_null(struct sql_stmt *st, int i)
{
	if (st->pg)
		return !pg_column(st->pg, i);
	return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
}

int sql_exec(struct sql *db, const char *text)
{
	char *msg = NULL;

	if (db->pg)
		return pg_exec(db->pg, text);
	if (sqlite3_exec(db->lite, text, NULL, NULL, &msg) != SQLITE_OK) {
		error("database: %s (in '%.60s')", msg ? msg : sqlite3_errmsg(db->lite), text);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int sql_copy(struct sql *db, const char *text, const char *data, size_t len)
{
	return db->pg ? pg_copy(db->pg, text, data, len) : error("database: COPY is PostgreSQL's");
}

long long sql_changes(struct sql *db)
{
	return db->pg ? pg_changes(db->pg) : sqlite3_changes(db->lite);
}

int sql_in_txn(struct sql *db)
{
	return db->pg ? pg_in_txn(db->pg) : !sqlite3_get_autocommit(db->lite);
}

const char *sql_errmsg(struct sql *db)
{
	return db->pg ? pg_errmsg(db->pg) : sqlite3_errmsg(db->lite);
}

int sql_conflict(struct sql *db)
{
	if (db->pg)
		return pg_conflict(db->pg);
	return sqlite3_extended_errcode(db->lite) == SQLITE_CONSTRAINT_UNIQUE ||
	       sqlite3_extended_errcode(db->lite) == SQLITE_CONSTRAINT_PRIMARYKEY;
}

int sql_broken(struct sql *db)
{
	return db->pg && pg_broken(db->pg);
}

int sql_reconnect(struct sql *db)
{
	return db->pg ? pg_reconnect(db->pg) : 0;
}

int sql_batch_begin(struct sql *db)
{
	return db->pg ? pg_batch_begin(db->pg) : 0;
}

int sql_batch_end(struct sql *db)
{
	return db->pg ? pg_batch_end(db->pg) : 0;
}
