/*
 * test_pst_samples.c — the three public sample files: every heap found and checked against an
 * independent inventory, every page and block sound, ANSI and Unicode copies of the same
 * mailbox giving the same values, the file re-encoded with each bCryptMethod giving the same
 * heaps, and damaged copies failing with errors that name the structure and its offset.
 *
 * Paths are relative to the repository root (the working directory of the test runner).
 */
#include "harness/harness.h"
#include "ntheap/pst.h"
#include "pst/pst_test.h"

#define DATA "tests/data/pst/"

static const char *const samples[3] = {"pstsdk-test_ansi", "pstsdk-sample1", "pstsdk-sample2"};


static nth_pst_file *open_sample(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s.pst", name);
    nth_pst_file *f = NULL;
    nth_pst_error err;
    if (nth_pst_open(path, &f, &err)) fprintf(stderr, "  %s: %s\n", path, err.message);
    return f;
}

/* ------------------------------------------------------------- heap inventory comparison */

typedef struct inventory {
    char lines[64][256];
    size_t count;
    size_t problems;
    size_t pcs;
    size_t allocs;
} inventory;

static int inv_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                    const nth_pst_error *e)
{
    inventory *inv = ctx;
    if (!hn) {
        fprintf(stderr, "  heap failed: %s\n", e->message);
        inv->problems++;
        return 0;
    }
    if (inv->count == 64) return 1;
    char path[96];
    nth_pst_path_format(ref, path, sizeof path);
    nth_pst_hn_page pg;
    nth_pst_hn_page_info(hn, 0, &pg);
    size_t size0;
    const uint8_t *p0 = nth_pst_hn_page_data(hn, 0, &size0);
    snprintf(inv->lines[inv->count++], 256, "%s 0x%llX %zu %zu 0x%02X 0x%X %u %u 0x%X %02X%02X%02X%02X",
             path, (unsigned long long)ref->node.bid_data, nth_pst_hn_page_count(hn), size0,
             nth_pst_hn_client_sig(hn), nth_pst_hn_user_root(hn), pg.alloc_count, pg.free_count,
             pg.ib_hnpm, p0[8], p0[9], p0[10], p0[11]);
    inv->problems += nth_pst_hn_validate(hn, NULL, NULL);
    inv->allocs += nth_pst_hn_alloc_count(hn);
    if (nth_pst_hn_client_sig(hn) == NTH_PST_CLIENT_PC) inv->pcs++;
    return 0;
}

static void inv_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    (void)ref;
    fprintf(stderr, "  walk problem: %s\n", e->message);
    ((inventory *)ctx)->problems++;
}

TEST(every_heap_matches_the_independent_inventory)
{
    for (size_t s = 0; s < 3; s++) {
        nth_pst_file *f = open_sample(samples[s]);
        REQUIRE(f);
        inventory *inv = calloc(1, sizeof *inv);
        nth_pst_error err;
        CHECK(nth_pst_walk_heaps(f, inv_heap, inv_problem, inv, &err) == NTH_PST_OK);
        CHECK_EQ(inv->problems, 0);
        char path[256];
        snprintf(path, sizeof path, DATA "%s.heaps.txt", samples[s]);
        FILE *ref = fopen(path, "r");
        REQUIRE(ref);
        char line[256];
        size_t k = 0;
        while (fgets(line, sizeof line, ref)) {
            if (line[0] == '#' || line[0] == '\n') continue;
            line[strcspn(line, "\n")] = 0;
            if (k < inv->count) {
                if (strcmp(line, inv->lines[k]) != 0)
                    fprintf(stderr, "  %s heap %zu:\n    want %s\n    got  %s\n", samples[s], k,
                            line, inv->lines[k]);
                CHECK_STR(inv->lines[k], line);
            }
            k++;
        }
        fclose(ref);
        CHECK_EQ(inv->count, k);
        free(inv);
        nth_pst_close(f);
    }
}

/* --------------------------------------------------------------- NDB counts and soundness */

