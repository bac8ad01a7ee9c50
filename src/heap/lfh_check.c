/*
 * lfh_check.c — what reads the LFH as a whole: the walk's view of a subsegment's busy blocks,
 * validation of every subsegment (descriptor, bitmaps, counts, the encoded free list),
 * statistics, and trimming of empty retired subsegments. Validation also checks a subsegment's
 * shape: its back-end block starts a chunk and is whole chunks, each named for it in the map. Callers hold the heap lock with the
 * fast paths paused (validate, compact), or only need a snapshot (walk, stats).
 *
 * Validation believes nothing read from the user area: the free list is followed with the same
 * decoding as a pop, each index checked against `bump`, the busy bits and a bitmap of indices
 * already seen (so a cycle ends it), for at most n_blocks steps. A damaged link is reported
 * once and the list rebuilt from the bitmaps (lfh_subseg.c), as an allocation would.
 */
#include "heap/lfh_fast.h"

bool nth_lfh_next_busy(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t from, nth_walk_entry *entry)
{
    (void)heap;
    uint32_t bump = nth_lfh_load_u32(&sub->bump);
    for (uint32_t i = from; i < bump; i++) {
        uint64_t word = nth_lfh_load_bits(nth_lfh_busy_word(sub, i)) >> (i % 64);
        if (word == 0) {
            i |= 63u; /* skip the rest of an empty word */
            continue;
        }
        i += (uint32_t)__builtin_ctzll(word);
        if (i >= bump) break;
        uint32_t unused = nth_lfh_unused_of(sub, i);
        if (unused > sub->block_size) unused = sub->block_size; /* damaged: checked by validate */
        memset(entry, 0, sizeof *entry);
        entry->data = nth_lfh_block_at(sub, i);
        entry->size = sub->block_size - unused;
        entry->overhead = unused;
        entry->region_index = (uint16_t)sub->segment->owner.index;
        entry->flags = NTH_ENTRY_BUSY | NTH_ENTRY_LFH;
        entry->u.block.block_size = sub->block_size;
        return true;
    }
    nth_set_last_error(NTH_ERR_NO_MORE_ITEMS);
    return false;
}

static bool lfh_problem(nth_heap *heap, const void *where, const char *expected, const char *found)
{
    nth_report_problem(heap, NTH_ERR_CORRUPT, where, expected, found);
    return false;
}

/* Follows the local free list; false (after repairing it) when a link is damaged. */
static bool check_free_list(nth_heap *heap, nth_lfh_subsegment *sub, uint32_t *listed)
{
    uint64_t seen[NTH_LFH_BITMAP_WORDS] = {0};
    *listed = 0;
    for (uint32_t i = sub->free_head, holder = NTH_LFH_NO_BLOCK; i != NTH_LFH_NO_BLOCK; holder = i) {
        bool known = i < sub->bump && !((seen[i / 64] >> (i % 64)) & 1);
        if (!known || nth_lfh_is_busy(sub, i) || nth_lfh_is_remote(sub, i)) {
            /* The bad index came from the holder's link (at the head: from the block's state). */
            nth_lfh_repair_free_list(heap, sub, holder == NTH_LFH_NO_BLOCK ? i : holder);
            return false;
        }
        seen[i / 64] |= 1ull << (i % 64);
        ++*listed;
        const char *p = nth_lfh_block_at(sub, i);
        uint64_t w;
        memcpy(&w, p, sizeof w);
        w ^= sub->link_key ^ (uintptr_t)p;
        uint32_t next = (uint32_t)w;
        if ((uint32_t)(w >> 32) != next) {
            nth_lfh_repair_free_list(heap, sub, i);
            return false;
        }
        i = next;
    }
    return true;
}

