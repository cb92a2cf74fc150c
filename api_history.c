/*
 * api_history.c: the version store's read endpoints: GET history (the
 * revisions that touched a path), tree (the files at a revision) and
 * blob/<sha256> (a version's bytes, streamed from versions/). Any valid
 * token may read them: a reader may pull anything the head or a kept
 * revision holds.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "versions.h"

#define BLOB_PREFIX "/api/v1/blob/"

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A query parameter, percent-decoded ('+' is a plus) into out: 1 when
 * given, 0 when absent, -1 when its encoding is broken.
 */
static int query_str(const struct http_request *req, const char *name, struct buf *out)
{
	const char *p = req->query.p, *end = p + req->query.len;
	size_t nlen = strlen(name);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;

		if ((size_t)(stop - p) >= nlen + 1 && !memcmp(p, name, nlen) && p[nlen] == '=') {
			for (const char *d = p + nlen + 1; d < stop; d++) {
				int hi, lo;

				if (*d != '%') {
					buf_addch(out, *d);
					continue;
				}
				if (stop - d < 3 || (hi = hexdigit(d[1])) < 0 || (lo = hexdigit(d[2])) < 0)
					return -1;
				buf_addch(out, (char)(hi * 16 + lo));
				d += 2;
			}
			return 1;
		}
		p = stop + 1;
	}
	return 0;
}

static void bad_request(struct http_exchange *ex, const char *msg)
{
	api_error(ex, 400, "bad_request", msg);
}

static void db_failed(struct http_exchange *ex)
{
	api_error(ex, 500, "internal", "cannot read the database");
}

/* The path parameter: "" when absent; -1 after a 400 naming the problem. */
static int path_param(struct http_exchange *ex, struct buf *path)
{
	char msg[160];
	const char *why;
	int rc = query_str(http_req(ex), "path", path);

	if (rc < 0)
		return bad_request(ex, "path: a broken %-escape"), -1;
	if (!path->len)
		return 0;
	why = path_check(path->p, path->len);
	if (!why)
		return 0;
	snprintf(msg, sizeof(msg), "path: %s", why);
	bad_request(ex, msg);
	return -1;
}

struct lines {
	struct server *s;
	struct http_exchange *ex;
	int history;		/* history lines, else tree lines */
};

