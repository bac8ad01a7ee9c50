/*
 * test_lfh_layout.c — where LFH subsegments lie (docs/design.md, "LFH front-end"):
 *
 *   chunk c                 c+1                          c+k   (64 KiB chunks)
 *   | hdr | block 0 | block 1 | ...          | block n-1 |tail| hdr | block 0 | ...
 *   '--- subsegment: one back-end block of k chunks -------'  '--- the next one, adjacent
 *
 *   - each subsegment is one busy internal back-end block of exactly k x 64 KiB (k <= 8) whose
 *     header starts a chunk; header, cache colour and tail leave at most 1/20 of it unused;
 *   - its first block starts at its cache colour, a multiple of 64 bytes into the block, and
 *     the subsegments of one size take different colours;
 *   - a same-size fill packs them back to back: no free block between two subsegments;
 *   - every chunk of one, its header's included, leads to its descriptor through the address
 *     map, so each block is found from its address alone;
 *   - freeing everything and compacting gives the chunks back: what stays committed is the
 *     documented reserve, and the memory serves other sizes again.
 */
#include <pthread.h>

#include "harness/harness.h"
#include "heap/lfh.h"
#include "ntheap.h"

#define FILL_BYTES ((size_t)3 << 20)

static const size_t sizes[] = {0x10, 0x40, 0x100, 0x400, 0x1000, 0x1a00, 0x2000, 0x4000};

/* Allocates FILL_BYTES of `size`-byte blocks; returns how many (into ptrs, when given). */
static size_t fill(nth_heap *heap, size_t size, void **ptrs, size_t capacity)
{
    size_t n = FILL_BYTES / size;
    for (size_t i = 0; i < n; i++) {
        void *p = nth_heap_alloc(heap, 0, size);
        if (!p) return i;
        if (ptrs && i < capacity) ptrs[i] = p;
    }
    return n;
}

TEST(subsegments_are_whole_chunks_packed_back_to_back)
{
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        nth_heap *heap = nth_heap_create(0, 0, 0);
        REQUIRE(heap != NULL);
        CHECK_EQ(fill(heap, sizes[s], NULL, 0), FILL_BYTES / sizes[s]);
        nth_heap_lock(heap);
        size_t subsegments = 0, adjacent = 0;
        unsigned colours_seen = 0; /* bit c: a subsegment of colour c */
        char *prev_end = NULL;       /* end of the previous back-end block, when a subsegment */
        nth_walk_entry e = {0};
        while (nth_heap_walk(heap, &e)) {
            if (e.flags & (NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED | NTH_ENTRY_LFH | NTH_ENTRY_BIG)) {
                if (!(e.flags & NTH_ENTRY_LFH)) prev_end = NULL;
                continue;
            }
            char *header = e.u.block.header;
            bool lfh = (e.flags & NTH_ENTRY_INTERNAL) && nth_addrmap_lookup(e.data) &&
                       nth_addrmap_lookup(e.data)->kind == OWNER_LFH;
            if (!lfh) {
                prev_end = NULL;
                continue;
            }
            subsegments++;
            const nth_lfh_subsegment *sub = (const nth_lfh_subsegment *)nth_addrmap_lookup(e.data);
            size_t bytes = e.u.block.block_size, unused = bytes - (size_t)sub->n_blocks * sub->block_size;
            CHECK_EQ((uintptr_t)header % NTH_CHUNK, 0);
            CHECK_EQ(bytes % NTH_CHUNK, 0);
            CHECK(bytes <= NTH_LFH_MAX_CHUNKS * NTH_CHUNK);
            CHECK(unused * NTH_LFH_WASTE_SHARE <= bytes);
            CHECK(sub->owner.base == (char *)e.data && sub->block_size == sizes[s]);
            size_t colour = (size_t)(sub->first_block - sub->owner.base);
            CHECK(colour % 64 == 0 && colour <= NTH_LFH_MAX_COLOUR);
            colours_seen |= 1u << (colour / 64);
            for (size_t at = 0; at < bytes; at += NTH_CHUNK) /* the header's chunk too */
                CHECK(nth_addrmap_lookup(header + at) == &sub->owner);
            if (prev_end == header) adjacent++;
            prev_end = header + bytes;
        }
        nth_heap_unlock(heap);
        if (getenv("NTH_TEST_VERBOSE"))
            printf("    0x%zx: %zu subsegments, %zu right behind the one before\n", sizes[s], subsegments, adjacent);
        CHECK(subsegments >= 2);
        /* Consecutive subsegments start their blocks at different cache colours, so that their
         * first blocks do not share a set of the first-level cache. */
        CHECK(__builtin_popcount(colours_seen) >= 2);
        /* Only a new segment (its first chunk holds its header) separates two subsegments. */
        nth_heap_stats st;
        CHECK(nth_heap_query_stats(heap, &st));
        CHECK(adjacent + st.segments >= subsegments);
        CHECK(nth_heap_validate(heap, 0, NULL));
        nth_heap_destroy(heap);
    }
}

