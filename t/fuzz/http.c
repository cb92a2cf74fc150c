/*
 * t/fuzz/http.c: libFuzzer driver for http_parse_request. Beyond "does not
 * crash" (ASan and UBSan watch every byte), it checks what the loop relies
 * on: the answer is a head length inside the buffer, 0, or one of the
 * statuses the parser documents; slices point inside the buffer; and
 * feeding the same bytes in pieces with last_len gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void check_slice(struct http_slice s, const char *buf, size_t len)
{
	check(s.p >= buf && s.p + s.len <= buf + len);
}

static void check_answer(long r, const struct http_request *req, const char *buf, size_t len)
{
	size_t i;

	if (r < 0) {
		check(r == -400 || r == -414 || r == -431 || r == -501 || r == -505);
		check(req->error != NULL);
		return;
	}
	if (r == 0)
		return;
	check((size_t)r <= len && r <= HTTP_HEAD_MAX);
	check(r >= 4 && !memcmp(buf + r - 4, "\r\n\r\n", 4));
	check(req->method.len > 0);
	/* CONNECT alone names an authority, may say HTTP/1.0, and ends its connection. */
	if (http_slice_eq(req->method, "CONNECT")) {
		check(req->path.len > 0 && req->path.p[0] != '/');
		check(req->minor_version == 0 || req->minor_version == 1);
		check(!req->keep_alive);
	} else {
		check(req->path.len > 0 && req->path.p[0] == '/');
		check(req->minor_version == 1);
	}
	check(req->nheaders <= HTTP_HEADERS_MAX);
	check(req->content_length >= -1);
	check_slice(req->method, buf, (size_t)r);
	check_slice(req->target, buf, (size_t)r);
	check_slice(req->path, buf, (size_t)r);
	check(req->query.p >= buf && req->query.p + req->query.len <= buf + r);
	for (i = 0; i < req->nheaders; i++) {
		check(req->headers[i].name.len > 0);
		check_slice(req->headers[i].name, buf, (size_t)r);
		check(req->headers[i].value.p >= buf && req->headers[i].value.p + req->headers[i].value.len <= buf + r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request whole, piece;
	/* A copy of exactly size bytes, so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	size_t step, k, last = 0;
	long r, p = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = http_parse_request(buf, size, 0, &whole);
	check_answer(r, &whole, buf, size);

	step = size ? (size_t)data[size - 1] % 13 + 1 : 1;
	k = 0;
	do {
		k = k + step < size ? k + step : size;
		p = http_parse_request(buf, k, last, &piece);
		if (p != 0)
			break;
		last = k;
	} while (k < size);
	check(p == r);
	free(buf);
	return 0;
}
