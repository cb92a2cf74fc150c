/*
 * httpd.c: the connection loop of `soc serve`. One thread runs epoll and
 * owns every connection that is reading a request: it accepts, reads
 * without blocking, parses with http_parse_request, and enforces the
 * limits and timeouts, so an idle or slow client costs a descriptor and a
 * small buffer, never a thread. When a head and its whole Content-Length
 * body are buffered the connection moves to a queue served by HTTP_WORKERS
 * threads; the worker runs the handler, which answers through http_respond,
 * http_stream_* or http_upgrade (httpd_io.c), writing with blocking
 * semantics (poll on a non-blocking socket, HTTP_SEND_TIMEOUT_MS without
 * progress drops it).
 * Then the worker gives the connection back to the loop through a list and
 * an eventfd, and the loop serves the next request on it (keep-alive, and
 * pipelined bytes that were already buffered) or closes it.
 *
 * A long poll (http_park) comes back unanswered: the loop keeps it in the
 * parked list, its request still buffered and its fd armed only to see
 * the client leave, and queues it for a worker again when httpd_wake()
 * passes its value (the same eventfd) or its deadline comes. So a
 * thousand watchers cost descriptors, never threads, and a push queues
 * behind none of them.
 *
 * Ownership is the whole locking story: a connection belongs either to the
 * loop (in its list, its fd armed in epoll) or to one worker (off the list,
 * its fd disarmed: EPOLLONESHOT fired and was not re-armed), and only the
 * queue and the done list, each under a mutex, are shared.
 *
 * Bad requests are answered by the loop with their status, a JSON body and
 * Connection: close; then the write side is shut and input is read and
 * dropped for HTTP_LINGER_MS, so the client reads the answer instead of a
 * reset caused by the bytes it was still sending (nginx's lingering close).
 *
 * SIGHUP is logged and ignored.
 *
 * Stopping (SIGTERM, SIGINT): the listening socket closes, idle connections
 * close, connections holding part of a request keep their timeouts and are
 * served; handlers run to the end; every answer then says Connection: close.
 * httpd_run returns when no connection is left.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd_conn.h"
#include "testhook.h"

#define READ_START 4096			/* first input buffer of a connection */
#define READ_KEEP (64 * 1024)		/* larger buffers shrink back when a request is done */
#define EVENTS_MAX 64
#define TICK_MS 1000

static struct {
	const struct httpd_config *cfg;
	int epfd, lfd, wakefd;
	long head_to, idle_to, body_to;
	long long body_max;
	struct conn list;		/* sentinel of the loop's connections */
	struct park parked;		/* the long polls waiting (httpd_park.c) */
	struct conn *dead;		/* closed, to free after the batch */
	unsigned nconns;		/* the loop's and the workers' */
	unsigned busy;			/* handed to workers, not yet back */
	uint64_t next_deadline, next_tick;
	int stopping_loop;
	atomic_int stopping;
	atomic_int tick_pending;

	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct conn *qhead, *qtail;
	int qstop;

	pthread_mutex_t dlock;
	struct conn *done;
} S;

static struct conn tick_job;	/* queued to run cfg->tick in a worker */
static char tag_listen, tag_wake, tag_signal;

/* ---- the loop's list of connections, least recently active first ---- */

static void list_remove(struct conn *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct conn *c)
{
	c->prev = S.list.prev;
	c->next = &S.list;
	S.list.prev->next = c;
	S.list.prev = c;
}

static void set_deadline(struct conn *c, uint64_t when)
{
	c->deadline = when;
	if (when < S.next_deadline)
		S.next_deadline = when;
}

static void arm(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = c };

	if (epoll_ctl(S.epfd, EPOLL_CTL_MOD, c->fd, &ev))
		warning_errno("epoll_ctl for %s", c->peer);
}

