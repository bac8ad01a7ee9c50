/*
 * api.c — the native allocation entry points: alloc, aligned alloc, realloc, free, size, usable
 * size, owner lookup and per-block user values. Each checks the handle, applies the heap's forced
 * flags, takes the heap lock (unless NO_SERIALIZE), sends the request to the LFH front-end, the
 * back-end or the big-block allocator, and turns failures into an error code, a report and, when
 * asked, an exception.
 *
 *   request ──► handle ok? ──► LFH (small, active bucket) ──► back-end (< 0xFE00 granules)
 *                                                         └─► big block (growable heaps)
 *
 * Heaps with a debug mode (heap->debug_modes, src/heap/debug/debug.h) have no LFH; their slow
 * paths branch once to the debug layer, which comes back through nth_api_alloc/_free/_realloc.
 */
#include "heap/debug/debug.h"
#include "heap/debug/tags.h"
#include "heap/internal.h"
#include "heap/lfh_fast.h"


static inline void lock_for(nth_heap *heap, uint32_t flags)
{
    nth_call_lock(heap, flags);
}

static inline void unlock_for(nth_heap *heap, uint32_t flags)
{
    nth_call_unlock(heap, flags);
}

/* The entry check, after NTH_ENTER has named the call: a handle that is not a live heap fails. */
static bool handle_ok(nth_heap *heap)
{
    if (NTH_LIKELY(nth_heap_handle_ok(heap))) return true;
    nth_set_last_error(NTH_ERR_INVALID_HANDLE);
    return false;
}

static void *fail_alloc(nth_heap *heap, uint32_t flags, nth_error error)
{
    nth_set_last_error(error);
    nth_raise_if_asked(heap, flags, error);
    return NULL;
}

static bool is_big_block_gr(uint32_t gr)
{
    return gr == 0 || gr >= NTH_BIG_THRESHOLD_GR;
}

static bool is_big_request(const nth_heap *heap, uint32_t flags, size_t size)
{
    return is_big_block_gr(nth_backend_block_gr(heap, flags, size));
}

/* Allocation with the lock held; alignment 16 means none beyond the default. */
NTH_INLINE_STEP void *alloc_locked(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    nth_assert_held(heap);
    uint32_t size_gr = nth_backend_block_gr(heap, flags, size + (alignment > NTH_GRANULE ? alignment : 0));
    if (alignment > NTH_CHUNK || is_big_block_gr(size_gr)) {
        if (heap->maximum != 0) return NULL; /* fixed heaps have no big blocks, as on Windows */
        return nth_big_alloc_locked(heap, flags, size, alignment);
    }
    if (alignment > NTH_GRANULE) return nth_backend_alloc_aligned_locked(heap, flags, alignment, size);
    if (size <= NTH_LFH_MAX_SIZE && heap->lfh_enabled) nth_lfh_note_backend_alloc_locked(heap, size);
    return nth_backend_alloc_locked(heap, flags, size, size_gr);
}

NTH_INLINE_STEP void *alloc_common(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    flags |= heap->force_flags;
    if (size > NTH_MAX_REQUEST) return fail_alloc(heap, flags, NTH_ERR_NO_MEMORY);
    lock_for(heap, flags);
    void *p = alloc_locked(heap, flags, size, alignment);
    NTH_TAGS_ALLOC(heap, flags, p, size);
    NTH_VIS_ALLOC(heap, flags, p, size);
    NTH_ASAN_FENCE(heap, p, size);
    unlock_for(heap, flags);
    if (NTH_UNLIKELY(!p)) return fail_alloc(heap, flags, NTH_ERR_NO_MEMORY);
    return p;
}

void *nth_api_alloc(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    return alloc_common(heap, flags, size, alignment);
}

