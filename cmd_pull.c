/*
 * cmd_pull.c: bring the server's changes down, three-way (DESIGN.md
 * section 7). For each path the server changed since our last pull we
 * compare B (the content last synced), L (the content here now) and R (the
 * server's): decide() below is the whole table. A pull never destroys
 * local content that was not synced: an edit here against an edit there
 * keeps ours and writes theirs beside it as name.conflict-rH.ext. The
 * executable bit is merged apart from the content (mode_merge() below),
 * and never makes a conflict.
 *
 * Downloads land in .soc/incoming/ first, rsync using the local files as
 * delta basis (--copy-dest), and are checked against the md5 the server
 * listed; a mismatch means a push landed meanwhile, and we start again.
 * Each file then replaces its path by rename, only if the local file is
 * still what the scan saw; if it changed meanwhile, the download becomes
 * a conflict copy instead. Parent directories are walked with O_NOFOLLOW,
 * so a symlinked directory in the workspace cannot redirect a write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "sync.h"
#include "testhook.h"

#define PULL_RETRIES 3		/* restarts when a push lands during our download */
#define DELETE_GUARD_MIN 10	/* as in push: more than this, and more than half, needs --allow-delete */
#define PULL_SYNC_EACH_MAX 64	/* paths a pull fsyncs one by one; more: one syncfs */
#define PULL_LIST_MAX 1000	/* paths rsync is always given one by one; more may fetch the whole head */
/*
 * Without --trust-sender, a longer path is fetched by an rsync of its
 * own. rsync 3.5.0, pulling --files-from a daemon, refuses its own
 * sender's answer ("rejecting unrequested file-list name", exit 4) for a
 * list of two or more paths in a directory past about 2,400 bytes of
 * long components (2,040 bytes with 200 files was fine here, 2,400 with
 * 20 was not); one path alone passed at every length the path rules
 * allow. That is the check --trust-sender turns off (rsync.c), so where
 * rsync knows the option every path goes in the one list.
 */
#define PULL_LIST_PATH_MAX 2048
#define CONFLICT_COPIES_MAX 100	/* names tried for the server's version beside a conflict */
#define VERIFY_BYTES_PER_THREAD (4 << 20)	/* downloads a thread of verify() hashes at least */
#define INCOMING_DIR WORKSPACE_DIR "/incoming"

const char pull_usage[] =
	"usage: soc pull [-n] [--allow-delete] [-q]\n"
	"\n"
	"Bring the server's changes down. A file edited here and on the server\n"
	"keeps your version; the server's lands beside it as NAME.conflict-rN.EXT\n"
	"and the path is in conflict until 'soc add PATH' (exit 4 while any is).\n"
	"A file edited on one side and deleted on the other keeps the edit.\n"
	"\n"
	"  -n, --dry-run     show what would be done, change nothing\n"
	"  --allow-delete    go ahead with a pull deleting more than half the files here\n"
	"  -q, --quiet       say nothing unless something fails\n";

enum action {
	A_NONE,		/* nothing to do here */
	A_TAKE,		/* x x y: take y */
	A_RECORD,	/* L == R: record base R */
	A_CONFLICT,	/* x y z, or none y z: keep y, write z beside it */
	A_DELETE,	/* x x gone: delete here */
	A_KEEP_NEW,	/* x y gone: the edit wins over the delete; y becomes new */
	A_RESTORE,	/* x gone y: the edit wins over the delete; restore y */
	A_DROP,		/* x gone gone: forget the path */
	A_BLOCKED,	/* something that is not a file is in the way here: left for a later pull */
	A_MODE,		/* the server's content is our base, its mode is not: merge the mode */
};

struct remote_row {
	char *path;
	char md5[MD5_HEX_LEN + 1];	/* "" when deleted */
	int deleted;
	unsigned mode;
	uint64_t size;			/* 0 when deleted */
};

struct plan {
	long long since;		/* the revision the rows start from: 0, the whole head */
	long long head;
	struct remote_row *rows;
	size_t n, cap;
	enum action *act;
	struct scan_item **local;	/* the scan's item for each row, or NULL */
	struct scan_item *untracked;	/* files here the index does not track, by row */
	struct buf last_root;		/* the directory track_top_dir() tracked last */
	struct index_snapshot roots;	/* the tracked roots, which a delete never removes */
	char *placed[PULL_SYNC_EACH_MAX];	/* the first paths the apply wrote or removed */
	size_t nplaced;			/* how many it did, all told */
};

