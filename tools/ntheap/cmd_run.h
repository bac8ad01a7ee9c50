/*
 * cmd_run.h — `ntheap run`, a program started under the malloc replacement (cmd_run.c).
 */
#ifndef NTH_CLI_RUN_H
#define NTH_CLI_RUN_H

/* Runs `ntheap run`; argv[0] is "run". Returns only on failure (the exit status: 2 bad usage or
 * no library, 126/127 the program could not be executed); otherwise the program replaces ntheap. */
int nth_cli_run(int argc, char **argv);

#endif
