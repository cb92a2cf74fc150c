/*
 * t/unit/http.c: the request parser against a table of {input, answer,
 * comment}, in the manner of picohttpparser's test.c. Each input is copied
 * to the very end of a page followed by a PROT_NONE page, so reading one
 * byte too far crashes; each is also fed a byte at a time with last_len,
 * and the first answer that is not "more" must be the answer for the whole.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http.h"
#include "tap.h"

#define HEAD (-1000)	/* the answer is the offset just past the first CRLFCRLF */

struct parse_case {
	const char *in;
	long want;	/* head length, 0 for more, -status, or HEAD */
	const char *comment;
};

static const struct parse_case cases[] = {
	{ "GET / HTTP/1.1\r\n\r\n", HEAD, "simplest request" },
	{ "GET /api/v1/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n", HEAD, "headers" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n", HEAD, "pipelined bytes stay after the head" },
	{ "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", HEAD, "body not part of the head" },
	{ "GET / HTTP/1.1\r\nh: c\xa2y\r\n\r\n", HEAD, "bytes >= 0x80 in a value" },
	{ "GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", HEAD, "empty value" },
	{ "GET / HTTP/1.1\r\nX:  \t v \t \r\n\r\n", HEAD, "OWS around value" },
	{ "M-SEARCH / HTTP/1.1\r\n\r\n", HEAD, "any token method (the handlers answer 405)" },

	{ "", 0, "nothing yet" },
	{ "G", 0, "incomplete method" },
	{ "GET / HTTP/1.1", 0, "no CRLF yet" },
	{ "GET / HTTP/1.1\r", 0, "CR without LF yet" },
	{ "GET / HTTP/1.1\r\n", 0, "request line only" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n", 0, "no blank line yet" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\r", 0, "last LF missing" },
	{ "G\x01T", 0, "a bad line is judged only when it ends" },

	{ "GET / HTTP/1.1\n\n", -400, "bare LF" },
	{ "GET /\xa0 HTTP/1.1\r\n\r\n", -400, "a byte >= 0x80 in the target" },
	{ "GET /\xff\xfe HTTP/1.1\r\n\r\n", -400, "invalid UTF-8 in the target" },
	{ "GET / HTTP/1.1\r\nHost: x\n\r\n", -400, "bare LF in a header line" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\n", -400, "bare LF as the blank line" },
	{ "\r\nGET / HTTP/1.1\r\n\r\n", -400, "empty line before the request line" },
	{ "GET  / HTTP/1.1\r\n\r\n", -400, "two spaces after method" },
	{ "GET / HTTP/1.1 \r\n\r\n", -400, "space after version" },
	{ "GET /a b HTTP/1.1\r\n\r\n", -400, "space in target" },
	{ "GET\t/ HTTP/1.1\r\n\r\n", -400, "tab as separator" },
	{ "G@T / HTTP/1.1\r\n\r\n", -400, "non-token method" },
	{ " GET / HTTP/1.1\r\n\r\n", -400, "empty method" },
	{ "GET x HTTP/1.1\r\n\r\n", -400, "target not starting with /" },
	{ "GET http://h/ HTTP/1.1\r\n\r\n", -400, "absolute form refused" },
	{ "GET /\x7fx HTTP/1.1\r\n\r\n", -400, "DEL in target" },
	{ "GET /\x01 HTTP/1.1\r\n\r\n", -400, "control byte in target" },
	{ "GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n", -400, "control byte in value" },
	{ "GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", -400, "CR inside a value" },
	{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400, "space before colon" },
	{ "GET / HTTP/1.1\r\n: x\r\n\r\n", -400, "empty header name" },
	{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", -400, "header without colon" },
	{ "GET / HTTP/1.1\r\nA(b): x\r\n\r\n", -400, "non-token header name" },
	{ "GET / HTTP/1.1\r\nA: x\r\n  folded\r\n\r\n", -400, "obs-fold" },
	{ "GET / HTTP/1.1\r\n\tfolded\r\n\r\n", -400, "obs-fold as first header" },
	{ "GET / http/1.1\r\n\r\n", -400, "lowercase version" },
	{ "GET / HTTP/1.10\r\n\r\n", -400, "three-digit version" },
	{ "GET / HTTP/1\r\n\r\n", -400, "short version" },
	{ "GET / FTP/1.1\r\n\r\n", -400, "not HTTP" },
	{ "GET /\r\n\r\n", -400, "HTTP/0.9 style" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400, "two Host headers" },

	{ "GET / HTTP/1.0\r\n\r\n", -505, "HTTP/1.0" },
	{ "GET / HTTP/2.0\r\n\r\n", -505, "HTTP/2.0" },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", -505, "HTTP/2 preface" },
	{ "PRI * HTTP/2.0\r\n", -505, "HTTP/2 preface, first line only" },
	{ "GET / HTTP/1.0\r\nHost: \x01\r\n\r\n", -505, "the request line is judged first" },
	{ "CONNECT soc:873 HTTP/1.0\r\n\r\n", HEAD, "CONNECT in HTTP/1.0, as rsync asks a proxy" },
	{ "CONNECT soc:873 HTTP/1.1\r\nHost: soc:873\r\n\r\n", HEAD, "CONNECT in HTTP/1.1" },
	{ "CONNECT / HTTP/1.1\r\n\r\n", -400, "CONNECT to a path" },
	{ "CONNECT ?oc:873 HTTP/1.0\r\n\r\n", HEAD, "CONNECT's target has no query (the handler refuses it)" },
	{ "CONNECT soc:873 HTTP/2.0\r\n\r\n", -505, "CONNECT in HTTP/2.0" },
	{ "connect soc:873 HTTP/1.0\r\n\r\n", -505, "HTTP/1.0 for the CONNECT method only, as cased" },
	{ "GET soc:873 HTTP/1.1\r\n\r\n", -400, "an authority for GET" },

	{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -501, "Transfer-Encoding" },
	{ "POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", -501, "any Transfer-Encoding" },
	{ "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", -400, "TE and CL" },
	{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", -400, "CL and TE" },
	{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400, "negative Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", -400, "signed Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -400, "non-digit Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -400, "empty Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", -400, "two numbers" },
	{ "POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", -400, "list in Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", -400, "Content-Length overflows" },
	{ "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", -400, "Content-Length far over" },
	{ "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", HEAD, "largest Content-Length parses (413 is the loop's)" },
	{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", -400, "conflicting Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", HEAD, "repeated equal Content-Length" },
	{ "POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", HEAD, "leading zeros" },
};

static char *guard_end;	/* the first byte of the PROT_NONE page */
static size_t guard_room;

static void guard_setup(size_t room)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t n = (room + (size_t)page - 1) / (size_t)page * (size_t)page;
	char *p = mmap(NULL, n + (size_t)page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + n, (size_t)page, PROT_NONE)) {
		perror("mmap");
		exit(1);
	}
	guard_end = p + n;
	guard_room = n;
}

/* in[0..len) placed so its last byte is the last readable one. */
static const char *at_guard(const char *in, size_t len)
{
	if (len > guard_room)
		abort();
	memcpy(guard_end - len, in, len);
	return guard_end - len;
}

static long parse(const char *in, size_t len, size_t last_len, struct http_request *req)
{
	return http_parse_request(at_guard(in, len), len, last_len, req);
}

static long expected(const char *in, size_t len, long want)
{
	const char *end;

	if (want != HEAD)
		return want;
	end = memmem(in, len, "\r\n\r\n", 4);
	return end ? (long)(end - in) + 4 : -9999;
}

/*
 * Feeds in a byte at a time, passing last_len as the loop does. Returns the
 * first answer that is not 0, or 0. When the input is small, every prefix
 * is also parsed from scratch and must agree with the incremental answer.
 */
static long bytewise(const char *in, size_t len, int check_prefixes, int *disagree)
{
	static struct http_request req, fresh;
	size_t k, last = 0;

	for (k = 1; k <= len; k++) {
		long r = parse(in, k, last, &req);

		if (check_prefixes && r != parse(in, k, 0, &fresh))
			(*disagree)++;
		if (r != 0)
			return r;
		last = k;
	}
	return 0;
}

static void run_case(const char *in, size_t len, long want, const char *comment)
{
	static struct http_request req;
	long exp = expected(in, len, want);
	long once = parse(in, len, 0, &req);
	int disagree = 0;
	long bw;

	ok(once == exp, "%s: at once %ld, want %ld", comment, once, exp);
	if (once < 0)
		ok(req.error != NULL, "%s: says why", comment);
	bw = bytewise(in, len, len <= 4096, &disagree);
	ok(bw == exp, "%s: byte by byte %ld, want %ld", comment, bw, exp);
	ok(!disagree, "%s: every prefix agrees with a fresh parse", comment);
}

static int slice_is(struct http_slice s, const char *lit)
{
	return http_slice_eq(s, lit);
}

static void test_fields(void)
{
	static struct http_request req;
	const char *in = "POST /api/v1/push/7/commit?since=3&x= HTTP/1.1\r\n"
			 "Host: h\r\n"
			 "content-length: 12\r\n"
			 "Connection: Keep-Alive, Upgrade\r\n"
			 "Upgrade: soc-rsync\r\n"
			 "X-Pad: \t a b \t\r\n"
			 "\r\n";
	const struct http_slice *v;
	long r = parse(in, strlen(in), 0, &req);

	ok(r == (long)strlen(in), "fields: whole head");
	ok(slice_is(req.method, "POST"), "fields: method");
	ok(slice_is(req.target, "/api/v1/push/7/commit?since=3&x="), "fields: target");
	ok(slice_is(req.path, "/api/v1/push/7/commit"), "fields: path");
	ok(slice_is(req.query, "since=3&x="), "fields: query");
	ok(req.minor_version == 1, "fields: version");
	ok(req.nheaders == 5, "fields: five headers");
	ok(req.content_length == 12, "fields: content length");
	ok(req.keep_alive == 1 && req.upgrade == 1, "fields: connection options");
	v = http_header(&req, "UPGRADE");
	ok(v && slice_is(*v, "soc-rsync"), "fields: header lookup ignores case");
	v = http_header(&req, "x-pad");
	ok(v && slice_is(*v, "a b"), "fields: OWS trimmed, inner space kept");
	ok(http_header(&req, "missing") == NULL, "fields: absent header");
	ok(http_slice_ieq(req.method, "post") && !http_slice_eq(req.method, "post"),
	   "fields: eq is exact, ieq is not");

	in = "GET / HTTP/1.1\r\n\r\n";
	parse(in, strlen(in), 0, &req);
	ok(req.content_length == -1 && req.keep_alive && !req.upgrade && req.query.len == 0,
	   "fields: defaults");
	in = "GET /x? HTTP/1.1\r\nConnection: upgrade,close\r\n\r\n";
	parse(in, strlen(in), 0, &req);
	ok(!req.keep_alive && req.upgrade && slice_is(req.path, "/x") && req.query.len == 0,
	   "fields: token list without spaces, empty query");
	in = "CONNECT soc:873 HTTP/1.0\r\nProxy-Authorization: Basic c29jOng=\r\n\r\n";
	parse(in, strlen(in), 0, &req);
	ok(slice_is(req.target, "soc:873") && req.minor_version == 0 && !req.keep_alive,
	   "fields: CONNECT's authority, its version, and no next request");
	in = "GET / HTTP/1.1\r\nConnection: closed, xclose\r\nConnection: CLOSE\r\n\r\n";
	parse(in, strlen(in), 0, &req);
	ok(!req.keep_alive, "fields: second Connection header counts");
	in = "GET / HTTP/1.1\r\nConnection: closed, xclose\r\n\r\n";
	parse(in, strlen(in), 0, &req);
	ok(req.keep_alive, "fields: only the whole token close counts");
	ok(http_reason(431) && !strcmp(http_reason(404), "Not Found"), "reason phrases");
}

/* A request with n headers, padded with an X-Pad header to total bytes when total > 0. */
static char *make_request(int n, size_t total, size_t *len)
{
	char *p = malloc(total + 64 * (size_t)n + 256);
	size_t off;
	int i;

	if (!p)
		abort();
	off = (size_t)sprintf(p, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(p + off, "H%d: v\r\n", i);
	if (total) {
		size_t pad = total - off - strlen("X-Pad: \r\n\r\n");

		off += (size_t)sprintf(p + off, "X-Pad: ");
		memset(p + off, 'a', pad);
		off += pad;
		off += (size_t)sprintf(p + off, "\r\n");
	}
	off += (size_t)sprintf(p + off, "\r\n");
	*len = off;
	return p;
}

static void test_limits(void)
{
	size_t len, i;
	char *p;

	p = make_request(HTTP_HEADERS_MAX, 0, &len);
	run_case(p, len, HEAD, "exactly HTTP_HEADERS_MAX headers");
	free(p);
	p = make_request(HTTP_HEADERS_MAX + 1, 0, &len);
	run_case(p, len, -431, "one header too many");
	free(p);

	p = make_request(1, HTTP_HEAD_MAX, &len);
	ok(len == HTTP_HEAD_MAX, "limits: built a head of exactly HTTP_HEAD_MAX");
	run_case(p, len, HEAD, "head of exactly HTTP_HEAD_MAX bytes");
	free(p);
	p = make_request(1, HTTP_HEAD_MAX + 1, &len);
	run_case(p, len, -431, "head one byte over HTTP_HEAD_MAX");
	free(p);
	p = make_request(1, HTTP_HEAD_MAX + 4000, &len);
	run_case(p, len - 2000, -431, "headers over the limit, not finished");
	free(p);

	len = HTTP_HEAD_MAX + 100;
	p = malloc(len);
	if (!p)
		abort();
	memcpy(p, "GET /", 5);
	for (i = 5; i < len; i++)
		p[i] = 'a';
	run_case(p, len, -414, "request line over the limit");
	run_case(p, HTTP_HEAD_MAX, 0, "request line exactly at the limit: more needed");
	run_case(p, HTTP_HEAD_MAX + 1, -414, "one byte past the limit");
	/* Garbage that is not even a request line: still the line limit. */
	memset(p, 'x', len);
	run_case(p, len, -414, "no line end at all");
	free(p);
}

/* The loop may call with last_len and more bytes that add no line: no rescanning, same answer. */
static void test_last_len(void)
{
	static struct http_request req;
	const char *in = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t len = strlen(in);

	ok(parse(in, 20, 0, &req) == 0, "last_len: prefix needs more");
	ok(parse(in, 22, 20, &req) == 0, "last_len: more without a line end");
	ok(parse(in, len, 22, &req) == (long)len, "last_len: completes");
	ok(slice_is(req.method, "GET") && req.nheaders == 1, "last_len: fields set on completion");
	ok(parse(in, len, len + 5, &req) == (long)len, "last_len: a bogus last_len is ignored");
}

int main(void)
{
	size_t i;

	guard_setup(HTTP_HEAD_MAX + 8192);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(cases[i].in, strlen(cases[i].in), cases[i].want, cases[i].comment);
	/* A NUL cannot sit in the table's C strings; these carry their length. */
	run_case("G\0T / HTTP/1.1\r\n\r\n", 18, -400, "NUL in method");
	run_case("GET /\0 HTTP/1.1\r\n\r\n", 19, -400, "NUL in target");
	run_case("GET / HTTP/1.1\r\na\0b: c\r\n\r\n", 26, -400, "NUL in header name");
	run_case("GET / HTTP/1.1\r\nab: c\0d\r\n\r\n", 26, -400, "NUL in header value");
	test_fields();
	test_limits();
	test_last_len();
	return tap_done();
}
