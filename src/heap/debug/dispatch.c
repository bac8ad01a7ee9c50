/*
 * dispatch.c — the debug heap's entry points: what alloc, free and realloc do on a heap with
 * debug modes (api.c branches here once heap->debug_modes is seen nonzero).
 *
 *   alloc    parameter check ─► page heap (full) or the engine ─► light fill ─► trace
 *   free     parameter check ─► delayed already? (double free) ─► trace ─► page heap (full):
 *            detach + delay; light: fill 0xFEEEFEEE + delay; else the engine
 *   realloc  page heap (full, light): always moves (alloc, copy, free), so a stale pointer to
 *            the old block faults or is caught in the delay queue; else the engine, re-traced
 *
 * Stacks are captured outside every heap lock (capture may allocate on a first use).
 */

#include "heap/debug/debug.h"
#include "heap/debug/tags.h"

#define PAGE_MODES (NTH_DEBUG_PAGE_FULL | NTH_DEBUG_PAGE_LIGHT)
/* Every flag bit a call may carry, its own or forced by the heap's creation flags. */
#define KNOWN_CALL_FLAGS                                                                                         \
    (NTH_NO_SERIALIZE | NTH_GENERATE_EXCEPTIONS | NTH_ZERO_MEMORY | NTH_REALLOC_IN_PLACE_ONLY |                \
     NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED | NTH_SETTABLE_USER_VALUE | NTH_SETTABLE_USER_FLAGS | \
     NTH_TAG_MASK)

static bool params_ok(nth_heap *heap, uint32_t flags)
{
    if (!(heap->debug_modes & NTH_DEBUG_PARAMS) || !(flags & ~(uint32_t)KNOWN_CALL_FLAGS)) return true;
    nth_report_problem(heap, NTH_ERR_INVALID_PARAMETER, heap, "flags a heap call knows", "unknown flag bits");
    return false;
}

static void *fail(nth_heap *heap, uint32_t flags, nth_error error)
{
    nth_set_last_error(error);
    nth_raise_if_asked(heap, flags | heap->force_flags, error);
    return NULL;
}

void *nth_debug_alloc(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    uint8_t modes = heap->debug_modes;
    if (!params_ok(heap, flags)) return fail(heap, flags, NTH_ERR_INVALID_PARAMETER);
    void *p;
    if ((modes & NTH_DEBUG_PAGE_FULL) && nth_page_budget_left()) {
        p = nth_page_alloc(heap, flags, size, alignment);
        if (!p) return fail(heap, flags, NTH_ERR_NO_MEMORY);
    } else {
        p = nth_api_alloc(heap, flags, size, alignment);
        if (!p) return NULL; /* reported, error set */
        if ((modes & NTH_DEBUG_PAGE_LIGHT) && !((flags | heap->force_flags) & NTH_ZERO_MEMORY))
            nth_debug_fill32(p, size, NTH_FILL_NEW);
    }
    if (modes & NTH_DEBUG_TRACES) nth_trace_note_alloc(p, size, nth_trace_capture());
    return p;
}

bool nth_debug_free(nth_heap *heap, uint32_t flags, void *ptr)
{
    uint8_t modes = heap->debug_modes;
    if (!params_ok(heap, flags)) return fail(heap, flags, NTH_ERR_INVALID_PARAMETER), false;
    nth_delayed d;
    if ((modes & PAGE_MODES) && nth_delay_find(ptr, false, true, &d) && d.heap == heap) {
        nth_report_problem(heap, NTH_ERR_DOUBLE_FREE, ptr, "a busy block",
                           "a block already freed (in the page heap's delayed-free queue)");
        nth_delay_print_stacks(&d);
        return false;
    }
    uint32_t alloc_stack = 0, free_stack = 0;
    if (modes & NTH_DEBUG_TRACES) {
        alloc_stack = nth_trace_note_free(ptr);
        if (alloc_stack && (modes & PAGE_MODES)) free_stack = nth_trace_capture();
    }
    if (modes & NTH_DEBUG_PAGE_FULL) return nth_page_free(heap, flags, ptr, alloc_stack, free_stack);
    if (modes & NTH_DEBUG_PAGE_LIGHT) {
        size_t size = nth_heap_size(heap, flags, ptr); /* locates; reports a bad pointer */
        if (size == NTH_SIZE_ERROR) return false;
        nth_debug_fill32(ptr, size, NTH_FILL_FREE);
        /* Freed for the program now, though busy in the engine until it leaves the queue: its
         * tag is debited now, and the engine's free then finds no record to debit. */
        uint32_t forced = flags | heap->force_flags;
        nth_call_lock(heap, forced);
        NTH_TAGS_FREE(heap, ptr);
        nth_call_unlock(heap, forced);
        nth_delay_push(&(nth_delayed){heap, ptr, size, NULL, 0, alloc_stack, free_stack});
        return true;
    }
    return nth_api_free(heap, flags, ptr);
}

