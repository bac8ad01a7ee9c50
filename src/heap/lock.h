/*
 * lock.h — the heap lock: a mutex that the owning thread may take again (nth_heap_lock followed
 * by nth_heap_alloc on the same thread works, as with a Windows critical section).
 *
 * Lock order (acquire left to right, never the reverse):
 *   registry lock (heap.c)  <  heap lock  <  cache lock (lfh.c)  <  address-map lock (addrmap.c)
 * (Thread exit holds the cache lock and only *tries* a heap lock, backing off when it is busy.)
 * Functions named *_locked expect the heap lock to be held by the caller (or the heap to be
 * NO_SERIALIZE).
 */
#ifndef NTH_LOCK_H
#define NTH_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct nth_lock {
    pthread_mutex_t mutex;
    _Atomic uintptr_t owner; /* nth_thread_id() of the holder, 0 when free */
    uint32_t depth;          /* acquisitions by the owner */
    uint32_t user_depth;     /* of which by nth_heap_lock */
    uint64_t acquisitions;   /* every acquisition, counted by its owner: while a thread holds the
                              * lock, an unchanged count proves nobody else changed the heap */
} nth_lock;

/* A unique, non-zero id for the calling thread: the address of one thread-local byte
 * (defined once, in heap.c). */
extern _Thread_local char nth_thread_anchor __attribute__((tls_model("initial-exec")));
static inline uintptr_t nth_thread_id(void)
{
    return (uintptr_t)&nth_thread_anchor;
}

static inline void nth_lock_init(nth_lock *lock)
{
    pthread_mutex_init(&lock->mutex, NULL);
    atomic_init(&lock->owner, 0);
    lock->depth = 0;
    lock->user_depth = 0;
    lock->acquisitions = 0;
}

static inline bool nth_lock_held_by_me(nth_lock *lock)
{
    return atomic_load_explicit(&lock->owner, memory_order_relaxed) == nth_thread_id();
}

static inline void nth_lock_acquire(nth_lock *lock)
{
    uintptr_t me = nth_thread_id();
    if (atomic_load_explicit(&lock->owner, memory_order_relaxed) == me) {
        lock->depth++;
        lock->acquisitions++;
        return;
    }
    pthread_mutex_lock(&lock->mutex);
    atomic_store_explicit(&lock->owner, me, memory_order_relaxed);
    lock->depth = 1;
    lock->acquisitions++;
}

/* Acquires the lock only if that needs no waiting. */
static inline bool nth_lock_try_acquire(nth_lock *lock)
{
    uintptr_t me = nth_thread_id();
    if (atomic_load_explicit(&lock->owner, memory_order_relaxed) == me) {
        lock->depth++;
        lock->acquisitions++;
        return true;
    }
    if (pthread_mutex_trylock(&lock->mutex) != 0) return false;
    atomic_store_explicit(&lock->owner, me, memory_order_relaxed);
    lock->depth = 1;
    lock->acquisitions++;
    return true;
}

static inline void nth_lock_release(nth_lock *lock)
{
    if (--lock->depth == 0) {
        atomic_store_explicit(&lock->owner, 0, memory_order_relaxed);
        pthread_mutex_unlock(&lock->mutex);
    }
}

#endif
