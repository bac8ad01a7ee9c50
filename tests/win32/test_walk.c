/*
 * test_walk.c — HeapWalk and HeapSummary against Windows' contracts (spec §4.10, §4.11; oracle
 * create.walk0, grow.*, large.*, child.walk_*, global.walk_*). Addresses are never compared with
 * fixed values: the tests check kinds, order, sizes the caller chose, and the identities between
 * entries.
 */
#include "win32_test.h"

#include <sys/mman.h>

#define MAX_ENTRIES 4096
static PROCESS_HEAP_ENTRY entries[MAX_ENTRIES];

static const char *kind(const PROCESS_HEAP_ENTRY *e)
{
    if (e->wFlags & PROCESS_HEAP_REGION) return "region";
    if (e->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE) return "uncommitted";
    if (e->wFlags & PROCESS_HEAP_ENTRY_BUSY) return "busy";
    return "free";
}

static char *at(const void *p, size_t offset)
{
    return (char *)p + offset;
}

/* The invariants every walk of every heap satisfies; returns the number of regions. With
 * `backend_only` (no LFH in the heap), Windows' identities between a block and the entry after
 * it are checked too: next.lpData == busy.lpData + busy.cbData + busy.cbOverhead + 2P, and
 * ucr.lpData == free.lpData + free.cbData + 2 * free.cbOverhead (more in test_conformance.c). */
static size_t check_walk_invariants(HANDLE heap, const PROCESS_HEAP_ENTRY *list, size_t n, bool backend_only)
{
    size_t regions = 0;
    const PROCESS_HEAP_ENTRY *region = NULL;
    const PROCESS_HEAP_ENTRY *previous = NULL;
    size_t uncommitted = 0;
    bool in_big_blocks = false;
    for (size_t i = 0; i <= n; i++) {
        const PROCESS_HEAP_ENTRY *e = i < n ? &list[i] : NULL;
        bool region_ends = !e || (e->wFlags & PROCESS_HEAP_REGION) || e->iRegionIndex == NTH_WIN32_BIG_BLOCK_REGION_INDEX;
        if (region && region_ends && !in_big_blocks) {
            /* The uncommitted ranges of a region add up to its uncommitted size. */
            CHECK_EQ(uncommitted, region->Region.dwUnCommittedSize);
        }
        if (!e) break;
        if (e->wFlags & PROCESS_HEAP_REGION) {
            CHECK(!in_big_blocks);
            regions++;
            region = e;
            previous = NULL;
            uncommitted = 0;
            CHECK_EQ(e->cbOverhead, 0);
            /* cbData is the region's header, not its reservation (as on Windows, whatever the
             * docs say); the first block follows it. */
            CHECK(e->cbData > 0 && e->cbData < e->Region.dwCommittedSize);
            CHECK((char *)e->Region.lpFirstBlock >= at(e->lpData, e->cbData));
            CHECK(at(e->lpData, e->Region.dwCommittedSize + e->Region.dwUnCommittedSize) ==
                  (char *)e->Region.lpLastBlock);
            if (i == 0) CHECK(e->lpData == heap);
            continue;
        }
        if (!region) { /* the walk starts with a region */
            CHECK(region != NULL);
            return regions;
        }
        if (e->iRegionIndex == NTH_WIN32_BIG_BLOCK_REGION_INDEX) {
            in_big_blocks = true;
            CHECK_EQ(e->wFlags & ~(PROCESS_HEAP_ENTRY_MOVEABLE | PROCESS_HEAP_ENTRY_DDESHARE), PROCESS_HEAP_ENTRY_BUSY);
            CHECK_EQ(e->cbOverhead, 0);
            continue;
        }
        CHECK(!in_big_blocks);
        CHECK_EQ(e->iRegionIndex, region->iRegionIndex);
        /* Inside its region, after the region's first block, in address order. */
        CHECK((char *)e->lpData >= (char *)region->Region.lpFirstBlock);
        CHECK(at(e->lpData, e->cbData) <= (char *)region->Region.lpLastBlock);
        if (e->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE) {
            CHECK_EQ(e->cbOverhead, 0);
            uncommitted += e->cbData;
        }
        if (previous && backend_only) {
            CHECK((char *)e->lpData >= at(previous->lpData, previous->cbData));
            if ((previous->wFlags & PROCESS_HEAP_ENTRY_BUSY) && !(e->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE))
                CHECK(e->lpData == at(previous->lpData, previous->cbData + previous->cbOverhead + 2 * sizeof(void *)));
            /* A free entry followed by an uncommitted range: ucr.lpData == lpData + cbData + 2 cbOverhead. */
            if (previous->wFlags == 0 && (e->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE))
                CHECK(e->lpData == at(previous->lpData, previous->cbData + 2u * previous->cbOverhead));
        }
        previous = e;
    }
    return regions;
}

