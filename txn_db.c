/*
 * txn_db.c: a push transaction's rows in soc.db (txns, txn_items) and the
 * statements that turn one into a revision (revs, changes, files, the
 * head). The order they run in, and why, is txn.c's.
 */
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql.h"
#include "txn.h"

static struct sql_stmt *prepare(struct sql *db, const char *sql)
{
	struct sql_stmt *st = sql_prepare(db, sql, 0);

	if (!st)
		error("database: %s (in '%.60s')", sql_errmsg(db), sql);
	return st;
}

/* Steps a statement that returns no rows; 0, or -1 after a message. */
static int step_done(struct sql *db, struct sql_stmt *st)
{
	int rc = sql_step(st);

	sql_reset(st);
	if (rc != SQL_DONE)
		return error("database: %s", sql_errmsg(db));
	return 0;
}

/* Steps a statement that returns a row at most: 1 on a row, 0 on none, -1 after a message. */
static int step_row(struct sql *db, struct sql_stmt *st)
{
	int rc = sql_step(st);

	if (rc == SQL_ROW)
		return 1;
	if (rc == SQL_DONE)
		return 0;
	return error("database: %s", sql_errmsg(db));
}

static void rollback(struct sql *db)
{
	if (sql_in_txn(db))
		sql_exec(db, "ROLLBACK");
}

int txn_get(struct sql *db, const char *id, struct txn_row *t)
{
	struct sql_stmt *st = prepare(db, "SELECT token, state, rev, token_sha256 FROM txns WHERE id = ?");
	int rc;

	if (!st)
		return -1;
	sql_bind_text(st, 1, id, -1);
	rc = step_row(db, st);
	if (rc == 1) {
		snprintf(t->token, sizeof(t->token), "%s", sql_column_text(st, 0));
		snprintf(t->state, sizeof(t->state), "%s", sql_column_text(st, 1));
		t->rev = sql_column_int64(st, 2);
		snprintf(t->token_hash, sizeof(t->token_hash), "%s",
			 sql_column_null(st, 3) ? "" : sql_column_text(st, 3));
	}
	sql_finalize(st);
	return rc;
}

int txn_move(struct sql *db, const char *id, const char *from, const char *to)
{
	struct sql_stmt *st = prepare(db, "UPDATE txns SET state = ? WHERE id = ? AND state = ?");
	int rc;

	if (!st)
		return -1;
	sql_bind_text(st, 1, to, -1);
	sql_bind_text(st, 2, id, -1);
	sql_bind_text(st, 3, from, -1);
	rc = step_done(db, st) ? -1 : sql_changes(db) == 1;
	sql_finalize(st);
	return rc;
}

/*
 * The items of the txn last begun, kept in memory for its upload and its
 * commit: reading a million rows back costs each of them a second or so
 * before its first byte. A txn's items are never changed once written, so
 * what is kept is what txn_items_load would read, but for the marks its
 * upload streams leave (push_item_stored), which only spare the commit a
 * look; only the last txn's are, so the memory is what its begin already
 * held.
 */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static char kept_id[TXN_ID_LEN + 1];
static struct push_list kept_items;

void txn_items_keep(const char *id, struct push_list *l)
{
	struct push_list old;

	pthread_mutex_lock(&kept_lock);
	old = kept_items;
	kept_items = *l;
	snprintf(kept_id, sizeof(kept_id), "%s", id);
	pthread_mutex_unlock(&kept_lock);
	memset(l, 0, sizeof(*l));
	push_list_free(&old);
}

/* The kept items of id, moved into *l: 1, or 0 when they are not kept. */
static int kept_take(const char *id, struct push_list *l)
{
	int found;

	pthread_mutex_lock(&kept_lock);
	found = kept_id[0] && !strcmp(kept_id, id);
	if (found) {
		*l = kept_items;
		memset(&kept_items, 0, sizeof(kept_items));
		kept_id[0] = '\0';
	}
	pthread_mutex_unlock(&kept_lock);
	return found;
}

