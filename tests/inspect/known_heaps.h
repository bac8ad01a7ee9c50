/*
 * known_heaps.h — the heaps the inspector tests look at, built by a child process, and the
 * summary both sides compute from a walk: the child from its own nth_heap_walk, the tests from
 * the inspector's traversal of the child (live or core), so "the same entries" is checked as
 * equal counts, bytes and an order-sensitive hash of every entry.
 *
 *   process heap   20 x 0x30 (the LFH activates at the 18th)
 *   private heap   100 x 0x100 (LFH), every 10th freed; 3 x 0x2000, the middle one freed (a
 *                  free gap); big blocks of 1 MiB and 2 MiB; 5 x 0x77 still referenced from a
 *                  global ("kept"), 5 x 0x99 whose every pointer was dropped ("dropped"),
 *                  1 x 0x66 referenced only from the child's live frame ("framed"), 1 x 0x55
 *                  dropped but with a copy of its address left on purpose in a dead frame
 *                  16 KiB below the stack pointer ("stale": a leak, seen only if the scan
 *                  starts at the stack pointer)
 *
 * The child reports on `out` (text, one fact a line) and then waits to be killed:
 *   heap ADDR entries N busy N busy_bytes N free N free_bytes N lfh N big N hash H
 *   stat ADDR SIZE COUNT          busy non-internal blocks of the heap by requested size
 *   kept ADDR / dropped ADDR      data addresses
 *   framed ADDR / stale ADDR      data addresses
 *   stale_slot SLOT               where the stale copy of the address lies on the stack
 *   probe KIND ADDR               backend / lfh / big: a data address of such a block
 *   threads N                     the child's threads: its own, and any a sanitizer's runtime
 *                                 started (ThreadSanitizer keeps one of its own)
 * Modes: "normal", "version" (the registry claims layout version 1), "smash" (a busy header
 * overwritten, the segment list made cyclic, the heap list made cyclic).
 */
#ifndef NTH_TEST_KNOWN_HEAPS_H
#define NTH_TEST_KNOWN_HEAPS_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "heap/internal.h"
#include "heap/iter.h"

typedef struct heap_summary {
    uint64_t address, entries, busy, busy_bytes, free, free_bytes, lfh, big, hash;
} heap_summary;

static inline void summary_add(heap_summary *s, const nth_walk_entry *e)
{
    s->entries++;
    s->hash = (s->hash ^ (uint64_t)(uintptr_t)e->data ^ ((uint64_t)e->size << 20) ^ e->flags) * 0x100000001B3ull;
    if (e->flags & (NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED)) return;
    if (e->flags & NTH_ENTRY_BUSY) {
        s->busy++;
        s->busy_bytes += e->size;
        if (e->flags & NTH_ENTRY_LFH) s->lfh++;
        if (e->flags & NTH_ENTRY_BIG) s->big++;
    } else {
        s->free++;
        s->free_bytes += e->size;
    }
}

#define SUMMARY_FORMAT "heap %" SCNx64 " entries %" SCNu64 " busy %" SCNu64 " busy_bytes %" SCNu64 " free %" SCNu64 \
                       " free_bytes %" SCNu64 " lfh %" SCNu64 " big %" SCNu64 " hash %" SCNx64

enum { KEPT = 5, DROPPED = 5 };
static void *known_kept[KEPT];
static uintptr_t known_dropped_masked[DROPPED]; /* address ^ mask: not a pointer into the block */
#define KNOWN_MASK ((uintptr_t)0x5A5A5A5A5A5A5A5Aull)

static void report_heap(FILE *out, nth_heap *heap)
{
    heap_summary s = {(uintptr_t)heap, 0, 0, 0, 0, 0, 0, 0, 0};
    nth_walk_entry e = {0};
    enum { MAX_SIZES = 64 };
    size_t sizes[MAX_SIZES], counts[MAX_SIZES], n = 0;
    nth_heap_lock(heap);
    while (nth_heap_walk(heap, &e)) {
        summary_add(&s, &e);
        if ((e.flags & NTH_ENTRY_BUSY) && !(e.flags & NTH_ENTRY_INTERNAL)) {
            size_t i = 0;
            while (i < n && sizes[i] != e.size) i++;
            if (i == n && n < MAX_SIZES) sizes[n] = e.size, counts[n++] = 0;
            if (i < n) counts[i]++;
        }
    }
    nth_heap_unlock(heap);
    fprintf(out,
            "heap %" PRIx64 " entries %" PRIu64 " busy %" PRIu64 " busy_bytes %" PRIu64 " free %" PRIu64
            " free_bytes %" PRIu64 " lfh %" PRIu64 " big %" PRIu64 " hash %" PRIx64 "\n",
            s.address, s.entries, s.busy, s.busy_bytes, s.free, s.free_bytes, s.lfh, s.big, s.hash);
    for (size_t i = 0; i < n; i++) fprintf(out, "stat %" PRIxPTR " %zx %zu\n", (uintptr_t)heap, sizes[i], counts[i]);
}

