/*
 * private_heap.c — the private-heap API: ntheap's nth_heap_* against mimalloc's mi_heap_*.
 *
 * mimalloc is reached with dlopen("libmimalloc.so.2") and dlsym, so this program has no
 * link-time dependency on it; when it is missing its column says "-". The process's own malloc
 * stays glibc's (the library is opened RTLD_LOCAL), and is not used by the timed loops.
 *
 * Measurements (median of the repetitions):
 *   pair      nth_heap_alloc + nth_heap_free of one block, random 16 B-1 KiB, ns per pair;
 *             mimalloc: mi_heap_malloc + mi_free
 *   window    the same with 1000 live blocks, a random one replaced each time
 *   destroy   a heap holding BLOCKS blocks of 16-256 B: time of nth_heap_destroy /
 *             mi_heap_destroy, also per GiB of requested bytes
 *   walk      nth_heap_walk over the same heap (lock held): entries per second;
 *             mimalloc: mi_heap_visit_blocks over every block
 * ntheap runs twice: a default (serialized) heap and a NTH_NO_SERIALIZE one; a mimalloc heap
 * belongs to one thread, like the latter.
 */
#include "bench.h"
#include "ntheap.h"

#include <dlfcn.h>

#define SEQUENCE 65536 /* precomputed sizes and slots, a power of two */
#define WINDOW 1000

/* ------------------------------------------------------------------------- mimalloc, by dlsym */

typedef struct mi_heap_s mi_heap_t;
typedef struct mi_heap_area_s {
    void *blocks;
    size_t reserved;
    size_t committed;
    size_t used;
    size_t block_size;
    size_t full_block_size;
} mi_heap_area_t;
typedef bool(mi_block_visit_fun)(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                                 size_t block_size, void *arg);

static struct {
    bool present;
    mi_heap_t *(*heap_new)(void);
    void *(*heap_malloc)(mi_heap_t *heap, size_t size);
    void (*free)(void *ptr);
    void (*heap_destroy)(mi_heap_t *heap);
    bool (*heap_visit_blocks)(const mi_heap_t *heap, bool visit_all, mi_block_visit_fun *visitor,
                              void *arg);
} mi;

static void load_mimalloc(void)
{
    void *lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;
    *(void **)&mi.heap_new = dlsym(lib, "mi_heap_new");
    *(void **)&mi.heap_malloc = dlsym(lib, "mi_heap_malloc");
    *(void **)&mi.free = dlsym(lib, "mi_free");
    *(void **)&mi.heap_destroy = dlsym(lib, "mi_heap_destroy");
    *(void **)&mi.heap_visit_blocks = dlsym(lib, "mi_heap_visit_blocks");
    mi.present = mi.heap_new && mi.heap_malloc && mi.free && mi.heap_destroy && mi.heap_visit_blocks;
}

/* ---------------------------------------------------------------------------- the columns */

enum column { COL_NTH, COL_NTH_NOSER, COL_MI, COLUMNS };

typedef struct run_ctx {
    enum column column;
    nth_heap *heap;
    uint32_t flags;
    mi_heap_t *mi_heap;
    const size_t *sizes;
    const uint16_t *slots;
    void *window[WINDOW];
} run_ctx;

static bool open_heap(run_ctx *ctx, enum column column)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->column = column;
    if (column == COL_MI) {
        if (!mi.present) return false;
        ctx->mi_heap = mi.heap_new();
        return ctx->mi_heap != NULL;
    }
    ctx->flags = column == COL_NTH_NOSER ? NTH_NO_SERIALIZE : 0;
    ctx->heap = nth_heap_create(ctx->flags, 0, 0);
    if (!ctx->heap) {
        fprintf(stderr, "private_heap: nth_heap_create failed: %s\n",
                nth_error_name(nth_last_error()));
        exit(1);
    }
    return true;
}

static void close_heap(run_ctx *ctx)
{
    if (ctx->column == COL_MI) mi.heap_destroy(ctx->mi_heap);
    else nth_heap_destroy(ctx->heap);
}

