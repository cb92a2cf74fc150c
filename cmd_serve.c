/*
 * cmd_serve.c: `soc serve`, and the arguments of `soc serve token ...`
 * (token.c does the work). Every request is authenticated before it is
 * routed: nobody without a token learns even which paths exist.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "node.h"
#include "serve.h"
#include "testhook.h"
#include "versions.h"

const char serve_usage[] =
	"usage: soc serve [--root DIR] [--db CONNINFO [--blobs BLOBDIR]] [--listen HOST:PORT]\n"
	"                 [--max-body BYTES] [--keep-days N] [--keep-versions K]\n"
	"   or: soc serve token new NAME [--read-only] [--root DIR]\n"
	"   or: soc serve token list [--root DIR]\n"
	"   or: soc serve token revoke NAME [--root DIR]\n"
	"   or: soc serve check [--root DIR] [--keep-days N] [--keep-versions K]\n"
	"   or: soc serve gc [--root DIR] [--keep-days N] [--keep-versions K]\n"
	"   or: soc serve backup DEST [--root DIR]\n"
	"   or: soc serve export DEST [--rev R] [--root DIR]\n"
	"   or: soc serve migrate --db CONNINFO [--root DIR]\n"
	"\n"
	"Run the server that workspaces push to and pull from. The first start\n"
	"creates DIR and an admin token in DIR/admin.token; the token and check\n"
	"commands want a DIR made so. 'check' verifies that DIR/files holds exactly\n"
	"the head, every file's size and sha256, that DIR/versions holds every kept\n"
	"version as its name says, and that no symlink is anywhere under DIR; exit 1\n"
	"if not. 'gc' removes the versions no longer kept, and says how many.\n"
	"'backup' copies DIR, consistent, into DEST (new or empty) while the server\n"
	"runs; to restore, stop the server and serve DEST. 'export' writes the\n"
	"files of revision R (default: the head) from DIR/versions into DEST (new\n"
	"or empty), each checked against its sha256. 'migrate' moves the history\n"
	"of DIR/soc.db into an empty PostgreSQL database, the server stopped.\n"
	"\n"
	"    --root DIR          the server's data (default " SERVE_ROOT_SYSTEM " as root, else\n"
	"                        $XDG_DATA_HOME/" SERVE_ROOT_USER " or ~/.local/share/" SERVE_ROOT_USER ")\n"
	"    --db CONNINFO       keep the history in this PostgreSQL database (a libpq\n"
	"                        conninfo), not in DIR/soc.db: a new root, or one\n"
	"                        'migrate' moved; DIR remembers it\n"
	"    --blobs BLOBDIR     a cluster node: contents and pushes in flight in\n"
	"                        BLOBDIR, a directory every node of the database\n"
	"                        shares; no DIR/files; DIR remembers it\n"
	"    --listen HOST:PORT  where to listen (default " SERVE_LISTEN_DEFAULT "; port 0 picks one)\n"
	"    --max-body BYTES    largest request body accepted\n"
	"    --read-only         the new token can read and pull, not push\n"
	"    --keep-days N       keep a replaced or deleted version N days (default 30)\n"
	"    --keep-versions K   and the K newest versions of each path (default 0)\n"
	"    --rev R             the revision to export (r12 or 12)\n";

#define API "/api/v1/"
#define PROXY_AUTH_MAX 256	/* base64 of a CONNECT's user:token; soc's are 92 */

/* A test hook (HOOK_NO_UPLOAD, read at start): answer as a server older than the upload stream. */
static int no_upload;
/* And HOOK_NO_CONNECT: as one older than CONNECT, which refused HTTP/1.0 so. */
static int no_connect;

static void get_changes(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	(void)who;
	api_changes(s, ex);
}

static void get_log(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	(void)who;
	api_log(s, ex);
}

static void post_upload(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn)
{
	if (no_upload)
		return api_error(ex, 404, "not_found", "no such endpoint");
	upload_serve(s, ex, who, txn);
}

/*
 * The API, one row a path: the one method it serves, whether a read-only
 * token is refused it, and its handler. A txn row (txn_fn set) serves
 * push/<txn> followed by its path.
 */
