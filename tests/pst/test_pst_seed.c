/*
 * test_pst_seed.c — MS-PST §3.8 "Sample Heap-on-Node" as a byte-exact fixture, plus the CRC,
 * signature and encoding test vectors of MS-PST, and parser behaviour on damaged copies of
 * the sample.
 */
#include "harness/harness.h"
#include "ntheap/pst.h"

/* The 258 bytes of the §3.8 dump, offsets relative to the start of the HN. */
static const char seed_hex[] =
    "ec00ecbc2000000000000000b502060040000000340e0201a0000000380e030000000000f90f02016000000001"
    "301f0080000000df35030089000000e0350201c0000000e335020100010000e7350201e000000033660b000100"
    "0000fa6603000d000e00ff67030000000000229db50adcd9944385de90aeb07d127055004e00490043004f0044"
    "004500310001000000f55ef6669569cc4c83d1d873989902850100000000000000229db50adcd9944385de90ae"
    "b07d12702280000000000000229db50adcd9944385de90aeb07d12704280000000000000229db50adcd9944385"
    "de90aeb07d127062800000080000000c0014006c007c008c00a400bc00d400ec00";

static uint8_t seed[258];

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < cap; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static nth_pst_hn *open_seed(const uint8_t *bytes, size_t size, nth_pst_error *err)
{
    const uint8_t *pages[1] = {bytes};
    size_t sizes[1] = {size};
    nth_pst_hn *hn = NULL;
    if (nth_pst_hn_from_pages(pages, sizes, 1, true, &hn, err)) return NULL;
    return hn;
}

TEST(seed_is_258_bytes_with_known_crc)
{
    CHECK_EQ(from_hex(seed_hex, seed, sizeof seed), 258);
    CHECK_EQ(nth_pst_crc(0, seed, sizeof seed), 0x1FA3E385u);
}

TEST(crc_and_signature_vectors)
{
    CHECK_EQ(nth_pst_crc(0, "123456789", 9), 0x2DFD2D88u);
    CHECK_EQ(nth_pst_crc(0, "", 0), 0);
    /* continuing a CRC over a split buffer gives the same result */
    CHECK_EQ(nth_pst_crc(nth_pst_crc(0, "1234", 4), "56789", 5), 0x2DFD2D88u);
    CHECK_EQ(nth_pst_block_signature(0x4800, 0x24), 0x4824);
    /* the fold uses bits 16..31: (0x12345678 ^ 0) -> 0x5678 ^ 0x1234 */
    CHECK_EQ(nth_pst_block_signature(0x12345678, 0), 0x5678 ^ 0x1234);
}

TEST(permute_and_cyclic_vectors)
{
    uint8_t buf[258], want[32];
    memcpy(buf, seed, sizeof buf);
    nth_pst_permute_encode(buf, sizeof buf);
    from_hex("ff41ff934c41414141414141a6136e41aa414141c8e8133612414141b1e86241", want, 32);
    CHECK(memcmp(buf, want, 32) == 0);
    CHECK_EQ(nth_pst_crc(0, buf, sizeof buf), 0xA4104ACBu);
    nth_pst_permute_decode(buf, sizeof buf);
    CHECK(memcmp(buf, seed, sizeof buf) == 0);

    memcpy(buf, seed, sizeof buf);
    nth_pst_cyclic(buf, sizeof buf, 0x12345678);
    from_hex("93daf78653ed967945c6548480d004cea5340241e7562b2a0331029df7d88b1c", want, 32);
    CHECK(memcmp(buf, want, 32) == 0);
    nth_pst_cyclic(buf, sizeof buf, 0x12345678);
    CHECK(memcmp(buf, seed, sizeof buf) == 0);

    /* every byte value survives both round trips */
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    nth_pst_permute_encode(all, 256);
    nth_pst_permute_decode(all, 256);
    for (int i = 0; i < 256; i++) CHECK_EQ(all[i], i);
}

