#!/bin/sh
# bench/sync.sh: soc push and pull beside rsync -a to a loopback rsync
# daemon, on the same trees in one run. A benchmark, not a test: it prints
# medians and their ratios, it asserts nothing.
#
#   sh bench/sync.sh
#
# 1. first push of a 10,000-file tree / rsync -a of it   (target <= 1.15),
#    and the first pull of it into an empty workspace / rsync -a back (target <= 1.1);
#    then a pull of its 10,000 files, each changed elsewhere / rsync -a of that (target <= 1.0;
#    its fourth round alone too: 1.1 on ext4); then one file of it edited,
#    pushed / rsync -a of the tree
# 2. no-op push, no-op pull on 100,000 files / an rsync -a no-op (target <= 0.5),
#    and the first pull of those 100,000 files / rsync -a of them (target <= 1.1)
# 3. bytes sent for a 1 MiB edit inside a 256 MiB file / rsync's own (target <= 1.05)
#
# BENCH_RUNS (default 5), BENCH_SMALL, BENCH_BIG, BENCH_LARGE_MB change the sizes.
set -eu

RUNS=${BENCH_RUNS:-5}
SMALL=${BENCH_SMALL:-10000}
BIG=${BENCH_BIG:-100000}
LARGE_MB=${BENCH_LARGE_MB:-256}
TOP=$(cd "$(dirname "$0")/.." && pwd)

. "$TOP/bench/lib.sh"
bench_work sync

start_daemon

# ---- 1. first push of a 10,000-file tree, and its first pull ----
# No tree is removed until the end: ext4 passes over inodes freed in the
# last minute or more when it makes a file, and a push made right after
# removing 10,000 files took 6-7 s here instead of 2-3 s.
echo "sync: building $SMALL files"
mkdir -p "$WORK/small/data"
mktree "$WORK/small/data" "$SMALL" 100 1024 8192
for i in $(seq "$RUNS"); do
	start_soc "$WORK/root-small-$i"
	rm -rf "$WORK/small/.soc"
	(cd "$WORK/small" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data)
	sync
	timed "$WORK/t-push1" sh -c 'cd "$1" && "$2" push -q' - "$WORK/small" "$SOC"
	# The first pull of the same tree into an empty workspace.
	mkdir "$WORK/fresh-$i"
	(cd "$WORK/fresh-$i" && "$SOC" init -q --remote "$URL")
	sync
	timed "$WORK/t-pull1" sh -c 'cd "$1" && "$2" pull -q' - "$WORK/fresh-$i" "$SOC"
	stop_soc
	sync
	timed "$WORK/t-rsync1" rsync -a "$WORK/small/data/" "$DAEMON/small-$i/"
	# soc's commit makes the push durable before it answers; rsync -a does not.
	timed "$WORK/t-rsync1s" sh -c 'rsync -a "$1" "$2" && sync' - "$WORK/small/data/" "$DAEMON/small-s$i/"
	sync
	timed "$WORK/t-rsync1d" rsync -a "$DAEMON/small-$i/" "$WORK/down-$i/"
done
P1=$(median <"$WORK/t-push1")
R1=$(median <"$WORK/t-rsync1")
S1=$(median <"$WORK/t-rsync1s")
L1=$(median <"$WORK/t-pull1")
D1=$(median <"$WORK/t-rsync1d")
echo "sync: first push of $SMALL files: soc push ${P1}s, rsync -a ${R1}s, ratio $(ratio "$P1" "$R1") (target <= 1.15);" \
	"rsync -a then sync ${S1}s, ratio $(ratio "$P1" "$S1")"
echo "sync: first pull of $SMALL files: soc pull ${L1}s, rsync -a from the daemon ${D1}s, ratio $(ratio "$L1" "$D1") (target <= 1.1)"

# ---- 1b. a pull of every file of the 10,000-file tree changed elsewhere ----
# A pull names each file to rsync here, where a first pull fetches a whole
# tree, so this is the list's cost, and the apply's. Before section 2,
# which removes 100,000 files (see section 1).
echo "sync: $SMALL files changed on another machine"
start_soc "$WORK/root-chg"
mkdir -p "$WORK/chg-a" "$WORK/chg-b"
cp -a "$WORK/small/data" "$WORK/chg-a/data"
(cd "$WORK/chg-a" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data && "$SOC" push -q)
(cd "$WORK/chg-b" && "$SOC" init -q --remote "$URL" && "$SOC" pull -q)
rsync -a "$WORK/chg-a/data/" "$DAEMON/chg/"
rsync -a "$DAEMON/chg/" "$WORK/chg-r/"
for i in $(seq "$RUNS"); do
	python3 - "$WORK/chg-a/data" "$i" <<'EOP'
import os, sys
for d, _, names in os.walk(sys.argv[1]):
    for n in names:
        with open(os.path.join(d, n), "ab") as f:
            f.write(b"edit %s\n" % sys.argv[2].encode())
EOP
	(cd "$WORK/chg-a" && "$SOC" push -q)
	rsync -a "$WORK/chg-a/data/" "$DAEMON/chg/"
	sync
	timed "$WORK/t-pullc" sh -c 'cd "$1" && "$2" pull -q' - "$WORK/chg-b" "$SOC"
	sync
	timed "$WORK/t-rsyncc" rsync -a "$DAEMON/chg/" "$WORK/chg-r/"
