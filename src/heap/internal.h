/*
 * internal.h — what the engine's files share: block-header encoding, the address map, and the
 * prototypes of each file grouped under its name.
 *
 * Units are part of names: bytes (no suffix), _gr granules (16 B), _pg pages (4 KiB).
 * Functions named *_locked run with the heap lock held (or on a NO_SERIALIZE heap).
 */
#ifndef NTH_INTERNAL_H
#define NTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "heap/layout.h"
#include "heap/debug/visibility.h"

/* Always-defined 0/1 build switches. */
#ifndef NTH_SANITIZER_BUILD
#define NTH_SANITIZER_BUILD 0
#endif

#define NTH_LIKELY(x) __builtin_expect(!!(x), 1)
#define NTH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NTH_HIDDEN __attribute__((visibility("hidden")))
/* A step of a hot path, merged into its callers: no call, no frame of its own. */
#define NTH_INLINE_STEP static inline __attribute__((always_inline))
/* Thread-locals use the initial-exec model: one instruction to reach, in the preloaded malloc too. */
#define NTH_TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* ------------------------------------------------------------ the call in progress (report.c)
 *
 * One thread-local name, read by the reporter, set once per entry point:
 *
 *   HeapFree ──► nth_set_call_name("HeapFree") ──► nth_heap_free: NTH_ENTER("nth_heap_free")
 *                (outer layer: its name wins)           (kept: a name is already set)
 *   free()   ──► nth_free_as(p, "free"): NTH_ENTER("free") ──► nth_heap_free: NTH_ENTER(...) (kept)
 *   nth_heap_alloc: NTH_ENTER("nth_heap_alloc") ... scope ends ──► cleared again
 *
 * NTH_ENTER(name) sets the name only when none is set, and clears it again when the enclosing
 * scope ends, however the function returns (the compiler's cleanup attribute), so a name never
 * outlives its call. Put it at the top of every entry point, after any fast path that cannot
 * report. nth_call_begin/nth_call_end are the same pair for code that needs it by hand.
 */
extern NTH_TLS const char *nth_call_in_progress;

typedef struct nth_call_scope {
    bool owns;  /* this scope set the name and clears it */
    bool quiet; /* this scope turned Valgrind's reporting off (debug/visibility.h) */
} nth_call_scope;

static inline nth_call_scope nth_call_begin(const char *name)
{
    bool quiet = NTH_VIS_ON();
    NTH_VIS_QUIET(true);
    if (nth_call_in_progress) return (nth_call_scope){false, quiet};
    nth_call_in_progress = name;
    return (nth_call_scope){true, quiet};
}

static inline void nth_call_end(nth_call_scope *scope)
{
    if (scope->owns) nth_call_in_progress = NULL;
    if (scope->quiet) NTH_VIS_QUIET(false);
}

#define NTH_ENTER(name)                                                                          \
    nth_call_scope nth_call_scope_ __attribute__((cleanup(nth_call_end), unused)) = nth_call_begin(name)

static inline size_t nth_round_up(size_t value, size_t alignment)
{
    return (value + alignment - 1) & ~(alignment - 1);
}

static inline size_t nth_round_down(size_t value, size_t alignment)
{
    return value & ~(alignment - 1);
}

/* ------------------------------------------------------------------ block headers (block.c) */

/* The check word: a hash of the decoded header's first 12 bytes, its address and the key. */
static inline uint32_t nth_header_check_key(const uint64_t key[2], const void *where, uint64_t w0, uint32_t w1)
{
    uint64_t h = (w0 ^ key[1]) * 0x9E3779B97F4A7C15ull;
    h ^= ((uint64_t)w1 ^ (uintptr_t)where) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

static inline uint32_t nth_header_check(const nth_heap *heap, const void *where, uint64_t w0, uint32_t w1)
{
    return nth_header_check_key(heap->key, where, w0, w1);
}

/* Writes `hdr` (check computed here) encoded at `where`. */
static inline void nth_header_store(const nth_heap *heap, void *where, nth_block_header hdr)
{
    uint64_t w[2];
    memcpy(w, &hdr, sizeof w);
    uint32_t w1 = (uint32_t)w[1];
    uint64_t check = nth_header_check(heap, where, w[0], w1);
    w[1] = (uint64_t)w1 | (check << 32);
    w[0] ^= heap->key[0];
    w[1] ^= heap->key[1];
    nth_raw_store16(where, w); /* memcpy, unchecked in ASan builds (debug/visibility.h) */
}

/* Decodes the 16 bytes at `bytes`, read from address `where` (of this process or, for an
 * outside reader, of the target), into *out; false when the check fails. */
static inline bool nth_header_decode(const uint64_t key[2], const void *bytes, const void *where,
                                     nth_block_header *out)
{
    uint64_t w[2];
    nth_raw_load16(w, bytes); /* memcpy, unchecked in ASan builds (debug/visibility.h) */
    w[0] ^= key[0];
    w[1] ^= key[1];
    uint32_t w1 = (uint32_t)w[1];
    if ((uint32_t)(w[1] >> 32) != nth_header_check_key(key, where, w[0], w1)) return false;
    memcpy(out, w, sizeof *out);
    return true;
}

/* Decodes the header at `where` into *out; false when the check fails (not a header, or a
 * damaged one). The caller guarantees `where` is committed memory of the heap. */
static inline bool nth_header_load(const nth_heap *heap, const void *where, nth_block_header *out)
{
    return nth_header_decode(heap->key, where, where, out);
}

static inline size_t nth_block_requested(const nth_block_header *hdr)
{
    return (size_t)hdr->size_gr * NTH_GRANULE - hdr->unused;
}

/* ----------------------------------------------------------------------------- addrmap.c */

/* The map's two levels (addrmap.c): 15 + 16 bits of chunk number cover a 47-bit space. */
#define NTH_ADDRMAP_ROOT_BITS 15
#define NTH_ADDRMAP_LEAF_BITS 16
#define NTH_ADDRMAP_ADDRESS_BITS (NTH_LG_CHUNK + NTH_ADDRMAP_LEAF_BITS + NTH_ADDRMAP_ROOT_BITS)
/* An entry is the owner's address, plus NTH_ADDRMAP_LFH when the owner is an LFH subsegment, so
 * that the free fast path tells one from the entry alone (owners are 64-byte aligned). */
#define NTH_ADDRMAP_LFH ((uintptr_t)1)
typedef struct nth_addrmap_leaf {
    _Atomic uintptr_t entry[1u << NTH_ADDRMAP_LEAF_BITS];
} nth_addrmap_leaf;
extern _Atomic(nth_addrmap_leaf *) nth_addrmap_root[1u << NTH_ADDRMAP_ROOT_BITS];

/* The map's entry for the 64 KiB chunk holding `addr` (0: no owner). Without the range test
 * when `checked` is false: an address beyond the map's reach then finds the entry of an alias
 * below it, which the caller must be ready for. */
static inline uintptr_t nth_addrmap_entry(const void *addr, bool checked)
{
    uintptr_t a = (uintptr_t)addr, root = a >> (NTH_LG_CHUNK + NTH_ADDRMAP_LEAF_BITS);
    if (checked) {
        if (NTH_UNLIKELY(a >> NTH_ADDRMAP_ADDRESS_BITS)) return 0;
    } else {
        root &= (1u << NTH_ADDRMAP_ROOT_BITS) - 1;
    }
    nth_addrmap_leaf *l = atomic_load_explicit(&nth_addrmap_root[root], memory_order_acquire);
    if (NTH_UNLIKELY(!l)) return 0;
    return atomic_load_explicit(&l->entry[(a >> NTH_LG_CHUNK) & ((1u << NTH_ADDRMAP_LEAF_BITS) - 1)],
                                memory_order_acquire);
}

/* The owner an entry names, or NULL. */
static inline const nth_owner *nth_addrmap_owner(uintptr_t entry)
{
    return (const nth_owner *)(entry & ~NTH_ADDRMAP_LFH);
}

/* The owner (segment, big block or LFH subsegment) of the 64 KiB chunk holding `addr`, or NULL.
 * Lock-free; reads only the map itself. */
static inline const nth_owner *nth_addrmap_lookup(const void *addr)
{
    return nth_addrmap_owner(nth_addrmap_entry(addr, true));
}
bool nth_addrmap_set(const void *base, size_t size, const nth_owner *owner);
void nth_addrmap_clear(const void *base, size_t size);
void nth_addrmap_fork_prepare(void);
void nth_addrmap_fork_release(void);

/* --------------------------------------------------------------------------- freelist.c */

void nth_freelist_init(nth_heap *heap);
void nth_freelist_insert_locked(nth_heap *heap, char *block, uint32_t size_gr);
/* Removes a free block, checking its links first; false (nothing changed, nothing reported)
 * when they are broken: the caller contains the damage (nth_sweep_contain_locked). */
bool nth_freelist_remove_locked(nth_heap *heap, char *block, uint32_t size_gr);
/* A free block of at least size_gr granules, still on its list, its header decoded into *hdr;
 * or NULL. *damaged is set when a listed block failed its checks (then NULL is returned and
 * nothing was followed past it). */
char *nth_freelist_find_locked(nth_heap *heap, uint32_t size_gr, nth_block_header *hdr, bool *damaged);
/* The first listed free block of at least size_gr granules that `fits` accepts, looking at no
 * more than `probes` blocks, list by list from size_gr's upward; NULL when none was found (and
 * *damaged set when a list failed its checks). */
char *nth_freelist_find_fit_locked(nth_heap *heap, uint32_t size_gr, unsigned probes,
                                   bool (*fits)(const char *block, uint32_t block_gr, const void *context),
                                   const void *context, uint32_t *found_size_gr, bool *damaged);
unsigned nth_freelist_index(uint32_t size_gr);
/* Walks list `index` from both ends with every link checked and the length bounded. True when
 * it is sound; otherwise *suspect is the block both walks point at (the one whose links were
 * overwritten), or the first bad entry when they disagree. Reports nothing. */
bool nth_freelist_verify_locked(nth_heap *heap, unsigned index, char **suspect);
/* The largest listed free block in bytes, following only checked links; *damaged set when a
 * list failed its checks. */
size_t nth_freelist_largest_locked(nth_heap *heap, bool *damaged);
/* Checks every list: links, sizes, bitmap, totals. Reports the first problem. */
bool nth_freelist_check_locked(nth_heap *heap);

/* ---------------------------------------------------------------------------- segment.c */

/* Creates segment 0 with the heap object inside; returns the heap, or NULL. Its committed
 * range [first_block, base + committed) is not formatted yet (the back-end does that). */
nth_heap *nth_segment_create_heap(uint32_t flags, size_t initial_size, size_t maximum_size);
size_t nth_segment_header_bytes(bool first);
/* Growable heaps: a new segment with at least `bytes` committed after its header block, linked
 * last; NULL when the heap is fixed or the address space is exhausted. Not formatted. */
nth_segment *nth_segment_add_locked(nth_heap *heap, size_t bytes);
/* Bytes a growing heap commits at least at a time: its commit_step, or 1/64 of what it has
 * committed, up to NTH_COMMIT_STEP_MAX. A commit is a system call whatever its size and touches
 * no page (it costs no resident memory), so a large heap grows in fewer, larger steps. */
#define NTH_COMMIT_STEP_MAX ((size_t)4 << 20)
static inline size_t nth_commit_step(const nth_heap *heap)
{
    size_t step = heap->committed_bytes / 64;
    if (step > NTH_COMMIT_STEP_MAX) step = NTH_COMMIT_STEP_MAX;
    return step > heap->commit_step ? nth_round_down(step, NTH_PAGE) : heap->commit_step;
}
/* Commits the first `bytes` (pages, at most the range) of segment->ucr[i]. */
bool nth_segment_commit_locked(nth_heap *heap, nth_segment *segment, uint32_t i, size_t bytes);
/* Decommits [start, start + bytes) (pages, committed) and records the new UCR, whose preceding
 * block starts at last_block. With grow_table false it declines once the table's inline slots
 * are used; otherwise it grows the table. False (nothing changed) when it declines or cannot. */
bool nth_segment_decommit_locked(nth_heap *heap, nth_segment *segment, char *start, size_t bytes,
                                 const char *last_block, bool grow_table);
/* Records that the block at `block` ends at `end`, where a UCR may start. */
void nth_segment_note_last_block(nth_segment *segment, const char *block, const char *end);
void nth_segment_ucr_insert(nth_segment *segment, uint32_t offset_pg, uint32_t size_pg, uint32_t last_block_gr);
/* nth_segment_is_committed's answer for a range outside the first committed run: a search of
 * the uncommitted ranges (segment.c). */
bool nth_segment_is_committed_scan(const nth_segment *segment, const void *addr, size_t size);
/* The uncommitted range starting exactly at `addr`, or NULL. */
const nth_ucr *nth_segment_ucr_at(const nth_segment *segment, const void *addr);
void nth_segment_release_all(nth_heap *heap);

static inline char *nth_segment_base(const nth_segment *segment)
{
    return segment->owner.base;
}

/* The segment of `heap` holding `addr`, or NULL (through the address map). */
static inline nth_segment *nth_segment_of(const nth_heap *heap, const void *addr)
{
    const nth_segment *first = &heap->segment0; /* most blocks live in segment 0: no map walk */
    if ((uintptr_t)addr - (uintptr_t)first->owner.base < first->owner.reserve) return (nth_segment *)first;
    const nth_owner *owner = nth_addrmap_lookup(addr);
    if (!owner || owner->kind != OWNER_SEGMENT || owner->heap != heap) return NULL;
    return (nth_segment *)owner;
}

/* True when [addr, addr+size) is committed in the segment. Answered inline when the range lies
 * in the first committed run, from the first block to the lowest uncommitted range (or the
 * limit), where most blocks are; else by a search of the uncommitted ranges. */
static inline bool nth_segment_is_committed(const nth_segment *segment, const void *addr, size_t size)
{
    const char *p = addr;
    const char *run_end = segment->n_ucr ? nth_segment_base(segment) + (size_t)segment->ucr[0].offset_pg * NTH_PAGE
                                         : segment->limit;
    if (NTH_LIKELY(p >= segment->first_block && p < run_end && (size_t)(run_end - p) >= size)) return true;
    return nth_segment_is_committed_scan(segment, addr, size);
}

/* The header's segment field: the segment index modulo 256. */
static inline uint8_t nth_segment_tag(const nth_segment *segment)
{
    return (uint8_t)segment->owner.index;
}

/* ------------------------------------------------------------------------------- block.c */

/* What a header store does besides writing the header (block.c): an ASan build's poisoning,
 * and the following UCR's record of a BLOCK_LAST block. */
void nth_block_stored_locked(nth_heap *heap, char *block, nth_block_header hdr);

/* Stores a header; a header with BLOCK_LAST also records itself in the following UCR. */
static inline void nth_block_store_locked(nth_heap *heap, char *block, nth_block_header hdr)
{
    nth_header_store(heap, block, hdr);
    if (NTH_ASAN || (hdr.flags & BLOCK_LAST)) nth_block_stored_locked(heap, block, hdr);
}
/* Accessors for the per-block extras. */
size_t nth_block_tail_fill_start(const nth_block_header *hdr);
size_t nth_block_fill_end(const nth_block_header *hdr);
/* Fill patterns: tail (0xAB), free (0xFEEEFEEE, skipping header and links), new (0xBAADF00D).
 * The checks return the first modified byte, or NULL. */
void nth_block_fill_tail(char *block, const nth_block_header *hdr);
char *nth_block_check_tail(char *block, const nth_block_header *hdr);
void nth_block_fill_new(char *data, size_t size);
void nth_block_fill_free(char *block, char *from, char *to);
char *nth_block_check_free_fill(const nth_heap *heap, char *block, char *from, char *to);

/* A block that is on a free list: free and not taken out of service. */
static inline bool nth_block_is_listed(const nth_block_header *hdr)
{
    return !(hdr->flags & (BLOCK_BUSY | BLOCK_DAMAGED));
}

/* ----------------------------------------------------------------------------- backend.c */

/* Creates a heap (segment.c) and formats segment 0's committed memory into blocks. */
nth_heap *nth_backend_create_heap(uint32_t flags, size_t initial_size, size_t maximum_size);
/* Block size in granules for a request (header, extra and tail fill included); 0 on overflow. */
static inline uint32_t nth_backend_block_gr(const nth_heap *heap, uint32_t flags, size_t size)
{
    if (size > NTH_MAX_REQUEST) return 0;
    size_t bytes = sizeof(nth_block_header) + (size ? size : 1);
    if (flags & NTH_SETTABLE_USER_VALUE) bytes += NTH_GRANULE;
    if (heap->flags & NTH_TAIL_CHECKING_ENABLED) bytes += NTH_GRANULE;
    size_t gr = nth_round_up(bytes, NTH_GRANULE) / NTH_GRANULE;
    if (gr < NTH_MIN_FREE_GR) gr = NTH_MIN_FREE_GR;
    return gr > UINT32_MAX / 2 ? 0 : (uint32_t)gr;
}
/* A back-end block for `size` bytes, of size_gr = nth_backend_block_gr(heap, flags, size). */
void *nth_backend_alloc_locked(nth_heap *heap, uint32_t flags, size_t size, uint32_t size_gr);
void *nth_backend_alloc_aligned_locked(nth_heap *heap, uint32_t flags, size_t alignment, size_t size);
/* A busy internal block (flags BLOCK_BUSY | BLOCK_INTERNAL | add_flags) of exactly `bytes`, a
 * multiple of 64 KiB, whose header starts a chunk: it covers whole chunks and nothing else.
 * Returns the block (its header), or NULL. */
char *nth_backend_alloc_chunks_locked(nth_heap *heap, size_t bytes, uint16_t add_flags);
void nth_backend_free_locked(nth_heap *heap, char *block, nth_block_header *hdr);
/* Resizes in place; false when it cannot (the block is untouched). */
bool nth_backend_resize_locked(nth_heap *heap, char *block, nth_block_header *hdr, uint32_t flags, size_t size);
/* Decommits the whole pages inside every listed free block of at least min_bytes; returns the
 * bytes decommitted. */
size_t nth_backend_decommit_free_locked(nth_heap *heap, size_t min_bytes);

/* ---------------------------------------------------------------------- decommit_policy.c */

/* The back-end memory in use: live bytes and listed free bytes, about what its segments have
 * committed. Its peak over an epoch is the demand the heap has shown. */
static inline size_t nth_backend_in_use(const nth_heap *heap)
{
    return heap->backend_live + heap->free_bytes;
}

/* Live back-end bytes change by `grown` (an allocation, a free, a resize); the epoch's peak of
 * the memory in use follows. */
static inline void nth_backend_note_live_locked(nth_heap *heap, ptrdiff_t grown)
{
    heap->backend_live += (size_t)grown;
    if (nth_backend_in_use(heap) > heap->backend_peak) heap->backend_peak = nth_backend_in_use(heap);
}

/* True when a free block of `bytes` about to be listed should be decommitted instead: past the
 * decommit thresholds and beyond what recent demand covers. */
bool nth_backend_should_decommit_locked(nth_heap *heap, size_t bytes);

/* ------------------------------------------------------------------------------- sweep.c */

/* After a free list failed its checks: takes the damaged block out of service (BLOCK_DAMAGED,
 * counted, reported once naming its data address), then rebuilds every free list from the
 * segments' blocks. Blocks in [keep_out, keep_out_end) are being changed by the caller and are
 * left off the lists. */
void nth_sweep_contain_locked(nth_heap *heap, const char *keep_out, const char *keep_out_end);

/* ---------------------------------------------------------------------------- bigblock.c */

void *nth_big_alloc_locked(nth_heap *heap, uint32_t flags, size_t size, size_t alignment);
/* Releases a big block (to the mapping cache or the system). False when its in-band prefix was
 * damaged: that was reported, and the block is released all the same. */
bool nth_big_free_locked(nth_heap *heap, nth_big *big);
/* Resizes a big block, moving it unless in_place_only; NULL (untouched) on failure. */
void *nth_big_realloc_locked(nth_heap *heap, nth_big *big, uint32_t flags, size_t size);
/* Compares the user-writable bytes in front of the data with the record; on a difference reports
 * once (NTH_ERR_CORRUPT at the data address), rewrites them and returns false. */
bool nth_big_check_locked(nth_heap *heap, nth_big *big);
/* Sets the user flags in the record and the in-band header. */
void nth_big_set_flags_locked(nth_heap *heap, nth_big *big, uint16_t flags);
/* The record's header fields (size, unused, flags) as a decoded header; check is 0. */
nth_block_header nth_big_decoded(const nth_big *big);
/* True when the NTH_BIG_HEADER_BYTES read from `prefix` (at prefix_at in the block's process) are
 * the in-band prefix the record `big` implies under `key`: canary words and header. */
bool nth_big_prefix_matches(const uint64_t key[2], const nth_big *big, const unsigned char *prefix,
                            uintptr_t prefix_at);
/* Validate's checks (validate.c follows the list through the one traversal): the record pages
 * against the block count, adding what they and the cache commit; one record, the one before
 * it in the list (NULL for the first) and its in-band prefix. Each reports its first problem. */
bool nth_big_validate_pages_locked(nth_heap *heap, size_t *committed);
bool nth_big_validate_record_locked(nth_heap *heap, nth_big *big, const nth_big *prev);
void nth_big_release_all(nth_heap *heap);
/* Page heap (debug/pageheap.c): a record for a mapping made by the caller (no in-band prefix;
 * released with the heap like any big block), and its removal leaving the mapping to the caller.
 * NULL when no record or address-map entry can be had. */
nth_big *nth_big_adopt_locked(nth_heap *heap, char *base, size_t bytes, char *data, size_t size, uint32_t flags);
void nth_big_detach_locked(nth_heap *heap, nth_big *big);

/* ----------------------------------------------------------------------------- regions.c */

/* Keeps a destroyed heap's segment reservation: its first `hot` bytes committed, the rest
 * inaccessible unless `scattered`. False: the caller releases it. */
bool nth_regions_put(char *base, size_t reserve, size_t hot, bool scattered);
/* A cached reservation of exactly `size` bytes (*reserve = size; its committed prefix in *hot,
 * the rest inaccessible and zero), or NULL. */
char *nth_regions_take(size_t size, size_t *reserve, size_t *hot);
/* Gives back what has been cached longer than segment_cache_decay_ms. */
void nth_regions_decay(void);
/* Gives back every cached reservation (compaction, trim, a refused reservation); returns the
 * bytes of address space given back. */
size_t nth_regions_release_all(void);
/* Committed bytes held in cached reservations. */
size_t nth_regions_cached_bytes(void);
void nth_regions_fork_prepare(void);
void nth_regions_fork_release(void);

/* ---------------------------------------------------------------------------- bigcache.c */

/* Gives the cached mappings of freed big blocks back to the system. */
void nth_big_cache_release_locked(nth_heap *heap);
/* Ends the demand epoch when it is over and gives back what the demand no longer covers. */
void nth_big_cache_decay_locked(nth_heap *heap);
/* Records the live big-block bytes in the epoch's peak and `grown` bytes of new big-block
 * mappings in its turnover (after the live bytes grew). */
void nth_big_cache_note_live_locked(nth_heap *heap, size_t grown);
/* A cached mapping of at least `bytes` out of the cache (its size in e->bytes, its possibly
 * nonzero prefix in e->dirty); false when none can serve. */
bool nth_big_cache_take_locked(nth_heap *heap, size_t bytes, nth_big_cached *e);
/* Keeps a freed mapping (merged with cached pieces of the same region beside it) when the
 * demand covers it; false: the caller releases it. */
bool nth_big_cache_put_locked(nth_heap *heap, nth_big_cached e);
/* Destroy: every entry and the entry page. */
void nth_big_cache_teardown(nth_heap *heap);
/* The in-band copy of the block header (user-writable; checked, never believed). */
static inline char *nth_big_header(const nth_big *big)
{
    return big->data - sizeof(nth_block_header);
}

/* ------------------------------------------------------------------------------ locate.c */

/* Where a user pointer lives, found without touching memory that is not committed heap memory. */
typedef struct nth_located {
    nth_heap *heap;        /* the owning heap */
    nth_segment *segment;  /* back-end block: its segment */
    nth_big *big;          /* big block: its record (hdr: the record's fields) */
    struct nth_lfh_subsegment *lfh; /* LFH block: its subsegment (header/hdr unused) */
    uint32_t lfh_index;    /* LFH block: its index in the subsegment */
    char *header;          /* address of the block header */
    nth_block_header hdr;  /* the decoded header */
} nth_located;

/* Finds the block whose data starts at ptr in `heap`; on failure returns the error and, in
 * expected and found, words for the report. Does not report. */
nth_error nth_locate_block(nth_heap *heap, const void *ptr, nth_located *out, const char **expected,
                           const char **found);

/* --------------------------------------------------------------------------------- api.c */

/* nth_free_as past the LFH fast path, with the owner the address map named for ptr (NULL: none)
 * when it looked, which may have been released since. */
bool nth_free_as_slow(void *ptr, const nth_owner *owner, const char *call);

/* ------------------------------------------------------------------------------- report.c */

/* True while no report handler is installed: the reports, and the details some follow with (a
 * page-heap block's stacks), go to stderr. */
bool nth_report_goes_to_stderr(void);
/* Reports a misuse or corruption (formatted through the one reporter, naming the call in
 * progress), sets the thread's last error, and applies the heap's termination policy. */
void nth_report_problem(nth_heap *heap, nth_error error, const void *address, const char *expected,
                        const char *found);
/* Raises the GENERATE_EXCEPTIONS handler for a failed call, if the flags ask for it. */
void nth_raise_if_asked(nth_heap *heap, uint32_t flags, nth_error error);
/* The call in progress (see NTH_ENTER), or "ntheap" outside any call. */
const char *nth_current_call(void);

/* -------------------------------------------------------------------------------- heap.c */

/* Exported (default visibility) so that an outside reader finds it in .dynsym, stripped or not. */
extern NTH_API nth_registry nth_heap_registry;
/* True when `heap` is a live heap: segment 0 of a heap in the address map, with the heap's magic.
 * Inline: every entry point without a pointer that proves the handle makes it. */
static inline bool nth_heap_handle_ok(const nth_heap *heap)
{
    if (!heap || (uintptr_t)heap % NTH_CHUNK != 0) return false;
    const nth_owner *owner = nth_addrmap_lookup(heap);
    return owner && owner->kind == OWNER_SEGMENT && owner->index == 0 && owner->base == (const char *)heap &&
           owner->heap == heap && heap->magic == NTH_HEAP_MAGIC;
}
/* Heaps destroyed so far (counted as each destroy starts): a handle found sound while it was N
 * is still a heap while it is N. */
extern _Atomic uint64_t nth_heap_destroys;

/* Preconditions of *_locked functions: nth_assert_held(heap) on their first line. In a DEBUG=1
 * build it aborts with the function's name unless this thread holds the heap lock, the heap is
 * NO_SERIALIZE, or a call with NTH_NO_SERIALIZE is in progress on this thread (the caller
 * promised exclusive use); otherwise it compiles to nothing. */
#if NTH_DEBUG
extern NTH_TLS uint32_t nth_unserialized_calls;
_Noreturn void nth_assert_held_failed(const nth_heap *heap, const char *function);
static inline void nth_assert_held_at(nth_heap *heap, const char *function)
{
    if (!(heap->flags & NTH_NO_SERIALIZE) && !nth_lock_held_by_me(&heap->lock) && nth_unserialized_calls == 0)
        nth_assert_held_failed(heap, function);
}
#define nth_assert_held(heap) nth_assert_held_at((heap), __func__)
#else
#define nth_assert_held(heap) ((void)0)
#endif

/* The heap lock for one call with these (already forced) flags: none with NTH_NO_SERIALIZE. */
static inline void nth_call_lock(nth_heap *heap, uint32_t flags)
{
    if (!(flags & NTH_NO_SERIALIZE)) {
        nth_lock_acquire(&heap->lock);
        return;
    }
    nth_lock_bypass(&heap->lock);
#if NTH_DEBUG
    nth_unserialized_calls++;
#endif
}

static inline void nth_call_unlock(nth_heap *heap, uint32_t flags)
{
    if (!(flags & NTH_NO_SERIALIZE)) {
        nth_lock_release(&heap->lock);
        return;
    }
#if NTH_DEBUG
    nth_unserialized_calls--;
#endif
}
void nth_heap_lock_internal(nth_heap *heap);
void nth_heap_unlock_internal(nth_heap *heap);

/* ------------------------------------------------------------------------------ options.c */

/* The process defaults: one field per row of options.def, named as the option. */
typedef struct nth_defaults {
#define NTH_OPTION_ROW(name, id, type, ...) type name;
#include "heap/options.def"
} nth_defaults;
extern nth_defaults nth_process_defaults;
/* Reads NTHEAP_OPTIONS into nth_process_defaults, once per process. */
void nth_options_load(void);

#endif
