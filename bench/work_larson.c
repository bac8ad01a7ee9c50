/*
 * work_larson.c — a larson-style test (after Larson and Krishnan's server simulation), for
 * bench/workloads.sh.
 *
 * THREADS threads each own an array of SLOTS blocks (16 B-1 KiB). A thread replaces random
 * slots (free, then malloc a new random size) OPS times, then exits and hands its array to a
 * new thread, which goes on with it: every generation frees blocks that another, now finished,
 * thread allocated, and threads are created and exit all the time. GENERATIONS generations.
 *
 * Prints a checksum of the work done. BENCH_QUICK=1 does an eighth of the operations.
 */
#include "bench.h"

#include <pthread.h>

#define THREADS 4
#define SLOTS 10000
#define OPS 300000
#define GENERATIONS 12

typedef struct lane {
    char **slots;
    bench_rng rng;
    size_t ops;
    uint64_t checksum;
} lane;

static void *run_lane(void *arg)
{
    lane *self = arg;
    for (size_t op = 0; op < self->ops; op++) {
        size_t i = bench_rand(&self->rng) % SLOTS;
        self->checksum += (unsigned char)self->slots[i][0];
        free(self->slots[i]);
        size_t size = bench_rand_range(&self->rng, 16, 1024);
        self->slots[i] = malloc(size);
        self->slots[i][0] = (char)size;
        self->slots[i][size - 1] = 1;
    }
    return NULL;
}

int main(void)
{
    lane lanes[THREADS];
    for (int t = 0; t < THREADS; t++) {
        lanes[t].rng.state = 0xABCDEFull * (uint64_t)(t + 1);
        lanes[t].ops = bench_scale(OPS);
        lanes[t].checksum = 0;
        lanes[t].slots = malloc(SLOTS * sizeof(char *));
        for (size_t i = 0; i < SLOTS; i++) {
            size_t size = bench_rand_range(&lanes[t].rng, 16, 1024);
            lanes[t].slots[i] = malloc(size);
            lanes[t].slots[i][0] = (char)size;
        }
    }
    for (int g = 0; g < GENERATIONS; g++) {
        pthread_t threads[THREADS];
        for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, run_lane, &lanes[t]);
        for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    }
    uint64_t checksum = 0;
    for (int t = 0; t < THREADS; t++) {
        for (size_t i = 0; i < SLOTS; i++) free(lanes[t].slots[i]);
        free(lanes[t].slots);
        checksum += lanes[t].checksum;
    }
    printf("work_larson checksum %llu\n", (unsigned long long)checksum);
    return 0;
}
