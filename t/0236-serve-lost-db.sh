#!/bin/sh
# A root whose files/ hold data but whose soc.db is missing, empty or new
# (a restore gone wrong) is refused by soc serve, token and check: a new,
# empty history would hide the files. admin.token is never written over.
. "$(dirname "$0")/lib.sh"
# A start that wrongly goes ahead is stopped by timeout: the test fails, never hangs.

root_sum() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 -r stat -c '%n %s %Y %a' &&
	 find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum)
}

test_expect_success_here 'a root with two pushes' '
	setup_two &&
	mkdir a/d && echo one >a/d/f && echo two >a/g &&
	(cd a && soc add d g -q && soc push -q) &&
	echo three >a/h && (cd a && soc add h -q && soc push -q) &&
	stop_server $SERVER_PID &&
	cp -a "$TRASH/server/versions" versions.kept &&
	cp "$TRASH/server/admin.token" token.before &&
	test -f "$TRASH/server/files/d/f"
'

# refused WHAT: soc serve, token list and check all exit 1 with the one
# line, and change nothing in the root.
refused() {
	root_sum "$TRASH/server" >before &&
	test_expect_code 1 timeout 30 soc serve --root "$TRASH/server" --listen 127.0.0.1:0 2>err &&
	test_line_count = 1 err &&
	grep "$TRASH/server. holds files (files/) but its soc.db $1: refusing to start a new history" err &&
	test_expect_code 1 soc serve token list --root "$TRASH/server" 2>err &&
	test_line_count = 1 err && grep "holds files (files/)" err &&
	test_expect_code 1 soc serve token new x --root "$TRASH/server" 2>err &&
	test_line_count = 1 err && grep "holds files (files/)" err &&
	test_expect_code 1 soc serve check --root "$TRASH/server" 2>err &&
	test_line_count = 1 err && grep "holds files (files/)" err &&
	root_sum "$TRASH/server" >after &&
	test_cmp before after &&
	test_cmp token.before "$TRASH/server/admin.token"
}

test_expect_success 'an empty soc.db: refused, nothing changed' '
	cp -p "$TRASH/server/soc.db" soc.db.kept &&
	rm -f "$TRASH/server/soc.db-wal" "$TRASH/server/soc.db-shm" &&
	: >"$TRASH/server/soc.db" &&
	refused "is empty"
'

test_expect_success 'a missing soc.db: refused, nothing changed' '
	rm "$TRASH/server/soc.db" &&
	refused "is missing"
'

test_expect_success 'a new soc.db (no revision) over files: refused at start' '
	(start_server "$TRASH/fresh" && stop_server $SERVER_PID) &&
	sqlite3 "$TRASH/fresh/soc.db" ".backup '\''$TRASH/server/soc.db'\''" &&
	root_sum "$TRASH/server" >before &&
	test_expect_code 1 timeout 30 soc serve --root "$TRASH/server" --listen 127.0.0.1:0 2>err &&
	test_line_count = 1 err &&
	grep "holds files (files/) but its soc.db holds no revision" err &&
	root_sum "$TRASH/server" >after &&
	test_cmp before after &&
	test_cmp token.before "$TRASH/server/admin.token"
'

test_expect_success 'data in versions/ alone counts too' '
	rm -rf "$TRASH/server/files" && mkdir -p "$TRASH/server/files/emptydir" &&
	mkdir -p "$TRASH/server/versions/ab" && echo v >"$TRASH/server/versions/ab/cd" &&
	rm "$TRASH/server/soc.db" &&
	test_expect_code 1 timeout 30 soc serve --root "$TRASH/server" --listen 127.0.0.1:0 2>err &&
	grep "holds files (versions/) but its soc.db is missing" err
'

test_expect_success 'no data, but admin.token: never a new admin token over it' '
	rm -rf "$TRASH/server/versions" &&
	test_expect_code 1 timeout 30 soc serve --root "$TRASH/server" --listen 127.0.0.1:0 2>err &&
	test_line_count = 1 err &&
	grep "admin.token. exists but soc.db is missing: refusing to start a new database over it" err &&
	test_cmp token.before "$TRASH/server/admin.token" &&
	! test -e "$TRASH/server/soc.db"
'

test_expect_success_here 'the database put back: the server starts, the same token works' '
	rm -rf "$TRASH/server/files" &&
	mkdir "$TRASH/server/files" && mkdir "$TRASH/server/files/d" &&
	echo one >"$TRASH/server/files/d/f" && echo two >"$TRASH/server/files/g" &&
	echo three >"$TRASH/server/files/h" &&
	chmod -R go-rwx "$TRASH/server/files" &&
	rm -rf "$TRASH/server/versions" && cp -a versions.kept "$TRASH/server/versions" &&
	cp -p soc.db.kept "$TRASH/server/soc.db" &&
	start_server "$TRASH/server" &&
	test_cmp token.before "$TRASH/server/admin.token" &&
	soc serve check --root "$TRASH/server" &&
	sed -i "s|^remote = .*|remote = $URL|" b/.soc/config &&
	(cd b && soc pull -q) && test "$(cat b/h)" = three
'

test_done
