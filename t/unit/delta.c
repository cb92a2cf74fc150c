/* delta.c: ops made against a base read back to the very bytes, in any pieces; small for small edits; bad ops refused. */
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "tap.h"

static int to_buf(const void *p, size_t n, void *arg)
{
	buf_add(arg, p, n);
	return 0;
}

/* data made from base and read back in pieces of step bytes: the same bytes? The ops' length in *len. */
static int round_trip(const unsigned char *base, size_t blen, const unsigned char *data, size_t dlen,
		      size_t step, size_t *len)
{
	struct buf ops = BUF_INIT, out = BUF_INIT;
	struct delta_reader d = { .base = base, .blen = blen };
	int same = 1;

	delta_make(base, blen, data, dlen, &ops);
	for (size_t at = 0; at < ops.len && same; at += step)
		same = !delta_read(&d, (unsigned char *)ops.p + at, ops.len - at < step ? ops.len - at : step,
				   to_buf, &out);
	same = same && delta_whole(&d) && out.len == dlen && (!dlen || !memcmp(out.p, data, dlen));
	*len = ops.len;
	buf_free(&ops);
	buf_free(&out);
	return same;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

int main(void)
{
	enum { N = 1 << 20 };
	unsigned char *base = malloc(N), *data = malloc(N + 4096);
	size_t len, steps[] = { 1, 7, 4096, N * 2 };
	int all;

	fill(base, N, 1);

	memcpy(data, base, 4700);
	memcpy(data + 4700, "edit 1\n", 7);
	ok(round_trip(base, 4700, data, 4707, 4096, &len) && len < 40,
	   "7 bytes appended to 4,700: read back, ops of %zu bytes", len);
	ok(round_trip(base, 4700, base, 4700, 3, &len) && len == DELTA_COPY_LEN,
	   "the same content is one copy (%zu bytes)", len);

	memcpy(data, base, N);
	fill(data + N / 2, 1000, 9);
	all = 1;
	for (size_t k = 0; k < sizeof(steps) / sizeof(*steps); k++)
		all &= round_trip(base, N, data, N, steps[k], &len);
	ok(all && len < 1000 + 200, "1,000 bytes replaced in 1 MiB: read back in pieces of 1 to all, ops of %zu bytes", len);

	memcpy(data, "prefix", 6);
	memcpy(data + 6, base, N - 6);
	ok(round_trip(base, N, data, N, 4096, &len) && len < 200, "6 bytes put in front, 6 cut at the end: ops of %zu", len);

	memcpy(data, base, 1000);
	memcpy(data + 1000, base + 5000, N - 5000);
	ok(round_trip(base, N, data, N - 4000, 4096, &len) && len < 200, "4,000 bytes cut from the middle: ops of %zu", len);

	fill(data, N, 77);
	ok(round_trip(base, N, data, N, 4096, &len) && len > N, "nothing in common: read back, all literal");
	ok(round_trip(base, 0, data, 5000, 4096, &len), "an empty base");
	ok(round_trip(base, N, data, 0, 4096, &len) && len == 0, "an empty version: no ops");
	ok(round_trip(base, 10, data, 20, 4096, &len), "both shorter than a block");

	memset(data, 0, N);
	ok(round_trip(data, N / 2, data, N, 4096, &len) && len < 100, "zeros twice as long: ops of %zu", len);

	/* Ops a server could send: the reader refuses them, and makes nothing past the base. */
	{
		struct buf out = BUF_INIT;
		unsigned char copy[DELTA_COPY_LEN] = { DELTA_COPY };
		struct delta_reader d = { .base = base, .blen = 100 };

		put_be(copy + 1, 90, 8);
		put_be(copy + 9, 11, 4);
		ok(delta_read(&d, copy, sizeof(copy), to_buf, &out) == 1 && out.len == 0,
		   "a copy past the base's end is refused");
		d = (struct delta_reader){ .base = base, .blen = 100 };
		put_be(copy + 1, UINT64_MAX - 5, 8);
		ok(delta_read(&d, copy, sizeof(copy), to_buf, &out) == 1 && out.len == 0,
		   "an offset that would wrap is refused");
		d = (struct delta_reader){ .base = base, .blen = 100 };
		ok(delta_read(&d, (const unsigned char *)"X", 1, to_buf, &out) == 1, "an unknown op is refused");
		d = (struct delta_reader){ .base = base, .blen = 100 };
		ok(delta_read(&d, (const unsigned char *)"L\0\0", 3, to_buf, &out) == 0 && !delta_whole(&d),
		   "ops cut in the middle of one are not whole");
		buf_free(&out);
	}
	free(base);
	free(data);
	return tap_done();
}
