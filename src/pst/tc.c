/*
 * tc.c — Table Context: an HN (bClientSig 0x7C) whose hidUserRoot is a TCINFO.
 *
 *     TCINFO                                  TCOLDESC (8 bytes each, sorted by tag)
 *     0  bType 0x7C   1 cCols                 0 tag (id << 16 | type)  4 ibData(2)
 *     2  rgib[4]: ends of the 8/4-byte,       6 cbData(1)              7 iBit(1)
 *        2-byte, 1-byte cells and of the
 *        cell existence bitmap (= row size)
 *     10 hidRowIndex  (BTH: row id(4) -> row number (4 Unicode, 2 ANSI))
 *     14 hnidRows     (0, a HID, or a subnode NID whose blocks hold whole rows)
 *     18 hidIndex (deprecated)   22 rgTCOLDESC[cCols]
 *
 *     row:  | 8/4-byte cells | 2-byte cells | 1-byte cells | CEB, ceil(cCols/8) bytes, MSB first |
 *           0 dwRowID        rgib[0]        rgib[1]        rgib[2]                          rgib[3]
 *
 * A cell whose column bit is clear in the CEB does not exist. A cell of a fixed-size type of
 * cbData bytes holds the value; any other cell holds an HNID (0 empty, a HID, or a subnode NID)
 * as in a PC.
 *
 * Invariants after nth_pst_tc_open: the column layout fits the row and its group, iBits are
 * distinct, every row-index record names a distinct row whose dwRowID equals its key, the row
 * count equals the number of records, and every existing cell resolves (values in subnodes are
 * read once per subnode and owned by the TC).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct nth_pst_tc {
    nth_pst_hn *owned_hn;
    const nth_pst_hn *hn;
    nth_pst_file *file;
    nth_pst_tc_column *cols;
    size_t ncols;
    unsigned rgib[4];
    uint32_t hid_row_index, hnid_rows;
    uint8_t *rows;     /* row matrix, rows back to back (owned) */
    size_t nrows, row_size;
    nth_pst_node *subs; /* the node's subnodes, sorted by NID */
    size_t nsubs;
    uint8_t **sub_data; /* value of subs[k], read on first use */
    size_t *sub_size;
    uint64_t at;       /* file offset of the heap's first block, for messages */
};

static size_t ceb_size(size_t cols) { return (cols + 7) / 8; }

static nth_pst_status parse_info(nth_pst_tc *tc, nth_pst_error *err)
{
    const nth_pst_hn *hn = tc->hn;
    if (nth_pst_hn_client_sig(hn) != NTH_PST_CLIENT_TC)
        return pst_fail(err, NTH_PST_E_CORRUPT, "HNHDR", tc->at,
                        "bClientSig 0x%02X: the heap is not a Table Context (0x7C)",
                        nth_pst_hn_client_sig(hn));
    const uint8_t *d;
    size_t n;
    nth_pst_error e;
    if (nth_pst_hn_get(hn, nth_pst_hn_user_root(hn), &d, &n, &e))
        return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at, "hidUserRoot 0x%X: %s",
                        nth_pst_hn_user_root(hn), e.message);
    if (n < 22 || d[0] != NTH_PST_CLIENT_TC)
        return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at,
                        "%zu bytes with bType 0x%02X: not a TCINFO", n, n ? d[0] : 0);
    size_t cols = d[1];
    if (n != 22 + 8 * cols)
        return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at,
                        "%zu bytes where cCols %zu needs %zu", n, cols, 22 + 8 * cols);
    for (int i = 0; i < 4; i++) tc->rgib[i] = rd16(d + 2 + 2 * i);
    tc->hid_row_index = rd32(d + 10);
    tc->hnid_rows = rd32(d + 14);
    const unsigned *g = tc->rgib;
    if (g[0] < 8 || g[0] > g[1] || g[1] > g[2] || g[3] != g[2] + ceb_size(cols))
        return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at,
                        "rgib %u/%u/%u/%u: groups out of order, or the bitmap is not %zu bytes",
                        g[0], g[1], g[2], g[3], ceb_size(cols));
    tc->row_size = g[3];
    tc->ncols = cols;
    tc->cols = calloc(cols ? cols : 1, sizeof *tc->cols);
    if (!tc->cols) return pst_fail(err, NTH_PST_E_NO_MEMORY, "TCINFO", tc->at, "out of memory");
    uint8_t bits[32] = {0};
    for (size_t i = 0; i < cols; i++) {
        const uint8_t *c = d + 22 + 8 * i;
        nth_pst_tc_column *col = &tc->cols[i];
        col->tag = rd32(c);
        col->ib = rd16(c + 4);
        col->cb = c[6];
        col->bit = c[7];
        unsigned lo, hi;
        switch (col->cb) {
        case 8: case 4: lo = 0; hi = g[0]; break;
        case 2: lo = g[0]; hi = g[1]; break;
        case 1: lo = g[1]; hi = g[2]; break;
        default: lo = hi = 0; break;
        }
        const char *why = NULL;
        if (!hi)
            why = "cbData is not 1, 2, 4 or 8";
        else if (col->ib < lo || col->ib + col->cb > hi)
            why = "the cell lies outside its size group";
        else if (col->bit >= cols)
            why = "iBit is not below cCols";
        else if (bits[col->bit / 8] & (1u << (col->bit % 8)))
            why = "iBit is used by another column";
        else if (i && tc->cols[i - 1].tag >= col->tag)
            why = "tags do not ascend";
        if (why)
            return pst_fail(err, NTH_PST_E_CORRUPT, "TCOLDESC", tc->at,
                            "column %zu (tag 0x%08X, ibData %u, cbData %u, iBit %u): %s", i,
                            col->tag, col->ib, col->cb, col->bit, why);
        bits[col->bit / 8] |= (uint8_t)(1u << (col->bit % 8));
    }
    return NTH_PST_OK;
}

