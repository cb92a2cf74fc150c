/*
 * export.c: `soc serve export DIR [--rev R]`, the tree of revision R (the
 * head when R is not given) written into DIR from the version store, each
 * file checked against its sha256 as it is copied. Nodes sharing a blob
 * store keep no browsable tree (issue 19); on one node this is how an
 * admin gets a past tree back without a workspace.
 *
 * Files are copied, never linked: a blob is written once, and an export
 * is for people to edit. All or nothing: the tree is built beside DIR
 * under a hidden name and renamed to DIR at the end (DIR new, or an empty
 * directory, which rename(2) replaces); a failure removes it and leaves
 * DIR as it was. The database is read in one read transaction, so a push
 * committed meanwhile changes nothing here, and gc cannot take a blob of
 * the head; a past revision's blob that gc took is named, and the export
 * fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "serve.h"
#include "versions.h"

#define EXPORT_COPY_CHUNK (256 * 1024)
#define EXPORT_TEMP_TRIES 100		/* hidden names tried beside DIR */

struct exporter {
	struct server *s;
	int dst;			/* the hidden tree */
	long long rev;
	size_t files, links;
	unsigned long long bytes;
	unsigned char *buf;		/* EXPORT_COPY_CHUNK */
};

/* The blob of h copied into a new base in dir, hashed on the way: 0, or -1 after a message. */
static int copy_checked(struct exporter *x, int in, int dir, const char *base, const struct history_row *h)
{
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)h->mtime, 0 } };
	char got[HASH_HEX_LEN + 1];
	struct hasher hh;
	long long n = 0;
	ssize_t r;
	int out = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), rc = -1;

	if (out < 0)
		return error_errno("cannot create '%s'", h->path);
	if (hasher_init(&hh)) {
		close(out);
		return error("cannot hash '%s'", h->path);
	}
	while ((r = read(in, x->buf, EXPORT_COPY_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			error_errno("cannot read the version of '%s'", h->path);
			goto out;
		}
		if (hasher_update(&hh, x->buf, (size_t)r) || write_full(out, x->buf, (size_t)r)) {
			error_errno("cannot write '%s'", h->path);
			goto out;
		}
		n += r;
	}
	if (hasher_final(&hh, got)) {
		error("cannot hash '%s'", h->path);
		goto out;
	}
	if (n != h->size || strcmp(got, h->hash)) {
		error("the version of '%s' at r%lld is not the content its sha256 names: run 'soc serve check'",
		      h->path, x->rev);
		goto out;
	}
	if (fchmod(out, (mode_t)(h->mode & 0777)) || futimens(out, times)) {
		error_errno("cannot set the mode and time of '%s'", h->path);
		goto out;
	}
	rc = 0;
	x->bytes += (unsigned long long)n;
out:
	hasher_free(&hh);
	if (close(out) && !rc)
		rc = error_errno("cannot write '%s'", h->path);
	return rc;
}

static int one(const struct history_row *h, void *arg)
{
	struct exporter *x = arg;
	const char *slash = strrchr(h->path, '/'), *base = slash ? slash + 1 : h->path, *why;
	long long size;
	int dir, in, rc;

	/* The database's paths passed the rules at their commit; they pass them again before a write. */
	if ((why = path_check(h->path, strlen(h->path))))
		return error("'%s' at r%lld: %s", h->path, x->rev, why);
	if (h->mode != MODE_LINK && (!h->hash || !hash_hex_valid(h->hash)))
		return error("'%s' at r%lld has no sha256 recorded: run 'soc serve' once to upgrade the root",
			     h->path, x->rev);
	dir = slash ? beneath_dir(x->dst, h->path, (size_t)(slash - h->path), 0755, 0, NULL) : dup(x->dst);
	if (dir < 0)
		return error_errno("cannot make the directory of '%s'", h->path);
	if (h->mode == MODE_LINK) {
		const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)h->mtime, 0 } };

		rc = symlinkat(h->target ? h->target : "", dir, base) ||
				     utimensat(dir, base, times, AT_SYMLINK_NOFOLLOW)
			     ? error_errno("cannot make the link '%s'", h->path)
			     : 0;
		x->links += !rc;
		close(dir);
		return rc;
	}
	in = versions_open(x->s, h->hash, &size);
	if (in < 0) {
		close(dir);
		if (errno == ENOENT)
			return error("the version of '%s' at r%lld is no longer kept (gc removed it)", h->path, x->rev);
		return error_errno("cannot open the version of '%s'", h->path);
	}
	rc = copy_checked(x, in, dir, base, h);
	x->files += !rc;
	close(in);
	close(dir);
	return rc;
}

