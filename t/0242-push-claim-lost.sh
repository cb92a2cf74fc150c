#!/bin/sh
# A commit that fails gives its claim back, so that its push is open again
# for another commit or a DELETE. When the database's answer to that is
# lost (PostgreSQL failing over, as in t/0261), the claim is given back
# again once the database answers: not left until the server starts
# again, with the client's DELETE meeting 409 busy until it gives up.
# SOC_TEST_UNCLAIM_LOST loses the first such answer.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r

test_expect_success_here 'a server that loses the answer to the first claim given back' '
	serve_hooked SOC_TEST_UNCLAIM_LOST 1 "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w
'

test_expect_success 'a 422 whose claim given back lost its answer: still 422, the push open again' '
	push_staged_other w c "what the push says" "something else!!!" &&
	test "$(push_commit)" = 422 &&
	grep "\"error\":\"staged_mismatch\"" out &&
	grep "reopened push .$TXN. once the database answered again" r.log &&
	echo "what the push says" >w/c &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	test "$(head_rev)" = 1
'

test_expect_success 'the next failed commit gives its claim back at once: a DELETE takes the push' '
	push_staged_other w c "what the push says, again" "something else again!!!" "$(hash_of "$R/files/c")" &&
	test "$(push_commit)" = 422 &&
	test "$(grep -c "once the database answered again" r.log)" = 1 &&
	test "$(api DELETE "push/$TXN")" = 204 &&
	! test -e "$R/staging/$TXN" &&
	soc serve check --root "$R"
'

test_done
