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

int pst_cmd_props(nth_pst_file *f, const pst_opts *o)
{
    nth_pst_node_ref ref;
    nth_pst_error e;
    nth_pst_pc *pc;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) || nth_pst_pc_open(f, &ref.node, &pc, &e)) {
        return pst_cli_fail(o, "%s", e.message);
    }
    size_t n = nth_pst_pc_count(pc);
    if (o->json) printf("{\"node\":\"%s\",\"count\":%zu,\"properties\":[", o->arg, n);
    else if (!o->raw) printf("Property Context %s: %zu properties\n", o->arg, n);
    for (size_t i = 0; i < n; i++) {
        const nth_pst_prop *p = nth_pst_pc_at(pc, i);
        char nbuf[160];
        const char *tname = nth_pst_type_name(p->type), *name = pst_prop_name(f, p->id, nbuf, sizeof nbuf);
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
            if (tname) pst_json_str(tname); else printf("null");
            printf(",\"name\":");
            if (name) pst_json_str(name); else printf("null");
            printf(",\"where\":\"%s\",\"hnid\":\"0x%X\",\"size\":%zu,\"raw\":", pst_where_name(p->where),
                   p->hnid, p->size);
            pst_json_hex(p->data, p->size);
            printf(",\"value\":");
            pst_json_str(value ? value : "");
            putchar('}');
        } else {
            printf("  0x%04X %-22s %-34s %-7s %5zu  %s\n", p->id, tname ? tname : "?",
                   name ? name : "", pst_where_name(p->where), p->size, value ? value : "");
        }
        free(value);
    }
    if (o->json) printf("]}\n");
    nth_pst_pc_close(pc);
    return 0;
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
        for (size_t r = 0; r < nrows; r++)
            for (size_t c = 0; c < ncols; c++) {
                nth_pst_prop p;
                nth_pst_status st = nth_pst_tc_cell(tc, r, c, &p, &e);
                if (st == NTH_PST_E_NOT_FOUND) {
                    printf("%zu 0x%04x%04x 0x%04x -\n", r, p.id, p.type, p.type);
                    continue;
                }
                if (st) {
                    rc = pst_cli_fail(o, "%s", e.message);
                    continue;
                }
                printf("%zu 0x%04x%04x 0x%04x ", r, p.id, p.type, p.type);
                for (size_t k = 0; k < p.size; k++) printf("%02x", p.data[k]);
                putchar('\n');
            }
        nth_pst_tc_close(tc);
        return rc;
    }
    if (o->json) {
        printf("{\"node\":");
        pst_json_str(o->arg);
        printf(",\"row_size\":%zu,\"columns\":[", nth_pst_tc_row_size(tc));
    } else {
        printf("Table Context %s (%s): %zu columns, %zu rows of %zu bytes\n", o->arg,
               nth_pst_nid_type_name(ref.node.nid), ncols, nrows, nth_pst_tc_row_size(tc));
    }
    for (size_t c = 0; c < ncols; c++) {
        const nth_pst_tc_column *col = nth_pst_tc_column_at(tc, c);
        char nbuf[160];
        const char *name = pst_prop_name(f, (uint16_t)(col->tag >> 16), nbuf, sizeof nbuf);
        const char *tname = nth_pst_type_name((uint16_t)col->tag);
        if (o->json) {
            printf("%s{\"tag\":\"0x%08X\",\"ibData\":%u,\"cbData\":%u,\"iBit\":%u,\"name\":",
                   c ? "," : "", col->tag, col->ib, col->cb, col->bit);
            if (name) pst_json_str(name); else printf("null");
            printf(",\"type_name\":");
            if (tname) pst_json_str(tname); else printf("null");
            putchar('}');
        } else {
            printf("  column 0x%08X %-34s %-16s ibData %3u cbData %u iBit %2u\n", col->tag,
                   name ? name : "", tname ? tname : "?", col->ib, col->cb, col->bit);
        }
    }
    if (o->json) printf("],\"rows\":[");
    for (size_t r = 0; r < nrows; r++) {
        if (o->json)
            printf("%s{\"row\":%zu,\"row_id\":\"0x%X\",\"cells\":[", r ? "," : "", r,
                   nth_pst_tc_row_id(tc, r));
        else
            printf("row %zu: dwRowID 0x%X\n", r, nth_pst_tc_row_id(tc, r));
        bool first = true;
        for (size_t c = 0; c < ncols; c++) {
            nth_pst_prop p;
            nth_pst_status st = nth_pst_tc_cell(tc, r, c, &p, &e);
            if (st == NTH_PST_E_NOT_FOUND) continue;
            char *value = NULL;
            if (st) {
                rc = 1;
                fprintf(stderr, "ntheap pst: %s\n", e.message);
            } else {
                size_t need = nth_pst_prop_format(&p, NULL, 0, o->json ? 0 : 32);
                value = malloc(need + 1);
                if (value) nth_pst_prop_format(&p, value, need + 1, o->json ? 0 : 32);
            }
            char nbuf[160];
            const char *name = pst_prop_name(f, p.id, nbuf, sizeof nbuf);
            if (o->json) {
                printf("%s{\"tag\":\"0x%04X%04X\",\"name\":", first ? "" : ",", p.id, p.type);
                if (name) pst_json_str(name); else printf("null");
                printf(",\"where\":\"%s\",\"size\":%zu,", pst_where_name(p.where), p.size);
                if (st) {
                    printf("\"error\":");
                    pst_json_str(e.message);
                } else {
                    printf("\"raw\":");
                    pst_json_hex(p.data, p.size);
                    printf(",\"value\":");
                    pst_json_str(value ? value : "");
                }
                putchar('}');
            } else {
                printf("  0x%04X%04X %-34s %-7s %5zu  %s\n", p.id, p.type, name ? name : "",
                       pst_where_name(p.where), p.size, st ? e.message : value ? value : "");
            }
            first = false;
            free(value);
        }
        if (o->json) printf("]}");
    }
    if (o->json) printf("]}\n");
    nth_pst_tc_close(tc);
    return rc;
}
