/*
 * pull_durable.c: what a pull placed is on disk before the index says
 * so: an fsync a path and its directories for a few, one syncfs for many.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "pull.h"
#include "testhook.h"

/*
 * fsyncs path (when it is there) and every directory above it but the
 * root, but for synced[0..nsynced) and the directories above it, which
 * an earlier call synced. 1 when it got to the directories, 0 when they
 * are gone, -1 and errno.
 */
static int sync_path(int root, const char *path, const char *synced, size_t nsynced)
{
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	int parent = beneath_dir(root, path, slash ? (size_t)(slash - path) : 0, 0, 0, NULL), fd, rc;

	if (parent < 0)
		return errno == ENOENT ? 0 : -1;	/* a delete took its directory too */
	fd = openat(parent, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(parent);
	if (fd < 0 && errno != ENOENT)
		return -1;
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
		if (rc)
			return -1;
	}
	/* Then each directory above it: one the pull made must still be there after a crash. */
	for (;;) {
		while (len && path[len - 1] != '/')
			len--;
		if (!len)
			return 1;
		len--;	/* the slash: path[0..len) is the directory */
		if (len <= nsynced && !strncmp(path, synced, len) &&
		    (len == nsynced || synced[len] == '/'))
			return 1;
		fd = beneath_dir(root, path, len, 0, 0, NULL);
		if (fd < 0)
			return -1;	/* something in the way: the caller syncs it all */
		rc = fsync(fd);
		close(fd);
		if (rc)
			return -1;
	}
}

/*
 * What the apply did is on disk before the index says so. Downloads are
 * written by rsync and renamed, and nothing forces their data out: after
 * a power cut a file could come back empty while the index, committed
 * and fsync'd, names the server's sha256 as its base, and the next push
 * would send the empty file over the server's good one. Up to
 * PULL_SYNC_EACH_MAX paths each get an fsync, with every directory above
 * them; more (or a path that cannot be synced on its own) get one
 * syncfs(2) of the workspace's filesystem, as the server does for a
 * large push (an fsync a file cost a device flush a file).
 */
int pull_make_durable(int root, const struct plan *p)
{
	int each = p->nplaced <= PULL_SYNC_EACH_MAX;
	const char *synced = "";	/* the directory of the last path whose directories were synced */
	size_t nsynced = 0;

	if (!p->nplaced)
		return 0;
	if (test_hook_flag(HOOK_SYNC_FAIL)) {	/* a test hook: the disk refuses */
		errno = EIO;
		return error_errno("cannot make the pulled files durable");
	}
	/* Rows come in path order: a path's directory is mostly the one before's. */
	for (size_t i = 0; each && i < p->nplaced; i++) {
		int rc = sync_path(root, p->placed[i], synced, nsynced);
		const char *slash = strrchr(p->placed[i], '/');

		each = rc >= 0;
		if (rc > 0) {
			synced = p->placed[i];
			nsynced = slash ? (size_t)(slash - synced) : 0;
		}
	}
	if (each ? fsync(root) : syncfs(root))
		return error_errno("cannot make the pulled files durable");
	return 0;
}

