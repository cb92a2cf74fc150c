/*
 * scan_walk.c: the walk of a scan (step 2 and 3 in scan.c): which paths a
 * walk may reach (roots, exclusions, .socignore), the readdir walk on
 * every core, and the join of files met before the index rows were loaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan_walk.h"

#define SCAN_CHUNK 256		/* files a thread takes at once in the join */
#define SCAN_PENDING_MAX 16384	/* files a walker keeps for the join before it waits for the rows */

int scan_join_all;
size_t scan_pending_max = SCAN_PENDING_MAX;

/*
 * Finding a file's row. The rows are sorted by path, so the rows of one
 * directory lie within the run of paths that start with "dir/", found once
 * per directory by binary search; each name is then a binary search in
 * that run, comparing names only, in memory the walk of that directory
 * touches anyway. No hash table: nothing to build, and no cache miss per
 * file.
 */
struct dir_rows {
	size_t lo, hi;		/* the rows under dir/ */
	size_t skip;		/* strlen("dir/"), 0 for the root */
	int known;
};

/* The first row at or after key in [lo, hi). */
static size_t lower_bound(const struct scan *sc, const char *key, size_t lo, size_t hi)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sc->snap.rows[mid].e.path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void dir_rows_find(const struct scan *sc, const char *dir, size_t dlen, struct dir_rows *d)
{
	char *key;

	d->known = 1;
	d->skip = dlen ? dlen + 1 : 0;
	if (!dlen) {
		d->lo = 0;
		d->hi = sc->snap.n;
		return;
	}
	key = xmalloc(dlen + 2);
	memcpy(key, dir, dlen);
	key[dlen] = '/';
	key[dlen + 1] = '\0';
	d->lo = lower_bound(sc, key, 0, sc->snap.n);
	key[dlen] = '/' + 1;	/* "dir0": just past every "dir/..." */
	d->hi = lower_bound(sc, key, d->lo, sc->snap.n);
	free(key);
}

/* The row of the file name in the directory d, or -1. */
static long dir_rows_lookup(const struct scan *sc, const struct dir_rows *d, const char *name)
{
	size_t lo = d->lo, hi = d->hi;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sc->snap.rows[mid].e.path + d->skip, name);

		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_excluded(const struct scan *sc, const char *path)
{
	return sc->snap.nexcluded &&
	       bsearch(&path, sc->snap.excluded, sc->snap.nexcluded, sizeof(char *), cmp_str);
}

/* A walk may enter the directory path[0..n), or list the file there. */
static int walk_may(const struct scan *sc, const char *path, size_t n, int is_dir)
{
	const char *base = memrchr(path, '/', n);
	char *copy;
	int ok;

	base = base ? base + 1 : path;
	if (ignore_always(base, n - (size_t)(base - path)))
		return 0;
	if (sc->ig.n && ignore_match(&sc->ig, path, n, is_dir))
		return 0;
	if (!sc->snap.nexcluded)
		return 1;
	copy = xstrndup(path, n);
	ok = !is_excluded(sc, copy);
	free(copy);
	return ok;
}

/* A walk from the directory path[0..from) reaches path, through directories it may enter. */
static int walk_reaches(const struct scan *sc, const char *path, size_t from, int is_dir)
{
	size_t n = strlen(path), i;

	for (i = from ? from + 1 : 0; i < n; i++)
		if (path[i] == '/' && !walk_may(sc, path, i, 1))
			return 0;
	return walk_may(sc, path, n, is_dir);
}

static int under(const char *path, const char *dir, size_t dlen)
{
	return !dlen || (!strncmp(path, dir, dlen) && path[dlen] == '/');
}

void scan_plan_tasks(struct scan *sc)
{
	const struct index_snapshot *s = &sc->snap;

	sc->tasks = xcalloc(s->nroots + 1, sizeof(*sc->tasks));
	for (size_t r = 0; r < s->nroots; r++) {
		const char *p = s->roots[r].path;
		int reached = 0;

		for (size_t a = 0; a < s->nroots && !reached; a++) {
			size_t alen = strlen(s->roots[a].path);

			reached = a != r && s->roots[a].recursive && under(p, s->roots[a].path, alen) &&
				  walk_reaches(sc, p, alen, 1);
		}
		if (!reached)
			sc->tasks[sc->ntasks++] = (struct task){ p, strlen(p), s->roots[r].recursive };
	}
}

int scan_discoverable(const struct scan *sc, const char *path)
{
	for (size_t t = 0; t < sc->ntasks; t++) {
		const struct task *k = &sc->tasks[t];

		if (!under(path, k->path, k->len))
			continue;
		if (!k->recursive && strchr(path + k->len + (k->len ? 1 : 0), '/'))
			continue;
		if (walk_reaches(sc, path, k->len, 0))
			return 1;
	}
	return 0;
}

