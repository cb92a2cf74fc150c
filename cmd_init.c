/*
 * cmd_init.c: `soc init [DIR] [--remote URL] [--token-file FILE]`, making
 * a directory a workspace, and the reading of a token from a file, which
 * soc clone shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

const char init_usage[] =
	"usage: soc init [DIR] [--remote URL] [--token-file FILE] [--cacert FILE] [-q]\n"
	"\n"
	"Make DIR (default: the current directory, created if missing) a soc\n"
	"workspace: DIR/.soc/ with its settings (.soc/config, mode 0600) and an\n"
	"empty index. The remote can be set later with a 'remote = URL' line in\n"
	"DIR/.soc/config; the token with 'token = ...' there or SOC_TOKEN.\n"
	"'soc clone URL' does this, checks the token and pulls, in one step.\n"
	"\n"
	"  --remote URL       the server to push to and pull from (http:// or https://)\n"
	"  --token-file FILE  store the token on FILE's first line in .soc/config\n"
	"  --cacert FILE      trust the https server's certificate when FILE's CA signed it\n"
	"  -q, --quiet        say nothing when it worked\n";

int token_valid(const char *token, const char *from)
{
	size_t n = strlen(token);

	if (!n)
		return error("no token in %s", from);
	if (n > TOKEN_MAX)
		return error("the token in %s is longer than %d bytes", from, TOKEN_MAX);
	/* Never echo it: a token that is almost right is still a secret. */
	for (const unsigned char *p = (const unsigned char *)token; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return error("the token in %s has a space, a control or a non-ASCII byte", from);
	return 0;
}

char *token_read_file(const char *path)
{
	/* The first line, its newline, and one byte to tell a longer line. */
	char text[TOKEN_MAX + 3], *start, *end, *token = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *from = xasprintf("the token file '%s'", path);

	if (fd < 0) {
		error_errno("cannot read %s", from);
		goto out;
	}
	while (len < sizeof(text) - 1 && !memchr(text, '\n', len)) {
		ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_errno("cannot read %s", from);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	end = memchr(text, '\n', len);
	if (!end && len > TOKEN_MAX + 1) {
		error("%s has a first line longer than %d bytes", from, TOKEN_MAX);
		goto out;
	}
	if (!end)
		end = text + len;
	if (memchr(text, '\0', (size_t)(end - text))) {
		error("%s holds a NUL byte", from);
		goto out;
	}
	start = text;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	if (!token_valid(start, from))
		token = xstrdup(start);
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(text, sizeof(text));
	free(from);
	return token;
}

char *cacert_arg(const char *path)
{
	char *abs = realpath(path, NULL);
	struct stat st;
	int fd;

	if (!abs) {
		error_errno("cannot read the CA certificate '%s'", show_path(path));
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)abs; *p; p++)
		if (*p < ' ' || *p == 0x7f) {
			error("the CA certificate's path '%s' has a control byte", show_path(abs));
			free(abs);
			return NULL;
		}
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		error_errno("cannot read the CA certificate '%s'", show_path(abs));
	else if (!S_ISREG(st.st_mode))
		error("the CA certificate '%s' is not a file", show_path(abs));
	if (fd >= 0)
		close(fd);
	if (fd < 0 || !S_ISREG(st.st_mode)) {
		free(abs);
		return NULL;
	}
	return abs;
}

int cmd_init(int argc, char **argv, struct workspace *ws)
{
	const char *remote = NULL, *token_file = NULL, *cacert = NULL, *dir;
	const struct opt opts[] = {
		{ 0, "remote", OPT_STRING, &remote, 0 },
		{ 0, "token-file", OPT_STRING, &token_file, 0 },
		{ 0, "cacert", OPT_STRING, &cacert, 0 },
		{ 'q', "quiet", OPT_BOOL, &soc_quiet, 0 },
		OPT_END,
	};
	char *abs, *token = NULL, *ca = NULL;
	int n, rc;

	(void)ws;
	n = opt_parse(argc, argv, opts);
	if (n < 0)
		return usage_error("bad option");
	if (n > 1)
		return usage_error("'init' takes one directory at most");
	if (remote && !remote_url_valid(remote))
		return usage_error("remote '%s' is not an http:// or https:// URL", show_path(remote));
	/* Read before anything is made, so a bad file leaves nothing behind. */
	if (cacert && !(ca = cacert_arg(cacert)))
		return EXIT_ERROR;
	if (token_file && !(token = token_read_file(token_file))) {
		free(ca);
		return EXIT_ERROR;
	}
	dir = n ? argv[0] : ".";
	rc = workspace_create(dir, remote, token, ca);
	free(ca);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (rc)
		return rc;
	abs = realpath(dir, NULL);
	say("initialised an empty soc workspace in '%s'\n", abs ? abs : dir);
	if (!remote)
		say("no remote yet: push and pull need a 'remote = URL' line in '%s/" CONFIG_FILE "'\n",
		    abs ? abs : dir);
	free(abs);
	return EXIT_OK;
}
