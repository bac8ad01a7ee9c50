/*
 * callgrind_pair.c — the loop whose instructions bench/callgrind_pair.sh counts: N pairs of an
 * allocation of 16 + (i*7 & 15)*16 bytes (16 ... 256) and its free.
 *
 *   callgrind_pair malloc N   malloc + free through the PLT (whichever malloc is in force:
 *                             glibc's, or one given with LD_PRELOAD)
 *   callgrind_pair heap N     nth_heap_alloc + nth_heap_free on a private heap created with
 *                             nth_heap_create(0, 0, 0)
 *   callgrind_pair window-malloc N, window-heap N
 *                             the same calls on a window of WINDOW live blocks: each pair frees
 *                             a random slot's block and puts a new one of a random size from
 *                             16 B to 64 KiB there (engine_random's first row). Most of these
 *                             sizes are above the LFH's: this counts the back-end
 *   callgrind_pair window-noser N
 *                             the window on a heap created with NTH_NO_SERIALIZE, which has
 *                             no LFH (as on Windows): every size is the back-end's
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

#define WINDOW 1000

/* The window loop's pseudo-random numbers (a fixed sequence, the same for every allocator). */
static uint32_t window_next(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

static void run_window(nth_heap *heap, size_t n)
{
    static void *window[WINDOW];
    uint32_t state = 12345;
    for (size_t i = 0; i < n; i++) {
        uint32_t slot = window_next(&state) % WINDOW;
        size_t size = 16 + window_next(&state) % (65536 - 15);
        if (heap) {
            nth_heap_free(heap, 0, window[slot]); /* NULL the first time: no-op */
            window[slot] = nth_heap_alloc(heap, 0, size);
        } else {
            free(window[slot]);
            window[slot] = malloc(size);
        }
        if (!window[slot]) exit(1);
        bench_sink(window[slot]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s malloc|heap|window-malloc|window-heap|window-noser N\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)strtoull(argv[2], NULL, 10);
    if (strcmp(argv[1], "malloc") == 0)
        run_malloc(n);
    else if (strcmp(argv[1], "heap") == 0)
        run_heap(n);
    else if (strcmp(argv[1], "window-malloc") == 0)
        run_window(NULL, n);
    else if (strcmp(argv[1], "window-heap") == 0 || strcmp(argv[1], "window-noser") == 0) {
        nth_heap *heap = nth_heap_create(strcmp(argv[1], "window-noser") == 0 ? NTH_NO_SERIALIZE : 0, 0, 0);
        if (!heap) return 1;
        run_window(heap, n);
        nth_heap_destroy(heap);
    } else
        return 2;
    return 0;
}