/* The table of DESIGN.md section 7, and nothing else. */
static enum action decide(const struct scan_item *it, const struct remote_row *r)
{
	int tracked = it != NULL;
	int present = tracked && it->present;
	const char *B = tracked ? it->e.base : "";
	const char *L = present ? it->e.md5 : NULL;

	if (r->deleted) {
		if (!tracked || !B[0])
			return A_NONE;		/* never synced here: nothing of the server's to remove */
		if (!present)
			return A_DROP;		/* x gone gone */
		if (!strcmp(L, B))
			return A_DELETE;	/* x x gone */
		return A_KEEP_NEW;		/* x y gone */
	}
	if (!present) {
		if (!B[0])
			return A_TAKE;		/* none none y */
		if (!strcmp(B, r->md5))
			return A_NONE;		/* x gone x: our delete, for push to send */
		return A_RESTORE;		/* x gone y */
	}
	if (!strcmp(L, r->md5))
		return strcmp(B, r->md5) ? A_RECORD : A_NONE;	/* x y y, or already recorded */
	if (!B[0])
		return A_CONFLICT;		/* none y z */
	if (!strcmp(L, B))
		return A_TAKE;			/* x x y */
	if (!strcmp(r->md5, B))
		return A_NONE;			/* x y x: push will send y */
	return A_CONFLICT;			/* x y z */
}

/*
 * The executable bit is merged on its own, as git merges it: it has two
 * values only, so a side that did not change it since the sync takes the
 * other's, and two sides that changed it agree. The content's row of the
 * table above is followed whatever the mode does: a mode never makes a
 * conflict, and a file kept here (x y x, or a conflict) keeps its
 * content and takes the server's mode only if ours is unchanged. A mode
 * never synced (a file new here) counts as changed: ours wins, and push
 * sends it.
 */
static unsigned mode_merge(const struct scan_item *it, unsigned remote)
{
	if (!it || !it->present)
		return remote;
	if (!it->e.base_mode || it->e.mode != it->e.base_mode)
		return it->e.mode;
	return remote;
}

/* Where the table keeps the content as it is, the mode may still have moved on the server. */
static enum action mode_action(enum action a, const struct scan_item *it, const struct remote_row *r)
{
	if (a != A_NONE || !it || !it->present || r->deleted || strcmp(it->e.base, r->md5))
		return a;
	return r->mode != it->e.base_mode ? A_MODE : A_NONE;
}

static int row_line(const char *line, size_t len, void *arg)
{
	struct plan *p = arg;
	struct change_line c;
	struct remote_row *r;
	const char *why;
	int kind = change_parse(line, len, &c, &p->head, &why);

	/* The server is checked like any other input: its paths obey the same rules. */
	if (kind < 0) {
		error("the server sent a change line we refuse%s%s%s: %s", c.path ? " for '" : "",
		      c.path ? c.path : "", c.path ? "'" : "", why);
		change_free(&c);
		return -1;
	}
	if (kind == 0)
		return 0;
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->rows = xrealloc(p->rows, p->cap * sizeof(*p->rows));
	}
	r = &p->rows[p->n++];
	memset(r, 0, sizeof(*r));
	r->path = c.path;	/* taken */
	r->deleted = c.deleted;
	memcpy(r->md5, c.md5, MD5_HEX_LEN + 1);
	r->mode = c.mode;
	r->size = c.deleted || c.size < 0 ? 0 : (uint64_t)c.size;
	return 0;
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->rows[i].path);
	free(p->rows);
	free(p->act);
	free(p->local);
	free(p->untracked);
	buf_free(&p->last_root);
	index_snapshot_free(&p->roots);
	for (size_t i = 0; i < p->nplaced && i < PULL_SYNC_EACH_MAX; i++)
		free(p->placed[i]);
	memset(p, 0, sizeof(*p));
}

/* The apply wrote, renamed or removed path: make_durable() will sync it. */
static void note_placed(struct plan *p, const char *path)
{
	if (p->nplaced < PULL_SYNC_EACH_MAX)
		p->placed[p->nplaced] = xstrdup(path);
	p->nplaced++;
}

static int cmp_item_path(const void *key, const void *item)
{
	return strcmp(key, ((const struct scan_item *)item)->e.path);
}

static struct scan_item *scan_find(struct scan_result *s, const char *path)
{
	return s->n ? bsearch(path, s->items, s->n, sizeof(*s->items), cmp_item_path) : NULL;
}

/*
 * "a/b.txt" -> "a/b.conflict-r7.txt", the k-th try past the first
 * "a/b.conflict-r7-k.txt"; a name with no extension, or a dot file, gets
 * it at the end.
 */
