/*
 * scan.c: change detection (DESIGN.md section 4). Walks every tracked
 * root and stats every tracked file, hashes only what may have changed,
 * and records what it saw in the index, in one transaction and only when
 * something differs.
 *
 * How a scan runs, as git status runs:
 *  1. The roots, the exclusions and .socignore, which say where to walk.
 *  2. The walk (scan_walk.c), on every core: threads take directories from one queue,
 *     read them with readdir and fstatat() relative to the directory's
 *     descriptor (no path lookup per file), and push the subdirectories
 *     back. Meanwhile this thread loads the index rows (one query), then
 *     joins the walk. Each regular file goes to its row with its stat
 *     (found by binary search in its directory's run of sorted rows), or,
 *     if the index does not know it and neither .socignore nor a soc rm
 *     says no, is new.
 *  3. The join: files the walk met before the rows were loaded go where
 *     the walk would have sent them.
 *  4. Tracked files the walk did not meet (files added one by one, files
 *     gone) are looked at one by one, never through a symbolic link.
 *  5. Hashing: a row whose size, mtime, ctime or inode differ from the
 *     index, a racy row (below), and every new file are hashed on all
 *     threads, streamed through hash_fd().
 *  6. The result, sorted by path, in the array the rows were loaded into;
 *     the index is written only if a row changed.
 *
 * The racy rule. An index row says "this file had this size and mtime,
 * and then this content". It is only worth trusting if a later change to
 * the file is bound to change its mtime. File times come from a clock
 * with a coarse tick (jiffies on Linux, a second or two on some
 * filesystems), so a file written, scanned and written again within one
 * tick keeps its size and mtime and still holds new content: a scan would
 * miss that edit forever. git calls such entries "racily clean" and
 * compares each entry's mtime with the time the index was written. soc
 * does the same with a stamp taken at the start of every scan, before
 * the first stat: the lock file's mtime, set to "now" by the filesystem
 * itself, so the stamp has the same clock and the same tick as the files.
 * A file whose mtime is not older than the stamp may change again within
 * its own tick after we looked at it; its row is marked racy and it is
 * hashed again at the next scan, whatever its stat says. Once a scan's
 * stamp has passed the file's mtime, the row is written once more without
 * the mark, and from then on an unchanged file costs one fstatat() and
 * nothing else. A file that changes while being hashed (its stat before
 * and after the read differ) is marked racy the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan_walk.h"

#define SCAN_SERIAL_MAX 64	/* fewer lookups or hashes than this run on one thread */

static unsigned long hashed;	/* files hashed by this process, for the tests */

unsigned long scan_hash_count(void)
{
	return __atomic_load_n(&hashed, __ATOMIC_RELAXED);
}

/* A tracked file the walk did not meet, looked at by its path. */
static void look_one(struct scan *sc, size_t i)
{
	const char *path = sc->snap.rows[i].e.path;
	struct row_state *s = &sc->rs[i];
	struct stat st;
	int fd = workspace_openat(sc->ws, path, O_PATH | O_NOFOLLOW);

	s->state = ROW_GONE;
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			warning_errno("cannot look at '%s'", show_path(path));
		return;
	}
	if (fstat(fd, &st))
		warning_errno("cannot look at '%s'", show_path(path));
	else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		stat_copy(&s->st, &st);
		s->state = ROW_FILE;
	} else if (!S_ISDIR(st.st_mode) && !scan_discoverable(sc, path)) {
		/*
		 * (A walk that met it has said so already.) A directory in a
		 * file's place is the file gone: its files are tracked by theirs.
		 */
		warning("skipping %s '%s': soc tracks regular files and symlinks only", kind_of(st.st_mode),
			show_path(path));
	}
	close(fd);
}

/*
 * A link's content: its target, read through a descriptor of the link
 * itself. The stat is the one the read followed; a target is set once, so
 * no read races a write. 0 ok, 1 gone, -1 unreadable (said).
 */
static int hash_link(struct scan *sc, const char *path, struct stat_now *st, char hash[HASH_HEX_LEN + 1])
{
	int fd = workspace_openat(sc->ws, path, O_PATH | O_NOFOLLOW);
	struct stat sb;
	uint64_t n;
	int rc = 0;

	if (fd < 0)
		return 1;	/* a directory on the way is a link now: gone, as for a file */
	if (fstat(fd, &sb) || !S_ISLNK(sb.st_mode)) {
		close(fd);
		return 1;
	}
	if (link_hash(fd, "", hash, &n)) {
		warning("skipping the symlink '%s': %s", show_path(path), link_error(errno));
		rc = -1;
	}
	close(fd);
	__atomic_add_fetch(&hashed, 1, __ATOMIC_RELAXED);
	if (!rc)
		stat_copy(st, &sb);
	return rc;
}

