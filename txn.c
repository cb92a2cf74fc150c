/* txn.c: push transactions and the crash-safe commit (DESIGN.md section 7). Being written. */
#include "serve.h"

void txn_begin(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	(void)s;
	(void)who;
	api_error(ex, 501, "not_implemented", "push is not implemented yet");
}

void txn_commit(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn)
{
	(void)s;
	(void)who;
	(void)txn;
	api_error(ex, 501, "not_implemented", "push is not implemented yet");
}

void txn_abort(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn)
{
	(void)s;
	(void)who;
	(void)txn;
	api_error(ex, 501, "not_implemented", "push is not implemented yet");
}

int txn_recover(struct server *s)
{
	(void)s;
	return 0;
}

void txn_expire(struct server *s)
{
	(void)s;
}