static nth_pst_status read_subs(nth_pst_tc *tc, const nth_pst_node *node, nth_pst_error *err)
{
    if (!tc->file || !node || !node->bid_sub) return NTH_PST_OK;
    nth_pst_status st = nth_pst_read_subnodes(tc->file, node->bid_sub, &tc->subs, &tc->nsubs, err);
    if (st) return st;
    tc->sub_data = calloc(tc->nsubs ? tc->nsubs : 1, sizeof *tc->sub_data);
    tc->sub_size = calloc(tc->nsubs ? tc->nsubs : 1, sizeof *tc->sub_size);
    if (!tc->sub_data || !tc->sub_size)
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "TC", tc->at, "out of memory");
    return NTH_PST_OK;
}

static ptrdiff_t find_sub(const nth_pst_tc *tc, uint32_t nid)
{
    size_t lo = 0, hi = tc->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tc->subs[mid].nid < nid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < tc->nsubs && tc->subs[lo].nid == nid ? (ptrdiff_t)lo : -1;
}

static nth_pst_status load_rows(nth_pst_tc *tc, nth_pst_error *err)
{
    uint32_t h = tc->hnid_rows;
    if (h == 0) return NTH_PST_OK;
    size_t rs = tc->row_size;
    if ((h & 0x1F) == 0) {
        const uint8_t *d;
        size_t n;
        nth_pst_error e;
        if (nth_pst_hn_get(tc->hn, h, &d, &n, &e))
            return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at, "hnidRows 0x%X: %s", h,
                            e.message);
        if (n % rs)
            return pst_fail(err, NTH_PST_E_CORRUPT, "TC row matrix", tc->at,
                            "%zu bytes are not a whole number of %zu-byte rows", n, rs);
        tc->rows = malloc(n ? n : 1);
        if (!tc->rows) return pst_fail(err, NTH_PST_E_NO_MEMORY, "TC", tc->at, "out of memory");
        memcpy(tc->rows, d, n);
        tc->nrows = n / rs;
        return NTH_PST_OK;
    }
    ptrdiff_t k = find_sub(tc, h);
    if (k < 0)
        return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at,
                        "hnidRows names subnode 0x%X, which the node lacks", h);
    nth_pst_blocks b;
    nth_pst_status st = nth_pst_read_data(tc->file, tc->subs[k].bid_data, &b, err);
    if (st) {
        pst_refer(err, "TCINFO hnidRows of the heap at offset 0x%llx", (unsigned long long)tc->at);
        return st;
    }
    size_t per_block = pst_page_max(tc->file->lay.unicode) / rs;
    tc->rows = malloc(b.total ? (size_t)b.total : 1);
    if (!tc->rows) {
        nth_pst_blocks_free(&b);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "TC", tc->at, "out of memory");
    }
    for (size_t i = 0; i < b.count && !st; i++) {
        size_t n = b.size[i];
        if (n % rs || n / rs > per_block || (i + 1 < b.count && n / rs != per_block))
            st = pst_fail(err, NTH_PST_E_CORRUPT, "TC row block", b.ib[i],
                          "%zu bytes: block %zu of the row matrix must hold %s%zu whole "
                          "%zu-byte rows", n, i, i + 1 < b.count ? "" : "at most ", per_block, rs);
        else {
            memcpy(tc->rows + tc->nrows * rs, b.data[i], n);
            tc->nrows += n / rs;
        }
    }
    nth_pst_blocks_free(&b);
    return st;
}

