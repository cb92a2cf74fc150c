# bench/lib.sh: what the benchmarks that run `soc serve` share. Source it
# after setting TOP; it builds soc and sets SOC, and bench_work NAME makes
# WORK, removed with every process in PIDS when the script ends.

make -C "$TOP" --no-print-directory soc >/dev/null
SOC=$TOP/soc
PIDS=

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}

# bench_work NAME: a new WORK under $TMPDIR, gone at exit.
bench_work() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/soc-bench-$1.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

# A port nothing listens on, for a server that cannot pick its own.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_soc ROOT: `soc serve` on 127.0.0.1 port 0, its stderr in ROOT.log;
# sets SOC_PID, URL and SOC_TOKEN (exported, the admin token).
start_soc() {
	"$SOC" serve --root "$1" --listen 127.0.0.1:0 2>"$1.log" &
	SOC_PID=$!
	PIDS="$PIDS $SOC_PID"
	n=0
	URL=
	while [ -z "$URL" ] && [ $n -lt 100 ]; do
		sleep 0.1
		URL=$(sed -n 's/^[0-9TZ:-]* soc serve: listening on \(http:[^ ]*\)$/\1/p' "$1.log")
		n=$((n + 1))
	done
	[ -n "$URL" ] || { cat "$1.log" >&2; echo "bench: soc serve did not start" >&2; exit 1; }
	SOC_TOKEN=$(cat "$1/admin.token")
	export SOC_TOKEN
}

stop_soc() {
	kill -TERM "$SOC_PID"
	wait "$SOC_PID" 2>/dev/null || true
}

# ratio A B: A / B with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
