/*
 * validate.c — the soundness verdict of a whole file (nth_pst_validate).
 *
 * Order of the checks, each reported through one callback with the node it concerns:
 *
 *     1 HEADER/ROOT   file size >= ROOT.ibFileEof (a shorter file is truncated)
 *     2 BBT           every page (nth_pst_bbt_foreach's checks) and every block it lists
 *                     (trailer, signature, CRC), each decoded once
 *     3 NBT + walk    every page; every node's data tree (XBLOCK/XXBLOCK rules, no block twice)
 *                     and subnode tree (SLBLOCK/SIBLOCK rules, no cycle); each data tree root
 *                     is checked once however many nodes share it
 *     4 heaps         a node whose NID type requires a heap has one, with the bClientSig its
 *                     type requires; every heap passes nth_pst_hn_validate; a PC opens with
 *                     every value resolved; a TC opens (TCINFO, columns, rows, row index,
 *                     cells)
 *     5 placement     every BT page and block lies past the header and on no AMap or PMap page;
 *                     bidNextB is above every block's BID
 *     5 AMap/PMap     when ROOT.fAMapValid is set: every AMap page's trailer and CRC, and every
 *                     BT page and block in use lies in bytes the AMap marks allocated; PMap
 *                     page trailers where the file holds them; no two pages or blocks in use
 *                     share bytes
 *     5b references   cRef of every block against the references to it, the DList page
 *                     (validate_refs.c)
 *     6 names         the name-to-id map (NID 0x61), when present, reads (nth_pst_named_open)
 *
 * Invariant: the whole run is one armed work budget (cache.c), so its cost is O(file size).
 */
#include <stdlib.h>
#include <string.h>

#include "edit.h"

typedef struct extent {
    uint64_t ib, size;
    uint64_t bid;
    bool page;
} extent;

typedef struct vctx {
    nth_pst_file *f;
    nth_pst_finding_fn fn;
    void *ctx;
    nth_pst_report *r;
    pst_idset trees;   /* data-tree roots already checked */
    pst_idset said;    /* hashes of the findings reported, so none is reported twice */
    extent *ext;       /* pages and blocks in use, for the AMap check */
    size_t next, cext;
    bool ext_oom;
    uint64_t top_block_bid; /* the highest block BID in the BBT (its two flag bits cleared) */
} vctx;

/* Hash of a message without its " (referred to by ...)" tail: the same damage reached from
 * two referrers is one finding. */
static uint64_t message_key(const char *m)
{
    const char *end = strstr(m, " (referred to by ");
    size_t n = end ? (size_t)(end - m) : strlen(m);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)m[i]) * 1099511628211ULL;
    return h;
}

static void finding(vctx *v, const nth_pst_node_ref *ref, const nth_pst_error *e, bool hint)
{
    if (pst_idset_add(&v->said, message_key(e->message)) == 0) return;
    if (hint)
        v->r->notes++;
    else
        v->r->problems++;
    if (v->fn) v->fn(v->ctx, ref, e, hint);
}

static void add_extent(vctx *v, uint64_t ib, uint64_t size, uint64_t bid, bool page)
{
    if (v->next == v->cext) {
        size_t cap = v->cext ? v->cext * 2 : 256;
        extent *x = realloc(v->ext, cap * sizeof *x);
        if (!x) {
            v->ext_oom = true;
            return;
        }
        v->ext = x;
        v->cext = cap;
    }
    v->ext[v->next++] = (extent){ib, size, bid, page};
}

static void on_page(void *ctx, uint64_t ib)
{
    add_extent(ctx, ib, PST_PAGE_SIZE, 0, true);
}

