/*
 * cmd_pst_file.c — the whole-file commands of `ntheap pst`:
 *
 *     info       header fields, B-tree and node counts, heaps by client, and every problem
 *                nth_pst_validate counts (so the problem total matches the lines shown)
 *     validate   nth_pst_validate's findings and verdict; exit 0 only when sound
 *
 * Totals add up: nodes = NBT nodes + subnodes, heaps = sum over clients + unreadable heaps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_cli.h"

typedef struct collect_ctx {
    pst_findings l;
} collect_ctx;

static void collect(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e, bool hint)
{
    collect_ctx *c = ctx;
    if (ref) {
        char path[128];
        nth_pst_path_format(ref, path, sizeof path);
        pst_findings_add(&c->l, hint, "node %s: %s", path, e->message);
    } else {
        pst_findings_add(&c->l, hint, "%s", e->message);
    }
}

typedef struct heap_stats {
    size_t heaps, unreadable, allocs, freed, pages, bbt;
    size_t by_sig[256];
} heap_stats;

static int count_block(void *ctx, const nth_pst_block_entry *e)
{
    (void)e;
    ((heap_stats *)ctx)->bbt++;
    return 0;
}

static int count_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                      const nth_pst_error *e)
{
    heap_stats *c = ctx;
    (void)ref;
    (void)e;
    c->heaps++;
    if (!hn) {
        c->unreadable++;
        return 0;
    }
    c->by_sig[nth_pst_hn_client_sig(hn)]++;
    c->allocs += nth_pst_hn_alloc_count(hn);
    c->pages += nth_pst_hn_page_count(hn);
    for (size_t i = 0; i < nth_pst_hn_page_count(hn); i++) {
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, i, &pg);
        c->freed += pg.free_count;
    }
    return 0;
}

/* Root of a B-tree: its nested object `key` (bid, ib) and its entry and page counts. */
static void emit_root(emit *e, const char *key, const char *entries, const char *pages, const char *label,
                      const nth_pst_bref *root, size_t n_entries, size_t n_pages)
{
    emit_object_begin(e, key, NULL);
    emit_fields(e, EMIT_COLUMNS({NULL, EMIT_STR, "%s", NULL}, {"bid", EMIT_HEX, "BID 0x%" PRIX64, NULL},
                                {"ib", EMIT_HEX, " at 0x%" PRIX64, NULL}),
                label, (uint64_t)root->bid, (uint64_t)root->ib);
    emit_object_end(e);
    emit_fields(e, EMIT_COLUMNS({entries, EMIT_U64, ": %" PRIu64 " entries", NULL},
                                {pages, EMIT_U64, " in %" PRIu64 " pages\n", NULL}),
                (uint64_t)n_entries, (uint64_t)n_pages);
}

