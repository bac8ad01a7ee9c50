/*
 * test_misuse_malloc.c — the misuse table, malloc rows (rows 301..): free, realloc,
 * posix_memalign and malloc_usable_size of ntheap's malloc replacement.
 *
 * The rows need ntheap's malloc in force: tests/misuse/misuse_preload.sh runs this program with
 * LD_PRELOAD=libntheap-malloc.so and NTH_TEST_EXPECT_NTHEAP=1. Run plainly (as the test runner
 * also does) it finds the C library's malloc, says so and runs no row. The engine's calls
 * (report handler, validate, walk, ...) are looked up with dlsym, so that they are the preloaded
 * library's and not a second copy linked into this program.
 *
 * What a row must give (README: bad pointers given to free or realloc are reported and ignored;
 * realloc of a bad pointer fails with EINVAL, as POSIX has it):
 *
 *   free(bad)                  one report naming "free" and the pointer; the heap unchanged
 *   realloc(bad, n)            NULL, errno EINVAL, one report naming the pointer
 *   malloc_usable_size(bad)    0, no crash
 *   posix_memalign misuse      EINVAL for a bad alignment, ENOMEM for an impossible size
 *   damage, races, locks       the shared scenarios (scenarios.h); the aftermath also calls
 *                              mallinfo2 and malloc_trim
 *
 * The table's layout and rules are described at the top of test_misuse.c.
 */
/* The rows free, reallocate and write stale pointers on purpose. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#include "misuse/pointers.h"
#include "misuse/threads.h"

#include <dlfcn.h>
#include <malloc.h>

static struct {
    void (*set_report_handler)(nth_report_handler, void *);
    nth_heap *(*process_heap)(void);
    bool (*validate)(nth_heap *, uint32_t, const void *);
    bool (*walk)(nth_heap *, nth_walk_entry *);
    bool (*query_stats)(nth_heap *, nth_heap_stats *);
    size_t (*compact)(nth_heap *, uint32_t);
    bool (*lock)(nth_heap *);
    bool (*unlock)(nth_heap *);
    nth_heap *(*from_pointer)(const void *);
} nth;

#define LOOKUP(field, name) (*(void **)&nth.field = dlsym(RTLD_DEFAULT, name), nth.field != NULL)

static bool ntheap_in_force(void)
{
    if (!(LOOKUP(set_report_handler, "nth_set_report_handler") && LOOKUP(process_heap, "nth_process_heap") &&
          LOOKUP(validate, "nth_heap_validate") && LOOKUP(walk, "nth_heap_walk") &&
          LOOKUP(query_stats, "nth_heap_query_stats") && LOOKUP(compact, "nth_heap_compact") &&
          LOOKUP(lock, "nth_heap_lock") && LOOKUP(unlock, "nth_heap_unlock") &&
          LOOKUP(from_pointer, "nth_heap_from_pointer")))
        return false;
    void *p = malloc(100);
    bool ours = nth.from_pointer(p) != NULL;
    free(p);
    return ours;
}

static void *m_alloc(size_t size) { return malloc(size); }
static bool m_release(void *p)
{
    free(p);
    return true;
}
static void *m_resize(void *p, size_t size) { return realloc(p, size); }
static bool m_validate(void) { return nth.validate(nth.process_heap(), 0, NULL); }
static int m_kind(const void *p) { return mis_walk_kind(nth.process_heap(), nth.walk, p); }
static bool m_lock(void) { return nth.lock(nth.process_heap()); }
static bool m_unlock(void) { return nth.unlock(nth.process_heap()); }

static void m_traverse(void)
{
    nth_walk_entry e;
    memset(&e, 0, sizeof e);
    long steps = 0;
    MIS_STAGE("walking the heap after the damage");
    while (nth.walk(nth.process_heap(), &e))
        if (++steps > 4000000) {
            mis_fail("the walk did not end after %ld entries", steps);
            break;
        }
    MIS_STAGE("statistics after the damage");
    nth_heap_stats st;
    (void)nth.query_stats(nth.process_heap(), &st);
    MIS_STAGE("mallinfo2 and malloc_trim after the damage");
    struct mallinfo2 mi = mallinfo2();
    (void)mi;
    (void)malloc_trim(0);
    (void)nth.compact(nth.process_heap(), 0);
}

static const mis_ops malloc_ops = {"malloc", m_alloc,    m_release, false,  m_resize,
                                   m_validate, m_traverse, m_kind, m_lock, m_unlock, "malloc"};

static void malloc_setup(void)
{
    mis_canary_init();
    nth.set_report_handler(mis_report_handler, NULL);
}

/* ------------------------------------------------------------------------- bad pointers */

enum { OP_FREE, OP_REALLOC, OP_USABLE };
#define BAD(op, kind) ((long)(op) << 8 | (kind))

