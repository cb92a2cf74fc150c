/*
 * db.c: the index, .soc/index.db, the only client file that speaks SQLite.
 *
 * files: one row per tracked path, as the last scan saw it (stat fields,
 * mode and sha256) and as last synced (base, "" for never, and base_mode);
 * racy marks a row to hash again, removed a path soc rm'd whose delete a
 * push still has to send. roots: the directories given to soc add.
 * excluded: paths soc rm'd under a root, which its walk must not pick up
 * again. state: the last revision pulled; state_text: the server's history
 * id that revision belongs to (text: the state column is an INTEGER).
 *
 * The journal is SQLite's default rollback journal, not WAL: one soc at a
 * time holds the workspace lock, so WAL's concurrent readers buy nothing,
 * and a reader in WAL mode writes to the -shm file, where a status of an
 * unchanged tree must leave every byte of the index as it was.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client.h"

#define RACY_FALLBACK_NS (2 * 1000000000LL)	/* FAT's 2 s mtime granularity */

static const char schema[] =
	"CREATE TABLE files ("
	" path TEXT PRIMARY KEY NOT NULL,"
	" size INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL,"
	" ctime_ns INTEGER NOT NULL,"
	" ino INTEGER NOT NULL,"
	" mode INTEGER NOT NULL,"
	" sha256 NOT NULL,"
	" base NOT NULL DEFAULT '',"
	" base_mode INTEGER NOT NULL DEFAULT 0,"
	" conflict INTEGER NOT NULL DEFAULT 0,"
	" racy INTEGER NOT NULL DEFAULT 0,"
	" removed INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE roots (path TEXT PRIMARY KEY NOT NULL, recursive INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE excluded (path TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE state (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE state_text (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;";

/* At or under ?1 ("" is everything): ?2 is ?1 + "/", ?3 is ?1 + "0", the byte after '/'. */
#define UNDER(col) "(?1 = '' OR " col " = ?1 OR (" col " >= ?2 AND " col " < ?3))"
/* What a root at ?1 covers: with ?4 any depth, else the files directly in it. */
#define COVERED "(" UNDER("path") " AND (?4 OR instr(substr(path, length(?1) + (?1 <> '') + 1), '/') = 0))"

enum stmt {
	S_LOAD_FILES, S_LOAD_ROOTS, S_LOAD_EXCLUDED,
	S_WRITE_ROW, S_SET_BASE, S_SET_CONFLICT, S_DROP,
	S_GET_STATE, S_SET_STATE, S_SET_BASE_MODE, S_GET_TEXT, S_SET_TEXT,
	S_RESOLVE_FILE, S_NEW_FILE, S_UNEXCLUDE_ONE,
	S_ADD_ROOT, S_RESOLVE_UNDER, S_UNEXCLUDE_UNDER, S_PULLED_ROOT,
	S_DROP_UNDER, S_REMOVE_UNDER, S_FORGET_ROOTS, S_EXCLUDE,
	NSTMT
};

