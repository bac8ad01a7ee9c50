/*
 * layout.h — every in-memory structure of the heap engine, with its byte layout.
 *
 * Glossary (units are part of names):
 *   bytes    no suffix            granules  _gr (16 bytes)        pages  _pg (4 KiB)
 *   chunk    64 KiB, the unit of the address map and of every reservation's alignment
 *   segment  one reservation of address space holding back-end blocks
 *   big      a block above the virtual-memory threshold, mapped on its own
 *   UCR      an uncommitted range inside a segment
 *
 * A segment (64 KiB aligned; segment 0 of a heap starts with the heap object itself):
 *
 *   base                                                               base + limit
 *   | hdr | nth_segment (| nth_heap) | block | block | ... | LAST |  UCR ...      |
 *   '----- header block (busy, internal) -'                        '- uncommitted -'
 *
 *   Blocks tile the committed part of a segment exactly. The block before an uncommitted range,
 *   and the block that ends at the segment's limit, carry BLOCK_LAST; the first block after an
 *   uncommitted range has prev_size_gr 0. Free blocks are never adjacent (they coalesce), unless
 *   the heap was created with NTH_DISABLE_COALESCE_ON_FREE.
 *
 * A block (16-byte aligned; data = header + 16):
 *
 *   0        4             8       10   11     12        16
 *   +--------+-------------+-------+----+------+---------+-------------------------+
 *   | size_gr| prev_size_gr| flags |seg |unused| check   | data ... [fill] [extra] |
 *   +--------+-------------+-------+----+------+---------+-------------------------+
 *   '------------ stored XOR the heap's 16-byte key ------'
 *
 *   size_gr       the whole block in granules, header included
 *   prev_size_gr  size of the physically previous block (0: first after a UCR / segment start)
 *   flags         BLOCK_* below; user flag bits share NTH_SETTABLE_USER_FLAG* values
 *   seg           segment index within the heap, modulo 256 (a consistency check only; the
 *                 segment of a block is found through the address map)
 *   unused        bytes of the block not given to the caller, header included, so the requested
 *                 size is exact: requested = size_gr * 16 - unused
 *   check         a 32-bit hash of the other 12 bytes and of the header's own address: a header
 *                 copied elsewhere, overwritten, or read at an interior address fails it
 *
 *   fill   with NTH_TAIL_CHECKING_ENABLED: bytes from the end of the data up to the extra (or the
 *          block end) hold NTH_FILL_TAIL (0xAB), at least one granule
 *   extra  with BLOCK_EXTRA: the last granule holds the user value (uintptr_t) for
 *          NTH_SETTABLE_USER_VALUE blocks
 *
 * A free block keeps its list links in the first data granule:
 *
 *   | header (flags: no BUSY) | next | prev | [0xFEEEFEEE fill with FREE_CHECKING] ... |
 *
 *   The links lie in memory a stale pointer can still write, so they are checked before every
 *   use. A free block whose links were found overwritten gets BLOCK_DAMAGED: it stays in the
 *   tiling, is on no list, never coalesces, and is never handed out again.
 *
 * A big block: its own 64 KiB aligned mapping, holding nothing the engine trusts, and a record
 * (nth_big) in an engine-private record page, which the address map names as the owner of every
 * chunk of the mapping:
 *
 *   mapping   base   +lead          +lead+112      +lead+128 = data
 *             | ... | canary 112 B  | block header | data ...                 | (to 64 KiB) |
 *                    '-- user-writable, only ever checked against the record --'
 *
 *   record page (64 KiB reservation; first and last page stay inaccessible as guards)
 *             | guard | nth_big_page | nth_big | nth_big | ... | guard |
 *
 *   canary   14 words, each the heap key mixed with its own address; header: the encoded block
 *            header of the record's size and flags. Both are rebuilt from the record after a
 *            damage report, never read back into it.
 */
#ifndef NTH_LAYOUT_H
#define NTH_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ntheap.h"
#include "heap/lock.h"

#define NTH_GRANULE 16u
#define NTH_LG_GRANULE 4
#define NTH_PAGE 4096u
#define NTH_LG_CHUNK 16
#define NTH_CHUNK ((size_t)1 << NTH_LG_CHUNK)