static const struct route {
	const char *path;
	const char *method;
	int writes;
	void (*fn)(struct server *s, struct http_exchange *ex, const struct caller *who);
	void (*txn_fn)(struct server *s, struct http_exchange *ex, const struct caller *who, const char *txn);
} routes[] = {
	{ "info", "GET", 0, api_info, NULL },
	{ "changes", "GET", 0, get_changes, NULL },
	{ "log", "GET", 0, get_log, NULL },
	{ "history", "GET", 0, api_history, NULL },
	{ "tree", "GET", 0, api_tree, NULL },
	/* A path ending in '/' serves every path under it; the handler reads the rest. */
	{ "blob/", "GET", 0, api_blob, NULL },
	{ "fetch", "POST", 0, api_fetch, NULL },
	{ "view", "POST", 0, api_view, NULL },
	{ "push", "POST", 1, txn_begin, NULL },
	/* A read-only token tunnels too: its rsyncd config has no push module. */
	{ "rsync", "POST", 0, tunnel_serve, NULL },
	{ "", "DELETE", 1, NULL, txn_abort },
	{ "/commit", "POST", 1, NULL, txn_commit },
	{ "/upload", "POST", 1, NULL, post_upload },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether rest is push/<txn> and then tail; the id, lower-case hex, into txn. */
static int txn_path(struct http_slice rest, const char *tail, char txn[TXN_ID_LEN + 1])
{
	size_t i, pre = strlen("push/");

	if (rest.len != pre + TXN_ID_LEN + strlen(tail) || memcmp(rest.p, "push/", pre) ||
	    memcmp(rest.p + pre + TXN_ID_LEN, tail, strlen(tail)))
		return 0;
	for (i = 0; i < TXN_ID_LEN; i++) {
		char c = rest.p[pre + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		txn[i] = c;
	}
	txn[TXN_ID_LEN] = '\0';
	return 1;
}

/* The row for a request's path, whatever its method, or NULL; a txn row's id into txn. */
static const struct route *route_find(struct http_slice path, char txn[TXN_ID_LEN + 1])
{
	struct http_slice rest;
	size_t i;

	if (path.len < strlen(API) || memcmp(path.p, API, strlen(API)))
		return NULL;
	rest = (struct http_slice){ path.p + strlen(API), path.len - strlen(API) };
	for (i = 0; i < NROUTES; i++) {
		const struct route *r = &routes[i];

		size_t n = strlen(r->path);

		if (r->txn_fn ? txn_path(rest, r->path, txn)
			      : n && r->path[n - 1] == '/' ? rest.len > n && !memcmp(rest.p, r->path, n)
							   : http_slice_eq(rest, r->path))
			return r;
	}
	return NULL;
}

/*
 * Whether a read-only token is refused the request: its row says so; one
 * no row serves is a write unless it only reads (GET, HEAD), so a reader
 * learns nothing of the write paths from a 404 or 405.
 */
static int writes(const struct http_request *req)
{
	char txn[TXN_ID_LEN + 1];
	const struct route *r = route_find(req->path, txn);

	if (r && http_slice_eq(req->method, r->method))
		return r->writes;
	return !http_slice_eq(req->method, "GET") && !http_slice_eq(req->method, "HEAD");
}

/*
 * The password of "Basic base64(user:password)", rsync's Proxy-Authorization
 * of a CONNECT, decoded into out: its length, or -1. The user is not ours
 * to judge: a token names its owner.
 */
static long basic_password(const struct http_slice *h, char *out, size_t size)
{
	unsigned char dec[PROXY_AUTH_MAX / 4 * 3 + 1];
	const char *b64, *colon;
	size_t n, pad = 0;
	int len;

	if (h->len < 6 || strncasecmp(h->p, "Basic ", 6))
		return -1;
	b64 = h->p + 6;
	n = h->len - 6;
	if (!n || n % 4 || n > PROXY_AUTH_MAX)
		return -1;
	while (pad < 2 && b64[n - 1 - pad] == '=')
		pad++;
	len = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
	if (len < 0 || (size_t)len < pad)
		return -1;
	len -= (int)pad;
	colon = memchr(dec, ':', (size_t)len);
	if (!colon || (size_t)(len - (colon + 1 - (char *)dec)) >= size)
		return -1;
	len -= (int)(colon + 1 - (char *)dec);
	memcpy(out, colon + 1, (size_t)len);
	return len;
}

/* The token of Authorization: Bearer, or of a CONNECT's Proxy-Authorization: Basic. */
static int authenticate(struct server *s, const struct http_request *req, struct caller *who)
{
	int connect = http_slice_eq(req->method, "CONNECT");
	const struct http_slice *h = http_header(req, connect ? "proxy-authorization" : "authorization");
	char pass[PROXY_AUTH_MAX];
	long plen = -1;
	struct sql *db;

	if (!h)
		return -1;
	if (connect && (plen = basic_password(h, pass, sizeof(pass))) < 0)
		return -1;
	if (!connect && (h->len < 7 || strncasecmp(h->p, "Bearer ", 7)))
		return -1;
	db = store_db(s);
	if (!db)
		return -2;
	return connect ? token_auth(db, pass, (size_t)plen, who) : token_auth(db, h->p + 7, h->len - 7, who);
}

/* Runs on the loop before a body is read: a stranger never makes us buffer one. */
static int admit(const struct http_request *req, void *arg)
{
	struct caller who;
	int rc = authenticate(arg, req, &who);

	/* A database that cannot answer says nothing of the token. */
	if (rc)
		return rc == -2 ? 500 : 401;
	if (who.read_only && writes(req))
		return 403;
	return 0;
}

static void route(struct http_exchange *ex, void *arg)
{
	struct server *s = arg;
	const struct http_request *req = http_req(ex);
	const struct route *r;
	struct caller who;
	char txn[TXN_ID_LEN + 1];
	int rc = authenticate(s, req, &who), connect = http_slice_eq(req->method, "CONNECT");

	if (connect && no_connect)
		return api_error(ex, 505, "http_version", "only HTTP/1.1 is served");
	if (rc == -2)
		return api_error(ex, 500, "internal", "cannot read the database");
	if (rc && connect) {
		http_add_header(ex, "Proxy-Authenticate", "Basic realm=\"soc\"");
		return api_error(ex, 407, "unauthorized", "a valid token is needed (Proxy-Authorization: Basic)");
	}
	if (rc) {
		http_add_header(ex, "WWW-Authenticate", "Bearer");
		return api_error(ex, 401, "unauthorized", "a valid token is needed (Authorization: Bearer)");
	}
	http_set_log_user(ex, who.name);
	/* A read-only token tunnels too, as by the rsync row. */
	if (connect)
		return tunnel_connect(s, ex, &who);
	if (who.read_only && writes(req))
		return api_error(ex, 403, "read_only", "this token can read but not push");
	r = route_find(req->path, txn);
	if (!r)
		return api_error(ex, 404, "not_found", "no such endpoint");
	if (!http_slice_eq(req->method, r->method)) {
		http_add_header(ex, "Allow", r->method);
		return api_error(ex, 405, "method_not_allowed", "this method is not served here");
	}
	if (r->txn_fn)
		r->txn_fn(s, ex, &who, txn);
	else
		r->fn(s, ex, &who);
}

/* An absolute variable of the environment, else NULL: the XDG spec ignores a relative one. */
static const char *env_abs(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] == '/' ? v : NULL;
}

/*
 * Without --root, the server's state directory: an absolute path, so
 * where the server was started does not matter. Root's is the system's
 * (/var/lib/soc, a systemd StateDirectory); anyone else's is in their XDG
 * data directory. malloc'd, or NULL after a message.
 */
static char *root_default(void)
{
	const char *xdg = env_abs("XDG_DATA_HOME"), *home = env_abs("HOME");

	if (!geteuid())
		return xstrdup(SERVE_ROOT_SYSTEM);
	if (xdg)
		return xasprintf("%s/" SERVE_ROOT_USER, xdg);
	if (home)
		return xasprintf("%s/.local/share/" SERVE_ROOT_USER, home);
	error("no --root given, and neither XDG_DATA_HOME nor HOME is an absolute path");
	return NULL;
}

/* The default root's parents, made 0700 as the XDG spec asks (~/.local/share on a new account). */
static int make_parents(const char *path)
{
	char *p = xstrdup(path), *slash;

	for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			error_errno("cannot create '%s'", p);
			free(p);
			return -1;
		}
		*slash = '/';
	}
	free(p);
	return 0;
}

