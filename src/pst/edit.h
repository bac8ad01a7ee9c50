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
/* The internal block bid as the image holds it: its BBT entry in *be and its bytes at *data,
 * checked to lie inside the file with at least min_cb data bytes (else corrupt, in the name of
 * `structure`). */
nth_pst_status pst_internal_block(nth_pst_file *f, uint64_t bid, size_t min_cb, const char *structure,
                                  nth_pst_block_entry *be, const uint8_t **data, nth_pst_error *err);
/* Points the NBT entry of nid at bid_data. */
nth_pst_status pst_nbt_set_data(nth_pst_file *f, uint32_t nid, uint64_t bid_data,
                                nth_pst_error *err);
/* Points the NBT entry of nid at the subnode tree bid_sub (0: none). */
nth_pst_status pst_nbt_set_sub(nth_pst_file *f, uint32_t nid, uint64_t bid_sub,
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
/* Writes a new block (data block, or internal block when `internal`) holding data[0..size),
 * encoded as bCryptMethod says for data blocks, and enters it into the BBT with cRef 2. */
nth_pst_status pst_block_new(nth_pst_file *f, bool internal, const uint8_t *data, size_t size,
                             uint64_t *bid, nth_pst_error *err);
/* Writes an XBLOCK over the n data blocks bids (lcbTotal = total), cRef 2. */
nth_pst_status pst_xblock_new(nth_pst_file *f, const uint64_t *bids, size_t n, uint64_t total,
                              uint64_t *bid, nth_pst_error *err);

/* sub_write.c */
/* Writes value[0..size) as a new data tree: one data block, or data blocks of at most
 * block_data_max bytes under an XBLOCK. NTH_PST_E_UNSUPPORTED past one XBLOCK (an XXBLOCK). */
nth_pst_status pst_stream_write(nth_pst_file *f, const uint8_t *value, size_t size,
                                uint64_t *bid, nth_pst_error *err);
/* Builds the node's new subnode tree from the one at old_sub (0: none): every entry kept but
 * drop_nid's (0: none), plus add_nid -> add_data (0: none) in NID order, as a new SLBLOCK
 * (cRef 2), or an SIBLOCK over SLBLOCKs past one SLBLOCK's capacity; kept entries' trees get
 * one more reference. *new_sub is 0 when nothing is left.
 * The old tree is not released (pst_sub_release). */
nth_pst_status pst_sub_rewrite(nth_pst_file *f, uint64_t old_sub, uint32_t drop_nid,
                               uint32_t add_nid, uint64_t add_data, uint64_t *new_sub,
                               nth_pst_error *err);
/* Drops one reference to the subnode tree at bid; an SLBLOCK/SIBLOCK left unreferenced is
 * freed and releases its entries' data and subnode trees in turn. */
nth_pst_status pst_sub_release(nth_pst_file *f, uint64_t bid, nth_pst_error *err);
/* A subnode NID of type NID_TYPE_LTP not in use under the node (index above every subnode
 * index there, at least 0x400 as Outlook numbers them). */
nth_pst_status pst_sub_fresh_nid(nth_pst_file *f, uint64_t bid_sub, uint32_t *nid,
                                 nth_pst_error *err);

/* write.c */
/* NTH_PST_CRASH_AT=step ends the process here with _exit(70) (tests of crash safety). */
void pst_crash_point(int step);
/* Reads the file at path whole into memory (*mode: its permission bits); it must validate
 * sound. */
nth_pst_status pst_image_open(const char *path, nth_pst_file **f, unsigned *mode,
                              nth_pst_error *err);
/* The NBT entry of nid, which must have a data tree (else NTH_PST_E_UNSUPPORTED). */
nth_pst_status pst_node_with_data(nth_pst_file *f, uint32_t nid, nth_pst_node *node,
                                  nth_pst_error *err);
/* Applies a heap to the node nid of the image: in place when possible, else a new data tree
 * (crash points 6, 7, 8), then stores the header. */
nth_pst_status pst_heap_patch(nth_pst_file *f, uint32_t nid, const nth_pst_hn *hn,
                              nth_pst_error *err);
/* Reads the node's heap back from the image and compares it with hn, page by page. */
nth_pst_status pst_heap_verify(nth_pst_file *f, uint32_t nid, const nth_pst_hn *hn,
                               nth_pst_error *err);
/* nth_pst_validate's verdict as a status; `when` names the image in the message. */
nth_pst_status pst_must_be_sound(nth_pst_file *f, const char *when, nth_pst_error *err);
/* Writes the image to PATH.XXXXXX, fsyncs it and renames it over path (crash points 1-5). */
nth_pst_status pst_image_commit(nth_pst_file *f, const char *path, unsigned mode,
                                nth_pst_error *err);

/* pc_edit.c */
/* The record of property id in the PC's single-leaf BTH: *found, and its type and HNID. */
nth_pst_status pst_pc_lookup(const nth_pst_hn *hn, uint16_t id, bool *found, uint16_t *type,
                             uint32_t *hnid, nth_pst_error *err);
/* How many records of the PC hold hnid (a subnode NID). */
nth_pst_status pst_pc_hnid_uses(const nth_pst_hn *hn, uint32_t hnid, size_t *uses,
                                nth_pst_error *err);
/* nth_pst_pc_set, except that a value kept in a subnode is allowed: sub_nid != 0 makes the
 * record's HNID that subnode NID (the value bytes are then not stored in the heap), and an
 * old subnode HNID is simply replaced (the caller releases the subnode). */
nth_pst_status pst_pc_put(nth_pst_hn *hn, uint16_t id, uint16_t type, const void *value,
                          size_t size, uint32_t sub_nid, nth_pst_error *err);

#endif
