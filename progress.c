/*
 * progress.c: the one progress line of a transfer, on a terminal: files
 * and bytes done of the total, the rate, and the time left, redrawn on
 * stderr at most every PROGRESS_MS. Nothing at all when stderr is not a
 * terminal or -q was given. The upload streams and every rsync of a push
 * or a pull add to one line, from as many threads as they run on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sync.h"

#define PROGRESS_MS 200		/* a redraw at most this often */
#define PROGRESS_RATE_MS 1000	/* no rate nor time left before this much has passed */

/* n bytes as "12.3 MiB", in the unit the total is best read in. */
static void bytes_text(char *out, size_t size, uint64_t n, uint64_t total)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)n, scale = 1;
	int u = 0;

	while (u < 4 && (double)total >= 1024 * scale) {
		scale *= 1024;
		u++;
	}
	if (!u)
		snprintf(out, size, "%" PRIu64 " B", n);
	else
		snprintf(out, size, "%.1f %s", d / scale, unit[u]);
}

void progress_start(struct progress *p, const char *what, uint64_t nfiles, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->on = !soc_quiet && isatty(STDERR_FILENO);
	p->what = what;
	p->nfiles = nfiles;
	p->total = total;
	p->t0 = now_ms();
}

/* The line as it stands; the caller holds the lock. */
static void draw(struct progress *p, uint64_t now, int last)
{
	char done[32], all[32], rate[32], tail[80] = "";
	uint64_t ms = now - p->t0;
	int len;

	/* A whole-module pull may bring more than it counted on: never past the total. */
	if (p->files > p->nfiles)
		p->files = p->nfiles;
	if (p->bytes > p->total)
		p->bytes = p->total;
	bytes_text(done, sizeof(done), p->bytes, p->total);
	bytes_text(all, sizeof(all), p->total, p->total);
	if (last) {
		snprintf(tail, sizeof(tail), ", done");
	} else if (ms >= PROGRESS_RATE_MS) {
		double per_s = (double)p->bytes * 1000 / (double)ms;
		uint64_t s = per_s > 0 && p->total > p->bytes ? (uint64_t)((double)(p->total - p->bytes) / per_s) : 0;

		bytes_text(rate, sizeof(rate), (uint64_t)per_s, (uint64_t)per_s);
		snprintf(tail, sizeof(tail), ", %s/s, %" PRIu64 ":%02" PRIu64 " left", rate, s / 60, s % 60);
	}
	len = fprintf(stderr, "\r%s: %" PRIu64 " of %" PRIu64 " files, %s of %s%s", p->what, p->files, p->nfiles,
		      done, all, tail);
	/* Blanks over what a longer line before left. */
	if (len > 0 && (size_t)len < p->width)
		fprintf(stderr, "%*s", (int)(p->width - (size_t)len), "");
	if (len > 0)
		p->width = (size_t)len;
	if (last)
		fputc('\n', stderr);
	atomic_store(&soc_stderr_midline, !last);
	fflush(stderr);
	p->shown = now;
}

void progress_add(struct progress *p, uint64_t files, uint64_t bytes)
{
	uint64_t now;

	if (!p || !p->on)
		return;
	pthread_mutex_lock(&p->lock);
	p->files += files;
	p->bytes += bytes;
	now = now_ms();
	if (now - p->shown >= PROGRESS_MS || p->files == p->nfiles)
		draw(p, now, 0);
	pthread_mutex_unlock(&p->lock);
}

void progress_end(struct progress *p, int done)
{
	if (p->on && p->shown && done)
		draw(p, now_ms(), 1);
	else if (atomic_exchange(&soc_stderr_midline, 0))
		fputc('\n', stderr);
	pthread_mutex_destroy(&p->lock);
}
