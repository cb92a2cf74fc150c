/*
 * push_begin.c: soc push's first request, POST /api/v1/push (PROTOCOL.md
 * section 5). Its body is a change line per path, and its answer a path
 * per file the server wants; for a million files each is over 100 MB as
 * one document. So neither is ever whole here: the lines are written as
 * curl sends them (their length counted first, for Content-Length), and
 * the answer, NDJSON from a server that speaks it, is read a line at a
 * time into pointers to the scan's own paths.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "push.h"
#include "testhook.h"
#include "wire.h"

static int cmp_change_path(const void *key, const void *item)
{
	return strcmp(key, (*(struct scan_item *const *)item)->e.path);
}

/* The index of path's change, or SIZE_MAX; the one at hint is looked at first. */
static size_t change_at(const struct change_list *ch, const char *path, size_t hint)
{
	struct scan_item **it;

	if (hint < ch->n && !strcmp(ch->v[hint]->e.path, path))
		return hint;
	it = ch->n ? bsearch(path, ch->v, ch->n, sizeof(*ch->v), cmp_change_path) : NULL;
	return it ? (size_t)(it - ch->v) : SIZE_MAX;
}

const struct scan_item *change_find(const struct change_list *ch, const char *path)
{
	size_t i = change_at(ch, path, SIZE_MAX);

	return i == SIZE_MAX ? NULL : ch->v[i];
}

/*
 * A link's target goes in its line: read again now, and still the one
 * the scan hashed (0), else changed since (1: scan again) or unreadable
 * (-1, said).
 */
static int read_target(struct workspace *ws, const struct entry *e, char target[LINK_TARGET_MAX + 1])
{
	int fd = workspace_openat(ws, e->path, O_PATH | O_NOFOLLOW);
	char hash[HASH_HEX_LEN + 1];
	size_t n;
	int rc = 0;

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 1
			: error_errno("cannot read the symlink '%s'", show_path(e->path));
	if (link_read(fd, "", target, &n))
		rc = errno == EINVAL ? 1 : error("cannot read the symlink '%s': %s", show_path(e->path),
						 link_error(errno));
	else
		sha256_hex(target, n, hash);
	close(fd);
	return rc ? rc : !digest_is(&e->hash, hash);
}

/*
 * Appends the change line of it: 0, 1 when a link changed since the scan,
 * -1 after a message. The same item gives the same bytes each time (a
 * link's target is the one its sha256 names), so the length counted
 * before is the length sent.
 */
static int change_line_of(struct workspace *ws, const struct scan_item *it, struct buf *out, int first)
{
	const struct entry *e = &it->e;
	char target[LINK_TARGET_MAX + 1];
	struct change_line c = { .path = e->path, .size = (long long)e->size,
				 .mtime = mtime_sec(e->mtime_ns), .rev = -1, .mode = e->mode,
				 .base_mode = e->base_mode, .deleted = it->change == CH_DELETED };
	int rc;

	if (!c.deleted && e->mode == MODE_LINK) {
		if ((rc = read_target(ws, e, target)))
			return rc;
		c.target = target;
	}
	digest_hex(&e->base, c.base);
	/* The clamped time goes, never a wrapped one; it is not the file's, so say so. */
	if (first && !c.deleted && mtime_clamped(e->mtime_ns))
		warning("'%s': its mtime is outside " MTIME_RANGE "; the server records the "
			"nearer end", show_path(e->path));
	c.later = it->later;
	if (!c.deleted && !c.later)
		digest_hex(&e->hash, c.hash);
	if (change_format(&c, out))
		die("cannot encode the change of '%s'", e->path);
	return 0;
}

struct body_writer {
	struct workspace *ws;
	const struct change_list *ch;
	size_t next;		/* the item whose line comes after line */
	struct buf line;
	size_t off;		/* bytes of line already sent */
	int rc;			/* change_line_of's, when it stopped the body */
	struct net_body body;
};

static size_t body_fill(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body_writer *w = arg;
	size_t room = size * nmemb, n = 0, k;

	while (n < room) {
		if (w->off == w->line.len) {
			if (w->next == w->ch->n)
				break;
			buf_reset(&w->line);
			w->off = 0;
			if ((w->rc = change_line_of(w->ws, w->ch->v[w->next++], &w->line, 0))) {
				w->body.stopped = 1;
				return CURL_READFUNC_ABORT;
			}
		}
		k = w->line.len - w->off < room - n ? w->line.len - w->off : room - n;
		memcpy(p + n, w->line.p + w->off, k);
		n += k;
		w->off += k;
	}
	return n;
}

static int body_rewind(void *arg)
{
	struct body_writer *w = arg;

	w->next = w->off = 0;
	buf_reset(&w->line);
	return 0;
}

/* The body's length, each link's target checked and each clamped time said once: 0, 1, -1. */
static int body_length(struct body_writer *w)
{
	int rc;

	w->body.len = 0;
	for (size_t i = 0; i < w->ch->n; i++) {
		buf_reset(&w->line);
		if ((rc = change_line_of(w->ws, w->ch->v[i], &w->line, 1)))
			return rc;
		w->body.len += w->line.len;
	}
	buf_reset(&w->line);
	return 0;
}

struct answer_reader {
	const struct change_list *ch;
	struct push_begun *b;
	size_t lines;
	int changed_in_stream;		/* changes_fit_stream() */
	size_t next;			/* the change after the last path asked for */
};

/*
 * Changed files go by rsync for its delta, unless all of them together
 * are this small: then the stream takes them too and no rsync starts. A
 * delta of so few bytes saves less than rsync's start and its protocol's
 * round trips cost (bench/README, 2026-12-04).
 */
