/*
 * pc.c — Property Context: an HN (bClientSig 0xBC) whose hidUserRoot is a BTH with 2-byte keys
 * (property ids) and 6-byte records.
 *
 *     PC BTH leaf record (8 bytes)
 *     0 wPropId (key)   2 wPropType   4 dwValueHnid
 *
 *     dwValueHnid, by type:
 *       Integer16/32, Floating32, ErrorCode, Boolean   the value itself (low 2/4/4/4/1 bytes)
 *       everything else                                 an HNID:
 *            0                        empty value
 *            low 5 bits 0             HID of an allocation of this HN
 *            otherwise                NID of a subnode of this node (its data tree)
 *
 * Invariant: after nth_pst_pc_open every property's data/size is resolved (subnode values are
 * read into buffers the PC owns) and properties are in ascending id order, as the BTH gives
 * them.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct nth_pst_pc {
    nth_pst_hn *owned_hn;
    const nth_pst_hn *hn;
    nth_pst_prop *props;
    size_t count, cap;
    uint8_t **buffers;
    size_t nbuffers;
    bool out_of_memory;
};

static int collect(void *ctx, const uint8_t *key, const uint8_t *data)
{
    nth_pst_pc *pc = ctx;
    if (pc->count == pc->cap) {
        size_t cap = pc->cap ? pc->cap * 2 : 16;
        nth_pst_prop *p = realloc(pc->props, cap * sizeof *p);
        if (!p) {
            pc->out_of_memory = true;
            return 1;
        }
        pc->props = p;
        pc->cap = cap;
    }
    nth_pst_prop *p = &pc->props[pc->count++];
    memset(p, 0, sizeof *p);
    p->id = rd16(key);
    p->type = rd16(data);
    p->hnid = rd32(data + 2);
    return 0;
}

static nth_pst_status resolve(nth_pst_pc *pc, nth_pst_file *file, const nth_pst_node *node,
                              nth_pst_error *err)
{
    nth_pst_node *subs = NULL;
    size_t nsubs = 0;
    bool subs_read = false;
    const nth_pst_prop **loaded = NULL; /* per subnode: the property that read it */
    nth_pst_status st = NTH_PST_OK;
    uint64_t at = pc->hn->pages[0].ib;
    for (size_t i = 0; i < pc->count && !st; i++) {
        nth_pst_prop *p = &pc->props[i];
        size_t isz = pst_pc_inline_size(p->type);
        if (isz) {
            p->where = NTH_PST_WHERE_INLINE;
            wr32(p->inline_bytes, p->hnid);
            p->data = p->inline_bytes;
            p->size = isz;
        } else if (p->hnid == 0) {
            p->where = NTH_PST_WHERE_EMPTY;
        } else if ((p->hnid & 0x1F) == 0) {
            p->where = NTH_PST_WHERE_HID;
            nth_pst_error e;
            if (nth_pst_hn_get(pc->hn, p->hnid, &p->data, &p->size, &e))
                st = pst_fail(err, NTH_PST_E_CORRUPT, "PC", at, "property 0x%04X: %s", p->id,
                              e.message);
        } else {
            p->where = NTH_PST_WHERE_SUBNODE;
            if (!file || !node) {
                st = pst_fail(err, NTH_PST_E_NOT_FOUND, "PC", at,
                              "property 0x%04X is in subnode 0x%X but the PC has no node", p->id,
                              p->hnid);
                break;
            }
            if (!subs_read) {
                st = nth_pst_read_subnodes(file, node->bid_sub, &subs, &nsubs, err);
                if (st) break;
                subs_read = true;
                loaded = calloc(nsubs ? nsubs : 1, sizeof *loaded);
                if (!loaded) {
                    st = pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", at, "out of memory");
                    break;
                }
            }
            size_t lo = 0, hi = nsubs;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (subs[mid].nid < p->hnid)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == nsubs || subs[lo].nid != p->hnid) {
                st = pst_fail(err, NTH_PST_E_CORRUPT, "PC", at,
                              "property 0x%04X names subnode 0x%X, which the node lacks", p->id,
                              p->hnid);
                break;
            }
            if (loaded[lo]) { /* several properties may share a subnode: read it once */
                p->data = loaded[lo]->data;
                p->size = loaded[lo]->size;
                continue;
            }
            uint8_t **bufs = realloc(pc->buffers, (pc->nbuffers + 1) * sizeof *bufs);
            if (!bufs) {
                st = pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", at, "out of memory");
                break;
            }
            pc->buffers = bufs;
            uint8_t *buf;
            size_t size;
            st = nth_pst_read_stream(file, subs[lo].bid_data, &buf, &size, err);
            if (st) break;
            pc->buffers[pc->nbuffers++] = buf;
            p->data = buf;
            p->size = size;
            loaded[lo] = p;
        }
    }
    free(subs);
    free(loaded);
    return st;
}

