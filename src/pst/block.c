/*
 * block.c — blocks, data trees (XBLOCK/XXBLOCK) and subnode trees (SLBLOCK/SIBLOCK).
 *
 * A block is cb data bytes, padding, then a trailer; its size on disk is the next multiple of
 * 64 of cb + trailer, at most 8192:
 *
 *     +----------------------------+---------+-------------------------------------------+
 *     | data (cb bytes)            | padding | BLOCKTRAILER                              |
 *     +----------------------------+---------+-------------------------------------------+
 *                                             ANSI (12): cb(2) wSig(2) bid(4) dwCRC(4)
 *                                             Unicode (16): cb(2) wSig(2) dwCRC(4) bid(8)
 *
 * Checks: cb equals the BBT entry's, the trailer BID equals the BID looked up, wSig equals
 * signature(ib, bid), dwCRC is the CRC of the cb bytes as stored. Data (external) blocks, BID
 * bit 1 clear, are then decoded with the file's bCryptMethod; internal blocks never are.
 *
 * Internal blocks:
 *
 *     XBLOCK / XXBLOCK           SLBLOCK / SIBLOCK
 *     0 btype = 0x01             0 btype = 0x02
 *     1 cLevel 1 = X, 2 = XX     1 cLevel 0 = SL, 1 = SI
 *     2 cEnt                     2 cEnt
 *     4 lcbTotal                 4 dwPadding (Unicode only)
 *     8 rgbid[cEnt]              8/4 SLENTRY nid bidData bidSub  (24/12 bytes)
 *                                    SIENTRY nid bid             (16/8 bytes)
 *
 * Invariants: a data tree is at most two internal levels deep, its leaves are data blocks, the
 * sizes of its leaves add up to lcbTotal, and no block appears twice in one tree (a repeat is
 * reported by the XBLOCK/XXBLOCK entry that repeats it). So a tree's leaves are distinct
 * blocks of the file: reading it costs at most the file's size, never a multiple of it.
 * Blocks come from the per-file cache (cache.c): each is read and decoded once per handle.
 * pst_data_first reads only the first leaf, for callers that test block 0 (bSig).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BTYPE_XBLOCK  0x01
#define BTYPE_SLBLOCK 0x02

static bool bid_internal(uint64_t bid) { return (bid & 2) != 0; }

nth_pst_status pst_block_read_uncached(nth_pst_file *f, uint64_t bid, uint8_t **data,
                                       size_t *size, uint64_t *ib, nth_pst_error *err)
{
    *data = NULL;
    *size = 0;
    *ib = 0;
    const pst_layout *L = &f->lay;
    nth_pst_block_entry be;
    nth_pst_status st = nth_pst_bbt_lookup(f, bid, &be, err);
    if (st) return st;
    *ib = be.ib;
    size_t total = ((size_t)be.cb + L->block_trailer + PST_BLOCK_ALIGN - 1) & ~(size_t)(PST_BLOCK_ALIGN - 1);
    if (total > PST_BLOCK_MAX)
        return pst_fail(err, NTH_PST_E_CORRUPT, "BBTENTRY", be.ib,
                        "block 0x%llx claims cb %u, more than a block holds",
                        (unsigned long long)bid, be.cb);
    uint8_t *buf = malloc(total);
    if (!buf) return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", be.ib, "out of memory");
    st = pst_read(f, be.ib, total, buf, "block", err);
    if (st) {
        free(buf);
        return st;
    }
    const uint8_t *t = buf + total - L->block_trailer;
    uint64_t trailer_at = be.ib + total - L->block_trailer;
    uint16_t cb = rd16(t), sig = rd16(t + 2);
    uint32_t crc;
    uint64_t tbid;
    if (L->unicode) {
        crc = rd32(t + 4);
        tbid = rd64(t + 8);
    } else {
        tbid = rd32(t + 4);
        crc = rd32(t + 8);
    }
    const char *why = NULL;
    char msg[160];
    if (cb != be.cb) {
        snprintf(msg, sizeof msg, "cb %u differs from the BBT entry's %u", cb, be.cb);
        why = msg;
    } else if ((tbid & ~(uint64_t)1) != (bid & ~(uint64_t)1)) {
        snprintf(msg, sizeof msg, "trailer BID 0x%llx, expected 0x%llx", (unsigned long long)tbid,
                 (unsigned long long)bid);
        why = msg;
    } else if (sig != nth_pst_block_signature(be.ib, tbid)) {
        snprintf(msg, sizeof msg, "wSig 0x%04X, expected 0x%04X", sig,
                 nth_pst_block_signature(be.ib, tbid));
        why = msg;
    } else if (nth_pst_crc(0, buf, cb) != crc) {
        snprintf(msg, sizeof msg, "dwCRC 0x%08X but the data gives 0x%08X", crc,
                 nth_pst_crc(0, buf, cb));
        why = msg;
    }
    if (why) {
        free(buf);
        return pst_fail(err, NTH_PST_E_CORRUPT, "BLOCKTRAILER", trailer_at, "block 0x%llx: %s",
                        (unsigned long long)bid, why);
    }
    if (!bid_internal(bid)) {
        if (f->info.crypt == NTH_PST_CRYPT_PERMUTE)
            nth_pst_permute_decode(buf, cb);
        else if (f->info.crypt == NTH_PST_CRYPT_CYCLIC)
            nth_pst_cyclic(buf, cb, (uint32_t)tbid);
    }
    *data = buf;
    *size = cb;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_read_block(nth_pst_file *f, uint64_t bid, uint8_t **data, size_t *size,
                                  nth_pst_error *err)
{
    *data = NULL;
    *size = 0;
    pst_block b;
    nth_pst_status st = pst_block_get(f, bid, &b, err);
    if (st) return st;
    uint8_t *copy = malloc(b.size ? b.size : 1);
    if (!copy) {
        pst_block_release(&b);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", b.ib, "out of memory");
    }
    memcpy(copy, b.data, b.size);
    *data = copy;
    *size = b.size;
    pst_block_release(&b);
    return NTH_PST_OK;
}

void nth_pst_blocks_free(nth_pst_blocks *b)
{
    for (size_t i = 0; i < b->count; i++) free(b->data[i]);
    free(b->data);
    free(b->size);
    free(b->bid);
    free(b->ib);
    memset(b, 0, sizeof *b);
}

typedef struct tree_state {
    nth_pst_file *f;
    nth_pst_blocks *out;
    size_t cap;
    pst_idset seen; /* every BID of this tree: a repeat is a cycle or an amplifying tree */
} tree_state;

