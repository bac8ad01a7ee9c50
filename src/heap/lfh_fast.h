/*
 * lfh_fast.h — the LFH's owner-thread fast paths, inline so that nth_heap_alloc and
 * nth_heap_free cost a handful of loads and stores. They serve only the common case — this
 * thread's cache for this heap, its current subsegment, a block on its local free list, the
 * heap not paused — and return NULL / false for everything else, which lfh.c handles (and
 * reports, when a pointer is bad). See lfh.c for the protocol with nth_lfh_pause.
 */
#ifndef NTH_LFH_FAST_H
#define NTH_LFH_FAST_H

#include "heap/lfh.h"

/* The index of the block starting at ptr, if ptr starts a block that has been handed out. */
static inline bool nth_lfh_block_index(const nth_lfh_subsegment *sub, const void *ptr, uint32_t *index)
{
    size_t offset = (size_t)((const char *)ptr - sub->first_block);
    if (offset >= sub->span) return false; /* below first_block wraps around to a huge offset */
    uint32_t i = (uint32_t)(((uint64_t)offset * sub->reciprocal) >> 32);
    if ((size_t)i * sub->block_size != offset || i >= __atomic_load_n(&sub->bump, __ATOMIC_RELAXED)) return false;
    *index = i;
    return true;
}

/* Marks the start of an owner operation; false (and unmarked) while the heap is paused.
 * Sanitizer builds use read-modify-writes on in_op on both sides instead of the store + fence
 * (or membarrier) pairing, which ThreadSanitizer cannot follow; the ordering is the same. */
static inline bool nth_lfh_begin_fast(nth_lfh_tcache *tc)
{
#ifdef NTH_SANITIZER_BUILD
    atomic_exchange_explicit(&tc->in_op, 1, memory_order_seq_cst);
#else
    atomic_store_explicit(&tc->in_op, 1, memory_order_relaxed);
    if (atomic_load_explicit(&nth_lfh_fast_path_needs_fence, memory_order_relaxed))
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst); /* membarrier orders it for the pauser */
#endif
    /* Acquire: whatever a pauser did before resuming happens before this operation. */
    if (NTH_LIKELY(atomic_load_explicit(&tc->paused, memory_order_acquire) == 0)) return true;
    atomic_store_explicit(&tc->in_op, 0, memory_order_release);
    return false;
}

/* The pauser's view of a cache's in_op (see nth_lfh_begin_fast). */
static inline uint32_t nth_lfh_read_in_op(nth_lfh_tcache *tc)
{
#ifdef NTH_SANITIZER_BUILD
    return atomic_fetch_add_explicit(&tc->in_op, 0, memory_order_seq_cst);
#else
    return atomic_load_explicit(&tc->in_op, memory_order_acquire);
#endif
}

static inline void nth_lfh_end_fast(nth_lfh_tcache *tc)
{
    atomic_store_explicit(&tc->in_op, 0, memory_order_release);
}

static inline void nth_lfh_set_busy_bit(nth_lfh_subsegment *sub, uint32_t index, bool busy)
{
    uint64_t *word = &sub->busy_bits[index / 64];
    uint64_t bit = 1ull << (index % 64), value = __atomic_load_n(word, __ATOMIC_RELAXED);
    __atomic_store_n(word, busy ? value | bit : value & ~bit, __ATOMIC_RELAXED);
}

static inline void nth_lfh_set_unused(nth_lfh_subsegment *sub, uint32_t index, size_t size)
{
    uint32_t unused = sub->block_size - (uint32_t)size;
    if (sub->unused_width == 1)
        sub->unused[index] = (unsigned char)unused;
    else
        memcpy(sub->unused + 2 * (size_t)index, &(uint16_t){(uint16_t)unused}, 2);
}

static inline void *nth_lfh_alloc_fast(nth_heap *heap, size_t size)
{
    nth_lfh_tcache *tc = nth_lfh_tls_recent;
    if (NTH_UNLIKELY(!tc || atomic_load_explicit(&tc->heap, memory_order_relaxed) != heap)) return NULL;
    nth_lfh_subsegment *sub = tc->current[nth_lfh_bucket(size)];
    if (NTH_UNLIKELY(!sub) || NTH_UNLIKELY(!nth_lfh_begin_fast(tc))) return NULL;
    char *p = sub->local_free;
    if (NTH_UNLIKELY(!p)) {
        nth_lfh_end_fast(tc);
        return NULL;
    }
    sub->local_free = *(void **)p;
    uint32_t index = (uint32_t)(((uint64_t)(size_t)(p - sub->first_block) * sub->reciprocal) >> 32);
    nth_lfh_set_busy_bit(sub, index, true);
    nth_lfh_set_unused(sub, index, size);
    __atomic_store_n(&sub->n_used, sub->n_used + 1, __ATOMIC_RELAXED);
    nth_lfh_end_fast(tc);
    return p;
}

/* Frees ptr when this thread owns its subsegment and everything is in order; false otherwise
 * (including every bad pointer: the caller's slow path tells which and reports it). */
static inline bool nth_lfh_free_fast(nth_heap *heap, nth_lfh_subsegment *sub, void *ptr)
{
    nth_lfh_tcache *tc = nth_lfh_tls_recent;
    uint32_t index;
    if (NTH_UNLIKELY(!tc || atomic_load_explicit(&sub->owner_cache, memory_order_relaxed) != tc ||
                     atomic_load_explicit(&tc->heap, memory_order_relaxed) != heap ||
                     !nth_lfh_block_index(sub, ptr, &index)))
        return false;
    uint64_t bit = 1ull << (index % 64);
    uint64_t busy = __atomic_load_n(&sub->busy_bits[index / 64], __ATOMIC_RELAXED);
    uint64_t remote = atomic_load_explicit(&sub->remote_bits[index / 64], memory_order_relaxed);
    if (NTH_UNLIKELY(!(busy & bit) || (remote & bit))) return false; /* a double free */
    if (NTH_UNLIKELY(!nth_lfh_begin_fast(tc))) return false;
    nth_lfh_set_busy_bit(sub, index, false);
    *(void **)ptr = sub->local_free;
    sub->local_free = ptr;
    __atomic_store_n(&sub->n_used, sub->n_used - 1, __ATOMIC_RELAXED);
    nth_lfh_end_fast(tc);
    return true;
}

#endif
