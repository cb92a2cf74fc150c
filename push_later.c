/*
 * push_later.c: the sha256 of a big changed file, taken on a thread while
 * rsync sends it, not before the begin (issue 18: a 1 MiB edit in a 256
 * MiB file read the whole file before a byte went, then again at the
 * server). The scan leaves such files unread (scan_workspace_later), the
 * begin names their sha256 null, and the commit gives it (PROTOCOL.md
 * section 5); the server checks the staged file against it as against
 * any other.
 *
 * A file must be what the scan saw, and stay so while read: its stat
 * before and after the read is the scan's, else it changed during the
 * push and we scan again, as after a 422. rsync may have read other
 * bytes meanwhile; then the server's check fails, and that is a 422.
 *
 * A file's pieces kept from its last push (db_pieces.c) let its hash
 * start at its first changed piece (hash_pieces.c). Such a digest is a
 * claim: the server checks it, and a wrong one is a 422, after which the
 * retry hashes whole (trust 0). It is never recorded before the server
 * has taken it (push_later_keep, in the commit's index transaction), and
 * one that says a file holds its base, which nobody would check, is
 * taken again from the file's whole content.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "push.h"
#include "testhook.h"

enum { LATER_OK, LATER_CHANGED, LATER_FAILED };

struct push_later {
	struct workspace *ws;
	struct scan_item **v;		/* the later items, in ch's order */
	size_t n;
	char (*hex)[HASH_HEX_LEN + 1];	/* the thread's results */
	unsigned char *verdict;		/* LATER_* of each */
	int *err;			/* errno of a LATER_FAILED */
	struct pieces *was, *now;	/* each one's pieces, kept from the last push and taken now */
	uint64_t *resumed;		/* bytes its digest took from its pieces, not the file: a claim */
	int all;			/* every change of the push is one of them */
	struct rsync_stop *stop;	/* ended when they all come back unchanged */
	pthread_t thread;
	int threaded;
	int ended;			/* push_later_end has run */
	int rc;				/* and returned this */
};

/* The stat the scan saw, still (its times clamped as the scan's are). */
static int as_scanned(const struct stat *st, const struct entry *e)
{
	return S_ISREG(st->st_mode) && (uint64_t)st->st_size == e->size && (uint64_t)st->st_ino == e->ino &&
	       mtime_ns(&st->st_mtim) == e->mtime_ns && mtime_ns(&st->st_ctim) == e->ctime_ns &&
	       mode_of(st->st_mode) == e->mode;
}

static int is_base(const char *hex, const struct entry *e)
{
	struct digest d;

	digest_from_hex(&d, hex);
	return digest_eq(&d, &e->base);
}

/* Its digest and pieces; a resumed digest that names the base is taken again, whole. */
static int hash_pieces(struct push_later *pl, size_t i, int fd, uint64_t *n)
{
	uint64_t *resumed = &pl->resumed[i];

	if (pieces_hash(fd, &pl->was[i], &pl->now[i], pl->hex[i], n, resumed))
		return -1;
	if (*resumed && is_base(pl->hex[i], &pl->v[i]->e)) {
		pieces_free(&pl->now[i]);
		if (pieces_hash(fd, NULL, &pl->now[i], pl->hex[i], n, resumed))
			return -1;
	}
	test_hook_line(HOOK_PIECES_STATS, "resumed %llu of %llu", (unsigned long long)*resumed,
		       (unsigned long long)*n);
	return 0;
}

