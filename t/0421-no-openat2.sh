#!/bin/sh
# Where the kernel has no openat2 (before 5.6, or a seccomp filter), soc
# opens paths below a root by a walk with O_NOFOLLOW (beneath.c). With
# SOC_TEST_NO_OPENAT2 on both sides, push and pull still place every file,
# make and prune directories, write conflict copies, and refuse a
# symlinked directory as openat2 would: nothing lands outside.
. "$(dirname "$0")/lib.sh"

SOC_TEST_NO_OPENAT2=1
export SOC_TEST_NO_OPENAT2

test_expect_success_here 'a server and two workspaces, all without openat2' '
	setup_two &&
	mkdir outside
'

test_expect_success 'push and pull nested directories and a top file' '
	mkdir -p a/Data/sub/deep a/Other &&
	echo one >a/Data/one &&
	echo two >a/Data/sub/two &&
	echo four >a/Data/sub/deep/four &&
	echo other >a/Other/o &&
	echo top >a/top &&
	(cd a && soc add -r Data Other top -q && soc push -q) &&
	t=$(server_tree server) && test "$(cat "$t/Data/sub/deep/four")" = four &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	soc serve check --root "$TRASH/server"
'

test_expect_success 'a new directory under a known one, edits and deletes both ways' '
	mkdir -p b/Data/sub/new &&
	echo five >b/Data/sub/new/five &&
	echo "one, edited" >b/Data/one &&
	rm b/Data/sub/deep/four &&
	(cd b && soc push -q) &&
	t=$(server_tree server) && ! test -e "$t/Data/sub/deep" &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	! test -e a/Data/sub/deep &&
	soc serve check --root "$TRASH/server"
'

test_expect_success 'an edit on both sides: the server'\''s version in a conflict copy' '
	echo "two, from a" >a/Data/sub/two &&
	(cd a && soc push -q) &&
	echo "two, from b" >b/Data/sub/two &&
	test_expect_code 4 sh -c "cd b && soc pull -q" &&
	test "$(cat b/Data/sub/two)" = "two, from b" &&
	test "$(cat b/Data/sub/two.conflict-r*)" = "two, from a" &&
	(cd b && soc add Data/sub/two -q && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(cat a/Data/sub/two)" = "two, from b"
'

test_expect_success 'a symlinked directory in the way of a pull: refused, nothing outside' '
	mv b/Other b/Other.real &&
	ln -s "$TRASH/outside" b/Other &&
	echo new >a/Other/new &&
	(cd a && soc add Other/new -q && soc push -q) &&
	test_expect_code 1 sh -c "cd b && soc pull" 2>err &&
	grep "cannot pull .Other/new.: .Other. here is not a directory; move it away, then pull again" err &&
	test -z "$(ls outside)"
'

test_expect_success 'soc add through a symlinked directory names the link' '
	echo x >outside/x &&
	test_must_fail sh -c "cd b && soc add Other/x" 2>err &&
	grep "cannot add .Other/x.: a directory on its way is a symbolic link" err
'

test_done
