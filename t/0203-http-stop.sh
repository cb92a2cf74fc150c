#!/bin/sh
# SIGTERM and SIGINT stop the server gracefully: no new connections, idle
# ones closed, requests in flight finished and answered, then exit 0.
. "$(dirname "$0")/lib.sh"

raw() {
	python3 "$TEST_SRC/helper/rawhttp.py" "$URL" "$@"
}

# wait_exit PID: its exit code, or 124 if it is still running after 10 s.
wait_exit() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -0 "$1" 2>/dev/null && return 124
	wait "$1"
}

# stop_during ROOT SIGNAL EXPECT RAWHTTP-OPTIONS...: starts a server, sends
# the request in ./req with those options, signals the server once the
# client is in place (its first part sent, or its answer read: a fixed
# half second was too short for a loaded machine's python to connect),
# and checks the client saw EXPECT and the server exited 0.
stop_during() {
	root=$1 sig=$2 expect=$3
	shift 3
	start_server "$TRASH/$root" || return 1
	rm -f ready
	raw "$@" --ready ready <req >out &
	client=$!
	wait_exists ready &&
	kill -$sig $SERVER_PID &&
	wait $client &&
	printf "$expect" >expect &&
	test_cmp expect out &&
	wait_exit $SERVER_PID
}

test_expect_success_here 'SIGTERM with a request half sent: it is answered, then exit 0' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n" >req &&
	stop_during s1 TERM "401 close\nclosed\n" --split 12 --pause 1.5
'

test_expect_success_here 'after SIGTERM no new connection is accepted' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n" >req &&
	start_server "$TRASH/s2" || return 1
	rm -f ready
	raw --split 12 --pause 1.5 --ready ready <req >out &
	client=$!
	wait_exists ready &&
	kill -TERM $SERVER_PID &&
	sleep 0.2 &&
	kill -0 $SERVER_PID &&
	test_must_fail curl -s -m 2 "$URL/api/v1/info" &&
	wait $client &&
	wait_exit $SERVER_PID
'

test_expect_success_here 'SIGTERM with a body still arriving: the handler runs, exit 0' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" >req &&
	stop_during s3 TERM "401 close\nclosed\n" --split 59 --pause 1.5
'

test_expect_success_here 'SIGINT with an idle keep-alive connection: it is closed, exit 0' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n" >req &&
	stop_during s4 INT "401 -\nclosed\n" --wait 5
'

test_expect_success 'nothing was reported by the sanitizers' '
	! grep -i "sanitizer\|runtime error" s1.log s2.log s3.log s4.log
'

test_done
