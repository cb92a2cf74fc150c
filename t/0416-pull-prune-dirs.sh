#!/bin/sh
# A pulled delete takes the directories it leaves empty, as the server's
# apply does in files/ and git does in a checkout: a directory deleted on
# one machine does not linger empty on the others. A directory still
# holding something (an untracked or an ignored file) stays, and so does
# a tracked root and the workspace itself.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a/ pushes a tree; b/ pulls it and keeps files of its own in it' '
	setup_two &&
	mkdir -p a/Data/sub/deeper a/Data/other a/Data/ig a/Data/keep a/Only &&
	echo x >a/Data/sub/x &&
	echo y >a/Data/sub/deeper/y &&
	echo w >a/Data/other/w &&
	echo i >a/Data/ig/i &&
	echo k >a/Data/keep/k &&
	echo o >a/Only/o &&
	echo t >a/top &&
	(cd a && soc add -q -r Data Only && soc add -q top && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	echo mine >b/Data/other/notes.txt &&
	echo "*.tmp" >b/.socignore &&
	echo cache >b/Data/ig/cache.tmp
'

test_expect_success 'a/ deletes a subtree, a root, a top file, and two files in directories where b/ keeps more' '
	rm -r a/Data/sub a/Data/other/w a/Data/ig/i a/Only/o a/top &&
	(cd a && soc push -q --allow-delete) &&
	t=$(server_tree server) &&
	! test -e "$t/Data/sub" &&
	! test -e "$t/Only" &&
	test -e "$t/Data/keep/k"
'

test_expect_success 'b/ pulls: the emptied directories are gone, the rest stays' '
	(cd b && soc pull -q) &&
	! test -e b/Data/sub &&
	! test -e b/Data/other/w &&
	test "$(cat b/Data/other/notes.txt)" = mine &&
	! test -e b/Data/ig/i &&
	test "$(cat b/Data/ig/cache.tmp)" = cache &&
	test "$(cat b/Data/keep/k)" = k &&
	! test -e b/top &&
	test -d b/Only &&
	test -z "$(ls -A b/Only)" &&
	test -d b/.soc
'

test_expect_success 'b/ has nothing to send but its own file, and a/ gets it' '
	(cd b && soc status --porcelain) >st &&
	printf "A Data/other/notes.txt\n" >want &&
	test_cmp want st &&
	(cd b && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(cat a/Data/other/notes.txt)" = mine
'

test_expect_success 'a delete that empties a directory a new file then goes into' '
	mkdir -p a/Data/mixed &&
	echo old >a/Data/mixed/a &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	rm a/Data/mixed/a &&
	echo new >a/Data/mixed/b &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	! test -e b/Data/mixed/a &&
	test "$(cat b/Data/mixed/b)" = new &&
	test "$(ws_sum a)" = "$(ws_sum b | grep -v "cache.tmp\|socignore")"
'

test_expect_success 'no sanitizer report' '
	! cat server.log $(one_node || echo server.n2.log) | grep -i "sanitizer\|runtime error"
'

test_done
