/*
 * lfh_subseg.c — LFH subsegments: carving a user area from the back-end, the metadata mapping
 * beside it, the subsegments a cache holds, the per-bucket pools of retired subsegments,
 * collection of remote frees, retirement, release, and repair of a damaged free list.
 * Everything here runs with the heap lock held, or on the owning thread for the subsegment's
 * own free list.
 *
 *   back-end block (busy | internal | LFH)               metadata mapping (private, reused)
 *   | hdr | A: block 0 | block 1 | ... | tail |          | descriptor | busy | remote | unused[] |
 *   ^ a chunk boundary           k whole chunks ^
 *   '- address map: all k chunks -> descriptor ---------------^
 *
 * The block comes from the back-end whole-chunk aligned (nth_backend_alloc_chunks_locked), which
 * puts it where it fits first: right behind the previous subsegment in a fill. A segment's first
 * chunk holds its header, so it never holds a subsegment.
 *
 * Cache colours. User areas start at chunk boundaries (+ 16) and metadata mappings at page
 * boundaries, so without care the first block, the descriptor's fast line, the first bitmap pair
 * and the first unused[] entries of every subsegment would share their offsets modulo 4 KiB: the
 * same set of the first-level cache, which holds 8 lines per set. A thread using a dozen sizes
 * at once then misses on lines it used a moment ago. Each new subsegment takes the next of
 * NTH_LFH_COLOURS colours c and starts both its descriptor (in its metadata mapping) and its
 * first block (in its user area) 64 c bytes further; the user area gives up at most 960 bytes
 * of blocks for it (one block of the largest sizes, 1.5 % of a chunk of 16-byte blocks).
 *
 * A released subsegment's metadata is not unmapped: it goes to the LFH's idle list (magic 0, an
 * empty span) and is reused by the next subsegment that fits, so a thread still holding a stale
 * descriptor pointer from a lock-free lookup reads a harmless, empty descriptor, never unmapped
 * memory. The idle list is unmapped when the heap is destroyed.
 */
#include "heap/lfh_fast.h"
#include "heap/vm.h"

/* The chunks of a bucket's subsegments: the fewest (at most NTH_LFH_MAX_CHUNKS) whose user area,
 * k * 64 KiB less the back-end header and the largest cache colour, leaves at most
 * NTH_LFH_WASTE_SHARE of the chunks unused (header, colour and tail), within NTH_LFH_MAX_BLOCKS
 * blocks. Block sizes to 2.5 KiB take one chunk. */
static unsigned chunks_for(uint32_t block_size)
{
    unsigned best = 1;
    size_t best_waste = NTH_CHUNK; /* as a share of best chunks: all of it */
    for (unsigned k = 1; k <= NTH_LFH_MAX_CHUNKS; k++) {
        size_t bytes = k * NTH_CHUNK, n = (bytes - sizeof(nth_block_header) - NTH_LFH_MAX_COLOUR) / block_size;
        if (n > NTH_LFH_MAX_BLOCKS) break;
        size_t waste = bytes - n * block_size;
        if (waste * NTH_LFH_WASTE_SHARE <= bytes) return k;
        if (waste * best * NTH_CHUNK < best_waste * bytes) best = k, best_waste = waste; /* waste / bytes smallest */
    }
    return best;
}

/* A descriptor with at least `bytes` of metadata: an idle one that fits (it keeps its colour),
 * else one `colour` bytes into a new mapping. */
static nth_lfh_subsegment *metadata_alloc_locked(nth_lfh *lfh, size_t bytes, size_t colour)
{
    for (nth_lfh_subsegment **link = &lfh->idle; *link; link = &(*link)->pool_next) {
        nth_lfh_subsegment *sub = *link;
        if (sub->meta_bytes >= bytes) {
            *link = sub->pool_next;
            size_t keep = sub->meta_bytes;
            uint32_t keep_colour = sub->meta_colour;
            memset(sub, 0, keep);
            sub->meta_bytes = keep;
            sub->meta_colour = keep_colour;
            return sub;
        }
    }
    size_t mapped = nth_round_up(colour + bytes, 64); /* small ones share pages (vm_linux.c) */
    char *mapping = nth_vm_map_private(mapped);
    if (!mapping) return NULL;
    nth_lfh_subsegment *sub = (nth_lfh_subsegment *)(mapping + colour);
    sub->meta_bytes = mapped - colour;
    sub->meta_colour = (uint32_t)colour;
    return sub;
}

