/*
 * test_lfh_handover.c — thread caches change hands without the heap lock, and the owner's
 * lock-free free still refuses what it must.
 *
 *   - a thread that exits leaves its cache as a spare; the next thread to allocate from the heap
 *     takes it over, with the exiting thread's subsegment and free list: its first block is the
 *     last one the other thread freed, and neither its start, its allocations and frees nor its
 *     exit acquire the heap lock (the lock's acquisition count is unchanged);
 *   - a spare nobody takes is retired when the heap is next unlocked: its blocks stay valid,
 *     and walks, validation and statistics see them;
 *   - the owner's free of an address in its own subsegment that was never handed out, or at an
 *     interior offset, or twice, is reported once and changes nothing;
 *   - interior addresses of blocks of every kind of block size (the owner's free divides by the
 *     block size exactly) are refused, block starts are accepted;
 *   - a thread that joins a heap whose LFH serves other threads makes its first few allocations
 *     of a size through the back-end, then gets a subsegment; a taken-over cache needs no warm-up;
 *   - a subsegment its thread filled stays with the thread's cache: the thread's frees into it are
 *     lock-free, the cache refills from it, and compaction gives it back once it is empty;
 *   - blocks another thread freed are collected and reused before never-used ones are touched;
 *   - a block freed by another thread while the owner allocates and frees blocks of the same
 *     bitmap word, then freed again by the owner, is refused as a double free every time (the
 *     owner's busy-bit writes never bring a claimed block's bit back), and is handed out once.
 */
#include <pthread.h>

#include "harness/harness.h"
#include "heap/internal.h"
#include "heap/lfh.h"
#include "ntheap.h"

enum { SIZE = 32, WARM = 40 };

static nth_heap *heap;
static void *last_freed;
static void *first_taken;

static int reports, double_frees, bad_pointers;

static void capture(const nth_report *report, void *context)
{
    (void)context;
    reports++;
    if (report->error == NTH_ERR_DOUBLE_FREE) double_frees++;
    if (report->error == NTH_ERR_INVALID_POINTER) bad_pointers++;
}

/* A heap whose SIZE bucket is served by the LFH. */
static nth_heap *lfh_heap(void)
{
    nth_heap *h = nth_heap_create(0, 0, 0);
    void *warm[WARM];
    for (int i = 0; i < WARM; i++) warm[i] = nth_heap_alloc(h, 0, SIZE);
    for (int i = 0; i < WARM; i++) nth_heap_free(h, 0, warm[i]);
    return h;
}

static void *first_thread(void *arg)
{
    void **keep = arg;
    void *b[10];
    for (int i = 0; i < 10; i++) b[i] = nth_heap_alloc(heap, 0, SIZE);
    keep[0] = b[0]; /* stays live across the hand-over */
    for (int i = 1; i < 10; i++) nth_heap_free(heap, 0, b[i]);
    last_freed = b[9];
    return NULL;
}

static void *second_thread(void *arg)
{
    (void)arg;
    first_taken = nth_heap_alloc(heap, 0, SIZE);
    void *more[20];
    for (int i = 0; i < 20; i++) more[i] = nth_heap_alloc(heap, 0, SIZE);
    for (int i = 0; i < 20; i++) nth_heap_free(heap, 0, more[i]);
    return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fn, arg) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
}

TEST(exiting_thread_hands_its_cache_over_without_the_heap_lock)
{
    heap = lfh_heap();
    void *keep[1] = {NULL};
    run_thread(first_thread, keep);
    uint64_t before = heap->lock.acquisitions;
    run_thread(second_thread, NULL);
    CHECK_EQ(heap->lock.acquisitions, before);
    CHECK(first_taken == last_freed); /* the same subsegment, its free list's head */
    CHECK(nth_heap_size(heap, 0, first_taken) == SIZE);
    CHECK(nth_heap_size(heap, 0, keep[0]) == SIZE);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_free(heap, 0, first_taken));
    CHECK(nth_heap_free(heap, 0, keep[0]));
    nth_heap_destroy(heap);
}

