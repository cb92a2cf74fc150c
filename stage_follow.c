/*
 * stage_follow.c: the sha256 of a big changed file, taken while rsync
 * stages it for a push, so that the commit need not read it again. A
 * 1 MiB edit in a 256 MiB file cost a whole-file read after the transfer
 * (bench/README, issue 18); now the hash runs on another core during it.
 *
 * Why a digest taken while another process writes is the file's. rsync's
 * receiver writes a changed file as a new temporary beside it
 * (".NAME.XXXXXX", made with O_EXCL) from its first byte to its last with
 * write(2), never seeking back, and renames it onto NAME only after
 * closing it. The push module refuses every option that would do
 * otherwise (--inplace, --append, --sparse, --preallocate, --hard-links:
 * tunnel_serve.c). So no byte below the file's size is written again, and
 * reading up to the size as it grows reads what the file will hold. The
 * commit takes a digest only for the inode then at the staged path, and
 * only when the bytes hashed are its whole size (stage_follow_digest);
 * anything else (a temporary rsync named otherwise, a name shortened, a
 * file still growing when the commit came) is hashed at the commit as
 * before. The descriptor kept open holds the inode, so its number cannot
 * be reused meanwhile.
 *
 * One thread a push with big changed files, woken by inotify on their
 * directories; they exist from the begin on, where their bases were
 * linked (txn_stage), so no temporary is made before its watch.
 *
 * An edit leaves most of a big file as it was, and sha256 reads a file
 * from its start: its state after the pieces before the first changed
 * byte is the earlier version's state there. So the follow keeps a
 * state every piece (FOLLOW_IO) of each file whose digest the commit
 * confirmed, for the few last files (FOLLOW_KEPT_MAX), and the next push
 * of an edit to one compares each piece rsync writes with the version it
 * replaces (the base linked in staging) instead of hashing it, until one
 * differs; from there it hashes on from the kept state. Only the bytes
 * are trusted, read here from both files, never rsync's word. A digest
 * taken so that is not the one the push gives is not trusted either:
 * the commit hashes the file itself (stage_follow_digest).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhook.h"
#include "txn.h"

#define FOLLOW_MIN_BYTES (16LL << 20)	/* smaller: the commit's threads hash it about as fast */
#define FOLLOW_ITEMS_MAX 16		/* big files of one push followed */
#define FOLLOW_FILES_MAX 32		/* temporaries of one push followed (rsync may redo a file) */
#define FOLLOW_PUSHES_MAX 4		/* pushes followed at once; another begin ends the oldest */
#define FOLLOW_IO (1 << 20)		/* one read */
#define FOLLOW_EVENTS_BYTES 4096	/* one read of inotify's queue */
#define TEMP_SUFFIX_LEN 7		/* rsync's ".XXXXXX" */
#define FOLLOW_STATES_MAX 4096		/* states kept of a file, one a piece: its first 4 GiB */
#define FOLLOW_KEPT_MAX 4		/* files whose states are kept for their next edit */

enum { RUN, FINISH, DROP };

/* A content's sha256 state after each whole piece: at[k] has hashed (k + 1) * FOLLOW_IO bytes. */
struct states {
	char hex[HASH_HEX_LEN + 1];	/* the content's */
	struct hasher *at;		/* FOLLOW_STATES_MAX of them */
	size_t n;
};

struct watched {
	int wd, dfd;		/* the directory's watch, and the directory */
	char base[NAME_MAX + 1];	/* the staged file's name */
	int bfd;		/* the version it replaces, linked there at the begin; or -1 */
	struct states *was;	/* that version's states, when kept; or NULL */
};

struct followed {
	int fd;
	struct stat st;		/* dev and ino: which inode */
	const struct watched *w;
	struct hasher h;
	uint64_t hashed;
	uint64_t skipped;	/* bytes found the same as the earlier version's, not hashed */
	int skipping;		/* each piece is compared with w->bfd's yet */
	int rests;		/* the digest rests on w->was */
	int more;		/* may have grown since the last read reached its end */
	int failed;
	int done;		/* read to its end at the commit: hex is its digest */
	int confirmed;		/* the commit found hex the push's: now is worth keeping */
	struct states *now;	/* this file's states so far, or NULL */
	char hex[HASH_HEX_LEN + 1];
};

