/*
 * test_unit_backend.c — the back-end's internals, tested directly: the free-list index, the
 * uncommitted-range table (merging, growth past its inline slots), the checked free-list walk
 * that finds the block whose links were overwritten, damage containment (one report, the heap
 * stays whole), compaction down to the documented reserve, growth under an address-space
 * limit (no segment cap, smaller reservations when large ones fail), damaged headers that cost
 * their own blocks only, free memory kept committed while recent demand covers it, and the room
 * a block grown in place keeps.
 */
#include <sys/resource.h>
#include <time.h>

#define HARNESS_CORRUPTS_ON_PURPOSE /* the damage tests overwrite headers */
#include "harness/harness.h"
#include "heap/internal.h"
#include "ntheap.h"

static int reports;
static const void *last_address;
static void count_reports(const nth_report *report, void *context)
{
    (void)context;
    reports++;
    last_address = report->address;
}

TEST(freelist_index_is_monotonic_and_exact_below_128)
{
    for (uint32_t s = 2; s < NTH_EXACT_LISTS; s++) CHECK_EQ(nth_freelist_index(s), s);
    CHECK_EQ(nth_freelist_index(128), 128);
    CHECK_EQ(nth_freelist_index(143), 128);  /* 128 .. 143: the first class of 16 granules */
    CHECK_EQ(nth_freelist_index(144), 129);
    CHECK_EQ(nth_freelist_index(255), 135);
    CHECK_EQ(nth_freelist_index(256), 136);
    CHECK_EQ(nth_freelist_index(UINT32_MAX), NTH_FREE_LISTS - 1);
    unsigned prev = 0;
    for (uint32_t s = 2; s < (1u << 22); s += 1 + s / 64) {
        unsigned i = nth_freelist_index(s);
        CHECK(i >= prev && i < NTH_FREE_LISTS);
        prev = i;
    }
}

static nth_segment *synthetic_segment(void)
{
    static nth_segment seg;
    static char space[64 << 10] __attribute__((aligned(4096)));
    memset(&seg, 0, sizeof seg);
    seg.owner.base = space;
    seg.limit = space + sizeof space;
    seg.ucr = seg.ucr_inline;
    seg.ucr_capacity = NTH_INLINE_UCR;
    return &seg;
}

TEST(ucr_insert_keeps_ranges_sorted_and_merges_neighbours)
{
    nth_segment *seg = synthetic_segment();
    nth_segment_ucr_insert(seg, 10, 2, 1);
    nth_segment_ucr_insert(seg, 4, 2, 2);
    nth_segment_ucr_insert(seg, 14, 1, 3);
    REQUIRE(seg->n_ucr == 3);
    CHECK_EQ(seg->ucr[0].offset_pg, 4);
    CHECK_EQ(seg->ucr[1].offset_pg, 10);
    CHECK_EQ(seg->ucr[2].offset_pg, 14);
    nth_segment_ucr_insert(seg, 12, 2, 4); /* fills the gap between 10+2 and 14: one range */
    REQUIRE(seg->n_ucr == 2);
    CHECK_EQ(seg->ucr[1].offset_pg, 10);
    CHECK_EQ(seg->ucr[1].size_pg, 5);
    CHECK_EQ(seg->ucr[1].last_block_gr, 1); /* the block before the merged range is the first's */
    nth_segment_ucr_insert(seg, 2, 2, 5); /* ends where [4, 6) starts: the range grows down */
    REQUIRE(seg->n_ucr == 2);
    CHECK_EQ(seg->ucr[0].offset_pg, 2);
    CHECK_EQ(seg->ucr[0].size_pg, 4);
    CHECK_EQ(seg->ucr[0].last_block_gr, 5);
    CHECK(nth_segment_ucr_at(seg, seg->owner.base + 10 * NTH_PAGE) == &seg->ucr[1]);
    CHECK(nth_segment_is_committed(seg, seg->owner.base + 6 * NTH_PAGE, 4 * NTH_PAGE));
    CHECK(!nth_segment_is_committed(seg, seg->owner.base + 6 * NTH_PAGE, 4 * NTH_PAGE + 1));
}

