/*
 * cmd_heap_summary.c — `ntheap heap -s` (WinDbg's !heap -s): one line per heap with reserve,
 * commit, free space, free-list length, uncommitted ranges and big ("virtual") blocks, computed
 * from one walk of each heap; big blocks first as "Virtual block:" lines, as WinDbg prints them.
 *
 * Where ntheap differs, the output says so instead of inventing Windows' fields: the header
 * encoding key is per heap (16 bytes, shown by -h), not one LFH key for the process;
 * termination on corruption is per heap; ntheap counts no lock contention ("-"), and the
 * virtual-bytes column is the segments' usable range (ntheap makes no large-UCR correction).
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"

typedef struct summary_row {
    uintptr_t heap;
    uint32_t flags;
    uint64_t reserved, committed, virtual_bytes, free_bytes, free_blocks, ucrs, big_blocks, big_bytes;
    bool lfh, terminate, lock_held;
    nth_iter_problem problem;
    uint32_t problems;
} summary_row;

typedef struct big_line {
    uintptr_t heap, start;
    uint64_t size;
} big_line;

static void walk_heap(heap_cli *c, uintptr_t address, summary_row *r, big_line **bigs, size_t *n_bigs)
{
    memset(r, 0, sizeof *r);
    r->heap = address;
    nth_heap h;
    if (nth_target_read(c->target, address, &h, sizeof h) == 0 && h.magic == NTH_HEAP_MAGIC) {
        r->flags = h.flags | (h.maximum == 0 ? NTH_GROWABLE : 0);
        r->lfh = h.lfh != NULL;
        r->terminate = h.terminate_on_corruption;
        r->lock_held = h.lock.owner != 0;
    }
    nth_iter it;
    nth_walk_entry e;
    if (!nth_iter_open(&it, nth_target_mem(c->target), address)) {
        r->problems = it.problems;
        r->problem = it.problem;
        return;
    }
    while (nth_iter_next(&it, &e)) {
        if (e.flags & NTH_ENTRY_REGION) {
            r->reserved += e.u.region.reserved;
            r->committed += e.u.region.committed;
            r->virtual_bytes += e.u.region.committed + e.u.region.uncommitted;
        } else if (e.flags & NTH_ENTRY_UNCOMMITTED) {
            r->ucrs++;
        } else if (e.flags & NTH_ENTRY_BIG) {
            r->big_blocks++;
            r->big_bytes += e.u.block.block_size;
            big_line *grown = realloc(*bigs, (*n_bigs + 1) * sizeof *grown);
            if (grown) {
                *bigs = grown;
                grown[(*n_bigs)++] = (big_line){address, (uintptr_t)e.data, e.size};
            }
        } else if (!(e.flags & NTH_ENTRY_BUSY) && !(e.flags & NTH_ENTRY_DAMAGED)) {
            r->free_blocks++;
            r->free_bytes += e.u.block.block_size;
        }
    }
    r->problems = it.problems;
    r->problem = it.problem;
}

int heap_view_summary(heap_cli *c)
{
    size_t n = nth_target_heap_count(c->target), n_rows = 0, n_bigs = 0;
    summary_row *rows = calloc(n ? n : 1, sizeof *rows);
    big_line *bigs = NULL;
    if (!rows) return 2;
    for (size_t i = 0; i < n; i++) {
        uintptr_t address = nth_target_heap_address(c->target, i);
        if (heap_selected(c, address)) walk_heap(c, address, &rows[n_rows++], &bigs, &n_bigs);
    }
    static const emit_column big_columns[] = {
        {"heap", EMIT_HEX, NULL, NULL},
        {"start", EMIT_HEX, "Virtual block: %016" PRIx64, NULL},
        {"end", EMIT_HEX, " - %016" PRIx64, NULL},
        {"size", EMIT_U64, " (size %08" PRIx64 ")", NULL},
    };
    emit_table_begin(&c->e, "virtual_blocks", NULL, big_columns, 4, NULL);
    for (size_t i = 0; i < n_bigs; i++)
        emit_row(&c->e, (uint64_t)bigs[i].heap, (uint64_t)bigs[i].start, (uint64_t)(bigs[i].start + bigs[i].size),
                 bigs[i].size);
    emit_table_end(&c->e);
    size_t terminating = 0;
    for (size_t i = 0; i < n_rows; i++) terminating += rows[i].terminate;
    emit_kv_str(&c->e, "encoding_key", "Encoding key              : ",
                "per heap (16 bytes in each heap object; ntheap has no process-wide LFH key; see -h)");
    emit_kv_str(&c->e, "termination_on_corruption", "Termination on corruption : ",
                terminating == n_rows ? "ENABLED" : terminating == 0 ? "DISABLED" : "per heap (see -h)");
    static const emit_column columns[] = {
        {"heap", EMIT_HEX, "%016" PRIx64, NULL},
        {"flags", EMIT_HEX, " %08" PRIx64, NULL},
        {"reserved_kib", EMIT_U64, "%8" PRIu64, NULL},
        {"committed_kib", EMIT_U64, "%7" PRIu64, NULL},
        {"virtual_kib", EMIT_U64, "%7" PRIu64, NULL},
        {"free_kib", EMIT_U64, "%7" PRIu64, NULL},
        {"free_list_length", EMIT_U64, "%6" PRIu64, NULL},
        {"ucrs", EMIT_U64, "%6" PRIu64, NULL},
        {"virtual_blocks", EMIT_U64, "%5" PRIu64, NULL},
        {"lock_contention", EMIT_STR, "%7s", "      -"},
        {"fast_heap", EMIT_STR, "%6s", "      "},
        {"lock_held", EMIT_STR, "%s", ""},
    };
    emit_table_begin(&c->e, "heaps",
                     "          Heap         Flags   Reserv  Commit  Virt   Free  List   UCR  Virt  Lock  Fast \n"
                     "                                (k)     (k)    (k)     (k) length      blocks cont. heap \n"
                     "-------------------------------------------------------------------------------------",
                     columns, 12, NULL);
    for (size_t i = 0; i < n_rows; i++) {
        const summary_row *r = &rows[i];
        emit_row(&c->e, (uint64_t)r->heap, (uint64_t)r->flags, r->reserved / 1024, r->committed / 1024,
                 r->virtual_bytes / 1024, r->free_bytes / 1024, r->free_blocks, r->ucrs, r->big_blocks, (const char *)NULL,
                 r->lfh ? "LFH" : (const char *)NULL, r->lock_held ? "  (lock held: read may be torn)" : (const char *)NULL);
    }
    emit_table_end(&c->e);
    emit_text(&c->e, "-------------------------------------------------------------------------------------\n"
                     "ntheap: Lock cont. is not counted (\"-\"); Virt (k) is the segments' usable range; Free counts\n"
                     "whole free blocks, headers included; big blocks (Virt blocks) are not in Reserv/Commit.\n");
    emit_array_begin(&c->e, "heap_problems");
    for (size_t i = 0; i < n_rows; i++) {
        if (!rows[i].problems) continue;
        nth_iter fake = {.problems = rows[i].problems, .problem = rows[i].problem};
        emit_object_begin(&c->e, NULL, NULL);
        heap_report_problems(c, rows[i].heap, &fake);
        emit_object_end(&c->e);
    }
    emit_array_end(&c->e);
    free(rows);
    free(bigs);
    return 0;
}
