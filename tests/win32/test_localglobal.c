/*
 * test_localglobal.c — LocalAlloc ... LocalSize and the Global* twins against Windows'
 * contracts: fixed and moveable memory, the {flags, ptr} handle slot, lock counts, discarded
 * objects, the ReAlloc decision table and the error matrix for freed and bogus values
 * (spec §5, oracle global.* and local.*).
 */
#include "win32_test.h"

#include <sys/mman.h>

/* Windows' tests use 0xDEADBEE0 (an unmapped, 16-aligned pointer) and 0xDEADBEE0 + P (the shape
 * of a handle). Under a sanitizer that address may be mapped, so the pointer is a page that was
 * mapped and unmapped again. */
static HGLOBAL unmapped_page(void)
{
    static void *page;
    if (!page) {
        page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(page, 4096);
    }
    return page;
}
#define BOGUS_POINTER (unmapped_page())
#define BOGUS_HANDLE ((HGLOBAL)((uintptr_t)0xDEADBEE0u + sizeof(void *)))

/* The flags word of a moveable handle's slot: the pointer-sized word before the handle. */
static uintptr_t slot_flags(HGLOBAL h)
{
    return ((const uintptr_t *)h)[-1];
}

static void *slot_ptr(HGLOBAL h)
{
    return *(void *const *)h;
}

static bool all_bytes(const void *p, int value, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)value) return false;
    return true;
}

/* ------------------------------------------------------------------ the handle table */

TEST(handle_table_holds_0x10000_handles_shared_by_local_and_global) /* spec §2 handle table, test_GlobalAlloc */
{
    enum { CAPACITY = 0x10000 };
    static HGLOBAL handles[CAPACITY + 1];
    size_t n = 0;
    while (n <= CAPACITY && (handles[n] = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE, 0)) != NULL) n++;
    CHECK_EQ(n, CAPACITY);
    prime();
    CHECK(GlobalAlloc(GMEM_MOVEABLE, 0) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    prime();
    CHECK(LocalAlloc(LMEM_MOVEABLE, 10) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    /* Fixed memory does not need a handle. */
    void *fixed = GlobalAlloc(GMEM_FIXED, 10);
    CHECK(fixed != NULL);
    CHECK(GlobalFree(fixed) == NULL);
    for (size_t i = 0; i < n; i++) CHECK(GlobalFree(handles[i]) == NULL);
    HLOCAL again = LocalAlloc(LMEM_MOVEABLE, 10);
    CHECK(again != NULL);
    CHECK(LocalFree(again) == NULL);
}

TEST(moveable_handle_points_at_a_flags_ptr_slot) /* spec §5.1, oracle global.moveable/handle_slot_holds_ptr/lock2/lock */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 100);
    REQUIRE(h != NULL);
    CHECK_EQ((uintptr_t)h & (2 * sizeof(void *) - 1), sizeof(void *));
    CHECK_EQ(slot_flags(h), 0x3);
    void *p = GlobalLock(h);
    REQUIRE(p != NULL);
    CHECK(p != h);
    CHECK(((uintptr_t)p & (2 * sizeof(void *) - 1)) == 0);
    CHECK(slot_ptr(h) == p);
    CHECK_EQ(slot_flags(h), 0x10003);
    CHECK(GlobalLock(h) == p);
    CHECK_EQ(slot_flags(h), 0x20003);
    CHECK(GlobalHandle(p) == h);
    CHECK(GlobalHandle(h) == h);
    CHECK(GlobalUnlock(h));
    CHECK(!GlobalUnlock(h));
    CHECK(GlobalFree(h) == NULL);
}

TEST(slot_flags_for_zero_size_discardable_and_ddeshare_objects) /* spec §5.1 observed values */
{
    HGLOBAL empty = GlobalAlloc(GMEM_MOVEABLE, 0);
    HGLOBAL empty_discardable = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE, 0);
    HGLOBAL discardable = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE, 10);
    HGLOBAL shared = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE | GMEM_DDESHARE, 10);
    REQUIRE(empty && empty_discardable && discardable && shared);
    CHECK_EQ(slot_flags(empty), 0xB);
    CHECK(slot_ptr(empty) == NULL);
    CHECK_EQ(slot_flags(empty_discardable), 0xF);
    CHECK_EQ(slot_flags(discardable), 0x7);
    CHECK_EQ(slot_flags(shared), 0x8007);
    CHECK(GlobalFree(empty) == NULL);
    /* A freed slot holds no pointer and a non-zero, 2P-aligned link. */
    CHECK(slot_ptr(empty) == NULL);
    CHECK(slot_flags(empty) != 0);
    CHECK_EQ(slot_flags(empty) & (2 * sizeof(void *) - 1), 0);
    CHECK(GlobalFree(empty_discardable) == NULL);
    CHECK(GlobalFree(discardable) == NULL);
    CHECK(GlobalFree(shared) == NULL);
}

