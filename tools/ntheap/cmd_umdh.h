/*
 * cmd_umdh.h — `ntheap umdh`, UMDH-style comparison of heap snapshots (cmd_umdh.c).
 */
#ifndef NTH_CLI_UMDH_H
#define NTH_CLI_UMDH_H

/* Runs `ntheap umdh`; argv[0] is "umdh". Returns 0 when the files were compared, 1 when one
 * could not be read or is not a snapshot, 2 bad usage. */
int nth_cli_umdh(int argc, char **argv);

#endif
