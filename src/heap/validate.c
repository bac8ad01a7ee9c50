/*
 * validate.c — the heap's invariants in executable form. nth_heap_validate(heap, 0, ptr) checks
 * one block; with ptr NULL it checks everything and reports the first violation:
 *
 *   per segment   header block; blocks tile [first_block, limit) minus the UCRs exactly; every
 *                 header decodes and names its segment; prev_size_gr chains; BLOCK_LAST exactly
 *                 before each UCR and at the limit; no two free neighbours (unless coalescing is
 *                 off; a block taken out of service, BLOCK_DAMAGED, counts as neither);
 *                 tail and free fills intact (block.c checks them); UCRs sorted, apart, and
 *                 summing to limit - base - committed
 *   free lists    links, sizes, bitmap, totals (freelist.c)
 *   big blocks    records, record pages, list links, the in-band prefix (bigblock.c)
 *   LFH           subsegment bitmaps and counters (lfh.c)
 *   totals        busy/free/damaged block counts and bytes equal the heap's counters
 */
#include "heap/internal.h"
#include "heap/lfh.h"


typedef struct totals {
    size_t busy_blocks, busy_bytes, free_blocks, free_bytes, damaged_blocks, damaged_bytes, committed;
} totals;

static bool problem(nth_heap *heap, const void *where, const char *expected, const char *found)
{
    nth_report_problem(heap, NTH_ERR_CORRUPT, where, expected, found);
    return false;
}

static bool check_fills(nth_heap *heap, char *block, const nth_block_header *hdr)
{
    if (!(hdr->flags & BLOCK_FILL) || (hdr->flags & BLOCK_DAMAGED)) return true;
    char *bad;
    if (hdr->flags & BLOCK_BUSY) {
        bad = nth_block_check_tail(block, hdr);
        return !bad || problem(heap, bad, "the tail fill 0xAB after the block", "a modified byte (buffer overrun)");
    }
    bad = nth_block_check_free_fill(block, block, block + (size_t)hdr->size_gr * NTH_GRANULE);
    return !bad || problem(heap, bad, "the free-block fill 0xFEEEFEEE", "a modified byte (written after free?)");
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
        if (hdr.segment_index != nth_segment_tag(segment) || hdr.prev_size_gr != prev_gr || hdr.size_gr < 1)
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
        } else if (hdr.flags & BLOCK_DAMAGED) {
            t->damaged_blocks++;
            t->damaged_bytes += (size_t)hdr.size_gr * NTH_GRANULE;
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
    return nth_big_validate_locked(heap, &t->busy_blocks, &t->busy_bytes, &t->committed);
}

static bool validate_heap_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    totals t = {0};
    uint32_t n_segments = 0;
    for (nth_segment *segment = heap->first_segment; segment; segment = segment->next, n_segments++)
        if (n_segments >= heap->n_segments)
            return problem(heap, segment, "as many segments as the heap counts", "a longer segment list");
        else if (!check_segment(heap, segment, &t))
            return false;
    if (!check_big(heap, &t) || !nth_freelist_check_locked(heap)) return false;
    /* The heap header blocks are not counted as busy blocks. */
    if (t.busy_blocks != heap->busy_blocks || t.busy_bytes != heap->busy_bytes)
        return problem(heap, heap, "busy totals equal to the heap's counters", "different totals");
    if (t.free_blocks != heap->free_blocks || t.free_bytes != heap->free_bytes)
        return problem(heap, heap, "free totals equal to the heap's counters", "different totals");
    if (t.damaged_blocks != heap->damaged_blocks || t.damaged_bytes != heap->damaged_bytes)
        return problem(heap, heap, "damaged-block totals equal to the heap's counters", "different totals");
    if (t.committed != heap->committed_bytes)
        return problem(heap, heap, "committed bytes equal to the heap's counter", "a different sum");
    return nth_lfh_check_heap(heap);
}

static bool validate_block_locked(nth_heap *heap, const void *ptr)
{
    nth_assert_held(heap);
    nth_located where;
    const char *expected, *found;
    nth_error error = nth_locate_block(heap, ptr, &where, &expected, &found);
    if (error != NTH_OK) {
        nth_report_problem(heap, error, ptr, expected, found);
        return false;
    }
    if (where.big) return nth_big_check_locked(heap, where.big);
    if (where.lfh) return true;
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