static void conn_close(struct conn *c)
{
	if (c->state == C_PARKED)
		park_del(&S.parked, c);
	else if (c->prev)
		list_remove(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
	c->qnext = S.dead;
	S.dead = c;
	S.nconns--;
}

static void free_dead(void)
{
	while (S.dead) {
		struct conn *c = S.dead;

		S.dead = c->qnext;
		free(c->in);
		free(c);
	}
}

/* The least recently active connection the loop holds makes room for a new one. */
static int evict_oldest(void)
{
	if (S.list.next == &S.list)
		return -1;
	conn_close(S.list.next);
	return 0;
}

/* ---- answers written by the loop: errors, then a lingering close ---- */

/* req: the request as parsed, when its slices still point into c->in; else NULL. */
static void reject(struct conn *c, const struct http_request *req, int status,
		   const char *msg, uint64_t now)
{
	char body[512], head[512];
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t blen = httpd_error_body(body, sizeof(body), status, msg);
	int hlen = snprintf(head, sizeof(head),
			    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			    status, http_reason(status),
			    status == 401 ? "WWW-Authenticate: Bearer\r\n" : "", blen);

	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)hlen;
	iov[1].iov_base = body;
	iov[1].iov_len = blen;
	/* A fresh socket's send buffer holds this; if not, the client was not reading. */
	(void)sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	httpd_log_request(c, req, NULL, status, (long long)blen, c->start);
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->len = 0;
	set_deadline(c, now + HTTP_LINGER_MS);
	arm(c);
}

static void linger_read(struct conn *c)
{
	static char sink[16384];

	for (;;) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			arm(c);
			return;
		}
		conn_close(c);
		return;
	}
}

/* ---- reading requests ---- */

static void grow_in(struct conn *c, size_t want)
{
	size_t cap = c->cap ? c->cap : READ_START;

	while (cap < want)
		cap *= 2;
	if (cap == c->cap)
		return;
	c->in = xrealloc(c->in, cap);
	c->cap = cap;
	if (c->head_len)
		c->moved = 1;
}

