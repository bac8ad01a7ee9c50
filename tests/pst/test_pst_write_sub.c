/*
 * test_pst_write_sub.c — nth_pst_set_property with values too big for a heap allocation: the
 * value goes to a new subnode (NID_TYPE_LTP, index 0x400 and up) as a data block or an XBLOCK
 * over blocks, listed in a new SLBLOCK (cRef 2) the NBT entry's bidSub points at; a subnode
 * tree shared with another node is copied, never written over; a value that was in a subnode
 * (Outlook's or ours) is released when replaced, and one shrunk below the limit moves into the
 * heap; more subnodes than one SLBLOCK holds go under an SIBLOCK; a value past one XBLOCK is
 * refused with nothing written. After every write the file
 * validates sound, the value reads back byte for byte, and every other node reads as before.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/harness.h"
#include "ntheap/pst.h"
#include "pst/pst_test.h"

#define UNICODE_SAMPLE "tests/data/pst/pstsdk-sample1.pst"
#define ANSI_SAMPLE    "tests/data/pst/pstsdk-sample2.pst"
#define FOLDER  0x8082u
#define MESSAGE 0x200024u

/* `size` bytes that differ from one position to the next (a shifted block would show). */
static uint8_t *pattern(size_t size, unsigned seed)
{
    uint8_t *v = malloc(size ? size : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; v && i < size; i++) {
        x = x * 1103515245u + 12345u;
        v[i] = (uint8_t)(x >> 16);
    }
    return v;
}

static nth_pst_status set_value(const char *path, uint32_t nid, uint16_t id, uint16_t type,
                                const uint8_t *v, size_t size)
{
    nth_pst_error e;
    nth_pst_status st = nth_pst_set_property(path, nid, id, type, v, size, &e);
    if (st) fprintf(stderr, "  set 0x%04X (%zu bytes): %s\n", id, size, e.message);
    return st;
}

/* Whether property id of nid reads back as exactly v[0..size), kept where `where` says. */
static bool reads_back(nth_pst_file *f, uint32_t nid, uint16_t id, const uint8_t *v, size_t size,
                       nth_pst_where where)
{
    nth_pst_pc *pc;
    nth_pst_node node;
    if (nth_pst_nbt_lookup(f, nid, &node, NULL) || nth_pst_pc_open(f, &node, &pc, NULL)) return false;
    const nth_pst_prop *p = nth_pst_pc_find(pc, id);
    bool ok = p && p->where == where && p->size == size && memcmp(p->data, v, size) == 0;
    nth_pst_pc_close(pc);
    return ok;
}

static uint32_t hnid_of(nth_pst_file *f, uint32_t nid, uint16_t id)
{
    nth_pst_pc *pc;
    nth_pst_node node;
    if (nth_pst_nbt_lookup(f, nid, &node, NULL) || nth_pst_pc_open(f, &node, &pc, NULL)) return 0;
    const nth_pst_prop *p = nth_pst_pc_find(pc, id);
    uint32_t h = p ? p->hnid : 0;
    nth_pst_pc_close(pc);
    return h;
}

static bool sound(const char *path)
{
    nth_pst_report r = {0};
    nth_pst_file *f;
    if (nth_pst_open(path, &f, NULL)) return false;
    nth_pst_validate(f, NULL, NULL, &r);
    nth_pst_close(f);
    return r.sound;
}

