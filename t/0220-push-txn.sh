#!/bin/sh
# A push transaction by hand, as soc push makes it: POST push, rsync
# through soc tunnel into soc::push/<txn>/, POST push/<txn>/commit. The
# files land in ROOT/files, the head, changes?since= and the log say so;
# a staged file that is not what the push named gets 422 and changes
# nothing; deletes, modes, moved content (no upload), DELETE of a txn;
# the begin's answer in lines to a client that accepts NDJSON.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r

test_expect_success_here 'a server' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN
'

test_expect_success 'into the empty head: a base is 409 naming its path; a delete alone is done, no revision' '
	mkdir -p empty &&
	echo x >empty/x &&
	change x empty/x 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >body &&
	echo x >empty/y &&
	change y empty/y >>body &&
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body)" = 409 &&
	grep "\"x\"" out &&
	! grep "\"y\"" out &&
	deletion gone 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >body &&
	push_begin body &&
	test_must_be_empty upload &&
	test "$(push_commit)" = 200 &&
	grep "^{\"rev\":0,\"history\":\"[0-9a-f]\{32\}\",\"already\":true}$" out &&
	test "$(head_rev)" = 0
'

test_expect_success 'a first push lands: begin, rsync, commit' '
	mkdir -p w/d &&
	echo hello >w/a &&
	echo world >w/d/b &&
	chmod 755 w/d/b &&
	{ change a w/a && change d/b w/d/b; } >body &&
	push_begin body &&
	printf "a\nd/b\n" >expect &&
	test_cmp expect upload &&
	test -d "$R/staging/$TXN" &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	grep "^{\"rev\":1,\"history\":\"[0-9a-f]\{32\}\"}$" out &&
	test "$(hash_of "$R/files/a")" = "$(hash_of w/a)" &&
	test "$(hash_of "$R/files/d/b")" = "$(hash_of w/d/b)" &&
	test "$(stat -c %a "$R/files/a")" = 644 &&
	test "$(stat -c %a "$R/files/d/b")" = 755 &&
	test "$(stat -c %Y "$R/files/a")" = "$(stat -c %Y w/a)" &&
	! test -e "$R/staging/$TXN" &&
	! test -e "$R/commit/$TXN"
'

test_expect_success 'the head, changes?since= and the log say so' '
	test "$(head_rev)" = 1 &&
	head_list >list &&
	printf "%s 644 a\n%s 755 d/b\n" "$(hash_of w/a)" "$(hash_of w/d/b)" >expect &&
	test_cmp expect list &&
	api GET "changes?since=0" >code && test "$(cat code)" = 200 &&
	head -n 1 out >first &&
	grep "^{\"head\":1,\"history\":\"[0-9a-f]\{32\}\"}$" first &&
	grep "^{\"path\":\"d/b\",\"sha256\":\"$(hash_of w/d/b)\",\"size\":6,\"mtime\":[0-9]*,\"mode\":493,\"rev\":1}$" out &&
	api GET "changes?since=1" >code && test "$(cat code)" = 200 &&
	test_cmp first out &&
	api GET log >code && test "$(cat code)" = 200 &&
	grep "^\[{\"rev\":1,\"time\":[0-9]*,\"token\":\"admin\",\"client\":null,\"added\":2,\"modified\":0,\"deleted\":0}\]$" out &&
	soc serve check --root "$R"
'

test_expect_success 'a staged file with the wrong sha256: 422 naming it, nothing changes' '
	push_staged_other w c "what the push says" "something else!!!" &&
	snapshot "$R" >before &&
	test "$(push_commit)" = 422 &&
	grep "\"error\":\"staged_mismatch\"" out &&
	grep "\"paths\":\[\"c\"\]" out &&
	snapshot "$R" >after &&
	test_cmp before after &&
	! test -e "$R/files/c" &&
	test "$(head_rev)" = 1 &&
	echo "$TXN" >txn422
'

