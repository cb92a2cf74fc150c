/*
 * cmd_push.c: send local changes to the server (DESIGN.md section 7).
 *
 * Every change names the content it replaces (its base), and the server
 * takes it only if its head still holds that base, so a push can never
 * overwrite an edit its author has not seen: the server answers 409 with
 * the paths, and we exit 3 telling the user to pull. File contents go
 * into the push's staging area: a changed file by rsync, as a delta
 * against the server's old version, a new one in soc's own stream
 * (upload.c); the commit then verifies every staged file's size and sha256,
 * so a file edited while it was read is refused (422) and we rescan and
 * try once more.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "push.h"
#include "testhook.h"

#define PUSH_RETRIES 1		/* rescans after a 422 (a file changed during the push) */
#define SHOW_PATHS_MAX 5	/* paths named in a refusal before "and N more" */
#define BASES_NICE 10		/* the index thread's niceness during the commit (bases_write) */

const char push_usage[] =
	"usage: soc push [-f] [-n] [--allow-delete] [-q]\n"
	"\n"
	"Send every local change (new, modified and deleted tracked files) to the\n"
	"server. A change is taken only if the server still holds the version it\n"
	"replaces; otherwise nothing is sent and push exits 3: run 'soc pull'.\n"
	"\n"
	"  -f, --force       push even when nothing changed here: every tracked file\n"
	"                    the server lacks or holds differently is sent\n"
	"  -n, --dry-run     show what would be sent, send nothing\n"
	"  --allow-delete    go ahead with a push deleting a whole tracked directory\n"
	"                    or more than half of the tracked files\n"
	"  -q, --quiet       say nothing unless something fails\n";

struct push_opts {
	int force, dry_run, allow_delete;
};

static void print_paths(const char *lead, json_t *paths)
{
	size_t i, n = json_array_size(paths);

	fprintf(stderr, "%s", lead);
	for (i = 0; i < n && i < SHOW_PATHS_MAX; i++) {
		const char *p = json_string_value(json_array_get(paths, i));

		fprintf(stderr, "%s'%s'", i ? ", " : " ", p ? show_path(p) : "?");
	}
	if (n > SHOW_PATHS_MAX)
		fprintf(stderr, " and %zu more", n - SHOW_PATHS_MAX);
	fputc('\n', stderr);
}

/* A 409: paths whose head moved (pull first), or a push another request is busy with. */
static int refused(json_t *answer, const struct buf *resp)
{
	const char *code = json_string_value(json_object_get(answer, "error"));
	char msg[512];

	if (!json_array_size(json_object_get(answer, "paths")) && (!code || strcmp(code, "conflict"))) {
		error("the server refused the push (409): %s", net_error_message(resp, msg, sizeof(msg)));
		return EXIT_ERROR;
	}
	print_paths("soc push: the server has newer versions of", json_object_get(answer, "paths"));
	fprintf(stderr, "%s: run 'soc pull' first, then push again\n", soc_prog);
	return EXIT_REJECTED;
}

/*
 * A server that held a file we think it has, and no longer does, or one we
 * never pushed that it already holds: -f looks at the server's head and
 * sends what it lacks or holds differently (DESIGN.md section 2).
 */
struct head_row {
	char *path;
	char hash[HASH_HEX_LEN + 1];
	unsigned mode;
};

struct head {
	struct head_row *v;
	size_t n, cap;
	long long rev;
};

/* The head's files, deletes left out: what -f compares the scan with. */
static int head_row(struct change_line *c, void *arg)
{
	struct head *h = arg;

	if (c->deleted)
		return 0;
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 256;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n].path = c->path;	/* taken */
	c->path = NULL;
	memcpy(h->v[h->n].hash, c->hash, HASH_HEX_LEN + 1);
	h->v[h->n].mode = c->mode;
	h->n++;
	return 0;
}

static int cmp_head_row(const void *a, const void *b)
{
	return strcmp(((const struct head_row *)a)->path, ((const struct head_row *)b)->path);
}

static const struct head_row *head_find(const struct head *h, const char *path)
{
	struct head_row key = { (char *)path, "", 0 };

	return h->n ? bsearch(&key, h->v, h->n, sizeof(*h->v), cmp_head_row) : NULL;
}

