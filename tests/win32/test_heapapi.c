/*
 * test_heapapi.c — conformance of HeapCreate ... HeapUnlock, GetProcessHeap(s) and the last
 * error with Windows' contracts. Each test names the reference row it checks:
 * "spec §x" is the behaviour specification (win32-heap-semantics), "oracle key" a probe answer
 * of the Wine oracle (where Wine is known to differ, Windows' answer is the one tested).
 */
#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "win32_test.h"

#include <stdatomic.h>

static bool is_aligned(const void *p, uintptr_t alignment)
{
    return ((uintptr_t)p & (alignment - 1)) == 0;
}

static bool all_bytes(const void *p, int value, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)value) return false;
    return true;
}

/* ------------------------------------------------------------------- last error (spec §1.5) */

static DWORD other_thread_error;
static void *read_error_thread(void *arg)
{
    (void)arg;
    other_thread_error = GetLastError();
    SetLastError(1234);
    return NULL;
}

TEST(last_error_is_thread_local_and_separate_from_native)
{
    SetLastError(42);
    CHECK_EQ(GetLastError(), 42);
    pthread_t t;
    pthread_create(&t, NULL, read_error_thread, NULL);
    pthread_join(t, NULL);
    CHECK_EQ(other_thread_error, 0); /* a new thread starts with 0 */
    CHECK_EQ(GetLastError(), 42);    /* the other thread's SetLastError did not leak here */
    nth_set_last_error(NTH_ERR_CORRUPT);
    CHECK_EQ(GetLastError(), 42);
    SetLastError(7);
    CHECK_EQ(nth_last_error(), NTH_ERR_CORRUPT);
}

TEST(successful_calls_leave_last_error_untouched)
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    prime();
    void *p = HeapAlloc(h, 0, 100);
    void *q = HeapReAlloc(h, 0, p, 200);
    CHECK(q != NULL);
    CHECK_EQ(HeapSize(h, 0, q), 200);
    CHECK(HeapValidate(h, 0, q));
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapLock(h));
    CHECK(HeapUnlock(h));
    PROCESS_HEAP_ENTRY e = { .lpData = NULL };
    CHECK(HeapWalk(h, &e));
    CHECK(HeapFree(h, 0, q));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(h));
    CHECK_EQ(GetLastError(), PRIMED);
}

/* ------------------------------------------------------------------ HeapCreate (spec §4.1) */

TEST(create_default_is_64k_aligned_last_error_untouched) /* oracle create.default, spec §2 */
{
    prime();
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    CHECK(is_aligned(h, 0x10000));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(h));
}

TEST(create_accepts_noserialize_execute_and_unknown_flags) /* oracle create.noser/bogus_flag/enable_execute */
{
    static const DWORD flags[] = { HEAP_NO_SERIALIZE, HEAP_CREATE_ENABLE_EXECUTE, 0x80000000u,
                                   HEAP_GENERATE_EXCEPTIONS, HEAP_TAIL_CHECKING_ENABLED | HEAP_FREE_CHECKING_ENABLED };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        HANDLE h = HeapCreate(flags[i], 0, 0);
        CHECK(h != NULL);
        void *p = HeapAlloc(h, 0, 64);
        CHECK(p != NULL);
        CHECK(HeapFree(h, 0, p));
        CHECK(HeapDestroy(h));
    }
}

