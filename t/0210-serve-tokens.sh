#!/bin/sh
# soc serve's root and tokens: the first start creates both, a second
# reuses them; every request needs a live token; a read-only token reads
# but never writes, through the API or through rsync.
. "$(dirname "$0")/lib.sh"

code() {
	curl -s -o out -w "%{http_code}\n" "$@"
}

test_expect_success_here 'a first start creates the root and an admin token, 0600' '
	start_server "$TRASH/r" &&
	test -d "$TRASH/r/files" &&
	test -f "$TRASH/r/soc.db" &&
	test "$(stat -c %a "$TRASH/r/admin.token")" = 600 &&
	test "$(stat -c %a "$TRASH/r")" = 700 &&
	test ${#ADMIN_TOKEN} = 64 &&
	grep "created the token .admin." r.log
'

test_expect_success 'curl with the admin token reads /api/v1/info' '
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >out &&
	grep "\"head\":0" out &&
	grep "\"read_only\":false" out
'

test_expect_success 'no token, a wrong token, a malformed header: 401 with WWW-Authenticate' '
	curl -s -D hdr -o /dev/null "$URL/api/v1/info" &&
	grep -i "^www-authenticate: Bearer" hdr &&
	echo 401 >expect &&
	code "$URL/api/v1/info" >c && test_cmp expect c &&
	code -H "Authorization: Bearer 0000" "$URL/api/v1/info" >c && test_cmp expect c &&
	code -H "Authorization: Basic $ADMIN_TOKEN" "$URL/api/v1/info" >c && test_cmp expect c &&
	code -H "Authorization: Bearer ${ADMIN_TOKEN}x" "$URL/api/v1/changes?since=0" >c && test_cmp expect c &&
	code -X POST --data-binary @/dev/null "$URL/api/v1/push" >c && test_cmp expect c
'

test_expect_success 'a wrong method: 405 with Allow' '
	curl -s -D hdr -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" &&
	grep "^HTTP/1.1 405" hdr &&
	grep -i "^allow: GET" hdr
'

test_expect_success 'changes needs a number' '
	echo 400 >expect &&
	code -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/changes?since=x" >c &&
	test_cmp expect c &&
	code -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/changes" >c &&
	test_cmp expect c
'

test_expect_success 'token new prints a token once; list names it; it works at once' '
	soc serve token new alice --root "$TRASH/r" >tok 2>err &&
	test_line_count = 1 tok &&
	grep "shown only this once" err &&
	soc serve token new reader --read-only --root "$TRASH/r" >rtok &&
	soc serve token list --root "$TRASH/r" >list &&
	grep "^admin	read-write" list &&
	grep "^alice	read-write" list &&
	grep "^reader	read-only" list &&
	! grep "$(cat tok)" list &&
	curl -sf -H "Authorization: Bearer $(cat tok)" "$URL/api/v1/info" >out
'

test_expect_success 'bad token commands: usage or a clear error, nothing created' '
	test_expect_code 1 soc serve token new "bad name" --root "$TRASH/r" 2>err &&
	grep "not a token name" err &&
	test_expect_code 1 soc serve token new alice --root "$TRASH/r" 2>err &&
	grep "exists already" err &&
	test_expect_code 2 soc serve token frob --root "$TRASH/r" &&
	test_expect_code 2 soc serve token new --root "$TRASH/r" &&
	test_expect_code 1 soc serve token revoke nobody --root "$TRASH/r" 2>err &&
	grep "no token named .nobody." err &&
	test_expect_code 1 soc serve token list --root "$TRASH/nowhere" &&
	! test -e "$TRASH/nowhere" &&
	soc serve token list --root "$TRASH/r" >list &&
	test_line_count = 3 list
'

test_expect_success 'a read-only token reads, and gets 403 for anything that writes' '
	curl -sf -H "Authorization: Bearer $(cat rtok)" "$URL/api/v1/info" >out &&
	grep "\"read_only\":true" out &&
	echo 403 >expect &&
	code -X POST -H "Authorization: Bearer $(cat rtok)" --data-binary "{}" "$URL/api/v1/push" >c &&
	test_cmp expect c &&
	code -X DELETE -H "Authorization: Bearer $(cat rtok)" "$URL/api/v1/push/0123456789abcdef0123456789abcdef" >c &&
	test_cmp expect c
'

test_expect_success 'a read-only token cannot open the push module through the tunnel' '
	mkdir src && echo x >src/f &&
	printf "f\0" >list0 &&
	test_must_fail env SOC_TUNNEL_URL="$URL" SOC_TUNNEL_TOKEN="$(cat rtok)" \
		rsync -rt -I --from0 --files-from=list0 -e "$SOC tunnel" src/ soc::push/x/ 2>err &&
	grep -i "unknown module" err &&
	! test -e "$TRASH/r/staging/x"
'

test_expect_success 'the tunnel refuses a wrong token with a clear line' '
	test_must_fail env SOC_TUNNEL_URL="$URL" SOC_TUNNEL_TOKEN=nope \
		rsync -rt -I --from0 --files-from=list0 -e "$SOC tunnel" src/ soc::push/x/ 2>err &&
	grep "refused the token (401)" err &&
	! test -e "$TRASH/r/staging/x"
'

test_expect_success 'a revoked token is refused at once' '
	soc serve token revoke alice --root "$TRASH/r" &&
	echo 401 >expect &&
	code -H "Authorization: Bearer $(cat tok)" "$URL/api/v1/info" >c &&
	test_cmp expect c
'

test_expect_success_here 'a second start reuses the root and its token' '
	stop_server $SERVER_PID &&
	old=$ADMIN_TOKEN &&
	start_server "$TRASH/r" &&
	test "$ADMIN_TOKEN" = "$old" &&
	! grep "created the token" r.log &&
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" >out
'

test_expect_success 'no token ever reaches the log' '
	! grep "$ADMIN_TOKEN" r.log &&
	! grep "$(cat rtok)" r.log
'

test_done
