/*
 * scan.c: change detection (DESIGN.md section 4). Walks every tracked
 * root and stats every tracked file, hashes only what may have changed,
 * and records what it saw in the index, in one transaction and only when
 * something differs.
 *
 * How a scan runs, as git status runs:
 *  1. The roots, the exclusions and .socignore, which say where to walk.
 *  2. The walk, on every core: threads take directories from one queue,
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
 *     threads, streamed through md5_fd().
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define SCAN_THREADS_MAX 16	/* threads that walk and hash; fewer if fewer cores */
#define SCAN_SERIAL_MAX 64	/* fewer lookups or hashes than this run on one thread */
#define SCAN_CHUNK 256		/* files a thread takes at once in the join */

static unsigned long hashed;	/* files hashed by this process, for the tests */
int scan_join_all;

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
	unsigned char new_md5;	/* and the content differs from the row's */
	unsigned char racy;	/* the mark to record */
};

/* A regular file a walk met before the rows were loaded, or a new one. */
struct found {
	const char *path;
	size_t len;
	struct stat_now st;
	int pending;		/* met before the rows were loaded: the join decides */
	int ok;			/* new, and hashed */
	int racy;
	char md5[MD5_HEX_LEN + 1];
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
	int nthreads;
	struct worker w[SCAN_THREADS_MAX];
};

unsigned long scan_hash_count(void)
{
	return __atomic_load_n(&hashed, __ATOMIC_RELAXED);
}

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

int root_covers(const struct root *roots, size_t nroots, const char *path)
{
	for (size_t i = 0; i < nroots; i++) {
		size_t dlen = strlen(roots[i].path);

		if (!under(path, roots[i].path, dlen))
			continue;
		if (roots[i].recursive || !strchr(path + dlen + (dlen ? 1 : 0), '/'))
			return 1;
	}
	return 0;
}

/* Roots inside the walk of a recursive root are walked by it, not again. */
static void plan_tasks(struct scan *sc)
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

/* A file the index tracks and a walk would find again if it came back (not one added by name). */
static int discoverable(const struct scan *sc, const char *path)
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

static void stat_copy(struct stat_now *d, const struct stat *st)
{
	d->size = (uint64_t)st->st_size;
	d->ino = (uint64_t)st->st_ino;
	d->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	d->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	d->mode = (st->st_mode & 0111) ? 0755 : 0644;
}

static int stat_same(const struct stat_now *a, const struct entry *e)
{
	return a->size == e->size && a->ino == e->ino && a->mtime_ns == e->mtime_ns &&
	       a->ctime_ns == e->ctime_ns && a->mode == e->mode;
}

static void stat_to_entry(struct entry *e, const struct stat_now *s)
{
	e->size = s->size;
	e->ino = s->ino;
	e->mtime_ns = s->mtime_ns;
	e->ctime_ns = s->ctime_ns;
	e->mode = s->mode;
}

static const char *kind_of(mode_t m)
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

