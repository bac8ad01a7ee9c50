/*
 * cmd_pst.c — `ntheap pst FILE COMMAND`: a `!heap`-style look at the heaps of a .pst file.
 *
 *     ntheap pst [--json] FILE info          header, encoding, B-tree and heap counts
 *     ntheap pst [--json] FILE heaps         every Heap-on-Node, one line each, then problems
 *     ntheap pst [--json] FILE hn PATH       one heap: pages, allocations with hex
 *     ntheap pst [--json] FILE props PATH    a Property Context's properties
 *     ntheap pst [--raw] FILE props PATH     one line per property: tag type hex-value
 *     ntheap pst [--json] FILE validate      every page, block and heap; exit 0 only if sound
 *
 * PATH is a NID ("0x21") or a subnode path ("0x200024/0x8025"). Options may come anywhere.
 * Exit status: 0 success, 1 problems or errors, 2 usage.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_pst.h"
#include "ntheap/pst.h"

typedef struct opts {
    bool json;
    bool raw;
    const char *file;
    const char *command;
    const char *arg;
} opts;

static void usage(FILE *out)
{
    fputs("usage: ntheap pst [--json] FILE info|heaps|validate\n"
          "       ntheap pst [--json] FILE hn NID[/SUBNID...]\n"
          "       ntheap pst [--json|--raw] FILE props NID[/SUBNID...]\n",
          out);
}

/* ------------------------------------------------------------------------ JSON output */

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

static void json_hex(const uint8_t *d, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) printf("%02x", d[i]);
    putchar('"');
}

static void hexdump(const uint8_t *d, size_t n, size_t base, const char *indent)
{
    for (size_t i = 0; i < n; i += 16) {
        printf("%s%04zx ", indent, base + i);
        for (size_t k = 0; k < 16; k++) {
            if (i + k < n)
                printf(" %02x", d[i + k]);
            else
                printf("   ");
        }
        printf("  ");
        for (size_t k = 0; k < 16 && i + k < n; k++)
            putchar(d[i + k] >= 0x20 && d[i + k] < 0x7F ? d[i + k] : '.');
        putchar('\n');
    }
}

static const char *client_name(uint8_t sig)
{
    switch (sig) {
    case NTH_PST_CLIENT_TC: return "TC";
    case NTH_PST_CLIENT_PC: return "PC";
    case NTH_PST_CLIENT_BTH: return "BTH";
    case NTH_PST_CLIENT_RESERVED1:
    case NTH_PST_CLIENT_RESERVED2:
    case NTH_PST_CLIENT_RESERVED3:
    case NTH_PST_CLIENT_RESERVED4:
    case NTH_PST_CLIENT_RESERVED5:
    case NTH_PST_CLIENT_RESERVED6: return "reserved";
    default: return "invalid";
    }
}

static const char *crypt_name(uint8_t c)
{
    return c == NTH_PST_CRYPT_NONE ? "none" : c == NTH_PST_CRYPT_PERMUTE ? "permute" : "cyclic";
}

static const char *where_name(nth_pst_where w)
{
    switch (w) {
    case NTH_PST_WHERE_INLINE: return "inline";
    case NTH_PST_WHERE_HID: return "hid";
    case NTH_PST_WHERE_SUBNODE: return "subnode";
    case NTH_PST_WHERE_EMPTY: return "empty";
    }
    return "?";
}

/* Fill levels of all pages as a string of hex digits, page 0 first. */
static void fill_string(const nth_pst_hn *hn, char *buf, size_t size, bool actual)
{
    size_t n = nth_pst_hn_page_count(hn), at = 0;
    for (size_t i = 0; i < n && at + 2 < size; i++) {
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, i, &pg);
        buf[at++] = "0123456789ABCDEF"[actual ? pg.fill_level_actual : pg.fill_level];
    }
    buf[at] = 0;
}

/* ---------------------------------------------------------------------- problem lists */

typedef struct finding_list {
    char **items;
    size_t count;
    size_t problems;
    size_t hints;
} finding_list;

