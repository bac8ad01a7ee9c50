/*
 * backend.c — the back-end: blocks inside segments. Allocation takes a fitting free block
 * (committing more or adding a segment when none fits) and splits off the remainder; free
 * coalesces with both neighbours and either lists the result or decommits its inner pages;
 * resize grows into a free neighbour or gives the tail back.
 *
 *   alloc:   [ free ................................ ]   ->  [ busy | data ][ free remainder ]
 *   free:    [ free ][ busy ][ free ]                    ->  [ free ........................ ]
 *
 * Invariants kept here (checked by validate.c):
 *   - every block's prev_size_gr equals the size of the block before it (0 after a UCR);
 *   - a free block is on exactly one free list, and (unless coalescing is disabled) its
 *     neighbours are busy;
 *   - a header that stops being a block start (merged, absorbed) was last written saying "free",
 *     so a stale pointer to it is seen as a double free, never as a live block;
 *   - heap->busy_blocks / busy_bytes count live back-end blocks and their requested bytes.
 * Everything here runs with the heap lock held.
 */
#include "heap/internal.h"

static inline char *block_data(char *block)
{
    return block + sizeof(nth_block_header);
}

static inline char *block_end(char *block, uint32_t size_gr)
{
    return block + (size_t)size_gr * NTH_GRANULE;
}

size_t nth_block_tail_fill_start(const nth_block_header *hdr)
{
    return sizeof(nth_block_header) + nth_block_requested(hdr);
}

size_t nth_block_fill_end(const nth_block_header *hdr)
{
    return (size_t)hdr->size_gr * NTH_GRANULE - ((hdr->flags & BLOCK_EXTRA) ? NTH_GRANULE : 0);
}

uint32_t nth_backend_block_gr(const nth_heap *heap, uint32_t flags, size_t size)
{
    if (size > NTH_MAX_REQUEST) return 0;
    size_t bytes = sizeof(nth_block_header) + (size ? size : 1);
    if (flags & NTH_SETTABLE_USER_VALUE) bytes += NTH_GRANULE;
    if (heap->flags & NTH_TAIL_CHECKING_ENABLED) bytes += NTH_GRANULE;
    size_t gr = nth_round_up(bytes, NTH_GRANULE) / NTH_GRANULE;
    if (gr < NTH_MIN_FREE_GR) gr = NTH_MIN_FREE_GR;
    return gr > UINT32_MAX / 2 ? 0 : (uint32_t)gr;
}

void nth_backend_set_prev_size_locked(nth_heap *heap, char *block, uint32_t prev_size_gr)
{
    nth_block_header next;
    if (!nth_header_load(heap, block, &next)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, block, "a block header after the block being changed",
                           "a damaged header (overflow from the block before?)");
        return;
    }
    next.prev_size_gr = prev_size_gr;
    nth_block_store_locked(heap, block, next);
}

void nth_backend_fix_next_prev_locked(nth_heap *heap, char *block, const nth_block_header *hdr)
{
    if (hdr->flags & BLOCK_LAST) return;
    nth_backend_set_prev_size_locked(heap, block_end(block, hdr->size_gr), hdr->size_gr);
}

/* Fills [from, to) of a free block with the free pattern, skipping its header and links. */
static void fill_free(char *block, char *from, char *to)
{
    char *body = block + NTH_MIN_FREE_GR * NTH_GRANULE;
    if (from < body) from = body;
    for (char *p = from; p + 4 <= to; p += 4) {
        uint32_t v = NTH_FILL_FREE;
        memcpy(p, &v, 4);
    }
}

/* The first byte of [from, to) that differs from the free pattern, or NULL. */
static char *check_free_fill(char *block, char *from, char *to)
{
    char *body = block + NTH_MIN_FREE_GR * NTH_GRANULE;
    if (from < body) from = body;
    for (char *p = from; p + 4 <= to; p += 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        if (v != NTH_FILL_FREE) return p;
    }
    return NULL;
}

