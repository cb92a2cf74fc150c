#!/bin/sh
# scripts/circles.sh: the pairs of source files that call each other (A
# uses a symbol B defines, and B one A defines), which an #include grep
# cannot see: each is a circle issue 15 wants gone. Prints one pair a
# line and exits 1 if there is any.
#
#   sh scripts/circles.sh
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/soc-circles.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cflags=$(pkg-config --cflags sqlite3 libcurl jansson libmd libcrypto libpq 2>/dev/null || true)
top=$(pwd)
# One compiler driver and one nm for all: the test suite runs this, and
# a process a file cost more than the compiling.
# shellcheck disable=SC2086
(cd "$tmp" && cc -std=gnu11 -D_GNU_SOURCE -pthread $cflags -I"$top" -c "$top"/*.c)
(cd "$tmp" && nm -A --defined-only -g ./*.o) |
	awk '$2 ~ /[TDBRC]/ { f = $1; sub(/^\.\//, "", f); sub(/\.o:.*/, ".c", f); print $3, f }' |
	sort >"$tmp/defs"
(cd "$tmp" && nm -A -u ./*.o) |
	awk '{ f = $1; sub(/^\.\//, "", f); sub(/\.o:.*/, ".c", f); print $NF, f }' | sort -u |
	join - "$tmp/defs" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/edges"
awk '{ e[$1 " " $2] = 1 }
	END { for (k in e) { split(k, a, " "); if (e[a[2] " " a[1]] && a[1] < a[2]) print a[1] " <-> " a[2] } }' \
	"$tmp/edges" | sort >"$tmp/pairs"
cat "$tmp/pairs"
[ ! -s "$tmp/pairs" ]