bool nth_lfh_check_subsegment(nth_heap *heap, char *block)
{
    nth_lfh_subsegment *sub = nth_lfh_in_block(heap, block);
    if (!sub || sub->magic != NTH_LFH_MAGIC)
        return lfh_problem(heap, block, "an LFH subsegment registered for this block", "no subsegment owns it");
    if (sub->bump > sub->n_blocks || sub->bucket >= NTH_LFH_BUCKETS ||
        sub->block_size != nth_lfh_bucket_size(sub->bucket))
        return lfh_problem(heap, sub, "consistent LFH subsegment counters", "a bump or size out of range");
    /* Whole chunks, every one of them (the header's too) leading to the descriptor. */
    size_t bytes = sub->owner.reserve + sizeof(nth_block_header);
    nth_block_header hdr;
    size_t colour = (size_t)(sub->first_block - sub->owner.base);
    if ((uintptr_t)block % NTH_CHUNK != 0 || bytes % NTH_CHUNK != 0 || sub->first_block < sub->owner.base ||
        colour > NTH_LFH_MAX_COLOUR || sub->span + colour > sub->owner.reserve ||
        !nth_header_load(heap, block, &hdr) || (size_t)hdr.size_gr * NTH_GRANULE != bytes)
        return lfh_problem(heap, block, "an LFH subsegment's block of whole 64 KiB chunks", "a block of another shape");
    for (size_t at = 0; at < bytes; at += NTH_CHUNK)
        if (nth_addrmap_lookup(block + at) != &sub->owner)
            return lfh_problem(heap, block + at, "the address map naming the subsegment for each of its chunks",
                               "another owner");
    uint32_t busy = 0, pending = 0;
    for (uint32_t w = 0; w < sub->n_words; w++) {
        uint64_t bits = nth_lfh_load_bits(nth_lfh_busy_word(sub, w * 64));
        uint64_t remote = atomic_load_explicit(nth_lfh_remote_word(sub, w * 64), memory_order_relaxed);
        for (uint32_t i = w * 64; (bits | remote) && i < w * 64 + 64; i++)
            if ((((bits | remote) >> (i % 64)) & 1) && i >= sub->bump)
                return lfh_problem(heap, sub, "busy and remote bits below the bump index", "a bit past it");
        busy += (uint32_t)__builtin_popcountll(bits);
        pending += (uint32_t)__builtin_popcountll(remote & ~bits);
    }
    if (sub->n_used > sub->n_blocks)
        return lfh_problem(heap, sub, "a subsegment's count within its blocks", "a larger count");
    for (uint32_t i = 0; i < sub->bump; i++)
        if (nth_lfh_is_busy(sub, i) && nth_lfh_unused_of(sub, i) > sub->block_size)
            return lfh_problem(heap, nth_lfh_block_at(sub, i), "a block's unused bytes within its size",
                               "more unused bytes than the block has");
    uint32_t listed;
    if (!check_free_list(heap, sub, &listed)) return false;
    /* Every block below bump is busy, waiting for collection, or on the local free list. */
    if (listed + busy + pending != sub->bump) {
        nth_lfh_repair_free_list(heap, sub, sub->free_head == NTH_LFH_NO_BLOCK ? 0 : sub->free_head);
        return false;
    }
    return true;
}

bool nth_lfh_check_heap(nth_heap *heap)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return true;
    if (lfh->magic != NTH_LFH_MAGIC) return lfh_problem(heap, lfh, "the LFH object", "a damaged signature");
    uint32_t n = 0;
    for (nth_lfh_subsegment *sub = lfh->all; sub; sub = sub->next)
        if (++n > lfh->n_subsegments) break;
    if (n != lfh->n_subsegments)
        return lfh_problem(heap, lfh, "the LFH's subsegment list and count agree", "a different length");
    return true;
}

/* The live blocks of a subsegment (busy, no remote free pending) and the bytes they were asked
 * for: each slot's size less its unused[] entry. Exact while no thread changes the subsegment. */
static uint32_t live_requested(const nth_lfh_subsegment *sub, size_t *requested)
{
    uint32_t live = 0;
    size_t bytes = 0;
    for (uint32_t w = 0; w < sub->n_words; w++) {
        uint64_t bits = nth_lfh_load_bits(nth_lfh_busy_word(sub, w * 64)) &
                        ~atomic_load_explicit(nth_lfh_remote_word(sub, w * 64), memory_order_relaxed);
        live += (uint32_t)__builtin_popcountll(bits);
        for (; bits; bits &= bits - 1) {
            uint32_t unused = nth_lfh_unused_of(sub, w * 64 + (uint32_t)__builtin_ctzll(bits));
            bytes += sub->block_size - (unused <= sub->block_size ? unused : sub->block_size);
        }
    }
    *requested = bytes;
    return live;
}

void nth_lfh_add_stats(nth_heap *heap, nth_heap_stats *stats)
{
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return;
    size_t blocks = 0, bytes = 0;
    for (nth_lfh_subsegment *sub = lfh->all; sub; sub = sub->next) {
        size_t requested;
        blocks += live_requested(sub, &requested);
        bytes += requested;
    }
    stats->lfh_blocks = blocks;
    stats->lfh_subsegments = lfh->n_subsegments;
    /* Busy counts are of user blocks: subsegment areas are the heap's own. */
    stats->busy_blocks = stats->busy_blocks - lfh->n_subsegments + blocks;
    stats->busy_bytes = stats->busy_bytes - lfh->subsegment_bytes + bytes;
}

void nth_lfh_trim_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    nth_lfh *lfh = heap->lfh;
    if (!lfh) return;
    /* The caches are paused: what they hold can be taken from them. */
    for (nth_lfh_tcache *tc = lfh->caches; tc; tc = tc->heap_next) nth_lfh_retire_held_locked(heap, tc, true);
    for (unsigned b = 0; b < NTH_LFH_BUCKETS; b++) {
        nth_lfh_subsegment *sub = lfh->pools[b].head;
        while (sub) {
            nth_lfh_subsegment *next = sub->pool_next;
            nth_lfh_collect_remote(heap, sub);
            if (nth_lfh_is_empty(sub)) {
                nth_lfh_pool_remove(lfh, sub);
                nth_lfh_release_subsegment_locked(heap, sub);
            }
            sub = next;
        }
    }
}
