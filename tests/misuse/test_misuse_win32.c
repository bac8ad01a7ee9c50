/*
 * test_misuse_win32.c — the misuse table, Win32 rows (rows 201..): HeapAlloc, HeapFree,
 * HeapReAlloc, HeapSize, HeapValidate, HeapWalk, HeapCompact, HeapSummary, HeapLock/HeapUnlock,
 * Local and Global calls, each checked with GetLastError as docs/win32.md gives it:
 *
 *   bad pointer to HeapFree/HeapReAlloc/HeapSize   FALSE/NULL/(SIZE_T)-1, ERROR_NOACCESS (998)
 *                                                  if unmapped, else ERROR_INVALID_PARAMETER (87);
 *                                                  one report naming the call and the pointer
 *   HeapValidate of a bad pointer                  FALSE, last error kept (998 if unmapped)
 *   destroyed or bad heap handle                   ERROR_INVALID_HANDLE (6)
 *   HeapUnlock without HeapLock                    ERROR_NOT_LOCKED (158)
 *   freed / bogus Local and Global handles         the handle back (Free), NULL (Lock, ReAlloc),
 *                                                  0 (Size), with ERROR_INVALID_HANDLE
 *
 * Damage rows run the shared scenarios (scenarios.h) through HeapAlloc/HeapFree/HeapReAlloc and
 * traverse with HeapWalk, HeapSummary and HeapCompact. The table's layout and rules are described
 * at the top of test_misuse.c.
 */
#include "misuse/pointers.h"
#include "misuse/threads.h"

#include <ntheap/win32.h>

static HANDLE wheap;

static void *w_alloc(size_t size) { return HeapAlloc(wheap, 0, size); }
static bool w_release(void *p) { return HeapFree(wheap, 0, p) != FALSE; }
static void *w_resize(void *p, size_t size) { return HeapReAlloc(wheap, 0, p, size); }
static bool w_validate(void) { return HeapValidate(wheap, 0, NULL) != FALSE; }
static int w_kind(const void *p) { return mis_walk_kind((nth_heap *)wheap, nth_heap_walk, p); }
static bool w_lock(void) { return HeapLock(wheap) != FALSE; }
static bool w_unlock(void) { return HeapUnlock(wheap) != FALSE; }

static void w_traverse(void)
{
    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    long steps = 0;
    MIS_STAGE("walking the heap after the damage");
    while (HeapWalk(wheap, &e))
        if (++steps > 4000000) {
            mis_fail("HeapWalk did not end after %ld entries", steps);
            break;
        }
    MIS_STAGE("HeapSummary after the damage");
    HEAP_SUMMARY summary;
    memset(&summary, 0, sizeof summary);
    summary.cb = sizeof summary;
    (void)HeapSummary(wheap, 0, &summary);
    MIS_STAGE("HeapCompact after the damage");
    (void)HeapCompact(wheap, 0);
}

static const mis_ops win32_ops = {"win32", w_alloc,    w_release, true,   w_resize,
                                  w_validate, w_traverse, w_kind, w_lock, w_unlock, "HeapAlloc"};

static void win32_setup(void)
{
    mis_canary_init();
    nth_set_report_handler(mis_report_handler, NULL);
    wheap = HeapCreate(0, 0, 0);
    if (!wheap) mis_fail("setup: HeapCreate failed");
}

static void expect_last_error(DWORD want, const char *call)
{
    DWORD got = GetLastError();
    if (got != want) mis_fail("%s: last error %u, expected %u", call, got, want);
}

/* ------------------------------------------------------------------------- bad pointers */

enum { OP_HEAPFREE, OP_HEAPREALLOC, OP_HEAPSIZE, OP_HEAPVALIDATE };
#define BAD(op, kind) ((long)(op) << 8 | (kind))

