/*
 * lfh_fast.h — the LFH's primitives and its owner-thread fast paths, inline so that
 * nth_heap_alloc and nth_heap_free cost a handful of loads and stores.
 *
 * The one pop (nth_lfh_pop, which also hands the block out) and the one push (nth_lfh_push,
 * behind nth_lfh_give_back) of a subsegment's local free list live here and nowhere else; every
 * path — fast, locked, remote collection, repair — goes through them. The encoded link format and the checks a pop makes are described in lfh.h.
 *
 * The fast paths serve only the common case — this thread's cache for this heap, its current
 * subsegment, a believable head on its local free list, the heap not paused — and return NULL /
 * false for everything else, which lfh.c handles (and reports, when a pointer or a link is bad).
 * The pause protocol is described in lfh_tcache.c.
 */
#ifndef NTH_LFH_FAST_H
#define NTH_LFH_FAST_H

#include "heap/lfh.h"

static inline uint64_t nth_lfh_load_bits(const uint64_t *word)
{
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

static inline uint32_t nth_lfh_load_u32(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void nth_lfh_store_u32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline char *nth_lfh_block_at(const nth_lfh_subsegment *sub, uint32_t index)
{
    return sub->first_block + (size_t)index * sub->block_size;
}

/* The bitmap words and the unused[] entry of block `index`, at their fixed offsets (lfh.h):
 * the busy word of blocks 64 w ... 64 w + 63, with their remote word right after it. */
static inline uint64_t *nth_lfh_busy_word(const nth_lfh_subsegment *sub, uint32_t index)
{
    return (uint64_t *)((uintptr_t)sub + NTH_LFH_META_HEAD + (size_t)(index / 64) * NTH_LFH_PAIR_BYTES);
}

static inline _Atomic uint64_t *nth_lfh_remote_word(const nth_lfh_subsegment *sub, uint32_t index)
{
    return (_Atomic uint64_t *)(nth_lfh_busy_word(sub, index) + 1);
}

static inline uint16_t *nth_lfh_unused_entry(const nth_lfh_subsegment *sub, uint32_t index)
{
    return (uint16_t *)((uintptr_t)sub + NTH_LFH_META_UNUSED) + index;
}

static inline bool nth_lfh_is_busy(const nth_lfh_subsegment *sub, uint32_t index)
{
    return (nth_lfh_load_bits(nth_lfh_busy_word(sub, index)) >> (index % 64)) & 1;
}

static inline bool nth_lfh_is_remote(const nth_lfh_subsegment *sub, uint32_t index)
{
    return (atomic_load_explicit(nth_lfh_remote_word(sub, index), memory_order_relaxed) >> (index % 64)) & 1;
}

/* Atomic, like every write of a busy bit: a plain read-modify-write of the word could bring back
 * the bit of a block another thread has just claimed (see nth_lfh_claim). */
static inline void nth_lfh_set_busy_bit(nth_lfh_subsegment *sub, uint32_t index, bool busy)
{
    uint64_t *word = nth_lfh_busy_word(sub, index);
    uint64_t bit = 1ull << (index % 64);
    if (busy)
        __atomic_fetch_or(word, bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(word, ~bit, __ATOMIC_RELAXED);
}

/* unused[] entries are read and written as relaxed atomics (plain moves on x86-64): the owner
 * writes them without the lock, and statistics read them while it does. */
static inline uint32_t nth_lfh_unused_of(const nth_lfh_subsegment *sub, uint32_t index)
{
    return __atomic_load_n(nth_lfh_unused_entry(sub, index), __ATOMIC_RELAXED);
}

static inline void nth_lfh_set_unused(nth_lfh_subsegment *sub, uint32_t index, size_t size)
{
    __atomic_store_n(nth_lfh_unused_entry(sub, index), (uint16_t)(sub->block_size - (uint32_t)size), __ATOMIC_RELAXED);
}

/* Busy blocks, counted from the bitmap. */
static inline uint32_t nth_lfh_count_busy(const nth_lfh_subsegment *sub)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < sub->n_words; w++) n += (uint32_t)__builtin_popcountll(nth_lfh_load_bits(nth_lfh_busy_word(sub, w * 64)));
    return n;
}

/* Live blocks: busy and not freed by another thread (between a remote free's claim and its
 * remote bit, neither bit is set). */
static inline uint32_t nth_lfh_count_live(const nth_lfh_subsegment *sub)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < sub->n_words; w++)
        n += (uint32_t)__builtin_popcountll(nth_lfh_load_bits(nth_lfh_busy_word(sub, w * 64)) &
                                            ~atomic_load_explicit(nth_lfh_remote_word(sub, w * 64), memory_order_relaxed));
    return n;
}

