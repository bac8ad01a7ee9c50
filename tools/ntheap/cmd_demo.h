/*
 * cmd_demo.h — `ntheap demo`: the guided tour of a live heap (cmd_demo.c) and the lecture replayed
 * from outside (demo_lecture.c).
 */
#ifndef NTH_CLI_DEMO_H
#define NTH_CLI_DEMO_H

/* Runs `ntheap demo`; argv[0] is "demo". Returns the exit status: 0 the tour ran, 1 a heap could
 * not be created, 2 bad usage (any argument other than --help). */
int nth_cli_demo(int argc, char **argv);
/* `ntheap demo --lecture PROGRAM [--out DIR]` (demo_lecture.c): the lecture replayed from
 * outside against PROGRAM, heap maps written to DIR. 0 when the program ran every step and the
 * LFH story was seen, else 1. */
int nth_cli_demo_lecture(const char *program, const char *dir);
/* Runs the ntheap command named by argv[0] in this process (main.c); -1 if there is none. */
int nth_cli_dispatch(int argc, char **argv);

#endif
