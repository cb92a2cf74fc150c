#!/bin/sh
# Content the server already holds is never sent again: a 100 MB file moved
# to another path pushes with no file content sent, and so does a copy.
. "$(dirname "$0")/lib.sh"

wrap_rsync

test_expect_success_here 'a 100 MB file pushed' '
	setup_two &&
	mkdir a/Big &&
	head -c 100000000 /dev/urandom >a/Big/film.bin &&
	(cd a && soc add -r Big -q && soc push -q) &&
	test "$(md5_of a/Big/film.bin)" = "$(md5_of server/files/Big/film.bin)" &&
	test "$(client_rsyncs)" = 1
'

test_expect_success 'moved to another path, it pushes with no rsync at all' '
	mkdir a/Big/archive &&
	mv a/Big/film.bin a/Big/archive/film.bin &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 1 &&
	test "$(md5_of a/Big/archive/film.bin)" = "$(md5_of server/files/Big/archive/film.bin)" &&
	! test -e server/files/Big/film.bin
'

test_expect_success 'a copy pushes with no content sent either' '
	cp a/Big/archive/film.bin a/Big/copy.bin &&
	(cd a && soc push -q) &&
	test "$(client_rsyncs)" = 1 &&
	test "$(md5_of server/files/Big/copy.bin)" = "$(md5_of a/Big/copy.bin)"
'

test_done
