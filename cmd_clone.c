/*
 * cmd_clone.c: `soc clone URL [DIR]`, a new machine set up in one step:
 * the token (from a file, SOC_TOKEN or the terminal), checked with the
 * server before anything is made, then a workspace as soc init makes it
 * with the remote and token stored, then the first pull, by soc pull's
 * own entry.
 *
 * The order is what makes a failed clone leave nothing behind: a wrong
 * URL or token fails the check while nothing exists yet, and a failure
 * between making the workspace and the pull removes what clone made (the
 * directories it created, .soc/ in one that was there, empty). A pull
 * that fails keeps the workspace: it is an ordinary one by then, and
 * `soc pull` there finishes the job, keeping what was already fetched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "sync.h"

#define CLONE_DIRS_MAX 64	/* directories clone makes on the way to DIR; deeper is refused */
#define RM_FDS 16		/* descriptors nftw holds removing .soc/ */

const char clone_usage[] =
	"usage: soc clone URL [DIR] [--token-file FILE] [--cacert FILE] [-q]\n"
	"\n"
	"Set up a machine in one step: check the token with the server at URL,\n"
	"make DIR a workspace with URL as its remote and the token in\n"
	"DIR/.soc/config (mode 0600), and pull everything into it.\n"
	"\n"
	"DIR must be missing or empty. Without it, clone names it as git does:\n"
	"the last component of URL's path, else URL's host without its port\n"
	"(https://h.example/photos makes 'photos', https://h.example:8717/\n"
	"makes 'h.example').\n"
	"\n"
	"The token is the first line of --token-file FILE, else SOC_TOKEN, else\n"
	"typed at a prompt on the terminal, not echoed. With none of these (no\n"
	"terminal) clone exits 2. A server that cannot be reached, is not a soc\n"
	"server or refuses the token: exit 5, and nothing is made.\n"
	"\n"
	"  --token-file FILE  the token on FILE's first line\n"
	"  --cacert FILE      the CA that signed an https server's certificate\n"
	"                     (kept as 'cacert' in .soc/config; SOC_CA_BUNDLE wins)\n"
	"  -q, --quiet        say nothing unless something fails\n";

/* ---- the prompt: the terminal's echo off while the token is typed ---- */

static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;
static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define TTY_NSIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

/*
 * A signal while the echo is off: echo back on, then the signal's own
 * ending (exit 130 for ^C), as OpenBSD's readpassphrase does. tcsetattr,
 * signal and raise are async-signal-safe; the raised signal waits, masked,
 * until this returns.
 */
static void tty_signal(int sig)
{
	if (tty_fd >= 0)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from the terminal, echo off: 0 and *out, or an exit code after one message. */
static int token_prompt(const char *url, char **out)
{
	struct sigaction sa, old[TTY_NSIGNALS];
	struct termios quiet;
	char line[TOKEN_MAX + 3], *start, *end = NULL;
	char *prompt = xasprintf("token for %s: ", url);
	size_t len = 0, i;
	int fd, rc = EXIT_ERROR, too_long = 0;

	*out = NULL;
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || tcgetattr(fd, &tty_saved)) {
		error("no token for '%s': give --token-file FILE or set SOC_TOKEN "
		      "(there is no terminal to ask on)", url);
		if (fd >= 0)
			close(fd);
		free(prompt);
		return EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_signal;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < TTY_NSIGNALS; i++)
		sigaction(tty_signals[i], &sa, &old[i]);
	tty_fd = fd;
	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	/* Echo goes off before the prompt shows, so nothing typed at it is echoed. */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) || write_full(fd, prompt, strlen(prompt))) {
		error_errno("cannot ask for the token on the terminal");
		goto restore;
	}
	while (!end) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno("cannot read the token from the terminal");
			goto restore;
		}
		if (n == 0)
			break;		/* ^D: what came so far is the answer */
		end = memchr(line + len, '\n', (size_t)n);
		len += (size_t)n;
		if (!end && len == sizeof(line) - 1) {
			/* Read the rest of the line away, so it does not reach the shell. */
			too_long = 1;
			len = 0;
		}
	}
	rc = 0;
