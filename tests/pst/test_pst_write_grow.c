/*
 * test_pst_write_grow.c — nth_pst_write_heap when the edited heap cannot stay where it is: a
 * heap that outgrows its block moves to a new block (new BID from bidNextB, BBTENTRY inserted,
 * NBT repointed, the old block's entry dropped and its bytes zeroed and freed); a block shared
 * with another node is copied, never written over; a heap of several pages is written as an
 * XBLOCK tree; enough edits split BBT pages and grow the file by a new AMap span. After every
 * write the file validates sound, every other node's heap reads as before, and, for the
 * ANSI and Unicode samples alike and under each bCryptMethod, the edited values read back.
 */
#include <unistd.h>

#include "harness/harness.h"
#include "ntheap/pst.h"
#include "pst/pst_test.h"

#define UNICODE_SAMPLE "tests/data/pst/pstsdk-sample1.pst"
#define ANSI_SAMPLE    "tests/data/pst/pstsdk-sample2.pst"

static nth_pst_hn *heap_of(nth_pst_file *f, uint32_t nid)
{
    nth_pst_node n;
    nth_pst_hn *hn = NULL;
    if (nth_pst_nbt_lookup(f, nid, &n, NULL) || nth_pst_hn_load(f, n.bid_data, &hn, NULL)) return NULL;
    return hn;
}

/* Sets property id (PtypBinary, `size` bytes of `fill`) on nid in the file at path. */
static nth_pst_status set_binary(const char *path, uint32_t nid, uint16_t id, size_t size,
                                 uint8_t fill, nth_pst_error *e)
{
    nth_pst_file *f;
    nth_pst_status st = nth_pst_open(path, &f, e);
    if (st) return st;
    nth_pst_hn *hn = heap_of(f, nid);
    nth_pst_close(f);
    if (!hn) return NTH_PST_E_CORRUPT;
    uint8_t *v = malloc(size ? size : 1);
    if (!v) return NTH_PST_E_NO_MEMORY;
    memset(v, fill, size);
    st = nth_pst_pc_set(hn, id, NTH_PST_PT_BINARY, v, size, e);
    if (!st) st = nth_pst_write_heap(path, nid, hn, e);
    free(v);
    nth_pst_hn_close(hn);
    return st;
}

/* Reads property id of nid: size and first byte (-1 when absent). */
static long value_of(nth_pst_file *f, uint32_t nid, uint16_t id, int *first)
{
    nth_pst_pc *pc;
    nth_pst_node node;
    if (nth_pst_nbt_lookup(f, nid, &node, NULL) || nth_pst_pc_open(f, &node, &pc, NULL)) return -1;
    const nth_pst_prop *p = nth_pst_pc_find(pc, id);
    long n = p ? (long)p->size : -1;
    *first = p && p->size ? p->data[0] : -1;
    nth_pst_pc_close(pc);
    return n;
}

static nth_pst_report check_sound(const char *path)
{
    nth_pst_report r = {0};
    nth_pst_file *f;
    if (nth_pst_open(path, &f, NULL) == NTH_PST_OK) {
        nth_pst_validate(f, NULL, NULL, &r);
        nth_pst_close(f);
    }
    return r;
}

