/*
 * link.c: symlinks as soc keeps them (DESIGN.md section 12): a link is a
 * file whose content is its target string, verbatim; soc reads it, hashes
 * it and makes it, and never follows it, on either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

int link_read(int dirfd, const char *name, char *buf, size_t *len)
{
	/* One byte more than a target may have: a longer one is seen, not cut. */
	ssize_t n = readlinkat(dirfd, name, buf, LINK_TARGET_MAX + 1);

	if (n < 0)
		return -1;
	if (n == 0 || n > LINK_TARGET_MAX) {
		errno = n ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	buf[n] = '\0';
	if (!utf8_valid(buf, (size_t)n)) {
		errno = EILSEQ;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int link_hash(int dirfd, const char *name, char hash[HASH_HEX_LEN + 1], uint64_t *len)
{
	char target[LINK_TARGET_MAX + 1];
	size_t n;

	if (link_read(dirfd, name, target, &n))
		return -1;
	sha256_hex(target, n, hash);
	*len = n;
	return 0;
}

int link_make(int dirfd, const char *name, const char *target, long long mtime)
{
	struct timespec t[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)mtime } };

	if (symlinkat(target, dirfd, name))
		return -1;
	/* The link's own time: a later scan then sees what the index records. */
	return utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW);
}

const char *link_error(int err)
{
	if (err == EILSEQ)
		return "its target is not UTF-8";
	if (err == ENAMETOOLONG)
		return "its target is longer than 4095 bytes";
	return strerror(err);
}
