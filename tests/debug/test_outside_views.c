/*
 * test_outside_views.c — the debug heap read from outside its process (src/inspect/debug_read.h):
 * in this process, through nth_target_open_self, a block allocated by outside_alloc is found in
 * the stack-trace database with outside_alloc as its first user frame (named from the ELF file,
 * not by dladdr); a block freed under the light page heap is found in the delayed-free queue
 * with outside_free as its free stack; created tags read back with exact counters.
 *
 * Run with "--child FILE MODE" it is the child of tests/debug/outside_views.sh: it builds the
 * scenario, writes "name address" lines and "ready" to FILE, prints its pid and waits (SIGUSR1
 * makes the "leak" child leak LEAK_N more blocks from leak_more, then write "leaked").
 *   trace  (NTHEAP_OPTIONS=stack_traces=1)             block, big: busy blocks of outside_alloc
 *   paged  (NTHEAP_OPTIONS=stack_traces=1,page_heap=1) block: busy; freed: freed by outside_free
 *   leak   (NTHEAP_OPTIONS=stack_traces=1)             a baseline, then LEAK_N blocks on SIGUSR1
 *   tags                                               tags alpha and beta with known counters
 *   hostile (NTHEAP_OPTIONS=stack_traces=1)            then damages what outside readers follow:
 *            a stack's frame range, a cyclic tag-table list with a huge n_tags, a delayed-free
 *            queue whose ring is unmapped and whose count exceeds its capacity
 */
#include <signal.h>

#include "debug/debug_child.h"
#include "heap/internal.h"
#include "inspect/debug_read.h"

#define LEAK_N 7

char *outside_alloc(nth_heap *heap, size_t size);
void outside_free(nth_heap *heap, void *p);
void leak_more(nth_heap *heap, int n);

__attribute__((noinline)) char *outside_alloc(nth_heap *heap, size_t size)
{
    char *p = nth_heap_alloc(heap, 0, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) void outside_free(nth_heap *heap, void *p)
{
    nth_heap_free(heap, 0, p);
    __asm__ volatile("" ::: "memory");
}

static void *leaked[LEAK_N];
static void *kept[8]; /* blocks that stay alive while the heap is read */

__attribute__((noinline)) void leak_more(nth_heap *heap, int n)
{
    /* one call site: a volatile counter keeps the compiler from unrolling the loop */
    for (volatile int i = 0; i < n; i++) leaked[i] = nth_heap_alloc(heap, 0, 48);
    __asm__ volatile("" ::: "memory");
}

/* The first user frame of the block's allocation stack, named from outside. */
static bool first_frame_is(const nth_trace_reader *r, nth_symbolizer *s, uint32_t stack, const char *want)
{
    uintptr_t f[16];
    nth_frame_name n;
    size_t depth = nth_traces_user_frames(r, s, stack, f, 16);
    return depth > 0 && nth_symbolize(s, f[0] - 1, &n) && n.symbol && strcmp(n.symbol, want) == 0;
}

TEST(traced_block_names_its_allocating_function_from_outside)
{
    nth_heap_set_option(NULL, NTH_OPTION_STACK_TRACES, 1);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    char *p = outside_alloc(heap, 100), *q = outside_alloc(heap, 100);
    REQUIRE(p && q);
    char error[256];
    nth_target *t = nth_target_open_self(error, sizeof error);
    REQUIRE(t != NULL);
    nth_trace_reader r;
    CHECK(nth_traces_open(t, &r));
    nth_trace_block b, bq;
    CHECK(nth_traces_block(&r, (uintptr_t)p, &b));
    CHECK(b.size == 100);
    CHECK(nth_traces_block(&r, (uintptr_t)q, &bq));
    CHECK(b.alloc_stack != 0 && bq.alloc_stack != 0);
    CHECK(!nth_traces_block(&r, (uintptr_t)p + 16, &b));          /* only data addresses are keys */
    nth_symbolizer *s = nth_symbolizer_new(t);
    CHECK(first_frame_is(&r, s, b.alloc_stack, "outside_alloc"));
    CHECK(first_frame_is(&r, s, bq.alloc_stack, "outside_alloc"));
    nth_symbolizer_free(s);
    nth_target_close(t);
    nth_heap_free(heap, 0, p);
    nth_heap_free(heap, 0, q);
    nth_heap_destroy(heap);
}

static void delayed_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_STACK_TRACES, 1);
    nth_heap_set_option(NULL, NTH_OPTION_PAGE_HEAP, 2); /* light: the freed block stays, filled */
    nth_heap *heap = nth_heap_create(0, 0, 0);
    char *p = outside_alloc(heap, 64);
    outside_free(heap, p);
    char error[256];
    nth_target *t = nth_target_open_self(error, sizeof error);
    nth_delayed d;
    nth_trace_reader r;
    bool ok = t && nth_traces_open(t, &r) && nth_delayed_find(t, (uintptr_t)p + 10, true, &d) && d.data == p &&
              d.size == 64 && d.free_stack != 0;
    nth_symbolizer *s = t ? nth_symbolizer_new(t) : NULL;
    ok = ok && first_frame_is(&r, s, d.free_stack, "outside_free") && first_frame_is(&r, s, d.alloc_stack, "outside_alloc");
    nth_symbolizer_free(s);
    if (t) nth_target_close(t);
    fprintf(stderr, "DELAYED=%s\n", ok ? "ok" : "wrong");
}

