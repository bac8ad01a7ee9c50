/*
 * pointers.h — misuse scenarios with bad and stale pointers, shared by the three surfaces.
 *
 *   mis_make_bad            a wild (static, stack, unmapped, NULL+1, kernel half, non-canonical),
 *                           interior, misaligned or freed pointer, with the errors docs/errors.md
 *                           names for it (freed big blocks, and pointers into a freed big
 *                           block's mapping kept for reuse: INVALID_POINTER or DOUBLE_FREE)
 *   mis_expect_one_report   exactly one report, right error, naming the pointer and the call
 *   mis_expect_unchanged    the heap validates cleanly and serves as before
 *   mis_free_after_realloc  free(p) after realloc moved p: refused, reported, the new block intact
 *   mis_free_after_reuse    double free after other traffic (LFH) or after the block merged
 *                           into a neighbour that a larger block now covers (back-end)
 */
#ifndef NTH_TEST_MISUSE_POINTERS_H
#define NTH_TEST_MISUSE_POINTERS_H

#include "misuse/scenarios.h"

/* ----------------------------------------------------------- stale pointers (double free) */

/* free(p) after q = realloc(p, more) moved it: refused, reported, q intact. */
static inline void mis_free_after_realloc(const mis_ops *ops, long kind)
{
    void *blocks[MIS_PRIME], *p;
    size_t size = kind == MIS_K_LFH ? MIS_SMALL : kind == MIS_K_BACK ? MIS_BACK : MIS_BIG;
    if (kind == MIS_K_LFH) {
        if (!mis_prime(ops, MIS_SMALL, blocks)) return;
        p = blocks[MIS_PRIME - 1];
    } else {
        if (!(p = mis_take(ops, size, "the block"))) return;
        if (!mis_take(ops, size, "a blocker")) return;
    }
    memset(p, 0x77, 64);
    MIS_STAGE("reallocating (moving) the block");
    void *q = NULL;
    static const size_t grow[] = {50000, 3 * MIS_BACK, 16u << 20, 64};
    for (size_t i = kind == MIS_K_LFH ? 0 : kind == MIS_K_BACK ? 1 : 2; i < 4 && (!q || q == p); i++) {
        q = ops->resize(q ? q : p, grow[i]);
        if (!q) {
            mis_fail("realloc to %zu bytes failed", grow[i]);
            return;
        }
        size = grow[i];
    }
    if (q == p) {
        mis_fail("setup: realloc never moved the block");
        return;
    }
    mis_untrack(p);
    mis_track(q, size, "the moved block");
    int mark = mis_mark();
    MIS_STAGE("freeing the pointer realloc moved away from");
    if (ops->release(p) && ops->release_observable) mis_fail("the stale pointer was freed");
    mis_expect_report(mark, MIS_ANY_CORRUPTION, p, mis_at(p, 1), "double free after realloc");
    const unsigned char *c = q;
    for (int i = 0; i < 64; i++)
        if (c[i] != 0x77) {
            mis_fail("the moved block's contents changed");
            break;
        }
    MIS_STAGE("validating");
    if (!ops->validate()) mis_fail("validate failed after a refused double free");
    mis_aftermath(ops, "after a double free of a reallocated block");
}

/* Double free after the memory was reused. LFH: other blocks of the size come and go first;
 * back-end: the block merged into its freed neighbour and a larger block now covers it. */
static inline void mis_free_after_reuse(const mis_ops *ops, long kind)
{
    int mark;
    if (kind == MIS_K_LFH) {
        void *blocks[MIS_PRIME], *traffic[200];
        if (!mis_prime(ops, MIS_SMALL, blocks)) return;
        void *p = blocks[MIS_PRIME - 2];
        mis_release_live(ops, p, "the block");
        MIS_STAGE("allocation traffic of the same size");
        for (int i = 0; i < 200; i++)
            if (!(traffic[i] = mis_take(ops, MIS_SMALL, "traffic"))) return;
        for (int i = 0; i < 200; i++) mis_release_live(ops, traffic[i], "traffic");
        mark = mis_mark();
        MIS_STAGE("freeing the block again");
        if (ops->release(p) && ops->release_observable) mis_fail("the block was freed twice");
        mis_expect_report(mark, MIS_ANY_CORRUPTION, p, mis_at(p, 1), "double free after reuse");
        mis_take_many(ops, MIS_SMALL, 100, "allocating the same size after the double free");
    } else {
        MIS_STAGE("allocating four back-end blocks");
        void *g0 = mis_take(ops, MIS_BACK, "guard"), *a = mis_take(ops, MIS_BACK, "a");
        void *b = mis_take(ops, MIS_BACK, "b"), *g1 = mis_take(ops, MIS_BACK, "guard");
        if (!g0 || !a || !b || !g1) return;
        mis_release_live(ops, b, "b");
        mis_release_live(ops, a, "a");
        void *c = mis_take(ops, 2 * MIS_BACK, "the block over both");
        if (!c) return;
        memset(c, 0x66, 2 * MIS_BACK);
        mark = mis_mark();
        MIS_STAGE("freeing b, now inside a live block");
        if (ops->release(b) && ops->release_observable) mis_fail("a pointer into a live block was freed");
        mis_expect_report(mark, MIS_ANY_CORRUPTION, b, mis_at(b, 1), "double free after reuse");
        const unsigned char *cc = c;
        for (size_t i = 0; i < 2 * MIS_BACK; i++)
            if (cc[i] != 0x66) {
                mis_fail("the live block over the freed one was written at +%zu", i);
                break;
            }
    }
    MIS_STAGE("validating");
    if (!ops->validate()) mis_fail("validate failed after a refused double free");
    mis_aftermath(ops, "after a double free of reused memory");
}

