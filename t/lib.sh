# t/lib.sh: the test library, in the manner of git's t/test-lib.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'title' '
#       cmd1 &&
#       cmd2
#   '
#   test_done
#
# Each script runs in its own trash directory with HOME inside it, LC_ALL=C
# and TZ=UTC. `soc` and the soc_* links on PATH are the sanitizer build.
# Every server started with start_server is killed by its PID when the
# script exits, pass or fail.

TEST_NAME=$(basename "$0" .sh)
TEST_SRC=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$TEST_SRC/.." && pwd)
SOC=${SOC_TEST_BIN:-$TOP/build/test/soc}
if ! [ -x "$SOC" ]; then
	echo "Bail out! no soc binary at $SOC (run make test)"
	exit 1
fi

# A script that sets TEST_PRIVATE_MOUNTS=1 before this file runs in a
# mount namespace of its own (as root `unshare -m`, else a user namespace
# with `unshare -rm`), so mount_tmpfs can give it small filesystems to
# fill, and they vanish with it whatever happens.
if [ -n "$TEST_PRIVATE_MOUNTS" ] && [ -z "$SOC_TEST_IN_NS" ]; then
	SOC_TEST_IN_NS=1
	export SOC_TEST_IN_NS
	if [ "$(id -u)" = 0 ]; then
		exec unshare -m --propagation private sh "$0" "$@"
	fi
	exec unshare -rm --propagation private sh "$0" "$@"
fi

LC_ALL=C
TZ=UTC
export LC_ALL TZ
unset SOC_TOKEN SOC_REMOTE GIT_DIR 2>/dev/null

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/soc-$TEST_NAME.XXXXXX") || exit 1
HOME=$TRASH
export HOME
BIN=$TRASH/.bin
mkdir -p "$BIN"
ln -s "$SOC" "$BIN/soc"
for c in add push pull serve status; do ln -s "$SOC" "$BIN/soc_$c"; done
PATH=$BIN:$PATH
export PATH
cd "$TRASH" || exit 1

# Figures a test reports (kill trials, pushes per second) go to the
# script's stderr, which prove shows, whatever the body's output does.
exec 4>&2
test_figure() {
	echo "# $*" >&4
}

test_count=0
test_failed=0
test_cleanup=
SERVER_PIDS=

test_log=$TRASH/.log

# The body runs in a subshell, so its cleanups travel through a file; the
# newest runs first, as in git.
test_cleanup_file=$TRASH/.cleanup
test_when_finished() {
	{ printf '%s\n' "$1"; cat "$test_cleanup_file" 2>/dev/null || :; } >"$test_cleanup_file.new" &&
	mv "$test_cleanup_file.new" "$test_cleanup_file"
}

test_run_cleanup_() {
	if [ -f "$test_cleanup_file" ]; then
		(. "$test_cleanup_file") >>"$test_log" 2>&1 </dev/null
		rm -f "$test_cleanup_file"
	fi
}

# Bodies run inside a function, so `return 1` ends a loop in them as in git.
test_run_() {
	eval "$1"
}

# The body and what it printed go to stderr, which prove shows without -v:
# a failure in CI is then read from its output, not guessed at.
test_say_failure_() {
	{
		printf '%s\n' "$1" | sed 's/^/#	/'
		sed 's/^/# | /' "$test_log"
	} >&2
}

test_expect_success() {
	test_count=$((test_count + 1))
	rm -f "$test_cleanup_file"
	if (test_run_ "$2") >"$test_log" 2>&1 </dev/null; then
		status=0
	else
		status=1
	fi
	test_run_cleanup_
	if [ $status = 0 ]; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		test_say_failure_ "$2"
	fi
}

# Like test_expect_success, but the body runs in this shell, so variables it
# sets (a server's URL, say) are seen by later tests.
test_expect_success_here() {
	test_count=$((test_count + 1))
	rm -f "$test_cleanup_file"
	if test_run_ "$2" >"$test_log" 2>&1 </dev/null; then
		test_run_cleanup_
		echo "ok $test_count - $1"
	else
		test_run_cleanup_
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		test_say_failure_ "$2"
	fi
}

test_done() {
	echo "1..$test_count"
	if [ $test_failed = 0 ]; then
		exit 0
	fi
	echo "# failed $test_failed of $test_count; trash kept in $TRASH"
	exit 1
}

