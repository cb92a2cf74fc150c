/*
 * upgrade.c: one HTTP request turned into a raw two-way connection, the
 * client's half of "Connection: Upgrade". The rsync tunnel (cmd_tunnel.c)
 * and the upload of new files (upload.c) both start this way: a POST
 * with the token and "Upgrade: <proto>", a 101 from the server, then
 * bytes of the protocol both ways. libcurl connects, so https works too.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sync.h"
#include "testhook.h"

#define UPGRADE_HEAD_MAX (16 * 1024)	/* the server's answer to the request */
#define UPGRADE_WAIT_MS (30 * 1000)	/* for that answer */

struct upgraded {
	CURL *c;
	curl_socket_t sock;
	char *early;		/* protocol bytes that came with the 101 head */
	size_t early_len, early_off;
	unsigned long long sent, received;
	char errbuf[CURL_ERROR_SIZE];	/* libcurl's words on a failure, as long as the handle lives */
};

/* curl_global_init() is not thread-safe before libcurl 7.84, and an upload runs streams on threads. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_failed;

static void global_init(void)
{
	global_failed = curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK;
}

/* poll(2) on the socket through EINTR: > 0 ready, 0 timed out, < 0 failed. */
static int wait_sock(curl_socket_t sock, short events, int ms)
{
	struct pollfd p = { .fd = sock, .events = events };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}

int upgrade_send(struct upgraded *u, const void *buf, size_t len, int stall_ms)
{
	const char *p = buf;

	while (len) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(u->c, p, len, &sent);

		if (rc == CURLE_AGAIN) {
			int w = wait_sock(u->sock, POLLOUT, stall_ms);

			if (w <= 0)
				return w ? -1 : UPGRADE_TIMEOUT;
			continue;
		}
		if (rc != CURLE_OK)
			return -1;
		u->sent += sent;
		p += sent;
		len -= sent;
	}
	return 0;
}

long upgrade_recv(struct upgraded *u, void *buf, size_t len, int wait_ms)
{
	if (u->early_off < u->early_len) {
		size_t n = u->early_len - u->early_off;

		if (n > len)
			n = len;
		memcpy(buf, u->early + u->early_off, n);
		u->early_off += n;
		return (long)n;
	}
	for (;;) {
		size_t got = 0;
		CURLcode rc = curl_easy_recv(u->c, buf, len, &got);

		if (rc == CURLE_AGAIN) {
			int w = wait_ms ? wait_sock(u->sock, POLLIN, wait_ms) : 0;

			if (w <= 0)
				return w ? -1 : wait_ms ? UPGRADE_TIMEOUT : UPGRADE_AGAIN;
			continue;
		}
		if (rc != CURLE_OK)
			return -1;
		u->received += got;
		return (long)got;
	}
}

int upgrade_pending(const struct upgraded *u)
{
	return u->early_off < u->early_len;
}

int upgrade_fd(const struct upgraded *u)
{
	return (int)u->sock;
}

void upgrade_shutdown_write(struct upgraded *u)
{
	shutdown(u->sock, SHUT_WR);
}

void upgrade_close(struct upgraded *u)
{
	if (!u)
		return;
	/* Bytes through upgraded connections, for bench/sync.sh. */
	test_hook_line(HOOK_TUNNEL_STATS, "sent %llu received %llu", u->sent, u->received);
	curl_easy_cleanup(u->c);
	free(u->early);
	free(u);
}

/* More of the answer into head[*len..UPGRADE_HEAD_MAX): 0, or -1 when none came (closed, or no answer). */
static int recv_more(struct upgraded *u, char *head, size_t *len)
{
	for (;;) {
		size_t got = 0;
		CURLcode rc;

		if (*len >= UPGRADE_HEAD_MAX)
			return -1;
		rc = curl_easy_recv(u->c, head + *len, UPGRADE_HEAD_MAX - *len, &got);
		if (rc == CURLE_AGAIN) {
			if (wait_sock(u->sock, POLLIN, UPGRADE_WAIT_MS) <= 0)
				return -1;
			continue;
		}
		if (rc != CURLE_OK || !got)
			return -1;
		u->received += got;
		*len += got;
		head[*len] = '\0';
		return 0;
	}
}

