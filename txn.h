/*
 * txn.h: what the files of push transactions share: txn.c (the states,
 * the endpoints, recovery and housekeeping), txn_db.c (their rows in
 * soc.db), txn_files.c (their files in staging/, commit/, files/) and
 * the others each section below names.
 */
#ifndef TXN_H
#define TXN_H

#include "serve.h"

#define SYNC_EACH_MAX 64		/* files a commit fsyncs one by one; more: one syncfs (txn_check.c) */

/* ---- txn_db.c: every statement a push runs ---- */

struct txn_row {
	char token[TOKEN_NAME_MAX + 1];
	char token_hash[TOKEN_HASH_HEX + 1];	/* "" for a txn whose token was gone at the upgrade */
	char state[16];		/* open, committing, applying, done */
	long long rev;		/* 0 until recorded */
};

/* 1 and *t when the txn exists, 0 when not, -1 on a database error. */
int txn_get(struct sql *db, const char *id, struct txn_row *t);
/* Moves a txn from state from to state to: 1 if it was in from, 0 if not, -1 on error. */
int txn_move(struct sql *db, const char *id, const char *from, const char *to);
/* Deletes a txn's rows, if in state (NULL: any); how many txns went (0 or 1), -1 on error. */
int txn_delete_rows(struct sql *db, const char *id, const char *state);
/* Writes a new open txn of who and its items. Run it inside a transaction. */
int txn_insert(struct sql *db, const char *id, const struct caller *who, const struct push_list *l);
/* A txn_items row's sha256: NULL for a delete, '' for a later one until its record (txn_record). */
static inline const char *txn_item_sha256(const struct push_item *it)
{
	return it->later || *it->hash ? it->hash : NULL;
}

/* A txn_items row's base: NULL when the push says the head lacks the path. */
static inline const char *txn_item_base(const struct push_item *it)
{
	return *it->base ? it->base : NULL;
}

/* ---- txn_items_lite.c: a push_list as the SQLite table push_items(L) ---- */

#define PUSH_ITEMS_POINTER "soc_push_list"	/* the type sqlite3_bind_pointer gives L */
struct sqlite3;
/* Registers push_items on an SQLite connection: 0, or -1. */
int txn_items_lite(struct sqlite3 *lite);

/* Keeps id's items (just written or loaded) for its next txn_items_load; *l is emptied. */
void txn_items_keep(const char *id, struct push_list *l);
/* A txn's items, sorted by path: the kept ones when id's are, else its rows. */
int txn_items_load(struct sql *db, const char *id, struct push_list *l);
/* ---- txn_head.c: the head's rows of a push's paths, read at once on PostgreSQL ---- */
struct head_rows;
/*
 * The rows txn_drop_landed and txn_head_check ask of l's paths, read in
 * a few statements, or none when the head is empty; NULL on SQLite
 * otherwise (they ask row by row there), or with *failed set after a
 * message. Read it inside their transaction.
 */
struct head_rows *head_rows_read(struct sql *db, const struct push_list *l, int *failed);
/* 1 when h was read from an empty head: no path has a source either. */
int head_rows_empty(const struct head_rows *h);
/* 1 and the sha256 and mode of path's first len bytes when the head has it with content, else 0. */
int head_rows_get(const struct head_rows *h, const char *path, size_t len, char hash[HASH_HEX_LEN + 1],
		  unsigned *mode);
/* 1 when the head holds a file under path/ (its rows are then asked of the database). */
int head_rows_dir(const struct head_rows *h, const char *path);
void head_rows_free(struct head_rows *h);

/*
 * Drops from the push every change the head already holds: a file with
 * the same sha256 and mode, a delete of a path the head lacks. A client
 * killed after its commit landed but before it heard so pushes the same
 * changes again with the old bases; they are done, not conflicts, and
 * nothing is overwritten by taking them as done. How many, or -1. Run it
 * inside the transaction that checks the rest.
 */
long txn_drop_landed(struct sql *db, struct push_list *l, const struct head_rows *h);
/*
 * Checks a push against the head: each path's base is what the head holds
 * (none when base is empty) and its base_mode, when given, the head's mode
 * of it; no directory of a new file is a file in the
 * head, and no new file's path is a directory in the head, unless this
 * push deletes what is in the way. Each path that fails goes into moved.
 * How many failed, or -1 on a database error. Run it inside a transaction.
 */
long txn_head_check(struct sql *db, const struct push_list *l, json_t *moved, const struct head_rows *h);
/*
 * For each item, a head path holding content of its sha256 and size (owned),
 * or NULL; the array has l->n entries. NULL on a database error. Free with
 * txn_sources_free.
 */
