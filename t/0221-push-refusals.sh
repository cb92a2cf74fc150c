#!/bin/sh
# Every push the server must refuse gets its status and changes nothing on
# disk: files/, staging/, commit/ and the head are the same before and
# after. Tokens (401, 403, and rsync's refusal of the push module), each
# path rule of DESIGN.md section 10 (400 naming the path), malformed lines
# (400 naming the line), bases that moved (409 naming every path).
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r

# refused STATUS [curl args]: POST push gets STATUS and changes nothing.
refused() {
	rf_want=$1
	shift
	snapshot "$R" >before &&
	rf_got=$(api POST push "$@") &&
	snapshot "$R" >after &&
	test_cmp before after &&
	if [ "$rf_got" != "$rf_want" ]; then
		echo "refused: got $rf_got, wanted $rf_want: $(cat out)" >&2
		return 1
	fi
}

# names WANT...: the refusal's "paths" are exactly the JSON strings WANT.
names() {
	python3 - "$@" <<-\EOF
	import json, sys
	got = json.load(open("out")).get("paths")
	want = [json.loads(w) for w in sys.argv[1:]]
	if got != want:
	    sys.exit("paths %r, wanted %r" % (got, want))
	EOF
}

# says TEXT: the refusal's message holds TEXT.
says() {
	python3 -c 'import json, sys; m = json.load(open("out"))["message"]; sys.exit(0 if sys.argv[1] in m else "message: " + m)' "$1"
}

test_expect_success_here 'a server with a file in its head and an open push' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w && echo content >w/f && echo pending >w/p &&
	change f w/f >body &&
	push_all w body &&
	change p w/p >body &&
	push_begin body &&
	push_upload w &&
	OPEN_TXN=$TXN &&
	soc serve token new reader --read-only --root "$R" >reader &&
	soc serve token new gone --root "$R" >gone &&
	soc serve token revoke gone --root "$R" &&
	change g w/p >body
'

test_expect_success 'no token: 401 for push, commit and DELETE' '
	TOKEN= &&
	refused 401 --data-binary @body &&
	snapshot "$R" >before &&
	curl -s -o out -w "%{http_code}\n" -X POST "$URL/api/v1/push/$OPEN_TXN/commit" >code &&
	curl -s -o out -w "%{http_code}\n" -X DELETE "$URL/api/v1/push/$OPEN_TXN" >>code &&
	printf "401\n401\n" >expect &&
	test_cmp expect code &&
	snapshot "$R" >after &&
	test_cmp before after
'

test_expect_success 'a wrong token: 401 for push, commit and DELETE' '
	TOKEN=0000000000000000000000000000000000000000000000000000000000000000 &&
	refused 401 --data-binary @body &&
	snapshot "$R" >before &&
	test "$(push_commit "$OPEN_TXN")" = 401 &&
	test "$(api DELETE "push/$OPEN_TXN")" = 401 &&
	snapshot "$R" >after &&
	test_cmp before after
'

test_expect_success 'a revoked token: 401 for push, commit and DELETE' '
	TOKEN=$(cat gone) &&
	refused 401 --data-binary @body &&
	snapshot "$R" >before &&
	test "$(push_commit "$OPEN_TXN")" = 401 &&
	test "$(api DELETE "push/$OPEN_TXN")" = 401 &&
	snapshot "$R" >after &&
	test_cmp before after
'

test_expect_success 'a read-only token: 403 for push, commit and DELETE' '
	TOKEN=$(cat reader) &&
	refused 403 --data-binary @body &&
	snapshot "$R" >before &&
	test "$(push_commit "$OPEN_TXN")" = 403 &&
	test "$(api DELETE "push/$OPEN_TXN")" = 403 &&
	snapshot "$R" >after &&
	test_cmp before after
'

test_expect_success 'a read-only token cannot open the push module: rsync refuses' '
	TOKEN=$(cat reader) &&
	echo other >w/p2 &&
	printf "p\0p2\0" >upload0 &&
	cp w/p2 w/p &&
	snapshot "$R" >before &&
	test_must_fail push_upload w "$OPEN_TXN" 2>err &&
	grep -i "unknown module .push." err &&
	snapshot "$R" >after &&
	test_cmp before after &&
	echo pending >w/p
'

