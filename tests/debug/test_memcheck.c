/*
 * test_memcheck.c — ntheap blocks as Valgrind's memcheck sees them.
 *
 * Run plainly (by the test runner, or under memcheck by tests/debug/memcheck_visibility.sh, which
 * then expects "ERROR SUMMARY: 0 errors"): a workload over every entry point that touches block
 * memory — sizes from 1 byte to a big block, aligned and zeroed blocks, realloc in place and
 * moving, user values, fill-checking heaps, validate, walk, compact, the Win32 layer, and a heap
 * destroyed with live blocks — whose results are checked, so the engine's own header and free-list
 * work must stay invisible to memcheck while the caller's bytes stay defined. With
 * NTH_TEST_UNDER_VALGRIND=1 it also checks that heaps run without the LFH there.
 *
 * With one argument it makes one bug for the script to find in memcheck's report:
 *   overrun  a 24-byte block from victim_alloc(): one byte written after it, one before it
 *   uaf      a 100-byte block from uaf_alloc(), read after nth_heap_free
 *   leak     3 blocks of 77 bytes from leaker(), dropped
 *   malloc   (under the malloc replacement) a 40-byte malloc from victim_malloc(), overrun, then
 *            read after free
 */
#include <stdlib.h>
#include <string.h>

#include "harness/harness.h"
#include <ntheap.h>
#include <ntheap/win32.h>

/* The allocating functions the report must name: not inlined, and no tail call (which would take
 * their frame off the allocation stack). */
#define KEEP_FRAME(p) __asm__ volatile("" : : "r"(p) : "memory")

static __attribute__((noinline)) char *victim_alloc(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, 24);
    KEEP_FRAME(p);
    return p;
}

static __attribute__((noinline)) char *uaf_alloc(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, 100);
    KEEP_FRAME(p);
    return p;
}

static __attribute__((noinline)) void leaker(nth_heap *heap)
{
    for (int i = 0; i < 3; i++) {
        char *volatile p = nth_heap_alloc(heap, 0, 77);
        p[0] = 1;
    }
}

static __attribute__((noinline)) char *victim_malloc(void)
{
    char *p = malloc(40);
    KEEP_FRAME(p);
    return p;
}

/* Stores and loads the compiler must keep (it may delete accesses it proves out of bounds). */
static void poke(char *p, long offset, char value)
{
    *(volatile char *)(p + offset) = value;
}

static char peek(const char *p, long offset)
{
    return *(const volatile char *)(p + offset);
}

/* Blocks on both sides of the block of each bug; kept reachable. */
void *memcheck_neighbours[8];

static int make_bug(const char *mode)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    if (!heap) return 2;
    for (int i = 0; i < 8; i++) memcheck_neighbours[i] = nth_heap_alloc(heap, 0, 40);
    if (strcmp(mode, "overrun") == 0) {
        char *p = victim_alloc(heap);
        memset(p, 0, 24);
        poke(p, 24, 1);
        poke(p, -1, 1);
        return 0;
    }
    if (strcmp(mode, "uaf") == 0) {
        char *p = uaf_alloc(heap);
        memset(p, 0, 100);
        nth_heap_free(heap, 0, p);
        return peek(p, 3) == 42;
    }
    if (strcmp(mode, "leak") == 0) {
        leaker(nth_process_heap());
        return 0;
    }
    if (strcmp(mode, "malloc") == 0) {
        char *p = victim_malloc();
        memset(p, 0, 40);
        poke(p, 40, 1);
        volatile uintptr_t freed = (uintptr_t)p;
        free(p);
        return peek((const char *)freed, 5) == 42;
    }
    return 2;
}

TEST(heaps_run_without_the_lfh_under_valgrind_only)
{
    const char *under = getenv("NTH_TEST_UNDER_VALGRIND");
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    size_t lfh = 2;
    CHECK(nth_heap_get_option(heap, NTH_OPTION_LFH, &lfh));
    CHECK_EQ(lfh, under && strcmp(under, "1") == 0 ? 0 : 1);
    CHECK(nth_heap_destroy(heap));
}

