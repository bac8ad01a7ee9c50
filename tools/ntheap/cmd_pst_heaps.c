/*
 * cmd_pst_heaps.c — the heap commands of `ntheap pst`:
 *
 *     heaps      every Heap-on-Node of the file, one line each with its verdict
 *                (nth_pst_heap_check), then the problems met on the way and the totals
 *     hn PATH    one heap: its pages and every allocation with a hex dump
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_cli.h"

typedef struct heaps_ctx {
    nth_pst_file *f;
    const pst_opts *o;
    size_t index, allocs, freed, problems, hints, heaps;
    pst_findings other;
} heaps_ctx;

static int heaps_one(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                     const nth_pst_error *e)
{
    heaps_ctx *h = ctx;
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    h->index++;
    h->heaps++;
    pst_findings l = {0};
    size_t allocs = 0, freed = 0, pages = 0, bytes = 0;
    char fill[64] = "", actual[64] = "";
    if (!hn) {
        pst_findings_add(&l, false, "%s", e->message);
    } else {
        nth_pst_heap_check(h->f, ref, hn, pst_findings_sink, &l);
        pages = nth_pst_hn_page_count(hn);
        for (size_t i = 0; i < pages; i++) {
            nth_pst_hn_page pg;
            nth_pst_hn_page_info(hn, i, &pg);
            allocs += pg.alloc_count;
            freed += pg.free_count;
            bytes += pg.size;
        }
        pst_fill_string(hn, fill, sizeof fill, false);
        pst_fill_string(hn, actual, sizeof actual, true);
    }
    h->allocs += allocs;
    h->freed += freed;
    h->problems += l.problems;
    h->hints += l.hints;
    const char *type = nth_pst_nid_type_name(ref->node.nid);
    emit *out = h->o->e;
    emit_object_begin(out, NULL, NULL);
    emit_fields(out, EMIT_COLUMNS({"index", EMIT_U64, "%5" PRIu64, NULL}, {"node", EMIT_STR, "  %-18s", NULL},
                                  {"nid_type", EMIT_STR, " %-22s", NULL}, {"bid_data", EMIT_HEX, NULL, NULL}),
                (uint64_t)h->index, path, type, (uint64_t)ref->node.bid_data);
    if (hn) {
        uint8_t sig = nth_pst_hn_client_sig(hn);
        emit_fields(out, EMIT_COLUMNS(
            {"client_sig", EMIT_HEX_PAD(2), " %02" PRIX64, NULL}, {"client", EMIT_STR, " %-8s", NULL},
            {"pages", EMIT_U64, " %5" PRIu64, NULL}, {"bytes", EMIT_U64, " %6" PRIu64, NULL},
            {"allocations", EMIT_U64, " %7" PRIu64, NULL}, {"freed_slots", EMIT_U64, " %6" PRIu64, NULL},
            {"user_root", EMIT_HEX, "  0x%-6" PRIX64, NULL}, {"fill_levels", EMIT_STR, " %-6s", NULL},
            {"fill_levels_actual", EMIT_STR, NULL, NULL}, {NULL, EMIT_BOOL, " PROBLEMS\n", " ok\n"}),
            (uint64_t)sig, pst_client_name(sig), (uint64_t)pages, (uint64_t)bytes, (uint64_t)allocs,
            (uint64_t)freed, (uint64_t)nth_pst_hn_user_root(hn), fill, actual, (int)(l.problems != 0));
    } else {
        emit_text(out, " -- unreadable heap\n");
    }
    pst_findings_emit(h->o, "problems", "         %s\n", &l);
    emit_object_end(out);
    pst_findings_free(&l);
    return 0;
}

static void heaps_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    heaps_ctx *h = ctx;
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    pst_findings_add(&h->other, false, "node %s: %s", path, e->message);
}

int pst_cmd_heaps(nth_pst_file *f, const pst_opts *o)
{
    heaps_ctx h = {.f = f, .o = o};
    emit_fields(o->e, EMIT_COLUMNS({"file", EMIT_STR, NULL, NULL}), o->file);
    emit_text(o->e, "Index  Node               NID type               Client      Pages  Bytes  Allocs  Freed  "
                    "UserRoot  Fill   Status\n");
    emit_array_begin(o->e, "heaps");
    nth_pst_error e;
    nth_pst_status st = nth_pst_walk_heaps(f, heaps_one, heaps_problem, &h, &e);
    emit_array_end(o->e);
    if (st) pst_findings_add(&h.other, false, "%s", e.message);
    size_t problems = h.problems + h.other.problems;
    pst_findings_emit(o, "other_problems", "problem: %s\n", &h.other);
    emit_fields(o->e, EMIT_COLUMNS({"heap_count", EMIT_U64, "%" PRIu64 " heaps", NULL},
                                   {"allocations", EMIT_U64, ", %" PRIu64 " allocations", NULL},
                                   {"freed_slots", EMIT_U64, ", %" PRIu64 " freed slots", NULL},
                                   {"problems", EMIT_U64, ", %" PRIu64 " problems", NULL},
                                   {"notes", EMIT_U64, ", %" PRIu64 " notes\n", NULL}),
                (uint64_t)h.heaps, (uint64_t)h.allocs, (uint64_t)h.freed, (uint64_t)problems, (uint64_t)h.hints);
    pst_findings_free(&h.other);
    return problems ? 1 : 0;
}

int pst_cmd_hn(nth_pst_file *f, const pst_opts *o)
{
    nth_pst_node_ref ref;
    nth_pst_error e;
    nth_pst_hn *hn;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) || nth_pst_hn_load(f, ref.node.bid_data, &hn, &e)) {
        return pst_cli_fail(o, "%s", e.message);
    }
    pst_findings l = {0};
    nth_pst_heap_check(f, &ref, hn, pst_findings_sink, &l);
    uint8_t sig = nth_pst_hn_client_sig(hn);
    size_t pages = nth_pst_hn_page_count(hn), n = nth_pst_hn_alloc_count(hn);
    emit *out = o->e;
    emit_fields(out, EMIT_COLUMNS({"node", EMIT_STR, "Heap-on-Node %s", NULL}, {NULL, EMIT_STR, " (%s)", NULL},
                                  {"client_sig", EMIT_HEX_PAD(2), ": bClientSig 0x%02" PRIX64, NULL},
                                  {"client", EMIT_STR, " (%s)", NULL},
                                  {"user_root", EMIT_HEX, ", hidUserRoot 0x%" PRIX64, NULL},
                                  {NULL, EMIT_U64, ", %" PRIu64 " page", NULL}, {NULL, EMIT_BOOL, "s\n", "\n"}),
                o->arg, nth_pst_nid_type_name(ref.node.nid), (uint64_t)sig, pst_client_name(sig),
                (uint64_t)nth_pst_hn_user_root(hn), (uint64_t)pages, (int)(pages != 1));
    static const emit_column page_columns[] = {
        {"page", EMIT_U64, "  page %" PRIu64, NULL},
        {"bid", EMIT_HEX, ": block 0x%" PRIX64, NULL},
        {"ib", EMIT_HEX, " at 0x%" PRIX64, NULL},
        {"bytes", EMIT_U64, ", %" PRIu64 " bytes", NULL},
        {"header", EMIT_U64, ", %" PRIu64 "-byte header", NULL},
        {"ibHnpm", EMIT_HEX, ", ibHnpm 0x%" PRIX64, NULL},
        {"cAlloc", EMIT_U64, ", cAlloc %" PRIu64, NULL},
        {"cFree", EMIT_U64, ", cFree %" PRIu64, NULL},
        {"fill_level", EMIT_U64, ", fill level %" PRIu64, NULL},
        {"fill_level_actual", EMIT_U64, " (actual %" PRIu64 ")", NULL},
    };
    emit_table_begin(out, "pages", NULL, page_columns, 10, NULL);
    for (size_t i = 0; i < pages; i++) {
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, i, &pg);
        emit_row(out, (uint64_t)i, (uint64_t)pg.bid, (uint64_t)pg.ib, (uint64_t)pg.size, (uint64_t)pg.header_size,
                 (uint64_t)pg.ib_hnpm, (uint64_t)pg.alloc_count, (uint64_t)pg.free_count, (uint64_t)pg.fill_level,
                 (uint64_t)pg.fill_level_actual);
    }
    emit_table_end(out);
    static const emit_column alloc_columns[] = {
        {"hid", EMIT_HEX, "  HID 0x%-8" PRIX64, NULL},
        {"page", EMIT_U64, " page %" PRIu64, NULL},
        {"slot", EMIT_U64, " slot %-4" PRIu64, NULL},
        {"offset", EMIT_HEX, " offset 0x%04" PRIX64, NULL},
        {"size", EMIT_U64, " size %" PRIu64, NULL},
        {"freed", EMIT_BOOL, " (freed)\n", "\n"},
        {"data", EMIT_DUMP, "      ", NULL},
    };
    emit_array_begin(out, "allocations");
    for (size_t i = 0; i < n; i++) {
        nth_pst_hn_slot a;
        nth_pst_hn_alloc_at(hn, i, &a);
        size_t psize;
        const uint8_t *page = nth_pst_hn_page_data(hn, a.page, &psize);
        emit_object_begin(out, NULL, NULL);
        emit_fields(out, alloc_columns, 7, (uint64_t)a.hid, (uint64_t)a.page, (uint64_t)a.slot, (uint64_t)a.offset,
                    (uint64_t)a.size, (int)a.freed, page + a.offset, a.size, a.offset);
        emit_object_end(out);
    }
    emit_array_end(out);
    pst_findings_emit(o, "problems", "  %s\n", &l);
    emit_text(out, "%zu allocations, %zu problems\n", n, l.problems);
    int rc = l.problems ? 1 : 0;
    pst_findings_free(&l);
    nth_pst_hn_close(hn);
    return rc;
}

