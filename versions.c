/*
 * versions.c: the version store's files, ROOT/versions/XX/<sha256>: the
 * links a commit adds before it records its revision, the first fill of
 * a root made before the store, gc, check's part, and a blob opened for
 * GET blob.
 *
 * A blob is written once and never in place: it is the very inode a
 * commit checked, hard-linked, so content the head holds costs no byte
 * more, and files/ keeps the head for rsync as before (rsync and the
 * commit always write a new inode and rename it over a head file, never
 * into one). A commit links every checked file before its revision is
 * recorded, and each versions/XX directory it touched is fsync'd first:
 * no revision ever names a blob a crash could lose. A crash after a link
 * and before the record leaves a blob nothing names, which gc takes.
 *
 * gc and a commit in flight: a commit holds VERSIONS_LOCK shared from
 * its first link until its revision is recorded (or refused); gc holds it
 * alone while it reads what is kept and removes the rest, so it never
 * takes a blob whose revision is about to be written. GC_GRACE_SECONDS
 * (by the blob's ctime, which a link sets) spares young blobs besides.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "sql.h"
#include "testhook.h"
#include "txn.h"
#include "versions.h"

#define BLOB_NAME_LEN (3 + HASH_HEX_LEN)	/* XX/<sha256> */
#define NOW_MAX 253402300799LL			/* 9999-12-31T23:59:59Z */

long long versions_now(void)
{
	const char *v = test_hook_str(HOOK_NOW);
	char *end;
	long long t;

	if (!v)
		return (long long)time(NULL);
	t = strtoll(v, &end, 10);
	if (*end || t < 0 || t > NOW_MAX) {
		warning("%s='%s' is not seconds since the epoch; using the clock", HOOK_NOW, v);
		return (long long)time(NULL);
	}
	return t;
}

static void blob_name(const char *hash, char out[BLOB_NAME_LEN + 1])
{
	snprintf(out, BLOB_NAME_LEN + 1, "%.2s/%s", hash, hash);
}

static int versions_flock(struct server *s, int exclusive, int nonblock)
{
	int fd = openat(s->data_fd, VERSIONS_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_errno("cannot open '%s/" VERSIONS_LOCK "'", s->data);
	while (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | (nonblock ? LOCK_NB : 0))) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		errno = e;
		if (e == EWOULDBLOCK && nonblock)
			return -1;
		return error_errno("cannot lock '%s/" VERSIONS_LOCK "'", s->data);
	}
	return fd;
}

/*
 * A cluster's nodes take the same lock in PostgreSQL too (a session's
 * advisory lock, on this thread's connection): a flock on a shared mount
 * may hold on its own host only. 0; 1 when nonblock and another holds
 * it; -1 after a message.
 */
static int pg_lock(struct server *s, int exclusive, int nonblock)
{
	struct sql *db = store_db(s);
	const char *text = !exclusive ? "SELECT pg_advisory_lock_shared(" STORE_PG_LOCK_VERSIONS ")" :
			   nonblock ? "SELECT pg_try_advisory_lock(" STORE_PG_LOCK_VERSIONS ")" :
			   "SELECT pg_advisory_lock(" STORE_PG_LOCK_VERSIONS ")";
	struct sql_stmt *st = db ? sql_prepare(db, text, 0) : NULL;
	int rc = st ? sql_step(st) : SQL_ERROR, taken;

	taken = rc == SQL_ROW && (!exclusive || !nonblock || !strcmp(sql_column_text(st, 0), "t"));
	sql_finalize(st);
	if (rc != SQL_ROW)
		return error("cannot lock the version store in the database: %s", db ? sql_errmsg(db) : "no connection");
	return !taken;
}

void versions_unlock(struct server *s, int fd, int exclusive)
{
	struct sql *db = s->cluster ? store_db(s) : NULL;

	if (db && sql_exec(db, exclusive ? "SELECT pg_advisory_unlock(" STORE_PG_LOCK_VERSIONS ")"
				: "SELECT pg_advisory_unlock_shared(" STORE_PG_LOCK_VERSIONS ")"))
		warning("the version store's lock in the database stays until this connection ends");
	close(fd);
}