TEST(create_initial_above_maximum_makes_fixed_heap_of_initial_size) /* oracle create.init_gt_max */
{
    HANDLE h = HeapCreate(0, 0x100000, 0x10000);
    REQUIRE(h != NULL);
    /* The heap holds more than its 64 KiB "maximum": 0x80000 bytes fit. */
    void *p = HeapAlloc(h, 0, 0x80000);
    CHECK(p != NULL);
    /* ... and it is fixed: it never grows past the initial megabyte. */
    size_t total = 0x80000;
    while (HeapAlloc(h, 0, 0x10000)) total += 0x10000;
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK(total < 0x100000);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(create_commits_the_initial_size_up_front) /* spec §4.1 dwInitialSize, oracle create.init1M */
{
    HANDLE h = HeapCreate(0, 0x100000, 0);
    REQUIRE(h != NULL);
    PROCESS_HEAP_ENTRY e = { .lpData = NULL };
    REQUIRE(HeapWalk(h, &e));
    CHECK(e.wFlags & PROCESS_HEAP_REGION);
    CHECK(e.Region.dwCommittedSize >= 0x100000);
    CHECK(HeapDestroy(h));
}

TEST(create_fixed_heap_refuses_blocks_above_the_vm_threshold) /* spec §2 max block in a non-growable heap */
{
    HANDLE h = HeapCreate(0, 0, 0x200000);
    REQUIRE(h != NULL);
    prime();
    CHECK(HeapAlloc(h, 0, 0x100000) == NULL); /* 4*0x8000*P fails although the heap is twice as big */
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    void *p = HeapAlloc(h, 0, 0x80000);
    CHECK(p != NULL);
    CHECK_EQ(HeapSize(h, 0, p), 0x80000);
    CHECK(HeapDestroy(h));
}

TEST(create_fixed_heap_fills_up_with_not_enough_memory) /* oracle fixed64K.*, spec §4.3 */
{
    HANDLE h = HeapCreate(0, 0, 0x10000);
    REQUIRE(h != NULL);
    int n = 0;
    prime();
    while (HeapAlloc(h, 0, 0x100)) n++;
    CHECK(n > 100);
    CHECK(n < 256); /* 64 KiB cannot hold 256 blocks of 256 bytes plus their headers */
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

/* ----------------------------------------------------------------- HeapDestroy (spec §4.2) */

TEST(destroy_null_is_true) /* oracle destroy.null */
{
    prime();
    CHECK(HeapDestroy(NULL));
    CHECK_EQ(GetLastError(), PRIMED);
}

TEST(destroy_process_heap_fails_and_heap_keeps_working) /* oracle child.destroy_process_heap */
{
    prime();
    CHECK(!HeapDestroy(GetProcessHeap()));
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    void *p = HeapAlloc(GetProcessHeap(), 0, 10);
    CHECK(p != NULL);
    CHECK(HeapFree(GetProcessHeap(), 0, p));
}

TEST(garbage_and_destroyed_heap_handles_fail_without_crashing) /* oracle child.alloc_destroyed_heap, size_bad_heap_handle */
{
    static char not_a_heap[64];
    HANDLE dead = HeapCreate(0, 0, 0);
    REQUIRE(dead != NULL);
    CHECK(HeapDestroy(dead));
    HANDLE bad[] = { (HANDLE)0x1234, (HANDLE)not_a_heap, dead };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        prime();
        CHECK(HeapAlloc(bad[i], 0, 10) == NULL);
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK_EQ(HeapSize(bad[i], 0, not_a_heap), (SIZE_T)-1);
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK(!HeapFree(bad[i], 0, not_a_heap));
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK(!HeapDestroy(bad[i]));
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        CHECK(!HeapValidate(bad[i], 0, NULL));
        CHECK(!HeapLock(bad[i]));
        PROCESS_HEAP_ENTRY e = { .lpData = NULL };
        prime();
        CHECK(!HeapWalk(bad[i], &e));
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    }
}

/* ------------------------------------------------------- process heap and list (spec §3) */

TEST(process_heap_is_first_of_process_heaps)
{
    HANDLE heaps[64];
    HANDLE process = GetProcessHeap();
    REQUIRE(process != NULL);
    DWORD n = GetProcessHeaps(64, heaps);
    CHECK(n >= 1);
    CHECK(heaps[0] == process);
}

TEST(process_heaps_counting_protocol_and_order) /* spec §3.2, oracle heaps.* */
{
    DWORD before = GetProcessHeaps(0, NULL);
    CHECK(before >= 1);
    HANDLE a = HeapCreate(0, 0, 0), b = HeapCreate(0, 0, 0);
    REQUIRE(a && b);
    CHECK_EQ(GetProcessHeaps(0, NULL), before + 2);
    HANDLE list[256];
    DWORD n = GetProcessHeaps(256, list);
    CHECK_EQ(n, before + 2);
    CHECK(list[0] == GetProcessHeap());
    CHECK(list[before] == a); /* new heaps are appended in creation order */
    CHECK(list[before + 1] == b);
    /* A small buffer: the total comes back, the first entries are stored, no error. */
    HANDLE one[2] = { NULL, (HANDLE)0x5555 };
    prime();
    CHECK_EQ(GetProcessHeaps(1, one), before + 2);
    CHECK(one[0] == GetProcessHeap());
    CHECK(one[1] == (HANDLE)0x5555);
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(a));
    CHECK(HeapDestroy(b));
    CHECK_EQ(GetProcessHeaps(0, NULL), before);
}

/* ------------------------------------------------------------------- HeapAlloc (spec §4.3) */

