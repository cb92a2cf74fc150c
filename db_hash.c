/*
 * db_hash.c: how the client keeps a digest. The index: its 32 bytes, or
 * '' (text) when there is none, so the index of 100,000 files stays the
 * size md5's hex made it, and '' still equals the schema's default. In
 * memory: a struct digest, the same 32 bytes and whether there is one.
 */
#include <sqlite3.h>
#include <string.h>

#include "client.h"

void index_bind_hash(sqlite3_stmt *s, int i, const char *hex)
{
	uint8_t raw[HASH_RAW_LEN];

	if (!hex[0] || hash_to_raw(hex, raw))
		sqlite3_bind_text(s, i, "", 0, SQLITE_STATIC);
	else
		sqlite3_bind_blob(s, i, raw, HASH_RAW_LEN, SQLITE_TRANSIENT);
}

void index_bind_digest(sqlite3_stmt *s, int i, const struct digest *d)
{
	if (d->set)
		sqlite3_bind_blob(s, i, d->b, HASH_RAW_LEN, SQLITE_TRANSIENT);
	else
		sqlite3_bind_text(s, i, "", 0, SQLITE_STATIC);
}

void index_column_digest(struct digest *d, sqlite3_stmt *s, int col)
{
	d->set = sqlite3_column_type(s, col) == SQLITE_BLOB && sqlite3_column_bytes(s, col) == HASH_RAW_LEN;
	if (d->set)
		memcpy(d->b, sqlite3_column_blob(s, col), HASH_RAW_LEN);
	else
		memset(d->b, 0, HASH_RAW_LEN);
}

void digest_from_hex(struct digest *d, const char *hex)
{
	d->set = hex[0] && !hash_to_raw(hex, d->b);
	if (!d->set)
		memset(d->b, 0, HASH_RAW_LEN);
}

void digest_hex(const struct digest *d, char hex[HASH_HEX_LEN + 1])
{
	if (d->set)
		hash_from_raw(d->b, hex);
	else
		hex[0] = '\0';
}

int digest_is(const struct digest *d, const char *hex)
{
	struct digest other;

	digest_from_hex(&other, hex);
	return digest_eq(d, &other);
}
