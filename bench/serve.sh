#!/bin/sh
# bench/serve.sh: how fast `soc serve` answers, next to nginx on the same
# machine in the same run, and how much memory it needs to stream a big
# change list. A benchmark, not a test: it prints figures, it asserts
# nothing.
#
#   sh bench/serve.sh [SECONDS]
#
# 1. wrk, keep-alive, against soc's GET /api/v1/info (with the admin token)
#    and against nginx serving a static file of the same size; prints both
#    request rates and their ratio (target: soc/nginx >= 0.5).
# 2. If the server has GET /api/v1/changes, fills its soc.db with 1,000,000
#    files directly with sqlite3, streams changes?since=0 with curl, and
#    prints the server's peak RSS (VmHWM, target under 64 MB).
set -eu

SECS=${1:-10}
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
NFILES=${BENCH_FILES:-1000000}
TOP=$(cd "$(dirname "$0")/.." && pwd)

sh "$TOP/scripts/deps.sh" wrk nginx sqlite3
. "$TOP/bench/lib.sh"
bench_work serve
# nginx run by root serves as an unprivileged worker, which must reach www/.
chmod 755 "$WORK"

rate() {
	# wrk's "Requests/sec:   12345.67"
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"
}

non2xx() {
	sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1"
}

start_soc "$WORK/root"
AUTH="Authorization: Bearer $SOC_TOKEN"
curl -sf -H "$AUTH" "$URL/api/v1/info" >"$WORK/info.json"

mkdir -p "$WORK/nginx/www" "$WORK/nginx/tmp"
cp "$WORK/info.json" "$WORK/nginx/www/info.json"
NGINX_PORT=$(free_port)
cat >"$WORK/nginx/nginx.conf" <<EOC
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log $WORK/nginx/access.log;
	client_body_temp_path $WORK/nginx/tmp;
	proxy_temp_path $WORK/nginx/tmp;
	fastcgi_temp_path $WORK/nginx/tmp;
	uwsgi_temp_path $WORK/nginx/tmp;
	scgi_temp_path $WORK/nginx/tmp;
	default_type application/json;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $WORK/nginx/www;
	}
}
EOC
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/stderr" &
PIDS="$PIDS $!"
NGINX_URL=http://127.0.0.1:$NGINX_PORT
await_http "$NGINX_URL/info.json" "$WORK/nginx/stderr" nginx

echo "serve: wrk -t$THREADS -c$CONNS -d${SECS}s, keep-alive, $(wc -c <"$WORK/info.json") byte answers, both log every request"
# A short warm-up of each, then the measured runs.
wrk -t"$THREADS" -c"$CONNS" -d2s -H "$AUTH" "$URL/api/v1/info" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d2s "$NGINX_URL/info.json" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" -H "$AUTH" "$URL/api/v1/info" >"$WORK/wrk-soc"
wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" "$NGINX_URL/info.json" >"$WORK/wrk-nginx"
SOC_RATE=$(rate "$WORK/wrk-soc")
NGINX_RATE=$(rate "$WORK/wrk-nginx")
BAD=$(non2xx "$WORK/wrk-soc")
printf 'serve: soc   GET /api/v1/info  %10.0f req/s%s\n' "$SOC_RATE" "${BAD:+  ($BAD answers not 2xx!)}"
printf 'serve: nginx static file       %10.0f req/s\n' "$NGINX_RATE"
awk -v a="$SOC_RATE" -v b="$NGINX_RATE" \
	'BEGIN { printf "serve: ratio soc/nginx %.2f (target >= 0.5)\n", a / b }'

# ---- memory while streaming changes?since=0 for a million files ----
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/api/v1/changes?since=0")
if [ "$code" != 200 ]; then
	echo "serve: GET /api/v1/changes answers $code; no streaming figure"
	exit 0
fi
stop_soc
sh "$TOP/bench/fill-db.sh" "$WORK/root/soc.db" "$NFILES"
start_soc "$WORK/root"
AUTH="Authorization: Bearer $SOC_TOKEN"
start=$(date +%s.%N)
curl -sf -H "$AUTH" "$URL/api/v1/changes?since=0" | wc -l >"$WORK/lines"
end=$(date +%s.%N)
HWM=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SOC_PID/status")
awk -v l="$(cat "$WORK/lines")" -v s="$start" -v e="$end" -v h="$HWM" 'BEGIN {
	printf "serve: changes?since=0 streamed %d lines in %.1f s\n", l, e - s
	printf "serve: peak RSS of soc serve %.1f MB (target < 64 MB)\n", h / 1024
}'
stop_soc
