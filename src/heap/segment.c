/*
 * segment.c — segments: reserve address space, commit it as the heap grows, track uncommitted
 * ranges exactly, decommit the pages inside large free blocks, and add segments with a doubled
 * reserve when a growable heap is full.
 *
 *   base                                                                  limit
 *   | header block | blocks ........ LAST | UCR | block ... LAST |   UCR         |
 *                                  ^ ucr[0].last_block_gr         ^ ucr[1]
 *
 * Invariants
 *   - [base, limit) minus the UCRs is committed and tiled by blocks; UCRs are page aligned,
 *     sorted, never adjacent, and at most NTH_MAX_UCR per segment.
 *   - The block ending at a UCR's start carries BLOCK_LAST, and ucr.last_block_gr locates it
 *     (kept by nth_block_store_locked, the one place headers with BLOCK_LAST are written).
 *   - The block starting at a UCR's end has prev_size_gr 0.
 *   - heap->committed_bytes and heap->reserved_bytes count segments and big blocks exactly.
 */
#include "heap/internal.h"
#include "heap/vm.h"

#define FIRST_SEGMENT_MIN_RESERVE ((size_t)256 << 10)
#define NEXT_SEGMENT_RESERVE ((size_t)1 << 20)
#define MAX_SEGMENT_RESERVE ((size_t)1 << 30)
#define DEFAULT_COMMIT_STEP ((size_t)64 << 10)

static size_t header_block_bytes(bool first)
{
    return nth_round_up(first ? sizeof(nth_heap) : sizeof(nth_block_header) + sizeof(nth_segment), NTH_GRANULE);
}

bool nth_segment_is_committed(const nth_segment *segment, const void *addr, size_t size)
{
    const char *p = addr, *base = nth_segment_base(segment);
    if (p < base || p + size > segment->limit || p + size < p) return false;
    size_t start = (size_t)(p - base), end = start + size;
    for (uint32_t i = 0; i < segment->n_ucr; i++) {
        size_t u0 = (size_t)segment->ucr[i].offset_pg * NTH_PAGE;
        size_t u1 = u0 + (size_t)segment->ucr[i].size_pg * NTH_PAGE;
        if (u0 >= end) break;
        if (start < u1) return false;
    }
    return true;
}

const nth_ucr *nth_segment_ucr_at(const nth_segment *segment, const void *addr)
{
    size_t offset = (size_t)((const char *)addr - nth_segment_base(segment));
    for (uint32_t i = 0; i < segment->n_ucr; i++)
        if ((size_t)segment->ucr[i].offset_pg * NTH_PAGE == offset) return &segment->ucr[i];
    return NULL;
}

static nth_ucr *ucr_at_mutable(nth_segment *segment, const void *addr)
{
    return (nth_ucr *)nth_segment_ucr_at(segment, addr);
}

void nth_block_store_locked(nth_heap *heap, char *block, nth_block_header hdr)
{
    nth_header_store(heap, block, hdr);
    if (hdr.flags & BLOCK_LAST) {
        nth_segment *segment = heap->segments[hdr.segment_index];
        nth_ucr *ucr = ucr_at_mutable(segment, block + (size_t)hdr.size_gr * NTH_GRANULE);
        if (ucr) ucr->last_block_gr = (uint32_t)((size_t)(block - nth_segment_base(segment)) / NTH_GRANULE);
    }
}

static void ucr_remove(nth_segment *segment, uint32_t i)
{
    memmove(&segment->ucr[i], &segment->ucr[i + 1], (segment->n_ucr - i - 1) * sizeof(nth_ucr));
    segment->n_ucr--;
}

