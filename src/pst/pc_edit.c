/*
 * pc_edit.c — setting one property of a Property Context held in an HN (nth_pst_pc_set).
 *
 *     HN ── hidUserRoot ──> BTHHEADER (B5 02 06 00 hidRoot)
 *                              └─ hidRoot ──> leaf: | id type hnid | id type hnid | ...  (8 bytes each,
 *                                                                                    ascending id)
 *     value: inline in hnid (Int16, Int32, Float32, ErrorCode, Boolean), HNID 0 when empty,
 *            else an allocation of the HN (at most 3580 bytes)
 *
 * Procedure (the HN allocator of hn_write.c does the page work):
 *   1. read the leaf; find the record of `id` (or its insertion point);
 *   2. the value's old allocation, if any, is reallocated to the new bytes (its HID may
 *      change), freed when the new value is inline or empty; a new one is allocated otherwise;
 *   3. the leaf is reallocated with the record updated or inserted (its HID may change), and
 *      then the BTHHEADER is rewritten (same size, in place) if hidRoot moved.
 * Limits (reported as NTH_PST_E_UNSUPPORTED, nothing changed): a BTH with index levels, a
 * value of more than 3580 bytes, or an old value in a subnode.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

nth_pst_status nth_pst_pc_set(nth_pst_hn *hn, uint16_t id, uint16_t type, const void *value,
                              size_t size, nth_pst_error *err)
{
    uint64_t at = hn->pages[0].ib;
    if (nth_pst_hn_client_sig(hn) != NTH_PST_CLIENT_PC)
        return pst_fail(err, NTH_PST_E_INVALID, "HNHDR", at, "the heap is not a Property Context");
    size_t isz = pst_pc_inline_size(type);
    if (isz && size != isz)
        return pst_fail(err, NTH_PST_E_INVALID, "PC", at,
                        "a value of type 0x%04X takes %zu bytes, not %zu", type, isz, size);
    if (!isz && size > NTH_PST_HN_ALLOC_MAX)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "PC", at,
                        "a value of %zu bytes needs a subnode, which this library does not write",
                        size);
    uint32_t header = nth_pst_hn_user_root(hn);
    nth_pst_bth *bth;
    nth_pst_status st = nth_pst_bth_open(hn, header, &bth, err);
    if (st) return st;
    unsigned ks, ds, levels;
    uint32_t root;
    nth_pst_bth_shape(bth, &ks, &ds, &levels, &root);
    nth_pst_bth_close(bth);
    if (ks != 2 || ds != 6)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "not a PC's BTH (cbKey %u, cbEnt %u)",
                        ks, ds);
    if (levels)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "BTHHEADER", at,
                        "the PC's BTH has %u index levels; only a single leaf is edited", levels);
    /* 1. the leaf as it is, plus room for one more record */
    const uint8_t *leaf = NULL;
    size_t leaf_size = 0;
    if (root && (st = nth_pst_hn_get(hn, root, &leaf, &leaf_size, err))) return st;
    if (leaf_size % 8)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTH node", at, "leaf of %zu bytes", leaf_size);
    uint8_t *recs = malloc(leaf_size + 8);
    if (!recs) return pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", at, "out of memory");
    if (leaf_size) memcpy(recs, leaf, leaf_size);
    size_t n = leaf_size / 8, k = 0;
    while (k < n && rd16(recs + 8 * k) < id) k++;
    bool found = k < n && rd16(recs + 8 * k) == id;
    uint32_t old_hnid = 0;
    if (found) {
        uint16_t old_type = rd16(recs + 8 * k + 2);
        old_hnid = rd32(recs + 8 * k + 4);
        if (pst_pc_inline_size(old_type)) old_hnid = 0; /* the old value was inline: nothing to free */
        if (old_hnid & 0x1F) {
            free(recs);
            return pst_fail(err, NTH_PST_E_UNSUPPORTED, "PC", at,
                            "property 0x%04X is stored in subnode 0x%X, which this library does "
                            "not rewrite", id, old_hnid);
        }
    }
    /* 2. the value */
    uint32_t hnid = 0;
    if (isz) {
        uint8_t b[4] = {0};
        memcpy(b, value, size);
        hnid = rd32(b);
        if (old_hnid) st = nth_pst_hn_free(hn, old_hnid, err);
    } else if (size == 0) {
        if (old_hnid) st = nth_pst_hn_free(hn, old_hnid, err);
    } else {
        st = nth_pst_hn_realloc(hn, old_hnid, value, size, &hnid, err);
    }
    if (st) {
        free(recs);
        return st;
    }
    /* 3. the record, then the leaf and the header */
    if (!found) {
        memmove(recs + 8 * (k + 1), recs + 8 * k, 8 * (n - k));
        n++;
    }
    wr16(recs + 8 * k, id);
    wr16(recs + 8 * k + 2, type);
    wr32(recs + 8 * k + 4, hnid);
    uint32_t new_root;
    st = nth_pst_hn_realloc(hn, root, recs, 8 * n, &new_root, err);
    free(recs);
    if (st || new_root == root) return st;
    const uint8_t *h;
    size_t hsize;
    if ((st = nth_pst_hn_get(hn, header, &h, &hsize, err))) return st;
    uint8_t copy[8];
    if (hsize != 8) return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "%zu bytes", hsize);
    memcpy(copy, h, 8);
    wr32(copy + 4, new_root);
    uint32_t same;
    return nth_pst_hn_realloc(hn, header, copy, 8, &same, err);
}
