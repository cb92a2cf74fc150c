#!/bin/sh
# A big changed file is hashed while rsync stages it (stage_follow.c), so
# the commit does not read it again: the digest is taken only for the
# inode rsync renamed into place, and only when it covers the whole file;
# it is checked against the push's sha256 like one taken at the commit.
# The next edit of a file so followed compares each piece rsync writes
# with the version it replaces until one differs, and hashes on from the
# state kept there; a digest taken so that is not the push's is hashed
# again at the commit. $TRASH/stats gets a line a commit, "followed BYTES
# hashed BYTES", after one a followed push, "skipped BYTES".
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r
MB=17	# past FOLLOW_MIN_BYTES
SOC_TEST_FOLLOW_STATS=$TRASH/stats
export SOC_TEST_FOLLOW_STATS

last_stats() {
	tail -n 1 "$TRASH/stats"
}

last_skipped() {
	grep "^skipped" "$TRASH/stats" | tail -n 1
}

# stats_are FOLLOWED HASHED: the last commit's line says so.
stats_are() {
	echo "followed $1 hashed $2" >expect &&
	last_stats >actual &&
	test_cmp expect actual
}

# begin_edit: w/d/big and h/d/big edited apart; a push of w's begun.
begin_edit() {
	base=$(hash_of "$R/files/d/big") &&
	edit w/d/big "$1" &&
	edit h/d/big "$2" &&
	change d/big w/d/big "$base" >body &&
	push_begin body
}

# push_edit MIB SKIPPED: w/d/big edited at MiB MIB, pushed over $base and
# committed, followed; SKIPPED MiB of it found the same as the last version.
push_edit() {
	edit w/d/big "$1" &&
	change d/big w/d/big "$base" >body &&
	push_begin body &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	stats_are $((MB << 20)) 0 &&
	test "$(last_skipped)" = "skipped $(($2 << 20))" &&
	cmp w/d/big "$R/files/d/big"
}

test_expect_success_here 'a server holding a big file' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir -p w/d &&
	head -c $((MB << 20)) /dev/urandom >w/d/big &&
	change d/big w/d/big >body &&
	push_all w body &&
	stats_are 0 $((MB << 20))
'

test_expect_success 'a changed big file: hashed while rsync wrote it, not at the commit' '
	base=$(hash_of "$R/files/d/big") &&
	edit w/d/big 5 &&
	change d/big w/d/big "$base" >body &&
	push_begin body &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	stats_are $((MB << 20)) 0 &&
	cmp w/d/big "$R/files/d/big"
'

test_expect_success 'rsync run twice: the digest of the file it left in place is the one taken' '
	mkdir -p h/d &&
	cp w/d/big h/d/big &&
	begin_edit 9 11 &&
	push_upload h &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	stats_are $((MB << 20)) 0 &&
	cmp w/d/big "$R/files/d/big"
'

test_expect_success 'the next edit: the pieces before it are compared with the last version, not hashed' '
	base=$(hash_of "$R/files/d/big") &&
	push_edit 12 12
'

test_expect_success 'content other than the push named, its digest resting on kept states: hashed at the commit, refused (422)' '
	begin_edit 2 4 &&
	push_upload w &&
	push_upload h &&
	test "$(push_commit)" = 422 &&
	grep "\"staged_mismatch\"" out &&
	stats_are 0 $((MB << 20)) &&
	test "$(hash_of "$R/files/d/big")" = "$base" &&
	: the same push sent again and committed: hashed at the commit this time &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	stats_are 0 $((MB << 20)) &&
	cmp w/d/big "$R/files/d/big"
'

test_expect_success 'an aborted push with a big file followed: its staging goes, the server goes on' '
	base=$(hash_of "$R/files/d/big") &&
	edit w/d/big 3 &&
	change d/big w/d/big "$base" >body &&
	push_begin body &&
	push_upload w &&
	test "$(api DELETE "push/$TXN")" = 204 &&
	! test -e "$R/staging/$TXN" &&
	test "$(hash_of "$R/files/d/big")" = "$base" &&
	push_all w body &&
	cmp w/d/big "$R/files/d/big"
'

test_expect_success 'the last version changed on the server disk: its bytes are compared, never trusted' '
	base=$(hash_of "$R/files/d/big") &&
	printf "bit rot" | dd of="$R/files/d/big" bs=1M seek=3 conv=notrunc 2>/dev/null &&
	push_edit 14 3
'

test_expect_success_here 'soc push of an edit in a big file: followed, and the other side pulls it' '
	setup_two &&
	mkdir a/Big &&
	head -c $((MB << 20)) /dev/urandom >a/Big/disk.img &&
	(cd a && soc add -q -r Big && soc push -q) &&
	(cd b && soc pull -q) &&
	edit a/Big/disk.img 7 &&
	(cd a && soc push -q) &&
	stats_are $((MB << 20)) 0 &&
	(cd b && soc pull -q) &&
	cmp a/Big/disk.img b/Big/disk.img
'

test_done
