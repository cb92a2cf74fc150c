/*
 * beneath.c's two ways to open below a root, on a real tree with links:
 * the same table of cases answered alike by the one openat2 call and by
 * the walk. The walk runs in children: one with SOC_TEST_NO_OPENAT2 under
 * a seccomp filter that kills it at any openat2 (so the hook is obeyed),
 * two where openat2 fails with ENOSYS and with EPERM (as an old kernel
 * and a container's filter answer) and beneath.c must notice it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "beneath.h"
#include "soc.h"
#include "testhook.h"
#include "tap.h"

#define NCASES 16	/* ok() lines one run of the table prints */

static char top[4096];

/* An fd of what beneath_*() opened: its type (S_IFMT bits) and closed; or "errno". */
static int kind(int fd)
{
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		die_errno("cannot stat an fd");
	close(fd);
	return (int)(st.st_mode & S_IFMT);
}

static int open_kind(int root, const char *path, int flags)
{
	return kind(beneath_open(root, path, flags));
}

static void cases(const char *run, int r)
{
	struct beneath_fail fail = { 0, 0 };
	char made[64], *p;
	struct stat st;
	int root = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		die_errno("cannot open '%s'", top);
	ok(open_kind(root, "d/e/f", O_RDONLY) == S_IFREG, "%s: a file two directories down", run);
	ok(open_kind(root, "", O_RDONLY | O_DIRECTORY) == S_IFDIR, "%s: \"\" is the root", run);
	ok(open_kind(root, "d/e", O_RDONLY | O_DIRECTORY) == S_IFDIR, "%s: a directory", run);
	ok(open_kind(root, "link/e/f", O_RDONLY) == -ELOOP, "%s: a linked directory on the way: ELOOP", run);
	ok(open_kind(root, "flink", O_RDONLY) == -ELOOP, "%s: a link at the end: ELOOP", run);
	ok(open_kind(root, "link", O_RDONLY | O_DIRECTORY) == -ELOOP, "%s: a link opened as a directory: ELOOP", run);
	ok(open_kind(root, "flink", O_PATH | O_NOFOLLOW) == S_IFLNK, "%s: O_PATH | O_NOFOLLOW opens the link itself", run);
	ok(open_kind(root, "d/gone/f", O_RDONLY) == -ENOENT, "%s: a missing directory: ENOENT", run);
	ok(open_kind(root, "file/x", O_RDONLY) == -ENOTDIR, "%s: a file on the way: ENOTDIR", run);

	ok(kind(beneath_dir(root, "d/e/f", 3, 0, 0, &fail)) == S_IFDIR, "%s: the directory of d/e/f", run);
	ok(kind(beneath_dir(root, "x", 0, 0, 0, &fail)) == S_IFDIR, "%s: the directory of a top name", run);
	ok(kind(beneath_dir(root, "link/e/f", 6, 0755, 0, &fail)) == -ENOTDIR && fail.at == 4 && !fail.made,
	   "%s: a linked directory: the walk's ENOTDIR, where", run);
	ok(kind(beneath_dir(root, "d/gone/deeper/f", 13, 0, 0, &fail)) == -ENOENT && !fail.made,
	   "%s: missing, nothing made: ENOENT", run);
	ok(kind(beneath_dir(root, "file/x/f", 6, 0755, 1, &fail)) == -ENOTDIR && fail.at == 4 && !fail.made,
	   "%s: a file where a directory is to be made: ENOTDIR, where", run);
	snprintf(made, sizeof(made), "d/new%d/deeper/f", r);
	p = strrchr(made, '/');
	ok(kind(beneath_dir(root, made, (size_t)(p - made), 0700, 1, &fail)) == S_IFDIR,
	   "%s: missing directories made", run);
	*p = '\0';
	ok(!fstatat(root, made, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
	   "%s: with the mode asked", run);
	close(root);
}

/* openat2 answers ret (a seccomp return) in this process from now on. */
static void filter_openat2(unsigned ret)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		die_errno("cannot install a seccomp filter");
}

/* The table in a child whose openat2 answers ret; hook sets SOC_TEST_NO_OPENAT2. */
static void child_run(const char *run, int r, unsigned ret, int hook)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno("cannot fork");
	if (!pid) {
		if (hook && setenv(HOOK_NO_OPENAT2, "1", 1))
			die_errno("cannot set %s", HOOK_NO_OPENAT2);
		filter_openat2(ret);
		cases(run, r);
		fflush(stdout);
		_exit(tap_failed ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid)
		die_errno("cannot wait for a child");
	tap_n += NCASES;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		tap_failed++;
	ok(WIFEXITED(status), "%s: the child ran to its end (status %d)", run, status);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	int t;

	snprintf(top, sizeof(top), "%s/soc-unit-beneath.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(top))
		die_errno("cannot make a directory for the test");
	t = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t < 0 || mkdirat(t, "d", 0755) || mkdirat(t, "d/e", 0755) || symlinkat("d", t, "link") ||
	    symlinkat("d/e/f", t, "flink"))
		die_errno("cannot make the tree in '%s'", top);
	for (int i = 0; i < 2; i++) {
		int fd = openat(t, i ? "file" : "d/e/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (fd < 0 || write(fd, "x\n", 2) != 2 || close(fd))
			die_errno("cannot write a file in '%s'", top);
	}
	close(t);
	unsetenv(HOOK_NO_OPENAT2);
	/* The children first: this process has not asked about openat2 yet. */
	child_run("walk by the hook", 1, SECCOMP_RET_KILL_PROCESS, 1);
	child_run("walk on ENOSYS", 2, SECCOMP_RET_ERRNO | ENOSYS, 0);
	child_run("walk on EPERM", 3, SECCOMP_RET_ERRNO | EPERM, 0);
	cases("openat2", 4);
	if (nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
		warning_errno("cannot remove '%s'", top);
	return tap_done();
}
