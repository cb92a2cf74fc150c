#!/bin/sh
# A pull makes what it wrote durable (an fsync a path, or one syncfs past
# 64) before its index records the server's content as synced: otherwise
# a power cut could leave a file empty that the index calls synced, and
# the next push would send it over the server's. SOC_TEST_SYNC_FAIL makes
# that step fail: the pull must then record nothing, say why, exit 1,
# and the next pull must record what is already here.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'b/ holds f and g at their first version; a/ pushes a second' '
	setup_two &&
	mkdir a/d &&
	echo one >a/d/f &&
	echo one >a/g &&
	(cd a && soc add -q -r d g && soc push -q) &&
	(cd b && soc pull -q) &&
	echo two >>a/d/f &&
	echo two >>a/g &&
	(cd a && soc push -q)
'

test_expect_success 'the sync fails: exit 1, the files are here, the index records nothing' '
	test_expect_code 1 env SOC_TEST_SYNC_FAIL=1 sh -c "cd b && soc pull -q" 2>err &&
	grep "cannot make the pulled files durable" err &&
	test_cmp a/d/f b/d/f &&
	test_cmp a/g b/g &&
	(cd b && soc status --porcelain) >st &&
	printf "M d/f\nM g\n" >want &&
	test_cmp want st
'

test_expect_success 'the next pull records them: nothing to send, nothing in conflict' '
	(cd b && soc pull -q) &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st &&
	ls b/d b >ls &&
	! grep conflict ls
'

test_expect_success 'no sanitizer report' '
	! cat server.log $(one_node || echo server.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
