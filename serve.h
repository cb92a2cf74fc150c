/*
 * serve.h: what the server's files share: the root and its database
 * (store.c), tokens (token.c), the request router and read-only
 * endpoints (cmd_serve.c, api.c), push transactions and the crash-safe
 * commit (txn.c, whose own header txn.h ties it to txn_db.c and
 * txn_files.c; the push body's checks in push_body.c, the tree walks in
 * tree.c).
 *
 * The server's promise: files/ always equals the head the database names,
 * and nobody without a token reads or writes anything.
 */
#ifndef SERVE_H
#define SERVE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "soc.h"
#include "http.h"

#define SERVE_ROOT_SYSTEM "/var/lib/soc"	/* the default root, run as root */
#define SERVE_ROOT_USER "soc"		/* else the default root in $XDG_DATA_HOME or ~/.local/share */
#define SERVE_LISTEN_DEFAULT "127.0.0.1:8717"
#define TOKEN_BYTES 32			/* from getrandom(2), sent as 64 hex digits */
#define TOKEN_NAME_MAX 64		/* [A-Za-z0-9._-] */
#define TOKEN_HASH_HEX 64		/* a token's sha256 in hex, as the tokens table keeps it */
#define TXN_ID_BYTES 16			/* hex in URLs and staging/ */
#define TXN_ID_LEN (TXN_ID_BYTES * 2)	/* a txn id's hex digits */
#define NODE_ID_BYTES 8			/* a cluster node's id, hex in the nodes table */
#define NODE_ID_LEN (NODE_ID_BYTES * 2)
#define TXN_EXPIRE_SECONDS 3600		/* a push never committed is removed after */
#define PUSH_LINES_MAX 1000000		/* changes in one push */
#define LOG_LIMIT_DEFAULT 20
#define LOG_LIMIT_MAX 10000
#define CHANGES_WAIT_MAX 300		/* seconds a long poll of changes may wait */
#define CHANGES_WAIT_MAX_TEXT "300"	/* the same, for messages */
#define DB_BUSY_MS 10000		/* a writer waits this long for another */
#define WAL_KEEP_BYTES (64 << 20)	/* soc.db-wal past this after a commit is checkpointed and cut back */
#define WAL_KEEP_TEXT "67108864"	/* the same, for the pragma */
#define BIG_PUSH_ITEMS 10000		/* a push this long writes with STORE_BIG_CACHE, and trims after */
#define STORE_CACHE "-2000"		/* KiB of page cache a connection keeps (SQLite's default) */
#define STORE_BIG_CACHE "-32768"	/* KiB of page cache (the pragma's form) for a big push's writes */
#define STORE_SORT_THREADS "2"		/* threads SQLite may sort a rebuilt index on (the pragma's form) */

struct sql;
struct sql_stmt;
struct sqlite3;

struct server {
	char *root;		/* absolute */
	int root_fd;		/* O_DIRECTORY, never follows a symlink below it */
	int cluster;		/* a node of several, on PostgreSQL and a shared blob directory (--blobs) */
	int blobs_syncfs;	/* a cluster's blob directory on a local disk: one syncfs(2) flushes a big commit */
	char *data;		/* where staging/, commit/, trash/ and versions/ are: the root, or --blobs */
	int data_fd;
	char node[NODE_ID_LEN + 1];	/* a cluster node's id, new at each start (node.c); "" otherwise */
	int views_fd;		/* DATA/views: a pull's links (view_serve.c); cluster nodes only, else -1 */
	int files_fd;		/* ROOT/files: the head, as a tree; -1 on a cluster node, which keeps none */
	int staging_fd;		/* DATA/staging: one directory per open push, rsync's to write */
	int commit_fd;		/* DATA/commit: a committing push's checked files, out of rsync's reach */
	int trash_fd;		/* DATA/trash: a committed push's staging/<txn>, removed after the answer */
	int versions_fd;	/* DATA/versions: every content a revision names (versions.h); -1 before the first start */
	int lock_fd;		/* ROOT/serve.lock, held by a server (store_lock.c); -1 for the other commands */
	char *rsyncd_conf;	/* ROOT/rsyncd.conf: modules push and pull */
	char *rsyncd_ro_conf;	/* ROOT/rsyncd-ro.conf: pull only */
	/* Two pushes never apply at once; held from the last base check to the new head. */
	pthread_mutex_t apply_lock;
};