static int on_block(void *ctx, const nth_pst_block_entry *be)
{
    vctx *v = ctx;
    v->r->blocks++;
    const pst_layout *L = &v->f->lay;
    uint64_t total = ((uint64_t)be->cb + L->block_trailer + PST_BLOCK_ALIGN - 1) & ~(uint64_t)(PST_BLOCK_ALIGN - 1);
    add_extent(v, be->ib, total, be->bid, false);
    if ((be->bid & ~(uint64_t)3) > v->top_block_bid) v->top_block_bid = be->bid & ~(uint64_t)3;
    pst_block b;
    nth_pst_error e;
    if (pst_block_get(v->f, be->bid, &b, &e)) {
        pst_refer(&e, "BBTENTRY at offset 0x%llx", (unsigned long long)be->ib_entry);
        finding(v, NULL, &e, false);
    } else {
        pst_block_release(&b);
    }
    return 0;
}

typedef struct sink_ctx {
    vctx *v;
    const nth_pst_node_ref *ref;
} sink_ctx;

static void on_heap_finding(void *ctx, const nth_pst_error *e, bool hint)
{
    sink_ctx *s = ctx;
    finding(s->v, s->ref, e, hint);
}

static void refer_node(nth_pst_error *e, const nth_pst_node_ref *ref)
{
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    pst_refer(e, "%s of node %s at offset 0x%llx", ref->depth > 1 ? "SLENTRY" : "NBTENTRY", path,
              (unsigned long long)ref->node.ib_entry);
}

/* A folder's hierarchy table lists its subfolders: each row's folder must name this folder as
 * its NBT parent. A row naming any other folder (the folder itself, an ancestor) would let a
 * browser that follows the hierarchy loop or show a folder twice. Rows naming no node are left
 * to the browser, which reports them where it meets them. */
static void check_hierarchy(vctx *v, const nth_pst_node_ref *ref, const nth_pst_hn *hn)
{
    nth_pst_tc *tc;
    nth_pst_error e;
    if (nth_pst_tc_from_hn(hn, &tc, &e)) return; /* the heap check reports a broken TC */
    uint32_t folder = (ref->node.nid & ~(uint32_t)0x1F) | PST_NID_TYPE_NORMAL_FOLDER;
    nth_pst_hn_page page = {0};
    (void)nth_pst_hn_page_info(hn, 0, &page);
    for (size_t row = 0; row < nth_pst_tc_row_count(tc); row++) {
        uint32_t child = nth_pst_tc_row_id(tc, row);
        nth_pst_node node;
        if (nth_pst_nbt_lookup(v->f, child, &node, NULL) || node.nid_parent == folder) continue;
        pst_fail(&e, NTH_PST_E_CORRUPT, "hierarchy table", page.ib,
                 "row %zu names folder 0x%X, whose parent is 0x%X, not this table's folder 0x%X", row, child,
                 node.nid_parent, folder);
        refer_node(&e, ref);
        finding(v, ref, &e, false);
    }
    nth_pst_tc_close(tc);
}

static void check_heap(vctx *v, const nth_pst_node_ref *ref, const nth_pst_hn *hn)
{
    v->r->heaps++;
    uint8_t sig = nth_pst_hn_client_sig(hn);
    if (sig == NTH_PST_CLIENT_PC) v->r->property_contexts++;
    if (sig == NTH_PST_CLIENT_TC) v->r->tables++;
    sink_ctx sink = {v, ref};
    nth_pst_heap_check(v->f, ref, hn, on_heap_finding, &sink);
    if (sig == NTH_PST_CLIENT_TC && ref->depth == 1 && (ref->node.nid & 0x1F) == PST_NID_TYPE_HIERARCHY_TABLE)
        check_hierarchy(v, ref, hn);
}

