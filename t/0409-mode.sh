#!/bin/sh
# The executable bit travels as git tracks it: a chmod +x or -x alone is a
# change (M in status), pushed, and pulled into the other workspace; a
# mode changed on one side and the content on the other both survive.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

wrap_rsync

# modes ROOT PATH...: the permission bits of each path, on one line.
modes() {
	m_root=$1
	shift
	for m_p; do
		stat -c %a "$m_root/$m_p" || return 1
	done | tr '\n' ' '
}

test_expect_success_here 'a server, two workspaces in sync' '
	setup_two &&
	mkdir a/D &&
	echo "#!/bin/sh" >a/D/run.sh &&
	echo "#!/bin/sh" >a/D/twin &&
	for f in plain other both; do echo "$f" >a/D/$f || return 1; done &&
	chmod 644 a/D/* &&
	(cd a && soc add -r D -q && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(modes b D/run.sh D/twin)" = "644 644 "
'

test_expect_success 'a touch alone is no change' '
	touch -d "2001-01-01" a/D/plain &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'chmod +x alone: M in status, push sends it' '
	chmod +x a/D/run.sh &&
	(cd a && soc status --porcelain --offline) >out &&
	echo "M D/run.sh" >want &&
	test_cmp want out &&
	(cd a && soc push -n) >out &&
	test_cmp want out
'

test_expect_success 'the push makes a revision, files/ gets the mode, no content is sent' '
	rev=$(curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/info" |
	      sed -n "s/.*\"head\":\([0-9]*\).*/\1/p") &&
	calls=$(client_rsyncs) &&
	(cd a && soc push) 2>err &&
	! grep "up to date" err &&
	grep "as revision $((rev + 1))" err &&
	test "$(client_rsyncs)" = "$calls" &&
	t=$(server_tree server) &&
	test "$(modes "$t" D/run.sh D/twin)" = "755 644 " &&
	test "$(hash_of "$t/D/run.sh")" = "$(hash_of a/D/run.sh)" &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	(cd a && soc push) 2>err &&
	grep "everything up to date" err &&
	soc serve check --root server
'

