/*
 * hash.c: sha256, the content identity, streamed through OpenSSL's
 * libcrypto (which uses the CPU's SHA instructions where it has them);
 * md5 through libmd only to read what an older soc recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <md5.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "soc.h"

#define SHA256_BYTES 32

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

int hasher_init(struct hasher *h)
{
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int hasher_update(struct hasher *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) ? 0 : -1;
}

int hasher_final(struct hasher *h, char hex[HASH_HEX_LEN + 1])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok = EVP_DigestFinal_ex(h->ctx, digest, &n) && n == SHA256_BYTES;

	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	if (!ok) {
		errno = EIO;
		return -1;
	}
	to_hex(digest, n, hex);
	return 0;
}

void hasher_free(struct hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int hash_fd(int fd, char hex[HASH_HEX_LEN + 1], uint64_t *size)
{
	uint8_t chunk[HASH_CHUNK];
	uint64_t total = 0;
	struct hasher h;
	ssize_t n;

	if (hasher_init(&h))
		return -1;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hasher_free(&h);
			return -1;
		}
		if (n == 0)
			break;
		if (hasher_update(&h, chunk, (size_t)n)) {
			hasher_free(&h);
			errno = EIO;
			return -1;
		}
		total += (uint64_t)n;
	}
	if (hasher_final(&h, hex))
		return -1;
	if (size)
		*size = total;
	return 0;
}

int hash_file_is(int dir, const char *name, const char *hex, int64_t size)
{
	char got[HASH_HEX_LEN + 1];
	struct stat st;
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = !fstat(fd, &st) && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size) &&
	     !hash_fd(fd, got, NULL) && !strcmp(got, hex);
	close(fd);
	return ok;
}

static int hex_valid(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[len] == '\0';
}

int hash_hex_valid(const char *s)
{
	return hex_valid(s, HASH_HEX_LEN);
}

int md5_hex_valid(const char *s)
{
	return hex_valid(s, MD5_HEX_LEN);
}

void sha256_hex(const void *p, size_t n, char hex[HASH_HEX_LEN + 1])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(p, n, digest, &len, EVP_sha256(), NULL) || len != SHA256_BYTES)
		die("cannot compute a sha256");
	to_hex(digest, len, hex);
}

int md5_fd(int fd, char hex[MD5_HEX_LEN + 1], char sha[HASH_HEX_LEN + 1])
{
	uint8_t chunk[HASH_CHUNK];
	uint8_t digest[MD5_DIGEST_LENGTH];
	struct hasher h;
	MD5_CTX ctx;
	ssize_t n;

	if (sha && hasher_init(&h))
		return -1;
	MD5Init(&ctx);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		MD5Update(&ctx, chunk, (size_t)n);
		if (sha && hasher_update(&h, chunk, (size_t)n)) {
			n = -1;
			break;
		}
	}
	if (n < 0) {
		if (sha)
			hasher_free(&h);
		return -1;
	}
	MD5Final(digest, &ctx);
	to_hex(digest, sizeof(digest), hex);
	return sha ? hasher_final(&h, sha) : 0;
}
