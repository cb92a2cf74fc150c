#!/bin/sh
# soc add: files, directories with and without -r, the historic -id through
# the soc_add link, paths from subdirectories, and resolving a conflict.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: a workspace with a tree' '
	soc init -q ws &&
	mkdir -p ws/Data/sub/deeper ws/other &&
	echo 1 >ws/Data/one &&
	echo 2 >ws/Data/two &&
	echo 3 >ws/Data/sub/three &&
	echo 4 >ws/Data/sub/deeper/four &&
	echo 5 >ws/other/five &&
	echo t >ws/top
'

test_expect_success 'a file is tracked' '
	(cd ws && soc add top && soc status --porcelain >../out) &&
	echo "A top" >want &&
	test_cmp want out
'

test_expect_success 'a directory without -r tracks only the files directly in it' '
	(cd ws && soc add Data -q && soc status --porcelain >../out) &&
	cat >want <<-\EOF &&
	A Data/one
	A Data/two
	A top
	EOF
	test_cmp want out
'

test_expect_success 'without -r, add says how to take the directories below' '
	(cd ws && soc add Data 2>../err) &&
	grep -x ".Data. is tracked without the 1 directory in it; .soc add -r Data. takes everything below it" err
'

test_expect_success 'a file created later directly in it shows up; one in a subdirectory does not' '
	echo n >ws/Data/new &&
	echo s >ws/Data/sub/new &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "A Data/new" out &&
	! grep "Data/sub" out
'

test_expect_success './soc_add Data -id, the historic spelling, tracks every file below Data' '
	(cd ws && ln -s "$SOC" soc_add && ./soc_add Data -id && rm soc_add) &&
	(cd ws && soc status --porcelain >../out) &&
	cat >want <<-\EOF &&
	A Data/new
	A Data/one
	A Data/sub/deeper/four
	A Data/sub/new
	A Data/sub/three
	A Data/two
	A top
	EOF
	test_cmp want out
'

test_expect_success 'adding the directory again without -r keeps it recursive, and says nothing of -r' '
	(cd ws && soc add Data 2>../err) &&
	! grep "soc add -r" err &&
	echo x >ws/Data/sub/deeper/later &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "A Data/sub/deeper/later" out
'

test_expect_success '-r and --recursive work as -id does' '
	soc init -q r1 && mkdir -p r1/d/e && echo 1 >r1/d/e/f &&
	(cd r1 && soc add -r d && soc status --porcelain >../out1) &&
	soc init -q r2 && mkdir -p r2/d/e && echo 1 >r2/d/e/f &&
	(cd r2 && soc add d --recursive && soc status --porcelain >../out2) &&
	echo "A d/e/f" >want &&
	test_cmp want out1 &&
	test_cmp want out2
'

test_expect_success 'paths are relative to the current directory, from any subdirectory' '
	(cd ws/Data/sub && soc add ../../other/five && soc status --porcelain >../../../out) &&
	grep -x "A other/five" out
'

test_expect_success 'an absolute path inside the workspace is taken' '
	echo abs >ws/other/abs &&
	(cd ws/Data && soc add "$TRASH/ws/other/abs") &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "A other/abs" out
'

test_expect_success 'add . -r from the root tracks the whole workspace' '
	soc init -q all && mkdir -p all/a/b && echo 1 >all/a/b/c && echo 2 >all/d &&
	(cd all && soc add . -r && soc status --porcelain >../out) &&
	printf "A a/b/c\nA d\n" >want &&
	test_cmp want out
'

test_expect_success 'add prints how many files are tracked, -q nothing' '
	(cd all && soc add d 2>../err) &&
	grep "2 files tracked" err &&
	(cd all && soc add d -q 2>../err) &&
	test_must_be_empty err
'

# Conflicts come from a real pull: the server gets another workspace's
# edits of d and a/b/c, made over different edits here.
test_expect_success_here 'setup: d and a/b/c in conflict after a pull' '
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	echo "remote = $URL" >>all/.soc/config &&
	(cd all && soc push -q) &&
	soc init -q peer --remote "$URL" &&
	(cd peer && soc pull -q) &&
	echo theirs >peer/d && echo theirs >peer/a/b/c &&
	(cd peer && soc push -q) &&
	echo ours >all/d && echo ours >all/a/b/c &&
	(cd all && test_expect_code 4 soc pull -q)
'

test_expect_success 'soc add of a path in conflict marks it resolved' '
	(cd all && soc status --porcelain >../out) &&
	grep -x "C d" out &&
	cp all/d.conflict-r* all/d &&
	(cd all && soc add d && soc status --porcelain >../out) &&
	! grep " d$" out &&
	echo changed >all/d &&
	(cd all && soc status --porcelain >../out) &&
	grep -x "M d" out
'

test_expect_success 'soc add of a directory resolves the conflicts below it' '
	(cd all && soc status --porcelain >../out) &&
	grep -x "C a/b/c" out &&
	cp all/a/b/c.conflict-r* all/a/b/c &&
	(cd all && soc add -r a && soc status --porcelain >../out) &&
	! grep "a/b/c" out
'

test_expect_success 'under a tracked directory a symlink is tracked, a fifo skipped with a warning' '
	soc init -q sk && mkdir sk/d && echo r >sk/d/real &&
	ln -s real sk/d/link && mkfifo sk/d/fifo &&
	(cd sk && soc add d 2>../err && soc status --porcelain >../out 2>../err2) &&
	printf "A d/link\nA d/real\n" >want &&
	test_cmp want out &&
	test_line_count = 1 err2 &&
	grep -c "skipping" err >n && test "$(cat n)" = 1 &&
	test "$(grep -c "skipping fifo '\''d/fifo'\''" err2)" = 1
'

test_done
