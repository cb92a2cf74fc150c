/*
 * t/fuzz/wire.c: libFuzzer driver for change_parse, the NDJSON change line
 * both ends of the API parse. Beyond "does not crash", every line it
 * accepts must carry a path the path rules accept and well-formed md5s.
 */
#include <stdint.h>
#include <string.h>

#include "soc.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct change_line c;
	long long head = -1;
	const char *why = NULL;
	int r = change_parse((const char *)data, size, &c, &head, &why);

	check(r >= -1 && r <= 1);
	if (r < 0)
		check(why != NULL);
	if (r == 0)
		check(head >= 0);
	if (r == 1) {
		check(c.path && !path_check(c.path, strlen(c.path)));
		check(c.deleted ? !c.md5[0] : md5_hex_valid(c.md5) && c.size >= 0);
		check(!c.base[0] || md5_hex_valid(c.base));
		check(c.deleted || c.mode == 0644 || c.mode == 0755);
	}
	change_free(&c);
	return 0;
}
