#!/bin/sh
# Connections: keep-alive, pipelining, slow clients, clients that vanish,
# and curl, the client soc itself uses.
. "$(dirname "$0")/lib.sh"

raw() {
	python3 "$TEST_SRC/helper/rawhttp.py" "$URL" "$@"
}

info() {
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n%s\r\n" "$1"
}

test_expect_success_here 'a server' '
	start_server "$TRASH/server"
'

test_expect_success 'curl with the admin token reads /api/v1/info' '
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >out &&
	grep "\"version\"" out
'

test_expect_success 'no token: 401 from the handlers, as JSON' '
	curl -s -o out -w "%{http_code}\n" "$URL/api/v1/info" >code &&
	echo 401 >expect &&
	test_cmp expect code &&
	grep "\"error\"" out
'

test_expect_success 'an unknown path: 404' '
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $ADMIN_TOKEN" \
		"$URL/api/v1/no-such-thing" >code &&
	echo 404 >expect &&
	test_cmp expect code
'

test_expect_success 'keep-alive: two requests, one after the other, on one connection' '
	{ info; } | raw --split 10 --pause 0.1 --wait 0.5 >out &&
	printf "401 -\nopen\n" >expect &&
	test_cmp expect out &&
	curl -s -o /dev/null -o /dev/null -w "%{num_connects}\n" \
		"$URL/api/v1/info" "$URL/api/v1/info" >connects &&
	printf "1\n0\n" >expect &&
	test_cmp expect connects
'

test_expect_success 'pipelining: three requests in one write, three answers in order' '
	{
		info &&
		printf "GET /api/v1/no-such-thing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" "$ADMIN_TOKEN" &&
		info "Connection: close
"
	} | sed "s/\$/\r/; s/\r\r\$/\r/" >pipe.raw &&
	raw --responses 3 <pipe.raw >out &&
	printf "401 -\n404 -\n401 close\nclosed\n" >expect &&
	test_cmp expect out
'

test_expect_success 'a body that looks like a request is a body, not a request' '
	printf "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" >inner &&
	n=$(wc -c <inner) &&
	{
		printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" $n &&
		cat inner &&
		info "Connection: close
" | sed "s/\$/\r/; s/\r\r\$/\r/"
	} | raw --responses 2 >out &&
	printf "401 -\n401 close\nclosed\n" >expect &&
	test_cmp expect out &&
	! grep smuggled server.log
'

test_expect_success 'a slow client sending a byte at a time is served' '
	info "Connection: close
" | sed "s/\$/\r/; s/\r\r\$/\r/" >slow.raw &&
	raw --bytewise 0.005 <slow.raw >out &&
	printf "401 close\nclosed\n" >expect &&
	test_cmp expect out
'

test_expect_success 'a body shorter than its Content-Length, then close: the server lives on' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"a\":" "$ADMIN_TOKEN" |
	raw --shut >out &&
	grep "^no response" out &&
	curl -s -o /dev/null -w "%{http_code}\n" "$URL/api/v1/info" >code &&
	echo 401 >expect &&
	test_cmp expect code
'

test_expect_success 'a client that connects and leaves, mid-head: the server lives on' '
	printf "GET /api/v1/in" | raw --shut >out &&
	grep "^no response" out &&
	curl -s -o /dev/null -w "%{http_code}\n" "$URL/api/v1/info" >code &&
	echo 401 >expect &&
	test_cmp expect code
'

test_expect_success 'Connection: close is honoured' '
	info "Connection: close
" | sed "s/\$/\r/; s/\r\r\$/\r/" | raw >out &&
	printf "401 close\nclosed\n" >expect &&
	test_cmp expect out
'

test_expect_success 'Expect: 100-continue gets its 100 before the body is sent' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" "$ADMIN_TOKEN" >head &&
	python3 - "$URL" <<-\EOF >out
	import socket, sys
	host, port = sys.argv[1].split("//")[1].rsplit(":", 1)
	s = socket.create_connection((host, int(port)), timeout=5)
	s.sendall(open("head", "rb").read())
	print(s.recv(100).split(b"\r\n")[0].decode())
	s.sendall(b"{}")
	print(s.recv(4096).split(b"\r\n")[0].decode())
	EOF
	sed -n 1p out >first &&
	echo "HTTP/1.1 100 Continue" >expect &&
	test_cmp expect first &&
	sed -n 2p out | grep "^HTTP/1.1 [45]0[01] "
'

test_expect_success 'without a token, no 100-continue: 401 before any body is read' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n" |
	raw >out &&
	grep "^401 close$" out
'

test_expect_success 'no sanitizer report and no crash in the server log' '
	kill -0 $SERVER_PID &&
	! grep -i "sanitizer\|runtime error" server.log
'

test_done
