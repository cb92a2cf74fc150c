/* sync.h: what push, pull, log and status share to talk to the server: the libcurl client (net.c) and rsync (rsync.c). */
#ifndef SYNC_H
#define SYNC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "soc.h"

#define NET_CONNECT_TIMEOUT_MS 10000	/* a server that does not answer a connect */
#define NET_STALL_SECONDS 60		/* a transfer with no byte for this long fails */
#define NET_QUICK_MS 2000		/* the whole of a net_quick() request, connect included */
#define JSON_LINE_MAX (64 * 1024)	/* one NDJSON line, as the server limits it */

struct remote {
	const char *url;	/* http:// or https://, no trailing slash needed */
	const char *token;
	/*
	 * The CA an https server's certificate is checked against, on every
	 * connection (net.c's, upgrade.c's, the tunnel's): a file (CAINFO)
	 * and a directory (CAPATH); NULL: libcurl's default. ca_from says
	 * where the file came from, for messages.
	 */
	const char *ca_file, *ca_dir, *ca_from;
};

struct net;
struct workspace;
struct entry;
struct scan_item;

/*
 * The workspace's remote, token and CA; 0, or an exit code after one
 * message (no remote or an unreadable CA: 1, no token: 5). The CA file is
 * the first of SOC_CA_BUNDLE, 'cacert' in .soc/config, CURL_CA_BUNDLE and
 * SSL_CERT_FILE; the directory SSL_CERT_DIR.
 */
int remote_of(const struct workspace *ws, struct remote *r);
/*
 * r's CA alone, in the same order, with cacert (named by cacert_from in
 * messages) in the place of the config's: for soc clone, which has no
 * workspace yet. 0, or -1 after a message.
 */
int remote_ca(struct remote *r, const char *cacert, const char *cacert_from);

/* Sets r's CA on a libcurl handle (a CURL *): every https connection soc opens goes through this. */
void net_tls(void *curl, const struct remote *r);
/*
 * One line for a connection that failed before any answer (curl's code
 * and its error text): a certificate not trusted, TLS spoken to a port
 * that does not speak it, or no server there. The caller exits EXIT_REMOTE.
 */
void net_say_unreachable(const struct remote *r, int curl_code, const char *detail);

/* One reused libcurl handle (keep-alive). NULL after a message if curl cannot start. */
struct net *net_open(const struct remote *r);
void net_close(struct net *n);

/*
 * A NEED_REMOTE command's way to its server: the workspace's remote and
 * one connection to it. soc.c provides it empty and closes it after the
 * command; the command fills it with session_open() once it has refused
 * bad usage, so a usage error (exit 2) still comes before any about the
 * remote.
 */
struct session {
	struct remote remote;
	struct net *net;
};
/* Sets up ws's session on the first call and gives it in *s; 0, or remote_of's exit code or 1 after one message. */
int session_open(struct workspace *ws, struct session **s);
/* Closes what session_open set up, and leaves s empty. */
void session_close(struct session *s);

/*
 * The next requests on n each get NET_QUICK_MS in all, not the stall
 * timeout: for a question a local command can do without (status asking
 * for the head), where a server that does not answer must cost a warning,
 * not a minute.
 */
void net_quick(struct net *n);

/*
 * One request to url + path with an optional body; the response body in
 * *resp. Returns the HTTP status, or -1 after one message when the server
 * cannot be reached, refuses the token (401, 403) or fails (5xx): the
 * caller exits EXIT_REMOTE. Other statuses are the caller's to explain;
 * net_error_message() gives the server's words.
 */
long net_request(struct net *n, const char *method, const char *path,
		 const char *content_type, const void *body, size_t len, struct buf *resp);
/*
 * net_request for an answer the server may work on for minutes (a
 * commit): a server still working after HTTP_PATIENCE_MS keeps the
 * connection alive with empty lines, so the wait is not taken for a stall
 * (PROTOCOL.md section 5). The same status and body as net_request.
 */
long net_request_patient(struct net *n, const char *method, const char *path,
			 const char *content_type, const void *body, size_t len, struct buf *resp);

/*
 * A request body written as curl sends it: len bytes in all, by fill in
 * curl's read callback shape; rewind starts it over (0) when curl sends
 * it again on a new connection. A fill that cannot go on sets stopped
 * (after a message, if one is due) and returns CURL_READFUNC_ABORT.
 */
struct net_body {
	size_t len;
	size_t (*fill)(char *p, size_t size, size_t nmemb, void *arg);
	int (*rewind)(void *arg);
	void *arg;
	int stopped;
};

