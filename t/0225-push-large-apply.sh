#!/bin/sh
# A large push (more than SYNC_EACH_MAX files) moves each directory files/
# lacks in one rename: all its files appear at once. Killed right after
# that rename, the server finishes the apply at its next start, and
# files/ equals the head. Directories moved whole get the mode a
# directory made in files/ has. SOC_TEST_APPLY_DELAY_MS pauses after
# each step of an apply, so the kill lands between two of them; the
# restart runs without it.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r
SOC_TEST_APPLY_DELAY_MS=400
export SOC_TEST_APPLY_DELAY_MS

# wait_for PATH: PATH exists within 20 s.
wait_for() {
	wf_n=0
	until [ -e "$1" ]; do
		wf_n=$((wf_n + 1))
		[ $wf_n -le 1000 ] || { echo "'$1' never came" >&2; return 1; }
		sleep 0.02
	done
}

test_expect_success_here 'a server holding old/keep and old/gone' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir -p w/old &&
	echo keep >w/old/keep &&
	echo gone >w/old/gone &&
	{ change old/keep w/old/keep && change old/gone w/old/gone; } >body &&
	push_all w body
'

test_expect_success_here 'a push of 80 files in new directories, 3 in old/, one delete' '
	mkdir -p w/new/a w/new/b/c &&
	i=1 &&
	while [ $i -le 40 ]; do
		echo "a $i" >w/new/a/f$i &&
		echo "c $i" >w/new/b/c/f$i &&
		{ change new/a/f$i w/new/a/f$i && change new/b/c/f$i w/new/b/c/f$i; } >>body2 || return 1
		i=$((i + 1))
	done &&
	for f in o1 o2 o3; do
		echo "$f" >w/old/$f &&
		change old/$f w/old/$f >>body2 || return 1
	done &&
	deletion old/gone "$(hash_of w/old/gone)" >>body2 &&
	rm w/old/gone &&
	push_begin body2 &&
	push_upload w
'

test_expect_success_here 'new/ lands whole in one step; the server is killed right after' '
	{ push_commit >code & } &&
	commit_pid=$! &&
	wait_for "$R/files/new" &&
	find "$R/files/new" -type f >landed &&
	kill -KILL $SERVER_PID &&
	wait $commit_pid;
	wait $SERVER_PID 2>/dev/null;
	test_line_count = 80 landed &&
	! test -e "$R/files/old/o3"
'

test_expect_success_here 'the next start finishes the apply: files/ equals the head' '
	unset SOC_TEST_APPLY_DELAY_MS &&
	start_server "$R" &&
	grep "whose apply a crash interrupted" r.log &&
	soc serve check --root "$R" &&
	test "$(head_rev)" = 2 &&
	head_list | cut -d" " -f3 >paths &&
	test_line_count = 84 paths &&
	(cd w && find . -type f | sed "s|^\./||" | LC_ALL=C sort) >want &&
	test_cmp want paths &&
	tree_sum w >want.sum &&
	tree_sum "$R/files" >got.sum &&
	test_cmp want.sum got.sum &&
	test -z "$(find "$R/commit" -mindepth 1)"
'

test_expect_success 'directories moved whole have the mode of one made in files/' '
	stat -c "%a %n" "$R/files/new" "$R/files/new/a" "$R/files/new/b" "$R/files/new/b/c" |
		cut -d" " -f1 | sort -u >modes &&
	stat -c "%a" "$R/files/old" >want &&
	test_cmp want modes
'

test_expect_success_here 'a second large push: new files in new/a beside a new directory' '
	: >body3 &&
	mkdir -p w/more/deep &&
	i=1 &&
	while [ $i -le 70 ]; do
		echo "more $i" >w/more/deep/m$i &&
		change more/deep/m$i w/more/deep/m$i >>body3 || return 1
		i=$((i + 1))
	done &&
	echo "a 41" >w/new/a/f41 &&
	change new/a/f41 w/new/a/f41 >>body3 &&
	push_all w body3 &&
	soc serve check --root "$R" &&
	tree_sum w >want.sum &&
	tree_sum "$R/files" >got.sum &&
	test_cmp want.sum got.sum
'

test_done
