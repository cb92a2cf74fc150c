/*
 * pull_fetch.c: a pull's downloads: the fetch (big new files by GET blob,
 * most of the rest by the fetch stream, pull_stream.c, and what is left
 * by rsync), rsync's delta basis (the files here, hard-linked into
 * incoming/), the check of every download rsync made against the sha256
 * the server listed, and the links the plan places, made beside the
 * downloads.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "pull.h"
#include "testhook.h"

#define VERIFY_BYTES_PER_THREAD (4 << 20)	/* downloads a thread of pull_verify() hashes at least */

int pull_open_incoming(int root)
{
	int fd;

	if ((mkdirat(root, INCOMING_DIR, 0700) && errno != EEXIST) ||
	    (fd = openat(root, INCOMING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return error_errno("cannot make '%s'", INCOMING_DIR);
	beneath_spread(fd, 1);
	return fd;
}

/*
 * rsync looks for a basis file under --copy-dest by its path and follows
 * any symlink on the way: a link here where the server has a file (f ->
 * ~/.ssh/id_ed25519) or a directory (d -> /etc, and the server's
 * d/passwd) would have rsync read what it points at and send its block
 * checksums to the server. The workspace is a basis only when no download
 * has a link in its place or on its way here. A tracked regular file was
 * seen so by the scan; any other path is looked at, each directory opened
 * once (rows are sorted).
 */
static int basis_safe(int root, const struct plan *p)
{
	struct dir_at dirs = DIR_AT_INIT;
	int safe = 1;

	for (size_t i = 0; i < p->n && safe; i++) {
		const struct scan_item *it = p->local[i];
		const char *name;
		struct stat st;
		int dir;

		if (!pull_by_rsync(p, i) || (it && it->present && it->e.mode != MODE_LINK))
			continue;
		if (it && it->present) {
			safe = 0;	/* a link of ours where the server has a file */
			break;
		}
		/* A directory missing is safe (nothing below it); a link or a file on the way is not. */
		dir = dir_at_open(&dirs, root, p->rows[i].path, &name, 0);
		if (dir < 0)
			safe = errno == ENOENT;
		else if (!fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
			safe = 0;
	}
	dir_at_close(&dirs);
	return safe;
}

/*
 * rsync's delta basis for a download of a file here is that file,
 * hard-linked into incoming/ at its path: rsync finds it where it writes,
 * as `rsync -a` updates a tree in place, and replaces the link with the
 * new file, never writing into ours. With --copy-dest instead, rsync
 * resolves every basis by the workspace's absolute path, a dozen calls a
 * file (bench/README). Only a regular file is linked, from a directory
 * opened through no symlink. 1 when done, 0 when this filesystem cannot
 * link (EXDEV, EPERM: the caller falls back to --copy-dest), -1 after a
 * message.
 */
static int link_basis(int root, const struct plan *p)
{
	struct dir_at from = DIR_AT_INIT, to = DIR_AT_INIT;
	int inc, rc = 1, no_links = test_hook_flag(HOOK_NO_HARDLINK);

	if ((inc = pull_open_incoming(root)) < 0)
		return -1;
	for (size_t i = 0; i < p->n && rc > 0; i++) {
		const struct scan_item *it = p->local[i];
		const char *name, *tname;
		struct stat st;
		int src, dst;

		if (!pull_by_rsync(p, i) || !it || !it->present || it->e.mode == MODE_LINK)
			continue;
		/* Not there as the scan saw it (gone, or a link on its way now): no basis. */
		if ((src = dir_at_open(&from, root, p->rows[i].path, &name, 0)) < 0)
			continue;
		if ((dst = dir_at_open(&to, inc, p->rows[i].path, &tname, MAKE_SPREAD)) < 0) {
			rc = -1;
			break;
		}
		if (no_links ? (errno = EPERM) : linkat(src, name, dst, tname, 0)) {
			if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == EOPNOTSUPP)
				rc = 0;
			else if (errno != ENOENT && errno != EEXIST)
				rc = error_errno("cannot link '%s' into '%s'", show_path(p->rows[i].path),
						 INCOMING_DIR);
			continue;
		}
		/* Swapped for a link since the scan: linkat took the link itself, which rsync would follow. */
		if (fstatat(dst, tname, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			unlinkat(dst, tname, 0);
	}
	dir_at_close(&from);
	dir_at_close(&to);
	close(inc);
	return rc;
}

int pull_blob_at(struct net *net, int dir, const char *name, const struct remote_row *row, int as_pulled)
{
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)row->mtime, 0 } };
	int fd, rc;

	/* Readable too: blob_get hashes a big one on another thread, reading it back. */
	fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    as_pulled && row->mode & 0100 ? 0777 : 0666);
	if (fd < 0)
		return error_errno("cannot write the download of '%s'", show_path(row->path)), EXIT_ERROR;
	rc = blob_get(net, row->hash, row->size, fd, row->path);
	if (!rc && as_pulled && futimens(fd, times))
		rc = -1;
	if (close(fd) && !rc)
		rc = -1;
	if (rc < 0) {
		error_errno("cannot write the download of '%s'", show_path(row->path));
		rc = EXIT_ERROR;
	}
	return rc;
}

/* The rows pull_by_blob() names, each into incoming/<path>. 0, RSYNC_REMOTE or -1 (said). */
static int fetch_blobs(struct net *net, int root, struct plan *p, struct progress *pg)
{
	int inc = -1, rc = 0;

	for (size_t i = 0; i < p->n && !rc; i++) {
		const struct remote_row *row = &p->rows[i];
		const char *slash = strrchr(row->path, '/');
		int dir, k;

		if (!pull_by_blob(p, i))
			continue;
		if (inc < 0 && (inc = pull_open_incoming(root)) < 0)
			return -1;
		dir = beneath_dir(inc, row->path, slash ? (size_t)(slash - row->path) : 0, 0700,
				  BENEATH_SPREAD, NULL);
		if (dir < 0) {
			rc = error_errno("cannot make a directory in '%s' for '%s'", INCOMING_DIR,
					 show_path(row->path));
			break;
		}
		k = pull_blob_at(net, dir, slash ? slash + 1 : row->path, row, 1);
		close(dir);
		if (k) {
			rc = k == EXIT_REMOTE ? RSYNC_REMOTE : -1;
		} else {
			p->got[i] = 1;
			progress_add(pg, 1, row->size);
		}
	}
	if (inc >= 0)
		close(inc);
	return rc;
}

/*
 * Where rsync reads want from: *view NULL for module pull, the server's
 * files/, or the id (malloc'd) of the view of want a cluster node made
 * for this pull (view_serve.c). A server older than views (404) has
 * module pull. 0, or RSYNC_REMOTE after a message: the server's fault.
 */
static int rsync_source(struct net *net, char *const *want, size_t n, char **view)
{
	struct buf body = BUF_INIT, resp = BUF_INIT;
	const char *module = NULL, *dir = NULL;
	json_t *o = NULL;
	int rc = RSYNC_REMOTE;
	long st;

	*view = NULL;
	for (size_t i = 0; i < n; i++) {
		buf_addstr(&body, want[i]);
		buf_addch(&body, '\n');
	}
	st = net_request(net, "POST", "/api/v1/view", "text/plain", body.p, body.len, &resp);
	if (st == 404)
		rc = 0;
	else if (st == 200 || st == 201) {
		o = json_loadb(resp.p, resp.len, 0, NULL);
		module = json_string_value(json_object_get(o, "module"));
		dir = json_string_value(json_object_get(o, "dir"));
		if (module && dir && !strcmp(module, "pull") && !*dir)
			rc = 0;
		else if (module && dir && !strcmp(module, VIEWS_MODULE) && strlen(dir) == VIEW_ID_LEN &&
			 strspn(dir, "0123456789abcdef") == VIEW_ID_LEN) {
			*view = xstrdup(dir);
			rc = 0;
		} else
			error("the server's answer to a view is not {\"module\":\"pull\" or \"views\",\"dir\":ID}");
	} else if (st >= 0) {
		error("the server refused a view of the files to pull (%ld)", st);
	}
	json_decref(o);
	buf_free(&body);
	buf_free(&resp);
	return rc;
}

/*
 * Downloads the rows the plan wants into incoming/: big new files by GET
 * blob, most of the rest by the fetch stream, and what is left as
 * rsync_pull() chooses.
 */
int pull_fetch(struct workspace *ws, struct net *net, int root, const struct remote *r, struct plan *p)
{
	char **want = NULL;
	char *incoming = NULL, *view = NULL;
	size_t i, n = 0, files = 0, wanted = 0, blobs = 0;
	uint64_t bytes = 0;
	struct progress pg;
	int rc, basis = 0, linked, inc;

	for (i = 0; i < p->n; i++) {
		files += !p->rows[i].deleted && p->rows[i].mode != MODE_LINK;
		if (!pull_fetched(p, i))
			continue;
		wanted++;
		bytes += p->rows[i].size;
		blobs += pull_by_blob(p, i);
	}
	if (!wanted)
		return 0;
	if (!p->got)
		p->got = xcalloc(p->n, 1);
	progress_start(&pg, "receiving", wanted, bytes);
	rc = blobs ? fetch_blobs(net, root, p, &pg) : 0;
	if (!rc && (inc = pull_open_incoming(root)) < 0)
		rc = -1;
	if (!rc) {
		rc = pull_stream(net, r, root, inc, p, &pg);
		close(inc);
	}
	for (i = 0; !rc && i < p->n; i++)
		n += pull_by_rsync(p, i);
	if (rc || !n) {
		progress_end(&pg, !rc);
		return rc;
	}
	want = xcalloc(n + 1, sizeof(*want));
	n = 0;
	for (i = 0; i < p->n; i++) {
		if (!pull_by_rsync(p, i))
			continue;
		want[n++] = p->rows[i].path;
		basis |= p->local[i] && p->local[i]->present;
	}
	/*
	 * The whole module only when rsync takes the whole head: never what
	 * the pull left out, nor beside a download made otherwise, which
	 * rsync (-I) would write again. A basis only when some file rsync
	 * takes is here: linked into incoming/, or where that cannot be, the
	 * workspace as --copy-dest.
	 */
	linked = basis ? link_basis(root, p) : 1;
	if (linked < 0) {
		progress_end(&pg, 0);
		free(want);
		return -1;
	}
	/* Not linked: the workspace itself is the basis, where no symlink leads rsync astray. */
	basis = !linked && basis_safe(root, p);
	incoming = xasprintf("%s/" INCOMING_DIR, ws->root);
	rc = rsync_source(net, want, n, &view);
	if (!rc)
		rc = rsync_pull(r, view, incoming, basis ? ws->root : NULL, want, n,
				p->since == 0 && !p->skipped && n == wanted ? files : 0, &pg);
	progress_end(&pg, !rc);
	free(want);
	free(incoming);
	free(view);
	return rc;
}

/* One thread's share of pull_verify(): the rows lo..hi-1. */
struct verify_part {
	int inc;
	const struct plan *p;
	size_t lo, hi;
	int bad;		/* a download missing, or not the sha256 listed */
};

static void *verify_part(void *arg)
{
	struct verify_part *v = arg;

	for (size_t i = v->lo; i < v->hi && !v->bad; i++) {
		char hex[HASH_HEX_LEN + 1];
		int fd;

		if (!pull_by_rsync(v->p, i))
			continue;
		fd = openat(v->inc, v->p->rows[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			v->bad = 1;
			break;
		}
		v->bad = hash_fd(fd, hex, NULL) || strcmp(hex, v->p->rows[i].hash);
		/* A cluster node's view links blobs, whose mtime is no path's: the change line's, as the stream sets it. */
		if (!v->bad && futimens(fd, (const struct timespec[2]){ { 0, UTIME_OMIT },
									 { (time_t)v->p->rows[i].mtime, 0 } })) {
			error_errno("cannot set the time of '%s'", show_path(v->p->rows[i].path));
			v->bad = 1;
		}
		close(fd);
	}
	return NULL;
}

/* What a row weighs in verify's split: the bytes of its download. */
static uint64_t row_bytes(size_t i, const void *arg)
{
	const struct plan *p = arg;

	return pull_by_rsync(p, i) ? p->rows[i].size : 0;
}

/*
 * A download by rsync matches the sha256 the server listed; otherwise a
 * push landed meanwhile. Hashed on every core (parts.c): rsync has just
 * written the files, and nothing else runs meanwhile.
 */
int pull_verify(int inc, const struct plan *p)
{
	struct verify_part v[PARTS_MAX];
	struct part_range r[PARTS_MAX];
	size_t n = parts_plan(p->n, row_bytes, p, VERIFY_BYTES_PER_THREAD, r);
	int bad = 0;

	for (size_t k = 0; k < n; k++)
		v[k] = (struct verify_part){ inc, p, r[k].lo, r[k].hi, 0 };
	parts_run(n, verify_part, v, sizeof(v[0]));
	for (size_t k = 0; k < n; k++)
		bad |= v[k].bad;
	return bad;
}

/*
 * The links the plan places, made in incoming/ beside the downloads, once
 * those are checked: from there the apply moves a link as it moves a file
 * (a rename never follows one). *inc is incoming/, opened here if the
 * pull downloaded nothing. 0, or -1 after a message.
 */
int pull_make_links(int root, int *inc, const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct remote_row *r = &p->rows[i];
		const char *base;
		int dir;

		if (!pull_wanted(p, i) || r->mode != MODE_LINK)
			continue;
		if (*inc < 0 && (*inc = pull_open_incoming(root)) < 0)
			return -1;
		dir = open_parent(*inc, r->path, &base, MAKE_SPREAD);
		if (dir < 0)
			return -1;
		/* A whole-head fetch may bring a file by that name from a push applying now: the link wins. */
		if (link_make(dir, base, r->target, r->mtime) &&
		    (errno != EEXIST || unlinkat(dir, base, 0) || link_make(dir, base, r->target, r->mtime))) {
			error_errno("cannot make the symlink '%s' in '%s'", show_path(r->path), INCOMING_DIR);
			close(dir);
			return -1;
		}
		close(dir);
	}
	return 0;
}