/* Requests whose block would be at least this many granules are big blocks (growable heaps);
 * fixed heaps refuse them, as Windows does. */
#define NTH_BIG_THRESHOLD_GR 0xFE00u
/* The largest request the API accepts (leaves room for rounding without overflow). */
#define NTH_MAX_REQUEST ((size_t)1 << 35)

#define NTH_MIN_FREE_GR 2u   /* header + links */
/* Uncommitted ranges a segment tracks inside its own header; beyond that its table moves to a
 * mapping of its own (segment.c), so a segment never refuses to decommit for want of a slot. */
#define NTH_INLINE_UCR 32u

#define NTH_HEAP_MAGIC 0xEEFFEEFFu    /* Windows' _HEAP.Signature */
#define NTH_SEGMENT_MAGIC 0xFFEEFFEEu /* Windows' segment signature */
#define NTH_BIG_MAGIC 0xB16B10C5u
#define NTH_LAYOUT_VERSION 4u

#define NTH_FILL_TAIL 0xABu
#define NTH_FILL_FREE 0xFEEEFEEEu
#define NTH_FILL_NEW 0xBAADF00Du

/* Block flags (decoded header). */
enum {
    BLOCK_BUSY = 0x0001,
    BLOCK_EXTRA = 0x0002,    /* last granule holds the user value */
    BLOCK_FILL = 0x0004,     /* busy: tail fill present; free: body filled with NTH_FILL_FREE */
    BLOCK_BIG = 0x0008,
    BLOCK_LAST = 0x0010,     /* last block before a UCR or the segment's limit */
    BLOCK_INTERNAL = 0x0020, /* allocated by the heap for itself */
    BLOCK_LFH = 0x0040,      /* an LFH subsegment */
    BLOCK_DAMAGED = 0x0080,  /* free block taken out of service: its links were overwritten */
    BLOCK_USER_FLAGS = NTH_SETTABLE_USER_FLAGS,
};

typedef struct nth_block_header {
    uint32_t size_gr;
    uint32_t prev_size_gr;
    uint16_t flags;
    uint8_t segment_index;
    uint8_t unused;
    uint32_t check;
} nth_block_header;

_Static_assert(sizeof(nth_block_header) == NTH_GRANULE, "a block header is one granule");
_Static_assert(offsetof(nth_block_header, flags) == 8, "layout diagram");
_Static_assert(offsetof(nth_block_header, check) == 12, "layout diagram");

typedef struct nth_free_links {
    struct nth_free_links *next;
    struct nth_free_links *prev;
} nth_free_links;

/* Kinds of owner in the address map. */
enum { OWNER_SEGMENT = 1, OWNER_BIG = 2, OWNER_LFH = 3 };

/* The common prefix of everything the address map points at: a reader (this process, another
 * process, a core file) identifies the owner of any address from it alone. */
typedef struct nth_owner {
    uint32_t magic;
    uint16_t kind;
    uint16_t index;         /* segment index; 0 for big blocks */
    struct nth_heap *heap;
    char *base;
    size_t reserve;         /* bytes of address space from base */
} nth_owner;

typedef struct nth_ucr {
    uint32_t offset_pg;     /* from the segment base */
    uint32_t size_pg;
    uint32_t last_block_gr; /* offset from the base of the block ending where the range starts */
} nth_ucr;

typedef struct nth_segment {
    nth_owner owner;      /* kind OWNER_SEGMENT; index: creation order (wraps at 65536) */
    struct nth_segment *next; /* the heap's segments in creation order */
    char *first_block;    /* header of the first block after the segment's header block */
    char *limit;          /* end of the usable range (fixed heaps: maximum rounded to pages) */
    size_t committed;     /* bytes committed in [base, limit) */
    nth_ucr *ucr;         /* ucr_inline, or a mapping of ucr_map_bytes once that is full */
    uint32_t n_ucr;       /* ranges in ucr[], sorted by offset, never adjacent */
    uint32_t ucr_capacity;
    size_t ucr_map_bytes; /* 0 while the table is inline */
    nth_ucr ucr_inline[NTH_INLINE_UCR];
} nth_segment;

