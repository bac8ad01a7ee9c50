/*
 * iter.c — the one traversal (see iter.h): segments, their blocks and uncommitted ranges, the
 * busy blocks of each LFH subsegment, then the big blocks, all read through a read seam and
 * checked before they are followed.
 *
 * A damaged header is reported, and the traversal resumes at the block that follows the damaged
 * one, or a run of damaged ones (the first header past it that decodes and names a previous
 * block starting at the damaged header or after it), else at the next uncommitted range.
 *
 * Bounds that make every traversal finish: a segment's blocks advance the cursor by at least
 * one granule and never past the segment's limit; the search past a damaged header stays in its
 * committed run, stops at memory the seam cannot read, and never reads a granule another search
 * read (it ends where the cursor resumes); at most heap.n_segments segments and
 * heap.big_blocks big-block records are followed, and a list that loops back ends where it
 * does (nth_list_guard: a damaged count does not make a cyclic list endless); a segment's
 * descriptor must lie in its own header block; an LFH subsegment lists at most n_blocks
 * blocks; its descriptor is found through the seam's owner map, else by a search of at most
 * n_subsegments steps.
 */
#include "heap/iter.h"

static bool read_self(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    (void)mem;
    nth_raw_copy(buffer, (const void *)address, length);
    return true;
}

static uintptr_t owner_self(const nth_mem *mem, uintptr_t address)
{
    (void)mem;
    return (uintptr_t)nth_addrmap_lookup((const void *)address);
}

const nth_mem nth_mem_self = {read_self, owner_self, NULL};

static inline bool fetch(nth_iter *it, uintptr_t address, void *buffer, size_t length)
{
    if (NTH_LIKELY(it->mem == &nth_mem_self)) { /* this process: a plain copy, inlined */
        if (address == 0) return false;
        nth_raw_copy(buffer, (const void *)address, length); /* memcpy; never trips ASan poison */
        return true;
    }
    return address != 0 && it->mem->read(it->mem, address, buffer, length);
}

static void note_problem(nth_iter *it, uintptr_t address, const char *expected, const char *found)
{
    if (it->problems++ == 0) it->problem = (nth_iter_problem){address, expected, found};
}

/* Decodes the 16 bytes read from `where` (a target address) as a block header. */
static bool decode_header(const nth_iter *it, const void *bytes, uintptr_t where, nth_block_header *out)
{
    return nth_header_decode(it->heap.key, bytes, (const void *)where, out);
}

/* Reads the segment descriptor at `address` into it->segment; false when it is not a sound
 * descriptor of this heap. */
static bool read_segment(nth_iter *it, uintptr_t address)
{
    nth_segment *s = &it->segment;
    return fetch(it, address, s, NTH_SEGMENT_VIEW_BYTES) && s->owner.magic == NTH_SEGMENT_MAGIC &&
           s->owner.kind == OWNER_SEGMENT && (uintptr_t)s->owner.heap == it->heap_address &&
           s->limit >= s->first_block && (uintptr_t)s->first_block >= (uintptr_t)s->owner.base &&
           (size_t)(s->limit - s->owner.base) <= s->owner.reserve && s->owner.reserve <= NTH_ITER_MAX_SPAN &&
           (uintptr_t)s->owner.base + s->owner.reserve >= (uintptr_t)s->owner.base &&
           address >= (uintptr_t)s->owner.base && address < (uintptr_t)s->first_block && /* in its own header */
           s->committed <= (size_t)(s->limit - s->owner.base);
}

static void start_big(nth_iter *it)
{
    it->phase = (it->options & NTH_ITER_NO_BIG) ? NTH_ITER_END : NTH_ITER_BIG;
    it->big_address = (uintptr_t)it->heap.big_list;
}

