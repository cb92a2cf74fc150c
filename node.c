/*
 * node.c: a cluster node among others (store_bind.c). Each node has a
 * new id at each start and a lease in the nodes table that its
 * housekeeping renews and a clean stop gives back. What a node does to
 * a push that the others must know of is in the database too: the node
 * committing it (txns.node) and each upload stream into it (uploads).
 *
 * A node whose lease ran out (killed, or cut off from the database) is
 * dead: whichever node notices first reopens its commits and forgets
 * its uploads, and removes those pushes' commit/<txn>/ (what a dead
 * machine wrote there may not have reached the disk; the client sends
 * it again). Nothing of a live node's is ever touched. Should a node
 * taken for dead come back, its own commit cannot land: the record
 * moves a txn only while it is still this node's (txn_record), and the
 * node joins again under the same id.
 *
 * A node learns of the others' commits by reading the head each tick,
 * to answer the long polls parked on it (head_watch).
 *
 * The lease is renewed by a thread of its own on a connection of its
 * own, not by the housekeeping: that waits for a free worker, and a node
 * whose workers were all busy for a lease would be taken for dead.
 *
 * Times are the database's (its clock is the one every node shares).
 * Every statement here is PostgreSQL's: cluster nodes run on nothing else.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "node.h"
#include "sql.h"
#include "testhook.h"

#define NODE_LEASE_SECONDS 15		/* a node not heard of for this long is dead */
#define NODE_LEASE_MAX 3600		/* HOOK_NODE_LEASE_SECONDS at most */
#define NODE_RENEWS 3			/* a node renews its lease this many times a lease */
#define NODE_DOWN_SAY_SECONDS 60	/* a node cut off from the database says so again this often */
#define NODE_NOW "CAST(extract(epoch FROM clock_timestamp()) AS BIGINT)"
#define NODE_LIVE "SELECT id FROM nodes WHERE lease_until >= " NODE_NOW

/*
 * The upload streams' one connection, for their ends: each stream is a
 * thread of its own, and a connection a thread would be a PostgreSQL
 * backend started and ended a push.
 */
static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sql *end_db;

static long long last_recover;	/* a time(NULL) */
static long lease = NODE_LEASE_SECONDS;

/* The lease's thread, and how node_leave stops it. */
static pthread_mutex_t lease_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lease_wake = PTHREAD_COND_INITIALIZER;
static pthread_t lease_thread;
static int lease_running, lease_stopping;

static int run(struct sql *db, const char *text, const char *a, const char *b, long long n)
{
	struct sql_stmt *st = sql_prepare(db, text, 0);
	int rc;

	if (!st)
		return -1;
	if (a)
		sql_bind_text(st, 1, a, -1);
	if (b)
		sql_bind_text(st, 2, b, -1);
	/* The number follows the strings given. */
	if (n >= 0)
		sql_bind_int64(st, 1 + !!a + !!b, n);
	rc = sql_step(st);
	sql_finalize(st);
	if (rc == SQL_ERROR)
		return error("the database failed: %s", sql_errmsg(db));
	return 0;
}

/* db, a connection of a thread's own, made again if it broke (or a new one): NULL when it cannot be. */
static struct sql *connection(struct sql *db)
{
	if (db && sql_broken(db) && sql_reconnect(db)) {
		sql_close(db);
		db = NULL;
	}
	return db ? db : store_connect();
}

/* This node's row, with a new lease: 0, or -1 after a message. */
static int enter(struct server *s, struct sql *db)
{
	if (run(db, "INSERT INTO nodes VALUES(?1, " NODE_NOW " + ?2) ON CONFLICT (id)"
		" DO UPDATE SET lease_until = excluded.lease_until", s->node, NULL, lease))
		return error("node %s cannot join the cluster", s->node);
	return 0;
}

/* The lease renewed: 0; 1 when the node was taken for dead meanwhile (its row is gone); -1 after a message. */
static int renew(struct server *s, struct sql *db)
{
	if (run(db, "UPDATE nodes SET lease_until = " NODE_NOW " + ?2 WHERE id = ?1", s->node, NULL, lease))
		return -1;
	return !sql_changes(db);
}

/*
 * One renewal. A database out of reach is said once, with why, then
 * again only every NODE_DOWN_SAY_SECONDS: every NODE_RENEWS-th of a
 * lease, an outage of an hour was hundreds of lines a node. Its end is
 * said too. down_since and said_at are the thread's, 0 while reached.
 */
static struct sql *lease_renew(struct server *s, struct sql *db, long long *down_since, long long *said_at)
{
	long long now = (long long)(now_ms() / 1000);
	int rc;

