/*
 * bigcache.c — the per-heap cache of freed big-block mappings: reused hot, sized by recent
 * demand, given back to the system lazily.
 *
 * A page fault costs about 11 us on the machines we measure; a program that frees and
 * reallocates buffers of megabytes must not fault every page in again. So a freed mapping stays
 * committed, listed here (the address map does not know it: a stale pointer into it finds no
 * owner and is refused), and the next big block takes it:
 *
 *   entries[] (engine-private page, out of band)     mapping
 *   | base | bytes | dirty | ...                     | dirty: may hold old data | zero ...... |
 *                                                    ^ base                     ^ base+dirty  ^ +bytes
 *
 *   take   the smallest entry that fits: whole when the rest would be under an eighth of the
 *          request, else split (the tail stays cached, as its own entry); when none fits, the
 *          largest grows with mremap (its touched pages stay resident, new pages are zero)
 *   dirty  bytes from the base that may hold nonzero data: pages past it are known zero (fresh,
 *          or never written), so a zero-filled request clears only the dirty prefix
 *   demand the peak of live big-block bytes in this epoch and the one before. An epoch lasts
 *          big_cache_decay_ms and until the program allocated twice its peak in big blocks (so
 *          that a slow or descheduled program's epochs still see its whole working set); an
 *          epoch of two windows without that turnover is quiet and leaves only the live bytes
 *          as demand. The cache holds at most peak - live bytes, plus an eighth of the peak
 *          (room for sizes that do not match, so that a new size does not evict what the next
 *          one wants), and at most big_cache_max: what the program has shown it will want again.
 *          Epochs end on the big-block alloc and free paths (no background thread: a heap that
 *          sees no big-block call keeps its cache until compaction, trim or destroy).
 *   return oldest entries first, when the bound shrinks; all of them on nth_heap_compact
 *          (HeapCompact, malloc_trim), on destroy, and when the system refuses a new mapping
 *          (the caller then retries).
 *
 * Invariants: entries are disjoint, 64 KiB aligned, committed read/write, owned by no block and
 * absent from the address map; big_cache_bytes is the sum of their sizes, counted in the heap's
 * reserved and committed bytes; entries run oldest first.
 */
#include "heap/debug/visibility.h"
#include "heap/internal.h"
#include "heap/vm.h"

#define MAX_ENTRIES (NTH_PAGE / sizeof(nth_big_cached))

static void remove_entry(nth_heap *heap, uint32_t i);

static void release_entry(nth_heap *heap, uint32_t i)
{
    nth_big_cached e = heap->big_cache[i];
    nth_vm_release(e.base, e.bytes);
    heap->reserved_bytes -= e.bytes;
    heap->committed_bytes -= e.bytes;
    heap->decommit_ops++;
    remove_entry(heap, i);
}

/* Releases the oldest entries until the cache holds at most `bound` bytes. */
static void shrink_to(nth_heap *heap, size_t bound)
{
    while (heap->big_cache_n > 0 && heap->big_cache_bytes > bound) release_entry(heap, 0);
}

static size_t demand_bound(const nth_heap *heap)
{
    size_t peak = heap->big_peak > heap->big_peak_prev ? heap->big_peak : heap->big_peak_prev;
    size_t bound = peak > heap->big_bytes ? peak - heap->big_bytes + peak / 8 : 0;
    if (heap->big_cache_decay_ms == 0) bound = 0;
    return bound < heap->big_cache_max ? bound : heap->big_cache_max;
}

void nth_big_cache_decay_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    uint64_t now = nth_vm_clock_ms();
    uint64_t window = heap->big_cache_decay_ms, elapsed = now - heap->big_epoch_ms;
    if (elapsed >= window) {
        bool busy = heap->big_epoch_volume >= 2 * heap->big_peak;
        if (busy || elapsed >= 2 * window) {
            /* A busy epoch (the live set turned over twice) hands its peak on; a quiet one of
             * two windows leaves only what is live. A busy program whose turnover is slower
             * than the window keeps its epoch open, so its demand is not underestimated. */
            heap->big_peak_prev = busy ? heap->big_peak : heap->big_bytes;
            heap->big_peak = heap->big_bytes;
            heap->big_epoch_ms = now;
            heap->big_epoch_volume = 0;
            nth_regions_decay(); /* the process's cached segments age on the same calls */
        }
    }
    shrink_to(heap, demand_bound(heap));
}

