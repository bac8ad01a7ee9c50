/*
 * internal.h — what the files of src/pst share: little-endian byte access, error reporting,
 * the open-file structure and the format constants that differ between ANSI and Unicode.
 *
 * Invariants
 *   - Every multi-byte field is read with rd16/rd32/rd64 from a byte pointer, never by casting
 *     to a wider type (files are packed and ANSI allocations sit at odd offsets).
 *   - Every read from the file goes through pst_read(), which checks the range against the
 *     file size and names the structure being read in its error.
 */
#ifndef NTH_PST_INTERNAL_H
#define NTH_PST_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntheap/pst.h"

#if defined(__GNUC__)
#define PST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PST_PRINTF(f, a)
#endif

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)v);
    wr16(p + 2, (uint16_t)(v >> 16));
}

/* Fills *err (if not NULL) and returns status. The message reads
 * "<structure> at offset 0x<offset>: <what>" (or without the offset part). */
nth_pst_status pst_fail(nth_pst_error *err, nth_pst_status status, const char *structure,
                        uint64_t offset, const char *fmt, ...) PST_PRINTF(5, 6);

/* Sizes that depend on the file format. */
typedef struct pst_layout {
    bool unicode;
    unsigned id_size;        /* BID and IB: 4 or 8 */
    unsigned block_trailer;  /* 12 or 16 */
    unsigned page_data;      /* bytes covered by a page CRC: 500 or 496 */
    unsigned bt_entries;     /* bytes of BTPAGE rgentries: 496 or 488 */
    unsigned bt_entry_min;   /* intermediate BTENTRY: 12 or 24 */
    unsigned bbt_entry_min;  /* BBTENTRY: 12 or 24 */
    unsigned nbt_entry_min;  /* NBTENTRY: 16 or 32 */
    unsigned block_data_max; /* 8180 or 8176 */
} pst_layout;

#define PST_PAGE_SIZE      512u
#define PST_BLOCK_MAX      8192u
#define PST_BLOCK_ALIGN    64u
#define PST_PTYPE_BBT      0x80
#define PST_PTYPE_NBT      0x81
#define PST_BTREE_DEPTH_MAX 8u  /* cLevel of a BT root; real files use at most 2 or 3 */
#define PST_NID_TYPE_NORMAL_FOLDER    0x02u
#define PST_NID_TYPE_HIERARCHY_TABLE  0x0Du
#define PST_NID_TYPE_LTP              0x1Fu
#define PST_NID_TYPE_SUQ              0x06u /* SEARCH_UPDATE_QUEUE */

/* A set of nonzero-or-zero 64-bit IDs (cache.c). */
typedef struct pst_idset {
    uint64_t *keys;
    size_t count, cap;
    bool has_zero;
} pst_idset;

/* Returns 1 when id was added, 0 when already present, -1 when out of memory. */
int pst_idset_add(pst_idset *s, uint64_t id);
bool pst_idset_has(const pst_idset *s, uint64_t id);
void pst_idset_free(pst_idset *s);

/* One remembered block read (cache.c). */
typedef struct pst_cblock {
    bool used;
    uint64_t key;          /* BID | 1 */
    uint64_t ib;
    uint8_t *data;         /* decoded bytes, NULL on failure */
    size_t size;
    nth_pst_status status;
    nth_pst_error *error;  /* the failure, when status != OK */
} pst_cblock;

typedef struct pst_cache {
    pst_cblock *slots;
    size_t count, cap;
    uint64_t bytes;
} pst_cache;

struct nth_pst_file {
    uint8_t *mem;        /* whole file in memory (nth_pst_open_memory), or NULL */
    int fd;              /* otherwise the descriptor, read with pread */
    uint64_t size;
    pst_layout lay;
    nth_pst_info info;
    pst_cache cache;     /* decoded blocks by BID */
    bool budget_armed;   /* a whole-file walk is running */
    bool budget_spent;   /* ... and ran out of work budget */
    uint64_t budget_left;
};

/* A block as handed out by pst_block_get: borrowed from the cache unless `owned`. */
typedef struct pst_block {
    uint8_t *data;
    size_t size;
    uint64_t ib;
    bool owned;
} pst_block;

/* Reads, checks and decodes a block once per file; later calls return the same bytes or the
 * same error. Release with pst_block_release. */
nth_pst_status pst_block_get(nth_pst_file *f, uint64_t bid, pst_block *out, nth_pst_error *err);
void pst_block_release(pst_block *b);
void pst_cache_free(pst_cache *c);

/* The actual read behind the cache (block.c). *ib receives the block's file offset. */
nth_pst_status pst_block_read_uncached(nth_pst_file *f, uint64_t bid, uint8_t **data,
                                       size_t *size, uint64_t *ib, nth_pst_error *err);

/* Work budget of whole-file walks: arm returns true when this call armed it (and must
 * disarm); charge fails once the walk has handed out too much. */
bool pst_budget_arm(nth_pst_file *f);
void pst_budget_disarm(nth_pst_file *f, bool armed_here);
nth_pst_status pst_budget_charge(nth_pst_file *f, uint64_t bytes, const char *structure,
                                 uint64_t ib, nth_pst_error *err);

/* Walks a B-tree as nth_pst_bbt_foreach / nth_pst_nbt_foreach do, also calling pagefn (may
 * be NULL) with the file offset of every page read. */
