/* The path every command that needs a ruleset shares: load the policy,
 * resolve its hosts the way the command line asks, compile. */
#ifndef EGRESSD_PIPELINE_H
#define EGRESSD_PIPELINE_H

#include "egressd.h"
#include "policy.h"
#include "resolve.h"
#include "ruleset.h"

struct pipeline_opts {
	const char *policy_path;
	const char *hosts_file;		/* --hosts FILE, or NULL */
	bool offline;			/* --offline */
};

struct pipeline {
	struct policy *policy;
	struct resolution res;
	struct ruleset *rs;
};

/* Load, resolve and compile.  Policy errors are printed to stderr; per-host
 * resolution failures are logged as warnings.  Returns EXIT_OK, or the exit
 * code to end with (EXIT_POLICY, EXIT_RESOLVE when the hosts file can't be
 * read); on failure *pl holds nothing to free. */
int pipeline_build(const struct pipeline_opts *o, struct pipeline *pl);
void pipeline_free(struct pipeline *pl);

#endif
