#!/bin/sh
# A pull makes its downloads under .soc/incoming/ in directories marked
# for ext4 to spread over its block groups (FS_TOPDIR_FL, chattr +T):
# without the mark, a pull's new files all went to the few groups of its
# fresh directories, where the last pull's files had just been freed, and
# ext4 without a journal passes over each such inode to make a file. The
# mark is for incoming/ alone: a directory that moves whole into the
# workspace loses it, and the workspace's own directories never get it.
# SOC_TEST_SYNC_FAIL stops a pull after its apply, with incoming/ kept.
. "$(dirname "$0")/lib.sh"

# Has the directory the mark? (lsattr's first field holds a T.)
marked() {
	lsattr -d "$1" >attr 2>&1 && cut -d" " -f1 attr | grep -q T
}

test_expect_success_here 'setup: a/ pushes d/ with two directories; this filesystem takes the mark or not' '
	setup_two &&
	mkdir -p a/d/x a/d/y &&
	echo one >a/d/x/f &&
	echo one >a/d/x/g &&
	echo one >a/d/y/h &&
	(cd a && soc add -q -r d && soc push -q) &&
	mkdir probe &&
	if chattr +T probe 2>/dev/null && marked probe; then
		echo yes >takes
	else
		echo "# $(stat -f -c %T .) takes no directory mark: only its absence is checked" &&
		echo no >takes
	fi
'

test_expect_success 'a first pull moves d/ whole: none of its directories keeps the mark' '
	(cd b && soc pull -q) &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got &&
	! marked b/d &&
	! marked b/d/x &&
	! marked b/d/y
'

test_expect_success 'a pull stopped after its apply: incoming/ and its directories are marked' '
	echo two >>a/d/x/f &&
	mkdir a/d/z &&
	echo new >a/d/z/k &&
	(cd a && soc add -q d/z/k && soc push -q) &&
	test_expect_code 1 env SOC_TEST_SYNC_FAIL=1 sh -c "cd b && soc pull -q" 2>err &&
	grep "cannot make the pulled files durable" err &&
	test -d b/.soc/incoming/d/x &&
	test -d b/.soc/incoming/d/z &&
	if [ "$(cat takes)" = yes ]; then
		marked b/.soc/incoming &&
		marked b/.soc/incoming/d &&
		marked b/.soc/incoming/d/x &&
		marked b/.soc/incoming/d/z
	fi
'

test_expect_success 'the workspace directory that apply made has no mark; the next pull clears incoming/' '
	test_cmp a/d/z/k b/d/z/k &&
	! marked b/d/z &&
	! marked b/d/x &&
	(cd b && soc pull -q) &&
	! test -e b/.soc/incoming &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got
'

test_expect_success 'no sanitizer report' '
	! cat server.log $(one_node || echo server.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
