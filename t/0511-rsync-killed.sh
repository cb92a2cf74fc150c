#!/bin/sh
# An rsync killed mid-transfer, on either side of the tunnel: the push or
# pull fails with a clear message, the server's head and files/ are as
# before, the workspace keeps its content, and the next run works.
. "$(dirname "$0")/lib.sh"

# New files go by rsync too here, as to a server older than the upload
# stream (upload.c): the push's rsync is the one killed; and the pull's,
# which takes no fetch stream (t/0434 cuts that one).
SOC_TEST_NO_UPLOAD=1
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_UPLOAD SOC_TEST_NO_FETCH

# An rsync on PATH (the server's too, which shares it) that, when the file
# $TRASH/kill names a side (client or server), runs slowed down on both
# sides (a receiver's --bwlimit does not slow its sender) and kills the
# named side's rsync with SIGKILL 0.5 s in: mid-transfer.
real=$(command -v rsync)
mkdir -p "$TRASH/wrap"
cat >"$TRASH/wrap/rsync" <<EOS
#!/bin/sh
side=client
[ "\$1" = --server ] && side=server
kill=\$(cat "$TRASH/kill" 2>/dev/null)
[ -z "\$kill" ] && exec "$real" "\$@"
[ "\$kill" != "\$side" ] && exec "$real" --bwlimit=1000 "\$@"
# An asynchronous list starts with /dev/null as its stdin: keep ours.
exec 3<&0
"$real" --bwlimit=1000 "\$@" <&3 &
pid=\$!
sleep 0.5
kill -KILL \$pid && echo "killed \$side rsync" >>"$TRASH/kills"
wait \$pid
EOS
chmod +x "$TRASH/wrap/rsync"
PATH=$TRASH/wrap:$PATH
export PATH

# store: where the server keeps staging/ and commit/: server/, or on a
# cluster node its blob directory.
store() {
	if [ -f server/blobs.dir ]; then
		cat server/blobs.dir
	else
		echo server
	fi
}

server_head() {
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" |
		sed -n 's/.*"head":\([0-9]*\).*/\1/p'
}

test_expect_success_here 'a server and two workspaces in sync' '
	setup_two &&
	mkdir a/D &&
	echo one >a/D/one &&
	(cd a && soc add -r D -q && soc push -q) &&
	(cd b && soc pull -q) &&
	head -c 8000000 /dev/urandom >a/D/big
'

for side in client server; do
	test_expect_success "the $side's rsync killed mid-push: push fails, nothing lands" '
		echo '$side' >kill &&
		t=$(server_tree server) && tree_sum "$t" >before &&
		(cd a && test_expect_code 1 soc push) 2>err &&
		grep "killed '$side' rsync" kills &&
		grep "^soc push: .*rsync" err &&
		test "$(server_head)" = 1 &&
		t=$(server_tree server) && tree_sum "$t" >after &&
		test_cmp before after &&
		soc serve check --root server &&
		(cd a && soc status --porcelain --offline) >out &&
		echo "A D/big" >expect &&
		test_cmp expect out
	'
done

test_expect_success 'nothing killed, the push works' '
	rm kill &&
	(cd a && soc push -q) &&
	test "$(server_head)" = 2 &&
	t=$(server_tree server) && test "$(hash_of a/D/big)" = "$(hash_of "$t/D/big")" &&
	test -z "$(ls "$(store)/staging")"
'

for side in client server; do
	test_expect_success "the $side's rsync killed mid-pull: pull fails, b keeps its files" '
		echo '$side' >kill &&
		ws_sum b >before &&
		(cd b && test_expect_code 1 soc pull) 2>err &&
		grep "^soc pull: .*rsync" err &&
		ws_sum b >after &&
		test_cmp before after &&
		(cd b && soc status --porcelain) >out &&
		test_must_be_empty out
	'
done

test_expect_success 'nothing killed, the pull works' '
	rm kill &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	soc serve check --root server &&
	test -z "$(find "$(store)/staging" "$(store)/commit" -mindepth 1)"
'

test_done
