#!/bin/sh
# A client killed with SIGKILL during push and during pull, then run again:
# no content lost, and both workspaces converge to the same files.
. "$(dirname "$0")/lib.sh"

TRIALS=${SOC_KILL_TRIALS:-6}

test_expect_success_here 'a server, two workspaces, files to sync' '
	setup_two &&
	mkdir a/D &&
	for i in $(seq 40); do head -c 200000 /dev/urandom >a/D/f$i || return 1; done &&
	(cd a && soc add -r D -q)
'

# Kills `soc CMD` in workspace WS after a delay of some milliseconds.
run_and_kill() {
	ws=$1 cmd=$2 ms=$3
	(cd "$ws" && exec soc $cmd -q) 2>>kill.log &
	pid=$!
	sleep "$(printf "0.%03d" "$ms")"
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	# rsync and the tunnel may outlive their parent for a moment.
	sleep 0.1
	return 0
}

test_expect_success 'push killed at several points, then run again, lands everything' '
	for t in $(seq $TRIALS); do
		run_and_kill a push $((t * 37 % 300 + 5)) || return 1
		for i in $(seq $t); do echo "edit $t $i" >>a/D/f$i || return 1; done
	done &&
	(cd a && soc push -q) &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	srv=$(server_tree server) &&
	for i in $(seq 40); do
		test "$(hash_of a/D/f$i)" = "$(hash_of "$srv/D/f$i")" || return 1
	done
'

test_expect_success 'pull killed at several points, then run again, converges' '
	for t in $(seq $TRIALS); do
		run_and_kill b pull $((t * 41 % 300 + 5)) || return 1
	done &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	(cd b && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'edits on both sides with kills in between still converge' '
	for t in $(seq $TRIALS); do
		echo "a $t" >>a/D/f1 &&
		echo "b $t" >>b/D/f2 &&
		run_and_kill a push $((t * 53 % 200 + 5)) &&
		run_and_kill b push $((t * 29 % 200 + 5)) || return 1
	done &&
	(cd a && soc push -q; soc pull -q; soc push -q) &&
	(cd b && soc pull -q; soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	grep "a $TRIALS" b/D/f1 &&
	grep "b $TRIALS" a/D/f2
'

# The worst moment: the commit landed, the client died before it recorded
# so. Its index is put back to before the push to make that moment exact.
test_expect_success 'a push that landed unrecorded is pushed again as done, not refused' '
	(cd a && soc pull -q && soc push -q) &&
	echo "landed" >>a/D/f3 &&
	rm a/D/f4 &&
	cp a/.soc/index.db index.saved &&
	(cd a && soc push -q) &&
	rev=$(cd a && soc log -n 1 | cut -d" " -f1) &&
	cp index.saved a/.soc/index.db &&
	rm -f a/.soc/index.db-wal a/.soc/index.db-shm &&
	(cd a && soc status --porcelain --offline) >out &&
	printf "M D/f3\nD D/f4\n" >expect &&
	test_cmp expect out &&
	(cd a && soc push) 2>err &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	test "$(cd a && soc log -n 1 | cut -d" " -f1)" = "$rev" &&
	t=$(server_tree server) &&
	test "$(hash_of a/D/f3)" = "$(hash_of "$t/D/f3")" &&
	! test -e "$t/D/f4"
'

test_expect_success 'killed right after its commit landed, then edited again: the next push just works' '
	echo "gone" >a/D/f9 && (cd a && soc add -q D/f9 && soc push -q) &&
	rm a/D/f9 &&
	echo "first" >>a/D/f5 &&
	(cd a && SOC_TEST_KILL_AFTER_COMMIT=1 && export SOC_TEST_KILL_AFTER_COMMIT && test_expect_code 137 soc push -q) &&
	test -f a/.soc/pending &&
	t=$(server_tree server) &&
	test "$(hash_of a/D/f5)" = "$(hash_of "$t/D/f5")" &&
	echo "second" >>a/D/f5 &&
	(cd a && soc push) 2>err &&
	grep "the last push landed before it was cut off: 2 changes recorded" err &&
	! test -f a/.soc/pending &&
	t=$(server_tree server) &&
	test "$(hash_of a/D/f5)" = "$(hash_of "$t/D/f5")" &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

# A commit goes on without its client. Run again while the server still
# works on it, a push must not settle its record first and the push
# land after, unrecorded: it waits for the commit, then records it.
test_expect_success_here 'killed while the server commits, then run again at once: it waits, and records the push' '
	SOC_TEST_APPLY_DELAY_MS=1500 && export SOC_TEST_APPLY_DELAY_MS &&
	start_server "$TRASH/slow" && unset SOC_TEST_APPLY_DELAY_MS &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init s --remote "$URL" -q &&
	echo one >s/f && (cd s && soc add f -q && soc push -q) &&
	echo two >s/f || return 1
	(cd s && exec soc push -q) 2>kill.err &
	pid=$! &&
	n=0 && until server_sql "$TRASH/slow" "SELECT count(*) FROM txns WHERE state IN ('"'"'committing'"'"', '"'"'applying'"'"')" | grep -qx 1; do
		n=$((n + 1)) && test $n -lt 300 && sleep 0.02 || return 1
	done &&
	kill -KILL $pid && ! wait $pid &&
	test -f s/.soc/pending &&
	(cd s && soc push) 2>err &&
	grep "the last push landed before it was cut off: 1 change recorded" err &&
	! test -f s/.soc/pending &&
	(cd s && soc status --porcelain --offline) >out &&
	test_must_be_empty out &&
	test "$(cat "$(server_tree "$TRASH/slow")/f")" = two
'

test_done
