#!/bin/sh
# The version store: every content a revision names is kept in
# ROOT/versions/ (a hard link, no copy), and GET history, tree and blob
# read it back; gc keeps what retention says, check catches a changed blob.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

blob() {
	h=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)
	echo "server/versions/$(echo "$h" | cut -c1-2)/$h"
}

test_expect_success_here 'a server and two workspaces' '
	setup_two &&
	TOKEN=$ADMIN_TOKEN
'

test_expect_success 'a push keeps its content in versions/, the same inode as files/' '
	mkdir a/D &&
	printf one >a/D/f && printf keep >a/D/g && printf gone >a/D/h &&
	(cd a && soc add D -q && soc push -q) &&
	test "$(stat -c %i server/files/D/f)" = "$(stat -c %i "$(blob one)")" &&
	test "$(stat -c %h server/files/D/f)" = 2
'

test_expect_success 'an overwrite and a delete leave the old content in versions/' '
	printf two >a/D/f && rm a/D/h &&
	(cd a && soc push -q) &&
	test "$(cat "$(blob one)")" = one &&
	test "$(cat "$(blob gone)")" = gone &&
	test "$(stat -c %h "$(blob one)")" = 1 &&
	test "$(cat server/files/D/f)" = two
'

test_expect_success 'history lists every revision of a path, newest first' '
	test "$(api GET "history?path=D/f")" = 200 &&
	python3 -c "
