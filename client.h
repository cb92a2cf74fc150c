/*
 * client.h: what the client-side files share: the workspace (workspace.c),
 * the index (db.c), the scanner (scan.c), .socignore (ignore.c), and the
 * commands built on them.
 *
 * Data flows one way: scan (stat, hash) -> index (SQLite) -> wire -> rsync
 * -> commit. Commands call down; nothing calls up into a cmd_*.c.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "soc.h"

/*
 * ---- link.c: a symlink as soc keeps it, its target string its content ----
 * dirfd/name is never followed: each call works on the link itself.
 * buf holds LINK_TARGET_MAX + 1 bytes.
 */

/*
 * The target of the link dirfd/name in buf, NUL-terminated, its length in
 * *len: 0, or -1 and errno (EINVAL: not a link; ENAMETOOLONG: longer than
 * LINK_TARGET_MAX; EILSEQ: not UTF-8, which no change line can carry).
 */
int link_read(int dirfd, const char *name, char *buf, size_t *len);
/* The sha256 of the link's target and its length: what names it on the wire. 0, or -1 and errno. */
int link_hash(int dirfd, const char *name, char hash[HASH_HEX_LEN + 1], uint64_t *len);
/*
 * A new link dirfd/name to target, given mtime (seconds, as a change line
 * has it) as its own mtime. 0, or -1 and errno (EEXIST when the name is taken).
 */
int link_make(int dirfd, const char *name, const char *target, long long mtime);
/* Why link_read failed, for a message: errno's words, or soc's own for EILSEQ and ENAMETOOLONG. */
const char *link_error(int err);

/* ---- arena.c: strings kept until one call frees them all ---- */

struct arena_block;
struct arena {
	struct arena_block *head;
};
#define ARENA_INIT { NULL }
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Moves every string of from into to; from is empty afterwards. */
void arena_take(struct arena *to, struct arena *from);
void arena_free(struct arena *a);

#define WORKSPACE_DIR ".soc"
#define LOCK_WAIT_MS 3000	/* a second soc in one workspace waits this long */

struct sqlite3;

struct workspace {
	char *root;		/* absolute path of the directory holding .soc/ */
	char *prefix;		/* the current directory relative to root, "" or "a/b/" */
	int lock_fd;		/* .soc/lock, flock'd while the command runs */
	struct sqlite3 *db;	/* .soc/index.db */
	char *remote;		/* from .soc/config, NULL if none */
	char *token;		/* SOC_TOKEN, else .soc/config; NULL if none */
	char *cacert;		/* .soc/config's CA for https, absolute; NULL if none (net.c checks it) */
	struct session *session;	/* a NEED_REMOTE command's server, soc.c's (sync.h) */

	/* The rest is private to workspace.c, db.c and scan.c. */
	int root_fd;		/* the root, O_DIRECTORY, for *at() calls beneath it */
	int64_t stamp_ns;	/* the racy stamp of this command's scan, 0 before one (scan.c) */
	struct index_priv *ip;	/* db.c's statements, transaction depth, roots */
};

/* Finds .soc/ from the current directory up, locks, reads the config, opens the index. */
int workspace_open(struct workspace **ws);
void workspace_close(struct workspace *ws);

/*
 * One tracked file as the index knows it. sha256 and mode are what a scan
 * last saw; base and base_mode what was last synced with the server (""
 * if never): the three-way pull and the per-path push check turn on them.
 */
/*
 * A sha256 as its 32 bytes, or none: an entry keeps two, and a million
 * entries kept them as hex in 130 MB where these take 66.
 */
struct digest {
	uint8_t b[HASH_RAW_LEN];
	uint8_t set;
};

static inline int digest_eq(const struct digest *a, const struct digest *b)
{
	return a->set == b->set && (!a->set || !memcmp(a->b, b->b, HASH_RAW_LEN));
}
/* From hex; "" (or anything not a sha256) is none. */
void digest_from_hex(struct digest *d, const char *hex);
/* As hex; none is "". */
void digest_hex(const struct digest *d, char hex[HASH_HEX_LEN + 1]);
/* 1 when d is the sha256 hex names. */
int digest_is(const struct digest *d, const char *hex);

struct entry {
	char *path;		/* relative to the root, '/'-separated */
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t ino;
	unsigned mode;		/* 0644 or 0755: only the executable bit travels */
	unsigned base_mode;	/* the mode last synced; 0 when never synced */
	int conflict;		/* a pull left a conflict copy beside it */
	struct digest hash;	/* the content now; none for a file never read */
	struct digest base;	/* the content last synced; none when never synced (a new file) */
};

