#!/bin/sh
# Cluster mode: several soc serve nodes on one PostgreSQL and one blob
# directory (--db CONNINFO --blobs DIR), haproxy in front handing each
# request to the next node. Any node serves any request of a push: its
# begin, upload, rsync and commit land on different nodes. A node keeps
# no files/ (pulls read views of links to the blobs), a node killed in
# the middle of a commit leaves the others serving, and every refusal
# of a wrong start is one line with nothing changed.
unset SOC_TEST_DB
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-pg.sh"
. "$TEST_SRC/lib-haproxy.sh"

B=$TRASH/blobs
# Node 4 syncs the blobs file by file, as on a shared mount; the others
# as the filesystem of TRASH allows. A node killed is taken for dead
# after 3 s, not 15.
SOC_TEST_NODE_LEASE_SECONDS=3
export SOC_TEST_NODE_LEASE_SECONDS

# node N: starts node N (root $TRASH/nN) on the cluster; NODE_URL_N and NODE_PID_N.
node() {
	start_server "$TRASH/n$1" --db "$PG_CONNINFO" --blobs "$B" &&
	eval "NODE_URL_$1=\$URL NODE_PID_$1=\$SERVER_PID"
}

test_expect_success_here 'four nodes on one database and one blob directory, haproxy in front' '
	pg_up &&
	node 1 && SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN && test -n "$SOC_TOKEN" &&
	node 2 && node 3 &&
	SOC_TEST_BLOBS_FSYNC_EACH=1 && export SOC_TEST_BLOBS_FSYNC_EACH && node 4 && unset SOC_TEST_BLOBS_FSYNC_EACH &&
	case $(stat -f -c %t "$B") in
	ef53|58465342|9123683e|f2f52010|1021994) way="by syncfs (a local disk)" ;;
	*) way="file by file" ;;
	esac &&
	grep -q "of the cluster on .*, synced $way\$" "$TRASH/n1.log" &&
	grep -q "of the cluster on .*, synced file by file\$" "$TRASH/n4.log" &&
	haproxy_up "$NODE_URL_1" "$NODE_URL_2" "$NODE_URL_3" "$NODE_URL_4" &&
	for n in 1 2 3 4; do
		test -f "$TRASH/n$n/blobs.dir" && ! test -e "$TRASH/n$n/files" &&
		echo "$B" >expect && test_cmp expect "$TRASH/n$n/blobs.dir" || return 1
	done &&
	test -d "$B/versions" && test -d "$B/staging" && test -d "$B/views" && test -s "$B/blobs.id" &&
	pg_sql "SELECT value FROM meta WHERE key = '\''blobs'\''" >id && test_cmp id "$B/blobs.id" &&
	test "$(pg_sql "SELECT count(*) FROM nodes")" = 4 &&
	soc init a --remote "$HAPROXY_URL" -q && soc init b --remote "$HAPROXY_URL" -q
'

test_expect_success 'pushes and pulls through haproxy: new, changed, deleted, links' '
	mkdir -p a/d && echo one >a/f && echo x >a/d/g && ln -s f a/ln &&
	(cd a && soc add -r . -q && soc push -q) &&
	(cd b && soc pull -q) && ws_sum a >sa && ws_sum b >sb && test_cmp sa sb &&
	test "$(readlink b/ln)" = f &&
	echo a-side >>a/f && (cd a && soc push -q) &&
	echo b-side >b/d/g && rm b/ln && (cd b && soc rm ln -q && soc push -q) &&
	(cd a && soc pull -q) && (cd b && soc pull -q) &&
	ws_sum a >sa && ws_sum b >sb && test_cmp sa sb && ! test -e a/ln &&
	test "$(pg_sql "SELECT value FROM meta WHERE key = '\''head'\''")" = 3
'

# The push of one big changed file goes by the upload stream (new) and
# by rsync (changed, with the server's blob as its basis).
# Rows go to PostgreSQL by COPY: a path and a link target with what its
# text form escapes come back as they went.
test_expect_success 'a path and a link target with a backslash, a tab, a quote and non-ASCII' '
	mkdir -p "a/q\"é" && echo odd >"a/q\"é/f\"ü" &&
	ln -s "$(printf "x\\\\y\tz\"é")" a/odd-link &&
	(cd a && soc add -r . -q && soc push -q) && (cd b && soc pull -q) &&
	test "$(cat "b/q\"é/f\"ü")" = odd &&
	test "$(readlink b/odd-link)" = "$(readlink a/odd-link)" &&
	test "$(readlink b/odd-link)" = "$(printf "x\\\\y\tz\"é")"
'

