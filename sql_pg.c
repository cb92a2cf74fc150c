/*
 * sql_pg.c: the PostgreSQL side of sql.h, on libpq: SQLite's ? and ?N
 * numbered $N, values sent and read back as text, one row per step.
 *
 * libpq lets one query be in flight on a connection, but callers step a
 * cursor and run other statements between its rows, as SQLite allows.
 * So a statement about to send first parks the one in flight: it reads
 * that one's remaining results into the parked statement's queue, whose
 * later steps come from there. A parked cursor holds the rest of its rows
 * in memory, a PGresult each.
 */
#include <ctype.h>
#include <limits.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soc.h"
#include "sql_pg.h"

#define PG_IDLE_READS_MAX 4	/* reads of an idle connection to find a dead server's EOF */
/*
 * Statements a batch sends before it reads their answers: the server
 * blocks once its answers fill the socket, and a client that is still
 * sending would then wait for it; 1,000 answers are some 40 KB.
 */
#define PG_BATCH_MAX 1000

struct pg {
	PGconn *conn;
	struct pg_stmt *busy;	/* sent, its results still on the connection */
	long long changes;
	int conflict;
	int batch;		/* in a batch (libpq's pipeline mode) */
	int pending;		/* statements of the batch sent, their answers not read */
	int batch_failed;	/* one of them failed: the batch's end says so */
	int batch_told;		/* a step gave that failure already (and its caller said it) */
	char errmsg[SQL_ERRMSG_MAX];
};

enum { ST_IDLE, ST_RUNNING, ST_DONE };

struct pg_stmt {
	struct pg *c;
	char *text;		/* with $N */
	int nparams;
	char *values[SQL_PARAMS_MAX];	/* NULL: SQL NULL */
	int state;
	int end;		/* SQL_DONE or SQL_ERROR, once ST_DONE */
	PGresult *row;		/* the current row's single-row result */
	PGresult **queue;	/* a parked statement's unread results */
	size_t qhead, qlen, qcap;
};

/* libpq would print notices and warnings on stderr in its own shape, past soc's log prefix. */
static void drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* libpq's messages run on over several lines (a hint, a detail); soc's messages are one line. */
static void set_errmsg(struct pg *c, const char *prefix, const char *msg)
{
	snprintf(c->errmsg, sizeof(c->errmsg), "%s%.*s", prefix, (int)strcspn(msg, "\n"), msg);
}

/* Keeps why res (NULL: no result at all) failed, for pg_errmsg and pg_conflict. */
static void set_error(struct pg *c, const PGresult *res)
{
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	/* Errors libpq makes itself (a lost connection) carry no fields, only a message. */
	if (!msg)
		msg = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : PQerrorMessage(c->conn);
	set_errmsg(c, "", *msg ? msg : "unknown PostgreSQL error");
	c->conflict = code && !strcmp(code, "23505");
}

/* 1 when the connection can take a query; else 0 and a message, for the connection is never remade here. */
static int conn_ok(struct pg *c)
{
	if (PQstatus(c->conn) != CONNECTION_BAD)
		return 1;
	set_errmsg(c, "lost connection to PostgreSQL: ", *PQerrorMessage(c->conn) ? PQerrorMessage(c->conn) : "gone");
	c->conflict = 0;
	return 0;
}

/*
 * sqlite3_changes counts only rows an INSERT, UPDATE or DELETE changed;
 * PQcmdTuples also gives a SELECT's row count, which must not count.
 */
static void note_changes(struct pg *c, PGresult *res)
{
	static const char *const dml[] = { "INSERT ", "UPDATE ", "DELETE ", "MERGE " };
	const char *tag = PQcmdStatus(res), *n = PQcmdTuples(res);

	if (!*n)
		return;
	for (size_t i = 0; i < sizeof(dml) / sizeof(dml[0]); i++)
		if (!strncmp(tag, dml[i], strlen(dml[i])))
			c->changes = strtoll(n, NULL, 10);
}

/* Reads the rest of the in-flight statement's results into its queue, so the connection is free to send. */
static void park(struct pg *c)
{
	struct pg_stmt *st = c->busy;
	PGresult *res;

	if (!st)
		return;
	while ((res = PQgetResult(c->conn))) {
		if (st->qlen == st->qcap) {
			st->qcap = st->qcap ? 2 * st->qcap : 16;
			st->queue = xrealloc(st->queue, st->qcap * sizeof(*st->queue));
		}
		st->queue[st->qlen++] = res;
	}
	c->busy = NULL;
}