/* Who a request comes from, once its token is known. */
struct caller {
	char name[TOKEN_NAME_MAX + 1];
	/* The token's sha256, its identity: a new token given a revoked one's name is another. */
	char hash[TOKEN_HASH_HEX + 1];
	int read_only;
};

/*
 * ---- store.c: the root and soc.db ----
 *
 * Tables (WAL, synchronous=FULL):
 *   files(path PRIMARY KEY, sha256 NULL for a deleted path, size, mtime, mode, rev)
 *       the newest state of every path ever pushed; the head is the rows
 *       with sha256 NOT NULL. A delete leaves its row (sha256 NULL, the rev that
 *       deleted it) so changes?since=R is one indexed scan: rev > R.
 *   revs(rev PRIMARY KEY, time, token, client, adds, mods, dels)
 *   changes(rev, path, sha256 NULL for a delete, size, mtime, mode)
 *   tokens(name PRIMARY KEY, sha256, read_only, created)
 *   txns(id PRIMARY KEY, token, created, state, rev, token_sha256): state
 *       is 'open' (uploading), 'committing' (a commit checks the staged
 *       files), 'applying' (rev written, files/ being changed), 'done'
 *       (rev in the head); see txn.c. token_sha256 is the identity of
 *       the token that began it: only that token goes on with it.
 *   txn_items(txn, path, sha256 NULL for a delete, size, mtime, mode, base)
 *   meta(key PRIMARY KEY, value): 'head' is the revision readers see.
 * Indexes: files(rev), files(sha256), changes(rev), txn_items(txn, path).
 */

/*
 * For the token and check commands, before store_open: refuses (after a
 * one-line message, nothing created) a root that is missing or holds no
 * soc.db, and, run as root on a root another user owns, becomes that user
 * (saying so). 0, or -1: do not go on.
 */
int store_enter(const char *root);
/*
 * Before anything opens soc.db for writing: -1 after one line naming the
 * root when its files/ (or versions/) hold data but soc.db is missing,
 * empty or (starting) has no revision (a restore went wrong: a new,
 * empty history would hide them), or when admin.token exists and soc.db is missing,
 * empty, or (starting: soc serve would make an admin token) has no
 * token, so a new admin token would replace it. 0 when none of this is so.
 */
int store_refuse_lost(const char *root, int starting);
/*
 * The PostgreSQL database (a libpq conninfo) soc serve --db names, for
 * store_open to bind a new root to or check an old one against; NULL: none.
 */
void store_want_db(const char *conninfo);
/* ---- store_lock.c ---- */
#define SERVE_LOCK_FILE "serve.lock"	/* under the root: held by the one server running there */
/* ROOT/serve.lock taken into s->lock_fd, or -1 after a message (another server holds it). */
int store_lock(struct server *s);
/* ---- store_bind.c ---- */
/* ROOT/db.conninfo into *out (malloc'd; NULL when there is none): 0, or -1 after a message. */
int store_conninfo_read(int root_fd, const char *root, char **out);
/*
 * For store_open: the root's database, *conninfo NULL for soc.db; a new
 * root (create) given --db is bound to it. -1 after a message when --db
 * and the root disagree.
 */
