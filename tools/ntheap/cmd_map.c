/*
 * cmd_map.c — `ntheap map (-p PID | -c CORE | --self) [-h HEAP] -o FILE.svg`: the heap map
 * picture (src/inspect/map_svg.c) of one heap of a target, written to a standalone SVG file.
 * The target is read once, stopped while it is read; the picture carries the heap's address,
 * the target and the time it was read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd_map.h"
#include "inspect/map_svg.h"
#include "target_arg.h"

static void usage(FILE *out)
{
    fputs("usage: ntheap map (-p PID | -c CORE | --self) [--no-stop] [-h HEAP] -o FILE.svg\n"
          "\n"
          "Draws one heap of a target as a standalone SVG picture that opens in any browser:\n"
          "each segment a band to scale (header, blocks, uncommitted ranges), blocks coloured\n"
          "busy / free / internal, each LFH subsegment a grid of its slots, big blocks beside,\n"
          "with a legend, the heap's address and the time it was read. Hover a block for its\n"
          "address and size.\n"
          "\n"
          "  -p PID      a live process, stopped while it is read (needs ptrace rights)\n"
          "  -c CORE     a core file (e.g. from gcore)\n"
          "  --self      the ntheap process itself\n"
          "  --no-stop   with -p: read without stopping the process (best effort)\n"
          "  -h HEAP     the heap: an index as `ntheap heap` lists them, or its address\n"
          "              (default: the process heap, else the first heap)\n"
          "  -o FILE     where to write the picture (- for standard output)\n"
          "\n"
          "Exit status: 0 written, 1 written but the heap has problems (listed in the\n"
          "picture) or the file could not be written, 2 bad usage or the target cannot be read.\n",
          out);
}

/* Writes the map of `heap` of an open target to `path`; the exit status. *counts is zeroed
 * first and stays so when nothing could be written. */
int nth_cli_map_write(nth_target *target, uintptr_t heap, const char *path, nth_map_counts *counts)
{
    if (counts) memset(counts, 0, sizeof *counts);
    FILE *out = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!out) {
        perror(path);
        return 1;
    }
    char when[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    char title[300];
    snprintf(title, sizeof title, "ntheap heap map: %s", nth_target_describe(target));
    char error[256] = "";
    nth_map_counts local;
    bool ok = nth_map_svg(out, nth_target_mem(target), heap, title, when, counts ? counts : &local, error, sizeof error);
    if (out != stdout && fclose(out) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "ntheap map: %s: %s\n", path, error[0] ? error : "cannot write the picture");
        return 1;
    }
    return (counts ? counts : &local)->problems ? 1 : 0;
}

int nth_cli_map(int argc, char **argv)
{
    target_arg t = {0};
    const char *heap_text = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        int taken = target_arg_take(&t, argc, argv, &i, "map");
        if (taken < 0) return 2;
        if (taken) continue;
        if ((strcmp(arg, "-h") == 0 || strcmp(arg, "-o") == 0) && i + 1 < argc) {
            if (arg[1] == 'h') heap_text = argv[++i];
            else path = argv[++i];
            continue;
        }
        fprintf(stderr, "ntheap map: unexpected argument \"%s\"\n", arg);
        usage(stderr);
        return 2;
    }
    if (!target_arg_complete(&t, "map")) return 2;
    if (!path) {
        fputs("ntheap map: no output file: give -o FILE.svg\n", stderr);
        return 2;
    }
    if (!target_arg_output_ok(&t, path, "map")) return 2;
    nth_target *target = target_arg_open(&t, "map");
    if (!target) return 2;
    uintptr_t heap = target_arg_heap(target, heap_text, "map");
    int status = 2;
    nth_map_counts counts;
    if (heap) status = nth_cli_map_write(target, heap, path, &counts);
    nth_target_close(target);
    if (heap && strcmp(path, "-") != 0 && status != 2 && counts.segments)
        printf("heap 0x%" PRIxPTR ": %zu segments, %zu blocks, %zu LFH blocks, %zu big blocks -> %s\n", heap, counts.segments, counts.busy + counts.free + counts.internal + counts.damaged,
                counts.lfh_busy, counts.big, path);
    return status;
}
