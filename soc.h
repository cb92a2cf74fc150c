/*
 * soc.h: what the source files share, and nothing else.
 *
 * Every limit is a named constant here or in the header of the one file
 * that enforces it. Messages follow git's usage.c: lowercase, no full stop,
 * the subject in quotes, strerror appended where errno matters.
 */
#ifndef SOC_H
#define SOC_H

#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>
#include <time.h>

#define SOC_VERSION "0.1.0"

/* Exit codes, documented in README. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_REJECTED = 3,	/* push refused: the server has changes to pull */
	EXIT_CONFLICT = 4,	/* unresolved conflicts */
	EXIT_REMOTE = 5,	/* cannot reach or authenticate to the server */
	EXIT_HISTORY = 6,	/* the server is not the history last synced with: pull --resync */
};

/* Milliseconds on the monotonic clock: deadlines, rates, durations. */
static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- usage.c: messages and allocation ---- */

/* "soc push" or "soc_push": the prefix of every message, set once. */
extern const char *soc_prog;
extern const char *soc_cmd_usage;	/* the running command's usage, for usage_error() */
extern int soc_quiet;
extern atomic_int soc_stderr_midline;	/* a progress line waits for its end: a message starts a new one */
/* Set in a thread whose failures its caller reports its own way: its error() and warning() say nothing. */
extern _Thread_local int soc_thread_silent;

