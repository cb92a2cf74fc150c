/*
 * wire.c: one NDJSON change line, the unit of both directions of the API:
 * a push body line (client to server) and a changes?since= line (server to
 * client), written and read here. Each side checks what the other sent
 * with the same rules, the path rules of path.c included, so neither
 * trusts the other's input.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soc.h"

#define NS_PER_SEC 1000000000LL

static int hash_field(json_t *o, const char *key, char out[HASH_HEX_LEN + 1], int nullable)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	out[0] = '\0';
	if (!v || json_is_null(v))
		return nullable ? 0 : -1;
	s = json_string_value(v);
	if (!s || json_string_length(v) != HASH_HEX_LEN || !hash_hex_valid(s))
		return -1;
	memcpy(out, s, HASH_HEX_LEN + 1);
	return 0;
}

static int int_field(json_t *o, const char *key, long long *out, long long dflt)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

int64_t mtime_ns(const struct timespec *t)
{
	if (t->tv_sec > MTIME_MAX)
		return MTIME_MAX * NS_PER_SEC;
	if (t->tv_sec < MTIME_MIN)
		return MTIME_MIN * NS_PER_SEC;
	return (int64_t)t->tv_sec * NS_PER_SEC + t->tv_nsec;
}

long long mtime_sec(int64_t ns)
{
	return ns / NS_PER_SEC - (ns % NS_PER_SEC < 0);
}

int mtime_clamped(int64_t ns)
{
	return ns == MTIME_MAX * NS_PER_SEC || ns == MTIME_MIN * NS_PER_SEC;
}

int history_id_valid(const char *s)
{
	return strlen(s) == HISTORY_HEX_LEN && strspn(s, "0123456789abcdef") == HISTORY_HEX_LEN;
}

int mode_valid(long long mode)
{
	return mode == 0644 || mode == 0755 || mode == MODE_LINK;
}

void change_free(struct change_line *c)
{
	free(c->path);
	free(c->target);
	c->path = c->target = NULL;
}

/* A link's target: there for MODE_LINK only, not empty, no NUL, and what sha256 and size name. */
static const char *target_field(json_t *o, struct change_line *c)
{
	json_t *v = json_object_get(o, "target");
	const char *t = json_string_value(v);
	char hash[HASH_HEX_LEN + 1];
	size_t n;

	if (c->mode != MODE_LINK)
		return v ? "a target for a file that is not a symlink" : NULL;
	if (!t)
		return "a symlink without a target";
	n = json_string_length(v);
	if (!n || n > LINK_TARGET_MAX || strlen(t) != n)
		return "a symlink target empty, longer than 4095 bytes or holding a NUL";
	sha256_hex(t, n, hash);
	if ((long long)n != c->size || strcmp(hash, c->hash))
		return "a symlink target that is not what its sha256 and size name";
	c->target = xstrndup(t, n);
	return NULL;
}

int change_parse(const char *line, size_t len, struct change_line *c, long long *head, const char **why)
{
	return change_parse_flags(line, len, c, head, why, 0);
}

