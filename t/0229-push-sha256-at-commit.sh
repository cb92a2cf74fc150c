#!/bin/sh
# A push line may leave a changed file's sha256 to the commit
# ("sha256":null; the commit's body is {"sha256":{PATH:SHA256}}), so the
# client hashes a big file while rsync sends it (PROTOCOL.md section 5).
# The server takes it only for a changed file, needs it at the commit for
# each such file and for no other, checks the staged file against it like
# any other, drops a file found back at its base, and keeps it for an
# apply a crash interrupted. soc push does it for a file of 16 MiB or more.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r
MB=17	# past PUSH_LATER_MIN

# later PATH FILE BASE: FILE's push line with its sha256 left to the commit.
later() {
	change "$@" | sed 's/"sha256":"[0-9a-f]*"/"sha256":null/'
}

# commit_with [PATH SHA256]...: the commit, its body naming those.
commit_with() {
	cw=
	while [ $# -gt 1 ]; do
		cw="$cw${cw:+,}\"$1\":\"$2\""
		shift 2
	done
	api POST "push/$TXN/commit" -H "Content-Type: application/json" --data-binary "{\"sha256\":{$cw}}"
}

test_expect_success_here 'a server that says it takes a sha256 at the commit, holding f and g' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	test "$(api GET info)" = 200 &&
	grep "\"sha256_at_commit\": *true" out &&
	mkdir w &&
	echo one >w/f &&
	echo kept >w/g &&
	{ change f w/f && change g w/g; } >body &&
	push_all w body &&
	snapshot "$R" >before
'

test_expect_success 'a new file or a symlink may not leave it (400), and nothing changes' '
	echo two >w/n &&
	later n w/n >body &&
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body)" = 400 &&
	grep "a sha256 left to the commit for a new file" out &&
	ln -s f w/l &&
	printf "{\"path\":\"l\",\"sha256\":null,\"size\":1,\"mtime\":1,\"mode\":40960,\"base\":\"%s\",\"target\":\"f\"}\n" \
		"$(hash_of w/f)" >body &&
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body)" = 400 &&
	grep "for a symlink" out &&
	snapshot "$R" >after &&
	test_cmp before after
'

test_expect_success_here 'a changed file leaves it: the begin takes it, and rsync sends the file' '
	base=$(hash_of w/f) &&
	echo "one, changed" >w/f &&
	later f w/f "$base" >body &&
	push_begin body &&
	echo f >expect &&
	test_cmp expect upload &&
	push_upload w
'

test_expect_success 'a commit that gives none (400) or one for another path too (400): still open' '
	test "$(api POST "push/$TXN/commit")" = 400 &&
	grep "\"bad_request\"" out &&
	grep "\"f\"" out &&
	test "$(commit_with f "$(hash_of w/f)" g "$(hash_of w/f)")" = 400 &&
	grep "a path whose line did not leave it" out &&
	test "$(commit_with f nothex)" = 400 &&
	snapshot "$R" | grep -v "^staging" >after &&
	grep -v "^staging" before >expect &&
	test_cmp expect after
'

test_expect_success 'a sha256 other than the staged file: 422, as for any file' '
	test "$(commit_with f "$(echo other | sha256sum | cut -c1-64)")" = 422 &&
	grep "\"staged_mismatch\"" out &&
	test "$(cat "$R/files/f")" = one
'

test_expect_success 'the staged file'"'"'s own: it lands, named by it in the head' '
	test "$(commit_with f "$(hash_of w/f)")" = 200 &&
	test "$(cat "$R/files/f")" = "one, changed" &&
	head_list >list &&
	grep "^$(hash_of w/f) 644 f\$" list
'

test_expect_success 'a file back at its base content and mode: no change, no revision' '
	rev=$(head_rev) &&
	base=$(hash_of w/f) &&
	later f w/f "$base" | sed "s/}\$/,\"base_mode\":420}/" >body &&
	push_begin body &&
	push_upload w &&
	test "$(commit_with f "$base")" = 200 &&
	grep "\"already\": *true" out &&
	test "$(head_rev)" = "$rev"
'

