/*
 * pull_apply.c: soc pull's plan placed in the workspace, durably.
 * Each download replaces its path by rename, only if the local file is
 * still what the scan saw; if it changed meanwhile, the download becomes
 * a conflict copy instead. Parent directories are opened through no
 * symlink (beneath.h), so a symlinked directory in the workspace cannot
 * redirect a write. soc restore (restore_apply.c) places with the same
 * helpers (pull.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "pull.h"
#include "testhook.h"

/*
 * The executable bit is merged on its own, as git merges it: it has two
 * values only, so a side that did not change it since the sync takes the
 * other's, and two sides that changed it agree. The content's row of the
 * table (decide(), cmd_pull.c) is followed whatever the mode does: a mode never makes a
 * conflict, and a file kept here (x y x, or a conflict) keeps its
 * content and takes the server's mode only if ours is unchanged. A mode
 * never synced (a file new here) counts as changed: ours wins, and push
 * sends it. A link has no bits to merge: a version placed as a link is
 * one, and a file kept here beside a link keeps its own.
 */
static unsigned mode_merge(const struct scan_item *it, unsigned remote)
{
	if (!it || !it->present || remote == MODE_LINK)
		return remote;
	if (it->e.mode == MODE_LINK || it->e.base_mode == MODE_LINK)
		return it->e.mode == MODE_LINK ? remote : it->e.mode;
	if (!it->e.base_mode || it->e.mode != it->e.base_mode)
		return it->e.mode;
	return remote;
}

/* The apply wrote, renamed or removed path: pull_make_durable() will sync it. */
void note_placed(struct plan *p, const char *path)
{
	if (p->nplaced < PULL_SYNC_EACH_MAX)
		p->placed[p->nplaced] = xstrdup(path);
	p->nplaced++;
}

/*
 * "a/b.txt" -> "a/b.conflict-r7.txt", the k-th try past the first
 * "a/b.conflict-r7-k.txt"; a name with no extension, or a dot file, gets
 * it at the end. word is "conflict", or "restore" for soc restore's copy.
 */
char *conflict_name(const char *path, const char *word, long long rev, int k)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');
	char tag[64];

	if (k > 1)
		snprintf(tag, sizeof(tag), ".%s-r%lld-%d", word, rev, k);
	else
		snprintf(tag, sizeof(tag), ".%s-r%lld", word, rev);
	if (!dot || dot == base)
		return xasprintf("%s%s", path, tag);
	return xasprintf("%.*s%s%s", (int)(dot - path), path, tag, dot);
}

/*
 * Opens the directory holding `path` under dirfd, creating missing
 * directories, refusing symlinks and anything not a directory on the way.
 * *base gets the last component. The fd, or -1 after a message; without
 * create, a missing directory is -1 with errno ENOENT and no message.
 */
int open_parent(int dirfd, const char *path, const char **base, int create)
{
	const char *slash = strrchr(path, '/');
	struct beneath_fail fail;
	int fd;

	*base = slash ? slash + 1 : path;
	fd = beneath_dir(dirfd, path, slash ? (size_t)(slash - path) : 0, create ? 0777 : 0,
			 create == MAKE_SPREAD ? BENEATH_SPREAD : 0, &fail);
	if (fd >= 0)
		return fd;
	if (!slash)
		return error_errno("cannot open the directory of '%s'", show_path(path));
	if (fail.made)
		return error_errno("cannot make the directory for '%s'", show_path(path));
	/* Looking, not creating: a missing directory is the caller's answer, not an error. */
	if (create || errno != ENOENT) {
		char *dir = xstrndup(path, fail.at);

		error_errno("cannot open the directory '%s' for '%s'", show_path(dir), show_path(path));
		free(dir);
	}
	return -1;
}

