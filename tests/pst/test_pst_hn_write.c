/*
 * test_pst_hn_write.c — allocating, freeing and reallocating inside a Heap-on-Node.
 *
 * No public sample has a heap of more than one block, so the pages written here are checked
 * by spec_check(), a second reading of MS-PST §2.3.1 written for this test from the format
 * description alone (page header sizes, map position, padding, cFree, fill-level nibbles and
 * their locations) and sharing no code with the library. Random operation sequences are
 * compared with a plain model after every step, re-parsing the written pages each time.
 */
#include "harness/harness.h"
#include "ntheap/pst.h"

/* ------------------------------------------------------- independent reading of the spec */

static unsigned u16(const uint8_t *p) { return p[0] | p[1] << 8; }

/* MS-PST 2.3.1: block 0 starts with HNHDR (12 bytes); blocks 8, 136, 264, ... with
 * HNBITMAPHDR (2 + 64 bytes); every other block with HNPAGEHDR (2 bytes). */
static size_t spec_header(size_t block)
{
    if (block == 0) return 12;
    if (block >= 8 && (block - 8) % 128 == 0) return 66;
    return 2;
}

/* MS-PST 2.3.1.2 fill levels by free bytes. */
static unsigned spec_fill(size_t free_bytes)
{
    if (free_bytes >= 3584) return 0;
    if (free_bytes >= 2560) return 1;
    if (free_bytes >= 2048) return 2;
    if (free_bytes >= 1792) return 3;
    if (free_bytes >= 1536) return 4;
    if (free_bytes >= 1280) return 5;
    if (free_bytes >= 1024) return 6;
    if (free_bytes >= 768) return 7;
    if (free_bytes >= 512) return 8;
    if (free_bytes >= 256) return 9;
    if (free_bytes >= 128) return 10;
    if (free_bytes >= 64) return 11;
    if (free_bytes >= 32) return 12;
    if (free_bytes >= 16) return 13;
    if (free_bytes >= 8) return 14;
    return 15;
}

/* The nibble recording block b's fill level: HNHDR.rgbFillLevel (offset 8) for b < 8, else the
 * rgbFillLevel (offset 2) of the HNBITMAPHDR of b's group of 128. Even entries low nibble. */
static unsigned spec_fill_recorded(const uint8_t *const *pages, size_t b)
{
    const uint8_t *holder;
    size_t k, base;
    if (b < 8) {
        holder = pages[0];
        k = b;
        base = 8;
    } else {
        size_t group = 8 + (b - 8) / 128 * 128;
        holder = pages[group];
        k = b - group;
        base = 2;
    }
    uint8_t byte = holder[base + k / 2];
    return k % 2 ? byte >> 4 : byte & 0xF;
}

typedef struct spec_alloc {
    uint32_t hid;
    const uint8_t *data;
    size_t size;
} spec_alloc;

/* Checks every page; fills out[] with the live allocations (up to cap). Returns the number of
 * rule violations, printing each. */
static size_t spec_check(const uint8_t *const *pages, const size_t *sizes, size_t count,
                         size_t block_max, spec_alloc *out, size_t cap, size_t *live)
{
    size_t bad = 0;
    *live = 0;
#define SPEC(cond, ...)                                                                    \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            bad++;                                                                         \
            fprintf(stderr, "  spec: page %zu: ", i);                                      \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = pages[i];
        size_t n = sizes[i], hdr = spec_header(i);
        SPEC(n <= block_max, "%zu bytes > %zu", n, block_max);
        SPEC(n >= hdr + 6, "too short");
        if (n < hdr + 6) continue;
        if (i == 0) SPEC(p[2] == 0xEC, "bSig %02X", p[2]);
        size_t ib = u16(p);
        SPEC(ib % 2 == 0, "ibHnpm odd");
        SPEC(ib + 4 <= n, "ibHnpm out of page");
        if (ib + 4 > n) continue;
        size_t c_alloc = u16(p + ib), c_free = u16(p + ib + 2);
        SPEC(n == ib + 4 + 2 * (c_alloc + 1), "map not at the end (%zu vs %zu)", n,
             ib + 4 + 2 * (c_alloc + 1));
        if (n != ib + 4 + 2 * (c_alloc + 1)) continue;
        SPEC(c_alloc <= 2047, "cAlloc %zu", c_alloc);
        SPEC(u16(p + ib + 4) == hdr, "rgibAlloc[0] %u != header %zu", u16(p + ib + 4), hdr);
        size_t zero = 0;
        for (size_t k = 1; k <= c_alloc; k++) {
            size_t a = u16(p + ib + 4 + 2 * (k - 1)), b = u16(p + ib + 4 + 2 * k);
            SPEC(a <= b && b <= ib, "slot %zu bounds %zx..%zx", k, a, b);
            if (a > b || b > ib) continue;
            if (a == b) {
                zero++;
            } else if (*live < cap) {
                out[*live].hid = (uint32_t)(i << 16 | k << 5);
                out[*live].data = p + a;
                out[*live].size = b - a;
                (*live)++;
            }
        }
        size_t last = u16(p + ib + 4 + 2 * c_alloc);
        SPEC(ib - last <= 1, "%zu bytes between allocations and map", ib - last);
        SPEC(zero == c_free, "cFree %zu, zero-length slots %zu", c_free, zero);
        SPEC(spec_fill_recorded(pages, i) == spec_fill(block_max - n),
             "fill level %u recorded, %u expected (%zu bytes)", spec_fill_recorded(pages, i),
             spec_fill(block_max - n), n);
    }