static void win32_bad_pointer(long arg)
{
    int op = (int)(arg >> 8), kind = (int)(arg & 0xFF);
    char stack_slot[64] = {0};
    unsigned mask;
    void *bad = mis_make_bad(&win32_ops, kind, stack_slot + 16, &mask);
    if (!bad) {
        if (!mis_failed()) mis_fail("setup: no bad pointer");
        return;
    }
    DWORD want = mis_mapped(bad) ? ERROR_INVALID_PARAMETER : ERROR_NOACCESS;
    SetLastError(12345);
    int mark = mis_mark();
    MIS_STAGE("passing the bad pointer");
    switch (op) {
    case OP_HEAPFREE:
        if (HeapFree(wheap, 0, bad)) mis_fail("HeapFree accepted %p", bad);
        expect_last_error(want, "HeapFree");
        mis_expect_one_report(mark, mask, bad, "HeapFree");
        break;
    case OP_HEAPREALLOC:
        if (HeapReAlloc(wheap, 0, bad, 300)) mis_fail("HeapReAlloc accepted %p", bad);
        expect_last_error(want, "HeapReAlloc");
        mis_expect_one_report(mark, mask, bad, "HeapReAlloc");
        break;
    case OP_HEAPSIZE:
        if (HeapSize(wheap, 0, bad) != (SIZE_T)-1) mis_fail("HeapSize accepted %p", bad);
        expect_last_error(want, "HeapSize");
        mis_expect_one_report(mark, mask, bad, NULL);
        break;
    case OP_HEAPVALIDATE:
        if (HeapValidate(wheap, 0, bad)) mis_fail("HeapValidate passed %p", bad);
        expect_last_error(want == ERROR_NOACCESS ? ERROR_NOACCESS : 12345, "HeapValidate");
        mis_reports_near(mark, bad, mis_at(bad, 1), "HeapValidate of a bad pointer");
        break;
    }
    mis_expect_unchanged(&win32_ops);
}

/* Another heap's block, and the heap's own handle, given to HeapFree. */
static void win32_other_pointer(long kind)
{
    HANDLE other = HeapCreate(0, 0, 0);
    void *p = kind == 0 ? HeapAlloc(other, 0, 100) : wheap;
    SetLastError(12345);
    int mark = mis_mark();
    MIS_STAGE("freeing the pointer");
    if (HeapFree(wheap, 0, p)) mis_fail("HeapFree accepted %p", p);
    expect_last_error(ERROR_INVALID_PARAMETER, "HeapFree");
    mis_expect_one_report(mark, MIS_BIT(kind == 0 ? NTH_ERR_WRONG_HEAP : NTH_ERR_INVALID_POINTER), p, "HeapFree");
    if (kind == 0 && HeapSize(other, 0, p) != 100) mis_fail("the other heap's block changed");
    mis_expect_unchanged(&win32_ops);
}

/* ------------------------------------------------------------------------- bad handles */

enum { WH_DESTROYED, WH_STACK, WH_ONE };
enum { WOP_FREE, WOP_ALLOC, WOP_REALLOC, WOP_SIZE, WOP_WALK, WOP_COMPACT, WOP_LOCK, WOP_SUMMARY,
       WOP_VALIDATE };
#define HANDLE_ROW(kind, op) ((long)(kind) << 8 | (op))

static void win32_bad_handle(long arg)
{
    int kind = (int)(arg >> 8), op = (int)(arg & 0xFF);
    char stack_slot[256] = {0};
    void *p = HeapAlloc(wheap, 0, 100);
    HANDLE h = NULL;
    MIS_STAGE("making the bad handle");
    if (kind == WH_DESTROYED) {
        h = HeapCreate(0, 0, 0);
        p = HeapAlloc(h, 0, 100);
        if (!HeapDestroy(h)) mis_fail("setup: HeapDestroy failed");
    } else {
        h = kind == WH_STACK ? (HANDLE)(stack_slot + 64) : (HANDLE)(uintptr_t)1;
    }
    SetLastError(12345);
    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    HEAP_SUMMARY summary;
    memset(&summary, 0, sizeof summary);
    summary.cb = sizeof summary;
    bool failed = true, check_error = true;
    MIS_STAGE("calling with the bad handle");
    switch (op) {
    case WOP_FREE: failed = !HeapFree(h, 0, p); break;
    case WOP_ALLOC: failed = HeapAlloc(h, 0, 100) == NULL; break;
    case WOP_REALLOC: failed = HeapReAlloc(h, 0, p, 300) == NULL; break;
    case WOP_SIZE: failed = HeapSize(h, 0, p) == (SIZE_T)-1; break;
    case WOP_WALK: failed = !HeapWalk(h, &e); break;
    case WOP_COMPACT: failed = HeapCompact(h, 0) == 0; break;
    case WOP_LOCK: failed = !HeapLock(h); break;
    case WOP_SUMMARY: failed = !HeapSummary(h, 0, &summary); break;
    case WOP_VALIDATE:
        failed = !HeapValidate(h, 0, NULL);
        check_error = false;
        break;
    }
    if (!failed) mis_fail("the call succeeded with a bad heap handle");
    if (check_error) expect_last_error(ERROR_INVALID_HANDLE, "with a bad heap handle");
    mis_expect_unchanged(&win32_ops);
}

/* API misuse that is refused with a documented last error. */
enum { MISC_UNLOCK, MISC_FORGED_WALK, MISC_SUMMARY_CB };