int store_bind(struct server *s, int create, char **conninfo);
/* Writes ROOT/db.conninfo, 0600, whole and durable or not at all: 0, or -1 after a message. */
int store_bind_write(struct server *s, const char *conninfo);
#define VIEWS_DIR "views"		/* under a cluster's blob directory: pulls' views (view_serve.c) */
#define BLOBS_DIR_FILE "blobs.dir"	/* under the root: the blob directory a cluster node shares */
#define BLOBS_ID_FILE "blobs.id"	/* under that directory: its id, as the database's meta 'blobs' */
#define BLOBS_ID_BYTES 16
/* The blob directory soc serve --blobs names (NULL: none), for store_bind_blobs. */
void store_want_blobs(const char *dir);
/*
 * For store_open, after store_bind: s->data and s->data_fd, the root
 * itself, or on a cluster node (bound by ROOT/blobs.dir, or a new root
 * given --blobs on PostgreSQL, on_pg) the blob directory, and
 * s->cluster. -1 after a message.
 */
int store_bind_blobs(struct server *s, int create, int on_pg);
/*
 * Once the tables are there: the blob directory is the database's
 * (their ids agree; a new history's first node names it), and a node
 * without one is not on a database nodes share; a new node's root is
 * bound to its directory now. 0, or -1 after a message, nothing written.
 */
int store_bind_check(struct server *s, struct sql *db, int create);
/* The tables and indexes db's kind has, made where missing: 0, or -1 after a message. */
int store_schema(struct sql *db);
/* Creates ROOT and its tree if missing, recovers applying txns, writes the rsyncd configs. */
int store_open(struct server *s, const char *root, int create);
void store_close(struct server *s);
#define DB_NAME "soc.db"		/* under the root: the database */
#define DB_CONNINFO_FILE "db.conninfo"	/* under the root, instead: the PostgreSQL database it is bound to */
#define DB_CONNINFO_MAX 4096		/* bytes of a conninfo */
#define STORE_PG_LOCK_WRITE "7105"	/* PostgreSQL advisory lock ids: writers one at a time, as SQLite's */
#define STORE_PG_LOCK_SCHEMA "7106"	/* and the tables made by one node at a time */
#define STORE_PG_LOCK_VERSIONS "7108"	/* the version store's: commits shared, gc alone (versions.c) */
#define STORE_PG_LOCK_TXN "7107"	/* with a txn id's hash: its claim and its uploads' begins (node.c) */
#define RSYNC_LOG "rsyncd.log"		/* under the root: what the rsync daemons say */
#define RSYNC_LOG_MAX (16 << 20)	/* bytes it grows to before it becomes RSYNC_LOG.1 */
/* Moves a full RSYNC_LOG aside; for the housekeeping tick. */
void store_rotate_log(struct server *s);
/* This thread's connection to soc.db (opened on first use, one per worker thread). */
struct sql *store_db(struct server *s);
/* A connection of the caller's own (sql_close it), for a thread that must not make one each; NULL after a message. */
struct sql *store_connect(void);
/* The head revision readers see. */
long long store_head(struct sql *db);
/* The root's history id (soc.h), made with soc.db; 0, or -1 (out "") when it cannot be read. */
int store_history(struct sql *db, char out[HISTORY_HEX_LEN + 1]);
/*
 * After a commit's answer (the commit is durable in the WAL; copying a
 * big push's rows into soc.db need not delay it): a WAL grown past
 * WAL_KEEP_BYTES (a large push writes all its rows into it) is
 * checkpointed into soc.db and truncated, so the root does not keep its
 * size; readers still in it: left for the next commit.
 */
void store_checkpoint(struct server *s, struct sql *db);
/*
 * A write of n rows of one push (txn_db.c) in this thread's connection:
 * from BIG_PUSH_ITEMS rows, a page cache of STORE_BIG_CACHE for it, as
 * its indexes outgrow SQLite's 2 MB and each row would page through the
 * WAL; store_big_write_end gives that cache back.
 */
