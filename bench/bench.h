/*
 * bench.h — timing helpers shared by the benchmark programs in bench/.
 *
 * A measurement is a function run `repetitions` times after one warm-up run that is thrown
 * away; the result is the median of the repetitions, in nanoseconds per operation, read from
 * CLOCK_MONOTONIC. BENCH_QUICK=1 in the environment asks for a short run: programs scale their
 * operation counts by bench_scale() and take fewer repetitions.
 *
 * bench_sink() hands a pointer to an empty asm statement with a memory clobber, so the compiler
 * can neither drop a malloc/free pair nor the stores into the block: every benchmark loop calls
 * it on each block it allocates.
 *
 * Everything here is static inline: each program includes this header once and owns its copy.
 */
#ifndef NTH_BENCH_H
#define NTH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_REPETITIONS 15

static inline uint64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* Keeps `ptr` (and whatever was stored through it) alive in the compiler's eyes. */
static inline void bench_sink(void *ptr)
{
    __asm__ volatile("" : : "r"(ptr) : "memory");
}

static inline bool bench_quick(void)
{
    const char *quick = getenv("BENCH_QUICK");
    return quick && quick[0] && strcmp(quick, "0") != 0;
}

/* Divides operation counts in quick mode. */
static inline size_t bench_scale(size_t full)
{
    size_t scaled = bench_quick() ? full / 8 : full;
    return scaled ? scaled : 1;
}

static inline int bench_repetitions(void)
{
    return bench_quick() ? 3 : 7;
}

static inline int bench_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bench_median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof *values, bench_compare_double);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

/* Runs fn(arg, ops) once to warm up, then `repetitions` times; returns the median ns per op.
 * fn performs `ops` operations and returns how many it really performed (0 means `ops`). */
typedef size_t (*bench_fn)(void *arg, size_t ops);

static inline double bench_measure(bench_fn fn, void *arg, size_t ops, int repetitions)
{
    double samples[BENCH_MAX_REPETITIONS];
    if (repetitions > BENCH_MAX_REPETITIONS) repetitions = BENCH_MAX_REPETITIONS;
    if (repetitions < 1) repetitions = 1;
    (void)fn(arg, ops);
    for (int r = 0; r < repetitions; r++) {
        uint64_t start = bench_now_ns();
        size_t done = fn(arg, ops);
        uint64_t elapsed = bench_now_ns() - start;
        samples[r] = (double)elapsed / (double)(done ? done : ops);
    }
    return bench_median(samples, repetitions);
}

/* Deterministic pseudo-random numbers (xorshift64*), the same sequence under every allocator. */
typedef struct bench_rng {
    uint64_t state;
} bench_rng;

static inline uint64_t bench_rand(bench_rng *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]. */
static inline size_t bench_rand_range(bench_rng *rng, size_t lo, size_t hi)
{
    return lo + (size_t)(bench_rand(rng) % (hi - lo + 1));
}

/* Log-uniform in [lo, hi]: every power of two is as likely, as in most programs' size mixes. */
static inline size_t bench_rand_log(bench_rng *rng, size_t lo, size_t hi)
{
    unsigned lo_bits = 63u - (unsigned)__builtin_clzll(lo), hi_bits = 63u - (unsigned)__builtin_clzll(hi);
    unsigned bits = lo_bits + (unsigned)(bench_rand(rng) % (hi_bits - lo_bits + 1));
    size_t base = (size_t)1 << bits;
    size_t size = base + (size_t)(bench_rand(rng) % base);
    return size < lo ? lo : size > hi ? hi : size;
}

/* The commit, compiler and date that a results line should carry. */
static inline void bench_print_header(const char *program)
{
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime(&now));
    printf("# %s  %s  %s%s\n", program, date,
#if defined(__clang__)
           "clang " __clang_version__,
#else
           "gcc " __VERSION__,
#endif
           bench_quick() ? "  (BENCH_QUICK)" : "");
}

#endif