static int on_node(void *ctx, const nth_pst_node_ref *ref)
{
    vctx *v = ctx;
    v->r->nodes++;
    if (ref->depth > 1) v->r->subnodes++;
    if (ref->node.bid_data == 0) return 0;
    nth_pst_error e;
    int fresh = pst_idset_add(&v->trees, ref->node.bid_data & ~(uint64_t)1);
    uint32_t type = ref->node.nid & 0x1F;
    bool maybe_hn = type != PST_NID_TYPE_LTP && type != PST_NID_TYPE_SUQ;
    if (fresh != 0) v->r->data_trees++;
    if (fresh == 0 && !maybe_hn) return 0; /* a shared raw tree: already checked */
    pst_block first;
    if (pst_data_first(v->f, ref->node.bid_data, &first, &e)) {
        refer_node(&e, ref);
        if (fresh != 0) finding(v, ref, &e, false);
        return v->f->budget_spent;
    }
    bool is_hn = maybe_hn && first.size >= 4 && first.data[2] == NTH_PST_HN_SIG;
    uint8_t bsig = first.size >= 3 ? first.data[2] : 0;
    uint64_t ib = first.ib;
    pst_block_release(&first);
    uint8_t want = maybe_hn ? nth_pst_nid_expected_client(ref->node.nid) : 0;
    if (!is_hn && want) {
        pst_fail(&e, NTH_PST_E_CORRUPT, "HNHDR", ib,
                 "bSig 0x%02X is not 0xEC, yet node type %s requires a Heap-on-Node", bsig,
                 nth_pst_nid_type_name(ref->node.nid));
        refer_node(&e, ref);
        v->r->heaps++;
        finding(v, ref, &e, false);
    }
    if (fresh == 0 && !is_hn) return 0;
    nth_pst_blocks b;
    if (nth_pst_read_data(v->f, ref->node.bid_data, &b, &e)) {
        refer_node(&e, ref);
        finding(v, ref, &e, false);
        return v->f->budget_spent;
    }
    if (is_hn) {
        nth_pst_hn *hn;
        if (pst_hn_parse((const uint8_t *const *)b.data, b.size, b.ib, b.bid, b.count,
                         v->f->lay.unicode, &hn, &e)) {
            v->r->heaps++;
            finding(v, ref, &e, false);
        } else {
            check_heap(v, ref, hn);
            nth_pst_hn_close(hn);
        }
    }
    nth_pst_blocks_free(&b);
    return v->f->budget_spent;
}

static void on_sink(void *ctx, const nth_pst_error *e, bool hint)
{
    finding(ctx, NULL, e, hint);
}

static void on_walk_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    finding(ctx, ref, e, false);
}

static int by_ib(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->ib < y->ib ? -1 : x->ib > y->ib;
}

/* Reads AMap page k; returns false (after reporting) when it is unusable. */
static bool read_map_page(vctx *v, uint64_t ib, uint8_t ptype, const char *name, uint8_t *raw)
{
    nth_pst_error e;
    const pst_layout *L = &v->f->lay;
    if (pst_read(v->f, ib, PST_PAGE_SIZE, raw, name, &e)) {
        finding(v, NULL, &e, false);
        return false;
    }
    const uint8_t *t = raw + L->page_data;
    uint32_t crc = L->unicode ? rd32(t + 4) : rd32(t + 8);
    uint64_t bid = L->unicode ? rd64(t + 8) : rd32(t + 4);
    uint32_t actual = nth_pst_crc(0, raw, L->page_data);
    const char *why = NULL;
    if (t[0] != ptype || t[1] != ptype)
        why = "ptype is wrong";
    else if (crc != actual)
        why = "page CRC does not match its data";
    else if (bid != ib)
        why = "trailer BID is not the page's own offset";
    if (why) {
        pst_fail(&e, NTH_PST_E_CORRUPT, name, ib,
                 "%s (ptype 0x%02X, dwCRC 0x%08X, data gives 0x%08X, BID 0x%llx)", why, t[0], crc,
                 actual, (unsigned long long)bid);
        pst_refer(&e, "its fixed position in the file");
        finding(v, NULL, &e, false);
        return false;
    }
    return true;
}

/* The first map page of the series (first, first + span, ...) that shares bytes with x, or 0.
 * The spans are far larger than a page or block, so at most two pages can be near x. */
static uint64_t map_page_under(const extent *x, uint64_t first, uint64_t span)
{
    uint64_t page = x->ib < first ? first : first + (x->ib - first) / span * span;
    for (int n = 0; n < 2; n++, page += span)
        if (page < x->ib + x->size && page + PST_PAGE_SIZE > x->ib) return page;
    return 0;
}

