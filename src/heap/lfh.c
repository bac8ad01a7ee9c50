/*
 * lfh.c — the Low Fragmentation Heap front-end. It serves requests up to 16 KiB in 128 buckets
 * (16-byte steps to 1 KiB, then 16 steps per doubling) from subsegments carved out of the
 * back-end. Entry points: nth_lfh_alloc and nth_lfh_free, called by api.c before the locked
 * back-end path.
 *
 * Activation (as on Windows): every back-end allocation of a bucket's size adds 0x21 to the
 * bucket's counter, every back-end free takes 1 off; when the low five bits pass 0x10 (17 blocks
 * outstanding) or the counter passes 0xFF00, the bucket activates. On a heap without an LFH
 * object the first activation only marks it pending: the next small allocation creates the LFH
 * (and is itself served by the back-end), so a fresh heap's 18th allocation of a size creates
 * the LFH and the 19th is the first LFH block.
 *
 * Threads: each (thread, heap) pair has a cache holding one current subsegment per bucket. The
 * owning thread allocates and frees in its current subsegments without the heap lock and
 * without atomic read-modify-writes. A free from another thread counts itself in remote_count
 * and then sets the block's bit in the subsegment's remote bitmap (nothing is written into the
 * block, and nothing of the subsegment is touched after the bit is set, since the block may be
 * collected and the subsegment released from then on); the owner collects remote bits when it
 * runs out of free blocks. A full subsegment is retired to the bucket's pool (no owner, a FIFO
 * probed oldest first); a thread that needs a subsegment adopts a pooled one with free blocks
 * before creating a new one; a retired subsegment whose last block is freed goes back to the
 * back-end. Thread exit retires the thread's subsegments.
 *
 * Heap lock: nth_heap_lock, whole-heap validation and compaction pause the fast paths
 * (nth_lfh_pause): each fast operation marks its cache `in_op` before it reads the cache's
 * `paused` flag; the pauser raises heap->lfh_paused and every cache's flag, issues an expedited
 * membarrier (or, where that is unavailable, fast paths use a full fence), then waits for every
 * cache's in_op to drop. Paused fast paths take the heap lock. The owner-thread fast paths
 * themselves are inline, in lfh_fast.h.
 *
 * Lock order: heap lock < cache_lock (thread caches' heap pointers); thread exit, which needs
 * the cache lock first, only tries the heap lock.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap/lfh_fast.h"

NTH_TLS nth_lfh_tcache *nth_lfh_tls_recent;
static NTH_TLS nth_lfh_tcache *tls_caches;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
_Atomic bool nth_lfh_fast_path_needs_fence = true;


/* ------------------------------------------------------------------------------ helpers */

