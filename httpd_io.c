/*
 * httpd_io.c: what the server writes and binds without the loop's state:
 * the handlers' side of an exchange (http_respond, http_stream_*,
 * http_upgrade), the JSON error bodies, the access log line, a worker's
 * run of one handler, and the listening socket.
 *
 * Handlers write with blocking semantics: poll on the non-blocking socket,
 * and HTTP_SEND_TIMEOUT_MS without progress drops the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "httpd_conn.h"

/* ---- error bodies and the access log ---- */

static const char *error_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 408: return "timeout";
	case 413: return "body_too_large";
	case 414: return "request_line_too_long";
	case 431: return "headers_too_large";
	case 500: return "internal";
	case 501: return "not_implemented";
	case 505: return "http_version";
	}
	return "error";
}

size_t httpd_error_body(char *out, size_t size, int status, const char *msg)
{
	int n = snprintf(out, size, "{\"error\":\"%s\",\"message\":\"%s\"}\n",
			 error_code(status), msg);

	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* A slice for the log: printable bytes only, '~' when cut short, '-' when absent. */
static void log_field(char *out, size_t size, struct http_slice s)
{
	size_t i, n = s.len < size - 2 ? s.len : size - 2;

	if (!s.p || !s.len) {
		snprintf(out, size, "-");
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		out[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (n < s.len)
		out[n++] = '~';
	out[n] = '\0';
}

void httpd_log_request(const struct conn *c, const struct http_request *req, const char *user,
		       int status, long long bytes, uint64_t t0)
{
	char method[32], path[HTTP_LOG_PATH_MAX + 4], who[HTTP_LOG_USER_MAX + 4];

	log_field(method, sizeof(method), req ? req->method : (struct http_slice){ NULL, 0 });
	log_field(path, sizeof(path), req ? req->path : (struct http_slice){ NULL, 0 });
	log_field(who, sizeof(who), (struct http_slice){ user, user ? strlen(user) : 0 });
	fprintf(stderr, "%s: %s %s %s %s %d %lld %llums\n", soc_prog, c->peer, who, method, path,
		status, bytes, (unsigned long long)(now_ms() - t0));
}

/* ---- a worker runs a handler ---- */

void httpd_serve(struct conn *c, const struct httpd_config *cfg)
{
	struct http_exchange *ex = &c->ex;
	size_t end = c->head_len + (size_t)c->body_len;
	char saved = c->in[end];

	/* http_body promises a NUL; the byte under it may start a pipelined request. */
	c->in[end] = '\0';
	cfg->handler(ex, cfg->arg);
	if (ex->patience_end) {
		/* Not answered through http_respond: a stream the ticker began still wants its last line. */
		char body[256];
		size_t n = httpd_error_body(body, sizeof(body), 500, "the handler did not answer");

		if (ex->patience_end(ex, 500, body, n))
			ex->close = 1;
	}
	if (ex->parked && !ex->status && !ex->streaming && !ex->upgraded) {
		/* No answer yet, so nothing to log: the loop runs it again later. */
		c->in[end] = saved;
		buf_free(&ex->hdrs);
		return;
	}
	ex->parked = 0;
	if (ex->streaming) {
		warning("handler for '%.*s' left its stream open", (int)c->req.path.len, c->req.path.p);
		ex->failed = 1;
	} else if (!ex->status) {
		char body[256];
		size_t n = httpd_error_body(body, sizeof(body), 500, "the handler did not answer");

		ex->close = 1;
		http_respond(ex, 500, "application/json", body, n);
	}
	c->in[end] = saved;
	httpd_log_request(c, &c->req, ex->user, ex->status, ex->bytes, c->start);
	buf_free(&ex->hdrs);
	buf_free(&ex->pending);
	free(ex->chunk);
	ex->chunk = NULL;
}

/* ---- the handlers' side ---- */

void http_park(struct http_exchange *ex, long long since, long wait_ms)
{
	ex->parked = 1;
	ex->park_since = since;
	ex->park_wait_ms = wait_ms;
}

int http_park_expired(const struct http_exchange *ex)
{
	return ex->park_expired;
}

const struct http_request *http_req(struct http_exchange *ex)
{
	return &ex->c->req;
}

const char *http_body(struct http_exchange *ex, size_t *len)
{
	if (len)
		*len = (size_t)ex->c->body_len;
	return ex->c->in + ex->c->head_len;
}

void http_body_drop(struct http_exchange *ex, size_t upto)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = (uintptr_t)(ex->c->in + ex->c->head_len);
	uintptr_t to = from + (uintptr_t)(upto < (size_t)ex->c->body_len ? upto : (size_t)ex->c->body_len);

	/* Whole pages only: the head before and a pipelined request after stay. */
	from = (from + page - 1) & ~(page - 1);
	to &= ~(page - 1);
	if (to > from && madvise((void *)from, to - from, MADV_DONTNEED))
		warning_errno("cannot give back a request body's memory");
}

const char *http_peer(struct http_exchange *ex)
{
	return ex->c->peer;
}

void http_set_log_user(struct http_exchange *ex, const char *name)
{
	snprintf(ex->user, sizeof(ex->user), "%s", name);
}

void http_add_header(struct http_exchange *ex, const char *name, const char *value)
{
	/* A CR or LF would let a value start a header or a body of its own. */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
		warning("refusing to send header '%s' with a line break", name);
		return;
	}
	buf_addf(&ex->hdrs, "%s: %s\r\n", name, value);
}

/* Writes every byte of iov, waiting up to HTTP_SEND_TIMEOUT_MS for each bit of progress. */
static int send_all(struct http_exchange *ex, struct iovec *iov, int n)
{
	int fd = ex->c->fd;

	if (ex->failed)
		return -1;
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (w < 0) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				break;
			if (poll(&p, 1, HTTP_SEND_TIMEOUT_MS) > 0 || errno == EINTR)
				continue;
			break;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	if (n > 0) {
		ex->failed = 1;
		return -1;
	}
	return 0;
}

static void response_head(struct http_exchange *ex, struct buf *h, int status,
			  const char *content_type, long long length)
{
	char date[64];
	struct tm tm;
	time_t t = time(NULL);

	if (atomic_load(ex->c->stopping))
		ex->close = 1;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	buf_addf(h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_reason(status), date);
	if (content_type)
		buf_addf(h, "Content-Type: %s\r\n", content_type);
	if (length >= 0) {
		if (status != 204 && status != 304)
			buf_addf(h, "Content-Length: %lld\r\n", length);
	} else {
		buf_addstr(h, "Transfer-Encoding: chunked\r\n");
	}
	if (ex->hdrs.len)
		buf_add(h, ex->hdrs.p, ex->hdrs.len);
	if (ex->close)
		buf_addstr(h, "Connection: close\r\n");
	buf_addstr(h, "\r\n");
}

/* http_patience is for an answer through http_respond: another kind ends it, and fails once it began. */
static int patience_crossed(struct http_exchange *ex)
{
	return ex->patience_end && ex->patience_end(ex, 0, NULL, 0);
}

static int answered_twice(struct http_exchange *ex)
{
	if (!ex->status)
		return 0;
	warning("handler for '%.*s' answered twice", (int)ex->c->req.path.len, ex->c->req.path.p);
	return 1;
}

int http_respond(struct http_exchange *ex, int status, const char *content_type,
		 const void *body, size_t len)
{
	struct buf h = BUF_INIT;
	struct iovec iov[2];
	int n = 1, r;

	if (ex->patience_end && ex->patience_end(ex, status, body, len))
		return ex->failed ? -1 : 0;
	if (answered_twice(ex))
		return -1;
	ex->status = status;
	response_head(ex, &h, status, content_type, (long long)len);
	iov[0].iov_base = h.p;
	iov[0].iov_len = h.len;
	if (len && !ex->head_only && status != 204 && status != 304) {
		iov[1].iov_base = (void *)body;
		iov[1].iov_len = len;
		n = 2;
		ex->bytes = (long long)len;
	}
	r = send_all(ex, iov, n);
	buf_free(&h);
	return r;
}

#define SENDFILE_CHUNK (1 << 20)	/* bytes one sendfile() call may move */

int http_respond_fd(struct http_exchange *ex, int status, const char *content_type, int fd, long long len)
{
	struct buf h = BUF_INIT;
	struct iovec iov[1];
	off_t off = 0;
	int r;

	if (patience_crossed(ex) || answered_twice(ex))
		return -1;
	ex->status = status;
	response_head(ex, &h, status, content_type, len);
	iov[0].iov_base = h.p;
	iov[0].iov_len = h.len;
	r = send_all(ex, iov, 1);
	buf_free(&h);
	if (r || ex->head_only)
		return r;
	while (off < len) {
		size_t want = len - off < SENDFILE_CHUNK ? (size_t)(len - off) : SENDFILE_CHUNK;
		ssize_t w = sendfile(ex->c->fd, fd, &off, want);

		if (w > 0) {
			ex->bytes += w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = ex->c->fd, .events = POLLOUT };

			if (poll(&p, 1, HTTP_SEND_TIMEOUT_MS) > 0 || errno == EINTR)
				continue;
		}
		/* Gone, timed out, or the file is shorter than its length said: the client sees a cut body. */
		ex->failed = 1;
		return -1;
	}
	return 0;
}

