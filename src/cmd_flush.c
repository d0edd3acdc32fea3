/* egressd flush: placeholder until the netlink back end lands. */
#include "egressd.h"
#include "cmd.h"

int cmd_flush(int argc, char **argv)
{
	log_warnx("flush: not implemented yet");
	return EXIT_INTERNAL;
}
