/*
 * threads.h — misuse scenarios with threads, shared by the three surfaces.
 *
 *   mis_race_double_free   the owner thread and another thread free the same blocks at the same
 *                          moment: 16 blocks a round, both threads pinned to different CPUs, the
 *                          pace of each side changing from round to round so that the two frees
 *                          meet at every offset; for each block exactly one free is accepted and
 *                          the other refused and reported, and no block is handed out twice
 *   mis_exit_while_locked  a thread that used the heap exits while the joining thread (0) or a
 *                          third thread (1) holds the heap lock: no hang, the heap works after
 */
#ifndef NTH_TEST_MISUSE_THREADS_H
#define NTH_TEST_MISUSE_THREADS_H

#include "misuse/scenarios.h"

#include <sched.h>

/* ------------------------------------------------------------------------------ threads */

/* A short busy wait: the two racing frees start at offsets that sweep across the window. */
static inline void mis_spin(int n)
{
    for (volatile int i = 0; i < n; i++) {}
}

#define MIS_RACE_BATCH 16

typedef struct mis_race {
    const mis_ops *ops;
    void *target[MIS_RACE_BATCH];
    atomic_int round, ready, start, done, quit;
    bool result[MIS_RACE_BATCH];
} mis_race;

/* Puts the calling thread on the `nth` CPU it may run on, so the two racers truly overlap. */
static inline void mis_pin(int nth)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set) && nth-- == 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            return;
        }
}

static inline void *mis_race_thread(void *arg)
{
    mis_race *r = arg;
    mis_pin(1);
    int seen = 0;
    for (;;) {
        while (atomic_load(&r->round) == seen && !atomic_load(&r->quit)) {}
        if (atomic_load(&r->quit)) return NULL;
        seen = atomic_load(&r->round);
        atomic_store(&r->ready, seen);
        while (atomic_load(&r->start) != seen) {}
        mis_spin(seen % 37);
        for (int j = 0; j < MIS_RACE_BATCH; j++) {
            r->result[j] = r->ops->release(r->target[j]);
            mis_spin((seen / 16) % 16 * 3);
        }
        atomic_store(&r->done, seen);
    }
}

/* The owner thread and another thread free the same blocks at the same moment (a batch of 16
 * per round, both in the same order, many rounds): for each block exactly one free is accepted
 * and the other refused and reported; the same block is never handed out twice afterwards. */
static inline void mis_race_double_free(const mis_ops *ops, long kind)
{
    size_t size = kind == MIS_K_LFH ? MIS_SMALL : kind == MIS_K_LFH256 ? 256 : kind == MIS_K_BACK ? MIS_BACK : MIS_BIG;
    int tries = kind == MIS_K_BIG ? 200 : 20000;
    void *blocks[MIS_PRIME];
    if (MIS_TSAN) {
        mis_skip("ThreadSanitizer build: two threads freeing one block is a data race of the test");
        return;
    }
    if ((kind == MIS_K_LFH || kind == MIS_K_LFH256) && !mis_prime(ops, size, blocks)) return;
    static mis_race race;
    memset(&race, 0, sizeof race);
    race.ops = ops;
    pthread_t thread;
    if (pthread_create(&thread, NULL, mis_race_thread, &race) != 0) {
        mis_fail("setup: pthread_create failed");
        return;
    }
    int twice = 0, none = 0, silent = 0, dup = 0, done_tries = 0, null = 0;
    struct timespec t0, t1;
    mis_pin(0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MIS_STAGE("racing two frees of the same blocks");
    for (int i = 1; i <= tries && !null; i++) {
        atomic_store(&mis_report_count, 0);
        for (int j = 0; j < MIS_RACE_BATCH; j++)
            if (!(race.target[j] = ops->alloc(size))) null++;
        if (null) break;
        atomic_store(&race.round, i);
        while (atomic_load(&race.ready) != i) {}
        atomic_store(&race.start, i);
        mis_spin((i / 37) % 29);
        bool mine[MIS_RACE_BATCH];
        for (int j = 0; j < MIS_RACE_BATCH; j++) {
            mine[j] = ops->release(race.target[j]);
            mis_spin(i % 16 * 3); /* the two paces differ from round to round */
        }
        while (atomic_load(&race.done) != i) {}
        int reports = mis_mark(), refused = MIS_RACE_BATCH;
        if (ops->release_observable) {
            refused = 0;
            for (int j = 0; j < MIS_RACE_BATCH; j++) {
                int accepted = (int)mine[j] + (int)race.result[j];
                if (accepted == 2) twice++;
                if (accepted == 0) none++;
                refused += 2 - accepted;
            }
        }
        if (reports < refused) silent += refused - reports;
        void *fresh[2 * MIS_RACE_BATCH];
        for (int j = 0; j < 2 * MIS_RACE_BATCH; j++) {
            fresh[j] = ops->alloc(size);
            if (!fresh[j]) null++;
            for (int k = 0; k < j && fresh[j]; k++)
                if (fresh[k] == fresh[j]) {
                    dup++;
                    fresh[j] = NULL;
                    break;
                }
        }
        for (int j = 0; j < 2 * MIS_RACE_BATCH; j++)
            if (fresh[j]) ops->release(fresh[j]);
        done_tries = i * MIS_RACE_BATCH;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 10) break;
    }
    atomic_store(&race.quit, 1);
    pthread_join(thread, NULL);
    atomic_store(&mis_report_count, 0);
    if (twice) mis_fail("both frees accepted in %d of %d tries", twice, done_tries);
    if (none) mis_fail("both frees refused in %d of %d tries", none, done_tries);
    if (silent) mis_fail("a refused (or doubled) free went unreported in %d of %d tries", silent, done_tries);
    if (dup) mis_fail("the same block handed out twice after the race in %d of %d tries", dup, done_tries);
    if (null) mis_fail("allocation failed during the race (%d)", null);
    mis_aftermath(ops, "after racing double frees");
}