nth_pst_status pst_bt_walk(nth_pst_file *f, uint8_t ptype, nth_pst_block_fn bfn,
                           nth_pst_node_fn nfn, void (*pagefn)(void *ctx, uint64_t ib), void *ctx,
                           size_t *pages, nth_pst_error *err);

/* Receives one finding of a whole-file check (hint: a note, not a problem). */
typedef void (*pst_finding_sink)(void *ctx, const nth_pst_error *e, bool hint);

/* validate_refs.c: block references against cRef, and the DList page. */
void pst_check_refs(nth_pst_file *f, pst_finding_sink sink, void *ctx);

/* Opens a PC over an HN the caller keeps (values in subnodes read through node). */
nth_pst_status pst_pc_open_hn(nth_pst_file *file, const nth_pst_node *node, const nth_pst_hn *hn,
                              nth_pst_pc **out, nth_pst_error *err);

/* Opens a TC over an HN the caller keeps. */
nth_pst_status pst_tc_open_hn(nth_pst_file *file, const nth_pst_node *node, const nth_pst_hn *hn,
                              nth_pst_tc **out, nth_pst_error *err);

/* File offset of a block according to the BBT, or NTH_PST_NO_OFFSET when it has none. */
uint64_t pst_block_ib(nth_pst_file *f, uint64_t bid);

/* Appends " (referred to by <who>)" to err's message when it fits. */
void pst_refer(nth_pst_error *err, const char *fmt, ...) PST_PRINTF(2, 3);

/* The first data block of a data tree, without reading the others (block.c). */
nth_pst_status pst_data_first(nth_pst_file *f, uint64_t bid_data, pst_block *out,
                              nth_pst_error *err);

/* Reads len bytes at off into buf; a range past the end fails naming `structure`. */
nth_pst_status pst_read(nth_pst_file *f, uint64_t off, size_t len, void *buf,
                        const char *structure, nth_pst_error *err);

/* Sets up f->lay for the format. */
void pst_layout_init(pst_layout *lay, bool unicode);

/* Maximum block data of an HN's page for the format. */
static inline size_t pst_page_max(bool unicode)
{
    return unicode ? NTH_PST_BLOCK_DATA_MAX_UNICODE : NTH_PST_BLOCK_DATA_MAX_ANSI;
}

/* Internal HN constructor used by nth_pst_hn_load: takes the blocks' file positions too. */
nth_pst_status pst_hn_parse(const uint8_t *const *pages, const size_t *sizes, const uint64_t *ibs,
                            const uint64_t *bids, size_t count, bool unicode, nth_pst_hn **out,
                            nth_pst_error *err);

/* HN page helpers shared by hn.c, hn_validate.c and hn_write.c. */
size_t pst_hn_header_size(size_t page);
/* Page that holds the fill-level nibble of `page`, and the byte/nibble in it. */
void pst_hn_fill_slot(size_t page, size_t *holder, size_t *byte, unsigned *shift);

/* The pages of an HN; hn.c owns the struct, hn_write.c mutates it. */
typedef struct pst_hn_pagebuf {
    uint8_t *data;
    size_t size;
    size_t cap;
    uint64_t ib;
    uint64_t bid;
} pst_hn_pagebuf;

struct nth_pst_hn {
    pst_hn_pagebuf *pages;
    size_t count;
    size_t cap;
    bool unicode;
    size_t page_max;
};

/* Checks the structure of one page enough to read it safely (map in bounds, offsets
 * ordered). `where` is the file offset for messages. */
nth_pst_status pst_hn_check_page(const uint8_t *p, size_t size, size_t index, uint64_t where,
                                 nth_pst_error *err);

/* Offsets of a page map: rgibAlloc[k], k in 0..cAlloc. The page must have passed
 * pst_hn_check_page. */
static inline uint16_t pst_hn_map_count(const uint8_t *p) { return rd16(p + rd16(p)); }
static inline uint16_t pst_hn_map_free(const uint8_t *p) { return rd16(p + rd16(p) + 2); }
static inline uint16_t pst_hn_map_ib(const uint8_t *p, size_t k)
{
    return rd16(p + rd16(p) + 4 + 2 * k);
}

/* Fill level recorded for page `page` (its nibble in the HNHDR or HNBITMAPHDR). */
uint8_t pst_hn_fill_get(const nth_pst_hn *hn, size_t page);

/* Whether `size` bytes at `data` can be a value of `type` (props.c); when not, false with the
 * reason in why[n]: an undefined type, a size other than its type's fixed one ("(16 bytes, not
 * 8)"), a multi-valued layout that does not hold. */
bool pst_value_fits(uint16_t type, const uint8_t *data, size_t size, char *why, size_t n);

/* Bytes of a property value a PC keeps inline in its BTH record (MS-PST 2.3.3.3), 0 for a
 * value kept in the heap or a subnode. */
static inline size_t pst_pc_inline_size(uint16_t type)
{
    switch (type) {
    case NTH_PST_PT_INT16: return 2;
    case NTH_PST_PT_INT32:
    case NTH_PST_PT_FLOAT32:
    case NTH_PST_PT_ERROR: return 4;
    case NTH_PST_PT_BOOLEAN: return 1;
    default: return 0;
    }
}

#endif