static struct keep_policy keep = { KEEP_DAYS_DEFAULT, 0 };
static long long last_gc;	/* when the housekeeping last ran gc (versions_now) */

static void tick(void *arg)
{
	long long now = versions_now();

	node_tick(arg, 0);
	txn_expire(arg);
	view_expire(arg);
	store_rotate_log(arg);
	/* Not while a commit links (it would wait for gc): the next tick tries again. */
	if (now - last_gc >= GC_EVERY_SECONDS && !versions_gc(arg, &keep, 1))
		last_gc = now;
}

static int serve(const char *root, int root_is_default, const char *listen, long long body_max)
{
	struct server s;
	struct httpd_config cfg = { 0 };
	int rc = EXIT_ERROR;

	/* Until httpd_run catches it (and logs it), a SIGHUP must not stop a start. */
	if (signal(SIGHUP, SIG_IGN) == SIG_ERR || log_stamp_start() || tunnel_init())
		return EXIT_ERROR;
	/* A bad --listen, or a port in use, changes nothing on disk. */
	if (httpd_listen(listen))
		return EXIT_ERROR;
	if (root_is_default && make_parents(root))
		return EXIT_ERROR;
	/* Data with no database, or a token file with none in it: nothing is made over them. */
	if (store_refuse_lost(root, 1))
		return EXIT_ERROR;
	/* The first start's admin token here, not in store_open: the store never calls up into token.c. */
	if (store_open(&s, root, 1) || token_make_admin(&s, store_db(&s)) || node_join(&s, store_db(&s)))
		goto out;
	/* From here the lease's thread runs, and holds &s: node_leave stops it. */
	if (txn_recover(&s) || versions_populate(&s))
		goto leave;
	last_gc = versions_now();
	no_upload = test_hook_flag(HOOK_NO_UPLOAD);
	no_connect = test_hook_flag(HOOK_NO_CONNECT);
	cfg.listen = listen;
	cfg.body_max = body_max;
	cfg.handler = route;
	cfg.arg = &s;
	cfg.tick = tick;
	cfg.admit = admit;
	if (!httpd_run(&cfg))
		rc = EXIT_OK;
	upload_stop();
	tunnel_stop();
	stage_follow_stop();
leave:
	node_leave(&s);
out:
	store_close(&s);
	return rc;
}

