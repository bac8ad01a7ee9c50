/*
 * pair_threads_cpu.c — CPU time of a malloc/free pair in 1 or 2 threads at once, for judging
 * thread scaling on a machine whose wall clock is not to be trusted (other work running).
 *
 *   pair_threads_cpu THREADS        THREADS = 1 or 2; run under each allocator's LD_PRELOAD
 *
 * Each thread runs PAIRS pairs of malloc(16 ... 256 B, from its own generator) + free and reads
 * its own CPU clock (CLOCK_THREAD_CPUTIME_ID); the program prints CPU ns per pair per thread.
 * Equal figures for 1 and 2 threads mean the threads cost each other nothing: with a CPU each,
 * two threads do twice the pairs of one.
 */
#include "bench.h"

#include <pthread.h>

#define PAIRS 4000000
#define MAX_THREADS 2

static double cpu_ns_per_pair[MAX_THREADS];

static void *run(void *arg)
{
    size_t id = (size_t)arg;
    uint32_t x = 12345u + (uint32_t)id;
    struct timespec start, end;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    for (size_t i = 0; i < PAIRS; i++) {
        x = x * 1103515245u + 12345u;
        char *p = malloc(16 + (x >> 16) % 241);
        p[0] = (char)i;
        bench_sink(p);
        free(p);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    cpu_ns_per_pair[id] = ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / PAIRS;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "usage: %s 1|2\n", argv[0]);
        return 2;
    }
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, (void *)(size_t)i);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    printf("%d thread(s): CPU ns per pair per thread:", threads);
    for (int i = 0; i < threads; i++) printf(" %.1f", cpu_ns_per_pair[i]);
    printf("\n");
    return 0;
}
