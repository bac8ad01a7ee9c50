/*
 * block.c — one block as bytes: storing its header, where its fill patterns lie (the patterns
 * themselves are written and checked by debug/fill.c), and a checked cursor over the blocks of
 * a segment. The header encoding itself (nth_header_store/_load, inline in
 * internal.h) is the fast part of this file.
 *
 *   busy block (TAIL_CHECKING):  | header | data ........ | 0xAB 0xAB ... | [user value] |
 *                                                          ^ tail_fill_start  ^ fill_end
 *   free block (FREE_CHECKING):  | header | next | prev | 0xFEEEFEEE 0xFEEEFEEE ...      |
 *   new block  (FREE_CHECKING):  | header | 0xBAADF00D 0xBAADF00D ... (unless ZERO_MEMORY)
 *
 * Invariants
 *   - nth_block_store_locked is the one place a header with BLOCK_LAST is written, so the UCR
 *     that follows such a block always knows where the block starts (segment.c keeps the
 *     table; this file tells it).
 *   - The cursor reads only committed memory of the segment it walks: each step checks the
 *     header's bounds against the current committed run before following its size, so a
 *     damaged header ends the run (reported by the caller), never a fault or a loop.
 */
#include "heap/internal.h"

#if NTH_ASAN
/* ASan builds: the header is poisoned; a busy block's data is open (the entry point poisons its
 * slack), a free block's links are open and its body poisoned. Fill-checking heaps stay open. */
static void asan_picture(const nth_heap *heap, char *block, nth_block_header hdr)
{
    if (!nth_process_defaults.asan_poison) return;
    if (heap->flags & (NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED)) return;
    if (hdr.flags & (BLOCK_INTERNAL | BLOCK_LFH | BLOCK_FILL | BLOCK_DAMAGED)) return;
    size_t bytes = (size_t)hdr.size_gr * NTH_GRANULE, head = sizeof(nth_block_header);
    NTH_ASAN_POISON(block, head);
    if (hdr.flags & BLOCK_BUSY) {
        NTH_ASAN_UNPOISON(block + head, bytes - head);
        return;
    }
    size_t open = head + sizeof(nth_free_links);
    if (bytes < open) return;
    NTH_ASAN_UNPOISON(block + head, sizeof(nth_free_links));
    NTH_ASAN_POISON(block + open, bytes - open);
}
#endif

void nth_block_store_locked(nth_heap *heap, char *block, nth_block_header hdr)
{
    nth_assert_held(heap);
    nth_header_store(heap, block, hdr);
#if NTH_ASAN
    asan_picture(heap, block, hdr);
#endif
    if (hdr.flags & BLOCK_LAST) {
        nth_segment *segment = nth_segment_of(heap, block);
        if (segment) nth_segment_note_last_block(segment, block, block + (size_t)hdr.size_gr * NTH_GRANULE);
    }
}

size_t nth_block_tail_fill_start(const nth_block_header *hdr)
{
    return sizeof(nth_block_header) + nth_block_requested(hdr);
}

size_t nth_block_fill_end(const nth_block_header *hdr)
{
    return (size_t)hdr->size_gr * NTH_GRANULE - ((hdr->flags & BLOCK_EXTRA) ? NTH_GRANULE : 0);
}

/* The committed run of `segment` numbered `run`: run 0 starts at the first block, run i > 0 at
 * the end of UCR i-1; each ends at the next UCR or the limit. False past the last run. */
static bool run_bounds(const nth_segment *segment, uint32_t run, char **start, char **end)
{
    char *base = nth_segment_base(segment);
    if (run > segment->n_ucr) return false;
    *start = run == 0 ? segment->first_block
                      : base + (size_t)(segment->ucr[run - 1].offset_pg + segment->ucr[run - 1].size_pg) * NTH_PAGE;
    *end = run < segment->n_ucr ? base + (size_t)segment->ucr[run].offset_pg * NTH_PAGE : segment->limit;
    return true;
}

void nth_block_cursor_init(nth_block_cursor *cursor, nth_segment *segment)
{
    memset(cursor, 0, sizeof *cursor);
    cursor->segment = segment;
    if (!run_bounds(segment, 0, &cursor->at, &cursor->run_end)) cursor->at = cursor->run_end = NULL;
}

void nth_block_cursor_seek(nth_block_cursor *cursor, char *at)
{
    const nth_segment *segment = cursor->segment;
    size_t offset = (size_t)(at - nth_segment_base(segment));
    uint32_t run = 0;
    for (; run < segment->n_ucr && (size_t)segment->ucr[run].offset_pg * NTH_PAGE < offset; run++) {
        size_t ucr_end = (size_t)(segment->ucr[run].offset_pg + segment->ucr[run].size_pg) * NTH_PAGE;
        if (offset < ucr_end) offset = ucr_end, at = nth_segment_base(segment) + ucr_end; /* merged over `at` */
    }
    cursor->run = run;
    cursor->at = at;
    cursor->run_end = run < segment->n_ucr ? nth_segment_base(segment) + (size_t)segment->ucr[run].offset_pg * NTH_PAGE
                                           : segment->limit;
}

bool nth_block_cursor_next(nth_heap *heap, nth_block_cursor *cursor, char **block, nth_block_header *hdr)
{
    for (;;) {
        if (cursor->at && cursor->at + sizeof *hdr <= cursor->run_end) {
            char *at = cursor->at;
            if ((uintptr_t)at % NTH_GRANULE == 0 && nth_header_load(heap, at, hdr) && hdr->size_gr != 0 &&
                (size_t)hdr->size_gr <= (size_t)(cursor->run_end - at) / NTH_GRANULE) {
                cursor->at = at + (size_t)hdr->size_gr * NTH_GRANULE;
                *block = at;
                return true;
            }
            cursor->damaged = at; /* the rest of this run cannot be found */
            cursor->n_damaged++;
        }
        if (!run_bounds(cursor->segment, ++cursor->run, &cursor->at, &cursor->run_end)) return false;
    }
}
