/*
 * lfh_tcache.c — the LFH's thread caches and the protocol that keeps their lock-free fast paths
 * out of a heap that is being locked, validated, compacted, forked or destroyed.
 *
 * A cache belongs to one (thread, heap) pair and holds the thread's current subsegment per
 * bucket. It lives in a private mapping of its own (vm.h), outside every heap, so a thread can
 * tidy up after its heap was destroyed; the thread finds it through thread-locals: the most
 * recent cache, then the thread's list; malloc reads its cache for the process heap (which is
 * never destroyed) directly from nth_lfh_tls_process.
 *
 * Pausing: nth_heap_lock, whole-heap validation and compaction call nth_lfh_pause. Each fast
 * operation marks its cache `in_op` before it reads the cache's `gate`; the pauser raises
 * heap->lfh_paused and every cache's NTH_LFH_GATE_PAUSED bit, issues an expedited membarrier,
 * then waits for every cache's in_op to drop. Paused fast paths take the heap lock. Where
 * membarrier is unavailable every gate keeps NTH_LFH_GATE_FENCE set, which sends each fast
 * operation through nth_lfh_begin_gated: a full fence between the in_op store and the real test
 * (so the common path reads one word either way).
 *
 * Thread exit hands its caches over without the heap lock: each goes onto its heap's spare
 * stack (lfh->orphans) as it is — still on the heap's cache list, so pausers keep seeing it,
 * still the owner of its current subsegments — and the next thread that allocates from that
 * heap without a cache takes it over, subsegments, free lists and all (take_spare), so thread start and exit
 * touch neither the heap lock nor the bucket pools. Spares nobody takes are retired under the
 * heap lock: all of them when a pauser resumes (nth_heap_unlock, validate, compact) or when a
 * cache has to be made, and those beyond NTH_LFH_SPARE_CACHES when a thread refills from the
 * back-end (nth_lfh_adopt_orphans_locked). Thread exit never waits for a heap.
 *
 * Every pop of a spare stack (take_spare, adoption, heap destroy) and every push (thread exit)
 * holds cache_lock, so a cache address cannot come back to the top of a stack between a
 * popper's reads (no ABA).
 *
 * Lock order: heap lock < cache_lock (thread caches' heap pointers and the heaps' cache lists).
 */
#include <pthread.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap/lfh_fast.h"
#include "heap/vm.h"

NTH_TLS nth_lfh_tcache *nth_lfh_tls_recent;
NTH_TLS nth_lfh_tcache *nth_lfh_tls_process;
static NTH_TLS nth_lfh_tcache *tls_caches;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static _Atomic bool nth_lfh_fast_path_needs_fence = true;

static void thread_exit(void *unused);

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
#if !NTH_SANITIZER_BUILD /* sanitizers do not see membarrier's ordering: they keep the fence */
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        atomic_store_explicit(&nth_lfh_fast_path_needs_fence, false, memory_order_relaxed);
#endif
}

nth_lfh_tcache *nth_lfh_cache_for(const nth_heap *heap)
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

bool nth_lfh_begin_gated(nth_lfh_tcache *tc)
{
    uint32_t gate = atomic_load_explicit(&tc->gate, memory_order_acquire);
    if (gate & NTH_LFH_GATE_FENCE) {
        atomic_thread_fence(memory_order_seq_cst);
        gate = atomic_load_explicit(&tc->gate, memory_order_acquire);
    }
    if (!(gate & NTH_LFH_GATE_PAUSED)) return true;
    atomic_store_explicit(&tc->in_op, 0, memory_order_release);
    return false;
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
            if (nth_lfh_tls_process == tc) nth_lfh_tls_process = NULL;
            nth_vm_unmap_private(tc, sizeof *tc);
        } else {
            link = &tc->thread_next;
        }
    }
}

