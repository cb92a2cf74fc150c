/*
 * tunnel_serve.c: POST /api/v1/rsync with "Upgrade: soc-rsync" becomes an
 * rsync daemon speaking over the socket (DESIGN.md section 6), and so does
 * rsync's own proxy request, "CONNECT soc:873", which a client on plain
 * http sends without a `soc tunnel` between (PROTOCOL.md). The token
 * decides the config: a read-only one gets rsyncd-ro.conf, which has no
 * push module, so rsync itself refuses the upload. Both configs, and the
 * rsync options they refuse, are written here at each start.
 *
 * Every tunnel is an rsync process, so they are counted before the 101:
 * at most TUNNELS_PER_TOKEN of one token (429) and TUNNELS_MAX in all
 * (503), both with Retry-After.
 *
 * The watch. Once rsync has the socket the server never reads it, so it
 * cannot see bytes go by itself; the kernel can. One thread watches every
 * tunnel: it keeps a descriptor of each socket and reads its byte
 * counters (TCP_INFO: bytes received, bytes the peer acknowledged) every
 * watch interval. A tunnel whose counters have not moved for the idle
 * timeout is shut down and its rsync's process group sent SIGTERM, which
 * lets rsync remove its temporary files (SIGKILL follows after
 * TUNNEL_KILL_GRACE_MS). The same thread waits for every rsync through a
 * pidfd, so a finished transfer frees its slot and closes our descriptor
 * at once: the client sees the end of the tunnel only when that last
 * descriptor closes. One thread for all tunnels, not one each: threads do
 * not grow with tunnels.
 *
 * Bytes are what count, not the rsync protocol's progress: a transfer
 * whose client stopped reading moves no byte either, and is ended too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "testhook.h"

#define TUNNEL_PROTO "soc-rsync"
#define TUNNEL_WATCH_MS 1000		/* how often the counters are read; a quarter of a shorter idle timeout */
#define TUNNEL_KILL_GRACE_MS 2000	/* after SIGTERM, before SIGKILL */
#define TUNNEL_REAP_POLL_MS 50		/* an rsync without a pidfd is looked at this often */
#define RSYNC_VERSION_OUT_MAX 4096	/* of `rsync --version`'s output, the first line is read */

extern char **environ;