/* Everything but the LFH fast path: out of line, so the fast path carries no call scope. */
static __attribute__((noinline)) void *alloc_slow(nth_heap *heap, uint32_t flags, size_t size, const char *call)
{
    NTH_ENTER(call);
    /* This thread's LFH cache for the heap proves the handle live (a destroyed heap's caches
     * name no heap); without one, the handle is checked before the heap is read. */
    nth_lfh_tcache *tc = size <= NTH_LFH_MAX_SIZE ? nth_lfh_cache_for(heap) : NULL;
    if (!tc && !handle_ok(heap)) return fail_alloc(NULL, flags, NTH_ERR_INVALID_HANDLE);
    if (tc || (size <= NTH_LFH_MAX_SIZE && heap->lfh_enabled)) {
        void *p = nth_lfh_alloc(heap, tc, flags, size);
        if (NTH_LIKELY(p != NULL)) return p;
    }
    if (NTH_UNLIKELY(heap->debug_modes)) return nth_debug_alloc(heap, flags, size, NTH_GRANULE);
    return alloc_common(heap, flags, size, NTH_GRANULE);
}

void *nth_heap_alloc(nth_heap *heap, uint32_t flags, size_t size)
{
    if (size <= NTH_LFH_MAX_SIZE && flags == 0) {
        void *p = nth_lfh_alloc_fast(heap, size); /* never reports */
        if (NTH_LIKELY(p != NULL)) return p;
    }
    return alloc_slow(heap, flags, size, "nth_heap_alloc");
}

void *nth_heap_alloc_as(nth_heap *heap, uint32_t flags, size_t size, const char *call)
{
    if (size <= NTH_LFH_MAX_SIZE && flags == 0) {
        void *p = nth_lfh_alloc_fast(heap, size);
        if (NTH_LIKELY(p != NULL)) return p;
    }
    return alloc_slow(heap, flags, size, call);
}

void *nth_heap_alloc_aligned(nth_heap *heap, uint32_t flags, size_t alignment, size_t size)
{
    NTH_ENTER("nth_heap_alloc_aligned");
    if (!handle_ok(heap)) return fail_alloc(NULL, flags, NTH_ERR_INVALID_HANDLE);
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > ((size_t)1 << 30)) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return NULL;
    }
    if (alignment < NTH_GRANULE) alignment = NTH_GRANULE;
    if (NTH_UNLIKELY(heap->debug_modes)) return nth_debug_alloc(heap, flags, size, alignment);
    return alloc_common(heap, flags, size, alignment);
}

/* The LFH subsegment holding ptr when ptr lies in an LFH subsegment of `heap`, else NULL. LFH
 * blocks are located, sized and resized without the heap lock. */
static inline nth_lfh_subsegment *lfh_owner(nth_heap *heap, const void *ptr)
{
    const nth_owner *owner = nth_addrmap_lookup(ptr);
    return owner && owner->kind == OWNER_LFH && owner->heap == heap ? (nth_lfh_subsegment *)owner : NULL;
}

/* Locates ptr with the lock held; on failure reports and returns false. */
static bool locate_or_report(nth_heap *heap, const void *ptr, nth_located *where)
{
    const char *expected = NULL, *found = NULL;
    nth_error error = nth_locate_block(heap, ptr, where, &expected, &found);
    if (NTH_LIKELY(error == NTH_OK)) return true;
    nth_report_problem(heap, error, ptr, expected, found);
    return false;
}

/* False only for a big block whose in-band prefix was damaged (reported and repaired; not freed). */
static bool free_located(nth_heap *heap, nth_located *where)
{
    if (where->lfh) {
        nth_lfh_free_located_locked(heap, where);
        return true;
    }
    nth_debug_check_tail(heap, where);
    if (where->big) return nth_big_free_locked(heap, where->big);
    size_t requested = nth_block_requested(&where->hdr);
    if (requested <= NTH_LFH_MAX_SIZE && heap->lfh_enabled) nth_lfh_note_backend_free_locked(heap, requested);
    nth_backend_free_locked(heap, where->header, &where->hdr);
    return true;
}