void store_big_write(struct sql *db, size_t n);
void store_big_write_end(struct sql *db, size_t n);
/* Dropped by a big write (store_bulk_begin) and made again by store_settle: defined once. */
#define FILES_SHA256_INDEX "CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256)"
#define CHANGES_SHA256_INDEX "CREATE INDEX IF NOT EXISTS changes_sha256 ON changes(sha256)"
/* What a big write leaves for store_settle. */
enum store_owed { STORE_FILES_SHA256, STORE_CHANGES_SHA256, STORE_DONE_ITEMS, STORE_OWED_KINDS };
/*
 * Inside a write of n rows into files or changes: when n is at least
 * BIG_PUSH_ITEMS and the table may hold no more than 2n rows, that
 * table's sha256 index is dropped (1), and store_settle makes it again
 * by one sort. The rows come in path order, so each sha256 lands on a
 * random page of its index: a million of them paged it through the
 * cache for 7-10 s, where one sort makes it in one. 0 when the index
 * stays, -1 after a message.
 */
int store_bulk_begin(struct sql *db, enum store_owed which, size_t n);
/* 1 when a finished push of n items leaves them to store_settle (a million take 0.6 s to delete), else 0. */
int store_items_later(struct sql *db, size_t n);
/*
 * What big writes left (all: everything a crash may have left, at
 * start), done in one write transaction, then the WAL checkpointed. Run
 * after a commit's answer, and by a begin before it looks contents up by
 * sha256: until then such a lookup reads the whole table, slower but
 * never wrong. What fails is owed again, after a warning.
 */
void store_settle(struct server *s, struct sql *db, int all);
/*
 * After a push of n changes (its begin, upload or commit): from
 * BIG_PUSH_ITEMS, this thread's SQLite memory and malloc's free pages go
 * back to the system, so the server does not keep a big push's peak.
 */
void store_trim(struct sql *db, size_t n);
/* One row of files, as the readers below hand it over (strings valid during the call). */
struct store_file {
	const char *path;
	const char *hash;	/* NULL for a deleted path */
	long long size, mtime, rev;	/* store_head_each gives path, sha256 and size only */
	int mode;
	const char *target;	/* a link's (mode MODE_LINK), else NULL */
};
/* One row of revs (strings valid during the call; client may be NULL). */
struct store_rev {
	long long rev, time, adds, mods, dels;
	const char *token, *client;
};
/*
 * GET changes' read, in one read transaction: begin(head, history id) once, then
 * row() for the newest state of every path changed after since up to
 * that head, by path (since=0: the head without deletes), from a cursor.
 * A nonzero return of begin or row stops it. -1 when nothing could be
 * read (neither called); 0 when every row was given; 1 when a callback
 * stopped it or the database failed midway (after a message).
 */
int store_changes_each(struct sql *db, long long since,
		       int (*begin)(long long head, const char *history, void *arg),
		       int (*row)(const struct store_file *f, void *arg), void *arg);
/* row() for the newest limit revisions up to the head, newest first; 0, or -1 on a database error. */
int store_log_each(struct sql *db, long long limit, void (*row)(const struct store_rev *r, void *arg),
		   void *arg);
/*
 * row() for every regular file of the head (path, sha256, size), by path:
 * what files/ holds, links left out; 0, or -1 (sql_errmsg says why).
 */
int store_head_each(struct sql *db, void (*row)(const struct store_file *f, void *arg), void *arg);
/* A prepared "is this path in the head?" for many paths; NULL on failure. */
struct store_lookup;
struct store_lookup *store_lookup_open(struct sql *db);
/* 1 when path is a regular file of the head (one files/ holds), else 0. */
int store_lookup_in_head(struct store_lookup *q, const char *path);
void store_lookup_close(struct store_lookup *q);
/* A read transaction around several reads, so they see one head; begin gives 0 or -1 after a message. */
int store_read_begin(struct sql *db);
void store_read_end(struct sql *db);
/*
 * A write transaction that takes the write lock at once (BEGIN IMMEDIATE),
 * so its reads and writes see one head: 0 or -1 after a message. End it
 * with store_write_commit (0, or -1 and rolled back) or store_write_abort.
 */
