/*
 * validate.c — the heap's invariants in executable form. nth_heap_validate(heap, 0, ptr) checks
 * one block; with ptr NULL it checks everything and reports the first violation:
 *
 *   per segment   header block; blocks tile [first_block, limit) minus the UCRs exactly; every
 *                 header decodes and names its segment; prev_size_gr chains; BLOCK_LAST exactly
 *                 before each UCR and at the limit; no two free neighbours (unless coalescing is
 *                 off); tail and free fills intact; UCRs sorted, apart, and summing to
 *                 limit - base - committed
 *   free lists    links, sizes, bitmap, totals (freelist.c)
 *   big blocks    owner fields, header, list links
 *   LFH           subsegment bitmaps and counters (lfh.c)
 *   totals        busy/free block counts and bytes equal the heap's counters
 */
#include "heap/internal.h"
#include "heap/lfh.h"


typedef struct totals {
    size_t busy_blocks, busy_bytes, free_blocks, free_bytes, committed;
} totals;

static bool problem(nth_heap *heap, const void *where, const char *expected, const char *found)
{
    nth_report_problem(heap, NTH_ERR_CORRUPT, where, expected, found);
    return false;
}

static bool check_fills(nth_heap *heap, char *block, const nth_block_header *hdr)
{
    if (!(hdr->flags & BLOCK_FILL)) return true;
    if (hdr->flags & BLOCK_BUSY) {
        for (size_t i = nth_block_tail_fill_start(hdr); i < nth_block_fill_end(hdr); i++)
            if ((unsigned char)block[i] != NTH_FILL_TAIL)
                return problem(heap, block + i, "the tail fill 0xAB after the block", "a modified byte (buffer overrun)");
        return true;
    }
    for (size_t i = NTH_MIN_FREE_GR * NTH_GRANULE; i + 4 <= (size_t)hdr->size_gr * NTH_GRANULE; i += 4) {
        uint32_t v;
        memcpy(&v, block + i, 4);
        if (v != NTH_FILL_FREE)
            return problem(heap, block + i, "the free-block fill 0xFEEEFEEE", "a modified byte (written after free?)");
    }
    return true;
}

static bool check_ucrs(nth_heap *heap, nth_segment *segment)
{
    size_t uncommitted = 0;
    for (uint32_t i = 0; i < segment->n_ucr; i++) {
        const nth_ucr *u = &segment->ucr[i];
        if (u->size_pg == 0 || (i > 0 && segment->ucr[i - 1].offset_pg + segment->ucr[i - 1].size_pg >= u->offset_pg))
            return problem(heap, segment, "sorted, separate uncommitted ranges", "overlapping or empty ranges");
        uncommitted += (size_t)u->size_pg * NTH_PAGE;
    }
    size_t span = (size_t)(segment->limit - nth_segment_base(segment));
    if (uncommitted + segment->committed != span)
        return problem(heap, segment, "committed + uncommitted == segment size", "a different sum");
    return true;
}

static bool check_segment(nth_heap *heap, nth_segment *segment, totals *t)
{
    char *base = nth_segment_base(segment);
    nth_block_header hdr;
    if (!nth_header_load(heap, base, &hdr) || !(hdr.flags & BLOCK_INTERNAL) ||
        base + (size_t)hdr.size_gr * NTH_GRANULE != segment->first_block)
        return problem(heap, base, "the segment's header block", "a damaged header");
    if (!check_ucrs(heap, segment)) return false;
    t->committed += segment->committed;

    bool coalesce = !(heap->flags & NTH_DISABLE_COALESCE_ON_FREE);
    char *block = segment->first_block;
    uint32_t prev_gr = hdr.size_gr;
    bool prev_free = false;
    while (block < segment->limit) {
        const nth_ucr *ucr = nth_segment_ucr_at(segment, block);
        if (ucr) {
            block += (size_t)ucr->size_pg * NTH_PAGE;
            prev_gr = 0;
            prev_free = false;
            continue;
        }
        if (!nth_segment_is_committed(segment, block, sizeof hdr) || !nth_header_load(heap, block, &hdr))
            return problem(heap, block, "a block header", "a damaged header (overflow from the block before?)");
        if (hdr.segment_index != segment->owner.index || hdr.prev_size_gr != prev_gr || hdr.size_gr < 1)
            return problem(heap, block, "a header consistent with its neighbours", "a wrong size, segment or prev_size");
        char *end = block + (size_t)hdr.size_gr * NTH_GRANULE;
        if (!nth_segment_is_committed(segment, block, (size_t)(end - block)))
            return problem(heap, block, "a block inside committed memory", "a size running past it");
        bool at_stop = end == segment->limit || nth_segment_ucr_at(segment, end);
        if (at_stop != !!(hdr.flags & BLOCK_LAST))
            return problem(heap, block, "BLOCK_LAST exactly before uncommitted space", "a wrong LAST flag");
        if (hdr.flags & BLOCK_BUSY) {
            t->busy_blocks++;
            t->busy_bytes += nth_block_requested(&hdr);
            if ((hdr.flags & BLOCK_LFH) && !nth_lfh_check_subsegment(heap, block)) return false;
            prev_free = false;
        } else {
            if (coalesce && prev_free)
                return problem(heap, block, "free blocks coalesced with their neighbours", "two adjacent free blocks");
            t->free_blocks++;
            t->free_bytes += (size_t)hdr.size_gr * NTH_GRANULE;
            prev_free = true;
        }
        if (!check_fills(heap, block, &hdr)) return false;
        prev_gr = hdr.size_gr;
        block = end;
    }
    return true;
}

