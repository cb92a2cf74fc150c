/*
 * workspace.c: the workspace a command runs in: finding its root from any
 * subdirectory as git finds .git, locking it, reading .soc/config,
 * opening the index, and turning the user's paths into paths beneath the
 * root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "client.h"

#define LOCK_POLL_MS 20		/* how often a waiting soc tries the lock again */
#define CONFIG_MAX (64 * 1024)	/* a bigger .soc/config is refused */

static const char config_template[] =
	"# soc workspace settings, one 'key = value' a line:\n"
	"#   remote = https://host/      the server (http:// or https://)\n"
	"#   token = ...                 the access token (SOC_TOKEN wins)\n"
	"#   cacert = /path/ca.pem       the CA of an https server's certificate (SOC_CA_BUNDLE wins)\n";

int remote_url_valid(const char *url)
{
	size_t n;

	if (!strncmp(url, "http://", 7))
		n = 7;
	else if (!strncmp(url, "https://", 8))
		n = 8;
	else
		return 0;
	if (!url[n] || url[n] == '/')
		return 0;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits up to LOCK_WAIT_MS for the workspace lock: one soc at a time changes a workspace. */
static int take_lock(struct workspace *ws)
{
	char *path = xasprintf("%s/" LOCK_FILE, ws->root);
	int64_t give_up = now_ns(CLOCK_MONOTONIC) + (int64_t)LOCK_WAIT_MS * 1000000;
	int rc = 0;

	ws->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ws->lock_fd < 0) {
		rc = error_errno("cannot open the lock '%s'", path);
		goto out;
	}
	while (flock(ws->lock_fd, LOCK_EX | LOCK_NB)) {
		struct timespec pause = { 0, LOCK_POLL_MS * 1000000L };

		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			rc = error_errno("cannot lock '%s'", path);
			goto out;
		}
		if (now_ns(CLOCK_MONOTONIC) >= give_up) {
			rc = error("another soc is running in '%s'; try again when it is done", ws->root);
			goto out;
		}
		nanosleep(&pause, NULL);
	}
out:
	free(path);
	return rc;
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* One "key = value" line of .soc/config; -1 after a message naming the file and line. */
static int config_line(struct workspace *ws, const char *file, int lineno, char *line, char *end)
{
	char *eq, *key, *value;

	line = trim(line, end);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return error("%s:%d: not a 'key = value' line", file, lineno);
	key = trim(line, eq);
	value = trim(eq + 1, eq + 1 + strlen(eq + 1));
	if (!*key || !*value)
		return error("%s:%d: not a 'key = value' line", file, lineno);
	if (!strcmp(key, "remote")) {
		if (ws->remote)
			return error("%s:%d: 'remote' is set twice", file, lineno);
		if (!remote_url_valid(value))
			return error("%s:%d: remote '%s' is not an http:// or https:// URL",
				     file, lineno, show_path(value));
		ws->remote = xstrdup(value);
		return 0;
	}
	if (!strcmp(key, "token")) {
		if (ws->token)
			return error("%s:%d: 'token' is set twice", file, lineno);
		ws->token = xstrdup(value);
		return 0;
	}
	if (!strcmp(key, "cacert")) {
		if (ws->cacert)
			return error("%s:%d: 'cacert' is set twice", file, lineno);
		/* Relative to the workspace, wherever in it soc runs; read when a command connects. */
		ws->cacert = value[0] == '/' ? xstrdup(value) : xasprintf("%s/%s", ws->root, value);
		return 0;
	}
	/* Never echo the value: it may be a token on a misspelt line. */
	return error("%s:%d: unknown setting '%s' (soc knows 'remote', 'token' and 'cacert')",
		     file, lineno, show_path(key));
}

static int read_config(struct workspace *ws)
{
	char *file = xasprintf("%s/" CONFIG_FILE, ws->root);
	struct buf text = BUF_INIT;
	struct stat st;
	int fd, rc = 0, lineno = 0;
	char *line, *env;

	fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		goto env;
	if (fd < 0 || fstat(fd, &st)) {
		rc = error_errno("cannot read '%s'", file);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = error("'%s' is not a regular file", file);
		goto out;
	}
	if (st.st_mode & 0044)
		warning("'%s' is readable by other users and may hold a token; run 'chmod 600' on it", file);
	for (;;) {
		ssize_t n;

		buf_grow(&text, 4096);
		n = read(fd, text.p + text.len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = error_errno("cannot read '%s'", file);
			goto out;
		}
		if (n == 0)
			break;
		text.len += (size_t)n;
		if (text.len > CONFIG_MAX) {
			rc = error("'%s' is longer than %d bytes", file, CONFIG_MAX);
			goto out;
		}
	}
	text.p[text.len] = '\0';
	if (strlen(text.p) != text.len) {
		rc = error("'%s' holds a NUL byte", file);
		goto out;
	}
	for (line = text.p; line < text.p + text.len && !rc;) {
		char *nl = strchr(line, '\n');
		char *end = nl ? nl : text.p + text.len;

		rc = config_line(ws, file, ++lineno, line, end);
		line = end + 1;
	}
env:
	env = getenv("SOC_TOKEN");
	if (!rc && env && *env) {
		if (ws->token) {
			explicit_bzero(ws->token, strlen(ws->token));
			free(ws->token);
		}
		ws->token = xstrdup(env);
	}
out:
	if (fd >= 0)
		close(fd);
	if (text.p)
		explicit_bzero(text.p, text.cap);
	buf_free(&text);
	free(file);
	return rc;
}

