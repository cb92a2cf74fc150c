#!/bin/sh
# soc.1 and the bash completion: installed by make install, taken away by
# make uninstall; the page lints clean; neither drifts from the commands
# and options soc itself has (its usage strings and option tables).
. "$(dirname "$0")/lib.sh"

DEST=$TRASH/dest/opt/soc
COMPDIR=$DEST/share/bash-completion/completions
BS=$(printf "\b")

# The commands in soc.c's table, as `soc --help` lists them.
soc --help | sed -n '/^commands:/,/^$/s/^  soc \([a-z]*\).*/\1/p' >commands

# The options CMD's usage string names: -x, -long and --long words.
usage_opts() {
	soc "$1" --help | grep -o -E '(^|[][ |,(])--?[a-z][a-z-]*' | sed 's/^[^-]*//' | sort -u
}

# The options CMD's option table in cmd_CMD.c takes, each as the
# regular expression it must appear as: -x, or -name / --name.
table_opts() {
	test -f "$TOP/cmd_$1.c" || return 0
	{
		sed -n "s/.*{ '\\([a-z]\\)', .*OPT_.*/-\\1/p" "$TOP/cmd_$1.c"
		sed -n "s/.*{ [^,]*, \"\\([a-z-]*\\)\", OPT_.*/--?\\1/p" "$TOP/cmd_$1.c"
	} | sort -u
}

# One command's subsection of the rendered page, below its usage heading,
# so an option named only in the heading is not taken as described.
man_section() {
	awk -v c="$1" '$0 ~ "^   soc " c "( |$)" { on = 1; next }
		/^   [^ ]/ || /^[A-Z]/ { on = 0 } on' page
}

# What _soc offers for the words given, the last one being completed.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _soc
		printf "%s\n" "${COMPREPLY[@]}"' sh "$TOP/contrib/soc.bash-completion" "$@" |
		sed "/^$/d" | sort -u
}

test_expect_success 'the command table and the page are read' '
	grep -x init commands && grep -x serve commands && grep -x tunnel commands &&
	test_line_count -ge 10 commands &&
	mandoc -T ascii -O width=200 "$TOP/soc.1" | sed "s/.$BS//g" >page &&
	grep "^EXIT STATUS" page && grep "^ENVIRONMENT" page && grep "^FILES" page
'

test_expect_success 'make install puts the man page and the completion in place' '
	make -C "$TOP" --no-print-directory install DESTDIR="$TRASH/dest" PREFIX=/opt/soc >log 2>&1 &&
	test_cmp "$TOP/soc.1" "$DEST/share/man/man1/soc.1" &&
	test_cmp "$TOP/contrib/soc.bash-completion" "$COMPDIR/soc" &&
	soc --list >list &&
	(cd "$COMPDIR" && ls soc_*) | sed "s/^soc_//" | sort >linked &&
	sort list >want &&
	test_cmp want linked &&
	while read -r c; do
		test "$(readlink "$COMPDIR/soc_$c")" = soc || return 1
	done <list
'

test_expect_success 'the installed page lints clean and renders' '
	mandoc -T lint -W warning "$DEST/share/man/man1/soc.1" >lint 2>&1 &&
	test_must_be_empty lint &&
	mandoc -T ascii "$DEST/share/man/man1/soc.1" >out &&
	grep "soc clone" out
'

test_expect_success 'every command has its section, every option its mention' '
	while read -r c; do
		man_section "$c" >sect &&
		test -s sect || { echo "no section for soc $c"; return 1; }
		{ usage_opts "$c"; table_opts "$c"; } >opts || return 1
		while read -r o; do
			grep -q -E -- "(^|[^a-zA-Z0-9-])$o([^a-zA-Z0-9-]|$)" sect ||
				{ echo "soc $c: $o missing from soc.1"; return 1; }
		done <opts
	done <commands
'

test_expect_success 'the page names its files, environment and exit codes' '
	for w in .soc/config .soc/index.db .soc/lock .socignore soc.db files/ \
		staging/ admin.token rsyncd.conf rsyncd-ro.conf rsyncd.log \
		SOC_TOKEN SOC_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR \
		XDG_DATA_HOME remote token cacert; do
		grep -q -F -- "$w" page || { echo "soc.1 lacks $w"; return 1; }
	done &&
	sed -n "/^EXIT STATUS/,/^[A-Z]/p" page | grep -o -E "^     [0-9]" | tr -d " " >codes &&
	printf "%s\n" 0 1 2 3 4 5 6 >want &&
	test_cmp want codes
'

test_expect_success 'soc TAB offers every command but the internal tunnel' '
	{ grep -v -x tunnel commands; echo help; } | sort >want &&
	complete_words soc "" >got &&
	test_cmp want got &&
	printf "%s\n" pull push >want &&
	complete_words soc pu >got &&
	test_cmp want got
'

test_expect_success 'soc push -- offers its long options' '
	usage_opts push | grep -e "^--" >want &&
	echo --help >>want && sort -o want want &&
	grep -x -e --force -e --dry-run -e --allow-delete want &&
	complete_words soc push -- >got &&
	test_cmp want got &&
	complete_words soc_push -- >got &&
	test_cmp want got
'

test_expect_success 'each command is offered exactly the options its usage names' '
	while read -r c; do
		case $c in tunnel | version) continue ;; esac
		{ usage_opts "$c"; echo --help; } | sort -u >want &&
		if test "$c" = serve; then
			{ complete_words soc serve - && complete_words soc serve token new x - &&
				complete_words soc serve export x -; } |
				sort -u >got
		else
			complete_words soc "$c" - >got
		fi &&
		{ test_cmp want got || { table_opts "$c" >table && while read -r o; do
				grep -q -x -F -- "$o" want || echo "$o" | grep -q -x -E -f table ||
					{ echo "soc $c: completion offers $o"; return 1; }
			done <got && comm -23 want got >missing && test_must_be_empty missing; }; } ||
			return 1
	done <commands
'

test_expect_success 'the soc_NAME links complete as soc NAME does' '
	while read -r c; do
		complete_words soc "$c" - >want &&
		complete_words "soc_$c" - >got &&
		test_cmp want got || return 1
		bash -c ". \"\$1\" && complete -p soc_$c" sh "$TOP/contrib/soc.bash-completion" |
			grep -F -e "-F _soc" || return 1
	done <list
'

test_expect_success 'soc serve offers token and check, token its subcommands' '
	soc serve --help | sed -n "s/.*soc serve \\([a-z][a-z]*\\).*/\\1/p" | sort -u >want &&
	complete_words soc serve "" >got &&
	test_cmp want got &&
	soc serve --help | sed -n "s/.*soc serve token \\([a-z][a-z]*\\).*/\\1/p" | sort -u >want &&
	complete_words soc serve token "" >got &&
	test_cmp want got &&
	complete_words soc serve token new laptop --r >got &&
	printf "%s\n" --read-only --root >want &&
	test_cmp want got
'

test_expect_success 'make uninstall takes them away' '
	make -C "$TOP" --no-print-directory uninstall DESTDIR="$TRASH/dest" PREFIX=/opt/soc >log 2>&1 &&
	! test -e "$DEST/share/man/man1/soc.1" &&
	! ls "$COMPDIR"/soc* 2>/dev/null
'

test_done