static inline uint64_t load_bits(const uint64_t *word)
{
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

static inline void store_bits(uint64_t *word, uint64_t value)
{
    __atomic_store_n(word, value, __ATOMIC_RELAXED);
}

static inline uint32_t load_u32(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void store_u32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline char *block_at(const nth_lfh_subsegment *sub, uint32_t index)
{
    return sub->first_block + (size_t)index * sub->block_size;
}

bool nth_lfh_index_of(const nth_lfh_subsegment *sub, const void *ptr, uint32_t *index)
{
    return nth_lfh_block_index(sub, ptr, index);
}

static inline uint32_t get_unused(const nth_lfh_subsegment *sub, uint32_t index)
{
    if (sub->unused_width == 1) return sub->unused[index];
    uint16_t v;
    memcpy(&v, sub->unused + 2 * (size_t)index, 2);
    return v;
}

static inline bool is_busy(const nth_lfh_subsegment *sub, uint32_t index)
{
    return (load_bits(&sub->busy_bits[index / 64]) >> (index % 64)) & 1;
}

nth_lfh_subsegment *nth_lfh_in_block(char *block)
{
    return (nth_lfh_subsegment *)(block + sizeof(nth_block_header));
}

/* --------------------------------------------------------------------------- activation */

static nth_lfh *create_lfh_locked(nth_heap *heap)
{
    void *mem = nth_backend_alloc_locked(heap, NTH_ZERO_MEMORY, sizeof(nth_lfh));
    if (!mem) return NULL;
    nth_backend_mark_locked(heap, mem, BLOCK_INTERNAL);
    nth_lfh *lfh = mem;
    lfh->magic = NTH_LFH_MAGIC;
    heap->lfh = lfh;
    return lfh;
}

void nth_lfh_note_backend_alloc_locked(nth_heap *heap, size_t size)
{
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
    if (size > NTH_LFH_MAX_SIZE) return;
    unsigned b = nth_lfh_bucket(size);
    if (heap->lfh_usage[b] > 1) heap->lfh_usage[b]--;
}

/* -------------------------------------------------------------------------- subsegments */

static unsigned chunks_for(uint32_t block_size)
{
    return block_size <= 1024 ? 1u : block_size <= 4096 ? 2u : 4u;
}

static nth_lfh_subsegment *create_subsegment_locked(nth_heap *heap, unsigned bucket)
{
    uint32_t block_size = nth_lfh_bucket_size(bucket);
    size_t bytes = chunks_for(block_size) * NTH_CHUNK;
    char *area = nth_backend_alloc_aligned_locked(heap, 0, NTH_CHUNK, bytes);
    if (!area) return NULL;
    nth_backend_mark_locked(heap, area, BLOCK_INTERNAL | BLOCK_LFH);

    nth_lfh_subsegment *sub = (nth_lfh_subsegment *)area;
    uint16_t width = block_size > 8192 ? 2 : 1;
    size_t head = nth_round_up(sizeof *sub, NTH_GRANULE);
    uint32_t n = (uint32_t)((bytes - head) / block_size);
    if (n > NTH_LFH_MAX_BLOCKS) n = NTH_LFH_MAX_BLOCKS;
    size_t first;
    for (;; n--) {
        size_t words = (n + 63) / 64;
        first = nth_round_up(head + 2 * 8 * words + (size_t)n * width, NTH_GRANULE);
        if (first + (size_t)n * block_size <= bytes) break;
    }
    size_t words = (n + 63) / 64;
    memset(area, 0, first);
    nth_segment *segment = (nth_segment *)nth_addrmap_lookup(area - sizeof(nth_block_header));
    sub->owner = (nth_owner){NTH_LFH_MAGIC, OWNER_LFH, segment->owner.index, heap, area, bytes};
    sub->segment = segment;
    sub->magic = NTH_LFH_MAGIC;
    sub->bucket = (uint16_t)bucket;
    sub->unused_width = width;
    sub->block_size = block_size;
    sub->n_blocks = n;
    sub->first_offset = (uint32_t)first;
    sub->first_block = area + first;
    sub->span = (size_t)n * block_size;
    sub->reciprocal = (uint32_t)((((uint64_t)1 << 32) + block_size - 1) / block_size);
    sub->n_words = (uint32_t)words;
    sub->busy_bits = (uint64_t *)(area + head);
    sub->remote_bits = (_Atomic uint64_t *)(area + head + 8 * words);
    sub->unused = (unsigned char *)(area + head + 16 * words);
    if (!nth_addrmap_set(area, bytes, &sub->owner)) {
        char *block = area - sizeof(nth_block_header);
        nth_block_header hdr;
        if (nth_header_load(heap, block, &hdr)) nth_backend_free_locked(heap, block, &hdr);
        return NULL;
    }
    nth_lfh *lfh = heap->lfh;
    sub->next = lfh->all;
    if (lfh->all) lfh->all->prev = sub;
    lfh->all = sub;
    lfh->n_subsegments++;
    lfh->subsegment_bytes += bytes;
    return sub;
}

static void pool_remove(nth_lfh *lfh, nth_lfh_subsegment *sub)
{
    nth_lfh_bucket_pool *pool = &lfh->pools[sub->bucket];
    if (sub->pool_prev)
        sub->pool_prev->pool_next = sub->pool_next;
    else
        pool->head = sub->pool_next;
    if (sub->pool_next)
        sub->pool_next->pool_prev = sub->pool_prev;
    else
        pool->tail = sub->pool_prev;
    sub->pool_next = sub->pool_prev = NULL;
    pool->count--;
}

static void pool_push(nth_lfh *lfh, nth_lfh_subsegment *sub)
{
    nth_lfh_bucket_pool *pool = &lfh->pools[sub->bucket];
    sub->pool_next = NULL;
    sub->pool_prev = pool->tail;
    if (pool->tail)
        pool->tail->pool_next = sub;
    else
        pool->head = sub;
    pool->tail = sub;
    pool->count++;
}

/* Gives an unowned, entirely free subsegment back to the back-end. */
static void release_subsegment_locked(nth_heap *heap, nth_lfh_subsegment *sub)
{
    nth_lfh *lfh = heap->lfh;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        lfh->all = sub->next;
    if (sub->next) sub->next->prev = sub->prev;
    lfh->n_subsegments--;
    lfh->subsegment_bytes -= sub->owner.reserve;
    char *area = sub->owner.base;
    size_t bytes = sub->owner.reserve;
    nth_segment *segment = sub->segment;
    sub->magic = 0;
    nth_addrmap_set(area, bytes, &segment->owner);
    char *block = area - sizeof(nth_block_header);
    nth_block_header hdr;
    if (nth_header_load(heap, block, &hdr)) nth_backend_free_locked(heap, block, &hdr);
}

/* Moves the remote frees into the owner's free list; returns how many. */
static uint32_t collect_remote(nth_lfh_subsegment *sub)
{
    if (atomic_load_explicit(&sub->remote_count, memory_order_relaxed) == 0) return 0;
    uint32_t collected = 0;
    for (uint32_t w = 0; w < sub->n_words; w++) {
        if (atomic_load_explicit(&sub->remote_bits[w], memory_order_relaxed) == 0) continue;
        uint64_t bits = atomic_exchange_explicit(&sub->remote_bits[w], 0, memory_order_acquire);
        store_bits(&sub->busy_bits[w], load_bits(&sub->busy_bits[w]) & ~bits);
        while (bits) {
            uint32_t index = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            char *p = block_at(sub, index);
            *(void **)p = sub->local_free;
            sub->local_free = p;
            collected++;
        }
    }
    atomic_fetch_sub_explicit(&sub->remote_count, collected, memory_order_relaxed);
    store_u32(&sub->n_used, load_u32(&sub->n_used) - collected);
    return collected;
}

/* Retires a cache's current subsegment to the bucket pool (or the back-end, when empty). */
static void retire_locked(nth_heap *heap, nth_lfh_subsegment *sub)
{
    collect_remote(sub);
    atomic_store_explicit(&sub->owner_cache, NULL, memory_order_release);
    if (load_u32(&sub->n_used) == 0)
        release_subsegment_locked(heap, sub);
    else
        pool_push(heap->lfh, sub);
}

/* A subsegment with a free block for `tc`: a pooled one with remote frees, else a new one. */
static nth_lfh_subsegment *acquire_subsegment_locked(nth_heap *heap, nth_lfh_tcache *tc, unsigned bucket)
{
    nth_lfh *lfh = heap->lfh;
    /* Oldest first (the likeliest to have had blocks freed); a probed subsegment with nothing
     * free goes to the back, so that successive probes visit the whole pool in turn. */
    for (unsigned probes = 0; probes < 8 && lfh->pools[bucket].head; probes++) {
        nth_lfh_subsegment *sub = lfh->pools[bucket].head;
        pool_remove(lfh, sub);
        if (!sub->local_free && atomic_load_explicit(&sub->remote_count, memory_order_acquire) == 0 &&
            sub->bump == sub->n_blocks) {
            pool_push(lfh, sub);
            continue;
        }
        atomic_store_explicit(&sub->owner_cache, tc, memory_order_release);
        collect_remote(sub);
        return sub;
    }
    nth_lfh_subsegment *sub = create_subsegment_locked(heap, bucket);
    if (sub) atomic_store_explicit(&sub->owner_cache, tc, memory_order_release);
    return sub;
}

/* --------------------------------------------------------------------------- thread caches */

static void thread_exit(void *unused);

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
#ifndef NTH_SANITIZER_BUILD /* sanitizers do not see membarrier's ordering: they keep the fence */
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        atomic_store_explicit(&nth_lfh_fast_path_needs_fence, false, memory_order_relaxed);
#endif
}

static inline nth_lfh_tcache *cache_for(const nth_heap *heap)
{
    if (NTH_UNLIKELY(heap == NULL)) return NULL; /* dead caches have a NULL heap */
    nth_lfh_tcache *tc = nth_lfh_tls_recent;
    if (NTH_LIKELY(tc && atomic_load_explicit(&tc->heap, memory_order_relaxed) == heap)) return tc;
    for (tc = tls_caches; tc; tc = tc->thread_next)
        if (atomic_load_explicit(&tc->heap, memory_order_relaxed) == heap) {
            nth_lfh_tls_recent = tc;
            return tc;
        }
    return NULL;
}

/* Frees this thread's caches whose heap is gone. */
static void drop_dead_caches(void)
{
    nth_lfh_tcache **link = &tls_caches;
    while (*link) {
        nth_lfh_tcache *tc = *link;
        if (atomic_load_explicit(&tc->heap, memory_order_relaxed) == NULL) {
            *link = tc->thread_next;
            if (nth_lfh_tls_recent == tc) nth_lfh_tls_recent = NULL;
            munmap(tc, sizeof *tc);
        } else {
            link = &tc->thread_next;
        }
    }
}

/* Creates this thread's cache for `heap`; called without the heap lock. */
static nth_lfh_tcache *create_cache(nth_heap *heap)
{
    pthread_once(&exit_key_once, make_exit_key);
    drop_dead_caches();
    void *mem = mmap(NULL, sizeof(nth_lfh_tcache), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return NULL;
    nth_lfh_tcache *tc = mem;
    atomic_init(&tc->heap, heap);
    nth_lock_acquire(&heap->lock);
    pthread_mutex_lock(&cache_lock);
    atomic_store_explicit(&tc->paused, atomic_load(&heap->lfh_paused) > 0, memory_order_relaxed);
    nth_lfh *lfh = heap->lfh;
    tc->heap_prev = NULL;
    tc->heap_next = lfh->caches;
    if (lfh->caches) lfh->caches->heap_prev = tc;
    lfh->caches = tc;
    pthread_mutex_unlock(&cache_lock);
    nth_lock_release(&heap->lock);
    tc->thread_next = tls_caches;
    tls_caches = tc;
    nth_lfh_tls_recent = tc;
    pthread_setspecific(exit_key, tc);
    return tc;
}

/* Retires every subsegment of a cache and unlinks it from its heap; heap lock held. */
static void detach_cache_locked(nth_heap *heap, nth_lfh_tcache *tc)
{
    for (unsigned b = 0; b < NTH_LFH_BUCKETS; b++)
        if (tc->current[b]) {
            retire_locked(heap, tc->current[b]);
            tc->current[b] = NULL;
        }
    nth_lfh *lfh = heap->lfh;
    if (tc->heap_prev)
        tc->heap_prev->heap_next = tc->heap_next;
    else
        lfh->caches = tc->heap_next;
    if (tc->heap_next) tc->heap_next->heap_prev = tc->heap_prev;
}

static void thread_exit(void *unused)
{
    (void)unused;
    nth_lfh_tcache *tc = tls_caches;
    tls_caches = NULL;
    nth_lfh_tls_recent = NULL;
    while (tc) {
        nth_lfh_tcache *next = tc->thread_next;
        /* The cache lock keeps the heap from being destroyed under us; the heap lock comes
         * after it in the lock order, so only try it, and back off while it is busy. */
        for (;;) {
            pthread_mutex_lock(&cache_lock);
            nth_heap *heap = atomic_load_explicit(&tc->heap, memory_order_relaxed);
            if (!heap) break;
            if (nth_lock_try_acquire(&heap->lock)) {
                detach_cache_locked(heap, tc);
                atomic_store_explicit(&tc->heap, NULL, memory_order_relaxed);
                nth_lock_release(&heap->lock);
                break;
            }
            pthread_mutex_unlock(&cache_lock);
            sched_yield();
        }
        pthread_mutex_unlock(&cache_lock);
        munmap(tc, sizeof *tc);
        tc = next;
    }
}

void nth_lfh_fork_prepare(void)
{
    pthread_mutex_lock(&cache_lock);
}

void nth_lfh_fork_release(void)
{
    pthread_mutex_unlock(&cache_lock);
}

void nth_lfh_destroy(nth_heap *heap)
{
    if (!heap->lfh) return;
    pthread_mutex_lock(&cache_lock);
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        atomic_store_explicit(&tc->heap, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&cache_lock);
}

/* ------------------------------------------------------------------------------ pausing */

void nth_lfh_pause(nth_heap *heap)
{
    if (atomic_fetch_add_explicit(&heap->lfh_paused, 1, memory_order_seq_cst) != 0 || !heap->lfh) return;
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        atomic_store_explicit(&tc->paused, 1, memory_order_seq_cst);
    if (!atomic_load_explicit(&nth_lfh_fast_path_needs_fence, memory_order_relaxed))
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        while (nth_lfh_read_in_op(tc)) sched_yield();
}

void nth_lfh_resume(nth_heap *heap)
{
    if (atomic_fetch_sub_explicit(&heap->lfh_paused, 1, memory_order_release) != 1 || !heap->lfh) return;
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        atomic_store_explicit(&tc->paused, 0, memory_order_release);
}


/* ---------------------------------------------------------------------------- allocation */

/* Takes a block from `sub` for the owner, or NULL when it has none left. */
static inline void *take_block(nth_lfh_subsegment *sub, size_t size)
{
    char *p = sub->local_free;
    uint32_t index;
    if (NTH_LIKELY(p != NULL)) {
        sub->local_free = *(void **)p;
        index = (uint32_t)(((uint64_t)(size_t)(p - sub->first_block) * sub->reciprocal) >> 32);
    } else {
        index = sub->bump;
        if (NTH_UNLIKELY(index >= sub->n_blocks)) return NULL;
        store_u32(&sub->bump, index + 1);
        p = block_at(sub, index);
    }
    nth_lfh_set_busy_bit(sub, index, true);
    nth_lfh_set_unused(sub, index, size);
    store_u32(&sub->n_used, sub->n_used + 1);
    return p;
}

/* The locked path: refills or replaces the current subsegment. */
static void *alloc_locked_path(nth_heap *heap, nth_lfh_tcache *tc, unsigned bucket, size_t size)
{
    void *p = NULL;
    nth_lock_acquire(&heap->lock);
    nth_lfh_subsegment *sub = tc->current[bucket];
    if (sub && heap->lfh_enabled) {
        p = take_block(sub, size);
        if (!p && collect_remote(sub)) p = take_block(sub, size);
        if (!p) {
            retire_locked(heap, sub);
            tc->current[bucket] = NULL;
        }
    }
    if (!p && heap->lfh_enabled) {
        sub = acquire_subsegment_locked(heap, tc, bucket);
        if (sub) {
            tc->current[bucket] = sub;
            p = take_block(sub, size);
        }
    }
    nth_lock_release(&heap->lock);
    return p;
}

static nth_lfh_tcache *slow_cache_for(nth_heap *heap, unsigned bucket)
{
    /* Heaps that zero every block keep to the locked path, which applies their forced flags. */
    if (!nth_heap_handle_ok(heap) || !heap->lfh_enabled || !heap->lfh || (heap->force_flags & NTH_ZERO_MEMORY) ||
        !atomic_load_explicit(&heap->lfh->active[bucket], memory_order_relaxed))
        return NULL;
    return create_cache(heap);
}

void *nth_lfh_alloc(nth_heap *heap, uint32_t flags, size_t size)
{
    if (flags & (NTH_NO_SERIALIZE | NTH_SETTABLE_USER_VALUE | NTH_SETTABLE_USER_FLAGS)) return NULL;
    unsigned bucket = nth_lfh_bucket(size);
    nth_lfh_tcache *tc = cache_for(heap);
    if (NTH_UNLIKELY(!tc)) {
        tc = slow_cache_for(heap, bucket);
        if (!tc) return NULL;
    }
    void *p = NULL;
    flags |= heap->force_flags;
    nth_lfh_subsegment *sub = tc->current[bucket];
    if (NTH_LIKELY(sub != NULL)) {
        if (NTH_LIKELY(nth_lfh_begin_fast(tc))) {
            p = take_block(sub, size);
            nth_lfh_end_fast(tc);
        }
    } else if (!heap->lfh_enabled || !atomic_load_explicit(&heap->lfh->active[bucket], memory_order_relaxed)) {
        return NULL;
    }
    if (NTH_UNLIKELY(!p)) p = alloc_locked_path(heap, tc, bucket, size);
    if (p && (flags & NTH_ZERO_MEMORY)) memset(p, 0, size);
    return p;
}

/* ---------------------------------------------------------------------------------- free */

static bool report_bad(nth_heap *heap, const void *ptr, nth_error error, const char *expected, const char *found)
{
    NTH_ENTER("nth_heap_free"); /* named already when called from an entry point */
    nth_report_problem(heap, error, ptr, expected, found);
    return false;
}

nth_error nth_lfh_locate(nth_heap *heap, nth_lfh_subsegment *sub, const void *ptr, nth_located *out,
                         const char **expected, const char **found)
{
    uint32_t index;
    (void)heap;
    if (!nth_lfh_index_of(sub, ptr, &index)) {
        *expected = "the start of an LFH block";
        *found = "an interior or unused address of an LFH subsegment";
        return NTH_ERR_INVALID_POINTER;
    }
    uint64_t bit = 1ull << (index % 64);
    if (!is_busy(sub, index) ||
        (atomic_load_explicit(&sub->remote_bits[index / 64], memory_order_relaxed) & bit)) {
        *expected = "a busy LFH block";
        *found = "a free LFH block (already freed)";
        return NTH_ERR_DOUBLE_FREE;
    }
    out->lfh = sub;
    out->lfh_index = index;
    out->segment = sub->segment;
    out->header = NULL;
    /* A header-shaped description: requested = size_gr * 16 - unused, exactly. */
    uint32_t requested = sub->block_size - get_unused(sub, index);
    out->hdr = (nth_block_header){.size_gr = (requested + 2 * NTH_GRANULE - 1) / NTH_GRANULE,
                                  .flags = BLOCK_BUSY, .segment_index = (uint8_t)sub->segment->owner.index};
    out->hdr.unused = (uint8_t)((size_t)out->hdr.size_gr * NTH_GRANULE - requested);
    return NTH_OK;
}

typedef enum { FREED, REFUSED, RETRY_LOCKED } free_result;

/* Frees block `index` of `sub`: locally when this thread owns the subsegment, else remotely. */
static free_result free_index(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, nth_lfh_tcache *mine, bool fast)
{
    char *p = block_at(sub, index);
    uint64_t bit = 1ull << (index % 64);
    if (mine && atomic_load_explicit(&sub->owner_cache, memory_order_relaxed) == mine) {
        if (fast && !nth_lfh_begin_fast(mine)) return RETRY_LOCKED;
        if (NTH_UNLIKELY(!is_busy(sub, index) ||
                         (atomic_load_explicit(&sub->remote_bits[index / 64], memory_order_relaxed) & bit))) {
            if (fast) nth_lfh_end_fast(mine);
            report_bad(heap, p, NTH_ERR_DOUBLE_FREE, "a busy LFH block", "a free LFH block (already freed)");
            return REFUSED;
        }
        nth_lfh_set_busy_bit(sub, index, false);
        *(void **)p = sub->local_free;
        sub->local_free = p;
        store_u32(&sub->n_used, sub->n_used - 1);
        if (fast) nth_lfh_end_fast(mine);
        return FREED;
    }
    /* A free from another thread. Every access to the subsegment comes before the block's bit is
     * published: from then on an owner or adopter may collect the block and the subsegment may
     * go back to the back-end at any moment. */
    _Atomic uint64_t *word = &sub->remote_bits[index / 64];
    if (!is_busy(sub, index) || (atomic_load_explicit(word, memory_order_relaxed) & bit)) {
        report_bad(heap, p, NTH_ERR_DOUBLE_FREE, "a busy LFH block", "a free LFH block (already freed)");
        return REFUSED;
    }
    uint32_t pending = atomic_fetch_add_explicit(&sub->remote_count, 1, memory_order_relaxed) + 1;
    bool last = atomic_load_explicit(&sub->owner_cache, memory_order_acquire) == NULL &&
                pending == load_u32(&sub->n_used);
    if (!last) {
        if (atomic_fetch_or_explicit(word, bit, memory_order_release) & bit) {
            /* Two threads freed it at once; remote_count stays one high, which only delays an
             * early return of the subsegment. */
            report_bad(heap, p, NTH_ERR_DOUBLE_FREE, "a busy LFH block", "a free LFH block (already freed)");
            return REFUSED;
        }
        return FREED;
    }
    /* The last busy block of a retired subsegment: free it and give the subsegment back, under
     * the lock (no one releases a subsegment without it, and ours cannot be released before our
     * bit is published). */
    nth_lock_acquire(&heap->lock);
    if (atomic_fetch_or_explicit(word, bit, memory_order_release) & bit) {
        nth_lock_release(&heap->lock);
        report_bad(heap, p, NTH_ERR_DOUBLE_FREE, "a busy LFH block", "a free LFH block (already freed)");
        return REFUSED;
    }
    if (sub->magic == NTH_LFH_MAGIC && atomic_load_explicit(&sub->owner_cache, memory_order_acquire) == NULL) {
        collect_remote(sub);
        if (load_u32(&sub->n_used) == 0) {
            pool_remove(heap->lfh, sub);
            release_subsegment_locked(heap, sub);
        }
    }
    nth_lock_release(&heap->lock);
    return FREED;
}

bool nth_lfh_free(nth_heap *heap, nth_lfh_subsegment *sub, void *ptr)
{
    uint32_t index;
    if (NTH_UNLIKELY(!nth_lfh_index_of(sub, ptr, &index)))
        return report_bad(heap, ptr, NTH_ERR_INVALID_POINTER, "the start of an LFH block",
                          "an interior or unused address of an LFH subsegment");
    nth_lfh_tcache *mine = cache_for(heap);
    free_result result = free_index(heap, sub, index, mine, true);
    if (NTH_LIKELY(result != RETRY_LOCKED)) return result == FREED;
    /* Paused: do it under the lock. */
    nth_lock_acquire(&heap->lock);
    result = free_index(heap, sub, index, mine, false);
    nth_lock_release(&heap->lock);
    return result == FREED;
}

bool nth_lfh_free_located_locked(nth_heap *heap, nth_located *where)
{
    return free_index(heap, where->lfh, where->lfh_index, cache_for(heap), false) == FREED;
}

bool nth_lfh_resize(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, size_t size)
{
    /* In place while the block still fits and the slack is recordable (else it moves to a
     * better-fitting bucket). */
    if (size > sub->block_size || sub->block_size - size > (sub->unused_width == 1 ? 0xFFu : 0xFFFFu)) return false;
    /* The size byte is read by walks: write it as a fast operation, or under the lock while
     * the heap is paused (or the caller holds it already). */
    nth_lfh_tcache *tc = nth_lock_held_by_me(&heap->lock) ? NULL : cache_for(heap);
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

/* -------------------------------------------------------------------- walk, check, stats */

bool nth_lfh_next_busy(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t from, nth_walk_entry *entry)
{
    (void)heap;
    uint32_t bump = load_u32(&sub->bump);
    for (uint32_t i = from; i < bump; i++) {
        uint64_t word = load_bits(&sub->busy_bits[i / 64]) >> (i % 64);
        if (word == 0) {
            i |= 63u; /* skip the rest of an empty word */
            continue;
        }
        i += (uint32_t)__builtin_ctzll(word);
        if (i >= bump) break;
        uint32_t unused = get_unused(sub, i);
        memset(entry, 0, sizeof *entry);
        entry->data = block_at(sub, i);
        entry->size = sub->block_size - unused;
        entry->overhead = unused;
        entry->region_index = (uint16_t)sub->segment->owner.index;
        entry->flags = NTH_ENTRY_BUSY | NTH_ENTRY_LFH;
        entry->u.block.block_size = sub->block_size;
        return true;
    }
    nth_set_last_error(NTH_ERR_NO_MORE_ITEMS);
    return false;
}

static bool lfh_problem(nth_heap *heap, const void *where, const char *expected, const char *found)
{
    nth_report_problem(heap, NTH_ERR_CORRUPT, where, expected, found);
    return false;
}

bool nth_lfh_check_subsegment(nth_heap *heap, char *block)
{
    nth_lfh_subsegment *sub = nth_lfh_in_block(block);
    if (sub->magic != NTH_LFH_MAGIC || sub->owner.kind != OWNER_LFH || sub->owner.heap != heap ||
        sub->owner.base != block + sizeof(nth_block_header) || nth_addrmap_lookup(sub->owner.base) != &sub->owner)
        return lfh_problem(heap, sub, "an LFH subsegment descriptor", "damaged descriptor fields");
    if (sub->bump > sub->n_blocks || sub->block_size != nth_lfh_bucket_size(sub->bucket))
        return lfh_problem(heap, sub, "consistent LFH subsegment counters", "a bump or size out of range");
    uint32_t busy = 0;
    for (uint32_t w = 0; w < sub->n_words; w++) {
        uint64_t bits = load_bits(&sub->busy_bits[w]);
        uint64_t remote = atomic_load_explicit(&sub->remote_bits[w], memory_order_relaxed);
        if (remote & ~bits) return lfh_problem(heap, sub, "remote frees of busy blocks only", "a remote bit on a free block");
        for (uint32_t i = w * 64; bits; i++, bits >>= 1)
            if ((bits & 1) && i >= sub->bump)
                return lfh_problem(heap, sub, "busy bits below the bump index", "a busy bit past it");
        busy += (uint32_t)__builtin_popcountll(load_bits(&sub->busy_bits[w]));
    }
    if (busy != sub->n_used) return lfh_problem(heap, sub, "n_used equal to the busy bits", "a different count");
    uint32_t listed = 0;
    for (char *p = sub->local_free; p; p = *(char **)p) {
        uint32_t index;
        if (!nth_lfh_index_of(sub, p, &index) || is_busy(sub, index) || ++listed > sub->n_blocks)
            return lfh_problem(heap, p, "a free list of free blocks of this subsegment", "a bad entry or a cycle");
    }
    /* Every block below bump is busy (remote frees included) or on the local free list. */
    if (listed + busy != sub->bump)
        return lfh_problem(heap, sub, "every free block below bump on the local list", "blocks missing from it");
    return true;
}

bool nth_lfh_check_heap(nth_heap *heap)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return true;
    uint32_t n = 0;
    for (nth_lfh_subsegment *sub = lfh->all; sub; sub = sub->next)
        if (++n > lfh->n_subsegments) break;
    if (n != lfh->n_subsegments)
        return lfh_problem(heap, lfh, "the LFH's subsegment list and count agree", "a different length");
    return true;
}

void nth_lfh_add_stats(nth_heap *heap, nth_heap_stats *stats)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return;
    size_t blocks = 0, bytes = 0;
    for (nth_lfh_subsegment *sub = lfh->all; sub; sub = sub->next) {
        uint32_t used = load_u32(&sub->n_used);
        blocks += used - atomic_load_explicit(&sub->remote_count, memory_order_relaxed);
        bytes += (size_t)used * sub->block_size;
    }
    stats->lfh_blocks = blocks;
    stats->lfh_subsegments = lfh->n_subsegments;
    /* Busy counts are of user blocks: subsegments and the LFH object are the heap's own. */
    stats->busy_blocks = stats->busy_blocks - lfh->n_subsegments - 1 + blocks;
    stats->busy_bytes = stats->busy_bytes - lfh->subsegment_bytes - sizeof(nth_lfh) + bytes;
}

void nth_lfh_trim_locked(nth_heap *heap)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return;
    for (unsigned b = 0; b < NTH_LFH_BUCKETS; b++) {
        nth_lfh_subsegment *sub = lfh->pools[b].head;
        while (sub) {
            nth_lfh_subsegment *next = sub->pool_next;
            collect_remote(sub);
            if (load_u32(&sub->n_used) == 0) {
                pool_remove(lfh, sub);
                release_subsegment_locked(heap, sub);
            }
            sub = next;
        }
    }
}