static void head_free(struct head *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].path);
	free(h->v);
}

/* The index records e's content as synced: the server holds it. */
static int set_base(struct workspace *ws, const struct entry *e)
{
	char hex[HASH_HEX_LEN + 1];

	digest_hex(&e->hash, hex);
	return index_set_base(ws, e->path, hex, e->mode);
}

/*
 * Chooses what to send. Without -f: every A, M and D of the scan. With -f
 * also every tracked file whose content the server lacks, and a file the
 * server already holds with the same content is recorded as synced.
 */
static int choose_changes(struct workspace *ws, struct net *net, struct scan_result *scan,
			  const struct push_opts *o, struct change_list *out, int *conflicts)
{
	struct head h = { 0 };
	size_t i;

	if (o->force) {
		int rc = changes_get(net, 0, &h.rev, head_row, &h);

		if (rc) {
			head_free(&h);
			return rc;
		}
		qsort(h.v, h.n, sizeof(*h.v), cmp_head_row);
	}
	out->v = xcalloc(scan->n, sizeof(*out->v));
	out->n = 0;
	*conflicts = 0;
	for (i = 0; i < scan->n; i++) {
		struct scan_item *it = &scan->items[i];
		const struct head_row *r;

		if (it->change == CH_CONFLICT) {
			(*conflicts)++;
			continue;
		}
		if (it->change != CH_NONE) {
			/*
			 * The same content with the other mode is left to the
			 * base check: if the server's moved, pull merges it.
			 */
			if (o->force && it->present && (r = head_find(&h, it->e.path)) &&
			    digest_is(&it->e.hash, r->hash) && r->mode == it->e.mode) {
				/* The server already holds exactly this: nothing to send. */
				if (!o->dry_run)
					set_base(ws, &it->e);
				continue;
			}
			out->v[out->n++] = it;
			continue;
		}
		if (!o->force || !it->present)
			continue;
		r = head_find(&h, it->e.path);
		if (!r) {
			/* Synced once, gone from the server: send it again as new. */
			it->e.base.set = 0;
			it->change = CH_ADDED;
			out->v[out->n++] = it;
		} else if (!digest_is(&it->e.hash, r->hash) || r->mode != it->e.mode) {
			/*
			 * The server holds it differently: sent against our base
			 * (and its mode), so a version we have not seen is never
			 * overwritten: the server refuses and the user is told to
			 * pull.
			 */
			it->change = CH_MODIFIED;
			out->v[out->n++] = it;
		}
	}
	head_free(&h);
	return 0;
}

/* Mass deletes are how sync tools lose data: an unmounted drive looks like every file deleted. */
static int delete_guard(struct workspace *ws, const struct scan_result *scan,
			const struct change_list *ch, const struct push_opts *o)
{
	size_t deletes = 0, tracked = 0, i;
	const char *root;

	if (o->allow_delete)
		return 0;
	for (i = 0; i < scan->n; i++)
		if (scan->items[i].present || scan->items[i].e.base.set)
			tracked++;
	for (i = 0; i < ch->n; i++)
		if (ch->v[i]->change == CH_DELETED)
			deletes++;
	root = index_emptied_root(ws, scan);
	if (root) {
		error("refusing to delete every file under the tracked directory '%s' (%zu deletes); "
		      "if that is what you want, push with --allow-delete", show_path(root), deletes);
		return EXIT_ERROR;
	}
	if (delete_guard_trips(deletes, tracked)) {
		struct buf b = BUF_INIT;
		size_t shown = 0;

		for (i = 0; i < ch->n && shown < SHOW_PATHS_MAX; i++)
			if (ch->v[i]->change == CH_DELETED)
				buf_addf(&b, "%s'%s'", shown++ ? ", " : "", show_path(ch->v[i]->e.path));
		error("refusing to delete %zu of %zu tracked files (%s%s); "
		      "if that is what you want, push with --allow-delete",
		      deletes, tracked, b.p, deletes > shown ? ", ..." : "");
		buf_free(&b);
		return EXIT_ERROR;
	}
	return 0;
}

