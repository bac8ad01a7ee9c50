/*
 * ntheap/pst.h — MS-PST Heap-on-Node stack: NDB, HN, BTH and PC.
 *
 * A library of its own (libntheap-pst), independent of the heap engine. Layers, bottom up:
 *
 *   NDB  nth_pst_file      header, root, BBT/NBT B-trees, blocks (CRC, signature, permute and
 *                          cyclic decoding), data trees (XBLOCK/XXBLOCK), subnode trees
 *                          (SLBLOCK/SIBLOCK)
 *   HN   nth_pst_hn        Heap-on-Node over one or many data blocks: read, validate, allocate,
 *                          free, reallocate
 *   BTH  nth_pst_bth       BTree-on-Heap inside an HN: lookup and ordered iteration
 *   PC   nth_pst_pc        Property Context: a BTH of (property id -> type, value)
 *
 * Conventions
 *   - Functions that can fail return an nth_pst_status and, when `err` is not NULL, fill it with
 *     a sentence naming the on-disk structure and its file offset (or its offset inside a heap
 *     page when the data did not come from a file).
 *   - Every read of file or heap bytes is bounds-checked: corrupt input gives an error, never a
 *     crash or a read outside a buffer.
 *   - That promise is about the file. Arguments are the caller's to give right, as with any C
 *     library: the calls that open or edit a file by path refuse a NULL path or handle to fill
 *     (NTH_PST_E_INVALID); elsewhere NULL is allowed only where a function says so (`err`, the
 *     close functions), and a nth_pst_prop the caller builds must describe bytes it owns.
 *   - Handles are opaque. Pointers returned into a handle's data stay valid until the handle is
 *     closed or, for an HN, until the next write to it.
 *   - Numbers on disk are little-endian; values returned here are host integers.
 */
#ifndef NTHEAP_PST_H
#define NTHEAP_PST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NTH_PST_API __attribute__((visibility("default")))
#else
#define NTH_PST_API
#endif

/* ----------------------------------------------------------------------------- errors */

/* Outcome of a call. */
typedef enum nth_pst_status {
    NTH_PST_OK = 0,
    NTH_PST_E_IO,          /* the file could not be opened or read */
    NTH_PST_E_NO_MEMORY,   /* out of memory */
    NTH_PST_E_UNSUPPORTED, /* not a PST, or a PST variant this library does not read */
    NTH_PST_E_CORRUPT,     /* a structure breaks a rule of the format */
    NTH_PST_E_NOT_FOUND,   /* no such BID, NID, HID or property */
    NTH_PST_E_INVALID,     /* a bad argument: HID freed or malformed, size too large, ... */
    NTH_PST_E_FULL         /* an HN cannot take the allocation (page, slot or page-count limit) */
} nth_pst_status;

/* Where and why a call failed. `offset` is the file offset of the structure named in
 * `structure`, or NTH_PST_NO_OFFSET when it has none. `message` is a complete sentence that
 * repeats both. */
typedef struct nth_pst_error {
    nth_pst_status status;
    uint64_t offset;
    char structure[24];
    char message[320];
} nth_pst_error;

#define NTH_PST_NO_OFFSET UINT64_MAX

/* Short name of a status ("corrupt", "not found", ...). */
NTH_PST_API const char *nth_pst_status_name(nth_pst_status status);

/* ---------------------------------------------------------------------------- NDB layer */

/* An open PST file. */
typedef struct nth_pst_file nth_pst_file;

/* bCryptMethod values. */
#define NTH_PST_CRYPT_NONE    0x00
#define NTH_PST_CRYPT_PERMUTE 0x01
#define NTH_PST_CRYPT_CYCLIC  0x02

/* Largest data in one block (8192 bytes minus the block trailer). */
#define NTH_PST_BLOCK_DATA_MAX_UNICODE 8176u
#define NTH_PST_BLOCK_DATA_MAX_ANSI    8180u

/* A block reference: block id and absolute file offset. */
typedef struct nth_pst_bref {
    uint64_t bid;
    uint64_t ib;
} nth_pst_bref;

/* The decoded HEADER and ROOT of a file. */
typedef struct nth_pst_info {
    bool unicode;          /* wVer 23 (8-byte BIDs) rather than 14/15 (4-byte BIDs) */
    uint16_t version;      /* wVer */
    uint16_t client_version; /* wVerClient */
    uint8_t crypt;         /* bCryptMethod, NTH_PST_CRYPT_* */
    uint64_t file_size;    /* bytes in the file */
    uint32_t crc_partial;  /* dwCRCPartial (checked at open) */
    uint32_t crc_full;     /* dwCRCFull (Unicode only; checked at open) */
    uint64_t bid_next_block; /* bidNextB */
    uint64_t bid_next_page;  /* bidNextP */
    uint32_t unique;       /* dwUnique */
    uint64_t file_eof;     /* ROOT.ibFileEof */
    uint64_t amap_last;    /* ROOT.ibAMapLast */
    uint64_t amap_free;    /* ROOT.cbAMapFree */
    uint64_t pmap_free;    /* ROOT.cbPMapFree */
    nth_pst_bref nbt_root; /* ROOT.BREFNBT */
    nth_pst_bref bbt_root; /* ROOT.BREFBBT */
    uint8_t amap_valid;    /* ROOT.fAMapValid */
} nth_pst_info;

