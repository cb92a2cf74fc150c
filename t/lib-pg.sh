# t/lib-pg.sh: a real PostgreSQL for the tests of `soc serve --db`, started
# by the script itself. Source it after lib.sh:
#
#   . "$TEST_SRC/lib-pg.sh"
#   test_expect_success_here 'a database' '
#       pg_up &&
#       start_server "$TRASH/server" --db "$PG_CONNINFO"
#   '
#
# pg_up [NAME] makes a fresh cluster in $TRASH/NAME (NAME "pg" unless
# given) with initdb and starts it, and creates the database soc, owned by
# the superuser soc. The server listens on a unix socket in that directory
# and nowhere else (no TCP), so no two scripts, nor two clusters of one
# script, can meet, and trust needs no password. It sets, for the cluster
# started last (by pg_up or pg_start):
#
#   PG_DIR       the cluster's directory, $TRASH/NAME
#   PG_HOST      the socket's directory (the same)
#   PG_CONNINFO  "host=PG_HOST dbname=soc user=soc", for --db and pg_sql
#   PG_PID       the postmaster's PID
#
# Run pg_up and pg_start with test_expect_success_here, so these are seen by
# later tests; the cluster is stopped at exit wherever it was started.
#
# fsync is off: a test's data need not outlive the machine, and the suite
# stays fast. A test of crashes sets PG_FSYNC=on in the environment to keep
# it.
#
# Every cluster pg_up or pg_start started is stopped when the script
# exits, pass or fail (pg_ctl -m immediate, then SIGKILL), by lib.sh's
# TEST_EXIT_HOOKS; its directory goes with the trash.

# The environment a developer's shell may carry would send psql, soc serve
# (libpq reads these too) or pg_ctl to another server.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE \
	PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGDATA PGTZ PGCLIENTENCODING \
	PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS 2>/dev/null

