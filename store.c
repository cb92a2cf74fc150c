/*
 * store.c: the server's root directory and its database, soc.db: the
 * schema, the connections, and the reads the API and check make (the
 * tokens table is token.c's, a push's rows txn_db.c's).
 *
 * Every worker thread keeps its own SQLite connection (WAL lets readers
 * run beside the one writer), opened on first use. The root is created
 * 0700 on first start; soc serve then has token.c make the admin token.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "sql.h"
#include "testhook.h"
#include "txn.h"
#include "versions.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, sha256 TEXT, size INTEGER NOT NULL,"
	" mtime INTEGER NOT NULL, mode INTEGER NOT NULL, rev INTEGER NOT NULL, target TEXT) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS files_rev ON files(rev);"
	FILES_SHA256_INDEX ";"
	"CREATE TABLE IF NOT EXISTS revs(rev INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	" token TEXT NOT NULL, client TEXT, adds INTEGER NOT NULL, mods INTEGER NOT NULL,"
	" dels INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS changes(rev INTEGER NOT NULL, path TEXT NOT NULL, sha256 TEXT,"
	" size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL, target TEXT);"
	"CREATE INDEX IF NOT EXISTS changes_rev ON changes(rev);"
	"CREATE INDEX IF NOT EXISTS changes_path ON changes(path, rev);"
	CHANGES_SHA256_INDEX ";"
	"CREATE TABLE IF NOT EXISTS tokens(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE,"
	" read_only INTEGER NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS txns(id TEXT PRIMARY KEY, token TEXT NOT NULL,"
	" created INTEGER NOT NULL, state TEXT NOT NULL, rev INTEGER, token_sha256 TEXT);"
	"CREATE TABLE IF NOT EXISTS txn_items(txn TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT,"
	" size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL, base TEXT,"
	" base_mode INTEGER NOT NULL DEFAULT 0, target TEXT, PRIMARY KEY(txn, path)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('head', 0);"
	/*
	 * The history id, made with the database (a root from before gets
	 * one at its first start, in this same statement list) and never
	 * replaced: 16 bytes of SQLite's randomness, which the unix VFS
	 * seeds from /dev/urandom. A client that sees another id knows the
	 * server is not the one it synced with.
	 */
	"INSERT OR IGNORE INTO meta VALUES('history', lower(hex(randomblob(16))));";

/*
 * The same tables in PostgreSQL: 64-bit integers, and paths compared
 * byte by byte as SQLite does (collation "C"), whatever the database's
 * locale, so ranges of paths and their order are the same. Made under a
 * lock, as two nodes may start at once.
 */
static const char schema_pg[] =
	"BEGIN; SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_SCHEMA ");"
	"CREATE TABLE IF NOT EXISTS files(path TEXT COLLATE \"C\" PRIMARY KEY, sha256 TEXT, size BIGINT NOT NULL,"
	" mtime BIGINT NOT NULL, mode INTEGER NOT NULL, rev BIGINT NOT NULL, target TEXT);"
	"CREATE INDEX IF NOT EXISTS files_rev ON files(rev);"
	FILES_SHA256_INDEX ";"
	"CREATE TABLE IF NOT EXISTS revs(rev BIGINT PRIMARY KEY, time BIGINT NOT NULL,"
	" token TEXT NOT NULL, client TEXT, adds BIGINT NOT NULL, mods BIGINT NOT NULL, dels BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS changes(rev BIGINT NOT NULL, path TEXT COLLATE \"C\" NOT NULL, sha256 TEXT,"
	" size BIGINT NOT NULL, mtime BIGINT NOT NULL, mode INTEGER NOT NULL, target TEXT);"
	"CREATE INDEX IF NOT EXISTS changes_rev ON changes(rev);"
	"CREATE INDEX IF NOT EXISTS changes_path ON changes(path, rev);"
	CHANGES_SHA256_INDEX ";"
	"CREATE TABLE IF NOT EXISTS tokens(name TEXT COLLATE \"C\" PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE,"
	" read_only INTEGER NOT NULL, created BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS txns(id TEXT PRIMARY KEY, token TEXT NOT NULL,"
	" created BIGINT NOT NULL, state TEXT NOT NULL, rev BIGINT, token_sha256 TEXT);"
	"CREATE TABLE IF NOT EXISTS txn_items(txn TEXT NOT NULL, path TEXT COLLATE \"C\" NOT NULL, sha256 TEXT,"
	" size BIGINT NOT NULL, mtime BIGINT NOT NULL, mode INTEGER NOT NULL, base TEXT,"
	" base_mode INTEGER NOT NULL DEFAULT 0, target TEXT, PRIMARY KEY(txn, path));"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	/* Cluster nodes (node.c): each one's lease, the node committing a txn, the ones uploading into it. */
	"CREATE TABLE IF NOT EXISTS nodes(id TEXT PRIMARY KEY, lease_until BIGINT NOT NULL);"
	"ALTER TABLE txns ADD COLUMN IF NOT EXISTS node TEXT;"
	"CREATE TABLE IF NOT EXISTS uploads(node TEXT NOT NULL, slot INTEGER NOT NULL, txn TEXT NOT NULL,"
	" PRIMARY KEY(node, slot));"
	"INSERT INTO meta VALUES('head', '0') ON CONFLICT DO NOTHING;"
	/* A random UUID's 32 hex digits: 122 bits from PostgreSQL's strong generator. */
	"INSERT INTO meta VALUES('history', replace(gen_random_uuid()::text, '-', '')) ON CONFLICT DO NOTHING;"
	"COMMIT;";

