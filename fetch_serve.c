/*
 * fetch_serve.c: POST /api/v1/fetch, the pull's stream of contents: the
 * versions a body of sha256 lines names, in one chunked answer, each
 * whole or as a delta against a version the client holds (PROTOCOL.md
 * section 6b). The versions come from versions/, where content is
 * written once under its sha256, so a push landing meanwhile changes
 * nothing a fetch sends; only a version a revision names is sent, as
 * for GET blob. The client checks every one against its sha256.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta.h"
#include "http.h"
#include "testhook.h"
#include "versions.h"

#define FETCH_IO (256 * 1024)	/* one read of a version sent whole */

struct fetch_item {
	char want[HASH_HEX_LEN + 1];
	char base[HASH_HEX_LEN + 1];	/* "" when the client holds none */
};

/* The body's lines, "WANT\n" or "WANT BASE\n", into items: NULL, or why not. */
static const char *parse(const char *body, size_t len, struct fetch_item *items, size_t *n)
{
	const char *p = body, *end = body + len;

	*n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : 0;
		struct fetch_item *it = &items[*n];

		if (!nl || (l != HASH_HEX_LEN && l != 2 * HASH_HEX_LEN + 1))
			return "each line is a sha256, or a sha256, a space and the sha256 of the base";
		if (*n == FETCH_ITEMS_MAX)
			return "more lines than one fetch may have (" STR(FETCH_ITEMS_MAX) ")";
		memcpy(it->want, p, HASH_HEX_LEN);
		it->want[HASH_HEX_LEN] = '\0';
		it->base[0] = '\0';
		if (l > HASH_HEX_LEN) {
			if (p[HASH_HEX_LEN] != ' ')
				return "each line is a sha256, or a sha256, a space and the sha256 of the base";
			memcpy(it->base, p + HASH_HEX_LEN + 1, HASH_HEX_LEN);
			it->base[HASH_HEX_LEN] = '\0';
		}
		if (!hash_hex_valid(it->want) || (it->base[0] && !hash_hex_valid(it->base)))
			return "a sha256 is 64 lowercase hex digits";
		(*n)++;
		p = nl + 1;
	}
	if (!*n)
		return "a fetch names at least one sha256";
	return NULL;
}

/* The versions a fetch's items name that a revision names, asked at once (NULL: ask each). */
struct named {
	char (*v)[HASH_HEX_LEN + 1];
	long n;
};

static int hex_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/*
 * versions/'s file of a version a revision names: an fd and its size;
 * -1 when not kept, -2 on a database error.
 */
static int open_named(struct server *s, struct sql *db, const struct named *known, const char *hash,
		      long long *size)
{
	int named = known ? known->n > 0 && bsearch(hash, known->v, (size_t)known->n, sizeof(*known->v), hex_cmp)
			  : store_hash_named(db, hash);

	if (named < 0)
		return -2;
	return named ? versions_open(s, hash, size) : -1;
}

static int send_head(struct http_exchange *ex, char kind, uint64_t len)
{
	unsigned char head[FETCH_HEAD_LEN];

	head[0] = (unsigned char)kind;
	put_be(head + 1, len, 8);
	return http_stream_write(ex, head, sizeof(head));
}

/* A version whole, from its file, in FETCH_IO pieces: 0, or -1. */
static int send_whole(struct http_exchange *ex, int fd, long long size, struct buf *io)
{
	long long off = 0;

	if (send_head(ex, FETCH_WHOLE, (uint64_t)size))
		return -1;
	buf_grow(io, FETCH_IO);
	while (off < size) {
		size_t want = size - off < FETCH_IO ? (size_t)(size - off) : FETCH_IO;
		ssize_t k = pread(fd, io->p, want, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || http_stream_write(ex, io->p, (size_t)k))
			return -1;
		off += k;
	}
	return 0;
}

/*
 * One item's record. A delta when the base is kept, both are at most
 * FETCH_DELTA_MAX and the ops are shorter than the version; else whole.
 * 0, or -1 when the stream must be cut (the client then fails its pull,
 * placing nothing, and the next pull asks again).
 */
