#!/bin/sh
# soc clone: a new machine in one step (the token from a file, SOC_TOKEN or
# the terminal, checked before anything is made, then the first pull), and
# soc init --token-file.
. "$(dirname "$0")/lib.sh"

PTY_RUN="python3 $TEST_SRC/helper/pty_run.py"

# The names here but for the files the tests write their output to.
names() {
	ls -A | grep -vx -e err -e out -e result
}

# nothing_made NAME: no NAME here, and the trash holds what it held when
# the body set before=$(names).
nothing_made() {
	! test -e "$1" && ! test -L "$1" &&
	test "$(names)" = "$before"
}

test_expect_success_here 'a server, and a workspace made with init --token-file that pushes' '
	start_server "$TRASH/server" &&
	echo "$ADMIN_TOKEN" >token &&
	chmod 600 token &&
	soc init -q a --remote "$URL" --token-file token &&
	test "$(stat -c %a a/.soc/config)" = 600 &&
	grep -x "token = $ADMIN_TOKEN" a/.soc/config &&
	mkdir -p a/Data/sub &&
	echo one >a/Data/one &&
	echo two >a/Data/sub/two &&
	printf "#!/bin/sh\n" >a/Data/run.sh && chmod +x a/Data/run.sh &&
	(cd a && soc add -q -r Data && soc push -q) &&
	test "$(cat server/files/Data/one)" = one
'

test_expect_success 'init --token-file takes the first line, spaces trimmed' '
	printf "  %s \r\nsecond line\n" "$ADMIN_TOKEN" >spaced &&
	soc init -q t --remote "$URL" --token-file spaced &&
	grep -x "token = $ADMIN_TOKEN" t/.soc/config &&
	! grep "second line" t/.soc/config &&
	(cd t && soc pull -q)
'

test_expect_success 'init --token-file refuses a missing, empty or bad file with exit 1, making nothing' '
	before=$(names) &&
	: >empty &&
	printf "\n%s\n" "$ADMIN_TOKEN" >blank-first &&
	printf "two words\n" >spaces &&
	head -c 2000 /dev/zero | tr "\0" x >long &&
	test_expect_code 1 soc init i --token-file missing 2>err &&
	grep "cannot read the token file '\''missing'\''" err &&
	test_expect_code 1 soc init i --token-file empty 2>err &&
	grep "no token in the token file '\''empty'\''" err &&
	test_expect_code 1 soc init i --token-file blank-first 2>err &&
	grep "no token in the token file" err &&
	test_expect_code 1 soc init i --token-file spaces 2>err &&
	grep "has a space, a control or a non-ASCII byte" err &&
	! grep words err &&
	test_expect_code 1 soc init i --token-file long 2>err &&
	grep "longer than 1024 bytes" err &&
	test_expect_code 1 soc init i --token-file "$TRASH" 2>err &&
	grep "cannot read the token file" err &&
	rm empty blank-first spaces long &&
	nothing_made i
'

test_expect_success 'clone --token-file: the server'\''s files, tracked, the token stored 0600' '
	soc clone "$URL" c --token-file token 2>err &&
	grep "cloning into '\''c'\''" err &&
	grep "cloned 3 files at revision 1 into '\''$TRASH/c'\''" err &&
	test "$(ws_sum a)" = "$(ws_sum c)" &&
	test -x c/Data/run.sh &&
	test "$(stat -c %a c/.soc/config)" = 600 &&
	test "$(stat -c %a c/.soc)" = 700 &&
	grep -x "remote = $URL" c/.soc/config &&
	grep -x "token = $ADMIN_TOKEN" c/.soc/config &&
	(cd c && soc status --porcelain >../out) &&
	test_must_be_empty out
'

