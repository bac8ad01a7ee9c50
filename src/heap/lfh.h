/*
 * lfh.h — the Low Fragmentation Heap front-end: structures and the interface the rest of the
 * engine uses. See lfh.c for the algorithm.
 *
 * A subsegment is a back-end block (busy, internal, BLOCK_LFH) whose data starts on a 64 KiB
 * boundary and spans whole chunks; the address map sends those chunks to the subsegment, so a
 * pointer leads to its subsegment in O(1) and LFH blocks need no header of their own:
 *
 *   A (64 KiB aligned)                                                     A + chunks * 64 KiB
 *   | nth_lfh_subsegment | busy bits | remote bits | unused[] | block 0 | block 1 | ... |     |
 *                                                            ^ A + first_offset, stride block_size
 *
 *   busy bits    1 = the block is allocated; written by the owning thread only
 *   remote bits  1 = freed by another thread, not yet collected by the owner (atomic)
 *   unused[]     per block: block_size - requested (u8, or u16 for buckets above 8 KiB), so
 *                nth_heap_size stays exact
 *
 * Blocks below `bump` have been handed out at least once; blocks at or above it are untouched
 * (their pages are not faulted in until needed).
 */
#ifndef NTH_LFH_H
#define NTH_LFH_H

#include "heap/internal.h"

#define NTH_LFH_BUCKETS 128u
#define NTH_LFH_MAX_SIZE 16384u
#define NTH_LFH_MAGIC 0xF0E0D0C0u /* Windows' UserBlocks signature */
#define NTH_LFH_MAX_BLOCKS 4096u  /* 64 KiB of 16-byte blocks */
#define NTH_LFH_BITMAP_WORDS (NTH_LFH_MAX_BLOCKS / 64u)

typedef struct nth_lfh_subsegment {
    nth_owner owner;                 /* kind OWNER_LFH; base = A, reserve = chunks * 64 KiB */
    /* -- the fast paths' fields, in the first two cache lines -- */
    _Atomic(struct nth_lfh_tcache *) owner_cache; /* NULL: retired, in the bucket's pool */
    void *local_free;                /* owner's LIFO of free blocks (next pointer in the block) */
    char *first_block;               /* A + first_offset */
    size_t span;                     /* n_blocks * block_size */
    uint32_t block_size;             /* bytes, the stride */
    uint32_t reciprocal;             /* ceil(2^32 / block_size), for index = offset / size */
    uint32_t bump;                   /* blocks [0, bump) have been handed out before */
    uint32_t n_used;                 /* busy blocks as the owner counts them (retired: frozen) */
    uint64_t *busy_bits;
    _Atomic uint64_t *remote_bits;
    unsigned char *unused;
    uint16_t unused_width;           /* 1 or 2 bytes per unused[] entry */
    uint16_t bucket;
    uint32_t magic;
    /* -- the rest -- */
    _Atomic uint32_t remote_count;   /* remote bits set and not yet collected */
    uint32_t n_words;                /* bitmap words in use */
    uint32_t n_blocks;
    uint32_t first_offset;           /* from A to block 0 */
    nth_segment *segment;            /* the segment holding the back-end block */
    struct nth_lfh_subsegment *next; /* all-subsegments list of the heap (under the heap lock) */
    struct nth_lfh_subsegment *prev;
    struct nth_lfh_subsegment *pool_next; /* bucket pool of retired subsegments */
    struct nth_lfh_subsegment *pool_prev;
} nth_lfh_subsegment;

typedef struct nth_lfh_bucket_pool {
    nth_lfh_subsegment *head;        /* retired subsegments, oldest first (a FIFO) */
    nth_lfh_subsegment *tail;
    uint32_t count;
} nth_lfh_bucket_pool;

/* One per (thread, heap): the subsegments the thread allocates from. Lives outside the heap
 * (its own mapping), so a thread can tidy up after its heap was destroyed. */
typedef struct nth_lfh_tcache {
    _Atomic(nth_heap *) heap;        /* NULL once the heap is destroyed */
    struct nth_lfh_tcache *thread_next;  /* this thread's caches */
    struct nth_lfh_tcache *heap_next;    /* the heap's caches (under the heap lock) */
    struct nth_lfh_tcache *heap_prev;
    _Atomic uint32_t in_op;          /* 1 while a fast-path operation runs (see lfh_pause) */
    _Atomic uint32_t paused;         /* mirrors heap->lfh_paused > 0, read by the owner's fast path */
    nth_lfh_subsegment *current[NTH_LFH_BUCKETS];
} nth_lfh_tcache;

/* The per-heap LFH object: a back-end internal block, created at the first activation. */
typedef struct nth_lfh {
    uint32_t magic;
    uint32_t n_subsegments;
    _Atomic uint32_t paused;         /* > 0: fast paths take the heap lock */
    uint32_t reserved;
    nth_lfh_subsegment *all;         /* every subsegment of the heap */
    nth_lfh_tcache *caches;          /* every thread cache of the heap */
    size_t subsegment_bytes;         /* bytes of subsegment areas (their headers excluded) */
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

/* The full LFH paths behind lfh_fast.h's inline ones: NULL when the LFH does not take the
 * request (the caller goes on to the back-end). */
void *nth_lfh_alloc(nth_heap *heap, uint32_t flags, size_t size);
/* Frees an LFH block found in `sub`; reports a bad pointer. */
bool nth_lfh_free(nth_heap *heap, nth_lfh_subsegment *sub, void *ptr);

/* Called by the locked back-end path for every small request, to count toward activation. */
void nth_lfh_note_backend_alloc_locked(nth_heap *heap, size_t size);
void nth_lfh_note_backend_free_locked(nth_heap *heap, size_t size);

nth_error nth_lfh_locate(nth_heap *heap, nth_lfh_subsegment *sub, const void *ptr, nth_located *out,
                         const char **expected, const char **found);
/* Resizes an LFH block in place when the new size fits its bucket. */
bool nth_lfh_resize(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index, size_t size);
bool nth_lfh_free_located_locked(nth_heap *heap, nth_located *where);

/* Walk support: the subsegment inside a back-end block, and its busy blocks from an index on. */
nth_lfh_subsegment *nth_lfh_in_block(char *block);
bool nth_lfh_next_busy(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t from, nth_walk_entry *entry);
bool nth_lfh_index_of(const nth_lfh_subsegment *sub, const void *ptr, uint32_t *index);

/* Keep every fast path out while the heap is locked by a user, validated or compacted. */
void nth_lfh_pause(nth_heap *heap);
void nth_lfh_resume(nth_heap *heap);

bool nth_lfh_check_subsegment(nth_heap *heap, char *block);
bool nth_lfh_check_heap(nth_heap *heap);
void nth_lfh_add_stats(nth_heap *heap, nth_heap_stats *stats);
void nth_lfh_trim_locked(nth_heap *heap);
void nth_lfh_destroy(nth_heap *heap);
/* fork(): the cache lock is held across it (heap.c takes every engine lock in order). */
void nth_lfh_fork_prepare(void);
void nth_lfh_fork_release(void);

/* The fast paths' shared state (lfh.c), for lfh_fast.h. */
extern NTH_TLS nth_lfh_tcache *nth_lfh_tls_recent;
extern _Atomic bool nth_lfh_fast_path_needs_fence;

#endif
