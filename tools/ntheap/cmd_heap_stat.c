/*
 * cmd_heap_stat.c — busy blocks by size:
 *
 *   -stat [-h HEAP]   !heap -stat: per heap, the busy blocks grouped by requested size, with
 *                     count, total bytes and share of the heap's busy bytes, largest total
 *                     first (WinDbg's default group TOTSIZE); every size is listed
 *   -flt s SIZE       !heap -flt s: the busy blocks of one requested size, every heap
 *   -flt r MIN MAX    !heap -flt r: MIN <= size < MAX
 *
 * Counted: the blocks a program was given (back-end, LFH and big blocks); the heap's internal
 * blocks (its own header, LFH subsegments) are not, and free blocks are not listed by -flt.
 * The size table is an open-addressing hash, so a heap of a million blocks is grouped in one
 * pass without sorting the blocks themselves.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"

typedef struct size_group {
    uint64_t size, count;
} size_group;

typedef struct size_table {
    size_group *slots;
    size_t capacity, used;
} size_table;

static bool table_add(size_table *t, uint64_t size)
{
    if (2 * (t->used + 1) > t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 256;
        size_group *slots = calloc(capacity, sizeof *slots);
        if (!slots) return false;
        for (size_t i = 0; i < t->capacity; i++) {
            if (!t->slots[i].count) continue;
            size_t j = (size_t)(t->slots[i].size * 0x9E3779B97F4A7C15ull) & (capacity - 1);
            while (slots[j].count) j = (j + 1) & (capacity - 1);
            slots[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->capacity = capacity;
    }
    size_t j = (size_t)(size * 0x9E3779B97F4A7C15ull) & (t->capacity - 1);
    while (t->slots[j].count && t->slots[j].size != size) j = (j + 1) & (t->capacity - 1);
    if (!t->slots[j].count) t->used++;
    t->slots[j].size = size;
    t->slots[j].count++;
    return true;
}

static int by_total(const void *a, const void *b)
{
    const size_group *x = a, *y = b;
    uint64_t tx = x->size * x->count, ty = y->size * y->count;
    if (tx != ty) return tx > ty ? -1 : 1;
    return x->size > y->size ? -1 : x->size < y->size;
}

static void stat_heap(heap_cli *c, uintptr_t heap)
{
    size_table t = {0};
    uint64_t busy_bytes = 0, busy_blocks = 0;
    nth_iter it;
    nth_walk_entry e;
    bool ok = nth_iter_open(&it, nth_target_mem(c->target), heap);
    while (ok && nth_iter_next(&it, &e)) {
        if (!(e.flags & NTH_ENTRY_BUSY) || (e.flags & NTH_ENTRY_INTERNAL)) continue;
        busy_bytes += e.size;
        busy_blocks++;
        if (!table_add(&t, e.size)) break;
    }
    size_t n = 0;
    for (size_t i = 0; i < t.capacity; i++)
        if (t.slots[i].count) t.slots[n++] = t.slots[i];
    if (n) qsort(t.slots, n, sizeof *t.slots, by_total);
    char heading[64];
    snprintf(heading, sizeof heading, " heap @ %016lx", (unsigned long)heap);
    emit_object_begin(&c->e, NULL, NULL);
    emit_text(&c->e, "%s\n", heading);
    emit_kv_hex(&c->e, "heap", NULL, heap, ADDR_DIGITS);
    emit_kv_u64(&c->e, "busy_blocks", NULL, busy_blocks);
    emit_kv_u64(&c->e, "busy_bytes", NULL, busy_bytes);
    static const emit_column columns[] = {
        {"size", EMIT_HEX, "    %" PRIx64, NULL},
        {"blocks", EMIT_U64, " %" PRIx64, NULL},
        {"total", EMIT_HEX, " - %" PRIx64, NULL},
        {"percent", EMIT_STR, "  (%s)", NULL},
    };
    emit_table_begin(&c->e, "groups",
                     "group-by: TOTSIZE max-display: all (ntheap lists every size)\n"
                     "    size     #blocks     total     ( %) (percent of total busy bytes)",
                     columns, 4, NULL);
    for (size_t i = 0; i < n; i++) {
        uint64_t total = t.slots[i].size * t.slots[i].count;
        char percent[16];
        snprintf(percent, sizeof percent, "%.2f", busy_bytes ? 100.0 * (double)total / (double)busy_bytes : 0.0);
        emit_row(&c->e, t.slots[i].size, t.slots[i].count, total, percent);
    }
    emit_table_end(&c->e);
    heap_report_problems(c, heap, &it);
    emit_object_end(&c->e);
    free(t.slots);
}

int heap_view_stat(heap_cli *c)
{
    emit_array_begin(&c->e, "heaps");
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) {
        uintptr_t heap = nth_target_heap_address(c->target, i);
        if (heap_selected(c, heap)) stat_heap(c, heap);
    }
    emit_array_end(&c->e);
    return 0;
}

int heap_view_filter(heap_cli *c)
{
    static const emit_column columns[] = {
        {"entry", EMIT_HEX, "%016" PRIx64, NULL},
        {"size_units", EMIT_HEX, " %04" PRIx64, NULL},
        {"prev_units", EMIT_HEX, " %04" PRIx64, NULL},
        {"flags", EMIT_HEX, "  [%02" PRIx64 "]", NULL},
        {"user", EMIT_HEX, "   %016" PRIx64, NULL},
        {"user_size", EMIT_HEX, "    %05" PRIx64, NULL},
        {"state", EMIT_STR, " - (%s)", NULL},
    };
    emit_array_begin(&c->e, "heaps");
    uint64_t matches = 0;
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) {
        uintptr_t heap = nth_target_heap_address(c->target, i);
        emit_object_begin(&c->e, NULL, NULL);
        emit_text(&c->e, "    _HEAP @ %lx\n", (unsigned long)heap);
        emit_kv_hex(&c->e, "heap", NULL, heap, ADDR_DIGITS);
        emit_table_begin(&c->e, "blocks", "      HEAP_ENTRY       Size Prev Flags    UserPtr          UserSize - state",
                         columns, 7, "        ");
        nth_iter it;
        nth_walk_entry e;
        bool ok = nth_iter_open(&it, nth_target_mem(c->target), heap);
        while (ok && nth_iter_next(&it, &e)) {
            if (!(e.flags & NTH_ENTRY_BUSY) || (e.flags & NTH_ENTRY_INTERNAL) || e.size < c->min_size ||
                e.size > c->max_size)
                continue;
            bool lfh = e.flags & NTH_ENTRY_LFH, big = e.flags & NTH_ENTRY_BIG, backend = !lfh && !big;
            matches++;
            emit_row(&c->e, (uint64_t)(lfh ? (uintptr_t)e.data : (uintptr_t)e.u.block.header),
                     (uint64_t)(e.u.block.block_size / NTH_GRANULE), backend ? (uint64_t)it.hdr.prev_size_gr : (uint64_t)0,
                     backend ? (uint64_t)(it.hdr.flags & 0xff) : (uint64_t)(big ? BLOCK_BUSY | BLOCK_BIG : BLOCK_BUSY),
                     (uint64_t)(uintptr_t)e.data, (uint64_t)e.size, lfh ? "busy LFH" : big ? "busy big" : "busy");
        }
        emit_table_end(&c->e);
        heap_report_problems(c, heap, &it);
        emit_object_end(&c->e);
    }
    emit_array_end(&c->e);
    emit_kv_u64(&c->e, "matches", NULL, matches);
    return 0;
}