static const char *const sql[NSTMT] = {
	[S_LOAD_FILES] = "SELECT path, size, mtime_ns, ctime_ns, ino, mode, sha256, base, conflict, racy, removed,"
			 " base_mode FROM files ORDER BY path",
	[S_LOAD_ROOTS] = "SELECT path, recursive FROM roots ORDER BY path",
	[S_LOAD_EXCLUDED] = "SELECT path FROM excluded ORDER BY path",
	[S_WRITE_ROW] = "INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, ino, mode, sha256, base,"
			" conflict, racy, removed, base_mode) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_SET_BASE] = "UPDATE files SET base = ?2, base_mode = ?3 WHERE path = ?1",
	[S_SET_CONFLICT] = "UPDATE files SET conflict = ?2 WHERE path = ?1",
	[S_SET_BASE_MODE] = "UPDATE files SET base_mode = ?3 WHERE path = ?1 AND base = ?2 AND base_mode <> ?3",
	[S_DROP] = "DELETE FROM files WHERE path = ?1",
	[S_GET_STATE] = "SELECT value FROM state WHERE key = ?1",
	[S_SET_STATE] = "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT (key)"
			" DO UPDATE SET value = excluded.value WHERE value <> excluded.value",
	[S_GET_TEXT] = "SELECT value FROM state_text WHERE key = ?1",
	[S_SET_TEXT] = "INSERT OR REPLACE INTO state_text (key, value) VALUES (?1, ?2)",
	[S_RESOLVE_FILE] = "UPDATE files SET removed = 0, conflict = 0 WHERE path = ?1",
	/* Size -1 matches no file: the scan that follows hashes it. */
	[S_NEW_FILE] = "INSERT OR IGNORE INTO files (path, size, mtime_ns, ctime_ns, ino, mode, sha256)"
		       " VALUES (?1, -1, 0, 0, 0, 420, '')",
	[S_UNEXCLUDE_ONE] = "DELETE FROM excluded WHERE path = ?1",
	/* A root the user made stays as made; a new one is recursive, as the pushing side's. */
	[S_PULLED_ROOT] = "INSERT OR IGNORE INTO roots (path, recursive) VALUES (?1, 1)",
	[S_ADD_ROOT] = "INSERT INTO roots (path, recursive) VALUES (?1, ?4) ON CONFLICT (path)"
		       " DO UPDATE SET recursive = max(recursive, excluded.recursive)",
	[S_RESOLVE_UNDER] = "UPDATE files SET removed = 0, conflict = 0 WHERE " COVERED
			    " AND (removed OR conflict)",
	[S_UNEXCLUDE_UNDER] = "DELETE FROM excluded WHERE " UNDER("path"),
	[S_DROP_UNDER] = "DELETE FROM files WHERE " UNDER("path") " AND base = ''",
	[S_REMOVE_UNDER] = "UPDATE files SET removed = 1, conflict = 0 WHERE " UNDER("path") " AND NOT removed",
	[S_FORGET_ROOTS] = "DELETE FROM roots WHERE " UNDER("path"),
	[S_EXCLUDE] = "INSERT OR IGNORE INTO excluded (path) VALUES (?1)",
};

struct index_priv {
	sqlite3_stmt *st[NSTMT];
	int depth;		/* index_begin nesting: the outermost pair is the transaction */
	int rolled_back;	/* an inner rollback ended the transaction early */
	char *emptied;		/* index_emptied_root's answer */
};

int index_db_error(struct workspace *ws, const char *what)
{
	return error("index '%s/" INDEX_FILE "': %s: %s", ws->root, what, sqlite3_errmsg(ws->db));
}

static sqlite3_stmt *stmt(struct workspace *ws, enum stmt k)
{
	sqlite3_stmt **s = &ws->ip->st[k];

	if (*s) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
		return *s;
	}
	if (sqlite3_prepare_v3(ws->db, sql[k], -1, SQLITE_PREPARE_PERSISTENT, s, NULL) != SQLITE_OK) {
		index_db_error(ws, "cannot prepare a statement");
		*s = NULL;
	}
	return *s;
}

/* Runs a statement that returns no rows; 0 or -1 after a message. */
static int run(struct workspace *ws, sqlite3_stmt *s, const char *what)
{
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return index_db_error(ws, what);
	return 0;
}