int dir_at_open(struct dir_at *d, int dirfd, const char *path, const char **base, int create)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	*base = slash ? slash + 1 : path;
	if (d->fd >= 0 && d->dir.len == len && (!len || !memcmp(d->dir.p, path, len)))
		return d->fd;
	dir_at_close(d);
	d->fd = create ? open_parent(dirfd, path, base, create) : beneath_dir(dirfd, path, len, 0, 0, NULL);
	if (d->fd >= 0)
		buf_add(&d->dir, path, len);
	return d->fd;
}

void dir_at_close(struct dir_at *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	buf_free(&d->dir);
}

/* The local file is still exactly what the scan saw (absent stays absent). */
int unchanged_since_scan(int parent, const char *base, const struct scan_item *it)
{
	struct stat st;

	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT && !(it && it->present);
	if (!(it && it->present) || !(it->e.mode == MODE_LINK ? S_ISLNK(st.st_mode) : S_ISREG(st.st_mode)))
		return 0;
	return (uint64_t)st.st_size == it->e.size && (uint64_t)st.st_ino == it->e.ino &&
	       mtime_ns(&st.st_mtim) == it->e.mtime_ns;
}

/*
 * Gives path (under dirfd, its last component not followed) the
 * executable bit of mode, as rsync's --executability does: on, an x for
 * each r; off, no x at all. The other bits stay as the umask made them.
 */
int set_exec(int dirfd, const char *path, const char *show, unsigned mode)
{
	struct stat st;
	mode_t now, want;
	int fd;

	if (mode == MODE_LINK)
		return 0;	/* a link's own bits mean nothing */
	/* Most files have the mode already: one look, no open. */
	if (!fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	    !(mode & 0111) == !(st.st_mode & 0111) &&
	    (!(mode & 0111) || (st.st_mode & 0111) == ((st.st_mode & 0444) >> 2)))
		return 0;
	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s' to set its mode", show_path(show));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return error("cannot set the mode of '%s': not a file", show_path(show));
	}
	now = st.st_mode & 07777;
	want = (mode & 0111) ? now | ((now & 0444) >> 2) : now & ~(mode_t)0111;
	if (want != now && fchmod(fd, want)) {
		error_errno("cannot set the mode of '%s'", show_path(show));
		close(fd);
		return -1;
	}
	if (close(fd))
		return error_errno("cannot set the mode of '%s'", show_path(show));
	return 0;
}

/* The local file of a row gets the merged mode, when that is not the one it has. 1 when changed. */
static int merge_local_mode(int root, const struct scan_item *it, const struct remote_row *r)
{
	unsigned want = mode_merge(it, r->mode);
	const char *base;
	int parent, rc;

	if (!it || !it->present || want == it->e.mode || want == MODE_LINK || it->e.mode == MODE_LINK)
		return 0;
	parent = open_parent(root, r->path, &base, 0);
	if (parent < 0)
		return errno == ENOENT ? error("cannot set the mode of '%s': it is gone", show_path(r->path)) : -1;
	rc = set_exec(parent, base, r->path, want);
	close(parent);
	return rc ? -1 : 1;
}

/* The sha256 of dir/name, a file or a link as st says: 0, or -1 and errno. */
static int hash_at(int dir, const char *name, const struct stat *st, char hash[HASH_HEX_LEN + 1])
{
	uint64_t n;
	int fd, rc;

	if (S_ISLNK(st->st_mode))
		return link_hash(dir, name, hash, &n);
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = hash_fd(fd, hash, NULL);
	close(fd);
	return rc;
}

