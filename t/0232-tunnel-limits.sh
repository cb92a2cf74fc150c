#!/bin/sh
# The rsync tunnel and the upload stream are capped and timed out
# (tunnel_serve.c, upload_serve.c, serve.h): 300 idle upgrades of one
# read-only token get TUNNELS_PER_TOKEN (32) rsyncs and 429 for the rest,
# the server's threads do not grow with them, another token's push still
# goes through, and the idle tunnels and their rsyncs are gone after the
# idle timeout (shortened here through SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS, read
# once at start). 300 idle upgrades over ten tokens fill TUNNELS_MAX (64)
# and get 503 past it. One token's uploads past UPLOADS_PER_TOKEN (8) get
# 503, and the push that meets it sends its files by rsync instead. A live
# transfer slower than the idle timeout is left alone; a stop ends the
# tunnels with the server. An rsync older than 3.4.0 is refused at start.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

# hold.py URL READY < "TOKEN PATH PROTO [greet]" lines: sends each upgrade
# request on a connection of its own, prints how many got each status and
# the Retry-After of the refusals, touches READY, then waits (up to 20 s)
# for the server to close every upgraded connection, sending rsync's
# greeting first on those marked greet. Prints how many it closed.
cat >hold.py <<\EOF
import socket, sys, time
url, ready = sys.argv[1], sys.argv[2]
host, port = url.split("//")[1].rsplit(":", 1)
addr = (host, int(port))
conns = []
for line in sys.stdin:
    f = line.split()
    s = socket.create_connection(addr, timeout=20)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Connection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n"
               % (f[1], f[0], f[2])).encode())
    conns.append((s, f[3:]))
