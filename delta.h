/*
 * delta.h: the fetch stream (POST /api/v1/fetch, PROTOCOL.md section 6b),
 * shared by the server that writes it (fetch_serve.c) and the pull that
 * reads it (pull_stream.c), and the delta of one version against another
 * (delta.c).
 */
#ifndef DELTA_H
#define DELTA_H

#include <stddef.h>

#include "soc.h"

#define FETCH_ENDPOINT "/api/v1/fetch"
#define FETCH_ITEMS_MAX 4096		/* lines of one request; more: 400 */
#define FETCH_LINE_MAX (2 * HASH_HEX_LEN + 2)	/* "WANT BASE\n" */
#define FETCH_DELTA_MAX (4 << 20)	/* a version, and its base, of more bytes is sent whole */
#define FETCH_HEAD_LEN 9		/* a record's kind, then its length: 8 bytes, big-endian */
#define FETCH_WHOLE 'F'			/* the version's bytes */
#define FETCH_DELTA 'D'			/* ops that make it from the base */
#define FETCH_NONE 'N'			/* not kept: the client takes it by rsync (length 0) */

#define DELTA_LITERAL 'L'		/* 4 bytes of length, then the bytes */
#define DELTA_COPY 'C'			/* 8 bytes of offset into the base, 4 of length */
#define DELTA_LITERAL_HEAD 5
#define DELTA_COPY_LEN 13

/*
 * The ops that make data[0..dlen) from base[0..blen) (both at most
 * FETCH_DELTA_MAX), appended to out: copies of the base's runs that data
 * repeats, found by a rolling sum and confirmed byte for byte (the server
 * holds both), and literals for the rest.
 */
void delta_make(const unsigned char *base, size_t blen, const unsigned char *data, size_t dlen,
		struct buf *out);

/*
 * Ops read back, in pieces as they arrive: each run of bytes they make is
 * handed to out (0 to go on). base is what copies come from.
 */
struct delta_reader {
	const unsigned char *base;
	size_t blen;
	unsigned char op[DELTA_COPY_LEN];
	size_t op_len;		/* of op, read so far */
	uint64_t lit_left;	/* bytes of the literal being read */
};
/* 0; 1 when an op is not one (unknown, or a copy past the base's end); -1 when out failed. */
int delta_read(struct delta_reader *d, const unsigned char *p, size_t n,
	       int (*out)(const void *p, size_t n, void *arg), void *arg);
/* 1 when the ops read so far end at an op's edge. */
static inline int delta_whole(const struct delta_reader *d)
{
	return !d->op_len && !d->lit_left;
}

#endif
