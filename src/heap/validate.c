/*
 * validate.c — the heap's invariants in executable form. nth_heap_validate(heap, 0, ptr) checks
 * one block; with ptr NULL it checks everything. Each problem the traversal meets is reported
 * and stepped over, as in a walk, so every damaged block is named; the checks after the
 * traversal (lists, totals, LFH) report their first violation. Segments, blocks and big blocks
 * are reached through the one traversal (iter.c), which checks every step it takes; this file
 * adds what only the heap's owner can check:
 *
 *   per segment   header block; blocks tile [first_block, limit) minus the UCRs exactly; every
 *                 header decodes and names its segment; prev_size_gr chains; BLOCK_LAST exactly
 *                 before each UCR and at the limit; no two free neighbours (unless coalescing is
 *                 off; a block taken out of service, BLOCK_DAMAGED, counts as neither);
 *                 tail and free fills intact (block.c checks them); UCRs sorted, apart, and
 *                 summing to limit - base - committed
 *   free lists    links, sizes, bitmap, totals (freelist.c)
 *   big blocks    records, record pages, list links, the in-band prefix (bigblock.c); the
 *                 list is walked by the traversal and must end at big_tail
 *   LFH           subsegment bitmaps and counters (lfh.c)
 *   totals        busy/free/damaged block counts and bytes equal the heap's counters
 */
#include "heap/debug/debug.h"
#include "heap/iter.h"


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
    bad = nth_block_check_free_fill(heap, block, block, block + (size_t)hdr->size_gr * NTH_GRANULE);
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

/* One back-end block as the traversal returned it (its header decoded, inside its committed
 * run, chained with the block before it). prev_free: whether the block before it is free. */
static bool check_block(nth_heap *heap, const nth_segment *segment, char *block, const nth_block_header *hdr,
                        bool *prev_free, totals *t)
{
    if (hdr->segment_index != nth_segment_tag(segment))
        return problem(heap, block, "a header consistent with its neighbours", "a wrong size, segment or prev_size");
    char *end = block + (size_t)hdr->size_gr * NTH_GRANULE;
    bool at_stop = end == segment->limit || nth_segment_ucr_at(segment, end);
    if (at_stop != !!(hdr->flags & BLOCK_LAST))
        return problem(heap, block, "BLOCK_LAST exactly before uncommitted space", "a wrong LAST flag");
    bool was_free = *prev_free;
    *prev_free = false;
    if (hdr->flags & BLOCK_BUSY) {
        t->busy_blocks++;
        t->busy_bytes += nth_block_requested(hdr);
        if ((hdr->flags & BLOCK_LFH) && !nth_lfh_check_subsegment(heap, block)) return false;
    } else if (hdr->flags & BLOCK_DAMAGED) {
        t->damaged_blocks++;
        t->damaged_bytes += (size_t)hdr->size_gr * NTH_GRANULE;
    } else {
        if (was_free && !(heap->flags & NTH_DISABLE_COALESCE_ON_FREE))
            return problem(heap, block, "free blocks coalesced with their neighbours", "two adjacent free blocks");
        t->free_blocks++;
        t->free_bytes += (size_t)hdr->size_gr * NTH_GRANULE;
        *prev_free = true;
    }
    return check_fills(heap, block, hdr);
}

/* A big block as the traversal returned it (from its record, which the traversal checked
 * names this heap and bounds the data); `prev` is the record before it in the list. */
static bool check_big(nth_heap *heap, const nth_walk_entry *entry, nth_big **prev, totals *t)
{
    nth_big *big = (nth_big *)nth_addrmap_lookup(entry->data);
    bool sound = nth_big_validate_record_locked(heap, big, *prev);
    *prev = big; /* the next record is checked against this one, sound or not: one report each */
    if (!sound) return false;
    t->busy_blocks++;
    t->busy_bytes += big->size;
    t->committed += big->owner.reserve;
    return true;
}

/* Every segment and big block through the one traversal (iter.c): the traversal checks what it
 * follows (the lists against the heap's counts, each header's decoding, bounds and size chain,
 * each big-block record's owner and bounds) and this adds the checks only the heap's owner can
 * make. The LFH's slots are checked from its bitmaps (lfh_check.c), not listed here. Like a
 * walk, it goes on past what it reports (the traversal resumes at the next place it can trust),
 * so every damaged block it meets is reported; false when it reported anything. */
static bool check_traversal(nth_heap *heap, totals *t)
{
    nth_iter it;
    if (!nth_iter_open(&it, &nth_mem_self, (uintptr_t)heap))
        return problem(heap, heap, it.problem.expected, it.problem.found);
    it.options = NTH_ITER_NO_LFH_SLOTS;
    nth_walk_entry entry;
    bool prev_free = false, sound = true;
    nth_big *prev_big = NULL;
    for (;;) {
        it.problems = 0;
        bool more = nth_iter_next(&it, &entry);
        if (it.problems) {
            sound = problem(heap, (const void *)it.problem.address, it.problem.expected, it.problem.found);
            prev_free = false; /* the block before is unknown */
        }
        if (!more) break;
        nth_segment *segment = (nth_segment *)it.segment_address;
        bool ok = true;
        if (entry.flags & NTH_ENTRY_BIG) {
            ok = check_big(heap, &entry, &prev_big, t);
        } else if (entry.flags & NTH_ENTRY_REGION) {
            ok = check_ucrs(heap, segment); /* its header block: checked by the traversal */
            t->committed += segment->committed;
            prev_free = false;
        } else if (entry.flags & NTH_ENTRY_UNCOMMITTED) {
            prev_free = false;
        } else {
            ok = check_block(heap, segment, entry.u.block.header, &it.hdr, &prev_free, t);
        }
        if (!ok) sound = false;
    }
    if (sound && prev_big != heap->big_tail)
        return problem(heap, heap, "the big-block list ending at its tail", "a broken list");
    return sound;
}

/* A light page heap's freed blocks wait in the delay queue, busy in the engine and filled: their
 * fill is intact. */
static bool check_held_blocks(nth_heap *heap)
{
    if (!(heap->debug_modes & NTH_DEBUG_PAGE_LIGHT)) return true;
    nth_delay_held held;
    nth_delay_survey(heap, true, &held);
    if (!held.damaged) return true;
    problem(heap, held.damaged, "the free fill 0xFEEEFEEE of a freed block", "a modified byte (written after free)");
    nth_delay_print_stacks(&held.damaged_block);
    return false;
}

static bool validate_heap_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    totals t = {0};
    if (!nth_big_validate_pages_locked(heap, &t.committed) || !check_traversal(heap, &t) ||
        !nth_freelist_check_locked(heap))
        return false;
    /* The heap header blocks are not counted as busy blocks. */
    if (t.busy_blocks != heap->busy_blocks || t.busy_bytes != heap->busy_bytes)
        return problem(heap, heap, "busy totals equal to the heap's counters", "different totals");
    if (t.free_blocks != heap->free_blocks || t.free_bytes != heap->free_bytes)
        return problem(heap, heap, "free totals equal to the heap's counters", "different totals");
    if (t.damaged_blocks != heap->damaged_blocks || t.damaged_bytes != heap->damaged_bytes)
        return problem(heap, heap, "damaged-block totals equal to the heap's counters", "different totals");
    if (t.committed != heap->committed_bytes)
        return problem(heap, heap, "committed bytes equal to the heap's counter", "a different sum");
    return nth_lfh_check_heap(heap) && check_held_blocks(heap);
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
