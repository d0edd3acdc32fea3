/* Privileges and the writers' lock: drop to CAP_NET_ADMIN alone before any
 * netlink, and serialise egressd writers with flock(2) on a lock file that
 * also says who holds it. */
#include "egressd.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

bool priv_net_admin_permitted(void)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return false;
	cap_get_flag(caps, CAP_NET_ADMIN, CAP_PERMITTED, &v);
	cap_free(caps);
	return v == CAP_SET;
}

/* Needs CAP_SETPCAP; without it the bounding set stays, which is fine:
 * the permitted set below is what the process can use. */
static void drop_bounding_set(void)
{
	cap_value_t max = cap_max_bits();

	for (cap_value_t c = 0; c < max; c++) {
		if (c == CAP_NET_ADMIN || cap_get_bound(c) <= 0)
			continue;
		if (cap_drop_bound(c) < 0)
			return;
	}
}

static int keep_only_net_admin(void)
{
	cap_value_t keep = CAP_NET_ADMIN;
	cap_t caps = cap_init();
	int ret = -1;

	if (!caps)
		return -1;
	if (cap_set_flag(caps, CAP_PERMITTED, 1, &keep, CAP_SET) == 0 &&
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &keep, CAP_SET) == 0)
		ret = cap_set_proc(caps);
	cap_free(caps);
	return ret;
}

int priv_restrict(const char *cmd, enum priv_use use)
{
	const char *verb = use == PRIV_WRITE ? "change" : "read";

	if (!priv_net_admin_permitted()) {
		log_warnx("%s: CAP_NET_ADMIN is needed to %s the egressd table "
			  "(run as root)", cmd, verb);
		return EXIT_PERM;
	}
	drop_bounding_set();
	cap_reset_ambient();
	if (keep_only_net_admin() < 0) {
		log_warn("%s: dropping capabilities other than CAP_NET_ADMIN",
			 cmd);
		return EXIT_PERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_warn("%s: setting no_new_privs", cmd);
		return EXIT_PERM;
	}
	return EXIT_OK;
}

const char *priv_lock_path(void)
{
	const char *p = getenv("EGRESSD_LOCK");

	return p && *p ? p : PRIV_LOCK_PATH;
}

/* The pid the holder wrote into the file, or 0 if unknown. */
static long read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static bool alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* The holder writes its pid just after it takes the lock, so a writer
 * that arrives in between finds the file empty, or still naming the
 * previous holder: look again for a moment until a live pid is there. */
static long lock_holder(int fd)
{
	const struct timespec pause = { 0, 5 * 1000 * 1000 };
	long pid = 0;

	for (int i = 0; i < 20; i++) {
		pid = read_holder(fd);
		if (pid > 0 && pid != getpid() && alive(pid))
			return pid;
		nanosleep(&pause, NULL);
	}
	return 0;
}

static void write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, n, 0) != n)
		log_debug("lock: could not record pid in %s", priv_lock_path());
}

static int wait_or_refuse(const char *cmd, int fd, bool wait)
{
	const char *path = priv_lock_path();
	long pid = lock_holder(fd);
	char who[48] = "another egressd";

	if (pid > 0)
		snprintf(who, sizeof(who), "another egressd (pid %ld)", pid);
	if (!wait) {
		log_warnx("%s: %s holds %s; use --wait to wait", cmd, who,
			  path);
		return EXIT_LOCKED;
	}
	log_info("%s: waiting for %s to release %s", cmd, who, path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			log_warn("%s: locking %s", cmd, path);
			return EXIT_INTERNAL;
		}
	}
	return EXIT_OK;
}

int priv_lock(const char *cmd, bool wait, struct priv_lock *l)
{
	const char *path = priv_lock_path();
	int ret = EXIT_OK;

	/* Never unlinked: a new file would let a second writer in while
	 * the first still holds the old one. */
	l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (l->fd < 0) {
		log_warn("%s: opening lock %s", cmd, path);
		return errno == EACCES || errno == EPERM ? EXIT_PERM
							 : EXIT_INTERNAL;
	}
	if (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			ret = wait_or_refuse(cmd, l->fd, wait);
		} else {
			log_warn("%s: locking %s", cmd, path);
			ret = EXIT_INTERNAL;
		}
	}
	if (ret != EXIT_OK) {
		priv_unlock(l);
		return ret;
	}
	write_pid(l->fd);
	return EXIT_OK;
}

void priv_unlock(struct priv_lock *l)
{
	if (l->fd < 0)
		return;
	close(l->fd);
	l->fd = -1;
}
