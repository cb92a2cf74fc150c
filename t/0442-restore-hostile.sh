#!/bin/sh
# A server (or whoever answers in its place) that lists paths the rules
# refuse, or sends a blob longer than it said or other than its sha256,
# gets one clear error from soc restore, soc ls and soc log (exit 1), and
# nothing in the workspace changes: its lines are checked as pull checks
# the change stream. The server is versions_server.py.
. "$(dirname "$0")/lib.sh"

SHA=$(printf "old\n" | sha256sum | cut -d" " -f1)

# line PATH [SIZE]: a tree line for PATH holding "old\n".
line() {
	printf '{"path":"%s","sha256":"%s","size":%s,"mtime":1,"mode":420,"rev":1,"kept":true}\n' \
		"$1" "$SHA" "${2:-4}"
}

test_expect_success_here 'a versions server, and a workspace with one file' '
	mkdir srv &&
	python3 "$TEST_SRC/helper/versions_server.py" "$TRASH/srv" >url &
	SERVER_PIDS="$SERVER_PIDS $!" &&
	n=0 &&
	until [ -s url ]; do
		n=$((n + 1)) && [ $n -lt 100 ] || return 1
		sleep 0.05
	done &&
	SOC_TOKEN=0000 &&
	export SOC_TOKEN &&
	soc init w --remote "$(cat url)" -q &&
	echo now >w/f &&
	(cd w && soc add -q f) &&
	printf "old\n" >srv/blob
'

test_expect_success 'the control: a good tree and blob restore the file' '
	{ echo "{\"head\":1,\"rev\":1}" && line f; } >srv/tree &&
	(cd w && soc restore f --rev 1) 2>err &&
	test "$(cat w/f)" = old &&
	grep "kept your .f. as .f.restore-r1." err &&
	rm w/f.restore-r1 && echo now >w/f
'

for bad in ../escape .soc/config "a//b" /abs; do
	test_expect_success "a tree naming '$bad': exit 1, one line, nothing written" "
		{ echo '{\"head\":1,\"rev\":1}' && line f && line '$bad'; } >srv/tree &&
		before=\$(tree_sum w) &&
		test_expect_code 1 sh -c 'cd w && soc restore f --rev 1' 2>err &&
		test_line_count = 1 err &&
		grep 'refuse' err &&
		test_expect_code 1 sh -c 'cd w && soc ls --rev 1' 2>err &&
		grep 'refuse' err &&
		test \"\$(tree_sum w)\" = \"\$before\"
	"
done

test_expect_success 'a blob longer than its size, or other than its sha256: nothing changes' '
	{ echo "{\"head\":1,\"rev\":1}" && line f; } >srv/tree &&
	(cd w && soc status --porcelain --offline) >/dev/null &&
	before=$(tree_sum w) &&
	printf "old\nand more\n" >srv/blob &&
	test_expect_code 1 sh -c "cd w && soc restore f --rev 1" 2>err &&
	grep "more than the 4 bytes of .f." err &&
	printf "odd\n" >srv/blob &&
	test_expect_code 1 sh -c "cd w && soc restore f --rev 1" 2>err &&
	grep "other bytes for .f." err &&
	test "$(tree_sum w)" = "$before"
'

test_expect_success 'a history line without its time or rev is refused' '
	printf "{\"path\":\"f\",\"sha256\":\"%s\",\"size\":4,\"mode\":420,\"rev\":1,\"kept\":true}\n" "$SHA" \
		>srv/history &&
	test_expect_code 1 sh -c "cd w && soc log f" 2>err &&
	grep "refuse" err &&
	printf "{\"path\":\"f\",\"time\":1,\"sha256\":\"%s\",\"size\":4,\"mode\":420,\"kept\":true}\n" "$SHA" \
		>srv/history &&
	test_expect_code 1 sh -c "cd w && soc log f" 2>err &&
	grep "refuse" err
'

test_done