static void large_value_in_subnode(const char *sample, uint8_t method)
{
    char path[] = "/tmp/nth-pst-sub-XXXXXX";
    REQUIRE(copy_to(sample, path));
    REQUIRE(encode_as(path, method));
    prints p0, p1;
    take_prints(path, FOLDER, &p0);
    nth_pst_file *f;
    nth_pst_node before, after;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, FOLDER, &before, NULL) == NTH_PST_OK);
    bool unicode = nth_pst_get_info(f)->unicode;
    nth_pst_close(f);
    CHECK_EQ(before.bid_sub, 0); /* the folder has no subnodes yet */
    size_t per = unicode ? 8176 : 8180;
    uint8_t *v20 = pattern(20000, 1), *v3 = pattern(3581, 2), *v100 = pattern(100000, 3);
    REQUIRE(v20 && v3 && v100);
    CHECK(set_value(path, FOLDER, 0x6666, NTH_PST_PT_BINARY, v20, 20000) == NTH_PST_OK);
    CHECK(set_value(path, FOLDER, 0x6667, NTH_PST_PT_BINARY, v3, 3581) == NTH_PST_OK);
    CHECK(set_value(path, FOLDER, 0x6668, NTH_PST_PT_BINARY, v100, 100000) == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    CHECK(reads_back(f, FOLDER, 0x6666, v20, 20000, NTH_PST_WHERE_SUBNODE));
    CHECK(reads_back(f, FOLDER, 0x6667, v3, 3581, NTH_PST_WHERE_SUBNODE));
    CHECK(reads_back(f, FOLDER, 0x6668, v100, 100000, NTH_PST_WHERE_SUBNODE));
    /* fresh LTP NIDs 0x400, 0x401, 0x402 in an SLBLOCK of its own */
    CHECK_EQ(hnid_of(f, FOLDER, 0x6666), 0x400u << 5 | 0x1F);
    CHECK_EQ(hnid_of(f, FOLDER, 0x6667), 0x401u << 5 | 0x1F);
    CHECK_EQ(hnid_of(f, FOLDER, 0x6668), 0x402u << 5 | 0x1F);
    REQUIRE(nth_pst_nbt_lookup(f, FOLDER, &after, NULL) == NTH_PST_OK);
    CHECK(after.bid_sub & 2);
    nth_pst_block_entry be;
    CHECK(nth_pst_bbt_lookup(f, after.bid_sub, &be, NULL) == NTH_PST_OK);
    CHECK_EQ(be.refs, 2);
    nth_pst_node *subs = NULL;
    size_t ns = 0;
    CHECK(nth_pst_read_subnodes(f, after.bid_sub, &subs, &ns, NULL) == NTH_PST_OK);
    CHECK_EQ(ns, 3);
    if (ns == 3) {
        /* 20000 bytes: an XBLOCK over three blocks; 3581: one data block */
        nth_pst_blocks b = {0};
        CHECK(subs[0].bid_data & 2);
        CHECK(nth_pst_read_data(f, subs[0].bid_data, &b, NULL) == NTH_PST_OK);
        CHECK_EQ(b.count, 3);
        CHECK_EQ(b.count == 3 ? b.size[0] : 0, per);
        nth_pst_blocks_free(&b);
        CHECK((subs[1].bid_data & 2) == 0);
        CHECK(nth_pst_bbt_lookup(f, subs[1].bid_data, &be, NULL) == NTH_PST_OK);
        CHECK_EQ(be.cb, 3581);
        CHECK_EQ(be.refs, 2);
    }
    free(subs);
    nth_pst_close(f);
    take_prints(path, FOLDER, &p1);
    CHECK(p0.count > 20 && same_prints(&p0, &p1));
    CHECK(sound(path));
    free(v20);
    free(v3);
    free(v100);
    unlink(path);
}

TEST(a_unicode_value_too_big_for_the_heap_goes_to_a_subnode)
{
    large_value_in_subnode(UNICODE_SAMPLE, NTH_PST_CRYPT_PERMUTE);
}

TEST(an_ansi_value_too_big_for_the_heap_goes_to_a_subnode)
{
    large_value_in_subnode(ANSI_SAMPLE, NTH_PST_CRYPT_PERMUTE);
}

/* The value's blocks are encoded with the file's method, cyclic keyed by their BID. */
TEST(value_blocks_follow_the_files_encoding)
{
    large_value_in_subnode(UNICODE_SAMPLE, NTH_PST_CRYPT_CYCLIC);
    large_value_in_subnode(ANSI_SAMPLE, NTH_PST_CRYPT_CYCLIC);
    large_value_in_subnode(UNICODE_SAMPLE, NTH_PST_CRYPT_NONE);
}

/* The message's PidTagHtml (0x1013) is in a subnode Outlook wrote (0x807F Unicode, 0x80BF
 * ANSI): a new large value takes a new subnode and the old one goes; a small one moves into the heap and its subnode goes too. The
 * message's other subnodes (tables, the attachment and its own subnodes) stay as they were. */