TEST(moveable_data_block_is_a_process_heap_block_carrying_its_handle) /* spec §5.1, §4.6, oracle global.rtl_user_info */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 100);
    REQUIRE(h != NULL);
    void *p = GlobalLock(h);
    REQUIRE(p != NULL);
    CHECK_EQ(HeapSize(GetProcessHeap(), 0, p), 100);
    CHECK(HeapValidate(GetProcessHeap(), 0, p));
    CHECK(!HeapValidate(GetProcessHeap(), 0, h)); /* the slot is not a block start */
    uintptr_t value = 0;
    uint32_t user_flags = 0;
    CHECK(nth_heap_get_user_info(GetProcessHeap(), p, &value, &user_flags));
    CHECK(value == (uintptr_t)h);
    CHECK_EQ(user_flags, HEAP_SETTABLE_USER_FLAG1);
    /* GlobalHandle reads the user value, so changing it changes the answer (as on Windows). */
    CHECK(nth_heap_set_user_value(GetProcessHeap(), p, 0x123450));
    CHECK(GlobalHandle(p) == (HGLOBAL)0x123450);
    CHECK(nth_heap_set_user_value(GetProcessHeap(), p, (uintptr_t)h));
    CHECK(GlobalHandle(p) == h);
    GlobalUnlock(h);
    CHECK(GlobalFree(h) == NULL);
}

/* ----------------------------------------------------------------- lock counts, flags */

TEST(global_flags_report_lock_count_and_attributes) /* spec §5.7, oracle global.flags_before_lock/ddeshare/moveable0 */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 10);
    REQUIRE(h != NULL);
    CHECK_EQ(GlobalFlags(h), 0);
    GlobalLock(h);
    CHECK_EQ(GlobalFlags(h), 1);
    GlobalLock(h);
    CHECK_EQ(GlobalFlags(h), 2);
    CHECK(GlobalFree(h) == NULL); /* locked objects are freed anyway */

    HGLOBAL shared = GlobalAlloc(GMEM_MOVEABLE | GMEM_DDESHARE, 10);
    GlobalLock(shared);
    CHECK_EQ(GlobalFlags(shared), GMEM_DDESHARE | 1);
    CHECK(GlobalFree(shared) == NULL);

    HGLOBAL empty = GlobalAlloc(GMEM_MOVEABLE, 0);
    CHECK_EQ(GlobalFlags(empty), GMEM_DISCARDED);
    HGLOBAL empty_discardable = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE, 0);
    CHECK_EQ(GlobalFlags(empty_discardable), GMEM_DISCARDED | GMEM_DISCARDABLE);
    HGLOBAL one = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE, 1);
    CHECK_EQ(GlobalFlags(one), GMEM_DISCARDABLE);
    HGLOBAL both = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE | GMEM_DDESHARE, 1);
    CHECK_EQ(GlobalFlags(both), GMEM_DDESHARE | GMEM_DISCARDABLE);
    CHECK(GlobalFree(empty) == NULL);
    CHECK(GlobalFree(empty_discardable) == NULL);
    CHECK(GlobalFree(one) == NULL);
    CHECK(GlobalFree(both) == NULL);

    HLOCAL local = LocalAlloc(LMEM_MOVEABLE | LMEM_DISCARDABLE, 5);
    CHECK_EQ(LocalFlags(local) & ~LMEM_DISCARDABLE, 0);
    CHECK(LocalFlags(local) & LMEM_DISCARDABLE);
    CHECK(LocalFree(local) == NULL);
}

TEST(unlock_returns_true_while_locked_and_no_error_at_zero) /* spec §5.6, oracle global.unlock_to_zero/extra, local.unlock* */
{
    HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 10);
    REQUIRE(h != NULL);
    for (int i = 1; i <= 3; i++) {
        CHECK(LocalLock(h) != NULL);
        CHECK_EQ(LocalFlags(h) & LMEM_LOCKCOUNT, i);
    }
    CHECK(LocalUnlock(h));
    CHECK(LocalUnlock(h));
    prime();
    CHECK(!LocalUnlock(h));
    CHECK_EQ(GetLastError(), NO_ERROR);
    prime();
    CHECK(!LocalUnlock(h));
    CHECK_EQ(GetLastError(), ERROR_NOT_LOCKED);
    CHECK(LocalFree(h) == NULL);

    HGLOBAL g = GlobalAlloc(GMEM_MOVEABLE, 10);
    GlobalLock(g);
    prime();
    CHECK(!GlobalUnlock(g));
    CHECK_EQ(GetLastError(), NO_ERROR);
    prime();
    CHECK(!GlobalUnlock(g));
    CHECK_EQ(GetLastError(), ERROR_NOT_LOCKED);
    CHECK(GlobalFree(g) == NULL);
}

TEST(lock_count_saturates_at_255) /* spec §2, §5.6, oracle local.lock300/unlock_until_false */
{
    HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 10);
    REQUIRE(h != NULL);
    for (int i = 0; i < 300; i++) CHECK(LocalLock(h) != NULL);
    CHECK_EQ(LocalFlags(h), 0xFF);
    CHECK_EQ(slot_flags(h), 0xFF0003);
    int trues = 0;
    while (LocalUnlock(h)) trues++;
    CHECK_EQ(trues, 254);
    CHECK_EQ(GetLastError(), NO_ERROR);
    CHECK_EQ(LocalFlags(h), 0);
    CHECK(LocalFree(h) == NULL);
}

