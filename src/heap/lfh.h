/*
 * lfh.h — the Low Fragmentation Heap front-end: its structures and the interface the rest of the
 * engine uses. The files behind it, one job each:
 *
 *   lfh_fast.h    the one pop and the one push of a subsegment's free list, and the owner-thread
 *                 fast paths built on them (inline)
 *   lfh.c         activation, allocation, free (local and remote), locate, resize
 *   lfh_subseg.c  subsegments: carving from the back-end, metadata, the bucket pools, remote
 *                 collection, retirement, repair of a damaged free list
 *   lfh_tcache.c  thread caches: creation, thread exit, fork, heap destroy, the pause protocol
 *   lfh_check.c   walk support, validation, statistics, trimming
 *
 * The trust boundary. User code may write any byte of an LFH block it was given or freed and of
 * the blocks around it, so the LFH keeps everything it trusts out of that reach:
 *
 *   user area: the data of a back-end block (busy|internal|LFH) of exactly k whole 64 KiB chunks
 *   C = A - 16 (a chunk boundary)                                              C + k * 64 KiB
 *   | hdr | (colour) | block 0 | block 1 | ...                   | block n-1 | (tail) |
 *         ^ A = owner.base; owner.reserve = k * 64 KiB - 16
 *                    ^ first_block = A + 64 c, c the subsegment's cache colour (lfh_subseg.c)
 *     ^ free blocks hold one encoded link word (below); nothing else of the LFH lives here
 *
 *   The address map names the descriptor for all k chunks, the header's included; consecutive
 *   subsegments lie back to back (the next header right after this tail). k is chosen per
 *   bucket (lfh_subseg.c): the fewest chunks, at most NTH_LFH_MAX_CHUNKS, that leave header and
 *   tail at most 1/NTH_LFH_WASTE_SHARE of the block.
 *
 *   metadata (its own private mapping, reached from the address map — whose entry for these
 *   chunks has its NTH_ADDRMAP_LFH bit set — and never adjacent to blocks)
 *   | nth_lfh_subsegment | busy 0 | remote 0 | busy 1 | remote 1 | ... | unused[] |
 *   ^ sub                ^ sub + NTH_LFH_META_HEAD: the two bitmaps interleaved, one pair of
 *                          words per 64 blocks (NTH_LFH_BITMAP_WORDS pairs, whatever n_blocks
 *                          is), then unused[] at a fixed offset, so that the fast paths address
 *                          them from the descriptor without loading a pointer, and a pop's or a
 *                          free's look at both bits of a block reads one cache line
 *
 *   busy bits    1 = allocated; set by the owner (or under the heap lock when unowned), cleared
 *                by every free with one atomic claim, so that one of two racing frees wins
 *   remote bits  1 = freed by another thread, not yet collected by the owner (atomic)
 *   a block below bump is busy, or waiting for collection (remote), or on the free list
 *   unused[]     per block: block_size - requested (u16), so sizes are exact
 *
 * The local free list is a LIFO (the last block freed is the first reused, as in the seed
 * lecture) threaded through the free blocks. Its head index lives in the descriptor; each free
 * block's first 8 bytes hold the next index twice (in both halves), XOR a per-subsegment
 * secret and the block's own address. A pop believes a link only when the two halves agree, the
 * index is below `bump`, and the block it names is neither busy nor remotely freed; anything else
 * is a damaged link (a write after free, an overrun into a free block), reported once with the
 * holder's address, after which the list is rebuilt from the bitmaps.
 *
 * Blocks below `bump` have been handed out at least once; blocks at or above it are untouched.
 */
#ifndef NTH_LFH_H
#define NTH_LFH_H

#include "heap/internal.h"

#define NTH_LFH_BUCKETS 128u
#define NTH_LFH_MAX_SIZE 16384u
#define NTH_LFH_MAGIC 0xF0E0D0C0u /* Windows' UserBlocks signature */
#define NTH_LFH_MAX_BLOCKS 4096u  /* 64 KiB of 16-byte blocks */
#define NTH_LFH_BITMAP_WORDS (NTH_LFH_MAX_BLOCKS / 64u)
#define NTH_LFH_NO_BLOCK 0xFFFFFFFFu /* end of a free list */
#define NTH_LFH_MAX_CHUNKS 8u        /* a subsegment's back-end block: at most 8 x 64 KiB */
#define NTH_LFH_WASTE_SHARE 20u      /* ... leaving at most 1/20 of it to header and tail */
#define NTH_LFH_HELD 2u              /* filled subsegments a cache keeps per bucket (lfh.c) */
#define NTH_LFH_THREAD_WARMUP 8u     /* a joining thread's back-end allocations per size (lfh.c) */
#define NTH_LFH_COLOURS 16u          /* cache colours of subsegments (lfh_subseg.c) */
#define NTH_LFH_MAX_COLOUR ((NTH_LFH_COLOURS - 1u) * 64u) /* bytes */

