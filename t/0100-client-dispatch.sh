#!/bin/sh
# The client commands in the dispatch table: names, links, help, usage errors.
. "$(dirname "$0")/lib.sh"

test_expect_success 'soc --list links add and status (and serve), not init or rm' '
	soc --list >list &&
	grep -x add list &&
	grep -x status list &&
	grep -x serve list &&
	! grep -x init list &&
	! grep -x rm list
'

test_expect_success 'init, add, rm and status each have a usage' '
	for c in init add rm status; do
		soc help $c >out && grep "^usage: soc $c" out &&
		soc $c --help >out2 && test_cmp out out2 || return 1
	done
'

test_expect_success 'soc_add and soc_status run add and status' '
	soc init -q ws &&
	echo a >ws/a &&
	(cd ws && soc_add a && soc_status --porcelain >../out) &&
	echo "A a" >want &&
	test_cmp want out
'

test_expect_success 'soc_add --help is the usage of add' '
	soc_add --help >out &&
	grep "^usage: soc add" out
'

test_expect_success 'a command that needs a workspace, outside one, exits 1 and says so' '
	mkdir -p outside &&
	(cd outside && test_expect_code 1 soc status 2>err && grep "not in a soc workspace" err) &&
	(cd outside && test_expect_code 1 soc add x 2>err && grep "not in a soc workspace" err) &&
	(cd outside && test_expect_code 1 soc rm x 2>err && grep "not in a soc workspace" err)
'

test_expect_success 'an unknown option exits 2 with the usage' '
	cd ws &&
	test_expect_code 2 soc status --frob 2>err &&
	grep "unknown option" err &&
	grep "^usage: soc status" err &&
	test_expect_code 2 soc add -x a 2>err &&
	grep "^usage: soc add" err &&
	test_expect_code 2 soc init --remote 2>err &&
	grep "needs a value" err
'

test_expect_success 'add and rm with no path, status with one, exit 2' '
	cd ws &&
	test_expect_code 2 soc add 2>err && grep "nothing to add" err &&
	test_expect_code 2 soc rm 2>err && grep "nothing to remove" err &&
	test_expect_code 2 soc status a 2>err && grep "takes no paths" err
'

test_expect_success 'push, pull, log: a usage error before a missing remote, which is 1' '
	cd ws &&
	test_expect_code 2 soc push x 2>err && grep "takes no paths" err &&
	test_expect_code 2 soc pull --resync x 2>err && grep "takes no paths" err &&
	test_expect_code 2 soc log -n 0 2>err && grep "number from 1" err &&
	test_expect_code 2 soc push --bogus 2>err &&
	for c in push pull log; do
		test_expect_code 1 soc $c 2>err && grep "no remote configured" err || return 1
	done
'

test_done