TEST(hnhdr_fields)
{
    nth_pst_error err;
    nth_pst_hn *hn = open_seed(seed, sizeof seed, &err);
    REQUIRE(hn);
    CHECK_EQ(nth_pst_hn_client_sig(hn), 0xBC);
    CHECK_EQ(nth_pst_hn_user_root(hn), 0x20);
    CHECK_EQ(nth_pst_hn_page_count(hn), 1);
    nth_pst_hn_page pg;
    REQUIRE(nth_pst_hn_page_info(hn, 0, &pg) == NTH_PST_OK);
    CHECK_EQ(pg.ib_hnpm, 0xEC);
    CHECK_EQ(pg.alloc_count, 8);
    CHECK_EQ(pg.free_count, 0);
    CHECK_EQ(pg.header_size, 12);
    CHECK_EQ(pg.size, 258);
    CHECK_EQ(pg.fill_level, 0);
    CHECK_EQ(pg.fill_level_actual, 0);
    CHECK_EQ(pg.used, 0xEC - 0x0C);
    CHECK_EQ(nth_pst_hn_validate(hn, NULL, NULL), 0);
    nth_pst_hn_close(hn);
}

TEST(eight_allocations_at_listed_offsets)
{
    static const size_t offsets[9] = {0x0C, 0x14, 0x6C, 0x7C, 0x8C, 0xA4, 0xBC, 0xD4, 0xEC};
    nth_pst_hn *hn = open_seed(seed, sizeof seed, NULL);
    REQUIRE(hn);
    REQUIRE(nth_pst_hn_alloc_count(hn) == 8);
    for (size_t i = 0; i < 8; i++) {
        nth_pst_hn_slot a;
        REQUIRE(nth_pst_hn_alloc_at(hn, i, &a) == NTH_PST_OK);
        CHECK_EQ(a.hid, (i + 1) << 5);
        CHECK_EQ(a.slot, i + 1);
        CHECK_EQ(a.page, 0);
        CHECK_EQ(a.offset, offsets[i]);
        CHECK_EQ(a.size, offsets[i + 1] - offsets[i]);
        CHECK(!a.freed);
        const uint8_t *d;
        size_t n;
        REQUIRE(nth_pst_hn_get(hn, a.hid, &d, &n, NULL) == NTH_PST_OK);
        CHECK(d == nth_pst_hn_page_data(hn, 0, NULL) + offsets[i]);
        CHECK_EQ(n, a.size);
    }
    nth_pst_hn_slot a;
    CHECK(nth_pst_hn_alloc_at(hn, 8, &a) == NTH_PST_E_NOT_FOUND);
    /* HID encoding: 0x100 is slot 8 of page 0 */
    CHECK_EQ(nth_pst_hid_slot(0x100), 8);
    CHECK_EQ(nth_pst_hid_page(0x100), 0);
    CHECK_EQ(nth_pst_hid_make(3, 5), 0x300A0u);
    /* bad HIDs */
    const uint8_t *d;
    size_t n;
    nth_pst_error err;
    CHECK(nth_pst_hn_get(hn, 0x120, &d, &n, &err) == NTH_PST_E_NOT_FOUND); /* slot 9 */
    CHECK(strstr(err.message, "HID 0x120") != NULL);
    CHECK(nth_pst_hn_get(hn, 0x10020, &d, &n, NULL) == NTH_PST_E_NOT_FOUND); /* page 1 */
    CHECK(nth_pst_hn_get(hn, 0x21, &d, &n, NULL) == NTH_PST_E_INVALID);     /* hidType 1 */
    CHECK(nth_pst_hn_get(hn, 0, &d, &n, NULL) == NTH_PST_E_INVALID);        /* slot 0 */
    nth_pst_hn_close(hn);
}