/* Gives a descriptor's whole metadata mapping back (heap destroy). */
static void metadata_unmap(nth_lfh_subsegment *sub)
{
    nth_vm_unmap_private((char *)sub - sub->meta_colour, sub->meta_colour + sub->meta_bytes);
}

static void metadata_idle(nth_lfh *lfh, nth_lfh_subsegment *sub)
{
    sub->magic = 0;
    sub->span = 0; /* a stale lookup finds no block in it */
    sub->bump = 0;
    atomic_store_explicit(&sub->owner_cache, NULL, memory_order_relaxed);
    sub->pool_next = lfh->idle;
    lfh->idle = sub;
}

static nth_lfh_subsegment *create_subsegment_locked(nth_heap *heap, unsigned bucket)
{
    nth_assert_held(heap);
    nth_lfh *lfh = heap->lfh;
    uint32_t block_size = nth_lfh_bucket_size(bucket);
    size_t bytes = chunks_for(block_size) * NTH_CHUNK, area_bytes = bytes - sizeof(nth_block_header);
    size_t colour = (size_t)(lfh->subsegments_made++ % NTH_LFH_COLOURS) * 64u; /* at most NTH_LFH_MAX_COLOUR */
    uint32_t n = (uint32_t)((area_bytes - colour) / block_size);
    if (n > NTH_LFH_MAX_BLOCKS) n = NTH_LFH_MAX_BLOCKS;
    uint16_t width = 2;
    uint32_t words = (n + 63) / 64;
    nth_lfh_subsegment *sub = metadata_alloc_locked(lfh, NTH_LFH_META_UNUSED + (size_t)n * width, colour);
    if (!sub) return NULL;
    char *block = nth_backend_alloc_chunks_locked(heap, bytes, BLOCK_LFH);
    if (!block) {
        metadata_idle(lfh, sub);
        return NULL;
    }
    char *area = block + sizeof(nth_block_header);
    char *meta = (char *)sub;
    nth_segment *segment = nth_segment_of(heap, block); /* the map still names the segment */
    nth_block_header hdr;
    if (!segment) { /* cannot happen: the back-end's blocks lie in its segments */
        if (nth_header_load(heap, block, &hdr)) nth_backend_free_locked(heap, block, &hdr);
        metadata_idle(lfh, sub);
        return NULL;
    }
    sub->owner = (nth_owner){NTH_LFH_MAGIC, OWNER_LFH, segment->owner.index, heap, area, area_bytes};
    sub->segment = segment;
    sub->magic = NTH_LFH_MAGIC;
    sub->bucket = (uint16_t)bucket;
    sub->unused_width = width;
    sub->block_size = block_size;
    sub->n_blocks = n;
    sub->first_block = area + colour;
    sub->span = (size_t)n * block_size;
    sub->reciprocal = (uint32_t)((((uint64_t)1 << 32) + block_size - 1) / block_size);
    sub->index_shift = (uint32_t)__builtin_ctz(block_size);
    uint64_t odd = block_size >> sub->index_shift, inverse = odd; /* 3 bits right; each step doubles them */
    for (int step = 0; step < 5; step++) inverse *= 2 - odd * inverse;
    sub->index_inverse = inverse;
    sub->n_words = words;
    sub->free_head = NTH_LFH_NO_BLOCK;
    sub->link_key = heap->key[0] ^ ((uintptr_t)sub * 0x9E3779B97F4A7C15ull) ^ ((uintptr_t)area >> 16);
    sub->busy_bits = (uint64_t *)(meta + NTH_LFH_META_HEAD);
    sub->remote_bits = (_Atomic uint64_t *)(meta + NTH_LFH_META_HEAD + sizeof(uint64_t));
    sub->unused = (unsigned char *)(meta + NTH_LFH_META_UNUSED);
    /* Every chunk of the block, its header's included, now leads to the descriptor. */
    if (!nth_addrmap_set(block, bytes, &sub->owner)) {
        if (nth_header_load(heap, block, &hdr)) nth_backend_free_locked(heap, block, &hdr);
        metadata_idle(lfh, sub);
        return NULL;
    }
    sub->next = lfh->all;
    if (lfh->all) lfh->all->prev = sub;
    lfh->all = sub;
    lfh->n_subsegments++;
    lfh->subsegment_bytes += area_bytes;
    return sub;
}