/* dest's parent directory, and dest's last name in *base (dest without trailing slashes, to free). */
static int parent_of(const char *dest, char **copy, const char **base)
{
	size_t len = strlen(dest);
	char *slash;
	int fd;

	while (len > 1 && dest[len - 1] == '/')
		len--;
	*copy = xasprintf("%.*s", (int)len, dest);
	slash = strrchr(*copy, '/');
	*base = slash ? slash + 1 : *copy;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return error("'%s' cannot be made: name a new or empty directory", dest);
	if (slash == *copy)
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (slash) {
		*slash = '\0';
		fd = open(*copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
	} else {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return error_errno("cannot open the directory of '%s'", dest);
	return fd;
}

/* What the rename will replace: nothing, or an empty directory. 0, or -1 after a message. */
static int dest_free(int parent, const char *base, const char *dest)
{
	struct stat st;
	int fd, empty;

	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : error_errno("cannot look at '%s'", dest);
	if (!S_ISDIR(st.st_mode))
		return error("'%s' exists and is not a directory", dest);
	fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	empty = fd < 0 ? -1 : dir_empty(fd);
	if (empty < 0)
		error_errno("cannot read '%s'", dest);
	if (fd >= 0)
		close(fd);
	return empty < 0 ? -1 : empty ? 0 : error("'%s' is not empty", dest);
}

/* A hidden directory beside dest, 0755: its name in *tmp (to free) and its fd, or -1 after a message. */
static int temp_beside(int parent, const char *base, const char *dest, char **tmp)
{
	for (int i = 0; i < EXPORT_TEMP_TRIES; i++) {
		*tmp = xasprintf(".%s.soc-export-%ld-%d", base, (long)getpid(), i);
		if (!mkdirat(parent, *tmp, 0755)) {
			int fd = openat(parent, *tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd < 0)
				error_errno("cannot open a directory beside '%s'", dest);
			return fd;
		}
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			break;
	}
	return error_errno("cannot make a directory beside '%s'", dest);
}

static int export_rev(struct server *s, struct sql *db, long long want, const char *dest)
{
	struct exporter x = { .s = s, .dst = -1 };
	char *tmp = NULL, *copy = NULL;
	const char *base;
	long long head = store_head(db);
	int rc = -1, parent = -1;

	x.rev = want ? want : head;
	if (head < 0)
		return -1;
	if (x.rev > head)
		return error("no revision r%lld: the head is r%lld", x.rev, head);
	if (s->versions_fd < 0)
		return error("'%s' has no version store yet: start 'soc serve' on it once", s->root);
	if ((parent = parent_of(dest, &copy, &base)) < 0 || dest_free(parent, base, dest) ||
	    (x.dst = temp_beside(parent, base, dest, &tmp)) < 0)
		goto out;
	x.buf = xmalloc(EXPORT_COPY_CHUNK);
	/* rename(2) replaces an empty directory; one filled meanwhile fails it (ENOTEMPTY). */
	if (!store_tree_each(db, x.rev, "", one, &x)) {
		if (renameat(parent, tmp, parent, base))
			error_errno("cannot rename the export to '%s'", dest);
		else
			rc = 0;
	}
	if (rc && remove_tree(parent, tmp))
		error_errno("cannot remove '%s' beside '%s'", tmp, dest);
	if (!rc)
		say("r%lld: %zu file%s of %llu bytes and %zu link%s into '%s'\n", x.rev, x.files, x.files == 1 ? "" : "s",
		    x.bytes, x.links, x.links == 1 ? "" : "s", dest);
out:
	if (x.dst >= 0)
		close(x.dst);
	if (parent >= 0)
		close(parent);
	free(x.buf);
	free(tmp);
	free(copy);
	return rc;
}

int serve_export(const char *root, const char *rev, const char *dest)
{
	struct server s;
	struct sql *db;
	long long want = 0;
	int rc = EXIT_ERROR;

	if (rev) {
		char *end;

		errno = 0;
		want = strtoll(rev[0] == 'r' ? rev + 1 : rev, &end, 10);
		if (errno || end == rev || *end || want < 1)
			return usage_error("--rev wants a revision (r12 or 12), not '%s'", rev);
	}
	if (store_refuse_lost(root, 0) || store_enter(root))
		return EXIT_ERROR;
	if (store_open(&s, root, 0))
		goto out;
	db = store_db(&s);
	if (!db || store_read_begin(db))
		goto out;
	rc = export_rev(&s, db, want, dest) ? EXIT_ERROR : EXIT_OK;
	store_read_end(db);
out:
	store_close(&s);
	return rc;
}
