/*
 * net.c: the client's HTTP, through one libcurl handle reused for every
 * request of a command (keep-alive). The token travels only in the
 * Authorization header. Failures that mean "the server is not there for
 * us" (cannot connect, 401/403, 5xx) are said once here, so every command
 * reports them the same way and exits EXIT_REMOTE. The server's change
 * stream is read here alone (changes_get), every line through wire.c's
 * checks.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "sync.h"
#include "testhook.h"

/* Where a proxy's request-body limit is raised, named when a proxy refuses a body. */
#define PROXY_BODY_HINT "a proxy in front of soc serve limits request bodies " \
	"(nginx: client_max_body_size; see contrib/nginx-soc.conf)"

struct net {
	CURL *curl;
	struct remote r;	/* its strings outlive the handle (the workspace's, the environment's) */
	char *base;		/* remote URL without trailing '/' */
	char *auth;		/* "Authorization: Bearer ..." */
	int quick;		/* net_quick(): each request gets NET_QUICK_MS */
	const atomic_int *abort;	/* net_abort_on(): nonzero ends a request in flight */
	long recv_buf;		/* curl's receive buffer for the next request; 0: curl's own */
	int patient;		/* the next request asks for NDJSON: net_request_patient */
	long stall_s;		/* a request with no byte for this long fails: NET_STALL_SECONDS, or the test hook's */
	struct net_body *body;		/* the next request's body, written as curl sends it */
	char history[HISTORY_HEX_LEN + 1];	/* the last history id the server gave, "" if none */
	int sha256_at_commit;			/* its last info said a push may give a sha256 at the commit */
	char errbuf[CURL_ERROR_SIZE];
};

struct line_sink {
	CURL *curl;
	struct buf pending;
	int (*cb)(const char *line, size_t len, void *arg);
	void *arg;
	int failed;		/* a line was too long or cb asked to stop */
	int too_long;
	int whole;		/* a 2xx answer not NDJSON is kept whole in pending, not fed to cb */
	int patient;		/* the request asked for patience (net_post_lines) */
	int framed;		/* and the answer is a patient one: 200, NDJSON */
	long outcome;		/* a patient answer's status, from its first line; 0 before it */
	struct buf refusal;	/* a patient outcome not 2xx: its object without "status" */
};

struct net *net_open(const struct remote *r)
{
	static int curl_ready;
	struct net *n;
	size_t len;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			error("cannot start libcurl");
			return NULL;
		}
		curl_ready = 1;
	}
	n = xcalloc(1, sizeof(*n));
	n->curl = curl_easy_init();
	if (!n->curl) {
		free(n);
		error("cannot start libcurl");
		return NULL;
	}
	n->r = *r;
	n->base = xstrdup(r->url);
	len = strlen(n->base);
	while (len && n->base[len - 1] == '/')
		n->base[--len] = '\0';
	n->auth = xasprintf("Authorization: Bearer %s", r->token ? r->token : "");
	n->stall_s = test_hook_long(HOOK_NET_STALL_SECONDS, 1, NET_STALL_SECONDS, NET_STALL_SECONDS);
	return n;
}

void net_quick(struct net *n)
{
	n->quick = 1;
}

void net_abort_on(struct net *n, const atomic_int *flag)
{
	n->abort = flag;
}

/* libcurl asks about once a second, idle or not: a nonzero answer ends the transfer. */
static int abort_asked(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load((const atomic_int *)arg);
}

void net_close(struct net *n)
{
	if (!n)
		return;
	curl_easy_cleanup(n->curl);
	/* The token should not linger in freed memory. */
	explicit_bzero(n->auth, strlen(n->auth));
	free(n->auth);
	free(n->base);
	free(n);
}

static size_t to_buf(char *p, size_t size, size_t nmemb, void *arg)
{
	buf_add(arg, p, size * nmemb);
	return size * nmemb;
}