static mode_t dtype_mode(unsigned char t)
{
	switch (t) {
	case DT_REG: return S_IFREG;
	case DT_DIR: return S_IFDIR;
	case DT_LNK: return S_IFLNK;
	case DT_SOCK: return S_IFSOCK;
	case DT_FIFO: return S_IFIFO;
	case DT_CHR: return S_IFCHR;
	case DT_BLK: return S_IFBLK;
	}
	return 0;
}

static void add_found(struct worker *w, const char *path, size_t n, const struct stat *st, int pending)
{
	struct found *f;

	if (w->nfound == w->capfound) {
		w->capfound = w->capfound ? 2 * w->capfound : 1024;
		w->found = xrealloc(w->found, w->capfound * sizeof(*w->found));
	}
	f = &w->found[w->nfound++];
	f->path = arena_strndup(&w->mem, path, n);
	f->len = n;
	stat_copy(&f->st, st);
	f->pending = pending;
	f->ok = f->racy = 0;
}

/*
 * 1 when the rows are there. A file met before waits for the join at
 * about 160 bytes: while the index of a million files loads, a walker
 * would keep 60 MB of them. Past scan_pending_max it waits for the rows.
 */
static int rows_wait(struct worker *w)
{
	struct scan *sc = w->sc;

	if (w->nfound < scan_pending_max || scan_join_all)
		return 0;
	pthread_mutex_lock(&sc->mu);
	while (!sc->rows_loaded)
		pthread_cond_wait(&sc->cv, &sc->mu);
	pthread_mutex_unlock(&sc->mu);
	return __atomic_load_n(&sc->rows_ready, __ATOMIC_ACQUIRE);
}

/* A regular file or a link the walk met: to its row, or new unless ignored or excluded; or for the join. */
static void met_file(struct worker *w, struct dir_rows *d, const char *path, size_t n, const struct stat *st)
{
	struct scan *sc = w->sc;
	long row;

	if (!d->known) {
		if (!__atomic_load_n(&sc->rows_ready, __ATOMIC_ACQUIRE) && !rows_wait(w)) {
			add_found(w, path, n, st, 1);
			return;
		}
		dir_rows_find(sc, path, d->skip ? d->skip - 1 : 0, d);
	}
	row = dir_rows_lookup(sc, d, path + d->skip);
	if (row >= 0) {
		/* A tracked file stays tracked, whatever .socignore says now. */
		stat_copy(&sc->rs[row].st, st);
		sc->rs[row].state = ROW_FILE;
	} else if (walk_may(sc, path, n, 0)) {
		add_found(w, path, n, st, 0);
	}
}

static void add_sub(struct worker *w, const char *path, size_t n, int recursive)
{
	if (w->nsub == w->capsub) {
		w->capsub = w->capsub ? 2 * w->capsub : 64;
		w->sub = xrealloc(w->sub, w->capsub * sizeof(*w->sub));
	}
	w->sub[w->nsub++] = (struct task){ arena_strndup(&w->mem, path, n), n, recursive };
}

/* One directory: its regular files noted, its subdirectories returned in w->sub. */
static void walk_dir(struct worker *w, const struct task *t)
{
	struct scan *sc = w->sc;
	struct buf path = BUF_INIT;
	struct dir_rows rows = { 0, 0, t->len ? t->len + 1 : 0, 0 };
	struct dirent *de;
	DIR *d;
	int fd = workspace_openat(sc->ws, t->path, O_RDONLY | O_DIRECTORY);

	if (fd < 0) {
		/* A root gone or made a file: its rows come out as gone. */
		if (errno == ELOOP)
			warning("skipping '%s': a tracked directory that is a symlink now, never followed",
				show_path(t->path));
		else if (errno != ENOENT && errno != ENOTDIR)
			warning_errno("cannot read the directory '%s'", show_path(t->path));
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		warning_errno("cannot read the directory '%s'", show_path(t->path));
		close(fd);
		return;
	}
	buf_add(&path, t->path, t->len);
	if (t->len)
		buf_addch(&path, '/');
	while ((errno = 0, de = readdir(d))) {
		const char *name = de->d_name;
		size_t nlen = strlen(name), plen;
		mode_t type = dtype_mode(de->d_type);
		const char *why;
		struct stat st;
		int have_st = 0;

		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		if (ignore_always(name, nlen))
			continue;
		path.len = t->len + (t->len ? 1 : 0);
		buf_add(&path, name, nlen);
		plen = path.len;
		if (!type || type == S_IFREG || type == S_IFLNK) {
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW)) {
				if (errno != ENOENT)
					warning_errno("cannot look at '%s'", show_path(path.p));
				continue;
			}
			have_st = 1;
			type = st.st_mode & S_IFMT;
		}
		if (type == S_IFDIR) {
			if (!t->recursive)
				continue;
			if ((why = path_check(path.p, plen)))
				warning("skipping '%s': %s", show_path(path.p), why);
			else if (walk_may(sc, path.p, plen, 1))
				add_sub(w, path.p, plen, 1);
			continue;
		}
		/* A link is tracked as a file is: its target is its content, never followed. */
		if (type == S_IFREG || type == S_IFLNK) {
			/* No row can have a name path_check refuses. */
			if ((why = path_check(path.p, plen)))
				warning("skipping '%s': %s", show_path(path.p), why);
			else
				met_file(w, &rows, path.p, plen, &st);
			continue;
		}
		if (!have_st && fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			type = st.st_mode & S_IFMT;
		if (walk_may(sc, path.p, plen, 0))
			warning("skipping %s '%s': soc tracks regular files and symlinks only", kind_of(type),
				show_path(path.p));
	}
	if (errno)
		warning_errno("cannot read the directory '%s'", show_path(t->path));
	closedir(d);
	buf_free(&path);
}