/* A regular file the walk met: to its row, or new unless ignored or excluded; or for the join. */
static void met_file(struct worker *w, struct dir_rows *d, const char *path, size_t n, const struct stat *st)
{
	struct scan *sc = w->sc;
	long row;

	if (!d->known) {
		if (!__atomic_load_n(&sc->rows_ready, __ATOMIC_ACQUIRE)) {
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
			warning("skipping symbolic link '%s': soc tracks regular files only", show_path(t->path));
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
		if (!type || type == S_IFREG) {
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
		if (type == S_IFREG) {
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
			warning("skipping %s '%s': soc tracks regular files only", kind_of(type), show_path(path.p));
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

/*
 * Each file met before the rows were there goes to its row, or stays new
 * unless ignored or excluded. A chunk's files come mostly a directory at
 * a time, so the run of rows found for one serves the next.
 */
static void *join_worker(void *arg)
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
	else if (S_ISREG(st.st_mode)) {
		stat_copy(&s->st, &st);
		s->state = ROW_FILE;
	} else if (!discoverable(sc, path)) {
		/* (A walk that met it has said so already.) */
		warning("skipping %s '%s': soc tracks regular files only", kind_of(st.st_mode), show_path(path));
	}
	close(fd);
}

/* md5 of path; 0 ok, 1 gone, -1 unreadable (said). *racy when it changed while read. */
static int hash_one(struct scan *sc, const char *path, struct stat_now *st, char md5[MD5_HEX_LEN + 1], int *racy)
{
	struct stat before, after;
	uint64_t n = 0;
	int fd = workspace_openat(sc->ws, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	int rc = 0;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 1;
		warning_errno("cannot read '%s'", show_path(path));
		return -1;
	}
	if (fstat(fd, &before) || !S_ISREG(before.st_mode)) {
		close(fd);
		return 1;
	}
	if (md5_fd(fd, md5, &n) || fstat(fd, &after)) {
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
		char md5[MD5_HEX_LEN + 1];
		int racy = 0, rc = hash_one(sc, e->path, &s->st, md5, &racy);

		if (rc > 0)
			s->state = ROW_GONE;
		s->hashed = rc == 0;
		s->racy = racy;
		s->new_md5 = rc == 0 && strcmp(md5, e->md5);
		if (s->new_md5)
			memcpy(e->md5, md5, sizeof(md5));
	}
	while ((i = __atomic_fetch_add(&sc->nextf, 1, __ATOMIC_RELAXED)) < sc->nfnd) {
		struct found *f = sc->fnd[i];

		f->ok = hash_one(sc, f->path, &f->st, f->md5, &f->racy) == 0;
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

static int load_ignore(struct scan *sc)
{
	struct buf text = BUF_INIT;
	int fd = workspace_openat(sc->ws, IGNORE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	int rc = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno("cannot read '" IGNORE_FILE "'");
	}
	for (;;) {
		ssize_t n;

		buf_grow(&text, 64 * 1024);
		n = read(fd, text.p + text.len, 64 * 1024);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				rc = error_errno("cannot read '" IGNORE_FILE "'");
			break;
		}
		text.len += (size_t)n;
		if (text.len > IGNORE_FILE_MAX) {
			rc = error("'" IGNORE_FILE "' is longer than %d bytes", IGNORE_FILE_MAX);
			break;
		}
	}
	close(fd);
	if (!rc)
		ignore_parse(&sc->ig, text.p ? text.p : "", text.len);
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
	if (!e->base[0])
		return CH_ADDED;
	if (strcmp(e->md5, e->base) || (e->base_mode && e->mode != e->base_mode))
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
		if (it->e.base[0] || it->e.conflict) {
			it->change = it->e.conflict ? CH_CONFLICT : CH_DELETED;
			return 1;
		}
		if (discoverable(sc, it->e.path)) {
			*write = 1;	/* never pushed, gone: nothing to remember */
			return 0;
		}
		it->change = CH_NONE;
		return 1;
	}
	it->present = 1;
	if (s->hashed) {
		*racy = s->racy || s->st.mtime_ns >= sc->ws->stamp_ns;
		*write = !stat_same(&s->st, &it->e) || s->new_md5 || *racy != !!(flags & INDEX_RACY);
		stat_to_entry(&it->e, &s->st);
	} else if (!it->e.md5[0]) {
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
			memcpy(it->e.md5, f->md5, sizeof(it->e.md5));
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

/*
 * 2. The walk on the other threads while this one loads the rows and
 * then joins it. Files met before the rows are there wait for the join;
 * after, each walker looks them up itself.
 */
static int walk_and_load(struct scan *sc)
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
	walk_worker(&sc->w[0]);
	for (int i = 1; i < sc->nthreads; i++)
		if (started[i])
			pthread_join(t[i], NULL);
	return rc;
}

int scan_workspace(struct workspace *ws, struct scan_result *out)
{
	struct scan sc;
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
	ws->stamp_ns = workspace_stamp(ws);
	/* 1, 2. */
	if (index_load_roots(ws, &sc.snap) || load_ignore(&sc))
		goto out;
	plan_tasks(&sc);
	if (walk_and_load(&sc))
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
	run_threads(&sc, join_worker, sc.nfnd);
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

		if (sc.rs[i].state == ROW_FILE && !(sc.snap.flags[i] & INDEX_REMOVED) &&
		    ((sc.snap.flags[i] & INDEX_RACY) || !e->md5[0] || !stat_same(&sc.rs[i].st, e)))
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

void scan_result_free(struct scan_result *r)
{
	free(r->items);
	arena_free(&r->mem);
	r->items = NULL;
	r->n = 0;
}