void nth_big_cache_note_live_locked(nth_heap *heap, size_t grown)
{
    heap->big_epoch_volume += grown;
    if (heap->big_bytes > heap->big_peak) heap->big_peak = heap->big_bytes;
}

static void remove_entry(nth_heap *heap, uint32_t i)
{
    heap->big_cache_bytes -= heap->big_cache[i].bytes;
    memmove(&heap->big_cache[i], &heap->big_cache[i + 1], (heap->big_cache_n - i - 1) * sizeof heap->big_cache[i]);
    heap->big_cache_n--;
}

bool nth_big_cache_take_locked(nth_heap *heap, size_t bytes, nth_big_cached *out)
{
    nth_assert_held(heap);
    int best = -1, largest = -1;
    for (uint32_t i = 0; i < heap->big_cache_n; i++) {
        size_t have = heap->big_cache[i].bytes;
        if (have >= bytes && (best < 0 || have < heap->big_cache[best].bytes)) best = (int)i;
        if (largest < 0 || have > heap->big_cache[largest].bytes) largest = (int)i;
    }
    if (best >= 0) {
        nth_big_cached *e = &heap->big_cache[best];
        size_t rest = e->bytes - bytes;
        if (rest >= NTH_CHUNK && rest >= bytes / 8) {
            /* Split: the tail stays, with what is left of the dirty prefix. */
            *out = (nth_big_cached){e->base, bytes, e->dirty < bytes ? e->dirty : bytes, e->region};
            e->dirty = e->dirty > bytes ? e->dirty - bytes : 0;
            e->base += bytes;
            e->bytes = rest;
            heap->big_cache_bytes -= bytes;
            return true;
        }
        *out = *e;
        remove_entry(heap, (uint32_t)best);
        return true;
    }
    if (largest < 0) return false;
    nth_big_cached e = heap->big_cache[largest];
    char *grown = nth_vm_remap(e.base, e.bytes, bytes, NTH_CHUNK, true);
    if (!grown) return false; /* the entry stays cached */
    remove_entry(heap, (uint32_t)largest);
    heap->reserved_bytes += bytes - e.bytes;
    heap->committed_bytes += bytes - e.bytes;
    *out = (nth_big_cached){grown, bytes, e.dirty, grown == e.base ? e.region : heap->big_region_next++};
    return true;
}

bool nth_big_cache_put_locked(nth_heap *heap, nth_big_cached e)
{
    nth_assert_held(heap);
    if (NTH_VIS_ON()) return false; /* memcheck still holds the old block's state for these pages */
    size_t bound = demand_bound(heap);
    if (e.bytes > bound) return false;
    if (!heap->big_cache) {
        heap->big_cache = nth_vm_map_private(NTH_PAGE);
        if (!heap->big_cache) return false;
    }
    /* Pieces of the same mapping on either side join it (the kernel sees one mapping there). */
    for (uint32_t i = 0; i < heap->big_cache_n;) {
        nth_big_cached n = heap->big_cache[i];
        if (n.region == e.region && n.base + n.bytes == e.base) {
            e = (nth_big_cached){n.base, n.bytes + e.bytes, e.dirty ? n.bytes + e.dirty : n.dirty, e.region};
        } else if (n.region == e.region && e.base + e.bytes == n.base) {
            e = (nth_big_cached){e.base, e.bytes + n.bytes, n.dirty ? e.bytes + n.dirty : e.dirty, e.region};
        } else {
            i++;
            continue;
        }
        remove_entry(heap, i);
    }
    if (e.bytes > bound) bound = e.bytes; /* merged pieces were within the bound already */
    shrink_to(heap, bound - e.bytes);
    if (heap->big_cache_n == MAX_ENTRIES) release_entry(heap, 0);
    if (e.dirty > e.bytes) e.dirty = e.bytes;
    heap->big_cache[heap->big_cache_n++] = e;
    heap->big_cache_bytes += e.bytes;
    return true;
}

void nth_big_cache_release_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    shrink_to(heap, 0);
}

void nth_big_cache_teardown(nth_heap *heap)
{
    shrink_to(heap, 0);
    if (heap->big_cache) nth_vm_unmap_private(heap->big_cache, NTH_PAGE);
    heap->big_cache = NULL;
}
