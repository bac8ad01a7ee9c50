/*
 * test_bigcache.c — the cache of freed big-block mappings (bigcache.c), as a program sees it:
 * freed big blocks are reused without new mappings, a zero-filled block is zero even when its
 * mapping held data, the cache is bounded (big_cache_max) and decays (big_cache_decay_ms: after
 * a quiet epoch of two windows the next big-block call gives the memory back), compaction gives it back at
 * once, and when the system refuses a mapping (RLIMIT_AS) the heap drops its cache and
 * succeeds. Memory is observed through nth_heap_query_stats (committed bytes, commit calls).
 */
#include <sys/resource.h>
#include <time.h>

#include "harness/harness.h"
#include "ntheap.h"

#define MIB ((size_t)1 << 20)

static nth_heap_stats stats_of(nth_heap *heap)
{
    nth_heap_stats s;
    MUST(nth_heap_query_stats(heap, &s));
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char value)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value) return false;
    return true;
}

/* A freed block's mapping serves the next block of that size: no new commit, same place. */
TEST(freed_big_block_is_reused_without_a_new_mapping)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    unsigned char *p = nth_heap_alloc(heap, 0, 8 * MIB);
    REQUIRE(p);
    memset(p, 0x33, 8 * MIB);
    nth_heap_stats before = stats_of(heap);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK_EQ(stats_of(heap).committed, before.committed); /* kept */
    unsigned char *q = nth_heap_alloc(heap, 0, 8 * MIB - 4096);
    CHECK(q == p);
    CHECK_EQ(stats_of(heap).commit_ops, before.commit_ops);
    CHECK_EQ(nth_heap_size(heap, 0, q), 8 * MIB - 4096);
    /* A smaller block takes the front of a larger mapping; the rest serves another block. */
    CHECK(nth_heap_free(heap, 0, q));
    unsigned char *a = nth_heap_alloc(heap, 0, 2 * MIB), *b = nth_heap_alloc(heap, 0, 4 * MIB);
    CHECK(a && b);
    CHECK_EQ(stats_of(heap).commit_ops, before.commit_ops);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_free(heap, 0, a) && nth_heap_free(heap, 0, b));
    /* The pieces merge again: the whole mapping serves one block. */
    unsigned char *c = nth_heap_alloc(heap, 0, 8 * MIB - 4096);
    CHECK(c == p);
    CHECK_EQ(stats_of(heap).commit_ops, before.commit_ops);
    CHECK(nth_heap_free(heap, 0, c));
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

/* Zero-filled requests served from dirty mappings: whole, split, after a shrink that left old
 * bytes past the new size. */
TEST(zero_filled_block_from_the_cache_is_zero)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    unsigned char *p = nth_heap_alloc(heap, 0, 6 * MIB);
    REQUIRE(p);
    memset(p, 0xAB, 6 * MIB);
    CHECK(nth_heap_free(heap, 0, p));
    unsigned char *q = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 6 * MIB);
    REQUIRE(q);
    CHECK(all_bytes(q, 6 * MIB, 0));
    memset(q, 0xCD, 6 * MIB);
    CHECK(nth_heap_free(heap, 0, q));
    /* Split: both pieces of the dirty mapping come back zeroed. */
    unsigned char *a = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 2 * MIB);
    unsigned char *b = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 3 * MIB);
    REQUIRE(a && b);
    CHECK(all_bytes(a, 2 * MIB, 0));
    CHECK(all_bytes(b, 3 * MIB, 0));
    CHECK(nth_heap_free(heap, 0, a) && nth_heap_free(heap, 0, b));
    /* A block shrunk in place keeps old bytes past its new size inside its mapping. */
    unsigned char *r = nth_heap_alloc(heap, 0, 1200 * 1024);
    REQUIRE(r);
    memset(r, 0xEE, 1200 * 1024);
    unsigned char *s = nth_heap_realloc(heap, 0, r, 1100 * 1024);
    CHECK(s == r);
    CHECK(nth_heap_free(heap, 0, s));
    unsigned char *t = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 1200 * 1024);
    REQUIRE(t);
    CHECK(all_bytes(t, 1200 * 1024, 0));
    /* Growth zeroes the new part too. */
    memset(t, 0x11, 1200 * 1024);
    unsigned char *u = nth_heap_realloc(heap, NTH_ZERO_MEMORY, t, 1100 * 1024);
    REQUIRE(u);
    unsigned char *v = nth_heap_realloc(heap, NTH_ZERO_MEMORY, u, 1200 * 1024);
    REQUIRE(v);
    CHECK(all_bytes(v + 1100 * 1024, 100 * 1024, 0));
    CHECK(nth_heap_free(heap, 0, v));
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

