/* egressd check: validate a policy and change nothing.  Needs no
 * privilege, so an operator can run it on any copy of a policy. */
#include "egressd.h"
#include "cmd.h"
#include "policy.h"

int cmd_check(int argc, char **argv)
{
	struct policy_errors errs = { 0 };
	struct policy *p;
	size_t hosts = 0;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: egressd check POLICY\n");
		return EXIT_USAGE;
	}
	p = policy_load(argv[1], &errs);
	if (!p) {
		policy_errors_print(&errs, stderr);
		fprintf(stderr, "%s: %zu error%s\n", argv[1], errs.n, errs.n == 1 ? "" : "s");
		policy_errors_clear(&errs);
		return EXIT_POLICY;
	}
	for (size_t i = 0; i < p->n_allow; i++)
		hosts += p->allow[i].host != NULL;
	printf("%s: ok: %zu allow entr%s (%zu host%s, %zu network%s), sha256 %s\n",
	       argv[1], p->n_allow, p->n_allow == 1 ? "y" : "ies",
	       hosts, hosts == 1 ? "" : "s",
	       p->n_allow - hosts, p->n_allow - hosts == 1 ? "" : "s", p->sha256_hex);
	policy_free(p);
	return EXIT_OK;
}
