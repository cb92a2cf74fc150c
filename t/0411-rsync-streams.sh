#!/bin/sh
# A large upload or download runs as several rsyncs side by side, each
# with a run of the list (rsync.c, RSYNC_STREAM_PATHS_MIN paths a stream
# at least, one a core, at most 4): every file lands once, and one
# stream that fails fails the push or pull with nothing changed.
. "$(dirname "$0")/lib.sh"

# rsync's streams are what this test reads: the pull takes no fetch stream.
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

# New files go by rsync too here, as to a server older than the upload
# stream (upload.c), so that the streams carry every kind of upload.
SOC_TEST_NO_UPLOAD=1
export SOC_TEST_NO_UPLOAD

# Client rsyncs are counted, but not soc asking rsync which options it
# knows (--version); when $TRASH/fail holds N, the Nth one exits 23 at
# once, without reading its list.
real=$(command -v rsync)
mkdir -p "$TRASH/wrap"
cat >"$TRASH/wrap/rsync" <<EOS
#!/bin/sh
if [ "\$1" != --server ] && [ "\$2" != --version ]; then
	echo "rsync \$*" >>"$TRASH/rsync.calls"
	fail=\$(cat "$TRASH/fail" 2>/dev/null)
	if [ -n "\$fail" ] && [ "\$(grep -c . "$TRASH/rsync.calls")" = "\$fail" ]; then
		exit 23
	fi
fi
exec "$real" "\$@"
EOS
chmod +x "$TRASH/wrap/rsync"
PATH=$TRASH/wrap:$PATH
export PATH

# 2,400 files in 24 directories: two streams of 1,200, on two cores or more.
FILES=2400
streams=$(nproc)
[ "$streams" -gt 2 ] && streams=2

# mktree DIR PREFIX: $FILES small files named PREFIXNNNN, 100 to a directory.
mktree() {
	python3 - "$1" "$2" "$FILES" <<-EOF
	import os, sys
	top, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
	for i in range(n):
	    d = os.path.join(top, "d%02d" % (i // 100))
	    os.makedirs(d, exist_ok=True)
	    with open(os.path.join(d, "%s%04d" % (prefix, i)), "w") as f:
	        f.write("%s %d\n" % (prefix, i))
	EOF
}

# The module a pull's rsync reads: pull (files/), or on a cluster, whose
# nodes keep no files/, views (view_serve.c).
if one_node; then pull_module=pull; else pull_module=views; fi

server_head() {
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" |
		sed -n 's/.*"head":\([0-9]*\).*/\1/p'
}

test_expect_success_here 'a first push of 2,400 files: one rsync a stream, every file lands' '
	setup_two &&
	mktree a/T f &&
	(cd a && soc add -q -r T && soc push -q) &&
	test "$(grep -c "^rsync -rt " "$TRASH/rsync.calls")" = "$streams" &&
	t=$(server_tree server) &&
	test "$(find "$t/T" -type f | wc -l)" = "$FILES" &&
	test "$(tree_sum a/T)" = "$(tree_sum "$t/T")" &&
	test "$(server_head)" = 1
'

test_expect_success 'the other workspace pulls the same files' '
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'the last stream failing fails the push: nothing committed, the edits kept' '
	for i in $(seq 0 23); do
		d=$(printf "d%02d" "$i") &&
		echo edited >>"a/T/$d/f$(printf "%04d" $((i * 100)))" || return 1
	done &&
	mktree a/T2 g &&
	t=$(server_tree server) &&
	before=$(tree_sum "$t") &&
	: >"$TRASH/rsync.calls" &&
	echo "$streams" >"$TRASH/fail" &&
	(cd a && soc add -q -r T2 && test_must_fail soc push -q) 2>err &&
	grep "rsync exit code 23" err &&
	test "$(server_head)" = 1 &&
	t=$(server_tree server) &&
	test "$(tree_sum "$t")" = "$before" &&
	(cd a && soc status --porcelain) >st &&
	test "$(grep -c "^M " st)" = 24 &&
	test "$(grep -c "^A " st)" = "$FILES"
'

test_expect_success 'the next push sends it all' '
	rm "$TRASH/fail" &&
	(cd a && soc push -q) &&
	test "$(server_head)" = 2 &&
	t=$(server_tree server) &&
	test "$(tree_sum a/T)" = "$(tree_sum "$t/T")" &&
	test "$(tree_sum a/T2)" = "$(tree_sum "$t/T2")"
'

test_expect_success 'a pull of its 2,424 changes runs as streams too, and fails as one' '
	: >"$TRASH/rsync.calls" &&
	echo "$streams" >"$TRASH/fail" &&
	before=$(ws_sum b) &&
	(cd b && test_must_fail soc pull -q) &&
	test "$(ws_sum b)" = "$before" &&
	rm "$TRASH/fail" &&
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) &&
	test "$(grep -c "^rsync -rt .*soc::$pull_module/" "$TRASH/rsync.calls")" = "$streams" &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_done
