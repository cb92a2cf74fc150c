/*
 * pull.h: what the two files of soc pull share: cmd_pull.c (the
 * three-way plan, the downloads and their check) and pull_apply.c
 * (placing the plan in the workspace, durably).
 */
#ifndef PULL_H
#define PULL_H

#include <string.h>

#include "client.h"
#include "sync.h"

#define PULL_SYNC_EACH_MAX 64	/* paths a pull fsyncs one by one; more: one syncfs */
#define INCOMING_DIR WORKSPACE_DIR "/incoming"
#define CONFLICT_COPIES_MAX 100	/* names tried for a copy beside a file (-2, -3, ...) */

enum action {
	A_NONE,		/* nothing to do here */
	A_TAKE,		/* x x y: take y */
	A_RECORD,	/* L == R: record base R */
	A_CONFLICT,	/* x y z, or none y z: keep y, write z beside it */
	A_DELETE,	/* x x gone: delete here */
	A_KEEP_NEW,	/* x y gone: the edit wins over the delete; y becomes new */
	A_RESTORE,	/* x gone y: the edit wins over the delete; restore y */
	A_DROP,		/* x gone gone: forget the path */
	A_BLOCKED,	/* something that is not a file is in the way here: left for a later pull */
	A_MODE,		/* the server's content is our base, its mode is not: merge the mode */
	A_ASIDE,	/* x y gone, and the server made x a directory: y moves to a conflict copy */
};

struct remote_row {
	char *path;
	char hash[HASH_HEX_LEN + 1];	/* "" when deleted */
	int deleted;
	unsigned mode;			/* 0644, 0755 or MODE_LINK */
	uint64_t size;			/* 0 when deleted */
	long long mtime;		/* seconds, as the change line gives it */
	char *target;			/* a link's target (MODE_LINK), else NULL */
};

/*
 * Two versions are the same when their sha256 and their kind are: a link
 * and a file whose bytes are its target are not (modes aside, as git).
 */
static inline int same_version(const struct digest *h1, unsigned m1, const struct digest *h2, unsigned m2)
{
	return digest_eq(h1, h2) && (m1 == MODE_LINK) == (m2 == MODE_LINK);
}

struct plan {
	long long since;		/* the revision the rows start from: 0, the whole head */
	long long head;
	struct remote_row *rows;
	size_t n, cap;
	size_t skipped;			/* the server's rows this pull does not take (pull_select.c) */
	enum action *act;
	struct scan_item **local;	/* the scan's item for each row, or NULL */
	struct scan_item *untracked;	/* files here the index does not track, by row */
	struct buf last_root;		/* the directory track_top_dir() tracked last */
	struct index_snapshot roots;	/* the tracked roots, which a delete never removes */
	unsigned char *got;		/* by row: its download is in incoming/, checked (blob, fetch stream) */
	char *placed[PULL_SYNC_EACH_MAX];	/* the first paths the apply wrote or removed */
	size_t nplaced;			/* how many it did, all told */
};

/* Frees what p holds (cmd_pull.c); p is empty afterwards. soc restore's plan too. */
void plan_free(struct plan *p);

/* ---- pull_select.c: which of the server's paths a pull takes ---- */

struct pull_select {
	char **paths;		/* soc pull PATH...: workspace paths */
	size_t npaths;
	int whole;		/* no path named, or the root: the pull may move its revision */
	struct ignore ig;	/* .socignore now */
	struct buf text;	/* its text */
	int changed;		/* not the text the last whole pull went by */
	struct ignore old;	/* the rules that pull went by, when changed */
};

/*
 * .socignore read, the PATH arguments (argv, n of them) made workspace
 * paths. 0, or an exit code after a message.
 */
int pull_select_open(struct workspace *ws, struct pull_select *sel, char **argv, int n);
void pull_select_free(struct pull_select *sel);
/* 1 when the pull takes the server's change of path (tracked: the index tracks it). */
int pull_select_takes(const struct pull_select *sel, const char *path, int tracked);
/* 1 for a path of the head the last whole pull left out and this one takes (an untracked path). */
int pull_select_unignored(const struct pull_select *sel, const char *path);
/* After a whole pull, inside its index transaction: the .socignore it went by. 0, or -1. */
int pull_select_record(struct workspace *ws, const struct pull_select *sel);

struct counts {
	size_t updated, deleted, conflicts, kept, restored, recorded;
};

/* The rows whose version a pull places. */
static inline int pull_wanted(const struct plan *p, size_t i)
{
	return p->act[i] == A_TAKE || p->act[i] == A_RESTORE || p->act[i] == A_CONFLICT;
}

/* The rows downloaded: a link's target came in its change line. */
static inline int pull_fetched(const struct plan *p, size_t i)
{
	return pull_wanted(p, i) && p->rows[i].mode != MODE_LINK;
}

#define PULL_BLOB_MIN (64 << 20)	/* bytes from which a file with no basis here comes by GET blob */

/*
 * The downloads that come by GET blob, hashed as they arrive: a big file
 * with nothing here for rsync to take a delta from would be written by
 * rsync and then read whole again by pull_verify.
 */
static inline int pull_by_blob(const struct plan *p, size_t i)
{
	return pull_fetched(p, i) && p->rows[i].size >= PULL_BLOB_MIN && !(p->local[i] && p->local[i]->present);
}

/* The rows left for rsync: downloads that neither GET blob nor the fetch stream brought. */
static inline int pull_by_rsync(const struct plan *p, size_t i)
{
	return pull_fetched(p, i) && !pull_by_blob(p, i) && !(p->got && p->got[i]);
}