TEST(every_entry_point_keeps_the_callers_bytes)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    enum { N = 64 };
    char *p[N];
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)(i * 37 % 700) + 1;
        p[i] = nth_heap_alloc(heap, i % 5 == 0 ? NTH_ZERO_MEMORY : 0, size);
        REQUIRE(p[i]);
        if (i % 5 == 0)
            for (size_t j = 0; j < size; j++) CHECK(p[i][j] == 0); /* zeroed bytes read as defined */
        memset(p[i], i, size);
    }
    for (int i = 0; i < N; i += 3) CHECK(nth_heap_free(heap, 0, p[i]));
    for (int i = 1; i < N; i += 3) {
        size_t old = (size_t)(i * 37 % 700) + 1;
        char *q = nth_heap_realloc(heap, NTH_ZERO_MEMORY, p[i], old * 3 + 100);
        REQUIRE(q);
        for (size_t j = 0; j < old; j++) CHECK(q[j] == (char)i);
        for (size_t j = old; j < old * 3 + 100; j++) CHECK(q[j] == 0);
        q = nth_heap_realloc(heap, 0, q, old / 2 + 1);
        REQUIRE(q);
        CHECK(q[0] == (char)i && q[old / 2] == (char)i);
        p[i] = q;
    }
    char *big = nth_heap_alloc(heap, 0, 1u << 20);
    char *aligned = nth_heap_alloc_aligned(heap, 0, 4096, 5000);
    char *valued = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE, 48);
    REQUIRE(big && aligned && valued);
    CHECK(((uintptr_t)aligned & 4095) == 0);
    memset(big, 7, 1u << 20);
    big = nth_heap_realloc(heap, 0, big, 3u << 20);
    REQUIRE(big);
    CHECK(big[(1u << 20) - 1] == 7);
    memset(aligned, 8, 5000);
    memset(valued, 9, 48);
    CHECK(nth_heap_set_user_value(heap, valued, 1234));
    uintptr_t value = 0;
    CHECK(nth_heap_get_user_info(heap, valued, &value, NULL));
    CHECK_EQ(value, 1234);
    CHECK_EQ(nth_heap_size(heap, 0, valued), 48);
    CHECK(nth_heap_usable_size(heap, aligned) >= 5000);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_walk_entry entry;
    memset(&entry, 0, sizeof entry);
    size_t busy = 0;
    while (nth_heap_walk(heap, &entry)) busy += (entry.flags & NTH_ENTRY_BUSY) != 0;
    CHECK_EQ(busy, N - (N + 2) / 3 + 3); /* the blocks kept, the big, aligned and valued ones */
    (void)nth_heap_compact(heap, 0);
    for (int i = 0; i < N; i++)
        if (i % 3 != 0) CHECK(nth_heap_free(heap, 0, p[i]));
    CHECK(nth_heap_free(heap, 0, big));
    CHECK(nth_heap_free(heap, 0, aligned));
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap)); /* with `valued` still live: it dies with the heap */
}

TEST(fill_checking_heaps_and_the_win32_layer)
{
    HANDLE heap = HeapCreate(HEAP_TAIL_CHECKING_ENABLED | HEAP_FREE_CHECKING_ENABLED, 0, 0);
    REQUIRE(heap);
    char *a = HeapAlloc(heap, 0, 30), *b = HeapAlloc(heap, HEAP_ZERO_MEMORY, 300);
    REQUIRE(a && b);
    memset(a, 1, 30);
    CHECK(b[299] == 0);
    a = HeapReAlloc(heap, 0, a, 3000);
    REQUIRE(a);
    CHECK(a[29] == 1);
    CHECK(HeapValidate(heap, 0, NULL));
    CHECK(HeapFree(heap, 0, b));
    CHECK(HeapFree(heap, 0, a));
    PROCESS_HEAP_ENTRY entry;
    entry.lpData = NULL;
    int entries = 0;
    while (HeapWalk(heap, &entry)) entries++;
    CHECK(entries > 0);
    CHECK(HeapValidate(heap, 0, NULL));
    CHECK(HeapDestroy(heap));
}

int main(int argc, char **argv)
{
    if (argc > 1) return make_bug(argv[1]);
    RUN(heaps_run_without_the_lfh_under_valgrind_only);
    RUN(every_entry_point_keeps_the_callers_bytes);
    RUN(fill_checking_heaps_and_the_win32_layer);
    return harness_finish("test_memcheck");
}
