#!/bin/sh
# A private CA for https: the client takes it from 'cacert' in
# .soc/config, SOC_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE, for every
# connection it opens: its API requests, the upload stream, and the rsync
# tunnel (a child of rsync, given the CA through its environment). The
# server is soc serve behind tls_proxy.py, which terminates TLS with a
# certificate for 127.0.0.1 from a CA this test makes with openssl.
# Without the CA: one line about the certificate, exit 5, nothing changed.
. "$(dirname "$0")/lib.sh"

# Every node's log: server.log, and on a cluster server.n2.log too (a
# request may have gone to either node).
server_logs() {
	cat server.log $(one_node || echo server.n2.log)
}

# A CA the machine's environment names would stand in for the one under test.
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR SOC_CA_BUNDLE

test_expect_success_here 'a test CA, a certificate for 127.0.0.1, soc serve behind TLS' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=soc test CA" \
		-keyout ca.key -out ca.pem 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout server.key -out server.csr 2>/dev/null &&
	printf "subjectAltName=IP:127.0.0.1\n" >san.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 2 -extfile san.ext -out server.pem 2>/dev/null &&
	start_server "$TRASH/server" || return 1
	python3 "$TEST_SRC/helper/tls_proxy.py" server.pem server.key "${URL##*:}" >tls.url &
	SERVER_PIDS="$SERVER_PIDS $!" &&
	n=0 &&
	until [ -s tls.url ]; do
		n=$((n + 1)) && [ $n -lt 200 ] || return 1
		sleep 0.05
	done &&
	TLS=$(cat tls.url) &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init a --remote "$TLS" -q &&
	soc init b --remote "$TLS" -q
'

test_expect_success 'without the CA: push says the certificate is not trusted, exit 5, nothing sent' '
	echo one >a/new &&
	(cd a && soc add -q new) &&
	test_expect_code 5 sh -c "cd a && soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "the server at .$TLS. has a certificate this machine does not trust" err &&
	grep "cacert = PATH" err &&
	! server_logs | grep "/api/v1/"
'

test_expect_success 'without the CA: pull fails the same way' '
	test_expect_code 5 sh -c "cd b && soc pull -q" 2>err &&
	test_line_count = 1 err &&
	grep "has a certificate this machine does not trust" err
'

test_expect_success 'cacert in .soc/config, relative to the root, from a subdirectory: a new file (upload stream) and a changed one (rsync tunnel)' '
	echo "cacert = ../ca.pem" >>a/.soc/config &&
	mkdir a/sub &&
	(cd a/sub && soc push -q) &&
	server_logs | grep "POST /api/v1/push/.*/upload" &&
	echo two >>a/new &&
	(cd a && SOC_TEST_PUSH_CHANGED_BY_RSYNC=1 soc push -q) 2>err &&
	test_must_be_empty err &&
	server_logs | grep "POST /api/v1/rsync"
'

test_expect_success 'SOC_CA_BUNDLE: pull through the tunnel' '
	(cd b && SOC_CA_BUNDLE="$TRASH/ca.pem" soc pull -q) &&
	test_cmp a/new b/new &&
	echo three >>b/new &&
	(cd b && SOC_CA_BUNDLE=ca.pem && SOC_CA_BUNDLE="$TRASH/$SOC_CA_BUNDLE" soc push -q) &&
	(cd a && soc pull -q) &&
	test_cmp a/new b/new
'

test_expect_success 'SSL_CERT_FILE and CURL_CA_BUNDLE work as with curl' '
	echo four >>a/new &&
	(cd a && SSL_CERT_FILE="$TRASH/ca.pem" soc push -q) &&
	(cd b && CURL_CA_BUNDLE="$TRASH/ca.pem" soc pull -q) &&
	test_cmp a/new b/new
'

test_expect_success 'SOC_CA_BUNDLE wins over cacert: a wrong CA there fails with one line naming it' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
		-keyout other.key -out other.pem 2>/dev/null &&
	echo five >>a/new &&
	test_expect_code 5 sh -c "cd a && SOC_CA_BUNDLE=\"$TRASH/other.pem\" soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "the CA in .$TRASH/other.pem. (SOC_CA_BUNDLE) does not vouch for" err
'

test_expect_success 'a TLS peer that offers h2 first: the tunnel takes http/1.1 and reads the 400, no crash' '
	python3 "$TEST_SRC/helper/tls_proxy.py" server.pem server.key h2 >h2.url &
	pid=$! &&
	test_when_finished "kill $pid" &&
	n=0 &&
	until [ -s h2.url ]; do
		n=$((n + 1)) && [ $n -lt 200 ] || return 1
		sleep 0.05
	done &&
	test_expect_code 5 env SOC_TUNNEL_URL="$(cat h2.url)" SOC_TUNNEL_TOKEN=x \
		SOC_TUNNEL_CAINFO="$TRASH/ca.pem" soc tunnel </dev/null 2>err &&
	test_line_count = 1 err &&
	grep "answered the upgrade with 400 (not 101): the rsync tunnel needs" err
'

test_expect_success 'clone --cacert: the check, the first pull and later pushes trust the CA' '
	echo "$SOC_TOKEN" >tok &&
	(unset SOC_TOKEN && soc clone -q "$TLS" c --token-file tok --cacert ca.pem) &&
	grep "^cacert = $TRASH/ca.pem\$" c/.soc/config &&
	test_cmp b/new c/new &&
	echo six >>c/new &&
	(cd c && unset SOC_TOKEN && soc push -q) &&
	(cd b && SOC_CA_BUNDLE="$TRASH/ca.pem" soc pull -q) &&
	test_cmp b/new c/new
'

test_expect_success 'clone without the CA: one line about the certificate, exit 5, nothing made' '
	test_expect_code 5 soc clone -q "$TLS" d 2>err &&
	test_line_count = 1 err &&
	grep "has a certificate this machine does not trust" err &&
	! test -e d
'

test_expect_success 'init --cacert stores the absolute path; a missing file is refused, nothing made' '
	soc init -q e --remote "$TLS" --cacert ./ca.pem &&
	grep "^cacert = $TRASH/ca.pem\$" e/.soc/config &&
	(cd e && soc pull -q) &&
	test_cmp b/new e/new &&
	test_expect_code 1 soc init -q f --remote "$TLS" --cacert nope.pem 2>err &&
	test_line_count = 1 err &&
	grep "cannot read the CA certificate .nope.pem." err &&
	! test -e f
'

test_expect_success 'a cacert that does not exist: one line naming it and the config, exit 1' '
	sed -i "s|^cacert = .*|cacert = /nonexistent/ca.pem|" a/.soc/config &&
	test_expect_code 1 sh -c "cd a && soc push -q" 2>err &&
	test_line_count = 1 err &&
	grep "cannot read the CA certificate ./nonexistent/ca.pem. that .cacert. in .*config names" err &&
	test_expect_code 1 sh -c "cd a && soc pull -q" 2>err &&
	test_line_count = 1 err
'

test_done
