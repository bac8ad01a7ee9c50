/*
 * cmd_pst_browse.c — browsing a store with `ntheap pst`:
 *
 *     tree         the folder hierarchy from the root folder (NID 0x122): name, NID, items,
 *                  unread items, read through each folder's hierarchy table
 *     ls FOLDER    the items of a folder (a NID, or a path of folder names from the root such
 *                  as "Top of Outlook data file/Inbox"): NID, date, size, attachments, sender,
 *                  subject, read through its contents table (the message's PC fills gaps)
 *
 *     normal folder n (type 0x02)  ->  hierarchy table (n & ~0x1F) | 0x0D  rows = subfolders
 *                                      contents table  (n & ~0x1F) | 0x0E  rows = items
 *     search folder n (type 0x03)  ->  search contents table (n & ~0x1F) | 0x10  rows = items
 *
 * A hostile file can make a folder list itself or an ancestor as a subfolder: every folder is
 * shown once (a repeat is reported and not entered) and the depth is capped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pst_cli.h"

#define ROOT_FOLDER   0x122u
#define DEPTH_MAX     64
#define TAG_NAME      0x3001
#define TAG_COUNT     0x3602
#define TAG_UNREAD    0x3603
#define TAG_SUBJECT   0x0037
#define TAG_SENDER    0x0C1A
#define TAG_SENT_REPR 0x0042
#define TAG_DELIVERY  0x0E06
#define TAG_SUBMIT    0x0039
#define TAG_SIZE      0x0E08
#define TAG_FLAGS     0x0E07
#define MSGFLAG_HASATTACH 0x10

static uint32_t table_of(uint32_t folder, uint32_t type) { return (folder & ~0x1Fu) | type; }

/* The cell of column `id` in `row` (any type), or NULL. */
static bool row_cell(nth_pst_tc *tc, size_t row, uint16_t id, nth_pst_prop *out)
{
    for (size_t c = 0; c < nth_pst_tc_column_count(tc); c++)
        if ((nth_pst_tc_column_at(tc, c)->tag >> 16) == id)
            return nth_pst_tc_cell(tc, row, c, out, NULL) == NTH_PST_OK;
    return false;
}

/* A string value as UTF-8 (malloc'd), with a subject's 0x01 prefix marker removed. */
static char *text_of(const nth_pst_prop *p)
{
    char *t = NULL;
    if (!p || nth_pst_prop_utf8(p, &t)) return NULL;
    if (t[0] == 0x01 && t[1]) memmove(t, t + 2, strlen(t + 2) + 1);
    return t;
}

static int64_t int_of(const nth_pst_prop *p, int64_t dflt)
{
    int64_t v;
    return p && nth_pst_prop_int(p, &v) == NTH_PST_OK ? v : dflt;
}

static nth_pst_pc *open_pc(nth_pst_file *f, uint32_t nid)
{
    nth_pst_node n;
    nth_pst_pc *pc = NULL;
    if (nth_pst_nbt_lookup(f, nid, &n, NULL) || nth_pst_pc_open(f, &n, &pc, NULL)) return NULL;
    return pc;
}

static nth_pst_tc *open_tc(nth_pst_file *f, uint32_t nid, nth_pst_error *e)
{
    nth_pst_node n;
    nth_pst_tc *tc = NULL;
    if (nth_pst_nbt_lookup(f, nid, &n, e) || nth_pst_tc_open(f, &n, &tc, e)) return NULL;
    return tc;
}

typedef struct tree_ctx {
    nth_pst_file *f;
    const pst_opts *o;
    uint32_t *seen;
    size_t nseen, cap;
    pst_findings problems;
    size_t folders;
} tree_ctx;

/* Adds nid to the set of folders shown (open addressing; NIDs are never 0 here, as a NID
 * of 0 would be type HID, not a folder); false when it was there already. */
