/*
 * scenarios.h — damage scenarios shared by the three surfaces (native, Win32, malloc):
 * use-after-free writes, writes over freed and live big-block prefixes, overruns and underruns.
 * Bad and stale pointers are in pointers.h, threads in threads.h.
 *
 * Each scenario builds the blocks it needs through a mis_ops (alloc/free/realloc/validate/...
 * of one surface), does one kind of damage or misuse, then checks the documented outcome and
 * the aftermath (mis_aftermath: traversals end, the heap serves every size, no block is handed
 * out twice). Block kinds, as the docs describe them:
 *
 *   LFH block     64 bytes after 40 allocations of that size (a size activates after ~18);
 *                 no header, blocks back to back at a 64-byte stride
 *   back-end      20000 bytes (above the LFH's 16 KiB): | header 16 | data 20000 | next header
 *   big block     2 MiB (>= 0xFE00 granules): a mapping of its own, | nth_big | header | data |
 *                 with the data at +128, the header in the 16 bytes before it
 *
 * Expected outcomes: where the docs promise detection (headers that fail their check, free-list
 * links, free fill, double free, bad pointers) a report is required, naming the damaged memory;
 * where the damage only hits user bytes that ntheap need not read (an LFH neighbour's data, a
 * freed LFH block when free state is kept elsewhere) a report is optional but, if made, must name
 * memory near the damage. Always: no crash, no hang, no block handed out twice, no write outside
 * the heap (a static canary), no false out-of-memory afterwards.
 */
#ifndef NTH_TEST_MISUSE_SCENARIOS_H
#define NTH_TEST_MISUSE_SCENARIOS_H

#include "misuse/misuse.h"

#define MIS_SMALL 64u
#define MIS_PRIME 40
#define MIS_BACK 20000u
#define MIS_BIG (2u << 20)
#define MIS_REQUIRED 0x100 /* arg flag: a report is required */

/* Block kinds for the stale-pointer and race scenarios (pointers.h, threads.h). */
enum { MIS_K_LFH, MIS_K_BACK, MIS_K_BIG, MIS_K_LFH256 };

static unsigned char mis_static_target[256];

static inline void mis_canary_init(void) { memset(mis_static_target, 0x5C, sizeof mis_static_target); }

static inline void mis_canary_check(const char *what)
{
    for (size_t i = 0; i < sizeof mis_static_target; i++)
        if (mis_static_target[i] != 0x5C) {
            mis_fail("%s: static memory outside the heap was written (%p)", what,
                     (void *)&mis_static_target[i]);
            return;
        }
}

static inline char *mis_at(const void *p, long delta) { return (char *)(uintptr_t)p + delta; }

/* True if the page holding p is mapped (mincore fails with ENOMEM otherwise). */
static inline bool mis_mapped(const void *p)
{
    unsigned char vec;
    uintptr_t page = (uintptr_t)p & ~(uintptr_t)4095;
    return mincore((void *)page, 4096, &vec) == 0;
}

static inline bool mis_require_kind(const mis_ops *ops, const void *p, int want, int refuse,
                                    const char *what)
{
    int k = ops->kind(p);
    if (k < 0 || (k & want) != want || (k & refuse)) {
        mis_fail("setup: %s %p is not the expected kind of block (walk flags %d)", what, p, k);
        return false;
    }
    return true;
}

/* Walk flags of the busy block whose data is p, or -1. */
static inline int mis_walk_kind(nth_heap *heap, bool (*walk)(nth_heap *, nth_walk_entry *),
                                const void *p)
{
    nth_walk_entry e;
    memset(&e, 0, sizeof e);
    for (long steps = 0; steps < 4000000 && walk(heap, &e); steps++)
        if (e.data == p && (e.flags & NTH_ENTRY_BUSY)) return e.flags;
    return -1;
}

/* Allocates MIS_PRIME blocks of `size`; the last ones are LFH blocks. */
static inline bool mis_prime(const mis_ops *ops, size_t size, void **blocks)
{
    MIS_STAGE("priming the LFH");
    for (int i = 0; i < MIS_PRIME; i++)
        if (!(blocks[i] = mis_take(ops, size, "priming the LFH"))) return false;
    return mis_require_kind(ops, blocks[MIS_PRIME - 2], NTH_ENTRY_LFH, 0, "a primed block");
}

