#!/bin/sh
# A pull takes its downloads by the fetch stream (POST /api/v1/fetch):
# a file with nothing here whole, one whose content here the server
# keeps as a delta against it, each hashed as it is written. rsync takes
# only what the stream does not: a big file with a basis here, a version
# the server no longer keeps, a record that is not its sha256. The same
# bytes, modes, mtimes and links arrive either way; a selective pull asks
# for nothing it ignores; a hostile answer places nothing.
. "$(dirname "$0")/lib.sh"

SERVER_LOG=$TRASH/server.log
# On a cluster either node may answer a fetch: both logs are read.
SERVER_LOGS=$SERVER_LOG
one_node || SERVER_LOGS="$SERVER_LOG $TRASH/server.n2.log"

# fetch_bytes FROM: the bytes of the fetch answers the server logged after
# line FROM (one line number a log, comma-separated, as log_lines says).
fetch_bytes() {
	set -- $(echo "$1" | tr , " ")
	for fb_log in $SERVER_LOGS; do
		tail -n "+$(($1 + 1))" "$fb_log"
		shift
	done |
		sed -n 's|.* POST /api/v1/fetch 200 \([0-9]*\) .*|\1|p' | awk '{ s += $1 } END { print s + 0 }'
}

log_lines() {
	for ll_log in $SERVER_LOGS; do
		wc -l <"$ll_log"
	done | paste -sd,
}

# fetch_answer [TOKEN]: POST fetch with the body on stdin; the answer's bytes to out, the status printed.
fetch_answer() {
	curl -s -o out -w "%{http_code}" -H "Authorization: Bearer ${1:-$ADMIN_TOKEN}" \
		-H "Content-Type: text/plain" --data-binary @- "$URL/api/v1/fetch"
}

test_expect_success_here 'a/ pushes 300 small files, an executable dated one, an empty one, a 5 MiB one and a link' '
	setup_two &&
	python3 - a/t <<-\EOP &&
	import os, sys
	for i in range(300):
	    d = os.path.join(sys.argv[1], "d%d" % (i // 100))
	    os.makedirs(d, exist_ok=True)
	    with open(os.path.join(d, "f%03d" % i), "wb") as f:
	        f.write(os.urandom(1000 + 13 * i))
	EOP
	printf "#!/bin/sh\necho hi\n" >a/t/run &&
	chmod 755 a/t/run &&
	touch -d "2019-03-04 05:06:07 UTC" a/t/run &&
	: >a/t/empty &&
	dd if=/dev/urandom of=a/t/big.bin bs=1M count=5 2>/dev/null &&
	ln -s d0/f000 a/t/link &&
	(cd a && soc add -q -r t && soc push -q) &&
	wrap_rsync
'

test_expect_success 'b/ pulls all of it by the fetch stream, no rsync: the same bytes, modes, mtimes, link' '
	from=$(log_lines) &&
	(cd b && soc pull -q) &&
	test "$(client_rsyncs)" = 0 &&
	test "$(fetch_bytes $from)" -gt 5000000 &&
	ws_sum a >want && ws_sum b >got && test_cmp want got &&
	test "$(stat -c "%a %Y" b/t/run)" = "$(stat -c "%a %Y" a/t/run)" &&
	test "$(stat -c %a b/t/d0/f000)" = "$(stat -c %a a/t/d0/f000)" &&
	test "$(readlink b/t/link)" = d0/f000 &&
	(cd b && soc status --porcelain) >out && test_must_be_empty out &&
	! test -e b/.soc/incoming/t
'

test_expect_success 'an edit of every small file comes as deltas: a fraction of the bytes' '
	for f in a/t/d*/f*; do echo "edit one" >>"$f"; done &&
	(cd a && soc push -q) &&
	from=$(log_lines) &&
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) &&
	test "$(client_rsyncs)" = 0 &&
	sent=$(fetch_bytes $from) &&
	total=$(cat a/t/d*/f* | wc -c) &&
	test_figure "fetch answers: $sent bytes for $total bytes of changed files" &&
	test "$sent" -gt 0 && test $((sent * 20)) -lt "$total" &&
	ws_sum a >want && ws_sum b >got && test_cmp want got &&
	(cd b && soc status --porcelain) >out && test_must_be_empty out
'

test_expect_success 'an edit of the 5 MiB file (past a delta the server makes) goes by rsync, the rest by fetch' '
	printf "%4096s" edited | dd of=a/t/big.bin bs=4096 seek=300 conv=notrunc 2>/dev/null &&
	echo "edit two" >>a/t/d1/f150 &&
	(cd a && soc push -q) &&
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) &&
	test "$(client_rsyncs)" = 1 &&
	ws_sum a >want && ws_sum b >got && test_cmp want got
'

# Only one node has a files/ beside versions/, rsync's source when a
# version is gone or wrong; on a cluster the blobs are the head itself
# (views link them), so there the blobs stay whole and the pull is the
# fetch stream's.
test_expect_success 'a version the server no longer keeps, and one whose kept bytes are wrong: rsync takes them' '
	echo "edit three" >>a/t/d0/f010 &&
	echo "edit three" >>a/t/d2/f220 &&
	(cd a && soc push -q) &&
	gone=$(hash_of a/t/d0/f010) &&
	bad=$(hash_of a/t/d2/f220) &&
	gone_blob=$TRASH/server/versions/$(echo "$gone" | cut -c1-2)/$gone &&
	bad_blob=$TRASH/server/versions/$(echo "$bad" | cut -c1-2)/$bad &&
	if one_node; then
		rm "$gone_blob" &&
		cp "$bad_blob" tmp && printf X | dd of=tmp bs=1 seek=5 conv=notrunc 2>/dev/null && mv tmp "$bad_blob"
	fi &&
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) &&
	if one_node; then
		test "$(client_rsyncs)" = 1 &&
		grep -- "--files-from" "$TRASH/rsync.calls"
	fi &&
	ws_sum a >want && ws_sum b >got && test_cmp want got &&
	if one_node; then
		ln -f "$TRASH/server/files/t/d0/f010" "$gone_blob" &&
		ln -f "$TRASH/server/files/t/d2/f220" "$bad_blob"
	fi &&
	soc serve check --root "$TRASH/server" >out 2>&1 || { cat out >&2; false; }