static nth_pst_status push_block(tree_state *s, uint64_t bid, const pst_block *blk,
                                 nth_pst_error *err)
{
    nth_pst_blocks *b = s->out;
    if (b->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        uint8_t **d = realloc(b->data, cap * sizeof *d);
        if (d) b->data = d;
        size_t *z = realloc(b->size, cap * sizeof *z);
        if (z) b->size = z;
        uint64_t *i = realloc(b->bid, cap * sizeof *i);
        if (i) b->bid = i;
        uint64_t *o = realloc(b->ib, cap * sizeof *o);
        if (o) b->ib = o;
        if (!d || !z || !i || !o)
            return pst_fail(err, NTH_PST_E_NO_MEMORY, "XBLOCK", NTH_PST_NO_OFFSET, "out of memory");
        s->cap = cap;
    }
    uint8_t *copy = malloc(blk->size ? blk->size : 1);
    if (!copy) return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", blk->ib, "out of memory");
    memcpy(copy, blk->data, blk->size);
    b->data[b->count] = copy;
    b->size[b->count] = blk->size;
    b->bid[b->count] = bid;
    b->ib[b->count] = blk->ib;
    b->count++;
    b->total += blk->size;
    return NTH_PST_OK;
}

/* Checks that an internal block is an XBLOCK/XXBLOCK of the cLevel a parent requires (-1:
 * any) and returns its name, cLevel, cEnt and lcbTotal. */
static nth_pst_status x_header(const pst_layout *L, uint64_t bid, const pst_block *blk, int level,
                               const char **name, unsigned *clevel, unsigned *count,
                               uint32_t *total, nth_pst_error *err)
{
    const uint8_t *data = blk->data;
    size_t size = blk->size;
    *name = "XBLOCK";
    if (size < 8 || data[0] != BTYPE_XBLOCK || data[1] < 1 || data[1] > 2)
        return pst_fail(err, NTH_PST_E_CORRUPT, "XBLOCK", blk->ib,
                        "block 0x%llx is not an XBLOCK/XXBLOCK (btype 0x%02X, cLevel %u)",
                        (unsigned long long)bid, size ? data[0] : 0, size > 1 ? data[1] : 0);
    *clevel = data[1];
    if (*clevel == 2) *name = "XXBLOCK";
    if (level == 0 || (level > 0 && (int)*clevel != level))
        return pst_fail(err, NTH_PST_E_CORRUPT, *name, blk->ib, "cLevel %u where %d is required",
                        *clevel, level);
    *count = rd16(data + 2);
    *total = rd32(data + 4);
    if (*count == 0 || 8 + (size_t)*count * L->id_size > size)
        return pst_fail(err, NTH_PST_E_CORRUPT, *name, blk->ib,
                        "cEnt %u does not fit the block's %zu bytes", *count, size);
    return NTH_PST_OK;
}

