/* egressd's entry point: global options, then one subcommand picked from a
 * table of { name, function, one-line help }. */
#include "egressd.h"
#include "cmd.h"

#include <getopt.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command commands[] = {
	{ "check", cmd_check, "POLICY", "validate a policy file, change nothing" },
	{ "plan", cmd_plan, "POLICY [--hosts FILE|--offline] [--diff]",
	  "print the table the policy compiles to, in nft syntax" },
	{ "apply", cmd_apply, "POLICY [--hosts FILE|--offline] [--dry-run] [--wait]",
	  "create or replace the egressd table in one transaction" },
	{ "run", cmd_run, "POLICY [--state FILE|--no-state] [--remove-on-exit] [--wait]",
	  "apply the policy and keep its DNS-resolved sets fresh" },
	{ "verify", cmd_verify, "POLICY [--hosts FILE|--offline]",
	  "compare the live table with the policy; exit 1 on drift" },
	{ "audit", cmd_audit, "POLICY [--hosts FILE|--offline] [--json] [--live|--no-live]",
	  "a report for reviewers: entries, elements and their answers, rules, live verdict" },
	{ "status", cmd_status, "[--json] [--state FILE]",
	  "show the live table, its sets and counters, and the daemon's hosts" },
	{ "flush", cmd_flush, "[--wait]", "remove the egressd table and nothing else" },
	{ "verify-install", cmd_verify_install, "[MANIFEST]",
	  "check installed files against the provenance manifest" },
	{ "help", cmd_help, "", "show this help" },
	{ "version", cmd_version, "", "show the version" },
};

void cmd_usage(FILE *f)
{
	fprintf(f, "usage: egressd [-v|-q] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		fprintf(f, "  %-14s %s\n  %-14s %s\n", c->name, c->usage, "", c->help);
	}
	fprintf(f, "\nexit codes: 0 ok, 1 drift, 2 usage, 3 invalid policy, 4 kernel,\n"
		"  5 permission, 6 locked, 7 no table, 8 resolution, 9 internal\n");
}

int cmd_help(int argc, char **argv)
{
	cmd_usage(stdout);
	return EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
	printf("egressd %s\n", EGRESSD_VERSION);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	int verbosity = 0;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			verbosity++;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			verbosity = -1;
		else if (!strcmp(argv[i], "--version"))
			return cmd_version(0, NULL);
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_help(0, NULL);
		else {
			fprintf(stderr, "egressd: unknown option '%s'\n", argv[i]);
			cmd_usage(stderr);
			return EXIT_USAGE;
		}
	}
	log_init(verbosity);
	if (i == argc) {
		cmd_usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < ARRAY_SIZE(commands); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	fprintf(stderr, "egressd: unknown command '%s'\n", argv[i]);
	cmd_usage(stderr);
	return EXIT_USAGE;
}