/* Also for the plan (cmd_pull.c): a file in the way of a row is looked at, never trusted. */
int pull_look_untracked(struct workspace *ws, int root, const char *path, struct scan_item *out)
{
	struct beneath_fail fail;
	char hex[HASH_HEX_LEN + 1];
	const char *base;
	struct stat st;
	int parent, rc;

	memset(out, 0, sizeof(*out));
	out->e.path = (char *)path;
	base = strrchr(path, '/');
	parent = beneath_dir(root, path, base ? (size_t)(base - path) : 0, 0, 0, &fail);
	if (parent < 0 && errno == ENOTDIR) {
		/* Each message names what ends it: the pull places the rest meanwhile. */
		char *dir = xstrndup(path, fail.at);

		error("cannot pull '%s': '%s' here is not a directory; move it away, then pull again",
		      show_path(path), show_path(dir));
		free(dir);
		return -1;
	}
	if (parent < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open the directory of '%s'", show_path(path));
	base = base ? base + 1 : path;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW)) {
		close(parent);
		return errno == ENOENT ? 0 : error_errno("cannot look at '%s'", show_path(path));
	}
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		close(parent);
		return error("cannot pull '%s': %s here is in the way; move it away, then pull again",
			     show_path(path), S_ISDIR(st.st_mode) ? "a directory" : "something not a file");
	}
	rc = hash_at(parent, base, &st, hex);
	close(parent);
	digest_from_hex(&out->e.hash, rc ? "" : hex);
	if (rc)
		return S_ISLNK(st.st_mode) ? error("cannot read the symlink '%s': %s", show_path(path),
						    link_error(errno))
					   : error_errno("cannot read '%s'", show_path(path));
	out->present = 1;
	out->change = CH_ADDED;
	out->e.size = (uint64_t)st.st_size;
	out->e.ino = (uint64_t)st.st_ino;
	out->e.mtime_ns = mtime_ns(&st.st_mtim);
	out->e.ctime_ns = mtime_ns(&st.st_ctim);
	out->e.mode = mode_of(st.st_mode);
	(void)ws;
	return 0;
}

int entry_from_stat(int parent, const char *base, const char *path, const char *hash,
		    unsigned synced_mode, struct entry *e)
{
	struct stat st;

	memset(e, 0, sizeof(*e));
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW))
		return error_errno("cannot look at '%s'", show_path(path));
	e->path = (char *)path;
	e->size = (uint64_t)st.st_size;
	e->ino = (uint64_t)st.st_ino;
	e->mtime_ns = mtime_ns(&st.st_mtim);
	e->ctime_ns = mtime_ns(&st.st_ctim);
	e->mode = mode_of(st.st_mode);
	digest_from_hex(&e->hash, hash);
	e->base = e->hash;
	e->base_mode = synced_mode;
	return 0;
}

/*
 * *e for a download of row r just placed at dir/name, given the mode the
 * merge wants. rsync's --executability gave it the server's bit already,
 * so the mode is set only when the merge keeps ours: one stat a file, not
 * two, the second only after a chmod.
 */
static int entry_with_mode(int dir, const char *name, const struct remote_row *r, unsigned want,
			   struct entry *e)
{
	if (entry_from_stat(dir, name, r->path, r->hash, r->mode, e))
		return -1;
	if (want == MODE_LINK || e->mode == want)
		return 0;
	return set_exec(dir, name, r->path, want) || entry_from_stat(dir, name, r->path, r->hash, r->mode, e)
		       ? -1 : 0;
}

/*
 * Renames from/fname to dir/name unless something is there: 1 when
 * renamed, 0 when the name is taken, -1 and errno. A filesystem without
 * RENAME_NOREPLACE gets a look first, which a file made in between under
 * the same name could beat: a name soc makes up for a conflict copy.
 */
int rename_new(int from, const char *fname, int dir, const char *name)
{
	struct stat st;

	if (!renameat2(from, fname, dir, name, RENAME_NOREPLACE))
		return 1;
	if (errno == EEXIST)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (!fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW))
		return 0;
	if (errno != ENOENT)
		return -1;
	return renameat(from, fname, dir, name) ? -1 : 1;
}

