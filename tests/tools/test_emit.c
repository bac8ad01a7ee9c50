/*
 * test_emit.c — the CLI's emitter (tools/ntheap/emit.c, compiled into this test): one call per
 * value gives both renderings, as views rely on. JSON: hex numbers are "0x" and upper-case
 * digits (zero is "0x0", EMIT_HEX_PAD pads), text-only columns stay out of it and JSON-only
 * columns out of the text, booleans, byte strings and hex dumps take their documented forms,
 * strings are escaped, and nesting as deep as `pst tree` goes (64 folders, two levels each)
 * still separates members with exactly one comma and indents each level by two more spaces.
 * Each case renders into a memory stream.
 */
#include <stdlib.h>
#include <string.h>

#include "harness/harness.h"
#include "../../tools/ntheap/emit.c"

typedef struct capture {
    char *text;
    size_t size;
    FILE *out;
    emit e;
} capture;

static void open_capture(capture *c, bool json)
{
    memset(c, 0, sizeof *c);
    c->out = open_memstream(&c->text, &c->size);
    MUST(c->out);
    emit_begin(&c->e, c->out, json);
}

static const char *close_capture(capture *c)
{
    emit_end(&c->e);
    fclose(c->out);
    return c->text;
}

static const emit_column line[] = {
    {"id", EMIT_HEX_PAD(4), "0x%04" PRIX64, NULL},
    {NULL, EMIT_STR, " (%s)", NULL},
    {"size", EMIT_U64, NULL, NULL},
    {"freed", EMIT_BOOL, " freed\n", "\n"},
};

TEST(fields_render_once_per_mode)
{
    capture c;
    open_capture(&c, false);
    emit_fields(&c.e, line, 4, (uint64_t)0x37, "subject", (uint64_t)12, 1);
    emit_fields(&c.e, line, 4, (uint64_t)0x1234, "body", (uint64_t)0, 0);
    CHECK_STR(close_capture(&c), "0x0037 (subject) freed\n0x1234 (body)\n");
    free(c.text);
    open_capture(&c, true);
    emit_fields(&c.e, line, 4, (uint64_t)0x37, "subject", (uint64_t)12, 1);
    CHECK_STR(close_capture(&c), "{\n  \"id\": \"0x0037\",\n  \"size\": 12,\n  \"freed\": true\n}\n");
    free(c.text);
}

TEST(hex_is_prefixed_upper_case_even_for_zero)
{
    capture c;
    open_capture(&c, true);
    emit_kv_hex(&c.e, "zero", NULL, 0, 8);
    emit_fields(&c.e, EMIT_COLUMNS({"a", EMIT_HEX, NULL, NULL}, {"b", EMIT_I64, NULL, NULL}), (uint64_t)0xABCDEF,
                (int64_t)-1);
    CHECK_STR(close_capture(&c), "{\n  \"zero\": \"0x0\",\n  \"a\": \"0xABCDEF\",\n  \"b\": -1\n}\n");
    free(c.text);
}

TEST(bytes_and_dumps)
{
    static const uint8_t data[18] = "ABCDEFGHIJKLMNOP\x01\xff";
    static const emit_column columns[] = {
        {"raw", EMIT_BYTES, "raw %s\n", NULL},
        {"data", EMIT_DUMP, "  ", NULL},
    };
    capture c;
    open_capture(&c, false);
    emit_fields(&c.e, columns, 2, data, (size_t)2, data, sizeof data, (size_t)0x20);
    CHECK_STR(close_capture(&c), "raw 4142\n"
                                 "  0020  41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP\n"
                                 "  0030  01 ff                                            ..\n");
    free(c.text);
    open_capture(&c, true);
    emit_fields(&c.e, columns, 2, data, (size_t)2, data + 16, (size_t)2, (size_t)0);
    CHECK_STR(close_capture(&c), "{\n  \"raw\": \"4142\",\n  \"data\": \"01ff\"\n}\n");
    free(c.text);
}

TEST(strings_are_escaped_and_listed)
{
    char *items[] = {"a \"quoted\"\tword", "second"};
    capture c;
    open_capture(&c, true);
    emit_strings(&c.e, "problems", "  %s\n", items, 2);
    emit_strings(&c.e, "none", "  %s\n", items, 0);
    CHECK_STR(close_capture(&c),
              "{\n  \"problems\": [\n    \"a \\\"quoted\\\"\\u0009word\",\n    \"second\"\n  ],\n  \"none\": []\n}\n");
    free(c.text);
    open_capture(&c, false);
    emit_strings(&c.e, "problems", "  %s\n", items, 2);
    CHECK_STR(close_capture(&c), "  a \"quoted\"\tword\n  second\n");
    free(c.text);
}

/* level n: {"n": n, "children": [ level n+1, {"leaf": n} ]} */
static void nest(emit *e, const char *key, int n, int levels)
{
    emit_object_begin(e, key, NULL);
    emit_fields(e, EMIT_COLUMNS({"n", EMIT_U64, NULL, NULL}), (uint64_t)n);
    emit_array_begin(e, "children");
    if (n + 1 < levels) nest(e, NULL, n + 1, levels);
    emit_object_begin(e, NULL, NULL);
    emit_fields(e, EMIT_COLUMNS({"leaf", EMIT_U64, NULL, NULL}), (uint64_t)n);
    emit_object_end(e);
    emit_array_end(e);
    emit_object_end(e);
}

TEST(deep_nesting_keeps_commas_and_indentation)
{
    enum { LEVELS = 65 };
    capture c;
    open_capture(&c, true);
    nest(&c.e, "root", 0, LEVELS);
    emit_fields(&c.e, EMIT_COLUMNS({"after", EMIT_U64, NULL, NULL}), (uint64_t)1);
    const char *s = close_capture(&c);
    size_t commas = 0, open = 0, close = 0;
    for (const char *p = s; *p; p++) {
        commas += *p == ',';
        open += *p == '{' || *p == '[';
        close += *p == '}' || *p == ']';
    }
    /* per level: between "n" and "children", between the child and the leaf (the deepest level
     * has no child); then between "root" and "after" */
    CHECK_EQ(commas, 2 * LEVELS - 1 + 1);
    CHECK_EQ(open, close);
    CHECK(strstr(s, "\"after\": 1\n}\n") != NULL);
    CHECK(strstr(s, ",\n,") == NULL && strstr(s, "[,") == NULL && strstr(s, "{,") == NULL);
    /* the deepest leaf: document, then per level an object and its array, then the leaf object */
    char want[600];
    int depth = 1 + 2 * LEVELS + 1;
    snprintf(want, sizeof want, "\n%*s\"leaf\": %d\n", 2 * depth, "", LEVELS - 1);
    CHECK(strstr(s, want) != NULL);
    free(c.text);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(fields_render_once_per_mode);
    RUN(hex_is_prefixed_upper_case_even_for_zero);
    RUN(bytes_and_dumps);
    RUN(strings_are_escaped_and_listed);
    RUN(deep_nesting_keeps_commas_and_indentation);
    return harness_finish(argv[0]);
}
