#!/bin/sh
# make demo: the main job in a minute. A server on a temporary root, two
# workspaces (alice's laptop, and bob's made by soc clone), a push, a
# pull, an edit each, and the conflict that keeps both edits. Everything
# happens under one temp dir that is removed at the end; the server is
# stopped by its PID.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
SOC=$TOP/soc
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/soc-demo.XXXXXX")
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$DEMO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then BOLD=$(printf '\033[1m') PLAIN=$(printf '\033[0m'); else BOLD= PLAIN=; fi
step() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
run() { printf '$ %s\n' "$*"; "$@"; }

mkdir -p "$DEMO/bin"
for c in soc soc_add soc_push soc_pull soc_serve soc_status; do ln -s "$SOC" "$DEMO/bin/$c"; done
PATH=$DEMO/bin:$PATH
cd "$DEMO"

step "Start a server on 127.0.0.1, a free port, with a fresh root"
soc serve --root "$DEMO/server" --listen 127.0.0.1:0 2>"$DEMO/server.log" &
SERVER_PID=$!
URL=
for _ in $(seq 100); do
	URL=$(sed -n 's/^[0-9TZ:-]* soc serve: listening on \(http:[^ ]*\)$/\1/p' "$DEMO/server.log")
	[ -n "$URL" ] && break
	sleep 0.1
done
[ -n "$URL" ] || { cat "$DEMO/server.log"; exit 1; }
cat "$DEMO/server.log"
SOC_TOKEN=$(cat "$DEMO/server/admin.token")
export SOC_TOKEN
echo "(the first start made an admin token; both laptops use it through SOC_TOKEN)"

step "Alice makes a workspace and tracks her Data directory"
mkdir -p alice/Data/notes
printf 'milk\neggs\n' >alice/Data/shopping.txt
printf 'soc demo\n' >alice/Data/notes/readme.md
head -c 200000 /dev/urandom >alice/Data/photo.bin
cd alice
run soc init --remote "$URL"
run soc_add Data -id
run soc status
step "Alice pushes"
run soc_push
cd ..

step "Bob sets up his laptop in one step: a workspace, the token, the first pull"
run soc clone "$URL" bob
run ls -R bob/Data

step "Both edit the same file; Alice pushes first"
printf 'milk\neggs\nbread\n' >alice/Data/shopping.txt
printf 'milk\neggs\ncheese\n' >bob/Data/shopping.txt
(cd alice && run soc push)

step "Bob's push is refused: the server has a version he has not seen"
(cd bob && run soc push) || echo "(exit code $?: pull first)"

step "Bob pulls: his edit stays, Alice's lands beside it"
(cd bob && run soc pull) || echo "(exit code $?: a conflict to resolve)"
(cd bob && run soc status && run ls Data && run cat Data/shopping.conflict-r*.txt)

step "Bob merges both edits, marks it resolved with soc add, and pushes"
printf 'milk\neggs\nbread\ncheese\n' >bob/Data/shopping.txt
rm bob/Data/shopping.conflict-r*.txt
(cd bob && run soc add Data/shopping.txt && run soc push)

step "Alice pulls the merge; the history is on the server"
(cd alice && run soc pull && run cat Data/shopping.txt && run soc log)

step "Stop the server"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
echo "done: the demo's files were in $DEMO, removed now"
