/* testhook.c: reads the SOC_TEST_ hooks of testhook.h from the environment, the one place that does. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soc.h"
#include "testhook.h"

/* " of milliseconds" or " of seconds" from the hook's name, so a warning names the unit. */
static const char *unit(const char *name)
{
	size_t n = strlen(name);

	if (n > 3 && !strcmp(name + n - 3, "_MS"))
		return " of milliseconds";
	if (n > 8 && !strcmp(name + n - 8, "_SECONDS"))
		return " of seconds";
	return "";
}

long test_hook_long(const char *name, long min, long max, long dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		warning("ignoring %s='%s': not a number%s from %ld to %ld", name, s, unit(name), min, max);
		return dflt;
	}
	return v;
}

int test_hook_flag(const char *name)
{
	return getenv(name) != NULL;
}

const char *test_hook_str(const char *name)
{
	const char *s = getenv(name);

	return s && *s ? s : NULL;
}

void test_hook_line(const char *name, const char *fmt, ...)
{
	const char *file = test_hook_str(name);
	va_list ap;
	FILE *f;

	if (!file)
		return;
	if (!(f = fopen(file, "a"))) {
		warning_errno("cannot open '%s'", file);
		return;
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	if (fclose(f))
		warning_errno("cannot write '%s'", file);
}
