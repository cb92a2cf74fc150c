/* beneath.c: paths opened below a directory fd and never through a symlink, for client and server. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "beneath.h"
#include "soc.h"
#include "testhook.h"

/* What the kernel offers, learnt at the first call: a kernel before 5.6, or a seccomp filter, has no openat2. */
enum { OPENAT2_UNKNOWN, OPENAT2_USABLE, OPENAT2_MISSING };
static int openat2_state;

static int have_openat2(void)
{
	int s = __atomic_load_n(&openat2_state, __ATOMIC_RELAXED), unknown = OPENAT2_UNKNOWN;

	if (s != OPENAT2_UNKNOWN)
		return s == OPENAT2_USABLE;
	/* A test hook: the walk below must keep working where the one call is missing. */
	s = test_hook_flag(HOOK_NO_OPENAT2) ? OPENAT2_MISSING : OPENAT2_USABLE;
	if (!__atomic_compare_exchange_n(&openat2_state, &unknown, s, 0, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		s = unknown;	/* another thread decided first */
	return s == OPENAT2_USABLE;
}

/*
 * One openat2(2) beneath dirfd through no symlink; -1 and errno, and
 * ENOSYS or EPERM (seccomp) marks it missing for the rest of the process.
 */
static int openat2_once(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && (errno == EINTR || errno == EAGAIN));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		__atomic_store_n(&openat2_state, OPENAT2_MISSING, __ATOMIC_RELAXED);
	return (int)fd;
}

/* An open of name in dir failed: ENOTDIR becomes ELOOP when name is a link, as openat2 says. */
static void link_is_eloop(int dir, const char *name)
{
	int e = errno;
	struct stat st;

	if (e == ENOTDIR && !fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		e = ELOOP;
	errno = e;
}

/*
 * The directory path[0..len) a component at a time from dirfd, each
 * opened flags | O_DIRECTORY | O_NOFOLLOW, made first when missing and
 * mkdir_mode is set, as how says (beneath_dir()). A link in the way is
 * ENOTDIR, or ELOOP with link_eloop. The fd (a new one for len 0 too), or
 * -1, errno and fail->at.
 */
static int walk(int dirfd, const char *path, size_t len, int flags, mode_t mkdir_mode, unsigned how,
		int link_eloop, struct beneath_fail *fail)
{
	size_t at = 0;
	int fd = dirfd;

	fail->at = len;
	fail->made = 0;
	if (!len)
		return openat(dirfd, ".", flags | O_DIRECTORY | O_CLOEXEC);
	while (at < len) {
		const char *p = path + at, *slash = memchr(p, '/', len - at);
		size_t n = slash ? (size_t)(slash - p) : len - at;
		char comp[PATH_COMPONENT_MAX + 1];
		int next = -1;

		if (n > PATH_COMPONENT_MAX) {
			errno = ENAMETOOLONG;
		} else {
			memcpy(comp, p, n);
			comp[n] = '\0';
			next = openat(fd, comp, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0 && errno == ENOENT && mkdir_mode) {
				int made = !mkdirat(fd, comp, mkdir_mode);

				if ((!made && errno != EEXIST) || ((how & BENEATH_DURABLE) && fsync(fd)))
					fail->made = 1;
				else
					next = openat(fd, comp, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (next >= 0 && made && (how & BENEATH_SPREAD))
					beneath_spread(next, 1);
			}
			if (next < 0 && link_eloop)
				link_is_eloop(fd, comp);
		}
		if (fd != dirfd) {
			int e = errno;

			close(fd);
			errno = e;
		}
		if (next < 0) {
			fail->at = at + n;
			return -1;
		}
		fd = next;
		at += n + 1;
	}
	return fd;
}

int beneath_open(int dirfd, const char *path, int flags)
{
	const char *slash, *base = path;
	struct beneath_fail fail;
	int dir = dirfd, fd;

	if (have_openat2()) {
		fd = openat2_once(dirfd, *path ? path : ".", flags);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return fd;
	}
	slash = strrchr(path, '/');
	if (slash) {
		dir = walk(dirfd, path, (size_t)(slash - path), O_PATH, 0, 0, 1, &fail);
		if (dir < 0)
			return -1;
		base = slash + 1;
	}
	fd = openat(dir, *base ? base : ".", flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && *base)
		link_is_eloop(dir, base);
	if (dir != dirfd) {
		int e = errno;

		close(dir);
		errno = e;
	}
	return fd;
}

int beneath_dir(int dirfd, const char *path, size_t len, mode_t mkdir_mode, unsigned how,
		struct beneath_fail *fail)
{
	struct beneath_fail f = { len, 0 };
	char dir[PATH_BYTES_MAX + 1];
	int fd;

	if (len <= PATH_BYTES_MAX && have_openat2()) {
		memcpy(dir, path, len);
		dir[len] = '\0';
		fd = openat2_once(dirfd, len ? dir : ".", O_RDONLY | O_DIRECTORY);
		if (fd >= 0)
			return fd;
		/* Missing, and no link before it (that would be ELOOP): the walk would find the same. */
		if (errno == ENOENT && !mkdir_mode)
			goto out;
	}
	fd = walk(dirfd, path, len, O_RDONLY, mkdir_mode, how, 0, &f);
	if (fd >= 0)
		return fd;
out:
	if (fail)
		*fail = f;
	return -1;
}

/*
 * ext4 makes a directory near its parent and a file in its directory's
 * block group and, without a journal, passes over every inode of that
 * group freed in the last minutes before it takes one (recently_deleted()).
 * A pull of 10,000 changed files made them all in the few groups of its
 * new directories under incoming/: the groups the last pull's files had
 * been made in, freed a moment before as this pull replaced them. 340 us
 * a create against rsync -a's 26 (bench/README). The mark (FS_TOPDIR_FL,
 * chattr +T) has ext4 spread a directory's subdirectories as it spreads a
 * filesystem's top ones, so each directory's files share a group with few
 * others. A hint only: where the ioctls fail (tmpfs, xfs, NFS) nothing
 * changes, and nothing needs to.
 */
void beneath_spread(int fd, int on)
{
	int flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) || !(flags & FS_TOPDIR_FL) == !on)
		return;
	flags ^= FS_TOPDIR_FL;
	(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
}