static void print_changes(const struct change_list *ch)
{
	static const char letter[] = { ' ', 'A', 'M', 'D', 'C' };

	struct buf shown = BUF_INIT;

	/* Quoted as status quotes: a name is never a control sequence on the terminal. */
	for (size_t i = 0; i < ch->n; i++) {
		buf_reset(&shown);
		quote_path(&shown, ch->v[i]->e.path, strlen(ch->v[i]->e.path));
		printf("%c %s\n", letter[ch->v[i]->change], shown.p);
	}
	buf_free(&shown);
}

/*
 * Each pushed path's new base, written into the index on a thread while
 * the server commits, in a transaction kept only when the commit lands
 * (bases_keep): a million of them take seconds, which the client would
 * otherwise spend after the answer with the server idle.
 */
struct bases {
	struct workspace *ws;
	const struct change_list *ch;
	struct push_later *later;	/* its rows and pieces join the transaction */
	pthread_t thread;
	int threaded;
	int begun, failed;
};

static void *bases_write(void *arg)
{
	struct bases *w = arg;

	/*
	 * Behind the server's own threads when both share this machine: the
	 * answer waits for those. A failure leaves it at the usual priority.
	 */
	if (w->threaded)
		thread_nice(BASES_NICE);
	w->failed = index_begin(w->ws);
	w->begun = !w->failed;
	if (!w->failed)
		w->failed = push_later_keep(w->later);
	for (size_t i = 0; i < w->ch->n && !w->failed; i++) {
		const struct scan_item *it = w->ch->v[i];

		w->failed = it->change == CH_DELETED ? index_drop(w->ws, it->e.path) : set_base(w->ws, &it->e);
	}
	return NULL;
}

/* The main thread touches the index only after bases_wait. */
static void bases_start(struct bases *w, struct workspace *ws, const struct change_list *ch,
			struct push_later *later)
{
	memset(w, 0, sizeof(*w));
	w->ws = ws;
	w->ch = ch;
	w->later = later;
	w->threaded = 1;
	if (pthread_create(&w->thread, NULL, bases_write, w)) {
		w->threaded = 0;
		bases_write(w);
	}
}

static void bases_wait(struct bases *w)
{
	if (w->threaded)
		pthread_join(w->thread, NULL);
	w->threaded = 0;
}

/* The commit did not land: the index keeps its old bases. */
static void bases_drop(struct bases *w)
{
	if (w->begun)
		index_rollback(w->ws);
	w->begun = 0;
}

/*
 * After the commit: each pushed path is now synced at the content pushed,
 * in one transaction. When our revision came right after the last one we
 * pulled, we hold all of it too: it counts as pulled, so status does not
 * send us to pull our own push.
 */
static int bases_keep(struct bases *w, long long rev, const char *history)
{
	struct workspace *ws = w->ws;
	char kept[HISTORY_HEX_LEN + 1];
	int failed = w->failed, same;

	if (!failed) {
		/* A revision of another history (the server replaced mid-push) is not one we pulled. */
		failed = index_history(ws, kept);
		same = !history[0] || !kept[0] || !strcmp(history, kept);
		if (!failed && same && rev > 0 && index_pulled_rev(ws) == rev - 1)
			failed = index_set_pulled_rev(ws, rev);
		if (!failed && same)
			failed = history_adopt(ws, history);
	}
	if (failed) {
		bases_drop(w);
		return -1;
	}
	w->begun = 0;
	if (index_commit(ws))
		return -1;
	pending_clear(ws);
	return 0;
}

enum { PUSH_DONE, PUSH_RETRY };

