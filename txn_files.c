/*
 * txn_files.c: a push transaction's files: linked into staging/<txn>/
 * when it begins, checked and moved out of rsync's reach into
 * commit/<txn>/ when it commits (the upload stream writes there
 * directly), then applied to files/. Never through a
 * symlink (tree.c's walks); every step of the apply idempotent, so
 * txn_recover() can run it again after a crash (txn.c says why that is
 * enough).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "txn.h"
#include "versions.h"

int txn_commit_dir(struct server *s, const char *id)
{
	int cfd;

	if (mkdirat(s->commit_fd, id, 0700) && errno != EEXIST)
		return error_errno("cannot make 'commit/%s'", id);
	cfd = openat(s->commit_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return error_errno("cannot open 'commit/%s'", id);
	return cfd;
}

/* Errors that mean "this link cannot be made", not "staging/ is broken". */
static int link_soft_error(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP || e == EMLINK || e == EPERM || e == EACCES;
}

/*
 * Hard-links fname in the directory fp to staging/<txn>/dst. want_size >= 0
 * also demands a regular file of that size (content the push need not
 * upload). 0 when linked, 1 when not (upload it), -1 when staging/ cannot
 * be written.
 */
static int link_staged_at(int fp, const char *fname, struct dir_cursor *to, const char *dst, long long want_size)
{
	const char *tname;
	int tp;
	struct stat st;

	if (fp < 0)
		return 1;
	tp = dir_cursor_parent(to, dst, &tname);
	if (tp < 0)
		return error_errno("cannot make the staging directory of '%s'", dst);
	if (linkat(fp, fname, tp, tname, 0))
		return link_soft_error(errno) ? 1 : error_errno("cannot stage '%s'", dst);
	if (fstatat(tp, tname, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
	    (want_size >= 0 && st.st_size != want_size)) {
		if (unlinkat(tp, tname, 0) && errno != ENOENT)
			return error_errno("cannot unstage '%s'", dst);
		return 1;
	}
	return 0;
}

/* files/src hard-linked to staging/<txn>/dst, as link_staged_at. */
static int link_staged(struct dir_cursor *from, const char *src, struct dir_cursor *to, const char *dst,
		       long long want_size)
{
	const char *fname;
	int fp = dir_cursor_parent(from, src, &fname);

	return link_staged_at(fp, fname, to, dst, want_size);
}

/*
 * Whether versions/XX of hash is there, asked once a push for each XX
 * (known: 0 not asked, 1 there, -1 not): a first push to a new server
 * then tries no link at all.
 */
static int kept_dir_there(int versions_fd, signed char known[VERSIONS_DIRS], const char *hash)
{
	char xx[3] = { hash[0], hash[1], '\0' };
	long i = strtol(xx, NULL, 16);
	struct stat st;

	if (!known[i])
		known[i] = !fstatat(versions_fd, xx, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) ? 1 : -1;
	return known[i] > 0;
}

/*
 * rsync writes a new file and renames it over the basis link, so the
 * head's inode keeps its content. Content the head lacks but versions/
 * keeps (a restore) is linked from there: no upload, and no inode more.
 * versions/XX/<hash> is named by its path, as versions_open() does: soc
 * made each versions/XX, and a cursor would open one a file, as a push's
 * new files scatter over all 256.
 */
int txn_stage(struct server *s, const char *id, const struct push_list *l, char *const *sources,
	      unsigned char *up)
{
	struct dir_cursor from, to;
	signed char known[VERSIONS_DIRS] = { 0 };
	int sfd = -1, rc = -1;
	size_t i;

	dir_cursor_init(&from, s->files_fd, 0, 0);
	dir_cursor_init(&to, -1, 0700, 0);
	if (mkdirat(s->staging_fd, id, 0700) ||
	    (sfd = openat(s->staging_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		error_errno("cannot make 'staging/%s'", id);
		goto out;
	}
	to.root = sfd;
	for (i = 0; i < l->n; i++) {
		const struct push_item *it = &l->v[i];
		int r = 1;

		up[i] = 0;
		if (!push_item_file(it))
			continue;
		if (sources[i])
			r = link_staged(&from, sources[i], &to, it->path, it->size);
		if (r > 0 && it->hash[0] && s->versions_fd >= 0 && kept_dir_there(s->versions_fd, known, it->hash)) {
			char blob[3 + HASH_HEX_LEN + 1];

			snprintf(blob, sizeof(blob), "%.2s/%s", it->hash, it->hash);
			r = link_staged_at(s->versions_fd, blob, &to, it->path, it->size);
		}
		if (r > 0 && it->base[0] && s->cluster) {
			char blob[3 + HASH_HEX_LEN + 1];

			/* Nothing but versions/ holds a cluster's head; the basis is its blob. */
			snprintf(blob, sizeof(blob), "%.2s/%s", it->base, it->base);
			r = link_staged_at(s->versions_fd, blob, &to, it->path, -1) < 0 ? -1 : 1;
		} else if (r > 0 && it->base[0]) {
			r = link_staged(&from, it->path, &to, it->path, -1) < 0 ? -1 : 1;
		}
		if (r < 0)
			goto out;
		up[i] = r > 0;
	}
	rc = 0;
out:
	dir_cursor_close(&from);
	dir_cursor_close(&to);
	if (sfd >= 0)
		close(sfd);
	return rc;
}

/* The test hook: a pause between the steps of an apply, so a test can kill the server there. */
static void pause_ms(long ms)
{
	if (ms)
		poll(NULL, 0, (int)ms);
}

/* Removes the directories a delete left empty, from the deepest up; never files/ itself. */
static int prune(int files_fd, const char *path, int durable)
{
	char *dir = xstrdup(path), *cut;
	int rc = 0;

	while ((cut = strrchr(dir, '/'))) {
		char *name;
		int pfd = files_fd;

		*cut = '\0';
		name = strrchr(dir, '/');
		if (name) {
			*name = '\0';
			pfd = beneath_open(files_fd, dir, O_RDONLY | O_DIRECTORY);
			*name++ = '/';
		} else {
			name = dir;
		}
		if (pfd < 0)
			break;
		if (unlinkat(pfd, name, AT_REMOVEDIR)) {
			if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT && errno != ENOTDIR)
				rc = error_errno("cannot remove the empty directory 'files/%s'", dir);
		} else if (durable && fsync(pfd)) {
			rc = error_errno("cannot sync the directory above 'files/%s'", dir);
		} else {
			cut = NULL;	/* removed: try its parent */
		}
		if (pfd != files_fd)
			close(pfd);
		if (cut)
			break;
	}
	free(dir);
	return rc;
}

/*
 * What stands at files/<path>, step by step without following anything:
 * 0 when the path can be written as soc writes it (every part absent, a
 * directory, or a regular file the head check already judged), with
 * *missing the length of the first part files/ lacks ("a/b" of "a/b/c/f"
 * when files/a is there and files/a/b is not; 0 when none is, or a file
 * ends the walk early); -1 when a symlink or a special file stands on
 * the way (errno EPERM), or -1 after a failed call.
 */
static int files_walk(int files_fd, const char *path, size_t *missing)
{
	char comp[PATH_COMPONENT_MAX + 1];
	const char *p = path, *slash;
	int dir = files_fd, rc = 0;

	*missing = 0;
	for (;;) {
		struct stat st;
		size_t n;
		int sub;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW)) {
			if (errno == ENOENT)
				*missing = (size_t)(p - path) + n;
			else
				rc = -1;
			break;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			errno = EPERM;
			rc = -1;
			break;
		}
		if (!slash || !S_ISDIR(st.st_mode))
			break;
		sub = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir != files_fd)
			close(dir);
		dir = sub;
		if (dir < 0)
			return -1;
		p = slash + 1;
	}
	if (dir != files_fd) {
		int e = errno;

		close(dir);
		errno = e;
	}
	return rc;
}

