/*
 * t/fuzz/ignore.c: libFuzzer driver for .socignore. The input is the text
 * of a .socignore, a NUL, then NUL-separated paths. Beyond "does not
 * crash or hang" (every match is O(pattern x path)), it checks what the
 * walk relies on: answers are 0 or 1 and the same when asked twice,
 * whatever is below an ignored directory is ignored, and .soc always is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t rules = nul ? (size_t)(nul - text) : size, at = rules + 1;
	struct ignore ig;

	ignore_parse(&ig, text, rules);
	while (at < size) {
		const char *p = text + at;
		const char *end = memchr(p, '\0', size - at);
		size_t n = end ? (size_t)(end - p) : size - at;
		/* Exactly n bytes, so ASan sees any read past the end; room for a suffix after. */
		char *path = malloc(n + sizeof("/.soc/x"));

		check(path != NULL);
		memcpy(path, p, n);
		for (int dir = 0; dir < 2; dir++) {
			int m = ignore_match(&ig, path, n, dir);
			int a = ignore_path(&ig, path, n, dir);

			check(m == 0 || m == 1);
			check(a == 0 || a == 1);
			check(a == ignore_path(&ig, path, n, dir));
			check(!m || a || !n);
		}
		if (n && ignore_path(&ig, path, n, 1)) {
			memcpy(path + n, "/x", 2);
			check(ignore_path(&ig, path, n + 2, 0));
		}
		memcpy(path + n, "/.soc/x", 7);
		check(ignore_path(&ig, path, n + 7, 0));
		free(path);
		at += n + 1;
	}
	ignore_free(&ig);
	return 0;
}
