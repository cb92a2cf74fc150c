/*
 * pending.c: what the index must learn from the server before a push or
 * pull works: the fate of a push whose commit answer was not heard, and
 * (modes_settle, at the end) the synced modes an index from an older soc
 * could only guess.
 *
 * Between sending a commit and recording its new bases, a push can die (a
 * kill, a crash, a dropped connection): the server may have landed it
 * while the index still holds the old bases. The next push would then be
 * refused as if someone else had changed those files, and the next pull
 * would call an edit made since a conflict with the user's own push. So
 * before the commit is sent, the changes go to .soc/pending (fsync'd);
 * once the index records them, the file goes. A later push or pull that
 * finds it asks the server for what changed since the last pull, and each
 * pending path whose newest state there is exactly what was pushed gets
 * its base recorded, as the lost answer would have done, with the mode
 * the server holds: a chmod that did not land still differs from that, so
 * the next push sends it again. A path whose state there differs is left
 * as it was: at worst the user is asked to pull, and a pull keeps both
 * versions.
 *
 * A commit goes on without its client: a push killed while the server
 * applied it lands after the next push or pull has looked, and a record
 * cleared then leaves that push unrecorded. So the record names its push,
 * and the look starts with DELETE of it: an open push is dropped and can
 * land no more, a push done is said to be (409 "committed"), and one
 * still being committed (409 "busy") is waited for.
 *
 * The format: "txn ID\n", then one line per change, "SHA256 PATH\n" or
 * "- PATH\n" for a delete: the path rules exclude newlines from paths.
 * A record of an older soc has no txn line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <time.h>

#include "client.h"
#include "push.h"
#include "sync.h"

#define PENDING_FILE WORKSPACE_DIR "/pending"
#define PENDING_WRITE_STEP (1 << 20)	/* bytes of lines gathered before a write */
#define PENDING_TXN "txn "		/* the first line's start: the push recorded */
#define PENDING_WAIT_MS (60 * 1000)	/* for a commit the server still works on */
#define PENDING_POLL_MS 200		/* how often it is asked meanwhile */

struct pending_row {
	char *path;
	char hash[HASH_HEX_LEN + 1];	/* "" for a delete */
	int landed;			/* the server's newest state is this */
	unsigned mode;			/* the server's mode of it, once landed */
};

struct pending {
	struct pending_row *v;
	size_t n;
	long long head;
	char txn[TXN_ID_MAX + 1];	/* "" in an older soc's record */
};

int pending_write(struct workspace *ws, const char *txn, struct scan_item *const *items, size_t n)
{
	char *file = xasprintf("%s/" PENDING_FILE, ws->root);
	char *tmp = xasprintf("%s.tmp", file);
	struct buf b = BUF_INIT;
	int fd, rc = -1;
	size_t i;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_errno("cannot write '%s'", tmp);
		goto out;
	}
	buf_addf(&b, PENDING_TXN "%s\n", txn);
	/* Written a piece at a time: a million lines are 86 MB. */
	for (i = 0; i < n; i++) {
		char hex[HASH_HEX_LEN + 1];

		digest_hex(&items[i]->e.hash, hex);
		buf_addf(&b, "%s %s\n", items[i]->change == CH_DELETED ? "-" : hex, items[i]->e.path);
		if (b.len >= PENDING_WRITE_STEP) {
			if (buf_write(fd, &b))
				break;
			buf_reset(&b);
		}
	}
	if (i < n || buf_write(fd, &b) || fsync(fd)) {
		error_errno("cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) || rename(tmp, file)) {
		error_errno("cannot write '%s'", file);
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	free(tmp);
	free(file);
	return rc;
}

void pending_clear(struct workspace *ws)
{
	char *file = xasprintf("%s/" PENDING_FILE, ws->root);

	if (unlink(file) && errno != ENOENT)
		warning_errno("cannot remove '%s'", file);
	free(file);
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct pending_row *)a)->path, ((const struct pending_row *)b)->path);
}

static void pending_free(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].path);
	free(p->v);
}

/* 1 when read into *p, 0 when there is no file, -1 after a message. */
static int pending_read(struct workspace *ws, struct pending *p)
{
	char *file = xasprintf("%s/" PENDING_FILE, ws->root);
	FILE *f = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t len;
	int rc = -1, older = 0;

	memset(p, 0, sizeof(*p));
	if (!f) {
		rc = errno == ENOENT ? 0 : error_errno("cannot read '%s'", file);
		free(file);
		return rc;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		char *sp = strchr(line, ' ');
		struct pending_row *r;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!p->n && !p->txn[0] && !strncmp(line, PENDING_TXN, strlen(PENDING_TXN))) {
			const char *id = line + strlen(PENDING_TXN);
			size_t idlen = strlen(id);

			if (!txn_id_valid(id, idlen)) {
				error("'%s' is damaged; remove it and run 'soc pull'", file);
				goto out;
			}
			memcpy(p->txn, id, idlen + 1);
			continue;
		}
		/* An older soc's record names md5s: its upgrade made those paths settle in the next sync. */
		if (sp && sp - line == MD5_HEX_LEN && (*sp = '\0', md5_hex_valid(line))) {
			older = 1;
			break;
		}
		if (!sp || (size_t)len > PATH_BYTES_MAX + HASH_HEX_LEN + 1 ||
		    path_check(sp + 1, strlen(sp + 1)) ||
		    !((sp - line == 1 && line[0] == '-') ||
		      (sp - line == HASH_HEX_LEN && (*sp = '\0', hash_hex_valid(line))))) {
			error("'%s' is damaged; remove it and run 'soc pull'", file);
			goto out;
		}
		if (p->n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			p->v = xrealloc(p->v, alloc * sizeof(*p->v));
		}
		r = &p->v[p->n++];
		memset(r, 0, sizeof(*r));
		r->path = xstrdup(sp + 1);
		if (line[0] != '-')
			memcpy(r->hash, line, HASH_HEX_LEN + 1);
	}
	if (ferror(f)) {
		error_errno("cannot read '%s'", file);
		goto out;
	}
	if (older) {
		pending_free(p);
		memset(p, 0, sizeof(*p));
		pending_clear(ws);
		rc = 0;
		goto out;
	}
	qsort(p->v, p->n, sizeof(*p->v), cmp_row);
	rc = 1;
