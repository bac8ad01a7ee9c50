/*
 * walk.c — HeapWalk and HeapSummary: native walk entries and statistics in Windows' shapes.
 *
 * HeapWalk keeps no state of its own: like the native walk, it resumes from the entry the caller
 * hands back. A PROCESS_HEAP_ENTRY is turned back into a native position (data = lpData, flags
 * from wFlags); the native flags that wFlags cannot carry (BIG, LFH, INTERNAL) travel in the
 * block's reserved words, which Windows leaves unused:
 *
 *   Block.hMem           the moveable handle (PROCESS_HEAP_ENTRY_MOVEABLE), else NULL
 *   Block.dwReserved[0]  native entry flags (NTH_ENTRY_*)
 *   Block.dwReserved[1]  native region index
 *   Block.dwReserved[2]  check word: WIN32_WALK_TAG ^ lpData ^ flags ^ index (low 32 bits)
 *
 * A region entry needs nothing more than wFlags (its union is the Region part). When the check
 * word does not match (the caller built or edited the entry), the flags are derived from wFlags
 * and iRegionIndex alone (index 64 = a big block), and the native walk validates the position.
 *
 *   native entry                         PROCESS_HEAP_ENTRY
 *   REGION: data, size (header bytes)    wFlags REGION, lpData, cbData, cbOverhead 0,
 *           committed, uncommitted,      Region.dwCommittedSize, dwUnCommittedSize,
 *           first_block, last_block      lpFirstBlock, lpLastBlock
 *   UNCOMMITTED: data, size              wFlags UNCOMMITTED_RANGE, cbOverhead 0
 *   BUSY (+INTERNAL): data, size,        wFlags BUSY, cbData = requested size, cbOverhead =
 *           overhead (header included)   overhead without the 2P-byte header, so that, as on
 *                                        Windows, the block ends at lpData + cbData +
 *                                        cbOverhead and the next block's lpData is 2P further
 *   BUSY | LFH                           wFlags BUSY, cbOverhead as the native entry
 *   BUSY + USER_VALUE + USER_FLAG1 in    wFlags BUSY|MOVEABLE (|DDESHARE), Block.hMem
 *           the process heap, value is
 *           the live handle of this block
 *   BIG | BUSY                           wFlags BUSY, cbOverhead 0, iRegionIndex 64
 *   free block (flags 0): data (after    wFlags 0, lpData = data, cbOverhead = 4P (Windows'
 *           the 2P header), size (to the     free-entry overhead), cbData = size - 2*cbOverhead,
 *           block's end)                     so that the block ends at lpData + cbData +
 *                                            2*cbOverhead: an uncommitted range after it starts
 *                                            there, as Windows' walkers compute, and the next
 *                                            block's lpData is 2P further
 *
 * A free block is a whole number of granules (2P), at least one granule of data. One smaller than
 * 2*4P of data (under 5 granules with its header) reads cbData 0 and cbOverhead = half its data,
 * so that the identity still holds; every other free entry reads cbOverhead 4P.
 *
 *   | header 2P | <------------------------- native size -------------------------> |
 *               ^ lpData     <-- cbData -->  <-- 2*cbOverhead (8P) -->              ^ next entry
 * cbData and the Region sizes are DWORDs and cbOverhead/iRegionIndex are bytes, as on Windows;
 * larger values saturate.
 */
#include "win32/win32_internal.h"

#include <string.h>

_Static_assert(sizeof(void *) != 8 || sizeof(PROCESS_HEAP_ENTRY) == 40, "PROCESS_HEAP_ENTRY is 40 bytes on 64-bit Windows");
_Static_assert(sizeof(void *) != 8 || offsetof(PROCESS_HEAP_ENTRY, Block) == 16, "union at offset 16");
_Static_assert(sizeof(void *) != 8 || offsetof(PROCESS_HEAP_ENTRY, wFlags) == 14, "wFlags at 14");
_Static_assert(sizeof(void *) != 8 || sizeof(HEAP_SUMMARY) == 40, "HEAP_SUMMARY is 40 bytes on 64-bit Windows");

#define WIN32_WALK_TAG 0x6E746877u /* "nthw" */

/* The block header in front of every back-end block's data (2 pointers, as on Windows). */
#define WIN32_BLOCK_HEADER_BYTES (2 * sizeof(void *))
/* What Windows reports as a free entry's cbOverhead: 4 pointers (spec §4.10). */
#define WIN32_FREE_OVERHEAD_BYTES (4 * sizeof(void *))

