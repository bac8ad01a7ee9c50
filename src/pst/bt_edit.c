/*
 * bt_edit.c — changing the BBT and the NBT of a PST held in memory: inserting a BBTENTRY
 * (with page splits), changing a block's cRef or dropping its entry, and pointing an NBT
 * entry at a new data tree. Page layout and entry formats: see btree.c.
 *
 * Insert: descend from the root to the leaf whose key range holds the new key, keeping the
 * path. A page with room takes the entry in key order. A full page splits:
 *
 *     full page P (cEnt = cEntMax) + new entry
 *        -> P keeps the lower half, a new page P' (512-aligned space from the AMap, BID from
 *           bidNextP) takes the upper half, with P's cEntMax, cbEnt and cLevel;
 *        -> the parent takes BTENTRY(first key of P', BREF P') after P's entry, splitting in
 *           turn when full;
 *        -> a root that splits gets a new root one level up with two BTENTRYs, and ROOT's
 *           BREFBBT moves to it (at most PST_BTREE_DEPTH_MAX levels).
 * A key below every key of the tree lowers the first key of each page on the way down, so
 * every parent key stays <= the keys below it. Pages keep their BID and place when edited in
 * place; each page changed is sealed again (CRC, signature).
 *
 * Removal leaves parents alone: a parent key stays a lower bound of what is left below it.
 * A leaf is never emptied unless it is the root (the walk refuses empty non-root pages), so a
 * leaf's last entry stays behind as an orphan with cRef 1.
 */
#include <string.h>

#include "edit.h"

typedef struct bt_step {
    uint64_t ib;     /* page on the path */
    unsigned index;  /* entry followed (intermediate) or insert position (leaf) */
} bt_step;

/* What an entry says: a leaf BBTENTRY uses key (= BID), ref.ib, cb, refs; a BTENTRY uses
 * key and ref. */
typedef struct bt_item {
    uint64_t key;
    nth_pst_bref ref;
    uint16_t cb, refs;
} bt_item;

static uint8_t *page_of(nth_pst_file *f, uint64_t ib) { return f->mem + ib; }
static uint8_t *page_counts(nth_pst_file *f, uint64_t ib) { return f->mem + ib + f->lay.bt_entries; }

static uint64_t page_bid(const pst_layout *L, const uint8_t *p)
{
    const uint8_t *t = p + L->page_data;
    return L->unicode ? rd64(t + 8) : rd32(t + 4);
}

static void reseal(nth_pst_file *f, uint64_t ib, uint8_t ptype)
{
    pst_page_seal(f, ib, ptype, page_bid(&f->lay, page_of(f, ib)));
}

static uint64_t key_at(nth_pst_file *f, uint64_t ib, unsigned i, uint8_t ptype)
{
    const uint8_t *c = page_counts(f, ib);
    uint64_t k = rd_id(&f->lay, page_of(f, ib) + (size_t)i * c[2]);
    return ptype == PST_PTYPE_BBT ? k & ~(uint64_t)1 : k;
}

/* The page at ib, checked enough to edit it safely. */
static nth_pst_status check_page(nth_pst_file *f, uint64_t ib, uint8_t ptype, int level,
                                 nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    if (ib % PST_PAGE_SIZE || ib > f->size || f->size - ib < PST_PAGE_SIZE)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BT page", ib, "page outside the file");
    const uint8_t *p = page_of(f, ib), *c = p + L->bt_entries;
    unsigned need = c[3] ? L->bt_entry_min
                         : (ptype == PST_PTYPE_BBT ? L->bbt_entry_min : L->nbt_entry_min);
    if (p[L->page_data] != ptype || c[2] < need || c[0] > c[1] || c[1] * c[2] > L->bt_entries ||
        c[3] > PST_BTREE_DEPTH_MAX || (level >= 0 && c[3] != (unsigned)level))
        return pst_fail(err, NTH_PST_E_CORRUPT, "BT page", ib,
                        "page cannot be edited (ptype 0x%02X, cEnt %u, cEntMax %u, cbEnt %u, "
                        "cLevel %u)", p[L->page_data], c[0], c[1], c[2], c[3]);
    return NTH_PST_OK;
}

