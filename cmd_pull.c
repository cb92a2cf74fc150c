/*
 * cmd_pull.c: soc pull's plan: bring the server's changes down, three-way
 * (DESIGN.md section 7). For each path the server changed since our last
 * pull we compare B (the content last synced), L (the content here now)
 * and R (the server's): decide() below is the whole table. A pull never
 * destroys local content that was not synced: an edit here against an
 * edit there keeps ours and writes theirs beside it as
 * name.conflict-rH.ext. The executable bit is merged apart from the
 * content (mode_merge(), pull_apply.c), and never makes a conflict.
 *
 * Downloads land in .soc/incoming/ first, rsync using the local files as
 * delta basis (--copy-dest), and are checked against the sha256 the server
 * listed; a mismatch means a push landed meanwhile, and we start again.
 * pull_apply.c then places them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "pull.h"

#define PULL_RETRIES 3		/* restarts when a push lands during our download */
#define PATHS_ONLY " (the paths named only)"	/* after the revision a pull of some paths names */

const char pull_usage[] =
	"usage: soc pull [-n] [--allow-delete] [--resync] [-q] [PATH...]\n"
	"\n"
	"Bring the server's changes down; with PATHs, only those at or under them.\n"
	"An untracked path .socignore ignores is never downloaded. A file edited\n"
	"here and on the server keeps your version; the server's lands beside it\n"
	"as NAME.conflict-rN.EXT and the path is in conflict until 'soc add PATH'\n"
	"(exit 4 while any is). A file edited on one side and deleted on the\n"
	"other keeps the edit.\n"
	"\n"
	"  -n, --dry-run     show what would be done, change nothing\n"
	"  --allow-delete    go ahead with a pull deleting more than half the files here\n"
	"  --resync          after the server was restored or replaced (exit 6): compare\n"
	"                    every file with it as if never synced; nothing here is lost\n"
	"  -q, --quiet       say nothing unless something fails\n";

/*
 * The table of DESIGN.md section 7, and nothing else. x, y, z are
 * versions: content and kind (same_version(), pull.h), so a link never
 * passes for the file holding its target.
 */
static enum action decide(const struct scan_item *it, const struct remote_row *r)
{
	int tracked = it != NULL;
	int present = tracked && it->present;
	static const struct digest none;
	const struct digest *B = tracked ? &it->e.base : &none, *L = present ? &it->e.hash : &none;
	unsigned Bm = tracked ? it->e.base_mode : 0, Lm = present ? it->e.mode : 0;
	struct digest R;
	int LB, BR;

	digest_from_hex(&R, r->hash);
	LB = present && B->set && same_version(L, Lm, B, Bm);
	BR = B->set && !r->deleted && same_version(B, Bm, &R, r->mode);

	if (r->deleted) {
		if (!tracked || !B->set)
			return A_NONE;		/* never synced here: nothing of the server's to remove */
		if (!present)
			return A_DROP;		/* x gone gone */
		if (LB)
			return A_DELETE;	/* x x gone */
		return A_KEEP_NEW;		/* x y gone */
	}
	if (!present) {
		if (!B->set)
			return A_TAKE;		/* none none y */
		if (BR)
			return A_NONE;		/* x gone x: our delete, for push to send */
		return A_RESTORE;		/* x gone y */
	}
	if (same_version(L, Lm, &R, r->mode))
		return BR ? A_NONE : A_RECORD;	/* x y y, or already recorded */
	if (!B->set)
		return A_CONFLICT;		/* none y z */
	if (LB)
		return A_TAKE;			/* x x y */
	if (BR)
		return A_NONE;			/* x y x: push will send y */
	return A_CONFLICT;			/* x y z */
}

/* Where the table keeps the content as it is, the mode may still have moved on the server. */
static enum action mode_action(enum action a, const struct scan_item *it, const struct remote_row *r)
{
	if (a != A_NONE || !it || !it->present || r->deleted || !digest_is(&it->e.base, r->hash))
		return a;
	return r->mode != it->e.base_mode ? A_MODE : A_NONE;
}

/* A new row at the end of p's, zeroed. */
static struct remote_row *plan_new_row(struct plan *p)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->rows = xrealloc(p->rows, p->cap * sizeof(*p->rows));
	}
	memset(&p->rows[p->n], 0, sizeof(p->rows[p->n]));
	return &p->rows[p->n++];
}

