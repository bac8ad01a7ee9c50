/*
 * lock.h — the engine's locks: the heap lock (a mutex that the owning thread may take again:
 * nth_heap_lock followed by nth_heap_alloc on the same thread works, as with a Windows critical
 * section), the ranked wrappers of the plain global mutexes, and the debug-build rank checker.
 * The heap lock is a word taken with one compare-and-swap and released with one exchange,
 * inline; only a lock that is held goes to lock.c, which spins briefly and then sleeps.
 *
 * Lock order (acquire by increasing rank, never the reverse):
 *
 *   rank 1 registry lock (heap.c) < 2 heap lock < 3 cache lock (lfh) < 4 address-map lock (addrmap.c)
 *
 * Heap locks may nest among themselves (the fork handler takes every heap's in registry order; a
 * user may hold one heap's lock while calling into another heap). A try-acquire never waits, so
 * it may go against the order (thread exit holds the cache lock and only *tries* a heap lock,
 * backing off when it is busy).
 *
 * Checked when built with DEBUG=1 (NTH_DEBUG=1): each thread counts the ranks it holds, and a
 * blocking acquire of a rank lower than or equal to one it holds (other than re-entering a heap
 * lock it owns, or a second heap lock) aborts at once with both ranks named:
 *
 *   ntheap: lock order violated: acquiring the registry lock (rank 1) while holding the heap
 *           lock (rank 2); the order is registry < heap < cache < address map
 *
 * Functions named *_locked expect the heap lock to be held by the caller, or the heap or the
 * call to be NO_SERIALIZE; nth_assert_held (internal.h) checks it in debug builds.
 */
#ifndef NTH_LOCK_H
#define NTH_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef NTH_DEBUG
#define NTH_DEBUG 0 /* DEBUG=1 in the Makefile: precondition and lock-rank checks */
#endif

typedef enum nth_lock_rank {
    NTH_RANK_REGISTRY = 1,
    NTH_RANK_HEAP = 2,
    NTH_RANK_CACHE = 3,
    NTH_RANK_ADDRMAP = 4,
    NTH_RANK_REGIONS = 5, /* regions.c: never held with the address map's lock */
    NTH_RANK_LIMIT /* one past the highest rank */
} nth_lock_rank;

typedef struct nth_lock {
    _Atomic uint32_t state;  /* NTH_LOCK_FREE, _HELD or _CONTENDED (see lock.c) */
    uint32_t depth;          /* acquisitions by the owner */
    _Atomic uintptr_t owner; /* nth_thread_id() of the holder, 0 when free */
    uint32_t user_depth;     /* of which by nth_heap_lock */
    uint64_t acquisitions;   /* every acquisition, counted by its owner: while a thread holds the
                              * lock, an unchanged count proves nobody else changed the heap */
    _Atomic uint64_t bypasses; /* calls that ran without the lock (NTH_NO_SERIALIZE), each counted
                                * as it starts: with `acquisitions`, proves that nothing but the
                                * LFH's fast paths (which nth_heap_lock pauses) changed the heap */
} nth_lock;

enum { NTH_LOCK_FREE = 0, NTH_LOCK_HELD = 1, NTH_LOCK_CONTENDED = 2 };

/* The slow halves (lock.c): wait for a held lock; wake a waiter after a contended release. */
void nth_lock_wait_acquire(nth_lock *lock);
void nth_lock_wake_waiter(nth_lock *lock);

/* A unique, non-zero id for the calling thread: the address of one thread-local byte
 * (defined once, in heap.c). */
extern _Thread_local char nth_thread_anchor __attribute__((tls_model("initial-exec")));
static inline uintptr_t nth_thread_id(void)
{
    return (uintptr_t)&nth_thread_anchor;
}

/* ------------------------------------------------------------------- rank record (debug) */

#if NTH_DEBUG
/* Per thread: how many locks of each rank it holds (heap.c). */
extern _Thread_local uint32_t nth_held_ranks[NTH_RANK_LIMIT] __attribute__((tls_model("initial-exec")));
/* Prints the violation and aborts (heap.c). */
_Noreturn void nth_lock_order_violated(nth_lock_rank acquiring, nth_lock_rank held);

