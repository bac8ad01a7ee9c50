/*
 * cmd_demo.h — `ntheap demo`, the guided tour of a live heap (cmd_demo.c).
 */
#ifndef NTH_CLI_DEMO_H
#define NTH_CLI_DEMO_H

/* Runs `ntheap demo`; argv[0] is "demo". Returns the exit status: 0 the tour ran, 1 a heap could
 * not be created, 2 bad usage (any argument other than --help). */
int nth_cli_demo(int argc, char **argv);

#endif