static char *conflict_name(const char *path, long long rev, int k)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');
	char tag[64];

	if (k > 1)
		snprintf(tag, sizeof(tag), ".conflict-r%lld-%d", rev, k);
	else
		snprintf(tag, sizeof(tag), ".conflict-r%lld", rev);
	if (!dot || dot == base)
		return xasprintf("%s%s", path, tag);
	return xasprintf("%.*s%s%s", (int)(dot - path), path, tag, dot);
}

/*
 * The directory of path in one openat2(2) that follows no symlink and
 * stays beneath dirfd, or -1 with errno (the walk below then does it, and
 * says why). A walk costs a dup, and an open and a close a component,
 * twice a file of a pull; one call makes a large pull's plan markedly
 * faster (bench/README).
 */
static int open_dir_at_once(int dirfd, const char *path, size_t dlen)
{
	static int missing;	/* a kernel before 5.6 has no openat2 */
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char dir[PATH_BYTES_MAX + 1];
	long fd;

	if (missing || dlen > PATH_BYTES_MAX)
		return -1;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	fd = syscall(SYS_openat2, dirfd, dir, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		missing = 1;
	return (int)fd;
}

/*
 * Opens the directory holding `path` under dirfd, creating missing
 * directories, refusing symlinks and anything not a directory on the way.
 * *base gets the last component. The fd, or -1 after a message; without
 * create, a missing directory is -1 with errno ENOENT and no message.
 */
static int open_parent(int dirfd, const char *path, const char **base, int create)
{
	const char *p = path, *slash = strrchr(path, '/');
	int fd;

	if (slash) {
		fd = open_dir_at_once(dirfd, path, (size_t)(slash - path));
		if (fd >= 0) {
			*base = slash + 1;
			return fd;
		}
		/* Missing, and no symlink before it (that would be ELOOP): as the walk would find. */
		if (errno == ENOENT && !create)
			return -1;
	}
	fd = dup(dirfd);

	if (fd < 0)
		return error_errno("cannot open the directory of '%s'", path);
	while ((slash = strchr(p, '/'))) {
		char comp[PATH_COMPONENT_MAX + 1];
		size_t n = (size_t)(slash - p);
		int next;

		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0777) && errno != EEXIST) {
				error_errno("cannot make the directory for '%s'", path);
				close(fd);
				return -1;
			}
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int err = errno;

			/* Looking, not creating: a missing directory is the caller's answer, not an error. */
			if (create || err != ENOENT)
				error_errno("cannot open the directory '%.*s' for '%s'", (int)(slash - path),
					    path, path);
			close(fd);
			errno = err;
			return -1;
		}
		close(fd);
		fd = next;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

/* The local file is still exactly what the scan saw (absent stays absent). */
static int unchanged_since_scan(int parent, const char *base, const struct scan_item *it)
{
	struct stat st;

	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT && !(it && it->present);
	if (!(it && it->present) || !S_ISREG(st.st_mode))
		return 0;
	return (uint64_t)st.st_size == it->e.size && (uint64_t)st.st_ino == it->e.ino &&
	       (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == it->e.mtime_ns;
}

/*
 * Gives path (under dirfd, its last component not followed) the
 * executable bit of mode, as rsync's --executability does: on, an x for
 * each r; off, no x at all. The other bits stay as the umask made them.
 */
static int set_exec(int dirfd, const char *path, const char *show, unsigned mode)
{
	struct stat st;
	mode_t now, want;
	int fd;

	/* Most files have the mode already: one look, no open. */
	if (!fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	    !(mode & 0111) == !(st.st_mode & 0111) &&
	    (!(mode & 0111) || (st.st_mode & 0111) == ((st.st_mode & 0444) >> 2)))
		return 0;
	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s' to set its mode", show);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return error("cannot set the mode of '%s': not a file", show);
	}
	now = st.st_mode & 07777;
	want = (mode & 0111) ? now | ((now & 0444) >> 2) : now & ~(mode_t)0111;
	if (want != now && fchmod(fd, want)) {
		error_errno("cannot set the mode of '%s'", show);
		close(fd);
		return -1;
	}
	if (close(fd))
		return error_errno("cannot set the mode of '%s'", show);
	return 0;
}

/* The local file of a row gets the merged mode, when that is not the one it has. 1 when changed. */
static int merge_local_mode(int root, const struct scan_item *it, const struct remote_row *r)
{
	unsigned want = mode_merge(it, r->mode);
	const char *base;
	int parent, rc;

	if (!it || !it->present || want == it->e.mode)
		return 0;
	parent = open_parent(root, r->path, &base, 0);
	if (parent < 0)
		return errno == ENOENT ? error("cannot set the mode of '%s': it is gone", r->path) : -1;
	rc = set_exec(parent, base, r->path, want);
	close(parent);
	return rc ? -1 : 1;
}

