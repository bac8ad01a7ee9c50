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
 * Invariants: a data tree is at most two internal levels deep, its leaves are data blocks, and
 * the sizes of its leaves add up to lcbTotal. A data tree holds at most one data block per 64
 * bytes of file, which bounds the memory a corrupt tree can make us use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BTYPE_XBLOCK  0x01
#define BTYPE_SLBLOCK 0x02

static bool bid_internal(uint64_t bid) { return (bid & 2) != 0; }

nth_pst_status nth_pst_read_block(nth_pst_file *f, uint64_t bid, uint8_t **data, size_t *size,
                                  nth_pst_error *err)
{
    *data = NULL;
    *size = 0;
    const pst_layout *L = &f->lay;
    nth_pst_block_entry be;
    nth_pst_status st = nth_pst_bbt_lookup(f, bid, &be, err);
    if (st) return st;
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
    size_t limit;
} tree_state;

static nth_pst_status push_block(tree_state *s, uint64_t bid, uint8_t *data, size_t size,
                                 nth_pst_error *err)
{
    nth_pst_blocks *b = s->out;
    if (b->count == s->limit) {
        free(data);
        return pst_fail(err, NTH_PST_E_CORRUPT, "XBLOCK", NTH_PST_NO_OFFSET,
                        "data tree has more blocks than the file can hold");
    }
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
        if (!d || !z || !i || !o) {
            free(data);
            return pst_fail(err, NTH_PST_E_NO_MEMORY, "XBLOCK", NTH_PST_NO_OFFSET, "out of memory");
        }
        s->cap = cap;
    }
    nth_pst_block_entry be = {0};
    nth_pst_bbt_lookup(s->f, bid, &be, NULL);
    b->data[b->count] = data;
    b->size[b->count] = size;
    b->bid[b->count] = bid;
    b->ib[b->count] = be.ib;
    b->count++;
    b->total += size;
    return NTH_PST_OK;
}

/* Reads the tree at bid; `level` is the cLevel a parent requires (-1: any). */
static nth_pst_status read_tree(tree_state *s, uint64_t bid, int level, nth_pst_error *err)
{
    uint8_t *data;
    size_t size;
    nth_pst_status st = nth_pst_read_block(s->f, bid, &data, &size, err);
    if (st) return st;
    if (!bid_internal(bid)) {
        if (level > 0) {
            free(data);
            return pst_fail(err, NTH_PST_E_CORRUPT, "XXBLOCK", NTH_PST_NO_OFFSET,
                            "child 0x%llx is a data block where an XBLOCK is required",
                            (unsigned long long)bid);
        }
        return push_block(s, bid, data, size, err);
    }
    nth_pst_block_entry be = {0};
    nth_pst_bbt_lookup(s->f, bid, &be, NULL);
    const pst_layout *L = &s->f->lay;
    const char *name = "XBLOCK";
    if (size < 8 || data[0] != BTYPE_XBLOCK || data[1] < 1 || data[1] > 2) {
        st = pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib,
                      "block 0x%llx is not an XBLOCK/XXBLOCK (btype 0x%02X, cLevel %u)",
                      (unsigned long long)bid, size ? data[0] : 0, size > 1 ? data[1] : 0);
        free(data);
        return st;
    }
    unsigned clevel = data[1];
    if (clevel == 2) name = "XXBLOCK";
    if (level == 0 || (level > 0 && (int)clevel != level)) {
        free(data);
        return pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib, "cLevel %u where %d is required",
                        clevel, level);
    }
    unsigned count = rd16(data + 2);
    uint32_t total = rd32(data + 4);
    if (count == 0 || 8 + (size_t)count * L->id_size > size) {
        free(data);
        return pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib,
                        "cEnt %u does not fit the block's %zu bytes", count, size);
    }
    uint64_t before = s->out->total;
    for (unsigned i = 0; i < count && !st; i++) {
        const uint8_t *p = data + 8 + (size_t)i * L->id_size;
        uint64_t child = L->unicode ? rd64(p) : rd32(p);
        st = read_tree(s, child, (int)clevel - 1, err);
    }
    if (!st && s->out->total - before != total)
        st = pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib,
                      "lcbTotal %u but the children hold %llu bytes", total,
                      (unsigned long long)(s->out->total - before));
    free(data);
    return st;
}

