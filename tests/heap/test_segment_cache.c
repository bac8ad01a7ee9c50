/*
 * test_segment_cache.c — destroyed heaps' segments kept for new heaps (regions.c): a new heap
 * takes them (and its walk and validation show only its own blocks, never the old contents),
 * the cache is bounded by segment_cache_max, ages out after segment_cache_decay_ms, and
 * compaction empties it at once; a heap built again like the destroyed one keeps the pages it
 * took hot (no decommit while it fills them).
 */
#include <time.h>

#include "harness/harness.h"
#include "heap/internal.h"
#include "ntheap.h"

#define BLOCKS 60000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Fills `heap` with BLOCKS blocks of 24-280 bytes, each filled with `fill`. */
static nth_heap *fill_heap(nth_heap *heap, unsigned char fill, void **blocks)
{
    MUST(heap);
    for (int i = 0; i < BLOCKS; i++) {
        size_t size = 24 + (size_t)(i * 7919) % 257;
        blocks[i] = nth_heap_alloc(heap, 0, size);
        MUST(blocks[i]);
        memset(blocks[i], fill, size);
    }
    return heap;
}

static nth_heap *filled_heap(unsigned char fill, void **blocks)
{
    return fill_heap(nth_heap_create(0, 0, 0), fill, blocks);
}

static void restore_defaults(void)
{
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_DECAY_MS, 1000));
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_MAX, (size_t)512 << 20));
    nth_regions_release_all();
}

/* The walk of a heap built on reused segments: exactly its own busy blocks, each of its size,
 * free blocks and uncommitted ranges only in between. */
static void walk_is_exact(nth_heap *heap, void **blocks, int n)
{
    nth_walk_entry e = {0};
    size_t busy = 0, bytes = 0, want_bytes = 0;
    for (int i = 0; i < n; i++) want_bytes += nth_heap_size(heap, 0, blocks[i]);
    while (nth_heap_walk(heap, &e)) {
        if ((e.flags & NTH_ENTRY_BUSY) && !(e.flags & NTH_ENTRY_INTERNAL)) {
            busy++;
            bytes += e.size;
        }
    }
    CHECK_EQ(nth_last_error(), NTH_ERR_NO_MORE_ITEMS);
    CHECK_EQ(busy, (size_t)n);
    CHECK_EQ(bytes, want_bytes);
}

static void *blocks_a[BLOCKS], *blocks_b[BLOCKS];

TEST(new_heap_reuses_a_destroyed_heaps_segments)
{
    restore_defaults();
    nth_heap *old = filled_heap(0xA5, blocks_a);
    nth_heap_stats s;
    REQUIRE(nth_heap_query_stats(old, &s));
    CHECK(s.segments >= 3);
    CHECK(nth_heap_destroy(old));
    size_t cached = nth_regions_cached_bytes();
    CHECK(cached >= s.committed / 2);
    /* The new heap starts on a cached region and grows into the others. */
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    CHECK(nth_regions_cached_bytes() < cached);
    for (int i = 0; i < BLOCKS / 2; i++) {
        blocks_b[i] = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 40);
        REQUIRE(blocks_b[i]);
        const unsigned char *p = blocks_b[i];
        for (int k = 0; k < 40; k++) CHECK(p[k] == 0);
    }
    /* Back-end blocks too (the LFH takes small sizes). */
    void *back[64];
    for (int i = 0; i < 64; i++) {
        back[i] = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 20000 + (size_t)i * 64);
        REQUIRE(back[i]);
        CHECK(((unsigned char *)back[i])[19999] == 0);
        blocks_b[BLOCKS / 2 + i] = back[i];
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    walk_is_exact(heap, blocks_b, BLOCKS / 2 + 64);
    for (int i = 0; i < BLOCKS / 2 + 64; i++) CHECK(nth_heap_free(heap, 0, blocks_b[i]));
    CHECK(nth_heap_validate(heap, 0, NULL));
    walk_is_exact(heap, blocks_b, 0);
    CHECK(nth_heap_destroy(heap));
    restore_defaults();
}

/* The hot pages of a cached segment are what a new heap fills: carving LFH subsegments out of
 * them never decommits the rest (it used to, once the free rest passed the thresholds, and the
 * pages were faulted in again a moment later). */
TEST(a_rebuilt_heap_keeps_the_cached_pages_hot)
{
    restore_defaults();
    nth_heap *old = filled_heap(0xA5, blocks_a);
    nth_heap_stats before, after;
    REQUIRE(nth_heap_query_stats(old, &before));
    CHECK(nth_heap_destroy(old));
    /* Thresholds that decommit any free block of 64 KiB past a quarter of what is committed. */
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    CHECK(nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_FREE_BLOCK, 64 << 10));
    CHECK(nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_TOTAL_FREE, 0));
    CHECK(nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_DECAY_MS, 0));
    fill_heap(heap, 0x5A, blocks_b);
    REQUIRE(nth_heap_query_stats(heap, &after));
    CHECK(after.segments >= 3);
    CHECK_EQ(after.decommit_ops, (uint64_t)0);
    CHECK(after.commit_ops <= before.commit_ops);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
    restore_defaults();
}

TEST(cache_is_bounded)
{
    restore_defaults();
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_MAX, (size_t)2 << 20));
    nth_heap *old = filled_heap(1, blocks_a);
    CHECK(nth_heap_destroy(old));
    CHECK(nth_regions_cached_bytes() <= (size_t)2 << 20);
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_DECAY_MS, 0)); /* no cache */
    old = filled_heap(2, blocks_a);
    CHECK(nth_heap_destroy(old));
    CHECK_EQ(nth_regions_cached_bytes(), 0);
    restore_defaults();
}

TEST(cache_ages_out_and_compaction_empties_it)
{
    restore_defaults();
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_DECAY_MS, 100));
    nth_heap *old = filled_heap(3, blocks_a);
    CHECK(nth_heap_destroy(old));
    CHECK(nth_regions_cached_bytes() > 0);
    sleep_ms(250);
    nth_heap *heap = nth_heap_create(0, 0, 0); /* the next cache operation gives the old back */
    REQUIRE(heap);
    CHECK_EQ(nth_regions_cached_bytes(), 0);
    CHECK(nth_heap_destroy(heap));
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_DECAY_MS, 1000));
    old = filled_heap(4, blocks_a);
    CHECK(nth_heap_destroy(old));
    CHECK(nth_regions_cached_bytes() > 0);
    nth_heap_compact(nth_process_heap(), 0);
    CHECK_EQ(nth_regions_cached_bytes(), 0);
    restore_defaults();
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(new_heap_reuses_a_destroyed_heaps_segments);
    RUN(a_rebuilt_heap_keeps_the_cached_pages_hot);
    RUN(cache_is_bounded);
    RUN(cache_ages_out_and_compaction_empties_it);
    return harness_finish(argv[0]);
}
