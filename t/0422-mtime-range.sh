#!/bin/sh
# mtimes outside what soc keeps (int64 nanoseconds: 1677-09-21 to
# 2262-04-11): a local file's is clamped to the nearer end, never wrapped
# (the sanitizer build aborted on the overflow, the plain one sent 1901),
# and push says so naming the file; a push line's outside is refused with
# 400. Workspaces and the server on tmpfs, which keeps any time (ext4
# stops at 1901).
TEST_PRIVATE_MOUNTS=1
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

M=$TRASH/m
LAST=9223372035
FIRST=-9223372035

test_expect_success_here 'a server and two workspaces on tmpfs' '
	mount_tmpfs "$M" 64m &&
	start_server "$M/server" &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN && TOKEN=$ADMIN_TOKEN &&
	soc init "$M/a" --remote "$URL" -q &&
	soc init "$M/b" --remote "$URL" -q
'

test_expect_success 'files from 2300, 1800 and 1600: add and status work' '
	echo late >"$M/a/late" && touch -d "2300-01-01 UTC" "$M/a/late" &&
	echo old >"$M/a/old" && touch -d "1800-01-01 UTC" "$M/a/old" &&
	echo older >"$M/a/older" && touch -d "1600-01-01 UTC" "$M/a/older" &&
	test "$(stat -c %Y "$M/a/older")" -lt $FIRST &&
	(cd "$M/a" && soc add late old older -q && soc status --porcelain --offline) >out &&
	printf "A late\nA old\nA older\n" >expect &&
	test_cmp expect out
'

test_expect_success 'push sends the clamped times, saying so for the two outside' '
	(cd "$M/a" && soc push -q) 2>err &&
	grep "warning: .late.: its mtime is outside 1677-09-21..2262-04-11" err &&
	grep "warning: .older.: its mtime is outside 1677-09-21..2262-04-11" err &&
	! grep "old[^e]" err &&
	t=$(TRASH=$M && server_tree "$M/server") &&
	test "$(stat -c %Y "$t/late")" = $LAST &&
	test "$(stat -c %Y "$t/older")" = $FIRST &&
	test "$(stat -c %Y "$t/old")" = "$(stat -c %Y "$M/a/old")" &&
	(cd "$M/a" && soc status --porcelain) >out &&
	test_must_be_empty out
'

test_expect_success 'pull brings them; both sides stay clean' '
	(cd "$M/b" && soc pull -q) &&
	test "$(cat "$M/b/late")" = late &&
	test "$(cat "$M/b/older")" = older &&
	test "$(stat -c %Y "$M/b/late")" = $LAST &&
	(cd "$M/b" && soc status --porcelain) >out &&
	test_must_be_empty out &&
	(cd "$M/a" && soc status --porcelain) >out &&
	test_must_be_empty out
'

test_expect_success 'a file moved past 2262 after its push: status, push and pull' '
	echo later >"$M/b/late" && touch -d "2400-06-01 UTC" "$M/b/late" &&
	(cd "$M/b" && soc status --porcelain --offline) >out &&
	echo "M late" >expect &&
	test_cmp expect out &&
	(cd "$M/b" && soc push -q) 2>err &&
	grep "late.: its mtime is outside" err &&
	(cd "$M/a" && soc pull -q) &&
	test "$(cat "$M/a/late")" = later &&
	soc serve check --root "$M/server"
'

test_expect_success 'a push line with an mtime outside the range: 400 naming it' '
	echo x >"$M/x" &&
	printf "{\"path\":\"x\",\"sha256\":\"%s\",\"size\":2,\"mtime\":10413792000,\"mode\":420}\n" \
		"$(hash_of "$M/x")" >body &&
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body)" = 400 &&
	grep ".x.: mtime outside 1677-09-21..2262-04-11" out &&
	printf "{\"path\":\"x\",\"sha256\":\"%s\",\"size\":2,\"mtime\":-10413792000,\"mode\":420}\n" \
		"$(hash_of "$M/x")" >body &&
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body)" = 400 &&
	grep "mtime outside" out
'

test_done
