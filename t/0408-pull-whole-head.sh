#!/bin/sh
# A first pull that wants most of a large head (more than PULL_LIST_MAX
# paths) fetches the whole module instead of naming each file to rsync.
# It must still take only what the table decides: a file here with the
# server's content is left alone (same inode), an untracked file here
# with other content is kept and the server's goes beside it, and what
# it did not ask for never reaches the workspace. A later small pull
# names its files again.
. "$(dirname "$0")/lib.sh"

# rsync's calls are what this test reads: the pull takes no fetch stream.
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

FILES=2000

test_expect_success_here 'a server holding 2000 files pushed from a/' '
	setup_two &&
	python3 - a/big "$FILES" <<-\EOP &&
	import os, sys
	top, n = sys.argv[1], int(sys.argv[2])
	for i in range(n):
	    d = os.path.join(top, "d%02d" % (i // 100))
	    os.makedirs(d, exist_ok=True)
	    with open(os.path.join(d, "f%04d" % i), "w") as f:
	        f.write("file %d\n" % i * (i % 7 + 1))
	EOP
	(cd a && soc add -q -r big && soc push -q) &&
	wrap_rsync
'

test_expect_success_here 'b/ already holds 300 of them, and another f0005' '
	mkdir -p b/big/d00 b/big/d01 b/big/d02 &&
	for d in d00 d01 d02; do
		cp -p a/big/$d/* b/big/$d/ || return 1
	done &&
	echo "mine, not the server'"'"'s" >b/big/d00/f0005 &&
	ls -i b/big/d01/f0101 b/big/d02/f0250 >inodes.before
'

test_expect_success_here 'the first pull fetches the whole head in one rsync' '
	test_expect_code 4 sh -c "cd b && soc pull -q" 2>err &&
	test "$(client_rsyncs)" = 1 &&
	! grep -e "--files-from" "$TRASH/rsync.calls" &&
	grep "conflict in .big/d00/f0005." err
'

test_expect_success 'every file is the server'"'"'s, but the one kept in conflict' '
	ws_sum a >want &&
	mv b/big/d00/f0005 mine &&
	mv b/big/d00/f0005.conflict-r1 b/big/d00/f0005 &&
	ws_sum b >got &&
	mv b/big/d00/f0005 b/big/d00/f0005.conflict-r1 &&
	mv mine b/big/d00/f0005 &&
	test_cmp want got &&
	grep "^mine" b/big/d00/f0005
'

test_expect_success 'files here with the server'"'"'s content were not rewritten' '
	ls -i b/big/d01/f0101 b/big/d02/f0250 >inodes.after &&
	test_cmp inodes.before inodes.after
'

test_expect_success 'nothing is left in .soc/incoming' '
	! test -e b/.soc/incoming
'

test_expect_success 'a later small pull names its files to rsync, the basis in its destination' '
	rm b/big/d00/f0005.conflict-r1 &&
	(cd b && soc add big/d00/f0005) &&
	echo changed >a/big/d05/f0500 &&
	(cd a && soc push -q) &&
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) &&
	test "$(client_rsyncs)" = 1 &&
	grep -e "--files-from" "$TRASH/rsync.calls" &&
	! grep -e "--copy-dest=" "$TRASH/rsync.calls" &&
	test "$(cat b/big/d05/f0500)" = changed
'

test_expect_success 'a first pull into an empty workspace gives rsync no basis to look in' '
	soc init c --remote "$URL" -q &&
	: >"$TRASH/rsync.calls" &&
	(cd c && soc pull -q) &&
	test "$(client_rsyncs)" = 1 &&
	! grep -e "--copy-dest" "$TRASH/rsync.calls" &&
	ws_sum a >want &&
	ws_sum c >got &&
	test_cmp want got
'

test_done