#undef SPEC
    return bad;
}

/* ------------------------------------------------------------------------ the model */

typedef struct model_alloc {
    uint32_t hid;
    uint8_t *data;
    size_t size;
} model_alloc;

typedef struct model {
    model_alloc *a;
    size_t count, cap;
} model;

static void model_put(model *m, uint32_t hid, const uint8_t *data, size_t size)
{
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->a = realloc(m->a, m->cap * sizeof *m->a);
    }
    m->a[m->count].hid = hid;
    m->a[m->count].data = malloc(size);
    memcpy(m->a[m->count].data, data, size);
    m->a[m->count].size = size;
    m->count++;
}

static void model_drop(model *m, size_t i)
{
    free(m->a[i].data);
    m->a[i] = m->a[--m->count];
}

static void model_free(model *m)
{
    while (m->count) model_drop(m, 0);
    free(m->a);
}

static int cmp_hid(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static void count_hint(void *ctx, const nth_pst_error *e, bool hint)
{
    size_t *c = ctx;
    fprintf(stderr, "  %s: %s\n", hint ? "hint" : "problem", e->message);
    (*c)++;
}

/* Writes the heap's pages out, re-parses them, and compares both readings with the model. */
static void verify(const nth_pst_hn *hn, const model *m, bool unicode, const char *step)
{
    size_t count = nth_pst_hn_page_count(hn);
    const uint8_t **pages = calloc(count, sizeof *pages);
    size_t *sizes = calloc(count, sizeof *sizes);
    for (size_t i = 0; i < count; i++) {
        size_t n;
        const uint8_t *src = nth_pst_hn_page_data(hn, i, &n);
        uint8_t *copy = malloc(n);
        memcpy(copy, src, n);
        pages[i] = copy;
        sizes[i] = n;
    }
    size_t cap = m->count + 16, live = 0;
    spec_alloc *sa = calloc(cap, sizeof *sa);
    size_t bad = spec_check(pages, sizes, count, unicode ? 8176 : 8180, sa, cap, &live);
    if (bad) fprintf(stderr, "  after %s\n", step);
    CHECK_EQ(bad, 0);
    CHECK_EQ(live, m->count);

    nth_pst_hn *again = NULL;
    nth_pst_error err;
    CHECK(nth_pst_hn_from_pages(pages, sizes, count, unicode, &again, &err) == NTH_PST_OK);
    if (again) {
        size_t findings = 0;
        CHECK_EQ(nth_pst_hn_validate(again, count_hint, &findings), 0);
        CHECK_EQ(findings, 0); /* fill levels written exactly: not even a hint */
        /* every model allocation reads back identically through the parser and the spec */
        uint32_t *hids = malloc((m->count + 1) * sizeof *hids);
        for (size_t i = 0; i < m->count; i++) {
            const uint8_t *d;
            size_t n;
            hids[i] = m->a[i].hid;
            bool ok = nth_pst_hn_get(again, m->a[i].hid, &d, &n, NULL) == NTH_PST_OK &&
                      n == m->a[i].size && memcmp(d, m->a[i].data, n) == 0;
            if (!ok) fprintf(stderr, "  after %s: HID 0x%X differs\n", step, m->a[i].hid);
            CHECK(ok);
        }
        qsort(hids, m->count, sizeof *hids, cmp_hid);
        for (size_t i = 0; i < live && i < m->count; i++) {
            CHECK_EQ(sa[i].hid, hids[i]); /* spec order is (page, slot) = HID order */
        }
        free(hids);
        nth_pst_hn_close(again);
    }
    for (size_t i = 0; i < count; i++) free((void *)pages[i]);
    free(pages);
    free(sizes);
    free(sa);
}

static void fill_random(harness_rng *rng, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)harness_rand(rng);
}

