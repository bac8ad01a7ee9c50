/*
 * test_conformance_layout.c — how much a heap holds and commits, against Windows (x64):
 *
 *   capacity      a fixed heap holds, for blocks of 0x10..0x1000 bytes, at least 97 % of what
 *                 Windows' holds (237 blocks of 0x100 in a 64 KiB heap)
 *   first commit  a new growable heap commits one page and reserves the rest of 256 KiB (seed)
 *   growth        the last block before an uncommitted range grows in place, committing pages,
 *                 also with HEAP_REALLOC_IN_PLACE_ONLY (oracle inplace.grow_last_block_*)
 *   commit        same-size fills commit at most 1.15 times the bytes they allocate, for every
 *                 LFH bucket size (Windows and Wine: about 1.06 for 40 000 x 0x100)
 *
 * With NTH_TEST_VERBOSE=1 set, each prints the numbers it measured.
 */
#include "win32_test.h"

#define MAX_ENTRIES 256
static PROCESS_HEAP_ENTRY entries[MAX_ENTRIES];

static bool verbose_numbers(void)
{
    return getenv("NTH_TEST_VERBOSE") != NULL;
}

/* -------------------------------------------------------------------------- capacity */

/* Windows x64's capacity model for HeapCreate(0, 0, max), no debug options, no LFH:
 *   reservation  round_up(max, 0x2000)        (spec §2 "Non-growable HeapCreate(0, n, n)
 *                                              reservation": 0x400 * P granularity)
 *   block        align16(max(n, 16) + 8)      (spec §2 "Normal block footprint")
 *   header+tail  0x430 bytes                  the largest consistent with 237 blocks of 0x100
 *                                              in a 64 KiB heap (oracle fixed64K)
 */
static size_t windows_capacity(size_t maximum, size_t n)
{
    size_t reserve = (maximum + 0x1FFF) & ~(size_t)0x1FFF;
    size_t block = ((n < 16 ? 16 : n) + 8 + 15) & ~(size_t)15;
    return (reserve - 0x430) / block;
}

static size_t fill_count(HANDLE h, SIZE_T n)
{
    size_t count = 0;
    while (HeapAlloc(h, 0, n) != NULL) count++;
    return count;
}

static void check_capacity(size_t maximum)
{
    for (SIZE_T n = 0x10; n <= 0x1000; n *= 2) {
        HANDLE h = HeapCreate(0, 0, maximum);
        REQUIRE(h != NULL);
        size_t ours = fill_count(h, n), windows = windows_capacity(maximum, n);
        if (verbose_numbers())
            printf("    fixed 0x%zx heap, 0x%zx-byte blocks: %zu (Windows %zu, %.1f %%)\n", maximum, (size_t)n, ours,
                   windows, windows ? 100.0 * (double)ours / (double)windows : 0.0);
        CHECK(ours * 100 >= windows * 97);
        CHECK(HeapDestroy(h));
    }
}

TEST(a_64k_fixed_heap_holds_what_windows_holds_for_0x10_to_0x1000_byte_blocks) /* spec §2 */
{
    if (sizeof(void *) != 8) return; /* the model is x64's */
    CHECK_EQ(windows_capacity(0x10000, 0x100), 237);
    check_capacity(0x10000);
}

TEST(a_0x1000_fixed_heap_holds_what_windows_holds_for_0x10_to_0x1000_byte_blocks) /* spec §2 */
{
    if (sizeof(void *) != 8) return;
    check_capacity(0x1000);
}

/* ----------------------------------------------------------------------- first commit */

TEST(a_new_growable_heap_commits_one_page_of_a_256k_reservation) /* seed: 4096 committed, 258048 uncommitted */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 3);
    if (verbose_numbers())
        printf("    new heap: region header %lu, committed %lu, uncommitted %lu\n", (unsigned long)entries[0].cbData,
               (unsigned long)entries[0].Region.dwCommittedSize, (unsigned long)entries[0].Region.dwUnCommittedSize);
    CHECK_EQ(entries[0].Region.dwCommittedSize, 0x1000);
    CHECK_EQ(entries[0].Region.dwCommittedSize + entries[0].Region.dwUnCommittedSize, 0x40000);
    CHECK(HeapDestroy(h));
}