static bool open_segment(nth_iter *it, uintptr_t address)
{
    if (address == 0 || it->segments_seen >= it->heap.n_segments) {
        if (address != 0) note_problem(it, address, "as many segments as the heap counts", "a longer segment list");
        else if (it->segments_seen < it->heap.n_segments && !it->sought) /* after a seek: counted from there */
            note_problem(it, it->heap_address, "as many segments as the heap counts", "a shorter segment list");
        start_big(it);
        return false;
    }
    it->segments_seen++;
    if (!nth_list_guard_step(&it->segment_guard, address)) {
        note_problem(it, address, "a segment list that ends", "a list that loops back");
        start_big(it);
        return false;
    }
    if (!read_segment(it, address)) {
        note_problem(it, address, "a segment descriptor of this heap", "a damaged or foreign descriptor");
        start_big(it);
        return false;
    }
    it->segment_address = address;
    it->ucr_cached = 0;
    it->phase = NTH_ITER_REGION;
    return true;
}

/* Reads one field of the heap object into the view. */
#define READ_HEAP_FIELD(it, field, dest) fetch((it), (it)->heap_address + offsetof(nth_heap, field), (dest), sizeof *(dest))

bool nth_iter_open(nth_iter *it, const nth_mem *mem, uintptr_t heap_address)
{
    it->mem = mem;
    it->heap_address = heap_address;
    it->phase = NTH_ITER_END;
    it->options = 0;
    it->sought = false;
    it->segments_seen = 0;
    it->whole_segment = false;
    it->bigs_seen = 0;
    it->problems = 0;
    it->segment_guard = (nth_list_guard){0, 0, 0};
    it->big_guard = (nth_list_guard){0, 0, 0};
    uint32_t magic = 0, version = 0;
    uintptr_t lfh = 0;
    nth_heap_view *v = &it->heap;
    if (!READ_HEAP_FIELD(it, magic, &magic) || magic != NTH_HEAP_MAGIC || !READ_HEAP_FIELD(it, layout_version, &version) ||
        version != NTH_LAYOUT_VERSION || !READ_HEAP_FIELD(it, key, &v->key) ||
        !READ_HEAP_FIELD(it, first_segment, &v->first_segment) || !READ_HEAP_FIELD(it, n_segments, &v->n_segments) ||
        !READ_HEAP_FIELD(it, big_list, &v->big_list) || !READ_HEAP_FIELD(it, big_blocks, &v->big_blocks) ||
        !READ_HEAP_FIELD(it, lfh, &lfh)) {
        note_problem(it, heap_address, "a heap of this layout version", "something else");
        return false;
    }
    v->lfh = (struct nth_lfh *)lfh;
    open_segment(it, (uintptr_t)v->first_segment);
    return true;
}

static bool read_ucr(nth_iter *it, uint32_t index, nth_ucr *out)
{
    return index < it->segment.n_ucr &&
           fetch(it, (uintptr_t)it->segment.ucr + (uintptr_t)index * sizeof *out, out, sizeof *out);
}

static void emit_region(nth_iter *it, nth_walk_entry *e)
{
    const nth_segment *s = &it->segment;
    /* The segment's header block (the heap object itself in segment 0) is a busy internal block
     * that ends where the first block starts; it never changes after the segment is made. */
    unsigned char bytes[sizeof(nth_block_header)];
    nth_block_header hdr;
    uintptr_t base = (uintptr_t)s->owner.base;
    if (!fetch(it, base, bytes, sizeof bytes) || !decode_header(it, bytes, base, &hdr) ||
        !(hdr.flags & BLOCK_INTERNAL) || base + (size_t)hdr.size_gr * NTH_GRANULE != (uintptr_t)s->first_block)
        note_problem(it, base, "the segment's header block", "a damaged header");
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
    it->uncommitted_seen = 0;
    it->whole_segment = true;
    it->phase = NTH_ITER_BLOCKS;
}

/* A descriptor read from `at` whose fields hold together; its bitmaps and unused[] lie at their
 * fixed offsets from it (lfh.h), so pointers naming anything else are damage. */