/* -------------------------------------------------------------------------- fresh heap */

TEST(walk_of_a_new_heap_is_region_free_block_uncommitted_then_no_more_items) /* spec §4.10, oracle create.walk0.* */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    DWORD end = 0;
    size_t n = walk_all(h, entries, MAX_ENTRIES, &end);
    CHECK_EQ(n, 3);
    CHECK_EQ(end, ERROR_NO_MORE_ITEMS);
    REQUIRE(n == 3);
    CHECK_STR(kind(&entries[0]), "region");
    CHECK_STR(kind(&entries[1]), "free");
    CHECK_STR(kind(&entries[2]), "uncommitted");
    CHECK(entries[0].lpData == h);
    CHECK_EQ(entries[1].wFlags, 0);
    CHECK(entries[1].cbData > 0);
    CHECK(entries[2].lpData == at(entries[0].lpData, entries[0].Region.dwCommittedSize));
    CHECK(at(entries[2].lpData, entries[2].cbData) == (char *)entries[0].Region.lpLastBlock);
    CHECK_EQ(entries[2].cbData, entries[0].Region.dwUnCommittedSize);
    for (size_t i = 0; i < n; i++) CHECK_EQ(entries[i].iRegionIndex, 0);
    check_walk_invariants(h, entries, n, true);
    CHECK(HeapDestroy(h));
}

TEST(walk_after_the_end_keeps_answering_no_more_items) /* oracle child.walk_after_done */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    PROCESS_HEAP_ENTRY e = { .lpData = NULL };
    while (HeapWalk(h, &e)) {}
    CHECK_EQ(GetLastError(), ERROR_NO_MORE_ITEMS);
    prime();
    CHECK(!HeapWalk(h, &e));
    CHECK_EQ(GetLastError(), ERROR_NO_MORE_ITEMS);
    CHECK(HeapDestroy(h));
}

TEST(walk_restarts_when_lpdata_is_set_back_to_null) /* a walk restarted with lpData = NULL */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 123);
    REQUIRE(p != NULL);
    PROCESS_HEAP_ENTRY e = { .lpData = NULL };
    CHECK(HeapWalk(h, &e));
    CHECK(HeapWalk(h, &e));
    CHECK(e.lpData == p);
    e.lpData = NULL;
    CHECK(HeapWalk(h, &e));
    CHECK(e.wFlags & PROCESS_HEAP_REGION);
    CHECK(e.lpData == h);
    CHECK(HeapWalk(h, &e));
    CHECK(e.lpData == p);
    CHECK(HeapDestroy(h));
}

TEST(walk_repeated_on_an_unchanged_heap_is_byte_identical) /* spec §4.10 (WT memcmp of whole entries) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    for (int i = 0; i < 10; i++) REQUIRE(HeapAlloc(h, 0, 100 + (SIZE_T)i * 40) != NULL);
    REQUIRE(HeapAlloc(h, 0, 0x200000) != NULL);
    static PROCESS_HEAP_ENTRY again[MAX_ENTRIES];
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    size_t m = walk_all(h, again, MAX_ENTRIES, NULL);
    CHECK_EQ(n, m);
    CHECK(memcmp(entries, again, n * sizeof entries[0]) == 0);
    CHECK(HeapDestroy(h));
}

/* ---------------------------------------------------------------------- busy blocks */