out:
	fclose(f);
	free(line);
	free(file);
	return rc;
}

static int server_row(struct change_line *c, void *arg)
{
	struct pending *p = arg;
	struct pending_row key = { c->path, "", 0, 0 }, *r;

	r = p->n ? bsearch(&key, p->v, p->n, sizeof(*p->v), cmp_row) : NULL;
	if (r) {
		r->landed = c->deleted ? !r->hash[0] : !strcmp(r->hash, c->hash);
		r->mode = c->mode;
	}
	return 0;
}

/* The recorded push, dropped if still open or waited for while committed: 0, or an exit code after a message. */
static int push_settled(struct net *net, const char *txn)
{
	char *path = xasprintf("/api/v1/push/%s", txn);
	struct buf resp = BUF_INIT;
	uint64_t until = now_ms() + PENDING_WAIT_MS;
	char msg[256];
	int rc, said = 0;

	for (;;) {
		long st;
		json_t *j;
		const char *code;
		int busy, committed;

		buf_reset(&resp);
		st = net_request(net, "DELETE", path, NULL, NULL, 0, &resp);
		if (st < 0) {
			rc = EXIT_REMOTE;
			break;
		}
		if (st == 204 || st == 404) {
			rc = 0;
			break;
		}
		j = st == 409 ? json_loadb(resp.p ? resp.p : "", resp.len, 0, NULL) : NULL;
		code = json_string_value(json_object_get(j, "error"));
		busy = code && !strcmp(code, "busy");
		committed = code && !strcmp(code, "committed");
		json_decref(j);
		if (committed) {
			rc = 0;
			break;
		}
		if (!busy) {
			error("the server would not say what became of the last push (%ld): %s", st,
			      net_error_message(&resp, msg, sizeof(msg)));
			rc = EXIT_REMOTE;
			break;
		}
		if (!said++)
			say("the last push is still being committed on the server; waiting for it\n");
		if (now_ms() >= until) {
			error("the last push is still being committed on the server; run this again in a moment");
			rc = EXIT_REMOTE;
			break;
		}
		nanosleep(&(struct timespec){ 0, PENDING_POLL_MS * 1000000L }, NULL);
	}
	buf_free(&resp);
	free(path);
	return rc;
}

int pending_settle(struct workspace *ws, struct net *net)
{
	struct pending p;
	int rc = pending_read(ws, &p), failed = 0;
	size_t i, landed = 0;

	if (rc <= 0)
		return rc ? EXIT_ERROR : 0;
	if (p.txn[0] && (rc = push_settled(net, p.txn))) {
		pending_free(&p);
		return rc;
	}
	rc = changes_get(net, index_pulled_rev(ws), &p.head, server_row, &p);
	if (rc) {
		pending_free(&p);
		return rc;
	}
	if (index_begin(ws)) {
		pending_free(&p);
		return EXIT_ERROR;
	}
	for (i = 0; i < p.n; i++) {
		if (!p.v[i].landed)
			continue;
		landed++;
		if (p.v[i].hash[0] ? index_set_base(ws, p.v[i].path, p.v[i].hash, p.v[i].mode) :
				    index_drop(ws, p.v[i].path))
			failed = 1;
	}
	if (failed) {
		index_rollback(ws);
	} else if (index_commit(ws)) {
		failed = 1;
	} else {
		if (landed)
			say("the last push landed before it was cut off: %zu change%s recorded\n", landed,
			    landed == 1 ? "" : "s");
		pending_clear(ws);
	}
	pending_free(&p);
	return failed ? EXIT_ERROR : 0;
}

/* One file of the head: a synced path the server holds at its base gets the server's mode as synced. */
static int mode_row(struct change_line *c, void *arg)
{
	return c->deleted ? 0 : index_set_base_mode(arg, c->path, c->hash, c->mode);
}

int modes_settle(struct workspace *ws, struct net *net)
{
	int guessed = index_modes_guessed(ws), rc;
	long long head;

	if (guessed <= 0)
		return guessed ? EXIT_ERROR : 0;
	if (index_begin(ws))
		return EXIT_ERROR;
	rc = changes_get(net, 0, &head, mode_row, ws);
	if (rc) {
		index_rollback(ws);
		return rc;
	}
	if (index_set_modes_known(ws)) {
		index_rollback(ws);
		return EXIT_ERROR;
	}
	return index_commit(ws) ? EXIT_ERROR : 0;
}