	soc_thread_silent = *down_since && now - *said_at < NODE_DOWN_SAY_SECONDS;
	db = connection(db);
	rc = db ? renew(s, db) : -1;
	if (rc < 0 && !soc_thread_silent) {
		if (*down_since)
			warning("node %s still cannot reach the database to renew its lease (for %lld s)", s->node,
				now - *down_since);
		else
			warning("node %s cannot reach the database to renew its lease", s->node);
		*said_at = now;
	}
	soc_thread_silent = 0;
	if (rc < 0) {
		*down_since = *down_since ? *down_since : now;
		return db;
	}
	if (*down_since)
		fprintf(stderr, "%s: node %s reached the database again after %lld s; its lease is renewed\n",
			soc_prog, s->node, now - *down_since);
	*down_since = 0;
	/* Its commits were reopened by another node: it joins again, and goes on. */
	if (rc == 1) {
		warning("node %s was taken for stopped (its lease ran out); its pushes in flight were reopened",
			s->node);
		enter(s, db);
	}
	return db;
}

static void *lease_run(void *arg)
{
	struct server *s = arg;
	struct sql *db = NULL;
	struct timespec next;
	long period = lease / NODE_RENEWS ? lease / NODE_RENEWS : 1;
	long long down_since = 0, said_at = 0;

	pthread_mutex_lock(&lease_lock);
	clock_gettime(CLOCK_REALTIME, &next);
	next.tv_sec += period;
	while (!lease_stopping) {
		if (pthread_cond_timedwait(&lease_wake, &lease_lock, &next) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&lease_lock);
		db = lease_renew(s, db, &down_since, &said_at);
		pthread_mutex_lock(&lease_lock);
		clock_gettime(CLOCK_REALTIME, &next);
		next.tv_sec += period;
	}
	pthread_mutex_unlock(&lease_lock);
	sql_close(db);
	return NULL;
}

int node_join(struct server *s, struct sql *db)
{
	if (!s->cluster)
		return 0;
	if (!db || (!s->node[0] && random_hex(s->node, NODE_ID_BYTES)))
		return -1;
	lease = test_hook_long(HOOK_NODE_LEASE_SECONDS, 1, NODE_LEASE_MAX, NODE_LEASE_SECONDS);
	if (enter(s, db))
		return -1;
	if (pthread_create(&lease_thread, NULL, lease_run, s)) {
		error("node %s cannot start the thread that renews its lease", s->node);
		run(db, "DELETE FROM nodes WHERE id = ?1", s->node, NULL, -1);
		return -1;
	}
	lease_running = 1;
	fprintf(stderr, "%s: node %s of the cluster on '%s', synced %s\n", soc_prog, s->node, s->data,
		s->blobs_syncfs ? "by syncfs (a local disk)" : "file by file");
	return 0;
}

void node_leave(struct server *s)
{
	struct sql *db;

	if (lease_running) {
		pthread_mutex_lock(&lease_lock);
		lease_stopping = 1;
		pthread_cond_signal(&lease_wake);
		pthread_mutex_unlock(&lease_lock);
		pthread_join(lease_thread, NULL);
		lease_running = 0;
	}
	sql_close(end_db);
	end_db = NULL;
	if (!s->cluster || !s->node[0] || !(db = store_db(s)))
		return;
	run(db, "DELETE FROM nodes WHERE id = ?1", s->node, NULL, -1);
}

/* 1 when a node's lease ran out, or a commit or stream is no live node's (or the database failed), else 0. */
static int any_dead(struct sql *db)
{
	struct sql_stmt *st = sql_prepare(db, "SELECT 1 FROM nodes WHERE lease_until < " NODE_NOW
					  " UNION ALL SELECT 1 FROM txns WHERE state = 'committing'"
					  " AND (node IS NULL OR node NOT IN (" NODE_LIVE "))"
					  " UNION ALL SELECT 1 FROM uploads WHERE node NOT IN (" NODE_LIVE ") LIMIT 1", 0);
	int rc;

	if (!st)
		return 1;
	rc = sql_step(st);
	sql_finalize(st);
	return rc != SQL_DONE;
}

/* Each dead node's commits reopened and uploads forgotten, and their pushes' commit/<txn>/ removed. */
static void recover(struct server *s, struct sql *db)
{
	static const char reopen[] =
		"UPDATE txns SET state = 'open', node = NULL WHERE state = 'committing'"
		" AND (node IS NULL OR node NOT IN (" NODE_LIVE ")) RETURNING id";
	static const char forget[] = "DELETE FROM uploads WHERE node NOT IN (" NODE_LIVE ") RETURNING txn";
	char **ids = NULL;
	size_t n = 0, reopened = 0;

	/* Read first: the writers' lock is every commit's, and almost always nobody died. */
	if (!any_dead(db))
		return;
	if (store_write_begin(db))
		return;
	for (int pass = 0; pass < 2; pass++) {
		struct sql_stmt *st = sql_prepare(db, pass ? forget : reopen, 0);
		int rc;

		if (!st)
			goto fail;
		while ((rc = sql_step(st)) == SQL_ROW) {
			ids = xrealloc(ids, (n + 1) * sizeof(*ids));
			ids[n++] = xstrdup(sql_column_text(st, 0));
		}
		sql_finalize(st);
		if (rc != SQL_DONE)
			goto fail;
		if (!pass)
			reopened = n;
	}
	/* A node killed with nothing in flight leaves its row too. */
	if (sql_exec(db, "DELETE FROM nodes WHERE id NOT IN (" NODE_LIVE ")") || store_write_commit(db))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (remove_tree(s->commit_fd, ids[i]))
			warning_errno("cannot remove 'commit/%s'", ids[i]);
		fprintf(stderr, "%s: push '%s' %s a node that stopped answering; %s\n", soc_prog, ids[i],
			i < reopened ? "was being committed by" : "had an upload from",
			i < reopened ? "reopened it" : "its client sends the upload again");
		free(ids[i]);
	}
	free(ids);
	return;
