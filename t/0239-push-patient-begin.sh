#!/bin/sh
# A begin that works longer than the client waits for a byte (a million
# files to link into staging on a slow disk): soc push asks for patience
# by name ("Prefer: soc-patience"), its Accept having named NDJSON before
# patience was, and the server, past HTTP_PATIENCE_MS, answers 200 at
# once with an empty line every HTTP_PATIENCE_MS, then the answer: its
# first line with "status" first, the paths to send after it (PROTOCOL.md
# section 5). SOC_TEST_BEGIN_DELAY_MS makes each begin take seconds,
# SOC_TEST_NET_STALL_SECONDS=1 makes the client give up after one silent
# second, and SOC_TEST_HTTP_PATIENCE_MS sets the server's wait before its
# first empty line (0: at once). curl judges a stall by the bytes of the
# last five seconds or so, the request's body among them, so a begin must
# be silent for longer than that and the one second: 9 s (it gave up
# after 7 here).
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

DELAY_MS=9000

# serve NAME PATIENCE-MS DELAY-MS: serve_slow with SOC_TEST_BEGIN_DELAY_MS.
serve() {
	serve_slow "$1" "$2" SOC_TEST_BEGIN_DELAY_MS "$3"
}

# begins NAME: the statuses of NAME's begins, in its log, one a line.
begins() {
	sed -n "s|.* POST /api/v1/push \([0-9]*\) .*|\1|p" "$1.log"
}

# lines FILE: FILE's lines that are not empty, as a JSON array of the objects or strings they hold.
lines() {
	python3 -c "
import json, sys
print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))
" "$1"
}

test_expect_success_here 'four servers: patient, patient and quicker, patient at once, and one that never sends a byte early' '
	serve plain 10000 $DELAY_MS &&
	soc init c --remote "$URL" -q &&
	serve atonce 0 0 &&
	soc init d --remote "$URL" -q &&
	soc init e --remote "$URL" -q &&
	serve quicker 200 1000 &&
	serve server 200 $DELAY_MS &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init b --remote "$URL" -q
'

# Both pushes side by side: each waits out the same slow begin.
test_expect_success 'a begin silent past the client wait fails it without empty lines; with them it lands' '
	echo plain >c/f &&
	(cd c && soc add f -q) &&
	echo patient >a/f &&
	(cd a && soc add f -q) || return 1
	{
		env SOC_TOKEN="$(cat plain/admin.token)" SOC_TEST_NET_STALL_SECONDS=1 \
			sh -c "cd c && soc push" 2>err
		echo $? >code
	} &
	(cd a && SOC_TEST_NET_STALL_SECONDS=1 soc push) >out 2>&1 &&
	wait &&
	test "$(cat code)" = 5 &&
	grep "too slow" err &&
	! test -e plain/files/f &&
	echo "pushed 1 change as revision 1" >expect && test_cmp expect out &&
	test "$(begins server)" = 201 &&
	test "$(cat server/files/f)" = patient &&
	(cd b && soc pull -q) &&
	test "$(cat b/f)" = patient
'

test_expect_success 'by hand: the answer is 200 NDJSON, empty lines, then status 201 and the paths' '
	URL=$(cat quicker.url) TOKEN=$(cat quicker/admin.token) &&
	mkdir -p hand && echo by hand >hand/h && echo too >hand/i &&
	{ change h hand/h && change i hand/i; } >body &&
	code=$(api POST push -D head -H "Content-Type: application/x-ndjson" \
		-H "Accept: application/x-ndjson" -H "Prefer: soc-patience" --data-binary @body) &&
	test "$code" = 200 &&
	grep -i "^content-type: application/x-ndjson" head &&
	grep -i "^transfer-encoding: chunked" head &&
	test "$(grep -c "^\$" out)" -ge 2 &&
	lines out | python3 -c "
import json, sys
a = json.load(sys.stdin)
assert list(a[0]) == [\"status\", \"txn\"] and a[0][\"status\"] == 201, a
assert a[1:] == [\"h\", \"i\"], a
" &&
	test "$(begins quicker)" = 201
'

test_expect_success 'by hand: without the preference, or without NDJSON, a begin answers as before' '
	URL=$(cat atonce.url) TOKEN=$(cat atonce/admin.token) &&
	code=$(api POST push -D head -H "Content-Type: application/x-ndjson" \
		-H "Accept: application/x-ndjson" --data-binary @body) &&
	test "$code" = 201 &&
	grep -i "^content-type: application/x-ndjson" head &&
	lines out | python3 -c "
import json, sys
a = json.load(sys.stdin)
assert list(a[0]) == [\"txn\"] and a[1:] == [\"h\", \"i\"], a
" &&
	code=$(api POST push -D head -H "Content-Type: application/x-ndjson" \
		-H "Prefer: wait=5, soc-patience" --data-binary @body) &&
	test "$code" = 201 &&
	grep -i "^content-type: application/json" head &&
	python3 -c "
import json, sys
a = json.load(sys.stdin)
assert a[\"upload\"] == [\"h\", \"i\"], a
" <out
'

test_expect_success 'by hand, at once: a refusal is the first line, 409 with its paths' '
	URL=$(cat atonce.url) TOKEN=$(cat atonce/admin.token) &&
	mkdir -p moved && echo theirs >moved/m &&
	change m moved/m >first && push_all moved first &&
	echo mine >moved/m &&
	change m moved/m >second &&
	code=$(api POST push -D head -H "Content-Type: application/x-ndjson" \
		-H "Accept: application/x-ndjson" -H "Prefer: soc-patience" --data-binary @second) &&
	test "$code" = 200 &&
	lines out | python3 -c "
import json, sys
a = json.load(sys.stdin)
assert len(a) == 1 and list(a[0])[0] == \"status\" and a[0][\"status\"] == 409, a
assert a[0][\"paths\"] == [\"m\"], a
" &&
	test "$(begins atonce | tail -n 1)" = 409
'

test_expect_success 'the client reads a 409 from the first line: it says to pull first, and overwrites nothing' '
	SOC_TOKEN=$(cat atonce/admin.token) && export SOC_TOKEN &&
	echo from d >d/n && (cd d && soc add n -q && soc push -q) &&
	echo from e >e/n && (cd e && soc add n -q) &&
	test_expect_code 3 sh -c "cd e && soc push" 2>err &&
	grep "the server has newer versions of" err &&
	grep "soc pull.* first, then push again" err &&
	test "$(begins atonce | tail -n 1)" = 409 &&
	test "$(cat atonce/files/n)" = "from d" &&
	test "$(cat e/n)" = "from e"
'

test_done