/* Writes the server's version beside ours and marks the path in conflict. */
static int place_conflict(struct workspace *ws, int root, int inc, struct plan *p, size_t i,
			  const struct scan_item *it, struct counts *c)
{
	const struct remote_row *r = &p->rows[i];
	char *cname = NULL;
	const char *base;
	int parent = -1, rc = -1, k, placed;

	/*
	 * A copy by that name is there already when an earlier pull at this
	 * revision stopped before recording the conflict: the same content
	 * stands, and one the user has edited since is never overwritten.
	 */
	for (k = 1;; k++) {
		free(cname);
		cname = conflict_name(r->path, "conflict", p->head, k);
		parent = open_parent(root, cname, &base, 1);
		if (parent < 0)
			goto out;
		placed = rename_new(inc, r->path, parent, base);
		if (placed < 0) {
			error_errno("cannot write '%s'", show_path(cname));
			goto out;
		}
		if (placed || hash_file_is(parent, base, r->hash, -1))
			break;	/* a download left in incoming/ goes with it */
		close(parent);
		parent = -1;
		if (k == CONFLICT_COPIES_MAX) {
			free(cname);
			cname = conflict_name(r->path, "conflict", p->head, 1);
			error("cannot write the server's version of '%s': '%s' and %d more names like it "
			      "are taken", show_path(r->path), show_path(cname), k - 1);
			goto out;
		}
	}
	note_placed(p, cname);
	if (!it->e.base.set) {
		/* none y z: our file becomes tracked, in conflict. */
		struct entry e = it->e;

		digest_from_hex(&e.base, r->hash);
		e.base_mode = r->mode;
		e.conflict = 1;
		rc = index_record(ws, &e);
	} else {
		rc = index_set_base(ws, r->path, r->hash, r->mode) || index_set_conflict(ws, r->path, 1) ? -1 : 0;
	}
	c->conflicts++;
	fprintf(stderr, "%s: conflict in '%s': kept yours%s, the server's is in '%s'\n", soc_prog,
		show_path(r->path), it->present ? "" : " (a directory)", show_path(cname));
out:
	if (parent >= 0)
		close(parent);
	free(cname);
	return rc;
}

/*
 * A file new here came from a directory the pushing side tracks: its
 * top-level directory is tracked here from now on, so a file created in it
 * is pushed, as git tracks what a clone brought. Rows come sorted, so each
 * directory is asked for once.
 */
int track_top_dir(struct workspace *ws, struct plan *p, const char *path)
{
	const char *slash = strchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (!n || (p->last_root.len == n && !memcmp(p->last_root.p, path, n)))
		return 0;
	buf_reset(&p->last_root);
	buf_add(&p->last_root, path, n);
	return index_pulled_root(ws, p->last_root.p);
}

/*
 * A first pull into an empty workspace renamed each file into place one by
 * one, each after opening its directory and looking at what is there, a
 * cost that grows with the files. A top directory the workspace lacks,
 * whose every row is a file to take, moves from incoming/ in one rename
 * instead, and RENAME_NOREPLACE fails if the directory appeared meanwhile
 * (each file then goes as before): nothing of the user's can be in it.
 * incoming/<dir> must hold those files and nothing else: while a push
 * applies, the server's files/ runs ahead of the head we were told, and a
 * whole-head fetch can bring a file no row names.
 */

/* Is path under the directory dir[0..n)? */
static int in_dir(const char *path, const char *dir, size_t n)
{
	return !strncmp(path, dir, n) && path[n] == '/';
}

static int cmp_row_path(const void *key, const void *row)
{
	return strcmp(key, ((const struct remote_row *)row)->path);
}

/*
 * incoming/<dir> holds the files of rows lo..hi-1, directories, and
 * nothing else. Each directory read loses the mark incoming/ gave it
 * (beneath_spread()): it is about to be the user's.
 */
