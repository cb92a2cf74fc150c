#!/bin/sh
# Failover of soc serve --db: a primary with a synchronous standby (made
# with pg_basebackup), the server on a conninfo naming both. The primary
# is stopped hard in the middle of a storm of pushes from two clients and
# the standby promoted; the server connects to it again by itself, every
# revision a client was told about is there with its content, the
# workspaces sync to one tree, and check is clean.
# It starts its own PostgreSQL: not the one SOC_TEST_DB=pg would give each root.
unset SOC_TEST_DB
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-pg.sh"

# The primary's fsync stays on: a promoted standby must hold what was acknowledged.
PG_FSYNC=on
export PG_FSYNC
SECS=6

test_expect_success_here 'a primary, a synchronous standby, and soc serve on both' '
	pg_up pg1 &&
	P1=$PG_HOST &&
	mkdir -m 700 "$TRASH/pg2" && { test -z "$PG_USER" || chown "$PG_USER:" "$TRASH/pg2"; } &&
	pg_as "$PG_BINDIR/pg_basebackup" -h "$P1" -U soc -D "$TRASH/pg2" -R -X stream -c fast 2>/dev/null &&
	# The primary keeps its socket in its data directory: its lock came along.
	rm -f "$TRASH/pg2/.s.PGSQL.5432.lock" &&
	pg_start pg2 &&
	P2=$PG_HOST &&
	pg_sql "ALTER SYSTEM SET synchronous_standby_names = '\''*'\''" "host=$P1 dbname=soc user=soc" &&
	pg_sql "SELECT pg_reload_conf()" "host=$P1 dbname=soc user=soc" >/dev/null &&
	n=0 &&
	until test "$(pg_sql "SELECT sync_state FROM pg_stat_replication" "host=$P1 dbname=soc user=soc")" = sync; do
		n=$((n + 1)) && test $n -lt 100 || return 1
		sleep 0.1
	done &&
	start_server "$TRASH/server" --db "host=$P1,$P2 dbname=soc user=soc target_session_attrs=read-write" &&
	SOC_TOKEN=$ADMIN_TOKEN && export SOC_TOKEN &&
	soc init a --remote "$URL" -q && soc init b --remote "$URL" -q
'

# storm W FILE: pushes edits of FILE from workspace W for SECS seconds;
# each revision the server answered goes to W.acked (revision, edit, time),
# each failure to W.failed.
storm() {
	(
		cd "$1" || exit 1
		: >../"$1".acked && : >../"$1".failed
		end=$(($(date +%s) + SECS))
		i=0
		while [ "$(date +%s)" -lt "$end" ]; do
			i=$((i + 1))
			echo "$1 $i" >"$2"
			soc add "$2" -q 2>/dev/null
			if soc push >../"$1".out 2>&1; then
				sed -n "s/^pushed .* as revision \([0-9]*\)$/\1 $i $(date +%s.%N)/p" ../"$1".out >>../"$1".acked
			else
				echo "$i" >>../"$1".failed
			fi
			cat ../"$1".out >>../"$1".log
		done
	)
}

test_expect_success 'the primary stopped hard mid-storm, the standby promoted: pushes go on' '
	storm a fa &
	sa=$! &&
	storm b fb &
	sb=$! &&
	sleep 2 &&
	before=$(cat a.acked b.acked | wc -l) &&
	pg_stop pg1 &&
	pg_as "$PG_BINDIR/pg_ctl" -w -D "$TRASH/pg2" promote >/dev/null &&
	promoted=$(date +%s.%N) &&
	wait $sa && wait $sb &&
	after=$(cat a.acked b.acked | awk -v t="$promoted" "\$3 > t" | wc -l) &&
	test_figure "pushes acknowledged: $before before the stop, $after after the promotion;" \
		"failed: $(cat a.failed b.failed | wc -l);" \
		"claims given back again: $(grep -c "once the database answered again" server.log)" &&
	test "$before" -gt 0 && test "$after" -gt 0 &&
	grep -q "lost the connection to PostgreSQL; connecting again" server.log
'

test_expect_success 'every acknowledged revision is in the promoted database, with its content' '
	P2C="host=$TRASH/pg2 dbname=soc user=soc" &&
	cat a.acked b.acked | cut -d" " -f1 | sort >acked &&
	pg_sql "SELECT rev FROM revs" "$P2C" | sort >revs &&
	comm -23 acked revs >missing && test_must_be_empty missing &&
	for w in a b; do
		f=f$w &&
		rev=$(tail -n 1 $w.acked | cut -d" " -f1) &&
		i=$(tail -n 1 $w.acked | cut -d" " -f2) &&
		pg_sql "SELECT sha256 FROM changes WHERE rev = $rev AND path = '\''$f'\''" "$P2C" >got &&
		printf "%s\n" "$w $i" | sha256sum | cut -d" " -f1 >want &&
		test_cmp want got || return 1
	done
'

test_expect_success 'both workspaces sync to one tree; check is clean' '
	(cd a && soc sync -q) && (cd b && soc sync -q) && (cd a && soc pull -q) &&
	ws_sum a >sa && ws_sum b >sb && test_cmp sa sb &&
	soc serve check --root "$TRASH/server"
'

test_done
