/*
 * segment.c — segments as address space: reserve, commit and decommit page ranges, keep the
 * table of uncommitted ranges (UCRs) exact, and hand raw committed ranges up to the back-end,
 * which formats them into blocks. Nothing here writes or reads a block header or touches a
 * free list; the only block-level fact kept here is ucr.last_block_gr, which block.c records.
 *
 *   base                                                                  limit
 *   | header block | blocks ........ LAST | UCR | block ... LAST |   UCR         |
 *                                  ^ ucr[0].last_block_gr         ^ ucr[1]
 *
 * Invariants
 *   - [base, limit) minus the UCRs is committed; UCRs are page aligned, sorted and never
 *     adjacent (lookups are binary searches). The table lives in the segment header
 *     (NTH_INLINE_UCR entries); the free path's opportunistic decommits stop there, as the
 *     seed's did, but compaction moves the table to a mapping of its own, twice as large, so
 *     compaction never fails to decommit for want of a slot.
 *   - The heap's segments form a list in creation order; there is no cap on their number. A
 *     growable heap's next reserve doubles (1 MiB, 2 MiB, ... up to 1 GiB); when the address
 *     space cannot give that much, smaller reservations are tried down to what the request
 *     needs, so the heap can use nearly all of the address space.
 *   - heap->committed_bytes and heap->reserved_bytes count segments and big blocks exactly (the
 *     UCR table mappings are heap metadata outside the segments and are not counted).
 */
#include "heap/internal.h"
#include "heap/vm.h"

#define FIRST_SEGMENT_MIN_RESERVE ((size_t)256 << 10)
#define NEXT_SEGMENT_RESERVE ((size_t)1 << 20)
#define MAX_SEGMENT_RESERVE ((size_t)1 << 30)
#define DEFAULT_COMMIT_STEP ((size_t)64 << 10)
#define FIXED_RESERVE_UNIT ((size_t)0x2000)
/* Tables up to this many ranges are scanned; longer ones are binary-searched. */
#define SHORT_TABLE 8u

size_t nth_segment_header_bytes(bool first)
{
    return nth_round_up(first ? sizeof(nth_heap) : sizeof(nth_block_header) + sizeof(nth_segment), NTH_GRANULE);
}

/* The first UCR that ends after `offset` bytes from the base (n_ucr when none): the table is
 * sorted and its ranges are apart, so a binary search finds it. */
