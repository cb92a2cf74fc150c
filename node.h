/*
 * node.h: a cluster node's lease, and what it tells the other nodes of
 * the pushes it commits and uploads into (node.c). Every call is a no-op
 * or not made on a root that is no cluster node (s->cluster 0).
 */
#ifndef NODE_H
#define NODE_H

#include "serve.h"

/*
 * At start: a new node id in s->node, its lease, and the thread that
 * renews it (s must outlive node_leave). 0, or -1 after a message.
 */
int node_join(struct server *s, struct sql *db);
/* At a clean stop: the lease's thread stopped and the lease given back, so the others need not wait for it. */
void node_leave(struct server *s);
/*
 * The housekeeping's, each tick (at_start: now): the long polls parked
 * here woken when another node's commit moved the head; every few
 * seconds, the pushes of nodes whose lease ran out recovered.
 */
void node_tick(struct server *s, int at_start);
/*
 * A commit's claim on txn id: open to committing by this node, unless
 * an upload stream of a live node runs into it. 1 when claimed, 0 when
 * it was not open, 2 when an upload runs, -1 on a database error.
 */
int node_claim(struct server *s, struct sql *db, const char *id);
/* 1 when an upload stream of a live node runs into txn id (or the database failed), else 0. */
int node_uploading(struct server *s, struct sql *db, const char *id);
/* A claim given back (committing to open), only while it is still this node's: 1, 0 when not, -1. */
int node_unclaim(struct server *s, struct sql *db, const char *id);
/*
 * An upload stream in local slot slot begins into txn id: 1 when it was
 * open (the stream is in the database now), 0 when not, -1 on error.
 */
int node_upload_begin(struct server *s, struct sql *db, const char *id, int slot);
/* The stream in slot slot has ended (from its own thread). */
void node_upload_end(struct server *s, int slot);

#endif