/* Reads the tree at bid; `level` is the cLevel a parent requires (-1: any). */
static nth_pst_status read_tree(tree_state *s, uint64_t bid, int level, nth_pst_error *err)
{
    pst_block blk;
    nth_pst_status st = pst_block_get(s->f, bid, &blk, err);
    if (st) return st;
    if (!bid_internal(bid)) {
        if (level > 0)
            st = pst_fail(err, NTH_PST_E_CORRUPT, "block", blk.ib,
                          "block 0x%llx is a data block where an XBLOCK is required",
                          (unsigned long long)bid);
        else
            st = pst_budget_charge(s->f, blk.size, "block", blk.ib, err);
        if (!st) st = push_block(s, bid, &blk, err);
        pst_block_release(&blk);
        return st;
    }
    const pst_layout *L = &s->f->lay;
    const char *name;
    unsigned clevel = 0, count = 0;
    uint32_t total = 0;
    st = x_header(L, bid, &blk, level, &name, &clevel, &count, &total, err);
    uint64_t before = s->out->total;
    for (unsigned i = 0; i < count && !st; i++) {
        const uint8_t *p = blk.data + 8 + (size_t)i * L->id_size;
        uint64_t child = L->unicode ? rd64(p) : rd32(p);
        int added = pst_idset_add(&s->seen, child & ~(uint64_t)1);
        if (added <= 0) {
            st = added < 0 ? pst_fail(err, NTH_PST_E_NO_MEMORY, name, blk.ib, "out of memory")
                           : pst_fail(err, NTH_PST_E_CORRUPT, name, blk.ib,
                                      "entry %u names block 0x%llx, which this data tree already "
                                      "holds (a cycle, or repeated blocks that amplify its size)",
                                      i, (unsigned long long)child);
            break;
        }
        st = read_tree(s, child, (int)clevel - 1, err);
        if (st) pst_refer(err, "%s at offset 0x%llx, entry %u", name, (unsigned long long)blk.ib, i);
    }
    if (!st && s->out->total - before != total)
        st = pst_fail(err, NTH_PST_E_CORRUPT, name, blk.ib,
                      "lcbTotal %u but the children hold %llu bytes", total,
                      (unsigned long long)(s->out->total - before));
    pst_block_release(&blk);
    return st;
}

nth_pst_status nth_pst_read_data(nth_pst_file *f, uint64_t bid_data, nth_pst_blocks *out,
                                 nth_pst_error *err)
{
    memset(out, 0, sizeof *out);
    tree_state s = {.f = f, .out = out};
    nth_pst_status st = pst_idset_add(&s.seen, bid_data & ~(uint64_t)1) < 0
                            ? pst_fail(err, NTH_PST_E_NO_MEMORY, "data tree", NTH_PST_NO_OFFSET,
                                       "out of memory")
                            : read_tree(&s, bid_data, -1, err);
    pst_idset_free(&s.seen);
    if (st) nth_pst_blocks_free(out);
    return st;
}

nth_pst_status pst_data_first(nth_pst_file *f, uint64_t bid_data, pst_block *out,
                              nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    uint64_t bid = bid_data;
    int level = -1;
    for (unsigned depth = 0;; depth++) {
        nth_pst_status st = pst_block_get(f, bid, out, err);
        if (st) return st;
        if (!bid_internal(bid)) {
            if (level <= 0) return NTH_PST_OK;
            st = pst_fail(err, NTH_PST_E_CORRUPT, "block", out->ib,
                          "block 0x%llx is a data block where an XBLOCK is required",
                          (unsigned long long)bid);
            pst_block_release(out);
            return st;
        }
        const char *name;
        unsigned clevel = 0, count = 0;
        uint32_t total;
        st = x_header(L, bid, out, level, &name, &clevel, &count, &total, err);
        if (st) {
            pst_block_release(out);
            return st;
        }
        uint64_t ib = out->ib;
        bid = L->unicode ? rd64(out->data + 8) : rd32(out->data + 8);
        pst_block_release(out);
        level = (int)clevel - 1;
        if (depth >= 2) /* x_header's level check makes this unreachable; kept as a guard */
            return pst_fail(err, NTH_PST_E_CORRUPT, name, ib, "data tree deeper than XXBLOCK");
    }
}

nth_pst_status nth_pst_read_stream(nth_pst_file *f, uint64_t bid_data, uint8_t **data,
                                   size_t *size, nth_pst_error *err)
{
    *data = NULL;
    *size = 0;
    nth_pst_blocks b;
    nth_pst_status st = nth_pst_read_data(f, bid_data, &b, err);
    if (st) return st;
    uint8_t *buf = malloc(b.total ? (size_t)b.total : 1);
    if (!buf) {
        nth_pst_blocks_free(&b);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "data tree", NTH_PST_NO_OFFSET, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < b.count; i++) {
        memcpy(buf + at, b.data[i], b.size[i]);
        at += b.size[i];
    }
    nth_pst_blocks_free(&b);
    *data = buf;
    *size = at;
    return NTH_PST_OK;
}