/* A BBT leaf entry: where a block lives. */
typedef struct nth_pst_block_entry {
    uint64_t bid;   /* as stored (bit 0 may be set) */
    uint64_t ib;    /* file offset of the block */
    uint16_t cb;    /* bytes of data before the trailer */
    uint16_t refs;  /* cRef */
    uint64_t ib_entry; /* file offset of the BBTENTRY itself */
} nth_pst_block_entry;

/* A node: an NBT leaf entry, or an SLENTRY of a subnode tree (nid_parent 0). */
typedef struct nth_pst_node {
    uint32_t nid;
    uint32_t nid_parent;
    uint64_t bid_data; /* data tree; 0 = no data */
    uint64_t bid_sub;  /* subnode tree; 0 = none */
    uint64_t ib_entry; /* file offset of the NBTENTRY / SLENTRY it came from (0 if unknown) */
} nth_pst_node;

/* The data blocks of a node in tree order, decoded. Page i of an HN is data[i]. */
typedef struct nth_pst_blocks {
    size_t count;
    uint8_t **data;  /* count buffers */
    size_t *size;    /* bytes in each */
    uint64_t *bid;   /* BID of each data block */
    uint64_t *ib;    /* file offset of each data block */
    uint64_t total;  /* sum of the sizes */
} nth_pst_blocks;

/* Opens a PST file read-only. ANSI (wVer 14/15) and Unicode (wVer 23) files are accepted;
 * anything else fails with NTH_PST_E_UNSUPPORTED. The header CRCs and the B-tree roots are
 * checked here. */
NTH_PST_API nth_pst_status nth_pst_open(const char *path, nth_pst_file **out, nth_pst_error *err);

/* Same as nth_pst_open over a copy of `size` bytes at `data` (the caller keeps its buffer). */
NTH_PST_API nth_pst_status nth_pst_open_memory(const void *data, size_t size, nth_pst_file **out,
                                               nth_pst_error *err);

/* Closes a file opened by nth_pst_open or nth_pst_open_memory. NULL is ignored. */
NTH_PST_API void nth_pst_close(nth_pst_file *file);

/* The decoded header of an open file. */
NTH_PST_API const nth_pst_info *nth_pst_get_info(const nth_pst_file *file);

/* Bounds, for the rest of the handle's life, the bytes handed out through data trees and the
 * subnode entries read to `factor` times the file size plus 16 MiB; past it those reads fail
 * with NTH_PST_E_CORRUPT ("work budget ... exhausted"). Without it only whole-file walks are
 * bounded (each to 8 times the file size). A tool working on untrusted files sets it once
 * after opening. */
NTH_PST_API void nth_pst_limit_work(nth_pst_file *file, unsigned factor);

/* Looks up a block in the BBT (bit 0 of bid is ignored). NTH_PST_E_NOT_FOUND if absent. */
NTH_PST_API nth_pst_status nth_pst_bbt_lookup(nth_pst_file *file, uint64_t bid,
                                              nth_pst_block_entry *out, nth_pst_error *err);

/* Looks up a node in the NBT. NTH_PST_E_NOT_FOUND if absent. */
NTH_PST_API nth_pst_status nth_pst_nbt_lookup(nth_pst_file *file, uint32_t nid,
                                              nth_pst_node *out, nth_pst_error *err);

/* Called once per leaf entry in key order; return nonzero to stop the walk early. */
typedef int (*nth_pst_block_fn)(void *ctx, const nth_pst_block_entry *entry);
typedef int (*nth_pst_node_fn)(void *ctx, const nth_pst_node *node);

/* Walks every BBT leaf entry in ascending BID order, checking every page (signature, CRC,
 * level, key order). `pages`, if not NULL, receives the number of pages visited. */
NTH_PST_API nth_pst_status nth_pst_bbt_foreach(nth_pst_file *file, nth_pst_block_fn fn, void *ctx,
                                               size_t *pages, nth_pst_error *err);

/* Walks every NBT leaf entry in ascending NID order, as nth_pst_bbt_foreach does. */
NTH_PST_API nth_pst_status nth_pst_nbt_foreach(nth_pst_file *file, nth_pst_node_fn fn, void *ctx,
                                               size_t *pages, nth_pst_error *err);

/* Reads one block: checks size, trailer (cb, signature, BID, CRC of the stored bytes) and,
 * for a data block (BID bit 1 clear), decodes it with the file's crypt method. The caller frees
 * *data with free(). */
NTH_PST_API nth_pst_status nth_pst_read_block(nth_pst_file *file, uint64_t bid, uint8_t **data,
                                              size_t *size, nth_pst_error *err);

/* Reads a node's data tree (a data block, an XBLOCK or an XXBLOCK) into its data blocks in tree
 * order. Checks lcbTotal and the block counts. Free with nth_pst_blocks_free. */