done
# ---- 1c. one file of that tree edited, pushed ----
# What a push costs beside the work: the begin, the tunnel, the commit.
for i in $(seq "$RUNS"); do
	echo "one edit $i" >>"$WORK/chg-a/data/d0000/f0000000"
	cp -p "$WORK/chg-a/data/d0000/f0000000" "$WORK/chg-r/d0000/f0000000"
	sync
	if [ $((i % 2)) = 1 ]; then
		timed "$WORK/t-push-one" sh -c 'cd "$1" && "$2" push -q' - "$WORK/chg-a" "$SOC"
		timed "$WORK/t-rsync-one" rsync -a "$WORK/chg-r/" "$DAEMON/chg/"
	else
		timed "$WORK/t-rsync-one" rsync -a "$WORK/chg-r/" "$DAEMON/chg/"
		timed "$WORK/t-push-one" sh -c 'cd "$1" && "$2" push -q' - "$WORK/chg-a" "$SOC"
	fi
done
stop_soc
LC=$(median <"$WORK/t-pullc")
RC=$(median <"$WORK/t-rsyncc")
echo "sync: pull of $SMALL changed files: soc pull ${LC}s, rsync -a from the daemon ${RC}s, ratio $(ratio "$LC" "$RC") (target <= 1.0)"
if [ "$RUNS" -ge 4 ]; then
	L4=$(sed -n 4p "$WORK/t-pullc")
	R4=$(sed -n 4p "$WORK/t-rsyncc")
	echo "sync: its fourth round: soc pull ${L4}s, rsync -a ${R4}s, ratio $(ratio "$L4" "$R4") (target <= 1.1 on ext4)"
fi
PO=$(median <"$WORK/t-push-one")
RO=$(median <"$WORK/t-rsync-one")
echo "sync: push of one edited file of $SMALL: soc push ${PO}s ($(spread "$WORK/t-push-one"))," \
	"rsync -a ${RO}s ($(spread "$WORK/t-rsync-one")), ratio $(ratio "$PO" "$RO")"

# ---- 2. no-op push and pull on 100,000 files ----
echo "sync: building $BIG files"
mkdir -p "$WORK/big/data"
mktree "$WORK/big/data" "$BIG" 100 1024 8192
start_soc "$WORK/root-big"
(cd "$WORK/big" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data && "$SOC" push -q && "$SOC" pull -q)
rsync -a "$WORK/big/data/" "$DAEMON/big/"
for i in $(seq "$RUNS"); do
	timed "$WORK/t-push0" sh -c 'cd "$1" && "$2" push -q' - "$WORK/big" "$SOC"
	timed "$WORK/t-pull0" sh -c 'cd "$1" && "$2" pull -q' - "$WORK/big" "$SOC"
	timed "$WORK/t-rsync0" rsync -a "$WORK/big/data/" "$DAEMON/big/"
done
# The first pull of the 100,000 files into an empty workspace, and rsync -a
# of them into an empty directory, in turns; each copy is removed after
# its round, untimed (10 copies of 100,000 files would fill a small tmpfs).
for i in $(seq "$RUNS"); do
	mkdir "$WORK/bigf-$i"
	(cd "$WORK/bigf-$i" && "$SOC" init -q --remote "$URL")
	sync
	timed "$WORK/t-pullb" sh -c 'cd "$1" && "$2" pull -q' - "$WORK/bigf-$i" "$SOC"
	sync
	timed "$WORK/t-rsyncb" rsync -a "$DAEMON/big/" "$WORK/bigr-$i/"
	rm -rf "$WORK/bigf-$i" "$WORK/bigr-$i"
done
stop_soc
P0=$(median <"$WORK/t-push0")
L0=$(median <"$WORK/t-pull0")
R0=$(median <"$WORK/t-rsync0")
echo "sync: no-op on $BIG files: soc push ${P0}s, soc pull ${L0}s, rsync -a ${R0}s," \
	"ratios push $(ratio "$P0" "$R0"), pull $(ratio "$L0" "$R0") (target <= 0.5)"
LB=$(median <"$WORK/t-pullb")
RB=$(median <"$WORK/t-rsyncb")
echo "sync: first pull of $BIG files: soc pull ${LB}s ($(spread "$WORK/t-pullb"))," \
	"rsync -a ${RB}s ($(spread "$WORK/t-rsyncb")), ratio $(ratio "$LB" "$RB") (target <= 1.1)"
rm -rf "$WORK/big" "$WORK/root-big" "$WORK/daemon/m/big"

# ---- 3. a 1 MiB edit inside a 256 MiB file ----
echo "sync: a ${LARGE_MB} MiB file"
mkdir -p "$WORK/large/data"
head -c $((LARGE_MB * 1024 * 1024)) /dev/urandom >"$WORK/large/data/big.bin"
start_soc "$WORK/root-large"
(cd "$WORK/large" && "$SOC" init -q --remote "$URL" && "$SOC" add -q -r data && "$SOC" push -q)
rsync -a "$WORK/large/data/" "$DAEMON/large/"
# An edit in the same second as rsync's last copy would keep the file's
# size and mtime to rsync's eye, and rsync would send nothing.
sleep 1
dd if=/dev/urandom of="$WORK/large/data/big.bin" bs=1M count=1 seek=$((LARGE_MB / 2)) conv=notrunc 2>/dev/null
(cd "$WORK/large" && SOC_TEST_TUNNEL_STATS="$WORK/tunnel.stats" "$SOC" push -q)
stop_soc
SOC_BYTES=$(awk '{ s += $2 } END { print s }' "$WORK/tunnel.stats")
RSYNC_BYTES=$(rsync -a --stats "$WORK/large/data/" "$DAEMON/large/" |
	sed -n 's/^Total bytes sent: *\([0-9,]*\).*/\1/p' | tr -d ,)
echo "sync: 1 MiB edit in ${LARGE_MB} MiB: soc sent $SOC_BYTES bytes, rsync $RSYNC_BYTES bytes," \
	"ratio $(ratio "$SOC_BYTES" "$RSYNC_BYTES") (target <= 1.05)"
