/*
 * iter.c — the one traversal (see iter.h): segments, their blocks and uncommitted ranges, the
 * busy blocks of each LFH subsegment, then the big blocks, all read through a read seam and
 * checked before they are followed.
 *
 * Bounds that make every traversal finish: a segment's blocks advance the cursor by at least
 * one granule and never past the segment's limit; at most heap.n_segments segments and
 * heap.big_blocks big-block records are followed; an LFH subsegment lists at most n_blocks
 * blocks; its descriptor is found by a search of at most n_subsegments steps.
 */
#include "heap/iter.h"

static bool read_self(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    (void)mem;
    memcpy(buffer, (const void *)address, length);
    return true;
}

const nth_mem nth_mem_self = {read_self, NULL};

static bool fetch(nth_iter *it, uintptr_t address, void *buffer, size_t length)
{
    return address != 0 && it->mem->read(it->mem, address, buffer, length);
}

static void note_problem(nth_iter *it, uintptr_t address, const char *expected, const char *found)
{
    if (it->problems++ == 0) it->problem = (nth_iter_problem){address, expected, found};
}

/* Decodes the 16 bytes read from `where` (a target address) as a block header. */
static bool decode_header(const nth_iter *it, const void *bytes, uintptr_t where, nth_block_header *out)
{
    uint64_t w[2];
    memcpy(w, bytes, sizeof w);
    w[0] ^= it->heap.key[0];
    w[1] ^= it->heap.key[1];
    uint32_t w1 = (uint32_t)w[1];
    if ((uint32_t)(w[1] >> 32) != nth_header_check(&it->heap, (const void *)where, w[0], w1)) return false;
    memcpy(out, w, sizeof *out);
    return true;
}

static bool open_segment(nth_iter *it, uintptr_t address)
{
    if (address == 0 || it->segments_seen >= it->heap.n_segments) {
        if (address != 0) note_problem(it, address, "as many segments as the heap counts", "a longer segment list");
        it->phase = NTH_ITER_BIG;
        it->big_address = (uintptr_t)it->heap.big_list;
        return false;
    }
    it->segments_seen++;
    nth_segment *s = &it->segment;
    if (!fetch(it, address, s, sizeof *s) || s->owner.magic != NTH_SEGMENT_MAGIC ||
        s->owner.kind != OWNER_SEGMENT || (uintptr_t)s->owner.heap != it->heap_address ||
        s->limit < s->first_block || (uintptr_t)s->first_block < (uintptr_t)s->owner.base ||
        (size_t)(s->limit - s->owner.base) > s->owner.reserve) {
        note_problem(it, address, "a segment descriptor of this heap", "a damaged or foreign descriptor");
        it->phase = NTH_ITER_BIG;
        it->big_address = (uintptr_t)it->heap.big_list;
        return false;
    }
    it->segment_address = address;
    it->phase = NTH_ITER_REGION;
    return true;
}

bool nth_iter_open(nth_iter *it, const nth_mem *mem, uintptr_t heap_address)
{
    memset(it, 0, sizeof *it);
    it->mem = mem;
    it->heap_address = heap_address;
    it->phase = NTH_ITER_END;
    if (!fetch(it, heap_address, &it->heap, sizeof it->heap) || it->heap.magic != NTH_HEAP_MAGIC ||
        it->heap.layout_version != NTH_LAYOUT_VERSION) {
        note_problem(it, heap_address, "a heap of this layout version", "something else");
        return false;
    }
    open_segment(it, (uintptr_t)it->heap.first_segment);
    return true;
}

static bool read_ucr(nth_iter *it, uint32_t index, nth_ucr *out)
{
    return index < it->segment.n_ucr && fetch(it, (uintptr_t)(it->segment.ucr + index), out, sizeof *out);
}

static void emit_region(nth_iter *it, nth_walk_entry *e)
{
    const nth_segment *s = &it->segment;
    memset(e, 0, sizeof *e);
    e->data = s->owner.base;
    e->size = (size_t)(s->first_block - s->owner.base);
    e->region_index = s->owner.index;
    e->flags = NTH_ENTRY_REGION;
    e->u.region.committed = s->committed;
    e->u.region.uncommitted = (size_t)(s->limit - s->owner.base) - s->committed;
    e->u.region.first_block = s->first_block;
    e->u.region.last_block = s->limit;
    e->u.region.reserved = s->owner.reserve;
    it->pos = (uintptr_t)s->first_block;
    it->prev_size_gr = UINT32_MAX; /* the header block's size: not checked */
    it->ucr_next = 0;
    it->phase = NTH_ITER_BLOCKS;
}