static size_t random_size(harness_rng *rng)
{
    uint64_t r = harness_rand_range(rng, 0, 99);
    if (r < 70) return (size_t)harness_rand_range(rng, 1, 64);
    if (r < 95) return (size_t)harness_rand_range(rng, 65, 900);
    return (size_t)harness_rand_range(rng, 901, NTH_PST_HN_ALLOC_MAX);
}

static void random_sequence(uint64_t seed, bool unicode, int steps)
{
    harness_rng rng = {seed};
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_create(NTH_PST_CLIENT_PC, unicode, &hn, NULL) == NTH_PST_OK);
    model m = {0};
    uint8_t *buf = malloc(NTH_PST_HN_ALLOC_MAX);
    char step[96];
    verify(hn, &m, unicode, "create");
    for (int s = 0; s < steps && !harness_case_failed; s++) {
        uint64_t op = harness_rand_range(&rng, 0, 99);
        nth_pst_error err;
        if (op < 50 || m.count == 0) {
            size_t size = random_size(&rng);
            fill_random(&rng, buf, size);
            uint32_t hid;
            REQUIRE(nth_pst_hn_alloc(hn, buf, size, &hid, &err) == NTH_PST_OK);
            CHECK(hid != 0 && nth_pst_hid_type(hid) == 0);
            for (size_t i = 0; i < m.count; i++) CHECK(m.a[i].hid != hid);
            model_put(&m, hid, buf, size);
            snprintf(step, sizeof step, "step %d alloc %zu -> 0x%X", s, size, hid);
        } else if (op < 80) {
            size_t i = (size_t)harness_rand_range(&rng, 0, m.count - 1);
            uint32_t hid = m.a[i].hid;
            REQUIRE(nth_pst_hn_free(hn, hid, &err) == NTH_PST_OK);
            model_drop(&m, i);
            const uint8_t *d;
            size_t n;
            CHECK(nth_pst_hn_get(hn, hid, &d, &n, NULL) == NTH_PST_E_INVALID);
            CHECK(nth_pst_hn_free(hn, hid, NULL) != NTH_PST_OK); /* double free refused */
            snprintf(step, sizeof step, "step %d free 0x%X", s, hid);
        } else {
            size_t i = (size_t)harness_rand_range(&rng, 0, m.count - 1);
            uint32_t hid = m.a[i].hid, moved;
            size_t size = random_size(&rng);
            bool keep = harness_rand_range(&rng, 0, 1) == 0;
            if (keep) {
                /* data NULL: old bytes kept (cut or zero-extended) */
                memset(buf, 0, size);
                memcpy(buf, m.a[i].data, m.a[i].size < size ? m.a[i].size : size);
            } else {
                fill_random(&rng, buf, size);
            }
            REQUIRE(nth_pst_hn_realloc(hn, hid, keep ? NULL : buf, size, &moved, &err) == NTH_PST_OK);
            if (moved != hid) {
                const uint8_t *d;
                size_t n;
                CHECK(nth_pst_hn_get(hn, hid, &d, &n, NULL) != NTH_PST_OK);
            }
            model_drop(&m, i);
            model_put(&m, moved, buf, size);
            snprintf(step, sizeof step, "step %d realloc 0x%X %zu -> 0x%X", s, hid, size, moved);
        }
        verify(hn, &m, unicode, step);
    }
    free(buf);
    model_free(&m);
    nth_pst_hn_close(hn);
}

TEST(random_sequences_unicode)
{
    for (uint64_t seed = 1; seed <= 6 && !harness_case_failed; seed++)
        random_sequence(seed * 0x9E3779B97F4A7C15ull, true, 400);
}

TEST(random_sequences_ansi)
{
    for (uint64_t seed = 1; seed <= 6 && !harness_case_failed; seed++)
        random_sequence(seed * 0xD1B54A32D192ED03ull, false, 400);
}