typedef struct nth_lfh_subsegment {
    /* -- cache line 0: the address map's owner record and what other threads read -- */
    nth_owner owner;                 /* kind OWNER_LFH; base = A, reserve = k * 64 KiB - 16 */
    size_t span;                     /* n_blocks * block_size */
    uint32_t reciprocal;             /* ceil(2^32 / block_size), for index = offset / size */
    uint32_t n_used;                 /* unowned: at most the blocks still out (a trigger, see lfh.c) */
    uint32_t magic;
    uint32_t n_words;                /* bitmap words in use */
    uint32_t n_blocks;
    uint16_t unused_width;           /* bytes per unused[] entry: 2 */
    uint16_t bucket;
    /* -- cache line 1: everything the owner's fast pop and free read, and nothing else writes
     *    (so that a pair reads one line of the descriptor, and remote frees do not bounce it) -- */
    _Alignas(64) _Atomic(struct nth_lfh_tcache *) owner_cache; /* its current or held; NULL: in the
                                                                * bucket's pool */
    char *first_block;               /* A: block 0 */
    uint64_t link_key;               /* secret mixed into every encoded link */
    uint64_t index_inverse;          /* block_size = odd << index_shift: odd's inverse mod 2^64 */
    uint32_t block_size;             /* bytes, the stride */
    uint32_t bump;                   /* blocks [0, bump) have been handed out before */
    uint32_t free_head;              /* first block of the local free list, or NTH_LFH_NO_BLOCK */
    uint32_t index_shift;            /* (see nth_lfh_free_index) */
    uint64_t *busy_bits;             /* at NTH_LFH_META_HEAD, word w at byte 16 w (interleaved) */
    _Atomic uint64_t *remote_bits;   /* 8 bytes further, word w at byte 16 w */
    /* -- the rest -- */
    _Alignas(64) _Atomic uint32_t remote_count; /* remote bits set and not yet collected (written
                                                 * by other threads: a line of its own use) */
    uint32_t meta_colour;            /* bytes between the metadata mapping's start and this
                                      * descriptor (its cache colour, lfh_subseg.c) */
    unsigned char *unused;           /* at NTH_LFH_META_UNUSED */
    size_t meta_bytes;               /* bytes of this metadata mapping from the descriptor on */
    nth_segment *segment;            /* the segment holding the user area */
    struct nth_lfh_subsegment *next; /* all-subsegments list of the heap (under the heap lock) */
    struct nth_lfh_subsegment *prev;
    struct nth_lfh_subsegment *pool_next; /* bucket pool of retired subsegments; a cache's held
                                           * list; the idle list */
    struct nth_lfh_subsegment *pool_prev;
} nth_lfh_subsegment;
_Static_assert(offsetof(nth_lfh_subsegment, owner_cache) == 64 && offsetof(nth_lfh_subsegment, remote_count) == 128,
               "the descriptor's second cache line holds the fast paths' fields, the third the remote count");

typedef struct nth_lfh_bucket_pool {
    nth_lfh_subsegment *head;        /* retired subsegments, oldest first (a FIFO) */
    nth_lfh_subsegment *tail;
    uint32_t count;
} nth_lfh_bucket_pool;

#define NTH_LFH_GATE_PAUSED 1u       /* heap->lfh_paused > 0 */
#define NTH_LFH_GATE_FENCE 2u        /* no membarrier: each fast operation issues a full fence */

/* Where the bitmaps and unused[] start in a descriptor's mapping (see the diagram above). */
#define NTH_LFH_META_HEAD ((sizeof(nth_lfh_subsegment) + 63u) & ~(size_t)63u)
#define NTH_LFH_PAIR_BYTES 16u /* a busy word and its remote word */
#define NTH_LFH_META_UNUSED (NTH_LFH_META_HEAD + NTH_LFH_PAIR_BYTES * NTH_LFH_BITMAP_WORDS)

/* One per (thread, heap): the subsegments the thread allocates from. Lives outside the heap
 * (its own mapping), so a thread can tidy up after its heap was destroyed. */
