/*
 * cmd_watch.c: soc watch, a sync (pull, then push) whenever something
 * changes here or on the server, until stopped. Here: inotify on every
 * directory of the workspace, debounced, so an editor's burst of writes
 * is one push. There: a long poll of the server's changes (the server
 * parks it, PROTOCOL.md) in a thread of its own, which wakes the loop
 * when the head passes what was pulled. Idle, the loop blocks in poll(2)
 * and costs no CPU. Each sync takes the workspace's lock only while it
 * runs, so status and the rest work beside a watch.
 *
 * The server unreachable: the poll backs off (capped), says so once, and
 * says when it is back. inotify's limit reached: said once, and a sync
 * every WATCH_SCAN_MS instead. A conflict is a copy and a line, as in
 * pull, and watching goes on. SIGTERM or SIGINT ends it after the sync
 * in flight; a server that is not the history synced with (exit 6) ends
 * it too, since only a person can settle that.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "sync.h"
#include "testhook.h"

#define WATCH_SETTLE_MS 300		/* quiet after the last write before a sync */
#define WATCH_SETTLE_MAX_MS 2000	/* a sync at the latest this long after the first write */
#define WATCH_POLL_SECONDS 50		/* a long poll's wait: under NET_STALL_SECONDS */
#define WATCH_BACKOFF_MIN_MS 1000	/* the first retry after a failure, doubled up to: */
#define WATCH_BACKOFF_MAX_MS 30000
#define WATCH_SCAN_MS 10000		/* without inotify, a sync this often */
#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB | \
		      IN_DONT_FOLLOW | IN_ONLYDIR)
#define WATCH_EVENT_BUF 65536		/* inotify events read at a time */
#define WATCH_HOOK_MAX 1000000		/* HOOK_WATCHES_MAX at most */

const char watch_usage[] =
	"usage: soc watch [-q]\n"
	"\n"
	"Sync until stopped: push local changes a moment after the last write,\n"
	"pull the server's as soon as another machine pushes. Conflicts are kept\n"
	"as in pull and watching goes on. SIGTERM or Ctrl-C ends it after the sync\n"
	"in flight.\n"
	"\n"
	"  -q, --quiet       say nothing unless something fails\n";

static int stop_fds[2] = { -1, -1 };

/* The wait before the next try after a failure: doubled each time, capped. */
static long next_backoff(long backoff)
{
	backoff = backoff ? backoff * 2 : WATCH_BACKOFF_MIN_MS;
	return backoff > WATCH_BACKOFF_MAX_MS ? WATCH_BACKOFF_MAX_MS : backoff;
}

static void on_stop(int sig)
{
	int e = errno;
	char b = (char)sig;

	if (write(stop_fds[1], &b, 1) < 0) {
		/* full: a stop is pending already */
	}
	errno = e;
}

/* ---- the server's side: a thread of long polls ---- */

struct poller {
	struct remote r;
	atomic_llong since;	/* the revision pulled last: the loop sets it */
	atomic_int stop;
	int wake_fd;		/* a byte here: the head passed since */
	int stop_fd;		/* readable when the watch ends: a backoff's sleep ends early */
};

static int stop_reading(struct change_line *c, void *arg)
{
	(void)c;
	(void)arg;
	return 1;	/* one change is enough to know: the loop pulls them all */
}

static void *poll_server(void *arg)
{
	struct poller *p = arg;
	struct net *n = NULL;
	long backoff = 0;
	int down = 0;

	/* Its failures are said once here, not on every retry. */
	soc_thread_silent = 1;
	while (!atomic_load(&p->stop)) {
		long long since = atomic_load(&p->since), head = -1;

		if (!n && (n = net_open(&p->r)))
			net_abort_on(n, &p->stop);
		/* head stays -1 when the server was not reached or did not answer. */
		if (n)
			changes_wait(n, since, WATCH_POLL_SECONDS, &head, stop_reading, NULL);
		if (atomic_load(&p->stop))
			break;
		/* A row stops the read (EXIT_ERROR), the head line having come first. */
		if (head > since) {
			char b = 1;

			if (write(p->wake_fd, &b, 1) < 0 && errno != EAGAIN)
				break;
		}
		if (head >= 0) {
			if (down)
				fprintf(stderr, "%s: the server answers again\n", soc_prog);
			down = 0;
			backoff = 0;
			continue;
		}
		if (!down)
			fprintf(stderr, "%s: cannot reach the server at '%s'; trying again, less and less often\n",
				soc_prog, p->r.url);
		down = 1;
		backoff = next_backoff(backoff);
		net_close(n);
		n = NULL;
		poll(&(struct pollfd){ .fd = p->stop_fd, .events = POLLIN }, 1, (int)backoff);
	}
	net_close(n);
	return NULL;
}

/* ---- this side: inotify on every directory ---- */

