#!/bin/sh
# New files travel in soc's own stream (upload.c, upload_serve.c), not by
# rsync: a first push runs no rsync, and contents, modes and mtimes land
# as they would have; a changed file still goes by rsync's delta, unless
# the push's changed files come to 64 KiB or less in all; a long
# list goes as streams side by side; a server without the stream gets
# rsync. The stream by hand: a record naming a
# path outside the push, a wrong size, an invalid path, a cut record are
# refused with a reason and reach neither files/ nor the head, and a
# record on a path staged as a link to a head file replaces the link,
# never writing through it; a record of 8 MiB or more, hashed on a
# thread of its own, is kept only when it is its sha256 too. Past the
# files a commit syncs one by one, it takes the files a stream kept as
# the stream marked them, without a look, unless one is gone since: that
# one it names missing (422). A file that
# changes while it is sent makes the push rescan and try again; a commit
# refused because another push moved a base leaves the index's bases as
# they were. Four uploads may run into one push, and while any runs, its
# commit and abort wait (409). A stop cuts a stalled upload short.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

wrap_rsync
SOC_TEST_CHECK_STATS=$TRASH/checks
export SOC_TEST_CHECK_STATS

# server_logs: every node's log, server.log and on a cluster server.n2.log
# too (a request may have gone to either node).
server_logs() {
	cat server.log $(one_node || echo server.n2.log)
}

test_expect_success_here 'a first push of new files runs no rsync; every byte, mode and mtime lands' '
	setup_two &&
	mkdir -p a/D/sub &&
	echo one >a/D/one &&
	: >a/D/empty &&
	printf "#!/bin/sh\necho hi\n" >a/D/sub/run &&
	chmod 755 a/D/sub/run &&
	head -c 3000000 /dev/urandom >a/D/sub/big &&
	touch -d "2020-01-02 03:04:05" a/D/one &&
	(cd a && soc add -r D -q && soc push -q) &&
	test "$(client_rsyncs)" = 0 &&
	bytes=$(cat a/D/one a/D/empty a/D/sub/run a/D/sub/big | wc -c) &&
	server_logs | grep "upload into push .*: 4 files, $bytes bytes" &&
	t=$(server_tree server) &&
	test "$(tree_sum a/D)" = "$(tree_sum "$t/D")" &&
	test "$(stat -c %a "$t/D/sub/run")" = 755 &&
	test "$(stat -c %a "$t/D/one")" = 644 &&
	test "$(stat -c %Y "$t/D/one")" = "$(stat -c %Y a/D/one)" &&
	soc serve check --root server &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test -x b/D/sub/run
'

test_expect_success 'a changed file goes by rsync against the old version, a new one beside it by the stream' '
	: >rsync.calls &&
	echo more >>a/D/sub/big &&
	echo new >a/D/new &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 1 &&
	server_logs | grep "upload into push .*: 1 files, 4 bytes" &&
	t=$(server_tree server) &&
	test "$(tree_sum a/D)" = "$(tree_sum "$t/D")"
'

test_expect_success 'changed files of 64 KiB in all go by the stream, no rsync; a byte more by rsync' '
	head -c 65535 /dev/urandom >a/D/c64 &&
	(cd a && soc add D/c64 -q && soc push -q) &&
	: >rsync.calls &&
	printf x >>a/D/c64 &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 0 &&
	server_logs | grep "upload into push .*: 1 files, 65536 bytes" &&
	t=$(server_tree server) &&
	test "$(tree_sum a/D)" = "$(tree_sum "$t/D")" &&
	printf y >>a/D/c64 &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 1 &&
	t=$(server_tree server) &&
	test "$(tree_sum a/D)" = "$(tree_sum "$t/D")" &&
	soc serve check --root server &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'a push of 2,400 new files: a stream a core, at most two here, every file lands' '
	python3 -c "
