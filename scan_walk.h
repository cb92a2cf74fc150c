/*
 * scan_walk.h: what scan.c (stat, hash, write back) and scan_walk.c (the
 * walk and the join) share: the state of one scan and the walk's entry
 * points. Private to the scanner; the rest of soc sees client.h.
 */
#ifndef SCAN_WALK_H
#define SCAN_WALK_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "client.h"

#define SCAN_THREADS_MAX 16	/* threads that walk and hash; fewer if fewer cores */

struct stat_now {
	uint64_t size, ino;
	int64_t mtime_ns, ctime_ns;
	unsigned mode;
};

enum { ROW_UNSEEN, ROW_FILE, ROW_GONE };

/* What this scan learnt of one index row. */
struct row_state {
	struct stat_now st;
	unsigned char state;
	unsigned char hashed;	/* hashed now: st is the stat before the read */
	unsigned char new_hash;	/* and the content differs from the row's */
	unsigned char racy;	/* the mark to record */
	unsigned char later;	/* moved, big and synced: left for the push to read (scan_workspace_later) */
};

/* A regular file a walk met before the rows were loaded, or a new one. */
struct found {
	const char *path;
	size_t len;
	struct stat_now st;
	int pending;		/* met before the rows were loaded: the join decides */
	int ok;			/* new, and hashed */
	int racy;
	char hash[HASH_HEX_LEN + 1];
};

struct task {
	const char *path;	/* "" for the workspace root */
	size_t len;
	int recursive;
};

struct scan;

struct worker {
	struct scan *sc;
	struct arena mem;
	struct found *found;	/* every regular file its walk met */
	size_t nfound, capfound;
	struct task *sub;	/* subdirectories met in the directory being read */
	size_t nsub, capsub;
};

struct scan {
	struct workspace *ws;
	struct index_snapshot snap;
	struct row_state *rs;
	struct ignore ig;
	struct task *tasks;	/* the roots to walk, none inside another's walk */
	size_t ntasks;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct task *queue;
	size_t qlen, qcap;
	int busy;

	size_t *todo;		/* rows to look at one by one, or to hash */
	size_t ntodo, next;
	struct found **fnd;	/* the join's files, then the new ones (sorted) to hash */
	size_t nfnd, nextf;

	int rows_ready;		/* rows and rs are there: the walk looks files up itself */
	int rows_loaded;	/* the load ended, well or not (under mu): no walker waits */
	int nthreads;
	struct worker w[SCAN_THREADS_MAX];
};

static inline void stat_copy(struct stat_now *d, const struct stat *st)
{
	d->size = (uint64_t)st->st_size;
	d->ino = (uint64_t)st->st_ino;
	d->mtime_ns = mtime_ns(&st->st_mtim);
	d->ctime_ns = mtime_ns(&st->st_ctim);
	d->mode = mode_of(st->st_mode);
}

static inline int stat_same(const struct stat_now *a, const struct entry *e)
{
	return a->size == e->size && a->ino == e->ino && a->mtime_ns == e->mtime_ns &&
	       a->ctime_ns == e->ctime_ns && a->mode == e->mode;
}

static inline void stat_to_entry(struct entry *e, const struct stat_now *s)
{
	e->size = s->size;
	e->ino = s->ino;
	e->mtime_ns = s->mtime_ns;
	e->ctime_ns = s->ctime_ns;
	e->mode = s->mode;
}

static inline const char *kind_of(mode_t m)
{
	if (S_ISLNK(m))
		return "symbolic link";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "device";
	return "special file";
}

/* Roots inside the walk of a recursive root are walked by it, not again. */
void scan_plan_tasks(struct scan *sc);

/* A file the index tracks and a walk would find again if it came back (not one added by name). */
int scan_discoverable(const struct scan *sc, const char *path);

/*
 * Each file met before the rows were there goes to its row, or stays new
 * unless ignored or excluded. A chunk's files come mostly a directory at
 * a time, so the run of rows found for one serves the next.
 */
void *scan_join_worker(void *arg);

/*
 * 2. The walk on the other threads while this one loads the rows and
 * then joins it. Files met before the rows are there wait for the join;
 * after, each walker looks them up itself.
 */
int scan_walk_and_load(struct scan *sc);

#endif
