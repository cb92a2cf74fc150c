/*
 * rsync.c: moving file contents. rsync runs as a child with an argv vector
 * and reaches the daemon behind the soc port by CONNECT where it can
 * (rsync_connect.c), else through its remote shell `soc tunnel`, which
 * carries rsync's daemon protocol (DESIGN.md section 6). The URL and token
 * reach either through the environment, never argv, so `ps` shows no token.
 * The file list goes to rsync's stdin, NUL-separated, relative to the
 * module root (soc::pull/ with Data/a, never soc::pull/Data/ with a).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "soc.h"
#include "run.h"
#include "sync.h"

#define RSYNC_PROG "rsync"
#define RSYNC_ERR_SCAN (64 * 1024)	/* of rsync's stderr, searched for the tunnel's line */
#define TUNNEL_LINE "soc tunnel: "	/* how each line `soc tunnel` says begins (soc.c names it so) */
#define PULL_LIST_MAX 1000	/* paths a pull always names one by one; more may fetch the whole head */
/*
 * Without --trust-sender, a longer path is fetched by an rsync of its
 * own. rsync 3.5.0, pulling --files-from a daemon, refuses its own
 * sender's answer ("rejecting unrequested file-list name", exit 4) for a
 * list of two or more paths in a directory past about 2,400 bytes of
 * long components (2,040 bytes with 200 files was fine here, 2,400 with
 * 20 was not); one path alone passed at every length the path rules
 * allow. That is the check --trust-sender turns off (rsync_trusts_sender() above), so where
 * rsync knows the option every path goes in the one list.
 */
#define PULL_LIST_PATH_MAX 2048

/*
 * rsync's exit codes (rsync(1), EXIT VALUES), said for people. A daemon
 * receiving an upload keeps its write errors to its own log, so for a
 * failed write the person needs to hear which side to look at.
 */
static const char *rsync_reason(int code, int upload)
{
	switch (code) {
	case 11:
		return upload ? "a file could not be read here or stored on the server "
				"(is the server's disk full? its rsyncd.log says)"
			      : "a file could not be written here (is the disk full?)";
	case 1: return "rsync was given bad options";
	case 2: return "rsync versions do not speak the same protocol";
	case 3: return "rsync could not select the files";
	case 5: return "rsync could not start its protocol with the server";
	case 10: return "the connection to the server broke";
	case 12: return "the rsync data stream broke";
	case 20: return "rsync was interrupted";
	case 23: return "some files were not transferred";
	case 24: return "some files vanished while being sent";
	case 30: return "rsync timed out";
	case 35: return "rsync timed out connecting";
	case 127: return "rsync is not installed";
	}
	return code > 128 ? "rsync was killed by a signal" : "rsync failed";
}

/*
 * Splits a list into streams, each one rsync of its own, side by side.
 * One rsync moves one file at a time, and its list costs it more than
 * the files: an upload's sender reads --files-from a byte a read(2), each
 * after a poll(2) (190,000 of each for 10,000 paths), and a download's
 * receiver checked each name it was sent against every path it asked
 * for (--trust-sender turns that off now, see rsync_trusts_sender()).
 * Two rsyncs with half the list each bring a large push to the speed of
 * `rsync -a` of the tree, and cut a large pull to a third (bench/README).
 * Each stream is a run
 * of the list cut where the directory changes, so that two rsyncs seldom
 * make the same directory (one that does takes the other's; the
 * destination itself is there before either starts). On a terminal each
 * stream's progress adds to the one line of progress.c.
 */
#define RSYNC_STREAM_PATHS_MIN 1000	/* paths a stream has at least */
#define RSYNC_LINE_MAX 256		/* bytes of one progress line kept; rsync's are under 100 */
#define RSYNC_READ_MAX 4096		/* bytes of rsync's stdout read at a time */

struct stream {
	struct child c;
	struct buf list;	/* its paths, NUL-separated */
	size_t sent;		/* bytes of list written to its stdin */
	char line[RSYNC_LINE_MAX];	/* a progress line coming in */
	size_t llen;
	uint64_t bytes, files;	/* what its progress said last */
};

/* A path weighs one in the split: a stream's cost is its list's. */
static uint64_t one(size_t i, const void *arg)
{
	(void)i;
	(void)arg;
	return 1;
}

/*
 * How many streams, and where each begins: start[k] for k < the count,
 * start[count] = npaths. parts.c cuts the list (one a core, at most
 * PARTS_MAX); each cut then moves on to where the directory changes.
 */