/* The engine's free of a located block, under the heap lock. */
static inline bool free_route(nth_heap *heap, uint32_t flags, void *ptr)
{
    flags |= heap->force_flags;
    nth_located where;
    lock_for(heap, flags);
    bool ok = locate_or_report(heap, ptr, &where) &&
              (NTH_TAGS_FREE(heap, ptr), NTH_VIS_FREE(heap, ptr), free_located(heap, &where));
    unlock_for(heap, flags);
    return ok;
}

/* Everything but the LFH fast path. */
static __attribute__((noinline)) bool free_slow(nth_heap *heap, uint32_t flags, void *ptr)
{
    NTH_ENTER("nth_heap_free");
    if (!ptr) return handle_ok(heap);
    /* An owner that names the heap proves the handle live: the map names live owners only. */
    const nth_owner *owner = nth_addrmap_lookup(ptr);
    bool of_heap = owner && owner->heap == heap;
    if (!of_heap && !handle_ok(heap)) return false;
    if (of_heap && owner->kind == OWNER_LFH && !(flags & NTH_NO_SERIALIZE))
        return nth_lfh_free(heap, (nth_lfh_subsegment *)owner, ptr);
    if (NTH_UNLIKELY(heap->debug_modes)) return nth_debug_free(heap, flags, ptr);
    return free_route(heap, flags, ptr);
}

bool nth_api_free(nth_heap *heap, uint32_t flags, void *ptr)
{
    return free_route(heap, flags, ptr);
}

bool nth_heap_free(nth_heap *heap, uint32_t flags, void *ptr)
{
    if (NTH_LIKELY(!(flags & NTH_NO_SERIALIZE))) {
        /* The unchecked lookup is enough for the fast path (see nth_lfh_subsegment_fast); NULL
         * has no owner. */
        nth_lfh_subsegment *sub;
        if (NTH_LIKELY(nth_lfh_subsegment_fast(ptr, &sub)) && NTH_LIKELY(nth_lfh_free_fast(true, heap, sub, ptr)))
            return true;
    }
    return free_slow(heap, flags, ptr);
}

/* Everything but the LFH fast path, and every report, goes the long way under the caller's name.
 * `owner` was read from the address map without the lock, so its heap is read once: a big
 * block's record released since (another thread freed the block first) reads as zeros, and the
 * pointer is then a block of no heap, reported as such. */
__attribute__((noinline)) bool nth_free_as_slow(void *ptr, const nth_owner *owner, const char *call)
{
    NTH_ENTER(call);
    nth_heap *heap = owner ? owner->heap : NULL;
    if (!heap) {
        if (atomic_load_explicit(&nth_debug_any, memory_order_relaxed) && nth_debug_free_unowned(ptr)) return false;
        nth_report_problem(NULL, NTH_ERR_INVALID_POINTER, ptr, "a block of an ntheap heap",
                           "an address no ntheap heap owns (wild or stack pointer, or a freed big block)");
        return false;
    }
    if (owner->kind == OWNER_LFH) return nth_lfh_free(heap, (nth_lfh_subsegment *)owner, ptr);
    return nth_heap_free(heap, 0, ptr);
}

bool nth_free_as(void *ptr, const char *call)
{
    if (!ptr) return true;
    uintptr_t entry = nth_addrmap_entry(ptr, true);
    nth_lfh_subsegment *sub;
    if (NTH_LIKELY(nth_lfh_subsegment_of_entry(entry, &sub)) && NTH_LIKELY(nth_lfh_free_fast(false, NULL, sub, ptr)))
        return true;
    return nth_free_as_slow(ptr, nth_addrmap_owner(entry), call);
}

bool nth_free(void *ptr)
{
    return nth_free_as(ptr, "nth_free");
}

static uintptr_t user_value_of(const nth_located *where)
{
    uintptr_t value = 0;
    if (where->big)
        value = where->big->user_value;
    else if (where->hdr.flags & BLOCK_EXTRA)
        memcpy(&value, where->header + nth_block_fill_end(&where->hdr), sizeof value);
    return value;
}