static bool check_big(nth_heap *heap, totals *t)
{
    t->committed += heap->big_cache_bytes; /* freed mappings kept for reuse */
    nth_big *prev = NULL;
    for (nth_big *big = heap->big_list; big; prev = big, big = big->next) {
        nth_block_header hdr;
        if (big->owner.magic != NTH_BIG_MAGIC || big->owner.heap != heap || big->prev != prev ||
            nth_addrmap_lookup(big) != &big->owner)
            return problem(heap, big, "a big-block descriptor of this heap", "damaged descriptor fields or links");
        if (!nth_header_load(heap, nth_big_header(big), &hdr) || !(hdr.flags & BLOCK_BIG))
            return problem(heap, nth_big_header(big), "a big-block header", "a damaged header");
        t->busy_blocks++;
        t->busy_bytes += nth_block_requested(&hdr);
        t->committed += big->owner.reserve;
    }
    return true;
}

static bool validate_heap_locked(nth_heap *heap)
{
    totals t = {0};
    for (uint32_t s = 0; s < heap->n_segments; s++)
        if (!check_segment(heap, heap->segments[s], &t)) return false;
    if (!check_big(heap, &t) || !nth_freelist_check_locked(heap)) return false;
    /* The heap header blocks are not counted as busy blocks. */
    if (t.busy_blocks != heap->busy_blocks || t.busy_bytes != heap->busy_bytes)
        return problem(heap, heap, "busy totals equal to the heap's counters", "different totals");
    if (t.free_blocks != heap->free_blocks || t.free_bytes != heap->free_bytes)
        return problem(heap, heap, "free totals equal to the heap's counters", "different totals");
    if (t.committed != heap->committed_bytes)
        return problem(heap, heap, "committed bytes equal to the heap's counter", "a different sum");
    return nth_lfh_check_heap(heap);
}

static bool validate_block_locked(nth_heap *heap, const void *ptr)
{
    nth_located where;
    const char *expected, *found;
    nth_error error = nth_locate_block(heap, ptr, &where, &expected, &found);
    if (error != NTH_OK) {
        nth_report_problem(heap, error, ptr, expected, found);
        return false;
    }
    if (where.big || where.lfh) return true;
    if (!check_fills(heap, where.header, &where.hdr)) return false;
    if (!(where.hdr.flags & BLOCK_LAST)) {
        nth_block_header next;
        char *n = where.header + (size_t)where.hdr.size_gr * NTH_GRANULE;
        if (!nth_header_load(heap, n, &next) || next.prev_size_gr != where.hdr.size_gr)
            return problem(heap, n, "the next block's header", "a damaged header (overflow from this block?)");
    }
    return true;
}

bool nth_heap_validate(nth_heap *heap, uint32_t flags, const void *ptr)
{
    NTH_ENTER("nth_heap_validate");
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    flags |= heap->force_flags;
    nth_call_lock(heap, flags);
    if (!ptr) nth_lfh_pause(heap);
    bool ok = ptr ? validate_block_locked(heap, ptr) : validate_heap_locked(heap);
    if (!ptr) nth_lfh_resume(heap);
    nth_call_unlock(heap, flags);
    return ok;
}