import json, sys
l = [json.loads(x) for x in open(\"out\")]
assert [x[\"rev\"] for x in l] == [2, 1], l
assert l[0][\"sha256\"] == sys.argv[1] and l[1][\"sha256\"] == sys.argv[2], l
assert l[1][\"size\"] == 3 and l[1][\"mode\"] == 420 and l[1][\"kept\"] is True, l
assert l[0][\"token\"] == \"admin\" and l[0][\"time\"] > 0, l
" "$(printf two | sha256sum | cut -d" " -f1)" "$(printf one | sha256sum | cut -d" " -f1)" &&
	test "$(api GET "history?path=D/h")" = 200 &&
	head -n 1 out | grep "\"deleted\":true" &&
	test "$(api GET "history?path=D&limit=2")" = 200 &&
	test_line_count = 2 out &&
	test "$(api GET "history?path=")" = 200 &&
	test_line_count = 5 out &&
	test "$(api GET "history?path=D%2Ff")" = 200 &&
	test_line_count = 2 out
'

test_expect_success 'history refuses a bad path or limit with 400' '
	test "$(api GET "history?path=../x")" = 400 &&
	test "$(api GET "history?path=D/")" = 400 &&
	test "$(api GET "history?path=%zz")" = 400 &&
	test "$(api GET "history?limit=0")" = 400
'

test_expect_success 'tree?rev=1 is the old state; no rev is the head' '
	test "$(api GET "tree?rev=1")" = 200 &&
	head -n 1 out >first && grep "^{\"head\":2,\"rev\":1}$" first &&
	python3 -c "
import json
l = [json.loads(x) for x in open(\"out\")][1:]
assert [x[\"path\"] for x in l] == [\"D/f\", \"D/g\", \"D/h\"], l
assert all(x[\"rev\"] == 1 and x[\"kept\"] for x in l), l
" &&
	test "$(api GET "tree")" = 200 &&
	head -n 1 out | grep "^{\"head\":2,\"rev\":2}$" &&
	test_line_count = 3 out &&
	test "$(api GET "tree?rev=1&path=D/h")" = 200 &&
	test_line_count = 2 out &&
	test "$(api GET "tree?rev=0")" = 200 &&
	test_line_count = 1 out
'

test_expect_success 'tree?before=T picks the newest revision older than T' '
	t2=$(api GET "history?path=D/f" >/dev/null && head -n 1 out | python3 -c "import json,sys; print(json.load(sys.stdin)[\"time\"])") &&
	test "$(api GET "tree?before=$((t2 + 1))")" = 200 &&
	head -n 1 out | grep "\"rev\":2}" &&
	test "$(api GET "tree?before=1")" = 200 &&
	head -n 1 out | grep "\"rev\":0}"
'

test_expect_success 'tree refuses a revision past the head, or both rev and before' '
	test "$(api GET "tree?rev=3")" = 400 &&
	test "$(api GET "tree?rev=-1")" = 400 &&
	test "$(api GET "tree?rev=1&before=5")" = 400
'

test_expect_success 'blob/<sha256> gives the old bytes; unknown 404, bad 400' '
	h=$(printf one | sha256sum | cut -d" " -f1) &&
	test "$(api GET "blob/$h")" = 200 &&
	test "$(cat out)" = one &&
	test "$(api GET "blob/$(printf nothing | sha256sum | cut -d" " -f1)")" = 404 &&
	test "$(api GET "blob/abc")" = 400 &&
	test "$(api GET "blob/$(echo "$h" | tr a-f A-F)")" = 400
'

test_expect_success 'a read-only token reads history, tree and blob' '
	ro=$(soc serve token new reader --read-only --root server 2>/dev/null) &&
	h=$(printf one | sha256sum | cut -d" " -f1) &&
	test "$(TOKEN=$ro api GET "blob/$h")" = 200 &&
	test "$(TOKEN=$ro api GET "history?path=D")" = 200 &&
	test "$(TOKEN=$ro api GET "tree?rev=1")" = 200
'

test_expect_success 'a blob of 8 MiB streams whole' '
	head -c 8388608 /dev/urandom >a/D/big &&
	(cd a && soc add D/big -q && soc push -q) &&
	test "$(api GET "blob/$(hash_of a/D/big)")" = 200 &&
	cmp out a/D/big
'

test_expect_success 'the same content again, at another path, costs no new inode' '
	n=$(find server/versions -type f | wc -l) &&
	cp a/D/g a/D/g2 &&
	(cd a && soc add D/g2 -q && soc push -q) &&
	test "$(find server/versions -type f | wc -l)" = "$n" &&
	test "$(stat -c %i server/files/D/g2)" = "$(stat -c %i server/files/D/g)" &&
	test "$(stat -c %i server/files/D/g2)" = "$(stat -c %i "$(blob keep)")"
'

test_expect_success 'check is clean, then names a tampered blob (exit 1)' '
	soc serve check --root server >out 2>err &&
	test_must_be_empty out &&
	chmod u+w "$(blob gone)" && printf GONE >"$(blob gone)" &&
	test_expect_code 1 soc serve check --root server >out 2>err &&
	grep -x "wrong content: '\''$(echo "$(blob gone)" | sed s,^server/,,)'\''" out &&
	test_line_count = 1 out &&
	printf gone >"$(blob gone)" &&
	rm "$(blob one)" &&
	test_expect_code 1 soc serve check --root server >out 2>err &&
	grep "^missing: '\''$(echo "$(blob one)" | sed s,^server/,,)'\''" out &&
	printf one >"$(blob one)" &&
	soc serve check --root server
'

test_expect_success_here 'a root from before versions/ gets the head linked in at start' '
	stop_server $SERVER_PID &&
	rm -rf server/versions &&
	sqlite3 server/soc.db "DELETE FROM meta WHERE key = '\''versions_since'\''" &&
	start_server "$TRASH/server" &&
	grep "kept the 4 files of the head in .* (3 new)" server.log &&
	test "$(stat -c %i server/files/D/f)" = "$(stat -c %i "$(blob two)")" &&
	test "$(stat -c %i server/files/D/g2)" = "$(stat -c %i "$(blob keep)")" &&
	! test -e "$(blob one)" &&
	soc serve check --root server &&
	test "$(api GET "history?path=D/f")" = 200 &&
	tail -n 1 out | grep "\"kept\":false"
'

test_expect_success 'a head file that is not what the head names is refused at that start' '
	stop_server $SERVER_PID &&
	rm -rf server/versions &&
	sqlite3 server/soc.db "DELETE FROM meta WHERE key = '\''versions_since'\''" &&
	chmod u+w server/files/D/g && printf KEEP >server/files/D/g &&
	test_must_fail start_server "$TRASH/server" 2>/dev/null &&
	grep "files/D/g.* is not the content the head names" server.log
'

test_done
