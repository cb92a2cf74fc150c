#!/bin/sh
# bench/big.sh: soc push and pull of big files beside rsync -a to a
# loopback rsync daemon, on the same files in one run, rounds
# interleaved. A benchmark, not a test: it prints medians, their spread
# and their ratios; it asserts nothing.
#
#   sh bench/big.sh
#
# 1. a 1 MiB edit inside a 256 MiB file: soc push / rsync -a of the same
#    edit, time (target <= 1.2)
# 2. one new 4 GiB file: soc push / rsync -a, and the first pull of it /
#    rsync -a back, time (target <= 1.1 each)
#
# BENCH_RUNS (default 5), BENCH_LARGE_MB (256) and BENCH_HUGE_MB (4096)
# change the rounds and sizes. Section 2 holds the file three times at
# once (the workspace, the server, the copy pulled): mind TMPDIR's room.
set -eu

RUNS=${BENCH_RUNS:-5}
LARGE_MB=${BENCH_LARGE_MB:-256}
HUGE_MB=${BENCH_HUGE_MB:-4096}
TOP=$(cd "$(dirname "$0")/.." && pwd)

. "$TOP/bench/lib.sh"
bench_work big
start_daemon

# in_turns ROUND NAME: soc_NAME and rsync_NAME, each timed into
# WORK/t-NAME and WORK/t-NAME-r, soc first in odd rounds and rsync first
# in even ones, so neither always runs second; each one's before_NAME
# and after_NAME (functions, if defined) run around it, untimed.
in_turns() {
	if [ $(($1 % 2)) = 1 ]; then
		around soc "$2"
		around rsync "$2"
	else
		around rsync "$2"
		around soc "$2"
	fi
}

around() {
	t=$WORK/t-$2
	[ "$1" = soc ] || t=$t-r
	if command -v "before_$1_$2" >/dev/null; then "before_$1_$2"; fi
	timed "$t" "$1_$2"
	if command -v "after_$1_$2" >/dev/null; then "after_$1_$2"; fi
}

push_in() { (cd "$1" && "$SOC" push -q); }

soc_edit() { push_in "$WORK/large"; }
rsync_edit() { rsync -a "$WORK/large-r/" "$DAEMON/large/"; }
soc_hpush() { push_in "$WORK/huge"; }
rsync_hpush() { rsync -a "$WORK/huge/data/" "$DAEMON/huge/"; }
soc_hpull() { (cd "$WORK/fresh" && "$SOC" pull -q); }
rsync_hpull() { rsync -a "$DAEMON/huge/" "$WORK/down/"; }
# The room for the other's pull: each copy goes once it is timed.
after_soc_hpull() { rm -rf "$WORK/fresh"; }
after_rsync_hpull() { rm -rf "$WORK/down"; }
# warm MB: before each timed copy, as much memory as it writes written
# to the same filesystem and freed, untimed. This machine hands freed
# memory back to its host, and a page written for the first time since
# costs a fault into the host: without it the 4 GiB rounds fell in two
# modes, about 5 s and 14 s, for either tool, and the edit's swung by two,
# soc's slow when it wrote after rsync had freed (bench/README).
warm() {
	head -c $(($1 * 1024 * 1024)) /dev/zero >"$WORK/warm"
	rm -f "$WORK/warm"
}
# The edit writes the file anew on the server, and rsync -a too.
before_soc_edit() { warm "$LARGE_MB"; }
before_rsync_edit() { warm "$LARGE_MB"; }
before_soc_hpush() { warm "$HUGE_MB"; }
before_rsync_hpush() { warm "$HUGE_MB"; }
before_soc_hpull() { warm "$HUGE_MB"; }
before_rsync_hpull() { warm "$HUGE_MB"; }

# ---- 1. a 1 MiB edit inside a 256 MiB file ----
echo "big: a ${LARGE_MB} MiB file, a 1 MiB edit in it per round"
mkdir -p "$WORK/large/data" "$WORK/large-r"
head -c $((LARGE_MB * 1024 * 1024)) /dev/urandom >"$WORK/large/data/big.bin"
cp "$WORK/large/data/big.bin" "$WORK/large-r/big.bin"
start_soc "$WORK/root-large"
(cd "$WORK/large" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data && "$SOC" push -q)
rsync -a "$WORK/large-r/" "$DAEMON/large/"
for i in $(seq "$RUNS"); do
	# The same 1 MiB at the same place in both copies; a second later, so
	# that rsync sees another mtime.
	sleep 1
	head -c $((1024 * 1024)) /dev/urandom >"$WORK/edit"
	at=$(((LARGE_MB / (RUNS + 1)) * i))
	for f in "$WORK/large/data/big.bin" "$WORK/large-r/big.bin"; do
		dd if="$WORK/edit" of="$f" bs=1M count=1 seek="$at" conv=notrunc 2>/dev/null
	done
	touch -r "$WORK/large/data/big.bin" "$WORK/large-r/big.bin"
	sync
	in_turns "$i" edit
done
stop_soc
rm -rf "$WORK/large" "$WORK/large-r" "$WORK/root-large" "$WORK/daemon/m/large"
say_ratio "1 MiB edit in ${LARGE_MB} MiB, push" "$WORK/t-edit" "$WORK/t-edit-r" 1.2

# ---- 2. one new 4 GiB file: push, then the first pull ----
echo "big: a new ${HUGE_MB} MiB file per round"
mkdir -p "$WORK/huge/data"
head -c $((HUGE_MB * 1024 * 1024)) /dev/urandom >"$WORK/huge/data/new.bin"
for i in $(seq "$RUNS"); do
	start_soc "$WORK/root-huge"
	rm -rf "$WORK/huge/.soc"
	(cd "$WORK/huge" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data)
	mkdir "$WORK/fresh"
	(cd "$WORK/fresh" && "$SOC" init -q --remote "$URL")
	sync
	in_turns "$i" hpush
	sync
	in_turns "$i" hpull
	stop_soc
	rm -rf "$WORK/fresh" "$WORK/down" "$WORK/root-huge" "$WORK/root-huge.log" "$WORK/daemon/m/huge"
done
say_ratio "new ${HUGE_MB} MiB file, push" "$WORK/t-hpush" "$WORK/t-hpush-r" 1.1
say_ratio "new ${HUGE_MB} MiB file, first pull" "$WORK/t-hpull" "$WORK/t-hpull-r" 1.1