NTH_PST_API nth_pst_status nth_pst_read_data(nth_pst_file *file, uint64_t bid_data,
                                             nth_pst_blocks *out, nth_pst_error *err);

/* Joins the blocks of a data tree into one buffer (free with free()). */
NTH_PST_API nth_pst_status nth_pst_read_stream(nth_pst_file *file, uint64_t bid_data,
                                               uint8_t **data, size_t *size, nth_pst_error *err);

/* Releases what nth_pst_read_data filled in; the struct is zeroed. */
NTH_PST_API void nth_pst_blocks_free(nth_pst_blocks *blocks);

/* Reads one level of a subnode tree (an SLBLOCK, or an SIBLOCK and its SLBLOCKs) as an array
 * of nodes sorted by NID. The caller frees *nodes with free(). bid_sub 0 gives 0 nodes. */
NTH_PST_API nth_pst_status nth_pst_read_subnodes(nth_pst_file *file, uint64_t bid_sub,
                                                 nth_pst_node **nodes, size_t *count,
                                                 nth_pst_error *err);

/* PST CRC-32 (reflected 0xEDB88320, initial value 0, no final inversion) continued from crc. */
NTH_PST_API uint32_t nth_pst_crc(uint32_t crc, const void *data, size_t size);

/* Block signature: (ib ^ bid) folded to 16 bits. */
NTH_PST_API uint16_t nth_pst_block_signature(uint64_t ib, uint64_t bid);

/* Permute encoding (bCryptMethod 1), in place. */
NTH_PST_API void nth_pst_permute_encode(uint8_t *data, size_t size);
NTH_PST_API void nth_pst_permute_decode(uint8_t *data, size_t size);

/* Cyclic encoding (bCryptMethod 2), keyed by the low 32 bits of the block's BID. The same
 * routine encodes and decodes. */
NTH_PST_API void nth_pst_cyclic(uint8_t *data, size_t size, uint32_t key);

/* Name of an NID type (low 5 bits of a NID), e.g. "NORMAL_FOLDER"; "?" when undocumented. */
NTH_PST_API const char *nth_pst_nid_type_name(uint32_t nid);

/* ---------------------------------------------------------------------- node walking */

/* A node reached from the NBT (depth 1) or through subnode trees (depth > 1). path[0] is the
 * NBT NID, path[k] the subnode NID at depth k+1. */
#define NTH_PST_PATH_MAX 8
typedef struct nth_pst_node_ref {
    uint32_t path[NTH_PST_PATH_MAX];
    size_t depth;
    nth_pst_node node;
} nth_pst_node_ref;

/* Callbacks of nth_pst_walk: `node` is called for every node (return nonzero to stop), and
 * `problem` for every subnode tree that could not be read (the walk goes on). */
typedef struct nth_pst_walker {
    int (*node)(void *ctx, const nth_pst_node_ref *ref);
    void (*problem)(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *problem);
    void *ctx;
} nth_pst_walker;

/* Visits every node of the NBT and, depth first, every node of its subnode trees. Fails only
 * when the NBT itself cannot be walked. */
NTH_PST_API nth_pst_status nth_pst_walk(nth_pst_file *file, const nth_pst_walker *walker,
                                        nth_pst_error *err);

/* Formats a node path as "0x200024/0x8025" into buf (always terminated). */
NTH_PST_API void nth_pst_path_format(const nth_pst_node_ref *ref, char *buf, size_t size);

/* Parses one NID of `len` characters: decimal ("33", leading zeros allowed, never octal) or
 * "0x" and hex digits. Anything else, a value above 0xFFFFFFFF, or a NULL `nid`, is
 * NTH_PST_E_INVALID. */
NTH_PST_API nth_pst_status nth_pst_parse_nid(const char *text, size_t len, uint32_t *nid);

/* Parses "0x21", "33" or "0x200024/0x8025" (components as nth_pst_parse_nid; an empty
 * component is an error) and resolves it through the NBT and subnode trees. */
NTH_PST_API nth_pst_status nth_pst_resolve_path(nth_pst_file *file, const char *text,
                                                nth_pst_node_ref *out, nth_pst_error *err);

/* ---------------------------------------------------------------------------- HN layer */

/* A Heap-on-Node held in memory: one buffer per page (data block). */
typedef struct nth_pst_hn nth_pst_hn;

#define NTH_PST_HN_SIG         0xEC  /* bSig */
#define NTH_PST_HN_ALLOC_MAX   3580u /* largest single allocation */
#define NTH_PST_HN_SLOTS_MAX   2047u /* hidIndex is 11 bits */
#define NTH_PST_HN_PAGES_MAX   65536u /* hidBlockIndex is 16 bits */

/* bClientSig values. */
#define NTH_PST_CLIENT_RESERVED1 0x6C
#define NTH_PST_CLIENT_TC        0x7C
#define NTH_PST_CLIENT_RESERVED2 0x8C
#define NTH_PST_CLIENT_RESERVED3 0x9C
#define NTH_PST_CLIENT_RESERVED4 0xA5
#define NTH_PST_CLIENT_RESERVED5 0xAC
#define NTH_PST_CLIENT_BTH       0xB5
#define NTH_PST_CLIENT_PC        0xBC
#define NTH_PST_CLIENT_RESERVED6 0xCC

