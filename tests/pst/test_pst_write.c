/*
 * test_pst_write.c — editing a Property Context in memory (nth_pst_pc_set) and writing the
 * heap back into a copy of a sample (nth_pst_write_heap): changed, inserted, emptied and
 * inline values read back, every other property is unchanged, the heap stays valid, the file
 * stays sound (shared blocks, growth and several pages: test_pst_write_grow.c).
 */
#include <unistd.h>

#include "harness/harness.h"
#include "ntheap/pst.h"
#include "pst/pst_test.h"

#define SAMPLE "tests/data/pst/pstsdk-sample1.pst"

static nth_pst_hn *load_heap(nth_pst_file *f, uint32_t nid)
{
    nth_pst_node n;
    nth_pst_hn *hn = NULL;
    if (nth_pst_nbt_lookup(f, nid, &n, NULL) || nth_pst_hn_load(f, n.bid_data, &hn, NULL)) return NULL;
    return hn;
}

/* Every property of `a` except `skip` has the same type and bytes in `b`. */
static void same_except(const nth_pst_pc *a, const nth_pst_pc *b, uint16_t skip)
{
    for (size_t i = 0; i < nth_pst_pc_count(a); i++) {
        const nth_pst_prop *p = nth_pst_pc_at(a, i);
        if (p->id == skip) continue;
        const nth_pst_prop *q = nth_pst_pc_find(b, p->id);
        CHECK(q != NULL);
        if (!q) continue;
        CHECK_EQ(p->type, q->type);
        CHECK(p->size == q->size && (p->size == 0 || memcmp(p->data, q->data, p->size) == 0));
    }
}

TEST(pc_set_changes_one_property_and_keeps_the_rest)
{
    nth_pst_file *f;
    REQUIRE(nth_pst_open(SAMPLE, &f, NULL) == NTH_PST_OK);
    nth_pst_hn *orig = load_heap(f, 0x8082), *hn = load_heap(f, 0x8082);
    REQUIRE(orig && hn);
    nth_pst_pc *before;
    REQUIRE(nth_pst_pc_from_hn(orig, &before, NULL) == NTH_PST_OK);
    static const uint8_t name[] = {'N', 0, 'e', 0, 'w', 0};
    uint32_t n32 = 77;
    nth_pst_error e;
    struct { uint16_t id, type; const void *v; size_t n; } steps[] = {
        {0x3001, NTH_PST_PT_UNICODE, name, sizeof name},  /* existing, in a HID, shrinks */
        {0x0001, NTH_PST_PT_INT32, &n32, 4},              /* new, inline, before every id */
        {0x7777, NTH_PST_PT_BINARY, NULL, 0},             /* new, empty */
        {0x3001, NTH_PST_PT_UNICODE, name, sizeof name},  /* the same again */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        CHECK(nth_pst_pc_set(hn, steps[i].id, steps[i].type, steps[i].v, steps[i].n, &e) == NTH_PST_OK);
        CHECK_EQ(nth_pst_hn_validate(hn, NULL, NULL), 0);
    }
    nth_pst_pc *after;
    REQUIRE(nth_pst_pc_from_hn(hn, &after, &e) == NTH_PST_OK);
    CHECK_EQ(nth_pst_pc_count(after), nth_pst_pc_count(before) + 2);
    const nth_pst_prop *p = nth_pst_pc_find(after, 0x3001);
    REQUIRE(p != NULL);
    CHECK(p->size == sizeof name && memcmp(p->data, name, sizeof name) == 0);
    p = nth_pst_pc_find(after, 0x0001);
    int64_t v = 0;
    CHECK(p && nth_pst_prop_int(p, &v) == NTH_PST_OK && v == 77);
    p = nth_pst_pc_find(after, 0x7777);
    CHECK(p && p->where == NTH_PST_WHERE_EMPTY);
    CHECK(nth_pst_pc_at(after, 0)->id == 0x0001); /* ids stay sorted */
    same_except(before, after, 0x3001);
    /* wrong inline size, and a value that would need a subnode */
    CHECK(nth_pst_pc_set(hn, 0x0002, NTH_PST_PT_INT32, name, 2, NULL) == NTH_PST_E_INVALID);
    static uint8_t big[4000];
    CHECK(nth_pst_pc_set(hn, 0x0002, NTH_PST_PT_BINARY, big, sizeof big, NULL) == NTH_PST_E_UNSUPPORTED);
    nth_pst_pc_close(after);
    nth_pst_pc_close(before);
    nth_pst_hn_close(hn);
    nth_pst_hn_close(orig);
    nth_pst_close(f);
}

TEST(write_heap_round_trip_keeps_the_file_sound)
{
    char path[] = "/tmp/nth-pst-write-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    size_t size;
    uint8_t *orig = slurp(SAMPLE, &size);
    REQUIRE(orig && spit(path, orig, size));
    nth_pst_file *f;
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_hn *hn = load_heap(f, 0x8082);
    nth_pst_close(f);
    REQUIRE(hn != NULL);
    static const uint8_t name[] = {'X', 0};
    nth_pst_error e;
    REQUIRE(nth_pst_pc_set(hn, 0x3001, NTH_PST_PT_UNICODE, name, 2, &e) == NTH_PST_OK);
    nth_pst_status ws = nth_pst_write_heap(path, 0x8082, hn, &e);
    if (ws) fprintf(stderr, "  write: %s\n", e.message);
    CHECK(ws == NTH_PST_OK);
    REQUIRE(nth_pst_open(path, &f, NULL) == NTH_PST_OK);
    nth_pst_report r;
    nth_pst_validate(f, NULL, NULL, &r);
    CHECK(r.sound);
    nth_pst_hn *back = load_heap(f, 0x8082);
    REQUIRE(back != NULL);
    size_t a, b;
    const uint8_t *pa = nth_pst_hn_page_data(hn, 0, &a), *pb = nth_pst_hn_page_data(back, 0, &b);
    CHECK(a == b && memcmp(pa, pb, a) == 0);
    nth_pst_hn_close(back);
    nth_pst_close(f);
    nth_pst_hn_close(hn);
    unlink(path);
    free(orig);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(pc_set_changes_one_property_and_keeps_the_rest);
    RUN(write_heap_round_trip_keeps_the_file_sound);
    return harness_finish(argv[0]);
}