/* Reads what the socket has, up to what the current request needs. -1: closed or broken. */
static int fill(struct conn *c, uint64_t now)
{
	for (;;) {
		size_t want, room;
		ssize_t n;

		if (c->state == C_HEAD) {
			/* One byte past the limit lets the parser tell 414 and 431 from "more". */
			if (c->len > HTTP_HEAD_MAX)
				return 0;
			want = c->len + READ_START < HTTP_HEAD_MAX + 2 ? c->len + READ_START : HTTP_HEAD_MAX + 2;
		} else {
			size_t need = c->head_len + (size_t)c->body_len;

			if (c->len >= need)
				return 0;
			want = need - c->len < READ_KEEP ? need + 1 : c->len + READ_KEEP;
		}
		if (c->cap < want)
			grow_in(c, want);
		room = c->cap - c->len - 1;
		n = recv(c->fd, c->in + c->len, room, 0);
		if (n > 0) {
			c->len += (size_t)n;
			c->active = now;
			if ((size_t)n < room)
				return 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
}

static void enqueue(struct conn *c)
{
	pthread_mutex_lock(&S.qlock);
	c->qnext = NULL;
	if (S.qtail)
		S.qtail->qnext = c;
	else
		S.qhead = c;
	S.qtail = c;
	pthread_cond_signal(&S.qcond);
	pthread_mutex_unlock(&S.qlock);
}

static void dispatch(struct conn *c, uint64_t now)
{
	struct http_exchange *ex = &c->ex;
	int expired = c->park_expired;

	/* The body grew the buffer after the head was parsed: the slices must follow it. */
	if (c->moved) {
		http_parse_request(c->in, c->head_len, 0, &c->req);
		c->moved = 0;
	}
	if (c->state == C_PARKED) {
		struct epoll_event ev = { .events = EPOLLONESHOT, .data.ptr = c };

		/* Disarmed: a worker owns it now (an event already fetched is skipped by state). */
		if (epoll_ctl(S.epfd, EPOLL_CTL_MOD, c->fd, &ev))
			warning_errno("epoll_ctl for %s", c->peer);
		park_del(&S.parked, c);
	} else {
		list_remove(c);
	}
	c->state = C_WORKER;
	c->park_expired = 0;
	S.busy++;
	memset(ex, 0, sizeof(*ex));
	ex->c = c;
	ex->park_expired = expired;
	ex->t0 = now;
	ex->close = !c->req.keep_alive;
	ex->head_only = http_slice_eq(c->req.method, "HEAD");
	enqueue(c);
}

/* Moves a connection the loop holds as far as its buffered bytes allow. */
static void process(struct conn *c, uint64_t now)
{
	if (c->state == C_HEAD) {
		long r;

		if (!c->len) {
			if (S.stopping_loop) {
				conn_close(c);
				return;
			}
			set_deadline(c, c->nreq ? c->active + (uint64_t)S.idle_to
					       : c->start + (uint64_t)S.head_to);
			arm(c);
			return;
		}
		r = http_parse_request(c->in, c->len, c->last_len, &c->req);
		if (r < 0) {
			reject(c, &c->req, (int)-r, c->req.error ? c->req.error : "malformed request", now);
			return;
		}
		if (r == 0) {
			c->last_len = c->len;
			set_deadline(c, c->start + (uint64_t)S.head_to);
			arm(c);
			return;
		}
		c->head_len = (size_t)r;
		c->last_len = 0;
		c->body_len = c->req.content_length > 0 ? c->req.content_length : 0;
		if (c->body_len > S.body_max) {
			reject(c, &c->req, 413, "request body larger than the server accepts", now);
			return;
		}
		c->state = C_BODY;
		c->active = now;
		if (c->len < c->head_len + (size_t)c->body_len) {
			const struct http_slice *e = http_header(&c->req, "expect");
			int status = S.cfg->admit ? S.cfg->admit(&c->req, S.cfg->arg) : 0;

			if (status) {
				reject(c, &c->req, status, "refused before the body was read", now);
				return;
			}

			if (e && http_slice_ieq(*e, "100-continue"))
				(void)send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25,
					   MSG_NOSIGNAL | MSG_DONTWAIT);
		}
	}
	if (c->state == C_BODY) {
		if (c->len < c->head_len + (size_t)c->body_len) {
			set_deadline(c, c->active + (uint64_t)S.body_to);
			arm(c);
			return;
		}
		dispatch(c, now);
	}
}

/*
 * A parked request's client sent something: gone (close), or a pipelined
 * request, which waits in the socket until the poll is answered.
 */
static void on_parked_event(struct conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		conn_close(c);
	else if (n < 0)
		arm(c);
}

static void on_conn_event(struct conn *c, uint64_t now)
{
	int was_empty = c->len == 0;

	if (c->state == C_DEAD || c->state == C_WORKER)
		return;
	if (c->state == C_PARKED) {
		on_parked_event(c);
		return;
	}
	if (c->state == C_LINGER) {
		linger_read(c);
		return;
	}
	if (fill(c, now) < 0) {
		/* Closed mid-request (or between requests): nothing to answer. */
		conn_close(c);
		return;
	}
	if (was_empty && c->len && c->nreq)
		c->start = now;
	list_remove(c);
	list_append(c);
	process(c, now);
}

/* Every parked request whose value passed or whose deadline came runs again. */
static void unpark_due(uint64_t now)
{
	struct conn *c;
	int expired;

	while ((c = park_next(&S.parked, now, &expired, &S.next_deadline))) {
		c->park_expired = expired;
		dispatch(c, now);
	}
}

/*
 * A long poll the handler left unanswered: parked until its value is
 * passed or its deadline comes; at once when the wake passed it already
 * (a commit between the handler's look and now), when the server stops,
 * or when too many wait.
 */
static void park(struct conn *c, uint64_t now)
{
	struct http_exchange *ex = &c->ex;

	park_add(&S.parked, c, ex->park_since);
	c->state = C_PARKED;
	set_deadline(c, now + (uint64_t)(ex->park_wait_ms > 0 ? ex->park_wait_ms : 0));
	c->park_expired = !park_passed(&S.parked, c->park_since);
	if (!c->park_expired || S.stopping_loop || S.parked.n > HTTP_PARKED_MAX)
		dispatch(c, now);
	else
		arm(c);
}

/* From any thread: the loop looks at its done list and its parked requests. */
static void wake_loop(void)
{
	uint64_t one = 1;

	if (S.wakefd >= 0 && write(S.wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		warning_errno("cannot wake the connection loop");
}

void httpd_wake(long long value)
{
	park_raise(&S.parked, value);
	wake_loop();
}

/* A connection a worker is done with: the next request, or close. */
static void finish(struct conn *c, uint64_t now)
{
	struct http_exchange *ex = &c->ex;
	size_t used = c->head_len + (size_t)c->body_len;

	S.busy--;
	if (ex->parked && !ex->failed) {
		park(c, now);
		return;
	}
	if (ex->upgraded) {
		c->fd = -1;
		conn_close(c);
		return;
	}
	if (ex->failed || ex->close || atomic_load(&S.stopping)) {
		conn_close(c);
		return;
	}
	memmove(c->in, c->in + used, c->len - used);
	c->len -= used;
	c->head_len = 0;
	c->body_len = 0;
	c->last_len = 0;
	c->moved = 0;
	c->nreq++;
	if (c->cap > READ_KEEP && c->len < READ_START) {
		c->in = xrealloc(c->in, READ_START);
		c->cap = READ_START;
	}
	c->state = C_HEAD;
	c->start = c->active = now;
	list_append(c);
	process(c, now);
}

static void drain_done(uint64_t now)
{
	struct conn *c, *next;

	pthread_mutex_lock(&S.dlock);
	c = S.done;
	S.done = NULL;
	pthread_mutex_unlock(&S.dlock);
	/* The list is newest first; serve in arrival order. */
	for (next = NULL; c; ) {
		struct conn *n = c->qnext;

		c->qnext = next;
		next = c;
		c = n;
	}
	for (c = next; c; c = next) {
		next = c->qnext;
		finish(c, now);
	}
}

static void accept_all(uint64_t now)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char host[INET6_ADDRSTRLEN];
		struct epoll_event ev;
		struct conn *c;
		int one = 1, port = 0;
		int fd = accept4(S.lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && !evict_oldest())
				continue;
			return;
		}
		if (S.nconns >= HTTP_CONN_MAX && evict_oldest()) {
			close(fd);
			continue;
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) && errno != EOPNOTSUPP)
			warning_errno("cannot set TCP_NODELAY");
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->epfd = S.epfd;
		c->stopping = &S.stopping;
		c->state = C_HEAD;
		c->start = c->active = now;
		host[0] = '\0';
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
			snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
			snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, port);
		} else {
			snprintf(c->peer, sizeof(c->peer), "-");
		}
		S.nconns++;
		list_append(c);
		ev.events = EPOLLIN | EPOLLONESHOT;
		ev.data.ptr = c;
		if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev)) {
			warning_errno("epoll_ctl for %s", c->peer);
			conn_close(c);
			continue;
		}
		set_deadline(c, now + (uint64_t)S.head_to);
	}
}