static int count_entry(void *ctx, const nth_pst_block_entry *e)
{
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

static int count_node(void *ctx, const nth_pst_node *n)
{
    (void)n;
    (*(size_t *)ctx)++;
    return 0;
}

typedef struct block_ctx {
    nth_pst_file *f;
    size_t read, failed, internal;
} block_ctx;

static int read_each(void *ctx, const nth_pst_block_entry *e)
{
    block_ctx *b = ctx;
    uint8_t *data;
    size_t size;
    nth_pst_error err;
    if (nth_pst_read_block(b->f, e->bid, &data, &size, &err)) {
        fprintf(stderr, "  %s\n", err.message);
        b->failed++;
        return 0;
    }
    b->read++;
    if (e->bid & 2) b->internal++;
    CHECK_EQ(size, e->cb);
    free(data);
    return 0;
}

TEST(btree_counts_and_every_block_sound)
{
    /* NBT / BBT entry counts of each sample (its SOURCES.md and libpff agree) */
    static const size_t nbt[3] = {47, 52, 52}, bbt[3] = {38, 61, 60};
    for (size_t s = 0; s < 3; s++) {
        nth_pst_file *f = open_sample(samples[s]);
        REQUIRE(f);
        size_t nb = 0, nn = 0, pages = 0;
        CHECK(nth_pst_bbt_foreach(f, count_entry, &nb, &pages, NULL) == NTH_PST_OK);
        CHECK(pages >= 1);
        CHECK(nth_pst_nbt_foreach(f, count_node, &nn, NULL, NULL) == NTH_PST_OK);
        CHECK_EQ(nb, bbt[s]);
        CHECK_EQ(nn, nbt[s]);
        block_ctx b = {f, 0, 0, 0};
        CHECK(nth_pst_bbt_foreach(f, read_each, &b, NULL, NULL) == NTH_PST_OK);
        CHECK_EQ(b.read, bbt[s]);
        CHECK_EQ(b.failed, 0);
        /* lookups agree with iteration */
        nth_pst_node n;
        CHECK(nth_pst_nbt_lookup(f, 0x21, &n, NULL) == NTH_PST_OK);
        CHECK_EQ(n.nid, 0x21);
        nth_pst_error err;
        CHECK(nth_pst_nbt_lookup(f, 0x25, &n, &err) == NTH_PST_E_NOT_FOUND);
        nth_pst_block_entry be;
        CHECK(nth_pst_bbt_lookup(f, n.bid_data, &be, NULL) == NTH_PST_OK);
        CHECK(nth_pst_bbt_lookup(f, 0x7FFFFFF0, &be, NULL) == NTH_PST_E_NOT_FOUND);
        const nth_pst_info *in = nth_pst_get_info(f);
        CHECK_EQ(in->crypt, NTH_PST_CRYPT_PERMUTE);
        CHECK_EQ(in->unicode, s == 1);
        CHECK_EQ(in->file_size, 271360);
        nth_pst_close(f);
    }
}

TEST(sample1_data_and_subnode_trees)
{
    nth_pst_file *f = open_sample("pstsdk-sample1");
    REQUIRE(f);
    nth_pst_node_ref ref;
    REQUIRE(nth_pst_resolve_path(f, "0x200024", &ref, NULL) == NTH_PST_OK);
    nth_pst_node *subs;
    size_t count;
    REQUIRE(nth_pst_read_subnodes(f, ref.node.bid_sub, &subs, &count, NULL) == NTH_PST_OK);
    CHECK(count >= 3);
    for (size_t i = 1; i < count; i++) CHECK(subs[i - 1].nid < subs[i].nid);
    free(subs);
    REQUIRE(nth_pst_resolve_path(f, "0x200024/0x8025", &ref, NULL) == NTH_PST_OK);
    CHECK_EQ(ref.depth, 2);
    nth_pst_pc *pc;
    REQUIRE(nth_pst_pc_open(f, &ref.node, &pc, NULL) == NTH_PST_OK);
    /* the attachment's bytes live in a subnode whose data tree is an XBLOCK (a JPEG that
     * pffexport writes as a 93,142-byte file) */
    const nth_pst_prop *p = nth_pst_pc_find(pc, 0x3701);
    REQUIRE(p);
    CHECK_EQ(p->where, NTH_PST_WHERE_SUBNODE);
    CHECK_EQ(p->size, 93142);
    CHECK(p->data[0] == 0xFF && p->data[1] == 0xD8); /* JPEG SOI */
    nth_pst_blocks b;
    nth_pst_node *sub2;
    REQUIRE(nth_pst_read_subnodes(f, ref.node.bid_sub, &sub2, &count, NULL) == NTH_PST_OK);
    size_t k = 0;
    while (k < count && sub2[k].nid != p->hnid) k++;
    REQUIRE(k < count);
    REQUIRE(nth_pst_read_data(f, sub2[k].bid_data, &b, NULL) == NTH_PST_OK);
    CHECK(b.count > 1);
    CHECK_EQ(b.total, 93142);
    for (size_t i = 0; i + 1 < b.count; i++) CHECK_EQ(b.size[i], NTH_PST_BLOCK_DATA_MAX_UNICODE);
    nth_pst_blocks_free(&b);
    free(sub2);
    nth_pst_error err;
    CHECK(nth_pst_resolve_path(f, "0x200024/0x9999", &ref, &err) == NTH_PST_E_NOT_FOUND);
    CHECK(nth_pst_resolve_path(f, "0x21/zz", &ref, &err) == NTH_PST_E_INVALID);
    nth_pst_pc_close(pc);
    nth_pst_close(f);
}

/* ------------------------------------------------------------------- ANSI vs Unicode */

/* Items of a multi-valued string (ulCount, ulCount offsets, items) joined with '|'. */
static char *mv_string_text(const nth_pst_prop *p)
{
    if (p->size < 4) return NULL;
    uint32_t n = p->data[0] | p->data[1] << 8 | p->data[2] << 16 | (uint32_t)p->data[3] << 24;
    if (n > p->size / 4) return NULL;
    char *out = calloc(1, p->size * 3 + 2);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *o = p->data + 4 + 4 * i;
        uint32_t begin = o[0] | o[1] << 8 | o[2] << 16 | (uint32_t)o[3] << 24, end = (uint32_t)p->size;
        if (i + 1 < n) end = o[4] | o[5] << 8 | o[6] << 16 | (uint32_t)o[7] << 24;
        if (begin > end || end > p->size) break;
        nth_pst_prop item = *p;
        item.type = p->type & 0xFFF;
        item.data = p->data + begin;
        item.size = end - begin;
        char *t;
        if (nth_pst_prop_utf8(&item, &t) == NTH_PST_OK) {
            if (i) strcat(out, "|");
            strcat(out, t);
            free(t);
        }
    }
    return out;
}

