/*
 * run.c: starting and reaping child processes. posix_spawnp looks the
 * program up in PATH and, in glibc, returns the exec's errno itself, so a
 * missing rsync is reported as "cannot run 'rsync': No such file or
 * directory" in the parent, as git's run-command.c does with its pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "soc.h"
#include "run.h"

extern char **environ;

/* environ plus c->env; a variable in c->env replaces ours of the same name. */
static char **child_environ(const struct child *c)
{
	size_t n = 0, extra = 0, i, j, k = 0;
	char **env;

	while (environ[n])
		n++;
	while (c->env[extra])
		extra++;
	env = xcalloc(n + extra + 1, sizeof(*env));
	for (i = 0; i < n; i++) {
		int replaced = 0;

		for (j = 0; j < extra; j++) {
			size_t klen = strcspn(c->env[j], "=");

			if (!strncmp(environ[i], c->env[j], klen) && environ[i][klen] == '=')
				replaced = 1;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (j = 0; j < extra; j++)
		env[k++] = (char *)c->env[j];
	env[k] = NULL;
	return env;
}

int child_start(struct child *c)
{
	posix_spawn_file_actions_t fa;
	int fds[2] = { -1, -1 };
	char **env;
	int rc;

	c->pid = -1;
	c->in_fd = -1;
	if (posix_spawn_file_actions_init(&fa))
		return error("cannot set up a child process for '%s'", c->argv[0]);
	if (c->pipe_in) {
		if (pipe2(fds, O_CLOEXEC)) {
			posix_spawn_file_actions_destroy(&fa);
			return error_errno("cannot make a pipe for '%s'", c->argv[0]);
		}
		posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	}
	if (c->null_out)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	env = child_environ(c);
	rc = posix_spawnp(&c->pid, c->argv[0], &fa, NULL, (char *const *)c->argv, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	if (c->pipe_in)
		close(fds[0]);
	if (rc) {
		if (c->pipe_in)
			close(fds[1]);
		c->pid = -1;
		errno = rc;
		return error_errno("cannot run '%s'", c->argv[0]);
	}
	c->in_fd = fds[1];
	return 0;
}

int child_finish(struct child *c)
{
	int status;

	if (c->in_fd >= 0) {
		close(c->in_fd);
		c->in_fd = -1;
	}
	if (c->pid <= 0)
		return -1;
	while (waitpid(c->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			error_errno("cannot wait for '%s'", c->argv[0]);
			return -1;
		}
	}
	c->pid = -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