codes, retry, held = {}, set(), []
for s, rest in conns:
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            break
        head += d
    status = head.split(b" ")[1].decode() if head else "closed"
    codes[status] = codes.get(status, 0) + 1
    if status == "101":
        if rest == ["greet"]:
            s.sendall(b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n")
        held.append(s)
        continue
    for h in head.split(b"\r\n"):
        if h.lower().startswith(b"retry-after:"):
            retry.add(h.split(b":", 1)[1].strip().decode())
    s.close()
for k in sorted(codes):
    print(k, codes[k])
print("retry-after:", " ".join(sorted(retry)))
sys.stdout.flush()
open(ready, "w").close()
closed = 0
end = time.time() + 20
for s in held:
    try:
        s.settimeout(max(end - time.time(), 0.01))
        while s.recv(65536):
            pass
        closed += 1
    except ConnectionResetError:
        closed += 1
    except OSError:
        pass
print("closed by the server:", closed, "of", len(held))
EOF

# threads PID, rsyncs PID: the server's threads, and its children.
threads() {
	ls /proc/$1/task | wc -l
}
rsyncs() {
	grep -ls "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | wc -l
}

# rsyncs_are PID N: its children N within 5 s (the socket closes before
# the rsync on it has quite exited, and a client's tunnel does not wait
# for either).
rsyncs_are() {
	n=0
	while [ "$(rsyncs $1)" != "$2" ] && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	test "$(rsyncs $1)" = "$2"
}
no_rsyncs() {
	rsyncs_are "$1" 0
}

# hold REQUESTS-FILE OUT: hold.py in the background (HOLD_PID), once it has its answers.
hold() {
	rm -f ready || return 1
	python3 hold.py "$URL" ready <"$1" >"$2" &
	HOLD_PID=$!
	wait_exists ready
}

# daemons: the rsync daemons the server started for a client, by the
# tunnel's Upgrade or by rsync's own CONNECT (a client's push takes the
# latter here).
daemons() {
	grep -c -e "POST /api/v1/rsync 101 " -e " CONNECT soc:873 200 " server.log
}

# now_ms: the clock, for how long a push took.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

test_expect_success_here 'a server with a 5 s tunnel and a 3 s upload idle timeout; a reader and a writer' '
	SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS=5000 &&
	SOC_TEST_UPLOAD_IDLE_TIMEOUT_MS=3000 &&
	export SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS SOC_TEST_UPLOAD_IDLE_TIMEOUT_MS &&
	start_server "$TRASH/server" &&
	unset SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS SOC_TEST_UPLOAD_IDLE_TIMEOUT_MS &&
	RO=$(soc serve token new reader --read-only --root server 2>/dev/null) &&
	SOC_TOKEN=$(soc serve token new writer --root server 2>/dev/null) &&
	export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init b --remote "$URL" -q &&
	mkdir a/D &&
	echo one >a/D/one &&
	head -c 100000 /dev/urandom >a/D/big &&
	(cd a && soc add -r D -q && soc push -q) &&
	(cd b && SOC_TEST_NO_FETCH=1 soc pull -q) &&	# by the tunnel: its watcher thread runs before the count
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success_here '300 idle upgrades of one read-only token: 32 rsyncs, 429 for the rest, threads do not grow' '
	before=$(threads $SERVER_PID) &&
	for i in $(seq 300); do
		if [ $((i % 2)) = 0 ]; then g=greet; else g=; fi
		echo "$RO /api/v1/rsync soc-rsync $g" || return 1
	done >requests &&
	hold requests held1 &&
	during=$(threads $SERVER_PID) &&
	children=$(rsyncs $SERVER_PID) &&
	test_figure "300 idle upgrades: threads $before before, $during during; rsync children $children" &&
	test "$during" -le "$before" &&
	test "$children" = 32 &&
	echo "$during" >during &&
	printf "101 32\n429 268\nretry-after: 10\n" >expect &&
	test_cmp expect held1
'

test_expect_success 'meanwhile a push of a changed and a new file from another workspace lands within 2 s' '
	echo more >>b/D/big &&
	echo two >b/D/two &&
	tunnels=$(daemons) &&
	t0=$(now_ms) &&
	(cd b && soc push -q) &&
	took=$(($(now_ms) - t0)) &&
	test_figure "the push beside 300 idle upgrades took $took ms" &&
	test $took -lt 2000 &&
	test $(daemons) = $((tunnels + 1)) &&
	test "$(tree_sum b/D)" = "$(tree_sum server/files/D)" &&
	rsyncs_are $SERVER_PID 32
'

test_expect_success_here 'after the idle timeout the tunnels are closed and their rsyncs gone' '
	wait $HOLD_PID &&
	tail -n 1 held1 >closed &&
	echo "closed by the server: 32 of 32" >expect &&
	test_cmp expect closed &&
	no_rsyncs $SERVER_PID &&
	test $(grep -c "the rsync tunnel of .reader. moved no byte for 5000 ms; ended" server.log) = 32 &&
	test "$(threads $SERVER_PID)" -le "$(cat during)"
'

test_expect_success_here '300 idle upgrades over ten read-only tokens: 64 rsyncs, 503 past them, then gone' '
	for k in 0 1 2 3 4 5 6 7 8 9; do
		soc serve token new r$k --read-only --root server >token$k 2>/dev/null || return 1
	done &&
	for i in $(seq 0 299); do
		echo "$(cat token$((i % 10))) /api/v1/rsync soc-rsync" || return 1
	done >requests &&
	hold requests held2 &&
	children=$(rsyncs $SERVER_PID) &&
	test_figure "300 idle upgrades of ten tokens: rsync children $children" &&
	test "$children" = 64 &&
	wait $HOLD_PID &&
	printf "101 64\n503 236\nretry-after: 10\nclosed by the server: 64 of 64\n" >expect &&
	test_cmp expect held2 &&
	no_rsyncs $SERVER_PID
'

test_expect_success_here 'one token past 8 uploads at once gets 503; its push sends the new files by rsync' '
	TOKEN=$SOC_TOKEN &&
	echo x >x &&
	change N/x x >body &&
	: >requests &&
	for k in 1 2 3; do
		push_begin body &&
		for j in 1 2 3; do
			echo "$TOKEN /api/v1/push/$TXN/upload soc-upload" >>requests || return 1
		done
	done &&
	hold requests held3 &&
	echo three >b/D/three &&
	tunnels=$(daemons) &&
	(cd b && soc add D/three && soc push -q) &&
	test "$(tree_sum b/D)" = "$(tree_sum server/files/D)" &&
	test $(grep -c "POST /api/v1/push/[0-9a-f]*/upload 503 " server.log) = 2 &&
	test $(daemons) = $((tunnels + 1)) &&
	wait $HOLD_PID &&
	printf "101 8\n503 1\nretry-after: 10\nclosed by the server: 8 of 8\n" >expect &&
	test_cmp expect held3 &&
	test $(grep -c "the upload broke off: no byte came within the idle timeout" server.log) = 8
'

test_expect_success_here 'SIGTERM with idle tunnels: they end with the server, which exits 0' '
	for i in 1 2 3 4; do
		echo "$RO /api/v1/rsync soc-rsync" || return 1
	done >requests &&
	hold requests held4 &&
	test "$(rsyncs $SERVER_PID)" = 4 &&
	kill -TERM $SERVER_PID &&
	wait $SERVER_PID &&
	wait $HOLD_PID &&
	tail -n 1 held4 >closed &&
	echo "closed by the server: 4 of 4" >expect &&
	test_cmp expect closed &&
	! grep -las "config=$TRASH/server/rsyncd" /proc/[0-9]*/cmdline &&
	! grep -i "sanitizer\|runtime error" server.log
'

test_expect_success_here 'with a 1 s idle timeout, a transfer slower than that is left alone' '
	SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS=1000 &&
	export SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS &&
	start_server "$TRASH/quick" &&
	unset SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS &&
	mkdir quick/files/D got &&
	head -c 500000 /dev/urandom >quick/files/D/slow &&
	t0=$(now_ms) &&
	printf "D/slow\0" |
	SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$ADMIN_TOKEN \
		rsync -rt -I --bwlimit=200 --from0 --files-from=- -e "soc tunnel" soc::pull/ got/ &&
	took=$(($(now_ms) - t0)) &&
	test_figure "a pull at 200 KB/s under a 1 s idle timeout took $took ms" &&
	test $took -gt 1500 &&
	test "$(hash_of got/D/slow)" = "$(hash_of quick/files/D/slow)" &&
	! grep "moved no byte" quick.log &&
	stop_server $SERVER_PID
'

# fake_rsync VERSION: an rsync on PATH that only says its version, as rsync does.
fake_rsync() {
	mkdir -p fake &&
	printf "#!/bin/sh\necho \"rsync  version %s  protocol version 31\"\necho \"Copyright (C) 1996-2022\"\n" \
		"$1" >fake/rsync &&
	chmod +x fake/rsync
}

test_expect_success 'an rsync below 3.4.0 is refused at start, by name, and nothing is created' '
	fake_rsync v3.2.7 &&
	test_expect_code 1 env PATH="$TRASH/fake:$PATH" soc serve --root old --listen 127.0.0.1:0 2>stamped &&
	sed "s/^$LOG_STAMP //" stamped >err &&
	echo "soc serve: rsync v3.2.7 is installed; soc serve needs rsync 3.4.0 or later (its daemon fixes CVE-2024-12084 and CVE-2024-12085)" >expect &&
	test_cmp expect err &&
	! test -e old &&
	fake_rsync 3.3.0 &&
	test_expect_code 1 env PATH="$TRASH/fake:$PATH" soc serve --root old --listen 127.0.0.1:0 2>err &&
	grep "rsync 3.3.0 is installed; soc serve needs rsync 3.4.0 or later" err &&
	test_line_count = 1 err &&
	printf "#!/bin/sh\necho nonsense\n" >fake/rsync &&
	test_expect_code 1 env PATH="$TRASH/fake:$PATH" soc serve --root old --listen 127.0.0.1:0 2>stamped &&
	sed "s/^$LOG_STAMP //" stamped >err &&
	echo "soc serve: cannot read rsync'"'"'s version in '"'"'nonsense'"'"' (from '"'"'rsync --version'"'"')" >expect &&
	test_cmp expect err &&
	! test -e old
'

test_expect_success_here 'rsync 3.4.0 is enough; a wrong idle timeout is ignored with a warning' '
	fake_rsync 3.4.0 &&
	old_path=$PATH &&
	PATH=$TRASH/fake:$PATH &&
	SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS=0 &&
	export SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS &&
	start_server "$TRASH/floor" &&
	PATH=$old_path &&
	unset SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS &&
	grep "ignoring SOC_TEST_TUNNEL_IDLE_TIMEOUT_MS=.0.: not a number of milliseconds from 1 to 300000" floor.log &&
	stop_server $SERVER_PID
'

test_done
