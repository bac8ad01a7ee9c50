/*
 * btree.c — the two NDB B-trees: the BBT (blocks by BID) and the NBT (nodes by NID).
 *
 * Both are made of 512-byte BTPAGEs:
 *
 *     ANSI                                   Unicode
 *     0    rgentries (496 bytes)             0    rgentries (488 bytes)
 *     496  cEnt  497 cEntMax                 488  cEnt  489 cEntMax
 *     498  cbEnt 499 cLevel                  490  cbEnt 491 cLevel  492..495 padding
 *     500  PAGETRAILER:                      496  PAGETRAILER:
 *          ptype ptypeRepeat wSig(2)              ptype ptypeRepeat wSig(2)
 *          bid(4) dwCRC(4)                        dwCRC(4) bid(8)
 *
 *     cLevel > 0: BTENTRY  = btkey(4/8) BREF(bid, ib)            -> child page of cLevel - 1
 *     BBT leaf:   BBTENTRY = BREF(bid, ib) cb(2) cRef(2) [pad 4]
 *     NBT leaf:   NBTENTRY = nid(4/8) bidData bidSub nidParent(4) [pad 4]
 *
 * Checks on every page read: ptype and ptypeRepeat, CRC of the page data, BID equal to the
 * referencing BREF, wSig = signature(ib, bid), cEnt <= cEntMax, cEnt * cbEnt inside rgentries,
 * cbEnt large enough for the entry kind, cLevel equal to the parent's minus one. The iterators
 * also check that keys ascend over the whole tree and that each child stays inside the key
 * range its parent entry gives it, so every page is visited at most once.
 *
 * BBT keys ignore bit 0 of a BID (reserved).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct bt_page {
    uint8_t raw[PST_PAGE_SIZE];
    uint64_t ib;
    unsigned count;
    unsigned entry_size;
    unsigned level;
} bt_page;

static const char *tree_name(uint8_t ptype) { return ptype == PST_PTYPE_BBT ? "BBT page" : "NBT page"; }

/* Reads and checks one BTPAGE. expect_level < 0 accepts any level (the root). */
static nth_pst_status read_page(nth_pst_file *f, nth_pst_bref ref, uint8_t ptype, int expect_level,
                                bt_page *pg, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    const char *name = tree_name(ptype);
    nth_pst_status st = pst_read(f, ref.ib, PST_PAGE_SIZE, pg->raw, name, err);
    if (st) return st;
    pg->ib = ref.ib;
    const uint8_t *t = pg->raw + L->page_data;
    uint16_t sig = rd16(t + 2);
    uint32_t crc;
    uint64_t bid;
    if (L->unicode) {
        crc = rd32(t + 4);
        bid = rd64(t + 8);
    } else {
        bid = rd32(t + 4);
        crc = rd32(t + 8);
    }
    if (t[0] != ptype || t[1] != ptype)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "ptype 0x%02X / ptypeRepeat 0x%02X, expected 0x%02X", t[0], t[1], ptype);
    uint32_t actual = nth_pst_crc(0, pg->raw, L->page_data);
    if (actual != crc)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "page CRC is 0x%08X but the data gives 0x%08X", crc, actual);
    if (bid != ref.bid)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "trailer BID 0x%llx differs from the referencing BID 0x%llx",
                        (unsigned long long)bid, (unsigned long long)ref.bid);
    uint16_t want_sig = nth_pst_block_signature(ref.ib, bid);
    if (sig != want_sig)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "wSig 0x%04X, expected 0x%04X", sig, want_sig);
    const uint8_t *c = pg->raw + L->bt_entries;
    pg->count = c[0];
    unsigned max = c[1];
    pg->entry_size = c[2];
    pg->level = c[3];
    if (pg->level > PST_BTREE_DEPTH_MAX)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib, "cLevel %u is too deep", pg->level);
    if (expect_level >= 0 && pg->level != (unsigned)expect_level)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "cLevel %u where the parent implies %d", pg->level, expect_level);
    unsigned need = pg->level ? L->bt_entry_min
                              : (ptype == PST_PTYPE_BBT ? L->bbt_entry_min : L->nbt_entry_min);
    if (pg->entry_size < need)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "cbEnt %u is smaller than an entry (%u bytes)", pg->entry_size, need);
    if (pg->count > max || pg->count * pg->entry_size > L->bt_entries)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "cEnt %u (cEntMax %u, cbEnt %u) does not fit the page", pg->count, max,
                        pg->entry_size);
    return NTH_PST_OK;
}

