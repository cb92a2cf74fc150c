/*
 * net_versions.c: the client's reader of the server's versions
 * (PROTOCOL.md section 3), GET history and GET tree for soc log, ls and
 * restore: each line checked as a change line is, with the fields only
 * versions carry beside it.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "sync.h"

#define NO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct versions_read {
	long long *head, *rev;	/* a tree's first line; NULL for a history */
	int (*row)(struct version_line *v, void *arg);
	void *arg;
};

/*
 * A history or tree line is a change line (change_parse() checks the
 * path, the sha256, the size and the mode as pull's are checked) with
 * the fields only versions have beside it.
 */
static int versions_line(const char *line, size_t len, void *arg)
{
	struct versions_read *r = arg;
	struct version_line v = { .time = -1 };
	const char *why = NULL;
	long long ignored;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *t, *k;
	int kind, rc = 0;

	if (r->head && json_is_object(o) && json_object_get(o, "head")) {
		t = json_object_get(o, "head");
		k = json_object_get(o, "rev");
		if (!json_is_integer(t) || !json_is_integer(k) || json_integer_value(k) < 0 ||
		    json_integer_value(k) > json_integer_value(t))
			rc = error("the server sent a tree whose first line we refuse: bad head or rev");
		*r->head = json_integer_value(t);
		*r->rev = json_integer_value(k);
		json_decref(o);
		return rc;
	}
	t = json_object_get(o, "time");
	k = json_object_get(o, "kept");
	if (json_is_object(o) && !json_object_get(o, "sha256") && !json_is_true(json_object_get(o, "deleted")) &&
	    json_is_false(k)) {
		/* Content from before sha256 has no name, and is never kept: checked as if named by zeros. */
		char *named;

		json_object_set_new(o, "sha256", json_string(NO_HASH));
		named = json_dumps(o, JSON_COMPACT);
		kind = named ? change_parse(named, strlen(named), &v.c, &ignored, &why) : -1;
		v.c.hash[0] = '\0';
		free(named);
		if (!why && kind < 0)
			why = "out of memory";
	} else {
		kind = change_parse(line, len, &v.c, &ignored, &why);
	}
	if (kind == 1 && (v.c.rev < 0 || (!r->head && !json_is_integer(t)) ||
			  (k && !json_is_boolean(k)) || (!v.c.deleted && !k)))
		kind = -1, why = "bad rev, time or kept";
	if (kind < 0) {
		rc = error("the server sent a version line we refuse%s%s%s: %s", v.c.path ? " for '" : "",
			   v.c.path ? show_path(v.c.path) : "", v.c.path ? "'" : "", why);
	} else if (kind == 1) {
		v.time = json_is_integer(t) ? json_integer_value(t) : -1;
		v.token = (char *)json_string_value(json_object_get(o, "token"));
		v.kept = json_is_true(k);
		rc = r->row(&v, r->arg);
	} else {
		rc = error("the server sent a version line we refuse: no path");
	}
	change_free(&v.c);
	json_decref(o);
	return rc;
}

/* GET path read by versions_line(); what names the answer in messages. */
static int versions_get(struct net *n, const char *path, const char *what, struct versions_read *r)
{
	char msg[256];
	long st = net_get_lines(n, path, versions_line, r, msg, sizeof(msg));

	if (st == -1)
		return EXIT_REMOTE;
	if (st == -2)
		return EXIT_ERROR;	/* a line refused, said */
	if (st == 404 && strstr(msg, "no such endpoint"))
		return error("the server at '%s' keeps no versions (an older soc serve)", net_base(n)), EXIT_ERROR;
	if (st != 200)
		return error("the server did not give %s (%ld): %s", what, st, msg), EXIT_ERROR;
	if (r->head && *r->head < 0)
		return error("the server did not give %s: no head line", what), EXIT_ERROR;
	return 0;
}

int history_get(struct net *n, const char *path, int limit,
		int (*row)(struct version_line *v, void *arg), void *arg)
{
	struct versions_read r = { NULL, NULL, row, arg };
	char *q = net_escape(n, path), *url = xasprintf("/api/v1/history?path=%s&limit=%d", q, limit);
	int rc = versions_get(n, url, "the history", &r);

	free(url);
	free(q);
	return rc;
}

int tree_get(struct net *n, long long rev, long long before, const char *path,
	     long long *head, long long *at, int (*row)(struct version_line *v, void *arg), void *arg)
{
	struct versions_read r = { head, at, row, arg };
	char *q = net_escape(n, path), *url;
	int rc;

	if (before >= 0)
		url = xasprintf("/api/v1/tree?before=%lld&path=%s", before, q);
	else if (rev >= 0)
		url = xasprintf("/api/v1/tree?rev=%lld&path=%s", rev, q);
	else
		url = xasprintf("/api/v1/tree?path=%s", q);
	*head = *at = -1;
	rc = versions_get(n, url, "the tree", &r);
	free(url);
	free(q);
	return rc;
}