/* Inserts [offset_pg, +size_pg), merging with a UCR that starts where it ends. */
static void ucr_insert(nth_segment *segment, uint32_t offset_pg, uint32_t size_pg, uint32_t last_block_gr)
{
    uint32_t i = 0;
    while (i < segment->n_ucr && segment->ucr[i].offset_pg < offset_pg) i++;
    if (i < segment->n_ucr && segment->ucr[i].offset_pg == offset_pg + size_pg) {
        segment->ucr[i].offset_pg = offset_pg;
        segment->ucr[i].size_pg += size_pg;
        segment->ucr[i].last_block_gr = last_block_gr;
        return;
    }
    memmove(&segment->ucr[i + 1], &segment->ucr[i], (segment->n_ucr - i) * sizeof(nth_ucr));
    segment->ucr[i] = (nth_ucr){offset_pg, size_pg, last_block_gr};
    segment->n_ucr++;
}

/* Writes the header block of a segment and a free block over the rest of the committed range. */
static void lay_out_segment(nth_heap *heap, nth_segment *segment, size_t header_bytes, size_t committed)
{
    char *base = nth_segment_base(segment);
    uint8_t index = (uint8_t)segment->owner.index;
    size_t limit = (size_t)(segment->limit - base);
    segment->first_block = base + header_bytes;
    segment->committed = committed;
    segment->n_ucr = 0;
    if (committed < limit)
        ucr_insert(segment, (uint32_t)(committed / NTH_PAGE), (uint32_t)((limit - committed) / NTH_PAGE),
                   (uint32_t)(header_bytes / NTH_GRANULE));
    size_t struct_bytes = index == 0 ? sizeof(nth_heap) : sizeof(nth_block_header) + sizeof(nth_segment);
    nth_block_header hdr = {
        .size_gr = (uint32_t)(header_bytes / NTH_GRANULE),
        .prev_size_gr = 0,
        .flags = BLOCK_BUSY | BLOCK_INTERNAL,
        .segment_index = index,
        .unused = (uint8_t)(header_bytes - struct_bytes + sizeof(nth_block_header)),
    };
    nth_block_store_locked(heap, base, hdr);
    size_t rest_gr = (committed - header_bytes) / NTH_GRANULE;
    /* The rest ends at an uncommitted range or at the limit: either way it is the LAST block. */
    nth_backend_release_range_locked(heap, base + header_bytes, (uint32_t)rest_gr, index, hdr.size_gr, true, false);
}

nth_heap *nth_segment_create_heap(uint32_t flags, size_t initial_size, size_t maximum_size)
{
    size_t header_bytes = header_block_bytes(true);
    size_t min_bytes = nth_round_up(header_bytes + NTH_MIN_FREE_GR * NTH_GRANULE, NTH_PAGE);
    size_t limit, commit;
    if (initial_size > NTH_MAX_REQUEST || maximum_size > NTH_MAX_REQUEST) return NULL;
    if (maximum_size == 0) {
        limit = nth_round_up(initial_size > FIRST_SEGMENT_MIN_RESERVE ? initial_size : FIRST_SEGMENT_MIN_RESERVE,
                             NTH_CHUNK);
        if (limit < min_bytes) limit = nth_round_up(min_bytes, NTH_CHUNK);
    } else {
        size_t wanted = maximum_size > initial_size ? maximum_size : initial_size;
        limit = nth_round_up(wanted, NTH_PAGE);
        if (limit < min_bytes) limit = min_bytes;
    }
    commit = nth_round_up(initial_size, NTH_PAGE);
    if (commit < DEFAULT_COMMIT_STEP) commit = DEFAULT_COMMIT_STEP;
    if (commit < min_bytes) commit = min_bytes;
    if (commit > limit) commit = limit;

    size_t reserve = nth_round_up(limit, NTH_CHUNK);
    char *base = nth_vm_reserve(reserve, NTH_CHUNK);
    if (!base) return NULL;
    if (!nth_vm_commit(base, commit, flags & NTH_CREATE_ENABLE_EXECUTE)) {
        nth_vm_release(base, reserve);
        return NULL;
    }
    nth_heap *heap = (nth_heap *)base;
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
    heap->terminate_on_corruption = nth_process_defaults.terminate_on_corruption;
    /* Debug heaps and unserialized heaps use the back-end only, as on Windows. */
    heap->lfh_enabled = nth_process_defaults.lfh && maximum_size == 0 &&
                        !(flags & (NTH_NO_SERIALIZE | NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED));
    atomic_init(&heap->lfh_paused, heap->lfh_enabled ? 0 : 1);
    nth_lock_init(&heap->lock);
    nth_freelist_init(heap);

    nth_segment *segment = &heap->segment0;
    segment->owner = (nth_owner){NTH_SEGMENT_MAGIC, OWNER_SEGMENT, 0, heap, base, reserve};
    segment->limit = base + limit;
    heap->segments[0] = segment;
    heap->n_segments = 1;
    heap->reserved_bytes = reserve;
    heap->committed_bytes = commit;
    heap->commit_ops = 1;
    if (!nth_addrmap_set(base, reserve, &segment->owner)) {
        nth_vm_release(base, reserve);
        return NULL;
    }
    lay_out_segment(heap, segment, header_bytes, commit);
    return heap;
}

