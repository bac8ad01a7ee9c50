/*
 * visibility.h — making ntheap blocks visible to Valgrind's memcheck (visibility.c).
 *
 * Under memcheck (RUNNING_ON_VALGRIND, and memcheck answering its own client request, at the
 * first heap creation; other Valgrind tools such as callgrind see the heap as it runs natively)
 * every heap runs without the LFH,
 * and the entry points announce each block with the client requests, so memcheck sees ntheap
 * blocks as it sees malloc's:
 *
 *   entry point (NTH_ENTER)     memcheck's error reporting off for the engine's own work
 *   alloc       NTH_VIS_ALLOC   header, tail slack, next header (and the free block after) made
 *                               NOACCESS; the block announced (MALLOCLIKE_BLOCK, zeroed or not)
 *   free        NTH_VIS_FREE    FREELIKE_BLOCK: the data becomes NOACCESS, the free stack is kept
 *   realloc     NTH_VIS_REALLOC RESIZEINPLACE_BLOCK, or MALLOCLIKE(new) + copy defined + FREELIKE
 *
 *   | hdr | data (user) | slack | hdr | data (free) ... |
 *    NOACC  UNDEFINED     NOACC  NOACC  NOACC
 *
 * So an overrun into a header or the slack, an underrun into the header, and any touch of a freed
 * block are invalid accesses in a block "alloc'd" by the caller's stack, and the leak summary
 * counts ntheap blocks. The engine reads and writes headers, links and fills while memcheck's
 * reporting is off for the thread (VALGRIND_DISABLE_ERROR_REPORTING, nested per entry point), so
 * memcheck stays quiet about the engine itself and no engine accessor needs bracketing.
 *
 * Build-time only: <valgrind/memcheck.h> (Debian's valgrind package) is used when the compiler
 * finds it; without it every macro here compiles to nothing. At run time without Valgrind the
 * hooks cost one load and a branch, on slow paths only (the LFH fast paths carry none).
 */
#ifndef NTH_DEBUG_VISIBILITY_H
#define NTH_DEBUG_VISIBILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntheap.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>) && !defined(NTH_SANITIZER_BUILD)
#define NTH_VIS_VALGRIND 1
#endif
#endif
#ifndef NTH_VIS_VALGRIND
#define NTH_VIS_VALGRIND 0
#endif

#if NTH_VIS_VALGRIND
extern __attribute__((visibility("hidden"))) bool nth_vis_valgrind;

__attribute__((visibility("hidden"))) void nth_vis_alloc_locked(nth_heap *heap, uint32_t flags, void *ptr,
                                                                size_t size);
__attribute__((visibility("hidden"))) void nth_vis_free_locked(nth_heap *heap, void *ptr);
__attribute__((visibility("hidden"))) void nth_vis_realloc_locked(nth_heap *heap, uint32_t flags, void *old,
                                                                  size_t old_size, void *ptr, size_t size);
/* Entering / leaving an engine call: memcheck's reporting off / on for this thread. */
__attribute__((visibility("hidden"))) void nth_vis_quiet(bool quiet);

#define NTH_VIS_ON() __builtin_expect(nth_vis_valgrind, 0)
#define NTH_VIS_ALLOC(heap, flags, ptr, size) \
    (NTH_VIS_ON() && (ptr) ? nth_vis_alloc_locked(heap, flags, ptr, size) : (void)0)
#define NTH_VIS_FREE(heap, ptr) (NTH_VIS_ON() ? nth_vis_free_locked(heap, ptr) : (void)0)
#define NTH_VIS_REALLOC(heap, flags, old, old_size, ptr, size) \
    (NTH_VIS_ON() ? nth_vis_realloc_locked(heap, flags, old, old_size, ptr, size) : (void)0)
#define NTH_VIS_QUIET(on) (NTH_VIS_ON() ? nth_vis_quiet(on) : (void)0)
#else
#define NTH_VIS_ON() false
#define NTH_VIS_ALLOC(heap, flags, ptr, size) ((void)0)
#define NTH_VIS_FREE(heap, ptr) ((void)0)
#define NTH_VIS_REALLOC(heap, flags, old, old_size, ptr, size) ((void)0)
#define NTH_VIS_QUIET(on) ((void)0)
#endif

/* Before a heap's memory is released: its live blocks stop being live for memcheck. */
__attribute__((visibility("hidden"))) void nth_vis_heap_destroying(nth_heap *heap);
/* At options load, before the first heap exists: under Valgrind, new heaps get no LFH. */
__attribute__((visibility("hidden"))) void nth_vis_init(void);

#endif