/* ------------------------------------------------------------------------------ growth */

static size_t committed_of(HANDLE h)
{
    PROCESS_HEAP_ENTRY e = { .lpData = NULL };
    CHECK(HeapWalk(h, &e));
    return (e.wFlags & PROCESS_HEAP_REGION) ? e.Region.dwCommittedSize : 0;
}

TEST(the_first_block_grows_in_place_over_the_committed_free_tail) /* oracle inplace.grow_last_block_0x8000 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x8000) == p);
    CHECK_EQ(HeapSize(h, 0, p), 0x8000);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(the_first_block_grows_in_place_past_the_committed_end_by_committing) /* oracle inplace.grow_last_block_0x20000 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    size_t before = committed_of(h);
    void *q = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x20000);
    if (verbose_numbers())
        printf("    0x100 -> 0x20000 in place: %s, committed %zu -> %zu\n", q == p ? "in place" : "failed", before,
               committed_of(h));
    CHECK(q == p);
    CHECK(committed_of(h) >= 0x20000);
    CHECK_EQ(HeapSize(h, 0, p), q == p ? 0x20000 : 0x100);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

/* Makes the new heap's last committed block busy and directly followed by the uncommitted
 * range; NULL if the heap did not take that shape. */
static void *last_block_before_uncommitted(HANDLE h, SIZE_T *size)
{
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    if (n != 3 || entries[1].wFlags != 0) return NULL;
    /* The free block's whole data: cbData + 2 * cbOverhead (docs/win32.md). */
    *size = entries[1].cbData + 2u * entries[1].cbOverhead;
    void *p = HeapAlloc(h, 0, *size);
    n = walk_all(h, entries, MAX_ENTRIES, NULL);
    if (!p || n != 3 || entries[1].lpData != p || !(entries[2].wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE)) return NULL;
    return p;
}

