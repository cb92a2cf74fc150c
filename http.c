/*
 * http.c: the HTTP/1.1 request parser. A pure function over the bytes the
 * connection loop has buffered: no allocation, no I/O, no globals, so the
 * fuzzer and the unit tests can drive it alone (picohttpparser's shape).
 *
 * The grammar is the strict subset of RFC 9112 a soc client sends:
 *
 *   request-line = token SP "/"target SP "HTTP/1.1" CRLF
 *   header-line  = token ":" OWS value OWS CRLF
 *   head         = request-line *header-line CRLF
 *
 * Every line ends in CRLF. A bare LF is refused rather than accepted: a
 * proxy in front of soc that splits lines differently from us is how
 * request smuggling starts, and no client of ours sends one. A CR anywhere
 * but before the LF, any other control byte, a space before ':', an empty
 * line before the request line and obs-fold (a line starting with SP or
 * HTAB) are refused too. Bytes >= 0x80 are allowed in header values, as
 * opaque octets (obs-text), but not in the target: a URI is ASCII, and a
 * path that only means something once decoded is a path we never serve.
 *
 * When the result is decided. A line is judged when its LF arrives, never
 * before, so the answer for a prefix depends only on its complete lines:
 * feeding a request in pieces gives, at the first piece that completes a
 * bad line, the same status as parsing the whole buffer at once. With that
 * rule last_len is simple: if no LF arrived since the previous call, which
 * returned 0, the answer is still 0 and only the new bytes were looked at.
 * A request sent a byte at a time costs one full parse per line (at most
 * HTTP_HEADERS_MAX + 2 lines), not one per byte.
 *
 * Limits: the head, CRLFCRLF included, must fit in HTTP_HEAD_MAX bytes.
 * Once more bytes than that are buffered without a complete head the
 * answer is 414 if the request line has not ended, else 431.
 */
#include <limits.h>
#include <string.h>

#include "http.h"