/* Two primed LFH blocks a, b with b right after a; false if none. */
static inline bool mis_lfh_pair(const mis_ops *ops, void **blocks, void **a, void **b)
{
    for (int i = MIS_PRIME / 2; i < MIS_PRIME; i++)
        for (int j = MIS_PRIME / 2; j < MIS_PRIME; j++)
            if ((char *)blocks[j] == (char *)blocks[i] + MIS_SMALL &&
                ops->kind(blocks[i]) >= 0 && (ops->kind(blocks[i]) & NTH_ENTRY_LFH)) {
                *a = blocks[i];
                *b = blocks[j];
                return true;
            }
    mis_fail("setup: no two adjacent LFH blocks among the primed ones");
    return false;
}

/* g0 | p | g1: a back-end block between two busy guards. */
static inline void *mis_guarded_back(const mis_ops *ops)
{
    MIS_STAGE("allocating guarded back-end blocks");
    if (!mis_take(ops, MIS_BACK, "guard")) return NULL;
    void *p = mis_take(ops, MIS_BACK, "back-end block");
    if (!p || !mis_take(ops, MIS_BACK, "guard")) return NULL;
    return mis_require_kind(ops, p, NTH_ENTRY_BUSY, NTH_ENTRY_LFH | NTH_ENTRY_BIG, "the back-end block")
               ? p : NULL;
}

/* A damaged block given to free must be either freed or reported: never silently kept. */
static inline void mis_freed_or_reported(const mis_ops *ops, const void *p, int mark, const char *what)
{
    if (mis_mark() == mark && ops->kind(p) >= 0)
        mis_fail("%s: %p was neither freed nor reported", what, p);
}

static inline void mis_release_live(const mis_ops *ops, void *p, const char *what)
{
    if (!mis_give(ops, p) && ops->release_observable) mis_fail("%s: free of a live block refused", what);
}

/* Many allocations of one size right after the damage: each tracked (overlap = double handout). */
static inline void mis_take_many(const mis_ops *ops, size_t size, int n, const char *what)
{
    MIS_STAGE(what);
    for (int i = 0; i < n && !mis_failed(); i++) mis_take(ops, size, what);
}

/* ------------------------------------------------------------ use-after-free writes */

enum { MIS_UAF_TEXT, MIS_UAF_STATIC, MIS_UAF_LIVE, MIS_UAF_FILL, MIS_UAF_SELF, MIS_UAF_MIDDLE };

static inline void mis_uaf_payload(void *p, long what, void *live, size_t size)
{
    MIS_STAGE("writing into the freed block");
    switch (what & 0xFF) {
    case MIS_UAF_TEXT: mis_poke(p, "use after free!", 16); break;
    case MIS_UAF_STATIC:
        mis_poke_word(p, (uintptr_t)&mis_static_target[64]);
        mis_poke_word((char *)p + 8, (uintptr_t)&mis_static_target[128]);
        break;
    case MIS_UAF_LIVE:
        mis_poke_word(p, (uintptr_t)live);
        mis_poke_word((char *)p + 8, (uintptr_t)live);
        break;
    case MIS_UAF_FILL: mis_poke_byte(p, 0x41, size < 64 ? size : 64); break;
    case MIS_UAF_SELF:
        mis_poke_word(p, (uintptr_t)p);
        mis_poke_word((char *)p + 8, (uintptr_t)p);
        break;
    case MIS_UAF_MIDDLE: mis_poke(mis_at(p, (long)size / 2), "middle!!", 8); break;
    }
}

/* A write into a freed LFH block (what: MIS_UAF_*; | MIS_REQUIRED on a free-checking heap,
 * where the block need not be an LFH block but the write must be reported). */
