/*
 * db_hash.c: how the index keeps a digest: its 32 bytes, or '' (text)
 * when there is none. The index of 100,000 files stays the size md5's
 * hex made it, and '' still equals the schema's default.
 */
#include <sqlite3.h>

#include "client.h"

void index_bind_hash(sqlite3_stmt *s, int i, const char *hex)
{
	uint8_t raw[HASH_RAW_LEN];

	if (!hex[0] || hash_to_raw(hex, raw))
		sqlite3_bind_text(s, i, "", 0, SQLITE_STATIC);
	else
		sqlite3_bind_blob(s, i, raw, HASH_RAW_LEN, SQLITE_TRANSIENT);
}

void index_column_hash(char hex[HASH_HEX_LEN + 1], sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_BLOB && sqlite3_column_bytes(s, col) == HASH_RAW_LEN)
		hash_from_raw(sqlite3_column_blob(s, col), hex);
	else
		hex[0] = '\0';
}
