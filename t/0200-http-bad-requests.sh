#!/bin/sh
# The HTTP layer refuses what it must, each with its status, a JSON reason
# and a closed connection, before any handler runs; and a refusal costs the
# server nothing: the next client is served. Raw bytes over a socket, since
# curl never sends most of these.
. "$(dirname "$0")/lib.sh"

# raw [rawhttp.py options] < bytes: one line per answer ("431 close"), then
# "closed" or "open".
raw() {
	python3 "$TEST_SRC/helper/rawhttp.py" "$URL" "$@"
}

# refused STATUS < bytes: answered STATUS with Connection: close and a JSON
# error body, then the connection closed.
refused() {
	raw --body >out &&
	printf "%s close\n" "$1" >expect &&
	sed -n 1p out >first &&
	test_cmp expect first &&
	sed -n 2p out | grep "^{\"error\":\"[a-z_]*\",\"message\":\"[^\"]*\"}$" &&
	test "$(sed -n 4p out)" = closed
}

big() {
	python3 -c "import sys; sys.stdout.write($1)"
}

test_expect_success_here 'a server' '
	start_server "$TRASH/server"
'

test_expect_success 'a well-formed request reaches the handlers and stays open' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n" | raw --wait 0.5 >out &&
	printf "401 -\nopen\n" >expect &&
	test_cmp expect out
'

test_expect_success 'headers over 16 KiB: 431' '
	big "\"GET /api/v1/info HTTP/1.1\\r\\nHost: x\\r\\nX-Big: \" + \"a\" * 17000 + \"\\r\\n\\r\\n\"" |
	refused 431
'

test_expect_success 'many headers adding up to over 16 KiB: 431' '
	big "\"GET / HTTP/1.1\\r\\n\" + \"\".join(\"X-%d: %s\\r\\n\" % (i, \"v\" * 300) for i in range(60)) + \"\\r\\n\"" |
	refused 431
'

test_expect_success 'a request line over the limit: 414' '
	big "\"GET /\" + \"a\" * 17000 + \" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\"" |
	refused 414
'

test_expect_success 'more than 100 headers: 431' '
	big "\"GET / HTTP/1.1\\r\\n\" + \"\".join(\"X-%d: v\\r\\n\" % i for i in range(101)) + \"\\r\\n\"" |
	refused 431
'

test_expect_success '100 headers are fine' '
	big "\"GET / HTTP/1.1\\r\\n\" + \"\".join(\"X-%d: v\\r\\n\" % i for i in range(99)) + \"Connection: close\\r\\n\\r\\n\"" |
	raw >out &&
	grep "^40[14] close$" out
'

test_expect_success 'Transfer-Encoding: 501' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" |
	refused 501
'

test_expect_success 'Content-Length and Transfer-Encoding together: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello" |
	refused 400
'

test_expect_success 'a negative Content-Length: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello" |
	refused 400
'

test_expect_success 'an overflowing Content-Length: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n" |
	refused 400
'

test_expect_success 'a Content-Length that is not digits: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 5a\r\n\r\nhello" |
	refused 400 &&
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" |
	refused 400
'

test_expect_success 'two different Content-Lengths: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 3\r\n\r\nhello" |
	refused 400
'

test_expect_success 'a Content-Length over the body limit: 413, before the body is sent' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000000000\r\n\r\n" |
	refused 413
'

test_expect_success 'a method that is not a token: 400' '
	printf "G(T /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n" |
	refused 400
'

test_expect_success 'an unknown method is the handlers to refuse, never a 2xx or 5xx' '
	printf "BREW /api/v1/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n" "$ADMIN_TOKEN" |
	raw >out &&
	grep "^4[0-9][0-9] close$" out
'

test_expect_success 'HTTP/1.0: 505' '
	printf "GET /api/v1/info HTTP/1.0\r\nHost: x\r\n\r\n" |
	refused 505
'

test_expect_success 'the HTTP/2 preface: 505' '
	printf "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" |
	refused 505
'

test_expect_success 'bare LF line ends: 400' '
	printf "GET /api/v1/info HTTP/1.1\nHost: x\n\n" |
	refused 400
'

test_expect_success 'obs-fold: 400' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n" |
	refused 400
'

test_expect_success 'a space before the colon: 400' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost : x\r\n\r\n" |
	refused 400
'

test_expect_success 'a NUL in the request line: 400' '
	printf "GET /api/v1/\000info HTTP/1.1\r\nHost: x\r\n\r\n" |
	refused 400
'

test_expect_success 'binary garbage (a TLS hello): refused and closed' '
	printf "\026\003\001\002\000\001\000\001\374\003\003\r\n\r\n" |
	refused 400
'

test_expect_success 'after all that the server still answers' '
	curl -s -o /dev/null -w "%{http_code}\n" "$URL/api/v1/info" >out &&
	echo 401 >expect &&
	test_cmp expect out &&
	kill -0 $SERVER_PID
'

test_expect_success 'the log names each request, and no header value or query' '
	printf "GET /api/v1/info?token=SECRETQUERY HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRETHEADER\r\nConnection: close\r\n\r\n" |
	raw >out &&
	grep "^40[13] close$" out &&
	printf "GET /api/v1/info?token=SECRETQUERY HTTP/1.0\r\nAuthorization: Bearer SECRETHEADER\r\n\r\n" |
	raw >out &&
	grep "^505 close$" out &&
	grep "^$LOG_STAMP soc serve: 127\.0\.0\.1:[0-9]* - GET /api/v1/info 40[13] [0-9]* [0-9]*ms$" server.log &&
	grep "^$LOG_STAMP soc serve: 127\.0\.0\.1:[0-9]* - GET /api/v1/info 505 " server.log &&
	grep "^$LOG_STAMP soc serve: 127\.0\.0\.1:[0-9]* - PRI \* 505 " server.log &&
	grep " - - 414 " server.log &&
	! grep SECRET server.log
'

test_done
