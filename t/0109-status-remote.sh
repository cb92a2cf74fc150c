#!/bin/sh
# soc status and the server: one GET /api/v1/info says whether the server
# has revisions newer than the last pull. The server is a real soc serve
# whose head moves by real pushes from a second workspace. A server that
# cannot be reached, or takes the connection and never answers, costs one
# line on stderr.
. "$(dirname "$0")/lib.sh"

# push_from WS FILE: one revision, pushed from WS, that adds a line to FILE.
push_from() {
	echo "$2" >>"$1/$2" &&
	(cd "$1" && soc add "$2" -q && soc push -q)
}

test_expect_success_here 'setup: a server and a workspace with a new file' '
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init -q ws --remote "$URL" &&
	soc init -q other --remote "$URL" &&
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
	push_from other x &&
	push_from other y &&
	push_from other x &&
	(cd ws && soc status >../out 2>../err) &&
	grep "^the server has 3 new revisions; run '\''soc pull'\''$" out &&
	test_must_be_empty err
'

test_expect_success 'the count is from the last pulled revision' '
	(cd ws && soc pull -q && soc status >../out) &&
	! grep pull out &&
	push_from other z &&
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

# A server that takes the connection and then says nothing: status gives
# up after NET_QUICK_MS (2 s), not the 60 s stall timeout of a transfer.
# The bound below is that 2 s with room for a loaded machine.
QUICK_BOUND_MS=8000

test_expect_success 'a server that never answers: local changes, one warning, exit 0 in a few seconds' '
	cat >silent.py <<-\EOF &&
	import socket
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen(16)
	print(s.getsockname()[1], flush=True)
	held = []
	while True:
	    held.append(s.accept()[0])
	EOF
	test -s silent.py || return 1
	# On a line of its own, so that only python3 runs in the background.
	python3 silent.py >port &
	pid=$! &&
	test_when_finished "kill $pid" &&
	n=0 &&
	while ! test -s port && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done &&
	soc init -q silent --remote "http://127.0.0.1:$(cat port)" &&
	echo s >silent/s &&
	(cd silent && soc add s -q) &&
	start=$(date +%s%N) &&
	(cd silent && timeout 120 soc status >../out 2>../err) &&
	ms=$((($(date +%s%N) - start) / 1000000)) &&
	echo "status took $ms ms" &&
	test "$ms" -lt "$QUICK_BOUND_MS" &&
	grep "new: *s" out &&
	test_line_count = 1 err &&
	grep "cannot reach the server at .*timed out" err
'

test_expect_success 'no remote configured: nothing is asked, nothing said' '
	soc init -q local && echo x >local/x &&
	(cd local && soc add x -q && soc status >../out 2>../err) &&
	test_must_be_empty err
'

test_done