static nth_pst_status next_page_bid(nth_pst_file *f, uint64_t *bid, nth_pst_error *err)
{
    uint64_t limit = f->lay.unicode ? UINT64_MAX - 1 : UINT32_MAX - 1;
    uint64_t floor = pst_page_bid_floor(f);
    if (f->info.bid_next_page < floor) f->info.bid_next_page = floor;
    if (f->info.bid_next_page == 0 || f->info.bid_next_page > limit)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HEADER", NTH_PST_NO_OFFSET,
                        "bidNextP 0x%llx cannot name a new page",
                        (unsigned long long)f->info.bid_next_page);
    *bid = f->info.bid_next_page++;
    return NTH_PST_OK;
}

static void encode(const pst_layout *L, uint8_t *e, unsigned size, unsigned level,
                   const bt_item *it)
{
    unsigned w = L->id_size;
    memset(e, 0, size);
    wr_id(L, e, it->key);
    if (level) {
        wr_id(L, e + w, it->ref.bid);
        wr_id(L, e + 2 * w, it->ref.ib);
    } else {
        wr_id(L, e + w, it->ref.ib);
        wr16(e + 2 * w, it->cb);
        wr16(e + 2 * w + 2, it->refs);
    }
}

/* Puts `it` at position pos of path[at], splitting upwards when the page is full. */
static nth_pst_status put(nth_pst_file *f, uint8_t ptype, const bt_step *path, int at,
                          unsigned pos, const bt_item *it, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    uint64_t ib = path[at].ib;
    uint8_t *c = page_counts(f, ib);
    unsigned count = c[0], max = c[1], es = c[2], level = c[3];
    uint8_t all[PST_PAGE_SIZE + 256];
    memcpy(all, page_of(f, ib), (size_t)pos * es);
    encode(L, all + (size_t)pos * es, es, level, it);
    memcpy(all + (size_t)(pos + 1) * es, page_of(f, ib) + (size_t)pos * es, (size_t)(count - pos) * es);
    if (count < max) {
        memcpy(page_of(f, ib), all, (size_t)(count + 1) * es);
        c[0] = (uint8_t)(count + 1);
        reseal(f, ib, ptype);
        return NTH_PST_OK;
    }
    /* split: the new page first (allocation may move f->mem) */
    uint64_t nib = 0, nbid = 0;
    nth_pst_status st = next_page_bid(f, &nbid, err);
    if (!st) st = pst_space_alloc(f, PST_PAGE_SIZE, true, &nib, err);
    if (st) return st;
    unsigned left = (count + 1) / 2, right = count + 1 - left;
    uint8_t *p = page_of(f, ib);
    memset(p, 0, L->bt_entries);
    memcpy(p, all, (size_t)left * es);
    page_counts(f, ib)[0] = (uint8_t)left;
    reseal(f, ib, ptype);
    uint8_t *q = page_of(f, nib);
    memset(q, 0, PST_PAGE_SIZE);
    memcpy(q, all + (size_t)left * es, (size_t)right * es);
    uint8_t *qc = page_counts(f, nib);
    qc[0] = (uint8_t)right;
    qc[1] = (uint8_t)max;
    qc[2] = (uint8_t)es;
    qc[3] = (uint8_t)level;
    pst_page_seal(f, nib, ptype, nbid);
    bt_item up = {.key = key_at(f, nib, 0, ptype), .ref = {nbid, nib}};
    if (at > 0) return put(f, ptype, path, at - 1, path[at - 1].index + 1, &up, err);
    /* the root split: a new root above the two halves */
    if (level + 1 > PST_BTREE_DEPTH_MAX)
        return pst_fail(err, NTH_PST_E_FULL, "BT page", ib, "the tree would be too deep");
    uint64_t rib = 0, rbid = 0;
    st = next_page_bid(f, &rbid, err);
    if (!st) st = pst_space_alloc(f, PST_PAGE_SIZE, true, &rib, err);
    if (st) return st;
    bt_item down = {.key = key_at(f, ib, 0, ptype), .ref = {page_bid(L, page_of(f, ib)), ib}};
    uint8_t *r = page_of(f, rib);
    memset(r, 0, PST_PAGE_SIZE);
    encode(L, r, L->bt_entry_min, level + 1, &down);
    encode(L, r + L->bt_entry_min, L->bt_entry_min, level + 1, &up);
    uint8_t *rc = page_counts(f, rib);
    rc[0] = 2;
    rc[1] = (uint8_t)(L->bt_entries / L->bt_entry_min);
    rc[2] = (uint8_t)L->bt_entry_min;
    rc[3] = (uint8_t)(level + 1);
    pst_page_seal(f, rib, ptype, rbid);
    nth_pst_bref root = {rbid, rib};
    if (ptype == PST_PTYPE_BBT)
        f->info.bbt_root = root;
    else
        f->info.nbt_root = root;
    return NTH_PST_OK;
}