static void list_add(finding_list *l, bool hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void list_add(finding_list *l, bool hint, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **items = realloc(l->items, (l->count + 1) * sizeof *items);
    if (!items) return;
    l->items = items;
    size_t len = strlen(buf);
    l->items[l->count] = malloc(len + 8);
    if (!l->items[l->count]) return;
    snprintf(l->items[l->count], len + 8, "%s%s", hint ? "note: " : "", buf);
    l->count++;
    if (hint)
        l->hints++;
    else
        l->problems++;
}

static void list_free(finding_list *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void on_hn_finding(void *ctx, const nth_pst_error *e, bool hint)
{
    list_add(ctx, hint, "%s", e->message);
}

/* Checks one heap in full: HN rules, and for a PC its BTH and every value. */
static void check_heap(nth_pst_file *file, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                       finding_list *l)
{
    nth_pst_hn_validate(hn, on_hn_finding, l);
    if (nth_pst_hn_client_sig(hn) == NTH_PST_CLIENT_PC) {
        nth_pst_pc *pc;
        nth_pst_error e;
        if (nth_pst_pc_open(file, &ref->node, &pc, &e))
            list_add(l, false, "%s", e.message);
        else
            nth_pst_pc_close(pc);
    }
}

/* -------------------------------------------------------------------------- commands */

typedef struct counters {
    size_t nodes, nbt, bbt, nbt_pages, bbt_pages, heaps, allocs, freed, pages, problems;
    size_t by_sig[256];
} counters;

static int count_node(void *ctx, const nth_pst_node_ref *ref)
{
    counters *c = ctx;
    c->nodes++;
    if (ref->depth == 1) c->nbt++;
    return 0;
}

static int count_block(void *ctx, const nth_pst_block_entry *e)
{
    (void)e;
    ((counters *)ctx)->bbt++;
    return 0;
}

static int count_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                      const nth_pst_error *e)
{
    counters *c = ctx;
    (void)ref;
    c->heaps++;
    if (!hn) {
        c->problems++;
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
    (void)e;
    return 0;
}

static void count_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    (void)ref;
    (void)e;
    ((counters *)ctx)->problems++;
}

static int cmd_info(nth_pst_file *f, const opts *o)
{
    const nth_pst_info *in = nth_pst_get_info(f);
    counters c;
    memset(&c, 0, sizeof c);
    nth_pst_error e;
    nth_pst_walker w = {count_node, count_problem, &c};
    int rc = 0;
    if (nth_pst_bbt_foreach(f, count_block, &c, &c.bbt_pages, &e) ||
        nth_pst_nbt_foreach(f, NULL, NULL, &c.nbt_pages, &e) || nth_pst_walk(f, &w, &e) ||
        nth_pst_walk_heaps(f, count_heap, count_problem, &c, &e)) {
        fprintf(stderr, "ntheap pst: %s\n", e.message);
        rc = 1;
    }
    if (o->json) {
        printf("{\"file\":");
        json_str(o->file);
        printf(",\"format\":\"%s\",\"wVer\":%u,\"wVerClient\":%u,\"crypt\":\"%s\","
               "\"bCryptMethod\":%u,\"file_size\":%llu,\"crc_partial\":\"0x%08X\","
               "\"crc_full\":\"0x%08X\",\"bid_next_block\":\"0x%llX\",\"bid_next_page\":\"0x%llX\","
               "\"unique\":%u,\"file_eof\":%llu,\"amap_last\":\"0x%llX\",\"amap_free\":%llu,"
               "\"pmap_free\":%llu,\"nbt_root\":{\"bid\":\"0x%llX\",\"ib\":\"0x%llX\"},"
               "\"bbt_root\":{\"bid\":\"0x%llX\",\"ib\":\"0x%llX\"},\"amap_valid\":%u,"
               "\"nbt_entries\":%zu,\"bbt_entries\":%zu,\"nbt_pages\":%zu,\"bbt_pages\":%zu,"
               "\"nodes\":%zu,\"subnodes\":%zu,\"heaps\":%zu,\"heap_pages\":%zu,"
               "\"allocations\":%zu,\"freed_slots\":%zu,\"heaps_by_client\":{",
               in->unicode ? "unicode" : "ansi", in->version, in->client_version,
               crypt_name(in->crypt), in->crypt, (unsigned long long)in->file_size,
               in->crc_partial, in->crc_full, (unsigned long long)in->bid_next_block,
               (unsigned long long)in->bid_next_page, in->unique,
               (unsigned long long)in->file_eof, (unsigned long long)in->amap_last,
               (unsigned long long)in->amap_free, (unsigned long long)in->pmap_free,
               (unsigned long long)in->nbt_root.bid, (unsigned long long)in->nbt_root.ib,
               (unsigned long long)in->bbt_root.bid, (unsigned long long)in->bbt_root.ib,
               in->amap_valid, c.nbt, c.bbt, c.nbt_pages, c.bbt_pages, c.nodes, c.nodes - c.nbt,
               c.heaps, c.pages, c.allocs, c.freed);
        bool first = true;
        for (int s = 0; s < 256; s++)
            if (c.by_sig[s]) {
                printf("%s\"0x%02X\":%zu", first ? "" : ",", s, c.by_sig[s]);
                first = false;
            }
        printf("}}\n");
        return rc;
    }
    printf("file            %s\n", o->file);
    printf("format          %s (wVer %u, wVerClient %u)\n", in->unicode ? "Unicode" : "ANSI",
           in->version, in->client_version);
    printf("encoding        %s (bCryptMethod %u)\n", crypt_name(in->crypt), in->crypt);
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
           (unsigned long long)in->nbt_root.bid, (unsigned long long)in->nbt_root.ib, c.nbt,
           c.nbt_pages);
    printf("BBT root        BID 0x%llX at 0x%llX: %zu entries in %zu pages\n",
           (unsigned long long)in->bbt_root.bid, (unsigned long long)in->bbt_root.ib, c.bbt,
           c.bbt_pages);
    printf("AMap            last 0x%llX, %llu bytes free, fAMapValid %u\n",
           (unsigned long long)in->amap_last, (unsigned long long)in->amap_free, in->amap_valid);
    printf("nodes           %zu (%zu in subnode trees)\n", c.nodes, c.nodes - c.nbt);
    printf("heaps           %zu (%zu pages, %zu allocations, %zu freed slots)\n", c.heaps, c.pages,
           c.allocs, c.freed);
    for (int s = 0; s < 256; s++)
        if (c.by_sig[s]) printf("  client 0x%02X    %zu (%s)\n", s, c.by_sig[s], client_name((uint8_t)s));
    return rc;
}