static void grows_past_its_block(const char *sample, uint8_t method)
{
    char path[] = "/tmp/nth-pst-grow-XXXXXX";
    REQUIRE(copy_to(sample, path));
    REQUIRE(encode_as(path, method));
    nth_pst_file *f;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_node before;
    nth_pst_block_entry old;
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &before, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_bbt_lookup(f, before.bid_data, &old, NULL) == NTH_PST_OK);
    uint64_t next = nth_pst_get_info(f)->bid_next_block;
    nth_pst_close(f);
    prints p0, p1;
    take_prints(path, 0x8082, &p0);
    nth_pst_error e;
    nth_pst_status st = set_binary(path, 0x8082, 0x6666, 3000, 0x5A, &e);
    if (st) fprintf(stderr, "  set: %s\n", e.message);
    REQUIRE(st == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_node after;
    nth_pst_block_entry nb;
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &after, NULL) == NTH_PST_OK);
    CHECK_EQ(after.bid_data, next); /* the new block took bidNextB */
    CHECK_EQ(nth_pst_get_info(f)->bid_next_block, next + 4);
    CHECK(nth_pst_bbt_lookup(f, after.bid_data, &nb, NULL) == NTH_PST_OK);
    CHECK_EQ(nb.refs, 2);
    CHECK(nb.ib != old.ib);
    CHECK(nth_pst_bbt_lookup(f, before.bid_data, &old, NULL) == NTH_PST_E_NOT_FOUND);
    int first;
    CHECK_EQ(value_of(f, 0x8082, 0x6666, &first), 3000);
    CHECK_EQ(first, 0x5A);
    CHECK_EQ(value_of(f, 0x8082, 0x3001, &first) > 0, 1); /* the display name is still there */
    nth_pst_close(f);
    take_prints(path, 0x8082, &p1);
    CHECK(p0.count > 20 && same_prints(&p0, &p1));
    CHECK(check_sound(path).sound);
    /* two more values: a heap of two pages, an XBLOCK over new blocks */
    CHECK(set_binary(path, 0x8082, 0x6667, 3000, 0x6B, &e) == NTH_PST_OK);
    CHECK(set_binary(path, 0x8082, 0x6668, 3000, 0x6C, &e) == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    CHECK_EQ(nth_pst_get_info(f)->crypt, method);
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &after, NULL) == NTH_PST_OK);
    CHECK((after.bid_data & 2) != 0);
    CHECK_EQ(value_of(f, 0x8082, 0x6666, &first), 3000);
    CHECK_EQ(first, 0x5A);
    CHECK_EQ(value_of(f, 0x8082, 0x6668, &first), 3000);
    CHECK_EQ(first, 0x6C);
    nth_pst_close(f);
    take_prints(path, 0x8082, &p1);
    CHECK(same_prints(&p0, &p1));
    CHECK(check_sound(path).sound);
    unlink(path);
}

TEST(a_unicode_heap_that_outgrows_its_block_moves_to_a_new_one)
{
    grows_past_its_block(UNICODE_SAMPLE, NTH_PST_CRYPT_PERMUTE);
}

TEST(an_ansi_heap_that_outgrows_its_block_moves_to_a_new_one)
{
    grows_past_its_block(ANSI_SAMPLE, NTH_PST_CRYPT_PERMUTE);
}

/* New blocks are encoded with the file's method, cyclic keyed by their new BID. */
TEST(moved_blocks_follow_the_files_encoding)
{
    grows_past_its_block(UNICODE_SAMPLE, NTH_PST_CRYPT_CYCLIC);
    grows_past_its_block(ANSI_SAMPLE, NTH_PST_CRYPT_CYCLIC);
    grows_past_its_block(UNICODE_SAMPLE, NTH_PST_CRYPT_NONE);
}

/* Two folders share one block (the NBT entry of 0x8062 is pointed at 0x8082's block, whose
 * cRef is raised to 3); editing 0x8082 must leave 0x8062's heap exactly as it was. */
TEST(a_shared_block_is_copied_on_write)
{
    char path[] = "/tmp/nth-pst-shared-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    size_t size;
    uint8_t *img = slurp(path, &size);
    REQUIRE(img != NULL);
    nth_pst_file *f;
    REQUIRE(nth_pst_open_memory(img, size, &f, NULL) == NTH_PST_OK);
    nth_pst_node a, b;
    nth_pst_block_entry be;
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &a, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, 0x8062, &b, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_bbt_lookup(f, a.bid_data, &be, NULL) == NTH_PST_OK);
    nth_pst_block_entry bb;
    REQUIRE(nth_pst_bbt_lookup(f, b.bid_data, &bb, NULL) == NTH_PST_OK);
    nth_pst_close(f);
    /* Unicode: NBTENTRY nid(8) bidData(8); BBTENTRY bid(8) ib(8) cb(2) cRef(2) */
    for (int i = 0; i < 8; i++) img[b.ib_entry + 8 + i] = (uint8_t)(a.bid_data >> (8 * i));
    img[be.ib_entry + 18] = 3;
    img[bb.ib_entry + 18] = 1; /* 0x8062's own block is now referenced by nobody */
    uint64_t pages[3] = {b.ib_entry & ~(uint64_t)511, be.ib_entry & ~(uint64_t)511,
                         bb.ib_entry & ~(uint64_t)511};
    for (int k = 0; k < 3; k++) {
        uint32_t crc = nth_pst_crc(0, img + pages[k], 496);
        for (int i = 0; i < 4; i++) img[pages[k] + 500 + i] = (uint8_t)(crc >> (8 * i));
    }
    REQUIRE(spit(path, img, size));
    free(img);
    CHECK(check_sound(path).sound);
    nth_pst_error e;
    nth_pst_status st = set_binary(path, 0x8082, 0x3001, 4, 'X', &e); /* fits: in place if allowed */
    if (st) fprintf(stderr, "  set: %s\n", e.message);
    CHECK(st == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_node a2, b2;
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &a2, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, 0x8062, &b2, NULL) == NTH_PST_OK);
    CHECK(a2.bid_data != a.bid_data);      /* 0x8082 got its own block */
    CHECK_EQ(b2.bid_data, a.bid_data);     /* 0x8062 still reads the shared one */
    CHECK(nth_pst_bbt_lookup(f, a.bid_data, &be, NULL) == NTH_PST_OK);
    CHECK_EQ(be.refs, 2);                  /* one reference fewer */
    int first;
    CHECK_EQ(value_of(f, 0x8082, 0x3001, &first), 4);
    CHECK_EQ(first, 'X');
    CHECK_EQ(value_of(f, 0x8062, 0x3001, &first), 14); /* "Sample1", untouched */
    CHECK_EQ(first, 'S');
    nth_pst_close(f);
    CHECK(check_sound(path).sound);
    unlink(path);
}