/* Whether versions/ holds the content: gc may have taken it, or it is older than the store. */
static int held(struct server *s, const char *hash)
{
	long long size;
	int fd;

	if (!hash || !hash_hex_valid(hash) || strlen(hash) != HASH_HEX_LEN)
		return 0;
	fd = versions_open(s, hash, &size);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int send_line(struct http_exchange *ex, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = -1;

	if (s) {
		rc = http_stream_write(ex, s, strlen(s));
		if (!rc)
			rc = http_stream_write(ex, "\n", 1);
	}
	free(s);
	json_decref(o);
	return rc;
}

static int line(const struct history_row *h, void *arg)
{
	struct lines *L = arg;
	json_t *o;

	if (L->history)
		o = json_pack("{s:I, s:I, s:s, s:s}", "rev", (json_int_t)h->rev, "time", (json_int_t)h->time,
			      "token", h->token ? h->token : "", "path", h->path);
	else
		o = json_pack("{s:s, s:I, s:I}", "path", h->path, "mtime", (json_int_t)h->mtime,
			      "rev", (json_int_t)h->rev);
	if (!o)
		return -1;
	if (!h->hash) {
		json_object_set_new(o, "deleted", json_true());
	} else {
		/* Content from before sha256 has no name: never kept. */
		if (h->hash[0])
			json_object_set_new(o, "sha256", json_string(h->hash));
		json_object_set_new(o, "size", json_integer((json_int_t)h->size));
		json_object_set_new(o, "mode", json_integer(h->mode));
		/* A link's target is its content, and the database keeps it. */
		if (h->target)
			json_object_set_new(o, "target", json_string(h->target));
		json_object_set_new(o, "kept", json_boolean(h->target || held(L->s, h->hash)));
	}
	if (L->history && h->hash)
		json_object_set_new(o, "mtime", json_integer((json_int_t)h->mtime));
	return send_line(L->ex, o);
}

/* GET history?path=P&limit=N: NDJSON, newest first. */
void api_history(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	long long limit = api_query_int(http_req(ex), "limit");
	struct sql *db = store_db(s);
	struct buf path = BUF_INIT;
	struct lines L = { s, ex, 1 };
	int rc;

	(void)who;
	if (limit == -2 || limit == 0) {
		bad_request(ex, "limit must be a positive number");
		goto out;
	}
	if (limit < 0)
		limit = HISTORY_LIMIT_DEFAULT;
	if (limit > HISTORY_LIMIT_MAX)
		limit = HISTORY_LIMIT_MAX;
	if (path_param(ex, &path))
		goto out;
	if (!db) {
		db_failed(ex);
		goto out;
	}
	http_stream_begin(ex, 200, "application/x-ndjson");
	rc = store_history_each(db, path.len ? path.p : "", limit, line, &L);
	/* A failure midway leaves the client a cut stream, which it refuses. */
	if (!rc)
		http_stream_end(ex);
out:
	buf_free(&path);
}

/* GET tree?rev=N|before=T&path=P: {"head":H,"rev":N}, then the files at N. */
void api_tree(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	const struct http_request *req = http_req(ex);
	long long rev = api_query_int(req, "rev"), before = api_query_int(req, "before"), head;
	struct sql *db = store_db(s);
	struct buf path = BUF_INIT;
	struct lines L = { s, ex, 0 };
	int rc = -1;

	(void)who;
	if (rev == -2 || before == -2 || (rev >= 0 && before >= 0)) {
		bad_request(ex, "tree takes rev=N or before=TIME (seconds since the epoch), not both");
		goto out;
	}
	if (path_param(ex, &path))
		goto out;
	if (!db || store_read_begin(db)) {
		db_failed(ex);
		goto out;
	}
	head = store_head(db);
	if (head >= 0 && before >= 0)
		rev = store_rev_before(db, before);
	else if (rev < 0)
		rev = head;
	if (head < 0 || rev < 0) {
		db_failed(ex);
	} else if (rev > head) {
		char msg[96];

		snprintf(msg, sizeof(msg), "revision %lld is past the head, %lld", rev, head);
		bad_request(ex, msg);
	} else {
		http_stream_begin(ex, 200, "application/x-ndjson");
		rc = send_line(ex, json_pack("{s:I, s:I}", "head", (json_int_t)head, "rev", (json_int_t)rev));
		if (!rc)
			rc = store_tree_each(db, rev, path.len ? path.p : "", line, &L);
		if (!rc)
			http_stream_end(ex);
	}
	store_read_end(db);
out:
	buf_free(&path);
}

/* GET blob/<sha256>: a kept version's bytes. */
void api_blob(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	const struct http_request *req = http_req(ex);
	struct sql *db = store_db(s);
	char hash[HASH_HEX_LEN + 1];
	size_t plen = strlen(BLOB_PREFIX);
	long long size;
	int named, fd;

	(void)who;
	if (req->path.len != plen + HASH_HEX_LEN || memcmp(req->path.p, BLOB_PREFIX, plen))
		return bad_request(ex, "blob/ wants a sha256: 64 lowercase hex digits");
	memcpy(hash, req->path.p + plen, HASH_HEX_LEN);
	hash[HASH_HEX_LEN] = '\0';
	if (!hash_hex_valid(hash) || strlen(hash) != HASH_HEX_LEN)
		return bad_request(ex, "blob/ wants a sha256: 64 lowercase hex digits");
	named = db ? store_hash_named(db, hash) : -1;
	if (named < 0)
		return db_failed(ex);
	fd = named ? versions_open(s, hash, &size) : -1;
	if (fd < 0)
		return api_error(ex, 404, "not_found", "the server keeps no version with this sha256");
	http_respond_fd(ex, 200, "application/octet-stream", fd, size);
	close(fd);
}