/* The mode soc keeps for what a stat saw: a link's, or the executable bit alone. */
static inline unsigned mode_of(mode_t st_mode)
{
	return S_ISLNK(st_mode) ? MODE_LINK : (st_mode & 0111) ? 0755 : 0644;
}

enum change {
	CH_NONE = 0,
	CH_ADDED,		/* tracked, present, never synced */
	CH_MODIFIED,		/* present, sha256 != base */
	CH_DELETED,		/* synced once, now missing or soc rm'd */
	CH_CONFLICT,		/* conflict flag set */
};

struct scan_item {
	struct entry e;		/* the state now (for a deleted file: as last recorded) */
	enum change change;
	unsigned char present;	/* the file exists on disk now (0 once soc rm'd: no longer ours to read) */
	unsigned char later;	/* M, not read: e.hash is still the index's (scan_workspace_later) */
};

struct scan_result {
	struct scan_item *items;	/* sorted by path (bytewise) */
	size_t n;
	struct arena mem;		/* the paths (arena.c) */
};

/*
 * Stats every tracked file and every file under a tracked root, hashes
 * only where size/mtime/ctime/inode differ or the entry is racy, and
 * updates the index in one transaction, only if something changed.
 * Every tracked path appears in the result, changed or not; a file never
 * synced that is gone is dropped from the index if a root's walk would
 * find it again, else kept as CH_NONE, not present (added by name: it is
 * tracked again the moment it comes back). Inside index_begin/commit the
 * scan's writes join that transaction.
 */
int scan_workspace(struct workspace *ws, struct scan_result *out);
/*
 * The same for a push that hashes while it sends: a synced regular file
 * of later_min bytes or more whose stat moved is not read, but taken as
 * modified (later set, e's stat the one seen now, its index row left as
 * it was); at most SCAN_LATER_MAX of them. 0 reads every file.
 */
#define SCAN_LATER_MAX 64
int scan_workspace_later(struct workspace *ws, struct scan_result *out, uint64_t later_min);
void scan_result_free(struct scan_result *r);
/* The item of a tracked path, or NULL. */
struct scan_item *scan_result_find(const struct scan_result *r, const char *path);


/*
 * ---- db.c: the index (.soc/index.db) ----
 * Every function returns 0, or -1 after one message. A command that writes
 * wraps its writes in index_begin/index_commit (one transaction per
 * command); outside one, each call is its own transaction.
 */
int index_begin(struct workspace *ws);
int index_commit(struct workspace *ws);
void index_rollback(struct workspace *ws);
/*
 * Inserts or replaces every field of the entry for e->path: the file is
 * tracked from now on (not removed), and racy if its mtime is not older
 * than this command's scan stamp (scan.c explains).
 */
int index_record(struct workspace *ws, const struct entry *e);
/* The content and mode last synced with the server; "" means never synced (a new file). */
int index_set_base(struct workspace *ws, const char *path, const char *hash, unsigned mode);
int index_set_conflict(struct workspace *ws, const char *path, int on);
/* The server holds path at sha256 (our base) with mode: that is its synced mode. */
int index_set_base_mode(struct workspace *ws, const char *path, const char *hash, unsigned mode);
/*
 * 1 while the synced modes are the guess an upgrade from version 1 made
 * (db.c says why), 0 once the server has been asked; -1 after a message.
 */
int index_modes_guessed(struct workspace *ws);
int index_set_modes_known(struct workspace *ws);
/* Forgets the path: neither tracked nor synced (after its delete was pushed or pulled). */
int index_drop(struct workspace *ws, const char *path);
/* The last server revision pulled, 0 if never. */
long long index_pulled_rev(struct workspace *ws);
int index_set_pulled_rev(struct workspace *ws, long long rev);
/* The history id of the server that revision came from, "" if none was recorded. */
int index_history(struct workspace *ws, char out[HISTORY_HEX_LEN + 1]);
int index_set_history(struct workspace *ws, const char *id);
/* A text kept under key: 1 and *out filled, 0 when none was set (out empty), -1 after a message. */
int index_text(struct workspace *ws, const char *key, struct buf *out);
int index_set_text(struct workspace *ws, const char *key, const char *value, size_t len);
/* soc pull --resync: every base forgotten (never synced), a soc rm not yet pushed with it. */
int index_forget_bases(struct workspace *ws);
/*
 * db_pieces.c: a big file's pieces as its last push hashed them, for the
 * next (a cache of a few files). get: none (p->n 0) when there are none
 * or they cannot be read; put: p->n 0 drops them.
 */