static void store_user_value_locked(nth_heap *heap, void *ptr, uintptr_t value)
{
    nth_assert_held(heap);
    nth_located where;
    const char *expected, *found;
    if (nth_locate_block(heap, ptr, &where, &expected, &found) != NTH_OK) return;
    if (where.big)
        where.big->user_value = value;
    else if (where.hdr.flags & BLOCK_EXTRA)
        memcpy(where.header + nth_block_fill_end(&where.hdr), &value, sizeof value);
}

/* The bytes a reallocation added, zeroed when the caller asked for zeroed memory. */
static void zero_growth(void *p, size_t old_size, size_t size, uint32_t flags)
{
    if (size > old_size && (flags & NTH_ZERO_MEMORY)) memset((char *)p + old_size, 0, size - old_size);
}

/* Resizes the located block where it is, whatever its kind; false when it cannot. */
static bool resize_in_place_locked(nth_heap *heap, nth_located *where, uint32_t flags, size_t size, bool want_big)
{
    nth_assert_held(heap);
    if (where->lfh) return nth_lfh_resize(heap, where->lfh, where->lfh_index, size);
    if (where->big) return false; /* nth_big_realloc_locked decides, below */
    return !want_big && nth_backend_resize_locked(heap, where->header, &where->hdr, flags, size);
}

/* The one realloc route: locate and check the block, resize it in place (LFH bucket, back-end
 * neighbours, big-block mapping), else move it: allocate, copy, free, carrying the user value
 * and flags along. LFH blocks take the same route without the heap lock (nth_heap_realloc). */
static void *realloc_locked(nth_heap *heap, uint32_t flags, void *ptr, size_t size, nth_error *error)
{
    nth_assert_held(heap);
    nth_located where;
    if (!locate_or_report(heap, ptr, &where)) {
        *error = nth_last_error();
        return NULL;
    }
    nth_debug_check_tail(heap, &where);
    if (where.big && !nth_big_check_locked(heap, where.big)) { /* reported and repaired */
        *error = NTH_ERR_CORRUPT;
        return NULL;
    }
    bool in_place_only = flags & NTH_REALLOC_IN_PLACE_ONLY;
    uint32_t block_flags = where.lfh ? 0
                                     : (where.hdr.flags & BLOCK_USER_FLAGS) |
                                           ((where.big || (where.hdr.flags & BLOCK_EXTRA)) ? NTH_SETTABLE_USER_VALUE : 0);
    bool want_big = is_big_request(heap, block_flags, size);
    size_t old_size = nth_block_requested(&where.hdr);
    if (where.big && (want_big || in_place_only)) {
        void *p = nth_big_realloc_locked(heap, where.big, flags, size);
        if (!p) *error = in_place_only ? NTH_ERR_CANNOT_MOVE : NTH_ERR_NO_MEMORY;
        if (p) NTH_TAGS_MOVE(heap, flags, ptr, p, size);
        if (p) NTH_VIS_REALLOC(heap, flags, ptr, old_size, p, size);
        NTH_ASAN_FENCE(heap, p, size);
        return p;
    }
    if (resize_in_place_locked(heap, &where, flags, size, want_big)) {
        if (where.lfh) zero_growth(ptr, old_size, size, flags); /* the back-end zeroes its own */
        NTH_TAGS_MOVE(heap, flags, ptr, ptr, size);
        NTH_VIS_REALLOC(heap, flags, ptr, old_size, ptr, size);
        NTH_ASAN_FENCE(heap, ptr, size);
        return ptr;
    }
    if (in_place_only) {
        *error = NTH_ERR_CANNOT_MOVE;
        return NULL;
    }
    uintptr_t value = user_value_of(&where);
    void *p = alloc_locked(heap, (flags & ~NTH_ZERO_MEMORY) | block_flags, size, NTH_GRANULE);
    if (!p) {
        *error = NTH_ERR_NO_MEMORY;
        return NULL;
    }
    memcpy(p, ptr, old_size < size ? old_size : size);
    zero_growth(p, old_size, size, flags);
    /* The allocation may have split the old block's neighbour: read its header again. */
    if (where.header && !where.big && !where.lfh) nth_header_load(heap, where.header, &where.hdr);
    (void)free_located(heap, &where);
    if (block_flags & NTH_SETTABLE_USER_VALUE) store_user_value_locked(heap, p, value);
    NTH_TAGS_MOVE(heap, flags, ptr, p, size);
    NTH_VIS_REALLOC(heap, flags, ptr, old_size, p, size);
    NTH_ASAN_FENCE(heap, p, size);
    return p;
}