/* The LFH descriptor whose user area starts at `area`, searched in the heap's list. */
static bool find_subsegment(nth_iter *it, uintptr_t area)
{
    nth_lfh lfh;
    uintptr_t lfh_address = (uintptr_t)atomic_load_explicit(&it->heap.lfh, memory_order_relaxed);
    if (!fetch(it, lfh_address, &lfh, sizeof lfh) || lfh.magic != NTH_LFH_MAGIC) return false;
    uintptr_t at = (uintptr_t)lfh.all;
    for (uint32_t n = 0; at && n < lfh.n_subsegments; n++) {
        if (!fetch(it, at, &it->sub, sizeof it->sub)) return false;
        if (it->sub.magic == NTH_LFH_MAGIC && (uintptr_t)it->sub.owner.base == area) {
            return it->sub.n_blocks <= NTH_LFH_MAX_BLOCKS && it->sub.bump <= it->sub.n_blocks &&
                   it->sub.block_size == nth_lfh_bucket_size(it->sub.bucket) &&
                   it->sub.span == (size_t)it->sub.n_blocks * it->sub.block_size;
        }
        at = (uintptr_t)it->sub.next;
    }
    return false;
}

/* The next busy block of the subsegment being listed. */
static bool next_lfh_block(nth_iter *it, nth_walk_entry *e)
{
    nth_lfh_subsegment *sub = &it->sub;
    while (it->lfh_next < sub->bump) {
        uint32_t i = it->lfh_next;
        uint64_t word;
        if (!fetch(it, (uintptr_t)(sub->busy_bits + i / 64), &word, sizeof word)) {
            note_problem(it, (uintptr_t)sub->busy_bits, "an LFH subsegment's busy bitmap", "unreadable memory");
            break;
        }
        word >>= i % 64;
        if (word == 0) {
            it->lfh_next = (i | 63u) + 1;
            continue;
        }
        i += (uint32_t)__builtin_ctzll(word);
        it->lfh_next = i + 1;
        if (i >= sub->bump) break;
        uint32_t unused = 0;
        uintptr_t at = (uintptr_t)sub->unused + (size_t)i * sub->unused_width;
        if (!fetch(it, at, &unused, sub->unused_width) || unused > sub->block_size) {
            note_problem(it, at, "a block's unused bytes within its size", "more than the block has");
            unused = 0;
        }
        memset(e, 0, sizeof *e);
        e->data = sub->first_block + (size_t)i * sub->block_size;
        e->size = sub->block_size - unused;
        e->overhead = unused;
        e->region_index = it->segment.owner.index;
        e->flags = NTH_ENTRY_BUSY | NTH_ENTRY_LFH;
        e->u.block.block_size = sub->block_size;
        return true;
    }
    it->phase = NTH_ITER_BLOCKS;
    it->pos = it->lfh_resume;
    return false;
}