/*
 * One connection per thread, with the statements every request runs
 * prepared once: a request costs two sql_step()s, not two parses.
 * Freed when the thread ends.
 */
struct conn {
	struct sql *db;
	struct sql_stmt *cached[STORE_STMTS];	/* by enum store_stmt */
};

static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;
static char *db_path;		/* ROOT/soc.db, or NULL */
static char *db_conninfo;	/* the PostgreSQL database the root is bound to, or NULL */

static void conn_free(void *p)
{
	struct conn *c = p;

	for (int i = 0; i < STORE_STMTS; i++)
		sql_finalize(c->cached[i]);
	sql_close(c->db);
	free(c);
}

static void db_key_make(void)
{
	if (pthread_key_create(&db_key, conn_free))
		die("cannot create a thread key");
}

static struct sql *db_connect(const char *path)
{
	sqlite3 *lite = NULL;
	struct sql *db;

	if (sqlite3_open_v2(path, &lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK || txn_items_lite(lite)) {
		error("cannot open '%s': %s", path, lite ? sqlite3_errmsg(lite) : "out of memory");
		sqlite3_close(lite);
		return NULL;
	}
	sqlite3_busy_timeout(lite, DB_BUSY_MS);
	db = sql_wrap_sqlite(lite);
	/* What a checkpoint leaves of the WAL: a large push's WAL does not stay its size. */
	if (sql_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=" STORE_CACHE "; "
		       "PRAGMA journal_size_limit=" WAL_KEEP_TEXT ";")) {
		sql_close(db);
		return NULL;
	}
	return db;
}

static struct conn *conn_get(void)
{
	struct conn *c;

	pthread_once(&db_key_once, db_key_make);
	c = pthread_getspecific(db_key);
	/*
	 * PostgreSQL restarted or failed over: made again here, where a
	 * request begins and no transaction is open, never in the middle of
	 * one. A request that fails to gets a 500; the next one tries again.
	 */
	if (c && sql_broken(c->db)) {
		fprintf(stderr, "%s: lost the connection to PostgreSQL; connecting again\n", soc_prog);
		return sql_reconnect(c->db) ? NULL : c;
	}
	if (c)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->db = store_connect();
	if (!c->db || pthread_setspecific(db_key, c)) {
		sql_close(c->db);
		free(c);
		return NULL;
	}
	return c;
}

struct sql *store_connect(void)
{
	return db_conninfo ? sql_open_pg(db_conninfo) : db_connect(db_path);
}

struct sql *store_db(struct server *s)
{
	struct conn *c = conn_get();

	(void)s;
	return c ? c->db : NULL;
}

struct sql_stmt *store_stmt_get(struct sql *db, enum store_stmt which, const char *sql)
{
	struct conn *c = pthread_getspecific(db_key);
	struct sql_stmt **slot = NULL, *st;

	if (c && c->db == db)
		slot = &c->cached[which];
	if (slot && *slot)
		return *slot;
	if (!(st = sql_prepare(db, sql, slot != NULL)))
		return NULL;
	if (slot)
		*slot = st;
	return st;
}

void store_stmt_put(struct sql *db, struct sql_stmt *st)
{
	struct conn *c = pthread_getspecific(db_key);
	int cached = 0;

	for (int i = 0; c && c->db == db && i < STORE_STMTS; i++)
		cached |= st == c->cached[i];
	if (cached) {
		sql_reset(st);
		sql_clear_bindings(st);
	} else {
		sql_finalize(st);
	}
}

