/* egressd apply: compile the policy and replace table inet egressd with it
 * in one nf_tables transaction, or with --dry-run let the kernel check the
 * transaction and throw it away. */
#include "egressd.h"
#include "cmd.h"
#include "nl.h"
#include "pipeline.h"
#include "priv.h"

#include <errno.h>
#include <getopt.h>
#include <time.h>

#define APPLY_USAGE \
	"usage: egressd apply POLICY [--hosts FILE|--offline] [--dry-run] [--wait]"

struct apply_opts {
	struct pipeline_opts p;
	bool dry_run;
	bool wait;
};

static int parse_args(int argc, char **argv, struct apply_opts *o)
{
	static const struct option longopts[] = {
		PIPELINE_LONGOPTS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (pipeline_opt(c, optarg, &o->p))
			continue;
		if (c == 'n') {
			o->dry_run = true;
		} else if (c == 'w') {
			o->wait = true;
		} else {
			fprintf(stderr, "%s\n", APPLY_USAGE);
			return EXIT_USAGE;
		}
	}
	return pipeline_args_done(argc, argv, &o->p, APPLY_USAGE);
}

static size_t count_rules(const struct ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_chains; i++)
		n += rs->chains[i].n_rules;
	return n;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void report(const struct apply_opts *o, const struct ruleset *rs,
		   const struct nl_apply_info *info, double secs)
{
	const char *done = o->dry_run ? "dry run: the kernel accepted"
		: info->replaced ? "replaced" : "created";

	log_info("apply: %s table inet %s: %zu sets, %zu elements, %zu rules, "
		 "policy sha256:%s%s", done, rs->table, rs->n_sets,
		 info->n_elems, count_rules(rs), rs->policy_hash,
		 o->dry_run ? "; nothing changed" : "");
	log_debug("apply: one batch of %zu messages, %zu bytes, %zu acks "
		  "asked, %.3f s", info->n_msgs, info->bytes, info->n_acks,
		  secs);
}

static int send_ruleset(const struct apply_opts *o, struct ruleset *rs)
{
	struct nl_apply_info info;
	struct nl_err err = { 0 };
	struct timespec t0;
	struct nl_sock *nl;
	char msg[640];
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ruleset_stamp(rs, time(NULL));
	nl = nl_open(&err);
	if (nl && nl_apply(nl, rs, o->dry_run ? NL_APPLY_DRY_RUN : 0, &info,
			   &err) == 0) {
		report(o, rs, &info, seconds_since(&t0));
		nl_close(nl);
		return EXIT_OK;
	}
	log_warnx("apply: %s", nl_err_str(&err, msg, sizeof(msg)));
	ret = err.code == EPERM ? EXIT_PERM : EXIT_KERNEL;
	if (nl && info.unconfirmed)
		log_warnx("apply: the kernel got the batch but its answer was "
			  "lost; run egressd verify to see what is in place");
	else if (nl)
		log_warnx("apply: nothing was changed; the previous table, if "
			  "any, is as it was");
	nl_close(nl);
	return ret;
}

int cmd_apply(int argc, char **argv)
{
	struct apply_opts o = { 0 };
	struct priv_lock lock = { -1 };
	struct pipeline pl;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret != EXIT_OK)
		return ret;
	ret = priv_restrict("apply", PRIV_WRITE);
	if (ret != EXIT_OK)
		return ret;
	/* A dry run changes nothing, so it need not keep writers out. */
	if (!o.dry_run) {
		ret = priv_lock("apply", o.wait, &lock);
		if (ret != EXIT_OK)
			return ret;
	}
	ret = pipeline_build(&o.p, &pl);
	if (ret == EXIT_OK) {
		ret = send_ruleset(&o, pl.rs);
		pipeline_free(&pl);
	}
	priv_unlock(&lock);
	return ret;
}
