/*
 * cmd_umdh.h — `ntheap umdh`, UMDH-style comparison of heap snapshots (cmd_umdh.c).
 */
#ifndef NTH_CLI_UMDH_H
#define NTH_CLI_UMDH_H

/* Runs `ntheap umdh`; argv[0] is "umdh". Returns 0 when the files were compared, 1 when one is
 * not a snapshot (or -p was asked for), 2 bad usage or a file that cannot be opened. */
int nth_cli_umdh(int argc, char **argv);
/* ntheap umdh -p PID | -c CORE: a snapshot taken from outside (cmd_umdh_take.c). */
int nth_cli_umdh_take(int argc, char **argv);

#endif