struct watches {
	int fd;
	char **path;		/* by watch descriptor: its directory, "" for the root */
	size_t cap;
	int soc_wd;		/* .soc/ itself: what other soc commands change (an add that resolves a conflict) */
	int full;		/* the kernel's limit was reached: scanning instead */
	long added, max;	/* watches made; a test hook's limit, or 0 */
};

static void watch_dir(struct watches *w, const char *root, const char *rel);

/* Every directory below dir (rel, under root), watched; .soc/ and symlinks never. */
static void watch_below(struct watches *w, const char *root, const char *rel, int dirfd)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d)) && !w->full) {
		struct stat st;
		char *sub;

		/* Some filesystems leave the type to a stat: never through a symlink. */
		if (e->d_type == DT_UNKNOWN && !fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISDIR(st.st_mode))
			e->d_type = DT_DIR;
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (!*rel && !strcmp(e->d_name, WORKSPACE_DIR)))
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		watch_dir(w, root, sub);
		free(sub);
	}
	closedir(d);
}

static void watch_dir(struct watches *w, const char *root, const char *rel)
{
	char *abs = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	int wd, fd;

	if (w->max && w->added >= w->max) {
		wd = -1;
		errno = ENOSPC;
	} else {
		wd = inotify_add_watch(w->fd, abs, WATCH_EVENTS);
		w->added += wd >= 0;
	}

	if (wd < 0) {
		if (errno == ENOSPC && !w->full) {
			w->full = 1;
			warning("the system's inotify limit (fs.inotify.max_user_watches) is reached; "
				"syncing every %d seconds instead", WATCH_SCAN_MS / 1000);
		}
		free(abs);
		return;
	}
	if ((size_t)wd >= w->cap) {
		size_t cap = w->cap ? w->cap : 64;

		while (cap <= (size_t)wd)
			cap *= 2;
		w->path = xrealloc(w->path, cap * sizeof(*w->path));
		memset(w->path + w->cap, 0, (cap - w->cap) * sizeof(*w->path));
		w->cap = cap;
	}
	free(w->path[wd]);
	w->path[wd] = xstrdup(rel);
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(abs);
	if (fd >= 0)
		watch_below(w, root, rel, fd);
	if (!*rel) {
		abs = xasprintf("%s/" WORKSPACE_DIR, root);
		w->soc_wd = inotify_add_watch(w->fd, abs, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DONT_FOLLOW | IN_ONLYDIR);
		free(abs);
	}
}

/*
 * What inotify says: 1 when something may need a sync; new directories
 * are watched too. ours: what .soc/ says came from our own sync.
 */
static int read_events(struct watches *w, const char *root, int ours)
{
	char buf[WATCH_EVENT_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int any = 0;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			const char *dir = ev->wd >= 0 && (size_t)ev->wd < w->cap ? w->path[ev->wd] : NULL;

			p += sizeof(*ev) + ev->len;
			if (ev->wd == w->soc_wd) {
				any |= !ours;
				continue;
			}
			if (ev->mask & IN_IGNORED) {
				if (dir) {
					free(w->path[ev->wd]);
					w->path[ev->wd] = NULL;
				}
				continue;
			}
			if (dir && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
				char *sub = *dir ? xasprintf("%s/%s", dir, ev->name) : xstrdup(ev->name);

				watch_dir(w, root, sub);
				free(sub);
			}
			any = 1;
		}
	}
	return any;
}

/* ---- the loop ---- */

/* One sync under the workspace's lock: the exit code of soc sync, and the revision pulled. */
static int sync_once(long long *pulled)
{
	char name[] = "sync", quiet[] = "-q";
	char *argv[] = { name, soc_quiet ? quiet : NULL, NULL };
	struct session session = { 0 };
	struct workspace *ws;
	int rc = workspace_open(&ws);

	if (rc)
		return rc;
	ws->session = &session;
	rc = cmd_sync(soc_quiet ? 2 : 1, argv, ws);
	*pulled = index_pulled_rev(ws);
	session_close(&session);
	workspace_close(ws);
	return rc;
}