TEST(locking_a_zero_size_object_fails_with_discarded) /* spec §5.1, oracle global.moveable0 */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(GlobalLock(h) == NULL);
    CHECK_EQ(GetLastError(), ERROR_DISCARDED);
    CHECK_EQ(GlobalFlags(h), GMEM_DISCARDED); /* the failed lock did not count */
    CHECK_EQ(GlobalSize(h), 0);
    prime();
    CHECK(LocalLock(h) == NULL);
    CHECK_EQ(GetLastError(), ERROR_DISCARDED);
    CHECK(GlobalFree(h) == NULL);
}

/* ---------------------------------------------------------------------- fixed memory */

TEST(fixed_objects_are_their_own_handles) /* spec §5.1, §5.5, oracle global.fixed*, local.fixed* */
{
    void *g = GlobalAlloc(GMEM_FIXED, 100);
    void *l = LocalAlloc(LMEM_FIXED, 100);
    REQUIRE(g && l);
    CHECK(((uintptr_t)g & (2 * sizeof(void *) - 1)) == 0);
    CHECK(GlobalLock(g) == g);
    CHECK(LocalLock(l) == l);
    CHECK(GlobalHandle(g) == g);
    CHECK(LocalHandle(l) == l);
    CHECK_EQ(GlobalFlags(g), 0);
    CHECK_EQ(LocalFlags(l), 0);
    CHECK_EQ(GlobalSize(g), 100);
    CHECK_EQ(LocalSize(l), 100);
    prime();
    CHECK(GlobalUnlock(g)); /* Global: TRUE on fixed memory */
    CHECK_EQ(GetLastError(), PRIMED);
    prime();
    CHECK(!LocalUnlock(l)); /* Local: FALSE, not locked */
    CHECK_EQ(GetLastError(), ERROR_NOT_LOCKED);
    CHECK(HeapValidate(GetProcessHeap(), 0, g));
    CHECK(GlobalFree(g) == NULL);
    CHECK(LocalFree(l) == NULL);
}

TEST(fixed_zero_size_is_1_byte_for_global_and_0_for_local) /* spec §5.2 */
{
    void *g = GlobalAlloc(GMEM_FIXED, 0), *l = LocalAlloc(LMEM_FIXED, 0);
    REQUIRE(g && l);
    CHECK_EQ(GlobalSize(g), 1);
    CHECK_EQ(LocalSize(l), 0);
    CHECK(GlobalFree(g) == NULL);
    CHECK(LocalFree(l) == NULL);
}

TEST(zeroinit_and_lptr_zero_the_memory) /* spec §5.2, oracle local.lptr */
{
    unsigned char *l = LocalAlloc(LPTR, 1000);
    REQUIRE(l != NULL);
    CHECK(all_bytes(l, 0, 1000));
    unsigned char *g = GlobalAlloc(GMEM_ZEROINIT, 100000);
    REQUIRE(g != NULL);
    CHECK(GlobalLock(g) == g);
    CHECK(GlobalSize(g) >= 100000);
    CHECK(all_bytes(g, 0, 100000));
    HGLOBAL m = GlobalAlloc(GHND, 5000);
    unsigned char *mp = GlobalLock(m);
    REQUIRE(mp != NULL);
    CHECK(all_bytes(mp, 0, 5000));
    GlobalUnlock(m);
    CHECK(GlobalFree(m) == NULL);
    CHECK(LocalFree(l) == NULL);
    CHECK(GlobalFree(g) == NULL);
}

/* ------------------------------------------------------------------ free and bad values */

TEST(free_of_null_returns_null_and_leaves_last_error) /* spec §5.3, oracle local.free_null */
{
    prime();
    CHECK(LocalFree(NULL) == NULL);
    CHECK(GlobalFree(NULL) == NULL);
    CHECK_EQ(GetLastError(), PRIMED);
}