struct stage_follow {
	char id[TXN_ID_LEN + 1];
	pthread_t thread;
	int ifd, wake;
	int how;		/* RUN, FINISH or DROP; under lock */
	struct watched w[FOLLOW_ITEMS_MAX];
	size_t nw;
	struct followed f[FOLLOW_FILES_MAX];
	size_t nf;
	char *buf, *was_buf;	/* a piece of a temporary, and of the version it replaces */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stage_follow *running[FOLLOW_PUSHES_MAX];	/* oldest first */
static struct states *kept[FOLLOW_KEPT_MAX];		/* oldest first */

static void states_free(struct states *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		hasher_free(&s->at[i]);
	free(s->at);
	free(s);
}

/* The kept states of the content hex, taken out; NULL when none. */
static struct states *kept_take(const char *hex)
{
	struct states *s = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FOLLOW_KEPT_MAX && kept[i] && !s; i++)
		if (!strcmp(kept[i]->hex, hex)) {
			s = kept[i];
			memmove(&kept[i], &kept[i + 1], (FOLLOW_KEPT_MAX - 1 - i) * sizeof(*kept));
			kept[FOLLOW_KEPT_MAX - 1] = NULL;
		}
	pthread_mutex_unlock(&lock);
	return s;
}

/* s is kept, newest, in place of the same content's or, when there is no room, of the oldest. */
static void kept_put(struct states *s)
{
	struct states *old;
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < FOLLOW_KEPT_MAX && kept[i] && strcmp(kept[i]->hex, s->hex); i++)
		;
	if (i == FOLLOW_KEPT_MAX)
		i = 0;
	old = kept[i];
	memmove(&kept[i], &kept[i + 1], (FOLLOW_KEPT_MAX - 1 - i) * sizeof(*kept));
	kept[FOLLOW_KEPT_MAX - 1] = NULL;
	for (i = 0; kept[i]; i++)
		;
	kept[i] = s;
	pthread_mutex_unlock(&lock);
	states_free(old);
}

/* h, the state after t's piece k, goes to t->now; one that cannot (no memory) ends t->now. */
static void keep(struct followed *t, size_t k, const struct hasher *h)
{
	struct states *s = t->now;

	if (!s || k >= FOLLOW_STATES_MAX)
		return;
	if (s->n != k || (!s->at && !(s->at = calloc(FOLLOW_STATES_MAX, sizeof(*s->at)))) ||
	    hasher_copy(&s->at[s->n], h)) {
		states_free(s);
		t->now = NULL;
		return;
	}
	s->n++;
}

/* rsync's temporary for base: "." base "." and six characters. */
static int temp_of(const char *name, const char *base)
{
	size_t n = strlen(name), b = strlen(base);

	return n == 1 + b + TEMP_SUFFIX_LEN && name[0] == '.' && !memcmp(name + 1, base, b) &&
	       name[1 + b] == '.';
}

static void open_temp(struct stage_follow *f, const struct watched *w, const char *name)
{
	struct followed *t = &f->f[f->nf];
	int fd;

	if (f->nf == FOLLOW_FILES_MAX)
		return;
	fd = openat(w->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	memset(t, 0, sizeof(*t));
	if (fstat(fd, &t->st) || !S_ISREG(t->st.st_mode) || hasher_init(&t->h)) {
		close(fd);
		return;
	}
	t->fd = fd;
	t->w = w;
	t->skipping = w->was && f->was_buf;
	t->now = calloc(1, sizeof(*t->now));	/* none: nothing kept of it, no harm */
	t->more = 1;
	f->nf++;
}

/* What inotify said: new temporaries are opened, and every file may have grown. */
static void take_events(struct stage_follow *f)
{
	char ev[FOLLOW_EVENTS_BYTES] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(f->ifd, ev, sizeof(ev))) > 0) {
		for (char *p = ev; p < ev + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			p += sizeof(*e) + e->len;
			if (!(e->mask & IN_CREATE) || (e->mask & IN_ISDIR) || !e->len)
				continue;
			for (size_t i = 0; i < f->nw; i++)
				if (f->w[i].wd == e->wd && temp_of(e->name, f->w[i].base)) {
					open_temp(f, &f->w[i], e->name);
					break;
				}
		}
	}
	for (size_t i = 0; i < f->nf; i++)
		f->f[i].more = 1;
}

/* t's next piece, n bytes in f->buf, is the earlier version's, and its state there is kept. */
static int same_as_was(struct stage_follow *f, const struct followed *t, size_t n)
{
	const struct watched *w = t->w;

	return t->hashed / FOLLOW_IO < w->was->n &&
	       pread(w->bfd, f->was_buf, n, (off_t)t->hashed) == (ssize_t)n && !memcmp(f->buf, f->was_buf, n);
}

/* t parts from the earlier version at t->hashed, a piece's start: its hash goes on from the state there. */
static int stop_skipping(struct followed *t)
{
	const struct states *was = t->w->was;
	size_t k = (size_t)(t->hashed / FOLLOW_IO);

	t->skipping = 0;
	if (!k)
		return 0;
	for (size_t i = 0; i < k; i++)
		keep(t, i, &was->at[i]);
	t->rests = 1;
	return hasher_copy(&t->h, &was->at[k - 1]);
}