/* ----------------------------------------------------------------- specific behaviour */

TEST(limits_and_zero_size)
{
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_create(NTH_PST_CLIENT_TC, true, &hn, NULL) == NTH_PST_OK);
    CHECK_EQ(nth_pst_hn_client_sig(hn), 0x7C);
    size_t n;
    const uint8_t *p = nth_pst_hn_page_data(hn, 0, &n);
    static const uint8_t empty[18] = {12, 0, 0xEC, 0x7C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0};
    CHECK(n == 18 && memcmp(p, empty, 18) == 0);
    uint32_t hid = 1;
    nth_pst_error err;
    CHECK(nth_pst_hn_alloc(hn, NULL, 0, &hid, NULL) == NTH_PST_OK);
    CHECK_EQ(hid, 0);
    CHECK(nth_pst_hn_alloc(hn, NULL, 3581, &hid, &err) == NTH_PST_E_INVALID);
    CHECK(strstr(err.message, "3580") != NULL);
    CHECK(nth_pst_hn_alloc(hn, NULL, 3580, &hid, NULL) == NTH_PST_OK);
    CHECK_EQ(hid, 0x20);
    uint32_t moved;
    CHECK(nth_pst_hn_realloc(hn, hid, NULL, 3581, &moved, NULL) == NTH_PST_E_INVALID);
    CHECK(nth_pst_hn_realloc(hn, hid, NULL, 0, &moved, NULL) == NTH_PST_OK);
    CHECK_EQ(moved, 0);
    nth_pst_hn_page pg;
    nth_pst_hn_page_info(hn, 0, &pg);
    CHECK_EQ(pg.alloc_count, 1);
    CHECK_EQ(pg.free_count, 1);
    CHECK(nth_pst_hn_free(hn, 0x40, NULL) == NTH_PST_E_NOT_FOUND);
    CHECK(nth_pst_hn_free(hn, 0x21, NULL) == NTH_PST_E_INVALID);
    nth_pst_hn_close(hn);
}

TEST(slot_limit_moves_to_a_new_page)
{
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_create(NTH_PST_CLIENT_PC, false, &hn, NULL) == NTH_PST_OK);
    uint8_t b = 0x5A;
    uint32_t hid = 0;
    for (unsigned i = 1; i <= 2047; i++) {
        REQUIRE(nth_pst_hn_alloc(hn, &b, 1, &hid, NULL) == NTH_PST_OK);
        CHECK_EQ(hid, nth_pst_hid_make(0, i));
    }
    CHECK_EQ(nth_pst_hn_page_count(hn), 1);
    REQUIRE(nth_pst_hn_alloc(hn, &b, 1, &hid, NULL) == NTH_PST_OK);
    CHECK_EQ(hid, 0x10020); /* page 1, slot 1 */
    CHECK_EQ(nth_pst_hn_page_count(hn), 2);
    /* freeing one slot of page 0 makes it the first fit again, reusing the slot */
    REQUIRE(nth_pst_hn_free(hn, nth_pst_hid_make(0, 100), NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_hn_alloc(hn, &b, 1, &hid, NULL) == NTH_PST_OK);
    CHECK_EQ(hid, nth_pst_hid_make(0, 100));
    model m = {0};
    for (size_t i = 0; i < nth_pst_hn_alloc_count(hn); i++) {
        nth_pst_hn_slot s;
        nth_pst_hn_alloc_at(hn, i, &s);
        model_put(&m, s.hid, &b, 1);
    }
    verify(hn, &m, false, "2048 one-byte allocations");
    model_free(&m);
    nth_pst_hn_close(hn);
}

