/*
 * locate.c — from a user pointer to its block, safely. This is the gate every free, size,
 * realloc and validate call passes: the pointer is traced through the address map to its owner,
 * and only memory the owner says is committed is read. A wild, stack, foreign, interior,
 * misaligned or already-freed pointer is told apart and rejected here, before anything is
 * written.
 *
 *   ptr --addrmap--> owner?  --no-->  "an address no ntheap heap owns"
 *                      | heap differs  "a block of another heap"
 *                      | big block     ptr must be the data address its record names (the
 *                      |               record is the owner; the block's in-band prefix is checked
 *                      |               by free, realloc, validate and walk, not here)
 *                      | LFH           ptr must start a busy block of the subsegment (lfh.c)
 *                      | segment       header at ptr-16 committed, decodes, names this segment,
 *                                      is busy, is not the heap's own header block
 *   and, on a light page heap, ptr must not wait in the delayed-free queue (busy in the engine,
 *   freed for its caller)
 */
#include "heap/debug/debug.h"
#include "heap/internal.h"
#include "heap/lfh.h"

static nth_error fail(const char **expected, const char **found, const char *e, const char *f, nth_error error)
{
    *expected = e;
    *found = f;
    return error;
}

static nth_error locate_in_engine(nth_heap *heap, const void *ptr, nth_located *out, const char **expected,
                                  const char **found)
{
    memset(out, 0, sizeof *out);
    if ((uintptr_t)ptr % NTH_GRANULE != 0)
        return fail(expected, found, "a 16-byte aligned block address", "a misaligned pointer",
                    NTH_ERR_INVALID_POINTER);
    const nth_owner *owner = nth_addrmap_lookup(ptr);
    if (!owner)
        return fail(expected, found, "a block of this heap", "an address no ntheap heap owns (wild or stack pointer)",
                    NTH_ERR_INVALID_POINTER);
    if (owner->heap != heap)
        return fail(expected, found, "a block of this heap", "a block of another heap", NTH_ERR_WRONG_HEAP);
    out->heap = heap;
    switch (owner->kind) {
    case OWNER_BIG: {
        /* The owner is the block's record, outside user reach: nothing in the mapping is read. */
        nth_big *big = (nth_big *)owner;
        if ((const char *)ptr != big->data)
            return fail(expected, found, "the data address of a big block", "an interior address of a big block",
                        NTH_ERR_INVALID_POINTER);
        out->big = big;
        out->header = nth_big_header(big);
        out->hdr = nth_big_decoded(big);
        return NTH_OK;
    }
    case OWNER_LFH:
        return nth_lfh_locate(heap, (nth_lfh_subsegment *)owner, ptr, out, expected, found);
    case OWNER_SEGMENT: {
        nth_segment *segment = (nth_segment *)owner;
        char *header = (char *)ptr - sizeof(nth_block_header);
        if (!nth_segment_is_committed(segment, header, sizeof(nth_block_header)))
            return fail(expected, found, "committed heap memory", "an address in an uncommitted range",
                        NTH_ERR_INVALID_POINTER);
        if (!nth_header_load(heap, header, &out->hdr) || out->hdr.segment_index != nth_segment_tag(segment))
            return fail(expected, found, "a block header in front of the pointer",
                        "no valid header (an interior pointer, or the header was overwritten)",
                        NTH_ERR_INVALID_POINTER);
        if (header == nth_segment_base(segment) || (out->hdr.flags & BLOCK_INTERNAL))
            return fail(expected, found, "a block allocated by the caller", "a block the heap uses for itself",
                        NTH_ERR_INVALID_POINTER);
        if (!(out->hdr.flags & BLOCK_BUSY))
            return fail(expected, found, "a busy block", "a free block (already freed)", NTH_ERR_DOUBLE_FREE);
        if (!nth_segment_is_committed(segment, header, (size_t)out->hdr.size_gr * NTH_GRANULE))
            return fail(expected, found, "a block inside committed memory", "a size running past it", NTH_ERR_CORRUPT);
        out->segment = segment;
        out->header = header;
        return NTH_OK;
    }
    default:
        return fail(expected, found, "a known owner kind", "an unknown owner", NTH_ERR_CORRUPT);
    }
}

nth_error nth_locate_block(nth_heap *heap, const void *ptr, nth_located *out, const char **expected,
                           const char **found)
{
    nth_error error = locate_in_engine(heap, ptr, out, expected, found);
    /* A light page heap keeps a freed block busy in the engine while it waits in the delayed-free
     * queue: for every call but the queue's own release of it, it is a freed block. */
    nth_delayed delayed;
    if (error == NTH_OK && NTH_UNLIKELY(heap->debug_modes & NTH_DEBUG_PAGE_LIGHT) &&
        nth_delay_find(ptr, false, true, &delayed) && delayed.heap == heap)
        return fail(expected, found, "a busy block", "a block already freed (in the page heap's delayed-free queue)",
                    NTH_ERR_DOUBLE_FREE);
    return error;
}
