/*
 * owner_map.c — the target's answer to "which owner record holds this 64 KiB chunk" (the
 * optional owner_of of the read seam, iter.h), built once from the heaps' own lists instead of
 * the engine's address map, whose root is not an exported symbol:
 *
 *   inner   LFH subsegments: [user area, + reserve) -> descriptor   (inside segments; the
 *           16-byte header in front of the area stays with the segment here, where the engine's
 *           map names the subsegment: the traversal accepts either)
 *   outer   segments -> descriptor, big blocks -> record
 *
 * Each list is followed at most as many steps as its heap counts, and not round a loop
 * (nth_list_guard). A lookup searches the inner
 * ranges first (a subsegment's area lies inside its segment), then the outer ones; both sorted,
 * binary search. With it the traversal finds an LFH subsegment's descriptor in O(log n) instead
 * of searching the heap's list for each subsegment.
 */
#include <stdlib.h>

#include "heap/lfh.h"
#include "inspect/target_internal.h"

static bool add(nth_owner_ranges *r, uintptr_t start, size_t size, uintptr_t record)
{
    if (size == 0 || start + size < start) return true;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        nth_owner_range *grown = realloc(r->items, cap * sizeof *grown);
        if (!grown) return false;
        r->items = grown;
        r->cap = cap;
    }
    r->items[r->n++] = (nth_owner_range){start, start + size, record};
    return true;
}

static int by_start(const void *a, const void *b)
{
    const nth_owner_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void build_heap(nth_target *t, uintptr_t address)
{
    const nth_mem *mem = &t->mem;
    nth_heap h;
    if (!mem->read(mem, address, &h, sizeof h) || h.magic != NTH_HEAP_MAGIC) return;
    uintptr_t at = (uintptr_t)h.first_segment;
    nth_list_guard guard = {0, 0, 0};
    for (uint32_t n = 0; at && n < h.n_segments && nth_list_guard_step(&guard, at); n++) {
        nth_segment s;
        if (!mem->read(mem, at, &s, NTH_SEGMENT_VIEW_BYTES) || s.owner.magic != NTH_SEGMENT_MAGIC) break;
        add(&t->outer, (uintptr_t)s.owner.base, s.owner.reserve, at);
        at = (uintptr_t)s.next;
    }
    at = (uintptr_t)h.big_list;
    guard = (nth_list_guard){0, 0, 0};
    for (size_t n = 0; at && n < h.big_blocks && nth_list_guard_step(&guard, at); n++) {
        nth_big b;
        if (!mem->read(mem, at, &b, sizeof b) || b.owner.kind != OWNER_BIG) break;
        add(&t->outer, (uintptr_t)b.owner.base, b.owner.reserve, at);
        at = (uintptr_t)b.next;
    }
    nth_lfh lfh;
    if (!h.lfh || !mem->read(mem, (uintptr_t)h.lfh, &lfh, sizeof lfh) || lfh.magic != NTH_LFH_MAGIC) return;
    at = (uintptr_t)lfh.all;
    guard = (nth_list_guard){0, 0, 0};
    for (uint32_t n = 0; at && n < lfh.n_subsegments && nth_list_guard_step(&guard, at); n++) {
        nth_lfh_subsegment sub;
        if (!mem->read(mem, at, &sub, sizeof sub) || sub.magic != NTH_LFH_MAGIC) break;
        add(&t->inner, (uintptr_t)sub.owner.base, sub.owner.reserve, at);
        at = (uintptr_t)sub.next;
    }
}

static uintptr_t search(const nth_owner_ranges *r, uintptr_t address)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (address < r->items[mid].start) hi = mid;
        else if (address >= r->items[mid].end) lo = mid + 1;
        else return r->items[mid].record;
    }
    return 0;
}

uintptr_t nth_target_owner_of(const nth_mem *mem, uintptr_t address)
{
    nth_target *t = mem->context;
    if (!t->owners_built) {
        t->owners_built = true;
        for (size_t i = 0; i < t->n_heaps; i++) build_heap(t, t->heaps[i].address);
        if (t->inner.n > 1) qsort(t->inner.items, t->inner.n, sizeof *t->inner.items, by_start);
        if (t->outer.n > 1) qsort(t->outer.items, t->outer.n, sizeof *t->outer.items, by_start);
    }
    uintptr_t record = search(&t->inner, address);
    return record ? record : search(&t->outer, address);
}