/* sha256 of path; 0 ok, 1 gone, -1 unreadable (said). *racy when it changed while read. */
static int hash_one(struct scan *sc, const char *path, struct stat_now *st, char hash[HASH_HEX_LEN + 1], int *racy)
{
	struct stat before, after;
	uint64_t n = 0;
	int fd = workspace_openat(sc->ws, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	int rc = 0;

	if (fd < 0) {
		if (errno == ELOOP)
			return hash_link(sc, path, st, hash);
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		warning_errno("cannot read '%s'", show_path(path));
		return -1;
	}
	if (fstat(fd, &before) || !S_ISREG(before.st_mode)) {
		close(fd);
		return 1;
	}
	if (hash_fd(fd, hash, &n) || fstat(fd, &after)) {
		warning_errno("cannot read '%s'", show_path(path));
		rc = -1;
	}
	close(fd);
	__atomic_add_fetch(&hashed, 1, __ATOMIC_RELAXED);
	if (rc)
		return rc;
	stat_copy(st, &before);
	*racy = n != (uint64_t)before.st_size || after.st_size != before.st_size ||
		after.st_mtim.tv_sec != before.st_mtim.tv_sec || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
		after.st_ctim.tv_sec != before.st_ctim.tv_sec || after.st_ctim.tv_nsec != before.st_ctim.tv_nsec;
	return 0;
}

static void *look_worker(void *arg)
{
	struct scan *sc = ((struct worker *)arg)->sc;
	size_t i;

	while ((i = __atomic_fetch_add(&sc->next, 1, __ATOMIC_RELAXED)) < sc->ntodo)
		look_one(sc, sc->todo[i]);
	return NULL;
}

static void *hash_worker(void *arg)
{
	struct scan *sc = ((struct worker *)arg)->sc;
	size_t i;

	while ((i = __atomic_fetch_add(&sc->next, 1, __ATOMIC_RELAXED)) < sc->ntodo) {
		struct entry *e = &sc->snap.rows[sc->todo[i]].e;
		struct row_state *s = &sc->rs[sc->todo[i]];
		char hash[HASH_HEX_LEN + 1];
		int racy = 0, rc = hash_one(sc, e->path, &s->st, hash, &racy);
		struct digest d;

		if (rc > 0)
			s->state = ROW_GONE;
		s->hashed = rc == 0;
		s->racy = racy;
		digest_from_hex(&d, rc == 0 ? hash : "");
		s->new_hash = rc == 0 && !digest_eq(&e->hash, &d);
		if (s->new_hash)
			e->hash = d;
	}
	while ((i = __atomic_fetch_add(&sc->nextf, 1, __ATOMIC_RELAXED)) < sc->nfnd) {
		struct found *f = sc->fnd[i];

		f->ok = hash_one(sc, f->path, &f->st, f->hash, &f->racy) == 0;
	}
	return NULL;
}

/* Runs fn on up to nthreads threads, this one among them. */
static void run_threads(struct scan *sc, void *(*fn)(void *), size_t jobs)
{
	pthread_t t[SCAN_THREADS_MAX];
	int started[SCAN_THREADS_MAX] = { 0 };
	int n = jobs < SCAN_SERIAL_MAX ? 1 : sc->nthreads;

	for (int i = 1; i < n; i++)
		started[i] = !pthread_create(&t[i], NULL, fn, &sc->w[i]);
	fn(&sc->w[0]);
	for (int i = 1; i < n; i++)
		if (started[i])
			pthread_join(t[i], NULL);
}

int ignore_load(struct workspace *ws, struct ignore *ig, struct buf *text)
{
	int fd = workspace_openat(ws, IGNORE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	int rc = 0;

	buf_reset(text);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno("cannot read '" IGNORE_FILE "'");
	}
	for (;;) {
		ssize_t n;

		buf_grow(text, 64 * 1024);
		n = read(fd, text->p + text->len, 64 * 1024);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				rc = error_errno("cannot read '" IGNORE_FILE "'");
			break;
		}
		text->len += (size_t)n;
		if (text->len > IGNORE_FILE_MAX) {
			rc = error("'" IGNORE_FILE "' is longer than %d bytes", IGNORE_FILE_MAX);
			break;
		}
	}
	close(fd);
	if (!rc)
		ignore_parse(ig, text->p ? text->p : "", text->len);
	return rc;
}

static int load_ignore(struct scan *sc)
{
	struct buf text = BUF_INIT;
	int rc = ignore_load(sc->ws, &sc->ig, &text);

	buf_free(&text);
	return rc;
}

static int cmp_found(const void *a, const void *b)
{
	return strcmp((*(struct found *const *)a)->path, (*(struct found *const *)b)->path);
}

