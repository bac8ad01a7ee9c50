/*
 * cmd_pst_set.c — `ntheap pst FILE set NID 0xIIIITTTT VALUE`: one property of a node's PC,
 * rewritten in the file by nth_pst_set_property (in the heap, or in a subnode when longer than
 * a heap allocation; the file replaced atomically).
 *
 * VALUE by type: PtypInteger16/32/64, PtypErrorCode, PtypTime (FILETIME ticks), PtypCurrency:
 * a decimal or 0x-hex integer; PtypBoolean: true/false/1/0; PtypString: UTF-8 text (stored as
 * UTF-16LE); PtypString8: ASCII text; PtypBinary: hex digits ("" = empty). Other types are
 * refused. VALUE @PATH takes that text from the file PATH, verbatim (for values too long for a
 * command line); PATH "-" is standard input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_cli.h"

#define VALUE_TEXT_MAX (64u << 20) /* text of a value read from a file */

/* The whole of the file path ("-": standard input) as a NUL-terminated string, or NULL. */
static char *slurp(const char *path)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) return NULL;
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            char *grown = cap <= VALUE_TEXT_MAX ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, in);
        n += got;
        if (got == 0) break;
    }
    if (buf && (ferror(in) || memchr(buf, 0, n))) {
        free(buf);
        buf = NULL;
    }
    if (in != stdin) fclose(in);
    if (buf) buf[n] = 0;
    return buf;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* UTF-8 to UTF-16LE; false on malformed input. */
static bool utf16(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        uint32_t cp;
        int extra;
        if (*p < 0x80) { cp = *p; extra = 0; }
        else if ((*p & 0xE0) == 0xC0) { cp = *p & 0x1F; extra = 1; }
        else if ((*p & 0xF0) == 0xE0) { cp = *p & 0x0F; extra = 2; }
        else if ((*p & 0xF8) == 0xF0) { cp = *p & 0x07; extra = 3; }
        else return false;
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80) return false;
            cp = cp << 6 | (*p & 0x3F);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        uint16_t u[2];
        int units = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[0] = (uint16_t)(0xD800 | cp >> 10);
            u[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
            units = 2;
        } else {
            u[0] = (uint16_t)cp;
        }
        for (int i = 0; i < units; i++) {
            if (n + 2 > cap) return false;
            out[n++] = (uint8_t)u[i];
            out[n++] = (uint8_t)(u[i] >> 8);
        }
    }
    *len = n;
    return true;
}

/* Encodes `text` as a value of `type` into out; returns a reason on failure. */
static const char *encode(uint16_t type, const char *text, uint8_t *out, size_t cap, size_t *len)
{
    size_t width = 0;
    switch (type) {
    case NTH_PST_PT_INT16: width = 2; break;
    case NTH_PST_PT_INT32: case NTH_PST_PT_ERROR: width = 4; break;
    case NTH_PST_PT_INT64: case NTH_PST_PT_TIME: case NTH_PST_PT_CURRENCY: width = 8; break;
    default: break;
    }
    if (width) {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, strncmp(text, "0x", 2) == 0 ? 16 : 10);
        if (end == text || *end || errno) return "not an integer";
        if (width < 8 && (v > (1LL << (8 * width)) - 1 || v < -(1LL << (8 * width - 1))))
            return "out of range for the type";
        for (size_t i = 0; i < width; i++) out[i] = (uint8_t)((unsigned long long)v >> (8 * i));
        *len = width;
        return NULL;
    }
    if (type == NTH_PST_PT_BOOLEAN) {
        if (!strcmp(text, "true") || !strcmp(text, "1")) out[0] = 1;
        else if (!strcmp(text, "false") || !strcmp(text, "0")) out[0] = 0;
        else return "not true/false";
        *len = 1;
        return NULL;
    }
    if (type == NTH_PST_PT_UNICODE) return utf16(text, out, cap, len) ? NULL : "not valid UTF-8, or too long";
    if (type == NTH_PST_PT_STRING8) {
        size_t n = strlen(text);
        if (n > cap) return "too long";
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)text[i] >= 0x80) return "not ASCII";
        memcpy(out, text, n);
        *len = n;
        return NULL;
    }
    if (type == NTH_PST_PT_BINARY) {
        size_t n = strlen(text);
        if (n % 2 || n / 2 > cap) return "not an even number of hex digits, or too long";
        for (size_t i = 0; i < n / 2; i++) {
            int h = hexval(text[2 * i]), l = hexval(text[2 * i + 1]);
            if (h < 0 || l < 0) return "not hex digits";
            out[i] = (uint8_t)(h << 4 | l);
        }
        *len = n / 2;
        return NULL;
    }
    return "a type `set` does not write";
}

int pst_cmd_set(const pst_opts *o)
{
    uint32_t tag;
    if (strlen(o->tag) != 10 || nth_pst_parse_nid(o->tag, 10, &tag))
        return pst_cli_refuse(o, "bad tag \"%s\": expected 0xIIIITTTT (property id and type)", o->tag);
    uint16_t id = (uint16_t)(tag >> 16), type = (uint16_t)tag;
    char *text = NULL;
    if (o->value[0] == '@' && !(text = slurp(o->value + 1)))
        return pst_cli_refuse(o, "cannot read the value from %s (missing, unreadable, over %u "
                              "bytes, or holding a NUL byte)", o->value + 1, VALUE_TEXT_MAX);
    size_t cap = 2 * strlen(text ? text : o->value) + 8, len = 0;
    uint8_t *value = malloc(cap);
    if (!value) {
        free(text);
        return pst_cli_fail(o, "out of memory");
    }
    const char *why = encode(type, text ? text : o->value, value, cap, &len);
    free(text);
    if (why) {
        free(value);
        return pst_cli_refuse(o, "value \"%.64s\" for type 0x%04X: %s", o->value, type, why);
    }
    nth_pst_file *f;
    nth_pst_error e;
    if (nth_pst_open(o->file, &f, &e)) {
        free(value);
        return pst_cli_refuse(o, "%s: %s", o->file, e.message);
    }
    nth_pst_limit_work(f, 64);
    nth_pst_node_ref ref;
    nth_pst_status st = nth_pst_resolve_path(f, o->arg, &ref, &e);
    nth_pst_close(f);
    if (!st && ref.depth != 1) {
        free(value);
        return pst_cli_fail(o, "%s is a subnode; only NBT nodes are written back", o->arg);
    }
    if (!st) st = nth_pst_set_property(o->file, ref.node.nid, id, type, value, len, &e);
    free(value);
    if (st) return pst_cli_fail(o, "%s", e.message);
    emit_fields(o->e, EMIT_COLUMNS({"file", EMIT_STR, "%s: ", NULL}, {"node", EMIT_HEX, "node 0x%" PRIX64, NULL},
                                   {"tag", EMIT_HEX_PAD(8), " property 0x%08" PRIX64, NULL},
                                   {"size", EMIT_U64, " set (%" PRIu64 " bytes)", NULL},
                                   {"written", EMIT_BOOL, "; file rewritten\n", NULL}),
                o->file, (uint64_t)ref.node.nid, (uint64_t)tag, (uint64_t)len, 1);
    return 0;
}
