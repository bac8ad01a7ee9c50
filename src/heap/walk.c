/*
 * walk.c — the heap walk. Each step finds the entry after the one it is given, using only the
 * entry's data pointer and flags, so a walk is a cursor the caller owns (HeapWalk's contract)
 * and needs no state in the heap. Order:
 *
 *   segment 0:  REGION ─► block ─► block ─► ... ─► LAST ─► UNCOMMITTED ─► block ... ─► (limit)
 *   segment 1:  REGION ─► ...
 *   then:       big block ─► big block ─► ... ─► end (NTH_ERR_NO_MORE_ITEMS)
 *
 * LFH subsegments appear as busy internal blocks followed by their busy LFH blocks.
 * Every position is re-validated through the address map and the header check before it is
 * followed, so a stale or forged entry ends the walk with NTH_ERR_INVALID_PARAMETER.
 */
#include "heap/internal.h"
#include "heap/lfh.h"


static bool emit_region(nth_heap *heap, uint32_t index, nth_walk_entry *entry)
{
    nth_segment *segment = heap->segments[index];
    char *base = nth_segment_base(segment);
    memset(entry, 0, sizeof *entry);
    entry->data = base;
    entry->size = (size_t)(segment->first_block - base);
    entry->overhead = 0;
    entry->region_index = (uint16_t)index;
    entry->flags = NTH_ENTRY_REGION;
    entry->u.region.committed = segment->committed;
    entry->u.region.uncommitted = (size_t)(segment->limit - base) - segment->committed;
    entry->u.region.first_block = segment->first_block;
    entry->u.region.last_block = segment->limit;
    entry->u.region.reserved = segment->owner.reserve;
    return true;
}

static bool emit_big(nth_heap *heap, nth_big *big, nth_walk_entry *entry)
{
    nth_block_header hdr;
    if (!big) {
        nth_set_last_error(NTH_ERR_NO_MORE_ITEMS);
        return false;
    }
    if (!nth_header_load(heap, nth_big_header(big), &hdr)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, nth_big_header(big), "a valid big-block header", "a damaged header");
        return false;
    }
    memset(entry, 0, sizeof *entry);
    entry->data = (char *)big + NTH_BIG_HEADER_BYTES;
    entry->size = nth_block_requested(&hdr);
    entry->overhead = (uint32_t)(big->owner.reserve - entry->size > UINT32_MAX ? UINT32_MAX
                                                                              : big->owner.reserve - entry->size);
    entry->flags = (uint16_t)(NTH_ENTRY_BUSY | NTH_ENTRY_BIG | (hdr.flags & BLOCK_USER_FLAGS));
    if (big->user_value || (hdr.flags & BLOCK_USER_FLAGS)) entry->flags |= NTH_ENTRY_USER_VALUE;
    entry->u.block.user_value = big->user_value;
    entry->u.block.header = nth_big_header(big);
    entry->u.block.block_size = big->owner.reserve;
    return true;
}

static bool next_region(nth_heap *heap, uint32_t index, nth_walk_entry *entry)
{
    if (index + 1 < heap->n_segments) return emit_region(heap, index + 1, entry);
    return emit_big(heap, heap->big_list, entry);
}

static bool emit_block(nth_heap *heap, nth_segment *segment, char *block, nth_walk_entry *entry)
{
    nth_block_header hdr;
    if (!nth_header_load(heap, block, &hdr)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, block, "a block header", "a damaged header");
        return false;
    }
    memset(entry, 0, sizeof *entry);
    entry->data = block + sizeof(nth_block_header);
    entry->region_index = (uint16_t)segment->owner.index;
    entry->u.block.header = block;
    entry->u.block.block_size = (size_t)hdr.size_gr * NTH_GRANULE;
    if (hdr.flags & BLOCK_BUSY) {
        entry->size = nth_block_requested(&hdr);
        entry->overhead = hdr.unused;
        entry->flags = (uint16_t)(NTH_ENTRY_BUSY | (hdr.flags & BLOCK_USER_FLAGS));
        if (hdr.flags & BLOCK_INTERNAL) entry->flags |= NTH_ENTRY_INTERNAL;
        if (hdr.flags & BLOCK_EXTRA) {
            entry->flags |= NTH_ENTRY_USER_VALUE;
            memcpy(&entry->u.block.user_value, block + nth_block_fill_end(&hdr), sizeof(uintptr_t));
        }
    } else {
        entry->size = (size_t)hdr.size_gr * NTH_GRANULE - sizeof(nth_block_header);
        entry->overhead = sizeof(nth_block_header);
    }
    return true;
}

