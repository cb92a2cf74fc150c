/*
 * pull_stream.c: a pull's downloads by the fetch stream (POST fetch,
 * PROTOCOL.md section 6b), before rsync takes what is left. A file with
 * nothing here comes whole; one whose content here the server keeps
 * comes as a delta against it, which the server makes with both versions
 * at hand. Each is written to incoming/<path> and hashed as it is
 * written: that is the one pass over it, and what does not hash to its
 * line's sha256 is dropped for rsync to take. rsync stays for the big
 * files with a basis here (its delta streams; ours holds both versions
 * in memory) and for a server older than the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"
#include "pull.h"
#include "testhook.h"

#define FETCH_BATCH_FILES 1024		/* files one request asks for: several, so both connections stay busy */
#define FETCH_BATCH_BYTES (16 << 20)	/* and bytes, about: a file bigger goes alone */
#define FETCH_CONNECTIONS 2		/* requests at once, each on its own connection and thread */
#define FETCH_WRITE (256 * 1024)	/* a download's bytes gathered before a write */

/* The record being read, and the file it makes. */
struct record {
	size_t row;		/* its row in the plan */
	unsigned char head[FETCH_HEAD_LEN];
	size_t head_len;	/* of head, read so far */
	char kind;
	uint64_t left;		/* bytes of the record still to come */
	int fd;			/* incoming/<path>, -1 when dropped */
	struct hasher h;
	int hashing;		/* h is live */
	uint64_t made;		/* bytes of the version made */
	struct buf out;		/* made, not yet written: a small file is one write */
	struct buf base;	/* a delta's base: the file here */
	struct delta_reader ops;	/* a delta's ops, read against base */
};

struct fetch {
	struct net *net;
	struct plan *p;
	int root, inc;
	struct dir_at in, here;	/* directories of incoming/ and of the workspace, kept open */
	struct progress *pg;
	const size_t *rows;	/* this request's rows, in its order */
	size_t nrows, next;	/* and the next record's index */
	struct record r;
	int in_record;
	int failed;		/* said, stop: 1 the server's answer is wrong, -1 we could not write */
	size_t kept;
	/* the batches this connection takes: every step-th from first */
	const size_t *all, *ends;	/* the stream's rows; where each batch ends in them */
	size_t nbatches, first, step;
	atomic_int *stop;		/* another connection failed */
	int rc;
};

/* The row's content here, for a delta: its current sha256, or NULL to ask for the whole. */
static const struct digest *base_of(const struct plan *p, size_t i)
{
	const struct scan_item *it = p->local[i];

	if (!it || !it->present || it->e.mode == MODE_LINK || it->e.size > FETCH_DELTA_MAX || !it->e.hash.set)
		return NULL;
	return &it->e.hash;
}

/* The rows the stream takes: every download but the blobs and big files with a basis here. */
static int by_stream(const struct plan *p, size_t i)
{
	const struct scan_item *it = p->local[i];

	if (!pull_by_rsync(p, i))
		return 0;
	return !(it && it->present) || base_of(p, i) || it->e.mode == MODE_LINK;
}

/* The server's answer is wrong: said, and the fetch stops (the pull fails; nothing is placed). */
static int fail(struct fetch *f, const char *what)
{
	error("the server's fetch answer is not well formed (%s, at '%s')", what,
	      show_path(f->p->rows[f->r.row].path));
	f->failed = 1;
	return -1;
}

/*
 * The file here that a delta starts from, read whole if it is still as
 * the scan saw it; else left empty. A server may send a delta unasked:
 * never for more than a base we would have offered.
 */
static void read_base(struct fetch *f, size_t i)
{
	const struct scan_item *it = f->p->local[i];
	const char *path = f->p->rows[i].path, *name;
	struct stat st;
	int dir, fd;

	buf_reset(&f->r.base);
	if (!base_of(f->p, i))
		return;
	dir = dir_at_open(&f->here, f->root, path, &name, 0);
	if (dir < 0 || (fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	/* Short of its size (cut meanwhile): no base, and the delta is dropped. */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != it->e.size ||
	    (uint64_t)st.st_ino != it->e.ino || mtime_ns(&st.st_mtim) != it->e.mtime_ns ||
	    buf_read_fd(&f->r.base, fd, (size_t)it->e.size))
		buf_reset(&f->r.base);
	close(fd);
}

static void drop(struct fetch *f)
{
	const char *name;
	int dir;

	if (f->r.fd < 0)
		return;
	close(f->r.fd);
	f->r.fd = -1;
	buf_reset(&f->r.out);
	if (f->r.hashing)
		hasher_free(&f->r.h);
	f->r.hashing = 0;
	dir = dir_at_open(&f->in, f->inc, f->p->rows[f->r.row].path, &name, 0);
	if (dir >= 0)
		unlinkat(dir, name, 0);
}

/* A record's head read: its file opened in incoming/. 0, or -1 (said). */
static int record_start(struct fetch *f)
{
	struct record *r = &f->r;
	const struct remote_row *row;
	const char *name;
	int dir;

	if (f->next == f->nrows)
		return fail(f, "more records than files asked for");
	r->row = f->rows[f->next++];
	row = &f->p->rows[r->row];
	r->kind = (char)r->head[0];
	r->left = get_be(r->head + 1, 8);
	r->made = 0;
	r->fd = -1;
	if (r->kind == FETCH_NONE)
		return r->left ? fail(f, "a record of no content has bytes") : 0;
	if (r->kind == FETCH_WHOLE ? r->left != row->size : r->kind != FETCH_DELTA || r->left >= row->size)
		return fail(f, "a record is not its file's size");
	if (r->kind == FETCH_DELTA) {
		read_base(f, r->row);
		r->ops = (struct delta_reader){ .base = (const unsigned char *)r->base.p, .blen = r->base.len };
	}
	dir = dir_at_open(&f->in, f->inc, row->path, &name, MAKE_SPREAD);
	if (dir < 0) {
		f->failed = -1;
		return -1;
	}
	/* As rsync leaves a download: the x bit its line gives, the rest as the umask says. */
	r->fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       row->mode & 0100 ? 0777 : 0666);
	if (r->fd < 0 || hasher_init(&r->h)) {
		error_errno("cannot write the download of '%s'", show_path(row->path));
		if (r->fd >= 0)
			drop(f);
		f->failed = -1;
		return -1;
	}
	r->hashing = 1;
	return 0;
}

