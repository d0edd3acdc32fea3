/* Privileges and the writers' lock: egressd keeps CAP_NET_ADMIN and no
 * other capability, and only one egressd at a time changes the table. */
#ifndef EGRESSD_PRIV_H
#define EGRESSD_PRIV_H

#include "egressd.h"

enum priv_use {
	PRIV_READ,			/* verify, status, plan --diff */
	PRIV_WRITE,			/* apply, flush */
};

/* Keep CAP_NET_ADMIN, raised, and drop every other capability, from the
 * bounding set too where the process may; then set no_new_privs.  Every
 * nf_tables request, dumps included, needs CAP_NET_ADMIN in the network
 * namespace, so readers call this too.  Returns EXIT_OK, or logs why
 * ("apply: CAP_NET_ADMIN is needed to change the egressd table (run as
 * root)") and returns EXIT_PERM. */
int priv_restrict(const char *cmd, enum priv_use use);
/* Whether CAP_NET_ADMIN is in the permitted set, asked quietly. */
bool priv_net_admin_permitted(void);

/* The lock is per machine, not per network namespace; EGRESSD_LOCK in
 * the environment names another file (the tests give each its own). */
#define PRIV_LOCK_PATH "/run/egressd.lock"

struct priv_lock {
	int fd;
};

const char *priv_lock_path(void);
/* Take the writers' lock, waiting for it if wait is set.  Returns EXIT_OK,
 * or logs and returns EXIT_LOCKED when another egressd holds it, or
 * EXIT_PERM/EXIT_INTERNAL when the file can't be opened. */
int priv_lock(const char *cmd, bool wait, struct priv_lock *l);
void priv_unlock(struct priv_lock *l);

#endif
