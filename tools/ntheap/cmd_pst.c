/*
 * cmd_pst.c — `ntheap pst FILE COMMAND`: argument parsing and dispatch; usage() below lists the
 * commands (info heaps validate tree ls hn props table set), each in its cmd_pst_*.c file.
 *
 * PATH is a NID ("0x21" or decimal "33") or a subnode path ("0x200024/0x8025"). Options may
 * come anywhere. Exit status: 0 success, 1 problems or errors, 2 usage or a file that cannot
 * be opened as a PST. The dispatcher opens the one output document (emit.h) around the command,
 * so with --json every failure, usage included, is a JSON object with an "error" field.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd_pst.h"
#include "pst_cli.h"

static void usage(FILE *out)
{
    fputs("usage: ntheap pst [--json] FILE info|heaps|validate|tree\n"
          "       ntheap pst [--json] FILE hn|table NID[/SUBNID...]\n"
          "       ntheap pst [--json] FILE ls FOLDER-NID|FOLDER/NAMES\n"
          "       ntheap pst [--json] FILE set NID 0xIIIITTTT VALUE\n"
          "       ntheap pst [--json|--raw] FILE props NID[/SUBNID...]\n"
          "\n"
          "Reads the NDB layer and the Heap-on-Node stack of an Outlook .pst/.ost file (ANSI or\n"
          "Unicode, any encoding). Every command costs time and memory proportional to the file,\n"
          "however it is damaged.\n"
          "\n"
          "commands:\n"
          "  info       the header, node and block counts, heaps by client, problems found\n"
          "  heaps      every Heap-on-Node, one line each (node, client, pages, allocations)\n"
          "  validate   every check: pages, blocks, trees, heaps, allocation maps, tables;\n"
          "             exit 0 only if the file is sound\n"
          "  tree       the folder hierarchy with item counts\n"
          "  ls         a folder's items (subject, sender, date, size, attachments)\n"
          "  hn         one heap: its pages and allocations, with a hex dump\n"
          "  props      a Property Context's properties (named ones resolved); --raw: one line\n"
          "             per property, tag type hex-value\n"
          "  table      a Table Context's columns and rows\n"
          "  set        rewrites one property (tag 0xIIIITTTT: id and type) in the file, atomically:\n"
          "             a temporary file, fsync, rename; the original is untouched until then.\n"
          "             VALUE: integer, true/false, UTF-8 text (PtypString, PtypString8: ASCII)\n"
          "             or hex digits (PtypBinary); @PATH reads it from a file (- = stdin).\n"
          "             Values over 3580 bytes go to a subnode of the node (a block, or an\n"
          "             XBLOCK over blocks): up to 8,347,696 bytes (Unicode) / 16,711,740 (ANSI)\n"
          "\n"
          "NID is hexadecimal with 0x (0x21) or decimal (33); NID/SUBNID/... follows subnode trees\n"
          "(0x200024/0x8025). FOLDER is a folder NID or a path of display names from the root.\n"
          "Options may come anywhere. --json writes one JSON object, also for errors.\n"
          "\n"
          "Exit status: 0 ok (validate: sound), 1 problems found or the operation failed, 2 bad\n"
          "usage or the file cannot be opened as a PST file.\n",
          out);
}

/* Bad usage: exit 2, and with --json an object with an "error" field too. */
static int usage_fail(const pst_opts *o, const char *why)
{
    usage(stderr);
    pst_cli_error_members(o, why);
    return 2;
}

typedef struct command {
    const char *name;
    int nargs; /* arguments after the command */
    int (*run)(nth_pst_file *, const pst_opts *);
} command;

static const command commands[] = {
    {"info", 0, pst_cmd_info},   {"heaps", 0, pst_cmd_heaps},
    {"validate", 0, pst_cmd_validate}, {"hn", 1, pst_cmd_hn},
    {"props", 1, pst_cmd_props},  {"table", 1, pst_cmd_table},
    {"tree", 0, pst_cmd_tree},   {"ls", 1, pst_cmd_ls},
    {"set", 3, NULL},
};

/* Parses the arguments and runs the command on the open emitter; returns the exit status. */
static int run(pst_opts *o, const char **pos, int npos, const char *why)
{
    if (why) return usage_fail(o, why);
    if (npos < 2) return usage_fail(o, "expected FILE and COMMAND");
    o->file = pos[0];
    o->command = pos[1];
    o->arg = pos[2];
    o->tag = pos[3];
    o->value = pos[4];
    const command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(o->command, commands[i].name) == 0) cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "ntheap pst: unknown command \"%s\"\n", o->command);
        return usage_fail(o, "unknown command");
    }
    if (npos - 2 != cmd->nargs)
        return usage_fail(o, cmd->nargs == 0 ? "this command takes no node path"
                             : cmd->nargs == 1 ? "this command needs one node path"
                                               : "set needs NID TAG VALUE");
    if (!cmd->run) return pst_cmd_set(o);
    nth_pst_file *f;
    nth_pst_error e;
    if (nth_pst_open(o->file, &f, &e)) return pst_cli_refuse(o, "%s: %s", o->file, e.message);
    nth_pst_limit_work(f, 64); /* any command costs O(file size), however hostile the file */
    int rc = cmd->run(f, o);
    nth_pst_close(f);
    return rc;
}

int nth_cli_pst(int argc, char **argv)
{
    pst_opts o = {0};
    const char *pos[5] = {0}, *why = NULL;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[i], "--raw") == 0)
            o.raw = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (npos < 5)
            pos[npos++] = argv[i];
        else
            why = "too many arguments";
    }
    emit out;
    emit_begin(&out, stdout, o.json);
    o.e = &out;
    int rc = run(&o, pos, npos, why);
    emit_end(&out);
    return rc;
}