/* HID = block index << 16 | slot index << 5 (slot counted from 1; low 5 bits 0). */
static inline uint32_t nth_pst_hid_make(uint32_t page, uint32_t slot)
{
    return (page << 16) | ((slot & 0x7FFu) << 5);
}
/* The page (block index) of a HID. */
static inline uint32_t nth_pst_hid_page(uint32_t hid) { return hid >> 16; }
/* The 1-based slot of a HID. */
static inline uint32_t nth_pst_hid_slot(uint32_t hid) { return (hid >> 5) & 0x7FFu; }
/* The hidType (must be 0). */
static inline uint32_t nth_pst_hid_type(uint32_t hid) { return hid & 0x1Fu; }

/* One page as parsed. */
typedef struct nth_pst_hn_page {
    size_t size;          /* bytes of block data */
    size_t header_size;   /* 12 (HNHDR), 66 (HNBITMAPHDR) or 2 (HNPAGEHDR) */
    uint16_t ib_hnpm;     /* offset of the HNPAGEMAP */
    uint16_t alloc_count; /* cAlloc: slots, freed ones included */
    uint16_t free_count;  /* cFree as stored */
    size_t used;          /* bytes of all allocations of the page */
    uint8_t fill_level;   /* the level recorded for this page */
    uint8_t fill_level_actual; /* the level its free space gives */
    uint64_t ib;          /* file offset of its block, or NTH_PST_NO_OFFSET */
    uint64_t bid;         /* its block's BID, or 0 */
} nth_pst_hn_page;

/* One slot of an HN page. A freed slot has size 0 (and `freed` set). */
typedef struct nth_pst_hn_alloc {
    uint32_t hid;
    uint32_t page;
    uint32_t slot;
    size_t offset;  /* from the start of the page */
    size_t size;
    bool freed;
} nth_pst_hn_slot;

/* Parses an HN from its pages (copied). `unicode` selects the page size limit (8176 or 8180).
 * Structural damage that makes the heap unreadable (no 0xEC signature, a page map outside its
 * page or with decreasing offsets) fails with NTH_PST_E_CORRUPT; the rest is reported by
 * nth_pst_hn_validate. */
NTH_PST_API nth_pst_status nth_pst_hn_from_pages(const uint8_t *const *pages, const size_t *sizes,
                                                 size_t count, bool unicode, nth_pst_hn **out,
                                                 nth_pst_error *err);

/* Reads a node's data tree and parses it as an HN (errors carry file offsets). */
NTH_PST_API nth_pst_status nth_pst_hn_load(nth_pst_file *file, uint64_t bid_data,
                                           nth_pst_hn **out, nth_pst_error *err);

/* Creates an empty one-page HN (HNHDR, no allocations) for the given client. */
NTH_PST_API nth_pst_status nth_pst_hn_create(uint8_t client_sig, bool unicode, nth_pst_hn **out,
                                             nth_pst_error *err);

/* Releases an HN. NULL is ignored. */
NTH_PST_API void nth_pst_hn_close(nth_pst_hn *hn);

/* bClientSig of the HNHDR. */
NTH_PST_API uint8_t nth_pst_hn_client_sig(const nth_pst_hn *hn);

/* hidUserRoot of the HNHDR (0 = none). */
NTH_PST_API uint32_t nth_pst_hn_user_root(const nth_pst_hn *hn);

/* Sets hidUserRoot. */
NTH_PST_API void nth_pst_hn_set_user_root(nth_pst_hn *hn, uint32_t hid);

/* True for an HN of a Unicode file (8176-byte pages), false for ANSI (8180). */
NTH_PST_API bool nth_pst_hn_is_unicode(const nth_pst_hn *hn);

/* Number of pages (data blocks). */
NTH_PST_API size_t nth_pst_hn_page_count(const nth_pst_hn *hn);

/* Fills *out for page `page`; NTH_PST_E_NOT_FOUND past the last page. */
NTH_PST_API nth_pst_status nth_pst_hn_page_info(const nth_pst_hn *hn, size_t page,
                                                nth_pst_hn_page *out);

/* The bytes of a page as they would be written to its data block. */
NTH_PST_API const uint8_t *nth_pst_hn_page_data(const nth_pst_hn *hn, size_t page, size_t *size);

/* Number of slots over all pages, freed ones included. */
NTH_PST_API size_t nth_pst_hn_alloc_count(const nth_pst_hn *hn);

/* The index-th slot in page order (0-based over all pages). */
NTH_PST_API nth_pst_status nth_pst_hn_alloc_at(const nth_pst_hn *hn, size_t index,
                                               nth_pst_hn_slot *out);

/* The bytes of the allocation `hid`. Fails with NTH_PST_E_INVALID for a malformed HID (type
 * bits set, slot 0), NTH_PST_E_NOT_FOUND for a page or slot that does not exist and
 * NTH_PST_E_INVALID for a freed slot. */
