/* client.h: what the client-side files (workspace, index, scan, commands) share. */
#ifndef CLIENT_H
#define CLIENT_H

#include "soc.h"

#define WORKSPACE_DIR ".soc"

struct workspace {
	char *root;	/* absolute path of the directory holding .soc/ */
	char *prefix;	/* the current directory relative to root, "" or "a/b/" */
};

/* Finds .soc/ from the current directory up; returns 0 or an exit code after one message. */
int workspace_open(struct workspace **ws);
void workspace_close(struct workspace *ws);

#endif
