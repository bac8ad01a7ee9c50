/*
 * test_api.c — every native operation and flag on private heaps: create/destroy, alloc (zero,
 * size 0, aligned), realloc (in place, moving, in-place-only, zeroing), free, size, usable size,
 * user values and flags, lock/unlock, compact, statistics, big blocks, fixed heaps, the process
 * heap and the heap list.
 */
#include "harness/harness.h"
#include "ntheap.h"

static bool all_bytes(const void *p, int value, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)value) return false;
    return true;
}

TEST(create_and_destroy_growable)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    CHECK(nth_heap_is_valid_handle(heap));
    CHECK((uintptr_t)heap % 65536 == 0);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_stats st;
    REQUIRE(nth_heap_query_stats(heap, &st));
    CHECK_EQ(st.segments, 1);
    CHECK_EQ(st.busy_blocks, 0);
    CHECK(st.committed > 0 && st.committed <= st.reserved);
    CHECK(nth_heap_destroy(heap));
    CHECK(!nth_heap_is_valid_handle(heap));
    CHECK(!nth_heap_destroy(heap));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_HANDLE);
}

TEST(alloc_free_size)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    void *a = nth_heap_alloc(heap, 0, 100);
    void *b = nth_heap_alloc(heap, 0, 1);
    void *c = nth_heap_alloc(heap, 0, 5000);
    REQUIRE(a && b && c);
    CHECK((uintptr_t)a % 16 == 0 && (uintptr_t)b % 16 == 0 && (uintptr_t)c % 16 == 0);
    CHECK_EQ(nth_heap_size(heap, 0, a), 100);
    CHECK_EQ(nth_heap_size(heap, 0, b), 1);
    CHECK_EQ(nth_heap_size(heap, 0, c), 5000);
    CHECK(nth_heap_usable_size(heap, a) >= 100);
    memset(a, 0x11, 100);
    memset(c, 0x22, 5000);
    CHECK(nth_heap_validate(heap, 0, a));
    CHECK(nth_heap_free(heap, 0, a));
    CHECK(nth_heap_free(heap, 0, b));
    CHECK(nth_heap_free(heap, 0, c));
    CHECK(nth_heap_free(heap, 0, NULL));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    CHECK_EQ(st.busy_blocks, 0);
    CHECK_EQ(st.busy_bytes, 0);
    nth_heap_destroy(heap);
}

TEST(size_zero_gives_unique_pointers)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    void *a = nth_heap_alloc(heap, 0, 0), *b = nth_heap_alloc(heap, 0, 0);
    REQUIRE(a && b);
    CHECK(a != b);
    CHECK_EQ(nth_heap_size(heap, 0, a), 0);
    CHECK(nth_heap_free(heap, 0, a));
    CHECK(nth_heap_free(heap, 0, b));
    nth_heap_destroy(heap);
}

TEST(zero_memory_flag)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    /* Dirty some memory, free it, then ask for zeroed memory of the same size. */
    for (int round = 0; round < 3; round++) {
        unsigned char *p = nth_heap_alloc(heap, 0, 3000);
        REQUIRE(p);
        memset(p, 0xEE, 3000);
        nth_heap_free(heap, 0, p);
        unsigned char *z = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 3000);
        REQUIRE(z);
        CHECK(all_bytes(z, 0, 3000));
        nth_heap_free(heap, 0, z);
    }
    nth_heap_destroy(heap);
}

