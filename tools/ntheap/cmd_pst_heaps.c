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
    bool first;
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
    if (h->o->json) {
        printf("%s{\"index\":%zu,\"node\":\"%s\",\"nid_type\":\"%s\",\"bid_data\":\"0x%llX\"",
               h->first ? "" : ",", h->index, path, type,
               (unsigned long long)ref->node.bid_data);
        if (hn) {
            uint8_t sig = nth_pst_hn_client_sig(hn);
            printf(",\"client_sig\":\"0x%02X\",\"client\":\"%s\",\"user_root\":\"0x%X\","
                   "\"pages\":%zu,\"bytes\":%zu,\"allocations\":%zu,\"freed_slots\":%zu,"
                   "\"fill_levels\":\"%s\",\"fill_levels_actual\":\"%s\"",
                   sig, pst_client_name(sig), nth_pst_hn_user_root(hn), pages, bytes, allocs, freed,
                   fill, actual);
        }
        printf(",\"problems\":[");
        for (size_t i = 0; i < l.count; i++) {
            if (i) putchar(',');
            pst_json_str(l.items[i]);
        }
        printf("]}");
        h->first = false;
    } else if (hn) {
        uint8_t sig = nth_pst_hn_client_sig(hn);
        printf("%5zu  %-18s %-22s %02X %-8s %5zu %6zu %7zu %6zu  0x%-6X %-6s %s\n", h->index, path,
               type, sig, pst_client_name(sig), pages, bytes, allocs, freed, nth_pst_hn_user_root(hn),
               fill, l.problems ? "PROBLEMS" : "ok");
    } else {
        printf("%5zu  %-18s %-22s -- unreadable heap\n", h->index, path, type);
    }
    if (!h->o->json)
        for (size_t i = 0; i < l.count; i++) printf("         %s\n", l.items[i]);
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
    heaps_ctx h = {.f = f, .o = o, .first = true};
    if (o->json)
    {
        printf("{\"file\":");
        pst_json_str(o->file);
        printf(",\"heaps\":[");
    }
    else
        printf("Index  Node               NID type               Client      Pages  Bytes  Allocs  Freed  UserRoot  Fill   Status\n");
    nth_pst_error e;
    nth_pst_status st = nth_pst_walk_heaps(f, heaps_one, heaps_problem, &h, &e);
    if (st) pst_findings_add(&h.other, false, "%s", e.message);
    size_t problems = h.problems + h.other.problems;
    if (o->json) {
        printf("],\"other_problems\":[");
        for (size_t i = 0; i < h.other.count; i++) {
            if (i) putchar(',');
            pst_json_str(h.other.items[i]);
        }
        printf("],\"heap_count\":%zu,\"allocations\":%zu,\"freed_slots\":%zu,\"problems\":%zu,"
               "\"notes\":%zu}\n",
               h.heaps, h.allocs, h.freed, problems, h.hints);
    } else {
        for (size_t i = 0; i < h.other.count; i++) printf("problem: %s\n", h.other.items[i]);
        printf("%zu heaps, %zu allocations, %zu freed slots, %zu problems, %zu notes\n", h.heaps,
               h.allocs, h.freed, problems, h.hints);
    }
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
    if (o->json) {
        printf("{\"node\":\"%s\",\"client_sig\":\"0x%02X\",\"client\":\"%s\",\"user_root\":\"0x%X\","
               "\"pages\":[", o->arg, sig, pst_client_name(sig), nth_pst_hn_user_root(hn));
    } else {
        printf("Heap-on-Node %s (%s): bClientSig 0x%02X (%s), hidUserRoot 0x%X, %zu page%s\n",
               o->arg, nth_pst_nid_type_name(ref.node.nid), sig, pst_client_name(sig),
               nth_pst_hn_user_root(hn), pages, pages == 1 ? "" : "s");
    }
    for (size_t i = 0; i < pages; i++) {
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, i, &pg);
        if (o->json)
            printf("%s{\"page\":%zu,\"bid\":\"0x%llX\",\"ib\":\"0x%llX\",\"bytes\":%zu,"
                   "\"header\":%zu,\"ibHnpm\":\"0x%X\",\"cAlloc\":%u,\"cFree\":%u,"
                   "\"fill_level\":%u,\"fill_level_actual\":%u}",
                   i ? "," : "", i, (unsigned long long)pg.bid, (unsigned long long)pg.ib, pg.size,
                   pg.header_size, pg.ib_hnpm, pg.alloc_count, pg.free_count, pg.fill_level,
                   pg.fill_level_actual);
        else
            printf("  page %zu: block 0x%llX at 0x%llX, %zu bytes, %zu-byte header, ibHnpm 0x%X, "
                   "cAlloc %u, cFree %u, fill level %u (actual %u)\n",
                   i, (unsigned long long)pg.bid, (unsigned long long)pg.ib, pg.size,
                   pg.header_size, pg.ib_hnpm, pg.alloc_count, pg.free_count, pg.fill_level,
                   pg.fill_level_actual);
    }
    if (o->json) printf("],\"allocations\":[");
    for (size_t i = 0; i < n; i++) {
        nth_pst_hn_slot a;
        nth_pst_hn_alloc_at(hn, i, &a);
        size_t psize;
        const uint8_t *page = nth_pst_hn_page_data(hn, a.page, &psize);
        if (o->json) {
            printf("%s{\"hid\":\"0x%X\",\"page\":%u,\"slot\":%u,\"offset\":\"0x%zX\",\"size\":%zu,"
                   "\"freed\":%s,\"data\":",
                   i ? "," : "", a.hid, a.page, a.slot, a.offset, a.size, a.freed ? "true" : "false");
            pst_json_hex(page + a.offset, a.size);
            putchar('}');
        } else {
            printf("  HID 0x%-8X page %u slot %-4u offset 0x%04zX size %zu%s\n", a.hid, a.page,
                   a.slot, a.offset, a.size, a.freed ? " (freed)" : "");
            pst_hexdump(page + a.offset, a.size, a.offset, "      ");
        }
    }
    if (o->json) {
        printf("],\"problems\":[");
        for (size_t i = 0; i < l.count; i++) {
            if (i) putchar(',');
            pst_json_str(l.items[i]);
        }
        printf("]}\n");
    } else {
        for (size_t i = 0; i < l.count; i++) printf("  %s\n", l.items[i]);
        printf("%zu allocations, %zu problems\n", n, l.problems);
    }
    int rc = l.problems ? 1 : 0;
    pst_findings_free(&l);
    nth_pst_hn_close(hn);
    return rc;
}