int txn_delete_rows(struct sql *db, const char *id, const char *state)
{
	struct sql_stmt *del = NULL, *items = NULL;
	int n = -1;

	if (store_write_begin(db))
		return -1;
	del = prepare(db, state ? "DELETE FROM txns WHERE id = ?1 AND state = ?2"
				: "DELETE FROM txns WHERE id = ?1");
	items = prepare(db, "DELETE FROM txn_items WHERE txn = ?");
	if (!del || !items)
		goto out;
	sql_bind_text(del, 1, id, -1);
	if (state)
		sql_bind_text(del, 2, state, -1);
	if (step_done(db, del))
		goto out;
	n = sql_changes(db);
	sql_bind_text(items, 1, id, -1);
	if (n && step_done(db, items))
		n = -1;
out:
	sql_finalize(del);
	sql_finalize(items);
	if (n < 0 || sql_exec(db, "COMMIT")) {
		rollback(db);
		return -1;
	}
	if (n) {
		struct push_list gone;

		if (kept_take(id, &gone))
			push_list_free(&gone);
	}
	return n;
}

int txn_items_load(struct sql *db, const char *id, struct push_list *l)
{
	struct sql_stmt *st;
	size_t cap = 0;
	int rc;

	memset(l, 0, sizeof(*l));
	if (kept_take(id, l))
		return 0;
	st = prepare(db, "SELECT path, sha256, size, mtime, mode, base, base_mode, target FROM txn_items "
			 "WHERE txn = ? ORDER BY path");
	if (!st)
		return -1;
	sql_bind_text(st, 1, id, -1);
	while ((rc = sql_step(st)) == SQL_ROW) {
		const char *hash = sql_column_text(st, 1);
		const char *base = sql_column_text(st, 5);
		struct push_item *it;

		if (l->n == cap) {
			cap = cap ? 2 * cap : 64;
			l->v = xrealloc(l->v, cap * sizeof(*l->v));
		}
		it = &l->v[l->n++];
		memset(it, 0, sizeof(*it));
		it->path = xstrdup(sql_column_text(st, 0));
		snprintf(it->hash, sizeof(it->hash), "%s", hash ? hash : "");
		push_item_base(it, base);
		it->deleted = !hash;
		it->later = hash && !hash[0];
		it->size = sql_column_int64(st, 2);
		it->mtime = sql_column_int64(st, 3);
		it->mode = (unsigned)sql_column_int(st, 4);
		it->base_mode = (unsigned)sql_column_int(st, 6);
		if (!sql_column_null(st, 7))
			it->target = xstrdup(sql_column_text(st, 7));
	}
	sql_finalize(st);
	if (rc != SQL_DONE) {
		push_list_free(l);
		return error("database: %s", sql_errmsg(db));
	}
	return 0;
}

/*
 * The head's sha256 of path: 1 and sha256 filled when the head holds it, 0 when
 * not, -1 on error; its mode in *mode when mode is not NULL. st is
 * "SELECT sha256, mode FROM files WHERE path = ?"; h, when given, answers instead.
 */
static int head_hash(struct sql *db, struct sql_stmt *st, const char *path, size_t len, char hash[HASH_HEX_LEN + 1],
		    unsigned *mode, const struct head_rows *h)
{
	int rc;

	if (h)
		return head_rows_get(h, path, len, hash, mode);
	sql_bind_text(st, 1, path, (int)len);
	rc = step_row(db, st);
	hash[0] = '\0';
	if (rc == 1 && !sql_column_null(st, 0)) {
		snprintf(hash, HASH_HEX_LEN + 1, "%s", sql_column_text(st, 0));
		if (mode)
			*mode = (unsigned)sql_column_int(st, 1);
	}
	sql_reset(st);
	return rc < 0 ? -1 : hash[0] != '\0';
}

/* Length of the longest run of whole directories a ("x/y/") shares with b. */
static size_t common_dirs(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, last = 0;

	while (i < alen && i < blen && a[i] == b[i]) {
		i++;
		if (a[i - 1] == '/')
			last = i;
	}
	return last;
}

long txn_drop_landed(struct sql *db, struct push_list *l, const struct head_rows *h)
{
	struct sql_stmt *st = prepare(db, "SELECT sha256, mode FROM files WHERE path = ?");
	size_t i, kept = 0;
	long dropped = 0;

	if (!st)
		return -1;
	for (i = 0; i < l->n; i++) {
		struct push_item *it = &l->v[i];
		char hash[HASH_HEX_LEN + 1];
		unsigned mode = 0;
		int rc, landed;

		rc = head_hash(db, st, it->path, strlen(it->path), hash, &mode, h);
		if (rc == 1)
			landed = !it->deleted && !strcmp(hash, it->hash) && mode == it->mode;
		else
			landed = it->deleted;
		if (rc < 0) {
			sql_finalize(st);
			return -1;
		}
		if (landed) {
			push_item_free(it);
			dropped++;
		} else {
			l->v[kept++] = *it;
		}
	}
	l->n = kept;
	sql_finalize(st);
	return dropped;
}