TEST(freed_handle_is_invalid_for_every_call) /* spec §5.3-5.9, oracle global.*free*, flags_after_free */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 10);
    REQUIRE(h != NULL);
    CHECK(GlobalFree(h) == NULL);
    prime();
    CHECK(GlobalFree(h) == h);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK_EQ(GlobalFlags(h), GMEM_INVALID_HANDLE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK_EQ(GlobalSize(h), 0);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(GlobalLock(h) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(GlobalHandle(h) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(GlobalReAlloc(h, 20, GMEM_MOVEABLE) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(GlobalUnlock(h)); /* Global: TRUE, with ERROR_INVALID_HANDLE */
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(!LocalUnlock(h)); /* Local: FALSE */
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(LocalFree(h) == h);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
}

TEST(bogus_handle_values_fail_with_invalid_handle) /* spec §5.3-5.7, oracle local.*_bogus_handle */
{
    HGLOBAL values[] = { BOGUS_HANDLE, (HGLOBAL)0x1234 };
    for (size_t i = 0; i < 2; i++) {
        prime();
        CHECK_EQ(LocalFlags(values[i]), LMEM_INVALID_HANDLE);
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK(!LocalUnlock(values[i]));
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK(LocalLock(values[i]) == NULL);
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK(GlobalFree(values[i]) == values[i]);
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK(GlobalUnlock(values[i]));
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
        prime();
        CHECK_EQ(GlobalSize(values[i]), 0);
        CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    }
}

TEST(bogus_pointer_values_follow_windows_per_function) /* spec §5.3-5.9 (0xDEADBEE0 rows, several Wine todos) */
{
    HGLOBAL p = BOGUS_POINTER;
    prime();
    CHECK(GlobalFree(p) == p);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(LocalFree(p) == p);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(GlobalLock(p) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(LocalLock(p) == NULL);
    CHECK_EQ(GetLastError(), PRIMED);
    prime();
    CHECK(GlobalUnlock(p));
    CHECK_EQ(GetLastError(), PRIMED);
    prime();
    CHECK(!LocalUnlock(p));
    CHECK_EQ(GetLastError(), ERROR_NOT_LOCKED);
    prime();
    CHECK_EQ(GlobalFlags(p), GMEM_INVALID_HANDLE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK_EQ(LocalFlags(p), LMEM_INVALID_HANDLE);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK_EQ(GlobalSize(p), 0);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(GlobalHandle(p) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(LocalHandle(p) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(GlobalReAlloc(p, 10, GMEM_MOVEABLE) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
}

/* The report of a misuse names the Win32 call, and its error. */
static const char *named_call;
static nth_error named_error;
static int named_reports;
static void name_report(const nth_report *report, void *context)
{
    (void)context;
    if (named_reports++ == 0) named_call = report->call, named_error = report->error;
}
static void catch_named_reports(void)
{
    named_reports = 0;
    named_call = NULL;
    nth_set_report_handler(name_report, NULL);
}

TEST(double_free_of_fixed_memory_returns_the_pointer) /* spec §5.3 (32-bit Windows; 64-bit crashes) */
{
    void *p = GlobalAlloc(GMEM_FIXED, 64);
    REQUIRE(p != NULL);
    CHECK(GlobalFree(p) == NULL);
    prime();
    catch_named_reports();
    CHECK(GlobalFree(p) == p);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK_EQ(named_reports, 1); /* reported, as HeapFree would */
    CHECK(named_call && strcmp(named_call, "GlobalFree") == 0);
    CHECK_EQ(named_error, NTH_ERR_DOUBLE_FREE);
    quiet_reports();
    CHECK(HeapValidate(GetProcessHeap(), 0, NULL));
}

/* A freed handle's slot holds the free-list link, in the word in front of the handle, which the
 * program can still write through it: a link that names no free slot is reported by the
 * allocation that meets it and never followed (no slot handed out twice, nothing written
 * outside the table). */
TEST(a_freed_handles_overwritten_link_is_reported_never_followed)
{
    HLOCAL live = LocalAlloc(LMEM_MOVEABLE, 10);
    REQUIRE(live != NULL);
    uintptr_t on_stack = 3;
    const uintptr_t links[] = {(uintptr_t)0x4141414141414140ull, (uintptr_t)live - sizeof(void *),
                               (uintptr_t)&on_stack - sizeof(void *)};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 10);
        REQUIRE(h != NULL);
        CHECK(LocalFree(h) == NULL); /* its slot heads the free list */
        *(uintptr_t *)((char *)h - sizeof(void *)) = links[i];
        catch_named_reports();
        HLOCAL first = LocalAlloc(LMEM_MOVEABLE, 10), second = LocalAlloc(LMEM_MOVEABLE, 10);
        CHECK(first == h); /* the slot itself was free */
        CHECK(second != NULL && second != live && second != first);
        CHECK_EQ(named_reports, 1);
        CHECK(named_call && strcmp(named_call, "LocalAlloc") == 0);
        CHECK_EQ(named_error, NTH_ERR_CORRUPT);
        quiet_reports();
        CHECK_EQ(on_stack, 3);
        CHECK(LocalFree(first) == NULL && LocalFree(second) == NULL);
    }
    CHECK(LocalFree(live) == NULL);
    CHECK(HeapValidate(GetProcessHeap(), 0, NULL));
}

TEST(realloc_of_null_returns_null)
{
    CHECK(GlobalReAlloc(NULL, 10, GMEM_MOVEABLE) == NULL);
    CHECK(LocalReAlloc(NULL, 10, LMEM_MOVEABLE) == NULL);
}

/* ------------------------------------------------------------------- ReAlloc: fixed */

TEST(realloc_fixed_modify_changes_nothing) /* spec §5.4 fixed, MODIFY */
{
    unsigned char *p = GlobalAlloc(GMEM_FIXED, 12);
    REQUIRE(p != NULL);
    memset(p, 0x11, 12);
    CHECK(GlobalReAlloc(p, 512, GMEM_MODIFY) == p);
    CHECK_EQ(GlobalSize(p), 12);
    CHECK(LocalReAlloc(p, 512, LMEM_MODIFY | LMEM_MOVEABLE) == p); /* Local never converts */
    CHECK_EQ(LocalSize(p), 12);
    CHECK(all_bytes(p, 0x11, 12));
    CHECK(GlobalFree(p) == NULL);
}

TEST(realloc_fixed_modify_moveable_converts_to_a_moveable_handle_for_global) /* spec §5.4 Global MOVEABLE|MODIFY */
{
    unsigned char *p = GlobalAlloc(GMEM_FIXED, 100000);
    REQUIRE(p != NULL);
    memset(p, 0x22, 100000);
    HGLOBAL h = GlobalReAlloc(p, 0, GMEM_MODIFY | GMEM_MOVEABLE);
    REQUIRE(h != NULL);
    CHECK(h != (HGLOBAL)p);
    CHECK_EQ((uintptr_t)h & (2 * sizeof(void *) - 1), sizeof(void *));
    CHECK_EQ(slot_flags(h), 0x3);
    CHECK_EQ(GlobalSize(h), 100000);
    unsigned char *data = GlobalLock(h);
    REQUIRE(data != NULL);
    CHECK(data != (unsigned char *)h);
    CHECK(all_bytes(data, 0x22, 100000));
    prime();
    CHECK(!GlobalUnlock(h));
    CHECK_EQ(GetLastError(), NO_ERROR);
    CHECK(GlobalFree(h) == NULL);

    unsigned char *q = GlobalAlloc(GMEM_FIXED, 10);
    HGLOBAL d = GlobalReAlloc(q, 0, GMEM_MODIFY | GMEM_MOVEABLE | GMEM_DISCARDABLE);
    REQUIRE(d != NULL);
    CHECK_EQ(slot_flags(d), 0x7);
    CHECK(GlobalFree(d) == NULL);

    unsigned char *l = LocalAlloc(LMEM_FIXED, 100000);
    REQUIRE(l != NULL);
    CHECK(LocalReAlloc(l, 0, LMEM_MODIFY | LMEM_MOVEABLE) == l);
    CHECK(LocalLock(l) == l);
    prime();
    CHECK(!LocalUnlock(l));
    CHECK_EQ(GetLastError(), ERROR_NOT_LOCKED);
    CHECK(LocalFree(l) == NULL);
}

TEST(realloc_fixed_with_moveable_may_move_and_stays_fixed) /* spec §5.4 fixed, MOVEABLE */
{
    unsigned char *p = GlobalAlloc(GMEM_FIXED, 12);
    REQUIRE(p != NULL);
    memset(p, 0x33, 12);
    unsigned char *q = GlobalReAlloc(p, 512, GMEM_MOVEABLE);
    REQUIRE(q != NULL);
    CHECK(GlobalLock(q) == q); /* still fixed: Lock returns the value itself */
    CHECK_EQ(GlobalSize(q), 512);
    CHECK(all_bytes(q, 0x33, 12));
    unsigned char *r = GlobalReAlloc(q, 0, GMEM_MOVEABLE);
    REQUIRE(r != NULL);
    CHECK_EQ(GlobalSize(r), 0);
    CHECK(GlobalFree(r) == NULL);
}

TEST(realloc_fixed_without_moveable_only_resizes_in_place) /* spec §5.4 fixed, 0; oracle local.fixed_realloc_* */
{
    unsigned char *p = LocalAlloc(LMEM_FIXED, 0x100);
    void *fence = LocalAlloc(LMEM_FIXED, 0x100);
    REQUIRE(p && fence);
    memset(p, 0x44, 0x100);
    prime();
    CHECK(LocalReAlloc(p, 4096, 0) == NULL); /* the busy neighbour forbids growth in place */
    CHECK_EQ(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_EQ(LocalSize(p), 0x100);
    CHECK(all_bytes(p, 0x44, 0x100));
    CHECK(LocalReAlloc(p, 10, 0) == p); /* shrinking stays in place */
    CHECK_EQ(LocalSize(p), 10);
    unsigned char *q = LocalReAlloc(p, 128, LMEM_MOVEABLE);
    REQUIRE(q != NULL);
    CHECK(all_bytes(q, 0x44, 10));
    CHECK_EQ(LocalSize(q), 128);
    CHECK(LocalFree(q) == NULL);
    CHECK(LocalFree(fence) == NULL);

    unsigned char *big = GlobalAlloc(GMEM_FIXED, 0x20000);
    REQUIRE(big != NULL);
    CHECK(GlobalReAlloc(big, 10, 0) == big);
    CHECK_EQ(GlobalSize(big), 10);
    CHECK(GlobalFree(big) == NULL);
}

TEST(realloc_discardable_without_modify_fails) /* spec §5.4 */
{
    void *p = GlobalAlloc(GMEM_FIXED, 12);
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 12);
    REQUIRE(p && h);
    CHECK(GlobalReAlloc(p, 512, GMEM_MOVEABLE | GMEM_DISCARDABLE) == NULL);
    CHECK(GlobalReAlloc(h, 512, GMEM_MOVEABLE | GMEM_DISCARDABLE) == NULL);
    CHECK(GlobalReAlloc(h, 0, GMEM_DISCARDABLE) == NULL);
    CHECK_EQ(GlobalSize(p), 12);
    CHECK_EQ(GlobalSize(h), 12);
    CHECK(GlobalFree(p) == NULL);
    CHECK(GlobalFree(h) == NULL);
}

/* ----------------------------------------------------------------- ReAlloc: moveable */

TEST(realloc_moveable_unlocked_moves_and_keeps_the_handle) /* spec §5.4 unlocked, oracle global.realloc_100000 */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 12);
    REQUIRE(h != NULL);
    unsigned char *p = GlobalLock(h);
    memset(p, 0x55, 12);
    GlobalUnlock(h);
    CHECK(GlobalReAlloc(h, 100000, GMEM_MOVEABLE) == h);
    CHECK_EQ(GlobalSize(h), 100000);
    unsigned char *q = GlobalLock(h);
    CHECK(all_bytes(q, 0x55, 12));
    CHECK(slot_ptr(h) == q);
    CHECK(GlobalHandle(q) == h);
    GlobalUnlock(h);
    CHECK(GlobalReAlloc(h, 200000, 0) == h); /* unlocked: 0 may move too (oracle local.realloc_unlocked_no_moveable_flag) */
    CHECK_EQ(GlobalSize(h), 200000);
    CHECK(GlobalReAlloc(h, 10, 0) == h); /* shrink */
    CHECK_EQ(GlobalSize(h), 10);
    CHECK(GlobalFree(h) == NULL);
}

TEST(realloc_moveable_to_zero_discards_only_with_moveable_and_unlocked) /* spec §5.4, §5.10, oracle global.discard */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE | GMEM_DISCARDABLE, 100);
    REQUIRE(h != NULL);
    CHECK(GlobalReAlloc(h, 0, 0) == NULL); /* flags 0: refused */
    CHECK_EQ(GlobalSize(h), 100);
    GlobalLock(h);
    CHECK(GlobalDiscard(h) == NULL); /* locked: refused */
    CHECK_EQ(GlobalSize(h), 100);
    GlobalUnlock(h);
    CHECK(GlobalDiscard(h) == h);
    CHECK_EQ(GlobalFlags(h), GMEM_DISCARDED | GMEM_DISCARDABLE);
    CHECK(slot_ptr(h) == NULL);
    CHECK_EQ(slot_flags(h), 0xF);
    CHECK_EQ(GlobalSize(h), 0);
    prime();
    CHECK(GlobalLock(h) == NULL);
    CHECK_EQ(GetLastError(), ERROR_DISCARDED);
    /* A discarded object comes back with a new size. */
    CHECK(GlobalReAlloc(h, 10, GMEM_MOVEABLE) == h);
    CHECK(GlobalSize(h) >= 10 && GlobalSize(h) <= 16);
    CHECK_EQ(GlobalFlags(h), GMEM_DISCARDABLE);
    CHECK(GlobalLock(h) != NULL);
    GlobalUnlock(h);
    CHECK(GlobalFree(h) == NULL);

    HLOCAL l = LocalAlloc(LMEM_MOVEABLE, 10);
    CHECK(LocalDiscard(l) == l);
    CHECK_EQ(LocalFlags(l), LMEM_DISCARDED);
    CHECK(LocalFree(l) == NULL);
}

TEST(local_discard_of_fixed_memory_keeps_the_pointer) /* spec §5.10 */
{
    void *p = LocalAlloc(LMEM_FIXED, 0x20000);
    REQUIRE(p != NULL);
    CHECK(LocalDiscard(p) == p);
    CHECK_EQ(LocalSize(p), 0);
    CHECK(LocalFree(p) == NULL);
}

TEST(realloc_moveable_locked_follows_the_decision_table) /* spec §5.4 locked, oracle local.realloc_locked_moveable */
{
    HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 12);
    REQUIRE(h != NULL);
    unsigned char *p = LocalLock(h);
    memset(p, 0x66, 12);
    /* MODIFY: nothing moves; DISCARDABLE becomes an attribute. */
    CHECK(LocalReAlloc(h, 512, LMEM_MODIFY | LMEM_DISCARDABLE) == h);
    CHECK(LocalLock(h) == p);
    LocalUnlock(h);
    CHECK_EQ(LocalSize(h), 12);
    CHECK(slot_flags(h) & 0x4);
    /* MOVEABLE: relocated even though locked, lock count kept. */
    CHECK(LocalReAlloc(h, 100000, LMEM_MOVEABLE) == h);
    unsigned char *q = slot_ptr(h);
    CHECK(all_bytes(q, 0x66, 12));
    CHECK_EQ(LocalSize(h), 100000);
    CHECK_EQ(LocalFlags(h) & LMEM_LOCKCOUNT, 1);
    /* 0: shrinking in place is allowed, the data stays. */
    CHECK(LocalReAlloc(h, 10, 0) == h);
    CHECK(slot_ptr(h) == q);
    CHECK_EQ(LocalSize(h), 10);
    /* To 0 while locked: refused whatever the flags. */
    CHECK(LocalReAlloc(h, 0, LMEM_MOVEABLE) == NULL);
    CHECK(LocalReAlloc(h, 0, 0) == NULL);
    CHECK_EQ(LocalSize(h), 10);
    /* 0 while locked may only grow in place: either it did, or it failed and nothing changed. */
    void *before = slot_ptr(h);
    HLOCAL grown = LocalReAlloc(h, 0x40000, 0);
    CHECK(slot_ptr(h) == before);
    CHECK_EQ(LocalSize(h), grown ? 0x40000 : 10);
    CHECK(LocalFree(h) == NULL); /* freed while locked (oracle local.free_locked) */
}

TEST(realloc_moveable_zeroinit_zeroes_the_growth) /* spec §5.4 MOVEABLE|ZEROINIT to 200000 */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 1000);
    REQUIRE(h != NULL);
    unsigned char *p = GlobalLock(h);
    memset(p, 0x77, 1000);
    GlobalUnlock(h);
    CHECK(GlobalReAlloc(h, 200000, GMEM_MOVEABLE | GMEM_ZEROINIT) == h);
    unsigned char *q = GlobalLock(h);
    REQUIRE(q != NULL);
    CHECK(all_bytes(q, 0x77, 1000));
    CHECK(all_bytes(q + 1000, 0, 200000 - 1000));
    GlobalUnlock(h);
    CHECK(GlobalFree(h) == NULL);
}

