/*
 * stats.c — statistics snapshots and compaction.
 *
 * Counters are kept exact under the heap lock by the files that change them (backend.c,
 * segment.c, bigblock.c, lfh.c, sweep.c); a snapshot copies them and adds what is cheaper to
 * compute on demand (the largest free block, the number of uncommitted ranges). Both follow
 * free-list links only through the checked walks of freelist.c; a damaged list is contained
 * (sweep.c) before the numbers are taken, so a stale write never faults a snapshot.
 *
 * Compaction decommits the whole pages inside every free block of two pages or more, whatever
 * the decommit thresholds, and a free block that fills a whole run between uncommitted ranges
 * entirely (the ranges merge). After every block is freed, what stays committed is the
 * documented reserve: per segment its header block rounded up to pages plus at most one page
 * (the head of the free block that follows it), plus whatever the LFH keeps for itself.
 */
#include "heap/debug/debug.h"
#include "heap/internal.h"
#include "heap/lfh.h"

#define COMPACT_MIN_BYTES (2 * (size_t)NTH_PAGE)


/* The largest listed free block; a damaged list is contained first (sweep.c). */
static size_t largest_free_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    for (int attempt = 0; attempt < 2; attempt++) {
        bool damaged = false;
        size_t largest = nth_freelist_largest_locked(heap, &damaged);
        if (!damaged) return largest;
        nth_sweep_contain_locked(heap, NULL, NULL);
    }
    return 0;
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
    stats->largest_free = largest_free_locked(heap); /* first: it may contain damage */
    stats->reserved = heap->reserved_bytes;
    stats->committed = heap->committed_bytes;
    stats->busy_bytes = heap->busy_bytes;
    stats->busy_blocks = heap->busy_blocks;
    if (heap->debug_modes & NTH_DEBUG_PAGE_LIGHT) { /* what the program freed is not live */
        nth_delay_held held;
        nth_delay_survey(heap, false, &held);
        stats->busy_bytes -= held.bytes;
        stats->busy_blocks -= held.blocks;
    }
    stats->free_bytes = heap->free_bytes;
    stats->free_blocks = heap->free_blocks;
    stats->damaged_blocks = heap->damaged_blocks;
    stats->damaged_bytes = heap->damaged_bytes;
    stats->big_blocks = heap->big_blocks;
    stats->big_bytes = heap->big_bytes;
    stats->segments = heap->n_segments;
    for (nth_segment *segment = heap->first_segment; segment; segment = segment->next)
        stats->uncommitted_ranges += segment->n_ucr;
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
    nth_regions_release_all(); /* destroyed heaps' segments kept for new heaps */
    nth_backend_decommit_free_locked(heap, COMPACT_MIN_BYTES);
    size_t largest = largest_free_locked(heap);
    nth_lfh_resume(heap);
    nth_call_unlock(heap, flags);
    if (largest == 0) nth_set_last_error(NTH_OK);
    return largest;
}