typedef struct mis_exiter {
    const mis_ops *ops;
    atomic_int ready, may_exit, held, release;
} mis_exiter;

static inline void *mis_exiting_thread(void *arg)
{
    mis_exiter *e = arg;
    void *mine[MIS_PRIME];
    for (int i = 0; i < MIS_PRIME; i++) mine[i] = e->ops->alloc(MIS_SMALL);
    for (int i = 0; i < MIS_PRIME - 10; i++) e->ops->release(mine[i]);
    void *back = e->ops->alloc(MIS_BACK);
    e->ops->release(back);
    atomic_store(&e->ready, 1);
    while (!atomic_load(&e->may_exit)) {}
    return NULL;
}

static inline void *mis_holding_thread(void *arg)
{
    mis_exiter *e = arg;
    e->ops->lock();
    atomic_store(&e->held, 1);
    while (!atomic_load(&e->release)) {}
    e->ops->unlock();
    return NULL;
}

/* A thread that used the heap exits while another thread holds the heap lock.
 *   0  the lock holder joins it            (must not hang)
 *   1  a third thread holds the lock        (the exiting thread must finish within 3 s) */
static inline void mis_exit_while_locked(const mis_ops *ops, long variant)
{
    static mis_exiter e;
    memset(&e, 0, sizeof e);
    e.ops = ops;
    pthread_t t, holder;
    MIS_STAGE("starting a thread that allocates");
    if (pthread_create(&t, NULL, mis_exiting_thread, &e) != 0) {
        mis_fail("setup: pthread_create failed");
        return;
    }
    while (!atomic_load(&e.ready)) {}
    if (variant == 0) {
        MIS_STAGE("locking the heap");
        if (!ops->lock()) mis_fail("lock failed");
        atomic_store(&e.may_exit, 1);
        MIS_STAGE("joining a thread that exits while this thread holds the heap lock");
        pthread_join(t, NULL);
        MIS_STAGE("unlocking");
        ops->unlock();
    } else {
        pthread_create(&holder, NULL, mis_holding_thread, &e);
        while (!atomic_load(&e.held)) {}
        atomic_store(&e.may_exit, 1);
        MIS_STAGE("waiting for a thread that exits while another thread holds the heap lock");
        struct timespec limit;
        clock_gettime(CLOCK_REALTIME, &limit);
        limit.tv_sec += 3;
        int rc = pthread_timedjoin_np(t, NULL, &limit);
        if (rc == ETIMEDOUT)
            mis_fail("a thread exiting while another thread holds the heap lock did not finish in 3 s");
        atomic_store(&e.release, 1);
        MIS_STAGE("joining the lock holder");
        pthread_join(holder, NULL);
        if (rc == ETIMEDOUT) {
            MIS_STAGE("joining the exiting thread after the unlock");
            pthread_join(t, NULL);
        }
    }
    mis_aftermath(ops, "after a thread exited while the heap was locked");
}

#endif