int versions_lock(struct server *s, int exclusive, int nonblock)
{
	int fd = versions_flock(s, exclusive, nonblock), rc;

	if (fd < 0 || !s->cluster)
		return fd;
	rc = pg_lock(s, exclusive, nonblock);
	if (!rc)
		return fd;
	close(fd);
	/* Held by another node, or the database failed (said). */
	errno = rc > 0 ? EWOULDBLOCK : EIO;
	return -1;
}

static int hexval(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* versions/XX for hash made: 0, or -1 and errno (EEXIST is no error: another commit made it). */
static int blob_dir(struct server *s, const char *hash, struct versions_touched *t)
{
	char xx[3] = { hash[0], hash[1], '\0' };

	if (!mkdirat(s->versions_fd, xx, 0700))
		t->top = 1;
	else if (errno != EEXIST)
		return -1;
	return 0;
}

/*
 * The link is tried first and versions/XX made only when it is missing,
 * as git does for objects/XX: all 256 exist after the first few pushes.
 */
int versions_keep(struct server *s, int dir, const char *name, const char *hash, struct versions_touched *t)
{
	char blob[BLOB_NAME_LEN + 1];
	int r;

	blob_name(hash, blob);
	t->dir[hexval(hash[0]) * 16 + hexval(hash[1])] = 1;
	r = linkat(dir, name, s->versions_fd, blob, 0);
	if (r && errno == ENOENT && !faccessat(dir, name, F_OK, AT_SYMLINK_NOFOLLOW)) {
		if (blob_dir(s, hash, t))
			return -1;
		r = linkat(dir, name, s->versions_fd, blob, 0);
	}
	if (r) {
		struct stat st;

		if (errno != EEXIST)
			return -1;
		/* Never a symlink or anything else in its place: check names it, the commit stops. */
		if (fstatat(s->versions_fd, blob, &st, AT_SYMLINK_NOFOLLOW))
			return -1;
		if (!S_ISREG(st.st_mode))
			return errno = EEXIST, -1;
		return 0;
	}
	return 1;
}

void versions_touched_add(struct versions_touched *into, const struct versions_touched *from)
{
	for (size_t i = 0; i < sizeof(into->dir); i++)
		into->dir[i] |= from->dir[i];
	into->top |= from->top;
}

/* fsyncs each versions/XX touched (or one syncfs when batch), then versions/ if a directory was made. */
int versions_sync(struct server *s, const struct versions_touched *t, int batch)
{
	if (batch)
		return syncfs(s->versions_fd) ? error_errno("cannot sync '%s/" VERSIONS_DIR "'", s->data) : 0;
	for (int i = 0; i < VERSIONS_DIRS; i++) {
		char xx[3];
		int fd;

		if (!t->dir[i])
			continue;
		snprintf(xx, sizeof(xx), "%02x", i);
		fd = openat(s->versions_fd, xx, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fsync(fd)) {
			error_errno("cannot sync '%s/" VERSIONS_DIR "/%s'", s->data, xx);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (t->top && fsync(s->versions_fd))
		return error_errno("cannot sync '%s/" VERSIONS_DIR "'", s->data);
	return 0;
}

/* ---- the first fill ---- */

struct fill {
	struct server *s;
	struct dir_cursor files;
	struct versions_touched t;
	size_t nfiles, linked;
	int failed;
};

static void fill_one(const struct store_file *f, void *arg)
{
	struct fill *p = arg;
	char blob[BLOB_NAME_LEN + 1], got[HASH_HEX_LEN + 1];
	struct stat st, hashed;
	const char *name;
	uint64_t size;
	int fd, dir, r;

	if (p->failed || !f->hash || !hash_hex_valid(f->hash))
		return;
	p->nfiles++;
	blob_name(f->hash, blob);
	if (!fstatat(p->s->versions_fd, blob, &st, AT_SYMLINK_NOFOLLOW))
		return;
	fd = beneath_open(p->s->files_fd, f->path, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &hashed) || !S_ISREG(hashed.st_mode) || hash_fd(fd, got, &size)) {
		p->failed = error_errno("cannot read 'files/%s'", f->path);
	} else if (size != (uint64_t)f->size || strcmp(got, f->hash)) {
		p->failed = error("'files/%s' is not the content the head names (sha256 %s); "
				  "run 'soc serve check'", f->path, f->hash);
	} else if ((dir = dir_cursor_parent(&p->files, f->path, &name)) < 0 ||
		   (r = versions_keep(p->s, dir, name, f->hash, &p->t)) < 0) {
		p->failed = error_errno("cannot link 'files/%s' into " VERSIONS_DIR "/", f->path);
	} else if (r > 0 && (fstatat(p->s->versions_fd, blob, &st, AT_SYMLINK_NOFOLLOW) ||
			     st.st_ino != hashed.st_ino || st.st_dev != hashed.st_dev)) {
		/* Swapped between the hash and the link: only someone else's hand does that. */
		unlinkat(p->s->versions_fd, blob, 0);
		p->failed = error("'files/%s' changed while it was linked into " VERSIONS_DIR "/", f->path);
	} else {
		p->linked += r > 0;
	}
	if (fd >= 0)
		close(fd);
}

int versions_populate(struct server *s)
{
	struct sql *db = store_db(s);
	struct fill p = { .s = s };
	long long since = db ? store_versions_since(db) : -2;
	long long head = db ? store_head(db) : -1;

	if (since == -2 || head < 0)
		return -1;
	if (since >= 0)
		return 0;
	dir_cursor_init(&p.files, s->files_fd, 0, 0);
	if (store_head_each(db, fill_one, &p))
		p.failed = error("cannot read the head: %s", sql_errmsg(db));
	dir_cursor_close(&p.files);
	if (p.failed || versions_sync(s, &p.t, p.linked > SYNC_EACH_MAX) || store_set_versions_since(db, head))
		return error("'%s': cannot fill " VERSIONS_DIR "/ from the head; fix what the messages above"
			     " name, then start again", s->root);
	if (p.nfiles)
		fprintf(stderr, "%s: kept the %zu files of the head in '%s/" VERSIONS_DIR "' (%zu new)\n",
			soc_prog, p.nfiles, s->root, p.linked);
	return 0;
}

/* ---- walks of versions/ ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int kept(char **v, long n, const char *hash)
{
	return n > 0 && bsearch(&hash, v, (size_t)n, sizeof(*v), cmp_str) != NULL;
}

static void free_hashes(char **v, long n)
{
	for (long i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Calls fn for each entry of each versions/XX; 0, or -1 after a message. */
static int each_blob(struct server *s, void (*fn)(int dir, const char *xx, const char *name, void *arg), void *arg)
{
	for (int i = 0; i < VERSIONS_DIRS; i++) {
		char xx[3];
		int fd;
		DIR *d;
		struct dirent *de;

		snprintf(xx, sizeof(xx), "%02x", i);
		fd = openat(s->versions_fd, xx, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || !(d = fdopendir(fd))) {
			error_errno("cannot read '%s/" VERSIONS_DIR "/%s'", s->data, xx);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				fn(dirfd(d), xx, de->d_name, arg);
		closedir(d);
	}
	return 0;
}

/* A blob's name: the sha256 whose first two digits are its directory's. */
static int blob_name_valid(const char *xx, const char *name)
{
	return hash_hex_valid(name) && strlen(name) == HASH_HEX_LEN && !strncmp(name, xx, 2);
}

struct sweep {
	char **kept;
	long nkept;
	long long young;	/* ctime after this: within the grace */
	long long count, bytes;
	int failed;
};

static void gc_one(int dir, const char *xx, const char *name, void *arg)
{
	struct sweep *g = arg;
	struct stat st;

	if (!blob_name_valid(xx, name) || kept(g->kept, g->nkept, name))
		return;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) || st.st_ctime > g->young)
		return;
	if (unlinkat(dir, name, 0)) {
		g->failed = 1;
		warning_errno("cannot remove '" VERSIONS_DIR "/%s/%s'", xx, name);
		return;
	}
	g->count++;
	if (st.st_nlink == 1)
		g->bytes += st.st_size;
}

int versions_gc(struct server *s, const struct keep_policy *keep, int nonblock)
{
	struct sql *db = store_db(s);
	struct sweep g = { 0 };
	long long now = versions_now();
	int lock, rc = -1;

	if (!db || s->versions_fd < 0)
		return error("'%s' has no " VERSIONS_DIR "/ yet; start 'soc serve' on it once", s->root);
	lock = versions_lock(s, 1, nonblock);
	if (lock < 0)
		return -1;
	g.nkept = store_kept_hashes(db, keep, now, -1, &g.kept);
	if (g.nkept < 0)
		goto out;
	g.young = now - GC_GRACE_SECONDS;
	if (each_blob(s, gc_one, &g))
		goto out;
	if (g.count && fsync(s->versions_fd))
		warning_errno("cannot sync '%s/" VERSIONS_DIR "'", s->data);
	say("gc: removed %lld version%s (%lld bytes)\n", g.count, g.count == 1 ? "" : "s", g.bytes);
	rc = g.failed ? -1 : 0;
out:
	free_hashes(g.kept, g.nkept);
	versions_unlock(s, lock, 1);
	return rc;
}

/* ---- check ---- */

static void check_one(int dir, const char *xx, const char *name, void *arg)
{
	struct sweep *g = arg;
	char got[HASH_HEX_LEN + 1];
	struct stat st;
	uint64_t size;
	int fd;

	if (!blob_name_valid(xx, name)) {
		printf("not a version: '" VERSIONS_DIR "/%s/%s'\n", xx, name);
		g->count++;
		return;
	}
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		printf("not a regular file: '" VERSIONS_DIR "/%s/%s'\n", xx, name);
		g->count++;
	} else if (hash_fd(fd, got, &size) || strcmp(got, name)) {
		printf("wrong content: '" VERSIONS_DIR "/%s/%s'\n", xx, name);
		g->count++;
	}
	if (fd >= 0)
		close(fd);
	g->bytes++;
}