static void *realloc_route(nth_heap *heap, uint32_t flags, void *ptr, size_t size);

/* The new home of an LFH block of `old_size` bytes that grows out of its slot to `size`. After
 * a small step (less than a quarter), a block with room for a quarter more (within the LFH's
 * sizes), its recorded size still exactly `size`: a run of small appends (a string built with
 * realloc) then moves once per quarter of growth rather than at every 16-byte bucket. Larger
 * steps (a doubling) are geometric already and get what they ask for. */
static void *lfh_grown_copy(nth_heap *heap, uint32_t flags, size_t old_size, size_t size)
{
    size_t roomy = size + size / 4;
    if (size - old_size >= old_size / 4 || roomy > NTH_LFH_MAX_SIZE) return nth_heap_alloc(heap, flags, size);
    void *p = nth_heap_alloc(heap, flags & ~NTH_GENERATE_EXCEPTIONS, roomy);
    /* Recorded as `size` in place (an LFH block keeps its slot; a back-end one is trimmed). */
    if (p && realloc_route(heap, (flags & ~NTH_GENERATE_EXCEPTIONS) | NTH_REALLOC_IN_PLACE_ONLY, p, size) == p)
        return p;
    if (p) nth_heap_free(heap, 0, p);
    return nth_heap_alloc(heap, flags, size);
}

/* The same route for an LFH block without the heap lock: in place within its bucket, else
 * allocate, copy and free through the fast paths. */
static void *lfh_realloc(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t flags, void *ptr, size_t size)
{
    nth_located where;
    const char *expected, *found;
    nth_error error = nth_lfh_locate(heap, sub, ptr, &where, &expected, &found);
    if (error != NTH_OK) {
        nth_report_problem(heap, error, ptr, expected, found);
        return fail_alloc(heap, flags, error);
    }
    size_t old_size = nth_block_requested(&where.hdr);
    if (nth_lfh_resize(heap, sub, where.lfh_index, size)) {
        zero_growth(ptr, old_size, size, flags);
        return ptr;
    }
    if (flags & NTH_REALLOC_IN_PLACE_ONLY) return fail_alloc(heap, flags, NTH_ERR_CANNOT_MOVE);
    void *p = size > old_size ? lfh_grown_copy(heap, flags & ~NTH_ZERO_MEMORY, old_size, size)
                              : nth_heap_alloc(heap, flags & ~NTH_ZERO_MEMORY, size);
    if (!p) return NULL; /* nth_heap_alloc set the error and raised if asked */
    memcpy(p, ptr, old_size < size ? old_size : size);
    zero_growth(p, old_size, size, flags);
    if (NTH_UNLIKELY(!nth_lfh_free(heap, sub, ptr))) {
        /* Freed by another thread since it was located (reported): the move did not happen. */
        nth_heap_free(heap, 0, p);
        return fail_alloc(heap, flags, NTH_ERR_DOUBLE_FREE);
    }
    return p;
}

/* Everything but the owner's in-place resize of an LFH block. */
static __attribute__((noinline)) void *realloc_slow(nth_heap *heap, uint32_t flags, void *ptr, size_t size,
                                                     const char *call)
{
    NTH_ENTER(call);
    if (!handle_ok(heap)) return fail_alloc(NULL, flags, NTH_ERR_INVALID_HANDLE);
    flags |= heap->force_flags;
    if (!ptr) {
        nth_set_last_error(NTH_ERR_INVALID_POINTER);
        return NULL;
    }
    if (size > NTH_MAX_REQUEST) return fail_alloc(heap, flags, NTH_ERR_NO_MEMORY);
    if (NTH_UNLIKELY(heap->debug_modes)) return nth_debug_realloc(heap, flags, ptr, size);
    return realloc_route(heap, flags, ptr, size);
}

