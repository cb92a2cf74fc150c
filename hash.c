/*
 * hash.c: sha256, the content identity, streamed through OpenSSL's
 * libcrypto (which uses the CPU's SHA instructions where it has them);
 * md5 through libmd only to read what an older soc recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <md5.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "soc.h"

#define SHA256_BYTES HASH_RAW_LEN

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

/*
 * The digest is fetched once, and each thread keeps one spare context:
 * a scan hashes 100,000 small files, and OpenSSL 3's fetch and context
 * allocation per file cost more than hashing a few bytes.
 */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t spare_key;

static void spare_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void fetch_once(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&spare_key, spare_free))
		die("cannot create a thread key");
}

int hasher_init(struct hasher *h)
{
	pthread_once(&once, fetch_once);
	h->ctx = pthread_getspecific(spare_key);
	if (h->ctx)
		pthread_setspecific(spare_key, NULL);
	else
		h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !sha256_md || !EVP_DigestInit_ex2(h->ctx, sha256_md, NULL)) {
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

void hasher_free(struct hasher *h)
{
	if (h->ctx && !pthread_getspecific(spare_key) && !pthread_setspecific(spare_key, h->ctx))
		h->ctx = NULL;
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int hasher_copy(struct hasher *to, const struct hasher *from)
{
	if (!to->ctx && !(to->ctx = EVP_MD_CTX_new())) {
		errno = ENOMEM;
		return -1;
	}
	if (!EVP_MD_CTX_copy_ex(to->ctx, from->ctx)) {
		hasher_free(to);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int hasher_final(struct hasher *h, char hex[HASH_HEX_LEN + 1])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok = EVP_DigestFinal_ex(h->ctx, digest, &n) && n == SHA256_BYTES;

	hasher_free(h);
	if (!ok) {
		errno = EIO;
		return -1;
	}
	to_hex(digest, n, hex);
	return 0;
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

/* A hex digit's value plus one, 0 for any other byte: a table, as the index converts 100,000 digests a scan. */
static const uint8_t digit1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/*
 * By the table, not by ranges: a digest's digits are random, and the
 * branch between 0-9 and a-f was mispredicted a digit (8% of a
 * million-file push's client, perf).
 */
int hex_span(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++)
		if (!digit1[p[i]])
			return 0;
	return 1;
}

static int hex_valid(const char *s, size_t len)
{
	return hex_span(s, len) && s[len] == '\0';
}

int hash_to_raw(const char *hex, uint8_t raw[HASH_RAW_LEN])
{
	const unsigned char *p = (const unsigned char *)hex;

	for (size_t i = 0; i < HASH_RAW_LEN; i++) {
		uint8_t hi = digit1[p[2 * i]], lo;

		if (!hi || !(lo = digit1[p[2 * i + 1]]))
			return -1;
		raw[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return p[HASH_HEX_LEN] ? -1 : 0;
}

void hash_from_raw(const uint8_t raw[HASH_RAW_LEN], char hex[HASH_HEX_LEN + 1])
{
	to_hex(raw, HASH_RAW_LEN, hex);
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
