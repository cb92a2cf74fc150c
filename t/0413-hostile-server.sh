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

# In lines (as soc answers a client that accepts NDJSON), and as the one
# document an older soc sends.
for form in lines document; do
	for asked in secret.env id.key; do
		test_expect_success "asked for $asked ($form), which it does not send: exit 1, no upload, the push dropped" "
			rm -f upload.doc && { [ $form = lines ] || : >upload.doc; } &&
			echo $asked >upload &&
			: >requests &&
			test_expect_code 1 sh -c 'cd w && soc push -q' 2>err &&
			test_line_count = 1 err &&
			grep \"the server asked for '$asked', which this push does not send\" err &&
			! grep -E 'POST /api/v1/(rsync|push/.*/upload)' requests &&
			grep 'DELETE /api/v1/push/0123456789abcdef0123456789abcdef' requests
		"
	done

	test_expect_success "asked for .soc/config ($form): not a valid path, no upload" '
		rm -f upload.doc && { [ $form = lines ] || : >upload.doc; } &&
		echo .soc/config >upload &&
		: >requests &&
		test_expect_code 1 sh -c "cd w && soc push -q" 2>err &&
		grep "the server asked for a file that is not a valid path" err &&
		! grep -E "POST /api/v1/(rsync|push/.*/upload)" requests
	'

	test_expect_success "asked for a twice ($form): more than the push sends, no upload" '
		rm -f upload.doc && { [ $form = lines ] || : >upload.doc; } &&
		printf "a\na\n" >upload &&
		: >requests &&
		test_expect_code 1 sh -c "cd w && soc push -q" 2>err &&
		grep "the server asked for more files than this push sends" err &&
		! grep -E "POST /api/v1/(rsync|push/.*/upload)" requests &&
		grep "DELETE /api/v1/push/0123456789abcdef0123456789abcdef" requests
	'
done
rm -f upload.doc

test_expect_success 'asked for a, which it sends: the client does try to upload it' '
	echo a >upload &&
	: >requests &&
	test_expect_code 5 sh -c "cd w && soc push -q" 2>err &&
	grep "POST /api/v1/push/0123456789abcdef0123456789abcdef/upload" requests &&
	grep "answered the upgrade with 400 (not 101): no; a proxy" err
'

test_done
