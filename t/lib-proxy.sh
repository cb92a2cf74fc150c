# t/lib-proxy.sh: soc serve behind a real TLS proxy, configured from the
# very files in contrib/, for t/0600-0602. Source it after lib.sh.
#
# proxy_setup KIND (nginx, nginx-h2 or caddy) makes a CA and a server
# certificate for 127.0.0.1 with openssl, starts soc serve on 127.0.0.1
# port 0, derives the proxy's config from contrib/ with sed (only the
# listen address, the certificate paths and soc serve's port change) and
# starts the proxy in the foreground, its PID in SERVER_PIDS so that the
# exit trap kills it. It sets PROXY_URL, PROXY_PID and CA. proxy_tests
# then runs the same pushes and pulls through it.

PROXY_DIR=$TRASH/proxy
CA=$PROXY_DIR/ca.pem
PROXY_LOG=$PROXY_DIR/access.log
PROXY_START_TRIES=5
# nginx lives in /usr/sbin, which a user's PATH may lack.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# make_ca: a CA, and a certificate it signs for 127.0.0.1 and localhost.
make_ca() {
	mkdir -p "$PROXY_DIR" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$PROXY_DIR/ca.key" -out "$CA" -days 2 -subj "/CN=soc test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$PROXY_DIR/server.key" -out "$PROXY_DIR/server.csr" -subj "/CN=127.0.0.1" &&
	cat >"$PROXY_DIR/server.ext" <<-EOF &&
	subjectAltName=IP:127.0.0.1,DNS:localhost
	basicConstraints=critical,CA:FALSE
	keyUsage=critical,digitalSignature
	extendedKeyUsage=serverAuth
	EOF
	openssl x509 -req -in "$PROXY_DIR/server.csr" -CA "$CA" -CAkey "$PROXY_DIR/ca.key" \
		-CAcreateserial -days 2 -extfile "$PROXY_DIR/server.ext" -out "$PROXY_DIR/server.pem" &&
	openssl verify -CAfile "$CA" "$PROXY_DIR/server.pem"
}

# free_port: a TCP port on 127.0.0.1 that nobody listened on a moment ago.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# listen_port PID: the port PID listens on at 127.0.0.1, once it does.
# Fails when PID dies first or 10 s pass.
listen_port() {
	lp_n=0
	while [ $lp_n -lt 200 ]; do
		lp_port=$(ss -Hltnp | sed -n "s/^.* 127\.0\.0\.1:\([0-9]*\) .*pid=$1,.*/\1/p" | head -n 1)
		if [ -n "$lp_port" ]; then
			echo "$lp_port"
			return 0
		fi
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.05
		lp_n=$((lp_n + 1))
	done
	return 1
}

# derived FILE WANT PATTERN: FILE holds PATTERN on exactly WANT lines, so
# a change to the contrib file that the substitutions miss fails here.
derived() {
	d_n=$(grep -c -e "$3" "$1")
	[ "$d_n" = "$2" ] || {
		echo "derived: $1 has '$3' on $d_n lines, wanted $2" >&2
		return 1
	}
}

# nginx_site PORT [http2]: contrib/nginx-soc.conf listening on
# 127.0.0.1:PORT, with the test's certificate, in front of soc serve.
nginx_site() {
	ns_h2=
	[ -n "${2-}" ] && ns_h2=" http2"
	sed -e "s|^\([[:space:]]*\)listen 443 ssl;|\1listen 127.0.0.1:$1 ssl$ns_h2;|" \
		-e '/^[[:space:]]*listen \[::\]:443 ssl;/d' \
		-e "s|/etc/letsencrypt/live/soc.example.org/fullchain.pem;|$PROXY_DIR/server.pem;|" \
		-e "s|/etc/letsencrypt/live/soc.example.org/privkey.pem;|$PROXY_DIR/server.key;|" \
		-e "s|proxy_pass http://127.0.0.1:8717;|proxy_pass http://127.0.0.1:$SOC_PORT;|" \
		"$TOP/contrib/nginx-soc.conf" >"$PROXY_DIR/site.conf" &&
	derived "$PROXY_DIR/site.conf" 1 "^[[:space:]]*listen 127.0.0.1:$1 ssl$ns_h2;" &&
	derived "$PROXY_DIR/site.conf" 0 "^[[:space:]]*listen \\(\\[::\\]:\\)\\?443 " &&
	derived "$PROXY_DIR/site.conf" 1 "ssl_certificate $PROXY_DIR/server.pem;" &&
	derived "$PROXY_DIR/site.conf" 1 "ssl_certificate_key $PROXY_DIR/server.key;" &&
	derived "$PROXY_DIR/site.conf" 1 "proxy_pass http://127.0.0.1:$SOC_PORT;" &&
	derived "$PROXY_DIR/site.conf" 0 "^[^#]*\(letsencrypt\|127\.0\.0\.1:8717[^0-9]\)"
}

