/* The load-resolve-compile path shared by plan, apply, verify and the
 * daemon, so every command sees the same ruleset for the same input. */
#include "egressd.h"
#include "pipeline.h"

#include <errno.h>
#include <getopt.h>

static void add_note(struct ruleset *rs, char *note)
{
	grow(&rs->notes, &rs->cap_notes, rs->n_notes, sizeof(*rs->notes));
	rs->notes[rs->n_notes++] = note;
}

static void note_host(struct ruleset *rs, const struct host_result *hr,
		      const char *source)
{
	if (hr->status == RES_SKIPPED) {
		add_note(rs, xasprintf("%s: not resolved (%s)", hr->host, source));
		return;
	}
	if (!hr->n_addrs) {
		add_note(rs, xasprintf("%s: no addresses from %s: %s", hr->host, source,
				       hr->detail ? hr->detail : res_status_str(hr->status)));
		return;
	}
	add_note(rs, xasprintf("%s: %zu address%s from %s%s", hr->host, hr->n_addrs,
			       hr->n_addrs == 1 ? "" : "es", source,
			       hr->capped ? " (capped)" : ""));
}

static void warn_failures(const struct resolution *res)
{
	for (size_t i = 0; i < res->n_hosts; i++) {
		const struct host_result *hr = &res->hosts[i];

		if (hr->status == RES_OK || hr->status == RES_SKIPPED)
			continue;
		log_warnx("resolve: %s: %s; it gets no addresses in this ruleset",
			  hr->host, hr->detail ? hr->detail : res_status_str(hr->status));
	}
}

static int resolve(const struct pipeline_opts *o, struct pipeline *pl)
{
	if (o->offline) {
		resolve_offline(pl->policy, &pl->res);
		return EXIT_OK;
	}
	if (o->hosts_file) {
		if (resolve_hosts_file(pl->policy, o->hosts_file, &pl->res) < 0) {
			log_warn("resolve: %s", o->hosts_file);
			return EXIT_RESOLVE;
		}
	} else {
		resolve_dns(pl->policy, &pl->res);
	}
	warn_failures(&pl->res);
	return EXIT_OK;
}

bool pipeline_opt(int c, const char *arg, struct pipeline_opts *o)
{
	if (c == 'H')
		o->hosts_file = arg;
	else if (c == 'o')
		o->offline = true;
	else
		return false;
	return true;
}

int pipeline_args_done(int argc, char **argv, struct pipeline_opts *o,
		       const char *usage)
{
	if (optind != argc - 1 || (o->hosts_file && o->offline)) {
		fprintf(stderr, "%s\n", usage);
		return EXIT_USAGE;
	}
	o->policy_path = argv[optind];
	return EXIT_OK;
}

int pipeline_build(const struct pipeline_opts *o, struct pipeline *pl)
{
	struct policy_errors errs = { 0 };
	int rc;

	memset(pl, 0, sizeof(*pl));
	pl->policy = policy_load(o->policy_path, &errs);
	if (!pl->policy) {
		policy_errors_print(&errs, stderr);
		policy_errors_clear(&errs);
		return EXIT_POLICY;
	}
	rc = resolve(o, pl);
	if (rc != EXIT_OK) {
		pipeline_free(pl);
		return rc;
	}
	pl->rs = ruleset_compile(pl->policy, &pl->res);
	for (size_t i = 0; i < pl->res.n_hosts; i++)
		note_host(pl->rs, &pl->res.hosts[i],
			  pl->res.source ? pl->res.source : "dns");
	return EXIT_OK;
}

void pipeline_free(struct pipeline *pl)
{
	ruleset_free(pl->rs);
	resolution_free(&pl->res);
	policy_free(pl->policy);
	memset(pl, 0, sizeof(*pl));
}

const char **policy_host_names(const struct policy *p, size_t *n)
{
	const char **hosts = xcalloc(p->n_allow + 1, sizeof(*hosts));

	*n = 0;
	for (size_t i = 0; i < p->n_allow; i++)
		if (p->allow[i].host)
			hosts[(*n)++] = p->allow[i].host;
	return hosts;
}
