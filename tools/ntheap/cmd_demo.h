/*
 * cmd_demo.h — `ntheap demo`, the guided tour of a live heap (cmd_demo.c).
 */
#ifndef NTH_CLI_DEMO_H
#define NTH_CLI_DEMO_H

int nth_cli_demo(int argc, char **argv);

#endif