'

test_expect_success 'a link here that the server made a file: nothing read through it' '
	mkdir outside &&
	echo secret >outside/secret &&
	(cd b/t && rm d0/f001 && ln -s "$TRASH/outside/secret" d0/f001) &&
	(cd b && soc push -q) && (cd a && soc pull -q) && test -L a/t/d0/f001 &&
	(cd a/t && rm d0/f001 && echo "a file again" >d0/f001) &&
	(cd a && soc push -q) &&
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) &&
	test "$(client_rsyncs)" = 0 &&
	! test -L b/t/d0/f001 && test "$(cat b/t/d0/f001)" = "a file again" &&
	test "$(cat outside/secret)" = secret
'

test_expect_success 'c/ ignores big.bin: its first pull never asks for it' '
	soc init c --remote "$URL" -q &&
	printf "big.bin\n" >c/.socignore &&
	from=$(log_lines) &&
	(cd c && soc pull -q) &&
	! test -e c/t/big.bin &&
	test "$(cat c/t/d1/f150)" = "$(cat a/t/d1/f150)" &&
	test "$(fetch_bytes $from)" -lt 1000000
'

test_expect_success 'POST fetch: each line a sha256, or two; an unknown one is a record of no content' '
	unknown=$(printf unknown | sha256sum | cut -c1-64) &&
	test "$(echo "$unknown" | fetch_answer)" = 200 &&
	test "$(od -An -tx1 out | tr -d " \n")" = 4e0000000000000000 &&
	want=$(hash_of a/t/d1/f150) &&
	test "$(echo "$want" | fetch_answer)" = 200 &&
	test "$(head -c 1 out)" = F &&
	tail -c +10 out | cmp - a/t/d1/f150 &&
	test "$(echo "$want $unknown" | fetch_answer)" = 200 &&
	test "$(head -c 1 out)" = F &&
	test "$(echo "$want zz" | fetch_answer)" = 400 &&
	grep "a sha256, a space and the sha256 of the base" out &&
	test "$(printf "%s" "$want" | fetch_answer)" = 400 &&
	test "$(echo "$want" | tr a-f A-F | fetch_answer)" = 400 &&
	test "$(: | fetch_answer)" = 400 &&
	python3 -c "print(\"$want\\n\" * 4097, end=\"\")" >many &&
	test "$(fetch_answer <many)" = 400 &&
	grep "more lines than one fetch may have (4096)" out &&
	test "$(echo "$want" | fetch_answer nosuchtoken)" = 401
'

test_expect_success 'a read-only token fetches too' '
	soc serve token new reader --read-only --root "$TRASH/server" >rtok &&
	ro=$(tail -n 1 rtok) &&
	test -n "$ro" &&
	test "$(hash_of a/t/d1/f150 | fetch_answer "$ro")" = 200 &&
	tail -c +10 out | cmp - a/t/d1/f150
'

# On a cluster node 2 is stopped too, so that start_server starts both
# nodes anew: with the cut, then without.
test_expect_success_here 'the server dies after 5 records of its answer: the pull fails (exit 5), places nothing' '
	stop_server "$SERVER_PID" &&
	{ one_node || stop_server "$(cat server.n2.pid)"; } &&
	SOC_TEST_FETCH_CUT=5 &&
	export SOC_TEST_FETCH_CUT &&
	start_server "$TRASH/server" &&
	unset SOC_TEST_FETCH_CUT &&
	soc init d --remote "$URL" -q &&
	test_expect_code 5 sh -c "cd d && soc pull -q" 2>err &&
	test_line_count = 1 err &&
	test -z "$(find d -path d/.soc -prune -o -type f -print)" &&
	! find d/.soc/incoming -type f 2>/dev/null | grep .
'

test_expect_success_here 'once the server answers whole again, the same pull brings everything' '
	stop_server "$SERVER_PID" &&
	{ one_node || stop_server "$(cat server.n2.pid)"; } &&
	start_server "$TRASH/server" &&
	sed -i "s|^remote = .*|remote = $URL|" d/.soc/config &&
	(cd d && soc pull -q) &&
	ws_sum a >want && ws_sum d >got && test_cmp want got
'

# The hostile server lists one file, f ("hi\n"), and refuses the rsync tunnel.
test_expect_success_here 'h/, a workspace of the hostile server' '
	: >answers &&
	start_hostile answers &&
	soc init h --remote "$HOSTILE" -q
'

for kind in fetchlong fetchother fetchnone fetchdelta; do
test_expect_success "a fetch answered with $kind: the pull exits 5, one message, nothing placed" '
	echo "fetch $kind" >answers &&
	: >requests &&
	test_expect_code 5 sh -c "cd h && soc pull -q" 2>err &&
	test_line_count = 1 err &&
	grep "POST /api/v1/fetch" requests &&
	! test -e h/f &&
	! find h/.soc/incoming -type f 2>/dev/null | grep .
'
done

test_done
