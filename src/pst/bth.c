/*
 * bth.c — BTree-on-Heap: a sorted tree of fixed-size records stored in HN allocations.
 *
 *     BTHHEADER (one 8-byte allocation)
 *     0 bType 0xB5   1 cbKey (2/4/8/16)   2 cbEnt (1..32)   3 bIdxLevels   4 hidRoot(4)
 *
 *     node = one allocation holding records back to back; count = size / record size
 *       level 0 (leaf):      key (cbKey) | data (cbEnt)
 *       level > 0:           key (cbKey) | hidNextLevel (4)    key = smallest key of the child
 *
 * Keys compare as unsigned little-endian integers. hidRoot 0 is an empty tree.
 *
 * Invariants checked while iterating: each node's size is a whole number of records and not
 * zero, keys ascend strictly over the whole tree, an intermediate key equals the first key of
 * its child, and the total number of records visited never exceeds what the heap's bytes can
 * hold (so a node referenced twice cannot make the walk run away). bIdxLevels is at most 15.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BTH_LEVELS_MAX 15u

struct nth_pst_bth {
    const nth_pst_hn *hn;
    uint32_t header_hid;
    unsigned key_size;
    unsigned data_size;
    unsigned levels;
    uint32_t root;
};

/* <0, 0, >0 as a is below, equal to or above b (unsigned little-endian of n bytes). */
static int key_cmp(const uint8_t *a, const uint8_t *b, unsigned n)
{
    for (unsigned i = n; i-- > 0;)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

nth_pst_status nth_pst_bth_open(const nth_pst_hn *hn, uint32_t hid, nth_pst_bth **out,
                                nth_pst_error *err)
{
    *out = NULL;
    const uint8_t *h;
    size_t n;
    nth_pst_status st = nth_pst_hn_get(hn, hid, &h, &n, err);
    if (st) return st;
    uint64_t at = hn->pages[nth_pst_hid_page(hid)].ib;
    if (n != 8)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at,
                        "HID 0x%X holds %zu bytes, a BTHHEADER has 8", hid, n);
    if (h[0] != NTH_PST_BTH_TYPE)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "bType 0x%02X is not 0xB5", h[0]);
    unsigned key = h[1], data = h[2], levels = h[3];
    if (key != 2 && key != 4 && key != 8 && key != 16)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "cbKey %u is not 2, 4, 8 or 16", key);
    if (data < 1 || data > 32)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "cbEnt %u is not in 1..32", data);
    if (levels > BTH_LEVELS_MAX)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "bIdxLevels %u is too deep", levels);
    nth_pst_bth *b = calloc(1, sizeof *b);
    if (!b) return pst_fail(err, NTH_PST_E_NO_MEMORY, "BTHHEADER", at, "out of memory");
    b->hn = hn;
    b->header_hid = hid;
    b->key_size = key;
    b->data_size = data;
    b->levels = levels;
    b->root = rd32(h + 4);
    *out = b;
    return NTH_PST_OK;
}

void nth_pst_bth_close(nth_pst_bth *bth) { free(bth); }

void nth_pst_bth_shape(const nth_pst_bth *bth, unsigned *key_size, unsigned *data_size,
                       unsigned *levels, uint32_t *root)
{
    if (key_size) *key_size = bth->key_size;
    if (data_size) *data_size = bth->data_size;
    if (levels) *levels = bth->levels;
    if (root) *root = bth->root;
}

/* The records of the node at hid for `level`. */
static nth_pst_status node_records(const nth_pst_bth *b, uint32_t hid, unsigned level,
                                   const uint8_t **recs, size_t *count, size_t *rec_size,
                                   nth_pst_error *err)
{
    size_t n;
    nth_pst_status st = nth_pst_hn_get(b->hn, hid, recs, &n, err);
    if (st) return st;
    *rec_size = b->key_size + (level ? 4u : b->data_size);
    uint64_t at = b->hn->pages[nth_pst_hid_page(hid)].ib;
    if (n == 0 || n % *rec_size)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTH node", at,
                        "HID 0x%X at level %u holds %zu bytes, not a whole number of %zu-byte "
                        "records", hid, level, n, *rec_size);
    *count = n / *rec_size;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_bth_lookup(const nth_pst_bth *b, const uint8_t *key, const uint8_t **data,
                                  nth_pst_error *err)
{
    *data = NULL;
    uint32_t hid = b->root;
    for (unsigned level = b->levels;; level--) {
        if (hid == 0) break;
        const uint8_t *recs;
        size_t count, rs;
        nth_pst_status st = node_records(b, hid, level, &recs, &count, &rs, err);
        if (st) return st;
        size_t lo = 0, hi = count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (key_cmp(recs + mid * rs, key, b->key_size) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0) break;
        const uint8_t *r = recs + (lo - 1) * rs;
        if (level == 0) {
            if (key_cmp(r, key, b->key_size) != 0) break;
            *data = r + b->key_size;
            return NTH_PST_OK;
        }
        hid = rd32(r + b->key_size);
    }
    return pst_fail(err, NTH_PST_E_NOT_FOUND, "BTH", NTH_PST_NO_OFFSET, "key not in the tree");
}

typedef struct iter {
    const nth_pst_bth *b;
    nth_pst_bth_fn fn;
    void *ctx;
    uint8_t last[16];
    bool have_last;
    size_t budget;
    bool stopped;
} iter;

static nth_pst_status visit(iter *it, uint32_t hid, unsigned level, const uint8_t *expect_first,
                            nth_pst_error *err)
{
    const nth_pst_bth *b = it->b;
    const uint8_t *recs;
    size_t count, rs;
    nth_pst_status st = node_records(b, hid, level, &recs, &count, &rs, err);
    if (st) return st;
    uint64_t at = b->hn->pages[nth_pst_hid_page(hid)].ib;
    if (count > it->budget)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTH node", at,
                        "more records than the heap holds: a node is referenced twice");
    it->budget -= count;
    if (expect_first && key_cmp(recs, expect_first, b->key_size) != 0)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTH node", at,
                        "HID 0x%X: first key differs from its parent's index key", hid);
    for (size_t i = 0; i < count && !it->stopped; i++) {
        const uint8_t *r = recs + i * rs;
        if (level) {
            st = visit(it, rd32(r + b->key_size), level - 1, r, err);
            if (st) return st;
            continue;
        }
        if (it->have_last && key_cmp(r, it->last, b->key_size) <= 0)
            return pst_fail(err, NTH_PST_E_CORRUPT, "BTH node", at,
                            "HID 0x%X record %zu: keys do not ascend", hid, i);
        memcpy(it->last, r, b->key_size);
        it->have_last = true;
        if (it->fn && it->fn(it->ctx, r, r + b->key_size)) it->stopped = true;
    }
    return NTH_PST_OK;
}

nth_pst_status nth_pst_bth_foreach(const nth_pst_bth *b, nth_pst_bth_fn fn, void *ctx,
                                   nth_pst_error *err)
{
    if (b->root == 0) return NTH_PST_OK;
    size_t total = 0;
    for (size_t i = 0; i < b->hn->count; i++) total += b->hn->pages[i].size;
    iter it = {.b = b, .fn = fn, .ctx = ctx, .budget = total / (b->key_size + 1u) + 1};
    return visit(&it, b->root, b->levels, NULL, err);
}
