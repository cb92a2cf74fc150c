#!/bin/sh
# soc serve's foot-guns, each shown gone: the default root is an absolute
# state directory; token and check commands never make a root; a bad
# --listen makes nothing; a second server on a root is refused; an open
# root is tightened; log lines carry a time and the token's name; SIGHUP
# does not stop the server.
. "$(dirname "$0")/lib.sh"

U=soc-t$$

# Run a command as $U: env VAR=... $AS_USER CMD...
AS_USER=

# refused OUTPUT ROOT: one line naming ROOT that says how to make it.
refused() {
	test_line_count = 1 "$1" &&
	grep "'$2'.*start 'soc serve --root $2' once to create it" "$1"
}

test_expect_success_here 'a system user whose HOME is in the trash' '
	test_system_user "$U" &&
	AS_USER="setpriv --reuid=$(id -u "$U") --regid=$(id -g "$U") --clear-groups" &&
	chmod 0755 "$TRASH" &&
	mkdir home && chown "$U:" home &&
	# A checkout under a private directory (mktemp -d) is out of $U'"'"'s reach.
	if ! $AS_USER test -x "$SOC"; then
		mkdir -m 0755 "$TRASH/userbin" &&
		cp "$SOC" "$TRASH/userbin/soc" &&
		SOC=$TRASH/userbin/soc
	fi &&
	$AS_USER test -x "$SOC" &&
	$AS_USER test -w "$TRASH/home"
'

test_expect_success 'the usage names the absolute defaults' '
	soc serve --help >out &&
	grep "default /var/lib/soc as root" out &&
	grep "XDG_DATA_HOME/soc or ~/.local/share/soc" out
'

test_expect_success 'without --root, soc serve makes $XDG_DATA_HOME/soc, wherever it starts' '
	mkdir elsewhere && chmod 0755 elsewhere &&
	(cd elsewhere &&
	 exec env HOME="$TRASH/home" XDG_DATA_HOME="$TRASH/home/data" $AS_USER \
		"$SOC" serve --listen 127.0.0.1:0) 2>xdg.log &
	echo $! >xdg.pid &&
	test_when_finished "kill -KILL $(cat xdg.pid) 2>/dev/null || :" &&
	n=0 && while ! grep -q "listening on" xdg.log && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done &&
	stop_server $(cat xdg.pid) &&
	grep "created the token .admin.; it is in .$TRASH/home/data/soc/admin.token." xdg.log &&
	test -f home/data/soc/soc.db &&
	test "$(stat -c %a home/data)" = 700 &&
	test "$(stat -c %U home/data/soc)" = "$U" &&
	test -z "$(ls -A elsewhere)" &&
	(cd / && env HOME="$TRASH/home" XDG_DATA_HOME="$TRASH/home/data" $AS_USER \
		"$SOC" serve token list) >list &&
	grep "^admin	" list
'

test_expect_success 'XDG_DATA_HOME unset or relative: ~/.local/share/soc' '
	test_expect_code 1 env HOME="$TRASH/home" XDG_DATA_HOME=rel/dir $AS_USER "$SOC" serve check 2>err &&
	refused err "$TRASH/home/.local/share/soc" &&
	test_expect_code 1 env -u XDG_DATA_HOME HOME="$TRASH/home" $AS_USER "$SOC" serve token new y 2>err &&
	refused err "$TRASH/home/.local/share/soc" &&
	! test -e home/.local
'

test_expect_success 'every token and check command refuses a missing root, making nothing' '
	for cmd in "token new x" "token list" "token revoke x" "check"; do
		test_expect_code 1 soc serve $cmd --root "$TRASH/nowhere" >out 2>err &&
		test_must_be_empty out &&
		refused err "$TRASH/nowhere" &&
		grep "no soc server root at" err &&
		! test -e nowhere || return 1
	done
'

test_expect_success 'and a directory that is not a soc root, leaving it empty' '
	mkdir empty &&
	for cmd in "token new x" "token list" "token revoke x" "check"; do
		test_expect_code 1 soc serve $cmd --root "$TRASH/empty" >out 2>err &&
		refused err "$TRASH/empty" &&
		grep "is not a soc server root (no soc.db)" err &&
		test -z "$(ls -A empty)" || return 1
	done
'

test_expect_success 'token new without --root makes no server' '
	test_expect_code 1 env HOME="$TRASH/home" XDG_DATA_HOME="$TRASH/home/new" $AS_USER \
		"$SOC" serve token new x >out 2>err &&
	test_must_be_empty out &&
	refused err "$TRASH/home/new/soc" &&
	! test -e home/new
'

test_expect_success 'a bad --listen is refused before anything is made' '
	for l in nocolon 127.0.0.1: 127.0.0.1:99999 127.0.0.1:-1 127.0.0.1:http "[::1]:x" \
		192.0.2.1:8717; do
		test_expect_code 1 soc serve --root "$TRASH/fresh" --listen "$l" 2>err &&
		test_line_count = 1 err &&
		grep "listen" err &&
		! test -e fresh || return 1
	done