static inline void mis_lfh_uaf(const mis_ops *ops, long what)
{
    void *blocks[MIS_PRIME];
    bool required = what & MIS_REQUIRED;
    MIS_STAGE("priming");
    for (int i = 0; i < MIS_PRIME; i++)
        if (!(blocks[i] = mis_take(ops, MIS_SMALL, "priming"))) return;
    void *p = blocks[MIS_PRIME - 2];
    if (!required && !mis_require_kind(ops, p, NTH_ENTRY_LFH, 0, "the victim")) return;
    MIS_STAGE("freeing the victim");
    mis_release_live(ops, p, "the victim");
    int mark = mis_mark();
    mis_uaf_payload(p, what, blocks[3], MIS_SMALL);
    mis_take_many(ops, MIS_SMALL, 100, "allocating the same size after a use-after-free write");
    mis_reports_name(mark, ops->alloc_call, "reports made while allocating");
    mis_canary_check("after the write");
    MIS_STAGE("validating");
    ops->validate();
    if (required)
        mis_expect_report(mark, MIS_BIT(NTH_ERR_CORRUPT), mis_at(p, -16), mis_at(p, MIS_SMALL + 16),
                          "use-after-free write on a free-checking heap");
    else
        mis_reports_near(mark, mis_at(p, -(1 << 20)), mis_at(p, 1 << 20), "use-after-free write");
    mis_aftermath(ops, "after a use-after-free write into an LFH block");
    mis_canary_check("at the end");
}

/* A write over a freed back-end block's free-list links (reported: links are checked). */
static inline void mis_back_uaf(const mis_ops *ops, long what)
{
    void *live = mis_take(ops, 100, "a live block");
    void *p = mis_guarded_back(ops);
    if (!p || !live) return;
    MIS_STAGE("freeing the back-end block");
    mis_release_live(ops, p, "the back-end block");
    int mark = mis_mark();
    mis_uaf_payload(p, what, live, MIS_BACK);
    mis_take_many(ops, MIS_BACK, 4, "allocating the same size after the write");
    mis_take_many(ops, MIS_BACK / 2, 4, "allocating half the size after the write");
    mis_reports_name(mark, ops->alloc_call, "reports made while allocating");
    mis_canary_check("after the write");
    MIS_STAGE("validating");
    ops->validate();
    if ((what & 0xFF) != MIS_UAF_MIDDLE || (what & MIS_REQUIRED))
        mis_expect_report(mark, (what & 0xFF) == MIS_UAF_MIDDLE ? MIS_BIT(NTH_ERR_CORRUPT) : MIS_ANY_CORRUPTION,
                          mis_at(p, -16), mis_at(p, MIS_BACK), "write over a free back-end block");
    mis_aftermath(ops, "after a use-after-free write into a back-end block");
    mis_canary_check("at the end");
}

/* Two neighbours freed and merged; where 0: write over the merged block's links (reported);
 * where 1: overwrite the stale header of the second and free its old pointer again (refused,
 * reported). */
static inline void mis_coalesced_uaf(const mis_ops *ops, long where)
{
    MIS_STAGE("allocating four back-end blocks");
    void *g0 = mis_take(ops, MIS_BACK, "guard"), *a = mis_take(ops, MIS_BACK, "a");
    void *b = mis_take(ops, MIS_BACK, "b"), *g1 = mis_take(ops, MIS_BACK, "guard");
    if (!g0 || !a || !b || !g1) return;
    if ((char *)b != (char *)a + MIS_BACK + 16) {
        mis_fail("setup: b %p does not follow a %p", b, a);
        return;
    }
    MIS_STAGE("freeing two neighbours (they coalesce)");
    mis_release_live(ops, a, "a");
    mis_release_live(ops, b, "b");
    int mark = mis_mark();
    if (where == 0) {
        mis_poke(a, "coalesced links!", 16);
        mis_take_many(ops, 2 * MIS_BACK, 1, "allocating the merged size after the write");
        mis_take_many(ops, MIS_BACK, 4, "allocating the old size after the write");
        MIS_STAGE("validating");
        ops->validate();
        mis_expect_report(mark, MIS_ANY_CORRUPTION, mis_at(a, -16), mis_at(b, MIS_BACK),
                          "write over a coalesced free block");
    } else {
        mis_poke_byte(mis_at(b, -16), 0x41, 16);
        MIS_STAGE("freeing the stale pointer of the merged block");
        bool accepted = ops->release(b);
        if (accepted && ops->release_observable) mis_fail("the stale pointer was freed again");
        mis_expect_report(mark, MIS_ANY_CORRUPTION, b, mis_at(b, 1), "double free after coalescing");
    }
    mis_canary_check("after the write");
    mis_aftermath(ops, "after a write into a coalesced block");
}