static size_t run_pair_nth(void *arg, size_t ops)
{
    run_ctx *ctx = arg;
    for (size_t op = 0; op < ops; op++) {
        char *p = nth_heap_alloc(ctx->heap, ctx->flags, ctx->sizes[op & (SEQUENCE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        nth_heap_free(ctx->heap, ctx->flags, p);
    }
    return ops;
}

static size_t run_pair_mi(void *arg, size_t ops)
{
    run_ctx *ctx = arg;
    for (size_t op = 0; op < ops; op++) {
        char *p = mi.heap_malloc(ctx->mi_heap, ctx->sizes[op & (SEQUENCE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        mi.free(p);
    }
    return ops;
}

static size_t run_window_nth(void *arg, size_t ops)
{
    run_ctx *ctx = arg;
    for (size_t op = 0; op < ops; op++) {
        size_t i = ctx->slots[op & (SEQUENCE - 1)];
        nth_heap_free(ctx->heap, ctx->flags, ctx->window[i]);
        char *p = nth_heap_alloc(ctx->heap, ctx->flags, ctx->sizes[op & (SEQUENCE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        ctx->window[i] = p;
    }
    return ops;
}

static size_t run_window_mi(void *arg, size_t ops)
{
    run_ctx *ctx = arg;
    for (size_t op = 0; op < ops; op++) {
        size_t i = ctx->slots[op & (SEQUENCE - 1)];
        if (ctx->window[i]) mi.free(ctx->window[i]);
        char *p = mi.heap_malloc(ctx->mi_heap, ctx->sizes[op & (SEQUENCE - 1)]);
        p[0] = (char)op;
        bench_sink(p);
        ctx->window[i] = p;
    }
    return ops;
}

/* ------------------------------------------------------------------------ destroy and walk */

typedef struct big_result {
    double destroy_ns;
    double requested_bytes;
    double walk_entries_per_s;
    double walk_entries;
} big_result;

static bool count_mi_block(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                           size_t block_size, void *arg)
{
    (void)heap;
    (void)area;
    (void)block_size;
    if (block) (*(size_t *)arg)++;
    return true;
}

static size_t walk_nth(nth_heap *heap, uint32_t flags)
{
    nth_walk_entry entry;
    memset(&entry, 0, sizeof entry);
    size_t entries = 0;
    bool locked = !(flags & NTH_NO_SERIALIZE) && nth_heap_lock(heap);
    while (nth_heap_walk(heap, &entry)) entries++;
    if (locked) nth_heap_unlock(heap);
    return entries;
}

/* Fills a heap with `blocks` blocks, walks it `walks` times, destroys it. */
static bool fill_walk_destroy(enum column column, size_t blocks, int walks, big_result *out)
{
    run_ctx ctx;
    if (!open_heap(&ctx, column)) return false;
    bench_rng rng = {777};
    double requested = 0;
    for (size_t i = 0; i < blocks; i++) {
        size_t size = bench_rand_range(&rng, 16, 256);
        char *p = column == COL_MI ? mi.heap_malloc(ctx.mi_heap, size)
                                   : nth_heap_alloc(ctx.heap, ctx.flags, size);
        if (!p) {
            fprintf(stderr, "private_heap: allocation %zu failed\n", i);
            exit(1);
        }
        p[0] = (char)i;
        requested += (double)size;
    }
    double rates[BENCH_MAX_REPETITIONS];
    size_t entries = 0;
    if (walks > BENCH_MAX_REPETITIONS) walks = BENCH_MAX_REPETITIONS;
    for (int w = 0; w < walks; w++) {
        uint64_t start = bench_now_ns();
        if (column == COL_MI) {
            entries = 0;
            mi.heap_visit_blocks(ctx.mi_heap, true, count_mi_block, &entries);
        } else {
            entries = walk_nth(ctx.heap, ctx.flags);
        }
        double seconds = (double)(bench_now_ns() - start) / 1e9;
        rates[w] = (double)entries / seconds;
    }
    uint64_t start = bench_now_ns();
    close_heap(&ctx);
    out->destroy_ns = (double)(bench_now_ns() - start);
    out->requested_bytes = requested;
    out->walk_entries_per_s = bench_median(rates, walks);
    out->walk_entries = (double)entries;
    return true;
}

/* ----------------------------------------------------------------------------------- main */

static void print_cell(bool present, double value, const char *format)
{
    if (present) printf(format, value);
    else printf("%14s", "-");
}

int main(void)
{
    static size_t sizes[SEQUENCE];
    static uint16_t slots[SEQUENCE];
    bench_rng rng = {4242};
    for (size_t i = 0; i < SEQUENCE; i++) {
        sizes[i] = bench_rand_range(&rng, 16, 1024);
        slots[i] = (uint16_t)(bench_rand(&rng) % WINDOW);
    }
    load_mimalloc();
    int reps = bench_repetitions();
    size_t ops = bench_scale(4000000);
    size_t blocks = bench_scale(1000000);
    int builds = bench_quick() ? 1 : 3;

    bench_print_header("private_heap");
    if (!mi.present) printf("mimalloc (libmimalloc.so.2) not found: its column is left empty\n");
    printf("%-34s %14s %14s %14s %14s\n", "test", "ntheap", "ntheap-noser", "mimalloc",
           "ntheap/mi");

    static const char *const loop_names[2] = {"pair 16 B-1 KiB, ns", "window 1000, 16 B-1 KiB, ns"};
    for (int loop = 0; loop < 2; loop++) {
        double ns[COLUMNS];
        bool present[COLUMNS];
        for (int c = 0; c < COLUMNS; c++) {
            run_ctx *ctx = calloc(1, sizeof *ctx);
            present[c] = open_heap(ctx, (enum column)c);
            if (!present[c]) {
                free(ctx);
                continue;
            }
            ctx->sizes = sizes;
            ctx->slots = slots;
            bench_fn fn = c == COL_MI ? (loop ? run_window_mi : run_pair_mi)
                                      : (loop ? run_window_nth : run_pair_nth);
            ns[c] = bench_measure(fn, ctx, ops, reps);
            close_heap(ctx);
            free(ctx);
        }
        printf("%-34s", loop_names[loop]);
        print_cell(true, ns[COL_NTH], "%14.2f");
        print_cell(true, ns[COL_NTH_NOSER], "%14.2f");
        print_cell(present[COL_MI], ns[COL_MI], "%14.2f");
        print_cell(present[COL_MI], present[COL_MI] ? ns[COL_NTH] / ns[COL_MI] : 0, "%14.2f");
        printf("\n");
        fflush(stdout);
    }

    /* Destroy and walk: median over `builds` heaps of `blocks` blocks each. */
    double destroy_us[COLUMNS], per_gib_ms[COLUMNS], walk_rate[COLUMNS], entries[COLUMNS];
    bool present[COLUMNS];
    for (int c = 0; c < COLUMNS; c++) {
        double d[BENCH_MAX_REPETITIONS], g[BENCH_MAX_REPETITIONS], w[BENCH_MAX_REPETITIONS];
        present[c] = true;
        for (int b = 0; b < builds; b++) {
            big_result result;
            if (!fill_walk_destroy((enum column)c, blocks, reps, &result)) {
                present[c] = false;
                break;
            }
            d[b] = result.destroy_ns / 1e3;
            g[b] = result.destroy_ns / 1e6 / (result.requested_bytes / (1024.0 * 1024 * 1024));
            w[b] = result.walk_entries_per_s / 1e6;
            entries[c] = result.walk_entries;
        }
        if (!present[c]) continue;
        destroy_us[c] = bench_median(d, builds);
        per_gib_ms[c] = bench_median(g, builds);
        walk_rate[c] = bench_median(w, builds);
    }
    char label[64];
    snprintf(label, sizeof label, "destroy %zu blocks, us", blocks);
    printf("%-34s", label);
    for (int c = 0; c < COLUMNS; c++) print_cell(present[c], destroy_us[c], "%14.1f");
    print_cell(present[COL_MI], present[COL_MI] ? destroy_us[COL_NTH] / destroy_us[COL_MI] : 0,
               "%14.2f");
    printf("\n%-34s", "destroy, ms per GiB requested");
    for (int c = 0; c < COLUMNS; c++) print_cell(present[c], per_gib_ms[c], "%14.2f");
    print_cell(present[COL_MI], present[COL_MI] ? per_gib_ms[COL_NTH] / per_gib_ms[COL_MI] : 0,
               "%14.2f");
    printf("\n%-34s", "walk, M entries/s");
    for (int c = 0; c < COLUMNS; c++) print_cell(present[c], walk_rate[c], "%14.1f");
    print_cell(present[COL_MI], present[COL_MI] ? walk_rate[COL_NTH] / walk_rate[COL_MI] : 0,
               "%14.2f");
    printf("\n%-34s", "walk, entries seen");
    for (int c = 0; c < COLUMNS; c++) print_cell(present[c], entries[c], "%14.0f");
    printf("\n");
    return 0;
}