TEST(alloc_zero_gives_distinct_freeable_blocks_of_size_0) /* oracle alloc0.*, spec §6 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *a = HeapAlloc(h, 0, 0), *b = HeapAlloc(h, 0, 0);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK_EQ(HeapSize(h, 0, a), 0);
    CHECK(HeapFree(h, 0, a));
    CHECK(HeapFree(h, 0, b));
    HANDLE fixed = HeapCreate(0, 0, 0x10000);
    void *c = HeapAlloc(fixed, 0, 0);
    CHECK(c != NULL);
    CHECK_EQ(HeapSize(fixed, 0, c), 0);
    CHECK(HeapDestroy(fixed));
    CHECK(HeapDestroy(h));
}

TEST(alloc_size_is_exact_and_pointers_are_16_aligned) /* oracle alloc.size, spec §4.6 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    static const SIZE_T sizes[] = { 1, 7, 8, 15, 16, 17, 0x20, 0x100, 0x101, 0x3ff8, 0x4000, 0x20000,
                                    0x40000, 0x100000, 3000 * 1024 + 37 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = HeapAlloc(h, 0, sizes[i]);
        REQUIRE(p != NULL);
        CHECK(is_aligned(p, 2 * sizeof(void *)));
        CHECK_EQ(HeapSize(h, 0, p), sizes[i]);
        memset(p, 0x5A, sizes[i]);
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(alloc_big_block_is_64_byte_aligned) /* spec §2 large-block alignment 8P */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    for (int i = 0; i < 4; i++) {
        void *p = HeapAlloc(h, 0, 0x200000 + (SIZE_T)i * 0x1000);
        REQUIRE(p != NULL);
        CHECK(is_aligned(p, 8 * sizeof(void *)));
    }
    CHECK(HeapDestroy(h));
}

TEST(alloc_huge_fails_with_not_enough_memory) /* oracle huge.*, spec §4.3 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    static const SIZE_T sizes[] = { (SIZE_T)-1, (SIZE_T)-1 - 0x100, (SIZE_T)64 << 40 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        prime();
        CHECK(HeapAlloc(h, 0, sizes[i]) == NULL);
        CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(alloc_zero_memory_zeroes_a_reused_block) /* oracle zero.alloc_reused */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 0x300);
    REQUIRE(p != NULL);
    memset(p, 0xAA, 0x300);
    CHECK(HeapFree(h, 0, p));
    unsigned char *q = HeapAlloc(h, HEAP_ZERO_MEMORY, 0x300);
    REQUIRE(q != NULL);
    CHECK(all_bytes(q, 0, 0x300));
    unsigned char *big = HeapAlloc(h, HEAP_ZERO_MEMORY, 0x200000);
    REQUIRE(big != NULL);
    CHECK(all_bytes(big, 0, 0x200000));
    CHECK(HeapDestroy(h));
}

TEST(alloc_unknown_flag_is_ignored) /* oracle alloc.bogus_flag */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0x80000000u | HEAP_TAIL_CHECKING_ENABLED | (7u << HEAP_TAG_SHIFT), 32);
    CHECK(p != NULL);
    CHECK_EQ(HeapSize(h, 0, p), 32);
    CHECK(HeapFree(h, 0, p));
    CHECK(HeapDestroy(h));
}

/* ----------------------------------------------------------------- HeapReAlloc (spec §4.4) */

TEST(realloc_null_pointer_returns_null_with_no_error) /* spec §4.4, oracle child.realloc_null (Wine differs) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(HeapReAlloc(h, 0, NULL, 16) == NULL);
    CHECK_EQ(GetLastError(), NO_ERROR);
    CHECK(HeapDestroy(h));
    prime();
    CHECK(HeapReAlloc(h, 0, NULL, 16) == NULL); /* the NULL block is answered before the handle */
    CHECK_EQ(GetLastError(), NO_ERROR);
}

TEST(realloc_to_zero_keeps_a_block_in_place) /* oracle realloc.to0, spec §4.4 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 100);
    REQUIRE(p != NULL);
    void *q = HeapReAlloc(h, 0, p, 0);
    CHECK(q == p);
    CHECK_EQ(HeapSize(h, 0, q), 0);
    CHECK(HeapValidate(h, 0, q));
    CHECK(HeapFree(h, 0, q));
    CHECK(HeapDestroy(h));
}

TEST(realloc_moving_preserves_contents) /* oracle realloc.grow_moves */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 100);
    void *fence = HeapAlloc(h, 0, 100); /* the neighbour is busy: growth must move */
    REQUIRE(p && fence);
    for (int i = 0; i < 100; i++) p[i] = (unsigned char)i;
    unsigned char *q = HeapReAlloc(h, 0, p, 5000);
    REQUIRE(q != NULL);
    CHECK(q != p);
    for (int i = 0; i < 100; i++) CHECK_EQ(q[i], i);
    CHECK_EQ(HeapSize(h, 0, q), 5000);
    CHECK(!HeapValidate(h, 0, p)); /* the old block was freed */
    CHECK(HeapDestroy(h));
}

