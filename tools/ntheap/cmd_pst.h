/*
 * cmd_pst.h — the `ntheap pst` subcommand: inspect the Heap-on-Node stack of a .pst file.
 */
#ifndef NTH_CLI_PST_H
#define NTH_CLI_PST_H

/* Runs `ntheap pst ...`; argv[0] is "pst". Returns the process exit status: 0 success (for
 * `validate`: everything sound), 1 problems found or an error, 2 bad usage. */
int nth_cli_pst(int argc, char **argv);

#endif
