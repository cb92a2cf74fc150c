/*
 * upload_serve.c: POST /api/v1/push/<txn>/upload with "Upgrade:
 * soc-upload", the server's half of upload.c's stream of new files. Each
 * record's bytes are hashed as they are written, so the one pass over
 * them overlaps the transfer and the commit need not read them again;
 * that is why they go to commit/<txn>/, which rsync cannot reach, and
 * not to staging/<txn>/, which it can.
 *
 * A record may name only a file of the push, at the size the push gave
 * it. It is always written to an inode of its own. A restart drops what
 * was sent (the recovery empties commit/: bytes not yet synced cannot be
 * trusted after a crash); the commit then names those paths as missing,
 * and the client pushes again.
 *
 * A stream runs on a thread of its own, as the rsync tunnel's daemon is a
 * process of its own, so a long upload never holds a worker. While any
 * runs into a txn, the gate (upload_slots.c) keeps a commit, abort or expiry from
 * taking it; the gate is in memory, not a state in soc.db, because it
 * must open again on a full disk, where soc.db cannot be written.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testhook.h"
#include "node.h"
#include "txn.h"

#define UPLOAD_IO (256 * 1024)		/* one read from the socket */
#define STORE_TRIES 16			/* creates of a path other streams of the push race */
#define UPLOAD_LINGER_MS 2000		/* a refused stream's bytes read and dropped after the answer, at most */

/* UPLOAD_IDLE_TIMEOUT_MS, or the test hook HOOK_UPLOAD_IDLE_TIMEOUT_MS; read at the first upload. */
static long idle_ms = UPLOAD_IDLE_TIMEOUT_MS;
static pthread_once_t idle_once = PTHREAD_ONCE_INIT;
static atomic_uint tickets;	/* one for each file a stream begins (store_file) */

static void read_idle(void)
{
	idle_ms = test_hook_long(HOOK_UPLOAD_IDLE_TIMEOUT_MS, 1, UPLOAD_IDLE_TIMEOUT_MS, UPLOAD_IDLE_TIMEOUT_MS);
}

struct upload {
	struct server *s;
	char id[TXN_ID_LEN + 1];
	struct push_list *items;	/* shared with the txn's other streams (upload_slots.c) */
	int fd, slot;
	/* the socket's bytes not yet taken */
	char *buf;
	size_t off, len;
};

/* More bytes from the socket: 0, or -1 with why. */
static int fill(struct upload *u, const char **why)
{
	ssize_t n;

	do
		n = read(u->fd, u->buf, UPLOAD_IO);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		u->off = 0;
		u->len = (size_t)n;
		return 0;
	}
	*why = n == 0 ? "the stream ended in the middle of a record"
		: errno == EAGAIN || errno == EWOULDBLOCK ? "no byte came within the idle timeout"
		: "the connection broke";
	return -1;
}

static int take(struct upload *u, void *out, size_t n, const char **why)
{
	unsigned char *p = out;

	while (n) {
		size_t k;

		if (u->off == u->len && fill(u, why))
			return -1;
		k = u->len - u->off < n ? u->len - u->off : n;
		memcpy(p, u->buf + u->off, k);
		u->off += k;
		p += k;
		n -= k;
	}
	return 0;
}

/*
 * One record's bytes, hashed as they are written to commit/<txn>/<path>,
 * which is given its line's mode and mtime only when they are the sha256
 * the push named: the commit takes such a file without reading it again
 * (txn_check.c). Until then it is 0600, which no line names, so a file
 * cut short, or one a failed unlink left, is never taken. Bytes that are
 * not the sha256 (the file changed while the client read it) are
 * dropped, and the commit names the path as missing. 0 when kept, 2
 * when dropped; 1 when the client's stream failed (why says how); -1
 * when the server could not write (logged, errno kept for the answer).
 *
 * A kept file is also marked in the item, which spares the commit a
 * look at it, unless another stream of the push began the same path in
 * the meantime: that one replaces this file, or is cut short and leaves
 * what may not be the sha256. So each begins by taking a new ticket,
 * and only the stream holding the last one marks.
 */