/* A spare cache of `heap` left by an exited thread, now this thread's to use; NULL if none. */
static nth_lfh_tcache *take_spare(nth_heap *heap)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh || !atomic_load_explicit(&lfh->orphans, memory_order_relaxed)) return NULL;
    nth_mutex_lock(&cache_lock, NTH_RANK_CACHE);
    nth_lfh_tcache *tc = atomic_load_explicit(&lfh->orphans, memory_order_acquire);
    while (tc && !atomic_compare_exchange_weak_explicit(&lfh->orphans, &tc, tc->orphan_next,
                                                        memory_order_acquire, memory_order_acquire)) {
    }
    if (tc) atomic_fetch_sub_explicit(&lfh->n_orphans, 1, memory_order_relaxed);
    nth_mutex_unlock(&cache_lock, NTH_RANK_CACHE);
    return tc;
}

/* A new cache, linked into the heap's list under the heap lock. */
static nth_lfh_tcache *make_cache(nth_heap *heap)
{
    nth_lfh_tcache *tc = nth_vm_map_private(sizeof(nth_lfh_tcache));
    if (!tc) return NULL;
    atomic_init(&tc->heap, heap);
    nth_lock_acquire(&heap->lock);
    nth_lfh_adopt_orphans_locked(heap, 0);
    nth_mutex_lock(&cache_lock, NTH_RANK_CACHE);
    /* Sanitizer builds order in_op with read-modify-writes (lfh_fast.h) and need no fence. */
    uint32_t gate = !NTH_SANITIZER_BUILD && atomic_load_explicit(&nth_lfh_fast_path_needs_fence, memory_order_relaxed)
                        ? NTH_LFH_GATE_FENCE
                        : 0;
    if (atomic_load(&heap->lfh_paused) > 0) gate |= NTH_LFH_GATE_PAUSED;
    atomic_store_explicit(&tc->gate, gate, memory_order_relaxed);
    nth_lfh *lfh = heap->lfh;
    /* The heap's first cache takes subsegments at once (the activation counter spoke for its
     * thread); a later thread's cache warms each size up first (lfh.c). */
    memset(tc->warmup, lfh->caches ? NTH_LFH_THREAD_WARMUP : 0, sizeof tc->warmup);
    tc->heap_prev = NULL;
    tc->heap_next = lfh->caches;
    if (lfh->caches) lfh->caches->heap_prev = tc;
    lfh->caches = tc;
    nth_mutex_unlock(&cache_lock, NTH_RANK_CACHE);
    nth_lock_release(&heap->lock);
    return tc;
}

nth_lfh_tcache *nth_lfh_create_cache(nth_heap *heap, bool to_allocate)
{
    pthread_once(&exit_key_once, make_exit_key);
    drop_dead_caches();
    nth_lfh_tcache *tc = to_allocate ? take_spare(heap) : NULL;
    if (!tc) tc = make_cache(heap);
    if (!tc) return NULL;
    tc->thread_next = tls_caches;
    tls_caches = tc;
    nth_lfh_tls_recent = tc;
    if (heap == nth_heap_registry.process_heap) nth_lfh_tls_process = tc;
    pthread_setspecific(exit_key, tc);
    return tc;
}

/* Retires every subsegment of a cache and unlinks it from its heap; heap and cache locks held. */
static void detach_cache_locked(nth_heap *heap, nth_lfh_tcache *tc)
{
    nth_assert_held(heap);
    nth_lfh_retire_held_locked(heap, tc, false);
    for (unsigned b = 0; b < NTH_LFH_BUCKETS; b++)
        if (tc->current[b]) {
            nth_lfh_subsegment *sub = tc->current[b];
            tc->current[b] = NULL;
            nth_lfh_retire_locked(heap, sub);
        }
    nth_lfh *lfh = heap->lfh;
    if (tc->heap_prev)
        tc->heap_prev->heap_next = tc->heap_next;
    else
        lfh->caches = tc->heap_next;
    if (tc->heap_next) tc->heap_next->heap_prev = tc->heap_prev;
    atomic_store_explicit(&tc->heap, NULL, memory_order_relaxed);
}

