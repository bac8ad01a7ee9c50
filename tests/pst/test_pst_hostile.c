/*
 * test_pst_hostile.c — crafted hostile files, made here from a sample, must neither stall the
 * library nor pass as sound:
 *
 *     self_sl      every SLENTRY of a subnode tree names that same SLBLOCK as its own subnode
 *                  tree (CRC fixed): one cycle, reported once, walk stays small
 *     amplify      an XXBLOCK of 1,021 copies of one XBLOCK of 1,021 copies of one 8 KB block,
 *                  the data tree of every NBT node: rejected on the first repeat, fast
 *     truncated    the file cut at 60 %: ROOT.ibFileEof names the missing bytes
 *     bad_bsig     the root folder's heap with bSig 0x00: still listed, reported
 *     wrong_client the root folder's heap carrying the TC signature: reported
 *     amap_hole    the AMap bits of a block in use cleared (page CRC fixed): reported
 *     block_in_header  a data block moved into the header area, below the first AMap page
 *     stale_next_bid   the header's bidNextB below the BIDs in use
 *     value_size   a 16-byte binary value of the message store's PC retyped PtypInteger64
 *
 * With "--write DIR" the program writes the crafted files to DIR (used by pst_hostile.sh for
 * the CLI under time and memory limits, and by the fuzz smoke run as seeds) and exits.
 */
#include <sys/resource.h>
#include <time.h>

#include "harness/harness.h"
#include "ntheap/pst.h"
#include "pst/pst_test.h"

#define SAMPLE "tests/data/pst/pstsdk-sample1.pst"

typedef struct image {
    uint8_t *d;
    size_t size;
} image;