static void malloc_bad_pointer(long arg)
{
    int op = (int)(arg >> 8), kind = (int)(arg & 0xFF);
    char stack_slot[64] = {0};
    unsigned mask;
    void *bad = mis_make_bad(&malloc_ops, kind, stack_slot + 16, &mask);
    if (!bad) {
        if (!mis_failed()) mis_fail("setup: no bad pointer");
        return;
    }
    int mark = mis_mark();
    MIS_STAGE("passing the bad pointer");
    switch (op) {
    case OP_FREE:
        free(bad);
        mis_expect_one_report(mark, mask, bad, "free");
        break;
    case OP_REALLOC: {
        errno = 0;
        void *r = realloc(bad, 300);
        int err = errno;
        if (r) mis_fail("realloc accepted %p", bad);
        if (err != EINVAL) mis_fail("realloc of a bad pointer: errno %d, expected EINVAL (%d)", err, EINVAL);
        mis_expect_one_report(mark, mask, bad, NULL);
        break;
    }
    case OP_USABLE: {
        size_t n = malloc_usable_size(bad);
        if (n != 0) mis_fail("malloc_usable_size of a bad pointer is %zu, not 0", n);
        mis_reports_near(mark, bad, mis_at(bad, 1), "malloc_usable_size of a bad pointer");
        break;
    }
    }
    mis_expect_unchanged(&malloc_ops);
}

enum { PM_ALIGN_3, PM_ALIGN_0, PM_ALIGN_24, PM_HUGE, PM_FREE_INTERIOR };

static void malloc_posix_memalign(long kind)
{
    void *out = (void *)&mis_static_target[0];
    static const size_t align[] = {3, 0, 24, 64, 4096};
    size_t size = kind == PM_HUGE ? SIZE_MAX / 2 : 100;
    MIS_STAGE("posix_memalign");
    int rc = posix_memalign(&out, align[kind], size);
    if (kind == PM_FREE_INTERIOR) {
        if (rc != 0 || !out) {
            mis_fail("posix_memalign(4096, 100) failed: %d", rc);
            return;
        }
        int mark = mis_mark();
        MIS_STAGE("freeing an interior pointer of an aligned block");
        free((char *)out + 8);
        mis_expect_one_report(mark, MIS_BIT(NTH_ERR_INVALID_POINTER), (char *)out + 8, "free");
        if (malloc_usable_size(out) < 100) mis_fail("the aligned block changed");
    } else {
        int want = kind == PM_HUGE ? ENOMEM : EINVAL;
        if (rc != want) mis_fail("posix_memalign returned %d, expected %d", rc, want);
        if (out != (void *)&mis_static_target[0]) mis_fail("posix_memalign wrote its result on failure");
    }
    mis_expect_unchanged(&malloc_ops);
}

/* ------------------------------------------------------------------------ scenario rows */

#define MALLOC(fn)                                                                                 \
    static void malloc_##fn(long arg) { mis_##fn(&malloc_ops, arg); }
MALLOC(lfh_uaf)
MALLOC(back_uaf)
MALLOC(coalesced_uaf)
MALLOC(big_freed_write)
MALLOC(big_prefix)
MALLOC(overrun)
MALLOC(underrun)
MALLOC(free_after_realloc)
MALLOC(free_after_reuse)
MALLOC(race_double_free)
MALLOC(exit_while_locked)