typedef struct heaps_ctx {
    nth_pst_file *f;
    const opts *o;
    size_t index, allocs, freed, problems, hints, heaps;
    finding_list other;
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
    finding_list l = {0};
    size_t allocs = 0, freed = 0, pages = 0, bytes = 0;
    char fill[64] = "", actual[64] = "";
    if (!hn) {
        list_add(&l, false, "%s", e->message);
    } else {
        check_heap(h->f, ref, hn, &l);
        pages = nth_pst_hn_page_count(hn);
        for (size_t i = 0; i < pages; i++) {
            nth_pst_hn_page pg;
            nth_pst_hn_page_info(hn, i, &pg);
            allocs += pg.alloc_count;
            freed += pg.free_count;
            bytes += pg.size;
        }
        fill_string(hn, fill, sizeof fill, false);
        fill_string(hn, actual, sizeof actual, true);
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
                   sig, client_name(sig), nth_pst_hn_user_root(hn), pages, bytes, allocs, freed,
                   fill, actual);
        }
        printf(",\"problems\":[");
        for (size_t i = 0; i < l.count; i++) {
            if (i) putchar(',');
            json_str(l.items[i]);
        }
        printf("]}");
        h->first = false;
    } else if (hn) {
        uint8_t sig = nth_pst_hn_client_sig(hn);
        printf("%5zu  %-18s %-22s %02X %-8s %5zu %6zu %7zu %6zu  0x%-6X %-6s %s\n", h->index, path,
               type, sig, client_name(sig), pages, bytes, allocs, freed, nth_pst_hn_user_root(hn),
               fill, l.problems ? "PROBLEMS" : "ok");
    } else {
        printf("%5zu  %-18s %-22s -- unreadable heap\n", h->index, path, type);
    }
    if (!h->o->json)
        for (size_t i = 0; i < l.count; i++) printf("         %s\n", l.items[i]);
    list_free(&l);
    return 0;
}

