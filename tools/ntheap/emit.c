/*
 * emit.c — renders what the views emit (see emit.h) as text or JSON, hex dumps included. JSON
 * output is one document, members separated by commas through the `first` flag of each nesting
 * level, strings escaped (control characters as \u00XX), so `python3 -m json.tool` accepts any
 * output; the text form writes each line as soon as it is complete.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", out);
        else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
        else fputc(*p, out);
    }
    fputc('"', out);
}

/* Starts a member (key may be NULL inside arrays). */
static void member(emit *e, const char *key)
{
    if (!e->first[e->depth]) fputc(',', e->out);
    e->first[e->depth] = false;
    fprintf(e->out, "\n%*s", 2 * e->depth, "");
    if (key) {
        json_string(e->out, key);
        fputs(": ", e->out);
    }
}

static void open_level(emit *e, char bracket)
{
    fputc(bracket, e->out);
    if (e->depth + 1 < EMIT_MAX_DEPTH) e->depth++;
    e->first[e->depth] = true;
}

static void close_level(emit *e, char bracket)
{
    bool empty = e->first[e->depth];
    if (e->depth > 0) e->depth--;
    if (!empty) fprintf(e->out, "\n%*s", 2 * e->depth, "");
    fputc(bracket, e->out);
}

void emit_begin(emit *e, FILE *out, bool json)
{
    memset(e, 0, sizeof *e);
    e->out = out;
    e->json = json;
    e->label_width = 0;
    if (json) open_level(e, '{');
}

void emit_end(emit *e)
{
    if (e->json) {
        close_level(e, '}');
        fputc('\n', e->out);
    }
    fflush(e->out);
}

void emit_object_begin(emit *e, const char *key, const char *heading)
{
    if (e->json) {
        member(e, key);
        open_level(e, '{');
        return;
    }
    if (heading) {
        fprintf(e->out, "%*s%s\n", e->indent, "", heading);
        e->indent += 2;
    }
    e->first[e->depth < EMIT_MAX_DEPTH - 1 ? ++e->depth : e->depth] = heading != NULL; /* remembers the indent */
}

void emit_object_end(emit *e)
{
    if (e->json) {
        close_level(e, '}');
        return;
    }
    if (e->first[e->depth]) e->indent -= 2;
    if (e->depth > 0) e->depth--;
}

void emit_array_begin(emit *e, const char *key)
{
    if (!e->json) return;
    member(e, key);
    open_level(e, '[');
}

void emit_array_end(emit *e)
{
    if (e->json) close_level(e, ']');
}

static void text_label(emit *e, const char *label)
{
    fprintf(e->out, "%*s%-*s", e->indent, "", e->label_width, label);
}

void emit_kv_u64(emit *e, const char *key, const char *label, uint64_t value)
{
    if (e->json && !key) return; /* a text-only line */
    if (e->json) {
        member(e, key);
        fprintf(e->out, "%" PRIu64, value);
    } else if (label) {
        text_label(e, label);
        fprintf(e->out, "%" PRIu64 "\n", value);
    }
}

void emit_kv_hex(emit *e, const char *key, const char *label, uint64_t value, int digits)
{
    if (e->json && !key) return; /* a text-only line */
    if (e->json) {
        member(e, key);
        fprintf(e->out, "\"0x%" PRIX64 "\"", value);
    } else if (label) {
        text_label(e, label);
        fprintf(e->out, "%0*" PRIx64 "\n", digits, value);
    }
}

void emit_kv_str(emit *e, const char *key, const char *label, const char *value)
{
    if (e->json && !key) return; /* a text-only line */
    if (e->json) {
        member(e, key);
        if (value) json_string(e->out, value);
        else fputs("null", e->out);
    } else if (label) {
        text_label(e, label);
        fprintf(e->out, "%s\n", value ? value : "");
    }
}

void emit_kv_bool(emit *e, const char *key, const char *label, bool value)
{
    if (e->json && !key) return; /* a text-only line */
    if (e->json) {
        member(e, key);
        fputs(value ? "true" : "false", e->out);
    } else if (label) {
        text_label(e, label);
        fprintf(e->out, "%s\n", value ? "ENABLED" : "DISABLED");
    }
}

void emit_table_begin(emit *e, const char *key, const char *title, const emit_column *columns, int n_columns,
                      const char *row_prefix)
{
    e->columns = columns;
    e->n_columns = n_columns < EMIT_MAX_COLUMNS ? n_columns : EMIT_MAX_COLUMNS;
    e->row_prefix = row_prefix ? row_prefix : "";
    if (e->json) {
        member(e, key);
        open_level(e, '[');
    } else if (title) {
        fprintf(e->out, "%s\n", title);
    }
}

/* One cell's arguments, taken by its column's type. */
typedef struct cell {
    uint64_t number;
    const char *text;
    const uint8_t *bytes;
    size_t size, base;
} cell;

static cell take(emit_type type, va_list *ap)
{
    cell v = {0};
    switch (type & 0xFF) {
    case EMIT_U64: case EMIT_HEX: v.number = va_arg(*ap, uint64_t); break;
    case EMIT_I64: v.number = (uint64_t)va_arg(*ap, int64_t); break;
    case EMIT_STR: v.text = va_arg(*ap, const char *); break;
    case EMIT_BOOL: v.number = va_arg(*ap, int) != 0; break;
    case EMIT_DUMP:
    case EMIT_BYTES:
        v.bytes = va_arg(*ap, const uint8_t *);
        v.size = va_arg(*ap, size_t);
        if (type == EMIT_DUMP) v.base = va_arg(*ap, size_t);
        break;
    }
    return v;
}

