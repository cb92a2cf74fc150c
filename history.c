/*
 * history.c: whether the server is still the history this workspace
 * synced with. A server makes a random history id with its database
 * (store.c); the index records it with the last revision pulled (db.c).
 * A server restored from a backup, or replaced by a new one at the same
 * URL, has another id or a head below that revision: asked for "changes
 * since N" it would answer about another history, and a pull would skip
 * revisions or a push land on files this side never saw. Push and pull
 * stop (EXIT_HISTORY), status warns; `soc pull --resync` compares every
 * file as if never synced, loses nothing, and records the new id.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "sync.h"

int history_check(struct workspace *ws, const char *url, const char *seen, long long head, int warn)
{
	char kept[HISTORY_HEX_LEN + 1];
	long long pulled = index_pulled_rev(ws);
	char what[128];

	if (index_history(ws, kept))
		return EXIT_ERROR;
	if (seen[0] && kept[0] && strcmp(seen, kept))
		snprintf(what, sizeof(what), "is not the history this workspace last synced with");
	else if (head < pulled)
		snprintf(what, sizeof(what), "is at revision %lld, below revision %lld this workspace last pulled",
			 head, pulled);
	else
		return 0;
	if (warn)
		warning("the server at '%s' %s (it was restored from a backup or replaced); "
			"run 'soc pull --resync' before you push or pull", url, what);
	else
		error("the server at '%s' %s (it was restored from a backup or replaced); nothing was changed; "
		      "run 'soc pull --resync'", url, what);
	return EXIT_HISTORY;
}

int history_verify(struct workspace *ws, struct session *se)
{
	long long head = remote_head(se->net);

	if (head < 0)
		return EXIT_REMOTE;
	return history_check(ws, se->remote.url, net_history(se->net), head, 0);
}

int history_adopt(struct workspace *ws, const char *seen)
{
	char kept[HISTORY_HEX_LEN + 1];

	if (!seen[0] || index_history(ws, kept))
		return 0;
	return kept[0] ? 0 : index_set_history(ws, seen);
}
