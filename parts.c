/*
 * parts.c: a list's work cut into runs of about equal bytes, in order,
 * each run on a thread of its own, one a core: for hashing what rsync
 * just wrote, while the other side of the transfer waits idle (the
 * server's check of a push, a pull's check of its downloads).
 */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "soc.h"

size_t parts_plan(size_t n, uint64_t (*size)(size_t i, const void *arg), const void *arg,
		  uint64_t min_bytes, struct part_range r[PARTS_MAX])
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t total = 0, acc = 0;
	size_t want, i = 0;

	for (size_t k = 0; k < n; k++)
		total += size(k, arg);
	want = min_bytes ? (size_t)(total / min_bytes) : PARTS_MAX;
	if (cores > 0 && want > (size_t)cores)
		want = (size_t)cores;
	if (want > PARTS_MAX)
		want = PARTS_MAX;
	if (!want)
		want = 1;
	for (size_t k = 0; k < want; k++) {
		uint64_t end = total / want * (k + 1);

		r[k].lo = i;
		while (i < n && (k == want - 1 || acc < end))
			acc += size(i++, arg);
		r[k].hi = i;
	}
	return want;
}

void parts_run(size_t n, void *(*fn)(void *), void *arg, size_t stride)
{
	pthread_t t[PARTS_MAX];
	int started[PARTS_MAX] = { 0 };
	char *base = arg;

	for (size_t k = 1; k < n && k < PARTS_MAX; k++)
		started[k] = !pthread_create(&t[k], NULL, fn, base + k * stride);
	if (n)
		fn(base);
	for (size_t k = 1; k < n && k < PARTS_MAX; k++) {
		if (started[k])
			pthread_join(t[k], NULL);
		else
			fn(base + k * stride);
	}
}

/* On Linux a thread is a task of its own: its id is what setpriority takes. */
void thread_nice(int n)
{
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), n);
}