# bad_path TITLE PYTHON-EXPR [SHOWN-EXPR]: a push of one new file at the
# path PYTHON-EXPR gets 400 naming it (or SHOWN-EXPR) and changes nothing.
bad_path() {
	BAD_PATH=$2
	BAD_SHOWN=${3:-$2}
	export BAD_PATH BAD_SHOWN
	test_expect_success "path rule: $1: 400 naming it" '
		TOKEN=$ADMIN_TOKEN &&
		python3 -c "
import json, os
p = eval(os.environ[\"BAD_PATH\"])
line = {\"path\": p, \"sha256\": \"0\" * 64, \"size\": 1, \"mtime\": 0, \"mode\": 420, \"base\": None}
open(\"body\", \"w\").write(json.dumps(line) + \"\\n\")
open(\"want\", \"w\").write(json.dumps(eval(os.environ[\"BAD_SHOWN\"])))
" &&
		refused 400 --data-binary @body &&
		names "$(cat want)"
	'
}

bad_path 'empty' '""'
bad_path 'over 4096 bytes' '"d/" * 2048 + "x"'
bad_path 'absolute' '"/etc/passwd"'
bad_path 'an empty component' '"a//b"'
bad_path 'a trailing slash' '"a/"'
bad_path 'a . component' '"a/./b"'
bad_path 'a .. component' '"../outside"'
bad_path 'a .. deeper down' '"a/../../outside"'
bad_path 'a component over 255 bytes' '"a/" + "n" * 256'
bad_path 'a control byte' '"a\x01b"'
bad_path 'a newline' '"a\nb"'
bad_path 'DEL (0x7f)' '"a\x7fb"'
bad_path 'a backslash' '"a\\b"'
bad_path '.soc' '".soc/config"'
bad_path '.SOC in another case, deeper' '"x/.SoC"'

test_expect_success 'path rule: not UTF-8 (a raw 0xff byte): 400 naming the line' '
	TOKEN=$ADMIN_TOKEN &&
	printf "{\"path\":\"a\377b\",\"sha256\":\"%s\",\"size\":1,\"mode\":420}\n" "$(hash_of w/f)" >body &&
	refused 400 --data-binary @body &&
	says "line 1:"
'

test_expect_success 'path rule: a NUL (an escape jansson refuses): 400 naming the line' '
	TOKEN=$ADMIN_TOKEN &&
	printf "{\"path\":\"a\\\\u0000b\",\"sha256\":\"%s\",\"size\":1,\"mode\":420}\n" "$(hash_of w/f)" >body &&
	grep u0000 body &&
	refused 400 --data-binary @body &&
	says "line 1:"
'

test_expect_success 'path rule: a lone surrogate escape: 400 naming the line' '
	TOKEN=$ADMIN_TOKEN &&
	printf "{\"path\":\"a\\\\udc80\",\"sha256\":\"%s\",\"size\":1,\"mode\":420}\n" "$(hash_of w/f)" >body &&
	grep udc80 body &&
	refused 400 --data-binary @body &&
	says "line 1:"
'

test_expect_success 'a bad path after good lines: nothing of the push is kept' '
	TOKEN=$ADMIN_TOKEN &&
	{ change n1 w/p && change n2 w/p && echo "{\"path\":\"../x\",\"deleted\":true}"; } >body &&
	refused 400 --data-binary @body &&
	names "\"../x\""
'

test_expect_success 'malformed JSON: 400 naming the line' '
	TOKEN=$ADMIN_TOKEN &&
	{ change n1 w/p && echo "{\"path\":\"n2\","; } >body &&
	refused 400 --data-binary @body &&
	says "line 2:"
'

test_expect_success 'a line over 64 KiB: 400 naming the line' '
	TOKEN=$ADMIN_TOKEN &&
	python3 -c "print(\"{\\\"path\\\":\\\"big\\\",\\\"deleted\\\":true,\\\"pad\\\":\\\"\" + \"x\" * 70000 + \"\\\"}\")" >body &&
	test $(wc -c <body) -gt 65536 &&
	refused 400 --data-binary @body &&
	says "line 1: line longer than 64 KiB"
'

test_expect_success 'an empty body, an empty line, a line that is not a change: 400' '
	TOKEN=$ADMIN_TOKEN &&
	refused 400 --data-binary @/dev/null &&
	says "empty push" &&
	{ change n1 w/p && echo && change n2 w/p; } >body &&
	refused 400 --data-binary @body &&
	says "line 2: an empty line" &&
	echo "[1,2]" >body &&
	refused 400 --data-binary @body &&
	says "line 1:" &&
	echo "{\"head\":3}" >body &&
	refused 400 --data-binary @body &&
	says "line 1: not a change"
'

test_expect_success 'bad fields: sha256, size, mode, a delete with a sha256, a rev: 400 naming the path' '
	TOKEN=$ADMIN_TOKEN &&
	echo "{\"path\":\"x\",\"sha256\":\"XYZ\",\"size\":1}" >body &&
	refused 400 --data-binary @body && names "\"x\"" &&
	echo "{\"path\":\"x\",\"sha256\":\"$(hash_of w/f)\",\"size\":-1}" >body &&
	refused 400 --data-binary @body && names "\"x\"" &&
	echo "{\"path\":\"x\",\"sha256\":\"$(hash_of w/f)\",\"size\":1,\"mode\":384}" >body &&
	refused 400 --data-binary @body && names "\"x\"" &&
	echo "{\"path\":\"f\",\"deleted\":true,\"sha256\":\"$(hash_of w/f)\"}" >body &&
	refused 400 --data-binary @body && names "\"f\"" &&
	echo "{\"path\":\"x\",\"sha256\":\"$(hash_of w/f)\",\"size\":1,\"rev\":7}" >body &&
	refused 400 --data-binary @body && names "\"x\"" &&
	echo "{\"path\":\"x\",\"path\":\"y\",\"deleted\":true}" >body &&
	refused 400 --data-binary @body
'

test_expect_success 'a path twice, or a file that is the directory of another: 400 naming them' '
	TOKEN=$ADMIN_TOKEN &&
	{ change n1 w/p && change n2 w/p && change n1 w/f; } >body &&
	refused 400 --data-binary @body &&
	names "\"n1\"" &&
	says "named twice" &&
	{ change d w/p && change d/e w/f; } >body &&
	refused 400 --data-binary @body &&
	names "\"d\"" "\"d/e\""
'

test_expect_success 'bases that moved: 409 naming each, nothing written' '
	TOKEN=$ADMIN_TOKEN &&
	stale=$(hash_of w/p) &&
	{
		change f w/p "$stale" &&
		change f2 w/p &&
		change f3 w/p "$stale" &&
		deletion f4 "$stale"
	} >body &&
	refused 409 --data-binary @body &&
	names "\"f\"" "\"f3\"" &&
	says "pull first" &&
	change f w/p >body &&
	refused 409 --data-binary @body &&
	names "\"f\"" &&
	deletion f "$stale" >body &&
	refused 409 --data-binary @body &&
	names "\"f\""
'

test_expect_success 'a file of the head in the way of a new directory, or the reverse: 409' '
	TOKEN=$ADMIN_TOKEN &&
	change f/x w/p >body &&
	refused 409 --data-binary @body &&
	names "\"f/x\"" &&
	mkdir -p w/d && echo deep >w/d/e &&
	change d/e w/d/e >body &&
	push_all w body &&
	change d w/p >body &&
	refused 409 --data-binary @body &&
	names "\"d\""
'

test_expect_success 'a stale base at commit: 409 naming it, the push gone, nothing written' '
	TOKEN=$ADMIN_TOKEN &&
	base=$(hash_of w/f) &&
	echo first >w/f1 && echo second >w/f2 &&
	change f w/f1 "$base" >body1 &&
	change f w/f2 "$base" >body2 &&
	mkdir w1 w2 && cp w/f1 w1/f && cp w/f2 w2/f &&
	push_begin body1 && push_upload w1 && t1=$TXN &&
	push_begin body2 && push_upload w2 && t2=$TXN &&
	test "$(push_commit "$t1")" = 200 &&
	snapshot "$R" >before &&
	test "$(push_commit "$t2")" = 409 &&
	names "\"f\"" &&
	snapshot "$R" >after &&
	grep -v "$t2" before >before.other &&
	test_cmp before.other after &&
	test "$(hash_of "$R/files/f")" = "$(hash_of w/f1)" &&
	test "$(push_commit "$t2")" = 404
'

test_expect_success 'wrong methods: 405 with Allow; a malformed txn id: 404' '
	TOKEN=$ADMIN_TOKEN &&
	curl -s -D hdr -o out -H "Authorization: Bearer $TOKEN" "$URL/api/v1/push" &&
	grep "^HTTP/1.1 405" hdr && grep -i "^allow: POST" hdr &&
	curl -s -D hdr -o out -X PUT -H "Authorization: Bearer $TOKEN" "$URL/api/v1/push/$OPEN_TXN" &&
	grep "^HTTP/1.1 405" hdr && grep -i "^allow: DELETE" hdr &&
	curl -s -D hdr -o out -X GET -H "Authorization: Bearer $TOKEN" "$URL/api/v1/push/$OPEN_TXN/commit" &&
	grep "^HTTP/1.1 405" hdr && grep -i "^allow: POST" hdr &&
	test "$(api DELETE "push/$(echo "$OPEN_TXN" | tr a-f A-F)")" = 404 &&
	test "$(api DELETE "push/${OPEN_TXN}0")" = 404 &&
	test "$(api POST "push/$OPEN_TXN/commit/x")" = 404
'

test_expect_success 'after all that, the open push still commits, and files/ is the head' '
	TOKEN=$ADMIN_TOKEN &&
	test "$(push_commit "$OPEN_TXN")" = 200 &&
	test "$(hash_of "$R/files/p")" = "$(hash_of w/p)" &&
	soc serve check --root "$R" &&
	kill -0 $SERVER_PID &&
	! grep -i "sanitizer\|runtime error" r.log
'

test_done
