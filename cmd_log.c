/*
 * cmd_log.c: the server's revisions, newest first: number, time, token
 * name, counts; or, for a path, every version of it (soc restore's menu).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "sync.h"

#define LOG_DEFAULT 20
#define LOG_MAX 10000

const char log_usage[] =
	"usage: soc log [-n N] [PATH]\n"
	"\n"
	"The server's revisions, newest first: number, time (UTC), the token that\n"
	"pushed it, and counts of files added (+), modified (~) and deleted (-).\n"
	"With PATH, every revision that changed it (or a file under it): number,\n"
	"time, token, path, and its size or 'deleted'; '(not kept)' when the\n"
	"server no longer holds that content for 'soc restore'.\n"
	"\n"
	"  -n, --max-count N   show at most N revisions (default 20)\n";

/* When a revision was made, UTC, to the second or the minute; when it cannot be shown so, its number. */
static void show_time(long long secs, char *when, size_t len, int seconds)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(when, len, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm))
		snprintf(when, len, "%lld", secs);
}

struct versions_out {
	struct buf shown;
	size_t n;
};

/* r7  2026-12-02 16:00  alice  D/f  3 bytes: one version, its path quoted as status quotes it. */
static int print_version(struct version_line *v, void *arg)
{
	struct versions_out *o = arg;
	struct buf *shown = &o->shown;
	char when[32];

	show_time(v->time, when, sizeof(when), 0);
	buf_reset(shown);
	quote_path(shown, v->c.path, strlen(v->c.path));
	printf("r%-6lld %s  %-12s %s  ", v->c.rev, when, v->token ? show_path(v->token) : "?", shown->p);
	if (v->c.deleted) {
		printf("deleted\n");
	} else if (v->c.target) {
		buf_reset(shown);
		quote_path(shown, v->c.target, strlen(v->c.target));
		printf("-> %s\n", shown->p);
	} else {
		printf("%lld bytes%s\n", v->c.size, v->kept ? "" : " (not kept)");
	}
	o->n++;
	return 0;
}

static int log_path(struct workspace *ws, const char *arg, int limit)
{
	struct versions_out out = { BUF_INIT, 0 };
	struct session *se;
	char *rel = workspace_path(ws, arg);
	const char *why;
	int rc = EXIT_ERROR;

	if (!rel)
		return EXIT_ERROR;
	if (*rel && (why = path_check(rel, strlen(rel)))) {
		error("cannot show the history of '%s': %s", show_path(arg), why);
		goto out;
	}
	if ((rc = session_open(ws, &se)))
		goto out;
	rc = history_get(se->net, rel, limit, print_version, &out);
	if (!rc && !out.n)
		say("no revision changed '%s'\n", show_path(rel));
out:
	buf_free(&out.shown);
	free(rel);
	return rc;
}

static void print_rev(json_t *r)
{
	const char *who = json_string_value(json_object_get(r, "token"));
	char when[32];

	show_time(json_integer_value(json_object_get(r, "time")), when, sizeof(when), 1);
	printf("r%-6lld %s UTC  %-12s +%lld ~%lld -%lld\n",
	       (long long)json_integer_value(json_object_get(r, "rev")), when, who ? who : "?",
	       (long long)json_integer_value(json_object_get(r, "added")),
	       (long long)json_integer_value(json_object_get(r, "modified")),
	       (long long)json_integer_value(json_object_get(r, "deleted")));
}

int cmd_log(int argc, char **argv, struct workspace *ws)
{
	int limit = LOG_DEFAULT, n, rc = EXIT_ERROR;
	const struct opt opts[] = {
		{ 'n', "max-count", OPT_INT, &limit, 0 },
		OPT_END,
	};
	struct buf resp = BUF_INIT;
	struct session *se;
	char path[64], msg[256];
	json_t *j, *revs;
	long st;
	size_t i;

	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 1)
		return usage_error("'log' takes one path at most");
	if (limit < 1 || limit > LOG_MAX)
		return usage_error("-n wants a number from 1 to %d", LOG_MAX);
	if (n == 1)
		return log_path(ws, argv[0], limit);
	if ((rc = session_open(ws, &se)))
		return rc;
	snprintf(path, sizeof(path), "/api/v1/log?limit=%d", limit);
	st = net_request(se->net, "GET", path, NULL, NULL, 0, &resp);
	rc = EXIT_REMOTE;
	if (st < 0)
		goto out;
	rc = EXIT_ERROR;
	if (st != 200) {
		error("the server did not give its log (%ld): %s", st,
		      net_error_message(&resp, msg, sizeof(msg)));
		goto out;
	}
	j = json_loadb(resp.p, resp.len, 0, NULL);
	/* Either an array, or an object holding one under "revs". */
	revs = json_is_array(j) ? j : json_object_get(j, "revs");
	if (!json_is_array(revs)) {
		json_decref(j);
		error("the server's log is not a list of revisions");
		goto out;
	}
	for (i = 0; i < json_array_size(revs); i++)
		print_rev(json_array_get(revs, i));
	if (!json_array_size(revs))
		say("no revisions yet\n");
	json_decref(j);
	rc = EXIT_OK;
out:
	buf_free(&resp);
	return rc;
}