# start_nginx [http2]: nginx in the foreground, one process (so that the
# exit trap's SIGKILL leaves no worker behind), as root when we are root
# (the trash directory is 0700). The main config around the site is the
# test's: logs, pid and temporary files in the trash directory. nginx
# refuses port 0, so the port is one free_port found just before; if
# another program takes it in between, nginx fails to bind and we try
# another.
start_nginx() {
	sn_user=
	[ "$(id -u)" = 0 ] && sn_user="user root;"
	mkdir -p "$PROXY_DIR/tmp" &&
	cat >"$PROXY_DIR/nginx.conf" <<-EOF &&
	daemon off;
	master_process off;
	$sn_user
	pid $PROXY_DIR/nginx.pid;
	error_log $PROXY_DIR/error.log info;
	events {
		worker_connections 512;
	}
	http {
		log_format soc '\$server_protocol \$request_method \$uri \$status \$request_length';
		access_log $PROXY_LOG soc;
		client_body_temp_path $PROXY_DIR/tmp/body;
		proxy_temp_path $PROXY_DIR/tmp/proxy;
		fastcgi_temp_path $PROXY_DIR/tmp/fastcgi;
		uwsgi_temp_path $PROXY_DIR/tmp/uwsgi;
		scgi_temp_path $PROXY_DIR/tmp/scgi;
		include $PROXY_DIR/site.conf;
	}
	EOF
	sn_try=0
	while [ $sn_try -lt $PROXY_START_TRIES ]; do
		sn_try=$((sn_try + 1))
		sn_port=$(free_port) &&
		nginx_site "$sn_port" "${1-}" &&
		"$NGINX" -t -q -p "$PROXY_DIR/" -e "$PROXY_DIR/error.log" -c "$PROXY_DIR/nginx.conf" || return 1
		"$NGINX" -p "$PROXY_DIR/" -e "$PROXY_DIR/error.log" -c "$PROXY_DIR/nginx.conf" \
			2>>"$PROXY_DIR/nginx.stderr" &
		PROXY_PID=$!
		SERVER_PIDS="$SERVER_PIDS $PROXY_PID"
		if PROXY_PORT=$(listen_port "$PROXY_PID") && [ "$PROXY_PORT" = "$sn_port" ]; then
			return 0
		fi
		kill -KILL "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
		grep -q "Address already in use" "$PROXY_DIR/error.log" || break
	done
	echo "start_nginx: nginx did not listen:" >&2
	cat "$PROXY_DIR/error.log" "$PROXY_DIR/nginx.stderr" >&2
	return 1
}

