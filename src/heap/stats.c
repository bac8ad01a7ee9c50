/*
 * stats.c — statistics snapshots and compaction.
 *
 * Counters are kept exact under the heap lock by the files that change them (backend.c,
 * segment.c, bigblock.c, lfh.c); a snapshot copies them and adds what is cheaper to compute on
 * demand (the largest free block, the number of uncommitted ranges). Compaction decommits the
 * whole pages inside every free block of two pages or more, whatever the decommit thresholds.
 */
#include "heap/internal.h"
#include "heap/lfh.h"


static size_t largest_free_locked(nth_heap *heap)
{
    size_t largest = 0;
    for (int index = (int)NTH_FREE_LISTS - 1; index >= 0 && largest == 0; index--) {
        if (!((heap->freelist_bitmap[index / 64] >> (index % 64)) & 1)) continue;
        nth_free_links *head = &heap->freelists[index];
        for (nth_free_links *l = head->next; l != head; l = l->next) {
            nth_block_header hdr;
            if (nth_header_load(heap, (char *)l - sizeof hdr, &hdr) && (size_t)hdr.size_gr * NTH_GRANULE > largest)
                largest = (size_t)hdr.size_gr * NTH_GRANULE;
        }
    }
    return largest;
}

bool nth_heap_query_stats(nth_heap *heap, nth_heap_stats *stats)
{
    NTH_ENTER("nth_heap_query_stats");
    if (!nth_heap_handle_ok(heap) || !stats) {
        nth_set_last_error(stats ? NTH_ERR_INVALID_HANDLE : NTH_ERR_INVALID_PARAMETER);
        return false;
    }
    nth_lock_acquire(&heap->lock);
    memset(stats, 0, sizeof *stats);
    stats->reserved = heap->reserved_bytes;
    stats->committed = heap->committed_bytes;
    stats->busy_bytes = heap->busy_bytes;
    stats->busy_blocks = heap->busy_blocks;
    stats->free_bytes = heap->free_bytes;
    stats->free_blocks = heap->free_blocks;
    stats->largest_free = largest_free_locked(heap);
    stats->big_blocks = heap->big_blocks;
    stats->big_bytes = heap->big_bytes;
    stats->segments = heap->n_segments;
    for (uint32_t s = 0; s < heap->n_segments; s++) stats->uncommitted_ranges += heap->segments[s]->n_ucr;
    stats->commit_ops = heap->commit_ops;
    stats->decommit_ops = heap->decommit_ops;
    stats->alloc_calls = heap->alloc_calls;
    stats->free_calls = heap->free_calls;
    nth_lfh_add_stats(heap, stats);
    nth_lock_release(&heap->lock);
    return true;
}

size_t nth_heap_compact(nth_heap *heap, uint32_t flags)
{
    NTH_ENTER("nth_heap_compact");
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return 0;
    }
    flags |= heap->force_flags;
    nth_call_lock(heap, flags);
    nth_lfh_pause(heap);
    nth_lfh_trim_locked(heap);
    nth_big_cache_release_locked(heap);
    for (int index = (int)NTH_FREE_LISTS - 1; index >= 0; index--) {
        nth_free_links *head = &heap->freelists[index];
        for (nth_free_links *l = head->next, *next; l != head; l = next) {
            next = l->next;
            char *block = (char *)l - sizeof(nth_block_header);
            nth_block_header hdr;
            if (!nth_header_load(heap, block, &hdr) || (size_t)hdr.size_gr * NTH_GRANULE < 2 * NTH_PAGE) continue;
            if (!nth_freelist_remove_locked(heap, block, hdr.size_gr)) break;
            if (!nth_segment_decommit_free_locked(heap, block, &hdr)) nth_freelist_insert_locked(heap, block, hdr.size_gr);
        }
    }
    size_t largest = largest_free_locked(heap);
    nth_lfh_resume(heap);
    nth_call_unlock(heap, flags);
    if (largest == 0) nth_set_last_error(NTH_OK);
    return largest;
}
