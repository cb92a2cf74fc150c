# bench/lib.sh: what the benchmarks that run `soc serve` share. Source it
# after setting TOP; it builds soc and sets SOC, and bench_work NAME makes
# WORK, removed with every process in PIDS when the script ends. Below:
# the trees they build, soc's server and a loopback rsync daemon to
# measure it against, and timing with medians.

make -C "$TOP" --no-print-directory soc >/dev/null
SOC=$TOP/soc
PIDS=

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}

# bench_work NAME: a new WORK under $TMPDIR, gone at exit; NAME begins each line said.
bench_work() {
	BENCH_NAME=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/soc-bench-$1.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

# mktree DIR N PER MIN MAX: N files of MIN to MAX random bytes, PER to a
# directory (DIR/d0000/f0000000 on), the same bytes for the same arguments.
mktree() {
	python3 - "$@" <<'EOF'
import os, random, sys
top, n, per, lo, hi = sys.argv[1], *map(int, sys.argv[2:6])
rnd = random.Random(42)
blob = os.urandom(1 << 20)
for i in range(n):
    d = os.path.join(top, "d%04d" % (i // per))
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    size = rnd.randint(lo, hi)
    off = rnd.randint(0, len(blob) - size)
    with open(os.path.join(d, "f%07d" % i), "wb") as f:
        f.write(blob[off:off + size])
EOF
}

# A port nothing listens on, for a server that cannot pick its own.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_soc ROOT [ARGS]: `soc serve` on 127.0.0.1 port 0 (with ARGS), its
# stderr in ROOT.log; sets SOC_PID, URL and SOC_TOKEN (exported, the admin
# token, when the root has one).
start_soc() {
	r=$1
	shift
	"$SOC" serve --root "$r" --listen 127.0.0.1:0 "$@" 2>"$r.log" &
	SOC_PID=$!
	PIDS="$PIDS $SOC_PID"
	n=0
	URL=
	while [ -z "$URL" ] && [ $n -lt 100 ]; do
		sleep 0.1
		URL=$(sed -n 's/^[0-9TZ:-]* soc serve: listening on \(http:[^ ]*\)$/\1/p' "$r.log")
		n=$((n + 1))
	done
	[ -n "$URL" ] || { cat "$r.log" >&2; echo "bench: soc serve did not start" >&2; exit 1; }
	# A second cluster node has none: the first one's token is the admin's.
	if [ -f "$r/admin.token" ]; then
		SOC_TOKEN=$(cat "$r/admin.token")
		export SOC_TOKEN
	fi
}

stop_soc() {
	kill -TERM "$SOC_PID"
	wait "$SOC_PID" 2>/dev/null || true
}

# ratio A B: A / B with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

now() {
	date +%s.%N
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# timed FILE CMD...: appends the seconds CMD took to FILE.
timed() {
	out=$1
	shift
	t0=$(now)
	"$@"
	t1=$(now)
	echo "$t1 $t0" | awk '{ printf "%.4f\n", $1 - $2 }' >>"$out"
}

# spread FILE: the least and the most of FILE's times, as min-max.
spread() {
	echo "$(sort -n "$1" | head -n 1)-$(sort -n "$1" | tail -n 1)"
}

# say_ratio LABEL SOC-FILE RSYNC-FILE TARGET: both medians with their
# spread (min-max) and the ratio of the medians.
say_ratio() {
	a=$(median <"$2")
	b=$(median <"$3")
	echo "$BENCH_NAME: $1: soc ${a}s ($(spread "$2")), rsync -a ${b}s ($(spread "$3"))," \
		"ratio $(ratio "$a" "$b") (target <= $4)"
}

# start_daemon: a plain rsync daemon on loopback, what a person would use
# without soc; its module m is DAEMON, in WORK/daemon/m.
start_daemon() {
	RSYNC_PORT=$(free_port)
	mkdir -p "$WORK/daemon/m"
	cat >"$WORK/daemon/rsyncd.conf" <<EOC
use chroot = no
uid = $(id -u)
gid = $(id -g)
pid file = $WORK/daemon/rsyncd.pid
log file = $WORK/daemon/rsyncd.log
[m]
	path = $WORK/daemon/m
	read only = no
EOC
	rsync --daemon --no-detach --address=127.0.0.1 --port="$RSYNC_PORT" --config="$WORK/daemon/rsyncd.conf" &
	PIDS="$PIDS $!"
	DAEMON=rsync://127.0.0.1:$RSYNC_PORT/m
	n=0
	until rsync "$DAEMON/" >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt 50 ] || { echo "bench: rsync daemon did not start" >&2; exit 1; }
		sleep 0.1
	done
}

# start_pg: a PostgreSQL cluster in WORK/pg, on a unix socket there only,
# fsync on (a benchmark of durable commits); as Debian's postgres user when
# run as root, which PostgreSQL requires. Sets PG_BIN and PG_HOST; stopped
# at exit with the rest.
start_pg() {
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	PG_HOST=$WORK/pg
	as=
	mkdir -m 700 "$PG_HOST"
	if [ "$(id -u)" = 0 ]; then
		chmod o+x "$WORK"
		chown postgres: "$PG_HOST"
		as="runuser -u postgres --"
	fi
	(cd / && $as "$PG_BIN/initdb" -A trust -U soc -E UTF8 --locale=C -D "$PG_HOST" >/dev/null)
	(cd / && $as "$PG_BIN/pg_ctl" -w -D "$PG_HOST" -l "$PG_HOST/log" \
		-o "-c listen_addresses='' -k '$PG_HOST'" start >/dev/null)
	PIDS="$PIDS $(head -n 1 "$PG_HOST/postmaster.pid")"
}

# await_http URL LOG WHAT: until URL answers (any status), at most 5 s;
# else LOG is shown and the benchmark ends, saying WHAT did not start.
await_http() {
	n=0
	until curl -s -o /dev/null "$1"; do
		n=$((n + 1))
		[ $n -lt 50 ] || { cat "$2" >&2; echo "bench: $3 did not start" >&2; exit 1; }
		sleep 0.1
	done
}

# start_haproxy URL...: haproxy on 127.0.0.1 (a port free_port found) handing
# each request to the next of the URLs, as t/lib-haproxy.sh's; sets
# URL to it. Its PID goes to PIDS.
start_haproxy() {
	HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
	hp_port=$(free_port)
	hp_dir=$(mktemp -d "$WORK/haproxy.XXXXXX")
	{
		printf 'listen soc\n\tmode http\n\tbind 127.0.0.1:%s\n' "$hp_port"
		printf '\toption http-server-close\n\tbalance roundrobin\n\tretries 2\n\toption redispatch 1\n'
		printf '\ttimeout connect 5s\n\ttimeout client 10m\n\ttimeout server 10m\n\ttimeout tunnel 1h\n'
		hp_n=0
		for hp_url in "$@"; do
			hp_n=$((hp_n + 1))
			printf '\tserver n%d %s\n' "$hp_n" "${hp_url#http://}"
		done
	} >"$hp_dir/haproxy.cfg"
	"$HAPROXY" -db -f "$hp_dir/haproxy.cfg" >"$hp_dir/log" 2>&1 &
	HAPROXY_PID=$!
	PIDS="$PIDS $HAPROXY_PID"
	await_http "http://127.0.0.1:$hp_port/" "$hp_dir/log" haproxy
	URL=http://127.0.0.1:$hp_port
}

# start_nodes ROOT CONNINFO: two cluster nodes (ROOT-1, ROOT-2) on the
# database CONNINFO and the blob directory ROOT.blobs, haproxy in front;
# URL is haproxy's. stop_nodes stops the three.
start_nodes() {
	start_soc "$1-1" --db "$2" --blobs "$1.blobs"
	NODE1=$SOC_PID
	n1=$URL
	start_soc "$1-2" --db "$2" --blobs "$1.blobs"
	NODE2=$SOC_PID
	SOC_TOKEN=$(cat "$1-1/admin.token")
	export SOC_TOKEN
	start_haproxy "$n1" "$URL"
}

stop_nodes() {
	kill -TERM "$HAPROXY_PID" "$NODE1" "$NODE2"
	wait "$HAPROXY_PID" "$NODE1" "$NODE2" 2>/dev/null || true
}