static uint64_t rd(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wr(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The sample is Unicode and permute-encoded; the functions below assume both. */
enum { W = 8, TRAILER = 16, PAGE_DATA = 496 };

static void fix_page(image *im, uint64_t any_ib_in_page)
{
    uint64_t page = any_ib_in_page & ~(uint64_t)511;
    wr(im->d + page + 500, nth_pst_crc(0, im->d + page, PAGE_DATA), 4);
}

static size_t block_total(size_t cb) { return (cb + TRAILER + 63) & ~(size_t)63; }

/* Writes a block (data blocks are permute-encoded) with its trailer at ib. */
static void put_block(image *im, uint64_t ib, uint64_t bid, const uint8_t *data, size_t cb)
{
    uint8_t *p = im->d + ib;
    size_t total = block_total(cb);
    memset(p, 0, total);
    memcpy(p, data, cb);
    if (!(bid & 2)) nth_pst_permute_encode(p, cb);
    uint8_t *t = p + total - TRAILER;
    wr(t, cb, 2);
    wr(t + 2, nth_pst_block_signature(ib, bid), 2);
    wr(t + 4, nth_pst_crc(0, p, cb), 4);
    wr(t + 8, bid, 8);
}

/* Grows the image by a block of cb bytes; returns its offset. */
static uint64_t append(image *im, size_t cb)
{
    uint64_t ib = (im->size + 63) & ~(uint64_t)63;
    size_t grow = (size_t)ib + block_total(cb);
    im->d = realloc(im->d, grow);
    memset(im->d + im->size, 0, grow - im->size);
    im->size = grow;
    return ib;
}

typedef struct finder {
    nth_pst_block_entry blocks[256];
    size_t nblocks;
    nth_pst_node nodes[256];
    size_t nnodes;
} finder;

static int find_block(void *ctx, const nth_pst_block_entry *e)
{
    finder *f = ctx;
    if (f->nblocks < 256) f->blocks[f->nblocks++] = *e;
    return 0;
}

static int find_node(void *ctx, const nth_pst_node *n)
{
    finder *f = ctx;
    if (f->nnodes < 256) f->nodes[f->nnodes++] = *n;
    return 0;
}

static void scan(const image *im, finder *fd)
{
    memset(fd, 0, sizeof *fd);
    nth_pst_file *f;
    if (nth_pst_open_memory(im->d, im->size, &f, NULL)) return;
    nth_pst_bbt_foreach(f, find_block, fd, NULL, NULL);
    nth_pst_nbt_foreach(f, find_node, fd, NULL, NULL);
    nth_pst_close(f);
}

static const nth_pst_block_entry *block_of(const finder *fd, uint64_t bid)
{
    for (size_t i = 0; i < fd->nblocks; i++)
        if ((fd->blocks[i].bid & ~1ull) == (bid & ~1ull)) return &fd->blocks[i];
    return NULL;
}

static const nth_pst_node *node_of(const finder *fd, uint32_t nid)
{
    for (size_t i = 0; i < fd->nnodes; i++)
        if (fd->nodes[i].nid == nid) return &fd->nodes[i];
    return NULL;
}

static image load(void)
{
    image im = {0};
    im.d = slurp(SAMPLE, &im.size);
    return im;
}

/* The sample with node `nid`'s data block (a single data block, not an XBLOCK) decoded into
 * data (8192 bytes); *entry names the block. im->d is NULL when the node has no such block. */
static image with_node_block(uint32_t nid, const nth_pst_block_entry **entry, finder *fd, uint8_t *data)
{
    image im = load();
    scan(&im, fd);
    const nth_pst_node *n = node_of(fd, nid);
    const nth_pst_block_entry *b = n ? block_of(fd, n->bid_data) : NULL;
    if (!b || (b->bid & 2) || b->cb > 8192) {
        free(im.d);
        im.d = NULL;
        return im;
    }
    memcpy(data, im.d + b->ib, b->cb);
    nth_pst_permute_decode(data, b->cb);
    *entry = b;
    return im;
}

/* ------------------------------------------------------------------------- the crafts */

static image craft_self_sl(void)
{
    image im = load();
    finder fd;
    scan(&im, &fd);
    /* the SLBLOCK with the most entries: the worst case for a walk that follows cycles */
    const nth_pst_block_entry *best = NULL;
    for (size_t i = 0; i < fd.nnodes; i++) {
        const nth_pst_block_entry *b = block_of(&fd, fd.nodes[i].bid_sub);
        if (!fd.nodes[i].bid_sub || !b || im.d[b->ib] != 2 || im.d[b->ib + 1] != 0) continue;
        if (!best || rd(im.d + b->ib + 2, 2) > rd(im.d + best->ib + 2, 2)) best = b;
    }
    if (!best) {
        free(im.d);
        im.d = NULL;
        return im;
    }
    uint8_t *p = im.d + best->ib;
    unsigned count = (unsigned)rd(p + 2, 2);
    for (unsigned k = 0; k < count; k++) wr(p + 8 + k * 24 + 16, best->bid, 8);
    uint8_t copy[8192];
    memcpy(copy, p, best->cb);
    put_block(&im, best->ib, best->bid, copy, best->cb);
    return im;
}

static image craft_amplify(void)
{
    image im = load();
    finder fd;
    scan(&im, &fd);
    const nth_pst_block_entry *data = NULL, *x = NULL, *xx = NULL;
    for (size_t i = 0; i < fd.nblocks; i++) {
        const nth_pst_block_entry *b = &fd.blocks[i];
        if (!(b->bid & 2) && !data && b->cb > 0) data = b;
        else if ((b->bid & 2) && !x) x = b;
        else if ((b->bid & 2) && !xx) xx = b;
    }
    if (!data || !x || !xx) {
        free(im.d);
        im.d = NULL;
        return im;
    }
    nth_pst_block_entry d = *data, bx = *x, bxx = *xx;
    enum { FAN = 1021, BIG = 8176 };
    static uint8_t buf[8192];
    /* the 8 KB data block */
    uint64_t ib = append(&im, BIG);
    for (size_t i = 0; i < BIG; i++) buf[i] = (uint8_t)i;
    put_block(&im, ib, d.bid, buf, BIG);
    wr(im.d + d.ib_entry + W, ib, W);
    wr(im.d + d.ib_entry + 2 * W, BIG, 2);
    fix_page(&im, d.ib_entry);
    /* XBLOCK: FAN x the data block; XXBLOCK: FAN x the XBLOCK */
    for (int level = 1; level <= 2; level++) {
        const nth_pst_block_entry *e = level == 1 ? &bx : &bxx;
        memset(buf, 0, sizeof buf);
        buf[0] = 1;
        buf[1] = (uint8_t)level;
        wr(buf + 2, FAN, 2);
        uint64_t total = (uint64_t)FAN * BIG * (level == 2 ? FAN : 1);
        wr(buf + 4, total, 4);
        for (int k = 0; k < FAN; k++) wr(buf + 8 + 8 * k, level == 1 ? d.bid : bx.bid, 8);
        size_t cb = 8 + 8 * FAN;
        ib = append(&im, cb);
        put_block(&im, ib, e->bid, buf, cb);
        wr(im.d + e->ib_entry + W, ib, W);
        wr(im.d + e->ib_entry + 2 * W, cb, 2);
        fix_page(&im, e->ib_entry);
    }
    /* every NBT node with data now reads the XXBLOCK */
    for (size_t i = 0; i < fd.nnodes; i++) {
        if (!fd.nodes[i].bid_data) continue;
        wr(im.d + fd.nodes[i].ib_entry + W, bxx.bid, W);
        fix_page(&im, fd.nodes[i].ib_entry);
    }
    return im;
}

static image craft_truncated(void)
{
    image im = load();
    im.size = im.size * 6 / 10;
    return im;
}

/* Rewrites byte `at` of the root folder's first (data) block. */
static image craft_root_folder_byte(size_t at, uint8_t value)
{
    finder fd;
    const nth_pst_block_entry *b;
    uint8_t copy[8192];
    image im = with_node_block(0x122, &b, &fd, copy);
    if (!im.d) return im;
    copy[at] = value;
    put_block(&im, b->ib, b->bid, copy, b->cb);
    return im;
}

/* The root folder's hierarchy table (0x802D) names the root folder (0x8022) itself instead of
 * Deleted Items (0x8062): row matrix and row index stay consistent, so the table is sound and
 * only a browser that follows folders can loop. Written with --write for pst_hostile.sh. */
static image craft_folder_cycle(void)
{
    finder fd;
    const nth_pst_block_entry *b;
    uint8_t copy[8192];
    image im = with_node_block(0x802D, &b, &fd, copy);
    if (!im.d) return im;
    for (size_t i = 0; i + 4 <= b->cb; i++)
        if (rd(copy + i, 4) == 0x8062) wr(copy + i, 0x8022, 4);
    put_block(&im, b->ib, b->bid, copy, b->cb);
    return im;
}

static image craft_bad_bsig(void) { return craft_root_folder_byte(2, 0x00); }
static image craft_wrong_client(void) { return craft_root_folder_byte(3, NTH_PST_CLIENT_TC); }

static image craft_amap_hole(void)
{
    image im = load();
    finder fd;
    scan(&im, &fd);
    const nth_pst_node *n = node_of(&fd, 0x21);
    const nth_pst_block_entry *b = n ? block_of(&fd, n->bid_data) : NULL;
    if (!b || b->ib < 0x4400 || b->ib >= 0x4400 + 253952) {
        free(im.d);
        im.d = NULL;
        return im;
    }
    uint64_t bit = (b->ib - 0x4400) / 64;
    im.d[0x4400 + bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    fix_page(&im, 0x4400);
    return im;
}

/* The root folder's data block moved to 0x1000, inside the header area no AMap covers (its BBT
 * entry follows it, CRCs fixed): every block is still found and reads well. */
static image craft_block_in_header(void)
{
    finder fd;
    const nth_pst_block_entry *b;
    uint8_t copy[8192];
    image im = with_node_block(0x122, &b, &fd, copy);
    if (!im.d || block_total(b->cb) > 0x1000) {
        free(im.d);
        im.d = NULL;
        return im;
    }
    put_block(&im, 0x1000, b->bid, copy, b->cb);
    wr(im.d + b->ib_entry + W, 0x1000, W); /* the BBTENTRY's BREF.ib */
    fix_page(&im, b->ib_entry);
    return im;
}

/* The header's bidNextB set below the BIDs in use (dwCRCFull fixed): a writer would reuse one. */
static image craft_stale_next_bid(void)
{
    image im = load();
    wr(im.d + 516, 0x8, W);
    wr(im.d + 524, nth_pst_crc(0, im.d + 8, 516), 4);
    return im;
}

/* Allocation `hid` of page 0 of a decoded heap block d: bytes [rgibAlloc[i-1], rgibAlloc[i]) of
 * its page map, i = hid >> 5 (11 bits). */
static uint8_t *hn_alloc(uint8_t *d, uint32_t hid, size_t *size)
{
    const uint8_t *map = d + rd(d, 2);
    unsigned i = (hid >> 5) & 0x7FF;
    uint64_t from = rd(map + 4 + 2 * (i - 1), 2), to = rd(map + 4 + 2 * i, 2);
    *size = to > from ? (size_t)(to - from) : 0;
    return d + from;
}

/* In the message store's PC, a 16-byte binary value (its record key) retyped PtypInteger64
 * (8 bytes): the leaf's record is found through the HN page map and the BTH header (one level),
 * then the block is re-sealed. */
static image craft_value_size(void)
{
    finder fd;
    const nth_pst_block_entry *b = NULL;
    uint8_t d[8192];
    image im = with_node_block(0x21, &b, &fd, d);
    bool done = false;
    size_t bth_size, leaf_size, value_size;
    const uint8_t *bth = im.d ? hn_alloc(d, (uint32_t)rd(d + 4, 4), &bth_size) : NULL;
    uint8_t *rec = bth && bth_size >= 8 && bth[3] == 0 ? hn_alloc(d, (uint32_t)rd(bth + 4, 4), &leaf_size) : NULL;
    for (size_t k = 0; rec && k < leaf_size / 8 && !done; k++) {
        uint32_t hnid = (uint32_t)rd(rec + 8 * k + 4, 4);
        if (rd(rec + 8 * k + 2, 2) != 0x0102 || (hnid & 0x1F) != 0) continue;
        (void)hn_alloc(d, hnid, &value_size);
        if (value_size == 16) wr(rec + 8 * k + 2, 0x0014, 2), done = true;
    }
    if (!done) {
        free(im.d);
        im.d = NULL;
        return im;
    }
    put_block(&im, b->ib, b->bid, d, b->cb);
    return im;
}

typedef struct craft {
    const char *name;
    image (*make)(void);
    const char *expect; /* a phrase validate must report */
} craft;

static const craft crafts[] = {
    {"self_sl", craft_self_sl, "contains itself"},
    {"amplify", craft_amplify, "which this data tree already holds"},
    {"truncated", craft_truncated, "truncated file"},
    {"bad_bsig", craft_bad_bsig, "bSig 0x00 is not 0xEC, yet node type NORMAL_FOLDER"},
    {"wrong_client", craft_wrong_client, "bClientSig 0x7C (TC), but NORMAL_FOLDER"},
    {"amap_hole", craft_amap_hole, "marked free"},
    {"block_in_header", craft_block_in_header, "lies in the file header"},
    {"stale_next_bid", craft_stale_next_bid, "bidNextB 0x8 is not above every block's BID"},
    {"value_size", craft_value_size, "of type 0x0014: a value of another size than its type's (16 bytes, not 8)"},
};
#define NCRAFTS (sizeof crafts / sizeof crafts[0])

/* ------------------------------------------------------------------------------ tests */

typedef struct seen {
    size_t count, matches;
    const char *expect;
    char first[400];
} seen;

static void on_finding(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e, bool hint)
{
    seen *s = ctx;
    (void)ref;
    if (hint) return;
    if (!s->count) snprintf(s->first, sizeof s->first, "%s", e->message);
    s->count++;
    if (strstr(e->message, s->expect)) s->matches++;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(every_crafted_file_is_unsound_fast_and_names_its_damage)
{
    for (size_t i = 0; i < NCRAFTS; i++) {
        image im = crafts[i].make();
        REQUIRE(im.d != NULL);
        nth_pst_file *f;
        REQUIRE(nth_pst_open_memory(im.d, im.size, &f, NULL) == NTH_PST_OK);
        seen s = {.expect = crafts[i].expect};
        nth_pst_report r;
        double t0 = now();
        CHECK(nth_pst_validate(f, on_finding, &s, &r) == NTH_PST_OK);
        double dt = now() - t0;
        if (r.sound || !s.matches || dt > 2.0 || s.count > 200)
            fprintf(stderr, "  %s: sound %d, %zu findings, %zu match \"%s\", %.2fs; first: %s\n",
                    crafts[i].name, r.sound, s.count, s.matches, s.expect, dt, s.first);
        CHECK(!r.sound);
        CHECK(s.matches >= 1);
        CHECK(dt < 2.0);
        CHECK(s.count <= 200);
        nth_pst_close(f);
        free(im.d);
    }
}

TEST(a_cycle_is_reported_once)
{
    image im = craft_self_sl();
    REQUIRE(im.d != NULL);
    nth_pst_file *f;
    REQUIRE(nth_pst_open_memory(im.d, im.size, &f, NULL) == NTH_PST_OK);
    seen s = {.expect = "contains itself"};
    nth_pst_report r;
    nth_pst_validate(f, on_finding, &s, &r);
    CHECK_EQ(s.matches, 1);
    CHECK(r.nodes < 100); /* 61 nodes in the sample */
    nth_pst_close(f);
    free(im.d);
}

static int count_heap(void *ctx, const nth_pst_node_ref *ref, const nth_pst_hn *hn,
                      const nth_pst_error *e)
{
    (void)ref;
    (void)hn;
    (void)e;
    ++*(size_t *)ctx;
    return 0;
}

TEST(a_heap_with_damaged_bsig_still_counts_as_a_heap)
{
    image im = craft_bad_bsig();
    REQUIRE(im.d != NULL);
    nth_pst_file *f;
    REQUIRE(nth_pst_open_memory(im.d, im.size, &f, NULL) == NTH_PST_OK);
    size_t heaps = 0;
    CHECK(nth_pst_walk_heaps(f, count_heap, NULL, &heaps, NULL) == NTH_PST_OK);
    CHECK_EQ(heaps, 45); /* as in the intact sample */
    nth_pst_close(f);
    free(im.d);
}

TEST(an_amplified_tree_costs_little_time_and_memory)
{
    image im = craft_amplify();
    REQUIRE(im.d != NULL);
    nth_pst_file *f;
    REQUIRE(nth_pst_open_memory(im.d, im.size, &f, NULL) == NTH_PST_OK);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    double t0 = now();
    size_t heaps = 0;
    nth_pst_walk_heaps(f, count_heap, NULL, &heaps, NULL);
    nth_pst_info in = *nth_pst_get_info(f);
    nth_pst_blocks b;
    nth_pst_error e;
    nth_pst_node n;
    REQUIRE(nth_pst_nbt_lookup(f, 0x21, &n, NULL) == NTH_PST_OK);
    CHECK(nth_pst_read_data(f, n.bid_data, &b, &e) == NTH_PST_E_CORRUPT);
    CHECK(strstr(e.message, "already holds") != NULL);
    CHECK(strncmp(e.message, "XBLOCK at offset 0x", 19) == 0);
    getrusage(RUSAGE_SELF, &after);
    CHECK(now() - t0 < 1.0);
    /* peak RSS grows by less than 32 times the file (a few MB), not by gigabytes */
    CHECK((after.ru_maxrss - before.ru_maxrss) * 1024.0 < 32.0 * (double)im.size + 16e6);
    (void)in;
    nth_pst_close(f);
    free(im.d);
}

TEST(nids_are_decimal_or_hex_and_malformed_paths_fail)
{
    uint32_t nid = 0;
    CHECK(nth_pst_parse_nid("010", 3, &nid) == NTH_PST_OK);
    CHECK_EQ(nid, 10);
    CHECK(nth_pst_parse_nid("0x21", 4, &nid) == NTH_PST_OK);
    CHECK_EQ(nid, 0x21);
    CHECK(nth_pst_parse_nid("0x", 2, &nid) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid("33", 2, NULL) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid(NULL, 2, &nid) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid("", 0, &nid) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid("1a", 2, &nid) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid("-1", 2, &nid) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid(" 33", 3, &nid) == NTH_PST_E_INVALID);
    CHECK(nth_pst_parse_nid("0x100000000", 11, &nid) == NTH_PST_E_INVALID);
    nth_pst_file *f;
    REQUIRE(nth_pst_open(SAMPLE, &f, NULL) == NTH_PST_OK);
    nth_pst_node_ref ref;
    CHECK(nth_pst_resolve_path(f, "033", &ref, NULL) == NTH_PST_OK); /* 33 = 0x21, not 27 */
    CHECK_EQ(ref.node.nid, 0x21);
    CHECK(nth_pst_resolve_path(f, "0x21/", &ref, NULL) == NTH_PST_E_INVALID);
    CHECK(nth_pst_resolve_path(f, "/0x21", &ref, NULL) == NTH_PST_E_INVALID);
    CHECK(nth_pst_resolve_path(f, "0x200024//0x8025", &ref, NULL) == NTH_PST_E_INVALID);
    CHECK(nth_pst_resolve_path(f, "0x200024/0x8025", &ref, NULL) == NTH_PST_OK);
    nth_pst_close(f);
}

TEST(missing_blocks_name_who_referred_to_them)
{
    image im = load();
    finder fd;
    scan(&im, &fd);
    const nth_pst_node *n = node_of(&fd, 0x122);
    REQUIRE(n != NULL);
    wr(im.d + n->ib_entry + W, 0x7FFFFFF0, W); /* bidData of the root folder: no such block */
    fix_page(&im, n->ib_entry);
    nth_pst_file *f;
    REQUIRE(nth_pst_open_memory(im.d, im.size, &f, NULL) == NTH_PST_OK);
    seen s = {.expect = "NBTENTRY of node 0x122 at offset 0x"};
    nth_pst_report r;
    nth_pst_validate(f, on_finding, &s, &r);
    CHECK(!r.sound);
    CHECK(s.matches >= 1);
    if (!s.matches) fprintf(stderr, "  first finding: %s\n", s.first);
    nth_pst_close(f);
    free(im.d);
}

/* With nth_pst_limit_work, re-reading the same data tree over and over ends with an error once
 * the handle has handed out factor x size + 16 MiB; without it, it never does. */
TEST(a_work_limit_bounds_repeated_reads)
{
    nth_pst_file *f;
    REQUIRE(nth_pst_open(SAMPLE, &f, NULL) == NTH_PST_OK);
    nth_pst_node n;
    REQUIRE(nth_pst_nbt_lookup(f, 0x61, &n, NULL) == NTH_PST_OK);
    nth_pst_limit_work(f, 1);
    size_t reads = 0;
    nth_pst_error e;
    nth_pst_status st = NTH_PST_OK;
    while (reads < 100000 && st == NTH_PST_OK) {
        nth_pst_blocks b;
        st = nth_pst_read_data(f, n.bid_data, &b, &e);
        if (st == NTH_PST_OK) nth_pst_blocks_free(&b);
        reads++;
    }
    CHECK(st == NTH_PST_E_CORRUPT);
    CHECK(strstr(e.message, "work budget") != NULL);
    CHECK(reads < 100000);
    nth_pst_close(f);
}

/* The calls that take a file by path or bytes refuse a NULL one, or a NULL handle to fill. */
TEST(null_paths_bytes_and_handles_are_refused)
{
    nth_pst_file *f = NULL;
    nth_pst_error e;
    CHECK(nth_pst_open(NULL, &f, &e) == NTH_PST_E_INVALID && f == NULL);
    CHECK(nth_pst_open(SAMPLE, NULL, &e) == NTH_PST_E_INVALID);
    CHECK(nth_pst_open_memory(NULL, 512, &f, &e) == NTH_PST_E_INVALID && f == NULL);
    CHECK(nth_pst_open_memory("x", 1, NULL, NULL) == NTH_PST_E_INVALID);
    CHECK(nth_pst_set_property(NULL, 0x122, 0x6666, NTH_PST_PT_INT32, "abcd", 4, &e) == NTH_PST_E_INVALID);
}

static int write_all(const char *dir)
{
    for (size_t i = 0; i <= NCRAFTS; i++) {
        image im = i < NCRAFTS ? crafts[i].make() : craft_folder_cycle();
        if (!im.d) return 1;
        char path[512];
        snprintf(path, sizeof path, "%s/%s.pst", dir, i < NCRAFTS ? crafts[i].name : "folder_cycle");
        FILE *out = fopen(path, "wb");
        if (!out || fwrite(im.d, 1, im.size, out) != im.size) return 1;
        fclose(out);
        free(im.d);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0) return write_all(argv[2]);
    RUN(every_crafted_file_is_unsound_fast_and_names_its_damage);
    RUN(a_cycle_is_reported_once);
    RUN(a_heap_with_damaged_bsig_still_counts_as_a_heap);
    RUN(an_amplified_tree_costs_little_time_and_memory);
    RUN(nids_are_decimal_or_hex_and_malformed_paths_fail);
    RUN(missing_blocks_name_who_referred_to_them);
    RUN(a_work_limit_bounds_repeated_reads);
    RUN(null_paths_bytes_and_handles_are_refused);
    return harness_finish(argv[0]);
}
