/*
 * upload_slots.c: the upload streams running, by txn and token, and the
 * gate a commit, abort or expiry passes before it changes a txn. Apart
 * from upload_serve.c so that txn.c can close the gate without calling
 * into the stream it guards.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "txn.h"

_Static_assert(UPLOADS_PER_TOKEN >= UPLOAD_STREAMS_PER_PUSH, "a token's share holds one push at full width");

/* The streams, with their sockets so that a stop can cut them short. Its lock is the gate. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone = PTHREAD_COND_INITIALIZER;
static struct {
	char id[TXN_ID_LEN + 1];	/* "" when the slot is free */
	char who[TOKEN_NAME_MAX + 1];	/* the token's name */
	int fd;				/* -1 until the 101 is sent */
	struct push_list *items;	/* the txn's, shared by its streams */
} slots[UPLOADS_MAX];
static int running, stopping;

static int find(const char *id)
{
	for (int i = 0; i < UPLOADS_MAX; i++)
		if (!strcmp(slots[i].id, id))
			return i;
	return -1;
}

static int count(const char *id)
{
	int n = 0;

	for (int i = 0; i < UPLOADS_MAX; i++)
		n += !strcmp(slots[i].id, id);
	return n;
}

static int count_token(const char *who)
{
	int n = 0;

	for (int i = 0; i < UPLOADS_MAX; i++)
		n += slots[i].id[0] && !strcmp(slots[i].who, who);
	return n;
}

int upload_gate_enter(const char *id)
{
	pthread_mutex_lock(&lock);
	return find(id) >= 0;
}

void upload_gate_leave(void)
{
	pthread_mutex_unlock(&lock);
}

int upload_slot_free(const char *id, const char *who)
{
	int slot;

	if (count(id) >= UPLOAD_STREAMS_PER_PUSH)
		return SLOT_PUSH_FULL;
	slot = find("");
	if (slot < 0 || stopping)
		return SLOT_SERVER_FULL;
	if (count_token(who) >= UPLOADS_PER_TOKEN)
		return SLOT_TOKEN_FULL;
	return slot;
}

struct push_list *upload_slot_items(const char *id)
{
	int slot = find(id);

	return slot < 0 ? NULL : slots[slot].items;
}

void upload_slot_take(int slot, const char *id, const char *who, struct push_list *items)
{
	slots[slot].items = items;
	snprintf(slots[slot].id, sizeof(slots[slot].id), "%s", id);
	snprintf(slots[slot].who, sizeof(slots[slot].who), "%s", who);
	slots[slot].fd = -1;
	running++;
}

void upload_slot_sock(int slot, int fd)
{
	pthread_mutex_lock(&lock);
	slots[slot].fd = fd;
	if (stopping)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&lock);
}

void upload_slot_release(int slot)
{
	struct push_list *items;

	pthread_mutex_lock(&lock);
	items = slots[slot].items;
	slots[slot].fd = -1;
	slots[slot].items = NULL;
	for (int i = 0; i < UPLOADS_MAX && items; i++)
		if (slots[i].items == items)
			items = NULL;
	if (items) {
		txn_items_keep(slots[slot].id, items);
		free(items);
	}
	slots[slot].id[0] = '\0';
	running--;
	pthread_cond_broadcast(&gone);
	pthread_mutex_unlock(&lock);
}

void upload_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	for (int i = 0; i < UPLOADS_MAX; i++)
		if (slots[i].id[0] && slots[i].fd >= 0)
			shutdown(slots[i].fd, SHUT_RDWR);
	while (running)
		pthread_cond_wait(&gone, &lock);
	pthread_mutex_unlock(&lock);
}