static bool sound_subsegment(const nth_lfh_subsegment *sub, uintptr_t at)
{
    return (uintptr_t)sub->busy_bits == at + NTH_LFH_META_HEAD && (uintptr_t)sub->unused == at + NTH_LFH_META_UNUSED &&
           sub->n_blocks <= NTH_LFH_MAX_BLOCKS && sub->bump <= sub->n_blocks && sub->bucket < NTH_LFH_BUCKETS &&
           sub->block_size == nth_lfh_bucket_size(sub->bucket) && sub->span == (size_t)sub->n_blocks * sub->block_size &&
           sub->first_block >= sub->owner.base && (size_t)(sub->first_block - sub->owner.base) <= NTH_LFH_MAX_COLOUR &&
           sub->span + (size_t)(sub->first_block - sub->owner.base) <= sub->owner.reserve;
}

/* The LFH descriptor whose user area starts at `area`: through the seam's owner map when it has
 * one (O(1) in this process), else searched in the heap's list. */
static bool find_subsegment(nth_iter *it, uintptr_t area)
{
    if (it->mem->owner_of) {
        uintptr_t at = it->mem->owner_of(it->mem, area);
        if (at && fetch(it, at, &it->sub, sizeof it->sub) && it->sub.magic == NTH_LFH_MAGIC &&
            it->sub.owner.kind == OWNER_LFH && (uintptr_t)it->sub.owner.heap == it->heap_address &&
            (uintptr_t)it->sub.owner.base == area)
            return sound_subsegment(&it->sub, at);
    }
    nth_lfh lfh;
    uintptr_t lfh_address = (uintptr_t)it->heap.lfh;
    /* Only the fields read here: the rest (the spare-cache stack) changes under no lock. */
    if (!fetch(it, lfh_address, &lfh, offsetof(nth_lfh, idle)) || lfh.magic != NTH_LFH_MAGIC) return false;
    uintptr_t at = (uintptr_t)lfh.all;
    nth_list_guard guard = {0, 0, 0};
    for (uint32_t n = 0; at && n < lfh.n_subsegments && nth_list_guard_step(&guard, at); n++) {
        if (!fetch(it, at, &it->sub, sizeof it->sub)) return false;
        if (it->sub.magic == NTH_LFH_MAGIC && (uintptr_t)it->sub.owner.base == area) return sound_subsegment(&it->sub, at);
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
        if (it->lfh_word_at != i / 64 + 1) { /* each bitmap word is read once */
            uint64_t pair[2]; /* the busy word, then its remote word (lfh.h) */
            /* addresses as integers: what was read is not a pointer of this process */
            if (!fetch(it, (uintptr_t)sub->busy_bits + (uintptr_t)(i / 64) * NTH_LFH_PAIR_BYTES, pair, sizeof pair)) {
                note_problem(it, (uintptr_t)sub->busy_bits, "an LFH subsegment's bitmaps", "unreadable memory");
                break;
            }
            it->lfh_live = pair[0] & ~pair[1]; /* live: busy and not freed by another thread */
            it->lfh_word_at = i / 64 + 1;
        }
        uint64_t word = it->lfh_live >> (i % 64);
        if (word == 0) {
            it->lfh_next = (i | 63u) + 1;
            continue;
        }
        i += (uint32_t)__builtin_ctzll(word);
        it->lfh_next = i + 1;
        if (i >= sub->bump) break;
        uint32_t unused;
        uintptr_t at = (uintptr_t)sub->unused + (size_t)i * sub->unused_width;
        bool readable;
        if (sub->unused_width == 1) {
            uint8_t u8 = 0;
            readable = fetch(it, at, &u8, sizeof u8);
            unused = u8;
        } else {
            uint16_t u16 = 0;
            readable = fetch(it, at, &u16, sizeof u16);
            unused = u16;
        }
        if (!readable || unused > sub->block_size) {
            note_problem(it, at, "a block's unused bytes within its size", "more than the block has");
            unused = 0;
        }
        nth_iter_lfh_entry(it, i, unused, e);
        return true;
    }
    it->phase = NTH_ITER_BLOCKS;
    it->pos = it->lfh_resume;
    return false;
}