/* The owner's in-place resize of an LFH block of `heap`, without a lock (nth_lfh_resize_fast):
 * for calls without flags but NTH_REALLOC_IN_PLACE_ONLY, which an in-place resize satisfies. */
NTH_INLINE_STEP bool lfh_resized_fast(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    nth_lfh_subsegment *sub;
    return (flags & ~NTH_REALLOC_IN_PLACE_ONLY) == 0 && NTH_LIKELY(nth_lfh_subsegment_fast(ptr, &sub)) &&
           NTH_LIKELY(nth_lfh_resize_fast(true, heap, sub, ptr, size));
}

void *nth_heap_realloc(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    if (lfh_resized_fast(heap, flags, ptr, size)) return ptr;
    return realloc_slow(heap, flags, ptr, size, "nth_heap_realloc");
}

void *nth_api_realloc(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    return realloc_route(heap, flags, ptr, size);
}

static void *realloc_route(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    if (!(flags & NTH_NO_SERIALIZE)) {
        nth_lfh_subsegment *sub = lfh_owner(heap, ptr);
        if (sub) return lfh_realloc(heap, sub, flags, ptr, size);
    }
    nth_error error = NTH_OK;
    lock_for(heap, flags);
    void *p = realloc_locked(heap, flags, ptr, size, &error);
    unlock_for(heap, flags);
    if (!p) return fail_alloc(heap, flags, error);
    return p;
}

void *nth_heap_realloc_as(nth_heap *heap, uint32_t flags, void *ptr, size_t size, const char *call)
{
    if (lfh_resized_fast(heap, flags, ptr, size)) return ptr;
    return realloc_slow(heap, flags, ptr, size, call);
}

size_t nth_heap_size(nth_heap *heap, uint32_t flags, const void *ptr)
{
    NTH_ENTER("nth_heap_size");
    if (!handle_ok(heap)) return NTH_SIZE_ERROR;
    flags |= heap->force_flags;
    nth_located where;
    nth_lfh_subsegment *sub = ptr && !(flags & NTH_NO_SERIALIZE) ? lfh_owner(heap, ptr) : NULL;
    if (sub) {
        const char *expected, *found;
        nth_error error = nth_lfh_locate(heap, sub, ptr, &where, &expected, &found);
        if (error == NTH_OK) return nth_block_requested(&where.hdr);
        nth_report_problem(heap, error, ptr, expected, found);
        return NTH_SIZE_ERROR;
    }
    lock_for(heap, flags);
    bool ok = ptr && locate_or_report(heap, ptr, &where);
    unlock_for(heap, flags);
    if (!ptr) nth_set_last_error(NTH_ERR_INVALID_POINTER);
    return ok ? nth_block_requested(&where.hdr) : NTH_SIZE_ERROR;
}

size_t nth_heap_usable_size(nth_heap *heap, const void *ptr)
{
    NTH_ENTER("nth_heap_usable_size");
    if (!handle_ok(heap)) return NTH_SIZE_ERROR;
    nth_located where;
    nth_lfh_subsegment *sub = ptr && !(heap->force_flags & NTH_NO_SERIALIZE) ? lfh_owner(heap, ptr) : NULL;
    if (sub) {
        const char *expected, *found;
        nth_error error = nth_lfh_locate(heap, sub, ptr, &where, &expected, &found);
        if (error == NTH_OK) return sub->block_size;
        nth_report_problem(heap, error, ptr, expected, found);
        return NTH_SIZE_ERROR;
    }
    lock_for(heap, heap->force_flags);
    bool ok = ptr && locate_or_report(heap, ptr, &where);
    unlock_for(heap, heap->force_flags);
    if (!ok) return NTH_SIZE_ERROR;
    bool slack_poisoned = NTH_ASAN && nth_process_defaults.asan_poison && !(where.big && where.big->page_heap);
    if (NTH_VIS_ON() || slack_poisoned) return nth_block_requested(&where.hdr); /* slack is off limits */
    if (where.lfh) return where.lfh->block_size;
    if (where.big) return (size_t)where.hdr.size_gr * NTH_GRANULE;
    if (where.hdr.flags & BLOCK_FILL) return nth_block_requested(&where.hdr);
    return nth_block_fill_end(&where.hdr) - sizeof(nth_block_header);
}

