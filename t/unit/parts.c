/* parts.c: every item in exactly one run, in order, runs of about equal bytes, each run once. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "soc.h"
#include "tap.h"

static uint64_t weight(size_t i, const void *arg)
{
	const uint64_t *w = arg;

	return w[i];
}

/* The runs cover 0..n-1 in order, each item once. */
static int covers(const struct part_range *r, size_t k, size_t n)
{
	size_t at = 0;

	for (size_t j = 0; j < k; j++) {
		if (r[j].lo != at || r[j].hi < r[j].lo)
			return 0;
		at = r[j].hi;
	}
	return at == n;
}

struct job {
	size_t lo, hi;
	int *seen;
	pthread_mutex_t *mu;
};

static void *mark(void *arg)
{
	struct job *j = arg;

	pthread_mutex_lock(j->mu);
	for (size_t i = j->lo; i < j->hi; i++)
		j->seen[i]++;
	pthread_mutex_unlock(j->mu);
	return NULL;
}

int main(void)
{
	static uint64_t w[1000];
	struct part_range r[PARTS_MAX];
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cores > PARTS_MAX ? PARTS_MAX : cores < 1 ? 1 : (size_t)cores;
	size_t k;

	for (size_t i = 0; i < 1000; i++)
		w[i] = 1000;
	k = parts_plan(1000, weight, w, 1, r);
	ok(k == want, "1,000 items of 1,000 bytes: one run a core, at most %d (%zu)", PARTS_MAX, k);
	ok(covers(r, k, 1000), "the runs cover every item once, in order");
	if (k > 1)
		ok(r[0].hi - r[0].lo == 1000 / k, "equal weights: equal runs (%zu items in the first)",
		   r[0].hi - r[0].lo);
	else
		ok(r[0].hi == 1000, "one core: one run of everything");

	k = parts_plan(1000, weight, w, 400000, r);
	ok(k == (want < 2 ? want : 2), "runs of 400,000 bytes or more: at most 2 of 1,000,000 (%zu)", k);
	ok(covers(r, k, 1000), "and they cover every item");

	k = parts_plan(1000, weight, w, 10000000, r);
	ok(k == 1 && r[0].lo == 0 && r[0].hi == 1000, "less than one run's bytes: one run of everything");

	k = parts_plan(0, weight, w, 1, r);
	ok(k == 1 && r[0].lo == 0 && r[0].hi == 0, "no items: one empty run");

	/* One heavy item first: the rest goes to the other runs. */
	w[0] = 999000;
	k = parts_plan(1000, weight, w, 1, r);
	ok(covers(r, k, 1000), "a heavy item: still every item once");
	if (k > 1)
		ok(r[0].hi == 1, "the heavy item is a run of its own (%zu items)", r[0].hi);
	else
		ok(r[0].hi == 1000, "one core: one run of everything");

	{
		static int seen[1000];
		pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
		struct job j[PARTS_MAX];
		int once = 1;

		for (size_t i = 0; i < PARTS_MAX; i++)
			j[i] = (struct job){ i * 250, (i + 1) * 250, seen, &mu };
		parts_run(PARTS_MAX, mark, j, sizeof(j[0]));
		for (size_t i = 0; i < 1000; i++)
			once &= seen[i] == 1;
		ok(once, "parts_run runs each of %d jobs exactly once", PARTS_MAX);
	}
	return tap_done();
}
