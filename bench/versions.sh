#!/bin/sh
# bench/versions.sh: what the version store costs. A tree of 10,000 files
# (1 to 8 KiB) is pushed, then 100 pushes each change 1% of it (100
# files, new bytes of the same size). Prints the head's bytes, the bytes
# versions/ holds beyond the head (blobs whose inode no head file shares:
# link count 1), their ratio, and the median push time. A benchmark, not
# a test: it asserts nothing.
#
#   sh bench/versions.sh
#
# BENCH_FILES (default 10000), BENCH_PUSHES (default 100) change the sizes.
set -eu

FILES=${BENCH_FILES:-10000}
PUSHES=${BENCH_PUSHES:-100}
TOP=$(cd "$(dirname "$0")/.." && pwd)

. "$TOP/bench/lib.sh"
bench_work versions

cd "$WORK"
start_soc "$WORK/server"
"$SOC" init ws --remote "$URL" -q
python3 - ws "$FILES" <<'PY'
import os, random, sys
top, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
for i in range(n):
    d = os.path.join(top, "d%04d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.dat" % i), "wb") as f:
        f.write(os.urandom(rnd.randint(1024, 8192)))
PY
(cd ws && "$SOC" add -r . -q && "$SOC" push -q)

: >times
for p in $(seq "$PUSHES"); do
	python3 - ws "$FILES" "$p" <<'PY'
import os, random, sys
top, n, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(p)
for i in rnd.sample(range(n), n // 100):
    path = os.path.join(top, "d%04d" % (i // 100), "f%06d.dat" % i)
    size = os.path.getsize(path)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
PY
	t0=$(date +%s.%N)
	(cd ws && "$SOC" push -q)
	t1=$(date +%s.%N)
	echo "$t1 $t0" | awk '{ printf "%.4f\n", $1 - $2 }' >>times
done

mkdir -p server/versions	# a soc from before versions/, measured beside
head=$(find server/files -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
beyond=$(find server/versions -type f -links 1 -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
blobs=$(find server/versions -type f | wc -l)
shared=$(find server/versions -type f -links +1 | wc -l)
med=$(sort -n times | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "files: $FILES, pushes of 1%: $PUSHES"
echo "head: $head bytes in files/"
echo "versions/: $blobs blobs, $shared shared with files/ (no byte more)"
echo "beyond the head: $beyond bytes, $(ratio "$beyond" "$head") x the head"
echo "push of 1% (median of $PUSHES): $med s"
stop_soc
