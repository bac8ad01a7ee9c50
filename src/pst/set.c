/*
 * set.c — setting one property of a node's Property Context in a file (nth_pst_set_property),
 * whatever the value's size: small values in the PC's heap, large ones in a subnode.
 *
 *     NBTENTRY nid ── bidData ──> PC heap: BTH record  id | type | HNID
 *                 └─ bidSub ──> SLBLOCK: ... | HNID -> bidData of the value | ...
 *                                                      └─> data block, or XBLOCK -> blocks
 *
 * A value of a variable-size type longer than one heap allocation (3580 bytes) is written as a
 * subnode of the node: a fresh NID of type NID_TYPE_LTP (as Outlook numbers them: index 0x400
 * and up, above every subnode index of the node), the value as a new data tree, and a new
 * SLBLOCK (an SIBLOCK over SLBLOCKs past 340/681 entries) holding the node's other subnodes
 * plus this one; the record's HNID is that NID.
 * A value that was in a subnode and is replaced (by a value of any size) drops its subnode
 * from the new SLBLOCK, unless another record of the PC names the same subnode. Every block
 * the old tree no longer references is released through its cRef.
 *
 * Steps, on the image in memory (a crash at any of them leaves the file untouched):
 *     9  the value's data tree written (large values)
 *    10  the new SLBLOCK written          (when the subnode tree changes)
 *    11  the NBT entry's bidSub repointed
 *    12  the old subnode tree released
 *     6, 7, 8  the heap written (write.c: new data tree, NBT bidData, old tree released)
 * then the header stored, the heap and the property read back and compared with what was
 * asked, the image validated, and the file replaced atomically (write.c, steps 1-5).
 */
#include <string.h>

#include "edit.h"

/* Reads the property back through the PC reader and compares it with what was asked. */
static nth_pst_status check_value(nth_pst_file *f, uint32_t nid, uint16_t id, uint16_t type,
                                  const void *value, size_t size, nth_pst_error *err)
{
    nth_pst_node node;
    nth_pst_pc *pc;
    nth_pst_status st = nth_pst_nbt_lookup(f, nid, &node, err);
    if (!st) st = nth_pst_pc_open(f, &node, &pc, err);
    if (st) return st;
    const nth_pst_prop *p = nth_pst_pc_find(pc, id);
    bool same = p && p->type == type && p->size == size && (size == 0 || memcmp(p->data, value, size) == 0);
    nth_pst_pc_close(pc);
    pst_cache_free(&f->cache);
    if (!same)
        return pst_fail(err, NTH_PST_E_CORRUPT, "PC", NTH_PST_NO_OFFSET,
                        "the edited file does not read back property 0x%04X as written", id);
    return NTH_PST_OK;
}

/* The edit on the image. */
static nth_pst_status edit(nth_pst_file *f, uint32_t nid, uint16_t id, uint16_t type,
                           const void *value, size_t size, nth_pst_error *err)
{
    nth_pst_node node;
    nth_pst_status st = pst_node_with_data(f, nid, &node, err);
    if (st) return st;
    nth_pst_hn *hn;
    if ((st = nth_pst_hn_load(f, node.bid_data, &hn, err))) return st;
    pst_cache_free(&f->cache);
    bool found = false;
    uint16_t old_type = 0;
    uint32_t old_hnid = 0, drop = 0, sub_nid = 0;
    st = pst_pc_lookup(hn, id, &found, &old_type, &old_hnid, err);
    if (!st && found && !pst_pc_inline_size(old_type) && (old_hnid & 0x1F)) {
        size_t uses = 0;
        st = pst_pc_hnid_uses(hn, old_hnid, &uses, err);
        if (uses == 1) drop = old_hnid;
    }
    bool big = !pst_pc_inline_size(type) && size > NTH_PST_HN_ALLOC_MAX;
    uint64_t value_bid = 0, new_sub = node.bid_sub;
    if (!st && big) {
        st = pst_sub_fresh_nid(f, node.bid_sub, &sub_nid, err);
        if (!st) st = pst_stream_write(f, value, size, &value_bid, err);
        if (!st) pst_crash_point(9);
    }
    if (!st && (big || drop)) {
        st = pst_sub_rewrite(f, node.bid_sub, drop, sub_nid, value_bid, &new_sub, err);
        if (!st) pst_crash_point(10);
        if (!st) st = pst_nbt_set_sub(f, nid, new_sub, err);
        if (!st) pst_crash_point(11);
        if (!st) st = pst_sub_release(f, node.bid_sub, err);
        if (!st) pst_crash_point(12);
    }
    if (!st) st = pst_pc_put(hn, id, type, value, size, sub_nid, err);
    if (!st) st = pst_heap_patch(f, nid, hn, err);
    if (!st) {
        pst_header_store(f);
        st = pst_heap_verify(f, nid, hn, err);
    }
    nth_pst_hn_close(hn);
    if (!st) st = check_value(f, nid, id, type, value, size, err);
    return st;
}

nth_pst_status nth_pst_set_property(const char *path, uint32_t nid, uint16_t id, uint16_t type,
                                    const void *value, size_t size, nth_pst_error *err)
{
    nth_pst_file *f;
    unsigned mode;
    nth_pst_status st = pst_image_open(path, &f, &mode, err);
    if (st) return st;
    st = edit(f, nid, id, type, value, size, err);
    if (!st) st = pst_must_be_sound(f, "the edited file", err);
    if (!st) st = pst_image_commit(f, path, mode, err);
    nth_pst_close(f);
    return st;
}