typedef struct sub_state {
    nth_pst_file *f;
    nth_pst_node *nodes;
    size_t count, cap;
} sub_state;

static nth_pst_status add_sub(sub_state *s, const pst_layout *L, const uint8_t *e, uint64_t ib,
                              unsigned i, const char *name, uint64_t block_ib, nth_pst_error *err)
{
    unsigned w = L->id_size;
    uint32_t nid = L->unicode ? (uint32_t)rd64(e) : rd32(e);
    if (s->count && nid <= s->nodes[s->count - 1].nid)
        return pst_fail(err, NTH_PST_E_CORRUPT, name, block_ib,
                        "SLENTRY %u NID 0x%X does not ascend", i, nid);
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        nth_pst_node *n = realloc(s->nodes, cap * sizeof *n);
        if (!n) return pst_fail(err, NTH_PST_E_NO_MEMORY, name, block_ib, "out of memory");
        s->nodes = n;
        s->cap = cap;
    }
    nth_pst_node *n = &s->nodes[s->count++];
    n->nid = nid;
    n->nid_parent = 0;
    n->bid_data = L->unicode ? rd64(e + w) : rd32(e + w);
    n->bid_sub = L->unicode ? rd64(e + 2 * w) : rd32(e + 2 * w);
    n->ib_entry = ib;
    return NTH_PST_OK;
}

/* Reads an SLBLOCK, or an SIBLOCK and its SLBLOCKs (level: the cLevel required, -1 any). An
 * SIBLOCK's children must be SLBLOCKs, so this recursion is at most two deep. */
static nth_pst_status read_sub(sub_state *s, uint64_t bid, int level, nth_pst_error *err)
{
    const pst_layout *L = &s->f->lay;
    if (!bid_internal(bid))
        return pst_fail(err, NTH_PST_E_CORRUPT, "SLBLOCK", pst_block_ib(s->f, bid),
                        "subnode tree BID 0x%llx is not an internal block",
                        (unsigned long long)bid);
    pst_block blk;
    nth_pst_status st = pst_block_get(s->f, bid, &blk, err);
    if (st) return st;
    const uint8_t *data = blk.data;
    size_t size = blk.size;
    unsigned head = L->unicode ? 8 : 4;
    if (size < head || data[0] != BTYPE_SLBLOCK || data[1] > 1) {
        st = pst_fail(err, NTH_PST_E_CORRUPT, "SLBLOCK", blk.ib,
                      "block 0x%llx is not an SLBLOCK/SIBLOCK (btype 0x%02X, cLevel %u)",
                      (unsigned long long)bid, size ? data[0] : 0, size > 1 ? data[1] : 0);
        pst_block_release(&blk);
        return st;
    }
    unsigned clevel = data[1];
    const char *name = clevel ? "SIBLOCK" : "SLBLOCK";
    unsigned w = L->id_size;
    size_t esize = clevel ? 2 * w : 3 * w;
    unsigned count = rd16(data + 2);
    if (level >= 0 && (int)clevel != level)
        st = pst_fail(err, NTH_PST_E_CORRUPT, name, blk.ib, "cLevel %u where %d is required",
                      clevel, level);
    else if (head + (size_t)count * esize > size)
        st = pst_fail(err, NTH_PST_E_CORRUPT, name, blk.ib,
                      "cEnt %u does not fit the block's %zu bytes", count, size);
    else
        st = pst_budget_charge(s->f, (uint64_t)count * esize, name, blk.ib, err);
    for (unsigned i = 0; i < count && !st; i++) {
        const uint8_t *e = data + head + (size_t)i * esize;
        if (clevel) {
            uint64_t child = L->unicode ? rd64(e + w) : rd32(e + w);
            st = read_sub(s, child, 0, err);
            if (st)
                pst_refer(err, "SIBLOCK at offset 0x%llx, entry %u", (unsigned long long)blk.ib, i);
            continue;
        }
        st = add_sub(s, L, e, blk.ib + (size_t)(e - data), i, name, blk.ib, err);
    }
    pst_block_release(&blk);
    return st;
}

nth_pst_status nth_pst_read_subnodes(nth_pst_file *f, uint64_t bid_sub, nth_pst_node **nodes,
                                     size_t *count, nth_pst_error *err)
{
    *nodes = NULL;
    *count = 0;
    if (bid_sub == 0) return NTH_PST_OK;
    sub_state s = {.f = f};
    nth_pst_status st = read_sub(&s, bid_sub, -1, err);
    if (st) {
        free(s.nodes);
        return st;
    }
    *nodes = s.nodes;
    *count = s.count;
    return NTH_PST_OK;
}