/*
 * As git: the executable bit is part of what is synced, so a chmod alone
 * is a change. A chmod moves the ctime, so such a row is always looked at
 * again. An unknown synced mode (0) is taken as the one seen now.
 */
static enum change change_of(const struct entry *e)
{
	if (e->conflict)
		return CH_CONFLICT;
	if (!e->base.set)
		return CH_ADDED;
	if (!digest_eq(&e->hash, &e->base) || (e->base_mode && e->mode != e->base_mode))
		return CH_MODIFIED;
	return CH_NONE;
}

/* Writes one row, opening the scan's transaction at the first. */
static int put(struct scan *sc, int *in_txn, const struct entry *e, int racy, int drop)
{
	struct index_row r = { *e, racy, 0 };

	if (!*in_txn) {
		if (index_begin(sc->ws))
			return -1;
		*in_txn = 1;
	}
	if (drop ? index_drop(sc->ws, e->path) : index_write_row(sc->ws, &r)) {
		index_rollback(sc->ws);
		*in_txn = 0;
		return -1;
	}
	return 0;
}

/* What a row comes to: 1 to keep it in the result, 0 to drop it; *write when the index must change. */
static int settle_row(struct scan *sc, size_t i, int *write, int *racy)
{
	struct scan_item *it = &sc->snap.rows[i];
	const struct row_state *s = &sc->rs[i];
	unsigned char flags = sc->snap.flags[i];

	*write = 0;
	*racy = !!(flags & INDEX_RACY);
	it->present = 0;
	if (flags & INDEX_REMOVED) {
		it->change = CH_DELETED;
		return 1;
	}
	if (s->state != ROW_FILE) {
		if (it->e.base.set || it->e.conflict) {
			it->change = it->e.conflict ? CH_CONFLICT : CH_DELETED;
			return 1;
		}
		if (scan_discoverable(sc, it->e.path)) {
			*write = 1;	/* never pushed, gone: nothing to remember */
			return 0;
		}
		it->change = CH_NONE;
		return 1;
	}
	it->present = 1;
	if (s->later) {
		/* Its row stays as it was: the push records the hash it takes, with this stat. */
		stat_to_entry(&it->e, &s->st);
		it->later = 1;
		it->change = CH_MODIFIED;
		return 1;
	}
	if (s->hashed) {
		*racy = s->racy || s->st.mtime_ns >= sc->ws->stamp_ns;
		*write = !stat_same(&s->st, &it->e) || s->new_hash || *racy != !!(flags & INDEX_RACY);
		stat_to_entry(&it->e, &s->st);
	} else if (!it->e.hash.set) {
		/* Added but never read (it could not be): nothing push could send yet. */
		it->present = 0;
		it->change = CH_NONE;
		return 1;
	}
	it->change = change_of(&it->e);
	return 1;
}

/*
 * Stat and hash done: the result, sorted, in the rows' own array (merged
 * with the new files when there are any), and the index written where a
 * row differs.
 */
static int settle(struct scan *sc, struct scan_result *out)
{
	struct scan_item *items = sc->snap.rows;
	size_t i = 0, j = 0, n = 0;
	int in_txn = 0;

	if (sc->nfnd)
		items = xcalloc(sc->snap.n + sc->nfnd + 1, sizeof(*items));
	while (i < sc->snap.n || j < sc->nfnd) {
		int write, racy, keep;

		if (j < sc->nfnd && (i == sc->snap.n || strcmp(sc->fnd[j]->path, sc->snap.rows[i].e.path) < 0)) {
			struct found *f = sc->fnd[j++];
			struct scan_item *it = &items[n];

			if (!f->ok)
				continue;
			memset(it, 0, sizeof(*it));
			it->e.path = (char *)f->path;
			stat_to_entry(&it->e, &f->st);
			digest_from_hex(&it->e.hash, f->hash);
			it->present = 1;
			it->change = CH_ADDED;
			n++;
			if (put(sc, &in_txn, &it->e, f->racy || f->st.mtime_ns >= sc->ws->stamp_ns, 0))
				goto fail;
			continue;
		}
		keep = settle_row(sc, i, &write, &racy);
		if (write && put(sc, &in_txn, &sc->snap.rows[i].e, racy, !keep))
			goto fail;
		if (keep && items + n != sc->snap.rows + i)
			items[n] = sc->snap.rows[i];	/* n <= i when items is the rows' array */
		n += keep;
		i++;
	}
	if (in_txn && index_commit(sc->ws))
		goto fail;
	out->items = items;
	out->n = n;
	if (items == sc->snap.rows)
		sc->snap.rows = NULL;
	return 0;
fail:
	if (items != sc->snap.rows)
		free(items);
	return -1;
}