TEST(unclaimed_spare_is_retired_at_unlock)
{
    heap = lfh_heap();
    void *keep[1] = {NULL};
    run_thread(first_thread, keep);
    CHECK(nth_heap_lock(heap));
    CHECK(nth_heap_unlock(heap)); /* retires the spare: its subsegment goes to the pool */
    int live = 0;
    nth_walk_entry e = {0};
    CHECK(nth_heap_lock(heap));
    while (nth_heap_walk(heap, &e))
        if (e.data == keep[0]) live = (e.flags & NTH_ENTRY_BUSY) != 0;
    CHECK(nth_heap_unlock(heap));
    CHECK_EQ(live, 1);
    CHECK(nth_heap_validate(heap, 0, NULL));
    /* Another thread now gets a new cache (under the lock) and may free the kept block. */
    uint64_t before = heap->lock.acquisitions;
    run_thread(second_thread, NULL);
    CHECK(heap->lock.acquisitions > before);
    CHECK(nth_heap_free(heap, 0, first_taken));
    CHECK(nth_heap_free(heap, 0, keep[0]));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(owner_free_of_a_block_never_handed_out_is_refused)
{
    heap = lfh_heap();
    nth_set_report_handler(capture, NULL);
    char *p = nth_heap_alloc(heap, 0, SIZE); /* the subsegment's blocks beyond bump are untouched */
    nth_heap_stats before, after;
    CHECK(nth_heap_query_stats(heap, &before));
    reports = double_frees = bad_pointers = 0;
    CHECK(!nth_heap_free(heap, 0, p + 100 * SIZE)); /* a block start above bump */
    CHECK(!nth_heap_free(heap, 0, p + SIZE / 2));   /* inside a block */
    CHECK_EQ(bad_pointers, 2);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(!nth_heap_free(heap, 0, p)); /* double free, on the owner's fast path */
    CHECK_EQ(double_frees, 1);
    CHECK_EQ(reports, 3);
    CHECK(nth_heap_query_stats(heap, &after));
    CHECK_EQ(after.lfh_blocks + 1, before.lfh_blocks);
    /* Nothing changed: the next two allocations are p, then a block other than p. */
    char *a = nth_heap_alloc(heap, 0, SIZE), *b = nth_heap_alloc(heap, 0, SIZE);
    CHECK(a == p && b != p);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

TEST(owner_free_finds_block_starts_of_every_size)
{
    static const size_t sizes[] = {16, 24, 48, 100, 208, 1000, 1100, 1500, 2500, 5000, 9000, 12000, 16384};
    heap = nth_heap_create(0, 0, 0);
    nth_set_report_handler(capture, NULL);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t size = sizes[k];
        static void *warm[WARM];
        for (int i = 0; i < WARM; i++) warm[i] = nth_heap_alloc(heap, 0, size);
        for (int i = 0; i < WARM; i++) nth_heap_free(heap, 0, warm[i]);
        char *a = nth_heap_alloc(heap, 0, size), *b = nth_heap_alloc(heap, 0, size);
        REQUIRE(a && b);
        size_t usable = nth_heap_usable_size(heap, a);
        reports = bad_pointers = double_frees = 0;
        int probes = 0;
        for (size_t off = 1; off < usable; off += off < 64 ? 1 : usable / 37) {
            CHECK(!nth_heap_free(heap, 0, a + off));
            CHECK(!nth_heap_free(heap, 0, b + off));
            probes += 2;
        }
        CHECK(!nth_heap_free(heap, 0, a - 1));
        probes++;
        CHECK_EQ(bad_pointers, probes);
        CHECK_EQ(reports, probes);
        CHECK(nth_heap_size(heap, 0, a) == size && nth_heap_size(heap, 0, b) == size);
        CHECK(nth_heap_free(heap, 0, b));
        CHECK(nth_heap_free(heap, 0, a));
        CHECK_EQ(double_frees, 0);
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_set_report_handler(NULL, NULL);
    nth_heap_destroy(heap);
}

#if defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD
#define ROUNDS 300
#else
#define ROUNDS 3000
#endif

static pthread_barrier_t go, done;
static char *_Atomic victim;

static void *remote_freer(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&go);
        if (!nth_heap_free(heap, 0, atomic_load(&victim))) bad_pointers += 1000; /* must succeed */
        pthread_barrier_wait(&done);
    }
    return NULL;
}

