/*
 * cmd_tunnel.c: `soc tunnel`, the remote shell rsync runs (-e '<soc>
 * tunnel'). It asks the server to turn one HTTP request into an rsync
 * daemon (POST /api/v1/rsync, Upgrade: soc-rsync; upgrade.c), then
 * copies bytes between rsync (our stdin/stdout) and the socket until
 * either closes. URL and token come from the environment the parent soc
 * set, never from argv, so no token shows in ps; so does the CA
 * (SOC_TUNNEL_CAINFO, SOC_TUNNEL_CAPATH, and SOC_TUNNEL_CAFROM saying
 * where the parent found it). A failure to start is one
 * line on stderr beginning "soc tunnel: ", which the parent, holding
 * rsync's stderr, says in rsync's place (rsync.c).
 *
 * Once the tunnel stands, the process rsync started ends, and a child
 * of it relays. rsync waits for its remote shell after the transfer by
 * polling every 20 ms, and the server's rsync ends 20 ms after its last
 * word, as it waits for its own child so: a tunnel that ended with the
 * connection made every small push 40 ms slower (bench/README). The
 * relay's later failures need no exit code: rsync sees its stream end
 * and fails on its own, and the relay still says why on stderr.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync.h"
#include "testhook.h"

#define TUNNEL_IO (64 * 1024)		/* one relay read */
#define TUNNEL_LINGER_MS (10 * 1000)	/* for the server's end once rsync has gone */
#define TUNNEL_PROTO "soc-rsync"

const char tunnel_usage[] =
	"usage: soc tunnel [RSYNC-ARGS]\n"
	"\n"
	"Used by soc itself as rsync's remote shell: relays rsync's daemon protocol\n"
	"through the soc server's port. Reads SOC_TUNNEL_URL and SOC_TUNNEL_TOKEN,\n"
	"and SOC_TUNNEL_CAINFO and SOC_TUNNEL_CAPATH for https.\n";

/*
 * The descriptors rsync gives us may be non-blocking: a full pipe is a
 * wait, not the end of the transfer. Waiting here is safe, since rsync
 * reads while it waits to write.
 */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd w = { .fd = fd, .events = POLLOUT };

			if (poll(&w, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int relay(struct upgraded *u)
{
	char *io = xmalloc(TUNNEL_IO);
	int in_open = 1, rc = -1;

	for (;;) {
		struct pollfd p[2] = { { .fd = upgrade_fd(u), .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		/*
		 * rsync's first bytes may have come with the 101: the drain below
		 * takes them first. Nobody waits for a relay whose rsync has gone:
		 * the server ends it, or the linger does.
		 */
		int wait_ms = upgrade_pending(u) ? 0 : in_open ? -1 : TUNNEL_LINGER_MS;
		int n = poll(p, in_open ? 2 : 1, wait_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (!n && wait_ms == TUNNEL_LINGER_MS) {
			rc = 0;
			break;
		}
		if (p[0].revents || upgrade_pending(u)) {
			/* Drain: TLS may hold decrypted bytes the socket no longer signals. */
			for (;;) {
				long got = upgrade_recv(u, io, TUNNEL_IO, 0);

				if (got == UPGRADE_AGAIN)
					break;
				if (got <= 0) {
					rc = 0;	/* the daemon finished, or went away: rsync says which */
					goto out;
				}
				/* What comes after rsync has gone has no reader. */
				if (in_open && write_all(1, io, (size_t)got)) {
					error_errno("cannot write to rsync");
					goto out;
				}
			}
		}
		if (in_open && p[1].revents) {
			ssize_t got = read(0, io, TUNNEL_IO);

			if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (got <= 0) {
				in_open = 0;
				upgrade_shutdown_write(u);
				continue;
			}
			if (upgrade_send(u, io, (size_t)got, -1)) {
				error("the connection to the server broke");
				goto out;
			}
		}
	}
out:
	free(io);
	return rc;
}

int cmd_tunnel(int argc, char **argv, struct workspace *ws)
{
	const char *ca_file = getenv("SOC_TUNNEL_CAINFO"), *ca_dir = getenv("SOC_TUNNEL_CAPATH");
	struct remote r = { getenv("SOC_TUNNEL_URL"), getenv("SOC_TUNNEL_TOKEN"), NULL, NULL, NULL };
	struct upgraded *u;
	char msg[256];
	int status, rc;

	(void)argc;
	(void)argv;
	(void)ws;
	if (!r.url || !*r.url || !r.token || !*r.token)
		return error("SOC_TUNNEL_URL and SOC_TUNNEL_TOKEN must be set (soc runs this for rsync)"),
		       EXIT_USAGE;
	/* The CA the parent soc chose (rsync.c): the tunnel trusts what it trusts. */
	if (ca_file && *ca_file) {
		r.ca_file = ca_file;
		r.ca_from = getenv("SOC_TUNNEL_CAFROM") ? getenv("SOC_TUNNEL_CAFROM") : "SOC_TUNNEL_CAINFO";
	}
	if (ca_dir && *ca_dir)
		r.ca_dir = ca_dir;
	u = upgrade_open(&r, "/api/v1/rsync", TUNNEL_PROTO, &status, msg, sizeof(msg));
	if (!u) {
		if (status)
			upgrade_say_refusal(&r, "the transfer", status, msg);
		return EXIT_REMOTE;
	}
	/* The bytes counted must be written before rsync ends: that hook keeps the tunnel whole. */
	if (!test_hook_str(HOOK_TUNNEL_STATS)) {
		pid_t relay_pid = fork();

		/* The child relays; so does this process when fork failed. */
		if (relay_pid > 0)
			_exit(EXIT_OK);
	}
	rc = relay(u) ? EXIT_ERROR : EXIT_OK;
	upgrade_close(u);
	return rc;
}
