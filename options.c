/* options.c: the flag parser every command shares, so that -q, --help and "--" mean the same everywhere. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "soc.h"

static int set_value(const struct opt *o, const char *shown, const char *arg)
{
	char *end;
	long v;

	switch (o->type) {
	case OPT_BOOL:
		*(int *)o->value = 1;
		return 0;
	case OPT_STRING:
		*(const char **)o->value = arg;
		return 0;
	case OPT_INT:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || end == arg || *end || v < 0 || v > INT_MAX)
			return error("option '%s' wants a whole number, not '%s'", shown, arg);
		*(int *)o->value = (int)v;
		return 0;
	}
	return -1;
}

static const struct opt *find_long(const struct opt *opts, const char *name, size_t n, int single)
{
	for (; opts->value; opts++) {
		if (!opts->long_name || (single && !opts->single_dash))
			continue;
		if (strlen(opts->long_name) == n && !strncmp(opts->long_name, name, n))
			return opts;
	}
	return NULL;
}

static const struct opt *find_short(const struct opt *opts, char c)
{
	for (; opts->value; opts++)
		if (opts->short_name && opts->short_name == c)
			return opts;
	return NULL;
}

int opt_parse(int argc, char **argv, const struct opt *opts)
{
	int i, nwords = 0, only_words = 0;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct opt *o;

		if (only_words || a[0] != '-' || !a[1]) {
			argv[nwords++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_words = 1;
			continue;
		}
		if (a[1] == '-' || (o = find_long(opts, a + 1, strlen(a + 1), 1))) {
			const char *name = a + (a[1] == '-' ? 2 : 1);
			const char *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);

			o = find_long(opts, name, n, a[1] != '-');
			if (!o)
				return error("unknown option '%s'", a);
			if (o->type == OPT_BOOL) {
				if (eq)
					return error("option '--%.*s' takes no value", (int)n, name);
				set_value(o, a, NULL);
			} else if (eq) {
				if (set_value(o, a, eq + 1))
					return -1;
			} else {
				if (++i >= argc)
					return error("option '%s' needs a value", a);
				if (set_value(o, a, argv[i]))
					return -1;
			}
			continue;
		}
		/* A cluster of short flags: -qn, or -nVALUE / -n VALUE for the last. */
		for (char *c = a + 1; *c; c++) {
			char shown[3] = { '-', *c, 0 };

			o = find_short(opts, *c);
			if (!o)
				return error("unknown option '%s'", shown);
			if (o->type == OPT_BOOL) {
				set_value(o, shown, NULL);
				continue;
			}
			if (c[1]) {
				if (set_value(o, shown, c + 1))
					return -1;
			} else {
				if (++i >= argc)
					return error("option '%s' needs a value", shown);
				if (set_value(o, shown, argv[i]))
					return -1;
			}
			break;
		}
	}
	argv[nwords] = NULL;
	return nwords;
}
