/* egressd plan: print the table a policy compiles to, in nft syntax, or
 * with --diff what an apply would change in the live table.  A dry run an
 * operator can read before anything touches the kernel. */
#include "egressd.h"
#include "cmd.h"
#include "nl.h"
#include "pipeline.h"
#include "priv.h"

#include <getopt.h>

#define PLAN_USAGE "usage: egressd plan POLICY [--hosts FILE | --offline] [--diff]"

static int plan_usage(void)
{
	fprintf(stderr, "%s\n", PLAN_USAGE);
	return EXIT_USAGE;
}

/* Reading the live table is an nf_tables request, so --diff needs
 * CAP_NET_ADMIN where a plain plan needs nothing. */
static int plan_diff(const struct ruleset *rs)
{
	struct nl_err err;
	char buf[600];
	int rc = priv_restrict("plan --diff", PRIV_READ);

	if (rc != EXIT_OK)
		return rc;
	rc = nl_plan_diff_err(rs, stdout, &err);
	if (rc < 0) {
		log_warnx("plan: %s", nl_err_str(&err, buf, sizeof(buf)));
		return EXIT_KERNEL;
	}
	return rc ? EXIT_DRIFT : EXIT_OK;
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		PIPELINE_LONGOPTS,
		{ "diff", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct pipeline_opts o = { 0 };
	struct pipeline pl;
	bool diff = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (pipeline_opt(c, optarg, &o))
			continue;
		if (c != 'd')
			return plan_usage();
		diff = true;
	}
	rc = pipeline_args_done(argc, argv, &o, PLAN_USAGE);
	if (rc != EXIT_OK)
		return rc;

	rc = pipeline_build(&o, &pl);
	if (rc != EXIT_OK)
		return rc;
	if (diff)
		rc = plan_diff(pl.rs);
	else
		render_ruleset(pl.rs, stdout);
	pipeline_free(&pl);
	if (fflush(stdout) == EOF) {
		log_warn("plan: writing the plan");
		rc = EXIT_INTERNAL;
	}
	return rc;
}