static char *value_text(const nth_pst_prop *p)
{
    char *t = NULL;
    if (p->type == NTH_PST_PT_UNICODE || p->type == NTH_PST_PT_STRING8) {
        nth_pst_prop_utf8(p, &t);
        return t;
    }
    if (p->type == (NTH_PST_PT_MV | NTH_PST_PT_UNICODE) || p->type == (NTH_PST_PT_MV | NTH_PST_PT_STRING8))
        return mv_string_text(p);
    size_t n = nth_pst_prop_format(p, NULL, 0, 0);
    t = malloc(n + 1);
    nth_pst_prop_format(p, t, n + 1, 0);
    return t;
}

/* The same property in both files: strings compare as text (PtypString in Unicode,
 * PtypString8 in ANSI), everything else byte for byte. Values that name the file itself
 * (record keys and entry IDs built from them, the store/folder name, sizes) differ
 * legitimately and are listed. */
static bool expected_to_differ(uint32_t nid, uint16_t id)
{
    /* ids from 0x8000 are named properties, numbered per file by its name-to-id map */
    if (id >= 0x8000) return true;
    switch (id) {
    case 0x0E34: /* PidTagReplVersionhistory: per store */
    case 0x0FF9: /* PidTagRecordKey: per store */
    case 0x3416: /* store entry ID, built from the record key */
    case 0x35E0:
    case 0x35E3:
    case 0x35E7: /* entry IDs built from the record key */
    case 0x66FA: /* PidTagLatestPstEnsure */
    case 0x0E08: /* PidTagMessageSize: string bytes differ */
    case 0x0E20: /* attachment size: likewise */
    case 0x1000: /* PidTagBody: the Unicode copy has typographic apostrophes */
    case 0x1013: /* PidTagBodyHtml: PtypBinary in one, PtypString8 in the other */
    case 0x3008: /* PidTagLastModificationTime: saved at different times */
        return true;
    case 0x3001: /* display names "sample1"/"sample2" and "Sample1"/"Sample2" */
        return nid == 0x21 || nid == 0x8082;
    default: return false;
    }
}

