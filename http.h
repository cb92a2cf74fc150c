/*
 * http.h: the server side of HTTP/1.1. http.c is the request parser, a pure
 * function over bytes (no I/O, no allocation) so it can be fuzzed alone;
 * httpd.c is the connection loop: one epoll thread reads requests, so an
 * idle or slow client costs a file descriptor and not a thread, and a small
 * pool of worker threads runs the handler of each complete request.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Limits of DESIGN.md section 5. */
#define HTTP_HEAD_MAX (16 * 1024)		/* request line + headers: 431, or 414 for the line */
#define HTTP_HEADERS_MAX 100			/* header fields: 431 */
#define HTTP_HEAD_TIMEOUT_MS (10 * 1000)	/* headers complete within: 408 */
#define HTTP_IDLE_TIMEOUT_MS (30 * 1000)	/* idle keep-alive connection closed after */
#define HTTP_BODY_TIMEOUT_MS (60 * 1000)	/* no body byte for this long: 408 */
#define HTTP_CONN_MAX 4096			/* past it the longest-idle connection is closed */
#define HTTP_PARKED_MAX 3072			/* long polls parked at once; past it one is answered now */
#define HTTP_WORKERS 4				/* threads running handlers */
#define HTTP_BODY_MAX_DEFAULT (256LL * 1024 * 1024)	/* --max-body; past it 413 */
#define HTTP_SEND_TIMEOUT_MS (60 * 1000)	/* a response write making no progress this long: drop */
#define HTTP_PATIENCE_MS (10 * 1000)		/* http_patience: an answer not ready by then streams empty lines */
#define HTTP_LINGER_MS (2 * 1000)		/* after an error answer, input read and dropped this long */
#define HTTP_CHUNK_MAX (16 * 1024)		/* http_stream_write buffers up to this, then sends a chunk */
#define HTTP_LOG_PATH_MAX 200			/* bytes of the path a log line shows */
#define HTTP_LOG_USER_MAX 64			/* bytes of the caller's name a log line shows */

/*
 * The tests shorten the timeouts through the test hooks (testhook.h),
 * read once when httpd_run starts: SOC_TEST_HTTP_HEAD_TIMEOUT_MS,
 * SOC_TEST_HTTP_IDLE_TIMEOUT_MS, SOC_TEST_HTTP_BODY_TIMEOUT_MS
 * (milliseconds, 1 to the default).
 */

struct http_slice {
	const char *p;
	size_t len;
};

struct http_header {
	struct http_slice name, value;
};

struct http_request {
	struct http_slice method;
	struct http_slice target;	/* as sent: path and query */
	struct http_slice path;		/* target up to '?' */
	struct http_slice query;	/* after '?', empty if none */
	int minor_version;		/* 1 for HTTP/1.1; 0 only for CONNECT */
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t nheaders;
	long long content_length;	/* -1 when absent */
	int keep_alive;			/* the connection may carry another request */
	int upgrade;			/* "Connection: upgrade" was sent */
	const char *error;		/* why the parser refused, for the error body */
};

/*
 * Parses the request line and headers at the start of buf[0..len).
 * Returns the length of the head (> 0) when complete, 0 when more bytes
 * are needed, or minus an HTTP status when the request is bad: -400
 * malformed, -414 request line too long, -431 headers too large or too
 * many, -501 Transfer-Encoding, -505 not HTTP/1.1 (HTTP/1.0 only for
 * CONNECT, whose target is host:port, not a path: rsync's). last_len
 * is the length parsed by the previous call that returned 0, so feeding a
 * request a byte at a time costs O(n), not O(n^2). Slices in req point
 * into buf. On a refusal req->error says why (a constant string).
 * Content-Length must be digits with no sign and fit a long long; several
 * Content-Length headers must agree; Transfer-Encoding with Content-Length
 * is 400, without it 501; more than one Host is 400. A line is judged when
 * its CRLF arrives, so a request fed in pieces gets the same answer as all
 * at once. The method is any token: the handlers answer 405 for one they do
 * not serve.
 */
long http_parse_request(const char *buf, size_t len, size_t last_len, struct http_request *req);

/* The value of header `name` (case-insensitive), or NULL. */
const struct http_slice *http_header(const struct http_request *req, const char *name);
int http_slice_eq(struct http_slice s, const char *lit);	/* exact */
int http_slice_ieq(struct http_slice s, const char *lit);	/* case-insensitive */
/* 1 when a Prefer header of req names the preference pref (RFC 7240), with or without a value. */
int http_prefers(const struct http_request *req, const char *pref);
const char *http_reason(int status);

/* ---- httpd.c ---- */

/* One request being answered, owned by the worker thread running its handler. */
struct http_exchange;

typedef void (*http_handler_fn)(struct http_exchange *ex, void *arg);

