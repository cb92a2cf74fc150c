#!/bin/sh
# The main job: push from one workspace, pull into another, and status in between.
. "$(dirname "$0")/lib.sh"

test_expect_success_here 'a server and two workspaces' '
	setup_two
'

test_expect_success 'a first push sends every added file' '
	mkdir -p a/Data/sub &&
	echo one >a/Data/one &&
	echo two >a/Data/sub/two &&
	printf "#!/bin/sh\n" >a/Data/run.sh && chmod +x a/Data/run.sh &&
	(cd a && soc_add Data -id -q && soc_push -q) &&
	t=$(server_tree server) &&
	test "$(cat "$t/Data/one")" = one &&
	test "$(cat "$t/Data/sub/two")" = two &&
	test -x "$t/Data/run.sh" &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'a pull brings them into the other workspace, tracked' '
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	test -x b/Data/run.sh &&
	(cd b && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'a push with nothing changed says so and exits 0' '
	(cd a && soc push) 2>err &&
	grep "everything up to date" err
'

test_expect_success 'edit, delete and create show as exactly M, D and A' '
	echo changed >a/Data/one &&
	rm a/Data/sub/two &&
	echo three >a/Data/three &&
	(cd a && soc status --porcelain --offline) >out &&
	printf "M Data/one\nA Data/three\nD Data/sub/two\n" | sort >expect &&
	sort out >actual &&
	test_cmp expect actual
'

test_expect_success 'push -n shows them and sends nothing' '
	(cd a && soc push -n) >out &&
	test_line_count = 3 out &&
	t=$(server_tree server) &&
	test "$(cat "$t/Data/one")" = one
'

test_expect_success 'push sends them; pull applies them on the other side' '
	(cd a && soc push -q) &&
	t=$(server_tree server) &&
	test "$(cat "$t/Data/one")" = changed &&
	! test -e "$t/Data/sub/two" &&
	(cd b && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum b)" &&
	! test -e b/Data/sub/two
'

test_expect_success 'touch with unchanged content is not a change' '
	touch a/Data/one &&
	(cd a && soc status --porcelain --offline) >out &&
	test_must_be_empty out
'

test_expect_success 'a same-size rewrite right after a scan is still pushed' '
	(cd a && soc status --offline -q) &&
	printf "CHANGED\n" >a/Data/one &&
	(cd a && soc push -q) &&
	t=$(server_tree server) &&
	test "$(cat "$t/Data/one")" = CHANGED
'

test_expect_success 'after our own push, status does not send us to pull it' '
	echo own >a/Data/own &&
	(cd a && soc pull -q && soc push -q && soc status) >out 2>&1 &&
	! grep "soc pull" out &&
	echo "nothing to push" >expect &&
	test_cmp expect out
'

test_expect_success 'status says when the server has revisions not pulled' '
	(cd b && soc status) >out 2>&1 &&
	grep "soc pull" out &&
	(cd b && soc pull -q && soc status) >out 2>&1 &&
	! grep "soc pull" out
'

test_expect_success 'soc log lists the revisions newest first' '
	(cd a && soc log) >out &&
	test_line_count = 4 out &&
	head -n 1 out | grep "^r4 " &&
	tail -n 1 out | grep "^r1 .*admin"
'

test_expect_success 'works from a subdirectory' '
	echo deep >a/Data/sub/deep &&
	(cd a/Data/sub && soc push -q) &&
	(cd b/Data && soc pull -q) &&
	test "$(cat b/Data/sub/deep)" = deep
'

test_expect_success 'a push the server held already never counts its head as pulled' '
	(cd a && soc pull -q) && (cd b && soc pull -q) &&
	echo same >b/Data/one && echo theirs >b/Data/theirs &&
	(cd b && soc push -q) &&
	echo same >a/Data/one &&
	(cd a && soc push) 2>err &&
	grep "the server held every change already" err &&
	(cd a && soc status) >out 2>&1 &&
	grep "soc pull" out &&
	(cd a && soc pull -q) &&
	test "$(cat a/Data/theirs)" = theirs &&
	test "$(ws_sum a)" = "$(ws_sum b)"
'

test_done
