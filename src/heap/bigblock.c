/*
 * bigblock.c — big blocks: requests of NTH_BIG_THRESHOLD_GR granules or more in a growable heap
 * get a mapping of their own, listed on the heap (Windows' VirtualAllocdBlocks), and grow or
 * shrink with mremap (in place when the next pages are free, else by moving the pages, never by
 * copying).
 *
 *   base (64 KiB aligned)                       +112            +128
 *   | [lead] nth_big: owner, next, prev, value | block header  | data ...       | to 64 KiB |
 *
 *   lead       0, or the bytes that put data on a stronger alignment than 16
 *   header     size_gr = data granules, unused = size_gr * 16 - requested (0..15), flags
 *              BUSY | BIG | user flags; prev_size_gr 0
 *
 * Invariants: the mapping is committed in full; owner.base/owner.reserve are the mapping (a
 * multiple of 64 KiB); the address map sends every chunk of it to the nth_big.
 *
 * Freed mappings of up to 16 MiB are kept in a small per-heap cache (8 slots, 64 MiB) and handed
 * to the next big block, resized with mremap: a page fault costs about 11 us here, so a program
 * that frees and reallocates large buffers must not fault every page in again. Cached
 * mappings belong to no block (the address map does not know them, so a stale pointer into one
 * is refused), count as committed, and go back to the system on compaction and destroy.
 */
#include "heap/internal.h"
#include "heap/vm.h"

/* Bytes to map for `size` data bytes placed `lead` bytes into the mapping (at least one byte of
 * data, so that the data address lies inside the mapping). */
static size_t mapping_bytes(size_t lead, size_t size)
{
    return nth_round_up(lead + NTH_BIG_HEADER_BYTES + (size ? size : 1), NTH_CHUNK);
}

static void store_big_header(nth_heap *heap, nth_big *big, size_t size, uint32_t user_flags)
{
    size_t data_gr = nth_round_up(size ? size : 1, NTH_GRANULE) / NTH_GRANULE;
    nth_block_header hdr = {.size_gr = (uint32_t)data_gr, .prev_size_gr = 0,
                            .flags = (uint16_t)(BLOCK_BUSY | BLOCK_BIG | (user_flags & BLOCK_USER_FLAGS)),
                            .segment_index = 0, .unused = (uint8_t)(data_gr * NTH_GRANULE - size)};
    nth_header_store(heap, nth_big_header(big), hdr);
}

/* The list runs in allocation order (appended at the tail), as a walk shows it. */
static void link_big(nth_heap *heap, nth_big *big)
{
    big->next = NULL;
    big->prev = heap->big_tail;
    if (heap->big_tail)
        heap->big_tail->next = big;
    else
        heap->big_list = big;
    heap->big_tail = big;
}

static void unlink_big(nth_heap *heap, nth_big *big)
{
    if (big->prev)
        big->prev->next = big->next;
    else
        heap->big_list = big->next;
    if (big->next)
        big->next->prev = big->prev;
    else
        heap->big_tail = big->prev;
}

#define CACHEABLE_BYTES ((size_t)16 << 20)

/* A cached mapping resized to `bytes`, taken out of the cache: the smallest that is large enough
 * (its tail unmapped when it is much larger), else the largest, grown with mremap (its pages
 * that were touched before stay resident). NULL when the cache is empty or a remap fails. */
static char *cache_take(nth_heap *heap, size_t bytes, size_t *got)
{
    int best = -1;
    for (uint32_t i = 0; i < heap->big_cache_n; i++) {
        size_t have = heap->big_cache[i].bytes;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        size_t best_have = heap->big_cache[best].bytes;
        bool fits = have >= bytes, best_fits = best_have >= bytes;
        if ((fits && (!best_fits || have < best_have)) || (!fits && !best_fits && have > best_have)) best = (int)i;
    }
    if (best < 0) return NULL;
    char *base = heap->big_cache[best].base;
    size_t have = heap->big_cache[best].bytes;
    heap->big_cache[best] = heap->big_cache[--heap->big_cache_n];
    heap->big_cache_bytes -= have;
    *got = have;
    if (have < bytes || have > bytes + bytes / 4) {
        char *resized = nth_vm_remap(base, have, bytes, NTH_CHUNK, true);
        if (!resized) {
            nth_vm_release(base, have);
            heap->reserved_bytes -= have;
            heap->committed_bytes -= have;
            return NULL;
        }
        heap->reserved_bytes += bytes - have;
        heap->committed_bytes += bytes - have;
        base = resized;
        *got = bytes;
    }
    return base;
}

