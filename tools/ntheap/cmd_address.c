/*
 * cmd_address.c — `ntheap address` (WinDbg's !address /f:Heap): the regions of every heap,
 * one row per run of equal state, ordered by address:
 *
 *   segment   [base, base+reserve): committed runs (blocks) and uncommitted ranges (UCRs);
 *             a fixed heap's tail beyond its limit is reserved too
 *   big       the data of a big block, mapped on its own
 *
 * Type is MEM_PRIVATE (ntheap maps private anonymous memory); Protect comes from the target's
 * mappings; ID is the 0-based heap index, Handle the heap's address, as WinDbg prints them.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"

typedef struct region {
    uintptr_t base, end, heap;
    size_t heap_id;
    bool committed;
    const char *type;
} region;

typedef struct regions {
    region *r;
    size_t n, cap;
} regions;

static void add(regions *rs, uintptr_t base, uintptr_t end, uintptr_t heap, size_t id, bool committed, const char *type)
{
    if (end <= base) return;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        region *grown = realloc(rs->r, cap * sizeof *grown);
        if (!grown) return;
        rs->r = grown;
        rs->cap = cap;
    }
    rs->r[rs->n++] = (region){base, end, heap, id, committed, type};
}

static int by_base(const void *a, const void *b)
{
    const region *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

static const char *protection(const nth_target *t, uintptr_t address, bool committed)
{
    if (!committed) return "";
    for (size_t i = 0; i < nth_target_mapping_count(t); i++) {
        const nth_target_mapping *m = nth_target_mapping_at(t, i);
        if (address < m->start || address >= m->end) continue;
        switch (m->prot) {
        case 7: return "PAGE_EXECUTE_READWRITE";
        case 6: return "PAGE_READWRITE";
        case 4: return "PAGE_READONLY";
        case 0: return "PAGE_NOACCESS";
        default: return "";
        }
    }
    return "PAGE_READWRITE";
}

int heap_view_address(heap_cli *c)
{
    regions rs = {0};
    for (size_t i = 0; i < nth_target_heap_count(c->target); i++) {
        uintptr_t heap = nth_target_heap_address(c->target, i);
        nth_iter it;
        nth_walk_entry e;
        bool ok = nth_iter_open(&it, nth_target_mem(c->target), heap);
        uintptr_t cursor = 0, limit = 0, reserve_end = 0;
        while (ok && nth_iter_next(&it, &e)) {
            uintptr_t data = (uintptr_t)e.data;
            if (e.flags & NTH_ENTRY_REGION) {
                if (cursor) { /* close the previous segment */
                    add(&rs, cursor, limit, heap, i, true, "Segment");
                    add(&rs, limit, reserve_end, heap, i, false, "Segment");
                }
                cursor = data;
                limit = data + e.u.region.committed + e.u.region.uncommitted;
                reserve_end = data + e.u.region.reserved;
            } else if (e.flags & NTH_ENTRY_UNCOMMITTED) {
                add(&rs, cursor, data, heap, i, true, "Segment");
                add(&rs, data, data + e.size, heap, i, false, "Segment");
                cursor = data + e.size;
            } else if (e.flags & NTH_ENTRY_BIG) {
                if (cursor) {
                    add(&rs, cursor, limit, heap, i, true, "Segment");
                    add(&rs, limit, reserve_end, heap, i, false, "Segment");
                    cursor = 0;
                }
                uintptr_t base = (data - NTH_BIG_HEADER_BYTES) & ~(uintptr_t)(NTH_CHUNK - 1);
                add(&rs, base, (data + e.size + NTH_PAGE - 1) & ~(uintptr_t)(NTH_PAGE - 1), heap, i, true, "Big block");
            }
        }
        if (cursor) {
            add(&rs, cursor, limit, heap, i, true, "Segment");
            add(&rs, limit, reserve_end, heap, i, false, "Segment");
        }
        heap_report_problems(c, heap, &it);
    }
    if (rs.n) qsort(rs.r, rs.n, sizeof *rs.r, by_base);
    static const emit_column columns[] = {
        {"base", EMIT_HEX, "%16" PRIx64, NULL},
        {"end", EMIT_HEX, " %16" PRIx64, NULL},
        {"size", EMIT_HEX, " %12" PRIx64, NULL},
        {"type", EMIT_STR, " %s", NULL},
        {"state", EMIT_STR, " %-11s", NULL},
        {"protect", EMIT_STR, " %-22s", NULL},
        {"usage", EMIT_STR, " %s", NULL},
        {"heap_id", EMIT_U64, "       [ID: %" PRIu64, NULL},
        {"heap", EMIT_HEX, "; Handle: %016" PRIx64, NULL},
        {"kind", EMIT_STR, "; Type: %s]", NULL},
    };
    emit_table_begin(&c->e, "regions",
                     "\n        BaseAddr        EndAddr+1      RgnSize Type        State       Protect                Usage\n"
                     "----------------------------------------------------------------------------------------------------------",
                     columns, 10, NULL);
    for (size_t i = 0; i < rs.n; i++) {
        const region *r = &rs.r[i];
        emit_row(&c->e, (uint64_t)r->base, (uint64_t)r->end, (uint64_t)(r->end - r->base), "MEM_PRIVATE",
                 r->committed ? "MEM_COMMIT" : "MEM_RESERVE", protection(c->target, r->base, r->committed), "Heap",
                 (uint64_t)r->heap_id, (uint64_t)r->heap, r->type);
    }
    emit_table_end(&c->e);
    free(rs.r);
    return 0;
}
