#!/bin/sh
# Symlinks (issue 17), as git and rsync -a keep them: a link is synced as a
# link, its target string verbatim its content; soc never follows one on
# either side, never writes through one, and a pulled link never makes a
# later write land outside the workspace. The server keeps links in its
# database, never in files/.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

# The links of a workspace (not .soc/), one "path -> target" line each, sorted.
links_of() {
	(cd "$1" && find . -path ./.soc -prune -o -type l -printf '%p -> %l\n' | LC_ALL=C sort)
}

# What is under dir (names, kinds), for "nothing landed there".
listing() {
	(cd "$1" && find . -printf '%p %y\n' | LC_ALL=C sort)
}

test_expect_success_here 'a/ tracks links of every kind beside files' '
	setup_two &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir outside && echo secret >outside/secret && listing outside >outside.before &&
	mkdir -p a/Data/sub a/Data/dir &&
	echo hello >a/Data/file &&
	echo inner >a/Data/dir/inner &&
	ln -s file a/Data/rel &&
	ln -s /etc a/Data/etc &&
	ln -s .. a/Data/sub/up &&
	ln -s ../../.. a/Data/sub/far &&
	ln -s "$TRASH/outside" a/Data/out &&
	ln -s "no such thing" a/Data/dangling &&
	ln -s loop2 a/Data/loop1 && ln -s loop1 a/Data/loop2 &&
	ln -s dir a/Data/dirlink &&
	(cd a && soc add -q -r Data && soc status --porcelain) >status &&
	grep -c "^A " status >n && test "$(cat n)" = 11 &&
	grep "^A Data/loop1$" status && grep "^A Data/out$" status
'

test_expect_success 'push sends each link as its target, never what it points at' '
	(cd a && soc push -q) &&
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/changes?since=0" >changes &&
	grep "\"path\":\"Data/out\".*\"mode\":40960.*\"target\":\"$TRASH/outside\"" changes &&
	grep "\"path\":\"Data/sub/far\".*\"target\":\"../../..\"" changes &&
	grep "\"path\":\"Data/dangling\".*\"size\":13,.*\"target\":\"no such thing\"" changes &&
	! grep "secret\|passwd\|Data/dirlink/" changes &&
	test "$(grep -c "\"target\"" changes)" = 9
'

test_expect_success 'the server keeps links in its database: files/ holds none, check is clean' '
	if one_node; then
		test -z "$(find "$TRASH/server/files" -type l)" &&
		test -f "$TRASH/server/files/Data/file" &&
		! test -e "$TRASH/server/files/Data/rel"
	else
		# a cluster node keeps no files/; its blob store holds no link either
		! test -e "$TRASH/server/files" &&
		test -z "$(find "$TRASH/server.blobs" -type l)"
	fi &&
	soc serve check --root "$TRASH/server" >out 2>&1 &&
	if one_node; then
		grep "all as the head says" out
	else
		grep "every kept version is in" out
	fi
'

test_expect_success 'b/ pulls every link as it was, and both sides are clean' '
	(cd b && soc pull -q) &&
	links_of a >want && links_of b >got &&
	test_cmp want got &&
	test "$(wc -l <got)" = 9 &&
	test "$(cat b/Data/rel)" = hello &&
	(cd a && soc status --porcelain) >out && test_must_be_empty out &&
	(cd b && soc status --porcelain) >out && test_must_be_empty out &&
	listing outside >after && test_cmp outside.before after
'

test_expect_success 'a link retargeted, a file made a link, a link made a file, a link deleted' '
	(cd a/Data && rm rel && ln -s dir/inner rel &&
	 rm file && ln -s rel file &&
	 rm etc && echo "/etc" >etc &&
	 rm dangling) &&
	(cd a && soc push -q && soc status --porcelain) >out && test_must_be_empty out &&
	(cd b && soc pull -q && soc status --porcelain) >out && test_must_be_empty out &&
	links_of a >want && links_of b >got && test_cmp want got &&
	test -f b/Data/etc && ! test -L b/Data/etc && test "$(cat b/Data/etc)" = /etc &&
	test "$(readlink b/Data/file)" = rel && ! test -e b/Data/dangling &&
	if one_node; then
		test -z "$(find "$TRASH/server/files" -type l)" &&
		! test -e "$TRASH/server/files/Data/file"
	else
		test -z "$(find "$TRASH/server.blobs" -type l)"
	fi &&
	soc serve check --root "$TRASH/server" >/dev/null
