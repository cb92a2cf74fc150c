/*
 * push.h: what the files of soc push share: cmd_push.c (which changes
 * go, the upload, the commit), push_begin.c (the begin request, its body
 * written and its answer read as they travel) and push_later.c.
 */
#ifndef PUSH_H
#define PUSH_H

#include <stdint.h>
#include <string.h>

#include "client.h"
#include "sync.h"

#define TXN_ID_MAX 64		/* hex digits of a push's id, as the server names it */

/* Whether s, len bytes before its NUL, can be a push's id: it goes into URL paths. */
static inline int txn_id_valid(const char *s, size_t len)
{
	return len && len <= TXN_ID_MAX && strspn(s, "0123456789abcdef") == len;
}

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

/* ---- push_later.c: big changed files hashed while rsync sends them ---- */

#define PUSH_LATER_MIN (16 << 20)	/* a changed file this big is hashed during the transfer */

struct push_later;
/*
 * Starts hashing ch's later items (scan_item.later) on a thread; NULL when
 * there are none. When they are all of ch and all come back as synced
 * (only touched), it ends the push's rsync through stop. With trust, a
 * file's hash may start from its pieces kept from its last push.
 */
struct push_later *push_later_start(struct workspace *ws, const struct change_list *ch, struct rsync_stop *stop,
				    int trust);
/*
 * Waits for those hashes: each item gets its e.hash, and its index row
 * that hash with the scan's stat, unless the hash was resumed (that row
 * waits for push_later_keep). 0; 1 when a file changed since the scan
 * (*changed, if not NULL, names it); -1 after a message. Once: a second
 * call returns the first's answer.
 */
int push_later_end(struct push_later *pl, const char **changed);
/* After push_later_end, in the commit's index transaction: the rows it left, and every file's pieces. */
int push_later_keep(struct push_later *pl);
/* Ends pl if it was not, and frees it; NULL is none. */
void push_later_free(struct push_later *pl);
/* 1 when every change of ch is a later item found as synced, after push_later_end: nothing to push. */
int push_later_none_changed(const struct change_list *ch);
/* The commit's body, {"sha256":{PATH:SHA256,...}} for ch's later items; empty when none. */
void push_later_body(const struct change_list *ch, struct buf *out);

#endif
