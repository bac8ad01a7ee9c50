/*
 * test_misuse.c — the misuse table, native API rows (nth_heap_*, nth_free).
 *
 * The misuse table is the project's promise "misuse never crashes the allocator" in executable
 * form. It has three surfaces, one program each, numbered so that rows never share a number:
 *
 *   rows   1..199  native API          tests/misuse/test_misuse.c        (this file)
 *   rows 201..299  Win32 layer         tests/misuse/test_misuse_win32.c
 *   rows 301..399  malloc replacement  tests/misuse/test_misuse_malloc.c (run under LD_PRELOAD
 *                                      by tests/misuse/misuse_preload.sh; skipped in sanitizer
 *                                      builds, whose runtime owns malloc)
 *
 * Every row runs in a forked child with an alarm (tests/misuse/misuse.h) and prints
 *
 *     row N  <surface> <kind>: ok|FAIL (what happened)
 *
 * Kinds of rows and what each must give (from docs/errors.md, docs/win32.md, docs/design.md and
 * the trust boundary: nothing read from user-writable bytes is believed before it is checked):
 *
 *   bad pointer     wild (static, stack, unmapped, NULL+1, kernel half, non-canonical),
 *                   interior, misaligned, foreign heap, the heap's own header, freed (double
 *                   free), after reuse, after realloc: the call fails with the documented error
 *                   (Win32: last error 87, 998 if unmapped; malloc: EINVAL from realloc),
 *                   exactly one report naming the pointer and the call, the heap unchanged
 *   bad handle      destroyed, NULL, stack, unmapped, interior, a block: NTH_ERR_INVALID_HANDLE
 *                   / ERROR_INVALID_HANDLE, no crash
 *   damage          use-after-free writes (LFH, back-end, coalesced, big), overruns of 1, 8,
 *                   16, 64 bytes and underruns into every kind of neighbour, big-block prefix
 *                   writes: a report naming the damaged memory where the docs promise
 *                   detection (headers, links, fills, double frees); otherwise any report must
 *                   name memory near the damage. Always: no crash, no write outside the heap
 *   races, locks    two threads freeing one block at the same moment (exactly one accepted,
 *                   the other refused and reported, never the same block twice); a thread
 *                   exiting while another holds the heap lock (no hang)
 *   aftermath       every row then validates, walks, takes statistics, compacts (no crash, no
 *                   endless walk) and allocates every size from 1 byte to 3 MiB: no false
 *                   out-of-memory, no block overlapping another live block
 *
 * The table fails (non-zero exit, the failing rows listed) when the library misbehaves; a row
 * is never weakened to pass. MISUSE_ROWS="3,17" runs only some rows.
 */
#include "misuse/pointers.h"
#include "misuse/threads.h"

static nth_heap *heap;

static void *n_alloc(size_t size) { return nth_heap_alloc(heap, 0, size); }
static bool n_release(void *p) { return nth_heap_free(heap, 0, p); }
static void *n_resize(void *p, size_t size) { return nth_heap_realloc(heap, 0, p, size); }
static bool n_validate(void) { return nth_heap_validate(heap, 0, NULL); }
static int n_kind(const void *p) { return mis_walk_kind(heap, nth_heap_walk, p); }
static bool n_lock(void) { return nth_heap_lock(heap); }
static bool n_unlock(void) { return nth_heap_unlock(heap); }

static void n_traverse(void)
{
    nth_walk_entry e;
    memset(&e, 0, sizeof e);
    long steps = 0;
    MIS_STAGE("walking the heap after the damage");
    while (nth_heap_walk(heap, &e))
        if (++steps > 4000000) {
            mis_fail("the walk did not end after %ld entries", steps);
            break;
        }
    MIS_STAGE("statistics after the damage");
    nth_heap_stats st;
    (void)nth_heap_query_stats(heap, &st);
    MIS_STAGE("compacting after the damage");
    (void)nth_heap_compact(heap, 0);
}

static const mis_ops native_ops = {"native", n_alloc,  n_release, true,   n_resize,
                                   n_validate, n_traverse, n_kind, n_lock, n_unlock, "nth_heap_alloc"};

