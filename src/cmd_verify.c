/* egressd verify: read table inet egressd back from the kernel and compare
 * it with what the policy compiles to, one line per difference. */
#include "egressd.h"
#include "cmd.h"
#include "nl.h"
#include "pipeline.h"
#include "priv.h"

#include <getopt.h>

#define VERIFY_USAGE "usage: egressd verify POLICY [--hosts FILE|--offline]"

static int parse_args(int argc, char **argv, struct pipeline_opts *o)
{
	static const struct option longopts[] = {
		PIPELINE_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (!pipeline_opt(c, optarg, o)) {
			fprintf(stderr, "%s\n", VERIFY_USAGE);
			return EXIT_USAGE;
		}
	}
	return pipeline_args_done(argc, argv, o, VERIFY_USAGE);
}

static int compare(const struct pipeline_opts *po, const struct pipeline *pl,
		   const struct nl_live *live)
{
	struct nl_diff_opts o = { 0 };
	const char **hosts = NULL;
	size_t n;

	if (po->offline) {
		hosts = policy_host_names(pl->policy, &o.n_skip_hosts);
		o.skip_hosts = hosts;
	}
	n = nl_diff(live, pl->rs, &o, stdout);
	fflush(stdout);
	free(hosts);
	if (n) {
		log_warnx("verify: table inet %s differs from %s in %zu %s",
			  pl->rs->table, po->policy_path, n,
			  n == 1 ? "place" : "places");
		return EXIT_DRIFT;
	}
	log_info("verify: table inet %s matches %s%s", pl->rs->table,
		 po->policy_path,
		 po->offline ? " (elements from host names not compared)" : "");
	return EXIT_OK;
}

static int verify(const struct pipeline_opts *po, const struct pipeline *pl)
{
	struct nl_live *live = NULL;
	struct nl_err err = { 0 };
	struct nl_sock *nl;
	char msg[640];
	int ret;

	nl = nl_open(&err);
	if (!nl || nl_read(nl, &live, &err) < 0) {
		log_warnx("verify: %s", nl_err_str(&err, msg, sizeof(msg)));
		nl_close(nl);
		return EXIT_KERNEL;
	}
	nl_close(nl);
	if (!live) {
		log_warnx("verify: there is no table inet %s", pl->rs->table);
		return EXIT_ABSENT;
	}
	ret = compare(po, pl, live);
	nl_live_free(live);
	return ret;
}

int cmd_verify(int argc, char **argv)
{
	struct pipeline_opts o = { 0 };
	struct pipeline pl;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret != EXIT_OK)
		return ret;
	ret = priv_restrict("verify", PRIV_READ);
	if (ret != EXIT_OK)
		return ret;
	ret = pipeline_build(&o, &pl);
	if (ret != EXIT_OK)
		return ret;
	ret = verify(&o, &pl);
	pipeline_free(&pl);
	return ret;
}
