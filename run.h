/* run.h: child processes with an argv vector, never a shell (git's run-command.c, on posix_spawn). */
#ifndef RUN_H
#define RUN_H

#include <sys/types.h>

#define CHILD_ENV_MAX 8

struct child {
	const char *const *argv;	/* argv[0] is looked up in PATH */
	const char *env[CHILD_ENV_MAX + 1];	/* "K=V" added to ours, NULL-ended */
	int pipe_in;			/* give the child a pipe as stdin: write to in_fd */
	int in_fd;			/* our end of that pipe */
	int pipe_out;			/* give the child a pipe as stdout: read from out_fd */
	int out_fd;			/* our end of that pipe; child_finish closes it */
	int null_out;			/* stdout to /dev/null */
	int null_err;			/* and stderr */
	int err_fd;			/* > 2: the child's stderr (not with null_err) */
	pid_t pid;
};

/* Starts the child; 0, or -1 after a message naming the program and errno. */
int child_start(struct child *c);
/* Waits for it: its exit code, 128+signal if killed, -1 if waiting failed. */
int child_finish(struct child *c);

#endif