TEST(realloc_zero_memory_zeroes_growth_only) /* oracle zero.realloc_grow_moving/inplace, spec §4.4 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    /* Moving growth. */
    unsigned char *p = HeapAlloc(h, 0, 0x40);
    void *fence = HeapAlloc(h, 0, 0x40);
    REQUIRE(p && fence);
    memset(p, 0x77, 0x40);
    unsigned char *q = HeapReAlloc(h, HEAP_ZERO_MEMORY, p, 0x400);
    REQUIRE(q != NULL);
    CHECK(all_bytes(q, 0x77, 0x40));
    CHECK(all_bytes(q + 0x40, 0, 0x400 - 0x40));
    /* In-place growth: the last block of a fresh heap grows into the free space after it. */
    unsigned char *r = HeapAlloc(h, 0, 0x100);
    REQUIRE(r != NULL);
    memset(r, 0x66, 0x100);
    unsigned char *s = HeapReAlloc(h, HEAP_ZERO_MEMORY | HEAP_REALLOC_IN_PLACE_ONLY, r, 0x800);
    CHECK(s == r);
    if (s) {
        CHECK(all_bytes(s, 0x66, 0x100));
        CHECK(all_bytes(s + 0x100, 0, 0x700));
    }
    /* Large blocks too (1 MiB and beyond, spec §4.4). */
    unsigned char *big = HeapAlloc(h, 0, 0x100000);
    REQUIRE(big != NULL);
    memset(big, 0x55, 0x100000);
    unsigned char *bigger = HeapReAlloc(h, HEAP_ZERO_MEMORY, big, 0x300000);
    REQUIRE(bigger != NULL);
    CHECK(all_bytes(bigger, 0x55, 0x100000));
    CHECK(all_bytes(bigger + 0x100000, 0, 0x200000));
    CHECK(HeapDestroy(h));
}

TEST(realloc_zero_memory_after_shrink_zeroes_from_the_current_size) /* oracle zero.shrink_then_grow_in_slack */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 0x108);
    void *fence = HeapAlloc(h, 0, 0x10);
    REQUIRE(p && fence);
    memset(p, 0xAA, 0x108);
    unsigned char *q = HeapReAlloc(h, 0, p, 0x81);
    REQUIRE(q == p);
    unsigned char *r = HeapReAlloc(h, HEAP_ZERO_MEMORY, q, 0x108);
    REQUIRE(r != NULL);
    CHECK(all_bytes(r, 0xAA, 0x81));
    CHECK(all_bytes(r + 0x81, 0, 0x108 - 0x81));
    CHECK(HeapDestroy(h));
}

TEST(realloc_in_place_only_fails_cleanly_when_the_neighbour_is_busy) /* oracle inplace.grow_next_busy, spec §6 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 0x100);
    void *fence = HeapAlloc(h, 0, 0x100);
    REQUIRE(p && fence);
    memset(p, 0x3C, 0x100);
    prime();
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x1000) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(HeapSize(h, 0, p), 0x100);
    CHECK(all_bytes(p, 0x3C, 0x100));
    CHECK(HeapValidate(h, 0, p));
    CHECK(HeapDestroy(h));
}

TEST(realloc_in_place_only_grows_into_a_free_neighbour) /* oracle inplace.grow_next_free_fits / too_small */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 0x100);
    void *hole = HeapAlloc(h, 0, 0x200);
    void *fence = HeapAlloc(h, 0, 0x100);
    REQUIRE(p && hole && fence);
    CHECK(HeapFree(h, 0, hole));
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x280) == p);
    CHECK_EQ(HeapSize(h, 0, p), 0x280);
    prime();
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x1000) == NULL); /* the hole is too small */
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(HeapSize(h, 0, p), 0x280);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(realloc_in_place_only_grows_the_last_block_into_uncommitted_space) /* oracle inplace.grow_last_block_* */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    memset(p, 0x21, 0x100);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x8000) == p);
    CHECK_EQ(HeapSize(h, 0, p), 0x8000);
    /* Past what is committed: Wine commits more and grows in place; ntheap may refuse. Either
     * way the pointer never changes and a refusal leaves the block as it was. */
    unsigned char *q = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x20000);
    if (q) CHECK(q == p);
    else CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(HeapSize(h, 0, p), q ? 0x20000 : 0x8000);
    CHECK(all_bytes(p, 0x21, 0x100));
    prime();
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x100000) == NULL); /* would have to become a big block */
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(realloc_in_place_only_shrinks_and_regrows_within_the_block) /* oracle inplace.shrink*, grow_by1_within_slack */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 0x180);
    void *fence = HeapAlloc(h, 0, 0x10);
    REQUIRE(p && fence);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x40) == p);
    CHECK_EQ(HeapSize(h, 0, p), 0x40);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0x41) == p);
    CHECK_EQ(HeapSize(h, 0, p), 0x41);
    CHECK(HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, 0) == p);
    CHECK_EQ(HeapSize(h, 0, p), 0);
    CHECK(HeapValidate(h, 0, NULL));
    /* A fixed heap shrinks and regrows in place as well (spec §4.4). */
    HANDLE fixed = HeapCreate(0, 0, 0x40000);
    REQUIRE(fixed != NULL);
    void *f = HeapAlloc(fixed, 0, 0x8000);
    REQUIRE(f != NULL);
    CHECK(HeapReAlloc(fixed, HEAP_REALLOC_IN_PLACE_ONLY, f, 0x4000) == f);
    CHECK(HeapReAlloc(fixed, HEAP_REALLOC_IN_PLACE_ONLY, f, 0x6000) == f);
    CHECK_EQ(HeapSize(fixed, 0, f), 0x6000);
    CHECK(HeapDestroy(fixed));
    CHECK(HeapDestroy(h));
}