void nth_backend_release_range_locked(nth_heap *heap, char *block, uint32_t size_gr, uint8_t segment_index,
                                      uint32_t prev_size_gr, bool last, bool may_decommit)
{
    bool coalesce = !(heap->flags & NTH_DISABLE_COALESCE_ON_FREE);
    bool fill = heap->flags & NTH_FREE_CHECKING_ENABLED;
    char *freed = block, *freed_end = block_end(block, size_gr);
    if (coalesce && prev_size_gr) {
        char *prev = block - (size_t)prev_size_gr * NTH_GRANULE;
        nth_block_header ph;
        if (!nth_header_load(heap, prev, &ph) || ph.size_gr != prev_size_gr) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, prev, "the previous block's header",
                               "a damaged header or a size that does not match prev_size");
        } else if (!(ph.flags & BLOCK_BUSY) && nth_freelist_remove_locked(heap, prev, ph.size_gr)) {
            block = prev;
            size_gr += ph.size_gr;
            prev_size_gr = ph.prev_size_gr;
        }
    }
    if (coalesce && !last) {
        char *next = freed_end;
        nth_block_header nh;
        if (!nth_header_load(heap, next, &nh)) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, next, "the next block's header",
                               "a damaged header (overflow from the block before?)");
            /* Do not merge with or through a damaged block; keep the chain as it was. */
        } else if (!(nh.flags & BLOCK_BUSY) && nth_freelist_remove_locked(heap, next, nh.size_gr)) {
            size_gr += nh.size_gr;
            last = nh.flags & BLOCK_LAST;
            if (fill) fill_free(block, next, next + NTH_MIN_FREE_GR * NTH_GRANULE);
        }
    }
    nth_block_header hdr = {.size_gr = size_gr, .prev_size_gr = prev_size_gr,
                            .flags = (uint16_t)((last ? BLOCK_LAST : 0) | (fill ? BLOCK_FILL : 0)),
                            .segment_index = segment_index, .unused = 0};
    if (fill) fill_free(block, freed, freed_end);
    nth_block_store_locked(heap, block, hdr);
    nth_backend_fix_next_prev_locked(heap, block, &hdr);

    size_t bytes = (size_t)size_gr * NTH_GRANULE;
    /* Free memory is kept up to the threshold or a quarter of what is committed, whichever is
     * more: a page fault costs about 11 us here, so memory that will be reused stays. */
    size_t keep = heap->decommit_total_free > heap->committed_bytes / 4 ? heap->decommit_total_free
                                                                        : heap->committed_bytes / 4;
    if (may_decommit && bytes >= heap->decommit_free_block && heap->free_bytes + bytes > keep &&
        nth_segment_decommit_free_locked(heap, block, &hdr))
        return;
    nth_freelist_insert_locked(heap, block, size_gr);
}

/* Takes a free block of at least size_gr granules off its list and splits it to size_gr (or
 * a granule more, when the rest could not be a block). *hdr describes the result: its size,
 * prev size, LAST flag and segment; the header in memory is not yet written. NULL when the heap
 * cannot grow. */
static char *take_block_locked(nth_heap *heap, uint32_t size_gr, nth_block_header *hdr)
{
    uint32_t found_gr = 0;
    char *block = nth_freelist_find_locked(heap, size_gr, &found_gr);
    if (!block) {
        if (!nth_segment_extend_locked(heap, size_gr)) return NULL;
        block = nth_freelist_find_locked(heap, size_gr, &found_gr);
        if (!block) return NULL;
    }
    if (!nth_header_load(heap, block, hdr) || !nth_freelist_remove_locked(heap, block, found_gr)) return NULL;
    if ((heap->flags & NTH_FREE_CHECKING_ENABLED) && (hdr->flags & BLOCK_FILL)) {
        char *bad = check_free_fill(block, block, block_end(block, size_gr));
        if (bad)
            nth_report_problem(heap, NTH_ERR_CORRUPT, bad, "the free-block fill 0xFEEEFEEE",
                               "a modified byte (written after free?)");
    }
    if (found_gr - size_gr >= NTH_MIN_FREE_GR) {
        char *rest = block_end(block, size_gr);
        nth_block_header rh = {.size_gr = found_gr - size_gr, .prev_size_gr = size_gr,
                               .flags = (uint16_t)(hdr->flags & (BLOCK_LAST | BLOCK_FILL)),
                               .segment_index = hdr->segment_index, .unused = 0};
        nth_block_store_locked(heap, rest, rh);
        nth_backend_fix_next_prev_locked(heap, rest, &rh);
        nth_freelist_insert_locked(heap, rest, rh.size_gr);
        hdr->size_gr = size_gr;
        hdr->flags &= (uint16_t)~BLOCK_LAST;
    }
    hdr->flags &= (uint16_t)BLOCK_LAST;
    return block;
}

/* Turns a taken block into a busy one holding `size` bytes: header, zeroing or fill, tail fill,
 * user value. */
