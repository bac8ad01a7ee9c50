/*
 * test_conformance.c — Windows behaviours a port relies on, each pinned by the source that says
 * Windows does it (spec = the Win32 heap behavioural specification, oracle = the Wine-run probe
 * answers, seed = Microsoft's "Enumerating a Heap" output on Windows):
 *
 *   walk identities   free entries report cbOverhead 4P, and the arithmetic Windows' walkers
 *                     use between an entry and the next holds for busy and free entries and for
 *                     the entry before every uncommitted range (spec §4.10, seed)
 *   LFH               never engages in a fixed-size or HEAP_NO_SERIALIZE heap (spec §4.1, §4.12)
 *   zeroing           after a zeroing HeapAlloc/HeapReAlloc (and LMEM/GMEM_ZEROINIT) every byte
 *                     the block can hold reads zero, past the request included (Windows' slack;
 *                     Wine's kernel32 heap test checks it for 22 sizes)
 *   overrun           8 bytes written past a 0x100 request are detected and reported at the next
 *                     call that touches them, never a crash (a documented difference: no slack)
 *
 * Addresses are never compared with fixed values, only with each other.
 */
#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "win32_test.h"

#define P sizeof(void *)
#define MAX_ENTRIES 8192
static PROCESS_HEAP_ENTRY entries[MAX_ENTRIES];

static char *at(const void *p, size_t offset)
{
    return (char *)p + offset;
}

static bool is_free(const PROCESS_HEAP_ENTRY *e)
{
    return e->wFlags == 0;
}

static bool is_block(const PROCESS_HEAP_ENTRY *e)
{
    return !(e->wFlags & (PROCESS_HEAP_REGION | PROCESS_HEAP_UNCOMMITTED_RANGE));
}

/* What a walk of a back-end-only heap showed, for the callers' preconditions. */
typedef struct walk_counts {
    size_t free_before_ucr, busy_before_ucr, ucr_inside, free_entries;
} walk_counts;

/* Windows' walk arithmetic between consecutive entries of one region (spec §4.10, seed):
 *   busy -> X:    X starts at busy.lpData + busy.cbData + busy.cbOverhead (a block's lpData is
 *                 2P further, past its header): WT free.lpData == busy.lpData + cbData + cbOverhead + 2P
 *   free -> UCR:  ucr.lpData == free.lpData + free.cbData + 2 * free.cbOverhead (WT; the seed's
 *                 0X005307D8 + 2056 + 2 * 16 == 0X00531000), free.cbOverhead == 4P
 *   free -> X:    a following block's lpData is 2P further than that
 * Only for heaps without the LFH (a HEAP_NO_SERIALIZE heap, as Wine's test uses). */
static walk_counts check_identities(const PROCESS_HEAP_ENTRY *list, size_t n)
{
    walk_counts c = { 0, 0, 0, 0 };
    for (size_t i = 0; i + 1 < n; i++) {
        const PROCESS_HEAP_ENTRY *e = &list[i], *next = &list[i + 1];
        if (is_free(e)) {
            c.free_entries++;
            CHECK(e->cbOverhead == 4 * P || e->cbData == 0);
            CHECK(e->cbOverhead <= 4 * P && e->cbOverhead > 0);
        }
        if (!is_block(e) || (next->wFlags & PROCESS_HEAP_REGION) || next->iRegionIndex == NTH_WIN32_BIG_BLOCK_REGION_INDEX)
            continue;
        size_t overhead = is_free(e) ? 2u * e->cbOverhead : e->cbOverhead;
        char *end = at(e->lpData, e->cbData + overhead);
        if (next->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE) {
            CHECK(next->lpData == end);
            if (is_free(e)) c.free_before_ucr++;
            else c.busy_before_ucr++;
            if (i + 2 < n && is_block(&list[i + 2]) && list[i + 2].iRegionIndex == e->iRegionIndex) c.ucr_inside++;
        } else {
            CHECK(next->lpData == at(end, 2 * P));
        }
    }
    return c;
}

/* ------------------------------------------------------------------- walk identities */