TEST(free_slides_later_allocations_down)
{
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_create(NTH_PST_CLIENT_PC, true, &hn, NULL) == NTH_PST_OK);
    uint32_t h[4];
    for (int i = 0; i < 4; i++) {
        uint8_t data[10];
        memset(data, 'a' + i, sizeof data);
        REQUIRE(nth_pst_hn_alloc(hn, data, (size_t)(5 + i), &h[i], NULL) == NTH_PST_OK);
    }
    /* slots 1..4 of 5, 6, 7, 8 bytes at 12, 17, 23, 30; end 38 */
    REQUIRE(nth_pst_hn_free(hn, h[1], NULL) == NTH_PST_OK);
    size_t n;
    const uint8_t *p = nth_pst_hn_page_data(hn, 0, &n);
    size_t ib = u16(p);
    CHECK_EQ(ib, 32);                  /* 12 + 5 + 7 + 8 = 32, already even */
    CHECK_EQ(u16(p + ib), 4);          /* cAlloc keeps the freed slot */
    CHECK_EQ(u16(p + ib + 2), 1);      /* cFree */
    static const unsigned want[5] = {12, 17, 17, 24, 32};
    for (int k = 0; k < 5; k++) CHECK_EQ(u16(p + ib + 4 + 2 * k), want[k]);
    CHECK(memcmp(p + 17, "ccccccc", 7) == 0);
    CHECK_EQ(n, 32 + 4 + 10);
    /* an odd end gets one pad byte before the map */
    uint32_t odd;
    REQUIRE(nth_pst_hn_alloc(hn, "x", 1, &odd, NULL) == NTH_PST_OK);
    CHECK_EQ(odd, h[1]); /* the freed slot is reused */
    p = nth_pst_hn_page_data(hn, 0, &n);
    CHECK_EQ(u16(p), 34); /* allocations end at 33 */
    /* realloc in place keeps the HID even when it grows */
    uint32_t same;
    REQUIRE(nth_pst_hn_realloc(hn, h[0], "0123456789abcdef", 16, &same, NULL) == NTH_PST_OK);
    CHECK_EQ(same, h[0]);
    const uint8_t *d;
    REQUIRE(nth_pst_hn_get(hn, h[3], &d, &n, NULL) == NTH_PST_OK);
    CHECK(n == 8 && memcmp(d, "dddddddd", 8) == 0);
    nth_pst_hn_close(hn);
}

