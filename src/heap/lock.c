/*
 * lock.c — the heap lock's slow halves: waiting for a lock another thread holds, and waking a
 * waiter. The fast halves (one compare-and-swap to take, one exchange to give back) are inline
 * in lock.h.
 *
 *   state   FREE ──take──► HELD ──another thread waits──► CONTENDED
 *             ▲                 │ release                    │ release: wake one waiter
 *             └─────────────────┴────────────────────────────┘
 *
 * A waiter first spins a little (the holder is usually a few hundred instructions from the
 * end of its operation), then marks the lock CONTENDED and sleeps on the word. Marking it
 * contended is what makes the holder's release wake someone; a woken thread takes the lock as
 * CONTENDED again, since it cannot know whether others still sleep (at worst one wake-up too
 * many). Acquire and release orders make each holder's writes visible to the next.
 */
#include "heap/lock.h"
#include "heap/vm.h"

/* Looks at the word this many times before sleeping. */
#define SPINS 64

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void nth_lock_wait_acquire(nth_lock *lock)
{
    for (int spin = 0; spin < SPINS; spin++) {
        cpu_relax();
        if (atomic_load_explicit(&lock->state, memory_order_relaxed) == NTH_LOCK_FREE && nth_lock_take_free(lock))
            return;
    }
    while (atomic_exchange_explicit(&lock->state, NTH_LOCK_CONTENDED, memory_order_acquire) != NTH_LOCK_FREE)
        nth_vm_wait(&lock->state, NTH_LOCK_CONTENDED);
}

void nth_lock_wake_waiter(nth_lock *lock)
{
    nth_vm_wake_one(&lock->state);
}