static int watch_loop(struct watches *w, const char *root, struct poller *p, int wake_fd)
{
	uint64_t first = 0, last = 0, retry_at = 0, backoff = 0, scan_at = 0;
	int sync_now = 1, unreachable = 0;

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = stop_fds[0], .events = POLLIN },
			{ .fd = wake_fd, .events = POLLIN },
			{ .fd = w->fd, .events = POLLIN },
		};
		uint64_t now = now_ms(), due = UINT64_MAX;
		int timeout;

		if (first) {
			due = last + WATCH_SETTLE_MS;
			if (first + WATCH_SETTLE_MAX_MS < due)
				due = first + WATCH_SETTLE_MAX_MS;
		}
		if (retry_at && retry_at < due)
			due = retry_at;
		if (w->full && scan_at < due)
			due = scan_at;
		if (sync_now || due <= now) {
			long long pulled = atomic_load(&p->since);
			int rc;

			/* The server unreachable was said once; its retries say nothing until one works. */
			soc_thread_silent = unreachable;
			rc = sync_once(&pulled);
			soc_thread_silent = 0;
			unreachable = rc == EXIT_REMOTE;

			atomic_store(&p->since, pulled);
			sync_now = 0;
			first = last = 0;
			/* What the sync wrote in .soc/ is ours; a file written meanwhile is a reason to sync again. */
			if (read_events(w, root, 1))
				first = last = now_ms();
			scan_at = now_ms() + WATCH_SCAN_MS;
			if (rc == EXIT_HISTORY)
				return rc;
			/* Unreachable, or another soc holds the lock: again later, less and less often. */
			if (rc == EXIT_REMOTE || rc == EXIT_ERROR) {
				backoff = (uint64_t)next_backoff((long)backoff);
				retry_at = now_ms() + backoff;
			} else {
				backoff = retry_at = 0;
			}
			continue;
		}
		timeout = due == UINT64_MAX ? -1 : (int)(due - now);
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return error_errno("cannot wait for changes");
		}
		if (pfd[0].revents)
			return EXIT_OK;
		if (pfd[1].revents) {
			char b[64];

			while (read(wake_fd, b, sizeof(b)) > 0)
				;
			sync_now = 1;
		}
		if (pfd[2].revents && read_events(w, root, 0)) {
			last = now_ms();
			if (!first)
				first = last;
		}
	}
}

int cmd_watch(int argc, char **argv, struct workspace *unused)
{
	const struct opt opts[] = {
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct watches w = { .fd = -1 };
	struct poller p;
	struct workspace *ws;
	struct sigaction sa, old_term, old_int;
	pthread_t thread;
	int n, rc, wake[2] = { -1, -1 }, started = 0;
	char *root = NULL, *url = NULL, *token = NULL, *ca_file = NULL, *ca_dir = NULL;

	(void)unused;
	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 0)
		return usage_error("'watch' takes no paths; it watches the whole workspace");
	/* What the thread needs, copied out of a workspace opened once. */
	if ((rc = workspace_open(&ws)))
		return rc;
	memset(&p, 0, sizeof(p));
	rc = remote_of(ws, &p.r);
	if (!rc) {
		root = xstrdup(ws->root);
		p.r.url = url = xstrdup(p.r.url);
		p.r.token = token = p.r.token ? xstrdup(p.r.token) : NULL;
		p.r.ca_file = ca_file = p.r.ca_file ? xstrdup(p.r.ca_file) : NULL;
		p.r.ca_dir = ca_dir = p.r.ca_dir ? xstrdup(p.r.ca_dir) : NULL;
		atomic_store(&p.since, index_pulled_rev(ws));
	}
	workspace_close(ws);
	if (rc)
		return rc;
	rc = EXIT_ERROR;
	if (pipe2(stop_fds, O_NONBLOCK | O_CLOEXEC) || pipe2(wake, O_NONBLOCK | O_CLOEXEC)) {
		error_errno("cannot make a pipe");
		goto out;
	}
	w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w.fd < 0) {
		error_errno("cannot start inotify");
		goto out;
	}
	w.max = test_hook_long(HOOK_WATCHES_MAX, 1, WATCH_HOOK_MAX, 0);
	watch_dir(&w, root, "");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);
	p.wake_fd = wake[1];
	p.stop_fd = stop_fds[0];
	/* libcurl's global set-up is not for two threads at once: done here, before the thread. */
	net_close(net_open(&p.r));
	if ((errno = pthread_create(&thread, NULL, poll_server, &p))) {
		error_errno("cannot start the thread that asks the server");
		goto restore;
	}
	started = 1;
	soc_quiet_nothing_done = 1;
	say("watching '%s'; Ctrl-C or SIGTERM stops\n", root);
	rc = watch_loop(&w, root, &p, wake[0]);
	say("stopped watching\n");
restore:
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	if (started) {
		char b = 0;

		atomic_store(&p.stop, 1);
		if (write(stop_fds[1], &b, 1) < 0) {
			/* the thread sees stop when its poll ends */
		}
		/* A long poll in flight ends within a second (net_abort_on). */
		pthread_join(thread, NULL);
	}
out:
	for (size_t i = 0; i < w.cap; i++)
		free(w.path[i]);
	free(w.path);
	if (w.fd >= 0)
		close(w.fd);
	for (int i = 0; i < 2; i++) {
		if (stop_fds[i] >= 0)
			close(stop_fds[i]);
		if (wake[i] >= 0)
			close(wake[i]);
		stop_fds[i] = -1;
	}
	free(root);
	free(url);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	free(ca_file);
	free(ca_dir);
	return rc;
}