/* WAL_KEEP_BYTES, or the test hook HOOK_WAL_KEEP_BYTES; read at the first commit. */
static long wal_keep = WAL_KEEP_BYTES;
static pthread_once_t wal_keep_once = PTHREAD_ONCE_INIT;

static void read_wal_keep(void)
{
	wal_keep = test_hook_long(HOOK_WAL_KEEP_BYTES, 0, WAL_KEEP_BYTES, WAL_KEEP_BYTES);
}

void store_checkpoint(struct server *s, struct sql *sdb)
{
	sqlite3 *db = sql_sqlite(sdb);
	struct stat st;
	int rc;

	pthread_once(&wal_keep_once, read_wal_keep);
	if (!db || fstatat(s->root_fd, DB_NAME "-wal", &st, AT_SYMLINK_NOFOLLOW) || st.st_size <= wal_keep)
		return;
	/* Never waiting for a reader (a long changes stream): the next commit tries again. */
	sqlite3_busy_timeout(db, 0);
	rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(db, DB_BUSY_MS);
	if (rc == SQLITE_OK)
		fprintf(stderr, "%s: checkpointed %s's WAL of %lld bytes\n", soc_prog, DB_NAME, (long long)st.st_size);
	else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		warning("cannot checkpoint %s: %s", DB_NAME, sql_errmsg(sdb));
}

long long store_head(struct sql *db)
{
	struct sql_stmt *st = store_stmt_get(db, STORE_STMT_HEAD, "SELECT value FROM meta WHERE key='head'");
	long long head = -1;

	if (!st)
		return -1;
	if (sql_step(st) == SQL_ROW)
		head = sql_column_int64(st, 0);
	store_stmt_put(db, st);
	return head;
}

int store_history(struct sql *db, char out[HISTORY_HEX_LEN + 1])
{
	struct sql_stmt *st = NULL;
	const char *v;
	int rc = -1;

	out[0] = '\0';
	if (!(st = sql_prepare(db, "SELECT value FROM meta WHERE key='history'", 0)))
		return -1;
	if (sql_step(st) == SQL_ROW && (v = sql_column_text(st, 0)) &&
	    history_id_valid(v)) {
		memcpy(out, v, HISTORY_HEX_LEN + 1);
		rc = 0;
	}
	sql_finalize(st);
	return rc;
}

/*
 * Inside one read transaction, so begin's head and the rows agree: the
 * rows of files changed after since, up to the head, by path; since=0
 * leaves deletes out. A cursor, so memory does not grow with the files.
 */
int store_changes_each(struct sql *db, long long since,
		       int (*begin)(long long head, const char *history, void *arg),
		       int (*row)(const struct store_file *f, void *arg), void *arg)
{
	struct sql_stmt *st = NULL;
	char history[HISTORY_HEX_LEN + 1];
	long long head;
	int rc, ret = 1;

	if (store_read_begin(db))
		return -1;
	head = store_head(db);
	if (store_history(db, history))
		head = -1;
	st = sql_prepare(db, since ? "SELECT path, sha256, size, mtime, mode, rev, target FROM files "
				     "WHERE rev > ? AND rev <= ? ORDER BY path"
				   : "SELECT path, sha256, size, mtime, mode, rev, target FROM files "
				     "WHERE rev > ? AND rev <= ? AND sha256 IS NOT NULL ORDER BY path", 0);
	if (!st || head < 0) {
		sql_finalize(st);
		store_read_end(db);
		return -1;
	}
	sql_bind_int64(st, 1, since);
	sql_bind_int64(st, 2, head);
	if (begin(head, history, arg))
		goto out;
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct store_file f = {
			.path = sql_column_text(st, 0),
			.hash = sql_column_text(st, 1),
			.size = sql_column_int64(st, 2),
			.mtime = sql_column_int64(st, 3),
			.mode = sql_column_int(st, 4),
			.rev = sql_column_int64(st, 5),
			.target = sql_column_text(st, 6),
		};

		if (row(&f, arg))
			goto out;
	}
	if (rc != SQL_DONE)
		error("database: %s", sql_errmsg(db));
	else
		ret = 0;
out:
	sql_finalize(st);
	store_read_end(db);
	return ret;
}

