/*
 * token.c: who gets in: making tokens and random ids, the rules for a
 * token's name, and the tokens table of soc.db (add, list, revoke, and
 * the lookup every request makes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "sql.h"

#define ADMIN_NAME "admin"

int random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[TOKEN_BYTES];
	size_t got = 0, i;

	if (nbytes > sizeof(raw))
		return error("cannot make %zu random bytes at once", nbytes);
	while (got < nbytes) {
		ssize_t n = getrandom(raw + got, nbytes - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_errno("cannot read random bytes");
		got += (size_t)n;
	}
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int token_generate(char out[TOKEN_BYTES * 2 + 1])
{
	return random_hex(out, TOKEN_BYTES);
}

int token_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > TOKEN_NAME_MAX)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int token_add(struct sql *db, const char *name, const char *token, int read_only)
{
	struct sql_stmt *st;
	char hash[65];
	int rc;

	sha256_hex(token, strlen(token), hash);
	if (!(st = sql_prepare(db, "INSERT INTO tokens VALUES(?, ?, ?, ?)", 0)))
		return error("database: %s", sql_errmsg(db));
	sql_bind_text(st, 1, name, -1);
	sql_bind_text(st, 2, hash, -1);
	sql_bind_int64(st, 3, !!read_only);
	sql_bind_int64(st, 4, time(NULL));
	rc = sql_step(st);
	sql_finalize(st);
	if (rc == SQL_ERROR && sql_conflict(db))
		return error("a token named '%s' exists already", name);
	if (rc != SQL_DONE)
		return error("database: %s", sql_errmsg(db));
	return 0;
}

/* No token leaks through timing: the hash is looked up, then compared in full. */
static int hash_equal(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

int token_auth(struct sql *db, const char *token, size_t len, struct caller *who)
{
	struct sql_stmt *st;
	char hash[65];
	int ok = -1, rc;

	if (!len || len > TOKEN_BYTES * 4)
		return -1;
	sha256_hex(token, len, hash);
	st = store_stmt_get(db, STORE_STMT_AUTH, "SELECT name, sha256, read_only FROM tokens WHERE sha256 = ?");
	if (!st)
		return -2;
	sql_bind_text(st, 1, hash, 64);
	rc = sql_step(st);
	if (rc == SQL_ERROR)
		ok = -2;
	if (rc == SQL_ROW) {
		const char *name = sql_column_text(st, 0);
		const char *h = sql_column_text(st, 1);

		if (name && h && strlen(h) == 64 && hash_equal(h, hash, 64) &&
		    strlen(name) <= TOKEN_NAME_MAX) {
			strcpy(who->name, name);
			memcpy(who->hash, hash, sizeof(who->hash));
			who->read_only = sql_column_int(st, 2);
			ok = 0;
		}
	}
	store_stmt_put(db, st);
	return ok;
}

int token_list(struct sql *db)
{
	struct sql_stmt *st;
	int rc;

	if (!(st = sql_prepare(db, "SELECT name, read_only, created FROM tokens ORDER BY name", 0)))
		return error("database: %s", sql_errmsg(db));
	while ((rc = sql_step(st)) == SQL_ROW) {
		time_t t = (time_t)sql_column_int64(st, 2);
		struct tm tm;
		char when[32] = "?";

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		printf("%s\t%s\t%s\n", sql_column_text(st, 0),
		       sql_column_int(st, 1) ? "read-only" : "read-write", when);
	}
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : error("database: %s", sql_errmsg(db));
}

/*
 * The token's open pushes go with it, in the same transaction: a push it
 * began can no longer be committed by anyone (a token made anew under its
 * name is another token, see txn.c), and the server's sweep removes their
 * staging/ directories. A push already committing finishes: it began
 * before the revoke did.
 */
static const char *const revoke_sql[] = {
	"DELETE FROM txn_items WHERE txn IN (SELECT id FROM txns WHERE state = 'open' AND"
	" token_sha256 = (SELECT sha256 FROM tokens WHERE name = ?1))",
	"DELETE FROM txns WHERE state = 'open' AND token_sha256 = (SELECT sha256 FROM tokens WHERE name = ?1)",
	"DELETE FROM tokens WHERE name = ?1",
};

int token_revoke(struct sql *db, const char *name)
{
	struct sql_stmt *st;
	size_t i;
	int rc = SQL_DONE, pushes = 0;

	if (store_write_begin(db))
		return -1;
	for (i = 0; i < sizeof(revoke_sql) / sizeof(*revoke_sql) && rc == SQL_DONE; i++) {
		if (!(st = sql_prepare(db, revoke_sql[i], 0))) {
			rc = SQL_ERROR;
			break;
		}
		sql_bind_text(st, 1, name, -1);
		rc = sql_step(st);
		sql_finalize(st);
		if (i == 1)
			pushes = sql_changes(db);
	}
	if (rc != SQL_DONE) {
		error("database: %s", sql_errmsg(db));
		store_write_abort(db);
		return -1;
	}
	if (!sql_changes(db)) {
		store_write_abort(db);
		return error("no token named '%s'", name);
	}
	if (store_write_commit(db))
		return -1;
	if (pushes)
		say("aborted %d open push%s of the token '%s'\n", pushes, pushes == 1 ? "" : "es", name);
	return 0;
}

static int count_tokens(struct sql *db)
{
	struct sql_stmt *st;
	int n = -1;

	if (!(st = sql_prepare(db, "SELECT count(*) FROM tokens", 0)))
		return -1;
	if (sql_step(st) == SQL_ROW)
		n = sql_column_int(st, 0);
	sql_finalize(st);
	return n;
}

/* The first start's token, so the person who ran soc serve can get in. */
int token_make_admin(struct server *s, struct sql *db)
{
	char token[TOKEN_BYTES * 2 + 2];
	int fd, n = count_tokens(db);
	ssize_t w;

	if (n)
		return n < 0 ? error("database: %s", sql_errmsg(db)) : 0;
	if (token_generate(token))
		return -1;
	/* Never over one that exists: people hold that token (store_refuse_lost says so first). */
	fd = openat(s->root_fd, ADMIN_TOKEN_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return error("'%s/%s' exists but soc.db holds no token: refusing to write a new one over it; "
			     "put back the soc.db that goes with it, or move it away", s->root, ADMIN_TOKEN_FILE);
	if (fd < 0)
		return error_errno("cannot write '%s/%s'", s->root, ADMIN_TOKEN_FILE);
	strcat(token, "\n");
	w = write(fd, token, strlen(token));
	if (w >= 0 && w != (ssize_t)strlen(token))
		errno = EIO;	/* a short write sets none */
	if (w != (ssize_t)strlen(token) || fsync(fd)) {
		error_errno("cannot write '%s/%s'", s->root, ADMIN_TOKEN_FILE);
		close(fd);
		return -1;
	}
	if (close(fd))
		return error_errno("cannot write '%s/%s'", s->root, ADMIN_TOKEN_FILE);
	token[TOKEN_BYTES * 2] = '\0';
	if (token_add(db, ADMIN_NAME, token, 0))
		return -1;
	fprintf(stderr, "soc serve: created the token '%s'; it is in '%s/%s'\n", ADMIN_NAME, s->root,
		ADMIN_TOKEN_FILE);
	return 0;
}