int store_write_begin(struct sql *db);
int store_write_commit(struct sql *db);
void store_write_abort(struct sql *db);
/* The statements every request runs, kept prepared on each thread's connection. */
enum store_stmt { STORE_STMT_AUTH, STORE_STMT_HEAD, STORE_STMT_NAMED, STORE_STMTS };
/*
 * A prepared statement for sql: this thread's cached one (which) when db
 * is this thread's connection, else a fresh one; NULL on failure. Give it
 * back with store_stmt_put(), which resets a cached one and finalizes
 * any other.
 */
struct sql_stmt *store_stmt_get(struct sql *db, enum store_stmt which, const char *sql);
void store_stmt_put(struct sql *db, struct sql_stmt *st);

/* ---- store_upgrade.c: an older soc's soc.db brought to this schema in place ---- */

/* Before the schema is applied: 0 (nothing to do, or done whole), or -1 after a message and nothing changed. */
int store_upgrade(struct sqlite3 *db, int files_fd);

/* ---- token.c: tokens, random ids and the tokens table ---- */
#define ADMIN_TOKEN_FILE "admin.token"	/* under the root: the first start's token */
/* nbytes from getrandom(2) as 2*nbytes hex digits plus NUL; 0 or -1 after a message. */
int random_hex(char *out, size_t nbytes);
/* A new random token as 64 hex digits plus NUL. */
int token_generate(char out[TOKEN_BYTES * 2 + 1]);
/* 1 when name is 1 to TOKEN_NAME_MAX of [A-Za-z0-9._-], else 0. */
int token_name_valid(const char *name);
/* Inserts a token; -1 if the name is taken (after a message). */
int token_add(struct sql *db, const char *name, const char *token, int read_only);
/* Looks the bearer token up by its sha256; 0 and *who on success, -1 if unknown, -2 if the database failed. */
int token_auth(struct sql *db, const char *token, size_t len, struct caller *who);
/* Prints one line a token (name, read-only or read-write, created); 0 or -1 after a message. */
int token_list(struct sql *db);
/* Deletes the token called name; 0, or -1 after a message (none by that name, a database error). */
int token_revoke(struct sql *db, const char *name);
/*
 * At the first start (no token yet): a token named admin, written to
 * ROOT/ADMIN_TOKEN_FILE 0600 and said on stderr. 0 (also when a token
 * exists), or -1 after a message.
 */
int token_make_admin(struct server *s, struct sql *db);

/* ---- tree.c: directories below the root, never through a symlink ---- */

/* The open parent directory of a path, kept while consecutive paths share it. */
struct dir_cursor {
	int root;		/* the tree's fd, not owned */
	mode_t mkdir_mode;	/* 0: never create; else missing parents are made with it */
	int durable;		/* fsync a directory made in, and one marked dirty before leaving it */
	int dirty;		/* the caller changed an entry in the open directory */
	struct buf dir;		/* the path of the open directory, "" for root */
	int fd;			/* -1, or open on dir */
};
void dir_cursor_init(struct dir_cursor *dc, int root, mode_t mkdir_mode, int durable);
/* The fd of path's parent (not the caller's to close) and its last component in *name; -1 and errno. */
int dir_cursor_parent(struct dir_cursor *dc, const char *path, const char **name);
/* fsyncs the open directory if it is durable and dirty; -1 and errno. */
int dir_cursor_sync(struct dir_cursor *dc);
/* Closes without the fsync: call dir_cursor_sync first where it matters. */
void dir_cursor_close(struct dir_cursor *dc);
/* Removes name in dir and everything below it; 0 when gone (or never there), -1 and errno. */
int remove_tree(int dir, const char *name);
/* 1 when the directory open on fd holds nothing, 0 when it holds something, -1 and errno. */
int dir_empty(int fd);
/* A new file name in dir with src's bytes and mode; its fd (the caller fsyncs), or -1 and errno. */
int copy_file_at(int src, int dir, const char *name, mode_t mode);