typedef struct index_ctx {
    nth_pst_tc *tc;
    uint8_t *seen;
    size_t records;
    unsigned data_size;
    nth_pst_status st;
    nth_pst_error *err;
} index_ctx;

static int index_record(void *ctx, const uint8_t *key, const uint8_t *data)
{
    index_ctx *x = ctx;
    nth_pst_tc *tc = x->tc;
    uint32_t id = rd32(key);
    size_t row = x->data_size == 4 ? rd32(data) : rd16(data);
    x->records++;
    if (row >= tc->nrows || x->seen[row] || rd32(tc->rows + row * tc->row_size) != id) {
        x->st = pst_fail(x->err, NTH_PST_E_CORRUPT, "TC row index", tc->at,
                         "row ID 0x%X maps to row %zu, which %s", id, row,
                         row >= tc->nrows ? "does not exist"
                         : x->seen[row] ? "another row ID already names"
                                        : "carries a different dwRowID");
        return 1;
    }
    x->seen[row] = 1;
    return 0;
}

static nth_pst_status check_index(nth_pst_tc *tc, nth_pst_error *err)
{
    if (tc->hid_row_index == 0) {
        if (tc->nrows)
            return pst_fail(err, NTH_PST_E_CORRUPT, "TCINFO", tc->at,
                            "%zu rows but no row index (hidRowIndex 0)", tc->nrows);
        return NTH_PST_OK;
    }
    nth_pst_bth *bth;
    nth_pst_status st = nth_pst_bth_open(tc->hn, tc->hid_row_index, &bth, err);
    if (st) return st;
    unsigned ks, ds;
    nth_pst_bth_shape(bth, &ks, &ds, NULL, NULL);
    if (ks != 4 || (ds != 4 && ds != 2)) {
        nth_pst_bth_close(bth);
        return pst_fail(err, NTH_PST_E_CORRUPT, "TC row index", tc->at,
                        "cbKey %u / cbEnt %u where 4 / 4 (or 2 in ANSI files) are required",
                        ks, ds);
    }
    index_ctx x = {.tc = tc, .data_size = ds, .err = err};
    x.seen = calloc(tc->nrows ? tc->nrows : 1, 1);
    if (!x.seen) {
        nth_pst_bth_close(bth);
        return pst_fail(err, NTH_PST_E_NO_MEMORY, "TC", tc->at, "out of memory");
    }
    st = nth_pst_bth_foreach(bth, index_record, &x, err);
    nth_pst_bth_close(bth);
    free(x.seen);
    if (st) return st;
    if (x.st) return x.st;
    if (x.records != tc->nrows)
        return pst_fail(err, NTH_PST_E_CORRUPT, "TC row index", tc->at,
                        "%zu row IDs for %zu rows in the row matrix", x.records, tc->nrows);
    return NTH_PST_OK;
}

/* Fills *out for the cell; NTH_PST_E_NOT_FOUND when the cell does not exist. */
static nth_pst_status cell(nth_pst_tc *tc, size_t row, size_t col, nth_pst_prop *out,
                           nth_pst_error *err)
{
    memset(out, 0, sizeof *out);
    if (row >= tc->nrows || col >= tc->ncols)
        return pst_fail(err, NTH_PST_E_INVALID, "TC", tc->at, "no cell (%zu, %zu)", row, col);
    const nth_pst_tc_column *c = &tc->cols[col];
    const uint8_t *r = tc->rows + row * tc->row_size;
    out->id = (uint16_t)(c->tag >> 16);
    out->type = (uint16_t)c->tag;
    if (!(r[tc->rgib[2] + c->bit / 8] & (0x80u >> (c->bit % 8)))) return NTH_PST_E_NOT_FOUND;
    size_t fixed = nth_pst_type_size(out->type);
    if (fixed && fixed == c->cb) {
        out->where = NTH_PST_WHERE_INLINE;
        out->data = r + c->ib;
        out->size = c->cb;
        out->hnid = c->cb <= 4 ? (c->cb == 4 ? rd32(r + c->ib) : c->cb == 2 ? rd16(r + c->ib) : r[c->ib]) : 0;
        return NTH_PST_OK;
    }
    if (c->cb != 4)
        return pst_fail(err, NTH_PST_E_CORRUPT, "TCOLDESC", tc->at,
                        "column 0x%08X of type 0x%04X has cbData %u: neither its size nor an HNID",
                        c->tag, out->type, c->cb);
    uint32_t h = rd32(r + c->ib);
    out->hnid = h;
    if (h == 0) {
        out->where = NTH_PST_WHERE_EMPTY;
        return NTH_PST_OK;
    }
    if ((h & 0x1F) == 0) {
        out->where = NTH_PST_WHERE_HID;
        nth_pst_error e;
        if (nth_pst_hn_get(tc->hn, h, &out->data, &out->size, &e))
            return pst_fail(err, NTH_PST_E_CORRUPT, "TC row", tc->at,
                            "row %zu column 0x%08X: %s", row, c->tag, e.message);
        return NTH_PST_OK;
    }
    out->where = NTH_PST_WHERE_SUBNODE;
    ptrdiff_t k = find_sub(tc, h);
    if (k < 0)
        return pst_fail(err, NTH_PST_E_CORRUPT, "TC row", tc->at,
                        "row %zu column 0x%08X names subnode 0x%X, which the node lacks", row,
                        c->tag, h);
    if (!tc->sub_data[k]) {
        nth_pst_status st = nth_pst_read_stream(tc->file, tc->subs[k].bid_data, &tc->sub_data[k],
                                                &tc->sub_size[k], err);
        if (st) return st;
    }
    out->data = tc->sub_data[k];
    out->size = tc->sub_size[k];
    return NTH_PST_OK;
}

