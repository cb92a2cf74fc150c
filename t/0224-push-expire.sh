#!/bin/sh
# Housekeeping: a push never committed is removed after TXN_EXPIRE_SECONDS
# (shortened here through SOC_TEST_TXN_EXPIRE_SECONDS, read once at start),
# directories in staging/ that no open push owns are removed, and a start
# after a crash reopens a push whose commit was cut short while its files
# were being checked, and removes strays from commit/ and trash/; a push
# done keeps its commit/ for its own apply to remove until it is forgotten.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r

# wait_gone PATH SECONDS: PATH disappears within SECONDS.
wait_gone() {
	wg_n=0
	while [ -e "$1" ] || [ -L "$1" ]; do
		wg_n=$((wg_n + 1))
		[ $wg_n -le $(($2 * 10)) ] || { echo "'$1' still there after $2 s" >&2; return 1; }
		sleep 0.1
	done
}

test_expect_success_here 'a server whose pushes expire after 4 s' '
	serve_hooked SOC_TEST_TXN_EXPIRE_SECONDS 4 "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w && echo a >w/a && echo b >w/b
'

test_expect_success_here 'strays in staging/ go within seconds; a young push stays' '
	change a w/a >body &&
	push_begin body &&
	push_upload w &&
	YOUNG=$TXN &&
	mkdir -p "$R/staging/junk/deep" "$R/staging/0123456789abcdef0123456789abcdef" &&
	echo x >"$R/staging/junk/deep/f" &&
	echo x >"$R/staging/file" &&
	ln -s "$TRASH/w" "$R/staging/link" &&
	wait_gone "$R/staging/junk" 3 &&
	wait_gone "$R/staging/0123456789abcdef0123456789abcdef" 2 &&
	wait_gone "$R/staging/file" 2 &&
	wait_gone "$R/staging/link" 2 &&
	test -f w/a &&
	test -f "$R/staging/$YOUNG/a" &&
	grep "removed the stray .staging/junk." r.log
'

test_expect_success 'a push left open expires: staging gone, commit and DELETE 404' '
	wait_gone "$R/staging/$YOUNG" 8 &&
	test "$(push_commit "$YOUNG")" = 404 &&
	test "$(api DELETE "push/$YOUNG")" = 404 &&
	grep "push .$YOUNG. expired, never committed" r.log &&
	! test -e "$R/files/a"
'

# Long enough that a loaded machine still checks within it what a push
# done keeps while it is remembered.
test_expect_success_here 'the same server, its pushes remembered for 12 s' '
	stop_server $SERVER_PID &&
	SOC_TEST_TXN_EXPIRE_SECONDS=12 &&
	export SOC_TEST_TXN_EXPIRE_SECONDS &&
	start_server "$R" &&
	unset SOC_TEST_TXN_EXPIRE_SECONDS
'

test_expect_success_here 'a committed push moves its staging to trash/, gone after the answer' '
	change b w/b >body &&
	push_all w body &&
	DONE_AT=$(date +%s) &&
	! test -e "$R/staging/$TXN" &&
	wait_gone "$R/trash/$TXN" 3 &&
	test "$(hash_of "$R/files/b")" = "$(hash_of w/b)"
'

test_expect_success 'commit/ of a push just committed is its own to remove while it is remembered' '
	mkdir -p "$R/commit/$TXN/d" &&
	sleep 2 &&
	test -d "$R/commit/$TXN/d" &&
	! grep "removed the stray .commit/$TXN." r.log
'

test_expect_success 'a committed push is remembered for as long, then forgotten, its commit/ a stray' '
	test "$(push_commit)" = 200 &&
	n=0 &&
	while [ "$(push_commit)" = 200 ] && [ $n -lt 60 ]; do sleep 0.5; n=$((n + 1)); done &&
	test "$(push_commit)" = 404 &&
	test $(($(date +%s) - DONE_AT)) -ge 10 &&
	wait_gone "$R/commit/$TXN" 3 &&
	grep "removed the stray .commit/$TXN." r.log &&
	test -f "$R/files/b" &&
	soc serve check --root "$R"
'

test_expect_success_here 'a crash while a commit checked files: the next start reopens the push' '
	change a w/a >body &&
	push_begin body &&
	push_upload w &&
	stop_server $SERVER_PID &&
	python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute(\"UPDATE txns SET state = (?) WHERE id = (?)\", (\"committing\", sys.argv[2]))
db.commit()
" "$R/soc.db" "$TXN" &&
	mkdir -p "$R/commit/$TXN" "$R/commit/ffffffffffffffffffffffffffffffff" &&
	ln "$R/staging/$TXN/a" "$R/commit/$TXN/a" &&
	mkdir -p "$R/trash/ffffffffffffffffffffffffffffffff/d" &&
	echo left >"$R/trash/ffffffffffffffffffffffffffffffff/d/f" &&
	start_server "$R" &&
	grep "reopened push .$TXN., whose commit a crash interrupted" r.log &&
	! test -e "$R/trash/ffffffffffffffffffffffffffffffff" &&
	! test -e "$R/commit/$TXN" &&
	! test -e "$R/commit/ffffffffffffffffffffffffffffffff" &&
	test "$(push_commit)" = 200 &&
	test "$(hash_of "$R/files/a")" = "$(hash_of w/a)" &&
	soc serve check --root "$R"
'

test_expect_success 'a bad SOC_TEST_TXN_EXPIRE_SECONDS is refused with a warning' '
	SOC_TEST_TXN_EXPIRE_SECONDS=soon "$SOC" serve --root "$TRASH/r2" --listen 127.0.0.1:0 2>r2.log &
	pid=$! &&
	n=0 &&
	while ! grep -q listening r2.log && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done &&
	stop_server $pid &&
	grep "ignoring SOC_TEST_TXN_EXPIRE_SECONDS=.soon." r2.log
'

test_expect_success 'rsyncd.log past 16 MiB becomes rsyncd.log.1; the next transfer starts a new one' '
	size=$(($(stat -c %s "$R/rsyncd.log") + 16 * 1024 * 1024)) &&
	head -c $((16 * 1024 * 1024)) /dev/zero | tr "\0" x >>"$R/rsyncd.log" &&
	n=0 && while ! grep -q "passed 16 MiB" r.log && [ $n -lt 30 ]; do sleep 0.1; n=$((n + 1)); done &&
	test "$(stat -c %s "$R/rsyncd.log.1")" = "$size" &&
	grep "rsyncd.log. passed 16 MiB; it is now .rsyncd.log.1." r.log &&
	test "$(stat -c %a "$R/rsyncd.log")" = 600 &&
	echo c >w/c &&
	change c w/c >body &&
	push_all w body &&
	grep "rsync to push/" "$R/rsyncd.log" &&
	test "$(stat -c %s "$R/rsyncd.log")" -lt 100000
'

test_expect_success 'no sanitizer report' '
	! grep -i "sanitizer\|runtime error" r.log
'

test_done