/* A big block's record. Lives in a record page (never in user-reachable memory); the list links,
 * the size, the flags and the user value are believed from here only. */
typedef struct nth_big {
    nth_owner owner;          /* kind OWNER_BIG; base/reserve: the whole mapping; magic 0: spare */
    struct nth_big *next, *prev; /* the heap's big blocks in allocation order; spare: next spare */
    char *data;               /* data address: base + lead + NTH_BIG_HEADER_BYTES */
    size_t size;              /* requested bytes */
    uintptr_t user_value;     /* NTH_SETTABLE_USER_VALUE */
    uint16_t flags;           /* BLOCK_BUSY | BLOCK_BIG | user flags */
    uint16_t region;          /* the mapping it was carved from (bigcache.c: only such pieces merge) */
    uint32_t dirty_pg;        /* pages from base that may hold nonzero bytes (written since mapped) */
    uint16_t page_heap;       /* nonzero: a page-heap block (debug/pageheap.c), NTH_PAGE_BLOCK_* */
    uint16_t reserved1[3];
} nth_big;

/* nth_big.page_heap: a page-heap block has no in-band prefix; it has a user value only when the
 * allocation asked for one (NTH_SETTABLE_USER_VALUE), as the engine's block it stands for would. */
enum { NTH_PAGE_BLOCK = 1, NTH_PAGE_BLOCK_USER_VALUE = 2 };

/* A freed big-block mapping kept for reuse (bigcache.c). */
typedef struct nth_big_cached {
    char *base;
    size_t bytes;
    size_t dirty;    /* bytes from base that may be nonzero; the rest is known zero */
    uint16_t region; /* the mapping it was carved from: only pieces of one mapping merge */
} nth_big_cached;

/* The head of a record page: pages form a list on the heap; each keeps its spare records. */
typedef struct nth_big_page {
    uint32_t magic;           /* NTH_BIG_PAGE_MAGIC */
    uint32_t live;            /* records in use */
    struct nth_big_page *next;
    nth_big *spare;           /* records not in use, linked through next */
    uint64_t reserved;
    nth_big records[];
} nth_big_page;

#define NTH_BIG_PAGE_MAGIC 0xB16BA6E5u
#define NTH_BIG_PAGE_RESERVE NTH_CHUNK
#define NTH_BIG_PAGE_COMMIT (NTH_CHUNK - 2 * NTH_PAGE) /* one guard page at each end */
#define NTH_BIG_PAGE_RECORDS ((NTH_BIG_PAGE_COMMIT - sizeof(nth_big_page)) / sizeof(nth_big))
#define NTH_BIG_HEADER_BYTES 128u /* data 128-byte aligned, like a cache-line pair */
#define NTH_BIG_CANARY_WORDS ((NTH_BIG_HEADER_BYTES - sizeof(nth_block_header)) / sizeof(uint64_t))

/* Free lists: sizes below NTH_EXACT_LISTS granules have one list each; larger sizes share
 * classes of 8 per power of two. A bitmap marks the non-empty lists. */
#define NTH_EXACT_LISTS 128u
#define NTH_CLASS_SUBDIV_LG 3
#define NTH_FREE_LISTS (NTH_EXACT_LISTS + (32u - 7u) * (1u << NTH_CLASS_SUBDIV_LG))
#define NTH_BITMAP_WORDS ((NTH_FREE_LISTS + 63u) / 64u)

struct nth_lfh;

