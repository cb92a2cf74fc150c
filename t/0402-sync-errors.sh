#!/bin/sh
# Bad input to push and pull: one clear line and the documented exit code.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a server and a workspace with a file' '
	setup_two &&
	echo x >a/f &&
	(cd a && soc add f -q)
'

# Every node's log: server.log, and on a cluster server.n2.log too (the
# request may have gone to either node).
server_logs() {
	cat server.log $(one_node || echo server.n2.log)
}

test_expect_success 'no remote configured: exit 1, says how to set one' '
	soc init lone -q &&
	echo x >lone/f &&
	(cd lone && soc add f -q) &&
	test_expect_code 1 sh -c "cd lone && soc push" 2>err &&
	test_line_count = 1 err &&
	grep "no remote configured" err &&
	test_expect_code 1 sh -c "cd lone && soc pull" 2>err &&
	grep "no remote configured" err
'

test_expect_success 'server down: exit 5 naming the server' '
	soc init down --remote http://127.0.0.1:1 -q &&
	echo x >down/f &&
	(cd down && soc add f -q) &&
	test_expect_code 5 sh -c "cd down && soc push" 2>err &&
	test_line_count = 1 err &&
	grep "cannot reach the server at .http://127.0.0.1:1." err &&
	test_expect_code 5 sh -c "cd down && soc pull" 2>err &&
	grep "cannot reach" err &&
	# What a push cut off after its commit leaves (pending.c): still exit 5.
	printf -- "- f\n" >down/.soc/pending &&
	test_expect_code 5 sh -c "cd down && soc push" 2>err &&
	grep "cannot reach" err &&
	test -f down/.soc/pending
'

test_expect_success 'wrong token: exit 5, refused, nothing pushed' '
	test_expect_code 5 sh -c "cd a && SOC_TOKEN=wrong soc push" 2>err &&
	test_line_count = 1 err &&
	grep "refused the token (401)" err &&
	t=$(server_tree server) &&
	! test -e "$t/f"
'

test_expect_success 'no token at all: exit 5 and how to give one' '
	test_expect_code 5 env -u SOC_TOKEN sh -c "cd a && soc push" 2>err &&
	grep "no token" err
'

test_expect_success 'the token is in no argv and no log line while pushing, new file or changed' '
	wrap_rsync &&
	(cd a && soc push -q) &&
	server_logs | grep "upload into push" &&
	echo y >>a/f &&
	(cd a && SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) &&
	grep "soc::push/" rsync.calls &&
	! grep -F "$SOC_TOKEN" rsync.calls &&
	! server_logs | grep -F "$SOC_TOKEN"
'

# The exec's errno comes back from the child (run.c), so the line names
# rsync and why, not a bare exit 127 of rsync's.
test_expect_success 'no rsync on PATH: push exits 1 with one line naming rsync, nothing lands' '
	echo z >>a/f &&
	test_expect_code 1 env -C a PATH=/nonexistent SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 "$SOC" push 2>err &&
	test_line_count = 1 err &&
	grep "cannot run .rsync.: No such file or directory" err &&
	t=$(server_tree server) &&
	! grep z "$t/f" &&
	(cd a && soc push -q) &&
	t=$(server_tree server) &&
	grep z "$t/f"
'

test_expect_success 'a path the server refuses (a file where it has a directory): exit 3 naming it' '
	mkdir -p a/X && echo y >a/X/y &&
	(cd a && soc add -r X -q && soc push -q) &&
	echo "a file" >b/X &&
	(cd b && soc add X -q) &&
	test_expect_code 3 sh -c "cd b && soc push" 2>err &&
	grep "newer versions of .X." err &&
	grep "soc pull" err &&
	test_line_count = 2 err &&
	test "$(cat b/X)" = "a file"
'

test_expect_success 'a pull that finds a file in the way of a directory pulls the rest, keeps it, exit 1' '
	echo other >a/other &&
	(cd a && soc add other -q && soc push -q) &&
	test_expect_code 1 sh -c "cd b && soc pull" 2>err &&
	grep "X" err &&
	grep "the next pull tries them again" err &&
	test "$(cat b/X)" = "a file" &&
	test "$(cat b/other)" = other &&
	mv b/X b/X.mine &&
	(cd b && soc rm -q X && soc pull -q) &&
	test "$(cat b/X/y)" = y &&
	test "$(cat b/X.mine)" = "a file"
'

test_expect_success 'push refuses paths as arguments, pull one outside the workspace (exit 2)' '
	test_expect_code 2 sh -c "cd a && soc push f" 2>err &&
	test_expect_code 2 sh -c "cd a && soc pull /" 2>err &&
	grep "outside the workspace" err
'

test_done