/* The rows whose file a pull downloads. */
static int wanted(const struct plan *p, size_t i)
{
	return p->act[i] == A_TAKE || p->act[i] == A_RESTORE || p->act[i] == A_CONFLICT;
}

/*
 * rsync's --files-from cost its receiver time that grew faster than the
 * list, many times what the same files cost sent as one tree
 * (bench/README). --trust-sender now turns most of that off
 * where rsync has it (rsync.c), and a tree still needs no list at all.
 * So a pull whose rows are the whole head (since 0) and that wants at
 * least half of its files takes the whole module; files it did not ask
 * for land in incoming/ too, unused, and are cleared with it, and each
 * file it wants is checked by md5 as always. Local files stay the delta
 * basis, so a file here already costs little to send again.
 */
static int fetch(struct workspace *ws, const struct remote *r, struct plan *p)
{
	char **want = xcalloc(p->n + 1, sizeof(*want));
	char *incoming = xasprintf("%s/" INCOMING_DIR, ws->root);
	size_t i, n = 0, listed, files = 0, longest = 0;
	int rc = 0, whole, trust;

	for (i = 0; i < p->n; i++)
		if (wanted(p, i) && strlen(p->rows[i].path) > longest)
			longest = strlen(p->rows[i].path);
	trust = longest > PULL_LIST_PATH_MAX ? rsync_trusts_sender() : 1;
	if (trust < 0) {
		rc = -1;
		goto out;
	}
	/* The paths a list can carry first, then those that need an rsync each. */
	for (i = 0; i < p->n; i++) {
		files += !p->rows[i].deleted;
		if (wanted(p, i) && (trust || strlen(p->rows[i].path) <= PULL_LIST_PATH_MAX))
			want[n++] = p->rows[i].path;
	}
	listed = n;
	for (i = 0; !trust && i < p->n; i++)
		if (wanted(p, i) && strlen(p->rows[i].path) > PULL_LIST_PATH_MAX)
			want[n++] = p->rows[i].path;
	if (!n)
		goto out;
	whole = p->since == 0 && n * 2 >= files && n > PULL_LIST_MAX;
	if (mkdir(incoming, 0700) && errno != EEXIST)
		rc = error_errno("cannot make '%s'", incoming);
	else if (whole)
		rc = rsync_run(r, "soc::pull/", incoming, ws->root, NULL, n);
	else if (listed)
		rc = rsync_run(r, "soc::pull/", incoming, ws->root, want, listed);
	for (i = listed; !whole && !rc && i < n; i++)
		rc = rsync_run(r, "soc::pull/", incoming, ws->root, &want[i], 1);
out:
	free(want);
	free(incoming);
	return rc;
}

/* One thread's share of verify(): the rows lo..hi-1. */
struct verify_part {
	int inc;
	const struct plan *p;
	size_t lo, hi;
	int bad;		/* a download missing, or not the md5 listed */
};

static void *verify_part(void *arg)
{
	struct verify_part *v = arg;

	for (size_t i = v->lo; i < v->hi && !v->bad; i++) {
		char hex[MD5_HEX_LEN + 1];
		int fd;

		if (!wanted(v->p, i))
			continue;
		fd = openat(v->inc, v->p->rows[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			v->bad = 1;
			break;
		}
		v->bad = md5_fd(fd, hex, NULL) || strcmp(hex, v->p->rows[i].md5);
		close(fd);
	}
	return NULL;
}

/* What a row weighs in verify's split: the bytes of its download. */
static uint64_t row_bytes(size_t i, const void *arg)
{
	const struct plan *p = arg;

	return wanted(p, i) ? p->rows[i].size : 0;
}

/*
 * A download matches the md5 the server listed; otherwise a push landed
 * meanwhile. Hashed on every core (parts.c): rsync has just written the
 * files, and nothing else runs meanwhile.
 */
static int verify(int inc, const struct plan *p)
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
 * A path the server has that is here but not tracked: hash it so the table
 * can tell "same content" from "conflict" (none y z). Symlinks and
 * directories in the way are refused.
 */
static int look_untracked(struct workspace *ws, int root, const char *path, struct scan_item *out)
{
	const char *base;
	struct stat st;
	int parent, fd;

	memset(out, 0, sizeof(*out));
	out->e.path = (char *)path;
	parent = open_parent(root, path, &base, 0);
	if (parent < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW)) {
		close(parent);
		return errno == ENOENT ? 0 : error_errno("cannot look at '%s'", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(parent);
		return error("cannot pull '%s': something that is not a file is in the way", path);
	}
	fd = openat(parent, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(parent);
	if (fd < 0 || md5_fd(fd, out->e.md5, NULL)) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", path);
	}
	close(fd);
	out->present = 1;
	out->change = CH_ADDED;
	out->e.size = (uint64_t)st.st_size;
	out->e.ino = (uint64_t)st.st_ino;
	out->e.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	out->e.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	out->e.mode = (st.st_mode & 0111) ? 0755 : 0644;
	(void)ws;
	return 0;
}

static int entry_from_stat(int parent, const char *base, const char *path, const char *md5,
			   unsigned synced_mode, struct entry *e)
{
	struct stat st;

	memset(e, 0, sizeof(*e));
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW))
		return error_errno("cannot look at '%s'", path);
	e->path = (char *)path;
	e->size = (uint64_t)st.st_size;
	e->ino = (uint64_t)st.st_ino;
	e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	e->mode = (st.st_mode & 0111) ? 0755 : 0644;
	memcpy(e->md5, md5, MD5_HEX_LEN + 1);
	memcpy(e->base, md5, MD5_HEX_LEN + 1);
	e->base_mode = synced_mode;
	return 0;
}