TEST(modify_on_a_moveable_object_only_adds_attributes) /* spec §5.4 MODIFY rows */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 12);
    REQUIRE(h != NULL);
    void *before = slot_ptr(h);
    CHECK(GlobalReAlloc(h, 512, GMEM_MODIFY) == h);
    CHECK(slot_ptr(h) == before);
    CHECK_EQ(GlobalSize(h), 12);
    CHECK_EQ(GlobalFlags(h), 0);
    CHECK(GlobalReAlloc(h, 0, GMEM_MODIFY | GMEM_MOVEABLE | GMEM_DISCARDABLE) == h);
    CHECK_EQ(GlobalFlags(h), GMEM_DISCARDABLE);
    CHECK_EQ(GlobalSize(h), 12);
    CHECK(GlobalFree(h) == NULL);
}

TEST(free_of_a_moveable_data_pointer_frees_the_whole_object) /* deliberate: no dangling handle */
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 40);
    REQUIRE(h != NULL);
    void *p = GlobalLock(h);
    CHECK(GlobalFree(p) == NULL);
    prime();
    CHECK_EQ(GlobalFlags(h), GMEM_INVALID_HANDLE);
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(HeapValidate(GetProcessHeap(), 0, NULL));
}

/* The handle table is no heap's block: no entry of a walk of the process heap holds a handle, so
 * no HeapFree can free the table under the live handles or hand its memory out again. */
