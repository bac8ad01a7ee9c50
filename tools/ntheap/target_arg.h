/*
 * target_arg.h — the target options of the commands that read heaps from outside (`map`, `dt`):
 *
 *   -p PID      a live process (stopped while it is read, resumed after)
 *   -c CORE     a core file
 *   --self      this process (the ntheap tool itself)
 *   --no-stop   with -p: read without stopping the process (best effort)
 *
 * and the choice of one heap of a target: an index as `!heap` lists them (1, 2, ...), or an
 * address (hexadecimal, with or without 0x, as WinDbg takes `!heap -h 470000`).
 */
#ifndef NTH_CLI_TARGET_ARG_H
#define NTH_CLI_TARGET_ARG_H

#include <stdbool.h>
#include <stdint.h>

#include "inspect/target.h"

typedef struct target_arg {
    int pid;            /* -p, or 0 */
    const char *core;   /* -c, or NULL */
    bool self;          /* --self */
    bool no_stop;       /* --no-stop */
} target_arg;

/* Takes the target option at argv[*i] (and its value, advancing *i): 1 taken, 0 not a target
 * option, -1 a bad one (the message is on stderr, prefixed with `command`). */
int target_arg_take(target_arg *t, int argc, char **argv, int *i, const char *command);
/* True when exactly one target was given; otherwise says so on stderr. */
bool target_arg_complete(const target_arg *t, const char *command);
/* Opens the target; NULL with the reason on stderr. */
nth_target *target_arg_open(const target_arg *t, const char *command);
/* The heap `text` names (an index or an address; NULL: the process heap, else the first heap);
 * 0 with the reason on stderr when there is no such heap. */
uintptr_t target_arg_heap(const nth_target *target, const char *text, const char *command);
/* True when `path` (an output file; NULL or "-" is standard output) is not the core file being
 * read: writing it would cut the core under the reader. Otherwise says so on stderr. */
bool target_arg_output_ok(const target_arg *t, const char *path, const char *command);
/* Parses a hexadecimal address (0x optional); false if `text` is not one. */
bool target_arg_address(const char *text, uintptr_t *address);

#endif