static int ndjson(CURL *curl)
{
	const char *ctype = NULL;

	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
	return ctype && !strncasecmp(ctype, "application/x-ndjson", 20);
}

/* A patient answer's outcome line without its "status", compact, into out; the status, or 0 for no outcome. */
static long take_status(const char *line, size_t len, struct buf *out)
{
	json_t *j = json_loadb(line, len, 0, NULL), *st = json_object_get(j, "status");
	long status = json_is_integer(st) ? (long)json_integer_value(st) : 0;
	char *s;

	if (!json_is_object(j) || status < 200 || status > 599) {
		json_decref(j);
		return 0;
	}
	json_object_del(j, "status");
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		die("out of memory reading the server's answer");
	buf_addstr(out, s);
	free(s);
	return status;
}

/*
 * One line of a 2xx NDJSON answer; non-zero stops the answer. In a
 * patient one, the empty lines the server sends while it works are
 * passed over, and the first other line is the outcome: a 2xx one goes on
 * to cb without its "status", any other is kept in refusal.
 */
static int sink_line(struct line_sink *s, const char *line, size_t len)
{
	struct buf rest = BUF_INIT;
	int rc;

	if (!s->framed || s->outcome)
		return s->cb(line, len, s->arg);
	if (!len)
		return 0;
	s->outcome = take_status(line, len, &rest);
	if (s->outcome < 200 || s->outcome >= 300) {
		s->refusal = rest;
		return 1;
	}
	rc = s->cb(rest.p, rest.len, s->arg);
	buf_free(&rest);
	return rc;
}

static size_t to_lines(char *p, size_t size, size_t nmemb, void *arg)
{
	struct line_sink *s = arg;
	size_t n = size * nmemb, start = 0;
	char *nl;

	long status = 0;

	if (s->failed)
		return 0;
	buf_add(&s->pending, p, n);
	/* An error answer is kept whole for its message, not fed to cb. */
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (s->whole && !(status >= 200 && status < 300 && ndjson(s->curl)))
		return n;
	if (status < 200 || status >= 300)
		return s->pending.len > JSON_LINE_MAX ? 0 : n;
	s->framed = s->patient && status == 200;
	while ((nl = memchr(s->pending.p + start, '\n', s->pending.len - start))) {
		size_t len = (size_t)(nl - (s->pending.p + start));

		*nl = '\0';
		if (len > JSON_LINE_MAX || sink_line(s, s->pending.p + start, len)) {
			s->too_long = len > JSON_LINE_MAX;
			s->failed = 1;
			return 0;
		}
		start += len + 1;
	}
	if (start) {
		memmove(s->pending.p, s->pending.p + start, s->pending.len - start);
		s->pending.len -= start;
		s->pending.p[s->pending.len] = '\0';
	}
	if (s->pending.len > JSON_LINE_MAX) {
		s->too_long = s->failed = 1;
		return 0;
	}
	return n;
}

const char *net_error_message(const struct buf *resp, char *tmp, size_t tmplen)
{
	json_t *j;
	const char *m;

	if (!resp->len)
		return "no explanation from the server";
	j = json_loadb(resp->p, resp->len, 0, NULL);
	m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	/* One line, never a control sequence: the message may name a path, and a server may be hostile. */
	snprintf(tmp, tmplen, "%s", show_path(m ? m : resp->p));
	json_decref(j);
	return tmp;
}

/*
 * 1 when the answer is soc's: an error with a JSON body naming its
 * "error", or a success in JSON (or none, 204). Else 0 after one line: a
 * web server or a proxy answered in soc's place, so the URL, the port or
 * the proxy is wrong, and no caller should read the answer as soc's
 * ("no such push" for a proxy's 404 page). body NULL: too long to keep.
 */
