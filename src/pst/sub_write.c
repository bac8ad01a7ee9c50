/*
 * sub_write.c — writing a value's data tree and a node's subnode tree (SLBLOCK) in a PST held
 * in memory, and releasing a subnode tree it replaces.
 *
 *     value stream:  one data block (<= block_data_max bytes), or
 *                    XBLOCK (internal BID) ──> data blocks of block_data_max bytes, the last
 *                    one shorter; lcbTotal = the value's size
 *
 *     SLBLOCK        btype 0x02 | cLevel 0 | cEnt (2) | dwPadding (4, Unicode only)
 *                    SLENTRY[cEnt]: nid (8 Unicode / 4 ANSI) bidData bidSub, ascending nid
 *     SIBLOCK        btype 0x02 | cLevel 1 | cEnt (2) | dwPadding (4, Unicode only)
 *                    SIENTRY[cEnt]: nid (first NID of the child) bid (an SLBLOCK)
 *
 * More entries than one SLBLOCK holds (340 Unicode, 681 ANSI) are spread evenly over as few
 * SLBLOCKs as hold them, under one SIBLOCK (each SLBLOCK cRef 2, referenced by the SIBLOCK).
 *
 * Copy on write: an existing subnode tree is never edited. The new SLBLOCK (new internal BID,
 * cRef 2: the NBT entry's reference) lists the entries kept plus the one added; each kept
 * entry's data and subnode trees gain the reference the new SLBLOCK holds (cRef + 1), and the
 * old tree is then released: cRef - 1, and when nothing references it any more its block is
 * freed and its entries' trees lose the reference it held. A tree shared with other nodes
 * therefore keeps all it had; the edited node gets its own.
 *
 * Limits (NTH_PST_E_UNSUPPORTED): more entries than one SIBLOCK over full SLBLOCKs holds
 * (173,400 Unicode, 695,982 ANSI), and a value needing more data blocks than one XBLOCK lists
 * (an XXBLOCK).
 */
#include <stdlib.h>
#include <string.h>

#include "edit.h"

#define BTYPE_SLBLOCK 0x02
#define SUB_DEPTH_MAX 16u  /* nesting of subnode trees released (files use 3 or 4) */
#define SUB_INDEX_FIRST 0x400u

static unsigned sl_head(const pst_layout *L) { return L->unicode ? 8 : 4; }

nth_pst_status pst_stream_write(nth_pst_file *f, const uint8_t *value, size_t size,
                                uint64_t *bid, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    size_t per = L->block_data_max;
    size_t n = size ? (size + per - 1) / per : 1;
    size_t xmax = (L->block_data_max - 8) / L->id_size;
    if (n > xmax || size > UINT32_MAX)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "XBLOCK", NTH_PST_NO_OFFSET,
                        "a value of %zu bytes takes %zu data blocks; one XBLOCK lists at most "
                        "%zu (%zu bytes) and this library does not write XXBLOCKs", size, n,
                        xmax, xmax * per);
    if (n == 1) return pst_block_new(f, false, value, size, bid, err);
    uint64_t *bids = calloc(n, sizeof *bids);
    if (!bids) return pst_fail(err, NTH_PST_E_NO_MEMORY, "block", NTH_PST_NO_OFFSET, "out of memory");
    nth_pst_status st = NTH_PST_OK;
    for (size_t i = 0; i < n && !st; i++) {
        size_t off = i * per, cb = size - off < per ? size - off : per;
        st = pst_block_new(f, false, value + off, cb, &bids[i], err);
    }
    if (!st) st = pst_xblock_new(f, bids, n, size, bid, err);
    free(bids);
    pst_cache_free(&f->cache);
    return st;
}

/* SLENTRYs one SLBLOCK holds: 340 Unicode, 681 ANSI -- fewer when the test hook
 * NTH_PST_SLBLOCK_MAX asks (to exercise SIBLOCKs without hundreds of edits). */
static size_t sl_capacity(const pst_layout *L)
{
    size_t cap = (L->block_data_max - sl_head(L)) / (3 * L->id_size);
    const char *hook = getenv("NTH_PST_SLBLOCK_MAX");
    long want = hook ? atol(hook) : 0;
    return want > 0 && (size_t)want < cap ? (size_t)want : cap;
}

