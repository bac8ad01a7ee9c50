/*
 * lfh.c — the Low Fragmentation Heap front-end: activation, allocation, free, locate, resize.
 * It serves requests up to 16 KiB in 128 buckets (16-byte steps to 1 KiB, then 16 steps per
 * doubling) from subsegments carved out of the back-end (lfh_subseg.c). Entry points:
 * nth_lfh_alloc and nth_lfh_free, called by api.c before the locked back-end path, behind the
 * inline fast paths of lfh_fast.h.
 *
 * Activation (as on Windows): every back-end allocation of a bucket's size adds 0x21 to the
 * bucket's counter, every back-end free takes 1 off; when the low five bits pass 0x10 (17 blocks
 * outstanding) or the counter passes 0xFF00, the bucket activates. On a heap without an LFH
 * object the first activation only marks it pending: the next small allocation creates the LFH
 * (and is itself served by the back-end), so a fresh heap's 18th allocation of a size creates
 * the LFH and the 19th is the first LFH block. Heaps with a maximum size, NO_SERIALIZE heaps and
 * debug heaps never run the LFH, as on Windows.
 *
 * Threads: each (thread, heap) pair has a cache (lfh_tcache.c) holding one current subsegment
 * per bucket. A thread's first subsegment of a size costs at least a page of blocks and one of
 * metadata, so a thread that joins a heap where other threads have caches already makes its
 * first NTH_LFH_THREAD_WARMUP allocations of each size through the back-end (under the lock)
 * and takes a subsegment at the next: a short-lived thread that allocates a few blocks of many
 * sizes does not leave a resident page per size behind. A cache taken over from an exited
 * thread keeps that thread's subsegments and counts. The owning thread allocates and frees in
 * its current subsegments without the heap lock, with one atomic bit operation per block (its
 * busy bit). A free from another thread counts itself in remote_count and then sets the block's
 * bit in the subsegment's remote bitmap (nothing is written into the block, and nothing of the
 * subsegment is touched after the bit is set, since the block may be collected and the
 * subsegment released from then on); the owner collects remote bits before it touches a
 * never-used block once a sixteenth of the subsegment waits, and when it runs out of free
 * blocks. A filled subsegment stays with its cache (held, up to NTH_LFH_HELD per bucket,
 * newest first), so that its thread's frees into it stay on the lock-free path and refill it:
 * a cache that runs out looks at what it holds first. Beyond that, the oldest held subsegment
 * is retired to the bucket's pool (no owner, a FIFO probed oldest first); a retired subsegment
 * whose last block is freed goes back to the back-end, and so do empty held ones when the heap
 * is compacted or the cache retired.
 *
 * Double frees are refused in O(1): every free claims its block by clearing the block's busy
 * bit with one atomic read-modify-write (nth_lfh_claim), so of two frees of one block — the
 * owner's and another thread's at the same instant included — exactly one wins; the other is
 * refused and reported on the spot.
 */
#include "heap/lfh_fast.h"
#include "heap/vm.h"

/* --------------------------------------------------------------------------- activation */

static nth_lfh *create_lfh_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    nth_lfh *lfh = nth_vm_map_private(nth_round_up(sizeof(nth_lfh), NTH_PAGE));
    if (!lfh) return NULL;
    lfh->magic = NTH_LFH_MAGIC;
    atomic_store_explicit(&heap->lfh, lfh, memory_order_release);
    return lfh;
}

void nth_lfh_note_backend_alloc_locked(nth_heap *heap, size_t size)
{
    nth_assert_held(heap);
    if (size > NTH_LFH_MAX_SIZE || !heap->lfh_enabled) return;
    unsigned b = nth_lfh_bucket(size);
    if (heap->lfh && atomic_load_explicit(&heap->lfh->active[b], memory_order_relaxed)) return;
    if (heap->lfh_create_pending && !heap->lfh) {
        heap->lfh_create_pending = false;
        create_lfh_locked(heap);
    }
    uint32_t usage = heap->lfh_usage[b] + 0x21u;
    if (usage > 0xFFFF) usage = 0xFFFF;
    heap->lfh_usage[b] = (uint16_t)usage;
    if ((usage & 0x1F) > 0x10 || usage > 0xFF00) {
        if (heap->lfh)
            atomic_store_explicit(&heap->lfh->active[b], 1, memory_order_relaxed);
        else
            heap->lfh_create_pending = true;
    }
}

