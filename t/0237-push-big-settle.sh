#!/bin/sh
# A big push's commit (BIG_PUSH_ITEMS, 10,000 changes, or more) answers
# before the sha256 indexes it dropped are made again and before its
# txn_items rows are deleted: those writes follow the answer
# (store_settle). SOC_TEST_SETTLE_DELAY_MS holds them back, so that
# this test can see the state in between, send a begin into it (which
# settles first: it looks contents up by sha256), and kill the server
# in it (the next start settles). SQLite only: PostgreSQL keeps its
# indexes and deletes the items in the commit.
. "$(dirname "$0")/lib.sh"

N=12000
M=13000		# with the 12,001 before, few enough that both its indexes are made by a sort
SETTLED="soc serve: after a big push: made its sha256 indexes again, removed its items"

# many DIR COUNT: COUNT new files of a few bytes under a/DIR.
many() {
	python3 -c "
import os, sys
for i in range(int(sys.argv[2])):
    d = \"a/%s/d%03d\" % (sys.argv[1], i // 100)
    os.makedirs(d, exist_ok=True)
    open(\"%s/f%05d\" % (d, i), \"w\").write(\"%s %d\\n\" % (sys.argv[1], i))
" "$1" "$2"
}

# The sha256 indexes soc.db holds, one a line.
indexes() {
	sqlite3 server/soc.db "SELECT name FROM sqlite_master WHERE name GLOB \"*_sha256\" ORDER BY name"
}

items() {
	sqlite3 server/soc.db "SELECT count(*) FROM txn_items"
}

test_expect_success_here 'a server that pauses a minute before it settles' '
	SOC_TEST_SETTLE_DELAY_MS=60000 &&
	export SOC_TEST_SETTLE_DELAY_MS &&
	setup_two &&
	printf "%s\n" changes_sha256 files_sha256 >both
'

test_expect_success 'a push of 12,000 files is answered, its head whole, before its indexes are made' '
	many L $N &&
	(cd a && soc add -r L -q && soc push -q) &&
	test "$(sqlite3 server/soc.db "SELECT count(*) FROM files")" = $N &&
	test "$(sqlite3 server/soc.db "SELECT value FROM meta WHERE key = \"head\"")" = 1 &&
	test "$(sqlite3 server/soc.db "SELECT state FROM txns")" = done &&
	test -z "$(indexes)" &&
	test "$(items)" = $N &&
	! grep "after a big push" server.log
'

test_expect_success 'a begin meanwhile makes them first, and its push lands' '
	echo new >b/new &&
	(cd b && soc add new && soc push -q) &&
	test "$(cat server/files/new)" = new &&
	grep -c "$SETTLED" server.log >count &&
	echo 1 >expect && test_cmp expect count &&
	indexes >got && test_cmp both got &&
	test "$(items)" = 0 &&
	test "$(sqlite3 server/soc.db "SELECT count(*) FROM files INDEXED BY files_sha256 WHERE sha256 > \"\"")" = $((N + 1)) &&
	test "$(sqlite3 server/soc.db "SELECT count(*) FROM changes INDEXED BY changes_sha256 WHERE sha256 > \"\"")" = $((N + 1))
'

# restart: the server killed (its paused threads with it) and started again, the workspaces told its new URL.
restart() {
	kill -KILL $SERVER_PID && { wait $SERVER_PID 2>/dev/null || :; } &&
	start_server "$TRASH/server" &&
	sed -i "s|^remote = .*|remote = $URL|" a/.soc/config b/.soc/config
}

test_expect_success_here 'killed before it settles, the server settles at its next start' '
	restart &&
	many M $M &&
	(cd a && soc add -r M -q && soc push -q) &&
	test -z "$(indexes)" &&
	test "$(items)" = $M &&
	restart &&
	indexes >got && test_cmp both got &&
	test "$(items)" = 0 &&
	test "$(sqlite3 server/soc.db "PRAGMA integrity_check")" = ok &&
	soc serve check --root server &&
	(cd a && soc pull -q) && (cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test "$(find b/L b/M -type f | wc -l)" = $((N + M))
'

test_done