test_expect_success 'the other workspace pulls the mode and has nothing to push' '
	(cd b && soc pull -n) >out &&
	grep "D/run.sh" out &&
	(cd b && soc pull) 2>err &&
	test "$(modes b D/run.sh D/twin)" = "755 644 " &&
	(cd b && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	(cd b && soc pull) 2>err &&
	grep "already up to date" err
'

test_expect_success 'chmod -x goes back the same way' '
	chmod -x b/D/run.sh &&
	(cd b && soc status --porcelain --offline) >out &&
	echo "M D/run.sh" >want &&
	test_cmp want out &&
	(cd b && soc push -q) &&
	t=$(server_tree server) &&
	test "$(modes "$t" D/run.sh)" = "644 " &&
	(cd a && soc pull -q) &&
	test "$(modes a D/run.sh)" = "644 " &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	(cd b && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'chmod +x here, the content edited there: both land' '
	chmod +x a/D/plain &&
	(cd a && soc push -q) &&
	echo "edited in b" >b/D/plain &&
	(cd b && test_expect_code 3 soc push) 2>err &&
	grep "newer versions of .D/plain." err &&
	(cd b && soc pull -q) &&
	test "$(cat b/D/plain)" = "edited in b" &&
	test "$(modes b D/plain)" = "755 " &&
	! ls b/D | grep conflict &&
	(cd b && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(cat a/D/plain)" = "edited in b" &&
	t=$(server_tree server) &&
	test "$(cat "$t/D/plain")" = "edited in b" &&
	test "$(modes a D/plain)" = "755 " &&
	test "$(modes "$t" D/plain)" = "755 "
'

test_expect_success 'the content edited there, chmod +x here: both land' '
	echo "edited in a" >a/D/other &&
	(cd a && soc push -q) &&
	chmod +x b/D/other &&
	(cd b && test_expect_code 3 soc push) 2>err &&
	(cd b && soc pull -q) &&
	test "$(cat b/D/other)" = "edited in a" &&
	test "$(modes b D/other)" = "755 " &&
	(cd b && soc status --porcelain --offline) >out &&
	echo "M D/other" >want &&
	test_cmp want out &&
	(cd b && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(modes a D/other)" = "755 " &&
	t=$(server_tree server) &&
	test "$(modes "$t" D/other)" = "755 " &&
	test "$(cat a/D/other)" = "edited in a"
'

test_expect_success 'the same chmod on both sides: no conflict, no revision' '
	chmod +x a/D/both b/D/both &&
	(cd a && soc push -q) &&
	(cd b && soc push) 2>err &&
	grep "held every change already" err &&
	(cd b && soc pull -q) &&
	(cd b && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test "$(modes a D/both)" = "755 " &&
	test "$(modes b D/both)" = "755 " &&
	soc serve check --root server
'

test_expect_success 'a content conflict: ours kept, with the mode merged; no second conflict for the mode' '
	echo "x" >a/D/conf && echo "x" >b/D/conf &&
	(cd a && soc push -q) && (cd b && soc pull -q) &&
	echo "theirs" >a/D/conf && chmod +x a/D/conf &&
	(cd a && soc push -q) &&
	echo "ours" >b/D/conf &&
	(cd b && test_expect_code 4 soc pull) 2>err &&
	grep "conflict in .D/conf." err &&
	test "$(cat b/D/conf)" = ours &&
	test "$(modes b D/conf)" = "755 " &&
	test "$(cat b/D/conf.conflict-r*)" = theirs &&
	rm b/D/conf.conflict-r* &&
	(cd b && soc add D/conf -q && soc push -q) &&
	t=$(server_tree server) &&
	test "$(cat "$t/D/conf")" = ours &&
	test "$(modes "$t" D/conf)" = "755 " &&
	(cd a && soc pull -q) &&
	test "$(cat a/D/conf)" = ours &&
	test "$(modes a D/conf)" = "755 "
'

test_expect_success 'a chmod there not pulled yet: push -f refuses it (exit 3), pull takes it' '
	test "$(modes a D/plain)$(modes b D/plain)" = "755 755 " &&
	chmod -x b/D/plain &&
	(cd b && soc push -q) &&
	(cd a && soc push) 2>err &&
	grep "everything up to date" err &&
	(cd a && test_expect_code 3 soc push -f) 2>err &&
	grep "newer versions of .D/plain." err &&
	t=$(server_tree server) &&
	test "$(modes a D/plain)$(modes "$t" D/plain)" = "755 644 " &&
	(cd a && soc pull -q && soc push -f -q) &&
	test "$(modes a D/plain)" = "644 "
'

# An index written by the soc before modes were synced: no base_mode
# column, version 1, and D/twin chmod'ed while that soc ran: it saw the
# mode and could not send it.
test_expect_success 'an old index keeps working: nothing looks modified, a new chmod does' '
	(cd a && soc pull -q) &&
	chmod +x a/D/twin &&
	python3 - a/.soc/index.db <<-\EOF &&
	import hashlib, sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	# Version 1 named content by md5: every file here is as last synced.
	db.execute("ALTER TABLE files RENAME COLUMN sha256 TO md5")
	for (p,) in db.execute("SELECT path FROM files").fetchall():
	    m = hashlib.md5(open("a/" + p, "rb").read()).hexdigest()
	    db.execute("UPDATE files SET md5 = ?, base = ? WHERE path = ?", (m, m, p))
	db.execute("ALTER TABLE files DROP COLUMN base_mode")
	db.execute("UPDATE files SET mode = 493 WHERE path = \"D/twin\"")
	db.execute("PRAGMA user_version = 1")
	db.commit()
	EOF
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	chmod +x a/D/plain &&
	(cd a && soc status --porcelain --offline) >out &&
	echo "M D/plain" >want &&
	test_cmp want out &&
	(cd a && soc push -q) &&
	t=$(server_tree server) &&
	test "$(modes "$t" D/plain D/twin)" = "755 755 " &&
	(cd b && soc pull -q) &&
	test "$(modes b D/plain D/twin)" = "755 755 " &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

# soc.db's own upgrade: a database on PostgreSQL was never without the column.
if on_sqlite; then
test_expect_success_here 'a server root from before base_mode gets the column at its start' '
	stop_server "$SERVER_PID" &&
	python3 - server/soc.db <<-\EOF &&
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.execute("ALTER TABLE txn_items DROP COLUMN base_mode")
	db.commit()
	EOF
	start_server "$TRASH/server" &&
	python3 - server/soc.db <<-\EOF
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.execute("SELECT base_mode FROM txn_items")
	EOF
'
fi

# By hand, as t/0220 does: the line soc push sends for a chmod, and one
# from a client that has not seen the mode the head has.

test_expect_success 'by hand: a base_mode the head does not have is refused (409), the right one taken' '
	TOKEN=$ADMIN_TOKEN &&
	t=$(server_tree server) &&
	f=$t/D/run.sh &&
	test "$(modes "$t" D/run.sh)" = "644 " &&
	m=$(hash_of $f) &&
	printf "{\"path\":\"D/run.sh\",\"sha256\":\"%s\",\"size\":%s,\"mtime\":1,\"mode\":493,\"base\":\"%s\",\"base_mode\":493}\n" \
		"$m" "$(stat -c %s $f)" "$m" >body &&
	code=$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body) &&
	test "$code" = 409 &&
	grep "D/run.sh" out &&
	sed "s/\"base_mode\":493/\"base_mode\":420/" body >body2 &&
	push_all . body2 &&
	test_must_be_empty upload &&
	t=$(server_tree server) && f=$t/D/run.sh &&
	test "$(modes "$t" D/run.sh)" = "755 " &&
	test "$(hash_of $f)" = "$m" &&
	soc serve check --root server
'

test_done