'

test_expect_success 'a file whose bytes are a link target is not that link' '
	printf dir/inner >a/Data/same &&
	(cd a && soc add -q Data/same && soc push -q) &&
	(cd b && soc pull -q) &&
	test -f b/Data/same && ! test -L b/Data/same &&
	(cd a/Data && rm same && ln -s dir/inner same) &&
	(cd a && soc status --porcelain) >out &&
	echo "M Data/same" >want && test_cmp want out &&
	(cd a && soc push -q) && (cd b && soc pull -q) &&
	test "$(readlink b/Data/same)" = dir/inner
'

test_expect_success 'a link retargeted on both sides: ours kept, the server'\''s beside it as a link' '
	(cd a/Data && rm loop1 && ln -s from-a loop1) &&
	(cd a && soc push -q) &&
	(cd b/Data && rm loop1 && ln -s from-b loop1) &&
	(cd b && test_expect_code 4 soc pull 2>../err) &&
	grep "conflict in '\''Data/loop1'\''" err &&
	test "$(readlink b/Data/loop1)" = from-b &&
	copy=$(ls b/Data | grep "^loop1.conflict-r") &&
	test "$(readlink "b/Data/$copy")" = from-a &&
	(cd b && soc add -q Data/loop1 && soc rm -q "Data/$copy" && rm "Data/$copy" && soc push -q) &&
	(cd a && soc pull -q) &&
	test "$(readlink a/Data/loop1)" = from-b
'

test_expect_success 'a link replaced by a directory, and a directory by a link' '
	(cd a/Data && rm dirlink && mkdir dirlink && echo in >dirlink/f &&
	 rm -r dir && ln -s sub dir && rm rel) &&
	(cd a && soc push -q) &&
	(cd b && soc pull -q && soc status --porcelain) >out && test_must_be_empty out &&
	test -d b/Data/dirlink && ! test -L b/Data/dirlink && test "$(cat b/Data/dirlink/f)" = in &&
	test "$(readlink b/Data/dir)" = sub &&
	links_of a >want && links_of b >got && test_cmp want got
'

# Another token's push may delete a link and put a directory in its place
# (a swap, which the server takes). Where the link was changed here, pull
# moves it aside as a conflict copy, still a link, and makes the
# directory: nothing goes through the link.
test_expect_success 'a pulled link to a directory outside is never written through' '
	(cd a/Data && rm out && ln -s "$TRASH/outside" gate) &&
	(cd a && soc push -q) && (cd b && soc pull -q) &&
	test -L b/Data/gate &&
	(cd b/Data && rm gate && ln -s "$TRASH/outside/" gate) &&
	mkdir -p src/Data/gate && echo evil >src/Data/gate/evil &&
	deletion Data/gate "$(printf %s "$TRASH/outside" | sha256sum | cut -d" " -f1)" >body &&
	change Data/gate/evil src/Data/gate/evil >>body &&
	push_all src body &&
	(cd b && test_expect_code 4 soc pull 2>../err) &&
	grep "conflict in '\''Data/gate'\'': the server made it a directory" err &&
	test -d b/Data/gate && ! test -L b/Data/gate && test "$(cat b/Data/gate/evil)" = evil &&
	copy=$(cd b/Data && ls -d gate.conflict-r*) &&
	test "$(readlink "b/Data/$copy")" = "$TRASH/outside/" &&
	listing outside >after && test_cmp outside.before after &&
	(cd b && soc rm -q "Data/$copy" && rm "Data/$copy" && soc status --porcelain) >out &&
	test_must_be_empty out
'

# rsync is wrapped: once the downloads are in, a directory of the
# workspace is swapped for a link to outside/, before the apply. The pull
# takes no fetch stream (SOC_TEST_NO_FETCH), so that rsync runs.
swap_after_rsync() {
	real=$(command -v rsync)
	mkdir -p "$TRASH/wrap"
	cat >"$TRASH/wrap/rsync" <<EOS
#!/bin/sh
"$real" "\$@"
rc=\$?
if [ -d "$TRASH/b/Data/sub" ] && ! [ -L "$TRASH/b/Data/sub" ]; then
	mv "$TRASH/b/Data/sub" "$TRASH/sub.moved" && ln -s "$TRASH/outside" "$TRASH/b/Data/sub"
fi
exit \$rc
EOS
	chmod +x "$TRASH/wrap/rsync"
}