TEST(remote_free_then_owner_double_free_is_refused)
{
    heap = lfh_heap();
    nth_set_report_handler(capture, NULL);
    reports = double_frees = bad_pointers = 0;
    pthread_barrier_init(&go, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, remote_freer, NULL) == 0);
    char *b[64];
    int twice = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < 64; i++) b[i] = nth_heap_alloc(heap, 0, SIZE);
        atomic_store(&victim, b[r % 64]);
        pthread_barrier_wait(&go);
        /* Meanwhile: the owner frees and allocates the other blocks (same bitmap words). */
        for (int k = 0; k < 8; k++)
            for (int i = 0; i < 64; i++)
                if (i != r % 64) {
                    nth_heap_free(heap, 0, b[i]);
                    b[i] = nth_heap_alloc(heap, 0, SIZE);
                }
        pthread_barrier_wait(&done);
        if (nth_heap_free(heap, 0, b[r % 64])) twice++; /* the double free */
        b[r % 64] = NULL;
        for (int i = 0; i < 64; i++)
            if (b[i]) CHECK(nth_heap_free(heap, 0, b[i]));
    }
    pthread_join(t, NULL);
    CHECK_EQ(twice, 0);
    CHECK_EQ(double_frees, ROUNDS);
    CHECK_EQ(reports, ROUNDS);
    CHECK_EQ(bad_pointers, 0);
    /* Every remotely freed block comes back once: 200 live blocks are 200 distinct ones. */
    static char *live[200];
    for (int i = 0; i < 200; i++) {
        live[i] = nth_heap_alloc(heap, 0, SIZE);
        for (int j = 0; j < i; j++) REQUIRE(live[j] != live[i]);
    }
    for (int i = 0; i < 200; i++) CHECK(nth_heap_free(heap, 0, live[i]));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.lfh_blocks, 0);
    nth_set_report_handler(NULL, NULL);
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
    nth_heap_destroy(heap);
}

/* ------------------------------------------------------------------------------ warm-up */

enum { WARMUP_TAKES = NTH_LFH_THREAD_WARMUP + 3 };

static bool is_lfh_block(nth_heap *h, const void *p)
{
    nth_walk_entry e = {0};
    while (nth_heap_walk(h, &e))
        if (e.data == p && !(e.flags & NTH_ENTRY_INTERNAL)) /* a subsegment's block starts at its slot 0 */
            return (e.flags & NTH_ENTRY_LFH) != 0;
    return false;
}

static void *take_a_few(void *arg)
{
    void **out = arg;
    for (int i = 0; i < WARMUP_TAKES; i++) out[i] = nth_heap_alloc(heap, 0, SIZE);
    return NULL;
}

/* A thread that joins a heap whose LFH serves other threads makes its first few allocations of
 * a size through the back-end (no subsegment, no resident page of its own for a size it barely
 * uses), then gets its own subsegment; a thread that takes over an exited thread's cache needs
 * no warm-up. */