test_expect_success 'one push: begin, upload, rsync and commit on different nodes' '
	head -c 3000000 /dev/urandom >a/big && (cd a && soc add big -q && soc push -q) &&
	printf "edit" | dd of=a/big bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	head -c 200000 /dev/urandom >a/new && (cd a && soc add new -q) &&
	: >"$HAPROXY_LOG.mark" && wc -l <"$HAPROXY_LOG" >mark &&
	(cd a && SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) &&
	sleep 0.5 &&
	tail -n +$(($(cat mark) + 1)) "$HAPROXY_LOG" >reqs &&
	begin=$(sed -n "s|^\(n[0-9]\) 201 POST /api/v1/push --\$|\1|p" reqs) &&
	upload=$(sed -n "s|^\(n[0-9]\) 101 POST /api/v1/push/[0-9a-f]*/upload .*|\1|p" reqs) &&
	# rsync asks haproxy for the daemon by CONNECT, and haproxy passes it on.
	rsync=$(sed -n "s|^\(n[0-9]\) 200 CONNECT soc:873 .*|\1|p" reqs) &&
	commit=$(sed -n "s|^\(n[0-9]\) 200 POST /api/v1/push/[0-9a-f]*/commit .*|\1|p" reqs) &&
	echo "begin $begin upload $upload rsync $rsync commit $commit" &&
	test -n "$begin" && test -n "$upload" && test -n "$rsync" && test -n "$commit" &&
	test "$(printf "%s\n" $begin $upload $rsync $commit | sort -u | wc -l)" = 4 &&
	(cd b && soc pull -q) && cmp a/big b/big && cmp a/new b/new
'

test_expect_success 'a pull of a big changed file reads a view of the blobs, with the mtime of its push' '
	head -c 8000000 /dev/urandom >a/huge && touch -d "2020-01-02 03:04:05" a/huge &&
	(cd a && soc add huge -q && soc push -q) && (cd b && soc pull -q) &&
	printf "edit" | dd of=a/huge bs=1 seek=5000000 conv=notrunc 2>/dev/null &&
	touch -d "2021-02-03 04:05:06" a/huge && (cd a && soc push -q) &&
	ls "$B/views" >before &&
	(cd b && soc pull -q) && cmp a/huge b/huge &&
	test "$(stat -c %Y b/huge)" = "$(stat -c %Y a/huge)" &&
	ls "$B/views" >after && ! test_cmp before after
'

test_expect_success 'a pull by rsync alone makes directories as a workspace has them, and leaves no commit/' '
	mkdir -p a/data/x/y a/data/z && echo one >a/data/x/y/f1 && echo two >a/data/z/f2 &&
	(cd a && soc add -q -r data && soc push -q) &&
	(cd b && SOC_TEST_NO_FETCH=1 soc pull -q) && cmp a/data/x/y/f1 b/data/x/y/f1 &&
	(cd a && stat -c %a data data/x data/x/y data/z) >expect &&
	(cd b && stat -c %a data data/x data/x/y data/z) >modes && test_cmp expect modes &&
	find "$B/commit" -mindepth 1 >left && test_must_be_empty left
'

test_expect_success 'soc serve check on a node scrubs the blob store; gc runs there' '
	soc serve check --root "$TRASH/n2" 2>out &&
	grep -q "every kept version is in" out &&
	blob=$(find "$B/versions" -type f | head -n 1) && cp "$blob" saved &&
	chmod u+w "$blob" && echo tampered >"$blob" &&
	test_must_fail soc serve check --root "$TRASH/n1" >out 2>&1 && grep -q "wrong content" out &&
	cat saved >"$blob" && soc serve check --root "$TRASH/n1" &&
	soc serve gc --root "$TRASH/n3" 2>out && grep -q "^gc: removed" out &&
	soc serve check --root "$TRASH/n4"
'

test_expect_success_here 'refused, with one line and nothing changed' '
	mkdir other &&
	test_must_fail timeout 30 soc serve --root "$TRASH/n9" --db "$PG_CONNINFO" --listen 127.0.0.1:0 2>err &&
	grep -q "start it with --blobs" err && test_line_count = 1 err && ! test -e "$TRASH/n9/db.conninfo" &&
	! test -e "$TRASH/n9/blobs.dir" &&
	test_must_fail timeout 30 soc serve --root "$TRASH/n5" --db "$PG_CONNINFO" --blobs other \
		--listen 127.0.0.1:0 2>err &&
	grep -q "is not the blob store" err && ! test -e "$TRASH/n5/blobs.dir" && ! test -e other/blobs.id &&
	test_must_fail timeout 30 soc serve --root "$TRASH/n1" --blobs other --listen 127.0.0.1:0 2>err &&
	grep -q "another soc serve runs\|keeps its blobs in" err &&
	test_must_fail timeout 30 soc serve --root "$TRASH/lite" --blobs "$B" --listen 127.0.0.1:0 2>err &&
	grep -q "goes with a root on PostgreSQL" err && test_line_count = 1 err &&
	test_expect_code 2 soc serve check --blobs "$B" --root "$TRASH/n1" 2>err
'

