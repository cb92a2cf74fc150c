#!/bin/sh
# soc watch (issue 17): two workspaces watching one real server. An edit
# on one appears on the other within 3 s; an edit of one file on both
# sides ends in one conflict copy and nothing lost; the server stopped
# and started again mid-watch, both resume; idle, a watcher costs no CPU;
# SIGTERM ends it, exit 0.
. "$(dirname "$0")/lib.sh"

# within SECONDS CMD...: runs CMD every 0.1 s until it succeeds, at most SECONDS.
within() {
	limit=$(($1 * 10))
	shift
	n=0
	while ! "$@"; do
		n=$((n + 1))
		[ $n -lt $limit ] || return 1
		sleep 0.1
	done
}

# holds FILE TEXT: FILE exists and holds TEXT.
holds() {
	[ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

# start_watch DIR: soc watch in DIR, its log in DIR.log; killed at exit like the servers.
start_watch() {
	(cd "$1" && exec "$SOC" watch) >"$1.log" 2>&1 &
	pid=$!
	SERVER_PIDS="$SERVER_PIDS $pid"
	eval "WATCH_$1=$pid"
	within 5 grep -q "watching" "$1.log"
}

test_expect_success_here 'a server, a/ and b/ in step, both watching' '
	setup_two &&
	mkdir a/D &&
	echo one >a/D/x &&
	(cd a && soc add -q -r D && soc push -q) &&
	(cd b && soc pull -q) &&
	start_watch a &&
	start_watch b
'

test_expect_success 'an edit in a/ is in b/ within 3 s' '
	sleep 0.5 &&
	echo two >a/D/x &&
	within 3 holds b/D/x two
'

test_expect_success 'a new file in b/ is in a/ within 3 s' '
	echo new >b/D/y &&
	within 3 holds a/D/y new
'

test_expect_success 'one file edited on both sides: one conflict copy, both edits kept' '
	echo from-a >a/D/x &
	echo from-b >b/D/x &
	wait &&
	within 10 sh -c "ls a/D b/D | grep -c conflict-r | grep -qx 1" &&
	sleep 2 &&
	test "$(ls a/D b/D | grep -c conflict-r)" = 1 &&
	cat a/D/x* b/D/x* | sort >got &&
	grep -x from-a got &&
	grep -x from-b got
'

test_expect_success 'the conflict resolved where it is, both sides agree again' '
	for ws in a b; do
		for c in $ws/D/x.conflict-r*; do
			[ -e "$c" ] || continue
			rm "$c" &&
			(cd $ws && soc add -q D/x) || return 1
		done
	done &&
	within 10 sh -c "test \"\$(cat a/D/x)\" = \"\$(cat b/D/x)\""
'

# On a cluster the node stopped is node 1, started again on its own
# port behind the same haproxy; node 2 serves meanwhile, so a watcher
# never loses the server and never says it answers again.
test_expect_success_here 'the server stopped and started again: both watchers resume' '
	port=${URL##*:} &&
	if ! one_node; then
		port=$(sed -n "s/.* listening on http:.*:\([0-9]*\)\$/\1/p" server.log | tail -n 1)
	fi &&
	stop_server $SERVER_PID &&
	echo while-down >a/D/z &&
	sleep 2 &&
	SOC_SERVE_LOG=$TRASH/server2.log &&
	{ "$SOC" serve --root "$TRASH/server" --listen 127.0.0.1:$port 2>"$SOC_SERVE_LOG" & } &&
	SERVER_PID=$! &&
	SERVER_PIDS="$SERVER_PIDS $SERVER_PID" &&
	within 5 grep -q "listening on" "$SOC_SERVE_LOG" &&
	within 40 holds b/D/z while-down &&
	echo after >b/D/z &&
	within 40 holds a/D/z after &&
	test "$(grep -c "cannot reach the server" a.log)" -le 2 &&
	{ ! one_node || grep "the server answers again" a.log; }
'

test_expect_success_here 'inotify out of watches: said once, and a change still goes out by the periodic scan' '
	soc init c --remote "$URL" -q &&
	(cd c && soc pull -q) &&
	{ (cd c && SOC_TEST_WATCHES_MAX=1 exec "$SOC" watch) >c.log 2>&1 & } &&
	WATCH_c=$! &&
	SERVER_PIDS="$SERVER_PIDS $WATCH_c" &&
	within 5 grep -q "watching" c.log &&
	test "$(grep -c "inotify limit" c.log)" = 1 &&
	echo from-c >c/D/w &&
	within 25 holds a/D/w from-c &&
	kill -TERM $WATCH_c &&
	wait $WATCH_c
'

test_expect_success 'idle, a watcher spends under 1% of a CPU over 30 s' '
	pid=$WATCH_a &&
	t0=$(awk "{ print \$14 + \$15 }" /proc/$pid/stat) &&
	sleep 30 &&
	t1=$(awk "{ print \$14 + \$15 }" /proc/$pid/stat) &&
	hz=$(getconf CLK_TCK) &&
	echo "watcher CPU over 30 s: $((t1 - t0)) ticks of 1/$hz s" &&
	test $((t1 - t0)) -lt $((30 * hz / 100))
'

test_expect_success_here 'SIGTERM: each watcher stops, exit 0' '
	for ws in a b; do
		eval "pid=\$WATCH_$ws" &&
		kill -TERM $pid &&
		wait $pid &&
		grep "stopped watching" $ws.log || return 1
	done
'

test_done