TEST(realloc_in_place_only_on_big_blocks_returns_same_pointer_or_null) /* oracle inplace.large_*, spec §4.4 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 0x200000);
    REQUIRE(p != NULL);
    memset(p, 0x42, 0x200000);
    static const SIZE_T targets[] = { 0x300000, 0x100000, 0x180000, 0x100 };
    SIZE_T current = 0x200000;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        prime();
        unsigned char *q = HeapReAlloc(h, HEAP_REALLOC_IN_PLACE_ONLY, p, targets[i]);
        if (q) {
            CHECK(q == p);
            current = targets[i];
        } else {
            CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
        }
        CHECK_EQ(HeapSize(h, 0, p), current);
        CHECK(p[0] == 0x42 && p[(current < 0x100 ? current : 0x100) - 1] == 0x42);
    }
    /* Without the flag, shrinking a big block to a small size works (it may move). */
    unsigned char *small = HeapReAlloc(h, 0, p, 0x100);
    REQUIRE(small != NULL);
    CHECK(all_bytes(small, 0x42, 0x100));
    CHECK_EQ(HeapSize(h, 0, small), 0x100);
    CHECK(HeapDestroy(h));
}

TEST(realloc_huge_fails_and_keeps_the_block) /* spec §4.4 huge sizes */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char *p = HeapAlloc(h, 0, 64);
    REQUIRE(p != NULL);
    memset(p, 9, 64);
    static const SIZE_T sizes[] = { (SIZE_T)-1, (SIZE_T)-1 - 7 };
    for (size_t i = 0; i < 2; i++) {
        prime();
        CHECK(HeapReAlloc(h, 0, p, sizes[i]) == NULL);
        CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
        CHECK(HeapValidate(h, 0, p));
        CHECK(all_bytes(p, 9, 64));
    }
    CHECK(HeapDestroy(h));
}

TEST(realloc_of_bad_pointers_fails_with_the_right_error) /* oracle child.realloc_freed/garbage, spec §4.4 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    char *p = HeapAlloc(h, 0, 64);
    char *keep = HeapAlloc(h, 0, 64);
    REQUIRE(p && keep);
    CHECK(HeapFree(h, 0, p));
    prime();
    CHECK(HeapReAlloc(h, 0, p, 100) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    prime();
    CHECK(HeapReAlloc(h, 0, keep + 16, 100) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    prime();
    CHECK(HeapReAlloc(h, 0, (void *)0x1234, 100) == NULL); /* unmapped: ERROR_NOACCESS as on Windows */
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

/* -------------------------------------------------------------------- HeapFree (spec §4.5) */

TEST(free_null_is_true_even_with_a_null_heap) /* oracle free.null, spec §4.5 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(HeapFree(h, 0, NULL));
    CHECK(HeapFree(NULL, 0, NULL));
    CHECK(HeapFree((HANDLE)0x1234, 0, NULL));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(h));
}

TEST(double_free_fails_with_invalid_parameter_and_heap_stays_valid) /* oracle child.double_free */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    CHECK(HeapFree(h, 0, p));
    prime();
    CHECK(!HeapFree(h, 0, p));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(HeapValidate(h, 0, NULL));
    void *q = HeapAlloc(h, 0, 0x100);
    CHECK(q != NULL);
    CHECK(HeapDestroy(h));
}