TEST(a_joining_thread_warms_each_size_up_through_the_back_end)
{
    heap = lfh_heap();
    void *first[WARMUP_TAKES], *second[WARMUP_TAKES];
    nth_heap_stats before, after;
    CHECK(nth_heap_query_stats(heap, &before));
    run_thread(take_a_few, first);
    CHECK(nth_heap_query_stats(heap, &after));
    CHECK_EQ(after.lfh_subsegments, before.lfh_subsegments + 1);
    for (int i = 0; i < WARMUP_TAKES; i++) {
        REQUIRE(first[i]);
        CHECK_EQ(is_lfh_block(heap, first[i]), i >= (int)NTH_LFH_THREAD_WARMUP);
        CHECK_EQ(nth_heap_size(heap, 0, first[i]), SIZE);
    }
    run_thread(take_a_few, second); /* takes the first thread's cache over */
    for (int i = 0; i < WARMUP_TAKES; i++) CHECK(is_lfh_block(heap, second[i]));
    for (int i = 0; i < WARMUP_TAKES; i++) {
        CHECK(nth_heap_free(heap, 0, first[i]));
        CHECK(nth_heap_free(heap, 0, second[i]));
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

/* -------------------------------------------------------------------- held subsegments */

/* A subsegment its thread filled stays with the thread's cache: the thread's frees into it take
 * the lock-free path (the heap lock is not acquired, and the subsegment is not given back when
 * its last block comes home), the cache refills from it before it takes another, and compaction
 * gives the empty one back. */
TEST(a_filled_subsegment_stays_with_its_thread)
{
    heap = lfh_heap();
    nth_heap_stats st;
    REQUIRE(nth_heap_query_stats(heap, &st));
    const size_t first = st.lfh_subsegments;
    static void *b[2 * NTH_LFH_MAX_BLOCKS];
    size_t n = 0;
    do {
        REQUIRE(n < sizeof b / sizeof b[0]);
        REQUIRE(b[n++] = nth_heap_alloc(heap, 0, SIZE));
        REQUIRE(nth_heap_query_stats(heap, &st));
    } while (st.lfh_subsegments == first);
    const size_t filled = n - 1;
    void *opener = b[filled]; /* it opened the next subsegment */
    uint64_t before = heap->lock.acquisitions;
    for (size_t i = 0; i < filled; i++) CHECK(nth_heap_free(heap, 0, b[i]));
    CHECK_EQ(heap->lock.acquisitions, before);
    REQUIRE(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.lfh_subsegments, first + 1);
    /* The current one's free blocks, then the held one's: still no third subsegment. (The two
     * may differ by a block or so: each starts its blocks at its own cache colour.) */
    const nth_lfh_subsegment *current = (const nth_lfh_subsegment *)nth_addrmap_lookup(opener);
    REQUIRE(current && current->owner.kind == OWNER_LFH);
    const size_t refill = filled + current->n_blocks - 1;
    REQUIRE(refill <= sizeof b / sizeof b[0]);
    for (size_t i = 0; i < refill; i++) REQUIRE(b[i] = nth_heap_alloc(heap, 0, SIZE));
    REQUIRE(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.lfh_subsegments, first + 1);
    CHECK(nth_heap_validate(heap, 0, NULL));
    for (size_t i = 0; i < refill; i++) CHECK(nth_heap_free(heap, 0, b[i]));
    CHECK(nth_heap_free(heap, 0, opener));
    nth_heap_compact(heap, 0); /* the held one is empty: back to the back-end */
    REQUIRE(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.lfh_subsegments, first);
    CHECK_EQ(st.lfh_blocks, 0);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

/* ----------------------------------------------------------------- early collection */

enum { HANDED = 256 };
static void *handed[HANDED];

static void *free_what_was_handed(void *arg)
{
    (void)arg;
    for (int i = 0; i < HANDED; i++) nth_heap_free(heap, 0, handed[i]);
    return NULL;
}

/* A thread whose blocks another thread frees (a producer) gets them back before it touches
 * blocks it never used: once a sixteenth of its subsegment waits for collection, it collects. */
TEST(blocks_freed_by_another_thread_are_reused_before_new_ones)
{
    heap = lfh_heap();
    for (int i = 0; i < HANDED; i++) REQUIRE(handed[i] = nth_heap_alloc(heap, 0, SIZE));
    static void *before[HANDED];
    memcpy(before, handed, sizeof before);
    run_thread(free_what_was_handed, NULL);
    int reused = 0;
    for (int i = 0; i < HANDED; i++) {
        REQUIRE(handed[i] = nth_heap_alloc(heap, 0, SIZE));
        for (int j = 0; j < HANDED; j++)
            if (handed[i] == before[j]) {
                reused++;
                break;
            }
    }
    CHECK(reused >= HANDED - WARM); /* all but the few on the local free list already */
    for (int i = 0; i < HANDED; i++) CHECK(nth_heap_free(heap, 0, handed[i]));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    RUN(exiting_thread_hands_its_cache_over_without_the_heap_lock);
    RUN(unclaimed_spare_is_retired_at_unlock);
    RUN(owner_free_of_a_block_never_handed_out_is_refused);
    RUN(owner_free_finds_block_starts_of_every_size);
    RUN(remote_free_then_owner_double_free_is_refused);
    RUN(a_joining_thread_warms_each_size_up_through_the_back_end);
    RUN(a_filled_subsegment_stays_with_its_thread);
    RUN(blocks_freed_by_another_thread_are_reused_before_new_ones);
    return harness_finish(argv[0]);
}