int store_log_each(struct sql *db, long long limit, void (*row)(const struct store_rev *r, void *arg), void *arg)
{
	struct sql_stmt *st = NULL;
	int rc;

	if (!(st = sql_prepare(db, "SELECT rev, time, token, client, adds, mods, dels FROM revs "
			       "WHERE rev <= (SELECT CAST(value AS BIGINT) FROM meta WHERE key='head') "
			       "ORDER BY rev DESC LIMIT ?", 0)))
		return -1;
	sql_bind_int64(st, 1, limit);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct store_rev r = {
			.rev = sql_column_int64(st, 0),
			.time = sql_column_int64(st, 1),
			.token = sql_column_text(st, 2),
			.client = sql_column_text(st, 3),
			.adds = sql_column_int64(st, 4),
			.mods = sql_column_int64(st, 5),
			.dels = sql_column_int64(st, 6),
		};

		row(&r, arg);
	}
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : -1;
}

int store_head_each(struct sql *db, void (*row)(const struct store_file *f, void *arg), void *arg)
{
	struct sql_stmt *st;
	int rc;

	if (!(st = sql_prepare(db, "SELECT path, sha256, size FROM files WHERE sha256 IS NOT NULL "
			       "AND target IS NULL ORDER BY path", 0)))
		return -1;
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct store_file f = {
			.path = sql_column_text(st, 0),
			.hash = sql_column_text(st, 1),
			.size = sql_column_int64(st, 2),
		};

		row(&f, arg);
	}
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : -1;
}

struct store_lookup {
	struct sql_stmt *st;
};

struct store_lookup *store_lookup_open(struct sql *db)
{
	struct store_lookup *q = xcalloc(1, sizeof(*q));

	if (!(q->st = sql_prepare(db, "SELECT 1 FROM files WHERE path = ? AND sha256 IS NOT NULL AND target IS NULL",
				  0))) {
		free(q);
		return NULL;
	}
	return q;
}

int store_lookup_in_head(struct store_lookup *q, const char *path)
{
	int found;

	sql_bind_text(q->st, 1, path, -1);
	found = sql_step(q->st) == SQL_ROW;
	sql_reset(q->st);
	return found;
}

void store_lookup_close(struct store_lookup *q)
{
	if (!q)
		return;
	sql_finalize(q->st);
	free(q);
}

