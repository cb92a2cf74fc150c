/*
 * delta.c: a version as ops against an older one, made where both are at
 * hand. rsync's sender matches the receiver's block checksums because it
 * cannot see the basis; the server keeps every version a client has
 * pulled (versions/), so it compares the two itself: a weak rolling sum
 * finds a candidate block, memcmp confirms it (no strong checksum, no
 * false match), and a match grows past block edges both ways, so an
 * edit costs its own bytes and a few of ops, not a block's worth.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"

#define DELTA_BLOCK_MIN 32	/* bytes a block has at least */
#define DELTA_BLOCK_MAX 2048	/* and at most: about the square root of the base, as rsync */

static size_t block_size(size_t blen)
{
	size_t b = DELTA_BLOCK_MIN;

	while (b * b < blen && b < DELTA_BLOCK_MAX)
		b <<= 1;
	return b;
}

/* rsync's weak sum: a the bytes' sum, b each byte times its distance from the end. */
struct roll {
	uint32_t a, b;
};

static struct roll roll_start(const unsigned char *p, size_t n)
{
	struct roll r = { 0, 0 };

	for (size_t i = 0; i < n; i++) {
		r.a += p[i];
		r.b += (uint32_t)(n - i) * p[i];
	}
	return r;
}

static uint32_t roll_key(struct roll r)
{
	return (r.a & 0xffff) | r.b << 16;
}

/* Open addressing: a key and its block (plus one; 0 is an empty slot). */
struct table {
	uint32_t *key, *block, mask;
};

static void table_make(struct table *t, const unsigned char *base, size_t blocks, size_t bs)
{
	size_t size = 1;

	while (size < 2 * blocks)
		size <<= 1;
	t->mask = (uint32_t)(size - 1);
	t->key = xcalloc(size, sizeof(*t->key));
	t->block = xcalloc(size, sizeof(*t->block));
	for (size_t k = 0; k < blocks; k++) {
		uint32_t key = roll_key(roll_start(base + k * bs, bs)), i = key & t->mask;

		/* The first block of a key is kept: a run of zeros is one entry, not a chain. */
		while (t->block[i] && t->key[i] != key)
			i = (i + 1) & t->mask;
		if (!t->block[i]) {
			t->key[i] = key;
			t->block[i] = (uint32_t)k + 1;
		}
	}
}

/* The block whose key this is, plus one, or 0. */
static uint32_t table_find(const struct table *t, uint32_t key)
{
	uint32_t i = key & t->mask;

	while (t->block[i] && t->key[i] != key)
		i = (i + 1) & t->mask;
	return t->block[i];
}

/* How many bytes a and b share from their start, up to max: memcmp a cache line at a time, then bytes. */
static size_t same_run(const unsigned char *a, const unsigned char *b, size_t max)
{
	size_t n = 0;

	while (n + 64 <= max && !memcmp(a + n, b + n, 64))
		n += 64;
	while (n < max && a[n] == b[n])
		n++;
	return n;
}

static void put_literal(struct buf *out, const unsigned char *p, size_t n)
{
	unsigned char head[DELTA_LITERAL_HEAD];

	if (!n)
		return;
	head[0] = DELTA_LITERAL;
	put_be(head + 1, n, 4);
	buf_add(out, head, sizeof(head));
	buf_add(out, p, n);
}

static void put_copy(struct buf *out, size_t off, size_t n)
{
	unsigned char op[DELTA_COPY_LEN];

	op[0] = DELTA_COPY;
	put_be(op + 1, off, 8);
	put_be(op + 9, n, 4);
	buf_add(out, op, sizeof(op));
}

void delta_make(const unsigned char *base, size_t blen, const unsigned char *data, size_t dlen,
		struct buf *out)
{
	size_t bs = block_size(blen), blocks = blen / bs, pos = 0, lit = 0;
	struct table t = { NULL, NULL, 0 };
	struct roll r;

	/* A run both start with, shorter than a block, is found by no block: taken first. */
	pos = same_run(base, data, blen < dlen ? blen : dlen);
	if (pos < DELTA_COPY_LEN)
		pos = 0;
	if (pos)
		put_copy(out, 0, pos);
	lit = pos;
	if (!blocks || dlen - pos < bs) {
		put_literal(out, data + pos, dlen - pos);
		return;
	}
	table_make(&t, base, blocks, bs);
	r = roll_start(data + pos, bs);
	while (pos + bs <= dlen) {
		uint32_t k = table_find(&t, roll_key(r));

		if (k && !memcmp(base + (size_t)(k - 1) * bs, data + pos, bs)) {
			size_t off = (size_t)(k - 1) * bs, len = bs;

			/* Grown back into the literal pending, then forward past the block. */
			while (pos > lit && off > 0 && base[off - 1] == data[pos - 1]) {
				pos--;
				off--;
				len++;
			}
			len += same_run(base + off + len, data + pos + len,
					blen - off - len < dlen - pos - len ? blen - off - len : dlen - pos - len);
			put_literal(out, data + lit, pos - lit);
			put_copy(out, off, len);
			pos += len;
			lit = pos;
			if (pos + bs <= dlen)
				r = roll_start(data + pos, bs);
			continue;
		}
		if (pos + bs < dlen) {
			uint32_t gone = data[pos], in = data[pos + bs];

			r.a += in - gone;
			r.b += r.a - (uint32_t)bs * gone;
		}
		pos++;
	}
	put_literal(out, data + lit, dlen - lit);
	free(t.key);
	free(t.block);
}

int delta_read(struct delta_reader *d, const unsigned char *p, size_t n,
	       int (*out)(const void *p, size_t n, void *arg), void *arg)
{
	size_t used = 0;

	while (used < n) {
		if (d->lit_left) {
			size_t k = n - used < d->lit_left ? n - used : (size_t)d->lit_left;

			if (out(p + used, k, arg))
				return -1;
			d->lit_left -= k;
			used += k;
			continue;
		}
		d->op[d->op_len++] = p[used++];
		if (d->op[0] != DELTA_LITERAL && d->op[0] != DELTA_COPY)
			return 1;
		if (d->op[0] == DELTA_LITERAL && d->op_len == DELTA_LITERAL_HEAD) {
			d->lit_left = get_be(d->op + 1, 4);
			d->op_len = 0;
		} else if (d->op[0] == DELTA_COPY && d->op_len == DELTA_COPY_LEN) {
			uint64_t off = get_be(d->op + 1, 8), len = get_be(d->op + 9, 4);

			d->op_len = 0;
			if (off > d->blen || len > d->blen - off)
				return 1;
			if (len && out(d->base + off, (size_t)len, arg))
				return -1;
		}
	}
	return 0;
}