fail:
	if (sql_in_txn(db))
		store_write_abort(db);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	warning("cannot look for the pushes of nodes that stopped answering: %s", sql_errmsg(db));
}

/*
 * Long polls parked here answered once another node's commit moved the
 * head: a node learns of those only by asking, once a tick (a second).
 */
static void head_watch(struct sql *db)
{
	static long long seen = -1;
	long long head = store_head(db);

	if (head > seen && seen >= 0)
		httpd_wake(head);
	if (head > seen)
		seen = head;
}

void node_tick(struct server *s, int at_start)
{
	struct sql *db;
	long long now = time(NULL);

	if (!s->cluster || !(db = store_db(s)))
		return;
	head_watch(db);
	if (!at_start && now - last_recover < lease / NODE_RENEWS)
		return;
	last_recover = now;
	recover(s, db);
}

/* 1 when a live node's stream runs into id, 0 when none does, -1 on a database error. */
static int uploading(struct sql *db, const char *id)
{
	struct sql_stmt *st = sql_prepare(db, "SELECT 1 FROM uploads WHERE txn = ?1 AND node IN (" NODE_LIVE ")", 0);
	int rc;

	if (!st)
		return -1;
	sql_bind_text(st, 1, id, -1);
	rc = sql_step(st);
	sql_finalize(st);
	return rc == SQL_ERROR ? -1 : rc == SQL_ROW;
}

int node_uploading(struct server *s, struct sql *db, const char *id)
{
	(void)s;
	return uploading(db, id) != 0;
}

/*
 * A transaction holding txn id's lock, which a claim and an upload's
 * begin take: they see each other's rows, and other pushes' commits
 * never wait for them (the writers' lock is all pushes'). 0, or -1.
 */
static int txn_lock(struct sql *db, const char *id)
{
	struct sql_stmt *st;
	int rc;

	if (sql_exec(db, "BEGIN"))
		return -1;
	st = sql_prepare(db, "SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_TXN ", hashtext(?1))", 0);
	if (st)
		sql_bind_text(st, 1, id, -1);
	rc = st ? sql_step(st) : SQL_ERROR;
	sql_finalize(st);
	if (rc == SQL_ROW)
		return 0;
	error("the database failed: %s", sql_errmsg(db));
	sql_exec(db, "ROLLBACK");
	return -1;
}

int node_claim(struct server *s, struct sql *db, const char *id)
{
	int rc, busy;

	if (txn_lock(db, id))
		return -1;
	busy = uploading(db, id);
	if (busy < 0)
		goto fail;
	if (!busy && run(db, "UPDATE txns SET state = 'committing', node = ?2 WHERE id = ?1 AND state = 'open'",
			 id, s->node, -1))
		goto fail;
	rc = busy ? 0 : (int)sql_changes(db);
	if (store_write_commit(db))
		return -1;
	return busy ? 2 : rc;
fail:
	store_write_abort(db);
	return -1;
}

int node_unclaim(struct server *s, struct sql *db, const char *id)
{
	if (run(db, "UPDATE txns SET state = 'open', node = NULL WHERE id = ?1 AND state = 'committing'"
		" AND node = ?2", id, s->node, -1))
		return -1;
	return (int)sql_changes(db);
}

int node_upload_begin(struct server *s, struct sql *db, const char *id, int slot)
{
	int rc;

	if (txn_lock(db, id))
		return -1;
	if (run(db, "INSERT INTO uploads SELECT CAST(?2 AS TEXT), CAST(?3 AS INTEGER), id FROM txns"
		" WHERE id = ?1 AND state = 'open' ON CONFLICT (node, slot) DO UPDATE SET txn = excluded.txn",
		id, s->node, slot)) {
		store_write_abort(db);
		return -1;
	}
	rc = (int)sql_changes(db);
	return store_write_commit(db) ? -1 : rc;
}

void node_upload_end(struct server *s, int slot)
{
	int rc = -1;

	pthread_mutex_lock(&end_lock);
	end_db = connection(end_db);
	if (end_db)
		rc = run(end_db, "DELETE FROM uploads WHERE node = ?1 AND slot = ?2", s->node, NULL, slot);
	pthread_mutex_unlock(&end_lock);
	if (rc)
		warning("node %s: an upload's end is not in the database; it counts as running until the node "
			"stops", s->node);
}