/* A heap of several pages is written as an XBLOCK over its pages; editing it again replaces
 * the XBLOCK and the changed pages, keeps the unchanged ones and frees what nobody uses. */
TEST(a_heap_of_several_pages_is_written_as_an_xblock)
{
    char path[] = "/tmp/nth-pst-xblock-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    nth_pst_error e;
    for (uint16_t id = 0x6700; id < 0x6706; id++) {
        nth_pst_status st = set_binary(path, 0x8082, id, 3000, (uint8_t)id, &e);
        if (st) fprintf(stderr, "  set 0x%04X: %s\n", id, e.message);
        REQUIRE(st == NTH_PST_OK);
    }
    nth_pst_file *f;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_node n;
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &n, NULL) == NTH_PST_OK);
    CHECK((n.bid_data & 2) != 0); /* an internal block: the XBLOCK */
    nth_pst_hn *hn = heap_of(f, 0x8082);
    REQUIRE(hn != NULL);
    size_t pages = nth_pst_hn_page_count(hn);
    CHECK(pages >= 3);
    nth_pst_blocks blocks;
    REQUIRE(nth_pst_read_data(f, n.bid_data, &blocks, NULL) == NTH_PST_OK);
    CHECK_EQ(blocks.count, pages);
    uint64_t last_page_bid = blocks.bid[blocks.count - 1];
    nth_pst_blocks_free(&blocks);
    nth_pst_hn_close(hn);
    int first;
    for (uint16_t id = 0x6700; id < 0x6706; id++) {
        CHECK_EQ(value_of(f, 0x8082, id, &first), 3000);
        CHECK_EQ(first, (uint8_t)id);
    }
    nth_pst_report r1;
    nth_pst_validate(f, NULL, NULL, &r1);
    CHECK(r1.sound);
    nth_pst_close(f);
    /* a change in page 0 only (an inline value): the other pages keep their blocks */
    nth_pst_status st = set_binary(path, 0x8082, 0x6700, 3000, 0x11, &e);
    if (st) fprintf(stderr, "  re-set: %s\n", e.message);
    CHECK(st == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_node n2;
    REQUIRE(nth_pst_nbt_lookup(f, 0x8082, &n2, NULL) == NTH_PST_OK);
    CHECK(n2.bid_data != n.bid_data && (n2.bid_data & 2));
    nth_pst_block_entry gone;
    CHECK(nth_pst_bbt_lookup(f, n.bid_data, &gone, NULL) == NTH_PST_E_NOT_FOUND);
    REQUIRE(nth_pst_read_data(f, n2.bid_data, &blocks, NULL) == NTH_PST_OK);
    CHECK_EQ(blocks.count, pages);
    bool kept = false;
    for (size_t i = 0; i < blocks.count; i++) kept |= blocks.bid[i] == last_page_bid;
    nth_pst_blocks_free(&blocks);
    CHECK(kept);
    CHECK_EQ(value_of(f, 0x8082, 0x6700, &first), 3000);
    CHECK_EQ(first, 0x11);
    nth_pst_report r2;
    nth_pst_validate(f, NULL, NULL, &r2);
    CHECK(r2.sound);
    CHECK_EQ(r2.blocks, r1.blocks); /* as many blocks as before: the replaced ones are gone */
    nth_pst_close(f);
    unlink(path);
}