TEST(walk_shows_busy_blocks_with_their_requested_sizes_in_address_order) /* spec §4.10 123/456 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *a = HeapAlloc(h, 0, 123);
    REQUIRE(a != NULL);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 4);
    CHECK_STR(kind(&entries[1]), "busy");
    CHECK_EQ(entries[1].wFlags, PROCESS_HEAP_ENTRY_BUSY);
    CHECK(entries[1].lpData == a);
    CHECK_EQ(entries[1].cbData, 123);
    CHECK_STR(kind(&entries[2]), "free");
    CHECK_STR(kind(&entries[3]), "uncommitted");
    /* Windows' identity: free.lpData == busy.lpData + busy.cbData + busy.cbOverhead + 2P. */
    CHECK(entries[2].lpData == at(a, 123 + entries[1].cbOverhead + 2 * sizeof(void *)));

    void *b = HeapAlloc(h, 0, 456);
    REQUIRE(b != NULL);
    n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 5);
    CHECK(entries[1].lpData == a && entries[1].cbData == 123);
    CHECK(entries[2].lpData == b && entries[2].cbData == 456); /* carved from the front of the free block */
    CHECK_STR(kind(&entries[3]), "free");
    CHECK_STR(kind(&entries[4]), "uncommitted");
    check_walk_invariants(h, entries, n, true);
    CHECK(HeapDestroy(h));
}

TEST(walk_after_100_allocations_and_two_frees_shows_one_coalesced_hole) /* oracle grow.after100, grow.after_free17_18 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *blocks[100];
    /* Distinct sizes around 0x100 keep every block in the back-end. */
    for (int i = 0; i < 100; i++) REQUIRE((blocks[i] = HeapAlloc(h, 0, 0x100 + (SIZE_T)(i % 5) * 0x10 + (SIZE_T)(i / 20) * 0x100)) != NULL);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    size_t busy = 0;
    for (size_t i = 0; i < n; i++) busy += (entries[i].wFlags & PROCESS_HEAP_ENTRY_BUSY) != 0;
    CHECK_EQ(busy, 100);
    CHECK(HeapFree(h, 0, blocks[16]));
    CHECK(HeapFree(h, 0, blocks[17]));
    n = walk_all(h, entries, MAX_ENTRIES, NULL);
    size_t free_between = 0, busy_after = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].wFlags & PROCESS_HEAP_ENTRY_BUSY) busy_after++;
        if (entries[i].wFlags == 0 && entries[i].lpData > blocks[15] && entries[i].lpData < blocks[18]) {
            free_between++;
            CHECK(entries[i].lpData == blocks[16]); /* one free entry where the 17th started */
        }
    }
    CHECK_EQ(busy_after, 98);
    CHECK_EQ(free_between, 1);
    check_walk_invariants(h, entries, n, true);
    CHECK(HeapDestroy(h));
}

/* ----------------------------------------------------------------------- big blocks */

TEST(walk_lists_big_blocks_last_with_region_index_64) /* spec §4.10 VM blocks, oracle large.walk.e4/entry_for_big */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    static PROCESS_HEAP_ENTRY before[8];
    size_t n0 = walk_all(h, before, 8, NULL);
    REQUIRE(n0 == 3);
    void *big1 = HeapAlloc(h, 0, 0x200000);
    void *big2 = HeapAlloc(h, 0, 0x300000);
    REQUIRE(big1 && big2);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 5);
    CHECK(memcmp(entries, before, 3 * sizeof entries[0]) == 0); /* the segment's entries are unchanged */
    for (size_t i = 3; i < 5; i++) {
        CHECK_EQ(entries[i].wFlags, PROCESS_HEAP_ENTRY_BUSY);
        CHECK_EQ(entries[i].cbOverhead, 0);
        CHECK_EQ(entries[i].iRegionIndex, NTH_WIN32_BIG_BLOCK_REGION_INDEX);
        CHECK(entries[i].lpData == big1 || entries[i].lpData == big2);
        CHECK_EQ(entries[i].cbData, entries[i].lpData == big1 ? 0x200000 : 0x300000);
    }
    CHECK(entries[3].lpData != entries[4].lpData);
    check_walk_invariants(h, entries, n, true);
    CHECK(HeapFree(h, 0, big1));
    CHECK(HeapFree(h, 0, big2));
    n = walk_all(h, entries, MAX_ENTRIES, NULL);
    CHECK_EQ(n, 3);
    CHECK(memcmp(entries, before, 3 * sizeof entries[0]) == 0);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(walk_lists_big_blocks_in_allocation_order) /* spec §4.10: "then every VM block, in allocation order" */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *big[3];
    for (int i = 0; i < 3; i++) REQUIRE((big[i] = HeapAlloc(h, 0, 0x200000 + (SIZE_T)i * 0x10000)) != NULL);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    REQUIRE(n == 6);
    for (int i = 0; i < 3; i++) CHECK(entries[3 + i].lpData == big[i]);
    CHECK(HeapDestroy(h));
}

