#!/bin/sh
# The shape issue 15 gave the source, kept: no two files call each other
# (scripts/circles.sh), no source file over 800 lines, every file opens
# with a comment that names it and says its one job, and a short README.
. "$(dirname "$0")/lib.sh"

FILE_LINES_MAX=800
README_LINES_MAX=250	# what a user reads first stays short (issue 15)

test_expect_success 'no two source files call each other' '
	sh "$TOP/scripts/circles.sh" >pairs 2>err ||
	{ cat pairs err; false; }
'

test_expect_success 'circles.sh finds a circle when there is one' '
	mkdir -p circ/scripts &&
	cp "$TOP/scripts/circles.sh" circ/scripts/ &&
	printf "void circle_b(void);\nvoid circle_a(void) { circle_b(); }\n" >circ/circle_a.c &&
	printf "void circle_a(void);\nvoid circle_b(void) { circle_a(); }\n" >circ/circle_b.c &&
	test_must_fail sh circ/scripts/circles.sh >pairs &&
	grep -x "circle_a.c <-> circle_b.c" pairs
'

test_expect_success "no source file is over $FILE_LINES_MAX lines" '
	(cd "$TOP" && wc -l *.c *.h) | awk -v max=$FILE_LINES_MAX "\$2 != \"total\" && \$1 > max" >long &&
	{ test ! -s long || { cat long; false; }; }
'

test_expect_success 'every source file opens with its name and its job' '
	for f in "$TOP"/*.c "$TOP"/*.h; do
		n=$(basename "$f")
		head -2 "$f" | grep -q -E "^(/\\*| \\*) $n: [^ ]" || echo "$n"
	done >nameless &&
	{ test ! -s nameless || { cat nameless; false; }; }
'

test_expect_success "the README is under $README_LINES_MAX lines" '
	test "$(wc -l <"$TOP/README")" -lt $README_LINES_MAX
'

test_done