void nth_lfh_note_backend_free_locked(nth_heap *heap, size_t size)
{
    nth_assert_held(heap);
    if (size > NTH_LFH_MAX_SIZE) return;
    unsigned b = nth_lfh_bucket(size);
    if (heap->lfh_usage[b] > 1) heap->lfh_usage[b]--;
}

/* ---------------------------------------------------------------------------- allocation */

/* Takes a block from `sub` for its owner: the free list's head, else — when enough wait for
 * collection (nth_lfh_collect_first) — a block other threads freed, else a never-used block;
 * NULL when it has none left. A damaged list is reported and rebuilt first. */
static void *take_block(nth_heap *heap, nth_lfh_subsegment *sub, size_t size)
{
    char *p = nth_lfh_pop(sub, size);
    if (NTH_LIKELY(p != NULL)) return p;
    if (NTH_UNLIKELY(sub->free_head != NTH_LFH_NO_BLOCK)) {
        nth_lfh_repair_free_list(heap, sub, sub->free_head);
        if ((p = nth_lfh_pop(sub, size)) != NULL) return p;
    }
    if (nth_lfh_collect_first(sub) && nth_lfh_collect_remote(heap, sub) && (p = nth_lfh_pop(sub, size)) != NULL)
        return p;
    return nth_lfh_take_fresh(sub, size);
}

void *nth_lfh_pop_missed(nth_lfh_tcache *tc, nth_lfh_subsegment *sub, size_t size)
{
    /* An empty list, not a damaged one, and not enough to collect: what take_block would do. */
    char *p = NULL;
    if (sub->free_head == NTH_LFH_NO_BLOCK && !nth_lfh_collect_first(sub)) p = nth_lfh_take_fresh(sub, size);
    nth_lfh_end_fast(tc);
    return p;
}

/* The locked path: refills or replaces the current subsegment. */
static void *alloc_locked_path(nth_heap *heap, nth_lfh_tcache *tc, unsigned bucket, size_t size)
{
    void *p = NULL;
    nth_lock_acquire(&heap->lock);
    nth_lfh_adopt_orphans_locked(heap, NTH_LFH_SPARE_CACHES);
    nth_lfh_subsegment *sub = tc->current[bucket], *filled = NULL;
    if (sub && heap->lfh_enabled) {
        p = take_block(heap, sub, size);
        if (!p && nth_lfh_collect_remote(heap, sub)) p = take_block(heap, sub, size);
        if (!p) {
            tc->current[bucket] = NULL;
            filled = sub;
        }
    }
    if (!p && heap->lfh_enabled) {
        sub = nth_lfh_acquire_subsegment_locked(heap, tc, bucket);
        if (sub) {
            tc->current[bucket] = sub;
            p = take_block(heap, sub, size);
        }
    }
    if (filled) nth_lfh_hold_locked(heap, tc, filled); /* after the search, which it would not pass */
    nth_lock_release(&heap->lock);
    return p;
}

static nth_lfh_tcache *slow_cache_for(nth_heap *heap, unsigned bucket)
{
    /* Heaps that zero every block keep to the locked path, which applies their forced flags. */
    if (!heap->lfh_enabled || !heap->lfh || (heap->force_flags & NTH_ZERO_MEMORY) ||
        !atomic_load_explicit(&heap->lfh->active[bucket], memory_order_relaxed))
        return NULL;
    return nth_lfh_create_cache(heap, true);
}

void *nth_lfh_alloc(nth_heap *heap, nth_lfh_tcache *tc, uint32_t flags, size_t size)
{
    if (flags & (NTH_NO_SERIALIZE | NTH_SETTABLE_USER_VALUE | NTH_SETTABLE_USER_FLAGS)) return NULL;
    unsigned bucket = nth_lfh_bucket(size);
    if (NTH_UNLIKELY(!tc)) {
        tc = slow_cache_for(heap, bucket);
        if (!tc) return NULL;
    }
    void *p = NULL;
    flags |= heap->force_flags;
    nth_lfh_subsegment *sub = tc->current[bucket];
    if (NTH_LIKELY(sub != NULL)) {
        if (NTH_LIKELY(nth_lfh_begin_fast(tc))) {
            p = take_block(heap, sub, size);
            nth_lfh_end_fast(tc);
        }
    } else if (!heap->lfh_enabled || !atomic_load_explicit(&heap->lfh->active[bucket], memory_order_relaxed)) {
        return NULL;
    } else if (tc->warmup[bucket] != 0) {
        tc->warmup[bucket]--; /* only the cache's thread writes it */
        return NULL;          /* the back-end serves this one */
    }
    if (NTH_UNLIKELY(!p)) p = alloc_locked_path(heap, tc, bucket, size);
    /* Zeroed to the end of the block, as Windows does: what a program reads past its request
     * (up to nth_heap_usable_size) is zero too. */
    if (p && (flags & NTH_ZERO_MEMORY)) memset(p, 0, nth_lfh_bucket_size(bucket));
    return p;
}

