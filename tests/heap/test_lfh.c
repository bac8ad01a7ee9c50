/*
 * test_lfh.c — the Low Fragmentation Heap: the seed lecture's scenario (on a fresh heap the 18th
 * allocation of 0x100 bytes creates the LFH and is served by the back-end; the 19th is the first
 * LFH block), last-free-first-use inside a subsegment, bucket sizes, walk and validate of LFH
 * blocks, the HeapSetInformation-style switch, and exact sizes through realloc (the owner's
 * lock-free resize in place included).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "harness/harness.h"
#include "ntheap.h"

static bool entry_for(nth_heap *heap, const void *p, nth_walk_entry *out)
{
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e))
        if (e.data == p && !(e.flags & NTH_ENTRY_INTERNAL)) { /* a subsegment's area starts at its block 0 */
            *out = e;
            return true;
        }
    return false;
}

static size_t count_entries(nth_heap *heap, uint16_t all_of)
{
    size_t n = 0;
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e))
        if ((e.flags & all_of) == all_of) n++;
    return n;
}

TEST(seed_activation_point)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    char *p[19];
    for (int i = 0; i < 17; i++) p[i] = nth_heap_alloc(heap, 0, 0x100);
    size_t internal_before = count_entries(heap, NTH_ENTRY_BUSY | NTH_ENTRY_INTERNAL);
    p[17] = nth_heap_alloc(heap, 0, 0x100);
    size_t internal_after = count_entries(heap, NTH_ENTRY_BUSY | NTH_ENTRY_INTERNAL);
    p[18] = nth_heap_alloc(heap, 0, 0x100);
    /* 1..18 are back-end blocks, contiguous. */
    nth_walk_entry e;
    for (int i = 0; i < 18; i++) {
        REQUIRE(entry_for(heap, p[i], &e));
        CHECK(!(e.flags & NTH_ENTRY_LFH));
        CHECK_EQ(e.size, 0x100);
    }
    for (int i = 1; i < 17; i++) CHECK(p[i] - p[i - 1] == 0x110);
    /* The 18th created the LFH object, which lives in a mapping of its own (out of the reach of
     * user writes): no new block in the heap. */
    CHECK_EQ(internal_after, internal_before);
    /* The 19th is the first LFH block, inside a new subsegment (another internal block). */
    REQUIRE(entry_for(heap, p[18], &e));
    CHECK(e.flags & NTH_ENTRY_LFH);
    CHECK_EQ(e.size, 0x100);
    CHECK_EQ(count_entries(heap, NTH_ENTRY_BUSY | NTH_ENTRY_INTERNAL), internal_after + 1);
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    CHECK_EQ(st.lfh_blocks, 1);
    CHECK_EQ(st.lfh_subsegments, 1);
    CHECK_EQ(st.busy_blocks, 19);
    CHECK_EQ(st.busy_bytes, 19 * 0x100);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(other_sizes_switch_on_their_18th)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 19; i++) (void)!nth_heap_alloc(heap, 0, 0x100); /* LFH exists now */
    char *q[18];
    nth_walk_entry e;
    for (int i = 0; i < 18; i++) q[i] = nth_heap_alloc(heap, 0, 0x40);
    for (int i = 0; i < 17; i++) {
        REQUIRE(entry_for(heap, q[i], &e));
        CHECK(!(e.flags & NTH_ENTRY_LFH));
    }
    REQUIRE(entry_for(heap, q[17], &e));
    CHECK(e.flags & NTH_ENTRY_LFH);
    nth_heap_destroy(heap);
}

