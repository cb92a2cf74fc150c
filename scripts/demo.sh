#!/bin/sh
# scripts/demo.sh: the client core at work, in a scratch directory: a
# workspace is made, files are added, and soc status follows edits,
# deletes, new files and .socignore. `make demo` runs it; it stops with a
# non-zero exit at the first step that fails. (The push and pull demo
# replaces it once those commands exist.)
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
SOC=$TOP/soc
[ -x "$SOC" ] || { echo "demo: build soc first (make)" >&2; exit 1; }
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/soc-demo.XXXXXX")
trap 'rm -rf "$DEMO"' EXIT
mkdir "$DEMO/bin"
ln -s "$SOC" "$DEMO/bin/soc"
ln -s "$SOC" "$DEMO/bin/soc_add"
ln -s "$SOC" "$DEMO/bin/soc_status"
PATH=$DEMO/bin:$PATH
export PATH
cd "$DEMO"

if [ -t 1 ]; then
	BOLD=$(printf '\033[1m') PLAIN=$(printf '\033[0m')
else
	BOLD= PLAIN=
fi

say() {
	printf '\n%s# %s%s\n' "$BOLD" "$*" "$PLAIN"
}

# run CMD...: shows the command, runs it, stops the demo if it fails.
run() {
	printf '$ %s\n' "$*"
	"$@"
}

# expect WHAT... -- CMD...: like run, and the output must hold each WHAT line.
expect() {
	: >"$DEMO/want"
	while [ "$1" != -- ]; do
		echo "$1" >>"$DEMO/want"
		shift
	done
	shift
	printf '$ %s\n' "$*"
	"$@" >"$DEMO/out" 2>&1
	cat "$DEMO/out"
	while read -r want; do
		grep -qx -- "$want" "$DEMO/out" || { echo "demo: expected '$want'" >&2; exit 1; }
	done <"$DEMO/want"
}

say "soc init makes a directory a workspace: .soc/ holds its settings and its index"
run soc init photos
cd photos

say "a few files, in a directory and below it"
mkdir -p Data/2024 Data/2025
echo "summer" >Data/2024/beach.txt
echo "winter" >Data/2025/snow.txt
echo "notes" >Data/notes.txt
run ls -R Data

say "soc_add Data -id (the historic spelling of -r) tracks every file below Data"
run soc_add Data -id
expect "A Data/2024/beach.txt" "A Data/2025/snow.txt" "A Data/notes.txt" -- soc status --porcelain

say "soc status for people; --porcelain (above) for scripts: one 'X path' a line"
run soc status --offline

say "a file created later under Data shows up by itself: Data stays tracked"
echo "spring" >Data/2025/rain.txt
expect "A Data/2025/rain.txt" -- soc status --porcelain

say ".socignore, as .gitignore: ignored files are never listed"
printf '*.tmp\ncache/\n' >.socignore
mkdir Data/cache
echo x >Data/scratch.tmp
echo x >Data/cache/thumb.jpg
run cat .socignore
run soc status --porcelain
if soc status --porcelain | grep -q -e tmp -e cache; then
	echo "demo: an ignored file was listed" >&2
	exit 1
fi

say "a file deleted before it was ever pushed is simply gone from the list"
rm Data/2025/rain.txt
run soc status --porcelain

say "soc rm stops tracking a file; the file itself stays"
run soc rm Data/notes.txt
run soc status --porcelain
run ls Data/notes.txt

say "until soc push exists, mark everything as pushed in the index (what a push records)"
run sqlite3 .soc/index.db "UPDATE files SET base = md5"
expect "nothing to push" -- soc status --offline

say "now an edit is M and a delete is D: what the next push would send"
echo "summer, again" >Data/2024/beach.txt
rm Data/2025/snow.txt
expect "M Data/2024/beach.txt" "D Data/2025/snow.txt" -- soc status --porcelain

say "change detection costs one stat per file; an unchanged tree writes nothing to the index"
cp .soc/index.db "$DEMO/index.before"
run soc status --porcelain
run cmp "$DEMO/index.before" .soc/index.db
echo "index unchanged"

say "done: the demo ran in $DEMO (removed now)"
