#!/bin/sh
# .socignore at the root, gitignore-style, and what is always ignored.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	soc init -q ws &&
	mkdir -p ws/Data/build ws/Data/src/build ws/Data/logs ws/Data/docs/sub &&
	echo a >ws/Data/a.txt &&
	echo l >ws/Data/x.log &&
	echo k >ws/Data/keep.log &&
	echo o >ws/Data/build/out.o &&
	echo o >ws/Data/src/build/out.o &&
	echo s >ws/Data/src/main.c &&
	echo l >ws/Data/logs/keep.log &&
	echo d >ws/Data/docs/a.md &&
	echo d >ws/Data/docs/sub/b.md &&
	echo t >ws/Data/top.tmp &&
	cat >ws/.socignore <<-\EOF
	# comments and blank lines say nothing

	*.log
	!keep.log
	build/
	logs/
	!logs/keep.log
	/Data/docs/*.md
	Data/top.tmp
	EOF
'

test_expect_success 'ignored files are never listed' '
	(cd ws && soc add -r Data -q && soc status --porcelain >../out) &&
	cat >want <<-\EOF &&
	A Data/a.txt
	A Data/docs/sub/b.md
	A Data/keep.log
	A Data/src/main.c
	EOF
	test_cmp want out
'

test_expect_success 'a new file matching .socignore never shows up' '
	echo n >ws/Data/new.log &&
	mkdir -p ws/Data/deep/build && echo n >ws/Data/deep/build/x &&
	(cd ws && soc status --porcelain >../out) &&
	test_cmp want out
'

test_expect_success 'a file named by soc add is tracked whatever .socignore says' '
	(cd ws && soc add Data/x.log && soc status --porcelain >../out) &&
	grep -x "A Data/x.log" out
'

test_expect_success 'a pattern added later does not untrack a tracked file' '
	echo "a.txt" >>ws/.socignore &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "A Data/a.txt" out
'

test_expect_success '.socignore itself is an ordinary file: tracked under a tracked root' '
	(cd ws && soc add . && soc status --porcelain >../out) &&
	grep -x "A .socignore" out
'

test_expect_success 'conflict copies and nested .soc directories are always ignored' '
	echo c >ws/Data/a.conflict-r3.txt &&
	echo c >ws/Data/noext.conflict-r12 &&
	mkdir -p ws/Data/inner/.soc && echo x >ws/Data/inner/.soc/config &&
	echo y >ws/Data/inner/y &&
	echo "!*.conflict-r*" >>ws/.socignore &&
	(cd ws && soc status --porcelain >../out 2>../err) &&
	! grep conflict-r out &&
	! grep "\.soc/" out &&
	grep -x "A Data/inner/y" out &&
	test_must_be_empty err
'

test_expect_success 'a .socignore that is not a regular file is refused' '
	soc init -q bad && mkdir bad/.socignore &&
	(cd bad && test_expect_code 1 soc status 2>../err) &&
	grep "cannot read '\''.socignore'\''" err
'

test_done
