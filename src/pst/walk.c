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
 *
 * Invariants: subnode recursion stops at NTH_PST_PATH_MAX levels, and the total number of
 * subnodes visited is bounded by the file size, so shared or cyclic subnode trees in a corrupt
 * file cannot make the walk run away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct walk_ctx {
    nth_pst_file *f;
    const nth_pst_walker *w;
    size_t budget;
    bool stopped;
} walk_ctx;

static void report(walk_ctx *c, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    if (c->w->problem) c->w->problem(c->w->ctx, ref, e);
}

static void visit_subnodes(walk_ctx *c, const nth_pst_node_ref *parent)
{
    if (c->stopped || parent->node.bid_sub == 0) return;
    nth_pst_error e;
    if (parent->depth >= NTH_PST_PATH_MAX) {
        pst_fail(&e, NTH_PST_E_CORRUPT, "SLBLOCK", NTH_PST_NO_OFFSET,
                 "subnodes nested deeper than %d levels", NTH_PST_PATH_MAX);
        report(c, parent, &e);
        return;
    }
    nth_pst_node *nodes;
    size_t count;
    if (nth_pst_read_subnodes(c->f, parent->node.bid_sub, &nodes, &count, &e)) {
        report(c, parent, &e);
        return;
    }
    for (size_t i = 0; i < count && !c->stopped; i++) {
        if (c->budget == 0) {
            pst_fail(&e, NTH_PST_E_CORRUPT, "SLBLOCK", NTH_PST_NO_OFFSET,
                     "more subnodes visited than the file can hold: shared or cyclic trees");
            report(c, parent, &e);
            c->stopped = true;
            break;
        }
        c->budget--;
        nth_pst_node_ref ref = *parent;
        ref.path[ref.depth++] = nodes[i].nid;
        ref.node = nodes[i];
        if (c->w->node && c->w->node(c->w->ctx, &ref)) {
            c->stopped = true;
            break;
        }
        visit_subnodes(c, &ref);
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
    visit_subnodes(c, &ref);
    return c->stopped;
}

nth_pst_status nth_pst_walk(nth_pst_file *file, const nth_pst_walker *walker, nth_pst_error *err)
{
    walk_ctx c = {.f = file, .w = walker, .budget = (size_t)(file->size / 8) + 1};
    return nth_pst_nbt_foreach(file, on_nbt, &c, NULL, err);
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

nth_pst_status nth_pst_resolve_path(nth_pst_file *file, const char *text, nth_pst_node_ref *out,
                                    nth_pst_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (*p) {
        char *end;
        unsigned long v = strtoul(p, &end, 0);
        if (end == p || (*end && *end != '/') || v > UINT32_MAX || out->depth == NTH_PST_PATH_MAX)
            return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET,
                            "bad node path \"%s\" (expected NID or NID/SUBNID/...)", text);
        uint32_t nid = (uint32_t)v;
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
        p = *end ? end + 1 : end;
    }
    if (out->depth == 0)
        return pst_fail(err, NTH_PST_E_INVALID, NULL, NTH_PST_NO_OFFSET, "empty node path");
    return NTH_PST_OK;
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
    nth_pst_blocks b;
    nth_pst_error e;
    if (nth_pst_read_data(h->f, ref->node.bid_data, &b, &e)) {
        if (h->problem) h->problem(h->ctx, ref, &e);
        return 0;
    }
    int stop = 0;
    if (b.count && b.size[0] >= 3 && b.data[0][2] == NTH_PST_HN_SIG) {
        nth_pst_hn *hn = NULL;
        nth_pst_status st = pst_hn_parse((const uint8_t *const *)b.data, b.size, b.ib, b.bid,
                                         b.count, h->f->lay.unicode, &hn, &e);
        stop = h->fn(h->ctx, ref, st ? NULL : hn, st ? &e : NULL);
        nth_pst_hn_close(hn);
    }
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