static int ready_to_move(int inc, const char *dir, const struct plan *p, size_t lo, size_t hi)
{
	size_t ntodo = 0, cap = 16, files = 0;
	char **todo = xcalloc(cap, sizeof(*todo));	/* directories still to read */
	struct buf path = BUF_INIT;
	int ok = 1;

	todo[ntodo++] = xstrdup(dir);
	while (ntodo) {
		char *cur = todo[--ntodo];
		struct dirent *de;
		DIR *d = NULL;
		int fd;

		buf_reset(&path);
		buf_addstr(&path, cur);
		free(cur);
		fd = ok ? beneath_dir(inc, path.p, path.len, 0, 0, NULL) : -1;
		if (fd >= 0)
			beneath_spread(fd, 0);
		if (fd >= 0 && !(d = fdopendir(fd)))
			close(fd);
		if (!d) {
			ok = 0;
			continue;	/* and free the rest */
		}
		while (ok && (de = readdir(d))) {
			size_t at = path.len;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			buf_addch(&path, '/');
			buf_addstr(&path, de->d_name);
			if (de->d_type == DT_DIR) {
				if (ntodo == cap)
					todo = xrealloc(todo, (cap *= 2) * sizeof(*todo));
				todo[ntodo++] = xstrdup(path.p);
			} else if ((de->d_type == DT_REG || de->d_type == DT_LNK) &&
				   bsearch(path.p, p->rows + lo, hi - lo, sizeof(*p->rows), cmp_row_path)) {
				files++;
			} else {
				ok = 0;	/* anything else, DT_UNKNOWN too: each file goes on its own */
			}
			path.len = at;
			path.p[at] = '\0';
		}
		closedir(d);
	}
	free(todo);
	buf_free(&path);
	return ok && files == hi - lo;
}

/*
 * Rows from i on, when row i begins a top directory to move whole: moves
 * it and records its rows. How many rows it placed; 0 when the caller
 * places each, as always. *failed set when the index could not record.
 */
static size_t move_top_dir(struct workspace *ws, int root, int inc, struct plan *p, size_t i,
			   struct counts *c, int *failed)
{
	const char *path = p->rows[i].path, *slash = strchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0, hi, k;
	struct entry *e = NULL;
	struct stat st;
	char *dir;

	/* Once a directory, at its first row; each row to take, nothing of it here. */
	if (!n || (i && in_dir(p->rows[i - 1].path, path, n)))
		return 0;
	for (hi = i; hi < p->n && in_dir(p->rows[hi].path, path, n); hi++)
		;
	for (k = i; k < hi; k++)
		if (p->act[k] != A_TAKE || p->local[k])
			return 0;
	dir = xstrndup(path, n);
	if (!fstatat(root, dir, &st, AT_SYMLINK_NOFOLLOW) || errno != ENOENT ||
	    !ready_to_move(inc, dir, p, i, hi))
		goto keep;
	e = xcalloc(hi - i, sizeof(*e));
	for (k = i; k < hi; k++) {
		const struct remote_row *r = &p->rows[k];

		if (entry_with_mode(inc, r->path, r, mode_merge(NULL, r->mode), &e[k - i]))
			goto keep;
	}
	if (renameat2(inc, dir, root, dir, RENAME_NOREPLACE))
		goto keep;
	/* A rename leaves its files' inodes, mtimes and ctimes as they were: the entries stand. */
	note_placed(p, dir);
	for (k = i; k < hi && !*failed; k++) {
		note_placed(p, p->rows[k].path);
		if (index_record(ws, &e[k - i]))
			*failed = 1;
		c->updated++;
	}
	if (!*failed && track_top_dir(ws, p, path))
		*failed = 1;
	free(e);
	free(dir);
	return hi - i;
keep:
	free(e);
	free(dir);
	return 0;
}

static int cmp_root_path(const void *key, const void *root)
{
	return strcmp(key, ((const struct root *)root)->path);
}

/*
 * A pulled delete takes the directories it leaves empty, from the deepest
 * up, as the server's apply does in files/ and git's checkout does: a
 * directory deleted on another machine does not linger here empty. Never
 * the workspace root nor a root given to soc add (it stays tracked, and
 * new files in it are pushed), and never a directory holding anything,
 * an untracked or ignored file say: rmdir(2) refuses those. Returns how
 * much of path names the shallowest directory removed, 0 for none.
 */