/* Writes entries e[0..n) as a new SLBLOCK, cRef 2. */
static nth_pst_status sl_write(nth_pst_file *f, const nth_pst_node *e, size_t n, uint64_t *bid,
                               nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    size_t esize = 3 * (size_t)L->id_size, cb = sl_head(L) + n * esize;
    uint8_t *b = calloc(1, cb);
    if (!b) return pst_fail(err, NTH_PST_E_NO_MEMORY, "SLBLOCK", NTH_PST_NO_OFFSET, "out of memory");
    b[0] = BTYPE_SLBLOCK;
    b[1] = 0;
    wr16(b + 2, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = b + sl_head(L) + i * esize;
        wr_id(L, p, e[i].nid);
        wr_id(L, p + L->id_size, e[i].bid_data);
        wr_id(L, p + 2 * L->id_size, e[i].bid_sub);
    }
    nth_pst_status st = pst_block_new(f, true, b, cb, bid, err);
    free(b);
    return st;
}

static nth_pst_status addref_if(nth_pst_file *f, uint64_t bid, nth_pst_error *err)
{
    return bid ? pst_bbt_addref(f, bid, err) : NTH_PST_OK;
}

nth_pst_status pst_sub_rewrite(nth_pst_file *f, uint64_t old_sub, uint32_t drop_nid,
                               uint32_t add_nid, uint64_t add_data, uint64_t *new_sub,
                               nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    nth_pst_node *old = NULL;
    size_t nold = 0;
    nth_pst_status st = nth_pst_read_subnodes(f, old_sub, &old, &nold, err);
    pst_cache_free(&f->cache);
    if (st) return st;
    nth_pst_node *keep = calloc(nold + 1, sizeof *keep);
    if (!keep) {
        free(old);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "SLBLOCK", NTH_PST_NO_OFFSET, "out of memory");
    }
    size_t n = 0;
    bool added = add_nid == 0;
    for (size_t i = 0; i < nold && !st; i++) {
        if (drop_nid && old[i].nid == drop_nid) continue;
        if (add_nid && old[i].nid == add_nid)
            st = pst_fail(err, NTH_PST_E_INVALID, "SLBLOCK", NTH_PST_NO_OFFSET,
                          "subnode 0x%X exists already", add_nid);
        if (!added && old[i].nid > add_nid) {
            keep[n++] = (nth_pst_node){.nid = add_nid, .bid_data = add_data};
            added = true;
        }
        keep[n++] = old[i];
    }
    if (!added) keep[n++] = (nth_pst_node){.nid = add_nid, .bid_data = add_data};
    free(old);
    size_t cap = sl_capacity(L), si_cap = (L->block_data_max - sl_head(L)) / (2 * L->id_size);
    size_t nsl = (n + cap - 1) / cap;
    if (!st && nsl > si_cap)
        st = pst_fail(err, NTH_PST_E_UNSUPPORTED, "SIBLOCK", NTH_PST_NO_OFFSET,
                      "the node's subnode tree would hold %zu entries; one SIBLOCK over "
                      "SLBLOCKs holds %zu", n, si_cap * cap);
    for (size_t i = 0; !st && i < n; i++)
        if (keep[i].nid != add_nid) {
            st = addref_if(f, keep[i].bid_data, err);
            if (!st) st = addref_if(f, keep[i].bid_sub, err);
        }
    *new_sub = 0;
    if (st || n == 0) {
        free(keep);
        return st;
    }
    if (nsl == 1) {
        st = sl_write(f, keep, n, new_sub, err);
    } else {
        /* n entries spread evenly over nsl SLBLOCKs under one SIBLOCK */
        uint8_t *si = calloc(1, sl_head(L) + nsl * 2 * L->id_size);
        if (!si) st = pst_fail(err, NTH_PST_E_NO_MEMORY, "SIBLOCK", NTH_PST_NO_OFFSET, "out of memory");
        for (size_t j = 0, at = 0; !st && j < nsl; j++) {
            size_t take = (n - at) / (nsl - j);
            uint64_t sl;
            uint8_t *e = si + sl_head(L) + j * 2 * L->id_size;
            st = sl_write(f, keep + at, take, &sl, err);
            wr_id(L, e, keep[at].nid);
            wr_id(L, e + L->id_size, sl);
            at += take;
        }
        if (!st) {
            si[0] = BTYPE_SLBLOCK;
            si[1] = 1;
            wr16(si + 2, (uint16_t)nsl);
            st = pst_block_new(f, true, si, sl_head(L) + nsl * 2 * L->id_size, new_sub, err);
        }
        free(si);
    }
    free(keep);
    pst_cache_free(&f->cache);
    return st;
}

