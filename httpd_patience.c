/*
 * httpd_patience.c: an answer that may take longer than a client or a
 * proxy waits for a byte. A commit of a million files on a slow disk can
 * work for minutes; soc's client gives up on a connection silent for
 * NET_STALL_SECONDS, a proxy after its read timeout (nginx's default is 60
 * s, HAProxy's "timeout server" often less), and the push would then be
 * told it failed when it landed.
 *
 * So a handler that may be slow calls http_patience(). Should its answer
 * not be ready within HTTP_PATIENCE_MS, a thread begins a 200
 * application/x-ndjson stream and sends an empty line every
 * HTTP_PATIENCE_MS while the handler works; the handler's answer then
 * ends the stream, its JSON object with "status" first (PROTOCOL.md
 * section 5): one line, or for an NDJSON answer (a push's begin) its
 * first line so and the others after it as they are. An answer ready in
 * time goes as it always did.
 *
 * Only one thread writes to the exchange at a time: the ticker, holding
 * the lock, until http_respond ends it; the worker after.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "httpd_conn.h"
#include "testhook.h"

#define PATIENCE_TICK_MIN_MS 50	/* the empty lines come no faster, whatever the test hook says */

static pthread_once_t hook_once = PTHREAD_ONCE_INIT;
static long first_wait_ms;	/* HTTP_PATIENCE_MS, or the test hook's */

static void read_hook(void)
{
	first_wait_ms = test_hook_long(HOOK_HTTP_PATIENCE_MS, 0, HTTP_PATIENCE_MS, HTTP_PATIENCE_MS);
}

struct patience {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct http_exchange *ex;
	long first_ms, every_ms;
	int threaded;	/* the ticker runs (a stream begun "at once" stands without it) */
	int done;	/* the handler is answering: the ticker stops */
	int began;	/* the ticker began the stream */
};

static void after_ms(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static void *tick(void *arg)
{
	struct patience *p = arg;
	struct timespec at;
	long wait_ms = p->first_ms;

	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		int rc = 0;

		after_ms(&at, wait_ms);
		while (!p->done && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&p->cond, &p->lock, &at);
		if (p->done)
			break;
		if (!p->began) {
			httpd_stream_open(p->ex, 200, "application/x-ndjson");
			p->began = 1;
		}
		/* A client gone: the handler's answer fails the same way, and it still finishes its work. */
		if (http_stream_write(p->ex, "\n", 1) || http_stream_flush(p->ex))
			break;
		wait_ms = p->every_ms;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The answer, ending the stream the ticker began: {"status":S, then the body's members (and lines)}. */
static void outcome(struct http_exchange *ex, int status, const char *body, size_t len)
{
	char head[32];
	int k = snprintf(head, sizeof(head), "{\"status\":%d", status), members;

	while (len && body[len - 1] == '\n')
		len--;
	members = len > 2 && body[0] == '{' && body[1] != '}';
	ex->status = status;	/* the log says what the handler answered */
	if (http_stream_write(ex, head, (size_t)k) ||
	    (members ? http_stream_write(ex, ",", 1) || http_stream_write(ex, body + 1, len - 1)
		     : http_stream_write(ex, "}", 1)) ||
	    http_stream_write(ex, "\n", 1) || http_stream_end(ex))
		http_stream_cut(ex);
}

/* ex->patience_end: the ticker stopped; 1 when it had begun the stream, which this ends. */
static int patience_end(struct http_exchange *ex, int status, const void *body, size_t len)
{
	struct patience *p = ex->patience;
	int began;

	pthread_mutex_lock(&p->lock);
	p->done = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->threaded)
		pthread_join(p->thread, NULL);
	began = p->began;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	ex->patience = NULL;
	ex->patience_end = NULL;
	if (!began)
		return 0;
	if (body) {
		outcome(ex, status, body, len);
	} else {
		warning("handler for '%.*s' answered its patient stream other than by http_respond",
			(int)ex->c->req.path.len, ex->c->req.path.p);
		http_stream_cut(ex);
	}
	return 1;
}

void http_patience(struct http_exchange *ex)
{
	struct patience *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p || ex->patience_end)
		goto off;
	p->ex = ex;
	pthread_once(&hook_once, read_hook);
	p->first_ms = first_wait_ms;
	p->every_ms = p->first_ms < PATIENCE_TICK_MIN_MS ? PATIENCE_TICK_MIN_MS : p->first_ms;
	if (pthread_condattr_init(&ca))
		goto off;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&p->cond, &ca)) {
		pthread_condattr_destroy(&ca);
		goto off;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&p->lock, NULL)) {
		pthread_cond_destroy(&p->cond);
		goto off;
	}
	/* The tests' "at once" is before the handler goes on, so its answer always takes the stream. */
	if (!p->first_ms) {
		httpd_stream_open(ex, 200, "application/x-ndjson");
		p->began = 1;
		p->first_ms = p->every_ms;
	}
	p->threaded = !pthread_create(&p->thread, NULL, tick, p);
	if (!p->threaded && !p->began) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		goto off;
	}
	ex->patience = p;
	ex->patience_end = patience_end;
	return;
off:
	/* Without the thread the answer comes when it is ready, as without patience. */
	free(p);
}
