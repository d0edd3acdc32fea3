/* startup: how long a command takes from its start until its first
 * nf_tables transaction is committed, seen the way any other program on
 * the host would see it: as the kernel's "new generation" notification
 * that ends a commit.  For `egressd run` that commit is the deny skeleton.
 *
 * usage: startup OUTFILE CMD [ARGS...]
 * Run it inside the namespace under test.  OUTFILE gets "micros pid"; the
 * command is left running, for the caller to watch and stop. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 5000

extern char **environ;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int listen_nftables(void)
{
	int grp = NFNLGRP_NFTABLES;
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	if (fd < 0 || bind(fd, (struct sockaddr *)&snl, sizeof(snl)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		perror("startup: nf_tables events");
		return -1;
	}
	return fd;
}

/* True once a datagram holds the end of a commit that made a table. */
static bool committed(const char *buf, int len, bool *saw_table)
{
	const struct nlmsghdr *nlh = (const void *)buf;

	for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
		int type = nlh->nlmsg_type & 0xff;

		if (nlh->nlmsg_type >> 8 != NFNL_SUBSYS_NFTABLES)
			continue;
		if (type == NFT_MSG_NEWTABLE)
			*saw_table = true;
		else if (type == NFT_MSG_NEWGEN && *saw_table)
			return true;
	}
	return false;
}

static int wait_commit(int fd, uint64_t deadline)
{
	static char buf[65536];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	bool saw_table = false;

	for (;;) {
		int64_t left = (int64_t)(deadline - now_us()) / 1000;
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = recv(fd, buf, sizeof(buf), 0);
		/* ENOBUFS: events were lost, but the commit's end still comes. */
		if (n < 0 && (errno == EINTR || errno == ENOBUFS))
			continue;
		if (n < 0)
			return -1;
		if (committed(buf, (int)n, &saw_table))
			return 0;
	}
}

int main(int argc, char **argv)
{
	uint64_t t0, t1;
	FILE *out;
	pid_t pid;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: startup OUTFILE CMD [ARGS...]\n");
		return 2;
	}
	fd = listen_nftables();
	if (fd < 0)
		return 1;
	t0 = now_us();
	errno = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
	if (errno) {
		perror("startup: spawn");
		return 1;
	}
	if (wait_commit(fd, t0 + WAIT_MS * 1000) < 0) {
		fprintf(stderr, "startup: no commit within %d ms\n", WAIT_MS);
		kill(pid, SIGTERM);
		return 1;
	}
	t1 = now_us();
	out = fopen(argv[1], "w");
	if (!out || fprintf(out, "%llu %d\n", (unsigned long long)(t1 - t0), (int)pid) < 0 ||
	    fclose(out) != 0) {
		perror(argv[1]);
		kill(pid, SIGTERM);
		return 1;
	}
	return 0;
}
