/*
 * pst_cli.c — what the `ntheap pst` views share: names of codes, the findings list, and the
 * failure paths (pst_cli_fail: exit 1; pst_cli_refuse: exit 2, bad arguments or a file that
 * cannot be opened) so every error, with --json, is a JSON object with an "error" field.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_cli.h"

void pst_cli_error_members(const pst_opts *o, const char *message)
{
    emit_fields(o->e, EMIT_COLUMNS({"command", EMIT_STR, NULL, NULL}, {"error", EMIT_STR, NULL, NULL}),
                o->command ? o->command : "", message);
    if (o->file) emit_fields(o->e, EMIT_COLUMNS({"file", EMIT_STR, NULL, NULL}), o->file);
}

static void report_failure(const pst_opts *o, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "ntheap pst: %s\n", msg);
    pst_cli_error_members(o, msg);
}

int pst_cli_fail(const pst_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failure(o, fmt, ap);
    va_end(ap);
    return 1;
}

int pst_cli_refuse(const pst_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failure(o, fmt, ap);
    va_end(ap);
    return 2;
}

const char *pst_client_name(uint8_t sig)
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

const char *pst_crypt_name(uint8_t c)
{
    return c == NTH_PST_CRYPT_NONE ? "none" : c == NTH_PST_CRYPT_PERMUTE ? "permute" : "cyclic";
}

const char *pst_where_name(nth_pst_where w)
{
    switch (w) {
    case NTH_PST_WHERE_INLINE: return "inline";
    case NTH_PST_WHERE_HID: return "hid";
    case NTH_PST_WHERE_SUBNODE: return "subnode";
    case NTH_PST_WHERE_EMPTY: return "empty";
    }
    return "?";
}

/* The map of the one file a command works on; read on first use, kept until exit. */
static nth_pst_file *named_file;
static nth_pst_named_map *named_map;

const char *pst_prop_name(nth_pst_file *f, uint16_t id, char *buf, size_t size)
{
    if (id < 0x8000) return nth_pst_tag_name(id);
    if (named_file != f) {
        nth_pst_named_close(named_map);
        named_map = NULL;
        named_file = f;
        if (nth_pst_named_open(f, &named_map, NULL)) named_map = NULL;
    }
    const nth_pst_named_prop *n = named_map ? nth_pst_named_find(named_map, id) : NULL;
    if (!n) return NULL;
    const char *set = nth_pst_guid_name(n->guid);
    char guid[40];
    const uint8_t *g = n->guid;
    snprintf(guid, sizeof guid, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
             (unsigned)(g[0] | g[1] << 8 | g[2] << 16 | (unsigned)g[3] << 24),
             (unsigned)(g[4] | g[5] << 8), (unsigned)(g[6] | g[7] << 8), g[8], g[9], g[10], g[11],
             g[12], g[13], g[14], g[15]);
    if (n->is_string)
        snprintf(buf, size, "%s:%s", set ? set : guid, n->name);
    else
        snprintf(buf, size, "%s:0x%04X", set ? set : guid, n->lid);
    return buf;
}

void pst_fill_string(const nth_pst_hn *hn, char *buf, size_t size, bool actual)
{
    size_t n = nth_pst_hn_page_count(hn), at = 0;
    for (size_t i = 0; i < n && at + 2 < size; i++) {
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, i, &pg);
        buf[at++] = "0123456789ABCDEF"[actual ? pg.fill_level_actual : pg.fill_level];
    }
    buf[at] = 0;
}

void pst_findings_add(pst_findings *l, bool hint, const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (hint)
        l->hints++;
    else
        l->problems++;
    char **items = realloc(l->items, (l->count + 1) * sizeof *items);
    if (!items) return;
    l->items = items;
    size_t len = strlen(buf) + 8;
    char *s = malloc(len);
    if (!s) return;
    snprintf(s, len, "%s%s", hint ? "note: " : "", buf);
    l->items[l->count++] = s;
}

void pst_findings_free(pst_findings *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void pst_findings_sink(void *ctx, const nth_pst_error *e, bool hint)
{
    pst_findings_add(ctx, hint, "%s", e->message);
}

void pst_findings_emit(const pst_opts *o, const char *key, const char *fmt, const pst_findings *l)
{
    emit_strings(o->e, key, fmt, l->items, l->count);
}