long txn_head_check(struct sql *db, const struct push_list *l, json_t *moved, const struct head_rows *h)
{
	struct sql_stmt *one = prepare(db, "SELECT sha256, mode FROM files WHERE path = ?");
	struct sql_stmt *under = prepare(db, "SELECT path FROM files WHERE path > ? AND path < ? AND sha256 IS NOT NULL");
	struct buf lo = BUF_INIT, hi = BUF_INIT, ok = BUF_INIT;
	long bad = -1;
	size_t i;

	if (!one || !under)
		goto out;
	bad = 0;
	for (i = 0; i < l->n; i++) {
		const struct push_item *it = &l->v[i];
		const char *p = it->path, *slash;
		size_t plen = strlen(p), from;
		char hash[HASH_HEX_LEN + 1];
		unsigned mode = 0;
		int in_way = 0, rc;

		if ((rc = head_hash(db, one, p, plen, hash, &mode, h)) < 0)
			goto fail;
		/*
		 * With base_mode the base is content and mode: a file edited
		 * here on a client that has not seen a chmod there would
		 * otherwise put the old mode back.
		 */
		if (strcmp(hash, it->base) || (rc && it->base_mode && mode != it->base_mode)) {
			bad++;
			json_array_append_new(moved, json_string(p));
			continue;
		}
		if (it->deleted)
			continue;
		/* Directories checked for the previous file need no second look. */
		from = common_dirs(p, plen, ok.p ? ok.p : "", ok.len);
		for (slash = strchr(p + from, '/'); slash && !in_way; slash = strchr(slash + 1, '/')) {
			size_t dlen = (size_t)(slash - p);
			const struct push_item *d = push_find(l, p, dlen);

			if (d && d->deleted)
				continue;
			if ((rc = head_hash(db, one, p, dlen, hash, NULL, h)) < 0)
				goto fail;
			in_way = rc;
		}
		/* Not a directory in the head, as h knows: nothing under it to ask about. */
		if (!in_way && h && !head_rows_dir(h, p)) {
			buf_reset(&ok);
			slash = strrchr(p, '/');
			buf_add(&ok, p, slash ? (size_t)(slash - p) + 1 : 0);
			continue;
		}
		buf_reset(&lo);
		buf_reset(&hi);
		buf_addf(&lo, "%s/", p);
		buf_addf(&hi, "%s0", p);	/* '0' follows '/' */
		sql_bind_text(under, 1, lo.p, (int)lo.len);
		sql_bind_text(under, 2, hi.p, (int)hi.len);
		while (!in_way && (rc = sql_step(under)) == SQL_ROW) {
			const char *below = sql_column_text(under, 0);
			const struct push_item *d = push_find(l, below, strlen(below));

			in_way = !d || !d->deleted;
		}
		if (!in_way && rc != SQL_DONE) {
			sql_reset(under);
			error("database: %s", sql_errmsg(db));
			goto fail;
		}
		sql_reset(under);
		if (in_way) {
			bad++;
			json_array_append_new(moved, json_string(p));
			continue;
		}
		buf_reset(&ok);
		slash = strrchr(p, '/');
		buf_add(&ok, p, slash ? (size_t)(slash - p) + 1 : 0);
	}
	goto out;
fail:
	bad = -1;
out:
	sql_finalize(one);
	sql_finalize(under);
	buf_free(&lo);
	buf_free(&hi);
	buf_free(&ok);
	return bad;
}

/* SQLite: the items in one statement, from push_items (txn_items_lite.c). */
static int insert_items_lite(struct sql *db, const char *id, const struct push_list *l)
{
	struct sql_stmt *st = prepare(db, "INSERT INTO txn_items (txn, path, sha256, size, mtime, mode, base,"
				      " base_mode, target) SELECT ?1, path, sha256, size, mtime, mode, base,"
				      " base_mode, target FROM push_items(?2)");
	int rc;

	if (!st)
		return -1;
	sql_bind_text(st, 1, id, -1);
	sql_bind_pointer(st, 2, (void *)l, PUSH_ITEMS_POINTER);
	rc = step_done(db, st) || (size_t)sql_changes(db) != l->n ? -1 : 0;
	sql_finalize(st);
	return rc;
}