/* ---------------------------------------------------------------------------------- free */

typedef enum { FREED, REFUSED, RETRY_LOCKED } free_result;

static free_result refuse_double_free(nth_heap *heap, const void *ptr)
{
    NTH_ENTER("nth_heap_free"); /* named already when called from an entry point */
    nth_report_problem(heap, NTH_ERR_DOUBLE_FREE, ptr, "a busy LFH block", "a free LFH block (already freed)");
    return REFUSED;
}

/* True when block `index` is busy and not already freed by another thread. */
static bool is_live(const nth_lfh_subsegment *sub, uint32_t index)
{
    return nth_lfh_is_busy(sub, index) && !nth_lfh_is_remote(sub, index);
}

nth_error nth_lfh_locate(nth_heap *heap, nth_lfh_subsegment *sub, const void *ptr, nth_located *out,
                         const char **expected, const char **found)
{
    uint32_t index;
    (void)heap;
    if (!nth_lfh_block_index(sub, ptr, &index)) {
        *expected = "the start of an LFH block";
        *found = "an interior or unused address of an LFH subsegment";
        return NTH_ERR_INVALID_POINTER;
    }
    if (!is_live(sub, index)) {
        *expected = "a busy LFH block";
        *found = "a free LFH block (already freed)";
        return NTH_ERR_DOUBLE_FREE;
    }
    out->lfh = sub;
    out->lfh_index = index;
    out->segment = sub->segment;
    out->header = NULL;
    /* A header-shaped description: requested = size_gr * 16 - unused, exactly. */
    uint32_t requested = sub->block_size - nth_lfh_unused_of(sub, index);
    out->hdr = (nth_block_header){.size_gr = (requested + 2 * NTH_GRANULE - 1) / NTH_GRANULE,
                                  .flags = BLOCK_BUSY, .segment_index = (uint8_t)sub->segment->owner.index};
    out->hdr.unused = (uint8_t)((size_t)out->hdr.size_gr * NTH_GRANULE - requested);
    return NTH_OK;
}

/* A free from a thread that does not own the subsegment: count it, claim the block (the busy
 * bit), then publish its remote bit for the owner to collect. Every access to the subsegment comes
 * before the bit is published: from then on an owner or adopter may collect the block and the
 * subsegment may go back to the back-end at any moment. */
static free_result free_remote(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, nth_lfh_tcache *tc)
{
    char *p = nth_lfh_block_at(sub, index);
    uint64_t bit = 1ull << (index % 64);
    _Atomic uint64_t *word = nth_lfh_remote_word(sub, index);
    /* As a fast operation of the freeing thread's own cache (tc; NULL when the caller holds the
     * heap lock), so that a locked heap holds still for its walker: paused, it takes the lock. */
    if (tc && !nth_lfh_begin_fast(tc)) return RETRY_LOCKED;
    bool refused = nth_lfh_is_remote(sub, index);
    uint32_t pending = 0;
    if (!refused) {
        /* Counted before it is claimed: while a free is under way, remote_count is not 0, so
         * "no busy bit and remote_count 0" (nth_lfh_is_empty) proves a subsegment empty. */
        pending = atomic_fetch_add_explicit(&sub->remote_count, 1, memory_order_acq_rel) + 1;
        if (!nth_lfh_claim(sub, index)) {
            atomic_fetch_sub_explicit(&sub->remote_count, 1, memory_order_relaxed);
            refused = true;
        }
    }
    /* n_used, set at retirement, never exceeds the blocks then still out: once as many frees
     * are pending, this may be the last one, and the lock is taken to see. */
    bool last = !refused && atomic_load_explicit(&sub->owner_cache, memory_order_acquire) == NULL &&
                pending >= nth_lfh_load_u32(&sub->n_used);
    /* Published inside the fast operation, so that no pauser (validate, a locked walk) ever
     * sees a block claimed but neither busy, nor pending, nor listed. */
    if (!refused) {
        nth_lfh_asan_freed(sub, p); /* before the owner can have it back */
        atomic_fetch_or_explicit(word, bit, memory_order_release);
    }
    if (tc) nth_lfh_end_fast(tc); /* before waiting for the lock: a pauser holding it waits for us */
    if (refused) return refuse_double_free(heap, p);
    if (!last) return FREED;
    /* Perhaps the last busy block of a retired subsegment: give the subsegment back if it is
     * empty, under the lock (no one releases a subsegment without it). Someone may have done so
     * since our bit was published; the descriptor is then idle (metadata is never unmapped
     * while its heap lives) or reused, and the exact emptiness check decides either way. */
    nth_lock_acquire(&heap->lock);
    if (sub->magic == NTH_LFH_MAGIC && atomic_load_explicit(&sub->owner_cache, memory_order_acquire) == NULL) {
        /* Not collected when it is empty: a collection would write a link into every block
         * just before the whole subsegment goes back. */
        bool empty = nth_lfh_is_empty_uncollected(sub);
        if (!empty) {
            nth_lfh_collect_remote(heap, sub);
            empty = nth_lfh_is_empty(sub);
        }
        if (empty) {
            nth_lfh_pool_remove(heap->lfh, sub);
            nth_lfh_release_subsegment_locked(heap, sub);
        }
    }
    nth_lock_release(&heap->lock);
    return FREED;
}