void index_pieces_get(struct workspace *ws, const char *path, struct pieces *p);
/* db.c's and db_pieces.c's message for a failed statement: -1, after "index '...': what: sqlite's". */
int index_db_error(struct workspace *ws, const char *what);
int index_pieces_put(struct workspace *ws, const char *path, const struct pieces *p);
/*
 * The first tracked root (a directory given to soc add) that held synced
 * files and under which the scan now finds none present: an unmounted
 * drive. NULL if none. The string lives as long as ws.
 */
const char *index_emptied_root(struct workspace *ws, const struct scan_result *scan);

/*
 * ---- push and pull: the mass-delete guard ----
 * Mass deletes are how sync tools lose data: an unmounted drive looks like
 * every file deleted. Without --allow-delete, push and pull refuse to
 * delete more than DELETE_GUARD_MIN files when they are more than half of
 * the tracked ones; each says so in its own words.
 */
#define DELETE_GUARD_MIN 10
static inline int delete_guard_trips(size_t deletes, size_t tracked)
{
	return deletes > DELETE_GUARD_MIN && deletes * 2 > tracked;
}

/* ==== Below: what the client's own files share beyond the interface above. ==== */

/* ---- workspace.c ---- */

#define CONFIG_FILE WORKSPACE_DIR "/config"
#define INDEX_FILE WORKSPACE_DIR "/index.db"
#define LOCK_FILE WORKSPACE_DIR "/lock"

/* 1 for an http:// or https:// URL with a host and no space or control byte. */
int remote_url_valid(const char *url);
/*
 * Makes dir (and its parents) a workspace: .soc/, config (0600) with the
 * remote, token and cacert lines when not NULL, index. An exit code.
 */
int workspace_create(const char *dir, const char *remote, const char *token, const char *cacert);
/*
 * The user's argument (relative to the current directory, or absolute)
 * as a path relative to the root, "" for the root itself; lexical, as
 * git's prefix_path. NULL after a message when it leaves the workspace.
 */
char *workspace_path(const struct workspace *ws, const char *arg);
/*
 * openat() beneath the root that follows no symbolic link on the way
 * (beneath_open(), beneath.h): a tracked directory replaced by a link
 * never leads a read or a walk out of the workspace. path "" opens the
 * root. ELOOP when a link is in the way.
 */
int workspace_openat(const struct workspace *ws, const char *path, int flags);

/* ---- cmd_init.c: the token init and clone store ---- */

#define TOKEN_MAX 1024		/* a longer token is refused (soc serve makes 64 hex digits) */

/*
 * 0 when token fits a config line and an HTTP header: 1..TOKEN_MAX bytes
 * of printable ASCII, no space. Else -1 after one line naming from (where
 * it came from, "SOC_TOKEN", say), never the token.
 */
int token_valid(const char *token, const char *from);
/*
 * The first line of path, spaces trimmed, checked by token_valid(); the
 * caller wipes and frees it. NULL after one line when the file cannot be
 * read or holds no such token.
 */
char *token_read_file(const char *path);
/*
 * A CA file named on the command line (--cacert), as the config will
 * hold it: absolute, a readable regular file, no control byte (it
 * becomes one config line). Free it; NULL after one line naming path.
 */
char *cacert_arg(const char *path);

/* ---- db.c: more of the index, for scan, add and rm ---- */

#define INDEX_VERSION 4		/* PRAGMA user_version of an index this soc reads */

/* A new index with its schema (soc init). */
int index_create(const char *path);
int index_open(struct workspace *ws, const char *path);

/* ---- db_hash.c: a digest as the index keeps it (bytes, or '' for none) ---- */

struct sqlite3_stmt;
void index_bind_hash(struct sqlite3_stmt *s, int i, const char *hex);
void index_bind_digest(struct sqlite3_stmt *s, int i, const struct digest *d);
void index_column_digest(struct digest *d, struct sqlite3_stmt *s, int col);

/* ---- db_upgrade.c: an older soc's index brought to INDEX_VERSION in place ---- */

/* Under the workspace lock, from version (1 to 3): 0, or -1 after a message and nothing changed. */
int index_upgrade(struct workspace *ws, int version);
void index_close(struct workspace *ws);

/* A row to write: an entry and the two marks only the index keeps. */
struct index_row {
	struct entry e;
	int racy;	/* recorded while its mtime was not safely older than the scan: hash again */
	int removed;	/* soc rm'd after a sync: shown as D until a push deletes it */
};

enum {
	INDEX_RACY = 1 << 0,
	INDEX_REMOVED = 1 << 1,
};

struct root {
	const char *path;	/* a directory given to soc add; "" is the root itself */
	int recursive;
};
/* 1 when path (a file) lies where a tracked root's walk looks. */
int root_covers(const struct root *roots, size_t nroots, const char *path);