int txn_insert(struct sql *db, const char *id, const struct caller *who, const struct push_list *l)
{
	struct sql_stmt *txn = prepare(db, "INSERT INTO txns (id, token, created, state, rev, token_sha256)"
				      " VALUES(?, ?, ?, 'open', NULL, ?)");
	struct sql_bulk *item = NULL;
	int rc = -1;
	size_t i;

	if (!txn)
		goto out;
	sql_bind_text(txn, 1, id, -1);
	sql_bind_text(txn, 2, who->name, -1);
	sql_bind_int64(txn, 3, time(NULL));
	sql_bind_text(txn, 4, who->hash, -1);
	if (step_done(db, txn))
		goto out;
	if (sql_kind(db) == SQL_SQLITE) {
		rc = insert_items_lite(db, id, l);
		goto out;
	}
	item = sql_bulk_open(db, "COPY txn_items (txn, path, sha256, size, mtime, mode, base, base_mode, target)"
			     " FROM STDIN", 9);
	for (i = 0; item && i < l->n; i++) {
		const struct push_item *it = &l->v[i];

		sql_bulk_text(item, 1, id);
		sql_bulk_text(item, 2, it->path);
		sql_bulk_text(item, 3, txn_item_sha256(it));
		sql_bulk_int64(item, 4, it->size);
		sql_bulk_int64(item, 5, it->mtime);
		sql_bulk_int64(item, 6, (int)it->mode);
		sql_bulk_text(item, 7, txn_item_base(it));
		sql_bulk_int64(item, 8, (int)it->base_mode);
		sql_bulk_text(item, 9, it->target);
		if (sql_bulk_row(item))
			break;
	}
	if (!sql_bulk_close(item) && i == l->n)
		rc = 0;
	item = NULL;
out:
	sql_finalize(txn);
	return rc;
}

char **txn_sources(struct sql *db, const struct push_list *l)
{
	/* A link's row holds no file: its content is never a source, nor is one wanted for it. */
	struct sql_stmt *same = prepare(db, "SELECT path FROM files WHERE sha256 = ? AND size = ? AND target IS NULL"
				       " LIMIT 1");
	char **src;
	size_t i;

	if (!same)
		return NULL;
	src = xcalloc(l->n, sizeof(*src));
	for (i = 0; i < l->n; i++) {
		const struct push_item *it = &l->v[i];
		int rc;

		if (it->deleted || it->target)
			continue;
		sql_bind_text(same, 1, it->hash, -1);
		sql_bind_int64(same, 2, it->size);
		rc = step_row(db, same);
		if (rc == 1)
			src[i] = xstrdup(sql_column_text(same, 0));
		sql_reset(same);
		if (rc < 0) {
			txn_sources_free(src, l->n);
			src = NULL;
			break;
		}
	}
	sql_finalize(same);
	return src;
}

void txn_sources_free(char **src, size_t n)
{
	size_t i;

	if (!src)
		return;
	for (i = 0; i < n; i++)
		free(src[i]);
	free(src);
}

/*
 * The sha256s the commit gave, into the txn's items with its revision,
 * and the items it left out gone: an apply finished after a crash reads
 * them there (apply_pending).
 */
static int later_record(struct sql *db, const char *id, const struct push_list *l)
{
	struct sql_stmt *st = NULL;
	int rc = 0;

	for (size_t i = 0; i < l->n && !rc; i++) {
		if (!l->v[i].later)
			continue;
		if (!st && !(st = prepare(db, "UPDATE txn_items SET sha256 = ? WHERE txn = ? AND path = ?")))
			return -1;
		sql_bind_text(st, 1, l->v[i].hash, -1);
		sql_bind_text(st, 2, id, -1);
		sql_bind_text(st, 3, l->v[i].path, -1);
		rc = step_done(db, st) || sql_changes(db) != 1 ? -1 : 0;
	}
	sql_finalize(st);
	/* After those: what is still '' is what the commit left out. */
	if (!rc && l->later_dropped) {
		if (!(st = prepare(db, "DELETE FROM txn_items WHERE txn = ? AND sha256 = ''")))
			return -1;
		sql_bind_text(st, 1, id, -1);
		rc = step_done(db, st) || (size_t)sql_changes(db) != l->later_dropped ? -1 : 0;
		sql_finalize(st);
	}
	return rc;
}

/*
 * A revision's rows are copied from its txn's items inside the database:
 * a statement a row, each bound and stepped, cost nearly twice as much
 * for a million (bench/README), and PostgreSQL is sent none of them.
 */
