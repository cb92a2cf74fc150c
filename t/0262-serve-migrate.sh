#!/bin/sh
# soc serve migrate --db CONNINFO: a SQLite root's whole history moved to
# an empty PostgreSQL database with the server stopped. Workspaces go on
# as if nothing happened (same history id, same revisions and versions,
# the same tokens); soc.db is kept aside. Refused, with one line and
# nothing changed: under a running server, into a database that holds a
# history, on a root already on PostgreSQL, without --db.
# It starts its own PostgreSQL: not the one SOC_TEST_DB=pg would give each root.
unset SOC_TEST_DB
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-pg.sh"

S=$TRASH/server

test_expect_success_here 'a SQLite root with revisions, a delete, a link, tokens, and a PostgreSQL' '
	setup_two &&
	! test -e "$S/db.conninfo" &&
	mkdir -p a/d && echo one >a/f && echo x >a/d/g && ln -s f a/ln && echo gone >a/del &&
	(cd a && soc add -r . -q && soc push -q) &&
	echo two >>a/f && rm a/del && (cd a && soc rm del -q && soc push -q --allow-delete) &&
	(cd b && soc pull -q) &&
	soc serve token new reader --read-only --root "$S" >reader.token 2>/dev/null &&
	(cd a && soc log) >log.before &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/info" >info.before &&
	pg_up
'

test_expect_success 'refused while the server runs: one line, nothing changed' '
	ls -A "$S" >before &&
	test_expect_code 1 soc serve migrate --db "$PG_CONNINFO" --root "$S" 2>err &&
	test_line_count = 1 err && grep "another soc serve runs on" err &&
	ls -A "$S" >after && test_cmp before after &&
	test "$(pg_sql "SELECT count(*) FROM pg_tables WHERE schemaname = '\''public'\''")" = 0
'

test_expect_success 'without --db: a usage error' '
	test_expect_code 2 soc serve migrate --root "$S" 2>err &&
	grep "wants --db" err
'

test_expect_success_here 'the server stopped: every row moves, soc.db is kept aside' '
	stop_server "$SERVER_PID" &&
	sqlite3 "$S/soc.db" "SELECT rev, adds, mods, dels FROM revs ORDER BY rev" >revs.lite &&
	sqlite3 "$S/soc.db" "SELECT path, sha256, rev FROM changes ORDER BY rev, path" >changes.lite &&
	sqlite3 "$S/soc.db" "SELECT name, sha256, read_only FROM tokens ORDER BY name" >tokens.lite &&
	soc serve migrate --db "$PG_CONNINFO" --root "$S" 2>err &&
	grep "moved the history of .* to PostgreSQL: 2 revisions, .* 2 tokens" err &&
	test -f "$S/db.conninfo" && ! test -e "$S/soc.db" && test -f "$S/soc.db.migrated" &&
	pg_sql "SELECT rev, adds, mods, dels FROM revs ORDER BY rev" >revs.pg &&
	test_cmp revs.lite revs.pg &&
	pg_sql "SELECT path, sha256, rev FROM changes ORDER BY rev, path" >changes.pg &&
	test_cmp changes.lite changes.pg &&
	pg_sql "SELECT name, sha256, read_only FROM tokens ORDER BY name" >tokens.pg &&
	test_cmp tokens.lite tokens.pg
'

test_expect_success_here 'started again without --db: the same server to every workspace' '
	start_server "$S" &&
	sed -i "s|^remote = .*|remote = $URL|" a/.soc/config b/.soc/config &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/info" >info.after &&
	grep -o "\"history\":\"[0-9a-f]*\"" info.before >h1 && grep -o "\"history\":\"[0-9a-f]*\"" info.after >h2 &&
	test -s h1 && test_cmp h1 h2 &&
	(cd a && soc log) >log.after && test_cmp log.before log.after &&
	test "$(curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $(cat reader.token)" \
		"$URL/api/v1/info")" = 200 &&
	(cd b && soc status --porcelain) >st && test_must_be_empty st &&
	echo three >>b/f && (cd b && soc push -q) && (cd a && soc pull -q) &&
	ws_sum a >sa && ws_sum b >sb && test_cmp sa sb &&
	(cd a && soc restore f --rev 1 -q) && test "$(cat a/f)" = one &&
	soc serve check --root "$S"
'

test_expect_success_here 'refused: a root already on PostgreSQL; a database that holds a history' '
	stop_server "$SERVER_PID" &&
	ls -A "$S" >before &&
	test_expect_code 1 soc serve migrate --db "$PG_CONNINFO" --root "$S" 2>err &&
	test_line_count = 1 err && grep "keeps its history in PostgreSQL already" err &&
	ls -A "$S" >after && test_cmp before after &&
	start_server "$TRASH/lite" &&
	stop_server "$SERVER_PID" &&
	ls -A "$TRASH/lite" >before &&
	test_expect_code 1 soc serve migrate --db "$PG_CONNINFO" --root "$TRASH/lite" 2>err &&
	test_line_count = 1 err && grep "holds a soc history already" err &&
	ls -A "$TRASH/lite" >after && test_cmp before after
'

test_done
