/*
 * txn.c: push transactions and the crash-safe commit (DESIGN.md section 7):
 * the endpoints, the order of the steps, recovery and expiry. The steps
 * themselves are in txn_files.c (the files) and txn_db.c (the rows).
 *
 * A push is a transaction in four states, kept in soc.db's txns table:
 * 'open' from POST /api/v1/push until the client commits (rsync writes
 * its files into staging/<txn>/ meanwhile, and upload_serve.c's stream,
 * which checks each as it writes it, into commit/<txn>/; no commit,
 * abort or expiry takes a txn while that stream runs, see
 * upload_gate_enter()); 'committing' while a commit checks the staged
 * files; 'applying' once its revision is written and
 * files/ is being changed; 'done' when the revision is the head.
 *
 * The commit order, and why a crash anywhere in it loses nothing. A
 * commit goes through four steps, each finished before the next begins.
 * (1) Check: a file the stream kept in commit/<txn>/ is taken as it is;
 * each other staged file is opened, hashed, given the mode (and,
 * when no other path shares its inode, the mtime) its change line names,
 * and hard-linked into commit/<txn>/, which rsync cannot reach, and the
 * link is checked to be the very inode that was hashed, so a client
 * still writing into staging/ cannot swap a file after it was checked;
 * each is fsync'd (a large push: one syncfs for all, see txn_check.c);
 * then staging/<txn>/ is renamed into trash/, and removed there once the
 * client has its answer.
 * (2) Record: under apply_lock, one SQLite transaction checks every base
 * against the head again and writes the new revision, its changes and
 * the txn state 'applying'. From the moment it commits the push will
 * land. (3) Apply: deleted paths are unlinked (and directories left
 * empty removed), then every checked file is renamed from commit/<txn>/
 * into files/, parents made as needed, each directory touched fsync'd
 * (or, again, one syncfs).
 * (4) Publish: one SQLite transaction writes the files rows, the head and
 * the txn state 'done'; readers see the new revision only now, and all of
 * it at once (their reads are transactions too). Then commit/<txn>/ goes.
 * A big push's sha256 indexes (dropped for one sort) and its txn_items
 * rows follow after the answer, in one more transaction (store_settle).
 * A crash before (2) commits leaves the head and files/ untouched: the
 * txn is reopened at the next start, or was still open, and its
 * commit/<txn>/ is removed (what a stream kept there may not be
 * durable). A crash after it leaves a txn 'applying' whose items are in
 * txn_items and whose files are in commit/<txn>/, which nothing but its
 * own apply empties, and txn_recover() runs (3) and (4) again before the
 * server listens. Every
 * step of (3) may run twice: a path already unlinked is fine; a file
 * whose source is gone from commit/ was renamed by the first try, which
 * is believed only when the target holds the sha256 recorded; renaming a
 * file that is still there does what the first try would have done.
 * (4) is one transaction, so it happened or did not. A commit also
 * first finishes any txn still 'applying' (one whose apply failed, on a
 * full disk say) before it records a revision of its own, so revisions
 * always apply in order, one at a time. Between (3) and (4) files/ runs
 * ahead of the head readers see: a pull may fetch a file newer than the
 * sha256 it was told, which it checks, and pulls again, as section 7 says;
 * once (4) commits, files/ and the head agree again.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sql.h"
#include "txn.h"
#include "node.h"
#include "testhook.h"
#include "versions.h"

#define APPLY_DELAY_MAX_MS 10000	/* HOOK_APPLY_DELAY_MS and HOOK_BEGIN_DELAY_MS at most */
#define SETTLE_DELAY_MAX_MS 60000	/* HOOK_SETTLE_DELAY_MS at most */
#define PATH_SHOWN_MAX 200		/* bytes of a path a message quotes */
#define TRASH_AGE_SECONDS 60		/* trash/ entries the tick removes are older than this */

static long long expire_seconds = TXN_EXPIRE_SECONDS;
static long apply_delay_ms;	/* a test hook: a pause at each step of an apply */
static long begin_delay_ms;	/* a test hook: a pause before a begin's answer */
static long settle_delay_ms;	/* a test hook: a pause before a commit's store_settle */

/* ---- answers ---- */

static void internal(struct http_exchange *ex)
{
	api_error(ex, 500, "internal", "the server could not do this; its log says why");
}