#define PUBLISH_LITE "INSERT OR REPLACE INTO files (path, sha256, size, mtime, mode, rev, target)" \
	" SELECT path, sha256, size, mtime, mode, CAST(?1 AS BIGINT), target FROM txn_items WHERE txn = ?2"
#define PUBLISH_PG "INSERT INTO files (path, sha256, size, mtime, mode, rev, target)" \
	" SELECT path, sha256, size, mtime, mode, CAST(?1 AS BIGINT), target FROM txn_items WHERE txn = ?2" \
	" ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size," \
	" mtime = excluded.mtime, mode = excluded.mode, rev = excluded.rev, target = excluded.target"
#define RECORD_CHANGES "INSERT INTO changes (rev, path, sha256, size, mtime, mode, target)" \
	" SELECT CAST(?1 AS BIGINT), path, sha256, size, mtime, mode, target FROM txn_items WHERE txn = ?2"

/*
 * The files rows, the head and the state 'done' of a txn in state from,
 * inside the caller's write transaction; node: only while it is that
 * node's. 0, or -1 (the caller rolls back).
 */
static int publish_rows(struct sql *db, const char *id, long long rev, const struct push_list *l,
			const char *from, const char *node)
{
	struct sql_stmt *st = NULL;
	int rc = -1;

	if (store_bulk_begin(db, STORE_FILES_SHA256, l->n) < 0 ||
	    !(st = prepare(db, SQL_TEXT(db, PUBLISH_LITE, PUBLISH_PG))))
		goto out;
	sql_bind_int64(st, 1, rev);
	sql_bind_text(st, 2, id, -1);
	/* The rows are the items the commit holds (txn_items_load), or it is not this txn's. */
	if (step_done(db, st) || (size_t)sql_changes(db) != l->n)
		goto out;
	sql_finalize(st);
	st = prepare(db, "UPDATE meta SET value = ? WHERE key = 'head'");
	if (!st)
		goto out;
	sql_bind_int64(st, 1, rev);
	if (step_done(db, st))
		goto out;
	sql_finalize(st);
	st = prepare(db, node ? "UPDATE txns SET state = 'done', rev = ? WHERE id = ? AND state = ? AND node = ?"
			 : "UPDATE txns SET state = 'done', rev = ? WHERE id = ? AND state = ?");
	if (!st)
		goto out;
	sql_bind_int64(st, 1, rev);
	sql_bind_text(st, 2, id, -1);
	sql_bind_text(st, 3, from, -1);
	if (node)
		sql_bind_text(st, 4, node, -1);
	if (step_done(db, st) || sql_changes(db) != 1)
		goto out;
	sql_finalize(st);
	st = NULL;
	/* A big push's are deleted after its answer (store_settle): rows of a done txn are never read. */
	if (store_items_later(db, l->n)) {
		rc = 0;
		goto out;
	}
	st = prepare(db, "DELETE FROM txn_items WHERE txn = ?");
	if (!st)
		goto out;
	sql_bind_text(st, 1, id, -1);
	rc = step_done(db, st);
out:
	sql_finalize(st);
	return rc;
}

