/* usage.c: error, warning and die messages with the command's prefix, and allocation that never returns NULL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "soc.h"

const char *soc_prog = "soc";
const char *soc_cmd_usage;
int soc_quiet;
atomic_int soc_stderr_midline;

/* A progress line (progress.c) is ended before a message goes under it. */
static void end_midline(void)
{
	if (atomic_exchange(&soc_stderr_midline, 0))
		fputc('\n', stderr);
}

_Thread_local int soc_thread_silent;

static void report(const char *kind, const char *fmt, va_list ap, int errnum)
{
	char msg[1024];

	if (soc_thread_silent)
		return;
	end_midline();
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum)
		fprintf(stderr, "%s: %s%s: %s\n", soc_prog, kind, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s%s\n", soc_prog, kind, msg);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report("", fmt, ap, 0);
	va_end(ap);
	return -1;
}

int error_errno(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	report("", fmt, ap, e);
	va_end(ap);
	errno = e;
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report("warning: ", fmt, ap, 0);
	va_end(ap);
}

void warning_errno(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	report("warning: ", fmt, ap, e);
	va_end(ap);
	errno = e;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report("", fmt, ap, 0);
	va_end(ap);
	exit(EXIT_ERROR);
}

void die_errno(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	report("", fmt, ap, e);
	va_end(ap);
	exit(EXIT_ERROR);
}

int soc_quiet_nothing_done;

static void vsay(int silent, const char *fmt, va_list ap)
{
	if (soc_quiet || silent)
		return;
	end_midline();
	vfprintf(stderr, fmt, ap);
}

void say_nothing_done(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(soc_quiet_nothing_done, fmt, ap);
	va_end(ap);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(0, fmt, ap);
	va_end(ap);
}

/*
 * The server's log is its stderr, kept by whoever supervises it (journald,
 * a file, a terminal), so a line must say when it happened by itself. From
 * log_stamp_start() on, stderr is a line-buffered stream whose writer puts
 * the time at the start of every line, whoever prints it: error(), a
 * request's line, a message of the push code. stdio's lock on the stream
 * keeps each fprintf whole among threads, and the stamp goes out in the
 * same write as the line's first bytes. A child's stderr is still fd 2,
 * unstamped.
 */
#define LOG_STAMP_FORMAT "%Y-%m-%dT%H:%M:%SZ "
#define LOG_STAMP_MAX sizeof("2026-12-02T13:50:01Z ")

static int stamp_line_start = 1;	/* under the stream's lock */
static time_t stamp_time = -1;		/* the second stamp_text says, under the lock too */
static char stamp_text[LOG_STAMP_MAX];

/* The stamp for now: strftime once a second, not once a line (a line a request). */
static const char *stamp_now(void)
{
	time_t t = time(NULL);
	struct tm tm;

	if (t != stamp_time) {
		if (!gmtime_r(&t, &tm) || !strftime(stamp_text, sizeof(stamp_text), LOG_STAMP_FORMAT, &tm))
			stamp_text[0] = '\0';
		stamp_time = t;
	}
	return stamp_text;
}

/* A log write that fails is dropped: nothing the server does waits on its log. */
static void write_all(int fd, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

static ssize_t stamp_write(void *cookie, const char *p, size_t n)
{
	int e = errno;
	size_t done = 0;

	(void)cookie;
	while (done < n) {
		const char *nl = memchr(p + done, '\n', n - done);
		size_t len = nl ? (size_t)(nl - (p + done)) + 1 : n - done;
		const char *stamp = stamp_line_start ? stamp_now() : "";
		struct iovec iov[2];

		iov[0].iov_base = (char *)stamp;
		iov[0].iov_len = strlen(stamp);
		iov[1].iov_base = (char *)p + done;
		iov[1].iov_len = len;
		write_all(STDERR_FILENO, iov, 2);
		stamp_line_start = nl != NULL;
		done += len;
	}
	errno = e;
	return (ssize_t)n;
}

int log_stamp_start(void)
{
	cookie_io_functions_t io = { .write = stamp_write };
	FILE *f;

	fflush(stderr);
	f = fopencookie(NULL, "w", io);
	if (!f)
		return error_errno("cannot set up the time-stamped log");
	if (setvbuf(f, NULL, _IOLBF, BUFSIZ)) {
		fclose(f);
		return error("cannot set up the time-stamped log");
	}
	/* glibc's stderr is a variable, made to be assigned. */
	stderr = f;
	return 0;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		die("out of memory allocating %zu x %zu bytes", nmemb, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die("out of memory allocating %zu bytes", n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory copying a string");
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		die("out of memory copying a string");
	return p;
}

int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", soc_prog, msg);
	if (soc_cmd_usage)
		fputs(soc_cmd_usage, stderr);
	return EXIT_USAGE;
}
