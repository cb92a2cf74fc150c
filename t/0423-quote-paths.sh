#!/bin/sh
# Every path a person sees is quoted as soc status quotes it: a file
# named with a C1 control (U+009B, CSI to many terminals) is synced like
# any other, but pull -n, push -n, the conflict and keep messages and the
# warnings about names soc refuses (C0 controls, bytes that are not
# UTF-8) show it escaped, never as raw bytes.
. "$(dirname "$0")/lib.sh"

CSI=$(printf 'csi\302\233[31m.txt')
SHOWN='csi\302\233[31m.txt'
CONFLICT="conflict in '$SHOWN': kept yours, the server's is in 'csi\\302\\233[31m.conflict-r2.txt'"
KEPT="kept '$SHOWN': edited here and deleted on the server"

# no_raw FILE: FILE holds no control byte but newline and no byte past 0x7e.
no_raw() {
	! LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f-\xff]' "$1"
}

test_expect_success_here 'a server and two workspaces; a file with a C1 name pushed' '
	setup_two &&
	echo one >"a/$CSI" &&
	(cd a && soc add "$CSI" -q && soc push -q) &&
	t=$(server_tree server) && test -f "$t/$CSI"
'

test_expect_success 'pull -n lists it quoted as status does' '
	(cd b && soc pull -n) >out 2>err &&
	cat out err >all &&
	no_raw all &&
	grep -F "\"$SHOWN\"" out
'

test_expect_success 'push -n lists it quoted' '
	(cd b && soc pull -q) &&
	echo two >"b/$CSI" &&
	(cd b && soc push -n) >out 2>err &&
	cat out err >all &&
	no_raw all &&
	grep -Fx "M \"$SHOWN\"" out
'

test_expect_success 'a conflict on it: the message shows it and its copy escaped' '
	echo theirs >"a/$CSI" &&
	(cd a && soc push -q) &&
	echo ours >"b/$CSI" &&
	test_expect_code 4 sh -c "cd b && soc pull" >out 2>err &&
	cat out err >all &&
	no_raw all &&
	grep -F "$CONFLICT" err &&
	test "$(cat "b/$CSI")" = ours
'

test_expect_success 'kept on a delete: escaped' '
	(cd b && rm csi*.conflict-r2.txt && soc add "$CSI" -q && soc push -q) &&
	(cd a && soc pull -q && soc rm "$CSI" -q && soc push -q) &&
	echo "ours again" >"b/$CSI" &&
	(cd b && soc pull) >out 2>err &&
	cat out err >all &&
	no_raw all &&
	grep -F "$KEPT" all
'

test_expect_success 'names soc refuses (ESC, a raw C1 byte) are warned about escaped' '
	mkdir b/d &&
	echo x >"b/d/$(printf "esc\033[2Jname")" &&
	echo y >"b/d/$(printf "raw\233name")" &&
	(cd b && soc add -r d && soc status) >out 2>err &&
	cat out err >all &&
	no_raw all &&
	grep -F "skipping '\''d/esc\\033[2Jname'\''" err &&
	grep -F "skipping '\''d/raw\\233name'\''" err
'

test_done