/* A back-end-only heap with `n` free blocks of the same size, kept apart by busy guards. */
static nth_heap *heap_with_free_run(char **freed, int n, size_t size)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    for (int i = 0; i < n; i++) {
        freed[i] = nth_heap_alloc(heap, 0, size);
        (void)!nth_heap_alloc(heap, 0, 64);
    }
    for (int i = 0; i < n; i++) nth_heap_free(heap, 0, freed[i]);
    return heap;
}

TEST(verify_names_the_block_whose_links_were_overwritten)
{
    char *b[5];
    nth_heap *heap = heap_with_free_run(b, 5, 1000);
    unsigned index = nth_freelist_index(nth_backend_block_gr(heap, 0, 1000));
    char *suspect = (char *)1;
    nth_heap_lock(heap); /* the precondition of the *_locked internals (checked in DEBUG=1 builds) */
    CHECK(nth_freelist_verify_locked(heap, index, &suspect));
    CHECK(suspect == NULL);
    /* Overwritten with text; then pointing at another member (a short cycle); then only prev. */
    char saved[16];
    memcpy(saved, b[2], 16);
    memcpy(b[2], "overwritten text", 16);
    CHECK(!nth_freelist_verify_locked(heap, index, &suspect));
    CHECK(suspect == b[2] - 16);
    memcpy(b[2], &b[0], sizeof(char *));
    CHECK(!nth_freelist_verify_locked(heap, index, &suspect));
    CHECK(suspect == b[2] - 16);
    memcpy(b[2], saved, 16);
    memcpy(b[2] + 8, &b[4], sizeof(char *));
    CHECK(!nth_freelist_verify_locked(heap, index, &suspect));
    CHECK(suspect == b[2] - 16);
    memcpy(b[2], saved, 16);
    CHECK(nth_freelist_verify_locked(heap, index, &suspect));
    nth_heap_unlock(heap);
    nth_heap_destroy(heap);
}

