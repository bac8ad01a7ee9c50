/*
 * block.c — one block as bytes: storing its header and where its fill patterns lie (the
 * patterns themselves are written and checked by debug/fill.c). The header encoding itself
 * (nth_header_store/_load, inline in internal.h) is the fast part of this file; the blocks of a
 * segment are found in order by the one traversal (iter.c).
 *
 *   busy block (TAIL_CHECKING):  | header | data ........ | 0xAB 0xAB ... | [user value] |
 *                                                          ^ tail_fill_start  ^ fill_end
 *   free block (FREE_CHECKING):  | header | next | prev | 0xFEEEFEEE 0xFEEEFEEE ...      |
 *   new block  (FREE_CHECKING):  | header | 0xBAADF00D 0xBAADF00D ... (unless ZERO_MEMORY)
 *
 * Invariants
 *   - nth_block_store_locked (inline, internal.h; its rare part here) is the one place a header
 *     with BLOCK_LAST is written, so the UCR that follows such a block always knows where the
 *     block starts (segment.c keeps the table; this file tells it).
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

void nth_block_stored_locked(nth_heap *heap, char *block, nth_block_header hdr)
{
    nth_assert_held(heap);
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
