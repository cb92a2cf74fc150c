#!/bin/sh
# soc through caddy, configured by contrib/Caddyfile itself,
# terminating TLS with a certificate from a CA the test makes: a push
# of new files (upload stream), a push of changed files (rsync tunnel),
# pulls, and a push of 10,000 files whose list is past 1 MiB.
# t/lib-proxy.sh does the work.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-proxy.sh"

test_expect_success_here 'a CA, soc serve, and caddy in front from contrib/Caddyfile' '
	proxy_setup caddy
'

proxy_tests

test_done