/* After the damaged header at `at`: the first block start found past it, before `stop` (the end
 * of the committed run: a free block may be that long), whose header decodes and names a previous
 * block that starts at `at` or after it (the block after the damaged one, or after a run of
 * damaged ones: headers are bound to their address by the key, so only a real block start
 * decodes there); 0 when there is none. *prev_gr receives that previous size, for the chain check. The damaged
 * blocks in between are left out, and the blocks after them are found again. */
static uintptr_t resync_after(nth_iter *it, uintptr_t at, uintptr_t stop, uint32_t *prev_gr)
{
    unsigned char bytes[sizeof(nth_block_header)];
    nth_block_header hdr;
    for (uintptr_t g = at + NTH_GRANULE; g + sizeof bytes <= stop; g += NTH_GRANULE) {
        if (!fetch(it, g, bytes, sizeof bytes)) return 0; /* memory the seam cannot read: no block there */
        if (decode_header(it, bytes, g, &hdr) && hdr.size_gr != 0 && hdr.prev_size_gr != 0 &&
            hdr.prev_size_gr <= (g - at) / NTH_GRANULE && (size_t)hdr.size_gr <= (stop - g) / NTH_GRANULE) {
            *prev_gr = hdr.prev_size_gr;
            return g;
        }
    }
    return 0;
}