static uint32_t ucr_first_ending_after(const nth_segment *segment, size_t offset)
{
    uint32_t lo = 0, hi = segment->n_ucr;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((size_t)(segment->ucr[mid].offset_pg + segment->ucr[mid].size_pg) * NTH_PAGE <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool nth_segment_is_committed_scan(const nth_segment *segment, const void *addr, size_t size)
{
    const char *p = addr, *base = nth_segment_base(segment);
    if (p < base || p + size > segment->limit || p + size < p) return false;
    size_t start = (size_t)(p - base), end = start + size;
    if (NTH_LIKELY(segment->n_ucr <= SHORT_TABLE)) {
        for (uint32_t i = 0; i < segment->n_ucr; i++) {
            size_t u0 = (size_t)segment->ucr[i].offset_pg * NTH_PAGE;
            if (u0 >= end) break;
            if (start < u0 + (size_t)segment->ucr[i].size_pg * NTH_PAGE) return false;
        }
        return true;
    }
    uint32_t i = ucr_first_ending_after(segment, start);
    return i == segment->n_ucr || (size_t)segment->ucr[i].offset_pg * NTH_PAGE >= end;
}

const nth_ucr *nth_segment_ucr_at(const nth_segment *segment, const void *addr)
{
    const char *base = nth_segment_base(segment);
    if ((const char *)addr < base) return NULL;
    size_t offset = (size_t)((const char *)addr - base);
    if (NTH_LIKELY(segment->n_ucr <= SHORT_TABLE)) {
        for (uint32_t i = 0; i < segment->n_ucr; i++)
            if ((size_t)segment->ucr[i].offset_pg * NTH_PAGE == offset) return &segment->ucr[i];
        return NULL;
    }
    uint32_t i = ucr_first_ending_after(segment, offset);
    if (i < segment->n_ucr && (size_t)segment->ucr[i].offset_pg * NTH_PAGE == offset) return &segment->ucr[i];
    return NULL;
}

void nth_segment_note_last_block(nth_segment *segment, const char *block, const char *end)
{
    nth_ucr *ucr = (nth_ucr *)nth_segment_ucr_at(segment, end);
    if (ucr) ucr->last_block_gr = (uint32_t)((size_t)(block - nth_segment_base(segment)) / NTH_GRANULE);
}

/* Makes room for one more UCR: moves the table to a mapping twice its size when it is full. */
static bool ucr_reserve_slot(nth_segment *segment)
{
    if (segment->n_ucr < segment->ucr_capacity) return true;
    size_t bytes = nth_round_up((size_t)segment->ucr_capacity * 2 * sizeof(nth_ucr), NTH_PAGE);
    nth_ucr *table = nth_vm_reserve(bytes, NTH_PAGE);
    if (!table) return false;
    if (!nth_vm_commit(table, bytes, false)) {
        nth_vm_release(table, bytes);
        return false;
    }
    memcpy(table, segment->ucr, (size_t)segment->n_ucr * sizeof(nth_ucr));
    if (segment->ucr_map_bytes) nth_vm_release(segment->ucr, segment->ucr_map_bytes);
    segment->ucr = table;
    segment->ucr_map_bytes = bytes;
    segment->ucr_capacity = (uint32_t)(bytes / sizeof(nth_ucr));
    return true;
}

static void ucr_remove(nth_segment *segment, uint32_t i)
{
    memmove(&segment->ucr[i], &segment->ucr[i + 1], (segment->n_ucr - i - 1) * sizeof(nth_ucr));
    segment->n_ucr--;
}

/* Inserts [offset_pg, +size_pg), merging with a UCR that starts where it ends or ends where it
 * starts. pre: a slot is free (ucr_reserve_slot). */
void nth_segment_ucr_insert(nth_segment *segment, uint32_t offset_pg, uint32_t size_pg, uint32_t last_block_gr)
{
    uint32_t i = ucr_first_ending_after(segment, (size_t)offset_pg * NTH_PAGE); /* the ranges never overlap */
    bool joins_next = i < segment->n_ucr && segment->ucr[i].offset_pg == offset_pg + size_pg;
    bool joins_prev = i > 0 && segment->ucr[i - 1].offset_pg + segment->ucr[i - 1].size_pg == offset_pg;
    if (joins_prev) {
        segment->ucr[i - 1].size_pg += size_pg;
        if (joins_next) {
            segment->ucr[i - 1].size_pg += segment->ucr[i].size_pg;
            ucr_remove(segment, i);
        }
        return;
    }
    if (joins_next) {
        segment->ucr[i].offset_pg = offset_pg;
        segment->ucr[i].size_pg += size_pg;
        segment->ucr[i].last_block_gr = last_block_gr;
        return;
    }
    memmove(&segment->ucr[i + 1], &segment->ucr[i], (segment->n_ucr - i) * sizeof(nth_ucr));
    segment->ucr[i] = (nth_ucr){offset_pg, size_pg, last_block_gr};
    segment->n_ucr++;
}

/* Sets up the bookkeeping of a segment whose first `committed` bytes are committed. */
static void init_segment(nth_segment *segment, size_t header_bytes, size_t committed)
{
    char *base = nth_segment_base(segment);
    size_t limit = (size_t)(segment->limit - base);
    segment->next = NULL;
    segment->first_block = base + header_bytes;
    segment->committed = committed;
    segment->ucr = segment->ucr_inline;
    segment->ucr_capacity = NTH_INLINE_UCR;
    segment->ucr_map_bytes = 0;
    segment->n_ucr = 0;
    if (committed < limit)
        nth_segment_ucr_insert(segment, (uint32_t)(committed / NTH_PAGE), (uint32_t)((limit - committed) / NTH_PAGE),
                               (uint32_t)(header_bytes / NTH_GRANULE));
}

/* A cached reservation (regions.c) of exactly `needed` bytes for a new segment, with at least
 * *commit bytes committed (raised to its hot prefix, which costs nothing to keep) and the header
 * cleared; *reserve receives its size. NULL when none is cached, or for executable heaps (cached
 * pages are not executable, and an executable heap's pages are never cached). */
static char *take_cached(uint32_t flags, size_t needed, size_t header_bytes, size_t *reserve, size_t *commit)
{
    if (flags & NTH_CREATE_ENABLE_EXECUTE) return NULL;
    size_t hot;
    char *base = nth_regions_take(needed, reserve, &hot);
    if (!base) return NULL;
    if (*commit > *reserve) *commit = *reserve;
    if (hot >= *commit) {
        *commit = hot;
    } else if (!nth_vm_commit(base + hot, *commit - hot, false)) {
        nth_vm_release(base, *reserve);
        return NULL;
    }
    memset(base, 0, header_bytes); /* the new owner reads its header as zero-filled */
    return base;
}

/* A fresh reservation; when the system refuses, the process's cached reservations and (under
 * its lock) the heap's cached big-block mappings are given back and it is asked once more. */
static char *reserve_or_drop_caches(nth_heap *heap, size_t wanted, size_t needed, size_t *got);

nth_heap *nth_segment_create_heap(uint32_t flags, size_t initial_size, size_t maximum_size)
{
    size_t header_bytes = nth_segment_header_bytes(true);
    size_t min_bytes = nth_round_up(header_bytes + NTH_MIN_FREE_GR * NTH_GRANULE, NTH_PAGE);
    size_t limit, commit;
    if (initial_size > NTH_MAX_REQUEST || maximum_size > NTH_MAX_REQUEST) return NULL;
    if (maximum_size == 0) {
        limit = nth_round_up(initial_size > FIRST_SEGMENT_MIN_RESERVE ? initial_size : FIRST_SEGMENT_MIN_RESERVE,
                             NTH_CHUNK);
        if (limit < min_bytes) limit = nth_round_up(min_bytes, NTH_CHUNK);
    } else {
        /* Windows x64 reserves fixed heaps in 0x2000-byte units (0x400 granules of 8 pointers). */
        size_t wanted = maximum_size > initial_size ? maximum_size : initial_size;
        limit = nth_round_up(wanted, FIXED_RESERVE_UNIT);
        if (limit < min_bytes) limit = min_bytes;
    }
    /* As on Windows, a heap starts with initial_size committed, at least its header and one
     * free block: a single page for HeapCreate(0, 0, 0). Growth then commits at least
     * nth_commit_step at a time (64 KiB, or 1/64 of what is committed up to 4 MiB). */
    commit = nth_round_up(initial_size, NTH_PAGE);
    if (commit < min_bytes) commit = min_bytes;
    if (commit > limit) commit = limit;

    size_t reserve = nth_round_up(limit, NTH_CHUNK);
    char *base = maximum_size == 0 ? take_cached(flags, reserve, header_bytes, &reserve, &commit) : NULL;
    if (base) {
        limit = reserve;
    } else {
        if (!(base = reserve_or_drop_caches(NULL, reserve, reserve, &reserve))) return NULL;
        if (!nth_vm_commit(base, commit, flags & NTH_CREATE_ENABLE_EXECUTE)) {
            nth_vm_release(base, reserve);
            return NULL;
        }
    }
    nth_heap_side *side = nth_vm_map_private(sizeof(nth_heap_side));
    if (!side) {
        nth_vm_release(base, reserve);
        return NULL;
    }
    nth_heap *heap = (nth_heap *)base;
    heap->freelists = side->freelists;
    heap->lfh_usage = side->lfh_usage;
    heap->magic = NTH_HEAP_MAGIC;
    heap->layout_version = NTH_LAYOUT_VERSION;
    heap->flags = flags | (maximum_size == 0 ? NTH_GROWABLE : 0);
    heap->force_flags = flags & (NTH_NO_SERIALIZE | NTH_GENERATE_EXCEPTIONS | NTH_ZERO_MEMORY |
                                 NTH_REALLOC_IN_PLACE_ONLY | NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED);
    heap->key[0] = nth_random64();
    heap->key[1] = nth_random64();
    heap->maximum = maximum_size == 0 ? 0 : limit;
    heap->segment_reserve = NEXT_SEGMENT_RESERVE;
    heap->commit_step = DEFAULT_COMMIT_STEP;
    heap->decommit_free_block = nth_process_defaults.decommit_free_block;
    heap->decommit_total_free = nth_process_defaults.decommit_total_free;
    heap->big_cache_decay_ms = nth_process_defaults.big_cache_decay_ms;
    heap->big_cache_max = nth_process_defaults.big_cache_max;
    heap->big_epoch_ms = nth_vm_clock_ms();
    heap->decommit_decay_ms = nth_process_defaults.decommit_decay_ms;
    heap->backend_epoch_ms = heap->big_epoch_ms;
    heap->terminate_on_corruption = nth_process_defaults.terminate_on_corruption;
    /* Debug heaps and unserialized heaps use the back-end only, as on Windows. */
    heap->lfh_enabled = nth_process_defaults.lfh && maximum_size == 0 &&
                        !(flags & (NTH_NO_SERIALIZE | NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED));
    atomic_init(&heap->lfh_paused, heap->lfh_enabled ? 0 : 1);
    nth_lock_init(&heap->lock);

    nth_segment *segment = &heap->segment0;
    segment->owner = (nth_owner){NTH_SEGMENT_MAGIC, OWNER_SEGMENT, 0, heap, base, reserve};
    segment->limit = base + limit;
    init_segment(segment, header_bytes, commit);
    heap->first_segment = heap->last_segment = segment;
    heap->n_segments = 1;
    heap->reserved_bytes = reserve;
    heap->committed_bytes = commit;
    heap->commit_ops = 1;
    if (!nth_addrmap_set(base, reserve, &segment->owner)) {
        nth_vm_unmap_private(side, sizeof(nth_heap_side));
        nth_vm_release(base, reserve);
        return NULL;
    }
    return heap;
}

/* Reserves `wanted` bytes, or less down to `needed` when the address space is short: each
 * failure halves the attempt. *got receives the size reserved. */
static char *reserve_down_to(size_t wanted, size_t needed, size_t *got)
{
    for (size_t size = wanted;; size = nth_round_up(size / 2, NTH_CHUNK)) {
        if (size < needed) size = needed;
        char *base = nth_vm_reserve(size, NTH_CHUNK);
        if (base) {
            *got = size;
            return base;
        }
        if (size == needed) return NULL;
    }
}

static char *reserve_or_drop_caches(nth_heap *heap, size_t wanted, size_t needed, size_t *got)
{
    char *base = reserve_down_to(wanted, needed, got);
    if (base) return base;
    bool dropped = nth_regions_release_all() > 0;
    if (heap && heap->big_cache_n > 0) {
        nth_big_cache_release_locked(heap);
        dropped = true;
    }
    return dropped ? reserve_down_to(wanted, needed, got) : NULL;
}

nth_segment *nth_segment_add_locked(nth_heap *heap, size_t bytes)
{
    nth_assert_held(heap);
    if (heap->maximum != 0) return NULL;
    size_t header_bytes = nth_segment_header_bytes(false);
    size_t needed = nth_round_up(header_bytes + bytes, NTH_CHUNK);
    size_t wanted = heap->segment_reserve > needed ? heap->segment_reserve : needed;
    size_t reserve;
    size_t commit = nth_round_up(header_bytes + bytes, NTH_PAGE);
    if (commit < nth_commit_step(heap)) commit = nth_commit_step(heap);
    char *base = take_cached(heap->flags, nth_round_up(wanted, NTH_CHUNK), header_bytes, &reserve, &commit);
    if (!base) {
        if (!(base = reserve_or_drop_caches(heap, nth_round_up(wanted, NTH_CHUNK), needed, &reserve))) return NULL;
        if (commit > reserve) commit = reserve;
        if (!nth_vm_commit(base, commit, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) {
            nth_vm_release(base, reserve);
            return NULL;
        }
    }
    nth_segment *segment = (nth_segment *)(base + sizeof(nth_block_header));
    segment->owner = (nth_owner){NTH_SEGMENT_MAGIC, OWNER_SEGMENT, (uint16_t)heap->n_segments, heap, base, reserve};
    segment->limit = base + reserve;
    init_segment(segment, header_bytes, commit);
    if (!nth_addrmap_set(base, reserve, &segment->owner)) {
        nth_vm_release(base, reserve);
        return NULL;
    }
    heap->last_segment->next = segment;
    heap->last_segment = segment;
    heap->n_segments++;
    heap->reserved_bytes += reserve;
    heap->committed_bytes += commit;
    heap->commit_ops++;
    if (heap->segment_reserve < MAX_SEGMENT_RESERVE) heap->segment_reserve *= 2;
    return segment;
}

bool nth_segment_commit_locked(nth_heap *heap, nth_segment *segment, uint32_t i, size_t bytes)
{
    nth_assert_held(heap);
    char *base = nth_segment_base(segment);
    nth_ucr ucr = segment->ucr[i];
    char *start = base + (size_t)ucr.offset_pg * NTH_PAGE;
    if (bytes == 0 || bytes % NTH_PAGE || bytes > (size_t)ucr.size_pg * NTH_PAGE) return false;
    if (!nth_vm_commit(start, bytes, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) return false;
    segment->committed += bytes;
    heap->committed_bytes += bytes;
    heap->commit_ops++;
    if (bytes == (size_t)ucr.size_pg * NTH_PAGE) {
        ucr_remove(segment, i);
    } else {
        segment->ucr[i].offset_pg += (uint32_t)(bytes / NTH_PAGE);
        segment->ucr[i].size_pg -= (uint32_t)(bytes / NTH_PAGE);
    }
    return true;
}

bool nth_segment_decommit_locked(nth_heap *heap, nth_segment *segment, char *start, size_t bytes, const char *last_block,
                                 bool grow_table)
{
    nth_assert_held(heap);
    char *base = nth_segment_base(segment);
    if (bytes == 0) return false;
    uint32_t offset_pg = (uint32_t)((size_t)(start - base) / NTH_PAGE), size_pg = (uint32_t)(bytes / NTH_PAGE);
    uint32_t i = ucr_first_ending_after(segment, (size_t)offset_pg * NTH_PAGE);
    /* A range that touches a neighbouring UCR merges with it and needs no new slot. */
    bool joins = (i < segment->n_ucr && segment->ucr[i].offset_pg == offset_pg + size_pg) ||
                 (i > 0 && segment->ucr[i - 1].offset_pg + segment->ucr[i - 1].size_pg == offset_pg);
    if (!joins && segment->n_ucr >= NTH_INLINE_UCR && !grow_table) return false;
    if (!joins && !ucr_reserve_slot(segment)) return false;
    nth_vm_decommit(start, bytes);
    segment->committed -= bytes;
    heap->committed_bytes -= bytes;
    heap->decommit_ops++;
    nth_segment_ucr_insert(segment, offset_pg, size_pg, (uint32_t)((size_t)(last_block - base) / NTH_GRANULE));
    return true;
}

static nth_heap_side *side_of(nth_heap *heap)
{
    return (nth_heap_side *)((char *)heap->freelists - offsetof(nth_heap_side, freelists));
}

/* Gives a destroyed heap's segment to the process's cache of reservations (regions.c), else
 * back to the system. Executable heaps' pages are never cached. */
static void release_segment(nth_segment *segment, bool executable)
{
    char *base = nth_segment_base(segment);
    size_t reserve = segment->owner.reserve, limit = (size_t)(segment->limit - base);
    size_t hot = segment->n_ucr ? (size_t)segment->ucr[0].offset_pg * NTH_PAGE : limit;
    bool scattered = segment->n_ucr > 1 ||
                     (segment->n_ucr == 1 && (size_t)(segment->ucr[0].offset_pg + segment->ucr[0].size_pg) * NTH_PAGE < limit);
    if (segment->ucr_map_bytes) nth_vm_release(segment->ucr, segment->ucr_map_bytes);
    nth_addrmap_clear(base, reserve);
    if (executable || !nth_regions_put(base, reserve, hot, scattered)) nth_vm_release(base, reserve);
}

void nth_segment_release_all(nth_heap *heap)
{
    /* Segment 0 last: it holds the heap object itself, and with it the list. */
    bool executable = heap->flags & NTH_CREATE_ENABLE_EXECUTE;
    nth_segment *segment = heap->segment0.next;
    while (segment) {
        nth_segment *next = segment->next;
        release_segment(segment, executable);
        segment = next;
    }
    nth_vm_unmap_private(side_of(heap), sizeof(nth_heap_side));
    release_segment(&heap->segment0, executable);
}
