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

#include "soc.h"

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
};

/* Finds .soc/ from the current directory up, locks, reads the config, opens the index. */
int workspace_open(struct workspace **ws);
void workspace_close(struct workspace *ws);

/*
 * One tracked file as the index knows it. md5 is the content last seen by
 * a scan; base is the content last synced with the server ("" if never):
 * the three-way pull and the per-path push check both turn on base.
 */
struct entry {
	char *path;		/* relative to the root, '/'-separated */
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t ino;
	unsigned mode;		/* 0644 or 0755: only the executable bit travels */
	char md5[MD5_HEX_LEN + 1];
	char base[MD5_HEX_LEN + 1];
	int conflict;		/* a pull left a conflict copy beside it */
};

enum change {
	CH_NONE = 0,
	CH_ADDED,		/* tracked, present, never synced */
	CH_MODIFIED,		/* present, md5 != base */
	CH_DELETED,		/* synced once, now missing or soc rm'd */
	CH_CONFLICT,		/* conflict flag set */
};

struct scan_item {
	struct entry e;		/* the state now (for a deleted file: as last recorded) */
	enum change change;
	int present;		/* the file exists on disk now */
};

struct scan_result {
	struct scan_item *items;	/* sorted by path (bytewise) */
	size_t n;
};

/*
 * Stats every tracked file and every file under a tracked root, hashes
 * only where size/mtime/ctime/inode differ or the entry is racy, and
 * updates the index in one transaction, only if something changed.
 * Every tracked path appears in the result, changed or not.
 */
int scan_workspace(struct workspace *ws, struct scan_result *out);
void scan_result_free(struct scan_result *r);


/*
 * ---- db.c: the index (.soc/index.db) ----
 * Every function returns 0, or -1 after one message. A command that writes
 * wraps its writes in index_begin/index_commit (one transaction per
 * command); outside one, each call is its own transaction.
 */
int index_begin(struct workspace *ws);
int index_commit(struct workspace *ws);
void index_rollback(struct workspace *ws);
/* Inserts or replaces every field of the entry for e->path: the file is tracked from now on. */
int index_record(struct workspace *ws, const struct entry *e);
/* The content last synced with the server; "" means never synced (a new file). */
int index_set_base(struct workspace *ws, const char *path, const char *md5);
int index_set_conflict(struct workspace *ws, const char *path, int on);
/* Forgets the path: neither tracked nor synced (after its delete was pushed or pulled). */
int index_drop(struct workspace *ws, const char *path);
/* The last server revision pulled, 0 if never. */
long long index_pulled_rev(struct workspace *ws);
int index_set_pulled_rev(struct workspace *ws, long long rev);
/*
 * The first tracked root (a directory given to soc add) that held synced
 * files and under which the scan now finds none present: an unmounted
 * drive. NULL if none. The string lives as long as ws.
 */
const char *index_emptied_root(struct workspace *ws, const struct scan_result *scan);


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
/* 1 for a name soc never tracks whatever .socignore says: .soc, conflict copies. */
int ignore_always(const char *name, size_t len);

#endif