static size_t prune_dirs(int root, const char *path, const struct index_snapshot *roots)
{
	char dir[PATH_BYTES_MAX + 1];
	size_t len = strlen(path), removed = 0;

	if (len > PATH_BYTES_MAX)
		return 0;
	memcpy(dir, path, len + 1);
	for (;;) {
		const char *base;
		int parent, rc;

		while (len && dir[len - 1] != '/')
			len--;
		if (!len)
			return removed;
		dir[--len] = '\0';
		if (roots->nroots && bsearch(dir, roots->roots, roots->nroots, sizeof(*roots->roots),
					     cmp_root_path))
			return removed;
		parent = open_parent(root, dir, &base, 0);
		if (parent < 0)
			return removed;
		rc = unlinkat(parent, base, AT_REMOVEDIR);
		close(parent);
		if (rc)
			return removed;	/* not empty, mostly: left as it is, quietly */
		removed = len;
	}
}

/*
 * x y gone, and x/ comes from the server: our edit moves out of its way
 * to a conflict copy, tracked as a new file in conflict until 'soc add'.
 */
static int move_aside(struct workspace *ws, int root, struct plan *p, size_t i, struct counts *c)
{
	const struct remote_row *r = &p->rows[i];
	const struct scan_item *it = p->local[i];
	const char *base, *cbase;
	char *cname = NULL, hex[HASH_HEX_LEN + 1];
	struct entry e;
	int parent = open_parent(root, r->path, &base, 0), rc = -1, placed = 0;

	if (parent < 0)
		return -1;
	if (!unchanged_since_scan(parent, base, it)) {
		error("cannot pull '%s': it changed while pulling; pull again", show_path(r->path));
		goto out;
	}
	for (int k = 1; k <= CONFLICT_COPIES_MAX && !placed; k++) {
		free(cname);
		cname = conflict_name(r->path, "conflict", p->head, k);
		cbase = strrchr(cname, '/') ? strrchr(cname, '/') + 1 : cname;
		placed = rename_new(parent, base, parent, cbase);
	}
	if (placed <= 0) {
		error_errno("cannot move '%s' out of the way of the server's directory to '%s'",
			    show_path(r->path), show_path(cname));
		goto out;
	}
	note_placed(p, cname);
	digest_hex(&it->e.hash, hex);
	if (entry_from_stat(parent, cbase, cname, hex, 0, &e))
		goto out;
	e.base.set = 0;
	e.conflict = 1;
	rc = index_drop(ws, r->path) || index_record(ws, &e) ? -1 : 0;
	c->conflicts++;
	fprintf(stderr, "%s: conflict in '%s': the server made it a directory; yours is in '%s'\n",
		soc_prog, show_path(r->path), show_path(cname));
out:
	close(parent);
	free(cname);
	return rc;
}

/* dirs: the directory the last file taken went to, kept open for the next (dir_at). */
static int apply_one(struct workspace *ws, int root, int inc, struct plan *p, size_t i,
		     struct counts *c, struct dir_at *dirs)
{
	const struct remote_row *r = &p->rows[i];
	const struct scan_item *it = p->local[i];
	const char *base;
	struct entry e;
	int parent, rc = 0;