/* What a new session needs: NULL, or the failed result. */
static PGresult *session_setup(PGconn *conn)
{
	/* CREATE ... IF NOT EXISTS on every start would otherwise send a NOTICE each. */
	PGresult *res = PQexec(conn, "SET client_min_messages = warning");

	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

struct pg *pg_open(const char *conninfo)
{
	PQconninfoOption *opts;
	PGconn *conn;
	PGresult *res;
	struct pg *c;
	int ok = 0;

	/* libpq's own parse errors quote words of the string, which may be its password. */
	opts = PQconninfoParse(conninfo, NULL);
	if (!opts) {
		error("cannot connect to PostgreSQL: the connection string does not parse");
		return NULL;
	}
	PQconninfoFree(opts);
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) == CONNECTION_OK) {
		PQsetNoticeProcessor(conn, drop_notice, NULL);
		res = session_setup(conn);
		ok = !res;
		PQclear(res);
	}
	if (!ok) {
		const char *msg = conn ? PQerrorMessage(conn) : "out of memory";

		error("cannot connect to PostgreSQL: %.*s", (int)strcspn(msg, "\n"), msg);
		PQfinish(conn);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->conn = conn;
	return c;
}

void pg_close(struct pg *c)
{
	if (!c)
		return;
	PQfinish(c->conn);
	free(c);
}

/*
 * text's ? and ?N as $N: a bare ? is one more than the largest number
 * so far, as in SQLite. Quoted strings, quoted identifiers and comments
 * are copied as they are, so a ? or a quote in them is no parameter.
 * E'' strings and dollar quoting are not known here.
 */
struct pg_stmt *pg_prepare(struct pg *c, const char *text)
{
	char *out = xmalloc(3 * strlen(text) + 1), *o = out;	/* a ? grows to $16 at most */
	const char *p = text;
	struct pg_stmt *st;
	int max = 0;

	while (*p) {
		const char *end;
		int n = 0;

		if (*p == '\'' || *p == '"') {
			end = strchr(p + 1, *p);	/* '' and "" are a close and an open */
			end = end ? end + 1 : p + strlen(p);
		} else if (p[0] == '-' && p[1] == '-') {
			end = p + strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			end = strstr(p + 2, "*/");
			end = end ? end + 2 : p + strlen(p);
		} else if (*p != '?') {
			end = p + 1;
		} else {
			if (!isdigit((unsigned char)*++p))
				n = max + 1;
			for (; isdigit((unsigned char)*p); p++)
				if (n <= SQL_PARAMS_MAX)
					n = 10 * n + (*p - '0');
			if (n < 1 || n > SQL_PARAMS_MAX) {
				snprintf(c->errmsg, sizeof(c->errmsg),
					 "a statement has parameters ?1 to ?%d at most (in '%.60s')", SQL_PARAMS_MAX, text);
				c->conflict = 0;
				free(out);
				return NULL;
			}
			if (n > max)
				max = n;
			o += sprintf(o, "$%d", n);
			continue;
		}
		memcpy(o, p, (size_t)(end - p));
		o += end - p;
		p = end;
	}
	*o = '\0';
	st = xcalloc(1, sizeof(*st));
	st->c = c;
	st->text = out;
	st->nparams = max;
	return st;
}

/* Binding to a statement already sent starts it over with the new value, which SQLite would refuse. */
void pg_bind(struct pg_stmt *st, int i, const char *s, int len)
{
	if (i < 1 || i > st->nparams)
		return;
	if (st->state != ST_IDLE)
		pg_reset(st);
	free(st->values[i - 1]);
	st->values[i - 1] = !s ? NULL : len < 0 ? xstrdup(s) : xstrndup(s, (size_t)len);
}

/* Marks st done with rc, leaving the connection free for others. */
static int finish(struct pg_stmt *st, int rc)
{
	pg_reset(st);
	st->state = ST_DONE;
	st->end = rc;
	return rc;
}

static int send_stmt(struct pg_stmt *st)
{
	struct pg *c = st->c;

	if (!conn_ok(c))
		return -1;
	park(c);
	if (!PQsendQueryParams(c->conn, st->text, st->nparams, NULL, (const char *const *)st->values, NULL, NULL,
			       0)) {
		set_error(c, NULL);
		return -1;
	}
	c->busy = st;
	st->state = ST_RUNNING;
	/* Without it the first step would wait for every row of a cursor at once. */
	if (!PQsetSingleRowMode(c->conn)) {
		set_error(c, NULL);
		return -1;
	}
	return 0;
}