/* Every page and block in use lies past the header (whose last part is the DList page) and on
 * no AMap or PMap page. An AMap marks its own page and the PMap's allocated, so the AMap check
 * alone passes a block written over one of them, or over the header, which no AMap covers. */
static void check_placement(vctx *v)
{
    nth_pst_error e;
    for (size_t i = 0; i < v->next; i++) {
        const extent *x = &v->ext[i];
        if (x->ib > UINT64_MAX - x->size) continue; /* past any file: its read failed already */
        uint64_t map = 0;
        const char *where = x->ib < PST_AMAP_FIRST                                          ? "the file header"
                            : (map = map_page_under(x, PST_AMAP_FIRST, PST_AMAP_SPAN)) != 0 ? "an AMap page"
                            : (map = map_page_under(x, PST_PMAP_FIRST, PST_PMAP_SPAN)) != 0 ? "a PMap page"
                                                                                             : NULL;
        if (!where) continue;
        pst_fail(&e, NTH_PST_E_CORRUPT, x->page ? "BT page" : "block", x->ib, "%s 0x%llx at 0x%llx lies in %s (0x%llx)",
                 x->page ? "page" : "block", (unsigned long long)(x->page ? x->ib : x->bid), (unsigned long long)x->ib,
                 where, (unsigned long long)(x->ib < PST_AMAP_FIRST ? 0 : map));
        finding(v, NULL, &e, false);
    }
}

/* bidNextB is above every block's BID: the writer gives it to its next new block. */
static void check_next_block_bid(vctx *v)
{
    uint64_t next = v->f->info.bid_next_block & ~(uint64_t)3;
    if (v->r->blocks == 0 || next > v->top_block_bid) return;
    nth_pst_error e;
    pst_fail(&e, NTH_PST_E_CORRUPT, "HEADER", NTH_PST_NO_OFFSET,
             "bidNextB 0x%llx is not above every block's BID (0x%llx is in use): a new block would take a "
             "BID in use", (unsigned long long)v->f->info.bid_next_block, (unsigned long long)v->top_block_bid);
    finding(v, NULL, &e, false);
}

/* Two pages or blocks in use never share bytes (the extents are sorted by offset). */
static void check_overlaps(vctx *v)
{
    nth_pst_error e;
    uint64_t end = 0;
    size_t last = 0;
    for (size_t i = 0; i < v->next; i++) {
        const extent *x = &v->ext[i];
        if (i > 0 && x->ib < end) {
            const extent *y = &v->ext[last];
            pst_fail(&e, NTH_PST_E_CORRUPT, x->page ? "BT page" : "block", x->ib,
                     "%s 0x%llx overlaps %s 0x%llx at 0x%llx (%llu bytes)",
                     x->page ? "page" : "block", (unsigned long long)(x->page ? x->ib : x->bid),
                     y->page ? "page" : "block", (unsigned long long)(y->page ? y->ib : y->bid),
                     (unsigned long long)y->ib, (unsigned long long)y->size);
            finding(v, NULL, &e, false);
        }
        if (x->ib + x->size > end) {
            end = x->ib + x->size;
            last = i;
        }
    }
}

