#!/bin/sh
# A conflict copy is never written over. A pull that placed one and then
# stopped before recording the conflict (here: its sync fails) leaves the
# copy behind; the next pull at the same revision finds it. Unchanged, it
# stands as it is; edited meanwhile (a user merging by hand), it is the
# user's, and the server's version goes beside it under the next name.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'b/ edits two files a/ has changed on the server' '
	setup_two &&
	mkdir a/D &&
	echo base >a/D/f.txt &&
	echo base >a/D/noext &&
	(cd a && soc add -q -r D && soc push -q) &&
	(cd b && soc pull -q) &&
	echo theirs >a/D/f.txt &&
	echo theirs >a/D/noext &&
	(cd a && soc push -q) &&
	echo mine >b/D/f.txt &&
	echo mine >b/D/noext
'

test_expect_success 'a pull that fails after writing the conflict copies leaves them' '
	test_expect_code 1 env SOC_TEST_SYNC_FAIL=1 sh -c "cd b && soc pull -q" 2>err &&
	grep "cannot make the pulled files durable" err &&
	test "$(cat b/D/f.conflict-r2.txt)" = theirs &&
	test "$(cat b/D/noext.conflict-r2)" = theirs
'

test_expect_success 'failing again at the same revision, it finds them as they were: no second copy' '
	test_expect_code 1 env SOC_TEST_SYNC_FAIL=1 sh -c "cd b && soc pull -q" 2>err &&
	(cd b/D && ls) >names &&
	printf "%s\n" f.conflict-r2.txt f.txt noext noext.conflict-r2 >want &&
	test_cmp want names
'

test_expect_success 'the user edits one copy: the next pull keeps that, and writes the server'"'"'s beside it' '
	echo "my merge" >b/D/f.conflict-r2.txt &&
	test_expect_code 4 sh -c "cd b && soc pull -q" 2>err &&
	grep "the server'"'"'s is in '"'"'D/f.conflict-r2-2.txt'"'"'" err &&
	test "$(cat b/D/f.conflict-r2.txt)" = "my merge" &&
	test "$(cat b/D/f.conflict-r2-2.txt)" = theirs &&
	test "$(cat b/D/noext.conflict-r2)" = theirs &&
	! test -e b/D/noext.conflict-r2-2 &&
	test "$(cat b/D/f.txt)" = mine &&
	(cd b && soc status --porcelain) >st &&
	printf "C D/f.txt\nC D/noext\n" >want &&
	test_cmp want st
'

test_expect_success 'resolved and pushed, the other side gets the merge; no copy is sent' '
	cat b/D/f.conflict-r2.txt >>b/D/f.txt &&
	(cd b && soc add -q D/f.txt D/noext && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(cat a/D/f.txt)" = "$(printf "mine\nmy merge")" &&
	test "$(cat a/D/noext)" = mine &&
	t=$(server_tree server) &&
	! ls "$t/D" | grep conflict
'

test_expect_success 'no sanitizer report' '
	! cat server.log $(one_node || echo server.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