static void heaps_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    heaps_ctx *h = ctx;
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    list_add(&h->other, false, "node %s: %s", path, e->message);
}

static int cmd_heaps(nth_pst_file *f, const opts *o)
{
    heaps_ctx h = {.f = f, .o = o, .first = true};
    if (o->json)
    {
        printf("{\"file\":");
        json_str(o->file);
        printf(",\"heaps\":[");
    }
    else
        printf("Index  Node               NID type               Client      Pages  Bytes  Allocs  Freed  UserRoot  Fill   Status\n");
    nth_pst_error e;
    nth_pst_status st = nth_pst_walk_heaps(f, heaps_one, heaps_problem, &h, &e);
    if (st) list_add(&h.other, false, "%s", e.message);
    size_t problems = h.problems + h.other.problems;
    if (o->json) {
        printf("],\"other_problems\":[");
        for (size_t i = 0; i < h.other.count; i++) {
            if (i) putchar(',');
            json_str(h.other.items[i]);
        }
        printf("],\"heap_count\":%zu,\"allocations\":%zu,\"freed_slots\":%zu,\"problems\":%zu,"
               "\"notes\":%zu}\n",
               h.heaps, h.allocs, h.freed, problems, h.hints);
    } else {
        for (size_t i = 0; i < h.other.count; i++) printf("problem: %s\n", h.other.items[i]);
        printf("%zu heaps, %zu allocations, %zu freed slots, %zu problems, %zu notes\n", h.heaps,
               h.allocs, h.freed, problems, h.hints);
    }
    list_free(&h.other);
    return problems ? 1 : 0;
}

static int cmd_hn(nth_pst_file *f, const opts *o)
{
    nth_pst_node_ref ref;
    nth_pst_error e;
    nth_pst_hn *hn;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) || nth_pst_hn_load(f, ref.node.bid_data, &hn, &e)) {
        fprintf(stderr, "ntheap pst: %s\n", e.message);
        return 1;
    }
    finding_list l = {0};
    check_heap(f, &ref, hn, &l);
    uint8_t sig = nth_pst_hn_client_sig(hn);
    size_t pages = nth_pst_hn_page_count(hn), n = nth_pst_hn_alloc_count(hn);
    if (o->json) {
        printf("{\"node\":\"%s\",\"client_sig\":\"0x%02X\",\"client\":\"%s\",\"user_root\":\"0x%X\","
               "\"pages\":[", o->arg, sig, client_name(sig), nth_pst_hn_user_root(hn));
    } else {
        printf("Heap-on-Node %s (%s): bClientSig 0x%02X (%s), hidUserRoot 0x%X, %zu page%s\n",
               o->arg, nth_pst_nid_type_name(ref.node.nid), sig, client_name(sig),
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
            json_hex(page + a.offset, a.size);
            putchar('}');
        } else {
            printf("  HID 0x%-8X page %u slot %-4u offset 0x%04zX size %zu%s\n", a.hid, a.page,
                   a.slot, a.offset, a.size, a.freed ? " (freed)" : "");
            hexdump(page + a.offset, a.size, a.offset, "      ");
        }
    }
    if (o->json) {
        printf("],\"problems\":[");
        for (size_t i = 0; i < l.count; i++) {
            if (i) putchar(',');
            json_str(l.items[i]);
        }
        printf("]}\n");
    } else {
        for (size_t i = 0; i < l.count; i++) printf("  %s\n", l.items[i]);
        printf("%zu allocations, %zu problems\n", n, l.problems);
    }
    int rc = l.problems ? 1 : 0;
    list_free(&l);
    nth_pst_hn_close(hn);
    return rc;
}