/* Steps over the segment's blocks; false when the segment is done. */
static bool next_block(nth_iter *it, nth_walk_entry *e)
{
    const nth_segment *s = &it->segment;
    uintptr_t limit = (uintptr_t)s->limit, base = (uintptr_t)s->owner.base;
    while (it->pos < limit) {
        nth_ucr ucr = it->ucr;
        bool have_ucr = it->ucr_next < it->segment.n_ucr;
        if (have_ucr && it->ucr_cached != it->ucr_next + 1) { /* read each range once */
            have_ucr = read_ucr(it, it->ucr_next, &ucr);
            it->ucr = ucr;
            it->ucr_cached = it->ucr_next + 1;
        }
        uintptr_t stop = have_ucr ? base + (size_t)ucr.offset_pg * NTH_PAGE : limit;
        if (have_ucr && it->pos >= stop) {
            uintptr_t end = stop + (size_t)ucr.size_pg * NTH_PAGE;
            it->ucr_next++;
            if (it->pos > stop || end > limit || ucr.size_pg == 0) {
                note_problem(it, stop, "sorted uncommitted ranges inside the segment", "a range out of place");
                it->whole_segment = false;
                if (end > it->pos && end <= limit) it->pos = end;
                continue;
            }
            memset(e, 0, sizeof *e);
            e->data = (void *)stop;
            e->size = end - stop;
            e->region_index = s->owner.index;
            e->flags = NTH_ENTRY_UNCOMMITTED;
            it->uncommitted_seen += end - stop;
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
            /* Resume at the block after the damaged one, else (none is found) at the next UCR. */
            note_problem(it, at, "a block header that decodes and fits its run", "a damaged header");
            uint32_t prev_gr = 0;
            uintptr_t next = at % NTH_GRANULE == 0 && at < stop ? resync_after(it, at, stop, &prev_gr) : 0;
            it->pos = next ? next : stop;
            it->prev_size_gr = prev_gr;
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
            if ((hdr.flags & BLOCK_EXTRA) &&
                fetch(it, at + nth_block_fill_end(&hdr), &e->u.block.user_value, sizeof(uintptr_t)))
                e->flags |= NTH_ENTRY_USER_VALUE;
            if ((hdr.flags & BLOCK_LFH) && (hdr.flags & BLOCK_INTERNAL) && !(it->options & NTH_ITER_NO_LFH_SLOTS)) {
                if (find_subsegment(it, (uintptr_t)e->data)) {
                    it->phase = NTH_ITER_LFH;
                    it->lfh_next = 0;
                    it->lfh_word_at = 0;
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
    /* Seen from outside, the descriptor's committed count is checked against what the walk met
     * (in this process validate checks it, under the lock an unlocked walk does not hold). */
    if (it->whole_segment && it->mem != &nth_mem_self && s->committed + it->uncommitted_seen != limit - base)
        note_problem(it, it->segment_address, "committed + uncommitted bytes equal to the segment's size",
                     "a different sum (a damaged segment descriptor)");
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
    if (it->bigs_seen >= it->heap.big_blocks || !nth_list_guard_step(&it->big_guard, at) ||
        !fetch(it, at, &big, sizeof big) || big.owner.kind != OWNER_BIG ||
        (uintptr_t)big.owner.heap != it->heap_address || big.data < big.owner.base ||
        big.owner.reserve > NTH_ITER_MAX_SPAN || (uintptr_t)big.owner.base + big.owner.reserve < (uintptr_t)big.owner.base ||
        (size_t)(big.data - big.owner.base) + big.size > big.owner.reserve) {
        note_problem(it, at, "a big-block record of this heap", "a damaged record or a longer list");
        it->phase = NTH_ITER_END;
        return false;
    }
    it->bigs_seen++;
    it->big_address = (uintptr_t)big.next;
    /* From outside, the prefix is checked here (in this process, the walk checks and repairs it). */
    unsigned char prefix[NTH_BIG_HEADER_BYTES];
    uintptr_t prefix_at = (uintptr_t)big.data - NTH_BIG_HEADER_BYTES;
    if (it->mem != &nth_mem_self && !big.page_heap &&
        (!fetch(it, prefix_at, prefix, sizeof prefix) || !nth_big_prefix_matches(it->heap.key, &big, prefix, prefix_at)))
        note_problem(it, (uintptr_t)big.data, "the 128 bytes in front of a big block intact",
                     "a modified byte (an underrun, or an overrun from the mapping in front)");
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

/* ------------------------------------------------------------------------------- seeking */

/* The owner record of `address` if it is of `kind` and of this heap: read into `out`. */
static bool owner_record(nth_iter *it, uintptr_t address, uint16_t kind, void *out, size_t size)
{
    if (!it->mem->owner_of) return false;
    uintptr_t at = it->mem->owner_of(it->mem, address);
    nth_owner *owner = out;
    return at && fetch(it, at, out, size) && owner->kind == kind && (uintptr_t)owner->heap == it->heap_address;
}

/* Makes the segment holding `address` current (through the owner map, else the list). */
static bool seek_segment(nth_iter *it, uintptr_t address)
{
    uintptr_t at = it->mem->owner_of ? it->mem->owner_of(it->mem, address) : 0;
    nth_owner owner;
    if (at && fetch(it, at, &owner, sizeof owner) && owner.kind == OWNER_LFH &&
        !fetch(it, at + offsetof(nth_lfh_subsegment, segment), &at, sizeof at))
        at = 0; /* an LFH subsegment's chunks (its back-end header's too): its segment holds them */
    if (!at) { /* search the list */
        at = (uintptr_t)it->heap.first_segment;
        nth_list_guard guard = {0, 0, 0};
        for (uint32_t n = 0; at && n < it->heap.n_segments && nth_list_guard_step(&guard, at); n++) {
            if (!fetch(it, at, &it->segment, sizeof it->segment)) return false;
            if (address - (uintptr_t)it->segment.owner.base < it->segment.owner.reserve) break;
            at = (uintptr_t)it->segment.next;
        }
    }
    it->segments_seen = 0; /* the bound counts from here: at most n_segments more */
    it->sought = true;
    it->segment_guard = (nth_list_guard){0, 0, 0};
    if (!open_segment(it, at)) return false;
    return address - (uintptr_t)it->segment.owner.base < it->segment.owner.reserve;
}

/* Continues the segment's blocks at `pos` (after a block of prev_size_gr granules). */
static void resume_blocks(nth_iter *it, uintptr_t pos, uint32_t prev_size_gr)
{
    it->phase = NTH_ITER_BLOCKS;
    it->pos = pos;
    it->prev_size_gr = prev_size_gr;
    it->ucr_next = 0;
    it->ucr_cached = 0;
    /* The first range that starts at or after pos: a binary search of the sorted table (a range
     * out of order only misplaces the search; next_block reports it). */
    nth_ucr ucr;
    uintptr_t base = (uintptr_t)it->segment.owner.base;
    uint32_t low = 0, high = it->segment.n_ucr;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        if (read_ucr(it, mid, &ucr) && base + (size_t)ucr.offset_pg * NTH_PAGE < pos)
            low = mid + 1;
        else
            high = mid;
    }
    it->ucr_next = low;
}

void nth_iter_continue_at(nth_iter *it, uintptr_t pos)
{
    if (!read_segment(it, it->segment_address)) {
        note_problem(it, it->segment_address, "a segment descriptor of this heap", "a damaged or foreign descriptor");
        start_big(it);
        return;
    }
    resume_blocks(it, pos, UINT32_MAX);
    nth_ucr ucr;
    uintptr_t base = (uintptr_t)it->segment.owner.base;
    if (it->ucr_next > 0 && read_ucr(it, it->ucr_next - 1, &ucr) &&
        base + (size_t)(ucr.offset_pg + ucr.size_pg) * NTH_PAGE > pos) { /* ranges merged over pos */
        it->pos = base + (size_t)(ucr.offset_pg + ucr.size_pg) * NTH_PAGE;
        it->prev_size_gr = 0;
    }
}

/* True when a header at `at` lies in a committed run of the cursor's segment: inside its blocks'
 * span and in none of its uncommitted ranges (sorted, as resume_blocks assumes: the first range
 * that ends after `at` is the only one that can hold it). A position handed back by a caller is
 * checked this way before it is read; the traversal itself never steps into a range. */
static bool header_committed(nth_iter *it, uintptr_t at)
{
    const nth_segment *s = &it->segment;
    uintptr_t base = (uintptr_t)s->owner.base, end = at + sizeof(nth_block_header);
    if (at < (uintptr_t)s->first_block || end > (uintptr_t)s->limit || end < at) return false;
    nth_ucr ucr;
    uint32_t low = 0, high = s->n_ucr;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        if (!read_ucr(it, mid, &ucr)) return false;
        if (base + ((size_t)ucr.offset_pg + ucr.size_pg) * NTH_PAGE <= at)
            low = mid + 1;
        else
            high = mid;
    }
    return low == s->n_ucr || (read_ucr(it, low, &ucr) && end <= base + (size_t)ucr.offset_pg * NTH_PAGE);
}

/* Reads and decodes the header at `at` in the current segment. */
static bool header_at(nth_iter *it, uintptr_t at, nth_block_header *hdr)
{
    unsigned char bytes[sizeof *hdr];
    return at % NTH_GRANULE == 0 && at >= (uintptr_t)it->segment.first_block &&
           at + sizeof bytes <= (uintptr_t)it->segment.limit && fetch(it, at, bytes, sizeof bytes) &&
           decode_header(it, bytes, at, hdr) && hdr->size_gr != 0;
}

static bool seek_lfh(nth_iter *it, uintptr_t data)
{
    nth_lfh_subsegment *sub = &it->sub;
    if (!owner_record(it, data, OWNER_LFH, sub, sizeof *sub) || sub->magic != NTH_LFH_MAGIC) return false;
    size_t offset = data - (uintptr_t)sub->first_block;
    if (offset >= sub->span || offset % sub->block_size != 0 || offset / sub->block_size >= sub->bump) return false;
    uintptr_t block = (uintptr_t)sub->owner.base - sizeof(nth_block_header);
    nth_lfh_subsegment keep = *sub;
    nth_block_header hdr;
    if (!seek_segment(it, block) || !header_at(it, block, &hdr)) return false;
    it->sub = keep;
    resume_blocks(it, block + (size_t)hdr.size_gr * NTH_GRANULE, hdr.size_gr);
    it->phase = NTH_ITER_LFH;
    it->lfh_next = (uint32_t)(offset / sub->block_size) + 1;
    it->lfh_word_at = 0;
    it->lfh_resume = it->pos;
    return true;
}

static bool seek_big(nth_iter *it, uintptr_t data)
{
    nth_big big;
    if (!owner_record(it, data, OWNER_BIG, &big, sizeof big) || (uintptr_t)big.data != data) return false;
    it->phase = NTH_ITER_BIG;
    it->big_address = (uintptr_t)big.next;
    it->bigs_seen = 0;
    it->big_guard = (nth_list_guard){0, 0, 0};
    return true;
}

/* True when the header at `block`, found where an entry handed back says, still starts a block of
 * the entry's kind: busy or free as the entry says, and the block before it (prev_size) still
 * ending there. A block merged away has left a tombstone, which header_at refuses (size 0); the
 * look at the block before also refuses a header older than its neighbours. */
static bool still_starts_block(nth_iter *it, uintptr_t block, const nth_block_header *hdr, uint16_t entry_flags)
{
    if (!(entry_flags & NTH_ENTRY_BUSY) != !(hdr->flags & BLOCK_BUSY)) return false;
    if (block == (uintptr_t)it->segment.first_block || hdr->prev_size_gr == 0) return true;
    uintptr_t before = block - (size_t)hdr->prev_size_gr * NTH_GRANULE;
    nth_block_header prev;
    return before < block && header_committed(it, before) && header_at(it, before, &prev) &&
           prev.size_gr == hdr->prev_size_gr;
}

bool nth_iter_seek(nth_iter *it, const nth_walk_entry *entry)
{
    uintptr_t data = (uintptr_t)entry->data;
    it->whole_segment = false; /* a region entry's seek lists the segment whole again */
    if (entry->flags & NTH_ENTRY_BIG) return seek_big(it, data);
    if (entry->flags & NTH_ENTRY_LFH) return seek_lfh(it, data);
    if (entry->flags & NTH_ENTRY_REGION) {
        if (!seek_segment(it, data) || data != (uintptr_t)it->segment.owner.base) return false;
        it->phase = NTH_ITER_REGION;
        emit_region(it, &(nth_walk_entry){0});
        return true;
    }
    if (entry->flags & NTH_ENTRY_UNCOMMITTED) {
        if (!seek_segment(it, data)) return false;
        nth_ucr ucr;
        uintptr_t base = (uintptr_t)it->segment.owner.base;
        for (uint32_t i = 0; read_ucr(it, i, &ucr); i++)
            if (base + (size_t)ucr.offset_pg * NTH_PAGE == data) {
                resume_blocks(it, data + (size_t)ucr.size_pg * NTH_PAGE, 0);
                return true;
            }
        return false;
    }
    uintptr_t block = data - sizeof(nth_block_header);
    nth_block_header hdr;
    if (!seek_segment(it, block) || !header_committed(it, block) || !header_at(it, block, &hdr) ||
        !still_starts_block(it, block, &hdr, entry->flags))
        return false;
    resume_blocks(it, block + (size_t)hdr.size_gr * NTH_GRANULE, hdr.size_gr);
    if ((hdr.flags & (BLOCK_BUSY | BLOCK_LFH | BLOCK_INTERNAL)) == (BLOCK_BUSY | BLOCK_LFH | BLOCK_INTERNAL) &&
        find_subsegment(it, data)) {
        it->phase = NTH_ITER_LFH;
        it->lfh_next = 0;
        it->lfh_word_at = 0;
        it->lfh_resume = it->pos;
    }
    return true;
}