typedef struct nth_lfh_tcache {
    _Atomic(nth_heap *) heap;        /* NULL once the heap is destroyed */
    struct nth_lfh_tcache *thread_next;  /* this thread's caches */
    struct nth_lfh_tcache *heap_next;    /* the heap's caches (under the heap lock) */
    struct nth_lfh_tcache *heap_prev;
    struct nth_lfh_tcache *orphan_next;  /* on the heap's spare stack (its thread has exited) */
    _Atomic uint32_t in_op;          /* 1 while a fast-path operation runs (see lfh_tcache.c) */
    _Atomic uint32_t gate;           /* 0, or NTH_LFH_GATE_* bits: the fast path's one test */
    nth_lfh_subsegment *current[NTH_LFH_BUCKETS];
    nth_lfh_subsegment *held[NTH_LFH_BUCKETS]; /* subsegments it filled and still owns, newest
                                                * first (pool_next; under the heap lock) */
    uint8_t n_held[NTH_LFH_BUCKETS];
    uint8_t warmup[NTH_LFH_BUCKETS]; /* allocations of each bucket this cache still leaves to the
                                      * back-end before it takes a subsegment (lfh.c) */
} nth_lfh_tcache;

/* The per-heap LFH object, created at the first activation in a private mapping of its own. */
typedef struct nth_lfh {
    uint32_t magic;
    uint32_t n_subsegments;
    uint32_t subsegments_made;       /* ever created: the next one's cache colour */
    nth_lfh_subsegment *all;         /* every subsegment of the heap */
    nth_lfh_subsegment *idle;        /* metadata mappings of released subsegments, for reuse */
    nth_lfh_tcache *caches;          /* every thread cache of the heap */
    _Atomic(nth_lfh_tcache *) orphans; /* spare caches of exited threads (lfh_tcache.c) */
    _Atomic uint32_t n_orphans;      /* caches on that stack */
    size_t subsegment_bytes;         /* bytes of subsegment user areas */
    uint64_t damaged_links;          /* free-list links found damaged (and repaired) */
    nth_lfh_bucket_pool pools[NTH_LFH_BUCKETS];
    _Atomic uint8_t active[NTH_LFH_BUCKETS]; /* bucket served by the LFH */
} nth_lfh;

/* The bucket index for a request of `size` bytes (size <= NTH_LFH_MAX_SIZE). */
static inline unsigned nth_lfh_bucket(size_t size)
{
    if (size <= 1024) return size ? (unsigned)((size + 15) >> 4) - 1u : 0u;
    unsigned k = 31u - (unsigned)__builtin_clz((unsigned)(size - 1));
    return 64u + (k - 10u) * 16u + (unsigned)(((size - 1) - ((size_t)1 << k)) >> (k - 4u));
}

/* The block size of a bucket, bytes. */
static inline uint32_t nth_lfh_bucket_size(unsigned bucket)
{
    if (bucket < 64) return (bucket + 1u) * 16u;
    unsigned k = 10u + (bucket - 64u) / 16u, j = (bucket - 64u) % 16u;
    return (1u << k) + (j + 1u) * (1u << (k - 4u));
}

/* ------------------------------------------------------------------------------ lfh.c */

/* The full LFH paths behind lfh_fast.h's inline ones: NULL when the LFH does not take the
 * request (the caller goes on to the back-end). `heap` is a live heap: checked by the caller,
 * or proven by `tc`, this thread's cache for it (nth_lfh_cache_for), which the caller looked up
 * (NULL: it has none yet). */
void *nth_lfh_alloc(nth_heap *heap, struct nth_lfh_tcache *tc, uint32_t flags, size_t size);
/* Frees an LFH block found in `sub`; reports a bad pointer. */
bool nth_lfh_free(nth_heap *heap, nth_lfh_subsegment *sub, void *ptr);
/* The free fast path's next step when the block is not its thread's (another thread's
 * subsegment, a retired one) or the heap is paused: true when ptr starts a block of `sub`
 * handed out before, which is then freed, or its double free refused and reported as `call`'s;
 * false, with nothing done, for any other address (the caller's full path reports it). `sub`
 * may be the address map's alias for an address beyond its reach (nth_lfh_subsegment_fast). */
bool nth_lfh_free_if_block(nth_lfh_subsegment *sub, void *ptr, const char *call);
bool nth_lfh_free_located_locked(nth_heap *heap, nth_located *where);
nth_error nth_lfh_locate(nth_heap *heap, nth_lfh_subsegment *sub, const void *ptr, nth_located *out,
                         const char **expected, const char **found);