/* Steps over the segment's blocks; false when the segment is done. */
static bool next_block(nth_iter *it, nth_walk_entry *e)
{
    const nth_segment *s = &it->segment;
    uintptr_t limit = (uintptr_t)s->limit, base = (uintptr_t)s->owner.base;
    while (it->pos < limit) {
        nth_ucr ucr;
        bool have_ucr = read_ucr(it, it->ucr_next, &ucr);
        uintptr_t stop = have_ucr ? base + (size_t)ucr.offset_pg * NTH_PAGE : limit;
        if (have_ucr && it->pos >= stop) {
            uintptr_t end = stop + (size_t)ucr.size_pg * NTH_PAGE;
            it->ucr_next++;
            if (it->pos > stop || end > limit || ucr.size_pg == 0) {
                note_problem(it, stop, "sorted uncommitted ranges inside the segment", "a range out of place");
                if (end > it->pos && end <= limit) it->pos = end;
                continue;
            }
            memset(e, 0, sizeof *e);
            e->data = (void *)stop;
            e->size = end - stop;
            e->region_index = s->owner.index;
            e->flags = NTH_ENTRY_UNCOMMITTED;
            it->pos = end;
            it->prev_size_gr = 0;
            return true;
        }
        unsigned char bytes[sizeof(nth_block_header)];
        nth_block_header hdr;
        uintptr_t at = it->pos;
        bool ok = at % NTH_GRANULE == 0 && at + sizeof bytes <= stop && fetch(it, at, bytes, sizeof bytes) &&
                  decode_header(it, bytes, at, &hdr) && hdr.size_gr != 0 &&
                  (size_t)hdr.size_gr <= (stop - at) / NTH_GRANULE &&
                  (it->prev_size_gr == UINT32_MAX || hdr.prev_size_gr == it->prev_size_gr);
        if (!ok) {
            /* The rest of this committed run cannot be found: resume at the next UCR. */
            note_problem(it, at, "a block header that decodes and fits its run", "a damaged header");
            it->pos = stop;
            it->prev_size_gr = 0;
            continue;
        }
        it->hdr = hdr;
        it->pos = at + (size_t)hdr.size_gr * NTH_GRANULE;
        it->prev_size_gr = hdr.size_gr;
        memset(e, 0, sizeof *e);
        e->data = (void *)(at + sizeof(nth_block_header));
        e->region_index = s->owner.index;
        e->u.block.header = (void *)at;
        e->u.block.block_size = (size_t)hdr.size_gr * NTH_GRANULE;
        if (hdr.flags & BLOCK_BUSY) {
            e->size = nth_block_requested(&hdr);
            e->overhead = hdr.unused;
            e->flags = (uint16_t)(NTH_ENTRY_BUSY | (hdr.flags & BLOCK_USER_FLAGS));
            if (hdr.flags & BLOCK_INTERNAL) e->flags |= NTH_ENTRY_INTERNAL;
            if ((hdr.flags & BLOCK_LFH) && (hdr.flags & BLOCK_INTERNAL)) {
                if (find_subsegment(it, (uintptr_t)e->data)) {
                    it->phase = NTH_ITER_LFH;
                    it->lfh_next = 0;
                    it->lfh_resume = it->pos;
                } else {
                    note_problem(it, (uintptr_t)e->data, "the LFH subsegment of this block", "none that is sound");
                }
            }
        } else {
            e->size = (size_t)hdr.size_gr * NTH_GRANULE - sizeof(nth_block_header);
            e->overhead = sizeof(nth_block_header);
            if (hdr.flags & BLOCK_DAMAGED) e->flags |= NTH_ENTRY_DAMAGED;
        }
        return true;
    }
    open_segment(it, (uintptr_t)it->segment.next);
    return false;
}

static bool next_big(nth_iter *it, nth_walk_entry *e)
{
    uintptr_t at = it->big_address;
    if (at == 0) {
        it->phase = NTH_ITER_END;
        return false;
    }
    nth_big big;
    if (it->bigs_seen >= it->heap.big_blocks || !fetch(it, at, &big, sizeof big) || big.owner.kind != OWNER_BIG ||
        (uintptr_t)big.owner.heap != it->heap_address || big.data < big.owner.base ||
        (size_t)(big.data - big.owner.base) + big.size > big.owner.reserve) {
        note_problem(it, at, "a big-block record of this heap", "a damaged record or a longer list");
        it->phase = NTH_ITER_END;
        return false;
    }
    it->bigs_seen++;
    it->big_address = (uintptr_t)big.next;
    memset(e, 0, sizeof *e);
    e->data = big.data;
    e->size = big.size;
    e->overhead = (uint32_t)(big.owner.reserve - big.size > UINT32_MAX ? UINT32_MAX : big.owner.reserve - big.size);
    e->flags = (uint16_t)(NTH_ENTRY_BUSY | NTH_ENTRY_BIG | (big.flags & BLOCK_USER_FLAGS));
    if (big.user_value || (big.flags & BLOCK_USER_FLAGS)) e->flags |= NTH_ENTRY_USER_VALUE;
    e->u.block.user_value = big.user_value;
    e->u.block.header = big.data - sizeof(nth_block_header);
    e->u.block.block_size = big.owner.reserve;
    return true;
}

bool nth_iter_next(nth_iter *it, nth_walk_entry *entry)
{
    for (;;) {
        switch (it->phase) {
        case NTH_ITER_REGION: emit_region(it, entry); return true;
        case NTH_ITER_BLOCKS:
            if (next_block(it, entry)) return true;
            break;
        case NTH_ITER_LFH:
            if (next_lfh_block(it, entry)) return true;
            break;
        case NTH_ITER_BIG:
            if (next_big(it, entry)) return true;
            break;
        case NTH_ITER_END: return false;
        }
    }
}
