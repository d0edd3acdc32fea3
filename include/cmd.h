/* The subcommands: one source file each (src/cmd_NAME.c), picked from the
 * table in main.c.  Each takes argv with argv[0] = the command's name and
 * returns an exit code from enum exit_code. */
#ifndef EGRESSD_CMD_H
#define EGRESSD_CMD_H

#include "egressd.h"

int cmd_check(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_verify_install(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Print the usage summary of every command to f. */
void cmd_usage(FILE *f);

#endif