void nth_lfh_pool_remove(nth_lfh *lfh, nth_lfh_subsegment *sub)
{
    nth_lfh_bucket_pool *pool = &lfh->pools[sub->bucket];
    if (sub->pool_prev)
        sub->pool_prev->pool_next = sub->pool_next;
    else
        pool->head = sub->pool_next;
    if (sub->pool_next)
        sub->pool_next->pool_prev = sub->pool_prev;
    else
        pool->tail = sub->pool_prev;
    sub->pool_next = sub->pool_prev = NULL;
    pool->count--;
}

static void pool_push(nth_lfh *lfh, nth_lfh_subsegment *sub)
{
    nth_lfh_bucket_pool *pool = &lfh->pools[sub->bucket];
    sub->pool_next = NULL;
    sub->pool_prev = pool->tail;
    if (pool->tail)
        pool->tail->pool_next = sub;
    else
        pool->head = sub;
    pool->tail = sub;
    pool->count++;
}

void nth_lfh_release_subsegment_locked(nth_heap *heap, nth_lfh_subsegment *sub)
{
    nth_assert_held(heap);
    nth_lfh *lfh = heap->lfh;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        lfh->all = sub->next;
    if (sub->next) sub->next->prev = sub->prev;
    lfh->n_subsegments--;
    lfh->subsegment_bytes -= sub->owner.reserve;
    char *block = sub->owner.base - sizeof(nth_block_header);
    nth_segment *segment = sub->segment;
    nth_addrmap_set(block, sub->owner.reserve + sizeof(nth_block_header), &segment->owner);
    metadata_idle(lfh, sub);
    nth_block_header hdr;
    if (nth_header_load(heap, block, &hdr))
        nth_backend_free_locked(heap, block, &hdr);
    else
        nth_report_problem(heap, NTH_ERR_CORRUPT, block, "the header of an LFH subsegment's block",
                           "a damaged header (overrun from the block before)");
}

uint32_t nth_lfh_collect_remote(nth_heap *heap, nth_lfh_subsegment *sub)
{
    (void)heap;
    if (atomic_load_explicit(&sub->remote_count, memory_order_relaxed) == 0) return 0;
    uint32_t collected = 0;
    for (uint32_t w = 0; w < sub->n_words; w++) {
        _Atomic uint64_t *word = nth_lfh_remote_word(sub, w * 64);
        if (atomic_load_explicit(word, memory_order_relaxed) == 0) continue;
        uint64_t bits = atomic_exchange_explicit(word, 0, memory_order_acquire);
        for (; bits; bits &= bits - 1, collected++) {
            uint32_t index = w * 64 + (uint32_t)__builtin_ctzll(bits);
            nth_lfh_give_back(sub, index, nth_lfh_block_at(sub, index));
        }
    }
    atomic_fetch_sub_explicit(&sub->remote_count, collected, memory_order_relaxed);
    nth_lfh_store_u32(&sub->n_used, sub->n_used > collected ? sub->n_used - collected : 0);
    return collected;
}

void nth_lfh_repair_free_list(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t index)
{
    heap->lfh->damaged_links++;
    nth_report_problem(heap, NTH_ERR_CORRUPT, nth_lfh_block_at(sub, index),
                       "an intact free-list link in a free LFH block",
                       "a damaged link (write after free, or an overrun into a free block)");
    /* Rebuild from the bitmaps, the only state believed: a block below bump that is neither
     * busy nor waiting for collection (remote bit) is free. */
    sub->free_head = NTH_LFH_NO_BLOCK;
    for (uint32_t i = sub->bump; i-- > 0;)
        if (!nth_lfh_is_busy(sub, i) && !nth_lfh_is_remote(sub, i)) nth_lfh_push(sub, i, nth_lfh_block_at(sub, i));
}

void nth_lfh_retire_locked(nth_heap *heap, nth_lfh_subsegment *sub)
{
    nth_assert_held(heap);
    nth_lfh_collect_remote(heap, sub);
    /* The owner does not count its blocks: count the busy ones. Frees under way on other
     * threads may or may not be among them, so this is a lower bound (see free_remote). */
    nth_lfh_store_u32(&sub->n_used, nth_lfh_count_live(sub));
    atomic_store_explicit(&sub->owner_cache, NULL, memory_order_release); /* after n_used: see free_remote */
    if (nth_lfh_is_empty(sub))
        nth_lfh_release_subsegment_locked(heap, sub);
    else
        pool_push(heap->lfh, sub);
}