/* Forty edits, each adding a 3.5 KB value to one heap (20 pages in the end, each a block of
 * its own) while page 0 and the last page are rewritten every time: BBT leaves split (more
 * BBT pages), freed blocks leave the BBT and their space is reused, and the file stays sound
 * at every tenth step with every other heap unchanged. */
TEST(many_edits_split_bbt_pages)
{
    char path[] = "/tmp/nth-pst-many-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    nth_pst_report r0 = check_sound(path);
    REQUIRE(r0.sound);
    prints p0, p1;
    take_prints(path, 0x8082, &p0);
    nth_pst_error e;
    bool all_sound = true;
    for (unsigned i = 0; i < 40; i++) {
        nth_pst_status st = set_binary(path, 0x8082, (uint16_t)(0x6700 + i), 3500 - i, (uint8_t)i, &e);
        if (st) {
            fprintf(stderr, "  edit %u: %s\n", i, e.message);
            CHECK(st == NTH_PST_OK);
            break;
        }
        if (i % 10 == 9) all_sound &= check_sound(path).sound;
    }
    CHECK(all_sound);
    nth_pst_report r = check_sound(path);
    CHECK(r.sound);
    CHECK(r.bbt_pages > r0.bbt_pages);
    CHECK(r.blocks >= r0.blocks + 19 && r.blocks <= r0.blocks + 21); /* pages, + XBLOCK - old */
    nth_pst_file *f;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    int first;
    for (unsigned i = 0; i < 40; i++) {
        CHECK_EQ(value_of(f, 0x8082, (uint16_t)(0x6700 + i), &first), 3500 - (long)i);
        CHECK_EQ(first, (int)i);
    }
    nth_pst_close(f);
    take_prints(path, 0x8082, &p1);
    CHECK(same_prints(&p0, &p1));
    unlink(path);
}

/* A heap that needs more space than the first AMap has free: the file grows by one AMap span
 * (253,952 bytes) with its map page, and cbAMapFree counts the new free space. */
TEST(a_file_without_room_grows_by_one_amap_span)
{
    char path[] = "/tmp/nth-pst-span-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    nth_pst_file *f;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    uint64_t size0 = nth_pst_get_info(f)->file_size;
    nth_pst_close(f);
    nth_pst_error e;
    unsigned edits = 0;
    for (uint16_t id = 0x6700; id < 0x6740; id++, edits++) {
        nth_pst_status st = set_binary(path, 0x8082, id, 3500, (uint8_t)id, &e);
        if (st) fprintf(stderr, "  set 0x%04X: %s\n", id, e.message);
        REQUIRE(st == NTH_PST_OK);
        REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
        uint64_t size = nth_pst_get_info(f)->file_size;
        nth_pst_close(f);
        if (size != size0) break;
    }
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    const nth_pst_info *in = nth_pst_get_info(f);
    CHECK_EQ(in->file_size, size0 + 253952);
    CHECK_EQ(in->file_eof, in->file_size);
    CHECK_EQ(in->amap_last, size0); /* the new AMap page opens the new span */
    CHECK(in->amap_free > 0 && in->amap_free < 2 * 253952);
    nth_pst_report r;
    nth_pst_validate(f, NULL, NULL, &r);
    CHECK(r.sound);
    CHECK_EQ(r.amap_pages, 2);
    int first;
    CHECK_EQ(value_of(f, 0x8082, (uint16_t)(0x6700 + edits), &first), 3500);
    nth_pst_close(f);
    unlink(path);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(a_unicode_heap_that_outgrows_its_block_moves_to_a_new_one);
    RUN(an_ansi_heap_that_outgrows_its_block_moves_to_a_new_one);
    RUN(moved_blocks_follow_the_files_encoding);
    RUN(a_shared_block_is_copied_on_write);
    RUN(a_heap_of_several_pages_is_written_as_an_xblock);
    RUN(many_edits_split_bbt_pages);
    RUN(a_file_without_room_grows_by_one_amap_span);
    return harness_finish(argv[0]);
}