TEST(ansi_and_unicode_samples_give_the_same_values)
{
    nth_pst_file *u = open_sample("pstsdk-sample1"), *a = open_sample("pstsdk-sample2");
    REQUIRE(u && a);
    static const uint32_t nids[] = {0x21, 0x122, 0x8022, 0x8042, 0x8062, 0x8082, 0x2223, 0x80023};
    size_t compared = 0, strings = 0;
    for (size_t i = 0; i < sizeof nids / sizeof nids[0] + 2; i++) {
        char path[32];
        if (i < sizeof nids / sizeof nids[0])
            snprintf(path, sizeof path, "0x%X", nids[i]);
        else
            snprintf(path, sizeof path, "%s", i == sizeof nids / sizeof nids[0] ? "0x200024" : "0x200024/0x8025");
        nth_pst_node_ref ru, ra;
        nth_pst_pc *pu, *pa;
        REQUIRE(nth_pst_resolve_path(u, path, &ru, NULL) == NTH_PST_OK);
        REQUIRE(nth_pst_resolve_path(a, path, &ra, NULL) == NTH_PST_OK);
        REQUIRE(nth_pst_pc_open(u, &ru.node, &pu, NULL) == NTH_PST_OK);
        REQUIRE(nth_pst_pc_open(a, &ra.node, &pa, NULL) == NTH_PST_OK);
        CHECK(nth_pst_pc_count(pu) >= nth_pst_pc_count(pa));
        for (size_t k = 0; k < nth_pst_pc_count(pa); k++) {
            const nth_pst_prop *pA = nth_pst_pc_at(pa, k), *pU = nth_pst_pc_find(pu, pA->id);
            CHECK(pU != NULL);
            if (!pU || expected_to_differ(ru.node.nid, pA->id)) continue;
            bool str = (pA->type & 0xFFF) == NTH_PST_PT_STRING8;
            CHECK_EQ(pU->type, str ? (pA->type | 1) : pA->type);
            char *tu = value_text(pU), *ta = value_text(pA);
            if (!tu || !ta || strcmp(tu, ta) != 0) {
                fprintf(stderr, "  %s 0x%04X: unicode %.80s / ansi %.80s\n", path, pA->id,
                        tu ? tu : "?", ta ? ta : "?");
                CHECK(false);
            }
            compared++;
            strings += str;
            free(tu);
            free(ta);
        }
        nth_pst_pc_close(pu);
        nth_pst_pc_close(pa);
    }
    CHECK(compared > 100);
    CHECK(strings > 20);
    nth_pst_close(u);
    nth_pst_close(a);
}

/* --------------------------------------------------------- re-encoding with each method */

typedef struct prop_dump {
    nth_pst_file *f;
    char *text;
    size_t len;
    size_t pcs;
} prop_dump;

/* Every property of every PC in the file, as one string. */
static int dump_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                     const nth_pst_error *e)
{
    (void)e;
    prop_dump *d = ctx;
    if (!hn || nth_pst_hn_client_sig(hn) != NTH_PST_CLIENT_PC) return 0;
    nth_pst_pc *pc;
    if (nth_pst_pc_open(d->f, &ref->node, &pc, NULL)) return 0;
    d->pcs++;
    for (size_t i = 0; i < nth_pst_pc_count(pc); i++) {
        char *t = value_text(nth_pst_pc_at(pc, i));
        size_t n = strlen(t);
        d->text = realloc(d->text, d->len + n + 2);
        memcpy(d->text + d->len, t, n);
        d->len += n;
        d->text[d->len++] = '\n';
        d->text[d->len] = 0;
        free(t);
    }
    nth_pst_pc_close(pc);
    return 0;
}