struct httpd_config {
	const char *listen;		/* "HOST:PORT", port 0 picks a free one */
	long long body_max;		/* request bodies larger get 413 */
	http_handler_fn handler;
	void *arg;
	/* Called by a worker thread between requests, at most once a second; for housekeeping. */
	void (*tick)(void *arg);
	/*
	 * Optional. Called on the loop thread when a head is complete and
	 * Content-Length body bytes are still to come, before they are read:
	 * returns 0 to read the body and run the handler, or a status (401,
	 * 403) to refuse now, with Connection: close (401 adds
	 * "WWW-Authenticate: Bearer"). Without it anyone can make the server
	 * buffer body_max bytes before a handler checks the token. It runs on
	 * the loop, so it must be quick and never block.
	 */
	int (*admit)(const struct http_request *req, void *arg);
};

/*
 * Binds spec ("HOST:PORT") and listens, for the next httpd_run to serve
 * on: a caller checks the address this way before it makes anything.
 * Connections wait in the backlog until httpd_run. 0, or -1 after a
 * message.
 */
int httpd_listen(const char *spec);

/*
 * Binds cfg->listen unless httpd_listen did, prints "soc serve: listening
 * on http://HOST:PORT" to stderr, and serves until SIGTERM or SIGINT
 * (SIGHUP is logged and ignored): then stops accepting, lets requests in
 * flight finish (their handlers run to the end), and returns 0. Returns
 * -1 after a message if it cannot start.
 */
int httpd_run(const struct httpd_config *cfg);

const struct http_request *http_req(struct http_exchange *ex);
/* The whole request body (Content-Length bytes, read before the handler runs); NUL-terminated. */
const char *http_body(struct http_exchange *ex, size_t *len);
/*
 * The handler has read the body up to byte upto: the whole pages inside
 * it before there go back to the system (they read as zeros after). A
 * push's begin then holds its list and not also the 160 MB of lines it
 * came in.
 */
void http_body_drop(struct http_exchange *ex, size_t upto);
/* The peer's address, "127.0.0.1:5555", for the log line. */
const char *http_peer(struct http_exchange *ex);

/*
 * Names who sent the request in its log line: a token's name, never the
 * token. Call once the caller is known; without it the line shows '-'.
 */
void http_set_log_user(struct http_exchange *ex, const char *name);

/* Adds a response header; call before http_respond or http_stream_begin. */
void http_add_header(struct http_exchange *ex, const char *name, const char *value);
/* A whole response with Content-Length. Returns 0, or -1 if the client went away. */
int http_respond(struct http_exchange *ex, int status, const char *content_type,
		 const void *body, size_t len);
/*
 * A whole response of len bytes read from fd (from its offset 0), sent
 * as the kernel reads it (sendfile), never held in memory, with the same
 * write timeout as http_respond. A file shorter than len cuts the answer
 * and closes the connection. 0, or -1 if the client went away.
 */
int http_respond_fd(struct http_exchange *ex, int status, const char *content_type, int fd, long long len);
/* A chunked response, written as it is produced; memory stays flat however long it is. */
int http_stream_begin(struct http_exchange *ex, int status, const char *content_type);
int http_stream_write(struct http_exchange *ex, const void *p, size_t len);
int http_stream_end(struct http_exchange *ex);
/* Sends what http_stream_write holds now, as a chunk of its own. */
int http_stream_flush(struct http_exchange *ex);
/* Ends a stream with no last chunk, the connection closed: the client sees the answer is not whole. */
void http_stream_cut(struct http_exchange *ex);
/*
 * For a handler whose answer may take minutes, to a client that reads
 * NDJSON: if it has not called http_respond within HTTP_PATIENCE_MS, a
 * 200 application/x-ndjson stream begins, with an empty line every
 * HTTP_PATIENCE_MS, so that neither the client nor a proxy takes the
 * silence for a dead server; http_respond then sends its answer with
 * "status" first in its first line, {"status":S, and the body's members}
 * (an NDJSON body's later lines follow as they are). Answer through
 * http_respond (api_json, api_error), never park. Off when its thread
 * cannot start. httpd_patience.c.
 */
void http_patience(struct http_exchange *ex);
/*
 * Answers 101 Switching Protocols with "Upgrade: proto" (a CONNECT: 200,
 * with proto NULL) and hands the
 * socket to the caller, who owns (and must close) the returned fd; the loop
 * forgets the connection. Bytes the client sent after the request head are
 * a protocol error: returns -1 (and answers 400) if any arrived, or if the
 * request did not say "Connection: upgrade". The fd is blocking, CLOEXEC
 * (dup2 it onto a child's stdin/stdout) and has TCP_NODELAY set. SIGPIPE
 * is ignored in the server: a child exec'd on the socket should get it
 * back at its default (posix_spawnattr_setsigdefault).
 */
int http_upgrade(struct http_exchange *ex, const char *proto);

/*
 * A long poll: instead of answering, the handler parks its request until
 * httpd_wake() reports a value above since, or wait_ms pass, or the
 * server stops; then the same handler runs on it again, and
 * http_park_expired() says whether the wait ran out. A parked request
 * costs a descriptor in the connection loop, never a thread; a client that
 * goes away meanwhile is closed.
 */
void http_park(struct http_exchange *ex, long long since, long wait_ms);
/* 1 when this run follows a wait that ran out (or the server is stopping). */
int http_park_expired(const struct http_exchange *ex);
/* From any thread: value (a new head) passed; requests parked below it run again. */
void httpd_wake(long long value);

#endif