NTH_PST_API nth_pst_status nth_pst_hn_get(const nth_pst_hn *hn, uint32_t hid,
                                          const uint8_t **data, size_t *size, nth_pst_error *err);

/* Receives each finding of nth_pst_hn_validate. `hint` is true for advisory findings (a stale
 * fill level), which do not count as problems. */
typedef void (*nth_pst_problem_fn)(void *ctx, const nth_pst_error *finding, bool hint);

/* Checks every rule of the HN format: map is the last thing of its page, ibHnpm even and at
 * most one pad byte after the allocations, first allocation right after the page header,
 * offsets ordered and in bounds, cFree equal to the zero-length slots, slot counts within
 * 2047, hidUserRoot naming a live allocation (or 0). Fill levels are hints. Returns the number
 * of problems (hints excluded). fn may be NULL. */
NTH_PST_API size_t nth_pst_hn_validate(const nth_pst_hn *hn, nth_pst_problem_fn fn, void *ctx);

/* Fill level (0..15) for a page with `free_bytes` free: 0 = >= 3584 free ... 15 = < 8 free. */
NTH_PST_API uint8_t nth_pst_fill_level(size_t free_bytes);

/* Allocates `size` bytes (at most NTH_PST_HN_ALLOC_MAX) holding a copy of `data` (zeros when
 * data is NULL). Size 0 gives HID 0 and stores nothing. Reuses the lowest freed slot of the
 * first page with room, else appends a slot, else appends a page. */
NTH_PST_API nth_pst_status nth_pst_hn_alloc(nth_pst_hn *hn, const void *data, size_t size,
                                            uint32_t *hid, nth_pst_error *err);

/* Frees an allocation: its slot stays (zero-length, counted in cFree) so other HIDs keep their
 * meaning; the later allocations of its page slide down. */
NTH_PST_API nth_pst_status nth_pst_hn_free(nth_pst_hn *hn, uint32_t hid, nth_pst_error *err);

/* Resizes an allocation to `size` bytes. The new contents are a copy of `data` or, when data
 * is NULL, the old bytes (cut or zero-extended). In place when the page has room (same HID);
 * otherwise the bytes move and *new_hid differs, so the caller must rewrite references.
 * hid 0 allocates; size 0 frees and gives HID 0. */
NTH_PST_API nth_pst_status nth_pst_hn_realloc(nth_pst_hn *hn, uint32_t hid, const void *data,
                                              size_t size, uint32_t *new_hid, nth_pst_error *err);

/* --------------------------------------------------------------------------- BTH layer */

/* A BTree-on-Heap rooted at a BTHHEADER allocation of an HN. Borrows the HN. */
typedef struct nth_pst_bth nth_pst_bth;

#define NTH_PST_BTH_TYPE 0xB5

/* Opens the BTH whose BTHHEADER is at `hid`; checks bType, cbKey (2, 4, 8, 16), cbEnt (1..32). */
NTH_PST_API nth_pst_status nth_pst_bth_open(const nth_pst_hn *hn, uint32_t hid, nth_pst_bth **out,
                                            nth_pst_error *err);

/* Releases a BTH. NULL is ignored. */
NTH_PST_API void nth_pst_bth_close(nth_pst_bth *bth);

/* cbKey, cbEnt, bIdxLevels and hidRoot of the header. */
NTH_PST_API void nth_pst_bth_shape(const nth_pst_bth *bth, unsigned *key_size,
                                   unsigned *data_size, unsigned *levels, uint32_t *root);

/* Finds the record whose key (cbKey little-endian bytes) equals `key`; *data points at its
 * cbEnt data bytes. NTH_PST_E_NOT_FOUND if absent. */
NTH_PST_API nth_pst_status nth_pst_bth_lookup(const nth_pst_bth *bth, const uint8_t *key,
                                              const uint8_t **data, nth_pst_error *err);

/* Called for each leaf record in key order; return nonzero to stop. */
typedef int (*nth_pst_bth_fn)(void *ctx, const uint8_t *key, const uint8_t *data);

/* Visits every leaf record in ascending key order, checking record sizes, key order across
 * the whole tree and that intermediate keys match their children. */
NTH_PST_API nth_pst_status nth_pst_bth_foreach(const nth_pst_bth *bth, nth_pst_bth_fn fn,
                                               void *ctx, nth_pst_error *err);

/* ---------------------------------------------------------------------------- PC layer */

/* A Property Context with every value resolved. */
typedef struct nth_pst_pc nth_pst_pc;

/* Where a PC value is stored. */
typedef enum nth_pst_where {
    NTH_PST_WHERE_INLINE,  /* in dwValueHnid itself (values of at most 4 bytes) */
    NTH_PST_WHERE_HID,     /* in an allocation of the HN */
    NTH_PST_WHERE_SUBNODE, /* in a subnode of the node (HNID with NID type bits) */
    NTH_PST_WHERE_EMPTY    /* HNID 0: an empty value */
} nth_pst_where;