import os
for i in range(2400):
    d = \"a/M/d%02d\" % (i // 100)
    os.makedirs(d, exist_ok=True)
    open(\"%s/f%04d\" % (d, i), \"w\").write(\"m %d\\n\" % i)
" &&
	streams=$(nproc) &&
	if [ "$streams" -gt 2 ]; then streams=2; fi &&
	: >rsync.calls &&
	before=$(server_logs | grep -c "upload into push") &&
	(cd a && soc add -r M -q && soc push -q) &&
	test "$(client_rsyncs)" = 0 &&
	test "$(($(server_logs | grep -c "upload into push") - before))" = "$streams" &&
	t=$(server_tree server) &&
	test "$(find "$t/M" -type f | wc -l)" = 2400 &&
	test "$(tree_sum a/M)" = "$(tree_sum "$t/M")"
'

test_expect_success_here 'a server without the stream (an older soc): rsync carries the new files' '
	SOC_TEST_NO_UPLOAD=1 && export SOC_TEST_NO_UPLOAD &&
	start_server "$TRASH/old" &&
	unset SOC_TEST_NO_UPLOAD &&
	soc init c --remote "$URL" -q &&
	mkdir c/E && echo e >c/E/e && echo f >c/E/f &&
	: >rsync.calls &&
	(cd c && soc add -r E -q && SOC_TOKEN=$ADMIN_TOKEN soc push -q) &&
	test "$(client_rsyncs)" = 1 &&
	cat old.log $(one_node || echo old.n2.log) | grep "POST /api/v1/push/[0-9a-f]*/upload 404" &&
	t=$(server_tree old) &&
	test "$(tree_sum c/E)" = "$(tree_sum "$t/E")"
'

# push_slowly WS: soc push in the background, pausing 2 s between each
# file's look and its read (a test hook); its pid in $PUSH, output in
# push.err. Returns half a second after the server took its upload
# request: the first file has been looked at and not yet read.
push_slowly() {
	ups=$(server_logs | grep -c "/upload 101")
	(cd "$1" && SOC_TEST_UPLOAD_SLEEP_MS=2000 soc push) >push.out 2>push.err &
	PUSH=$!
	n=0
	while [ "$(server_logs | grep -c "/upload 101")" = "$ups" ]; do
		n=$((n + 1)) && [ $n -lt 200 ] || return 1
		sleep 0.05
	done
	sleep 0.5
}

# refusals: how many commits the server has answered 422.
refusals() {
	server_logs | grep -c "/commit 422" || true
}

test_expect_success 'a new file cut short while it is read: the stream stops, the push rescans, the new content lands' '
	head -c 100000 /dev/urandom >a/cut &&
	(cd a && soc add cut -q) &&
	before=$(refusals) &&
	push_slowly a &&
	head -c 10 /dev/urandom >a/cut &&
	wait $PUSH &&
	grep "changed while being sent: .cut." push.err &&
	test "$(refusals)" = "$before" &&
	grep "rescanning and trying once more" push.err &&
	t=$(server_tree server) &&
	test "$(hash_of "$t/cut")" = "$(hash_of a/cut)" &&
	test "$(stat -c %s "$t/cut")" = 10
'

test_expect_success 'a new file of another size by the time it is read: not sent, the commit refuses it (422), the push tries again' '
	echo x >a/first &&
	head -c 50000 /dev/urandom >a/second &&
	(cd a && soc add first second -q) &&
	before=$(refusals) &&
	push_slowly a &&
	echo grown >>a/second &&
	wait $PUSH &&
	grep "changed while being sent: .second." push.err &&
	test "$(refusals)" = $((before + 1)) &&
	t=$(server_tree server) &&
	test "$(hash_of "$t/second")" = "$(hash_of a/second)" &&
	test "$(hash_of "$t/first")" = "$(hash_of a/first)"
'

test_expect_success 'a commit refused because another push moved a base: the index keeps its old bases' '
	echo shared >a/moved &&
	(cd a && soc add moved -q && soc push -q) &&
	(cd b && soc pull -q) &&
	echo "from a" >a/moved &&
	echo fresh >a/fresh &&
	(cd a && soc add fresh -q) &&
	push_slowly a &&
	echo "from b" >b/moved &&
	(cd b && soc push -q) &&
	test_expect_code 3 wait $PUSH &&
	grep "run .soc pull. first" push.err &&
	(cd a && soc status --porcelain --offline) >out &&
	printf "A fresh\nM moved\n" >expect &&
	sort out >actual &&
	test_cmp expect actual &&
	t=$(server_tree server) &&
	test "$(cat "$t/moved")" = "from b" &&
	! test -e "$t/fresh"
'

# By hand, as the API is spoken: a push of new file n and of h, a file the
# head holds, changed (its staged path is a link to files/h, rsync's basis).
upload() {
	python3 "$TEST_SRC/helper/upload.py" "$URL" "${UPLOAD_TOKEN:-$TOKEN}" "$TXN" "$@"
}

# RD: where the server r keeps staging/ and commit/: its root, or on a
# cluster the blob directory its nodes share (blobs.dir names it).
# r_head PATH: the file holding the head's PATH there: files/PATH, or on
# a cluster (no files/) its version, versions/XX/SHA256.
r_head() {
	if one_node; then
		echo "$TRASH/r/files/$1"
	else
		rh=$(head_list | awk -v p="$1" '$3 == p { print $1 }') && test -n "$rh" &&
		echo "$RD/versions/$(echo "$rh" | cut -c1-2)/$rh"
	fi
}

# r_snapshot: snapshot "$TRASH/r" (lib-push.sh); on a cluster the same
# three things: the head as files, staging/ and commit/ (in RD), the head.
r_snapshot() {
	if one_node; then
		snapshot "$TRASH/r"
	else
		rs=$(server_tree "$TRASH/r") && tree_sum "$rs" &&
		(cd "$RD" && find staging commit | LC_ALL=C sort) &&
		echo "head $(head_rev)"
	fi
}

test_expect_success_here 'by hand: a server, h in its head, and a push of n and a changed h' '
	start_server "$TRASH/r" &&
	RD=$(cat "$TRASH/r/blobs.dir" 2>/dev/null || echo "$TRASH/r") &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w &&
	echo head >w/h &&
	change h w/h >body &&
	push_all w body &&
	echo "a new file" >w/n &&
	base=$(hash_of w/h) &&
	echo "h, changed" >w/h &&
	{ change n w/n && change h w/h "$base"; } >body &&
	push_begin body &&
	test "$(stat -c %i "$RD/staging/$TXN/h")" = "$(stat -c %i "$(r_head h)")"
'

test_expect_success 'a record of a path staged as a link to the head goes to commit/ on an inode of its own: files/h keeps its bytes' '
	r_snapshot | grep -v "^staging\|^commit" >before &&
	upload "h:11:w/h" >answer &&
	printf "101\n{\"stored\":1}\n" >expect &&
	test_cmp expect answer &&
	echo head >expect &&
	test_cmp expect "$(r_head h)" &&
	test_cmp expect "$RD/staging/$TXN/h" &&
	test_cmp w/h "$RD/commit/$TXN/h" &&
	test "$(stat -c %h "$RD/commit/$TXN/h")" = 1 &&
	r_snapshot | grep -v "^staging\|^commit" >after &&
	test_cmp before after
'

test_expect_success 'a record of the right size but not the sha256 the push named: not kept, and the commit names it' '
	echo "not a file" >w/other &&
	upload "n:11:w/other" >answer &&
	printf "101\n{\"stored\":0}\n" >expect &&
	test_cmp expect answer &&
	! test -e "$RD/commit/$TXN/n" &&
	test -z "$(ls -A "$RD/commit/$TXN/.soc")" &&
	test "$(push_commit)" = 422 &&
	grep "\"n\"" out &&
	! test -e "$RD/commit/$TXN"
'

for refused in "x:5:w/n|.x.: not a file of this push" \
	"n:3:w/n|.n.: not the size this push gave it" \
	"../n:11:w/n|a record names an invalid path" \
	".soc/n:11:w/n|a record names an invalid path"; do
	record=${refused%%|*}
	reason=${refused#*|}
	test_expect_success "refused: $record ($reason), nothing reaches files/ or the head" "
		r_snapshot >before &&
		upload \"$record\" >answer &&
		head -n 1 answer | grep -x 101 &&
		tail -n 1 answer | grep '\"error\":\"bad_request\"' &&
		tail -n 1 answer | grep '$reason' &&
		r_snapshot >after &&
		test_cmp before after
	"
done

test_expect_success 'a record cut short: refused as broken off; the push stays open and its commit finds n missing' '
	upload "n:11:w/n" --cut >answer &&
	tail -n 1 answer | grep "the upload broke off: the stream ended in the middle of a record" &&
	! test -e "$RD/commit/$TXN/n" &&
	test "$(push_commit)" = 422 &&
	grep "\"n\"" out
'

test_expect_success 'the whole push by stream, then its commit: both files land' '
	upload "n:11:w/n" "h:11:w/h" >answer &&
	tail -n 1 answer | grep -x "{\"stored\":2}" &&
	test "$(push_commit)" = 200 &&
	t=$(server_tree "$TRASH/r") &&
	test_cmp w/n "$t/n" &&
	test_cmp w/h "$t/h" &&
	soc serve check --root "$TRASH/r"
'

test_expect_success 'a file a stream kept is its line'"'"'s mode and mtime, and goes with its push on a DELETE' '
	echo "kept" >w/n4 &&
	touch -d "2001-02-03 04:05:06 UTC" w/n4 &&
	change n4 w/n4 >body &&
	push_begin body &&
	upload "n4:5:w/n4" >answer &&
	tail -n 1 answer | grep -x "{\"stored\":1}" &&
	test "$(stat -c "%a %Y" "$RD/commit/$TXN/n4")" = "644 981173106" &&
	test "$(api DELETE "push/$TXN")" = 204 &&
	! test -e "$RD/commit/$TXN" &&
	t=$(server_tree "$TRASH/r") &&
	! test -e "$t/n4"
'

test_expect_success 'a record of 9 MiB, hashed on a thread of its own: other bytes are not kept, its own land' '
	head -c 9437184 /dev/urandom >w/big &&
	head -c 9437184 /dev/urandom >w/notbig &&
	change big w/big >body &&
	push_begin body &&
	upload "big:9437184:w/notbig" >answer &&
	printf "101\n{\"stored\":0}\n" >expect &&
	test_cmp expect answer &&
	! test -e "$RD/commit/$TXN/big" &&
	upload "big:9437184:w/big" >answer &&
	tail -n 1 answer | grep -x "{\"stored\":1}" &&
	test_cmp w/big "$RD/commit/$TXN/big" &&
	test "$(push_commit)" = 200 &&
	t=$(server_tree "$TRASH/r") &&
	test_cmp w/big "$t/big" &&
	soc serve check --root "$TRASH/r"
'

test_expect_success 'a record of 9 MiB cut short in its fifth MiB: refused as broken off, nothing of it kept' '
	head -c 9437184 /dev/urandom >w/big2 &&
	change big2 w/big2 >body &&
	push_begin body &&
	upload "big2:9437184:w/big2" --cut >answer &&
	tail -n 1 answer | grep "the upload broke off: the stream ended in the middle of a record" &&
	! test -e "$RD/commit/$TXN/big2" &&
	upload "big2:9437184:w/big2" >answer &&
	tail -n 1 answer | grep -x "{\"stored\":1}" &&
	test_cmp w/big2 "$RD/commit/$TXN/big2" &&
	test "$(api DELETE "push/$TXN")" = 204
'

test_expect_success 'more files than are synced one by one: a commit takes each as its stream marked it; one gone since is named missing (422)' '
	mkdir -p w/many &&
	for i in $(seq 70); do echo "file $i" >w/many/f$i || return 1; done &&
	for i in $(seq 70); do change many/f$i w/many/f$i || return 1; done >body &&
	for i in $(seq 70); do echo "many/f$i:$(stat -c %s w/many/f$i):w/many/f$i" || return 1; done >records &&
	push_begin body &&
	upload $(cat records) >answer &&
	tail -n 1 answer | grep -x "{\"stored\":70}" &&
	rm "$RD/commit/$TXN/many/f7" &&
	: >"$TRASH/checks" &&
	test "$(push_commit)" = 422 &&
	grep "\"many/f7\"" out &&
	if one_node; then echo "marked 69 looked 1"; else echo "marked 0 looked 70"; fi >expect &&
	test_cmp expect "$TRASH/checks" &&
	upload $(cat records) >answer &&
	tail -n 1 answer | grep -x "{\"stored\":70}" &&
	: >"$TRASH/checks" &&
	test "$(push_commit)" = 200 &&
	if one_node; then echo "marked 70 looked 0"; else echo "marked 0 looked 70"; fi >expect &&
	test_cmp expect "$TRASH/checks" &&
	t=$(server_tree "$TRASH/r") &&
	for i in $(seq 70); do test_cmp w/many/f$i "$t/many/f$i" || return 1; done &&
	soc serve check --root "$TRASH/r"
'

test_expect_success_here 'refused before the 101: no token 401, a read-only one 403, another token'"'"'s push 404, no Upgrade 400' '
	echo "again" >w/n2 &&
	change n2 w/n2 >body &&
	push_begin body &&
	UPLOAD_TOKEN=wrong upload "n2:6:w/n2" | head -n 1 | grep -x 401 &&
	ro=$(soc serve token new ro --read-only --root "$TRASH/r") &&
	UPLOAD_TOKEN=$ro upload "n2:6:w/n2" | head -n 1 | grep -x 403 &&
	other=$(soc serve token new other --root "$TRASH/r") &&
	UPLOAD_TOKEN=$other upload "n2:6:w/n2" | head -n 1 | grep -x 404 &&
	upload --upgrade soc-rsync "n2:6:w/n2" | head -n 1 | grep -x 400 &&
	! test -e "$RD/staging/$TXN/n2"
'

# wait_upgraded [FILE]: until upload.py --pause, in the background, says
# in FILE (./answer) that its stream is open.
wait_upgraded() {
	n=0
	until grep -q upgraded "${1:-answer}"; do
		n=$((n + 1)) && [ $n -lt 100 ] || return 1
		sleep 0.05
	done
}

test_expect_success 'while four uploads run into one push: a fifth, its commit and its abort are 409; then the commit lands' '
	for k in 1 2 3 4; do
		rm -f answer$k || return 1
		upload --pause 5 "n2:6:w/n2" >answer$k &
	done &&
	for k in 1 2 3 4; do
		wait_upgraded answer$k || return 1
	done &&
	upload "n2:6:w/n2" >fifth &&
	# The cap is per node (PROTOCOL.md, 10b): on a cluster the fifth may reach a node running fewer.
	if one_node; then
		head -n 1 fifth | grep -x 409 &&
		grep "as many uploads into this push as it may have are running" fifth
	fi &&
	test "$(push_commit)" = 409 &&
	grep "an upload into this push is still running" out &&
	test "$(api DELETE "push/$TXN")" = 409 &&
	wait &&
	for k in 1 2 3 4; do
		tail -n 1 answer$k | grep -x "{\"stored\":1}" || { cat answer$k >&2; return 1; }
	done &&
	test "$(push_commit)" = 200 &&
	t=$(server_tree "$TRASH/r") &&
	test_cmp w/n2 "$t/n2"
'

test_expect_success_here 'a stop cuts a stalled upload short; after a restart its push can still be dropped' '
	echo "stalled" >w/n3 &&
	change n3 w/n3 >body &&
	push_begin body &&
	rm -f answer || return 1
	# On a cluster the stream goes to node 1 itself (its URL from r.log), not
	# through haproxy: the stop below is of that one process.
	url=$URL
	one_node || url=$(sed -n "s/^$LOG_STAMP soc serve: listening on \(http:[^ ]*\)\$/\1/p" r.log | tail -n 1)
	# exec: $! is the uploader itself, which the kill below must end, not a shell around it.
	(exec python3 "$TEST_SRC/helper/upload.py" "$url" "$TOKEN" "$TXN" --pause 30 "n3:8:w/n3") >answer &
	up=$! &&
	wait_upgraded &&
	kill -TERM $SERVER_PID &&
	n=0 &&
	while kill -0 $SERVER_PID 2>/dev/null; do
		n=$((n + 1)) && [ $n -lt 50 ] || return 1
		sleep 0.1
	done &&
	kill $up 2>/dev/null; wait $up;
	start_server "$TRASH/r" &&
	test "$(api DELETE "push/$TXN")" = 204 &&
	! test -e "$RD/staging/$TXN" &&
	! test -e "$RD/commit/$TXN" &&
	t=$(server_tree "$TRASH/r") &&
	! test -e "$t/n3"
'

test_done
