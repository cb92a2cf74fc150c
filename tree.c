/*
 * tree.c: the server's directory trees (files/, staging/, commit/) from a
 * directory fd, never through a symlink: parents opened or made (by
 * beneath.c) and kept while paths share them, whole trees removed, files
 * copied. Every path handed in is a soc path (wire.c checked it),
 * relative to the tree's fd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "serve.h"

#define TREE_DEPTH_MAX (PATH_BYTES_MAX / 2 + 2)	/* deeper than any valid path makes */
#define REMOVE_TRIES 3		/* a tree rsync is still writing into may refill once or twice */
#define COPY_CHUNK (1 << 30)	/* bytes one copy_file_range() call may move */

void dir_cursor_init(struct dir_cursor *dc, int root, mode_t mkdir_mode, int durable)
{
	dc->root = root;
	dc->mkdir_mode = mkdir_mode;
	dc->durable = durable;
	dc->dirty = 0;
	dc->fd = -1;
	dc->dir.p = NULL;
	dc->dir.len = dc->dir.cap = 0;
}

/* A directory whose entries changed reaches the disk before the cursor leaves it. */
static int cursor_leave(struct dir_cursor *dc)
{
	int rc = 0;

	if (dc->fd < 0)
		return 0;
	if (dc->dirty && dc->durable && fsync(dc->fd))
		rc = -1;
	if (dc->fd != dc->root) {
		int e = errno;

		close(dc->fd);
		errno = e;
	}
	dc->fd = -1;
	dc->dirty = 0;
	buf_reset(&dc->dir);
	return rc;
}

int dir_cursor_sync(struct dir_cursor *dc)
{
	if (dc->fd >= 0 && dc->dirty && dc->durable && fsync(dc->fd))
		return -1;
	dc->dirty = 0;
	return 0;
}

void dir_cursor_close(struct dir_cursor *dc)
{
	cursor_leave(dc);
	buf_free(&dc->dir);
}

int dir_cursor_parent(struct dir_cursor *dc, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	int fd;

	*name = slash ? slash + 1 : path;
	if (dc->fd >= 0 && dc->dir.len == dlen && !memcmp(dc->dir.p, path, dlen))
		return dc->fd;
	if (cursor_leave(dc))
		return -1;
	if (!dlen) {
		dc->fd = dc->root;
		buf_addstr(&dc->dir, "");
		return dc->fd;
	}
	fd = beneath_dir(dc->root, path, dlen, dc->mkdir_mode, dc->durable ? BENEATH_DURABLE : 0, NULL);
	if (fd < 0)
		return -1;
	dc->fd = fd;
	buf_add(&dc->dir, path, dlen);
	return fd;
}

static int remove_at(int dir, const char *name, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd, tries, rc = 0;

	if (!unlinkat(dir, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth >= TREE_DEPTH_MAX) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	for (tries = 1;; tries++) {
		rewinddir(d);
		while ((errno = 0, de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (remove_at(dirfd(d), de->d_name, depth + 1))
				rc = -1;
		}
		if (errno)
			rc = -1;
		if (rc || !unlinkat(dir, name, AT_REMOVEDIR) || errno == ENOENT)
			break;
		if ((errno != ENOTEMPTY && errno != EEXIST) || tries == REMOVE_TRIES) {
			rc = -1;
			break;
		}
	}
	{
		int e = errno;

		closedir(d);
		errno = e;
	}
	return rc;
}

int remove_tree(int dir, const char *name)
{
	return remove_at(dir, name, 0);
}

int dir_empty(int fd)
{
	int dup_fd = dup(fd), n = 0;
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	struct dirent *de;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	while (!n && (errno = 0, de = readdir(d)))
		n = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (!n && errno) {
		int e = errno;

		closedir(d);
		errno = e;
		return -1;
	}
	closedir(d);
	return !n;
}

int copy_file_at(int src, int dir, const char *name, mode_t mode)
{
	char chunk[HASH_CHUNK];
	int fd;

	if (lseek(src, 0, SEEK_SET) < 0)
		return -1;
	if (unlinkat(dir, name, 0) && errno != ENOENT)
		return -1;
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = copy_file_range(src, NULL, fd, NULL, COPY_CHUNK, 0);

		if (n > 0)
			continue;
		if (!n)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			goto fail;
		/* No kernel copy here: an ordinary one, from where it stopped. */
		for (;;) {
			ssize_t r = read(src, chunk, sizeof(chunk)), w = 0;

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				goto fail;
			if (!r)
				break;
			while (w < r) {
				ssize_t k = write(fd, chunk + w, (size_t)(r - w));

				if (k < 0 && errno == EINTR)
					continue;
				if (k < 0)
					goto fail;
				w += k;
			}
		}
		break;
	}
	if (fchmod(fd, mode))
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		unlinkat(dir, name, 0);
		errno = e;
	}
	return -1;
}