static size_t plan_streams(char *const *paths, size_t npaths, size_t start[PARTS_MAX + 1])
{
	struct part_range r[PARTS_MAX];
	size_t want = parts_plan(npaths, one, NULL, RSYNC_STREAM_PATHS_MIN, r), n = 0;

	start[n++] = 0;
	for (size_t k = 1; k < want; k++) {
		size_t at = r[k].lo;

		while (at < npaths && at > 0 && path_same_dir(paths[at - 1], paths[at]))
			at++;
		if (at > start[n - 1] && at < npaths)
			start[n++] = at;
	}
	start[n] = npaths;
	return n;
}

/*
 * One line of rsync's --info=progress2 (ended by \r or \n): the bytes of
 * the transfer done so far ("1,234,567") and, once a file is done,
 * "xfr#N". Each stream adds only what is new since its last line to the
 * one progress line of the push or pull; rsync's own line is never shown.
 */
static void progress_line(struct stream *s, struct progress *pg)
{
	uint64_t bytes = 0, files = s->files;
	const char *p = s->line, *x;
	int digits = 0;

	s->line[s->llen] = '\0';
	while (*p == ' ')
		p++;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++) {
		if (*p != ',') {
			bytes = bytes * 10 + (uint64_t)(*p - '0');
			digits = 1;
		}
	}
	if ((x = strstr(s->line, "xfr#")))
		files = strtoull(x + 4, NULL, 10);
	if (digits && bytes >= s->bytes && files >= s->files) {
		progress_add(pg, files - s->files, bytes - s->bytes);
		s->bytes = bytes;
		s->files = files;
	}
	s->llen = 0;
}

/* What rsync printed: whole lines to progress_line(); 0 at its end, -1 on an error. */
static int read_progress(struct stream *s, struct progress *pg)
{
	char b[RSYNC_READ_MAX];
	ssize_t r = read(s->c.out_fd, b, sizeof(b));

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	for (ssize_t i = 0; i < r; i++) {
		if (b[i] == '\r' || b[i] == '\n')
			progress_line(s, pg);
		else if (s->llen < sizeof(s->line) - 1)
			s->line[s->llen++] = b[i];
	}
	return r > 0;
}

/*
 * Writes each stream's list to its rsync's stdin, all at once (an rsync
 * waiting for its list while another's is written would start late),
 * closing each pipe when its list is done, so rsync sees the end of it;
 * with pg, reads each rsync's progress from its stdout until it ends.
 * 0, or -1 with errno when a write failed (an rsync that died first: its
 * exit code tells why).
 */
