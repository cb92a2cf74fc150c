#!/bin/sh
# bench/status.sh: soc status and the first soc add next to git status and
# git add, on the same tree of small files in the same run. A benchmark,
# not a test: it prints figures, it asserts nothing.
#
#   sh bench/status.sh [FILES] [RUNS]       (defaults: 100000 files, 5 runs)
#
# The tree: FILES files of a few bytes, 100 to a directory, two levels
# deep. soc and git each get their own copy, so neither sees the other's
# directory.
# 1. status on an unchanged tree, warm cache: git after a commit, soc
#    with every file marked synced (sqlite3 sets base = sha256, which is what
#    a push records; the walk, the stats and the index load are the same).
#    soc and git take turns, so a busy machine weighs on both alike.
#    Prints median(soc status) / median(git status --porcelain); target
#    at most 1.0.
# 2. the first add of the whole tree, a fresh workspace and a fresh
#    repository each run: median(soc add -r .) / median(git add -A);
#    target at most 0.5.
set -eu

N=${1:-100000}
RUNS=${2:-5}
TOP=$(cd "$(dirname "$0")/.." && pwd)

sh "$TOP/scripts/deps.sh" git sqlite3 python3
make -C "$TOP" --no-print-directory soc >/dev/null
SOC=$TOP/soc

WORK=$(mktemp -d "${TMPDIR:-/tmp}/soc-bench-status.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

python3 - "$WORK/tree" "$N" <<'EOP'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(top, "d%03d" % (i // 10000), "s%03d" % (i // 100 % 100))
    if i % 100 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%03d.txt" % (i % 100)), "w") as f:
        f.write("file %d\n" % i)
EOP
cp -a "$WORK/tree" "$WORK/soc"
cp -a "$WORK/tree" "$WORK/git"
echo "status: $N files in $(find "$WORK/tree" -type d | wc -l) directories, $RUNS runs each, $(nproc) cores"

# time_ms CMD...: the wall time of one run of CMD, in ms.
time_ms() {
	s=$(date +%s%N)
	"$@" >/dev/null
	e=$(date +%s%N)
	echo $(( (e - s) / 1000000 ))
}

# median FILE: the middle of the numbers in FILE.
median() {
	sort -n "$1" | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# ---- 1. status on an unchanged tree ----
# No background gc: it would run beside the next measurement.
GIT="git -c gc.auto=0 -c maintenance.auto=false"
cd "$WORK/git"
$GIT init -q && $GIT add -A && $GIT -c user.name=b -c user.email=b@b commit -q -m tree
$GIT status --porcelain >/dev/null

cd "$WORK/soc"
"$SOC" init -q && "$SOC" add -r -q .
# A faked sync, which only a benchmark may use (t/ syncs by real pushes):
# a real one would add a server and a push of the whole tree to every run
# (bench/sync.sh times that) and change nothing that status reads.
sqlite3 .soc/index.db "UPDATE files SET base = sha256"
# Once to settle racy entries (files written in the last tick before add).
"$SOC" status --porcelain --offline >/dev/null
[ -z "$("$SOC" status --porcelain --offline)" ] || { echo "bench: soc status is not clean" >&2; exit 1; }
sync
# Turn about, so that whatever else the machine does weighs on both alike.
: >"$WORK/soc.ms"
: >"$WORK/git.ms"
i=0
while [ $i -lt "$RUNS" ]; do
	(cd "$WORK/soc" && time_ms "$SOC" status --porcelain --offline) >>"$WORK/soc.ms"
	(cd "$WORK/git" && time_ms $GIT status --porcelain) >>"$WORK/git.ms"
	i=$((i + 1))
done
SOC_STATUS=$(median "$WORK/soc.ms")
GIT_STATUS=$(median "$WORK/git.ms")
echo "status: soc status --porcelain   ${SOC_STATUS} ms   (runs: $(sort -n "$WORK/soc.ms" | tr '\n' ' '))"
echo "status: git status --porcelain   ${GIT_STATUS} ms   (runs: $(sort -n "$WORK/git.ms" | tr '\n' ' '))"
echo "status: ratio soc/git $(ratio "$SOC_STATUS" "$GIT_STATUS") (target <= 1.0)"

# ---- 2. the first add ----
# The old workspace or repository goes before the clock starts, and its
# writes reach the disk first (sync), so no run pays for the one before.
: >"$WORK/soc.ms"
: >"$WORK/git.ms"
i=0
while [ $i -lt "$RUNS" ]; do
	(cd "$WORK/soc" && rm -rf .soc && "$SOC" init -q && sync && time_ms "$SOC" add -r -q .) >>"$WORK/soc.ms"
	(cd "$WORK/git" && rm -rf .git && $GIT init -q && sync && time_ms $GIT add -A) >>"$WORK/git.ms"
	i=$((i + 1))
done
SOC_ADD=$(median "$WORK/soc.ms")
GIT_ADD=$(median "$WORK/git.ms")
echo "add:    soc add -r .             ${SOC_ADD} ms   (fresh workspace each run; runs: $(sort -n "$WORK/soc.ms" | tr '\n' ' '))"
echo "add:    git add -A               ${GIT_ADD} ms   (fresh repository each run; runs: $(sort -n "$WORK/git.ms" | tr '\n' ' '))"
echo "add:    ratio soc/git $(ratio "$SOC_ADD" "$GIT_ADD") (target <= 0.5)"