static void native_setup(void)
{
    mis_canary_init();
    nth_set_report_handler(mis_report_handler, NULL);
    heap = nth_heap_create(0, 0, 0);
    if (!heap) mis_fail("setup: nth_heap_create failed");
}

/* ------------------------------------------------------------------------- bad pointers */

enum { OP_FREE, OP_REALLOC, OP_SIZE, OP_VALIDATE, OP_NTH_FREE };
#define BAD(op, kind) ((long)(op) << 8 | (kind))

static void native_bad_pointer(long arg)
{
    int op = (int)(arg >> 8), kind = (int)(arg & 0xFF);
    char stack_slot[64] = {0};
    unsigned mask;
    void *bad = mis_make_bad(&native_ops, kind, stack_slot + 16, &mask);
    if (!bad) {
        if (!mis_failed()) mis_fail("setup: no bad pointer");
        return;
    }
    nth_set_last_error(NTH_OK);
    int mark = mis_mark();
    const char *call = NULL;
    MIS_STAGE("passing the bad pointer");
    switch (op) {
    case OP_FREE:
        call = "nth_heap_free";
        if (nth_heap_free(heap, 0, bad)) mis_fail("nth_heap_free accepted %p", bad);
        break;
    case OP_REALLOC:
        if (nth_heap_realloc(heap, 0, bad, 200)) mis_fail("nth_heap_realloc accepted %p", bad);
        break;
    case OP_SIZE:
        if (nth_heap_size(heap, 0, bad) != NTH_SIZE_ERROR) mis_fail("nth_heap_size accepted %p", bad);
        break;
    case OP_VALIDATE:
        if (nth_heap_validate(heap, 0, bad)) mis_fail("nth_heap_validate passed %p", bad);
        break;
    case OP_NTH_FREE:
        call = "nth_free";
        if (nth_free(bad)) mis_fail("nth_free accepted %p", bad);
        break;
    }
    nth_error err = nth_last_error();
    if (!(mask & MIS_BIT(err))) mis_fail("last error %s", mis_error_text(err));
    const mis_report *r = mis_expect_one_report(mark, mask, bad, call);
    if (r && op == OP_FREE && r->heap != heap) mis_fail("the report names heap %p, not %p", (void *)r->heap, (void *)heap);
    mis_expect_unchanged(&native_ops);
}

/* Pointers the address map must tell apart: another heap's block, a C library block, the heap's
 * own header, a block of a destroyed heap. */
enum { OTHER_FOREIGN_BACK, OTHER_FOREIGN_LFH, OTHER_REALLOC_FOREIGN, OTHER_LIBC, OTHER_HEAP_HEADER,
       OTHER_DESTROYED_BLOCK };

static void native_other_pointer(long kind)
{
    nth_heap *other = nth_heap_create(0, 0, 0);
    void *p = NULL;
    unsigned mask = MIS_BIT(NTH_ERR_INVALID_POINTER);
    MIS_STAGE("making the pointer");
    switch (kind) {
    case OTHER_FOREIGN_BACK:
    case OTHER_REALLOC_FOREIGN:
        p = nth_heap_alloc(other, 0, MIS_BACK);
        mask = MIS_BIT(NTH_ERR_WRONG_HEAP);
        break;
    case OTHER_FOREIGN_LFH:
        for (int i = 0; i < MIS_PRIME; i++) p = nth_heap_alloc(other, 0, MIS_SMALL);
        mask = MIS_BIT(NTH_ERR_WRONG_HEAP);
        break;
    case OTHER_LIBC: p = malloc(100); break;
    case OTHER_HEAP_HEADER: p = heap; break;
    case OTHER_DESTROYED_BLOCK:
        p = nth_heap_alloc(other, 0, 100);
        nth_heap_destroy(other);
        other = NULL;
        break;
    }
    if (!p) {
        mis_fail("setup: allocation failed");
        return;
    }
    nth_set_last_error(NTH_OK);
    int mark = mis_mark();
    MIS_STAGE("passing the pointer");
    if (kind == OTHER_REALLOC_FOREIGN) {
        if (nth_heap_realloc(heap, 0, p, 50000)) mis_fail("nth_heap_realloc accepted another heap's block");
    } else if (kind == OTHER_DESTROYED_BLOCK) {
        if (nth_free(p)) mis_fail("nth_free accepted a block of a destroyed heap");
    } else if (nth_heap_free(heap, 0, p)) {
        mis_fail("nth_heap_free accepted %p", p);
    }
    nth_error err = nth_last_error();
    if (!(mask & MIS_BIT(err))) mis_fail("last error %s", mis_error_text(err));
    mis_expect_one_report(mark, mask, p, kind == OTHER_DESTROYED_BLOCK ? "nth_free"
                                         : kind == OTHER_REALLOC_FOREIGN ? NULL : "nth_heap_free");
    if (mask == MIS_BIT(NTH_ERR_WRONG_HEAP) && nth_heap_size(other, 0, p) == NTH_SIZE_ERROR)
        mis_fail("the other heap's block is no longer valid");
    mis_expect_unchanged(&native_ops);
}

