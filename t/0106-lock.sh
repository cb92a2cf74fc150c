#!/bin/sh
# .soc/lock: one soc at a time in a workspace. A second one waits a little
# (LOCK_WAIT_MS, 3 s), then gives up with a message; if the first is done
# by then, the second simply runs.
. "$(dirname "$0")/lib.sh"

# hold_lock SECONDS: another process holds the workspace lock (the process
# is sleep itself, so killing $holder frees the lock); returns once held.
hold_lock() {
	(flock 9 && exec sleep "$1") 9>>ws/.soc/lock &
	holder=$!
	n=0
	while flock -n ws/.soc/lock true; do
		n=$((n + 1))
		test $n -lt 100 || return 1
		sleep 0.05
	done
}

test_expect_success 'setup' '
	soc init -q ws &&
	echo a >ws/a &&
	(cd ws && soc add a -q)
'

test_expect_success 'while the lock is held, soc waits, then exits 1 naming the workspace' '
	hold_lock 10 &&
	test_when_finished "kill $holder" &&
	cp ws/.soc/index.db before &&
	start=$(date +%s%N) &&
	(cd ws && test_expect_code 1 soc add a 2>../err) &&
	end=$(date +%s%N) &&
	grep "another soc is running in '\''$TRASH/ws'\''" err &&
	test $(( (end - start) / 1000000 )) -ge 2900 &&
	cmp before ws/.soc/index.db
'

test_expect_success 'a lock released while soc waits: soc runs' '
	hold_lock 1 &&
	(cd ws && soc status --porcelain >../out 2>../err) &&
	echo "A a" >want &&
	test_cmp want out &&
	test_must_be_empty err
'

test_expect_success 'the lock is taken from a subdirectory too' '
	mkdir -p ws/sub &&
	hold_lock 10 &&
	test_when_finished "kill $holder" &&
	(cd ws/sub && test_expect_code 1 soc status 2>../../err) &&
	grep "another soc is running" err
'

test_done
