/*
 * restore_apply.c: soc restore's old versions placed as local changes.
 * Each file takes the version's content and mode, and the index keeps the
 * base it had (none for a file the workspace no longer tracks), so the
 * scan sees a change and the next push sends it. A file in the way that
 * holds what the server has not got (an edit, a file never pushed, one in
 * conflict) is renamed to NAME.restore-rN.EXT first, never overwritten: a
 * rename keeps every byte, and the copy is an ordinary file. The placing
 * rules are pull's (pull_apply.c): no symlink followed, no name taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pull.h"

/* The local file of row i, tracked (the scan's) or not, or NULL when there is none. */
static const struct scan_item *restore_local(const struct plan *p, size_t i)
{
	if (p->local[i])
		return p->local[i];
	return p->untracked[i].present ? &p->untracked[i] : NULL;
}

/* Moves the file at parent/base aside to a name of its own; 0, or -1 after a message. */
static int restore_keep_copy(struct plan *p, int parent, const char *base, const char *path,
			     long long rev, struct counts *c)
{
	char *cname = NULL;
	const char *cbase;
	int k, moved;

	for (k = 1; k <= CONFLICT_COPIES_MAX; k++) {
		free(cname);
		cname = conflict_name(path, "restore", rev, k);
		cbase = strrchr(cname, '/');
		cbase = cbase ? cbase + 1 : cname;
		moved = rename_new(parent, base, parent, cbase);
		if (moved < 0) {
			error_errno("cannot keep '%s' as '%s'", show_path(path), show_path(cname));
			free(cname);
			return -1;
		}
		if (moved) {
			note_placed(p, cname);
			c->kept++;
			fprintf(stderr, "%s: kept your '%s' as '%s'\n", soc_prog, show_path(path), show_path(cname));
			free(cname);
			return 0;
		}
	}
	error("cannot keep your '%s': '%s' and %d more names like it are taken", show_path(path),
	      show_path(cname), CONFLICT_COPIES_MAX - 1);
	free(cname);
	return -1;
}

static int restore_one(struct workspace *ws, int root, int inc, struct plan *p, size_t i,
		       long long rev, struct counts *c)
{
	const struct remote_row *r = &p->rows[i];
	const struct scan_item *it = restore_local(p, i);
	struct digest tracked_base = p->local[i] ? p->local[i]->e.base : (struct digest){ { 0 }, 0 };
	unsigned tracked_mode = p->local[i] ? p->local[i]->e.base_mode : 0;
	const char *base;
	struct stat st;
	struct entry e;
	int parent, rc = -1, placed;

	parent = open_parent(root, r->path, &base, p->act[i] == A_TAKE);
	if (parent < 0)
		return -1;
	if (p->act[i] == A_RECORD) {
		/* The content is there already: it takes the version's mode and is tracked. */
		if (set_exec(parent, base, r->path, r->mode))
			goto out;
	} else if (!fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW)) {
		/* Only a tracked file as it was synced, and still as the scan saw it, is replaced. */
		int synced = p->local[i] && it->change == CH_NONE && unchanged_since_scan(parent, base, it);

		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
			error("cannot restore '%s': something that is not a file is in the way", show_path(r->path));
			goto out;
		}
		if (!synced && restore_keep_copy(p, parent, base, r->path, rev, c))
			goto out;
		if (set_exec(inc, r->path, r->path, r->mode))
			goto out;
		placed = synced ? !renameat(inc, r->path, parent, base) : rename_new(inc, r->path, parent, base);
		if (placed <= 0) {
			if (!placed)
				errno = EEXIST;
			error_errno("cannot write '%s'", show_path(r->path));
			goto out;
		}
	} else if (errno != ENOENT) {
		error_errno("cannot look at '%s'", show_path(r->path));
		goto out;
	} else {
		if (set_exec(inc, r->path, r->path, r->mode))
			goto out;
		placed = rename_new(inc, r->path, parent, base);
		if (placed <= 0) {
			if (!placed)
				errno = EEXIST;
			error_errno("cannot write '%s'", show_path(r->path));
			goto out;
		}
	}
	note_placed(p, r->path);
	if (entry_from_stat(parent, base, r->path, r->hash, r->mode, &e))
		goto out;
	e.base = tracked_base;
	e.base_mode = tracked_mode;
	if (index_add_file(ws, r->path) || index_record(ws, &e) ||
	    (!p->local[i] && track_top_dir(ws, p, r->path)))
		goto out;
	c->restored++;
	rc = 0;
out:
	close(parent);
	return rc;
}

int restore_apply(struct workspace *ws, int root, int inc, struct plan *p, long long rev,
		  struct counts *c)
{
	int failed = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->act[i] != A_NONE && restore_one(ws, root, inc, p, i, rev, c))
			failed = 1;
	return failed;
}
