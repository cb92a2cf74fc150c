#!/bin/sh
# Retention and gc: soc serve gc removes exactly the versions past
# --keep-days and outside --keep-versions, never what the head or a kept
# revision names, never a blob younger than the grace; the clock is
# driven through SOC_TEST_NOW.
. "$(dirname "$0")/lib.sh"

blob() {
	h=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)
	echo "server/versions/$(echo "$h" | cut -c1-2)/$h"
}

DAY=86400

test_expect_success_here 'a path pushed four times, another pushed and deleted' '
	setup_two &&
	printf a >a/p && printf q >a/q &&
	(cd a && soc add p q -q && soc push -q) &&
	printf b >a/p && rm a/q && (cd a && soc push -q) &&
	printf c >a/p && (cd a && soc push -q) &&
	printf a >a/p && (cd a && soc push -q) &&
	for c in a b c q; do test -f "$(blob $c)" || return 1; done &&
	NOW=$(date +%s)
'

test_expect_success 'gc now removes nothing: every version is younger than 30 days' '
	soc serve gc --root server 2>out &&
	grep -x "gc: removed 0 versions (0 bytes)" out &&
	for c in a b c q; do test -f "$(blob $c)" || return 1; done
'

test_expect_success 'bad retention options are usage errors' '
	test_expect_code 2 soc serve gc --root server --keep-days x &&
	test_expect_code 2 soc serve gc --root server --keep-versions -1 &&
	test_expect_code 2 soc serve token list --root server --keep-days 3
'

test_expect_success '31 days on, --keep-versions 2 keeps the two newest of each path' '
	SOC_TEST_NOW=$((NOW + 31 * DAY)) soc serve gc --root server --keep-versions 2 2>out &&
	grep -x "gc: removed 1 version (1 bytes)" out &&
	! test -e "$(blob b)" &&
	test -f "$(blob c)" && test -f "$(blob a)" && test -f "$(blob q)" &&
	SOC_TEST_NOW=$((NOW + 31 * DAY)) soc serve check --root server --keep-versions 2
'

test_expect_success '31 days on, the default keeps the head only (content a, also an old version)' '
	SOC_TEST_NOW=$((NOW + 31 * DAY)) soc serve gc --root server 2>out &&
	grep -x "gc: removed 2 versions (2 bytes)" out &&
	! test -e "$(blob c)" && ! test -e "$(blob q)" &&
	test "$(cat "$(blob a)")" = a &&
	test "$(stat -c %i "$(blob a)")" = "$(stat -c %i server/files/p)" &&
	SOC_TEST_NOW=$((NOW + 31 * DAY)) soc serve check --root server
'

test_expect_success 'check with the real clock names the versions gc took as missing' '
	test_expect_code 1 soc serve check --root server >out &&
	grep "^missing: '\''versions/" out
'

test_expect_success 'a blob nothing names is kept through the grace, then taken' '
	printf orphan >o && h=$(hash_of o) &&
	mkdir -p "server/versions/$(echo $h | cut -c1-2)" &&
	cp o "server/versions/$(echo $h | cut -c1-2)/$h" &&
	SOC_TEST_NOW=$((NOW + 60)) soc serve gc --root server 2>out &&
	grep -x "gc: removed 0 versions (0 bytes)" out &&
	test -f "server/versions/$(echo $h | cut -c1-2)/$h" &&
	SOC_TEST_NOW=$((NOW + 2 * 3600)) soc serve gc --root server 2>out &&
	grep -x "gc: removed 1 version (6 bytes)" out &&
	! test -e "server/versions/$(echo $h | cut -c1-2)/$h"
'

test_expect_success 'gc runs beside the server, and history says what is no longer kept' '
	SOC_TEST_NOW=$((NOW + 31 * DAY)) soc serve gc --root server --keep-days 0 2>out &&
	(cd a && soc log) >/dev/null &&
	curl -sf -H "Authorization: Bearer $SOC_TOKEN" "$URL/api/v1/history?path=p" >hist &&
	test_line_count = 4 hist &&
	head -n 1 hist | grep "\"kept\":true" &&
	sed -n 2p hist | grep "\"kept\":false"
'

test_expect_success 'gc on a root that is not one: exit 1' '
	test_expect_code 1 soc serve gc --root "$TRASH/none" 2>err &&
	grep none err
'

test_done
