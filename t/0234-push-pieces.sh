#!/bin/sh
# A big file a push hashed leaves its pieces in the index (db_pieces.c):
# for each MiB the sha256 state after it and a sum of its bytes. The next
# push of an edit to it hashes only from the first piece whose sum
# changed (hash_pieces.c). Such a digest is a claim the server checks: a
# wrong one (SOC_TEST_PIECES_COLLIDE takes every sum as unchanged, as if
# each collided) is a 422, and the retry hashes the whole file; one that
# names the file's base, which nobody would check, is taken again from
# the whole file before the push believes it (a touch alone is t/0229's).
# $TRASH/stats gets a line a hash, "resumed BYTES of SIZE".
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

MB=17	# past PUSH_LATER_MIN
SOC_TEST_PIECES_STATS=$TRASH/stats
export SOC_TEST_PIECES_STATS

pieces() {
	sqlite3 a/.soc/index.db "SELECT path, shift, length(rec) / 40 FROM pieces"
}

landed() {
	cmp a/Big/disk.img "$TRASH/server/files/Big/disk.img" &&
	(cd a && soc status) >st &&
	grep "nothing to push" st
}

test_expect_success_here 'a big file pushed, then an edit: hashed whole, its pieces kept' '
	setup_two &&
	mkdir a/Big &&
	head -c $((MB << 20)) /dev/urandom >a/Big/disk.img &&
	head -c 100 /dev/urandom >>a/Big/disk.img &&
	(cd a && soc add -q -r Big && soc push -q) &&
	! test -e stats &&
	edit a/Big/disk.img 2 &&
	(cd a && soc push -q) &&
	echo "resumed 0 of $(((MB << 20) + 100))" >expect &&
	test_cmp expect stats &&
	echo "Big/disk.img|20|$MB" >expect &&
	pieces >got &&
	test_cmp expect got &&
	landed
'

test_expect_success 'the next edit: hashed from its first changed piece, and lands' '
	: >stats &&
	edit a/Big/disk.img 12 &&
	(cd a && soc push -q) &&
	echo "resumed $((12 << 20)) of $(((MB << 20) + 100))" >expect &&
	test_cmp expect stats &&
	landed &&
	(cd b && soc pull -q) &&
	cmp a/Big/disk.img b/Big/disk.img
'

test_expect_success 'a grown file resumes at its old end' '
	: >stats &&
	head -c $((2 << 20)) /dev/urandom >>a/Big/disk.img &&
	(cd a && soc push -q) &&
	echo "resumed $((MB << 20)) of $(((MB + 2 << 20) + 100))" >expect &&
	test_cmp expect stats &&
	landed
'

test_expect_success 'a wrong claim (every sum collides): 422, the retry hashes whole, the edit lands' '
	: >stats &&
	rev=$(head_rev) &&
	edit a/Big/disk.img 3 &&
	head -c 100 /dev/urandom >>a/Big/disk.img &&
	(cd a && SOC_TEST_PIECES_COLLIDE=1 soc push) >out 2>&1 &&
	grep "changed while being sent" out &&
	grep "rescanning and trying once more" out &&
	size=$(wc -c <a/Big/disk.img) &&
	printf "resumed %s of %s\nresumed 0 of %s\n" $(((MB + 2) << 20)) $size $size >expect &&
	test_cmp expect stats &&
	test "$(head_rev)" = $((rev + 1)) &&
	landed &&
	(cd b && soc pull -q) &&
	cmp a/Big/disk.img b/Big/disk.img
'

test_expect_success 'a claim that names the base is hashed again: the edit is not taken for a touch' '
	: >stats &&
	rev=$(head_rev) &&
	edit a/Big/disk.img 5 &&
	(cd a && SOC_TEST_PIECES_COLLIDE=1 soc push) >out 2>&1 &&
	! grep "up to date\|changed while being sent" out &&
	size=$(wc -c <a/Big/disk.img) &&
	echo "resumed 0 of $size" >expect &&
	test_cmp expect stats &&
	test "$(head_rev)" = $((rev + 1)) &&
	landed
'

test_expect_success 'a spoilt row in the index is not used' '
	: >stats &&
	sqlite3 a/.soc/index.db "UPDATE pieces SET rec = x'"'"'00'"'"'" &&
	edit a/Big/disk.img 14 &&
	(cd a && soc push -q) &&
	grep "^resumed 0 of" stats &&
	landed
'

test_done
