#!/bin/sh
# The client core's "done when", end to end on a tree of a few hundred
# files: soc_add Data -id tracks every regular file below Data, status
# lists each as A; later creations show up, deletions before any push and
# soc rm'd files drop out, ignored files never appear.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: a tree below Data, a .socignore, the soc_add link' '
	soc init -q ws &&
	cd ws &&
	for d in a b "c d" a/x a/x/y; do
		mkdir -p "Data/$d" &&
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			echo "$d $i" >"Data/$d/f$i.txt" || return 1
		done || return 1
	done &&
	echo log >Data/a/debug.log &&
	printf "*.log\n" >.socignore &&
	ln -s "$SOC" soc_add
'

test_expect_success './soc_add Data -id: status lists every regular file below Data as A' '
	cd ws &&
	./soc_add Data -id &&
	soc status --porcelain >out &&
	find Data -type f ! -name "*.log" | LC_ALL=C sort | sed "s/^/A /" | sed "s/^A \(.* .*\)$/A \"\1\"/" >want &&
	test_line_count = 100 want &&
	test_cmp want out
'

test_expect_success 'a file created under Data afterwards is listed' '
	cd ws &&
	echo later >Data/a/x/later.txt &&
	soc status --porcelain >out &&
	grep -x "A Data/a/x/later.txt" out &&
	test_line_count = 101 out
'

test_expect_success 'a file deleted before it was ever pushed is no longer listed' '
	cd ws &&
	rm Data/b/f7.txt &&
	soc status --porcelain >out &&
	! grep "Data/b/f7.txt" out &&
	test_line_count = 100 out
'

test_expect_success 'a file matching .socignore is never listed' '
	cd ws &&
	echo more >Data/b/new.log &&
	soc status --porcelain >out &&
	! grep "\.log" out
'

test_expect_success 'soc rm of a never-pushed file drops it, and keeps the file' '
	cd ws &&
	soc rm -q Data/b/f8.txt &&
	soc status --porcelain >out &&
	! grep "Data/b/f8.txt" out &&
	test_line_count = 99 out &&
	test -f Data/b/f8.txt
'

test_done