/*
 * 1 while head[0..len) can still begin an HTTP/1.x status line: an
 * HTTP/2 frame, the h2 preface or any other bytes are known for what
 * they are from the first bytes, not after a wait for a blank line.
 */
static int may_be_http1(const char *head, size_t len)
{
	static const char want[] = "HTTP/1.";
	size_t n = len < sizeof(want) - 1 ? len : sizeof(want) - 1;

	return !memcmp(head, want, n);
}

/* What the first bytes of an answer that is not HTTP/1.x look like, for the message. */
static const char *not_http_kind(const char *head, size_t len)
{
	if (len >= 3 && !memcmp(head, "PRI", 3))
		return "the HTTP/2 preface";
	if (len >= 9 && head[3] == 0x04 && !memcmp(head, "\0\0", 2))
		return "an HTTP/2 frame";	/* a SETTINGS frame: what an h2 server sends first */
	if (len >= 5 && !memcmp(head, "HTTP/", 5))
		return "a version of HTTP other than 1.x";
	return "bytes that are not HTTP";
}

#define PROXY_HINT "a proxy in front of soc serve may not pass 'Upgrade' (see contrib/nginx-soc.conf)"

/*
 * Reads up to the end of the answer's head. 101: 0, and the bytes after
 * the head kept for upgrade_recv. soc's own refusal (a JSON error body):
 * its status, with its "message" in msg; the body is read to its
 * Content-Length, since a server may send it apart from the head. Any
 * other answer: -1 after one line, which names the proxy that most
 * likely gave it.
 */
static int read_head(struct upgraded *u, const char *url, char *msg, size_t msglen)
{
	char head[UPGRADE_HEAD_MAX + 1];
	size_t len = 0, body, want = 0;
	char *end = NULL, *at;
	const char *cl;
	json_t *j;
	int status = 0, soc;

	head[0] = '\0';
	msg[0] = '\0';
	for (;;) {
		if (!may_be_http1(head, len)) {
			error("the server at '%s' answered the upgrade with %s, not HTTP/1.1: %s",
			      url, not_http_kind(head, len), PROXY_HINT);
			return -1;
		}
		if ((end = memmem(head, len, "\r\n\r\n", 4)))
			break;
		if (len >= UPGRADE_HEAD_MAX) {
			error("the server at '%s' answered the upgrade with a head longer than %d bytes: %s",
			      url, UPGRADE_HEAD_MAX, PROXY_HINT);
			return -1;
		}
		if (recv_more(u, head, &len)) {
			if (!len)
				error("the server at '%s' closed the connection without answering the upgrade: %s",
				      url, PROXY_HINT);
			else
				error("the server at '%s' broke off its answer to the upgrade: %s", url, PROXY_HINT);
			return -1;
		}
	}
	end += 4;
	body = (size_t)(end - head);
	if (!strncmp(head, "HTTP/1.1 101 ", 13) || !strncmp(head, "HTTP/1.1 101\r", 13)) {
		u->early_len = len - body;
		u->early = xmalloc(u->early_len + 1);
		memcpy(u->early, end, u->early_len);
		return 0;
	}
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1 || status < 100 || status > 999) {
		error("the server at '%s' answered the upgrade with a status line that is not HTTP: %s",
		      url, PROXY_HINT);
		return -1;
	}
	if ((cl = strcasestr(head, "\r\ncontent-length:")) && cl < end)
		want = strtoul(cl + strlen("\r\ncontent-length:"), NULL, 10);
	while (len - body < want && !recv_more(u, head, &len))
		;
	/* soc answers every refusal with a JSON object naming its "error"; a proxy does not. */
	j = json_loadb(head + body, want && want < len - body ? want : len - body, 0, NULL);
	soc = json_is_string(json_object_get(j, "error"));
	if (soc && json_is_string(json_object_get(j, "message")))
		snprintf(msg, msglen, "%s", json_string_value(json_object_get(j, "message")));
	json_decref(j);
	/* One line: a message with a newline would hide the rest. */
	for (at = msg; *at; at++)
		if ((unsigned char)*at < ' ')
			*at = ' ';
	if (!soc) {
		error("the server at '%s' answered the upgrade with %d (not 101) and a body that is not soc's: %s",
		      url, status, PROXY_HINT);
		return -1;
	}
	return status;
}

