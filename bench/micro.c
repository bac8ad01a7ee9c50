/*
 * micro.c — malloc micro-benchmarks, run once per allocator by bench/run.sh (LD_PRELOAD).
 *
 * The program only calls the standard malloc family, so it measures whichever malloc is in
 * force. Each test prints one line "micro <key> <median ns> <description>"; run.sh gathers
 * the lines of every allocator into one table. Tests:
 *   pair_N          malloc(N) then free, N fixed (16 ... 16384), ns per pair
 *   pair_random     the same with sizes uniform in 16-256 B
 *   live_10000      10 000 mallocs of 16-256 B, then 10 000 frees in allocation order, per pair
 *   realloc_double  realloc chain 16 B -> 1 MiB doubling the size, ns per realloc
 *   realloc_append  realloc chain growing by 16 B up to 8 KiB (a string being appended to)
 *   threads2_random pair_random in 2 threads at once, wall ns per pair per thread
 *   cross_thread    one thread mallocs 16-256 B blocks, the other frees them (ring of 1024),
 *                   wall ns per block
 * Every block is written to and passed to bench_sink(), so no pair can be optimised away.
 */
#include "bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define SIZE_TABLE 4096 /* a power of two */
static size_t random_sizes[SIZE_TABLE];

/* ------------------------------------------------------------------------------- pairs */

static size_t run_pair_fixed(void *arg, size_t ops)
{
    size_t size = *(const size_t *)arg;
    for (size_t op = 0; op < ops; op++) {
        char *p = malloc(size);
        p[0] = (char)op;
        bench_sink(p);
        free(p);
    }
    return ops;
}

static size_t run_pair_random(void *arg, size_t ops)
{
    (void)arg;
    for (size_t op = 0; op < ops; op++) {
        char *p = malloc(random_sizes[op & (SIZE_TABLE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        free(p);
    }
    return ops;
}

#define LIVE 10000
static size_t run_live(void *arg, size_t ops)
{
    static char *live[LIVE];
    (void)arg;
    size_t rounds = ops / LIVE ? ops / LIVE : 1;
    for (size_t r = 0; r < rounds; r++) {
        for (size_t i = 0; i < LIVE; i++) {
            live[i] = malloc(random_sizes[(i + r) & (SIZE_TABLE - 1)]);
            live[i][0] = (char)i;
            bench_sink(live[i]);
        }
        for (size_t i = 0; i < LIVE; i++) free(live[i]);
    }
    return rounds * LIVE;
}

/* A realloc chain: 16 B, then grown step by step up to `limit`, touching the last byte. */
typedef struct realloc_chain {
    size_t limit;
    bool doubling; /* double each step, else add 16 bytes */
} realloc_chain;

static size_t run_realloc_chain(void *arg, size_t ops)
{
    const realloc_chain *chain = arg;
    size_t calls = 0;
    while (calls < ops) {
        char *p = malloc(16);
        p[0] = 1;
        for (size_t size = 32; size <= chain->limit; size = chain->doubling ? size * 2 : size + 16) {
            p = realloc(p, size);
            p[size - 1] = (char)size;
            bench_sink(p);
            calls++;
        }
        free(p);
    }
    return calls;
}

/* --------------------------------------------------------------------------- two threads */

typedef struct thread_job {
    size_t ops;
} thread_job;

static void *pair_random_thread(void *arg)
{
    thread_job *job = arg;
    run_pair_random(NULL, job->ops);
    return NULL;
}

static size_t run_threads2(void *arg, size_t ops)
{
    (void)arg;
    pthread_t threads[2];
    thread_job job = {ops};
    for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, pair_random_thread, &job);
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    return ops;
}

/* A single-producer single-consumer ring of block pointers. */
#define RING 1024
static struct {
    _Alignas(64) _Atomic size_t head; /* next slot the producer writes */
    _Alignas(64) _Atomic size_t tail; /* next slot the consumer reads */
    _Alignas(64) char *slot[RING];
} ring;

static void *consumer_thread(void *arg)
{
    size_t total = *(const size_t *)arg;
    size_t tail = atomic_load_explicit(&ring.tail, memory_order_relaxed);
    for (size_t n = 0; n < total; n++, tail++) {
        while (atomic_load_explicit(&ring.head, memory_order_acquire) == tail) sched_yield();
        char *p = ring.slot[tail & (RING - 1)];
        atomic_store_explicit(&ring.tail, tail + 1, memory_order_release);
        free(p);
    }
    return NULL;
}

static size_t run_cross_thread(void *arg, size_t ops)
{
    (void)arg;
    pthread_t consumer;
    pthread_create(&consumer, NULL, consumer_thread, &ops);
    size_t head = atomic_load_explicit(&ring.head, memory_order_relaxed);
    for (size_t n = 0; n < ops; n++, head++) {
        char *p = malloc(random_sizes[n & (SIZE_TABLE - 1)]);
        p[0] = (char)n;
        while (head - atomic_load_explicit(&ring.tail, memory_order_acquire) >= RING) sched_yield();
        ring.slot[head & (RING - 1)] = p;
        atomic_store_explicit(&ring.head, head + 1, memory_order_release);
    }
    pthread_join(consumer, NULL);
    return ops;
}

/* ----------------------------------------------------------------------------------- main */

static void report(const char *key, double ns, const char *description)
{
    printf("micro %s %.2f %s\n", key, ns, description);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    /* An optional argument names the one test to run (for profiling). */
    const char *only = argc > 1 ? argv[1] : NULL;
    bench_rng rng = {12345};
    for (size_t i = 0; i < SIZE_TABLE; i++) random_sizes[i] = bench_rand_range(&rng, 16, 256);
    int reps = bench_repetitions();
    size_t pairs = bench_scale(4000000);

    static const size_t fixed[] = {16, 32, 64, 128, 256, 1024, 4096, 16384};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        char key[32], description[64];
        snprintf(key, sizeof key, "pair_%zu", fixed[i]);
        if (only && strcmp(only, key) != 0) continue;
        snprintf(description, sizeof description, "malloc/free pair, %zu B", fixed[i]);
        size_t size = fixed[i];
        report(key, bench_measure(run_pair_fixed, &size, pairs, reps), description);
    }
    if (!only || strcmp(only, "pair_random") == 0)
        report("pair_random", bench_measure(run_pair_random, NULL, pairs, reps),
               "malloc/free pair, random 16-256 B");
    if (!only || strcmp(only, "live_10000") == 0)
        report("live_10000", bench_measure(run_live, NULL, pairs / 2, reps),
               "10 000 mallocs then 10 000 frees, per pair");
    if (!only || strcmp(only, "realloc_double") == 0)
        report("realloc_double",
               bench_measure(run_realloc_chain, &(realloc_chain){(size_t)1 << 20, true}, bench_scale(200000), reps),
               "realloc chain 16 B to 1 MiB doubling, per call");
    if (!only || strcmp(only, "realloc_append") == 0)
        report("realloc_append", bench_measure(run_realloc_chain, &(realloc_chain){8192, false}, pairs / 2, reps),
               "realloc chain +16 B to 8 KiB, per call");
    if (!only || strcmp(only, "threads2_random") == 0)
        report("threads2_random", bench_measure(run_threads2, NULL, pairs / 2, reps),
               "2 threads, pair 16-256 B, per pair per thread");
    if (!only || strcmp(only, "cross_thread") == 0)
        report("cross_thread", bench_measure(run_cross_thread, NULL, bench_scale(400000), reps),
               "one thread mallocs, the other frees, per block");
    return 0;
}