/*
 * One read of t, to the end of a piece at most: 1 when it read bytes, 0
 * at its end (for now), -1 when it failed. last: the file is whole.
 */
static int step(struct stage_follow *f, struct followed *t, int last)
{
	size_t want = FOLLOW_IO - (size_t)(t->hashed % FOLLOW_IO);
	ssize_t n = pread(t->fd, f->buf, want, (off_t)t->hashed);

	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0)
		goto fail;
	if (t->skipping) {
		if ((size_t)n == want && same_as_was(f, t, want)) {
			t->hashed += want;
			t->skipped += want;
			return 1;
		}
		if ((size_t)n < want && !last) {
			t->more = 0;	/* a piece is compared whole */
			return 0;
		}
		if (stop_skipping(t))
			goto fail;
	}
	if (n > 0 && hasher_update(&t->h, f->buf, (size_t)n))
		goto fail;
	t->hashed += (uint64_t)n;
	if (n > 0 && !(t->hashed % FOLLOW_IO))
		keep(t, (size_t)(t->hashed / FOLLOW_IO) - 1, &t->h);
	t->more = n > 0;
	return n > 0;
fail:
	t->failed = 1;
	return -1;
}

static int how_now(struct stage_follow *f)
{
	int how;

	pthread_mutex_lock(&lock);
	how = f->how;
	pthread_mutex_unlock(&lock);
	return how;
}