TEST(damage_is_reported_once_and_the_heap_stays_whole)
{
    char *b[8];
    nth_heap *heap = heap_with_free_run(b, 8, 1000);
    nth_set_report_handler(count_reports, NULL);
    reports = 0;
    memset(b[5], 0x41, 16);
    void *got[64];
    for (int i = 0; i < 64; i++) {
        got[i] = nth_heap_alloc(heap, 0, 1000); /* the size whose list is damaged */
        CHECK(got[i] != NULL && got[i] != b[5]);
    }
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    (void)nth_heap_compact(heap, 0);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK_EQ(reports, 1);
    CHECK(last_address == b[5]);
    CHECK(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.damaged_blocks, 1);
    /* The seven sound blocks of that size were served again (last freed, first used). */
    int reused = 0;
    for (int i = 0; i < 64; i++)
        for (int k = 0; k < 8; k++) reused += got[i] == b[k];
    CHECK_EQ(reused, 7);
    /* A stale free of the damaged block is a double free, and nothing else changes. */
    CHECK(!nth_heap_free(heap, 0, b[5]));
    CHECK_EQ(nth_last_error(), NTH_ERR_DOUBLE_FREE);
    for (int i = 0; i < 64; i++) CHECK(nth_heap_free(heap, 0, got[i]));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* Two damaged headers in a row (an overrun into each) cost those two blocks: the traversal finds
 * the block after them, the blocks past them stay in service, and the growth of the heap merges
 * with the free block before the uncommitted range as on a sound heap. */
TEST(a_run_of_damaged_headers_costs_only_those_blocks)
{
    nth_set_report_handler(count_reports, NULL);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    char *f = nth_heap_alloc(heap, 0, 20000), *a = nth_heap_alloc(heap, 0, 20000), *b = nth_heap_alloc(heap, 0, 20000);
    char *d = nth_heap_alloc(heap, 0, 20000), *e = nth_heap_alloc(heap, 0, 20000), *x = nth_heap_alloc(heap, 0, 20000);
    REQUIRE(f && a && b && d && e && x);
    CHECK(nth_heap_free(heap, 0, x)); /* merges with the rest: the last block before the range */
    CHECK(nth_heap_free(heap, 0, f));
    CHECK(nth_heap_free(heap, 0, d));
    char *volatile past_a = a + 20000, *volatile past_b = b + 20000; /* volatile: unseen overflows */
    memset(past_a, 0x55, 16); /* overflows into b's header */
    memset(past_b, 0x55, 16); /* and into d's */
    /* This size's list meets d's header: the lists are rebuilt past b and d, and f serves. */
    CHECK(nth_heap_alloc(heap, 0, 20000) == f);
    bool e_seen = false;
    nth_walk_entry entry = {0};
    nth_heap_lock(heap);
    while (nth_heap_walk(heap, &entry)) e_seen |= entry.data == e;
    nth_heap_unlock(heap);
    CHECK(e_seen);
    char *big = nth_heap_alloc(heap, 0, 100000);
    CHECK(big != NULL);
    if (big) memset(big, 0x7E, 100000);
    CHECK(reports >= 1);
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* Past a damaged header, the block after it is looked for as far as the committed run goes: a free
 * block of a fixed heap can be larger than any block the back-end hands out. */
TEST(the_block_after_a_large_damaged_free_block_is_found)
{
    nth_set_report_handler(count_reports, NULL);
    nth_heap *heap = nth_heap_create(0, 8u << 20, 8u << 20); /* fixed: no big blocks */
    REQUIRE(heap);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    char *a = nth_heap_alloc(heap, 0, 100), *f[3];
    for (int i = 0; i < 3; i++) f[i] = nth_heap_alloc(heap, 0, 500000);
    char *b = nth_heap_alloc(heap, 0, 100);
    REQUIRE(a && f[0] && f[1] && f[2] && b);
    for (int i = 0; i < 3; i++) CHECK(nth_heap_free(heap, 0, f[i])); /* one free block of 1.5 MB */
    char *volatile f_header = f[0] - 16;
    memset(f_header, 0x55, 16);
    bool b_seen = false;
    nth_walk_entry entry = {0};
    nth_heap_lock(heap);
    while (nth_heap_walk(heap, &entry)) b_seen |= entry.data == b && (entry.flags & NTH_ENTRY_BUSY);
    nth_heap_unlock(heap);
    CHECK(b_seen);
    CHECK(reports >= 1);
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* A validate names every damaged header, as a walk does: it steps past each one it reports. */
TEST(validate_reports_every_damaged_header)
{
    nth_set_report_handler(count_reports, NULL);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    char *b[30];
    for (int i = 0; i < 30; i++) REQUIRE((b[i] = nth_heap_alloc(heap, 0, 20000)) != NULL);
    for (int i = 5; i < 30; i += 10) {
        char *volatile past = b[i] + 20000; /* volatile: an overrun the compiler does not see */
        memset(past, 0x5A, 16);             /* b[i + 1]'s header */
    }
    for (int round = 0; round < 2; round++) { /* and again: the headers are not repaired */
        reports = 0;
        CHECK(!nth_heap_validate(heap, 0, NULL));
        CHECK_EQ(reports, 3);
    }
    reports = 0;
    nth_walk_entry entry = {0};
    nth_heap_lock(heap);
    while (nth_heap_walk(heap, &entry)) {}
    nth_heap_unlock(heap);
    CHECK_EQ(reports, 3);
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* A damaged header costs its own block only: the traversal finds the block after it again, so a
 * rebuild of the lists lists the free blocks past it and the heap serves them. */
TEST(the_blocks_after_a_damaged_header_stay_in_service)
{
    nth_set_report_handler(count_reports, NULL);
    char *b[4];
    nth_heap *heap = heap_with_free_run(b, 4, 3000); /* b[i] free, each followed by a busy guard */
    REQUIRE(heap);
    char *volatile guard0_header = b[0] - 16 + (3000 + 16 + 15) / 16 * 16; /* where b[0]'s block ends */
    memset(guard0_header, 0x55, 16); /* the first guard's header overwritten */
    memset(b[3], 0x41, 16);          /* b[3]'s links too: the first allocation rebuilds the lists */
    reports = 0;
    char *got[3];
    for (int i = 0; i < 3; i++) got[i] = nth_heap_alloc(heap, 0, 3000);
    CHECK(reports >= 1);
    /* b[3] is out of service; b[0], and b[1] and b[2] past the damaged guard, serve. */
    int reused = 0;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) reused += got[i] == b[k];
    CHECK_EQ(reused, 3);
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* An overrun into the header of the free block before the uncommitted range: the heap commits
 * the pages after that block as a block of their own, and a fixed heap keeps serving. */
TEST(an_overrun_into_the_last_header_does_not_stop_growth)
{
    nth_set_report_handler(count_reports, NULL);
    nth_heap *heap = nth_heap_create(0, 0, 32u << 20); /* fixed: no new segment to fall back on */
    REQUIRE(heap);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    char *a = nth_heap_alloc(heap, 0, 96); /* whole granules: the next header follows its data */
    REQUIRE(a);
    memset(a, 0x11, 96);
    char *volatile next_header = a + 96;
    next_header[0] ^= 1; /* a one-byte overrun */
    reports = 0;
    int served = 0;
    for (int i = 0; i < 200; i++) served += nth_heap_alloc(heap, 0, i % 2 ? 100 : 5000) != NULL;
    CHECK_EQ(served, 200);
    CHECK(reports >= 1 && reports <= 4); /* reported, not once per allocation */
    CHECK(a[0] == 0x11 && a[95] == 0x11);
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* A write after free over the links of a large free block (a freed block merged with the rest of
 * a fixed heap) takes the block's first 64 KiB out of service, not the whole block. */
TEST(a_large_damaged_free_block_loses_its_first_64_kib_only)
{
    nth_set_report_handler(count_reports, NULL);
    nth_heap *heap = nth_heap_create(0, 1u << 20, 1u << 20); /* fixed, 1 MiB committed */
    REQUIRE(heap);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    REQUIRE(nth_heap_alloc(heap, 0, 100));
    char *a = nth_heap_alloc(heap, 0, 100);
    REQUIRE(a);
    CHECK(nth_heap_free(heap, 0, a)); /* merges with the free rest of the heap */
    char *volatile stale = a;
    memset(stale, 0x5C, 16); /* its links, written after free */
    reports = 0;
    int served = 0;
    for (int i = 0; i < 100; i++) served += nth_heap_alloc(heap, 0, 64) != NULL;
    CHECK_EQ(served, 100);
    CHECK(reports >= 1);
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.damaged_blocks, 1);
    CHECK_EQ(st.damaged_bytes, (size_t)64 << 10);
    CHECK(nth_heap_alloc(heap, 0, 500000) != NULL); /* the rest serves large sizes too */
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

TEST(cyclic_free_list_ends_walks_with_a_report)
{
    char *b[4];
    nth_heap *heap = heap_with_free_run(b, 4, 3000);
    nth_set_report_handler(count_reports, NULL);
    reports = 0;
    /* b[1]'s next points back at b[3]'s links and its prev at itself: a cycle either way. */
    char *back = b[3], *self = b[1];
    memcpy(b[1], &back, sizeof back);
    memcpy(b[1] + 8, &self, sizeof self);
    CHECK(!nth_heap_validate(heap, 0, NULL)); /* must end */
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    (void)nth_heap_compact(heap, 0);
    for (int i = 0; i < 16; i++) CHECK(nth_heap_alloc(heap, 0, 3000) != NULL);
    CHECK(reports >= 1);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

/* Documented in stats.c and docs/design.md: after every block is freed, compaction leaves per
 * segment its header block rounded up to pages plus at most one page committed. */
static size_t compact_reserve(const nth_heap_stats *st)
{
    size_t first = nth_round_up(nth_segment_header_bytes(true), NTH_PAGE) + NTH_PAGE;
    size_t other = nth_round_up(nth_segment_header_bytes(false), NTH_PAGE) + NTH_PAGE;
    return first + (st->segments - 1) * other;
}

TEST(compaction_decommits_past_a_full_ucr_table)
{
    enum { PAIRS = 1000 };
    static char *big[PAIRS], *small[PAIRS];
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_FREE_BLOCK, 2 * NTH_PAGE);
    nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_TOTAL_FREE, 0);
    for (int i = 0; i < PAIRS; i++) {
        big[i] = nth_heap_alloc(heap, 0, 5 * NTH_PAGE);
        small[i] = nth_heap_alloc(heap, 0, 64);
        REQUIRE(big[i] && small[i]);
        memset(big[i], 1, 5 * NTH_PAGE);
    }
    for (int i = 0; i < PAIRS; i++) nth_heap_free(heap, 0, big[i]);
    nth_heap_stats st;
    nth_heap_compact(heap, 0);
    CHECK(nth_heap_query_stats(heap, &st));
    CHECK(st.uncommitted_ranges > 4 * NTH_INLINE_UCR); /* the tables grew past their inline slots */
    CHECK(nth_heap_validate(heap, 0, NULL));
    for (int i = 0; i < PAIRS; i++) nth_heap_free(heap, 0, small[i]);
    nth_heap_compact(heap, 0);
    CHECK(nth_heap_query_stats(heap, &st));
    fprintf(stderr, "  after compaction: %zu bytes committed in %zu segments (reserve %zu), %zu ranges\n",
            st.committed, st.segments, compact_reserve(&st), st.uncommitted_ranges);
    CHECK(st.committed <= compact_reserve(&st));
    CHECK(nth_heap_validate(heap, 0, NULL));
    /* And the memory is usable again. */
    for (int i = 0; i < PAIRS; i++) CHECK((big[i] = nth_heap_alloc(heap, 0, 5 * NTH_PAGE)) != NULL);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

/* A heap of LARGE_BLOCKS blocks of LARGE_BYTES, each followed by a small busy block so that
 * frees do not coalesce into one, with no LFH and thresholds that decommit every freed block
 * unless demand keeps it. */
enum { LARGE_BLOCKS = 64, LARGE_BYTES = 256 << 10 };
static char *large[LARGE_BLOCKS], *fence[LARGE_BLOCKS];

static nth_heap *decommitting_heap(size_t decay_ms)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_FREE_BLOCK, 64 << 10);
    nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_TOTAL_FREE, 0);
    nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_DECAY_MS, decay_ms);
    return heap;
}

static void fill_large(nth_heap *heap)
{
    for (int i = 0; i < LARGE_BLOCKS; i++) {
        large[i] = nth_heap_alloc(heap, 0, LARGE_BYTES);
        fence[i] = nth_heap_alloc(heap, 0, 64);
        REQUIRE(large[i] && fence[i]);
        memset(large[i], 1, LARGE_BYTES);
    }
}

static size_t committed_of(nth_heap *heap)
{
    nth_heap_stats st;
    return nth_heap_query_stats(heap, &st) ? st.committed : 0;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) continue;
}

