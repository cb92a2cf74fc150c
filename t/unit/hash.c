/*
 * sha256, the content identity: the standard's test vectors through the
 * one-shot, streamed and piecewise forms alike, and the hex and byte
 * forms the wire and the index keep, with what each refuses.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soc.h"
#include "tap.h"

#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static int fd_of(const void *p, size_t n)
{
	int fd[2];

	if (pipe(fd) || write(fd[1], p, n) != (ssize_t)n)
		abort();
	close(fd[1]);
	return fd[0];
}

int main(void)
{
	char hex[HASH_HEX_LEN + 1], back[HASH_HEX_LEN + 1];
	uint8_t raw[HASH_RAW_LEN];
	uint64_t size = 0;
	struct hasher h;
	char *a = malloc(1000000);
	int fd;

	sha256_hex("abc", 3, hex);
	ok(!strcmp(hex, ABC), "sha256(\"abc\"), FIPS 180-2's vector");
	sha256_hex("", 0, hex);
	ok(!strcmp(hex, EMPTY), "sha256 of nothing");
	fd = fd_of("abc", 3);
	ok(!hash_fd(fd, hex, &size) && !strcmp(hex, ABC) && size == 3, "hash_fd streams to the same digest and size");
	close(fd);

	memset(a, 'a', 1000000);
	ok(!hasher_init(&h), "a hasher starts");
	for (int i = 0; i < 1000; i++)
		hasher_update(&h, a + i * 1000, 1000);
	ok(!hasher_final(&h, hex) && !strcmp(hex, MILLION_A), "a million 'a's fed in thousands: the vector");
	ok(!hasher_init(&h) && !hasher_update(&h, "ab", 2) && !hasher_update(&h, "c", 1) &&
	   !hasher_final(&h, hex) && !strcmp(hex, ABC), "a second hasher on the same thread starts clean");
	ok(!hasher_init(&h), "a hasher dropped unfinished");
	hasher_free(&h);

	ok(!hash_to_raw(ABC, raw) && raw[0] == 0xba && raw[31] == 0xad, "hex to bytes");
	hash_from_raw(raw, back);
	ok(!strcmp(back, ABC), "and back");
	ok(hash_hex_valid(ABC) && !hash_hex_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
	   "only lowercase hex is a digest");
	ok(hash_to_raw("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", raw) == -1,
	   "upper case refused");
	ok(hash_to_raw("ba7816bf", raw) == -1, "short refused");
	ok(hash_to_raw(ABC "00", raw) == -1, "long refused");
	ok(hash_to_raw("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", raw) == -1,
	   "a letter past f refused");
	ok(hash_to_raw("", raw) == -1, "nothing refused");
	free(a);
	return tap_done();
}
