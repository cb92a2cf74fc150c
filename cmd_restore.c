/*
 * cmd_restore.c: soc restore: files as the server held them at an old
 * revision brought back into the workspace as local changes, which the
 * next push sends (PROTOCOL.md section 3 lists what the server keeps).
 *
 * Every step that can fail on the server's side comes before anything
 * here changes: the tree of that revision is read whole, every version
 * must still be kept, and every download lands in .soc/incoming/ and is
 * checked by its sha256 there. Only then does pull_apply.c's
 * restore_apply() place them, renaming a file with changes not pushed
 * out of the way first, and the index records each as a change.
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
#include "pull.h"

#define RESTORE_TIME_MAX 253402300799LL	/* 9999-12-31 23:59:59 UTC: the last time --before reads */

const char restore_usage[] =
	"usage: soc restore PATH... (--rev N | --before TIME)\n"
	"\n"
	"Bring back every file at or under each PATH as the server held it at\n"
	"revision N (as 'soc log PATH' lists them), or at the newest revision\n"
	"made before TIME, as a local change: the next 'soc push' sends it.\n"
	"A deleted file comes back; a file here with changes not pushed is\n"
	"first kept as NAME.restore-rN.EXT. Files made since are left alone.\n"
	"Nothing changes when a version is no longer kept on the server.\n"
	"\n"
	"  --rev N          the revision to bring back\n"
	"  --before TIME    the newest revision before TIME: YYYY-MM-DD[ HH:MM[:SS]]\n"
	"                   (UTC), RFC 3339, or seconds since 1970\n"
	"  -q, --quiet      say nothing unless something fails\n";

/* n digits at *s as a number, *s moved past them; -1 when they are not there. */
static int digits(const char **s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	return v;
}

/*
 * TIME as seconds since 1970: all digits; or YYYY-MM-DD, then 'T' or a
 * space and HH:MM, then :SS and a fraction (dropped), then Z or +HH:MM or
 * -HH:MM (none: UTC). 0, or -1 when it is none of these or no real date.
 */
static int parse_time(const char *s, long long *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	long long off = 0;
	const char *p = s;
	int day;
	char *end;
	time_t t;

	if (*s >= '0' && *s <= '9' && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		*out = strtoll(s, &end, 10);
		return errno || *out > RESTORE_TIME_MAX ? -1 : 0;
	}
	tm.tm_year = digits(&p, 4);
	if (tm.tm_year < 0 || *p++ != '-' || (tm.tm_mon = digits(&p, 2)) < 1 || tm.tm_mon > 12 ||
	    *p++ != '-' || (tm.tm_mday = digits(&p, 2)) < 1 || tm.tm_mday > mdays[tm.tm_mon - 1])
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if ((tm.tm_hour = digits(&p, 2)) < 0 || tm.tm_hour > 23 || *p++ != ':' ||
		    (tm.tm_min = digits(&p, 2)) < 0 || tm.tm_min > 59)
			return -1;
		if (*p == ':') {
			p++;
			if ((tm.tm_sec = digits(&p, 2)) < 0 || tm.tm_sec > 60)
				return -1;
			if (*p == '.' && p[1] >= '0' && p[1] <= '9')
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, h = digits(&p, 2), m;

			if (h < 0 || h > 23 || *p++ != ':' || (m = digits(&p, 2)) < 0 || m > 59)
				return -1;
			off = sign * (h * 3600LL + m * 60LL);
		}
	}
	if (*p)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	day = tm.tm_mday;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != day)	/* February 29th of a year without one */
		return -1;
	*out = (long long)t - off;
	return *out < 0 ? -1 : 0;
}

struct restore {
	struct plan p;
	int *kept;		/* per row: the server still holds its content */
	size_t kept_cap;
};

static int add_row(struct version_line *v, void *arg)
{
	struct restore *rs = arg;
	struct plan *p = &rs->p;
	struct remote_row *r;

	if (v->c.deleted)
		return 0;	/* a tree lists files only */
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->rows = xrealloc(p->rows, p->cap * sizeof(*p->rows));
		rs->kept = xrealloc(rs->kept, p->cap * sizeof(*rs->kept));
	}
	r = &p->rows[p->n];
	memset(r, 0, sizeof(*r));
	r->path = v->c.path;	/* taken */
	v->c.path = NULL;
	memcpy(r->hash, v->c.hash, HASH_HEX_LEN + 1);
	r->mode = v->c.mode;
	r->size = (uint64_t)v->c.size;
	r->mtime = v->c.mtime;
	r->target = v->c.target;	/* taken */
	v->c.target = NULL;
	rs->kept[p->n] = v->kept;
	p->n++;
	return 0;
}

