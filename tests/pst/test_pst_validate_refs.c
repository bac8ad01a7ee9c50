/*
 * test_pst_validate_refs.c — the counting checks of nth_pst_validate on damaged copies of the
 * Unicode sample: a cRef lower than the references to a block is a problem (a writer trusting
 * it would free a block in use), a higher one only a note (a leak); a DList entry naming an
 * AMap page the file lacks is a problem; two blocks on the same bytes are a problem. Row 0,
 * the sample itself, is sound with no note.
 */
#include "harness/harness.h"
#include "ntheap/pst.h"
#include "pst/pst_test.h"

#define SAMPLE "tests/data/pst/pstsdk-sample1.pst"

typedef struct seen {
    char first_problem[320];
    char first_note[320];
    bool overlap;
} seen;

static void on_finding(void *ctx, const nth_pst_node_ref *ref, const nth_pst_error *e, bool hint)
{
    seen *s = ctx;
    (void)ref;
    char *to = hint ? s->first_note : s->first_problem;
    if (!to[0]) snprintf(to, 320, "%s", e->message);
    if (!hint && strstr(e->message, "overlaps")) s->overlap = true;
}

static void reseal(uint8_t *img, uint64_t any)
{
    uint64_t page = any & ~(uint64_t)511;
    uint32_t crc = nth_pst_crc(0, img + page, 496);
    for (int i = 0; i < 4; i++) img[page + 500 + i] = (uint8_t)(crc >> (8 * i));
}

/* Validates img after `damage` ran on it. */
static nth_pst_report run(uint8_t *img, size_t size, void (*damage)(uint8_t *, nth_pst_file *),
                          seen *s)
{
    nth_pst_file *f;
    nth_pst_report r = {0};
    memset(s, 0, sizeof *s);
    if (nth_pst_open_memory(img, size, &f, NULL)) return r;
    if (damage) damage(img, f);
    nth_pst_close(f);
    if (nth_pst_open_memory(img, size, &f, NULL)) return r;
    nth_pst_validate(f, on_finding, s, &r);
    nth_pst_close(f);
    return r;
}

static void set_cref(uint8_t *img, nth_pst_file *f, uint16_t refs)
{
    nth_pst_node n;
    nth_pst_block_entry be;
    if (nth_pst_nbt_lookup(f, 0x8082, &n, NULL) || nth_pst_bbt_lookup(f, n.bid_data, &be, NULL)) return;
    img[be.ib_entry + 18] = (uint8_t)refs; /* Unicode BBTENTRY: bid 8, ib 8, cb 2, cRef 2 */
    img[be.ib_entry + 19] = (uint8_t)(refs >> 8);
    reseal(img, be.ib_entry);
}
static void cref_low(uint8_t *img, nth_pst_file *f) { set_cref(img, f, 1); }
static void cref_high(uint8_t *img, nth_pst_file *f) { set_cref(img, f, 3); }

static void dlist_entry(uint8_t *img, nth_pst_file *f)
{
    (void)f;
    img[0x4200 + 1] = 1;       /* cEntDList */
    img[0x4200 + 8] = 7;       /* AMap page 7: the file has one */
    reseal(img, 0x4200);
}

/* 0x8062's BBT entry is pointed at 0x8082's block. */
static void overlap(uint8_t *img, nth_pst_file *f)
{
    nth_pst_node a, b;
    nth_pst_block_entry ba, bb;
    if (nth_pst_nbt_lookup(f, 0x8082, &a, NULL) || nth_pst_nbt_lookup(f, 0x8062, &b, NULL) ||
        nth_pst_bbt_lookup(f, a.bid_data, &ba, NULL) || nth_pst_bbt_lookup(f, b.bid_data, &bb, NULL))
        return;
    for (int i = 0; i < 8; i++) img[bb.ib_entry + 8 + i] = (uint8_t)(ba.ib >> (8 * i));
    reseal(img, bb.ib_entry);
}

TEST(cref_and_dlist_and_overlaps_are_counted)
{
    size_t size;
    uint8_t *orig = slurp(SAMPLE, &size);
    REQUIRE(orig != NULL);
    uint8_t *img = malloc(size);
    REQUIRE(img != NULL);
    seen s;
    memcpy(img, orig, size);
    nth_pst_report r = run(img, size, NULL, &s);
    CHECK(r.sound && r.notes == 0); /* row 0: the sample as it is */

    memcpy(img, orig, size);
    r = run(img, size, cref_low, &s);
    CHECK(!r.sound);
    CHECK(strstr(s.first_problem, "cRef 1 but 1 references") != NULL);

    memcpy(img, orig, size);
    r = run(img, size, cref_high, &s);
    CHECK(r.sound);
    CHECK(strstr(s.first_note, "cRef 3 but only 1 references: a leak") != NULL);

    memcpy(img, orig, size);
    r = run(img, size, dlist_entry, &s);
    CHECK(!r.sound);
    CHECK(strstr(s.first_problem, "DList page at offset 0x4200") != NULL);
    CHECK(strstr(s.first_problem, "AMap page 7 of 1") != NULL);

    memcpy(img, orig, size);
    r = run(img, size, overlap, &s);
    CHECK(!r.sound);
    CHECK(s.overlap);
    free(img);
    free(orig);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(cref_and_dlist_and_overlaps_are_counted);
    return harness_finish(argv[0]);
}
