#!/bin/sh
# soc restore killed (SIGKILL) at random moments, or the server under it:
# every file is whole, either as it was or as restored, an edit in the
# way is in its place or in its copy, and the next restore finishes the
# job. Then the restore is pushed and pulled, and soc serve check is clean.
#
#   SOC_RESTORE_KILL_TRIALS (default 8)
. "$(dirname "$0")/lib.sh"

TRIALS=${SOC_RESTORE_KILL_TRIALS:-8}

rand() {
	echo $(($(od -An -N2 -tu2 /dev/urandom) % $1))
}

# Each file of D/ holds one of the contents recorded in sums, whole.
whole() {
	for f in a/D/*; do
		grep -qx "$(sha256sum <"$f" | cut -d" " -f1)" sums || { echo "torn: $f" >&2; return 1; }
	done
}

test_expect_success_here 'r1 and r2 of eight files; an unpushed edit of one in a/' '
	setup_two &&
	mkdir a/D &&
	for i in 1 2 3 4 5 6 7 8; do head -c 300000 /dev/urandom | base64 >a/D/f$i || return 1; done &&
	(cd a && soc add -r D -q && soc push -q) &&
	for f in a/D/*; do sha256sum <$f | cut -d" " -f1 >>sums || return 1; cp $f $f.r1 || return 1; done &&
	mkdir r1 && mv a/D/*.r1 r1/ &&
	for i in 1 2 3 4 5 6 7 8; do head -c 300000 /dev/urandom | base64 >a/D/f$i || return 1; done &&
	(cd a && soc push -q) &&
	echo "my edit" >>a/D/f1 &&
	for f in a/D/*; do sha256sum <$f | cut -d" " -f1 >>sums || return 1; done &&
	mkdir r2 && cp a/D/* r2/
'

test_expect_success_here "$TRIALS trials, each killing restore or the server at random" '
	client_kills=0 server_kills=0 &&
	for t in $(seq $TRIALS); do
		(cd a && exec soc restore -q D --rev 1) 2>>clients.log &
		pid=$!
		sleep "$(printf "0.%03d" $(rand 200))"
		if [ $(rand 3) = 0 ]; then
			kill -KILL $SERVER_PID 2>/dev/null && server_kills=$((server_kills + 1))
			wait $pid
			wait $SERVER_PID 2>/dev/null
			start_server "$TRASH/server" &&
			for w in a b; do
				sed "s|^remote = .*|remote = $URL|" $w/.soc/config >cfg && cat cfg >$w/.soc/config ||
					return 1
			done &&
			soc serve check --root "$TRASH/server" || return 1
		else
			kill -KILL $pid 2>/dev/null && client_kills=$((client_kills + 1))
			wait $pid
		fi
		whole || return 1
		cat a/D/* | grep -qx "my edit" || { echo "the edit is lost" >&2; return 1; }
		# Back to r2 and the edit, for the next trial to restore again.
		rm -f a/D/*.restore-r* && cp r2/* a/D/ || return 1
	done &&
	test_figure "restore kill trials: $TRIALS, restore killed $client_kills times," \
		"the server $server_kills times"
'

test_expect_success 'the next restore finishes: every file as at r1, the edit in a copy' '
	(cd a && soc restore -q D --rev 1) &&
	for i in 1 2 3 4 5 6 7 8; do cmp r1/f$i.r1 a/D/f$i || return 1; done &&
	grep -x "my edit" a/D/f1.restore-r1* &&
	! test -e a/.soc/incoming
'

test_expect_success 'pushed and pulled: both sides equal, serve check clean' '
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	soc serve check --root "$TRASH/server"
'

test_done