static nth_pst_status build(nth_pst_tc *tc, const nth_pst_node *node, nth_pst_error *err)
{
    tc->at = tc->hn->pages[0].ib;
    nth_pst_status st = parse_info(tc, err);
    if (!st) st = read_subs(tc, node, err);
    if (!st) st = load_rows(tc, err);
    if (!st) st = check_index(tc, err);
    for (size_t r = 0; r < tc->nrows && !st; r++)
        for (size_t c = 0; c < tc->ncols && !st; c++) {
            nth_pst_prop p;
            st = cell(tc, r, c, &p, err);
            if (st == NTH_PST_E_NOT_FOUND) st = NTH_PST_OK;
        }
    return st;
}

static nth_pst_status finish(nth_pst_tc *tc, nth_pst_status st, nth_pst_tc **out)
{
    if (st) {
        nth_pst_tc_close(tc);
        return st;
    }
    *out = tc;
    return NTH_PST_OK;
}

nth_pst_status pst_tc_open_hn(nth_pst_file *file, const nth_pst_node *node, const nth_pst_hn *hn,
                              nth_pst_tc **out, nth_pst_error *err)
{
    *out = NULL;
    nth_pst_tc *tc = calloc(1, sizeof *tc);
    if (!tc) return pst_fail(err, NTH_PST_E_NO_MEMORY, "TC", NTH_PST_NO_OFFSET, "out of memory");
    tc->hn = hn;
    tc->file = file;
    return finish(tc, build(tc, node, err), out);
}

nth_pst_status nth_pst_tc_open(nth_pst_file *file, const nth_pst_node *node, nth_pst_tc **out,
                               nth_pst_error *err)
{
    *out = NULL;
    nth_pst_hn *hn;
    nth_pst_status st = nth_pst_hn_load(file, node->bid_data, &hn, err);
    if (st) return st;
    st = pst_tc_open_hn(file, node, hn, out, err);
    if (st) {
        nth_pst_hn_close(hn);
        return st;
    }
    (*out)->owned_hn = hn;
    return NTH_PST_OK;
}

nth_pst_status nth_pst_tc_from_hn(const nth_pst_hn *hn, nth_pst_tc **out, nth_pst_error *err)
{
    return pst_tc_open_hn(NULL, NULL, hn, out, err);
}

void nth_pst_tc_close(nth_pst_tc *tc)
{
    if (!tc) return;
    for (size_t k = 0; k < tc->nsubs && tc->sub_data; k++) free(tc->sub_data[k]);
    free(tc->sub_data);
    free(tc->sub_size);
    free(tc->subs);
    free(tc->rows);
    free(tc->cols);
    nth_pst_hn_close(tc->owned_hn);
    free(tc);
}

size_t nth_pst_tc_column_count(const nth_pst_tc *tc) { return tc->ncols; }

const nth_pst_tc_column *nth_pst_tc_column_at(const nth_pst_tc *tc, size_t index)
{
    return index < tc->ncols ? &tc->cols[index] : NULL;
}

size_t nth_pst_tc_row_count(const nth_pst_tc *tc) { return tc->nrows; }

size_t nth_pst_tc_row_size(const nth_pst_tc *tc) { return tc->row_size; }

uint32_t nth_pst_tc_row_id(const nth_pst_tc *tc, size_t row)
{
    return row < tc->nrows ? rd32(tc->rows + row * tc->row_size) : 0;
}

nth_pst_status nth_pst_tc_cell(nth_pst_tc *tc, size_t row, size_t column, nth_pst_prop *out,
                               nth_pst_error *err)
{
    return cell(tc, row, column, out, err);
}