/* Keeps a freed mapping for reuse, evicting the oldest when full; false: release it. */
static bool cache_put(nth_heap *heap, char *base, size_t bytes)
{
    if (bytes > CACHEABLE_BYTES) return false;
    while (heap->big_cache_n > 0 &&
           (heap->big_cache_n == NTH_BIG_CACHE_SLOTS || heap->big_cache_bytes + bytes > NTH_BIG_CACHE_MAX_BYTES)) {
        nth_vm_release(heap->big_cache[0].base, heap->big_cache[0].bytes);
        heap->big_cache_bytes -= heap->big_cache[0].bytes;
        heap->reserved_bytes -= heap->big_cache[0].bytes;
        heap->committed_bytes -= heap->big_cache[0].bytes;
        heap->decommit_ops++;
        memmove(&heap->big_cache[0], &heap->big_cache[1], --heap->big_cache_n * sizeof heap->big_cache[0]);
    }
    heap->big_cache[heap->big_cache_n].base = base;
    heap->big_cache[heap->big_cache_n].bytes = bytes;
    heap->big_cache_n++;
    heap->big_cache_bytes += bytes;
    return true;
}

void nth_big_cache_release_locked(nth_heap *heap)
{
    while (heap->big_cache_n > 0) {
        uint32_t i = --heap->big_cache_n;
        nth_vm_release(heap->big_cache[i].base, heap->big_cache[i].bytes);
        heap->reserved_bytes -= heap->big_cache[i].bytes;
        heap->committed_bytes -= heap->big_cache[i].bytes;
        heap->decommit_ops++;
    }
    heap->big_cache_bytes = 0;
}