/* The directory holding .soc/, from the current directory up; NULL after a message. */
static char *find_root(const char *cwd)
{
	struct buf dir = BUF_INIT;

	buf_addstr(&dir, cwd);
	for (;;) {
		struct stat st;
		size_t len = dir.len;
		char *slash;

		buf_addstr(&dir, "/" WORKSPACE_DIR);
		if (!stat(dir.p, &st) && S_ISDIR(st.st_mode)) {
			dir.len = len;
			dir.p[len] = '\0';
			return buf_detach(&dir);
		}
		dir.len = len;
		dir.p[len] = '\0';
		slash = strrchr(dir.p, '/');
		if (len <= 1 || !slash) {
			error("not in a soc workspace (no .soc/ here or in any parent; run 'soc init')");
			buf_free(&dir);
			return NULL;
		}
		dir.len = slash > dir.p ? (size_t)(slash - dir.p) : 1;
		dir.p[dir.len] = '\0';
	}
}

int workspace_open(struct workspace **out)
{
	struct workspace *ws;
	char *cwd = getcwd(NULL, 0), *root, *index;

	if (!cwd)
		return error_errno("cannot get the current directory"), EXIT_ERROR;
	root = find_root(cwd);
	if (!root) {
		free(cwd);
		return EXIT_ERROR;
	}
	ws = xcalloc(1, sizeof(*ws));
	ws->root = root;
	ws->lock_fd = -1;
	if (!strcmp(root, cwd))
		ws->prefix = xstrdup("");
	else
		ws->prefix = xasprintf("%s/", cwd + strlen(root) + (strcmp(root, "/") ? 1 : 0));
	free(cwd);
	ws->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ws->root_fd < 0) {
		error_errno("cannot open '%s'", root);
		workspace_close(ws);
		return EXIT_ERROR;
	}
	if (take_lock(ws) || read_config(ws)) {
		workspace_close(ws);
		return EXIT_ERROR;
	}
	index = xasprintf("%s/" INDEX_FILE, root);
	if (index_open(ws, index)) {
		free(index);
		workspace_close(ws);
		return EXIT_ERROR;
	}
	free(index);
	*out = ws;
	return 0;
}

void workspace_close(struct workspace *ws)
{
	index_close(ws);
	if (ws->lock_fd >= 0)
		close(ws->lock_fd);
	if (ws->root_fd >= 0)
		close(ws->root_fd);
	if (ws->token) {
		explicit_bzero(ws->token, strlen(ws->token));
		free(ws->token);
	}
	free(ws->remote);
	free(ws->cacert);
	free(ws->root);
	free(ws->prefix);
	free(ws);
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
	char *p = xstrdup(dir);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		int last = !*s;
		struct stat st;

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0777) && errno != EEXIST)
			rc = error_errno("cannot make the directory '%s'", p);
		else if (stat(p, &st) || !S_ISDIR(st.st_mode))
			rc = error("'%s' is not a directory", p);
		if (rc || last)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

static int write_new_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0)
		return error_errno("cannot create '%s'", path);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd)) {
		error_errno("cannot write '%s'", path);
		close(fd);
		return -1;
	}
	return close(fd) ? error_errno("cannot write '%s'", path) : 0;
}

int workspace_create(const char *dir, const char *remote, const char *token, const char *cacert)
{
	char *meta = xasprintf("%s/" WORKSPACE_DIR, dir);
	char *config = xasprintf("%s/" CONFIG_FILE, dir);
	char *lock = xasprintf("%s/" LOCK_FILE, dir);
	char *index = xasprintf("%s/" INDEX_FILE, dir);
	struct buf text = BUF_INIT;
	int rc = EXIT_ERROR;

	buf_addstr(&text, config_template);
	if (remote)
		buf_addf(&text, "remote = %s\n", remote);
	if (token)
		buf_addf(&text, "token = %s\n", token);
	if (cacert)
		buf_addf(&text, "cacert = %s\n", cacert);
	if (make_dirs(dir))
		goto out;
	/* mkdir is the test and the claim at once: two inits cannot both win. */
	if (mkdir(meta, 0700)) {
		if (errno == EEXIST)
			error("'%s' is already a soc workspace", dir);
		else
			error_errno("cannot make '%s'", meta);
		goto out;
	}
	if (write_new_file(config, text.p) || write_new_file(lock, "") || index_create(index)) {
		unlink(index);
		unlink(lock);
		unlink(config);
		rmdir(meta);
		goto out;
	}
	rc = EXIT_OK;
out:
	free(meta);
	free(config);
	free(lock);
	free(index);
	explicit_bzero(text.p, text.len);
	buf_free(&text);
	return rc;
}

char *workspace_path(const struct workspace *ws, const char *arg)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t rootlen = strlen(ws->root);
	const char *p;

	if (!*arg) {
		error("an empty path names nothing");
		return NULL;
	}
	if (arg[0] == '/') {
		if (!strcmp(ws->root, "/"))
			buf_addstr(&in, arg + 1);
		else if (!strncmp(arg, ws->root, rootlen) && (!arg[rootlen] || arg[rootlen] == '/'))
			buf_addstr(&in, arg + rootlen);
		else
			goto outside;
	} else {
		buf_addstr(&in, ws->prefix);
		buf_addstr(&in, arg);
	}
	for (p = in.p; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *up;

			if (!out.len)
				goto outside;
			up = memrchr(out.p, '/', out.len);
			out.len = up ? (size_t)(up - out.p) : 0;
			out.p[out.len] = '\0';
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (out.len)
				buf_addch(&out, '/');
			buf_add(&out, p, n);
		}
		p += n + (slash ? 1 : 0);
	}
	buf_free(&in);
	return buf_detach(&out);
outside:
	error("'%s' is outside the workspace '%s'", show_path(arg), ws->root);
	buf_free(&in);
	buf_free(&out);
	return NULL;
}

int workspace_openat(const struct workspace *ws, const char *path, int flags)
{
	return beneath_open(ws->root_fd, path, flags);
}