/* True when `sub` has a block to hand out: on its free list, or never used. */
static bool has_free_block(const nth_lfh_subsegment *sub)
{
    return sub->free_head != NTH_LFH_NO_BLOCK || sub->bump < sub->n_blocks;
}

/* Unlinks the held subsegment `*link` names from its cache's list. */
static nth_lfh_subsegment *unhold(nth_lfh_tcache *tc, nth_lfh_subsegment **link)
{
    nth_lfh_subsegment *sub = *link;
    *link = sub->pool_next;
    sub->pool_next = NULL;
    tc->n_held[sub->bucket]--;
    return sub;
}

void nth_lfh_hold_locked(nth_heap *heap, nth_lfh_tcache *tc, nth_lfh_subsegment *sub)
{
    nth_assert_held(heap);
    unsigned bucket = sub->bucket;
    sub->pool_next = tc->held[bucket];
    sub->pool_prev = NULL;
    tc->held[bucket] = sub;
    if (++tc->n_held[bucket] <= NTH_LFH_HELD) return;
    nth_lfh_subsegment **link = &tc->held[bucket];
    while ((*link)->pool_next) link = &(*link)->pool_next;
    nth_lfh_retire_locked(heap, unhold(tc, link)); /* the oldest */
}

void nth_lfh_retire_held_locked(nth_heap *heap, nth_lfh_tcache *tc, bool only_empty)
{
    nth_assert_held(heap);
    for (unsigned b = 0; b < NTH_LFH_BUCKETS; b++) {
        nth_lfh_subsegment **link = &tc->held[b];
        while (*link) {
            if (only_empty) {
                nth_lfh_collect_remote(heap, *link);
                if (!nth_lfh_is_empty(*link)) {
                    link = &(*link)->pool_next;
                    continue;
                }
            }
            nth_lfh_retire_locked(heap, unhold(tc, link));
        }
    }
}

nth_lfh_subsegment *nth_lfh_acquire_subsegment_locked(nth_heap *heap, nth_lfh_tcache *tc, unsigned bucket)
{
    nth_assert_held(heap);
    nth_lfh *lfh = heap->lfh;
    /* The cache's own filled subsegments first, newest first: the blocks its thread has freed
     * there since (and other threads' frees, collected now). */
    for (nth_lfh_subsegment **link = &tc->held[bucket]; *link; link = &(*link)->pool_next) {
        nth_lfh_collect_remote(heap, *link);
        if (has_free_block(*link)) return unhold(tc, link);
    }
    /* Oldest first (the likeliest to have had blocks freed); a probed subsegment with nothing
     * free goes to the back, so that successive probes visit the whole pool in turn. */
    for (unsigned probes = 0; probes < 8 && lfh->pools[bucket].head; probes++) {
        nth_lfh_subsegment *sub = lfh->pools[bucket].head;
        nth_lfh_pool_remove(lfh, sub);
        if (!has_free_block(sub) && atomic_load_explicit(&sub->remote_count, memory_order_acquire) == 0) {
            pool_push(lfh, sub);
            continue;
        }
        atomic_store_explicit(&sub->owner_cache, tc, memory_order_release);
        nth_lfh_collect_remote(heap, sub);
        return sub;
    }
    nth_lfh_subsegment *sub = create_subsegment_locked(heap, bucket);
    if (sub) atomic_store_explicit(&sub->owner_cache, tc, memory_order_release);
    return sub;
}

nth_lfh_subsegment *nth_lfh_in_block(const nth_heap *heap, const char *block)
{
    const char *area = block + sizeof(nth_block_header);
    const nth_owner *owner = nth_addrmap_lookup(area);
    if (!owner || owner->kind != OWNER_LFH || owner->heap != heap || owner->base != area) return NULL;
    return (nth_lfh_subsegment *)owner;
}

void nth_lfh_release_metadata(nth_heap *heap)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return;
    for (nth_lfh_subsegment *sub = lfh->all, *next; sub; sub = next) {
        next = sub->next;
        metadata_unmap(sub);
    }
    for (nth_lfh_subsegment *sub = lfh->idle, *next; sub; sub = next) {
        next = sub->pool_next;
        metadata_unmap(sub);
    }
    atomic_store_explicit(&heap->lfh, NULL, memory_order_relaxed);
    nth_vm_unmap_private(lfh, nth_round_up(sizeof *lfh, NTH_PAGE));
}