test_expect_success '... the txn stays open: upload what it named, commit again: 200' '
	TXN=$(cat txn422) &&
	echo "what the push says" >w/c &&
	push_upload w &&
	test "$(push_commit)" = 200 &&
	test "$(hash_of "$R/files/c")" = "$(hash_of w/c)" &&
	test "$(head_rev)" = 2
'

test_expect_success 'a staged file missing, or a directory, or a symlink: 422, nothing changes' '
	echo one >w/m1 && echo two >w/m2 && echo three >w/m3 &&
	{ change m1 w/m1 && change m2 w/m2 && change m3 w/m3; } >body &&
	push_begin body &&
	mkdir "$R/staging/$TXN/m2" &&
	ln -s "$R/files/a" "$R/staging/$TXN/m3" &&
	snapshot "$R" >before &&
	test "$(push_commit)" = 422 &&
	grep "\"paths\":\[\"m1\",\"m2\",\"m3\"\]" out &&
	snapshot "$R" >after &&
	test_cmp before after &&
	test "$(api DELETE "push/$TXN")" = 204 &&
	! test -e "$R/staging/$TXN"
'

test_expect_success 'a modification is sent against the head version, which keeps its content' '
	python3 -c "import sys; sys.stdout.write(\"x\" * 300000)" >w/big &&
	change big w/big >body &&
	push_all w body &&
	old=$(hash_of w/big) &&
	printf "edit" | dd of=w/big bs=1 seek=150000 conv=notrunc 2>/dev/null &&
	change big w/big "$old" >body &&
	push_begin body &&
	test "$(stat -c %i "$R/staging/$TXN/big")" = "$(stat -c %i "$R/files/big")" &&
	SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$TOKEN \
		rsync -rt -I --from0 --files-from=- -e "soc tunnel" --stats \
		w/ "soc::push/$TXN/" <upload0 >stats &&
	grep "^Literal data: [0-9]* bytes" stats >literal &&
	test "$(sed "s/[^0-9]//g" literal)" -lt 10000 &&
	test "$(hash_of "$R/files/big")" = "$old" &&
	test "$(push_commit)" = 200 &&
	test "$(hash_of "$R/files/big")" = "$(hash_of w/big)" &&
	soc serve check --root "$R"
'

test_expect_success 'a delete and a mode change; directories left empty go' '
	rev=$(head_rev) &&
	chmod 644 w/d/b &&
	{ change d/b w/d/b "$(hash_of w/d/b)" && deletion a "$(hash_of w/a)"; } >body &&
	push_begin body &&
	test_must_be_empty upload &&
	test "$(push_commit)" = 200 &&
	! test -e "$R/files/a" &&
	test "$(stat -c %a "$R/files/d/b")" = 644 &&
	test "$(head_rev)" = $((rev + 1)) &&
	api GET "changes?since=$rev" >code &&
	grep "^{\"path\":\"a\",\"deleted\":true,\"rev\":$((rev + 1))}$" out &&
	api GET "log?limit=1" >code &&
	grep "\"modified\":1,\"deleted\":1}\]$" out &&
	deletion d/b "$(hash_of w/d/b)" >body &&
	push_all w body &&
	! test -e "$R/files/d" &&
	test -d "$R/files" &&
	mkdir -p w/x/y && echo 1 >w/x/y/z && echo 2 >w/x/w && echo 3 >w/x.keep &&
	{ change x/y/z w/x/y/z && change x/w w/x/w && change x.keep w/x.keep; } >body &&
	push_all w body &&
	{ deletion x/w "$(hash_of w/x/w)" && deletion x/y/z "$(hash_of w/x/y/z)"; } >body &&
	push_all w body &&
	! test -e "$R/files/x" &&
	test -f "$R/files/x.keep" &&
	soc serve check --root "$R"
'