static int token_cmd(int argc, char **argv, const char *root, int read_only)
{
	struct server s;
	struct sql *db;
	char token[TOKEN_BYTES * 2 + 1];
	int rc = EXIT_ERROR;
	int is_new = argc >= 2 && !strcmp(argv[1], "new");

	if (argc < 2)
		return usage_error("'token' needs new, list or revoke");
	if (strcmp(argv[1], "new") && strcmp(argv[1], "list") && strcmp(argv[1], "revoke"))
		return usage_error("'token %s' is not a token command (new, list, revoke)", argv[1]);
	if (strcmp(argv[1], "list") ? argc != 3 : argc != 2)
		return usage_error("wrong number of arguments for 'token %s'", argv[1]);
	if (read_only && !is_new)
		return usage_error("--read-only goes with 'token new'");
	if (is_new && !token_name_valid(argv[2]))
		return error("'%s' is not a token name (1-%d of A-Z a-z 0-9 . _ -)", argv[2],
			     TOKEN_NAME_MAX), EXIT_ERROR;
	if (store_refuse_lost(root, 0) || store_enter(root))
		return EXIT_ERROR;
	/* Only soc serve itself creates a root or writes the configs a running server reads. */
	if (store_open(&s, root, 0))
		goto out;
	db = store_db(&s);
	if (!db)
		goto out;
	if (!strcmp(argv[1], "list")) {
		rc = token_list(db) ? EXIT_ERROR : EXIT_OK;
	} else if (!strcmp(argv[1], "revoke")) {
		if (!token_revoke(db, argv[2])) {
			say("revoked the token '%s'\n", argv[2]);
			rc = EXIT_OK;
		}
	} else if (!token_generate(token) && !token_add(db, argv[2], token, read_only)) {
		printf("%s\n", token);
		say("created the %stoken '%s'; it is shown only this once\n",
		    read_only ? "read-only " : "", argv[2]);
		rc = EXIT_OK;
	}
out:
	store_close(&s);
	return rc;
}

static int gc_cmd(const char *root)
{
	struct server s;
	int rc = EXIT_ERROR;

	if (store_enter(root))
		return EXIT_ERROR;
	if (!store_open(&s, root, 0) && !versions_gc(&s, &keep, 0))
		rc = EXIT_OK;
	store_close(&s);
	return rc;
}