/* ---- check.c: soc serve check ---- */
/* Prints one line per way files/ (or versions/, keeping what keep keeps) differs from the head; the exit code. */
struct keep_policy;
int serve_check(const char *root, const struct keep_policy *keep);
/* ---- backup.c: soc serve backup DEST, a consistent copy while the server runs (an exit code) ---- */
int serve_backup(const char *root, const char *dest);
/* ---- export.c: soc serve export DEST [--rev R], revision rev (NULL: the head) as a tree (an exit code) ---- */
int serve_export(const char *root, const char *rev, const char *dest);
/* ---- migrate.c: soc serve migrate --db CONNINFO, a SQLite root's history moved to PostgreSQL (an exit code) ---- */
int serve_migrate(const char *root, const char *conninfo);

/*
 * ---- api.c: answers ----
 * Errors are JSON {"error":code,"message":...} plus "paths" when paths are
 * the reason. paths may be NULL.
 */
typedef struct json_t json_t;
void api_error(struct http_exchange *ex, int status, const char *code, const char *message);
void api_error_paths(struct http_exchange *ex, int status, const char *code, const char *message,
		     json_t *paths);
/* Sends a JSON value (and takes its reference). */
void api_json(struct http_exchange *ex, int status, json_t *v);
/* A query parameter as a non-negative integer; -1 if absent, -2 if malformed. */
long long api_query_int(const struct http_request *req, const char *name);
void api_info(struct server *s, struct http_exchange *ex, const struct caller *who);
/* ---- view_serve.c: POST view, the tree a pull's rsync reads ---- */
#define VIEW_EXPIRE_SECONDS 86400	/* a view is removed a day after it was made: a long rsync may read it */
#define VIEW_EXPIRE_EVERY 600		/* seconds between two looks for old views (the first at the start) */
void api_view(struct server *s, struct http_exchange *ex, const struct caller *who);
/* The housekeeping's: views older than VIEW_EXPIRE_SECONDS removed, every VIEW_EXPIRE_EVERY. */
void view_expire(struct server *s);
void api_changes(struct server *s, struct http_exchange *ex);
void api_log(struct server *s, struct http_exchange *ex);

/*
 * ---- tunnel_serve.c: POST /api/v1/rsync, the server's half of the rsync tunnel ----
 *
 * Each tunnel is an rsync daemon of a few MB resident, two processes
 * while it receives a push, and one sync runs up to PARTS_MAX of them.
 * TUNNELS_MAX bounds them at 64 (128 processes), sixteen syncs as wide as
 * they go, more than two cores keep busy. One token may be shared by a
 * team or a script's many workspaces (t/0530's soak runs 32 clients on
 * one, each with a tunnel at a time), so its share is half the server's:
 * a leaked or misused token still leaves the other half to everyone else.
 */
#define TUNNELS_MAX 64			/* rsync tunnels at once; more: 503 */
#define TUNNELS_PER_TOKEN 32		/* of one token at once; more: 429 */
/*
 * A tunnel that moves no byte either way for this long is ended, and its
 * rsync. rsync may be quiet while one side works through a large file;
 * five minutes of it is a client gone or stuck (the test hook
 * SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS shortens it).
 */
#define TUNNEL_IDLE_TIMEOUT_MS (300 * 1000)
/* The oldest rsync with the daemon fixes of January 2025 (CVE-2024-12084, CVE-2024-12085). */
#define RSYNC_VERSION_FLOOR "3.4.0"
/* Retry-After of a refusal for being busy: about how long a transfer takes to end. */
#define BUSY_RETRY_SECONDS 10
/*
 * At start, before anything is created: reads the test hook
 * SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS, and refuses (-1, after one line naming both)
 * an rsync older than RSYNC_VERSION_FLOOR. 0 when it may serve.
 */
int tunnel_init(void);
/*
 * At each start, from store_open: writes ROOT/rsyncd.conf (modules push
 * and pull) and ROOT/rsyncd-ro.conf (pull only), each whole through a
 * .tmp and a rename, 0600. 0, or -1 after a message.
 */
