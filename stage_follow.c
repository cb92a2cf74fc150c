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

enum { RUN, FINISH, DROP };

struct watched {
	int wd, dfd;		/* the directory's watch, and the directory */
	char base[NAME_MAX + 1];	/* the staged file's name */
};

struct followed {
	int fd;
	struct stat st;		/* dev and ino: which inode */
	struct hasher h;
	uint64_t hashed;
	int more;		/* may have grown since the last read reached its end */
	int failed;
	int done;		/* read to its end at the commit: hex is its digest */
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
	char *buf;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stage_follow *running[FOLLOW_PUSHES_MAX];	/* oldest first */

/* rsync's temporary for base: "." base "." and six characters. */
static int temp_of(const char *name, const char *base)
{
	size_t n = strlen(name), b = strlen(base);

	return n == 1 + b + TEMP_SUFFIX_LEN && name[0] == '.' && !memcmp(name + 1, base, b) &&
	       name[1 + b] == '.';
}

static void open_temp(struct stage_follow *f, int dfd, const char *name)
{
	struct followed *t = &f->f[f->nf];
	int fd;

	if (f->nf == FOLLOW_FILES_MAX)
		return;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	memset(t, 0, sizeof(*t));
	if (fstat(fd, &t->st) || !S_ISREG(t->st.st_mode) || hasher_init(&t->h)) {
		close(fd);
		return;
	}
	t->fd = fd;
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
					open_temp(f, f->w[i].dfd, e->name);
					break;
				}
		}
	}
	for (size_t i = 0; i < f->nf; i++)
		f->f[i].more = 1;
}

/* One read of t: 1 when it read bytes, 0 at its end (for now), -1 when it failed. */
static int step(struct stage_follow *f, struct followed *t)
{
	ssize_t n = pread(t->fd, f->buf, FOLLOW_IO, (off_t)t->hashed);

	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0 || (n > 0 && hasher_update(&t->h, f->buf, (size_t)n))) {
		t->failed = 1;
		return -1;
	}
	t->hashed += (uint64_t)n;
	t->more = n > 0;
	return n > 0;
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
				step(f, &f->f[i]);
	}
	if (how != FINISH)
		return NULL;
	/* The commit came: rsync is done with what it renamed into place, so each is read to its end. */
	take_events(f);
	for (size_t i = 0; i < f->nf; i++) {
		struct followed *t = &f->f[i];

		while (!t->failed && step(f, t) > 0)
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
	}
	for (size_t i = 0; i < f->nw; i++)
		close(f->w[i].dfd);
	if (f->ifd >= 0)
		close(f->ifd);
	if (f->wake >= 0)
		close(f->wake);
	free(f->buf);
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

int stage_follow_digest(const struct stage_follow *f, const struct stat *st, char hex[HASH_HEX_LEN + 1])
{
	for (size_t i = 0; f && i < f->nf; i++) {
		const struct followed *t = &f->f[i];

		if (t->done && t->st.st_dev == st->st_dev && t->st.st_ino == st->st_ino &&
		    t->hashed == (uint64_t)st->st_size) {
			memcpy(hex, t->hex, HASH_HEX_LEN + 1);
			return 1;
		}
	}
	return 0;
}

void stage_follow_free(struct stage_follow *f)
{
	if (f)
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
}
