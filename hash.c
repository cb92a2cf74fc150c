/* hash.c: streaming md5 and sha256 through libmd, shared by the scanner and the server. */
#include <errno.h>
#include <fcntl.h>
#include <md5.h>
#include <sha2.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "soc.h"

static void to_hex(const uint8_t *d, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * n] = '\0';
}

int md5_fd(int fd, char hex[MD5_HEX_LEN + 1], uint64_t *size)
{
	uint8_t chunk[HASH_CHUNK];
	uint8_t digest[MD5_DIGEST_LENGTH];
	uint64_t total = 0;
	MD5_CTX ctx;
	ssize_t n;

	MD5Init(&ctx);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		MD5Update(&ctx, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	MD5Final(digest, &ctx);
	to_hex(digest, sizeof(digest), hex);
	if (size)
		*size = total;
	return 0;
}

int md5_file_is(int dir, const char *name, const char *md5, int64_t size)
{
	char got[MD5_HEX_LEN + 1];
	struct stat st;
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = !fstat(fd, &st) && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size) &&
	     !md5_fd(fd, got, NULL) && !strcmp(got, md5);
	close(fd);
	return ok;
}

int md5_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; i < MD5_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[MD5_HEX_LEN] == '\0';
}

void sha256_hex(const void *p, size_t n, char hex[65])
{
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA2_CTX ctx;

	SHA256Init(&ctx);
	SHA256Update(&ctx, p, n);
	SHA256Final(digest, &ctx);
	to_hex(digest, sizeof(digest), hex);
}