TEST(the_handle_table_is_no_heap_block)
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 40);
    REQUIRE(h != NULL);
    REQUIRE(HeapLock(GetProcessHeap()));
    PROCESS_HEAP_ENTRY entry = {0};
    unsigned holding = 0;
    while (HeapWalk(GetProcessHeap(), &entry))
        if ((entry.wFlags & PROCESS_HEAP_ENTRY_BUSY) && (char *)h >= (char *)entry.lpData &&
            (char *)h < (char *)entry.lpData + entry.cbData)
            holding++;
    CHECK(HeapUnlock(GetProcessHeap()));
    CHECK_EQ(holding, 0);
    void *slot = (char *)h - sizeof(void *);
    prime();
    CHECK(!HeapFree(GetProcessHeap(), 0, slot));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(GlobalLock(h) != NULL && GlobalUnlock(h) == FALSE);
    CHECK(GlobalFree(h) == NULL);
    CHECK(HeapValidate(GetProcessHeap(), 0, NULL));
}

/* A moveable object's data freed or moved behind its handle's back (HeapFree, HeapReAlloc of the
 * data pointer): the handle's free or resize leaves alone the block that now lies there, which
 * belongs to somebody else. */
TEST(a_handle_does_not_free_or_move_a_block_that_is_no_longer_its_own)
{
    HANDLE process = GetProcessHeap();
    HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 100);
    REQUIRE(h != NULL);
    void *data = LocalLock(h);
    REQUIRE(data != NULL);
    LocalUnlock(h);
    CHECK(HeapFree(process, 0, data));
    void *other = HeapAlloc(process, 0, 100); /* most likely the same address */
    REQUIRE(other != NULL);
    memset(other, 0x5A, 100);
    prime();
    CHECK(LocalLock(h) == NULL); /* never another owner's block */
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(LocalReAlloc(h, 5000, LMEM_MOVEABLE) == NULL);
    prime();
    CHECK_EQ(LocalSize(h), 0); /* not the other block's size */
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    prime();
    CHECK(LocalFree(h) == h); /* refused: the handle goes, the block stays */
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK_EQ(LocalFlags(h), LMEM_INVALID_HANDLE);
    CHECK_EQ(HeapSize(process, 0, other), 100);
    CHECK(all_bytes(other, 0x5A, 100));
    CHECK(HeapFree(process, 0, other));
    CHECK(HeapValidate(process, 0, NULL));
}