int http_stream_begin(struct http_exchange *ex, int status, const char *content_type)
{
	return patience_crossed(ex) ? -1 : httpd_stream_open(ex, status, content_type);
}

int httpd_stream_open(struct http_exchange *ex, int status, const char *content_type)
{
	if (answered_twice(ex))
		return -1;
	ex->status = status;
	ex->streaming = 1;
	response_head(ex, &ex->pending, status, content_type, -1);
	ex->chunk = xmalloc(HTTP_CHUNK_MAX);
	ex->chunk_len = 0;
	return 0;
}

/* Sends the pending head, the buffered chunk, and the last chunk when last is set. */
static int stream_flush(struct http_exchange *ex, int last)
{
	char size[32];
	struct iovec iov[5];
	int n = 0;

	if (ex->pending.len) {
		iov[n].iov_base = ex->pending.p;
		iov[n++].iov_len = ex->pending.len;
	}
	if (ex->chunk_len && !ex->head_only) {
		int k = snprintf(size, sizeof(size), "%zx\r\n", ex->chunk_len);

		iov[n].iov_base = size;
		iov[n++].iov_len = (size_t)k;
		iov[n].iov_base = ex->chunk;
		iov[n++].iov_len = ex->chunk_len;
		iov[n].iov_base = (void *)"\r\n";
		iov[n++].iov_len = 2;
		ex->bytes += (long long)ex->chunk_len;
	}
	if (last && !ex->head_only) {
		iov[n].iov_base = (void *)"0\r\n\r\n";
		iov[n++].iov_len = 5;
	}
	ex->chunk_len = 0;
	if (!n)
		return 0;
	if (send_all(ex, iov, n))
		return -1;
	buf_reset(&ex->pending);
	return 0;
}

