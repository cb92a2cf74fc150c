/*
 * store_bind.c: which database holds a root's history. A root started
 * with `soc serve --db CONNINFO` keeps that conninfo in ROOT/db.conninfo
 * (0600, as admin.token is): every later command on the root, a start
 * without --db, the token and check commands, finds the same database,
 * and a root is never started on another one by mistake, where a new,
 * empty history would be begun beside its files.
 *
 * A cluster node's root (soc serve --db CONNINFO --blobs DIR) keeps DIR
 * in ROOT/blobs.dir the same way. DIR holds what nodes share of a root:
 * versions/, staging/, commit/, trash/ and views/ (PROTOCOL.md section
 * 10). DIR/blobs.id names the store and the database keeps the same id
 * in meta 'blobs': a node on another directory, or one without --blobs
 * on a database nodes share (its files/ would not follow their
 * commits), is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "serve.h"
#include "sql.h"
#include "testhook.h"

static const char *wanted;	/* --db, or NULL */
static int conninfo_unbound;	/* a new root given --db, for store_bind_check to bind */

void store_want_db(const char *conninfo)
{
	wanted = conninfo;
}

/* ROOT/name, one line of at most max bytes, into *out (malloc'd; NULL when missing): 0, or -1 after a message. */
static int line_read(int root_fd, const char *root, const char *name, size_t max, char **out)
{
	char buf[DB_CONNINFO_MAX + 2];
	ssize_t n;
	size_t len = 0;
	int fd = openat(root_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*out = NULL;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return error_errno("cannot read '%s/%s'", root, name);
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno("cannot read '%s/%s'", root, name);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (!len || len > max || strlen(buf) != len || strchr(buf, '\n'))
		return error("'%s/%s' is not the one line soc serve wrote there", root, name);
	*out = xstrdup(buf);
	return 0;
}

int store_conninfo_read(int root_fd, const char *root, char **out)
{
	return line_read(root_fd, root, DB_CONNINFO_FILE, DB_CONNINFO_MAX, out);
}

/*
 * dir/name (dir open as dir_fd) holding line, 0600, whole and durable or
 * not at all: 0, 1 when it exists already, or -1 after a message.
 */
static int line_write(int dir_fd, const char *dir, const char *name, const char *value)
{
	char *line = xasprintf("%s\n", value);
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -1 : write_full(fd, line, strlen(line)) || fsync(fd) ? -1 : 0;

	free(line);
	if (fd < 0 && errno == EEXIST)
		return 1;
	if (fd >= 0 && close(fd))
		rc = -1;
	if (!rc && fsync(dir_fd))
		rc = -1;
	if (rc) {
		int e = errno;

		if (fd >= 0)
			unlinkat(dir_fd, name, 0);
		errno = e;
		return error_errno("cannot write '%s/%s'", dir, name);
	}
	return 0;
}

int store_bind_write(struct server *s, const char *conninfo)
{
	if (line_write(s->root_fd, s->root, DB_CONNINFO_FILE, conninfo) > 0)
		return error("'%s/" DB_CONNINFO_FILE "' exists already", s->root);
	return 0;
}

int store_bind(struct server *s, int create, char **conninfo)
{
	struct stat st;
	int lite;

	conninfo_unbound = 0;
	if (store_conninfo_read(s->root_fd, s->root, conninfo))
		return -1;
	lite = !fstatat(s->root_fd, DB_NAME, &st, AT_SYMLINK_NOFOLLOW) && (st.st_size || !*conninfo);
	if (*conninfo && lite) {
		free(*conninfo);
		*conninfo = NULL;
		return error("'%s' holds both " DB_NAME " and " DB_CONNINFO_FILE ": which history is the root's "
			     "is not clear; move the one that is not away", s->root);
	}
	if (!wanted)
		return 0;
	if (strlen(wanted) > DB_CONNINFO_MAX || strchr(wanted, '\n'))
		return error("--db wants one line of a PostgreSQL conninfo of at most %d bytes", DB_CONNINFO_MAX);
	if (*conninfo) {
		if (!strcmp(*conninfo, wanted))
			return 0;
		free(*conninfo);
		*conninfo = NULL;
		return error("'%s' keeps its history in the database of '%s/" DB_CONNINFO_FILE "', not in the "
			     "one --db names; give that one, or no --db", s->root, s->root);
	}
	if (lite || !create)
		return error("'%s' keeps its history in " DB_NAME ", not in PostgreSQL; --db starts a new root",
			     s->root);
	/* Bound once store_bind_check has found the database fit for the root. */
	conninfo_unbound = 1;
	*conninfo = xstrdup(wanted);
	return 0;
}

/* ---- the blob directory nodes share (cluster mode) ---- */

static const char *wanted_blobs;	/* --blobs, or NULL */
static int blobs_unbound;		/* s->data is --blobs, for store_bind_check to bind the root to */

void store_want_blobs(const char *dir)
{
	wanted_blobs = dir;
}

/*
 * 1 when fd is on a filesystem of a local disk whose syncfs(2) writes
 * everything out. On a network or FUSE mount syncfs may flush nothing
 * (FUSE answers it with 0 unasked; SCALE.md section 1), so any other
 * type is synced file by file.
 */
static int local_disk(int fd)
{
	static const long types[] = {
		0xEF53,		/* ext2, ext3, ext4 */
		0x58465342,	/* xfs */
		0x9123683E,	/* btrfs */
		0xF2F52010,	/* f2fs */
		0x01021994,	/* tmpfs: nothing to flush */
	};
	struct statfs st;

	if (fstatfs(fd, &st))
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((long)st.f_type == types[i])
			return 1;
	return 0;
}

int store_bind_blobs(struct server *s, int create, int on_pg)
{
	char *dir = NULL, *real = NULL;

	blobs_unbound = 0;
	if (line_read(s->root_fd, s->root, BLOBS_DIR_FILE, PATH_MAX, &dir))
		return -1;
	if (wanted_blobs) {
		if (!on_pg) {
			free(dir);
			return error("--blobs goes with a root on PostgreSQL (--db): the nodes share their history there");
		}
		if (create && mkdir(wanted_blobs, 0700) && errno != EEXIST) {
			free(dir);
			return error_errno("cannot create '%s'", wanted_blobs);
		}
		real = realpath(wanted_blobs, NULL);
		if (!real) {
			free(dir);
			return error_errno("cannot open the blob directory '%s'", wanted_blobs);
		}
		if (strchr(real, '\n')) {
			free(dir);
			free(real);
			return error("the blob directory's path holds a newline; give one that does not");
		}
		if (dir && strcmp(dir, real)) {
			error("'%s' keeps its blobs in '%s', not in '%s'; give that one, or no --blobs", s->root, dir,
			      real);
			free(dir);
			free(real);
			return -1;
		}
		if (!dir && !create) {
			free(real);
			return error("'%s' is no cluster node; --blobs binds a root when soc serve starts it", s->root);
		}
		blobs_unbound = !dir;
		free(dir);
		dir = real;
	}
	if (!dir) {
		s->data = xstrdup(s->root);
		s->data_fd = dup(s->root_fd);
		return s->data_fd < 0 ? error_errno("cannot open the root '%s'", s->root) : 0;
	}
	s->cluster = 1;
	s->data = dir;
	s->data_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->data_fd < 0)
		return error_errno("cannot open the blob directory '%s'", dir);
	s->blobs_syncfs = local_disk(s->data_fd) && !test_hook_flag(HOOK_BLOBS_FSYNC_EACH);
	return 0;
}