static int plan_row(struct change_line *c, void *arg)
{
	struct plan *p = arg;
	struct remote_row *r = plan_new_row(p);

	r->path = c->path;	/* taken */
	c->path = NULL;
	r->deleted = c->deleted;
	memcpy(r->hash, c->hash, HASH_HEX_LEN + 1);
	r->mode = c->mode;
	r->size = c->deleted || c->size < 0 ? 0 : (uint64_t)c->size;
	r->mtime = c->mtime;
	r->target = c->target;	/* taken */
	c->target = NULL;
	return 0;
}

void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->rows[i].path);
		free(p->rows[i].target);
	}
	free(p->rows);
	free(p->act);
	free(p->local);
	free(p->untracked);
	free(p->got);
	buf_free(&p->last_root);
	index_snapshot_free(&p->roots);
	for (size_t i = 0; i < p->nplaced && i < PULL_SYNC_EACH_MAX; i++)
		free(p->placed[i]);
	memset(p, 0, sizeof(*p));
}

static int cmp_row_path(const void *key, const void *row)
{
	return strcmp(key, ((const struct remote_row *)row)->path);
}

static int cmp_rows(const void *a, const void *b)
{
	return strcmp(((const struct remote_row *)a)->path, ((const struct remote_row *)b)->path);
}

/*
 * .socignore changed since the last whole pull: the head's paths it
 * ignored then and takes now join the rows (pull_select.c says why).
 * A path the rows have already is as the head has it.
 */
static int add_unignored(struct net *net, const struct pull_select *sel, struct scan_result *scan,
			 struct plan *p)
{
	struct plan h = { 0 };
	size_t n = p->n;
	int rc = changes_get(net, 0, &h.head, plan_row, &h);

	for (size_t i = 0; !rc && i < h.n; i++) {
		struct remote_row *r = &h.rows[i];

		if (r->deleted || !pull_select_unignored(sel, r->path) || scan_result_find(scan, r->path) ||
		    (n && bsearch(r->path, p->rows, n, sizeof(*p->rows), cmp_row_path)))
			continue;
		*plan_new_row(p) = *r;
		r->path = r->target = NULL;	/* taken */
	}
	if (p->n > n)
		qsort(p->rows, p->n, sizeof(*p->rows), cmp_rows);
	plan_free(&h);
	return rc;
}

/* Leaves out the rows the pull does not take; p->skipped counts them. */
static void select_rows(const struct pull_select *sel, struct scan_result *scan, struct plan *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (pull_select_takes(sel, p->rows[i].path, scan_result_find(scan, p->rows[i].path) != NULL)) {
			p->rows[k++] = p->rows[i];
		} else {
			free(p->rows[i].path);
			free(p->rows[i].target);
			p->skipped++;
		}
	}
	p->n = k;
}

static const char *const action_word[] = {
	[A_NONE] = "", [A_TAKE] = "update", [A_RECORD] = "same", [A_CONFLICT] = "conflict",
	[A_DELETE] = "delete", [A_KEEP_NEW] = "keep", [A_RESTORE] = "restore", [A_DROP] = "forget",
	[A_BLOCKED] = "blocked", [A_MODE] = "mode", [A_ASIDE] = "conflict",
};

/*
 * A file and a directory of one name swapped on the server come as a
 * delete of one and adds of the other, in path order ("x" before "x/f").
 * The apply deletes before it creates, so each needs a plan as if the
 * other were gone already. For an add under x/: a row deleting x (or a
 * directory above it), its index; -1 for none.
 */
static ssize_t deleted_above(const struct plan *p, size_t i)
{
	const char *path = p->rows[i].path;
	struct buf dir = BUF_INIT;
	ssize_t found = -1;

	for (const char *s = strchr(path, '/'); s && found < 0; s = strchr(s + 1, '/')) {
		const struct remote_row *r;

		buf_reset(&dir);
		buf_add(&dir, path, (size_t)(s - path));
		r = bsearch(dir.p, p->rows, i, sizeof(*p->rows), cmp_row_path);
		if (r && r->deleted)
			found = r - p->rows;
	}
	buf_free(&dir);
	return found;
}