/* ------------------------------------------------------------------------- bad pointers */

enum {
    MIS_BAD_STATIC, MIS_BAD_STACK, MIS_BAD_UNMAPPED, MIS_BAD_NULL1, MIS_BAD_KERNEL,
    MIS_BAD_NONCANON, MIS_BAD_INTERIOR_BACK, MIS_BAD_INTERIOR_LFH, MIS_BAD_INTERIOR_BIG,
    MIS_BAD_MISALIGNED_BACK, MIS_BAD_MISALIGNED_LFH, MIS_BAD_FREED_BACK, MIS_BAD_FREED_LFH,
    MIS_BAD_FREED_BIG, MIS_BAD_CACHED_BIG
};

/* A bad pointer of the given kind and the errors the docs name for it. */
static inline void *mis_make_bad(const mis_ops *ops, int kind, void *stack, unsigned *mask)
{
    void *blocks[MIS_PRIME], *p;
    *mask = MIS_BIT(NTH_ERR_INVALID_POINTER);
    MIS_STAGE("making the bad pointer");
    switch (kind) {
    case MIS_BAD_STATIC: return &mis_static_target[16];
    case MIS_BAD_STACK: return stack;
    case MIS_BAD_UNMAPPED:
        p = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        munmap(p, 1 << 16);
        return (char *)p + 4096;
    case MIS_BAD_NULL1: return (void *)(uintptr_t)1;
    case MIS_BAD_KERNEL: return (void *)(uintptr_t)0xffff800000001000ull;
    case MIS_BAD_NONCANON: return (void *)(uintptr_t)0x0000900000000010ull;
    case MIS_BAD_INTERIOR_BACK:
        p = mis_take(ops, MIS_BACK, "a back-end block");
        return p ? (char *)p + 16 : NULL;
    case MIS_BAD_INTERIOR_LFH:
        return mis_prime(ops, MIS_SMALL, blocks) ? (char *)blocks[MIS_PRIME - 1] + 16 : NULL;
    case MIS_BAD_INTERIOR_BIG:
        p = mis_take(ops, MIS_BIG, "a big block");
        return p ? (char *)p + 4096 : NULL;
    case MIS_BAD_MISALIGNED_BACK:
        p = mis_take(ops, MIS_BACK, "a back-end block");
        return p ? (char *)p + 1 : NULL;
    case MIS_BAD_MISALIGNED_LFH:
        return mis_prime(ops, MIS_SMALL, blocks) ? (char *)blocks[MIS_PRIME - 1] + 8 : NULL;
    case MIS_BAD_FREED_BACK:
        *mask = MIS_BIT(NTH_ERR_DOUBLE_FREE);
        p = mis_guarded_back(ops);
        if (p) mis_release_live(ops, p, "the block");
        return p;
    case MIS_BAD_FREED_LFH:
        *mask = MIS_BIT(NTH_ERR_DOUBLE_FREE);
        if (!mis_prime(ops, MIS_SMALL, blocks)) return NULL;
        mis_release_live(ops, blocks[MIS_PRIME - 2], "the block");
        return blocks[MIS_PRIME - 2];
    case MIS_BAD_FREED_BIG:
        *mask = MIS_BIT(NTH_ERR_DOUBLE_FREE) | MIS_BIT(NTH_ERR_INVALID_POINTER);
        p = mis_take(ops, MIS_BIG, "a big block");
        if (p) mis_release_live(ops, p, "the block");
        return p;
    case MIS_BAD_CACHED_BIG:
        /* A freed 8 MiB block's mapping stays cached; a 2 MiB block takes its front, and the
         * pointer lies in the rest, which no block owns. */
        *mask = MIS_BIT(NTH_ERR_DOUBLE_FREE) | MIS_BIT(NTH_ERR_INVALID_POINTER);
        p = mis_take(ops, 4 * MIS_BIG, "an 8 MiB big block");
        if (!p) return NULL;
        mis_release_live(ops, p, "the block");
        if (!mis_take(ops, MIS_BIG, "a big block from the cached mapping")) return NULL;
        return (char *)p + 3 * MIS_BIG;
    }
    return NULL;
}

/* After a refused bad pointer: exactly one report, with the right error, naming the pointer
 * (and the call, when `call` is given); the heap is unchanged and serves as before. */
static inline const mis_report *mis_expect_one_report(int mark, unsigned mask, const void *bad,
                                                      const char *call)
{
    const mis_report *r = mis_expect_report(mark, mask, bad, mis_at(bad, 1), "bad pointer");
    if (mis_reports_since(mark) > 1) mis_fail("reported %d times", mis_reports_since(mark));
    if (r && call && strcmp(r->call, call) != 0) mis_fail("the report names the call \"%s\", not %s", r->call, call);
    return r;
}

static inline void mis_expect_unchanged(const mis_ops *ops)
{
    int mark = mis_mark();
    MIS_STAGE("validating the heap after a refused bad pointer");
    if (!ops->validate()) mis_fail("validate failed after a refused bad pointer");
    mis_expect_silence(mark, "validating after a refused bad pointer");
    mis_aftermath(ops, "after a refused bad pointer");
}

#endif