static void check_maps(vctx *v)
{
    const nth_pst_info *in = &v->f->info;
    if (!in->amap_valid || v->ext_oom) return;
    uint64_t limit = in->file_eof < v->f->size ? in->file_eof : v->f->size;
    if (v->next) qsort(v->ext, v->next, sizeof *v->ext, by_ib);
    uint8_t raw[PST_PAGE_SIZE];
    unsigned bits_at = v->f->lay.unicode ? 0 : 4;
    size_t x = 0;
    nth_pst_error e;
    for (uint64_t amap = PST_AMAP_FIRST; amap < limit && amap <= in->amap_last; amap += PST_AMAP_SPAN) {
        v->r->amap_pages++;
        bool ok = read_map_page(v, amap, PST_PTYPE_AMAP, "AMap page", raw);
        uint64_t end = amap + PST_AMAP_SPAN;
        for (; x < v->next && v->ext[x].ib < end; x++) {
            const extent *ex = &v->ext[x];
            if (!ok || ex->ib < amap) continue;
            for (uint64_t at = ex->ib; at < ex->ib + ex->size && at < end; at += 64) {
                uint64_t bit = (at - amap) / 64;
                if (raw[bits_at + bit / 8] & (0x80u >> (bit % 8))) continue;
                if (ex->page)
                    pst_fail(&e, NTH_PST_E_CORRUPT, "AMap page", amap,
                             "B-tree page at 0x%llx lies in bytes marked free",
                             (unsigned long long)ex->ib);
                else
                    pst_fail(&e, NTH_PST_E_CORRUPT, "AMap page", amap,
                             "block 0x%llx at 0x%llx lies in bytes marked free",
                             (unsigned long long)ex->bid, (unsigned long long)ex->ib);
                finding(v, NULL, &e, false);
                break;
            }
        }
    }
    for (uint64_t pmap = PST_PMAP_FIRST; pmap < limit && pmap <= in->amap_last; pmap += PST_PMAP_SPAN)
        read_map_page(v, pmap, PST_PTYPE_PMAP, "PMap page", raw);
    check_overlaps(v);
}

nth_pst_status nth_pst_validate(nth_pst_file *file, nth_pst_finding_fn fn, void *ctx,
                                nth_pst_report *report)
{
    nth_pst_report local;
    nth_pst_report *r = report ? report : &local;
    memset(r, 0, sizeof *r);
    vctx v = {.f = file, .fn = fn, .ctx = ctx, .r = r};
    bool armed = pst_budget_arm(file);
    const nth_pst_info *in = &file->info;
    nth_pst_error e;
    uint64_t root_at = in->unicode ? 180 : 164;
    if (file->size < in->file_eof) {
        pst_fail(&e, NTH_PST_E_CORRUPT, "ROOT", root_at,
                 "ibFileEof is 0x%llx but the file ends at 0x%llx: %llu bytes are missing "
                 "(truncated file)", (unsigned long long)in->file_eof,
                 (unsigned long long)file->size, (unsigned long long)(in->file_eof - file->size));
        finding(&v, NULL, &e, false);
    } else if (file->size > in->file_eof) {
        pst_fail(&e, NTH_PST_E_CORRUPT, "ROOT", root_at,
                 "ibFileEof is 0x%llx; the %llu bytes after it are not part of the store",
                 (unsigned long long)in->file_eof, (unsigned long long)(file->size - in->file_eof));
        finding(&v, NULL, &e, true);
    }
    if (pst_bt_walk(file, PST_PTYPE_BBT, on_block, NULL, on_page, &v, &r->bbt_pages, &e))
        finding(&v, NULL, &e, false);
    if (pst_bt_walk(file, PST_PTYPE_NBT, NULL, NULL, on_page, &v, &r->nbt_pages, &e))
        finding(&v, NULL, &e, false);
    nth_pst_walker w = {on_node, on_walk_problem, &v};
    if (nth_pst_walk(file, &w, &e)) finding(&v, NULL, &e, false);
    if (file->budget_spent) {
        pst_fail(&e, NTH_PST_E_CORRUPT, "file", NTH_PST_NO_OFFSET,
                 "validation stopped early: the work budget for a file of this size ran out");
        finding(&v, NULL, &e, false);
    } else {
        if (!v.ext_oom) check_placement(&v);
        check_next_block_bid(&v);
        check_maps(&v);
        pst_check_refs(file, on_sink, &v);
        nth_pst_node map;
        nth_pst_named_map *named;
        if (nth_pst_nbt_lookup(file, 0x61, &map, NULL) == NTH_PST_OK) {
            if (nth_pst_named_open(file, &named, &e))
                finding(&v, NULL, &e, false);
            else
                nth_pst_named_close(named);
        }
    }
    pst_idset_free(&v.trees);
    pst_idset_free(&v.said);
    free(v.ext);
    pst_budget_disarm(file, armed);
    r->sound = r->problems == 0;
    return NTH_PST_OK;
}
