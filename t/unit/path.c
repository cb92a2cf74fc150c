/* Every rule of DESIGN.md section 10, accepted and refused, one case a line. */
#include <string.h>

#include "soc.h"
#include "tap.h"

struct pcase {
	const char *path;
	size_t len;	/* 0: strlen */
	int valid;
	const char *why;
};

int main(void)
{
	static char long_path[PATH_BYTES_MAX + 2];
	static char long_comp[PATH_COMPONENT_MAX + 2];
	static char max_path[PATH_BYTES_MAX + 1];
	static const struct pcase cases[] = {
		{ "a", 0, 1, "one byte" },
		{ "Data/a.txt", 0, 1, "nested" },
		{ "a b/c-d_e.f", 0, 1, "spaces and punctuation" },
		{ "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac", 0, 1, "UTF-8 two and three bytes" },
		{ "emoji\xf0\x9f\x98\x80", 0, 1, "UTF-8 four bytes" },
		{ ".socignore", 0, 1, ".socignore is an ordinary name" },
		{ "a/.soc-x", 0, 1, ".soc-x is not .soc" },
		{ "...", 0, 1, "three dots is a name" },
		{ ".hidden", 0, 1, "dot file" },
		{ "", 0, 0, "empty" },
		{ "/etc/passwd", 0, 0, "absolute" },
		{ "a//b", 0, 0, "empty component" },
		{ "a/", 0, 0, "trailing slash" },
		{ ".", 0, 0, "dot" },
		{ "a/./b", 0, 0, "dot component" },
		{ "..", 0, 0, "dot dot" },
		{ "a/../b", 0, 0, "dot dot in the middle" },
		{ "a/..", 0, 0, "dot dot at the end" },
		{ ".soc", 0, 0, ".soc" },
		{ "x/.SOC/y", 0, 0, ".SOC in any case" },
		{ "x/.Soc", 0, 0, ".Soc at the end" },
		{ "a\\b", 0, 0, "backslash" },
		{ "a\nb", 0, 0, "newline" },
		{ "a\tb", 0, 0, "tab" },
		{ "a\x1f", 0, 0, "unit separator" },
		{ "a\x7f", 0, 0, "DEL" },
		{ "a\0b", 3, 0, "NUL inside" },
		{ "\xff", 0, 0, "invalid byte" },
		{ "\xc3", 0, 0, "truncated sequence" },
		{ "\xc0\xaf", 0, 0, "overlong slash" },
		{ "\xe0\x80\xaf", 0, 0, "overlong three-byte" },
		{ "\xed\xa0\x80", 0, 0, "surrogate" },
		{ "\xf4\x90\x80\x80", 0, 0, "past U+10FFFF" },
		{ "\xc3\x28", 0, 0, "bad continuation" },
	};
	size_t i;
	const char *why;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->path);

		why = path_check(c->path, len);
		ok((why == NULL) == c->valid, "%s %s%s%s", c->why,
		   c->valid ? "accepted" : "refused", why ? ": " : "", why ? why : "");
	}

	memset(long_comp, 'x', PATH_COMPONENT_MAX);
	ok(path_check(long_comp, PATH_COMPONENT_MAX) == NULL, "component of 255 bytes accepted");
	long_comp[PATH_COMPONENT_MAX] = 'x';
	ok(path_check(long_comp, PATH_COMPONENT_MAX + 1) != NULL, "component of 256 bytes refused");

	/* 4096 bytes made of 200-byte components joined by '/'. */
	for (i = 0; i < PATH_BYTES_MAX; i++)
		max_path[i] = (i % 201 == 200) ? '/' : 'y';
	max_path[PATH_BYTES_MAX - 1] = 'y';
	ok(path_check(max_path, PATH_BYTES_MAX) == NULL, "path of 4096 bytes accepted");
	memcpy(long_path, max_path, PATH_BYTES_MAX);
	long_path[PATH_BYTES_MAX] = 'y';
	ok(path_check(long_path, PATH_BYTES_MAX + 1) != NULL, "path of 4097 bytes refused");

	return tap_done();
}