/*
 * A POST whose body fill writes, asking for an NDJSON answer: a 2xx one
 * goes to cb a line at a time (no newline; non-zero stops it, -2, cb
 * said why). Any other answer is kept whole in *whole (the caller frees
 * it): an error's, or an older server's one JSON document. It asks for
 * patience too (a push's begin can work for minutes): a server still
 * working after HTTP_PATIENCE_MS sends empty lines, passed over, then
 * the answer with its status in its first line, returned as if answered
 * so (PROTOCOL.md section 5). Otherwise as net_request.
 */
long net_post_lines(struct net *n, const char *path, const char *content_type, struct net_body *body,
		    int (*cb)(const char *line, size_t len, void *arg), void *arg, struct buf *whole);

/*
 * A GET whose NDJSON answer is handed to cb a line at a time (no newline);
 * cb returns non-zero to stop (-2). msg, when not NULL, gets the server's
 * words for an answer other than 2xx. Otherwise as net_request.
 */
long net_get_lines(struct net *n, const char *path,
		   int (*cb)(const char *line, size_t len, void *arg), void *arg,
		   char *msg, size_t msglen);
/* s escaped as a query value, libcurl's way; the caller frees it. */
char *net_escape(struct net *n, const char *s);
/* The server's URL, without a trailing '/', for messages. */
const char *net_base(const struct net *n);

/*
 * The server's change stream, GET /api/v1/changes?since=since (0: the
 * whole head), read here alone: every line is checked by change_parse(),
 * *head gets the {"head":H} line, row() each change; row() may take
 * c->path (leaving NULL there), the rest is freed after it returns, and
 * its non-zero stops the read (row() said why). 0, or an exit code after
 * one message: EXIT_REMOTE when the server cannot be reached, refuses
 * the token, fails or sends a line too long; EXIT_ERROR for a line
 * refused (naming its path), a row() that stopped, or an answer other
 * than 200 or without a head ("the server did not list its changes").
 */
int changes_get(struct net *n, long long since, long long *head,
		int (*row)(struct change_line *c, void *arg), void *arg);
/* A request in flight ends (a failure) within about a second of *flag becoming nonzero. */
void net_abort_on(struct net *n, const atomic_int *flag);
/* The same as a long poll: the server answers once its head passes since, or after wait seconds. */
int changes_wait(struct net *n, long long since, int wait, long long *head,
		 int (*row)(struct change_line *c, void *arg), void *arg);

/*
 * ---- net_versions.c: the server's versions (PROTOCOL.md section 3) ----
 * A line of GET /api/v1/history or /api/v1/tree: a change line checked by
 * change_parse() (c.rev: the revision that made this version), and what
 * only versions carry.
 */
struct version_line {
	struct change_line c;
	long long time;		/* history: when its revision was made; -1 in a tree */
	const char *token;	/* history: the name of the token that pushed it, or NULL */
	int kept;		/* the server still holds its content (false for a delete) */
};
/*
 * row() for each version of path (a file, or everything under a
 * directory; "" for all), newest first, at most limit. row()'s v lives
 * until it returns; its non-zero stops the read (row() said why). 0, or
 * an exit code after one message: EXIT_REMOTE as for changes_get(),
 * EXIT_ERROR for a line refused or a refusal (a bad path: the server's
 * words), or a server that keeps no versions.
 */
int history_get(struct net *n, const char *path, int limit,
		int (*row)(struct version_line *v, void *arg), void *arg);
/*
 * The files at or under path that the server held at revision rev (-1:
 * the head), or at the newest revision made before the time before (not
 * -1): *head and *at (the revision listed) from the first line, then
 * row() for each file. Returns as history_get().
 */
int tree_get(struct net *n, long long rev, long long before, const char *path,
	     long long *head, long long *at, int (*row)(struct version_line *v, void *arg), void *arg);
/*
 * GET /api/v1/blob/<hash> streamed into fd (never held whole), checked to
 * be size bytes with that sha256, hashed as it comes or, for a big one
 * when fd is O_RDWR, read back on another thread just behind the writes
 * (hash_follow.c); show names the file in messages. 0, or
 * an exit code after one message: EXIT_REMOTE as above, EXIT_ERROR for a
 * content not kept (404), other bytes, or a write that failed.
 */
int blob_get(struct net *n, const char *hash, uint64_t size, int fd, const char *show);
/*
 * A POST of body to path whose 2xx answer is handed to fn piece by piece
 * as it comes (fn returns non-zero to stop it). The status (msg gets the
 * server's words for one of 300 or more); -1 after a message when the
 * server could not be reached or the answer broke off, which a stop by
 * fn is not.
 */
long net_post_stream(struct net *n, const char *path, const void *body, size_t len,
		     int (*fn)(const char *p, size_t n, void *arg), void *arg, char *msg, size_t msglen);

/* The server's head revision from GET /api/v1/info, or -1 after a message. */
long long remote_head(struct net *n);
/*
 * The history id of the last head remote_head() or changes_get() read
 * ("" when that server sent none: an older soc).
 */
