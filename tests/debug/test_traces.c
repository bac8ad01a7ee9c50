/*
 * test_traces.c — the stack-trace database, the exit-time leak report and UMDH snapshots:
 * nth_heap_block_stacks names the test's own allocating and freeing functions and gives two
 * blocks from one call site the same stack; leak_report=1 reports exactly the N blocks a child
 * leaked, from the leaking function, and not the block a global still points to; a snapshot
 * taken before and after a child leaks N blocks from one stack differs by exactly that stack
 * with +N blocks in `ntheap umdh A B`.
 */
#include <dlfcn.h>

#include "debug/debug_child.h"

char *traced_alloc(nth_heap *heap, size_t size);
void traced_free(nth_heap *heap, void *p);
void leak_blocks(nth_heap *heap, int n, size_t size);

__attribute__((noinline)) char *traced_alloc(nth_heap *heap, size_t size)
{
    char *p = nth_heap_alloc(heap, 0, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) void traced_free(nth_heap *heap, void *p)
{
    nth_heap_free(heap, 0, p);
    __asm__ volatile("" ::: "memory");
}

/* Allocates n blocks from one call site and forgets them. */
__attribute__((noinline)) void leak_blocks(nth_heap *heap, int n, size_t size)
{
    for (int i = 0; i < n; i++) {
        volatile char *p = nth_heap_alloc(heap, 0, size);
        p[0] = 1;
        p = NULL;
    }
    __asm__ volatile("" ::: "memory");
}

/* Overwrites the dead stack below the caller, so stale pointers left there by leak_blocks do
 * not make the conservative scan see the leaked blocks as reachable. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char junk[16384];
    memset((char *)junk, 0, sizeof junk);
    __asm__ volatile("" ::: "memory");
}

static const char *name_of(void *frame)
{
    Dl_info info;
    return dladdr((char *)frame - 1, &info) && info.dli_sname ? info.dli_sname : "?";
}

static void stacks_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_STACK_TRACES, 1);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    void *fa[16], *ff[16];
    size_t na = 0, nf = 0;
    char *a = traced_alloc(heap, 40), *b = traced_alloc(heap, 40);
    REQUIRE(a && b);
    CHECK(nth_heap_block_stacks(a, fa, &na, ff, &nf, 16));
    REQUIRE(na > 0);
    CHECK_STR(name_of(fa[0]), "traced_alloc"); /* the first frame outside the heap */
    CHECK_EQ(nf, 0);
    void *fb[16];
    size_t nb = 0;
    CHECK(nth_heap_block_stacks(b, fb, &nb, ff, &nf, 16));
    CHECK_EQ(nb, na);
    CHECK(nb == na && memcmp(fa, fb, na * sizeof *fa) != 0 /* different return addresses ... */
          ? strcmp(name_of(fa[0]), name_of(fb[0])) == 0 : true); /* ... same function */
    /* A realloc records the new stack; a free forgets the block. */
    traced_free(heap, a);
    CHECK(!nth_heap_block_stacks(a, fa, &na, ff, &nf, 16));
    /* Page heap: the free stack is kept while the block is delayed. */
    nth_heap_set_option(NULL, NTH_OPTION_PAGE_HEAP, 1);
    nth_heap *ph = nth_heap_create(0, 0, 0);
    char *p = traced_alloc(ph, 64);
    traced_free(ph, p);
    CHECK(nth_heap_block_stacks(p, fa, &na, ff, &nf, 16));
    CHECK(na > 0 && strcmp(name_of(fa[0]), "traced_alloc") == 0);
    CHECK(nf > 0 && strcmp(name_of(ff[0]), "traced_free") == 0);
    if (harness_case_failed) _exit(1);
}

TEST(stacks_name_the_allocating_and_freeing_functions)
{
    static child_result r;
    REQUIRE(child_ran(&r, stacks_scenario));
    CHECK(exited_ok(&r));
    show_on_failure(&r);
}

static void *volatile still_referenced; /* volatile: the store must happen */

static void leak_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_LEAK_REPORT, 1);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    leak_blocks(heap, 5, 48);
    still_referenced = traced_alloc(heap, 1000); /* reachable from a global: not a leak */
    scrub_stack();
    exit(0); /* the report runs at exit */
}

TEST(leak_report_lists_exactly_the_unreachable_blocks_by_stack)
{
    static child_result r;
    REQUIRE(child_ran(&r, leak_scenario));
    CHECK(exited_ok(&r));
#if HARNESS_UNDER_TSAN
    /* ThreadSanitizer's runtime keeps copies of recent addresses in memory of its own, which a
     * conservative scan must read as roots: it may hide some of the five. */
    CHECK(says(&r, "not reachable at exit, from 1 stacks"));
#else
    CHECK(says(&r, "leak report: 5 blocks (240 bytes) not reachable at exit, from 1 stacks"));
    CHECK(says(&r, "5 blocks, 240 bytes, allocated at:"));
#endif
    const char *at = strstr(r.err, "allocated at:");
    CHECK(at && strstr(at, "leak_blocks"));
    CHECK(!says(&r, "traced_alloc"));
    show_on_failure(&r);
}

static char snapshot_a[64], snapshot_b[64];

static void umdh_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_STACK_TRACES, 1);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 3; i++) (void)traced_alloc(heap, 16); /* in both snapshots */
    CHECK(nth_heap_write_snapshot(snapshot_a, false));
    leak_blocks(heap, 7, 32);
    CHECK(nth_heap_write_snapshot(snapshot_b, false));
    if (harness_case_failed) _exit(1);
}

TEST(umdh_diff_shows_the_leaking_stack_with_its_count)
{
    snprintf(snapshot_a, sizeof snapshot_a, "/tmp/ntheap-umdh-a.%ld.txt", (long)getpid());
    snprintf(snapshot_b, sizeof snapshot_b, "/tmp/ntheap-umdh-b.%ld.txt", (long)getpid());
    static child_result r;
    REQUIRE(child_ran(&r, umdh_scenario));
    CHECK(exited_ok(&r));
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char cmd[512], out[8192] = "";
    snprintf(cmd, sizeof cmd, "%s/ntheap umdh %s %s", build, snapshot_a, snapshot_b);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    CHECK_EQ(pclose(p), 0);
    /* The first (biggest) entry is the leak: 7 blocks, 224 bytes, from leak_blocks. */
    CHECK(strncmp(out, "    +7 blocks         +224 bytes", 32) == 0);
    const char *first_end = strstr(out, "\n    ");
    CHECK(first_end && strstr(first_end, "leak_blocks"));
    CHECK(strstr(out, "total: +224 bytes in +7 blocks") != NULL);
    CHECK(strstr(out, "traced_alloc") == NULL); /* unchanged stacks are not listed */
    if (harness_case_failed) fprintf(stderr, "  ntheap umdh printed:\n%s\n", out);
    show_on_failure(&r);
    unlink(snapshot_a);
    unlink(snapshot_b);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(stacks_name_the_allocating_and_freeing_functions);
    RUN(leak_report_lists_exactly_the_unreachable_blocks_by_stack);
    RUN(umdh_diff_shows_the_leaking_stack_with_its_count);
    return harness_finish(argv[0]);
}
