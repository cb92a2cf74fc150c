/*
 * rsync_connect.c: rsync straight to the soc port, without `soc tunnel`.
 * rsync asks a web proxy for a daemon by itself: with RSYNC_PROXY set to
 * user:password@host:port it sends "CONNECT soc:873" with the password as
 * Basic Proxy-Authorization, and speaks the daemon protocol on the socket
 * once answered 200. soc serve answers that as it answers the tunnel's
 * Upgrade (tunnel_serve.c), so on plain http rsync needs no relay: no soc
 * process started for each rsync, no copy of every byte through it
 * (bench/README: some 20 ms of wall and 40 ms of CPU a push).
 *
 * Only where nothing stands between: an http:// remote at the root of its
 * host (a path says a proxy routes it), no IPv6 literal (rsync reads
 * host:port at the first colon), no web proxy of the user's (libcurl's
 * variables: the tunnel honours them, rsync would not). A proxy in front
 * that refuses CONNECT, or a server older than it, makes rsync fail before
 * a byte of the transfer; rsync_run then runs the tunnel instead, and
 * for the rest of the command.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "soc.h"
#include "sync.h"
#include "testhook.h"

/* What rsync says when no daemon answered through the proxy (socket.c of rsync 3.x). */
static const char *const refusals[] = {
	"from proxy",			/* bad response, failed to read or write */
	"proxy response line too long",
	"invalid proxy specification",
	"failed to connect to",		/* no server: the tunnel says so in our words */
};

/* The variables libcurl takes a proxy for http:// from. */
static const char *const curl_proxies[] = { "http_proxy", "ALL_PROXY", "all_proxy" };

static int token_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("-._~", c);
}

char *rsync_connect_proxy(const struct remote *r)
{
	const char *host, *slash, *colon;
	size_t hlen;

	if (test_hook_flag(HOOK_RSYNC_TUNNEL) || test_hook_str(HOOK_TUNNEL_STATS))
		return NULL;	/* the relay counts the bytes */
	for (size_t i = 0; i < sizeof(curl_proxies) / sizeof(*curl_proxies); i++) {
		const char *v = getenv(curl_proxies[i]);

		if (v && *v)
			return NULL;
	}
	if (!r->url || strncasecmp(r->url, "http://", 7) || !r->token || !*r->token)
		return NULL;
	for (const char *t = r->token; *t; t++)
		if (!token_char(*t))
			return NULL;
	host = r->url + 7;
	slash = strchr(host, '/');
	hlen = slash ? (size_t)(slash - host) : strlen(host);
	if (!hlen || (slash && strcmp(slash, "/")) || memchr(host, '@', hlen) || memchr(host, '[', hlen))
		return NULL;
	colon = memchr(host, ':', hlen);
	if (colon && colon + 1 == host + hlen)
		return NULL;
	return colon ? xasprintf("soc:%s@%.*s", r->token, (int)hlen, host)
		     : xasprintf("soc:%s@%.*s:80", r->token, (int)hlen, host);
}

int rsync_connect_refused(const char *err, size_t len)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(*refusals); i++)
		if (memmem(err, len, refusals[i], strlen(refusals[i])))
			return 1;
	return 0;
}