TEST(realloc_grows_and_shrinks_in_place_and_moves)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    unsigned char *p = nth_heap_alloc(heap, 0, 64);
    REQUIRE(p);
    for (int i = 0; i < 64; i++) p[i] = (unsigned char)i;
    /* The block after p is free (the rest of the segment): growing stays in place. */
    unsigned char *q = nth_heap_realloc(heap, 0, p, 4000);
    CHECK(q == p);
    CHECK_EQ(nth_heap_size(heap, 0, q), 4000);
    for (int i = 0; i < 64; i++) CHECK(q[i] == (unsigned char)i);
    /* Shrinking stays in place. */
    q = nth_heap_realloc(heap, 0, q, 32);
    CHECK(q == p);
    CHECK_EQ(nth_heap_size(heap, 0, q), 32);
    /* Pin a block after it: now growing must move, or fail with IN_PLACE_ONLY. */
    void *pin = nth_heap_alloc(heap, 0, 16);
    REQUIRE(pin);
    unsigned char *moved_not = nth_heap_realloc(heap, NTH_REALLOC_IN_PLACE_ONLY, q, 100000);
    CHECK(moved_not == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_CANNOT_MOVE);
    CHECK_EQ(nth_heap_size(heap, 0, q), 32);
    unsigned char *r = nth_heap_realloc(heap, NTH_ZERO_MEMORY, q, 100000);
    REQUIRE(r);
    CHECK(r != q);
    for (int i = 0; i < 32; i++) CHECK(r[i] == (unsigned char)i);
    CHECK(all_bytes(r + 32, 0, 100000 - 32));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_free(heap, 0, r);
    nth_heap_free(heap, 0, pin);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(realloc_null_is_an_error)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    CHECK(nth_heap_realloc(heap, 0, NULL, 10) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_POINTER);
    nth_heap_destroy(heap);
}

