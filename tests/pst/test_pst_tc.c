/*
 * test_pst_tc.c — Table Contexts of the sample files: columns, rows in row-matrix order, row
 * IDs through the row index, cells (inline, in the heap, absent), the same table read from the
 * ANSI and the Unicode copy of a mailbox, and damaged TCINFO / row matrix / row index copies
 * rejected with the structure named.
 */
#include "harness/harness.h"
#include "ntheap/pst.h"

#define DATA "tests/data/pst/"

static nth_pst_file *open_file(const char *name)
{
    nth_pst_file *f = NULL;
    nth_pst_error e;
    if (nth_pst_open(name, &f, &e)) fprintf(stderr, "  %s: %s\n", name, e.message);
    return f;
}

static nth_pst_tc *open_table(nth_pst_file *f, const char *path)
{
    nth_pst_node_ref ref;
    nth_pst_tc *tc = NULL;
    nth_pst_error e;
    if (nth_pst_resolve_path(f, path, &ref, &e) || nth_pst_tc_open(f, &ref.node, &tc, &e))
        fprintf(stderr, "  %s: %s\n", path, e.message);
    return tc;
}

static ptrdiff_t column_of(const nth_pst_tc *tc, uint32_t tag)
{
    for (size_t i = 0; i < nth_pst_tc_column_count(tc); i++)
        if (nth_pst_tc_column_at(tc, i)->tag == tag) return (ptrdiff_t)i;
    return -1;
}

TEST(root_hierarchy_table_of_sample1)
{
    nth_pst_file *f = open_file(DATA "pstsdk-sample1.pst");
    REQUIRE(f != NULL);
    nth_pst_tc *tc = open_table(f, "0x12D");
    REQUIRE(tc != NULL);
    CHECK_EQ(nth_pst_tc_column_count(tc), 13);
    CHECK_EQ(nth_pst_tc_row_size(tc), 55);
    REQUIRE(nth_pst_tc_row_count(tc) == 4);
    /* row-matrix order differs from the row index's key order */
    CHECK_EQ(nth_pst_tc_row_id(tc, 0), 0x8022);
    CHECK_EQ(nth_pst_tc_row_id(tc, 1), 0x8042);
    CHECK_EQ(nth_pst_tc_row_id(tc, 2), 0x2223);
    CHECK_EQ(nth_pst_tc_row_id(tc, 3), 0x80023);
    ptrdiff_t name = column_of(tc, 0x3001001F), rowid = column_of(tc, 0x67F20003);
    REQUIRE(name >= 0 && rowid >= 0);
    nth_pst_prop p;
    nth_pst_error e;
    REQUIRE(nth_pst_tc_cell(tc, 0, (size_t)name, &p, &e) == NTH_PST_OK);
    CHECK(p.where == NTH_PST_WHERE_HID);
    char *text = NULL;
    REQUIRE(nth_pst_prop_utf8(&p, &text) == NTH_PST_OK);
    CHECK_STR(text, "Top of Outlook data file");
    free(text);
    REQUIRE(nth_pst_tc_cell(tc, 3, (size_t)rowid, &p, &e) == NTH_PST_OK);
    int64_t v = 0;
    CHECK(p.where == NTH_PST_WHERE_INLINE);
    CHECK(nth_pst_prop_int(&p, &v) == NTH_PST_OK);
    CHECK_EQ(v, 0x80023);
    CHECK(nth_pst_tc_cell(tc, 4, 0, &p, &e) == NTH_PST_E_INVALID);
    nth_pst_tc_close(tc);
    nth_pst_close(f);
}

/* Every cell of the recipient table, with its existence, is the same in the ANSI and the
 * Unicode copy of the mailbox (strings compared as UTF-8). */
