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
 * pst_pc_put (for nth_pst_set_property) also takes a value kept in a subnode: the record's
 * HNID is then the subnode NID the caller wrote the value under (nothing stored in the heap,
 * an old allocation freed), and an old subnode HNID is replaced (the caller releases it).
 *
 * Limits (reported as NTH_PST_E_UNSUPPORTED, nothing changed): a BTH with index levels; for
 * nth_pst_pc_set also a value of more than 3580 bytes, or an old value in a subnode.
 */
#include <stdlib.h>
#include <string.h>

#include "edit.h"

/* The PC's single BTH leaf: hidRoot (0 when empty) and its bytes. */
static nth_pst_status pc_leaf(const nth_pst_hn *hn, uint32_t *root, const uint8_t **leaf,
                              size_t *leaf_size, nth_pst_error *err)
{
    uint64_t at = hn->pages[0].ib;
    if (nth_pst_hn_client_sig(hn) != NTH_PST_CLIENT_PC)
        return pst_fail(err, NTH_PST_E_INVALID, "HNHDR", at, "the heap is not a Property Context");
    nth_pst_bth *bth;
    nth_pst_status st = nth_pst_bth_open(hn, nth_pst_hn_user_root(hn), &bth, err);
    if (st) return st;
    unsigned ks, ds, levels;
    nth_pst_bth_shape(bth, &ks, &ds, &levels, root);
    nth_pst_bth_close(bth);
    if (ks != 2 || ds != 6)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at, "not a PC's BTH (cbKey %u, cbEnt %u)",
                        ks, ds);
    if (levels)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "BTHHEADER", at,
                        "the PC's BTH has %u index levels; only a single leaf is edited", levels);
    *leaf = NULL;
    *leaf_size = 0;
    if (*root && (st = nth_pst_hn_get(hn, *root, leaf, leaf_size, err))) return st;
    if (*leaf_size % 8)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTH node", at, "leaf of %zu bytes", *leaf_size);
    return NTH_PST_OK;
}

nth_pst_status pst_pc_lookup(const nth_pst_hn *hn, uint16_t id, bool *found, uint16_t *type,
                             uint32_t *hnid, nth_pst_error *err)
{
    uint32_t root;
    const uint8_t *leaf;
    size_t size;
    nth_pst_status st = pc_leaf(hn, &root, &leaf, &size, err);
    *found = false;
    for (size_t k = 0; !st && k < size / 8; k++) {
        if (rd16(leaf + 8 * k) != id) continue;
        *found = true;
        *type = rd16(leaf + 8 * k + 2);
        *hnid = rd32(leaf + 8 * k + 4);
    }
    return st;
}

nth_pst_status pst_pc_hnid_uses(const nth_pst_hn *hn, uint32_t hnid, size_t *uses,
                                nth_pst_error *err)
{
    uint32_t root;
    const uint8_t *leaf;
    size_t size;
    nth_pst_status st = pc_leaf(hn, &root, &leaf, &size, err);
    *uses = 0;
    for (size_t k = 0; !st && k < size / 8; k++)
        if (!pst_pc_inline_size(rd16(leaf + 8 * k + 2)) && rd32(leaf + 8 * k + 4) == hnid)
            ++*uses;
    return st;
}

/* The work of nth_pst_pc_set and pst_pc_put; `subs` allows values in subnodes. */
static nth_pst_status pc_put(nth_pst_hn *hn, uint16_t id, uint16_t type, const void *value,
                             size_t size, uint32_t sub_nid, bool subs, nth_pst_error *err)
{
    uint64_t at = hn->pages[0].ib;
    if (nth_pst_hn_client_sig(hn) != NTH_PST_CLIENT_PC)
        return pst_fail(err, NTH_PST_E_INVALID, "HNHDR", at, "the heap is not a Property Context");
    size_t isz = pst_pc_inline_size(type);
    if (size && !value) return pst_fail(err, NTH_PST_E_INVALID, "PC", at, "a value of %zu bytes at NULL", size);
    /* What validate would refuse is never written: an undefined type, a fixed-size type (inline
     * ones included) of another size, a multi-valued layout that does not hold. */
    char why[128];
    if (!pst_value_fits(type, value, size, why, sizeof why))
        return pst_fail(err, NTH_PST_E_INVALID, "PC", at, "a value of type 0x%04X: %s", type, why);
    if (sub_nid && (isz || (sub_nid & 0x1F) == 0))
        return pst_fail(err, NTH_PST_E_INVALID, "PC", at,
                        "0x%X is no subnode NID for a value of type 0x%04X", sub_nid, type);
    if (!isz && !sub_nid && size > NTH_PST_HN_ALLOC_MAX)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "PC", at,
                        "a value of %zu bytes does not fit a heap allocation (at most %u): it "
                        "needs a subnode (nth_pst_set_property writes one)", size,
                        (unsigned)NTH_PST_HN_ALLOC_MAX);
    uint32_t header = nth_pst_hn_user_root(hn), root;
    const uint8_t *leaf;
    size_t leaf_size;
    nth_pst_status st = pc_leaf(hn, &root, &leaf, &leaf_size, err);
    if (st) return st;
    /* 1. the leaf as it is, plus room for one more record */
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
        if ((old_hnid & 0x1F) && subs) {
            old_hnid = 0; /* in a subnode: the caller releases it */
        } else if (old_hnid & 0x1F) {
            free(recs);
            return pst_fail(err, NTH_PST_E_UNSUPPORTED, "PC", at,
                            "property 0x%04X is stored in subnode 0x%X, which this library does "
                            "not rewrite", id, old_hnid);
        }
    }
    /* 2. the value */
    uint32_t hnid = 0;
    if (sub_nid) {
        hnid = sub_nid;
        if (old_hnid) st = nth_pst_hn_free(hn, old_hnid, err);
    } else if (isz) {
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

nth_pst_status nth_pst_pc_set(nth_pst_hn *hn, uint16_t id, uint16_t type, const void *value,
                              size_t size, nth_pst_error *err)
{
    return pc_put(hn, id, type, value, size, 0, false, err);
}

nth_pst_status pst_pc_put(nth_pst_hn *hn, uint16_t id, uint16_t type, const void *value,
                          size_t size, uint32_t sub_nid, nth_pst_error *err)
{
    return pc_put(hn, id, type, value, size, sub_nid, true, err);
}