	switch (p->act[i]) {
	case A_NONE:
		return 0;
	case A_BLOCKED:
		return -1;	/* said when planned */
	case A_MODE:
		if ((rc = merge_local_mode(root, it, r)) < 0)
			return -1;
		if (rc) {
			c->updated++;
			note_placed(p, r->path);
		} else {
			c->recorded++;
		}
		return index_set_base(ws, r->path, r->hash, r->mode);
	case A_RECORD:
		c->recorded++;
		if (merge_local_mode(root, it, r) < 0)
			return -1;
		if (it && !it->e.base.set && it->change == CH_ADDED && !it->e.conflict) {
			e = it->e;
			digest_from_hex(&e.base, r->hash);
			e.base_mode = r->mode;
			return index_record(ws, &e);
		}
		return index_set_base(ws, r->path, r->hash, r->mode);
	case A_DROP:
		return index_drop(ws, r->path);
	case A_KEEP_NEW:
		c->kept++;
		say("kept '%s': edited here and deleted on the server; push sends it again\n", show_path(r->path));
		return index_set_base(ws, r->path, "", 0);
	case A_DELETE:
		parent = open_parent(root, r->path, &base, 0);
		if (parent < 0 && errno == ENOENT)
			return index_drop(ws, r->path);	/* gone here too, directory and all */
		if (parent < 0)
			return -1;
		if (!unchanged_since_scan(parent, base, it)) {
			c->kept++;
			say("kept '%s': changed here while pulling its delete\n", show_path(r->path));
			rc = index_set_base(ws, r->path, "", 0);
		} else if (unlinkat(parent, base, 0) && errno != ENOENT) {
			rc = error_errno("cannot delete '%s'", show_path(r->path));
		} else {
			/* A directory removed with it: what held it is synced instead. */
			size_t gone = prune_dirs(root, r->path, &p->roots);
			char *placed = gone ? xstrndup(r->path, gone) : NULL;

			c->deleted++;
			note_placed(p, placed ? placed : r->path);
			free(placed);
			rc = index_drop(ws, r->path);
		}
		close(parent);
		return rc;
	case A_ASIDE:
		return move_aside(ws, root, p, i, c);
	case A_CONFLICT:
		if (merge_local_mode(root, it, r) < 0)
			return -1;
		return place_conflict(ws, root, inc, p, i, it, c);
	case A_TAKE:
	case A_RESTORE:
		parent = dir_at_open(dirs, root, r->path, &base, 1);
		if (parent < 0)
			return -1;
		/* An empty directory gives way (the deletes of a swap emptied it); rmdir refuses any other. */
		if (!unchanged_since_scan(parent, base, it) && (it || unlinkat(parent, base, AT_REMOVEDIR))) {
			/* Edited or created while we downloaded: never overwrite it. */
			dir_at_close(dirs);
			if (!it) {
				struct scan_item now;

				if (pull_look_untracked(ws, root, r->path, &now))
					return -1;
				return place_conflict(ws, root, inc, p, i, &now, c);
			}
			return place_conflict(ws, root, inc, p, i, it, c);
		}
		if (renameat(inc, r->path, parent, base)) {
			rc = error_errno("cannot write '%s'", show_path(r->path));
		} else {
			note_placed(p, r->path);
			rc = entry_with_mode(parent, base, r, mode_merge(it, r->mode), &e);
		}
		if (!rc) {
			rc = index_record(ws, &e);
			if (!rc && !it)
				rc = track_top_dir(ws, p, r->path);
			if (p->act[i] == A_RESTORE) {
				c->restored++;
				say("restored '%s': deleted here, edited on the server\n", show_path(r->path));
			} else {
				c->updated++;
			}
		}
		return rc;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void pull_clear_incoming(struct workspace *ws)
{
	char *dir = xasprintf("%s/" INCOMING_DIR, ws->root);

	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		warning_errno("cannot clear '%s'", dir);
	free(dir);
}

/* What frees a path: done before anything is created, for a file and a directory swapped. */
static int frees(enum action a)
{
	return a == A_DELETE || a == A_DROP || a == A_KEEP_NEW || a == A_ASIDE;
}

int pull_apply(struct workspace *ws, int root, int inc, struct plan *p, struct counts *c)
{
	struct dir_at dirs = DIR_AT_INIT;
	int failed = 0;

	for (size_t i = 0; i < p->n; i++)
		if (frees(p->act[i]) && apply_one(ws, root, inc, p, i, c, &dirs))
			failed = 1;
	for (size_t i = 0; i < p->n; i++) {
		size_t moved;

		/* Only a run of files taken shares the open directory: anything else may move one. */
		if (p->act[i] != A_TAKE && p->act[i] != A_RESTORE)
			dir_at_close(&dirs);
		moved = inc >= 0 ? move_top_dir(ws, root, inc, p, i, c, &failed) : 0;
		if (!moved && frees(p->act[i]))
			continue;

		if (moved) {
			dir_at_close(&dirs);
			i += moved - 1;
		} else if (apply_one(ws, root, inc, p, i, c, &dirs)) {
			failed = 1;
		}
	}
	dir_at_close(&dirs);
	return failed;
}
