/*
 * cmd_dt.h — `ntheap dt`, ntheap's structures field by field (cmd_dt.c).
 */
#ifndef NTH_CLI_DT_H
#define NTH_CLI_DT_H

#include <stdbool.h>

#include "inspect/dt.h"
#include "inspect/target.h"

/* Runs `ntheap dt`; argv[0] is "dt". Returns the exit status (see its --help). */
int nth_cli_dt(int argc, char **argv);
/* Shows `type` at `address` of an open target on stdout; 0, or 1 when the address does not
 * hold that structure or cannot be read. */
int nth_cli_dt_show(nth_target *target, const nth_dt_type *type, uintptr_t address, bool json);

#endif