TEST(free_of_garbage_interior_stack_and_foreign_pointers_fails) /* oracle child.free_*, spec §4.5 */
{
    HANDLE h = HeapCreate(0, 0, 0), other = HeapCreate(0, 0, 0);
    REQUIRE(h && other);
    char *p = HeapAlloc(h, 0, 64);
    char *foreign = HeapAlloc(other, 0, 64);
    char on_stack[32];
    static char in_data[32];
    REQUIRE(p && foreign);
    struct { void *ptr; DWORD error; } cases[] = {
        { (void *)0x1234, ERROR_NOACCESS }, { p + 16, ERROR_INVALID_PARAMETER },
        { on_stack, ERROR_INVALID_PARAMETER }, { in_data, ERROR_INVALID_PARAMETER },
        { foreign, ERROR_INVALID_PARAMETER },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prime();
        CHECK(!HeapFree(h, 0, cases[i].ptr));
        CHECK_EQ(GetLastError(), cases[i].error);
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapValidate(other, 0, foreign)); /* the wrong-heap free did not touch it */
    CHECK(HeapFree(other, 0, foreign));
    CHECK(HeapDestroy(h));
    CHECK(HeapDestroy(other));
}

/* -------------------------------------------------------------------- HeapSize (spec §4.6) */

TEST(size_of_bad_pointers_is_minus_one) /* oracle child.size_*, spec §4.6 */
{
    HANDLE h = HeapCreate(0, 0, 0), other = HeapCreate(0, 0, 0);
    REQUIRE(h && other);
    char *p = HeapAlloc(h, 0, 64), *freed = HeapAlloc(h, 0, 64), *foreign = HeapAlloc(other, 0, 64);
    char on_stack[16];
    REQUIRE(p && freed && foreign);
    CHECK(HeapFree(h, 0, freed));
    struct { const void *ptr; DWORD error; } cases[] = {
        { freed, ERROR_INVALID_PARAMETER },   { p + 16, ERROR_INVALID_PARAMETER },
        { on_stack, ERROR_INVALID_PARAMETER }, { foreign, ERROR_INVALID_PARAMETER },
        { (void *)0x1234, ERROR_NOACCESS },    { NULL, ERROR_NOACCESS },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prime();
        CHECK_EQ(HeapSize(h, 0, cases[i].ptr), (SIZE_T)-1);
        CHECK_EQ(GetLastError(), cases[i].error);
    }
    CHECK_EQ(HeapSize(h, 0, p), 64);
    CHECK(HeapDestroy(h));
    CHECK(HeapDestroy(other));
}

/* ---------------------------------------------------------------- HeapValidate (spec §4.7) */

TEST(validate_healthy_heap_and_blocks) /* oracle validate.healthy_* */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *small = HeapAlloc(h, 0, 10), *big = HeapAlloc(h, 0, 0x200000);
    REQUIRE(small && big);
    prime();
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapValidate(h, 0, small));
    CHECK(HeapValidate(h, 0, big));
    CHECK(HeapValidate(GetProcessHeap(), 0, NULL));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(h));
}

TEST(validate_freed_interior_and_foreign_is_false_last_error_untouched) /* oracle validate.block_plus16/freed_block */
{
    HANDLE h = HeapCreate(0, 0, 0), other = HeapCreate(0, 0, 0);
    REQUIRE(h && other);
    char *p = HeapAlloc(h, 0, 64), *freed = HeapAlloc(h, 0, 64), *foreign = HeapAlloc(other, 0, 64);
    static char in_data[64];
    REQUIRE(p && freed && foreign);
    CHECK(HeapFree(h, 0, freed));
    const void *cases[] = { freed, p + 16, in_data, foreign };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prime();
        CHECK(!HeapValidate(h, 0, cases[i]));
        CHECK_EQ(GetLastError(), PRIMED);
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
    CHECK(HeapDestroy(other));
}

TEST(validate_unmapped_pointer_is_false_with_noaccess) /* spec §4.7, oracle child.validate_garbage (Wine differs) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(!HeapValidate(h, 0, (void *)0x1234));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    CHECK(HeapDestroy(h));
}

/* Overruns that reach the next block's header are found by HeapValidate(NULL); run in a child,
 * as the heap is damaged on purpose. The exit status carries the answers. */
static void overrun_child(void)
{
    HANDLE h = HeapCreate(0, 0, 0);
    unsigned char *a = HeapAlloc(h, 0, 0x100);
    unsigned char *b = HeapAlloc(h, 0, 0x100);
    if (!a || !b || b <= a) _exit(90);
    memset(a + 0x100, 0xFF, (size_t)(b - (a + 0x100))); /* up to the next block's data */
    int status = 0;
    if (!HeapValidate(h, 0, NULL)) status |= 1;
    if (!HeapValidate(h, 0, b)) status |= 2;
    _exit(status);
}

