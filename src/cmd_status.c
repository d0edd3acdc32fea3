/* egressd status: placeholder until the netlink back end lands. */
#include "egressd.h"
#include "cmd.h"

int cmd_status(int argc, char **argv)
{
	log_warnx("status: not implemented yet");
	return EXIT_INTERNAL;
}
