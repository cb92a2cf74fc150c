#!/bin/sh
# Every row of the three-way table of DESIGN.md section 7, with a real
# server and two workspaces, checking file contents on both sides.
# B = content last synced, L = local now, R = the server's.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a server and two workspaces in sync' '
	setup_two &&
	mkdir a/D &&
	for f in take keep same conf del keepnew restore; do echo "base $f" >a/D/$f || return 1; done &&
	(cd a && soc add -r D -q && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

# Each row: a makes the server side, b the local side, then b pulls.
test_expect_success_here 'the two sides change' '
	echo "theirs take" >a/D/take &&
	echo "both same" >a/D/same &&
	echo "theirs conf" >a/D/conf &&
	rm a/D/del &&
	rm a/D/keepnew &&
	echo "theirs restore" >a/D/restore &&
	echo "new y" >a/D/newfile &&
	echo "theirs nt" >a/D/nt &&
	echo "twin" >a/D/twin &&
	(cd a && soc push -q --allow-delete) &&
	echo "ours keep" >b/D/keep &&
	echo "both same" >b/D/same &&
	echo "ours conf" >b/D/conf &&
	echo "ours keepnew" >b/D/keepnew &&
	rm b/D/restore &&
	echo "ours nt" >b/D/nt &&
	echo "twin" >b/D/twin &&
	test_expect_code 4 sh -c "cd b && soc pull" 2>err
'

test_expect_success 'x x y: takes y' '
	test "$(cat b/D/take)" = "theirs take"
'

test_expect_success 'x y x: keeps y, and push will send it' '
	test "$(cat b/D/keep)" = "ours keep" &&
	(cd b && soc status --porcelain --offline) >out &&
	grep "^M D/keep$" out
'

test_expect_success 'x y y: records y as the base, nothing to push' '
	test "$(cat b/D/same)" = "both same" &&
	! grep "D/same" out
'

test_expect_success 'x y z: keeps y, writes z beside it, marks the conflict' '
	test "$(cat b/D/conf)" = "ours conf" &&
	ls b/D >names &&
	grep "^conf.conflict-r[0-9]*$" names &&
	test "$(cat b/D/conf.conflict-r*)" = "theirs conf" &&
	grep "^C D/conf$" out &&
	grep "conflict in .D/conf." err
'

test_expect_success 'x x gone: deletes here' '
	! test -e b/D/del &&
	! grep "D/del" out
'

test_expect_success 'x y gone: keeps y as a new file, and says so' '
	test "$(cat b/D/keepnew)" = "ours keepnew" &&
	grep "^A D/keepnew$" out &&
	grep "kept .D/keepnew." err
'

test_expect_success 'x gone y: restores y, and says so' '
	test "$(cat b/D/restore)" = "theirs restore" &&
	grep "restored .D/restore." err
'

test_expect_success 'none none y: takes y, and tracks it' '
	test "$(cat b/D/newfile)" = "new y" &&
	! grep "D/newfile" out
'

test_expect_success 'none y z: keeps y, writes z beside it, in conflict' '
	test "$(cat b/D/nt)" = "ours nt" &&
	test "$(cat b/D/nt.conflict-r*)" = "theirs nt" &&
	grep "^C D/nt$" out
'

test_expect_success 'none y y: same content, recorded, no conflict' '
	test "$(cat b/D/twin)" = twin &&
	! grep "D/twin" out &&
	! test -e b/D/twin.conflict-r*
'

test_expect_success 'push refuses with exit 4 while conflicts remain' '
	test_expect_code 4 sh -c "cd b && soc push" 2>err2 &&
	grep "conflict" err2 &&
	t=$(server_tree server) &&
	test "$(cat "$t/D/conf")" = "theirs conf"
'

test_expect_success 'soc add resolves; push sends the merge; the other side pulls it' '
	echo "merged conf" >b/D/conf &&
	rm b/D/conf.conflict-r* b/D/nt.conflict-r* &&
	(cd b && soc add D/conf D/nt -q && soc push -q) &&
	t=$(server_tree server) &&
	test "$(cat "$t/D/conf")" = "merged conf" &&
	test "$(cat "$t/D/keep")" = "ours keep" &&
	test "$(cat "$t/D/keepnew")" = "ours keepnew" &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'x gone x: a local delete stays and is pushed' '
	rm b/D/take &&
	(cd b && soc pull -q && soc push -q) &&
	! test -e b/D/take &&
	t=$(server_tree server) &&
	! test -e "$t/D/take" &&
	(cd a && soc pull -q) &&
	! test -e a/D/take
'

test_done
