#!/bin/sh
# A pull moves a top directory the workspace lacks, every row of it a
# file to take, from .soc/incoming/ in one rename, instead of a rename a
# file. It must place exactly what one file at a time would: each file
# with its mode, each one tracked and clean. It must fall back to a file
# at a time when incoming/ holds anything no row names (the server's
# files/ runs ahead of its head while a push applies), and when the
# directory is here already. The server's directory carries an old mtime
# so a test can tell which way went: rsync -t gives it to the copy in
# incoming/, which only the whole move brings into the workspace.
. "$(dirname "$0")/lib.sh"

# rsync's -t on incoming/ is this test's probe: the pull takes no fetch stream.
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

SRV=$TRASH/server

# dir_mtime DIR: its mtime in seconds.
dir_mtime() {
	stat -c %Y "$1"
}

test_expect_success_here 'a/ pushes data/ (nested, one executable) and top' '
	setup_two &&
	mkdir -p a/data/x/y a/data/z &&
	echo one >a/data/x/y/f1 &&
	echo two >a/data/z/f2 &&
	printf "#!/bin/sh\n" >a/data/run &&
	chmod 755 a/data/run &&
	echo top >a/top &&
	(cd a && soc add -q -r data top && soc push -q) &&
	# A cluster keeps no files/: its pulls read views, made for each pull.
	if one_node; then touch -d 2001-01-01 "$SRV/files/data"; fi
'

test_expect_success 'into an empty workspace, data/ arrives whole, tracked and clean' '
	(cd b && soc pull -q) &&
	# The probe: the old mtime of files/data, which a cluster has not.
	if one_node; then test "$(dir_mtime b/data)" = "$(date -d 2001-01-01 +%s)"; fi &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got &&
	test "$(stat -c %a b/data/run)" = 755 &&
	test "$(stat -c %a b/data/z/f2)" = 644 &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st &&
	! test -e b/.soc/incoming/data
'

test_expect_success 'what b/ then changes in data/ is pushed like any other edit' '
	echo more >>b/data/x/y/f1 &&
	echo new >b/data/z/f3 &&
	(cd b && soc push -q) &&
	(cd a && soc pull -q) &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got
'

test_expect_success_here 'a/ pushes 1001 more files, so that a first pull fetches the whole head' '
	mkdir a/data/many &&
	python3 -c "
for i in range(1001):
    open(\"a/data/many/f%04d\" % i, \"w\").write(\"%d\\n\" % i)
" &&
	(cd a && soc push -q)
'

test_expect_success_here 'a file in the server'"'"'s files/ that its head does not name never reaches a workspace' '
	# A cluster has no files/ to run ahead: its views hold the paths a pull names.
	if one_node; then
		echo stray >"$SRV/files/data/z/stray" &&
		touch -d 2001-01-01 "$SRV/files/data"
	fi &&
	soc init c --remote "$URL" -q &&
	wrap_rsync &&
	(cd c && soc pull -q) &&
	! grep -e "--files-from" "$TRASH/rsync.calls" &&
	! test -e c/data/z/stray &&
	test "$(dir_mtime c/data)" != "$(date -d 2001-01-01 +%s)" &&
	if one_node; then rm "$SRV/files/data/z/stray"; fi &&
	ws_sum a >want &&
	ws_sum c >got &&
	test_cmp want got &&
	(cd c && soc status --porcelain) >st &&
	test_must_be_empty st
'

test_expect_success 'a data/ here already, with a file of its own: each file placed, that one kept' '
	soc init d --remote "$URL" -q &&
	mkdir -p d/data &&
	echo mine >d/data/mine &&
	(cd d && soc pull -q) &&
	test "$(cat d/data/mine)" = mine &&
	test "$(dir_mtime d/data)" != "$(date -d 2001-01-01 +%s)" &&
	rm d/data/mine &&
	ws_sum a >want &&
	ws_sum d >got &&
	test_cmp want got
'

test_expect_success 'no sanitizer report' '
	! cat server.log $(one_node || echo server.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
