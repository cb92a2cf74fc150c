#!/bin/sh
# A pull that names its files to rsync passes --trust-sender, which turns
# off rsync's check of each name its sender sends against every name on
# the list, a cost that grows with the square of the list (rsync.c). An
# upload never does: the client is the sender. An rsync too old to know
# the option (before 3.2.5, which has no such check either) is asked
# once, quietly, and the pull goes on without it.
. "$(dirname "$0")/lib.sh"

# rsync's options are what this test reads: the pull takes no fetch stream.
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

wrap_rsync

# edit_all DIR WORD: appends WORD to every file under DIR.
edit_all() {
	find "$1" -type f | while read -r f; do
		echo "$2" >>"$f" || return 1
	done
}

test_expect_success_here 'a server holding 30 files, both workspaces in sync' '
	setup_two &&
	for d in d1 d2 d3; do
		mkdir -p a/T/$d &&
		for i in 0 1 2 3 4 5 6 7 8 9; do
			echo "$d $i" >a/T/$d/f$i || return 1
		done
	done &&
	(cd a && soc add -q -r T && soc push -q) &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'the push'"'"'s upload does not pass --trust-sender' '
	edit_all a/T one &&
	: >"$TRASH/rsync.calls" &&
	(cd a && SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) &&
	grep "^rsync -rt .*soc::push/" "$TRASH/rsync.calls" &&
	! grep -e "--trust-sender" "$TRASH/rsync.calls"
'

# The module a pull's rsync reads: pull (files/), or on a cluster, whose
# nodes keep no files/, views (view_serve.c).
if one_node; then pull_module=pull; else pull_module=views; fi

# The rsync here may be older than the option: then it must not be given.
knows=$(rsync_knows_trust_sender)

test_expect_success "a pull naming its files passes it if rsync knows it ($knows), and takes every edit" '
	: >"$TRASH/rsync.calls" &&
	(cd b && soc pull -q) 2>err &&
	test_must_be_empty err &&
	if test $knows = yes; then
		grep "^rsync -rt .*--files-from=- .*--trust-sender .*soc::$pull_module/" "$TRASH/rsync.calls"
	else
		grep "^rsync -rt .*--files-from=- .*soc::$pull_module/" "$TRASH/rsync.calls" &&
		! grep "^rsync -rt .*--trust-sender" "$TRASH/rsync.calls"
	fi &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'with an rsync that does not know it, the pull goes on without it' '
	edit_all a/T two &&
	(cd a && soc push -q) &&
	: >"$TRASH/rsync.calls" &&
	touch "$TRASH/old" &&
	(cd b && soc pull -q) 2>err &&
	rm "$TRASH/old" &&
	test_must_be_empty err &&
	test "$(grep -c -e "--trust-sender" "$TRASH/rsync.calls")" = 1 &&
	grep "^rsync --trust-sender --version" "$TRASH/rsync.calls" &&
	grep "^rsync -rt .*--files-from=- .*soc::$pull_module/" "$TRASH/rsync.calls" &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_done
