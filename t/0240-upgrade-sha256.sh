#!/bin/sh
# A server root and workspaces made by the last soc that named content by
# md5 (built here from the repository's history) are upgraded in place by
# this soc: the head is read once and renamed by sha256, nothing is lost,
# an edit and a delete made before the upgrade and not pushed are kept
# (the edit as a conflict to resolve, the file as it was), and a head
# whose files/ does not match soc.db is refused with soc.db untouched.
. "$(dirname "$0")/lib.sh"

OLD_COMMIT=7cdd3e9	# the last soc that named content by md5
OLD=$TRASH/old/soc

test_expect_success_here 'the md5 soc, built from the history' '
	git -C "$TOP" cat-file -e "$OLD_COMMIT^{commit}" &&
	mkdir old && git -C "$TOP" archive "$OLD_COMMIT" | tar -x -C old &&
	make -C old soc CFLAGS=-O0 >old/build.log 2>&1 &&
	"$OLD" version
'

test_expect_success_here 'a root and two workspaces synced by it' '
	SERVER_BIN=$OLD start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	"$OLD" init a --remote "$URL" -q && "$OLD" init b --remote "$URL" -q &&
	mkdir a/D && for f in one two three; do echo "$f, first" >a/D/$f; done &&
	head -c 300000 /dev/urandom >a/D/big &&
	(cd a && "$OLD" add D -r && "$OLD" push -q) &&
	(cd b && "$OLD" pull -q) &&
	echo "two, second" >b/D/two && (cd b && "$OLD" push -q) &&
	(cd a && "$OLD" pull -q) &&
	echo "one, edited before the upgrade" >a/D/one && rm a/D/three &&
	test "$(sqlite3 a/.soc/index.db "PRAGMA user_version")" = 2 &&
	stop_server $SERVER_PID &&
	cp -a "$TRASH/server" "$TRASH/server-copy"
'

test_expect_success_here 'this soc serves the old root: every head file named by its sha256' '
	start_server "$TRASH/server" &&
	for w in a b; do
		sed "s|^remote = .*|remote = $URL|" $w/.soc/config >config && cp config $w/.soc/config || return 1
	done &&
	grep "upgrading soc.db to name content by sha256" "$TRASH/server.log" &&
	soc serve check --root "$TRASH/server" &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/changes?since=0" >head &&
	for f in one two three big; do
		grep -F "\"path\":\"D/$f\",\"sha256\":\"$(hash_of "$TRASH/server/files/D/$f")\"" head || return 1
	done &&
	! grep md5 head
'

test_expect_success 'a workspace with nothing unpushed upgrades clean' '
	(cd b && soc status >../status 2>../status.err) &&
	grep "upgrading the index to name content by sha256" status.err &&
	echo "nothing to push" >expect && test_cmp expect status &&
	test "$(sqlite3 b/.soc/index.db "PRAGMA user_version")" = 4 &&
	(cd b && soc pull 2>../pull.err) && ! grep upgrading pull.err &&
	ws_sum b >b.sum && ws_sum "$TRASH/server/files" >s.sum && test_cmp s.sum b.sum
'

test_expect_success 'an edit made before the upgrade is kept, as a conflict to resolve' '
	cp a/D/one one.edit &&
	(cd a && test_expect_code 3 soc push) &&
	(cd a && test_expect_code 4 soc pull) &&
	test_cmp one.edit a/D/one &&
	ls a/D/one.conflict-r* >copies && test_line_count = 1 copies &&
	echo "one, first" >expect && test_cmp expect "$(cat copies)" &&
	rm "$(cat copies)" && (cd a && soc add D/one && soc push -q) &&
	(cd b && soc pull -q) && test_cmp one.edit b/D/one
'

test_expect_success 'a file deleted before the upgrade comes back: nothing is lost' '
	echo "three, first" >expect && test_cmp expect a/D/three &&
	ws_sum a >a.sum && ws_sum b >b.sum && test_cmp a.sum b.sum &&
	soc serve check --root "$TRASH/server"
'

test_expect_success_here 'a head whose files/ is not what soc.db says: refused, soc.db untouched' '
	stop_server $SERVER_PID &&
	echo tampered >"$TRASH/server-copy/files/D/two" &&
	sqlite3 "$TRASH/server-copy/soc.db" .dump >before &&
	test_must_fail soc serve --root "$TRASH/server-copy" --listen 127.0.0.1:0 2>err &&
	grep "D/two.*is not the content soc.db names" err &&
	sqlite3 "$TRASH/server-copy/soc.db" .dump >after &&
	test_cmp before after
'

test_done
