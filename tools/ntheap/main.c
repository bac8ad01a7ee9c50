/*
 * main.c — the ntheap command-line tool: dispatches to its subcommands.
 *
 *     ntheap demo        a guided tour of a live heap (cmd_demo.c)
 *     ntheap pst ...     inspect the Heap-on-Node stack of a .pst file (cmd_pst.c)
 */
#include <stdio.h>
#include <string.h>

#include "cmd_demo.h"
#include "cmd_pst.h"

static void usage(FILE *out)
{
    fputs("usage: ntheap demo\n"
          "       ntheap pst [--json] FILE info|heaps|validate|hn NID|props NID\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "demo") == 0) return nth_cli_demo(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "pst") == 0) return nth_cli_pst(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
