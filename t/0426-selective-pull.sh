#!/bin/sh
# Selective pull (issue 17): a path .socignore ignores here is never
# downloaded nor tracked, though another machine has it; it arrives once
# the pattern is gone, as the head has it then. A tracked file is synced
# whatever .socignore says, as push does. `soc pull PATH...` takes only
# the changes at or under those paths and leaves the rest for a later pull.
. "$(dirname "$0")/lib.sh"

# what rsync received is this test's probe (t/0434 checks the fetch stream's).
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

# rsync, recording the files each run left in its destination (its last argument).
wrap_rsync_received() {
	real=$(command -v rsync)
	mkdir -p "$TRASH/wrap"
	cat >"$TRASH/wrap/rsync" <<EOS
#!/bin/sh
for last in "\$@"; do :; done
"$real" "\$@"
rc=\$?
[ -d "\$last" ] && (cd "\$last" && find . -type f) >>"$TRASH/received"
exit \$rc
EOS
	chmod +x "$TRASH/wrap/rsync"
	PATH=$TRASH/wrap:$PATH
	export PATH
}

test_expect_success_here 'a/ pushes Docs/ (1,100 files), Music/ (300) and a tracked keep/' '
	setup_two &&
	soc init c --remote "$URL" -q &&
	python3 - a/Data <<-\EOP &&
	import os, sys
	top = sys.argv[1]
	for sub, n in (("Docs", 1100), ("Music", 300)):
	    for i in range(n):
	        d = os.path.join(top, sub, "d%02d" % (i // 100))
	        os.makedirs(d, exist_ok=True)
	        with open(os.path.join(d, "f%04d" % i), "w") as f:
	            f.write("%s %d\n" % (sub, i))
	EOP
	mkdir a/Data/keep &&
	echo k1 >a/Data/keep/k &&
	(cd a && soc add -q -r Data && soc push -q) &&
	printf "Music/\n" >b/.socignore &&
	wrap_rsync_received
'

test_expect_success 'b/ ignores Music/: its first pull never downloads a byte of it' '
	(cd b && soc pull -q) &&
	test -f b/Data/Docs/d10/f1099 &&
	test -f b/Data/keep/k &&
	! test -e b/Data/Music &&
	grep -q "f1099" received &&
	! grep "Music" received &&
	(cd b && soc status --porcelain) >out &&
	test_must_be_empty out &&
	(cd b && soc status) >out &&
	! grep "new revision" out
'

test_expect_success 'c/ ignores nothing and has all of it' '
	(cd c && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum c)"
'

test_expect_success 'changes under Music/ pass b/ by; the rest arrives' '
	echo edited >a/Data/Music/d00/f0000 &&
	rm a/Data/Music/d02/f0299 &&
	echo d2 >a/Data/Docs/d00/f0000 &&
	(cd a && soc push -q) &&
	: >received &&
	(cd b && soc pull -q) &&
	! test -e b/Data/Music &&
	! grep "Music" received &&
	test "$(cat b/Data/Docs/d00/f0000)" = d2
'

test_expect_success 'a file b/ tracks is synced though .socignore ignores it now' '
	printf "Music/\nkeep/\n" >b/.socignore &&
	echo k2 >a/Data/keep/k &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(cat b/Data/keep/k)" = k2
'

test_expect_success 'the pattern gone, the next pull brings Music/ as the head has it, tracked' '
	printf "keep/\n" >b/.socignore &&
	(cd b && soc pull -q) &&
	test "$(cat b/Data/Music/d00/f0000)" = edited &&
	! test -e b/Data/Music/d02/f0299 &&
	ws_sum a >want &&
	ws_sum b | grep -v " ./.socignore$" >got &&
	test_cmp want got &&
	(cd b && soc status --porcelain) >out &&
	test_must_be_empty out &&
	echo edited-in-b >b/Data/Music/d01/f0100 &&
	(cd b && soc status --porcelain) >out &&
	echo "M Data/Music/d01/f0100" >want &&
	test_cmp want out &&
	(cd b && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(cat a/Data/Music/d01/f0100)" = edited-in-b
'

test_expect_success 'a pattern added back leaves what is tracked tracked' '
	printf "keep/\nMusic/\n" >b/.socignore &&
	echo again >a/Data/Music/d01/f0100 &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(cat b/Data/Music/d01/f0100)" = again
'

test_expect_success 'soc pull PATH takes only the changes under PATH' '
	(cd c && soc pull -q) &&
	echo d3 >a/Data/Docs/d00/f0000 &&
	echo k3 >a/Data/keep/k &&
	mkdir a/Data/new &&
	echo n >a/Data/new/n &&
	(cd a && soc add -q Data/new/n && soc push -q) &&
	(cd c && soc pull -n Data/keep) >out &&
	echo "update   Data/keep/k" >want &&
	test_cmp want out &&
	(cd c/Data && soc pull -q keep new) &&
	test "$(cat c/Data/keep/k)" = k3 &&
	test "$(cat c/Data/new/n)" = n &&
	test "$(cat c/Data/Docs/d00/f0000)" = d2 &&
	(cd c && soc status --porcelain) >out &&
	test_must_be_empty out &&
	(cd c && soc status) >out &&
	grep "has 1 new revision" out
'

test_expect_success 'the next whole pull brings the rest and finds the rest done' '
	(cd c && soc pull) 2>err &&
	grep "1 updated" err &&
	test "$(ws_sum a)" = "$(ws_sum c)" &&
	(cd c && soc status) >out &&
	! grep "new revision" out
'

test_expect_success 'a path outside the workspace or a --resync with paths: exit 2, nothing changed' '
	ws_sum c >before &&
	test_expect_code 2 sh -c "cd c && soc pull ../a" 2>err &&
	test_line_count = 1 err &&
	test_expect_code 2 sh -c "cd c && soc pull --resync Data" 2>err &&
	head -n 1 err | grep -e "--resync compares every file; it takes no paths" &&
	ws_sum c >after &&
	test_cmp before after
'

test_done
