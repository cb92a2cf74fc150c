#!/bin/sh
# soc rm: never-pushed files are forgotten, synced ones become D, the
# local file is always kept, and a path under a tracked directory does not
# come back until soc add names it again. "Synced" is a real push to a
# real soc serve: Data/a and Data/c are pushed, the rest is made after.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'setup' '
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init -q ws --remote "$URL" &&
	mkdir -p ws/Data &&
	echo a >ws/Data/a &&
	echo c >ws/Data/c &&
	(cd ws && soc add -r Data -q && soc push -q) &&
	mkdir ws/Data/sub &&
	echo b >ws/Data/b &&
	echo s >ws/Data/sub/s &&
	echo t >ws/top &&
	(cd ws && soc add top -q && soc status --porcelain >../out) &&
	printf "A Data/b\nA Data/sub/s\nA top\n" >want &&
	test_cmp want out
'

test_expect_success 'rm of a never-pushed file: no longer listed, the file kept' '
	(cd ws && soc rm top 2>../err && soc status --porcelain >../out) &&
	grep "stopped tracking '\''top'\''" err &&
	! grep top out &&
	test "$(cat ws/top)" = t
'

test_expect_success 'it stays forgotten' '
	echo more >>ws/top &&
	(cd ws && soc status --porcelain >../out) &&
	! grep top out
'

test_expect_success 'rm of a synced file: D, so the next push deletes it; the file kept' '
	(cd ws && soc rm Data/a 2>../err && soc status --porcelain >../out) &&
	grep "the next push deletes 1 file on the server" err &&
	grep -x "D Data/a" out &&
	test "$(cat ws/Data/a)" = a
'

test_expect_success 'a never-pushed file under a tracked directory, rm'\''d, does not come back as A' '
	(cd ws && soc rm Data/b && soc status --porcelain >../out) &&
	! grep Data/b out &&
	echo edit >>ws/Data/b &&
	(cd ws && soc status --porcelain >../out) &&
	! grep Data/b out
'

test_expect_success 'soc add names it again: it is back' '
	(cd ws && soc add Data/b && soc status --porcelain >../out) &&
	grep -x "A Data/b" out
'

test_expect_success 'soc add of the rm'\''d synced file takes the D back' '
	(cd ws && soc add Data/a && soc status --porcelain >../out) &&
	! grep Data/a out
'

test_expect_success 'rm of a subdirectory of a tracked directory: forgotten, and not picked up again' '
	(cd ws && soc rm Data/sub && soc status --porcelain >../out) &&
	! grep Data/sub out &&
	echo n >ws/Data/sub/new &&
	(cd ws && soc status --porcelain >../out) &&
	! grep Data/sub out &&
	test -f ws/Data/sub/s
'

test_expect_success 'adding the directory again with -r brings its files back' '
	(cd ws && soc add -r Data && soc status --porcelain >../out) &&
	grep -x "A Data/sub/s" out &&
	grep -x "A Data/sub/new" out
'

test_expect_success 'a new file under a tracked directory, rm'\''d before any scan recorded it' '
	echo fresh >ws/Data/fresh &&
	(cd ws && soc rm Data/fresh && soc status --porcelain >../out) &&
	! grep fresh out
'

test_expect_success 'rm of the tracked directory itself: nothing under it is tracked' '
	(cd ws && soc rm Data 2>../err && soc status --porcelain >../out) &&
	grep "the next push deletes 2 files" err &&
	printf "D Data/a\nD Data/c\n" >want &&
	test_cmp want out &&
	echo n2 >ws/Data/n2 &&
	(cd ws && soc status --porcelain >../out) &&
	test_cmp want out &&
	ls ws/Data/a ws/Data/b ws/Data/c ws/Data/sub/s
'

test_expect_success 'rm from a subdirectory takes paths relative to it' '
	soc init -q r && mkdir r/d && echo x >r/d/x && echo y >r/y &&
	(cd r && soc add d/x y -q) &&
	(cd r/d && soc rm x ../y && soc status --porcelain >../../out) &&
	test_must_be_empty out
'

test_expect_success 'rm of a path nobody tracks exits 1, names it, and changes nothing' '
	echo u >ws/untracked &&
	cp ws/.soc/index.db before &&
	(cd ws && test_expect_code 1 soc rm untracked 2>../err) &&
	grep "cannot remove '\''untracked'\'': it is not tracked" err &&
	(cd ws && test_expect_code 1 soc rm nowhere 2>../err) &&
	grep "'\''nowhere'\'': it is not tracked" err &&
	cmp before ws/.soc/index.db
'

test_expect_success 'one bad path among good ones: nothing is removed' '
	(cd ws && soc add untracked -q) &&
	cp ws/.soc/index.db before &&
	(cd ws && test_expect_code 1 soc rm untracked ../outside 2>../err) &&
	grep "outside the workspace" err &&
	cmp before ws/.soc/index.db &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "A untracked" out
'

test_done