/* Links forged to the stale header of a block that merged away and now lies inside a live block:
 * P, B and Q are freed and merge, Z is taken over all three (B's old header is in Z's data), F1
 * and F2 are freed, then F2's next link and F1's prev link are pointed at B (writes after free)
 * and Z's own bytes at B made to look like B's links. Nothing inside Z may be handed out (B's
 * header is a tombstone, not a free block), and the damage is reported. */
static inline void mis_stale_header_links(const mis_ops *ops, long unused)
{
    (void)unused;
    MIS_STAGE("allocating nine back-end blocks");
    char *block[9];
    for (int i = 0; i < 9; i++)
        if (!(block[i] = mis_take(ops, MIS_BACK, "block"))) return;
    char *p = block[1], *b = block[2], *q = block[3], *f1 = block[5], *f2 = block[7];
    if (b != p + MIS_BACK + 16 || q != b + MIS_BACK + 16) {
        mis_fail("setup: blocks %p %p %p are not adjacent", (void *)p, (void *)b, (void *)q);
        return;
    }
    MIS_STAGE("freeing three neighbours (they merge)");
    mis_release_live(ops, b, "b");
    mis_release_live(ops, p, "p");
    mis_release_live(ops, q, "q");
    char *z = mis_take(ops, 3 * (MIS_BACK + 16) - 16, "z over the merged block");
    if (!z) return;
    if (z != p) {
        mis_fail("setup: z %p is not where the merged block starts (%p)", (void *)z, (void *)p);
        return;
    }
    mis_release_live(ops, f1, "f1");
    mis_release_live(ops, f2, "f2");
    int mark = mis_mark();
    MIS_STAGE("forging links to the stale header");
    uintptr_t links_at_b[2] = {(uintptr_t)f1, (uintptr_t)f2}, to_b = (uintptr_t)b;
    memcpy(b, links_at_b, sizeof links_at_b); /* z's own bytes */
    mis_poke(f2, &to_b, sizeof to_b);                    /* f2's next link */
    mis_poke(f1 + sizeof(uintptr_t), &to_b, sizeof to_b); /* f1's prev link */
    mis_take_many(ops, MIS_BACK, 3, "allocating the size after the writes");
    mis_canary_check("after the writes");
    MIS_STAGE("validating");
    ops->validate();
    mis_expect_report(mark, MIS_ANY_CORRUPTION, mis_at(p, -16), mis_at(f2, MIS_BACK), "links forged to a stale header");
    mis_aftermath(ops, "after links forged to a stale header");
}

/* Writes over a freed big block (where 0: its data; 1: its prefix). Reports optional. */
static inline void mis_big_freed_write(const mis_ops *ops, long where)
{
    void *p = mis_take(ops, MIS_BIG, "big block");
    if (!p || !mis_require_kind(ops, p, NTH_ENTRY_BIG, 0, "the big block")) return;
    MIS_STAGE("freeing the big block");
    mis_release_live(ops, p, "the big block");
    int mark = mis_mark();
    MIS_STAGE("writing over the freed big block");
    mis_poke_byte(where ? mis_at(p, -128) : p, 0x41, 4096);
    mis_take_many(ops, MIS_BIG, 3, "allocating big blocks after the write");
    mis_take_many(ops, MIS_BIG + 8192, 1, "allocating a larger big block after the write");
    mis_canary_check("after the write");
    MIS_STAGE("validating");
    ops->validate();
    mis_reports_near(mark, mis_at(p, -(4 << 20)), mis_at(p, 4 << 20), "write over a freed big block");
    mis_aftermath(ops, "after a write over a freed big block");
}