void nth_lfh_adopt_orphans_locked(nth_heap *heap, uint32_t keep)
{
    nth_assert_held(heap);
    nth_lfh *lfh = heap->lfh;
    if (!lfh || atomic_load_explicit(&lfh->n_orphans, memory_order_relaxed) <= keep ||
        !atomic_load_explicit(&lfh->orphans, memory_order_relaxed))
        return;
    nth_mutex_lock(&cache_lock, NTH_RANK_CACHE);
    nth_lfh_tcache *tc = atomic_exchange_explicit(&lfh->orphans, NULL, memory_order_acquire);
    for (nth_lfh_tcache *next; tc; tc = next) {
        next = tc->orphan_next;
        atomic_fetch_sub_explicit(&lfh->n_orphans, 1, memory_order_relaxed);
        detach_cache_locked(heap, tc);
        nth_vm_unmap_private(tc, sizeof *tc);
    }
    nth_mutex_unlock(&cache_lock, NTH_RANK_CACHE);
}

static void thread_exit(void *unused)
{
    (void)unused;
    nth_lfh_tcache *tc = tls_caches;
    tls_caches = NULL;
    nth_lfh_tls_recent = NULL;
    nth_lfh_tls_process = NULL;
    while (tc) {
        nth_lfh_tcache *next = tc->thread_next;
        nth_mutex_lock(&cache_lock, NTH_RANK_CACHE);
        nth_heap *heap = atomic_load_explicit(&tc->heap, memory_order_relaxed);
        if (heap) {
            nth_lfh *lfh = heap->lfh;
            tc->orphan_next = atomic_load_explicit(&lfh->orphans, memory_order_relaxed);
            while (!atomic_compare_exchange_weak_explicit(&lfh->orphans, &tc->orphan_next, tc,
                                                          memory_order_release, memory_order_relaxed)) {
            }
            atomic_fetch_add_explicit(&lfh->n_orphans, 1, memory_order_relaxed);
        }
        nth_mutex_unlock(&cache_lock, NTH_RANK_CACHE);
        if (!heap) nth_vm_unmap_private(tc, sizeof *tc);
        tc = next;
    }
}

/* fork(): taken in the documented order by heap.c's handler, outside the rank bookkeeping. */
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
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return;
    nth_mutex_lock(&cache_lock, NTH_RANK_CACHE);
    for (nth_lfh_tcache *tc = lfh->caches; tc; tc = tc->heap_next)
        atomic_store_explicit(&tc->heap, NULL, memory_order_relaxed);
    /* Caches of exited threads have no thread left to free them. */
    nth_lfh_tcache *orphan = atomic_exchange_explicit(&lfh->orphans, NULL, memory_order_acquire);
    nth_mutex_unlock(&cache_lock, NTH_RANK_CACHE);
    while (orphan) {
        nth_lfh_tcache *next = orphan->orphan_next;
        nth_vm_unmap_private(orphan, sizeof *orphan);
        orphan = next;
    }
    nth_lfh_release_metadata(heap);
}

void nth_lfh_pause(nth_heap *heap)
{
    if (atomic_fetch_add_explicit(&heap->lfh_paused, 1, memory_order_seq_cst) != 0 || !heap->lfh) return;
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        atomic_fetch_or_explicit(&tc->gate, NTH_LFH_GATE_PAUSED, memory_order_seq_cst);
    if (!atomic_load_explicit(&nth_lfh_fast_path_needs_fence, memory_order_relaxed))
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        while (nth_lfh_read_in_op(tc)) sched_yield();
}

/* Called with the heap lock held (by every pauser). */
void nth_lfh_resume(nth_heap *heap)
{
    if (atomic_fetch_sub_explicit(&heap->lfh_paused, 1, memory_order_release) != 1 || !heap->lfh) return;
    nth_lfh_adopt_orphans_locked(heap, 0);
    for (nth_lfh_tcache *tc = heap->lfh->caches; tc; tc = tc->heap_next)
        atomic_fetch_and_explicit(&tc->gate, ~NTH_LFH_GATE_PAUSED, memory_order_release);
}