static nth_pst_status build(nth_pst_pc *pc, nth_pst_file *file, const nth_pst_node *node,
                            nth_pst_error *err)
{
    const nth_pst_hn *hn = pc->hn;
    uint64_t at = hn->pages[0].ib;
    if (nth_pst_hn_client_sig(hn) != NTH_PST_CLIENT_PC)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HNHDR", at,
                        "bClientSig 0x%02X: the heap is not a Property Context (0xBC)",
                        nth_pst_hn_client_sig(hn));
    nth_pst_bth *bth;
    nth_pst_status st = nth_pst_bth_open(hn, nth_pst_hn_user_root(hn), &bth, err);
    if (st) return st;
    unsigned ks, ds;
    nth_pst_bth_shape(bth, &ks, &ds, NULL, NULL);
    if (ks != 2 || ds != 6) {
        nth_pst_bth_close(bth);
        return pst_fail(err, NTH_PST_E_CORRUPT, "BTHHEADER", at,
                        "a PC needs cbKey 2 and cbEnt 6, not %u and %u", ks, ds);
    }
    st = nth_pst_bth_foreach(bth, collect, pc, err);
    nth_pst_bth_close(bth);
    if (st) return st;
    if (pc->out_of_memory) return pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", at, "out of memory");
    return resolve(pc, file, node, err);
}

static nth_pst_status finish(nth_pst_pc *pc, nth_pst_status st, nth_pst_pc **out)
{
    if (st) {
        nth_pst_pc_close(pc);
        return st;
    }
    *out = pc;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_pc_open(nth_pst_file *file, const nth_pst_node *node, nth_pst_pc **out,
                               nth_pst_error *err)
{
    *out = NULL;
    nth_pst_pc *pc = calloc(1, sizeof *pc);
    if (!pc) return pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", NTH_PST_NO_OFFSET, "out of memory");
    nth_pst_status st = nth_pst_hn_load(file, node->bid_data, &pc->owned_hn, err);
    if (!st) {
        pc->hn = pc->owned_hn;
        st = build(pc, file, node, err);
    }
    return finish(pc, st, out);
}

nth_pst_status pst_pc_open_hn(nth_pst_file *file, const nth_pst_node *node, const nth_pst_hn *hn,
                              nth_pst_pc **out, nth_pst_error *err)
{
    *out = NULL;
    nth_pst_pc *pc = calloc(1, sizeof *pc);
    if (!pc) return pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", NTH_PST_NO_OFFSET, "out of memory");
    pc->hn = hn;
    return finish(pc, build(pc, file, node, err), out);
}

nth_pst_status nth_pst_pc_from_hn(const nth_pst_hn *hn, nth_pst_pc **out, nth_pst_error *err)
{
    *out = NULL;
    nth_pst_pc *pc = calloc(1, sizeof *pc);
    if (!pc) return pst_fail(err, NTH_PST_E_NO_MEMORY, "PC", NTH_PST_NO_OFFSET, "out of memory");
    pc->hn = hn;
    return finish(pc, build(pc, NULL, NULL, err), out);
}

void nth_pst_pc_close(nth_pst_pc *pc)
{
    if (!pc) return;
    for (size_t i = 0; i < pc->nbuffers; i++) free(pc->buffers[i]);
    free(pc->buffers);
    free(pc->props);
    nth_pst_hn_close(pc->owned_hn);
    free(pc);
}

const nth_pst_hn *nth_pst_pc_hn(const nth_pst_pc *pc) { return pc->hn; }

size_t nth_pst_pc_count(const nth_pst_pc *pc) { return pc->count; }

const nth_pst_prop *nth_pst_pc_at(const nth_pst_pc *pc, size_t index)
{
    return index < pc->count ? &pc->props[index] : NULL;
}

const nth_pst_prop *nth_pst_pc_find(const nth_pst_pc *pc, uint16_t id)
{
    size_t lo = 0, hi = pc->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pc->props[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pc->count && pc->props[lo].id == id ? &pc->props[lo] : NULL;
}