TEST(bth_header_and_records)
{
    nth_pst_hn *hn = open_seed(seed, sizeof seed, NULL);
    REQUIRE(hn);
    nth_pst_bth *bth;
    REQUIRE(nth_pst_bth_open(hn, 0x20, &bth, NULL) == NTH_PST_OK);
    unsigned ks, ds, levels;
    uint32_t root;
    nth_pst_bth_shape(bth, &ks, &ds, &levels, &root);
    CHECK_EQ(ks, 2);
    CHECK_EQ(ds, 6);
    CHECK_EQ(levels, 0);
    CHECK_EQ(root, 0x40);
    const uint8_t key[2] = {0x01, 0x30}, *data;
    REQUIRE(nth_pst_bth_lookup(bth, key, &data, NULL) == NTH_PST_OK);
    CHECK_EQ(data[0] | data[1] << 8, 0x001F);
    CHECK_EQ(data[2], 0x80);
    const uint8_t missing[2] = {0x00, 0x30};
    CHECK(nth_pst_bth_lookup(bth, missing, &data, NULL) == NTH_PST_E_NOT_FOUND);
    const uint8_t below[2] = {0x00, 0x00};
    CHECK(nth_pst_bth_lookup(bth, below, &data, NULL) == NTH_PST_E_NOT_FOUND);
    nth_pst_bth_close(bth);
    /* HID 0x40 is not a BTHHEADER (88 bytes) */
    nth_pst_error err;
    CHECK(nth_pst_bth_open(hn, 0x40, &bth, &err) == NTH_PST_E_CORRUPT);
    CHECK(strstr(err.message, "BTHHEADER") != NULL);
    nth_pst_hn_close(hn);
}

static const uint8_t record_key[16] = {0x22, 0x9D, 0xB5, 0x0A, 0xDC, 0xD9, 0x94, 0x43,
                                       0x85, 0xDE, 0x90, 0xAE, 0xB0, 0x7D, 0x12, 0x70};

static void check_entryid(const nth_pst_prop *p, uint32_t nid)
{
    CHECK_EQ(p->type, 0x0102);
    REQUIRE(p->size == 24);
    CHECK_EQ(p->data[0] | p->data[1] | p->data[2] | p->data[3], 0);
    CHECK(memcmp(p->data + 4, record_key, 16) == 0);
    CHECK_EQ(p->data[20] | p->data[21] << 8 | p->data[22] << 16 | (uint32_t)p->data[23] << 24, nid);
}

TEST(eleven_properties)
{
    nth_pst_hn *hn = open_seed(seed, sizeof seed, NULL);
    REQUIRE(hn);
    nth_pst_pc *pc;
    nth_pst_error err;
    REQUIRE(nth_pst_pc_from_hn(hn, &pc, &err) == NTH_PST_OK);
    REQUIRE(nth_pst_pc_count(pc) == 11);
    static const uint16_t ids[11] = {0x0E34, 0x0E38, 0x0FF9, 0x3001, 0x35DF, 0x35E0,
                                     0x35E3, 0x35E7, 0x6633, 0x66FA, 0x67FF};
    static const uint16_t types[11] = {0x0102, 0x0003, 0x0102, 0x001F, 0x0003, 0x0102,
                                       0x0102, 0x0102, 0x000B, 0x0003, 0x0003};
    static const uint32_t hnids[11] = {0xA0, 0, 0x60, 0x80, 0x89, 0xC0, 0x100, 0xE0, 1, 0x000E000D, 0};
    for (size_t i = 0; i < 11; i++) {
        const nth_pst_prop *p = nth_pst_pc_at(pc, i);
        REQUIRE(p);
        CHECK_EQ(p->id, ids[i]);
        CHECK_EQ(p->type, types[i]);
        CHECK_EQ(p->hnid, hnids[i]);
        CHECK(nth_pst_pc_find(pc, ids[i]) == p);
    }
    CHECK(nth_pst_pc_find(pc, 0x3002) == NULL);

    const nth_pst_prop *p = nth_pst_pc_find(pc, 0x0E34); /* version history, 24 bytes */
    static const uint8_t hist[24] = {0x01, 0x00, 0x00, 0x00, 0xF5, 0x5E, 0xF6, 0x66,
                                     0x95, 0x69, 0xCC, 0x4C, 0x83, 0xD1, 0xD8, 0x73,
                                     0x98, 0x99, 0x02, 0x85, 0x01, 0x00, 0x00, 0x00};
    CHECK_EQ(p->where, NTH_PST_WHERE_HID);
    CHECK(p->size == 24 && memcmp(p->data, hist, 24) == 0);

    int64_t v;
    p = nth_pst_pc_find(pc, 0x0E38);
    CHECK_EQ(p->where, NTH_PST_WHERE_INLINE);
    CHECK(nth_pst_prop_int(p, &v) == NTH_PST_OK && v == 0);

    p = nth_pst_pc_find(pc, 0x0FF9);
    CHECK(p->size == 16 && memcmp(p->data, record_key, 16) == 0);

    p = nth_pst_pc_find(pc, 0x3001);
    char *text;
    REQUIRE(nth_pst_prop_utf8(p, &text) == NTH_PST_OK);
    CHECK_STR(text, "UNICODE1");
    free(text);
    CHECK_EQ(p->size, 16);

    p = nth_pst_pc_find(pc, 0x35DF);
    CHECK(nth_pst_prop_int(p, &v) == NTH_PST_OK && v == 0x89);

    check_entryid(nth_pst_pc_find(pc, 0x35E0), 0x8022);
    check_entryid(nth_pst_pc_find(pc, 0x35E3), 0x8062);
    check_entryid(nth_pst_pc_find(pc, 0x35E7), 0x8042);

    p = nth_pst_pc_find(pc, 0x6633);
    CHECK_EQ(p->size, 1);
    CHECK(nth_pst_prop_int(p, &v) == NTH_PST_OK && v == 1);
    p = nth_pst_pc_find(pc, 0x66FA);
    CHECK(nth_pst_prop_int(p, &v) == NTH_PST_OK && v == 917517);
    p = nth_pst_pc_find(pc, 0x67FF);
    CHECK(nth_pst_prop_int(p, &v) == NTH_PST_OK && v == 0);

    char buf[128];
    nth_pst_prop_format(nth_pst_pc_find(pc, 0x3001), buf, sizeof buf, 0);
    CHECK_STR(buf, "\"UNICODE1\"");
    nth_pst_prop_format(nth_pst_pc_find(pc, 0x6633), buf, sizeof buf, 0);
    CHECK_STR(buf, "true");
    CHECK_STR(nth_pst_tag_name(0x3001), "PidTagDisplayName");
    CHECK_STR(nth_pst_type_name(0x001F), "PtypString");
    nth_pst_pc_close(pc);
    nth_pst_hn_close(hn);
}