/* What the record made so far, written and hashed. 0, or -1 (said). */
static int flush(struct fetch *f)
{
	struct record *r = &f->r;

	if (r->fd < 0 || !r->out.len)
		return 0;
	if (buf_write(r->fd, &r->out) || hasher_update(&r->h, r->out.p, r->out.len)) {
		error_errno("cannot write the download of '%s'", show_path(f->p->rows[r->row].path));
		f->failed = -1;
		return -1;
	}
	buf_reset(&r->out);
	return 0;
}

/* n bytes of the version: gathered, then written and hashed. 0, or -1 (said). */
static int emit(struct fetch *f, const void *p, size_t n)
{
	struct record *r = &f->r;

	if (r->fd < 0)
		return 0;
	if (r->made + n > f->p->rows[r->row].size) {
		drop(f);	/* more than its size: not the version; rsync takes it */
		return 0;
	}
	buf_add(&r->out, p, n);
	r->made += n;
	return r->out.len >= FETCH_WRITE ? flush(f) : 0;
}

/* The record's last byte came: kept when it is its sha256, else dropped. 0, or -1 (said). */
static int record_end(struct fetch *f)
{
	struct record *r = &f->r;
	const struct remote_row *row = &f->p->rows[r->row];
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)row->mtime, 0 } };
	char hex[HASH_HEX_LEN + 1];

	f->in_record = 0;
	if (r->fd < 0)
		return 0;
	if (flush(f))
		return -1;
	/* Whole, every op complete, and its sha256: else dropped, and rsync takes it. */
	if (r->made != row->size || (r->kind == FETCH_DELTA && !delta_whole(&r->ops))) {
		drop(f);
		return 0;
	}
	r->hashing = 0;
	if (hasher_final(&r->h, hex) || strcmp(hex, row->hash)) {
		drop(f);
		return 0;
	}
	if (futimens(r->fd, times) || close(r->fd)) {
		error_errno("cannot write the download of '%s'", show_path(row->path));
		r->fd = -1;
		f->failed = -1;
		return -1;
	}
	r->fd = -1;
	f->p->got[r->row] = 1;
	f->kept++;
	progress_add(f->pg, 1, row->size);
	return 0;
}

static int emit_cb(const void *p, size_t n, void *arg)
{
	return emit(arg, p, n);
}

/* The answer as it comes: records, each a head and its bytes. 0, or -1 to stop. */
static int take(const char *data, size_t n, void *arg)
{
	struct fetch *f = arg;
	const unsigned char *p = (const unsigned char *)data;

	while (n && !f->failed) {
		struct record *r = &f->r;
		size_t k;

		if (!f->in_record) {
			k = FETCH_HEAD_LEN - r->head_len < n ? FETCH_HEAD_LEN - r->head_len : n;
			memcpy(r->head + r->head_len, p, k);
			r->head_len += k;
			p += k;
			n -= k;
			if (r->head_len < FETCH_HEAD_LEN)
				break;
			r->head_len = 0;
			if (record_start(f))
				break;
			f->in_record = 1;
			if (!r->left && record_end(f))
				break;
			continue;
		}
		k = n < r->left ? n : (size_t)r->left;
		if (r->kind == FETCH_WHOLE) {
			if (emit(f, p, k))
				break;
		} else if (r->fd >= 0) {
			int bad = delta_read(&r->ops, p, k, emit_cb, f);

			if (bad < 0)
				break;
			/* Not ops the base here can follow (it changed since the scan?): rsync takes it. */
			if (bad)
				drop(f);
		}
		p += k;
		n -= k;
		r->left -= k;
		if (!r->left && record_end(f))
			break;
	}
	return f->failed ? -1 : 0;
}