static int store_file(struct upload *u, struct dir_cursor *dc, struct push_item *it, const char **why)
{
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)it->mtime, 0 } };
	char got[HASH_HEX_LEN + 1];
	struct hasher h;
	struct hash_follow *follow = NULL;
	uint64_t size = (uint64_t)it->size;
	const char *name;
	unsigned ticket = (atomic_fetch_add(&tickets, 1) + 1) << 1;
	int dir, fd, e, hashing = 0, rc = -1;

	atomic_store(&it->stored, ticket);
	dir = dir_cursor_parent(dc, it->path, &name);
	if (dir < 0)
		goto failed;
	fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	/*
	 * Kept by an earlier stream, or made a moment ago by another stream
	 * of this push sending the same path: replaced. That one writes on
	 * into its own inode, which no name holds any more.
	 */
	for (int tries = 0; fd < 0 && errno == EEXIST && tries < STORE_TRIES; tries++) {
		if (unlinkat(dir, name, 0) && errno != ENOENT)
			break;
		fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		goto failed;
	/* A big file is hashed on another core as it is written, the way a pull's download is. */
	if (size >= HASH_FOLLOW_MIN)
		follow = hash_follow_start(fd);
	if (!follow) {
		if (hasher_init(&h))
			goto drop;
		hashing = 1;
	}
	while (size) {
		size_t k;

		if (u->off == u->len && fill(u, why)) {
			rc = 1;
			goto drop;
		}
		k = u->len - u->off < size ? u->len - u->off : (size_t)size;
		if (write_full(fd, u->buf + u->off, k) || (!follow && hasher_update(&h, u->buf + u->off, k)))
			goto drop;
		if (follow)
			hash_follow_wrote(follow, k);
		u->off += k;
		size -= k;
	}
	if (follow) {
		int hashed = hash_follow_end(follow, got);

		follow = NULL;
		if (hashed)
			goto drop;
	} else {
		hashing = 0;
		if (hasher_final(&h, got))
			goto drop;
	}
	if (strcmp(got, it->hash)) {
		rc = 2;
		goto drop;
	}
	if (fchmod(fd, it->mode) || futimens(fd, times))
		goto drop;
	if (close(fd)) {
		fd = -1;
		goto drop;
	}
	atomic_compare_exchange_strong(&it->stored, &ticket, ticket | 1);
	return 0;
drop:
	e = errno;
	if (hashing)
		hasher_free(&h);
	/* Its thread joined; the hash is not wanted. */
	if (follow)
		hash_follow_end(follow, got);
	if (fd >= 0)
		close(fd);
	/* On a full disk, what part of it fitted is better gone now than at the push's end. */
	if (unlinkat(dir, name, 0))
		warning_errno("cannot remove 'commit/%s/%s'", u->id, it->path);
	if (rc >= 0)
		return rc;
	errno = e;
failed:
	error_errno("cannot store 'commit/%s/%s'", u->id, it->path);
	return -1;
}

/* The last line: {"stored":N}, or the error; then the stream is over. */
static void answer(struct upload *u, json_t *j)
{
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (line) {
		size_t n = strlen(line);

		line[n] = '\n';	/* json_dumps' NUL: the line is sent by length */
		if (write_full(u->fd, line, n + 1))
			warning_errno("cannot answer the upload into push '%s'", u->id);
	}
	free(line);
	json_decref(j);
}

/*
 * After a refusal the client is still sending. A close with bytes unread
 * would answer them with a reset, which a proxy in front may pass on
 * before the answer; so the answer is followed by our end of the
 * stream, and what the client still sends is read and dropped until it
 * has seen the answer and closed, for UPLOAD_LINGER_MS at most (as
 * nginx's lingering_close).
 */
static void linger(struct upload *u)
{
	long long until = (long long)now_ms() + UPLOAD_LINGER_MS;

	if (shutdown(u->fd, SHUT_WR))
		return;
	for (;;) {
		long long left = until - (long long)now_ms();
		struct pollfd p = { .fd = u->fd, .events = POLLIN };

		if (left <= 0 || poll(&p, 1, (int)left) <= 0 || read(u->fd, u->buf, UPLOAD_IO) <= 0)
			return;
	}
}

/* A refusal naming path (valid UTF-8, path_check made sure) and what is wrong with it. */
static json_t *refusal(const char *code, const char *path, const char *what)
{
	char msg[PATH_BYTES_MAX + 256];

	if (path)
		snprintf(msg, sizeof(msg), "'%s': %s", path, what);
	else
		snprintf(msg, sizeof(msg), "%s", what);
	return json_pack("{s:s, s:s}", "error", code, "message", msg);
}

