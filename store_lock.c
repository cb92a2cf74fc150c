/*
 * store_lock.c: one soc serve on a root at a time. A second server on a
 * root would take the first one's pushes in flight for strays and sweep
 * them, or recover them as its own; a migration must not run under a
 * server either. A server holds ROOT/serve.lock (flock, exclusive) for
 * its life, and the kernel lets it go with the process, however it ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "serve.h"

int store_lock(struct server *s)
{
	int fd = openat(s->root_fd, SERVE_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_errno("cannot open '%s/" SERVE_LOCK_FILE "'", s->root);
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		if (e == EWOULDBLOCK)
			return error("another soc serve runs on '%s'; stop it first", s->root);
		errno = e;
		return error_errno("cannot lock '%s/" SERVE_LOCK_FILE "'", s->root);
	}
	s->lock_fd = fd;
	return 0;
}
