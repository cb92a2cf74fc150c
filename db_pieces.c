/*
 * db_pieces.c: the pieces (hash_pieces.c) of the big files a push last
 * hashed, kept in the index for the next push of an edit to them.
 *
 * A cache, not a record: a row says what some content of its path
 * looked like, and is used only as a guess that the server checks
 * (push_later.c). So its table is made when first written, and an index
 * without it needs no upgrade; an older soc leaves it alone. Only the
 * PIECES_FILES_MAX files last pushed so keep theirs: the files edited in
 * place (disk images, databases), not every big file ever sent.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define PIECES_FILES_MAX 32	/* files whose pieces are kept */
#define SHIFT_MAX 62		/* a piece no bigger than a file can be */

/* q run once, with the path as ?1 (when it has one), and p's shift and records as ?2 and ?3. */
static int exec1(struct workspace *ws, const char *q, const char *path, const struct pieces *p)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(ws->db, q, -1, &s, NULL) != SQLITE_OK)
		return index_db_error(ws, "cannot prepare a statement");
	if (path)
		sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (p) {
		sqlite3_bind_int(s, 2, (int)p->shift);
		sqlite3_bind_blob64(s, 3, p->rec, (sqlite3_uint64)p->n * PIECE_REC, SQLITE_STATIC);
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : index_db_error(ws, "cannot keep a file's pieces");
}

int index_pieces_put(struct workspace *ws, const char *path, const struct pieces *p)
{
	if (sqlite3_exec(ws->db,
			 "CREATE TABLE IF NOT EXISTS pieces (path TEXT PRIMARY KEY NOT NULL,"
			 " shift INTEGER NOT NULL, used INTEGER NOT NULL, rec BLOB NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK)
		return index_db_error(ws, "cannot make the table of pieces");
	if (!p->n)
		return exec1(ws, "DELETE FROM pieces WHERE path = ?1", path, NULL);
	if (exec1(ws,
		  "INSERT OR REPLACE INTO pieces (path, shift, used, rec)"
		  " VALUES (?1, ?2, (SELECT coalesce(max(used), 0) + 1 FROM pieces), ?3)",
		  path, p))
		return -1;
	/* The newest PIECES_FILES_MAX stay (the last one put is the newest). */
	return exec1(ws,
		     "DELETE FROM pieces WHERE used <= (SELECT used FROM pieces"
		     " ORDER BY used DESC LIMIT 1 OFFSET " STR(PIECES_FILES_MAX) ")",
		     NULL, NULL);
}

void index_pieces_get(struct workspace *ws, const char *path, struct pieces *out)
{
	sqlite3_stmt *s = NULL;

	memset(out, 0, sizeof(*out));
	/* No table yet, or a row that is not one this soc wrote: nothing to resume from. */
	if (sqlite3_table_column_metadata(ws->db, "main", "pieces", "rec", NULL, NULL, NULL, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(ws->db, "SELECT shift, rec FROM pieces WHERE path = ?1", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		sqlite3_int64 shift = sqlite3_column_int64(s, 0);
		const void *rec = sqlite3_column_blob(s, 1);
		size_t bytes = (size_t)sqlite3_column_bytes(s, 1);

		if (shift < PIECE_MIN_SHIFT || shift > SHIFT_MAX || !rec || bytes % PIECE_REC ||
		    bytes / PIECE_REC > PIECES_MAX || !(out->rec = malloc(bytes)))
			goto out;
		memcpy(out->rec, rec, bytes);
		out->n = bytes / PIECE_REC;
		out->shift = (unsigned)shift;
	}
out:
	sqlite3_finalize(s);
}