/* A commit that failed with errno e: a full disk is the owner's to mend, and the client says so. */
static void commit_failed(struct http_exchange *ex, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return api_error(ex, 507, "no_space", "the server has no space left to commit this push; "
				 "its owner must free some, then push again");
	internal(ex);
}

static void not_found(struct http_exchange *ex)
{
	api_error(ex, 404, "not_found", "no such push (it expired, was committed long ago, or is another token's)");
}

static void uploading(struct http_exchange *ex)
{
	api_error(ex, 409, "busy", "an upload into this push is still running");
}

static void moved_paths(struct http_exchange *ex, json_t *moved)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "the server has newer versions of %zu path%s; pull first",
		 json_array_size(moved), json_array_size(moved) == 1 ? "" : "s");
	api_error_paths(ex, 409, "conflict", msg, moved);
}

/*
 * Whether who began the txn: the same name and the same token. A token
 * revoked and made anew under its name is another token, and never goes
 * on with a push the old one began.
 */
static int mine(const struct txn_row *t, const struct caller *who)
{
	return !strcmp(t->token, who->name) && t->token_hash[0] && !strcmp(t->token_hash, who->hash);
}

/* A txn the caller named that is not open: say what it is instead. */
static void not_open(struct http_exchange *ex, struct sql *db, const char *id, const struct caller *who,
		     int commit)
{
	struct txn_row t;
	int rc = txn_get(db, id, &t);

	if (rc < 0)
		return internal(ex);
	if (!rc || !mine(&t, who))
		return not_found(ex);
	if (!strcmp(t.state, "done")) {
		char history[HISTORY_HEX_LEN + 1];

		if (commit && store_history(db, history))
			return internal(ex);
		if (commit)	/* a client that lost the first answer asks again */
			return api_json(ex, 200, json_pack("{s:I, s:s}", "rev", (json_int_t)t.rev, "history", history));
		return api_error(ex, 409, "committed", "this push is committed already");
	}
	api_error(ex, 409, "busy", "this push is being committed by another request");
}