# A command that must fail the ordinary way: non-zero, and not by a signal
# or a sanitizer abort.
test_must_fail() {
	"$@"
	code=$?
	if [ $code = 0 ]; then
		echo "test_must_fail: '$*' succeeded" >&2
		return 1
	fi
	if [ $code -gt 128 ]; then
		echo "test_must_fail: '$*' died with code $code" >&2
		return 1
	fi
	return 0
}

# test_expect_code N cmd...: cmd exits exactly N.
test_expect_code() {
	want=$1
	shift
	"$@"
	code=$?
	if [ "$code" != "$want" ]; then
		echo "test_expect_code: '$*' exited $code, wanted $want" >&2
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

# The one line of stderr a refusal prints, and that it names the thing.
test_i18ngrep() {
	grep "$@"
}

test_line_count() {
	n=$(wc -l <"$3")
	[ "$n" "$1" "$2" ] || {
		echo "test_line_count: $3 has $n lines, wanted $1 $2" >&2
		cat "$3" >&2
		return 1
	}
}

hash_of() {
	sha256sum "$1" | cut -d' ' -f1
}

# A snapshot of every byte of a directory, to show a refusal changed nothing.
tree_sum() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum)
}

# The time stamp soc serve puts at the start of each log line (RFC 3339,
# UTC), as a basic regular expression.
LOG_STAMP='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'

# start_server ROOT [ARGS]: runs `soc serve` on 127.0.0.1 port 0 and sets
# URL, SERVER_PID and ADMIN_TOKEN. Its stderr goes to ROOT.log. With
# SERVER_AS=USER set, the server runs as USER (setpriv execs, so
# SERVER_PID is the server's own) from SERVER_BIN (default $SOC).
#
# With SOC_TEST_DB=pg (make test runs the end-to-end families so), a new
# root's history goes to a PostgreSQL cluster of its own, started here
# (t/lib-pg.sh); the root remembers it, so a restart needs nothing more.
# With SOC_TEST_DB=cluster, the root is also the first of two cluster
# nodes sharing ROOT.blobs (--blobs); the second, on ROOT.n2, starts with
# the first start and lives on through the first one's restarts; URL is
# a haproxy in front of both (t/lib-haproxy.sh), made anew at each start.
# The second syncs its blobs file by file (SOC_TEST_BLOBS_FSYNC_EACH), as
# on a shared mount, the first as its filesystem allows: both ways run.
# SERVER_PID is the first node's: a test that stops or kills it leaves
# the second serving, as a cluster does.
start_server() {
	root=$1
	shift
	ss_new=
	if { [ "${SOC_TEST_DB-}" = pg ] || [ "${SOC_TEST_DB-}" = cluster ]; } &&
	   ! [ -e "$root/soc.db" ] && ! [ -e "$root/db.conninfo" ]; then
		ss_new=1
		pg_n=pg-$(basename "$root")
		while [ -e "$TRASH/$pg_n" ]; do pg_n=${pg_n}x; done
		pg_up "$pg_n" || return 1
		set -- --db "$PG_CONNINFO" "$@"
		[ "$SOC_TEST_DB" = cluster ] && set -- --blobs "$root.blobs" "$@"
	fi
	start_node_ "$root" "$@" || return 1
	if [ "${SOC_TEST_DB-}" = cluster ] && [ -e "$root/blobs.dir" ]; then
		ss_url=$URL ss_pid=$SERVER_PID
		ss_n2=$(cat "$root.n2.pid" 2>/dev/null)
		if [ -z "$ss_n2" ] || ! kill -0 "$ss_n2" 2>/dev/null; then
			SOC_TEST_BLOBS_FSYNC_EACH=1
			export SOC_TEST_BLOBS_FSYNC_EACH
			# A new root's arguments name the database and the blobs already.
			if [ -e "$root.n2/blobs.dir" ] || [ -n "$ss_new" ]; then
				start_node_ "$root.n2" "$@"
			else
				start_node_ "$root.n2" --db "$(cat "$root/db.conninfo")" \
					--blobs "$(cat "$root/blobs.dir")" "$@"
			fi
			ss_rc=$?
			unset SOC_TEST_BLOBS_FSYNC_EACH
			[ $ss_rc = 0 ] || return 1
			echo "$SERVER_PID" >"$root.n2.pid" && echo "$URL" >"$root.n2.url"
		fi
		ss_old=$(cat "$root.haproxy.pid" 2>/dev/null)
		[ -n "$ss_old" ] && stop_server "$ss_old"
		haproxy_up "$ss_url" "$(cat "$root.n2.url")" || return 1
		echo "$HAPROXY_PID" >"$root.haproxy.pid"
		URL=$HAPROXY_URL SERVER_PID=$ss_pid
	fi
	ADMIN_TOKEN=$(cat "$root/admin.token" 2>/dev/null)
	return 0
}