/* Freed memory the program used a moment ago stays committed, and building the same structure
 * again commits nothing; with no decay, the same frees decommit. */
TEST(freed_memory_stays_committed_while_demand_covers_it)
{
    nth_heap *heap = decommitting_heap(60000);
    fill_large(heap);
    size_t full = committed_of(heap);
    for (int i = 0; i < LARGE_BLOCKS; i++) CHECK(nth_heap_free(heap, 0, large[i]));
    CHECK_EQ(committed_of(heap), full);
    nth_heap_stats before, after;
    CHECK(nth_heap_query_stats(heap, &before));
    for (int i = 0; i < LARGE_BLOCKS; i++) CHECK((large[i] = nth_heap_alloc(heap, 0, LARGE_BYTES)) != NULL);
    CHECK(nth_heap_query_stats(heap, &after));
    CHECK_EQ(after.commit_ops, before.commit_ops);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);

    heap = decommitting_heap(0);
    fill_large(heap);
    full = committed_of(heap);
    for (int i = 0; i < LARGE_BLOCKS; i++) CHECK(nth_heap_free(heap, 0, large[i]));
    CHECK(committed_of(heap) + (LARGE_BLOCKS - 1) * (size_t)LARGE_BYTES / 2 < full);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

/* Once two windows pass without that demand, the next large free decommits, and compaction
 * gives back the rest at once. */