TEST(coalescing_reuses_the_hole)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    char *blocks[20];
    for (int i = 0; i < 20; i++) blocks[i] = nth_heap_alloc(heap, 0, 0x100);
    for (int i = 1; i < 20; i++) CHECK(blocks[i] - blocks[i - 1] == 0x110);
    nth_heap_free(heap, 0, blocks[16]);
    nth_heap_free(heap, 0, blocks[17]);
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    /* The two holes are one free block now (plus the rest of the segment). */
    CHECK_EQ(st.free_blocks, 2);
    char *x = nth_heap_alloc(heap, 0, 0x100), *y = nth_heap_alloc(heap, 0, 0x100);
    CHECK(x == blocks[16]);
    CHECK(y == blocks[17]);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(aligned_allocation)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    size_t alignments[] = {16, 32, 64, 128, 256, 4096, 65536};
    void *ptrs[7];
    for (int i = 0; i < 7; i++) {
        ptrs[i] = nth_heap_alloc_aligned(heap, 0, alignments[i], 1000);
        REQUIRE(ptrs[i]);
        CHECK((uintptr_t)ptrs[i] % alignments[i] == 0);
        CHECK_EQ(nth_heap_size(heap, 0, ptrs[i]), 1000);
        memset(ptrs[i], 0x5A, 1000);
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    void *big = nth_heap_alloc_aligned(heap, 0, 4096, 3 << 20);
    REQUIRE(big);
    CHECK((uintptr_t)big % 4096 == 0);
    for (int i = 0; i < 7; i++) CHECK(nth_heap_free(heap, 0, ptrs[i]));
    CHECK(nth_heap_free(heap, 0, big));
    CHECK(nth_heap_alloc_aligned(heap, 0, 48, 10) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(big_blocks_are_mapped_and_remapped)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    size_t size = 2u << 20;
    unsigned char *p = nth_heap_alloc(heap, 0, size);
    REQUIRE(p);
    CHECK_EQ(nth_heap_size(heap, 0, p), size);
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    CHECK_EQ(st.big_blocks, 1);
    memset(p, 0x77, size);
    unsigned char *q = nth_heap_realloc(heap, NTH_ZERO_MEMORY, p, 8u << 20);
    REQUIRE(q);
    CHECK(all_bytes(q, 0x77, size));
    CHECK(all_bytes(q + size, 0, (8u << 20) - size));
    CHECK_EQ(nth_heap_size(heap, 0, q), 8u << 20);
    unsigned char *r = nth_heap_realloc(heap, 0, q, 3u << 20);
    REQUIRE(r);
    CHECK(all_bytes(r, 0x77, size));
    CHECK(nth_heap_validate(heap, 0, NULL));
    /* Shrinking far below the threshold moves it back into a segment. */
    unsigned char *s = nth_heap_realloc(heap, 0, r, 1000);
    REQUIRE(s);
    CHECK(all_bytes(s, 0x77, 1000));
    nth_heap_query_stats(heap, &st);
    CHECK_EQ(st.big_blocks, 0);
    CHECK(nth_heap_free(heap, 0, s));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(fixed_heap_never_grows)
{
    nth_heap *heap = nth_heap_create(0, 0, 256 << 10);
    REQUIRE(heap);
    nth_heap_stats st;
    nth_heap_query_stats(heap, &st);
    CHECK(st.reserved >= 256 << 10);
    size_t total = 0;
    void *p;
    while ((p = nth_heap_alloc(heap, 0, 1000)) != NULL) total += 1000;
    CHECK_EQ(nth_last_error(), NTH_ERR_NO_MEMORY);
    CHECK(total > 200 << 10);
    CHECK(total <= 256 << 10);
    nth_heap_query_stats(heap, &st);
    CHECK_EQ(st.segments, 1);
    CHECK(nth_heap_alloc(heap, 0, 2 << 20) == NULL);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(growable_heap_adds_segments_with_doubling_reserve)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_LFH, 0);
    size_t reserves[8] = {0};
    int seen = 0;
    for (int i = 0; i < 20000; i++) REQUIRE(nth_heap_alloc(heap, 0, 0x100));
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e))
        if ((e.flags & NTH_ENTRY_REGION) && seen < 8) reserves[seen++] = e.u.region.reserved;
    CHECK(seen >= 3);
    CHECK_EQ(reserves[1], 1u << 20);
    CHECK_EQ(reserves[2], 2u << 20);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(user_value_and_flags)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    void *p = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE | NTH_SETTABLE_USER_FLAG1, 40);
    REQUIRE(p);
    CHECK(nth_heap_set_user_value(heap, p, 0xABCDEF));
    uintptr_t value = 0;
    uint32_t flags = 0;
    CHECK(nth_heap_get_user_info(heap, p, &value, &flags));
    CHECK_EQ(value, 0xABCDEF);
    CHECK_EQ(flags, NTH_SETTABLE_USER_FLAG1);
    CHECK(nth_heap_set_user_flags(heap, p, NTH_SETTABLE_USER_FLAG1, NTH_SETTABLE_USER_FLAG3));
    nth_heap_get_user_info(heap, p, &value, &flags);
    CHECK_EQ(flags, NTH_SETTABLE_USER_FLAG3);
    /* The value survives a move. */
    void *pin = nth_heap_alloc(heap, 0, 16);
    void *q = nth_heap_realloc(heap, 0, p, 20000);
    REQUIRE(q);
    nth_heap_get_user_info(heap, q, &value, &flags);
    CHECK_EQ(value, 0xABCDEF);
    nth_walk_entry e = {0};
    bool found = false;
    while (nth_heap_walk(heap, &e))
        if (e.data == q) {
            found = true;
            CHECK(e.flags & NTH_ENTRY_USER_VALUE);
            CHECK_EQ(e.u.block.user_value, 0xABCDEF);
        }
    CHECK(found);
    nth_heap_free(heap, 0, q);
    nth_heap_free(heap, 0, pin);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(lock_is_recursive_and_checked)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    CHECK(!nth_heap_unlock(heap));
    CHECK_EQ(nth_last_error(), NTH_ERR_NOT_LOCKED);
    CHECK(nth_heap_lock(heap));
    CHECK(nth_heap_lock(heap));
    void *p = nth_heap_alloc(heap, 0, 10);
    CHECK(p != NULL);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(nth_heap_unlock(heap));
    CHECK(nth_heap_unlock(heap));
    CHECK(!nth_heap_unlock(heap));
    nth_heap *noser = nth_heap_create(NTH_NO_SERIALIZE, 0, 0);
    CHECK(!nth_heap_lock(noser));
    CHECK_EQ(nth_last_error(), NTH_ERR_NOT_SUPPORTED);
    nth_heap_destroy(noser);
    nth_heap_destroy(heap);
}

