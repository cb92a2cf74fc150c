/*
 * api.c: the read side of the API (info, changes, log) and the JSON
 * answers every endpoint shares. Lists stream from a SQLite cursor inside
 * one read transaction, so a client sees one consistent head and the
 * server's memory does not grow with the number of files.
 */
#include <jansson.h>
#include <sqlite3.h>
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
	sqlite3 *db = store_db(s);
	long long head = db ? store_head(db) : -1;

	if (head < 0)
		return api_error(ex, 500, "internal", "cannot read the head");
	api_json(ex, 200, json_pack("{s:s, s:I, s:b}", "version", SOC_VERSION, "head",
				    (json_int_t)head, "read_only", who->read_only));
}

static int stream_json(struct http_exchange *ex, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	int rc = -1;

	if (s) {
		size_t n = strlen(s);

		s[n] = '\n';	/* json_dumps leaves room: the NUL */
		rc = http_stream_write(ex, s, n + 1);
	}
	free(s);
	json_decref(v);
	return rc;
}

/*
 * NDJSON: {"head":H}, then the newest state of every path changed after
 * since (a delete as {"path","deleted":true,"rev"}); since=0 is the whole
 * head without deletes.
 */
void api_changes(struct server *s, struct http_exchange *ex)
{
	long long since = api_query_int(http_req(ex), "since"), head;
	sqlite3 *db = store_db(s);
	sqlite3_stmt *st = NULL;
	int rc;

	if (since == -2 || since == -1)
		return api_error(ex, 400, "bad_request", "changes needs ?since=REV, a revision number");
	if (!db || store_exec(db, "BEGIN"))
		return api_error(ex, 500, "internal", "cannot read the database");
	head = store_head(db);
	if (sqlite3_prepare_v2(db, since ? "SELECT path, md5, size, mtime, mode, rev FROM files "
				       "WHERE rev > ? AND rev <= ? ORDER BY path"
				     : "SELECT path, md5, size, mtime, mode, rev FROM files "
				       "WHERE rev > ? AND rev <= ? AND md5 IS NOT NULL ORDER BY path",
			       -1, &st, NULL) != SQLITE_OK || head < 0) {
		sqlite3_finalize(st);
		store_exec(db, "ROLLBACK");
		return api_error(ex, 500, "internal", "cannot read the database");
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, head);
	http_stream_begin(ex, 200, "application/x-ndjson");
	if (stream_json(ex, json_pack("{s:I}", "head", (json_int_t)head)))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 0);
		const char *md5 = (const char *)sqlite3_column_text(st, 1);
		json_t *v;

		if (md5)
			v = json_pack("{s:s, s:s, s:I, s:I, s:i, s:I}", "path", path, "md5", md5,
				      "size", (json_int_t)sqlite3_column_int64(st, 2),
				      "mtime", (json_int_t)sqlite3_column_int64(st, 3),
				      "mode", sqlite3_column_int(st, 4),
				      "rev", (json_int_t)sqlite3_column_int64(st, 5));
		else
			v = json_pack("{s:s, s:b, s:I}", "path", path, "deleted", 1,
				      "rev", (json_int_t)sqlite3_column_int64(st, 5));
		if (stream_json(ex, v))
			goto out;
	}
	if (rc != SQLITE_DONE)
		error("database: %s", sqlite3_errmsg(db));	/* the client sees a cut stream */
	else
		http_stream_end(ex);
out:
	sqlite3_finalize(st);
	store_exec(db, "ROLLBACK");
}

/* The revisions, newest first, as one JSON array. */
void api_log(struct server *s, struct http_exchange *ex)
{
	long long limit = api_query_int(http_req(ex), "limit");
	sqlite3 *db = store_db(s);
	sqlite3_stmt *st = NULL;
	json_t *arr;
	int rc;

	if (limit == -2 || limit == 0)
		return api_error(ex, 400, "bad_request", "limit must be a positive number");
	if (limit < 0)
		limit = LOG_LIMIT_DEFAULT;
	if (limit > LOG_LIMIT_MAX)
		limit = LOG_LIMIT_MAX;
	if (!db || sqlite3_prepare_v2(db, "SELECT rev, time, token, client, adds, mods, dels FROM revs "
				      "WHERE rev <= (SELECT value FROM meta WHERE key='head') "
				      "ORDER BY rev DESC LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return api_error(ex, 500, "internal", "cannot read the database");
	sqlite3_bind_int64(st, 1, limit);
	arr = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s?, s:I, s:I, s:I}",
			"rev", (json_int_t)sqlite3_column_int64(st, 0),
			"time", (json_int_t)sqlite3_column_int64(st, 1),
			"token", (const char *)sqlite3_column_text(st, 2),
			"client", (const char *)sqlite3_column_text(st, 3),
			"added", (json_int_t)sqlite3_column_int64(st, 4),
			"modified", (json_int_t)sqlite3_column_int64(st, 5),
			"deleted", (json_int_t)sqlite3_column_int64(st, 6)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return api_error(ex, 500, "internal", "cannot read the database");
	}
	api_json(ex, 200, arr);
}
