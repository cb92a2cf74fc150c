/*
 * run.c: starting and reaping child processes, in the shape of git's
 * run-command.c: the environment is built before the child is made, it makes
 * only async-signal-safe calls, and an exec failure comes back to the
 * parent through a CLOEXEC pipe, so a missing rsync is reported as
 * "cannot run 'rsync': No such file or directory" with the real errno.
 *
 * The child is made by vfork, as posix_spawn makes its own: fork copied
 * the page tables of a push whose hash thread was reading, 3.5 to 7 ms
 * before rsync's exec on the machine of bench/README, where vfork takes
 * under one. So the child shares our memory until it execs: it writes
 * nothing of ours but errno (the environment goes to execvpe, not to
 * environ).
 *
 * A child dies with us (PR_SET_PDEATHSIG): a soc killed mid-push must not
 * leave an rsync writing into .soc/incoming/ or a staging area while the
 * next soc in the same workspace starts over.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* In the child after vfork: only async-signal-safe calls until exec, and no store to our memory. */
static noreturn void child_exec(const struct child *c, int in, int out, int null_fd, int report,
				pid_t parent, char **env)
{
	int err;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(127);	/* the parent is gone already */
	/* The parent may ignore SIGPIPE; rsync should die of it as usual. */
	signal(SIGPIPE, SIG_DFL);
	if ((in >= 0 && dup2(in, 0) < 0) || (out >= 0 && dup2(out, 1) < 0) ||
	    (c->null_out && dup2(null_fd, 1) < 0) || (c->null_err && dup2(null_fd, 2) < 0) ||
	    (c->err_fd > 2 && dup2(c->err_fd, 2) < 0))
		goto fail;
	execvpe(c->argv[0], (char *const *)c->argv, env);
fail:
	err = errno;
	while (write(report, &err, sizeof(err)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* vfork in a frame of its own: the caller's variables live on after it, untouched by the child. */
static pid_t child_spawn(const struct child *c, int in, int out, int null_fd, int report, pid_t parent, char **env)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_exec(c, in, out, null_fd, report, parent, env);
	return pid;
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int child_start(struct child *c)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, report[2] = { -1, -1 }, null_fd = -1, err = 0;
	pid_t parent = getpid();
	char **env;
	ssize_t n;

	c->pid = -1;
	c->in_fd = c->out_fd = -1;
	if (c->pipe_in && pipe2(in, O_CLOEXEC))
		return error_errno("cannot make a pipe for '%s'", c->argv[0]);
	if ((c->pipe_out && pipe2(out, O_CLOEXEC)) || pipe2(report, O_CLOEXEC)) {
		error_errno("cannot make a pipe for '%s'", c->argv[0]);
		goto fail;
	}
	if ((c->null_out || c->null_err) && (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		error_errno("cannot open '/dev/null' for '%s'", c->argv[0]);
		goto fail;
	}
	env = child_environ(c);
	c->pid = child_spawn(c, in[0], out[1], null_fd, report[1], parent, env);
	err = errno;
	free(env);
	close(report[1]);
	report[1] = -1;
	if (c->pid < 0) {
		errno = err;
		error_errno("cannot start '%s'", c->argv[0]);
		goto fail;
	}
	/* EOF: the exec happened. An int: the child's errno, and its exit. */
	while ((n = read(report[0], &err, sizeof(err))) < 0 && errno == EINTR)
		;
	if (n == sizeof(err)) {
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		errno = err;
		error_errno("cannot run '%s'", c->argv[0]);
		goto fail;
	}
	close(report[0]);
	if (null_fd >= 0)
		close(null_fd);
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	c->in_fd = in[1];
	c->out_fd = out[0];
	return 0;
fail:
	close_fds((int[]){ in[0], in[1], out[0], out[1], report[0], report[1], null_fd }, 7);
	return -1;
}

int child_finish(struct child *c)
{
	int status;

	if (c->in_fd >= 0) {
		close(c->in_fd);
		c->in_fd = -1;
	}
	if (c->out_fd >= 0) {
		close(c->out_fd);
		c->out_fd = -1;
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
