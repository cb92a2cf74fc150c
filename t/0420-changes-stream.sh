#!/bin/sh
# The server's change stream is read in one place (net.c, changes_get) for
# pull, push -f, and a push whose answer was lost (.soc/pending): each
# meets a stream it cannot use the same way, with one line and exit 1,
# and goes no further. The server is changes_server.py, whose stream each
# test writes.
. "$(dirname "$0")/lib.sh"

M5=98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4

test_expect_success_here 'a server whose stream the test writes, a workspace with f' '
	mkdir srv &&
	python3 "$TEST_SRC/helper/changes_server.py" "$TRASH/srv" >url &
	SERVER_PIDS="$SERVER_PIDS $!" &&
	n=0 &&
	until [ -s url ]; do
		n=$((n + 1)) && [ $n -lt 100 ] || return 1
		sleep 0.05
	done &&
	SOC_TOKEN=0000 &&
	export SOC_TOKEN &&
	soc init w --remote "$(cat url)" -q &&
	echo hi >w/f &&
	(cd w && soc add -q f)
'

# refused WHAT GREP: pull, push -f and a pending push each exit 1 with one
# line matching GREP, and no push is begun.
refused() {
	: >srv/requests &&
	test_expect_code 1 sh -c "cd w && soc pull -q" 2>err &&
	test_line_count = 1 err &&
	grep "$1" err &&
	test_expect_code 1 sh -c "cd w && soc push -f -q" 2>err &&
	test_line_count = 1 err &&
	grep "$1" err &&
	printf -- "- f\n" >w/.soc/pending &&
	test_expect_code 1 sh -c "cd w && soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "$1" err &&
	test -f w/.soc/pending &&
	rm w/.soc/pending &&
	! grep "^POST" srv/requests
}

test_expect_success 'a 404 in soc words: the server did not list its changes' '
	echo 404 >srv/status &&
	refused "the server did not list its changes (404)" &&
	rm srv/status
'

test_expect_success 'a stream with no head line: not a list either' '
	echo "{\"path\":\"f\",\"sha256\":\"$M5\",\"size\":3,\"mtime\":1,\"mode\":420,\"rev\":1}" >srv/changes &&
	refused "the server did not list its changes (200)"
'

test_expect_success 'a path out of the workspace: the line refused, naming it' '
	{ echo "{\"head\":1}" &&
	  echo "{\"path\":\"../x\",\"sha256\":\"$M5\",\"size\":3,\"mtime\":1,\"mode\":420,\"rev\":1}"; } >srv/changes &&
	refused "the server sent a change line we refuse for .\.\./x.: "
'

test_expect_success 'a newline in a refused path cannot break the message' '
	python3 -c "import json
print(json.dumps({\"head\": 1}))
print(json.dumps({\"path\": \"a\" + chr(10) + \"b\", \"deleted\": True, \"rev\": 1}))" >srv/changes &&
	refused "we refuse for .a.nb.: control character"
'

test_expect_success 'a head alone: the control, pull finds nothing to do' '
	echo "{\"head\":0}" >srv/changes &&
	(cd w && soc pull -q) 2>err &&
	test_must_be_empty err
'

test_done