static int pump(struct stream *st, size_t n, struct progress *pg)
{
	struct pollfd pfd[2 * PARTS_MAX];
	int rc = 0, err = 0;

	for (size_t k = 0; k < n; k++)
		if (fcntl(st[k].c.in_fd, F_SETFL, O_NONBLOCK) < 0 ||
		    (st[k].c.out_fd >= 0 && fcntl(st[k].c.out_fd, F_SETFL, O_NONBLOCK) < 0))
			return -1;
	for (;;) {
		size_t open = 0;

		for (size_t k = 0; k < n; k++) {
			if (st[k].c.in_fd >= 0)
				pfd[open++] = (struct pollfd){ .fd = st[k].c.in_fd, .events = POLLOUT };
			if (st[k].c.out_fd >= 0)
				pfd[open++] = (struct pollfd){ .fd = st[k].c.out_fd, .events = POLLIN };
		}
		if (!open) {
			errno = err;
			return rc;
		}
		if (poll(pfd, open, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (size_t k = 0, j = 0; k < n; k++) {
			struct stream *s = &st[k];
			ssize_t w = 0;

			if (s->c.in_fd >= 0) {
				int broke;

				if (pfd[j++].revents && s->sent < s->list.len)
					w = write(s->c.in_fd, s->list.p + s->sent, s->list.len - s->sent);
				if (w > 0)
					s->sent += (size_t)w;
				broke = w < 0 && errno != EAGAIN && errno != EINTR;
				if (broke) {
					err = errno;
					rc = -1;
				}
				if (broke || s->sent >= s->list.len) {
					close(s->c.in_fd);
					s->c.in_fd = -1;
				}
			}
			if (s->c.out_fd >= 0 && pfd[j++].revents && read_progress(s, pg) <= 0) {
				close(s->c.out_fd);
				s->c.out_fd = -1;
			}
		}
	}
}

/*
 * rsync 3.2.5 and later, receiving --files-from a remote sender, check
 * each name the sender sends against every name on the list, pattern
 * after pattern, so the cost grows with the square of the list and
 * soon dwarfs the transfer (bench/README). --trust-sender turns it off.
 * The check (CVE-2022-29154) keeps a sender from naming files the list
 * did not: those would land inside the destination, here .soc/incoming/
 * (a name climbing out of it was refused before the check and still
 * is). A pull can do without it, as rsync itself does when it fetches a
 * whole tree and as soc's first pull of a whole head always has: the
 * pull takes from incoming/ only the paths of the rows it chose, each
 * checked by sha256, and clears the rest. Older rsyncs have neither the
 * check nor the option, so rsync is asked once.
 */
int rsync_trusts_sender(void)
{
	static int known = -2;
	const char *argv[] = { RSYNC_PROG, "--trust-sender", "--version", NULL };
	struct child c = { .argv = argv, .null_out = 1, .null_err = 1 };

	if (known == -2)
		known = child_start(&c) ? -1 : child_finish(&c) == 0;
	return known;
}

/*
 * rsync's stderr, the tunnel's with it, after the rsyncs ended. When one
 * failed and a tunnel said why (it could not reach the server, or the
 * server, or a proxy in its place, answered the upgrade with no 101),
 * that one line is said in our name and rsync's own words on the broken
 * stream are left out: they would bury the cause. Else all of it, as
 * rsync wrote it. 1 when the tunnel's line was said.
 */
static int replay_stderr(int fd, int failed)
{
	char buf[RSYNC_ERR_SCAN + 1];
	size_t len = 0;
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return 0;
	while (len < RSYNC_ERR_SCAN && (n = read(fd, buf + len, RSYNC_ERR_SCAN - len))) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	for (const char *line = buf; failed && line < buf + len;) {
		const char *nl = memchr(line, '\n', (size_t)(buf + len - line));
		size_t llen = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);

		if (llen > strlen(TUNNEL_LINE) && !strncmp(line, TUNNEL_LINE, strlen(TUNNEL_LINE))) {
			error("%.*s", (int)(llen - strlen(TUNNEL_LINE)), line + strlen(TUNNEL_LINE));
			return 1;
		}
		line += llen + 1;
	}
	fflush(stderr);
	do {
		if (write_full(STDERR_FILENO, buf, len))
			break;
		while ((n = read(fd, buf, RSYNC_ERR_SCAN)) < 0 && errno == EINTR)
			;
		len = n > 0 ? (size_t)n : 0;
	} while (len);
	return 0;
}

/*
 * SIGKILL, not SIGTERM: rsync spent 0.4 s in its cleanup before it ended
 * its tunnel. Only a push's sender is stopped, which writes nothing here;
 * its tunnel then sees the end of its input, and the server's rsync
 * removes its temporary.
 */
void rsync_stop(struct rsync_stop *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopped = 1;
	for (size_t k = 0; k < s->n; k++)
		kill(s->pid[k], SIGKILL);
	pthread_mutex_unlock(&s->lock);
}

/*
 * A child started (pid > 0: killed at once if s is already stopped), or,
 * with pid 0, no child of this run to kill any more. 1 when s is stopped.
 */
static int stop_note(struct rsync_stop *s, pid_t pid)
{
	int stopped;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	stopped = s->stopped;
	if (pid > 0 && stopped)
		kill(pid, SIGKILL);
	else if (pid > 0 && s->n < PARTS_MAX)
		s->pid[s->n++] = pid;
	else if (pid <= 0)
		s->n = 0;	/* before the children are waited for, so a pid killed is never another's */
	pthread_mutex_unlock(&s->lock);
	return stopped;
}

/* Whether the rsyncs' stderr says no daemon answered their CONNECT (rsync_connect.c). */
static int connect_refused(int fd)
{
	char buf[RSYNC_ERR_SCAN];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	return n > 0 && rsync_connect_refused(buf, (size_t)n);
}

#define RSYNC_NO_CONNECT (-5)	/* run_once: CONNECT was not answered; the tunnel may be tried */

/* rsync_run's rsyncs, through `soc tunnel`, or with proxy set straight by CONNECT. */
static int run_once(const struct remote *r, const char *src, const char *dst,
		    const char *basis_dir, char *const *paths, size_t npaths, struct progress *pg,
		    struct rsync_stop *stop, const char *proxy)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *argv[16];
	char *shell = NULL, *env_url, *env_token, *env_ca[3], *copy_dest = NULL;
	struct stream st[PARTS_MAX];
	size_t start[PARTS_MAX + 1], nst, started = 0;
	void (*old_pipe)(int);
	int code = 0, wrote = 0, i = 0, trust = 0, upload = !strncmp(dst, "soc::", 5), err_fd, said, stopped;
	int progress = pg && pg->on, refused;

	if (stop_note(stop, 0))
		return RSYNC_STOPPED;
	if (n < 0 || (size_t)n >= sizeof(exe) - 1)
		return error_errno("cannot find the soc binary for the rsync tunnel");
	if (paths && !upload && (trust = rsync_trusts_sender()) < 0)
		return -1;
	exe[n] = '\0';
	/* rsync splits -e on spaces and honours single quotes, not backslashes. */
	if (!proxy && strchr(exe, '\''))
		return error("cannot use '%s' as the rsync tunnel: it contains a quote", exe);
	if (proxy) {
		/* The token is in the environment, never argv, as the tunnel's is. */
		env_url = xasprintf("RSYNC_PROXY=%s", proxy);
		env_token = env_ca[0] = env_ca[1] = env_ca[2] = NULL;
	} else {
		shell = xasprintf("'%s' tunnel", exe);
		env_url = xasprintf("SOC_TUNNEL_URL=%s", r->url);
		env_token = xasprintf("SOC_TUNNEL_TOKEN=%s", r->token ? r->token : "");
		/* Set even when empty: a variable of ours left in the environment must not choose the CA. */
		env_ca[0] = xasprintf("SOC_TUNNEL_CAINFO=%s", r->ca_file ? r->ca_file : "");
		env_ca[1] = xasprintf("SOC_TUNNEL_CAPATH=%s", r->ca_dir ? r->ca_dir : "");
		env_ca[2] = xasprintf("SOC_TUNNEL_CAFROM=%s", r->ca_from ? r->ca_from : "");
	}
	/* Every rsync's stderr, in memory until they end: see replay_stderr(). */
	err_fd = memfd_create("soc-rsync-stderr", MFD_CLOEXEC);

	argv[i++] = RSYNC_PROG;
	argv[i++] = "-rt";
	/* An upload's modes are the commit's to set; the push module refuses this (store.c). */
	if (!upload)
		argv[i++] = "--executability";
	argv[i++] = "-I";
	if (paths) {
		argv[i++] = "--from0";
		argv[i++] = "--files-from=-";
	}
	if (trust)
		argv[i++] = "--trust-sender";
	if (progress)
		argv[i++] = "--info=progress2";
	if (basis_dir) {
		copy_dest = xasprintf("--copy-dest=%s", basis_dir);
		argv[i++] = copy_dest;
	}
	if (!proxy) {
		argv[i++] = "-e";
		argv[i++] = shell;
	}
	argv[i++] = "--";
	argv[i++] = src;
	argv[i++] = dst;
	argv[i] = NULL;

	nst = paths ? plan_streams(paths, npaths, start) : 1;
	memset(st, 0, sizeof(st));
	for (size_t k = 0; k < nst; k++) {
		st[k].c.argv = argv;
		st[k].c.env[0] = env_url;
		st[k].c.env[1] = env_token;
		st[k].c.env[2] = env_ca[0];
		st[k].c.env[3] = env_ca[1];
		st[k].c.env[4] = env_ca[2];
		st[k].c.err_fd = err_fd;
		st[k].c.pipe_in = 1;
		st[k].c.pipe_out = progress;
		for (size_t j = paths ? start[k] : 0; paths && j < start[k + 1]; j++)
			buf_add(&st[k].list, paths[j], strlen(paths[j]) + 1);
		if (child_start(&st[k].c))
			break;
		stop_note(stop, st[k].c.pid);
		started++;
	}
	/* rsync may die before reading it all; that is its exit code's story. */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	if (started == nst)
		wrote = pump(st, nst, progress ? pg : NULL);
	signal(SIGPIPE, old_pipe);
	/* Ended but not reaped, so a stop meanwhile may still end them, and never kills another's pid. */
	for (size_t k = 0; stop && started == nst && k < nst; k++) {
		siginfo_t si;

		while (waitid(P_PID, (id_t)st[k].c.pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
			;
	}
	stopped = stop_note(stop, 0);
	for (size_t k = 0; k < nst; k++) {
		int c = -1;

		/* A stream that did not start reported so; the others are stopped with it. */
		if (started < nst && k < started)
			kill(st[k].c.pid, SIGTERM);
		if (k < started)
			c = child_finish(&st[k].c);
		if (!code && c)
			code = c;
		buf_free(&st[k].list);
	}
	/* A stopped rsync said nothing worth showing; nor one whose CONNECT the tunnel is to retry. */
	refused = proxy && code && !stopped && started == nst && err_fd >= 0 && connect_refused(err_fd);
	said = !stopped && !refused && err_fd >= 0 && replay_stderr(err_fd, code != 0);
	if (err_fd >= 0)
		close(err_fd);
	free(copy_dest);
	free(shell);
	free(env_url);
	free(env_token);
	for (size_t k = 0; k < sizeof(env_ca) / sizeof(*env_ca); k++)
		free(env_ca[k]);
	if (stopped)
		return RSYNC_STOPPED;
	if (refused)
		return RSYNC_NO_CONNECT;
	if (started < nst)
		return -1;
	if (said)
		return RSYNC_REMOTE;
	if (code != 0)
		return error("%s (rsync exit code %d)", rsync_reason(code, upload), code);
	if (wrote)
		return error_errno("cannot give rsync its file list");
	return 0;
}

int rsync_run(const struct remote *r, const char *src, const char *dst,
	      const char *basis_dir, char *const *paths, size_t npaths, struct progress *pg,
	      struct rsync_stop *stop)
{
	/* Once refused, not asked again: a pull runs several rsyncs, each would pay a failed start. */
	static int refused;
	char *proxy = refused ? NULL : rsync_connect_proxy(r);
	int rc = RSYNC_NO_CONNECT;

	if (proxy)
		rc = run_once(r, src, dst, basis_dir, paths, npaths, pg, stop, proxy);
	free(proxy);
	if (rc == RSYNC_NO_CONNECT) {
		refused = 1;
		rc = run_once(r, src, dst, basis_dir, paths, npaths, pg, stop, NULL);
	}
	return rc;
}

/*
 * rsync's --files-from cost its receiver time that grew faster than the
 * list, many times what the same files cost sent as one tree
 * (bench/README). --trust-sender now turns most of that off
 * where rsync has it (rsync_trusts_sender() above), and a tree still
 * needs no list at all. So a pull whose paths come from the whole head
 * and that wants at least half of its files takes the whole module;
 * files it did not ask for land in dst too, unused, and the caller
 * clears them, and checks each file it wants by sha256 as always. Local
 * files stay the delta basis, so a file here already costs little to
 * send again.
 */
int rsync_pull(const struct remote *r, const char *view, const char *dst, const char *basis_dir,
	       char *const *paths, size_t npaths, size_t head_files, struct progress *pg)
{
	char **want, **named = NULL, *whole_src = NULL;
	const char *src = "soc::pull/";
	size_t i, n = 0, listed, longest = 0;
	int rc = 0, whole, trust;

	/*
	 * A view's paths are listed from the module's root as ID/./PATH: rsync
	 * 3.5's daemon, asked for a list under a directory of a module
	 * (views/ID/), takes each file for vanished. The "./" keeps ID/ out of
	 * what the receiver writes.
	 */
	if (view) {
		named = xcalloc(npaths ? npaths : 1, sizeof(*named));
		for (i = 0; i < npaths; i++)
			named[i] = xasprintf("%s/./%s", view, paths[i]);
		paths = named;
		src = "soc::" VIEWS_MODULE "/";
		whole_src = xasprintf("soc::" VIEWS_MODULE "/%s/", view);
	}
	for (i = 0; i < npaths; i++)
		if (strlen(paths[i]) > longest)
			longest = strlen(paths[i]);
	trust = longest > PULL_LIST_PATH_MAX ? rsync_trusts_sender() : 1;
	if (trust < 0 || !npaths) {
		rc = trust < 0 ? -1 : 0;
		goto out;
	}
	/* The paths a list can carry first, then those that need an rsync each. */
	want = xcalloc(npaths, sizeof(*want));
	for (i = 0; i < npaths; i++)
		if (trust || strlen(paths[i]) <= PULL_LIST_PATH_MAX)
			want[n++] = paths[i];
	listed = n;
	for (i = 0; !trust && i < npaths; i++)
		if (strlen(paths[i]) > PULL_LIST_PATH_MAX)
			want[n++] = paths[i];
	whole = head_files && n * 2 >= head_files && n > PULL_LIST_MAX;
	if (mkdir(dst, 0700) && errno != EEXIST)
		rc = error_errno("cannot make '%s'", dst);
	else if (whole)
		rc = rsync_run(r, view ? whole_src : src, dst, basis_dir, NULL, n, pg, NULL);
	else if (listed)
		rc = rsync_run(r, src, dst, basis_dir, want, listed, pg, NULL);
	for (i = listed; !whole && !rc && i < n; i++)
		rc = rsync_run(r, src, dst, basis_dir, &want[i], 1, pg, NULL);
	free(want);
out:
	for (i = 0; named && i < npaths; i++)
		free(named[i]);
	free(named);
	free(whole_src);
	return rc;
}
