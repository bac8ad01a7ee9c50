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

int pst_cmd_info(nth_pst_file *f, const pst_opts *o)
{
    const nth_pst_info *in = nth_pst_get_info(f);
    collect_ctx col = {0};
    nth_pst_report r;
    nth_pst_validate(f, collect, &col, &r);
    heap_stats c;
    memset(&c, 0, sizeof c);
    nth_pst_error e;
    /* these walks met the same problems as the validation above, which already counted them */
    nth_pst_bbt_foreach(f, count_block, &c, NULL, &e);
    nth_pst_walk_heaps(f, count_heap, NULL, &c, &e);
    size_t nbt = r.nodes - r.subnodes;
    if (o->json) {
        printf("{\"file\":");
        pst_json_str(o->file);
        printf(",\"format\":\"%s\",\"wVer\":%u,\"wVerClient\":%u,\"crypt\":\"%s\","
               "\"bCryptMethod\":%u,\"file_size\":%llu,\"crc_partial\":\"0x%08X\","
               "\"crc_full\":\"0x%08X\",\"bid_next_block\":\"0x%llX\",\"bid_next_page\":\"0x%llX\","
               "\"unique\":%u,\"file_eof\":%llu,\"amap_last\":\"0x%llX\",\"amap_free\":%llu,"
               "\"pmap_free\":%llu,\"nbt_root\":{\"bid\":\"0x%llX\",\"ib\":\"0x%llX\"},"
               "\"bbt_root\":{\"bid\":\"0x%llX\",\"ib\":\"0x%llX\"},\"amap_valid\":%u,",
               in->unicode ? "unicode" : "ansi", in->version, in->client_version,
               pst_crypt_name(in->crypt), in->crypt, (unsigned long long)in->file_size,
               in->crc_partial, in->crc_full, (unsigned long long)in->bid_next_block,
               (unsigned long long)in->bid_next_page, in->unique,
               (unsigned long long)in->file_eof, (unsigned long long)in->amap_last,
               (unsigned long long)in->amap_free, (unsigned long long)in->pmap_free,
               (unsigned long long)in->nbt_root.bid, (unsigned long long)in->nbt_root.ib,
               (unsigned long long)in->bbt_root.bid, (unsigned long long)in->bbt_root.ib,
               in->amap_valid);
        printf("\"nbt_entries\":%zu,\"bbt_entries\":%zu,\"nbt_pages\":%zu,\"bbt_pages\":%zu,"
               "\"nodes\":%zu,\"subnodes\":%zu,\"data_trees\":%zu,\"heaps\":%zu,"
               "\"unreadable_heaps\":%zu,\"heap_pages\":%zu,\"allocations\":%zu,"
               "\"freed_slots\":%zu,\"property_contexts\":%zu,\"tables\":%zu,\"amap_pages\":%zu,"
               "\"heaps_by_client\":{",
               nbt, c.bbt, r.nbt_pages, r.bbt_pages, r.nodes, r.subnodes, r.data_trees, c.heaps,
               c.unreadable, c.pages, c.allocs, c.freed, r.property_contexts, r.tables,
               r.amap_pages);
        bool first = true;
        for (int s = 0; s < 256; s++)
            if (c.by_sig[s]) {
                printf("%s\"0x%02X\":%zu", first ? "" : ",", s, c.by_sig[s]);
                first = false;
            }
        printf("},\"sound\":%s,\"problems\":%zu,\"notes\":%zu,\"findings\":",
               r.sound ? "true" : "false", r.problems, r.notes);
        pst_findings_json(&col.l);
        printf("}\n");
    } else {
        printf("file            %s\n", o->file);
        printf("format          %s (wVer %u, wVerClient %u)\n", in->unicode ? "Unicode" : "ANSI",
               in->version, in->client_version);
        printf("encoding        %s (bCryptMethod %u)\n", pst_crypt_name(in->crypt), in->crypt);
        printf("size            %llu bytes (ROOT.ibFileEof %llu)\n",
               (unsigned long long)in->file_size, (unsigned long long)in->file_eof);
        if (in->unicode)
            printf("header CRCs     dwCRCPartial 0x%08X, dwCRCFull 0x%08X (both match)\n",
                   in->crc_partial, in->crc_full);
        else
            printf("header CRC      dwCRCPartial 0x%08X (matches)\n", in->crc_partial);
        printf("bidNextB        0x%llX\nbidNextP        0x%llX\n",
               (unsigned long long)in->bid_next_block, (unsigned long long)in->bid_next_page);
        printf("NBT root        BID 0x%llX at 0x%llX: %zu entries in %zu pages\n",
               (unsigned long long)in->nbt_root.bid, (unsigned long long)in->nbt_root.ib, nbt,
               r.nbt_pages);
        printf("BBT root        BID 0x%llX at 0x%llX: %zu entries in %zu pages\n",
               (unsigned long long)in->bbt_root.bid, (unsigned long long)in->bbt_root.ib, c.bbt,
               r.bbt_pages);
        printf("AMap            last 0x%llX, %llu bytes free, fAMapValid %u, %zu pages checked\n",
               (unsigned long long)in->amap_last, (unsigned long long)in->amap_free,
               in->amap_valid, r.amap_pages);
        printf("nodes           %zu (%zu in the NBT + %zu in subnode trees), %zu data trees\n",
               r.nodes, nbt, r.subnodes, r.data_trees);
        printf("heaps           %zu (%zu pages, %zu allocations, %zu freed slots)\n", c.heaps,
               c.pages, c.allocs, c.freed);
        for (int s = 0; s < 256; s++)
            if (c.by_sig[s])
                printf("  client 0x%02X    %zu (%s)\n", s, c.by_sig[s],
                       pst_client_name((uint8_t)s));
        if (c.unreadable) printf("  unreadable     %zu\n", c.unreadable);
        printf("problems        %zu, notes %zu%s\n", r.problems, r.notes,
               col.l.count ? ":" : "");
        for (size_t i = 0; i < col.l.count; i++) printf("  %s\n", col.l.items[i]);
    }
    int rc = r.sound ? 0 : 1;
    pst_findings_free(&col.l);
    return rc;
}