TEST(last_free_first_use)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    char *p[40];
    for (int i = 0; i < 40; i++) p[i] = nth_heap_alloc(heap, 0, 0x100);
    /* p[18..39] are LFH blocks in one subsegment. */
    CHECK(nth_heap_free(heap, 0, p[20]));
    CHECK(nth_heap_alloc(heap, 0, 0x100) == p[20]);
    CHECK(nth_heap_free(heap, 0, p[25]));
    CHECK(nth_heap_free(heap, 0, p[30]));
    CHECK(nth_heap_alloc(heap, 0, 0x100) == p[30]);
    CHECK(nth_heap_alloc(heap, 0, 0x100) == p[25]);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(bucket_table)
{
    /* Every size up to 16 KiB gets an LFH block large enough, and sizes are exact. */
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (size_t size = 1; size <= 16384; size += (size < 1024 ? 1 : 37)) {
        void *blocks[20];
        for (int i = 0; i < 20; i++) {
            blocks[i] = nth_heap_alloc(heap, 0, size);
            REQUIRE(blocks[i]);
            memset(blocks[i], 0xC3, size);
        }
        nth_walk_entry e;
        REQUIRE(entry_for(heap, blocks[19], &e));
        CHECK(e.flags & NTH_ENTRY_LFH);
        CHECK_EQ(nth_heap_size(heap, 0, blocks[19]), size);
        CHECK(nth_heap_usable_size(heap, blocks[19]) >= size);
        CHECK(nth_heap_usable_size(heap, blocks[19]) - size < (size <= 1024 ? 16 : size / 8 + 1));
        for (int i = 0; i < 20; i++) CHECK(nth_heap_free(heap, 0, blocks[i]));
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(realloc_inside_and_out_of_the_lfh)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    char *p[20];
    for (int i = 0; i < 20; i++) p[i] = nth_heap_alloc(heap, 0, 100);
    char *x = p[19];
    memset(x, 0x42, 100);
    char *y = nth_heap_realloc(heap, 0, x, 110); /* same 112-byte bucket */
    CHECK(y == x);
    CHECK_EQ(nth_heap_size(heap, 0, y), 110);
    char *z = nth_heap_realloc(heap, NTH_ZERO_MEMORY, y, 5000);
    REQUIRE(z);
    for (int i = 0; i < 100; i++) CHECK(z[i] == 0x42);
    for (int i = 110; i < 5000; i++) CHECK(z[i] == 0);
    CHECK(nth_heap_realloc(heap, NTH_REALLOC_IN_PLACE_ONLY, p[18], 4000) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_CANNOT_MOVE);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

/* A block that grows out of its slot by small appends gets room for a quarter more when it
 * moves, so it moves about once per quarter of growth rather than at every 16-byte bucket; its
 * size stays exact and its contents come along. */
TEST(a_block_grown_by_small_appends_moves_rarely)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    static void *warm[64][20]; /* every 16-byte bucket to 1 KiB served by the LFH */
    for (int b = 0; b < 64; b++)
        for (int i = 0; i < 20; i++) REQUIRE(warm[b][i] = nth_heap_alloc(heap, 0, 16 * (size_t)(b + 1)));
    for (int b = 0; b < 64; b++)
        for (int i = 0; i < 20; i++) CHECK(nth_heap_free(heap, 0, warm[b][i]));
    char *p = nth_heap_alloc(heap, 0, 16);
    REQUIRE(p);
    memset(p, 0x5A, 16);
    int moves = 0;
    for (size_t size = 32; size <= 1024; size += 16) {
        char *q = nth_heap_realloc(heap, 0, p, size);
        REQUIRE(q);
        moves += q != p;
        CHECK_EQ(nth_heap_size(heap, 0, q), size);
        CHECK(q[0] == 0x5A && q[size - 17] == (size > 32 ? (char)(size - 16) : 0x5A));
        q[size - 1] = (char)size;
        p = q;
    }
    CHECK(moves > 0 && moves <= 20); /* 10 now; 62 bucket changes on the way */
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

static void *realloc_in_other_thread(void *arg)
{
    void **slot = arg;
    *slot = nth_heap_realloc(nth_heap_from_pointer(*slot), 0, *slot, 104);
    return NULL;
}

/* The owner thread resizes an LFH block within its slot without the lock; a freed, interior or
 * other heap's block, or another thread's, still takes the checked path: refused and reported,
 * or resized there, with the exact size recorded either way. */
TEST(an_in_place_resize_by_the_owner_checks_the_block)
{
    nth_heap *heap = nth_heap_create(0, 0, 0), *other = nth_heap_create(0, 0, 0);
    REQUIRE(heap && other);
    char *p[20];
    for (int i = 0; i < 20; i++) REQUIRE(p[i] = nth_heap_alloc(heap, 0, 100));
    char *x = p[19]; /* an LFH block (the 19th allocation of its size) */
    CHECK(nth_heap_realloc(heap, 0, x, 112) == x);
    CHECK_EQ(nth_heap_size(heap, 0, x), 112);
    CHECK(nth_heap_realloc(heap, NTH_REALLOC_IN_PLACE_ONLY, x, 97) == x);
    CHECK_EQ(nth_heap_size(heap, 0, x), 97);
    nth_set_last_error(NTH_OK);
    CHECK(nth_heap_realloc(other, 0, x, 100) == NULL); /* another heap's handle */
    CHECK_EQ(nth_last_error(), NTH_ERR_WRONG_HEAP);
    CHECK(nth_heap_realloc(heap, 0, x + 16, 50) == NULL); /* an interior pointer */
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_POINTER);
    void *slot = x; /* a thread that does not own the subsegment resizes it the checked way */
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, realloc_in_other_thread, &slot) == 0);
    pthread_join(t, NULL);
    CHECK(slot == x);
    CHECK_EQ(nth_heap_size(heap, 0, x), 104);
    CHECK(nth_heap_free(heap, 0, x));
    CHECK(nth_heap_realloc(heap, 0, x, 100) == NULL); /* freed: a double free */
    CHECK_EQ(nth_last_error(), NTH_ERR_DOUBLE_FREE);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
    nth_heap_destroy(other);
}