TEST(free_entry_of_a_new_heap_has_overhead_4p_and_ends_2_overheads_before_the_uncommitted_range) /* spec §4.10, seed */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 3);
    CHECK_EQ(entries[1].wFlags, 0);
    CHECK_EQ(entries[1].cbOverhead, 4 * P);
    CHECK(entries[1].cbData > 0);
    CHECK(entries[2].lpData == at(entries[1].lpData, entries[1].cbData + 2 * entries[1].cbOverhead));
    CHECK(entries[2].lpData == at(entries[0].lpData, entries[0].Region.dwCommittedSize));
    CHECK(HeapDestroy(h));
}

TEST(busy_then_free_then_uncommitted_follow_windows_arithmetic) /* spec §4.10 (WT 123/456 walk) */
{
    HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    REQUIRE(h != NULL);
    void *a = HeapAlloc(h, 0, 123), *b = HeapAlloc(h, 0, 456);
    REQUIRE(a && b);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 5);
    CHECK(entries[1].lpData == a && entries[2].lpData == b);
    CHECK(entries[2].lpData == at(a, 123 + entries[1].cbOverhead + 2 * P));
    CHECK(entries[3].lpData == at(b, 456 + entries[2].cbOverhead + 2 * P));
    CHECK_EQ(entries[3].cbOverhead, 4 * P);
    CHECK(entries[4].lpData == at(entries[3].lpData, entries[3].cbData + 2 * entries[3].cbOverhead));
    walk_counts c = check_identities(entries, n);
    CHECK_EQ(c.free_before_ucr, 1);
    CHECK(HeapDestroy(h));
}

/* A heap whose holes were decommitted: uncommitted ranges inside the region, after free
 * remainders and after busy blocks. */
TEST(identities_hold_around_every_uncommitted_range_of_a_heap_with_holes) /* spec §4.10 */
{
    HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    REQUIRE(h != NULL);
    enum { COUNT = 240 };
    static void *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) REQUIRE((blocks[i] = HeapAlloc(h, 0, 0x4000 + (SIZE_T)(i % 9) * 0x38 + 8)) != NULL);
    /* Runs of freed blocks big enough to hold whole pages, between live ones. */
    for (int i = 0; i < COUNT; i++)
        if ((i / 12) % 2 == 1) CHECK(HeapFree(h, 0, blocks[i]));
    (void)HeapCompact(h, 0); /* decommits the free pages */
    DWORD end = 0;
    size_t n = walk_all(h, entries, MAX_ENTRIES, &end);
    REQUIRE(n < MAX_ENTRIES);
    CHECK_EQ(end, ERROR_NO_MORE_ITEMS);
    walk_counts c = check_identities(entries, n);
    CHECK(c.ucr_inside >= 5); /* holes became uncommitted ranges followed by live blocks */
    CHECK(c.free_before_ucr >= 1);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

/* Every size of free block before an uncommitted range, the smallest ones included: the
 * identity holds even where the free block has less than 8P of data. */
TEST(identities_hold_for_free_blocks_of_every_size_before_an_uncommitted_range) /* spec §4.10 */
{
    size_t tiny_seen = 0, cases = 0;
    for (SIZE_T shave = 0; shave <= 0x100; shave += 0x10) {
        HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
        REQUIRE(h != NULL);
        size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
        REQUIRE(n == 3 && is_free(&entries[1]));
        /* The free block's whole data, less `shave` bytes: what is left is a small free block
         * just before the uncommitted range (or nothing). */
        SIZE_T whole = entries[1].cbData + 2u * entries[1].cbOverhead;
        void *p = HeapAlloc(h, 0, whole - shave - 2 * P);
        REQUIRE(p != NULL);
        n = walk_all(h, entries, MAX_ENTRIES, NULL);
        check_identities(entries, n);
        for (size_t i = 1; i + 1 < n; i++)
            if (is_free(&entries[i]) && (entries[i + 1].wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE)) {
                cases++;
                if (entries[i].cbOverhead < 4 * P) tiny_seen++;
            }
        CHECK(HeapValidate(h, 0, NULL));
        CHECK(HeapDestroy(h));
    }
    CHECK(cases >= 8);
    CHECK(tiny_seen >= 1);
}

/* ------------------------------------------------------------------------------- LFH */

static ULONG compatibility(HANDLE h)
{
    ULONG value = 0xFFFF;
    SIZE_T needed = 0;
    CHECK(HeapQueryInformation(h, HeapCompatibilityInformation, &value, sizeof value, &needed));
    return value;
}