/* The same sequence with termination on corruption: a dangling handle is no corruption of the
 * heap, so the handle's calls refuse it without a report, and nothing terminates. */
static void dangling_handle_under_termination(void)
{
    if (!HeapSetInformation(NULL, HeapEnableTerminationOnCorruption, NULL, 0)) _exit(2);
    HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 100);
    if (!h || !HeapFree(GetProcessHeap(), 0, *(void **)h)) _exit(3);
    if (LocalLock(h) != NULL || LocalSize(h) != 0 || LocalReAlloc(h, 10, LMEM_MOVEABLE) != NULL) _exit(4);
    if (LocalFree(h) != h || GetLastError() != ERROR_INVALID_HANDLE) _exit(5);
    printf("survived\n");
}

TEST(a_dangling_handle_is_refused_without_terminating)
{
    char out[64];
    CHECK_EQ(capture_child(dangling_handle_under_termination, out, sizeof out), 0);
    CHECK(strstr(out, "survived") != NULL);
}

/* ------------------------------------------------------------------------- threads */

static void *handle_churn(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    for (int round = 0; round < 2000; round++) {
        SIZE_T size = 1 + (SIZE_T)((seed * 2654435761u + (uintptr_t)round * 40503u) % 3000);
        HGLOBAL h = (round & 1) ? GlobalAlloc(GHND, size) : LocalAlloc(LHND, size);
        if (!h) return (void *)1;
        unsigned char *p = GlobalLock(h);
        if (!p || !all_bytes(p, 0, size)) return (void *)2;
        memset(p, (int)seed, size);
        GlobalUnlock(h);
        if (GlobalReAlloc(h, size * 2, GMEM_MOVEABLE) != h) return (void *)3;
        p = GlobalLock(h);
        if (!p || !all_bytes(p, (int)seed, size)) return (void *)4;
        GlobalUnlock(h);
        if (GlobalFree(h) != NULL) return (void *)5;
    }
    return NULL;
}