/* How much of s fits in max bytes without cutting a UTF-8 sequence (a message must stay JSON). */
static int utf8_fit(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return (int)n;
	n = max;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static void refuse_body(struct http_exchange *ex, const struct push_refusal *r)
{
	char msg[512];
	json_t *paths = NULL;

	if (r->path) {
		int n = utf8_fit(r->path, PATH_SHOWN_MAX);

		snprintf(msg, sizeof(msg), "'%.*s%s': %s", n, r->path, r->path[n] ? "..." : "", r->why);
		paths = json_array();
		json_array_append_new(paths, json_string(r->path));
		if (r->other)
			json_array_append_new(paths, json_string(r->other));
	} else if (r->line) {
		snprintf(msg, sizeof(msg), "line %zu: %s", r->line, r->why);
	} else {
		snprintf(msg, sizeof(msg), "%s", r->why);
	}
	api_error_paths(ex, 400, "bad_request", msg, paths);
	json_decref(paths);
}

/* ---- begin: POST /api/v1/push ---- */

/* Removes a txn that never wrote a revision: its rows, staging/ and commit/. */
static void txn_drop(struct server *s, struct sql *db, const char *id)
{
	stage_follow_drop(id);
	if (txn_delete_rows(db, id, NULL) < 0)
		warning("push '%s' stays in the database until it expires", id);
	if (remove_tree(s->staging_fd, id))
		warning_errno("cannot remove 'staging/%s'", id);
	if (s->commit_fd >= 0 && remove_tree(s->commit_fd, id))
		warning_errno("cannot remove 'commit/%s'", id);
}

/* 1 when the request's Accept names NDJSON: a client that reads the answer line by line. */
static int accepts_ndjson(struct http_exchange *ex)
{
	static const char ndjson[] = "application/x-ndjson";
	const struct http_slice *a = http_header(http_req(ex), "accept");

	return a && memmem(a->p, a->len, ndjson, sizeof(ndjson) - 1);
}

/*
 * The 201's body, the paths to upload, written into b straight from the
 * list (as jansson objects, a million paths cost 100 MB more than their
 * 30 MB of text, bench/million.sh): {"txn":ID,"upload":[paths]}, or, with
 * lines (a client that accepts NDJSON), {"txn":ID} and then a path a
 * line, which it reads as they come, never holding a million strings.
 */
static int begin_answer(struct buf *b, int lines, const char *id, const struct push_list *l,
			const unsigned char *up)
{
	const char *sep = "";

	if (lines)
		buf_addf(b, "{\"txn\":\"%s\"}\n", id);
	else
		buf_addf(b, "{\"txn\":\"%s\",\"upload\":[", id);
	for (size_t i = 0; i < l->n; i++) {
		if (!up[i])
			continue;
		buf_addstr(b, sep);
		/* Never, for a path push_parse took. */
		if (json_str_add(b, l->v[i].path))
			return -1;
		if (lines)
			buf_addch(b, '\n');
		else
			sep = ",";
	}
	if (!lines)
		buf_addstr(b, "]}");
	return 0;
}

static void body_read(size_t upto, void *ex)
{
	http_body_drop(ex, upto);
}

void txn_begin(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	size_t len;
	const char *body = http_body(ex, &len);
	struct push_list l;
	struct push_refusal r;
	struct sql *db = store_db(s);
	struct buf answer = BUF_INIT;
	json_t *moved = NULL;
	unsigned char *up = NULL;
	char **sources = NULL;
	char id[TXN_ID_LEN + 1];
	int lines = accepts_ndjson(ex), failed, empty;
	struct head_rows *head;
	size_t n = 0;
	long bad;

	/* From the start: the client waits from its body's last byte on, and a million lines take seconds to read. */
	if (lines && http_prefers(http_req(ex), PREFER_PATIENCE))
		http_patience(ex);
	if (push_parse_reading(body, len, &l, &r, body_read, ex)) {
		refuse_body(ex, &r);
		goto out;
	}
	/* The sources are looked up by sha256: a big push's indexes first, if they are still owed. */
	if (db)
		store_settle(s, db, 0);
	if (!db || random_hex(id, TXN_ID_BYTES) || store_write_begin(db)) {
		internal(ex);
		goto out;
	}
	moved = json_array();
	head = head_rows_read(db, &l, &failed);
	bad = failed ? -1 : txn_drop_landed(db, &l, head);
	if (bad >= 0)
		bad = txn_head_check(db, &l, moved, head);
	empty = head_rows_empty(head);
	head_rows_free(head);
	if (bad) {
		store_write_abort(db);
		if (bad < 0)
			internal(ex);
		else
			moved_paths(ex, moved);
		goto out;
	}
	l.checked_head = store_head(db);
	l.checked = l.checked_head >= 0;
	/*
	 * The sources are looked up inside the transaction: outside it each
	 * of their 10,000 SELECTs was a read transaction of its own, with
	 * its locks. The row comes before staging/<txn>/, so the sweep never
	 * takes the directory for a stray.
	 */
	/*
	 * A cluster node has no files/: its staging links every content from
	 * versions/ by sha256. An empty head has no sources.
	 */
	sources = s->cluster || empty ? xcalloc(l.n ? l.n : 1, sizeof(*sources)) : txn_sources(db, &l);
	if (!sources || txn_insert(db, id, who, &l)) {
		store_write_abort(db);
		internal(ex);
		goto out;
	}
	if (store_write_commit(db)) {
		internal(ex);
		goto out;
	}
	up = xcalloc(l.n ? l.n : 1, 1);
	if (txn_stage(s, id, &l, sources, up) || begin_answer(&answer, lines, id, &l, up)) {
		txn_drop(s, db, id);
		internal(ex);
		goto out;
	}
	/*
	 * Not on a cluster: rsync may write on another node, and a shared
	 * mount shows one machine's writes to another only as it flushes them.
	 */
	if (!s->cluster)
		stage_follow_begin(s, id, &l, up);
	txn_sources_free(sources, l.n);
	sources = NULL;
	n = l.n;
	/* Before the client can ask: its upload and commit would read the rows just written back. */
	txn_items_keep(id, &l);
	if (begin_delay_ms)
		poll(NULL, 0, (int)begin_delay_ms);
	http_respond(ex, 201, lines ? "application/x-ndjson" : "application/json", answer.p, answer.len);
out:
	json_decref(moved);
	free(up);
	buf_free(&answer);
	txn_sources_free(sources, l.n);
	n += l.n;
	push_list_free(&l);
	push_refusal_free(&r);
	store_trim(db, n);
}

/* ---- commit: POST /api/v1/push/<txn>/commit ---- */

/*
 * The sha256s the begin left to the commit ("sha256":null: a big changed
 * file the client hashed while rsync sent it), from the commit's body
 * {"sha256":{PATH:SHA256,...}}: one for each such file and none other. A
 * file found back at its base's content and mode is no change and is
 * dropped, as txn_drop_landed drops one at the begin. 0, or -1 with the
 * 400 answered.
 */
static int later_fill(struct http_exchange *ex, struct push_list *l)
{
	size_t len, later = 0, kept = 0;
	const char *body = http_body(ex, &len);
	json_t *o, *named, *paths = json_array();
	const char *why = NULL;

	for (size_t i = 0; i < l->n; i++)
		later += l->v[i].later;
	if (!later && !len) {
		json_decref(paths);
		return 0;
	}
	/* No body: the answer names the paths that needed one. */
	o = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : json_pack("{s:{}}", "sha256");
	named = json_object_get(o, "sha256");
	if (!json_is_object(named) || json_object_size(o) != 1)
		why = "the commit's body is not {\"sha256\":{PATH:SHA256,...}}";
	for (size_t i = 0; i < l->n && !why; i++) {
		struct push_item *it = &l->v[i];
		json_t *v = it->later ? json_object_get(named, it->path) : NULL;
		const char *hex = json_string_value(v);

		if (!it->later)
			continue;
		if (!hex || json_string_length(v) != HASH_HEX_LEN || !hash_hex_valid(hex)) {
			why = "the commit gives no valid sha256 for a file whose line left it to the commit";
			json_array_append_new(paths, json_string(it->path));
		} else {
			memcpy(it->hash, hex, HASH_HEX_LEN + 1);
		}
	}
	if (!why && json_object_size(named) != later)
		why = "the commit gives a sha256 for a path whose line did not leave it to the commit";
	json_decref(o);
	if (why)
		api_error_paths(ex, 400, "bad_request", why, paths);
	json_decref(paths);
	if (why)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		struct push_item *it = &l->v[i];

		if (it->later && it->base_mode == it->mode && !strcmp(it->hash, it->base)) {
			push_item_free(it);
			l->later_dropped++;
		} else
			l->v[kept++] = *it;
	}
	l->n = kept;
	return 0;
}