static void *finish_busy_locked(nth_heap *heap, char *block, nth_block_header hdr, uint32_t flags, size_t size)
{
    hdr.flags = (uint16_t)((hdr.flags & BLOCK_LAST) | BLOCK_BUSY | (flags & BLOCK_USER_FLAGS));
    if (flags & NTH_SETTABLE_USER_VALUE) hdr.flags |= BLOCK_EXTRA;
    if (heap->flags & NTH_TAIL_CHECKING_ENABLED) hdr.flags |= BLOCK_FILL;
    hdr.unused = (uint8_t)((size_t)hdr.size_gr * NTH_GRANULE - size);
    nth_block_store_locked(heap, block, hdr);
    char *data = block_data(block);
    if (flags & NTH_ZERO_MEMORY)
        memset(data, 0, size);
    else if (heap->flags & NTH_FREE_CHECKING_ENABLED)
        for (size_t i = 0; i + 4 <= size; i += 4) {
            uint32_t v = NTH_FILL_NEW;
            memcpy(data + i, &v, 4);
        }
    if (hdr.flags & BLOCK_FILL)
        memset(block + nth_block_tail_fill_start(&hdr), NTH_FILL_TAIL,
               nth_block_fill_end(&hdr) - nth_block_tail_fill_start(&hdr));
    if (hdr.flags & BLOCK_EXTRA) memset(block + nth_block_fill_end(&hdr), 0, NTH_GRANULE);
    heap->busy_blocks++;
    heap->busy_bytes += size;
    heap->alloc_calls++;
    return data;
}

void *nth_backend_alloc_locked(nth_heap *heap, uint32_t flags, size_t size)
{
    uint32_t size_gr = nth_backend_block_gr(heap, flags, size);
    if (size_gr == 0) return NULL;
    nth_block_header hdr;
    char *block = take_block_locked(heap, size_gr, &hdr);
    if (!block) return NULL;
    return finish_busy_locked(heap, block, hdr, flags, size);
}

void *nth_backend_alloc_aligned_locked(nth_heap *heap, uint32_t flags, size_t alignment, size_t size)
{
    uint32_t size_gr = nth_backend_block_gr(heap, flags, size);
    size_t slack_gr = alignment / NTH_GRANULE + NTH_MIN_FREE_GR;
    if (size_gr == 0 || size_gr + slack_gr >= NTH_BIG_THRESHOLD_GR) return NULL;
    nth_block_header hdr;
    char *block = take_block_locked(heap, (uint32_t)(size_gr + slack_gr), &hdr);
    if (!block) return NULL;
    char *data = (char *)nth_round_up((uintptr_t)block_data(block), alignment);
    size_t lead = (size_t)(data - block_data(block));
    if (lead != 0 && lead < NTH_MIN_FREE_GR * NTH_GRANULE) {
        data += alignment;
        lead += alignment;
    }
    if (lead) {
        /* Give the leading granules back as a free block in front of the aligned one. */
        char *aligned_block = block + lead;
        nth_block_header ah = hdr;
        ah.size_gr = hdr.size_gr - (uint32_t)(lead / NTH_GRANULE);
        ah.prev_size_gr = (uint32_t)(lead / NTH_GRANULE);
        ah.flags = (uint16_t)((hdr.flags & BLOCK_LAST) | BLOCK_BUSY);
        ah.unused = 0;
        nth_block_store_locked(heap, aligned_block, ah);
        nth_backend_fix_next_prev_locked(heap, aligned_block, &ah);
        nth_backend_release_range_locked(heap, block, (uint32_t)(lead / NTH_GRANULE), hdr.segment_index,
                                         hdr.prev_size_gr, false, false);
        if (!nth_header_load(heap, aligned_block, &hdr)) return NULL;
        block = aligned_block;
    }
    if (hdr.size_gr - size_gr >= NTH_MIN_FREE_GR) {
        /* Give the trailing granules back too. */
        bool last = hdr.flags & BLOCK_LAST;
        uint32_t rest_gr = hdr.size_gr - size_gr;
        hdr.size_gr = size_gr;
        hdr.flags = BLOCK_BUSY;
        hdr.unused = 0;
        nth_block_store_locked(heap, block, hdr);
        nth_backend_release_range_locked(heap, block_end(block, size_gr), rest_gr, hdr.segment_index, size_gr, last,
                                         true);
    }
    return finish_busy_locked(heap, block, hdr, flags, size);
}

