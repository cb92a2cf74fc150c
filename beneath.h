/*
 * beneath.h: opening a path below a directory fd, never through a symbolic
 * link, for the client's workspace and the server's trees alike.
 */
#ifndef SOC_BENEATH_H
#define SOC_BENEATH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * openat(dirfd, path, flags) that stays beneath dirfd and follows no
 * symbolic link on the way nor at the end (O_CLOEXEC added): one
 * openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or, where the
 * kernel has none (ENOSYS, or EPERM from a seccomp filter), a walk one
 * component at a time with O_NOFOLLOW. path "" opens dirfd's directory.
 * The fd, or -1 with errno, the same either way: ELOOP for a link in the
 * way or at the end, ENOTDIR for a file in the way, ENOENT...
 * O_PATH | O_NOFOLLOW opens a final link itself, as openat does.
 */
int beneath_open(int dirfd, const char *path, int flags);

/* Where beneath_dir() stopped, for the caller's message. */
struct beneath_fail {
	size_t at;	/* path[0..at) is the directory that could not be opened or made */
	int made;	/* 1: making it failed (mkdirat, or the fsync after); 0: the open did */
};

/*
 * The directory path[0..len) below dirfd, opened O_RDONLY | O_DIRECTORY
 * (an fd to read or fsync, the caller's to close), never through a link.
 * One openat2(2) first; when it fails, the walk (O_NOFOLLOW, a component
 * at a time) finds where, and its errno stands (ENOTDIR for a link in
 * the way: a delete below it finds nothing there), but for ENOENT when
 * mkdir_mode is 0: nothing to make, the one call's answer stands (with
 * fail->at = len). With mkdir_mode, a missing directory is made with it
 * (EEXIST is fine: someone made it first), and how says what else: with
 * BENEATH_DURABLE the directory it was made in is fsync'd before the walk
 * goes on, with BENEATH_SPREAD it is marked by beneath_spread(). len 0
 * opens dirfd's directory again. -1 with errno, and *fail (when not NULL)
 * set.
 */
#define BENEATH_DURABLE	1
#define BENEATH_SPREAD	2
int beneath_dir(int dirfd, const char *path, size_t len, mode_t mkdir_mode, unsigned how,
		struct beneath_fail *fail);

/*
 * Marks the directory fd (on 1) for ext4 to spread the directories made
 * in it over the disk's block groups, or takes the mark off (on 0); a
 * filesystem with no such mark is left as it is.
 */
void beneath_spread(int fd, int on);

#endif
