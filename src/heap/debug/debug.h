/*
 * debug.h — the debug heap: the hooks the entry points call, and what the files of this folder
 * share. Nothing outside src/heap/api.c, heap.c and report.c includes this header; the back-end
 * and the LFH never see the debug heap.
 *
 *   entry point (api.c) ──► heap->debug_modes == 0 ──► engine route, as without this folder
 *                      └──► != 0 (rare, predictable) ──► nth_debug_alloc / _free / _realloc
 *                                                         │ params.c    flag checks
 *                                                         │ pageheap.c  full page heap (guards)
 *                                                         │ delay.c     delayed frees (full, light)
 *                                                         │ traces.c    stack-trace database
 *                                                         └─► nth_api_alloc / _free / _realloc
 *                                                             (the engine route, api.c)
 *   fault.c   SIGSEGV/SIGBUS in a guard or freed page ──► report, then the default action
 *   leaks.c   at exit: unreachable blocks by stack; UMDH snapshot files
 *   fill.c    tail, free and new fill patterns (HEAP_TAIL/FREE_CHECKING_ENABLED, debug_fill)
 *
 * Cost when off: heap->debug_modes is 0 on every heap unless an NTHEAP_OPTIONS debug name (or
 * its nth_heap_set_option(NULL, ...) default) was set before the heap was created. A heap with
 * a debug mode runs without the LFH (as on Windows), so its calls all leave the LFH fast path
 * and reach the one branch on debug_modes in the slow paths; heaps without one never pay more
 * than that branch, and the fast path nothing.
 *
 * Modes are fixed when a heap is created (nth_debug_heap_flags / nth_debug_heap_created): a
 * heap never changes its block kinds under live blocks.
 */
#ifndef NTH_DEBUG_H
#define NTH_DEBUG_H

#include <signal.h>
#include <stdatomic.h>

#include "heap/debug/outside_layout.h"
#include "heap/internal.h"

/* heap->debug_modes bits. */
enum {
    NTH_DEBUG_FILL = 0x01,       /* debug_fill: tail/free checking flags (fill.c) */
    NTH_DEBUG_PARAMS = 0x02,     /* parameter_checking */
    NTH_DEBUG_PAGE_FULL = 0x04,  /* page_heap=1 */
    NTH_DEBUG_PAGE_LIGHT = 0x08, /* page_heap=2 */
    NTH_DEBUG_TRACES = 0x10,     /* stack_traces (also implied by leak_report) */
    NTH_DEBUG_ALIGN_START = 0x20 /* page_heap_align_start */
};

/* ---------------------------------------------------------------- hooks (params.c, dispatch.c) */

/* Creation flags the process's debug options add to a new heap (debug_fill: tail and free
 * checking, as gflags' htc/hfc set them). */
uint32_t nth_debug_heap_flags(void);
/* Called once a heap exists, before anyone else can see it: sets its modes, turns its LFH off
 * when it has one, and arms what the modes need (fault handler, exit report). */
void nth_debug_heap_created(nth_heap *heap);
/* Called by nth_heap_destroy before the heap's memory goes: drops its delayed frees. */
void nth_debug_heap_destroyed(nth_heap *heap);

/* The entry points for heaps with debug_modes != 0 (handle checked, flags not yet forced). */
void *nth_debug_alloc(nth_heap *heap, uint32_t flags, size_t size, size_t alignment);
bool nth_debug_free(nth_heap *heap, uint32_t flags, void *ptr);
void *nth_debug_realloc(nth_heap *heap, uint32_t flags, void *ptr, size_t size);
/* A pointer no heap owns, given to free: true when it was a delayed-free block (reported as a
 * double free); false when the debug heap knows nothing of it. */
bool nth_debug_free_unowned(void *ptr);
/* Any debug mode on any heap of this process (a process-wide flag for paths with no heap). */
extern atomic_bool nth_debug_any;

/* The engine routes (api.c) the debug layer wraps: the same as a heap without debug modes. */
void *nth_api_alloc(nth_heap *heap, uint32_t flags, size_t size, size_t alignment);
bool nth_api_free(nth_heap *heap, uint32_t flags, void *ptr);
void *nth_api_realloc(nth_heap *heap, uint32_t flags, void *ptr, size_t size);

/* -------------------------------------------------------------------------------- fill.c */

/* Checks the tail fill of a located busy block with BLOCK_FILL; reports the first modified byte.
 * The test of the flag is inline: blocks without a fill pay one branch. */