# start_caddy: contrib/Caddyfile at https://:0 (any name, so that its
# access log takes every request) on 127.0.0.1 with the test's
# certificate, after global options that keep caddy to itself: no admin
# endpoint, no ACME and no redirect listener on port 80, its storage and
# config in the trash directory. caddy takes port 0; the port it got is
# read from its listening socket.
start_caddy() {
	{
		printf "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n" &&
		printf "\tstorage file_system %s\n}\n\n" "$PROXY_DIR/caddy" &&
		sed -e "s|^soc.example.org {|https://:0 {\\
	log {\\
		output file $PROXY_LOG\\
	}|" \
			-e "s|^\([[:space:]]*\)# tls /etc/ssl/soc/fullchain.pem /etc/ssl/soc/privkey.pem$|\1tls $PROXY_DIR/server.pem $PROXY_DIR/server.key|" \
			-e "s|reverse_proxy 127.0.0.1:8717 {|reverse_proxy 127.0.0.1:$SOC_PORT {|" \
			"$TOP/contrib/Caddyfile"
	} >"$PROXY_DIR/Caddyfile" &&
	derived "$PROXY_DIR/Caddyfile" 1 "^https://:0 {" &&
	derived "$PROXY_DIR/Caddyfile" 1 "^[[:space:]]*tls $PROXY_DIR/server.pem $PROXY_DIR/server.key$" &&
	derived "$PROXY_DIR/Caddyfile" 1 "reverse_proxy 127.0.0.1:$SOC_PORT {" &&
	derived "$PROXY_DIR/Caddyfile" 0 "^[^#]*\(example.org\|127\.0\.0\.1:8717[^0-9]\)" &&
	mkdir -p "$PROXY_DIR/xdg-data" "$PROXY_DIR/xdg-config" || return 1
	XDG_DATA_HOME=$PROXY_DIR/xdg-data XDG_CONFIG_HOME=$PROXY_DIR/xdg-config \
		caddy run --adapter caddyfile --config "$PROXY_DIR/Caddyfile" \
		>"$PROXY_DIR/caddy.out" 2>&1 &
	PROXY_PID=$!
	SERVER_PIDS="$SERVER_PIDS $PROXY_PID"
	PROXY_PORT=$(listen_port "$PROXY_PID") || {
		echo "start_caddy: caddy did not listen:" >&2
		cat "$PROXY_DIR/caddy.out" >&2
		return 1
	}
}

