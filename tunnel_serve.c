/*
 * tunnel_serve.c: POST /api/v1/rsync with "Upgrade: soc-rsync" becomes an
 * rsync daemon speaking over the socket (DESIGN.md section 6). The token
 * decides the config: a read-only one gets rsyncd-ro.conf, which has no
 * push module, so rsync itself refuses the upload.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve.h"

#define TUNNEL_PROTO "soc-rsync"

extern char **environ;

/* The daemon runs as long as the transfer; a thread of its own waits for it, not a worker. */
static void *reap(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return NULL;
}

void tunnel_serve(struct server *s, struct http_exchange *ex, const struct caller *who)
{
	const struct http_slice *up = http_header(http_req(ex), "upgrade");
	char *conf;
	char *argv[] = { "rsync", "--server", "--daemon", NULL, ".", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t dflt;
	pthread_t t;
	pthread_attr_t ta;
	pid_t pid;
	int fd, err;

	if (!up || !http_slice_ieq(*up, TUNNEL_PROTO))
		return api_error(ex, 400, "bad_request", "the rsync tunnel needs 'Upgrade: " TUNNEL_PROTO "'");
	fd = http_upgrade(ex, TUNNEL_PROTO);
	if (fd < 0)
		return;
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
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
	err = posix_spawnp(&pid, "rsync", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(fd);
	free(conf);
	if (err) {
		errno = err;
		error_errno("cannot run rsync for '%s'", who->name);
		return;
	}
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &ta, reap, (void *)(intptr_t)pid))
		reap((void *)(intptr_t)pid);
	pthread_attr_destroy(&ta);
}
