/*
 * versions.h: the version store, ROOT/versions/XX/<sha256>: every content
 * a revision names, written once, shared by hard link with files/
 * (versions.c, the files; store_history.c, the rows of soc.db it reads;
 * api_history.c, the endpoints history, tree and blob).
 */
#ifndef VERSIONS_H
#define VERSIONS_H

#include "serve.h"

#define VERSIONS_DIR "versions"		/* under the root */
#define VERSIONS_DIRS 256		/* versions/00 to versions/ff */
#define VERSIONS_LOCK "versions.lock"	/* under the root: commits share it, gc holds it alone */
#define KEEP_DAYS_DEFAULT 30
#define KEEP_DAYS_MAX 36500
#define KEEP_VERSIONS_MAX 1000000
#define GC_GRACE_SECONDS 3600		/* a blob younger than this is never taken: a commit may be about to name it */
#define DAY_SECONDS 86400
#define GC_EVERY_SECONDS DAY_SECONDS	/* how often the server's housekeeping runs gc */
#define HISTORY_LIMIT_DEFAULT 100
#define HISTORY_LIMIT_MAX 10000

/* What gc keeps: a version is kept while it is the head, replaced less than days ago, or among the newest. */
struct keep_policy {
	long days;		/* --keep-days */
	long versions;		/* --keep-versions, 0: no count rule */
};

/* ---- versions.c ---- */

/* Seconds since the epoch: time(NULL), or the test hook SOC_TEST_NOW. */
long long versions_now(void);
/*
 * The lock commits take shared from their first link into versions/ to
 * their revision's record, and gc takes alone: gc never sees a blob
 * linked whose revision is not yet recorded; on a cluster, on every
 * node. An fd for versions_unlock, or -1 after a message. nonblock: -1
 * with errno EWOULDBLOCK when another holds it.
 */
int versions_lock(struct server *s, int exclusive, int nonblock);
/* Lets go of what versions_lock took (fd, and on a cluster the database's lock). */
void versions_unlock(struct server *s, int fd, int exclusive);
/* The versions/XX directories links were made in, for versions_sync. */
struct versions_touched {
	unsigned char dir[VERSIONS_DIRS];
	int top;		/* a versions/XX was made: versions/ itself changed */
};
/*
 * name in dir, a file whose content was just checked to be hash,
 * hard-linked as versions/XX/<hash>: 1 when linked, 0 when the store had
 * it already, -1 and errno. Its versions/XX is marked in t either way (a
 * link another commit made a moment ago may not be durable yet). Safe on
 * several threads at once, each with its own t. A commit links each file
 * as its check passes (txn_check.c), under versions_lock.
 */
int versions_keep(struct server *s, int dir, const char *name, const char *hash, struct versions_touched *t);
void versions_touched_add(struct versions_touched *into, const struct versions_touched *from);
/*
 * Each versions/XX marked in t fsync'd, and versions/ when a directory was
 * made; batch: one syncfs instead. 0, or -1 after a message.
 */
int versions_sync(struct server *s, const struct versions_touched *t, int batch);
/*
 * At start, after recovery: a root made before the version store gets
 * every head file linked into versions/ (each hashed, and refused when
 * it is not the sha256 the head names). 0, or -1 after a message.
 */
int versions_populate(struct server *s);
/* soc serve gc: removes every blob no kept version names; prints count and bytes. 0, or -1. */
int versions_gc(struct server *s, const struct keep_policy *keep, int nonblock);
/* soc serve check's part: one line per problem of versions/ (via problem), how many. */
size_t versions_check(struct server *s, struct sql *db, const struct keep_policy *keep);
/* An open fd on versions/XX/<hash>, a regular file, and its size; -1 when not there. */
int versions_open(struct server *s, const char *hash, long long *size);

/* ---- api_history.c: GET history, tree and blob/<sha256> (PROTOCOL.md section 3) ---- */
void api_history(struct server *s, struct http_exchange *ex, const struct caller *who);
void api_tree(struct server *s, struct http_exchange *ex, const struct caller *who);
void api_blob(struct server *s, struct http_exchange *ex, const struct caller *who);

/* ---- fetch_serve.c: POST fetch, many versions in one answer (PROTOCOL.md section 6b) ---- */
void api_fetch(struct server *s, struct http_exchange *ex, const struct caller *who);

/* ---- store_history.c ---- */

/* One version or delete of a path, as history and tree give it (strings valid during the call). */
struct history_row {
	long long rev, time, size, mtime;
	const char *token, *path;
	const char *hash;	/* NULL for a delete, "" for content older than sha256 */
	int mode;
	const char *target;	/* a link's (MODE_LINK), kept in the database; else NULL */
};
/*
 * row() for each revision's change of path (a file) or anything under it
 * (a directory; "" is everything), newest first, at most limit, up to the
 * head. A nonzero row() stops it. 0, 1 when stopped, -1 after a message.
 */
int store_history_each(struct sql *db, const char *path, long long limit,
		       int (*row)(const struct history_row *h, void *arg), void *arg);
/*
 * The files at revision rev at or under path, by path (time and token
 * not set). 0, 1 when stopped, -1 after a message.
 */
int store_tree_each(struct sql *db, long long rev, const char *path,
		    int (*row)(const struct history_row *h, void *arg), void *arg);
/* The newest revision up to the head whose time is before t; 0 when none. -1 on error. */
long long store_rev_before(struct sql *db, long long t);
/* 1 when some recorded revision names hash, 0 when none, -1 on error. */
int store_hash_named(struct sql *db, const char *hash);
/*
 * Of the n sha256s, those store_hash_named would say 1 for, in one
 * statement on PostgreSQL (a fetch asks up to two a file, each a round
 * trip there): sorted in *named (free it), how many; -1 after a
 * message; -2 on SQLite, which answers each faster in its own process.
 */
long store_hashes_named(struct sql *db, const char *const *hashes, size_t n, char (**named)[HASH_HEX_LEN + 1]);
/*
 * Every sha256 a kept version names, sorted, unique (*out: free each and
 * it); how many, or -1 after a message. Versions of revisions up to
 * since that are no longer the head are left out (-1: none is): they
 * were replaced before versions/ was made, and never kept.
 */
long store_kept_hashes(struct sql *db, const struct keep_policy *keep, long long now, long long since,
		       char ***out);
/* meta 'versions_since': the head when versions/ was first filled; -1 when never, -2 on error. */
long long store_versions_since(struct sql *db);
int store_set_versions_since(struct sql *db, long long rev);

#endif