/* One property. `data`/`size` is the value as stored (little-endian; strings without a
 * terminator). For inline values the bytes are the low `size` bytes of dwValueHnid. */
typedef struct nth_pst_prop {
    uint16_t id;
    uint16_t type;
    uint32_t hnid;       /* dwValueHnid as stored */
    nth_pst_where where;
    const uint8_t *data;
    size_t size;
    uint8_t inline_bytes[4];
} nth_pst_prop;

/* Property types. */
#define NTH_PST_PT_INT16   0x0002
#define NTH_PST_PT_INT32   0x0003
#define NTH_PST_PT_FLOAT32 0x0004
#define NTH_PST_PT_FLOAT64 0x0005
#define NTH_PST_PT_CURRENCY 0x0006
#define NTH_PST_PT_APPTIME 0x0007
#define NTH_PST_PT_ERROR   0x000A
#define NTH_PST_PT_BOOLEAN 0x000B
#define NTH_PST_PT_OBJECT  0x000D
#define NTH_PST_PT_INT64   0x0014
#define NTH_PST_PT_STRING8 0x001E
#define NTH_PST_PT_UNICODE 0x001F
#define NTH_PST_PT_TIME    0x0040
#define NTH_PST_PT_GUID    0x0048
#define NTH_PST_PT_BINARY  0x0102
#define NTH_PST_PT_MV      0x1000

/* Opens the PC stored in a node (values in subnodes are read through its subnode tree). */
NTH_PST_API nth_pst_status nth_pst_pc_open(nth_pst_file *file, const nth_pst_node *node,
                                           nth_pst_pc **out, nth_pst_error *err);

/* Opens a PC over an HN in memory (no subnodes; a subnode HNID is an error). Borrows hn. */
NTH_PST_API nth_pst_status nth_pst_pc_from_hn(const nth_pst_hn *hn, nth_pst_pc **out,
                                              nth_pst_error *err);

/* Releases a PC. NULL is ignored. */
NTH_PST_API void nth_pst_pc_close(nth_pst_pc *pc);

/* The HN under a PC. */
NTH_PST_API const nth_pst_hn *nth_pst_pc_hn(const nth_pst_pc *pc);

/* Number of properties. */
NTH_PST_API size_t nth_pst_pc_count(const nth_pst_pc *pc);

/* The index-th property in ascending id order, or NULL. */
NTH_PST_API const nth_pst_prop *nth_pst_pc_at(const nth_pst_pc *pc, size_t index);

/* The property with id `id`, or NULL. */
NTH_PST_API const nth_pst_prop *nth_pst_pc_find(const nth_pst_pc *pc, uint16_t id);

/* ---------------------------------------------------------------------------- TC layer */

/* A Table Context: rows of cells described by column descriptors. */
typedef struct nth_pst_tc nth_pst_tc;

/* One TCOLDESC. */
typedef struct nth_pst_tc_column {
    uint32_t tag;  /* property id << 16 | type */
    uint16_t ib;   /* ibData: offset of the cell in a row */
    uint8_t cb;    /* cbData: 1, 2, 4 or 8 */
    uint8_t bit;   /* iBit: the column's bit in the cell existence bitmap */
} nth_pst_tc_column;

/* Opens the TC stored in a node: checks the TCINFO and column layout, reads the row matrix
 * (from the heap or a subnode), checks the row index against it and resolves every existing
 * cell (values in subnodes are read once). */
NTH_PST_API nth_pst_status nth_pst_tc_open(nth_pst_file *file, const nth_pst_node *node,
                                           nth_pst_tc **out, nth_pst_error *err);

/* Same over an HN in memory (no subnodes). Borrows hn. */
NTH_PST_API nth_pst_status nth_pst_tc_from_hn(const nth_pst_hn *hn, nth_pst_tc **out,
                                              nth_pst_error *err);

/* Releases a TC. NULL is ignored. */
NTH_PST_API void nth_pst_tc_close(nth_pst_tc *tc);

NTH_PST_API size_t nth_pst_tc_column_count(const nth_pst_tc *tc);
NTH_PST_API const nth_pst_tc_column *nth_pst_tc_column_at(const nth_pst_tc *tc, size_t index);
NTH_PST_API size_t nth_pst_tc_row_count(const nth_pst_tc *tc);
/* Bytes per row (rgib[3]). */
NTH_PST_API size_t nth_pst_tc_row_size(const nth_pst_tc *tc);
/* dwRowID of a row (its first 4 bytes), in row-matrix order. */
NTH_PST_API uint32_t nth_pst_tc_row_id(const nth_pst_tc *tc, size_t row);

/* The cell at (row, column) as a property (id and type from the column's tag).
 * NTH_PST_E_NOT_FOUND when its bit in the cell existence bitmap is clear. Data stays valid
 * until the TC is closed. */
NTH_PST_API nth_pst_status nth_pst_tc_cell(nth_pst_tc *tc, size_t row, size_t column,
                                           nth_pst_prop *out, nth_pst_error *err);

/* -------------------------------------------------------------------- property values */

/* Name of a property type ("PtypString", ...), or NULL when unknown. */
NTH_PST_API const char *nth_pst_type_name(uint16_t type);

