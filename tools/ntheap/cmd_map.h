/*
 * cmd_map.h — `ntheap map`, the heap map picture of a target (cmd_map.c).
 */
#ifndef NTH_CLI_MAP_H
#define NTH_CLI_MAP_H

#include "inspect/map_svg.h"
#include "inspect/target.h"

/* Runs `ntheap map`; argv[0] is "map". Returns the exit status (see its --help). */
int nth_cli_map(int argc, char **argv);
/* Writes the picture of `heap` of an open target to `path` ("-": stdout), filling `counts`
 * (optional); returns 0, or 1 when the heap has problems or the file cannot be written. */
int nth_cli_map_write(nth_target *target, uintptr_t heap, const char *path, nth_map_counts *counts);

#endif