# proxy_setup KIND: the CA, soc serve, and the proxy in front of it.
proxy_setup() {
	PROXY_KIND=$1
	make_ca &&
	start_server "$TRASH/server" &&
	SOC_PORT=${URL##*:} &&
	SOC_PORT=${SOC_PORT%%/*} &&
	case "$PROXY_KIND" in
	nginx) start_nginx ;;
	nginx-h2) start_nginx http2 ;;
	caddy) start_caddy ;;
	*) echo "proxy_setup: no proxy '$PROXY_KIND'" >&2; false ;;
	esac &&
	PROXY_URL=https://127.0.0.1:$PROXY_PORT &&
	test_figure "$PROXY_KIND on $PROXY_URL in front of soc serve on $URL"
}

# proxy_log: the proxy's access log, a request a line as
# "PROTOCOL METHOD PATH STATUS", whichever proxy wrote it. caddy logs an
# upgraded request with status 0, so the 101s are read in soc serve's log.
proxy_log() {
	if [ "$PROXY_KIND" = caddy ]; then
		python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    r = e["request"]
    print(r["proto"], r["method"], r["uri"].split("?")[0], e["status"])
' "$PROXY_LOG"
	else
		cut -d" " -f1-4 "$PROXY_LOG"
	fi
}

# proxy_tests: the pushes and pulls every proxy must carry. Workspace a
# names the CA in its config, workspace b through SOC_CA_BUNDLE.
proxy_tests() {
	test_expect_success_here 'workspaces a (cacert in .soc/config) and b (SOC_CA_BUNDLE) on the proxy' '
		SOC_TOKEN=$ADMIN_TOKEN &&
		export SOC_TOKEN &&
		soc init a --remote "$PROXY_URL" -q &&
		echo "cacert = $CA" >>a/.soc/config &&
		soc init b --remote "$PROXY_URL" -q &&
		wrap_rsync
	'

	test_expect_success 'the proxy answers over TLS with the test CA, in the HTTP versions it is set up for' '
		curl -sS --cacert "$CA" -o out -w "%{http_code} %{http_version}\n" \
			-H "Authorization: Bearer $ADMIN_TOKEN" "$PROXY_URL/api/v1/info" >got &&
		grep "\"head\"" out &&
		case "$PROXY_KIND" in
		nginx) echo "200 1.1" ;;
		*) echo "200 2" ;;
		esac >want &&
		test_cmp want got &&
		curl -sS --http1.1 --cacert "$CA" -o /dev/null -w "%{http_code} %{http_version}\n" \
			-H "Authorization: Bearer $ADMIN_TOKEN" "$PROXY_URL/api/v1/info" >got &&
		echo "200 1.1" >want &&
		test_cmp want got
	'

	test_expect_success 'a push of new files goes through in the upload stream' '
		mkdir -p a/D/sub &&
		echo one >a/D/one &&
		printf "#!/bin/sh\necho hi\n" >a/D/sub/run &&
		chmod 755 a/D/sub/run &&
		head -c 3000000 /dev/urandom >a/D/sub/big &&
		: >"$TRASH/rsync.calls" &&
		(cd a && soc add -r D -q && soc push -q) &&
		test "$(client_rsyncs)" = 0 &&
		grep "upload into push .*: 3 files" server.log &&
		grep " POST /api/v1/push/[0-9a-f]*/upload 101 " server.log &&
		proxy_log >log &&
		grep "^HTTP/1.1 POST /api/v1/push/[0-9a-f]*/upload " log &&
		test "$(tree_sum a/D)" = "$(tree_sum server/files/D)" &&
		test "$(stat -c %a server/files/D/sub/run)" = 755
	'

	test_expect_success 'a pull in the other workspace brings them down' '
		(cd b && SOC_CA_BUNDLE=$CA soc pull -q) &&
		test "$(ws_sum a)" = "$(ws_sum b)" &&
		test -x b/D/sub/run
	'

	test_expect_success 'a push of changed files goes through the rsync tunnel as a delta' '
		echo more >>a/D/sub/big &&
		echo two >a/D/one &&
		: >"$TRASH/rsync.calls" &&
		tunnels=$(grep " POST /api/v1/rsync 101 " server.log | wc -l) &&
		(cd a && soc push -q) &&
		test "$(client_rsyncs)" = 1 &&
		test "$(grep " POST /api/v1/rsync 101 " server.log | wc -l)" -gt "$tunnels" &&
		proxy_log >log &&
		grep "^HTTP/1.1 POST /api/v1/rsync " log &&
		test "$(tree_sum a/D)" = "$(tree_sum server/files/D)"
	'

	test_expect_success 'a pull brings the changes down' '
		(cd b && SOC_CA_BUNDLE=$CA soc pull -q) &&
		test "$(ws_sum a)" = "$(ws_sum b)"
	'

	# The paths alone pass 1 MiB, nginx'"'"'s stock client_max_body_size.
	test_expect_success 'a push of 10,000 new files, a body past 1 MiB, is not refused' '
		python3 -c "
import os
for i in range(10000):
    d = \"a/L/d%02d\" % (i // 500)
    os.makedirs(d, exist_ok=True)
    open(\"%s/f%05d-%s\" % (d, i, \"x\" * 100), \"w\").write(\"l %d\\n\" % i)
" &&
		test "$(cd a && find L -type f | wc -c)" -gt 1048576 &&
		(cd a && soc add -r L -q && soc push -q) &&
		test "$(find server/files/L -type f | wc -l)" = 10000 &&
		test "$(tree_sum a/L)" = "$(tree_sum server/files/L)" &&
		proxy_log >log &&
		! grep " 413$" log &&
		if [ "$PROXY_KIND" != caddy ]; then
			awk "\$2 == \"POST\" && \$3 == \"/api/v1/push\" && \$4 == 201 && \$5 > 1048576" \
				"$PROXY_LOG" >big &&
			test_line_count = 1 big
		fi
	'

	test_expect_success 'a pull brings the 10,000 files down' '
		(cd b && SOC_CA_BUNDLE=$CA soc pull -q) &&
		test "$(ws_sum a)" = "$(ws_sum b)"
	'

	test_expect_success 'without the CA, a pull says the certificate is not trusted and exits 5' '
		soc init c --remote "$PROXY_URL" -q &&
		(cd c && test_expect_code 5 soc pull) 2>err &&
		test_line_count = 1 err &&
		grep -i "certificate" err &&
		ls -A c >list &&
		echo .soc >want &&
		test_cmp want list
	'
}
