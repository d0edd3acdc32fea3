/* egressd run: the daemon that keeps the DNS-resolved sets fresh. */
#ifndef EGRESSD_DAEMON_H
#define EGRESSD_DAEMON_H

#include "egressd.h"
#include "nl.h"
#include "policy.h"
#include "refresh.h"
#include "ruleset.h"

struct daemon {
	const char *policy_path;
	const char *state_path;
	bool remove_on_exit;		/* --remove-on-exit or the policy's */

	struct policy *policy;
	struct host_state *hosts;	/* one per distinct host, sorted */
	size_t n_hosts;

	struct nl_sock *nl;
	struct ruleset *committed;	/* what the kernel holds; expiries absolute */
	time_t applied_at;		/* when this policy first went in */
	uint32_t genid;			/* the generation after our last commit */
	bool readd_refreshes;		/* a re-add refreshes a timeout (6.12+) */
	bool readd_checked;

	int sigfd;
};

/* Monotonic time, in seconds and in milliseconds. */
time_t daemon_now(void);
uint64_t daemon_now_ms(void);

/* Block SIGHUP, SIGTERM and SIGINT and take them through a signalfd.
 * Called first thing, so a signal during start-up waits for the loop
 * instead of killing the process half-way.  -1 with errno on failure. */
int daemon_signals(struct daemon *d);
/* Apply the deny skeleton with what the state file vouches for, resolve every host
 * and fill the sets.  EXIT_OK or the exit code to end with. */
int daemon_start(struct daemon *d);
/* Serve until SIGTERM or SIGINT; returns the exit code. */
int daemon_loop(struct daemon *d);
void daemon_free(struct daemon *d);

#endif