TEST(freed_memory_goes_back_once_demand_has_decayed)
{
    nth_heap *heap = decommitting_heap(50);
    fill_large(heap);
    for (int i = 0; i < LARGE_BLOCKS - 1; i++) CHECK(nth_heap_free(heap, 0, large[i]));
    size_t kept = committed_of(heap);
    sleep_ms(120);
    CHECK(nth_heap_free(heap, 0, large[LARGE_BLOCKS - 1]));
    CHECK(committed_of(heap) + LARGE_BYTES / 2 < kept);
    nth_heap_compact(heap, 0);
    CHECK(committed_of(heap) + (LARGE_BLOCKS - 2) * (size_t)LARGE_BYTES / 2 < kept);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

#define HEADROOM ((size_t)768 << 20)
#define CHUNK_REQUEST ((size_t)900 << 10) /* a back-end block, not a big block */

#if !(defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD)

/* In a child: with RLIMIT_AS leaving HEADROOM free, the heap must hand out nearly all of it
 * (the doubling reserve used to stop at the first reservation that did not fit, about two
 * thirds of it) and fail with NTH_ERR_NO_MEMORY only then. */
static void fill_address_space(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    struct rlimit lim = {harness_address_space_in_use() + HEADROOM, RLIM_INFINITY};
    lim.rlim_max = lim.rlim_cur;
    if (setrlimit(RLIMIT_AS, &lim) != 0) exit(3);
    size_t got = 0;
    while (nth_heap_alloc(heap, 0, CHUNK_REQUEST)) got += CHUNK_REQUEST;
    if (nth_last_error() != NTH_ERR_NO_MEMORY) exit(4);
    nth_heap_stats st;
    if (!nth_heap_query_stats(heap, &st) || !nth_heap_validate(heap, 0, NULL)) exit(5);
    fprintf(stderr, "  under RLIMIT_AS: %zu MiB of %zu MiB headroom in %zu segments\n", got >> 20, HEADROOM >> 20,
            st.segments);
    if (got < HEADROOM / 100 * 90) exit(6);
    exit(0);
}
#endif

TEST(growth_uses_nearly_all_of_a_limited_address_space)
{
#if defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD
    fprintf(stderr, "  skipped: sanitizers reserve their own address space\n");
#else
    int status = -1;
    CHECK_EQ(expect_child_death(fill_address_space, &status), 0);
    CHECK_EQ(status, 0);
#endif
}

/* The walk's view of the block at p: its whole size, header and room included. */
static size_t block_bytes_of(nth_heap *heap, const void *p)
{
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e))
        if (e.data == p) return e.u.block.block_size;
    return 0;
}

