/*
 * backup.c: `soc serve backup DEST`, a consistent copy of a root while its
 * server runs. soc.db first, through SQLite's online backup (one snapshot
 * of every page, whatever commits meanwhile), then the head files that
 * snapshot names, each checked against its sha256: a head whose files are
 * missing or other is never written (a push that replaced one meanwhile
 * starts the backup again, up to BACKUP_TRIES times). A file is hard-linked where DEST is
 * on the same filesystem (nothing writes a head file in place: a push
 * renames a new one over it), else copied. versions/, when there, is
 * content-addressed and written once: linked or copied whole.
 *
 * Left out: admin.token (a secret; its token lives on in soc.db's tokens),
 * the rsyncd configs (the server writes them at each start), the log,
 * staging/, commit/ and trash/ (a push open during the backup is dropped
 * from the copy: its client pushes again). The copy is a new history (a
 * new id): a restore loses the revisions after it, and every workspace
 * must resync once rather than ask it for "changes since" a revision of
 * the history it no longer continues.
 *
 * Restoring: stop the server, use DEST as its root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "serve.h"

#define BACKUP_BUSY_TRIES 600	/* the source busy: 50 ms each, a writer's commit never lasts 30 s */
#define BACKUP_COPY_CHUNK (256 * 1024)
#define BACKUP_DEPTH_MAX 256
#define BACKUP_TRIES 3		/* a push that replaces a head file mid-copy: start again, this often */

struct backup {
	const char *root, *dest;
	int src_files, dst_files;
	size_t linked, copied;
	int cross;		/* DEST is on another filesystem: copy, do not try to link again */
	int last_try;		/* a file a push replaced is an error, not a reason to start again */
};