/* Steps 3 and 4 of a txn whose revision is recorded. Hold apply_lock. */
static int apply_txn(struct server *s, struct sql *db, const char *id, long long rev, const struct push_list *l)
{
	long long head = store_head(db);

	if (head != rev - 1)
		return error("push '%s' is revision %lld, but the head is %lld", id, rev, head);
	if (apply_delay_ms)
		poll(NULL, 0, (int)apply_delay_ms);
	if (txn_apply_files(s, id, l, apply_delay_ms) || txn_publish(db, id, rev, l))
		return -1;
	if (remove_tree(s->commit_fd, id))
		warning_errno("cannot remove 'commit/%s'", id);
	return 0;
}

/* Finishes every txn left 'applying', oldest first. Hold apply_lock (or be alone, at start). */
static int apply_pending(struct server *s, struct sql *db, int at_start)
{
	char id[TXN_ID_LEN + 1];
	long long rev;
	int rc;

	while ((rc = txn_first(db, "applying", id, &rev)) > 0) {
		struct push_list l;

		if (txn_items_load(db, id, &l))
			return -1;
		rc = apply_txn(s, db, id, rev, &l);
		push_list_free(&l);
		if (rc)
			return error("cannot finish revision %lld (push '%s'); the head stays at %lld",
				     rev, id, rev - 1);
		fprintf(stderr, "%s: finished revision %lld, whose apply %s\n", soc_prog, rev,
			at_start ? "a crash interrupted" : "had failed");
	}
	return rc;
}

/*
 * A commit's claim given back: the txn is open again. A cluster node gives
 * back only its own. The database's answer may be lost with its connection
 * (PostgreSQL failed over, t/0261): the claim would then stay until the
 * server started again, and the client's DELETE would meet 409 busy until
 * it gave up. So it is given back again, connecting again, as a record's
 * outcome is asked again (txn_record_outcome).
 */