TEST(lfh_never_engages_in_a_fixed_size_heap) /* spec §4.1: heaps with a maximum size get no LFH */
{
    HANDLE h = HeapCreate(0, 0, 0x100000);
    REQUIRE(h != NULL);
    static const SIZE_T sizes[] = { 0x10, 0x40, 0x100, 0x400 };
    for (size_t s = 0; s < 4; s++)
        for (int i = 0; i < 40; i++) REQUIRE(HeapAlloc(h, 0, sizes[s]) != NULL);
    CHECK_EQ(compatibility(h), 0);
    nth_heap_stats stats;
    REQUIRE(nth_heap_query_stats((nth_heap *)h, &stats));
    CHECK_EQ(stats.lfh_subsegments, 0);
    CHECK_EQ(stats.lfh_blocks, 0);
    ULONG two = 2;
    prime();
    CHECK(!HeapSetInformation(h, HeapCompatibilityInformation, &two, sizeof two));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(HeapDestroy(h));
}

TEST(lfh_never_engages_in_a_no_serialize_heap) /* spec §4.1, §4.12; WT uses such heaps as "non-LFH" */
{
    HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    REQUIRE(h != NULL);
    for (int i = 0; i < 100; i++) REQUIRE(HeapAlloc(h, 0, 0x30) != NULL);
    CHECK_EQ(compatibility(h), 0);
    nth_heap_stats stats;
    REQUIRE(nth_heap_query_stats((nth_heap *)h, &stats));
    CHECK_EQ(stats.lfh_subsegments, 0);
    CHECK(HeapDestroy(h));
}

TEST(lfh_never_engages_in_a_debug_heap) /* spec §4.1 / §8: debug heaps have no LFH */
{
    static const uint32_t debug[] = { NTH_TAIL_CHECKING_ENABLED, NTH_FREE_CHECKING_ENABLED };
    for (size_t d = 0; d < 2; d++) {
        HANDLE h = (HANDLE)nth_heap_create(debug[d], 0, 0); /* HeapCreate drops these flags, as Windows */
        REQUIRE(h != NULL);
        for (int i = 0; i < 100; i++) REQUIRE(HeapAlloc(h, 0, 0x30) != NULL);
        CHECK_EQ(compatibility(h), 0);
        CHECK(HeapDestroy(h));
    }
}

TEST(lfh_engages_at_the_19th_same_size_allocation_of_a_growable_heap) /* spec §2 (0x12 allocations), seed lecture */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    for (int i = 0; i < 18; i++) REQUIRE(HeapAlloc(h, 0, 0x100) != NULL);
    CHECK_EQ(compatibility(h), 0);
    REQUIRE(HeapAlloc(h, 0, 0x100) != NULL);
    CHECK_EQ(compatibility(h), 2);
    CHECK(HeapDestroy(h));
}

/* -------------------------------------------------------------------------- zeroing */

/* Wine's test tries 22 sizes; these 22 cover the back-end (odd, granule and unsplittable sizes),
 * every LFH bucket family, the largest in-segment block and a big block. */
static const SIZE_T zero_sizes[22] = { 1, 2, 7, 8, 9, 15, 16, 17, 23, 31, 33, 100, 0x101, 999, 0x3F1, 0x801,
                                       0x1001, 0x2F03, 0x3FFF, 0x8001, 0x20007, 0x180009 };

/* True if [from, to) of p reads zero. */
static bool zero_between(const void *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (((const unsigned char *)p)[i] != 0) return false;
    return true;
}

/* Fills `count` blocks of `size` bytes, whole usable size, with 0xA5 and frees them, so that
 * the next blocks of that size come from dirty memory. */
static void dirty(HANDLE h, SIZE_T size, int count)
{
    void *p[24];
    for (int i = 0; i < count; i++) {
        p[i] = HeapAlloc(h, 0, size);
        REQUIRE(p[i] != NULL);
        memset(p[i], 0xA5, nth_heap_usable_size((nth_heap *)h, p[i]));
    }
    for (int i = 0; i < count; i++) CHECK(HeapFree(h, 0, p[i]));
}

/* A fixed heap has no big blocks: it refuses requests from about 1 MiB on (spec §2). */
#define FIXED_HEAP_LARGEST 0xFD000

