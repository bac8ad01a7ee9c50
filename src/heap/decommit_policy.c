/*
 * decommit_policy.c — how much free back-end memory a heap keeps committed: the one question
 * the back-end's free path asks before it decommits a large free block (backend.c).
 *
 * Windows decommits a free block past two thresholds (decommit_free_block, decommit_total_free);
 * the defaults here are larger, and a quarter of what the heap has committed stays free as well.
 * On top, free memory that recent demand covers stays committed, the way bigcache.c sizes its
 * cache: a page fault costs microseconds, so a program that frees a large structure and builds
 * another must not fault its pages in again.
 *
 *   in use = live back-end bytes + listed free bytes (about what the segments have committed)
 *   demand = max(peak in use, this epoch and the one before) - live + that peak / 8
 *   keep   = max(decommit_total_free, committed / 4, demand)
 *
 * An epoch lasts decommit_decay_ms (0: no demand, the thresholds alone); one that ends after
 * two windows without a large free hands on only what is in use then. The live bytes and the
 * peak are kept by nth_backend_note_live_locked (internal.h) on every back-end allocation, free
 * and resize. Everything here runs with the heap lock held.
 */
#include "heap/internal.h"
#include "heap/vm.h"

/* Reads the clock: called only for a free that may decommit. */
static size_t free_to_keep_locked(nth_heap *heap)
{
    size_t keep = heap->decommit_total_free > heap->committed_bytes / 4 ? heap->decommit_total_free
                                                                        : heap->committed_bytes / 4;
    uint64_t window = heap->decommit_decay_ms;
    if (window == 0) return keep;
    uint64_t now = nth_vm_clock_ms(), elapsed = now - heap->backend_epoch_ms;
    if (elapsed >= window) {
        heap->backend_peak_prev = elapsed >= 2 * window ? nth_backend_in_use(heap) : heap->backend_peak;
        heap->backend_peak = nth_backend_in_use(heap);
        heap->backend_epoch_ms = now;
    }
    size_t peak = heap->backend_peak > heap->backend_peak_prev ? heap->backend_peak : heap->backend_peak_prev;
    size_t demand = peak > heap->backend_live ? peak - heap->backend_live + peak / 8 : 0;
    return demand > keep ? demand : keep;
}

bool nth_backend_should_decommit_locked(nth_heap *heap, size_t bytes)
{
    nth_assert_held(heap);
    size_t free_after = heap->free_bytes + bytes;
    /* The thresholds first: they decide most frees without the clock. */
    return bytes >= heap->decommit_free_block && free_after > heap->decommit_total_free &&
           free_after > free_to_keep_locked(heap);
}
