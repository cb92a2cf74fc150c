# t/lib-haproxy.sh: haproxy in front of several soc serve nodes, handing
# each request to the next node in turn, so that the requests of one push
# land on different nodes. Source it after lib.sh.
#
# haproxy_up URL1 URL2 [URL3...] (each http://HOST:PORT, as start_server
# sets URL) starts Debian's haproxy in the foreground, in HTTP mode, on
# 127.0.0.1 at a port free_port found, round robin over the URLs, its
# config and log in $TRASH/haproxy/. Run it with test_expect_success_here:
# it sets HAPROXY_URL (http://127.0.0.1:PORT) and HAPROXY_PID, and puts
# the PID in SERVER_PIDS so that the exit trap kills it.
#
# HAPROXY_LOG gets haproxy's own messages and a line per request,
# "NODE STATUS METHOD PATH TERMINATION", NODE being n1 for URL1, n2 for
# URL2 and so on; an upgraded request's line comes when its tunnel closes.

HAPROXY_DIR=$TRASH/haproxy
HAPROXY_LOG=$HAPROXY_DIR/haproxy.log
HAPROXY_START_TRIES=5
# haproxy lives in /usr/sbin, which a user's PATH may lack.
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

# free_port and listen_port are lib-proxy.sh's, which sets only variables
# besides its functions; a script may have sourced it already.
command -v listen_port >/dev/null 2>&1 || . "$TEST_SRC/lib-proxy.sh"

# haproxy_config PORT URL...: the config, listening on 127.0.0.1:PORT.
#
# option http-server-close: haproxy closes the node's connection after
# each response, so each request of a client's keep-alive connection is
# balanced afresh and goes on a new connection to the node round robin
# chose. haproxy 2.6's default keep-alive mode balances each request too
# (without "option prefer-last-server"), but keeps idle connections to
# the nodes for reuse, and soc serve's idle timeout may close one just as
# a request is sent on it. An Upgrade request still reaches the node with
# "Connection: Upgrade", and after the 101 both sides are a tunnel.
#
# The tunnel (soc's rsync tunnel, the upload stream) carries raw bytes
# for minutes with long silences, under "timeout tunnel" once upgraded;
# client and server timeouts are generous so that a slow request (a long
# poll, a big push's commit) is not cut either. No "check" on the
# servers: no health checks to fill soc serve's log, every node counts
# as up. A node that is down still gets its turn, but its refused
# connection is tried again on the next node ("retries" with
# "option redispatch 1"), so the client sees the nodes still up, as a
# cluster's balancer with health checks would give it. No "log" to syslog: the one log target is stderr, which is
# HAPROXY_LOG. No "user", "chroot" or "daemon": as root or not, it stays
# the one process we started, which the exit trap's SIGKILL ends.
haproxy_config() {
	hc_port=$1
	shift
	{
		cat <<-EOF &&
		listen soc
			mode http
			bind 127.0.0.1:$hc_port
			log stderr format raw local0 info
			log-format "%s %ST %HM %HP %ts"
			option http-server-close
			balance roundrobin
			retries 2
			option redispatch 1
			timeout connect 5s
			timeout client 10m
			timeout server 10m
			timeout tunnel 1h
		EOF
		hc_n=0
		for hc_url in "$@"; do
			hc_n=$((hc_n + 1))
			hc_addr=${hc_url#http://}
			hc_addr=${hc_addr%%/*}
			case "$hc_url" in
			http://*:[0-9]*) ;;
			*)
				echo "haproxy_up: '$hc_url' is not http://HOST:PORT" >&2
				return 1
				;;
			esac
			printf 'server n%d %s\n' "$hc_n" "$hc_addr"
		done
	} >"$HAPROXY_DIR/haproxy.cfg"
}

# haproxy_up URL1 URL2 [URL3...]: haproxy takes no port 0, so the port is
# one free_port found just before; if another program takes it in
# between, haproxy fails to bind and we try another, as start_nginx does.
haproxy_up() {
	if [ $# -lt 2 ]; then
		echo "haproxy_up: give two node URLs or more" >&2
		return 1
	fi
	# Each haproxy its own directory: a script may start several.
	if [ -e "$HAPROXY_DIR/haproxy.cfg" ]; then
		HAPROXY_DIR=$(mktemp -d "$TRASH/haproxy.XXXXXX") || return 1
		HAPROXY_LOG=$HAPROXY_DIR/haproxy.log
	fi
	mkdir -p "$HAPROXY_DIR" || return 1
	hu_try=0
	while [ $hu_try -lt $HAPROXY_START_TRIES ]; do
		hu_try=$((hu_try + 1))
		hu_port=$(free_port) &&
		haproxy_config "$hu_port" "$@" &&
		"$HAPROXY" -c -q -f "$HAPROXY_DIR/haproxy.cfg" || return 1
		"$HAPROXY" -db -f "$HAPROXY_DIR/haproxy.cfg" >"$HAPROXY_LOG" 2>&1 &
		HAPROXY_PID=$!
		SERVER_PIDS="$SERVER_PIDS $HAPROXY_PID"
		if hu_got=$(listen_port "$HAPROXY_PID") && [ "$hu_got" = "$hu_port" ]; then
			HAPROXY_URL=http://127.0.0.1:$hu_port
			return 0
		fi
		kill -KILL "$HAPROXY_PID" 2>/dev/null
		wait "$HAPROXY_PID" 2>/dev/null
		grep -q "Address already in use" "$HAPROXY_LOG" || break
	done
	echo "haproxy_up: haproxy did not listen:" >&2
	cat "$HAPROXY_LOG" >&2
	return 1
}
