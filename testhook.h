/*
 * testhook.h: the test hooks, every one named SOC_TEST_<NAME> and read from
 * the environment through testhook.c alone; t/README says what each does.
 * A hook only shortens a wait, slows or breaks a step so a test can reach a
 * state it cannot reach otherwise; unset, soc behaves as shipped.
 */
#ifndef SOC_TESTHOOK_H
#define SOC_TESTHOOK_H

#define TEST_HOOK_PREFIX "SOC_TEST_"

/* Server: the HTTP timeouts of http.h, in ms, 1..their default. */
#define HOOK_HTTP_HEAD_TIMEOUT_MS TEST_HOOK_PREFIX "HTTP_HEAD_TIMEOUT_MS"
#define HOOK_HTTP_IDLE_TIMEOUT_MS TEST_HOOK_PREFIX "HTTP_IDLE_TIMEOUT_MS"
#define HOOK_HTTP_BODY_TIMEOUT_MS TEST_HOOK_PREFIX "HTTP_BODY_TIMEOUT_MS"
/* Server: a tunnel (rsync) connection idle this long is closed, 1..TUNNEL_IDLE_TIMEOUT_MS. */
#define HOOK_TUNNEL_IDLE_TIMEOUT_MS TEST_HOOK_PREFIX "TUNNEL_IDLE_TIMEOUT_MS"
/* Server: an upload stream idle this long is dropped, 1..UPLOAD_IDLE_TIMEOUT_MS. */
#define HOOK_UPLOAD_IDLE_TIMEOUT_MS TEST_HOOK_PREFIX "UPLOAD_IDLE_TIMEOUT_MS"
/* Server: a push never committed expires after, in seconds, 1..TXN_EXPIRE_SECONDS. */
#define HOOK_TXN_EXPIRE_SECONDS TEST_HOOK_PREFIX "TXN_EXPIRE_SECONDS"
/* Server: a cluster node's lease, in seconds (node.c), shorter than a day's wait for a dead node. */
#define HOOK_NODE_LEASE_SECONDS TEST_HOOK_PREFIX "NODE_LEASE_SECONDS"
/* Server: http_patience's wait before its first empty line, in ms, 0..HTTP_PATIENCE_MS (0: at once). */
#define HOOK_HTTP_PATIENCE_MS TEST_HOOK_PREFIX "HTTP_PATIENCE_MS"
/* Client: a request silent this many seconds fails, 1..NET_STALL_SECONDS. */
#define HOOK_NET_STALL_SECONDS TEST_HOOK_PREFIX "NET_STALL_SECONDS"
/* Server: a pause at each step of applying a push, 0..APPLY_DELAY_MAX_MS. */
#define HOOK_APPLY_DELAY_MS TEST_HOOK_PREFIX "APPLY_DELAY_MS"
/* Server: a pause in a push's begin, before its answer, 0..APPLY_DELAY_MAX_MS. */
#define HOOK_BEGIN_DELAY_MS TEST_HOOK_PREFIX "BEGIN_DELAY_MS"
/* Server: a pause after a commit's answer, before its deferred writes (store_settle), 0..SETTLE_DELAY_MAX_MS. */
#define HOOK_SETTLE_DELAY_MS TEST_HOOK_PREFIX "SETTLE_DELAY_MS"
/* Server, gc, check: the clock retention reads, in seconds since the epoch. */
#define HOOK_NOW TEST_HOOK_PREFIX "NOW"
/* Server, a flag: answer as a server older than the upload stream. */
#define HOOK_NO_UPLOAD TEST_HOOK_PREFIX "NO_UPLOAD"
#define HOOK_NO_FETCH TEST_HOOK_PREFIX "NO_FETCH"
/* Server, a flag: refuse CONNECT (505) as a server older than it did. */
#define HOOK_NO_CONNECT TEST_HOOK_PREFIX "NO_CONNECT"
#define HOOK_FETCH_CUT TEST_HOOK_PREFIX "FETCH_CUT"
/* Client, a flag: a push sends every changed file by rsync, however few its bytes (push_begin.c). */
#define HOOK_PUSH_CHANGED_BY_RSYNC TEST_HOOK_PREFIX "PUSH_CHANGED_BY_RSYNC"
/* Client: a pause between a file's look and its read in an upload, 0..UPLOAD_SLEEP_MAX_MS. */
#define HOOK_UPLOAD_SLEEP_MS TEST_HOOK_PREFIX "UPLOAD_SLEEP_MS"
/* Client, a flag: making pulled files durable fails as if the disk refused. */
#define HOOK_SYNC_FAIL TEST_HOOK_PREFIX "SYNC_FAIL"
/* Client, a flag: push dies by SIGKILL once the server committed, before the index records it. */
#define HOOK_KILL_AFTER_COMMIT TEST_HOOK_PREFIX "KILL_AFTER_COMMIT"
/* Client: soc watch acts as if inotify's limit were this many watches, 1..WATCH_HOOK_MAX. */
#define HOOK_WATCHES_MAX TEST_HOOK_PREFIX "WATCHES_MAX"
/* Both sides, a flag: beneath.c acts as on a kernel without openat2, so its walk is what runs. */
#define HOOK_NO_OPENAT2 TEST_HOOK_PREFIX "NO_OPENAT2"
/* Server, a flag: a cluster node syncs its blob directory file by file, on whatever filesystem. */
#define HOOK_BLOBS_FSYNC_EACH TEST_HOOK_PREFIX "BLOBS_FSYNC_EACH"
/* Client: a pull's hard links fail with EPERM, as on vfat or exFAT (the --copy-dest fallback). */
#define HOOK_NO_HARDLINK TEST_HOOK_PREFIX "NO_HARDLINK"
/* Server: the WAL size past which a commit checkpoints, in place of WAL_KEEP_BYTES. */
#define HOOK_WAL_KEEP_BYTES TEST_HOOK_PREFIX "WAL_KEEP_BYTES"
/* Client, a flag: rsync goes through `soc tunnel` where it could CONNECT straight (rsync_connect.c). */
#define HOOK_RSYNC_TUNNEL TEST_HOOK_PREFIX "RSYNC_TUNNEL"
/* Both sides, a file: bytes through each upgraded connection are appended to it (bench/sync.sh). */
#define HOOK_TUNNEL_STATS TEST_HOOK_PREFIX "TUNNEL_STATS"
/* Server, a file: each commit's check appends the staged bytes hashed as rsync wrote them, and after. */
#define HOOK_FOLLOW_STATS TEST_HOOK_PREFIX "FOLLOW_STATS"
/* Server, a file: each commit's check appends "marked N looked M", its uploaded files taken unseen and seen. */
#define HOOK_CHECK_STATS TEST_HOOK_PREFIX "CHECK_STATS"
/* Client, a flag: every piece's sum is taken as its record's, as if each one collided (hash_pieces.c). */
#define HOOK_PIECES_COLLIDE TEST_HOOK_PREFIX "PIECES_COLLIDE"
/* Client, a file: each big file a push hashes appends "resumed N of M", the bytes not hashed and its size. */
#define HOOK_PIECES_STATS TEST_HOOK_PREFIX "PIECES_STATS"
/* Server, a flag: the first commit's claim given back fails as if the database's answer were lost. */
#define HOOK_UNCLAIM_LOST TEST_HOOK_PREFIX "UNCLAIM_LOST"

/*
 * The hook's number, min..max; dflt when unset, or when not a whole number
 * in range (then with a warning naming the hook, the value and the range,
 * in milliseconds or seconds when the name ends _MS or _SECONDS).
 */
long test_hook_long(const char *name, long min, long max, long dflt);
/* 1 when the hook is set at all (even empty), else 0. */
int test_hook_flag(const char *name);
/* The hook's value when set and not empty, else NULL. */
const char *test_hook_str(const char *name);
/* When the hook names a file: the line fmt makes appended to it (a warning when it cannot be). */
void test_hook_line(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
