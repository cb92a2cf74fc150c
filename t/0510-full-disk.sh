#!/bin/sh
# A full disk mid-push and mid-pull: the command fails with a clear
# message, nothing committed or local changes, and once space is freed the
# same command works. Real filesystems: small tmpfs mounts in a mount
# namespace of the test's own.
TEST_PRIVATE_MOUNTS=1
. "$(dirname "$0")/lib.sh"

# The head revision the server reports.
server_head() {
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" |
		sed -n 's/.*"head":\([0-9]*\).*/\1/p'
}

# store_dir ROOT: where ROOT keeps staging/ and commit/: ROOT, or on a
# cluster node its blob directory (ROOT.blobs, on the same filesystem).
store_dir() {
	if [ -f "$1/blobs.dir" ]; then
		cat "$1/blobs.dir"
	else
		echo "$1"
	fi
}

test_expect_success_here 'a server whose root is on a 24 MB filesystem, b on one of 24 MB' '
	mount_tmpfs "$TRASH/sdisk" 24m &&
	mount_tmpfs "$TRASH/bdisk" 24m &&
	start_server "$TRASH/sdisk/r" &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init "$TRASH/bdisk/b" --remote "$URL" -q &&
	mkdir a/D &&
	echo small >a/D/small &&
	(cd a && soc add -r D -q && soc push -q) &&
	(cd "$TRASH/bdisk/b" && soc pull -q) &&
	test "$(server_head)" = 1
'

test_expect_success 'the server fills up mid-push: the push fails and says why' '
	t=$(server_tree "$TRASH/sdisk/r") && tree_sum "$t" >before &&
	fill_until "$TRASH/sdisk" 3000 &&
	head -c 6000000 /dev/urandom >a/D/big &&
	echo changed >a/D/small &&
	# On two nodes under load the big file may land before the disk is
	# full, and the link of the commit into versions/ meet it instead: a 507.
	# What the push said is shown when any of this fails.
	{
		(cd a && test_expect_code 1 soc push) 2>push.err &&
		if one_node; then
			grep "the server cannot store it: No space left on device" push.err
		else
			grep "the server cannot store it: No space left on device\|the server has no space left to commit" push.err
		fi &&
		grep "^soc push: " push.err
	} || { echo "push said:" >&2; cat push.err >&2; tail -n 40 "$TRASH"/r.log "$TRASH"/r.n2.log >&2; false; }
'

test_expect_success 'the head and files/ are as before, and no staging is left' '
	test "$(server_head)" = 1 &&
	t=$(server_tree "$TRASH/sdisk/r") && tree_sum "$t" >after &&
	test_cmp before after &&
	soc serve check --root "$TRASH/sdisk/r" &&
	test -z "$(ls "$(store_dir "$TRASH/sdisk/r")/staging")" &&
	test -z "$(ls "$(store_dir "$TRASH/sdisk/r")/commit")" &&
	(cd a && soc status --porcelain --offline) >out &&
	printf "A D/big\nM D/small\n" >expect &&
	test_cmp expect out
'

test_expect_success 'space freed, the same push works' '
	rm "$TRASH/sdisk/.filler" &&
	(cd a && soc push -q) &&
	test "$(server_head)" = 2 &&
	t=$(server_tree "$TRASH/sdisk/r") && test "$(hash_of a/D/big)" = "$(hash_of "$t/D/big")" &&
	soc serve check --root "$TRASH/sdisk/r"
'

test_expect_success 'b fills up mid-pull: the pull fails, b keeps what it had' '
	fill_until "$TRASH/bdisk" 3000 &&
	tree_sum "$TRASH/bdisk/b" >before &&
	(cd "$TRASH/bdisk/b" && test_expect_code 1 soc pull) 2>pull.err &&
	grep "No space left on device" pull.err &&
	grep "^soc pull: " pull.err &&
	rm -rf "$TRASH/bdisk/b/.soc/incoming" &&
	tree_sum "$TRASH/bdisk/b" | grep -v " ./.soc/" >after &&
	grep -v " ./.soc/" before >before.files &&
	test_cmp before.files after &&
	test "$(cat "$TRASH/bdisk/b/D/small")" = small &&
	(cd "$TRASH/bdisk/b" && soc status --porcelain) >out &&
	test_must_be_empty out
'

test_expect_success 'space freed, the same pull works and b matches a' '
	rm "$TRASH/bdisk/.filler" &&
	(cd "$TRASH/bdisk/b" && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum "$TRASH/bdisk/b")" &&
	soc serve check --root "$TRASH/sdisk/r"
'

# The uploads fit, the commit's links into versions/ do not: a tmpfs
# counts each link against its nr_inodes.
test_expect_success_here 'a server short of inodes: 40 new files fit in the 60 left, their commit does not' '
	mount_tmpfs "$TRASH/idisk" 64m nr_inodes=4000 &&
	start_server "$TRASH/idisk/r" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	soc init c --remote "$URL" -q &&
	echo first >c/first &&
	(cd c && soc add first -q && soc push -q) &&
	mkdir c/N &&
	for i in $(seq 40); do echo "new $i" >c/N/f$i || return 1; done &&
	(cd c && soc add -r N -q) &&
	fill_inodes_until "$TRASH/idisk" 60
'

test_expect_success 'the commit fails and says why; nothing of the push is left on the server' '
	head_before=$(server_head) &&
	(cd c && test_expect_code 5 soc push) 2>push.err &&
	grep "^soc push: the server at .* failed (507): the server has no space left to commit this push" push.err &&
	test "$(server_head)" = "$head_before" &&
	test -z "$(ls "$(store_dir "$TRASH/idisk/r")/staging")" &&
	test -z "$(ls "$(store_dir "$TRASH/idisk/r")/commit")" &&
	t=$(server_tree "$TRASH/idisk/r") && test -z "$(ls -A "$t/N" 2>/dev/null)" &&
	soc serve check --root "$TRASH/idisk/r"
'

test_expect_success 'inodes freed, the retry lands' '
	rm -rf "$TRASH/idisk/.inodes" &&
	(cd c && soc push -q) &&
	t=$(server_tree "$TRASH/idisk/r") && test "$(cat "$t/N/f40")" = "new 40" &&
	(cd c && soc status --porcelain) >out &&
	test_must_be_empty out &&
	soc serve check --root "$TRASH/idisk/r"
'

test_done
