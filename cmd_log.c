/* cmd_log.c: the server's revisions, newest first: number, time, token name, counts. */
#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "client.h"
#include "sync.h"

#define LOG_DEFAULT 20
#define LOG_MAX 10000

const char log_usage[] =
	"usage: soc log [-n N]\n"
	"\n"
	"The server's revisions, newest first: number, time (UTC), the token that\n"
	"pushed it, and counts of files added (+), modified (~) and deleted (-).\n"
	"\n"
	"  -n, --max-count N   show at most N revisions (default 20)\n";

static void print_rev(json_t *r)
{
	time_t t = (time_t)json_integer_value(json_object_get(r, "time"));
	const char *who = json_string_value(json_object_get(r, "token"));
	char when[32];
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)t);
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
	if (n > 0)
		return usage_error("'log' takes no arguments");
	if (limit < 1 || limit > LOG_MAX)
		return usage_error("-n wants a number from 1 to %d", LOG_MAX);
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