/* ------------------------------------------------------------------------- bad handles */

enum { H_DESTROYED, H_NULL, H_STACK, H_UNMAPPED, H_INTERIOR, H_BLOCK };
enum { HOP_FREE, HOP_ALLOC, HOP_REALLOC, HOP_SIZE, HOP_WALK, HOP_VALIDATE, HOP_COMPACT, HOP_LOCK,
       HOP_STATS, HOP_DESTROY };
#define HANDLE_ROW(kind, op) ((long)(kind) << 8 | (op))

static void native_bad_handle(long arg)
{
    int kind = (int)(arg >> 8), op = (int)(arg & 0xFF);
    char stack_slot[256] = {0};
    void *p = nth_heap_alloc(heap, 0, 100);
    nth_heap *h = NULL;
    MIS_STAGE("making the bad handle");
    switch (kind) {
    case H_DESTROYED:
        h = nth_heap_create(0, 0, 0);
        p = nth_heap_alloc(h, 0, 100);
        if (!nth_heap_destroy(h)) mis_fail("setup: destroy failed");
        break;
    case H_NULL: h = NULL; break;
    case H_STACK: h = (nth_heap *)(void *)(stack_slot + 64); break;
    case H_UNMAPPED: {
        void *m = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(m, 1 << 16);
        h = (nth_heap *)m;
        break;
    }
    case H_INTERIOR: h = (nth_heap *)(void *)((char *)heap + 64); break;
    case H_BLOCK: h = (nth_heap *)p; break;
    }
    nth_set_last_error(NTH_OK);
    nth_walk_entry e;
    nth_heap_stats st;
    memset(&e, 0, sizeof e);
    bool failed = true;
    MIS_STAGE("calling with the bad handle");
    switch (op) {
    case HOP_FREE: failed = !nth_heap_free(h, 0, p); break;
    case HOP_ALLOC: failed = nth_heap_alloc(h, 0, 100) == NULL; break;
    case HOP_REALLOC: failed = nth_heap_realloc(h, 0, p, 300) == NULL; break;
    case HOP_SIZE: failed = nth_heap_size(h, 0, p) == NTH_SIZE_ERROR; break;
    case HOP_WALK: failed = !nth_heap_walk(h, &e); break;
    case HOP_VALIDATE: failed = !nth_heap_validate(h, 0, NULL); break;
    case HOP_COMPACT: failed = nth_heap_compact(h, 0) == 0; break;
    case HOP_LOCK: failed = !nth_heap_lock(h); break;
    case HOP_STATS: failed = !nth_heap_query_stats(h, &st); break;
    case HOP_DESTROY: failed = !nth_heap_destroy(h); break;
    }
    if (!failed) mis_fail("the call succeeded with a bad heap handle");
    if (nth_last_error() != NTH_ERR_INVALID_HANDLE)
        mis_fail("last error %s, expected NTH_ERR_INVALID_HANDLE", mis_error_text(nth_last_error()));
    mis_expect_unchanged(&native_ops);
}