test_expect_success 'moved content needs no upload; a copy with another mode gets its own inode' '
	mkdir -p w/e w/f &&
	echo "moved content" >w/e/x &&
	change e/x w/e/x >body &&
	push_all w body &&
	mv w/e/x w/f/y &&
	cp w/f/y w/g && chmod 755 w/g &&
	{ deletion e/x "$(hash_of w/f/y)" && change f/y w/f/y && change g w/g; } >body &&
	push_begin body &&
	test_must_be_empty upload &&
	test "$(push_commit)" = 200 &&
	! test -e "$R/files/e" &&
	test "$(hash_of "$R/files/f/y")" = "$(hash_of w/f/y)" &&
	test "$(hash_of "$R/files/g")" = "$(hash_of w/f/y)" &&
	test "$(stat -c %a "$R/files/f/y")" = 644 &&
	test "$(stat -c %a "$R/files/g")" = 755 &&
	soc serve check --root "$R"
'

test_expect_success 'a file becomes a directory, and back, within one push' '
	echo plain >w/h &&
	change h w/h >body &&
	push_all w body &&
	old=$(hash_of w/h) &&
	rm w/h && mkdir w/h && echo inner >w/h/i &&
	{ deletion h "$old" && change h/i w/h/i; } >body &&
	push_all w body &&
	test "$(hash_of "$R/files/h/i")" = "$(hash_of w/h/i)" &&
	mv w/h/i w/hi && rmdir w/h && mv w/hi w/h &&
	{ deletion h/i "$(hash_of w/h)" && change h w/h; } >body &&
	push_all w body &&
	test -f "$R/files/h" &&
	soc serve check --root "$R"
'

test_expect_success 'a push of more files than are fsync'\''d one by one lands, and goes' '
	mkdir -p w/many/a w/many/b &&
	: >body &&
	for i in $(seq 1 50); do
		echo "a $i" >w/many/a/$i && echo "b $i" >w/many/b/$i &&
		change many/a/$i w/many/a/$i >>body && change many/b/$i w/many/b/$i >>body || return 1
	done &&
	push_all w body &&
	test "$(find "$R/files/many" -type f | wc -l)" = 100 &&
	soc serve check --root "$R" &&
	: >body &&
	for i in $(seq 1 50); do
		deletion many/a/$i "$(hash_of w/many/a/$i)" >>body &&
		deletion many/b/$i "$(hash_of w/many/b/$i)" >>body || return 1
	done &&
	push_all w body &&
	! test -e "$R/files/many" &&
	soc serve check --root "$R"
'

test_expect_success 'DELETE of an open txn: 204, its staging and rows gone; then 404' '
	echo pending >w/p &&
	change p w/p >body &&
	push_begin body &&
	push_upload w &&
	test -f "$R/staging/$TXN/p" &&
	test "$(api DELETE "push/$TXN")" = 204 &&
	test_must_be_empty out &&
	! test -e "$R/staging/$TXN" &&
	test "$(api DELETE "push/$TXN")" = 404 &&
	test "$(push_commit)" = 404 &&
	! test -e "$R/files/p" &&
	test "$(api DELETE push/0123456789abcdef0123456789abcdef)" = 404
'

test_expect_success 'Accept: application/x-ndjson: the txn line, then a path a line' '
	echo one >w/n1 && printf "tab\there\n" >"w/n\"2" &&
	{ change n1 w/n1 && change "n\\\"2" "w/n\"2"; } >body &&
	curl -s -D headers -o out -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-ndjson" \
		-H "Accept: application/x-ndjson, application/json" --data-binary @body "$URL/api/v1/push" &&
	grep -i "^content-type: application/x-ndjson" headers &&
	TXN=$(sed -n "1s/^{\"txn\":\"\([0-9a-f]\{32\}\)\"}$/\1/p" out) &&
	test -n "$TXN" &&
	printf "\"n\\\\\"2\"\n\"n1\"\n" >expect &&	# by path, bytewise
	sed 1d out >paths &&
	test_cmp expect paths &&
	test "$(api DELETE "push/$TXN")" = 204
