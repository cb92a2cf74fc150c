#!/bin/sh
# soc through nginx over HTTP/1.1, configured by contrib/nginx-soc.conf itself,
# terminating TLS with a certificate from a CA the test makes: a push
# of new files (upload stream), a push of changed files (rsync tunnel),
# pulls, and a push of 10,000 files whose list is past 1 MiB.
# t/lib-proxy.sh does the work.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-proxy.sh"

test_expect_success_here 'a CA, soc serve, and nginx over HTTP/1.1 in front from contrib/nginx-soc.conf' '
	proxy_setup nginx
'

proxy_tests

test_done
