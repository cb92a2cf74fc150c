#!/bin/sh
# Bad input to add and status: one line naming the path, the documented
# exit code, and the index byte for byte as it was.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	soc init -q ws &&
	mkdir -p ws/dir ws/real &&
	echo a >ws/a &&
	echo f >ws/real/f &&
	ln -s a ws/link &&
	ln -s real ws/ldir &&
	mkfifo ws/fifo &&
	echo c >"ws/$(printf "bad\001name")" &&
	echo n >"ws/$(printf "new\nline")" &&
	(cd ws && soc add a -q) &&
	cp ws/.soc/index.db before
'

# refused CODE PATTERN ARGS...: soc ARGS in ws exits CODE, prints one line
# matching PATTERN on stderr, and leaves the index as it was.
refused() {
	code=$1 pattern=$2
	shift 2
	(cd ws && test_expect_code "$code" soc "$@" 2>../err) &&
	test_line_count = 1 err &&
	grep "$pattern" err &&
	cmp before ws/.soc/index.db
}

test_expect_success 'a path outside the workspace: exit 1' '
	refused 1 "'\''../x'\'' is outside the workspace" add ../x &&
	refused 1 "'\''/etc/passwd'\'' is outside the workspace" add /etc/passwd &&
	refused 1 "'\''dir/../../x'\'' is outside the workspace" add dir/../../x
'

test_expect_success 'a missing path: exit 1' '
	refused 1 "cannot add '\''nothere'\'': no such file or directory" add nothere
'

test_expect_success 'a fifo: exit 1' '
	refused 1 "cannot add '\''fifo'\'': it is a fifo; soc tracks regular files and symlinks only" add fifo
'

test_expect_success 'a path through a symbolic link to a directory: exit 1' '
	refused 1 "cannot add '\''ldir/f'\'': a directory on its way is a symbolic link" add ldir/f
'

test_expect_success 'a fifo: exit 1' '
	refused 1 "cannot add '\''fifo'\'': it is a fifo" add fifo
'

test_expect_success 'a name with a control character: exit 1, the byte escaped' '
	refused 1 "cannot add '\''bad\\\\001name'\'': control character in path" add "$(printf "bad\001name")"
'

test_expect_success 'a name with a newline: still one line' '
	refused 1 "cannot add '\''new\\\\nline'\'': control character in path" add "$(printf "new\nline")"
'

test_expect_success 'anything in .soc: exit 1' '
	refused 1 "cannot add '\''.soc/config'\'': '\''.soc'\'' in path" add .soc/config &&
	refused 1 "cannot add '\''.soc'\''" add .soc
'

test_expect_success 'an empty path: exit 1' '
	refused 1 "an empty path names nothing" add ""
'

test_expect_success 'one bad path among good ones: nothing is added' '
	(cd ws && test_expect_code 1 soc add dir real/f nothere 2>../err) &&
	grep "nothere" err &&
	cmp before ws/.soc/index.db
'

test_expect_success 'every bad path is named, not only the first' '
	(cd ws && test_expect_code 1 soc add nothere fifo ../x 2>../err) &&
	test_line_count = 3 err &&
	cmp before ws/.soc/index.db
'

test_expect_success 'a bad option: exit 2 and the usage, nothing changed' '
	(cd ws && test_expect_code 2 soc add -z a 2>../err) &&
	grep "unknown option '\''-z'\''" err &&
	grep "^usage: soc add" err &&
	(cd ws && test_expect_code 2 soc status --porcelain=yes 2>../err) &&
	grep "takes no value" err &&
	cmp before ws/.soc/index.db
'

test_expect_success 'outside any workspace: exit 1, for every workspace command' '
	mkdir -p "$TRASH/none" &&
	cd "$TRASH/none" &&
	for c in add rm status; do
		test_expect_code 1 soc $c x 2>err &&
		test_line_count = 1 err &&
		grep "not in a soc workspace" err || return 1
	done
'

test_expect_success 'status skips, with a warning naming them, names it cannot track; links are tracked' '
	(cd ws && soc add . -q 2>../err) &&
	grep "skipping '\''bad\\\\001name'\'': control character in path" err &&
	grep "skipping '\''new\\\\nline'\'': control character in path" err &&
	grep "skipping fifo '\''fifo'\''" err &&
	! grep "skipping.*'\''l" err &&
	(cd ws && soc status --porcelain >../out 2>/dev/null) &&
	printf "A a\nA ldir\nA link\n" >want &&
	test_cmp want out
'

test_done
