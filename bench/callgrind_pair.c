/*
 * callgrind_pair.c — the loop whose instructions bench/callgrind_pair.sh counts: N pairs of an
 * allocation of 16 + (i*7 & 15)*16 bytes (16 ... 256) and its free.
 *
 *   callgrind_pair malloc N   malloc + free through the PLT (whichever malloc is in force:
 *                             glibc's, or one given with LD_PRELOAD)
 *   callgrind_pair heap N     nth_heap_alloc + nth_heap_free on a private heap created with
 *                             nth_heap_create(0, 0, 0)
 *
 * Before the loop, every size is allocated 64 times and freed (so that the LFH of a fresh heap
 * is active for every bucket the loop touches); the script runs the program for N and 2N and
 * divides the difference by N, which cancels start-up, warm-up and exit.
 */
#include "bench.h"
#include "ntheap.h"

#define WARM 64

static size_t size_of(size_t i)
{
    return 16 + ((i * 7) & 15) * 16;
}

static void run_malloc(size_t n)
{
    static void *warm[16 * WARM];
    for (size_t i = 0; i < 16 * WARM; i++) warm[i] = malloc(size_of(i));
    for (size_t i = 0; i < 16 * WARM; i++) free(warm[i]);
    for (size_t i = 0; i < n; i++) {
        char *p = malloc(size_of(i));
        bench_sink(p);
        free(p);
    }
}

static void run_heap(size_t n)
{
    static void *warm[16 * WARM];
    nth_heap *heap = nth_heap_create(0, 0, 0);
    if (!heap) exit(1);
    for (size_t i = 0; i < 16 * WARM; i++) warm[i] = nth_heap_alloc(heap, 0, size_of(i));
    for (size_t i = 0; i < 16 * WARM; i++) nth_heap_free(heap, 0, warm[i]);
    for (size_t i = 0; i < n; i++) {
        char *p = nth_heap_alloc(heap, 0, size_of(i));
        bench_sink(p);
        nth_heap_free(heap, 0, p);
    }
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s malloc|heap N\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)strtoull(argv[2], NULL, 10);
    if (strcmp(argv[1], "malloc") == 0)
        run_malloc(n);
    else if (strcmp(argv[1], "heap") == 0)
        run_heap(n);
    else
        return 2;
    return 0;
}
