/*
 * A big file's sha256 taken again from its first changed piece
 * (hash_pieces.c): the digest is the whole file's whatever changed where,
 * the pieces before the change are taken and not hashed, and a record
 * that lies gives a digest that is not the file's (which is why a
 * resumed digest is only a claim); and the index's cache of them
 * (db_pieces.c), which keeps the files last put and ignores a row it
 * cannot read.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "tap.h"

#define MIB (1 << 20)
#define SIZE (5 * MIB + 1234)	/* five whole pieces and a tail */

static char path[] = "/tmp/soc-unit-pieces.XXXXXX";

static void put(const unsigned char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd))
		abort();
}

/* The file's digest the plain way, to compare with. */
static void whole(char hex[HASH_HEX_LEN + 1])
{
	int fd = open(path, O_RDONLY);

	if (fd < 0 || hash_fd(fd, hex, NULL))
		abort();
	close(fd);
}

static int again(const struct pieces *was, struct pieces *now, char hex[HASH_HEX_LEN + 1], uint64_t *size,
		 uint64_t *resumed)
{
	int fd = open(path, O_RDONLY), rc;

	if (fd < 0)
		abort();
	rc = pieces_hash(fd, was, now, hex, size, resumed);
	close(fd);
	return rc;
}

/* The index keeps the pieces of the 32 files last put, and gives none for any other. */
static void index_cache(void)
{
	char dir[] = "/tmp/soc-unit-pieces-ws.XXXXXX", db[64], name[16];
	struct workspace ws = { 0 };
	unsigned char rec[2 * PIECE_REC];
	struct pieces p = { PIECE_MIN_SHIFT, 2, rec }, got;
	int all = 1;

	if (!mkdtemp(dir))
		abort();
	snprintf(db, sizeof(db), "%s/index.db", dir);
	ws.root = dir;
	if (index_create(db) || index_open(&ws, db))
		abort();
	index_pieces_get(&ws, "f0", &got);
	ok(!got.n && !got.rec, "an index without the table: no pieces");
	for (int i = 0; i < 40; i++) {
		memset(rec, i, sizeof(rec));
		snprintf(name, sizeof(name), "f%d", i);
		all &= !index_pieces_put(&ws, name, &p);
	}
	ok(all, "forty files' pieces put");
	index_pieces_get(&ws, "f7", &got);
	ok(!got.n, "the eighth put is gone");
	index_pieces_get(&ws, "f8", &got);
	ok(got.n == 2 && got.shift == PIECE_MIN_SHIFT && got.rec[0] == 8 && got.rec[2 * PIECE_REC - 1] == 8,
	   "the ninth is kept, as put");
	pieces_free(&got);
	p.n = 0;
	ok(!index_pieces_put(&ws, "f8", &p), "none put for it");
	index_pieces_get(&ws, "f8", &got);
	ok(!got.n, "drops its row");
	ok(sqlite3_exec(ws.db, "UPDATE pieces SET rec = x'0102' WHERE path = 'f9';"
			       "UPDATE pieces SET shift = 3 WHERE path = 'f10'", NULL, NULL, NULL) == SQLITE_OK,
	   "two rows spoilt");
	index_pieces_get(&ws, "f9", &got);
	ok(!got.n && !got.rec, "records of a length no record has: none");
	index_pieces_get(&ws, "f10", &got);
	ok(!got.n && !got.rec, "a piece smaller than any: none");
	index_pieces_get(&ws, "f39", &got);
	ok(got.n == 2 && got.rec[0] == 39, "the last put is there");
	pieces_free(&got);
	index_close(&ws);
	unlink(db);
	rmdir(dir);
}