for no2 in "" 1; do
test_expect_success "a directory swapped for a link during a pull is not written through${no2:+ (no openat2)}" '
	rm -rf sub.moved && swap_after_rsync &&
	echo new >a/Data/sub/new$no2 &&
	(cd a && soc add -q Data/sub/new$no2 && soc push -q) &&
	(cd b && env ${no2:+SOC_TEST_NO_OPENAT2=1} SOC_TEST_NO_FETCH=1 PATH="$TRASH/wrap:$PATH" soc pull 2>../err;
		test $? -ne 0) &&
	test -L b/Data/sub &&
	grep "Data/sub/new$no2" err &&
	listing outside >after && test_cmp outside.before after &&
	rm b/Data/sub && mv sub.moved b/Data/sub &&
	(cd b && soc pull -q) && test "$(cat b/Data/sub/new$no2)" = new
'
done

# A file here that is a synced link, made a file on the server: with the
# workspace as rsync's basis, rsync would open the link, read what it
# points at and send its block checksums to the server. (The fetch
# stream never takes a link here as a delta's base; t/0434.)
for nolink in "" 1; do
test_expect_success "a download never takes a link here as its rsync basis${nolink:+ (no hard links)}" '
	f=big$nolink &&
	dd if=/dev/urandom of=a/Data/$f bs=64k count=4 2>/dev/null && echo p >a/Data/plain$nolink &&
	(cd a && soc add -q Data/$f Data/plain$nolink && soc push -q) && (cd b && soc pull -q) &&
	(cd b/Data && rm $f && ln -s "$TRASH/outside/secret" $f) &&
	(cd b && soc push -q) && (cd a && soc pull -q) && test -L a/Data/$f &&
	(cd a/Data && rm $f && dd if=/dev/urandom of=$f bs=64k count=4 2>/dev/null && echo q >>plain$nolink) &&
	(cd a && soc push -q) &&
	rm -f rsync.calls && wrap_rsync &&
	(cd b && env ${nolink:+SOC_TEST_NO_HARDLINK=1} SOC_TEST_NO_FETCH=1 soc pull -q) &&
	test -f b/Data/$f && ! test -L b/Data/$f && cmp a/Data/$f b/Data/$f &&
	cmp a/Data/plain$nolink b/Data/plain$nolink &&
	test "$(client_rsyncs)" = 1 &&
	! grep -- "--copy-dest" rsync.calls &&
	listing outside >after && test_cmp outside.before after
'
done

test_expect_success 'soc log and soc ls show a link by its target; soc restore brings an old one back' '
	(cd a && soc log Data/loop1) >out &&
	grep "Data/loop1  -> from-b$" out && grep "Data/loop1  -> loop2$" out &&
	(cd a && soc ls Data) >out &&
	grep "^120000 .* Data/loop1 -> from-b$" out &&
	rev=$(cd a && soc log Data/loop1 | sed -n "s/^r\([0-9]*\) .*-> loop2$/\1/p") &&
	test -n "$rev" &&
	(cd a && soc restore -q --rev "$rev" Data/loop1 && soc status --porcelain) >out &&
	echo "M Data/loop1" >want && test_cmp want out &&
	test "$(readlink a/Data/loop1)" = loop2 &&
	(cd a && soc push -q) && (cd b && soc pull -q) &&
	test "$(readlink b/Data/loop1)" = loop2
'

test_expect_success 'a copy of /usr/share/doc arrives in two more workspaces with every symlink the same' '
	cp -a /usr/share/doc a/doc &&
	test "$(find a/doc -type l | wc -l)" -gt 10 &&
	(cd a && soc add -q -r doc 2>../adderr && soc push -q) &&
	soc init c --remote "$URL" -q &&
	(cd b && soc pull -q) && (cd c && soc pull -q) &&
	(cd a && find doc -type l -printf "%p -> %l\n" | LC_ALL=C sort) >want &&
	(cd b && find doc -type l -printf "%p -> %l\n" | LC_ALL=C sort) >got.b &&
	(cd c && find doc -type l -printf "%p -> %l\n" | LC_ALL=C sort) >got.c &&
	test_cmp want got.b && test_cmp want got.c &&
	(cd a && find doc -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >fwant &&
	(cd c && find doc -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >fgot &&
	test_cmp fwant fgot &&
	test -z "$(find "$TRASH/server/files" -type l)" &&
	soc serve check --root "$TRASH/server" >/dev/null
'

test_done