static void *run(void *arg)
{
	struct upload *u = arg;
	struct dir_cursor dc;
	char path[PATH_BYTES_MAX + 1];
	const char *why = NULL;
	json_t *result = NULL;
	long long stored = 0, bytes = 0, start = now_ms();
	int cfd = -1, refused;

	for (;;) {
		unsigned char head[UPLOAD_HEAD_LEN];
		struct push_item *it;
		uint64_t plen, size;
		int rc;

		if (take(u, head, 2, &why))
			break;
		plen = get_be(head, 2);
		if (!plen) {
			result = json_pack("{s:I}", "stored", (json_int_t)stored);
			break;
		}
		if (plen > PATH_BYTES_MAX) {
			why = "a path longer than the longest a push may name";
			break;
		}
		if (take(u, head + 2, UPLOAD_HEAD_LEN - 2, &why) || take(u, path, plen, &why))
			break;
		path[plen] = '\0';
		size = get_be(head + 2, 8);
		if (memchr(path, '\0', plen) || (why = path_check(path, plen))) {
			result = refusal("bad_request", NULL, "a record names an invalid path");
			break;
		}
		it = push_find(u->items, path, plen);
		if (!it || !push_item_file(it)) {
			result = refusal("bad_request", path, "not a file of this push");
			break;
		}
		if (size != (uint64_t)it->size) {
			result = refusal("bad_request", path, "not the size this push gave it");
			break;
		}
		/* Made at the first file it keeps: a refused stream leaves nothing behind. */
		if (cfd < 0) {
			cfd = txn_commit_dir(u->s, u->id);
			if (cfd < 0) {
				result = refusal("internal", NULL, "the server cannot open the push's commit area");
				break;
			}
			/* 0755 as in files/, where a directory made here may be renamed whole (txn_files.c). */
			dir_cursor_init(&dc, cfd, 0755, 0);
		}
		rc = store_file(u, &dc, it, &why);
		if (rc == 1)
			break;
		if (rc < 0) {
			char msg[128];

			snprintf(msg, sizeof(msg), "the server cannot store it: %s", strerror(errno));
			result = refusal("internal", path, msg);
			break;
		}
		stored += !rc;
		bytes += (long long)size;
	}
	if (cfd >= 0) {
		dir_cursor_close(&dc);
		close(cfd);
	}
	if (!result) {
		char msg[128];

		snprintf(msg, sizeof(msg), "the upload broke off: %s", why ? why : "?");
		result = refusal("bad_request", NULL, msg);
	}
	if (!json_object_get(result, "stored")) {
		const char *m = json_string_value(json_object_get(result, "message"));

		warning("upload into push '%s' ended: %s", u->id, m ? m : "?");
	} else {
		fprintf(stderr, "%s: upload into push '%s': %lld files, %lld bytes, %lld ms\n", soc_prog,
			u->id, stored, bytes, (long long)now_ms() - start);
	}
	/* Before the client hears the end (its commit may come to another node next) and the slot is free. */
	if (u->s->cluster)
		node_upload_end(u->s, u->slot);
	upload_slot_release(u->slot);
	refused = !json_object_get(result, "stored");
	answer(u, result);
	if (refused)
		linger(u);
	close(u->fd);
	free(u->buf);
	free(u);
	return NULL;
}

void upload_serve(struct server *s, struct http_exchange *ex, const struct caller *who, const char *id)
{
	const struct http_slice *up = http_header(http_req(ex), "upgrade");
	struct timeval tv;
	struct push_list *shared;
	struct upload *u;
	pthread_attr_t ta;
	pthread_t t;
	struct sql *db;
	int slot, rc;

	if (!up || !http_slice_ieq(*up, UPLOAD_PROTO))
		return api_error(ex, 400, "bad_request", "an upload needs 'Upgrade: " UPLOAD_PROTO "'");
	u = xcalloc(1, sizeof(*u));
	u->s = s;
	snprintf(u->id, sizeof(u->id), "%s", id);
	upload_gate_enter(id);
	slot = upload_slot_free(id, who->name);
	if (slot == SLOT_PUSH_FULL) {
		upload_gate_leave();
		free(u);
		return api_error(ex, 409, "busy", "as many uploads into this push as it may have are running");
	}
	/* 503 for the token's share too: the client sends the files by rsync then, as for a full server. */
	if (slot < 0) {
		upload_gate_leave();
		free(u);
		http_add_header(ex, "Retry-After", STR(BUSY_RETRY_SECONDS));
		return api_error(ex, 503, "busy", slot == SLOT_SERVER_FULL ? "too many uploads at once; send the files by rsync"
			: "this token has " STR(UPLOADS_PER_TOKEN) " uploads running, as many as one may; "
			  "send the files by rsync");
	}
	/* Under the gate: no commit or abort changes the txn between this look and the claim. */
	shared = upload_slot_items(id);
	u->items = shared ? shared : xcalloc(1, sizeof(*u->items));
	if (txn_upload_check(s, ex, who, id, shared ? NULL : u->items)) {
		upload_gate_leave();
		if (!shared)
			free(u->items);
		free(u);
		return;
	}
	/* The other nodes learn of it before it writes: none of them commits the txn meanwhile. */
	db = s->cluster ? store_db(s) : NULL;
	rc = !s->cluster ? 1 : db ? node_upload_begin(s, db, id, slot) : -1;
	if (rc <= 0) {
		upload_gate_leave();
		if (!shared)
			free(u->items);
		free(u);
		if (rc < 0)
			return api_error(ex, 500, "internal", "the server could not do this; its log says why");
		return api_error(ex, 409, "busy", "this push is being committed by another request");
	}
	upload_slot_take(slot, id, who->name, u->items);
	upload_gate_leave();
	u->slot = slot;
	u->fd = http_upgrade(ex, UPLOAD_PROTO);
	if (u->fd < 0) {
		if (s->cluster)
			node_upload_end(s, slot);
		upload_slot_release(slot);
		free(u);
		return;
	}
	upload_slot_sock(slot, u->fd);
	/* Each read and write waits at most this long: the idle timeout. */
	pthread_once(&idle_once, read_idle);
	tv.tv_sec = idle_ms / 1000;
	tv.tv_usec = idle_ms % 1000 * 1000;
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(u->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		warning_errno("cannot set the upload's timeouts");
	u->buf = xmalloc(UPLOAD_IO);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &ta, run, u))
		run(u);	/* on this worker, then */
	pthread_attr_destroy(&ta);
}