static DWORD saturate_dword(size_t value)
{
    return value > 0xFFFFFFFFu ? 0xFFFFFFFFu : (DWORD)value;
}

static BYTE saturate_byte(size_t value)
{
    return value > 0xFFu ? 0xFFu : (BYTE)value;
}

static DWORD walk_check_word(const void *data, uint32_t flags, uint32_t region_index)
{
    uintptr_t a = (uintptr_t)data;
    return (DWORD)(WIN32_WALK_TAG ^ (uint32_t)a ^ (uint32_t)(a >> 16 >> 16) ^ (flags << 7) ^ (region_index << 21));
}

/* The native position the caller's entry stands for. */
static void position_from_entry(const PROCESS_HEAP_ENTRY *entry, nth_walk_entry *position)
{
    memset(position, 0, sizeof *position);
    position->data = entry->lpData;
    if (entry->lpData == NULL) return;
    if (entry->wFlags & PROCESS_HEAP_REGION) {
        position->flags = NTH_ENTRY_REGION;
        position->region_index = entry->iRegionIndex;
        return;
    }
    uint32_t flags = entry->Block.dwReserved[0];
    uint32_t index = entry->Block.dwReserved[1];
    if (flags <= 0xFFFFu && index <= 0xFFFFu &&
        entry->Block.dwReserved[2] == walk_check_word(entry->lpData, flags, index)) {
        position->flags = (uint16_t)flags;
        position->region_index = (uint16_t)index;
        return;
    }
    if (entry->wFlags & PROCESS_HEAP_UNCOMMITTED_RANGE) {
        position->flags = NTH_ENTRY_UNCOMMITTED;
    } else if (entry->wFlags & PROCESS_HEAP_ENTRY_BUSY) {
        position->flags = NTH_ENTRY_BUSY;
        if (entry->iRegionIndex == NTH_WIN32_BIG_BLOCK_REGION_INDEX) position->flags |= NTH_ENTRY_BIG;
    }
    position->region_index = entry->iRegionIndex;
}

/* The moveable handle of a process-heap block, if it is the data block of one. */
static HANDLE moveable_handle(HANDLE heap, const nth_walk_entry *n, WORD *extra_flags)
{
    const uint16_t marks = NTH_ENTRY_BUSY | NTH_ENTRY_USER_VALUE | NTH_ENTRY_USER_FLAG1;
    if ((n->flags & marks) != marks || heap != GetProcessHeap()) return NULL;
    uintptr_t handle_flags = 0;
    HANDLE handle = win32_handle_for_block(n->data, n->u.block.user_value, &handle_flags);
    if (!handle) return NULL;
    *extra_flags = PROCESS_HEAP_ENTRY_MOVEABLE;
    if (handle_flags & WIN32_HANDLE_DDESHARE) *extra_flags |= PROCESS_HEAP_ENTRY_DDESHARE;
    return handle;
}

static void entry_from_native(HANDLE heap, const nth_walk_entry *n, PROCESS_HEAP_ENTRY *entry)
{
    entry->lpData = n->data;
    entry->cbData = saturate_dword(n->size);
    entry->cbOverhead = saturate_byte(n->overhead);
    entry->iRegionIndex = saturate_byte(n->region_index);
    if (n->flags & NTH_ENTRY_REGION) {
        entry->wFlags = PROCESS_HEAP_REGION;
        entry->cbOverhead = 0;
        entry->Region.dwCommittedSize = saturate_dword(n->u.region.committed);
        entry->Region.dwUnCommittedSize = saturate_dword(n->u.region.uncommitted);
        entry->Region.lpFirstBlock = n->u.region.first_block;
        entry->Region.lpLastBlock = n->u.region.last_block;
        return;
    }
    entry->Block.hMem = NULL;
    if (n->flags & NTH_ENTRY_UNCOMMITTED) {
        entry->wFlags = PROCESS_HEAP_UNCOMMITTED_RANGE;
        entry->cbOverhead = 0;
    } else if (n->flags & NTH_ENTRY_BUSY) {
        WORD extra = 0;
        entry->Block.hMem = moveable_handle(heap, n, &extra);
        entry->wFlags = (WORD)(PROCESS_HEAP_ENTRY_BUSY | extra);
        if (!(n->flags & (NTH_ENTRY_BIG | NTH_ENTRY_LFH)) && n->overhead >= WIN32_BLOCK_HEADER_BYTES)
            entry->cbOverhead = saturate_byte(n->overhead - WIN32_BLOCK_HEADER_BYTES);
        if (n->flags & NTH_ENTRY_BIG) {
            entry->cbOverhead = 0;
            entry->iRegionIndex = NTH_WIN32_BIG_BLOCK_REGION_INDEX;
        }
    } else {
        /* A free block: the 8P before its end count as overhead (see the diagram above). */
        size_t overhead = n->size < 2 * WIN32_FREE_OVERHEAD_BYTES ? n->size / 2 : WIN32_FREE_OVERHEAD_BYTES;
        entry->wFlags = 0;
        entry->cbOverhead = (BYTE)overhead;
        entry->cbData = saturate_dword(n->size - 2 * overhead);
    }
    entry->Block.dwReserved[0] = n->flags;
    entry->Block.dwReserved[1] = n->region_index;
    entry->Block.dwReserved[2] = walk_check_word(n->data, n->flags, n->region_index);
}