#define PUSH_STREAM_CHANGED_MAX (64 * 1024)

static int changes_fit_stream(const struct change_list *ch)
{
	uint64_t sum = 0;

	if (test_hook_flag(HOOK_PUSH_CHANGED_BY_RSYNC))
		return 0;
	for (size_t i = 0; i < ch->n; i++) {
		const struct scan_item *it = ch->v[i];

		if (it->change == CH_DELETED || !it->e.base.set || it->e.mode == MODE_LINK)
			continue;
		/* Its sha256 comes at the commit; the stream wants it first. */
		if (it->later)
			return 0;
		sum += it->e.size;
		if (sum > PUSH_STREAM_CHANGED_MAX)
			return 0;
	}
	return 1;
}

/* One path the server asked for: one of this push's files, else refused. */
static int take_path(struct answer_reader *r, const char *p, size_t len)
{
	struct push_begun *b = r->b;
	const struct scan_item *it;
	size_t i;

	if (path_check(p, len))
		return error("the server asked for a file that is not a valid path");
	/* Only what this push sends: never an untracked or ignored file the server names. */
	i = change_at(r->ch, p, r->next);
	it = i == SIZE_MAX ? NULL : r->ch->v[i];
	if (!it || it->change == CH_DELETED)
		return error("the server asked for '%s', which this push does not send", show_path(p));
	if (b->nasked == r->ch->n)
		return error("the server asked for more files than this push sends");
	/* The server asks in path order, the order of the changes: the next is looked at first. */
	r->next = i + 1;
	b->total += it->e.size;
	b->asked[b->nasked++] = it->e.path;
	/* A new file has no old version to send a delta against: it goes in our own stream. */
	if (!it->e.base.set || r->changed_in_stream)
		b->added[b->nadded++] = &it->e;
	else
		b->files[b->nfiles++] = it->e.path;
	return 0;
}

/* The id goes into a URL and an rsync module path: hex digits only. */
static int take_txn(struct push_begun *b, json_t *id)
{
	const char *s = json_string_value(id);
	size_t len = s ? strlen(s) : 0;

	if (!txn_id_valid(s, len))
		return error("the server answered the push without a valid transaction id");
	memcpy(b->txn, s, len + 1);
	return 0;
}

/* {"txn":ID}, then one JSON string a line: a path to send. */
static int answer_line(const char *line, size_t len, void *arg)
{
	struct answer_reader *r = arg;
	char path[PATH_BYTES_MAX + 1];
	const char *s;
	size_t n;
	json_t *j;
	int rc;

	/* Most paths are plain ASCII: jansson took 0.25 s of a million-file answer (bench/README). */
	if (r->lines && wire_scan_string(line, len, &s, &n) && n <= PATH_BYTES_MAX) {
		r->lines++;
		memcpy(path, s, n);
		path[n] = 0;
		return take_path(r, path, n) ? 1 : 0;
	}
	j = json_loadb(line, len, JSON_DECODE_ANY, NULL);
	if (!r->lines++)
		rc = take_txn(r->b, json_object_get(j, "txn"));
	else if (json_is_string(j))
		rc = take_path(r, json_string_value(j), json_string_length(j));
	else
		rc = error("the server's answer to the push has a line %zu that is not a path", r->lines);
	json_decref(j);
	return rc ? 1 : 0;
}

/* An older server's answer: {"txn":ID,"upload":[paths]}, one document. */
static int answer_whole(struct answer_reader *r, const struct buf *answer)
{
	json_t *j = json_loadb(answer->p ? answer->p : "", answer->len, 0, NULL), *upload, *v;
	size_t i;
	int rc = take_txn(r->b, json_object_get(j, "txn"));

	upload = json_object_get(j, "upload");
	json_array_foreach(upload, i, v) {
		if (rc)
			break;
		rc = json_is_string(v) ? take_path(r, json_string_value(v), json_string_length(v))
				       : error("the server asked for a file that is not a valid path");
	}
	json_decref(j);
	return rc;
}

long push_begin(struct workspace *ws, struct net *net, const struct change_list *ch, struct push_begun *b)
{
	struct body_writer w = { .ws = ws, .ch = ch, .line = BUF_INIT };
	struct answer_reader r = { ch, b, 0, changes_fit_stream(ch), 0 };
	long st;

	memset(b, 0, sizeof(*b));
	w.body = (struct net_body){ 0, body_fill, body_rewind, &w, 0 };
	switch (body_length(&w)) {
	case 0:
		break;
	case 1:
		buf_free(&w.line);
		return PUSH_BEGIN_RESCAN;
	default:
		buf_free(&w.line);
		return -2;
	}
	b->asked = xcalloc(ch->n + 1, sizeof(*b->asked));
	b->files = xcalloc(ch->n + 1, sizeof(*b->files));
	b->added = xcalloc(ch->n + 1, sizeof(*b->added));
	st = net_post_lines(net, "/api/v1/push", "application/x-ndjson", &w.body, answer_line, &r, &b->answer);
	buf_free(&w.line);
	if (w.body.stopped)
		return w.rc == 1 ? PUSH_BEGIN_RESCAN : -2;
	/* No line read: an older server's one document (take_txn refuses one without an id). */
	if (st == 201 && !r.lines) {
		if (answer_whole(&r, &b->answer))
			st = -2;
		buf_free(&b->answer);
	}
	return st;
}

void push_begun_free(struct push_begun *b)
{
	free(b->asked);
	free(b->files);
	free(b->added);
	buf_free(&b->answer);
	memset(b, 0, sizeof(*b));
}