static int unclaim(struct server *s, struct sql *db, const char *id)
{
	static atomic_int lost;	/* the test hook's answer was lost once */

	for (long waited = 0;; waited += RECORD_RETRY_MS) {
		int hooked = test_hook_flag(HOOK_UNCLAIM_LOST) && !atomic_exchange(&lost, 1);
		int rc = hooked || (sql_broken(db) && sql_reconnect(db)) ? -1
			 : s->cluster ? node_unclaim(s, db, id) : txn_move(db, id, "committing", "open");

		if (rc >= 0) {
			if (waited)
				fprintf(stderr, "%s: reopened push '%s' once the database answered again\n",
					soc_prog, id);
			return rc;
		}
		if ((!hooked && !sql_broken(db)) || waited >= RECORD_OUTCOME_MS)
			break;
		poll(NULL, 0, RECORD_RETRY_MS);
	}
	return error("push '%s' stays claimed by a commit that failed, until the server starts again", id);
}

void txn_commit(struct server *s, struct http_exchange *ex, const struct caller *who, const char *id)
{
	struct sql *db = store_db(s);
	struct txn_row t;
	struct push_list l = { 0 };
	json_t *bad = NULL;
	char history[HISTORY_HEX_LEN + 1];
	long long rev;
	long nbad;
	size_t n;
	int rc, trashed = 0, vlock = -1;

	/* A million files' commit on a slow disk can outlast a client's or a proxy's wait for a byte. */
	if (accepts_ndjson(ex))
		http_patience(ex);
	if (!db)
		return internal(ex);
	rc = txn_get(db, id, &t);
	if (rc < 0)
		return internal(ex);
	if (!rc || !mine(&t, who) || strcmp(t.state, "open"))
		return not_open(ex, db, id, who, 1);
	if (upload_gate_enter(id)) {
		upload_gate_leave();
		return uploading(ex);
	}
	rc = s->cluster ? node_claim(s, db, id) : txn_move(db, id, "open", "committing");
	upload_gate_leave();
	if (rc == 2)
		return uploading(ex);
	/* A claim whose answer was lost may have been made. */
	if (rc < 0 && sql_broken(db))
		unclaim(s, db, id);
	if (rc <= 0)
		return rc < 0 ? internal(ex) : not_open(ex, db, id, who, 1);
	if (txn_items_load(db, id, &l))
		goto reopen;
	if (later_fill(ex, &l)) {
		unclaim(s, db, id);
		goto out;
	}
	if (!l.n) {
		/* Every change had landed already (txn_drop_landed): no new revision. */
		long long head = store_head(db);

		txn_drop(s, db, id);
		if (head < 0 || store_history(db, history))
			return internal(ex);
		/* "already": no revision of ours, so the client must not count the head as pulled. */
		return api_json(ex, 200, json_pack("{s:I, s:s, s:b}", "rev", (json_int_t)head, "history",
						   history, "already", 1));
	}

	/*
	 * Every checked file goes into versions/ before the revision naming it
	 * is recorded, under the lock gc waits for until that record is
	 * written (versions.c): no revision names a blob that is not durable,
	 * or that gc took meanwhile.
	 */
	vlock = versions_lock(s, 0, 0);
	if (vlock < 0)
		goto reopen;
	bad = json_array();
	nbad = txn_check_staged(s, id, &l, bad);
	if (nbad) {
		int e = errno;
		char msg[160];

		if (remove_tree(s->commit_fd, id))
			warning_errno("cannot remove 'commit/%s'", id);
		if (unclaim(s, db, id) < 0 || nbad < 0) {
			commit_failed(ex, nbad < 0 ? e : 0);
			goto out;
		}
		snprintf(msg, sizeof(msg), "%ld staged file%s missing, or not the size and sha256 the push named",
			 nbad, nbad == 1 ? " is" : "s are");
		api_error_paths(ex, 422, "staged_mismatch", msg, bad);
		goto out;
	}
	/* Out of the way in one rename; removing a large push's links waits until after the answer. */
	trashed = !renameat(s->staging_fd, id, s->trash_fd, id);
	if (!trashed && errno != ENOENT && remove_tree(s->staging_fd, id))
		warning_errno("cannot remove 'staging/%s'", id);

	pthread_mutex_lock(&s->apply_lock);
	json_decref(bad);
	bad = json_array();
	nbad = s->cluster ? 0 : txn_check_targets(s, &l, bad);
	if (nbad) {
		pthread_mutex_unlock(&s->apply_lock);
		if (nbad < 0)
			goto reopen;
		if (remove_tree(s->commit_fd, id))
			warning_errno("cannot remove 'commit/%s'", id);
		unclaim(s, db, id);
		api_error_paths(ex, 500, "files_tampered",
				"the server's files/ holds a symlink or special file soc did not write "
				"on these paths; its owner must run 'soc serve check'", bad);
		goto out;
	}
	if (!s->cluster && apply_pending(s, db, 0)) {
		pthread_mutex_unlock(&s->apply_lock);
		goto reopen;
	}
	json_decref(bad);
	bad = json_array();
	if (apply_delay_ms && s->cluster)
		poll(NULL, 0, (int)apply_delay_ms);
	rev = txn_record(db, id, who->name, &l, bad, s->cluster ? s->node : NULL);
	if (rev < 0)
		rev = txn_record_outcome(db, id);
	versions_unlock(s, vlock, 0);
	vlock = -1;
	if (rev <= 0) {
		pthread_mutex_unlock(&s->apply_lock);
		if (rev < 0)
			goto reopen;
		/* Its bases moved: it can never land; the client pulls and pushes anew. */
		txn_drop(s, db, id);
		moved_paths(ex, bad);
		goto out;
	}
	rc = s->cluster ? 0 : apply_txn(s, db, id, rev, &l);
	/* The publish's answer lost with its connection: asked again, and finished if it was not. */
	if (rc && !s->cluster && txn_record_outcome(db, id) == rev && txn_get(db, id, &t) == 1)
		rc = !strcmp(t.state, "done") ? 0 : apply_txn(s, db, id, rev, &l);
	pthread_mutex_unlock(&s->apply_lock);
	/* A cluster node's checked files are in versions/: commit/<txn>/ is done with. */
	if (s->cluster && remove_tree(s->commit_fd, id))
		warning_errno("cannot remove 'commit/%s'", id);
	if (rc) {
		error("revision %lld is recorded but not applied; the next commit or start finishes it", rev);
		internal(ex);
		goto out;
	}
	/* Long polls parked below the new head answer now. */
	httpd_wake(rev);
	if (store_history(db, history)) {
		internal(ex);
		goto out;
	}
	/* The history the revision belongs to: the client records the two together. */
	api_json(ex, 200, json_pack("{s:I, s:s}", "rev", (json_int_t)rev, "history", history));
	goto out;
reopen:
	/* Nothing was written to the head; the staged files may be gone, and a retry says so. */
	if (remove_tree(s->commit_fd, id))
		warning_errno("cannot remove 'commit/%s'", id);
	unclaim(s, db, id);
	internal(ex);
out:
	if (vlock >= 0)
		versions_unlock(s, vlock, 0);
	/* After the answer, the indexes first (lookups by sha256 read whole tables until then), then the trash. */
	if (settle_delay_ms)
		poll(NULL, 0, (int)settle_delay_ms);
	store_settle(s, db, 0);
	store_checkpoint(s, db);
	if (trashed && remove_tree(s->trash_fd, id))
		warning_errno("cannot remove 'trash/%s'; housekeeping will try again", id);
	json_decref(bad);
	n = l.n;
	push_list_free(&l);
	store_trim(db, n);
}

