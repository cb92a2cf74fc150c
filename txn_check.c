/*
 * txn_check.c: commit step 1a, the check of a push's staged files, spread
 * over the machine's cores (parts.c). A first push of 10,000 files spent
 * 0.22 s here on one thread, hashing what rsync had just written; the
 * client waits idle meanwhile, so every core may hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "txn.h"

#define CHECK_BYTES_PER_THREAD (4 << 20)	/* a thread costs more than hashing less than this */

/* One thread's share: the items lo..hi-1. */
struct check_part {
	const char *id;
	const struct push_list *l;
	int sfd, cfd;			/* staging/<txn>, commit/<txn>; sfd -1 when staging/<txn> is gone */
	size_t lo, hi;
	unsigned char *bad;		/* bad[i] set for item i that failed; each part writes its own */
	int failed;			/* the server could not read or write its own directories */
};

/*
 * Each file of the part: staging/<txn>/<path> must be a regular file with
 * the size and md5 the push named; it is then hard-linked into
 * commit/<txn>/, and the link checked to be the inode hashed.
 */
static void *check_part(void *arg)
{
	struct check_part *p = arg;
	struct dir_cursor from, to;

	dir_cursor_init(&from, p->sfd, 0, 0);
	/* 0755 as in files/, where a directory made here may be renamed whole. */
	dir_cursor_init(&to, p->cfd, 0755, 0);
	for (size_t i = p->lo; i < p->hi; i++) {
		const struct push_item *it = &p->l->v[i];
		const char *name, *tname;
		char got[MD5_HEX_LEN + 1];
		struct stat st, linked;
		uint64_t size;
		int fd = -1, dir, tp, ok = 0;

		if (it->deleted)
			continue;
		dir = p->sfd >= 0 ? dir_cursor_parent(&from, it->path, &name) : -1;
		if (dir >= 0)
			fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size == it->size) {
			if (md5_fd(fd, got, &size)) {
				error_errno("cannot read 'staging/%s/%s'", p->id, it->path);
				close(fd);
				goto fail;
			}
			ok = size == (uint64_t)it->size && !strcmp(got, it->md5);
		}
		if (ok) {
			/* Another part may make the same directory at once: step_into() takes EEXIST. */
			tp = dir_cursor_parent(&to, it->path, &tname);
			if (tp < 0 || linkat(dir, name, tp, tname, 0)) {
				error_errno("cannot link 'commit/%s/%s'", p->id, it->path);
				close(fd);
				goto fail;
			}
			/* rsync may have put another file there since we opened it. */
			ok = !fstatat(tp, tname, &linked, AT_SYMLINK_NOFOLLOW) &&
			     linked.st_ino == st.st_ino && linked.st_dev == st.st_dev;
		}
		if (fd >= 0)
			close(fd);
		if (!ok)
			p->bad[i] = 1;
	}
	goto out;
fail:
	p->failed = 1;
out:
	dir_cursor_close(&from);
	dir_cursor_close(&to);
	return NULL;
}

/* What a file weighs in the split: its bytes to hash. */
static uint64_t item_bytes(size_t i, const void *arg)
{
	const struct push_list *l = arg;

	return l->v[i].deleted ? 0 : (uint64_t)l->v[i].size;
}

long txn_check_staged(struct server *s, const char *id, const struct push_list *l, json_t *bad)
{
	struct check_part part[PARTS_MAX];
	struct part_range r[PARTS_MAX];
	unsigned char *flags;
	size_t nparts;
	int sfd, cfd = -1, failed = 0;
	long nbad = 0;

	sfd = openat(s->staging_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (remove_tree(s->commit_fd, id) || mkdirat(s->commit_fd, id, 0700) ||
	    (cfd = openat(s->commit_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		error_errno("cannot make 'commit/%s'", id);
		if (sfd >= 0)
			close(sfd);
		return -1;
	}
	flags = xcalloc(l->n ? l->n : 1, 1);
	memset(part, 0, sizeof(part));
	/* In path order, so that each part's cursors walk whole directories as one thread's would. */
	nparts = parts_plan(l->n, item_bytes, l, CHECK_BYTES_PER_THREAD, r);
	for (size_t k = 0; k < nparts; k++) {
		part[k].id = id;
		part[k].l = l;
		part[k].sfd = sfd;
		part[k].cfd = cfd;
		part[k].lo = r[k].lo;
		part[k].hi = r[k].hi;
		part[k].bad = flags;
	}
	parts_run(nparts, check_part, part, sizeof(part[0]));
	for (size_t k = 0; k < nparts; k++)
		failed |= part[k].failed;
	for (size_t i = 0; i < l->n && !failed; i++) {
		if (flags[i]) {
			nbad++;
			json_array_append_new(bad, json_string(l->v[i].path));
		}
	}
	free(flags);
	if (sfd >= 0)
		close(sfd);
	close(cfd);
	return failed ? -1 : nbad;
}