static nth_heap *make_tags(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    uint32_t alpha = nth_heap_create_tag(heap, "alpha"), beta = nth_heap_create_tag(heap, "beta");
    void *a[5];
    for (int i = 0; i < 5; i++) a[i] = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, alpha), 100);
    for (int i = 0; i < 3; i++) kept[i] = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, beta), 1000);
    nth_heap_free(heap, 0, a[0]);
    nth_heap_free(heap, 0, a[1]);
    return heap;
}

typedef struct tag_seen {
    uintptr_t heap;
    nth_tag_stats alpha, beta;
    int tables;
} tag_seen;

static void on_table(uintptr_t heap, const nth_tag_stats *rows, size_t n, void *ctx)
{
    tag_seen *seen = ctx;
    if (heap != seen->heap) return;
    seen->tables++;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].name, "alpha") == 0) seen->alpha = rows[i];
        if (strcmp(rows[i].name, "beta") == 0) seen->beta = rows[i];
    }
}

TEST(created_tags_read_back_with_exact_counters)
{
    nth_heap *heap = make_tags();
    char error[256];
    nth_target *t = nth_target_open_self(error, sizeof error);
    REQUIRE(t != NULL);
    tag_seen seen = {.heap = (uintptr_t)heap};
    CHECK(nth_tag_tables_read(t, on_table, &seen) >= 1);
    CHECK(seen.tables == 1);
    CHECK(seen.alpha.allocs == 5 && seen.alpha.frees == 2 && seen.alpha.bytes == 300 && seen.alpha.peak_bytes == 500);
    CHECK(seen.beta.allocs == 3 && seen.beta.frees == 0 && seen.beta.bytes == 3000 && seen.beta.peak_bytes == 3000);
    nth_target_close(t);
    nth_heap_destroy(heap);
    /* a destroyed heap's table is gone from the list */
    t = nth_target_open_self(error, sizeof error);
    seen = (tag_seen){.heap = (uintptr_t)heap};
    if (t) nth_tag_tables_read(t, on_table, &seen);
    CHECK(t && seen.tables == 0);
    if (t) nth_target_close(t);
}

TEST(delayed_free_keeps_both_stacks_for_outside_readers)
{
    static child_result r;
    REQUIRE(child_ran(&r, delayed_scenario));
    CHECK(exited_ok(&r));
    CHECK(strstr(r.err, "DELAYED=ok") != NULL);
}

/* ------------------------------------------------------------------------------ the child */

static volatile sig_atomic_t leak_now;
static void on_usr1(int sig)
{
    (void)sig;
    leak_now = 1;
}

static void child(FILE *out, const char *mode)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    if (strcmp(mode, "trace") == 0) {
        fprintf(out, "block %p\nbig %p\n", (void *)outside_alloc(heap, 100), (void *)outside_alloc(heap, 1 << 20));
    } else if (strcmp(mode, "paged") == 0) {
        char *freed = outside_alloc(heap, 200);
        outside_free(heap, freed);
        fprintf(out, "block %p\nfreed %p\n", (void *)outside_alloc(heap, 100), (void *)freed);
    } else if (strcmp(mode, "leak") == 0) {
        for (int i = 0; i < 5; i++) kept[i] = outside_alloc(heap, 32); /* the baseline both snapshots hold */
        signal(SIGUSR1, on_usr1);
    } else if (strcmp(mode, "tags") == 0) {
        fprintf(out, "heap %p\n", (void *)make_tags());
    } else if (strcmp(mode, "hostile") == 0) {
        char *p = outside_alloc(heap, 100);
        (void)make_tags();
        nth_trace_db *db = nth_heap_registry.traces;
        nth_trace_block *blocks = (nth_trace_block *)((char *)db + db->blocks_offset);
        nth_trace_stack *stacks = (nth_trace_stack *)((char *)db + db->stacks_offset);
        for (size_t i = 0; i < db->n_block_slots; i++)
            if (blocks[i].data == (uintptr_t)p) stacks[blocks[i].alloc_stack] = (nth_trace_stack){1, 0xFFFFFFF0u, 0xFFFF, 0};
        nth_tag_table *t = nth_heap_registry.tag_tables;
        t->next = t;
        t->n_tags = 0xFFFFFFFFu;
        static nth_delay_queue bad = {NTH_DELAY_QUEUE_MAGIC, (nth_delayed *)(uintptr_t)0x10, 1u << 19, 7, 1u << 30};
        nth_heap_registry.delayed = &bad;
        fprintf(out, "block %p\n", (void *)p);
    }
    fprintf(out, "ready\n");
    fflush(out);
    for (;;) {
        pause();
        if (leak_now) {
            leak_now = 0;
            leak_more(heap, LEAK_N);
            fprintf(out, "leaked\n");
            fflush(out);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0) {
        FILE *out = fopen(argv[2], "w");
        if (!out) return 2;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) return 2;
        if (pid == 0) { /* leaves the caller's stdout, so that $(...) returns */
            if (!freopen("/dev/null", "w", stdout)) _exit(2);
            alarm(120);
            child(out, argv[3]);
        }
        printf("%d\n", (int)pid);
        return 0;
    }
    RUN(traced_block_names_its_allocating_function_from_outside);
    RUN(created_tags_read_back_with_exact_counters);
    RUN(delayed_free_keeps_both_stacks_for_outside_readers);
    return harness_finish(argv[0]);
}