TEST(compact_decommits_and_reports_largest)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_TOTAL_FREE, (size_t)1 << 40);
    void *p = nth_heap_alloc(heap, 0, 200000);
    REQUIRE(p);
    nth_heap_stats before, after;
    nth_heap_free(heap, 0, p);
    nth_heap_query_stats(heap, &before);
    size_t largest = nth_heap_compact(heap, 0);
    nth_heap_query_stats(heap, &after);
    CHECK(largest > 0);
    CHECK(after.committed < before.committed);
    CHECK(after.uncommitted_ranges >= 1);
    CHECK(nth_heap_validate(heap, 0, NULL));
    /* The memory comes back when needed. */
    void *q = nth_heap_alloc(heap, 0, 200000);
    REQUIRE(q);
    memset(q, 1, 200000);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(process_heap_and_list)
{
    nth_heap *ph = nth_process_heap();
    REQUIRE(ph);
    CHECK(ph == nth_process_heap());
    CHECK(!nth_heap_destroy(ph));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_HANDLE);
    nth_heap *a = nth_heap_create(0, 0, 0), *b = nth_heap_create(0, 0, 0);
    nth_heap *list[64];
    size_t n = nth_heap_list(list, 64);
    CHECK(n >= 3);
    CHECK(list[0] == ph);
    bool fa = false, fb = false;
    for (size_t i = 0; i < n && i < 64; i++) {
        fa |= list[i] == a;
        fb |= list[i] == b;
    }
    CHECK(fa && fb);
    CHECK_EQ(nth_heap_list(NULL, 0), n);
    CHECK_EQ(nth_heap_list(NULL, 64), n); /* no buffer: the count alone, whatever the capacity */
    nth_heap_destroy(a);
    CHECK_EQ(nth_heap_list(list, 64), n - 1);
    nth_heap_destroy(b);
}

TEST(invalid_handles_are_refused)
{
    int on_stack;
    CHECK(nth_heap_alloc((nth_heap *)&on_stack, 0, 10) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_HANDLE);
    CHECK(nth_heap_alloc(NULL, 0, 10) == NULL);
    CHECK(!nth_heap_free((nth_heap *)0x12340000, 0, (void *)0x10));
    CHECK(!nth_heap_validate((nth_heap *)&on_stack, 0, NULL));
}

/* A walk remembers the heap its last step found sound; a heap destroyed in the middle of a walk
 * (its segments unmapped) must still be refused as a handle, not read. */
TEST(walk_of_a_heap_destroyed_mid_walk_is_refused)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    for (int i = 0; i < 40; i++) REQUIRE(nth_heap_alloc(heap, 0, 100));
    nth_walk_entry entry = {0};
    CHECK(nth_heap_walk(heap, &entry));
    CHECK(nth_heap_walk(heap, &entry));
    CHECK(nth_heap_destroy(heap));
    nth_walk_entry again = entry;
    CHECK(!nth_heap_walk(heap, &again));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_HANDLE);
    CHECK(again.data == entry.data); /* the caller's entry is left as it was */
}

/* Collects a walk's LFH entries; with `locked`, under nth_heap_lock (the walk resumes its cursor
 * and takes its quick step within a bitmap word), else each step finds its place again. */
static size_t lfh_entries(nth_heap *heap, bool locked, void **out, size_t max)
{
    size_t n = 0;
    if (locked && !nth_heap_lock(heap)) return 0;
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e))
        if ((e.flags & NTH_ENTRY_LFH) && n < max) out[n++] = e.data;
    if (locked && !nth_heap_unlock(heap)) return 0;
    return n;
}

