/* egressd flush: delete table inet egressd and nothing else; an absent
 * table is not an error. */
#include "egressd.h"
#include "cmd.h"
#include "nl.h"
#include "priv.h"

#include <errno.h>
#include <getopt.h>

#define FLUSH_USAGE "usage: egressd flush [--wait]"

static int parse_args(int argc, char **argv, bool *wait)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'w') {
			fprintf(stderr, "%s\n", FLUSH_USAGE);
			return EXIT_USAGE;
		}
		*wait = true;
	}
	if (optind != argc) {
		fprintf(stderr, "%s\n", FLUSH_USAGE);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int flush(void)
{
	struct nl_err err = { 0 };
	bool existed = false;
	struct nl_sock *nl;
	char msg[640];

	nl = nl_open(&err);
	if (!nl || nl_flush(nl, &existed, &err) < 0) {
		log_warnx("flush: %s", nl_err_str(&err, msg, sizeof(msg)));
		nl_close(nl);
		return err.code == EPERM ? EXIT_PERM : EXIT_KERNEL;
	}
	nl_close(nl);
	if (existed)
		log_info("flush: table inet %s removed", EGRESSD_TABLE);
	else
		log_info("flush: there is no table inet %s; nothing to do",
			 EGRESSD_TABLE);
	return EXIT_OK;
}

int cmd_flush(int argc, char **argv)
{
	struct priv_lock lock = { -1 };
	bool wait = false;
	int ret;

	ret = parse_args(argc, argv, &wait);
	if (ret != EXIT_OK)
		return ret;
	ret = priv_restrict("flush", PRIV_WRITE);
	if (ret != EXIT_OK)
		return ret;
	ret = priv_lock("flush", wait, &lock);
	if (ret != EXIT_OK)
		return ret;
	ret = flush();
	priv_unlock(&lock);
	return ret;
}