static void check_zeroing_alloc(HANDLE h, bool fixed)
{
    for (size_t s = 0; s < 22; s++) {
        SIZE_T size = zero_sizes[s];
        if (fixed && size > FIXED_HEAP_LARGEST) continue;
        dirty(h, size, 20); /* 20 same-size blocks: small sizes reach the LFH too */
        for (int k = 0; k < 20; k++) {
            unsigned char *p = HeapAlloc(h, HEAP_ZERO_MEMORY, size);
            REQUIRE(p != NULL);
            size_t usable = nth_heap_usable_size((nth_heap *)h, p);
            REQUIRE(usable != NTH_SIZE_ERROR && usable >= size);
            CHECK(zero_between(p, 0, size));
            if (!zero_between(p, size, usable)) {
                printf("    size %zu: bytes %zu..%zu past the request are not zero\n", (size_t)size, (size_t)size, usable);
                CHECK(zero_between(p, size, usable));
            }
        }
    }
}

TEST(zeroing_alloc_zeroes_the_whole_block_past_the_request_growable_heap) /* Wine's kernel32 heap test, 22 sizes */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    check_zeroing_alloc(h, false);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(zeroing_alloc_zeroes_the_whole_block_past_the_request_fixed_and_process_heaps) /* same */
{
    HANDLE h = HeapCreate(0, 0, 0x1000000);
    REQUIRE(h != NULL);
    check_zeroing_alloc(h, true);
    CHECK(HeapDestroy(h));
    check_zeroing_alloc(GetProcessHeap(), false);
}

TEST(zeroing_realloc_zeroes_past_the_request_when_growing_and_shrinking) /* spec §4.4 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    for (size_t s = 0; s < 22; s++) {
        SIZE_T size = zero_sizes[s];
        /* Grow from a dirty block of half the size. */
        SIZE_T small = size / 2;
        unsigned char *p = HeapAlloc(h, 0, small);
        REQUIRE(p != NULL);
        memset(p, 0xA5, nth_heap_usable_size((nth_heap *)h, p));
        unsigned char *q = HeapReAlloc(h, HEAP_ZERO_MEMORY, p, size);
        REQUIRE(q != NULL);
        size_t usable = nth_heap_usable_size((nth_heap *)h, q);
        bool kept = true;
        for (size_t i = 0; i < small; i++) kept = kept && q[i] == 0xA5;
        CHECK(kept);
        CHECK(zero_between(q, small, usable));
        /* Shrink a dirty block to the size. */
        unsigned char *r = HeapAlloc(h, 0, size * 2 + 64);
        REQUIRE(r != NULL);
        memset(r, 0xA5, nth_heap_usable_size((nth_heap *)h, r));
        unsigned char *t = HeapReAlloc(h, HEAP_ZERO_MEMORY, r, size);
        REQUIRE(t != NULL);
        usable = nth_heap_usable_size((nth_heap *)h, t);
        CHECK(zero_between(t, size, usable));
        CHECK(HeapFree(h, 0, q));
        CHECK(HeapFree(h, 0, t));
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(zeroinit_local_and_global_memory_reads_zero_past_the_request) /* spec §5.2 (LPTR, GHND zeroed) */
{
    for (size_t s = 0; s < 21; s++) {
        SIZE_T size = zero_sizes[s];
        dirty(GetProcessHeap(), size, 4);
        void *fixed = LocalAlloc(LPTR, size);
        REQUIRE(fixed != NULL);
        CHECK(zero_between(fixed, 0, nth_heap_usable_size(nth_process_heap(), fixed)));
        HGLOBAL moveable = GlobalAlloc(GHND, size);
        REQUIRE(moveable != NULL);
        void *data = GlobalLock(moveable);
        REQUIRE(data != NULL);
        CHECK(zero_between(data, 0, nth_heap_usable_size(nth_process_heap(), data)));
        GlobalUnlock(moveable);
        CHECK(LocalFree(fixed) == NULL);
        CHECK(GlobalFree(moveable) == NULL);
    }
}

/* --------------------------------------------------------------------------- overrun */