TEST(same_heaps_under_every_crypt_method)
{
    for (size_t s = 0; s < 3; s++) {
        char path[256];
        snprintf(path, sizeof path, DATA "%s.pst", samples[s]);
        size_t size;
        uint8_t *orig = slurp(path, &size);
        REQUIRE(orig);
        nth_pst_file *f;
        REQUIRE(nth_pst_open_memory(orig, size, &f, NULL) == NTH_PST_OK);
        bool unicode = nth_pst_get_info(f)->unicode;
        prop_dump base = {f, NULL, 0, 0};
        CHECK(nth_pst_walk_heaps(f, dump_heap, NULL, &base, NULL) == NTH_PST_OK);
        CHECK_EQ(base.pcs, s == 0 ? 10 : 13);
        REQUIRE(base.len > 1000);
        for (uint8_t method = 0; method <= 2; method++) {
            uint8_t *img = malloc(size);
            memcpy(img, orig, size);
            reencode(img, size, unicode, f, method);
            if (method == NTH_PST_CRYPT_PERMUTE) CHECK(memcmp(img, orig, size) == 0);
            else CHECK(memcmp(img, orig, size) != 0);
            nth_pst_file *g;
            nth_pst_error err;
            REQUIRE(nth_pst_open_memory(img, size, &g, &err) == NTH_PST_OK);
            CHECK_EQ(nth_pst_get_info(g)->crypt, method);
            prop_dump other = {g, NULL, 0, 0};
            CHECK(nth_pst_walk_heaps(g, dump_heap, NULL, &other, NULL) == NTH_PST_OK);
            CHECK_EQ(other.pcs, base.pcs);
            CHECK(other.len == base.len && memcmp(other.text, base.text, base.len) == 0);
            free(other.text);
            nth_pst_close(g);
            free(img);
        }
        free(base.text);
        nth_pst_close(f);
        free(orig);
    }
}

/* ---------------------------------------------------------------------- damaged files */

typedef struct sink_ctx {
    size_t heaps, problems;
} sink_ctx;

static int sink_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                     const nth_pst_error *e)
{
    (void)ref;
    sink_ctx *c = ctx;
    c->heaps++;
    if (!hn) {
        c->problems++;
        CHECK(e && e->message[0]);
        return 0;
    }
    c->problems += nth_pst_hn_validate(hn, NULL, NULL);
    if (nth_pst_hn_client_sig(hn) == NTH_PST_CLIENT_PC) {
        nth_pst_pc *pc;
        if (nth_pst_pc_from_hn(hn, &pc, NULL) == NTH_PST_OK) nth_pst_pc_close(pc);
    }
    return 0;
}

static void sink_problem(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e)
{
    (void)ref;
    (void)e;
    ((sink_ctx *)ctx)->problems++;
}

typedef struct block_end_ctx {
    uint64_t end;
} block_end_ctx;

static int block_end(void *ctx, const nth_pst_block_entry *e)
{
    block_end_ctx *c = ctx;
    uint64_t end = e->ib + (e->cb + 16u + 63u) / 64u * 64u;
    if (end > c->end) c->end = end;
    return 0;
}

static int read_each_quiet(void *ctx, const nth_pst_block_entry *e)
{
    block_ctx *b = ctx;
    uint8_t *data;
    size_t size;
    nth_pst_error err;
    if (nth_pst_read_block(b->f, e->bid, &data, &size, &err)) {
        CHECK(strstr(err.message, "offset 0x") != NULL);
        b->failed++;
        return 0;
    }
    free(data);
    return 0;
}

TEST(truncated_files_fail_with_named_offsets)
{
    size_t size;
    uint8_t *img = slurp(DATA "pstsdk-sample1.pst", &size);
    REQUIRE(img);
    /* Header cut short */
    nth_pst_file *f;
    nth_pst_error err;
    CHECK(nth_pst_open_memory(img, 100, &f, &err) == NTH_PST_E_UNSUPPORTED);
    CHECK_STR(err.structure, "HEADER");
    /* The end of the last block the BBT lists: a cut anywhere before it must be noticed */
    REQUIRE(nth_pst_open_memory(img, size, &f, NULL) == NTH_PST_OK);
    block_end_ctx be = {0};
    nth_pst_bbt_foreach(f, block_end, &be, NULL, NULL);
    nth_pst_close(f);
    REQUIRE(be.end > 0x4800 && be.end <= size);
    size_t cuts = 0;
    for (size_t cut = 512; cut < be.end; cut += 997) {
        cuts++;
        if (nth_pst_open_memory(img, cut, &f, &err)) {
            CHECK(strstr(err.message, "offset 0x") != NULL);
            continue;
        }
        block_ctx b = {f, 0, 0, 0};
        sink_ctx c = {0};
        nth_pst_status st1 = nth_pst_bbt_foreach(f, read_each_quiet, &b, NULL, &err);
        nth_pst_status st2 = nth_pst_walk_heaps(f, sink_heap, sink_problem, &c, &err);
        CHECK(st1 != NTH_PST_OK || st2 != NTH_PST_OK || b.failed > 0);
        if (st2) CHECK(strstr(err.message, "offset 0x") != NULL);
        nth_pst_close(f);
    }
    CHECK(cuts > 20);
    /* a file cut just before the NBT root page: the error names the page and its offset */
    CHECK(nth_pst_open_memory(img, 0x9A00 + 100, &f, &err) != NTH_PST_OK);
    CHECK(strstr(err.message, "0x9a00") != NULL);
    free(img);
}

