/*
 * work_large.c — large blocks, for bench/workloads.sh.
 *
 * A window of WINDOW live blocks of 64 KiB-4 MiB (log-uniform); each step replaces a random
 * one and writes one byte in every 4 KiB page of the new block, as a program filling a buffer
 * would; one step in four grows a live block with realloc by up to half its size and touches
 * the new part. This is where an allocator that hands memory back to the kernel too eagerly
 * pays a page fault per page again and again.
 *
 * Prints a checksum of the work done. BENCH_QUICK=1 does an eighth of the steps.
 */
#include "bench.h"

#define WINDOW 24
#define STEPS 12000
#define PAGE 4096

static uint64_t touch(char *block, size_t from, size_t to)
{
    uint64_t sum = 0;
    for (size_t at = from; at < to; at += PAGE) {
        block[at] = (char)at;
        sum += (unsigned char)block[at];
    }
    return sum;
}

int main(void)
{
    bench_rng rng = {31337};
    char *block[WINDOW] = {0};
    size_t size[WINDOW] = {0};
    uint64_t checksum = 0;
    size_t steps = bench_scale(STEPS);
    for (size_t step = 0; step < steps; step++) {
        size_t i = bench_rand(&rng) % WINDOW;
        if (block[i] && (bench_rand(&rng) & 3) == 0) {
            size_t grown = size[i] + bench_rand_range(&rng, 1, size[i] / 2);
            char *moved = realloc(block[i], grown);
            if (!moved) return 1;
            checksum += touch(moved, size[i], grown);
            block[i] = moved;
            size[i] = grown;
            continue;
        }
        free(block[i]);
        size[i] = bench_rand_log(&rng, 64 * 1024, 4 * 1024 * 1024);
        block[i] = malloc(size[i]);
        if (!block[i]) return 1;
        checksum += touch(block[i], 0, size[i]);
    }
    for (size_t i = 0; i < WINDOW; i++) free(block[i]);
    printf("work_large checksum %llu\n", (unsigned long long)checksum);
    return 0;
}
