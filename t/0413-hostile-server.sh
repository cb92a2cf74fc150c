#!/bin/sh
# A push uploads what it names and nothing else, whatever the server asks
# for: a server (or whoever answers in its place) that lists an untracked
# file, a file the ignore rules keep, or .soc/config in its upload list
# gets one clear error (exit 1), no upload (neither rsync nor soc's own
# stream), and a DELETE of its push. The server here is
# hostile_server.py, which answers every push that way and refuses both
# uploads; a path the push does name is the control: the client does try
# to send that one.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a hostile server, and a workspace with a, an untracked file and an ignored one' '
	start_hostile &&
	SOC_TOKEN=0000 &&
	export SOC_TOKEN &&
	soc init w --remote "$HOSTILE" -q &&
	echo a >w/a &&
	echo private >w/secret.env &&
	echo "*.key" >w/.socignore &&
	echo key >w/id.key &&
	(cd w && soc add -q a)
'

for asked in secret.env id.key; do
	test_expect_success "asked for $asked, which it does not send: exit 1, no upload, the push dropped" "
		echo $asked >upload &&
		: >requests &&
		test_expect_code 1 sh -c 'cd w && soc push -q' 2>err &&
		grep \"the server asked for '$asked', which this push does not send\" err &&
		! grep -E 'POST /api/v1/(rsync|push/.*/upload)' requests &&
		grep 'DELETE /api/v1/push/0123456789abcdef0123456789abcdef' requests
	"
done

test_expect_success 'asked for .soc/config: not a valid path, no upload' '
	echo .soc/config >upload &&
	: >requests &&
	test_expect_code 1 sh -c "cd w && soc push -q" 2>err &&
	grep "the server asked for a file that is not a valid path" err &&
	! grep -E "POST /api/v1/(rsync|push/.*/upload)" requests
'

test_expect_success 'asked for a, which it sends: the client does try to upload it' '
	echo a >upload &&
	: >requests &&
	test_expect_code 5 sh -c "cd w && soc push -q" 2>err &&
	grep "POST /api/v1/push/0123456789abcdef0123456789abcdef/upload" requests &&
	grep "answered the upgrade with 400 (not 101): no; a proxy" err
'

test_done