static void *walk_worker(void *arg)
{
	struct worker *w = arg;
	struct scan *sc = w->sc;

	pthread_mutex_lock(&sc->mu);
	for (;;) {
		struct task t;

		while (!sc->qlen && sc->busy)
			pthread_cond_wait(&sc->cv, &sc->mu);
		if (!sc->qlen)
			break;
		t = sc->queue[--sc->qlen];
		sc->busy++;
		pthread_mutex_unlock(&sc->mu);

		w->nsub = 0;
		walk_dir(w, &t);

		pthread_mutex_lock(&sc->mu);
		if (sc->qlen + w->nsub > sc->qcap) {
			sc->qcap = 2 * (sc->qlen + w->nsub);
			sc->queue = xrealloc(sc->queue, sc->qcap * sizeof(*sc->queue));
		}
		if (w->nsub)
			memcpy(sc->queue + sc->qlen, w->sub, w->nsub * sizeof(*w->sub));
		sc->qlen += w->nsub;
		sc->busy--;
		pthread_cond_broadcast(&sc->cv);
	}
	pthread_mutex_unlock(&sc->mu);
	return NULL;
}

void *scan_join_worker(void *arg)
{
	struct scan *sc = ((struct worker *)arg)->sc;
	size_t i, end;

	while ((i = __atomic_fetch_add(&sc->next, SCAN_CHUNK, __ATOMIC_RELAXED)) < sc->nfnd) {
		struct dir_rows d = { 0 };
		const char *dir = NULL;

		end = i + SCAN_CHUNK < sc->nfnd ? i + SCAN_CHUNK : sc->nfnd;
		for (; i < end; i++) {
			struct found *f = sc->fnd[i];
			const char *slash;
			size_t dlen;
			long row;

			if (!f->pending)
				continue;
			slash = memrchr(f->path, '/', f->len);
			dlen = slash ? (size_t)(slash - f->path) : 0;
			if (!dir || d.skip != (dlen ? dlen + 1 : 0) || memcmp(dir, f->path, dlen)) {
				dir_rows_find(sc, f->path, dlen, &d);
				dir = f->path;
			}
			row = dir_rows_lookup(sc, &d, f->path + d.skip);
			if (row >= 0) {
				/* A tracked file stays tracked, whatever .socignore says now. */
				sc->rs[row].st = f->st;
				sc->rs[row].state = ROW_FILE;
				sc->fnd[i] = NULL;
			} else if (!walk_may(sc, f->path, f->len, 0)) {
				sc->fnd[i] = NULL;
			}
		}
	}
	return NULL;
}

int scan_walk_and_load(struct scan *sc)
{
	pthread_t t[SCAN_THREADS_MAX];
	int started[SCAN_THREADS_MAX] = { 0 }, rc;

	sc->qcap = sc->ntasks + 64;
	sc->queue = xmalloc(sc->qcap * sizeof(*sc->queue));
	for (size_t i = 0; i < sc->ntasks; i++)
		sc->queue[sc->qlen++] = sc->tasks[i];
	for (int i = 1; i < sc->nthreads && sc->ntasks; i++)
		started[i] = !pthread_create(&t[i], NULL, walk_worker, &sc->w[i]);
	rc = index_load_files(sc->ws, &sc->snap);
	if (!rc) {
		sc->rs = xcalloc(sc->snap.n + 1, sizeof(*sc->rs));
		if (!scan_join_all)
			__atomic_store_n(&sc->rows_ready, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_lock(&sc->mu);
	sc->rows_loaded = 1;
	pthread_cond_broadcast(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
	walk_worker(&sc->w[0]);
	for (int i = 1; i < sc->nthreads; i++)
		if (started[i])
			pthread_join(t[i], NULL);
	return rc;
}
