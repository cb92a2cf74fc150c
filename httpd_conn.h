/*
 * httpd_conn.h: what the connection loop (httpd.c) and the answer writer
 * (httpd_io.c) share: a connection, its exchange, and what the writer
 * offers the loop (the loop calls the writer, never the other way). Private to the server's HTTP layer; handlers
 * see only http.h.
 */
#ifndef HTTPD_CONN_H
#define HTTPD_CONN_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "soc.h"
#include "http.h"

#define PEER_MAX 64

enum conn_state {
	C_HEAD,		/* reading a request head (or idle with nothing buffered) */
	C_BODY,		/* head parsed, reading Content-Length body bytes */
	C_WORKER,	/* a worker runs its handler */
	C_LINGER,	/* answered with an error; dropping input until close */
	C_PARKED,	/* a long poll waiting for httpd_wake() or its deadline, in the parked list */
	C_DEAD,		/* closed; freed after the current batch of events */
};

struct http_exchange {
	struct conn *c;
	struct buf hdrs;	/* headers added by http_add_header */
	int status;		/* the status answered, 0 until then */
	int streaming;		/* http_stream_begin called, http_stream_end not yet */
	int failed;		/* a write failed or a stream was left open: close */
	int close;		/* answer with Connection: close, then close */
	int upgraded;		/* the fd now belongs to the handler */
	int head_only;		/* a HEAD request: no body bytes on the wire */
	long long bytes;	/* body bytes sent */
	struct buf pending;	/* a stream's head, sent with its first chunk */
	char *chunk;		/* HTTP_CHUNK_MAX bytes waiting to be sent as a chunk */
	size_t chunk_len;
	uint64_t t0;
	char user[HTTP_LOG_USER_MAX + 1];	/* who the handler says asked, for the log; "" if nobody */
	int parked;		/* http_park called: no answer yet */
	long long park_since;
	long park_wait_ms;
	int park_expired;	/* this run follows a wait that ran out */
	/*
	 * http_patience's ticker (httpd_patience.c), which the writer ends
	 * through patience_end before any answer: 1 when the ticker had begun
	 * a stream, which then took the answer as its last line (body NULL:
	 * an answer of another kind, and the stream was cut). A hook, so that
	 * the writer never calls up into what is built on it.
	 */
	struct patience *patience;
	int (*patience_end)(struct http_exchange *ex, int status, const void *body, size_t len);
};

struct conn {
	int fd;
	int epfd;		/* the loop's epoll set, which an upgraded fd leaves */
	const atomic_int *stopping;	/* the server's: once set, every answer closes */
	enum conn_state state;
	char peer[PEER_MAX];
	char *in;		/* the request bytes; one spare byte for the body's NUL */
	size_t len, cap;
	size_t last_len;	/* what the parser saw last time it answered 0 */
	size_t head_len;	/* 0 until the head is parsed */
	long long body_len;
	int moved;		/* in was reallocated after the head was parsed */
	unsigned nreq;		/* requests answered on this connection */
	uint64_t start;		/* when the head being read began */
	uint64_t active;	/* when a byte last arrived */
	uint64_t deadline;
	long long park_since;	/* while parked: runs again once the wake passes it */
	int park_expired;	/* for the next run: its wait ran out */
	struct conn *prev, *next;	/* the loop's list (least recently active first), or the parked list */
	struct conn *qnext;		/* the worker queue or the done list */
	struct http_request req;
	struct http_exchange ex;
};

/* ---- httpd_park.c: the long polls the loop holds ---- */

struct park {
	struct conn head;	/* sentinel of the parked connections */
	unsigned n;
	atomic_llong value;	/* the highest value httpd_wake() was given */
	long long seen;		/* the value park_risen() last saw */
};

void park_init(struct park *p);
/* c into the list, waiting for a value past since or for c->deadline (the loop sets it). */
void park_add(struct park *p, struct conn *c, long long since);
void park_del(struct park *p, struct conn *c);
/* From any thread: the value is at least value. */
void park_raise(struct park *p, long long value);
/* 1 when the value is past since already. */
int park_passed(struct park *p, long long since);
/* 1 once each time the value rose since the last call (the loop's thread). */
int park_risen(struct park *p);
/*
 * A parked connection to run again now: the value passed it (*expired 0)
 * or its deadline came (*expired 1). NULL when none; *next is lowered to
 * the earliest deadline of those it passed over.
 */
struct conn *park_next(struct park *p, uint64_t now, int *expired, uint64_t *next);

/* http_stream_begin, for the patience ticker (which http_stream_begin would stop). */
int httpd_stream_open(struct http_exchange *ex, int status, const char *content_type);

/* ---- httpd_signal.c ---- */

/* Installs the handlers; the fd the loop watches, or -1 and errno. */
int httpd_signals_start(void);
/* Reads what came (SIGHUP logged); 1 when a stop was asked for. */
int httpd_signals_read(void);
/* The old handlers back, the pipe closed. */
void httpd_signals_stop(void);

/* ---- in httpd_io.c ---- */

/* The JSON error body for status into out (NUL-terminated, cut to size); returns its length. */
size_t httpd_error_body(char *out, size_t size, int status, const char *msg);

/*
 * One line a request: peer, caller (a token's name, never the token; '-'
 * when the handler named none), method, path, status, body bytes sent,
 * time taken. The path has no query (it may hold secrets), printable
 * bytes only, capped. The server's stderr puts the time in front.
 */
void httpd_log_request(const struct conn *c, const struct http_request *req, const char *user,
		       int status, long long bytes, uint64_t t0);

/*
 * Runs cfg's handler on c's buffered request in a worker: answers 500 if
 * the handler did not, logs the request, frees the exchange's buffers.
 */
void httpd_serve(struct conn *c, const struct httpd_config *cfg);

/*
 * Binds and listens on spec (HOST:PORT, [V6]:PORT; port 0 picks one),
 * non-blocking; writes the bound address into shown. Returns the socket,
 * or -1 after an error message.
 */
int httpd_listen_on(const char *spec, char *shown, size_t shown_size);
/* The socket httpd_listen bound, or one bound now to spec; its address in shown. -1 after a message. */
int httpd_listen_take(const char *spec, char *shown, size_t shown_size);

#endif