TEST(validate_detects_an_overrun_into_the_next_block) /* oracle child.overrun16_0x100 */
{
    int status = -1;
    int signal_number = expect_child_death(overrun_child, &status);
    CHECK_EQ(signal_number, 0);
    CHECK_EQ(status, 3);
}

static void write_after_free_child(void)
{
    HANDLE h = HeapCreate(0, 0, 0);
    unsigned char *a = HeapAlloc(h, 0, 0x100);
    void *fence = HeapAlloc(h, 0, 0x100);
    if (!a || !fence) _exit(90);
    HeapFree(h, 0, a);
    memset(a - 2 * sizeof(void *), 0x5A, 0x40); /* the free block's header and links */
    _exit(HeapValidate(h, 0, NULL) ? 0 : 1);
}

TEST(validate_detects_a_write_after_free) /* oracle child.write_after_free_validate */
{
    int status = -1;
    CHECK_EQ(expect_child_death(write_after_free_child, &status), 0);
    CHECK_EQ(status, 1);
}

/* ----------------------------------------------------------------- HeapCompact (spec §4.8) */

TEST(compact_returns_the_largest_free_block) /* spec §4.8 (Wine's stub returns 0) */
{
    HANDLE h = HeapCreate(0, 0x40000, 0);
    REQUIRE(h != NULL);
    prime();
    SIZE_T largest = HeapCompact(h, 0);
    CHECK(largest > 0);
    CHECK(largest <= 0x40000);
    CHECK_EQ(GetLastError(), PRIMED);
    /* Carving the front of the free space makes the largest free block smaller. */
    void *p = HeapAlloc(h, 0, 0x10000);
    REQUIRE(p != NULL);
    SIZE_T after = HeapCompact(h, 0);
    CHECK(after < largest);
    CHECK(after > 0);
    CHECK(HeapDestroy(h));
}

TEST(compact_of_a_full_heap_is_0_with_no_error) /* spec §4.8 corner case */
{
    HANDLE h = HeapCreate(0, 0, 0x10000);
    REQUIRE(h != NULL);
    for (SIZE_T size = 0x8000; size >= 1; size /= 2)
        while (HeapAlloc(h, 0, size)) {}
    while (HeapAlloc(h, 0, 0)) {}
    prime();
    CHECK_EQ(HeapCompact(h, 0), 0);
    CHECK_EQ(GetLastError(), NO_ERROR);
    CHECK(HeapDestroy(h));
}

/* ------------------------------------------------------------ HeapLock/Unlock (spec §4.9) */

typedef struct lock_probe {
    HANDLE heap;
    DWORD flags;
    atomic_int done;
} lock_probe;

static void *alloc_thread(void *arg)
{
    lock_probe *probe = arg;
    void *p = HeapAlloc(probe->heap, probe->flags, 0x2000);
    HeapFree(probe->heap, probe->flags, p);
    atomic_store(&probe->done, 1);
    return NULL;
}

/* True if another thread's HeapAlloc(flags) finishes within wait_ms while this thread holds the
 * heap lock; the thread is always joined after the unlock. A loaded machine (a sanitizer build,
 * other jobs) can take long to start a thread: the call that must proceed gets seconds, the one
 * that must wait 200 ms (where slowness cannot make the check fail). */
static bool alloc_proceeds_while_locked(HANDLE heap, DWORD flags, int wait_ms)
{
    lock_probe probe = { heap, flags, 0 };
    CHECK(HeapLock(heap));
    pthread_t t;
    pthread_create(&t, NULL, alloc_thread, &probe);
    for (int i = 0; i < wait_ms / 5 && !atomic_load(&probe.done); i++) sleep_ms(5);
    bool proceeded = atomic_load(&probe.done) != 0;
    CHECK(HeapUnlock(heap));
    pthread_join(t, NULL);
    CHECK(atomic_load(&probe.done) == 1);
    return proceeded;
}

TEST(lock_excludes_other_threads_but_not_their_no_serialize_calls) /* spec §4.9 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    CHECK(!alloc_proceeds_while_locked(h, 0, 200));
    CHECK(alloc_proceeds_while_locked(h, HEAP_NO_SERIALIZE, 10000));
    CHECK(HeapDestroy(h));
}

TEST(lock_excludes_lfh_allocations_too) /* spec §4.9 differs on purpose: a walk under HeapLock sees a still heap */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    ULONG lfh = 2;
    CHECK(HeapSetInformation(h, HeapCompatibilityInformation, &lfh, sizeof lfh));
    for (int i = 0; i < 64; i++) REQUIRE(HeapAlloc(h, 0, 0x2000) != NULL);
    CHECK(!alloc_proceeds_while_locked(h, 0, 200));
    CHECK(HeapDestroy(h));
}