long long txn_record(struct sql *db, const char *id, const char *token, const struct push_list *l,
		     json_t *moved, const char *node)
{
	struct sql_stmt *rev_st = NULL, *state = NULL, *change = NULL;
	long long adds = 0, mods = 0, dels = 0, rev = -1, head;
	long bad;
	size_t i;

	if (store_write_begin(db))
		return -1;
	store_big_write(db, l->n);
	head = store_head(db);
	/*
	 * Every change to files/ moves the head: on the head the begin checked,
	 * the answer is the same. A commit on another node than the begin's,
	 * or after another push, checks again.
	 */
	if (head < 0)
		bad = -1;
	else if (l->checked && l->checked_head == head)
		bad = 0;
	else {
		int failed;
		struct head_rows *h = head_rows_read(db, l, &failed);

		bad = failed ? -1 : txn_head_check(db, l, moved, h);
		head_rows_free(h);
	}
	if (bad) {
		rollback(db);
		store_big_write_end(db, l->n);
		return bad < 0 ? -1 : 0;
	}
	for (i = 0; i < l->n; i++) {
		if (l->v[i].deleted)
			dels++;
		else if (l->v[i].base[0])
			mods++;
		else
			adds++;
	}
	/* The sha256s the commit gave go into the items first: the changes rows are copied from them. */
	if (later_record(db, id, l))
		goto fail;
	rev_st = prepare(db, "INSERT INTO revs VALUES(?, ?, ?, NULL, ?, ?, ?)");
	change = !rev_st || store_bulk_begin(db, STORE_CHANGES_SHA256, l->n) < 0 ? NULL : prepare(db, RECORD_CHANGES);
	if (!change)
		goto fail;
	sql_bind_int64(change, 1, head + 1);
	sql_bind_text(change, 2, id, -1);
	if (step_done(db, change) || (size_t)sql_changes(db) != l->n)
		goto fail;
	sql_bind_int64(rev_st, 1, head + 1);
	sql_bind_int64(rev_st, 2, time(NULL));
	sql_bind_text(rev_st, 3, token, -1);
	sql_bind_int64(rev_st, 4, adds);
	sql_bind_int64(rev_st, 5, mods);
	sql_bind_int64(rev_st, 6, dels);
	if (step_done(db, rev_st))
		goto fail;
	if (node) {
		/* No files/ to change: the revision is the head in the transaction that records it. */
		if (publish_rows(db, id, head + 1, l, "committing", node) || sql_exec(db, "COMMIT"))
			goto fail;
		rev = head + 1;
		goto out;
	}
	state = prepare(db, "UPDATE txns SET state = 'applying', rev = ? WHERE id = ? AND state = 'committing'");
	if (!state)
		goto fail;
	sql_bind_int64(state, 1, head + 1);
	sql_bind_text(state, 2, id, -1);
	if (step_done(db, state) || sql_changes(db) != 1 || sql_exec(db, "COMMIT"))
		goto fail;
	rev = head + 1;
	goto out;
fail:
	rollback(db);
	rev = -1;
out:
	sql_finalize(rev_st);
	sql_finalize(change);
	sql_finalize(state);
	store_big_write_end(db, l->n);
	return rev;
}

long long txn_record_outcome(struct sql *db, const char *id)
{
	for (long waited = 0; waited < RECORD_OUTCOME_MS; waited += RECORD_RETRY_MS) {
		struct txn_row t;
		int rc = sql_broken(db) && sql_reconnect(db) ? -1 : txn_get(db, id, &t);

		if (rc < 0) {
			poll(NULL, 0, RECORD_RETRY_MS);
			continue;
		}
		if (rc && t.rev > 0 && (!strcmp(t.state, "applying") || !strcmp(t.state, "done"))) {
			fprintf(stderr, "%s: push '%s' was recorded as revision %lld before the database's answer "
				"was lost\n", soc_prog, id, t.rev);
			return t.rev;
		}
		return -1;
	}
	return -1;
}

int txn_publish(struct sql *db, const char *id, long long rev, const struct push_list *l)
{
	if (store_write_begin(db))
		return -1;
	store_big_write(db, l->n);
	if (publish_rows(db, id, rev, l, "applying", NULL) || sql_exec(db, "COMMIT")) {
		rollback(db);
		store_big_write_end(db, l->n);
		return error("cannot publish revision %lld", rev);
	}
	store_big_write_end(db, l->n);
	return 0;
}

int txn_first(struct sql *db, const char *state, char id[TXN_ID_LEN + 1], long long *rev)
{
	struct sql_stmt *st = prepare(db, "SELECT id, rev FROM txns WHERE state = ? ORDER BY rev, id LIMIT 1");
	int rc;

	if (!st)
		return -1;
	sql_bind_text(st, 1, state, -1);
	rc = step_row(db, st);
	if (rc == 1) {
		snprintf(id, TXN_ID_LEN + 1, "%s", sql_column_text(st, 0));
		*rev = sql_column_int64(st, 1);
	}
	sql_finalize(st);
	return rc;
}

long txn_expired(struct sql *db, long long before, struct txn_old **old)
{
	struct sql_stmt *st = prepare(db, "SELECT id, state FROM txns WHERE state IN ('open', 'done') AND created <= ?");
	size_t n = 0, cap = 0;
	int rc;

	*old = NULL;
	if (!st)
		return -1;
	sql_bind_int64(st, 1, before);
	while ((rc = sql_step(st)) == SQL_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			*old = xrealloc(*old, cap * sizeof(**old));
		}
		snprintf((*old)[n].id, sizeof((*old)[n].id), "%s", sql_column_text(st, 0));
		(*old)[n++].open = !strcmp(sql_column_text(st, 1), "open");
	}
	sql_finalize(st);
	if (rc != SQL_DONE) {
		free(*old);
		*old = NULL;
		return error("database: %s", sql_errmsg(db));
	}
	return (long)n;
}
