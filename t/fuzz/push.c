/*
 * t/fuzz/push.c: libFuzzer driver for push_parse, the check of a whole
 * push body. Beyond "does not crash", an accepted body is sorted, has no
 * path twice, every path passes the rules, and no file of it is the
 * directory of another; a refusal always says why.
 */
#include <stdint.h>
#include <string.h>

#include "serve.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct push_list l;
	struct push_refusal r;
	size_t i;

	if (push_parse((const char *)data, size, &l, &r)) {
		check(r.why && !l.n);
	} else {
		check(l.n > 0);
		for (i = 0; i < l.n; i++) {
			const struct push_item *it = &l.v[i];
			const char *slash;

			check(!path_check(it->path, strlen(it->path)));
			check(!i || strcmp(l.v[i - 1].path, it->path) < 0);
			/* A sha256 left to the commit only for a changed file, never a link's. */
			check(it->later ? !it->hash[0] && !it->deleted && it->base[0] && !it->target && it->size >= 0
			      : it->deleted ? !it->hash[0] : hash_hex_valid(it->hash) && it->size >= 0);
			if (it->deleted)
				continue;
			for (slash = strchr(it->path, '/'); slash; slash = strchr(slash + 1, '/')) {
				const struct push_item *d = push_find(&l, it->path, (size_t)(slash - it->path));

				check(!d || d->deleted);
			}
		}
	}
	push_list_free(&l);
	push_refusal_free(&r);
	return 0;
}
