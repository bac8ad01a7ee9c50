/*
 * cmd_pst_props.c — the property commands of `ntheap pst`:
 *
 *     props PATH   a Property Context: id, type, name, where the value lives, value
 * Names: the standard name of a tag, or for ids from 0x8000 what the name-to-id map says
 * ("PSETID_Common:0x8514", "PS_PUBLIC_STRINGS:Keywords").
 *     table PATH   a Table Context: column descriptors, then each row's existing cells;
 *                  --raw: one line per cell, "ROW 0xTAG 0xTYPE hex" (as props --raw), with
 *                  "-" for the hex of a cell the row lacks (its CEB bit clear)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_cli.h"

/* A property's value as text (malloc'd; NULL when out of memory); --json shows binary values
 * whole, the text listing their first 32 bytes. */
static char *value_text(const nth_pst_prop *p, const pst_opts *o)
{
    size_t limit = o->json ? 0 : 32, need = nth_pst_prop_format(p, NULL, 0, limit);
    char *value = malloc(need + 1);
    if (value) nth_pst_prop_format(p, value, need + 1, limit);
    return value;
}

/* --raw, as `ROW 0xTAG 0xTYPE hex` (props: without ROW), for tests and diffs */
static const emit_column raw_columns[] = {
    {NULL, EMIT_STR, "%s", NULL},
    {"tag", EMIT_HEX_PAD(8), "0x%08" PRIx64, NULL},
    {"type", EMIT_HEX_PAD(4), " 0x%04" PRIx64, NULL},
    {"raw", EMIT_BYTES, " %s", NULL},
};

int pst_cmd_props(nth_pst_file *f, const pst_opts *o)
{
    nth_pst_node_ref ref;
    nth_pst_error e;
    nth_pst_pc *pc;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) || nth_pst_pc_open(f, &ref.node, &pc, &e))
        return pst_cli_fail(o, "%s", e.message);
    size_t n = nth_pst_pc_count(pc);
    bool raw = o->raw && !o->json;
    if (!raw)
        emit_fields(o->e, EMIT_COLUMNS({"node", EMIT_STR, "Property Context %s", NULL},
                                       {"count", EMIT_U64, ": %" PRIu64 " properties\n", NULL}),
                    o->arg, (uint64_t)n);
    static const emit_column columns[] = {
        {"id", EMIT_HEX_PAD(4), "  0x%04" PRIX64, NULL},
        {"type", EMIT_HEX_PAD(4), NULL, NULL},
        {"type_name", EMIT_STR, " %-22s", " ?                     "},
        {"name", EMIT_STR, " %-34s", "                                   "},
        {"where", EMIT_STR, " %-7s", NULL},
        {"hnid", EMIT_HEX, NULL, NULL},
        {"size", EMIT_U64, " %5" PRIu64, NULL},
        {"raw", EMIT_BYTES, NULL, NULL},
        {"value", EMIT_STR, "  %s", NULL},
    };
    emit_table_begin(o->e, "properties", NULL, raw ? raw_columns : columns, raw ? 4 : 9, NULL);
    for (size_t i = 0; i < n; i++) {
        const nth_pst_prop *p = nth_pst_pc_at(pc, i);
        uint64_t tag = (uint64_t)p->id << 16 | p->type;
        if (raw) {
            emit_row(o->e, "", tag, (uint64_t)p->type, p->data, p->size);
            continue;
        }
        char nbuf[160];
        char *value = value_text(p, o);
        emit_row(o->e, (uint64_t)p->id, (uint64_t)p->type, nth_pst_type_name(p->type),
                 pst_prop_name(f, p->id, nbuf, sizeof nbuf), pst_where_name(p->where), (uint64_t)p->hnid,
                 (uint64_t)p->size, p->data, p->size, value ? value : "");
        free(value);
    }
    emit_table_end(o->e);
    nth_pst_pc_close(pc);
    return 0;
}

