#!/bin/sh
# Pushes at the same time: eight touching different files all land; eight
# replacing the same file from the same base: exactly one lands, the
# others get 409 and leave nothing behind. Two commits never apply at
# once, and files/ always ends equal to the head.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r
N=8

test_expect_success_here 'a server with a shared file' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w && echo "the base" >w/shared &&
	change shared w/shared >body &&
	push_all w body &&
	BASE=$(hash_of w/shared)
'

test_expect_success "$N clients pushing different files at once all land" '
	rev=$(head_rev) &&
	i=1 &&
	while [ $i -le $N ]; do
		mkdir -p c$i/w/dir$i &&
		python3 -c "import sys; sys.stdout.write(\"client $i \" * 20000)" >c$i/w/dir$i/file &&
		(cd c$i && change dir$i/file w/dir$i/file >body && push_all w body && { cat out; echo; } >rev) \
			>c$i/log 2>&1 &
		i=$((i + 1))
	done &&
	wait &&
	i=1 &&
	while [ $i -le $N ]; do
		grep "^{\"rev\":[0-9]*,\"history\":\"[0-9a-f]\{32\}\"}$" c$i/rev || { cat c$i/log; return 1; }
		test "$(hash_of "$R/files/dir$i/file")" = "$(hash_of c$i/w/dir$i/file)" || return 1
		i=$((i + 1))
	done &&
	cat c*/rev | sort -u >revs &&
	test_line_count = $N revs &&
	test "$(head_rev)" = $((rev + N)) &&
	soc serve check --root "$R"
'

# Each client $i has begun a push of shared from BASE and uploaded it.
begin_all_shared() {
	i=1
	while [ $i -le $N ]; do
		rm -rf s$i && mkdir -p s$i/w &&
		echo "client $i was here" >s$i/w/shared &&
		(cd s$i && change shared w/shared "$BASE" >body && push_begin body && push_upload w &&
		 echo "$TXN" >txn) || return 1
		i=$((i + 1))
	done
}

# Counts the answers in s*/code: "STATUS COUNT" lines.
answers() {
	cat s*/code | sort | uniq -c | awk "{ print \$2, \$1 }"
}

test_expect_success "$N commits of the same file from the same base: one lands, $N-1 get 409" '
	begin_all_shared &&
	rev=$(head_rev) &&
	i=1 &&
	while [ $i -le $N ]; do
		(cd s$i && push_commit "$(cat txn)" >code) &
		i=$((i + 1))
	done &&
	wait &&
	answers >got &&
	printf "200 1\n409 %d\n" $((N - 1)) >expect &&
	test_cmp expect got &&
	winner=$(grep -l "^200$" s*/code) &&
	winner=${winner%/code} &&
	test "$(hash_of "$R/files/shared")" = "$(hash_of $winner/w/shared)" &&
	grep -h "\"paths\":\[\"shared\"\]" s*/out >lost &&
	test_line_count = $((N - 1)) lost &&
	test "$(head_rev)" = $((rev + 1)) &&
	test -z "$(find "$R/staging" "$R/commit" -mindepth 1)" &&
	soc serve check --root "$R" &&
	BASE=$(hash_of "$R/files/shared") &&
	echo "$BASE" >base
'

test_expect_success "$N whole pushes of the same file from the same base at once: one lands" '
	BASE=$(cat base) &&
	rev=$(head_rev) &&
	i=1 &&
	while [ $i -le $N ]; do
		rm -rf s$i && mkdir -p s$i/w &&
		echo "again, client $i" >s$i/w/shared &&
		(
			cd s$i && change shared w/shared "$BASE" >body &&
			if push_begin body 2>err; then
				push_upload w && push_commit >code
			else
				sed -n "s/^push_begin: \([0-9]*\) .*/\1/p" err >code
			fi
		) &
		i=$((i + 1))
	done &&
	wait &&
	answers >got &&
	printf "200 1\n409 %d\n" $((N - 1)) >expect &&
	test_cmp expect got &&
	test "$(head_rev)" = $((rev + 1)) &&
	test -z "$(find "$R/staging" "$R/commit" -mindepth 1)" &&
	soc serve check --root "$R" &&
	! grep -i "sanitizer\|runtime error" r.log
'

test_done