const char *net_history(const struct net *n);
/* 1 when the last info remote_head() read says the server takes a push's sha256 at its commit. */
int net_sha256_at_commit(const struct net *n);
/*
 * ---- history.c: is the server the history this workspace synced with? ----
 * Not when the id it gave (seen, "" if none) is not the one recorded with
 * the last pull, or its head is below that pull's revision: it was
 * restored from a backup or replaced, and "changes since" would skip or
 * mix revisions. Then one line (a warning when warn is set) and
 * EXIT_HISTORY; else 0. history_verify() asks the server (GET info)
 * first: 0, or an exit code after a message.
 */
int history_check(struct workspace *ws, const char *url, const char *seen, long long head, int warn);
int history_verify(struct workspace *ws, struct session *se);
/* After a sync with the server: its id recorded when none was (the first this workspace sees). */
int history_adopt(struct workspace *ws, const char *seen);

/* The "message" of a JSON error body, or the body itself; never NULL. */
const char *net_error_message(const struct buf *resp, char *tmp, size_t tmplen);

/* ---- progress.c: one progress line a transfer, on a terminal ---- */

struct progress {
	pthread_mutex_t lock;
	int on;			/* stderr is a terminal and not -q */
	const char *what;	/* "sending", "receiving" */
	uint64_t files, nfiles, bytes, total;
	uint64_t t0, shown;	/* ms: the start, the last redraw */
	size_t width;		/* the last line's length */
};

/* A transfer of nfiles files, total bytes, begins. */
void progress_start(struct progress *p, const char *what, uint64_t nfiles, uint64_t total);
/* files more done, bytes more sent or received; any thread; p may be NULL. */
void progress_add(struct progress *p, uint64_t files, uint64_t bytes);
/* The last line, "done", when any was drawn and done; else the line is only ended. */
void progress_end(struct progress *p, int done);

/*
 * Runs rsync from src to dst (one of them "soc::push/<txn>/" or
 * "soc::pull/") straight to the soc port (rsync_connect_proxy) or else
 * through `soc tunnel`, with the NUL-separated list of paths
 * on its stdin (a long list: several rsyncs side by side, each with a
 * run of it); paths NULL: the whole of src. basis_dir, when not NULL, is a local tree whose files at
 * the same paths rsync uses as delta basis (--copy-dest): pull's local
 * files, read but never written. 0, or -1 after a message a person
 * understands, RSYNC_REMOTE when that message is the tunnel's (the
 * server cannot be reached, or answered the upgrade with no 101): the
 * caller exits EXIT_REMOTE.
 */
#define RSYNC_REMOTE (-2)	/* rsync_run: the tunnel could not reach the server (said once) */
#define RSYNC_STOPPED (-4)	/* rsync_run: rsync_stop() ended it (nothing said) */
/*
 * Another thread's way to end an rsync_run early (a push whose big files
 * all turn out unchanged, push_later.c): rsync_stop() ends the rsyncs it
 * runs, or keeps any from starting, and rsync_run returns RSYNC_STOPPED.
 */
struct rsync_stop {
	pthread_mutex_t lock;
	int stopped;
	size_t n;
	pid_t pid[PARTS_MAX];	/* started and not yet waited for: never a reused pid */
};
#define RSYNC_STOP_INIT { PTHREAD_MUTEX_INITIALIZER, 0, 0, { 0 } }
void rsync_stop(struct rsync_stop *s);
/*
 * rsync_connect.c: rsync straight to the soc port by CONNECT. The
 * RSYNC_PROXY value for r ("soc:TOKEN@host:port", malloc'd), or NULL where
 * the tunnel must carry rsync; and whether rsync's stderr err[0..len) says
 * no daemon answered that way, so the tunnel may try.
 */
char *rsync_connect_proxy(const struct remote *r);
int rsync_connect_refused(const char *err, size_t len);
/* stop: NULL, or how another thread may end it. */
int rsync_run(const struct remote *r, const char *src, const char *dst,
	      const char *basis_dir, char *const *paths, size_t npaths, struct progress *pg,
	      struct rsync_stop *stop);
/*
 * Whether the rsync here knows --trust-sender (3.2.5 and later), which a
 * pull naming its files passes (rsync.c says why): 1 or 0, asked once a
 * process; -1 when rsync cannot run (said).
 */
int rsync_trusts_sender(void);
/*
 * Fetches paths[0..npaths) of soc::pull/, or of the view a cluster node
 * made (view, its id; NULL: none, view_serve.c) into dst (made when
 * missing, 0700), basis_dir as for rsync_run(). The policy is rsync's: one list,
 * split among parallel rsyncs; a path too long for an old rsync's list
 * in an rsync of its own; and, when head_files is not 0 (the paths come
 * from the server's whole head, which holds that many files) and they
 * are many and at least half of it, the whole module, so dst may get
 * files no path named. Returns as rsync_run().
 */
