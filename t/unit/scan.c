/*
 * Change detection (scan.c) on real files: the racy rule, a touch that
 * changes nothing, and a scan of a settled tree that writes nothing. File
 * times are set exactly with utimensat(); nothing sleeps. A file "in the
 * same clock tick as the scan" is made by giving it an mtime ahead of the
 * clock: the rule is about an mtime not older than the scan's stamp.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "tap.h"

static char top[4096];

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static void set_mtime(const char *path, int64_t sec)
{
	struct timespec t[2] = { { sec, 0 }, { sec, 0 } };

	if (utimensat(AT_FDCWD, path, t, 0))
		die_errno("cannot set the mtime of '%s'", path);
}

/* Writes content and sets the mtime to sec exactly. */
static void put(const char *path, const char *content, int64_t sec)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(content, f) < 0 || fclose(f))
		die_errno("cannot write '%s'", path);
	set_mtime(path, sec);
}

/* Every byte of the index and of any journal beside it. */
static struct buf index_bytes(void)
{
	static const char *const names[] = { INDEX_FILE, INDEX_FILE "-journal", INDEX_FILE "-wal", INDEX_FILE "-shm" };
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		FILE *f = fopen(names[i], "r");
		char chunk[4096];
		size_t n;

		buf_addf(&b, "[%s %s]", names[i], f ? "present" : "absent");
		while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(&b, chunk, n);
		if (f)
			fclose(f);
	}
	return b;
}

static int same_bytes(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && !memcmp(a->p, b->p, a->len);
}


/* A fresh workspace in top/name, made the current directory and opened. */
static struct workspace *fresh(const char *name)
{
	char *dir = xasprintf("%s/%s", top, name);
	struct workspace *ws;

	if (workspace_create(dir, NULL, NULL, NULL) || chdir(dir) || workspace_open(&ws))
		die("cannot make the workspace '%s'", dir);
	free(dir);
	return ws;
}

static const struct scan_item *item(const struct scan_result *r, const char *path)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->items[i].e.path, path))
			return &r->items[i];
	return NULL;
}

static int scan(struct workspace *ws, struct scan_result *r)
{
	scan_result_free(r);
	return scan_workspace(ws, r);
}

static void hash_of(const char *s, char hex[HASH_HEX_LEN + 1])
{
	int fd[2];

	if (pipe(fd) || write(fd[1], s, strlen(s)) < 0)
		die_errno("pipe");
	close(fd[1]);
	hash_fd(fd[0], hex, NULL);
	close(fd[0]);
}

static void test_racy_rewrite(void)
{
	struct workspace *ws = fresh("racy");
	struct scan_result r = { 0 };
	int64_t tick = now_s() + 100;
	char a[HASH_HEX_LEN + 1], b[HASH_HEX_LEN + 1];
	unsigned long before;
	const struct scan_item *it;
	struct buf bytes, again;
	struct index_row row;
	struct stat st;

	hash_of("aaaa\n", a);
	hash_of("bbbb\n", b);
	put("f", "aaaa\n", tick);
	put("g", "gggg\n", tick);
	ok(!index_add_file(ws, "f") && !index_add_file(ws, "g") && !scan(ws, &r), "record two files whose mtime is not older than the scan");
	ok(!index_set_base(ws, "f", a, 0644), "f counts as synced");
	put("f", "bbbb\n", tick);	/* same size, same mtime */
	ok(!scan(ws, &r), "rescan");
	it = item(&r, "f");
	ok(it && it->change == CH_MODIFIED && digest_is(&it->e.hash, b),
	   "the rewrite in the same tick is reported modified, with the new sha256");

	/*
	 * Here the ctime moved, so the stat alone would have told. On a
	 * filesystem with a coarse ctime it would not: record f's stat as it
	 * is now with the old content's sha256, which is what a scan that read
	 * "aaaa" just before the rewrite, in the same tick, would have left.
	 */
	ok(!lstat("f", &st), "stat f");
	memset(&row, 0, sizeof(row));
	row.e.path = "f";
	row.e.size = (uint64_t)st.st_size;
	row.e.ino = (uint64_t)st.st_ino;
	row.e.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	row.e.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	row.e.mode = 0644;
	digest_from_hex(&row.e.hash, a);
	row.e.base = row.e.hash;
	row.racy = 0;
	ok(!index_write_row(ws, &row) && !scan(ws, &r), "a row whose stat matches, unmarked");
	it = item(&r, "f");
	ok(it && it->change == CH_NONE, "without the racy mark the edit is missed: stat cannot see it");
	row.racy = 1;
	ok(!index_write_row(ws, &row) && !scan(ws, &r), "the same row marked racy, as the scan marks it");
	it = item(&r, "f");
	ok(it && it->change == CH_MODIFIED && digest_is(&it->e.hash, b), "with the mark it is hashed and found modified");

	bytes = index_bytes();
	before = scan_hash_count();
	ok(!scan(ws, &r), "rescan an untouched racy file");
	ok(scan_hash_count() - before == 2, "both racy files are hashed again (%lu)", scan_hash_count() - before);
	it = item(&r, "g");
	ok(it && it->change == CH_ADDED && it->present, "g is still new and present");
	again = index_bytes();
	ok(same_bytes(&bytes, &again), "a racy file that did not change writes nothing");
	buf_free(&bytes);
	buf_free(&again);
	scan_result_free(&r);
	workspace_close(ws);
}

