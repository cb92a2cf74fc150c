#!/bin/sh
# A bounded load: N clients push and pull random edits to a few shared
# files against one server for a fixed time, then every workspace pulls.
# All must converge to the server's head, and no edit may be lost: each
# edit appends a unique marker, every conflict is merged by keeping the
# lines of both sides, so every marker ever written must be in the final
# head. `make soak` runs it longer with more clients.
#
#   SOC_LOAD_CLIENTS (default 16), SOC_LOAD_SECONDS (default 25),
#   SOC_LOAD_FILES (shared files, default 6: few, so edits collide)
. "$(dirname "$0")/lib.sh"

CLIENTS=${SOC_LOAD_CLIENTS:-16}
DURATION=${SOC_LOAD_SECONDS:-25}
NFILES=${SOC_LOAD_FILES:-6}

rand() {
	echo $(($(od -An -N2 -tu2 /dev/urandom) % $1))
}

# merge_conflicts: each conflict copy's lines join the file beside it (ours
# first, then theirs not already there), the copy goes, the path is
# resolved. Prints how many it merged.
merge_conflicts() {
	n=0
	for c in $(find D -name "*.conflict-r*" | sort); do
		f=$(echo "$c" | sed 's/\.conflict-r[0-9-]*//')
		cat "$f" "$c" | awk '!seen[$0]++' >"$f.merge" &&
			mv "$f.merge" "$f" && rm "$c" && soc add -q "$f" || return 1
		n=$((n + 1))
	done
	echo $n
}

# sync_once: push; on "pull first" (3), pull and merge. Appends what
# happened to the client's stats. 0 when the push landed or there was
# nothing to push.
sync_once() {
	soc push -q 2>>"$OUT.err"
	rc=$?
	case $rc in
	0) echo push >>"$OUT.stats"; return 0 ;;
	3 | 4) ;;
	*) echo "push exit $rc" >>"$OUT.stats"; return 1 ;;
	esac
	soc pull -q 2>>"$OUT.err"
	rc=$?
	case $rc in
	0) ;;
	4) m=$(merge_conflicts) || return 1; echo "conflict $m" >>"$OUT.stats" ;;
	*) echo "pull exit $rc" >>"$OUT.stats"; return 1 ;;
	esac
	return 1
}

# client K: until the deadline, append a marker to a random shared file
# (sometimes to a file of its own), then sync.
client() {
	k=$1
	OUT=$TRASH/k$k
	cd "c$k" || exit 1
	seq=0
	while [ "$(date +%s)" -lt "$DEADLINE" ]; do
		seq=$((seq + 1))
		marker="m-$k-$seq"
		if [ "$(rand 5)" = 0 ]; then
			f=D/own-$k
		else
			f=D/f$(rand "$NFILES")
		fi
		echo "$marker" >>"$f" && echo "$marker" >>"$OUT.markers" || exit 1
		[ "$f" = "D/own-$k" ] && soc add -q "$f"
		sync_once || sync_once || true
		if [ "$(rand 4)" = 0 ]; then
			soc pull -q 2>>"$OUT.err"
			[ $? = 4 ] && merge_conflicts >/dev/null
		fi
	done
	exit 0
}

test_expect_success_here "a server and $CLIENTS workspaces with $NFILES shared files" '
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init c0 --remote "$URL" -q &&
	mkdir c0/D &&
	for i in $(seq 0 $((NFILES - 1))); do echo "file $i" >c0/D/f$i || return 1; done &&
	(cd c0 && soc add -r D -q && soc push -q) &&
	for k in $(seq 1 $((CLIENTS - 1))); do
		soc init c$k --remote "$URL" -q && (cd c$k && soc pull -q && soc add -r D -q) || return 1
	done
'

test_expect_success_here "$CLIENTS clients edit, push and pull for $DURATION s" '
	DEADLINE=$(($(date +%s) + DURATION)) &&
	pids= &&
	for k in $(seq 0 $((CLIENTS - 1))); do
		client $k &
		pids="$pids $!"
	done &&
	failed=0 &&
	for p in $pids; do wait $p || failed=1; done &&
	test $failed = 0
'

test_expect_success_here 'every workspace syncs until none has anything to push' '
	for round in 1 2 3; do
		for k in $(seq 0 $((CLIENTS - 1))); do
			(OUT=$TRASH/k$k && cd c$k && sync_once || sync_once || sync_once || sync_once) ||
				return 1
		done
	done &&
	for k in $(seq 0 $((CLIENTS - 1))); do
		(cd c$k && soc pull -q) || return 1
	done
'

test_expect_success 'all workspaces hold the same files as the server' '
	t=$(server_tree "$TRASH/server") &&
	(cd "$t" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >expect &&
	for k in $(seq 0 $((CLIENTS - 1))); do
		ws_sum c$k >actual && test_cmp expect actual || return 1
		(cd c$k && soc status --porcelain --offline) >st && test_must_be_empty st || return 1
	done &&
	soc serve check --root "$TRASH/server"
'

test_expect_success 'every edit made is in the head: none lost' '
	cat k*.markers | sort >made &&
	t=$(server_tree "$TRASH/server") &&
	cat "$t"/D/* | grep "^m-" | sort -u >found &&
	comm -23 made found >lost &&
	test_must_be_empty lost &&
	pushes=$(cat k*.stats | grep -c "^push$") &&
	conflicts=$(cat k*.stats | sed -n "s/^conflict //p" | awk "{ s += \$1 } END { print s + 0 }") &&
	edits=$(wc -l <made) &&
	test_figure "load: $CLIENTS clients, $DURATION s: $edits edits made and found," \
		"$pushes pushes ($(awk -v p=$pushes -v s=$DURATION "BEGIN { printf \"%.1f\", p / s }")/s)," \
		"$conflicts conflicts merged"
'

test_done
