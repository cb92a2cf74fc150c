#!/bin/sh
# soc serve --db CONNINFO: the history in a real PostgreSQL, started by
# this script. The root remembers its database (db.conninfo, 0600, and no
# soc.db), so a restart, the token commands and check find it without
# --db; a root is never bound to another database, a SQLite root is never
# switched, and a database emptied under a root with files is refused.
# It starts its own PostgreSQL: not the one SOC_TEST_DB=pg would give each root.
unset SOC_TEST_DB
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-pg.sh"

S=$TRASH/server

test_expect_success_here 'a new root on PostgreSQL' '
	pg_up &&
	start_server "$S" --db "$PG_CONNINFO" &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	test -f "$S/db.conninfo" && ! test -e "$S/soc.db" &&
	test "$(stat -c %a "$S/db.conninfo")" = 600 &&
	echo "$PG_CONNINFO" >expect && test_cmp expect "$S/db.conninfo" &&
	soc init a --remote "$URL" -q && soc init b --remote "$URL" -q
'

test_expect_success 'pushes and pulls of both workspaces go through it' '
	mkdir -p a/d && echo one >a/f && echo x >a/d/g && ln -s f a/ln &&
	(cd a && soc add -r . -q && soc push -q) &&
	(cd b && soc pull -q) && ws_sum a >sa && ws_sum b >sb && test_cmp sa sb &&
	test "$(readlink b/ln)" = f &&
	echo a-side >>a/f && (cd a && soc push -q) &&
	echo b-side >b/d/g && rm b/ln && (cd b && soc rm ln -q && soc push -q) &&
	(cd a && soc pull -q) && (cd b && soc pull -q) &&
	ws_sum a >sa && ws_sum b >sb && test_cmp sa sb && ! test -e a/ln &&
	pg_sql "SELECT value FROM meta WHERE key = '\''head'\''" >head &&
	echo 3 >expect && test_cmp expect head &&
	pg_sql "SELECT rev, adds, mods, dels FROM revs ORDER BY rev" >revs &&
	printf "1|3|0|0\n2|0|1|0\n3|0|1|1\n" >expect && test_cmp expect revs &&
	pg_sql "SELECT path, rev FROM files WHERE sha256 IS NOT NULL ORDER BY path" >files &&
	printf "d/g|3\nf|2\n" >expect && test_cmp expect files
'

test_expect_success 'the log, history and tree endpoints read it' '
	(cd a && soc log) >log &&
	grep -c "^r[0-9]" log >n && echo 3 >expect && test_cmp expect n &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/tree?rev=1" >tree &&
	grep -q "\"d/g\"" tree && grep -q "\"ln\"" tree &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/history?path=f" >hist &&
	test "$(grep -o "\"rev\":" hist | wc -l)" -eq 2
'

test_expect_success 'tokens: made, listed and revoked through the root alone' '
	soc serve token new bob --root "$S" >bob.token 2>/dev/null &&
	soc serve token list --root "$S" >list &&
	cut -f1,2 list >names && printf "admin\tread-write\nbob\tread-write\n" >expect && test_cmp expect names &&
	pg_sql "SELECT name FROM tokens ORDER BY name" >rows && printf "admin\nbob\n" >expect && test_cmp expect rows &&
	test "$(curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $(cat bob.token)" "$URL/api/v1/info")" = 200 &&
	soc serve token revoke bob --root "$S" 2>/dev/null &&
	test "$(curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $(cat bob.token)" "$URL/api/v1/info")" = 401
'

test_expect_success_here 'check is clean; a restart without --db keeps the head and the history id' '
	soc serve check --root "$S" &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/info" >info1 &&
	stop_server "$SERVER_PID" &&
	start_server "$S" &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/info" >info2 &&
	grep -o "\"history\":\"[0-9a-f]*\"" info1 >h1 && grep -o "\"history\":\"[0-9a-f]*\"" info2 >h2 &&
	test -s h1 && test_cmp h1 h2 &&
	sed -i "s|^remote = .*|remote = $URL|" a/.soc/config b/.soc/config &&
	echo after >a/new && (cd a && soc add new -q && soc push -q) &&
	(cd b && soc pull -q) && test "$(cat b/new)" = after
'

test_expect_success 'PostgreSQL stopped hard and started again: the next push and pull go through' '
	pg_stop && pg_start &&
	echo again >a/new && (cd a && soc push -q) &&
	(cd b && soc pull -q) && test "$(cat b/new)" = again &&
	grep -q "lost the connection to PostgreSQL; connecting again" server.log
'

test_expect_success_here 'refused, with one line and nothing changed: another database, or a SQLite root' '
	stop_server "$SERVER_PID" &&
	ls -A "$S" >before &&
	test_expect_code 1 timeout 30 soc serve --root "$S" --db "host=$PG_HOST dbname=other user=soc" \
		--listen 127.0.0.1:0 2>err &&
	test_line_count = 1 err && grep -q "not in the one --db names" err &&
	ls -A "$S" >after && test_cmp before after &&
	start_server "$TRASH/lite" &&
	ls -A "$TRASH/lite" >before &&
	test_expect_code 1 soc serve token list --root "$TRASH/lite" --db "$PG_CONNINFO" 2>err &&
	test_line_count = 1 err && grep -q "keeps its history in soc.db" err &&
	ls -A "$TRASH/lite" >after && test_cmp before after &&
	test_expect_code 2 soc serve backup "$TRASH/bk" --root "$S" --db "$PG_CONNINFO" 2>err &&
	grep -q pg_dump err && ! test -e "$TRASH/bk" &&
	test_expect_code 1 soc serve backup "$TRASH/bk" --root "$S" 2>err &&
	test_line_count = 1 err && grep -q pg_dump err && ! test -e "$TRASH/bk"
'

test_expect_success 'a database emptied under a root that holds files is refused' '
	pg_sql "DROP TABLE files, revs, changes, tokens, txns, txn_items, meta, nodes, uploads" &&
	test_expect_code 1 timeout 30 soc serve --root "$S" --listen 127.0.0.1:0 2>err &&
	grep -q "holds files (files/) but its PostgreSQL database holds no revision" err &&
	test "$(pg_sql "SELECT count(*) FROM pg_tables WHERE schemaname = '\''public'\''")" = 0
'

test_done