static void test_touch(void)
{
	struct workspace *ws = fresh("touch");
	struct scan_result r = { 0 };
	int64_t old = now_s() - 1000;
	char h[HASH_HEX_LEN + 1];
	unsigned long before;
	const struct scan_item *it;
	struct buf bytes, again;

	hash_of("hhhh\n", h);
	put("h", "hhhh\n", old);
	ok(!index_add_file(ws, "h") && !scan(ws, &r) && !index_set_base(ws, "h", h, 0644), "record a file with an old mtime, synced");
	before = scan_hash_count();
	ok(!scan(ws, &r) && scan_hash_count() == before, "a settled file is not hashed");
	set_mtime("h", old + 500);	/* touch: a new mtime, the same content */
	before = scan_hash_count();
	ok(!scan(ws, &r), "scan after the touch");
	it = item(&r, "h");
	ok(it && it->change == CH_NONE && it->present, "a touched file with the same content is unchanged");
	ok(scan_hash_count() - before == 1, "the touch cost one hash");
	bytes = index_bytes();
	before = scan_hash_count();
	ok(!scan(ws, &r), "scan again");
	ok(scan_hash_count() == before, "the scan after that hashes nothing");
	again = index_bytes();
	ok(same_bytes(&bytes, &again), "and writes nothing");
	ok(!chmod("h", 0755) && !scan(ws, &r), "chmod +x, and scan");
	it = item(&r, "h");
	ok(it && it->change == CH_MODIFIED && it->e.mode == 0755 && it->e.base_mode == 0644,
	   "a chmod alone is a change");
	ok(!chmod("h", 0644) && !scan(ws, &r), "chmod -x again, and scan");
	it = item(&r, "h");
	ok(it && it->change == CH_NONE, "back at the synced mode, it is unchanged");
	buf_free(&bytes);
	buf_free(&again);
	scan_result_free(&r);
	workspace_close(ws);
}

static void test_settled_tree(const char *name)
{
	struct workspace *ws = fresh(name);
	struct scan_result r = { 0 };
	int64_t old = now_s() - 1000;
	unsigned long before;
	struct buf bytes, again;
	char path[64];

	mkdir("d", 0777);
	mkdir("d/sub", 0777);
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), i % 2 ? "d/f%03d" : "d/sub/f%03d", i);
		put(path, path, old);
	}
	ok(!index_add_root(ws, "d", 1) && !scan(ws, &r), "track a directory of 200 files");
	ok(r.n == 200 && item(&r, "d/sub/f000") && item(&r, "d/sub/f000")->change == CH_ADDED,
	   "all 200 are listed as new (%zu)", r.n);
	bytes = index_bytes();
	before = scan_hash_count();
	ok(!scan(ws, &r) && r.n == 200, "rescan the unchanged tree");
	ok(scan_hash_count() == before, "nothing is hashed (%lu)", scan_hash_count() - before);
	again = index_bytes();
	ok(same_bytes(&bytes, &again), "the index and its journals are byte for byte the same");
	ok(access(INDEX_FILE "-journal", F_OK) && access(INDEX_FILE "-wal", F_OK), "no journal is left behind");
	buf_free(&bytes);
	buf_free(&again);

	/* A file created later under the root is new; one deleted before any push is gone. */
	put("d/new", "new", old);
	unlink("d/f001");
	ok(!scan(ws, &r) && r.n == 200 && item(&r, "d/new") && !item(&r, "d/f001"),
	   "a created file is picked up, a never-pushed deleted one is no longer listed");
	scan_result_free(&r);
	workspace_close(ws);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	size_t kept;

	snprintf(top, sizeof(top), "%s/soc-unit-scan.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(top))
		die_errno("cannot make a directory for the test");
	soc_quiet = 1;
	test_racy_rewrite();
	test_touch();
	test_settled_tree("settled");
	/* The same, every file the walk meets looked up after the walk. */
	scan_join_all = 1;
	test_settled_tree("settled-join");
	scan_join_all = 0;
	/* The same, a walker waiting for the rows at its first file met before them. */
	kept = scan_pending_max;
	scan_pending_max = 0;
	test_settled_tree("settled-wait");
	scan_pending_max = kept;
	if (chdir("/") || nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
		warning_errno("cannot remove '%s'", top);
	return tap_done();
}
