/* egressd check: placeholder. */
#include "egressd.h"
#include "cmd.h"

int cmd_check(int argc, char **argv)
{
	return EXIT_INTERNAL;
}
