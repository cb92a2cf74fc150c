/* buf.c: a growable, always NUL-terminated byte buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "soc.h"

void buf_grow(struct buf *b, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - b->len - 1)
		die("buffer size overflow");
	want = b->len + extra + 1;
	if (want <= b->cap)
		return;
	if (b->cap && want < b->cap * 2)
		want = b->cap * 2;
	if (want < 64)
		want = 64;
	b->p = xrealloc(b->p, want);
	b->cap = want;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* vsnprintf twice, the first to size: a va_list is used once, so the caller's is copied. */
static void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0)
		die("cannot format '%s'", fmt);
	buf_grow(b, (size_t)n);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
	va_end(again);
	b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *buf_detach(struct buf *b)
{
	char *p;

	if (!b->p) {
		buf_grow(b, 0);
		b->p[0] = '\0';
	}
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int buf_write(int fd, const struct buf *b)
{
	return write_full(fd, b->p, b->len);
}

int buf_read_fd(struct buf *b, int fd, size_t n)
{
	buf_reset(b);
	buf_grow(b, n);
	while (b->len < n) {
		ssize_t k = pread(fd, b->p + b->len, n - b->len, (off_t)b->len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b->len += (size_t)k;
	}
	b->p[b->len] = '\0';
	return 0;
}

char *xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b);
}
