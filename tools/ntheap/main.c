/*
 * main.c — the ntheap command-line tool: global options, `help`, and dispatch to subcommands.
 *
 *     ntheap demo        a guided tour of a live heap (cmd_demo.c)
 *     ntheap pst ...     inspect the Heap-on-Node stack of a .pst file (cmd_pst.c)
 *     ntheap umdh A B    what grew between two heap snapshots, by allocation stack (cmd_umdh.c);
 *                        umdh -p PID -o FILE takes one from outside (cmd_umdh_take.c)
 *     ntheap heap ...    !heap views of another process or a core file (cmd_heap.c)
 *     ntheap address ... !address /f:Heap of another process or a core file (cmd_address.c)
 *     ntheap dt ...      a structure field by field (cmd_dt.c)
 *     ntheap map ...     a heap map picture (cmd_map.c)
 *     ntheap run ...     run a program under the malloc replacement (cmd_run.c)
 *     ntheap help CMD    the same text as `ntheap CMD --help`
 *     ntheap --version   the package version (NTH_VERSION_* of <ntheap.h>)
 *
 * Conventions every subcommand follows: data on stdout, errors on stderr; exit status 0 ok,
 * 1 problems found (or an operation failed), 2 bad usage or a file or process that cannot be
 * opened. Each subcommand prints its own help
 * for --help; this file only lists the commands and forwards.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_demo.h"
#include "cmd_heap.h"
#include "cmd_dt.h"
#include "cmd_map.h"
#include "cmd_pst.h"
#include "cmd_run.h"
#include "cmd_umdh.h"
#include "ntheap.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"demo", "a guided tour of a live heap: walks, allocations, corruption reports", nth_cli_demo},
    {"pst", "inspect and validate the Heap-on-Node stack of a .pst file", nth_cli_pst},
    {"umdh", "heap snapshots: take one from outside (-p/-c), compare two by allocation stack (UMDH)", nth_cli_umdh},
    {"heap", "WinDbg's !heap for the heaps of a live process or core file", nth_cli_heap},
    {"address", "the heap regions of a process or core file (!address /f:Heap)", nth_cli_address},
    {"dt", "an ntheap structure of a process or core field by field, like WinDbg's dt", nth_cli_dt},
    {"map", "draw one heap of a process or core as an SVG picture", nth_cli_map},
    {"run", "run a program with the ntheap malloc replacement preloaded", nth_cli_run},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fputs("usage: ntheap [--version] [--help] COMMAND [ARGS...]\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < COMMAND_COUNT; i++) fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fputs("  help    ntheap help COMMAND shows a command's arguments (same as COMMAND --help)\n"
          "\n"
          "Data goes to stdout, errors to stderr. Exit status: 0 ok, 1 problems found or an\n"
          "operation failed, 2 bad usage or a file or process that cannot be opened. See ntheap(1).\n",
          out);
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int nth_cli_dispatch(int argc, char **argv)
{
    const command *c = argc > 0 ? find(argv[0]) : NULL;
    return c ? c->run(argc, argv) : -1;
}

/* `ntheap help [COMMAND]`: the top-level usage, or COMMAND's own --help. */
static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    const command *c = find(argv[1]);
    if (!c || argc > 2) {
        if (!c) fprintf(stderr, "ntheap help: unknown command \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    char name[16], flag[] = "--help";
    snprintf(name, sizeof name, "%s", c->name);
    char *args[] = {name, flag, NULL};
    return c->run(2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        printf("ntheap %d.%d.%d\n", NTH_VERSION_MAJOR, NTH_VERSION_MINOR, NTH_VERSION_PATCH);
        return 0;
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(arg, "help") == 0) return help(argc - 1, argv + 1);
    const command *c = find(arg);
    if (c) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "ntheap: unknown %s \"%s\"\n", arg[0] == '-' ? "option" : "command", arg);
    usage(stderr);
    return 2;
}