/*
 * One request: the rows rows[0..n), their lines in body. 0; 1 when the
 * server has no fetch; RSYNC_REMOTE when it failed, or -1 when we did (said).
 */
static int fetch_batch(struct fetch *f, const size_t *rows, size_t n, const struct buf *body)
{
	char msg[256];
	long st;

	f->rows = rows;
	f->nrows = n;
	f->next = 0;
	f->in_record = 0;
	f->r.head_len = 0;
	st = net_post_stream(f->net, FETCH_ENDPOINT, body->p, body->len, take, f, msg, sizeof(msg));
	if (f->in_record && f->r.fd >= 0)
		drop(f);
	if (f->failed)
		return f->failed < 0 ? -1 : RSYNC_REMOTE;
	if (st == 404 && !f->kept)
		return 1;	/* a server older than the stream: rsync takes it all */
	if (st < 0)
		return RSYNC_REMOTE;
	if (st != 200) {
		error("the server refused a fetch (%ld): %s", st, msg);
		return RSYNC_REMOTE;
	}
	if (f->next != n || f->in_record || f->r.head_len) {
		error("the server's fetch answer ended before its last file");
		return RSYNC_REMOTE;
	}
	return 0;
}

/* One connection's share: its batches, each asked for and written as it comes. */
static void *run(void *arg)
{
	struct fetch *f = arg;
	struct buf body = BUF_INIT;

	for (size_t b = f->first; b < f->nbatches && !f->rc && !atomic_load(f->stop); b += f->step) {
		size_t lo = b ? f->ends[b - 1] : 0, hi = f->ends[b];

		buf_reset(&body);
		for (size_t k = lo; k < hi; k++) {
			const struct digest *base = base_of(f->p, f->all[k]);
			char hex[HASH_HEX_LEN + 1];

			buf_add(&body, f->p->rows[f->all[k]].hash, HASH_HEX_LEN);
			if (base) {
				digest_hex(base, hex);
				buf_addch(&body, ' ');
				buf_add(&body, hex, HASH_HEX_LEN);
			}
			buf_addch(&body, '\n');
		}
		f->rc = fetch_batch(f, f->all + lo, hi - lo, &body);
		if (f->rc)
			atomic_store(f->stop, 1);
	}
	buf_free(&body);
	return NULL;
}

int pull_stream(struct net *net, const struct remote *r, int root, int inc, struct plan *p,
		struct progress *pg)
{
	struct fetch f[FETCH_CONNECTIONS];
	size_t *all = xcalloc(p->n + 1, sizeof(*all)), *ends = xcalloc(p->n + 1, sizeof(*ends));
	size_t n = 0, nb = 0, in = 0, conns, k;
	uint64_t bytes = 0;
	atomic_int stop = 0;
	int rc = 0, off = test_hook_flag(HOOK_NO_FETCH);

	/* The batches: FETCH_BATCH_FILES files or FETCH_BATCH_BYTES, whichever comes first. */
	for (size_t i = 0; i < p->n && !off; i++) {
		if (!by_stream(p, i))
			continue;
		if (in && (in == FETCH_BATCH_FILES || bytes + p->rows[i].size > FETCH_BATCH_BYTES)) {
			ends[nb++] = n;
			in = 0;
			bytes = 0;
		}
		all[n++] = i;
		in++;
		bytes += p->rows[i].size;
	}
	if (in)
		ends[nb++] = n;
	conns = nb < FETCH_CONNECTIONS ? nb : FETCH_CONNECTIONS;
	for (k = 0; k < conns; k++) {
		f[k] = (struct fetch){ .net = k ? net_open(r) : net, .p = p, .root = root, .inc = inc,
				       .in = DIR_AT_INIT, .here = DIR_AT_INIT, .pg = pg, .all = all, .ends = ends,
				       .nbatches = nb, .first = k, .stop = &stop };
		f[k].r.base = (struct buf)BUF_INIT;
		f[k].r.out = (struct buf)BUF_INIT;
		f[k].r.fd = -1;
		/* No second connection to be had: the first takes every batch. */
		if (!f[k].net)
			break;
	}
	conns = k;
	for (k = 0; k < conns; k++)
		f[k].step = conns;
	if (conns > 1)
		parts_run(conns, run, f, sizeof(f[0]));
	else if (conns)
		run(&f[0]);
	for (k = 0; k < conns; k++) {
		/* The worse outcome wins: ours (-1), the server's (RSYNC_REMOTE), no stream (1), done. */
		if (f[k].rc < 0 && (rc >= 0 || f[k].rc == -1))
			rc = f[k].rc;
		else if (!rc)
			rc = f[k].rc;
		dir_at_close(&f[k].in);
		dir_at_close(&f[k].here);
		buf_free(&f[k].r.base);
		buf_free(&f[k].r.out);
		if (k)
			net_close(f[k].net);
	}
	free(all);
	free(ends);
	return rc == 1 ? 0 : rc;
}
