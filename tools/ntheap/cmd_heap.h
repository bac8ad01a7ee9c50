/*
 * cmd_heap.h — `ntheap heap` and `ntheap address`: WinDbg's !heap and !address /f:Heap views of
 * the ntheap heaps of a live process (-p), a core file (-c) or this process (--self), read
 * through libntheap-inspect and written through the emitter (emit.h). One file per group:
 *
 *   cmd_heap.c          arguments, target, the heap list (!heap), shared functions, exit status
 *   cmd_heap_summary.c  -s (!heap -s)
 *   cmd_heap_entries.c  -h / -hl (!heap -h), -i (!heap -i), -x (!heap -x)
 *   cmd_heap_stat.c     -stat (!heap -stat), -flt s / -flt r (!heap -flt)
 *   cmd_heap_leaks.c    -l (!heap -l)
 *   cmd_heap_page.c     -a ADDR (!heap -p -a: a block with its allocation and free stacks)
 *   cmd_heap_tags.c     -t (poolmon: per-tag counters), --watch
 *   cmd_address.c       ntheap address (!address /f:Heap)
 *
 * Exit status: 0 sound, 1 problems found (damaged heap, torn read, leaks, address not found, no
 * tags for -t), 2 bad usage or the target cannot be opened.
 */
#ifndef NTH_CLI_HEAP_H
#define NTH_CLI_HEAP_H

#include "emit.h"
#include "heap/iter.h"
#include "inspect/target.h"

int nth_cli_heap(int argc, char **argv);
int nth_cli_address(int argc, char **argv);

#define ADDR_DIGITS 16 /* x64: WinDbg prints 16 hex digits in !heap tables */

typedef struct heap_cli {
    nth_target *target;
    emit e;
    uint64_t problems;        /* problems found over all views: exit status 1 */
    uintptr_t heap_arg;       /* -h HEAP / -s HEAP / -stat -h HEAP; 0: every heap */
    bool lfh_blocks;          /* -hl */
    uintptr_t address;        /* -i / -x */
    uint64_t min_size, max_size; /* -flt: [min, max] */
    bool sort_allocs;         /* -t --sort allocs */
    unsigned watch_seconds;   /* -t --watch: refresh period; 0: once */
    unsigned watch_count;     /* -t --count: refreshes before stopping; 0: until interrupted */
} heap_cli;

/* The heap object at `address`, read whole (bool members made valid); false (a problem
 * emitted) when unreadable. */
bool heap_read(heap_cli *c, uintptr_t address, nth_heap *out);
/* A bool member of an object read from a target, from its byte (which may hold any value). */
bool heap_bool_at(const void *object, size_t offset);
/* Heaps the view covers: every heap, or only c->heap_arg. */
bool heap_selected(const heap_cli *c, uintptr_t address);
/* The 1-based index of a heap in the registry order (as !heap numbers them). */
size_t heap_index_of(const heap_cli *c, uintptr_t address);
/* Emits an iterator's problems (if any) as members of the current object and counts them. */
void heap_report_problems(heap_cli *c, uintptr_t heap, const nth_iter *it);
/* Flag words of an entry, WinDbg's vocabulary: "busy", "free", "internal", "LFH", ... */
const char *heap_flag_words(const nth_walk_entry *entry, char *buffer, size_t size);

/* The columns of a table of entries as `!heap -x` and `!heap -l` print them; the last column,
 * `last` of kind `type`, is JSON only. */
#define HEAP_ENTRY_COLUMNS(last, type)                                                                       \
    {                                                                                                    \
        {"entry", EMIT_HEX, "%016" PRIx64, NULL}, {"user", EMIT_HEX, "  %016" PRIx64, NULL},             \
            {"heap", EMIT_HEX, "  %016" PRIx64, NULL}, {"segment", EMIT_HEX, "  %016" PRIx64, NULL},     \
            {"size", EMIT_HEX, "  %8" PRIx64, NULL}, {"prev_size", EMIT_HEX, "  %8" PRIx64, NULL},       \
            {"unused", EMIT_HEX, "  %6" PRIx64, NULL}, {"flags", EMIT_STR, "    %s", ""}, {last, type, NULL, NULL}, \
    }
#define HEAP_ENTRY_HEADING                                                                               \
    "Entry             User              Heap              Segment               Size  PrevSize  Unused    " \
    "Flags\n-----------------------------------------------------------------------------------------------" \
    "------------------"

int heap_view_list(heap_cli *c);
int heap_view_summary(heap_cli *c);
int heap_view_entries(heap_cli *c);
int heap_view_block(heap_cli *c);      /* -i */
int heap_view_containing(heap_cli *c); /* -x */
int heap_view_stat(heap_cli *c);
int heap_view_filter(heap_cli *c);
int heap_view_leaks(heap_cli *c);
int heap_view_address(heap_cli *c);
int heap_view_page(heap_cli *c);   /* -a (!heap -p -a) */
int heap_view_tags(heap_cli *c);   /* -t (poolmon) */
struct target_arg;
/* -t --watch: opens the target afresh for each refresh; the exit status of the last one. */
int heap_watch_tags(heap_cli *c, const struct target_arg *target, bool json);

typedef struct found_entry {
    uintptr_t heap;
    nth_walk_entry entry;
    nth_block_header hdr;       /* back-end blocks */
    unsigned char raw[16];      /* the header as stored */
    uintptr_t segment;          /* segment base */
    uintptr_t segment_first;    /* first block of the segment */
    nth_lfh_subsegment sub;     /* LFH blocks */
    uintptr_t start, end;       /* the bytes the entry covers */
    const char *what;           /* "block", "segment header", "uncommitted range" */
} found_entry;

/* The entry of any heap whose bytes contain `address` (exact: whose header or data is it);
 * problems met on the way are reported. */
bool heap_find_entry(heap_cli *c, uintptr_t address, bool exact, found_entry *f);

/* Parses a hex number (with or without 0x, as WinDbg reads); false if not one. */
bool heap_parse_hex(const char *text, uint64_t *out);

#endif