/* -------------------------------------------------------------- growth and many regions */

TEST(walk_of_a_grown_heap_has_a_region_per_segment_and_every_block_once) /* oracle grow.after_fill.* */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    enum { COUNT = 3000 };
    static void *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) REQUIRE((blocks[i] = HeapAlloc(h, 0, 0x1000 + (SIZE_T)(i % 7) * 16)) != NULL);
    static PROCESS_HEAP_ENTRY list[COUNT + 256];
    DWORD end = 0;
    size_t n = walk_all(h, list, COUNT + 256, &end);
    REQUIRE(n <= COUNT + 256);
    CHECK_EQ(end, ERROR_NO_MORE_ITEMS);
    size_t regions = check_walk_invariants(h, list, n, false);
    CHECK(regions >= 2); /* 12 MB do not fit the first segment */
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(list[i].wFlags & PROCESS_HEAP_ENTRY_BUSY)) continue;
        for (int j = 0; j < COUNT; j++)
            if (list[i].lpData == blocks[j]) {
                found++;
                CHECK_EQ(list[i].cbData, 0x1000 + (SIZE_T)(j % 7) * 16);
                break;
            }
    }
    CHECK_EQ(found, COUNT);
    CHECK(HeapDestroy(h));
}

/* ---------------------------------------------------------------------------- LFH */

TEST(walk_reports_lfh_blocks_individually) /* spec §4.10 LFH blocks inline (Wine reports one group) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    ULONG lfh = 2;
    CHECK(HeapSetInformation(h, HeapCompatibilityInformation, &lfh, sizeof lfh));
    enum { COUNT = 64 };
    void *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) REQUIRE((blocks[i] = HeapAlloc(h, 0, 0x40)) != NULL);
    DWORD end = 0;
    size_t n = walk_all(h, entries, MAX_ENTRIES, &end);
    CHECK_EQ(end, ERROR_NO_MORE_ITEMS);
    CHECK(n > 24);
    int found = 0;
    for (int j = 0; j < COUNT; j++)
        for (size_t i = 0; i < n; i++)
            if (entries[i].lpData == blocks[j]) {
                CHECK(entries[i].wFlags & PROCESS_HEAP_ENTRY_BUSY);
                CHECK_EQ(entries[i].cbData, 0x40);
                found++;
                break;
            }
    CHECK_EQ(found, COUNT);
    CHECK(HeapDestroy(h));
}

/* --------------------------------------------------------------- forged positions */

TEST(walk_with_a_garbage_lpdata_fails_with_invalid_parameter) /* oracle child.walk_garbage_lpdata */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    static char elsewhere[64];
    void *cases[] = { (void *)0x1234, elsewhere };
    for (size_t i = 0; i < 2; i++) {
        PROCESS_HEAP_ENTRY e;
        memset(&e, 0, sizeof e);
        e.lpData = cases[i];
        prime();
        CHECK(!HeapWalk(h, &e));
        CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    }
    CHECK(HeapDestroy(h));
}

TEST(walk_with_lpdata_inside_a_block_never_crashes) /* oracle child.walk_mid_block_lpdata */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    char *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    e.lpData = p + 0x40;
    e.wFlags = PROCESS_HEAP_ENTRY_BUSY;
    prime();
    BOOL ok = HeapWalk(h, &e);
    if (!ok) CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(walk_resumes_from_a_copied_entry) /* spec §4.10: all state is in the struct */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    for (int i = 0; i < 5; i++) REQUIRE(HeapAlloc(h, 0, 50 + (SIZE_T)i) != NULL);
    REQUIRE(HeapAlloc(h, 0, 0x200000) != NULL);
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    for (size_t i = 0; i + 1 < n; i++) {
        PROCESS_HEAP_ENTRY copy = entries[i];
        CHECK(HeapWalk(h, &copy));
        CHECK(memcmp(&copy, &entries[i + 1], sizeof copy) == 0);
    }
    CHECK(HeapDestroy(h));
}

