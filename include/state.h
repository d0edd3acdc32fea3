/* The daemon's persisted last-known-good addresses, so that a restart
 * seeds the sets before DNS answers, and sd_notify for systemd. */
#ifndef EGRESSD_STATE_H
#define EGRESSD_STATE_H

#include "egressd.h"
#include "refresh.h"

#define STATE_DEFAULT_DIR "/var/lib/egressd"

/* Times in host_state are monotonic seconds; the file holds wall-clock
 * seconds.  mono_now and wall_now are the same instant on both clocks. */
struct state_clock {
	time_t mono_now;
	time_t wall_now;
};

/* The file, one line each:
 *   host NAME LAST_OK LAST_ATTEMPT STATUS [LAST ERROR TEXT]
 *   addr NAME ADDRESS EXPIRES
 * times in wall-clock seconds since the epoch, LAST_OK 0 for never.
 * Write every host's addresses atomically (temporary file, fsync,
 * rename).  -1 with errno on failure. */
int state_save(const char *path, const struct host_state *hs, size_t n,
	       const struct state_clock *c);

/* Seed the hosts of hs (matched by name) from the file, keeping only
 * hosts whose last good answer is younger than stale, and addresses not
 * yet expired.  Returns the number of addresses restored, 0 when there is
 * no file, -1 with errno when it cannot be read.  Malformed lines are
 * skipped with a warning: the cache is an optimisation, never trusted
 * past its own checks. */
int state_load(const char *path, struct host_state *hs, size_t n,
	       const struct state_clock *c, const struct policy_defaults *d);

/* Where the daemon keeps its state, and status looks for it:
 * $EGRESSD_STATE, else $STATE_DIRECTORY/state, else the default. */
const char *state_default_path(void);

/* Tell systemd, when NOTIFY_SOCKET is set, e.g. "READY=1".  Silent
 * otherwise; failures are logged once. */
void notify_systemd(const char *msg);

#endif