/*
 * The length of the first directory on path that files/ lacks; 0 when
 * every parent is there, or something else stands in the way (the
 * rename of each path then finds it); -1 and errno.
 */
static ssize_t missing_top(int files_fd, const char *path)
{
	size_t missing;

	if (files_walk(files_fd, path, &missing))
		return errno == EPERM ? 0 : -1;
	return missing < strlen(path) ? (ssize_t)missing : 0;
}

/*
 * Deletes first, then renames, so a path that turns from a file into a
 * directory (or back) within one push finds its way clear.
 *
 * A large push moves a directory files/ lacks in one rename of
 * commit/<txn>/<dir>, which holds nothing but this push's checked files,
 * so it carries every path under it at once (a first push of 10,000
 * files in 100 directories: 1 rename, not 10,000). Only a large push:
 * the entries inside were made in commit/ without an fsync each, and
 * only its closing syncfs makes them durable. A second try after a crash
 * finds the directory in files/ and checks each path as below.
 */
int txn_apply_files(struct server *s, const char *id, const struct push_list *l, long pause)
{
	struct dir_cursor dst, src;
	struct buf moved_dir = BUF_INIT;	/* a directory renamed whole, while paths under it come */
	const char *last = NULL;	/* the last path deleted */
	int cfd, rc = -1, batch = l->n > SYNC_EACH_MAX;
	size_t i;

	/* Gone only if a crash came after the publish, which needs nothing more from it. */
	cfd = openat(s->commit_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0 && errno != ENOENT)
		return error_errno("cannot open 'commit/%s'", id);
	dir_cursor_init(&dst, s->files_fd, 0, !batch);
	dir_cursor_init(&src, cfd, 0, 0);
	for (i = 0; i < l->n; i++) {
		const struct push_item *it = &l->v[i];
		const char *name;
		int dir;

		/* A link takes its path out of files/ as a delete does: the database holds it. */
		if (push_item_file(it))
			continue;
		/* Leaving a directory: prune what the last delete in it may have emptied. */
		if (last && !path_same_dir(last, it->path) && prune(s->files_fd, last, !batch))
			goto out;
		dir = dir_cursor_parent(&dst, it->path, &name);
		if (dir < 0 && errno != ENOENT && errno != ENOTDIR) {
			error_errno("cannot open the directory of 'files/%s'", it->path);
			goto out;
		}
		/*
		 * A link in the place of a directory: the files under it are
		 * this push's deletes (the head check saw to it), which come
		 * next in path order, and their prune takes the directory.
		 */
		if (dir >= 0 && unlinkat(dir, name, 0) && errno != ENOENT && !(it->target && errno == EISDIR)) {
			error_errno("cannot delete 'files/%s'", it->path);
			goto out;
		}
		if (dir >= 0)
			dst.dirty = 1;
		last = it->path;
		pause_ms(pause);
	}
	if (dir_cursor_sync(&dst) || (last && prune(s->files_fd, last, !batch))) {
		error_errno("cannot sync a directory of files/");
		goto out;
	}
	dir_cursor_close(&dst);
	dir_cursor_init(&dst, s->files_fd, 0755, !batch);
	last = NULL;	/* now: the last path renamed */
	for (i = 0; i < l->n; i++) {
		const struct push_item *it = &l->v[i];
		const char *name, *sname;
		int dir, from, moved, gone;

		if (!push_item_file(it))
			continue;
		/* Paths sorted by strcmp: those under a directory moved whole come next to each other. */
		if (moved_dir.len && !strncmp(it->path, moved_dir.p, moved_dir.len) &&
		    it->path[moved_dir.len] == '/')
			continue;
		buf_reset(&moved_dir);
		if (batch && cfd >= 0 && (!last || !path_same_dir(last, it->path))) {
			ssize_t top = missing_top(s->files_fd, it->path);

			if (top < 0) {
				error_errno("cannot look at the directories of 'files/%s'", it->path);
				goto out;
			}
			if (top > 0) {
				buf_add(&moved_dir, it->path, (size_t)top);
				dir = dir_cursor_parent(&dst, moved_dir.p, &name);
				from = dir_cursor_parent(&src, moved_dir.p, &sname);
				if (dir >= 0 && from >= 0 && !renameat(from, sname, dir, name)) {
					dst.dirty = 1;
					last = it->path;
					pause_ms(pause);
					continue;
				}
				/* Not there to move whole: each path on its own, below. */
				buf_reset(&moved_dir);
			}
		}
		last = it->path;
		dir = dir_cursor_parent(&dst, it->path, &name);
		if (dir < 0) {
			error_errno("cannot make the directory of 'files/%s'", it->path);
			goto out;
		}
		/* The source is gone when an earlier try renamed it already. */
		from = cfd < 0 ? -1 : dir_cursor_parent(&src, it->path, &sname);
		if (from < 0)
			moved = 0, gone = cfd < 0 || errno == ENOENT;
		else if (!renameat(from, sname, dir, name))
			moved = 1, gone = 0;
		/* An empty directory a crash left where the file goes. */
		else if (errno == EISDIR && !unlinkat(dir, name, AT_REMOVEDIR) &&
			 !renameat(from, sname, dir, name))
			moved = 1, gone = 0;
		else
			moved = 0, gone = errno == ENOENT;
		if (!moved && !gone) {
			error_errno("cannot move 'commit/%s/%s' into files/", id, it->path);
			goto out;
		}
		if (!moved && !hash_file_is(dir, name, it->hash, (int64_t)it->size)) {
			error("'commit/%s/%s' is gone and 'files/%s' is not what the push holds",
			      id, it->path, it->path);
			goto out;
		}
		dst.dirty = 1;
		pause_ms(pause);
	}
	if (dir_cursor_sync(&dst) || (batch && syncfs(s->files_fd))) {
		error_errno("cannot sync a directory of files/");
		goto out;
	}
	rc = 0;
out:
	buf_free(&moved_dir);
	dir_cursor_close(&dst);
	dir_cursor_close(&src);
	if (cfd >= 0)
		close(cfd);
	return rc;
}

long txn_check_targets(struct server *s, const struct push_list *l, json_t *bad)
{
	const char *absent = NULL;	/* a directory files/ lacks: nothing under it needs a walk */
	size_t absent_len = 0;
	long nbad = 0;

	for (size_t i = 0; i < l->n; i++) {
		const char *path = l->v[i].path;
		size_t missing;

		/* Sorted by path: a new directory's files come one after another. */
		if (absent && !strncmp(path, absent, absent_len) && path[absent_len] == '/')
			continue;
		if (!files_walk(s->files_fd, path, &missing)) {
			if (missing && path[missing] == '/')
				absent = path, absent_len = missing;
			continue;
		}
		if (errno != EPERM)
			return error_errno("cannot look at 'files/%s'", l->v[i].path);
		error("'files/%s' leads through a symlink or special file soc did not write; "
		      "run 'soc serve check'", l->v[i].path);
		json_array_append_new(bad, json_string(l->v[i].path));
		nbad++;
	}
	return nbad;
}