test_expect_success_here 'a node killed: its row goes; killed mid-commit: the others serve, its push is reopened' '
	kill -9 "$NODE_PID_3" &&
	n=0 && until test "$(pg_sql "SELECT count(*) FROM nodes")" = 3; do
		n=$((n + 1)) && test $n -lt 200 && sleep 0.05 || return 1
	done &&
	SOC_TEST_APPLY_DELAY_MS=5000 && export SOC_TEST_APPLY_DELAY_MS &&
	start_server "$TRASH/n3" && unset SOC_TEST_APPLY_DELAY_MS &&
	NODE_URL_3=$URL NODE_PID_3=$SERVER_PID &&
	echo slow >a/slow && (cd a && soc add slow -q) &&
	sed -i "s|^remote = .*|remote = $NODE_URL_3|" a/.soc/config &&
	{ (cd a && soc push -q) 2>push.err & } &&
	push=$! &&
	n=0 && until pg_sql "SELECT count(*) FROM txns WHERE state = '\''committing'\''" | grep -qx 1; do
		n=$((n + 1)) && test $n -lt 200 && sleep 0.05 || return 1
	done &&
	kill -9 "$NODE_PID_3" && ! wait $push &&
	sed -i "s|^remote = .*|remote = $HAPROXY_URL|" a/.soc/config &&
	echo meanwhile >b/other && (cd b && soc add other -q && soc push -q) &&
	n=0 && until pg_sql "SELECT count(*) FROM txns WHERE state = '\''committing'\''" | grep -qx 0; do
		n=$((n + 1)) && test $n -lt 300 && sleep 0.05 || return 1
	done &&
	cat "$TRASH/n1.log" "$TRASH/n2.log" "$TRASH/n4.log" |
		grep -q "was being committed by a node that stopped answering; reopened it" &&
	test "$(pg_sql "SELECT count(*) FROM nodes")" = 3
'

test_expect_success 'after it, the push lands through the live nodes and check is clean' '
	(cd a && soc push -q) && (cd a && soc pull -q) && (cd b && soc pull -q) &&
	test "$(cat b/slow)" = slow && test "$(cat a/other)" = meanwhile &&
	soc serve check --root "$TRASH/n2"
'

# The lease is renewed by a thread of its own: a node whose four workers
# all wait for 5 s on one slow commit (the others queue behind it) is
# not taken for dead with a lease of 3 s, and every push lands.
test_expect_success_here 'a node busy past its lease keeps it' '
	SOC_TEST_APPLY_DELAY_MS=5000 && export SOC_TEST_APPLY_DELAY_MS &&
	start_server "$TRASH/n3" && unset SOC_TEST_APPLY_DELAY_MS &&
	NODE_URL_3=$URL NODE_PID_3=$SERVER_PID &&
	cat "$TRASH/n1.log" "$TRASH/n2.log" "$TRASH/n4.log" | grep -c "stopped answering" >before || : &&
	pids= &&
	for c in 1 2 3 4; do
		soc init "busy$c" --remote "$NODE_URL_3" -q && echo "busy $c" >"busy$c/f$c" &&
		(cd "busy$c" && soc add "f$c" -q) || return 1
	done &&
	for c in 1 2 3 4; do
		{ (cd "busy$c" && soc push -q) 2>"busy$c.err" & } && pids="$pids $!" || return 1
	done &&
	for p in $pids; do wait $p || return 1; done &&
	! grep "taken for stopped" "$TRASH/n3.log" &&
	cat "$TRASH/n1.log" "$TRASH/n2.log" "$TRASH/n4.log" | grep -c "stopped answering" >after || : &&
	test_cmp before after &&
	(cd b && soc pull -q) && test "$(cat b/f4)" = "busy 4"
'

# The housekeeping removes views a day old, the first time at the start.
test_expect_success_here 'a view a day old goes, a new one stays' '
	mkdir "$B/views/stale" "$B/views/fresh" && : >"$B/views/stale/f" &&
	touch -d "2 days ago" "$B/views/stale" &&
	kill "$NODE_PID_3" && wait "$NODE_PID_3"; start_server "$TRASH/n3" &&
	NODE_URL_3=$URL NODE_PID_3=$SERVER_PID &&
	n=0 && while test -e "$B/views/stale"; do
		n=$((n + 1)) && test $n -lt 100 && sleep 0.05 || return 1
	done &&
	test -d "$B/views/fresh"
'

# A database out of reach is said once a node, with why, not at each
# renewal of its lease (every second here), and its end is said too.
test_expect_success_here 'PostgreSQL stopped for seconds: each node says so once, and when it is back' '
	pg_stop &&
	sleep 4 &&
	pg_start &&
	for n in 1 2 3 4; do
		i=0 && until grep -q "node [0-9a-f]* reached the database again after [0-9]* s" "$TRASH/n$n.log"; do
			i=$((i + 1)) && test $i -lt 300 && sleep 0.05 || return 1
		done &&
		test "$(grep -c "cannot reach the database to renew its lease" "$TRASH/n$n.log")" = 1 || return 1
	done &&
	echo after >a/after && (cd a && soc add after -q && soc push -q) &&
	(cd b && soc pull -q) && test "$(cat b/after)" = after
'

test_done
