#!/bin/sh
# The commit is crash-safe: 50 pushes, each killed with SIGKILL at a random
# moment of its commit, the server restarted after each. Every restart
# must leave files/ equal to the head (soc serve check), every push
# answered 200 must be in the head, and every push is all there or not at
# all. SOC_TEST_APPLY_DELAY_MS (read once at start) pauses at each step of
# an apply, so many kills land in the middle of one; the test says how
# many did.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r
PUSHES=50
DELAY_MS=30		# four pauses an apply: after the record, a delete, two renames
WINDOW_MS=170		# a commit here takes about 25 ms plus the pauses; at least twice a timed one

SOC_TEST_APPLY_DELAY_MS=$DELAY_MS
export SOC_TEST_APPLY_DELAY_MS

# A random number of milliseconds below $1.
random_ms() {
	echo $(($(od -An -N2 -tu2 /dev/urandom) % $1))
}

# The head's sha256 of a path ("" when it is not in the head).
head_hash() {
	sed -n "s/^{\"path\":\"$1\",\"sha256\":\"\([0-9a-f]*\)\".*/\1/p" head.ndjson
}

fetch_head() {
	curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/changes?since=0" >head.ndjson
}

# Restarts the server and counts what its recovery said.
restart() {
	start_server "$R" &&
	cat r.log >>all.log
}

test_expect_success_here 'a server holding the files the pushes will delete' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir -p w/del w/new &&
	echo "shared, first" >w/shared &&
	change shared w/shared >body &&
	i=1 &&
	while [ $i -le $PUSHES ]; do
		echo "to delete $i" >w/del/d$i &&
		change del/d$i w/del/d$i >>body || return 1
		i=$((i + 1))
	done &&
	push_all w body &&
	echo "a probe" >w/probe &&
	change probe w/probe >body &&
	push_begin body &&
	push_upload w &&
	t0=$(date +%s%N) &&
	test "$(push_commit)" = 200 &&
	ms=$((($(date +%s%N) - t0) / 1000000)) &&
	if [ $((2 * ms)) -gt $WINDOW_MS ]; then WINDOW_MS=$((2 * ms)); fi &&
	echo "# a commit took $ms ms: kills within $WINDOW_MS ms" &&
	: >all.log
'

test_expect_success_here "$PUSHES pushes, each killed at a random moment of its commit" '
	i=1 &&
	: >answered &&
	while [ $i -le $PUSHES ]; do
		fetch_head &&
		echo "new file of push $i" >w/new/n$i &&
		echo "shared, as push $i left it" >w/shared &&
		{
			change new/n$i w/new/n$i &&
			change shared w/shared "$(head_hash shared)" &&
			deletion del/d$i "$(hash_of w/del/d$i)"
		} >body &&
		push_begin body &&
		push_upload w &&
		{ push_commit >code & } &&
		commit_pid=$! &&
		sleep "0.$(printf %03d "$(random_ms $WINDOW_MS)")" &&
		kill -KILL $SERVER_PID &&
		wait $commit_pid;
		wait $SERVER_PID 2>/dev/null;
		if [ "$(cat code)" = 200 ]; then echo $i >>answered; fi &&
		restart &&
		soc serve check --root "$R" || return 1
		i=$((i + 1))
	done
'

test_expect_success 'every push answered 200 is in the head' '
	fetch_head &&
	test -s answered &&
	for i in $(cat answered); do
		test "$(head_hash "new\/n$i")" = "$(echo "new file of push $i" | sha256sum | cut -c1-64)" &&
		test -z "$(head_hash "del\/d$i")" || { echo "push $i answered 200 but is not in the head"; return 1; }
	done
'

test_expect_success 'every push landed whole or not at all' '
	fetch_head &&
	landed=0 &&
	i=1 &&
	while [ $i -le $PUSHES ]; do
		n=$(head_hash "new\/n$i") && d=$(head_hash "del\/d$i") &&
		if [ -n "$n" ] && [ -z "$d" ]; then
			landed=$((landed + 1))
		elif [ -n "$n" ] || [ -z "$d" ]; then
			echo "push $i is half there: new $n, deleted one $d"
			return 1
		fi
		i=$((i + 1))
	done &&
	echo "$landed" >landed &&
	test "$(head_rev)" = $((landed + 2))
'

test_expect_success 'files/ equals the head, and no push is left half-applied' '
	soc serve check --root "$R" &&
	test -z "$(find "$R/commit" -mindepth 1)"
'

applied=$(grep -c "whose apply a crash interrupted" all.log)
checking=$(grep -c "whose commit a crash interrupted" all.log)
echo "# $PUSHES kills: $applied landed during an apply (finished at restart)," \
	"$checking while the staged files were checked (reopened);" \
	"$(wc -l <answered) pushes answered 200, $(cat landed) landed in all"

test_expect_success 'kills landed during applies, and each such push was finished' '
	test "$applied" -ge 5 &&
	test "$(cat landed)" -ge $(($(wc -l <answered) + applied)) &&
	! grep -i "sanitizer\|runtime error" all.log
'

test_done