static void scan_free(struct scan *sc)
{
	for (int i = 0; i < SCAN_THREADS_MAX; i++) {
		arena_free(&sc->w[i].mem);
		free(sc->w[i].found);
		free(sc->w[i].sub);
	}
	index_snapshot_free(&sc->snap);
	ignore_free(&sc->ig);
	free(sc->rs);
	free(sc->tasks);
	free(sc->queue);
	free(sc->todo);
	free(sc->fnd);
	pthread_mutex_destroy(&sc->mu);
	pthread_cond_destroy(&sc->cv);
}

int scan_workspace(struct workspace *ws, struct scan_result *out)
{
	return scan_workspace_later(ws, out, 0);
}

int scan_workspace_later(struct workspace *ws, struct scan_result *out, uint64_t later_min)
{
	struct scan sc;
	size_t nlater = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, k;
	int w, rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.mu, NULL);
	pthread_cond_init(&sc.cv, NULL);
	sc.ws = ws;
	sc.nthreads = cores < 1 ? 1 : cores > SCAN_THREADS_MAX ? SCAN_THREADS_MAX : (int)cores;
	for (w = 0; w < SCAN_THREADS_MAX; w++)
		sc.w[w].sc = &sc;

	/* The stamp comes before the first stat: see the racy rule above. */
	ws->stamp_ns = index_stamp(ws);
	/* 1, 2. */
	if (index_load_roots(ws, &sc.snap) || load_ignore(&sc))
		goto out;
	scan_plan_tasks(&sc);
	if (scan_walk_and_load(&sc))
		goto out;

	/* 3. the join */
	for (w = 0; w < SCAN_THREADS_MAX; w++)
		sc.nfnd += sc.w[w].nfound;
	sc.fnd = xcalloc(sc.nfnd + 1, sizeof(*sc.fnd));
	sc.nfnd = 0;
	for (w = 0; w < SCAN_THREADS_MAX; w++)
		for (i = 0; i < sc.w[w].nfound; i++)
			sc.fnd[sc.nfnd++] = &sc.w[w].found[i];
	sc.next = 0;
	run_threads(&sc, scan_join_worker, sc.nfnd);
	for (i = k = 0; i < sc.nfnd; i++)
		if (sc.fnd[i])
			sc.fnd[k++] = sc.fnd[i];
	sc.nfnd = k;

	/* 4. rows the walk did not meet */
	sc.todo = xcalloc(sc.snap.n + 1, sizeof(*sc.todo));
	for (i = 0; i < sc.snap.n; i++)
		if (sc.rs[i].state == ROW_UNSEEN && !(sc.snap.flags[i] & INDEX_REMOVED))
			sc.todo[sc.ntodo++] = i;
	sc.next = 0;
	run_threads(&sc, look_worker, sc.ntodo);

	/* 5. hashing: rows whose stat moved or that are racy, and new files */
	sc.ntodo = 0;
	for (i = 0; i < sc.snap.n; i++) {
		const struct entry *e = &sc.snap.rows[i].e;
		struct row_state *s = &sc.rs[i];

		if (s->state != ROW_FILE || (sc.snap.flags[i] & INDEX_REMOVED) ||
		    (!(sc.snap.flags[i] & INDEX_RACY) && e->hash.set && stat_same(&s->st, e)))
			continue;
		if (later_min && nlater < SCAN_LATER_MAX && s->st.size >= later_min && s->st.mode != MODE_LINK &&
		    e->base.set && e->hash.set && !e->conflict && !stat_same(&s->st, e)) {
			s->later = 1;
			nlater++;
			continue;
		}
		sc.todo[sc.ntodo++] = i;
	}
	qsort(sc.fnd, sc.nfnd, sizeof(*sc.fnd), cmp_found);
	sc.next = sc.nextf = 0;
	run_threads(&sc, hash_worker, sc.ntodo + sc.nfnd);

	/* 6. the result, and the index written if anything differs */
	rc = settle(&sc, out);
	if (!rc) {
		arena_take(&out->mem, &sc.snap.mem);
		for (w = 0; w < SCAN_THREADS_MAX; w++)
			arena_take(&out->mem, &sc.w[w].mem);
	}
out:
	scan_free(&sc);
	return rc;
}

static int cmp_item_path(const void *key, const void *item)
{
	return strcmp(key, ((const struct scan_item *)item)->e.path);
}

struct scan_item *scan_result_find(const struct scan_result *r, const char *path)
{
	return r->n ? bsearch(path, r->items, r->n, sizeof(*r->items), cmp_item_path) : NULL;
}

void scan_result_free(struct scan_result *r)
{
	free(r->items);
	arena_free(&r->mem);
	r->items = NULL;
	r->n = 0;
}