/* True when every block is back: none busy, then no remote free pending or under way. The order
 * matters: a remote free counts itself before it claims (clears) its block's busy bit, so a
 * block found not busy was either back already or its free is counted by the time the count
 * is read. After a collection, under the heap lock. */
static inline bool nth_lfh_is_empty(const nth_lfh_subsegment *sub)
{
    if (nth_lfh_count_busy(sub) != 0) return false;
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&sub->remote_count, memory_order_acquire) == 0;
}

/* True when every block is back without collecting other threads' frees: none busy, and every
 * counted remote free has published its bit (a free between its count and its bit makes the
 * count exceed the bits, and the caller collects instead). Under the heap lock, on an unowned
 * subsegment, so that nothing but a free changes either. */
static inline bool nth_lfh_is_empty_uncollected(const nth_lfh_subsegment *sub)
{
    if (nth_lfh_count_busy(sub) != 0) return false;
    atomic_thread_fence(memory_order_acquire);
    uint32_t counted = atomic_load_explicit(&sub->remote_count, memory_order_acquire), published = 0;
    for (uint32_t w = 0; w < sub->n_words; w++)
        published += (uint32_t)__builtin_popcountll(atomic_load_explicit(nth_lfh_remote_word(sub, w * 64), memory_order_acquire));
    return counted == published;
}

/* The index of the block starting at ptr, if ptr starts a block that has been handed out. */
static inline bool nth_lfh_block_index(const nth_lfh_subsegment *sub, const void *ptr, uint32_t *index)
{
    size_t offset = (size_t)((const char *)ptr - sub->first_block);
    if (offset >= sub->span) return false; /* below first_block wraps around to a huge offset */
    uint32_t i = (uint32_t)(((uint64_t)offset * sub->reciprocal) >> 32);
    if ((size_t)i * sub->block_size != offset || i >= nth_lfh_load_u32(&sub->bump)) return false;
    *index = i;
    return true;
}

/* The index of the block starting at ptr, for the owner's free: UINT64_MAX-ish (at least
 * n_blocks) unless ptr starts block 0 ... n_blocks - 1. Exact division by block_size = odd << s:
 * offset * odd^-1 (mod 2^64) rotated right by s equals offset / block_size when block_size
 * divides offset, and exceeds 2^64 / block_size otherwise (an offset below the first block is
 * a huge one), so one comparison with bump rejects interior, foreign and never-used addresses. */
static inline uint64_t nth_lfh_free_index(const nth_lfh_subsegment *sub, const void *ptr)
{
    uint64_t q = (uint64_t)((uintptr_t)ptr - (uintptr_t)sub->first_block) * sub->index_inverse;
    unsigned s = sub->index_shift;
    return (q >> s) | (q << ((64 - s) & 63));
}

/* ASan builds with asan_poison: a free LFH block is poisoned but for its link word (a write
 * there is the engine's own check: a damaged link is detected at the pop), and a block handed
 * out is addressable whole. No code in other builds. */
