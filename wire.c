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
#include "wire.h"

#define NS_PER_SEC 1000000000LL

/* A string of exactly n lowercase hex digits. */
static int hex_run(const struct wire_field *f, size_t n)
{
	return f->type == WIRE_STR && f->len == n && hex_span(f->s, n);
}

static int hash_field(const struct wire_field *f, char out[HASH_HEX_LEN + 1], int nullable)
{
	out[0] = '\0';
	if (f->type == WIRE_ABSENT || f->type == WIRE_NULL)
		return nullable ? 0 : -1;
	if (!hex_run(f, HASH_HEX_LEN))
		return -1;
	memcpy(out, f->s, HASH_HEX_LEN);
	out[HASH_HEX_LEN] = '\0';
	return 0;
}

static int int_field(const struct wire_field *f, long long *out, long long dflt)
{
	if (f->type == WIRE_ABSENT) {
		*out = dflt;
		return 0;
	}
	if (f->type != WIRE_INT)
		return -1;
	*out = f->i;
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
	return hex_span(s, HISTORY_HEX_LEN) && !s[HISTORY_HEX_LEN];
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
static const char *target_field(const struct wire_field *f, struct change_line *c)
{
	char hash[HASH_HEX_LEN + 1];

	if (c->mode != MODE_LINK)
		return f->type != WIRE_ABSENT ? "a target for a file that is not a symlink" : NULL;
	if (f->type != WIRE_STR)
		return "a symlink without a target";
	if (!f->len || f->len > LINK_TARGET_MAX || memchr(f->s, '\0', f->len))
		return "a symlink target empty, longer than 4095 bytes or holding a NUL";
	sha256_hex(f->s, f->len, hash);
	if ((long long)f->len != c->size || strcmp(hash, c->hash))
		return "a symlink target that is not what its sha256 and size name";
	c->target = xstrndup(f->s, f->len);
	return NULL;
}

/* The fields of o as the rules read them: each known key looked up as itself. */
static void fields_of(json_t *o, struct wire_fields *fs)
{
	memset(fs, 0, sizeof(*fs));
	fs->keys = json_object_size(o);
	for (int k = 0; k < WIRE_KEYS; k++) {
		json_t *v = json_object_get(o, wire_key_names[k]);
		struct wire_field *f = &fs->f[k];

		if (!v)
			f->type = WIRE_ABSENT;
		else if (json_is_null(v))
			f->type = WIRE_NULL;
		else if (json_is_true(v))
			f->type = WIRE_TRUE;
		else if (json_is_false(v))
			f->type = WIRE_FALSE;
		else if (json_is_integer(v))
			f->type = WIRE_INT, f->i = json_integer_value(v);
		else if (json_is_string(v))
			f->type = WIRE_STR, f->s = json_string_value(v), f->len = json_string_length(v);
		else
			f->type = WIRE_OTHER;
	}
}

/* A head line: {"head":H} or {"head":H,"history":ID}. 0, or -1 with why. */
static int head_line(const struct wire_fields *fs, struct change_line *c, long long *head, const char **why)
{
	const struct wire_field *v = &fs->f[WIRE_HEAD], *h = &fs->f[WIRE_HISTORY];
	int has_history = h->type != WIRE_ABSENT;

	/* An older server sends the head alone: no history, c->history stays "". */
	if (v->type != WIRE_INT || v->i < 0 || fs->keys != 1u + has_history)
		return *why = "bad head", -1;
	if (has_history && !hex_run(h, HISTORY_HEX_LEN))
		return *why = "bad history", -1;
	if (has_history) {
		memcpy(c->history, h->s, HISTORY_HEX_LEN);
		c->history[HISTORY_HEX_LEN] = '\0';
	}
	*head = v->i;
	return 0;
}

/* The rules of a change line, whichever reader read it: 1, or -1 with why. */
static int change_judge(const struct wire_fields *fs, struct change_line *c, const char **why, unsigned flags)
{
	const struct wire_field *f = fs->f;
	long long mode, base_mode;

	if (f[WIRE_PATH].type != WIRE_STR)
		return *why = "no path", -1;
	c->path = xstrndup(f[WIRE_PATH].s, f[WIRE_PATH].len);
	if (memchr(f[WIRE_PATH].s, '\0', f[WIRE_PATH].len))
		return *why = "path holds a NUL", -1;
	if ((*why = path_check(c->path, f[WIRE_PATH].len)))
		return -1;
	/* An older soc named content by md5: say so, not "bad base". */
	if (f[WIRE_MD5].type != WIRE_ABSENT)
		return *why = "content named by md5, as an older soc does (this one names it by sha256)", -1;
	if (f[WIRE_DELETED].type != WIRE_ABSENT && f[WIRE_DELETED].type != WIRE_TRUE &&
	    f[WIRE_DELETED].type != WIRE_FALSE)
		return *why = "\"deleted\" is not true or false", -1;
	c->deleted = f[WIRE_DELETED].type == WIRE_TRUE;
	if (hash_field(&f[WIRE_BASE], c->base, 1))
		return *why = "bad base", -1;
	if (int_field(&f[WIRE_REV], &c->rev, -1) || c->rev < -1)
		return *why = "bad rev", -1;
	/* A mode is only ever a file's, and only a base can have one. */
	if (int_field(&f[WIRE_BASE_MODE], &base_mode, 0) ||
	    (base_mode && (c->deleted || !c->base[0] || !mode_valid(base_mode))))
		return *why = "bad base_mode", -1;
	c->base_mode = (unsigned)base_mode;
	if (c->deleted) {
		if ((f[WIRE_SHA256].type != WIRE_ABSENT && f[WIRE_SHA256].type != WIRE_NULL) ||
		    f[WIRE_TARGET].type != WIRE_ABSENT)
			return *why = "a delete with a sha256 or a target", -1;
		return 1;
	}
	c->later = (flags & CHANGE_LATER_OK) && f[WIRE_SHA256].type == WIRE_NULL;
	if (c->later && !c->base[0])
		return *why = "a sha256 left to the commit for a new file (only a changed one may)", -1;
	if (!c->later && hash_field(&f[WIRE_SHA256], c->hash, 0))
		return *why = "no valid sha256", -1;
	if (int_field(&f[WIRE_SIZE], &c->size, -1) || c->size < 0)
		return *why = "no valid size", -1;
	if (int_field(&f[WIRE_MTIME], &c->mtime, 0) || int_field(&f[WIRE_MODE], &mode, 0644) || !mode_valid(mode))
		return *why = "bad mtime or mode", -1;
	if (c->mtime < MTIME_MIN || c->mtime > MTIME_MAX)
		return *why = "mtime outside " MTIME_RANGE, -1;
	c->mode = (unsigned)mode;
	if (c->later && c->mode == MODE_LINK)
		return *why = "a sha256 left to the commit for a symlink (only a file's may be)", -1;
	if ((*why = target_field(&f[WIRE_TARGET], c)))
		return -1;
	return 1;
}

int change_parse(const char *line, size_t len, struct change_line *c, long long *head, const char **why)
{
	return change_parse_flags(line, len, c, head, why, 0);
}

int change_parse_flags(const char *line, size_t len, struct change_line *c, long long *head, const char **why,
		       unsigned flags)
{
	struct wire_fields fs;
	json_t *o = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	*why = NULL;
	if (len > CHANGE_LINE_MAX)
		return *why = "line longer than 64 KiB", -1;
	if ((flags & CHANGE_JANSSON) || !wire_scan(line, len, &fs)) {
		o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
		if (!o || !json_is_object(o)) {
			json_decref(o);
			return *why = "not a JSON object (or not UTF-8)", -1;
		}
		fields_of(o, &fs);
	}
	rc = fs.f[WIRE_HEAD].type != WIRE_ABSENT ? head_line(&fs, c, head, why) : change_judge(&fs, c, why, flags);
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

/* A byte JSON takes as it is in a string: not a quote, a backslash or a control character (nor the NUL). */
static int json_plain(unsigned char ch)
{
	return ch >= 0x20 && ch != '"' && ch != '\\';
}

int json_str_add(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	const char *p = s;

	if (!utf8_valid(s, n))
		return -1;
	buf_addch(out, '"');
	while (*p) {
		size_t run = 0;
		unsigned char ch;
		const char *e;

		/* The run up to the next byte to escape, at once: a byte a call was most of a path. */
		while (json_plain((unsigned char)p[run]))
			run++;
		buf_add(out, p, run);
		p += run;
		if (!*p)
			break;
		ch = (unsigned char)*p++;
		e = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\b' ? "\\b" : ch == '\f' ? "\\f"
		  : ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;
		if (e) {
			buf_addstr(out, e);
		} else {
			char u[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

			buf_add(out, u, sizeof(u));
		}
	}
	buf_addch(out, '"');
	return 0;
}

/* ,"key":N as %lld writes N: buf_addf's vfprintf was most of a line's writing (perf). */
static void add_int(struct buf *out, const char *key, long long v)
{
	char d[24];
	size_t n = sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		d[--n] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		d[--n] = '-';
	buf_addstr(out, key);
	buf_add(out, d + n, sizeof(d) - n);
}

static void add_hash(struct buf *out, const char *key, const char hex[HASH_HEX_LEN + 1])
{
	buf_addstr(out, key);
	buf_addch(out, '"');
	buf_add(out, hex, HASH_HEX_LEN);
	buf_addch(out, '"');
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
			add_hash(out, ",\"sha256\":", c->hash);
		else
			goto bad;
		add_int(out, ",\"size\":", c->size);
		add_int(out, ",\"mtime\":", c->mtime);
		add_int(out, ",\"mode\":", (int)c->mode);
	}
	if (c->rev >= 0)
		add_int(out, ",\"rev\":", c->rev);
	else if (c->base[0] && !hash_hex_valid(c->base))
		goto bad;
	else if (c->base[0])
		add_hash(out, ",\"base\":", c->base);
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
		add_int(out, ",\"base_mode\":", c->base_mode);
	buf_addstr(out, "}\n");
	return 0;
bad:
	out->len = at;
	if (out->p)
		out->p[at] = '\0';
	return -1;
}