/* A number of --name in min..max into *out; -1 after a usage message. */
static int number_opt(const char *name, const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!v)
		return 0;
	n = strtol(v, &end, 10);
	if (end == v || *end || n < min || n > max)
		return usage_error("--%s wants a number from %ld to %ld, not '%s'", name, min, max, v);
	*out = n;
	return 0;
}

int cmd_serve(int argc, char **argv, struct workspace *ws)
{
	const char *root = NULL, *listen = SERVE_LISTEN_DEFAULT, *max_body = NULL, *days = NULL, *versions = NULL,
		   *rev = NULL, *db = NULL, *blobs = NULL;
	char *root_dflt = NULL;
	int read_only = 0, n, rc;
	long long body_max = HTTP_BODY_MAX_DEFAULT;
	const struct opt opts[] = {
		{ 0, "root", OPT_STRING, &root, 0 },
		{ 0, "db", OPT_STRING, &db, 0 },
		{ 0, "blobs", OPT_STRING, &blobs, 0 },
		{ 0, "listen", OPT_STRING, &listen, 0 },
		{ 0, "max-body", OPT_STRING, &max_body, 0 },
		{ 0, "read-only", OPT_BOOL, &read_only, 0 },
		{ 0, "keep-days", OPT_STRING, &days, 0 },
		{ 0, "keep-versions", OPT_STRING, &versions, 0 },
		{ 0, "rev", OPT_STRING, &rev, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};

	(void)ws;
	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return EXIT_USAGE;
	if (max_body) {
		char *end;

		body_max = strtoll(max_body, &end, 10);
		if (end == max_body || *end || body_max < 1)
			return usage_error("--max-body wants a number of bytes, not '%s'", max_body);
	}
	if (number_opt("keep-days", days, 0, KEEP_DAYS_MAX, &keep.days) ||
	    number_opt("keep-versions", versions, 0, KEEP_VERSIONS_MAX, &keep.versions))
		return EXIT_USAGE;
	if (n && !strcmp(argv[0], "backup") && (n != 2 || read_only || days || versions))
		return usage_error("'backup' wants one DEST directory");
	if (n && !strcmp(argv[0], "export") && (n != 2 || read_only || days || versions))
		return usage_error("'export' wants one DEST directory");
	if (rev && (!n || strcmp(argv[0], "export")))
		return usage_error("--rev goes with 'export'");
	if (n && !strcmp(argv[0], "migrate") && (n != 1 || !db || read_only || days || versions))
		return usage_error("'migrate' wants --db CONNINFO and nothing else");
	if (n && strcmp(argv[0], "token") && strcmp(argv[0], "backup") && strcmp(argv[0], "export") &&
	    (n != 1 || (strcmp(argv[0], "check") && strcmp(argv[0], "gc") && strcmp(argv[0], "migrate")) ||
	     read_only))
		return usage_error("'%s' is not a serve command", argv[0]);
	if (n && !strcmp(argv[0], "token") && (days || versions))
		return usage_error("--keep-days and --keep-versions go with serve, gc and check");
	if (!n && read_only)
		return usage_error("--read-only goes with 'token new'");
	if (db && n && !strcmp(argv[0], "backup"))
		return usage_error("'backup' copies soc.db; back a PostgreSQL database up with pg_dump");
	if (db && !*db)
		return usage_error("--db wants a PostgreSQL conninfo, such as 'host=/run/postgresql dbname=soc'");
	if (blobs && (n || !*blobs))
		return usage_error(n ? "--blobs goes with serve itself; the other commands find the root's"
				   : "--blobs wants the directory the nodes share");
	store_want_db(db);
	store_want_blobs(blobs);
	if (!root) {
		root = root_dflt = root_default();
		if (!root)
			return EXIT_ERROR;
	}
	if (n && !strcmp(argv[0], "token"))
		rc = token_cmd(n, argv, root, read_only);
	else if (n && !strcmp(argv[0], "backup"))
		rc = serve_backup(root, argv[1]);
	else if (n && !strcmp(argv[0], "export"))
		rc = serve_export(root, rev, argv[1]);
	else if (n && !strcmp(argv[0], "migrate"))
		rc = serve_migrate(root, db);
	else if (n && !strcmp(argv[0], "gc"))
		rc = gc_cmd(root);
	else if (n)
		rc = serve_check(root, &keep);
	else
		rc = serve(root, root == root_dflt, listen, body_max);
	free(root_dflt);
	return rc;
}
