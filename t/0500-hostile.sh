#!/bin/sh
# A hostile client: raw bytes over a socket and crafted push bodies, the
# catalogue of what people send to a server on the internet. Each gets its
# documented status, none changes a byte of the head, the server serves
# the next client, and `soc serve check` passes afterwards. The HTTP
# layer's single refusals are in t/0200-0203 and the push body's in
# t/0221; this is the catalogue end to end, against one server.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

# Raw bytes go to the server itself: on a cluster to node 1 straight, not
# through haproxy, which parses HTTP its own way.
raw() {
	python3 "$TEST_SRC/helper/rawhttp.py" "$NODE_URL" "$@"
}

# answered STATUS [rawhttp options] < bytes: the first answer is STATUS and
# the connection is closed after it.
answered() {
	want=$1
	shift
	raw "$@" >got &&
	printf "%s close\nclosed\n" "$want" >expect &&
	test_cmp expect got
}

# The header line without its CRLF: $(...) would strip a trailing newline.
auth() {
	printf "Authorization: Bearer %s" "$TOKEN"
}

# push_refused STATUS BODY-FILE: POST push with that body gets STATUS.
push_refused() {
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @"$2")" = "$1" || {
		echo "push_refused: wanted $1, got: $(cat out)" >&2
		return 1
	}
}

# A push line for a new file at the JSON-encoded path $1.
line_at() {
	printf '{"path":%s,"sha256":"%s","size":4,"mtime":0,"mode":420,"base":null}\n' "$1" "$HASH"
}

SOC_TEST_HTTP_HEAD_TIMEOUT_MS=1000
SOC_TEST_HTTP_BODY_TIMEOUT_MS=1000
export SOC_TEST_HTTP_HEAD_TIMEOUT_MS SOC_TEST_HTTP_BODY_TIMEOUT_MS

# snap: snapshot of r (lib-push.sh); on a cluster, whose nodes keep no
# files/ and stage in the blob directory, the same from an export and there.
snap() {
	if one_node; then
		snapshot "$TRASH/r"
	else
		t=$(server_tree "$TRASH/r") && tree_sum "$t" &&
		(cd "$(cat "$TRASH/r/blobs.dir")" && find staging commit | LC_ALL=C sort) &&
		echo "head $(head_rev)"
	fi
}

test_expect_success_here 'a server with a file in its head' '
	start_server "$TRASH/r" --max-body 1000000 &&
	NODE_URL=$URL &&
	if ! one_node; then
		NODE_URL=$(sed -n "s/^.* soc serve: listening on \(http:[^ ]*\)\$/\1/p" r.log | tail -n 1)
	fi &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir -p w/D &&
	echo one >w/D/one &&
	change D/one w/D/one >body &&
	push_all w body &&
	HASH=$(hash_of w/D/one) &&
	snap >before
'

# ---- request smuggling and framing ----

test_expect_success 'smuggling: Content-Length with Transfer-Encoding, either order: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" |
		answered 400 &&
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" |
		answered 400
'

test_expect_success 'smuggling: Transfer-Encoding spelled otherwise is still refused: 501' '
	for te in chunked CHUNKED xchunked "chunked, identity" identity; do
		printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n" "$te" |
			answered 501 || return 1
	done
'

test_expect_success 'smuggling: a folded or spaced Transfer-Encoding is malformed: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n" |
		answered 400 &&
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n" |
		answered 400
'

test_expect_success 'smuggling: a Content-Length list or two that differ: 400' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello" |
		answered 400 &&
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello" |
		answered 400
'

test_expect_success 'a chunked body: 501, and its chunks are never read as a request' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n1d\r\nGET /api/v1/info HTTP/1.1\r\n\r\n\r\n0\r\n\r\n" "$(auth)" |
		answered 501
'

test_expect_success 'huge and overflowing lengths: 400, or 413 past --max-body' '
	for n in 99999999999999999999 9223372036854775808 -1 0x10 1e9; do
		printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" "$n" |
			answered 400 || return 1
	done &&
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 1000001\r\n\r\n" "$(auth)" |
		answered 413
'

test_expect_success 'header floods: 101 headers, or one of 17 KiB: 431' '
	python3 -c "import sys; sys.stdout.write(\"GET /api/v1/info HTTP/1.1\r\n\" + \"X-A: b\r\n\" * 101 + \"\r\n\")" |
		answered 431 &&
	python3 -c "import sys; sys.stdout.write(\"GET /api/v1/info HTTP/1.1\r\nX-A: \" + \"b\" * 17408 + \"\r\n\r\n\")" |
		answered 431
'

test_expect_success 'slow headers: 408 after the header timeout' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n" | answered 408 --split 10 --pause 1.5
'

test_expect_success 'a slow body: 408 after the body timeout, nothing written' '
	printf "POST /api/v1/push HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 100\r\n\r\n{\"path\":" "$(auth)" |
		answered 408 --wait 5
'

test_expect_success 'pipelined garbage after a good request: the good one is answered, then 400' '
	printf "GET /api/v1/info HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n\026\003\001\000\245garbage\r\n\r\n" "$(auth)" |
		raw --responses 2 >got &&
	printf "200 -\n400 close\nclosed\n" >expect &&
	test_cmp expect got
'

test_expect_success 'invalid UTF-8 or a NUL in the request target: 400' '
	printf "GET /api/v1/\377\376 HTTP/1.1\r\nHost: x\r\n\r\n" | answered 400 &&
	printf "GET /api/v1/info\000 HTTP/1.1\r\nHost: x\r\n\r\n" | answered 400
'

# ---- crafted push bodies ----