static const mis_row rows[] = {
    {"malloc", "free static pointer", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_STATIC), 0},
    {"malloc", "free stack pointer", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_STACK), 0},
    {"malloc", "free unmapped pointer", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_UNMAPPED), 0},
    {"malloc", "free NULL+1", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_NULL1), 0},
    {"malloc", "free kernel-half pointer", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_KERNEL), 0},
    {"malloc", "free interior of back-end block", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_INTERIOR_BACK), 0},
    {"malloc", "free interior of LFH block", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_INTERIOR_LFH), 0},
    {"malloc", "free interior of big block", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_INTERIOR_BIG), 0},
    {"malloc", "free misaligned pointer (+1)", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_MISALIGNED_BACK), 0},
    {"malloc", "double free back-end (immediate)", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_FREED_BACK), 0},
    {"malloc", "double free LFH (immediate)", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_FREED_LFH), 0},
    {"malloc", "double free big block (immediate)", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_FREED_BIG), 0},
    {"malloc", "free pointer into a cached big mapping", malloc_bad_pointer, BAD(OP_FREE, MIS_BAD_CACHED_BIG), 0},
    {"malloc", "realloc freed LFH block", malloc_bad_pointer, BAD(OP_REALLOC, MIS_BAD_FREED_LFH), 0},
    {"malloc", "realloc freed back-end block", malloc_bad_pointer, BAD(OP_REALLOC, MIS_BAD_FREED_BACK), 0},
    {"malloc", "realloc stack pointer", malloc_bad_pointer, BAD(OP_REALLOC, MIS_BAD_STACK), 0},
    {"malloc", "realloc unmapped pointer", malloc_bad_pointer, BAD(OP_REALLOC, MIS_BAD_UNMAPPED), 0},
    {"malloc", "realloc interior of back-end block", malloc_bad_pointer, BAD(OP_REALLOC, MIS_BAD_INTERIOR_BACK), 0},
    {"malloc", "malloc_usable_size stack pointer", malloc_bad_pointer, BAD(OP_USABLE, MIS_BAD_STACK), 0},
    {"malloc", "malloc_usable_size unmapped pointer", malloc_bad_pointer, BAD(OP_USABLE, MIS_BAD_UNMAPPED), 0},
    {"malloc", "malloc_usable_size freed LFH block", malloc_bad_pointer, BAD(OP_USABLE, MIS_BAD_FREED_LFH), 0},
    {"malloc", "posix_memalign alignment 3", malloc_posix_memalign, PM_ALIGN_3, 0},
    {"malloc", "posix_memalign alignment 0", malloc_posix_memalign, PM_ALIGN_0, 0},
    {"malloc", "posix_memalign alignment 24", malloc_posix_memalign, PM_ALIGN_24, 0},
    {"malloc", "posix_memalign impossible size", malloc_posix_memalign, PM_HUGE, 0},
    {"malloc", "free interior of a posix_memalign block", malloc_posix_memalign, PM_FREE_INTERIOR, 0},
    {"malloc", "double free LFH after realloc", malloc_free_after_realloc, MIS_K_LFH, 0},
    {"malloc", "double free back-end after realloc", malloc_free_after_realloc, MIS_K_BACK, 0},
    {"malloc", "double free LFH after reuse", malloc_free_after_reuse, MIS_K_LFH, 0},
    {"malloc", "double free back-end after coalesce and reuse", malloc_free_after_reuse, MIS_K_BACK, 0},
    {"malloc", "use-after-free write LFH: text", malloc_lfh_uaf, MIS_UAF_TEXT, 0},
    {"malloc", "use-after-free write LFH: static pointer", malloc_lfh_uaf, MIS_UAF_STATIC, 0},
    {"malloc", "use-after-free write LFH: pointer to live block", malloc_lfh_uaf, MIS_UAF_LIVE, 0},
    {"malloc", "use-after-free write back-end links: text", malloc_back_uaf, MIS_UAF_TEXT, 0},
    {"malloc", "use-after-free write back-end links: live block", malloc_back_uaf, MIS_UAF_LIVE, 0},
    {"malloc", "use-after-free write coalesced free block links", malloc_coalesced_uaf, 0, 0},
    {"malloc", "stale header overwritten, freed again after coalesce", malloc_coalesced_uaf, 1, 0},
    {"malloc", "write over freed big block data", malloc_big_freed_write, 0, 0},
    {"malloc", "big block descriptor word := static address", malloc_big_prefix, 0, 0},
    {"malloc", "big block descriptor := another live big block", malloc_big_prefix, 1, 0},
    {"malloc", "big block descriptor := other block's mapping start", malloc_big_prefix, 5, 0},
    {"malloc", "big block header overwritten, free", malloc_big_prefix, 2, 0},
    {"malloc", "overrun 8 bytes into free LFH neighbour", malloc_overrun, MIS_NB(MIS_N_LFH_FREE, 8), 0},
    {"malloc", "overrun 64 bytes into free LFH neighbour", malloc_overrun, MIS_NB(MIS_N_LFH_FREE, 64), 0},
    {"malloc", "overrun 16 bytes into live LFH neighbour", malloc_overrun, MIS_NB(MIS_N_LFH_LIVE, 16), 0},
    {"malloc", "overrun 1 byte into back-end header", malloc_overrun, MIS_NB(MIS_N_BACK, 1), 0},
    {"malloc", "overrun 64 bytes into back-end header", malloc_overrun, MIS_NB(MIS_N_BACK, 64), 0},
    {"malloc", "overrun 64 bytes from realloc-grown big block into next mapping's descriptor", malloc_overrun, MIS_NB(MIS_N_BIG, 64), 0},
    {"malloc", "overrun 128 bytes from big block into next mapping's header", malloc_overrun, MIS_NB(MIS_N_BIG, 128), 0},
    {"malloc", "underrun 8 bytes into own back-end header", malloc_underrun, MIS_NB(MIS_N_BACK, 8), 0},
    {"malloc", "underrun 16 bytes into big block header", malloc_underrun, MIS_NB(MIS_N_BIG, 16), 0},
    {"malloc", "racing double free LFH (owner + other thread)", malloc_race_double_free, MIS_K_LFH, 40},
    {"malloc", "racing double free back-end", malloc_race_double_free, MIS_K_BACK, 40},
    {"malloc", "thread exit while the joining thread holds the process heap lock", malloc_exit_while_locked, 0, 10},
    {"malloc", "thread exit while a third thread holds the process heap lock", malloc_exit_while_locked, 1, 10},
};

int main(int argc, char **argv)
{
    (void)argc;
    if (!ntheap_in_force()) {
        printf("# malloc in force: the C library's; the rows run under LD_PRELOAD (misuse_preload.sh)\n");
        if (getenv("NTH_TEST_EXPECT_NTHEAP")) harness_failed++;
        return harness_finish(argv[0]);
    }
    printf("# malloc in force: ntheap\n");
    mis_run_table(rows, sizeof rows / sizeof rows[0], 301, malloc_setup);
    return harness_finish(argv[0]);
}