/* Adds a segment big enough for a free block of size_gr granules. */
static bool add_segment_locked(nth_heap *heap, uint32_t size_gr)
{
    if (heap->maximum != 0 || heap->n_segments >= NTH_MAX_SEGMENTS) return false;
    size_t header_bytes = header_block_bytes(false);
    size_t needed = header_bytes + (size_t)size_gr * NTH_GRANULE;
    size_t reserve = heap->segment_reserve;
    if (reserve < needed) reserve = needed;
    reserve = nth_round_up(reserve, NTH_CHUNK);
    size_t commit = nth_round_up(needed, NTH_PAGE);
    if (commit < heap->commit_step) commit = heap->commit_step;
    if (commit > reserve) commit = reserve;

    char *base = nth_vm_reserve(reserve, NTH_CHUNK);
    if (!base) return false;
    if (!nth_vm_commit(base, commit, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) {
        nth_vm_release(base, reserve);
        return false;
    }
    nth_segment *segment = (nth_segment *)(base + sizeof(nth_block_header));
    segment->owner = (nth_owner){NTH_SEGMENT_MAGIC, OWNER_SEGMENT, (uint16_t)heap->n_segments, heap, base, reserve};
    segment->limit = base + reserve;
    if (!nth_addrmap_set(base, reserve, &segment->owner)) {
        nth_vm_release(base, reserve);
        return false;
    }
    heap->segments[heap->n_segments++] = segment;
    heap->reserved_bytes += reserve;
    heap->committed_bytes += commit;
    heap->commit_ops++;
    if (heap->segment_reserve < MAX_SEGMENT_RESERVE) heap->segment_reserve *= 2;
    lay_out_segment(heap, segment, header_bytes, commit);
    return true;
}

/* Commits pages at the start of ucr[i] so that, with a free block before it, a free block of
 * size_gr granules exists. */
static bool commit_at_ucr_locked(nth_heap *heap, nth_segment *segment, uint32_t i, uint32_t size_gr)
{
    char *base = nth_segment_base(segment);
    nth_ucr ucr = segment->ucr[i];
    char *start = base + (size_t)ucr.offset_pg * NTH_PAGE;
    size_t ucr_bytes = (size_t)ucr.size_pg * NTH_PAGE;
    char *prev = base + (size_t)ucr.last_block_gr * NTH_GRANULE;
    nth_block_header prev_hdr;
    if (!nth_header_load(heap, prev, &prev_hdr)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, prev, "the block before an uncommitted range",
                           "a damaged header");
        return false;
    }
    size_t have = (prev_hdr.flags & BLOCK_BUSY) ? 0 : (size_t)prev_hdr.size_gr * NTH_GRANULE;
    size_t needed = (size_t)size_gr * NTH_GRANULE;
    if (have + ucr_bytes < needed) return false;
    size_t commit = needed > have ? nth_round_up(needed - have, NTH_PAGE) : NTH_PAGE;
    if (commit < heap->commit_step) commit = heap->commit_step;
    if (commit > ucr_bytes) commit = ucr_bytes;
    if (!nth_vm_commit(start, commit, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) return false;

    segment->committed += commit;
    heap->committed_bytes += commit;
    heap->commit_ops++;
    bool consumed = commit == ucr_bytes;
    bool at_limit = start + commit == segment->limit;
    if (consumed)
        ucr_remove(segment, i);
    else {
        segment->ucr[i].offset_pg += (uint32_t)(commit / NTH_PAGE);
        segment->ucr[i].size_pg -= (uint32_t)(commit / NTH_PAGE);
    }
    prev_hdr.flags &= (uint16_t)~BLOCK_LAST;
    nth_block_store_locked(heap, prev, prev_hdr);
    nth_backend_release_range_locked(heap, start, (uint32_t)(commit / NTH_GRANULE), (uint8_t)segment->owner.index,
                                     prev_hdr.size_gr, !consumed || at_limit, false);
    return true;
}

bool nth_segment_extend_locked(nth_heap *heap, uint32_t size_gr)
{
    for (uint32_t s = 0; s < heap->n_segments; s++) {
        nth_segment *segment = heap->segments[s];
        for (uint32_t i = 0; i < segment->n_ucr; i++)
            if (commit_at_ucr_locked(heap, segment, i, size_gr)) return true;
    }
    return add_segment_locked(heap, size_gr);
}

bool nth_segment_decommit_free_locked(nth_heap *heap, char *block, nth_block_header *hdr)
{
    nth_segment *segment = heap->segments[hdr->segment_index];
    char *base = nth_segment_base(segment);
    char *end = block + (size_t)hdr->size_gr * NTH_GRANULE;
    char *dstart = (char *)nth_round_up((uintptr_t)block + NTH_MIN_FREE_GR * NTH_GRANULE, NTH_PAGE);
    char *dend = (char *)nth_round_down((uintptr_t)end, NTH_PAGE);
    size_t tail = (size_t)(end - dend);
    if (tail != 0 && tail < NTH_MIN_FREE_GR * NTH_GRANULE) dend -= NTH_PAGE;
    if (dend <= dstart || segment->n_ucr >= NTH_MAX_UCR) return false;
    tail = (size_t)(end - dend);

    size_t bytes = (size_t)(dend - dstart);
    nth_vm_decommit(dstart, bytes);
    segment->committed -= bytes;
    heap->committed_bytes -= bytes;
    heap->decommit_ops++;
    ucr_insert(segment, (uint32_t)((size_t)(dstart - base) / NTH_PAGE), (uint32_t)(bytes / NTH_PAGE),
               (uint32_t)((size_t)(block - base) / NTH_GRANULE));

    bool was_last = hdr->flags & BLOCK_LAST;
    nth_block_header head = *hdr;
    head.size_gr = (uint32_t)((size_t)(dstart - block) / NTH_GRANULE);
    head.flags = (uint16_t)((head.flags & BLOCK_FILL) | BLOCK_LAST);
    nth_block_store_locked(heap, block, head);
    nth_freelist_insert_locked(heap, block, head.size_gr);
    if (tail) {
        nth_block_header t = {.size_gr = (uint32_t)(tail / NTH_GRANULE), .prev_size_gr = 0,
                              .flags = (uint16_t)((hdr->flags & BLOCK_FILL) | (was_last ? BLOCK_LAST : 0)),
                              .segment_index = hdr->segment_index, .unused = 0};
        nth_block_store_locked(heap, dend, t);
        nth_freelist_insert_locked(heap, dend, t.size_gr);
        nth_backend_fix_next_prev_locked(heap, dend, &t);
    } else if (!was_last) {
        nth_backend_set_prev_size_locked(heap, dend, 0); /* first block after the new range */
    }
    return true;
}

void nth_segment_release_all(nth_heap *heap)
{
    /* Secondary segments first: segment 0 holds the heap object itself. */
    for (uint32_t s = heap->n_segments; s-- > 0;) {
        nth_segment *segment = heap->segments[s];
        char *base = nth_segment_base(segment);
        size_t reserve = segment->owner.reserve;
        nth_addrmap_clear(base, reserve);
        nth_vm_release(base, reserve);
    }
}