'

# The server keeps the last txn's items in memory for its upload and
# commit: an older txn's must come from its rows, each its own.
test_expect_success 'two txns begun one after the other commit in either order, each its own files' '
	echo first >w/k1 &&
	echo second >w/k2 &&
	rev=$(head_rev) &&
	change k1 w/k1 >body &&
	push_begin body &&
	A=$TXN && cp upload0 upload0.a &&
	change k2 w/k2 >body &&
	push_begin body &&
	B=$TXN && cp upload0 upload0.b &&
	cp upload0.b upload0 && push_upload w "$B" &&
	cp upload0.a upload0 && push_upload w "$A" &&
	test "$(push_commit "$A")" = 200 &&
	test "$(head_rev)" = $((rev + 1)) &&
	test "$(hash_of "$R/files/k1")" = "$(hash_of w/k1)" &&
	! test -e "$R/files/k2" &&
	test "$(push_commit "$B")" = 200 &&
	test "$(head_rev)" = $((rev + 2)) &&
	test "$(hash_of "$R/files/k2")" = "$(hash_of w/k2)" &&
	api GET "changes?since=$rev" >code && test "$(cat code)" = 200 &&
	grep -c "\"path\":\"k1\".*\"rev\":$((rev + 1))}$" out >n1 && test "$(cat n1)" = 1 &&
	grep -c "\"path\":\"k2\".*\"rev\":$((rev + 2))}$" out >n2 && test "$(cat n2)" = 1 &&
	test "$(grep -c "\"path\"" out)" = 2
'

test_expect_success 'a commit asked again answers the same revision; DELETE of it is 409' '
	echo again >w/q &&
	change q w/q >body &&
	push_all w body &&
	cp out first &&
	test "$(push_commit)" = 200 &&
	test_cmp first out &&
	test "$(api DELETE "push/$TXN")" = 409 &&
	test -f "$R/files/q"
'

test_expect_success 'a txn belongs to its token: another gets 404 and changes nothing' '
	soc serve token new other --root "$R" >other &&
	echo mine >w/r &&
	change r w/r >body &&
	push_begin body &&
	push_upload w &&
	snapshot "$R" >before &&
	mine=$TOKEN &&
	TOKEN=$(cat other) &&
	test "$(push_commit)" = 404 &&
	test "$(api DELETE "push/$TXN")" = 404 &&
	snapshot "$R" >after &&
	test_cmp before after &&
	TOKEN=$mine &&
	test "$(push_commit)" = 200
'

test_expect_success 'changes the head holds already, with stale bases, are done: no conflict, no revision' '
	mkdir -p again &&
	echo "landed once" >again/f &&
	change again/f again/f >body &&
	push_all . body &&
	rev=$(head_rev) &&
	deletion again/never-there 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >>body &&
	change again/f again/f 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >body2 &&
	deletion again/never-there 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >>body2 &&
	push_begin body2 &&
	test_must_be_empty upload &&
	test "$(push_commit)" = 200 &&
	grep "^{\"rev\":$rev,\"history\":\"[0-9a-f]\{32\}\",\"already\":true}$" out &&
	test "$(head_rev)" = "$rev" &&
	chmod +x again/f &&
	change again/f again/f 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >body3 &&
	test "$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @body3)" = 409
'

test_expect_success 'the whole history in changes?since=0 and the log, and files/ equals the head' '
	api GET "log?limit=1000" >code &&
	test "$(head_rev)" = "$(python3 -c "import json; print(len(json.load(open(\"out\"))))")" &&
	soc serve check --root "$R" &&
	test -z "$(find "$R/staging" "$R/commit" -mindepth 1)"
'

test_expect_success 'no sanitizer report, no token in the log' '
	kill -0 $SERVER_PID &&
	! grep -i "sanitizer\|runtime error" r.log &&
	! grep "$ADMIN_TOKEN" r.log
'

test_done
