#!/bin/sh
# bench/fill-db.sh DB N: puts N files into a stopped server's soc.db, one
# revision holding them all, so bench/serve.sh can stream a big change
# list. Writes the columns DESIGN.md section 5 names (path, sha256, size,
# mtime, mode, rev) into `files` and `changes`, whichever of them each
# table has; a table with other NOT NULL columns makes sqlite3 fail loudly.
# A shortcut only a benchmark may take (t/ moves a head by real pushes):
# what is measured is streaming the list, not pushing a million files.
set -eu
DB=$1
N=$2

cols() {
	sqlite3 "$DB" "SELECT name FROM pragma_table_info('$1')" | tr '\n' ' '
}

# Sets names and exprs to the known columns the table has and their values.
select_list() {
	names=
	exprs=
	for c in $(cols "$1"); do
		case $c in
		path) e="printf('Data/dir%04d/file%07d.txt', x / 1000, x)" ;;
		sha256) e="printf('%064x', x)" ;;
		size) e="x % 100000" ;;
		mtime) e="1700000000 + x" ;;
		mode) e="420" ;;
		rev) e="1" ;;
		*) continue ;;
		esac
		names="$names${names:+, }$c"
		exprs="$exprs${exprs:+, }$e"
	done
}

fill() {
	select_list "$1"
	[ -n "$names" ] || return 0
	sqlite3 "$DB" >/dev/null <<EOS
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $N)
INSERT INTO $1 ($names) SELECT $exprs FROM n;
COMMIT;
EOS
}

fill files
fill changes
# The head readers see: soc serve keeps it in meta.
sqlite3 "$DB" "UPDATE meta SET value = 1 WHERE key = 'head';
	INSERT OR IGNORE INTO revs VALUES(1, strftime('%s'), 'bench', NULL, $N, 0, 0);"
echo "fill-db: $N files in $DB"
