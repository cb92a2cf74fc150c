#!/bin/sh
# bench/cluster.sh: two soc serve nodes on one PostgreSQL and one blob
# directory (--db --blobs) behind haproxy, beside one soc serve on SQLite,
# the same trees in one run, the two in turns. A benchmark, not a test:
# it prints medians and ratios, it asserts nothing.
#
#   sh bench/cluster.sh
#
# 1. first push of a 10,000-file tree, two nodes / one SQLite node  (target <= 1.3);
#    and the same with the nodes syncing the blobs file by file, as on a
#    shared mount (the blob directory here is a local disk, which a node
#    syncs as SQLite's root is, by one syncfs)
# 2. a no-op pull of it                                             (target <= 1.3)
# 3. a pull of 1,000 of its files changed elsewhere                 (target <= 1.3)
# 4. pushes per second: 16 clients, each editing and pushing a file of its
#    own for BENCH_SECONDS, on one PostgreSQL node, on two, and on SQLite
#
# PostgreSQL runs from a cluster made here (initdb, a unix socket in
# WORK), with fsync on, as SQLite's synchronous=FULL is; the blob
# directory is a local one (the same filesystem as WORK).
#
# BENCH_RUNS (default 5), BENCH_SMALL (10000), BENCH_CHANGED (1000),
# BENCH_CLIENTS (16), BENCH_SECONDS (10) change the sizes.
set -eu

RUNS=${BENCH_RUNS:-5}
SMALL=${BENCH_SMALL:-10000}
CHANGED=${BENCH_CHANGED:-1000}
CLIENTS=${BENCH_CLIENTS:-16}
SECS=${BENCH_SECONDS:-10}
TOP=$(cd "$(dirname "$0")/.." && pwd)

sh "$TOP/scripts/deps.sh" postgresql haproxy
. "$TOP/bench/lib.sh"
bench_work cluster
start_pg

echo "cluster: building $SMALL files"
mkdir -p "$WORK/tree/data"
mktree "$WORK/tree/data" "$SMALL" 100 1024 8192

# round KIND I: one round on a new root, SQLite (lite) or PostgreSQL (pg);
# pgf: the first push only, the nodes syncing file by file.
round() {
	kind=$1
	i=$2
	if [ "$kind" = pgf ]; then
		"$PG_BIN/createdb" -h "$PG_HOST" -U soc "socf$i"
		SOC_TEST_BLOBS_FSYNC_EACH=1
		export SOC_TEST_BLOBS_FSYNC_EACH
		start_nodes "$WORK/root-$kind-$i" "host=$PG_HOST dbname=socf$i user=soc"
		unset SOC_TEST_BLOBS_FSYNC_EACH
		a=$WORK/a-$kind-$i
		cp -a "$WORK/tree" "$a"
		(cd "$a" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data)
		sync
		timed "$WORK/t-push-$kind" sh -c 'cd "$1" && "$2" push -q' - "$a" "$SOC"
		stop_nodes
		rm -rf "$a"
		return
	fi
	if [ "$kind" = pg ]; then
		"$PG_BIN/createdb" -h "$PG_HOST" -U soc "soc$i"
		start_nodes "$WORK/root-$kind-$i" "host=$PG_HOST dbname=soc$i user=soc"
	else
		start_soc "$WORK/root-$kind-$i"
	fi
	a=$WORK/a-$kind-$i
	b=$WORK/b-$kind-$i
	cp -a "$WORK/tree" "$a"
	(cd "$a" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data)
	mkdir "$b" && (cd "$b" && "$SOC" init -q --remote "$URL")
	sync
	timed "$WORK/t-push-$kind" sh -c 'cd "$1" && "$2" push -q' - "$a" "$SOC"
	timed "$WORK/t-noop-$kind" sh -c 'cd "$1" && "$2" pull -q' - "$a" "$SOC"
	(cd "$b" && "$SOC" pull -q)
	find "$a/data" -type f | sort | head -n "$CHANGED" | while read -r f; do
		echo "edit $i" >>"$f"
	done
	(cd "$a" && "$SOC" push -q)
	sync
	timed "$WORK/t-pullc-$kind" sh -c 'cd "$1" && "$2" pull -q' - "$b" "$SOC"
	if [ "$kind" = pg ]; then stop_nodes; else stop_soc; fi
	rm -rf "$a" "$b"
}

