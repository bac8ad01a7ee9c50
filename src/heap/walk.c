/*
 * walk.c — the heap walk, the in-process client of the one traversal (iter.c). Each step finds
 * the entry after the one it is given, using only the entry's data pointer and flags, so a walk
 * is a cursor the caller owns (HeapWalk's contract) and needs no state in the heap. Order:
 *
 *   segment 0:  REGION ─► block ─► block ─► ... ─► LAST ─► UNCOMMITTED ─► block ... ─► (limit)
 *   segment 1:  REGION ─► ...
 *   then:       big block ─► big block ─► ... ─► end (NTH_ERR_NO_MORE_ITEMS)
 *
 * LFH subsegments appear as busy internal blocks followed by their busy LFH blocks; a free
 * block taken out of service after damage appears as a free entry with NTH_ENTRY_DAMAGED.
 * A position is found again through the address map and the header check (nth_iter_seek), so a
 * stale or forged entry ends the walk with NTH_ERR_INVALID_PARAMETER. Damage met on the way is
 * reported once and stepped over: the walk goes on at the next place it can trust. Big blocks
 * are listed from their records (out of band, bigblock.c); their in-band bytes are only checked.
 */
#include "heap/iter.h"


static bool step_locked(nth_heap *heap, nth_walk_entry *entry)
{
    nth_iter it;
    if (!nth_iter_open(&it, &nth_mem_self, (uintptr_t)heap)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, heap, it.problem.expected, it.problem.found);
        return false;
    }
    if (entry->data && !nth_iter_seek(&it, entry)) {
        nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
        return false;
    }
    it.problems = 0;
    bool found = nth_iter_next(&it, entry);
    if (it.problems)
        nth_report_problem(heap, NTH_ERR_CORRUPT, (const void *)it.problem.address, it.problem.expected,
                           it.problem.found);
    if (found && (entry->flags & NTH_ENTRY_BIG))
        nth_big_check_locked(heap, (nth_big *)nth_addrmap_lookup(entry->data)); /* damage: reported, repaired */
    if (!found) nth_set_last_error(NTH_ERR_NO_MORE_ITEMS);
    return found;
}

bool nth_heap_walk(nth_heap *heap, nth_walk_entry *entry)
{
    nth_active_call = "nth_heap_walk";
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