static int exec(struct workspace *ws, const char *q)
{
	if (sqlite3_exec(ws->db, q, NULL, NULL, NULL) != SQLITE_OK)
		return index_db_error(ws, q);
	return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

/* ?1 path, ?2 path + "/", ?3 path + "0": the bounds of everything under it. */
static sqlite3_stmt *stmt_under(struct workspace *ws, enum stmt k, const char *path, char **lo, char **hi)
{
	sqlite3_stmt *s = stmt(ws, k);

	*lo = xasprintf("%s/", path);
	*hi = xasprintf("%s0", path);
	if (s) {
		bind_text(s, 1, path);
		bind_text(s, 2, *lo);
		bind_text(s, 3, *hi);
	}
	return s;
}

int index_create(const char *path)
{
	sqlite3 *db;
	char *q;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
	    != SQLITE_OK) {
		error("cannot create the index '%s': %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	q = xasprintf("BEGIN; %s PRAGMA user_version = %d; COMMIT;", schema, INDEX_VERSION);
	rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		error("cannot create the index '%s': %s", path, sqlite3_errmsg(db));
	free(q);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

int index_open(struct workspace *ws, const char *path)
{
	sqlite3_stmt *s;
	int version = -1;

	ws->ip = xcalloc(1, sizeof(*ws->ip));
	if (sqlite3_open_v2(path, &ws->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		error("cannot open the index '%s': %s", path, ws->db ? sqlite3_errmsg(ws->db) : "out of memory");
		return -1;
	}
	if (sqlite3_prepare_v2(ws->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return index_db_error(ws, "cannot read its version");
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version >= 1 && version < INDEX_VERSION) {
		if (index_upgrade(ws, version))
			return -1;
		version = INDEX_VERSION;
	}
	if (version != INDEX_VERSION)
		return error("the index '%s' has version %d; this soc reads version %d",
			     path, version, INDEX_VERSION);
	return 0;
}

void index_close(struct workspace *ws)
{
	if (ws->ip) {
		if (ws->ip->depth && ws->db)
			exec(ws, "ROLLBACK");
		for (int i = 0; i < NSTMT; i++)
			sqlite3_finalize(ws->ip->st[i]);
		free(ws->ip->emptied);
		free(ws->ip);
		ws->ip = NULL;
	}
	if (ws->db)
		sqlite3_close(ws->db);
	ws->db = NULL;
}

int index_begin(struct workspace *ws)
{
	if (ws->ip->depth++)
		return 0;
	ws->ip->rolled_back = 0;
	/* IMMEDIATE: the write lock now, not halfway through the command. */
	if (exec(ws, "BEGIN IMMEDIATE")) {
		ws->ip->depth = 0;
		return -1;
	}
	return 0;
}

int index_commit(struct workspace *ws)
{
	if (!ws->ip->depth)
		return ws->ip->rolled_back ? error("the index change was rolled back") : 0;
	if (--ws->ip->depth)
		return 0;
	if (exec(ws, "COMMIT")) {
		exec(ws, "ROLLBACK");
		return -1;
	}
	return 0;
}

void index_rollback(struct workspace *ws)
{
	if (!ws->ip->depth)
		return;
	exec(ws, "ROLLBACK");
	ws->ip->depth = 0;
	ws->ip->rolled_back = 1;
}

static int load_files(struct workspace *ws, struct index_snapshot *snap)
{
	sqlite3_stmt *s = stmt(ws, S_LOAD_FILES);
	size_t cap = 0;
	int rc;

	if (!s)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct entry *e;

		if (snap->n == cap) {
			cap = cap ? 2 * cap : 1024;
			snap->rows = xrealloc(snap->rows, cap * sizeof(*snap->rows));
			snap->flags = xrealloc(snap->flags, cap);
		}
		memset(&snap->rows[snap->n], 0, sizeof(*snap->rows));
		e = &snap->rows[snap->n].e;
		e->path = arena_strndup(&snap->mem, (const char *)sqlite3_column_text(s, 0),
					(size_t)sqlite3_column_bytes(s, 0));
		e->size = (uint64_t)sqlite3_column_int64(s, 1);
		e->mtime_ns = sqlite3_column_int64(s, 2);
		e->ctime_ns = sqlite3_column_int64(s, 3);
		e->ino = (uint64_t)sqlite3_column_int64(s, 4);
		e->mode = (unsigned)sqlite3_column_int(s, 5);
		index_column_digest(&e->hash, s, 6);
		index_column_digest(&e->base, s, 7);
		e->conflict = sqlite3_column_int(s, 8);
		snap->flags[snap->n++] = (unsigned char)((sqlite3_column_int(s, 9) ? INDEX_RACY : 0) |
							 (sqlite3_column_int(s, 10) ? INDEX_REMOVED : 0));
		e->base_mode = (unsigned)sqlite3_column_int(s, 11);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : index_db_error(ws, "cannot read its files");
}

static int load_roots(struct workspace *ws, struct index_snapshot *snap)
{
	sqlite3_stmt *s = stmt(ws, S_LOAD_ROOTS);
	size_t cap = 0;
	int rc;

	if (!s)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (snap->nroots == cap) {
			cap = cap ? 2 * cap : 16;
			snap->roots = xrealloc(snap->roots, cap * sizeof(*snap->roots));
		}
		snap->roots[snap->nroots].path = arena_strndup(&snap->mem, (const char *)sqlite3_column_text(s, 0),
							       (size_t)sqlite3_column_bytes(s, 0));
		snap->roots[snap->nroots++].recursive = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : index_db_error(ws, "cannot read its directories");
}

static int load_excluded(struct workspace *ws, struct index_snapshot *snap)
{
	sqlite3_stmt *s = stmt(ws, S_LOAD_EXCLUDED);
	size_t cap = 0;
	int rc;

	if (!s)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (snap->nexcluded == cap) {
			cap = cap ? 2 * cap : 16;
			snap->excluded = xrealloc(snap->excluded, cap * sizeof(*snap->excluded));
		}
		snap->excluded[snap->nexcluded++] = arena_strndup(&snap->mem, (const char *)sqlite3_column_text(s, 0),
								  (size_t)sqlite3_column_bytes(s, 0));
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : index_db_error(ws, "cannot read its exclusions");
}

int index_load_roots(struct workspace *ws, struct index_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	if (load_roots(ws, snap) || load_excluded(ws, snap)) {
		index_snapshot_free(snap);
		return -1;
	}
	return 0;
}

int index_load_files(struct workspace *ws, struct index_snapshot *snap)
{
	return load_files(ws, snap);
}

int index_load(struct workspace *ws, struct index_snapshot *snap)
{
	if (index_load_roots(ws, snap))
		return -1;
	if (load_files(ws, snap)) {
		index_snapshot_free(snap);
		return -1;
	}
	return 0;
}

void index_snapshot_free(struct index_snapshot *s)
{
	free(s->rows);
	free(s->flags);
	free(s->roots);
	free(s->excluded);
	arena_free(&s->mem);
	memset(s, 0, sizeof(*s));
}

int index_write_row(struct workspace *ws, const struct index_row *r)
{
	sqlite3_stmt *s = stmt(ws, S_WRITE_ROW);

	if (!s)
		return -1;
	bind_text(s, 1, r->e.path);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->e.size);
	sqlite3_bind_int64(s, 3, r->e.mtime_ns);
	sqlite3_bind_int64(s, 4, r->e.ctime_ns);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)r->e.ino);
	sqlite3_bind_int(s, 6, (int)r->e.mode);
	index_bind_digest(s, 7, &r->e.hash);
	index_bind_digest(s, 8, &r->e.base);
	sqlite3_bind_int(s, 9, r->e.conflict);
	sqlite3_bind_int(s, 10, r->racy);
	sqlite3_bind_int(s, 11, r->removed);
	sqlite3_bind_int(s, 12, (int)r->e.base_mode);
	return run(ws, s, "cannot record a file");
}

int index_record(struct workspace *ws, const struct entry *e)
{
	struct index_row r = { *e, 0, 0 };

	/* The caller's stat is newer than the stamp taken before it: racy by the same rule as a scan's. */
	if (!ws->stamp_ns)
		ws->stamp_ns = index_stamp(ws);
	r.racy = e->mtime_ns >= ws->stamp_ns;
	return index_write_row(ws, &r);
}

int index_set_base(struct workspace *ws, const char *path, const char *hash, unsigned mode)
{
	sqlite3_stmt *s = stmt(ws, S_SET_BASE);

	if (!s)
		return -1;
	bind_text(s, 1, path);
	index_bind_hash(s, 2, hash);
	sqlite3_bind_int(s, 3, hash[0] ? (int)mode : 0);
	return run(ws, s, "cannot record a synced file");
}

int index_set_base_mode(struct workspace *ws, const char *path, const char *hash, unsigned mode)
{
	sqlite3_stmt *s = stmt(ws, S_SET_BASE_MODE);

	if (!s)
		return -1;
	bind_text(s, 1, path);
	index_bind_hash(s, 2, hash);
	sqlite3_bind_int(s, 3, (int)mode);
	return run(ws, s, "cannot record a synced mode");
}

/* A value of the state table: *v left as it is when the key has none; -1 after a message. */
static int state_get(struct workspace *ws, const char *key, long long *v, const char *what)
{
	sqlite3_stmt *s = stmt(ws, S_GET_STATE);
	int rc;

	if (!s)
		return -1;
	bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		index_db_error(ws, what);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int state_set(struct workspace *ws, const char *key, long long v, const char *what)
{
	sqlite3_stmt *s = stmt(ws, S_SET_STATE);

	if (!s)
		return -1;
	bind_text(s, 1, key);
	sqlite3_bind_int64(s, 2, v);
	return run(ws, s, what);
}

int index_modes_guessed(struct workspace *ws)
{
	long long v = 0;

	return state_get(ws, "modes_guessed", &v, "cannot read its state") ? -1 : v != 0;
}

int index_set_modes_known(struct workspace *ws)
{
	return state_set(ws, "modes_guessed", 0, "cannot record the synced modes");
}

int index_set_conflict(struct workspace *ws, const char *path, int on)
{
	sqlite3_stmt *s = stmt(ws, S_SET_CONFLICT);

	if (!s)
		return -1;
	bind_text(s, 1, path);
	sqlite3_bind_int(s, 2, !!on);
	return run(ws, s, "cannot record a conflict");
}

int index_drop(struct workspace *ws, const char *path)
{
	sqlite3_stmt *s = stmt(ws, S_DROP);

	if (!s)
		return -1;
	bind_text(s, 1, path);
	return run(ws, s, "cannot forget a file");
}

long long index_pulled_rev(struct workspace *ws)
{
	long long rev = 0;

	/* A failed read says so and counts as never pulled: the pull lists the whole head. */
	state_get(ws, "pulled_rev", &rev, "cannot read the last pulled revision");
	return rev;
}

int index_set_pulled_rev(struct workspace *ws, long long rev)
{
	return state_set(ws, "pulled_rev", rev, "cannot record the pulled revision");
}

/* state_text[key] into out: 1, 0 when none (out empty), -1 after the message what. */
static int text_get(struct workspace *ws, const char *key, struct buf *out, const char *what)
{
	sqlite3_stmt *s = stmt(ws, S_GET_TEXT);
	int rc;

	buf_reset(out);
	if (!s)
		return -1;
	bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		buf_add(out, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
	else if (rc != SQLITE_DONE)
		index_db_error(ws, what);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int text_set(struct workspace *ws, const char *key, const char *value, size_t len, const char *what)
{
	sqlite3_stmt *s = stmt(ws, S_SET_TEXT);

	if (!s)
		return -1;
	bind_text(s, 1, key);
	sqlite3_bind_text(s, 2, len ? value : "", (int)len, SQLITE_STATIC);
	return run(ws, s, what);
}

int index_history(struct workspace *ws, char out[HISTORY_HEX_LEN + 1])
{
	struct buf v = BUF_INIT;
	int rc = text_get(ws, "history", &v, "cannot read the server's history id");

	out[0] = '\0';
	if (rc > 0 && v.len == HISTORY_HEX_LEN && history_id_valid(v.p))
		memcpy(out, v.p, HISTORY_HEX_LEN + 1);
	buf_free(&v);
	return rc < 0 ? -1 : 0;
}

int index_set_history(struct workspace *ws, const char *id)
{
	return text_set(ws, "history", id, strlen(id), "cannot record the server's history id");
}

int index_text(struct workspace *ws, const char *key, struct buf *out)
{
	return text_get(ws, key, out, "cannot read the index");
}

int index_set_text(struct workspace *ws, const char *key, const char *value, size_t len)
{
	return text_set(ws, key, value, len, "cannot write the index");
}

int index_forget_bases(struct workspace *ws)
{
	/* As if never synced; a soc rm not pushed yet goes with its base (the file is no longer ours). */
	return exec(ws, "DELETE FROM files WHERE removed; UPDATE files SET base = '', base_mode = 0 WHERE base <> ''");
}

int index_add_file(struct workspace *ws, const char *path)
{
	sqlite3_stmt *s = stmt(ws, S_RESOLVE_FILE);

	if (!s)
		return -1;
	bind_text(s, 1, path);
	if (run(ws, s, "cannot track a file"))
		return -1;
	if (!sqlite3_changes(ws->db)) {
		if (!(s = stmt(ws, S_NEW_FILE)))
			return -1;
		bind_text(s, 1, path);
		if (run(ws, s, "cannot track a file"))
			return -1;
	}
	if (!(s = stmt(ws, S_UNEXCLUDE_ONE)))
		return -1;
	bind_text(s, 1, path);
	return run(ws, s, "cannot track a file");
}

int index_add_root(struct workspace *ws, const char *path, int recursive)
{
	static const enum stmt steps[] = { S_ADD_ROOT, S_RESOLVE_UNDER, S_UNEXCLUDE_UNDER };
	char *lo = NULL, *hi = NULL;
	int rc = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !rc; i++) {
		sqlite3_stmt *s = stmt_under(ws, steps[i], path, &lo, &hi);

		if (s && steps[i] != S_UNEXCLUDE_UNDER)
			sqlite3_bind_int(s, 4, !!recursive);
		rc = run(ws, s, "cannot track a directory");
		free(lo);
		free(hi);
	}
	return rc;
}

int index_pulled_root(struct workspace *ws, const char *dir)
{
	sqlite3_stmt *s = stmt(ws, S_PULLED_ROOT);

	if (!s)
		return -1;
	bind_text(s, 1, dir);
	return run(ws, s, "cannot track a directory");
}

int index_remove(struct workspace *ws, const char *path, int exclude, size_t *dropped, size_t *removed)
{
	static const enum stmt steps[] = { S_DROP_UNDER, S_REMOVE_UNDER, S_FORGET_ROOTS, S_UNEXCLUDE_UNDER };
	char *lo = NULL, *hi = NULL;
	int rc = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !rc; i++) {
		rc = run(ws, stmt_under(ws, steps[i], path, &lo, &hi), "cannot stop tracking");
		free(lo);
		free(hi);
		if (steps[i] == S_DROP_UNDER)
			*dropped = (size_t)sqlite3_changes(ws->db);
		if (steps[i] == S_REMOVE_UNDER)
			*removed = (size_t)sqlite3_changes(ws->db);
	}
	if (!rc && exclude) {
		sqlite3_stmt *s = stmt(ws, S_EXCLUDE);

		if (!s)
			return -1;
		bind_text(s, 1, path);
		rc = run(ws, s, "cannot stop tracking");
	}
	return rc;
}

const char *index_emptied_root(struct workspace *ws, const struct scan_result *scan)
{
	struct index_snapshot snap = { 0 };
	const char *found = NULL;

	if (load_roots(ws, &snap)) {
		index_snapshot_free(&snap);
		return NULL;
	}
	for (size_t r = 0; r < snap.nroots && !found; r++) {
		const struct root *root = &snap.roots[r];
		size_t synced = 0, present = 0;

		for (size_t i = 0; i < scan->n; i++) {
			const struct scan_item *it = &scan->items[i];

			/* A file where the directory was replaced it: not a directory emptied. */
			if (!root_covers(root, 1, it->e.path) && strcmp(it->e.path, root->path))
				continue;
			synced += it->e.base.set;
			present += it->present;
		}
		if (synced && !present)
			found = root->path[0] ? root->path : ".";
	}
	free(ws->ip->emptied);
	ws->ip->emptied = found ? xstrdup(found) : NULL;
	index_snapshot_free(&snap);
	return ws->ip->emptied;
}

int64_t index_stamp(struct workspace *ws)
{
	struct stat st;
	struct timespec now;

	if (ws->lock_fd >= 0 && !futimens(ws->lock_fd, NULL) && !fstat(ws->lock_fd, &st))
		return mtime_ns(&st.st_mtim);
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - RACY_FALLBACK_NS;
}

int root_covers(const struct root *roots, size_t nroots, const char *path)
{
	for (size_t i = 0; i < nroots; i++) {
		size_t dlen = strlen(roots[i].path);

		if (dlen && (strncmp(path, roots[i].path, dlen) || path[dlen] != '/'))
			continue;
		if (roots[i].recursive || !strchr(path + dlen + (dlen ? 1 : 0), '/'))
			return 1;
	}
	return 0;
}
