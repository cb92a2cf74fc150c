#!/bin/sh
# A commit that works longer than the client waits for a byte
# (NET_STALL_SECONDS; a proxy's read timeout the same): soc push asks for
# NDJSON, and the server, past HTTP_PATIENCE_MS, answers 200 at once with
# an empty line every HTTP_PATIENCE_MS and the outcome as the last line,
# {"status":S,...} (PROTOCOL.md section 5). SOC_TEST_APPLY_DELAY_MS makes
# each commit take seconds, SOC_TEST_NET_STALL_SECONDS=1 makes the client
# give up after one silent second, and SOC_TEST_HTTP_PATIENCE_MS sets the
# server's wait before its first empty line (0: at once).
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

DELAY_MS=1500

# serve NAME PATIENCE-MS DELAY-MS: serve_slow with SOC_TEST_APPLY_DELAY_MS.
serve() {
	serve_slow "$1" "$2" SOC_TEST_APPLY_DELAY_MS "$3"
}

# commits NAME: the statuses of NAME's commits, in its log, one a line.
commits() {
	sed -n "s|.* POST /api/v1/push/[0-9a-f]*/commit \([0-9]*\) .*|\1|p" "$1.log"
}

test_expect_success_here 'three servers: patient, patient at once, and one that never sends a byte early' '
	serve plain 10000 $DELAY_MS &&
	soc init c --remote "$URL" -q &&
	serve atonce 0 0 &&
	soc init d --remote "$URL" -q &&
	serve server 200 $DELAY_MS &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init b --remote "$URL" -q
'

test_expect_success 'a commit silent past the client wait fails it without empty lines' '
	echo plain >c/f &&
	(cd c && soc add f -q) &&
	test_expect_code 5 env SOC_TOKEN="$(cat plain/admin.token)" SOC_TEST_NET_STALL_SECONDS=1 \
		sh -c "cd c && soc push" 2>err &&
	grep "too slow" err &&
	n=0 && while ! commits plain | grep -q 200 && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done &&
	test "$(commits plain)" = 200 &&
	SOC_TOKEN="$(cat plain/admin.token)" sh -c "cd c && soc push" >out 2>&1 &&
	grep "landed before it was cut off" out
'

test_expect_success 'with them the same commit lands, and the client says so' '
	echo patient >a/f &&
	(cd a && soc add f -q && SOC_TEST_NET_STALL_SECONDS=1 soc push) >out 2>&1 &&
	echo "pushed 1 change as revision 1" >expect && test_cmp expect out &&
	test "$(commits server)" = 200 &&
	test "$(cat server/files/f)" = patient &&
	(cd b && soc pull -q) &&
	test "$(cat b/f)" = patient
'

test_expect_success 'by hand: the answer is 200 NDJSON, empty lines, then the outcome with its status' '
	URL=$(cat server.url) TOKEN=$ADMIN_TOKEN &&
	mkdir -p hand && echo by hand >hand/h &&
	change h hand/h >body &&
	push_begin body && push_upload hand &&
	code=$(api POST "push/$TXN/commit" -D head -H "Accept: application/x-ndjson") &&
	test "$code" = 200 &&
	grep -i "^content-type: application/x-ndjson" head &&
	grep -i "^transfer-encoding: chunked" head &&
	test "$(grep -c "^\$" out)" -ge 2 &&
	tail -n 1 out | python3 -c "
import json, sys
a = json.loads(sys.stdin.read())
assert list(a)[0] == \"status\" and a[\"status\"] == 200 and a[\"rev\"] == 2, a
" &&
	test "$(commits server | tail -n 1)" = 200
'

test_expect_success 'by hand, at once: a staged mismatch is the last line, 422; without Accept a plain 422' '
	URL=$(cat atonce.url) TOKEN=$(cat atonce/admin.token) &&
	mkdir -p other && echo not what was named >other/h &&
	change h hand/h >body &&
	push_begin body && push_upload other &&
	code=$(api POST "push/$TXN/commit" -D head -H "Accept: application/x-ndjson") &&
	test "$code" = 200 &&
	grep -i "^content-type: application/x-ndjson" head &&
	tail -n 1 out | python3 -c "
import json, sys
a = json.loads(sys.stdin.read())
assert a[\"status\"] == 422 and a[\"error\"] == \"staged_mismatch\" and a[\"paths\"] == [\"h\"], a
" &&
	test "$(commits atonce)" = 422 &&
	code=$(push_commit) &&
	test "$code" = 422 &&
	json_get error <out >got && echo staged_mismatch >expect && test_cmp expect got &&
	test -z "$(ls atonce/files)"
'

test_expect_success 'the client reads a 422 from the last line (longer than a plain one): it scans again and lands' '
	real=$(command -v rsync) &&
	mkdir -p wrap2 &&
	cat >wrap2/rsync <<-EOS &&
	#!/bin/sh
	# Once, as soc push starts its rsync: the file changes after the scan.
	case "\$*" in *soc::push/*)
		if ! [ -e "$TRASH/changed" ]; then : >"$TRASH/changed"; echo changed >>"$TRASH/d/g"; fi;;
	esac
	exec "$real" "\$@"
	EOS
	chmod +x wrap2/rsync &&
	echo first >d/g && (cd d && soc add g -q) &&
	(cd d && SOC_TOKEN=$(cat ../atonce/admin.token) SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) &&
	echo second >d/g &&
	(cd d && PATH=$TRASH/wrap2:$PATH SOC_TOKEN=$(cat ../atonce/admin.token) \
		SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push) >out 2>&1 &&
	test -e changed &&
	grep "changed while being sent" out &&
	grep "pushed 1 change" out &&
	commits atonce | tail -n 3 >got &&
	printf "%s\n" 200 422 200 >expect && test_cmp expect got &&
	sed -n "s|.* POST /api/v1/push/[0-9a-f]*/commit 422 \([0-9]*\) .*|\1|p" atonce.log >sizes &&
	test_line_count = 3 sizes &&
	test "$(sed -n 3p sizes)" -gt "$(sed -n 2p sizes)" &&
	test "$(cat atonce/files/g)" = "$(cat d/g)" &&
	printf "second\nchanged\n" >expect && test_cmp expect atonce/files/g
'

test_done