/* Timeouts: one pass over the loop's connections whenever the earliest is due. */
static void sweep(uint64_t now)
{
	struct conn *c, *next;

	S.next_deadline = now + TICK_MS;
	for (c = S.list.next; c != &S.list; c = next) {
		next = c->next;
		if (c->deadline > now) {
			if (c->deadline < S.next_deadline)
				S.next_deadline = c->deadline;
			continue;
		}
		if (c->state == C_LINGER || (c->state == C_HEAD && !c->len))
			conn_close(c);	/* idle keep-alive, or never sent a byte */
		else if (c->state == C_HEAD)
			reject(c, NULL, 408, "request head not complete in time", now);
		else
			reject(c, NULL, 408, "request body not complete in time", now);
	}
	unpark_due(now);
}

static void begin_stop(void)
{
	struct conn *c, *next;

	atomic_store(&S.stopping, 1);
	S.stopping_loop = 1;
	if (S.lfd >= 0) {
		close(S.lfd);
		S.lfd = -1;
	}
	for (c = S.list.next; c != &S.list; c = next) {
		next = c->next;
		if ((c->state == C_HEAD && !c->len) || c->state == C_LINGER)
			conn_close(c);
	}
	while (S.parked.n) {
		S.parked.head.next->park_expired = 1;
		dispatch(S.parked.head.next, now_ms());
	}
}

/* ---- workers ---- */

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		struct conn *c;
		int wake;

		pthread_mutex_lock(&S.qlock);
		while (!S.qhead && !S.qstop)
			pthread_cond_wait(&S.qcond, &S.qlock);
		c = S.qhead;
		if (!c) {
			pthread_mutex_unlock(&S.qlock);
			return NULL;
		}
		S.qhead = c->qnext;
		if (!S.qhead)
			S.qtail = NULL;
		pthread_mutex_unlock(&S.qlock);

		if (c == &tick_job) {
			S.cfg->tick(S.cfg->arg);
			atomic_store(&S.tick_pending, 0);
			continue;
		}
		httpd_serve(c, S.cfg);
		pthread_mutex_lock(&S.dlock);
		wake = !S.done;
		c->qnext = S.done;
		S.done = c;
		pthread_mutex_unlock(&S.dlock);
		if (wake)
			wake_loop();
	}
}

/* ---- start and stop ---- */

