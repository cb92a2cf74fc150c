#!/bin/sh
# Whatever answers an upgrade request in place of soc serve's 101 (a
# proxy that dropped 'Upgrade', one that speaks HTTP/2, a web server, a
# closed connection, garbage): the push (upload stream and rsync tunnel)
# and the pull end with one line on stderr naming the likely proxy, exit
# 5, no sanitizer report, and no file of the workspace changed. The
# server is hostile_server.py, told what to answer by t/answers. Then
# the answers net.c meets that are not soc's: a web server's 404, a
# proxy's 413, TLS spoken to a plain-HTTP port.
. "$(dirname "$0")/lib.sh"

# A push's small changed file goes by rsync here, as a bigger one would: the tunnel is what is tested.
SOC_TEST_PUSH_CHANGED_BY_RSYNC=1
export SOC_TEST_PUSH_CHANGED_BY_RSYNC

hint="a proxy in front of soc serve may not pass 'Upgrade' (see contrib/nginx-soc.conf)"

test_expect_success_here 'a workspace a with f synced through soc serve, b empty; then the hostile server' '
	setup_two &&
	echo hi >a/f &&
	(cd a && soc add -q f && soc push -q) &&
	: >answers &&
	start_hostile answers &&
	sed -i "s|^remote = .*|remote = $HOSTILE|" a/.soc/config b/.soc/config &&
	echo new >a/g &&
	echo changed >>a/f &&
	(cd a && soc add -q g) &&
	ws_sum a >a.sum &&
	ws_sum b >b.sum
'

# check_one WHAT KIND PATTERN: the command in the workspace (push in a,
# pull in b) with TARGET answered by KIND: exit 5, one line matching
# PATTERN and naming the proxy, no file changed.
check_one() {
	ws=$1 cmd=$2 target=$3 kind=$4 pattern=$5
	echo "$target $kind" >answers &&
	: >requests &&
	test_expect_code 5 sh -c "cd $ws && soc $cmd -q" 2>err &&
	cat err &&
	test_line_count = 1 err &&
	grep "the server at .$HOSTILE. " err &&
	grep "$pattern" err &&
	grep -F "$hint" err &&
	ws_sum $ws >now.sum &&
	test_cmp $ws.sum now.sum
}

for kind in 400json 400html 200 502html close h2settings h2preface garbage badstatus; do
	case $kind in
	400json) p="answered the upgrade with 400 (not 101): the rsync tunnel needs" ;;
	400html) p="answered the upgrade with 400 (not 101) and a body that is not soc's" ;;
	200) p="answered the upgrade with 200 (not 101) and a body that is not soc's" ;;
	502html) p="answered the upgrade with 502 (not 101) and a body that is not soc's" ;;
	close) p="closed the connection without answering the upgrade" ;;
	h2settings) p="answered the upgrade with an HTTP/2 frame, not HTTP/1.1" ;;
	h2preface) p="answered the upgrade with the HTTP/2 preface, not HTTP/1.1" ;;
	garbage) p="answered the upgrade with bytes that are not HTTP, not HTTP/1.1" ;;
	badstatus) p="answered the upgrade with a status line that is not HTTP" ;;
	esac
	test_expect_success "upload stream answered with $kind: push exits 5, one line" "
		printf 'f\ng\n' >upload &&
		check_one a push upload $kind \"$p\" &&
		grep 'POST /api/v1/push/.*/upload' requests &&
		! grep 'POST /api/v1/rsync' requests &&
		grep 'DELETE /api/v1/push/' requests
	"
	test_expect_success "rsync tunnel answered with $kind: push exits 5, one line, no rsync noise" "
		echo f >upload &&
		check_one a push rsync $kind \"$p\" &&
		grep 'POST /api/v1/rsync' requests
	"
	test_expect_success "rsync tunnel answered with $kind: pull exits 5, one line, nothing written" "
		check_one b pull rsync $kind \"$p\" &&
		grep 'POST /api/v1/rsync' requests &&
		! test -e b/f
	"
done

for kind in 404endpoint 503json; do
	test_expect_success "an upload answered $kind (an older or busy soc): rsync carries the files" "
		printf 'f\ng\n' >upload &&
		printf 'upload $kind\nrsync 400json\n' >answers &&
		: >requests &&
		test_expect_code 5 sh -c 'cd a && soc push -q' 2>err &&
		test_line_count = 1 err &&
		grep 'answered the upgrade with 400 (not 101): the rsync tunnel needs' err &&
		grep 'POST /api/v1/push/.*/upload' requests &&
		grep 'POST /api/v1/rsync' requests
	"
done

test_expect_success 'an upload answered with soc JSON 404 for its push keeps its meaning: exit 1' '
	printf "f\ng\n" >upload &&
	printf "upload 404json\n" >answers &&
	: >requests &&
	test_expect_code 1 sh -c "cd a && soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "refused the upload (404): no such push" err &&
	! grep "POST /api/v1/rsync" requests
'

test_expect_success 'a commit answered with soc JSON 404 keeps its meaning: exit 1' '
	printf "commit 404json\n" >answers &&
	: >upload &&
	(cd a && soc rm -q g && soc rm -q f) &&
	test_expect_code 1 sh -c "cd a && soc push -q --allow-delete" 2>err &&
	test_line_count = 1 err &&
	grep "the server refused the commit (404): no such push" err &&
	(cd a && soc add -q f g)
'

test_expect_success 'a push answered 413 by a proxy (HTML): names its body limit, exit 5' '
	printf "push 413html\n" >answers &&
	test_expect_code 5 sh -c "cd a && soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "refused a request of [0-9]* bytes as too large (413), and not in soc.s words" err &&
	grep "client_max_body_size; see contrib/nginx-soc.conf" err
'

test_expect_success 'soc serve'"'"'s own 413 (JSON) keeps its message: exit 1' '
	printf "push 413json\n" >answers &&
	test_expect_code 1 sh -c "cd a && soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "the server refused the push (413): the push lists more than soc takes" err
'

test_expect_success_here 'a web server that is not soc (python http.server)' '
	mkdir web &&
	(cd web && exec python3 -u -m http.server --bind 127.0.0.1 0 >../web.out 2>/dev/null) &
	SERVER_PIDS="$SERVER_PIDS $!" &&
	n=0 &&
	until grep -q "port" web.out 2>/dev/null; do
		n=$((n + 1)) && [ $n -lt 200 ] || return 1
		sleep 0.05
	done &&
	WEB=http://127.0.0.1:$(sed -n "s/.* port \([0-9]*\).*/\1/p" web.out) &&
	soc init w --remote "$WEB/soc" -q &&
	echo x >w/x &&
	(cd w && soc add -q x)
'

for cmd in push pull log; do
	test_expect_success "soc $cmd to a web server: not a soc server, exit 5" "
		test_expect_code 5 sh -c 'cd w && soc $cmd' 2>err &&
		test_line_count = 1 err &&
		grep \"not a soc server at '$WEB/soc' (\" err
	"
done

test_expect_success 'https to soc serve'"'"'s plain-HTTP port: says it does not speak TLS there, exit 5' '
	tls=$(echo "$URL" | sed "s|^http:|https:|") &&
	soc init t --remote "$tls" -q &&
	echo x >t/x &&
	(cd t && soc add -q x) &&
	for cmd in pull push; do
		test_expect_code 5 sh -c "cd t && soc $cmd -q" 2>err &&
		test_line_count = 1 err &&
		grep "the server at .$tls. does not speak TLS on that port" err &&
		grep "try http:// or check the port" err || return 1
	done
'

test_done