static struct tunnel {
	char name[TOKEN_NAME_MAX + 1];	/* the token's; "" when the slot is free */
	pid_t pid;			/* 0 while the 101 and the spawn are under way */
	int pidfd;			/* -1 where the kernel has none: looked at every TUNNEL_REAP_POLL_MS */
	int sock;			/* our descriptor of the socket rsync speaks on */
	uint64_t received, acked;	/* the counters when last read */
	long long moved;		/* when they last moved */
	long long killed;		/* when SIGTERM went, 0 before */
} tunnels[TUNNELS_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static pthread_t watcher;
static int watching;		/* the thread runs */
static int stopping;
static int wake_fd = -1;	/* eventfd: a tunnel joined, or the stop */
static long idle_ms = TUNNEL_IDLE_TIMEOUT_MS;

/* ---- the rsync floor ---- */

/* "3.4.1" (or "v3.2.7", "3.4.0pre1": what follows the numbers is not read) as one number; -1 if none. */
static long version_number(const char *s, const char **end)
{
	long part[3] = { 0, 0, 0 };
	int i;

	if (*s == 'v')
		s++;
	for (i = 0; i < 3; i++) {
		char *e;

		if (*s < '0' || *s > '9')
			break;
		part[i] = strtol(s, &e, 10);
		if (part[i] > 999)
			return -1;
		s = e;
		if (*s != '.')
			break;
		s++;
	}
	if (i < 1)
		return -1;
	if (end)
		*end = s;
	return part[0] * 1000000 + part[1] * 1000 + part[2];
}

/* The first line of `rsync --version` in out (NUL-terminated); 0, or -1 after a message. */
static int rsync_version_line(char *out, size_t size)
{
	char *argv[] = { "rsync", "--version", NULL };
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	pid_t pid;
	int p[2], err, status;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return error_errno("cannot run 'rsync --version'");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	err = posix_spawnp(&pid, "rsync", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		close(p[0]);
		errno = err;
		return error_errno("cannot run 'rsync --version'");
	}
	/* Read to the end, so that rsync never blocks on a full pipe. */
	for (;;) {
		char spill[512];

		if (len + 1 < size)
			n = read(p[0], out + len, size - 1 - len);
		else
			n = read(p[0], spill, sizeof(spill));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < size)
			len += (size_t)n;
	}
	close(p[0]);
	out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_errno("cannot wait for 'rsync --version'");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return error("'rsync --version' failed (%s %d)", WIFEXITED(status) ? "exit code" : "signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static int check_rsync(void)
{
	char out[RSYNC_VERSION_OUT_MAX];
	const char *v, *end;
	long have, floor = version_number(RSYNC_VERSION_FLOOR, NULL);

	if (rsync_version_line(out, sizeof(out)))
		return -1;
	/* "rsync  version 3.4.1  protocol version 32" */
	v = strstr(out, "version ");
	if (strncmp(out, "rsync ", 6) || !v || (have = version_number(v + 8, &end)) < 0)
		return error("cannot read rsync's version in '%.80s' (from 'rsync --version')", out);
	if (have < floor)
		return error("rsync %.*s is installed; soc serve needs rsync " RSYNC_VERSION_FLOOR
			     " or later (its daemon fixes CVE-2024-12084 and CVE-2024-12085)",
			     (int)(end - (v + 8)), v + 8);
	return 0;
}

int tunnel_init(void)
{
	idle_ms = test_hook_long(HOOK_TUNNEL_IDLE_TIMEOUT_MS, 1, TUNNEL_IDLE_TIMEOUT_MS, TUNNEL_IDLE_TIMEOUT_MS);
	return check_rsync();
}

/* ---- the watch ---- */

/* The socket's byte counters; -1 if the kernel gives none (then the tunnel is never idle). */
/*
 * rsync's daemon keeps every path inside its module, so the server never
 * parses rsync options; it only refuses the ones that would write in place
 * (the staging copy of a file shares its inode with the head's) or delete.
 */
#define REFUSE "delete* remove-source-files inplace append* partial-dir backup* suffix " \
	"write-devices copy-devices copy-links copy-unsafe-links safe-links keep-dirlinks"
/*
 * And for an upload, every option that lets rsync judge a staged file up
 * to date and then set its attributes where it lies: on a head file's
 * hard-linked basis, `rsync -p --size-only` by hand changed the mode and
 * mtime of files/<path> with no commit at all. Without them rsync either
 * leaves a file alone or writes a new one and renames it; the commit
 * gives each file the mode and mtime its change line names. And
 * --hard-links, so that every file rsync writes has one link until the
 * commit links it: the commit takes a link count of one to mean nobody
 * else holds the inode, and sets its mode and mtime in place
 * (txn_check.c). And --sparse and --preallocate, so that rsync writes each
 * file from its first byte to its last, never back: the commit trusts a
 * big file's hash taken as it grew (stage_follow.c).
 */
#define REFUSE_UPLOAD "link-dest compare-dest copy-dest size-only checksum modify-window " \
	"perms chmod executability owner group acls xattrs atimes crtimes super fake-super hard-links " \
	"sparse preallocate"

static int write_conf(struct server *s, const char *name, int with_push)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(s->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot write '%s/%s'", s->root, tmp);
	}
	fputs("# written by soc serve at each start; edits are lost\n"
		"use chroot = no\n"
		"munge symlinks = yes\n"
		"numeric ids = yes\n"
		"reverse lookup = no\n", f);
	/*
	 * rsync's daemon, run as root, switches to uid/gid (nobody without
	 * them); run as anyone else it cannot switch at all, and a uid or gid
	 * line, even its own, fails every transfer ("@ERROR: setgroups
	 * failed"). So the lines name the server's own ids, and only as root.
	 */
	if (!geteuid())
		fprintf(f, "uid = %u\ngid = %u\n", (unsigned)geteuid(), (unsigned)getegid());
	fprintf(f, "log file = %s/" RSYNC_LOG "\n"
		"refuse options = " REFUSE "\n", s->root);
	/* A pull's client sends its own --copy-dest along; only a receiving daemon must refuse it. */
	if (with_push)
		fprintf(f, "\n[push]\n\tpath = %s/staging\n\tread only = no\n\twrite only = yes\n"
			"\tlist = no\n\trefuse options = " REFUSE " " REFUSE_UPLOAD "\n",
			s->data);
	/* A cluster node has no files/: a pull reads the view of links it asked for (view_serve.c). */
	if (s->cluster)
		fprintf(f, "\n[" VIEWS_DIR "]\n\tpath = %s/" VIEWS_DIR "\n\tread only = yes\n\tlist = no\n", s->data);
	else
		fprintf(f, "\n[pull]\n\tpath = %s/files\n\tread only = yes\n\tlist = no\n", s->root);
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		return error_errno("cannot write '%s/%s'", s->root, tmp);
	}
	if (fclose(f))
		return error_errno("cannot write '%s/%s'", s->root, tmp);
	if (renameat(s->root_fd, tmp, s->root_fd, name))
		return error_errno("cannot rename '%s/%s'", s->root, tmp);
	return 0;
}