/* Allocates and forgets: only masked copies of the addresses remain. */
static __attribute__((noinline)) void drop_blocks(nth_heap *heap)
{
    for (int i = 0; i < DROPPED; i++) known_dropped_masked[i] = (uintptr_t)nth_heap_alloc(heap, 0, 0x99) ^ KNOWN_MASK;
}

/* Allocates a block and returns its address masked: the plain address lives only in this
 * function's frame, dead once it returns (scrub_stack then overwrites it). */
static __attribute__((noinline)) uintptr_t alloc_masked(nth_heap *heap, size_t size)
{
    return (uintptr_t)nth_heap_alloc(heap, 0, size) ^ KNOWN_MASK;
}

/* Prints the dropped addresses; their unmasked values live only in this function's frame and
 * registers, which scrub_stack then overwrites. */
static __attribute__((noinline)) void print_dropped(FILE *out)
{
    for (int i = 0; i < DROPPED; i++) fprintf(out, "dropped %" PRIxPTR "\n", known_dropped_masked[i] ^ KNOWN_MASK);
}

/* Prints "WHAT ADDRESS" from a masked address, unmasking it only in this function's frame. */
static __attribute__((noinline)) void print_masked(FILE *out, const char *what, uintptr_t masked)
{
    fprintf(out, "%s %" PRIxPTR "\n", what, masked ^ KNOWN_MASK);
}

/* Overwrites the stack below the caller, where stale copies of dropped addresses may lie. */
/* The threads of this process, as /proc/self/task lists them. */
static int count_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *d; dir && (d = readdir(dir));) n += d->d_name[0] != '.';
    if (dir) closedir(dir);
    return n;
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char scratch[16384];
    explicit_bzero((char *)scratch, sizeof scratch); /* a memset of a dead local may be dropped */
}

/* Writes an unmasked copy of a dropped address deep in this frame, which is dead once it
 * returns: 16 KiB below the caller's stack pointer, beyond what the calls that follow reach.
 * The slot's address is returned as an integer (the test reads the copy back from outside). */
static __attribute__((noinline)) uintptr_t plant_stale(uintptr_t masked)
{
    volatile uintptr_t deep[2048];
    deep[0] = masked ^ KNOWN_MASK;
    uintptr_t slot = (uintptr_t)deep;
    return slot;
}

static void known_heaps_child(FILE *out, const char *mode)
{
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    nth_heap *process = nth_process_heap(), *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 20; i++) (void)!nth_heap_alloc(process, 0, 0x30);
    void *small[100], *mid[3], *big[2];
    for (int i = 0; i < 100; i++) small[i] = nth_heap_alloc(heap, 0, 0x100);
    for (int i = 0; i < 100; i += 10) nth_heap_free(heap, 0, small[i]);
    for (int i = 0; i < 3; i++) mid[i] = nth_heap_alloc(heap, 0, 0x2000);
    nth_heap_free(heap, 0, mid[1]);
    big[0] = nth_heap_alloc(heap, 0, 1u << 20);
    big[1] = nth_heap_alloc(heap, 0, 2u << 20);
    for (int i = 0; i < KEPT; i++) known_kept[i] = nth_heap_alloc(heap, 0, 0x77);
    drop_blocks(heap);
    void *volatile framed = nth_heap_alloc(heap, 0, 0x66); /* only in this (live) frame */
    memset(framed, 0, 0x66); /* what the block held before must not reach another block */
    uintptr_t stale_masked = alloc_masked(heap, 0x55);
    scrub_stack();
    report_heap(out, process);
    report_heap(out, heap);
    for (int i = 0; i < KEPT; i++) fprintf(out, "kept %" PRIxPTR "\n", (uintptr_t)known_kept[i]);
    print_dropped(out);
    fprintf(out, "probe backend %" PRIxPTR "\nprobe lfh %" PRIxPTR "\nprobe big %" PRIxPTR "\nprobe free %" PRIxPTR "\n",
            (uintptr_t)mid[2], (uintptr_t)small[99], (uintptr_t)big[1], (uintptr_t)mid[1]);
    scrub_stack(); /* printing left copies of the dropped addresses in dead frames */
    print_masked(out, "stale", stale_masked);
    scrub_stack();
    uintptr_t slot = plant_stale(stale_masked);
    fprintf(out, "framed %" PRIxPTR "\nstale_slot %" PRIxPTR "\nthreads %d\n", (uintptr_t)framed, slot,
            count_threads());
    if (strcmp(mode, "version") == 0) nth_heap_registry.layout_version = 1;
    if (strcmp(mode, "smash") == 0) {
        memset((char *)mid[2] - 16, 0x41, 16); /* a busy back-end header */
        heap->first_segment->next = heap->first_segment; /* a cyclic segment list */
        heap->next_heap = heap;                          /* a cyclic heap list */
        heap->big_list->next = heap->big_list;           /* a cyclic big-block list */
    }
    fprintf(out, "ready\n");
    fflush(out);
    for (;;) pause();
}

#endif