/* ------------------------------------------------------------ damaged copies of the seed */

static nth_pst_status parse_copy(const uint8_t *bytes, size_t size, nth_pst_error *err,
                                 size_t *problems)
{
    nth_pst_hn *hn = open_seed(bytes, size, err);
    if (!hn) return err->status;
    if (problems) *problems = nth_pst_hn_validate(hn, NULL, NULL);
    nth_pst_hn_close(hn);
    return NTH_PST_OK;
}

TEST(every_truncation_is_rejected_or_flagged)
{
    /* Dropping bytes from the end moves the map out of place: every shorter copy must either
     * fail to parse or validate with problems; none may crash. */
    for (size_t n = 0; n < sizeof seed; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, seed, n);
        nth_pst_error err = {0};
        size_t problems = 0;
        nth_pst_status st = parse_copy(copy, n, &err, &problems);
        CHECK(st == NTH_PST_E_CORRUPT || problems > 0);
        if (st) CHECK(err.structure[0] != 0);
        free(copy);
    }
}

TEST(specific_damage_is_named)
{
    uint8_t copy[258];
    nth_pst_error err;
    size_t problems;

    memcpy(copy, seed, sizeof copy);
    copy[2] = 0xED; /* bSig */
    CHECK(parse_copy(copy, sizeof copy, &err, NULL) == NTH_PST_E_CORRUPT);
    CHECK_STR(err.structure, "HNHDR");
    CHECK(strstr(err.message, "bSig") != NULL);

    memcpy(copy, seed, sizeof copy);
    copy[0] = 0xFF; /* ibHnpm past the end */
    CHECK(parse_copy(copy, sizeof copy, &err, NULL) == NTH_PST_E_CORRUPT);
    CHECK(strstr(err.message, "ibHnpm") != NULL);

    memcpy(copy, seed, sizeof copy);
    copy[0xEC] = 0xFF; /* cAlloc 255: map runs past the page */
    CHECK(parse_copy(copy, sizeof copy, &err, NULL) == NTH_PST_E_CORRUPT);
    CHECK_STR(err.structure, "HNPAGEMAP");

    memcpy(copy, seed, sizeof copy);
    copy[0xF4] = 0x80; /* rgibAlloc[2] = 0x80 > rgibAlloc[3] = 0x7C: decreasing */
    CHECK(parse_copy(copy, sizeof copy, &err, NULL) == NTH_PST_E_CORRUPT);
    CHECK(strstr(err.message, "rgibAlloc[3]") != NULL);

    memcpy(copy, seed, sizeof copy);
    copy[0xF0] = 0x08; /* rgibAlloc[0] = 0x08: inside the HNHDR */
    CHECK(parse_copy(copy, sizeof copy, &err, NULL) == NTH_PST_E_CORRUPT);

    memcpy(copy, seed, sizeof copy);
    copy[0xEE] = 1; /* cFree 1 while no slot is zero-length: readable, but a problem */
    CHECK(parse_copy(copy, sizeof copy, &err, &problems) == NTH_PST_OK);
    CHECK_EQ(problems, 1);

    memcpy(copy, seed, sizeof copy);
    copy[8] = 0x0F; /* fill level FULL for page 0: a hint, not a problem */
    CHECK(parse_copy(copy, sizeof copy, &err, &problems) == NTH_PST_OK);
    CHECK_EQ(problems, 0);

    memcpy(copy, seed, sizeof copy);
    copy[4] = 0x40; copy[5] = 0x01; /* hidUserRoot 0x140 = slot 10: does not exist */
    CHECK(parse_copy(copy, sizeof copy, &err, &problems) == NTH_PST_OK);
    CHECK_EQ(problems, 1);

    memcpy(copy, seed, sizeof copy);
    copy[3] = 0x12; /* client signature not defined by MS-PST */
    CHECK(parse_copy(copy, sizeof copy, &err, &problems) == NTH_PST_OK);
    CHECK_EQ(problems, 1);

    /* a BTH record count that is not whole: shrink allocation 2 by one byte */
    memcpy(copy, seed, sizeof copy);
    copy[0xF4] = 0x6B;
    nth_pst_hn *hn = open_seed(copy, sizeof copy, NULL);
    REQUIRE(hn);
    nth_pst_pc *pc;
    CHECK(nth_pst_pc_from_hn(hn, &pc, &err) == NTH_PST_E_CORRUPT);
    CHECK(strstr(err.message, "whole number") != NULL);
    nth_pst_hn_close(hn);

    /* BTH keys out of order: swap the first two records */
    memcpy(copy, seed, sizeof copy);
    memcpy(copy + 0x14, seed + 0x1C, 8);
    memcpy(copy + 0x1C, seed + 0x14, 8);
    hn = open_seed(copy, sizeof copy, NULL);
    REQUIRE(hn);
    CHECK(nth_pst_pc_from_hn(hn, &pc, &err) == NTH_PST_E_CORRUPT);
    CHECK(strstr(err.message, "ascend") != NULL);
    nth_pst_hn_close(hn);
}