test_expect_success 'the clone pushes with its stored token, and the first workspace pulls it' '
	echo three >c/Data/sub/three &&
	echo changed >c/Data/one &&
	(cd c && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(ws_sum a)" = "$(ws_sum c)" &&
	test "$(cat a/Data/sub/three)" = three
'

test_expect_success 'clone with SOC_TOKEN stores it; later commands need no SOC_TOKEN' '
	SOC_TOKEN=$ADMIN_TOKEN soc clone -q "$URL" e 2>err &&
	test_must_be_empty err &&
	test "$(ws_sum a)" = "$(ws_sum e)" &&
	grep -x "token = $ADMIN_TOKEN" e/.soc/config &&
	(cd e && soc pull -q)
'

test_expect_success '--token-file wins over SOC_TOKEN, and its token is the one checked' '
	SOC_TOKEN=wrong soc clone -q "$URL" f --token-file token &&
	grep -x "token = $ADMIN_TOKEN" f/.soc/config &&
	test "$(ws_sum a)" = "$(ws_sum f)"
'

test_expect_success 'a read-only token clones' '
	soc serve token new reader --read-only --root "$TRASH/server" >rtoken &&
	soc clone -q "$URL" r --token-file rtoken &&
	test "$(ws_sum a)" = "$(ws_sum r)"
'

test_expect_success 'clone into an existing empty directory keeps it' '
	mkdir empty-dir &&
	soc clone -q "$URL" empty-dir --token-file token &&
	test "$(ws_sum a)" = "$(ws_sum empty-dir)"
'

test_expect_success 'without DIR, clone names it after the host (no port), as git does' '
	(mkdir by-host && cd by-host && soc clone "$URL" --token-file ../token 2>../err) &&
	grep "cloning into '\''127.0.0.1'\''" err &&
	test "$(ws_sum a)" = "$(ws_sum by-host/127.0.0.1)"
'

test_expect_success 'on a terminal clone asks for the token with the echo off' '
	$PTY_RUN --expect "token for $URL: " --send "$ADMIN_TOKEN" out -- soc clone "$URL" p >result &&
	cat result &&
	grep -x "echo-at-prompt=off" result &&
	grep -x "echo-after=on" result &&
	grep -x "status=0" result &&
	grep "cloned 4 files at revision 2" out &&
	! grep -F "$ADMIN_TOKEN" out &&
	test "$(ws_sum a)" = "$(ws_sum p)" &&
	grep -x "token = $ADMIN_TOKEN" p/.soc/config
'

test_expect_success '^C at the prompt turns the echo back on and makes nothing' '
	before=$(names) &&
	$PTY_RUN --expect "token for $URL: " --interrupt out -- soc clone "$URL" q >result &&
	cat result &&
	grep -x "echo-at-prompt=off" result &&
	grep -x "echo-after=on" result &&
	grep -x "status=130" result &&
	nothing_made q
'

test_expect_success 'an empty answer at the prompt is refused, echo back on, nothing made' '
	before=$(names) &&
	$PTY_RUN --expect "token for $URL: " --send "" out -- soc clone "$URL" q >result &&
	grep -x "echo-after=on" result &&
	grep -x "status=1" result &&
	grep "no token in the answer to the prompt" out &&
	nothing_made q
'

test_expect_success 'no terminal and no token: one line, exit 2, nothing made' '
	before=$(names) &&
	test_expect_code 2 setsid -w soc clone "$URL" q 2>err </dev/null &&
	grep "no token for '\''$URL'\'': give --token-file FILE or set SOC_TOKEN" err &&
	test_line_count = 1 err &&
	nothing_made q
'

test_expect_success 'a wrong token: exit 5, nothing left behind' '
	before=$(names) &&
	echo 0000 >bad &&
	test_expect_code 5 soc clone "$URL" q/deep/er --token-file bad 2>err &&
	grep "refused the token (401)" err &&
	test_expect_code 5 env SOC_TOKEN=0000 soc clone "$URL" q 2>err &&
	grep "refused the token (401)" err &&
	rm bad && nothing_made q
'

test_expect_success 'a wrong token into an existing empty directory leaves it empty' '
	mkdir q &&
	test_expect_code 5 env SOC_TOKEN=0000 soc clone "$URL" q 2>err &&
	test -d q && test -z "$(ls -A q)" &&
	rmdir q
'

test_expect_success 'a URL that is not a soc server, or nothing at all: exit 5, nothing left' '
	before=$(names) &&
	test_expect_code 5 soc clone "$URL/not/soc" q --token-file token 2>err &&
	grep "$URL/not/soc" err &&
	test_expect_code 5 soc clone http://127.0.0.1:1/team/photos/ --token-file token 2>err &&
	grep "cloning into '\''photos'\''" err &&
	grep "cannot reach the server" err &&
	nothing_made q && nothing_made photos
'

test_expect_success 'an existing non-empty directory, workspace or file: exit 1, untouched' '
	mkdir -p full && echo mine >full/mine &&
	echo plain >file &&
	sum=$(tree_sum full) &&
	test_expect_code 1 soc clone "$URL" full --token-file token 2>err &&
	grep "'\''full'\'' exists and is not empty" err &&
	test "$(tree_sum full)" = "$sum" &&
	test_expect_code 1 soc clone "$URL" c --token-file token 2>err &&
	grep "'\''c'\'' is already a soc workspace" err &&
	test_expect_code 1 soc clone "$URL" file --token-file token 2>err &&
	grep "'\''file'\'' exists and is not a directory" err &&
	test "$(cat file)" = plain
'

test_expect_success 'a bad token file: exit 1 before any request, nothing made' '
	before=$(names) &&
	test_expect_code 1 soc clone "$URL" q --token-file missing 2>err &&
	grep "cannot read the token file '\''missing'\''" err &&
	nothing_made q
'

test_expect_success 'usage: a URL is needed, http(s) only, one DIR at most; exit 2, nothing made' '
	before=$(names) &&
	test_expect_code 2 soc clone 2>err &&
	grep "needs the server'\''s URL" err &&
	grep "^usage: soc clone" err &&
	test_expect_code 2 soc clone ftp://host/x 2>err &&
	grep "is not an http:// or https:// URL" err &&
	test_expect_code 2 soc clone "$URL" q r 2>err &&
	grep "one directory at most" err &&
	test_expect_code 2 soc clone "$URL" --frob 2>err &&
	grep "unknown option" err &&
	nothing_made q
'

test_expect_success 'clone --help and soc help clone; clone is not linked' '
	soc clone --help >out &&
	grep "^usage: soc clone URL \[DIR\]" out &&
	soc help clone >out2 &&
	test_cmp out out2 &&
	soc --help >out &&
	grep "^  soc clone URL \\[DIR\\]" out &&
	soc --list >list &&
	! grep -x clone list
'

test_done