static uint64_t rd_id(const pst_layout *L, const uint8_t *p) { return L->unicode ? rd64(p) : rd32(p); }

static const uint8_t *entry(const bt_page *pg, unsigned i) { return pg->raw + (size_t)i * pg->entry_size; }

/* Key of entry i; BBT keys drop bit 0. */
static uint64_t entry_key(const pst_layout *L, const bt_page *pg, unsigned i, uint8_t ptype)
{
    uint64_t k = rd_id(L, entry(pg, i));
    return ptype == PST_PTYPE_BBT ? k & ~(uint64_t)1 : k;
}

static nth_pst_bref entry_child(const pst_layout *L, const bt_page *pg, unsigned i)
{
    const uint8_t *e = entry(pg, i) + L->id_size;
    nth_pst_bref r = {rd_id(L, e), rd_id(L, e + L->id_size)};
    return r;
}

static void decode_bbt(const pst_layout *L, const uint8_t *e, nth_pst_block_entry *out)
{
    out->bid = rd_id(L, e);
    out->ib = rd_id(L, e + L->id_size);
    out->cb = rd16(e + 2 * L->id_size);
    out->refs = rd16(e + 2 * L->id_size + 2);
}

static void decode_nbt(const pst_layout *L, const uint8_t *e, nth_pst_node *out)
{
    unsigned w = L->id_size;
    out->nid = (uint32_t)rd_id(L, e);
    out->bid_data = rd_id(L, e + w);
    out->bid_sub = rd_id(L, e + 2 * w);
    out->nid_parent = rd32(e + 3 * w);
}

/* Descends to the leaf entry with key `key`. */
static nth_pst_status lookup(nth_pst_file *f, uint8_t ptype, uint64_t key, const uint8_t **found,
                             bt_page *pg, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    nth_pst_bref ref = ptype == PST_PTYPE_BBT ? f->info.bbt_root : f->info.nbt_root;
    int level = -1;
    for (;;) {
        nth_pst_status st = read_page(f, ref, ptype, level, pg, err);
        if (st) return st;
        /* last entry with key <= wanted (binary search over ascending keys) */
        unsigned lo = 0, hi = pg->count;
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            if (entry_key(L, pg, mid, ptype) <= key)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0) break;
        unsigned i = lo - 1;
        if (pg->level == 0) {
            if (entry_key(L, pg, i, ptype) != key) break;
            *found = entry(pg, i);
            return NTH_PST_OK;
        }
        ref = entry_child(L, pg, i);
        level = (int)pg->level - 1;
    }
    return pst_fail(err, NTH_PST_E_NOT_FOUND, ptype == PST_PTYPE_BBT ? "BBT" : "NBT",
                    pg->ib, "%s 0x%llX is not in the tree",
                    ptype == PST_PTYPE_BBT ? "BID" : "NID", (unsigned long long)key);
}

nth_pst_status nth_pst_bbt_lookup(nth_pst_file *file, uint64_t bid, nth_pst_block_entry *out,
                                  nth_pst_error *err)
{
    bt_page pg;
    const uint8_t *e;
    nth_pst_status st = lookup(file, PST_PTYPE_BBT, bid & ~(uint64_t)1, &e, &pg, err);
    if (st) return st;
    decode_bbt(&file->lay, e, out);
    out->ib_entry = pg.ib + (uint64_t)(e - pg.raw);
    return NTH_PST_OK;
}

nth_pst_status nth_pst_nbt_lookup(nth_pst_file *file, uint32_t nid, nth_pst_node *out,
                                  nth_pst_error *err)
{
    bt_page pg;
    const uint8_t *e;
    nth_pst_status st = lookup(file, PST_PTYPE_NBT, nid, &e, &pg, err);
    if (st) return st;
    decode_nbt(&file->lay, e, out);
    out->ib_entry = pg.ib + (uint64_t)(e - pg.raw);
    return NTH_PST_OK;
}

typedef struct walk_state {
    nth_pst_file *f;
    uint8_t ptype;
    nth_pst_block_fn bfn;
    nth_pst_node_fn nfn;
    void (*pagefn)(void *ctx, uint64_t ib);
    void *ctx;
    size_t pages;
    size_t page_cap;
    bool have_last;
    uint64_t last;
    bool stopped;
} walk_state;