int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress and chatter for people: silent under -q. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* say() for "nothing to do" lines, which soc watch silences (soc_quiet_nothing_done) on every idle sync. */
void say_nothing_done(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int soc_quiet_nothing_done;
/* The server's: from now on every line on stderr starts with an RFC 3339 UTC time and a space. 0 or -1. */
int log_stamp_start(void);

/* A constant's digits in a string literal: "at most " STR(LIMIT). */
#define STRINGIFY(x) #x
#define STR(x) STRINGIFY(x)

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* ---- buf.c: a growable byte buffer, always NUL-terminated ---- */

struct buf {
	char *p;
	size_t len, cap;
};
#define BUF_INIT { NULL, 0, 0 }
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the string to the caller; the buffer is empty afterwards. */
char *buf_detach(struct buf *b);
/* A new string printed from fmt, built in a buf; never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes all of b to fd, through EINTR and short writes; 0, or -1 and errno. */
int buf_write(int fd, const struct buf *b);
/* The same for n bytes at p. */
int write_full(int fd, const void *p, size_t n);
/* b becomes exactly the n bytes of fd from its start (pread); 0, or -1 when fd holds fewer or a read fails. */
int buf_read_fd(struct buf *b, int fd, size_t n);

/* n bytes big-endian at p, as the upload and fetch streams carry numbers. */
static inline void put_be(unsigned char *p, uint64_t v, int n)
{
	while (n--) {
		p[n] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static inline uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- path.c: the path rules of DESIGN.md section 10 ---- */

#define PATH_BYTES_MAX 4096
#define PATH_COMPONENT_MAX 255

/* NULL when p[0..len) is a valid soc path, else why not (a constant string). */
const char *path_check(const char *p, size_t len);
/* 1 when p[0..len) is UTF-8 (JSON carries nothing else: a link's target must be). */
int utf8_valid(const char *p, size_t len);
/* Whether two paths name files of one directory ("a/x" and "a/y"; "x" and "y"). */
int path_same_dir(const char *a, const char *b);

/* ---- parts.c: work over a list in runs of about equal bytes, one thread a core ---- */

#define PARTS_MAX 4		/* threads one such job runs */

struct part_range {
	size_t lo, hi;		/* the items lo..hi-1 */
};

/*
 * Cuts items 0..n-1, item i weighing size(i, arg) bytes, into runs in
 * order: one a core, at most PARTS_MAX, each of min_bytes or more (at
 * least one run). How many, in r.
 */
size_t parts_plan(size_t n, uint64_t (*size)(size_t i, const void *arg), const void *arg,
		  uint64_t min_bytes, struct part_range r[PARTS_MAX]);
/*
 * Runs fn on each of n (at most PARTS_MAX) argument blocks, arg + k *
 * stride: the first on this thread, the others on threads of their own
 * (here, one after the other, when a thread cannot start). Returns when
 * all are done.
 */
void parts_run(size_t n, void *(*fn)(void *), void *arg, size_t stride);

/*
 * A hash taken beside a transfer (push_later.c, stage_follow.c) yields
 * the cores to it: it has the transfer's length to finish in, and on a
 * machine short of cores it slowed rsync more than it gained.
 */
#define HASH_BESIDE_NICE 10
/* This thread alone gets niceness n; a failure leaves it as it was. */
void thread_nice(int n);

/* ---- hash.c: sha256 (the content identity) through libcrypto; md5 for older records ---- */

#define HASH_HEX_LEN 64		/* sha256 as lowercase hex */
#define HASH_RAW_LEN 32		/* and as bytes */
#define MD5_HEX_LEN 32
#define HASH_CHUNK (64 * 1024)	/* on the stack of whichever thread hashes */

/* A sha256 fed piece by piece: init (0, or -1 out of memory), update, final (frees it), or free. */
struct hasher {
	struct evp_md_ctx_st *ctx;
};
int hasher_init(struct hasher *h);
int hasher_update(struct hasher *h, const void *p, size_t n);
/* to (zeroed, or a hasher) takes from's state: what from has hashed so far. 0, or -1 and errno. */
int hasher_copy(struct hasher *to, const struct hasher *from);
int hasher_final(struct hasher *h, char hex[HASH_HEX_LEN + 1]);
void hasher_free(struct hasher *h);
/*
 * hash_follow.c: the sha256 of what a writer puts in fd (opened O_RDWR,
 * from its start), read back on a thread of its own a piece behind it.
 * start: NULL when fd is not readable or no thread can be had (hash the
 * bytes as they go, then); wrote: n more bytes are in the file; end:
 * after the last write, waits for the hash (0, or -1 and errno) and
 * frees it.
 */
#define HASH_FOLLOW_MIN (8 << 20)	/* a file this big is hashed on a thread beside its writes */
struct hash_follow;
struct hash_follow *hash_follow_start(int fd);
void hash_follow_wrote(struct hash_follow *f, uint64_t n);
int hash_follow_end(struct hash_follow *f, char hex[HASH_HEX_LEN + 1]);
/* sha256 of everything readable from fd, as lowercase hex; the size read in *size. */
int hash_fd(int fd, char hex[HASH_HEX_LEN + 1], uint64_t *size);
/* 1 when dir/name, not followed, is a regular file with that sha256 (and size, when not -1). */
int hash_file_is(int dir, const char *name, const char *hex, int64_t size);
/* 1 when s is exactly HASH_HEX_LEN (or MD5_HEX_LEN) lowercase hex digits. */
int hash_hex_valid(const char *s);
/* 1 when the n bytes at s are lowercase hex digits; it stops at the first that is not, a NUL too. */
int hex_span(const char *s, size_t n);
/* hex to its bytes (-1 when not HASH_HEX_LEN lowercase hex digits), and back. */
int hash_to_raw(const char *hex, uint8_t raw[HASH_RAW_LEN]);
void hash_from_raw(const uint8_t raw[HASH_RAW_LEN], char hex[HASH_HEX_LEN + 1]);
int md5_hex_valid(const char *s);
void sha256_hex(const void *p, size_t n, char hex[HASH_HEX_LEN + 1]);
/* md5, as an older soc recorded content, and in the same read its sha256 when sha is not NULL. */
int md5_fd(int fd, char hex[MD5_HEX_LEN + 1], char sha[HASH_HEX_LEN + 1]);

/* ---- hash_pieces.c: a big file's sha256 taken again from its first changed piece ---- */

#define PIECE_MIN_SHIFT 20	/* a piece is 1 MiB, or more for a file of more than PIECES_MAX MiB */
#define PIECES_MAX 4096		/* pieces recorded of one file */
#define PIECE_REC 40		/* a piece's record: the sha256 state after it (32), its sum (8) */
struct pieces {
	unsigned shift;		/* a piece is 1 << shift bytes */
	size_t n;		/* whole pieces recorded, from the file's start */
	unsigned char *rec;	/* n records of PIECE_REC bytes */
};
/*
 * The sha256 of fd from its start (as hash_fd), its pieces recorded in
 * *now (pieces_free it). With was, the first pieces whose sums are was's
 * are not hashed: *resumed is then their bytes, and the digest only a
 * claim to check (hash_pieces.c). 0, or -1 and errno.
 */
int pieces_hash(int fd, const struct pieces *was, struct pieces *now, char hex[HASH_HEX_LEN + 1],
		uint64_t *size, uint64_t *resumed);
void pieces_free(struct pieces *p);

/* ---- the upload stream of new files: upload.c sends, upload_serve.c receives ---- */

#define UPLOAD_PROTO "soc-upload"	/* its Upgrade: name */
#define UPLOAD_HEAD_LEN 10		/* a record's head: path length (2 bytes), size (8), big-endian */

/* A request's "Prefer:" for a patient answer, empty lines while the server works (PROTOCOL.md section 5). */
#define PREFER_PATIENCE "soc-patience"

/* ---- options.c: one small parser for every command's flags ---- */

enum opt_type { OPT_BOOL, OPT_STRING, OPT_INT };
struct opt {
	char short_name;	/* 0 for none */
	const char *long_name;	/* NULL for none; "--name" */
	enum opt_type type;
	void *value;		/* int * for BOOL and INT, const char ** for STRING */
	int single_dash;	/* long name also accepted as "-name" (historic -id) */
};
#define OPT_END { 0, NULL, OPT_BOOL, NULL, 0 }

/*
 * Parses argv[1..argc): options are stored through opts; the other words
 * are moved to argv[0..n) and n returned. "--" ends the options. On a bad
 * option prints one line and returns -1 (the caller exits EXIT_USAGE).
 */
int opt_parse(int argc, char **argv, const struct opt *opts);

/* ---- wire.c: one NDJSON change line (a push body line, a changes?since= line) ---- */

#define CHANGE_LINE_MAX (64 * 1024)
/*
 * A server's history id: random, made with its database, never changed
 * after; a restored or replaced server has another (DESIGN.md, PROTOCOL.md).
 */
#define HISTORY_HEX_LEN 32
#define VIEW_ID_BYTES 16		/* a cluster node's view of a pull (view_serve.c), hex in its answer */
#define VIEW_ID_LEN (VIEW_ID_BYTES * 2)

/* 1 when s is a history id: exactly HISTORY_HEX_LEN lowercase hex digits. */
int history_id_valid(const char *s);

/*
 * A symlink's mode, as git writes it: on the wire and in both databases a
 * link is a file of this mode whose content is its target string, verbatim
 * (sha256 and size are the target's). Nothing of soc ever follows one.
 */
#define MODE_LINK 0120000
#define LINK_TARGET_MAX 4095	/* PATH_MAX less its NUL: the longest target readlink gives */

/* 1 for a mode soc syncs: 0644, 0755 or MODE_LINK. */
int mode_valid(long long mode);

struct change_line {
	char *path;			/* checked by path_check(); kept on a refusal, for the message */
	char hash[HASH_HEX_LEN + 1];	/* sha256 of the content; "" for a delete */
	char base[HASH_HEX_LEN + 1];	/* sha256 of what it replaces; "" when null or absent: a new file */
	long long size, mtime, rev;	/* -1 when absent (mtime: 0) */
	unsigned mode;			/* 0644, 0755 or MODE_LINK */
	unsigned base_mode;		/* the mode of the base, 0 when absent: not checked */
	int deleted;
	char history[HISTORY_HEX_LEN + 1];	/* a head line's history id; "" from an older server */
	char *target;			/* a link's target (mode MODE_LINK), else NULL; owned after a parse */
	int later;			/* a push line's "sha256":null: given at the commit (hash "") */
};

/*
 * Parses one line: 1 for a change in *c, 0 for a {"head":H,"history":ID}
 * line (*head and c->history set; an older server's has no history), -1
 * with *why a constant reason. Call change_free() after every
 * call, whatever it returned.
 */
int change_parse(const char *line, size_t len, struct change_line *c, long long *head, const char **why);
/*
 * The same, with CHANGE_LATER_OK for a push body: a changed file (with a
 * base, not a link) may name its sha256 null, to be given at the commit
 * (c->later, c->hash ""). Every other reader refuses it.
 */
#define CHANGE_LATER_OK 1
#define CHANGE_JANSSON 2	/* t/fuzz: read by jansson even a line wire_scan.c would read */
int change_parse_flags(const char *line, size_t len, struct change_line *c, long long *head, const char **why,
		       unsigned flags);
void change_free(struct change_line *c);
/*
 * Appends c as one line, newline included, that change_parse() reads
 * back. c->rev says which: -1, a push body line (base, null for a new
 * file; base_mode when there is a base and it is not 0); else a
 * changes?since= line (rev, no base). A link (MODE_LINK) carries its
 * target, which must then be set; c->later writes "sha256":null. The
 * bytes are the ones soc has always sent. 0, or -1 when jansson cannot encode it (out of memory, a
 * path that is not UTF-8).
 */
int change_format(const struct change_line *c, struct buf *out);
/*
 * Appends s as a JSON string, byte for byte what jansson's compact dump
 * writes (which the unit tests hold it to): UTF-8 as it is, the
 * two-character escapes, \u00XX for the other controls. -1 when s is not
 * UTF-8 (nothing appended).
 */
int json_str_add(struct buf *out, const char *s);
/* Appends the {"head":H,"history":ID} line that opens a changes?since= stream (no id: no history). */
void change_format_head(long long head, const char *history, struct buf *out);

/*
 * The mtimes soc keeps: what nanoseconds since 1970 in an int64 hold,
 * whole seconds from 1677-09-21 00:12:45 to 2262-04-11 23:47:15 UTC.
 * A local file's time outside is clamped to the nearer end (push says
 * so); a change line's outside is refused, on either side.
 */
#define MTIME_MIN (-9223372035LL)
#define MTIME_MAX 9223372035LL
#define MTIME_RANGE "1677-09-21..2262-04-11"
struct timespec;
/* A stat time in nanoseconds, clamped to MTIME_MIN..MTIME_MAX: never an overflow. */
int64_t mtime_ns(const struct timespec *t);
/* The whole second ns falls in (rounded down, before 1970 too). */
long long mtime_sec(int64_t ns);
/* Whether ns is an end of the range, where mtime_ns() clamps to. */
int mtime_clamped(int64_t ns);

/* ---- soc.c: dispatch ---- */

struct workspace;

enum {
	NEED_WORKSPACE = 1 << 0,	/* find .soc/, lock, open the index */
	NEED_REMOTE = 1 << 1,		/* with NEED_WORKSPACE: ws->session, closed after (sync.h) */
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct workspace *ws);
	unsigned flags;
	const char *usage;	/* the synopsis and options, as printed by --help */
};

/* Prints the usage of the running command to stderr and returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
