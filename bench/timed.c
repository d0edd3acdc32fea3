/* timed: run a command and write what it cost to a file: wall time, user
 * and system CPU time, and peak resident memory.  The command's own output
 * passes through untouched, so its log lines can be read as well.
 *
 * usage: timed OUTFILE CMD [ARGS...]
 * OUTFILE gets one line: wall_us user_us sys_us maxrss_kb exit_status */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t tv_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec;
}

static int write_result(const char *path, uint64_t wall, const struct rusage *ru,
			int status)
{
	FILE *f = fopen(path, "w");
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	if (!f) {
		fprintf(stderr, "timed: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%llu %llu %llu %ld %d\n", (unsigned long long)wall,
		(unsigned long long)tv_us(&ru->ru_utime),
		(unsigned long long)tv_us(&ru->ru_stime), ru->ru_maxrss, rc);
	return fclose(f) == 0 ? rc : -1;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	uint64_t t0;
	int status, rc;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: timed OUTFILE CMD [ARGS...]\n");
		return 2;
	}
	t0 = now_us();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "timed: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "timed: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	/* wait4 gives the child's own usage, not ours or an earlier child's. */
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "timed: wait4: %s\n", strerror(errno));
			return 1;
		}
	}
	rc = write_result(argv[1], now_us() - t0, &ru, status);
	return rc < 0 ? 1 : rc;
}