/* RFC 9110 tchar: what a method or a header name is made of. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* A byte allowed in a field value: HTAB, SP, VCHAR, obs-text. */
static int value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte allowed in the request target: VCHAR, no space, nothing past ASCII (RFC 3986). */
static int target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static long fail(struct http_request *req, int status, const char *why)
{
	req->error = why;
	return -status;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int http_slice_eq(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && !memcmp(s.p, lit, n);
}

int http_slice_ieq(struct http_slice s, const char *lit)
{
	size_t i, n = strlen(lit);

	if (s.len != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
			return 0;
	return 1;
}

const struct http_slice *http_header(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (http_slice_ieq(req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

int http_prefers(const struct http_request *req, const char *pref)
{
	for (size_t h = 0; h < req->nheaders; h++) {
		struct http_slice s = req->headers[h].value;
		size_t i = 0;

		if (!http_slice_ieq(req->headers[h].name, "prefer"))
			continue;
		/* preference *( "," preference ), each token [ "=" value ] *( ";" parameter ) (RFC 7240) */
		while (i < s.len) {
			struct http_slice tok;

			while (i < s.len && (s.p[i] == ',' || s.p[i] == ' ' || s.p[i] == '\t'))
				i++;
			tok.p = s.p + i;
			while (i < s.len && s.p[i] != ',' && s.p[i] != ';' && s.p[i] != '=' && s.p[i] != ' ' &&
			       s.p[i] != '\t')
				i++;
			tok.len = (size_t)(s.p + i - tok.p);
			if (tok.len && http_slice_ieq(tok, pref))
				return 1;
			while (i < s.len && s.p[i] != ',')
				i++;
		}
	}
	return 0;
}

/* The request line p[0..n), CRLF already cut off. */
static long parse_request_line(const char *p, size_t n, struct http_request *req)
{
	const char *sp1, *sp2, *v, *v2;
	size_t i, vlen;

	sp1 = memchr(p, ' ', n);
	if (!sp1)
		return fail(req, 400, "malformed request line");
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
	if (!sp2)
		return fail(req, 400, "malformed request line");
	v = sp2 + 1;
	vlen = n - (size_t)(v - p);
	/* Set before any check, so the log can name even a refused request. */
	req->method.p = p;
	req->method.len = (size_t)(sp1 - p);
	req->target.p = sp1 + 1;
	req->target.len = (size_t)(sp2 - req->target.p);
	req->path = req->target;
	req->query.p = req->target.p + req->target.len;
	req->query.len = 0;
	v2 = memchr(req->target.p, '?', req->target.len);
	/* A CONNECT's target is an authority, with no query to cut off. */
	if (v2 && !http_slice_eq(req->method, "CONNECT")) {
		req->path.len = (size_t)(v2 - req->target.p);
		req->query.p = v2 + 1;
		req->query.len = req->target.len - req->path.len - 1;
	}

	/* The version first, so "PRI * HTTP/2.0" and HTTP/1.0 get 505, not 400. */
	if (vlen != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9')
		return fail(req, 400, "malformed HTTP version");
	/* rsync asks a proxy for its daemon so, and nothing of HTTP/1.0 outlives the answer. */
	if (v[5] != '1' || (v[7] != '1' && !(v[7] == '0' && http_slice_eq(req->method, "CONNECT"))))
		return fail(req, 505, "only HTTP/1.1 is served");
	req->minor_version = v[7] - '0';
	if (http_slice_eq(req->method, "CONNECT"))
		req->keep_alive = 0;	/* the socket is the tunnel's, or closed with the refusal */

	if (!req->method.len)
		return fail(req, 400, "empty method");
	for (i = 0; i < req->method.len; i++)
		if (!tchar[(unsigned char)p[i]])
			return fail(req, 400, "malformed method");

	/* CONNECT names an authority (host:port); the handler says which one it serves. */
	if (http_slice_eq(req->method, "CONNECT") ? !req->target.len || req->target.p[0] == '/'
						  : !req->target.len || req->target.p[0] != '/')
		return fail(req, 400, http_slice_eq(req->method, "CONNECT") ? "CONNECT needs host:port"
									    : "request target must start with '/'");
	for (i = 0; i < req->target.len; i++)
		if (!target_char((unsigned char)req->target.p[i]))
			return fail(req, 400, "malformed request target");
	return 0;
}

/* One header line p[0..n), CRLF cut off, appended to req->headers. */
static long parse_header_line(const char *p, size_t n, struct http_request *req)
{
	struct http_header *h;
	size_t i, start, end;

	if (p[0] == ' ' || p[0] == '\t')
		return fail(req, 400, "obsolete line folding");
	for (i = 0; i < n && p[i] != ':'; i++)
		if (!tchar[(unsigned char)p[i]])
			return fail(req, 400, "malformed header name");
	if (i == n)
		return fail(req, 400, "header line without ':'");
	if (i == 0)
		return fail(req, 400, "empty header name");
	if (req->nheaders == HTTP_HEADERS_MAX)
		return fail(req, 431, "too many header fields");
	h = &req->headers[req->nheaders++];
	h->name.p = p;
	h->name.len = i;
	for (start = i + 1; start < n && (p[start] == ' ' || p[start] == '\t'); start++)
		;
	for (end = n; end > start && (p[end - 1] == ' ' || p[end - 1] == '\t'); end--)
		;
	for (i = start; i < end; i++)
		if (!value_char((unsigned char)p[i]))
			return fail(req, 400, "control character in header value");
	h->value.p = p + start;
	h->value.len = end - start;
	return 0;
}

/* Content-Length: digits only, no sign, no list, no overflow. */
static int parse_length(struct http_slice s, long long *out)
{
	long long v = 0;
	size_t i;

	if (!s.len)
		return -1;
	for (i = 0; i < s.len; i++) {
		int d = s.p[i] - '0';

		if (d < 0 || d > 9)
			return -1;
		if (v > (LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Walks a comma-separated token list (Connection) for the options we act on. */
static void connection_options(struct http_slice s, struct http_request *req)
{
	size_t i = 0;

	while (i < s.len) {
		struct http_slice tok;

		while (i < s.len && (s.p[i] == ',' || s.p[i] == ' ' || s.p[i] == '\t'))
			i++;
		tok.p = s.p + i;
		while (i < s.len && s.p[i] != ',' && s.p[i] != ' ' && s.p[i] != '\t')
			i++;
		tok.len = (size_t)(s.p + i - tok.p);
		if (http_slice_ieq(tok, "close"))
			req->keep_alive = 0;
		else if (http_slice_ieq(tok, "upgrade"))
			req->upgrade = 1;
	}
}

/* The checks that need the whole head: framing and connection options. */
static long check_head(struct http_request *req)
{
	int te = 0, hosts = 0;
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (http_slice_ieq(h->name, "content-length")) {
			long long v;

			if (parse_length(h->value, &v))
				return fail(req, 400, "invalid Content-Length");
			if (req->content_length >= 0 && req->content_length != v)
				return fail(req, 400, "conflicting Content-Length headers");
			req->content_length = v;
		} else if (http_slice_ieq(h->name, "transfer-encoding")) {
			te = 1;
		} else if (http_slice_ieq(h->name, "connection")) {
			connection_options(h->value, req);
		} else if (http_slice_ieq(h->name, "host")) {
			hosts++;
		}
	}
	/* Both framings at once is the classic smuggling request: refuse it as malformed. */
	if (te && req->content_length >= 0)
		return fail(req, 400, "both Transfer-Encoding and Content-Length");
	if (te)
		return fail(req, 501, "Transfer-Encoding is not supported, send Content-Length");
	if (hosts > 1)
		return fail(req, 400, "more than one Host header");
	return 0;
}

static void reset(struct http_request *req)
{
	req->method.p = req->target.p = req->path.p = req->query.p = NULL;
	req->method.len = req->target.len = req->path.len = req->query.len = 0;
	req->minor_version = -1;
	req->nheaders = 0;
	req->content_length = -1;
	req->keep_alive = 1;
	req->upgrade = 0;
	req->error = NULL;
}

long http_parse_request(const char *buf, size_t len, size_t last_len, struct http_request *req)
{
	size_t window = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	size_t pos = 0, line = 0;

	/* No line ended since the last call, which found nothing wrong: still nothing. */
	if (last_len && last_len <= len && len <= HTTP_HEAD_MAX &&
	    !memchr(buf + last_len, '\n', len - last_len))
		return 0;

	reset(req);
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', window - pos);
		size_t n;
		long r;

		if (!nl) {
			if (len <= HTTP_HEAD_MAX)
				return 0;
			return line == 0 ? fail(req, 414, "request line too long")
					 : fail(req, 431, "request header too large");
		}
		n = (size_t)(nl - (buf + pos));
		if (n == 0 || buf[pos + n - 1] != '\r')
			return fail(req, 400, "line not terminated by CRLF");
		n--;	/* the CR */
		if (memchr(buf + pos, '\r', n))
			return fail(req, 400, "CR inside a line");
		if (n == 0) {
			if (line == 0)
				return fail(req, 400, "empty request line");
			r = check_head(req);
			if (r < 0)
				return r;
			return (long)(pos + 2);
		}
		if (line == 0)
			r = parse_request_line(buf + pos, n, req);
		else
			r = parse_header_line(buf + pos, n, req);
		if (r < 0)
			return r;
		pos += n + 2;
		line++;
	}
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	}
	return "Unknown";
}
