#!/bin/sh
# Content the server already holds is never sent again: a 100 MB file moved
# to another path pushes with no file content sent, and so does a copy.
. "$(dirname "$0")/lib.sh"

# Every rsync the client runs is counted, and every byte it sends through
# the soc port, by rsync or by soc's own upload, is in $TRASH/stats.
wrap_rsync
SOC_TEST_TUNNEL_STATS=$TRASH/stats
export SOC_TEST_TUNNEL_STATS

# sent: the bytes the client has sent through the soc port so far.
sent() {
	awk '{ s += $2 } END { print s + 0 }' "$TRASH/stats" 2>/dev/null || echo 0
}

test_expect_success_here 'a 100 MB file pushed: its bytes sent once, in the upload stream' '
	setup_two &&
	mkdir a/Big &&
	head -c 100000000 /dev/urandom >a/Big/film.bin &&
	(cd a && soc add -r Big -q && soc push -q) &&
	t=$(server_tree server) &&
	test "$(hash_of a/Big/film.bin)" = "$(hash_of "$t/Big/film.bin")" &&
	test "$(client_rsyncs)" = 0 &&
	test "$(sent)" -ge 100000000 &&
	test "$(sent)" -lt 100100000
'

test_expect_success 'moved to another path, it pushes with no content sent' '
	before=$(sent) &&
	mkdir a/Big/archive &&
	mv a/Big/film.bin a/Big/archive/film.bin &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 0 &&
	test "$(sent)" = "$before" &&
	t=$(server_tree server) &&
	test "$(hash_of a/Big/archive/film.bin)" = "$(hash_of "$t/Big/archive/film.bin")" &&
	! test -e "$t/Big/film.bin"
'

test_expect_success 'a copy pushes with no content sent either' '
	before=$(sent) &&
	cp a/Big/archive/film.bin a/Big/copy.bin &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 0 &&
	test "$(sent)" = "$before" &&
	t=$(server_tree server) &&
	test "$(hash_of "$t/Big/copy.bin")" = "$(hash_of a/Big/copy.bin)"
'

test_done