void *nth_big_alloc_locked(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    if (size > NTH_MAX_REQUEST) return NULL;
    /* The mapping is aligned to max(alignment, 64 KiB); `lead` puts the data on the alignment. */
    size_t lead = (alignment - NTH_BIG_HEADER_BYTES % alignment) % alignment;
    size_t bytes = mapping_bytes(lead, size);
    char *base = alignment <= NTH_CHUNK ? cache_take(heap, bytes, &bytes) : NULL;
    bool reused = base != NULL;
    if (!reused) {
        base = nth_vm_reserve(bytes, alignment > NTH_CHUNK ? alignment : NTH_CHUNK);
        if (!base) return NULL;
        if (!nth_vm_commit(base, bytes, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) {
            nth_vm_release(base, bytes);
            return NULL;
        }
    }
    /* With an alignment above 64 the descriptor moves forward so that data lands aligned. */
    nth_big *big = (nth_big *)(base + lead);
    big->owner = (nth_owner){NTH_BIG_MAGIC, OWNER_BIG, 0, heap, base, bytes};
    big->user_value = 0;
    if (!nth_addrmap_set(base, bytes, &big->owner)) {
        if (reused) heap->reserved_bytes -= bytes, heap->committed_bytes -= bytes;
        nth_vm_release(base, bytes);
        return NULL;
    }
    store_big_header(heap, big, size, flags);
    link_big(heap, big);
    heap->big_blocks++;
    heap->big_bytes += bytes;
    if (!reused) {
        heap->reserved_bytes += bytes;
        heap->committed_bytes += bytes;
        heap->commit_ops++;
    }
    heap->busy_blocks++;
    heap->busy_bytes += size;
    heap->alloc_calls++;
    char *data = (char *)big + NTH_BIG_HEADER_BYTES;
    /* Fresh mappings are zero-filled; a reused one is not. */
    if (reused && (flags & NTH_ZERO_MEMORY)) memset(data, 0, size);
    return data;
}

static size_t big_requested(nth_heap *heap, nth_big *big)
{
    nth_block_header hdr;
    if (!nth_header_load(heap, nth_big_header(big), &hdr)) return 0;
    return nth_block_requested(&hdr);
}

void nth_big_free_locked(nth_heap *heap, nth_big *big)
{
    size_t requested = big_requested(heap, big);
    char *base = big->owner.base;
    size_t bytes = big->owner.reserve;
    unlink_big(heap, big);
    nth_addrmap_clear(base, bytes);
    big->owner.magic = 0;
    heap->big_blocks--;
    heap->big_bytes -= bytes;
    heap->busy_blocks--;
    heap->busy_bytes -= requested;
    heap->free_calls++;
    if (!cache_put(heap, base, bytes)) {
        nth_vm_release(base, bytes);
        heap->reserved_bytes -= bytes;
        heap->committed_bytes -= bytes;
        heap->decommit_ops++;
    }
}

void *nth_big_realloc_locked(nth_heap *heap, nth_big *big, uint32_t flags, size_t size)
{
    if (size > NTH_MAX_REQUEST) return NULL;
    nth_block_header hdr;
    if (!nth_header_load(heap, nth_big_header(big), &hdr)) return NULL;
    size_t old_size = nth_block_requested(&hdr);
    char *base = big->owner.base;
    size_t lead = (size_t)((char *)big - base);
    size_t old_bytes = big->owner.reserve;
    size_t new_bytes = mapping_bytes(lead, size);
    nth_big *moved = big;
    if (new_bytes != old_bytes) {
        bool may_move = !(flags & NTH_REALLOC_IN_PLACE_ONLY);
        nth_big *prev = big->prev, *next = big->next;
        char *new_base = nth_vm_remap(base, old_bytes, new_bytes, NTH_CHUNK, may_move);
        if (!new_base) return NULL;
        moved = (nth_big *)(new_base + lead);
        nth_addrmap_clear(base, old_bytes);
        moved->owner.base = new_base;
        moved->owner.reserve = new_bytes;
        nth_addrmap_set(new_base, new_bytes, &moved->owner);
        /* Relink: neighbours still point at the old address. */
        moved->prev = prev;
        moved->next = next;
        if (prev)
            prev->next = moved;
        else
            heap->big_list = moved;
        if (next)
            next->prev = moved;
        else
            heap->big_tail = moved;
        heap->big_bytes += new_bytes - old_bytes;
        heap->reserved_bytes += new_bytes - old_bytes;
        heap->committed_bytes += new_bytes - old_bytes;
    }
    /* The header check covers its address: rewrite it at the (possibly new) place. */
    store_big_header(heap, moved, size, hdr.flags);
    char *data = (char *)moved + NTH_BIG_HEADER_BYTES;
    /* Bytes past the old size within the old mapping may hold old data; pages beyond are new
     * and zero. */
    if (size > old_size && (flags & NTH_ZERO_MEMORY)) {
        size_t old_end = old_bytes - lead - NTH_BIG_HEADER_BYTES;
        size_t zero_to = size < old_end ? size : old_end;
        if (zero_to > old_size) memset(data + old_size, 0, zero_to - old_size);
    }
    heap->busy_bytes += size;
    heap->busy_bytes -= old_size;
    return data;
}

void nth_big_release_all(nth_heap *heap)
{
    nth_big *big = heap->big_list;
    while (big) {
        nth_big *next = big->next;
        nth_addrmap_clear(big->owner.base, big->owner.reserve);
        nth_vm_release(big->owner.base, big->owner.reserve);
        big = next;
    }
    heap->big_list = NULL;
    heap->big_tail = NULL;
    nth_big_cache_release_locked(heap);
}