/*
 * The answers of a batch's statements so far, up to the sync that asks
 * for them: the first failure is kept (the ones after it are aborted).
 * A connection that breaks ends the reading.
 */
static int drain(struct pg *c)
{
	int nulls = 0;

	if (!c->pending)
		return c->batch_failed ? -1 : 0;
	if (!PQpipelineSync(c->conn)) {
		set_error(c, NULL);
		c->batch_failed = 1;
	}
	/* Each statement's answer is followed by a NULL; the sync's ends it. */
	while (!c->batch_failed || PQstatus(c->conn) != CONNECTION_BAD) {
		PGresult *res = PQgetResult(c->conn);
		ExecStatusType s = res ? PQresultStatus(res) : PGRES_EMPTY_QUERY;

		if (!res) {
			if (++nulls > c->pending + 1 || PQstatus(c->conn) == CONNECTION_BAD) {
				conn_ok(c);
				c->batch_failed = 1;
				break;
			}
			continue;
		}
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (s != PGRES_COMMAND_OK && s != PGRES_PIPELINE_ABORTED && !c->batch_failed) {
			set_error(c, res);
			c->batch_failed = 1;
		}
		PQclear(res);
	}
	c->pending = 0;
	return c->batch_failed ? -1 : 0;
}

int pg_batch_begin(struct pg *c)
{
	park(c);
	if (!conn_ok(c))
		return error("database: %s", c->errmsg);
	if (!PQenterPipelineMode(c->conn)) {
		set_error(c, NULL);
		return error("database: %s", c->errmsg);
	}
	c->batch = 1;
	c->pending = 0;
	c->batch_failed = c->batch_told = 0;
	return 0;
}

int pg_batch_end(struct pg *c)
{
	int rc = drain(c);

	c->batch = 0;
	if (!PQexitPipelineMode(c->conn) && rc == 0) {
		set_error(c, NULL);
		rc = -1;
	}
	if (rc && !c->batch_told)
		error("database: %s", c->errmsg);
	return rc;
}

/* A statement of a batch: sent, and done as far as its caller knows. */
static int batch_step(struct pg_stmt *st)
{
	struct pg *c = st->c;

	if (!c->batch_failed &&
	    !PQsendQueryParams(c->conn, st->text, st->nparams, NULL, (const char *const *)st->values, NULL, NULL, 0)) {
		set_error(c, NULL);
		c->batch_failed = 1;
	}
	if (!c->batch_failed && ++c->pending >= PG_BATCH_MAX)
		drain(c);
	c->batch_told |= c->batch_failed;
	return finish(st, c->batch_failed ? SQL_ERROR : SQL_DONE);
}

int pg_step(struct pg_stmt *st)
{
	struct pg *c = st->c;
	PGresult *res;

	PQclear(st->row);
	st->row = NULL;
	if (st->state == ST_DONE)
		return st->end;
	if (c->batch && st->state == ST_IDLE)
		return batch_step(st);
	if (st->state == ST_IDLE && send_stmt(st))
		return finish(st, SQL_ERROR);
	if (c->busy == st)
		res = PQgetResult(c->conn);
	else
		res = st->qhead < st->qlen ? st->queue[st->qhead++] : NULL;
	switch (res ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
	case PGRES_SINGLE_TUPLE:
		st->row = res;
		return SQL_ROW;
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		note_changes(c, res);
		PQclear(res);
		return finish(st, SQL_DONE);
	default:
		/* With no result the query ended without its last one: the connection failed. */
		if (res || conn_ok(c))
			set_error(c, res);
		PQclear(res);
		return finish(st, SQL_ERROR);
	}
}

/* Keeps the bindings. The rows not read are read and thrown away: libpq cannot skip them. */
void pg_reset(struct pg_stmt *st)
{
	PGresult *res;

	if (st->c->busy == st) {
		while ((res = PQgetResult(st->c->conn)))
			PQclear(res);
		st->c->busy = NULL;
	}
	while (st->qhead < st->qlen)
		PQclear(st->queue[st->qhead++]);
	free(st->queue);
	st->queue = NULL;
	st->qhead = st->qlen = st->qcap = 0;
	PQclear(st->row);
	st->row = NULL;
	st->state = ST_IDLE;
}