/* Resizes an LFH block in place when the new size fits its bucket. */
bool nth_lfh_resize(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, size_t size);
/* Called by the locked back-end path for every small request of a heap with lfh_enabled, to
 * count toward activation. */
void nth_lfh_note_backend_alloc_locked(nth_heap *heap, size_t size);
void nth_lfh_note_backend_free_locked(nth_heap *heap, size_t size);

/* ------------------------------------------------------------------------ lfh_subseg.c */

/* A subsegment with a free block for `tc`: one it holds, else a pooled one, else a new one. */
nth_lfh_subsegment *nth_lfh_acquire_subsegment_locked(nth_heap *heap, struct nth_lfh_tcache *tc, unsigned bucket);
/* Keeps `tc`'s filled current subsegment among its held ones, retiring the oldest held one
 * beyond NTH_LFH_HELD. */
void nth_lfh_hold_locked(nth_heap *heap, struct nth_lfh_tcache *tc, nth_lfh_subsegment *sub);
/* Retires every subsegment `tc` holds (not its current ones); with `only_empty`, those entirely
 * free, which go back to the back-end. */
void nth_lfh_retire_held_locked(nth_heap *heap, struct nth_lfh_tcache *tc, bool only_empty);
/* Retires a cache's subsegment to its bucket pool, or to the back-end when empty. */
void nth_lfh_retire_locked(nth_heap *heap, nth_lfh_subsegment *sub);
/* Gives an unowned, entirely free subsegment back to the back-end. */
void nth_lfh_release_subsegment_locked(nth_heap *heap, nth_lfh_subsegment *sub);
void nth_lfh_pool_remove(nth_lfh *lfh, nth_lfh_subsegment *sub);
/* Moves remote frees onto the local free list (owner, or heap lock on an unowned subsegment);
 * returns how many. */
uint32_t nth_lfh_collect_remote(nth_heap *heap, nth_lfh_subsegment *sub);
/* Reports the damaged link held by block `index` and rebuilds the local free list. */
void nth_lfh_repair_free_list(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index);
/* The subsegment whose user area is the back-end block `block` of `heap`, or NULL. */
nth_lfh_subsegment *nth_lfh_in_block(const nth_heap *heap, const char *block);
/* Unmaps every subsegment's metadata and the LFH object (heap destroy). */
void nth_lfh_release_metadata(nth_heap *heap);

/* ------------------------------------------------------------------------ lfh_tcache.c */

/* This thread's cache for `heap`, or NULL. */
struct nth_lfh_tcache *nth_lfh_cache_for(const nth_heap *heap);
/* Creates this thread's cache for `heap`, or takes over an exited thread's spare when the thread
 * is about to allocate (a thread that only frees would strand the spare's subsegments); called
 * without the heap lock. */
struct nth_lfh_tcache *nth_lfh_create_cache(nth_heap *heap, bool to_allocate);
/* Retires the subsegments of exited threads' spare caches, when there are more than `keep`. */
#define NTH_LFH_SPARE_CACHES 4u
void nth_lfh_adopt_orphans_locked(nth_heap *heap, uint32_t keep);
/* Keep every fast path out while the heap is locked by a user, validated or compacted. */
void nth_lfh_pause(nth_heap *heap);
void nth_lfh_resume(nth_heap *heap);
void nth_lfh_destroy(nth_heap *heap);
/* fork(): the cache lock is held across it (heap.c takes every engine lock in order). */
void nth_lfh_fork_prepare(void);
void nth_lfh_fork_release(void);

/* ------------------------------------------------------------------------- lfh_check.c */

/* Walk support: the busy blocks of a subsegment from an index on. */
bool nth_lfh_next_busy(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t from, nth_walk_entry *entry);
bool nth_lfh_check_subsegment(nth_heap *heap, char *block);
bool nth_lfh_check_heap(nth_heap *heap);
void nth_lfh_add_stats(nth_heap *heap, nth_heap_stats *stats);
void nth_lfh_trim_locked(nth_heap *heap);

/* The fast paths' shared state (lfh_tcache.c), for lfh_fast.h. */
extern NTH_TLS nth_lfh_tcache *nth_lfh_tls_recent;
extern NTH_TLS nth_lfh_tcache *nth_lfh_tls_process; /* this thread's cache for the process heap */

#endif