/* ---- POST /api/v1/push/<txn>/upload: whether upload_serve.c's stream may run ---- */

int txn_upload_check(struct server *s, struct http_exchange *ex, const struct caller *who, const char *id,
		     struct push_list *l)
{
	struct sql *db = store_db(s);
	struct txn_row t;
	int rc;

	if (!db)
		return internal(ex), -1;
	rc = txn_get(db, id, &t);
	if (rc < 0)
		return internal(ex), -1;
	if (!rc || !mine(&t, who) || strcmp(t.state, "open"))
		return not_open(ex, db, id, who, 0), -1;
	if (l && txn_items_load(db, id, l))
		return internal(ex), -1;
	return 0;
}

/* ---- DELETE /api/v1/push/<txn> ---- */

void txn_abort(struct server *s, struct http_exchange *ex, const struct caller *who, const char *id)
{
	struct sql *db = store_db(s);
	struct txn_row t;
	int rc;

	if (!db)
		return internal(ex);
	rc = txn_get(db, id, &t);
	if (rc < 0)
		return internal(ex);
	if (!rc || !mine(&t, who))
		return not_found(ex);
	if (upload_gate_enter(id) || (s->cluster && node_uploading(s, db, id))) {
		upload_gate_leave();
		return uploading(ex);
	}
	rc = txn_delete_rows(db, id, "open");
	upload_gate_leave();
	if (rc < 0)
		return internal(ex);
	if (!rc)
		return not_open(ex, db, id, who, 0);
	stage_follow_drop(id);
	if (remove_tree(s->staging_fd, id))
		warning_errno("cannot remove 'staging/%s'; the sweep will", id);
	if (remove_tree(s->commit_fd, id))
		warning_errno("cannot remove 'commit/%s'; the sweep will", id);
	http_respond(ex, 204, NULL, "", 0);
}

