/*
 * emit.c — renders what the views emit (see emit.h) as text or JSON. JSON output is one
 * document, members separated by commas through the `first` flag of each nesting level,
 * strings escaped (control characters as \u00XX), so `python3 -m json.tool` accepts any
 * output; the text form writes each line as soon as it is complete.
 */
#include <stdarg.h>
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
        fprintf(e->out, "\"%#" PRIx64 "\"", value);
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

static void row(emit *e, const emit_column *columns, int n_columns, const char *prefix, va_list ap)
{
    if (e->json) {
        member(e, NULL);
        fputc('{', e->out);
    } else {
        fputs(prefix, e->out);
    }
    for (int i = 0; i < n_columns; i++) {
        const emit_column *c = &columns[i];
        uint64_t number = 0;
        const char *text = NULL;
        if (c->type == EMIT_STR) text = va_arg(ap, const char *);
        else number = va_arg(ap, uint64_t);
        if (e->json) {
            fprintf(e->out, "%s", i ? ", " : "");
            json_string(e->out, c->key);
            fputs(": ", e->out);
            if (c->type == EMIT_U64) fprintf(e->out, "%" PRIu64, number);
            else if (c->type == EMIT_HEX) fprintf(e->out, "\"%#" PRIx64 "\"", number);
            else if (text) json_string(e->out, text);
            else fputs("null", e->out);
            continue;
        }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        if (!c->fmt) continue; /* a JSON-only column */
        if (c->type == EMIT_STR && !text) fputs(c->none ? c->none : "", e->out);
        else if (c->type == EMIT_STR) fprintf(e->out, c->fmt, text);
        else fprintf(e->out, c->fmt, number);
#pragma GCC diagnostic pop
    }
    if (e->json) fputc('}', e->out);
    else fputc('\n', e->out);
}

void emit_row(emit *e, ...)
{
    va_list ap;
    va_start(ap, e);
    row(e, e->columns, e->n_columns, e->row_prefix, ap);
    va_end(ap);
}

void emit_record(emit *e, const emit_column *columns, int n_columns, const char *prefix, ...)
{
    va_list ap;
    va_start(ap, prefix);
    row(e, columns, n_columns, prefix ? prefix : "", ap);
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