TEST(multi_page_heap_with_bitmap_pages)
{
    /* 300 allocations of 3580 bytes: two per page, so 150 pages, which includes the
     * HNBITMAPHDR pages 8 and 136 */
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_create(NTH_PST_CLIENT_PC, true, &hn, NULL) == NTH_PST_OK);
    model m = {0};
    uint8_t *buf = malloc(NTH_PST_HN_ALLOC_MAX);
    harness_rng rng = {42};
    for (int i = 0; i < 300; i++) {
        fill_random(&rng, buf, NTH_PST_HN_ALLOC_MAX);
        uint32_t hid;
        REQUIRE(nth_pst_hn_alloc(hn, buf, NTH_PST_HN_ALLOC_MAX, &hid, NULL) == NTH_PST_OK);
        CHECK_EQ(nth_pst_hid_page(hid), (uint32_t)i / 2);
        CHECK_EQ(nth_pst_hid_slot(hid), (uint32_t)i % 2 + 1);
        model_put(&m, hid, buf, NTH_PST_HN_ALLOC_MAX);
    }
    REQUIRE(nth_pst_hn_page_count(hn) == 150);
    for (size_t i = 0; i < 150; i++) {
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, i, &pg);
        CHECK_EQ(pg.header_size, spec_header(i));
        CHECK_EQ(pg.alloc_count, 2);
    }
    nth_pst_hn_page pg8, pg136, pg9;
    nth_pst_hn_page_info(hn, 8, &pg8);
    nth_pst_hn_page_info(hn, 136, &pg136);
    nth_pst_hn_page_info(hn, 9, &pg9);
    CHECK_EQ(pg8.header_size, 66);
    CHECK_EQ(pg136.header_size, 66);
    CHECK_EQ(pg9.header_size, 2);
    /* two 3580-byte allocations leave 8176 - (66 + 7160 + 10) = 940 bytes: level 7 */
    CHECK_EQ(pg8.fill_level, 7);
    CHECK_EQ(pg8.size, 66 + 7160 + 10);
    verify(hn, &m, true, "150 pages");

    /* give odd and even pages of both bitmap groups different levels (one 3580-byte slot
     * left: level 0, against 7 for full pages), so each nibble's position is visible */
    static const uint32_t thin[] = {9, 12, 13, 137, 140, 149};
    for (size_t t = 0; t < sizeof thin / sizeof thin[0]; t++) {
        uint32_t h2 = nth_pst_hid_make(thin[t], 2);
        REQUIRE(nth_pst_hn_free(hn, h2, NULL) == NTH_PST_OK);
        for (size_t i = 0; i < m.count; i++)
            if (m.a[i].hid == h2) {
                model_drop(&m, i);
                break;
            }
        nth_pst_hn_page pg;
        nth_pst_hn_page_info(hn, thin[t], &pg);
        CHECK_EQ(pg.fill_level, 0);
    }
    verify(hn, &m, true, "thinned pages");

    /* freeing in the middle pages, then allocating: first fit goes back to page 3 */
    uint32_t victim = nth_pst_hid_make(3, 2);
    REQUIRE(nth_pst_hn_free(hn, victim, NULL) == NTH_PST_OK);
    for (size_t i = 0; i < m.count; i++)
        if (m.a[i].hid == victim) {
            model_drop(&m, i);
            break;
        }
    verify(hn, &m, true, "free on page 3");
    /* pages 0..2 have 940 bytes free, so 3000 bytes only fit page 3: its freed slot */
    uint32_t hid;
    fill_random(&rng, buf, 3000);
    REQUIRE(nth_pst_hn_alloc(hn, buf, 3000, &hid, NULL) == NTH_PST_OK);
    CHECK_EQ(hid, victim);
    model_put(&m, hid, buf, 3000);
    /* 1100 more bytes also only fit page 3 (a new slot 3), leaving it 482 bytes */
    REQUIRE(nth_pst_hn_alloc(hn, NULL, 1100, &hid, NULL) == NTH_PST_OK);
    CHECK_EQ(hid, nth_pst_hid_make(3, 3));
    uint8_t zeros[1100] = {0};
    model_put(&m, hid, zeros, 1100);
    /* growing the victim to 3580 no longer fits page 3: it moves to the first page with
     * room, thinned page 9, reusing its freed slot 2, and its old slot is freed */
    uint32_t moved;
    REQUIRE(nth_pst_hn_realloc(hn, victim, NULL, NTH_PST_HN_ALLOC_MAX, &moved, NULL) == NTH_PST_OK);
    CHECK_EQ(moved, nth_pst_hid_make(9, 2));
    CHECK_EQ(nth_pst_hn_page_count(hn), 150);
    for (size_t i = 0; i < m.count; i++)
        if (m.a[i].hid == victim) {
            uint8_t *grown = calloc(1, NTH_PST_HN_ALLOC_MAX);
            memcpy(grown, m.a[i].data, 3000);
            model_drop(&m, i);
            model_put(&m, moved, grown, NTH_PST_HN_ALLOC_MAX);
            free(grown);
            break;
        }
    verify(hn, &m, true, "realloc that moves");
    /* big allocations refill the other thinned pages in order, then append page 150 */
    static const uint32_t refill[] = {12, 13, 137, 140, 149, 150};
    for (size_t t = 0; t < sizeof refill / sizeof refill[0]; t++) {
        REQUIRE(nth_pst_hn_alloc(hn, buf, NTH_PST_HN_ALLOC_MAX, &hid, NULL) == NTH_PST_OK);
        CHECK_EQ(hid, nth_pst_hid_make(refill[t], refill[t] == 150 ? 1 : 2));
        model_put(&m, hid, buf, NTH_PST_HN_ALLOC_MAX);
    }
    CHECK_EQ(nth_pst_hn_page_count(hn), 151);
    verify(hn, &m, true, "page 150 appended");
    free(buf);
    model_free(&m);
    nth_pst_hn_close(hn);
}

/* ------------------------------------------------- a PC written from scratch, read back */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

static int count_records(void *ctx, const uint8_t *key, const uint8_t *data)
{
    (void)data;
    unsigned *state = ctx; /* [0] count, [1] last key */
    unsigned k = u16(key);
    if (state[0]) CHECK(k > state[1]);
    state[0]++;
    state[1] = k;
    return 0;
}

