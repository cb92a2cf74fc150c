/*
 * t/fuzz/delta.c: libFuzzer driver for delta.c. The input's first byte
 * splits the rest into a base and a version: the ops delta_make() makes
 * must read back (delta_read, in pieces of a size the input picks) to
 * exactly the version. Then the whole input is read as ops a hostile
 * server could send, against the base: never a read past it, never
 * more out than was in the ops and the base allow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int to_buf(const void *p, size_t n, void *arg)
{
	buf_add(arg, p, n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf ops = BUF_INIT, out = BUF_INIT;
	struct delta_reader d;
	size_t split, step;
	const uint8_t *base, *ver;
	size_t blen, vlen;

	if (size < 2)
		return 0;
	split = (size_t)data[0] * (size - 1) / 255;
	step = 1 + data[1] % 64;
	base = data + 1;
	blen = split;
	ver = data + 1 + split;
	vlen = size - 1 - split;

	delta_make(base, blen, ver, vlen, &ops);
	d = (struct delta_reader){ .base = base, .blen = blen };
	for (size_t at = 0; at < ops.len; at += step)
		check(!delta_read(&d, (const unsigned char *)ops.p + at, ops.len - at < step ? ops.len - at : step,
				  to_buf, &out));
	check(delta_whole(&d));
	check(out.len == vlen && (!vlen || !memcmp(out.p, ver, vlen)));

	/* Any bytes as ops: copies stay inside the base, whatever they say. */
	buf_reset(&out);
	d = (struct delta_reader){ .base = base, .blen = blen };
	if (delta_read(&d, data + 1, size - 1, to_buf, &out) == 0)
		check(out.len <= (size - 1) / DELTA_COPY_LEN * blen + size);
	buf_free(&ops);
	buf_free(&out);
	return 0;
}
