/*
 * check.c: `soc serve check`: does files/ equal the head? Every file the
 * head names is there with its size and sha256, nothing else is, and no
 * symlink hides anywhere under the root; versions/ holds every kept
 * version, each the content its name says (versions.c). On a cluster
 * node, which keeps no files/, only the last: a scrub of the blob store.
 * One line per problem; the reliability tests end with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "serve.h"
#include "sql.h"
#include "versions.h"

#define CHECK_DEPTH_MAX 256	/* deeper than any valid path can make */

struct checker {
	struct server *s;
	struct sql *db;
	struct store_lookup *live;	/* is a path in the head? */
	size_t problems, files;
};

static void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	c->problems++;
}

static void check_file(const struct store_file *f, void *arg)
{
	struct checker *c = arg;
	const char *path = f->path, *hash = f->hash;
	uint64_t size = (uint64_t)f->size, got_size;
	char got[HASH_HEX_LEN + 1];
	struct stat sb;
	int fd = beneath_open(c->s->files_fd, path, O_RDONLY | O_NONBLOCK);

	c->files++;
	if (fd < 0) {
		problem(c, "missing: '%s' (%s)", path, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
		problem(c, "not a regular file: '%s'%s", path, "");
	else if ((uint64_t)sb.st_size != size)
		problem(c, "wrong size: '%s'%s", path, "");
	else if (hash_fd(fd, got, &got_size) || strcmp(got, hash))
		problem(c, "wrong content: '%s' (sha256 is not %s)", path, hash);
	close(fd);
}

static void check_head(struct checker *c)
{
	if (store_head_each(c->db, check_file, c))
		problem(c, "cannot read the head: %s%s", sql_errmsg(c->db), "");
}

/* Walks dir; under files/ (in_files) every regular file must be in the head. */
static void walk(struct checker *c, int dir, struct buf *path, int in_files, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dir);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		problem(c, "cannot read '%s': %s", path->p, strerror(errno));
		return;
	}
	while ((errno = 0, de = readdir(d))) {
		size_t len = path->len;
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_addf(path, "%s%s", len ? "/" : "", de->d_name);
		if (fstatat(dir, de->d_name, &sb, AT_SYMLINK_NOFOLLOW)) {
			problem(c, "cannot stat '%s': %s", path->p, strerror(errno));
		} else if (S_ISLNK(sb.st_mode)) {
			problem(c, "symlink: '%s'%s", path->p, "");
		} else if (S_ISDIR(sb.st_mode)) {
			int sub = openat(dir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0 || depth >= CHECK_DEPTH_MAX) {
				problem(c, "cannot open '%s'%s", path->p, depth >= CHECK_DEPTH_MAX ? ": too deep" : "");
			} else {
				int files = in_files || (!depth && !strcmp(de->d_name, "files"));

				walk(c, sub, path, files, depth + 1);
			}
			if (sub >= 0)
				close(sub);
		} else if (in_files) {
			const char *rel = path->p + strlen("files/");

			if (!S_ISREG(sb.st_mode))
				problem(c, "not a regular file: '%s'%s", path->p, "");
			else if (!store_lookup_in_head(c->live, rel))
				problem(c, "not in the head: '%s'%s", path->p, "");
		} else if (!S_ISREG(sb.st_mode)) {
			problem(c, "not a regular file: '%s'%s", path->p, "");
		}
		path->len = len;
		path->p[len] = '\0';
	}
	if (errno)
		problem(c, "cannot read '%s': %s", path->p, strerror(errno));
	closedir(d);
}

int serve_check(const char *root, const struct keep_policy *keep)
{
	struct server s;
	struct checker c = { 0 };
	struct buf path = BUF_INIT;
	int rc = EXIT_ERROR;

	if (store_refuse_lost(root, 0) || store_enter(root))
		return EXIT_ERROR;
	if (store_open(&s, root, 0))
		goto out;
	c.s = &s;
	c.db = store_db(&s);
	if (!c.db || !(c.live = store_lookup_open(c.db)))
		goto out;
	if (store_read_begin(c.db))
		goto out;
	buf_addstr(&path, "");
	/* A cluster node keeps no files/: its check is a scrub of the blob store the nodes share. */
	if (!s.cluster)
		check_head(&c);
	walk(&c, s.root_fd, &path, 0, 0);
	c.problems += versions_check(&s, c.db, keep);
	store_read_end(c.db);
	if (c.problems)
		error("'%s': %zu problems", s.root, c.problems);
	else if (s.cluster)
		say("'%s': every kept version is in '%s', as its sha256 says\n", s.root, s.data);
	else
		say("'%s': %zu files, all as the head says\n", s.root, c.files);
	rc = c.problems ? EXIT_ERROR : EXIT_OK;
out:
	store_lookup_close(c.live);
	buf_free(&path);
	store_close(&s);
	return rc;
}