/* Inserts `it` (a leaf entry) into the tree of ptype. */
static nth_pst_status insert(nth_pst_file *f, uint8_t ptype, const bt_item *it, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    bt_step path[PST_BTREE_DEPTH_MAX + 1];
    nth_pst_bref ref = ptype == PST_PTYPE_BBT ? f->info.bbt_root : f->info.nbt_root;
    int depth = 0, level = -1;
    for (;;) {
        nth_pst_status st = check_page(f, ref.ib, ptype, level, err);
        if (st) return st;
        const uint8_t *c = page_counts(f, ref.ib);
        unsigned lo = 0, hi = c[0];
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            if (key_at(f, ref.ib, mid, ptype) <= it->key)
                lo = mid + 1;
            else
                hi = mid;
        }
        path[depth].ib = ref.ib;
        if (c[3] == 0) {
            if (lo > 0 && key_at(f, ref.ib, lo - 1, ptype) == it->key)
                return pst_fail(err, NTH_PST_E_CORRUPT, "BBT", ref.ib,
                                "BID 0x%llx is already in the tree (bidNextB is stale)",
                                (unsigned long long)it->key);
            path[depth++].index = lo;
            break;
        }
        if (c[0] == 0)
            return pst_fail(err, NTH_PST_E_CORRUPT, "BT page", ref.ib, "intermediate page is empty");
        if (lo == 0) { /* below every key: this page's first key comes down to it */
            wr_id(L, page_of(f, ref.ib), it->key);
            reseal(f, ref.ib, ptype);
            lo = 1;
        }
        path[depth++].index = lo - 1;
        const uint8_t *e = page_of(f, ref.ib) + (size_t)(lo - 1) * c[2] + L->id_size;
        ref.bid = rd_id(L, e);
        ref.ib = rd_id(L, e + L->id_size);
        level = (int)c[3] - 1;
    }
    return put(f, ptype, path, depth - 1, path[depth - 1].index, it, err);
}

nth_pst_status pst_bbt_insert(nth_pst_file *f, uint64_t bid, uint64_t ib, uint16_t cb,
                              uint16_t refs, nth_pst_error *err)
{
    bt_item it = {.key = bid & ~(uint64_t)1, .ref = {bid, ib}, .cb = cb, .refs = refs};
    return insert(f, PST_PTYPE_BBT, &it, err);
}

/* The leaf entry of bid: its offset and the page holding it. */
static nth_pst_status bbt_entry(nth_pst_file *f, uint64_t bid, nth_pst_block_entry *be,
                                uint64_t *page, nth_pst_error *err)
{
    nth_pst_status st = nth_pst_bbt_lookup(f, bid, be, err);
    if (st) return st;
    *page = be->ib_entry & ~(uint64_t)(PST_PAGE_SIZE - 1);
    return NTH_PST_OK;
}

