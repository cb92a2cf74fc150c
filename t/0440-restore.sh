#!/bin/sh
# soc log PATH, soc ls and soc restore (issue 16): an overwritten file, a
# deleted file and a deleted directory come back as local changes, are
# pushed, and another machine pulls them; an unpushed edit in the way is
# kept as a copy; a version the server no longer keeps restores nothing.
. "$(dirname "$0")/lib.sh"

# versions: the server's versions/, on a cluster the shared blob directory's.
versions() {
	if one_node; then
		echo server/versions
	else
		echo "$(cat server/blobs.dir)/versions"
	fi
}

test_expect_success_here 'r1: a tree pushed from a/, pulled into b/' '
	setup_two &&
	mkdir -p a/D a/E/sub &&
	echo first >a/D/f.txt &&
	echo gee >a/D/g &&
	echo top >a/top.txt &&
	echo x >a/E/x &&
	printf "#!/bin/sh\n" >a/E/sub/run.sh && chmod +x a/E/sub/run.sh &&
	(cd a && soc add -q -r D E && soc add -q top.txt && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'r2 overwrites D/f.txt and D/g, r3 deletes top.txt, r4 deletes E/' '
	echo second >a/D/f.txt &&
	echo gee2 >a/D/g &&
	(cd a && soc push -q) &&
	rm a/top.txt &&
	(cd a && soc push -q) &&
	rm -r a/E &&
	(cd a && soc push -q --allow-delete) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	! test -e b/E/x
'

test_expect_success 'soc log PATH lists the versions of a file, newest first' '
	(cd a && soc log D/f.txt) >out &&
	sed "s/  *[0-9-]* [0-9:]*  */ TIME /" out >got &&
	printf "r2 TIME admin        D/f.txt  7 bytes\nr1 TIME admin        D/f.txt  6 bytes\n" >want &&
	test_cmp want got &&
	grep -E "^r2 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}  " out
'

test_expect_success 'soc log PATH names a delete, and takes -n and a directory' '
	(cd a && soc log top.txt) >out &&
	grep -E "^r3 .* top\.txt  deleted$" out &&
	grep -E "^r1 .* top\.txt  4 bytes$" out &&
	(cd a/D && soc log -n 1 .) >out &&
	test_line_count = 1 out &&
	grep -E "^r2 .* D/(f\.txt|g)  " out
'

test_expect_success 'soc ls --rev N lists what the server held then; soc ls the head' '
	(cd a && soc ls --rev 1) >out &&
	printf "%s\n" "644          6 D/f.txt" "644          4 D/g" "755         10 E/sub/run.sh" \
		"644          2 E/x" "644          4 top.txt" >want &&
	test_cmp want out &&
	(cd a && soc ls) >out &&
	printf "%s\n" "644          7 D/f.txt" "644          5 D/g" >want &&
	test_cmp want out &&
	(cd a && soc ls --rev 1 E) >out &&
	test_line_count = 2 out
'

test_expect_success 'an overwritten file comes back as a local change, pushed and pulled' '
	(cd a && soc restore D/f.txt --rev 1) 2>err &&
	grep "restored 1 file from revision 1" err &&
	test "$(cat a/D/f.txt)" = first &&
	(cd a && soc status --porcelain) >st &&
	echo "M D/f.txt" >want &&
	test_cmp want st &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(cat b/D/f.txt)" = first &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'a deleted file comes back, tracked, pushed and pulled' '
	(cd a && soc restore top.txt --rev 2) &&
	test "$(cat a/top.txt)" = top &&
	(cd a && soc status --porcelain) >st &&
	echo "A top.txt" >want &&
	test_cmp want st &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	h=$(sha256sum <a/top.txt | cut -c1-64) &&
	if one_node; then
		test "$(stat -c %i server/files/top.txt)" = \
			"$(stat -c %i server/versions/$(echo $h | cut -c1-2)/$h)"
	else
		# a cluster node keeps no files/: the head file is the blob itself
		test -f "$(versions)/$(echo $h | cut -c1-2)/$h"
	fi
'

test_expect_success 'a deleted directory comes back whole, modes too, pushed and pulled' '
	(cd a/D && soc restore ../E --rev 3) &&
	test "$(cat a/E/x)" = x &&
	test -x a/E/sub/run.sh &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test -x b/E/sub/run.sh &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	echo new >a/E/new &&
	(cd a && soc status --porcelain) >st &&
	echo "A E/new" >want &&
	test_cmp want st &&
	rm a/E/new
'

test_expect_success 'an unpushed edit in the way is kept as NAME.restore-rN.EXT' '
	echo mine >b/D/g &&
	(cd b && soc restore D/g --rev 1) 2>err &&
	grep "kept your .D/g. as .D/g.restore-r1." err &&
	test "$(cat b/D/g)" = gee &&
	test "$(cat b/D/g.restore-r1)" = mine &&
	echo mine2 >b/D/g &&
	(cd b && soc restore D/g --rev 1) 2>err &&
	test "$(cat b/D/g.restore-r1-2)" = mine2 &&
	test "$(cat b/D/g.restore-r1)" = mine &&
	test "$(cat b/D/g)" = gee
'

test_expect_success 'an untracked file in the way is kept too, and the path is tracked' '
	echo one >a/loose &&
	(cd a && soc add -q loose && soc push -q) &&
	r=$(cd a && soc log -n 1 | sed -n "s/^r\([0-9]*\) .*/\1/p") &&
	rm a/loose &&
	(cd a && soc push -q) &&
	echo two >a/loose &&
	(cd a && soc restore loose --rev $r) 2>err &&
	grep "kept your .loose. as .loose.restore-r$r." err &&
	test "$(cat a/loose)" = one &&
	test "$(cat a/loose.restore-r$r)" = two &&
	(cd a && soc status --porcelain) >st &&
	echo "A loose" >want &&
	test_cmp want st &&
	rm a/loose.restore-r$r
'

test_expect_success 'log and ls quote a path as status does' '
	printf "x\n" >"a/D/my \"file\" é" &&
	(cd a && soc push -q) &&
	(cd a && soc status --porcelain) >st &&
	test_must_be_empty st &&
	(cd a && soc log "D/my \"file\" é") >out &&
	grep -F "\"D/my \\\"file\\\" \\303\\251\"  2 bytes" out &&
	(cd a && soc ls D) >out &&
	grep -F "          2 \"D/my \\\"file\\\" \\303\\251\"" out &&
	rm "a/D/my \"file\" é" &&
	(cd a && soc push -q)
'

test_expect_success 'a file as it was then is nothing to restore' '
	(cd b && soc restore D/g --rev 1) 2>err &&
	grep "nothing to restore" err
'

test_expect_success 'a version not kept: exit 1, one line naming it, nothing changed' '
	h=$(printf "second\n" | sha256sum | cut -d" " -f1) &&
	test -f $(versions)/$(echo $h | cut -c1-2)/$h &&
	mv $(versions)/$(echo $h | cut -c1-2)/$h blob.saved &&
	test_when_finished "mv blob.saved $(versions)/$(echo $h | cut -c1-2)/$h" &&
	(cd a && soc log D/f.txt) >out &&
	grep -E "^r2 .* D/f\.txt  7 bytes \(not kept\)$" out &&
	echo local >a/D/f.txt &&
	before=$(tree_sum a) &&
	test_expect_code 1 sh -c "cd a && soc restore D --rev 2" 2>err &&
	test_line_count = 1 err &&
	grep "D/f.txt.* no longer kept" err &&
	test "$(tree_sum a)" = "$before" &&
	! test -e a/.soc/incoming
'

test_expect_success 'a download that is not its sha256 changes nothing, the edit in the way included' '
	h=$(printf "second\n" | sha256sum | cut -d" " -f1) &&
	f=$(versions)/$(echo $h | cut -c1-2)/$h &&
	mv $f blob.good &&
	test_when_finished "mv blob.good $f" &&
	printf "secont\n" >$f &&
	test "$(cat a/D/f.txt)" = local &&
	(cd a && soc status --porcelain --offline) >st.before &&
	before=$(ws_sum a) &&
	test_expect_code 1 sh -c "cd a && soc restore D/f.txt --rev 2" 2>err &&
	test_line_count = 1 err &&
	grep "other bytes for .D/f.txt." err &&
	test "$(ws_sum a)" = "$before" &&
	(cd a && soc status --porcelain --offline) >st &&
	test_cmp st.before st &&
	! test -e a/.soc/incoming
'

test_expect_success 'bad revisions and paths: one line, exit 2 or 1, nothing changed' '
	before=$(tree_sum a) &&
	test_expect_code 2 sh -c "cd a && soc restore D/g" 2>err &&
	grep "say which version" err &&
	test_expect_code 2 sh -c "cd a && soc restore --rev 1" 2>err &&
	test_expect_code 2 sh -c "cd a && soc restore D/g --rev x" 2>err &&
	test_expect_code 2 sh -c "cd a && soc restore D/g --rev 1 --before 2020-01-01" 2>err &&
	test_expect_code 2 sh -c "cd a && soc restore D/g --before 2021-02-29" 2>err &&
	grep "not .2021-02-29." err &&
	test_expect_code 2 sh -c "cd a && soc ls --rev -1" 2>err &&
	test_expect_code 1 sh -c "cd a && soc restore D/g --rev 999" 2>err &&
	test_line_count = 1 err &&
	grep "past the head" err &&
	test_expect_code 1 sh -c "cd a && soc ls --rev 999" 2>err &&
	grep "past the head" err &&
	test_expect_code 1 sh -c "cd a && soc restore nothing-here --rev 1" 2>err &&
	test_line_count = 1 err &&
	grep "nothing at .nothing-here. in revision 1" err &&
	test_expect_code 1 sh -c "cd a && soc restore ../outside --rev 1" 2>err &&
	test_line_count = 1 err &&
	test_expect_code 1 sh -c "cd a && soc log ../outside" 2>err &&
	test "$(tree_sum a)" = "$before"
'

test_expect_success 'a directory where a file was: exit 1, one line, nothing changed' '
	mkdir a/D/f.txt.d &&
	rm a/D/f.txt && mv a/D/f.txt.d a/D/f.txt && echo in >a/D/f.txt/in &&
	before=$(ws_sum a) &&
	test_expect_code 1 sh -c "cd a && soc restore D --rev 1" 2>err &&
	grep -v warning err >err1 &&
	test_line_count = 1 err1 &&
	grep "cannot restore .D/f.txt.: something that is not a file is in the way" err1 &&
	test "$(ws_sum a)" = "$before" &&
	rm -r a/D/f.txt && echo local >a/D/f.txt
'

test_expect_success '--before picks the newest revision before a time' '
	for t in 2000-01-01 "2000-01-01 10:00" "2000-01-01 10:00:59" 2000-01-01T10:00:00Z \
		2000-01-01T10:00:00.5-02:30 946720800; do
		test_expect_code 1 sh -c "cd a && soc restore D/g --before \"\$1\"" sh "$t" 2>err &&
		grep "nothing at .D/g. in revision 0" err || return 1
	done &&
	for t in 2000-13-01 "2000-01-01 24:00" 2000-01-01T10:00+5 "2000-01-01 10" 2000-1-1 yesterday; do
		test_expect_code 2 sh -c "cd a && soc restore D/g --before \"\$1\"" sh "$t" 2>err || return 1
	done &&
	(cd b && soc restore D/g --before "$(($(date +%s) + 60))") 2>err &&
	test "$(cat b/D/g)" = gee2 &&
	(cd b && soc restore D/g --before "2999-01-01T00:00:00+01:00") 2>err &&
	grep "nothing to restore" err
'

test_expect_success 'after soc serve gc past retention: not kept, and restore changes nothing' '
	SOC_TEST_NOW=$(($(date +%s) + 40 * 86400)) soc serve gc --root server 2>out &&
	grep "^gc: removed [1-9]" out &&
	(cd a && soc log D/f.txt) >out &&
	grep -E "^r2 .* D/f\.txt  7 bytes \(not kept\)$" out &&
	(cd b && soc status --porcelain --offline) >st.before &&
	before=$(ws_sum b) &&
	test_expect_code 1 sh -c "cd b && soc restore . --rev 1" 2>err &&
	test_line_count = 1 err &&
	grep "no longer kept" err &&
	test "$(ws_sum b)" = "$before" &&
	(cd b && soc status --porcelain --offline) >st &&
	test_cmp st.before st
'

test_done