/* Lock misuse: unlock without lock; lock of a NO_SERIALIZE heap. */
static void native_lock_misuse(long kind)
{
    nth_set_last_error(NTH_OK);
    MIS_STAGE("misusing the lock");
    if (kind == 0) {
        if (nth_heap_unlock(heap)) mis_fail("unlock without lock succeeded");
        if (nth_last_error() != NTH_ERR_NOT_LOCKED) mis_fail("last error %s", mis_error_text(nth_last_error()));
    } else {
        nth_heap *h = nth_heap_create(NTH_NO_SERIALIZE, 0, 0);
        if (nth_heap_lock(h)) mis_fail("lock of a NO_SERIALIZE heap succeeded");
        if (nth_last_error() != NTH_ERR_NOT_SUPPORTED) mis_fail("last error %s", mis_error_text(nth_last_error()));
    }
    mis_expect_unchanged(&native_ops);
}

/* A walk entry that is not a position of the heap: refused, never followed. */
static void native_forged_walk(long kind)
{
    char stack_slot[64];
    nth_walk_entry e;
    memset(&e, 0, sizeof e);
    e.data = kind == 0 ? (void *)(stack_slot + 16) : (void *)(uintptr_t)0x900000001000ull;
    e.flags = NTH_ENTRY_BUSY;
    nth_set_last_error(NTH_OK);
    MIS_STAGE("walking from a forged entry");
    if (nth_heap_walk(heap, &e)) mis_fail("the walk accepted a forged position");
    if (nth_last_error() != NTH_ERR_INVALID_PARAMETER) mis_fail("last error %s", mis_error_text(nth_last_error()));
    mis_expect_unchanged(&native_ops);
}

/* ------------------------------------------------------------------------ scenario rows */

#define NATIVE(fn)                                                                                 \
    static void native_##fn(long arg) { mis_##fn(&native_ops, arg); }
NATIVE(lfh_uaf)
NATIVE(back_uaf)
NATIVE(coalesced_uaf)
NATIVE(stale_header_links)
NATIVE(big_freed_write)
NATIVE(big_prefix)
NATIVE(overrun)
NATIVE(underrun)
NATIVE(free_after_realloc)
NATIVE(free_after_reuse)
NATIVE(race_double_free)
NATIVE(exit_while_locked)

/* The same writes on a heap created with free checking, where they are documented to be found. */
static void native_checked_uaf(long arg)
{
    nth_heap_destroy(heap);
    heap = nth_heap_create(NTH_FREE_CHECKING_ENABLED, 0, 0);
    if (arg & 0x1000) mis_back_uaf(&native_ops, (arg & 0xFF) | MIS_REQUIRED);
    else mis_lfh_uaf(&native_ops, arg | MIS_REQUIRED);
}