/* meta 'blobs' into *out (malloc'd, NULL when there is none): 0, or -1 after a message. */
static int meta_blobs(struct sql *db, char **out)
{
	struct sql_stmt *st = sql_prepare(db, "SELECT value FROM meta WHERE key = 'blobs'", 0);
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	rc = sql_step(st);
	if (rc == SQL_ROW)
		*out = xstrdup(sql_column_text(st, 0));
	sql_finalize(st);
	return rc == SQL_ROW || rc == SQL_DONE ? 0 : error("cannot read the database: %s", sql_errmsg(db));
}

/* A new store's id: 16 random bytes in hex. */
static int blobs_new_id(char *out, size_t len)
{
	unsigned char b[BLOBS_ID_BYTES];

	if (len < 2 * sizeof(b) + 1 || getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return error_errno("cannot make the blob store's id");
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/*
 * A new history's first node names the store in both places; a
 * directory that names one already is another history's (its gc would
 * take blobs this one names), and is never taken over.
 */
static int blobs_claim(struct server *s, struct sql *db)
{
	char id[2 * BLOBS_ID_BYTES + 1];
	struct sql_stmt *st;
	int rc;

	st = sql_prepare(db, "SELECT 1 FROM revs LIMIT 1", 0);
	rc = st ? sql_step(st) : SQL_ERROR;
	sql_finalize(st);
	if (rc == SQL_ERROR)
		return error("cannot read the database: %s", sql_errmsg(db));
	if (rc == SQL_ROW)
		return error("'%s': its database holds a history begun without --blobs; nodes cannot share "
			     "it (soc serve export writes its head out)", s->root);
	if (blobs_new_id(id, sizeof(id)))
		return -1;
	rc = line_write(s->data_fd, s->data, BLOBS_ID_FILE, id);
	if (rc)
		return rc < 0 ? -1 : error("'%s' is the blob store of another history; give each its own directory",
					   s->data);
	st = sql_prepare(db, SQL_TEXT(db, "INSERT OR IGNORE INTO meta VALUES('blobs', ?)",
				      "INSERT INTO meta VALUES('blobs', ?) ON CONFLICT DO NOTHING"), 0);
	if (!st)
		return -1;
	sql_bind_text(st, 1, id, -1);
	rc = sql_step(st);
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : error("cannot write the database: %s", sql_errmsg(db));
}

/* The new root bound to the database --db named. */
static int bind_db(struct server *s)
{
	if (store_bind_write(s, wanted))
		return -1;
	conninfo_unbound = 0;
	return 0;
}

int store_bind_check(struct server *s, struct sql *db, int create)
{
	char *meta = NULL, *id = NULL;
	int rc = -1;

	if (meta_blobs(db, &meta))
		return -1;
	if (!s->cluster) {
		int shared = meta != NULL;

		free(meta);
		if (shared)
			return error("'%s': its database is shared by soc serve nodes; start it with --blobs DIR, "
				     "the directory they share", s->root);
		return conninfo_unbound && bind_db(s) ? -1 : 0;
	}
	if (line_read(s->data_fd, s->data, BLOBS_ID_FILE, 2 * BLOBS_ID_BYTES, &id))
		goto out;
	if (!meta && !id && create) {
		if (blobs_claim(s, db) || meta_blobs(db, &meta) ||
		    line_read(s->data_fd, s->data, BLOBS_ID_FILE, 2 * BLOBS_ID_BYTES, &id))
			goto out;
	}
	if (!meta || !id || strcmp(meta, id)) {
		error("'%s' is not the blob store of '%s''s database (their ids differ); every node must "
		      "share the one directory the first node was started on", s->data, s->root);
		goto out;
	}
	if ((conninfo_unbound && bind_db(s)) ||
	    (blobs_unbound && line_write(s->root_fd, s->root, BLOBS_DIR_FILE, s->data)))
		goto out;
	blobs_unbound = 0;
	rc = 0;
out:
	free(meta);
	free(id);
	return rc;
}