int upgrade_refusal_is_remote(int status)
{
	return status == 400 || status == 401 || status == 403 || status >= 500;
}

void upgrade_say_refusal(const struct remote *r, const char *what, int status, const char *msg)
{
	if (status == 401 || status == 403)
		error("the server at '%s' refused the token (%d): %s", r->url, status, msg);
	else if (status == 400)
		/* What soc serve answers when a proxy dropped 'Upgrade' or 'Connection'. */
		error("the server at '%s' answered the upgrade with 400 (not 101): %s; " PROXY_HINT,
		      r->url, msg);
	else
		error("the server at '%s' refused %s (%d): %s", r->url, what, status, msg);
}

struct upgraded *upgrade_open(const struct remote *r, const char *path, const char *proto,
			      int *status, char *msg, size_t msglen)
{
	struct upgraded *u = xcalloc(1, sizeof(*u));
	CURLU *cu = NULL;
	char *base = NULL, *host = NULL, *port = NULL;
	struct buf req = BUF_INIT;
	size_t blen;
	CURLcode cc;
	int rc;

	*status = 0;
	msg[0] = '\0';
	pthread_once(&global_once, global_init);
	if (global_failed || !(u->c = curl_easy_init()) || !(cu = curl_url())) {
		error("cannot start libcurl");
		goto fail;
	}
	if (curl_url_set(cu, CURLUPART_URL, r->url, 0) || curl_url_get(cu, CURLUPART_PATH, &base, 0) ||
	    curl_url_get(cu, CURLUPART_HOST, &host, 0)) {
		error("'%s' is not a server URL", r->url);
		goto fail;
	}
	curl_url_get(cu, CURLUPART_PORT, &port, 0);
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	buf_addf(&req, "POST %.*s%s HTTP/1.1\r\nHost: %s%s%s\r\n"
		 "Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n"
		 "Content-Length: 0\r\nUser-Agent: soc/" SOC_VERSION "\r\n\r\n",
		 (int)blen, base, path, host, port ? ":" : "", port ? port : "", r->token, proto);
	curl_easy_setopt(u->c, CURLOPT_URL, r->url);
	curl_easy_setopt(u->c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(u->c, CURLOPT_CONNECT_ONLY, 1L);
	/*
	 * HTTP/1.1 only, so that TLS offers only http/1.1 (ALPN): a proxy
	 * that could choose h2 would, and HTTP/2 has no Upgrade. On an h2
	 * connection libcurl 7.88's CONNECT_ONLY has no stream for our bytes:
	 * curl_easy_recv crashed inside its h2 filter (nghttp2's callback).
	 */
	curl_easy_setopt(u->c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(u->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(u->c, CURLOPT_ERRORBUFFER, u->errbuf);
	curl_easy_setopt(u->c, CURLOPT_CONNECTTIMEOUT_MS, (long)NET_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(u->c, CURLOPT_TCP_NODELAY, 1L);
	net_tls(u->c, r);
	cc = curl_easy_perform(u->c);
	if (cc != CURLE_OK) {
		net_say_unreachable(r, (int)cc, u->errbuf);
		goto fail;
	}
	if (curl_easy_getinfo(u->c, CURLINFO_ACTIVESOCKET, &u->sock) != CURLE_OK ||
	    u->sock == CURL_SOCKET_BAD) {
		error("cannot reach the server at '%s'", r->url);
		goto fail;
	}
	if (upgrade_send(u, req.p, req.len, UPGRADE_WAIT_MS)) {
		error("the connection to the server at '%s' broke before the upgrade was asked for", r->url);
		goto fail;
	}
	rc = read_head(u, r->url, msg, msglen);
	if (rc) {
		if (rc > 0)
			*status = rc;
		goto fail;
	}
	goto out;
fail:
	if (u->c)
		curl_easy_cleanup(u->c);
	free(u);
	u = NULL;
out:
	if (req.p)
		memset(req.p, 0, req.len);	/* the token */
	buf_free(&req);
	curl_free(base);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(cu);
	return u;
}
