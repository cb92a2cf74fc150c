#!/bin/sh
# soc serve run as its own user, as a daemon is: rsync's daemon cannot
# switch ids there, so changed files (the rsync tunnel) and pulls must
# work without uid/gid lines; and `soc serve token new` run by root beside
# it must leave the server its files, owned by the server's user.
. "$(dirname "$0")/lib.sh"

U=soc-t$$

# not_owned_by OWNER DIR: the files and directories under DIR that OWNER does not own.
not_owned_by() {
	find "$2" ! -user "$1" -print
}

test_expect_success_here 'a system user, and a place it can reach' '
	test_system_user "$U" &&
	chmod 0755 "$TRASH" &&
	mkdir srv && chown "$U:" srv &&
	SERVER_AS=$U && SERVER_BIN=$SOC &&
	if ! setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups test -x "$SOC"; then
		mkdir -m 0755 "$TRASH/userbin" &&
		cp "$SOC" "$TRASH/userbin/soc" &&
		SERVER_BIN=$TRASH/userbin/soc
	fi &&
	setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups test -x "$SERVER_BIN" &&
	setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups test -w "$TRASH/srv"
'

test_expect_success_here 'soc serve runs as that user; its rsyncd.conf names no uid or gid' '
	start_server "$TRASH/srv/root" &&
	test "$(stat -c %U "$TRASH/srv/root")" = "$U" &&
	test "$(stat -c %U "/proc/$SERVER_PID")" = "$U" &&
	! grep -E "^(uid|gid) *=" srv/root/rsyncd.conf srv/root/rsyncd-ro.conf &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init b --remote "$URL" -q
'

test_expect_success 'new files go up and come down in another workspace' '
	mkdir -p a/Data/sub &&
	echo one >a/Data/one &&
	seq 1 20000 >a/Data/sub/big &&
	(cd a && soc add -r Data -q && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'changed files go up through the rsync tunnel and come down' '
	echo changed >a/Data/one &&
	seq 5 20004 >a/Data/sub/big &&
	(cd a && soc push -q) &&
	test "$(cat srv/root/files/Data/one)" = changed &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	! grep -i "setgroups\|@ERROR" srv/root/rsyncd.log root.log
'

test_expect_success 'soc serve token new, run as root beside it, acts as the owner' '
	soc serve token new x --root "$TRASH/srv/root" >tok 2>err &&
	test_line_count = 1 tok &&
	grep "running as .$U. (uid $(id -u "$U"), gid $(id -g "$U")), the owner of " err &&
	soc serve token list --root "$TRASH/srv/root" >list 2>err &&
	grep "^x	read-write" list &&
	soc serve check --root "$TRASH/srv/root" 2>err &&
	grep "running as .$U." err &&
	not_owned_by "$U" srv/root >strays &&
	test_must_be_empty strays
'

test_expect_success 'the server goes on: changed files both ways, with the new token' '
	kill -0 $SERVER_PID &&
	echo again >b/Data/one &&
	seq 9 20008 >b/Data/sub/big &&
	(cd b && SOC_TOKEN=$(cat ../tok) soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test "$(cat srv/root/files/Data/one)" = again &&
	grep " x POST /api/v1/push " root.log &&
	not_owned_by "$U" srv/root >strays &&
	test_must_be_empty strays &&
	! grep -i "setgroups\|@ERROR\|sanitizer\|runtime error" srv/root/rsyncd.log root.log
'

test_done
