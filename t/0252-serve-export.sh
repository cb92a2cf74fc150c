#!/bin/sh
# soc serve export DEST [--rev R]: a revision's tree from the version
# store, each file checked against its sha256, all or nothing: a refusal
# or a failure leaves DEST as it was and nothing beside it.
. "$(dirname "$0")/lib.sh"

DAY=86400

# Every name, its type, mode, size, mtime and content (or target), for comparing trees.
tree_list() {
	(cd "$1" &&
		find . -path ./.soc -prune -o -type d ! -name . -printf '%p d\n' \
			-o -type f -printf '%p f %m %s %T@\n' -o -type l -printf '%p l %l\n' |
			sed 's/ \([0-9]*\)\.[0-9]*$/ \1/' | LC_ALL=C sort &&
		find . -path ./.soc -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# No export in progress was left beside DEST (in the test's directory).
no_leftover() {
	! ls -A | grep -F ".soc-export-"
}

test_expect_success_here 'r1 with an executable, a link and a subdirectory; r2 changes, deletes, adds' '
	setup_two &&
	mkdir -p a/D/sub &&
	echo one >a/D/x &&
	printf "#!/bin/sh\n" >a/D/exe && chmod 755 a/D/exe &&
	echo y1 >a/D/sub/y &&
	ln -s x a/D/ln &&
	(cd a && soc add -r D -q && soc push -q) &&
	tree_list a >r1.list &&
	sleep 1 &&
	echo two >a/D/x &&
	rm a/D/sub/y && rmdir a/D/sub &&
	echo zed >a/D/z &&
	(cd a && soc add D/z -q && soc push -q) &&
	tree_list a >r2.list &&
	NOW=$(date +%s)
'

test_expect_success 'the head by default: every file, mode, mtime and link as pushed' '
	soc serve export head --root server >out 2>err &&
	grep -x "r2: 3 files of 18 bytes and 1 link into .head." err &&
	tree_list head >got &&
	test_cmp r2.list got &&
	test -w head/D/x &&
	no_leftover
'

test_expect_success '--rev r1, and --rev 1 into an empty directory, give the tree of r1' '
	soc serve export old --rev r1 --root server 2>err &&
	tree_list old >got &&
	test_cmp r1.list got &&
	mkdir empty &&
	soc serve export empty/ --rev 1 --root server 2>err &&
	tree_list empty >got &&
	test_cmp r1.list got &&
	no_leftover
'

test_expect_success 'an export is a copy: editing it leaves the store whole' '
	echo edited >>head/D/z &&
	soc serve check --root server
'

test_expect_success 'refusals: each one line, an exit code, and nothing changed' '
	mkdir full && echo keep >full/f && tree_sum full >before &&
	test_expect_code 1 soc serve export full --root server 2>err &&
	grep -x "soc serve: .full. is not empty" err &&
	tree_sum full >after && test_cmp before after &&
	echo file >afile &&
	test_expect_code 1 soc serve export afile --root server 2>err &&
	grep -x "soc serve: .afile. exists and is not a directory" err &&
	test "$(cat afile)" = file &&
	test_expect_code 1 soc serve export new --rev r9 --root server 2>err &&
	grep -x "soc serve: no revision r9: the head is r2" err &&
	test_expect_code 2 soc serve export new --rev last --root server 2>err &&
	grep "^soc serve: --rev wants a revision (r12 or 12), not .last.$" err &&
	test_expect_code 2 soc serve export new --rev 0 --root server 2>/dev/null &&
	test_expect_code 2 soc serve check --rev 1 --root server 2>/dev/null &&
	test_expect_code 2 soc serve export --root server 2>/dev/null &&
	test_expect_code 2 soc serve export new other --root server 2>/dev/null &&
	test_expect_code 1 soc serve export new --root nowhere 2>/dev/null &&
	! test -e new &&
	no_leftover
'

test_expect_success 'a blob that is not what its name says is named; nothing is left' '
	h=$(printf "zed\n" | sha256sum | cut -d" " -f1) &&
	blob=server/versions/$(echo "$h" | cut -c1-2)/$h &&
	test -f "$blob" &&
	cp -p "$blob" saved &&
	test_when_finished "cat \"$TRASH/saved\" >\"$TRASH/$blob\"" &&
	echo zeD >"$blob" &&
	test_expect_code 1 soc serve export bad --root server 2>err &&
	grep -x "soc serve: the version of .D/z. at r2 is not the content its sha256 names: run .soc serve check." err &&
	! test -e bad &&
	no_leftover
'

test_expect_success 'a version gc has removed is named; the head still exports' '
	SOC_TEST_NOW=$((NOW + 31 * DAY)) soc serve gc --root server 2>out &&
	test_expect_code 1 soc serve export gone --rev r1 --root server 2>err &&
	grep "^soc serve: the version of .D/[a-z/]*. at r1 is no longer kept (gc removed it)$" err &&
	! test -e gone &&
	no_leftover &&
	soc serve export again --root server 2>err &&
	tree_list again >got &&
	test_cmp r2.list got
'

test_done