test_expect_success 'invalid UTF-8 in a JSON string, or an overlong form: 400' '
	printf "{\"path\":\"D/\300\257\",\"sha256\":\"%s\",\"size\":4,\"base\":null}\n" "$HASH" >bad &&
	push_refused 400 bad &&
	printf "{\"path\":\"D/\355\240\200\",\"sha256\":\"%s\",\"size\":4,\"base\":null}\n" "$HASH" >bad &&
	push_refused 400 bad
'

test_expect_success 'deep JSON nesting: 400, and the server lives on' '
	python3 -c "import sys; sys.stdout.write(\"[\" * 60000 + \"]\" * 60000 + \"\n\")" >deep &&
	push_refused 400 deep &&
	python3 -c "import sys; sys.stdout.write(\"{\\\"path\\\":\" + \"[\" * 3000 + \"]\" * 3000 + \"}\n\")" >deep &&
	push_refused 400 deep &&
	test "$(api GET info)" = 200
'

test_expect_success 'duplicate keys, the second naming another path: 400' '
	printf "{\"path\":\"D/ok\",\"path\":\".soc/x\",\"sha256\":\"%s\",\"size\":4,\"base\":null}\n" "$HASH" >dup &&
	push_refused 400 dup &&
	printf "{\"path\":\"D/ok\",\"sha256\":\"%s\",\"size\":4,\"size\":5,\"base\":null}\n" "$HASH" >dup &&
	push_refused 400 dup
'

test_expect_success 'every path rule of DESIGN.md section 10: 400 naming the path' '
	long=$(python3 -c "print(\"x\" * 256)") &&
	longpath=$(python3 -c "print(\"/\".join([\"y\" * 200] * 21))") &&
	for p in "\"\"" "\"/etc/passwd\"" "\"..\"" "\"D/../../x\"" "\".\"" "\"D/./x\"" \
		"\"D//x\"" "\"D/\"" "\".soc\"" "\"D/.SOC/x\"" "\".Soc/config\"" "\"D\\\\x\"" \
		"\"D/\\u0001x\"" "\"D/\\u001fx\"" "\"D/\\u007fx\"" "\"D/x\\ny\"" \
		"\"$long\"" "\"D/$long\"" "\"$longpath\""; do
		line_at "$p" >bad &&
		push_refused 400 bad &&
		grep "\"error\"" out || return 1
	done
'

test_expect_success 'a refused path is named in the answer' '
	line_at "\"D/../../etc/passwd\"" >bad &&
	push_refused 400 bad &&
	grep "D/../../etc/passwd" out
'

test_expect_success 'after all that the head is untouched and soc serve check passes' '
	snap >after &&
	test_cmp before after &&
	soc serve check --root "$TRASH/r"
'

# ---- a symlink planted inside files/ by another process ----
# files/ is one node's: a cluster node keeps none, so there nothing is
# planted and the push below simply lands.

test_expect_success 'a symlinked directory planted in files/: the commit through it is 500, nothing written' '
	mkdir outside &&
	mkdir -p w/evil && echo pwnd >w/evil/x &&
	change evil/x w/evil/x >body &&
	if one_node; then
		ln -s "$TRASH/outside" "$TRASH/r/files/evil" &&
		push_begin body &&
		push_upload w &&
		test "$(push_commit)" = 500 &&
		grep "\"error\":\"files_tampered\"" out &&
		grep "\"paths\":\[\"evil/x\"\]" out &&
		grep "files/evil/x. leads through a symlink" r.log
	fi &&
	test -z "$(ls outside)" &&
	test "$(head_rev)" = 1
'

test_expect_success 'a planted symlink over a head file: pull and check name it, no read outside' '
	echo secret >outside/secret &&
	if one_node; then
		mv "$TRASH/r/files/D/one" one.saved &&
		ln -s "$TRASH/outside/secret" "$TRASH/r/files/D/one" &&
		test_expect_code 1 soc serve check --root "$TRASH/r" >check.out &&
		grep "^symlink: .files/D/one.$" check.out &&
		grep "^symlink: .files/evil.$" check.out &&
		mkdir got &&
		printf "D/one\0" | SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$TOKEN \
			rsync -rt -I --from0 --files-from=- -e "soc tunnel" soc::pull/ got/ ;
		! grep -r secret got
	else
		# A cluster node has no files/ to plant in, nor a module pull to read one.
		! test -e "$TRASH/r/files" &&
		printf "D/one\0" | SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$TOKEN \
			rsync -rt -I --from0 --files-from=- -e "soc tunnel" soc::pull/ got/ 2>err;
		grep "Unknown module" err && ! test -e got/D/one
	fi
'

test_expect_success 'with the links removed, the head is as before and soc serve check passes' '
	if one_node; then
		rm "$TRASH/r/files/D/one" "$TRASH/r/files/evil" &&
		mv one.saved "$TRASH/r/files/D/one"
	fi &&
	snap | grep -v "^staging/$TXN" >after &&
	test_cmp before after &&
	soc serve check --root "$TRASH/r"
'

test_expect_success 'and the same push, sent again, lands inside files/' '
	push_all w body &&
	t=$(server_tree "$TRASH/r") &&
	test "$(cat "$t/evil/x")" = pwnd &&
	test -d "$t/evil" && ! test -L "$t/evil" &&
	test -z "$(ls outside | grep -v secret)" &&
	soc serve check --root "$TRASH/r"
'

test_expect_success 'the server still serves, and reported nothing to the sanitizers' '
	test "$(api GET info)" = 200 &&
	! cat r.log $(one_node || echo r.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