int tunnel_write_confs(struct server *s);
void tunnel_serve(struct server *s, struct http_exchange *ex, const struct caller *who);
/*
 * CONNECT soc:873, rsync's request of a proxy (RSYNC_PROXY), answered as
 * the tunnel's POST is, with 200 for 101; any other authority is 403:
 * the server connects nowhere. The token came as Proxy-Authorization.
 */
#define TUNNEL_AUTHORITY "soc:873"
void tunnel_connect(struct server *s, struct http_exchange *ex, const struct caller *who);
/* At stop, after the last request: ends every tunnel and waits for its rsync. */
void tunnel_stop(void);

/* ---- upload_serve.c: POST /api/v1/push/<txn>/upload, new files in soc's own stream ---- */
#define UPLOADS_MAX 16		/* streams at once; more are answered 503 (the client uses rsync) */
/* Of one token: two pushes at full width (PARTS_MAX each), so one token never takes them all; more: 503 too. */
#define UPLOADS_PER_TOKEN 8
#define UPLOAD_STREAMS_PER_PUSH PARTS_MAX	/* into one push at once, side by side; more: 409 */
/*
 * A stream that brings no byte for this long is ended. The client sends as
 * fast as it reads its files and nothing in the stream waits on the other
 * side, so this is shorter than the tunnel's (the test hook
 * SOC_TEST_UPLOAD_IDLE_TIMEOUT_MS, read at the first upload, shortens it).
 */
#define UPLOAD_IDLE_TIMEOUT_MS (60 * 1000)
void upload_serve(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn);

/* ---- upload_slots.c: the upload streams running, and the gate commits pass ---- */

/*
 * Whether an upload into txn is running (1) or not (0). Either way the
 * gate stays shut until upload_gate_leave(), so no upload starts while a
 * commit, abort or expiry that found none changes the txn's state. In
 * memory, not in soc.db: it must open again on a full disk.
 */
int upload_gate_enter(const char *txn);
void upload_gate_leave(void);
enum { SLOT_PUSH_FULL = -1, SLOT_SERVER_FULL = -2, SLOT_TOKEN_FULL = -3 };
/*
 * Hold the gate. A free slot for one more stream into txn by the token
 * who, or why not: UPLOAD_STREAMS_PER_PUSH into txn already, UPLOADS_MAX
 * in all or the server stopping, or the token's UPLOADS_PER_TOKEN.
 */
int upload_slot_free(const char *txn, const char *who);
/*
 * Hold the gate: the items of txn that a stream running into it loaded,
 * or NULL. Its other streams read the same list: a push's list is fixed
 * at its begin, and two copies of a million items were 200 MB more.
 */
struct push_list *upload_slot_items(const char *txn);
/*
 * Hold the gate: the slot upload_slot_free gave is txn's until
 * upload_slot_release, with items (allocated; shared with the other
 * streams into txn).
 */
void upload_slot_take(int slot, const char *txn, const char *who, struct push_list *items);
/* The stream's socket, so that upload_stop can cut it short (at once if stopping). */
void upload_slot_sock(int slot, int fd);
/*
 * Frees the slot. The last stream's items are kept for the txn's commit
 * (txn_items_keep) under the gate, which an abort or expiry deletes the
 * txn's rows under: never kept for a txn already gone.
 */
void upload_slot_release(int slot);
/* At stop, before store_close: cuts every stream short and waits for its thread. */
void upload_stop(void);

/* ---- push_body.c: a push request's body, judged whole before anything is written ---- */

struct push_item {
	char *path;
	char hash[HASH_HEX_LEN + 1];	/* "" for a delete, and for a later one until its commit */
	/*
	 * The ticket of the upload stream that last began this path, odd
	 * once the file it left in commit/<txn>/ was the sha256
	 * (upload_serve.c). In memory only: 0 in items read back from the
	 * database. In the padding after hash, so a million items are no larger.
	 */
	atomic_uint stored;
	/*
	 * "" when the push says the head lacks the path, else owned (set
	 * with push_item_base): a million new files' items are 57 MB
	 * smaller without room for a base they lack.
	 */
	char *base;
	long long size, mtime;		/* 0 for a delete */
	unsigned mode;			/* 0644, 0755 or MODE_LINK; 0 for a delete */
	unsigned base_mode;		/* the mode the push says the head has; 0: not checked */
	int deleted;
	int later;			/* its sha256 is the commit's to give (hash "" until then) */
	char *target;			/* a link's target (MODE_LINK), owned; else NULL */
};