void nth_debug_check_tail_fill(nth_heap *heap, const nth_located *where);
static inline void nth_debug_check_tail(nth_heap *heap, const nth_located *where)
{
    if (where->big || !(where->hdr.flags & BLOCK_FILL)) return;
    nth_debug_check_tail_fill(heap, where);
}
/* Fills [p, p+n) with the 32-bit pattern (whole words, then the pattern's leading bytes). */
void nth_debug_fill32(void *p, size_t n, uint32_t pattern);
/* The first byte of [p, p+n) that differs from the pattern nth_debug_fill32 wrote, or NULL. */
const unsigned char *nth_debug_check32(const void *p, size_t n, uint32_t pattern);

/* ----------------------------------------------------------------------------- pageheap.c */

/* False once the page heap's share of the system's mapping limit is used (announced once). */
bool nth_page_budget_left(void);
/* A block of its own mapping: data ends at a guard page (or starts after one with
 * align_start). NULL when out of memory. Takes the heap lock. */
void *nth_page_alloc(nth_heap *heap, uint32_t flags, size_t size, size_t alignment);
/* The page-heap block at ptr: checks its fill, detaches it from the heap, makes its pages
 * inaccessible and hands them to the delay queue with its stacks. A pointer that is not one
 * goes to the engine's free, which reports it. */
bool nth_page_free(nth_heap *heap, uint32_t flags, void *ptr, uint32_t alloc_stack, uint32_t free_stack);
/* The live page-heap block whose mapping holds addr (fault handler: no lock); false if none. */
bool nth_page_block_at(const void *addr, const nth_big **out);

/* -------------------------------------------------------------------------------- delay.c */

/* nth_delayed (one freed block held back from reuse): outside_layout.h. */

/* Queues a freed block; the oldest leaves when the queue is full: its mapping is released
 * (full) or its fill is checked and the block freed in the engine (light). */
void nth_delay_push(const nth_delayed *block);
/* After a report about a page-heap block: its allocation and free stacks on stderr, unless a
 * report handler is installed (the reports go there; nth_heap_block_stacks reads the stacks). */
void nth_delay_print_stacks(const nth_delayed *block);
/* The delayed block whose data starts at ptr (exact) or, with `containing`, whose mapping or
 * data holds ptr; copied into *out. Lock-free readers (the fault handler) pass locked false. */
bool nth_delay_find(const void *ptr, bool containing, bool locked, nth_delayed *out);
void nth_delay_drop_heap(nth_heap *heap);
/* What a light page heap holds back: blocks the program has freed that stay busy in the engine
 * until they leave the queue. */
typedef struct nth_delay_held {
    size_t blocks, bytes;     /* held blocks of the heap, and the bytes they had */
    const void *damaged;      /* with check_fill: the first modified byte of their fill, or NULL */
    nth_delayed damaged_block; /* the block holding it */
} nth_delay_held;
/* Counts the light blocks of `heap` in the queue and, with check_fill, checks their fill. Takes
 * the queue's lock: callable with the heap lock held. */
void nth_delay_survey(const nth_heap *heap, bool check_fill, nth_delay_held *out);

/* -------------------------------------------------------------------------------- traces.c */

/* Records the current stack; its index in the database (0 when traces are off or full). */
uint32_t nth_trace_capture(void);
/* Block map: ptr -> (size, alloc stack, free stack). */
void nth_trace_note_alloc(const void *ptr, size_t size, uint32_t stack);
/* Forgets ptr; returns its allocation stack (0 when unknown). */
uint32_t nth_trace_note_free(const void *ptr);
/* The stack's frames (up to max); returns the depth. */
size_t nth_trace_frames(uint32_t stack, void **frames, size_t max);
uint32_t nth_trace_alloc_stack_of(const void *ptr);
/* Calls fn for every live traced block, with the database locked (fn must not allocate). */
void nth_trace_for_each(void (*fn)(const void *ptr, size_t size, uint32_t stack, void *ctx), void *ctx);
/* Writes a stack as lines "    #i 0xADDR symbol+0xOFF (module)" to fd, skipping the engine's
 * own leading frames. Uses dladdr: never called on an allocating path. */
void nth_trace_print(int fd, uint32_t stack);
/* The first frame that is not the engine's own (for grouping); 0 when none. */
size_t nth_trace_user_frames(uint32_t stack, void **frames, size_t max);
void nth_trace_init(void);
/* Bytes of the database's mapping (for scans that must skip it). */
size_t nth_trace_db_bytes(void);

/* -------------------------------------------------------------------------------- fault.c */

void nth_fault_install(void);

/* -------------------------------------------------------------------------------- leaks.c */

void nth_leaks_arm(void);

/* Small formatting helpers that allocate nothing (for the fault handler and exit paths). */
void nth_debug_write(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
