/*
 * upload.c: the files a push adds, sent in soc's own stream instead of
 * rsync (README, "Pushing", step 2). rsync earns its keep on a changed
 * file, where its delta against the server's old version sends only what
 * changed; a new file has no old version, and rsync's cost is then all
 * overhead: its sender reads the --files-from list a byte a read(2), which
 * kept a large first push well above its target against `rsync -a` of the
 * tree (bench/README).
 *
 * The stream, after POST /api/v1/push/<txn>/upload is upgraded: for each
 * file a record (UPLOAD_HEAD_LEN bytes: path length and size, big-endian;
 * the path; the bytes), then two zero bytes; the server answers one JSON
 * line, {"stored":N} or an error, and closes. The server checks every
 * staged file's size and sha256 at the commit, as it does rsync's, so a file
 * that changes while it is read is caught there (422) and the push rescans
 * and tries once more.
 *
 * A long list goes as several streams side by side, as rsync's uploads do
 * (rsync.c), each with a run of the list cut where the directory changes:
 * one writer on the server makes files one at a time, so two streams make
 * a large first push faster than one (bench/README). Every stream adds
 * to the push's one progress line (progress.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "sync.h"
#include "testhook.h"

#define UPLOAD_BUF (256 * 1024)		/* records gathered before one send */
#define UPLOAD_ANSWER_MAX 4096		/* the server's last line */
#define UPLOAD_ERROR_WAIT_MS 2000	/* for the reason of a server that stopped reading */
#define UPLOAD_SLEEP_MAX_MS 60000	/* HOOK_UPLOAD_SLEEP_MS at most */
#define UPLOAD_STREAM_FILES_MIN 1000	/* files a stream has at least, when there are several */

struct sender {
	struct upgraded *u;
	long sleep_ms;		/* a test hook: HOOK_UPLOAD_SLEEP_MS, a pause between a file's look and its read */
	unsigned char *buf;
	size_t len;
	struct progress *pg;	/* the push's progress line, or NULL */
	char early[UPLOAD_ANSWER_MAX];	/* what the server said before the stream's end: a refusal */
	size_t early_len;
};

/*
 * The server answers before the stream's end only to refuse it, and
 * then reads no more: its answer is looked for before each send, so
 * that the rest is not sent for nothing, and the answer is read before
 * the connection breaks (through a proxy, a server's close with bytes
 * unread may reach us as a reset that takes the answer with it).
 */
static int server_spoke(struct sender *s)
{
	long n = upgrade_recv(s->u, s->early + s->early_len, sizeof(s->early) - s->early_len, 0);

	if (n == UPGRADE_AGAIN || n == UPGRADE_TIMEOUT)
		return 0;
	if (n > 0)
		s->early_len += (size_t)n;
	return 1;
}

static int flush(struct sender *s)
{
	int rc = 0;

	if (s->len)
		rc = server_spoke(s) ? -1 : upgrade_send(s->u, s->buf, s->len, NET_STALL_SECONDS * 1000);
	s->len = 0;
	return rc;
}

enum { SENT, SKIPPED, CUT };

/*
 * One file's record. SKIPPED (nothing sent) when the file is gone or not
 * the size the scan saw: the commit names it, and the push tries again.
 * CUT when it shrank after its record began: the stream cannot go on.
 */
