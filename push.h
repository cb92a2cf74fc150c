/*
 * push.h: what the two files of soc push share: cmd_push.c (which
 * changes go, the upload, the commit) and push_begin.c (the begin
 * request, its body written and its answer read as they travel).
 */
#ifndef PUSH_H
#define PUSH_H

#include <stdint.h>

#include "client.h"
#include "sync.h"

#define TXN_ID_MAX 64		/* hex digits of a push's id, as the server names it */

/* The changes a push sends, sorted by path as the scan is. */
struct change_list {
	struct scan_item **v;
	size_t n;
};

/* The change ch makes to path, or NULL. */
const struct scan_item *change_find(const struct change_list *ch, const char *path);

/* A push the server began: what it asked for, or its refusal. */
struct push_begun {
	char txn[TXN_ID_MAX + 1];	/* "" until the server named it */
	char **asked;			/* every path it asked for, in its order: the scan's strings */
	size_t nasked;
	char **files;			/* those with a base here: rsync sends deltas */
	size_t nfiles;
	const struct entry **added;	/* new files: the upload stream sends them */
	size_t nadded;
	uint64_t total;			/* the bytes of all asked */
	struct buf answer;		/* an answer other than 201, whole, for its words */
};

#define PUSH_BEGIN_RESCAN (-3)	/* a link changed since the scan: scan again */

/*
 * POST /api/v1/push with a line for each change of ch. 201: *b holds the
 * transaction and what to send. Another status: b->answer holds the
 * server's words. -1: said, and the server unreachable, refusing the
 * token or failing (EXIT_REMOTE); -2: said, the answer was not one to
 * act on (a path this push does not send); PUSH_BEGIN_RESCAN. With -2
 * b->txn may name a transaction to drop.
 */
long push_begin(struct workspace *ws, struct net *net, const struct change_list *ch, struct push_begun *b);
void push_begun_free(struct push_begun *b);

#endif