/* Damage in front of a live big block's data.
 *   0  p[-11] (8-byte words) := a static address; free          contained (canary intact)
 *   1  every prefix word := the same word of another live block  contained (no double handout)
 *   2  the 16-byte header := 0x41...; free                       refused + reported
 *   3  the whole prefix := 0x41...; validate, then free          reported (by validate, which
 *      restores the prefix from the block's out-of-band record, so the free then succeeds)
 *   4  the whole prefix := 0x41...; realloc to 4 MiB             NULL + reported
 *   5  every descriptor word := the other block's mapping start  contained (no double handout)
 *   6  every descriptor word := the other block's data           contained */
static inline void mis_big_prefix(const mis_ops *ops, long how)
{
    MIS_STAGE("allocating two big blocks");
    void *p = mis_take(ops, MIS_BIG, "big block p"), *q = mis_take(ops, MIS_BIG, "big block q");
    if (!p || !q || !mis_require_kind(ops, p, NTH_ENTRY_BIG, 0, "p") ||
        !mis_require_kind(ops, q, NTH_ENTRY_BIG, 0, "q"))
        return;
    int mark = mis_mark();
    MIS_STAGE("writing in front of the big block's data");
    if (how == 0) mis_poke_word(mis_at(p, -88), (uintptr_t)&mis_static_target[64]);
    else if (how == 1)
        for (long off = 16; off <= 128; off += 8) mis_poke_word(mis_at(p, -off), (uintptr_t)mis_at(q, -off));
    else if (how == 5 || how == 6)
        for (long off = 24; off <= 128; off += 8)
            mis_poke_word(mis_at(p, -off), (uintptr_t)(how == 5 ? mis_at(q, -128) : q));
    else if (how == 2) mis_poke_byte(mis_at(p, -16), 0x41, 16);
    else mis_poke_byte(mis_at(p, -128), 0x41, 128);
    bool must_report = how >= 2 && how <= 4;
    if (how == 3) {
        MIS_STAGE("validating a heap with a damaged big-block prefix");
        if (ops->validate()) mis_fail("validate passed a heap with a damaged big-block prefix");
        ops->traverse();
    }
    if (how == 4) {
        MIS_STAGE("reallocating the damaged big block");
        void *r = ops->resize(p, 2 * MIS_BIG);
        if (r) {
            mis_fail("realloc of a big block with a damaged prefix succeeded (%p)", r);
            mis_untrack(p);
            mis_track(r, 2 * MIS_BIG, "the reallocated block");
        }
    } else {
        MIS_STAGE("freeing the damaged big block");
        bool accepted = mis_give(ops, p);
        if (accepted && how == 2 && ops->release_observable)
            mis_fail("free of a big block with a damaged header succeeded");
        mis_freed_or_reported(ops, p, mark, "free of a big block with a damaged prefix");
    }
    mis_canary_check("after freeing the damaged block");
    mis_take_many(ops, MIS_BIG, 4, "allocating big blocks after the damage");
    MIS_STAGE("validating");
    ops->validate();
    if (must_report)
        mis_expect_report(mark, MIS_ANY_CORRUPTION, mis_at(p, -4096), mis_at(p, MIS_BIG),
                          "damaged big-block prefix");
    else
        mis_reports_near(mark, mis_at(p, -4096), mis_at(p, MIS_BIG), "damaged big-block descriptor");
    mis_aftermath(ops, "after damage in front of a big block");
    mis_canary_check("at the end");
}

/* ---------------------------------------------------------------- overruns, underruns */

enum { MIS_N_LFH_LIVE, MIS_N_LFH_FREE, MIS_N_BACK, MIS_N_BIG, MIS_N_LFH_FIRST };
#define MIS_NB(neighbour, bytes) ((long)(neighbour) << 16 | (bytes))