/* PostgreSQL's default would give each statement its own snapshot. */
int store_read_begin(struct sql *db)
{
	return sql_exec(db, SQL_TEXT(db, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
}

void store_read_end(struct sql *db)
{
	sql_exec(db, "ROLLBACK");
}

/*
 * SQLite has one writer; on PostgreSQL a lock every writer takes makes
 * it so, on every node, and each statement after it sees every write
 * committed before it.
 */
int store_write_begin(struct sql *db)
{
	if (!sql_exec(db, SQL_TEXT(db, "BEGIN IMMEDIATE", "BEGIN; SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_WRITE ")")))
		return 0;
	/* A lock not taken leaves PostgreSQL's transaction open, failed: the caller only returns. */
	if (sql_in_txn(db))
		sql_exec(db, "ROLLBACK");
	return -1;
}

int store_write_commit(struct sql *db)
{
	if (!sql_exec(db, "COMMIT"))
		return 0;
	sql_exec(db, "ROLLBACK");
	return -1;
}

void store_write_abort(struct sql *db)
{
	sql_exec(db, "ROLLBACK");
}

int store_schema(struct sql *db)
{
	return sql_exec(db, SQL_TEXT(db, schema, schema_pg));
}

/*
 * A file of the root rsync or SQLite would create with the umask's mode
 * (0644), made first as 0600: SQLite gives soc.db's mode to its -wal and
 * -shm, rsync appends to a log that exists.
 */
static int make_private_file(struct server *s, const char *name)
{
	int fd = openat(s->root_fd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_errno("cannot create '%s/%s'", s->root, name);
	close(fd);
	return 0;
}

/*
 * Every rsync the server runs appends to rsyncd.log, which nothing else
 * trims: past RSYNC_LOG_MAX it becomes rsyncd.log.1, the one before
 * going, so the root never fills up with it and the log a message
 * points at stays short enough to read. An rsync still running writes
 * on into the old file; the next one opens a new one.
 */
void store_rotate_log(struct server *s)
{
	struct stat st;

	if (fstatat(s->root_fd, RSYNC_LOG, &st, AT_SYMLINK_NOFOLLOW) || st.st_size < RSYNC_LOG_MAX)
		return;
	if (renameat(s->root_fd, RSYNC_LOG, s->root_fd, RSYNC_LOG ".1")) {
		warning_errno("cannot rotate '%s/" RSYNC_LOG "'", s->root);
		return;
	}
	make_private_file(s, RSYNC_LOG);
	fprintf(stderr, "%s: '%s/" RSYNC_LOG "' passed %d MiB; it is now '" RSYNC_LOG ".1'\n",
		soc_prog, s->root, RSYNC_LOG_MAX >> 20);
}

/* DATA/name (the root's, or a cluster's blob directory), made if missing when create. */
static int open_dir(struct server *s, const char *name, int create)
{
	int fd;

	if (create && mkdirat(s->data_fd, name, 0700) && errno != EEXIST)
		return error_errno("cannot create '%s/%s'", s->data, name);
	fd = openat(s->data_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s/%s'", s->data, name);
	return fd;
}

/*
 * The server owns its root: soc.db, its -wal and -shm, the configs. A
 * token or check command run by root on a root that belongs to another
 * user (the server's own) becomes that user before it opens soc.db, so
 * that nothing it makes there (SQLite's -wal and -shm above all) is
 * root's, which the server could then no longer open. setgroups, setgid
 * and setuid, all ids at once, so nothing of root is left to go back to.
 */
static int become_owner(const char *root, const struct stat *st)
{
	gid_t gid = st->st_gid;
	struct passwd *pw = getpwuid(st->st_uid);
	char name[LOGIN_NAME_MAX + 3];

	if (pw && strlen(pw->pw_name) < sizeof(name) - 2)
		snprintf(name, sizeof(name), "'%s'", pw->pw_name);
	else
		snprintf(name, sizeof(name), "uid %u", (unsigned)st->st_uid);
	if (setgroups(1, &gid) || setgid(st->st_gid) || setuid(st->st_uid))
		return error_errno("cannot become %s, the owner of '%s'", name, root);
	if (getuid() != st->st_uid || geteuid() != st->st_uid || getegid() != st->st_gid)
		return error("cannot become %s, the owner of '%s'", name, root);
	say("running as %s (uid %u, gid %u), the owner of '%s'\n", name, (unsigned)st->st_uid,
	    (unsigned)st->st_gid, root);
	return 0;
}

int store_enter(const char *root)
{
	struct stat st;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return error("no soc server root at '%s'; start 'soc serve --root %s' once to create it",
			     root, root);
	if (fd < 0)
		return error_errno("cannot open the root '%s'", root);
	if ((fstatat(fd, DB_NAME, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode)) &&
	    (fstatat(fd, DB_CONNINFO_FILE, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))) {
		int e = errno;

		close(fd);
		if (e == EACCES)
			return errno = e, error_errno("cannot read the root '%s'", root);
		return error("'%s' is not a soc server root (no " DB_NAME "); start 'soc serve --root %s'"
			     " once to create it", root, root);
	}
	if (fstat(fd, &st)) {
		error_errno("cannot read the root '%s'", root);
		close(fd);
		return -1;
	}
	close(fd);
	if (geteuid() || !st.st_uid)
		return 0;
	return become_owner(root, &st);
}

/*
 * soc.db holds every token's name and every path ever pushed, admin.token
 * a token, the configs and the log the root's layout: none of it is other
 * users' business. A root made by an older soc (0755, soc.db 0644), or
 * loosened by hand, is tightened at each start, one line for each thing,
 * so whoever runs the server learns it was open. One that cannot be
 * tightened is refused: the server does not run on a root others read.
 */
static const char *const private_files[] = {
	DB_NAME, DB_NAME "-wal", DB_NAME "-shm", DB_CONNINFO_FILE, BLOBS_DIR_FILE, ADMIN_TOKEN_FILE, "rsyncd.conf",
	"rsyncd-ro.conf",
	RSYNC_LOG, RSYNC_LOG ".1",
};

static int tighten(struct server *s)
{
	struct stat st;
	size_t i;

	if (fstat(s->root_fd, &st))
		return error_errno("cannot read the root '%s'", s->root);
	if (st.st_mode & 077) {
		if (fchmod(s->root_fd, 0700))
			return error_errno("'%s' is open to other users (%04o) and cannot be made 0700",
					   s->root, (unsigned)(st.st_mode & 07777));
		fprintf(stderr, "%s: '%s' was open to other users (%04o); it is now 0700\n", soc_prog,
			s->root, (unsigned)(st.st_mode & 07777));
	}
	for (i = 0; i < sizeof(private_files) / sizeof(private_files[0]); i++) {
		const char *name = private_files[i];
		int fd;

		if (fstatat(s->root_fd, name, &st, AT_SYMLINK_NOFOLLOW)) {
			if (errno == ENOENT)
				continue;
			return error_errno("cannot read '%s/%s'", s->root, name);
		}
		if (!S_ISREG(st.st_mode) || !(st.st_mode & 077))
			continue;
		fd = openat(s->root_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fchmod(fd, 0600)) {
			error_errno("'%s/%s' is open to other users (%04o) and cannot be made 0600", s->root,
				    name, (unsigned)(st.st_mode & 07777));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		fprintf(stderr, "%s: '%s/%s' was open to other users (%04o); it is now 0600\n", soc_prog,
			s->root, name, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

int store_open(struct server *s, const char *root, int create)
{
	struct sql *db;
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->root_fd = s->files_fd = s->staging_fd = s->commit_fd = s->trash_fd = s->versions_fd = s->lock_fd = -1;
	s->data_fd = s->views_fd = -1;
	if (create && mkdir(root, 0700) && errno != EEXIST)
		return error_errno("cannot create '%s'", root);
	s->root = realpath(root, NULL);
	if (!s->root)
		return error_errno("cannot open the root '%s'", root);
	s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return error_errno("cannot open the root '%s'", s->root);
	if (create && store_lock(s))
		return -1;
	free(db_path);
	free(db_conninfo);
	db_path = NULL;
	if (store_bind(s, create, &db_conninfo) || store_bind_blobs(s, create, db_conninfo != NULL))
		return -1;
	if (!create && !db_conninfo && fstatat(s->root_fd, DB_NAME, &st, AT_SYMLINK_NOFOLLOW))
		return error("'%s' is not a soc server root (no %s)", s->root, DB_NAME);
	if (create && (tighten(s) || (!db_conninfo && make_private_file(s, DB_NAME)) ||
		       make_private_file(s, RSYNC_LOG)))
		return -1;
	if ((!s->cluster && (s->files_fd = open_dir(s, "files", create)) < 0) ||
	    (s->staging_fd = open_dir(s, "staging", create)) < 0 ||
	    (s->cluster && create && (s->views_fd = open_dir(s, VIEWS_DIR, create)) < 0))
		return -1;
	/* Only the server itself needs it: check and the token commands leave it alone. */
	if (create && ((s->commit_fd = open_dir(s, "commit", create)) < 0 ||
		       (s->trash_fd = open_dir(s, "trash", create)) < 0 ||
		       (s->versions_fd = open_dir(s, VERSIONS_DIR, create)) < 0))
		return -1;
	/* check and gc read it when a start has made it. */
	if (!create && (s->versions_fd = openat(s->data_fd, VERSIONS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						O_CLOEXEC)) < 0 && errno != ENOENT)
		return error_errno("cannot open '%s/" VERSIONS_DIR "'", s->data);
	pthread_mutex_init(&s->apply_lock, NULL);
	if (!db_conninfo)
		db_path = xasprintf("%s/%s", s->root, DB_NAME);
	db = store_db(s);
	if (!db)
		return -1;
	if ((!db_conninfo && store_upgrade(sql_sqlite(db), s->files_fd)) || store_schema(db) ||
	    store_bind_check(s, db, create))
		return -1;
	s->rsyncd_conf = xasprintf("%s/rsyncd.conf", s->root);
	s->rsyncd_ro_conf = xasprintf("%s/rsyncd-ro.conf", s->root);
	if (create && tunnel_write_confs(s))
		return -1;
	return 0;
}

void store_close(struct server *s)
{
	struct conn *c;

	pthread_once(&db_key_once, db_key_make);
	c = pthread_getspecific(db_key);
	if (c) {
		conn_free(c);
		pthread_setspecific(db_key, NULL);
	}
	if (s->root_fd >= 0)
		close(s->root_fd);
	if (s->files_fd >= 0)
		close(s->files_fd);
	if (s->data_fd >= 0)
		close(s->data_fd);
	if (s->views_fd >= 0)
		close(s->views_fd);
	if (s->staging_fd >= 0)
		close(s->staging_fd);
	if (s->commit_fd >= 0)
		close(s->commit_fd);
	if (s->trash_fd >= 0)
		close(s->trash_fd);
	if (s->versions_fd >= 0)
		close(s->versions_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->root);
	free(s->data);
	free(s->rsyncd_conf);
	free(s->rsyncd_ro_conf);
	free(db_path);
	free(db_conninfo);
	db_path = db_conninfo = NULL;
	s->root = s->data = NULL;
}