TEST(lock_on_a_no_serialize_heap_succeeds_without_exclusion) /* oracle lock.noserialize_heap, spec §4.9 */
{
    HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(alloc_proceeds_while_locked(h, 0, 10000));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(h));
}

TEST(lock_is_recursive_and_an_unbalanced_unlock_fails) /* oracle lock.*, unlock.* (deliberate difference) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    CHECK(HeapLock(h));
    CHECK(HeapLock(h));
    void *p = HeapAlloc(h, 0, 10); /* the owner can still allocate */
    CHECK(p != NULL);
    CHECK(HeapUnlock(h));
    CHECK(HeapUnlock(h));
    prime();
    CHECK(!HeapUnlock(h));
    CHECK_EQ(GetLastError(), ERROR_NOT_LOCKED);
    CHECK(HeapDestroy(h));
}

int main(int argc, char **argv)
{
    (void)argc;
    quiet_reports();
    RUN(last_error_is_thread_local_and_separate_from_native);
    RUN(successful_calls_leave_last_error_untouched);
    RUN(create_default_is_64k_aligned_last_error_untouched);
    RUN(create_accepts_noserialize_execute_and_unknown_flags);
    RUN(create_initial_above_maximum_makes_fixed_heap_of_initial_size);
    RUN(create_commits_the_initial_size_up_front);
    RUN(create_fixed_heap_refuses_blocks_above_the_vm_threshold);
    RUN(create_fixed_heap_fills_up_with_not_enough_memory);
    RUN(destroy_null_is_true);
    RUN(destroy_process_heap_fails_and_heap_keeps_working);
    RUN(garbage_and_destroyed_heap_handles_fail_without_crashing);
    RUN(process_heap_is_first_of_process_heaps);
    RUN(process_heaps_counting_protocol_and_order);
    RUN(alloc_zero_gives_distinct_freeable_blocks_of_size_0);
    RUN(alloc_size_is_exact_and_pointers_are_16_aligned);
    RUN(alloc_big_block_is_64_byte_aligned);
    RUN(alloc_huge_fails_with_not_enough_memory);
    RUN(alloc_zero_memory_zeroes_a_reused_block);
    RUN(alloc_unknown_flag_is_ignored);
    RUN(realloc_null_pointer_returns_null_with_no_error);
    RUN(realloc_to_zero_keeps_a_block_in_place);
    RUN(realloc_moving_preserves_contents);
    RUN(realloc_zero_memory_zeroes_growth_only);
    RUN(realloc_zero_memory_after_shrink_zeroes_from_the_current_size);
    RUN(realloc_in_place_only_fails_cleanly_when_the_neighbour_is_busy);
    RUN(realloc_in_place_only_grows_into_a_free_neighbour);
    RUN(realloc_in_place_only_grows_the_last_block_into_uncommitted_space);
    RUN(realloc_in_place_only_shrinks_and_regrows_within_the_block);
    RUN(realloc_in_place_only_on_big_blocks_returns_same_pointer_or_null);
    RUN(realloc_huge_fails_and_keeps_the_block);
    RUN(realloc_of_bad_pointers_fails_with_the_right_error);
    RUN(free_null_is_true_even_with_a_null_heap);
    RUN(double_free_fails_with_invalid_parameter_and_heap_stays_valid);
    RUN(free_of_garbage_interior_stack_and_foreign_pointers_fails);
    RUN(size_of_bad_pointers_is_minus_one);
    RUN(validate_healthy_heap_and_blocks);
    RUN(validate_freed_interior_and_foreign_is_false_last_error_untouched);
    RUN(validate_unmapped_pointer_is_false_with_noaccess);
    RUN(validate_detects_an_overrun_into_the_next_block);
    RUN(validate_detects_a_write_after_free);
    RUN(compact_returns_the_largest_free_block);
    RUN(compact_of_a_full_heap_is_0_with_no_error);
    RUN(lock_excludes_other_threads_but_not_their_no_serialize_calls);
    RUN(lock_excludes_lfh_allocations_too);
    RUN(lock_on_a_no_serialize_heap_succeeds_without_exclusion);
    RUN(lock_is_recursive_and_an_unbalanced_unlock_fails);
    return harness_finish(argv[0]);
}