/* The entry at `addr`, which is either the start of a UCR or a block header. */
static bool emit_at(nth_heap *heap, nth_segment *segment, char *addr, nth_walk_entry *entry)
{
    if (addr >= segment->limit) return next_region(heap, segment->owner.index, entry);
    const nth_ucr *ucr = nth_segment_ucr_at(segment, addr);
    if (ucr) {
        memset(entry, 0, sizeof *entry);
        entry->data = addr;
        entry->size = (size_t)ucr->size_pg * NTH_PAGE;
        entry->region_index = (uint16_t)segment->owner.index;
        entry->flags = NTH_ENTRY_UNCOMMITTED;
        return true;
    }
    return emit_block(heap, segment, addr, entry);
}

static bool bad_position(void)
{
    nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
    return false;
}

static bool step_locked(nth_heap *heap, nth_walk_entry *entry)
{
    if (!entry->data) return emit_region(heap, 0, entry);
    char *addr = entry->data;
    bool is_block = !(entry->flags & (NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED | NTH_ENTRY_LFH));
    /* A back-end block is found through its header, which always lies in a segment chunk. */
    const nth_owner *owner = nth_addrmap_lookup(is_block ? addr - sizeof(nth_block_header) : addr);
    if (!owner || owner->heap != heap) return bad_position();

    if (entry->flags & NTH_ENTRY_BIG) {
        if (owner->kind != OWNER_BIG) return bad_position();
        return emit_big(heap, ((nth_big *)owner)->next, entry);
    }
    char *block;
    nth_block_header hdr;
    if (entry->flags & NTH_ENTRY_LFH) {
        nth_lfh_subsegment *sub = (nth_lfh_subsegment *)owner;
        uint32_t index;
        if (owner->kind != OWNER_LFH || !nth_lfh_index_of(sub, addr, &index)) return bad_position();
        if (nth_lfh_next_busy(heap, sub, index + 1, entry)) return true;
        block = sub->owner.base - sizeof(nth_block_header);
        if (!nth_header_load(heap, block, &hdr)) return bad_position();
        return emit_at(heap, sub->segment, block + (size_t)hdr.size_gr * NTH_GRANULE, entry);
    }
    if (owner->kind != OWNER_SEGMENT) return bad_position();
    nth_segment *segment = (nth_segment *)owner;

    if (entry->flags & NTH_ENTRY_REGION) {
        if (addr != nth_segment_base(segment)) return bad_position();
        return emit_at(heap, segment, segment->first_block, entry);
    }
    if (entry->flags & NTH_ENTRY_UNCOMMITTED) {
        const nth_ucr *ucr = nth_segment_ucr_at(segment, addr);
        if (!ucr) return bad_position();
        return emit_at(heap, segment, addr + (size_t)ucr->size_pg * NTH_PAGE, entry);
    }
    block = addr - sizeof(nth_block_header);
    if (!nth_segment_is_committed(segment, block, sizeof hdr) || !nth_header_load(heap, block, &hdr))
        return bad_position();
    if ((hdr.flags & BLOCK_LFH) && (hdr.flags & BLOCK_BUSY)) {
        /* An LFH subsegment: its busy blocks come next. */
        if (nth_lfh_next_busy(heap, nth_lfh_in_block(block), 0, entry)) return true;
    }
    return emit_at(heap, segment, block + (size_t)hdr.size_gr * NTH_GRANULE, entry);
}

bool nth_heap_walk(nth_heap *heap, nth_walk_entry *entry)
{
    NTH_ENTER("nth_heap_walk");
    if (!nth_heap_handle_ok(heap)) {
        nth_set_last_error(NTH_ERR_INVALID_HANDLE);
        return false;
    }
    if (!entry) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return false;
    }
    nth_lock_acquire(&heap->lock);
    bool ok = step_locked(heap, entry);
    nth_lock_release(&heap->lock);
    return ok;
}