/* Before a blocking acquire of `rank`. */
static inline void nth_rank_check(nth_lock_rank rank)
{
    for (unsigned r = rank; r < NTH_RANK_LIMIT; r++)
        if (nth_held_ranks[r] != 0 && !(r == NTH_RANK_HEAP && rank == NTH_RANK_HEAP))
            nth_lock_order_violated(rank, (nth_lock_rank)r);
}
static inline void nth_rank_acquired(nth_lock_rank rank)
{
    nth_held_ranks[rank]++;
}
static inline void nth_rank_released(nth_lock_rank rank)
{
    nth_held_ranks[rank]--;
}
#else
static inline void nth_rank_check(nth_lock_rank rank)
{
    (void)rank;
}
static inline void nth_rank_acquired(nth_lock_rank rank)
{
    (void)rank;
}
static inline void nth_rank_released(nth_lock_rank rank)
{
    (void)rank;
}
#endif

/* ------------------------------------------------------------ plain global mutexes, ranked */

static inline void nth_mutex_lock(pthread_mutex_t *mutex, nth_lock_rank rank)
{
    nth_rank_check(rank);
    pthread_mutex_lock(mutex);
    nth_rank_acquired(rank);
}

static inline void nth_mutex_unlock(pthread_mutex_t *mutex, nth_lock_rank rank)
{
    nth_rank_released(rank);
    pthread_mutex_unlock(mutex);
}

/* ---------------------------------------------------------------------------- heap lock */

static inline void nth_lock_init(nth_lock *lock)
{
    atomic_init(&lock->state, NTH_LOCK_FREE);
    atomic_init(&lock->owner, 0);
    lock->depth = 0;
    lock->user_depth = 0;
    lock->acquisitions = 0;
    atomic_init(&lock->bypasses, 0);
}

/* Counts a call that runs without taking the lock because its caller promised exclusive use.
 * A load and a store, not a locked add: two such calls at once break that promise, and the heap
 * with it, whatever the count says. */
static inline void nth_lock_bypass(nth_lock *lock)
{
    atomic_store_explicit(&lock->bypasses, atomic_load_explicit(&lock->bypasses, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline bool nth_lock_held_by_me(nth_lock *lock)
{
    return atomic_load_explicit(&lock->owner, memory_order_relaxed) == nth_thread_id();
}

/* One compare-and-swap from free to held, acquiring. */
static inline bool nth_lock_take_free(nth_lock *lock)
{
    uint32_t expected = NTH_LOCK_FREE;
    return atomic_compare_exchange_strong_explicit(&lock->state, &expected, NTH_LOCK_HELD, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void nth_lock_acquire(nth_lock *lock)
{
    uintptr_t me = nth_thread_id();
    if (atomic_load_explicit(&lock->owner, memory_order_relaxed) == me) {
        lock->depth++;
        lock->acquisitions++;
        return;
    }
    nth_rank_check(NTH_RANK_HEAP);
    if (__builtin_expect(!nth_lock_take_free(lock), 0)) nth_lock_wait_acquire(lock);
    nth_rank_acquired(NTH_RANK_HEAP);
    atomic_store_explicit(&lock->owner, me, memory_order_relaxed);
    lock->depth = 1;
    lock->acquisitions++;
}

/* Acquires the lock only if that needs no waiting (exempt from the rank order). */
static inline bool nth_lock_try_acquire(nth_lock *lock)
{
    uintptr_t me = nth_thread_id();
    if (atomic_load_explicit(&lock->owner, memory_order_relaxed) == me) {
        lock->depth++;
        lock->acquisitions++;
        return true;
    }
    if (!nth_lock_take_free(lock)) return false;
    nth_rank_acquired(NTH_RANK_HEAP);
    atomic_store_explicit(&lock->owner, me, memory_order_relaxed);
    lock->depth = 1;
    lock->acquisitions++;
    return true;
}

static inline void nth_lock_release(nth_lock *lock)
{
    if (--lock->depth == 0) {
        atomic_store_explicit(&lock->owner, 0, memory_order_relaxed);
        nth_rank_released(NTH_RANK_HEAP);
        if (__builtin_expect(atomic_exchange_explicit(&lock->state, NTH_LOCK_FREE, memory_order_release) ==
                                 NTH_LOCK_CONTENDED,
                             0))
            nth_lock_wake_waiter(lock);
    }
}

#endif
