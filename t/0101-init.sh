#!/bin/sh
# soc init: the workspace it makes, what it refuses, and .soc/config.
. "$(dirname "$0")/lib.sh"

test_expect_success 'init makes .soc with a 0600 config, an index and a lock' '
	soc init ws 2>err &&
	grep "initialised an empty soc workspace in .*/ws" err &&
	test -d ws/.soc &&
	test -f ws/.soc/index.db &&
	test -f ws/.soc/lock &&
	test "$(stat -c %a ws/.soc/config)" = 600 &&
	test "$(stat -c %a ws/.soc)" = 700
'

test_expect_success 'init with no remote says push needs one; status works' '
	grep "no remote yet" err &&
	(cd ws && soc status --porcelain >out && test_must_be_empty out)
'

test_expect_success 'init in the current directory, and -q says nothing' '
	mkdir here &&
	(cd here && soc init -q 2>../err) &&
	test_must_be_empty err &&
	test -f here/.soc/index.db
'

test_expect_success 'init DIR makes missing parents' '
	soc init -q deep/er/ws &&
	test -f deep/er/ws/.soc/index.db
'

test_expect_success 'init --remote writes the remote to the config' '
	soc init -q r --remote http://127.0.0.1:9/ &&
	grep -x "remote = http://127.0.0.1:9/" r/.soc/config
'

test_expect_success 'init refuses an existing workspace with exit 1 and changes nothing' '
	cp ws/.soc/index.db before &&
	cp ws/.soc/config config.before &&
	test_expect_code 1 soc init ws 2>err &&
	grep "'\''ws'\'' is already a soc workspace" err &&
	cmp before ws/.soc/index.db &&
	cmp config.before ws/.soc/config
'

test_expect_success 'init refuses a remote that is not http or https with exit 2, creating nothing' '
	for url in ftp://host/ host:8717 "http://" "https://a b/" file:///tmp; do
		test_expect_code 2 soc init bad --remote "$url" 2>err &&
		grep "is not an http:// or https:// URL" err &&
		! test -e bad || return 1
	done
'

test_expect_success 'init takes one directory at most' '
	test_expect_code 2 soc init a b 2>err &&
	grep "one directory at most" err &&
	! test -e a && ! test -e b
'

test_expect_success 'a config line soc does not know is refused, naming file and line' '
	printf "remote = http://127.0.0.1:9/\nfrob = 1\n" >>ws/.soc/config &&
	(cd ws && test_expect_code 1 soc status 2>../err) &&
	grep "config:6: unknown setting '\''frob'\''" err
'

test_expect_success 'a malformed config line is refused, naming file and line, never its text' '
	soc init -q m &&
	printf "token secret-value-here\n" >>m/.soc/config &&
	(cd m && test_expect_code 1 soc status 2>../err) &&
	grep "m/.soc/config:5: not a '\''key = value'\'' line" err &&
	! grep secret-value err
'

test_expect_success 'a remote in the config must be http or https' '
	soc init -q u &&
	echo "remote = gopher://x/" >>u/.soc/config &&
	(cd u && test_expect_code 1 soc status 2>../err) &&
	grep "config:5: remote '\''gopher://x/'\'' is not an http:// or https:// URL" err
'

test_expect_success 'a setting given twice is refused' '
	soc init -q t &&
	printf "token = a\ntoken = b\n" >>t/.soc/config &&
	(cd t && test_expect_code 1 soc status 2>../err) &&
	grep "config:6: '\''token'\'' is set twice" err
'

test_expect_success 'a config readable by others is warned about' '
	soc init -q p &&
	chmod 644 p/.soc/config &&
	(cd p && soc status 2>../err) &&
	grep "warning: .*config'\'' is readable by other users" err &&
	chmod 600 p/.soc/config &&
	(cd p && soc status 2>../err) &&
	test_must_be_empty err
'

test_done
