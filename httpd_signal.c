/*
 * httpd_signal.c: the server's signals as bytes on a pipe the connection
 * loop watches (the self-pipe trick), so the loop reacts to them between
 * events and no handler touches its state. SIGTERM and SIGINT stop the
 * server; SIGHUP is logged and ignored; SIGPIPE is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "httpd_conn.h"

#define SIGNAL_READ_MAX 16	/* bytes read from the pipe at a time */

static int fds[2] = { -1, -1 };
static struct sigaction old_term, old_int, old_hup, old_pipe;

static void on_signal(int sig)
{
	int e = errno;
	char b = (char)sig;

	if (write(fds[1], &b, 1) < 0) {
		/* full pipe: a stop is already pending */
	}
	errno = e;
}

int httpd_signals_start(void)
{
	struct sigaction sa;

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);
	/*
	 * SIGHUP (a terminal closing, a supervisor's "reload", logrotate's
	 * habit) must not stop the server, and there is nothing to reopen:
	 * the log is stderr, whose file belongs to whoever started us. A
	 * handler rather than SIG_IGN, which rsync would inherit through exec.
	 */
	sigaction(SIGHUP, &sa, &old_hup);
	/* A client that goes away mid-answer is an EPIPE to handle, not a reason to die. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old_pipe);
	return fds[0];
}

int httpd_signals_read(void)
{
	char b[SIGNAL_READ_MAX];
	ssize_t k;
	int stop = 0, hup = 0;

	while ((k = read(fds[0], b, sizeof(b))) > 0)
		for (ssize_t j = 0; j < k; j++)
			*(b[j] == SIGHUP ? &hup : &stop) = 1;
	if (hup)
		fprintf(stderr, "%s: SIGHUP ignored: nothing to reopen (the log is stderr,"
			" each rsync opens rsyncd.log anew)\n", soc_prog);
	return stop;
}

void httpd_signals_stop(void)
{
	if (fds[0] < 0)
		return;
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	for (int i = 0; i < 2; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
}
