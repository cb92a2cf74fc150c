#!/bin/sh
# A push's staging links the head's file at each path it changes as
# rsync's delta basis, so staging/<txn>/<path> and files/<path> are one
# inode. A read-write token holder running rsync by hand must not reach
# the head through it: every option that would let rsync judge the file
# up to date and then set its mode, mtime, owner or xattrs where it lies
# is refused by the push module, and files/ keeps every attribute. soc's
# own push still gives each file the mode and mtime its change names.
# --sparse and --preallocate are refused too: rsync must write a staged
# file front to back for its hash taken meanwhile to hold (t/0228).
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

R=$TRASH/r

# by_hand OPTIONS...: rsync h/f into the open push, as a hostile client would.
by_hand() {
	SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$TOKEN \
		rsync -r --from0 --files-from=l0 -e "soc tunnel" "$@" h/ "soc::push/$TXN/"
}

test_expect_success_here 'a head holding f, mode 644, from 2020' '
	start_server "$R" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w h &&
	echo hello >w/f &&
	chmod 644 w/f &&
	touch -d 2020-01-01 w/f &&
	change f w/f >body &&
	push_all w body &&
	stat -c "%a %Y %i" "$R/files/f" >before
'

test_expect_success_here 'an open push of f, its basis linked in staging' '
	echo world >w/f &&
	change f w/f "$(hash_of "$R/files/f")" >body2 &&
	push_begin body2 &&
	test "$(stat -c %i "$R/staging/$TXN/f")" = "$(stat -c %i "$R/files/f")" &&
	echo hello >h/f &&
	chmod 755 h/f &&
	touch -d 2022-06-01 h/f &&
	printf "f\0" >l0
'

for opts in "-tp --size-only" "-t --checksum -E" "-t --modify-window=1000000000 --chmod=a+x" \
	"-t --size-only" "-t --size-only -X" "-t --size-only -o -g" "-t -H" "-t -I --sparse" "-t -I --preallocate"; do
	test_expect_success "rsync $opts by hand is refused (exit 4), files/f untouched" "
		: >'$R/rsyncd.log' &&
		test_expect_code 4 by_hand $opts &&
		grep 'The server is configured to refuse' '$R/rsyncd.log' &&
		stat -c '%a %Y %i' '$R/files/f' >after &&
		test_cmp before after
	"
done

test_expect_success 'the same rsync without those options writes a new file, not the basis' '
	by_hand -t -I &&
	stat -c "%a %Y %i" "$R/files/f" >after &&
	test_cmp before after &&
	test "$(cat "$R/files/f")" = hello
'

test_expect_success 'soc push still carries modes both ways' '
	test_when_finished "unset SOC_TOKEN" &&
	SOC_TOKEN=$ADMIN_TOKEN &&
	export SOC_TOKEN &&
	soc init a --remote "$URL" -q &&
	soc init b --remote "$URL" -q &&
	(cd a && soc pull -q) &&
	printf "#!/bin/sh\n" >a/run &&
	chmod 755 a/run &&
	echo plain >a/plain &&
	chmod 644 a/plain &&
	(cd a && soc add run plain -q && soc push -q) &&
	test "$(stat -c %a "$R/files/run") $(stat -c %a "$R/files/plain")" = "755 644" &&
	(cd b && soc pull -q) &&
	test "$(stat -c %a b/run) $(stat -c %a b/plain)" = "755 644" &&
	chmod 644 a/run &&
	echo more >>a/run &&
	(cd a && soc push -q) &&
	test "$(stat -c %a "$R/files/run")" = 644
'

test_done