static int soc_answer(struct net *n, long status, const struct buf *body, size_t sent)
{
	const char *ctype = NULL, *to = NULL;
	json_t *j;
	int soc;

	curl_easy_getinfo(n->curl, CURLINFO_CONTENT_TYPE, &ctype);
	if (status >= 200 && status < 300)
		soc = !ctype || !strncasecmp(ctype, "application/json", 16) ||
		      !strncasecmp(ctype, "application/x-ndjson", 20) ||
		      !strncasecmp(ctype, "application/octet-stream", 24);	/* a blob */
	else if (!body || !body->len)
		soc = 0;
	else {
		j = json_loadb(body->p, body->len, 0, NULL);
		soc = json_is_string(json_object_get(j, "error"));
		json_decref(j);
	}
	if (soc)
		return 1;
	if (status == 413)
		error("the server at '%s' refused a request of %zu bytes as too large (413), "
		      "and not in soc's words: " PROXY_BODY_HINT, n->base, sent);
	else if (status == 502 || status == 503 || status == 504)
		error("the server at '%s' answered %ld, and not in soc's words: "
		      "a proxy in front of soc serve may not reach it", n->base, status);
	else if (status >= 300 && status < 400 && !curl_easy_getinfo(n->curl, CURLINFO_REDIRECT_URL, &to) && to)
		error("not a soc server at '%s' (%ld): it redirects to '%s'; set the remote to "
		      "the URL soc serve answers at", n->base, status, to);
	else
		error("not a soc server at '%s' (%ld%s): check the URL and the port", n->base, status,
		      ctype && !strncasecmp(ctype, "text/html", 9) ? ", an HTML page" : "");
	return 0;
}

/* A status of soc's: -1 after its message when it means the server is not there for us. */
static long judged(struct net *n, long status, const struct buf *errbody)
{
	char msg[256];

	if (status == 401 || status == 403) {
		error("the server at '%s' refused the token (%ld): %s", n->base, status,
		      net_error_message(errbody, msg, sizeof(msg)));
		return -1;
	}
	if (status >= 500) {
		error("the server at '%s' failed (%ld): %s", n->base, status,
		      net_error_message(errbody, msg, sizeof(msg)));
		return -1;
	}
	return status;
}

static long no_outcome(struct net *n, const char *path)
{
	error("the server at '%s' ended its answer to '%s' without the outcome", n->base, path);
	return -1;
}