TEST(switch_off_and_on)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    size_t value = 9;
    CHECK(nth_heap_get_option(heap, NTH_OPTION_LFH, &value));
    CHECK_EQ(value, 1);
    char *p[30];
    for (int i = 0; i < 30; i++) p[i] = nth_heap_alloc(heap, 0, 64);
    nth_walk_entry e;
    REQUIRE(entry_for(heap, p[29], &e));
    CHECK(e.flags & NTH_ENTRY_LFH);
    CHECK(nth_heap_set_option(heap, NTH_OPTION_LFH, 0));
    char *q = nth_heap_alloc(heap, 0, 64);
    REQUIRE(entry_for(heap, q, &e));
    CHECK(!(e.flags & NTH_ENTRY_LFH));
    CHECK(nth_heap_free(heap, 0, p[29])); /* LFH blocks stay freeable */
    CHECK(nth_heap_set_option(heap, NTH_OPTION_LFH, 1));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap *noser = nth_heap_create(NTH_NO_SERIALIZE, 0, 0);
    CHECK(!nth_heap_set_option(noser, NTH_OPTION_LFH, 1));
    nth_heap_get_option(noser, NTH_OPTION_LFH, &value);
    CHECK_EQ(value, 0);
    nth_heap_destroy(noser);
    nth_heap_destroy(heap);
}

static nth_heap *paused_heap;
static atomic_int other_stage;

static void *allocate_twice(void *arg)
{
    (void)arg;
    void *p = nth_heap_alloc(paused_heap, 0, 48); /* gets its cache and a subsegment */
    atomic_store(&other_stage, p ? 1 : -1);
    while (atomic_load(&other_stage) != 2) sched_yield();
    void *q = nth_heap_alloc(paused_heap, 0, 48); /* the fast path: must wait for the unlock */
    atomic_store(&other_stage, q ? 3 : -1);
    nth_heap_free(paused_heap, 0, p);
    nth_heap_free(paused_heap, 0, q);
    return NULL;
}

TEST(lock_pauses_the_front_end)
{
    /* While one thread holds the heap lock, another thread's LFH fast path (it has a cache and
     * a subsegment, and takes no lock) waits for the unlock; the holder may still allocate. */
    nth_heap *heap = paused_heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 40; i++) (void)!nth_heap_alloc(heap, 0, 48);
    atomic_store(&other_stage, 0);
    pthread_t t;
    pthread_create(&t, NULL, allocate_twice, NULL);
    while (atomic_load(&other_stage) == 0) sched_yield();
    CHECK_EQ(atomic_load(&other_stage), 1);
    CHECK(nth_heap_lock(heap));
    atomic_store(&other_stage, 2);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_EQ(atomic_load(&other_stage), 2); /* paused */
    void *p = nth_heap_alloc(heap, 0, 48);   /* the owner may still allocate */
    CHECK(p != NULL);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_unlock(heap));
    pthread_join(t, NULL);
    CHECK_EQ(atomic_load(&other_stage), 3);
    nth_heap_destroy(heap);
}

/* busy_bytes (and HeapSummary's cbAllocated from it) are the bytes asked for, also for LFH
 * blocks, whose slots are larger: the sum of nth_heap_size over the live blocks. */
TEST(busy_bytes_are_the_requested_sizes_of_lfh_blocks)
{
    static const size_t sizes[] = {1, 100, 1000, 5000, 16000};
    enum { EACH = 60, N = EACH * (int)(sizeof sizes / sizeof sizes[0]) };
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    void *p[N];
    for (int i = 0; i < N; i++) REQUIRE((p[i] = nth_heap_alloc(heap, 0, sizes[i / EACH])) != NULL);
    for (int i = 0; i < N; i += 3) nth_heap_free(heap, 0, p[i]), p[i] = NULL;
    for (int i = 1; i < N; i += 3) REQUIRE((p[i] = nth_heap_realloc(heap, 0, p[i], sizes[i / EACH] / 2 + 1)) != NULL);
    size_t sum = 0, lfh_blocks = 0;
    nth_walk_entry e;
    for (int i = 0; i < N; i++) {
        if (!p[i]) continue;
        sum += nth_heap_size(heap, 0, p[i]);
        lfh_blocks += entry_for(heap, p[i], &e) && (e.flags & NTH_ENTRY_LFH);
    }
    nth_heap_stats st;
    REQUIRE(nth_heap_query_stats(heap, &st));
    CHECK(lfh_blocks >= 100); /* the LFH serves most of them, at slots larger than asked */
    CHECK_EQ(st.lfh_blocks, lfh_blocks);
    CHECK_EQ(st.busy_bytes, sum);
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(seed_activation_point);
    RUN(other_sizes_switch_on_their_18th);
    RUN(last_free_first_use);
    RUN(bucket_table);
    RUN(realloc_inside_and_out_of_the_lfh);
    RUN(a_block_grown_by_small_appends_moves_rarely);
    RUN(an_in_place_resize_by_the_owner_checks_the_block);
    RUN(switch_off_and_on);
    RUN(lock_pauses_the_front_end);
    RUN(busy_bytes_are_the_requested_sizes_of_lfh_blocks);
    return harness_finish(argv[0]);
}
