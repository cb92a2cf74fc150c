#!/bin/sh
# soc status and the server: one GET /api/v1/info says whether the server
# has revisions newer than the last pull. The server is a real soc serve;
# until push exists, its head is moved with sqlite3 as bench/fill-db.sh
# does. A server that cannot be reached costs one line on stderr.
. "$(dirname "$0")/lib.sh"

set_head() {
	sqlite3 "$TRASH/server/soc.db" "UPDATE meta SET value = $1 WHERE key = 'head'"
}

test_expect_success_here 'setup: a server and a workspace with a new file' '
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init -q ws --remote "$URL" &&
	echo a >ws/a &&
	(cd ws && soc add a -q)
'

test_expect_success 'a server with nothing new: no extra line' '
	(cd ws && soc status >../out 2>../err) &&
	grep "new: *a" out &&
	! grep pull out &&
	test_must_be_empty err
'

test_expect_success 'status asks the server once, with GET /api/v1/info' '
	before=$(grep -c "GET /api/v1/info" "$TRASH/server.log") &&
	(cd ws && soc status >/dev/null) &&
	after=$(grep -c "GET /api/v1/info" "$TRASH/server.log") &&
	test $((after - before)) = 1
'

test_expect_success 'newer revisions on the server: a line naming the count and soc pull' '
	set_head 3 &&
	(cd ws && soc status >../out 2>../err) &&
	grep "^the server has 3 new revisions; run '\''soc pull'\''$" out &&
	test_must_be_empty err
'

test_expect_success 'the count is from the last pulled revision' '
	sqlite3 ws/.soc/index.db "INSERT INTO state VALUES ('\''pulled_rev'\'', 2)" &&
	(cd ws && soc status >../out) &&
	grep "^the server has 1 new revision; run '\''soc pull'\''$" out
'

test_expect_success '--porcelain: stdout holds only the paths, the news goes to stderr' '
	(cd ws && soc status --porcelain >../out 2>../err) &&
	echo "A a" >want &&
	test_cmp want out &&
	grep "1 revision not pulled yet" err
'

test_expect_success '--offline asks nothing' '
	before=$(grep -c "GET /api/v1/info" "$TRASH/server.log") &&
	(cd ws && soc status --offline >../out 2>../err) &&
	after=$(grep -c "GET /api/v1/info" "$TRASH/server.log") &&
	test "$before" = "$after" &&
	! grep pull out &&
	test_must_be_empty err
'

test_expect_success 'SOC_TOKEN wins over the token in the config' '
	echo "token = wrong" >>ws/.soc/config &&
	(cd ws && soc status >../out 2>../err) &&
	test_must_be_empty err &&
	grep "1 new revision" out
'

test_expect_success 'a wrong token: local changes shown, one line on stderr, exit 0' '
	(cd ws && SOC_TOKEN= soc status >../out 2>../err) &&
	grep "new: *a" out &&
	test_line_count = 1 err &&
	grep "refused the token" err
'

test_expect_success 'no token at all: the same' '
	soc init -q nt --remote "$URL" &&
	(cd nt && SOC_TOKEN= soc status --porcelain >../out 2>../err) &&
	test_must_be_empty out &&
	test_line_count = 1 err &&
	grep "no token" err
'

test_expect_success_here 'the server gone: local changes shown, one line on stderr, exit 0' '
	stop_server "$SERVER_PID" &&
	(cd ws && soc status >../out 2>../err) &&
	grep "new: *a" out &&
	test_line_count = 1 err &&
	grep "cannot reach the server" err &&
	(cd ws && soc status --porcelain >../out 2>../err) &&
	echo "A a" >want &&
	test_cmp want out &&
	test_line_count = 1 err
'

test_expect_success 'no remote configured: nothing is asked, nothing said' '
	soc init -q local && echo x >local/x &&
	(cd local && soc add x -q && soc status >../out 2>../err) &&
	test_must_be_empty err
'

test_done