static int cmd_props(nth_pst_file *f, const opts *o)
{
    nth_pst_node_ref ref;
    nth_pst_error e;
    nth_pst_pc *pc;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) || nth_pst_pc_open(f, &ref.node, &pc, &e)) {
        fprintf(stderr, "ntheap pst: %s\n", e.message);
        return 1;
    }
    size_t n = nth_pst_pc_count(pc);
    if (o->json) printf("{\"node\":\"%s\",\"count\":%zu,\"properties\":[", o->arg, n);
    else if (!o->raw) printf("Property Context %s: %zu properties\n", o->arg, n);
    for (size_t i = 0; i < n; i++) {
        const nth_pst_prop *p = nth_pst_pc_at(pc, i);
        const char *tname = nth_pst_type_name(p->type), *name = nth_pst_tag_name(p->id);
        if (o->raw) {
            printf("0x%04x%04x 0x%04x ", p->id, p->type, p->type);
            for (size_t k = 0; k < p->size; k++) printf("%02x", p->data[k]);
            putchar('\n');
            continue;
        }
        size_t need = nth_pst_prop_format(p, NULL, 0, o->json ? 0 : 32);
        char *value = malloc(need + 1);
        if (value) nth_pst_prop_format(p, value, need + 1, o->json ? 0 : 32);
        if (o->json) {
            printf("%s{\"id\":\"0x%04X\",\"type\":\"0x%04X\",\"type_name\":", i ? "," : "", p->id,
                   p->type);
            if (tname) json_str(tname); else printf("null");
            printf(",\"name\":");
            if (name) json_str(name); else printf("null");
            printf(",\"where\":\"%s\",\"hnid\":\"0x%X\",\"size\":%zu,\"raw\":", where_name(p->where),
                   p->hnid, p->size);
            json_hex(p->data, p->size);
            printf(",\"value\":");
            json_str(value ? value : "");
            putchar('}');
        } else {
            printf("  0x%04X %-22s %-34s %-7s %5zu  %s\n", p->id, tname ? tname : "?",
                   name ? name : "", where_name(p->where), p->size, value ? value : "");
        }
        free(value);
    }
    if (o->json) printf("]}\n");
    nth_pst_pc_close(pc);
    return 0;
}

typedef struct validate_ctx {
    nth_pst_file *f;
    finding_list l;
    size_t blocks, nodes, data_trees, heaps;
} validate_ctx;

static int validate_block(void *ctx, const nth_pst_block_entry *be)
{
    validate_ctx *v = ctx;
    uint8_t *data;
    size_t size;
    nth_pst_error e;
    v->blocks++;
    if (nth_pst_read_block(v->f, be->bid, &data, &size, &e))
        list_add(&v->l, false, "%s", e.message);
    else
        free(data);
    return 0;
}

static int validate_node(void *ctx, const nth_pst_node_ref *ref)
{
    validate_ctx *v = ctx;
    v->nodes++;
    if (ref->node.bid_data == 0) return 0;
    nth_pst_blocks b;
    nth_pst_error e;
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    v->data_trees++;
    if (nth_pst_read_data(v->f, ref->node.bid_data, &b, &e))
        list_add(&v->l, false, "node %s: %s", path, e.message);
    else
        nth_pst_blocks_free(&b);
    return 0;
}

static void validate_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    validate_ctx *v = ctx;
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    list_add(&v->l, false, "node %s: %s", path, e->message);
}

static int validate_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                         const nth_pst_error *e)
{
    validate_ctx *v = ctx;
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    v->heaps++;
    if (!hn) {
        list_add(&v->l, false, "heap %s: %s", path, e->message);
        return 0;
    }
    finding_list l = {0};
    check_heap(v->f, ref, hn, &l);
    for (size_t i = 0; i < l.count; i++)
        list_add(&v->l, strncmp(l.items[i], "note: ", 6) == 0, "heap %s: %s", path,
                 strncmp(l.items[i], "note: ", 6) == 0 ? l.items[i] + 6 : l.items[i]);
    list_free(&l);
    return 0;
}