TEST(a_value_in_a_subnode_is_replaced_and_released)
{
    static const char *samples[] = {UNICODE_SAMPLE, ANSI_SAMPLE};
    for (int k = 0; k < 2; k++) {
        char path[] = "/tmp/nth-pst-sub-XXXXXX";
        REQUIRE(copy_to(samples[k], path));
        nth_pst_file *f;
        nth_pst_node m;
        nth_pst_node *subs = NULL;
        size_t n0 = 0, n1 = 0, n2 = 0;
        REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
        REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m, NULL) == NTH_PST_OK);
        uint32_t old = hnid_of(f, MESSAGE, 0x1013);
        CHECK((old & 0x1F) == 0x1F);
        REQUIRE(nth_pst_read_subnodes(f, m.bid_sub, &subs, &n0, NULL) == NTH_PST_OK);
        uint64_t html_bid = 0;
        for (size_t i = 0; i < n0; i++)
            if (subs[i].nid == old) html_bid = subs[i].bid_data;
        free(subs);
        nth_pst_close(f);
        CHECK(html_bid != 0);
        prints p0, p1;
        take_prints(path, MESSAGE, &p0);
        uint8_t *v = pattern(10000, 4);
        REQUIRE(v != NULL);
        CHECK(set_value(path, MESSAGE, 0x1013, NTH_PST_PT_BINARY, v, 10000) == NTH_PST_OK);
        REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
        CHECK(reads_back(f, MESSAGE, 0x1013, v, 10000, NTH_PST_WHERE_SUBNODE));
        uint32_t h = hnid_of(f, MESSAGE, 0x1013);
        CHECK(h != old && (h & 0x1F) == 0x1F && h >> 5 > old >> 5);
        REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m, NULL) == NTH_PST_OK);
        REQUIRE(nth_pst_read_subnodes(f, m.bid_sub, &subs, &n1, NULL) == NTH_PST_OK);
        bool old_left = false;
        for (size_t i = 0; i < n1; i++) old_left |= subs[i].nid == old;
        free(subs);
        CHECK(!old_left);
        CHECK_EQ(n1, n0);
        nth_pst_block_entry be;
        CHECK(nth_pst_bbt_lookup(f, html_bid, &be, NULL) == NTH_PST_E_NOT_FOUND ||
              be.refs == 1); /* freed, or an orphan left in a leaf it was alone in */
        nth_pst_close(f);
        CHECK(sound(path));
        CHECK(set_value(path, MESSAGE, 0x1013, NTH_PST_PT_BINARY, v, 100) == NTH_PST_OK);
        REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
        CHECK(reads_back(f, MESSAGE, 0x1013, v, 100, NTH_PST_WHERE_HID));
        REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m, NULL) == NTH_PST_OK);
        REQUIRE(nth_pst_read_subnodes(f, m.bid_sub, &subs, &n2, NULL) == NTH_PST_OK);
        free(subs);
        CHECK_EQ(n2, n0 - 1);
        nth_pst_close(f);
        take_prints(path, MESSAGE, &p1);
        CHECK(p0.count > 20 && same_prints(&p0, &p1));
        CHECK(sound(path));
        free(v);
        unlink(path);
    }
}

/* The folder's NBT entry is pointed at the message's SLBLOCK (cRef raised to 3): a large value
 * on the folder gives it an SLBLOCK of its own with the shared entries plus the new one, and
 * leaves the message's tree as it was (cRef back to 2). */
