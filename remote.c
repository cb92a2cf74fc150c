/*
 * remote.c: the server a workspace talks to, its token, and the CA it
 * trusts for it (cacert in the config, SOC_CA_BUNDLE, or curl's own
 * variables), checked before any request so a wrong path is named at
 * once rather than as a failed handshake; that CA given to a curl
 * handle, and a failure to reach the server told in words that name it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "sync.h"

/* The CA's path made absolute, so the tunnel rsync starts finds it from any directory. */
static char ca_path[PATH_MAX];

/* file (a CA bundle, or with dir set a directory of them) checked and kept; 0, or -1 after a message. */
static int ca_check(const char *file, int dir, const char *from, const char **out)
{
	struct stat st;
	int fd = open(file, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		error_errno("cannot read the CA %s '%s' that %s names", dir ? "directory" : "certificate",
			    show_path(file), from);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (!dir && !S_ISREG(st.st_mode))
		return error("the CA certificate '%s' that %s names is not a file", show_path(file), from);
	if (!dir && !realpath(file, ca_path))
		return error_errno("cannot resolve the CA certificate '%s' that %s names", show_path(file), from);
	*out = dir ? file : ca_path;
	return 0;
}

int remote_ca(struct remote *r, const char *cacert, const char *cacert_from)
{
	const char *env[] = { "CURL_CA_BUNDLE", "SSL_CERT_FILE" }, *v;
	size_t i;

	r->ca_file = r->ca_dir = r->ca_from = NULL;
	if ((v = getenv("SOC_CA_BUNDLE")) && *v) {
		r->ca_from = "SOC_CA_BUNDLE";
	} else if ((v = cacert)) {
		r->ca_from = cacert_from;
	} else {
		for (i = 0; i < sizeof(env) / sizeof(*env) && !r->ca_from; i++)
			if ((v = getenv(env[i])) && *v)
				r->ca_from = env[i];
	}
	if (r->ca_from && ca_check(v, 0, r->ca_from, &r->ca_file))
		return -1;
	if ((v = getenv("SSL_CERT_DIR")) && *v && ca_check(v, 1, "SSL_CERT_DIR", &r->ca_dir))
		return -1;
	return 0;
}

int remote_of(const struct workspace *ws, struct remote *r)
{
	static char from[PATH_MAX + 64];

	memset(r, 0, sizeof(*r));
	if (!ws->remote || !ws->remote[0]) {
		error("no remote configured; set one with 'soc init --remote URL' "
		      "or a 'remote = URL' line in %s/" WORKSPACE_DIR "/config", ws->root);
		return EXIT_ERROR;
	}
	r->url = ws->remote;
	r->token = ws->token;
	if (!r->token || !r->token[0]) {
		error("no token for '%s'; set SOC_TOKEN or a 'token = ...' line in "
		      "%s/" WORKSPACE_DIR "/config", ws->remote, ws->root);
		return EXIT_REMOTE;
	}
	if (ws->cacert)
		snprintf(from, sizeof(from), "'cacert' in %s/" CONFIG_FILE, ws->root);
	if (remote_ca(r, ws->cacert, from))
		return EXIT_ERROR;
	return 0;
}

void net_tls(void *curl, const struct remote *r)
{
	if (r->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, r->ca_file);
	if (r->ca_dir)
		curl_easy_setopt(curl, CURLOPT_CAPATH, r->ca_dir);
}

void net_say_unreachable(const struct remote *r, int curl_code, const char *detail)
{
	CURLcode rc = (CURLcode)curl_code;
	const char *why = detail && *detail ? detail : curl_easy_strerror(rc);

	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_ISSUER_ERROR) {
		if (r->ca_file)
			error("the server at '%s' has a certificate that the CA in '%s' (%s) does not vouch for (%s); "
			      "name the CA that signed it with 'cacert = PATH' in " CONFIG_FILE " or SOC_CA_BUNDLE",
			      r->url, r->ca_file, r->ca_from, why);
		else
			error("the server at '%s' has a certificate this machine does not trust (%s); "
			      "if a private CA signed it, name that CA with 'cacert = PATH' in "
			      CONFIG_FILE " or SOC_CA_BUNDLE", r->url, why);
	} else if (rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
		error("cannot use the CA '%s' (%s) for the server at '%s': %s",
		      r->ca_file ? r->ca_file : r->ca_dir ? r->ca_dir : "libcurl's default",
		      r->ca_from ? r->ca_from : "SSL_CERT_DIR", r->url, why);
	} else if (rc == CURLE_SSL_CONNECT_ERROR &&
		   (strstr(why, "wrong version number") || strstr(why, "packet length too long"))) {
		error("the server at '%s' does not speak TLS on that port (%s): try http:// or check the port",
		      r->url, why);
	} else {
		error("cannot reach the server at '%s': %s", r->url, why);
	}
}
