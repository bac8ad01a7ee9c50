/*
 * edit.h — editing a PST held whole in memory (f->mem, from nth_pst_open_memory): space in the
 * file (space.c), B-tree entries (bt_edit.c) and data trees (tree_write.c). nth_pst_write_heap
 * (write.c) drives them and writes the result out atomically.
 *
 * Space is counted in 64-byte units, as the allocation maps count it:
 *
 *     0x4400 + k * 253952: AMap page k, 512 bytes; its bits cover [its own offset, + 253952)
 *     bit i (byte i / 8, mask 0x80 >> i % 8) set = the 64 bytes at offset + 64 * i are in use
 *     ANSI: dwPadding(4) then 496 bytes of bits; Unicode: 496 bytes of bits; then PAGETRAILER
 *     AMap k % 8 == 0 is followed by a PMap page (deprecated: every bit set, cbPMapFree 0)
 *
 * Invariants kept by every edit:
 *   - every byte a B-tree page, map page or block occupies is marked in use in its AMap;
 *     bytes given back are zeroed and marked free, and ROOT.cbAMapFree counts the free bits;
 *   - the file ends where the last AMap's coverage ends (it grows one AMap span at a time);
 *   - a block's cRef is 1 + the number of references to it (NBT entries, subnode entries,
 *     XBLOCK/XXBLOCK entries); a block no longer referenced leaves the BBT and its space is freed;
 *   - every page or block changed is sealed again (trailer, signature, CRC) before the next
 *     edit reads it; the header is stored (fields and both CRCs) by pst_header_store at the end.
 */
#ifndef NTH_PST_EDIT_H
#define NTH_PST_EDIT_H

#include "internal.h"

#define PST_AMAP_FIRST 0x4400u
#define PST_AMAP_SPAN  253952u   /* 496 bytes * 8 bits * 64 bytes */
#define PST_AMAP_MAX   128u      /* beyond, FMap pages would be needed (not written) */
#define PST_PMAP_FIRST 0x4600u
#define PST_PMAP_SPAN  2031616u  /* 496 bytes * 8 bits * 512 bytes */
#define PST_PTYPE_PMAP 0x83
#define PST_PTYPE_AMAP 0x84
#define PST_PTYPE_DLIST 0x86
#define PST_DLIST_IB   0x4200u
#define PST_BLOCK_REF_ONE 2u     /* cRef of a block referenced once */

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t rd_id(const pst_layout *L, const uint8_t *p)
{
    return L->unicode ? rd64(p) : rd32(p);
}
static inline void wr_id(const pst_layout *L, uint8_t *p, uint64_t v)
{
    if (L->unicode)
        wr64(p, v);
    else
        wr32(p, (uint32_t)v);
}
/* Bytes a block of cb data bytes occupies on disk. */
static inline size_t pst_block_total(const pst_layout *L, size_t cb)
{
    return (cb + L->block_trailer + PST_BLOCK_ALIGN - 1) & ~(size_t)(PST_BLOCK_ALIGN - 1);
}

/* space.c */
/* Finds `bytes` (a multiple of 64) of free space, 512-aligned when `page`; marks it in use and
 * zeroes it. Grows the file by one AMap span when no AMap has room. */
nth_pst_status pst_space_alloc(nth_pst_file *f, size_t bytes, bool page, uint64_t *ib,
                               nth_pst_error *err);
/* Zeroes [ib, ib + bytes) and marks it free in its AMap. */
void pst_space_free(nth_pst_file *f, uint64_t ib, size_t bytes);
/* Writes the PAGETRAILER of the page at ib: ptype twice, wSig (signature(ib, bid) for B-tree
 * and DList pages, 0 for AMap and PMap pages), bid, and the CRC of the page data. */
void pst_page_seal(nth_pst_file *f, uint64_t ib, uint8_t ptype, uint64_t bid);
/* Lowest BID a new page may take (above the DList's), 0 without a DList. */
uint64_t pst_page_bid_floor(nth_pst_file *f);
/* Writes data (cb bytes, already encoded if external) as the block bid at ib, with padding
 * zeroed and its BLOCKTRAILER. */
void pst_block_put(nth_pst_file *f, uint64_t ib, uint64_t bid, const uint8_t *data, size_t cb);
/* The next block BID (bidNextB, internal flag when asked), bumped in f->info. */
nth_pst_status pst_next_block_bid(nth_pst_file *f, bool internal, uint64_t *bid,
                                  nth_pst_error *err);
/* Seals every AMap page again, stores f->info's bidNextB, bidNextP and ROOT (cbAMapFree
 * counted from the maps) in the header and recomputes dwCRCPartial (and dwCRCFull). */
void pst_header_store(nth_pst_file *f);

/* bt_edit.c */
/* Inserts a BBTENTRY, splitting pages (new pages from bidNextP) up to a new root as needed. */
nth_pst_status pst_bbt_insert(nth_pst_file *f, uint64_t bid, uint64_t ib, uint16_t cb,
                              uint16_t refs, nth_pst_error *err);
/* Drops one reference to bid. When none is left (cRef 1) *gone is set and the entry leaves
 * the BBT, its space zeroed and freed (a caller that needs the block's bytes reads them
 * first) -- unless it is the only entry of a non-root leaf: then it stays, an orphan with
 * cRef 1 still in use on disk, as Outlook leaves such blocks. */
nth_pst_status pst_bbt_unref(nth_pst_file *f, uint64_t bid, bool *gone, nth_pst_error *err);
/* Adds one reference to bid. */
nth_pst_status pst_bbt_addref(nth_pst_file *f, uint64_t bid, nth_pst_error *err);
/* Points the NBT entry of nid at bid_data. */
nth_pst_status pst_nbt_set_data(nth_pst_file *f, uint32_t nid, uint64_t bid_data,
                                nth_pst_error *err);

/* tree_write.c */
/* Writes hn's pages as the data of a node whose data tree is old_bid: pages whose bytes are
 * unchanged keep their block, the others get new blocks; several pages get a new XBLOCK.
 * *new_bid is the new tree's root. The old tree is not released (pst_tree_release). */
nth_pst_status pst_tree_write(nth_pst_file *f, const nth_pst_hn *hn, uint64_t old_bid,
                              uint64_t *new_bid, nth_pst_error *err);
/* Drops the node's reference to the tree at bid; blocks no longer referenced are freed, the
 * children of a freed XBLOCK/XXBLOCK released in turn. */
nth_pst_status pst_tree_release(nth_pst_file *f, uint64_t bid, nth_pst_error *err);

#endif
