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
 *
 * Speed: finding a position again costs a few dozen reads, so a thread keeps its cursor between
 * steps and resumes it when it is handed back the entry it returned last and nothing can have
 * changed the heap since: nobody took the lock but the step itself, no call ran without it
 * (NTH_NO_SERIALIZE calls are counted as they start), and the LFH's fast paths, which change a
 * heap without its lock, were shut out — the walker holds the lock (nth_heap_lock, the
 * consistent way to walk, pauses them), or the heap has no LFH (a NO_SERIALIZE heap never has
 * one; creating it takes the lock). The most common step of a locked walk — the next LFH slot
 * named by the bitmap word the cursor holds, kept here as the word's remaining live bits — is
 * taken before any of the call's set-up: with the lock held by this thread and its count
 * unchanged since the last step, nothing can have changed, so neither the lock nor the handle
 * needs checking again.
 */
#include "heap/iter.h"

typedef struct walk_cache {
    nth_heap *heap;
    uint64_t destroys;     /* nth_heap_destroys when `heap` was last found sound */
    uint64_t acquisitions; /* the heap lock's count right after the last step */
    uint64_t bypasses;     /* its count of calls that ran without it, at the same moment */
    nth_walk_entry last;   /* its data and flags: the position handed out last */
    uint64_t word_live;    /* the LFH slots still to list from the bitmap word the cursor holds
                            * (bit k: slot word_first + k), or 0 */
    uint32_t word_first;
    nth_iter it;
} walk_cache;

static NTH_TLS walk_cache cached;

/* Under the heap lock, taken once by this step. */
static bool resumable(nth_heap *heap, const nth_walk_entry *entry)
{
    return cached.heap == heap && entry->data && heap->lock.acquisitions == cached.acquisitions + 1 &&
           atomic_load_explicit(&heap->lock.bypasses, memory_order_relaxed) == cached.bypasses &&
           (heap->lock.user_depth > 0 || atomic_load_explicit(&heap->lfh, memory_order_relaxed) == NULL) &&
           entry->data == cached.last.data && entry->flags == cached.last.flags; /* a position is its data
                                                                                  * pointer and flags */
}

/* The live slots the cursor's bitmap word still names, from the next slot on and below the
 * subsegment's bump (bit k: slot *first + k); 0 unless the cursor is listing a subsegment of
 * this process. */
static uint64_t live_in_held_word(const nth_iter *it, uint32_t *first_slot)
{
    const nth_lfh_subsegment *sub = &it->sub;
    uint32_t next = it->lfh_next;
    if (it->phase != NTH_ITER_LFH || it->mem != &nth_mem_self || sub->unused_width != sizeof(uint16_t) ||
        next >= sub->bump || it->lfh_word_at != next / 64 + 1)
        return 0;
    uint32_t first = next - next % 64;
    uint64_t live = it->lfh_live & (~0ull << (next % 64));
    if (sub->bump - first < 64) live &= (1ull << (sub->bump - first)) - 1;
    *first_slot = first;
    return live;
}

static void remember(nth_heap *heap, const nth_walk_entry *entry)
{
    cached.word_live = live_in_held_word(&cached.it, &cached.word_first);
    cached.heap = heap;
    cached.destroys = atomic_load_explicit(&nth_heap_destroys, memory_order_acquire);
    cached.acquisitions = heap->lock.acquisitions;
    cached.bypasses = atomic_load_explicit(&heap->lock.bypasses, memory_order_relaxed);
    cached.last.data = entry->data;
    cached.last.flags = entry->flags;
}

static bool step_locked(nth_heap *heap, nth_walk_entry *entry)
{
    nth_assert_held(heap);
    nth_iter *it = &cached.it;
    if (!resumable(heap, entry)) {
        cached.heap = NULL;
        cached.word_live = 0;
        if (!nth_iter_open(it, &nth_mem_self, (uintptr_t)heap)) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, heap, it->problem.expected, it->problem.found);
            return false;
        }
        if (entry->data && !nth_iter_seek(it, entry)) {
            nth_set_last_error(NTH_ERR_INVALID_PARAMETER);
            return false;
        }
    }
    it->problems = 0;
    bool found = nth_iter_next(it, entry);
    if (it->problems)
        nth_report_problem(heap, NTH_ERR_CORRUPT, (const void *)it->problem.address, it->problem.expected,
                           it->problem.found);
    if (found && (entry->flags & NTH_ENTRY_BIG))
        nth_big_check_locked(heap, (nth_big *)nth_addrmap_lookup(entry->data)); /* damage: reported, repaired */
    if (!found) {
        cached.heap = NULL;
        cached.word_live = 0;
        nth_set_last_error(NTH_ERR_NO_MORE_ITEMS);
        return false;
    }
    remember(heap, entry);
    return true;
}

/* A locked walk's common step, taken before any of a call's set-up: the bitmap word the cursor
 * holds names another live LFH slot, this thread holds the heap lock, nobody has acquired it
 * since the last step (this thread's own calls included), no heap was destroyed, and the caller
 * hands back the entry it was given. Nothing can have changed then, so the step needs neither
 * the lock's acquisition nor the handle's check; anything else is left to the full step. */
static inline bool step_in_word(nth_heap *heap, nth_walk_entry *entry)
{
    uint64_t live = cached.word_live;
    if (!live || !heap || heap != cached.heap || !entry ||
        atomic_load_explicit(&nth_heap_destroys, memory_order_acquire) != cached.destroys ||
        !nth_lock_held_by_me(&heap->lock) || heap->lock.user_depth == 0 ||
        heap->lock.acquisitions != cached.acquisitions || entry->data != cached.last.data ||
        entry->flags != cached.last.flags)
        return false;
    uint32_t i = cached.word_first + (uint32_t)__builtin_ctzll(live);
    const nth_lfh_subsegment *sub = &cached.it.sub;
    uint16_t unused;
    memcpy(&unused, sub->unused + (size_t)i * sizeof unused, sizeof unused);
    if (unused > sub->block_size) return false; /* damaged: the full step reports it */
    cached.word_live = live & (live - 1);
    cached.it.lfh_next = i + 1;
    nth_iter_lfh_entry(&cached.it, i, unused, entry);
    cached.last.data = entry->data; /* the flags are an LFH slot's, as before */
    return true;
}

static __attribute__((noinline)) bool walk_step(nth_heap *heap, nth_walk_entry *entry)
{
    NTH_ENTER("nth_heap_walk");
    /* The handle this thread's last step found sound is still a heap if none was destroyed since:
     * the address-map check is skipped then, which is a third of a locked walk's step. */
    bool known = heap && heap == cached.heap &&
                 atomic_load_explicit(&nth_heap_destroys, memory_order_acquire) == cached.destroys;
    if (!known && !nth_heap_handle_ok(heap)) {
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

bool nth_heap_walk(nth_heap *heap, nth_walk_entry *entry)
{
    if (NTH_LIKELY(step_in_word(heap, entry))) return true;
    return walk_step(heap, entry);
}
