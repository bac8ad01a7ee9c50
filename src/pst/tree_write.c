/*
 * tree_write.c — writing a heap's pages as a node's data tree in a PST held in memory, and
 * releasing the tree it replaces.
 *
 *     one page:      NBTENTRY.bidData ──> data block (new BID, new place)
 *     several pages: NBTENTRY.bidData ──> XBLOCK (new BID | 2) ──> block page 0, 1, ... n-1
 *                    lcbTotal = sum of the pages' sizes; page i is child i
 *
 * Copy on write, page by page: a page whose bytes equal the block the old tree holds at the
 * same index keeps that block (one more reference: cRef + 1); any other page is written as a
 * new data block (bidNextB, space from the AMap, encoded with bCryptMethod -- cyclic keyed by
 * the new BID -- cRef 2) and entered into the BBT. A block the old tree shared with other
 * nodes is therefore never written over: the edited node gets its own copy.
 *
 * Release walks the old tree: the node's reference to its root goes (cRef - 1); a block left
 * with no reference leaves the BBT and its bytes are zeroed and freed, and when it is an
 * XBLOCK/XXBLOCK its children lose the reference it held, in turn. Depth is at most two
 * internal levels, as reading allows.
 */
#include <stdlib.h>
#include <string.h>

#include "edit.h"

#define BTYPE_XBLOCK 0x01

nth_pst_status pst_block_new(nth_pst_file *f, bool internal, const uint8_t *data, size_t size,
                             uint64_t *bid, nth_pst_error *err)
{
    uint64_t ib;
    uint8_t *enc = malloc(size ? size : 1);
    if (!enc) return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", NTH_PST_NO_OFFSET, "out of memory");
    memcpy(enc, data, size);
    nth_pst_status st = pst_next_block_bid(f, internal, bid, err);
    if (!st) st = pst_space_alloc(f, pst_block_total(&f->lay, size), false, &ib, err);
    if (!st) {
        /* internal blocks are never encoded */
        if (!internal && f->info.crypt == NTH_PST_CRYPT_PERMUTE)
            nth_pst_permute_encode(enc, size);
        else if (!internal && f->info.crypt == NTH_PST_CRYPT_CYCLIC)
            nth_pst_cyclic(enc, size, (uint32_t)*bid);
        pst_block_put(f, ib, *bid, enc, size);
        st = pst_bbt_insert(f, *bid, ib, (uint16_t)size, PST_BLOCK_REF_ONE, err);
    }
    free(enc);
    return st;
}

nth_pst_status pst_xblock_new(nth_pst_file *f, const uint64_t *bids, size_t n, uint64_t total,
                              uint64_t *bid, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    size_t cb = 8 + n * L->id_size;
    if (cb > L->block_data_max || total > UINT32_MAX)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "XBLOCK", NTH_PST_NO_OFFSET,
                        "%zu blocks (%llu bytes) need an XXBLOCK, which this library does not "
                        "write", n, (unsigned long long)total);
    uint8_t *x = calloc(1, cb);
    if (!x) return pst_fail(err, NTH_PST_E_NO_MEMORY, "XBLOCK", NTH_PST_NO_OFFSET, "out of memory");
    x[0] = BTYPE_XBLOCK;
    x[1] = 1;
    wr16(x + 2, (uint16_t)n);
    wr32(x + 4, (uint32_t)total);
    for (size_t i = 0; i < n; i++) wr_id(L, x + 8 + i * L->id_size, bids[i]);
    nth_pst_status st = pst_block_new(f, true, x, cb, bid, err);
    free(x);
    return st;
}

nth_pst_status pst_tree_write(nth_pst_file *f, const nth_pst_hn *hn, uint64_t old_bid,
                              uint64_t *new_bid, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    size_t n = hn->count;
    size_t xmax = (L->block_data_max - 8) / L->id_size;
    if (n == 0 || n > xmax)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "XBLOCK", NTH_PST_NO_OFFSET,
                        "a heap of %zu pages needs an XXBLOCK, which this library does not write",
                        n);
    nth_pst_blocks old = {0};
    nth_pst_status st = old_bid ? nth_pst_read_data(f, old_bid, &old, err) : NTH_PST_OK;
    if (st) return st;
    uint64_t *bids = calloc(n, sizeof *bids);
    if (!bids) {
        nth_pst_blocks_free(&old);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", NTH_PST_NO_OFFSET, "out of memory");
    }
    /* which old blocks survive, decided before anything moves */
    for (size_t i = 0; i < n; i++) {
        const pst_hn_pagebuf *pg = &hn->pages[i];
        if (i < old.count && old.size[i] == pg->size && memcmp(old.data[i], pg->data, pg->size) == 0)
            bids[i] = old.bid[i];
    }
    nth_pst_blocks_free(&old);
    uint64_t total = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const pst_hn_pagebuf *pg = &hn->pages[i];
        total += pg->size;
        st = bids[i] ? pst_bbt_addref(f, bids[i], err)
                     : pst_block_new(f, false, pg->data, pg->size, &bids[i], err);
    }
    if (!st && n == 1)
        *new_bid = bids[0];
    else if (!st)
        st = pst_xblock_new(f, bids, n, total, new_bid, err);
    free(bids);
    pst_cache_free(&f->cache); /* blocks read before the edit may be stale */
    return st;
}

/* Children of the internal block bid (an XBLOCK or XXBLOCK), read from the image. */
static nth_pst_status children(nth_pst_file *f, uint64_t bid, uint64_t **out, size_t *count,
                               unsigned *level, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    nth_pst_block_entry be;
    const uint8_t *d;
    nth_pst_status st = pst_internal_block(f, bid, 8, "XBLOCK", &be, &d, err);
    if (st) return st;
    size_t n = rd16(d + 2);
    if (d[0] != BTYPE_XBLOCK || d[1] < 1 || d[1] > 2 || 8 + n * L->id_size > be.cb)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "XBLOCK", be.ib,
                        "block 0x%llx is not a data tree's XBLOCK/XXBLOCK", (unsigned long long)bid);
    *level = d[1];
    *count = n;
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) return pst_fail(err, NTH_PST_E_NO_MEMORY, "XBLOCK", be.ib, "out of memory");
    for (size_t i = 0; i < n; i++) (*out)[i] = rd_id(L, d + 8 + i * L->id_size);
    return NTH_PST_OK;
}

static nth_pst_status release(nth_pst_file *f, uint64_t bid, int depth, nth_pst_error *err)
{
    uint64_t *kids = NULL;
    size_t count = 0;
    unsigned level = 0;
    nth_pst_status st = NTH_PST_OK;
    if (bid & 2) {
        if (depth > 2)
            return pst_fail(err, NTH_PST_E_CORRUPT, "XBLOCK", NTH_PST_NO_OFFSET,
                            "data tree deeper than an XXBLOCK");
        st = children(f, bid, &kids, &count, &level, err);
        if (st) return st;
    }
    bool gone = false;
    st = pst_bbt_unref(f, bid, &gone, err);
    for (size_t i = 0; !st && gone && i < count; i++) st = release(f, kids[i], depth + 1, err);
    free(kids);
    return st;
}

nth_pst_status pst_tree_release(nth_pst_file *f, uint64_t bid, nth_pst_error *err)
{
    nth_pst_status st = bid ? release(f, bid, 0, err) : NTH_PST_OK;
    pst_cache_free(&f->cache);
    return st;
}