/* An overrun of `bytes` past a block's end into its neighbour. */
static inline void mis_overrun(const mis_ops *ops, long arg)
{
    int neighbour = (int)(arg >> 16);
    size_t bytes = (size_t)(arg & 0xFFFF);
    void *blocks[MIS_PRIME], *a, *b;
    int mark;
    if (neighbour == MIS_N_LFH_LIVE || neighbour == MIS_N_LFH_FREE) {
        if (!mis_prime(ops, MIS_SMALL, blocks) || !mis_lfh_pair(ops, blocks, &a, &b)) return;
        if (neighbour == MIS_N_LFH_FREE) mis_release_live(ops, b, "the neighbour");
        mark = mis_mark();
        MIS_STAGE("overrunning into the LFH neighbour");
        mis_poke_byte(mis_at(a, MIS_SMALL), mis_damaging_byte(mis_at(a, MIS_SMALL), bytes), bytes);
        MIS_STAGE("freeing after the overrun");
        if (neighbour == MIS_N_LFH_LIVE) mis_give(ops, b);
        mis_give(ops, a);
        int before_alloc = mis_mark();
        mis_take_many(ops, MIS_SMALL, 100, "allocating the same size after the overrun");
        mis_reports_name(before_alloc, ops->alloc_call, "reports made while allocating");
        MIS_STAGE("validating");
        ops->validate();
        mis_reports_near(mark, mis_at(a, -(1 << 20)), mis_at(a, 1 << 20), "overrun into an LFH neighbour");
    } else if (neighbour == MIS_N_BACK) {
        MIS_STAGE("allocating back-end blocks");
        void *guard = mis_take(ops, MIS_BACK, "guard"), *p = mis_take(ops, MIS_BACK, "the block");
        void *next = mis_take(ops, MIS_BACK, "the neighbour");
        if (!guard || !p || !next || !mis_take(ops, MIS_BACK, "guard")) return;
        if ((char *)next != (char *)p + MIS_BACK + 16) {
            mis_fail("setup: the neighbour %p does not follow %p", next, p);
            return;
        }
        mark = mis_mark();
        MIS_STAGE("overrunning into the next block's header");
        mis_poke_byte(mis_at(p, MIS_BACK), mis_damaging_byte(mis_at(p, MIS_BACK), bytes), bytes);
        MIS_STAGE("freeing the neighbour whose header was overrun");
        bool accepted = mis_give(ops, next);
        if (accepted && ops->release_observable) mis_fail("the block with an overwritten header was freed");
        MIS_STAGE("freeing the overrunning block");
        mis_give(ops, p);
        mis_canary_check("after the frees");
        mis_take_many(ops, MIS_BACK, 4, "allocating the same size after the overrun");
        MIS_STAGE("validating");
        ops->validate();
        mis_expect_report(mark, MIS_ANY_CORRUPTION, mis_at(p, 0), mis_at(next, MIS_BACK),
                          "overrun into a back-end header");
    } else {
        /* Big blocks whose data ends at a page boundary; find one whose end meets another's
         * mapping, after growing one of them by realloc. */
        enum { NBIG = 8 };
        const size_t size = MIS_BIG - 128;
        void *big[NBIG];
        MIS_STAGE("allocating big blocks");
        void *grown = mis_take(ops, (MIS_BIG >> 1) - 128, "a big block to grow");
        if (!grown) return;
        MIS_STAGE("growing a big block with realloc");
        void *g = ops->resize(grown, size);
        if (!g) {
            mis_fail("realloc of a big block to %zu bytes failed", size);
            return;
        }
        mis_untrack(grown);
        mis_track(g, size, "the grown block");
        big[0] = g;
        for (int i = 1; i < NBIG; i++)
            if (!(big[i] = mis_take(ops, size, "big block"))) return;
        /* x and the big block y whose mapping comes next above x's end (mappings may be apart
         * by an alignment gap: the write lands where a linear overrun meets y) */
        void *x = NULL, *y = NULL;
        uintptr_t best = 1u << 17;
        for (int i = 0; i < NBIG; i++)
            for (int j = 0; j < NBIG; j++) {
                uintptr_t end = (uintptr_t)big[i] + size, start = (uintptr_t)big[j] - 128;
                if (i != j && start >= end && start - end <= best) {
                    best = start - end;
                    x = big[i];
                    y = big[j];
                }
            }
        if (!x) {
            mis_fail("setup: no big block's mapping follows another's end within 128 KiB");
            return;
        }
        mark = mis_mark();
        MIS_STAGE("overrunning into the next mapping's prefix");
        mis_poke_byte(mis_at(y, -128), 0x41, bytes);
        MIS_STAGE("freeing the big block whose prefix was overrun");
        bool accepted = mis_give(ops, y);
        if (bytes >= 128 && accepted && ops->release_observable)
            mis_fail("the big block with an overwritten header was freed");
        mis_freed_or_reported(ops, y, mark, "free after an overrun into its prefix");
        mis_give(ops, x);
        mis_canary_check("after the frees");
        mis_take_many(ops, size, 4, "allocating big blocks after the overrun");
        MIS_STAGE("validating");
        ops->validate();
        if (bytes >= 128)
            mis_expect_report(mark, MIS_ANY_CORRUPTION, mis_at(y, -128), mis_at(y, (long)size),
                              "overrun into a big block's prefix");
        else
            mis_reports_near(mark, mis_at(x, 0), mis_at(y, (long)size), "overrun into a big block's prefix");
    }
    mis_aftermath(ops, "after an overrun");
    mis_canary_check("at the end");
}