static void *follow(void *arg)
{
	struct stage_follow *f = arg;
	int how;

	thread_nice(HASH_BESIDE_NICE);
	while ((how = how_now(f)) == RUN) {
		struct pollfd p[2] = { { f->ifd, POLLIN, 0 }, { f->wake, POLLIN, 0 } };
		int busy = 0;

		for (size_t i = 0; i < f->nf; i++)
			busy |= f->f[i].more && !f->f[i].failed;
		if (poll(p, 2, busy ? 0 : -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			take_events(f);
		for (size_t i = 0; i < f->nf; i++)
			if (f->f[i].more && !f->f[i].failed)
				step(f, &f->f[i], 0);
	}
	if (how != FINISH)
		return NULL;
	/* The commit came: rsync is done with what it renamed into place, so each is read to its end. */
	take_events(f);
	for (size_t i = 0; i < f->nf; i++) {
		struct followed *t = &f->f[i];

		while (!t->failed && step(f, t, 1) > 0)
			;
		t->done = !t->failed && !hasher_final(&t->h, t->hex);
	}
	return NULL;
}

static void follow_free(struct stage_follow *f)
{
	for (size_t i = 0; i < f->nf; i++) {
		hasher_free(&f->f[i].h);
		close(f->f[i].fd);
		states_free(f->f[i].now);
	}
	for (size_t i = 0; i < f->nw; i++) {
		close(f->w[i].dfd);
		if (f->w[i].bfd >= 0)
			close(f->w[i].bfd);
		states_free(f->w[i].was);
	}
	if (f->ifd >= 0)
		close(f->ifd);
	if (f->wake >= 0)
		close(f->wake);
	free(f->buf);
	free(f->was_buf);
	free(f);
}

/* Tells f's thread how to end, and waits for it. */
static void follow_stop(struct stage_follow *f, int how)
{
	uint64_t one = 1;

	pthread_mutex_lock(&lock);
	f->how = how;
	pthread_mutex_unlock(&lock);
	if (write(f->wake, &one, sizeof(one)) < 0)
		warning_errno("cannot wake the hash of push '%s'", f->id);
	pthread_join(f->thread, NULL);
}

/* Takes running[i] out; hold lock. */
static struct stage_follow *take_at(size_t i)
{
	struct stage_follow *f = running[i];

	memmove(&running[i], &running[i + 1], (FOLLOW_PUSHES_MAX - 1 - i) * sizeof(*running));
	running[FOLLOW_PUSHES_MAX - 1] = NULL;
	return f;
}

/* Out of running[]: id's, or with id NULL the oldest; NULL when none. */
static struct stage_follow *take(const char *id)
{
	struct stage_follow *f = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FOLLOW_PUSHES_MAX && running[i] && !f; i++)
		if (!id || !strcmp(running[i]->id, id))
			f = take_at(i);
	pthread_mutex_unlock(&lock);
	return f;
}

/* Watches the directory of l's big file it: 0, or -1 when it cannot (then it is hashed at the commit). */
static int watch(struct stage_follow *f, struct dir_cursor *dc, const struct push_item *it)
{
	struct watched *w = &f->w[f->nw];
	char proc[64];
	const char *name;
	int dir = dir_cursor_parent(dc, it->path, &name);

	if (dir < 0 || strlen(name) > NAME_MAX)
		return -1;
	w->dfd = fcntl(dir, F_DUPFD_CLOEXEC, 0);
	if (w->dfd < 0)
		return -1;
	/* The directory opened beneath staging/<txn>/, never a path someone could swap meanwhile. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->dfd);
	w->wd = inotify_add_watch(f->ifd, proc, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (w->wd < 0) {
		close(w->dfd);
		return -1;
	}
	snprintf(w->base, sizeof(w->base), "%s", name);
	/* The base linked at the begin, before rsync renames anything onto its name. */
	w->bfd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (w->bfd >= 0 && !(w->was = kept_take(it->base))) {
		close(w->bfd);
		w->bfd = -1;
	}
	f->nw++;
	return 0;
}

void stage_follow_begin(struct server *s, const char *id, const struct push_list *l, const unsigned char *up)
{
	struct stage_follow *f, *oldest = NULL;
	struct dir_cursor dc;
	int sfd;

	for (size_t i = 0; i < l->n; i++)
		if (up[i] && push_item_file(&l->v[i]) && l->v[i].base[0] && l->v[i].size >= FOLLOW_MIN_BYTES)
			goto big;
	return;
big:
	if (!(f = calloc(1, sizeof(*f))) || !(f->buf = malloc(FOLLOW_IO))) {
		free(f);
		return;
	}
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	f->wake = eventfd(0, EFD_CLOEXEC);
	sfd = openat(s->staging_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->ifd < 0 || f->wake < 0 || sfd < 0) {
		if (sfd >= 0)
			close(sfd);
		follow_free(f);
		return;
	}
	dir_cursor_init(&dc, sfd, 0, 0);
	for (size_t i = 0; i < l->n && f->nw < FOLLOW_ITEMS_MAX; i++) {
		const struct push_item *it = &l->v[i];

		if (up[i] && push_item_file(it) && it->base[0] && it->size >= FOLLOW_MIN_BYTES)
			watch(f, &dc, it);
	}
	dir_cursor_close(&dc);
	close(sfd);
	for (size_t i = 0; i < f->nw && !f->was_buf; i++)
		if (f->w[i].was)
			f->was_buf = malloc(FOLLOW_IO);	/* none: every piece is hashed */
	if (!f->nw || pthread_create(&f->thread, NULL, follow, f)) {
		follow_free(f);
		return;
	}
	pthread_mutex_lock(&lock);
	if (running[FOLLOW_PUSHES_MAX - 1])
		oldest = take_at(0);
	for (size_t i = 0; i < FOLLOW_PUSHES_MAX; i++)
		if (!running[i]) {
			running[i] = f;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (oldest) {
		follow_stop(oldest, DROP);
		follow_free(oldest);
	}
}

struct stage_follow *stage_follow_end(const char *id)
{
	struct stage_follow *f = take(id);

	if (f)
		follow_stop(f, FINISH);
	return f;
}

int stage_follow_digest(struct stage_follow *f, const struct stat *st, const char *want,
			char hex[HASH_HEX_LEN + 1])
{
	for (size_t i = 0; f && i < f->nf; i++) {
		struct followed *t = &f->f[i];

		if (t->done && t->st.st_dev == st->st_dev && t->st.st_ino == st->st_ino &&
		    t->hashed == (uint64_t)st->st_size) {
			if (!strcmp(t->hex, want))
				t->confirmed = 1;
			else if (t->rests)
				return 0;
			memcpy(hex, t->hex, HASH_HEX_LEN + 1);
			return 1;
		}
	}
	return 0;
}

void stage_follow_free(struct stage_follow *f)
{
	uint64_t skipped = 0;

	if (!f)
		return;
	for (size_t i = 0; i < f->nf; i++) {
		struct followed *t = &f->f[i];

		skipped += t->confirmed ? t->skipped : 0;
		if (t->confirmed && t->now && t->now->n) {
			memcpy(t->now->hex, t->hex, sizeof(t->hex));
			kept_put(t->now);
			t->now = NULL;
		}
	}
	/* For t/0228: the bytes found the same as the earlier version's, of the files confirmed. */
	test_hook_line(HOOK_FOLLOW_STATS, "skipped %llu", (unsigned long long)skipped);
	follow_free(f);
}

void stage_follow_drop(const char *id)
{
	struct stage_follow *f = id ? take(id) : NULL;

	if (f) {
		follow_stop(f, DROP);
		follow_free(f);
	}
}

void stage_follow_stop(void)
{
	struct stage_follow *f;

	while ((f = take(NULL))) {
		follow_stop(f, DROP);
		follow_free(f);
	}
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FOLLOW_KEPT_MAX; i++) {
		states_free(kept[i]);
		kept[i] = NULL;
	}
	pthread_mutex_unlock(&lock);
}