int change_parse_flags(const char *line, size_t len, struct change_line *c, long long *head, const char **why,
		       unsigned flags)
{
	json_t *o, *v;
	const char *path;
	long long mode, base_mode;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	*why = NULL;
	if (len > CHANGE_LINE_MAX)
		return *why = "line longer than 64 KiB", -1;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!o || !json_is_object(o)) {
		*why = "not a JSON object (or not UTF-8)";
		goto out;
	}
	if ((v = json_object_get(o, "head"))) {
		json_t *h = json_object_get(o, "history");
		const char *id = json_string_value(h);

		/* An older server sends the head alone: no history, c->history stays "". */
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_object_size(o) != 1u + !!h) {
			*why = "bad head";
			goto out;
		}
		if (h && (!id || json_string_length(h) != HISTORY_HEX_LEN || !history_id_valid(id))) {
			*why = "bad history";
			goto out;
		}
		if (id)
			memcpy(c->history, id, HISTORY_HEX_LEN + 1);
		*head = json_integer_value(v);
		rc = 0;
		goto out;
	}
	v = json_object_get(o, "path");
	path = json_string_value(v);
	if (!path) {
		*why = "no path";
		goto out;
	}
	c->path = xstrndup(path, json_string_length(v));
	if (strlen(path) != json_string_length(v) || (*why = path_check(path, strlen(path))))
		goto bad;
	/* An older soc named content by md5: say so, not "bad base". */
	if (json_object_get(o, "md5")) {
		*why = "content named by md5, as an older soc does (this one names it by sha256)";
		goto bad;
	}
	v = json_object_get(o, "deleted");
	if (v && !json_is_boolean(v)) {
		*why = "\"deleted\" is not true or false";
		goto bad;
	}
	c->deleted = json_is_true(v);
	if (hash_field(o, "base", c->base, 1)) {
		*why = "bad base";
		goto bad;
	}
	if (int_field(o, "rev", &c->rev, -1) || c->rev < -1) {
		*why = "bad rev";
		goto bad;
	}
	/* A mode is only ever a file's, and only a base can have one. */
	if (int_field(o, "base_mode", &base_mode, 0) ||
	    (base_mode && (c->deleted || !c->base[0] || !mode_valid(base_mode)))) {
		*why = "bad base_mode";
		goto bad;
	}
	c->base_mode = (unsigned)base_mode;
	if (c->deleted) {
		if ((json_object_get(o, "sha256") && !json_is_null(json_object_get(o, "sha256"))) ||
		    json_object_get(o, "target")) {
			*why = "a delete with a sha256 or a target";
			goto bad;
		}
		rc = 1;
		goto out;
	}
	c->later = (flags & CHANGE_LATER_OK) && json_is_null(json_object_get(o, "sha256"));
	if (c->later && !c->base[0]) {
		*why = "a sha256 left to the commit for a new file (only a changed one may)";
		goto bad;
	}
	if (!c->later && hash_field(o, "sha256", c->hash, 0)) {
		*why = "no valid sha256";
		goto bad;
	}
	if (int_field(o, "size", &c->size, -1) || c->size < 0) {
		*why = "no valid size";
		goto bad;
	}
	if (int_field(o, "mtime", &c->mtime, 0) || int_field(o, "mode", &mode, 0644) || !mode_valid(mode)) {
		*why = "bad mtime or mode";
		goto bad;
	}
	if (c->mtime < MTIME_MIN || c->mtime > MTIME_MAX) {
		*why = "mtime outside " MTIME_RANGE;
		goto bad;
	}
	c->mode = (unsigned)mode;
	if (c->later && c->mode == MODE_LINK) {
		*why = "a sha256 left to the commit for a symlink (only a file's may be)";
		goto bad;
	}
	if ((*why = target_field(o, c)))
		goto bad;
	rc = 1;
	goto out;
bad:
	if (!*why)
		*why = "path holds a NUL";
	rc = -1;
out:
	json_decref(o);
	return rc;
}

void change_format_head(long long head, const char *history, struct buf *out)
{
	/* Checked here too: the id goes into the line unescaped. */
	if (history && history_id_valid(history))
		buf_addf(out, "{\"head\":%lld,\"history\":\"%s\"}\n", head, history);
	else
		buf_addf(out, "{\"head\":%lld}\n", head);
}

int json_str_add(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);

	if (!utf8_valid(s, n))
		return -1;
	buf_addch(out, '"');
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		const char *e = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\b' ? "\\b" : ch == '\f' ? "\\f"
			      : ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;

		if (e) {
			buf_addstr(out, e);
		} else if (ch < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

			buf_add(out, u, sizeof(u));
		} else {
			buf_addch(out, (char)ch);
		}
	}
	buf_addch(out, '"');
	return 0;
}

/*
 * Written by hand, not through a jansson object: a server lists every
 * path of its head in these lines, and an object a line (its keys, its
 * values, the dump) cost more than the query (bench/README).
 */
int change_format(const struct change_line *c, struct buf *out)
{
	size_t at = out->len;

	buf_addstr(out, "{\"path\":");
	if (json_str_add(out, c->path))
		goto bad;
	if (c->deleted) {
		buf_addstr(out, ",\"deleted\":true");
	} else {
		if (c->later)
			buf_addstr(out, ",\"sha256\":null");
		else if (hash_hex_valid(c->hash))
			buf_addf(out, ",\"sha256\":\"%s\"", c->hash);
		else
			goto bad;
		buf_addf(out, ",\"size\":%lld,\"mtime\":%lld,\"mode\":%d", c->size, c->mtime, (int)c->mode);
	}
	if (c->rev >= 0)
		buf_addf(out, ",\"rev\":%lld", c->rev);
	else if (c->base[0] && !hash_hex_valid(c->base))
		goto bad;
	else if (c->base[0])
		buf_addf(out, ",\"base\":\"%s\"", c->base);
	else
		buf_addstr(out, ",\"base\":null");	/* a new file: the server must lack the path */
	if (!c->deleted && c->mode == MODE_LINK) {
		buf_addstr(out, ",\"target\":");
		if (!c->target || json_str_add(out, c->target))
			goto bad;
	}
	/*
	 * The mode it replaces too: a server whose head has another mode for
	 * the same content got a chmod the pusher has not seen, and taking
	 * this one would undo it. (An older server ignores the field.)
	 */
	if (c->rev < 0 && !c->deleted && c->base[0] && c->base_mode)
		buf_addf(out, ",\"base_mode\":%u", c->base_mode);
	buf_addstr(out, "}\n");
	return 0;
bad:
	out->len = at;
	if (out->p)
		out->p[at] = '\0';
	return -1;
}
