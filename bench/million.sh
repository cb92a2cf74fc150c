#!/bin/sh
# bench/million.sh: the first push of a million small files beside
# rsync -a of them to a loopback rsync daemon, in one run, rounds
# interleaved; with the memory both soc processes take. A benchmark, not
# a test: it prints medians, their spread and their ratios; it asserts
# nothing.
#
#   sh bench/million.sh
#
# 1. first push of 1,000,000 files / rsync -a of them (target <= 0.8)
# 2. the client's and the server's peak RSS during that push (target:
#    under 256 MB each), and the server's RSS a minute after it (target:
#    under 64 MB)
#
# BENCH_RUNS (default 5), BENCH_FILES (1000000) and BENCH_AFTER (60, the
# seconds before the server's RSS is read again) change the sizes. The
# tree is 1,000 directories of 1,000 files of 16 to 512 bytes: about
# 4 GiB and a million inodes of tmpfs a copy, and two copies live at
# once (a 24 GB tmpfs here has 3 million inodes).
set -eu

RUNS=${BENCH_RUNS:-5}
FILES=${BENCH_FILES:-1000000}
AFTER=${BENCH_AFTER:-60}
TOP=$(cd "$(dirname "$0")/.." && pwd)

. "$TOP/bench/lib.sh"
bench_work million
start_daemon

# peak KIND CMD...: runs CMD, appends its peak RSS in MB (the largest of
# its process tree's) to WORK/rss-KIND.
peak() {
	kind=$1
	shift
	python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "a") as f:
    f.write("%.1f\n" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
sys.exit(rc)' "$WORK/rss-$kind" "$@"
}

# kb FIELD: the server's /proc status FIELD (VmHWM, VmRSS) in MB.
mb() {
	awk -v f="$1:" '$1 == f { printf "%.1f\n", $2 / 1024 }' "/proc/$SOC_PID/status"
}

# mb_spread FILE: the median of FILE's megabytes, with their spread (lib.sh's spread is for times).
mb_spread() {
	echo "$(median <"$1") MB ($(sort -n "$1" | head -n 1)-$(sort -n "$1" | tail -n 1))"
}

echo "million: building $FILES files"
mkdir -p "$WORK/tree/data"
mktree "$WORK/tree/data" "$FILES" 1000 16 512
soc_push() {
	start_soc "$WORK/root-$1"
	rm -rf "$WORK/tree/.soc"
	(cd "$WORK/tree" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data)
	sync
	timed "$WORK/t-push" peak client sh -c 'cd "$1" && "$2" push -q' - "$WORK/tree" "$SOC"
	mb VmHWM >>"$WORK/rss-server"
	sleep "$AFTER"
	mb VmRSS >>"$WORK/rss-after"
	stop_soc
	rm -rf "$WORK/root-$1" "$WORK/root-$1.log"
}
rsync_push() {
	timed "$WORK/t-rsync" rsync -a "$WORK/tree/data/" "$DAEMON/tree/"
	rm -rf "$WORK/daemon/m/tree"
}
for i in $(seq "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then
		soc_push "$i"; sync; rsync_push
	else
		rsync_push; sync; soc_push "$i"
	fi
	sync
done
say_ratio "first push of $FILES files" "$WORK/t-push" "$WORK/t-rsync" 0.8
echo "million: peak RSS: client $(mb_spread "$WORK/rss-client"), server $(mb_spread "$WORK/rss-server") (target < 256 MB each)"
echo "million: server RSS ${AFTER}s after the push: $(mb_spread "$WORK/rss-after") (target < 64 MB)"