# start_node_ ROOT ARGS...: one soc serve, as start_server says.
start_node_() {
	sn_root=$1
	shift
	log=$TRASH/$(basename "$sn_root").log
	: >"$log"
	as_server_user "${SERVER_BIN:-$SOC}" serve --root "$sn_root" --listen 127.0.0.1:0 "$@" 2>>"$log" &
	SERVER_PID=$!
	SERVER_PIDS="$SERVER_PIDS $SERVER_PID"
	tries=0
	URL=
	while [ $tries -lt 200 ]; do
		URL=$(sed -n "s/^$LOG_STAMP soc serve: listening on \(http:[^ ]*\)\$/\1/p" "$log" | tail -n 1)
		[ -n "$URL" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
		tries=$((tries + 1))
	done
	if [ -z "$URL" ]; then
		echo "start_server: no listening line from soc serve:" >&2
		cat "$log" >&2
		return 1
	fi
}

# server_tree ROOT: a directory holding the server's head as files:
# ROOT/files, or, on a cluster node (which keeps no files/), a fresh
# export of the head.
server_tree() {
	if [ -e "$1/blobs.dir" ]; then
		st_d=$(mktemp -d "$TRASH/head.XXXXXX") &&
		"$SOC" serve export -q "$st_d" --root "$1" &&
		echo "$st_d"
	else
		echo "$1/files"
	fi
}

# server_sql ROOT SQL: SQL on the root's database, soc.db or the
# PostgreSQL database its db.conninfo names, its rows as a|b.
server_sql() {
	if [ -f "$1/db.conninfo" ]; then
		pg_sql "$2" "$(cat "$1/db.conninfo")"
	else
		sqlite3 "$1/soc.db" "$2"
	fi
}

# on_sqlite: true unless the suite runs on PostgreSQL (SOC_TEST_DB=pg or
# cluster), for the checks of what only soc.db has (its indexes, its upgrades).
on_sqlite() {
	[ -z "${SOC_TEST_DB-}" ]
}

# one_node: true unless the suite runs on a cluster (SOC_TEST_DB=cluster),
# for the checks of what only one node has (its files/, a server that is
# down when its one process is).
one_node() {
	[ "${SOC_TEST_DB-}" != cluster ]
}

# as_server_user CMD...: execs CMD as $SERVER_AS (with its group and no
# other), or as it is when SERVER_AS is empty.
as_server_user() {
	if [ -n "${SERVER_AS-}" ]; then
		exec setpriv --reuid="$SERVER_AS" --regid="$(id -g "$SERVER_AS")" --clear-groups "$@"
	fi
	exec "$@"
}

# test_system_user NAME: a system user and its group, for a server that
# runs as its own user, removed when the script ends, pass or fail (after
# its servers are killed). Run with test_expect_success_here.
TEST_USERS=
test_system_user() {
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$1" &&
	TEST_USERS="$TEST_USERS $1"
}

# stop_server PID: SIGTERM, and SIGKILL if it has not gone in 10 s.
stop_server() {
	pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

kill_servers() {
	for pid in $SERVER_PIDS; do
		kill -KILL "$pid" 2>/dev/null
	done
}

# mount_tmpfs DIR SIZE [OPTIONS]: a tmpfs of SIZE (as mount's size=, "8m")
# at DIR, with more mount options if given ("nr_inodes=4000").
TEST_MOUNTS=
mount_tmpfs() {
	[ -n "$SOC_TEST_IN_NS" ] || {
		echo "mount_tmpfs: set TEST_PRIVATE_MOUNTS=1 before lib.sh" >&2
		return 1
	}
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0755${3:+,$3}" tmpfs "$1" &&
	TEST_MOUNTS="$1 $TEST_MOUNTS"
}

# fill_inodes_until DIR N: makes empty files in DIR/.inodes so that N inodes stay free.
fill_inodes_until() {
	free=$(df --output=iavail "$1" | tail -n 1) &&
	mkdir -p "$1/.inodes" &&
	(cd "$1/.inodes" && seq $((free - $2 - 1)) | xargs touch)
}

# fill_until DIR KB: writes DIR/.filler so that about KB kilobytes stay free.
fill_until() {
	avail=$(df -k --output=avail "$1" | tail -n 1) &&
	if [ "$avail" -gt "$2" ]; then
		head -c $(((avail - $2) * 1024)) /dev/zero >"$1/.filler"
	fi
}

# TEST_EXIT_HOOKS: names of functions test_exit_trap runs, in order, after
# the servers are killed and before users, mounts and the trash go, for
# what a library starts that is not a PID in SERVER_PIDS (t/lib-pg.sh's
# clusters, which are stopped by pg_ctl). A library appends its own.
TEST_EXIT_HOOKS=

if [ "${SOC_TEST_DB-}" = pg ] || [ "${SOC_TEST_DB-}" = cluster ]; then
	. "$TEST_SRC/lib-pg.sh"
fi
if [ "${SOC_TEST_DB-}" = cluster ]; then
	. "$TEST_SRC/lib-haproxy.sh"
fi

test_exit_trap() {
	kill_servers
	for hook in $TEST_EXIT_HOOKS; do
		"$hook"
	done
	for u in $TEST_USERS; do
		userdel -f "$u" 2>/dev/null
	done
	for m in $TEST_MOUNTS; do
		umount -l "$m" 2>/dev/null
	done
	if [ $test_failed = 0 ]; then
		cd / && rm -rf "$TRASH"
	fi
}
trap test_exit_trap EXIT
trap 'exit 130' INT TERM

# setup_server_and_workspaces: a server and two workspaces, a/ and b/, with
# the admin token in SOC_TOKEN. Run with test_expect_success_here.
# wait_exists FILE: until FILE exists (a helper's sign that it is ready), 30 s at most.
wait_exists() {
	n=0
	while ! [ -e "$1" ] && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	test -e "$1"
}

# start_hostile [ANSWERS]: t/helper/hostile_server.py on 127.0.0.1 port 0,
# logging to requests, its upload list in upload (both made empty here),
# told what to answer by the file ANSWERS when given; sets HOSTILE to
# its URL. In a test_expect_success_here, so that the exit trap kills it.
start_hostile() {
	: >requests && : >upload && rm -f hostile.url || return 1
	python3 "$TEST_SRC/helper/hostile_server.py" requests upload ${1:+"$1"} >hostile.url &
	SERVER_PIDS="$SERVER_PIDS $!"
	n=0
	until [ -s hostile.url ]; do
		n=$((n + 1)) && [ $n -lt 200 ] || return 1
		sleep 0.05
	done
	HOSTILE=$(cat hostile.url)
}

setup_two() {
	start_server "$TRASH/server" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init b --remote "$URL" -q
}

# The files of a workspace (not .soc/) with their md5sum, for comparing sides.
ws_sum() {
	(cd "$1" && find . -path ./.soc -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum)
}

test_must_be_empty() {
	if [ -s "$1" ]; then
		echo "'$1' is not empty:" >&2
		cat "$1" >&2
		return 1
	fi
}

# wrap_rsync: puts an rsync on PATH that appends its argv to
# $TRASH/rsync.calls before running the real one, so a test can see
# whether content moved and what rsync was told. While $TRASH/old exists
# it answers --trust-sender as rsync 3.2.3 does, on stderr with exit 1.
wrap_rsync() {
	real=$(command -v rsync)
	mkdir -p "$TRASH/wrap"
	cat >"$TRASH/wrap/rsync" <<EOS
#!/bin/sh
echo "rsync \$*" >>"$TRASH/rsync.calls"
if [ -e "$TRASH/old" ]; then
	for a in "\$@"; do
		if [ "\$a" = --trust-sender ]; then
			echo "rsync: --trust-sender: unknown option" >&2
			exit 1
		fi
	done
fi
exec "$real" "\$@"
EOS
	chmod +x "$TRASH/wrap/rsync"
	PATH=$TRASH/wrap:$PATH
	export PATH
}

# rsync_knows_trust_sender: "yes" when the real rsync (not the wrapper's
# old one) knows --trust-sender (3.2.5 and later), else "no".
rsync_knows_trust_sender() {
	if "${real:-rsync}" --trust-sender --version >/dev/null 2>&1; then
		echo yes
	else
		echo no
	fi
}

# client_rsyncs: how many rsyncs soc ran as a client (the wrapper also sees
# the server's own `rsync --server --daemon`, when the server shares PATH).
client_rsyncs() {
	if [ -f "$TRASH/rsync.calls" ]; then
		grep -c "^rsync -rt " "$TRASH/rsync.calls" || true
	else
		echo 0
	fi
}
