/*
 * engine_random.c — the engine on its own: alloc/free pairs on a private heap against glibc's
 * malloc/free, in the same binary and the same run.
 *
 * A window of WINDOW live blocks is kept; each operation picks a random slot, frees its block
 * and allocates a new one of a random size, then writes its first byte. The slot and size
 * sequences are generated before timing and are identical for every column. Columns:
 * glibc malloc/free (run this program without LD_PRELOAD), nth_heap_alloc/nth_heap_free on a
 * heap from nth_heap_create(0, 0, 0), and the same on a NTH_NO_SERIALIZE heap (no lock).
 * Output: ns per pair (median), pairs per second, and the ratio ntheap / glibc.
 */
#include "bench.h"
#include "ntheap.h"

#define WINDOW 1000
#define SEQUENCE 65536 /* precomputed operations, a power of two */

enum column { COL_GLIBC, COL_NTH, COL_NTH_NOSER, COLUMNS };

typedef struct run_ctx {
    enum column column;
    nth_heap *heap;
    uint32_t flags;
    const size_t *sizes;
    const uint16_t *slots;
    void *window[WINDOW];
} run_ctx;

static size_t run_glibc(void *arg, size_t ops)
{
    run_ctx *ctx = arg;
    for (size_t op = 0; op < ops; op++) {
        size_t i = ctx->slots[op & (SEQUENCE - 1)];
        free(ctx->window[i]);
        char *p = malloc(ctx->sizes[op & (SEQUENCE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        ctx->window[i] = p;
    }
    return ops;
}

static size_t run_nth(void *arg, size_t ops)
{
    run_ctx *ctx = arg;
    nth_heap *heap = ctx->heap;
    uint32_t flags = ctx->flags;
    for (size_t op = 0; op < ops; op++) {
        size_t i = ctx->slots[op & (SEQUENCE - 1)];
        nth_heap_free(heap, flags, ctx->window[i]);
        char *p = nth_heap_alloc(heap, flags, ctx->sizes[op & (SEQUENCE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        ctx->window[i] = p;
    }
    return ops;
}

static double measure(enum column column, const size_t *sizes, const uint16_t *slots, size_t ops)
{
    static run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.column = column;
    ctx.sizes = sizes;
    ctx.slots = slots;
    if (column != COL_GLIBC) {
        ctx.flags = column == COL_NTH_NOSER ? NTH_NO_SERIALIZE : 0;
        ctx.heap = nth_heap_create(ctx.flags, 0, 0);
        if (!ctx.heap) {
            fprintf(stderr, "engine_random: nth_heap_create failed: %s\n",
                    nth_error_name(nth_last_error()));
            exit(1);
        }
    }
    double ns = bench_measure(column == COL_GLIBC ? run_glibc : run_nth, &ctx, ops,
                              bench_repetitions());
    if (column == COL_GLIBC) {
        for (int i = 0; i < WINDOW; i++) free(ctx.window[i]);
    } else {
        nth_heap_destroy(ctx.heap);
    }
    return ns;
}

int main(void)
{
    static size_t sizes[SEQUENCE];
    static uint16_t slots[SEQUENCE];
    static const struct {
        const char *name;
        size_t lo, hi;
        bool log;
    } rows[] = {
        {"uniform 16 B-64 KiB", 16, 65536, false},
        {"log-uniform 16 B-64 KiB", 16, 65536, true},
        {"uniform 16 B-1 KiB", 16, 1024, false},
    };
    size_t ops = bench_scale(2000000);

    bench_print_header("engine_random");
    printf("alloc/free pairs, %d live blocks, median of %d runs of %zu pairs\n", WINDOW,
           bench_repetitions(), ops);
    printf("%-26s %9s %9s %13s %11s %11s %13s\n", "sizes", "glibc ns", "ntheap ns",
           "noser ns", "glibc M/s", "ntheap M/s", "ntheap/glibc");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        bench_rng rng = {0x9E3779B97F4A7C15ull + r};
        for (size_t i = 0; i < SEQUENCE; i++) {
            sizes[i] = rows[r].log ? bench_rand_log(&rng, rows[r].lo, rows[r].hi)
                                   : bench_rand_range(&rng, rows[r].lo, rows[r].hi);
            slots[i] = (uint16_t)(bench_rand(&rng) % WINDOW);
        }
        double ns[COLUMNS];
        for (int c = 0; c < COLUMNS; c++) ns[c] = measure((enum column)c, sizes, slots, ops);
        printf("%-26s %9.1f %9.1f %13.1f %11.1f %11.1f %13.2f\n", rows[r].name, ns[COL_GLIBC],
               ns[COL_NTH], ns[COL_NTH_NOSER], 1e3 / ns[COL_GLIBC], 1e3 / ns[COL_NTH],
               ns[COL_NTH] / ns[COL_GLIBC]);
        fflush(stdout);
    }
    return 0;
}