/* Canonical name of a property id ("PidTagDisplayName", ...), or NULL when not in the table. */
NTH_PST_API const char *nth_pst_tag_name(uint16_t id);

/* Fixed size of a type's value (2, 4, 8, 16 ...), or 0 for variable-size types. */
NTH_PST_API size_t nth_pst_type_size(uint16_t type);

/* Integer value of a PtypInteger16/32/64, PtypBoolean, PtypErrorCode, PtypTime or
 * PtypCurrency property. NTH_PST_E_INVALID for other types or a wrong size. */
NTH_PST_API nth_pst_status nth_pst_prop_int(const nth_pst_prop *prop, int64_t *value);

/* A PtypString (UTF-16LE) or PtypString8 (Windows-1252) value as a NUL-terminated UTF-8
 * string in malloc'd memory. Unpaired surrogates become U+FFFD. */
NTH_PST_API nth_pst_status nth_pst_prop_utf8(const nth_pst_prop *prop, char **text);

/* Number of items of a multi-valued property (type | NTH_PST_PT_MV). NTH_PST_E_INVALID for a
 * single-valued property or a base type without a defined layout, NTH_PST_E_CORRUPT when the
 * item count or offsets do not fit the value. */
NTH_PST_API nth_pst_status nth_pst_prop_mv_count(const nth_pst_prop *prop, size_t *count);

/* The index-th item of a multi-valued property as a single-valued property of the base type
 * (data points into the original value). */
NTH_PST_API nth_pst_status nth_pst_prop_mv_item(const nth_pst_prop *prop, size_t index,
                                                nth_pst_prop *out);

/* Formats a value for people: numbers, quoted strings, ISO 8601 times (UTC), hex for
 * binaries (cut at `max_bytes` bytes, 0 = no limit), multi-valued properties item by item as
 * "[n items] item, item, ..." (at most 8 items when max_bytes is not 0). Returns the length
 * it needed (as snprintf). */
NTH_PST_API size_t nth_pst_prop_format(const nth_pst_prop *prop, char *buf, size_t size,
                                       size_t max_bytes);

/* ------------------------------------------------------------------ named properties */

/* The name-to-id map of a file (NID 0x61). */
typedef struct nth_pst_named_map nth_pst_named_map;

/* What a named property id (0x8000 and up) stands for. */
typedef struct nth_pst_named_prop {
    uint16_t id;       /* 0x8000 + wPropIdx */
    uint8_t guid[16];  /* property set, as stored (all zero when wGuid is 0) */
    bool is_string;    /* named by a string rather than a number */
    uint32_t lid;      /* the number (when !is_string) */
    char *name;        /* the string, UTF-8 (when is_string; owned by the map) */
} nth_pst_named_prop;

/* Reads and checks the map: entry, GUID and string streams (indexes and ranges), no id twice. */
NTH_PST_API nth_pst_status nth_pst_named_open(nth_pst_file *file, nth_pst_named_map **out,
                                              nth_pst_error *err);
NTH_PST_API void nth_pst_named_close(nth_pst_named_map *map);
NTH_PST_API size_t nth_pst_named_count(const nth_pst_named_map *map);
/* Entries in ascending id order. */
NTH_PST_API const nth_pst_named_prop *nth_pst_named_at(const nth_pst_named_map *map, size_t index);
/* The entry of a named property id, or NULL. */
NTH_PST_API const nth_pst_named_prop *nth_pst_named_find(const nth_pst_named_map *map, uint16_t id);
/* Name of a well-known property set ("PS_MAPI", "PSETID_Common", ...), or NULL. */
NTH_PST_API const char *nth_pst_guid_name(const uint8_t guid[16]);

/* ------------------------------------------------------------------- heaps of a file */

/* The bClientSig a node of this NID must hold: NTH_PST_CLIENT_PC for folders, messages,
 * attachments, search criteria and the fixed PCs 0x21 and 0x61; NTH_PST_CLIENT_TC for the
 * table NID types; 0 when the format sets no rule. */
NTH_PST_API uint8_t nth_pst_nid_expected_client(uint32_t nid);

/* Called for each node whose data is a Heap-on-Node (NID type not LTP or
 * SEARCH_UPDATE_QUEUE, data block 0 carrying bSig 0xEC at byte 2), and for each node whose NID
 * type requires a heap (nth_pst_nid_expected_client) but whose block 0 lacks bSig. `hn` is
 * NULL when the heap could not be parsed, and `error` then says why. Return nonzero to stop. */
typedef int (*nth_pst_heap_fn)(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                               const nth_pst_error *error);

/* Finds every HN of the file: NBT nodes and, recursively, subnodes. Nodes whose data tree
 * cannot be read are reported through `problem` (may be NULL). */
NTH_PST_API nth_pst_status nth_pst_walk_heaps(nth_pst_file *file, nth_pst_heap_fn fn,
                                              void (*problem)(void *ctx,
                                                              const nth_pst_node_ref *ref,
                                                              const nth_pst_error *error),
                                              void *ctx, nth_pst_error *err);

