#!/bin/sh
# Revoking a token ends its open pushes: a token made anew under the same
# name is another token and cannot commit, upload into or abort a push the
# old one began; the revoke removes the push's rows, the sweep its
# staging/ directory. A root made before txns knew their token's identity
# upgrades in place: its open pushes stay their token's.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r

# db FILE SQL: one statement on soc.db, its first value printed (python3: make test installs it).
db() {
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
r = c.execute(sys.argv[2]).fetchone()
if r is not None: print(r[0])' "$1" "$2"
}

test_expect_success_here 'a server and a token alice' '
	start_server "$R" &&
	soc serve token new alice --root "$R" >tok1 &&
	TOKEN=$(cat tok1)
'

test_expect_success 'alice begins a push and uploads it' '
	mkdir w &&
	echo "alice was here" >w/a &&
	change a w/a >body &&
	push_begin body &&
	push_upload w &&
	test -f "$R/staging/$TXN/a" &&
	echo "$TXN" >txn
'

test_expect_success 'revoke alice, make alice anew: her push is not open to the new alice' '
	soc serve token revoke alice --root "$R" 2>err &&
	grep "aborted 1 open push of the token .alice." err &&
	soc serve token new alice --root "$R" >tok2 &&
	TOKEN=$(cat tok2) && TXN=$(cat txn) &&
	test "$(push_commit)" = 404 &&
	grep "\"error\":\"not_found\"" out &&
	test "$(api DELETE "push/$TXN")" = 404 &&
	test "$(api POST "push/$TXN/upload" -H "Upgrade: soc-upload" -H "Connection: Upgrade")" = 404 &&
	test "$(head_rev)" = 0 &&
	! test -e "$R/files/a" &&
	test "$(db "$R/soc.db" "SELECT (SELECT count(*) FROM txns) + (SELECT count(*) FROM txn_items)")" = 0
'

test_expect_success '... the sweep removes its staging directory; serve check is clean' '
	n=0 &&
	while test -e "$R/staging/$(cat txn)" && test $n -lt 50; do sleep 0.1; n=$((n + 1)); done &&
	! test -e "$R/staging/$(cat txn)" &&
	soc serve check --root "$R"
'

test_expect_success 'the new alice pushes as usual' '
	TOKEN=$(cat tok2) &&
	push_begin body &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	test "$(head_rev)" = 1
'

test_expect_success_here 'a root from before: open pushes upgrade to their token, a gone token to none' '
	TOKEN=$(cat tok2) &&
	echo "kept" >w/b &&
	change b w/b >body &&
	push_begin body && push_upload w && echo "$TXN" >kept &&
	soc serve token new bob --root "$R" >tokb &&
	TOKEN=$(cat tokb) &&
	echo "bob" >w/c &&
	change c w/c >body &&
	push_begin body && push_upload w && echo "$TXN" >bobs &&
	stop_server $SERVER_PID &&
	db "$R/soc.db" "ALTER TABLE txns DROP COLUMN token_sha256" &&
	db "$R/soc.db" "DELETE FROM tokens WHERE name = '\''bob'\''" &&
	soc serve token new bob --root "$R" >tokb2 &&
	start_server "$R" &&
	TOKEN=$(cat tok2) &&
	test "$(push_commit "$(cat kept)")" = 200 &&
	TOKEN=$(cat tokb2) &&
	test "$(push_commit "$(cat bobs)")" = 404 &&
	test "$(head_rev)" = 2 &&
	! test -e "$R/files/c" &&
	soc serve check --root "$R"
'

test_done