nth_pst_status nth_pst_read_data(nth_pst_file *f, uint64_t bid_data, nth_pst_blocks *out,
                                 nth_pst_error *err)
{
    memset(out, 0, sizeof *out);
    tree_state s = {.f = f, .out = out, .limit = (size_t)(f->size / PST_BLOCK_ALIGN) + 1};
    nth_pst_status st = read_tree(&s, bid_data, -1, err);
    if (st) nth_pst_blocks_free(out);
    return st;
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
    size_t count, cap, limit;
} sub_state;

static nth_pst_status read_sub(sub_state *s, uint64_t bid, int level, nth_pst_error *err)
{
    const pst_layout *L = &s->f->lay;
    nth_pst_block_entry be = {0};
    nth_pst_bbt_lookup(s->f, bid, &be, NULL);
    if (!bid_internal(bid))
        return pst_fail(err, NTH_PST_E_CORRUPT, "SLBLOCK", be.ib,
                        "subnode tree BID 0x%llx is not an internal block",
                        (unsigned long long)bid);
    uint8_t *data;
    size_t size;
    nth_pst_status st = nth_pst_read_block(s->f, bid, &data, &size, err);
    if (st) return st;
    unsigned head = L->unicode ? 8 : 4;
    if (size < head || data[0] != BTYPE_SLBLOCK || data[1] > 1) {
        st = pst_fail(err, NTH_PST_E_CORRUPT, "SLBLOCK", be.ib,
                      "block 0x%llx is not an SLBLOCK/SIBLOCK (btype 0x%02X, cLevel %u)",
                      (unsigned long long)bid, size ? data[0] : 0, size > 1 ? data[1] : 0);
        free(data);
        return st;
    }
    unsigned clevel = data[1];
    const char *name = clevel ? "SIBLOCK" : "SLBLOCK";
    if (level >= 0 && (int)clevel != level) {
        free(data);
        return pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib, "cLevel %u where %d is required",
                        clevel, level);
    }
    unsigned w = L->id_size;
    size_t esize = clevel ? 2 * w : 3 * w;
    unsigned count = rd16(data + 2);
    if (head + (size_t)count * esize > size) {
        free(data);
        return pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib,
                        "cEnt %u does not fit the block's %zu bytes", count, size);
    }
    for (unsigned i = 0; i < count && !st; i++) {
        const uint8_t *e = data + head + (size_t)i * esize;
        uint32_t nid = L->unicode ? (uint32_t)rd64(e) : rd32(e);
        uint64_t b1 = L->unicode ? rd64(e + w) : rd32(e + w);
        if (clevel) {
            st = read_sub(s, b1, 0, err);
            continue;
        }
        if (s->count && nid <= s->nodes[s->count - 1].nid) {
            st = pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib,
                          "SLENTRY %u NID 0x%X does not ascend", i, nid);
            break;
        }
        if (s->count == s->limit) {
            st = pst_fail(err, NTH_PST_E_CORRUPT, name, be.ib,
                          "more subnodes than the file can hold");
            break;
        }
        if (s->count == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 8;
            nth_pst_node *n = realloc(s->nodes, cap * sizeof *n);
            if (!n) {
                st = pst_fail(err, NTH_PST_E_NO_MEMORY, name, be.ib, "out of memory");
                break;
            }
            s->nodes = n;
            s->cap = cap;
        }
        nth_pst_node *n = &s->nodes[s->count++];
        n->nid = nid;
        n->nid_parent = 0;
        n->bid_data = b1;
        n->bid_sub = L->unicode ? rd64(e + 2 * w) : rd32(e + 2 * w);
    }
    free(data);
    return st;
}

nth_pst_status nth_pst_read_subnodes(nth_pst_file *f, uint64_t bid_sub, nth_pst_node **nodes,
                                     size_t *count, nth_pst_error *err)
{
    *nodes = NULL;
    *count = 0;
    if (bid_sub == 0) return NTH_PST_OK;
    sub_state s = {.f = f, .limit = (size_t)(f->size / 8) + 1};
    nth_pst_status st = read_sub(&s, bid_sub, -1, err);
    if (st) {
        free(s.nodes);
        return st;
    }
    *nodes = s.nodes;
    *count = s.count;
    return NTH_PST_OK;
}