TEST(corrupt_bytes_fail_with_named_structures)
{
    size_t size;
    uint8_t *orig = slurp(DATA "pstsdk-sample2.pst", &size);
    REQUIRE(orig);
    uint8_t *img = malloc(size);
    nth_pst_file *f;
    nth_pst_error err;

    memcpy(img, orig, size);
    img[10] = 36; /* wVer of a 4K-page OST: unsupported */
    CHECK(nth_pst_open_memory(img, size, &f, &err) == NTH_PST_E_UNSUPPORTED);
    CHECK(strstr(err.message, "wVer 36") != NULL);

    memcpy(img, orig, size);
    img[8] = 'S'; img[9] = 'O'; /* an OST */
    CHECK(nth_pst_open_memory(img, size, &f, &err) == NTH_PST_E_UNSUPPORTED);

    memcpy(img, orig, size);
    img[100] ^= 1; /* inside the CRC-covered header */
    CHECK(nth_pst_open_memory(img, size, &f, &err) == NTH_PST_E_CORRUPT);
    CHECK(strstr(err.message, "dwCRCPartial") != NULL);

    /* NBT root page byte flipped (sample2: NBT root at 0x8800) */
    memcpy(img, orig, size);
    img[0x8800 + 3] ^= 0x40;
    REQUIRE(nth_pst_open_memory(img, size, &f, &err) == NTH_PST_OK);
    nth_pst_node n;
    CHECK(nth_pst_nbt_lookup(f, 0x21, &n, &err) == NTH_PST_E_CORRUPT);
    CHECK_STR(err.structure, "NBT page");
    CHECK_EQ(err.offset, 0x8800);
    CHECK(strstr(err.message, "CRC") != NULL);
    nth_pst_close(f);

    /* A data block byte flipped: the block CRC catches it and names the trailer offset */
    memcpy(img, orig, size);
    REQUIRE(nth_pst_open_memory(orig, size, &f, NULL) == NTH_PST_OK);
    CHECK(nth_pst_nbt_lookup(f, 0x21, &n, NULL) == NTH_PST_OK);
    nth_pst_block_entry be;
    CHECK(nth_pst_bbt_lookup(f, n.bid_data, &be, NULL) == NTH_PST_OK);
    nth_pst_close(f);
    img[be.ib + 5] ^= 0x10;
    REQUIRE(nth_pst_open_memory(img, size, &f, &err) == NTH_PST_OK);
    nth_pst_hn *hn;
    CHECK(nth_pst_hn_load(f, n.bid_data, &hn, &err) == NTH_PST_E_CORRUPT);
    CHECK_STR(err.structure, "BLOCKTRAILER");
    CHECK(err.offset > be.ib && err.offset < be.ib + 8192);
    nth_pst_close(f);

    /* Random single-byte damage anywhere: never a crash, and a difference is either harmless
     * or reported */
    harness_rng rng = {0x9E3779B97F4A7C15ull};
    for (int round = 0; round < 300; round++) {
        memcpy(img, orig, size);
        size_t at = (size_t)harness_rand_range(&rng, 0, size - 1);
        img[at] ^= (uint8_t)harness_rand_range(&rng, 1, 255);
        if (nth_pst_open_memory(img, size, &f, &err)) continue;
        sink_ctx c = {0};
        nth_pst_walk_heaps(f, sink_heap, sink_problem, &c, &err);
        nth_pst_close(f);
    }
    free(img);
    free(orig);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(every_heap_matches_the_independent_inventory);
    RUN(btree_counts_and_every_block_sound);
    RUN(sample1_data_and_subnode_trees);
    RUN(ansi_and_unicode_samples_give_the_same_values);
    RUN(same_heaps_under_every_crypt_method);
    RUN(truncated_files_fail_with_named_offsets);
    RUN(corrupt_bytes_fail_with_named_structures);
    return harness_finish(argv[0]);
}
