#!/bin/sh
# A big file a pull has no basis for here (PULL_BLOB_MIN, 64 MiB, and
# up) comes by GET /api/v1/blob/<sha256>, hashed as it arrives, not by
# rsync and a second read to check it: the same bytes, mode and mtime as
# rsync would leave. A file here to take a delta from still goes by
# rsync. Bytes that are not the sha256 the server listed are refused and
# placed nowhere.
. "$(dirname "$0")/lib.sh"

SERVER_LOG=$TRASH/server.log

# blob_gets: how many GET blob the server answered 200 (on a cluster,
# either node may have answered one: both logs).
blob_gets() {
	cat "$SERVER_LOG" $(one_node || echo "$TRASH/server.n2.log") |
	grep -c "GET /api/v1/blob/[0-9a-f]* 200" || true
}

test_expect_success_here 'a/ pushes a new 64 MiB file, executable and dated, beside a small one' '
	setup_two &&
	mkdir a/v &&
	dd if=/dev/urandom of=a/v/big.bin bs=1M count=64 2>/dev/null &&
	chmod 755 a/v/big.bin &&
	touch -d "2020-05-06 07:08:09 UTC" a/v/big.bin &&
	echo small >a/small &&
	(cd a && soc add -q -r v small && soc push -q)
'

test_expect_success 'b/ pulls it by GET blob, the small one by rsync: the same bytes, x bit and mtime' '
	test "$(blob_gets)" = 0 &&
	(cd b && soc pull -q) &&
	test "$(blob_gets)" = 1 &&
	cmp a/v/big.bin b/v/big.bin &&
	test "$(stat -c "%a %Y" b/v/big.bin)" = "$(stat -c "%a %Y" a/v/big.bin)" &&
	test "$(cat b/small)" = small &&
	(cd b && soc status --porcelain) >out &&
	test_must_be_empty out
'

test_expect_success 'an edit of it goes by rsync against the copy here, not by GET blob' '
	printf "%4096s" edited | dd of=a/v/big.bin bs=4096 seek=100 conv=notrunc 2>/dev/null &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(blob_gets)" = 1 &&
	cmp a/v/big.bin b/v/big.bin
'

test_expect_success 'bytes the server holds under another sha256: refused, nothing placed, the pull fails' '
	dd if=/dev/urandom of=a/v/other.bin bs=1M count=64 2>/dev/null &&
	(cd a && soc add -q v/other.bin && soc push -q) &&
	sha=$(sha256sum a/v/other.bin | cut -c1-64) &&
	store=$TRASH/server && if ! one_node; then store=$(cat server/blobs.dir); fi &&
	blob=$store/versions/$(echo "$sha" | cut -c1-2)/$sha &&
	printf "%4096s" tampered | dd of="$blob" bs=4096 seek=3 conv=notrunc 2>/dev/null &&
	(cd b && test_expect_code 1 soc pull) 2>err &&
	grep "the server sent other bytes for .v/other.bin. than its sha256 $sha" err &&
	! test -e b/v/other.bin &&
	cmp a/v/big.bin b/v/big.bin
'

test_done