/* Enough descriptors for HTTP_CONN_MAX connections plus the handlers' files. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int add_watch(int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void run_loop(void)
{
	struct epoll_event events[EVENTS_MAX];

	for (;;) {
		uint64_t now = now_ms();
		int i, n, timeout;

		if (S.stopping_loop && !S.busy && S.list.next == &S.list && !S.parked.n)
			break;
		if (S.next_deadline <= now)
			sweep(now);
		if (S.cfg->tick && now >= S.next_tick && !atomic_load(&S.tick_pending)) {
			atomic_store(&S.tick_pending, 1);
			S.next_tick = now + TICK_MS;
			enqueue(&tick_job);
		}
		timeout = S.next_deadline > now ? (int)(S.next_deadline - now) : 0;
		if (timeout > TICK_MS)
			timeout = TICK_MS;
		n = epoll_wait(S.epfd, events, EVENTS_MAX, timeout);
		if (n < 0) {
			if (errno != EINTR)
				warning_errno("epoll_wait");
			continue;
		}
		now = now_ms();
		for (i = 0; i < n; i++) {
			void *tag = events[i].data.ptr;

			if (tag == &tag_listen) {
				if (S.lfd >= 0)
					accept_all(now);
			} else if (tag == &tag_wake) {
				uint64_t v;

				if (read(S.wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					warning_errno("reading the wake-up counter");
				drain_done(now);
				if (park_risen(&S.parked))
					unpark_due(now);
			} else if (tag == &tag_signal) {
				if (httpd_signals_read() && !S.stopping_loop)
					begin_stop();
			} else {
				on_conn_event(tag, now);
			}
		}
		free_dead();
	}
}

int httpd_run(const struct httpd_config *cfg)
{
	pthread_t threads[HTTP_WORKERS];
	char shown[INET6_ADDRSTRLEN + 16];
	int i, started = 0, sigfd = -1;
	struct conn *c;

	memset(&S, 0, sizeof(S));
	S.cfg = cfg;
	S.list.next = S.list.prev = &S.list;
	park_init(&S.parked);
	S.head_to = test_hook_long(HOOK_HTTP_HEAD_TIMEOUT_MS, 1, HTTP_HEAD_TIMEOUT_MS, HTTP_HEAD_TIMEOUT_MS);
	S.idle_to = test_hook_long(HOOK_HTTP_IDLE_TIMEOUT_MS, 1, HTTP_IDLE_TIMEOUT_MS, HTTP_IDLE_TIMEOUT_MS);
	S.body_to = test_hook_long(HOOK_HTTP_BODY_TIMEOUT_MS, 1, HTTP_BODY_TIMEOUT_MS, HTTP_BODY_TIMEOUT_MS);
	S.body_max = cfg->body_max > 0 ? cfg->body_max : HTTP_BODY_MAX_DEFAULT;
	S.next_deadline = UINT64_MAX;
	S.epfd = S.lfd = S.wakefd = -1;
	pthread_mutex_init(&S.qlock, NULL);
	pthread_cond_init(&S.qcond, NULL);
	pthread_mutex_init(&S.dlock, NULL);
	raise_fd_limit();

	S.lfd = httpd_listen_take(cfg->listen, shown, sizeof(shown));
	if (S.lfd < 0)
		return -1;
	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	S.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (S.epfd < 0 || S.wakefd < 0 || (sigfd = httpd_signals_start()) < 0 ||
	    add_watch(S.lfd, &tag_listen) || add_watch(S.wakefd, &tag_wake) || add_watch(sigfd, &tag_signal)) {
		error_errno("cannot set up the connection loop");
		goto out;
	}

	for (i = 0; i < HTTP_WORKERS; i++) {
		int e = pthread_create(&threads[i], NULL, worker, NULL);

		if (e) {
			errno = e;
			error_errno("cannot start a worker thread");
			break;
		}
		started++;
	}
	if (started == HTTP_WORKERS) {
		fprintf(stderr, "soc serve: listening on http://%s\n", shown);
		fflush(stderr);
		run_loop();
	}

	pthread_mutex_lock(&S.qlock);
	S.qstop = 1;
	pthread_cond_broadcast(&S.qcond);
	pthread_mutex_unlock(&S.qlock);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	drain_done(now_ms());
	while ((c = S.list.next) != &S.list)
		conn_close(c);
	free_dead();
out:
	httpd_signals_stop();
	if (S.lfd >= 0)
		close(S.lfd);
	if (S.epfd >= 0)
		close(S.epfd);
	if (S.wakefd >= 0)
		close(S.wakefd);
	pthread_mutex_destroy(&S.qlock);
	pthread_cond_destroy(&S.qcond);
	pthread_mutex_destroy(&S.dlock);
	return started == HTTP_WORKERS ? 0 : -1;
}