/* One attempt: begin, upload, commit. PUSH_RETRY when a file changed under us (422). */
static int push_once(struct workspace *ws, struct net *net, const struct remote *r,
		     const struct push_opts *o, int retry, int *rc)
{
	struct scan_result scan = { 0 };
	struct change_list ch = { 0 };
	struct buf resp = BUF_INIT;
	struct push_begun b = { 0 };
	struct push_later *later = NULL;
	struct bases w;
	struct rsync_stop stop = RSYNC_STOP_INIT;
	struct buf hashes = BUF_INIT;
	json_t *j = NULL;
	char *path = NULL, *dst = NULL, *src = NULL;
	struct progress pg;
	int progressing = 0;
	char msg[512];
	int conflicts, outcome = PUSH_DONE;
	long st;
	size_t i;

	if ((*rc = pending_settle(ws, net)) || (*rc = modes_settle(ws, net)))
		return PUSH_DONE;
	*rc = EXIT_ERROR;
	/* -f compares every content with the head's, and -n shows what changed: they read every file first. */
	if (scan_workspace_later(ws, &scan, o->force || o->dry_run || !net_sha256_at_commit(net) ? 0 : PUSH_LATER_MIN))
		return PUSH_DONE;
	*rc = choose_changes(ws, net, &scan, o, &ch, &conflicts);
	if (*rc)
		goto out;
	*rc = EXIT_ERROR;
	if (conflicts) {
		error("%d path%s in conflict; resolve %s, then 'soc add PATH' and push again",
		      conflicts, conflicts == 1 ? "" : "s", conflicts == 1 ? "it" : "them");
		*rc = EXIT_CONFLICT;
		goto out;
	}
	if (!ch.n) {
		say_nothing_done("everything up to date\n");
		*rc = EXIT_OK;
		goto out;
	}
	if ((*rc = delete_guard(ws, &scan, &ch, o)))
		goto out;
	*rc = EXIT_ERROR;
	if (o->dry_run) {
		print_changes(&ch);
		*rc = EXIT_OK;
		goto out;
	}

	st = push_begin(ws, net, &ch, &b);
	if (st == PUSH_BEGIN_RESCAN) {
		outcome = PUSH_RETRY;	/* a link changed since the scan */
		goto out;
	}
	if (st == -1) {
		*rc = EXIT_REMOTE;
		goto out;
	}
	if (st == -2)
		goto abort_txn;
	if (st == 409) {
		j = json_loadb(b.answer.p ? b.answer.p : "", b.answer.len, 0, NULL);
		*rc = refused(j, &b.answer);
		goto out;
	}
	if (st != 201) {
		error("the server refused the push (%ld): %s", st, net_error_message(&b.answer, msg, sizeof(msg)));
		goto out;
	}
	/* Beside the transfer, on another core: its files are read once more, from the cache. */
	/* A retry hashes whole: a 422 may have been a resumed hash's wrong claim. */
	later = push_later_start(ws, &ch, &stop, !retry);
	/* One line for both ways a push sends, on a terminal. */
	progress_start(&pg, "sending", b.nasked, b.total);
	progressing = 1;
	if (b.nadded) {
		const char *changed;
		int up = upload_run(r, ws, b.txn, b.added, b.nadded, &pg, &changed);

		if (up == UPLOAD_CHANGED) {
			fprintf(stderr, "%s: changed while being sent: '%s'\n", soc_prog, show_path(changed));
			outcome = PUSH_RETRY;
			goto abort_txn;
		}
		if (up == UPLOAD_REMOTE) {
			*rc = EXIT_REMOTE;
			goto abort_txn;
		}
		if (up == UPLOAD_FAILED)
			goto abort_txn;
		if (up == UPLOAD_UNKNOWN) {
			/* rsync carries them all, in the order the server listed them. */
			for (i = b.nfiles = 0; i < b.nasked; i++)
				b.files[b.nfiles++] = b.asked[i];
		}
	}
	if (b.nfiles) {
		int sent;

		src = xasprintf("%s/", ws->root);
		dst = xasprintf("soc::push/%s/", b.txn);
		sent = rsync_run(r, src, dst, NULL, b.files, b.nfiles, &pg, &stop);

		if (sent == RSYNC_STOPPED) {
			/* Only the hash thread stops it: its files came back as synced (or changed since). */
			int lr = push_later_end(later, NULL);

			progress_end(&pg, 0);
			progressing = 0;
			if (!lr && push_later_none_changed(&ch)) {
				say_nothing_done("everything up to date\n");
				*rc = EXIT_OK;
			} else if (lr >= 0) {
				outcome = PUSH_RETRY;
			}
			goto abort_txn;
		}
		if (sent == RSYNC_REMOTE)
			*rc = EXIT_REMOTE;
		if (sent)
			goto abort_txn;
	}
	progress_end(&pg, 1);
	progressing = 0;
	if (later) {
		const char *changed;
		int lr = push_later_end(later, &changed);

		if (lr > 0) {
			fprintf(stderr, "%s: changed while being sent: '%s'\n", soc_prog, show_path(changed));
			outcome = PUSH_RETRY;
		}
		if (lr)
			goto abort_txn;
	}

	if (pending_write(ws, b.txn, ch.v, ch.n))
		goto abort_txn;
	path = xasprintf("/api/v1/push/%s/commit", b.txn);
	push_later_body(&ch, &hashes);
	bases_start(&w, ws, &ch, later);
	st = net_request_patient(net, "POST", path, hashes.len ? "application/json" : NULL, hashes.p, hashes.len,
				 &resp);
	bases_wait(&w);
	if (st != 200)
		bases_drop(&w);
	if (st < 0) {
		/* Its staging freed now, not in an hour: the server drops only a push still open. */
		*rc = EXIT_REMOTE;
		goto abort_txn;
	}
	if (st == 200) {
		json_t *c = json_loadb(resp.p, resp.len, 0, NULL);
		long long rev = (long long)json_integer_value(json_object_get(c, "rev"));
		int already = json_is_true(json_object_get(c, "already"));
		const char *history = json_string_value(json_object_get(c, "history"));

		/* A test hook: die at the worst moment, the push landed and not recorded. */
		if (test_hook_flag(HOOK_KILL_AFTER_COMMIT))
			raise(SIGKILL);
		/* Every change had landed already: the head is not our revision. */
		if (bases_keep(&w, already ? 0 : rev, history && history_id_valid(history) ? history : "")) {
			error("the push landed, but the index could not record it; "
			      "the next push or pull records it");
			json_decref(c);
			goto out;
		}
		if (already)
			say("the server held every change already (revision %lld)\n", rev);
		else
			say("pushed %zu change%s as revision %lld\n", ch.n, ch.n == 1 ? "" : "s", rev);
		json_decref(c);
		*rc = EXIT_OK;
		goto out;
	}
	json_decref(j);
	j = json_loadb(resp.p ? resp.p : "", resp.len, 0, NULL);
	if (st == 409) {
		*rc = refused(j, &resp);
		goto out;
	}
	if (st == 422) {
		print_paths("soc push: changed while being sent:", json_object_get(j, "paths"));
		outcome = PUSH_RETRY;
		goto abort_txn;
	}
	error("the server refused the commit (%ld): %s", st, net_error_message(&resp, msg, sizeof(msg)));

abort_txn:
	/* Staged uploads are the server's to drop; an hour's expiry would do it too. */
	free(path);
	path = b.txn[0] ? xasprintf("/api/v1/push/%s", b.txn) : NULL;
	if (path)
		net_request(net, "DELETE", path, NULL, NULL, 0, &resp);
out:
	if (progressing)
		progress_end(&pg, 0);
	push_later_free(later);
	buf_free(&hashes);
	push_begun_free(&b);
	free(path);
	free(src);
	free(dst);
	json_decref(j);
	buf_free(&resp);
	free(ch.v);
	scan_result_free(&scan);
	return outcome;
}

int cmd_push(int argc, char **argv, struct workspace *ws)
{
	struct push_opts o = { 0 };
	const struct opt opts[] = {
		{ 'f', "force", OPT_BOOL, &o.force, 0 },
		{ 'n', "dry-run", OPT_BOOL, &o.dry_run, 0 },
		{ 0, "allow-delete", OPT_BOOL, &o.allow_delete, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct session *se;
	int n, rc = EXIT_ERROR, tries;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 0)
		return usage_error("'push' takes no paths; it sends every change");
	if ((rc = session_open(ws, &se)))
		return rc;
	/* A server restored or replaced would take changes against files this side never saw. */
	if ((rc = history_verify(ws, se)))
		return rc;
	for (tries = 0; tries <= PUSH_RETRIES; tries++) {
		if (push_once(ws, se->net, &se->remote, &o, tries > 0, &rc) != PUSH_RETRY)
			break;
		if (tries < PUSH_RETRIES)
			say("rescanning and trying once more\n");
		else
		{
			error("files kept changing during the push; try again when they settle");
			rc = EXIT_ERROR;
		}
	}
	return rc;
}
