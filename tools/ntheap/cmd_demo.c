/*
 * cmd_demo.c — `ntheap demo`: the story of the WinDbg heap lecture, told by a live ntheap heap.
 * It creates a growable private heap, walks it after each step in `!heap -h` style, and shows:
 * the first region (header block, one free block, the uncommitted rest); back-end blocks being
 * carved off in order; the LFH taking over 0x100-byte requests (the 18th creates it, the 19th
 * is its first block); coalescing of freed neighbours; a big block mapped on its own; a second
 * segment with twice the reserve; a double free detected and reported; and the statistics.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_demo.h"
#include "ntheap.h"

static void print_entry(const nth_walk_entry *e)
{
    if (e->flags & NTH_ENTRY_REGION) {
        printf("  Segment %02u at %p: reserved 0x%zx, committed 0x%zx, uncommitted 0x%zx, header 0x%zx\n",
               e->region_index, e->data, e->u.region.reserved, e->u.region.committed, e->u.region.uncommitted,
               e->size);
        return;
    }
    if (e->flags & NTH_ENTRY_UNCOMMITTED) {
        printf("    %p:  %8zx - uncommitted bytes.\n", e->data, e->size);
        return;
    }
    const char *kind = !(e->flags & NTH_ENTRY_BUSY)       ? "free"
                       : (e->flags & NTH_ENTRY_BIG)        ? "busy (big block)"
                       : (e->flags & NTH_ENTRY_LFH)        ? "busy (LFH)"
                       : (e->flags & NTH_ENTRY_INTERNAL)   ? "busy Internal"
                                                           : "busy";
    printf("    %p: %8zx bytes  overhead %4u  %s\n", e->data, e->size, e->overhead, kind);
}

/* Walks the heap, printing at most `limit` block lines per run of similar blocks. */
static void walk(nth_heap *heap, const char *title)
{
    printf("\n%s\n", title);
    nth_walk_entry e = {0};
    size_t run = 0, last_size = 0;
    uint16_t last_flags = 0xFFFF;
    while (nth_heap_walk(heap, &e)) {
        bool same = (e.flags & (NTH_ENTRY_BUSY | NTH_ENTRY_LFH | NTH_ENTRY_INTERNAL)) == NTH_ENTRY_BUSY &&
                    e.flags == last_flags && e.size == last_size;
        run = same ? run + 1 : 0;
        last_flags = e.flags;
        last_size = e.size;
        if (run < 3)
            print_entry(&e);
        else if (run == 3)
            printf("    ... (more blocks of 0x%zx bytes)\n", e.size);
    }
}

static void summary(nth_heap *heap)
{
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    printf("\nSummary: %zu segments, reserved 0x%zx, committed 0x%zx, %zu busy blocks (0x%zx bytes; %zu LFH in %zu "
           "subsegments), %zu free blocks (0x%zx bytes), %zu big blocks, %zu uncommitted ranges\n",
           st.segments, st.reserved, st.committed, st.busy_blocks, st.busy_bytes, st.lfh_blocks, st.lfh_subsegments,
           st.free_blocks, st.free_bytes, st.big_blocks, st.uncommitted_ranges);
}

static void usage(FILE *out)
{
    fputs("usage: ntheap demo\n"
          "       ntheap demo --lecture PROGRAM [--out DIR]\n"
          "\n"
          "Creates a growable private heap in this process and walks it after each step:\n"
          "back-end allocations, the LFH taking over, coalescing, a big block, a second\n"
          "segment, a double free caught and reported, and the statistics.\n"
          "NTHEAP_OPTIONS (see ntheap-options(7)) applies to the heap it creates.\n"
          "\n"
          "With --lecture, replays the growable-heap lecture from outside instead: PROGRAM\n"
          "(the lecture's program, examples/lec04_growable_heap) runs as a child of ntheap and\n"
          "stops at each step; ntheap reads its heap, writes a heap map of the step to DIR\n"
          "(default: the current directory) and runs the lecture's debugger commands as\n"
          "ntheap commands against its pid. `make demo` does this.\n"
          "\n"
          "Exit status: 0 the tour ran, 1 a heap could not be created (with --lecture: the\n"
          "program failed or the lecture's story was not seen), 2 bad usage.\n",
          out);
}

int nth_cli_demo(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "--lecture") == 0) {
        if (argc == 3) return nth_cli_demo_lecture(argv[2], ".");
        if (argc == 5 && strcmp(argv[3], "--out") == 0) return nth_cli_demo_lecture(argv[2], argv[4]);
    }
    if (argc > 1) {
        fprintf(stderr, "ntheap demo: unexpected argument \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    nth_heap *heap = nth_heap_create(0, 0, 0);
    if (!heap) {
        fprintf(stderr, "ntheap demo: cannot create a heap (%s)\n", nth_error_name(nth_last_error()));
        return 1;
    }
    printf("ntheap demo: a growable private heap at %p\n", (void *)heap);
    walk(heap, "1. A new heap: the header block, one free block, and the uncommitted rest of the segment");

    void *blocks[19];
    for (int i = 0; i < 17; i++) blocks[i] = nth_heap_alloc(heap, 0, 0x100);
    walk(heap, "2. Seventeen 0x100-byte allocations, carved off the free block one after the other");

    blocks[17] = nth_heap_alloc(heap, 0, 0x100);
    blocks[18] = nth_heap_alloc(heap, 0, 0x100);
    printf("\n3. The 18th allocation (%p) created the Low Fragmentation Heap but came from the back-end;\n"
           "   the 19th (%p) is the first block of an LFH subsegment:\n",
           blocks[17], blocks[18]);
    walk(heap, "   walk:");

    nth_heap_free(heap, 0, blocks[5]);
    nth_heap_free(heap, 0, blocks[6]);
    walk(heap, "4. Blocks 6 and 7 freed: the two neighbours coalesce into one free block");

    void *big = nth_heap_alloc(heap, 0, 2 << 20);
    void *large = nth_heap_alloc(heap, 0, 600 << 10);
    printf("\n5. A 2 MiB block is mapped on its own (%p); a 600 KiB block did not fit in the first\n"
           "   segment, so a second segment with a 1 MiB reserve was added (%p)\n",
           big, large);
    walk(heap, "   walk:");

    printf("\n6. Freeing block 6 a second time is detected and reported, and changes nothing:\n");
    fflush(stdout);
    bool freed = nth_heap_free(heap, 0, blocks[5]);
    fflush(stderr);
    printf("   nth_heap_free returned %s, error %s; the heap %s\n", freed ? "true" : "false",
           nth_error_name(nth_last_error()), nth_heap_validate(heap, 0, NULL) ? "validates" : "is damaged");
    summary(heap);
    nth_heap_destroy(heap);
    return 0;
}
