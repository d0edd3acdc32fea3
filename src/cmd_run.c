/* egressd run: start the daemon.  Privileges are cut to CAP_NET_ADMIN and
 * the writers' lock is held for the daemon's whole life. */
#include "egressd.h"
#include "cmd.h"
#include "daemon.h"
#include "priv.h"
#include "state.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>

#define RUN_USAGE "usage: egressd run POLICY [--state FILE | --no-state] " \
	"[--remove-on-exit] [--wait]"

/* The default directory is made on first use; systemd makes its own. */
static char *default_state_path(void)
{
	const char *path = state_default_path();

	if (!strcmp(path, STATE_DEFAULT_DIR "/state") && mkdir(STATE_DEFAULT_DIR, 0700) < 0 &&
	    errno != EEXIST)
		log_warn("run: cannot create %s", STATE_DEFAULT_DIR);
	return xstrdup(path);
}

static int parse_args(int argc, char **argv, struct daemon *d, bool *wait,
		      char **state)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "no-state", no_argument, NULL, 'n' },
		{ "remove-on-exit", no_argument, NULL, 'r' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	bool no_state = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			*state = xstrdup(optarg);
			break;
		case 'n':
			no_state = true;
			break;
		case 'r':
			d->remove_on_exit = true;
			break;
		case 'w':
			*wait = true;
			break;
		default:
			fprintf(stderr, "%s\n", RUN_USAGE);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (no_state && *state)) {
		fprintf(stderr, "%s\n", RUN_USAGE);
		return EXIT_USAGE;
	}
	d->policy_path = argv[optind];
	if (!no_state && !*state)
		*state = default_state_path();
	return EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
	struct policy_errors errs = { 0 };
	struct daemon d = { .sigfd = -1 };
	struct priv_lock lock = { .fd = -1 };
	char *state = NULL;
	bool wait = false;
	int rc;

	if (daemon_signals(&d) < 0) {
		log_warn("run: signals");
		return EXIT_INTERNAL;
	}
	rc = parse_args(argc, argv, &d, &wait, &state);
	if (rc != EXIT_OK)
		goto out;
	d.state_path = state;
	rc = priv_restrict("run", PRIV_WRITE);
	if (rc != EXIT_OK)
		goto out;
	rc = priv_lock("run", wait, &lock);
	if (rc != EXIT_OK)
		goto out;
	d.policy = policy_load(d.policy_path, &errs);
	if (!d.policy) {
		policy_errors_print(&errs, stderr);
		policy_errors_clear(&errs);
		rc = EXIT_POLICY;
		goto out;
	}
	rc = daemon_start(&d);
	if (rc == EXIT_OK)
		rc = daemon_loop(&d);
out:
	daemon_free(&d);
	priv_unlock(&lock);
	free(state);
	return rc;
}
