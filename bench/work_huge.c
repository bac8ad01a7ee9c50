/*
 * work_huge.c — very large blocks, for bench/workloads.sh.
 *
 * A window of WINDOW live blocks of 5-25 MiB (uniform); each step replaces a random one with a
 * new block that is zero-filled in full, as a C++ program's std::make_unique<char[]>(n) does,
 * and reads back one byte per page. Blocks this size are past every allocator's small-object
 * classes: what is measured is what happens to the pages of a freed block. An allocator that
 * returns them to the kernel on every free pays a page fault per 4 KiB on every reuse.
 *
 * Prints a checksum of the work done. BENCH_QUICK=1 does an eighth of the steps.
 */
#include "bench.h"

#include <string.h>

/* Called through a volatile pointer: the compiler must not turn malloc + memset(0) into calloc,
 * which an allocator may serve with untouched zero pages (the program then never writes them). */
static void *(*volatile fill)(void *, int, size_t) = memset;

#define WINDOW 20
#define STEPS 2000
#define PAGE 4096
#define MIB ((size_t)1 << 20)

int main(void)
{
    bench_rng rng = {4242};
    char *block[WINDOW] = {0};
    uint64_t checksum = 0;
    size_t steps = bench_scale(STEPS);
    for (size_t step = 0; step < steps; step++) {
        size_t i = bench_rand(&rng) % WINDOW;
        free(block[i]);
        size_t size = bench_rand_range(&rng, 5 * MIB, 25 * MIB);
        block[i] = malloc(size);
        if (!block[i]) return 1;
        fill(block[i], 0, size);
        block[i][size - 1] = (char)step;
        for (size_t at = 0; at < size; at += 64 * PAGE) checksum += (unsigned char)block[i][at];
        checksum += (unsigned char)block[i][size - 1];
    }
    for (size_t i = 0; i < WINDOW; i++) free(block[i]);
    printf("work_huge checksum %llu\n", (unsigned long long)checksum);
    return 0;
}