/*
 * fsyncs path (when it is there) and every directory above it but the
 * root, but for synced[0..nsynced) and the directories above it, which
 * an earlier call synced. 1 when it got to the directories, 0 when they
 * are gone, -1 and errno.
 */
static int sync_path(int root, const char *path, const char *synced, size_t nsynced)
{
	size_t len = strlen(path);
	const char *base;
	int parent = open_parent(root, path, &base, 0), fd, rc;

	if (parent < 0)
		return errno == ENOENT ? 0 : -1;	/* a delete took its directory too */
	fd = openat(parent, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(parent);
	if (fd < 0 && errno != ENOENT)
		return -1;
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
		if (rc)
			return -1;
	}
	/* Then each directory above it: one the pull made must still be there after a crash. */
	for (;;) {
		while (len && path[len - 1] != '/')
			len--;
		if (!len)
			return 1;
		len--;	/* the slash: path[0..len) is the directory */
		if (len <= nsynced && !strncmp(path, synced, len) &&
		    (len == nsynced || synced[len] == '/'))
			return 1;
		fd = open_dir_at_once(root, path, len);
		if (fd < 0)
			return -1;	/* no openat2 here, or something in the way: the caller syncs it all */
		rc = fsync(fd);
		close(fd);
		if (rc)
			return -1;
	}
}

/*
 * What the apply did is on disk before the index says so. Downloads are
 * written by rsync and renamed, and nothing forces their data out: after
 * a power cut a file could come back empty while the index, committed
 * and fsync'd, names the server's md5 as its base, and the next push
 * would send the empty file over the server's good one. Up to
 * PULL_SYNC_EACH_MAX paths each get an fsync, with every directory above
 * them; more (or a path that cannot be synced on its own) get one
 * syncfs(2) of the workspace's filesystem, as the server does for a
 * large push (an fsync a file cost a device flush a file).
 */
static int make_durable(int root, const struct plan *p)
{
	int each = p->nplaced <= PULL_SYNC_EACH_MAX;
	const char *synced = "";	/* the directory of the last path whose directories were synced */
	size_t nsynced = 0;

	if (!p->nplaced)
		return 0;
	if (test_hook_flag(HOOK_SYNC_FAIL)) {	/* a test hook: the disk refuses */
		errno = EIO;
		return error_errno("cannot make the pulled files durable");
	}
	/* Rows come in path order: a path's directory is mostly the one before's. */
	for (size_t i = 0; each && i < p->nplaced; i++) {
		int rc = sync_path(root, p->placed[i], synced, nsynced);
		const char *slash = strrchr(p->placed[i], '/');

		each = rc >= 0;
		if (rc > 0) {
			synced = p->placed[i];
			nsynced = slash ? (size_t)(slash - synced) : 0;
		}
	}
	if (each ? fsync(root) : syncfs(root))
		return error_errno("cannot make the pulled files durable");
	return 0;
}

struct counts {
	size_t updated, deleted, conflicts, kept, restored, recorded;
};

/*
 * Renames from/fname to dir/name unless something is there: 1 when
 * renamed, 0 when the name is taken, -1 and errno. A filesystem without
 * RENAME_NOREPLACE gets a look first, which a file made in between under
 * the same name could beat: a name soc makes up for a conflict copy.
 */