TEST(pc_with_an_index_level)
{
    /* 1200 Int32 properties: three leaf nodes (440, 440, 320 records) under one intermediate
     * node, so bIdxLevels = 1 (no sample file has an index level) */
    nth_pst_hn *hn;
    REQUIRE(nth_pst_hn_create(NTH_PST_CLIENT_PC, true, &hn, NULL) == NTH_PST_OK);
    uint32_t header;
    REQUIRE(nth_pst_hn_alloc(hn, NULL, 8, &header, NULL) == NTH_PST_OK);
    nth_pst_hn_set_user_root(hn, header);
    uint8_t *leaf = malloc(440 * 8), index[3 * 6];
    for (unsigned node = 0; node < 3; node++) {
        unsigned first = node * 440, count = node < 2 ? 440 : 320;
        for (unsigned i = 0; i < count; i++) {
            unsigned id = 0x1000 + 3 * (first + i);
            put16(leaf + 8 * i, id);
            put16(leaf + 8 * i + 2, NTH_PST_PT_INT32);
            put32(leaf + 8 * i + 4, id * 7u);
        }
        uint32_t hid;
        REQUIRE(nth_pst_hn_alloc(hn, leaf, count * 8, &hid, NULL) == NTH_PST_OK);
        put16(index + 6 * node, 0x1000 + 3 * first);
        put32(index + 6 * node + 2, hid);
    }
    uint32_t root;
    REQUIRE(nth_pst_hn_alloc(hn, index, sizeof index, &root, NULL) == NTH_PST_OK);
    uint8_t bth[8] = {0xB5, 2, 6, 1, 0, 0, 0, 0};
    put32(bth + 4, root);
    uint32_t same;
    REQUIRE(nth_pst_hn_realloc(hn, header, bth, 8, &same, NULL) == NTH_PST_OK);
    CHECK_EQ(same, header);
    CHECK_EQ(nth_pst_hn_page_count(hn), 2); /* 9600 bytes of leaves need two pages */
    CHECK_EQ(nth_pst_hn_validate(hn, NULL, NULL), 0);

    nth_pst_bth *b;
    REQUIRE(nth_pst_bth_open(hn, header, &b, NULL) == NTH_PST_OK);
    unsigned state[2] = {0, 0};
    CHECK(nth_pst_bth_foreach(b, count_records, state, NULL) == NTH_PST_OK);
    CHECK_EQ(state[0], 1200);
    for (unsigned i = 0; i < 1200; i += 37) {
        uint8_t key[2];
        const uint8_t *data;
        put16(key, 0x1000 + 3 * i);
        REQUIRE(nth_pst_bth_lookup(b, key, &data, NULL) == NTH_PST_OK);
        CHECK_EQ(u16(data + 2) | (uint32_t)u16(data + 4) << 16, (0x1000 + 3 * i) * 7u);
        put16(key, 0x1000 + 3 * i + 1);
        CHECK(nth_pst_bth_lookup(b, key, &data, NULL) == NTH_PST_E_NOT_FOUND);
    }
    nth_pst_bth_close(b);

    nth_pst_pc *pc;
    REQUIRE(nth_pst_pc_from_hn(hn, &pc, NULL) == NTH_PST_OK);
    CHECK_EQ(nth_pst_pc_count(pc), 1200);
    const nth_pst_prop *p = nth_pst_pc_find(pc, 0x1000 + 3 * 1199);
    int64_t v;
    REQUIRE(p);
    CHECK(nth_pst_prop_int(p, &v) == NTH_PST_OK && v == (0x1000 + 3 * 1199) * 7);
    nth_pst_pc_close(pc);

    /* an index key that does not match its child's first key is caught */
    put16(index, 0x0FFF);
    REQUIRE(nth_pst_hn_realloc(hn, root, index, sizeof index, &same, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_bth_open(hn, header, &b, NULL) == NTH_PST_OK);
    nth_pst_error err;
    CHECK(nth_pst_bth_foreach(b, NULL, NULL, &err) == NTH_PST_E_CORRUPT);
    nth_pst_bth_close(b);
    /* an index node that points at itself cannot loop */
    put16(index, 0x1000);
    put32(index + 2, same);
    REQUIRE(nth_pst_hn_realloc(hn, same, index, sizeof index, &root, NULL) == NTH_PST_OK);
    bth[3] = 12;
    put32(bth + 4, root);
    REQUIRE(nth_pst_hn_realloc(hn, header, bth, 8, &same, NULL) == NTH_PST_OK);
    REQUIRE(nth_pst_bth_open(hn, header, &b, NULL) == NTH_PST_OK);
    CHECK(nth_pst_bth_foreach(b, NULL, NULL, &err) == NTH_PST_E_CORRUPT);
    nth_pst_bth_close(b);
    free(leaf);
    nth_pst_hn_close(hn);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(random_sequences_unicode);
    RUN(random_sequences_ansi);
    RUN(limits_and_zero_size);
    RUN(slot_limit_moves_to_a_new_page);
    RUN(free_slides_later_allocations_down);
    RUN(multi_page_heap_with_bitmap_pages);
    RUN(pc_with_an_index_level);
    return harness_finish(argv[0]);
}
