#!/bin/sh
# SIGKILL at random moments: in each trial a random edit is made, then a
# push or a pull runs and either the server or the client is killed with
# SIGKILL after a random delay. A killed server is restarted, and its
# files/ must equal its head after recovery (soc serve check). In about
# half the trials a `soc serve gc` runs beside the push or pull, with a
# clock a year on and --keep-days 0 (everything but the head may go, the
# grace long past), and is killed at random too: check, with the same
# clock and retention, finds every version the head names. At the end
# both workspaces converge and every edit made is found: no content lost.
#
#   SOC_KILL_TRIALS (default 30)
. "$(dirname "$0")/lib.sh"

TRIALS=${SOC_KILL_TRIALS:-30}
GC_NOW=$(($(date +%s) + 400 * 86400))

# check as gc keeps: a year on, the head only.
check() {
	SOC_TEST_NOW=$GC_NOW soc serve check --root "$TRASH/server" --keep-days 0
}

rand() {
	echo $(($(od -An -N2 -tu2 /dev/urandom) % $1))
}

# The server listens on a new port after each restart: both workspaces follow.
restart_server() {
	start_server "$TRASH/server" &&
	for w in a b; do
		sed "s|^remote = .*|remote = $URL|" $w/.soc/config >cfg &&
		cat cfg >$w/.soc/config || return 1
	done
}

# merge: a conflict copy's lines join the file beside it; resolved.
merge() {
	for c in $(find D -name "*.conflict-r*"); do
		f=$(echo "$c" | sed 's/\.conflict-r[0-9-]*//')
		cat "$f" "$c" | awk '!seen[$0]++' >"$f.merge" && mv "$f.merge" "$f" &&
			rm "$c" && soc add -q "$f" || return 1
	done
}

# settle WS: pull (merging conflicts) and push until the push lands.
settle() {
	(
		cd "$1" &&
		for i in 1 2 3 4 5; do
			soc pull -q
			case $? in 0 | 4) merge || exit 1 ;; *) exit 1 ;; esac
			soc push -q && exit 0
		done
		exit 1
	)
}

test_expect_success_here 'a server and two workspaces sharing a directory' '
	setup_two &&
	mkdir a/D &&
	for i in 1 2 3 4 5 6 7 8; do head -c 300000 /dev/urandom | base64 >a/D/f$i || return 1; done &&
	(cd a && soc add -r D -q && soc push -q) &&
	(cd b && soc pull -q && soc add -r D -q)
'

test_expect_success_here "$TRIALS trials, each killing the server or a client at random" '
	server_kills=0 client_kills=0 checks=0 gcs=0 gc_kills=0 &&
	for t in $(seq $TRIALS); do
		if [ $(rand 2) = 0 ]; then w=a; else w=b; fi
		if [ $(rand 2) = 0 ]; then op=push; else op=pull; fi
		marker="m-$t-$w"
		if [ $(rand 3) = 0 ]; then
			echo "$marker" >$w/D/new-$t
		else
			echo "$marker" >>$w/D/f$(($(rand 8) + 1))
		fi
		echo "$marker" >>markers
		(cd $w && exec soc $op -q) 2>>clients.log &
		pid=$!
		gcpid=
		if [ $(rand 2) = 0 ]; then
			sleep "$(printf "0.%03d" $(rand 100))"
			SOC_TEST_NOW=$GC_NOW soc serve gc --root "$TRASH/server" --keep-days 0 2>>gc.log &
			gcpid=$!
			gcs=$((gcs + 1))
		fi
		sleep "$(printf "0.%03d" $(rand 250))"
		if [ -n "$gcpid" ] && [ $(rand 2) = 0 ]; then
			kill -KILL $gcpid 2>/dev/null && gc_kills=$((gc_kills + 1))
		fi
		if [ $(rand 2) = 0 ]; then
			kill -KILL $SERVER_PID 2>/dev/null && server_kills=$((server_kills + 1))
			wait $pid
			wait $SERVER_PID 2>/dev/null
			[ -z "$gcpid" ] || wait $gcpid
			restart_server &&
			check || return 1
			checks=$((checks + 1))
		else
			kill -KILL $pid 2>/dev/null && client_kills=$((client_kills + 1))
			wait $pid
			[ -z "$gcpid" ] || wait $gcpid
		fi
		# As a person would: conflicts from a pull are merged before going on.
		(cd $w && merge) || return 1
	done &&
	test_figure "kill trials: $TRIALS, server killed $server_kills times" \
		"(soc serve check clean after each of $checks restarts), clients killed $client_kills times," \
		"gc run $gcs times (killed $gc_kills)"
'

test_expect_success 'both workspaces converge, and every edit made is there' '
	settle a && settle b && settle a && (cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	t=$(server_tree "$TRASH/server") &&
	(cd "$t" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >expect &&
	ws_sum a >actual &&
	test_cmp expect actual &&
	cat a/D/* | grep -a "^m-" | sort -u >found &&
	sort -u markers >made &&
	comm -23 made found >lost &&
	test_must_be_empty lost &&
	check &&
	soc serve gc --root "$TRASH/server" 2>out &&
	grep "gc: removed 0 versions" out
'

test_done