bool nth_debug_free_unowned(void *ptr)
{
    nth_delayed d;
    if (!nth_delay_find(ptr, false, true, &d)) return false;
    nth_report_problem(d.heap, NTH_ERR_DOUBLE_FREE, ptr, "a busy block",
                       "a block already freed (in the page heap's delayed-free queue)");
    nth_delay_print_stacks(&d);
    return true;
}

/* True when the block at ptr has a user value (NTH_SETTABLE_USER_VALUE), set or not. */
static bool has_user_value(nth_heap *heap, uint32_t flags, const void *ptr)
{
    uint32_t forced = flags | heap->force_flags;
    const char *expected, *found;
    nth_located where;
    nth_call_lock(heap, forced);
    bool has = nth_locate_block(heap, ptr, &where, &expected, &found) == NTH_OK &&
               (where.big ? !where.big->page_heap || (where.big->page_heap & NTH_PAGE_BLOCK_USER_VALUE)
                          : (where.hdr.flags & BLOCK_EXTRA) != 0);
    nth_call_unlock(heap, forced);
    return has;
}

/* Page heaps: every reallocation moves the block. */
static void *realloc_moving(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    nth_delayed d;
    if (nth_delay_find(ptr, false, true, &d)) {
        nth_report_problem(heap, NTH_ERR_DOUBLE_FREE, ptr, "a busy block",
                           "a block already freed (in the page heap's delayed-free queue)");
        nth_delay_print_stacks(&d);
        return fail(heap, flags, NTH_ERR_DOUBLE_FREE);
    }
    size_t old = nth_heap_size(heap, flags, ptr);
    if (old == NTH_SIZE_ERROR) return fail(heap, flags, nth_last_error());
    if (flags & NTH_REALLOC_IN_PLACE_ONLY) {
        if (size != old) return fail(heap, flags, NTH_ERR_CANNOT_MOVE);
        if (flags & NTH_TAG_MASK) { /* retagged in place, as the engine's realloc does */
            uint32_t forced = flags | heap->force_flags;
            nth_call_lock(heap, forced);
            NTH_TAGS_MOVE(heap, flags, ptr, ptr, size);
            nth_call_unlock(heap, forced);
        }
        return ptr;
    }
    /* The block's user value and flags move with it, as the engine's realloc carries them. */
    uintptr_t value = 0;
    uint32_t user_flags = 0;
    (void)nth_heap_get_user_info(heap, ptr, &value, &user_flags);
    uint32_t user = flags & (NTH_SETTABLE_USER_VALUE | NTH_SETTABLE_USER_FLAGS);
    user |= (user_flags & NTH_SETTABLE_USER_FLAGS) | (has_user_value(heap, flags, ptr) ? NTH_SETTABLE_USER_VALUE : 0);
    /* So does its tag, unless the call retags it: the move counts as an allocation and a free. */
    if (!(flags & NTH_TAG_MASK) && NTH_TAGS_ON()) {
        uint32_t forced = flags | heap->force_flags;
        nth_call_lock(heap, forced);
        user |= nth_tags_flags_of_locked(heap, ptr);
        nth_call_unlock(heap, forced);
    }
    void *q = nth_debug_alloc(heap, (flags & ~(uint32_t)NTH_ZERO_MEMORY) | user, size, NTH_GRANULE);
    if (!q) return NULL;
    if (value) (void)nth_heap_set_user_value(heap, q, value);
    memcpy(q, ptr, old < size ? old : size);
    if (size > old && (flags & NTH_ZERO_MEMORY)) memset((char *)q + old, 0, size - old);
    (void)nth_debug_free(heap, flags & NTH_NO_SERIALIZE, ptr);
    return q;
}

void *nth_debug_realloc(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    uint8_t modes = heap->debug_modes;
    if (!params_ok(heap, flags)) return fail(heap, flags, NTH_ERR_INVALID_PARAMETER);
    if (modes & PAGE_MODES) return realloc_moving(heap, flags, ptr, size);
    if (!(modes & NTH_DEBUG_TRACES)) return nth_api_realloc(heap, flags, ptr, size);
    uint32_t stack = nth_trace_capture();
    uint32_t old_stack = nth_trace_note_free(ptr);
    void *q = nth_api_realloc(heap, flags, ptr, size);
    if (q)
        nth_trace_note_alloc(q, size, stack);
    else if (old_stack)
        nth_trace_note_alloc(ptr, nth_heap_size(heap, flags & NTH_NO_SERIALIZE, ptr), old_stack);
    return q;
}