static int cmd_validate(nth_pst_file *f, const opts *o)
{
    validate_ctx v = {.f = f};
    nth_pst_error e;
    size_t bbt_pages = 0, nbt_pages = 0;
    if (nth_pst_bbt_foreach(f, validate_block, &v, &bbt_pages, &e))
        list_add(&v.l, false, "%s", e.message);
    if (nth_pst_nbt_foreach(f, NULL, NULL, &nbt_pages, &e)) list_add(&v.l, false, "%s", e.message);
    nth_pst_walker w = {validate_node, validate_problem, &v};
    if (nth_pst_walk(f, &w, &e)) list_add(&v.l, false, "%s", e.message);
    /* subnode problems were reported by the walk above; heaps report only their own */
    if (nth_pst_walk_heaps(f, validate_heap, NULL, &v, &e)) list_add(&v.l, false, "%s", e.message);
    bool sound = v.l.problems == 0;
    if (o->json) {
        printf("{\"file\":");
        json_str(o->file);
        printf(",\"sound\":%s,\"bbt_pages\":%zu,\"nbt_pages\":%zu,\"blocks\":%zu,\"nodes\":%zu,"
               "\"data_trees\":%zu,\"heaps\":%zu,\"problems\":%zu,\"notes\":%zu,\"findings\":[",
               sound ? "true" : "false", bbt_pages, nbt_pages, v.blocks, v.nodes, v.data_trees,
               v.heaps, v.l.problems, v.l.hints);
        for (size_t i = 0; i < v.l.count; i++) {
            if (i) putchar(',');
            json_str(v.l.items[i]);
        }
        printf("]}\n");
    } else {
        for (size_t i = 0; i < v.l.count; i++) printf("%s\n", v.l.items[i]);
        printf("%s: %zu BBT pages, %zu NBT pages, %zu blocks, %zu nodes, %zu data trees, "
               "%zu heaps checked: %zu problems, %zu notes: %s\n",
               o->file, bbt_pages, nbt_pages, v.blocks, v.nodes, v.data_trees, v.heaps,
               v.l.problems, v.l.hints, sound ? "sound" : "NOT SOUND");
    }
    list_free(&v.l);
    return sound ? 0 : 1;
}

int nth_cli_pst(int argc, char **argv)
{
    opts o = {0};
    const char *pos[3] = {0};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[i], "--raw") == 0)
            o.raw = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (npos < 3)
            pos[npos++] = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (npos < 2) {
        usage(stderr);
        return 2;
    }
    o.file = pos[0];
    o.command = pos[1];
    o.arg = pos[2];
    bool needs_arg = strcmp(o.command, "hn") == 0 || strcmp(o.command, "props") == 0;
    if (needs_arg != (o.arg != NULL)) {
        usage(stderr);
        return 2;
    }
    int (*run)(nth_pst_file *, const opts *) = NULL;
    if (strcmp(o.command, "info") == 0) run = cmd_info;
    else if (strcmp(o.command, "heaps") == 0) run = cmd_heaps;
    else if (strcmp(o.command, "hn") == 0) run = cmd_hn;
    else if (strcmp(o.command, "props") == 0) run = cmd_props;
    else if (strcmp(o.command, "validate") == 0) run = cmd_validate;
    if (!run) {
        fprintf(stderr, "ntheap pst: unknown command \"%s\"\n", o.command);
        usage(stderr);
        return 2;
    }
    nth_pst_file *f;
    nth_pst_error e;
    if (nth_pst_open(o.file, &f, &e)) {
        fprintf(stderr, "ntheap pst: %s: %s\n", o.file, e.message);
        if (o.json) {
            printf("{\"file\":");
            json_str(o.file);
            printf(",\"error\":");
            json_str(e.message);
            printf("}\n");
        }
        return 1;
    }
    int rc = run(f, &o);
    nth_pst_close(f);
    return rc;
}