int http_stream_write(struct http_exchange *ex, const void *p, size_t len)
{
	const char *s = p;

	if (!ex->streaming || ex->failed)
		return -1;
	while (len) {
		size_t room = HTTP_CHUNK_MAX - ex->chunk_len;
		size_t n = len < room ? len : room;

		memcpy(ex->chunk + ex->chunk_len, s, n);
		ex->chunk_len += n;
		s += n;
		len -= n;
		if (ex->chunk_len == HTTP_CHUNK_MAX && stream_flush(ex, 0))
			return -1;
	}
	return 0;
}

void http_stream_cut(struct http_exchange *ex)
{
	ex->streaming = 0;
	ex->failed = 1;
}

int http_stream_flush(struct http_exchange *ex)
{
	if (!ex->streaming || ex->failed)
		return -1;
	return stream_flush(ex, 0);
}

int http_stream_end(struct http_exchange *ex)
{
	if (!ex->streaming)
		return -1;
	ex->streaming = 0;
	return stream_flush(ex, 1);
}

static int token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("!#$%&'*+-.^_`|~", *s) && !(*s >= '0' && *s <= '9') &&
		    !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z'))
			return 0;
	return 1;
}

static int upgrade_refused(struct http_exchange *ex, const char *msg)
{
	char body[256];
	size_t n = httpd_error_body(body, sizeof(body), 400, msg);

	ex->close = 1;
	http_respond(ex, 400, "application/json", body, n);
	return -1;
}