/*
 * The index in memory. Rows are loaded straight into scan items, so that
 * a scan hands the same array back as its result (100,000 rows are 13 MB).
 */
struct index_snapshot {
	struct scan_item *rows;		/* e as recorded, sorted bytewise by path */
	unsigned char *flags;		/* INDEX_RACY, INDEX_REMOVED, per row */
	size_t n;
	struct root *roots;		/* sorted */
	size_t nroots;
	const char **excluded;		/* soc rm'd under a root: never picked up again; sorted */
	size_t nexcluded;
	struct arena mem;		/* every path above */
};

/* The whole index in three queries; snap need not be initialised. */
int index_load(struct workspace *ws, struct index_snapshot *snap);
/*
 * The two parts of index_load, so a scan can walk while the rows load:
 * the first zeroes snap (and frees it on failure), the second adds the
 * rows (the caller frees snap on failure).
 */
int index_load_roots(struct workspace *ws, struct index_snapshot *snap);
int index_load_files(struct workspace *ws, struct index_snapshot *snap);
void index_snapshot_free(struct index_snapshot *snap);
/* Inserts or replaces a row as the scanner saw it. */
int index_write_row(struct workspace *ws, const struct index_row *r);
/* soc add FILE: tracked (a new row waits for the scan to hash it), in no conflict, not removed. */
int index_add_file(struct workspace *ws, const char *path);
/* soc add DIR: a tracked root (never made less recursive); rows under it un-removed and resolved. */
int index_add_root(struct workspace *ws, const char *path, int recursive);
/*
 * soc pull brought a file into the top-level directory dir: dir is tracked
 * (recursively) from now on, as it is where the file came from, so files
 * created in it here are pushed too. A root the user made is left as it is.
 */
int index_pulled_root(struct workspace *ws, const char *dir);
/*
 * soc rm PATH: rows at or under path are dropped if never synced, else
 * marked removed; roots at or under it are forgotten; with exclude the
 * path is remembered so that a root above it never picks it up again.
 * The counts of dropped and removed rows.
 */
int index_remove(struct workspace *ws, const char *path, int exclude,
		 size_t *dropped, size_t *removed);
/*
 * The racy stamp: the filesystem's own "now", read by setting the lock
 * file's mtime and reading it back, so it has the clock and granularity
 * the files' mtimes have (scan.c explains the rule). Falls back to the
 * system clock less two seconds if the lock file cannot be touched.
 */
int64_t index_stamp(struct workspace *ws);

/* ---- ignore.c: .socignore, gitignore-style; pure, no I/O ---- */

#define IGNORE_FILE ".socignore"
#define IGNORE_FILE_MAX (1024 * 1024)	/* a bigger .socignore is refused */

struct ignore_rule;
struct ignore {
	struct ignore_rule *v;
	size_t n, cap;
};

/* Parses the text of a .socignore; never fails (a line it cannot use matches nothing). */
void ignore_parse(struct ignore *ig, const char *text, size_t len);
void ignore_free(struct ignore *ig);
/* 1 when the rules ignore this path itself (its parents not looked at: a walk prunes them). */
int ignore_match(const struct ignore *ig, const char *path, size_t len, int is_dir);
/* 1 when the path or any directory above it is ignored, as git decides it. */
int ignore_path(const struct ignore *ig, const char *path, size_t len, int is_dir);
/*
 * The same by the rules alone, ignore_always() aside: what another machine
 * pushed, a conflict copy it chose to track included, a pull may take.
 */
int ignore_path_rules(const struct ignore *ig, const char *path, size_t len, int is_dir);
/* 1 for a name soc never tracks whatever .socignore says: .soc, conflict copies. */
int ignore_always(const char *name, size_t len);
/*
 * The workspace's .socignore parsed into ig (zeroed before), its text in
 * text (empty when there is none). 0, or -1 after a message (scan.c).
 */
int ignore_load(struct workspace *ws, struct ignore *ig, struct buf *text);

/* ---- scan.c ---- */

/* Files hashed by scans in this process, so a test can see that nothing was. */
unsigned long scan_hash_count(void);
/* For tests: 1 sends every file the walk meets through the join, as if the rows loaded last. */
extern int scan_join_all;
/* Files a walker keeps for the join before it waits for the rows (SCAN_PENDING_MAX); tests lower it. */
extern size_t scan_pending_max;

/* ---- quote.c: paths shown to people and scripts ---- */

/* Appends p, in double quotes with C escapes as git's status does when it holds a space, '"', '\\', a control or non-ASCII byte. */
void quote_path(struct buf *out, const char *p, size_t len);
/* p with the escapes quote_path makes, unquoted (messages put it in '...'); valid until the 4th next call in this thread. */
const char *show_path(const char *p);

#endif