static const mis_row rows[] = {
    {"native", "free static pointer", native_bad_pointer, BAD(OP_FREE, MIS_BAD_STATIC), 0},
    {"native", "free stack pointer", native_bad_pointer, BAD(OP_FREE, MIS_BAD_STACK), 0},
    {"native", "free unmapped pointer", native_bad_pointer, BAD(OP_FREE, MIS_BAD_UNMAPPED), 0},
    {"native", "free NULL+1", native_bad_pointer, BAD(OP_FREE, MIS_BAD_NULL1), 0},
    {"native", "free kernel-half pointer", native_bad_pointer, BAD(OP_FREE, MIS_BAD_KERNEL), 0},
    {"native", "free non-canonical pointer", native_bad_pointer, BAD(OP_FREE, MIS_BAD_NONCANON), 0},
    {"native", "free interior of back-end block", native_bad_pointer, BAD(OP_FREE, MIS_BAD_INTERIOR_BACK), 0},
    {"native", "free interior of LFH block", native_bad_pointer, BAD(OP_FREE, MIS_BAD_INTERIOR_LFH), 0},
    {"native", "free interior of big block", native_bad_pointer, BAD(OP_FREE, MIS_BAD_INTERIOR_BIG), 0},
    {"native", "free misaligned back-end pointer (+1)", native_bad_pointer, BAD(OP_FREE, MIS_BAD_MISALIGNED_BACK), 0},
    {"native", "free misaligned LFH pointer (+8)", native_bad_pointer, BAD(OP_FREE, MIS_BAD_MISALIGNED_LFH), 0},
    {"native", "double free back-end (immediate)", native_bad_pointer, BAD(OP_FREE, MIS_BAD_FREED_BACK), 0},
    {"native", "double free LFH (immediate)", native_bad_pointer, BAD(OP_FREE, MIS_BAD_FREED_LFH), 0},
    {"native", "double free big block (immediate)", native_bad_pointer, BAD(OP_FREE, MIS_BAD_FREED_BIG), 0},
    {"native", "free pointer into a cached big mapping", native_bad_pointer, BAD(OP_FREE, MIS_BAD_CACHED_BIG), 0},
    {"native", "realloc pointer into a cached big mapping", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_CACHED_BIG), 0},
    {"native", "realloc stack pointer", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_STACK), 0},
    {"native", "realloc unmapped pointer", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_UNMAPPED), 0},
    {"native", "realloc kernel-half pointer", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_KERNEL), 0},
    {"native", "realloc interior of back-end block", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_INTERIOR_BACK), 0},
    {"native", "realloc freed back-end block", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_FREED_BACK), 0},
    {"native", "realloc freed LFH block", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_FREED_LFH), 0},
    {"native", "realloc freed big block", native_bad_pointer, BAD(OP_REALLOC, MIS_BAD_FREED_BIG), 0},
    {"native", "size of static pointer", native_bad_pointer, BAD(OP_SIZE, MIS_BAD_STATIC), 0},
    {"native", "size of unmapped pointer", native_bad_pointer, BAD(OP_SIZE, MIS_BAD_UNMAPPED), 0},
    {"native", "size of LFH interior pointer", native_bad_pointer, BAD(OP_SIZE, MIS_BAD_INTERIOR_LFH), 0},
    {"native", "size of freed back-end block", native_bad_pointer, BAD(OP_SIZE, MIS_BAD_FREED_BACK), 0},
    {"native", "size of freed LFH block", native_bad_pointer, BAD(OP_SIZE, MIS_BAD_FREED_LFH), 0},
    {"native", "validate stack pointer", native_bad_pointer, BAD(OP_VALIDATE, MIS_BAD_STACK), 0},
    {"native", "validate unmapped pointer", native_bad_pointer, BAD(OP_VALIDATE, MIS_BAD_UNMAPPED), 0},
    {"native", "validate big interior pointer", native_bad_pointer, BAD(OP_VALIDATE, MIS_BAD_INTERIOR_BIG), 0},
    {"native", "validate freed LFH block", native_bad_pointer, BAD(OP_VALIDATE, MIS_BAD_FREED_LFH), 0},
    {"native", "nth_free stack pointer", native_bad_pointer, BAD(OP_NTH_FREE, MIS_BAD_STACK), 0},
    {"native", "nth_free unmapped pointer", native_bad_pointer, BAD(OP_NTH_FREE, MIS_BAD_UNMAPPED), 0},
    {"native", "nth_free NULL+1", native_bad_pointer, BAD(OP_NTH_FREE, MIS_BAD_NULL1), 0},
    {"native", "nth_free interior of back-end block", native_bad_pointer, BAD(OP_NTH_FREE, MIS_BAD_INTERIOR_BACK), 0},
    {"native", "nth_free double free LFH", native_bad_pointer, BAD(OP_NTH_FREE, MIS_BAD_FREED_LFH), 0},
    {"native", "nth_free double free big block", native_bad_pointer, BAD(OP_NTH_FREE, MIS_BAD_FREED_BIG), 0},
    {"native", "free another heap's back-end block", native_other_pointer, OTHER_FOREIGN_BACK, 0},
    {"native", "free another heap's LFH block", native_other_pointer, OTHER_FOREIGN_LFH, 0},
    {"native", "realloc another heap's block", native_other_pointer, OTHER_REALLOC_FOREIGN, 0},
    {"native", "free a C library block", native_other_pointer, OTHER_LIBC, 0},
    {"native", "free the heap's own header", native_other_pointer, OTHER_HEAP_HEADER, 0},
    {"native", "nth_free block of a destroyed heap", native_other_pointer, OTHER_DESTROYED_BLOCK, 0},
    {"native", "double free LFH after reuse", native_free_after_reuse, MIS_K_LFH, 0},
    {"native", "double free back-end after coalesce and reuse", native_free_after_reuse, MIS_K_BACK, 0},
    {"native", "double free LFH after realloc", native_free_after_realloc, MIS_K_LFH, 0},
    {"native", "double free back-end after realloc", native_free_after_realloc, MIS_K_BACK, 0},
    {"native", "double free big block after realloc", native_free_after_realloc, MIS_K_BIG, 0},
    {"native", "free on a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_FREE), 0},
    {"native", "alloc on a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_ALLOC), 0},
    {"native", "walk a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_WALK), 0},
    {"native", "validate a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_VALIDATE), 0},
    {"native", "compact a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_COMPACT), 0},
    {"native", "lock a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_LOCK), 0},
    {"native", "destroy a destroyed heap", native_bad_handle, HANDLE_ROW(H_DESTROYED, HOP_DESTROY), 0},
    {"native", "free with a NULL heap", native_bad_handle, HANDLE_ROW(H_NULL, HOP_FREE), 0},
    {"native", "alloc with a stack address as heap", native_bad_handle, HANDLE_ROW(H_STACK, HOP_ALLOC), 0},
    {"native", "free with an unmapped heap handle", native_bad_handle, HANDLE_ROW(H_UNMAPPED, HOP_FREE), 0},
    {"native", "stats with an interior heap handle", native_bad_handle, HANDLE_ROW(H_INTERIOR, HOP_STATS), 0},
    {"native", "size with a block as heap handle", native_bad_handle, HANDLE_ROW(H_BLOCK, HOP_SIZE), 0},
    {"native", "unlock without lock", native_lock_misuse, 0, 0},
    {"native", "lock a NO_SERIALIZE heap", native_lock_misuse, 1, 0},
    {"native", "walk from a forged stack entry", native_forged_walk, 0, 0},
    {"native", "walk from a forged wild entry", native_forged_walk, 1, 0},
    {"native", "use-after-free write LFH: text", native_lfh_uaf, MIS_UAF_TEXT, 0},
    {"native", "use-after-free write LFH: static pointer", native_lfh_uaf, MIS_UAF_STATIC, 0},
    {"native", "use-after-free write LFH: pointer to live block", native_lfh_uaf, MIS_UAF_LIVE, 0},
    {"native", "use-after-free write LFH: 64 bytes", native_lfh_uaf, MIS_UAF_FILL, 0},
    {"native", "use-after-free write LFH: self pointer", native_lfh_uaf, MIS_UAF_SELF, 0},
    {"native", "use-after-free write small block, free-checking heap", native_checked_uaf, MIS_UAF_TEXT, 0},
    {"native", "use-after-free write mid back-end block, free-checking heap", native_checked_uaf, 0x1000 | MIS_UAF_MIDDLE, 0},
    {"native", "use-after-free write back-end links: text", native_back_uaf, MIS_UAF_TEXT, 0},
    {"native", "use-after-free write back-end links: static pointers", native_back_uaf, MIS_UAF_STATIC, 0},
    {"native", "use-after-free write back-end links: live block", native_back_uaf, MIS_UAF_LIVE, 0},
    {"native", "use-after-free write back-end links: self", native_back_uaf, MIS_UAF_SELF, 0},
    {"native", "use-after-free write coalesced free block links", native_coalesced_uaf, 0, 0},
    {"native", "stale header overwritten, freed again after coalesce", native_coalesced_uaf, 1, 0},
    {"native", "links forged to a merged block's stale header inside a live block", native_stale_header_links, 0, 0},
    {"native", "write over freed big block data", native_big_freed_write, 0, 0},
    {"native", "write over freed big block prefix", native_big_freed_write, 1, 0},
    {"native", "big block descriptor word := static address", native_big_prefix, 0, 0},
    {"native", "big block descriptor := another live big block", native_big_prefix, 1, 0},
    {"native", "big block descriptor := other block's mapping start", native_big_prefix, 5, 0},
    {"native", "big block descriptor := other block's data", native_big_prefix, 6, 0},
    {"native", "big block header overwritten, free", native_big_prefix, 2, 0},
    {"native", "big block prefix overwritten, validate", native_big_prefix, 3, 0},
    {"native", "big block prefix overwritten, realloc", native_big_prefix, 4, 0},
    {"native", "overrun 1 byte into live LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_LIVE, 1), 0},
    {"native", "overrun 8 bytes into live LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_LIVE, 8), 0},
    {"native", "overrun 16 bytes into live LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_LIVE, 16), 0},
    {"native", "overrun 64 bytes into live LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_LIVE, 64), 0},
    {"native", "overrun 1 byte into free LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_FREE, 1), 0},
    {"native", "overrun 8 bytes into free LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_FREE, 8), 0},
    {"native", "overrun 16 bytes into free LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_FREE, 16), 0},
    {"native", "overrun 64 bytes into free LFH neighbour", native_overrun, MIS_NB(MIS_N_LFH_FREE, 64), 0},
    {"native", "overrun 1 byte into back-end header", native_overrun, MIS_NB(MIS_N_BACK, 1), 0},
    {"native", "overrun 8 bytes into back-end header", native_overrun, MIS_NB(MIS_N_BACK, 8), 0},
    {"native", "overrun 16 bytes into back-end header", native_overrun, MIS_NB(MIS_N_BACK, 16), 0},
    {"native", "overrun 64 bytes into back-end header", native_overrun, MIS_NB(MIS_N_BACK, 64), 0},
    {"native", "overrun 64 bytes from realloc-grown big block into next mapping's descriptor", native_overrun, MIS_NB(MIS_N_BIG, 64), 0},
    {"native", "overrun 128 bytes from big block into next mapping's header", native_overrun, MIS_NB(MIS_N_BIG, 128), 0},
    {"native", "underrun 8 bytes into own back-end header", native_underrun, MIS_NB(MIS_N_BACK, 8), 0},
    {"native", "underrun 16 bytes into own back-end header", native_underrun, MIS_NB(MIS_N_BACK, 16), 0},
    {"native", "underrun 64 bytes into back-end header and neighbour", native_underrun, MIS_NB(MIS_N_BACK, 64), 0},
    {"native", "underrun 16 bytes into previous LFH block", native_underrun, MIS_NB(MIS_N_LFH_LIVE, 16), 0},
    {"native", "underrun 64 bytes before LFH block 0 (subsegment header)", native_underrun, MIS_NB(MIS_N_LFH_FIRST, 64), 0},
    {"native", "underrun 16 bytes into big block header", native_underrun, MIS_NB(MIS_N_BIG, 16), 0},
    {"native", "underrun 128 bytes into big block prefix", native_underrun, MIS_NB(MIS_N_BIG, 128), 0},
    {"native", "racing double free LFH (owner + other thread)", native_race_double_free, MIS_K_LFH, 40},
    {"native", "racing double free LFH 256 bytes", native_race_double_free, MIS_K_LFH256, 40},
    {"native", "racing double free back-end", native_race_double_free, MIS_K_BACK, 40},
    {"native", "racing double free big block", native_race_double_free, MIS_K_BIG, 40},
    {"native", "thread exit while the joining thread holds nth_heap_lock", native_exit_while_locked, 0, 10},
    {"native", "thread exit while a third thread holds nth_heap_lock", native_exit_while_locked, 1, 10},
};

int main(int argc, char **argv)
{
    (void)argc;
    mis_run_table(rows, sizeof rows / sizeof rows[0], 1, native_setup);
    return harness_finish(argv[0]);
}