TEST(ansi_and_unicode_recipient_tables_agree)
{
    nth_pst_file *u = open_file(DATA "pstsdk-sample1.pst"), *a = open_file(DATA "pstsdk-sample2.pst");
    REQUIRE(u != NULL && a != NULL);
    nth_pst_tc *tu = open_table(u, "0x200024/0x692"), *ta = open_table(a, "0x200024/0x692");
    REQUIRE(tu != NULL && ta != NULL);
    REQUIRE(nth_pst_tc_row_count(tu) == nth_pst_tc_row_count(ta));
    REQUIRE(nth_pst_tc_column_count(tu) == nth_pst_tc_column_count(ta));
    size_t present = 0;
    for (size_t r = 0; r < nth_pst_tc_row_count(tu); r++)
        for (size_t c = 0; c < nth_pst_tc_column_count(tu); c++) {
            nth_pst_prop pu, pa;
            nth_pst_status su = nth_pst_tc_cell(tu, r, c, &pu, NULL);
            nth_pst_status sa = nth_pst_tc_cell(ta, r, c, &pa, NULL);
            CHECK_EQ(su, sa);
            CHECK_EQ(pu.id, pa.id);
            if (su != NTH_PST_OK || sa != NTH_PST_OK) continue;
            present++;
            if (pu.type == NTH_PST_PT_UNICODE) {
                char *x = NULL, *y = NULL;
                CHECK(nth_pst_prop_utf8(&pu, &x) == NTH_PST_OK);
                CHECK(nth_pst_prop_utf8(&pa, &y) == NTH_PST_OK);
                CHECK_STR(x, y);
                free(x);
                free(y);
            } else if (pu.type != NTH_PST_PT_BINARY) {
                CHECK_EQ(pu.size, pa.size);
                CHECK(pu.size == pa.size && memcmp(pu.data, pa.data, pu.size) == 0);
            }
        }
    CHECK(present >= 20);
    nth_pst_tc_close(tu);
    nth_pst_tc_close(ta);
    nth_pst_close(u);
    nth_pst_close(a);
}

/* A copy of the heap of 0x12D with one byte changed, opened as a TC: must fail naming `what`. */
static void damaged(size_t offset_from, int which, uint8_t value, const char *what)
{
    nth_pst_file *f = open_file(DATA "pstsdk-sample1.pst");
    REQUIRE(f != NULL);
    nth_pst_node n;
    REQUIRE(nth_pst_nbt_lookup(f, 0x12D, &n, NULL) == NTH_PST_OK);
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_load(f, n.bid_data, &hn, NULL) == NTH_PST_OK);
    size_t size;
    const uint8_t *page = nth_pst_hn_page_data(hn, 0, &size);
    uint8_t copy[8192];
    memcpy(copy, page, size);
    const uint8_t *info;
    size_t info_size;
    REQUIRE(nth_pst_hn_get(hn, nth_pst_hn_user_root(hn), &info, &info_size, NULL) == NTH_PST_OK);
    size_t at = (size_t)(info - page);
    if (which == 1) { /* in the row matrix: hnidRows is a HID of this heap */
        uint32_t rows = (uint32_t)(info[14] | info[15] << 8 | info[16] << 16 | (uint32_t)info[17] << 24);
        const uint8_t *m;
        size_t msize;
        REQUIRE(nth_pst_hn_get(hn, rows, &m, &msize, NULL) == NTH_PST_OK);
        at = (size_t)(m - page);
    }
    copy[at + offset_from] = value;
    const uint8_t *pages[1] = {copy};
    nth_pst_hn *bad;
    REQUIRE(nth_pst_hn_from_pages(pages, &size, 1, true, &bad, NULL) == NTH_PST_OK);
    nth_pst_tc *tc = NULL;
    nth_pst_error e;
    CHECK(nth_pst_tc_from_hn(bad, &tc, &e) == NTH_PST_E_CORRUPT);
    if (!strstr(e.message, what)) fprintf(stderr, "  expected \"%s\" in: %s\n", what, e.message);
    CHECK(strstr(e.message, what) != NULL);
    nth_pst_tc_close(tc);
    nth_pst_hn_close(bad);
    nth_pst_hn_close(hn);
    nth_pst_close(f);
}

TEST(damaged_tables_are_rejected_naming_the_structure)
{
    damaged(0, 0, 0x7D, "not a TCINFO");                  /* bType */
    damaged(1, 0, 12, "cCols 12 needs");                  /* cCols vs. TCINFO size */
    damaged(8, 0, 0, "groups out of order");              /* rgib[3] */
    damaged(22 + 8 * 0 + 7, 0, 200, "iBit is not below cCols");
    damaged(22 + 8 * 1 + 7, 0, 2, "iBit is used by another column");
    damaged(0, 1, 0x99, "carries a different dwRowID");   /* row 0's dwRowID */
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(root_hierarchy_table_of_sample1);
    RUN(ansi_and_unicode_recipient_tables_agree);
    RUN(damaged_tables_are_rejected_naming_the_structure);
    return harness_finish(argv[0]);
}