/* 1 when this server's upload stream left the item's file in commit/<txn>/, checked (txn_check.c). */
static inline int push_item_stored(const struct push_item *it)
{
	return atomic_load(&it->stored) & 1;
}

/* 1 when the item's content is a file in files/: not a delete, not a link (the database holds those). */
static inline int push_item_file(const struct push_item *it)
{
	return !it->deleted && !it->target;
}

/* The changes of one push, sorted by path. */
struct push_list {
	struct push_item *v;
	size_t n;
	/*
	 * Set by the begin: the head its bases were checked against, so that
	 * the commit need not check them again on the same head. 0 in a list
	 * read from soc.db.
	 */
	int checked;
	long long checked_head;
	/* Set by the commit: files whose sha256 it gave found back at their base, and left out. */
	size_t later_dropped;
};

/* Why a body was refused: the paths at fault, or else the line (1-based; 0 for the whole body). */
struct push_refusal {
	const char *why;	/* a constant string */
	size_t line;
	char *path, *other;	/* owned; NULL when not about a path */
};

/*
 * Splits and checks a push body: every line a change (wire.c), at most
 * PUSH_LINES_MAX of them, none empty or over CHANGE_LINE_MAX, no path
 * twice, no file of the push a directory of another. 0 and *out sorted by
 * path, or -1 and *r (push_refusal_free it either way).
 */
int push_parse(const char *body, size_t len, struct push_list *out, struct push_refusal *r);
/*
 * The same, telling read(upto, arg) every PUSH_READ_STEP bytes that the
 * body before upto is read: a caller may give those pages back.
 */
#define PUSH_READ_STEP (1 << 20)
int push_parse_reading(const char *body, size_t len, struct push_list *out, struct push_refusal *r,
		       void (*read)(size_t upto, void *arg), void *arg);
void push_list_free(struct push_list *l);
/* What one item owns (push_list_free frees each). */
void push_item_free(struct push_item *it);
/* Sets it->base to a copy of hex ("" or NULL: none). */
void push_item_base(struct push_item *it, const char *hex);
void push_refusal_free(struct push_refusal *r);
/* The item for path[0..len), or NULL. */
struct push_item *push_find(const struct push_list *l, const char *path, size_t len);

/*
 * ---- txn.c: push transactions (DESIGN.md section 7) ----
 * Each answers the request itself. txn is the id from the URL (checked to
 * be TXN_ID_BYTES*2 hex digits by the router).
 */
void txn_begin(struct server *s, struct http_exchange *ex, const struct caller *who);
void txn_commit(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn);
void txn_abort(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn);
/*
 * An upload into txn may run when the txn is open and the caller's: 0
 * and, when l is not NULL, its items in *l (push_list_free it), or -1
 * after answering.
 */
int txn_upload_check(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn,
		     struct push_list *l);
/*
 * At start, before serving: finishes every txn left 'applying' by a crash,
 * reopens one left 'committing', removes strays from staging/ and commit/.
 * Reads the test hooks SOC_TEST_TXN_EXPIRE_SECONDS and
 * SOC_TEST_APPLY_DELAY_MS once. 0, or -1 when the head cannot be made whole (do not serve).
 */
int txn_recover(struct server *s);
/*
 * Housekeeping, from the server's tick: removes txns left open longer
 * than TXN_EXPIRE_SECONDS (and their staging/), records of committed ones
 * as old, and staging/ directories no open txn owns.
 */
void txn_expire(struct server *s);
/* The server stops: the hashes of big files rsync stages end (stage_follow.c). */
void stage_follow_stop(void);

#endif