#define VIEWS_MODULE "views"	/* a cluster node's rsync module of views (view_serve.c) */
int rsync_pull(const struct remote *r, const char *view, const char *dst, const char *basis_dir,
	       char *const *paths, size_t npaths, size_t head_files, struct progress *pg);

/*
 * ---- upgrade.c: one HTTP request turned into a raw connection ----
 * upgrade_open() POSTs path with the token and "Upgrade: proto", over
 * HTTP/1.1 whatever TLS could negotiate, and waits for 101 Switching
 * Protocols. The connection, or NULL: *status is then soc's own refusal
 * (a JSON error body) with its message in msg, or 0 after one line
 * (unreachable, or an answer that is not soc's: upgrade_say_refusal()).
 */
struct upgraded;
struct upgraded *upgrade_open(const struct remote *r, const char *path, const char *proto,
			      int *status, char *msg, size_t msglen);
/*
 * One line for soc's refusal of an upgrade (status, message): the token
 * refused, or, for a 400, the likely proxy in front that dropped
 * 'Upgrade'; what names the transfer ("the transfer", "the upload").
 * The caller exits EXIT_REMOTE, or EXIT_ERROR for refusals
 * upgrade_refusal_is_remote() says are soc's verdict on the request.
 */
void upgrade_say_refusal(const struct remote *r, const char *what, int status, const char *msg);
int upgrade_refusal_is_remote(int status);
/* All of buf: 0; UPGRADE_TIMEOUT when stall_ms (-1: never) passed with no progress; -1 when the connection broke. */
int upgrade_send(struct upgraded *u, const void *buf, size_t len, int stall_ms);
#define UPGRADE_AGAIN (-2)	/* upgrade_recv: nothing there (wait_ms 0) */
#define UPGRADE_TIMEOUT (-3)	/* upgrade_recv: nothing came in wait_ms */
/* Up to len bytes, waiting up to wait_ms (-1: forever); 0 when the server closed, -1 when the connection broke. */
long upgrade_recv(struct upgraded *u, void *buf, size_t len, int wait_ms);
/* 1 while bytes that came with the 101 wait for upgrade_recv (poll would not say). */
int upgrade_pending(const struct upgraded *u);
int upgrade_fd(const struct upgraded *u);
void upgrade_shutdown_write(struct upgraded *u);
/* Closes; with the test hook SOC_TEST_TUNNEL_STATS=FILE set, appends the bytes it carried to FILE (bench/sync.sh). */
void upgrade_close(struct upgraded *u);

/*
 * ---- upload.c: new files in soc's own stream ----
 * Sends files (each its scanned size) into the staging area of push txn,
 * a long list as several streams side by side.
 * UPLOAD_CHANGED names in *changed a file that shrank while it was read;
 * UPLOAD_UNKNOWN: the server does not take the stream (an older soc, or
 * too many uploads at once), rsync must carry the files; UPLOAD_REMOTE:
 * the server cannot be reached or refuses the token (said).
 */
enum { UPLOAD_OK = 0, UPLOAD_CHANGED = 1, UPLOAD_UNKNOWN = 2, UPLOAD_FAILED = -1, UPLOAD_REMOTE = -2 };
int upload_run(const struct remote *r, const struct workspace *ws, const char *txn,
	       const struct entry *const *files, size_t n, struct progress *pg, const char **changed);

/*
 * ---- pending.c: a push whose commit answer was not heard ----
 * pending_write() records the push txn and its changes before the commit
 * is sent (each item's sha256, or a delete); pending_clear() once the
 * index holds them;
 * pending_settle(), at the start of a push or pull, records the bases of
 * those the server has landed. 0, or -1 after a message (pending_settle:
 * an exit code, EXIT_REMOTE when the server cannot be asked).
 */
int pending_write(struct workspace *ws, const char *txn, struct scan_item *const *items, size_t n);
void pending_clear(struct workspace *ws);
int pending_settle(struct workspace *ws, struct net *net);
/*
 * After an upgrade from index version 1, once, at the start of a push or
 * pull: the server's mode of every file it holds at our base becomes its
 * synced mode (db.c says why). 0, or an exit code after a message.
 */
int modes_settle(struct workspace *ws, struct net *net);

/* The entries of soc pull, push and sync, which soc clone, sync and watch run. */
int cmd_pull(int argc, char **argv, struct workspace *ws);
int cmd_push(int argc, char **argv, struct workspace *ws);
int cmd_sync(int argc, char **argv, struct workspace *ws);

#endif
