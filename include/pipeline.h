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

/* The options every command that builds a ruleset takes, for its
 * getopt_long table: --hosts FILE ('H') and --offline ('o'). */
#define PIPELINE_LONGOPTS \
	{ "hosts", required_argument, NULL, 'H' }, \
	{ "offline", no_argument, NULL, 'o' }

/* Take option c if it is one of PIPELINE_LONGOPTS; false otherwise. */
bool pipeline_opt(int c, const char *arg, struct pipeline_opts *o);
/* After getopt: exactly one POLICY left, and not both --hosts and
 * --offline.  Prints usage and returns EXIT_USAGE otherwise. */
int pipeline_args_done(int argc, char **argv, struct pipeline_opts *o,
		       const char *usage);

/* Load, resolve and compile.  Policy errors are printed to stderr; per-host
 * resolution failures are logged as warnings.  Returns EXIT_OK, or the exit
 * code to end with (EXIT_POLICY, EXIT_RESOLVE when the hosts file can't be
 * read); on failure *pl holds nothing to free. */
int pipeline_build(const struct pipeline_opts *o, struct pipeline *pl);
void pipeline_free(struct pipeline *pl);

/* The policy's host names, NULL-terminated, in policy order (a name may
 * repeat).  Offline, these are the elements verify and audit cannot
 * check.  The caller frees the array, not the names. */
const char **policy_host_names(const struct policy *p, size_t *n);

#endif