TEST(reserved_clients_and_empty_heaps_are_walkable)
{
    static const uint8_t clients[] = {0x6C, 0x7C, 0x8C, 0x9C, 0xA5, 0xAC, 0xBC, 0xCC};
    for (size_t i = 0; i < sizeof clients; i++) {
        /* 18-byte empty heap: HNHDR, then cAlloc 0, cFree 0, rgibAlloc[0] = 12 */
        uint8_t h[18] = {12, 0, 0xEC, clients[i], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0};
        const uint8_t *pages[1] = {h};
        size_t sizes[1] = {sizeof h};
        nth_pst_hn *hn;
        REQUIRE(nth_pst_hn_from_pages(pages, sizes, 1, false, &hn, NULL) == NTH_PST_OK);
        CHECK_EQ(nth_pst_hn_client_sig(hn), clients[i]);
        CHECK_EQ(nth_pst_hn_alloc_count(hn), 0);
        CHECK_EQ(nth_pst_hn_validate(hn, NULL, NULL), 0);
        nth_pst_hn_close(hn);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(seed_is_258_bytes_with_known_crc);
    RUN(crc_and_signature_vectors);
    RUN(permute_and_cyclic_vectors);
    RUN(hnhdr_fields);
    RUN(eight_allocations_at_listed_offsets);
    RUN(bth_header_and_records);
    RUN(eleven_properties);
    RUN(every_truncation_is_rejected_or_flagged);
    RUN(specific_damage_is_named);
    RUN(reserved_clients_and_empty_heaps_are_walkable);
    return harness_finish(argv[0]);
}
