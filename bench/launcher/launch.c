/*
 * Runs one command for gokmod's benchmark runner (bench/ab.go compiles it
 * at run time with gcc) and reports what the command cost:
 *
 *   launch PROGRAM [ARG...]
 *
 * vforks, execs PROGRAM (searched in PATH) with the launcher's standard
 * input, output, error and environment, waits for it with wait4 and
 * writes one line to file descriptor 3:
 *
 *   WALLNS USERUS SYSUS MAXRSSKIB
 *
 * the wall time from before the vfork to after the wait (CLOCK_MONOTONIC),
 * the child's user and system time and its peak resident set. It exits
 * with the command's status (128 + the signal when it was killed).
 *
 * Why not measure from the Go runner directly: Linux counts in a child's
 * ru_maxrss the resident memory of the process it was forked from, up to
 * its exec; forked from this small program, that floor is about a MiB,
 * where the Go runner's is several.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROGRAM [ARG...]\n", argv[0]);
		return 2;
	}
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
		perror("launch: file descriptor 3");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = vfork();
	if (pid < 0) {
		perror("launch: vfork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		const char *msg = strerror(errno);
		(void)!write(2, "launch: exec: ", 14);
		(void)!write(2, msg, strlen(msg));
		(void)!write(2, "\n", 1);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("launch: wait4");
		return 127;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long wall = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	dprintf(3, "%lld %lld %lld %ld\n", wall,
		(long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 127;
}