void pg_clear_bindings(struct pg_stmt *st)
{
	for (int i = 0; i < SQL_PARAMS_MAX; i++) {
		free(st->values[i]);
		st->values[i] = NULL;
	}
}

void pg_finalize(struct pg_stmt *st)
{
	if (!st)
		return;
	pg_reset(st);
	pg_clear_bindings(st);
	free(st->text);
	free(st);
}

const char *pg_column(struct pg_stmt *st, int i)
{
	if (!st->row || i < 0 || i >= PQnfields(st->row) || PQgetisnull(st->row, 0, i))
		return NULL;
	return PQgetvalue(st->row, 0, i);
}

/* The simple protocol, so text may be several statements; PQexec keeps only the last one's result. */
int pg_exec(struct pg *c, const char *text)
{
	PGresult *res;
	ExecStatusType s;

	park(c);
	if (!conn_ok(c))
		return error("database: %s (in '%.60s')", c->errmsg, text);
	res = PQexec(c->conn, text);
	s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		note_changes(c, res);
		PQclear(res);
		return 0;
	}
	set_error(c, res);
	PQclear(res);
	return error("database: %s (in '%.60s')", c->errmsg, text);
}

int pg_copy(struct pg *c, const char *text, const char *data, size_t len)
{
	PGresult *res;
	int ok;

	park(c);
	if (!conn_ok(c))
		return error("database: %s (in '%.60s')", c->errmsg, text);
	res = PQexec(c->conn, text);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		set_error(c, res);
		PQclear(res);
		return error("database: %s (in '%.60s')", c->errmsg, text);
	}
	PQclear(res);
	ok = len <= INT_MAX && PQputCopyData(c->conn, data, (int)len) == 1;
	/* Ended either way, so the connection is free again; a reason given makes the server drop the rows. */
	if (PQputCopyEnd(c->conn, ok ? NULL : "soc could not send the rows") != 1)
		ok = 0;
	res = PQgetResult(c->conn);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		set_error(c, res);
		ok = 0;
	}
	PQclear(res);
	while ((res = PQgetResult(c->conn)))
		PQclear(res);
	return ok ? 0 : error("database: %s (in '%.60s')", c->errmsg, text);
}

long long pg_changes(struct pg *c)
{
	return c->changes;
}

/* A failed statement leaves a transaction open, INERROR, until its ROLLBACK: that counts as in one. */
int pg_in_txn(struct pg *c)
{
	PGTransactionStatusType s;

	/* libpq says ACTIVE while a statement is in flight, whatever the transaction. */
	park(c);
	s = PQtransactionStatus(c->conn);
	return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

const char *pg_errmsg(struct pg *c)
{
	return c->errmsg[0] ? c->errmsg : "not an error";
}

int pg_conflict(struct pg *c)
{
	return c->conflict;
}

/*
 * A server that restarted or failed over leaves an idle connection that
 * looks whole until it is used: reading what waits on it (nothing, or
 * the server's farewell and EOF) tells. In a transaction or a cursor it
 * is never asked: that work is lost with the connection either way.
 */
int pg_broken(struct pg *c)
{
	if (c->busy || PQtransactionStatus(c->conn) != PQTRANS_IDLE)
		return PQstatus(c->conn) == CONNECTION_BAD;
	/* A dying backend's FATAL message comes before its EOF: read while there is something to. */
	for (int i = 0; i < PG_IDLE_READS_MAX; i++) {
		struct pollfd p = { .fd = PQsocket(c->conn), .events = POLLIN };

		if (p.fd < 0)
			return 1;
		if (poll(&p, 1, 0) <= 0)
			break;
		if (!PQconsumeInput(c->conn))
			return 1;
	}
	return PQstatus(c->conn) == CONNECTION_BAD;
}

/*
 * The same connection made again (libpq keeps its conninfo, so a list of
 * hosts is tried again, for the one that now takes writes). Statements
 * hold no server state: they stay valid; one that was in flight fails.
 */
int pg_reconnect(struct pg *c)
{
	PGresult *res;

	c->busy = NULL;
	PQreset(c->conn);
	if (PQstatus(c->conn) != CONNECTION_OK) {
		conn_ok(c);
		return error("cannot connect to PostgreSQL again: %s", c->errmsg);
	}
	res = session_setup(c->conn);
	if (!res)
		return 0;
	set_error(c, res);
	PQclear(res);
	return error("cannot connect to PostgreSQL again: %s", c->errmsg);
}
