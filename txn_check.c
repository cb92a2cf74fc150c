/*
 * txn_check.c: commit step 1, the check of a push's staged files, spread
 * over the machine's cores (parts.c). Hashing what rsync had just written
 * is most of a large push's commit, and the client waits idle meanwhile,
 * so every core may hash. The upload stream's files were hashed as they
 * were written (upload_serve.c): those are taken as they are.
 *
 * Each file is checked, given the mode and mtime its change line names,
 * linked out of rsync's reach and kept in versions/ in one visit while its
 * fd is open: a second pass (open, fstat, close each file) would add to a
 * large push's commit, and the versions/ links are spread over the cores
 * with the hashing. The caller holds versions_lock; a check that fails
 * leaves blobs no revision names, which gc takes.
 *
 * Durable: up to SYNC_EACH_MAX files get an fsync each. Past that, an
 * fsync a file costs a device flush a file (several times the commit
 * without them), so one syncfs(2) of the root's filesystem writes them
 * all. Starting each file's writeback first (sync_file_range) only moved
 * the wait into this loop, and cost more in all (bench/README). A small
 * push never syncs the filesystem, so it never waits for someone else's
 * big upload to be flushed. The apply follows the same rule for the
 * directories it changes. A cluster node syncs its blob directory's
 * filesystem only when it is a local disk's (s->blobs_syncfs; PROTOCOL.md
 * section 10b): on a shared mount, past SYNC_EACH_MAX, it fsyncs the
 * files after the check, SYNC_THREADS at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhook.h"
#include "txn.h"
#include "versions.h"

#define CHECK_BYTES_PER_THREAD (4 << 20)	/* a thread costs more than hashing less than this */
#define SYNC_THREADS 16			/* fsyncs a cluster node's commit keeps in flight */
#define COPY_NAME ".soc"		/* a temporary in commit/<txn>/: never a valid path component */

enum { ITEM_BAD = 1, ITEM_COPY = 2 };	/* a part's verdict on an item, in flags[i] */

/* errno of the call that just failed, for the commit's answer (507 on a full disk). */
static int failure(void)
{
	return errno ? errno : EIO;
}

/* One thread's share: the items lo..hi-1. */
struct check_part {
	struct server *s;
	const char *id;
	const struct push_list *l;
	int sfd, cfd;			/* staging/<txn>, commit/<txn>; sfd -1 when staging/<txn> is gone */
	int sync_each;			/* fsync each file (a small push) */
	size_t lo, hi;
	unsigned char *flags;		/* ITEM_* of item i; each part writes its own */
	int failed;			/* errno when the server could not read or write its own directories */
	struct versions_touched kept;	/* the versions/XX this part linked into */
	struct stage_follow *fol;	/* digests taken while rsync wrote (stage_follow.c), or NULL */
	uint64_t followed, hashed;	/* bytes whose digest was taken so, and bytes hashed here */
	uint64_t marked, looked;	/* uploaded files taken as marked, and looked at */
};

/* -1, after the message for an item the commit could not keep in versions/. */
static int keep_failed(const struct check_part *p, const struct push_item *it)
{
	return error_errno("cannot keep 'commit/%s/%s' in " VERSIONS_DIR "/", p->id, it->path);
}

/*
 * A file the upload stream put in commit/<txn>/ (upload_serve.c): it
 * hashed the bytes as it wrote them and gave the file the item's mode
 * and mtime only when they were the item's sha256. Nothing else writes
 * in commit/ but this check, so what is there with the item's size, mode
 * and mtime was checked and needs no second read. 1 when taken (made
 * durable when each file is, kept in versions/), 0 when there is none
 * (anything else there is removed), -1 when the server failed.
 *
 * A file this server's stream marked in the item (push_item_stored) is
 * taken without even a look, a million fstatat(2) fewer in a big push:
 * no stream began its path since. A small push looks, as it opens each
 * file to sync it; so does a cluster node, whose commit/ another node's
 * recovery may empty. Should the marked file be gone all the same, the
 * look says so and the commit names it missing.
 */
