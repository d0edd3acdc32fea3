/* The daemon's element diff: what must be sent so the kernel's sets hold
 * the freshly compiled ruleset, given the ruleset last committed.  Pure;
 * the netlink side sends the plan in one transaction. */
#ifndef EGRESSD_SYNC_H
#define EGRESSD_SYNC_H

#include "egressd.h"
#include "ruleset.h"

struct elem_change {
	bool del;
	const struct rs_set *set;
	const struct rs_elem *elem;
};

struct sync_plan {
	struct elem_change *v;
	size_t n, cap;
	size_t added, extended, removed;
	size_t kept;		/* timed elements left as they were */
};

/* An extension shorter than this is not worth a message. */
#define SYNC_EXTEND_SLACK_MS 1000

/* want: compiled now, timeouts relative (ms from now_ms).  committed: what
 * the kernel holds, with each element's timeout_ms turned into its
 * absolute expiry in ms (0: never), as sync_commit() leaves it.  Both come
 * from the same policy, so their sets line up by index.
 * - in want only: add;
 * - in both, want's expiry later by more than the slack: extend, as a
 *   re-add, or as delete + add when readd_refreshes is false (kernels
 *   before 6.12 keep the old timeout on a re-add);
 * - in both with another comment (the hosts sharing the address changed):
 *   delete + add, since only a new element carries new user data;
 * - in committed only and not about to expire by itself: delete. */
void sync_diff(const struct ruleset *want, const struct ruleset *committed,
	       uint64_t now_ms, bool readd_refreshes, struct sync_plan *plan);

/* After the plan was committed: turn want into the new committed state,
 * expiries absolute, keeping the old expiry of elements not extended. */
void sync_commit(struct ruleset *want, const struct ruleset *committed,
		 uint64_t now_ms);

/* Turn relative timeouts into absolute expiries, for a full apply. */
void sync_absolute(struct ruleset *rs, uint64_t now_ms);

void sync_plan_free(struct sync_plan *plan);

#endif