static void win32_misc(long kind)
{
    char stack_slot[64];
    SetLastError(12345);
    MIS_STAGE("misusing the API");
    if (kind == MISC_UNLOCK) {
        if (HeapUnlock(wheap)) mis_fail("HeapUnlock without HeapLock succeeded");
        expect_last_error(ERROR_NOT_LOCKED, "HeapUnlock");
    } else if (kind == MISC_FORGED_WALK) {
        PROCESS_HEAP_ENTRY e;
        memset(&e, 0, sizeof e);
        e.lpData = stack_slot + 16;
        e.wFlags = PROCESS_HEAP_ENTRY_BUSY;
        if (HeapWalk(wheap, &e)) mis_fail("HeapWalk accepted a forged entry");
        expect_last_error(ERROR_INVALID_PARAMETER, "HeapWalk");
    } else {
        HEAP_SUMMARY summary;
        memset(&summary, 0, sizeof summary);
        summary.cb = 8;
        if (HeapSummary(wheap, 0, &summary)) mis_fail("HeapSummary accepted cb = 8");
        expect_last_error(ERROR_INVALID_PARAMETER, "HeapSummary");
    }
    mis_expect_unchanged(&win32_ops);
}

/* ------------------------------------------------------------------------ Local / Global */

enum { LG_LOCAL_DOUBLE_FIXED, LG_GLOBAL_DOUBLE_MOVEABLE, LG_LOCAL_STACK, LG_GLOBAL_UNMAPPED,
       LG_LOCAL_REALLOC_FREED, LG_GLOBAL_LOCK_FREED, LG_GLOBAL_SIZE_FREED, LG_LOCAL_INTERIOR };

static void win32_local_global(long kind)
{
    char stack_slot[64] = {0};
    HGLOBAL h = NULL;
    MIS_STAGE("making the handle");
    switch (kind) {
    case LG_LOCAL_DOUBLE_FIXED:
    case LG_LOCAL_INTERIOR: h = LocalAlloc(LMEM_FIXED, 100); break;
    case LG_LOCAL_STACK: h = stack_slot + 16; break;
    case LG_GLOBAL_UNMAPPED: {
        void *m = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(m, 1 << 16);
        h = (char *)m + 64;
        break;
    }
    case LG_LOCAL_REALLOC_FREED: h = LocalAlloc(LMEM_MOVEABLE, 100); break;
    default: h = GlobalAlloc(GMEM_MOVEABLE, 100); break;
    }
    if (!h) {
        mis_fail("setup: allocation failed");
        return;
    }
    if (kind == LG_LOCAL_DOUBLE_FIXED || kind == LG_LOCAL_REALLOC_FREED) {
        if (LocalFree(h) != NULL) mis_fail("setup: the first LocalFree failed");
    } else if (kind == LG_GLOBAL_DOUBLE_MOVEABLE || kind == LG_GLOBAL_LOCK_FREED || kind == LG_GLOBAL_SIZE_FREED) {
        if (GlobalFree(h) != NULL) mis_fail("setup: the first GlobalFree failed");
    }
    SetLastError(12345);
    MIS_STAGE("passing the bad handle");
    DWORD err;
    switch (kind) {
    case LG_LOCAL_DOUBLE_FIXED:
        if (LocalFree(h) != h) mis_fail("a second LocalFree of a fixed block did not fail");
        err = GetLastError();
        if (err == 12345 || err == 0) mis_fail("a second LocalFree left the last error unset");
        break;
    case LG_GLOBAL_DOUBLE_MOVEABLE:
        if (GlobalFree(h) != h) mis_fail("a second GlobalFree of a moveable handle did not fail");
        expect_last_error(ERROR_INVALID_HANDLE, "GlobalFree");
        break;
    case LG_LOCAL_STACK:
        if (LocalFree(h) != h) mis_fail("LocalFree of a stack address did not fail");
        expect_last_error(ERROR_INVALID_HANDLE, "LocalFree");
        break;
    case LG_GLOBAL_UNMAPPED:
        if (GlobalFree(h) != h) mis_fail("GlobalFree of an unmapped address did not fail");
        err = GetLastError();
        if (err != ERROR_NOACCESS && err != ERROR_INVALID_HANDLE) mis_fail("GlobalFree: last error %u", err);
        break;
    case LG_LOCAL_REALLOC_FREED:
        if (LocalReAlloc(h, 200, LMEM_MOVEABLE)) mis_fail("LocalReAlloc of a freed handle succeeded");
        expect_last_error(ERROR_INVALID_HANDLE, "LocalReAlloc");
        break;
    case LG_GLOBAL_LOCK_FREED:
        if (GlobalLock(h)) mis_fail("GlobalLock of a freed handle succeeded");
        expect_last_error(ERROR_INVALID_HANDLE, "GlobalLock");
        break;
    case LG_GLOBAL_SIZE_FREED:
        if (GlobalSize(h) != 0) mis_fail("GlobalSize of a freed handle is not 0");
        expect_last_error(ERROR_INVALID_HANDLE, "GlobalSize");
        break;
    case LG_LOCAL_INTERIOR:
        if (LocalFree((char *)h + 16) == NULL) mis_fail("LocalFree of an interior pointer succeeded");
        err = GetLastError();
        if (err == 12345 || err == 0) mis_fail("LocalFree of an interior pointer left the last error unset");
        if (LocalSize(h) != 100) mis_fail("the block changed after a refused interior free");
        break;
    }
    wheap = GetProcessHeap();
    mis_expect_unchanged(&win32_ops);
}

