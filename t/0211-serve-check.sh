#!/bin/sh
# soc serve check: files/ must hold exactly the head, and nothing under the
# root may be a symlink. Content checks with pushed files are in t/03xx.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a fresh root' '
	start_server "$TRASH/r" &&
	stop_server $SERVER_PID
'

test_expect_success 'a fresh root checks clean' '
	soc serve check --root "$TRASH/r" >out 2>err &&
	test_must_be_empty out &&
	grep "0 files, all as the head says" err
'

test_expect_success 'a file the head does not name: one line, exit 1' '
	echo stray >"$TRASH/r/files/stray" &&
	test_expect_code 1 soc serve check --root "$TRASH/r" >out &&
	echo "not in the head: '\''files/stray'\''" >expect &&
	test_cmp expect out &&
	rm "$TRASH/r/files/stray"
'

test_expect_success 'a symlink planted anywhere under the root is named' '
	mkdir -p "$TRASH/r/files/d" &&
	ln -s /etc/passwd "$TRASH/r/files/d/link" &&
	ln -s /etc "$TRASH/r/staging/x" &&
	test_expect_code 1 soc serve check --root "$TRASH/r" >out &&
	grep "^symlink: '\''files/d/link'\''$" out &&
	grep "^symlink: '\''staging/x'\''$" out &&
	test_line_count = 2 out &&
	rm "$TRASH/r/files/d/link" "$TRASH/r/staging/x" && rmdir "$TRASH/r/files/d"
'

test_expect_success 'a fifo in files/ is not a regular file' '
	mkfifo "$TRASH/r/files/fifo" &&
	test_expect_code 1 soc serve check --root "$TRASH/r" >out &&
	grep "^not a regular file: '\''files/fifo'\''$" out &&
	rm "$TRASH/r/files/fifo"
'

test_expect_success 'no root there: exit 1, nothing created' '
	test_expect_code 1 soc serve check --root "$TRASH/none" 2>err &&
	grep "none" err &&
	! test -e "$TRASH/none"
'

test_done