int tunnel_write_confs(struct server *s)
{
	return write_conf(s, "rsyncd.conf", 1) || write_conf(s, "rsyncd-ro.conf", 0) ? -1 : 0;
}

static int counters(int sock, uint64_t *received, uint64_t *acked)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return -1;
	*received = ti.tcpi_bytes_received;
	*acked = ti.tcpi_bytes_acked;
	return 0;
}

/* Ends t's transfer: the socket shut for every holder, rsync's group asked to go. */
static void end_tunnel(struct tunnel *t, long long now)
{
	shutdown(t->sock, SHUT_RDWR);
	if (kill(-t->pid, SIGTERM) && errno != ESRCH)
		warning_errno("cannot stop the rsync (pid %d) of a tunnel", (int)t->pid);
	t->killed = now ? now : 1;
}

static void release(struct tunnel *t)
{
	if (t->pidfd >= 0)
		close(t->pidfd);
	if (t->sock >= 0)
		close(t->sock);
	t->name[0] = '\0';
	t->pid = 0;
	t->pidfd = t->sock = -1;
}

/* With the lock held: reaps t's rsync if it has exited; 1 then. */
static int reaped(struct tunnel *t)
{
	int status;
	pid_t r;

	do
		r = waitpid(t->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0)
		warning_errno("cannot wait for the rsync (pid %d) of a tunnel", (int)t->pid);
	release(t);
	return 1;
}

/* With the lock held: the counters of every tunnel read; the idle ended, the deaf killed. */
static void watch(long long now)
{
	for (int i = 0; i < TUNNELS_MAX; i++) {
		struct tunnel *t = &tunnels[i];
		uint64_t rx, ack;

		if (t->pid <= 0)
			continue;
		if (t->killed) {
			if (now - t->killed >= TUNNEL_KILL_GRACE_MS && kill(-t->pid, SIGKILL) && errno != ESRCH)
				warning_errno("cannot kill the rsync (pid %d) of a tunnel", (int)t->pid);
			continue;
		}
		if (stopping) {
			end_tunnel(t, now);
			continue;
		}
		if (counters(t->sock, &rx, &ack))
			continue;
		if (rx != t->received || ack != t->acked) {
			t->received = rx;
			t->acked = ack;
			t->moved = now;
		} else if (now - t->moved >= idle_ms) {
			warning("the rsync tunnel of '%s' moved no byte for %ld ms; ended", t->name, idle_ms);
			end_tunnel(t, now);
		}
	}
}