static int send_item(struct server *s, struct sql *db, const struct named *known, struct http_exchange *ex,
		     const struct fetch_item *it, struct buf bufs[3])
{
	long long size, bsize;
	int fd = open_named(s, db, known, it->want, &size), bfd = -1, rc = -1;

	if (fd == -2)
		return -1;
	if (fd < 0)
		return send_head(ex, FETCH_NONE, 0);
	if (it->base[0] && size <= FETCH_DELTA_MAX) {
		bfd = open_named(s, db, known, it->base, &bsize);
		if (bfd == -2)
			goto out;
		if (bfd >= 0 && bsize > FETCH_DELTA_MAX) {
			close(bfd);
			bfd = -1;
		}
	}
	if (bfd < 0) {
		rc = send_whole(ex, fd, size, &bufs[2]);
		goto out;
	}
	/* A version shorter than its size cuts the stream. */
	if (buf_read_fd(&bufs[0], fd, (size_t)size) || buf_read_fd(&bufs[1], bfd, (size_t)bsize))
		goto out;
	buf_reset(&bufs[2]);
	delta_make((const unsigned char *)bufs[1].p, bufs[1].len, (const unsigned char *)bufs[0].p,
		   bufs[0].len, &bufs[2]);
	if (bufs[2].len < bufs[0].len)
		rc = send_head(ex, FETCH_DELTA, bufs[2].len) || http_stream_write(ex, bufs[2].p, bufs[2].len);
	else
		rc = send_head(ex, FETCH_WHOLE, bufs[0].len) || http_stream_write(ex, bufs[0].p, bufs[0].len);
	rc = rc ? -1 : 0;
out:
	if (bfd >= 0)
		close(bfd);
	close(fd);
	return rc;
}

void api_fetch(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	struct sql *db = store_db(s);
	struct fetch_item *items = xcalloc(FETCH_ITEMS_MAX, sizeof(*items));
	struct buf bufs[3] = { BUF_INIT, BUF_INIT, BUF_INIT };	/* the version, its base, what is sent */
	const char **asked = xcalloc(2 * FETCH_ITEMS_MAX, sizeof(*asked));
	struct named named = { NULL, 0 };
	size_t len, n, i, k = 0, cut;
	const char *body = http_body(ex, &len), *why;

	(void)who;
	why = parse(body, len, items, &n);
	if (why) {
		free(items);
		free(asked);
		return api_error(ex, 400, "bad_request", why);
	}
	/* One read transaction: the versions named as of one moment, one lock of soc.db, not two a file. */
	if (!db || store_read_begin(db)) {
		free(items);
		free(asked);
		return api_error(ex, 500, "internal", "cannot read the database");
	}
	for (i = 0; i < n; i++) {
		asked[k++] = items[i].want;
		if (items[i].base[0])
			asked[k++] = items[i].base;
	}
	named.n = store_hashes_named(db, asked, k, &named.v);
	if (named.n == -1) {
		store_read_end(db);
		free(items);
		free(asked);
		return api_error(ex, 500, "internal", "cannot read the database");
	}
	if (http_stream_begin(ex, 200, "application/octet-stream"))
		goto out;
	/* The test hook: a server that dies after that many records. */
	cut = (size_t)test_hook_long(HOOK_FETCH_CUT, 1, FETCH_ITEMS_MAX, FETCH_ITEMS_MAX + 1);
	for (i = 0; i < n; i++)
		if (i == cut || send_item(s, db, named.n >= 0 ? &named : NULL, ex, &items[i], bufs))
			break;
	if (i == n) {
		http_stream_end(ex);
	} else {
		/* The client sees an answer that is not whole, and fails its pull. */
		warning_errno("fetch cut short at %s", items[i].want);
		http_stream_cut(ex);
	}
out:
	store_read_end(db);
	for (i = 0; i < 3; i++)
		buf_free(&bufs[i]);
	free(items);
	free(asked);
	free(named.v);
}