int http_upgrade(struct http_exchange *ex, const char *proto)
{
	struct conn *c = ex->c;
	struct buf h = BUF_INIT;
	struct iovec iov;
	char peek;
	int fd = c->fd, flags;

	if (patience_crossed(ex) || answered_twice(ex))
		return -1;
	if (proto && !token(proto))
		die("BUG: upgrade protocol '%s' is not a token", proto);
	if (proto && !c->req.upgrade)
		return upgrade_refused(ex, "upgrade requested without Connection: upgrade");
	/* The protocol starts after our 101; anything the client sent before it is not ours to pass on. */
	if (c->len > c->head_len + (size_t)c->body_len ||
	    recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		return upgrade_refused(ex, proto ? "bytes sent before 101 Switching Protocols"
						 : "bytes sent before CONNECT was answered");
	ex->status = proto ? 101 : 200;
	if (proto)
		buf_addf(&h, "HTTP/1.1 101 %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n",
			 http_reason(101), proto);
	else
		buf_addstr(&h, "HTTP/1.1 200 Connection established\r\n");
	if (ex->hdrs.len)
		buf_add(&h, ex->hdrs.p, ex->hdrs.len);
	buf_addstr(&h, "\r\n");
	iov.iov_base = h.p;
	iov.iov_len = h.len;
	if (send_all(ex, &iov, 1)) {
		buf_free(&h);
		return -1;
	}
	buf_free(&h);
	if (epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL))
		warning_errno("epoll_ctl for %s", c->peer);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		ex->failed = 1;
		return error_errno("cannot make the upgraded socket blocking");
	}
	ex->upgraded = 1;
	ex->close = 1;
	return fd;
}

/* ---- the listening socket ---- */

/* httpd_listen's socket and the address it shows, until httpd_run takes them. */
static int bound_fd = -1;
static char bound_shown[INET6_ADDRSTRLEN + 16];

int httpd_listen(const char *spec)
{
	if (bound_fd >= 0)
		close(bound_fd);
	bound_fd = httpd_listen_on(spec, bound_shown, sizeof(bound_shown));
	return bound_fd < 0 ? -1 : 0;
}

int httpd_listen_take(const char *spec, char *shown, size_t shown_size)
{
	int fd;

	if (bound_fd < 0 && httpd_listen(spec))
		return -1;
	fd = bound_fd;
	bound_fd = -1;
	snprintf(shown, shown_size, "%s", bound_shown);
	return fd;
}

int httpd_listen_on(const char *spec, char *shown, size_t shown_size)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[16], addr[INET6_ADDRSTRLEN];
	const char *colon = strrchr(spec, ':'), *given = spec;
	size_t hlen;
	int fd = -1, one = 1, rc, last_errno = 0;

	if (!colon || colon == spec || !colon[1] || strlen(colon + 1) >= sizeof(port))
		return error("invalid listen address '%s': want HOST:PORT", spec);
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[' && hlen >= 2 && spec[hlen - 1] == ']') {
		spec++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return error("invalid listen address '%s': host too long", spec);
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	/* getaddrinfo takes 99999 and listens on 34463. */
	if (strspn(port, "0123456789") != strlen(port) || strtol(port, NULL, 10) > 65535)
		return error("invalid listen address '%s': the port is not a number from 0 to 65535", given);

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return error("cannot resolve listen address '%s:%s': %s", host, port, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, SOMAXCONN))
			break;
		last_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = last_errno;
		return error_errno("cannot listen on '%s:%s'", host, port);
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		close(fd);
		return error_errno("cannot read the listening address");
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
		snprintf(shown, shown_size, "[%s]:%d", addr, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
		snprintf(shown, shown_size, "%s:%d", addr, ntohs(a->sin_port));
	}
	return fd;
}