/* A block grown into its free neighbour takes room for the next small steps (as much as the
 * header's unused count records), so a run of appends rewrites its header instead of splitting
 * the neighbour each time; its size stays exact, and a shrink gives the room back. */
TEST(a_block_grown_in_place_keeps_room_for_the_next_steps)
{
    nth_heap *heap = nth_heap_create(NTH_NO_SERIALIZE, 0, 0); /* no LFH: every block is the back-end's */
    REQUIRE(heap);
    char *p = nth_heap_alloc(heap, 0, 20000);
    REQUIRE(p);
    memset(p, 0x3C, 20000);
    size_t exact = block_bytes_of(heap, p);
    CHECK_EQ(exact, 20016);
    CHECK(nth_heap_realloc(heap, 0, p, 20016) == p);
    size_t grown = block_bytes_of(heap, p);
    CHECK(grown > 20032 && grown <= 20016 + 255); /* room beyond the one granule it needed */
    for (size_t size = 20032; size + 16 + sizeof(nth_block_header) <= grown; size += 16) {
        CHECK(nth_heap_realloc(heap, 0, p, size) == p);
        CHECK_EQ(nth_heap_size(heap, 0, p), size);
        CHECK_EQ(block_bytes_of(heap, p), grown); /* inside the room: nothing split or merged */
    }
    CHECK(p[0] == 0x3C && p[19999] == 0x3C);
    CHECK(nth_heap_realloc(heap, 0, p, 20000) == p);
    CHECK_EQ(block_bytes_of(heap, p), exact); /* a shrink gives the room back */
    CHECK_EQ(nth_heap_size(heap, 0, p), 20000);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(a_growable_heap_has_no_segment_cap)
{
    enum { BLOCKS = 150 };
    static char *p[BLOCKS];
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    for (int i = 0; i < BLOCKS; i++) {
        heap->segment_reserve = (size_t)1 << 20; /* keep segments small so there are many */
        p[i] = nth_heap_alloc(heap, 0, CHUNK_REQUEST);
        REQUIRE(p[i]);
        memset(p[i], i, 64);
    }
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    CHECK(st.segments > 64); /* the old fixed table stopped at 64 */
    CHECK(nth_heap_validate(heap, 0, NULL));
    size_t regions = 0, busy = 0;
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e)) {
        regions += (e.flags & NTH_ENTRY_REGION) != 0;
        busy += (e.flags & NTH_ENTRY_BUSY) && !(e.flags & NTH_ENTRY_INTERNAL);
    }
    CHECK_EQ(regions, st.segments);
    CHECK_EQ(busy, BLOCKS);
    for (int i = 0; i < BLOCKS; i++) {
        CHECK(nth_heap_from_pointer(p[i]) == heap);
        CHECK((unsigned char)p[i][63] == (unsigned char)i);
        CHECK(nth_heap_free(heap, 0, p[i]));
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

int main(int argc, char **argv)
{
    RUN(freelist_index_is_monotonic_and_exact_below_128);
    RUN(ucr_insert_keeps_ranges_sorted_and_merges_neighbours);
    RUN(verify_names_the_block_whose_links_were_overwritten);
    RUN(damage_is_reported_once_and_the_heap_stays_whole);
    RUN(a_run_of_damaged_headers_costs_only_those_blocks);
    RUN(validate_reports_every_damaged_header);
    RUN(the_blocks_after_a_damaged_header_stay_in_service);
    RUN(the_block_after_a_large_damaged_free_block_is_found);
    RUN(an_overrun_into_the_last_header_does_not_stop_growth);
    RUN(a_large_damaged_free_block_loses_its_first_64_kib_only);
    RUN(cyclic_free_list_ends_walks_with_a_report);
    RUN(compaction_decommits_past_a_full_ucr_table);
    RUN(freed_memory_stays_committed_while_demand_covers_it);
    RUN(freed_memory_goes_back_once_demand_has_decayed);
    RUN(a_growable_heap_has_no_segment_cap);
    RUN(a_block_grown_in_place_keeps_room_for_the_next_steps);
    RUN(growth_uses_nearly_all_of_a_limited_address_space);
    (void)argc;
    return harness_finish(argv[0]);
}
