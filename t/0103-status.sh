#!/bin/sh
# soc status: the porcelain format, its order and quoting, -z, the
# listing for people, and that a status of an unchanged tree writes
# nothing. "Synced" is a real push to a real soc serve, and a conflict a
# real pull of another workspace's edit.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'setup' '
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init -q ws --remote "$URL" &&
	mkdir -p ws/d/e &&
	echo 1 >ws/d/e/f &&
	echo 2 >ws/d.txt &&
	echo 3 >ws/d0 &&
	echo 4 >ws/D &&
	(cd ws && soc add -r . -q)
'

test_expect_success '--porcelain: A for new files, sorted bytewise by path' '
	(cd ws && soc status --porcelain >../out 2>../err) &&
	cat >want <<-\EOF &&
	A D
	A d.txt
	A d/e/f
	A d0
	EOF
	test_cmp want out &&
	test_must_be_empty err
'

# Our own push, right after the revision we last pulled, counts as pulled:
# status does not announce it as news.
test_expect_success 'synced and unchanged: nothing listed' '
	(cd ws && soc push -q && soc status --porcelain >../out 2>../err) &&
	test_must_be_empty out &&
	test_must_be_empty err
'

test_expect_success 'M for an edit, D for a delete, A for a new file' '
	echo edited >ws/d.txt &&
	rm ws/d0 &&
	echo n >ws/d/e/new &&
	(cd ws && soc status --porcelain >../out) &&
	cat >want <<-\EOF &&
	M d.txt
	A d/e/new
	D d0
	EOF
	test_cmp want out
'

test_expect_success 'C for a conflict, whatever the content' '
	soc init -q other --remote "$URL" &&
	(cd other && soc pull -q) &&
	echo theirs >other/D &&
	(cd other && soc push -q) &&
	echo ours >ws/D &&
	(cd ws && test_expect_code 4 soc pull -q) &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "C D" out &&
	cp ws/D.conflict-r* ws/D &&
	(cd ws && soc status --porcelain >../out) &&
	grep -x "C D" out
'

test_expect_success 'an edit back to the synced content is no change' '
	echo 2 >ws/d.txt &&
	(cd ws && soc status --porcelain >../out) &&
	! grep d.txt out
'

test_expect_success 'special characters are C-quoted as git quotes them' '
	soc init -q q &&
	(cd q &&
	 echo x >"a b" && echo x >"q\"x" && echo x >"$(printf "caf\303\251")" && echo x >plain &&
	 soc add . && soc status --porcelain >../out) &&
	cat >want <<-\EOF &&
	A "a b"
	A "caf\303\251"
	A plain
	A "q\"x"
	EOF
	test_cmp want out
'

test_expect_success 'the quoting matches git status --porcelain' '
	git init -q g &&
	(cd g && echo x >"a b" && echo x >"q\"x" && echo x >"$(printf "caf\303\251")" && echo x >plain &&
	 git status --porcelain | sed "s/^?? /A /" >../git.out) &&
	test_cmp git.out out
'

test_expect_success '-z: NUL after each record, paths not quoted' '
	(cd q && soc status --porcelain -z >../out) &&
	printf "A a b\0A caf\303\251\0A plain\0A q\"x\0" >want &&
	cmp want out &&
	(cd q && soc status -z >../out2) &&
	cmp want out2
'

test_expect_success 'a name soc refuses is skipped with a warning naming it, status still works' '
	(cd q && echo x >"$(printf "tab\tname")" && echo x >"back\\slash" &&
	 soc status --porcelain >../out 2>../err) &&
	grep "skipping '\''tab\\\\tname'\''" err &&
	grep -F "skipping '\''back\\\\slash'\'': backslash in path" err &&
	test_line_count = 4 out
'

test_expect_success 'without --porcelain: a short listing for people' '
	(cd ws && soc status >../out) &&
	grep "^  new: *d/e/new$" out &&
	grep "^  deleted: *d0$" out &&
	grep "^  conflict: *D$" out &&
	grep "then '\''soc add'\'' the path" out
'

test_expect_success 'for people, paths are relative to the current directory' '
	(cd ws/d/e && soc status >../../../out) &&
	grep "^  new: *new$" out &&
	grep "^  deleted: *\.\./\.\./d0$" out
'

test_expect_success 'a clean workspace says so; -q leaves that out' '
	soc init -q c --remote "$URL" && echo x >c/x &&
	(cd c && soc add x -q && soc pull -q && soc push -q) &&
	(cd c && soc status >../out) &&
	echo "nothing to push" >want &&
	test_cmp want out &&
	(cd c && soc status -q >../out) &&
	test_must_be_empty out
'

test_expect_success 'status of an unchanged tree leaves the index byte for byte as it was' '
	find ws -path ws/.soc -prune -o -type f -exec touch -d @1500000000 {} + &&
	(cd ws && soc status --porcelain >/dev/null) &&
	cp ws/.soc/index.db before &&
	(cd ws && soc status --porcelain >../out1 && soc status >/dev/null && soc status --porcelain >../out2) &&
	cmp before ws/.soc/index.db &&
	test_cmp out1 out2 &&
	! test -e ws/.soc/index.db-journal &&
	! test -e ws/.soc/index.db-wal
'

test_expect_success 'a status that finds a change does record it' '
	echo again >ws/d/e/f &&
	(cd ws && soc status --porcelain >/dev/null) &&
	! cmp before ws/.soc/index.db
'

test_done
