#!/bin/sh
# t/lib-haproxy.sh itself, before soc serve's nodes go behind it: two
# small HTTP/1.1 keep-alive backends with haproxy_up in front. Four
# requests on one client connection go to both backends in turn (haproxy
# balances requests, not connections, which is what lets one push's
# requests land on different nodes), and an HTTP/1.1 Upgrade gets its 101
# and then carries bytes both ways, as soc's rsync tunnel does.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-haproxy.sh"

# node.py NAME: an HTTP/1.1 server on 127.0.0.1 port 0 that keeps its
# connections alive, answers each request with its NAME in X-Node, and
# answers an Upgrade with 101 and then echoes every byte until EOF.
# node.py upgrade PORT: sends soc's upgrade request to 127.0.0.1:PORT,
# prints the status line, 1 MiB through the tunnel, and whether it all
# came back and the tunnel closed after our half-close.
cat >node.py <<\EOF
import http.server, os, socket, sys

class Node(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.headers["Upgrade"]:
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", self.headers["Upgrade"])
            self.end_headers()
            while b := self.rfile.read1(65536):
                self.wfile.write(b)
            self.close_connection = True
            return
        body = (sys.argv[1] + "\n").encode()
        self.send_response(200)
        self.send_header("X-Node", sys.argv[1])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass

if sys.argv[1] != "upgrade":
    http.server.ThreadingHTTPServer(("127.0.0.1", 0), Node).serve_forever()
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20)
s.sendall(b"POST /api/v1/rsync HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
          b"Upgrade: soc-rsync\r\nContent-Length: 0\r\n\r\n")
f = s.makefile("rb")
print(f.readline().decode().rstrip())
while f.readline() not in (b"\r\n", b""):
    pass
sent = got = b""
for i in range(16):
    chunk = os.urandom(65536)
    s.sendall(chunk)
    sent += chunk
    got += f.read(len(chunk))
s.shutdown(socket.SHUT_WR)
print("echoed" if got == sent else "garbled", "closed" if f.read() == b"" else "open")
EOF

# start_node NAME: node.py NAME, killed by the exit trap; sets NODE_URL.
start_node() {
	python3 node.py "$1" 2>"node-$1.log" &
	sn_pid=$!
	SERVER_PIDS="$SERVER_PIDS $sn_pid"
	sn_port=$(listen_port "$sn_pid") &&
	NODE_URL=http://127.0.0.1:$sn_port
}

test_expect_success_here 'two keep-alive backends, and haproxy in front of them' '
	start_node one &&
	ONE=$NODE_URL &&
	start_node two &&
	TWO=$NODE_URL &&
	haproxy_up "$ONE" "$TWO" &&
	test_figure "$("$HAPROXY" -v | head -n 1) on $HAPROXY_URL in front of $ONE and $TWO"
'

test_expect_success 'four requests on one client connection go to both backends in turn' '
	curl -sS -w "%{num_connects} %header{x-node}\n" \
		-o /dev/null "$HAPROXY_URL/who" -o /dev/null "$HAPROXY_URL/who" \
		-o /dev/null "$HAPROXY_URL/who" -o /dev/null "$HAPROXY_URL/who" >got &&
	cut -d" " -f1 got >connects &&
	printf "1\n0\n0\n0\n" >want &&
	test_cmp want connects &&
	cut -d" " -f2 got >nodes &&
	test "$(sort -u nodes | tr "\n" " ")" = "one two " &&
	test "$(uniq nodes | wc -l)" = 4 &&
	test "$(grep -c "^n1 200 GET /who " "$HAPROXY_LOG")" = 2 &&
	test "$(grep -c "^n2 200 GET /who " "$HAPROXY_LOG")" = 2
'

test_expect_success 'an HTTP/1.1 Upgrade gets its 101, then a tunnel both ways until EOF' '
	python3 node.py upgrade "${HAPROXY_URL##*:}" >got &&
	printf "HTTP/1.1 101 Switching Protocols\nechoed closed\n" >want &&
	test_cmp want got &&
	n=0 &&
	until grep "^n[12] 101 POST /api/v1/rsync " "$HAPROXY_LOG"; do
		n=$((n + 1)) && [ $n -lt 100 ] || return 1
		sleep 0.05
	done
'

test_done
