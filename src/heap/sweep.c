/*
 * sweep.c — whole-heap passes over the back-end's blocks that are not on the allocation path:
 * containing a damaged free list, and rebuilding the free lists from the segments.
 *
 * When a free list fails its checks (a stale pointer wrote over a free block's links), the
 * damaged block is found (nth_freelist_verify_locked: the block both checked walks stop at),
 * marked BLOCK_DAMAGED in its header, counted in heap->damaged_blocks/bytes and reported once,
 * naming its data address. Then every list is rebuilt from the blocks themselves, found through
 * the one traversal (iter.c): headers are encoded and checksummed and tile each segment's
 * committed runs, so nothing read from user-writable memory is followed. The heap then serves
 * every size from the rest of its memory; only terminate_on_corruption ends the process.
 *
 *   before:  head <-> A <-> B <-> X(links overwritten) <-> C <-> head
 *   after:   X marked DAMAGED (on no list, never coalesced, never handed out; a block over
 *            64 KiB loses its first 64 KiB only, the rest is a free block of its own);
 *            lists rebuilt from the segments: A, B, C and every other free block listed again
 *
 * Invariants: after containment every list is sound and the free counters equal what the lists
 * hold; a damaged block stays in the tiling (walks show it, validate accounts for it).
 */
#include "heap/iter.h"

/* What a free block whose links were overwritten loses at most: its first 64 KiB. */
#define QUARANTINE_BYTES ((size_t)64 << 10)

/* Takes the block at `block` out of service and reports it; when it is not a listed free block
 * of this heap it is only reported. A large block loses its first QUARANTINE_BYTES only, where
 * the stale pointer that wrote its links points (the freed block it was, before merges made it
 * larger): the rest becomes a free block of its own, which the rebuild lists. */
static void quarantine_locked(nth_heap *heap, char *block)
{
    nth_assert_held(heap);
    nth_segment *segment = nth_segment_of(heap, block);
    nth_block_header hdr;
    if (!segment || !nth_segment_is_committed(segment, block, sizeof hdr) || !nth_header_load(heap, block, &hdr) ||
        !nth_block_is_listed(&hdr)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, block + sizeof hdr, "a free block on the free list",
                           "a damaged header (overflow from the block before?)");
        return;
    }
    uint32_t kept_gr = QUARANTINE_BYTES / NTH_GRANULE;
    if (hdr.size_gr >= kept_gr + NTH_MIN_FREE_GR) {
        char *rest = block + (size_t)kept_gr * NTH_GRANULE;
        nth_block_header rh = {.size_gr = hdr.size_gr - kept_gr, .prev_size_gr = kept_gr,
                               .flags = (uint16_t)(hdr.flags & (BLOCK_LAST | BLOCK_FILL)),
                               .segment_index = hdr.segment_index, .unused = 0};
        nth_block_store_locked(heap, rest, rh);
        char *after = rest + (size_t)rh.size_gr * NTH_GRANULE;
        nth_block_header next;
        if (!(rh.flags & BLOCK_LAST) && nth_header_load(heap, after, &next)) {
            next.prev_size_gr = rh.size_gr;
            nth_block_store_locked(heap, after, next);
        }
        hdr.size_gr = kept_gr;
        hdr.flags &= (uint16_t)~BLOCK_LAST;
    }
    hdr.flags = (uint16_t)((hdr.flags & BLOCK_LAST) | BLOCK_DAMAGED);
    nth_block_store_locked(heap, block, hdr);
    heap->damaged_blocks++;
    heap->damaged_bytes += (size_t)hdr.size_gr * NTH_GRANULE;
    nth_report_problem(heap, NTH_ERR_CORRUPT, block + sizeof hdr, "free-list links pointing back at the block",
                       "overwritten links (written after free?); the block is taken out of service");
}

/* Lists every listed free block of every segment again, except those starting in
 * [keep_out, keep_out_end); the free counters follow what is listed. The blocks are found by
 * the one traversal (iter.c), which checks every header before it follows its size. */
static void rebuild_lists_locked(nth_heap *heap, const char *keep_out, const char *keep_out_end)
{
    nth_assert_held(heap);
    nth_freelist_init(heap);
    heap->free_blocks = 0;
    heap->free_bytes = 0;
    nth_iter it;
    if (!nth_iter_open(&it, &nth_mem_self, (uintptr_t)heap)) return;
    it.options = NTH_ITER_NO_LFH_SLOTS | NTH_ITER_NO_BIG;
    nth_walk_entry entry;
    while (nth_iter_next(&it, &entry)) {
        char *block = entry.u.block.header;
        if ((entry.flags & (NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED)) || !nth_block_is_listed(&it.hdr)) continue;
        if (!(block >= keep_out && block < keep_out_end)) nth_freelist_insert_locked(heap, block, it.hdr.size_gr);
    }
    if (it.problems)
        nth_report_problem(heap, NTH_ERR_CORRUPT, (const void *)it.problem.address, it.problem.expected,
                           "a damaged header; the block it starts stays off the lists");
}

/* Makes [start, end) one block that chains with its neighbours: it keeps the prev_size of the
 * header at `start` (the first block of the range, whose neighbour before it is unchanged), and
 * the block after it, if any, names its size (as the caller's final header will). */
static void keep_out_chained_locked(nth_heap *heap, char *start, char *end)
{
    nth_block_header first, provisional = {.size_gr = (uint32_t)((size_t)(end - start) / NTH_GRANULE)};
    if (nth_header_load(heap, start, &first)) {
        provisional.prev_size_gr = first.prev_size_gr;
        provisional.segment_index = first.segment_index;
    }
    nth_header_store(heap, start, provisional);
    nth_segment *segment = nth_segment_of(heap, start);
    nth_block_header next;
    if (segment && end < segment->limit && !nth_segment_ucr_at(segment, end) && nth_header_load(heap, end, &next)) {
        next.prev_size_gr = provisional.size_gr;
        nth_block_store_locked(heap, end, next);
    }
}

void nth_sweep_contain_locked(nth_heap *heap, const char *keep_out, const char *keep_out_end)
{
    nth_assert_held(heap);
    if (keep_out) {
        /* The caller is rewriting this range: make it one block the cursor can step over. It
         * reads "free", so a stale pointer into it is still a double free; being kept out, it
         * is not listed, and the caller writes its final header. */
        keep_out_chained_locked(heap, (char *)keep_out, (char *)keep_out_end);
    }
    for (unsigned index = 0; index < NTH_FREE_LISTS; index++) {
        char *suspect;
        if (heap->freelists[index].next == &heap->freelists[index] &&
            heap->freelists[index].prev == &heap->freelists[index])
            continue;
        if (!nth_freelist_verify_locked(heap, index, &suspect) && suspect) quarantine_locked(heap, suspect);
    }
    rebuild_lists_locked(heap, keep_out, keep_out_end);
}