static bool mark(tree_ctx *t, uint32_t nid)
{
    uint32_t key = nid ? nid : 0xFFFFFFFFu;
    if ((t->nseen + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        uint32_t *s = calloc(cap, sizeof *s);
        if (!s) return false;
        for (size_t i = 0; i < t->cap; i++)
            if (t->seen[i]) {
                size_t j = (t->seen[i] * 2654435761u) & (cap - 1);
                while (s[j]) j = (j + 1) & (cap - 1);
                s[j] = t->seen[i];
            }
        free(t->seen);
        t->seen = s;
        t->cap = cap;
    }
    size_t j = (key * 2654435761u) & (t->cap - 1);
    for (; t->seen[j]; j = (j + 1) & (t->cap - 1))
        if (t->seen[j] == key) return false;
    t->seen[j] = key;
    t->nseen++;
    return true;
}

/* One folder as the object `key` (NULL: an element of "children"), then its subfolders. */
static void show_folder(tree_ctx *t, const char *key, uint32_t nid, const char *name, int64_t items,
                        int64_t unread, int depth)
{
    char indent[2 * DEPTH_MAX + 1];
    memset(indent, ' ', 2 * (size_t)depth);
    indent[2 * depth] = 0;
    t->folders++;
    emit *out = t->o->e;
    emit_object_begin(out, key, NULL);
    emit_fields(out, EMIT_COLUMNS({NULL, EMIT_STR, "%s", NULL}, {"name", EMIT_STR, NULL, NULL},
                                  {NULL, EMIT_STR, "%s", NULL}, {"nid", EMIT_HEX, "  (0x%" PRIX64, NULL},
                                  {"items", EMIT_I64, ", %" PRId64 " item", NULL}, {NULL, EMIT_BOOL, "s", NULL},
                                  {"unread", EMIT_I64, ", %" PRId64 " unread)\n", NULL}),
                indent, name ? name : "", name && *name ? name : "(no name)",
                (uint64_t)nid, items, (int)(items != 1), unread);
    emit_array_begin(out, "children");
    nth_pst_error e;
    nth_pst_tc *tc = NULL;
    if ((nid & 0x1F) != 0x02)
        ; /* only normal folders have subfolders (a search folder has a search table) */
    else if (depth >= DEPTH_MAX)
        pst_findings_add(&t->problems, false, "folder 0x%X: nested deeper than %d levels", nid,
                         DEPTH_MAX);
    else if (!(tc = open_tc(t->f, table_of(nid, 0x0D), &e)))
        pst_findings_add(&t->problems, false, "hierarchy table of folder 0x%X: %s", nid,
                         e.message);
    for (size_t r = 0; tc && r < nth_pst_tc_row_count(tc); r++) {
        uint32_t child = nth_pst_tc_row_id(tc, r);
        if (!mark(t, child)) {
            pst_findings_add(&t->problems, false,
                             "hierarchy table 0x%X row %zu: folder 0x%X is listed again (a "
                             "cycle or a repeat); not entered twice", table_of(nid, 0x0D), r,
                             child);
            continue;
        }
        nth_pst_prop pn, pc, pu;
        bool hn = row_cell(tc, r, TAG_NAME, &pn), hc = row_cell(tc, r, TAG_COUNT, &pc),
             hu = row_cell(tc, r, TAG_UNREAD, &pu);
        char *cname = hn ? text_of(&pn) : NULL;
        show_folder(t, NULL, child, cname, int_of(hc ? &pc : NULL, 0), int_of(hu ? &pu : NULL, 0),
                    depth + 1);
        free(cname);
    }
    nth_pst_tc_close(tc);
    emit_array_end(out);
    emit_object_end(out);
}

int pst_cmd_tree(nth_pst_file *f, const pst_opts *o)
{
    tree_ctx t = {.f = f, .o = o};
    nth_pst_pc *pc = open_pc(f, ROOT_FOLDER);
    if (!pc) return pst_cli_fail(o, "the root folder (NID 0x%X) has no readable PC", ROOT_FOLDER);
    char *name = text_of(nth_pst_pc_find(pc, TAG_NAME));
    mark(&t, ROOT_FOLDER);
    emit_fields(o->e, EMIT_COLUMNS({"file", EMIT_STR, NULL, NULL}), o->file);
    show_folder(&t, "root", ROOT_FOLDER, name ? name : "(root)",
                int_of(nth_pst_pc_find(pc, TAG_COUNT), 0), int_of(nth_pst_pc_find(pc, TAG_UNREAD), 0),
                0);
    free(name);
    nth_pst_pc_close(pc);
    pst_findings_emit(o, "problems", "problem: %s\n", &t.problems);
    emit_fields(o->e, EMIT_COLUMNS({"folders", EMIT_U64, "%" PRIu64 " folders", NULL},
                                   {NULL, EMIT_U64, ", %" PRIu64 " problems\n", NULL}),
                (uint64_t)t.folders, (uint64_t)t.problems.problems);
    int rc = t.problems.problems ? 1 : 0;
    pst_findings_free(&t.problems);
    free(t.seen);
    return rc;
}

/* Resolves "Name/Name/..." from the root folder through hierarchy tables. */
static bool folder_by_names(nth_pst_file *f, const char *path, uint32_t *out)
{
    uint32_t nid = ROOT_FOLDER;
    const char *p = path;
    for (int depth = 0; *p && depth < DEPTH_MAX; depth++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        nth_pst_tc *tc = open_tc(f, table_of(nid, 0x0D), NULL);
        bool found = false;
        for (size_t r = 0; tc && r < nth_pst_tc_row_count(tc) && !found; r++) {
            nth_pst_prop pn;
            char *name = row_cell(tc, r, TAG_NAME, &pn) ? text_of(&pn) : NULL;
            if (name && strlen(name) == len && strncmp(name, p, len) == 0) {
                nid = nth_pst_tc_row_id(tc, r);
                found = true;
            }
            free(name);
        }
        nth_pst_tc_close(tc);
        if (!found) return false;
        p = slash ? slash + 1 : p + len;
    }
    *out = nid;
    return *p == 0;
}

int pst_cmd_ls(nth_pst_file *f, const pst_opts *o)
{
    uint32_t folder;
    nth_pst_node_ref ref;
    nth_pst_error e;
    if (nth_pst_resolve_path(f, o->arg, &ref, &e) == NTH_PST_OK && ref.depth == 1)
        folder = ref.node.nid;
    else if (!folder_by_names(f, o->arg, &folder))
        return pst_cli_fail(o, "no folder \"%s\" (give a folder NID or names from the root, "
                               "separated by /)", o->arg);
    uint32_t type = folder & 0x1F;
    if (type != 0x02 && type != 0x03)
        return pst_cli_fail(o, "node 0x%X is a %s, not a folder", folder,
                            nth_pst_nid_type_name(folder));
    uint32_t table = table_of(folder, type == 0x02 ? 0x0E : 0x10);
    nth_pst_tc *tc = open_tc(f, table, &e);
    if (!tc) return pst_cli_fail(o, "contents table 0x%X: %s", table, e.message);
    size_t rows = nth_pst_tc_row_count(tc);
    emit_fields(o->e, EMIT_COLUMNS({"folder", EMIT_HEX, "Folder 0x%" PRIX64, NULL},
                                   {NULL, EMIT_U64, ": %" PRIu64 " item", NULL}, {NULL, EMIT_BOOL, "s\n", "\n"}),
                (uint64_t)folder, (uint64_t)rows, (int)(rows != 1));
    static const emit_column columns[] = {
        {"nid", EMIT_HEX, "0x%-9" PRIX64, NULL},
        {"date", EMIT_STR, NULL, NULL},
        {NULL, EMIT_STR, " %-20.20s", NULL}, /* seconds are enough in a listing */
        {"size", EMIT_I64, " %8" PRId64, NULL},
        {"attachments", EMIT_U64, " %4" PRIu64, NULL},
        {"sender", EMIT_STR, "  %-21.21s", NULL},
        {"subject", EMIT_STR, " %s", NULL},
    };
    emit_table_begin(o->e, "items", "NID         Date                    Size  Att  Sender                Subject",
                     columns, 7, NULL);
    for (size_t r = 0; r < rows; r++) {
        uint32_t nid = nth_pst_tc_row_id(tc, r);
        nth_pst_pc *pc = open_pc(f, nid);
        nth_pst_prop cell;
        const nth_pst_prop *v;
#define FIELD(id) (row_cell(tc, r, (id), &cell) ? &cell : (pc ? nth_pst_pc_find(pc, (id)) : NULL))
        char *subject = text_of(FIELD(TAG_SUBJECT));
        char *sender = text_of(FIELD(TAG_SENDER));
        if (!sender) sender = text_of(FIELD(TAG_SENT_REPR));
        char date[64] = "";
        v = FIELD(TAG_DELIVERY);
        if (!v) v = FIELD(TAG_SUBMIT);
        if (v) nth_pst_prop_format(v, date, sizeof date, 0);
        char listed[64];
        snprintf(listed, sizeof listed, "%s", date);
        char *frac = strchr(listed, '.');
        if (frac) strcpy(frac, "Z");
        int64_t size = int_of(FIELD(TAG_SIZE), -1);
        int64_t flags = int_of(FIELD(TAG_FLAGS), 0);
#undef FIELD
        size_t attachments = 0;
        nth_pst_node_ref aref;
        char apath[64];
        snprintf(apath, sizeof apath, "0x%X/0x671", nid);
        nth_pst_tc *att = NULL;
        if ((flags & MSGFLAG_HASATTACH) && nth_pst_resolve_path(f, apath, &aref, NULL) == NTH_PST_OK &&
            nth_pst_tc_open(f, &aref.node, &att, NULL) == NTH_PST_OK)
            attachments = nth_pst_tc_row_count(att);
        nth_pst_tc_close(att);
        emit_row(o->e, (uint64_t)nid, date, listed, size, (uint64_t)attachments, sender ? sender : "",
                 subject ? subject : "");
        free(subject);
        free(sender);
        nth_pst_pc_close(pc);
    }
    emit_table_end(o->e);
    nth_pst_tc_close(tc);
    return 0;
}
