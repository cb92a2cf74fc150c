#!/bin/sh
# One binary, many names: dispatch, help and usage errors.
. "$(dirname "$0")/lib.sh"

test_expect_success 'soc --version prints the version' '
	soc --version >out &&
	grep "^soc [0-9][0-9.]*$" out
'

test_expect_success 'soc with no command prints usage and exits 2' '
	test_expect_code 2 soc 2>err &&
	grep "^usage: soc COMMAND" err
'

test_expect_success 'an unknown command exits 2 and names it' '
	test_expect_code 2 soc frobnicate 2>err &&
	grep "'\''frobnicate'\'' is not a soc command" err
'

test_expect_success 'an unknown soc_X link exits 2 and names it' '
	ln -s "$SOC" soc_frob &&
	test_expect_code 2 ./soc_frob 2>err &&
	grep "'\''soc_frob'\'' is not a soc command" err
'

test_expect_success 'soc help COMMAND and COMMAND --help print the same usage' '
	soc help version >a &&
	soc version --help >b &&
	test_cmp a b &&
	grep "^usage: soc version" a
'

test_expect_success 'every linked command has a usage and help exits 0' '
	soc --list >list &&
	while read -r c; do
		soc help "$c" >out && grep "^usage: soc $c" out || return 1
	done <list
'

test_done