/* For row i, x: the first row at or past "x/"; rows "x/..." sort together from there. */
static size_t first_below(const struct plan *p, size_t i)
{
	const char *path = p->rows[i].path;
	size_t n = strlen(path), lo = i + 1, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(p->rows[mid].path, path, n);

		if (c < 0 || (!c && (unsigned char)p->rows[mid].path[n] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is there a row under row i's path whose action is a (any A_NONE for "deleted" there)? */
static int below(const struct plan *p, size_t i, enum action a)
{
	const char *path = p->rows[i].path;
	size_t n = strlen(path);

	for (size_t k = first_below(p, i); k < p->n && !strncmp(p->rows[k].path, path, n) &&
	     p->rows[k].path[n] == '/'; k++)
		if (a == A_NONE ? p->rows[k].deleted : p->act[k] == a)
			return 1;
	return 0;
}

/*
 * Does a file tracked here under dir/ stay after the pull's deletes: an
 * edit the pull keeps (x y gone), or a file new here the server has
 * never seen?
 */
static int kept_below(struct scan_result *s, const struct plan *p, const char *dir)
{
	size_t n = strlen(dir), lo = 0, hi = s->n;

	while (lo < hi) {	/* the first item at or past "dir/" */
		size_t mid = lo + (hi - lo) / 2;
		const char *path = s->items[mid].e.path;
		int c = strncmp(path, dir, n);

		if (c < 0 || (!c && (unsigned char)path[n] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->n && !strncmp(s->items[lo].e.path, dir, n) && s->items[lo].e.path[n] == '/'; lo++) {
		const struct remote_row *r;

		if (!s->items[lo].present)
			continue;
		r = bsearch(s->items[lo].e.path, p->rows, p->n, sizeof(*p->rows), cmp_row_path);
		if (!r || p->act[r - p->rows] != A_DELETE)
			return 1;
	}
	return 0;
}

/*
 * The add of row i, whose path a swap frees: 1 when planned here, 0 when
 * the usual look decides. A file here edited since the sync (x y gone)
 * moves aside as a conflict copy; one unedited is deleted first. A
 * directory here is emptied by the deletes below it first; what it still
 * holds then is either an edit kept (x y gone below it), and the
 * server's file is a conflict copy beside it, or something untracked,
 * and the apply says so.
 */
static int plan_swap(int root, struct plan *p, size_t i)
{
	ssize_t j = deleted_above(p, i);
	int fd;

	if (j >= 0) {
		if (p->act[j] == A_KEEP_NEW)
			p->act[j] = A_ASIDE;
		else if (p->act[j] != A_DELETE && p->act[j] != A_ASIDE)
			return 0;	/* nothing of ours there, or not ours to move: the look says */
		p->act[i] = A_TAKE;
		return 1;
	}
	if (!below(p, i, A_NONE))
		return 0;
	fd = beneath_dir(root, p->rows[i].path, strlen(p->rows[i].path), 0, 0, NULL);
	if (fd < 0)
		return 0;
	close(fd);
	p->act[i] = A_TAKE;	/* made a conflict by make_plan() if an edit below stays */
	return 1;
}

/*
 * 1 when the directory of path is not in the workspace, so nothing of the
 * server's below it is here to look at. Rows come sorted: a directory is
 * opened once, and a missing one answers for everything below it (a
 * first pull looks at 100 directories, not 10,000 files). seen holds the
 * last directory found, absent the last one missing.
 */
static int dir_absent(int root, const char *path, struct buf *seen, struct buf *absent)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	int fd;

	if (!len || (seen->len == len && !memcmp(seen->p, path, len)))
		return 0;
	if (absent->len && absent->len <= len && !memcmp(path, absent->p, absent->len) && path[absent->len] == '/')
		return 1;
	fd = beneath_dir(root, path, len, 0, 0, NULL);
	if (fd >= 0) {
		close(fd);
		buf_reset(seen);
		buf_add(seen, path, len);
		return 0;
	}
	if (errno != ENOENT)
		return 0;	/* a file or a link on the way: pull_look_untracked() says so */
	buf_reset(absent);
	buf_add(absent, path, len);
	return 1;
}

/*
 * Fetches the server's changes since our last pull and decides each path.
 * A resync lists the whole head and decides as if nothing here was ever
 * synced: the same content is recorded, other content is a conflict, a
 * file the server lacks stays here as new.
 */
static int make_plan(struct workspace *ws, struct net *net, const struct remote *r, int root,
		     struct scan_result *scan, struct plan *p, const struct pull_select *sel, int resync)
{
	long long since = resync ? 0 : index_pulled_rev(ws);
	struct buf seen = BUF_INIT, absent = BUF_INIT;
	int rc;
	size_t i, deletes = 0;

	p->since = since;
	rc = changes_get(net, since, &p->head, plan_row, p);
	/* The stream's own head and id: the server may have been replaced since push or pull asked. */
	if (!rc && !resync)
		rc = history_check(ws, r->url, net_history(net), p->head, 0);
	if (!rc && since && sel->changed)
		rc = add_unignored(net, sel, scan, p);
	if (rc)
		return rc;
	select_rows(sel, scan, p);
	for (i = 0; resync && i < scan->n; i++) {
		scan->items[i].e.base.set = 0;
		scan->items[i].e.base_mode = 0;
	}
	p->act = xcalloc(p->n + 1, sizeof(*p->act));
	p->local = xcalloc(p->n + 1, sizeof(*p->local));
	p->untracked = xcalloc(p->n + 1, sizeof(*p->untracked));
	for (i = 0; i < p->n; i++)
		deletes += p->rows[i].deleted;
	for (i = 0; i < p->n; i++) {
		struct scan_item *it = scan_result_find(scan, p->rows[i].path);

		if (!it && !p->rows[i].deleted) {
			if (deletes && plan_swap(root, p, i))
				continue;
			/* One path in the way holds up only itself, never the rest of the pull. */
			if (!dir_absent(root, p->rows[i].path, &seen, &absent) &&
			    pull_look_untracked(ws, root, p->rows[i].path, &p->untracked[i])) {
				p->act[i] = A_BLOCKED;
				continue;
			}
			if (p->untracked[i].present)
				it = &p->untracked[i];
		}
		p->local[i] = it;
		p->act[i] = mode_action(decide(it, &p->rows[i]), it, &p->rows[i]);
	}
	buf_free(&seen);
	buf_free(&absent);
	/* A directory here in the way of the server's file keeps an edit below it: a conflict. */
	for (i = 0; i < p->n && deletes; i++) {
		if (p->act[i] == A_TAKE && !p->local[i] && below(p, i, A_NONE) &&
		    kept_below(scan, p, p->rows[i].path)) {
			p->act[i] = A_CONFLICT;
			memset(&p->untracked[i], 0, sizeof(p->untracked[i]));
			p->untracked[i].e.path = p->rows[i].path;
			p->local[i] = &p->untracked[i];
		}
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
	if (delete_guard_trips(deletes, tracked)) {
		error("refusing to delete %zu of the %zu files here because the server deleted them; "
		      "if that is what you want, pull with --allow-delete", deletes, tracked);
		return EXIT_ERROR;
	}
	(void)ws;
	return 0;
}

/*
 * "pulled to revision 7: 3 updated, 1 in conflict": only the counts that
 * are not zero. A pull of some paths says it took those paths only.
 */
static void say_counts(long long head, const struct counts *c, int whole)
{
	const size_t n[] = { c->updated, c->deleted, c->restored, c->kept, c->recorded, c->conflicts };
	static const char *const what[] = { "updated", "deleted", "restored", "kept", "already the same",
					    "in conflict" };
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		if (n[i])
			buf_addf(&b, "%s%zu %s", b.len ? ", " : "", n[i], what[i]);
	say("pulled to revision %lld%s%s%s\n", head, whole ? "" : PATHS_ONLY, b.len ? ": " : "", b.len ? b.p : "");
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

static int pull_once(struct workspace *ws, struct net *net, const struct remote *r, const struct pull_select *sel,
		     int dry_run, int allow_delete, int resync, int *rc)
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
	/* A resync forgets every base: what a lost push answer or an old mode would settle goes too. */
	if (!resync && ((*rc = pending_settle(ws, net)) || (*rc = modes_settle(ws, net))))
		goto out;
	*rc = EXIT_ERROR;
	if (scan_workspace(ws, &scan))
		goto out;
	if ((*rc = make_plan(ws, net, r, root, &scan, &p, sel, resync)))
		goto out;
	*rc = EXIT_ERROR;
	for (i = 0; i < p.n; i++)
		todo += p.act[i] != A_NONE;
	if (!allow_delete && (*rc = delete_guard(ws, &scan, &p)))
		goto out;
	*rc = EXIT_ERROR;
	if (dry_run) {
		struct buf shown = BUF_INIT;

		/* Quoted as status quotes: a name is never a control sequence on the terminal. */
		for (i = 0; i < p.n; i++) {
			if (p.act[i] == A_NONE)
				continue;
			buf_reset(&shown);
			quote_path(&shown, p.rows[i].path, strlen(p.rows[i].path));
			printf("%-8s %s\n", action_word[p.act[i]], shown.p);
		}
		buf_free(&shown);
		*rc = EXIT_OK;
		goto out;
	}

	pull_clear_incoming(ws);
	if ((k = pull_fetch(ws, net, root, r, &p))) {
		if (k == RSYNC_REMOTE)
			*rc = EXIT_REMOTE;
		goto out;
	}
	inc = openat(root, INCOMING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (inc < 0 && errno != ENOENT) {
		error_errno("cannot open '%s'", INCOMING_DIR);
		goto out;
	}
	if (inc >= 0 && pull_verify(inc, &p)) {
		outcome = PULL_RETRY;
		goto out;
	}
	if (pull_make_links(root, &inc, &p))
		goto out;

	for (i = 0; i < p.n && p.act[i] != A_DELETE; i++)
		;
	if (i < p.n && index_load_roots(ws, &p.roots))
		goto out;
	if (index_begin(ws))
		goto out;
	/* One transaction: the bases forgotten, the plan's recorded, the new id last. */
	if (resync && index_forget_bases(ws)) {
		index_rollback(ws);
		goto out;
	}
	failed = pull_apply(ws, root, inc, &p, &c);
	if (pull_make_durable(root, &p)) {
		/* Nothing recorded: the next pull finds the files here and records them. */
		index_rollback(ws);
		goto out;
	}
	if (failed)
		error("some paths were not pulled (said above); the next pull tries them again");
	/*
	 * A failed path is pulled again next time: our rev stays behind it. So
	 * does a pull of some paths, whose other changes are still to come.
	 */
	if (!failed && sel->whole && (index_set_pulled_rev(ws, p.head) || pull_select_record(ws, sel)))
		failed = 1;
	if (!failed && (resync && net_history(net)[0] ? index_set_history(ws, net_history(net))
						      : history_adopt(ws, net_history(net))))
		failed = 1;
	if (index_commit(ws))
		goto out;
	pull_clear_incoming(ws);
	if (resync && !failed)
		pending_clear(ws);

	if (!todo)
		say_nothing_done("already up to date at revision %lld%s\n", p.head, sel->whole ? "" : PATHS_ONLY);
	else
		say_counts(p.head, &c, sel->whole);
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
	int dry_run = 0, allow_delete = 0, resync = 0, n, rc = EXIT_ERROR, tries;
	const struct opt opts[] = {
		{ 'n', "dry-run", OPT_BOOL, &dry_run, 0 },
		{ 0, "allow-delete", OPT_BOOL, &allow_delete, 0 },
		{ 0, "resync", OPT_BOOL, &resync, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct pull_select sel;
	struct session *se;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 0 && resync)
		return usage_error("--resync compares every file; it takes no paths");
	if ((rc = pull_select_open(ws, &sel, argv, n)))
		return rc;
	if ((rc = session_open(ws, &se)))
		goto out;
	/* Before anything is settled or written: a server restored or replaced stops the pull. */
	if (!resync && (rc = history_verify(ws, se)))
		goto out;
	for (tries = 0; tries <= PULL_RETRIES; tries++) {
		if (pull_once(ws, se->net, &se->remote, &sel, dry_run, allow_delete, resync, &rc) != PULL_RETRY)
			break;
		if (tries < PULL_RETRIES) {
			say("the server changed during the pull; pulling again\n");
		} else {
			error("the server kept changing during the pull; try again");
			rc = EXIT_ERROR;
		}
	}
out:
	pull_select_free(&sel);
	return rc;
}