typedef struct nth_heap {
    nth_block_header header_block; /* the heap object is the first busy block of segment 0 */
    nth_segment segment0;
    uint32_t magic;                /* NTH_HEAP_MAGIC */
    uint32_t layout_version;
    uint32_t flags;                /* creation flags */
    uint32_t force_flags;          /* flags OR-ed into every call */
    uint64_t key[2];               /* header encoding key */
    size_t maximum;                /* 0: growable */
    size_t segment_reserve;        /* reserve of the next segment; doubles after each */
    size_t commit_step;            /* bytes committed at a time */
    size_t decommit_free_block;    /* free blocks at least this big are decommitted ... */
    size_t decommit_total_free;    /* ... once free bytes exceed this */
    bool terminate_on_corruption;
    _Atomic bool lfh_enabled;      /* read by LFH fast paths without the lock */
    uint8_t debug_modes;           /* NTH_DEBUG_* (src/heap/debug/debug.h); fixed at creation */
    uint8_t reserved1[5];
    nth_lock lock;
    struct nth_heap *next_heap, *prev_heap; /* registry list */
    nth_segment *first_segment, *last_segment; /* a list: no cap on the number of segments */
    uint32_t n_segments;
    uint32_t reserved2;
    nth_big *big_list, *big_tail; /* records of big blocks in allocation order */
    nth_big_page *big_pages;       /* record pages (bigblock.c) */
    /* Mappings of freed big blocks kept for reuse (bigcache.c): committed, owned by no one. */
    nth_big_cached *big_cache;     /* engine-private page, oldest first; NULL until first used */
    uint32_t big_cache_n;
    uint16_t big_region_next;       /* id of the next fresh mapping (wraps; ids only gate merges) */
    uint16_t reserved4;
    size_t big_cache_bytes;
    size_t big_peak, big_peak_prev; /* peak live big-block bytes: this epoch, the one before */
    uint64_t big_epoch_ms;          /* start of this epoch (nth_vm_clock_ms) */
    size_t big_epoch_volume;        /* bytes of big blocks allocated in this epoch */
    size_t big_cache_decay_ms;      /* option: epoch length; 0 keeps no cache */
    size_t big_cache_max;           /* option: at most this many cached bytes */
    /* Demand for back-end memory (decommit_policy.c): live back-end bytes, and the peak of the
     * memory in use (live plus free bytes) in this epoch and the one before; free memory that
     * recent demand covers stays committed. */
    size_t backend_live, backend_peak, backend_peak_prev;
    uint64_t backend_epoch_ms;      /* start of this epoch (nth_vm_clock_ms) */
    size_t decommit_decay_ms;       /* option: epoch length; 0 decommits as soon as the thresholds say */
    /* counters kept exact under the lock */
    size_t busy_blocks, busy_bytes, free_blocks, free_bytes;
    size_t big_blocks, big_bytes, reserved_bytes, committed_bytes;
    uint64_t commit_ops, decommit_ops, alloc_calls, free_calls;
    size_t damaged_blocks, damaged_bytes; /* free blocks taken out of service (backend.c) */
    _Atomic(struct nth_lfh *) lfh; /* NULL until the first bucket activates; read without the lock */
    _Atomic uint32_t lfh_paused;   /* > 0: LFH fast paths must take the lock (lfh.c) */
    bool lfh_create_pending;       /* a bucket crossed the threshold before the LFH existed */
    uint8_t reserved3[3];
    uint64_t freelist_bitmap[NTH_BITMAP_WORDS];
    /* Into the heap's side table (below): the free-list heads and the LFH usage counters. */
    nth_free_links *freelists;
    uint16_t *lfh_usage;           /* per-bucket activation counters (Windows' UsageData) */
} nth_heap;

/* The heap's side table: its larger fixed tables, in a private mapping made with the heap and
 * released with it (segment.c). Kept out of the heap header, they leave a small fixed heap's
 * reservation to blocks (as many as Windows holds) and a new heap's header within one page. */
typedef struct nth_heap_side {
    nth_free_links freelists[NTH_FREE_LISTS];
    uint16_t lfh_usage[128];
} nth_heap_side;

/* The process-wide registry: one symbol from which an outside reader finds every heap. */
typedef struct nth_registry {
    uint32_t magic;        /* NTH_REGISTRY_MAGIC */
    uint32_t layout_version;
    uint32_t heap_struct_size, segment_struct_size; /* so readers can check their layout */
    nth_heap *process_heap;
    nth_heap *first_heap;
    size_t n_heaps;
    struct nth_trace_db *traces; /* the stack-trace database, or NULL (debug/traces.c) */
    /* For outside readers of the debug heap (debug/outside_layout.h): the first tag table
     * (debug/tags.c) and the delayed-free queue (debug/delay.c), or NULL. */
    struct nth_tag_table *tag_tables;
    struct nth_delay_queue *delayed;
} nth_registry;

#define NTH_REGISTRY_MAGIC 0x4E544850u /* "NTHP" */

#endif