/* A locked walk steps within the bitmap word it holds without retaking the lock; it must see what
 * a walk that finds its place at every step sees, notice a change the walking thread makes
 * between two steps, and resume from an older entry handed back to it. */
TEST(locked_walk_quick_steps_agree_with_full_steps)
{
    enum { N = 300 };
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    static void *blocks[N], *locked[N + 1], *unlocked[N + 1];
    for (int i = 0; i < N; i++) REQUIRE(blocks[i] = nth_heap_alloc(heap, 0, 48));
    for (int i = 0; i < N; i += 7) CHECK(nth_heap_free(heap, 0, blocks[i]));
    size_t a = lfh_entries(heap, true, locked, N + 1), b = lfh_entries(heap, false, unlocked, N + 1);
    CHECK(a > 200);
    CHECK_EQ(a, b);
    CHECK(memcmp(locked, unlocked, a * sizeof *locked) == 0);

    /* A block freed between two steps of a locked walk, ahead of the cursor, is not listed. */
    REQUIRE(nth_heap_lock(heap));
    nth_walk_entry e = {0}, older = {0};
    while (nth_heap_walk(heap, &e) && !(e.flags & NTH_ENTRY_LFH)) continue;
    REQUIRE(e.flags & NTH_ENTRY_LFH);
    CHECK(nth_heap_walk(heap, &e));
    older = e;
    CHECK(nth_heap_walk(heap, &e));
    nth_walk_entry third = e;
    void *ahead = locked[5];
    CHECK(nth_heap_free(heap, 0, ahead));
    size_t seen_ahead = 0, after = 0;
    while (nth_heap_walk(heap, &e)) {
        if (e.data == ahead) seen_ahead++;
        if (e.flags & NTH_ENTRY_LFH) after++;
    }
    CHECK_EQ(seen_ahead, 0);
    CHECK_EQ(after, a - 4); /* the first three listed, and the one freed */
    nth_walk_entry resumed = older;
    CHECK(nth_heap_walk(heap, &resumed)); /* an older entry handed back: the one after it */
    CHECK(resumed.data == third.data);
    CHECK(nth_heap_walk(heap, &resumed));
    CHECK(resumed.data == locked[3]);
    CHECK(nth_heap_unlock(heap));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

/* Walks until the entry whose data is `target`; false if the walk ends first. */
static bool walk_to(nth_heap *heap, nth_walk_entry *e, const void *target)
{
    while (nth_heap_walk(heap, e))
        if (e->data == target) return true;
    return false;
}

/* A walk keeps its cursor between steps only while nothing can have changed the heap: a call
 * that ran without the lock (a NO_SERIALIZE heap's, or one made with NTH_NO_SERIALIZE by a
 * thread holding the lock) makes the next step find its place again, which refuses a position
 * that is gone instead of stepping from a stale copy. */
TEST(a_walk_sees_calls_made_without_the_lock_between_its_steps)
{
    enum { N = 40 };
    nth_heap *noser = nth_heap_create(NTH_NO_SERIALIZE, 0, 0);
    REQUIRE(noser);
    void *blocks[N];
    for (int i = 0; i < N; i++) REQUIRE(blocks[i] = nth_heap_alloc(noser, 0, 100 + 16 * (size_t)i));
    nth_walk_entry e = {0};
    size_t busy = 0;
    while (nth_heap_walk(noser, &e)) busy += (e.flags & NTH_ENTRY_BUSY) != 0;
    CHECK_EQ(busy, N);
    /* Step to blocks[10], then free it and the block before: the two merge, and the position
     * handed back no longer starts a block. */
    e = (nth_walk_entry){0};
    REQUIRE(walk_to(noser, &e, blocks[10]));
    CHECK(nth_heap_free(noser, 0, blocks[9]));
    CHECK(nth_heap_free(noser, 0, blocks[10]));
    CHECK(!nth_heap_walk(noser, &e));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    /* A change that leaves the position in place: the next entry is the heap as it is now. */
    e = (nth_walk_entry){0};
    REQUIRE(walk_to(noser, &e, blocks[20]));
    CHECK(nth_heap_free(noser, 0, blocks[21]));
    REQUIRE(nth_heap_walk(noser, &e));
    CHECK(e.data == blocks[21]);
    CHECK(!(e.flags & NTH_ENTRY_BUSY));
    CHECK(nth_heap_validate(noser, 0, NULL));
    nth_heap_destroy(noser);

    /* A serialized heap locked by its walker, changed by the same thread with NTH_NO_SERIALIZE
     * (back-end blocks: the LFH takes no NO_SERIALIZE call). */
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    for (int i = 0; i < 8; i++) REQUIRE(blocks[i] = nth_heap_alloc(heap, 0, 20000));
    REQUIRE(nth_heap_lock(heap));
    e = (nth_walk_entry){0};
    REQUIRE(walk_to(heap, &e, blocks[4]));
    CHECK(nth_heap_free(heap, NTH_NO_SERIALIZE, blocks[5]));
    CHECK(nth_heap_free(heap, NTH_NO_SERIALIZE, blocks[4])); /* 5 merges into 4 */
    CHECK(!nth_heap_walk(heap, &e)); /* a kept cursor would list 5, which is gone */
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK(nth_heap_free(heap, NTH_NO_SERIALIZE, blocks[3]));
    e = (nth_walk_entry){0};
    REQUIRE(walk_to(heap, &e, blocks[2]));
    void *again = nth_heap_alloc(heap, NTH_NO_SERIALIZE, 40000); /* the merged 3-4-5 block, split */
    CHECK(again == blocks[3]);
    REQUIRE(nth_heap_walk(heap, &e));
    CHECK(e.data == blocks[3]);
    CHECK(e.flags & NTH_ENTRY_BUSY);
    CHECK_EQ(e.size, 40000);
    CHECK(nth_heap_unlock(heap));
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

static unsigned corrupt_reports;
static void count_corrupt(const nth_report *report, void *context)
{
    (void)context;
    if (report->error == NTH_ERR_CORRUPT) corrupt_reports++;
}

/* A position handed back to the walk is read only where memory is committed and believed only
 * where a block still starts: one given back to the system (freed, then compacted), one forged
 * inside an uncommitted range, and one in a run of blocks merged since are refused with
 * NTH_ERR_INVALID_PARAMETER, never a fault or a report of damage that is not there. */
TEST(a_walk_refuses_positions_that_are_gone)
{
    enum { N = 64 };
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    REQUIRE(nth_heap_set_option(heap, NTH_OPTION_LFH, 0));
    void *blocks[N];
    for (int i = 0; i < N; i++) REQUIRE(blocks[i] = nth_heap_alloc(heap, 0, 20000));
    nth_walk_entry e = {0};
    REQUIRE(walk_to(heap, &e, blocks[N / 2]));
    nth_walk_entry kept = e;
    for (int i = 0; i < N; i++) CHECK(nth_heap_free(heap, 0, blocks[i]));
    CHECK(nth_heap_compact(heap, 0) > 0);
    e = kept;
    CHECK(!nth_heap_walk(heap, &e)); /* its pages were decommitted */
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    e = (nth_walk_entry){0};
    while (nth_heap_walk(heap, &e) && !(e.flags & NTH_ENTRY_UNCOMMITTED)) continue;
    REQUIRE(e.flags & NTH_ENTRY_UNCOMMITTED);
    static const uint16_t forged_flags[] = {0, NTH_ENTRY_BUSY, NTH_ENTRY_BUSY | NTH_ENTRY_INTERNAL};
    for (size_t f = 0; f < sizeof forged_flags / sizeof *forged_flags; f++) {
        nth_walk_entry forged = {.data = (char *)e.data + 256, .flags = forged_flags[f]};
        CHECK(!nth_heap_walk(heap, &forged));
        CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    }

    /* Two free blocks with a busy one between, the position of the second kept, then the middle
     * one freed: all three merge, and the stale headers of the middle and the last agree with
     * each other (the last's prev_size names the middle's size), so only their burial as
     * tombstones tells that neither starts a block any more. */
    for (int i = 0; i < 8; i++) REQUIRE(blocks[i] = nth_heap_alloc(heap, 0, 300));
    CHECK(nth_heap_free(heap, 0, blocks[3]));
    CHECK(nth_heap_free(heap, 0, blocks[5]));
    e = (nth_walk_entry){0};
    REQUIRE(walk_to(heap, &e, blocks[5]));
    CHECK(!(e.flags & NTH_ENTRY_BUSY));
    kept = e;
    CHECK(nth_heap_free(heap, 0, blocks[4]));
    corrupt_reports = 0;
    nth_set_report_handler(count_corrupt, NULL);
    e = kept;
    CHECK(!nth_heap_walk(heap, &e));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    nth_walk_entry inside = {.data = blocks[4], .flags = 0}; /* the middle one */
    CHECK(!nth_heap_walk(heap, &inside));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    nth_set_report_handler(NULL, NULL);
    CHECK_EQ(corrupt_reports, 0);
    CHECK(!nth_heap_free(heap, 0, blocks[4])); /* its stale pointer: a double free */
    CHECK_EQ(nth_last_error(), NTH_ERR_DOUBLE_FREE);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(huge_requests_fail_cleanly)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    volatile size_t huge = SIZE_MAX; /* hidden from the compiler's size checks */
    CHECK(nth_heap_alloc(heap, 0, huge) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_NO_MEMORY);
    CHECK(nth_heap_alloc(heap, 0, huge - 8) == NULL);
    void *p = nth_heap_alloc(heap, 0, 10);
    CHECK(nth_heap_realloc(heap, 0, p, SIZE_MAX / 2) == NULL);
    CHECK_EQ(nth_heap_size(heap, 0, p), 10);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

TEST(debug_fills)
{
    nth_heap *heap = nth_heap_create(NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED, 0, 0);
    unsigned char *p = nth_heap_alloc(heap, 0, 20);
    REQUIRE(p);
    uint32_t first;
    memcpy(&first, p, 4);
    CHECK_EQ(first, 0xBAADF00D);
    volatile uintptr_t tail = (uintptr_t)p + 20; /* the byte after the data */
    CHECK_EQ(*(unsigned char *)tail, 0xAB);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_free(heap, 0, p);
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(create_and_destroy_growable);
    RUN(alloc_free_size);
    RUN(size_zero_gives_unique_pointers);
    RUN(zero_memory_flag);
    RUN(realloc_grows_and_shrinks_in_place_and_moves);
    RUN(realloc_null_is_an_error);
    RUN(coalescing_reuses_the_hole);
    RUN(aligned_allocation);
    RUN(big_blocks_are_mapped_and_remapped);
    RUN(fixed_heap_never_grows);
    RUN(growable_heap_adds_segments_with_doubling_reserve);
    RUN(user_value_and_flags);
    RUN(lock_is_recursive_and_checked);
    RUN(compact_decommits_and_reports_largest);
    RUN(process_heap_and_list);
    RUN(invalid_handles_are_refused);
    RUN(walk_of_a_heap_destroyed_mid_walk_is_refused);
    RUN(locked_walk_quick_steps_agree_with_full_steps);
    RUN(a_walk_sees_calls_made_without_the_lock_between_its_steps);
    RUN(a_walk_refuses_positions_that_are_gone);
    RUN(huge_requests_fail_cleanly);
    RUN(debug_fills);
    return harness_finish(argv[0]);
}