int main(void)
{
	unsigned char *data = malloc(SIZE + 3 * MIB);
	char hex[HASH_HEX_LEN + 1], want[HASH_HEX_LEN + 1];
	struct pieces first, now, lie;
	uint64_t size = 0, resumed = 1;
	int fd = mkstemp(path);

	if (!data || fd < 0)
		abort();
	close(fd);
	srand(7);
	for (size_t i = 0; i < SIZE + 3 * MIB; i++)
		data[i] = (unsigned char)rand();
	put(data, SIZE);

	whole(want);
	ok(!again(NULL, &first, hex, &size, &resumed), "a first hash");
	ok(!strcmp(hex, want) && size == SIZE && !resumed, "is the file's sha256, not resumed");
	ok(first.n == 5 && first.shift == PIECE_MIN_SHIFT, "five whole pieces of 1 MiB recorded, not the tail");

	ok(!again(&first, &now, hex, &size, &resumed) && !strcmp(hex, want) && resumed && now.n == 5 &&
	   !memcmp(now.rec, first.rec, 5 * PIECE_REC), "the same file again: resumed, the same digest and pieces");
	pieces_free(&now);

	data[3 * MIB + 17] ^= 1;
	put(data, SIZE);
	whole(want);
	ok(!again(&first, &now, hex, &size, &resumed) && !strcmp(hex, want) && resumed == 3 * MIB,
	   "a byte changed in the fourth piece: resumed after three, the new file's digest");
	ok(now.n == 5 && !memcmp(now.rec, first.rec, 3 * PIECE_REC) &&
	   memcmp(now.rec + 3 * PIECE_REC, first.rec + 3 * PIECE_REC, PIECE_REC),
	   "the three before it taken, the fourth recorded anew");
	pieces_free(&now);

	data[10] ^= 1;
	put(data, SIZE);
	whole(want);
	ok(!again(&first, &now, hex, &size, &resumed) && !strcmp(hex, want) && !resumed,
	   "a byte changed in the first piece: hashed whole");
	pieces_free(&now);

	put(data, SIZE + 3 * MIB);
	whole(want);
	ok(!again(&first, &now, hex, &size, &resumed) && !strcmp(hex, want) && size == SIZE + 3 * MIB &&
	   !resumed && now.n == 8, "grown by 3 MiB after that change: its digest, eight pieces");
	pieces_free(&first);
	first = now;
	data[7 * MIB] ^= 1;
	put(data, SIZE + 3 * MIB);
	whole(want);
	ok(!again(&first, &now, hex, &size, &resumed) && !strcmp(hex, want) && resumed,
	   "a change in the eighth piece: resumed from the seventh");
	pieces_free(&now);

	put(data, 2 * MIB + 5);
	whole(want);
	ok(!again(&first, &now, hex, &size, &resumed) && !strcmp(hex, want) && size == 2 * MIB + 5 && resumed &&
	   now.n == 2, "cut to 2 MiB and 5 bytes: resumed, its digest, two pieces");
	pieces_free(&now);

	put(data, 0);
	ok(!again(&first, &now, hex, &size, &resumed) &&
	   !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") && !resumed &&
	   now.n == 0, "emptied: the empty digest");
	pieces_free(&now);

	/* A record whose sums match but whose state is another content's, as a collision would give. */
	put(data, SIZE + 3 * MIB);
	whole(want);
	lie.shift = first.shift;
	lie.n = first.n;
	lie.rec = malloc(first.n * PIECE_REC);
	if (!lie.rec)
		abort();
	memcpy(lie.rec, first.rec, first.n * PIECE_REC);
	lie.rec[5 * PIECE_REC] ^= 1;	/* the state the change in the seventh piece resumes from */
	data[6 * MIB] ^= 1;
	put(data, SIZE + 3 * MIB);
	whole(want);
	ok(!again(&lie, &now, hex, &size, &resumed) && strcmp(hex, want) && resumed,
	   "a record that lies: a resumed digest that is not the file's");
	pieces_free(&now);
	lie.shift = first.shift + 1;
	ok(!again(&lie, &now, hex, &size, &resumed) && !strcmp(hex, want) && !resumed,
	   "a record of another piece size is not used");
	pieces_free(&now);
	pieces_free(&lie);
	pieces_free(&first);

	unlink(path);
	free(data);
	index_cache();
	return tap_done();
}