static void overrun_past_a_0x100_request(void)
{
    HANDLE h = HeapCreate(0, 0, 0);
    unsigned char *a = HeapAlloc(h, 0, 0x100), *b = HeapAlloc(h, 0, 0x100);
    if (!a || !b) _exit(90);
    win32_test_reports = 0;
    memset(a + 0x100, 0x41, 8); /* 8 bytes past the request */
    int validate = HeapValidate(h, 0, NULL) ? 1 : 0;
    int reports_after_validate = win32_test_reports;
    SetLastError(0);
    int freed = HeapFree(h, 0, b) ? 1 : 0;
    printf("validate=%d reports=%d free_b=%d error=%lu total_reports=%d\n", validate, reports_after_validate,
           freed, (unsigned long)GetLastError(), win32_test_reports);
}

TEST(an_8_byte_overrun_past_a_0x100_request_is_reported_never_a_crash) /* docs/win32.md: no slack */
{
    char out[256];
    int status = capture_child(overrun_past_a_0x100_request, out, sizeof out);
    CHECK_EQ(status, 0);
    int validate = -1, reports = -1, freed = -1, total = -1;
    unsigned long error = 0;
    CHECK_EQ(sscanf(out, "validate=%d reports=%d free_b=%d error=%lu total_reports=%d", &validate, &reports,
                    &freed, &error, &total),
             5);
    CHECK_EQ(validate, 0);       /* HeapValidate sees the damaged neighbour */
    CHECK(reports >= 1);         /* and reports it */
    CHECK_EQ(freed, 0);          /* the neighbour's HeapFree refuses the damaged block */
    CHECK_EQ(error, ERROR_INVALID_PARAMETER);
    CHECK(total > reports);      /* with a report of its own */
}

static void overrun_in_a_tail_checking_heap(void)
{
    /* The native tail-checking option keeps at least one granule of fill behind each request. */
    HANDLE h = (HANDLE)nth_heap_create(NTH_TAIL_CHECKING_ENABLED, 0, 0);
    unsigned char *a = HeapAlloc(h, 0, 0x100), *b = HeapAlloc(h, 0, 0x100);
    if (!a || !b) _exit(90);
    win32_test_reports = 0;
    memset(a + 0x100, 0x41, 8);
    int block_ok = HeapValidate(h, 0, a) ? 1 : 0;
    int neighbour_ok = HeapValidate(h, 0, b) ? 1 : 0;
    printf("a=%d b=%d reports=%d\n", block_ok, neighbour_ok, win32_test_reports);
}

TEST(with_tail_checking_the_overrun_is_charged_to_the_block_that_overran) /* spec §8 (tail fill) */
{
    char out[256];
    int status = capture_child(overrun_in_a_tail_checking_heap, out, sizeof out);
    CHECK_EQ(status, 0);
    int a = -1, b = -1, reports = -1;
    CHECK_EQ(sscanf(out, "a=%d b=%d reports=%d", &a, &b, &reports), 3);
    CHECK_EQ(a, 0); /* the overrun block fails its tail check */
    CHECK_EQ(b, 1); /* its neighbour is intact: the 8 bytes landed in the fill */
    CHECK(reports >= 1);
}

int main(int argc, char **argv)
{
    (void)argc;
    quiet_reports();
    RUN(free_entry_of_a_new_heap_has_overhead_4p_and_ends_2_overheads_before_the_uncommitted_range);
    RUN(busy_then_free_then_uncommitted_follow_windows_arithmetic);
    RUN(identities_hold_around_every_uncommitted_range_of_a_heap_with_holes);
    RUN(identities_hold_for_free_blocks_of_every_size_before_an_uncommitted_range);
    RUN(lfh_never_engages_in_a_fixed_size_heap);
    RUN(lfh_never_engages_in_a_no_serialize_heap);
    RUN(lfh_never_engages_in_a_debug_heap);
    RUN(lfh_engages_at_the_19th_same_size_allocation_of_a_growable_heap);
    RUN(zeroing_alloc_zeroes_the_whole_block_past_the_request_growable_heap);
    RUN(zeroing_alloc_zeroes_the_whole_block_past_the_request_fixed_and_process_heaps);
    RUN(zeroing_realloc_zeroes_past_the_request_when_growing_and_shrinking);
    RUN(zeroinit_local_and_global_memory_reads_zero_past_the_request);
    RUN(an_8_byte_overrun_past_a_0x100_request_is_reported_never_a_crash);
    RUN(with_tail_checking_the_overrun_is_charged_to_the_block_that_overran);
    return harness_finish(argv[0]);
}
