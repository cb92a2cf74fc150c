#!/bin/sh
# soc sync (issue 17): a pull and then a push in one command, one exit
# code. A conflict stops it before the push (exit 4); a push refused
# because another landed between the two pulls and pushes again.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a server and two workspaces' '
	setup_two
'

test_expect_success 'sync sends what is new here and brings what is new there' '
	mkdir a/Data b/Data &&
	echo x >a/Data/x &&
	echo y >a/Data/y &&
	(cd a && soc add -q -r Data && soc sync -q) &&
	t=$(server_tree server) && test "$(cat "$t/Data/x")" = x &&
	(cd b && soc add -q -r Data && soc sync) 2>err &&
	grep "pulled to revision 1" err &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'edits on both sides to other files: each sync takes one and sends one' '
	echo x2 >a/Data/x &&
	echo z >b/Data/z &&
	(cd a && soc sync -q) &&
	(cd b && soc sync -q) &&
	test "$(cat b/Data/x)" = x2 &&
	(cd a && soc sync -q) &&
	test "$(cat a/Data/z)" = z &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	(cd a && soc sync) 2>err &&
	grep "already up to date" err &&
	grep "everything up to date" err
'

test_expect_success 'an edit on both sides of one file: exit 4, a copy, nothing pushed' '
	echo mine-a >a/Data/y &&
	echo mine-b >b/Data/y &&
	(cd a && soc sync -q) &&
	test_expect_code 4 sh -c "cd b && soc sync -q" &&
	test "$(cat b/Data/y)" = mine-b &&
	test "$(cat b/Data/y.conflict-r4)" = mine-a &&
	t=$(server_tree server) && test "$(cat "$t/Data/y")" = mine-a
'

test_expect_success 'resolved and added, the next sync sends it' '
	rm b/Data/y.conflict-r4 &&
	(cd b && soc add -q Data/y && soc sync -q) &&
	t=$(server_tree server) && test "$(cat "$t/Data/y")" = mine-b &&
	(cd a && soc sync -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

# b's pull is held inside its rsync until a has pushed: b's push is then refused.
test_expect_success 'a push landing between the pull and the push: sync pulls again' '
	real=$(command -v rsync) &&
	mkdir -p wrap &&
	cat >wrap/rsync <<-EOS &&
	#!/bin/sh
	if [ -e "$TRASH/block" ]; then
		rm -f "$TRASH/block"
		: >"$TRASH/started"
		i=0
		while [ ! -e "$TRASH/go" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
	fi
	exec "$real" "\$@"
	EOS
	chmod +x wrap/rsync &&
	echo x3 >a/Data/x &&
	(cd a && soc push -q) &&
	echo b-edit >b/Data/z &&
	: >block &&
	(cd b && PATH=$TRASH/wrap:$PATH SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc sync >../out 2>../err; echo $? >../rc) &
	bpid=$! &&
	i=0 &&
	while [ ! -e started ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done &&
	test -e started &&
	echo a-edit >a/Data/z &&
	(cd a && soc push -q) &&
	: >go &&
	wait $bpid &&
	test "$(cat rc)" = 4 &&
	grep "another push landed meanwhile; pulling again" err &&
	test "$(cat b/Data/x)" = x3 &&
	test "$(cat b/Data/z)" = b-edit &&
	ls b/Data/z.conflict-r* &&
	t=$(server_tree server) && test "$(cat "$t/Data/z")" = a-edit
'

test_expect_success 'sync takes no paths and no unknown option: exit 2' '
	test_expect_code 2 sh -c "cd a && soc sync Data" 2>err &&
	head -n 1 err | grep "takes no paths" &&
	test_expect_code 2 sh -c "cd a && soc sync --force" 2>err &&
	grep "unknown option" err
'

test_done