/* ---- housekeeping ---- */

void txn_expire(struct server *s)
{
	struct sql *db = store_db(s);
	struct txn_old *old;
	long n, i;

	if (!db)
		return;
	n = txn_expired(db, (long long)time(NULL) - expire_seconds, &old);
	for (i = 0; i < n; i++) {
		/* Only while still in that state: a commit may have just begun. A long upload is no stale push. */
		int busy = old[i].open && (upload_gate_enter(old[i].id) ||
					   (s->cluster && node_uploading(s, db, old[i].id)));
		long gone = busy ? 0 : txn_delete_rows(db, old[i].id, old[i].open ? "open" : "done");

		if (old[i].open)
			upload_gate_leave();
		if (gone != 1 || !old[i].open)
			continue;
		stage_follow_drop(old[i].id);
		if (remove_tree(s->staging_fd, old[i].id))
			warning_errno("cannot remove 'staging/%s'", old[i].id);
		if (remove_tree(s->commit_fd, old[i].id))
			warning_errno("cannot remove 'commit/%s'", old[i].id);
		fprintf(stderr, "%s: push '%s' expired, never committed; removed it\n", soc_prog, old[i].id);
	}
	free(old);
	txn_sweep(db, s->staging_fd, "staging", "open committing");
	/*
	 * A push just done still removes its commit/<txn> after the publish (a
	 * big one's directories take a while): its own to remove until its row
	 * goes, then a stray. A crash's is taken at the next start.
	 */
	txn_sweep(db, s->commit_fd, "commit", "open committing applying done");
	txn_empty_trash(s, TRASH_AGE_SECONDS);
}

int txn_recover(struct server *s)
{
	struct sql *db = store_db(s);
	char id[TXN_ID_LEN + 1];
	long long rev;
	int rc;

	expire_seconds = test_hook_long(HOOK_TXN_EXPIRE_SECONDS, 1, TXN_EXPIRE_SECONDS, TXN_EXPIRE_SECONDS);
	apply_delay_ms = test_hook_long(HOOK_APPLY_DELAY_MS, 0, APPLY_DELAY_MAX_MS, 0);
	begin_delay_ms = test_hook_long(HOOK_BEGIN_DELAY_MS, 0, APPLY_DELAY_MAX_MS, 0);
	settle_delay_ms = test_hook_long(HOOK_SETTLE_DELAY_MS, 0, SETTLE_DELAY_MAX_MS, 0);
	if (!db)
		return -1;
	/* Other nodes' pushes go on meanwhile: only dead nodes' are recovered, and the sweeps are the tick's. */
	if (s->cluster) {
		node_tick(s, 1);
		txn_expire(s);
		return 0;
	}
	/* A commit cut short while it checked files: nothing of it reached the head. */
	while ((rc = txn_first(db, "committing", id, &rev)) > 0) {
		if (txn_move(db, id, "committing", "open") != 1)
			return -1;
		fprintf(stderr, "%s: reopened push '%s', whose commit a crash interrupted\n", soc_prog, id);
	}
	if (rc < 0)
		return -1;
	if (apply_pending(s, db, 1))
		return error("'%s': files/ is not the head; fix what the messages above name, then start again",
			     s->root);
	/* What a crash cut short after a big push's answer. */
	store_settle(s, db, 1);
	txn_sweep(db, s->commit_fd, "commit", "applying");
	txn_sweep(db, s->staging_fd, "staging", "open");
	txn_empty_trash(s, 0);
	return 0;
}
