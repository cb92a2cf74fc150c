#!/bin/sh
# A commit that leaves soc.db's WAL past WAL_KEEP_BYTES checkpoints it
# into soc.db and cuts it back to nothing, after its answer: a large push
# does not leave the root its WAL's size. SOC_TEST_WAL_KEEP_BYTES lowers the limit.
. "$(dirname "$0")/lib.sh"
. "$TEST_SRC/lib-push.sh"

KEEP=1048576

test_expect_success_here 'a server whose WAL limit is 1 MiB' '
	SOC_TEST_WAL_KEEP_BYTES=$KEEP &&
	export SOC_TEST_WAL_KEEP_BYTES &&
	start_server "$TRASH/r" &&
	TOKEN=$ADMIN_TOKEN &&
	mkdir w
'

test_expect_success 'a small push leaves the WAL as it is' '
	echo one >w/one &&
	change one w/one >body &&
	push_all w body &&
	size=$(stat -c %s "$TRASH/r/soc.db-wal") &&
	test "$size" -gt 0 &&
	test "$size" -le $KEEP &&
	! grep "checkpointed" "$TRASH/r.log"
'

test_expect_success 'a push of 3,000 files grows it past the limit: checkpointed, cut to nothing, the head whole' '
	mkdir w/many &&
	python3 -c "
import hashlib, json, os
for i in range(1, 3001):
    p = \"many/f%d\" % i
    data = b\"%d\\n\" % i
    with open(\"w/\" + p, \"wb\") as f:
        f.write(data)
    print(json.dumps({\"path\": p, \"sha256\": hashlib.sha256(data).hexdigest(), \"size\": len(data),
                      \"mtime\": int(os.stat(\"w/\" + p).st_mtime), \"mode\": 420, \"base\": None},
                     separators=(\",\", \":\")))
" >body2 &&
	head -n 1 body2 >first && change many/f1 w/many/f1 >expect && test_cmp expect first &&
	push_all w body2 &&
	n=0 && while ! grep -q "soc serve: checkpointed soc.db.s WAL of [0-9]* bytes" "$TRASH/r.log" &&
		[ $n -lt 100 ]; do sleep 0.1 && n=$((n + 1)); done &&
	grep "soc serve: checkpointed soc.db.s WAL of [0-9]* bytes" "$TRASH/r.log" &&
	test "$(stat -c %s "$TRASH/r/soc.db-wal")" = 0 &&
	test "$(cat "$TRASH/r/files/many/f3000")" = 3000 &&
	soc serve check --root "$TRASH/r"
'

test_done