static void json_value(emit *e, const emit_column *c, const cell *v)
{
    switch (c->type & 0xFF) {
    case EMIT_U64: fprintf(e->out, "%" PRIu64, v->number); break;
    case EMIT_I64: fprintf(e->out, "%" PRId64, (int64_t)v->number); break;
    case EMIT_HEX: fprintf(e->out, "\"0x%0*" PRIX64 "\"", (int)(c->type >> 8), v->number); break;
    case EMIT_BOOL: fputs(v->number ? "true" : "false", e->out); break;
    case EMIT_STR:
        if (v->text) json_string(e->out, v->text);
        else fputs("null", e->out);
        break;
    case EMIT_BYTES:
    case EMIT_DUMP:
        fputc('"', e->out);
        for (size_t i = 0; i < v->size; i++) fprintf(e->out, "%02x", v->bytes[i]);
        fputc('"', e->out);
        break;
    }
}

/* Offset, 16 bytes in hex, and their printable characters, one line each. */
static void hex_dump(FILE *out, const char *indent, const uint8_t *d, size_t n, size_t base)
{
    for (size_t i = 0; i < n; i += 16) {
        fprintf(out, "%s%04zx ", indent, base + i);
        for (size_t k = 0; k < 16; k++) {
            if (i + k < n) fprintf(out, " %02x", d[i + k]);
            else fputs("   ", out);
        }
        fputs("  ", out);
        for (size_t k = 0; k < 16 && i + k < n; k++) fputc(d[i + k] >= 0x20 && d[i + k] < 0x7F ? d[i + k] : '.', out);
        fputc('\n', out);
    }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void text_value(emit *e, const emit_column *c, const cell *v)
{
    if (!c->fmt) return; /* a JSON-only column */
    switch (c->type & 0xFF) {
    case EMIT_U64: case EMIT_HEX: fprintf(e->out, c->fmt, v->number); break;
    case EMIT_I64: fprintf(e->out, c->fmt, (int64_t)v->number); break;
    case EMIT_BOOL: fputs(v->number ? c->fmt : c->none ? c->none : "", e->out); break;
    case EMIT_STR:
        if (v->text) fprintf(e->out, c->fmt, v->text);
        else fputs(c->none ? c->none : "", e->out);
        break;
    case EMIT_BYTES: {
        char *hex = malloc(2 * v->size + 1);
        if (!hex) return;
        for (size_t i = 0; i < v->size; i++) snprintf(hex + 2 * i, 3, "%02x", v->bytes[i]);
        hex[2 * v->size] = 0;
        fprintf(e->out, c->fmt, hex);
        free(hex);
        break;
    }
    case EMIT_DUMP: hex_dump(e->out, c->fmt, v->bytes, v->size, v->base); break;
    }
}
#pragma GCC diagnostic pop

static void row(emit *e, const emit_column *columns, int n_columns, const char *prefix, va_list *ap)
{
    if (e->json) {
        member(e, NULL);
        fputc('{', e->out);
    } else {
        fputs(prefix, e->out);
    }
    bool first = true;
    for (int i = 0; i < n_columns; i++) {
        const emit_column *c = &columns[i];
        cell v = take(c->type, ap);
        if (!e->json) {
            text_value(e, c, &v);
        } else if (c->key) {
            fprintf(e->out, "%s", first ? "" : ", ");
            json_string(e->out, c->key);
            fputs(": ", e->out);
            json_value(e, c, &v);
            first = false;
        }
    }
    if (e->json) fputc('}', e->out);
    else fputc('\n', e->out);
}

void emit_fields(emit *e, const emit_column *columns, int n_columns, ...)
{
    va_list ap;
    va_start(ap, n_columns);
    for (int i = 0; i < n_columns; i++) {
        const emit_column *c = &columns[i];
        cell v = take(c->type, &ap);
        if (!e->json) {
            text_value(e, c, &v);
        } else if (c->key) {
            member(e, c->key);
            json_value(e, c, &v);
        }
    }
    va_end(ap);
}

void emit_strings(emit *e, const char *key, const char *fmt, char *const *items, size_t count)
{
    if (e->json) {
        member(e, key);
        open_level(e, '[');
        for (size_t i = 0; i < count; i++) {
            member(e, NULL);
            json_string(e->out, items[i]);
        }
        close_level(e, ']');
        return;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    for (size_t i = 0; fmt && i < count; i++) fprintf(e->out, fmt, items[i]);
#pragma GCC diagnostic pop
}

void emit_row(emit *e, ...)
{
    va_list ap;
    va_start(ap, e);
    row(e, e->columns, e->n_columns, e->row_prefix, &ap);
    va_end(ap);
}

void emit_record(emit *e, const emit_column *columns, int n_columns, const char *prefix, ...)
{
    va_list ap;
    va_start(ap, prefix);
    row(e, columns, n_columns, prefix ? prefix : "", &ap);
    va_end(ap);
}

void emit_table_end(emit *e)
{
    if (e->json) close_level(e, ']');
    e->columns = NULL;
    e->n_columns = 0;
}

void emit_text(emit *e, const char *format, ...)
{
    if (e->json) return;
    va_list ap;
    va_start(ap, format);
    vfprintf(e->out, format, ap);
    va_end(ap);
}