# Debian keeps the server's programs off PATH, in /usr/lib/postgresql/N/bin
# (/usr/bin/psql is a wrapper that picks a version). pg_config --bindir
# names that directory, but it comes with libpq-dev, whose version may not
# be the server's: it is used only when initdb is there, else the highest
# N that has one.
pg_find_bindir_() {
	pg_b=$(pg_config --bindir 2>/dev/null)
	if [ -n "$pg_b" ] && [ -x "$pg_b/initdb" ] && [ -x "$pg_b/psql" ]; then
		echo "$pg_b"
		return 0
	fi
	for pg_b in /usr/lib/postgresql/*/bin; do
		[ -x "$pg_b/initdb" ] && [ -x "$pg_b/psql" ] && echo "$pg_b"
	done | sort -V | tail -n 1
}
PG_BINDIR=$(pg_find_bindir_)
if [ -z "$PG_BINDIR" ]; then
	echo "Bail out! no PostgreSQL server (initdb) found (run make test, or sh scripts/deps.sh postgresql)"
	exit 1
fi

# PostgreSQL refuses to run as root, and the tests run as root in CI: then
# initdb and pg_ctl (and so the server) run as the postgres user Debian's
# package makes; otherwise as whoever runs the test. From / because the
# trash, the working directory, is root's and closed to postgres. Clients
# (psql, createdb, soc serve) need none of this: root reaches the socket.
if [ "$(id -u)" = 0 ]; then
	PG_USER=postgres
else
	PG_USER=
fi

# pg_as CMD...: CMD as the clusters' owner, for what a test does to a
# cluster's files itself (pg_basebackup for a standby, pg_controldata).
pg_as() {
	if [ -n "$PG_USER" ]; then
		(cd / && runuser -u "$PG_USER" -- "$@")
	else
		"$@"
	fi
}

# The clusters to stop at exit, a name a line, in a file and not a
# variable: pg_up in a test_expect_success body runs in a subshell.
PG_CLUSTERS=$TRASH/.pg-clusters

pg_register_() {
	grep -qxF "$1" "$PG_CLUSTERS" 2>/dev/null || echo "$1" >>"$PG_CLUSTERS"
}

# pg_start_ NAME: pg_ctl start, waiting until it takes connections, then
# the variables. The server's log is $TRASH/NAME.log (a failed start shows
# it). fd 4 is prove's stderr (lib.sh's test_figure): the postmaster must
# not hold it.
pg_start_() {
	pg_d=$TRASH/$1
	# A cluster the test made itself (a standby) has no log yet.
	if ! [ -e "$TRASH/$1.log" ]; then
		: >"$TRASH/$1.log" || return 1
		if [ -n "$PG_USER" ]; then chown "$PG_USER:" "$TRASH/$1.log" || return 1; fi
	fi
	if ! pg_as "$PG_BINDIR/pg_ctl" -w -t 60 -D "$pg_d" -l "$TRASH/$1.log" \
		-o "-c listen_addresses='' -k '$pg_d' -c fsync=${PG_FSYNC:-off}" \
		start 4>&-; then
		echo "pg_start: $1 did not start; its log:" >&2
		tail -n 20 "$TRASH/$1.log" >&2
		return 1
	fi
	PG_DIR=$pg_d
	PG_HOST=$pg_d
	PG_CONNINFO="host=$pg_d dbname=soc user=soc"
	PG_PID=$(head -n 1 "$pg_d/postmaster.pid")
}

pg_up() {
	pg_n=${1:-pg}
	pg_d=$TRASH/$pg_n
	if [ -e "$pg_d" ]; then
		echo "pg_up: $pg_d exists already" >&2
		return 1
	fi
	# The socket, $pg_d/.s.PGSQL.5432, must fit in sun_path (108 bytes).
	if [ ${#pg_d} -gt 90 ]; then
		echo "pg_up: $pg_d is too long for a unix socket's path (a shorter TMPDIR)" >&2
		return 1
	fi
	mkdir -m 700 "$pg_d" && : >"$TRASH/$pg_n.log" || return 1
	if [ -n "$PG_USER" ]; then
		# mktemp made the trash root's and 0700: postgres may pass through
		# it (search, not read) to its own directory and log. Above the
		# trash, TMPDIR must let it pass too (/tmp does).
		chmod o+x "$TRASH" &&
		chown "$PG_USER:" "$pg_d" "$TRASH/$pg_n.log" || return 1
		pg_as test -w "$pg_d" || {
			echo "pg_up: user $PG_USER cannot reach $pg_d (is TMPDIR closed to it?)" >&2
			return 1
		}
	fi
	pg_register_ "$pg_n" || return 1
	# --no-sync: nothing initdb writes need survive the machine either.
	pg_out=$(pg_as "$PG_BINDIR/initdb" --no-sync -A trust -U soc -E UTF8 \
		--locale=C -D "$pg_d" 2>&1) || {
		echo "pg_up: initdb failed:" >&2
		printf '%s\n' "$pg_out" >&2
		return 1
	}
	pg_start_ "$pg_n" &&
	"$PG_BINDIR/createdb" -h "$pg_d" -U soc soc
}

# pg_stop [NAME]: stops the cluster at once, as a crash would leave it
# (the next start recovers from its WAL).
pg_stop() {
	pg_as "$PG_BINDIR/pg_ctl" -w -t 30 -D "$TRASH/${1:-pg}" -m immediate stop
}

# pg_start [NAME]: starts the cluster NAME again (or one a test made
# itself in $TRASH/NAME, a standby, which is then stopped at exit too).
pg_start() {
	pg_register_ "${1:-pg}" && pg_start_ "${1:-pg}"
}

# pg_sql SQL [CONNINFO]: SQL on PG_CONNINFO (or CONNINFO), stopping at the
# first error, its rows unaligned and without headers (a|b), for test_cmp.
pg_sql() {
	"$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -d "${2:-$PG_CONNINFO}" -c "$1"
}

# At exit: each cluster stopped at once, and its postmaster killed if that
# did not end it (a hung server). Only a PID whose command line names the
# cluster's directory is killed: a test that killed the postmaster itself
# leaves a postmaster.pid whose PID may since be another process's.
pg_exit_hook_() {
	[ -f "$PG_CLUSTERS" ] || return 0
	while read -r pg_n; do
		pg_d=$TRASH/$pg_n
		pg_p=$(head -n 1 "$pg_d/postmaster.pid" 2>/dev/null)
		pg_as "$PG_BINDIR/pg_ctl" -w -t 10 -D "$pg_d" -m immediate stop \
			>/dev/null 2>&1 </dev/null
		[ -n "$pg_p" ] || continue
		case $(ps -o args= -p "$pg_p" 2>/dev/null) in
		*" -D $pg_d "*) kill -KILL "$pg_p" 2>/dev/null ;;
		esac
	done <"$PG_CLUSTERS"
}
TEST_EXIT_HOOKS="$TEST_EXIT_HOOKS pg_exit_hook_"