/* Visits the subtree at ref whose keys must lie in [lo, hi) (hi_open: no upper bound). */
static nth_pst_status walk_page(walk_state *w, nth_pst_bref ref, int level, uint64_t lo,
                                uint64_t hi, bool hi_open, nth_pst_error *err)
{
    const pst_layout *L = &w->f->lay;
    const char *name = tree_name(w->ptype);
    if (++w->pages > w->page_cap)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                        "more pages visited than the file holds: the tree has a cycle");
    bt_page *pg = malloc(sizeof *pg);
    if (!pg) return pst_fail(err, NTH_PST_E_NO_MEMORY, name, ref.ib, "out of memory");
    nth_pst_status st = read_page(w->f, ref, w->ptype, level, pg, err);
    if (!st && w->pagefn) w->pagefn(w->ctx, ref.ib);
    if (!st && level >= 0 && pg->count == 0)
        st = pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib, "non-root page with no entries");
    for (unsigned i = 0; !st && i < pg->count && !w->stopped; i++) {
        uint64_t key = entry_key(L, pg, i, w->ptype);
        if (key < lo || (!hi_open && key >= hi)) {
            st = pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                          "entry %u key 0x%llx is outside the range its parent gives", i,
                          (unsigned long long)key);
            break;
        }
        if (pg->level > 0) {
            bool last_entry = i + 1 == pg->count;
            uint64_t next = last_entry ? hi : entry_key(L, pg, i + 1, w->ptype);
            if (!last_entry && next <= key) {
                st = pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                              "entry %u key 0x%llx does not ascend", i + 1,
                              (unsigned long long)next);
                break;
            }
            st = walk_page(w, entry_child(L, pg, i), (int)pg->level - 1, key, next,
                           last_entry ? hi_open : false, err);
            continue;
        }
        if (w->have_last && key <= w->last) {
            st = pst_fail(err, NTH_PST_E_CORRUPT, name, ref.ib,
                          "leaf entry %u key 0x%llx does not ascend", i, (unsigned long long)key);
            break;
        }
        w->have_last = true;
        w->last = key;
        int stop;
        if (w->ptype == PST_PTYPE_BBT) {
            nth_pst_block_entry be;
            decode_bbt(L, entry(pg, i), &be);
            be.ib_entry = ref.ib + (uint64_t)i * pg->entry_size;
            stop = w->bfn ? w->bfn(w->ctx, &be) : 0;
        } else {
            nth_pst_node n;
            decode_nbt(L, entry(pg, i), &n);
            n.ib_entry = ref.ib + (uint64_t)i * pg->entry_size;
            stop = w->nfn ? w->nfn(w->ctx, &n) : 0;
        }
        if (stop) w->stopped = true;
    }
    free(pg);
    return st;
}

nth_pst_status pst_bt_walk(nth_pst_file *f, uint8_t ptype, nth_pst_block_fn bfn,
                           nth_pst_node_fn nfn, void (*pagefn)(void *ctx, uint64_t ib), void *ctx,
                           size_t *pages, nth_pst_error *err)
{
    walk_state w = {.f = f, .ptype = ptype, .bfn = bfn, .nfn = nfn, .pagefn = pagefn, .ctx = ctx};
    w.page_cap = (size_t)(f->size / PST_PAGE_SIZE) + 1;
    nth_pst_bref root = ptype == PST_PTYPE_BBT ? f->info.bbt_root : f->info.nbt_root;
    nth_pst_status st = walk_page(&w, root, -1, 0, 0, true, err);
    if (pages) *pages = w.pages;
    return st;
}

nth_pst_status nth_pst_bbt_foreach(nth_pst_file *file, nth_pst_block_fn fn, void *ctx,
                                   size_t *pages, nth_pst_error *err)
{
    return pst_bt_walk(file, PST_PTYPE_BBT, fn, NULL, NULL, ctx, pages, err);
}

nth_pst_status nth_pst_nbt_foreach(nth_pst_file *file, nth_pst_node_fn fn, void *ctx,
                                   size_t *pages, nth_pst_error *err)
{
    return pst_bt_walk(file, PST_PTYPE_NBT, NULL, fn, NULL, ctx, pages, err);
}
