/*
 * cmd_tunnel.c: `soc tunnel`, the remote shell rsync runs (-e '<soc>
 * tunnel'). It asks the server to turn one HTTP request into an rsync
 * daemon (POST /api/v1/rsync, Upgrade: soc-rsync), then copies bytes
 * between rsync (our stdin/stdout) and the socket until either closes.
 * URL and token come from the environment the parent soc set, never from
 * argv, so no token shows in ps. libcurl connects, so https works too.
 */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "soc.h"

#define TUNNEL_IO (64 * 1024)		/* one relay read */
#define TUNNEL_HEAD_MAX (16 * 1024)	/* the server's 101 answer */
#define TUNNEL_WAIT_MS (30 * 1000)	/* for the 101 */

const char tunnel_usage[] =
	"usage: soc tunnel [RSYNC-ARGS]\n"
	"\n"
	"Used by soc itself as rsync's remote shell: relays rsync's daemon protocol\n"
	"through the soc server's port. Reads SOC_TUNNEL_URL and SOC_TUNNEL_TOKEN.\n";

/* Bytes through the tunnel, for bench/sync.sh (SOC_TUNNEL_STATS=FILE). */
static unsigned long long bytes_sent, bytes_received;

static int wait_sock(curl_socket_t sock, short events, int ms)
{
	struct pollfd p = { .fd = sock, .events = events };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static int send_all(CURL *c, curl_socket_t sock, const char *p, size_t len)
{
	while (len) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(c, p, len, &sent);

		if (rc == CURLE_AGAIN) {
			if (wait_sock(sock, POLLOUT, -1) < 0)
				return -1;
			continue;
		}
		if (rc != CURLE_OK)
			return error("the connection to the server broke: %s", curl_easy_strerror(rc));
		bytes_sent += sent;
		p += sent;
		len -= sent;
	}
	return 0;
}

/*
 * The descriptors rsync gives us may be non-blocking: a full pipe is a
 * wait, not the end of the transfer. Waiting here is safe, since rsync
 * reads while it waits to write.
 */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_sock(fd, POLLOUT, -1) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to the end of the 101 head; bytes after it (rsync's first) go to stdout. */
static int read_head(CURL *c, curl_socket_t sock)
{
	char head[TUNNEL_HEAD_MAX + 1];
	size_t len = 0;
	char *end = NULL;

	while (!end) {
		size_t got = 0;
		CURLcode rc;

		if (len == TUNNEL_HEAD_MAX)
			return error("the server's answer is too long");
		rc = curl_easy_recv(c, head + len, TUNNEL_HEAD_MAX - len, &got);
		if (rc == CURLE_AGAIN) {
			if (wait_sock(sock, POLLIN, TUNNEL_WAIT_MS) <= 0)
				return error("the server did not answer");
			continue;
		}
		if (rc != CURLE_OK || !got)
			return error("the server closed the connection");
		len += got;
		head[len] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	if (strncmp(head, "HTTP/1.1 101", 12)) {
		const char *body = strstr(head, "\"message\":\"");
		int status = 0;

		sscanf(head, "HTTP/1.%*d %d", &status);
		if (body) {
			body += strlen("\"message\":\"");
			return error("the server refused the transfer (%d): %.*s", status,
				     (int)strcspn(body, "\""), body);
		}
		return error("the server refused the transfer (%d)", status);
	}
	end += 4;
	return write_all(1, end, len - (size_t)(end - head)) ? error_errno("cannot write to rsync") : 0;
}


static void write_stats(void)
{
	const char *file = getenv("SOC_TUNNEL_STATS");
	FILE *f;

	if (!file || !*file || !(f = fopen(file, "a")))
		return;
	fprintf(f, "sent %llu received %llu\n", bytes_sent, bytes_received);
	fclose(f);
}

static int relay(CURL *c, curl_socket_t sock)
{
	char *io = xmalloc(TUNNEL_IO);
	int in_open = 1, rc = -1;

	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		int n;

		n = poll(p, in_open ? 2 : 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (p[0].revents) {
			/* Drain: TLS may hold decrypted bytes the socket no longer signals. */
			for (;;) {
				size_t got = 0;
				CURLcode r = curl_easy_recv(c, io, TUNNEL_IO, &got);

				if (r == CURLE_AGAIN)
					break;
				if (r != CURLE_OK || !got) {
					rc = 0;	/* the daemon finished, or went away: rsync says which */
					goto out;
				}
				bytes_received += got;
				if (write_all(1, io, got))
					goto out;
			}
		}
		if (in_open && p[1].revents) {
			ssize_t got = read(0, io, TUNNEL_IO);

			if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (got <= 0) {
				in_open = 0;
				shutdown(sock, SHUT_WR);
				continue;
			}
			if (send_all(c, sock, io, (size_t)got))
				goto out;
		}
	}
out:
	free(io);
	return rc;
}

int cmd_tunnel(int argc, char **argv, struct workspace *ws)
{
	const char *url = getenv("SOC_TUNNEL_URL"), *token = getenv("SOC_TUNNEL_TOKEN");
	CURL *c = NULL;
	CURLU *u = NULL;
	char *path = NULL, *host = NULL, *port = NULL;
	struct buf req = BUF_INIT, base = BUF_INIT;
	curl_socket_t sock;
	int rc = EXIT_REMOTE;

	(void)argc;
	(void)argv;
	(void)ws;
	if (!url || !*url || !token || !*token)
		return error("SOC_TUNNEL_URL and SOC_TUNNEL_TOKEN must be set (soc runs this for rsync)"),
		       EXIT_USAGE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(c = curl_easy_init()) || !(u = curl_url())) {
		error("cannot start libcurl");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) || curl_url_get(u, CURLUPART_PATH, &path, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		error("'%s' is not a server URL", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	buf_addstr(&base, path);
	while (base.len && base.p[base.len - 1] == '/')
		base.p[--base.len] = '\0';
	buf_addf(&req, "POST %s/api/v1/rsync HTTP/1.1\r\nHost: %s%s%s\r\n"
		 "Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: soc-rsync\r\n"
		 "Content-Length: 0\r\nUser-Agent: soc/" SOC_VERSION "\r\n\r\n",
		 base.len ? base.p : "", host, port ? ":" : "", port ? port : "", token);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	if (curl_easy_perform(c) != CURLE_OK ||
	    curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK) {
		error("cannot reach the server at '%s'", url);
		goto out;
	}
	if (send_all(c, sock, req.p, req.len) || read_head(c, sock))
		goto out;
	rc = relay(c, sock) ? EXIT_ERROR : EXIT_OK;
	write_stats();
out:
	if (req.p)
		memset(req.p, 0, req.len);	/* the token */
	buf_free(&req);
	buf_free(&base);
	curl_free(path);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}
