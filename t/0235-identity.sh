#!/bin/sh
# The server's history id: a server restored from a backup, or replaced by
# a new one, stops push and pull with exit 6 and changes nothing; status
# warns; `soc pull --resync` then `soc push` converge with nothing lost.
# `soc serve backup` makes the copy while the server runs.
TEST_PRIVATE_MOUNTS=1
. "$(dirname "$0")/lib.sh"

# The state of a workspace: its files and its index, byte for byte.
ws_state() {
	ws_sum "$1" && md5sum "$1/.soc/index.db"
}

remote_to() {
	sed -i "s|^remote = .*|remote = $2|" "$1/.soc/config"
}

server_history() {
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/info" |
		sed -n 's/.*"history":"\([0-9a-f]*\)".*/\1/p'
}

test_expect_success_here 'two workspaces, two pushes, both pulled' '
	setup_two &&
	mkdir a/d && echo one >a/d/f1 && echo two >a/f2 && echo keep >a/f3 &&
	(cd a && soc add d f2 f3 -q && soc push -q) &&
	(cd b && soc pull -q) &&
	echo two-b >b/f2 && (cd b && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'the history id is in info and changes, and recorded with the pull' '
	id=$(server_history) &&
	test ${#id} = 32 &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/changes?since=0" | head -n 1 >line &&
	echo "{\"head\":2,\"history\":\"$id\"}" >expect && test_cmp expect line &&
	test "$(sqlite3 a/.soc/index.db "SELECT value FROM state_text WHERE key = '\''history'\''")" = "$id" &&
	test "$(sqlite3 b/.soc/index.db "SELECT value FROM state_text WHERE key = '\''history'\''")" = "$id"
'

test_expect_success 'a backup while the server runs; DEST must be new or empty' '
	mkdir full && echo x >full/x &&
	test_expect_code 1 soc serve backup full --root "$TRASH/server" 2>err &&
	grep "full. is not empty" err &&
	test_expect_code 2 soc serve backup --root "$TRASH/server" 2>/dev/null &&
	soc serve backup "$TRASH/bk" --root "$TRASH/server" 2>err &&
	grep "backed up .* soc.db and [0-9]* files" err &&
	test "$(stat -c %a bk)" = 700 &&
	test "$(stat -c %a bk/soc.db)" = 600 &&
	! test -e bk/admin.token &&
	! test -e bk/rsyncd.conf &&
	test "$(cat bk/files/f2)" = two-b &&
	test "$(stat -c %i bk/files/d/f1)" = "$(stat -c %i server/files/d/f1)" &&
	soc serve check --root "$TRASH/bk"
'

test_expect_success_here 'a backup onto another filesystem copies, versions/ too' '
	mount_tmpfs "$TRASH/other" 16m &&
	soc serve backup "$TRASH/other/bk" --root "$TRASH/server" 2>err &&
	grep "soc.db and [0-9]* files (0 linked, [0-9]* copied)" err &&
	(cd server/versions && find . -type f | sort) >vs &&
	(cd other/bk/versions && find . -type f | sort) >vd &&
	test -s vs && test_cmp vs vd &&
	v=$(head -n 1 vs) &&
	cmp server/versions/$v other/bk/versions/$v &&
	test "$(ws_sum other/bk/files)" = "$(ws_sum server/files)" &&
	test "$(stat -c "%a %Y" other/bk/files/f2)" = "$(stat -c "%a %Y" server/files/f2)" &&
	soc serve check --root "$TRASH/other/bk" &&
	soc serve backup "$TRASH/bk2" --root "$TRASH/server" 2>err &&
	test "$(stat -c %i bk2/versions/$v)" = "$(stat -c %i server/versions/$v)"
'

test_expect_success_here 'more pushes after the backup' '
	echo one-later >a/d/f1 && echo new1 >a/new1 &&
	(cd a && soc add new1 -q && soc push -q) &&
	(cd b && soc pull -q) &&
	echo new2 >b/new2 && (cd b && soc add new2 -q && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	stop_server $SERVER_PID &&
	start_server "$TRASH/bk" &&
	remote_to a "$URL" && remote_to b "$URL"
'

test_expect_success 'the restored server: push and pull stop with exit 6, nothing changed' '
	ws_state a >before &&
	test_expect_code 6 sh -c "cd a && soc push" 2>err &&
	test_line_count = 1 err &&
	grep "^soc push: the server at .$URL. is not the history this workspace last synced with (it was restored from a backup or replaced); nothing was changed; run .soc pull --resync." err &&
	test_expect_code 6 sh -c "cd a && soc pull" 2>err &&
	test_line_count = 1 err &&
	grep "is not the history this workspace last synced with" err &&
	test_expect_code 6 sh -c "cd a && soc pull -n" 2>err &&
	ws_state a >after &&
	test_cmp before after &&
	(cd a && soc status) >out 2>err &&
	grep "^soc status: warning: the server at .$URL. is not the history" err &&
	grep "soc pull --resync" err
'

test_expect_success 'a head below the last pull also stops them (an id not recorded yet)' '
	cp -p a/.soc/index.db index.kept &&
	sqlite3 a/.soc/index.db "DELETE FROM state_text" &&
	test_expect_code 6 sh -c "cd a && soc push" 2>err &&
	grep "is at revision 2, below revision 4 this workspace last pulled" err &&
	cp -p index.kept a/.soc/index.db
'

test_expect_success 'pull --resync: a conflict copy for the file edited since, nothing lost' '
	test_expect_code 4 sh -c "cd a && soc pull --resync" 2>err &&
	test "$(cat a/d/f1)" = one-later &&
	test "$(cat a/d/f1.conflict-r2)" = one &&
	test "$(cat a/new1)" = new1 && test "$(cat a/new2)" = new2 &&
	test "$(cat a/f2)" = two-b &&
	(cd a && soc status --porcelain --offline) >out &&
	grep "^C d/f1" out && grep "^A new1" out && grep "^A new2" out &&
	! grep f2 out &&
	rm a/d/f1.conflict-r2 && (cd a && soc add d/f1 -q && soc push -q) &&
	(cd a && soc status --porcelain) >out 2>err &&
	test_must_be_empty out && test_must_be_empty err
'

test_expect_success 'the other workspace resyncs too; all three agree, every later file there' '
	test_expect_code 6 sh -c "cd b && soc pull" 2>err &&
	(cd b && soc pull --resync -q) &&
	(cd b && soc push) 2>err && grep "everything up to date" err &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test "$(ws_sum a)" = "$(ws_sum bk/files)" &&
	test "$(cat bk/files/d/f1)" = one-later &&
	test "$(cat bk/files/new1)" = new1 && test "$(cat bk/files/new2)" = new2 &&
	soc serve check --root "$TRASH/bk"
'

test_expect_success_here 'a replaced server (a new root at the URL): exit 6, resync sends everything' '
	OLD_TOKEN=$SOC_TOKEN &&
	start_server "$TRASH/fresh" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	remote_to b "$URL" &&
	ws_state b >before &&
	test_expect_code 6 sh -c "cd b && soc push" 2>err &&
	grep "is not the history this workspace last synced with" err &&
	test_expect_code 6 sh -c "cd b && soc pull" 2>err &&
	ws_state b >after && test_cmp before after &&
	(cd b && soc pull --resync -q) &&
	(cd b && soc status --porcelain) >out &&
	grep "^A d/f1" out &&
	(cd b && soc push -q) &&
	test "$(ws_sum b)" = "$(ws_sum fresh/files)" &&
	(cd b && soc status --porcelain) >out 2>err &&
	test_must_be_empty out && test_must_be_empty err
'

test_expect_success 'an index of version 3 gets the table; the next pull records the id' '
	sqlite3 b/.soc/index.db "DROP TABLE state_text; PRAGMA user_version = 3" &&
	(cd b && soc status --offline) &&
	test "$(sqlite3 b/.soc/index.db "PRAGMA user_version")" = 4 &&
	(cd b && soc pull -q) &&
	test "$(sqlite3 b/.soc/index.db "SELECT value FROM state_text")" = "$(server_history)"
'

test_expect_success 'a backup while pushes land: each either whole and checked, or refused' '
	(for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		echo "$i" >b/d/f1 && head -c 300000 /dev/urandom >b/big && (cd b && soc add big -q && soc push -q) || exit 1
	done) &
	pusher=$! &&
	for n in 1 2 3; do
		if soc serve backup "$TRASH/race$n" --root "$TRASH/fresh" 2>err; then
			soc serve check --root "$TRASH/race$n" || return 1
		else
			grep "is not what the head backed up says" err || return 1
		fi
	done &&
	wait $pusher
'

test_done
