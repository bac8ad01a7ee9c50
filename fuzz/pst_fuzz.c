/*
 * pst_fuzz.c — libFuzzer target for the NDB and Heap-on-Node parsers.
 *
 * The first input byte picks what the rest is:
 *
 *     0x00 ...   a whole PST file: header, both B-trees, every block, every node's data and
 *                subnode trees, every heap (validated, BTH walked, PC values resolved, TC
 *                rows and cells read), then nth_pst_validate over the whole file
 *     other      heap pages: byte 1 = page count (1..8), then for each page a 2-byte
 *                little-endian length and its bytes; parsed, validated, walked, then edited
 *                with allocate/free/reallocate steps driven by the remaining bytes and
 *                validated again (an edit must never produce an invalid heap); a PC is also
 *                edited with nth_pst_pc_set and must still open with the value set
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/pst_fuzz.c plus every
 * source file of src/pst (tests/pst/fuzz_smoke.sh does this).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntheap/pst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_hn(const nth_pst_hn *hn)
{
    nth_pst_hn_validate(hn, NULL, NULL);
    size_t n = nth_pst_hn_alloc_count(hn);
    for (size_t i = 0; i < n && i < 5000; i++) {
        nth_pst_hn_slot s;
        const uint8_t *d;
        size_t len;
        if (nth_pst_hn_alloc_at(hn, i, &s) == NTH_PST_OK && nth_pst_hn_get(hn, s.hid, &d, &len, NULL) == NTH_PST_OK) {
            volatile uint8_t sink = len ? d[len - 1] : 0;
            (void)sink;
        }
    }
    nth_pst_bth *bth;
    if (nth_pst_bth_open(hn, nth_pst_hn_user_root(hn), &bth, NULL) == NTH_PST_OK) {
        nth_pst_bth_foreach(bth, NULL, NULL, NULL);
        uint8_t key[16] = {0};
        const uint8_t *d;
        nth_pst_bth_lookup(bth, key, &d, NULL);
        nth_pst_bth_close(bth);
    }
}

static void show_props(const nth_pst_pc *pc)
{
    char buf[256];
    for (size_t i = 0; i < nth_pst_pc_count(pc); i++) {
        const nth_pst_prop *p = nth_pst_pc_at(pc, i);
        nth_pst_prop_format(p, buf, sizeof buf, 64);
        char *t;
        if (nth_pst_prop_utf8(p, &t) == NTH_PST_OK) free(t);
        int64_t v;
        nth_pst_prop_int(p, &v);
    }
}

typedef struct file_ctx {
    nth_pst_file *f;
} file_ctx;

static int on_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn, const nth_pst_error *e)
{
    file_ctx *c = ctx;
    (void)e;
    if (!hn) return 0;
    walk_hn(hn);
    if (nth_pst_hn_client_sig(hn) == NTH_PST_CLIENT_PC) {
        nth_pst_pc *pc;
        if (nth_pst_pc_open(c->f, &ref->node, &pc, NULL) == NTH_PST_OK) {
            show_props(pc);
            nth_pst_pc_close(pc);
        }
    }
    if (nth_pst_hn_client_sig(hn) == NTH_PST_CLIENT_TC) {
        nth_pst_tc *tc;
        if (nth_pst_tc_open(c->f, &ref->node, &tc, NULL) == NTH_PST_OK) {
            char buf[128];
            for (size_t r = 0; r < nth_pst_tc_row_count(tc) && r < 256; r++)
                for (size_t k = 0; k < nth_pst_tc_column_count(tc); k++) {
                    nth_pst_prop p;
                    if (nth_pst_tc_cell(tc, r, k, &p, NULL) == NTH_PST_OK)
                        nth_pst_prop_format(&p, buf, sizeof buf, 16);
                }
            nth_pst_tc_close(tc);
        }
    }
    return 0;
}

static int on_block(void *ctx, const nth_pst_block_entry *e)
{
    file_ctx *c = ctx;
    uint8_t *d;
    size_t n;
    if (nth_pst_read_block(c->f, e->bid, &d, &n, NULL) == NTH_PST_OK) free(d);
    return 0;
}

static int on_node(void *ctx, const nth_pst_node_ref *ref)
{
    file_ctx *c = ctx;
    nth_pst_blocks b;
    if (ref->node.bid_data && nth_pst_read_data(c->f, ref->node.bid_data, &b, NULL) == NTH_PST_OK)
        nth_pst_blocks_free(&b);
    return 0;
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    nth_pst_file *f;
    if (nth_pst_open_memory(data, size, &f, NULL) != NTH_PST_OK) return;
    file_ctx c = {f};
    nth_pst_bbt_foreach(f, on_block, &c, NULL, NULL);
    nth_pst_nbt_foreach(f, NULL, NULL, NULL, NULL);
    nth_pst_walker w = {on_node, NULL, &c};
    nth_pst_walk(f, &w, NULL);
    nth_pst_walk_heaps(f, on_heap, NULL, &c, NULL);
    nth_pst_node_ref ref;
    nth_pst_resolve_path(f, "0x200024/0x8025", &ref, NULL);
    nth_pst_report r;
    nth_pst_validate(f, NULL, NULL, &r);
    nth_pst_named_map *named;
    if (nth_pst_named_open(f, &named, NULL) == NTH_PST_OK) {
        for (size_t i = 0; i < nth_pst_named_count(named); i++)
            nth_pst_guid_name(nth_pst_named_at(named, i)->guid);
        nth_pst_named_close(named);
    }
    nth_pst_close(f);
}

static void fuzz_heap(const uint8_t *data, size_t size)
{
    if (size < 2) return;
    size_t count = (size_t)(data[1] % 8) + 1, at = 2;
    const uint8_t *pages[8];
    size_t sizes[8], n = 0;
    while (n < count && at + 2 <= size) {
        size_t len = (size_t)(data[at] | data[at + 1] << 8);
        at += 2;
        if (len > size - at) len = size - at;
        pages[n] = data + at;
        sizes[n++] = len;
        at += len;
    }
    if (n == 0) return;
    nth_pst_hn *hn;
    if (nth_pst_hn_from_pages(pages, sizes, n, data[0] & 1, &hn, NULL) != NTH_PST_OK) return;
    walk_hn(hn);
    nth_pst_pc *pc;
    if (nth_pst_pc_from_hn(hn, &pc, NULL) == NTH_PST_OK) {
        show_props(pc);
        nth_pst_pc_close(pc);
    }
    /* edits: each takes 3 bytes (op, size/target) from what is left */
    size_t before = nth_pst_hn_validate(hn, NULL, NULL);
    static uint8_t fill[NTH_PST_HN_ALLOC_MAX];
    for (int step = 0; step < 16 && at + 3 <= size; step++, at += 3) {
        uint8_t op = data[at];
        size_t arg = (size_t)(data[at + 1] | data[at + 2] << 8);
        size_t slots = nth_pst_hn_alloc_count(hn);
        nth_pst_hn_slot s = {0};
        if (slots) nth_pst_hn_alloc_at(hn, arg % slots, &s);
        /* hidUserRoot is a reference held by the client: freeing or moving it is the
         * client's business (it would have to update the HNHDR), so leave it alone */
        if (slots && s.hid == nth_pst_hn_user_root(hn)) slots = 0;
        uint32_t hid;
        memset(fill, op, sizeof fill);
        if (op % 3 == 0)
            nth_pst_hn_alloc(hn, fill, arg % (NTH_PST_HN_ALLOC_MAX + 2), &hid, NULL);
        else if (op % 3 == 1 && slots)
            nth_pst_hn_free(hn, s.hid, NULL);
        else if (slots)
            nth_pst_hn_realloc(hn, s.hid, NULL, arg % (NTH_PST_HN_ALLOC_MAX + 2), &hid, NULL);
    }
    /* a property set on a sound PC must read back, and the PC must still open */
    nth_pst_pc *pc2;
    if (before == 0 && at + 4 <= size && nth_pst_pc_from_hn(hn, &pc2, NULL) == NTH_PST_OK) {
        nth_pst_pc_close(pc2);
        uint16_t id = (uint16_t)(data[at] | data[at + 1] << 8);
        static const uint16_t types[4] = {NTH_PST_PT_INT32, NTH_PST_PT_BINARY, NTH_PST_PT_UNICODE,
                                          NTH_PST_PT_BOOLEAN};
        uint16_t type = types[data[at + 2] % 4];
        size_t len = type == NTH_PST_PT_INT32 ? 4 : type == NTH_PST_PT_BOOLEAN ? 1 : data[at + 3] * 7u;
        memset(fill, data[at + 3], sizeof fill);
        if (nth_pst_pc_set(hn, id, type, fill, len, NULL) == NTH_PST_OK) {
            if (nth_pst_hn_validate(hn, NULL, NULL) != 0) abort();
            const nth_pst_prop *p;
            if (nth_pst_pc_from_hn(hn, &pc2, NULL) != NTH_PST_OK) abort();
            p = nth_pst_pc_find(pc2, id);
            if (!p || p->type != type || p->size != len || (len && memcmp(p->data, fill, len) != 0))
                abort();
            nth_pst_pc_close(pc2);
        }
    }
    /* editing only ever rewrites pages in canonical form: a heap that was sound stays sound
     * (fill levels aside, which validate reports as hints) */
    if (before == 0 && nth_pst_hn_validate(hn, NULL, NULL) != 0) abort();
    nth_pst_hn_close(hn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] == 0)
        fuzz_file(data + 1, size - 1);
    else
        fuzz_heap(data, size);
    return 0;
}