static int hash_later(struct push_later *pl, size_t i)
{
	const struct entry *e = &pl->v[i]->e;
	struct stat before, after;
	uint64_t n;
	int fd = workspace_openat(pl->ws, e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	int v = LATER_CHANGED;

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? LATER_CHANGED : (pl->err[i] = errno,
													LATER_FAILED);
	if (!fstat(fd, &before) && as_scanned(&before, e)) {
		if (hash_pieces(pl, i, fd, &n)) {
			pl->err[i] = errno;
			v = LATER_FAILED;
		} else if (!fstat(fd, &after) && as_scanned(&after, e) && n == e->size) {
			v = LATER_OK;
		}
	}
	close(fd);
	return v;
}

/* Read as it was synced: the same content and mode as its base. */
static int as_synced(const struct push_later *pl, size_t i)
{
	const struct entry *e = &pl->v[i]->e;

	return pl->verdict[i] == LATER_OK && is_base(pl->hex[i], e) && e->mode == e->base_mode;
}

static void *hash_all(void *arg)
{
	struct push_later *pl = arg;
	size_t same = 0;

	for (size_t i = 0; i < pl->n; i++) {
		pl->verdict[i] = (unsigned char)hash_later(pl, i);
		same += as_synced(pl, i);
	}
	/* Only touched, all of them: rsync would send nothing the server lacks. */
	if (pl->all && same == pl->n && pl->stop)
		rsync_stop(pl->stop);
	return NULL;
}

static void *hash_thread(void *arg)
{
	thread_nice(HASH_BESIDE_NICE);
	return hash_all(arg);
}

struct push_later *push_later_start(struct workspace *ws, const struct change_list *ch, struct rsync_stop *stop,
				    int trust)
{
	struct push_later *pl;
	size_t n = 0;

	for (size_t i = 0; i < ch->n; i++)
		n += ch->v[i]->later;
	if (!n)
		return NULL;
	pl = xcalloc(1, sizeof(*pl));
	pl->ws = ws;
	pl->v = xcalloc(n, sizeof(*pl->v));
	pl->hex = xcalloc(n, sizeof(*pl->hex));
	pl->verdict = xcalloc(n, 1);
	pl->err = xcalloc(n, sizeof(*pl->err));
	pl->was = xcalloc(n, sizeof(*pl->was));
	pl->now = xcalloc(n, sizeof(*pl->now));
	pl->resumed = xcalloc(n, sizeof(*pl->resumed));
	for (size_t i = 0; i < ch->n; i++)
		if (ch->v[i]->later)
			pl->v[pl->n++] = ch->v[i];
	/* Read here: the thread does not touch the index. */
	for (size_t i = 0; trust && i < pl->n; i++)
		index_pieces_get(ws, pl->v[i]->e.path, &pl->was[i]);
	pl->all = pl->n == ch->n;
	pl->stop = stop;
	/* Without a thread they are hashed at the end, after rsync: slower, the same. */
	pl->threaded = !pthread_create(&pl->thread, NULL, hash_thread, pl);
	return pl;
}

/* The row the scan would have written: this stat, this content, racy by the scan's stamp. */
static int write_row(struct push_later *pl, size_t i)
{
	return index_record(pl->ws, &pl->v[i]->e);
}

int push_later_end(struct push_later *pl, const char **changed)
{
	int rc = 0;

	if (!pl || pl->ended)
		return pl ? pl->rc : 0;
	if (pl->threaded)
		pthread_join(pl->thread, NULL);
	else
		hash_all(pl);
	pl->ended = 1;
	for (size_t i = 0; i < pl->n && !rc; i++) {
		struct scan_item *it = pl->v[i];

		if (pl->verdict[i] == LATER_FAILED) {
			errno = pl->err[i];
			rc = error_errno("cannot read '%s'", show_path(it->e.path));
		} else if (pl->verdict[i] == LATER_CHANGED) {
			if (changed)
				*changed = it->e.path;
			rc = 1;
		} else {
			digest_from_hex(&it->e.hash, pl->hex[i]);
			if (!pl->resumed[i] && write_row(pl, i))
				rc = -1;
		}
	}
	pl->rc = rc;
	return rc;
}

int push_later_keep(struct push_later *pl)
{
	for (size_t i = 0; pl && i < pl->n; i++) {
		if (pl->verdict[i] != LATER_OK)
			continue;
		if ((pl->resumed[i] && write_row(pl, i)) || index_pieces_put(pl->ws, pl->v[i]->e.path, &pl->now[i]))
			return -1;
	}
	return 0;
}

void push_later_free(struct push_later *pl)
{
	if (!pl)
		return;
	push_later_end(pl, NULL);
	for (size_t i = 0; i < pl->n; i++) {
		pieces_free(&pl->was[i]);
		pieces_free(&pl->now[i]);
	}
	free(pl->was);
	free(pl->now);
	free(pl->resumed);
	free(pl->v);
	free(pl->hex);
	free(pl->verdict);
	free(pl->err);
	free(pl);
}

int push_later_none_changed(const struct change_list *ch)
{
	for (size_t i = 0; i < ch->n; i++) {
		const struct entry *e = &ch->v[i]->e;

		if (!ch->v[i]->later || !digest_eq(&e->hash, &e->base) || e->mode != e->base_mode)
			return 0;
	}
	return ch->n > 0;
}

void push_later_body(const struct change_list *ch, struct buf *out)
{
	char hex[HASH_HEX_LEN + 1];
	int first = 1;

	buf_reset(out);
	for (size_t i = 0; i < ch->n; i++) {
		const struct scan_item *it = ch->v[i];

		if (!it->later)
			continue;
		buf_addstr(out, first ? "{\"sha256\":{" : ",");
		/* The begin sent the same path: it is UTF-8. */
		if (json_str_add(out, it->e.path))
			die("cannot encode the path '%s'", it->e.path);
		digest_hex(&it->e.hash, hex);
		buf_addf(out, ":\"%s\"", hex);
		first = 0;
	}
	if (!first)
		buf_addstr(out, "}}");
}