/* The cells a row has (its CEB bit set); --raw: every cell, "-" for a missing one. */
static int table_row(nth_pst_file *f, const pst_opts *o, nth_pst_tc *tc, size_t r, bool raw)
{
    static const emit_column cell_columns[] = {
        {"tag", EMIT_HEX_PAD(8), "  0x%08" PRIX64, NULL},
        {"name", EMIT_STR, " %-34s", "                                   "},
        {"where", EMIT_STR, " %-7s", NULL}, {"size", EMIT_U64, " %5" PRIu64, NULL}, {"raw", EMIT_BYTES, NULL, NULL},
        {"value", EMIT_STR, "  %s\n", NULL}, {"error", EMIT_STR, "  %s\n", NULL},
    };
    int rc = 0;
    char row[32];
    snprintf(row, sizeof row, "%zu ", r);
    for (size_t c = 0; c < nth_pst_tc_column_count(tc); c++) {
        nth_pst_prop p;
        nth_pst_error e;
        nth_pst_status st = nth_pst_tc_cell(tc, r, c, &p, &e);
        uint64_t tag = (uint64_t)p.id << 16 | p.type;
        if (raw && st == NTH_PST_E_NOT_FOUND) {
            emit_text(o->e, "%s0x%08" PRIx64 " 0x%04x -\n", row, tag, p.type);
        } else if (raw && st) {
            rc = pst_cli_fail(o, "%s", e.message);
        } else if (raw) {
            emit_record(o->e, raw_columns, 4, NULL, row, tag, (uint64_t)p.type, p.data, p.size);
        } else if (st != NTH_PST_E_NOT_FOUND) {
            char nbuf[160];
            char *value = st ? NULL : value_text(&p, o);
            emit_object_begin(o->e, NULL, NULL);
            emit_fields(o->e, cell_columns, st ? 4 : 6, tag, pst_prop_name(f, p.id, nbuf, sizeof nbuf),
                        pst_where_name(p.where), (uint64_t)p.size, p.data, p.size, value ? value : "");
            if (st) emit_fields(o->e, cell_columns + 6, 1, e.message);
            if (st) fprintf(stderr, "ntheap pst: %s\n", e.message), rc = 1;
            emit_object_end(o->e);
            free(value);
        }
    }
    return rc;
}

int pst_cmd_table(nth_pst_file *f, const pst_opts *o)
{
    nth_pst_node_ref ref;
    nth_pst_error e;
    nth_pst_tc *tc;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) || nth_pst_tc_open(f, &ref.node, &tc, &e))
        return pst_cli_fail(o, "%s", e.message);
    size_t ncols = nth_pst_tc_column_count(tc), nrows = nth_pst_tc_row_count(tc);
    int rc = 0;
    if (o->raw && !o->json) {
        for (size_t r = 0; r < nrows; r++) rc |= table_row(f, o, tc, r, true);
        nth_pst_tc_close(tc);
        return rc;
    }
    emit *out = o->e;
    emit_fields(out, EMIT_COLUMNS({"node", EMIT_STR, "Table Context %s", NULL}, {NULL, EMIT_STR, " (%s)", NULL},
                                  {NULL, EMIT_U64, ": %" PRIu64 " columns", NULL},
                                  {NULL, EMIT_U64, ", %" PRIu64 " rows", NULL},
                                  {"row_size", EMIT_U64, " of %" PRIu64 " bytes\n", NULL}),
                o->arg, nth_pst_nid_type_name(ref.node.nid), (uint64_t)ncols, (uint64_t)nrows,
                (uint64_t)nth_pst_tc_row_size(tc));
    static const emit_column columns[] = {
        {"tag", EMIT_HEX_PAD(8), "  column 0x%08" PRIX64, NULL},
        {"name", EMIT_STR, " %-34s", "                                   "},
        {"type_name", EMIT_STR, " %-16s", " ?               "},
        {"ibData", EMIT_U64, " ibData %3" PRIu64, NULL},
        {"cbData", EMIT_U64, " cbData %" PRIu64, NULL},
        {"iBit", EMIT_U64, " iBit %2" PRIu64, NULL},
    };
    emit_table_begin(out, "columns", NULL, columns, 6, NULL);
    for (size_t c = 0; c < ncols; c++) {
        const nth_pst_tc_column *col = nth_pst_tc_column_at(tc, c);
        char nbuf[160];
        emit_row(out, (uint64_t)col->tag, pst_prop_name(f, (uint16_t)(col->tag >> 16), nbuf, sizeof nbuf),
                 nth_pst_type_name((uint16_t)col->tag), (uint64_t)col->ib, (uint64_t)col->cb, (uint64_t)col->bit);
    }
    emit_table_end(out);
    emit_array_begin(out, "rows");
    for (size_t r = 0; r < nrows; r++) {
        emit_object_begin(out, NULL, NULL);
        emit_fields(out, EMIT_COLUMNS({"row", EMIT_U64, "row %" PRIu64, NULL},
                                      {"row_id", EMIT_HEX, ": dwRowID 0x%" PRIX64 "\n", NULL}),
                    (uint64_t)r, (uint64_t)nth_pst_tc_row_id(tc, r));
        emit_array_begin(out, "cells");
        rc |= table_row(f, o, tc, r, false);
        emit_array_end(out);
        emit_object_end(out);
    }
    emit_array_end(out);
    nth_pst_tc_close(tc);
    return rc;
}