TEST(every_block_of_a_packed_subsegment_is_found_from_its_address)
{
    enum { CAP = FILL_BYTES / 0x30 + 1 };
    static void *ptrs[CAP];
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    size_t n = fill(heap, 0x30, ptrs, CAP);
    CHECK_EQ(n, FILL_BYTES / 0x30);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(nth_heap_size(heap, 0, ptrs[i]), 0x30);
        memset(ptrs[i], 0xA5, 0x30); /* the whole block is the caller's: it damages no neighbour */
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    /* LIFO inside a subsegment, as in the seed lecture: the last freed is the first reused. */
    void *a = ptrs[n - 1], *b = ptrs[n - 2];
    CHECK(nth_heap_free(heap, 0, b));
    CHECK(nth_heap_free(heap, 0, a));
    CHECK(nth_heap_alloc(heap, 0, 0x30) == a);
    CHECK(nth_heap_alloc(heap, 0, 0x30) == b);
    for (size_t i = 0; i < n; i++) CHECK(nth_heap_free(heap, 0, ptrs[i]));
    CHECK(nth_heap_validate(heap, 0, NULL));
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

enum { CAP = 270000 }; /* FILL_BYTES of each size */
static void *ptrs[CAP];

/* Fills every size, then frees everything in an order other than allocation's (subsegments
 * empty at different times); runs on a thread of its own, whose exit leaves its cache. */
static void *fill_and_free(void *arg)
{
    nth_heap *heap = arg;
    size_t total = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = fill(heap, sizes[s], ptrs + total, CAP - total);
        CHECK_EQ(n, FILL_BYTES / sizes[s]);
        total += n < CAP - total ? n : CAP - total;
    }
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    CHECK(st.lfh_subsegments > sizeof sizes / sizeof *sizes);
    for (size_t i = 0; i < total; i += 2) CHECK(nth_heap_free(heap, 0, ptrs[i]));
    for (size_t i = 1; i < total; i += 2) CHECK(nth_heap_free(heap, 0, ptrs[i]));
    return NULL;
}

TEST(freed_subsegments_give_their_chunks_back)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    pthread_t thread;
    REQUIRE(pthread_create(&thread, NULL, fill_and_free, heap) == 0);
    pthread_join(thread, NULL);
    CHECK(nth_heap_validate(heap, 0, NULL));
    /* The exited thread's cache still holds its current subsegments: the next unlock retires
     * them, and being empty they go back to the back-end. */
    CHECK(nth_heap_lock(heap));
    CHECK(nth_heap_unlock(heap));
    nth_heap_compact(heap, 0);
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    if (getenv("NTH_TEST_VERBOSE"))
        printf("    after compaction: %zu bytes committed in %zu segments (reserve %zu), %zu subsegments\n",
               st.committed, st.segments, compact_reserve(&st), st.lfh_subsegments);
    CHECK_EQ(st.lfh_subsegments, 0);
    CHECK_EQ(st.busy_blocks, 0);
    CHECK(st.committed <= compact_reserve(&st));
    /* The chunks belong to their segments again: a back-end block may lie anywhere in them. */
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    char *big = nth_heap_alloc(heap, 0, 0xF000 * 16);
    CHECK(big != NULL);
    if (big) {
        const nth_owner *owner = nth_addrmap_lookup(big), *end = nth_addrmap_lookup(big + 0xF000 * 16 - 1);
        CHECK(owner && owner->kind == OWNER_SEGMENT && end == owner);
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(subsegments_are_whole_chunks_packed_back_to_back);
    RUN(every_block_of_a_packed_subsegment_is_found_from_its_address);
    RUN(freed_subsegments_give_their_chunks_back);
    return harness_finish(argv[0]);
}
