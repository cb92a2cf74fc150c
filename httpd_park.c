/*
 * httpd_park.c: the connection loop's long polls (http_park), as a list:
 * each parked connection waits for a value (a head) past its own, or for
 * its deadline. Any thread may raise the value (httpd_wake); only the
 * loop's thread touches the list. This file decides which connection runs
 * again; the loop (httpd.c) runs it.
 */
#include "httpd_conn.h"

void park_init(struct park *p)
{
	p->head.next = p->head.prev = &p->head;
	p->n = 0;
	atomic_store(&p->value, 0);
	p->seen = 0;
}

void park_add(struct park *p, struct conn *c, long long since)
{
	c->park_since = since;
	c->prev = p->head.prev;
	c->next = &p->head;
	p->head.prev->next = c;
	p->head.prev = c;
	p->n++;
}

void park_del(struct park *p, struct conn *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->prev = c->next = NULL;
	p->n--;
}

void park_raise(struct park *p, long long value)
{
	long long seen = atomic_load(&p->value);

	while (seen < value && !atomic_compare_exchange_weak(&p->value, &seen, value))
		;
}

int park_passed(struct park *p, long long since)
{
	return atomic_load(&p->value) > since;
}

int park_risen(struct park *p)
{
	long long v = atomic_load(&p->value);

	if (v <= p->seen)
		return 0;
	p->seen = v;
	return 1;
}

struct conn *park_next(struct park *p, uint64_t now, int *expired, uint64_t *next)
{
	long long v = atomic_load(&p->value);

	for (struct conn *c = p->head.next; c != &p->head; c = c->next) {
		if (c->park_since < v || c->deadline <= now) {
			*expired = c->park_since >= v;
			return c;
		}
		if (c->deadline < *next)
			*next = c->deadline;
	}
	return NULL;
}
