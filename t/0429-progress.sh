#!/bin/sh
# One progress line for every transfer on a terminal (issue 17): files
# and bytes done of the total, then "done"; rsync's own line never shown;
# nothing at all when stderr is not a terminal, or with -q.
. "$(dirname "$0")/lib.sh"

# on_tty DIR CMD...: runs CMD in DIR with a pseudo-terminal as its stdin,
# stdout and stderr; what it printed goes to stdout, its exit code is ours.
on_tty() {
	python3 - "$@" <<-\EOP
	import os, pty, sys
	cwd, args = sys.argv[1], sys.argv[2:]
	pid, fd = pty.fork()
	if pid == 0:
	    os.chdir(cwd)
	    os.execvp(args[0], args)
	out = b""
	while True:
	    try:
	        d = os.read(fd, 65536)
	    except OSError:
	        break
	    if not d:
	        break
	    out += d
	_, status = os.waitpid(pid, 0)
	sys.stdout.write(out.decode("utf-8", "replace"))
	sys.exit(os.waitstatus_to_exitcode(status))
	EOP
}

test_expect_success_here 'a server, two workspaces, 20 files of 100 KiB in a/' '
	setup_two &&
	mkdir a/d &&
	for i in $(seq 1 20); do
		head -c 102400 /dev/urandom >a/d/f$i || return 1
	done &&
	(cd a && soc add -q -r d)
'

test_expect_success 'a first push on a terminal: one line, files and bytes, then done' '
	on_tty a soc push >out &&
	grep "sending: 20 of 20 files, 2.0 MiB of 2.0 MiB, done" out &&
	grep "pushed 20 changes as revision 1" out &&
	! grep -e "xfr#" -e "to-chk" -e "%" out
'

test_expect_success 'changed files go by rsync, and the same line counts them' '
	for i in 1 2 3; do
		echo more >>a/d/f$i || return 1
	done &&
	on_tty a soc push >out &&
	grep "sending: 3 of 3 files, .* of .*, done" out &&
	! grep -e "xfr#" -e "to-chk" -e "%" out
'

test_expect_success 'a pull on a terminal: the same line, receiving' '
	on_tty b soc pull >out &&
	grep "receiving: 20 of 20 files, 2.0 MiB of 2.0 MiB, done" out &&
	grep "pulled to revision 2" out &&
	! grep -e "xfr#" -e "to-chk" -e "%" out &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_expect_success 'stderr not a terminal, or -q: no progress line at all' '
	echo again >>a/d/f4 &&
	echo new >a/d/g &&
	(cd a && soc push) >out 2>err &&
	! grep -e "sending" -e "xfr#" err &&
	! grep "$(printf "\r")" err &&
	grep "pushed 2 changes" err &&
	echo once more >>a/d/f5 &&
	on_tty a soc push -q >out &&
	test_must_be_empty out &&
	on_tty b soc pull -q >out &&
	test_must_be_empty out
'

test_done