'

test_expect_success_here 'a port in use: refused, nothing made' '
	start_server "$TRASH/r" &&
	test_expect_code 1 soc serve --root "$TRASH/fresh" --listen "${URL#http://}" 2>err &&
	grep "cannot listen on .${URL#http://}.: Address already in use" err &&
	! test -e fresh
'

test_expect_success 'a second server on the same root: refused (one line), the first goes on' '
	test_expect_code 1 timeout 30 soc serve --root "$TRASH/r" --listen 127.0.0.1:0 2>err &&
	test_line_count = 1 err &&
	grep "another soc serve runs on .*/r.; stop it first" err &&
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >/dev/null &&
	soc serve token list --root "$TRASH/r" >/dev/null
'

test_expect_success 'a log line: time, peer, token name, method, path, status, bytes, time taken' '
	soc serve token new alice --root "$TRASH/r" >alice &&
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >/dev/null &&
	curl -sf -H "Authorization: Bearer $(cat alice)" "$URL/api/v1/changes?since=0" >/dev/null &&
	curl -s -H "Authorization: Bearer nottoken" "$URL/api/v1/info" >/dev/null &&
	grep "^$LOG_STAMP soc serve: 127\.0\.0\.1:[0-9]* admin GET /api/v1/info 200 [0-9]* [0-9]*ms$" r.log &&
	grep "^$LOG_STAMP soc serve: 127\.0\.0\.1:[0-9]* alice GET /api/v1/changes 200 [0-9]* [0-9]*ms$" r.log &&
	grep "^$LOG_STAMP soc serve: 127\.0\.0\.1:[0-9]* - GET /api/v1/info 401 [0-9]* [0-9]*ms$" r.log &&
	! grep "$ADMIN_TOKEN" r.log &&
	! grep "$(cat alice)" r.log &&
	! grep nottoken r.log
'

test_expect_success 'every server line starts with the time, errors included' '
	curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN_TOKEN" \
		"$URL/api/v1/push/0123456789abcdef0123456789abcdef" &&
	soc serve --root "$TRASH/r2" --listen 127.0.0.1:99999 2>bad.log;
	grep "^$LOG_STAMP soc serve: invalid listen address" bad.log &&
	grep "^$LOG_STAMP soc serve: listening on http://127.0.0.1:[0-9]*$" r.log &&
	grep -v "^$LOG_STAMP soc serve: " r.log bad.log >stray;
	test_must_be_empty stray &&
	now=$(date -u +%s) &&
	first=$(head -n 1 r.log | cut -d" " -f1) &&
	t=$(date -u -d "$first" +%s) &&
	test $((now - t)) -ge 0 && test $((now - t)) -lt 600
'

test_expect_success 'SIGHUP is logged and ignored: the server goes on' '
	kill -HUP $SERVER_PID &&
	n=0 && while ! grep -q "SIGHUP ignored" r.log && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done &&
	grep "^$LOG_STAMP soc serve: SIGHUP ignored: nothing to reopen" r.log &&
	kill -0 $SERVER_PID &&
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >/dev/null
'

test_expect_success_here 'an open root is tightened at start, one line for each thing' '
	stop_server $SERVER_PID &&
	chmod 0755 r &&
	chmod 0644 r/soc.db r/admin.token r/rsyncd.conf r/rsyncd-ro.conf r/rsyncd.log &&
	chmod 0660 r/rsyncd.log &&
	start_server "$TRASH/r" &&
	grep "^$LOG_STAMP soc serve: .$TRASH/r. was open to other users (0755); it is now 0700$" r.log &&
	for f in soc.db admin.token rsyncd.conf rsyncd-ro.conf; do
		grep "^$LOG_STAMP soc serve: .$TRASH/r/$f. was open to other users (0644); it is now 0600$" r.log ||
		return 1
	done &&
	grep "rsyncd.log. was open to other users (0660); it is now 0600$" r.log &&
	test "$(stat -c %a r)" = 700 &&
	for f in soc.db admin.token rsyncd.conf rsyncd-ro.conf rsyncd.log; do
		test "$(stat -c %a r/$f)" = 600 || return 1
	done &&
	test $(grep -c "was open to other users" r.log) = 6
'

test_expect_success_here 'a new root is private from the start: nothing to tighten' '
	start_server "$TRASH/r3" &&
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >/dev/null &&
	test "$(stat -c %a r3)" = 700 &&
	find r3 -maxdepth 1 -type f ! -perm 0600 >open &&
	test_must_be_empty open &&
	stop_server $SERVER_PID &&
	start_server "$TRASH/r3" &&
	! grep "was open to other users" r3.log
'

test_done