TEST(the_last_block_before_an_uncommitted_range_grows_in_place_only_by_committing) /* oracle inplace.grow_last_block */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    SIZE_T size = 0;
    unsigned char *p = last_block_before_uncommitted(h, &size);
    REQUIRE(p != NULL);
    memset(p, 0x5A, size);
    size_t before = committed_of(h);
    prime();
    void *q = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, size + 0x3000);
    if (verbose_numbers())
        printf("    last block of %zu bytes, IN_PLACE_ONLY to +0x3000: %s (last error %lu), committed %zu -> %zu\n",
               (size_t)size, q == p ? "in place" : "failed", (unsigned long)(q ? 0 : GetLastError()), before,
               committed_of(h));
    CHECK(q == p);
    if (q == p) {
        CHECK(committed_of(h) >= before + 0x3000);
        CHECK_EQ(HeapSize(h, 0, p), size + 0x3000);
        CHECK(p[0] == 0x5A && p[size - 1] == 0x5A);
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(the_last_block_before_an_uncommitted_range_is_not_moved_by_a_plain_realloc) /* oracle inplace.grow_last_block */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    SIZE_T size = 0;
    void *p = last_block_before_uncommitted(h, &size);
    REQUIRE(p != NULL);
    CHECK(HeapReAlloc(h, 0, p, size + 0x3000) == p);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

/* ------------------------------------------------------------------------------ commit */

/* Committed bytes a growable heap needs for `count` blocks of `size`, over the bytes requested.
 * The segments of heaps destroyed before come back to new heaps with their pages still committed
 * (docs/design.md, the segment cache); compaction empties that cache first, so that the fill is
 * measured as in a new process. */
static double fill_commit_ratio(SIZE_T size, size_t count)
{
    HeapCompact(GetProcessHeap(), 0);
    HANDLE h = HeapCreate(0, 0, 0);
    CHECK(h != NULL);
    if (!h) return 0;
    HEAP_SUMMARY before = { .cb = sizeof(HEAP_SUMMARY) }, after = { .cb = sizeof(HEAP_SUMMARY) };
    CHECK(HeapSummary(h, 0, &before));
    for (size_t i = 0; i < count; i++)
        if (!HeapAlloc(h, 0, size)) {
            CHECK(false);
            break;
        }
    CHECK(HeapSummary(h, 0, &after));
    CHECK(HeapDestroy(h));
    return (double)(after.cbCommitted - before.cbCommitted) / ((double)size * (double)count);
}

TEST(forty_thousand_0x100_blocks_commit_at_most_1_15_times_their_bytes) /* Windows and Wine: 10.9 MB */
{
    double ratio = fill_commit_ratio(0x100, 40000);
    if (verbose_numbers()) printf("    40000 x 0x100: committed / allocated = %.3f\n", ratio);
    CHECK(ratio <= 1.15);
}

/* Every size the LFH serves as a bucket of its own: 16-byte steps to 1 KiB, then 16 steps per
 * doubling to 16 KiB (docs/design.md "LFH front-end"), each filled with about 4 MiB. */
TEST(same_size_fills_of_every_lfh_bucket_size_commit_at_most_1_15_times_their_bytes)
{
    size_t over = 0, sizes = 0;
    double worst = 0;
    SIZE_T worst_size = 0;
    for (SIZE_T size = 16; size <= 16384;) {
        size_t count = ((size_t)4 << 20) / size;
        double ratio = fill_commit_ratio(size, count);
        sizes++;
        if (ratio > 1.15) over++;
        if (ratio > worst) worst = ratio, worst_size = size;
        if (ratio > 1.15 && verbose_numbers()) printf("    0x%zx x %zu: %.3f\n", (size_t)size, count, ratio);
        size += size < 1024 ? 16 : size < 2048 ? 64 : size < 4096 ? 128 : size < 8192 ? 256 : 512;
    }
    if (verbose_numbers())
        printf("    %zu of %zu bucket sizes over 1.15; worst 0x%zx at %.3f\n", over, sizes, (size_t)worst_size, worst);
    CHECK_EQ(sizes, 128);
    CHECK_EQ(over, 0);
}

/* A fixed heap's last block cannot grow past the reservation: IN_PLACE_ONLY fails with
 * ERROR_NOT_ENOUGH_MEMORY (8), as on Windows, the block untouched and its bytes intact; within
 * the reservation it grows by committing, and the heap validates. */
TEST(a_block_that_would_need_more_than_the_reservation_does_not_grow_in_place)
{
    HANDLE h = HeapCreate(0, 0x1000, 0x10000);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    memset(p, 0x6B, 0x100);
    SetLastError(0);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x20000) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(HeapSize(h, 0, p), 0x100);
    bool intact = true;
    for (size_t i = 0; i < 0x100; i++) intact &= p[i] == 0x6B;
    CHECK(intact);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x4000) == p); /* within the reservation */
    CHECK_EQ(HeapSize(h, 0, p), 0x4000);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

/* --------------------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    (void)argc;
    quiet_reports();
    RUN(a_64k_fixed_heap_holds_what_windows_holds_for_0x10_to_0x1000_byte_blocks);
    RUN(a_0x1000_fixed_heap_holds_what_windows_holds_for_0x10_to_0x1000_byte_blocks);
    RUN(a_new_growable_heap_commits_one_page_of_a_256k_reservation);
    RUN(the_first_block_grows_in_place_over_the_committed_free_tail);
    RUN(the_first_block_grows_in_place_past_the_committed_end_by_committing);
    RUN(the_last_block_before_an_uncommitted_range_grows_in_place_only_by_committing);
    RUN(the_last_block_before_an_uncommitted_range_is_not_moved_by_a_plain_realloc);
    RUN(a_block_that_would_need_more_than_the_reservation_does_not_grow_in_place);
    RUN(forty_thousand_0x100_blocks_commit_at_most_1_15_times_their_bytes);
    RUN(same_size_fills_of_every_lfh_bucket_size_commit_at_most_1_15_times_their_bytes);
    return harness_finish(argv[0]);
}