/* ------------------------------------------------------------------------ scenario rows */

#define WIN32(fn)                                                                                  \
    static void win32_##fn(long arg) { mis_##fn(&win32_ops, arg); }
WIN32(lfh_uaf)
WIN32(back_uaf)
WIN32(coalesced_uaf)
WIN32(big_freed_write)
WIN32(big_prefix)
WIN32(overrun)
WIN32(underrun)
WIN32(free_after_realloc)
WIN32(free_after_reuse)
WIN32(race_double_free)
WIN32(exit_while_locked)

/* The same damage in the process heap (GetProcessHeap), which Local/Global share. */
static void win32_process_heap_uaf(long arg)
{
    wheap = GetProcessHeap();
    mis_lfh_uaf(&win32_ops, arg);
}

static const mis_row rows[] = {
    {"win32", "HeapFree static pointer", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_STATIC), 0},
    {"win32", "HeapFree stack pointer", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_STACK), 0},
    {"win32", "HeapFree unmapped pointer", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_UNMAPPED), 0},
    {"win32", "HeapFree NULL+1", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_NULL1), 0},
    {"win32", "HeapFree kernel-half pointer", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_KERNEL), 0},
    {"win32", "HeapFree interior of back-end block", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_INTERIOR_BACK), 0},
    {"win32", "HeapFree interior of LFH block", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_INTERIOR_LFH), 0},
    {"win32", "HeapFree interior of big block", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_INTERIOR_BIG), 0},
    {"win32", "HeapFree misaligned pointer", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_MISALIGNED_LFH), 0},
    {"win32", "HeapFree double free back-end", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_FREED_BACK), 0},
    {"win32", "HeapFree double free LFH", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_FREED_LFH), 0},
    {"win32", "HeapFree double free big block", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_FREED_BIG), 0},
    {"win32", "HeapFree pointer into a cached big mapping", win32_bad_pointer, BAD(OP_HEAPFREE, MIS_BAD_CACHED_BIG), 0},
    {"win32", "HeapFree another heap's block", win32_other_pointer, 0, 0},
    {"win32", "HeapFree the heap handle itself", win32_other_pointer, 1, 0},
    {"win32", "HeapReAlloc freed LFH block", win32_bad_pointer, BAD(OP_HEAPREALLOC, MIS_BAD_FREED_LFH), 0},
    {"win32", "HeapReAlloc unmapped pointer", win32_bad_pointer, BAD(OP_HEAPREALLOC, MIS_BAD_UNMAPPED), 0},
    {"win32", "HeapReAlloc stack pointer", win32_bad_pointer, BAD(OP_HEAPREALLOC, MIS_BAD_STACK), 0},
    {"win32", "HeapSize freed back-end block", win32_bad_pointer, BAD(OP_HEAPSIZE, MIS_BAD_FREED_BACK), 0},
    {"win32", "HeapSize unmapped pointer", win32_bad_pointer, BAD(OP_HEAPSIZE, MIS_BAD_UNMAPPED), 0},
    {"win32", "HeapValidate freed LFH block", win32_bad_pointer, BAD(OP_HEAPVALIDATE, MIS_BAD_FREED_LFH), 0},
    {"win32", "HeapValidate unmapped pointer", win32_bad_pointer, BAD(OP_HEAPVALIDATE, MIS_BAD_UNMAPPED), 0},
    {"win32", "HeapFree on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_FREE), 0},
    {"win32", "HeapAlloc on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_ALLOC), 0},
    {"win32", "HeapReAlloc on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_REALLOC), 0},
    {"win32", "HeapSize on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_SIZE), 0},
    {"win32", "HeapWalk on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_WALK), 0},
    {"win32", "HeapCompact on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_COMPACT), 0},
    {"win32", "HeapLock on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_LOCK), 0},
    {"win32", "HeapSummary on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_SUMMARY), 0},
    {"win32", "HeapValidate on a destroyed heap", win32_bad_handle, HANDLE_ROW(WH_DESTROYED, WOP_VALIDATE), 0},
    {"win32", "HeapAlloc with a stack address as heap", win32_bad_handle, HANDLE_ROW(WH_STACK, WOP_ALLOC), 0},
    {"win32", "HeapFree with heap handle 1", win32_bad_handle, HANDLE_ROW(WH_ONE, WOP_FREE), 0},
    {"win32", "HeapUnlock without HeapLock", win32_misc, MISC_UNLOCK, 0},
    {"win32", "HeapWalk from a forged entry", win32_misc, MISC_FORGED_WALK, 0},
    {"win32", "HeapSummary with a wrong cb", win32_misc, MISC_SUMMARY_CB, 0},
    {"win32", "LocalFree twice (fixed)", win32_local_global, LG_LOCAL_DOUBLE_FIXED, 0},
    {"win32", "GlobalFree twice (moveable)", win32_local_global, LG_GLOBAL_DOUBLE_MOVEABLE, 0},
    {"win32", "LocalFree stack address", win32_local_global, LG_LOCAL_STACK, 0},
    {"win32", "GlobalFree unmapped address", win32_local_global, LG_GLOBAL_UNMAPPED, 0},
    {"win32", "LocalReAlloc freed moveable handle", win32_local_global, LG_LOCAL_REALLOC_FREED, 0},
    {"win32", "GlobalLock freed moveable handle", win32_local_global, LG_GLOBAL_LOCK_FREED, 0},
    {"win32", "GlobalSize freed moveable handle", win32_local_global, LG_GLOBAL_SIZE_FREED, 0},
    {"win32", "LocalFree interior of a fixed block", win32_local_global, LG_LOCAL_INTERIOR, 0},
    {"win32", "double free LFH after realloc", win32_free_after_realloc, MIS_K_LFH, 0},
    {"win32", "double free back-end after coalesce and reuse", win32_free_after_reuse, MIS_K_BACK, 0},
    {"win32", "use-after-free write LFH: pointer to live block", win32_lfh_uaf, MIS_UAF_LIVE, 0},
    {"win32", "use-after-free write LFH: text", win32_lfh_uaf, MIS_UAF_TEXT, 0},
    {"win32", "use-after-free write LFH in the process heap", win32_process_heap_uaf, MIS_UAF_STATIC, 0},
    {"win32", "use-after-free write back-end links", win32_back_uaf, MIS_UAF_TEXT, 0},
    {"win32", "use-after-free write coalesced free block links", win32_coalesced_uaf, 0, 0},
    {"win32", "write over freed big block prefix", win32_big_freed_write, 1, 0},
    {"win32", "big block descriptor word := static address", win32_big_prefix, 0, 0},
    {"win32", "big block header overwritten, HeapFree", win32_big_prefix, 2, 0},
    {"win32", "big block prefix overwritten, HeapReAlloc", win32_big_prefix, 4, 0},
    {"win32", "overrun 16 bytes into free LFH neighbour", win32_overrun, MIS_NB(MIS_N_LFH_FREE, 16), 0},
    {"win32", "overrun 64 bytes into live LFH neighbour", win32_overrun, MIS_NB(MIS_N_LFH_LIVE, 64), 0},
    {"win32", "overrun 16 bytes into back-end header", win32_overrun, MIS_NB(MIS_N_BACK, 16), 0},
    {"win32", "overrun 64 bytes into next big mapping's descriptor", win32_overrun, MIS_NB(MIS_N_BIG, 64), 0},
    {"win32", "underrun 8 bytes into own back-end header", win32_underrun, MIS_NB(MIS_N_BACK, 8), 0},
    {"win32", "underrun 16 bytes into big block header", win32_underrun, MIS_NB(MIS_N_BIG, 16), 0},
    {"win32", "racing double HeapFree LFH", win32_race_double_free, MIS_K_LFH, 40},
    {"win32", "thread exit while the joining thread holds HeapLock", win32_exit_while_locked, 0, 10},
    {"win32", "thread exit while a third thread holds HeapLock", win32_exit_while_locked, 1, 10},
};

int main(int argc, char **argv)
{
    (void)argc;
    mis_run_table(rows, sizeof rows / sizeof rows[0], 201, win32_setup);
    return harness_finish(argv[0]);
}