TEST(moveable_memory_is_thread_safe)
{
    pthread_t threads[4];
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&threads[i], NULL, handle_churn, (void *)(i + 1));
    for (int i = 0; i < 4; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        CHECK(result == NULL);
    }
    CHECK(HeapValidate(GetProcessHeap(), 0, NULL));
}

int main(int argc, char **argv)
{
    (void)argc;
    quiet_reports();
    RUN(handle_table_holds_0x10000_handles_shared_by_local_and_global);
    RUN(moveable_handle_points_at_a_flags_ptr_slot);
    RUN(slot_flags_for_zero_size_discardable_and_ddeshare_objects);
    RUN(moveable_data_block_is_a_process_heap_block_carrying_its_handle);
    RUN(global_flags_report_lock_count_and_attributes);
    RUN(unlock_returns_true_while_locked_and_no_error_at_zero);
    RUN(lock_count_saturates_at_255);
    RUN(locking_a_zero_size_object_fails_with_discarded);
    RUN(fixed_objects_are_their_own_handles);
    RUN(fixed_zero_size_is_1_byte_for_global_and_0_for_local);
    RUN(zeroinit_and_lptr_zero_the_memory);
    RUN(free_of_null_returns_null_and_leaves_last_error);
    RUN(freed_handle_is_invalid_for_every_call);
    RUN(bogus_handle_values_fail_with_invalid_handle);
    RUN(bogus_pointer_values_follow_windows_per_function);
    RUN(double_free_of_fixed_memory_returns_the_pointer);
    RUN(realloc_of_null_returns_null);
    RUN(realloc_fixed_modify_changes_nothing);
    RUN(realloc_fixed_modify_moveable_converts_to_a_moveable_handle_for_global);
    RUN(realloc_fixed_with_moveable_may_move_and_stays_fixed);
    RUN(realloc_fixed_without_moveable_only_resizes_in_place);
    RUN(realloc_discardable_without_modify_fails);
    RUN(realloc_moveable_unlocked_moves_and_keeps_the_handle);
    RUN(realloc_moveable_to_zero_discards_only_with_moveable_and_unlocked);
    RUN(local_discard_of_fixed_memory_keeps_the_pointer);
    RUN(realloc_moveable_locked_follows_the_decision_table);
    RUN(realloc_moveable_zeroinit_zeroes_the_growth);
    RUN(modify_on_a_moveable_object_only_adds_attributes);
    RUN(free_of_a_moveable_data_pointer_frees_the_whole_object);
    RUN(the_handle_table_is_no_heap_block);
    RUN(a_handle_does_not_free_or_move_a_block_that_is_no_longer_its_own);
    RUN(a_freed_handles_overwritten_link_is_reported_never_followed);
    RUN(a_dangling_handle_is_refused_without_terminating);
    RUN(moveable_memory_is_thread_safe);
    return harness_finish(argv[0]);
}