static int rename_new(int from, const char *fname, int dir, const char *name)
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
		cname = conflict_name(r->path, p->head, k);
		parent = open_parent(root, cname, &base, 1);
		if (parent < 0)
			goto out;
		placed = rename_new(inc, r->path, parent, base);
		if (placed < 0) {
			error_errno("cannot write '%s'", cname);
			goto out;
		}
		if (placed || md5_file_is(parent, base, r->md5, -1))
			break;	/* a download left in incoming/ goes with it */
		close(parent);
		parent = -1;
		if (k == CONFLICT_COPIES_MAX) {
			free(cname);
			cname = conflict_name(r->path, p->head, 1);
			error("cannot write the server's version of '%s': '%s' and %d more names like it "
			      "are taken", r->path, cname, k - 1);
			goto out;
		}
	}
	note_placed(p, cname);
	if (!it->e.base[0]) {
		/* none y z: our file becomes tracked, in conflict. */
		struct entry e = it->e;

		memcpy(e.base, r->md5, MD5_HEX_LEN + 1);
		e.base_mode = r->mode;
		e.conflict = 1;
		rc = index_record(ws, &e);
	} else {
		rc = index_set_base(ws, r->path, r->md5, r->mode) || index_set_conflict(ws, r->path, 1) ? -1 : 0;
	}
	c->conflicts++;
	fprintf(stderr, "%s: conflict in '%s': kept yours, the server's is in '%s'\n",
		soc_prog, r->path, cname);
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
static int track_top_dir(struct workspace *ws, struct plan *p, const char *path)
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

