# t/lib-push.sh: pushing by hand, the way soc push does it (DESIGN.md
# section 7): curl for the JSON API, and rsync through `soc tunnel` exactly
# as the client runs it, for the t/022N tests. Source it after lib.sh; set
# URL (start_server does) and TOKEN.

# edit FILE MIB: one random MiB written over FILE at MiB MIB.
edit() {
	head -c 1048576 /dev/urandom | dd of="$1" bs=1M seek="$2" conv=notrunc 2>/dev/null
}

# api METHOD PATH [curl args]: the status on stdout, the body in ./out.
api() {
	api_m=$1
	api_p=$2
	shift 2
	curl -s -o out -w "%{http_code}\n" -X "$api_m" -H "Authorization: Bearer $TOKEN" "$@" \
		"$URL/api/v1/$api_p"
}

# json_get KEY < json: one value of a JSON object.
json_get() {
	python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# change PATH FILE [BASE]: the push line for FILE's content at PATH (its
# mode from FILE's x bit), replacing BASE (none: a new file).
change() {
	if [ -x "$2" ]; then ch_mode=493; else ch_mode=420; fi
	if [ -n "${3-}" ]; then ch_base="\"$3\""; else ch_base=null; fi
	printf '{"path":"%s","sha256":"%s","size":%s,"mtime":%s,"mode":%s,"base":%s}\n' \
		"$1" "$(hash_of "$2")" "$(stat -c %s "$2")" "$(stat -c %Y "$2")" "$ch_mode" "$ch_base"
}

# deletion PATH BASE: the push line deleting PATH.
deletion() {
	printf '{"path":"%s","deleted":true,"base":"%s"}\n' "$1" "$2"
}

# push_begin BODY-FILE: POST push; on 201 sets TXN and writes the paths to
# upload to ./upload (a line each) and ./upload0 (NUL-separated).
push_begin() {
	pb_code=$(api POST push -H "Content-Type: application/x-ndjson" --data-binary @"$1")
	if [ "$pb_code" != 201 ]; then
		echo "push_begin: $pb_code $(cat out)" >&2
		return 1
	fi
	TXN=$(sed -n 's/^{"txn":"\([0-9a-f]*\)".*/\1/p' out)
	python3 -c 'import json, sys; sys.stdout.write("".join(p + "\0" for p in json.load(sys.stdin)["upload"]))' \
		<out >upload0 &&
	tr '\0' '\n' <upload0 >upload
}

# push_upload SRC-DIR [TXN]: rsync the upload list to soc::push/TXN/, as soc push does.
push_upload() {
	SOC_TUNNEL_URL=$URL SOC_TUNNEL_TOKEN=$TOKEN \
		rsync -rt -I --from0 --files-from=- -e "soc tunnel" \
		"$1/" "soc::push/${2:-$TXN}/" <upload0
}

# serve_hooked HOOK VALUE ROOT: start_server ROOT with the test hook HOOK
# (SOC_TEST_...) set to VALUE for the server alone.
serve_hooked() {
	export "$1=$2" &&
	start_server "$3" &&
	unset "$1"
}

# push_staged_other DIR PATH SAID STAGED [BASE]: begins a push of DIR/PATH
# holding SAID (replacing BASE), then stages STAGED for it instead, so that
# its commit gets 422 staged_mismatch.
push_staged_other() {
	echo "$3" >"$1/$2" &&
	change "$2" "$1/$2" "${5-}" >body &&
	push_begin body &&
	echo "$4" >"$1/$2" &&
	push_upload "$1"
}

# serve_slow NAME PATIENCE-MS HOOK DELAY-MS: a server at TRASH/NAME that
# waits PATIENCE-MS before its first empty line (SOC_TEST_HTTP_PATIENCE_MS)
# and whose HOOK (SOC_TEST_APPLY_DELAY_MS, SOC_TEST_BEGIN_DELAY_MS) is
# DELAY-MS, for the patience tests; its URL in NAME.url.
serve_slow() {
	SOC_TEST_HTTP_PATIENCE_MS=$2 &&
	export SOC_TEST_HTTP_PATIENCE_MS "$3=$4" &&
	start_server "$TRASH/$1" &&
	unset SOC_TEST_HTTP_PATIENCE_MS "$3" &&
	echo "$URL" >"$1.url"
}

# push_commit [TXN]: the commit's status on stdout, its answer in ./out.
push_commit() {
	api POST "push/${1:-$TXN}/commit"
}

# push_all SRC-DIR BODY-FILE: begin, upload, commit; fails unless 200.
push_all() {
	push_begin "$2" &&
	{ ! [ -s upload ] || push_upload "$1"; } &&
	pa_code=$(push_commit) &&
	if [ "$pa_code" != 200 ]; then
		echo "push_all: commit $pa_code $(cat out)" >&2
		return 1
	fi
}

# head_rev: the head the server reports (sed, not python: it runs often).
head_rev() {
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/api/v1/info" |
	sed -n 's/.*"head":\([0-9]*\).*/\1/p'
}

# head_list: the head as "sha256 mode path" lines, sorted, from changes?since=0.
head_list() {
	curl -sf -H "Authorization: Bearer $TOKEN" "$URL/api/v1/changes?since=0" |
	python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    if "path" in d:
        print("%s %o %s" % (d["sha256"], d["mode"], d["path"]))' | LC_ALL=C sort -k3
}

# snapshot ROOT: every byte of files/, what staging/ and commit/ hold, and
# the head, so a test can show a refusal changed nothing.
snapshot() {
	tree_sum "$1/files" &&
	(cd "$1" && find staging commit | LC_ALL=C sort) &&
	echo "head $(head_rev)"
}