static void restore_free(struct restore *rs)
{
	plan_free(&rs->p);
	free(rs->kept);
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct remote_row *)a)->path, ((const struct remote_row *)b)->path);
}

/*
 * Rows in path order, each path once: two PATHs may both hold a file. The
 * kept marks are checked before, so they need not follow the sort.
 */
static void sort_rows(struct plan *p)
{
	size_t i, n = 0;

	qsort(p->rows, p->n, sizeof(*p->rows), cmp_row);
	for (i = 0; i < p->n; i++) {
		if (n && !strcmp(p->rows[n - 1].path, p->rows[i].path)) {
			free(p->rows[i].path);
			free(p->rows[i].target);
			continue;
		}
		p->rows[n++] = p->rows[i];
	}
	p->n = n;
}

static int cmp_item_path(const void *key, const void *item)
{
	return strcmp(key, ((const struct scan_item *)item)->e.path);
}

/* -1 after one line when a directory, a fifo or the like is where path's file would go. */
static int not_a_file(int root, const char *path)
{
	const char *base;
	struct stat st;
	int parent = open_parent(root, path, &base, 0), rc = 0;

	if (parent < 0)
		return errno == ENOENT ? 0 : -1;
	if (!fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		rc = error("cannot restore '%s': something that is not a file is in the way", show_path(path));
	close(parent);
	return rc;
}

/* What each row needs: a download (A_TAKE), a record (A_RECORD: the content is here), or nothing. */
static int plan_rows(struct workspace *ws, int root, struct scan_result *scan, struct plan *p)
{
	p->act = xcalloc(p->n + 1, sizeof(*p->act));
	p->local = xcalloc(p->n + 1, sizeof(*p->local));
	p->untracked = xcalloc(p->n + 1, sizeof(*p->untracked));
	for (size_t i = 0; i < p->n; i++) {
		const struct remote_row *r = &p->rows[i];
		struct scan_item *it = scan->n ? bsearch(r->path, scan->items, scan->n, sizeof(*scan->items),
							 cmp_item_path) : NULL;
		const struct scan_item *cur = it && it->present ? it : NULL;
		struct digest want;

		p->local[i] = it;
		/* Not there, or no longer ours to read (soc rm'd): whatever is there is looked at afresh. */
		if (!cur) {
			if (not_a_file(root, r->path) || pull_look_untracked(ws, root, r->path, &p->untracked[i]))
				return -1;
			if (p->untracked[i].present)
				cur = &p->untracked[i];
		}
		digest_from_hex(&want, r->hash);
		if (!cur || !same_version(&cur->e.hash, cur->e.mode, &want, r->mode))
			p->act[i] = A_TAKE;
		else if (cur == it && it->e.mode == r->mode)
			p->act[i] = A_NONE;
		else
			p->act[i] = A_RECORD;
	}
	return 0;
}

/* Every A_TAKE row's version into incoming/, at its path, checked by its sha256. */
static int download(struct workspace *ws, struct net *net, int root, struct plan *p, int *inc)
{
	int rc = 0;

	*inc = pull_open_incoming(root);
	if (*inc < 0)
		return EXIT_ERROR;
	for (size_t i = 0; i < p->n && !rc; i++) {
		const char *path = p->rows[i].path, *slash = strrchr(path, '/');
		int dir;

		if (p->act[i] != A_TAKE)
			continue;
		dir = beneath_dir(*inc, path, slash ? (size_t)(slash - path) : 0, 0700, BENEATH_SPREAD, NULL);
		if (dir < 0)
			return error_errno("cannot make a directory in '%s' for '%s'", INCOMING_DIR,
					   show_path(path)), EXIT_ERROR;
		/* A link's version is its target, which came in its line: made, not downloaded. */
		if (p->rows[i].mode == MODE_LINK) {
			if (link_make(dir, slash ? slash + 1 : path, p->rows[i].target, p->rows[i].mtime)) {
				error_errno("cannot make the symlink '%s' in '%s'", show_path(path), INCOMING_DIR);
				rc = EXIT_ERROR;
			}
			close(dir);
			continue;
		}
		rc = pull_blob_at(net, dir, slash ? slash + 1 : path, &p->rows[i], 0);
		close(dir);
	}
	return rc;
}

/* The tree at each target read into rs; the revision read in *at. An exit code. */
static int read_trees(struct net *net, char **rel, char **argv, int n, long long rev, long long before,
		      struct restore *rs, long long *at)
{
	long long head;
	int rc;

	for (int i = 0; i < n; i++) {
		size_t had = rs->p.n;

		/* --before picks a revision once; every other PATH is read at that one. */
		rc = tree_get(net, rev, before, rel[i], &head, at, add_row, rs);
		if (rc)
			return rc;
		rev = *at;
		before = -1;
		if (rs->p.n == had)
			return error("nothing at '%s' in revision %lld", show_path(argv[i]), *at), EXIT_ERROR;
	}
	for (size_t i = 0; i < rs->p.n; i++)
		if (!rs->kept[i])
			return error("the content of '%s' at revision %lld is no longer kept on the server; "
				     "'soc log PATH' shows the versions it keeps", show_path(rs->p.rows[i].path),
				     *at), EXIT_ERROR;
	sort_rows(&rs->p);
	return 0;
}

int cmd_restore(int argc, char **argv, struct workspace *ws)
{
	int rev = -1, n, i, rc = EXIT_ERROR, root = -1, inc = -1, failed;
	const char *before = NULL, *why;
	long long before_t = -1, at = -1;
	const struct opt opts[] = {
		{ 0, "rev", OPT_INT, &rev, 0 },
		{ 0, "before", OPT_STRING, &before, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct restore rs = { 0 };
	struct scan_result scan = { 0 };
	struct counts c = { 0 };
	struct session *se;
	char **rel;
	size_t todo = 0;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (!n)
		return usage_error("nothing to restore; name files or directories");
	if (rev < 0 && !before)
		return usage_error("say which version: --rev N or --before TIME");
	if (rev >= 0 && before)
		return usage_error("--rev and --before name the version twice; give one");
	if (before && parse_time(before, &before_t))
		return usage_error("--before wants YYYY-MM-DD[ HH:MM[:SS]], RFC 3339 or seconds since 1970, "
				   "not '%s'", show_path(before));
	rel = xcalloc((size_t)n, sizeof(*rel));
	for (i = 0; i < n; i++) {
		rel[i] = workspace_path(ws, argv[i]);
		if (!rel[i])
			goto out;
		if (*rel[i] && (why = path_check(rel[i], strlen(rel[i])))) {
			error("cannot restore '%s': %s", show_path(argv[i]), why);
			goto out;
		}
	}
	if ((rc = session_open(ws, &se)) || (rc = read_trees(se->net, rel, argv, n, rev, before_t, &rs, &at)))
		goto out;
	rc = EXIT_ERROR;
	root = open(ws->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		error_errno("cannot open '%s'", ws->root);
		goto out;
	}
	if (scan_workspace(ws, &scan) || plan_rows(ws, root, &scan, &rs.p))
		goto out;
	for (size_t k = 0; k < rs.p.n; k++)
		todo += rs.p.act[k] != A_NONE;
	if (!todo) {
		say("nothing to restore: the files are as they were at revision %lld\n", at);
		rc = EXIT_OK;
		goto out;
	}
	pull_clear_incoming(ws);
	if ((rc = download(ws, se->net, root, &rs.p, &inc)))
		goto out;
	rc = EXIT_ERROR;
	if (index_begin(ws))
		goto out;
	failed = restore_apply(ws, root, inc, &rs.p, at, &c);
	if (pull_make_durable(root, &rs.p)) {
		index_rollback(ws);
		goto out;
	}
	if (index_commit(ws))
		goto out;
	if (failed)
		error("some paths were not restored (said above)");
	say("restored %zu file%s from revision %lld; 'soc push' sends %s\n", c.restored,
	    c.restored == 1 ? "" : "s", at, c.restored == 1 ? "it" : "them");
	rc = failed ? EXIT_ERROR : EXIT_OK;
out:
	if (inc >= 0) {
		close(inc);
		pull_clear_incoming(ws);
	}
	if (root >= 0)
		close(root);
	scan_result_free(&scan);
	restore_free(&rs);
	for (i = 0; i < n; i++)
		free(rel[i]);
	free(rel);
	return rc;
}