/* Frees `n` blocks of `size` allocated together; returns the committed bytes before the frees. */
static size_t churn(nth_heap *heap, int n, size_t size)
{
    void *blocks[16];
    MUST(n <= 16);
    for (int i = 0; i < n; i++) {
        blocks[i] = nth_heap_alloc(heap, 0, size);
        MUST(blocks[i]);
        memset(blocks[i], i, size);
    }
    size_t committed = stats_of(heap).committed;
    for (int i = 0; i < n; i++) CHECK(nth_heap_free(heap, 0, blocks[i]));
    return committed;
}

TEST(compaction_gives_the_cache_back_at_once)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    size_t base = stats_of(heap).committed;
    size_t peak = churn(heap, 6, 4 * MIB);
    CHECK(stats_of(heap).committed >= base + 20 * MIB); /* cached */
    nth_heap_compact(heap, 0);
    CHECK(stats_of(heap).committed < base + MIB);
    CHECK(peak > stats_of(heap).committed);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

TEST(cache_is_bounded_by_big_cache_max)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    CHECK(nth_heap_set_option(heap, NTH_OPTION_BIG_CACHE_MAX, 9 * MIB));
    size_t base = stats_of(heap).committed;
    churn(heap, 8, 4 * MIB);
    size_t kept = stats_of(heap).committed - base;
    CHECK(kept <= 9 * MIB + MIB);
    CHECK(kept >= 4 * MIB); /* but something is kept */
    CHECK(nth_heap_set_option(heap, NTH_OPTION_BIG_CACHE_DECAY_MS, 0));
    churn(heap, 2, 4 * MIB); /* no cache at all now */
    CHECK(stats_of(heap).committed - base < MIB);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

/* After a quiet epoch of two windows the demand has fallen to what is live: the next big-block call gives
 * the cache back. Within the epoch it is kept. */
TEST(cache_decays_after_the_window)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    CHECK(nth_heap_set_option(heap, NTH_OPTION_BIG_CACHE_DECAY_MS, 100));
    size_t base = stats_of(heap).committed;
    churn(heap, 6, 4 * MIB);
    CHECK(stats_of(heap).committed >= base + 20 * MIB);
    /* Still wanted: an immediate reuse takes from the cache. */
    uint64_t commits = stats_of(heap).commit_ops;
    void *p = nth_heap_alloc(heap, 0, 4 * MIB);
    CHECK(p && stats_of(heap).commit_ops == commits);
    CHECK(nth_heap_free(heap, 0, p));
    sleep_ms(450);
    p = nth_heap_alloc(heap, 0, 2 * MIB); /* the call that notices the quiet epoch */
    REQUIRE(p);
    CHECK(stats_of(heap).committed < base + 5 * MIB);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

/* Under an address-space limit that the cache fills, a new block that fits no cached mapping
 * still succeeds: the heap gives the cache back and maps again. Runs in a child (the limit
 * stays with it). */
TEST(rlimit_as_drops_the_cache_and_succeeds)
{
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        nth_heap *heap = nth_heap_create(0, 0, 0);
        if (!heap) _exit(10);
        void *blocks[8];
        for (int i = 0; i < 8; i++)
            if (!(blocks[i] = nth_heap_alloc(heap, 0, 16 * MIB))) _exit(11);
        for (int i = 0; i < 8; i++) nth_heap_free(heap, 0, blocks[i]);
        nth_heap_stats s;
        nth_heap_query_stats(heap, &s);
        if (s.committed < 100 * MIB) _exit(12); /* the cache holds them */
        struct rlimit lim = {harness_address_space_in_use() + 64 * MIB, RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(13);
        unsigned char *big = nth_heap_alloc(heap, 0, 160 * MIB); /* fits no cached mapping */
        if (!big) _exit(14);
        memset(big, 1, 160 * MIB);
        if (!nth_heap_validate(heap, 0, NULL)) _exit(15);
        nth_heap_free(heap, 0, big);
        _exit(nth_heap_destroy(heap) ? 0 : 16);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(freed_big_block_is_reused_without_a_new_mapping);
    RUN(zero_filled_block_from_the_cache_is_zero);
    RUN(compaction_gives_the_cache_back_at_once);
    RUN(cache_is_bounded_by_big_cache_max);
    RUN(cache_decays_after_the_window);
    RUN(rlimit_as_drops_the_cache_and_succeeds);
    return harness_finish(argv[0]);
}