for i in $(seq "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then
		round pg "$i"
		round lite "$i"
		round pgf "$i"
	else
		round pgf "$i"
		round lite "$i"
		round pg "$i"
	fi
done

# storm KIND: CLIENTS workspaces of one root, each pushing edits of its own
# file for SECS seconds; prints the pushes per second that landed. KIND:
# pg (one node on PostgreSQL), pg2 (two nodes), lite (SQLite).
storm() {
	kind=$1
	if [ "$kind" = pg ]; then
		"$PG_BIN/createdb" -h "$PG_HOST" -U soc socstorm
		start_soc "$WORK/root-storm-$kind" --db "host=$PG_HOST dbname=socstorm user=soc"
	elif [ "$kind" = pg2 ]; then
		"$PG_BIN/createdb" -h "$PG_HOST" -U soc socstorm2
		start_nodes "$WORK/root-storm-$kind" "host=$PG_HOST dbname=socstorm2 user=soc"
	else
		start_soc "$WORK/root-storm-$kind"
	fi
	for c in $(seq "$CLIENTS"); do
		w=$WORK/storm-$kind-$c
		mkdir -p "$w" && (cd "$w" && "$SOC" init -q --remote "$URL" && echo 0 >"f$c" && "$SOC" add -q "f$c" &&
			"$SOC" push -q)
	done
	end=$(($(date +%s) + SECS))
	pids=
	for c in $(seq "$CLIENTS"); do
		w=$WORK/storm-$kind-$c
		(
			n=0
			cd "$w"
			while [ "$(date +%s)" -lt "$end" ]; do
				echo "$n" >>"f$c"
				"$SOC" push -q 2>/dev/null && n=$((n + 1))
			done
			echo "$n" >"$WORK/storm-$kind-$c.n"
		) &
		pids="$pids $!"
	done
	# The clients only: the server is a child of this shell too.
	for p in $pids; do
		wait "$p"
	done
	if [ "$kind" = pg2 ]; then stop_nodes; else stop_soc; fi
	cat "$WORK"/storm-"$kind"-*.n | awk -v s="$SECS" '{ t += $1 } END { printf "%.1f\n", t / s }'
}

for kind in pg lite; do
	for m in push noop pullc; do
		eval "M_${m}_$kind=\$(median <\"\$WORK/t-$m-$kind\")"
	done
done
say() {
	echo "cluster: $1: two nodes ${2}s ($(spread "$4")), SQLite ${3}s ($(spread "$5")), ratio $(ratio "$2" "$3") (target <= 1.3)"
}
say "first push of $SMALL files" "$M_push_pg" "$M_push_lite" "$WORK/t-push-pg" "$WORK/t-push-lite"
M_push_pgf=$(median <"$WORK/t-push-pgf")
echo "cluster: first push of $SMALL files, blobs synced file by file: two nodes ${M_push_pgf}s" \
	"($(spread "$WORK/t-push-pgf")), ratio $(ratio "$M_push_pgf" "$M_push_lite") to SQLite (a shared mount's way)"
say "no-op pull of $SMALL files" "$M_noop_pg" "$M_noop_lite" "$WORK/t-noop-pg" "$WORK/t-noop-lite"
say "pull of $CHANGED changed files" "$M_pullc_pg" "$M_pullc_lite" "$WORK/t-pullc-pg" "$WORK/t-pullc-lite"
SP=$(storm pg)
SP2=$(storm pg2)
SL=$(storm lite)
echo "cluster: pushes per second, $CLIENTS clients for ${SECS}s: PostgreSQL one node $SP, two nodes $SP2; SQLite $SL"
