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
#if __has_include(<valgrind/memcheck.h>) && !(defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD)
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

/* ------------------------------------------------------------------ AddressSanitizer (SAN=asan)
 *
 * In an ASan build (NTH_SANITIZER_BUILD with AddressSanitizer on), with the process option
 * asan_poison=1 (NTHEAP_OPTIONS; off by default, because a program that means to corrupt a heap —
 * the engine's own detection tests — or reads heap memory through its own copy routine would be
 * stopped by ASan first), back-end blocks are poisoned so that ASan reports a caller who touches
 * them:
 *
 *   busy block  | hdr | data (caller's) | slack |      free block  | hdr | links | body ...  |
 *                POISON  addressable      POISON                    POISON  open   POISON
 *
 * nth_block_store_locked (block.c) keeps that picture each time it writes a header (the one
 * place the back-end turns memory into a busy or a free block); the entry points poison a new
 * block's slack (NTH_ASAN_FENCE). The engine reads and writes headers only through
 * nth_raw_load16/nth_raw_store16 (uninstrumented), and the traversal copies memory with
 * nth_raw_copy, so it never trips over its own poison. Heaps with fill checking
 * (TAIL/FREE_CHECKING) are left unpoisoned: their fills are read and written across headers, and
 * they have their own detection. A big block's mapping is poisoned but for its data, and whole
 * while the cache keeps it (bigblock.c). LFH slots are not poisoned. Released or moved address
 * space is unpoisoned (vm_linux.c), so a later mapping there starts clean. */
#if defined(NTH_SANITIZER_BUILD) && defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#if defined(__SANITIZE_ADDRESS__)
#define NTH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NTH_ASAN 1
#endif
#endif
#endif
#endif
#ifndef NTH_ASAN
#define NTH_ASAN 0
#endif

#if NTH_ASAN
#include <sanitizer/asan_interface.h>
#define NTH_NO_ASAN __attribute__((no_sanitize_address, noinline))
#define NTH_ASAN_POISON(addr, size) ASAN_POISON_MEMORY_REGION(addr, size)
#define NTH_ASAN_UNPOISON(addr, size) ASAN_UNPOISON_MEMORY_REGION(addr, size)
struct nth_heap;
__attribute__((visibility("hidden"))) void nth_asan_fence_locked(struct nth_heap *heap, void *ptr, size_t size);
#define NTH_ASAN_FENCE(heap, ptr, size) ((ptr) ? nth_asan_fence_locked(heap, ptr, size) : (void)0)
__attribute__((visibility("hidden"))) void nth_raw_load16(void *out, const void *from);
__attribute__((visibility("hidden"))) void nth_raw_store16(void *to, const void *in);
__attribute__((visibility("hidden"))) void nth_raw_copy(void *out, const void *from, size_t length);
#else
#define NTH_ASAN_POISON(addr, size) ((void)(addr), (void)(size))
#define NTH_ASAN_UNPOISON(addr, size) ((void)(addr), (void)(size))
#define NTH_ASAN_FENCE(heap, ptr, size) ((void)0)
#define nth_raw_load16(out, from) memcpy(out, from, 16)
#define nth_raw_store16(to, in) memcpy(to, in, 16)
#define nth_raw_copy(out, from, length) memcpy(out, from, length)
#endif

#endif
