/*
 * validate_refs.c — the checks of nth_pst_validate that count: block references against the
 * BBT's cRef, and the DList page.
 *
 * References: every place that names a block by BID is one reference to it --
 *     NBTENTRY bidData, bidSub
 *     XBLOCK / XXBLOCK rgbid[i]
 *     SLENTRY bidData, bidSub         (SLBLOCK, cLevel 0)
 *     SIENTRY bid                     (SIBLOCK, cLevel 1)
 * counted once per entry, over the blocks reachable from the NBT (each internal block is
 * expanded once however many nodes reach it, so a shared subtree is not counted twice, and
 * orphans in the BBT count for nothing). A block's cRef is 1 + its references:
 *     cRef < 1 + references   problem: releasing the references it admits would free a block
 *                             that is still named (a writer trusting cRef corrupts the file)
 *     cRef > 1 + references   note: a leak (Outlook leaves orphans with cRef 1, and sometimes
 *                             more), harmless to readers
 * Work: one pass over the NBT, each internal block decoded once, one sort of the references.
 *
 * DList (the density list page at 0x4200, optional: zero-filled when absent):
 *     0 bFlags  1 cEntDList  2 wPadding  4 ulCurrentPage  8 rgDListPageEnt[cEntDList] (4 bytes:
 *     AMap page number in the low 20 bits, free slots in the high 12)  ... PAGETRAILER ptype 0x86
 * When present: ptype/ptypeRepeat, CRC, wSig = signature(ib, bid), the entries fit the page
 * and name AMap pages the file has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"

#define BTYPE_XBLOCK 0x01
#define BTYPE_SL     0x02

typedef struct refs_ctx {
    nth_pst_file *f;
    pst_finding_sink sink;
    void *ctx;
    uint64_t *refs;     /* BIDs named (bit 0 cleared), with repeats */
    size_t count, cap;
    uint64_t *queue;    /* internal blocks still to expand */
    size_t qlen, qcap;
    pst_idset seen;     /* internal blocks queued once */
    bool oom;
    size_t ref_i;       /* merge cursor over the sorted refs */
} refs_ctx;

static bool push(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        uint64_t *x = realloc(*a, c * sizeof *x);
        if (!x) return false;
        *a = x;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return true;
}

static void name_block(refs_ctx *c, uint64_t bid)
{
    if (bid == 0) return;
    bid &= ~(uint64_t)1;
    if (!push(&c->refs, &c->count, &c->cap, bid)) c->oom = true;
    if ((bid & 2) && pst_idset_add(&c->seen, bid) == 1 && !push(&c->queue, &c->qlen, &c->qcap, bid))
        c->oom = true;
}

static int on_nbt(void *ctx, const nth_pst_node *n)
{
    refs_ctx *c = ctx;
    name_block(c, n->bid_data);
    name_block(c, n->bid_sub);
    return c->oom;
}