/* DEST: made 0700, or an empty directory; its fd, or -1 after a message. */
static int dest_open(const char *dest)
{
	int fd, empty;

	if (!mkdir(dest, 0700))
		return open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (errno != EEXIST)
		return error_errno("cannot create '%s'", dest);
	fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno("'%s' exists and is not a directory we can use", dest);
	empty = dir_empty(fd);
	if (empty < 0)
		error_errno("cannot read '%s'", dest);
	else if (!empty)
		error("'%s' is not empty; a backup goes into a new or empty directory", dest);
	if (empty != 1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* soc.db through SQLite's online backup, then made a new history with no open push. */
static int copy_db(const char *root, int dest_fd, const char *dest, char **db_out)
{
	char *src_path = xasprintf("%s/soc.db", root), *dst_path = xasprintf("%s/soc.db", dest);
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int fd, rc = -1, step = SQLITE_OK, tries = 0;

	/* 0600 before SQLite opens it: soc.db holds every token's hash and every path. */
	fd = openat(dest_fd, "soc.db", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_errno("cannot create '%s'", dst_path);
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		error("cannot open '%s': %s", src && sqlite3_errcode(src) ? src_path : dst_path,
		      sqlite3_errmsg(dst ? dst : src));
		goto out;
	}
	sqlite3_busy_timeout(src, DB_BUSY_MS);
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		error("cannot back up '%s': %s", src_path, sqlite3_errmsg(dst));
		goto out;
	}
	/* All pages in one step: one read transaction, one snapshot. */
	while ((step = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED) {
		if (++tries > BACKUP_BUSY_TRIES)
			break;
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		error("cannot back up '%s': %s", src_path, sqlite3_errstr(step));
		goto out;
	}
	if (sqlite3_exec(dst,
			 "BEGIN IMMEDIATE;"
			 "DELETE FROM txn_items WHERE txn IN (SELECT id FROM txns WHERE state <> 'done');"
			 "DELETE FROM txns WHERE state <> 'done';"
			 "DELETE FROM changes WHERE rev > (SELECT value FROM meta WHERE key = 'head');"
			 "DELETE FROM revs WHERE rev > (SELECT value FROM meta WHERE key = 'head');"
			 "INSERT OR REPLACE INTO meta VALUES('history', lower(hex(randomblob(16))));"
			 "COMMIT;"
			 "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL) != SQLITE_OK) {
		error("cannot finish the copy '%s': %s", dst_path, sqlite3_errmsg(dst));
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(src);
	if (dst && sqlite3_close(dst) != SQLITE_OK && !rc)
		rc = error("cannot close '%s'", dst_path);
	free(src_path);
	if (rc)
		free(dst_path);
	else
		*db_out = dst_path;
	return rc;
}

/* Bytes of in into a new file out, with its mode and mtime. */
static int copy_fd(int in, int out_dir, const char *name, const struct stat *st)
{
	char *buf = xmalloc(BACKUP_COPY_CHUNK);
	int out = openat(out_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 0777);
	ssize_t n = 0;
	off_t at = 0;
	int rc = -1;

	if (out < 0)
		goto out;
	while ((n = pread(in, buf, BACKUP_COPY_CHUNK, at)) > 0) {
		for (ssize_t w = 0, k; w < n; w += k) {
			k = write(out, buf + w, (size_t)(n - w));
			if (k < 0)
				goto out;
			if (!k) {
				errno = EIO;
				goto out;
			}
		}
		at += n;
	}
	if (n < 0 || fchmod(out, st->st_mode & 0777) ||
	    futimens(out, (struct timespec[]){ st->st_atim, st->st_mtim }) || fsync(out))
		goto out;
	rc = 0;
out:
	free(buf);
	if (out >= 0 && close(out))
		rc = -1;
	return rc;
}

/* in (open, beneath the source) into dir/name: a hard link to that very inode, else a copy. */
static int place(struct backup *k, int in, int dir, const char *name, const char *shown)
{
	char proc[64];
	struct stat st;

	if (fstat(in, &st))
		return error_errno("cannot read '%s'", shown);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", in);
	if (!k->cross && !linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW)) {
		k->linked++;
		return 0;
	}
	if (!k->cross && errno != EXDEV && errno != EPERM && errno != ENOENT && errno != EMLINK)
		return error_errno("cannot link '%s' into the backup", shown);
	k->cross |= errno == EXDEV;
	if (copy_fd(in, dir, name, &st))
		return error_errno("cannot copy '%s' into the backup", shown);
	k->copied++;
	return 0;
}

/* The directory of path (its part before the last '/') made beneath dst; its fd, name's offset in *base. */
static int dest_dir(int dst, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	if (!slash)
		return dup(dst);
	return beneath_dir(dst, path, (size_t)(slash - path), 0700, 0, NULL);
}

/* One head file: opened beneath files/, never through a link, and it must be what the snapshot says. */
static int head_file(struct backup *k, const char *path, const char *sha256)
{
	char *shown = xasprintf("%s/files/%s", k->root, path), hex[HASH_HEX_LEN + 1];
	int in = beneath_open(k->src_files, path, O_RDONLY | O_NONBLOCK), dir = -1, rc = -1;
	const char *base;

	if (in < 0) {
		error_errno("cannot open '%s', a file of the head", shown);
		goto out;
	}
	if (hash_fd(in, hex, NULL) || strcmp(hex, sha256)) {
		if (k->last_try)
			error("'%s' is not what the head backed up says (pushes kept landing, or it was "
			      "changed); remove '%s' and run the backup again", shown, k->dest);
		rc = k->last_try ? -1 : 1;
		goto out;
	}
	dir = dest_dir(k->dst_files, path, &base);
	if (dir < 0) {
		error_errno("cannot make the directory of '%s' in '%s'", path, k->dest);
		goto out;
	}
	rc = place(k, in, dir, base, shown);
out:
	if (in >= 0)
		close(in);
	if (dir >= 0)
		close(dir);
	free(shown);
	return rc;
}

static int head_files(struct backup *k, const char *db_path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT path, sha256 FROM files WHERE sha256 IS NOT NULL AND target IS NULL"
			       " ORDER BY path", -1, &st, NULL) != SQLITE_OK) {
		error("cannot read '%s': %s", db_path, db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = head_file(k, (const char *)sqlite3_column_text(st, 0),
				    (const char *)sqlite3_column_text(st, 1))))
			goto out;
	rc = -1;
	if (step != SQLITE_DONE) {
		error("cannot read '%s': %s", db_path, sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* What a try left in DEST, so the next starts from an empty directory. */
static int dest_clear(int dest_fd, const char *dest)
{
	static const char *const names[] = { "files", "versions", "staging" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (remove_tree(dest_fd, names[i]) && errno != ENOENT)
			return error_errno("cannot remove '%s/%s'", dest, names[i]);
	if (unlinkat(dest_fd, "soc.db", 0) && errno != ENOENT)
		return error_errno("cannot remove '%s/soc.db'", dest);
	return 0;
}

/* A whole tree (versions/): every directory made, every regular file placed; anything else refused. */
static int copy_tree(struct backup *k, int src, int dst, struct buf *shown, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(src), rc = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", shown->p);
	}
	while (!rc && (errno = 0, de = readdir(d))) {
		size_t len = shown->len;
		struct stat st;
		int in;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_addf(shown, "/%s", de->d_name);
		in = openat(src, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (in < 0 || fstat(in, &st)) {
			rc = error_errno("cannot open '%s'", shown->p);
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (depth >= BACKUP_DEPTH_MAX)
				rc = error("'%s' is too deep", shown->p);
			else if ((mkdirat(dst, de->d_name, 0700) && errno != EEXIST) ||
				 (sub = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				rc = error_errno("cannot make '%s' in the backup", shown->p);
			else {
				rc = copy_tree(k, in, sub, shown, depth + 1);
				close(sub);
			}
		} else if (S_ISREG(st.st_mode)) {
			rc = place(k, in, dst, de->d_name, shown->p);
		} else {
			rc = error("'%s' is not a regular file", shown->p);
		}
		if (in >= 0)
			close(in);
		shown->len = len;
		shown->p[len] = '\0';
	}
	if (!rc && errno)
		rc = error_errno("cannot read '%s'", shown->p);
	closedir(d);
	return rc;
}

static int make_dir(int parent, const char *name, const char *dest)
{
	int fd;

	if (mkdirat(parent, name, 0700))
		return error_errno("cannot create '%s/%s'", dest, name);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s/%s'", dest, name);
	return fd;
}

/* One try into the empty DEST: 0, 1 when a push replaced a head file meanwhile, -1 after a message. */
static int backup_once(struct backup *k, int root_fd, int dest_fd)
{
	struct buf shown = BUF_INIT;
	char *db_path = NULL;
	int src_v = -1, dst_v = -1, staging = -1, rc = -1;

	k->dst_files = -1;
	k->linked = k->copied = 0;
	/* staging/ too, empty: check and the token commands open it; the server makes the rest. */
	if (copy_db(k->root, dest_fd, k->dest, &db_path) ||
	    (staging = make_dir(dest_fd, "staging", k->dest)) < 0 ||
	    (k->dst_files = make_dir(dest_fd, "files", k->dest)) < 0 ||
	    (rc = head_files(k, db_path)))
		goto out;
	rc = -1;
	src_v = openat(root_fd, "versions", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src_v < 0 && errno != ENOENT) {
		error_errno("cannot open '%s/versions'", k->root);
		goto out;
	}
	buf_addf(&shown, "%s/versions", k->root);
	if (src_v >= 0 && ((dst_v = make_dir(dest_fd, "versions", k->dest)) < 0 ||
			   copy_tree(k, src_v, dst_v, &shown, 0)))
		goto out;
	rc = 0;
out:
	buf_free(&shown);
	free(db_path);
	{
		const int fds[] = { k->dst_files, src_v, dst_v, staging };

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	k->dst_files = -1;
	return rc;
}

int serve_backup(const char *root, const char *dest)
{
	struct backup k = { .root = root, .dest = dest, .src_files = -1, .dst_files = -1 };
	int root_fd = -1, dest_fd = -1, rc = EXIT_ERROR, got = 1;
	struct stat sb;

	if (store_refuse_lost(root, 0) || store_enter(root))
		return EXIT_ERROR;
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		error_errno("cannot open the root '%s'", root);
		goto out;
	}
	/* Its history is not in a file a copy could take whole. */
	if (!fstatat(root_fd, DB_CONNINFO_FILE, &sb, AT_SYMLINK_NOFOLLOW)) {
		error("'%s' keeps its history in PostgreSQL (" DB_CONNINFO_FILE "): back it up with pg_dump and a "
		      "copy of the root", root);
		goto out;
	}
	k.src_files = openat(root_fd, "files", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (k.src_files < 0) {
		error_errno("cannot open '%s/files'", root);
		goto out;
	}
	if ((dest_fd = dest_open(dest)) < 0)
		goto out;
	for (int t = 1; got == 1 && t <= BACKUP_TRIES; t++) {
		k.last_try = t == BACKUP_TRIES;
		got = backup_once(&k, root_fd, dest_fd);
		if (got == 1 && dest_clear(dest_fd, dest))
			goto out;
	}
	if (got)
		goto out;
	if (fsync(dest_fd)) {
		error_errno("cannot write '%s'", dest);
		goto out;
	}
	say("backed up '%s' into '%s': soc.db and %zu file%s (%zu linked, %zu copied); to restore, stop "
	    "the server and start it with --root '%s'\n", root, dest, k.linked + k.copied,
	    k.linked + k.copied == 1 ? "" : "s", k.linked, k.copied, dest);
	rc = EXIT_OK;
out:
	if (root_fd >= 0)
		close(root_fd);
	if (dest_fd >= 0)
		close(dest_fd);
	if (k.src_files >= 0)
		close(k.src_files);
	return rc;
}
