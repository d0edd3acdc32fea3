/* egressd apply: placeholder until the netlink back end lands. */
#include "egressd.h"
#include "cmd.h"

int cmd_apply(int argc, char **argv)
{
	log_warnx("apply: not implemented yet");
	return EXIT_INTERNAL;
}