static void *watcher_run(void *arg)
{
	struct pollfd pfd[TUNNELS_MAX + 1];
	int at[TUNNELS_MAX + 1];
	long interval = idle_ms / 4 < TUNNEL_WATCH_MS ? (idle_ms / 4 ? idle_ms / 4 : 1) : TUNNEL_WATCH_MS;
	long long next = now_ms() + interval;

	(void)arg;
	for (;;) {
		int n = 1, live = 0, blind = 0, timeout;
		long long now;

		pthread_mutex_lock(&lock);
		pfd[0].fd = wake_fd;
		pfd[0].events = POLLIN;
		for (int i = 0; i < TUNNELS_MAX; i++) {
			if (tunnels[i].name[0])
				live++;
			if (tunnels[i].pid <= 0)
				continue;
			if (tunnels[i].pidfd < 0) {
				blind = 1;
				continue;
			}
			pfd[n].fd = tunnels[i].pidfd;
			pfd[n].events = POLLIN;
			at[n++] = i;
		}
		if (stopping && !live) {
			pthread_mutex_unlock(&lock);
			break;
		}
		pthread_mutex_unlock(&lock);
		now = now_ms();
		timeout = next > now ? (int)(next - now) : 0;
		if (blind && timeout > TUNNEL_REAP_POLL_MS)
			timeout = TUNNEL_REAP_POLL_MS;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			warning_errno("cannot wait for the rsync tunnels");
			for (int i = 0; i < n; i++)
				pfd[i].revents = 0;
			sleep(1);
		}
		if (pfd[0].revents) {
			uint64_t v;

			if (read(wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				warning_errno("cannot read the tunnels' wake-up counter");
		}
		pthread_mutex_lock(&lock);
		/* Only this thread frees a slot that has a pid: at[] still names the same tunnels. */
		for (int k = 1; k < n; k++)
			if (pfd[k].revents)
				reaped(&tunnels[at[k]]);
		for (int i = 0; blind && i < TUNNELS_MAX; i++)
			if (tunnels[i].pid > 0 && tunnels[i].pidfd < 0)
				reaped(&tunnels[i]);
		now = now_ms();
		if (now >= next || stopping) {
			watch(now);
			next = now + interval;
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void start_watch(void)
{
	for (int i = 0; i < TUNNELS_MAX; i++)
		tunnels[i].pidfd = tunnels[i].sock = -1;
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0) {
		error_errno("cannot make the rsync tunnels' wake-up counter");
		return;
	}
	errno = pthread_create(&watcher, NULL, watcher_run, NULL);
	if (errno) {
		error_errno("cannot start the thread watching the rsync tunnels");
		close(wake_fd);
		wake_fd = -1;
		return;
	}
	watching = 1;
}

static void wake(void)
{
	uint64_t one = 1;

	if (write(wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		warning_errno("cannot wake the thread watching the rsync tunnels");
}

void tunnel_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_mutex_unlock(&lock);
	if (!watching)
		return;
	wake();
	pthread_join(watcher, NULL);
	close(wake_fd);
	wake_fd = -1;
	watching = 0;
}

/* ---- the request ---- */

/* A slot for who's tunnel, or an answer: 429 past its share, 503 when the server is full. */
static struct tunnel *claim(struct http_exchange *ex, const struct caller *who)
{
	struct tunnel *free_slot = NULL;
	int mine = 0;

	pthread_once(&watch_once, start_watch);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < TUNNELS_MAX; i++) {
		if (!tunnels[i].name[0])
			free_slot = free_slot ? free_slot : &tunnels[i];
		else if (!strcmp(tunnels[i].name, who->name))
			mine++;
	}
	if (watching && !stopping && mine < TUNNELS_PER_TOKEN && free_slot) {
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", who->name);
		free_slot->pid = 0;
		pthread_mutex_unlock(&lock);
		return free_slot;
	}
	pthread_mutex_unlock(&lock);
	http_add_header(ex, "Retry-After", STR(BUSY_RETRY_SECONDS));
	if (watching && !stopping && mine >= TUNNELS_PER_TOKEN)
		api_error(ex, 429, "too_many",
			  "this token has " STR(TUNNELS_PER_TOKEN) " rsync transfers running, as many as one may");
	else
		api_error(ex, 503, "busy", "the server runs as many rsync transfers as it may ("
			  STR(TUNNELS_MAX) "); try again later");
	return NULL;
}

static void unclaim(struct tunnel *t)
{
	pthread_mutex_lock(&lock);
	t->name[0] = '\0';
	pthread_mutex_unlock(&lock);
}

/* The rsync daemon on the socket, once answered with proto's 101 (NULL: CONNECT's 200). */
static void tunnel_start(struct server *s, struct http_exchange *ex, const struct caller *who, const char *proto)
{
	struct tunnel *t;
	char *conf;
	char *argv[] = { "rsync", "--server", "--daemon", NULL, ".", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t dflt;
	pid_t pid;
	int fd, err, pidfd;

	t = claim(ex, who);
	if (!t)
		return;
	fd = http_upgrade(ex, proto);
	if (fd < 0)
		return unclaim(t);
	conf = xasprintf("--config=%s", who->read_only ? s->rsyncd_ro_conf : s->rsyncd_conf);
	argv[3] = conf;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	/* The server ignores SIGPIPE; rsync should die of it as usual. */
	posix_spawnattr_init(&at);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	posix_spawnattr_setsigdefault(&at, &dflt);
	/* A group of its own: an end reaches the receiver rsync forks for a push too. */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	err = posix_spawnp(&pid, "rsync", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(conf);
	if (err) {
		close(fd);
		unclaim(t);
		errno = err;
		error_errno("cannot run rsync for '%s'", who->name);
		return;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		warning_errno("no pidfd for the rsync of '%s'; its end is looked for every "
			      STR(TUNNEL_REAP_POLL_MS) " ms", who->name);
	pthread_mutex_lock(&lock);
	t->pid = pid;
	t->pidfd = pidfd;
	t->sock = fd;
	t->received = t->acked = 0;
	t->moved = now_ms();
	t->killed = 0;
	pthread_mutex_unlock(&lock);
	wake();
}

void tunnel_serve(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	const struct http_slice *up = http_header(http_req(ex), "upgrade");

	if (!up || !http_slice_ieq(*up, TUNNEL_PROTO))
		return api_error(ex, 400, "bad_request", "the rsync tunnel needs 'Upgrade: " TUNNEL_PROTO "'");
	tunnel_start(s, ex, who, TUNNEL_PROTO);
}

void tunnel_connect(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	if (!http_slice_eq(http_req(ex)->target, TUNNEL_AUTHORITY))
		return api_error(ex, 403, "not_a_proxy", "CONNECT reaches only this server's rsync, as "
			  TUNNEL_AUTHORITY);
	tunnel_start(s, ex, who, NULL);
}