/* An underrun: `bytes` written just before a block's data. */
static inline void mis_underrun(const mis_ops *ops, long arg)
{
    int neighbour = (int)(arg >> 16);
    size_t bytes = (size_t)(arg & 0xFFFF);
    void *blocks[MIS_PRIME], *a, *b;
    int mark;
    if (neighbour == MIS_N_LFH_LIVE || neighbour == MIS_N_LFH_FIRST) {
        if (!mis_prime(ops, MIS_SMALL, blocks)) return;
        if (neighbour == MIS_N_LFH_LIVE) {
            if (!mis_lfh_pair(ops, blocks, &a, &b)) return;
        } else {
            /* the lowest LFH block of the subsegment: block 0, right after its header */
            b = NULL;
            for (int i = 0; i < MIS_PRIME; i++) {
                int k = ops->kind(blocks[i]);
                if (k >= 0 && (k & NTH_ENTRY_LFH) && (!b || blocks[i] < b)) b = blocks[i];
            }
            a = b;
        }
        mark = mis_mark();
        MIS_STAGE("underrunning an LFH block");
        mis_poke_byte(mis_at(b, -(long)bytes), 0x41, bytes);
        MIS_STAGE("freeing after the underrun");
        mis_give(ops, b);
        if (a != b) mis_give(ops, a);
        for (int i = 0; i < MIS_PRIME; i += 3)
            if (blocks[i] != a && blocks[i] != b) mis_give(ops, blocks[i]);
        mis_take_many(ops, MIS_SMALL, 100, "allocating the same size after the underrun");
        MIS_STAGE("validating");
        ops->validate();
        mis_reports_near(mark, mis_at(b, -(1 << 20)), mis_at(b, 1 << 20), "underrun of an LFH block");
    } else {
        bool big = neighbour == MIS_N_BIG;
        void *p = big ? mis_take(ops, MIS_BIG, "big block") : mis_guarded_back(ops);
        if (!p) return;
        if (big && !mis_require_kind(ops, p, NTH_ENTRY_BIG, 0, "the big block")) return;
        mark = mis_mark();
        MIS_STAGE("underrunning the block");
        mis_poke_byte(mis_at(p, -(long)bytes), 0x41, bytes);
        MIS_STAGE("freeing the underrun block");
        bool accepted = mis_give(ops, p);
        if (accepted && ops->release_observable) mis_fail("the block with an overwritten header was freed");
        mis_canary_check("after the free");
        mis_take_many(ops, big ? MIS_BIG : MIS_BACK, 4, "allocating the same size after the underrun");
        MIS_STAGE("validating");
        ops->validate();
        mis_expect_report(mark, MIS_ANY_CORRUPTION, mis_at(p, -(long)bytes - 16),
                          mis_at(p, big ? MIS_BIG : MIS_BACK), "underrun into the block's header");
    }
    mis_aftermath(ops, "after an underrun");
    mis_canary_check("at the end");
}

#endif
