#!/bin/sh
# A pull's delta basis (issue 17's pull speed): a file here that the pull
# replaces is hard-linked into .soc/incoming/ at its path before rsync
# runs, so rsync finds its basis where it writes, as `rsync -a` does in
# place, and replaces the link with a new file: ours is never written
# into. On a filesystem without hard links rsync gets the workspace as
# --copy-dest, as before.
. "$(dirname "$0")/lib.sh"

# rsync's basis is what this test reads: the pull takes no fetch stream.
SOC_TEST_NO_FETCH=1
export SOC_TEST_NO_FETCH

# rsync, noting its arguments and, at its start, the link count of the
# incoming copy of big.bin ("none": no basis there).
wrap_rsync_links() {
	real=$(command -v rsync)
	mkdir -p "$TRASH/wrap"
	cat >"$TRASH/wrap/rsync" <<EOS
#!/bin/sh
for last in "\$@"; do :; done
case "\$*" in
*--files-from*)
	echo "rsync \$*" >>"$TRASH/rsync.calls"
	stat -c %h "\$last/big.bin" >>"$TRASH/links" 2>/dev/null || echo none >>"$TRASH/links"
esac
exec "$real" "\$@"
EOS
	chmod +x "$TRASH/wrap/rsync"
	PATH=$TRASH/wrap:$PATH
	export PATH
}

# edit_middle FILE TAG: 4 KiB in the middle of FILE rewritten.
edit_middle() {
	printf "%4096s" "$2" | dd of="$1" bs=4096 seek=128 conv=notrunc 2>/dev/null
}

test_expect_success_here 'a/ pushes a 1 MiB file; b/ pulls it' '
	setup_two &&
	dd if=/dev/urandom of=a/big.bin bs=1M count=1 2>/dev/null &&
	(cd a && soc add -q big.bin && soc push -q) &&
	(cd b && soc pull -q) &&
	cmp a/big.bin b/big.bin
'

test_expect_success 'an edit there: ours is rsync'\''s basis in incoming/, and keeps its inode untouched' '
	ino=$(stat -c %i b/big.bin) && cp b/big.bin old.bin &&
	ln b/big.bin held &&
	edit_middle a/big.bin one &&
	(cd a && soc push -q) &&
	wrap_rsync_links &&
	(cd b && soc pull -q) &&
	cmp a/big.bin b/big.bin &&
	test "$(cat links)" = 3 &&	# ours, held, and the one in incoming/
	! grep -e "--copy-dest" rsync.calls &&
	test "$(stat -c %i b/big.bin)" != "$ino" &&
	cmp old.bin held &&
	(cd b && soc status --porcelain) >out && test_must_be_empty out
'

# vfat and exFAT, where many keep photos, have no hard links (EPERM);
# SOC_TEST_NO_HARDLINK makes every link soc tries fail so.
test_expect_success 'no hard links on this filesystem: the workspace is rsync'\''s --copy-dest' '
	rm -f links rsync.calls &&
	edit_middle a/big.bin two &&
	(cd a && soc push -q) &&
	wrap_rsync_links &&
	(cd b && SOC_TEST_NO_HARDLINK=1 soc pull -q) &&
	cmp a/big.bin b/big.bin &&
	test "$(cat links)" = none &&
	grep -e "--copy-dest=$TRASH/b" rsync.calls &&
	(cd b && soc status --porcelain) >out && test_must_be_empty out
'

test_done