/* ------------------------------------------------------------------------ writing back */

/* Sets property `id` of the PC held in `hn` to a value of `type` (little-endian bytes as a PC
 * stores them; UTF-16LE without terminator for PtypString): updates the record in the BTH
 * leaf, or inserts it in id order, and allocates, reallocates or frees the value's HN
 * allocation. NTH_PST_E_UNSUPPORTED (nothing changed) for a BTH with index levels, a value of
 * more than 3580 bytes or an old value held in a subnode. Any other failure (the heap is
 * full) can leave the heap partly edited: discard it. */
NTH_PST_API nth_pst_status nth_pst_pc_set(nth_pst_hn *hn, uint16_t id, uint16_t type,
                                          const void *value, size_t size, nth_pst_error *err);

/* Writes a heap back as the data of NBT node `nid` of the file at `path`. A one-page heap that
 * still fits the node's own block (cRef <= 2) is rewritten in place; otherwise the pages are
 * written as a new data tree (new BIDs from bidNextB, blocks of unchanged pages kept, an
 * XBLOCK over several pages, BBT entries inserted with page splits, space taken from the
 * allocation maps or from a new AMap span at the end of the file), the NBT entry is pointed at
 * it and the old tree released (blocks no longer referenced leave the BBT, zeroed and freed);
 * a block shared with other nodes is never written over. The file must validate sound before
 * and after. Atomic: the new file is written to a temporary file next to it, read back,
 * synced and renamed over the original, which is never modified in place.
 * NTH_PST_E_UNSUPPORTED for a node without data, a heap that would need an XXBLOCK, a file
 * that would need FMap pages to grow; NTH_PST_E_CORRUPT for a file that is not sound. */
NTH_PST_API nth_pst_status nth_pst_write_heap(const char *path, uint32_t nid,
                                              const nth_pst_hn *hn, nth_pst_error *err);

/* Sets property `id` of the PC of NBT node `nid` of the file at `path` to a value of `type`
 * (bytes as for nth_pst_pc_set), of any size one XBLOCK can hold: a value of a variable-size
 * type longer than 3580 bytes is written as a subnode of the node (a new NID_TYPE_LTP NID, a
 * data block or an XBLOCK over data blocks, a new SLBLOCK listing the node's subnodes, the
 * NBT entry's bidSub repointed; the old subnode tree released), smaller ones in the heap; an
 * old value held in a subnode is released. Atomic and checked as nth_pst_write_heap.
 * NTH_PST_E_UNSUPPORTED, nothing written, where nth_pst_write_heap refuses, for a PC whose
 * BTH has index levels, a value that would need an XXBLOCK (over 8,347,696 bytes Unicode,
 * 16,711,740 ANSI). More subnodes than one SLBLOCK holds (340 Unicode, 681 ANSI) are written
 * under an SIBLOCK. */
NTH_PST_API nth_pst_status nth_pst_set_property(const char *path, uint32_t nid, uint16_t id,
                                                uint16_t type, const void *value, size_t size,
                                                nth_pst_error *err);

/* ------------------------------------------------------------------------ validation */

/* Checks one heap of a file: nth_pst_hn_validate's rules, the bClientSig its NID type
 * requires, and that a PC or TC opens with every value resolved. Returns the number of
 * problems (hints excluded); fn may be NULL. */
NTH_PST_API size_t nth_pst_heap_check(nth_pst_file *file, const nth_pst_node_ref *ref,
                                      const nth_pst_hn *hn, nth_pst_problem_fn fn, void *ctx);

/* Receives each finding of nth_pst_validate. `ref` is the node concerned, or NULL for a
 * finding about the header, a B-tree or an allocation map; `hint` marks advisory notes (stale
 * fill levels, bytes past ibFileEof), which do not make a file unsound. */
typedef void (*nth_pst_finding_fn)(void *ctx, const nth_pst_node_ref *ref,
                                   const nth_pst_error *finding, bool hint);

/* What nth_pst_validate looked at and found. */
typedef struct nth_pst_report {
    bool sound;            /* no problem found (notes allowed) */
    size_t problems, notes;
    size_t bbt_pages, nbt_pages, blocks;
    size_t nodes, subnodes; /* nodes counts NBT nodes and subnodes */
    size_t data_trees;     /* distinct data-tree roots */
    size_t heaps, property_contexts, tables; /* heaps counts unreadable ones too */
    size_t amap_pages;
} nth_pst_report;

/* Checks the whole file: header vs. file size, both B-trees and every block, every data and
 * subnode tree (cycles, repeated blocks), node type vs. heap client, every heap, PC and TC,
 * and the allocation maps against the pages and blocks in use. Work and memory are bounded by
 * a constant times the file size. `fn` may be NULL. Returns NTH_PST_OK once the checks ran
 * (the verdict is report->sound). */
NTH_PST_API nth_pst_status nth_pst_validate(nth_pst_file *file, nth_pst_finding_fn fn, void *ctx,
                                            nth_pst_report *report);

#ifdef __cplusplus
}
#endif

#endif
