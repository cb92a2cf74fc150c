#!/bin/sh
# soc_push -f, as cron runs it: pushes even when nothing changed here,
# sending every tracked file the server lacks or holds differently, and
# still never overwriting a version this side has not seen.
. "$(dirname "$0")/lib.sh"

wrap_rsync

test_expect_success_here 'a server, two workspaces in sync' '
	setup_two &&
	mkdir a/D &&
	for f in f1 f2 f3; do echo "$f" >a/D/$f || return 1; done &&
	(cd a && soc_add D -id -q && soc_push -q) &&
	(cd b && soc_pull -q)
'

test_expect_success 'nothing changed and the server has it all: -f sends nothing, exit 0' '
	calls=$(client_rsyncs) &&
	(cd a && soc_push -f) 2>err &&
	grep "everything up to date" err &&
	test "$(client_rsyncs)" = "$calls"
'

test_expect_success 'a file the server lost is sent again by -f, not by a plain push' '
	(cd b && rm D/f1 && soc_push -q) &&
	t=$(server_tree server) &&
	! test -e "$t/D/f1" &&
	(cd a && soc_push -q) &&
	t=$(server_tree server) &&
	! test -e "$t/D/f1" &&
	(cd a && soc_push -f -q) &&
	t=$(server_tree server) &&
	test "$(cat "$t/D/f1")" = f1 &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'a new workspace holding what the server holds: -f records it, sends nothing' '
	soc init c --remote "$URL" -q &&
	mkdir c/D && cp a/D/* c/D/ &&
	(cd c && soc add -r D -q) &&
	calls=$(client_rsyncs) &&
	(cd c && soc_push -f -q) &&
	test "$(client_rsyncs)" = "$calls" &&
	(cd c && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'the server holds a newer version: -f refuses with exit 3, both kept' '
	(cd b && soc pull -q && echo "b edit" >>D/f2 && soc_push -q) &&
	(cd a && test_expect_code 3 soc_push -f) 2>err &&
	grep "newer versions of .D/f2." err &&
	test "$(cat a/D/f2)" = f2 &&
	t=$(server_tree server) &&
	grep "b edit" "$t/D/f2"
'

test_expect_success 'from cron: SOC_TOKEN in the environment, -q, a new file: exit 0, silent' '
	(cd a && soc pull -q) &&
	echo f4 >a/D/f4 &&
	(cd a && soc_push -f -q) >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	t=$(server_tree server) &&
	test "$(cat "$t/D/f4")" = f4 &&
	soc serve check --root server
'

test_done