/* The entry this thread last found to be readable and writable memory. A walk hands the same
 * entry back at every step, so it is checked through the kernel once per walk, not per step. */
static _Thread_local const PROCESS_HEAP_ENTRY *entry_checked;

static bool entry_accessible(LPPROCESS_HEAP_ENTRY entry)
{
    if (entry == entry_checked) return true;
    PROCESS_HEAP_ENTRY copy;
    if (!entry || !win32_read_caller(&copy, entry, sizeof copy) || !win32_write_caller(entry, &copy, sizeof copy))
        return false;
    entry_checked = entry;
    return true;
}

BOOL WINAPI HeapWalk(HANDLE hHeap, LPPROCESS_HEAP_ENTRY lpEntry)
{
    if (!win32_check_heap(hHeap)) return FALSE;
    if (!entry_accessible(lpEntry)) { /* NULL, or a wild entry: refused, not faulted on */
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    nth_walk_entry n;
    position_from_entry(lpEntry, &n);
    win32_enter("HeapWalk");
    /* The heap's own blocks (LFH subsegment areas) are not the program's: a HeapWalk lists only
     * what the program allocated, as on Windows. Their LFH blocks follow them. */
    bool ok;
    do ok = nth_heap_walk((nth_heap *)hHeap, &n);
    while (ok && (n.flags & NTH_ENTRY_INTERNAL));
    win32_leave();
    if (!ok) {
        nth_error error = nth_last_error();
        /* A position that is not one of this heap is a bad parameter, whatever the address. */
        SetLastError(error == NTH_ERR_NO_MORE_ITEMS ? ERROR_NO_MORE_ITEMS
                     : error == NTH_ERR_INVALID_HANDLE ? ERROR_INVALID_HANDLE
                                                       : ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    entry_from_native(hHeap, &n, lpEntry);
    return TRUE;
}

BOOL WINAPI HeapSummary(HANDLE hHeap, DWORD dwFlags, LPHEAP_SUMMARY lpSummary)
{
    (void)dwFlags;
    if (!win32_check_heap(hHeap)) return FALSE;
    /* The summary is read and written through the kernel: a wild one is refused, not faulted on. */
    HEAP_SUMMARY summary;
    if (lpSummary == NULL || !win32_read_caller(&summary.cb, &lpSummary->cb, sizeof summary.cb)) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    if (summary.cb != sizeof(HEAP_SUMMARY)) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    nth_heap_stats stats;
    if (!nth_heap_query_stats((nth_heap *)hHeap, &stats)) {
        win32_fail_from_native(nth_last_error(), NULL);
        return FALSE;
    }
    summary.cbAllocated = stats.busy_bytes;
    summary.cbCommitted = stats.committed;
    summary.cbReserved = stats.reserved;
    /* Windows does not say what cbMaxReserve holds; a fixed heap can never reserve more than it
     * has, and a growable one reports what it holds now. */
    summary.cbMaxReserve = stats.reserved;
    if (!win32_write_caller(lpSummary, &summary, sizeof summary)) {
        SetLastError(ERROR_NOACCESS);
        return FALSE;
    }
    return TRUE;
}
