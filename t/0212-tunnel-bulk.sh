#!/bin/sh
# The rsync tunnel carries more than a pipe's worth each way: rsync hands
# `soc tunnel` a non-blocking descriptor, and a full one must be waited on,
# never taken for the end of the transfer. The process rsync waits for
# ends once the tunnel stands, and a child of it relays.
. "$(dirname "$0")/lib.sh"

# tunnel_rsync SRC DST < NUL-separated list: rsync as soc runs it.
tunnel_rsync() {
	SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$ADMIN_TOKEN \
		rsync -rt -I --from0 --files-from=- -e "soc tunnel" "$@"
}

test_expect_success_here 'a server with a few large files in its head directory' '
	start_server "$TRASH/r" &&
	mkdir "$TRASH/r/files/D" &&
	for i in 1 2 3 4; do
		head -c 3000000 /dev/urandom >"$TRASH/r/files/D/f$i" || return 1
	done
'

test_expect_success 'rsync pulls them whole through the tunnel' '
	mkdir got &&
	printf "D/f1\0D/f2\0D/f3\0D/f4\0" | tunnel_rsync soc::pull/ got/ &&
	for i in 1 2 3 4; do
		test "$(hash_of got/D/f$i)" = "$(hash_of "$TRASH/r/files/D/f$i")" || return 1
	done
'

test_expect_success 'and pushes them whole into a staging directory' '
	mkdir "$TRASH/r/staging/t1" &&
	printf "D/f1\0D/f2\0D/f3\0D/f4\0" | tunnel_rsync got/ soc::push/t1/ &&
	for i in 1 2 3 4; do
		test "$(hash_of got/D/f$i)" = "$(hash_of "$TRASH/r/staging/t1/D/f$i")" || return 1
	done &&
	rm -rf "$TRASH/r/staging/t1"
'

test_expect_success 'the tunnel rsync started ends once it stands; its relay goes on' '
	mkfifo in &&
	exec 8<>in &&
	{ (SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$ADMIN_TOKEN soc tunnel <in >out 2>err 8>&-
	   echo $? >status) 8>&- & } &&
	wait_exists status &&
	test "$(cat status)" = 0 &&
	printf "@RSYNCD: 32.0 md5\npull\n" >&8 &&
	n=0 &&
	while ! grep -q "^@RSYNCD: OK" out && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done &&
	grep "^@RSYNCD: OK" out &&
	test_must_be_empty err
'

test_done
