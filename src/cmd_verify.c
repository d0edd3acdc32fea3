/* egressd verify: placeholder until the netlink back end lands. */
#include "egressd.h"
#include "cmd.h"

int cmd_verify(int argc, char **argv)
{
	log_warnx("verify: not implemented yet");
	return EXIT_INTERNAL;
}
