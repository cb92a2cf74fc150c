#!/bin/sh
# rsync straight to the soc port: on plain http a client's rsync asks soc
# serve for its daemon as it would ask a web proxy, "CONNECT soc:873" with
# the token as Basic Proxy-Authorization (rsync_connect.c), and no `soc
# tunnel` runs between. The server connects nowhere for it; a server or a
# proxy that does not answer CONNECT gets the tunnel instead, silently.
. "$(dirname "$0")/lib.sh"

raw() {
	python3 "$TEST_SRC/helper/rawhttp.py" "$URL" "$@"
}

# basic TOKEN: the Proxy-Authorization value rsync sends for soc:TOKEN.
basic() {
	printf "soc:%s" "$1" | base64 -w0
}

# logs: every node's log (a cluster's request may go to either).
logs() {
	cat server.log $(one_node || echo server.n2.log)
}

test_expect_success_here 'a server, two workspaces, a file of 300 KB in both' '
	setup_two &&
	wrap_rsync &&
	head -c 300000 /dev/urandom >a/f &&
	(cd a && soc add f -q && soc push -q) &&
	(cd b && soc pull -q) &&
	cmp a/f b/f
'

test_expect_success 'a changed file is pushed by CONNECT, with no soc tunnel; the same bytes land' '
	: >rsync.calls &&
	dd if=/dev/urandom of=a/f bs=1k count=8 seek=100 conv=notrunc 2>/dev/null &&
	(cd a && SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) 2>err &&
	test_must_be_empty err &&
	grep "soc::push/" rsync.calls &&
	! grep "tunnel" rsync.calls &&
	logs | grep " admin CONNECT soc:873 200 " &&
	! logs | grep "POST /api/v1/rsync" &&
	t=$(server_tree server) &&
	cmp a/f "$t/f"
'

test_expect_success 'and pulled by CONNECT into the other workspace' '
	: >rsync.calls &&
	(cd b && SOC_TEST_NO_FETCH=1 soc pull -q) 2>err &&
	test_must_be_empty err &&
	grep "soc::pull/" rsync.calls &&
	! grep "tunnel" rsync.calls &&
	test "$(logs | grep -c " admin CONNECT soc:873 200 ")" = 2 &&
	cmp a/f b/f
'

test_expect_success 'SOC_TEST_RSYNC_TUNNEL: the same push goes through soc tunnel' '
	: >rsync.calls &&
	dd if=/dev/urandom of=a/f bs=1k count=8 seek=10 conv=notrunc 2>/dev/null &&
	(cd a && SOC_TEST_RSYNC_TUNNEL=1 SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) &&
	grep "tunnel" rsync.calls &&
	logs | grep "POST /api/v1/rsync 101 " &&
	test "$(logs | grep -c " CONNECT ")" = 2 &&
	t=$(server_tree server) &&
	cmp a/f "$t/f"
'

test_expect_success 'CONNECT without a token, or with a wrong one: 407 asking for Basic' '
	printf "CONNECT soc:873 HTTP/1.0\r\n\r\n" | raw >out &&
	grep "^407 close$" out &&
	printf "CONNECT soc:873 HTTP/1.0\r\nProxy-Authorization: Basic %s\r\n\r\n" "$(basic wrong)" | raw >out &&
	grep "^407 close$" out &&
	printf "CONNECT soc:873 HTTP/1.0\r\nProxy-Authorization: Bearer %s\r\n\r\n" "$SOC_TOKEN" | raw >out &&
	grep "^407 close$" out &&
	! curl -sv -o /dev/null -p -x "$URL" http://soc:873/ 2>err &&
	grep -i "^< Proxy-Authenticate: Basic realm=\"soc\"" err &&
	! logs | grep -F "$SOC_TOKEN"
'

test_expect_success 'CONNECT to any other place: 403, the server is no proxy; a path target: 400' '
	for to in example.org:80 127.0.0.1:22 soc:8717 SOC:873; do
		printf "CONNECT %s HTTP/1.1\r\nProxy-Authorization: Basic %s\r\n\r\n" \
			"$to" "$(basic "$SOC_TOKEN")" | raw >out &&
		grep "^403 close$" out || return 1
	done &&
	printf "CONNECT /api/v1/rsync HTTP/1.1\r\nProxy-Authorization: Basic %s\r\n\r\n" \
		"$(basic "$SOC_TOKEN")" | raw >out &&
	grep "^400 close$" out &&
	printf "GET /api/v1/info HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n" "$SOC_TOKEN" | raw >out &&
	grep "^505 close$" out
'

test_expect_success 'a read-only token pulls by CONNECT and has no push module there' '
	ro=$(soc serve token new reader --read-only --root "$TRASH/server") &&
	hp=${URL#http://} &&
	RSYNC_PROXY="soc:$ro@$hp" rsync soc::pull/ >list &&
	grep " f$" list &&
	echo new >n &&
	test_must_fail env RSYNC_PROXY="soc:$ro@$hp" rsync n soc::push/ 2>err &&
	grep "Unknown module" err
'

test_expect_success_here 'a server that does not answer CONNECT, as an older one did' '
	SOC_TEST_NO_CONNECT=1 start_server "$TRASH/old" &&
	SOC_TOKEN=$ADMIN_TOKEN
'

test_expect_success 'a push to it takes the tunnel, and says nothing of it' '
	soc init c --remote "$URL" -q &&
	head -c 300000 /dev/urandom >c/g &&
	(cd c && soc add g -q && soc push -q) &&
	dd if=/dev/urandom of=c/g bs=1k count=8 seek=100 conv=notrunc 2>/dev/null &&
	(cd c && SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) 2>err &&
	test_must_be_empty err &&
	cat old.log $(one_node || echo old.n2.log) >old.logs &&
	grep " CONNECT soc:873 505 " old.logs &&
	grep "POST /api/v1/rsync 101 " old.logs &&
	t=$(server_tree "$TRASH/old") &&
	cmp c/g "$t/g"
'

test_expect_success 'one command asks once: a sync that pulls and pushes by rsync is refused CONNECT once' '
	soc init d --remote "$URL" -q &&
	(cd d && SOC_TEST_NO_FETCH=1 soc pull -q) &&
	cmp c/g d/g &&
	head -c 300000 /dev/urandom >c/k &&
	(cd c && soc add k -q && soc push -q) &&
	dd if=/dev/urandom of=d/g bs=1k count=8 seek=10 conv=notrunc 2>/dev/null &&
	cat old.log $(one_node || echo old.n2.log) | grep -c " CONNECT soc:873 505 " >before &&
	(cd d && SOC_TEST_NO_FETCH=1 SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc sync -q) 2>err &&
	test_must_be_empty err &&
	cat old.log $(one_node || echo old.n2.log) | grep -c " CONNECT soc:873 505 " >after &&
	test "$(cat after)" = $(($(cat before) + 1)) &&
	cmp c/k d/k &&
	t=$(server_tree "$TRASH/old") &&
	cmp d/g "$t/g"
'

test_done