test_expect_success_here 'an apply a crash cut short finishes with the sha256 the commit gave' '
	kill "$SERVER_PID" &&
	wait "$SERVER_PID" 2>/dev/null;
	SOC_TEST_APPLY_DELAY_MS=3000 &&
	export SOC_TEST_APPLY_DELAY_MS &&
	start_server "$R" &&
	unset SOC_TEST_APPLY_DELAY_MS &&
	base=$(hash_of w/f) &&
	echo "one, changed again" >w/f &&
	{ later f w/f "$base" && later g w/g "$(hash_of w/g)" | sed "s/}\$/,\"base_mode\":420}/"; } >body &&
	push_begin body &&
	push_upload w &&
	{ commit_with f "$(hash_of w/f)" g "$(hash_of w/g)" >code & } &&
	n=0 &&
	until [ "$(sqlite3 "$R/soc.db" "SELECT state FROM txns WHERE id = '\''$TXN'\''")" = applying ]; do
		n=$((n + 1)) &&
		[ $n -lt 100 ] || return 1
		sleep 0.05
	done &&
	kill -KILL "$SERVER_PID" &&
	wait "$SERVER_PID" 2>/dev/null;
	wait &&
	start_server "$R" &&
	grep "finished revision" r.log &&
	test "$(cat "$R/files/f")" = "one, changed again" &&
	head_list >list &&
	grep "^$(hash_of w/f) 644 f\$" list &&
	grep "^$(hash_of w/g) 644 g\$" list &&
	test "$(sqlite3 "$R/soc.db" "SELECT count(*) FROM changes WHERE path = '\''g'\''")" = 1 &&
	soc serve check --root "$R"
'

# The client's rsync, wrapped: it notes what the server's txn_items holds
# for the big file while the push is open ('' until the commit gives it);
# once, when $TRASH/grow-once is there, it appends to the file first; and
# while $TRASH/slow is there it waits 5 s before it runs rsync.
wrap_client_rsync() {
	real=$(command -v rsync) &&
	mkdir -p wrap &&
	cat >wrap/rsync <<EOS &&
#!/bin/sh
case "\$*" in
*soc::push*)
	sqlite3 "$TRASH/server/soc.db" "SELECT quote(sha256) FROM txn_items WHERE path = 'Big/disk.img'" >>"$TRASH/txn-sha"
	if [ -e "$TRASH/grow-once" ]; then rm "$TRASH/grow-once"; echo more >>"$TRASH/a/Big/disk.img"; fi
	if [ -e "$TRASH/slow" ]; then sleep 5; fi
	echo ran >>"$TRASH/rsync-ran";;
esac
exec "$real" "\$@"
EOS
	chmod +x wrap/rsync
}

test_expect_success_here 'soc push: a big edited file is hashed during the transfer, and lands' '
	setup_two &&
	wrap_client_rsync &&
	PATH=$TRASH/wrap:$PATH &&
	mkdir a/Big &&
	head -c $((MB << 20)) /dev/urandom >a/Big/disk.img &&
	(cd a && soc add -q -r Big && soc push -q) &&
	(cd b && soc pull -q) &&
	printf "an edit" | dd of=a/Big/disk.img bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	: >txn-sha &&
	(cd a && soc push -q) &&
	echo "'"''"'" >expect &&
	test_cmp expect txn-sha &&
	cmp a/Big/disk.img server/files/Big/disk.img &&
	(cd a && soc status) >st &&
	grep "nothing to push" st &&
	(cd b && soc pull -q) &&
	cmp a/Big/disk.img b/Big/disk.img
'

test_expect_success 'only touched: no new revision, whether rsync ended first or the hash' '
	rev=$(head_rev) &&
	touch -d "2001-01-01" a/Big/disk.img &&
	(cd a && soc push) >out 2>&1 &&
	grep "held every change already\|everything up to date" out &&
	test "$(head_rev)" = "$rev" &&
	(cd a && soc status) >st &&
	grep "nothing to push" st
'

test_expect_success 'only touched, rsync slow to start: the hash ends it, the push is dropped' '
	rev=$(head_rev) &&
	touch -d "2002-02-02" a/Big/disk.img &&
	: >slow &&
	rm -f rsync-ran &&
	(cd a && soc push) >out 2>&1 &&
	rm slow &&
	grep "everything up to date" out &&
	! test -e rsync-ran &&
	grep "DELETE /api/v1/push/[0-9a-f]* 204" server.log &&
	test "$(head_rev)" = "$rev" &&
	(cd a && soc status) >st &&
	grep "nothing to push" st
'

test_expect_success 'changed while rsync sends it: the push scans again and sends what is there' '
	: >grow-once &&
	printf "x" | dd of=a/Big/disk.img bs=1 seek=5 conv=notrunc 2>/dev/null &&
	(cd a && soc push) >out 2>&1 &&
	! test -e grow-once &&
	grep "rescanning and trying once more" out &&
	cmp a/Big/disk.img server/files/Big/disk.img
'

test_expect_success 'with -f it reads every file first: its line names the sha256' '
	printf "y" | dd of=a/Big/disk.img bs=1 seek=9 conv=notrunc 2>/dev/null &&
	: >txn-sha &&
	(cd a && soc push -q -f) &&
	grep "^'"'"'[0-9a-f]\{64\}'"'"'\$" txn-sha &&
	cmp a/Big/disk.img server/files/Big/disk.img
'

test_done
