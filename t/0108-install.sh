#!/bin/sh
# make install: soc and one relative soc_NAME link per linked command,
# under DESTDIR and PREFIX; the links match `soc --list`, and they run.
. "$(dirname "$0")/lib.sh"

BINDIR=$TRASH/dest/opt/soc/bin

test_expect_success 'make install DESTDIR=... PREFIX=... installs soc' '
	make -C "$TOP" --no-print-directory install DESTDIR="$TRASH/dest" PREFIX=/opt/soc >log 2>&1 &&
	test -x "$BINDIR/soc" &&
	! test -L "$BINDIR/soc"
'

test_expect_success 'one relative link per linked command, and nothing else' '
	"$BINDIR/soc" --list >list &&
	soc --list >list.test &&
	test_cmp list.test list &&
	grep -x add list && grep -x status list && grep -x serve list &&
	(cd "$BINDIR" && ls soc_*) | sed "s/^soc_//" | sort >linked &&
	sort list >want &&
	test_cmp want linked &&
	while read -r c; do
		test "$(readlink "$BINDIR/soc_$c")" = soc || return 1
	done <list
'

test_expect_success 'the links run their command' '
	"$BINDIR/soc_add" --help >out &&
	grep "^usage: soc add" out &&
	"$BINDIR/soc_status" --help >out &&
	grep "^usage: soc status" out &&
	soc init -q ws && echo x >ws/x &&
	(cd ws && "$BINDIR/soc_add" x && "$BINDIR/soc_status" --porcelain >../out) &&
	echo "A x" >want &&
	test_cmp want out
'

test_expect_success 'installing again over an installed tree works' '
	make -C "$TOP" --no-print-directory install DESTDIR="$TRASH/dest" PREFIX=/opt/soc >log 2>&1 &&
	test "$(readlink "$BINDIR/soc_add")" = soc
'

test_expect_success 'make uninstall takes them away' '
	make -C "$TOP" --no-print-directory uninstall DESTDIR="$TRASH/dest" PREFIX=/opt/soc >log 2>&1 &&
	! ls "$BINDIR"/soc* 2>/dev/null
'

test_done
