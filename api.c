/*
 * api.c: the read side of the API (info, changes, log) and the JSON
 * answers every endpoint shares. Changes stream from store.c's cursor
 * inside one read transaction, so a client sees one consistent head and
 * the server's memory does not grow with the number of files.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

void api_json(struct http_exchange *ex, int status, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	if (!s) {
		static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";

		http_respond(ex, 500, "application/json", oom, sizeof(oom) - 1);
	} else {
		http_respond(ex, status, "application/json", s, strlen(s));
	}
	free(s);
	json_decref(v);
}

void api_error_paths(struct http_exchange *ex, int status, const char *code, const char *message,
		     json_t *paths)
{
	json_t *v = json_pack("{s:s, s:s}", "error", code, "message", message);

	if (v && paths)
		json_object_set(v, "paths", paths);
	api_json(ex, status, v);
}

void api_error(struct http_exchange *ex, int status, const char *code, const char *message)
{
	api_error_paths(ex, status, code, message, NULL);
}

/* A query parameter's value as a non-negative integer; -1 if absent, -2 if malformed. */
long long api_query_int(const struct http_request *req, const char *name)
{
	const char *p = req->query.p, *end = p + req->query.len;
	size_t nlen = strlen(name);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;

		if ((size_t)(stop - p) > nlen && !memcmp(p, name, nlen) && p[nlen] == '=') {
			long long v = 0;
			const char *d = p + nlen + 1;

			if (d == stop || stop - d > 18)
				return -2;
			for (; d < stop; d++) {
				if (*d < '0' || *d > '9')
					return -2;
				v = v * 10 + (*d - '0');
			}
			return v;
		}
		p = stop + 1;
	}
	return -1;
}

void api_info(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	struct sql *db = store_db(s);
	char history[HISTORY_HEX_LEN + 1];
	long long head = -1;

	/* One read transaction: the head and the history it belongs to. */
	if (db && !store_read_begin(db)) {
		head = store_history(db, history) ? -1 : store_head(db);
		store_read_end(db);
	}
	if (head < 0)
		return api_error(ex, 500, "internal", "cannot read the head");
	/* sha256_at_commit: a push line may leave a changed file's sha256 to its commit (PROTOCOL.md 5). */
	api_json(ex, 200, json_pack("{s:s, s:I, s:s, s:b, s:b}", "version", SOC_VERSION, "head",
				    (json_int_t)head, "history", history, "read_only", who->read_only,
				    "sha256_at_commit", 1));
}

/* The lines as wire.c writes them, so the client reads them with the same rules. */
static int changes_begin(long long head, const char *history, void *arg)
{
	struct buf line = BUF_INIT;
	int rc;

	http_stream_begin(arg, 200, "application/x-ndjson");
	change_format_head(head, history, &line);
	rc = http_stream_write(arg, line.p, line.len);
	buf_free(&line);
	return rc;
}

static int changes_row(const struct store_file *f, void *arg)
{
	struct change_line c = { .path = (char *)f->path, .size = f->size, .mtime = f->mtime,
				 .rev = f->rev, .mode = (unsigned)f->mode, .deleted = !f->hash,
				 .target = (char *)f->target };
	struct buf line = BUF_INIT;
	int rc;

	if (f->hash)
		snprintf(c.hash, sizeof(c.hash), "%s", f->hash);
	rc = change_format(&c, &line) ? -1 : http_stream_write(arg, line.p, line.len);
	buf_free(&line);
	return rc;
}

/*
 * NDJSON: {"head":H,"history":ID}, then the newest state of every path changed after
 * since (a delete as {"path","deleted":true,"rev"}); since=0 is the whole
 * head without deletes. A database failure midway leaves the client a
 * cut stream. With wait=S and the head not past since, a long poll: the
 * request is parked (http_park) until a commit passes since (txn.c wakes
 * it) or S seconds pass, then answered the same way.
 */
void api_changes(struct server *s, struct http_exchange *ex)
{
	long long since = api_query_int(http_req(ex), "since");
	long long wait = api_query_int(http_req(ex), "wait");
	struct sql *db = store_db(s);
	int rc;

	if (since == -2 || since == -1)
		return api_error(ex, 400, "bad_request", "changes needs ?since=REV, a revision number");
	if (wait == -2 || wait > CHANGES_WAIT_MAX)
		return api_error(ex, 400, "bad_request", "wait must be seconds, 0 to " CHANGES_WAIT_MAX_TEXT);
	if (wait > 0 && !http_park_expired(ex)) {
		long long head = db ? store_head(db) : -1;

		if (head < 0)
			return api_error(ex, 500, "internal", "cannot read the database");
		if (head <= since)
			return http_park(ex, since, (long)wait * 1000);
	}
	rc = db ? store_changes_each(db, since, changes_begin, changes_row, ex) : -1;
	if (rc < 0)
		return api_error(ex, 500, "internal", "cannot read the database");
	if (!rc)
		http_stream_end(ex);
}

static void log_row(const struct store_rev *r, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:I, s:s, s:s?, s:I, s:I, s:I}",
		"rev", (json_int_t)r->rev, "time", (json_int_t)r->time, "token", r->token,
		"client", r->client, "added", (json_int_t)r->adds, "modified", (json_int_t)r->mods,
		"deleted", (json_int_t)r->dels));
}

/* The revisions, newest first, as one JSON array. */
void api_log(struct server *s, struct http_exchange *ex)
{
	long long limit = api_query_int(http_req(ex), "limit");
	struct sql *db = store_db(s);
	json_t *arr;

	if (limit == -2 || limit == 0)
		return api_error(ex, 400, "bad_request", "limit must be a positive number");
	if (limit < 0)
		limit = LOG_LIMIT_DEFAULT;
	if (limit > LOG_LIMIT_MAX)
		limit = LOG_LIMIT_MAX;
	if (!db)
		return api_error(ex, 500, "internal", "cannot read the database");
	arr = json_array();
	if (store_log_each(db, limit, log_row, arr)) {
		json_decref(arr);
		return api_error(ex, 500, "internal", "cannot read the database");
	}
	api_json(ex, 200, arr);
}