size_t nth_heap_usable_size_as(nth_heap *heap, const void *ptr, const char *call)
{
    NTH_ENTER(call);
    return nth_heap_usable_size(heap, ptr);
}

nth_heap *nth_heap_owner(const void *ptr)
{
    const nth_owner *owner = nth_addrmap_lookup(ptr);
    return owner ? owner->heap : NULL;
}

nth_heap *nth_heap_from_pointer(const void *ptr)
{
    NTH_ENTER("nth_heap_from_pointer"); /* reads heap memory: memcheck quiet, as every entry point */
    const nth_owner *owner = nth_addrmap_lookup(ptr);
    nth_heap *heap = owner ? owner->heap : NULL; /* read once: a released big-block record reads 0 */
    if (!heap || !nth_heap_handle_ok(heap)) return NULL;
    nth_located where;
    const char *expected, *found;
    lock_for(heap, heap->force_flags);
    nth_error error = nth_locate_block(heap, ptr, &where, &expected, &found);
    unlock_for(heap, heap->force_flags);
    return error == NTH_OK ? heap : NULL;
}

bool nth_heap_set_user_value(nth_heap *heap, void *ptr, uintptr_t value)
{
    NTH_ENTER("nth_heap_set_user_value");
    if (!handle_ok(heap)) return false;
    nth_located where;
    bool ok;
    lock_for(heap, heap->force_flags);
    ok = locate_or_report(heap, ptr, &where);
    if (ok && where.lfh) {
        nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
        ok = false;
    } else if (ok && where.big && (!where.big->page_heap || (where.big->page_heap & NTH_PAGE_BLOCK_USER_VALUE)))
        where.big->user_value = value; /* a big block always has one, as on Windows */
    else if (ok && (where.hdr.flags & BLOCK_EXTRA))
        memcpy(where.header + nth_block_fill_end(&where.hdr), &value, sizeof value);
    else if (ok) {
        nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
        ok = false;
    }
    unlock_for(heap, heap->force_flags);
    return ok;
}

bool nth_heap_get_user_info(nth_heap *heap, const void *ptr, uintptr_t *value, uint32_t *user_flags)
{
    NTH_ENTER("nth_heap_get_user_info");
    if (!handle_ok(heap)) return false;
    nth_located where;
    lock_for(heap, heap->force_flags);
    bool ok = locate_or_report(heap, ptr, &where);
    if (ok) {
        if (value) *value = user_value_of(&where);
        if (user_flags) *user_flags = where.hdr.flags & BLOCK_USER_FLAGS;
    }
    unlock_for(heap, heap->force_flags);
    return ok;
}

bool nth_heap_set_user_flags(nth_heap *heap, void *ptr, uint32_t clear, uint32_t set)
{
    NTH_ENTER("nth_heap_set_user_flags");
    if (!handle_ok(heap)) return false;
    if (((clear | set) & ~(uint32_t)NTH_SETTABLE_USER_FLAGS) != 0) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return false;
    }
    nth_located where;
    lock_for(heap, heap->force_flags);
    bool ok = locate_or_report(heap, ptr, &where);
    if (ok && where.lfh) {
        nth_set_last_error(NTH_ERR_NOT_SUPPORTED);
        ok = false;
    } else if (ok) {
        where.hdr.flags = (uint16_t)((where.hdr.flags & ~clear) | set);
        if (where.big)
            nth_big_set_flags_locked(heap, where.big, where.hdr.flags);
        else
            nth_block_store_locked(heap, where.header, where.hdr);
    }
    unlock_for(heap, heap->force_flags);
    return ok;
}