/* --------------------------------------------------------------- moveable blocks */

static const PROCESS_HEAP_ENTRY *find_entry(const PROCESS_HEAP_ENTRY *list, size_t n, const void *data)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].lpData == data && !(list[i].wFlags & (PROCESS_HEAP_REGION | PROCESS_HEAP_UNCOMMITTED_RANGE)))
            return &list[i];
    return NULL;
}

TEST(walk_marks_moveable_blocks_with_their_handle) /* seed 001 PROCESS_HEAP_ENTRY_MOVEABLE/Block.hMem (Wine misses it) */
{
    HGLOBAL moveable = GlobalAlloc(GMEM_MOVEABLE, 100);
    HGLOBAL shared = GlobalAlloc(GMEM_MOVEABLE | GMEM_DDESHARE, 200);
    HGLOBAL fixed = GlobalAlloc(GMEM_FIXED, 300);
    REQUIRE(moveable && shared && fixed);
    void *data = GlobalLock(moveable), *shared_data = GlobalLock(shared);
    REQUIRE(data && shared_data);
    static PROCESS_HEAP_ENTRY list[16384];
    CHECK(HeapLock(GetProcessHeap()));
    size_t n = walk_all(GetProcessHeap(), list, 16384, NULL);
    CHECK(HeapUnlock(GetProcessHeap()));
    REQUIRE(n <= 16384);
    const PROCESS_HEAP_ENTRY *e = find_entry(list, n, data);
    REQUIRE(e != NULL);
    CHECK_EQ(e->wFlags, PROCESS_HEAP_ENTRY_BUSY | PROCESS_HEAP_ENTRY_MOVEABLE);
    CHECK(e->Block.hMem == moveable);
    CHECK_EQ(e->cbData, 100);
    e = find_entry(list, n, shared_data);
    REQUIRE(e != NULL);
    CHECK_EQ(e->wFlags, PROCESS_HEAP_ENTRY_BUSY | PROCESS_HEAP_ENTRY_MOVEABLE | PROCESS_HEAP_ENTRY_DDESHARE);
    CHECK(e->Block.hMem == shared);
    e = find_entry(list, n, fixed);
    REQUIRE(e != NULL);
    CHECK_EQ(e->wFlags, PROCESS_HEAP_ENTRY_BUSY);
    check_walk_invariants(GetProcessHeap(), list, n, false);

    /* After a moving realloc the entry follows the data. */
    GlobalUnlock(moveable);
    CHECK(GlobalReAlloc(moveable, 100000, GMEM_MOVEABLE) == moveable);
    void *moved = GlobalLock(moveable);
    n = walk_all(GetProcessHeap(), list, 16384, NULL);
    e = find_entry(list, n, moved);
    REQUIRE(e != NULL);
    CHECK_EQ(e->wFlags, PROCESS_HEAP_ENTRY_BUSY | PROCESS_HEAP_ENTRY_MOVEABLE);
    CHECK(e->Block.hMem == moveable);
    CHECK_EQ(e->cbData, 100000);
    CHECK(GlobalFree(moveable) == NULL);
    CHECK(GlobalFree(shared) == NULL);
    CHECK(GlobalFree(fixed) == NULL);
}

TEST(walk_does_not_mark_blocks_of_private_heaps_moveable)
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    HGLOBAL g = GlobalAlloc(GMEM_MOVEABLE, 10);
    REQUIRE(g != NULL);
    /* A private block that happens to carry a handle as its user value is not moveable memory. */
    void *p = HeapAlloc(h, HEAP_SETTABLE_USER_VALUE | HEAP_SETTABLE_USER_FLAG1, 10);
    REQUIRE(p != NULL);
    CHECK(nth_heap_set_user_value((nth_heap *)h, p, (uintptr_t)g));
    size_t n = walk_all(h, entries, MAX_ENTRIES, NULL);
    const PROCESS_HEAP_ENTRY *e = find_entry(entries, n, p);
    REQUIRE(e != NULL);
    CHECK_EQ(e->wFlags, PROCESS_HEAP_ENTRY_BUSY);
    CHECK(GlobalFree(g) == NULL);
    CHECK(HeapDestroy(h));
}

/* ------------------------------------------------------------------- HeapSummary */

