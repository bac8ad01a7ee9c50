/*
 * walk.c — visiting every node of a file (NBT, then subnode trees depth first), resolving
 * "NID/SUBNID/..." paths, and finding every Heap-on-Node.
 *
 *     NBT leaf entry (nid, bidData, bidSub)          depth 1
 *       └─ bidSub → SLBLOCK/SIBLOCK → SLENTRY (nid, bidData, bidSub)   depth 2
 *             └─ bidSub → ...                                          depth 3 ...
 *
 * A node holds an HN when its NID type is neither LTP (0x1F, raw values and row matrices) nor
 * SEARCH_UPDATE_QUEUE (0x06), it has data, and byte 2 of its first data block is bSig 0xEC.
 * Folders, messages, attachments and search criteria must hold a PC and the table NID types a
 * TC (nth_pst_nid_expected_client); such a node whose block 0 lacks bSig is reported, not
 * skipped. Only block 0 is read to decide; the whole tree only for a heap.
 *
 * Invariants: subnode recursion stops at NTH_PST_PATH_MAX levels; a subnode tree that
 * contains itself (its BID among its ancestors) is reported once and not entered; every
 * subnode entry and data block handed out is charged to the file's work budget, so shared
 * trees in a hostile file cannot make a walk cost more than O(file size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct walk_ctx {
    nth_pst_file *f;
    const nth_pst_walker *w;
    bool stopped;
    pst_idset cycles; /* subnode-tree BIDs already reported as cycles */
} walk_ctx;

static void report(walk_ctx *c, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    if (c->w->problem) c->w->problem(c->w->ctx, ref, e);
}

/* "NBTENTRY at offset 0x..." or "SLENTRY at offset 0x..." naming where a node came from. */
static void refer_node(nth_pst_error *e, const nth_pst_node_ref *ref)
{
    char path[128];
    nth_pst_path_format(ref, path, sizeof path);
    pst_refer(e, "%s of node %s at offset 0x%llx", ref->depth > 1 ? "SLENTRY" : "NBTENTRY", path,
              (unsigned long long)ref->node.ib_entry);
}

static void visit_subnodes(walk_ctx *c, const nth_pst_node_ref *parent, const uint64_t *above)
{
    if (c->stopped || parent->node.bid_sub == 0) return;
    nth_pst_error e;
    uint64_t bid = parent->node.bid_sub & ~(uint64_t)1;
    for (size_t k = 0; k + 1 < parent->depth; k++) {
        if (above[k] != bid) continue;
        if (pst_idset_add(&c->cycles, bid) == 1) {
            pst_fail(&e, NTH_PST_E_CORRUPT, "SLBLOCK", pst_block_ib(c->f, bid),
                     "subnode tree 0x%llx contains itself (a cycle)", (unsigned long long)bid);
            refer_node(&e, parent);
            report(c, parent, &e);
        }
        return;
    }
    if (parent->depth >= NTH_PST_PATH_MAX) {
        pst_fail(&e, NTH_PST_E_CORRUPT, "SLBLOCK", pst_block_ib(c->f, parent->node.bid_sub),
                 "subnodes nested deeper than %d levels", NTH_PST_PATH_MAX);
        refer_node(&e, parent);
        report(c, parent, &e);
        return;
    }
    nth_pst_node *nodes;
    size_t count;
    if (nth_pst_read_subnodes(c->f, parent->node.bid_sub, &nodes, &count, &e)) {
        refer_node(&e, parent);
        report(c, parent, &e);
        if (c->f->budget_spent) c->stopped = true;
        return;
    }
    uint64_t chain[NTH_PST_PATH_MAX];
    memcpy(chain, above, sizeof chain);
    chain[parent->depth - 1] = bid;
    for (size_t i = 0; i < count && !c->stopped; i++) {
        nth_pst_node_ref ref = *parent;
        ref.path[ref.depth++] = nodes[i].nid;
        ref.node = nodes[i];
        if (c->w->node && c->w->node(c->w->ctx, &ref)) {
            c->stopped = true;
            break;
        }
        visit_subnodes(c, &ref, chain);
    }
    free(nodes);
}

static int on_nbt(void *ctx, const nth_pst_node *node)
{
    walk_ctx *c = ctx;
    nth_pst_node_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.path[0] = node->nid;
    ref.depth = 1;
    ref.node = *node;
    if (c->w->node && c->w->node(c->w->ctx, &ref)) c->stopped = true;
    uint64_t chain[NTH_PST_PATH_MAX] = {0};
    visit_subnodes(c, &ref, chain);
    if (c->f->budget_spent) c->stopped = true;
    return c->stopped;
}

nth_pst_status nth_pst_walk(nth_pst_file *file, const nth_pst_walker *walker, nth_pst_error *err)
{
    walk_ctx c = {.f = file, .w = walker};
    bool armed = pst_budget_arm(file);
    nth_pst_status st = nth_pst_nbt_foreach(file, on_nbt, &c, NULL, err);
    pst_idset_free(&c.cycles);
    pst_budget_disarm(file, armed);
    return st;
}

void nth_pst_path_format(const nth_pst_node_ref *ref, char *buf, size_t size)
{
    if (!size) return;
    buf[0] = 0;
    size_t at = 0;
    for (size_t i = 0; i < ref->depth && i < NTH_PST_PATH_MAX; i++) {
        int n = snprintf(buf + at, size - at, "%s0x%X", i ? "/" : "", ref->path[i]);
        if (n < 0 || (size_t)n >= size - at) break;
        at += (size_t)n;
    }
}

