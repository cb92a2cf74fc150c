#!/bin/sh
# A file appended to in a loop while soc push runs: the server's head never
# names content other than what is in its files/, and the push carries one
# consistent version or retries.
. "$(dirname "$0")/lib.sh"

head_hash() {
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/changes?since=0" |
	python3 -c '
import json, sys
for line in sys.stdin:
    row = json.loads(line)
    if row.get("path") == sys.argv[1]:
        print(row.get("sha256", "deleted"))
' "$1"
}

test_expect_success_here 'a server and a workspace' '
	setup_two &&
	head -c 3000000 /dev/urandom >a/grow &&
	(cd a && soc add grow -q && soc push -q)
'

test_expect_success 'pushes during appends: head and files/ always agree' '
	for round in 1 2 3 4 5; do
		(i=0; while [ $i -lt 400 ]; do echo "line $round $i" >>a/grow; i=$((i + 1)); done) &
		appender=$!
		(cd a && soc push -q) 2>>push.err
		code=$?
		wait $appender
		case $code in 0|1) ;; *) echo "push exit $code" >&2; return 1;; esac
		t=$(server_tree server) &&
		test "$(head_hash grow)" = "$(hash_of "$t/grow")" || return 1
	done &&
	(cd a && soc push -q) &&
	t=$(server_tree server) &&
	test "$(hash_of a/grow)" = "$(hash_of "$t/grow")" &&
	test "$(head_hash grow)" = "$(hash_of a/grow)"
'

test_done