static inline void nth_lfh_asan_freed(const nth_lfh_subsegment *sub, char *p)
{
#if NTH_ASAN
    if (nth_process_defaults.asan_poison) NTH_ASAN_POISON(p + sizeof(uint64_t), sub->block_size - sizeof(uint64_t));
#else
    (void)sub, (void)p;
#endif
}

static inline void nth_lfh_asan_live(const nth_lfh_subsegment *sub, char *p)
{
#if NTH_ASAN
    if (nth_process_defaults.asan_poison) NTH_ASAN_UNPOISON(p, sub->block_size);
#else
    (void)sub, (void)p;
#endif
}

/* The link word a free block `holder` stores to name `next`. */
static inline uint64_t nth_lfh_link(const nth_lfh_subsegment *sub, const char *holder, uint32_t next)
{
    return (uint64_t)next * 0x100000001ull ^ sub->link_key ^ (uintptr_t)holder;
}

/* The one push: block `index` at `p` (its busy bit already clear) becomes the head of the local
 * free list. */
static inline void nth_lfh_push(nth_lfh_subsegment *sub, uint32_t index, char *p)
{
    uint64_t link = nth_lfh_link(sub, p, sub->free_head);
    memcpy(p, &link, sizeof link);
    sub->free_head = index;
    nth_lfh_asan_freed(sub, p);
}

/* The one pop, which also hands the block out for a request of `size` bytes: unlinks the head
 * of the local free list, marks it busy and records its exact size. NULL when the list is empty
 * or its head is not believable — its link does not decode to a block handed out before, or
 * the head is busy or remotely freed — in which case nothing changed (the caller tells the two
 * apart by free_head and repairs a damaged list). */
static inline char *nth_lfh_pop(nth_lfh_subsegment *sub, size_t size)
{
    size_t i = sub->free_head; /* 64 bits wide from here on: one register for the index */
    if (i == NTH_LFH_NO_BLOCK) return NULL;
    char *p = sub->first_block + i * sub->block_size;
    uint64_t w;
    memcpy(&w, p, sizeof w);
    w ^= sub->link_key ^ (uintptr_t)p;
    uint32_t next = (uint32_t)w;
    /* next + 1 wraps to 0 for NO_BLOCK, so one comparison accepts "end" and "below bump". */
    if (NTH_UNLIKELY((uint32_t)(w >> 32) != next || next + 1u > nth_lfh_load_u32(&sub->bump))) return NULL;
    uint64_t *busy_word = nth_lfh_busy_word(sub, (uint32_t)i);
    uint64_t busy = nth_lfh_load_bits(busy_word), bit = 1ull << (i & 63);
    if (NTH_UNLIKELY((busy | nth_lfh_load_bits(busy_word + 1)) & bit)) return NULL; /* + 1: its remote word */
    sub->free_head = next;
    __atomic_fetch_or(busy_word, bit, __ATOMIC_RELAXED); /* atomic: see nth_lfh_set_busy_bit */
    nth_lfh_set_unused(sub, (uint32_t)i, size);
    nth_lfh_asan_live(sub, p);
    return p;
}

/* Hands out the next never-used block (the owner's), or NULL when there is none left. */
static inline char *nth_lfh_take_fresh(nth_lfh_subsegment *sub, size_t size)
{
    uint32_t index = sub->bump;
    if (NTH_UNLIKELY(index >= sub->n_blocks)) return NULL;
    nth_lfh_store_u32(&sub->bump, index + 1);
    nth_lfh_set_busy_bit(sub, index, true);
    nth_lfh_set_unused(sub, index, size);
    nth_lfh_asan_live(sub, nth_lfh_block_at(sub, index));
    return nth_lfh_block_at(sub, index);
}

/* True when the owner's next block should be collected from other threads' frees before a
 * never-used one is touched: a sixteenth of the subsegment waits for collection. Keeps a thread
 * whose blocks other threads free (a producer, a server handing records to a logger) in the
 * pages it has used already. */