static int check_uploaded(struct check_part *p, int tp, const char *tname, const struct push_item *it)
{
	struct stat st;
	int fd;

	if (!p->sync_each && !p->s->cluster && push_item_stored(it)) {
		if (versions_keep(p->s, tp, tname, it->hash, &p->kept) >= 0)
			return p->marked++, 1;
		if (errno != ENOENT)
			return keep_failed(p, it);
	}
	p->looked++;
	if (fstatat(tp, tname, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : error_errno("cannot look at 'commit/%s/%s'", p->id, it->path);
	if (!S_ISREG(st.st_mode) || st.st_size != it->size || (st.st_mode & 07777) != it->mode ||
	    st.st_mtime != (time_t)it->mtime) {
		if (unlinkat(tp, tname, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0))
			return error_errno("cannot remove 'commit/%s/%s'", p->id, it->path);
		return 0;
	}
	if (p->sync_each) {
		fd = openat(tp, tname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fsync(fd)) {
			error_errno("cannot sync 'commit/%s/%s'", p->id, it->path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (versions_keep(p->s, tp, tname, it->hash, &p->kept) < 0)
		return keep_failed(p, it);
	return 1;
}

/*
 * One file of the push: the upload stream's in commit/<txn>/, else the
 * staged one, found through from: a regular file of the item's size and
 * sha256, given its mode and mtime, then hard-linked into commit/<txn>/
 * (to), the link checked to be the inode hashed, and that link kept in
 * versions/.
 * 0 when done, ITEM_BAD when the file is not what the push named,
 * ITEM_COPY when done but its inode is shared with files/ and needs
 * another mode (txn_check_staged copies it), -1 when the server failed
 * (after a message).
 *
 * A link count of one means the inode is this staged file's alone: rsync
 * wrote it (the push module refuses --hard-links, so rsync can link
 * nothing in staging/ to it), and content the server held already has a
 * second link in files/. So its mode and mtime are set in place, before
 * the link, through the fd that was hashed.
 */
static int check_file(struct check_part *p, struct dir_cursor *from, const struct push_item *it,
		      struct dir_cursor *to)
{
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)it->mtime, 0 } };
	char got[HASH_HEX_LEN + 1];
	struct stat st, linked;
	const char *tname, *name = NULL;
	uint64_t size;
	int fd = -1, dir = -1, tp, own, rc;

	/* Another part may make the same directory at once: step_into() takes EEXIST. */
	tp = dir_cursor_parent(to, it->path, &tname);
	if (tp < 0)
		return error_errno("cannot make the directory of 'commit/%s/%s'", p->id, it->path);
	rc = check_uploaded(p, tp, tname, it);
	if (rc)
		return rc < 0 ? -1 : 0;
	rc = ITEM_BAD;
	/* Only now: a push the stream took whole has no staged directory to look in, file after file. */
	if (p->sfd >= 0)
		dir = dir_cursor_parent(from, it->path, &name);
	fd = dir < 0 ? -1 : openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size != it->size)
		goto out;
	if (stage_follow_digest(p->fol, &st, it->hash, got)) {
		size = (uint64_t)st.st_size;
		p->followed += size;
	} else if (hash_fd(fd, got, &size)) {
		rc = error_errno("cannot read 'staging/%s/%s'", p->id, it->path);
		goto out;
	} else {
		p->hashed += size;
	}
	if (size != (uint64_t)it->size || strcmp(got, it->hash))
		goto out;
	own = st.st_nlink == 1;
	if (own && (((st.st_mode & 07777) != it->mode && fchmod(fd, it->mode)) ||
		    (st.st_mtime != (time_t)it->mtime && futimens(fd, times)))) {
		rc = error_errno("cannot settle 'staging/%s/%s'", p->id, it->path);
		goto out;
	}
	if (linkat(dir, name, tp, tname, 0)) {
		rc = error_errno("cannot link 'commit/%s/%s'", p->id, it->path);
		goto out;
	}
	/* rsync may have put another file there since we opened it: never left in commit/, where it is trusted. */
	if (fstatat(tp, tname, &linked, AT_SYMLINK_NOFOLLOW) || linked.st_ino != st.st_ino ||
	    linked.st_dev != st.st_dev) {
		if (unlinkat(tp, tname, 0) && errno != ENOENT)
			rc = error_errno("cannot remove 'commit/%s/%s'", p->id, it->path);
		goto out;
	}
	if (p->sync_each && fsync(fd)) {
		rc = error_errno("cannot sync 'commit/%s/%s'", p->id, it->path);
		goto out;
	}
	/* From commit/, where rsync cannot swap the name for another inode. */
	if (versions_keep(p->s, tp, tname, it->hash, &p->kept) < 0) {
		rc = keep_failed(p, it);
		goto out;
	}
	rc = !own && (st.st_mode & 07777) != it->mode ? ITEM_COPY : 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static void *check_part(void *arg)
{
	struct check_part *p = arg;
	struct dir_cursor from, to;

	dir_cursor_init(&from, p->sfd, 0, 0);
	/* 0755 as in files/, where a directory made here may be renamed whole. */
	dir_cursor_init(&to, p->cfd, 0755, 0);
	for (size_t i = p->lo; i < p->hi && !p->failed; i++) {
		const struct push_item *it = &p->l->v[i];
		int rc;

		if (!push_item_file(it))
			continue;
		rc = check_file(p, &from, it, &to);
		if (rc < 0)
			p->failed = failure();
		else
			p->flags[i] = (unsigned char)rc;
	}
	dir_cursor_close(&from);
	dir_cursor_close(&to);
	return NULL;
}

/*
 * Content the server held already, linked from files/, that the push
 * names with another mode: commit/<txn>/<path> becomes a copy of its
 * own, so the head's other path keeps its mode. Rare, so on one thread.
 */
static int own_copy(const char *id, int cfd, const struct push_item *it, int sync_each)
{
	const struct timespec times[2] = { { 0, UTIME_OMIT }, { (time_t)it->mtime, 0 } };
	struct dir_cursor dc;
	const char *name;
	int dir, fd = -1, copy = -1, rc = -1;

	dir_cursor_init(&dc, cfd, 0, 0);
	dir = dir_cursor_parent(&dc, it->path, &name);
	if (dir >= 0)
		fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		copy = copy_file_at(fd, cfd, COPY_NAME, it->mode);
	/* Whole before its name is: a later try trusts what it finds in commit/ (check_uploaded). */
	if (copy >= 0 && !futimens(copy, times) && (!sync_each || !fsync(copy)) &&
	    !renameat(cfd, COPY_NAME, dir, name))
		rc = 0;
	else
		error_errno("cannot give 'commit/%s/%s' a copy of its own", id, it->path);
	if (copy >= 0)
		close(copy);
	if (fd >= 0)
		close(fd);
	dir_cursor_close(&dc);
	return rc;
}

/* 1 when the two directories are on one filesystem (one syncfs makes both durable). */
static int same_fs(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev;
}

/* One thread of sync_files: the files k, k + step, k + 2 step... of the push. */
struct sync_part {
	const char *id;
	int cfd;
	const struct push_list *l;
	size_t k, step;
	int failed;		/* errno */
};

static void *sync_part(void *arg)
{
	struct sync_part *p = arg;

	for (size_t i = p->k; i < p->l->n && !p->failed; i += p->step) {
		const struct push_item *it = &p->l->v[i];
		int fd;

		if (!push_item_file(it))
			continue;
		/* commit/<txn>/ is the server's own, out of rsync's reach: no link on the way. */
		fd = openat(p->cfd, it->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fsync(fd)) {
			p->failed = failure();
			error_errno("cannot sync 'commit/%s/%s'", p->id, it->path);
		}
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/*
 * Each file of commit/<txn>/ fsync'd, SYNC_THREADS at once: fsyncs in
 * flight together share the journal's commits, and on a network mount
 * each is a round trip. 0, or -1 and errno after a message.
 */
static int sync_files(const char *id, int cfd, const struct push_list *l)
{
	pthread_t t[SYNC_THREADS];
	struct sync_part p[SYNC_THREADS];
	int started[SYNC_THREADS] = { 0 };
	size_t n = l->n < SYNC_THREADS ? l->n : SYNC_THREADS;

	for (size_t k = 0; k < n; k++) {
		p[k] = (struct sync_part){ id, cfd, l, k, n, 0 };
		started[k] = k && !pthread_create(&t[k], NULL, sync_part, &p[k]);
	}
	for (size_t k = 0; k < n; k++) {
		if (started[k])
			pthread_join(t[k], NULL);
		else
			sync_part(&p[k]);
	}
	for (size_t k = 0; k < n; k++) {
		if (p[k].failed) {
			errno = p[k].failed;
			return -1;
		}
	}
	return 0;
}

/* What a file weighs in the split: its bytes to hash. */
static uint64_t item_bytes(size_t i, const void *arg)
{
	const struct push_list *l = arg;

	return push_item_file(&l->v[i]) ? (uint64_t)l->v[i].size : 0;
}

long txn_check_staged(struct server *s, const char *id, const struct push_list *l, json_t *bad)
{
	struct check_part part[PARTS_MAX];
	struct part_range r[PARTS_MAX];
	struct versions_touched kept;
	unsigned char *flags;
	size_t nparts, files = 0;
	int sfd, cfd, failed = 0, sync_each, one_syncfs;
	long nbad = 0;
	/* rsync has ended; a file still growing now is hashed here like any other. */
	struct stage_follow *fol = stage_follow_end(id);
	uint64_t followed = 0, hashed = 0, marked = 0, looked = 0;

	/* Not emptied first: it may hold the upload stream's files, already checked. */
	cfd = txn_commit_dir(s, id);
	if (cfd < 0) {
		int e = errno;

		stage_follow_free(fol);
		errno = e;
		return -1;
	}
	sfd = openat(s->staging_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	for (size_t i = 0; i < l->n; i++)
		files += push_item_file(&l->v[i]);
	sync_each = files <= SYNC_EACH_MAX;
	one_syncfs = !sync_each && (!s->cluster || s->blobs_syncfs);
	flags = xcalloc(l->n ? l->n : 1, 1);
	memset(part, 0, sizeof(part));
	memset(&kept, 0, sizeof(kept));
	/* In path order, so that each part's cursors walk whole directories as one thread's would. */
	nparts = parts_plan(l->n, item_bytes, l, CHECK_BYTES_PER_THREAD, r);
	for (size_t k = 0; k < nparts; k++) {
		part[k].s = s;
		part[k].id = id;
		part[k].l = l;
		part[k].sfd = sfd;
		part[k].cfd = cfd;
		part[k].sync_each = sync_each;
		part[k].lo = r[k].lo;
		part[k].hi = r[k].hi;
		part[k].flags = flags;
		part[k].fol = fol;
	}
	parts_run(nparts, check_part, part, sizeof(part[0]));
	for (size_t k = 0; k < nparts; k++) {
		if (!failed)
			failed = part[k].failed;
		versions_touched_add(&kept, &part[k].kept);
		followed += part[k].followed;
		hashed += part[k].hashed;
		marked += part[k].marked;
		looked += part[k].looked;
	}
	stage_follow_free(fol);
	/* For t/0228: a line a check, bytes followed and bytes hashed here. */
	test_hook_line(HOOK_FOLLOW_STATS, "followed %llu hashed %llu", (unsigned long long)followed,
		       (unsigned long long)hashed);
	/* For t/0418: uploaded files taken as their stream marked them, and those looked at. */
	test_hook_line(HOOK_CHECK_STATS, "marked %llu looked %llu", (unsigned long long)marked,
		       (unsigned long long)looked);
	for (size_t i = 0; i < l->n && !failed; i++) {
		if (flags[i] == ITEM_BAD) {
			nbad++;
			json_array_append_new(bad, json_string(l->v[i].path));
		}
	}
	for (size_t i = 0; i < l->n && !failed && !nbad; i++)
		if (flags[i] == ITEM_COPY && own_copy(id, cfd, &l->v[i], sync_each))
			failed = failure();
	/*
	 * A cluster's blob directory on a shared mount, where syncfs may flush
	 * nothing at all (FUSE answers it with 0 unasked): file by file there,
	 * many at once.
	 */
	if (!failed && !nbad && !sync_each && !one_syncfs && sync_files(id, cfd, l))
		failed = failure();
	else if (!failed && !nbad && one_syncfs && syncfs(cfd)) {
		error_errno("cannot sync the files of 'commit/%s'", id);
		failed = failure();
	}
	/* That syncfs covered versions/ too, unless someone mounted it apart. */
	if (!failed && !nbad && (!one_syncfs || !same_fs(cfd, s->versions_fd)) &&
	    versions_sync(s, &kept, one_syncfs))
		failed = failure();
	free(flags);
	if (sfd >= 0)
		close(sfd);
	close(cfd);
	errno = failed;
	return failed ? -1 : nbad;
}