/* The entries of the SLBLOCK/SIBLOCK bid as the image holds it: per entry the BIDs it
 * references (SLENTRY: bidData, bidSub; SIENTRY: bid, 0); *si for an SIBLOCK. */
static nth_pst_status sub_entries(nth_pst_file *f, uint64_t bid, uint64_t **refs, size_t *count,
                                  bool *si, nth_pst_error *err)
{
    const pst_layout *L = &f->lay;
    nth_pst_block_entry be;
    const uint8_t *d;
    nth_pst_status st = pst_internal_block(f, bid, sl_head(L), "SLBLOCK", &be, &d, err);
    if (st) return st;
    size_t n = rd16(d + 2), esize = (d[1] ? 2u : 3u) * L->id_size;
    if (d[0] != BTYPE_SLBLOCK || d[1] > 1 || sl_head(L) + n * esize > be.cb)
        return pst_fail(err, NTH_PST_E_CORRUPT, "SLBLOCK", be.ib,
                        "block 0x%llx is not an SLBLOCK/SIBLOCK", (unsigned long long)bid);
    *count = n;
    *si = d[1] == 1;
    *refs = calloc(2 * n + 1, sizeof **refs);
    if (!*refs) return pst_fail(err, NTH_PST_E_NO_MEMORY, "SLBLOCK", be.ib, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = d + sl_head(L) + i * esize;
        (*refs)[2 * i] = rd_id(L, e + L->id_size);
        (*refs)[2 * i + 1] = d[1] ? 0 : rd_id(L, e + 2 * L->id_size);
    }
    return NTH_PST_OK;
}

static nth_pst_status sub_release(nth_pst_file *f, uint64_t bid, unsigned depth,
                                  nth_pst_error *err)
{
    if (bid == 0) return NTH_PST_OK;
    if (depth > SUB_DEPTH_MAX)
        return pst_fail(err, NTH_PST_E_CORRUPT, "SLBLOCK", NTH_PST_NO_OFFSET,
                        "subnode trees nested deeper than %u", SUB_DEPTH_MAX);
    uint64_t *refs = NULL;
    size_t count = 0;
    bool sib = false;
    nth_pst_status st = sub_entries(f, bid, &refs, &count, &sib, err);
    if (st) return st;
    bool gone = false;
    st = pst_bbt_unref(f, bid, &gone, err);
    for (size_t i = 0; !st && gone && i < count; i++) {
        if (sib) {
            st = sub_release(f, refs[2 * i], depth + 1, err);
            continue;
        }
        st = pst_tree_release(f, refs[2 * i], err);
        if (!st) st = sub_release(f, refs[2 * i + 1], depth + 1, err);
    }
    free(refs);
    return st;
}

nth_pst_status pst_sub_release(nth_pst_file *f, uint64_t bid, nth_pst_error *err)
{
    nth_pst_status st = sub_release(f, bid, 0, err);
    pst_cache_free(&f->cache);
    return st;
}

nth_pst_status pst_sub_fresh_nid(nth_pst_file *f, uint64_t bid_sub, uint32_t *nid,
                                 nth_pst_error *err)
{
    nth_pst_node *subs = NULL;
    size_t n = 0;
    nth_pst_status st = nth_pst_read_subnodes(f, bid_sub, &subs, &n, err);
    pst_cache_free(&f->cache);
    if (st) return st;
    uint32_t index = SUB_INDEX_FIRST;
    for (size_t i = 0; i < n; i++)
        if (subs[i].nid >> 5 >= index) index = (subs[i].nid >> 5) + 1;
    free(subs);
    if (index > UINT32_MAX >> 5)
        return pst_fail(err, NTH_PST_E_UNSUPPORTED, "SLBLOCK", NTH_PST_NO_OFFSET,
                        "no subnode NID index is left above the node's highest");
    *nid = index << 5 | PST_NID_TYPE_LTP;
    return NTH_PST_OK;
}
