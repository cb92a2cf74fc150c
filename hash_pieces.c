/*
 * hash_pieces.c: a big file's sha256, taken again after an edit from its
 * first changed piece on (issue 18: a 1 MiB edit in a 256 MiB file read
 * the whole file through sha256 at every push).
 *
 * sha256 reads a file from its start, so its state after the pieces
 * before the first changed byte is the earlier content's state there.
 * The last hash of a file leaves, for each whole piece, the sha256 state
 * after it and a cheap sum of its bytes (struct pieces). The next hash
 * reads the file, sums each piece and compares it with the sum kept;
 * from the first that differs it hashes on from the state kept before it.
 *
 * A sum is no proof: two pieces may share one. So a digest taken so is a
 * claim someone must check, never a fact (*resumed): the server checks a
 * push's claim against the bytes rsync staged (a wrong one is a 422),
 * and push_later.c hashes a file whole when a resumed digest says it
 * holds its base, since nobody would check that.
 *
 * The states come from OpenSSL's SHA256_CTX, the one sha256 of libcrypto
 * whose state can be saved (an EVP context cannot be); the same code and
 * the same CPU instructions do the hashing.
 */
#define OPENSSL_SUPPRESS_DEPRECATED	/* SHA256_CTX: see above */
#include <errno.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "soc.h"
#include "testhook.h"

#define PIECES_IO (1 << 20)		/* one read, and the sum's unit */
#define STATE_BYTES 32			/* sha256's eight words */

static uint64_t rotl64(uint64_t x, unsigned r)
{
	return x << r | x >> (64 - r);
}

/*
 * A piece's sum: xxHash64's rounds, four lanes of 8 bytes, over n bytes
 * (a multiple of 32 but for a file's last piece, whose tail is mixed in
 * bytewise). Fast (the lanes multiply side by side), and any change
 * to a piece changes it but for a chance of 2^-64.
 */
#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL

static uint64_t sum_bytes(uint64_t seed, const unsigned char *p, size_t n)
{
	uint64_t v[4] = { seed + P1 + P2, seed + P2, seed, seed - P1 };
	size_t i = 0;
	uint64_t h;

	for (; i + 32 <= n; i += 32)
		for (int l = 0; l < 4; l++) {
			uint64_t w;

			memcpy(&w, p + i + 8 * l, 8);
			v[l] = rotl64(v[l] + w * P2, 31) * P1;
		}
	h = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18) + n;
	for (; i < n; i++)
		h = rotl64(h ^ (p[i] * P1), 11) * P2;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	return h;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Records are STATE_BYTES of state (big-endian words), then the sum (little-endian). */
static void record(unsigned char *rec, const SHA256_CTX *c, uint64_t sum)
{
	for (int i = 0; i < 8; i++)
		put_be32(rec + 4 * i, c->h[i]);
	for (int i = 0; i < 8; i++)
		rec[STATE_BYTES + i] = (unsigned char)(sum >> (8 * i));
}

static uint64_t rec_sum(const unsigned char *rec)
{
	uint64_t s = 0;

	for (int i = 7; i >= 0; i--)
		s = s << 8 | rec[STATE_BYTES + i];
	return s;
}

/* c as it was after `bytes` (a multiple of 64) bytes that left the state in rec. */
static void restore(SHA256_CTX *c, const unsigned char *rec, uint64_t bytes)
{
	uint64_t bits = bytes * 8;

	SHA256_Init(c);
	for (int i = 0; i < 8; i++)
		c->h[i] = get_be32(rec + 4 * i);
	c->Nl = (SHA_LONG)bits;
	c->Nh = (SHA_LONG)(bits >> 32);
}

/* The least piece (a power of two, PIECES_IO at least) that keeps a file of size to PIECES_MAX of them. */
static unsigned shift_for(uint64_t size)
{
	unsigned s = PIECE_MIN_SHIFT;

	while ((size >> s) > PIECES_MAX)
		s++;
	return s;
}

static ssize_t pread_full(int fd, unsigned char *buf, size_t n, uint64_t at)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(at + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The sum of the piece at `at` (len bytes): 0; 1 when the file is shorter now; -1 and errno. */
static int sum_piece(int fd, unsigned char *buf, uint64_t at, uint64_t len, uint64_t *sum)
{
	uint64_t s = 0;

	for (uint64_t done = 0; done < len;) {
		size_t want = len - done < PIECES_IO ? (size_t)(len - done) : PIECES_IO;
		ssize_t n = pread_full(fd, buf, want, at + done);

		if (n < 0)
			return -1;
		if ((size_t)n < want)
			return 1;
		s = sum_bytes(s, buf, (size_t)n);
		done += (uint64_t)n;
	}
	*sum = s;
	return 0;
}

void pieces_free(struct pieces *p)
{
	free(p->rec);
	memset(p, 0, sizeof(*p));
}

int pieces_hash(int fd, const struct pieces *was, struct pieces *now, char hex[HASH_HEX_LEN + 1],
		uint64_t *size, uint64_t *resumed)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	uint64_t at = 0, piece, sum = 0, in_piece = 0;
	unsigned char *buf;
	struct stat st;
	SHA256_CTX c;
	size_t k = 0, cap;
	int collide = test_hook_flag(HOOK_PIECES_COLLIDE);

	*resumed = 0;
	memset(now, 0, sizeof(*now));
	if (fstat(fd, &st))
		return -1;
	now->shift = shift_for((uint64_t)st.st_size);
	piece = (uint64_t)1 << now->shift;
	cap = (uint64_t)st.st_size >> now->shift;
	if (cap > PIECES_MAX)
		cap = PIECES_MAX;
	buf = malloc(PIECES_IO);
	now->rec = cap ? calloc(cap, PIECE_REC) : NULL;
	if (!buf || (cap && !now->rec)) {
		free(buf);
		pieces_free(now);
		errno = ENOMEM;
		return -1;
	}
	/* The pieces whose sums are those kept: their states are taken, not computed. */
	if (was && was->shift == now->shift)
		for (; k < was->n && k < cap; k++) {
			const unsigned char *r = was->rec + k * PIECE_REC;
			int got = sum_piece(fd, buf, k * piece, piece, &sum);

			if (got < 0)
				goto fail;
			/* Shorter than at the start: what there is gets hashed. */
			if (got || (sum != rec_sum(r) && !collide))
				break;
			memcpy(now->rec + k * PIECE_REC, r, PIECE_REC);
		}
	if (k) {
		restore(&c, now->rec + (k - 1) * PIECE_REC, k * piece);
		*resumed = k * piece;
	} else {
		SHA256_Init(&c);
	}
	now->n = k;
	at = k * piece;
	sum = 0;
	for (;;) {
		size_t want = piece - in_piece < PIECES_IO ? (size_t)(piece - in_piece) : PIECES_IO;
		ssize_t n = pread_full(fd, buf, want, at);

		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		SHA256_Update(&c, buf, (size_t)n);
		sum = sum_bytes(sum, buf, (size_t)n);
		at += (uint64_t)n;
		in_piece += (uint64_t)n;
		if (in_piece == piece) {
			if (now->n < cap)
				record(now->rec + now->n++ * PIECE_REC, &c, sum);
			sum = in_piece = 0;
		}
	}
	free(buf);
	SHA256_Final(digest, &c);
	hash_from_raw(digest, hex);
	if (size)
		*size = at;
	return 0;
fail:
	free(buf);
	pieces_free(now);
	return -1;
}