nth_pst_status pst_internal_block(nth_pst_file *f, uint64_t bid, size_t min_cb, const char *structure,
                                  nth_pst_block_entry *be, const uint8_t **data, nth_pst_error *err)
{
    nth_pst_status st = nth_pst_bbt_lookup(f, bid, be, err);
    if (st) return st;
    if (!(bid & 2) || be->ib > f->size || pst_block_total(&f->lay, be->cb) > f->size - be->ib || be->cb < min_cb)
        return pst_fail(err, NTH_PST_E_CORRUPT, structure, be->ib, "block 0x%llx is unusable",
                        (unsigned long long)bid);
    *data = f->mem + be->ib;
    return NTH_PST_OK;
}

nth_pst_status pst_bbt_addref(nth_pst_file *f, uint64_t bid, nth_pst_error *err)
{
    nth_pst_block_entry be;
    uint64_t page;
    nth_pst_status st = bbt_entry(f, bid, &be, &page, err);
    if (st) return st;
    if (be.refs == UINT16_MAX)
        return pst_fail(err, NTH_PST_E_FULL, "BBTENTRY", be.ib_entry, "cRef of block 0x%llx is at its maximum",
                        (unsigned long long)bid);
    wr16(f->mem + be.ib_entry + 2 * f->lay.id_size + 2, (uint16_t)(be.refs + 1));
    reseal(f, page, PST_PTYPE_BBT);
    return NTH_PST_OK;
}

nth_pst_status pst_bbt_unref(nth_pst_file *f, uint64_t bid, bool *gone, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    nth_pst_block_entry be;
    uint64_t page;
    nth_pst_status st = bbt_entry(f, bid, &be, &page, err);
    if (st) return st;
    uint8_t *e = f->mem + be.ib_entry;
    *gone = be.refs <= PST_BLOCK_REF_ONE;
    if (!*gone) {
        wr16(e + 2 * L->id_size + 2, (uint16_t)(be.refs - 1));
        reseal(f, page, PST_PTYPE_BBT);
        return NTH_PST_OK;
    }
    uint8_t *c = page_counts(f, page);
    if (c[0] <= 1 && page != f->info.bbt_root.ib) {
        wr16(e + 2 * L->id_size + 2, 1); /* an orphan: still in the BBT and on disk */
        reseal(f, page, PST_PTYPE_BBT);
        return NTH_PST_OK;
    }
    unsigned es = c[2], i = (unsigned)((be.ib_entry - page) / es);
    memmove(e, e + es, (size_t)(c[0] - i - 1) * es);
    memset(page_of(f, page) + (size_t)(c[0] - 1) * es, 0, es);
    c[0]--;
    reseal(f, page, PST_PTYPE_BBT);
    pst_space_free(f, be.ib, pst_block_total(L, be.cb));
    return NTH_PST_OK;
}

/* Writes the BID in field `field` of nid's NBT entry (NBTENTRY: nid, bidData, bidSub, ...,
 * each id_size wide) and reseals its page. */
static nth_pst_status nbt_set_field(nth_pst_file *f, uint32_t nid, unsigned field, uint64_t bid,
                                    nth_pst_error *err)
{
    nth_pst_node node;
    nth_pst_status st = nth_pst_nbt_lookup(f, nid, &node, err);
    if (st) return st;
    wr_id(&f->lay, f->mem + node.ib_entry + field * f->lay.id_size, bid);
    reseal(f, node.ib_entry & ~(uint64_t)(PST_PAGE_SIZE - 1), PST_PTYPE_NBT);
    return NTH_PST_OK;
}

nth_pst_status pst_nbt_set_data(nth_pst_file *f, uint32_t nid, uint64_t bid_data,
                                nth_pst_error *err)
{
    return nbt_set_field(f, nid, 1, bid_data, err);
}

nth_pst_status pst_nbt_set_sub(nth_pst_file *f, uint32_t nid, uint64_t bid_sub,
                               nth_pst_error *err)
{
    return nbt_set_field(f, nid, 2, bid_sub, err);
}
