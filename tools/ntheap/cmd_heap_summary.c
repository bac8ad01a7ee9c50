/*
 * cmd_heap_summary.c — `ntheap heap -s` (WinDbg's !heap -s): one line per heap with reserve,
 * commit, free space, free-list length, uncommitted ranges and big ("virtual") blocks, computed
 * from one walk of each heap; big blocks first as "Virtual block:" lines, as WinDbg prints them.
 *
 * Where ntheap differs, the output says so instead of inventing Windows' fields: the header
 * encoding key is per heap (16 bytes, shown by -h), not one LFH key for the process;
 * termination on corruption is per heap; ntheap counts no lock contention ("-"), and the
 * virtual-bytes column is the segments' usable range (ntheap makes no large-UCR correction).
 *
 * `-s HEAP` (one heap) prints WinDbg's labelled form of the same numbers instead of a row:
 *
 *    0: Heap 00007f1dad9b0000
 *      Flags          00000002 - HEAP_GROWABLE
 *      Reserved memory in segments              256 (k)
 *      ...
 *      External fragmentation          54% (5 free blocks)      1 - largest free / all free
 *      Virtual address fragmentation   45% (1 uncommited ranges) 1 - committed / virtual
 *      Virtual blocks  2 - total 3072 KBytes
 *      Lock contention -  (ntheap counts none)
 *      Segments        1
 *
 * ("uncommited" is spelled as WinDbg spells it, so that a script written for it still matches.)
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_heap.h"

typedef struct summary_row {
    uintptr_t heap;
    uint32_t flags;
    uint64_t reserved, committed, virtual_bytes, free_bytes, free_blocks, ucrs, big_blocks, big_bytes;
    uint64_t largest_free, segments;
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
        r->terminate = heap_bool_at(&h, offsetof(nth_heap, terminate_on_corruption));
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
            r->segments++;
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
            if (e.u.block.block_size > r->largest_free) r->largest_free = e.u.block.block_size;
        }
    }
    r->problems = it.problems;
    r->problem = it.problem;
}

/* The names of a heap's flags, as WinDbg spells Windows' HEAP_* bits. */
static void flag_names(uint32_t flags, char *buffer, size_t size)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {NTH_NO_SERIALIZE, "HEAP_NO_SERIALIZE"},
        {NTH_GROWABLE, "HEAP_GROWABLE"},
        {NTH_GENERATE_EXCEPTIONS, "HEAP_GENERATE_EXCEPTIONS"},
        {NTH_TAIL_CHECKING_ENABLED, "HEAP_TAIL_CHECKING_ENABLED"},
        {NTH_FREE_CHECKING_ENABLED, "HEAP_FREE_CHECKING_ENABLED"},
        {NTH_DISABLE_COALESCE_ON_FREE, "HEAP_DISABLE_COALESCE_ON_FREE"},
        {NTH_CREATE_ENABLE_EXECUTE, "HEAP_CREATE_ENABLE_EXECUTE"},
    };
    size_t at = 0;
    buffer[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(flags & names[i].bit)) continue;
        int n = snprintf(buffer + at, size - at, "%s%s", at ? " | " : "", names[i].name);
        if (n < 0 || (size_t)n >= size - at) break;
        at += (size_t)n;
    }
}

static uint64_t percent_lost(uint64_t part, uint64_t whole)
{
    return whole ? (whole - (part < whole ? part : whole)) * 100 / whole : 0;
}

/* -s HEAP: the labelled summary of one heap, WinDbg's form; the JSON object has the table row's
 * members and the labelled form's extra ones. */
static void single_heap(heap_cli *c, const summary_row *r)
{
    char text[256], names[192];
    emit_array_begin(&c->e, "heaps");
    snprintf(text, sizeof text, " 0: Heap %016lx", (unsigned long)r->heap);
    emit_object_begin(&c->e, NULL, text);
    emit_kv_hex(&c->e, "heap", NULL, r->heap, ADDR_DIGITS);
    flag_names(r->flags, names, sizeof names);
    snprintf(text, sizeof text, "%08x%s%s", r->flags, names[0] ? " - " : "", names);
    emit_kv_hex(&c->e, "flags", NULL, r->flags, 8);
    emit_kv_str(&c->e, "flag_names", NULL, names);
    emit_text(&c->e, "   Flags          %s\n", text);
    emit_text(&c->e, "   Reserved memory in segments              %" PRIu64 " (k)\n", r->reserved / 1024);
    emit_kv_u64(&c->e, "reserved_kib", NULL, r->reserved / 1024);
    emit_text(&c->e, "   Commited memory in segments              %" PRIu64 " (k)\n", r->committed / 1024);
    emit_kv_u64(&c->e, "committed_kib", NULL, r->committed / 1024);
    emit_text(&c->e, "   Virtual bytes (correction for large UCR) %" PRIu64 " (k)\n", r->virtual_bytes / 1024);
    emit_kv_u64(&c->e, "virtual_kib", NULL, r->virtual_bytes / 1024);
    emit_text(&c->e, "   Free space                               %" PRIu64 " (k) (%" PRIu64 " blocks)\n",
              r->free_bytes / 1024, r->free_blocks);
    emit_kv_u64(&c->e, "free_kib", NULL, r->free_bytes / 1024);
    emit_kv_u64(&c->e, "free_list_length", NULL, r->free_blocks);
    emit_kv_u64(&c->e, "largest_free", NULL, r->largest_free);
    uint64_t external = percent_lost(r->largest_free, r->free_bytes);
    emit_text(&c->e, "   External fragmentation          %" PRIu64 "%% (%" PRIu64 " free blocks)\n", external,
              r->free_blocks);
    emit_kv_u64(&c->e, "external_fragmentation_percent", NULL, external);
    uint64_t va = percent_lost(r->committed, r->virtual_bytes);
    emit_text(&c->e, "   Virtual address fragmentation   %" PRIu64 "%% (%" PRIu64 " uncommited ranges)\n", va, r->ucrs);
    emit_kv_u64(&c->e, "virtual_address_fragmentation_percent", NULL, va);
    emit_kv_u64(&c->e, "ucrs", NULL, r->ucrs);
    emit_text(&c->e, "   Virtual blocks  %" PRIu64 " - total %" PRIu64 " KBytes\n", r->big_blocks, r->big_bytes / 1024);
    emit_kv_u64(&c->e, "virtual_blocks", NULL, r->big_blocks);
    emit_kv_u64(&c->e, "virtual_blocks_kib", NULL, r->big_bytes / 1024);
    emit_text(&c->e, "   Lock contention -  (ntheap counts none)\n");
    emit_kv_str(&c->e, "lock_contention", NULL, NULL);
    emit_text(&c->e, "   Segments        %" PRIu64 "\n", r->segments);
    emit_kv_u64(&c->e, "segments", NULL, r->segments);
    emit_kv_str(&c->e, "fast_heap", NULL, r->lfh ? "LFH" : NULL);
    if (r->lfh) emit_text(&c->e, "   Front end       LFH\n");
    emit_kv_bool(&c->e, "lock_held", NULL, r->lock_held);
    if (r->lock_held) emit_text(&c->e, "   (the heap's lock was held when it was read: the read may be torn)\n");
    if (r->problems) {
        nth_iter fake = {.problems = r->problems, .problem = r->problem};
        heap_report_problems(c, r->heap, &fake);
    }
    emit_object_end(&c->e);
    emit_array_end(&c->e);
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
    if (c->heap_arg && n_rows == 1) {
        single_heap(c, &rows[0]);
        free(rows);
        free(bigs);
        return 0;
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