TEST(a_shared_subnode_tree_is_copied_on_write)
{
    char path[] = "/tmp/nth-pst-sub-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    size_t size;
    uint8_t *img = slurp(path, &size);
    REQUIRE(img != NULL);
    nth_pst_file *f;
    REQUIRE(nth_pst_open_memory(img, size, &f, NULL) == NTH_PST_OK);
    nth_pst_node folder, msg;
    nth_pst_block_entry sl;
    REQUIRE(nth_pst_nbt_lookup(f, FOLDER, &folder, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &msg, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_bbt_lookup(f, msg.bid_sub, &sl, NULL) == NTH_PST_OK);
    nth_pst_close(f);
    CHECK_EQ(sl.refs, 2);
    /* Unicode: NBTENTRY nid(8) bidData(8) bidSub(8); BBTENTRY bid(8) ib(8) cb(2) cRef(2) */
    for (int i = 0; i < 8; i++) img[folder.ib_entry + 16 + i] = (uint8_t)(msg.bid_sub >> (8 * i));
    img[sl.ib_entry + 18] = 3;
    uint64_t pages[2] = {folder.ib_entry & ~(uint64_t)511, sl.ib_entry & ~(uint64_t)511};
    for (int k = 0; k < 2; k++) {
        uint32_t crc = nth_pst_crc(0, img + pages[k], 496);
        for (int i = 0; i < 4; i++) img[pages[k] + 500 + i] = (uint8_t)(crc >> (8 * i));
    }
    REQUIRE(spit(path, img, size));
    free(img);
    CHECK(sound(path));
    prints p0, p1;
    take_prints(path, FOLDER, &p0);
    uint8_t *v = pattern(9000, 5);
    REQUIRE(v != NULL);
    CHECK(set_value(path, FOLDER, 0x6666, NTH_PST_PT_BINARY, v, 9000) == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_node f2, m2;
    REQUIRE(nth_pst_nbt_lookup(f, FOLDER, &f2, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m2, NULL) == NTH_PST_OK);
    CHECK_EQ(m2.bid_sub, msg.bid_sub);
    CHECK(f2.bid_sub != msg.bid_sub);
    CHECK(nth_pst_bbt_lookup(f, msg.bid_sub, &sl, NULL) == NTH_PST_OK);
    CHECK_EQ(sl.refs, 2);
    nth_pst_node *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(nth_pst_read_subnodes(f, m2.bid_sub, &a, &na, NULL) == NTH_PST_OK);
    CHECK(nth_pst_read_subnodes(f, f2.bid_sub, &b, &nb, NULL) == NTH_PST_OK);
    CHECK_EQ(nb, na + 1);
    for (size_t i = 0, j = 0; i < na && j < nb; j++) {
        if (b[j].nid == hnid_of(f, FOLDER, 0x6666)) continue;
        CHECK_EQ(b[j].nid, a[i].nid);
        CHECK_EQ(b[j].bid_data, a[i].bid_data); /* shared, one more reference */
        CHECK_EQ(b[j].bid_sub, a[i].bid_sub);
        i++;
    }
    free(a);
    free(b);
    CHECK(reads_back(f, FOLDER, 0x6666, v, 9000, NTH_PST_WHERE_SUBNODE));
    nth_pst_close(f);
    take_prints(path, FOLDER, &p1);
    CHECK(p0.count > 20 && same_prints(&p0, &p1));
    CHECK(sound(path));
    free(v);
    unlink(path);
}

/* Past one SLBLOCK's worth of entries the subnode tree becomes an SIBLOCK over SLBLOCKs. The
 * hook NTH_PST_SLBLOCK_MAX=2 makes that happen at 3 entries instead of 341: the message's 5
 * subnodes plus 3 values are spread over 4 SLBLOCKs; editing again releases that SIBLOCK tree;
 * without the hook the node is back to one SLBLOCK. */
TEST(many_subnodes_are_written_under_an_siblock)
{
    char path[] = "/tmp/nth-pst-sub-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    prints p0, p1;
    take_prints(path, MESSAGE, &p0);
    nth_pst_file *f;
    nth_pst_node m;
    nth_pst_node *subs = NULL;
    size_t n0 = 0, n1 = 0;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_read_subnodes(f, m.bid_sub, &subs, &n0, NULL) == NTH_PST_OK);
    free(subs);
    nth_pst_close(f);
    uint8_t *v[3];
    setenv("NTH_PST_SLBLOCK_MAX", "2", 1);
    for (int i = 0; i < 3; i++) {
        v[i] = pattern(5000 + 3000 * (size_t)i, 10 + (unsigned)i);
        REQUIRE(v[i] != NULL);
        CHECK(set_value(path, MESSAGE, (uint16_t)(0x6701 + i), NTH_PST_PT_BINARY, v[i],
                        5000 + 3000 * (size_t)i) == NTH_PST_OK);
    }
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m, NULL) == NTH_PST_OK);
    uint8_t *blk = NULL;
    size_t blk_size = 0;
    CHECK(nth_pst_read_block(f, m.bid_sub, &blk, &blk_size, NULL) == NTH_PST_OK);
    CHECK(blk && blk_size >= 8 && blk[0] == 0x02 && blk[1] == 1); /* btype SL, cLevel 1: SIBLOCK */
    CHECK(blk && blk_size >= 8 && blk[2] == 4);                  /* cEnt: 8 entries over 4 */
    free(blk);
    CHECK(nth_pst_read_subnodes(f, m.bid_sub, &subs, &n1, NULL) == NTH_PST_OK);
    free(subs);
    CHECK_EQ(n1, n0 + 3);
    for (int i = 0; i < 3; i++)
        CHECK(reads_back(f, MESSAGE, (uint16_t)(0x6701 + i), v[i], 5000 + 3000 * (size_t)i,
                         NTH_PST_WHERE_SUBNODE));
    nth_pst_close(f);
    CHECK(sound(path));
    take_prints(path, MESSAGE, &p1);
    CHECK(p0.count > 20 && same_prints(&p0, &p1));
    unsetenv("NTH_PST_SLBLOCK_MAX");
    CHECK(set_value(path, MESSAGE, 0x6701, NTH_PST_PT_BINARY, v[0], 10) == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_nbt_lookup(f, MESSAGE, &m, NULL) == NTH_PST_OK);
    CHECK(nth_pst_read_block(f, m.bid_sub, &blk, &blk_size, NULL) == NTH_PST_OK);
    CHECK(blk && blk_size >= 8 && blk[0] == 0x02 && blk[1] == 0 && blk[2] == n0 + 2);
    free(blk);
    CHECK(reads_back(f, MESSAGE, 0x6701, v[0], 10, NTH_PST_WHERE_HID));
    CHECK(reads_back(f, MESSAGE, 0x6703, v[2], 11000, NTH_PST_WHERE_SUBNODE));
    nth_pst_close(f);
    CHECK(sound(path));
    for (int i = 0; i < 3; i++) free(v[i]);
    unlink(path);
}