static int send_file(struct sender *s, const struct workspace *ws, const struct entry *e)
{
	size_t plen = strlen(e->path);
	uint64_t left = e->size;
	struct stat st;
	int fd, rc = SENT;

	fd = workspace_openat(ws, e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
		return SKIPPED;
	if (fd < 0)
		return error_errno("cannot read '%s'", show_path(e->path));
	if (fstat(fd, &st)) {
		close(fd);
		return error_errno("cannot read '%s'", show_path(e->path));
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size) {
		close(fd);
		return SKIPPED;
	}
	if (s->sleep_ms)
		nanosleep(&(struct timespec){ s->sleep_ms / 1000, s->sleep_ms % 1000 * 1000000 }, NULL);
	if (s->len + UPLOAD_HEAD_LEN + plen > UPLOAD_BUF && flush(s))
		goto broke;
	put_be(s->buf + s->len, plen, 2);
	put_be(s->buf + s->len + 2, e->size, 8);
	memcpy(s->buf + s->len + UPLOAD_HEAD_LEN, e->path, plen);
	s->len += UPLOAD_HEAD_LEN + plen;
	while (left) {
		size_t room = UPLOAD_BUF - s->len;
		ssize_t n;

		if (!room) {
			if (flush(s))
				goto broke;
			room = UPLOAD_BUF;
		}
		n = read(fd, s->buf + s->len, left < room ? (size_t)left : room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = error_errno("cannot read '%s'", show_path(e->path));
			break;
		}
		if (n == 0) {
			rc = CUT;
			break;
		}
		s->len += (size_t)n;
		left -= (uint64_t)n;
		progress_add(s->pg, 0, (uint64_t)n);
	}
	close(fd);
	return rc;
broke:
	close(fd);
	return -2;
}

/*
 * The server's last line, after the early bytes of it already read: its
 * count; -1 after saying the server's reason; -2 when it gave none.
 */
static long long read_answer(struct upgraded *u, int wait_ms, const char *early, size_t early_len)
{
	char line[UPLOAD_ANSWER_MAX + 1];
	size_t len = early_len < UPLOAD_ANSWER_MAX ? early_len : UPLOAD_ANSWER_MAX;
	long long stored = -2;
	json_t *j;
	long n;

	memcpy(line, early, len);
	while (len < UPLOAD_ANSWER_MAX && !memchr(line, '\n', len)) {
		n = upgrade_recv(u, line + len, UPLOAD_ANSWER_MAX - len, wait_ms);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	line[len] = '\0';
	j = json_loads(line, 0, NULL);
	if (json_is_integer(json_object_get(j, "stored")) && json_integer_value(json_object_get(j, "stored")) >= 0)
		stored = (long long)json_integer_value(json_object_get(j, "stored"));
	else if (json_is_string(json_object_get(j, "message")))
		stored = error("the server refused the upload: %s", json_string_value(json_object_get(j, "message")));
	json_decref(j);
	return stored;
}

/* One stream of files[0..n), on a connection of its own. */
static int upload_one(const struct remote *r, const struct workspace *ws, const char *txn,
		      const struct entry *const *files, size_t n, struct progress *pg, const char **changed)
{
	struct sender s = { 0 };
	char msg[256], *path;
	size_t i, sent = 0;
	long long stored;
	int status, rc = UPLOAD_FAILED;

	*changed = NULL;
	path = xasprintf("/api/v1/push/%s/upload", txn);
	s.u = upgrade_open(r, path, UPLOAD_PROTO, &status, msg, sizeof(msg));
	free(path);
	if (!s.u) {
		/* An older server, or a busy one: rsync carries the files instead. */
		if (status == 503 || (status == 404 && !strcmp(msg, "no such endpoint")))
			return UPLOAD_UNKNOWN;
		/* Not reached, or an answer that is not soc's: said already. */
		if (!status)
			return UPLOAD_REMOTE;
		upgrade_say_refusal(r, "the upload", status, msg);
		return upgrade_refusal_is_remote(status) ? UPLOAD_REMOTE : UPLOAD_FAILED;
	}
	s.buf = xmalloc(UPLOAD_BUF);
	s.pg = pg;
	s.sleep_ms = test_hook_long(HOOK_UPLOAD_SLEEP_MS, 0, UPLOAD_SLEEP_MAX_MS, 0);
	for (i = 0; i < n; i++) {
		int one = send_file(&s, ws, files[i]);

		if (one == -2)
			goto broke;
		if (one < 0)
			goto out;
		if (one == CUT) {
			*changed = files[i]->path;
			rc = UPLOAD_CHANGED;
			goto out;
		}
		sent += one == SENT;
		progress_add(pg, 1, 0);
	}
	if (s.len + 2 > UPLOAD_BUF && flush(&s))
		goto broke;
	put_be(s.buf + s.len, 0, 2);
	s.len += 2;
	if (flush(&s))
		goto broke;
	stored = read_answer(s.u, NET_STALL_SECONDS * 1000, s.early, s.early_len);
	if (stored == -2)
		error("the server broke off the upload without a reason; its log may say");
	if (stored < 0)
		goto out;
	if ((size_t)stored != sent) {
		error("the server stored %lld of the %zu files sent", stored, sent);
		goto out;
	}
	rc = UPLOAD_OK;
	goto out;
broke:
	/* A server that stopped reading may have said why. */
	if (read_answer(s.u, UPLOAD_ERROR_WAIT_MS, s.early, s.early_len) != -1)
		error("the connection to the server broke during the upload");
out:
	free(s.buf);
	upgrade_close(s.u);
	return rc;
}

/* One stream's share of the files, and how it went. */
struct part {
	const struct remote *r;
	const struct workspace *ws;
	const char *txn;
	const struct entry *const *files;
	size_t n;
	struct progress *pg;
	int rc;
	const char *changed;
};

static void *run_part(void *arg)
{
	struct part *p = arg;

	p->rc = upload_one(p->r, p->ws, p->txn, p->files, p->n, p->pg, &p->changed);
	return NULL;
}

static uint64_t one(size_t i, const void *arg)
{
	(void)i;
	(void)arg;
	return 1;
}

/* How much an outcome weighs when the streams' are summed up: a failure, then a change, then a refusal. */
static int weight(int rc)
{
	switch (rc) {
	case UPLOAD_OK: return 0;
	case UPLOAD_UNKNOWN: return 1;
	case UPLOAD_CHANGED: return 2;
	case UPLOAD_FAILED: return 3;
	}
	return 4;	/* UPLOAD_REMOTE */
}

int upload_run(const struct remote *r, const struct workspace *ws, const char *txn,
	       const struct entry *const *files, size_t n, struct progress *pg, const char **changed)
{
	struct part part[PARTS_MAX];
	struct part_range pr[PARTS_MAX];
	int rc = UPLOAD_OK;
	size_t nparts = parts_plan(n, one, NULL, UPLOAD_STREAM_FILES_MIN, pr), used = 0;

	/* Cut where the directory changes, so that two streams seldom make one directory. */
	for (size_t k = 1; k < nparts; k++) {
		size_t at = pr[k].lo;

		while (at < pr[k].hi && at > 0 && path_same_dir(files[at - 1]->path, files[at]->path))
			at++;
		pr[k - 1].hi = pr[k].lo = at;
	}
	memset(part, 0, sizeof(part));
	for (size_t k = 0; k < nparts; k++) {
		/* A run the cut emptied (one directory across it) needs no connection of its own. */
		if (pr[k].hi == pr[k].lo && n)
			continue;
		part[used].r = r;
		part[used].ws = ws;
		part[used].txn = txn;
		part[used].files = files + pr[k].lo;
		part[used].n = pr[k].hi - pr[k].lo;
		part[used].pg = pg;
		used++;
	}
	nparts = used;
	parts_run(nparts, run_part, part, sizeof(part[0]));
	*changed = NULL;
	for (size_t k = 0; k < nparts; k++) {
		if (weight(part[k].rc) > weight(rc))
			rc = part[k].rc;
		if (part[k].changed && !*changed)
			*changed = part[k].changed;
	}
	return rc;
}