/* Frees block `index` of `sub`: locally when this thread owns the subsegment, else remotely. */
static free_result free_index(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, nth_lfh_tcache *mine, bool fast)
{
    if (!mine || !nth_lfh_owns(mine, sub)) return free_remote(heap, sub, index, fast ? mine : NULL);
    if (fast && !nth_lfh_begin_fast(mine)) return RETRY_LOCKED;
    bool live = !nth_lfh_is_remote(sub, index) && nth_lfh_claim(sub, index);
    if (live) nth_lfh_push(sub, index, nth_lfh_block_at(sub, index));
    if (fast) nth_lfh_end_fast(mine);
    if (!live) return refuse_double_free(heap, nth_lfh_block_at(sub, index));
    return FREED;
}

/* Frees block `index` of `sub` as a fast operation of this thread's cache, or under the lock
 * while the heap is paused; false when it was refused (and reported). */
static bool free_block(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index)
{
    /* A thread that only frees into this heap still gets a cache: its frees must pause with
     * the others while the heap is locked. */
    nth_lfh_tcache *mine = nth_lfh_cache_for(heap);
    if (!mine) mine = nth_lfh_create_cache(heap, false);
    free_result result = mine ? free_index(heap, sub, index, mine, true) : RETRY_LOCKED;
    if (NTH_LIKELY(result != RETRY_LOCKED)) return result == FREED;
    /* Paused (or no cache could be made): do it under the lock. */
    nth_lock_acquire(&heap->lock);
    result = free_index(heap, sub, index, mine, false);
    nth_lock_release(&heap->lock);
    return result == FREED;
}

bool nth_lfh_free(nth_heap *heap, nth_lfh_subsegment *sub, void *ptr)
{
    uint32_t index;
    if (NTH_UNLIKELY(!nth_lfh_block_index(sub, ptr, &index))) {
        nth_report_problem(heap, NTH_ERR_INVALID_POINTER, ptr, "the start of an LFH block",
                           "an interior or unused address of an LFH subsegment");
        return false;
    }
    return free_block(heap, sub, index);
}

bool nth_lfh_free_if_block(nth_lfh_subsegment *sub, void *ptr, const char *call)
{
    uint32_t index;
    if (!nth_lfh_block_index(sub, ptr, &index)) return false;
    NTH_ENTER(call);
    (void)free_block(sub->owner.heap, sub, index);
    return true;
}

bool nth_lfh_free_located_locked(nth_heap *heap, nth_located *where)
{
    nth_assert_held(heap);
    return free_index(heap, where->lfh, where->lfh_index, nth_lfh_cache_for(heap), false) == FREED;
}

bool nth_lfh_resize(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, size_t size)
{
    /* In place while the block still fits and the slack is recordable (else it moves to a
     * better-fitting bucket). */
    if (size > sub->block_size || sub->block_size - size > (sub->unused_width == 1 ? 0xFFu : 0xFFFFu)) return false;
    /* The size byte is read by walks: write it as a fast operation, or under the lock while
     * the heap is paused (or the caller holds it already). */
    nth_lfh_tcache *tc = nth_lock_held_by_me(&heap->lock) ? NULL : nth_lfh_cache_for(heap);
    if (tc && nth_lfh_begin_fast(tc)) {
        nth_lfh_set_unused(sub, index, size);
        nth_lfh_end_fast(tc);
        return true;
    }
    nth_lock_acquire(&heap->lock);
    nth_lfh_set_unused(sub, index, size);
    nth_lock_release(&heap->lock);
    return true;
}