int pst_cmd_validate(nth_pst_file *f, const pst_opts *o)
{
    collect_ctx col = {0};
    nth_pst_report r;
    nth_pst_validate(f, collect, &col, &r);
    if (o->json) {
        printf("{\"file\":");
        pst_json_str(o->file);
        printf(",\"sound\":%s,\"bbt_pages\":%zu,\"nbt_pages\":%zu,\"blocks\":%zu,\"nodes\":%zu,"
               "\"subnodes\":%zu,\"data_trees\":%zu,\"heaps\":%zu,\"property_contexts\":%zu,"
               "\"tables\":%zu,\"amap_pages\":%zu,\"problems\":%zu,\"notes\":%zu,\"findings\":",
               r.sound ? "true" : "false", r.bbt_pages, r.nbt_pages, r.blocks, r.nodes,
               r.subnodes, r.data_trees, r.heaps, r.property_contexts, r.tables, r.amap_pages,
               r.problems, r.notes);
        pst_findings_json(&col.l);
        printf("}\n");
    } else {
        for (size_t i = 0; i < col.l.count; i++) printf("%s\n", col.l.items[i]);
        printf("%s: %zu BBT pages, %zu NBT pages, %zu blocks, %zu nodes, %zu data trees, "
               "%zu heaps (%zu PCs, %zu TCs), %zu AMap pages checked: %zu problems, %zu notes: "
               "%s\n",
               o->file, r.bbt_pages, r.nbt_pages, r.blocks, r.nodes, r.data_trees, r.heaps,
               r.property_contexts, r.tables, r.amap_pages, r.problems, r.notes,
               r.sound ? "sound" : "NOT SOUND");
    }
    pst_findings_free(&col.l);
    return r.sound ? 0 : 1;
}
