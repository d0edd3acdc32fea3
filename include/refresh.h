/* The daemon's memory of each host and the arithmetic of a refresh: which
 * addresses stay, until when, and when to ask DNS again.  Pure functions of
 * (state, answer, now), so every rule of the refresh is unit-tested. */
#ifndef EGRESSD_REFRESH_H
#define EGRESSD_REFRESH_H

#include "egressd.h"
#include "policy.h"
#include "resolve.h"

#include <time.h>

struct known_addr {
	struct addr addr;
	time_t expires;		/* leaves the sets at this moment */
	time_t last_seen;	/* the last answer that returned it */
};

struct host_state {
	char *host;
	struct known_addr *addrs;	/* sorted by addr_cmp */
	size_t n_addrs, cap_addrs;
	time_t next_resolve;
	time_t last_ok;			/* last answer with addresses; 0: never */
	time_t last_attempt;
	enum res_status last_status;
	char *last_error;		/* text of the last failure, or NULL */
	uint32_t failures;		/* consecutive failed attempts */
};

/* What one answer changed, for the one-line refresh log. */
struct refresh_delta {
	size_t added, kept, expired;
	size_t evicted;		/* older addresses pushed out by the cap */
	bool failed;
	bool status_changed;
};

/* Fold one answer into a host's state at time now:
 * - addresses returned (re)start at now + TTL + grace, never shortened;
 * - addresses no longer returned keep their old expiry;
 * - on timeout, SERVFAIL, refused or error the last-known-good addresses
 *   are kept until last_ok + stale, then left to expire;
 * - NXDOMAIN and NODATA add nothing and keep nothing alive;
 * - at most max_addrs per family: a new address past the cap replaces the
 *   one closest to expiry that the answer did not return.
 * next_resolve is set from the smallest TTL, bounded by refresh; failures
 * retry sooner with a doubling back-off, also bounded by refresh. */
void refresh_apply(struct host_state *hs, const struct host_result *hr,
		   time_t now, const struct policy_defaults *d,
		   struct refresh_delta *delta);

/* Drop addresses whose expiry is at or before now; returns how many. */
size_t refresh_expire(struct host_state *hs, time_t now);

/* Seconds until the earliest of: the next resolution, an expiry. */
time_t refresh_next_event(const struct host_state *hs, size_t n, time_t now);

/* The host states as a resolution the compiler takes: every live address
 * with its exact remaining life (life_ms), so its kernel timeout ends when
 * its expiry does, and the TTL that is left of it for readers. */
void refresh_to_resolution(const struct host_state *hs, size_t n, time_t now,
			   const struct policy_defaults *d, struct resolution *out);

void host_state_free(struct host_state *hs);

#endif
