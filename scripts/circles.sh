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
cflags=$(pkg-config --cflags sqlite3 libcurl jansson libmd libcrypto 2>/dev/null || true)
for f in *.c; do
	# shellcheck disable=SC2086
	cc -std=gnu11 -D_GNU_SOURCE -pthread $cflags -c -o "$tmp/${f%.c}.o" "$f"
done
for o in "$tmp"/*.o; do
	n=$(basename "$o" .o).c
	nm --defined-only -g "$o" | awk -v f="$n" '$2 ~ /[TDBRC]/ { print $3, f }'
done | sort >"$tmp/defs"
for o in "$tmp"/*.o; do
	n=$(basename "$o" .o).c
	nm -u "$o" | awk '{ print $2 }' | sort -u | join - "$tmp/defs" | awk -v f="$n" '$2 != f { print f, $2 }'
done | sort -u >"$tmp/edges"
awk '{ e[$1 " " $2] = 1 }
	END { for (k in e) { split(k, a, " "); if (e[a[2] " " a[1]] && a[1] < a[2]) print a[1] " <-> " a[2] } }' \
	"$tmp/edges" | sort >"$tmp/pairs"
cat "$tmp/pairs"
[ ! -s "$tmp/pairs" ]
