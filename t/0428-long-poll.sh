#!/bin/sh
# GET /api/v1/changes?since=R&wait=S, the long poll soc watch is built on
# (issue 17): answered when a commit passes R or S seconds pass; parked in
# the server's event loop, so 1,000 of them cost descriptors, not threads
# nor CPU, and a push from another client lands beside them at once.
. "$(dirname "$0")/lib.sh"

POLLS=1000

# changes QUERY: GET /api/v1/changes?QUERY with the admin token; the body on stdout.
changes() {
	curl -sS -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/changes?$1"
}

test_expect_success_here 'a server holding revision 1' '
	setup_two &&
	echo one >a/one &&
	(cd a && soc add -q one && soc push -q)
'

test_expect_success 'a poll past the head waits for the next commit and brings it' '
	t0=$(date +%s) &&
	{ changes "since=1&wait=30" >got & } &&
	pid=$! &&
	sleep 0.5 &&
	kill -0 $pid &&
	echo two >a/two &&
	(cd a && soc add -q two && soc push -q) &&
	wait $pid &&
	test $(($(date +%s) - t0)) -lt 10 &&
	head -n 1 got | grep "\"head\":2" &&
	grep "\"path\":\"two\"" got &&
	! grep "\"path\":\"one\"" got
'

test_expect_success 'a poll the head has passed already answers at once' '
	changes "since=1&wait=30" >got &&
	grep "\"path\":\"two\"" got
'

test_expect_success 'a poll nobody answers ends after its seconds, with the head only' '
	t0=$(date +%s) &&
	changes "since=2&wait=1" >got &&
	t1=$(date +%s) &&
	test_line_count = 1 got &&
	grep "\"head\":2" got &&
	test $((t1 - t0)) -le 3
'

test_expect_success 'a bad wait: 400, one line' '
	for w in -1 abc 301 1.5; do
		curl -sS -o body -w "%{http_code}\n" -H "Authorization: Bearer $ADMIN_TOKEN" \
			"$URL/api/v1/changes?since=2&wait=$w" >code &&
		test "$(cat code)" = 400 &&
		grep "wait must be seconds, 0 to 300" body || return 1
	done
'

test_expect_success "$POLLS parked polls: no thread, no CPU; a push lands at once; each hears of it" '
	python3 - "$URL" "$ADMIN_TOKEN" "$SERVER_PID" "$POLLS" "$TRASH" >poll.out 2>&1 <<-\EOP ||
	import os, resource, select, socket, subprocess, sys, time
	url, token, pid, n, trash = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
	hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
	resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
	host, port = url.split("//")[1].split(":")
	def threads():
	    return len(os.listdir("/proc/%d/task" % pid))
	def cpu():
	    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
	    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
	before = threads()
	req = ("GET /api/v1/changes?since=2&wait=120 HTTP/1.1\r\nHost: x\r\n"
	       "Authorization: Bearer %s\r\n\r\n" % token).encode()
	socks = []
	for i in range(n):
	    s = socket.create_connection((host, int(port)))
	    s.sendall(req)
	    socks.append(s)
	time.sleep(1)
	r, _, _ = select.select(socks, [], [], 0)
	assert not r, "%d polls answered before any commit" % len(r)
	assert threads() == before, "threads %d before, %d with the polls" % (before, threads())
	c0 = cpu(); time.sleep(3); c1 = cpu()
	print("server CPU over 3 s with %d parked: %.2f s" % (n, c1 - c0))
	assert c1 - c0 < 0.1, "the server spent %.2f s of CPU idle" % (c1 - c0)
	t0 = time.time()
	subprocess.run(["sh", "-c", "cd %s/b && echo three >three && soc add -q three && soc push -q" % trash], check=True)
	took = time.time() - t0
	print("push beside %d parked polls: %.3f s" % (n, took))
	# Against a push held up by the polls (a thread or a wake-up each), not a speed: sanitized, beside another suite, it took over 1 s.
	assert took < 3.0, "the push took %.3f s" % took
	got = 0
	deadline = time.time() + 30
	pending = {s: b"" for s in socks}
	while pending and time.time() < deadline:
	    r, _, _ = select.select(list(pending), [], [], 1)
	    for s in r:
	        d = s.recv(65536)
	        pending[s] += d
	        if b"\"path\":\"three\"" in pending[s] or not d:
	            assert b"\"path\":\"three\"" in pending[s], pending[s][:200]
	            del pending[s]
	            got += 1
	print("polls answered with the push: %d of %d" % (got, n))
	assert got == n
	EOP
	{ cat poll.out; false; } &&
	cat poll.out &&
	grep "polls answered with the push: $POLLS of $POLLS" poll.out
'

test_expect_success_here 'a poller that leaves is closed; SIGTERM answers the parked and exits 0' '
	port=${URL##*:} &&
	{ curl -sS -m 1 -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/changes?since=3&wait=60" ||
	  test $? = 28; } &&
	sleep 0.5 &&
	test "$(ss -Htn state established "( sport = :$port )" | wc -l)" = 0 &&
	{ changes "since=3&wait=60" >got & } &&
	pid=$! &&
	sleep 0.5 &&
	test "$(ss -Htn state established "( sport = :$port )" | wc -l)" = 1 &&
	kill -TERM $SERVER_PID &&
	wait $pid &&
	grep "\"head\":3" got &&
	wait $SERVER_PID
'

test_done
