#!/bin/sh
# A file replaced by a directory of the same name on another machine, and
# the reverse, is one push there and one pull here: the pull deletes
# before it creates under the name. A local edit in the way is never a
# wedge: an edited file where the server now has a directory moves aside
# as a conflict copy; a directory here where the server now has a file
# keeps it and writes the server's file beside it, in conflict. Either
# way the pull exits 4, and after 'soc add' push and pull go on.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a/ pushes a file x, b/ pulls it' '
	setup_two &&
	echo one >a/x &&
	(cd a && soc add -q x && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(cat b/x)" = one
'

test_expect_success 'a/ replaces the file x by a directory x/ in one push' '
	rm a/x &&
	mkdir a/x &&
	echo f >a/x/f &&
	(cd a && soc add -q -r x && soc push -q) &&
	(cd a && soc status --porcelain) >st &&
	test_must_be_empty st
'

test_expect_success 'b/ pulls the file-to-directory swap in one pull' '
	(cd b && soc pull -q) &&
	test -d b/x &&
	test "$(cat b/x/f)" = f &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got
'

test_expect_success 'a/ replaces the directory x/ by a file x in one push' '
	rm -r a/x &&
	echo two >a/x &&
	(cd a && soc add -q x && soc push -q) &&
	(cd a && soc status --porcelain) >st &&
	test_must_be_empty st
'

test_expect_success 'b/ pulls the directory-to-file swap in one pull' '
	(cd b && soc pull -q) &&
	test -f b/x &&
	test "$(cat b/x)" = two &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st
'

test_expect_success 'b/ edits x while a/ swaps it for a directory' '
	echo mine >b/x &&
	rm a/x &&
	mkdir a/x &&
	echo g >a/x/g &&
	(cd a && soc add -q -r x && soc push -q)
'

test_expect_success 'b/ pulls once: its edit is a conflict copy, x/ comes in, exit 4' '
	(cd b && test_expect_code 4 soc pull) >out 2>err &&
	test "$(cat b/x/g)" = g &&
	test "$(cat b/x.conflict-r4)" = mine &&
	grep "x.conflict-r4" err &&
	(cd b && soc status --porcelain) >st &&
	grep -x "C x.conflict-r4" st &&
	(cd b && test_expect_code 4 soc push) 2>err &&
	grep conflict err
'

test_expect_success 'after soc add of the copy, b/ pushes it and a/ pulls it' '
	(cd b && soc add -q x.conflict-r4 && soc push -q) &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st &&
	(cd a && soc pull -q) &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got
'

test_expect_success 'b/ edits x/g while a/ swaps x/ for a file' '
	echo mine >b/x/g &&
	rm -r a/x &&
	echo three >a/x &&
	(cd a && soc add -q x && soc push -q)
'

test_expect_success 'b/ pulls once: keeps x/g, the server'"'"'s x beside it, exit 4' '
	(cd b && test_expect_code 4 soc pull) >out 2>err &&
	test "$(cat b/x/g)" = mine &&
	test "$(cat b/x.conflict-r6)" = three &&
	(cd b && soc status --porcelain) >st 2>err &&
	grep -x "C x" st &&
	test_must_be_empty err &&
	(cd b && test_expect_code 4 soc push) 2>err &&
	grep conflict err
'

test_expect_success 'keeping the directory: soc add x, one push deletes x and adds x/g, a/ pulls it' '
	rm b/x.conflict-r6 &&
	(cd b && soc add -q x && soc push -q) &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st &&
	(cd a && soc pull -q) &&
	test "$(cat a/x/g)" = mine &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got
'

test_expect_success 'b/ edits z/g while a/ swaps z/ for a file; taking the server'"'"'s file ends it too' '
	mkdir a/z &&
	echo g >a/z/g &&
	(cd a && soc add -q -r z && soc push -q) &&
	(cd b && soc pull -q) &&
	echo mine >b/z/g &&
	rm -r a/z &&
	echo file >a/z &&
	(cd a && soc add -q z && soc push -q) &&
	(cd b && test_expect_code 4 soc pull) 2>err &&
	grep "conflict in .z.: kept yours (a directory)" err &&
	rm -r b/z &&
	mv b/z.conflict-r9 b/z &&
	(cd b && soc add -q z && soc push -q) &&
	(cd b && soc status --porcelain) >st &&
	test_must_be_empty st &&
	(cd a && soc pull -q) &&
	ws_sum a >want &&
	ws_sum b >got &&
	test_cmp want got
'

test_expect_success 'a file new here under w/ while a/ swaps w/ for a file: a conflict too' '
	mkdir a/w &&
	echo g >a/w/g &&
	(cd a && soc add -q -r w && soc push -q) &&
	(cd b && soc pull -q) &&
	echo new >b/w/new &&
	rm -r a/w &&
	echo file >a/w &&
	(cd a && soc add -q w && soc push -q) &&
	(cd b && test_expect_code 4 soc pull) 2>err &&
	test "$(cat b/w/new)" = new &&
	! test -e b/w/g &&
	test "$(cat b/w.conflict-r11)" = file &&
	rm b/w.conflict-r11 &&
	(cd b && soc add -q w && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(cat a/w/new)" = new
'

test_expect_success 'an ignored file left in v/ where a/ now has a file v: exit 1, says what ends it' '
	mkdir a/v &&
	echo g >a/v/g &&
	(cd a && soc add -q -r v && soc push -q) &&
	(cd b && soc pull -q) &&
	echo "*.tmp" >b/.socignore &&
	echo scratch >b/v/scratch.tmp &&
	rm -r a/v &&
	echo file >a/v &&
	(cd a && soc add -q v && soc push -q) &&
	(cd b && test_expect_code 1 soc pull) 2>err &&
	grep "cannot pull .v.: a directory here is in the way; move it away, then pull again" err &&
	test "$(cat b/v/scratch.tmp)" = scratch &&
	! test -e b/v/g &&
	mv b/v b/v.mine &&
	(cd b && soc pull -q) &&
	test "$(cat b/v)" = file
'

test_expect_success 'an untracked file here where the server adds a directory: exit 1, says what ends it' '
	mkdir a/y &&
	echo h >a/y/h &&
	(cd a && soc add -q -r y && soc push -q) &&
	echo untracked >b/y &&
	(cd b && test_expect_code 1 soc pull) 2>err &&
	grep "'"'"'y'"'"'" err &&
	grep "move it" err &&
	test "$(cat b/y)" = untracked &&
	mv b/y b/y.mine &&
	(cd b && soc pull -q) &&
	test "$(cat b/y/h)" = h
'

# On a cluster, node 2's log too.
test_expect_success 'no sanitizer report' '
	! cat server.log $(one_node || echo server.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