TEST(summary_rejects_a_wrong_cb) /* spec §4.11 */
{
    HEAP_SUMMARY s;
    memset(&s, 0, sizeof s);
    prime();
    CHECK(!HeapSummary(GetProcessHeap(), 0, &s));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    s.cb = sizeof s + 1;
    CHECK(!HeapSummary(GetProcessHeap(), 0, &s));
}

TEST(summary_counts_live_requested_bytes) /* spec §4.11 (0x100, 0x200, 0x60000; 0x300 freed) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *a = HeapAlloc(h, 0, 0x100), *b = HeapAlloc(h, 0, 0x200), *c = HeapAlloc(h, 0, 0x300),
         *d = HeapAlloc(h, 0, 0x60000);
    REQUIRE(a && b && c && d);
    CHECK(HeapFree(h, 0, c));
    HEAP_SUMMARY s = { .cb = sizeof s };
    prime();
    CHECK(HeapSummary(h, 0, &s));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK_EQ(s.cbAllocated, 0x100 + 0x200 + 0x60000);
    CHECK(s.cbCommitted >= s.cbAllocated);
    CHECK(s.cbReserved >= s.cbCommitted);
    CHECK(s.cbMaxReserve >= s.cbReserved);
    CHECK(HeapDestroy(h));
}

/* ------------------------------------------------------- the caller's structures */

/* A page that was mapped and is no longer, and a read-only one. */
static void *gone_page(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    munmap(p, 4096);
    return p;
}

static void *read_only_page(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    ((HEAP_SUMMARY *)p)->cb = sizeof(HEAP_SUMMARY); /* a summary that is right but for being read-only */
    mprotect(p, 4096, PROT_READ);
    return p;
}

/* The structures these calls fill are read and written through the kernel: one that is not
 * writable memory fails the call with ERROR_NOACCESS instead of faulting in it. */
TEST(wild_structures_to_fill_are_refused_with_noaccess)
{
    void *read_only = read_only_page(), *gone = gone_page();
    REQUIRE(gone && read_only);
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *targets[] = {gone, read_only};
    for (size_t i = 0; i < 2; i++) {
        prime();
        CHECK(!HeapWalk(h, targets[i]));
        CHECK_EQ(GetLastError(), ERROR_NOACCESS);
        prime();
        CHECK(!HeapSummary(h, 0, targets[i]));
        CHECK_EQ(GetLastError(), ERROR_NOACCESS);
        prime();
        CHECK_EQ(GetProcessHeaps(4, targets[i]), 0);
        CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    }
    /* A good entry after a refused one walks as ever. */
    PROCESS_HEAP_ENTRY e = {0};
    CHECK(HeapWalk(h, &e) && (e.wFlags & PROCESS_HEAP_REGION));
    CHECK(HeapDestroy(h));
    munmap(read_only, 4096);
}

int main(int argc, char **argv)
{
    (void)argc;
    quiet_reports();
    RUN(walk_of_a_new_heap_is_region_free_block_uncommitted_then_no_more_items);
    RUN(walk_after_the_end_keeps_answering_no_more_items);
    RUN(walk_restarts_when_lpdata_is_set_back_to_null);
    RUN(walk_repeated_on_an_unchanged_heap_is_byte_identical);
    RUN(walk_shows_busy_blocks_with_their_requested_sizes_in_address_order);
    RUN(walk_after_100_allocations_and_two_frees_shows_one_coalesced_hole);
    RUN(walk_lists_big_blocks_last_with_region_index_64);
    RUN(walk_lists_big_blocks_in_allocation_order);
    RUN(walk_of_a_grown_heap_has_a_region_per_segment_and_every_block_once);
    RUN(walk_reports_lfh_blocks_individually);
    RUN(walk_with_a_garbage_lpdata_fails_with_invalid_parameter);
    RUN(walk_with_lpdata_inside_a_block_never_crashes);
    RUN(walk_resumes_from_a_copied_entry);
    RUN(walk_marks_moveable_blocks_with_their_handle);
    RUN(walk_does_not_mark_blocks_of_private_heaps_moveable);
    RUN(summary_rejects_a_wrong_cb);
    RUN(summary_counts_live_requested_bytes);
    RUN(wild_structures_to_fill_are_refused_with_noaccess);
    return harness_finish(argv[0]);
}