int pst_cmd_info(nth_pst_file *f, const pst_opts *o)
{
    const nth_pst_info *in = nth_pst_get_info(f);
    collect_ctx col = {0};
    nth_pst_report r;
    nth_pst_validate(f, collect, &col, &r);
    heap_stats c = {0};
    nth_pst_error e;
    /* these walks met the same problems as the validation above, which already counted them */
    nth_pst_bbt_foreach(f, count_block, &c, NULL, &e);
    nth_pst_walk_heaps(f, count_heap, NULL, &c, &e);
    size_t nbt = r.nodes - r.subnodes;
    emit *out = o->e;
    emit_fields(out, EMIT_COLUMNS(
        {"file", EMIT_STR, "file            %s\n", NULL},
        {"format", EMIT_STR, "format          %s", NULL},
        {"wVer", EMIT_U64, " (wVer %" PRIu64, NULL},
        {"wVerClient", EMIT_U64, ", wVerClient %" PRIu64 ")\n", NULL},
        {"crypt", EMIT_STR, "encoding        %s", NULL},
        {"bCryptMethod", EMIT_U64, " (bCryptMethod %" PRIu64 ")\n", NULL},
        {"file_size", EMIT_U64, "size            %" PRIu64 " bytes", NULL},
        {"file_eof", EMIT_U64, " (ROOT.ibFileEof %" PRIu64 ")\n", NULL},
        {"crc_partial", EMIT_HEX_PAD(8),
         in->unicode ? "header CRCs     dwCRCPartial 0x%08" PRIX64
                     : "header CRC      dwCRCPartial 0x%08" PRIX64 " (matches)\n", NULL},
        {"crc_full", EMIT_HEX_PAD(8), in->unicode ? ", dwCRCFull 0x%08" PRIX64 " (both match)\n" : NULL, NULL},
        {"bid_next_block", EMIT_HEX, "bidNextB        0x%" PRIX64 "\n", NULL},
        {"bid_next_page", EMIT_HEX, "bidNextP        0x%" PRIX64 "\n", NULL},
        {"unique", EMIT_U64, NULL, NULL},
        {"pmap_free", EMIT_U64, NULL, NULL}),
        o->file, in->unicode ? "unicode" : "ansi", (uint64_t)in->version, (uint64_t)in->client_version,
        pst_crypt_name(in->crypt), (uint64_t)in->crypt, (uint64_t)in->file_size, (uint64_t)in->file_eof,
        (uint64_t)in->crc_partial, (uint64_t)in->crc_full, (uint64_t)in->bid_next_block,
        (uint64_t)in->bid_next_page, (uint64_t)in->unique, (uint64_t)in->pmap_free);
    emit_root(out, "nbt_root", "nbt_entries", "nbt_pages", "NBT root        ", &in->nbt_root, nbt, r.nbt_pages);
    emit_root(out, "bbt_root", "bbt_entries", "bbt_pages", "BBT root        ", &in->bbt_root, c.bbt, r.bbt_pages);
    emit_fields(out, EMIT_COLUMNS(
        {"amap_last", EMIT_HEX, "AMap            last 0x%" PRIX64, NULL},
        {"amap_free", EMIT_U64, ", %" PRIu64 " bytes free", NULL},
        {"amap_valid", EMIT_U64, ", fAMapValid %" PRIu64, NULL},
        {"amap_pages", EMIT_U64, ", %" PRIu64 " pages checked\n", NULL},
        {"nodes", EMIT_U64, "nodes           %" PRIu64, NULL},
        {NULL, EMIT_U64, " (%" PRIu64 " in the NBT", NULL},
        {"subnodes", EMIT_U64, " + %" PRIu64 " in subnode trees)", NULL},
        {"data_trees", EMIT_U64, ", %" PRIu64 " data trees\n", NULL},
        {"heaps", EMIT_U64, "heaps           %" PRIu64, NULL},
        {"heap_pages", EMIT_U64, " (%" PRIu64 " pages", NULL},
        {"allocations", EMIT_U64, ", %" PRIu64 " allocations", NULL},
        {"freed_slots", EMIT_U64, ", %" PRIu64 " freed slots)\n", NULL},
        {"property_contexts", EMIT_U64, NULL, NULL},
        {"tables", EMIT_U64, NULL, NULL}),
        (uint64_t)in->amap_last, (uint64_t)in->amap_free, (uint64_t)in->amap_valid, (uint64_t)r.amap_pages,
        (uint64_t)r.nodes, (uint64_t)nbt, (uint64_t)r.subnodes, (uint64_t)r.data_trees, (uint64_t)c.heaps,
        (uint64_t)c.pages, (uint64_t)c.allocs, (uint64_t)c.freed, (uint64_t)r.property_contexts,
        (uint64_t)r.tables);
    emit_object_begin(out, "heaps_by_client", NULL);
    for (int s = 0; s < 256; s++) {
        if (!c.by_sig[s]) continue;
        char key[8];
        snprintf(key, sizeof key, "0x%02X", s);
        emit_fields(out, EMIT_COLUMNS({NULL, EMIT_STR, "  client %s    ", NULL}, {key, EMIT_U64, "%" PRIu64, NULL},
                                      {NULL, EMIT_STR, " (%s)\n", NULL}),
                    key, (uint64_t)c.by_sig[s], pst_client_name((uint8_t)s));
    }
    emit_object_end(out);
    emit_fields(out, EMIT_COLUMNS(
        {"unreadable_heaps", EMIT_U64, c.unreadable ? "  unreadable     %" PRIu64 "\n" : NULL, NULL},
        {"sound", EMIT_BOOL, NULL, NULL},
        {"problems", EMIT_U64, "problems        %" PRIu64, NULL},
        {"notes", EMIT_U64, col.l.count ? ", notes %" PRIu64 ":\n" : ", notes %" PRIu64 "\n", NULL}),
        (uint64_t)c.unreadable, (int)r.sound, (uint64_t)r.problems, (uint64_t)r.notes);
    pst_findings_emit(o, "findings", "  %s\n", &col.l);
    int rc = r.sound ? 0 : 1;
    pst_findings_free(&col.l);
    return rc;
}

int pst_cmd_validate(nth_pst_file *f, const pst_opts *o)
{
    collect_ctx col = {0};
    nth_pst_report r;
    nth_pst_validate(f, collect, &col, &r);
    pst_findings_emit(o, "findings", "%s\n", &col.l);
    emit_fields(o->e, EMIT_COLUMNS(
        {"file", EMIT_STR, "%s: ", NULL},
        {"bbt_pages", EMIT_U64, "%" PRIu64 " BBT pages", NULL},
        {"nbt_pages", EMIT_U64, ", %" PRIu64 " NBT pages", NULL},
        {"blocks", EMIT_U64, ", %" PRIu64 " blocks", NULL},
        {"nodes", EMIT_U64, ", %" PRIu64 " nodes", NULL},
        {"subnodes", EMIT_U64, NULL, NULL},
        {"data_trees", EMIT_U64, ", %" PRIu64 " data trees", NULL},
        {"heaps", EMIT_U64, ", %" PRIu64 " heaps", NULL},
        {"property_contexts", EMIT_U64, " (%" PRIu64 " PCs", NULL},
        {"tables", EMIT_U64, ", %" PRIu64 " TCs)", NULL},
        {"amap_pages", EMIT_U64, ", %" PRIu64 " AMap pages checked", NULL},
        {"problems", EMIT_U64, ": %" PRIu64 " problems", NULL},
        {"notes", EMIT_U64, ", %" PRIu64 " notes: ", NULL},
        {"sound", EMIT_BOOL, "sound\n", "NOT SOUND\n"}),
        o->file, (uint64_t)r.bbt_pages, (uint64_t)r.nbt_pages, (uint64_t)r.blocks, (uint64_t)r.nodes,
        (uint64_t)r.subnodes, (uint64_t)r.data_trees, (uint64_t)r.heaps, (uint64_t)r.property_contexts,
        (uint64_t)r.tables, (uint64_t)r.amap_pages, (uint64_t)r.problems, (uint64_t)r.notes, (int)r.sound);
    pst_findings_free(&col.l);
    return r.sound ? 0 : 1;
}