size_t versions_check(struct server *s, struct sql *db, const struct keep_policy *keep)
{
	struct sweep g = { 0 };
	long long since = store_versions_since(db);

	if (s->versions_fd < 0 || since == -1) {
		printf("no " VERSIONS_DIR "/ yet: start 'soc serve' on the root once\n");
		return 1;
	}
	if (since < -1)
		return 1;
	g.nkept = store_kept_hashes(db, keep, versions_now(), since, &g.kept);
	if (g.nkept < 0)
		return 1;
	for (long i = 0; i < g.nkept; i++) {
		char blob[BLOB_NAME_LEN + 1];
		struct stat st;

		blob_name(g.kept[i], blob);
		if (fstatat(s->versions_fd, blob, &st, AT_SYMLINK_NOFOLLOW)) {
			printf("missing: '" VERSIONS_DIR "/%s' (%s)\n", blob, strerror(errno));
			g.count++;
		}
	}
	if (each_blob(s, check_one, &g))
		g.count++;
	free_hashes(g.kept, g.nkept);
	return (size_t)g.count;
}

int versions_open(struct server *s, const char *hash, long long *size)
{
	char blob[BLOB_NAME_LEN + 1];
	struct stat st;
	int fd;

	blob_name(hash, blob);
	fd = openat(s->versions_fd, blob, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}