/* ---- pull_fetch.c: the downloads, into incoming/ ---- */
/*
 * incoming/, made if missing and marked for its directories to spread
 * (beneath_spread()): its fd, or -1 after a message.
 */
int pull_open_incoming(int root);

/*
 * row's content by GET blob into a new file name in dir, checked as it
 * arrives (blob_get); as_pulled: with the row's x bit and mtime, as rsync
 * leaves a download. 0, or an exit code after one message.
 */
int pull_blob_at(struct net *net, int dir, const char *name, const struct remote_row *row, int as_pulled);
/* Downloads the rows the plan wants into incoming/; 0, RSYNC_REMOTE or -1 (said). */
int pull_fetch(struct workspace *ws, struct net *net, int root, const struct remote *r, struct plan *p);
/* 1 when some download by rsync is missing or not the sha256 listed: a push landed meanwhile. */
int pull_verify(int inc, const struct plan *p);
/* The links the plan places, made in incoming/ (*inc opened if need be). 0, or -1 after a message. */
int pull_make_links(int root, int *inc, const struct plan *p);

/* ---- pull_stream.c ---- */

/*
 * The rows by_stream() takes, by POST fetch into inc (incoming/), each
 * checked as it is written, p->got set for those kept; the rest are
 * rsync's. Two connections at once: net, and one more to r. 0 (also
 * from a server without the stream), RSYNC_REMOTE or -1 (said).
 */
int pull_stream(struct net *net, const struct remote *r, int root, int inc, struct plan *p, struct progress *pg);

/* ---- pull_apply.c: the plan placed in the workspace ---- */

/*
 * A path the server has that is here but not tracked: hash it so the table
 * can tell "same content" from "conflict" (none y z). Symlinks and
 * directories in the way are refused. 0 with out->present 0 when nothing
 * is there, 0 and *out filled when a file is, -1 after a message.
 */
int pull_look_untracked(struct workspace *ws, int root, const char *path, struct scan_item *out);
/*
 * Places every row of p under root (the workspace) from inc (incoming/,
 * -1 when nothing was downloaded) and records it in the index, inside the
 * caller's index transaction; c counts what it did. 0, or 1 when some
 * path was not placed (said), which the next pull tries again.
 */
int pull_apply(struct workspace *ws, int root, int inc, struct plan *p, struct counts *c);

/* ---- pull_durable.c ---- */

/*
 * What the apply did is on disk before the index says so: each path it
 * placed fsync'd with the directories above it, or one syncfs(2) when
 * there were many. 0, or -1 after a message.
 */
int pull_make_durable(int root, const struct plan *p);
/* Leftovers of a pull that was killed are of no use: downloads are redone. */
void pull_clear_incoming(struct workspace *ws);

/* ---- pull_apply.c: its placing rules, which restore_apply.c follows too ---- */

/* The apply wrote, renamed or removed path: pull_make_durable() will sync it. */
void note_placed(struct plan *p, const char *path);
/* "a/b.txt" -> "a/b.WORD-rREV.txt", the k-th try past the first "a/b.WORD-rREV-k.txt"; free it. */
char *conflict_name(const char *path, const char *word, long long rev, int k);
/*
 * The directory holding path under dirfd, through no symlink; *base its
 * last component. create 1 makes what is missing, MAKE_SPREAD marks each
 * directory it makes with beneath_spread() too (incoming/'s, never the
 * workspace's). The fd, or -1 after a message; without create, a missing
 * directory is -1, errno ENOENT, no message.
 */
#define MAKE_SPREAD 2
int open_parent(int dirfd, const char *path, const char **base, int create);
/*
 * open_parent() for paths in order, keeping the last directory open: rows
 * come sorted, so a directory of 100 files is opened once, not 100 times.
 * The fd is the cache's (do not close it); dir_at_close() closes it, and
 * must be called before anything renames or removes a directory. Without
 * create it says nothing: -1 and errno (a missing directory, a link).
 */
struct dir_at {
	struct buf dir;		/* the directory fd is, relative to the root it was opened under */
	int fd;			/* -1 when none */
};
#define DIR_AT_INIT { BUF_INIT, -1 }
int dir_at_open(struct dir_at *d, int dirfd, const char *path, const char **base, int create);
void dir_at_close(struct dir_at *d);
/* parent/base is still exactly what the scan saw in it (absent stays absent). */
int unchanged_since_scan(int parent, const char *base, const struct scan_item *it);
/* dirfd/path (show in messages) gets the executable bit of mode, as rsync's --executability. */
int set_exec(int dirfd, const char *path, const char *show, unsigned mode);
/* *e for parent/base as it is now, hash as its content and its base, synced_mode its base_mode. */
int entry_from_stat(int parent, const char *base, const char *path, const char *hash,
		    unsigned synced_mode, struct entry *e);
/* from/fname renamed to dir/name unless something is there: 1 renamed, 0 taken, -1 and errno. */
int rename_new(int from, const char *fname, int dir, const char *name);
/* A file new here: its top-level directory is tracked from now on (index_pulled_root). */
int track_top_dir(struct workspace *ws, struct plan *p, const char *path);

/* ---- restore_apply.c: soc restore's plan placed in the workspace ---- */

/*
 * Each row of p whose act is A_TAKE (its old version downloaded to inc,
 * at its path) or A_RECORD (that content is here already) placed as a
 * local change, with the version's mode; a file in the way with changes
 * not pushed is first renamed to NAME.restore-rREV.EXT (said). p->local
 * holds the tracked file of each row, p->untracked an untracked one.
 * Inside the caller's index transaction; 0, or 1 when some path was not
 * placed (said).
 */
int restore_apply(struct workspace *ws, int root, int inc, struct plan *p, long long rev,
		  struct counts *c);

#endif
