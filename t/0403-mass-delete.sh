#!/bin/sh
# An unmounted drive looks like every file deleted: push and pull refuse
# mass deletes unless --allow-delete, and the server keeps every file.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'twenty files pushed from a, pulled into b' '
	setup_two &&
	mkdir a/Photos &&
	for i in $(seq 20); do echo "photo $i" >a/Photos/p$i || return 1; done &&
	echo keep >a/other &&
	(cd a && soc add -r Photos -q && soc add other -q && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'with the tracked directory renamed away, push refuses' '
	mv a/Photos a/Photos.away &&
	test_expect_code 1 sh -c "cd a && soc push" 2>err &&
	grep "refusing to delete" err &&
	grep "Photos" err &&
	t=$(server_tree server) &&
	test $(ls "$t/Photos" | wc -l) = 20
'

test_expect_success 'push -n still shows what it would do, without refusing' '
	test_expect_code 1 sh -c "cd a && soc push -n" 2>err &&
	grep "allow-delete" err
'

test_expect_success 'with --allow-delete the deletes go through' '
	(cd a && soc push -q --allow-delete) &&
	t=$(server_tree server) &&
	! test -e "$t/Photos/p1" &&
	test -e "$t/other"
'

test_expect_success 'pull refuses the same mass delete coming from the server' '
	test_expect_code 1 sh -c "cd b && soc pull" 2>err &&
	grep "refusing to delete 20" err &&
	test $(ls b/Photos | wc -l) = 20
'

test_expect_success 'and pull --allow-delete applies it' '
	(cd b && soc pull -q --allow-delete) &&
	! test -e b/Photos/p1 &&
	test -e b/other
'

test_done