/* One XBLOCK lists (8176 - 8) / 8 = 1021 Unicode blocks: 8,347,696 bytes. One byte more
 * would need an XXBLOCK: refused, the file unchanged. */
TEST(a_value_past_one_xblock_is_refused)
{
    char path[] = "/tmp/nth-pst-sub-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    size_t n = 1021u * 8176u + 1, before_size, after_size;
    uint8_t *v = pattern(n, 6), *before = slurp(path, &before_size);
    REQUIRE(v && before);
    nth_pst_error e;
    CHECK(nth_pst_set_property(path, FOLDER, 0x6666, NTH_PST_PT_BINARY, v, n, &e) ==
          NTH_PST_E_UNSUPPORTED);
    CHECK(strstr(e.message, "XXBLOCK") != NULL);
    uint8_t *after = slurp(path, &after_size);
    CHECK(after && after_size == before_size && memcmp(before, after, before_size) == 0);
    free(after);
    free(before);
    free(v);
    unlink(path);
}

/* A value whose bytes its type cannot have is refused, the file unchanged: validate would
 * refuse the file that held it. */
TEST(a_value_of_the_wrong_size_for_its_type_is_refused)
{
    char path[] = "/tmp/nth-pst-sub-XXXXXX";
    REQUIRE(copy_to(UNICODE_SAMPLE, path));
    size_t before_size, after_size;
    uint8_t *before = slurp(path, &before_size);
    REQUIRE(before);
    static const uint8_t bytes[16] = {0xFF, 0xFF, 0xFF, 0xFF};
    static const struct {
        uint16_t type;
        size_t size;
        const char *why;
    } wrong[] = {
        {NTH_PST_PT_INT64, 3, "another size than its type's (3 bytes, not 8)"},
        {0x0048, 1, "another size than its type's (1 bytes, not 16)"},
        {0x101F, 4, "count or offsets do not fit"}, /* ulCount 0xFFFFFFFF in 4 bytes */
        {0x7777, 4, "does not define"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        nth_pst_error e;
        CHECK(nth_pst_set_property(path, FOLDER, 0x6666, wrong[i].type, bytes, wrong[i].size, &e) == NTH_PST_E_INVALID);
        CHECK(strstr(e.message, wrong[i].why) != NULL);
    }
    uint8_t *after = slurp(path, &after_size);
    CHECK(after && after_size == before_size && memcmp(before, after, before_size) == 0);
    free(after);
    free(before);
    unlink(path);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(a_unicode_value_too_big_for_the_heap_goes_to_a_subnode);
    RUN(an_ansi_value_too_big_for_the_heap_goes_to_a_subnode);
    RUN(value_blocks_follow_the_files_encoding);
    RUN(a_value_in_a_subnode_is_replaced_and_released);
    RUN(a_shared_subnode_tree_is_copied_on_write);
    RUN(many_subnodes_are_written_under_an_siblock);
    RUN(a_value_past_one_xblock_is_refused);
    RUN(a_value_of_the_wrong_size_for_its_type_is_refused);
    return harness_finish(argv[0]);
}