static inline bool nth_lfh_collect_first(const nth_lfh_subsegment *sub)
{
    return atomic_load_explicit(&sub->remote_count, memory_order_relaxed) * 16u >= sub->n_blocks;
}

/* Claims busy block `index` for a free: clears its busy bit atomically and tells whether it was
 * set. Every free — the owner's and other threads' — claims its block this way, so of two frees
 * of one block at the same moment exactly one wins and the other is refused on the spot. Every
 * write of a busy bit is atomic, so a claimed block's bit stays clear until the block is handed
 * out again: a free that wins the claim holds the only reference, and the owner's free needs no
 * look at the remote bits. */
static inline bool nth_lfh_claim(nth_lfh_subsegment *sub, uint32_t index)
{
#if defined(__x86_64__) && !NTH_SANITIZER_BUILD
    /* One instruction: a bit-string operand with a register offset reaches any word by
     * itself; the busy bit of block i lies i + 64 (i / 64) bits from the first busy word, the
     * remote words sitting in between. A locked instruction orders like __ATOMIC_SEQ_CST;
     * sanitizer builds take the portable form, which they can see. */
    bool was_set;
    uint64_t bit_offset = (uint64_t)index + ((uint64_t)index & ~(uint64_t)63);
    __asm__ volatile("lock btrq %q[bit], %[bits]"
                     : [bits] "+m"(*(uint64_t(*)[2 * NTH_LFH_BITMAP_WORDS])nth_lfh_busy_word(sub, 0)),
                       "=@ccc"(was_set)
                     : [bit] "r"(bit_offset)
                     : "memory");
    return was_set;
#else
    uint64_t bit = 1ull << (index % 64);
    return (__atomic_fetch_and(nth_lfh_busy_word(sub, index), ~bit, __ATOMIC_ACQ_REL) & bit) != 0;
#endif
}

/* Puts block `index` at `p`, already claimed or collected, on the local free list (owner, or
 * heap lock when the subsegment is unowned). */
static inline void nth_lfh_give_back(nth_lfh_subsegment *sub, uint32_t index, char *p)
{
    nth_lfh_set_busy_bit(sub, index, false);
    nth_lfh_push(sub, index, p);
}

/* The rare half of nth_lfh_begin_fast: the gate is not 0, so the heap is paused, or this
 * process orders the fast path with a fence because membarrier is unavailable (the gate then
 * always has NTH_LFH_GATE_FENCE set, so that the common path tests one word). */
bool nth_lfh_begin_gated(nth_lfh_tcache *tc);

/* Marks the start of an owner operation; false (and unmarked) while the heap is paused.
 * Sanitizer builds use read-modify-writes on in_op on both sides instead of the store +
 * membarrier pairing, which ThreadSanitizer cannot follow; the ordering is the same. */
