/*
 * hash_follow.c: the sha256 of a file while it is written, on a thread
 * of its own that reads each piece back a little behind the writer. A
 * big download is then one pass of the network and the disk with the
 * hash beside it on another core, not the hash after it (bench/README,
 * "a big new file pulled by GET blob").
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "soc.h"

#define FOLLOW_IO (1 << 20)		/* one read back */

struct hash_follow {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;
	int fd;
	struct hasher h;
	uint64_t written;	/* bytes the writer has put in the file, from its start */
	uint64_t hashed;	/* the thread's alone */
	int done;		/* the writer wrote its last */
	int failed;		/* errno of a failed read; the thread stopped */
};

static void *follow(void *arg)
{
	struct hash_follow *f = arg;
	char *buf = malloc(FOLLOW_IO);

	if (!buf)
		f->failed = ENOMEM;
	while (!f->failed) {
		uint64_t avail;
		int done;
		ssize_t n;

		pthread_mutex_lock(&f->lock);
		while (f->written == f->hashed && !f->done)
			pthread_cond_wait(&f->more, &f->lock);
		avail = f->written - f->hashed;
		done = f->done;
		pthread_mutex_unlock(&f->lock);
		if (!avail && done)
			break;
		n = pread(f->fd, buf, avail < FOLLOW_IO ? (size_t)avail : FOLLOW_IO, (off_t)f->hashed);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			f->failed = n < 0 ? errno : EIO;
		else if (hasher_update(&f->h, buf, (size_t)n))
			f->failed = ENOMEM;
		else
			f->hashed += (uint64_t)n;
	}
	free(buf);
	return NULL;
}

struct hash_follow *hash_follow_start(int fd)
{
	struct hash_follow *f;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->fd = fd;
	if (hasher_init(&f->h)) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->more, NULL);
	if (pthread_create(&f->thread, NULL, follow, f)) {
		hasher_free(&f->h);
		pthread_cond_destroy(&f->more);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return NULL;
	}
	return f;
}

void hash_follow_wrote(struct hash_follow *f, uint64_t n)
{
	pthread_mutex_lock(&f->lock);
	f->written += n;
	pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->lock);
}

int hash_follow_end(struct hash_follow *f, char hex[HASH_HEX_LEN + 1])
{
	int rc;

	pthread_mutex_lock(&f->lock);
	f->done = 1;
	pthread_cond_signal(&f->more);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	if (f->failed) {
		hasher_free(&f->h);
		errno = f->failed;
		rc = -1;
	} else {
		rc = hasher_final(&f->h, hex);
	}
	pthread_cond_destroy(&f->more);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return rc;
}