restore:
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_fd = -1;
	for (i = 0; i < TTY_NSIGNALS; i++)
		sigaction(tty_signals[i], &old[i], NULL);
	/* The Enter that ended the line was not echoed either. */
	if (write_full(fd, "\n", 1))
		warning_errno("cannot write to the terminal");
	close(fd);
	free(prompt);
	if (!rc && too_long) {
		error("the token typed is longer than %d bytes", TOKEN_MAX);
		rc = EXIT_ERROR;
	} else if (!rc) {
		if (!end)
			end = line + len;
		start = line;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		*end = '\0';
		if (token_valid(start, "the answer to the prompt"))
			rc = EXIT_ERROR;
		else
			*out = xstrdup(start);
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

/* ---- DIR: named from the URL, missing or empty, and undone on failure ---- */

/* As git's guess_dir_name: the path's last component, else the host without user or port. */
static char *dir_from_url(const char *url)
{
	const char *host = strstr(url, "://") + 3;
	const char *host_end = host + strcspn(host, "/?#");
	const char *path_end = host_end + strcspn(host_end, "?#");
	const char *name, *name_end, *at;
	char *dir;

	while (path_end > host_end && path_end[-1] == '/')
		path_end--;
	name_end = path_end;
	name = memrchr(host_end, '/', (size_t)(path_end - host_end));
	name = name ? name + 1 : host_end;
	if (name == name_end) {
		at = memrchr(host, '@', (size_t)(host_end - host));
		name = at ? at + 1 : host;
		if (*name == '[') {
			name++;
			name_end = memchr(name, ']', (size_t)(host_end - name));
			if (!name_end)
				name_end = host_end;
		} else {
			name_end = memchr(name, ':', (size_t)(host_end - name));
			if (!name_end)
				name_end = host_end;
		}
	}
	dir = xstrndup(name, (size_t)(name_end - name));
	if (!*dir || !strcmp(dir, ".") || !strcmp(dir, "..")) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* 0 when dir is missing or an empty directory; else 1 after one line. */
static int dir_unusable(const char *dir)
{
	struct stat st;
	struct dirent *d;
	char *meta;
	DIR *dp;
	int rc = 0;

	if (stat(dir, &st)) {
		if (errno == ENOENT)
			return 0;
		return error_errno("cannot look at '%s'", show_path(dir)), 1;
	}
	if (!S_ISDIR(st.st_mode))
		return error("'%s' exists and is not a directory", show_path(dir)), 1;
	meta = xasprintf("%s/" WORKSPACE_DIR, dir);
	if (!lstat(meta, &st)) {
		free(meta);
		return error("'%s' is already a soc workspace", show_path(dir)), 1;
	}
	free(meta);
	dp = opendir(dir);
	if (!dp)
		return error_errno("cannot read '%s'", show_path(dir)), 1;
	errno = 0;
	while (!rc && (d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			rc = error("'%s' exists and is not empty", show_path(dir));
	if (!rc && errno)
		rc = error_errno("cannot read '%s'", show_path(dir));
	closedir(dp);
	return rc ? 1 : 0;
}

struct made {
	char *dirs[CLONE_DIRS_MAX];	/* the directories clone created, outermost first */
	size_t n;
	char *meta;			/* DIR/.soc once workspace_create made it */
};

/* mkdir -p that notes what it made, so a failure can take exactly that away. */
static int make_dirs_noted(const char *dir, struct made *m)
{
	char *p = xstrdup(dir);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		int last = !*s;

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (!mkdir(p, 0777)) {
			if (m->n == CLONE_DIRS_MAX) {
				rmdir(p);
				rc = error("'%s' is more than %d directories below any that exists",
					   dir, CLONE_DIRS_MAX);
				break;
			}
			m->dirs[m->n++] = xstrdup(p);
		} else if (errno != EEXIST) {
			rc = error_errno("cannot make the directory '%s'", p);
			break;
		}
		if (last)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path))
		warning_errno("cannot remove '%s'", path);
	return 0;
}

/* Takes away what clone made: .soc/ (all of it clone's), then its new directories, innermost first. */
static void unmake(struct made *m)
{
	if (m->meta && nftw(m->meta, rm_entry, RM_FDS, FTW_DEPTH | FTW_PHYS))
		warning_errno("cannot remove '%s'", m->meta);
	while (m->n) {
		char *d = m->dirs[--m->n];

		/* rmdir, never more: whatever someone else put there meanwhile stays. */
		if (rmdir(d))
			warning_errno("cannot remove '%s'", d);
		free(d);
	}
}

static void made_free(struct made *m)
{
	while (m->n)
		free(m->dirs[--m->n]);
	free(m->meta);
	m->meta = NULL;
}

/* ---- the steps ---- */

/* The token from --token-file, SOC_TOKEN or the terminal: 0 and *out, or an exit code. */
static int get_token(const char *url, const char *token_file, char **out)
{
	const char *env = getenv("SOC_TOKEN");

	if (token_file) {
		*out = token_read_file(token_file);
		if (!*out)
			return EXIT_ERROR;
		/* SOC_TOKEN would win over the stored token in every later step: the file's is the one checked. */
		if (unsetenv("SOC_TOKEN"))
			return error_errno("cannot unset SOC_TOKEN"), EXIT_ERROR;
		return 0;
	}
	if (env && *env) {
		if (token_valid(env, "SOC_TOKEN"))
			return EXIT_ERROR;
		*out = xstrdup(env);
		return 0;
	}
	return token_prompt(url, out);
}

/* One cheap request, so a wrong URL or token fails before anything is made. */
static int check_server(const char *url, const char *token, const char *cacert)
{
	struct remote r = { .url = url, .token = token };
	struct net *net;
	long long head;

	if (remote_ca(&r, cacert, "--cacert"))
		return EXIT_ERROR;
	net = net_open(&r);
	if (!net)
		return EXIT_ERROR;
	head = remote_head(net);
	net_close(net);
	return head < 0 ? EXIT_REMOTE : 0;
}

/* The first pull, as `soc pull` runs it: in the workspace, locked, by its own entry, with a session. */
static int first_pull(const char *abs, int *pulled)
{
	char *pull_argv[] = { "pull", NULL };
	struct index_snapshot snap;
	struct session session = { 0 };
	struct workspace *ws;
	long long rev;
	int rc;

	*pulled = 0;
	if (chdir(abs))
		return error_errno("cannot go into '%s'", abs), EXIT_ERROR;
	rc = workspace_open(&ws);
	if (rc)
		return rc;
	*pulled = 1;
	ws->session = &session;
	rc = cmd_pull(1, pull_argv, ws);
	session_close(&session);
	if (rc) {
		error("the first pull did not finish; the workspace is in '%s': "
		      "run 'soc pull' there to finish it", abs);
	} else if (!index_load(ws, &snap)) {
		rev = index_pulled_rev(ws);
		say("cloned %zu file%s at revision %lld into '%s'\n", snap.n, snap.n == 1 ? "" : "s",
		    rev, abs);
		index_snapshot_free(&snap);
	}
	workspace_close(ws);
	return rc;
}

int cmd_clone(int argc, char **argv, struct workspace *unused)
{
	const char *token_file = NULL, *cacert = NULL, *url;
	const struct opt opts[] = {
		{ 0, "token-file", OPT_STRING, &token_file, 0 },
		{ 0, "cacert", OPT_STRING, &cacert, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	struct made m = { .n = 0 };
	char *dir, *abs, *token = NULL, *ca = NULL;
	int n, rc, pulled;

	(void)unused;
	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n < 1)
		return usage_error("'clone' needs the server's URL");
	if (n > 2)
		return usage_error("'clone' takes a URL and one directory at most");
	url = argv[0];
	if (!remote_url_valid(url))
		return usage_error("'%s' is not an http:// or https:// URL", show_path(url));
	dir = n == 2 ? xstrdup(argv[1]) : dir_from_url(url);
	if (!dir)
		return usage_error("cannot name a directory after '%s'; give one", show_path(url));
	if (!*dir) {
		free(dir);
		return usage_error("an empty directory name names nothing");
	}
	if (dir_unusable(dir)) {
		free(dir);
		return EXIT_ERROR;
	}
	if (dir[0] == '/') {
		abs = xstrdup(dir);
	} else {
		char *cwd = getcwd(NULL, 0);

		if (!cwd) {
			free(dir);
			return error_errno("cannot get the current directory"), EXIT_ERROR;
		}
		abs = xasprintf("%s/%s", strcmp(cwd, "/") ? cwd : "", dir);
		free(cwd);
	}
	rc = cacert && !(ca = cacert_arg(cacert)) ? EXIT_ERROR : get_token(url, token_file, &token);
	if (!rc) {
		say("cloning into '%s'\n", show_path(dir));
		rc = check_server(url, token, ca);
	}
	if (!rc) {
		rc = make_dirs_noted(abs, &m) ? EXIT_ERROR : workspace_create(abs, url, token, ca);
		if (!rc)
			m.meta = xasprintf("%s/" WORKSPACE_DIR, abs);
	}
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (!rc) {
		rc = first_pull(abs, &pulled);
		if (rc && !pulled)
			unmake(&m);
	} else {
		unmake(&m);
	}
	made_free(&m);
	free(ca);
	free(abs);
	free(dir);
	return rc;
}
