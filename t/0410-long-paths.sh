#!/bin/sh
# Paths rsync could get wrong: names like its options or a remote host,
# a push whose list is over 1 MiB, and paths too long for the lists of
# rsync's pull without --trust-sender (PULL_LIST_PATH_MAX).
. "$(dirname "$0")/lib.sh"

# rsync's calls are what this test reads: the pull takes no fetch stream.
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

wrap_rsync

test_expect_success_here 'names like options and hosts land as files' '
	setup_two &&
	mkdir a/D &&
	for f in -rf --delete a:b host::mod "sp ace" "st*r?" "q'"'"'uote" "-e sh"; do
		printf "%s\n" "$f" >"a/D/$f" || return 1
	done &&
	(cd a && soc add -q D && soc push -q) &&
	t=$(server_tree server) &&
	for f in -rf --delete a:b host::mod "sp ace" "st*r?" "q'"'"'uote" "-e sh"; do
		test "$(cat "$t/D/$f")" = "$f" || return 1
	done &&
	test "$(ls "$t/D" | wc -l)" = 8 &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

# 320 paths of about 3,500 bytes each.
long_dir() {
	d=
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do
		d="$d$(printf "%0200d" "$i")/"
	done
	printf "L/%s" "$d"
}

test_expect_success 'a list past 1 MiB, of paths of 3,500 bytes, lands whole' '
	dir=$(long_dir) &&
	mkdir -p "a/$dir" &&
	for i in $(seq 1 320); do echo "$i" >"a/${dir}f$i" || return 1; done &&
	(cd a && soc add -q -r L && soc push -q) &&
	t=$(server_tree server) &&
	test "$(find "$t/L" -type f | wc -l)" = 320 &&
	test "$(tree_sum a/L)" = "$(tree_sum "$t/L")"
'

# rsync refuses its own sender's answer to a list of such paths unless
# told --trust-sender, so a pull passes that, or, with an rsync too old to
# know it, fetches each path past PULL_LIST_PATH_MAX (2,048 bytes) alone.
knows=$(rsync_knows_trust_sender)

# The module a pull's rsync reads: pull (files/), or on a cluster, whose
# nodes keep no files/, views (view_serve.c).
if one_node; then pull_module=pull; else pull_module=views; fi

# pull_rsyncs: how many rsyncs fetched for a pull since rsync.calls was emptied.
pull_rsyncs() {
	grep -c "^rsync -rt .*soc::$pull_module/" "$TRASH/rsync.calls"
}

test_expect_success "the same long paths pull into another workspace (rsync knows the option: $knows)" '
	: >"$TRASH/rsync.calls" &&
	echo short >a/L/short &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	if test $knows = yes; then want=1; else want=321; fi &&
	test "$(pull_rsyncs)" = $want
'

test_expect_success 'a later pull of one long path and one short one' '
	: >"$TRASH/rsync.calls" &&
	dir=$(long_dir) &&
	echo again >>"a/${dir}f7" &&
	echo again >>a/L/short &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	if test $knows = yes; then want=1; else want=2; fi &&
	test "$(pull_rsyncs)" = $want
'

test_expect_success 'with an rsync that does not know --trust-sender, a long path each, the rest in one' '
	: >"$TRASH/rsync.calls" &&
	dir=$(long_dir) &&
	echo old >>"a/${dir}f8" &&
	echo old >>"a/${dir}f9" &&
	echo old >>a/L/short &&
	(cd a && soc push -q) &&
	touch "$TRASH/old" &&
	(cd b && soc pull -q) 2>err &&
	rm "$TRASH/old" &&
	test_must_be_empty err &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test "$(pull_rsyncs)" = 3 &&
	! grep "^rsync -rt .*--trust-sender" "$TRASH/rsync.calls"
'

test_done