nth_pst_status nth_pst_parse_nid(const char *text, size_t len, uint32_t *nid)
{
    if (!nid || (!text && len)) return NTH_PST_E_INVALID;
    const char *p = text;
    unsigned base = 10;
    if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
        len -= 2;
    }
    if (len == 0) return NTH_PST_E_INVALID;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        char ch = p[i];
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (base == 16 && ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (base == 16 && ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return NTH_PST_E_INVALID;
        v = v * base + d;
        if (v > UINT32_MAX) return NTH_PST_E_INVALID;
    }
    *nid = (uint32_t)v;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_resolve_path(nth_pst_file *file, const char *text, nth_pst_node_ref *out,
                                    nth_pst_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        uint32_t nid;
        if (out->depth == NTH_PST_PATH_MAX || nth_pst_parse_nid(p, len, &nid))
            return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET,
                            "bad node path \"%s\": expected NID[/SUBNID...], each a decimal "
                            "number or 0x followed by hex digits, at most %d levels",
                            text, NTH_PST_PATH_MAX);
        if (out->depth == 0) {
            nth_pst_status st = nth_pst_nbt_lookup(file, nid, &out->node, err);
            if (st) return st;
        } else {
            nth_pst_node *nodes;
            size_t count;
            nth_pst_status st = nth_pst_read_subnodes(file, out->node.bid_sub, &nodes, &count, err);
            if (st) return st;
            size_t i = 0;
            while (i < count && nodes[i].nid != nid) i++;
            if (i == count) {
                free(nodes);
                return pst_fail(err, NTH_PST_E_NOT_FOUND, NULL, NTH_PST_NO_OFFSET,
                                "node 0x%X has no subnode 0x%X", out->path[out->depth - 1], nid);
            }
            out->node = nodes[i];
            free(nodes);
        }
        out->path[out->depth++] = nid;
        if (!slash) break;
        p = slash + 1;
    }
    return NTH_PST_OK;
}

uint8_t nth_pst_nid_expected_client(uint32_t nid)
{
    if (nid == 0x21 || nid == 0x61) return NTH_PST_CLIENT_PC;
    switch (nid & 0x1F) {
    case 0x02: case 0x03: case 0x04: case 0x05: case 0x07: case 0x08:
        return NTH_PST_CLIENT_PC;
    case 0x0B: case 0x0C: case 0x0D: case 0x0E: case 0x0F: case 0x10: case 0x11: case 0x12:
    case 0x16: case 0x17: case 0x18:
        return NTH_PST_CLIENT_TC;
    default:
        return 0;
    }
}

typedef struct heap_ctx {
    nth_pst_file *f;
    nth_pst_heap_fn fn;
    void (*problem)(void *, const nth_pst_node_ref *, const nth_pst_error *);
    void *ctx;
} heap_ctx;

static int heap_node(void *ctx, const nth_pst_node_ref *ref)
{
    heap_ctx *h = ctx;
    uint32_t type = ref->node.nid & 0x1F;
    if (type == PST_NID_TYPE_LTP || type == PST_NID_TYPE_SUQ || ref->node.bid_data == 0) return 0;
    nth_pst_error e;
    pst_block first;
    if (pst_data_first(h->f, ref->node.bid_data, &first, &e)) {
        refer_node(&e, ref);
        if (h->problem) h->problem(h->ctx, ref, &e);
        return 0;
    }
    bool is_hn = first.size >= 4 && first.data[2] == NTH_PST_HN_SIG;
    uint8_t sig = first.size >= 3 ? first.data[2] : 0;
    uint64_t ib = first.ib;
    pst_block_release(&first);
    uint8_t want = nth_pst_nid_expected_client(ref->node.nid);
    if (!is_hn) {
        if (!want) return 0;
        pst_fail(&e, NTH_PST_E_CORRUPT, "HNHDR", ib,
                 "bSig 0x%02X is not 0xEC, yet node type %s requires a Heap-on-Node", sig,
                 nth_pst_nid_type_name(ref->node.nid));
        refer_node(&e, ref);
        return h->fn(h->ctx, ref, NULL, &e);
    }
    nth_pst_blocks b;
    if (nth_pst_read_data(h->f, ref->node.bid_data, &b, &e)) {
        refer_node(&e, ref);
        if (h->problem) h->problem(h->ctx, ref, &e);
        return h->f->budget_spent;
    }
    nth_pst_hn *hn = NULL;
    nth_pst_status st = pst_hn_parse((const uint8_t *const *)b.data, b.size, b.ib, b.bid, b.count,
                                     h->f->lay.unicode, &hn, &e);
    int stop = h->fn(h->ctx, ref, st ? NULL : hn, st ? &e : NULL);
    nth_pst_hn_close(hn);
    nth_pst_blocks_free(&b);
    return stop;
}

static void heap_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    heap_ctx *h = ctx;
    if (h->problem) h->problem(h->ctx, ref, e);
}

nth_pst_status nth_pst_walk_heaps(nth_pst_file *file, nth_pst_heap_fn fn,
                                  void (*problem)(void *ctx, const nth_pst_node_ref *ref,
                                                  const nth_pst_error *error),
                                  void *ctx, nth_pst_error *err)
{
    heap_ctx h = {file, fn, problem, ctx};
    nth_pst_walker w = {heap_node, heap_problem, &h};
    return nth_pst_walk(file, &w, err);
}
