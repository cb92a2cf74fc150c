#!/bin/sh
# A push of more than BIG_PUSH_ITEMS (10,000) changes takes the server's
# paths for big pushes: its body's pages given back as the begin parses
# it (http_body_drop), one list shared by its upload streams, a bigger
# page cache for its revision, its sha256 indexes made again by one sort
# rather than a row at a time (store_bulk_begin), memory trimmed after
# each step, the indexes made and its txn_items rows deleted after the
# answer (on SQLite; PostgreSQL writes the same rows its own way).
# Every change still lands, or is refused whole: 12,000 new
# files, then 12,000 deletes (lines with a base), and a body whose last
# line repeats a path of its first megabyte.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

N=12000

test_expect_success_here 'a push of 12,000 new files lands whole, and pulls whole' '
	setup_two &&
	python3 -c "
import os
for i in range($N):
    d = \"a/L/d%03d\" % (i // 100)
    os.makedirs(d, exist_ok=True)
    open(\"%s/f%05d\" % (d, i), \"w\").write(\"l %d\\n\" % i)
" &&
	(cd a && soc add -r L -q && soc push -q) &&
	t=$(server_tree server) &&
	test "$(find "$t/L" -type f | wc -l)" = $N &&
	test "$(tree_sum a/L)" = "$(tree_sum "$t/L")" &&
	files=$(cat server.log $(one_node || echo server.n2.log) |
		sed -n "s/.*upload into push .*: \([0-9]*\) files,.*/\1/p" | awk "{ s += \$1 } END { print s }") &&
	test "$files" = $N &&
	test "$(server_sql server "SELECT count(*) FROM files")" = $N &&
	{ ! on_sqlite || {
		n=0 && while ! grep -q "after a big push: made its sha256 indexes again" server.log && [ $n -lt 100 ]; do
			sleep 0.1 && n=$((n + 1)); done &&
		test "$(sqlite3 server/soc.db "SELECT count(*) FROM txn_items")" = 0 &&
		sqlite3 server/soc.db "SELECT name, sql FROM sqlite_master WHERE name GLOB \"*_sha256\" ORDER BY name" >indexes &&
		printf "%s\n" "changes_sha256|CREATE INDEX changes_sha256 ON changes(sha256)" \
			"files_sha256|CREATE INDEX files_sha256 ON files(sha256)" >expect &&
		test_cmp expect indexes &&
		test "$(sqlite3 server/soc.db "SELECT count(*) FROM files INDEXED BY files_sha256 WHERE sha256 > \"\"")" = $N &&
		test "$(sqlite3 server/soc.db "PRAGMA integrity_check")" = ok
	}; } &&
	soc serve check --root server &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'deleting the 12,000 (each line with its base) lands as one revision' '
	rm -rf a/L && (cd a && soc push -q --allow-delete) &&
	test "$(server_sql server "SELECT count(*) FROM files WHERE sha256 IS NOT NULL")" = 0 &&
	test "$(server_sql server "SELECT dels FROM revs ORDER BY rev DESC LIMIT 1")" = $N &&
	t=$(server_tree server) && ! test -e "$t/L" &&
	soc serve check --root server &&
	(cd b && soc pull -q --allow-delete) &&
	test -z "$(find b/L -type f)"
'

test_expect_success 'a long body whose last line repeats its first path: 400 naming it, nothing staged' '
	TOKEN=$ADMIN_TOKEN &&
	python3 -c "
import json
h = \"ab\" * 32
for i in range($N):
    print(json.dumps({\"path\": \"R/f%05d\" % i, \"sha256\": h, \"size\": 1, \"mtime\": 1, \"mode\": 420}))
print(json.dumps({\"path\": \"R/f00000\", \"sha256\": h, \"size\": 1, \"mtime\": 1, \"mode\": 420}))
" >long.ndjson &&
	test "$(wc -c <long.ndjson)" -gt 1048576 &&
	code=$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @long.ndjson) &&
	test "$code" = 400 &&
	grep "named twice" out &&
	grep "R/f00000" out &&
	staging=server/staging && if ! one_node; then staging=$(cat server/blobs.dir)/staging; fi &&
	test -d "$staging" && test -z "$(ls -A "$staging")" &&
	test "$(server_sql server "SELECT count(*) FROM txn_items")" = 0
'

test_done