/* Names the entries of one internal block (unreadable ones are other checks' findings). */
static void expand(refs_ctx *c, uint64_t bid)
{
    const pst_layout *L = &c->f->lay;
    pst_block b;
    if (pst_block_get(c->f, bid, &b, NULL)) return;
    const uint8_t *d = b.data;
    unsigned w = L->id_size;
    size_t n = b.size >= 4 ? rd16(d + 2) : 0;
    if (b.size >= 8 && d[0] == BTYPE_XBLOCK && 8 + n * w <= b.size) {
        for (size_t i = 0; i < n; i++) name_block(c, rd_id(L, d + 8 + i * w));
    } else if (b.size >= 4 && d[0] == BTYPE_SL) {
        size_t at = L->unicode ? 8 : 4, es = d[1] == 0 ? 3 * w : 2 * w;
        for (size_t i = 0; i < n && at + (i + 1) * es <= b.size; i++) {
            const uint8_t *e = d + at + i * es;
            name_block(c, rd_id(L, e + w));
            if (d[1] == 0) name_block(c, rd_id(L, e + 2 * w));
        }
    }
    pst_block_release(&b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int on_bbt(void *ctx, const nth_pst_block_entry *be)
{
    refs_ctx *c = ctx;
    uint64_t key = be->bid & ~(uint64_t)1;
    while (c->ref_i < c->count && c->refs[c->ref_i] < key) c->ref_i++;
    size_t named = 0;
    while (c->ref_i < c->count && c->refs[c->ref_i] == key) {
        named++;
        c->ref_i++;
    }
    if ((uint64_t)be->refs == named + 1) return 0;
    nth_pst_error e;
    bool leak = be->refs > named + 1;
    pst_fail(&e, NTH_PST_E_CORRUPT, "BBTENTRY", be->ib_entry,
             leak ? "block 0x%llx has cRef %u but only %zu references: a leak"
                  : "block 0x%llx has cRef %u but %zu references: a writer trusting cRef would "
                    "free it while it is still in use",
             (unsigned long long)be->bid, be->refs, named);
    c->sink(c->ctx, &e, leak);
    return 0;
}

static void check_dlist(nth_pst_file *f, pst_finding_sink sink, void *ctx)
{
    const pst_layout *L = &f->lay;
    uint8_t p[PST_PAGE_SIZE];
    if (pst_read(f, PST_DLIST_IB, sizeof p, p, "DList page", NULL)) return;
    const uint8_t *t = p + L->page_data;
    if (t[0] != PST_PTYPE_DLIST) return; /* no DList: it is optional */
    uint32_t crc = L->unicode ? rd32(t + 4) : rd32(t + 8);
    uint64_t bid = L->unicode ? rd64(t + 8) : rd32(t + 4);
    uint64_t amaps = f->info.amap_last >= PST_AMAP_FIRST
                         ? (f->info.amap_last - PST_AMAP_FIRST) / PST_AMAP_SPAN + 1 : 0;
    const char *why = NULL;
    char detail[96] = "";
    if (t[1] != PST_PTYPE_DLIST)
        why = "ptypeRepeat is not 0x86";
    else if (crc != nth_pst_crc(0, p, L->page_data))
        why = "page CRC does not match its data";
    else if (rd16(t + 2) != nth_pst_block_signature(PST_DLIST_IB, bid))
        why = "wSig does not match the page's offset and BID";
    else if (8 + 4 * (size_t)p[1] > L->page_data)
        why = "cEntDList entries do not fit the page";
    for (unsigned i = 0; !why && i < p[1]; i++) {
        uint32_t page = rd32(p + 8 + 4 * i) & 0xFFFFF;
        if (page >= amaps) {
            snprintf(detail, sizeof detail, " (entry %u names AMap page %u of %llu)", i, page,
                     (unsigned long long)amaps);
            why = "an entry names an AMap page the file does not have";
        }
    }
    if (!why) return;
    nth_pst_error e;
    pst_fail(&e, NTH_PST_E_CORRUPT, "DList page", PST_DLIST_IB, "%s%s", why, detail);
    sink(ctx, &e, false);
}

void pst_check_refs(nth_pst_file *f, pst_finding_sink sink, void *ctx)
{
    refs_ctx c = {.f = f, .sink = sink, .ctx = ctx};
    nth_pst_error e;
    if (nth_pst_nbt_foreach(f, on_nbt, &c, NULL, NULL) == NTH_PST_OK) {
        while (c.qlen && !c.oom && !f->budget_spent) expand(&c, c.queue[--c.qlen]);
        if (!c.oom && !f->budget_spent) {
            qsort(c.refs, c.count, sizeof *c.refs, cmp_u64);
            if (nth_pst_bbt_foreach(f, on_bbt, &c, NULL, &e)) { /* reported by the BBT walk */ }
        }
    }
    free(c.refs);
    free(c.queue);
    pst_idset_free(&c.seen);
    check_dlist(f, sink, ctx);
}
