/* egressd plan: placeholder. */
#include "egressd.h"
#include "cmd.h"

int cmd_plan(int argc, char **argv)
{
	return EXIT_INTERNAL;
}