char **txn_sources(struct sql *db, const struct push_list *l);
void txn_sources_free(char **src, size_t n);
/*
 * Commit step 2, under apply_lock: checks the bases again and writes the
 * revision, its changes and the state 'applying' in one transaction. The
 * new revision, 0 when bases moved (they are in moved), -1 on error. A
 * cluster node (node, its id) publishes the revision in that same
 * transaction (steps 2 and 4 in one; it has no files/), and only while
 * the txn is still its own.
 */
long long txn_record(struct sql *db, const char *id, const char *token, const struct push_list *l,
		     json_t *moved, const char *node);
/*
 * A record whose answer was lost with its connection (PostgreSQL failed
 * over or restarted) may have committed. The client would not know, and
 * its next push of those files would meet its own revision as someone
 * else's. So the database is asked again, connecting again, for up to
 * RECORD_OUTCOME_MS: the revision when the txn was recorded (applying,
 * or on a cluster done), else -1.
 */
#define RECORD_OUTCOME_MS 15000
#define RECORD_RETRY_MS 200		/* between the tries */
long long txn_record_outcome(struct sql *db, const char *id);
/* Commit step 4: the files rows, the head and the state 'done', in one transaction. */
int txn_publish(struct sql *db, const char *id, long long rev, const struct push_list *l);
/* The first txn in state, lowest revision first: 1 and its id and rev, 0 when none, -1 on error. */
int txn_first(struct sql *db, const char *state, char id[TXN_ID_LEN + 1], long long *rev);

struct txn_old {
	char id[TXN_ID_LEN + 1];
	int open;		/* else done */
};
/* Txns open or done that began before the time before, in *old (free it); how many, or -1. */
long txn_expired(struct sql *db, long long before, struct txn_old **old);

/* ---- txn_sweep.c: directories without their txn ---- */

/*
 * Removes every entry of dir (staging/ or commit/, named by what) whose
 * txn is not in one of the states keep names ("open committing", say).
 * A txn's row is written before its directory is made and removed after,
 * so an entry listed here and then found without its row is a stray.
 */
void txn_sweep(struct sql *db, int dir, const char *what, const char *keep);
/*
 * Removes what a commit left in trash/ (it removes its own after its
 * answer) older than age seconds: a crash, or rsync still writing there.
 */
void txn_empty_trash(struct server *s, time_t age);

/* ---- txn_files.c: a push's files ---- */

/* commit/<txn>/, made if missing: an fd, or -1 after a message. */
int txn_commit_dir(struct server *s, const char *id);

/*
 * Makes staging/<txn>/ and links into it what the server holds already:
 * sources[i] (content the push need not upload), else the head's version
 * of the path (rsync's delta basis). up[i] is set to 1 for each item
 * still to send, 0 for the rest.
 */
int txn_stage(struct server *s, const char *id, const struct push_list *l, char *const *sources,
	      unsigned char *up);
/*
 * Before commit step 2: no path of the push leads through a symlink or a
 * special file that someone else planted in files/ (its apply would fail
 * once the revision is recorded, and so would every later commit). How
 * many do (in bad, each logged), or -1.
 */
long txn_check_targets(struct server *s, const struct push_list *l, json_t *bad);
/* Commit step 3, idempotent: deletes, then renames into files/; pause_ms between steps (a test hook). */
int txn_apply_files(struct server *s, const char *id, const struct push_list *l, long pause_ms);

/* ---- stage_follow.c: big staged files hashed while rsync writes them ---- */

struct stage_follow;
struct stat;
/* After txn_stage: follows the big changed files of l still to send (up[i]), if any. */
void stage_follow_begin(struct server *s, const char *id, const struct push_list *l, const unsigned char *up);
/* At the commit: id's digests, their files read to the end (NULL when none); free with stage_follow_free. */
struct stage_follow *stage_follow_end(const char *id);
/*
 * 1 and hex when f hashed the whole of the inode st describes, else 0;
 * also 0 when that digest rests on an earlier version's kept states and
 * is not want, the push's sha256: the caller hashes the file itself.
 */
int stage_follow_digest(struct stage_follow *f, const struct stat *st, const char *want,
			char hex[HASH_HEX_LEN + 1]);
/* Keeps the states of each file whose digest was want, for its next edit, and frees f. */
void stage_follow_free(struct stage_follow *f);
/* A push gone without a commit (abort, expiry): its thread stopped, its files let go. */
void stage_follow_drop(const char *id);

/* ---- txn_check.c: commit step 1, on every core ---- */

/*
 * Commit step 1: staged files checked, given their modes and mtimes,
 * linked into commit/<txn>/ and into versions/, and made durable; how
 * many failed (in bad), or -1 and errno. The caller holds versions_lock.
 */
long txn_check_staged(struct server *s, const char *id, const struct push_list *l, json_t *bad);

#endif
