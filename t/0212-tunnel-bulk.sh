#!/bin/sh
# The rsync tunnel carries more than a pipe's worth each way: rsync hands
# `soc tunnel` a non-blocking descriptor, and a full one must be waited on,
# never taken for the end of the transfer.
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

test_done