void nth_backend_free_locked(nth_heap *heap, char *block, nth_block_header *hdr)
{
    heap->busy_blocks--;
    heap->busy_bytes -= nth_block_requested(hdr);
    heap->free_calls++;
    nth_block_header freed = *hdr;
    freed.flags &= (uint16_t)BLOCK_LAST;
    nth_block_store_locked(heap, block, freed); /* a stale pointer to it now reads "free" */
    nth_backend_release_range_locked(heap, block, hdr->size_gr, hdr->segment_index, hdr->prev_size_gr,
                                     hdr->flags & BLOCK_LAST, true);
}

bool nth_backend_resize_locked(nth_heap *heap, char *block, nth_block_header *hdr, uint32_t flags, size_t size)
{
    uint32_t keep_flags = (hdr->flags & BLOCK_EXTRA) ? NTH_SETTABLE_USER_VALUE : 0;
    uint32_t new_gr = nth_backend_block_gr(heap, flags | keep_flags, size);
    if (new_gr == 0 || new_gr >= NTH_BIG_THRESHOLD_GR) return false;
    size_t old_size = nth_block_requested(hdr);
    uintptr_t user_value = 0;
    if (hdr->flags & BLOCK_EXTRA) memcpy(&user_value, block + nth_block_fill_end(hdr), sizeof user_value);

    nth_block_header h = *hdr;
    if (new_gr > h.size_gr) {
        if (h.flags & BLOCK_LAST) return false;
        char *next = block_end(block, h.size_gr);
        nth_block_header nh;
        if (!nth_header_load(heap, next, &nh) || (nh.flags & BLOCK_BUSY) || h.size_gr + nh.size_gr < new_gr)
            return false;
        if (!nth_freelist_remove_locked(heap, next, nh.size_gr)) return false;
        uint32_t total_gr = h.size_gr + nh.size_gr;
        h.flags = (uint16_t)((h.flags & ~BLOCK_LAST) | (nh.flags & BLOCK_LAST));
        if (total_gr - new_gr >= NTH_MIN_FREE_GR) {
            char *rest = block_end(block, new_gr);
            nth_block_header rh = {.size_gr = total_gr - new_gr, .prev_size_gr = new_gr,
                                   .flags = (uint16_t)(nh.flags & (BLOCK_LAST | BLOCK_FILL)),
                                   .segment_index = h.segment_index, .unused = 0};
            nth_block_store_locked(heap, rest, rh);
            nth_backend_fix_next_prev_locked(heap, rest, &rh);
            nth_freelist_insert_locked(heap, rest, rh.size_gr);
            h.size_gr = new_gr;
            h.flags &= (uint16_t)~BLOCK_LAST;
        } else {
            h.size_gr = total_gr;
        }
        h.unused = (uint8_t)((size_t)h.size_gr * NTH_GRANULE - size);
        nth_block_store_locked(heap, block, h);
        nth_backend_fix_next_prev_locked(heap, block, &h);
    } else {
        uint32_t rest_gr = h.size_gr - new_gr;
        bool last = h.flags & BLOCK_LAST;
        if (rest_gr >= NTH_MIN_FREE_GR) {
            h.size_gr = new_gr;
            h.flags &= (uint16_t)~BLOCK_LAST;
        }
        h.unused = (uint8_t)((size_t)h.size_gr * NTH_GRANULE - size);
        nth_block_store_locked(heap, block, h);
        if (rest_gr >= NTH_MIN_FREE_GR)
            nth_backend_release_range_locked(heap, block_end(block, new_gr), rest_gr, h.segment_index, new_gr, last,
                                             true);
    }
    char *data = block_data(block);
    if (size > old_size && (flags & NTH_ZERO_MEMORY)) memset(data + old_size, 0, size - old_size);
    if (h.flags & BLOCK_FILL)
        memset(block + nth_block_tail_fill_start(&h), NTH_FILL_TAIL,
               nth_block_fill_end(&h) - nth_block_tail_fill_start(&h));
    if (h.flags & BLOCK_EXTRA) memcpy(block + nth_block_fill_end(&h), &user_value, sizeof user_value);
    heap->busy_bytes += size;
    heap->busy_bytes -= old_size;
    *hdr = h;
    return true;
}

void nth_backend_mark_locked(nth_heap *heap, void *data, uint16_t add_flags)
{
    char *block = (char *)data - sizeof(nth_block_header);
    nth_block_header hdr;
    if (!nth_header_load(heap, block, &hdr)) return;
    hdr.flags |= add_flags;
    nth_block_store_locked(heap, block, hdr);
}
