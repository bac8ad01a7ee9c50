/*
 * tags.h — heap tags (tags.c): the hooks the entry points call, and the macro the malloc layer
 * uses to route each call, tagged by the shared object that made it (NTHEAP_OPTIONS=tags=module).
 *
 * Every hook sits behind one relaxed load of nth_tags_heaps (the number of heaps that have tags)
 * and is called with the heap lock held, so a block's record and the counters change in the same
 * critical section as the block itself: a free can never debit a block another thread has just
 * been given at the same address. Tagged heaps run without the LFH, so the LFH never sees tags.
 *
 *   alloc_common ─► NTH_TAGS_ALLOC ─► record {block, size, tag}, credit the tag
 *   free_slow    ─► NTH_TAGS_FREE  ─► find the record, debit its tag, drop it
 *   realloc      ─► NTH_TAGS_MOVE  ─► debit the old size, credit the new, move the record
 *   page heap    ─► its realloc moves every block (alloc, copy, free): the new block takes
 *                   the old one's tag (nth_tags_flags_of_locked) unless the call names one
 *
 * This header is self-contained (the malloc layer includes it without the engine's internals).
 */
#ifndef NTH_DEBUG_TAGS_H
#define NTH_DEBUG_TAGS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntheap.h"

#define NTH_TAGS_HIDDEN __attribute__((visibility("hidden")))

/* qsort orders of a tag table (nth_tag_stats rows), the one `tag_report` and `ntheap heap -t`
 * print: most bytes in use first (then most allocations), or most allocations first. */
NTH_TAGS_HIDDEN int nth_tags_by_bytes(const void *a, const void *b);
NTH_TAGS_HIDDEN int nth_tags_by_allocs(const void *a, const void *b);

/* Heaps with a tag table; 0 keeps every hook to one load and a branch. */
extern NTH_TAGS_HIDDEN atomic_uint nth_tags_heaps;
/* NTHEAP_OPTIONS tags=module: the malloc layer passes NTH_TAGS_CALLER_FLAGS(). */
extern NTH_TAGS_HIDDEN bool nth_tags_by_module;

NTH_TAGS_HIDDEN void nth_tags_on_alloc_locked(nth_heap *heap, uint32_t flags, const void *ptr, size_t size);
NTH_TAGS_HIDDEN void nth_tags_on_free_locked(nth_heap *heap, const void *ptr);
NTH_TAGS_HIDDEN void nth_tags_on_move_locked(nth_heap *heap, uint32_t flags, const void *old, const void *ptr,
                                             size_t size);
/* The tag flags (NTH_MAKE_TAG_FLAGS) of the block at `ptr`; 0 when it has no tag. */
NTH_TAGS_HIDDEN uint32_t nth_tags_flags_of_locked(nth_heap *heap, const void *ptr);
/* With the heap going away (its lock no longer taken by anyone): frees its table. */
NTH_TAGS_HIDDEN void nth_tags_heap_destroyed(nth_heap *heap);
/* The tag flags of the process heap for a call made from `caller` (a return address). */
NTH_TAGS_HIDDEN uint32_t nth_tags_module_flags(const void *caller);
/* tags=module in a malloc-family function: allocates `size` bytes with `flags` on the process heap
 * under the tag of `caller`'s module, as the malloc layer would (NULL and errno ENOMEM on failure).
 * nth_tags_by_module is only set once the process heap exists, so there is always one. */
NTH_TAGS_HIDDEN void *nth_tags_alloc(size_t size, uint32_t flags, const void *caller, const char *call);
/* After NTHEAP_OPTIONS was read or a process option changed: applies tags and tag_report. */
NTH_TAGS_HIDDEN void nth_tags_options_changed(void);

#define NTH_TAGS_ON() __builtin_expect(atomic_load_explicit(&nth_tags_heaps, memory_order_relaxed) != 0, 0)
#define NTH_TAGS_ALLOC(heap, flags, ptr, size) \
    (NTH_TAGS_ON() ? nth_tags_on_alloc_locked(heap, flags, ptr, size) : (void)0)
#define NTH_TAGS_FREE(heap, ptr) (NTH_TAGS_ON() ? nth_tags_on_free_locked(heap, ptr) : (void)0)
#define NTH_TAGS_MOVE(heap, flags, old, ptr, size) \
    (NTH_TAGS_ON() ? nth_tags_on_move_locked(heap, flags, old, ptr, size) : (void)0)
/* First line of a malloc-family function: with tags=module, the call is served here, tagged by
 * the module of its caller; otherwise it costs one compare and a branch not taken. */
#define NTH_TAGS_ROUTE_ALLOC(size, flags, caller, call)                                            \
    do {                                                                                         \
        if (__builtin_expect(nth_tags_by_module, 0)) return nth_tags_alloc(size, flags, caller, call); \
    } while (0)

#endif