/* incoming/<dir> holds the files of rows lo..hi-1, directories, and nothing else. */
static int holds_only_rows(int inc, const char *dir, const struct plan *p, size_t lo, size_t hi)
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
		fd = ok ? open_dir_at_once(inc, path.p, path.len) : -1;
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
			} else if (de->d_type == DT_REG &&
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
	    !holds_only_rows(inc, dir, p, i, hi))
		goto keep;
	e = xcalloc(hi - i, sizeof(*e));
	for (k = i; k < hi; k++) {
		const struct remote_row *r = &p->rows[k];

		if (set_exec(inc, r->path, r->path, mode_merge(NULL, r->mode)) ||
		    entry_from_stat(inc, r->path, r->path, r->md5, r->mode, &e[k - i]))
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

static int apply_one(struct workspace *ws, int root, int inc, struct plan *p, size_t i,
		     struct counts *c)
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
		return index_set_base(ws, r->path, r->md5, r->mode);
	case A_RECORD:
		c->recorded++;
		if (merge_local_mode(root, it, r) < 0)
			return -1;
		if (it && !it->e.base[0] && it->change == CH_ADDED && !it->e.conflict) {
			e = it->e;
			memcpy(e.base, r->md5, MD5_HEX_LEN + 1);
			e.base_mode = r->mode;
			return index_record(ws, &e);
		}
		return index_set_base(ws, r->path, r->md5, r->mode);
	case A_DROP:
		return index_drop(ws, r->path);
	case A_KEEP_NEW:
		c->kept++;
		say("kept '%s': edited here and deleted on the server; push sends it again\n", r->path);
		return index_set_base(ws, r->path, "", 0);
	case A_DELETE:
		parent = open_parent(root, r->path, &base, 0);
		if (parent < 0 && errno == ENOENT)
			return index_drop(ws, r->path);	/* gone here too, directory and all */
		if (parent < 0)
			return -1;
		if (!unchanged_since_scan(parent, base, it)) {
			c->kept++;
			say("kept '%s': changed here while pulling its delete\n", r->path);
			rc = index_set_base(ws, r->path, "", 0);
		} else if (unlinkat(parent, base, 0) && errno != ENOENT) {
			rc = error_errno("cannot delete '%s'", r->path);
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
	case A_CONFLICT:
		if (merge_local_mode(root, it, r) < 0)
			return -1;
		return place_conflict(ws, root, inc, p, i, it, c);
	case A_TAKE:
	case A_RESTORE:
		parent = open_parent(root, r->path, &base, 1);
		if (parent < 0)
			return -1;
		if (!unchanged_since_scan(parent, base, it)) {
			/* Edited or created while we downloaded: never overwrite it. */
			close(parent);
			if (!it) {
				struct scan_item now;

				if (look_untracked(ws, root, r->path, &now))
					return -1;
				return place_conflict(ws, root, inc, p, i, &now, c);
			}
			return place_conflict(ws, root, inc, p, i, it, c);
		}
		if (set_exec(inc, r->path, r->path, mode_merge(it, r->mode))) {
			rc = -1;
		} else if (renameat(inc, r->path, parent, base)) {
			rc = error_errno("cannot write '%s'", r->path);
		} else {
			note_placed(p, r->path);
			rc = entry_from_stat(parent, base, r->path, r->md5, r->mode, &e);
		}
		if (!rc) {
			rc = index_record(ws, &e);
			if (!rc && !it)
				rc = track_top_dir(ws, p, r->path);
			if (p->act[i] == A_RESTORE) {
				c->restored++;
				say("restored '%s': deleted here, edited on the server\n", r->path);
			} else {
				c->updated++;
			}
		}
		close(parent);
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

/* Leftovers of a pull that was killed are of no use: downloads are redone. */
static void clear_incoming(struct workspace *ws)
{
	char *dir = xasprintf("%s/" INCOMING_DIR, ws->root);

	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		warning_errno("cannot clear '%s'", dir);
	free(dir);
}

static const char *const action_word[] = {
	[A_NONE] = "", [A_TAKE] = "update", [A_RECORD] = "same", [A_CONFLICT] = "conflict",
	[A_DELETE] = "delete", [A_KEEP_NEW] = "keep", [A_RESTORE] = "restore", [A_DROP] = "forget",
	[A_BLOCKED] = "blocked", [A_MODE] = "mode",
};

/* Fetches the server's changes since our last pull and decides each path. */
static int make_plan(struct workspace *ws, struct net *net, int root, struct scan_result *scan,
		     struct plan *p)
{
	char path[64];
	long long since = index_pulled_rev(ws);
	long st;
	size_t i;

	p->since = since;
	snprintf(path, sizeof(path), "/api/v1/changes?since=%lld", since);
	p->head = -1;
	st = net_get_lines(net, path, row_line, p);
	if (st == -1)
		return EXIT_REMOTE;
	if (st != 200 || p->head < 0)
		return error("the server did not list its changes (%ld)", st), EXIT_ERROR;
	p->act = xcalloc(p->n + 1, sizeof(*p->act));
	p->local = xcalloc(p->n + 1, sizeof(*p->local));
	p->untracked = xcalloc(p->n + 1, sizeof(*p->untracked));
	for (i = 0; i < p->n; i++) {
		struct scan_item *it = scan_find(scan, p->rows[i].path);

		if (!it && !p->rows[i].deleted) {
			/* One path in the way holds up only itself, never the rest of the pull. */
			if (look_untracked(ws, root, p->rows[i].path, &p->untracked[i])) {
				p->act[i] = A_BLOCKED;
				continue;
			}
			if (p->untracked[i].present)
				it = &p->untracked[i];
		}
		p->local[i] = it;
		p->act[i] = mode_action(decide(it, &p->rows[i]), it, &p->rows[i]);
	}
	return 0;
}

static int delete_guard(struct workspace *ws, const struct scan_result *scan, const struct plan *p)
{
	size_t deletes = 0, tracked = 0, i;

	for (i = 0; i < scan->n; i++)
		if (scan->items[i].present)
			tracked++;
	for (i = 0; i < p->n; i++)
		if (p->act[i] == A_DELETE)
			deletes++;
	if (deletes > DELETE_GUARD_MIN && deletes * 2 > tracked) {
		error("refusing to delete %zu of the %zu files here because the server deleted them; "
		      "if that is what you want, pull with --allow-delete", deletes, tracked);
		return EXIT_ERROR;
	}
	(void)ws;
	return 0;
}

/* "pulled to revision 7: 3 updated, 1 in conflict": only the counts that are not zero. */
static void say_counts(long long head, const struct counts *c)
{
	const size_t n[] = { c->updated, c->deleted, c->restored, c->kept, c->recorded, c->conflicts };
	static const char *const what[] = { "updated", "deleted", "restored", "kept", "already the same",
					    "in conflict" };
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		if (n[i])
			buf_addf(&b, "%s%zu %s", b.len ? ", " : "", n[i], what[i]);
	say("pulled to revision %lld%s%s\n", head, b.len ? ": " : "", b.len ? b.p : "");
	buf_free(&b);
}

/* Paths in conflict before this pull that it did not conflict again. */
static size_t old_conflicts(const struct scan_result *scan, const struct plan *p)
{
	size_t n = 0, i;

	for (i = 0; i < scan->n; i++)
		n += scan->items[i].change == CH_CONFLICT;
	for (i = 0; i < p->n; i++)
		n -= p->act[i] == A_CONFLICT && p->local[i] && p->local[i]->change == CH_CONFLICT;
	return n;
}

enum { PULL_DONE, PULL_RETRY };

static int pull_once(struct workspace *ws, struct net *net, const struct remote *r,
		     int dry_run, int allow_delete, int *rc)
{
	struct scan_result scan = { 0 };
	struct plan p = { 0 };
	struct counts c = { 0 };
	int root = -1, inc = -1, outcome = PULL_DONE, failed = 0, k;
	size_t i, todo = 0, conflicts;

	*rc = EXIT_ERROR;
	root = open(ws->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		error_errno("cannot open '%s'", ws->root);
		return PULL_DONE;
	}
	if ((*rc = pending_settle(ws, net)) || (*rc = modes_settle(ws, net)))
		goto out;
	*rc = EXIT_ERROR;
	if (scan_workspace(ws, &scan))
		goto out;
	if ((*rc = make_plan(ws, net, root, &scan, &p)))
		goto out;
	*rc = EXIT_ERROR;
	for (i = 0; i < p.n; i++)
		todo += p.act[i] != A_NONE;
	if (!allow_delete && (*rc = delete_guard(ws, &scan, &p)))
		goto out;
	*rc = EXIT_ERROR;
	if (dry_run) {
		for (i = 0; i < p.n; i++)
			if (p.act[i] != A_NONE)
				printf("%-8s %s\n", action_word[p.act[i]], p.rows[i].path);
		*rc = EXIT_OK;
		goto out;
	}

	clear_incoming(ws);
	if ((k = fetch(ws, r, &p))) {
		if (k == RSYNC_REMOTE)
			*rc = EXIT_REMOTE;
		goto out;
	}
	inc = openat(root, INCOMING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (inc < 0 && errno != ENOENT) {
		error_errno("cannot open '%s'", INCOMING_DIR);
		goto out;
	}
	if (inc >= 0 && verify(inc, &p)) {
		outcome = PULL_RETRY;
		goto out;
	}

	for (i = 0; i < p.n && p.act[i] != A_DELETE; i++)
		;
	if (i < p.n && index_load_roots(ws, &p.roots))
		goto out;
	if (index_begin(ws))
		goto out;
	for (i = 0; i < p.n; i++) {
		size_t moved = inc >= 0 ? move_top_dir(ws, root, inc, &p, i, &c, &failed) : 0;

		if (moved)
			i += moved - 1;
		else if (apply_one(ws, root, inc, &p, i, &c))
			failed = 1;
	}
	if (make_durable(root, &p)) {
		/* Nothing recorded: the next pull finds the files here and records them. */
		index_rollback(ws);
		goto out;
	}
	if (failed)
		error("some paths were not pulled (said above); the next pull tries them again");
	/* A failed path is pulled again next time: our rev stays behind it. */
	if (!failed && index_set_pulled_rev(ws, p.head))
		failed = 1;
	if (index_commit(ws))
		goto out;
	clear_incoming(ws);

	if (!todo)
		say("already up to date at revision %lld\n", p.head);
	else
		say_counts(p.head, &c);
	/* Conflicts left from an earlier pull still stand in the way of a push: exit 4 for them too. */
	conflicts = c.conflicts + old_conflicts(&scan, &p);
	if (conflicts && conflicts > c.conflicts)
		fprintf(stderr, "%s: %zu path%s in conflict; resolve, then 'soc add PATH'\n", soc_prog,
			conflicts, conflicts == 1 ? "" : "s");
	*rc = failed ? EXIT_ERROR : conflicts ? EXIT_CONFLICT : EXIT_OK;
out:
	if (inc >= 0)
		close(inc);
	close(root);
	plan_free(&p);
	scan_result_free(&scan);
	return outcome;
}

int cmd_pull(int argc, char **argv, struct workspace *ws)
{
	int dry_run = 0, allow_delete = 0, n, rc = EXIT_ERROR, tries;
	const struct opt opts[] = {
		{ 'n', "dry-run", OPT_BOOL, &dry_run, 0 },
		{ 0, "allow-delete", OPT_BOOL, &allow_delete, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct remote r;
	struct net *net;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 0)
		return usage_error("'pull' takes no paths; it brings every change");
	if ((rc = remote_of(ws, &r)))
		return rc;
	net = net_open(&r);
	if (!net)
		return EXIT_ERROR;
	for (tries = 0; tries <= PULL_RETRIES; tries++) {
		if (pull_once(ws, net, &r, dry_run, allow_delete, &rc) != PULL_RETRY)
			break;
		if (tries < PULL_RETRIES) {
			say("the server changed during the pull; pulling again\n");
		} else {
			error("the server kept changing during the pull; try again");
			rc = EXIT_ERROR;
		}
	}
	net_close(net);
	return rc;
}