static inline bool nth_lfh_begin_fast(nth_lfh_tcache *tc)
{
#if NTH_SANITIZER_BUILD
    atomic_exchange_explicit(&tc->in_op, 1, memory_order_seq_cst);
#else
    atomic_store_explicit(&tc->in_op, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* membarrier orders it for the pauser */
#endif
    /* Acquire: whatever a pauser did before resuming happens before this operation. */
    if (NTH_LIKELY(atomic_load_explicit(&tc->gate, memory_order_acquire) == 0)) return true;
    return nth_lfh_begin_gated(tc);
}

/* nth_lfh_begin_fast for the inline fast paths, which leave every gated case to lfh.c (so
 * that they make no call): false (and unmarked) unless the gate is open. */
static inline __attribute__((always_inline)) bool nth_lfh_enter_inline(nth_lfh_tcache *tc)
{
#if NTH_SANITIZER_BUILD
    atomic_exchange_explicit(&tc->in_op, 1, memory_order_seq_cst);
#else
    atomic_store_explicit(&tc->in_op, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
#endif
    if (NTH_LIKELY(atomic_load_explicit(&tc->gate, memory_order_acquire) == 0)) return true;
    atomic_store_explicit(&tc->in_op, 0, memory_order_release);
    return false;
}

/* The pauser's view of a cache's in_op (see nth_lfh_begin_fast). */
static inline uint32_t nth_lfh_read_in_op(nth_lfh_tcache *tc)
{
#if NTH_SANITIZER_BUILD
    return atomic_fetch_add_explicit(&tc->in_op, 0, memory_order_seq_cst);
#else
    return atomic_load_explicit(&tc->in_op, memory_order_acquire);
#endif
}

static inline void nth_lfh_end_fast(nth_lfh_tcache *tc)
{
    atomic_store_explicit(&tc->in_op, 0, memory_order_release);
}

/* True when `tc` owns `sub`. A cache owns exactly its current subsegments (one per bucket) and
 * the filled ones it holds (tc->held): acquiring one sets its owner, retiring one clears it
 * (under the heap lock). */
static inline bool nth_lfh_owns(const nth_lfh_tcache *tc, const nth_lfh_subsegment *sub)
{
    return atomic_load_explicit(&sub->owner_cache, memory_order_relaxed) == tc;
}

/* The inline allocation's step when the pop found nothing, inside its fast operation, which it
 * ends: a never-used block while the subsegment is still being filled, else NULL (lfh.c). */
void *nth_lfh_pop_missed(nth_lfh_tcache *tc, nth_lfh_subsegment *sub, size_t size);

/* Allocates `size` bytes (<= NTH_LFH_MAX_SIZE) from `tc`'s current subsegment for `bucket`;
 * NULL for anything but the common case. With `fill`, an empty list is followed by a call to
 * nth_lfh_pop_missed for a never-used block. malloc fills (its pair costs the same either way);
 * nth_heap_alloc does not, since keeping its heap, flags and size across that call would cost
 * three saved registers on every call, and its slow path hands out never-used blocks too. */
static inline __attribute__((always_inline)) void *nth_lfh_alloc_bucket(nth_lfh_tcache *tc, unsigned bucket, size_t size,
                                                                        bool fill)
{
    nth_lfh_subsegment *sub = tc->current[bucket];
    if (NTH_UNLIKELY(!sub) || NTH_UNLIKELY(!nth_lfh_enter_inline(tc))) return NULL;
    char *p = nth_lfh_pop(sub, size);
    if (fill && NTH_UNLIKELY(!p)) return nth_lfh_pop_missed(tc, sub, size);
    nth_lfh_end_fast(tc);
    return p;
}

static inline __attribute__((always_inline)) void *nth_lfh_alloc_cached(nth_lfh_tcache *tc, size_t size, bool fill)
{
    /* Sizes 1 ... 1024 (16-byte buckets) are the common case: one shift. */
    unsigned bucket = size - 1 < 1024 ? (unsigned)((size - 1) >> 4) : nth_lfh_bucket(size);
    return nth_lfh_alloc_bucket(tc, bucket, size, fill);
}

static inline __attribute__((always_inline)) void *nth_lfh_alloc_fast(nth_heap *heap, size_t size)
{
    nth_lfh_tcache *tc = nth_lfh_tls_recent;
    if (NTH_UNLIKELY(!tc || atomic_load_explicit(&tc->heap, memory_order_relaxed) != heap)) return NULL;
    return nth_lfh_alloc_cached(tc, size, false);
}

/* True when an address-map entry names an LFH subsegment (*sub): its NTH_ADDRMAP_LFH bit. */
static inline __attribute__((always_inline)) bool nth_lfh_subsegment_of_entry(uintptr_t entry, nth_lfh_subsegment **sub)
{
    *sub = (nth_lfh_subsegment *)(entry - NTH_ADDRMAP_LFH);
    return entry & NTH_ADDRMAP_LFH;
}

/* True when the address map names an LFH subsegment (*sub) for the chunk holding `addr`, told
 * from the map's entry alone (its NTH_ADDRMAP_LFH bit). Without the map's range test: an address
 * beyond its reach finds the entry of an alias below it, whose index test (nth_lfh_free_fast)
 * then fails, and the slow path looks it up properly. */
static inline __attribute__((always_inline)) bool nth_lfh_subsegment_fast(const void *addr, nth_lfh_subsegment **sub)
{
    return nth_lfh_subsegment_of_entry(nth_addrmap_entry(addr, false), sub);
}

/* Frees ptr when this thread owns its subsegment and everything is in order; false otherwise
 * (including every bad pointer: the caller's slow path tells which and reports it). With
 * `of_heap`, also false unless the subsegment is `heap`'s. */
static inline __attribute__((always_inline)) bool nth_lfh_free_fast(bool of_heap, const nth_heap *heap, nth_lfh_subsegment *sub,
                                                                    void *ptr)
{
    nth_lfh_tcache *tc = nth_lfh_tls_recent;
    /* A subsegment owned by this thread's cache is of the cache's heap, so the descriptor's
     * owner prefix (its cache line) is not read. */
    if (NTH_UNLIKELY(!tc || !nth_lfh_owns(tc, sub))) return false;
    if (of_heap && NTH_UNLIKELY(atomic_load_explicit(&tc->heap, memory_order_relaxed) != heap)) return false;
    uint64_t index = nth_lfh_free_index(sub, ptr);
    if (NTH_UNLIKELY(index >= nth_lfh_load_u32(&sub->bump))) return false;
    if (NTH_UNLIKELY(!nth_lfh_enter_inline(tc))) return false;
    /* Not live: a double free, refused (and reported) by the slow path; nothing changed. */
    bool live = nth_lfh_claim(sub, (uint32_t)index);
    if (NTH_LIKELY(live)) nth_lfh_push(sub, (uint32_t)index, ptr);
    nth_lfh_end_fast(tc);
    return live;
}

/* Resizes ptr in place to `size` bytes when this thread owns its subsegment, ptr starts a live
 * block and `size` still fits the block (its unused[] entry, 16 bits wide, records any slack of a
 * block of at most NTH_LFH_MAX_SIZE); false otherwise, with nothing changed: the caller's slow
 * path decides, and reports a bad pointer. With `of_heap`, also false unless the subsegment is
 * `heap`'s. The caller zeroes nothing: heaps that force NTH_ZERO_MEMORY have no cache. */
static inline __attribute__((always_inline)) bool nth_lfh_resize_fast(bool of_heap, const nth_heap *heap,
                                                                      nth_lfh_subsegment *sub, void *ptr, size_t size)
{
    nth_lfh_tcache *tc = nth_lfh_tls_recent;
    if (NTH_UNLIKELY(!tc || !nth_lfh_owns(tc, sub))) return false;
    if (of_heap && NTH_UNLIKELY(atomic_load_explicit(&tc->heap, memory_order_relaxed) != heap)) return false;
    uint64_t index = nth_lfh_free_index(sub, ptr);
    if (NTH_UNLIKELY(index >= nth_lfh_load_u32(&sub->bump)) || size > sub->block_size) return false;
    if (NTH_UNLIKELY(!nth_lfh_enter_inline(tc))) return false;
    /* Busy and not freed by another thread: the owner's view of a live block. */
    uint64_t *busy_word = nth_lfh_busy_word(sub, (uint32_t)index), bit = 1ull << (index & 63);
    bool live = (nth_lfh_load_bits(busy_word) & ~nth_lfh_load_bits(busy_word + 1) & bit) != 0;
    if (NTH_LIKELY(live)) nth_lfh_set_unused(sub, (uint32_t)index, size);
    nth_lfh_end_fast(tc);
    return live;
}

#endif
