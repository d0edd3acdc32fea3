/* nlstat: an LD_PRELOAD library that records every sendmsg() on a netlink
 * socket, which is how both egressd and nft hand a batch to nf_tables.
 * nfnetlink processes a whole batch inside that one call, so its duration
 * is the kernel's share of an apply or a refresh.
 *
 * NLSTAT_FILE names the file that gets one line per call:
 *   start_us duration_us messages bytes
 * with start_us on CLOCK_MONOTONIC, and messages not counting the batch
 * begin and end markers. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

static sendmsg_fn real_sendmsg;
static int out_fd = -1;

/* The program may drop privileges later; the file is opened while it
 * still can. */
__attribute__((constructor)) static void nlstat_init(void)
{
	const char *path = getenv("NLSTAT_FILE");

	real_sendmsg = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
	if (path)
		out_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int is_netlink(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       ss.ss_family == AF_NETLINK;
}

/* Batches are built a page at a time, so no message spans two iovecs. */
static size_t count_messages(const struct msghdr *msg)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		const struct nlmsghdr *nlh = msg->msg_iov[i].iov_base;
		int len = (int)msg->msg_iov[i].iov_len;

		for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN &&
			    nlh->nlmsg_type != NFNL_MSG_BATCH_END)
				n++;
		}
	}
	return n;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	uint64_t t0, t1;
	ssize_t ret;
	char line[96];
	int len, saved;

	if (!real_sendmsg) {
		errno = ENOSYS;
		return -1;
	}
	if (out_fd < 0 || !is_netlink(fd))
		return real_sendmsg(fd, msg, flags);
	t0 = now_us();
	ret = real_sendmsg(fd, msg, flags);
	t1 = now_us();
	saved = errno;
	len = snprintf(line, sizeof(line), "%llu %llu %zu %zd\n",
		       (unsigned long long)t0, (unsigned long long)(t1 - t0),
		       count_messages(msg), ret);
	if (write(out_fd, line, (size_t)len) < 0) {
		/* a lost record shows up as a missing line; carry on */
	}
	errno = saved;
	return ret;
}
