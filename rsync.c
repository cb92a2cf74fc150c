/*
 * rsync.c: moving file contents. rsync runs as a child with an argv vector;
 * its remote shell is `soc tunnel`, which carries rsync's daemon protocol
 * through the soc port (DESIGN.md section 6). The URL and token reach the
 * tunnel through its environment, never argv, so `ps` shows no token.
 * The file list goes to rsync's stdin, NUL-separated, relative to the
 * module root (soc::pull/ with Data/a, never soc::pull/Data/ with a).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soc.h"
#include "run.h"
#include "sync.h"

#define RSYNC_PROG "rsync"

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

int rsync_run(const struct remote *r, const char *src, const char *dst,
	      const char *basis_dir, char *const *paths, size_t npaths)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *argv[16];
	char *shell, *env_url, *env_token, *copy_dest = NULL;
	struct child c = { 0 };
	struct buf list = BUF_INIT;
	void (*old_pipe)(int);
	int code, wrote, i = 0, upload = !strncmp(dst, "soc::", 5);

	if (n < 0 || (size_t)n >= sizeof(exe) - 1)
		return error_errno("cannot find the soc binary for the rsync tunnel");
	exe[n] = '\0';
	/* rsync splits -e on spaces and honours single quotes, not backslashes. */
	if (strchr(exe, '\''))
		return error("cannot use '%s' as the rsync tunnel: it contains a quote", exe);
	shell = xasprintf("'%s' tunnel", exe);
	env_url = xasprintf("SOC_TUNNEL_URL=%s", r->url);
	env_token = xasprintf("SOC_TUNNEL_TOKEN=%s", r->token ? r->token : "");

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
	if (!soc_quiet && isatty(STDERR_FILENO))
		argv[i++] = "--info=progress2";
	if (basis_dir) {
		copy_dest = xasprintf("--copy-dest=%s", basis_dir);
		argv[i++] = copy_dest;
	}
	argv[i++] = "-e";
	argv[i++] = shell;
	argv[i++] = "--";
	argv[i++] = src;
	argv[i++] = dst;
	argv[i] = NULL;

	c.argv = argv;
	c.env[0] = env_url;
	c.env[1] = env_token;
	c.pipe_in = 1;
	if (child_start(&c)) {
		free(copy_dest);
		free(shell);
		free(env_url);
		free(env_token);
		return -1;
	}
	for (size_t k = 0; paths && k < npaths; k++)
		buf_add(&list, paths[k], strlen(paths[k]) + 1);
	/* rsync may die before reading it all; that is its exit code's story. */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	wrote = buf_write(c.in_fd, &list);
	signal(SIGPIPE, old_pipe);
	code = child_finish(&c);
	buf_free(&list);
	free(copy_dest);
	free(shell);
	free(env_url);
	free(env_token);
	if (code != 0)
		return error("%s (rsync exit code %d)", rsync_reason(code, upload), code);
	if (wrote)
		return error_errno("cannot give rsync its file list");
	return 0;
}