/* curl sends a body again on a new connection when a kept one had closed: from its start only. */
static int body_seek(void *arg, curl_off_t offset, int origin)
{
	struct net_body *b = arg;

	if (offset || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	return b->rewind(b->arg) ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static long perform(struct net *n, const char *method, const char *path,
		    const char *content_type, const void *body, size_t len,
		    size_t (*sink)(char *, size_t, size_t, void *), void *sink_arg,
		    struct buf *errbody)
{
	struct curl_slist *hdrs = NULL;
	char *url = xasprintf("%s%s", n->base, path);
	const struct net_body *stream = NULL;
	char *ctype = NULL;
	CURLcode rc;
	long status = 0;

	hdrs = curl_slist_append(hdrs, n->auth);
	/* Our server answers at once; never wait a second for 100-continue. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (content_type) {
		ctype = xasprintf("Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ctype);
	}
	/* A server that can answer in lines does: read as they come, never held whole. */
	if (sink == to_lines || n->patient)
		hdrs = curl_slist_append(hdrs, "Accept: application/x-ndjson, application/json");
	/* A begin's Accept named NDJSON before patience was: it asks by name (PROTOCOL.md section 5). */
	if (n->patient)
		hdrs = curl_slist_append(hdrs, "Prefer: " PREFER_PATIENCE);
	n->patient = 0;
	if (!hdrs)
		die("out of memory building request headers");

	curl_easy_reset(n->curl);
	curl_easy_setopt(n->curl, CURLOPT_URL, url);
	curl_easy_setopt(n->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(n->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)NET_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(n->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(n->curl, CURLOPT_LOW_SPEED_TIME, n->stall_s);
	if (n->quick) {
		/*
		 * The connect may use the whole budget (the total caps it): a
		 * first SYN lost is sent again after a second, and such a
		 * server can still answer in time.
		 */
		curl_easy_setopt(n->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)NET_QUICK_MS);
		curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, (long)NET_QUICK_MS);
	}
	if (n->abort) {
		curl_easy_setopt(n->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(n->curl, CURLOPT_XFERINFOFUNCTION, abort_asked);
		curl_easy_setopt(n->curl, CURLOPT_XFERINFODATA, (void *)n->abort);
	}
	curl_easy_setopt(n->curl, CURLOPT_USERAGENT, "soc/" SOC_VERSION);
	/* Set after the reset above, which would undo it; for this request alone. */
	if (n->recv_buf)
		curl_easy_setopt(n->curl, CURLOPT_BUFFERSIZE, n->recv_buf);
	n->recv_buf = 0;
	net_tls(n->curl, &n->r);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(n->curl, CURLOPT_ERRORBUFFER, n->errbuf);
	curl_easy_setopt(n->curl, CURLOPT_CUSTOMREQUEST, method);
	if (n->body) {
		curl_easy_setopt(n->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(n->curl, CURLOPT_READFUNCTION, n->body->fill);
		curl_easy_setopt(n->curl, CURLOPT_READDATA, n->body->arg);
		curl_easy_setopt(n->curl, CURLOPT_SEEKFUNCTION, body_seek);
		curl_easy_setopt(n->curl, CURLOPT_SEEKDATA, n->body);
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n->body->len);
		len = n->body->len;
		stream = n->body;
		n->body = NULL;
	} else if (body) {
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(n->curl, CURLOPT_WRITEDATA, sink_arg);
	n->errbuf[0] = '\0';
	rc = curl_easy_perform(n->curl);
	curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	free(ctype);
	free(url);

	if (rc == CURLE_WRITE_ERROR && status >= 200 && status < 300)
		return status;	/* the line sink stopped it; its caller knows why */
	if (rc == CURLE_ABORTED_BY_CALLBACK && stream && stream->stopped)
		return -2;	/* so did the body's writer */
	/* An error answer too long to keep is no answer of soc's. */
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status >= 300)) {
		net_say_unreachable(&n->r, (int)rc, n->errbuf);
		return -1;
	}
	if (!soc_answer(n, status, rc == CURLE_OK ? errbody : NULL, len))
		return -1;
	return judged(n, status, errbody);
}

long net_request(struct net *n, const char *method, const char *path,
		 const char *content_type, const void *body, size_t len, struct buf *resp)
{
	buf_reset(resp);
	return perform(n, method, path, content_type, body, len, to_buf, resp, resp);
}

/*
 * A patient answer (PROTOCOL.md section 5): empty lines while the server
 * works, then {"status":S,...}. Its status S, with the rest of the object
 * in resp, as if answered so; -1 after a message when the last line is not
 * an outcome.
 */
static long unwrap_patient(struct net *n, const char *path, struct buf *resp)
{
	struct buf rest = BUF_INIT;
	size_t end = resp->len, start;
	long status;

	while (end && (resp->p[end - 1] == '\n' || resp->p[end - 1] == '\r'))
		end--;
	for (start = end; start && resp->p[start - 1] != '\n'; start--)
		;
	status = take_status(resp->p + start, end - start, &rest);
	buf_free(resp);
	*resp = rest;
	return status ? judged(n, status, resp) : no_outcome(n, path);
}

long net_request_patient(struct net *n, const char *method, const char *path,
			 const char *content_type, const void *body, size_t len, struct buf *resp)
{
	long status;

	buf_reset(resp);
	n->patient = 1;
	status = perform(n, method, path, content_type, body, len, to_buf, resp, resp);
	return status == 200 && ndjson(n->curl) ? unwrap_patient(n, path, resp) : status;
}

/*
 * After a line read: the last line, if it had no newline, to cb; the
 * status, or -1 for a line too long, -2 when cb stopped it. lines: the
 * answer was fed to cb (a 2xx one).
 */
static long lines_end(struct line_sink *s, long status, int lines)
{
	if (lines && !s->failed && s->pending.len && sink_line(s, s->pending.p, s->pending.len))
		s->failed = 1;
	if (s->too_long) {
		error("the server sent a line longer than %d bytes", JSON_LINE_MAX);
		return -1;
	}
	return lines && s->failed ? -2 : status;	/* -2: cb said why */
}

long net_get_lines(struct net *n, const char *path,
		   int (*cb)(const char *line, size_t len, void *arg), void *arg,
		   char *msg, size_t msglen)
{
	struct line_sink s = { n->curl, BUF_INIT, cb, arg, 0, 0, 0, 0, 0, 0, BUF_INIT };
	long status;

	status = perform(n, "GET", path, NULL, NULL, 0, to_lines, &s, &s.pending);
	if (msg && status >= 300)
		net_error_message(&s.pending, msg, msglen);
	status = lines_end(&s, status, status >= 200 && status < 300);
	buf_free(&s.pending);
	return status;
}

long net_post_lines(struct net *n, const char *path, const char *content_type, struct net_body *body,
		    int (*cb)(const char *line, size_t len, void *arg), void *arg, struct buf *whole)
{
	struct line_sink s = { n->curl, BUF_INIT, cb, arg, 0, 0, 1, 1, 0, 0, BUF_INIT };
	long status;
	int lines;

	n->body = body;
	n->patient = 1;
	status = perform(n, "POST", path, content_type, NULL, 0, to_lines, &s, &s.pending);
	lines = status >= 200 && status < 300 && ndjson(n->curl);
	/* Only a 200 is patient: an answer ready in time has its own status (201 for a begin). */
	s.framed = lines && status == 200;
	status = lines_end(&s, status, lines);
	if (s.framed && status != -1) {
		if (s.outcome >= 300) {
			/* As if answered so: the caller reads the refusal whole. */
			status = judged(n, s.outcome, &s.refusal);
			buf_free(&s.pending);
			s.pending = s.refusal;
			s.refusal = (struct buf)BUF_INIT;
			lines = 0;
		} else if (!s.outcome) {
			status = no_outcome(n, path);
		} else if (status != -2) {
			status = s.outcome;
		}
	}
	buf_free(&s.refusal);
	if (lines)
		buf_free(&s.pending);
	*whole = s.pending;
	return status;
}

char *net_escape(struct net *n, const char *s)
{
	char *e = curl_easy_escape(n->curl, s, (int)strlen(s)), *copy;

	if (!e)
		die("out of memory escaping a path");
	copy = xstrdup(e);
	curl_free(e);
	return copy;
}

const char *net_base(const struct net *n)
{
	return n->base;
}

int session_open(struct workspace *ws, struct session **s)
{
	struct session *se = ws->session;
	int rc;

	if (!se) {
		error("this command has no server to talk to (NEED_REMOTE)");
		return EXIT_ERROR;
	}
	if (!se->net) {
		if ((rc = remote_of(ws, &se->remote)))
			return rc;
		se->net = net_open(&se->remote);
		if (!se->net)
			return EXIT_ERROR;
	}
	*s = se;
	return 0;
}

void session_close(struct session *s)
{
	net_close(s->net);
	memset(s, 0, sizeof(*s));
}

const char *net_history(const struct net *n)
{
	return n->history;
}

int net_sha256_at_commit(const struct net *n)
{
	return n->sha256_at_commit;
}

long long remote_head(struct net *n)
{
	struct buf resp = BUF_INIT;
	long long head = -1;
	long st = net_request(n, "GET", "/api/v1/info", NULL, NULL, 0, &resp);
	json_t *j;

	if (st == 200 && (j = json_loadb(resp.p, resp.len, 0, NULL))) {
		const char *id = json_string_value(json_object_get(j, "history"));

		if (json_is_integer(json_object_get(j, "head")))
			head = json_integer_value(json_object_get(j, "head"));
		/* An older server gives none: "" (and a malformed one counts as none). */
		snprintf(n->history, sizeof(n->history), "%s", id && history_id_valid(id) ? id : "");
		n->sha256_at_commit = json_is_true(json_object_get(j, "sha256_at_commit"));
		json_decref(j);
	}
	if (st >= 0 && head < 0)
		error("the server at '%s' did not say its head revision (%ld)", n->base, st);
	buf_free(&resp);
	return head;
}

struct changes_read {
	struct net *n;
	long long *head;
	int (*row)(struct change_line *c, void *arg);
	void *arg;
};

/* The server is checked like any other input: its paths obey the same rules. */
static int changes_line(const char *line, size_t len, void *arg)
{
	struct changes_read *r = arg;
	struct change_line c;
	const char *why;
	int kind = change_parse(line, len, &c, r->head, &why), rc = 0;

	if (kind < 0)
		rc = error("the server sent a change line we refuse%s%s%s: %s", c.path ? " for '" : "",
			   c.path ? show_path(c.path) : "", c.path ? "'" : "", why);
	else if (kind == 1)
		rc = r->row(&c, r->arg);
	else
		memcpy(r->n->history, c.history, sizeof(c.history));
	change_free(&c);
	return rc;
}

int changes_get(struct net *n, long long since, long long *head,
		int (*row)(struct change_line *c, void *arg), void *arg)
{
	return changes_wait(n, since, 0, head, row, arg);
}

int changes_wait(struct net *n, long long since, int wait, long long *head,
		 int (*row)(struct change_line *c, void *arg), void *arg)
{
	struct changes_read r = { n, head, row, arg };
	char path[96];
	long st;

	if (wait > 0)
		snprintf(path, sizeof(path), "/api/v1/changes?since=%lld&wait=%d", since, wait);
	else
		snprintf(path, sizeof(path), "/api/v1/changes?since=%lld", since);
	*head = -1;
	st = net_get_lines(n, path, changes_line, &r, NULL, 0);
	if (st == -1)
		return EXIT_REMOTE;
	if (st == -2)
		return EXIT_ERROR;	/* a line refused, said */
	if (st != 200 || *head < 0)
		return error("the server did not list its changes (%ld)", st), EXIT_ERROR;
	return 0;
}

/* ---- a blob (PROTOCOL.md section 3) ---- */

#define BLOB_IO (512 * 1024)		/* curl's receive buffer for GET blob */
#define BLOB_WRITE (1 << 20)		/* bytes of a download written at once */

struct file_sink {
	CURL *curl;
	int fd;
	struct hasher h;
	struct hash_follow *follow;	/* big blobs: the hash on another core, else h as they come */
	uint64_t size, max;
	struct buf err;		/* an answer other than 2xx, kept for its message */
	int failed;		/* errno of a failed write, or EFBIG past max */
	/*
	 * curl hands over 16 KiB at a time (CURL_MAX_WRITE_SIZE) whatever
	 * its buffer: written as they came, 2 GiB were 131,072 writes, and as
	 * many wakes and reads of the hashing thread.
	 */
	char *wbuf;
	size_t wlen;
};

/* What wbuf holds, to the file and the hash. 0, or -1 with s->failed set. */
static int sink_flush(struct file_sink *s)
{
	if (!s->follow && hasher_update(&s->h, s->wbuf, s->wlen)) {
		s->failed = ENOMEM;
		return -1;
	}
	if (write_full(s->fd, s->wbuf, s->wlen)) {
		s->failed = errno;
		return -1;
	}
	if (s->follow)
		hash_follow_wrote(s->follow, s->wlen);
	s->wlen = 0;
	return 0;
}

static size_t to_file(char *p, size_t size, size_t nmemb, void *arg)
{
	struct file_sink *s = arg;
	size_t n = size * nmemb, done = 0;
	long status = 0;

	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		buf_add(&s->err, p, n);
		return s->err.len > JSON_LINE_MAX ? 0 : n;
	}
	if (s->size + n > s->max) {
		s->failed = EFBIG;
		return 0;
	}
	while (done < n) {
		size_t k = BLOB_WRITE - s->wlen < n - done ? BLOB_WRITE - s->wlen : n - done;

		memcpy(s->wbuf + s->wlen, p + done, k);
		s->wlen += k;
		done += k;
		if (s->wlen == BLOB_WRITE && sink_flush(s))
			return 0;
	}
	s->size += n;
	return n;
}

int blob_get(struct net *n, const char *hash, uint64_t size, int fd, const char *show)
{
	struct file_sink s = { n->curl, fd, { NULL }, NULL, 0, size, BUF_INIT, 0, xmalloc(BLOB_WRITE), 0 };
	char *path = xasprintf("/api/v1/blob/%s", hash), hex[HASH_HEX_LEN + 1], msg[256];
	int rc = EXIT_ERROR;
	long st;

	if (size >= HASH_FOLLOW_MIN)
		s.follow = hash_follow_start(fd);
	if (!s.follow && hasher_init(&s.h))
		die("out of memory starting a sha256");
	/* A big file in big pieces: curl's 16 KiB would be a write and a hash update each. */
	n->recv_buf = BLOB_IO;
	st = perform(n, "GET", path, NULL, NULL, 0, to_file, &s, &s.err);
	if (st >= 0 && !s.failed && s.wlen)
		(void)sink_flush(&s);
	if (st < 0) {
		rc = EXIT_REMOTE;
	} else if (s.failed == EFBIG) {
		error("the server sent more than the %llu bytes of '%s'", (unsigned long long)size, show_path(show));
	} else if (s.failed) {
		errno = s.failed;
		error_errno("cannot write the download of '%s'", show_path(show));
	} else if (st == 404) {
		error("the server no longer keeps the content of '%s' (%s): %s", show_path(show), hash,
		      net_error_message(&s.err, msg, sizeof(msg)));
	} else if (st != 200) {
		error("the server did not give the content of '%s' (%ld): %s", show_path(show), st,
		      net_error_message(&s.err, msg, sizeof(msg)));
	} else {
		int hashed = s.follow ? hash_follow_end(s.follow, hex) : hasher_final(&s.h, hex);

		s.follow = NULL;
		if (hashed)
			error_errno("cannot hash the download of '%s'", show_path(show));
		else if (strcmp(hex, hash) || s.size != size)
			error("the server sent other bytes for '%s' than its sha256 %s", show_path(show), hash);
		else
			rc = 0;
	}
	/* Its thread joined whatever went wrong; the hash is not wanted then. */
	if (s.follow)
		hash_follow_end(s.follow, hex);
	hasher_free(&s.h);
	buf_free(&s.err);
	free(s.wbuf);
	free(path);
	return rc;
}

struct stream_sink {
	CURL *curl;
	int (*fn)(const char *p, size_t n, void *arg);
	void *arg;
	struct buf err;		/* an answer other than 2xx, kept for its message */
};

static size_t to_stream(char *p, size_t size, size_t nmemb, void *arg)
{
	struct stream_sink *s = arg;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		buf_add(&s->err, p, n);
		return s->err.len > JSON_LINE_MAX ? 0 : n;
	}
	return s->fn(p, n, s->arg) ? 0 : n;
}

long net_post_stream(struct net *n, const char *path, const void *body, size_t len,
		     int (*fn)(const char *p, size_t n, void *arg), void *arg, char *msg, size_t msglen)
{
	struct stream_sink s = { n->curl, fn, arg, BUF_INIT };
	long st;

	n->recv_buf = BLOB_IO;
	st = perform(n, "POST", path, "text/plain", body, len, to_stream, &s, &s.err);
	if (st >= 300)
		net_error_message(&s.err, msg, msglen);
	buf_free(&s.err);
	return st;
}
